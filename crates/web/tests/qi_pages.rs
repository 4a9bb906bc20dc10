//! Quality-improvement pages over real HTTP on SQLite and (when configured) PostgreSQL: a cycle
//! opened, noted and closed with verdicts from the data; who may do what; the service page's
//! priorities, 16-week flags and refracture alerts, scoped to the service.

mod common;

use common::{App, Client, record};
use flsdb_store::NewBatch;

on_both_backends!(qi_access, cycle_lifecycle, service_page_alerts_and_flags);

async fn csrf(c: &mut Client) -> String {
    c.get("/").await.input("csrf").expect("a csrf field on the start page")
}

/// AAA: 10 fractures a month from January 2024 to April 2025; 3 of 10 assessed within 90 days
/// before 2025, 9 of 10 from January 2025.
async fn seed_months(app: &App) {
    let mut records = Vec::new();
    for month in 0..16 {
        let (year, m) = (2024 + month / 12, month % 12 + 1);
        for day in 1..=10 {
            let assessed = if year == 2024 { day <= 3 } else { day <= 9 };
            let (id, fracture, seen) = (
                format!("m{month}-{day}"),
                format!("{year}-{m:02}-{day:02}"),
                format!("{year}-{m:02}-{:02}", day + 10),
            );
            let mut cells = vec![
                ("service_code", "AAA"),
                ("local_id", id.as_str()),
                ("date_of_birth", "1950-03-04"),
                ("fracture_date", fracture.as_str()),
                ("fracture_site", "wrist"),
            ];
            if assessed {
                cells.push(("fls_assessment_date", seen.as_str()));
            }
            records.push(record(&cells));
        }
    }
    let batch = NewBatch { actor: "test".into(), file_name: None, mode: "test".into() };
    app.store.import_records(&batch, records.iter()).await.expect("records");
}

async fn qi_access(app: &App) {
    // Columns: clin (AAA), lead (AAA), comm (AAA), admin, analyst, anonymous.
    const MATRIX: &[(&str, [u16; 6])] = &[
        ("/qi", [200, 200, 200, 200, 200, 303]),
        ("/qi/service", [200, 200, 403, 200, 403, 303]),
        ("/qi/service?service=AAA", [200, 200, 403, 200, 403, 303]),
        ("/qi/service?service=BBB", [404, 404, 403, 200, 403, 303]),
        ("/qi/99", [404, 404, 404, 404, 404, 303]),
    ];
    common::assert_access(app, MATRIX).await;
}

async fn cycle_lifecycle(app: &App) {
    seed_months(app).await;
    let open = |token: String| {
        vec![
            ("csrf", token),
            ("service", "AAA".to_owned()),
            ("kpi", "kpi4".to_owned()),
            ("baseline_from", "2024-01-01".to_owned()),
            ("start", "2025-01-01".to_owned()),
            ("aim", "60".to_owned()),
            ("by", "2025-12-31".to_owned()),
            ("ideas", "assess on the fracture clinic list".to_owned()),
        ]
    };
    let post = async |c: &mut Client, path: &str, fields: Vec<(&'static str, String)>| {
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        c.post_form(path, &borrowed).await
    };

    // A clinician cannot open a cycle; a service lead can, for their own service only.
    let mut clin = app.login("clin").await;
    let token = csrf(&mut clin).await;
    assert_eq!(post(&mut clin, "/qi", open(token)).await.status, 403);
    let mut lead = app.login("lead").await;
    let token = csrf(&mut lead).await;
    let mut elsewhere = open(token.clone());
    elsewhere[1].1 = "BBB".into();
    assert_eq!(post(&mut lead, "/qi", elsewhere).await.status, 403);
    let mut backwards = open(token.clone());
    backwards[3].1 = "2025-02-01".into();
    let r = post(&mut lead, "/qi", backwards).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("must begin before the start") && r.body.contains("2025-02-01"), "kept input: {}", r.body);
    let r = post(&mut lead, "/qi", open(token.clone())).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.header("location").expect("a redirect").to_owned();

    // The data show the improvement against the 2024 baseline.
    let page = lead.get(&location).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("special-cause improvement in FLS assessment within 90 days from January 2025"),
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"chart-kpi4\"") && page.body.contains("<svg"), "the target's chart");

    // The commissioner reads the cycle but cannot write to it.
    let mut comm = app.login("comm").await;
    assert_eq!(comm.get(&location).await.status, 200);
    let comm_token = csrf(&mut comm).await;
    let note = |t: &str| {
        vec![
            ("csrf", t.to_owned()),
            ("stage", "study".to_owned()),
            ("on", "2025-03-01".to_owned()),
            ("text", "list works".to_owned()),
        ]
    };
    assert_eq!(post(&mut comm, &format!("{location}/notes"), note(&comm_token)).await.status, 403);
    let clin_token = csrf(&mut clin).await;
    assert_eq!(post(&mut clin, &format!("{location}/notes"), note(&clin_token)).await.status, 303);
    assert_eq!(post(&mut clin, &format!("{location}/close"), vec![("csrf", clin_token.clone())]).await.status, 403);

    let r = post(&mut lead, &format!("{location}/close"), vec![("csrf", token.clone())]).await;
    assert_eq!(r.status, 303);
    let page = lead.get(&location).await.body;
    assert!(page.contains("complete 2025-06-01: improved yes, maintained yes"), "{page}");
    assert!(page.contains("list works") && page.contains("clin"), "the note: {page}");
    let list = app.login("admin").await.get("/qi").await.body;
    assert!(list.contains("<strong>1</strong> of the 2 services you can see completed a cycle in 2025"), "{list}");
}

async fn service_page_alerts_and_flags(app: &App) {
    let batch = NewBatch { actor: "test".into(), file_name: None, mode: "test".into() };
    let nhs = "9434765919";
    let base = |service: &'static str, id: &'static str, fracture: &'static str| {
        vec![
            ("service_code", service),
            ("local_id", id),
            ("nhs_number", nhs),
            ("date_of_birth", "1950-03-04"),
            ("fracture_date", fracture),
            ("fracture_site", "wrist"),
        ]
    };
    let mut due = base("AAA", "due-no-contact", "2025-02-20");
    due[2].1 = "9400000006";
    due.push(("bone_therapy_recommended", "alendronate"));
    let records = [
        record(&base("AAA", "broke-before", "2024-01-10")),
        record(&base("BBB", "bbb-secret-id", "2025-01-15")),
        record(&due),
    ];
    app.store.import_records(&batch, records.iter()).await.expect("records");

    let mut clin = app.login("clin").await;
    let page = clin.get("/qi/service?service=AAA").await;
    assert_eq!(page.status, 200);
    let body = page.body;
    assert!(body.contains("id=\"refracture-count\">1<"), "{body}");
    assert!(body.contains("wrist 2025-01-15 at service BBB"), "{body}");
    assert!(!body.contains("bbb-secret-id"), "another service's record id is never shown");
    assert!(body.contains("due-no-contact") && body.contains("no follow-up contact yet"), "{body}");
    assert!(body.contains("id=\"priorities\""));
    assert!(
        body.contains("id=\"therapy-funnel\"><svg") && body.contains("bone therapy recommended (of all patients)"),
        "{body}"
    );
    // BBB's staff would see nothing of AAA's patients; here the clinician of AAA asks for BBB.
    assert_eq!(clin.get("/qi/service?service=BBB").await.status, 404);

    // The service dashboard carries the count (patient roles only) and the next priorities.
    let dashboard = clin.get("/dashboard/service?service=AAA&year=2025").await.body;
    assert!(dashboard.contains("id=\"refracture-count\">1<"), "{dashboard}");
    assert!(
        dashboard.contains("id=\"priorities\"") && dashboard.contains("more patients a year would have met"),
        "{dashboard}"
    );
    let commissioner = app.login("comm").await.get("/dashboard/service?service=AAA&year=2025").await;
    assert_eq!(commissioner.status, 200);
    assert!(!commissioner.body.contains("refracture"), "aggregate pages only for commissioners");
    // A new refracture shows at once (the count is cached per data version).
    let mut again = base("AAA", "third", "2025-05-01");
    again[2].1 = "9434765919";
    app.store.import_records(&batch, [record(&again)].iter()).await.expect("record");
    let dashboard = clin.get("/dashboard/service?service=AAA&year=2025").await.body;
    assert!(
        dashboard.contains("id=\"refracture-count\">2<"),
        "broke-before → bbb and → third (bbb → third is BBB's): {dashboard}"
    );
}
