//! A database outage, on PostgreSQL (SQLite is a file inside the server process: it has no
//! connection to lose). The server reaches PostgreSQL through a small TCP proxy that this test
//! controls: it forwards, refuses (accepts and hangs up), or swallows connections (a black hole:
//! nothing ever answers), and cutting it closes every open connection. While the database is cut,
//! pages answer 503 with a page that says so, within the pool's acquire timeout (not 500, not a
//! hang); when it is back the server recovers by itself, the user's session included; and no
//! save the server acknowledged (303) is lost, each audited exactly once.

mod common;

use common::Client;
use flsdb_dataset::{LocalId, ServiceCode};
use flsdb_store::{AuditFilter, ConnectOptions, NewBatch, Role, Store};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// How long the server waits for a database connection before answering 503.
const ACQUIRE: Duration = Duration::from_secs(2);
/// An answer slower than this while the database is cut counts as a hang.
const PROMPT: Duration = Duration::from_secs(10);
/// How long recovery may take once the database is back.
const RECOVERY: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Forward,
    Refuse,
    BlackHole,
}

#[derive(Default)]
struct Connections {
    forwarding: Vec<AbortHandle>,
    swallowed: Vec<TcpStream>,
}

/// The controllable proxy in front of PostgreSQL.
struct Proxy {
    addr: SocketAddr,
    mode: Arc<Mutex<Mode>>,
    connections: Arc<Mutex<Connections>>,
    accept: AbortHandle,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let mode = Arc::new(Mutex::new(Mode::Forward));
        let connections = Arc::new(Mutex::new(Connections::default()));
        let (m, c) = (mode.clone(), connections.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else { continue };
                let mode = *m.lock().expect("mode");
                match mode {
                    Mode::Refuse => drop(client),
                    Mode::BlackHole => c.lock().expect("connections").swallowed.push(client),
                    Mode::Forward => {
                        let upstream = upstream.clone();
                        let task = tokio::spawn(async move {
                            if let Ok(mut server) = TcpStream::connect(&upstream).await {
                                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                            }
                        });
                        c.lock().expect("connections").forwarding.push(task.abort_handle());
                    }
                }
            }
        });
        Proxy { addr, mode, connections, accept: accept.abort_handle() }
    }

    /// Switches mode; leaving `Forward` cuts every open connection, leaving `BlackHole` closes
    /// the swallowed ones.
    fn set(&self, mode: Mode) {
        *self.mode.lock().expect("mode") = mode;
        let mut c = self.connections.lock().expect("connections");
        if mode != Mode::Forward {
            c.forwarding.drain(..).for_each(|t| t.abort());
        }
        if mode != Mode::BlackHole {
            c.swallowed.clear();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.set(Mode::Refuse);
    }
}

/// `host:port` and the URL with the proxy's address in its place.
fn split_url(url: &str, proxy: Option<SocketAddr>, database: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let query = tail.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    let (user, host) = authority.rsplit_once('@').map_or((None, authority), |(u, h)| (Some(u), h));
    let host_port = if host.contains(':') { host.to_owned() } else { format!("{host}:5432") };
    let target = proxy.map_or(host_port.clone(), |a| a.to_string());
    let user = user.map(|u| format!("{u}@")).unwrap_or_default();
    (host_port, format!("{scheme}://{user}{target}/{database}{query}"))
}

/// Polls `$condition` (an expression that may `.await`) until it is true, or fails after
/// `$within`.
macro_rules! eventually {
    ($what:expr, $within:expr, $condition:expr) => {{
        let deadline = Instant::now() + $within;
        while !$condition {
            assert!(Instant::now() < deadline, "{}: not within {:?}", $what, $within);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage() {
    let Some(admin_url) = std::env::var("FLSDB_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        assert!(std::env::var_os("CI").is_none(), "CI is set but FLSDB_TEST_POSTGRES_URL is not");
        eprintln!("skipping the PostgreSQL outage test: set FLSDB_TEST_POSTGRES_URL");
        return;
    };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let name = format!("flsdb_outage_{}_{nanos}", std::process::id());
    let admin = sqlx::PgPool::connect(&admin_url).await.expect("connect to PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.expect("create");
    let outcome = tokio::spawn(outage(admin_url.clone(), name.clone())).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
        .execute(&admin)
        .await
        .expect("drop database");
    admin.close().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn edit_page(c: &mut Client) -> common::Response {
    c.get("/records/AAA/r1/edit").await
}

/// Saves `frax_major = value` through the edit form: `Some(true)` acknowledged (303),
/// `Some(false)` refused as unavailable (503), and anything else fails the test.
async fn save(c: &mut Client, value: &str) -> bool {
    let form = edit_page(c).await;
    match form.status {
        200 => {}
        503 => return false,
        other => panic!("the edit form answered {other}: {}", form.body),
    }
    let (csrf, version) = (form.input("csrf").expect("csrf"), form.input("version").expect("version"));
    let fields = [
        ("csrf", csrf.as_str()),
        ("version", version.as_str()),
        ("date_of_birth", "1950-03-04"),
        ("fracture_date", "2025-02-01"),
        ("fracture_site", "wrist"),
        ("frax_major", value),
        ("save_anyway", "1"),
    ];
    let r = c.post_form("/records/AAA/r1/edit", &fields).await;
    match r.status {
        303 => true,
        503 => false,
        other => panic!("saving answered {other}: {}", r.body),
    }
}

fn assert_unavailable_page(r: &common::Response, elapsed: Duration) {
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("cannot be reached") && r.body.contains("try again"), "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("30"));
    assert!(elapsed < PROMPT, "answered after {elapsed:?}");
}

async fn outage(admin_url: String, name: String) {
    let (upstream, direct_url) = split_url(&admin_url, None, &name);
    let proxy = Proxy::start(upstream).await;
    let (_, url) = split_url(&admin_url, Some(proxy.addr), &name);
    let options = ConnectOptions { acquire_timeout: ACQUIRE, ..ConnectOptions::default() };
    let store = Store::connect_with(&url, &options).await.expect("connect through the proxy");

    let services =
        [flsdb_dataset::Service::parse(["AAA", "Alpha", "england", "London", "NHS North", "", "hospital", "", ""])
            .expect("service")];
    store.upsert_services("test", &services).await.expect("services");
    let hash = flsdb_web::auth::hash_password(common::PASSWORD).expect("hash");
    let codes = [ServiceCode::parse("AAA").expect("code")];
    store.create_user("test", "clin", Role::Clinician, &hash, &codes).await.expect("user");
    let batch = NewBatch { actor: "test".into(), file_name: None, mode: "test".into() };
    store.import_records(&batch, [common::minimal("AAA", "r1", "2025-02-01")]).await.expect("record");

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = flsdb_web::AppState::new(store.clone(), common::test_config());
    let server = tokio::spawn(async move {
        let _ = flsdb_web::serve(listener, state, async {
            let _ = stopped.await;
        })
        .await;
    });
    let mut c = Client { addr, cookies: Default::default() };
    eventually!("the server answers", RECOVERY, c.get("/health").await.status == 200);
    let r = c.post_form("/login", &[("name", "clin"), ("password", common::PASSWORD)]).await;
    assert_eq!(r.status, 303, "login: {}", r.body);
    let mut acknowledged = vec!["1.5".to_owned()];
    assert!(save(&mut c, "1.5").await, "a save with the database up");

    // Cut: refused connections, then a black hole. Pages, saves and the health check all
    // answer 503 promptly, the session is not lost (no redirect to the login page).
    for mode in [Mode::Refuse, Mode::BlackHole] {
        proxy.set(mode);
        for path in ["/records/AAA/r1", "/records/AAA/r1/edit", "/"] {
            let started = Instant::now();
            let r = c.get(path).await;
            assert_unavailable_page(&r, started.elapsed());
        }
        let started = Instant::now();
        assert_eq!(c.get("/health").await.status, 503, "{mode:?}");
        assert!(started.elapsed() < PROMPT);
        // A save cannot even load its form; posting one anyway is refused the same way.
        let started = Instant::now();
        let r = c.post_form("/records/AAA/r1/edit", &[("version", "2"), ("frax_major", "99")]).await;
        assert_unavailable_page(&r, started.elapsed());

        // Back: the server recovers by itself; the user is still logged in.
        proxy.set(Mode::Forward);
        eventually!("pages again after the outage", RECOVERY, c.get("/records/AAA/r1").await.status == 200);
    }

    // Saves keep coming while the database flaps: every acknowledged one must survive.
    let (done, acks, refusals) =
        (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let writer = {
        let (done, acks, refusals) = (done.clone(), acks.clone(), refusals.clone());
        let mut c = Client { addr, cookies: c.cookies.clone() };
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut n = 2;
            while !done.load(Ordering::SeqCst) {
                // A refused save is tried again with the same value, as a user would.
                let value = format!("{n}.5");
                if save(&mut c, &value).await {
                    acknowledged.push(value);
                    acks.fetch_add(1, Ordering::SeqCst);
                    n += 1;
                } else {
                    refusals.fetch_add(1, Ordering::SeqCst);
                }
            }
            acknowledged
        })
    };
    for mode in [Mode::Refuse, Mode::BlackHole, Mode::Refuse] {
        let before = acks.load(Ordering::SeqCst);
        eventually!("a save before the cut", RECOVERY, acks.load(Ordering::SeqCst) > before);
        let before = refusals.load(Ordering::SeqCst);
        proxy.set(mode);
        eventually!("a save refused during the cut", RECOVERY, refusals.load(Ordering::SeqCst) > before);
        proxy.set(Mode::Forward);
    }
    let before = acks.load(Ordering::SeqCst);
    eventually!("a save after the last cut", RECOVERY, acks.load(Ordering::SeqCst) > before);
    done.store(true, Ordering::SeqCst);
    acknowledged.extend(writer.await.expect("writer"));

    let _ = stop.send(());
    let _ = server.await;
    store.close().await;
    drop(proxy);

    // Straight to PostgreSQL, past the proxy: each acknowledged save is in the audit log once,
    // and the record holds the last one.
    let direct = Store::connect(&direct_url).await.expect("connect directly");
    let filter = AuditFilter { entity_key: Some("AAA/r1".into()), ..Default::default() };
    let saved: Vec<String> = direct
        .audit_log(&filter)
        .await
        .expect("audit")
        .iter()
        .filter(|l| l.action == "update")
        .filter_map(|l| {
            let after: serde_json::Value = serde_json::from_str(l.after.as_deref()?).ok()?;
            after.get("frax_major")?.as_str().map(str::to_owned)
        })
        .collect();
    for value in &acknowledged {
        assert_eq!(saved.iter().filter(|s| *s == value).count(), 1, "acknowledged save {value}: {saved:?}");
    }
    let (record, _) = direct
        .get_record(&ServiceCode::parse("AAA").expect("code"), &LocalId::parse("r1").expect("id"))
        .await
        .expect("read")
        .expect("exists");
    let last: f64 = acknowledged.last().expect("saves").parse().expect("number");
    assert_eq!(record.frax_major, Some(last));
    assert!(acknowledged.len() >= 5, "{acknowledged:?}");
    direct.close().await;
}
