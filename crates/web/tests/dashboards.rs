//! The dashboards and public pages over real HTTP, on SQLite and (when configured) PostgreSQL:
//! who sees what, the numbers against the KPI engine run on the same records (what `flsdb kpi
//! --db` does), the charts against `flsdb-charts` and committed snapshots, small-number
//! suppression on the public pages, feedback, and freshness after a write.

mod common;

use common::{App, Client, TODAY, record};
use flsdb_charts::ChartOptions;
use flsdb_dataset::{Record, Service};
use flsdb_kpi::{
    ChartKind, ColumnKind, DenominatorMode, Disclosure, Engine, KpiValue, Period, Report, ServiceChart, Setup,
    chart_series, monthly_series, set_by_name,
};
use flsdb_store::{NewBatch, RecordFilter, Store};

on_both_backends!(
    dashboards_by_role,
    service_dashboard_equals_engine,
    national_dashboard_equals_engine,
    commissioner_sees_only_its_services,
    public_pages_are_suppressed,
    feedback_is_stored_and_read_by_admins,
    dashboard_is_fresh_after_a_write,
);

const YEAR: i32 = 2024;

fn date_plus(date: &str, days: i64) -> String {
    let d = time::Date::parse(date, time::macros::format_description!("[year]-[month]-[day]")).expect("date");
    flsdb_dataset::values::format_date(d + time::Duration::days(days))
}

/// A 2024 record of `service` whose KPIs vary with `i`.
fn varied(service: &str, i: usize) -> Record {
    let month = 1 + i % 12;
    let fracture = format!("2024-{month:02}-{:02}", 1 + (i * 7) % 27);
    let site = ["wrist", "spine", "hip", "humerus"][i % 4];
    let assessed = date_plus(&fracture, 10 + (i % 5) as i64 * 30);
    let dxa_date = date_plus(&fracture, 20);
    let followup = date_plus(&fracture, 100);
    let local_id = format!("{}-{i}", service.to_lowercase());
    let mut fields: Vec<(&str, &str)> = vec![
        ("service_code", service),
        ("local_id", &local_id),
        ("date_of_birth", "1948-05-06"),
        ("sex", if i.is_multiple_of(2) { "female" } else { "male" }),
        ("fracture_date", &fracture),
        ("fracture_site", site),
    ];
    if !i.is_multiple_of(3) {
        fields.push(("fls_assessment_date", &assessed));
    }
    if i.is_multiple_of(2) {
        fields.push(("dxa", "ordered"));
        fields.push(("dxa_date", &dxa_date));
    }
    if i % 4 != 1 {
        fields.push(("falls_assessment", "done"));
    }
    if i % 5 < 3 {
        fields.push(("bone_therapy_recommended", "alendronate"));
    }
    if i % 3 == 1 {
        fields.push(("followup16", "yes"));
        fields.push(("followup16_date", &followup));
        fields.push(("strength_balance_16w", "yes"));
        fields.push(("therapy_16w", "alendronate"));
    }
    record(&fields)
}

/// The seed's AAA and BBB (commissioner "NHS North") plus CCC ("NHS South"), with 2024 records:
/// 26 at AAA, 13 at BBB, 3 at CCC (small enough to be suppressed on the public pages).
async fn add_data(app: &App) {
    let ccc = Service::parse(["CCC", "Gamma", "england", "South", "NHS South", "", "hospital", "", ""]).expect("svc");
    app.store.upsert_services("test", &[ccc]).await.expect("services");
    let mut records = Vec::new();
    for (service, n) in [("AAA", 26), ("BBB", 13), ("CCC", 3)] {
        records.extend((0..n).map(|i| varied(service, i)));
    }
    let batch = NewBatch { actor: "test".into(), file_name: None, mode: "test".into() };
    app.store.import_records(&batch, records.iter()).await.expect("import");
}

/// What `flsdb kpi --db … --year 2024 --as-of TODAY` computes: the engine over the store's records.
async fn engine_report(store: &Store) -> Report {
    let set = set_by_name("fls-db").expect("set");
    let services = store.services().await.expect("services");
    let caseloads = store.caseloads().await.expect("caseloads");
    let opt_outs = store.opt_outs().await.expect("opt-outs");
    let period = Period::calendar_year(YEAR).expect("period");
    let engine = Engine::new(Setup {
        set: &set,
        services: &services,
        caseloads: &caseloads,
        opt_outs: &opt_outs,
        period,
        as_of: TODAY,
        mode: DenominatorMode::All,
    })
    .expect("engine");
    let filter =
        RecordFilter { fracture_from: Some(period.from()), fracture_to: Some(period.to()), ..Default::default() };
    engine.compute(&store.records(&filter).await.expect("records"))
}

/// The opening tag of the element whose attribute `attr` is `value`.
fn tag_with<'a>(body: &'a str, attr: &str, value: &str) -> Option<&'a str> {
    let at = body.find(&format!("{attr}=\"{value}\""))?;
    let start = body[..at].rfind('<')?;
    let end = at + body[at..].find('>')?;
    Some(&body[start..=end])
}

/// The value of attribute `name` in an opening tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(tag[at..at + tag[at..].find('"')?].to_owned())
}

/// The text between the element with `id` and its closing `</figure>` / `</tr>` / `</section>`.
fn element<'a>(body: &'a str, attr_name: &str, value: &str, close: &str) -> &'a str {
    let at = body.find(&format!("{attr_name}=\"{value}\"")).unwrap_or_else(|| panic!("no {attr_name}={value}"));
    let end = at + body[at..].find(close).unwrap_or_else(|| panic!("no {close} after {value}"));
    &body[at..end]
}

fn shown_percent(e: &flsdb_kpi::Entry) -> String {
    match e.display_percent().as_str() {
        "-" => "–".into(),
        p => p.to_owned(),
    }
}

fn save_snapshot_or_compare(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() || !path.exists() {
        std::fs::create_dir_all(path.parent().expect("folder")).expect("snapshots folder");
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).expect("read snapshot");
    assert!(
        expected == actual,
        "{name} differs from the committed snapshot (UPDATE_SNAPSHOTS=1 to accept a deliberate change)"
    );
}

/// A chart on a page is a standalone SVG safe under the CSP: no script, style or external reference.
fn assert_safe_svg(svg: &str) {
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
    for bad in ["<script", "style=", "<style", "href=", "javascript:", "NaN", "inf\""] {
        assert!(!svg.contains(bad), "chart contains {bad}");
    }
}

fn svg_of(figure: &str) -> &str {
    let start = figure.find("<svg").expect("an inline svg");
    let end = figure.find("</svg>").expect("svg end") + 6;
    &figure[start..end]
}

async fn dashboards_by_role(app: &App) {
    add_data(app).await;
    // Columns: clin (AAA), lead (AAA), comm (AAA), admin, analyst, anonymous.
    const MATRIX: &[(&str, [u16; 6])] = &[
        ("/dashboard", [303, 303, 303, 303, 303, 303]),
        ("/dashboard/service?service=AAA&year=2024", [200, 200, 200, 200, 200, 303]),
        ("/dashboard/service?year=2024", [200, 200, 200, 200, 200, 303]),
        ("/dashboard/service?service=BBB&year=2024", [404, 404, 404, 200, 200, 303]),
        ("/dashboard/service?service=ZZZ", [404, 404, 404, 404, 404, 303]),
        ("/dashboard/service?year=1066", [400, 400, 400, 400, 400, 303]),
        ("/dashboard/commissioner", [403, 403, 200, 200, 200, 303]),
        ("/dashboard/commissioner?commissioner=NHS%20South", [403, 403, 200, 200, 200, 303]),
        ("/dashboard/national?year=2024", [403, 403, 403, 200, 200, 303]),
        ("/admin/feedback", [403, 403, 403, 200, 403, 303]),
        ("/public", [200, 200, 200, 200, 200, 200]),
        ("/public?year=2024&set=iof-ctf", [200, 200, 200, 200, 200, 200]),
        ("/public/about", [200, 200, 200, 200, 200, 200]),
        ("/public/feedback", [200, 200, 200, 200, 200, 200]),
    ];
    let mut clients = Vec::new();
    for (name, ..) in common::USERS {
        clients.push(app.login(name).await);
    }
    clients.push(app.client());
    for (path, expected) in MATRIX {
        for (c, want) in clients.iter_mut().zip(expected) {
            let r = c.get(path).await;
            assert_eq!(r.status, *want, "{path} as user #{}: {}", c.cookies.len(), &r.body[..r.body.len().min(300)]);
            if r.status == 200 {
                let csp = r.header("content-security-policy").expect("CSP");
                assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
                assert!(!r.body.contains("<script>") && !r.body.contains(" style="), "{path}: inline script or style");
            }
        }
    }
    // Each role lands on its own dashboard.
    let r = clients[0].get("/dashboard").await;
    assert_eq!(r.header("location"), Some("/dashboard/service"));
    let r = clients[2].get("/dashboard").await;
    assert_eq!(r.header("location"), Some("/dashboard/commissioner"));
    let r = clients[3].get("/dashboard").await;
    assert_eq!(r.header("location"), Some("/dashboard/national"));
    // An admin picking a commissioner sees its services only.
    let r = clients[3].get("/dashboard/commissioner?commissioner=NHS%20South&year=2024").await;
    assert!(r.body.contains("Gamma") && !r.body.contains("Alpha"), "NHS South is CCC only");
    assert_eq!(clients[3].get("/dashboard/commissioner?commissioner=Nobody").await.status, 404);
}

async fn service_dashboard_equals_engine(app: &App) {
    add_data(app).await;
    let report = engine_report(&app.store).await;
    let mut c = app.login("clin").await;
    let page = c.get("/dashboard/service?service=AAA&year=2024").await;
    assert_eq!(page.status, 200);
    let body = &page.body;
    let row = report.service("AAA").expect("AAA");
    assert!(body.contains(&format!("<span id=\"records\">{}</span>", common_count(&row.records))));
    let mut proportions = 0;
    for column in &report.columns {
        match column.kind {
            ColumnKind::Proportion | ColumnKind::Identification => {
                proportions += 1;
                let e = row.kpis.entry(&column.id).expect("entry");
                let tag = tag_with(body, "id", &format!("card-{}", column.id)).expect("a card per KPI");
                assert_eq!(attr(tag, "data-percent"), Some(shown_percent(e)), "{}", column.id);
                assert_eq!(attr(tag, "data-numerator"), Some(e.exact.numerator.to_string()), "{}", column.id);
                let card = element(body, "id", &format!("card-{}", column.id), "</section>");
                let national = report.overall.kpis.entry(&column.id).expect("national");
                assert!(
                    card.contains(&format!("<span class=\"national-value\">{}", shown_percent(national))),
                    "{}: national value",
                    column.id
                );
                let band = e.band_value().map_or("none", |b| b.as_str());
                assert!(attr(tag, "class").is_some_and(|c| c.contains(&format!("band-{band}"))), "{}", column.id);
                if let Some(flsdb_kpi::Shown::Value([lo, hi])) = e.ci95 {
                    let ci = format!("95% CI {}–{}%", flsdb_kpi::format_percent(lo), flsdb_kpi::format_percent(hi));
                    assert!(card.contains(&ci), "{}: {ci}", column.id);
                }
                if matches!(column.id.as_str(), "kpi8" | "kpi9" | "kpi10" | "kpi11") {
                    let due = format!(
                        "Not yet due: <span class=\"not-due\">{}</span>, died: <span class=\"died\">{}</span>",
                        common_count(&e.not_due),
                        common_count(&e.died)
                    );
                    assert!(card.contains(&due), "{}: {due}", column.id);
                }
            }
            ColumnKind::Completeness { .. } => {
                let Some(KpiValue::Completeness(k)) = row.kpis.get(&column.id) else { panic!("kpi1") };
                let (status, band) = match k.good {
                    Some(true) => ("good", "green"),
                    Some(false) => ("poor", "red"),
                    None => ("no records in the period", "none"),
                };
                let shown = format!("<span class=\"tag band-{band}\" id=\"kpi1-status\">{status}</span>");
                assert!(body.contains(&shown), "kpi1: {shown}");
                let poor: Vec<_> = k.missing_rate.iter().filter(|f| f.poor).collect();
                assert!(!poor.is_empty(), "the test data leaves fields empty");
                let table = element(body, "id", "poor-fields", "</table>");
                for f in &k.missing_rate {
                    let shown = table.contains(&format!("<td>{}</td>", f.field.replace('_', " ")));
                    assert_eq!(shown, f.poor, "{} listed only when poor", f.field);
                }
            }
            ColumnKind::Inputs { .. } => {}
        }
    }
    // One SPC chart per proportion KPI, each exactly what flsdb-charts draws for `flsdb spc`'s series.
    assert_eq!(body.matches("<figure class=\"chart\" id=\"spc-").count(), proportions);
    let services = app.store.services().await.expect("services");
    let (caseloads, opt_outs) = (app.store.caseloads().await.expect("c"), app.store.opt_outs().await.expect("o"));
    let set = set_by_name("fls-db").expect("set");
    let period = Period::calendar_year(YEAR).expect("period");
    let engine = Engine::new(Setup {
        set: &set,
        services: &services,
        caseloads: &caseloads,
        opt_outs: &opt_outs,
        period,
        as_of: TODAY,
        mode: DenominatorMode::All,
    })
    .expect("engine");
    let filter = RecordFilter {
        service: Some(flsdb_dataset::ServiceCode::parse("AAA").expect("code")),
        fracture_from: Some(period.from()),
        fracture_to: Some(period.to()),
    };
    let records = app.store.records(&filter).await.expect("records");
    for kpi in ["kpi4", "kpi5", "kpi9"] {
        let points = monthly_series(&engine, &records, "AAA", kpi).expect("series");
        let (kind, chart) = chart_series(&points, None, None).expect("chart");
        let labels: Vec<String> =
            points.iter().map(|p| format!("{}-{:02}", p.from.year(), u8::from(p.from.month()))).collect();
        let name = report.columns.iter().find(|c| c.id == kpi).expect("column").name.clone();
        let options = ChartOptions {
            title: format!("Alpha: {kpi}: {name}"),
            y_label: "Percent".into(),
            x_label: "Month of fracture".into(),
            percent: true,
            scale: if kind == ChartKind::P { 100.0 } else { 1.0 },
            width: 640,
            height: 340,
            ..ChartOptions::default()
        };
        let expected = match &chart {
            ServiceChart::Spc(c) => flsdb_charts::spc_svg(c, &labels, &options),
            ServiceChart::Run(c) => flsdb_charts::run_chart_svg(c, &labels, &options),
        };
        let figure = element(body, "id", &format!("spc-{kpi}"), "</figure>");
        let svg = svg_of(figure);
        assert_safe_svg(svg);
        assert_eq!(svg, expected.trim_end(), "{kpi}: the page's chart is flsdb-charts' chart of the engine's series");
        // Every month with a value is one point with a hover text.
        let with_data = points.iter().filter(|p| p.percent.is_some()).count();
        assert_eq!(svg.matches("<circle").count(), with_data, "{kpi}");
        if kpi == "kpi4" {
            save_snapshot_or_compare("service-AAA-2024-kpi4-spc.svg", svg);
        }
    }
}

fn common_count(s: &flsdb_kpi::Shown<u64>) -> String {
    match s {
        flsdb_kpi::Shown::Value(n) => n.to_string(),
        flsdb_kpi::Shown::Suppressed => "*".into(),
    }
}

/// The cells of a benchmark table row: `(kpi, percent text)`.
fn row_cells(row: &str) -> Vec<(String, String)> {
    row.split("data-kpi=\"")
        .skip(1)
        .map(|part| {
            let kpi = part[..part.find('"').expect("quote")].to_owned();
            let at = part.find("<span class=\"pct\">").expect("pct") + 18;
            (kpi, part[at..at + part[at..].find('<').expect("end")].to_owned())
        })
        .collect()
}

fn table_row<'a>(body: &'a str, code: &str) -> &'a str {
    element(body, "data-code", code, "</tr>")
}

async fn national_dashboard_equals_engine(app: &App) {
    add_data(app).await;
    let report = engine_report(&app.store).await;
    let mut c = app.login("analyst").await;
    let page = c.get("/dashboard/national?year=2024").await;
    assert_eq!(page.status, 200);
    let body = &page.body;
    // The national row first, then every service, each cell the engine's figure.
    let first = body.find("<tr class=\"row-").expect("rows");
    assert!(body[first..].starts_with("<tr class=\"row-national\""), "national row first");
    let check = |row: &str, kpis: &flsdb_kpi::Kpis| {
        for (kpi, text) in row_cells(row) {
            let expected = match kpis.get(&kpi) {
                Some(KpiValue::Proportion(e)) => shown_percent(e),
                Some(KpiValue::Completeness(k)) => match k.good {
                    Some(true) => "good".into(),
                    Some(false) => "poor".into(),
                    None => "–".into(),
                },
                _ => "–".into(),
            };
            assert_eq!(text, expected, "{kpi}");
        }
    };
    check(table_row(body, ""), &report.overall.kpis);
    for s in &report.services {
        check(table_row(body, &s.code), &s.kpis);
    }
    // Sorting on a KPI, highest first.
    let sorted = c.get("/dashboard/national?year=2024&set=fls-db&sort=kpi4&dir=desc").await;
    let order: Vec<&str> =
        sorted.body.split("<tr class=\"row-service\" data-code=\"").skip(1).map(|p| &p[..3]).collect();
    let mut expected: Vec<(f64, &str)> = report
        .services
        .iter()
        .map(|s| {
            (
                s.kpis.entry("kpi4").and_then(|e| e.percent.and_then(|p| p.value().copied())).unwrap_or(-1.0),
                s.code.as_str(),
            )
        })
        .collect();
    expected.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    let expected: Vec<&str> = expected.iter().map(|(_, c)| *c).collect();
    assert_eq!(order, expected);
    assert!(sorted.body.contains("aria-sort=\"descending\""));
    // A funnel plot per proportion KPI: a point (circle with the service in its hover text) per
    // service with patients, and the over-dispersion note.
    let funnel = element(body, "id", "funnel-kpi4", "</figure>");
    let svg = svg_of(funnel);
    assert_safe_svg(svg);
    let plotted: Vec<_> = report
        .services
        .iter()
        .filter(|s| s.kpis.entry("kpi4").is_some_and(|e| e.exact.denominator.is_some_and(|d| d.as_f64() > 0.0)))
        .collect();
    assert_eq!(svg.matches("<circle").count(), plotted.len());
    for s in &plotted {
        assert!(svg.contains(&format!("<title>{} ({})", s.name, s.code)), "hover text of {}", s.code);
    }
    assert!(svg.contains("95%") && svg.contains("99.8%"), "both limits named");
    assert!(funnel.contains("class=\"od-note\">Over-dispersion"), "over-dispersion note");
    save_snapshot_or_compare("national-2024-kpi4-funnel.svg", svg);
    assert!(!body.contains("/records/"), "no patient-level links on a dashboard");
}

async fn commissioner_sees_only_its_services(app: &App) {
    add_data(app).await;
    let report = engine_report(&app.store).await;
    let mut c = app.login("comm").await;
    let page = c.get("/dashboard/commissioner?year=2024").await;
    assert_eq!(page.status, 200);
    let body = &page.body;
    assert!(body.contains("data-code=\"AAA\""));
    for other in ["BBB", "Beta", "CCC", "Gamma"] {
        assert!(!body.contains(other), "a commissioner of AAA sees nothing of {other}");
    }
    // No patient-level data: no record links, local ids or dates of birth.
    for patient in ["/records/", "aaa-1", "r1", "1948-05-06", "1950-03-04"] {
        assert!(!body.contains(patient), "{patient} on the commissioner dashboard");
    }
    // The combined row of its services (AAA only here) equals the service's own figures, and the
    // service row the engine's.
    let combined = element(body, "class", "row-combined", "</tr>");
    let aaa = report.service("AAA").expect("AAA");
    for (kpi, text) in row_cells(combined) {
        if let Some(e) = aaa.kpis.entry(&kpi) {
            assert_eq!(text, shown_percent(e), "combined {kpi}");
        }
    }
    for (kpi, text) in row_cells(table_row(body, "AAA")) {
        if let Some(e) = aaa.kpis.entry(&kpi) {
            assert_eq!(text, shown_percent(e), "AAA {kpi}");
        }
    }
    // Funnel plots carry only its services, against the national limits.
    let funnel = svg_of(element(body, "id", "funnel-kpi4", "</figure>"));
    assert_safe_svg(funnel);
    assert_eq!(funnel.matches("<circle").count(), 1);
    assert!(funnel.contains("Alpha (AAA)"));
    // Its own service's dashboard: yes; another's: not found; patient pages: forbidden.
    assert_eq!(c.get("/dashboard/service?service=AAA&year=2024").await.status, 200);
    assert_eq!(c.get("/dashboard/service?service=BBB&year=2024").await.status, 404);
    assert_eq!(c.get("/records/AAA/r1").await.status, 403);
}

/// Every number in a string.
fn numbers(text: &str) -> Vec<u64> {
    text.split(|c: char| !c.is_ascii_digit()).filter(|t| !t.is_empty()).filter_map(|t| t.parse().ok()).collect()
}

async fn public_pages_are_suppressed(app: &App) {
    add_data(app).await;
    let exact = engine_report(&app.store).await;
    let published = Disclosure::default().apply(&exact);
    let mut anon = app.client();
    let page = anon.get("/public?year=2024").await;
    assert_eq!(page.status, 200);
    let body = &page.body;
    assert!(body.contains("id=\"disclosure\""));
    // Below national level no published count is between 1 and 7, and others are multiples of 5.
    for s in &published.services {
        let row = table_row(body, &s.code);
        let records = &row[row.find("<span class=\"count\">").expect("count") + 20..];
        let records = &records[..records.find('<').expect("end")];
        assert_eq!(records, common_count(&s.records), "{} records", s.code);
        let counts: Vec<&str> =
            row.split("<span class=\"sub\">").skip(1).map(|p| &p[..p.find('<').expect("end")]).collect();
        assert!(!counts.is_empty());
        for text in counts.iter().copied().chain([records]) {
            for n in numbers(text).into_iter().filter(|_| !text.contains("poor fields")) {
                assert!(!(1..=7).contains(&n), "{}: published count {n} in {text:?}", s.code);
                assert_eq!(n % 5, 0, "{}: {n} is not rounded to 5 in {text:?}", s.code);
            }
        }
        for (kpi, text) in row_cells(row) {
            if let Some(e) = s.kpis.entry(&kpi) {
                assert_eq!(text, shown_percent(e), "{} {kpi}", s.code);
            }
        }
    }
    // CCC's 3 records are hidden; its percentages too.
    let ccc = table_row(body, "CCC");
    assert!(ccc.contains("<span class=\"count\">*</span>"), "{ccc}");
    assert!(
        row_cells(ccc).iter().filter(|(k, _)| k != "kpi1" && k != "kpi2").all(|(_, t)| t == "*" || t == "–"),
        "{ccc}"
    );
    // The national row is exact, as the rule allows.
    let national = table_row(body, "");
    assert!(national.contains(&format!("<span class=\"count\">{}</span>", common_count(&exact.overall.records))));
    // The other public pages.
    let about = anon.get("/public/about").await;
    assert!(about.body.contains("fracture liaison service") && about.body.contains("fragility fracture"));
    assert!(!about.body.contains("Log out"), "public pages need no login");
}

async fn feedback_is_stored_and_read_by_admins(app: &App) {
    let mut anon = app.client();
    let form = anon.get("/public/feedback?page=benchmarks%202024").await;
    assert_eq!(form.input("page").as_deref(), Some("benchmarks 2024"));
    let r = anon
        .post_form(
            "/public/feedback",
            &[
                ("page", "benchmarks 2024"),
                ("helpful", "yes"),
                ("message", "Clear <b>tables</b>, thanks"),
                ("contact", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/public/feedback?sent=1"));
    assert!(anon.get("/public/feedback?sent=1").await.body.contains("id=\"thanks\""));
    // An empty message is refused with the input kept; a robot's (trap filled) is dropped.
    let r = anon.post_form("/public/feedback", &[("page", "about"), ("helpful", "no"), ("message", "  ")]).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("id=\"error-summary\"") && r.body.contains("value=\"no\" checked"));
    let r = anon.post_form("/public/feedback", &[("message", "buy now"), ("website", "http://spam")]).await;
    assert_eq!(r.status, 303);
    // A POST from another site is refused.
    let r = anon
        .send(
            "POST",
            "/public/feedback",
            Some("application/x-www-form-urlencoded"),
            b"message=hello".to_vec(),
            &[("Origin", "http://evil.example")],
        )
        .await;
    assert_eq!(r.status, 403);
    let stored = app.store.feedback(10).await.expect("feedback");
    assert_eq!(stored.len(), 1, "only the real message is stored");
    assert_eq!((stored[0].page.as_str(), stored[0].helpful), ("benchmarks 2024", Some(true)));
    let mut admin = app.login("admin").await;
    let page = admin.get("/admin/feedback").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Clear &#60;b&#62;tables&#60;/b&#62;, thanks"), "shown, escaped: {}", page.body);
    assert!(!page.body.contains("<b>tables"), "never as markup");
    let mut analyst = app.login("analyst").await;
    assert_eq!(analyst.get("/admin/feedback").await.status, 403);
}

async fn dashboard_is_fresh_after_a_write(app: &App) {
    add_data(app).await;
    let mut c: Client = app.login("lead").await;
    let path = "/dashboard/service?service=AAA&year=2024";
    let card = |body: &str| {
        let tag = tag_with(body, "id", "card-kpi4").expect("card").to_owned();
        (attr(&tag, "data-numerator"), attr(&tag, "data-denominator"))
    };
    let before = card(&c.get(path).await.body);
    // Twice: the second answer comes from the cache and is the same.
    assert_eq!(card(&c.get(path).await.body), before);
    let national_before = c.get("/public?year=2024").await.body;
    // A write from outside the web application (as `flsdb import` does): two assessed records.
    let batch = NewBatch { actor: "test".into(), file_name: None, mode: "test".into() };
    let new = [
        record(&[
            ("service_code", "AAA"),
            ("local_id", "fresh-1"),
            ("date_of_birth", "1950-01-01"),
            ("fracture_date", "2024-03-03"),
            ("fracture_site", "wrist"),
            ("fls_assessment_date", "2024-03-20"),
        ]),
        record(&[
            ("service_code", "AAA"),
            ("local_id", "fresh-2"),
            ("date_of_birth", "1950-01-01"),
            ("fracture_date", "2024-04-03"),
            ("fracture_site", "wrist"),
            ("fls_assessment_date", "2024-04-20"),
        ]),
    ];
    app.store.import_records(&batch, new.iter()).await.expect("import");
    let after = card(&c.get(path).await.body);
    let report = engine_report(&app.store).await;
    let e = report.service("AAA").expect("AAA").kpis.entry("kpi4").expect("kpi4");
    let denominator = match e.exact.denominator {
        Some(flsdb_kpi::Number::Count(n)) => n.to_string(),
        other => panic!("kpi4 has a count denominator: {other:?}"),
    };
    assert_eq!(after, (Some(e.exact.numerator.to_string()), Some(denominator)), "the engine's figures");
    assert_ne!(after, before, "the dashboard shows the new records at once");
    let parse = |v: &Option<String>| v.as_deref().and_then(|t| t.parse::<u64>().ok()).expect("number");
    assert_eq!(parse(&after.0), parse(&before.0) + 2);
    assert_eq!(parse(&after.1), parse(&before.1) + 2);
    // The public page is recomputed too (national records +2).
    let national_after = c.get("/public?year=2024").await.body;
    let records = |b: &str| numbers(table_row(b, "")).first().copied().expect("records");
    assert_eq!(records(&national_after), records(&national_before) + 2);
}
