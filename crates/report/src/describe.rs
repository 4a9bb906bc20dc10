//! KPI definitions in words, generated from the set's definition (so a new set or a new version
//! of one describes itself, and the text can never disagree with what the engine counts).

use flsdb_kpi::definition::BandStep;
use flsdb_kpi::definition::{Completeness, Denominator, Identification, Proportion};
use flsdb_kpi::{Bands, Condition, DenominatorMode, FollowUp, KpiDef, KpiSet, Measure};

/// A KPI's numerator, denominator and bands as sentences.
#[derive(Clone, Debug, PartialEq)]
pub struct KpiText {
    pub numerator: String,
    pub denominator: String,
    pub bands: String,
}

fn or_list(codes: &[String]) -> String {
    match codes {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn follow_up(f: &FollowUp) -> String {
    format!(
        "due (fracture_date + {} days on or before the as-of date) and alive {} days after the fracture",
        f.due_days, f.alive_days
    )
}

/// One condition as a phrase.
pub fn condition(c: &Condition) -> String {
    match c {
        Condition::CodeIn { field, codes } => format!("{} is {}", field.name(), or_list(codes)),
        Condition::CodeNotIn { field, codes } => format!("{} is not {}", field.name(), or_list(codes)),
        Condition::DaysWithin { field, min, max } => {
            format!("{} is {min} to {max} days after fracture_date", field.name())
        }
        Condition::HoldsDrug { field } => format!("{} holds a bone therapy drug", field.name()),
        Condition::DueAndAlive(f) => follow_up(f),
    }
}

fn conditions(cs: &[Condition]) -> String {
    cs.iter().map(condition).collect::<Vec<_>>().join(", and ")
}

/// `red < 50 ≤ amber < 80 ≤ green`.
pub fn bands(b: &Bands) -> String {
    let mut out = String::from("red");
    for BandStep { at, inclusive, band } in &b.steps {
        let at = flsdb_kpi::format_percent(*at);
        let at = at.strip_suffix(".0").unwrap_or(&at).to_owned();
        if *inclusive {
            out.push_str(&format!(" < {at}% ≤ {}", band.as_str()));
        } else {
            out.push_str(&format!(" ≤ {at}% < {}", band.as_str()));
        }
    }
    out
}

fn denominator(d: &Denominator, set: &KpiSet, mode: DenominatorMode) -> String {
    let mut parts = vec!["records in the cohort (the period's records whose patient has not opted out)".to_owned()];
    if !d.filter.is_empty() {
        parts.push(format!("where {}", conditions(&d.filter)));
    }
    if let Some(f) = &d.follow_up {
        parts.push(format!("{}; the others are counted as not yet due or died", follow_up(f)));
    }
    if d.mode_sensitive && mode == DenominatorMode::Recommended && !set.recommended_filter.is_empty() {
        parts.push(format!("with {} (denominator mode recommended)", conditions(&set.recommended_filter)));
    }
    parts.join(", ")
}

/// The definition of a KPI in words.
pub fn kpi_text(kpi: &KpiDef, set: &KpiSet, mode: DenominatorMode) -> KpiText {
    match &kpi.measure {
        Measure::Proportion(Proportion { denominator: d, numerator, bands: b, .. }) => KpiText {
            numerator: if numerator.is_empty() { "every denominator record".into() } else { conditions(numerator) },
            denominator: denominator(d, set, mode),
            bands: bands(b),
        },
        Measure::Identification(Identification { numerator, bands: b, .. }) => KpiText {
            numerator: if numerator.is_empty() {
                "records in the cohort".into()
            } else {
                format!("records in the cohort where {}", conditions(numerator))
            },
            denominator: "the service's estimated caseload pro-rated to the period (the sum over the calendar \
                          years the period touches of caseload × days of the period in that year ÷ 365.25); \
                          services without a known caseload are left out above service level"
                .into(),
            bands: format!("{} (may exceed 100%; no confidence interval or funnel plot)", bands(b)),
        },
        Measure::Completeness(Completeness { fields, poor_above_percent, good_if_fewer_than, bands: b }) => KpiText {
            numerator: format!(
                "services with good data: fewer than {good_if_fewer_than} of these {} fields missing (empty or \
                 unknown) in more than {}% of the records they apply to: {}",
                fields.len(),
                flsdb_kpi::format_percent(*poor_above_percent).trim_end_matches(".0"),
                fields.iter().map(|f| f.field.name()).collect::<Vec<_>>().join(", ")
            ),
            denominator: "services with at least one record in the cohort".into(),
            bands: bands(b),
        },
        Measure::InputCompleteness { of } => KpiText {
            numerator: format!(
                "for each of {}, the denominator records whose input fields are all present",
                of.join(", ")
            ),
            denominator: "that KPI's denominator records".into(),
            bands: "none".into(),
        },
    }
}

/// The bands of a KPI, when it has any.
pub fn kpi_bands(kpi: &KpiDef) -> Option<&Bands> {
    match &kpi.measure {
        Measure::Proportion(p) => Some(&p.bands),
        Measure::Identification(i) => Some(&i.bands),
        Measure::Completeness(c) => Some(&c.bands),
        Measure::InputCompleteness { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fls_db_in_words() {
        let set = flsdb_kpi::set_by_name("fls-db").expect("set");
        let text = |id: &str, mode| kpi_text(set.kpi(id).expect("kpi"), &set, mode);
        let k4 = text("kpi4", DenominatorMode::All);
        assert_eq!(k4.numerator, "fls_assessment_date is 0 to 90 days after fracture_date");
        assert_eq!(k4.bands, "red < 50% ≤ amber < 80% ≤ green");
        let k8 = text("kpi8", DenominatorMode::All);
        assert!(k8.denominator.contains("fracture_site is not hip"), "{}", k8.denominator);
        assert!(k8.denominator.contains("112 days"), "{}", k8.denominator);
        assert!(!text("kpi10", DenominatorMode::All).denominator.contains("recommended"));
        assert!(text("kpi10", DenominatorMode::Recommended).denominator.contains("bone_therapy_recommended"));
        assert_eq!(text("kpi7", DenominatorMode::All).bands, "red < 50% ≤ green");
        let iof = flsdb_kpi::set_by_name("iof-ctf").expect("set");
        assert_eq!(
            kpi_text(iof.kpi("iof3").expect("kpi"), &iof, DenominatorMode::All).bands,
            "red < 50% ≤ amber ≤ 80% < green"
        );
    }
}
