//! A real HTTP receiver on 127.0.0.1 for delivery tests: it records every request and
//! answers each as a script says (a status, after a delay, or never).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How to answer the n-th request (counting from 0).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Reply {
    Status(u16),
    /// Answer `status` after a delay.
    Slow(Duration, u16),
    /// Read the request and never answer (until the client gives up).
    Hang,
}

#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// The status it was answered with; `None` for a hang.
    pub(crate) answered: Option<u16>,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

pub(crate) struct Receiver {
    pub(crate) url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    /// Starts a receiver answering request n with `script(n)`.
    pub(crate) fn start(script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let count = Arc::new(AtomicUsize::new(0));
        let script = Arc::new(script);
        let shared = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (requests, count, script) =
                    (Arc::clone(&shared), Arc::clone(&count), Arc::clone(&script));
                std::thread::spawn(move || {
                    // Only whole requests count: request n gets `script(n)`.
                    let reply = || script(count.fetch_add(1, Ordering::SeqCst));
                    handle(stream, reply, &requests);
                });
            }
        });
        Receiver { url, requests }
    }

    pub(crate) fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("lock").clone()
    }

    /// Waits until `done` holds for the requests so far, or panics after `limit`.
    pub(crate) fn wait_for(
        &self,
        limit: Duration,
        what: &str,
        done: impl Fn(&[Request]) -> bool,
    ) -> Vec<Request> {
        let start = Instant::now();
        loop {
            let r = self.requests();
            if done(&r) {
                return r;
            }
            assert!(
                start.elapsed() < limit,
                "{what} not seen within {limit:?}; got {} request(s): {:?}",
                r.len(),
                r.iter()
                    .map(|q| (q.header("Idempotency-Key").map(str::to_string), q.answered))
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn handle(stream: TcpStream, reply: impl FnOnce() -> Reply, requests: &Mutex<Vec<Request>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    // A sender killed mid-request (the kill -9 tests) leaves a request cut short: the
    // connection ends before the blank line or the body. That is no request.
    let mut line = String::new();
    if !matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if !matches!(reader.read_line(&mut h), Ok(n) if n > 0) {
            return;
        }
        if h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let reply = reply();
    let answered = match reply {
        Reply::Status(s) | Reply::Slow(_, s) => Some(s),
        Reply::Hang => None,
    };
    requests.lock().expect("lock").push(Request {
        path,
        headers,
        body,
        answered,
    });
    let status = match reply {
        Reply::Status(s) => s,
        Reply::Slow(d, s) => {
            std::thread::sleep(d);
            s
        }
        Reply::Hang => {
            // Hold the connection open without answering until the client hangs up.
            let mut sink = [0u8; 64];
            let _ = (&stream).read(&mut sink);
            return;
        }
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    );
}
