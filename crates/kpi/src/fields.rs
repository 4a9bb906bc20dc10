//! Generic, allocation-free access to a [`Record`]'s fields by [`Field`], for the condition
//! language: presence, code indices, dates and drugs ([`Facts`]).

use flsdb_dataset::Field;
use flsdb_dataset::Recommendation;
use flsdb_dataset::Record;
use flsdb_dataset::codes::*;
use time::Date;

/// The codes of a single-valued code field, in the order of [`code_index`].
pub(crate) fn code_list(field: Field) -> Option<Vec<&'static str>> {
    use Field as F;
    fn codes<T: Copy>(all: &[T], code: fn(T) -> &'static str) -> Option<Vec<&'static str>> {
        Some(all.iter().map(|c| code(*c)).collect())
    }
    match field {
        F::Sex => codes(Sex::ALL, Sex::code),
        F::CareHome
        | F::PreviousFracture
        | F::ParentalHipFracture
        | F::OnBoneTherapy
        | F::CalciumVitdRecommended
        | F::Followup16
        | F::StrengthBalance16w
        | F::CalciumVitd16w
        | F::Followup52 => codes(YesNo::ALL, YesNo::code),
        F::Admitted => codes(Admitted::ALL, Admitted::code),
        F::FractureIdentification => codes(FractureIdentification::ALL, FractureIdentification::code),
        F::FractureSite => codes(FractureSite::ALL, FractureSite::code),
        F::Smoker => codes(Smoker::ALL, Smoker::code),
        F::FallsHistory => codes(FallsHistory::ALL, FallsHistory::code),
        F::Dxa => codes(Dxa::ALL, Dxa::code),
        F::FallsAssessment => codes(FallsAssessment::ALL, FallsAssessment::code),
        F::Followup16By | F::Followup52By => codes(FollowupBy::ALL, FollowupBy::code),
        F::Therapy16w | F::Therapy52w => {
            Some(Drug::ALL.iter().map(|d| d.code()).chain(TherapyOther::ALL.iter().map(|o| o.code())).collect())
        }
        _ => None,
    }
}

fn therapy_index(t: Therapy) -> u8 {
    match t {
        Therapy::Drug(d) => d as u8,
        Therapy::Other(o) => Drug::ALL.len() as u8 + o as u8,
    }
}

/// True for the fields [`Facts::days`] holds.
pub(crate) fn is_date_field(field: Field) -> bool {
    use Field as F;
    matches!(
        field,
        F::DateOfBirth
            | F::FlsContactDate
            | F::FlsAssessmentDate
            | F::FractureDate
            | F::DxaDate
            | F::Followup16Date
            | F::Followup52Date
            | F::DeathDate
    )
}

/// True for the fields whose drug flag [`Facts::drugs`] holds.
pub(crate) fn is_drug_field(field: Field) -> bool {
    matches!(field, Field::BoneTherapyRecommended | Field::Therapy16w | Field::Therapy52w)
}

/// What the conditions read from one record, extracted once and without branching on field
/// names, so that evaluating a set's conditions is a few table look-ups per condition.
pub(crate) struct Facts {
    /// Per field: the position of the value in [`code_list`], or [`Facts::NO_CODE`].
    pub codes: [u8; Field::COUNT],
    /// Per date field: days from `fracture_date` (may be negative), or [`Facts::NO_DATE`].
    pub days: [i32; Field::COUNT],
    /// Bit per field: present (not empty, not `unknown`), the kpi1 / iof11 sense.
    pub known: u64,
    /// Bit per field: holds a drug (`bone_therapy_recommended`, `therapy_16w`, `therapy_52w`).
    pub drugs: u64,
}

// Presence and drug flags are bits of a u64, one per field.
const _: () = assert!(Field::COUNT <= 64);

impl Facts {
    pub const NO_CODE: u8 = u8::MAX;
    pub const NO_DATE: i32 = i32::MIN;

    pub fn of(r: &Record) -> Facts {
        use Field as F;
        let fracture = r.fracture_date.to_julian_day();
        let mut codes = [Self::NO_CODE; Field::COUNT];
        let mut days = [Self::NO_DATE; Field::COUNT];
        let mut known = 0u64;
        let mut drugs = 0u64;
        let mut code = |f: F, v: Option<u8>| codes[f.index()] = v.unwrap_or(Self::NO_CODE);
        code(F::Sex, r.sex.map(|v| v as u8));
        code(F::CareHome, r.care_home.map(|v| v as u8));
        code(F::PreviousFracture, r.previous_fracture.map(|v| v as u8));
        code(F::ParentalHipFracture, r.parental_hip_fracture.map(|v| v as u8));
        code(F::OnBoneTherapy, r.on_bone_therapy.map(|v| v as u8));
        code(F::CalciumVitdRecommended, r.calcium_vitd_recommended.map(|v| v as u8));
        code(F::Followup16, r.followup16.map(|v| v as u8));
        code(F::StrengthBalance16w, r.strength_balance_16w.map(|v| v as u8));
        code(F::CalciumVitd16w, r.calcium_vitd_16w.map(|v| v as u8));
        code(F::Followup52, r.followup52.map(|v| v as u8));
        code(F::Admitted, r.admitted.map(|v| v as u8));
        code(F::FractureIdentification, r.fracture_identification.map(|v| v as u8));
        code(F::FractureSite, Some(r.fracture_site as u8));
        code(F::Smoker, r.smoker.map(|v| v as u8));
        code(F::FallsHistory, r.falls_history.map(|v| v as u8));
        code(F::Dxa, r.dxa.map(|v| v as u8));
        code(F::FallsAssessment, r.falls_assessment.map(|v| v as u8));
        code(F::Followup16By, r.followup16_by.map(|v| v as u8));
        code(F::Followup52By, r.followup52_by.map(|v| v as u8));
        code(F::Therapy16w, r.therapy_16w.map(therapy_index));
        code(F::Therapy52w, r.therapy_52w.map(therapy_index));
        let mut day = |f: F, d: Option<Date>| {
            if let Some(d) = d {
                days[f.index()] = d.to_julian_day() - fracture;
            }
        };
        day(F::DateOfBirth, Some(r.date_of_birth));
        day(F::FlsContactDate, r.fls_contact_date);
        day(F::FlsAssessmentDate, r.fls_assessment_date);
        day(F::FractureDate, Some(r.fracture_date));
        day(F::DxaDate, r.dxa_date);
        day(F::Followup16Date, r.followup16_date);
        day(F::Followup52Date, r.followup52_date);
        day(F::DeathDate, r.death_date);
        let yn = |v: Option<YesNo>| matches!(v, Some(YesNo::Yes | YesNo::No));
        let present = [
            (F::ServiceCode, true),
            (F::LocalId, true),
            (F::NhsNumber, r.nhs_number.is_some()),
            (F::DateOfBirth, true),
            (F::Sex, r.sex.is_some_and(|v| v != Sex::Unknown)),
            (F::Postcode, r.postcode.is_some()),
            (F::CareHome, yn(r.care_home)),
            (F::FlsContactDate, r.fls_contact_date.is_some()),
            (F::FlsAssessmentDate, r.fls_assessment_date.is_some()),
            (F::Admitted, r.admitted.is_some_and(|v| v != Admitted::Unknown)),
            (F::FractureDate, true),
            (
                F::FractureIdentification,
                r.fracture_identification.is_some_and(|v| v != FractureIdentification::Unknown),
            ),
            (F::FractureSite, true),
            (F::OtherFractureSites, !r.other_fracture_sites.is_empty()),
            (F::HeightCm, r.height_cm.is_some()),
            (F::WeightKg, r.weight_kg.is_some()),
            (F::PreviousFracture, yn(r.previous_fracture)),
            (F::ParentalHipFracture, yn(r.parental_hip_fracture)),
            (F::Smoker, r.smoker.is_some_and(|v| v != Smoker::Unknown)),
            (F::OnBoneTherapy, yn(r.on_bone_therapy)),
            (F::FallsHistory, r.falls_history.is_some_and(|v| v != FallsHistory::Unknown)),
            (F::Dxa, r.dxa.is_some_and(|v| v != Dxa::Unknown)),
            (F::DxaDate, r.dxa_date.is_some()),
            (F::TScore, r.t_score.is_some()),
            (F::FraxMajor, r.frax_major.is_some()),
            (F::BoneTherapyRecommended, r.bone_therapy_recommended.is_some_and(|v| !v.is_unknown())),
            (F::CalciumVitdRecommended, yn(r.calcium_vitd_recommended)),
            (F::FallsAssessment, r.falls_assessment.is_some_and(|v| v != FallsAssessment::Unknown)),
            (F::Followup16, yn(r.followup16)),
            (F::Followup16Date, r.followup16_date.is_some()),
            (F::Followup16By, r.followup16_by.is_some()),
            (F::Therapy16w, r.therapy_16w.is_some_and(|v| !v.is_unknown())),
            (F::StrengthBalance16w, yn(r.strength_balance_16w)),
            (F::CalciumVitd16w, yn(r.calcium_vitd_16w)),
            (F::Followup52, yn(r.followup52)),
            (F::Followup52Date, r.followup52_date.is_some()),
            (F::Followup52By, r.followup52_by.is_some()),
            (F::Therapy52w, r.therapy_52w.is_some_and(|v| !v.is_unknown())),
            (F::Refractures, r.refractures.is_some()),
            (F::RefractureSites, !r.refracture_sites.is_empty()),
            (F::DeathDate, r.death_date.is_some()),
        ];
        for (f, p) in present {
            known |= u64::from(p) << f.index();
        }
        for (f, d) in [
            (F::BoneTherapyRecommended, r.bone_therapy_recommended.is_some_and(Recommendation::has_drug)),
            (F::Therapy16w, r.therapy_16w.is_some_and(Therapy::is_drug)),
            (F::Therapy52w, r.therapy_52w.is_some_and(Therapy::is_drug)),
        ] {
            drugs |= u64::from(d) << f.index();
        }
        Facts { codes, days, known, drugs }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_lists_match_enum_order() {
        // `code_index` casts enums to their position: check it agrees with the lists.
        for (i, s) in FractureSite::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
        }
        for (i, d) in Drug::ALL.iter().enumerate() {
            assert_eq!(*d as usize, i);
        }
        for (i, o) in TherapyOther::ALL.iter().enumerate() {
            assert_eq!(o.code(), code_list(Field::Therapy16w).unwrap_or_default()[Drug::ALL.len() + i]);
        }
        for field in Field::ALL {
            if let Some(list) = code_list(*field) {
                assert!(list.len() <= 32, "{field} has too many codes for a mask");
            }
        }
    }

    /// Every field the condition language accepts is extracted: a code field has a code, a date
    /// field a day offset, a drug field its flag, and every filled field is known.
    #[test]
    fn facts_cover_every_field() {
        use flsdb_dataset::{Validation, parse_record};
        use time::macros::date;
        let values: &[(Field, &str)] = &[
            (Field::ServiceCode, "AAA"),
            (Field::LocalId, "L1"),
            (Field::NhsNumber, "9434765919"),
            (Field::DateOfBirth, "1940-01-01"),
            (Field::Sex, "female"),
            (Field::Postcode, "SW1A 1AA"),
            (Field::CareHome, "no"),
            (Field::FlsContactDate, "2019-06-02"),
            (Field::FlsAssessmentDate, "2019-06-03"),
            (Field::Admitted, "inpatient"),
            (Field::FractureDate, "2019-06-01"),
            (Field::FractureIdentification, "clinical"),
            (Field::FractureSite, "wrist"),
            (Field::OtherFractureSites, "hip"),
            (Field::HeightCm, "160"),
            (Field::WeightKg, "60"),
            (Field::PreviousFracture, "yes"),
            (Field::ParentalHipFracture, "no"),
            (Field::Smoker, "never"),
            (Field::OnBoneTherapy, "no"),
            (Field::FallsHistory, "one"),
            (Field::Dxa, "ordered"),
            (Field::DxaDate, "2019-06-20"),
            (Field::TScore, "-2.5"),
            (Field::FraxMajor, "20"),
            (Field::BoneTherapyRecommended, "alendronate"),
            (Field::CalciumVitdRecommended, "yes"),
            (Field::FallsAssessment, "done"),
            (Field::Followup16, "yes"),
            (Field::Followup16Date, "2019-09-01"),
            (Field::Followup16By, "fls"),
            (Field::Therapy16w, "alendronate"),
            (Field::StrengthBalance16w, "yes"),
            (Field::CalciumVitd16w, "yes"),
            (Field::Followup52, "yes"),
            (Field::Followup52Date, "2020-06-01"),
            (Field::Followup52By, "gp"),
            (Field::Therapy52w, "alendronate"),
            (Field::Refractures, "1"),
            (Field::RefractureSites, "spine"),
            (Field::DeathDate, "2020-07-01"),
        ];
        assert_eq!(values.len(), Field::COUNT);
        let mut cells = [""; Field::COUNT];
        for (f, v) in values {
            cells[f.index()] = v;
        }
        let rules = Validation { today: date!(2030 - 01 - 01), allow_test_nhs_numbers: true };
        let record = parse_record(&cells, rules).expect("valid").record;
        let facts = Facts::of(&record);
        for field in Field::ALL {
            let i = field.index();
            assert!(facts.known & (1 << i) != 0, "{field} is known");
            if code_list(*field).is_some() {
                assert_ne!(facts.codes[i], Facts::NO_CODE, "{field} has a code");
            }
            if is_date_field(*field) {
                assert_ne!(facts.days[i], Facts::NO_DATE, "{field} has a day offset");
            }
            if is_drug_field(*field) {
                assert!(facts.drugs & (1 << i) != 0, "{field} holds a drug");
            }
        }
        assert_eq!(facts.days[Field::FlsAssessmentDate.index()], 2);
        assert_eq!(facts.days[Field::FractureDate.index()], 0);
        assert_eq!(facts.codes[Field::FractureSite.index()], FractureSite::Wrist as u8);
    }
}
