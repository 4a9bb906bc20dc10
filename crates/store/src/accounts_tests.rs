//! Tests of the account functions, on SQLite always and on PostgreSQL when
//! `FLSDB_TEST_POSTGRES_URL` is set (a fresh database per test; under `CI` a missing URL fails),
//! as in `tests.rs`.

use super::*;
use flsdb_dataset::{Service, ServiceCode};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

fn code(s: &str) -> ServiceCode {
    ServiceCode::parse(s).expect("code")
}

async fn with_services(store: &Store) {
    let services: Vec<Service> = ["BNT", "XYZ"]
        .iter()
        .map(|c| Service::parse([c, c, "england", "", "", "", "", "", ""]).expect("service"))
        .collect();
    store.upsert_services("tester", &services).await.expect("services");
}

async fn run_sqlite<F, Fut>(body: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::connect(&format!("sqlite:{}", dir.path().join("a.db").display())).await.expect("sqlite");
    with_services(&store).await;
    body(store.clone()).await;
    store.close().await;
}

async fn run_postgres<F, Fut>(body: F)
where
    F: FnOnce(Store) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let admin_url = match std::env::var("FLSDB_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var_os("CI").is_some() => panic!("CI is set but FLSDB_TEST_POSTGRES_URL is not"),
        _ => {
            eprintln!("skipping the PostgreSQL half: set FLSDB_TEST_POSTGRES_URL");
            return;
        }
    };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let name = format!("flsdb_acct_{}_{nanos}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    let admin = sqlx::PgPool::connect(&admin_url).await.expect("connect to PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.expect("create");
    let (base, _) = admin_url.rsplit_once('/').expect("url with a database");
    let url = format!("{base}/{name}");
    let outcome = tokio::spawn(async move {
        let store = Store::connect(&url).await.expect("connect");
        with_services(&store).await;
        body(store.clone()).await;
        store.close().await;
    })
    .await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)"))).execute(&admin).await.expect("drop");
    admin.close().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::run_sqlite(super::bodies::$name).await
                }
                #[tokio::test]
                async fn postgres() {
                    super::run_postgres(super::bodies::$name).await
                }
            }
        )*
    };
}

on_both_backends!(users, lockout, sessions);

mod bodies {
    use super::*;
    use time::{Duration, OffsetDateTime};

    pub async fn users(store: Store) {
        assert!(store.create_user("admin", "ann", Role::Clinician, "$hash", &[code("BNT")]).await.expect("create"));
        assert!(!store.create_user("admin", "ann", Role::Analyst, "$x", &[]).await.expect("taken"));
        let unknown = store.create_user("admin", "bob", Role::Clinician, "$h", &[code("NOPE")]).await;
        assert!(matches!(unknown, Err(StoreError::UnknownService(_))), "{unknown:?}");
        let ann = store.user("ann").await.expect("read").expect("exists");
        assert_eq!((ann.role, ann.services.clone(), ann.disabled), (Role::Clinician, vec![code("BNT")], false));
        assert_eq!(store.users().await.expect("users").len(), 1);
        assert!(store.set_user_disabled("admin", "ann", true).await.expect("disable"));
        assert!(store.user("ann").await.expect("read").expect("exists").disabled);
        assert!(!store.set_user_disabled("admin", "nobody", true).await.expect("no user"));
        let log =
            store.audit_log(&AuditFilter { entity: Some("user".into()), ..Default::default() }).await.expect("audit");
        let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["update", "insert"]);
    }

    pub async fn lockout(store: Store) {
        store.create_user("admin", "ann", Role::Clinician, "$hash", &[]).await.expect("create");
        for n in 1..5 {
            let f = store.login_failed("ann", 5, Duration::minutes(15)).await.expect("fail");
            assert_eq!(f, LoginFailure::Counted { failures: n });
        }
        let f = store.login_failed("ann", 5, Duration::minutes(15)).await.expect("fail");
        assert!(matches!(f, LoginFailure::Locked { until } if until > OffsetDateTime::now_utc()));
        assert!(store.user("ann").await.expect("read").expect("exists").locked_until.is_some());
        assert_eq!(store.login_failed("zed", 5, Duration::minutes(15)).await.expect("x"), LoginFailure::UnknownUser);
    }

    pub async fn sessions(store: Store) {
        store.create_user("admin", "ann", Role::ServiceLead, "$hash", &[code("BNT"), code("XYZ")]).await.expect("u");
        let expires = OffsetDateTime::now_utc() + Duration::hours(12);
        store.start_session("ann", "sid1", "tok", expires).await.expect("start");
        let s = store.session("sid1").await.expect("read").expect("exists");
        assert_eq!((s.user.name.as_str(), s.csrf_token.as_str()), ("ann", "tok"));
        assert_eq!(s.user.services.len(), 2);
        store.touch_session("sid1", OffsetDateTime::now_utc()).await.expect("touch");
        store.end_session("sid1", "logout").await.expect("end");
        assert!(store.session("sid1").await.expect("read").is_none());
        store.start_session("ann", "sid2", "tok", expires).await.expect("start");
        store.set_user_disabled("admin", "ann", true).await.expect("disable");
        assert!(store.session("sid2").await.expect("read").is_none(), "disabling ends sessions");
    }
}
