//! The dashboard in a real browser: Debian's chromium driven through chromedriver.
//! Two sessions log in with a token; one creates an incident through the form, the other
//! sees it appear without reloading (server-sent events); the first resolves it and reads
//! the timeline. Screenshots go to target/screenshots/.
//!
//! Without chromium or chromedriver the test prints why and passes, unless
//! INCIDENT_REQUIRE_BROWSER is set (CI sets it), where it fails.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::Env;
use common::server::Server;
use fantoccini::{Client, ClientBuilder, Locator};

const TITLE: &str = "<script>alert(1)</script> 決済APIタイムアウト";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find_tool(names: &[&str]) -> Option<PathBuf> {
    names.iter().map(PathBuf::from).find(|p| p.exists())
}

/// The browser and its driver, or why they cannot run.
fn tools() -> Result<(PathBuf, PathBuf), String> {
    let chromium = find_tool(&["/usr/bin/chromium", "/usr/bin/chromium-browser"])
        .ok_or("chromium is not installed (apt-get install chromium)")?;
    let driver = find_tool(&["/usr/bin/chromedriver"])
        .ok_or("chromedriver is not installed (apt-get install chromium-driver)")?;
    Ok((chromium, driver))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn session(driver: &str, chromium: &std::path::Path, profile: &std::path::Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--lang=ja",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    // Plain HTTP to a driver on loopback: no TLS stack needed.
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(true);
    ClientBuilder::new(http)
        .capabilities(caps)
        .connect(driver)
        .await
        .expect("a chromium session")
}

async fn login(c: &Client, base: &str, token: &str) {
    c.goto(&format!("{base}/")).await.unwrap();
    // Without a session the dashboard sends the browser to the login form.
    assert!(c.current_url().await.unwrap().path().ends_with("/login"));
    c.find(Locator::Css("input[name=token]"))
        .await
        .unwrap()
        .send_keys(token)
        .await
        .unwrap();
    c.find(Locator::Css("form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("live"))
        .await
        .unwrap();
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshots().join(name), png).unwrap();
}

async fn fill(c: &Client, css: &str, text: &str) {
    let e = c.find(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

/// The text of the element `id` once it contains `want` (read again while the page
/// changes under it: a reload or a live update), or whatever it was at `timeout`.
async fn text_once_it_has(c: &Client, id: &str, want: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(e) = c.find(Locator::Id(id)).await
            && let Ok(text) = e.text().await
        {
            if text.contains(want) {
                return text;
            }
            last = text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

async fn flow(
    base: String,
    token: String,
    driver_url: String,
    chromium: PathBuf,
    profiles: PathBuf,
) {
    let a = session(&driver_url, &chromium, &profiles.join("a")).await;
    let b = session(&driver_url, &chromium, &profiles.join("b")).await;
    login(&a, &base, &token).await;
    login(&b, &base, &token).await;
    shot(&b, "dashboard-empty.png").await;

    // Session A creates an incident through the form.
    a.goto(&format!("{base}/new")).await.unwrap();
    fill(&a, "input[name=title]", TITLE).await;
    fill(
        &a,
        "input[name=components]",
        "payment_api, 決済ゲートウェイ",
    )
    .await;
    a.find(Locator::Css("select[name=priority]"))
        .await
        .unwrap()
        .select_by_value("critical")
        .await
        .unwrap();
    fill(
        &a,
        "textarea[name=description]",
        "upstream timed out after 30 s",
    )
    .await;
    a.find(Locator::Css("#create button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let heading = a
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("h1 .title"))
        .await
        .unwrap();
    // The title shows as text: no script ran, no alert is open.
    assert_eq!(heading.text().await.unwrap(), TITLE);
    assert!(
        a.get_alert_text().await.is_err(),
        "a script from the title ran"
    );
    let id = a
        .current_url()
        .await
        .unwrap()
        .path()
        .trim_start_matches("/incidents/")
        .to_string();
    assert!(id.starts_with("INC-"), "{id}");
    shot(&a, "incident-created.png").await;

    // Session B sees it appear without reloading.
    let table = text_once_it_has(&b, "incidents", &id, Duration::from_secs(15)).await;
    assert!(
        table.contains(&id),
        "the second session did not see {id} without reloading:\n{table}"
    );
    assert!(table.contains(TITLE), "{table}");
    let sla = b
        .find(Locator::Css("#incidents tbody tr td:nth-child(2) span"))
        .await
        .unwrap();
    assert!(sla.text().await.unwrap().starts_with("response due in"));
    assert_eq!(sla.attr("class").await.unwrap().as_deref(), Some("at_risk"));
    assert!(b.get_alert_text().await.is_err());
    shot(&b, "dashboard-live-update.png").await;

    // Session A acknowledges, resolves and closes it, and reads the timeline.
    a.find(Locator::Id("acknowledge"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    a.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("resolve"))
        .await
        .unwrap();
    fill(
        &a,
        "#resolve textarea[name=actions]",
        "systemctl restart payment-api\nキャッシュ削除",
    )
    .await;
    fill(&a, "#resolve input[name=root_cause]", "接続プール枯渇").await;
    a.find(Locator::Css("#resolve button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    a.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("close"))
        .await
        .unwrap();
    fill(&a, "#note input[name=text]", "再発防止策を検討中").await;
    a.find(Locator::Css("#note button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The note's form posts and the page reloads: the old page's timeline may still be
    // there, or go stale while it is read, until the new one shows the note.
    let timeline = text_once_it_has(
        &a,
        "timeline",
        "再発防止策を検討中",
        Duration::from_secs(10),
    )
    .await;
    for expected in [
        "created",
        "status_changed",
        "open -> in_progress",
        "resolved",
        "root cause: 接続プール枯渇",
        "actions: systemctl restart payment-api; キャッシュ削除",
        "再発防止策を検討中",
    ] {
        assert!(
            timeline.contains(expected),
            "timeline lacks {expected:?}:\n{timeline}"
        );
    }
    shot(&a, "incident-resolved-timeline.png").await;

    // A form without the session's CSRF token is refused.
    let status = a
        .execute(
            "return fetch(arguments[0], {method: 'POST', credentials: 'same-origin', \
             headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'text=x'})\
             .then(r => r.status)",
            vec![serde_json::json!(format!("/incidents/{id}/note"))],
        )
        .await
        .unwrap();
    assert_eq!(status, serde_json::json!(403));

    a.goto(&format!("{base}/patterns")).await.unwrap();
    a.goto(&format!("{base}/charts")).await.unwrap();
    shot(&a, "metrics.png").await;
    a.close().await.unwrap();
    b.close().await.unwrap();
}

#[test]
fn dashboard_in_a_real_browser() {
    let (chromium, driver) = match tools() {
        Ok(t) => t,
        Err(why) => {
            if std::env::var_os("INCIDENT_REQUIRE_BROWSER").is_some() {
                panic!("INCIDENT_REQUIRE_BROWSER is set but {why}");
            }
            eprintln!("skipping the browser test: {why}");
            return;
        }
    };
    let env = Env::new();
    let token = env
        .ok(&["token", "create", "--name", "dashboard", "--role", "write"])
        .trim()
        .to_string();
    let server = Server::start(&env, &["--require-token"]);
    let port = free_port();
    let _driver = Driver(
        std::process::Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let driver_url = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let profiles = env.path("profiles");
    rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(180),
            flow(server.url.clone(), token, driver_url, chromium, profiles),
        )
        .await
        .expect("the browser test finished within 3 minutes");
    });
}
