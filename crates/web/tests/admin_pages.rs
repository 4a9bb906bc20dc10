//! The national admin's registry pages (organisations, opt-outs) and analysts' pseudonymised
//! extracts, over real HTTP on SQLite and (when configured) PostgreSQL.

mod common;

use common::{App, Client, record};
use flsdb_store::{AuditFilter, NewBatch};

on_both_backends!(
    access,
    extract_is_pseudonymised_and_audited,
    organisations_upload,
    opt_outs_form,
    benchmark_downloads
);

async fn csrf(c: &mut Client) -> String {
    c.get("/").await.input("csrf").expect("a csrf field on the start page")
}

async fn access(app: &App) {
    // Columns: clin (AAA), lead (AAA), comm (AAA), admin, analyst, anonymous.
    const MATRIX: &[(&str, [u16; 6])] = &[
        ("/extracts", [403, 403, 403, 200, 200, 303]),
        ("/extracts/records.csv?year=2025", [403, 403, 403, 200, 200, 303]),
        ("/admin/organisations", [403, 403, 403, 200, 403, 303]),
        ("/admin/opt-outs", [403, 403, 403, 200, 403, 303]),
    ];
    common::assert_access(app, MATRIX).await;
}

async fn extract_is_pseudonymised_and_audited(app: &App) {
    let batch = NewBatch { actor: "test".into(), file_name: None, mode: "test".into() };
    let with_nhs = |local_id: &str, nhs: &str, service: &str| {
        record(&[
            ("service_code", service),
            ("local_id", local_id),
            ("nhs_number", nhs),
            ("date_of_birth", "1950-03-04"),
            ("postcode", "LS1 4AP"),
            ("fracture_date", "2025-01-10"),
            ("fracture_site", "hip"),
            ("fls_assessment_date", "2025-02-09"),
        ])
    };
    let records = [
        with_nhs("kept-1", "9434765919", "AAA"),
        with_nhs("same-patient", "9434765919", "BBB"),
        with_nhs("opted-out", "9400000006", "AAA"),
    ];
    app.store.import_records(&batch, records.iter()).await.expect("records");
    app.store.add_opt_outs("test", &[records[2].nhs_number.expect("nhs")]).await.expect("opt-out");

    let mut c = app.login("analyst").await;
    let r = c.get("/extracts/records.csv?year=2025").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("content-disposition").is_some_and(|d| d.contains("extract-2025-all.csv")));
    let mut lines = r.body.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // Seeded: r1 (AAA) and r2 (BBB) fractured in 2025; plus two of the three above (one opted out).
    assert_eq!(rows.len(), 4, "{}", r.body);
    for secret in ["9434765919", "9400000006", "kept-1", "same-patient", "opted-out", "1950-03-04", "4AP", "2025-01-10"]
    {
        assert!(!r.body.contains(secret), "{secret} is in the extract:\n{}", r.body);
    }
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("no {name} in {header:?}"));
    let hip: Vec<&Vec<&str>> = rows.iter().filter(|row| row[col("fracture_site")] == "hip").collect();
    assert_eq!(hip.len(), 2);
    assert_eq!(hip[0][col("pseudo_id")], hip[1][col("pseudo_id")], "one patient, one pseudonym at both services");
    assert_ne!(hip[0][col("service_code")], hip[1][col("service_code")]);
    assert_eq!(hip[0][col("age_at_fracture")], "74");
    assert_eq!(hip[0][col("postcode_district")], "LS1");
    assert_eq!(hip[0][col("fracture_month")], "2025-01");
    assert_eq!(hip[0][col("fls_assessment_days")], "30");

    // The same pseudonyms next time (the key is kept in the database), and one service only.
    let again = c.get("/extracts/records.csv?year=2025&service=BBB").await;
    assert_eq!(again.status, 200);
    assert!(again.body.contains(hip[0][col("pseudo_id")]), "{}", again.body);
    assert_eq!(again.body.lines().count(), 3, "header, r2 and same-patient: {}", again.body);

    let log = app
        .store
        .audit_log(&AuditFilter { entity: Some("extract".into()), ..Default::default() })
        .await
        .expect("audit log");
    let keys: Vec<(&str, &str)> = log.iter().map(|e| (e.actor.as_str(), e.entity_key.as_str())).collect();
    assert_eq!(
        keys,
        [("analyst", "records year=2025 service=BBB rows=2"), ("analyst", "records year=2025 service=all rows=4")]
    );
    // A bad year is a clear 400, not an empty file.
    let bad = c.get("/extracts/records.csv?year=1999").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("1999"), "{}", bad.body);
}

async fn organisations_upload(app: &App) {
    let mut c = app.login("admin").await;
    let token = csrf(&mut c).await;
    let bad = "service_code,name,nation,setting\nCCC,Gamma,england,hospital\nDDD,Delta,england,castle\n";
    let r = c.post_multipart("/admin/organisations", &token, "services.csv", bad.as_bytes()).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("row 3") && r.body.contains("castle"), "{}", r.body);
    let names: Vec<String> = app.store.services().await.expect("services").into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["Alpha", "Beta"], "a file with a problem changes nothing");

    let good = "service_code,name,nation,region,commissioner,setting\nCCC,Gamma,england,London,NHS North,hospital\n";
    let r = c.post_multipart("/admin/organisations", &token, "services.csv", good.as_bytes()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("1 added") && r.body.contains("Gamma"), "{}", r.body);
    assert_eq!(app.store.services().await.expect("services").len(), 3);
    let audited = app
        .store
        .audit_log(&AuditFilter {
            entity: Some("service".into()),
            entity_key: Some("CCC".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].actor, "admin");
}

async fn opt_outs_form(app: &App) {
    let mut c = app.login("admin").await;
    let token = csrf(&mut c).await;
    let typed = "943 476 5919\n1234567890";
    let r = c.post_form("/admin/opt-outs", &[("csrf", &token), ("numbers", typed)]).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("line 2") && r.body.contains("1234567890"), "{}", r.body);
    assert!(r.body.contains("943 476 5919"), "what was typed is kept: {}", r.body);
    assert!(app.store.opt_outs().await.expect("opt-outs").is_empty(), "nothing added");

    let r = c.post_form("/admin/opt-outs", &[("csrf", &token), ("numbers", "943 476 5919\n9400000014")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("2 added"), "{}", r.body);
    assert_eq!(app.store.opt_outs().await.expect("opt-outs").len(), 2);
    assert!(!r.body.contains("9400000014"), "the page never lists the numbers");
    // Without the token nothing happens.
    let r = c.post_form("/admin/opt-outs", &[("numbers", "9400000022")]).await;
    assert_eq!(r.status, 403);
    assert_eq!(app.store.opt_outs().await.expect("opt-outs").len(), 2);
}

async fn benchmark_downloads(app: &App) {
    let mut clin = app.login("clin").await;
    assert_eq!(clin.get("/reports").await.status, 200);
    let published = clin.get("/reports/benchmarks.csv?year=2025").await;
    assert_eq!(published.status, 200, "{}", published.body);
    assert!(published.header("content-type").is_some_and(|t| t.starts_with("text/csv")));
    assert!(published.header("content-disposition").is_some_and(|d| d.contains("benchmarks-2025-published.csv")));
    assert!(published.body.contains("National (all services)"), "{}", published.body);
    assert_eq!(
        clin.get("/reports/benchmarks.csv?year=2025&published=0").await.status,
        403,
        "exact tables are not for services"
    );
    let mut analyst = app.login("analyst").await;
    let exact = analyst.get("/reports/benchmarks.csv?year=2025&published=0").await;
    assert_eq!(exact.status, 200);
    // Two records in 2025, one per service: the national row is exact in both tables; a service's
    // count of 1 is suppressed in the published one.
    let row = |body: &str, name: &str| body.lines().find(|l| l.contains(name)).unwrap_or_default().to_owned();
    assert_eq!(row(&exact.body, "National"), row(&published.body, "National"));
    assert!(row(&exact.body, "AAA").contains(",1,"), "{}", exact.body);
    assert!(!row(&published.body, "AAA").contains(",1,"), "{}", published.body);
    let xlsx = analyst.get("/reports/benchmarks.xlsx?year=2025").await;
    assert_eq!(xlsx.status, 200);
    assert!(xlsx.body.starts_with("PK"), "an XLSX (zip) workbook");
    assert_eq!(analyst.get("/reports/other.txt").await.status, 404);
}
