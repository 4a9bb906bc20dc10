//! Snapshot and structural tests of the SVG charts.

mod support;

use flsdb_charts::{
    ChartOptions, CiRow, FunnelPoint, NO_DATA, caterpillar_svg, escape, funnel_svg, funnel_svg_adjusted, run_chart_svg,
    spc_svg,
};
use flsdb_stats::overdispersion::{Rule, assess_services};
use flsdb_stats::spc::{self, PointType, RunChartOptions, SpcOptions};
use support::*;

/// Every chart the snapshots cover, by name.
fn gallery() -> Vec<(&'static str, String)> {
    let services = services();
    let theta = overall(&services);
    let counts: Vec<(u64, u64)> = services.iter().map(|p| (p.numerator, p.denominator)).collect();
    let assessment = assess_services(&counts, theta, 10).expect("assessment");
    let tau2 = match assessment.overdispersion.rule {
        Rule::Additive => assessment.overdispersion.tau2,
        Rule::None => None,
    };
    let p_opts = ChartOptions {
        title: "p-chart: Montgomery Table 7.4".to_owned(),
        y_label: "Nonconforming".to_owned(),
        percent: true,
        scale: 100.0,
        ..ChartOptions::default()
    };
    let run_opts = ChartOptions {
        title: "Run chart (contract example 18)".to_owned(),
        y_label: "Patients".to_owned(),
        width: 600,
        height: 320,
        ..ChartOptions::default()
    };
    let funnel_opts = ChartOptions {
        title: "KPI 4: DXA within 90 days, 2024 — services against the overall proportion".to_owned(),
        y_label: "Percent".to_owned(),
        x_label: "Patients in the denominator".to_owned(),
        ..ChartOptions::default()
    };
    let cat_opts = ChartOptions {
        title: "KPI 4 by service, with 95% confidence intervals".to_owned(),
        y_label: "Percent of patients".to_owned(),
        percent: true,
        height: 300,
        ..ChartOptions::default()
    };
    vec![
        ("xmr_shift", spc_svg(&xmr_chart(), &months(2024, 24), &xmr_options())),
        ("p_chart_montgomery", spc_svg(&montgomery_chart(), &months(2023, 25), &p_opts)),
        ("run_chart", run_chart_svg(&run_example(), &months(2024, 14), &run_opts)),
        ("funnel", funnel_svg(&services, theta, &funnel_opts)),
        ("funnel_adjusted", funnel_svg_adjusted(&services, theta, tau2, &funnel_opts)),
        ("caterpillar", caterpillar_svg(&ci_rows(&services), Some(theta * 100.0), &cat_opts)),
        ("no_data", spc_svg(&spc::xmr(&[], &SpcOptions::default()).expect("empty"), &[], &xmr_options())),
    ]
}

#[test]
fn snapshots() {
    let failures: Vec<String> = gallery().iter().filter_map(|(name, svg)| check_snapshot(name, svg).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn output_is_deterministic() {
    assert_eq!(gallery(), gallery());
}

/// Checks shared by every chart: well-formed standalone SVG with accessibility elements, no
/// external references, scripts or inline CSS, and no non-finite numbers.
fn assert_valid(name: &str, svg: &str) -> Vec<String> {
    let elements = check_xml(svg).unwrap_or_else(|e| panic!("{name}: not well-formed: {e}"));
    assert_eq!(elements.first().map(String::as_str), Some("svg"), "{name}");
    assert_eq!(&elements[1..3], ["title", "desc"], "{name}: <title> and <desc> come first");
    let root = &svg[..svg.find('>').expect("root tag")];
    for attr in [
        "xmlns=\"http://www.w3.org/2000/svg\"",
        "version=\"1.1\"",
        "viewBox=\"0 0 ",
        "width=\"",
        "height=\"",
        "role=\"img\"",
        "font-family=\"DejaVu Sans, Arial, sans-serif\"",
    ] {
        assert!(root.contains(attr), "{name}: root lacks {attr}");
    }
    let lower = svg.to_lowercase();
    for banned in [
        "nan",
        "inf\"",
        "infinity",
        "<script",
        "style=",
        "<style",
        "href",
        "url(",
        "@import",
        "<image",
        "<foreignobject",
        " id=",
    ] {
        assert!(!lower.contains(banned), "{name}: contains {banned:?}");
    }
    // Every number in an attribute has at most two decimals.
    for value in svg.split('"').skip(1).step_by(2) {
        for token in value.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-')) {
            if let Some((_, decimals)) = token.split_once('.') {
                assert!(decimals.len() <= 2, "{name}: {token} has too many decimals");
            }
        }
    }
    elements
}

fn circles(svg: &str) -> usize {
    svg.matches("<circle ").count()
}

#[test]
fn every_chart_is_valid_svg() {
    for (name, svg) in gallery() {
        assert_valid(name, &svg);
    }
}

#[test]
fn one_circle_per_point() {
    let chart = xmr_chart();
    let present = chart.points.iter().filter(|p| p.value.is_some()).count();
    assert_eq!(present, 23);
    assert_eq!(circles(&spc_svg(&chart, &months(2024, 24), &xmr_options())), present);
    assert_eq!(circles(&spc_svg(&montgomery_chart(), &[], &ChartOptions::default())), 25);
    assert_eq!(circles(&run_chart_svg(&run_example(), &[], &ChartOptions::default())), 14);
    let services = services();
    assert_eq!(circles(&funnel_svg(&services, overall(&services), &ChartOptions::default())), 30);
    let rows = ci_rows(&services);
    assert_eq!(circles(&caterpillar_svg(&rows, None, &ChartOptions::default())), 30); // one row has no value
    // Each circle carries a hover title.
    let svg = funnel_svg(&services, overall(&services), &ChartOptions::default());
    assert_eq!(svg.matches("<title>").count(), 31);
    assert!(svg.contains("<title>Service 08: "));
}

#[test]
fn hover_titles_and_labels_are_escaped() {
    let services = services();
    let svg = funnel_svg(&services, overall(&services), &ChartOptions::new("A & B <test>", "y \"quoted\""));
    assert_valid("funnel", &svg);
    assert!(svg.contains("<title>St Mary&apos;s &amp; &lt;Royal&gt; &quot;Bone&quot; Unit: "));
    assert!(svg.contains("<title>A &amp; B &lt;test&gt;</title>"));
    assert!(!svg.contains("<Royal>") && !svg.contains("<test>"));
    let rows = ci_rows(&services);
    let svg = caterpillar_svg(&rows, Some(60.0), &ChartOptions::default());
    assert_valid("caterpillar", &svg);
    assert!(svg.contains("St Mary&apos;s &amp; &lt;Royal&gt;"));
    // Labels of SPC periods too.
    let labels: Vec<String> = (0..24).map(|i| format!("<m{i}> & 'q'")).collect();
    let svg = spc_svg(&xmr_chart(), &labels, &xmr_options());
    assert_valid("xmr", &svg);
    assert!(svg.contains("&lt;m3&gt; &amp; &apos;q&apos;"));
    assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
}

#[test]
fn mdc_colours_and_legend() {
    let svg = spc_svg(&xmr_chart(), &months(2024, 24), &xmr_options());
    // The shift after the baseline is special cause improvement (blue); common cause is grey.
    assert!(svg.contains(r##"fill="#289DE0""##) && svg.contains(r##"fill="#7B7D7D""##));
    assert!(svg.contains("Variation: special cause improvement (high)"));
    assert!(svg.contains("Assurance: inconsistent"));
    assert!(svg.contains("Mean and limits from the first 12 points"));
    assert!(svg.contains(r#"stroke-dasharray="6 4""#), "dashed process limits");
    assert!(svg.contains(r##"stroke="#DE1B1B""##), "target line");
    assert!(svg.contains("2024-09") && svg.contains("2025-12"));
    // p-chart: lower is better, so sample 11 (20/110, above the UCL) is a concern (orange), and
    // the limits are stepped: a path with vertical steps rather than one line.
    let chart = montgomery_chart();
    assert_eq!(chart.points[10].point_type, Some(PointType::SpecialCauseConcern));
    let svg = spc_svg(&chart, &months(2023, 25), &ChartOptions { percent: true, scale: 100.0, ..Default::default() });
    assert!(svg.contains(r##"fill="#FAB428""##));
    assert!(svg.contains("<title>2023-11: 18.2% — Above UCL (limits 1.1% to 18.0%)</title>"), "per-point limits");
    assert!(svg.contains("<title>2023-02: 10.0% — Common Cause (limits 0.0% to 19.4%)</title>"), "clamped LCL");
    let stepped = svg.lines().filter(|l| l.starts_with("<path") && l.contains("6 4")).map(|l| l.matches('L').count());
    assert!(stepped.clone().count() == 2 && stepped.clone().all(|segments| segments > 10), "stepped limits");
}

#[test]
fn missing_points_leave_gaps() {
    let svg = spc_svg(&xmr_chart(), &months(2024, 24), &xmr_options());
    // The value line is one path with two runs (before and after the missing month 9).
    let line = svg.lines().find(|l| l.contains(r##"stroke="#A6A6A6" stroke-width="2""##)).expect("value line");
    assert_eq!(line.matches('M').count(), 2, "{line}");
    assert!(!svg.contains("<title>2024-09:"));
    assert!(svg.contains("1 period has no data"));
}

#[test]
fn funnel_limits_and_statuses() {
    let services = services();
    let theta = overall(&services);
    let svg = funnel_svg(&services, theta, &ChartOptions::default());
    assert_valid("funnel", &svg);
    // θ line, 95% dashed and 99.8% solid limits, both sides: four limit paths with many points.
    let limit_paths: Vec<&str> = svg.lines().filter(|l| l.starts_with("<path") && l.contains("#425563")).collect();
    assert_eq!(limit_paths.len(), 4);
    assert!(limit_paths.iter().all(|p| p.matches('L').count() > 50), "smooth curves");
    assert!(svg.contains("above the 99.8% limit (alarm)") && svg.contains("below the 99.8% limit (alarm)"));
    assert!(svg.contains("too few to assess"));
    assert!(svg.contains(r#"r="7""#), "highlighted service drawn larger");
    assert!(svg.contains(">Service 08</text>"), "highlighted service labelled");
    // Hover text: label, k/n and percent.
    let p = &services[0];
    let expected = format!("<title>Service 01: {}/{} = ", p.numerator, p.denominator);
    assert!(svg.contains(&expected));
    // Adjusted limits add four dotted paths and the adjusted status to every hover text.
    let adjusted = funnel_svg_adjusted(&services, theta, Some(0.01), &ChartOptions::default());
    assert_valid("funnel_adjusted", &adjusted);
    assert_eq!(adjusted.lines().filter(|l| l.starts_with("<path") && l.contains("#330072")).count(), 4);
    assert_eq!(adjusted.matches("; adjusted for over-dispersion: ").count(), 30);
    // No τ² (rule `none`): the plain funnel.
    assert_eq!(funnel_svg_adjusted(&services, theta, None, &ChartOptions::default()), svg);
}

#[test]
fn caterpillar_bands_and_national_line() {
    let services = services();
    let rows = ci_rows(&services);
    let svg = caterpillar_svg(&rows, Some(62.5), &ChartOptions { percent: true, ..Default::default() });
    for c in ["#DA291C", "#FFB81C", "#009639"] {
        assert!(svg.contains(&format!(r##"fill="{c}" stroke="#231F20""##)), "{c}");
    }
    assert!(svg.contains("National 62.5%"));
    assert!(svg.contains("no value"));
    assert!(svg.contains("(95% CI "));
    // 31 rows do not fit in 400 px at 14 px each with the margins: the chart grows.
    let tall = caterpillar_svg(&rows, None, &ChartOptions { height: 200, ..Default::default() });
    let height: f64 =
        tall.split("height=\"").nth(1).and_then(|s| s.split('"').next()).and_then(|s| s.parse().ok()).expect("height");
    assert!(height >= 31.0 * 14.0, "{height}");
}

#[test]
fn empty_input_gives_a_message() {
    let opts = ChartOptions::new("Nothing yet", "Percent");
    let empty_xmr = spc::xmr(&[], &SpcOptions::default()).expect("empty xmr");
    let all_missing = spc::xmr(&[None, None, None], &SpcOptions::default()).expect("missing xmr");
    let empty_run = spc::run_chart(&[], &RunChartOptions::default()).expect("empty run");
    let no_denominators = [FunnelPoint { label: "A".to_owned(), numerator: 0, denominator: 0, highlight: true }];
    let no_values = [CiRow { label: "A".to_owned(), percent: None, lower: None, upper: None, band: None }];
    let charts = [
        spc_svg(&empty_xmr, &[], &opts),
        spc_svg(&all_missing, &months(2024, 3), &opts),
        run_chart_svg(&empty_run, &[], &opts),
        funnel_svg(&[], 0.5, &opts),
        funnel_svg(&no_denominators, 0.5, &opts),
        caterpillar_svg(&[], Some(50.0), &opts),
        caterpillar_svg(&no_values, None, &opts),
    ];
    for (i, svg) in charts.iter().enumerate() {
        assert_valid(&format!("empty {i}"), svg);
        assert!(svg.contains(NO_DATA), "{i}");
        assert_eq!(circles(svg), 0, "{i}");
        assert!(svg.contains("<title>Nothing yet</title>"), "{i}");
    }
}

#[test]
fn never_writes_non_finite_numbers() {
    let opts = ChartOptions { percent: true, ..Default::default() };
    let odd = ChartOptions { scale: f64::NAN, width: 0, height: 0, target: Some(f64::INFINITY), ..Default::default() };
    // Huge, tiny and constant series; a single point; limits that overflow.
    let series: Vec<Vec<Option<f64>>> = vec![
        vec![Some(1e300), Some(-1e300), Some(1e300), Some(-1e300)],
        vec![Some(1e-300), Some(2e-300), Some(1e-300)],
        vec![Some(5.0); 10],
        vec![Some(42.0)],
        vec![Some(f64::MAX), Some(f64::MAX)],
        vec![None, Some(0.0), None, Some(100.0)],
    ];
    for (i, v) in series.iter().enumerate() {
        let chart = spc::xmr(v, &SpcOptions { target: Some(3.0), ..Default::default() }).expect("xmr");
        for o in [&opts, &odd, &ChartOptions::default()] {
            assert_valid(&format!("xmr {i}"), &spc_svg(&chart, &[], o));
        }
        let run = spc::run_chart(v, &RunChartOptions::default()).expect("run");
        assert_valid(&format!("run {i}"), &run_chart_svg(&run, &[], &odd));
    }
    // Funnel with degenerate or invalid θ and τ².
    let services = services();
    for (theta, tau2) in
        [(0.0, None), (1.0, Some(0.1)), (f64::NAN, Some(0.1)), (0.5, Some(f64::NAN)), (0.5, Some(-1.0)), (2.0, None)]
    {
        let svg = funnel_svg_adjusted(&services, theta, tau2, &odd);
        assert_valid(&format!("funnel θ={theta}"), &svg);
        assert_eq!(circles(&svg), 30);
    }
    let single = [FunnelPoint { label: "Only".to_owned(), numerator: 1, denominator: 1, highlight: false }];
    assert_valid("funnel single", &funnel_svg(&single, 0.8, &opts));
    let bad_k = [FunnelPoint { label: "Bad".to_owned(), numerator: 5, denominator: 2, highlight: false }];
    assert!(funnel_svg(&bad_k, 0.5, &opts).contains(NO_DATA));
    // Caterpillar with odd values.
    let rows = [
        CiRow {
            label: "Inf".to_owned(),
            percent: Some(f64::INFINITY),
            lower: Some(f64::NAN),
            upper: None,
            band: Some("purple"),
        },
        CiRow {
            label: "Fine".to_owned(),
            percent: Some(55.0),
            lower: Some(-5.0),
            upper: Some(150.0),
            band: Some("GREEN"),
        },
    ];
    let svg = caterpillar_svg(&rows, Some(f64::NAN), &opts);
    assert_valid("caterpillar odd", &svg);
    assert_eq!(circles(&svg), 1);
}

#[test]
fn labels_are_thinned_or_rotated_without_overlap() {
    // 60 monthly points in 480 px: labels rotate and only every few are drawn.
    let values: Vec<Option<f64>> = (0..60).map(|i| Some(50.0 + f64::from(i % 7))).collect();
    let chart = spc::xmr(&values, &SpcOptions::default()).expect("xmr");
    let svg = spc_svg(&chart, &months(2020, 60), &ChartOptions { width: 480, ..Default::default() });
    assert_valid("long", &svg);
    let rotated = svg.matches("rotate(-45").count();
    assert!(rotated > 5 && rotated < 60, "{rotated}");
    // Few points: horizontal labels.
    let short = spc_svg(&chart, &months(2020, 60), &ChartOptions { width: 4000, ..Default::default() });
    assert_eq!(short.matches("rotate(-45").count(), 0);
}

#[test]
fn xml_checker_rejects_malformed_documents() {
    assert!(check_xml("<svg><title>a &amp; b</title><g/></svg>").is_ok());
    for bad in [
        "<svg><g></svg>",
        "<svg a=\"1\" a=\"2\"/>",
        "<svg>a & b</svg>",
        "<svg a=b/>",
        "<svg/><svg/>",
        "<svg a=\"x<y\"/>",
        "<svg><!-- a -- b --></svg>",
        "<svg>&nbsp;</svg>",
        "<svg>",
        "text<svg/>",
    ] {
        assert!(check_xml(bad).is_err(), "{bad}");
    }
}
