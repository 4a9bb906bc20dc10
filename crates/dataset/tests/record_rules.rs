//! Every rule of `dataset.md` on whole rows, as the importer and the web form see them.

use flsdb_dataset::{Cells, Field, Problem, Rule, Severity, Validation, parse_record};
use time::macros::date;

const RULES: Validation = Validation { today: date!(2024 - 06 - 30), allow_test_nhs_numbers: true };

/// A valid row with only the required fields, then `changes` applied by field name.
fn row(changes: &[(&str, &'static str)]) -> Cells<'static> {
    let mut cells: Cells<'static> = [""; Field::COUNT];
    for (name, value) in [
        ("service_code", "bnt"),
        ("local_id", "A-1"),
        ("date_of_birth", "1950-05-05"),
        ("fracture_date", "2020-03-10"),
        ("fracture_site", "wrist"),
    ]
    .iter()
    .chain(changes)
    {
        let field = Field::from_header(name).unwrap_or_else(|| panic!("no field {name}"));
        cells[field.index()] = value;
    }
    cells
}

fn problems(changes: &[(&str, &'static str)]) -> Vec<Problem> {
    match parse_record(&row(changes), RULES) {
        Ok(valid) => valid.warnings,
        Err(problems) => problems,
    }
}

/// The (field, rule) pairs a row breaks, in report order.
fn broken(changes: &[(&str, &'static str)]) -> Vec<(&'static str, Rule)> {
    problems(changes).iter().filter(|p| p.severity.rejects()).map(|p| (p.field.name(), p.rule)).collect()
}

#[test]
fn minimal_row_is_valid_and_normalised() {
    let valid = parse_record(&row(&[("sex", "Female"), ("nhs_number", "943 476 5919")]), RULES).expect("valid");
    assert!(valid.warnings.is_empty());
    assert_eq!(valid.record.service_code.as_str(), "BNT");
    assert_eq!(valid.record.cell(Field::Sex), "female");
    assert_eq!(valid.record.cell(Field::NhsNumber), "9434765919");
}

#[test]
fn required_fields() {
    for name in ["service_code", "local_id", "date_of_birth", "fracture_date", "fracture_site"] {
        let got = broken(&[(name, "  ")]);
        assert!(got.contains(&(name, Rule::Required)), "{name}: {got:?}");
    }
}

#[test]
fn every_problem_of_a_row_is_reported() {
    let got = broken(&[("sex", "f"), ("height_cm", "99"), ("dxa", "maybe"), ("fls_contact_date", "2019-02-29")]);
    assert_eq!(
        got,
        [
            ("sex", Rule::Code),
            ("fls_contact_date", Rule::ImpossibleDate),
            ("height_cm", Rule::Range),
            ("dxa", Rule::Code)
        ]
    );
}

#[test]
fn date_order_message_is_plain_english() {
    let p = problems(&[("fracture_date", "2019-03-04"), ("fls_assessment_date", "2019-03-01")]);
    assert_eq!(p[0].message, "fls_assessment_date 2019-03-01 is before fracture_date 2019-03-04");
    assert_eq!(p[0].value, "2019-03-01");
    assert_eq!(
        broken(&[("fls_contact_date", "2020-03-12"), ("fls_assessment_date", "2020-03-11")]),
        [("fls_assessment_date", Rule::DateOrder)]
    );
    assert!(broken(&[("fls_contact_date", "2020-03-10"), ("fls_assessment_date", "2020-03-10")]).is_empty());
    assert_eq!(broken(&[("fls_contact_date", "2020-03-09")]), [("fls_contact_date", Rule::DateOrder)]);
}

#[test]
fn eligibility_and_age() {
    let severity =
        |changes: &[(&str, &'static str)]| problems(changes).iter().map(|p| (p.rule, p.severity)).collect::<Vec<_>>();
    // 50 on the day of the fracture is eligible; the day before is not.
    assert!(broken(&[("date_of_birth", "1970-03-10")]).is_empty());
    assert_eq!(severity(&[("date_of_birth", "1970-03-11")]), [(Rule::UnderFifty, Severity::Ineligible)]);
    assert_eq!(severity(&[("date_of_birth", "2020-03-11")]), [(Rule::BornAfterFracture, Severity::Ineligible)]);
    // Born in the future: invalid, not merely ineligible.
    assert_eq!(severity(&[("date_of_birth", "2024-07-01")]), [(Rule::Future, Severity::Invalid)]);
    // 115 is the oldest valid age.
    assert!(broken(&[("date_of_birth", "1904-03-11")]).is_empty());
    assert_eq!(broken(&[("date_of_birth", "1904-03-10")]), [("date_of_birth", Rule::AgeOver115)]);
    assert_eq!(
        severity(&[("fracture_date", "2015-12-31"), ("date_of_birth", "1940-01-01")]),
        [(Rule::FractureBefore2016, Severity::Ineligible)]
    );
    assert!(broken(&[("fracture_date", "2016-01-01"), ("date_of_birth", "1940-01-01")]).is_empty());
    assert_eq!(broken(&[("fracture_date", "2024-07-01")]), [("fracture_date", Rule::Future)]);
    assert!(broken(&[("fracture_date", "2024-06-30")]).is_empty(), "today is not the future");
    // A 29 February birthday is 1 March in common years.
    assert_eq!(
        severity(&[("date_of_birth", "1972-02-29"), ("fracture_date", "2022-02-28")]),
        [(Rule::UnderFifty, Severity::Ineligible)]
    );
    assert!(broken(&[("date_of_birth", "1972-02-29"), ("fracture_date", "2022-03-01")]).is_empty());
}

#[test]
fn nhs_number_rules() {
    assert_eq!(broken(&[("nhs_number", "9434765918")]), [("nhs_number", Rule::NhsNumberCheckDigit)]);
    assert_eq!(broken(&[("nhs_number", "1234567890")]), [("nhs_number", Rule::NhsNumberCheckDigit)]);
    assert!(broken(&[("nhs_number", "401-023-2137")]).is_empty());
    let strict = Validation { allow_test_nhs_numbers: false, ..RULES };
    let rejected = parse_record(&row(&[("nhs_number", "9434765919")]), strict).expect_err("test range");
    assert_eq!(rejected[0].rule, Rule::NhsNumberRange);
    assert_eq!(
        broken(&[("nhs_number", "401 023 2137"), ("local_id", "4010232137")]),
        [("local_id", Rule::LocalIdIsNhsNumber)]
    );
    assert_eq!(
        broken(&[("nhs_number", "4010232137"), ("local_id", "401-023-2137")]),
        [("local_id", Rule::LocalIdIsNhsNumber)]
    );
}

#[test]
fn fracture_sites() {
    assert!(broken(&[("other_fracture_sites", "hip; Spine")]).is_empty());
    assert_eq!(broken(&[("other_fracture_sites", "hip;spine;pelvis")]), [("other_fracture_sites", Rule::MultiTooMany)]);
    assert_eq!(broken(&[("other_fracture_sites", "wrist")]), [("other_fracture_sites", Rule::RepeatsFractureSite)]);
    assert_eq!(broken(&[("other_fracture_sites", "hip;hip")]), [("other_fracture_sites", Rule::MultiRepeat)]);
    assert_eq!(broken(&[("fracture_site", "knee")]), [("fracture_site", Rule::Code)]);
}

#[test]
fn ranges_are_inclusive() {
    for (field, ok, bad) in [
        ("height_cm", ["100", "230", "+150.5"], ["99.9", "230.1"]),
        ("weight_kg", ["25", "250", "70.25"], ["24.99", "251"]),
        ("frax_major", ["0", "100", "12.3"], ["-0.1", "100.01"]),
        ("t_score", ["-7.0", "+5", "-2.50"], ["-7.1", "5.1"]),
        ("refractures", ["0", "20", "+3"], ["21", "4294967297"]),
    ] {
        let extra = |value: &'static str| -> Vec<(&str, &'static str)> {
            let mut changes = vec![(field, value)];
            if field == "t_score" {
                changes.extend([("dxa", "ordered"), ("dxa_date", "2020-03-20")]);
            }
            changes
        };
        for value in ok {
            assert!(broken(&extra(value)).is_empty(), "{field} {value}");
        }
        for value in bad {
            assert_eq!(broken(&extra(value)).len(), 1, "{field} {value}");
        }
    }
    assert_eq!(
        broken(&[("dxa", "ordered"), ("dxa_date", "2020-03-20"), ("t_score", "-2.55")]),
        [("t_score", Rule::DecimalPlaces)]
    );
}

#[test]
fn dxa_rules() {
    assert!(broken(&[("dxa", "Recommended"), ("dxa_date", "2019-03-11")]).is_empty(), "365 days before");
    assert_eq!(broken(&[("dxa", "ordered"), ("dxa_date", "2019-03-10")]), [("dxa_date", Rule::DateOrder)]);
    assert_eq!(broken(&[("dxa", "declined"), ("dxa_date", "2020-03-20")]), [("dxa_date", Rule::OnlyWith)]);
    assert_eq!(broken(&[("dxa_date", "2020-03-20")]), [("dxa_date", Rule::OnlyWith)]);
    assert_eq!(broken(&[("dxa", "ordered"), ("t_score", "-2.5")]), [("t_score", Rule::OnlyWith)]);
}

#[test]
fn bone_therapy_recommended() {
    assert!(broken(&[("bone_therapy_recommended", "teriparatide; Denosumab")]).is_empty());
    assert!(broken(&[("bone_therapy_recommended", "Informed decline")]).is_empty());
    assert_eq!(
        broken(&[("bone_therapy_recommended", "alendronate;not_indicated")]),
        [("bone_therapy_recommended", Rule::TherapyCombination)]
    );
    assert_eq!(
        broken(&[("bone_therapy_recommended", "unknown;referred_gp")]),
        [("bone_therapy_recommended", Rule::TherapyCombination)]
    );
    assert_eq!(
        broken(&[("bone_therapy_recommended", "alendronate;alendronate")]),
        [("bone_therapy_recommended", Rule::MultiRepeat)]
    );
    assert_eq!(broken(&[("bone_therapy_recommended", "aspirin")]), [("bone_therapy_recommended", Rule::Code)]);
}

#[test]
fn follow_up_rules() {
    let ok16 = [("followup16", "yes"), ("followup16_date", "2020-06-10")];
    assert!(broken(&ok16).is_empty());
    assert_eq!(broken(&[("followup16", "Y")]), [("followup16_date", Rule::RequiredWith)]);
    assert_eq!(broken(&[("followup16", "no"), ("therapy_16w", "alendronate")]), [("therapy_16w", Rule::OnlyWith)]);
    assert_eq!(broken(&[("strength_balance_16w", "yes")]), [("strength_balance_16w", Rule::OnlyWith)]);
    assert!(broken(&[ok16[0], ok16[1], ("therapy_16w", "not started"), ("strength_balance_16w", "1")]).is_empty());
    assert_eq!(broken(&[("followup16_date", "2020-03-09")]), [("followup16_date", Rule::DateOrder)]);
    assert_eq!(broken(&[("followup52", "yes")]), [("followup52_date", Rule::RequiredWith)]);
    assert_eq!(broken(&[("therapy_52w", "denosumab")]), [("therapy_52w", Rule::OnlyWith)]);
    assert_eq!(
        broken(&[ok16[0], ok16[1], ("followup52", "yes"), ("followup52_date", "2020-06-10")]),
        [("followup52_date", Rule::DateOrder)]
    );
    assert_eq!(broken(&[("refracture_sites", "hip")]), [("refracture_sites", Rule::OnlyWith)]);
    assert_eq!(
        broken(&[("refractures", "1"), ("refracture_sites", "hip;spine")]),
        [("refracture_sites", Rule::MultiTooMany)]
    );
    assert!(broken(&[("refractures", "2"), ("refracture_sites", "hip;spine")]).is_empty());
}

#[test]
fn death_rules() {
    assert_eq!(broken(&[("death_date", "2020-03-09")]), [("death_date", Rule::DateOrder)]);
    let base = [("followup16", "yes"), ("followup16_date", "2020-06-10")];
    assert!(broken(&[base[0], base[1], ("death_date", "2020-06-10")]).is_empty(), "same day is fine");
    assert_eq!(broken(&[base[0], base[1], ("death_date", "2020-06-09")]), [("followup16_date", Rule::AfterDeath)]);
}

#[test]
fn warnings_do_not_reject() {
    let warned = |changes: &[(&str, &'static str)]| {
        let valid = parse_record(&row(changes), RULES).expect("warnings accept the row");
        valid.warnings.iter().map(|w| w.rule).collect::<Vec<_>>()
    };
    // Day 84 and day 112 are inside the 16-week window; 83 and 113 are not.
    assert_eq!(warned(&[("followup16", "yes"), ("followup16_date", "2020-06-02")]), []);
    assert_eq!(warned(&[("followup16", "yes"), ("followup16_date", "2020-06-30")]), []);
    assert_eq!(warned(&[("followup16", "yes"), ("followup16_date", "2020-06-01")]), [Rule::Followup16Window]);
    assert_eq!(warned(&[("followup16", "yes"), ("followup16_date", "2020-07-01")]), [Rule::Followup16Window]);
    // Days 336 and 392 are inside the 52-week window.
    assert_eq!(warned(&[("followup52", "yes"), ("followup52_date", "2021-02-09")]), []);
    assert_eq!(warned(&[("followup52", "yes"), ("followup52_date", "2021-04-06")]), []);
    assert_eq!(warned(&[("followup52", "yes"), ("followup52_date", "2021-02-08")]), [Rule::Followup52Window]);
    assert_eq!(warned(&[("followup52", "yes"), ("followup52_date", "2021-04-07")]), [Rule::Followup52Window]);
    assert_eq!(warned(&[("fls_assessment_date", "2022-03-10")]), []);
    assert_eq!(warned(&[("fls_assessment_date", "2022-03-11")]), [Rule::AssessmentAfter730Days]);
}

#[test]
fn text_rules() {
    assert_eq!(broken(&[("local_id", "a\tb")]), [("local_id", Rule::Text)]);
    assert_eq!(broken(&[("postcode", "SW1A")]), [("postcode", Rule::Postcode)]);
    let valid = parse_record(&row(&[("postcode", " sw1a   1aa ")]), RULES).expect("valid");
    assert_eq!(valid.record.cell(Field::Postcode), "SW1A 1AA");
}
