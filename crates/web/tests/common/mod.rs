//! The test harness: the real server on 127.0.0.1:0 over a fresh database (SQLite in a temp
//! folder; PostgreSQL, a fresh database per test, when FLSDB_TEST_POSTGRES_URL is set; under CI
//! a missing URL fails), seeded with two services, one user per role and two records; and a
//! tiny HTTP/1.1 client with a cookie jar (no client library needed).

#![allow(dead_code)]

use flsdb_dataset::{Cells, Field, Record, Service, Validation, parse_record};
use flsdb_store::{NewBatch, Role, Store};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use time::macros::date;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const TODAY: time::Date = date!(2025 - 06 - 01);
pub const PASSWORD: &str = "correct horse battery";

/// (user name, role, services)
pub const USERS: [(&str, Role, &[&str]); 5] = [
    ("clin", Role::Clinician, &["AAA"]),
    ("lead", Role::ServiceLead, &["AAA"]),
    ("comm", Role::Commissioner, &["AAA"]),
    ("admin", Role::NationalAdmin, &[]),
    ("analyst", Role::Analyst, &[]),
];

pub fn record(fields: &[(&str, &str)]) -> Record {
    let mut cells: Cells<'_> = [""; Field::COUNT];
    for (name, value) in fields {
        cells[Field::from_header(name).expect("known field").index()] = value;
    }
    match parse_record(&cells, Validation { today: TODAY, allow_test_nhs_numbers: true }) {
        Ok(valid) => valid.record,
        Err(problems) => panic!("test record is invalid: {problems:?}"),
    }
}

pub fn minimal(service: &str, local_id: &str, fracture_date: &str) -> Record {
    record(&[
        ("service_code", service),
        ("local_id", local_id),
        ("date_of_birth", "1950-03-04"),
        ("fracture_date", fracture_date),
        ("fracture_site", "wrist"),
    ])
}

pub struct App {
    pub addr: SocketAddr,
    pub store: Store,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl App {
    pub fn client(&self) -> Client {
        Client { addr: self.addr, cookies: HashMap::new() }
    }

    /// A client logged in as `name`.
    pub async fn login(&self, name: &str) -> Client {
        let mut c = self.client();
        let r = c.post_form("/login", &[("name", name), ("password", PASSWORD)]).await;
        assert_eq!(r.status, 303, "login as {name}: {}", r.body);
        c
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = h.await;
        }
        self.store.close().await;
        if let Some((admin_url, name)) = self.pg.take() {
            let admin = sqlx::PgPool::connect(&admin_url).await.expect("connect");
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
                .execute(&admin)
                .await
                .expect("drop database");
            admin.close().await;
        }
    }
}

pub fn test_config() -> flsdb_web::Config {
    flsdb_web::Config {
        secure_cookies: false,
        allow_test_nhs_numbers: true,
        today: Some(TODAY),
        max_upload_bytes: 256 * 1024,
        request_timeout: std::time::Duration::from_secs(30),
    }
}

async fn seed(store: &Store) {
    let services: Vec<Service> = [("AAA", "Alpha"), ("BBB", "Beta")]
        .iter()
        .map(|(c, n)| {
            Service::parse([c, n, "england", "London", "NHS North", "", "hospital", "", ""]).expect("service")
        })
        .collect();
    store.upsert_services("test", &services).await.expect("services");
    let hash = flsdb_web::auth::hash_password(PASSWORD).expect("hash");
    for (name, role, services) in USERS {
        let codes: Vec<_> = services.iter().map(|s| flsdb_dataset::ServiceCode::parse(s).expect("code")).collect();
        assert!(store.create_user("test", name, role, &hash, &codes).await.expect("user"));
    }
    let batch = NewBatch { actor: "test".into(), file_name: None, mode: "test".into() };
    // r1: fracture 120 days before TODAY (16-week follow-up overdue); r2 at the other service.
    let records =
        [minimal("AAA", "r1", "2025-02-01"), minimal("BBB", "r2", "2025-02-01"), minimal("AAA", "r3", "2024-06-20")];
    store.import_records(&batch, records.iter()).await.expect("records");
}

pub enum Backend {
    Sqlite,
    Postgres,
}

/// Starts the app on a fresh database; `None` when the backend is not available here.
pub async fn start(backend: Backend, config: flsdb_web::Config) -> Option<App> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let (store, dir, pg) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite:{}", dir.path().join("web.db").display());
            (Store::connect(&url).await.expect("sqlite"), Some(dir), None)
        }
        Backend::Postgres => {
            let admin_url = match std::env::var("FLSDB_TEST_POSTGRES_URL") {
                Ok(url) if !url.is_empty() => url,
                _ if std::env::var_os("CI").is_some() => panic!("CI is set but FLSDB_TEST_POSTGRES_URL is not"),
                _ => {
                    eprintln!("skipping the PostgreSQL half: set FLSDB_TEST_POSTGRES_URL");
                    return None;
                }
            };
            let nanos =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
            let name = format!("flsdb_web_{}_{nanos}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
            let admin = sqlx::PgPool::connect(&admin_url).await.expect("connect to PostgreSQL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.expect("create");
            admin.close().await;
            let (base, _) = admin_url.rsplit_once('/').expect("a URL with a database");
            let store = Store::connect(&format!("{base}/{name}")).await.expect("connect");
            (store, None, Some((admin_url, name)))
        }
    };
    seed(&store).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let state = flsdb_web::AppState::new(store.clone(), config);
    let server = tokio::spawn(async move {
        flsdb_web::serve(listener, state, async {
            let _ = rx.await;
        })
        .await
        .expect("serve");
    });
    let app = App { addr, store, shutdown: Some(tx), server: Some(server), _dir: dir, pg };
    // Ready when /health answers.
    let mut c = app.client();
    for _ in 0..200 {
        if c.get("/health").await.status == 200 {
            return Some(app);
        }
        tokio::task::yield_now().await;
    }
    panic!("the server did not become healthy");
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// The value of the first `name="NAME" value="…"` input on the page.
    pub fn input(&self, name: &str) -> Option<String> {
        let at = self.body.find(&format!("name=\"{name}\" value=\""))?;
        let rest = &self.body[at + name.len() + 15..];
        Some(rest[..rest.find('"')?].to_owned())
    }
}

pub struct Client {
    pub addr: SocketAddr,
    pub cookies: HashMap<String, String>,
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Client {
    pub async fn get(&mut self, path: &str) -> Response {
        self.send("GET", path, None, Vec::new(), &[]).await
    }

    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let body =
            fields.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect::<Vec<_>>().join("&");
        self.send("POST", path, Some("application/x-www-form-urlencoded"), body.into_bytes(), &[]).await
    }

    pub async fn post_multipart(&mut self, path: &str, csrf: &str, file_name: &str, content: &[u8]) -> Response {
        let boundary = "----flsdbtestboundary";
        let mut body = Vec::new();
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n").bytes());
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n")
                .bytes(),
        );
        body.extend_from_slice(content);
        body.extend(format!("\r\n--{boundary}--\r\n").bytes());
        let ct = format!("multipart/form-data; boundary={boundary}");
        self.send("POST", path, Some(&ct), body, &[]).await
    }

    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
        extra: &[(&str, &str)],
    ) -> Response {
        match self.try_send(method, path, content_type, body, extra).await {
            Ok(response) => response,
            Err(problem) => panic!("{method} {path}: {problem}"),
        }
    }

    /// `GET path`, or why no answer came (for probing a server that is still starting).
    pub async fn try_get(&mut self, path: &str) -> Result<Response, String> {
        self.try_send("GET", path, None, Vec::new(), &[]).await
    }

    async fn try_send(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
        extra: &[(&str, &str)],
    ) -> Result<Response, String> {
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.map_err(|e| format!("connect: {e}"))?;
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        if !self.cookies.is_empty() {
            let jar = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            head.push_str(&format!("Cookie: {jar}\r\n"));
        }
        if let Some(ct) = content_type {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        stream.write_all(head.as_bytes()).await.map_err(|e| format!("write: {e}"))?;
        // A server may answer (413) before reading the whole body: a failed write is fine then.
        let _ = stream.write_all(&body).await;
        // Read to the end of the body: by Content-Length when given (some servers, like
        // chromedriver, keep the socket open after answering), else until the server closes.
        let mut raw = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok());
                if length.is_some_and(|n| raw.len() >= split + 4 + n) {
                    break;
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| format!("no complete response head in {} bytes", raw.len()))?;
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut body = raw[split + 4..].to_vec();
        let mut lines = head.lines();
        let status: u16 = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("no status line in {head:?}"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
            body = dechunk(&body);
        }
        for (_, v) in headers.iter().filter(|(k, _)| k == "set-cookie") {
            if let Some((name, rest)) = v.split_once('=') {
                let value = rest.split(';').next().unwrap_or("");
                if v.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        Ok(Response { status, headers, body: String::from_utf8_lossy(&body).into_owned() })
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}

/// For each test body `name(app)`, a module with a `sqlite` and a `postgres` test.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some(app) = $crate::common::start($crate::common::Backend::Sqlite, $crate::common::test_config()).await {
                        super::$name(&app).await;
                        app.stop().await;
                    }
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = $crate::common::start($crate::common::Backend::Postgres, $crate::common::test_config()).await {
                        super::$name(&app).await;
                        app.stop().await;
                    }
                }
            }
        )*
    };
}

/// Users of an access matrix's columns, in order: clin (AAA), lead (AAA), comm (AAA), admin,
/// analyst, then an anonymous client.
pub const MATRIX_USERS: [&str; 5] = ["clin", "lead", "comm", "admin", "analyst"];

/// Clients for [`MATRIX_USERS`] plus an anonymous one.
pub async fn matrix_clients(app: &App) -> Vec<Client> {
    let mut clients = Vec::new();
    for name in MATRIX_USERS {
        clients.push(app.login(name).await);
    }
    clients.push(app.client());
    clients
}

/// Asserts the status of every path for every column of [`matrix_clients`], listing all misses.
pub async fn assert_access(app: &App, matrix: &[(&str, [u16; 6])]) {
    let mut clients = matrix_clients(app).await;
    let mut failures = Vec::new();
    for (path, expected) in matrix {
        for (i, c) in clients.iter_mut().enumerate() {
            let status = c.get(path).await.status;
            if status != expected[i] {
                failures.push(format!("{path} as #{i}: {status} (expected {})", expected[i]));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
