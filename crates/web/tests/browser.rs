//! Browser tests in real headless Chromium (Debian's `chromium` + `chromium-driver`), driven over
//! the WebDriver protocol with the harness's own small HTTP client. Without a browser they say
//! they are skipped, except under CI=true, where a missing browser is an error. Screenshots go to
//! target/test-artifacts/*.png.

mod common;

use common::{App, Backend, Client, start, test_config};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).flat_map(|dir| names.iter().map(move |n| dir.join(n))).find(|p| p.is_file())
}

struct Browser {
    client: Client,
    session: String,
    driver: std::process::Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Option<Browser> {
        let (Some(driver), Some(chromium)) =
            (find_program(&["chromedriver"]), find_program(&["chromium", "chromium-browser", "google-chrome"]))
        else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true but chromium/chromedriver are missing: apt-get install -y chromium chromium-driver");
            }
            eprintln!("browser tests SKIPPED: install chromium and chromium-driver to run them");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let child = std::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let mut client = Client { addr: ([127, 0, 0, 1], port).into(), cookies: Default::default() };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // A starting chromedriver may accept a connection and close it without answering.
            if client.try_get("/status").await.is_ok_and(|r| r.body.contains("\"ready\":true")) {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            "--disable-quic",
            "--window-size=1200,1400",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args}}}});
        let r = client.send("POST", "/session", Some("application/json"), caps.to_string().into_bytes(), &[]).await;
        let v: Value = serde_json::from_str(&r.body).expect("json");
        let session = v["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {}", r.body)).to_owned();
        Some(Browser { client, session, driver: child, _profile: profile })
    }

    async fn call(&mut self, method: &str, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.session);
        // GET and DELETE carry no body (chromedriver refuses a DELETE with one, and the browser
        // would outlive the test).
        let body = if matches!(method, "GET" | "DELETE") { Vec::new() } else { body.to_string().into_bytes() };
        let r = self.client.send(method, &path, Some("application/json"), body, &[]).await;
        serde_json::from_str::<Value>(&r.body).map(|v| v["value"].clone()).unwrap_or(Value::Null)
    }

    async fn go(&mut self, url: &str) {
        self.call("POST", "/url", json!({ "url": url })).await;
    }

    /// Waits for an element to appear (a condition, not a fixed sleep).
    async fn find(&mut self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let v = self.call("POST", "/element", json!({"using": "css selector", "value": css})).await;
            if let Some(id) = v[ELEMENT].as_str() {
                return id.to_owned();
            }
            assert!(Instant::now() < deadline, "no element {css}; page: {}", self.source().await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn type_into(&mut self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call("POST", &format!("/element/{id}/clear"), json!({})).await;
        self.call("POST", &format!("/element/{id}/value"), json!({ "text": text })).await;
    }

    async fn click(&mut self, css: &str) {
        let id = self.find(css).await;
        self.call("POST", &format!("/element/{id}/click"), json!({})).await;
    }

    async fn source(&mut self) -> String {
        self.call("GET", "/source", Value::Null).await.as_str().unwrap_or_default().to_owned()
    }

    async fn screenshot(&mut self, name: &str) {
        let v = self.call("GET", "/screenshot", Value::Null).await;
        let png = base64_decode(v.as_str().expect("base64 screenshot"));
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
        std::fs::create_dir_all(&dir).expect("artifacts dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// Best effort: chromedriver may drop the connection while it shuts the browser down (seen on
    /// a busy machine), and the driver is killed on drop anyway.
    async fn quit(self) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Ok(mut stream) = tokio::net::TcpStream::connect(self.client.addr).await else { return };
        let request = format!(
            "DELETE /session/{} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            self.session, self.client.addr
        );
        if stream.write_all(request.as_bytes()).await.is_err() {
            return;
        }
        // Until the answer's head (the session is gone by then), the end of the connection, or
        // a generous timeout.
        let answered = async {
            let (mut answer, mut buf) = (Vec::new(), [0u8; 4096]);
            while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => answer.extend_from_slice(&buf[..n]),
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), answered).await;
    }
}

impl Drop for Browser {
    /// A failing test must not leave chromedriver (and its Chromium) running.
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let sextets: Vec<u8> = text.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(sextets.len() * 3 / 4);
    for chunk in sextets.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, s)| acc | (u32::from(*s) << (18 - 6 * i)));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len().saturating_sub(1)]);
    }
    out
}

async fn wait_for_text(b: &mut Browser, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page = b.source().await;
        if page.contains(text) {
            return page;
        }
        assert!(Instant::now() < deadline, "the page never showed {text:?}: {page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enter_fix_find_and_upload_in_chromium() {
    let Some(mut b) = Browser::start().await else { return };
    let app: App = start(Backend::Sqlite, test_config()).await.expect("sqlite app");
    let base = format!("http://{}", app.addr);

    b.go(&format!("{base}/login")).await;
    b.screenshot("login").await;
    b.type_into("#name", "clin").await;
    b.type_into("#password", common::PASSWORD).await;
    b.click("button[type=submit]").await;
    wait_for_text(&mut b, "16-week follow-ups overdue").await;
    b.screenshot("home").await;

    // A record with an error, then fixed.
    b.go(&format!("{base}/records/new")).await;
    b.type_into("#local_id", "web-1").await;
    b.type_into("#date_of_birth", "1950-13-01").await;
    b.type_into("#fracture_date", "2025-01-10").await;
    let site = b.find("#fracture_site").await;
    b.call("POST", &format!("/element/{site}/value"), json!({"text": "hip"})).await;
    b.click("#save").await;
    b.find("#error-summary").await;
    b.find("#date_of_birth-error").await;
    b.screenshot("record-form-error").await;
    b.type_into("#date_of_birth", "1950-01-01").await;
    b.click("#save").await;
    wait_for_text(&mut b, "Record AAA / web-1").await;
    b.screenshot("record").await;

    b.go(&format!("{base}/records?q=web")).await;
    wait_for_text(&mut b, "web-1").await;
    b.screenshot("records").await;

    b.go(&format!("{base}/worklists?kind=16")).await;
    let page = wait_for_text(&mut b, "web-1").await;
    assert!(page.contains("overdue"));
    b.screenshot("worklist").await;

    // An upload with a bad row; the progress panel is swapped by htmx until the check is done.
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("upload.csv");
    std::fs::write(
        &file,
        "service_code,local_id,date_of_birth,fracture_date,fracture_site\n\
         AAA,up-1,1950-01-01,2025-01-05,hip\n\
         AAA,up-2,1950-01-01,2025-01-05,knee\n",
    )
    .expect("write upload");
    b.go(&format!("{base}/upload")).await;
    b.screenshot("upload-form").await;
    let input = b.find("#file").await;
    b.call("POST", &format!("/element/{input}/value"), json!({"text": file.display().to_string()})).await;
    b.click("#upload").await;
    b.find("#checked").await;
    let page = b.source().await;
    assert!(page.contains("id=\"rejected\">1<") && page.contains("knee"), "{page}");
    b.screenshot("upload-dry-run").await;
    b.click("#confirm").await;
    b.find("#done").await;
    b.screenshot("upload-done").await;
    assert!(app.store.get_record(&code("AAA"), &local("up-1")).await.expect("read").is_some());

    b.quit().await;
    app.stop().await;
}

fn code(s: &str) -> flsdb_dataset::ServiceCode {
    flsdb_dataset::ServiceCode::parse(s).expect("code")
}
fn local(s: &str) -> flsdb_dataset::LocalId {
    flsdb_dataset::LocalId::parse(s).expect("local id")
}

/// The `data-percent` of a dashboard's KPI card, waiting for the card to be on the page.
async fn card_percent(b: &mut Browser, kpi: &str) -> String {
    b.find(&format!("#card-{kpi}")).await;
    let page = b.source().await;
    let at = page.find(&format!("id=\"card-{kpi}\"")).expect("card");
    let rest = &page[at..];
    let value = &rest[rest.find("data-percent=\"").expect("data-percent") + 14..];
    value[..value.find('"').expect("end of attribute")].to_owned()
}

async fn log_in_as(b: &mut Browser, base: &str, name: &str) {
    b.call("DELETE", "/cookie", Value::Null).await;
    b.go(&format!("{base}/login")).await;
    b.type_into("#name", name).await;
    b.type_into("#password", common::PASSWORD).await;
    b.click("button[type=submit]").await;
    b.find(".menu .who").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_in_chromium() {
    let Some(mut b) = Browser::start().await else { return };
    let app: App = start(Backend::Sqlite, test_config()).await.expect("sqlite app");
    let base = format!("http://{}", app.addr);

    // The service dashboard of 2025: AAA has one record (r1), not assessed.
    log_in_as(&mut b, &base, "clin").await;
    b.go(&format!("{base}/dashboard/service?year=2025")).await;
    assert_eq!(card_percent(&mut b, "kpi4").await, "0.0");
    b.find("#spc-kpi4 svg").await;
    b.screenshot("dashboard-service-before").await;

    // Enter a record assessed within 90 days: the dashboard shows the KPI change at once.
    b.go(&format!("{base}/records/new")).await;
    b.type_into("#local_id", "dash-1").await;
    b.type_into("#date_of_birth", "1950-01-01").await;
    b.type_into("#fracture_date", "2025-03-01").await;
    let site = b.find("#fracture_site").await;
    b.call("POST", &format!("/element/{site}/value"), json!({"text": "wrist"})).await;
    b.type_into("#fls_assessment_date", "2025-03-15").await;
    b.click("#save").await;
    wait_for_text(&mut b, "Record AAA / dash-1").await;
    b.go(&format!("{base}/dashboard/service?year=2025")).await;
    assert_eq!(card_percent(&mut b, "kpi4").await, "50.0", "1 of 2 records assessed within 90 days");
    let page = b.source().await;
    assert!(page.contains("<span id=\"records\">2</span>"), "two records now");
    b.screenshot("dashboard-service").await;

    // The commissioner's and the national dashboards, and the public pages.
    log_in_as(&mut b, &base, "comm").await;
    b.go(&format!("{base}/dashboard/commissioner?year=2025")).await;
    b.find("#funnel-kpi4 svg").await;
    assert!(!b.source().await.contains("Beta"), "a commissioner of AAA only");
    b.screenshot("dashboard-commissioner").await;
    log_in_as(&mut b, &base, "admin").await;
    b.go(&format!("{base}/dashboard/national?year=2025&sort=kpi4&dir=desc")).await;
    b.find("#funnel-kpi4 svg").await;
    b.screenshot("dashboard-national").await;
    b.call("DELETE", "/cookie", Value::Null).await;
    b.go(&format!("{base}/public?year=2025")).await;
    b.find("#benchmarks").await;
    b.screenshot("public-benchmarks").await;
    b.go(&format!("{base}/public/about")).await;
    wait_for_text(&mut b, "What does a fracture liaison service do?").await;
    b.screenshot("public-about").await;
    b.go(&format!("{base}/public/feedback?page=benchmarks%202025")).await;
    b.type_into("#message", "Clear tables, thank you.").await;
    b.click("#send").await;
    b.find("#thanks").await;
    b.screenshot("public-feedback").await;
    log_in_as(&mut b, &base, "admin").await;
    b.go(&format!("{base}/admin/feedback")).await;
    wait_for_text(&mut b, "Clear tables, thank you.").await;
    b.screenshot("admin-feedback").await;

    b.quit().await;
    app.stop().await;
}
