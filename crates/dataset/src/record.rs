//! The patient record and the one implementation of its validation, used by the importer, the
//! web form and the API alike.

use crate::Field;
use crate::codes::*;
use crate::problem::{Problem, Rule, Severity};
use crate::values::*;
use time::{Date, Duration, macros::date};

pub type SiteSet = CodeSet<FractureSite, 6>;
pub type DrugSet = CodeSet<Drug, 10>;

/// `bone_therapy_recommended` (4.01): one or more drugs, or exactly one other answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Recommendation {
    Drugs(DrugSet),
    Other(RecommendationOther),
}

impl Recommendation {
    pub fn has_drug(self) -> bool {
        matches!(self, Recommendation::Drugs(_))
    }

    pub fn is_unknown(self) -> bool {
        self == Recommendation::Other(RecommendationOther::Unknown)
    }

    pub fn to_code(self) -> String {
        match self {
            Recommendation::Drugs(drugs) => format_multi(&drugs, Drug::code),
            Recommendation::Other(other) => other.code().to_owned(),
        }
    }
}

/// One patient's index fragility fracture at one service, with the care that followed.
/// Only a valid record can be built from input (see [`parse_record`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub service_code: ServiceCode,
    pub local_id: LocalId,
    pub nhs_number: Option<NhsNumber>,
    pub date_of_birth: Date,
    pub sex: Option<Sex>,
    pub postcode: Option<Postcode>,
    pub care_home: Option<YesNo>,
    pub fls_contact_date: Option<Date>,
    pub fls_assessment_date: Option<Date>,
    pub admitted: Option<Admitted>,
    pub fracture_date: Date,
    pub fracture_identification: Option<FractureIdentification>,
    pub fracture_site: FractureSite,
    pub other_fracture_sites: SiteSet,
    pub height_cm: Option<f64>,
    pub weight_kg: Option<f64>,
    pub previous_fracture: Option<YesNo>,
    pub parental_hip_fracture: Option<YesNo>,
    pub smoker: Option<Smoker>,
    pub on_bone_therapy: Option<YesNo>,
    pub falls_history: Option<FallsHistory>,
    pub dxa: Option<Dxa>,
    pub dxa_date: Option<Date>,
    pub t_score: Option<f64>,
    pub frax_major: Option<f64>,
    pub bone_therapy_recommended: Option<Recommendation>,
    pub calcium_vitd_recommended: Option<YesNo>,
    pub falls_assessment: Option<FallsAssessment>,
    pub followup16: Option<YesNo>,
    pub followup16_date: Option<Date>,
    pub followup16_by: Option<FollowupBy>,
    pub therapy_16w: Option<Therapy>,
    pub strength_balance_16w: Option<YesNo>,
    pub calcium_vitd_16w: Option<YesNo>,
    pub followup52: Option<YesNo>,
    pub followup52_date: Option<Date>,
    pub followup52_by: Option<FollowupBy>,
    pub therapy_52w: Option<Therapy>,
    pub refractures: Option<u8>,
    pub refracture_sites: SiteSet,
    pub death_date: Option<Date>,
}

/// Deployment settings that decide validity.
#[derive(Clone, Copy, Debug)]
pub struct Validation {
    /// "Not in the future" means not after this date (the server's local date when checking).
    pub today: Date,
    /// Accept NHS numbers in the test range 900–999 (the demo does).
    pub allow_test_nhs_numbers: bool,
}

/// A record that passed, with the warnings it carries.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidRecord {
    pub record: Record,
    pub warnings: Vec<Problem>,
}

/// Fractures before this date are outside the audit.
pub const FIRST_ELIGIBLE_FRACTURE: Date = date!(2016 - 01 - 01);
pub const MIN_AGE: i32 = 50;
pub const MAX_AGE: i32 = 115;

/// The cells of one row, indexed by [`Field::index`]; a column absent from the file is `""`.
pub type Cells<'a> = [&'a str; Field::COUNT];

/// Collects the problems of one row while its fields are parsed.
struct Checker<'a> {
    /// The cells, trimmed once (every rule sees the trimmed value).
    cells: Cells<'a>,
    problems: Vec<Problem>,
    rules: Validation,
    detail: Detail,
}

/// How much of a warning to build: errors are always complete.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Detail {
    /// Every problem with its value and message.
    #[default]
    Full,
    /// Warnings with their field and rule only (empty value and message), for callers that only
    /// count them: no text is formatted for them.
    WarningsCounted,
}

impl<'a> Checker<'a> {
    #[inline]
    fn cell(&self, field: Field) -> &'a str {
        self.cells[field.index()]
    }

    // Errors are rare: kept out of line so the checks that pass stay small enough to inline.
    #[cold]
    fn fail(&mut self, field: Field, rule: Rule, message: String) {
        let value = self.cell(field);
        self.problems.push(Problem::invalid(field, value, rule, message));
    }

    /// A warning; its message is only formatted when it will be shown.
    fn warn(&mut self, field: Field, rule: Rule, message: impl FnOnce() -> String) {
        match self.detail {
            Detail::Full => self.report(field, rule, Severity::Warning, message()),
            Detail::WarningsCounted => self.problems.push(Problem {
                field,
                value: String::new(),
                rule,
                severity: Severity::Warning,
                message: String::new(),
            }),
        }
    }

    fn report(&mut self, field: Field, rule: Rule, severity: Severity, message: String) {
        let value = self.cell(field);
        self.problems.push(Problem::new(field, value, rule, severity, message));
    }

    #[cold]
    #[inline(never)]
    fn fail_cell(&mut self, field: Field, e: CellError) {
        self.fail(field, e.rule, format!("{field}: {}", e.message));
    }

    /// Parses a non-empty cell; an empty cell is missing (`None`), an unreadable one is reported.
    #[inline]
    fn optional<T>(&mut self, field: Field, parse: impl FnOnce(&str) -> Result<T, CellError>) -> Option<T> {
        let value = self.cell(field);
        if value.is_empty() {
            return None;
        }
        match parse(value) {
            Ok(v) => Some(v),
            Err(e) => {
                self.fail_cell(field, e);
                None
            }
        }
    }

    #[inline]
    fn required<T>(&mut self, field: Field, parse: impl FnOnce(&str) -> Result<T, CellError>) -> Option<T> {
        if self.cell(field).is_empty() {
            self.fail(field, Rule::Required, format!("{field} is required"));
            return None;
        }
        self.optional(field, parse)
    }

    #[inline]
    fn code<T>(&mut self, field: Field, parse: fn(&str) -> Option<T>, expected: fn() -> String) -> Option<T> {
        self.optional(field, |v| {
            parse(v).ok_or_else(|| CellError::new(Rule::Code, format!("{v:?} is not one of: {}", expected())))
        })
    }

    #[inline]
    fn yes_no(&mut self, field: Field) -> Option<YesNo> {
        self.optional(field, |v| {
            YesNo::parse_flexible(v)
                .ok_or_else(|| CellError::new(Rule::Code, format!("{v:?} is not one of: yes, no, unknown")))
        })
    }

    #[inline]
    fn date(&mut self, field: Field) -> Option<Date> {
        self.optional(field, parse_date)
    }

    #[inline]
    fn decimal(&mut self, field: Field, min: f64, max: f64, unit: &str) -> Option<f64> {
        self.optional(field, |v| {
            let (x, _) = parse_decimal(v)?;
            if (min..=max).contains(&x) {
                Ok(x)
            } else {
                Err(CellError::new(Rule::Range, format!("{v} is outside {min}–{max}{unit}")))
            }
        })
    }

    fn sites(&mut self, field: Field) -> SiteSet {
        self.optional(field, |v| {
            parse_multi(v, |s| {
                FractureSite::parse(s).ok_or_else(|| {
                    CellError::new(Rule::Code, format!("{s:?} is not one of: {}", FractureSite::expected()))
                })
            })
        })
        .unwrap_or_default()
    }

    /// `later` must not be before `earlier` (same day allowed).
    #[inline]
    fn not_before(&mut self, later: (Field, Option<Date>), earlier: (Field, Option<Date>)) {
        if let ((lf, Some(l)), (ef, Some(e))) = (later, earlier)
            && l < e
        {
            self.fail(lf, Rule::DateOrder, format!("{lf} {} is before {ef} {}", format_date(l), format_date(e)));
        }
    }

    #[inline]
    fn not_in_future(&mut self, field: Field, value: Option<Date>) {
        if let Some(d) = value.filter(|d| *d > self.rules.today) {
            self.fail(field, Rule::Future, format!("{field} {} is in the future", format_date(d)));
        }
    }

    /// A field that may only be given when a condition on another holds.
    #[inline]
    fn only_when(&mut self, field: Field, present: bool, allowed: bool, condition: &str) {
        if present && !allowed {
            self.fail(field, Rule::OnlyWith, format!("{field} may only be given when {condition}"));
        }
    }
}

/// Parses and validates one row: every problem of every field is reported, never only the first.
pub fn parse_record(cells: &Cells<'_>, rules: Validation) -> Result<ValidRecord, Vec<Problem>> {
    parse_record_with(cells, rules, Detail::Full)
}

/// [`parse_record`], building warnings only to the given [`Detail`] (the rules are the same).
pub fn parse_record_with(cells: &Cells<'_>, rules: Validation, detail: Detail) -> Result<ValidRecord, Vec<Problem>> {
    use Field as F;
    let mut c = Checker { cells: (*cells).map(trim), problems: Vec::new(), rules, detail };

    let service_code = if c.cell(F::ServiceCode).is_empty() {
        c.fail(F::ServiceCode, Rule::Required, "service_code is required".into());
        None
    } else {
        c.optional(F::ServiceCode, |v| {
            ServiceCode::parse(v).ok_or_else(|| CellError::new(Rule::Text, "service_code contains a control character"))
        })
    };
    let local_id = c.required(F::LocalId, LocalId::parse);
    let allow_test = rules.allow_test_nhs_numbers;
    let nhs_number = c.optional(F::NhsNumber, |v| NhsNumber::parse(v, allow_test));
    let date_of_birth = c.required(F::DateOfBirth, parse_date);
    let sex = c.code(F::Sex, Sex::parse, Sex::expected);
    let postcode = c.optional(F::Postcode, Postcode::parse);
    let care_home = c.yes_no(F::CareHome);
    let fls_contact_date = c.date(F::FlsContactDate);
    let fls_assessment_date = c.date(F::FlsAssessmentDate);
    let admitted = c.code(F::Admitted, Admitted::parse, Admitted::expected);
    let fracture_date = c.required(F::FractureDate, parse_date);
    let fracture_identification =
        c.code(F::FractureIdentification, FractureIdentification::parse, FractureIdentification::expected);
    let fracture_site = c.required(F::FractureSite, |v| {
        FractureSite::parse(v)
            .ok_or_else(|| CellError::new(Rule::Code, format!("{v:?} is not one of: {}", FractureSite::expected())))
    });
    let other_fracture_sites = c.sites(F::OtherFractureSites);
    let height_cm = c.decimal(F::HeightCm, 100.0, 230.0, " cm");
    let weight_kg = c.decimal(F::WeightKg, 25.0, 250.0, " kg");
    let previous_fracture = c.yes_no(F::PreviousFracture);
    let parental_hip_fracture = c.yes_no(F::ParentalHipFracture);
    let smoker = c.code(F::Smoker, Smoker::parse, Smoker::expected);
    let on_bone_therapy = c.yes_no(F::OnBoneTherapy);
    let falls_history = c.code(F::FallsHistory, FallsHistory::parse, FallsHistory::expected);
    let dxa = c.code(F::Dxa, Dxa::parse, Dxa::expected);
    let dxa_date = c.date(F::DxaDate);
    let t_score = c.optional(F::TScore, |v| {
        let (x, places) = parse_decimal(v)?;
        if places > 1 {
            Err(CellError::new(Rule::DecimalPlaces, format!("{v} has more than one decimal place")))
        } else if !(-7.0..=5.0).contains(&x) {
            Err(CellError::new(Rule::Range, format!("{v} is outside -7.0 to +5.0")))
        } else {
            Ok(x)
        }
    });
    let frax_major = c.decimal(F::FraxMajor, 0.0, 100.0, " %");
    let bone_therapy_recommended = c.optional(F::BoneTherapyRecommended, parse_recommendation);
    let calcium_vitd_recommended = c.yes_no(F::CalciumVitdRecommended);
    let falls_assessment = c.code(F::FallsAssessment, FallsAssessment::parse, FallsAssessment::expected);
    let followup16 = c.yes_no(F::Followup16);
    let followup16_date = c.date(F::Followup16Date);
    let followup16_by = c.code(F::Followup16By, FollowupBy::parse, FollowupBy::expected);
    let therapy_16w = c.code(F::Therapy16w, Therapy::parse, Therapy::expected);
    let strength_balance_16w = c.yes_no(F::StrengthBalance16w);
    let calcium_vitd_16w = c.yes_no(F::CalciumVitd16w);
    let followup52 = c.yes_no(F::Followup52);
    let followup52_date = c.date(F::Followup52Date);
    let followup52_by = c.code(F::Followup52By, FollowupBy::parse, FollowupBy::expected);
    let therapy_52w = c.code(F::Therapy52w, Therapy::parse, Therapy::expected);
    let refractures = c.optional(F::Refractures, |v| {
        let n = parse_integer(v)?;
        u8::try_from(n)
            .ok()
            .filter(|n| *n <= 20)
            .ok_or_else(|| CellError::new(Rule::Range, format!("{v} is outside 0–20")))
    });
    let refracture_sites = c.sites(F::RefractureSites);
    let death_date = c.date(F::DeathDate);

    // Rules between fields. A field that could not be read is `None` here, so rules that need
    // it stay silent rather than repeat its error.
    let nhs_cell = c.cell(F::NhsNumber);
    // The id's text is its cell (cells are trimmed once, and a parsed id is its trimmed cell):
    // the cell is read here rather than the id, which would check its UTF-8 again.
    if let Some(id) = local_id.as_ref().map(|_| c.cell(F::LocalId)).filter(|_| !nhs_cell.is_empty()) {
        // Compared without the hyphens and spaces people write in NHS numbers (no allocation).
        fn strip(s: &str) -> impl Iterator<Item = char> + '_ {
            s.chars().filter(|ch| *ch != '-' && !ch.is_whitespace())
        }
        if strip(id).eq(strip(nhs_cell)) {
            c.fail(F::LocalId, Rule::LocalIdIsNhsNumber, "local_id must not be the patient's NHS number".into());
        }
    }
    c.not_in_future(F::DateOfBirth, date_of_birth);
    c.not_in_future(F::FractureDate, fracture_date);
    if let (Some(birth), Some(fracture)) = (date_of_birth, fracture_date) {
        let age = age_in_years(birth, fracture);
        if birth > fracture {
            if birth <= rules.today {
                c.report(
                    F::DateOfBirth,
                    Rule::BornAfterFracture,
                    Severity::Ineligible,
                    format!("date_of_birth {} is after fracture_date {}", format_date(birth), format_date(fracture)),
                );
            }
        } else if age > MAX_AGE {
            c.fail(
                F::DateOfBirth,
                Rule::AgeOver115,
                format!("age at fracture is {age}, over {MAX_AGE}: check date_of_birth"),
            );
        } else if age < MIN_AGE {
            c.report(
                F::DateOfBirth,
                Rule::UnderFifty,
                Severity::Ineligible,
                format!("age at fracture is {age}: the audit covers patients aged {MIN_AGE} and over"),
            );
        }
    }
    if let Some(fracture) = fracture_date.filter(|d| *d < FIRST_ELIGIBLE_FRACTURE) {
        c.report(
            F::FractureDate,
            Rule::FractureBefore2016,
            Severity::Ineligible,
            format!("fracture_date {} is before 2016-01-01, outside the audit", format_date(fracture)),
        );
    }
    let fracture = (F::FractureDate, fracture_date);
    c.not_before((F::FlsContactDate, fls_contact_date), fracture);
    c.not_before((F::FlsAssessmentDate, fls_assessment_date), fracture);
    c.not_before((F::FlsAssessmentDate, fls_assessment_date), (F::FlsContactDate, fls_contact_date));
    if let Some(site) = fracture_site.filter(|s| other_fracture_sites.contains(*s)) {
        c.fail(
            F::OtherFractureSites,
            Rule::RepeatsFractureSite,
            format!("other_fracture_sites repeats fracture_site {site}"),
        );
    }
    if other_fracture_sites.len() > 2 {
        c.fail(F::OtherFractureSites, Rule::MultiTooMany, "other_fracture_sites has more than 2 sites".into());
    }
    if let (Some(scan), Some(fracture)) = (dxa_date, fracture_date)
        && scan < fracture - Duration::days(365)
    {
        c.fail(
            F::DxaDate,
            Rule::DateOrder,
            format!(
                "dxa_date {} is more than 365 days before fracture_date {}",
                format_date(scan),
                format_date(fracture)
            ),
        );
    }
    // An unreadable dxa or dxa_date has its own error; the dependent rule then stays silent.
    if dxa.is_some() || c.cell(F::Dxa).is_empty() {
        let requested = dxa.is_some_and(Dxa::is_requested);
        c.only_when(F::DxaDate, !c.cell(F::DxaDate).is_empty(), requested, "dxa is ordered or recommended");
    }
    if c.cell(F::DxaDate).is_empty() {
        c.only_when(F::TScore, !c.cell(F::TScore).is_empty(), false, "dxa_date is given");
    }
    let yes16 = followup16 == Some(YesNo::Yes);
    let known16 = followup16.is_some() || c.cell(F::Followup16).is_empty();
    if yes16 && followup16_date.is_none() && c.cell(F::Followup16Date).is_empty() {
        c.fail(F::Followup16Date, Rule::RequiredWith, "followup16_date is required when followup16 is yes".into());
    }
    c.not_before((F::Followup16Date, followup16_date), fracture);
    if known16 {
        c.only_when(F::Therapy16w, !c.cell(F::Therapy16w).is_empty(), yes16, "followup16 is yes");
        c.only_when(F::StrengthBalance16w, !c.cell(F::StrengthBalance16w).is_empty(), yes16, "followup16 is yes");
    }
    let yes52 = followup52 == Some(YesNo::Yes);
    let known52 = followup52.is_some() || c.cell(F::Followup52).is_empty();
    if yes52 && followup52_date.is_none() && c.cell(F::Followup52Date).is_empty() {
        c.fail(F::Followup52Date, Rule::RequiredWith, "followup52_date is required when followup52 is yes".into());
    }
    c.not_before((F::Followup52Date, followup52_date), fracture);
    if let (Some(d52), Some(d16)) = (followup52_date, followup16_date)
        && d52 <= d16
    {
        c.fail(
            F::Followup52Date,
            Rule::DateOrder,
            format!("followup52_date {} is not after followup16_date {}", format_date(d52), format_date(d16)),
        );
    }
    if known52 {
        c.only_when(F::Therapy52w, !c.cell(F::Therapy52w).is_empty(), yes52, "followup52 is yes");
    }
    if !refracture_sites.is_empty() || !c.cell(F::RefractureSites).is_empty() {
        match refractures {
            Some(n) if refracture_sites.len() > usize::from(n) => c.fail(
                F::RefractureSites,
                Rule::MultiTooMany,
                format!("refracture_sites lists {} sites but refractures is {n}", refracture_sites.len()),
            ),
            None if c.cell(F::Refractures).is_empty() => c.fail(
                F::RefractureSites,
                Rule::OnlyWith,
                "refracture_sites may only be given when refractures is given".into(),
            ),
            _ => {}
        }
    }
    c.not_before((F::DeathDate, death_date), fracture);
    if let Some(death) = death_date {
        for (field, date) in [(F::Followup16Date, followup16_date), (F::Followup52Date, followup52_date)] {
            if let Some(d) = date.filter(|d| *d > death) {
                c.fail(
                    field,
                    Rule::AfterDeath,
                    format!("{field} {} is after death_date {}", format_date(d), format_date(death)),
                );
            }
        }
    }

    // Warnings: plausible but worth a second look.
    if let Some(fracture) = fracture_date {
        let days = |d: Date| (d - fracture).whole_days();
        if let Some(d) = fls_assessment_date.filter(|d| days(*d) > 730) {
            c.warn(F::FlsAssessmentDate, Rule::AssessmentAfter730Days, || {
                format!("fls_assessment_date {} is {} days after the fracture (more than 730)", format_date(d), days(d))
            });
        }
        if let Some(d) = followup16_date.filter(|d| !(84..=112).contains(&days(*d))) {
            c.warn(F::Followup16Date, Rule::Followup16Window, || {
                format!(
                    "followup16_date {} is on day {}, outside the 12–16 week window (days 84–112)",
                    format_date(d),
                    days(d)
                )
            });
        }
        if let Some(d) = followup52_date.filter(|d| !(336..=392).contains(&days(*d))) {
            c.warn(F::Followup52Date, Rule::Followup52Window, || {
                format!(
                    "followup52_date {} is on day {}, outside the 48–56 week window (days 336–392)",
                    format_date(d),
                    days(d)
                )
            });
        }
    }

    let rejected = c.problems.iter().any(|p| p.severity.rejects());
    match (service_code, local_id, date_of_birth, fracture_date, fracture_site) {
        (Some(service_code), Some(local_id), Some(date_of_birth), Some(fracture_date), Some(fracture_site))
            if !rejected =>
        {
            Ok(ValidRecord {
                record: Record {
                    service_code,
                    local_id,
                    nhs_number,
                    date_of_birth,
                    sex,
                    postcode,
                    care_home,
                    fls_contact_date,
                    fls_assessment_date,
                    admitted,
                    fracture_date,
                    fracture_identification,
                    fracture_site,
                    other_fracture_sites,
                    height_cm,
                    weight_kg,
                    previous_fracture,
                    parental_hip_fracture,
                    smoker,
                    on_bone_therapy,
                    falls_history,
                    dxa,
                    dxa_date,
                    t_score,
                    frax_major,
                    bone_therapy_recommended,
                    calcium_vitd_recommended,
                    falls_assessment,
                    followup16,
                    followup16_date,
                    followup16_by,
                    therapy_16w,
                    strength_balance_16w,
                    calcium_vitd_16w,
                    followup52,
                    followup52_date,
                    followup52_by,
                    therapy_52w,
                    refractures,
                    refracture_sites,
                    death_date,
                },
                warnings: c.problems,
            })
        }
        _ => Err(c.problems),
    }
}

fn parse_recommendation(input: &str) -> Result<Recommendation, CellError> {
    let mut drugs = DrugSet::default();
    let mut other = None;
    let mut count = 0;
    for element in input.split(';') {
        let element = element.trim();
        if element.is_empty() {
            return Err(CellError::new(
                Rule::MultiEmpty,
                format!("{input:?} has an empty value between or after the ';' separators"),
            ));
        }
        count += 1;
        if let Some(drug) = Drug::parse(element) {
            if !drugs.push(drug) {
                return Err(CellError::new(Rule::MultiRepeat, format!("{input:?} lists {drug} more than once")));
            }
        } else if let Some(o) = RecommendationOther::parse(element) {
            if other.replace(o).is_some_and(|prev| prev == o) {
                return Err(CellError::new(Rule::MultiRepeat, format!("{input:?} lists {o} more than once")));
            }
        } else {
            return Err(CellError::new(
                Rule::Code,
                format!(
                    "{element:?} is not a drug ({}) or one of: {}",
                    Drug::expected(),
                    RecommendationOther::expected()
                ),
            ));
        }
    }
    match other {
        Some(o) if count == 1 => Ok(Recommendation::Other(o)),
        Some(o) => Err(CellError::new(
            Rule::TherapyCombination,
            format!("{input:?}: {o} cannot be combined with anything else"),
        )),
        None => Ok(Recommendation::Drugs(drugs)),
    }
}

impl Record {
    /// The canonical text of one field, as exported (empty when missing).
    pub fn cell(&self, field: Field) -> String {
        use Field as F;
        fn opt<T: ToString>(v: &Option<T>) -> String {
            v.as_ref().map(T::to_string).unwrap_or_default()
        }
        fn date(v: Option<Date>) -> String {
            v.map(format_date).unwrap_or_default()
        }
        match field {
            F::ServiceCode => self.service_code.to_string(),
            F::LocalId => self.local_id.to_string(),
            F::NhsNumber => opt(&self.nhs_number),
            F::DateOfBirth => format_date(self.date_of_birth),
            F::Sex => opt(&self.sex),
            F::Postcode => self.postcode.as_ref().map(|p| p.as_str().to_owned()).unwrap_or_default(),
            F::CareHome => opt(&self.care_home),
            F::FlsContactDate => date(self.fls_contact_date),
            F::FlsAssessmentDate => date(self.fls_assessment_date),
            F::Admitted => opt(&self.admitted),
            F::FractureDate => format_date(self.fracture_date),
            F::FractureIdentification => opt(&self.fracture_identification),
            F::FractureSite => self.fracture_site.to_string(),
            F::OtherFractureSites => format_multi(&self.other_fracture_sites, FractureSite::code),
            F::HeightCm => opt(&self.height_cm),
            F::WeightKg => opt(&self.weight_kg),
            F::PreviousFracture => opt(&self.previous_fracture),
            F::ParentalHipFracture => opt(&self.parental_hip_fracture),
            F::Smoker => opt(&self.smoker),
            F::OnBoneTherapy => opt(&self.on_bone_therapy),
            F::FallsHistory => opt(&self.falls_history),
            F::Dxa => opt(&self.dxa),
            F::DxaDate => date(self.dxa_date),
            F::TScore => opt(&self.t_score),
            F::FraxMajor => opt(&self.frax_major),
            F::BoneTherapyRecommended => self.bone_therapy_recommended.map(Recommendation::to_code).unwrap_or_default(),
            F::CalciumVitdRecommended => opt(&self.calcium_vitd_recommended),
            F::FallsAssessment => opt(&self.falls_assessment),
            F::Followup16 => opt(&self.followup16),
            F::Followup16Date => date(self.followup16_date),
            F::Followup16By => opt(&self.followup16_by),
            F::Therapy16w => self.therapy_16w.map(|t| t.code().to_owned()).unwrap_or_default(),
            F::StrengthBalance16w => opt(&self.strength_balance_16w),
            F::CalciumVitd16w => opt(&self.calcium_vitd_16w),
            F::Followup52 => opt(&self.followup52),
            F::Followup52Date => date(self.followup52_date),
            F::Followup52By => opt(&self.followup52_by),
            F::Therapy52w => self.therapy_52w.map(|t| t.code().to_owned()).unwrap_or_default(),
            F::Refractures => opt(&self.refractures),
            F::RefractureSites => format_multi(&self.refracture_sites, FractureSite::code),
            F::DeathDate => date(self.death_date),
        }
    }

    /// All canonical cells in field order.
    pub fn cells(&self) -> Vec<String> {
        Field::ALL.iter().map(|f| self.cell(*f)).collect()
    }
}
