//! What can be wrong with a value, a row or a file, in words a data manager can act on.

use crate::Field;
use std::fmt;

/// How a problem affects the row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Breaks a rule of the dataset: the row is rejected.
    Invalid,
    /// A valid row the audit does not cover (under 50, fracture before 2016): rejected too.
    Ineligible,
    /// Accepted, but reported.
    Warning,
}

impl Severity {
    pub fn code(self) -> &'static str {
        match self {
            Severity::Invalid => "invalid",
            Severity::Ineligible => "ineligible",
            Severity::Warning => "warning",
        }
    }

    pub fn rejects(self) -> bool {
        self != Severity::Warning
    }
}

macro_rules! rules {
    ($($variant:ident => $code:literal,)+) => {
        /// The rule a problem breaks; its code is the `rule` column of error reports.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Rule { $($variant),+ }
        impl Rule {
            pub const fn code(self) -> &'static str {
                match self { $(Rule::$variant => $code),+ }
            }
        }
    };
}

rules! {
    Required => "required",
    Code => "code",
    Date => "date_format",
    TwoDigitYear => "two_digit_year",
    ImpossibleDate => "impossible_date",
    Future => "not_in_future",
    Number => "number_format",
    Range => "range",
    DecimalPlaces => "decimal_places",
    NhsNumberFormat => "nhs_number_format",
    NhsNumberCheckDigit => "nhs_number_check_digit",
    NhsNumberRange => "nhs_number_range",
    Postcode => "postcode_format",
    Text => "text",
    LocalIdIsNhsNumber => "local_id_is_nhs_number",
    MultiEmpty => "multi_empty_value",
    MultiRepeat => "multi_repeated_value",
    MultiTooMany => "multi_too_many",
    RepeatsFractureSite => "repeats_fracture_site",
    TherapyCombination => "therapy_combination",
    DateOrder => "date_order",
    OnlyWith => "only_with",
    RequiredWith => "required_with",
    AgeOver115 => "age_over_115",
    AfterDeath => "after_death",
    UnderFifty => "under_50",
    BornAfterFracture => "born_after_fracture",
    FractureBefore2016 => "fracture_before_2016",
    AssessmentAfter730Days => "assessment_after_730_days",
    Followup16Window => "followup16_window",
    Followup52Window => "followup52_window",
    UnknownService => "unknown_service",
    NotYourService => "not_your_service",
    DuplicateKey => "duplicate_key",
    CellCount => "cell_count",
    Encoding => "encoding",
    Header => "header",
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One problem with one field of one record. The row number is added by whoever read the row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub field: Field,
    /// The value as given (trimmed), so the report shows what the user typed.
    pub value: String,
    pub rule: Rule,
    pub severity: Severity,
    pub message: String,
}

impl Problem {
    pub fn invalid(field: Field, value: &str, rule: Rule, message: impl Into<String>) -> Self {
        Self::new(field, value, rule, Severity::Invalid, message)
    }

    pub fn new(field: Field, value: &str, rule: Rule, severity: Severity, message: impl Into<String>) -> Self {
        Problem { field, value: value.to_owned(), rule, severity, message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.field, self.rule, self.message)
    }
}
