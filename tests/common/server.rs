//! A real `incident serve` on 127.0.0.1 with a free port, stopped when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::Env;

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) url: String,
    /// The server's stderr after the address line (request logs).
    pub(crate) log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    /// Starts `incident serve` on the env's database with `extra` arguments.
    pub(crate) fn start(env: &Env, extra: &[&str]) -> Server {
        Self::start_with(env.process(), extra)
    }

    /// Starts `incident serve` from `process` (an [`Env::process`] with more set up).
    pub(crate) fn start_with(mut process: std::process::Command, extra: &[&str]) -> Server {
        let mut child = process
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(extra)
            .env("INCIDENT_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn incident serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if !sent && let Some(i) = line.find("on http://") {
                    let rest = &line[i + 3..];
                    let url = rest.split_whitespace().next().unwrap_or("").to_string();
                    let _ = tx.send(url);
                    sent = true;
                    continue;
                }
                if let Ok(mut l) = sink.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
                if !sent {
                    let _ = tx.send(format!("ERROR {line}"));
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server printed its address");
        assert!(!url.starts_with("ERROR"), "server did not start: {url}");
        Server { child, url, log }
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                if !s.success() {
                    // What the server said is what a failing test needs to show.
                    std::thread::sleep(Duration::from_millis(100));
                    let log = self.log.lock().map(|l| l.clone()).unwrap_or_default();
                    eprintln!("server exited with {s}; its log:\n{log}");
                }
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "server did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP client that returns every status as a value.
pub(crate) fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent()
}

/// (status, body) of a GET.
pub(crate) fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = http().get(url);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let resp = req.call().expect("request");
    let status = resp.status().as_u16();
    (
        status,
        resp.into_body()
            .with_config()
            .limit(u64::MAX)
            .read_to_string()
            .expect("body"),
    )
}

/// (status, body) of a POST of `body` with a content type.
pub(crate) fn post(url: &str, ctype: &str, body: &[u8], token: Option<&str>) -> (u16, String) {
    let mut req = http().post(url).header("Content-Type", ctype);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let resp = req.send(body).expect("request");
    let status = resp.status().as_u16();
    (
        status,
        resp.into_body().read_to_string().unwrap_or_default(),
    )
}
