//! Tests of the account functions, on both backends through `tests.rs`'s harness.

use super::*;
use flsdb_dataset::{Service, ServiceCode};
use std::future::Future;

fn code(s: &str) -> ServiceCode {
    ServiceCode::parse(s).expect("code")
}

/// Runs an account test body on a store whose registry holds BNT and XYZ (the backend harness is
/// `tests.rs`'s, so both test files create and drop databases the same way).
async fn with_registry<Fut: Future<Output = ()>>(store: Store, body: fn(Store) -> Fut) {
    with_services(&store).await;
    body(store).await
}

async fn with_services(store: &Store) {
    let services: Vec<Service> = ["BNT", "XYZ"]
        .iter()
        .map(|c| Service::parse([c, c, "england", "", "", "", "", "", ""]).expect("service"))
        .collect();
    store.upsert_services("tester", &services).await.expect("services");
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    crate::tests::run_sqlite(|store, _| super::with_registry(store, super::bodies::$name)).await
                }
                #[tokio::test]
                async fn postgres() {
                    crate::tests::run_postgres(|store, _| super::with_registry(store, super::bodies::$name)).await
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
