//! The canonical fields of a record, in the order of `dataset.md` (which is also the export order).

use std::fmt;

macro_rules! fields {
    ($($variant:ident => $name:literal, $required:literal;)+) => {
        /// One canonical column of the records file.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Field { $($variant),+ }

        impl Field {
            pub const ALL: &'static [Field] = &[$(Field::$variant),+];
            pub const COUNT: usize = Field::ALL.len();

            pub const fn name(self) -> &'static str {
                match self { $(Field::$variant => $name),+ }
            }

            /// A required field must have a column in every file and a value in every row.
            pub const fn is_required(self) -> bool {
                match self { $(Field::$variant => $required),+ }
            }
        }
    };
}

fields! {
    ServiceCode => "service_code", true;
    LocalId => "local_id", true;
    NhsNumber => "nhs_number", false;
    DateOfBirth => "date_of_birth", true;
    Sex => "sex", false;
    Postcode => "postcode", false;
    CareHome => "care_home", false;
    FlsContactDate => "fls_contact_date", false;
    FlsAssessmentDate => "fls_assessment_date", false;
    Admitted => "admitted", false;
    FractureDate => "fracture_date", true;
    FractureIdentification => "fracture_identification", false;
    FractureSite => "fracture_site", true;
    OtherFractureSites => "other_fracture_sites", false;
    HeightCm => "height_cm", false;
    WeightKg => "weight_kg", false;
    PreviousFracture => "previous_fracture", false;
    ParentalHipFracture => "parental_hip_fracture", false;
    Smoker => "smoker", false;
    OnBoneTherapy => "on_bone_therapy", false;
    FallsHistory => "falls_history", false;
    Dxa => "dxa", false;
    DxaDate => "dxa_date", false;
    TScore => "t_score", false;
    FraxMajor => "frax_major", false;
    BoneTherapyRecommended => "bone_therapy_recommended", false;
    CalciumVitdRecommended => "calcium_vitd_recommended", false;
    FallsAssessment => "falls_assessment", false;
    Followup16 => "followup16", false;
    Followup16Date => "followup16_date", false;
    Followup16By => "followup16_by", false;
    Therapy16w => "therapy_16w", false;
    StrengthBalance16w => "strength_balance_16w", false;
    CalciumVitd16w => "calcium_vitd_16w", false;
    Followup52 => "followup52", false;
    Followup52Date => "followup52_date", false;
    Followup52By => "followup52_by", false;
    Therapy52w => "therapy_52w", false;
    Refractures => "refractures", false;
    RefractureSites => "refracture_sites", false;
    DeathDate => "death_date", false;
}

impl Field {
    /// Matches a header cell: trimmed, case-insensitive.
    pub fn from_header(header: &str) -> Option<Field> {
        let header = header.trim();
        Field::ALL.iter().copied().find(|f| f.name().eq_ignore_ascii_case(header))
    }

    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forty_one_fields_in_spec_order() {
        assert_eq!(Field::COUNT, 41);
        assert_eq!(Field::ALL[0], Field::ServiceCode);
        assert_eq!(Field::ALL[40], Field::DeathDate);
        for (i, f) in Field::ALL.iter().enumerate() {
            assert_eq!(f.index(), i);
        }
        let required: Vec<_> = Field::ALL.iter().filter(|f| f.is_required()).map(|f| f.name()).collect();
        assert_eq!(required, ["service_code", "local_id", "date_of_birth", "fracture_date", "fracture_site"]);
    }

    #[test]
    fn header_matching() {
        assert_eq!(Field::from_header(" NHS_Number "), Some(Field::NhsNumber));
        assert_eq!(Field::from_header("nhs number"), None);
    }
}
