//! The code lists of `dataset.md`. Each code is an enum; input accepts the code or its human label
//! (the code with `_` written as a space) in any case, and nothing else.

use std::fmt;

/// Declares a code list: an enum whose variants map one-to-one to canonical lower-case codes.
macro_rules! code_list {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $code:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// Parses a code or its label, case-insensitively (as [`code_matches`] decides,
            /// but with one normalisation of the input rather than two comparisons per code).
            #[inline]
            pub fn parse(input: &str) -> Option<Self> {
                // Most cells hold the code itself, which is its own normal form.
                Self::from_normalised(input.as_bytes()).or_else(|| {
                    let mut buffer = [0u8; NORMALISED_MAX];
                    Self::from_normalised(normalise(input, &mut buffer)?)
                })
            }

            /// A code given exactly (lower case, `_` for spaces), e.g. from [`normalise`].
            #[inline]
            fn from_normalised(code: &[u8]) -> Option<Self> {
                Self::ALL.iter().copied().find(|c| c.code().as_bytes() == code)
            }

            /// The accepted codes, for error messages.
            pub fn expected() -> String {
                Self::ALL.iter().map(|c| c.code()).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.code()) }
        }
    };
}

/// True when `input` is `code`, or its label (every `_` written as a space), ignoring case: the
/// rule as the dataset states it, kept as the reference the look-up in `parse` is tested against.
#[cfg(test)]
pub(crate) fn code_matches(code: &str, input: &str) -> bool {
    let same = |label: bool| {
        code.bytes().zip(input.bytes()).all(|(c, i)| {
            let c = if label && c == b'_' { b' ' } else { c };
            c == i.to_ascii_lowercase()
        })
    };
    code.len() == input.len() && (same(false) || same(true))
}

/// Longer than any code (the longest, `no_longer_appropriate`, has 21 bytes).
const NORMALISED_MAX: usize = 24;

/// The one code `input` can match under [`code_matches`]: lower-cased, with every space written
/// as `_`. A code matches when it is the input itself (no spaces allowed then) or its label
/// (no `_` allowed then), so an input with both can match nothing, nor can one longer than
/// every code. `None` for those.
#[inline]
pub(crate) fn normalise<'b>(input: &str, buffer: &'b mut [u8; NORMALISED_MAX]) -> Option<&'b [u8]> {
    let bytes = input.as_bytes();
    let out = buffer.get_mut(..bytes.len())?;
    let (mut space, mut underscore) = (false, false);
    for (o, b) in out.iter_mut().zip(bytes) {
        space |= *b == b' ';
        underscore |= *b == b'_';
        *o = if *b == b' ' { b'_' } else { b.to_ascii_lowercase() };
    }
    (!(space && underscore)).then_some(&*out)
}

code_list!(Sex { Male => "male", Female => "female", Other => "other", Unknown => "unknown" });

code_list!(
    /// A yes/no field. `Unknown` is a recorded answer; an empty cell is `None` (missing).
    YesNo { Yes => "yes", No => "no", Unknown => "unknown" }
);

impl YesNo {
    /// Yes/no fields also take `y`, `n`, `true`, `false`, `1` and `0`.
    #[inline]
    pub fn parse_flexible(input: &str) -> Option<Self> {
        // The synonyms have no space or `_`, so normalising leaves them lower-cased only.
        if let Some(exact) = Self::from_normalised(input.as_bytes()) {
            return Some(exact);
        }
        let mut buffer = [0u8; NORMALISED_MAX];
        let code = normalise(input, &mut buffer)?;
        Self::from_normalised(code).or(match code {
            b"y" | b"true" | b"1" => Some(YesNo::Yes),
            b"n" | b"false" | b"0" => Some(YesNo::No),
            _ => None,
        })
    }
}

code_list!(Admitted { Inpatient => "inpatient", Outpatient => "outpatient", Unknown => "unknown" });

code_list!(FractureIdentification {
    Clinical => "clinical",
    Radiological => "radiological",
    Unknown => "unknown",
});

code_list!(FractureSite {
    Hip => "hip",
    Spine => "spine",
    Wrist => "wrist",
    Humerus => "humerus",
    Pelvis => "pelvis",
    Other => "other",
});

code_list!(Smoker { Current => "current", Ex => "ex", Never => "never", Unknown => "unknown" });

code_list!(FallsHistory { None => "none", One => "one", TwoOrMore => "two_or_more", Unknown => "unknown" });

code_list!(Dxa {
    Ordered => "ordered",
    Recommended => "recommended",
    NotRequired => "not_required",
    Declined => "declined",
    NotPossible => "not_possible",
    Unknown => "unknown",
});

impl Dxa {
    /// A scan the FLS requested or recommended: the only values that may carry a `dxa_date`.
    pub fn is_requested(self) -> bool {
        matches!(self, Dxa::Ordered | Dxa::Recommended)
    }
}

code_list!(
    /// Anti-osteoporosis drugs (`hrt` = systemic oestrogens).
    Drug {
        Alendronate => "alendronate",
        Risedronate => "risedronate",
        Ibandronate => "ibandronate",
        Zoledronate => "zoledronate",
        Denosumab => "denosumab",
        Teriparatide => "teriparatide",
        Abaloparatide => "abaloparatide",
        Romosozumab => "romosozumab",
        Raloxifene => "raloxifene",
        Hrt => "hrt",
    }
);

code_list!(
    /// The non-drug answers of `bone_therapy_recommended` (4.01); each stands alone.
    RecommendationOther {
        NotIndicated => "not_indicated",
        InformedDecline => "informed_decline",
        ReferredSpecialist => "referred_specialist",
        ReferredGp => "referred_gp",
        Unknown => "unknown",
    }
);

code_list!(
    /// The non-drug answers of `therapy_16w` / `therapy_52w`.
    TherapyOther {
        NotStarted => "not_started",
        InformedDecline => "informed_decline",
        NoLongerAppropriate => "no_longer_appropriate",
        ReferredSpecialist => "referred_specialist",
        Unknown => "unknown",
    }
);

code_list!(FallsAssessment {
    Done => "done",
    Referred => "referred",
    Recommended => "recommended",
    NotIndicated => "not_indicated",
    Declined => "declined",
    NotDone => "not_done",
    Unknown => "unknown",
});

impl FallsAssessment {
    /// Done by the FLS, referred to a falls service, or recommended to another clinician (kpi6).
    pub fn is_assessed(self) -> bool {
        matches!(self, FallsAssessment::Done | FallsAssessment::Referred | FallsAssessment::Recommended)
    }
}

code_list!(FollowupBy { Fls => "fls", Gp => "gp", Other => "other" });

code_list!(Setting {
    Hospital => "hospital",
    PrimaryCare => "primary_care",
    Community => "community",
    Network => "network",
});

/// Medication being taken at a follow-up: a drug, or one of the other answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Therapy {
    Drug(Drug),
    Other(TherapyOther),
}

impl Therapy {
    pub fn parse(input: &str) -> Option<Self> {
        let exact = input.as_bytes();
        if let Some(t) = Drug::from_normalised(exact).map(Therapy::Drug) {
            return Some(t);
        }
        if let Some(t) = TherapyOther::from_normalised(exact).map(Therapy::Other) {
            return Some(t);
        }
        let mut buffer = [0u8; NORMALISED_MAX];
        let code = normalise(input, &mut buffer)?;
        Drug::from_normalised(code)
            .map(Therapy::Drug)
            .or_else(|| TherapyOther::from_normalised(code).map(Therapy::Other))
    }

    pub fn code(self) -> &'static str {
        match self {
            Therapy::Drug(d) => d.code(),
            Therapy::Other(o) => o.code(),
        }
    }

    pub fn is_drug(self) -> bool {
        matches!(self, Therapy::Drug(_))
    }

    pub fn is_unknown(self) -> bool {
        self == Therapy::Other(TherapyOther::Unknown)
    }

    pub fn expected() -> String {
        format!("{}, {}", Drug::expected(), TherapyOther::expected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_labels_in_any_case() {
        assert_eq!(FallsHistory::parse("two_or_more"), Some(FallsHistory::TwoOrMore));
        assert_eq!(FallsHistory::parse("Two or more"), Some(FallsHistory::TwoOrMore));
        assert_eq!(FallsHistory::parse("TWO OR MORE"), Some(FallsHistory::TwoOrMore));
        assert_eq!(FallsHistory::parse("two_or more"), None, "half code, half label");
        assert_eq!(FallsHistory::parse("two  or more"), None);
        assert_eq!(FallsHistory::parse("twoormore"), None);
        assert_eq!(TherapyOther::parse("Informed decline"), Some(TherapyOther::InformedDecline));
        assert_eq!(Drug::parse("HRT"), Some(Drug::Hrt));
        assert_eq!(Drug::parse("hrt "), None, "cells are trimmed before parsing, not here");
    }

    /// The normalised look-up agrees with the reference comparison on every code, its label,
    /// and mangled, mixed, padded, non-ASCII and over-long forms of both.
    #[test]
    fn parse_agrees_with_code_matches() {
        fn check<T: Copy + PartialEq + std::fmt::Debug>(
            all: &[T],
            code: fn(T) -> &'static str,
            parse: fn(&str) -> Option<T>,
        ) {
            let mut inputs: Vec<String> = vec![
                String::new(),
                " ".into(),
                "_".into(),
                "y".into(),
                "true".into(),
                "é".into(),
                "x".repeat(30),
                "two_or more".into(),
                "two or_more".into(),
            ];
            for c in all {
                let c = code(*c);
                let label = c.replace('_', " ");
                for form in [
                    c.to_owned(),
                    c.to_uppercase(),
                    label.clone(),
                    label.to_uppercase(),
                    format!("{c} "),
                    format!(" {c}"),
                    format!("{c}x"),
                    c[..c.len() - 1].to_owned(),
                    c.replacen('_', " ", 1),
                    label.replacen(' ', "_", 1),
                    c.replace('a', "\u{e1}"),
                    format!("{c}{}", "_".repeat(24)),
                    c.replace('_', "  "),
                    c.replace('_', "-"),
                ] {
                    inputs.push(form);
                }
            }
            for input in &inputs {
                let expected = all.iter().copied().find(|c| code_matches(code(*c), input));
                assert_eq!(parse(input), expected, "{input:?}");
            }
        }
        check(Sex::ALL, Sex::code, Sex::parse);
        check(YesNo::ALL, YesNo::code, YesNo::parse);
        check(FallsHistory::ALL, FallsHistory::code, FallsHistory::parse);
        check(Dxa::ALL, Dxa::code, Dxa::parse);
        check(Drug::ALL, Drug::code, Drug::parse);
        check(RecommendationOther::ALL, RecommendationOther::code, RecommendationOther::parse);
        check(TherapyOther::ALL, TherapyOther::code, TherapyOther::parse);
        check(FallsAssessment::ALL, FallsAssessment::code, FallsAssessment::parse);
        check(FractureSite::ALL, FractureSite::code, FractureSite::parse);
        check(FollowupBy::ALL, FollowupBy::code, FollowupBy::parse);
    }

    #[test]
    fn yes_no_synonyms() {
        for (input, expected) in [
            ("yes", YesNo::Yes),
            ("Y", YesNo::Yes),
            ("TRUE", YesNo::Yes),
            ("1", YesNo::Yes),
            ("no", YesNo::No),
            ("n", YesNo::No),
            ("False", YesNo::No),
            ("0", YesNo::No),
            ("Unknown", YesNo::Unknown),
        ] {
            assert_eq!(YesNo::parse_flexible(input), Some(expected), "{input}");
        }
        assert_eq!(YesNo::parse_flexible("2"), None);
        assert_eq!(YesNo::parse_flexible("maybe"), None);
    }

    #[test]
    fn every_code_round_trips() {
        fn check<T: Copy + PartialEq + std::fmt::Debug>(
            all: &[T],
            code: fn(T) -> &'static str,
            parse: fn(&str) -> Option<T>,
        ) {
            for &c in all {
                assert_eq!(parse(code(c)), Some(c));
                assert_eq!(parse(&code(c).replace('_', " ").to_uppercase()), Some(c));
            }
        }
        check(Sex::ALL, Sex::code, Sex::parse);
        check(YesNo::ALL, YesNo::code, YesNo::parse);
        check(Admitted::ALL, Admitted::code, Admitted::parse);
        check(FractureIdentification::ALL, FractureIdentification::code, FractureIdentification::parse);
        check(FractureSite::ALL, FractureSite::code, FractureSite::parse);
        check(Smoker::ALL, Smoker::code, Smoker::parse);
        check(FallsHistory::ALL, FallsHistory::code, FallsHistory::parse);
        check(Dxa::ALL, Dxa::code, Dxa::parse);
        check(Drug::ALL, Drug::code, Drug::parse);
        check(RecommendationOther::ALL, RecommendationOther::code, RecommendationOther::parse);
        check(TherapyOther::ALL, TherapyOther::code, TherapyOther::parse);
        check(FallsAssessment::ALL, FallsAssessment::code, FallsAssessment::parse);
        check(FollowupBy::ALL, FollowupBy::code, FollowupBy::parse);
        check(Setting::ALL, Setting::code, Setting::parse);
        assert_eq!(Drug::ALL.len(), 10);
        assert_eq!(FallsAssessment::ALL.len(), 7);
    }
}
