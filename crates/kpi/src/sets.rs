//! The built-in KPI sets of `kpis.md`, written in the definition language.

use crate::definition::*;
use flsdb_dataset::Field as F;

/// The names of the built-in sets, default first.
pub const SET_NAMES: [&str; 2] = ["fls-db", "iof-ctf"];

/// A built-in set by name (`fls-db`, `iof-ctf`), case-insensitively.
pub fn set_by_name(name: &str) -> Option<KpiSet> {
    match name.trim().to_ascii_lowercase().as_str() {
        "fls-db" => Some(fls_db()),
        "iof-ctf" => Some(iof_ctf()),
        _ => None,
    }
}

fn kpi(id: &str, name: &str, measure: Measure) -> KpiDef {
    KpiDef { id: id.to_owned(), name: name.to_owned(), measure }
}

fn proportion(denominator: Denominator, numerator: Vec<Condition>, bands: Bands, inputs: Vec<Input>) -> Measure {
    Measure::Proportion(Proportion { denominator, numerator, bands, inputs })
}

fn due_and_alive(follow_up: FollowUp, mode_sensitive: bool) -> Denominator {
    Denominator { filter: Vec::new(), follow_up: Some(follow_up), mode_sensitive }
}

fn yes(field: F) -> Condition {
    Condition::code_in(field, &["yes"])
}

// The numerators the two sets share, with the day window as a parameter where they differ.

fn assessment_within(days: i32) -> Vec<Condition> {
    vec![Condition::days_within(F::FlsAssessmentDate, 0, days)]
}

fn dxa_within(days: i32) -> Vec<Condition> {
    vec![Condition::code_in(F::Dxa, &["ordered", "recommended"]), Condition::days_within(F::DxaDate, 0, days)]
}

fn falls_assessed() -> Vec<Condition> {
    vec![Condition::code_in(F::FallsAssessment, &["done", "referred", "recommended"])]
}

fn monitored_16w() -> Vec<Condition> {
    vec![yes(F::Followup16), Condition::days_within(F::Followup16Date, 0, 112)]
}

fn drug_recommended() -> Vec<Condition> {
    vec![Condition::holds_drug(F::BoneTherapyRecommended)]
}

fn strength_balance_16w() -> Vec<Condition> {
    let mut c = monitored_16w();
    c.push(yes(F::StrengthBalance16w));
    c
}

fn therapy_16w() -> Vec<Condition> {
    let mut c = monitored_16w();
    c.push(Condition::holds_drug(F::Therapy16w));
    c
}

fn adherence_52w() -> Vec<Condition> {
    vec![yes(F::Followup52), Condition::days_within(F::Followup52Date, 336, 392), Condition::holds_drug(F::Therapy52w)]
}

fn spine() -> Vec<Condition> {
    vec![Condition::code_in(F::FractureSite, &["spine"])]
}

/// The UK FLS-DB's eleven KPIs (`kpis.md`, set `fls-db`).
pub fn fls_db() -> KpiSet {
    let standard = || Bands::lower_inclusive(50.0, 80.0);
    let nations = ["england", "wales", "northern_ireland"].map(str::to_owned).to_vec();
    let completeness = Completeness {
        fields: vec![
            CompletenessField { field: F::NhsNumber, when: Vec::new(), nations: Some(nations) },
            CompletenessField::always(F::Sex),
            CompletenessField::always(F::CareHome),
            CompletenessField::always(F::Admitted),
            CompletenessField::always(F::FractureIdentification),
            CompletenessField::always(F::FlsAssessmentDate),
            CompletenessField::always(F::PreviousFracture),
            CompletenessField::always(F::OnBoneTherapy),
            CompletenessField::always(F::FallsHistory),
            CompletenessField::always(F::Dxa),
            CompletenessField::always(F::BoneTherapyRecommended),
            CompletenessField::always(F::CalciumVitdRecommended),
            CompletenessField::always(F::FallsAssessment),
            CompletenessField::when(F::Followup16, vec![Condition::DueAndAlive(FollowUp::WEEK_16)]),
            CompletenessField::when(F::Therapy16w, vec![yes(F::Followup16)]),
            CompletenessField::when(F::StrengthBalance16w, vec![yes(F::Followup16)]),
            CompletenessField::when(F::Followup52, vec![Condition::DueAndAlive(FollowUp::WEEK_52)]),
        ],
        poor_above_percent: 20.0,
        good_if_fewer_than: 5,
        bands: standard(),
    };
    let non_hip = Denominator {
        filter: vec![Condition::code_not_in(F::FractureSite, &["hip"])],
        follow_up: Some(FollowUp::WEEK_16),
        mode_sensitive: false,
    };
    KpiSet {
        name: "fls-db".into(),
        version: "fls-db/1".into(),
        title: "UK FLS-DB key performance indicators".into(),
        kpis: vec![
            kpi("kpi1", "Data completeness", Measure::Completeness(completeness)),
            kpi(
                "kpi2",
                "Identification (all fractures)",
                Measure::Identification(Identification {
                    numerator: Vec::new(),
                    bands: standard(),
                    inputs: Vec::new(),
                }),
            ),
            kpi(
                "kpi3",
                "Identification (spine)",
                proportion(Denominator::cohort(), spine(), Bands::lower_inclusive(10.0, 20.0), Vec::new()),
            ),
            kpi(
                "kpi4",
                "FLS assessment within 90 days",
                proportion(Denominator::cohort(), assessment_within(90), standard(), Vec::new()),
            ),
            kpi(
                "kpi5",
                "DXA within 90 days",
                proportion(Denominator::cohort(), dxa_within(90), standard(), Vec::new()),
            ),
            kpi(
                "kpi6",
                "Falls assessment",
                proportion(Denominator::cohort(), falls_assessed(), standard(), Vec::new()),
            ),
            kpi(
                "kpi7",
                "Bone therapy recommended",
                proportion(Denominator::cohort(), drug_recommended(), Bands::red_green(50.0), Vec::new()),
            ),
            kpi(
                "kpi8",
                "Strength and balance by 16 weeks",
                proportion(non_hip, strength_balance_16w(), standard(), Vec::new()),
            ),
            kpi(
                "kpi9",
                "Monitoring contact by 16 weeks",
                proportion(due_and_alive(FollowUp::WEEK_16, true), monitored_16w(), standard(), Vec::new()),
            ),
            kpi(
                "kpi10",
                "Bone therapy started by 16 weeks",
                proportion(due_and_alive(FollowUp::WEEK_16, true), therapy_16w(), standard(), Vec::new()),
            ),
            kpi(
                "kpi11",
                "Adherence at 52 weeks",
                proportion(due_and_alive(FollowUp::WEEK_52, true), adherence_52w(), standard(), Vec::new()),
            ),
        ],
        recommended_filter: drug_recommended(),
    }
}

/// The IOF Capture the Fracture patient-level set (`kpis.md`, set `iof-ctf`).
pub fn iof_ctf() -> KpiSet {
    let standard = || Bands::upper_exclusive(50.0, 80.0);
    let followup16_inputs =
        || vec![Input::always(F::Followup16), Input::when(F::Followup16Date, vec![yes(F::Followup16)])];
    let with_16w = |field: F| {
        let mut inputs = followup16_inputs();
        inputs.push(Input::when(field, vec![yes(F::Followup16)]));
        inputs
    };
    let ids: Vec<String> = (1..=10).map(|i| format!("iof{i}")).collect();
    KpiSet {
        name: "iof-ctf".into(),
        version: "iof-ctf/1".into(),
        title: "IOF Capture the Fracture patient-level KPIs".into(),
        kpis: vec![
            kpi(
                "iof1",
                "Identification (non-spine)",
                Measure::Identification(Identification {
                    numerator: vec![Condition::code_not_in(F::FractureSite, &["spine"])],
                    bands: standard(),
                    inputs: vec![Input::always(F::FractureSite)],
                }),
            ),
            kpi(
                "iof2",
                "Identification (spine)",
                proportion(
                    Denominator::cohort(),
                    spine(),
                    Bands::lower_inclusive(10.0, 20.0),
                    vec![Input::always(F::FractureSite)],
                ),
            ),
            kpi(
                "iof3",
                "Fracture risk assessment within 12 weeks",
                proportion(
                    Denominator::cohort(),
                    assessment_within(84),
                    standard(),
                    vec![Input::always(F::FlsAssessmentDate)],
                ),
            ),
            kpi(
                "iof4",
                "DXA within 12 weeks",
                proportion(
                    Denominator::cohort(),
                    dxa_within(84),
                    standard(),
                    vec![
                        Input::always(F::Dxa),
                        Input::when(F::DxaDate, vec![Condition::code_in(F::Dxa, &["ordered", "recommended"])]),
                    ],
                ),
            ),
            kpi(
                "iof5",
                "Falls risk assessment",
                proportion(
                    Denominator::cohort(),
                    falls_assessed(),
                    standard(),
                    vec![Input::always(F::FallsAssessment)],
                ),
            ),
            kpi(
                "iof6",
                "Anti-osteoporosis medication recommended",
                proportion(
                    Denominator::cohort(),
                    drug_recommended(),
                    Bands::red_green(50.0),
                    vec![Input::always(F::BoneTherapyRecommended)],
                ),
            ),
            kpi(
                "iof7",
                "Strength and balance within 16 weeks",
                proportion(
                    due_and_alive(FollowUp::WEEK_16, false),
                    strength_balance_16w(),
                    standard(),
                    with_16w(F::StrengthBalance16w),
                ),
            ),
            kpi(
                "iof8",
                "Monitored within 16 weeks",
                proportion(due_and_alive(FollowUp::WEEK_16, true), monitored_16w(), standard(), followup16_inputs()),
            ),
            kpi(
                "iof9",
                "Medication started within 16 weeks",
                proportion(due_and_alive(FollowUp::WEEK_16, true), therapy_16w(), standard(), with_16w(F::Therapy16w)),
            ),
            kpi(
                "iof10",
                "Medication at 52 weeks",
                proportion(
                    due_and_alive(FollowUp::WEEK_52, true),
                    adherence_52w(),
                    standard(),
                    vec![
                        Input::always(F::Followup52),
                        Input::when(F::Followup52Date, vec![yes(F::Followup52)]),
                        Input::when(F::Therapy52w, vec![yes(F::Followup52)]),
                    ],
                ),
            ),
            kpi("iof11", "Data completeness", Measure::InputCompleteness { of: ids }),
        ],
        recommended_filter: drug_recommended(),
    }
}
