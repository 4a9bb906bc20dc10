//! End-to-end tests of the web application over real HTTP, on SQLite and (when configured)
//! PostgreSQL.

mod common;

use common::{App, Client, PASSWORD};
use std::time::Duration;

on_both_backends!(
    login_logout,
    lockout,
    access_matrix,
    csrf_is_checked,
    edit_conflict,
    form_errors_keep_input,
    followup_and_worklist,
    upload_dry_run_and_confirm,
    upload_too_large,
    security_headers,
);

async fn csrf(c: &mut Client) -> String {
    c.get("/").await.input("csrf").expect("a csrf field on the start page")
}

async fn login_logout(app: &App) {
    let mut c = app.client();
    assert_eq!(c.get("/").await.status, 303, "not logged in: redirect to the login page");
    let r = c.post_form("/login", &[("name", "clin"), ("password", PASSWORD)]).await;
    assert_eq!(r.status, 303);
    let cookie = r.header("set-cookie").expect("a session cookie").to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let session = c.cookies.get("flsdb_session").expect("session cookie").clone();
    assert_eq!(c.get("/").await.status, 200);
    // A second login gets a fresh session id.
    let mut other = app.login("clin").await;
    assert_ne!(other.cookies.get("flsdb_session"), Some(&session));
    let token = csrf(&mut c).await;
    assert_eq!(c.post_form("/logout", &[("csrf", &token)]).await.status, 303);
    assert!(app.store.session(&session).await.expect("read").is_none(), "the session row is gone");
    // Replaying the old cookie gets nothing.
    let mut replay = app.client();
    replay.cookies.insert("flsdb_session".into(), session);
    assert_eq!(replay.get("/").await.status, 303);
    assert_eq!(other.get("/").await.status, 200, "other sessions live on");
}

async fn lockout(app: &App) {
    let mut c = app.client();
    for n in 1..=5 {
        let r = c.post_form("/login", &[("name", "clin"), ("password", "wrong password!")]).await;
        assert_eq!(r.status, 401);
        if n == 5 {
            assert!(r.body.contains("locked"), "{}", r.body);
        }
    }
    let r = c.post_form("/login", &[("name", "clin"), ("password", PASSWORD)]).await;
    assert_eq!(r.status, 401, "locked even with the right password");
    assert!(r.body.contains("locked"));
    let r = c.post_form("/login", &[("name", "nobody"), ("password", PASSWORD)]).await;
    assert_eq!(r.status, 401);
}

async fn access_matrix(app: &App) {
    // Columns: clin (AAA), lead (AAA), comm (AAA), admin, analyst, anonymous.
    const MATRIX: &[(&str, [u16; 6])] = &[
        ("/records/AAA/r1", [200, 200, 403, 200, 403, 303]),
        ("/records/BBB/r2", [404, 404, 403, 200, 403, 303]),
        ("/records/AAA/r1/edit", [200, 200, 403, 200, 403, 303]),
        ("/records/BBB/r2/edit", [404, 404, 403, 200, 403, 303]),
        ("/records/AAA/r1/followup16", [200, 200, 403, 200, 403, 303]),
        ("/records/BBB/r2/followup52", [404, 404, 403, 200, 403, 303]),
        ("/records/AAA/nope", [404, 404, 403, 404, 403, 303]),
        ("/records", [200, 200, 403, 200, 403, 303]),
        ("/records?service=AAA", [200, 200, 403, 200, 403, 303]),
        ("/records?service=BBB", [404, 404, 403, 200, 403, 303]),
        ("/records/new", [200, 200, 403, 200, 403, 303]),
        ("/worklists", [200, 200, 403, 200, 403, 303]),
        ("/worklists?service=BBB", [404, 404, 403, 200, 403, 303]),
        ("/worklists.csv?kind=52", [200, 200, 403, 200, 403, 303]),
        ("/upload", [200, 200, 403, 200, 403, 303]),
        ("/upload/0123456789abcdef", [404, 404, 403, 404, 403, 303]),
        ("/results", [403, 403, 200, 200, 200, 303]),
        ("/admin/users", [403, 200, 403, 200, 403, 303]),
        ("/admin/audit", [403, 403, 403, 200, 403, 303]),
        ("/", [200, 200, 200, 200, 200, 303]),
        ("/health", [200, 200, 200, 200, 200, 200]),
        ("/no/such/page", [404, 404, 404, 404, 404, 404]),
    ];
    let mut clients = Vec::new();
    for name in ["clin", "lead", "comm", "admin", "analyst"] {
        clients.push(app.login(name).await);
    }
    clients.push(app.client());
    let mut failures = Vec::new();
    for (path, expected) in MATRIX {
        for (i, c) in clients.iter_mut().enumerate() {
            let r = c.get(path).await;
            if r.status != expected[i] {
                failures.push(format!("{path} as #{i}: {} (expected {})", r.status, expected[i]));
            }
            if path.contains("BBB/r2") && expected[i] != 200 {
                assert!(!r.body.contains("2025-02-01"), "another service's record leaked into {path}");
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // The list never shows another service's records.
    let body = clients[0].get("/records").await.body;
    assert!(body.contains("r1") && !body.contains(">r2<"));
}

async fn csrf_is_checked(app: &App) {
    let mut c = app.login("clin").await;
    let form = c.get("/records/AAA/r1/edit").await;
    let version = form.input("version").expect("version");
    let fields = [("version", version.as_str()), ("sex", "female")];
    assert_eq!(c.post_form("/records/AAA/r1/edit", &fields).await.status, 403, "no token");
    let wrong = [("csrf", "0000"), ("version", version.as_str()), ("sex", "female")];
    assert_eq!(c.post_form("/records/AAA/r1/edit", &wrong).await.status, 403, "wrong token");
    assert_eq!(c.post_form("/logout", &[]).await.status, 403, "logout needs the token too");
    assert_eq!(c.get("/").await.status, 200, "still logged in");
    // A POST from another origin is refused even with a token.
    let token = csrf(&mut c).await;
    let body = format!("csrf={token}");
    let r = c
        .send(
            "POST",
            "/logout",
            Some("application/x-www-form-urlencoded"),
            body.into_bytes(),
            &[("Origin", "https://evil.example")],
        )
        .await;
    assert_eq!(r.status, 403);
    let (record, v) = app.store.get_record(&code("AAA"), &local("r1")).await.expect("read").expect("exists");
    assert_eq!((record.sex, v), (None, 1), "nothing was saved");
}

fn code(s: &str) -> flsdb_dataset::ServiceCode {
    flsdb_dataset::ServiceCode::parse(s).expect("code")
}
fn local(s: &str) -> flsdb_dataset::LocalId {
    flsdb_dataset::LocalId::parse(s).expect("local id")
}

async fn edit_conflict(app: &App) {
    let mut a = app.login("clin").await;
    let mut b = app.login("lead").await;
    let form_a = a.get("/records/AAA/r1/edit").await;
    let form_b = b.get("/records/AAA/r1/edit").await;
    let (va, vb) = (form_a.input("version").expect("v"), form_b.input("version").expect("v"));
    assert_eq!(va, vb);
    let ca = form_a.input("csrf").expect("csrf");
    let cb = form_b.input("csrf").expect("csrf");
    // A browser posts every field of the form.
    let rest = [("date_of_birth", "1950-03-04"), ("fracture_date", "2025-02-01"), ("fracture_site", "wrist")];
    let mut fields = vec![("csrf", ca.as_str()), ("version", va.as_str()), ("postcode", "SW1A 1AA")];
    fields.extend(rest);
    let r = a.post_form("/records/AAA/r1/edit", &fields).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let mut fields = vec![("csrf", cb.as_str()), ("version", vb.as_str()), ("postcode", "LS1 4AP")];
    fields.extend(rest);
    let r = b.post_form("/records/AAA/r1/edit", &fields).await;
    assert_eq!(r.status, 409);
    assert!(r.body.contains("NOT saved") && r.body.contains("LS1 4AP"), "conflict message and input kept");
    let (record, v) = app.store.get_record(&code("AAA"), &local("r1")).await.expect("read").expect("exists");
    assert_eq!((record.postcode.map(|p| p.as_str().to_owned()), v), (Some("SW1A 1AA".into()), 2));
    // The history shows the edit and who made it.
    let page = a.get("/records/AAA/r1").await.body;
    assert!(page.contains("postcode") && page.contains("clin"), "{page}");
}

async fn form_errors_keep_input(app: &App) {
    let mut c = app.login("clin").await;
    let token = csrf(&mut c).await;
    let mut fields = vec![
        ("csrf", token.as_str()),
        ("service_code", "AAA"),
        ("local_id", "new-1"),
        ("date_of_birth", "1950-13-40"),
        ("fracture_date", "2025-01-10"),
        ("fracture_site", "hip"),
        ("height_cm", "999"),
    ];
    let r = c.post_form("/records/new", &fields).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("id=\"date_of_birth-error\"") && r.body.contains("id=\"height_cm-error\""), "{}", r.body);
    assert!(r.body.contains("value=\"1950-13-40\"") && r.body.contains("value=\"new-1\""), "input kept");
    // Another service: refused on the field.
    fields[1] = ("service_code", "BBB");
    fields[3] = ("date_of_birth", "1950-01-01");
    fields[6] = ("height_cm", "170");
    let r = c.post_form("/records/new", &fields).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("only enter records for your services"));
    // A warning (assessment > 730 days after the fracture) needs "save anyway".
    fields[1] = ("service_code", "AAA");
    fields[4] = ("fracture_date", "2016-02-01");
    fields.push(("fls_assessment_date", "2019-01-01"));
    let r = c.post_form("/records/new", &fields).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("save_anyway"));
    assert!(app.store.get_record(&code("AAA"), &local("new-1")).await.expect("read").is_none());
    fields.push(("save_anyway", "yes"));
    let r = c.post_form("/records/new", &fields).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(app.store.get_record(&code("AAA"), &local("new-1")).await.expect("read").is_some());
    // The same key again is refused on local_id.
    let r = c.post_form("/records/new", &fields).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("already exists"));
}

async fn followup_and_worklist(app: &App) {
    let mut c = app.login("clin").await;
    let list = c.get("/worklists?kind=16").await.body;
    assert!(list.contains(">r1<") && list.contains("overdue"), "{list}");
    assert!(!list.contains(">r2<"));
    let csv = c.get("/worklists.csv?kind=16").await;
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(
        csv.body.starts_with("service_code,local_id") && csv.body.contains("AAA,r1,2025-02-01,120"),
        "{}",
        csv.body
    );
    let w52 = c.get("/worklists?kind=52").await.body;
    assert!(w52.contains(">r3<"), "r3 is 346 days after its fracture: 52-week due");
    let form = c.get("/records/AAA/r1/followup16").await;
    let (token, version) = (form.input("csrf").expect("csrf"), form.input("version").expect("v"));
    let fields = [
        ("csrf", token.as_str()),
        ("version", version.as_str()),
        ("followup16", "yes"),
        ("followup16_date", "2025-05-20"),
    ];
    let r = c.post_form("/records/AAA/r1/followup16", &fields).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let list = c.get("/worklists?kind=16").await.body;
    assert!(!list.contains(">r1<"), "recorded follow-ups leave the worklist");
}

async fn wait_for(c: &mut Client, path: &str, text: &str) -> String {
    for _ in 0..600 {
        let body = c.get(path).await.body;
        if body.contains(text) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never showed {text:?}");
}

async fn upload_dry_run_and_confirm(app: &App) {
    let mut c = app.login("clin").await;
    let token = csrf(&mut c).await;
    let file = "service_code,local_id,date_of_birth,fracture_date,fracture_site\n\
                AAA,u1,1950-01-01,2025-01-05,hip\n\
                AAA,u2,1950-01-01,2099-01-05,hip\n\
                BBB,u3,1950-01-01,2025-01-05,hip\n\
                AAA,r1,1950-03-04,2025-02-01,wrist\n";
    let r = c.post_multipart("/upload", &token, "records.csv", file.as_bytes()).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let job = r.header("location").expect("job page").to_owned();
    let page = wait_for(&mut c, &format!("{job}/status"), "id=\"checked\"").await;
    for (id, n) in [("inserted", 1), ("updated", 0), ("unchanged", 1), ("rejected", 2)] {
        assert!(page.contains(&format!("id=\"{id}\">{n}<")), "{id} {n}: {page}");
    }
    assert!(page.contains("not_your_service") || page.contains("not one of"), "{page}");
    let errors = c.get(&format!("{job}/errors.csv")).await.body;
    assert!(errors.lines().count() >= 3 && errors.contains("\n3,") && errors.contains("\n4,"), "{errors}");
    assert!(app.store.get_record(&code("AAA"), &local("u1")).await.expect("read").is_none(), "dry run wrote nothing");
    // Another user cannot see the job.
    let mut other = app.login("lead").await;
    assert_eq!(other.get(&job).await.status, 404);
    let r = c.post_form(&format!("{job}/confirm"), &[("csrf", &token)]).await;
    assert_eq!(r.status, 303);
    wait_for(&mut c, &format!("{job}/status"), "id=\"done\"").await;
    assert!(app.store.get_record(&code("AAA"), &local("u1")).await.expect("read").is_some());
    assert!(app.store.get_record(&code("BBB"), &local("u3")).await.expect("read").is_none());
    assert_eq!(c.post_form(&format!("{job}/confirm"), &[("csrf", &token)]).await.status, 400, "only once");
}

async fn upload_too_large(app: &App) {
    let mut c = app.login("clin").await;
    let token = csrf(&mut c).await;
    let mut file = b"service_code,local_id,date_of_birth,fracture_date,fracture_site\n".to_vec();
    while file.len() < 300 * 1024 {
        file.extend_from_slice(b"AAA,x,1950-01-01,2025-01-05,hip\n");
    }
    let r = c.post_multipart("/upload", &token, "big.csv", &file).await;
    assert_eq!(r.status, 413);
    assert!(r.body.contains("larger than"), "{}", r.body);
}

async fn security_headers(app: &App) {
    let mut c = app.login("clin").await;
    let r = c.get("/records/AAA/r1").await;
    let csp = r.header("content-security-policy").expect("csp");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline")
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("referrer-policy"), Some("same-origin"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(!r.body.contains("style=\"") && !r.body.contains("<script>"), "no inline styles or scripts");
    let js = c.get("/static/htmx.min.js").await;
    assert_eq!(js.status, 200);
    assert!(js.body.len() > 50_000);
}
