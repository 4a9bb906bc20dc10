//! The one place where a [`Record`] becomes a `records` row and back.
//!
//! Columns are named after the canonical fields and come in [`Field::ALL`] order. Dates, numbers
//! and the NHS number have typed columns; codes, multi-value fields (`a;b`), the postcode and the
//! ids are their canonical text. A single row (`get_record`) is read back by rebuilding the
//! canonical cells and running them through [`parse_record`], so it can only ever become a
//! *valid* record (the dataset's one validation, with test NHS numbers allowed and no "future"
//! limit, since a row was valid on the day it was stored). Bulk reads (`read.rs`) rebuild each
//! field through its own type instead, which is many times faster for a national dataset.

use crate::db::{Kind, RowRef, Value};
use crate::{Result, StoreError};
use flsdb_dataset::values::format_date;
use flsdb_dataset::{Cells, Field, Record, Validation, parse_record};
use std::sync::{Arc, LazyLock};
use time::macros::date;

/// How a stored row is re-validated (see the module comment).
const STORED: Validation = Validation { today: date!(9999 - 12 - 31), allow_test_nhs_numbers: true };

/// `service_code, local_id, …, death_date`: the record columns in field order.
pub(crate) static RECORD_COLUMNS: LazyLock<String> =
    LazyLock::new(|| Field::ALL.iter().map(|f| f.name()).collect::<Vec<_>>().join(", "));

pub(crate) static RECORD_KINDS: LazyLock<Vec<Kind>> = LazyLock::new(|| Field::ALL.iter().map(|f| kind(*f)).collect());

/// The column type of a field; must agree with [`value`] and with both migrations.
pub(crate) fn kind(field: Field) -> Kind {
    use Field as F;
    match field {
        F::NhsNumber => Kind::Int,
        F::Refractures => Kind::Int16,
        F::DateOfBirth
        | F::FlsContactDate
        | F::FlsAssessmentDate
        | F::FractureDate
        | F::DxaDate
        | F::Followup16Date
        | F::Followup52Date
        | F::DeathDate => Kind::Date,
        F::HeightCm | F::WeightKg | F::TScore | F::FraxMajor => Kind::Real,
        _ => Kind::Text,
    }
}

/// Shares one allocation per distinct code text (service codes, code lists, multi-value
/// combinations: a few hundred texts across a million records); see [`Value::Shared`].
#[derive(Default)]
pub(crate) struct Interner(foldhash::HashMap<String, Arc<str>>);

impl Interner {
    fn get(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.0.get(text) {
            return shared.clone();
        }
        let shared: Arc<str> = text.into();
        // A bound, in case some text field turns out to hold free text after all.
        if self.0.len() < 10_000 {
            self.0.insert(text.to_owned(), shared.clone());
        }
        shared
    }
}

/// The code of a single-code field, straight from its type (no text built): `None` for other
/// fields, `Some(None)` when the field is empty. The same text as [`Record::cell`] writes.
fn single_code(r: &Record, field: Field) -> Option<Option<&'static str>> {
    use Field as F;
    Some(match field {
        F::Sex => r.sex.map(|c| c.code()),
        F::CareHome => r.care_home.map(|c| c.code()),
        F::Admitted => r.admitted.map(|c| c.code()),
        F::FractureIdentification => r.fracture_identification.map(|c| c.code()),
        F::FractureSite => Some(r.fracture_site.code()),
        F::PreviousFracture => r.previous_fracture.map(|c| c.code()),
        F::ParentalHipFracture => r.parental_hip_fracture.map(|c| c.code()),
        F::Smoker => r.smoker.map(|c| c.code()),
        F::OnBoneTherapy => r.on_bone_therapy.map(|c| c.code()),
        F::FallsHistory => r.falls_history.map(|c| c.code()),
        F::Dxa => r.dxa.map(|c| c.code()),
        F::CalciumVitdRecommended => r.calcium_vitd_recommended.map(|c| c.code()),
        F::FallsAssessment => r.falls_assessment.map(|c| c.code()),
        F::Followup16 => r.followup16.map(|c| c.code()),
        F::Followup16By => r.followup16_by.map(|c| c.code()),
        F::Therapy16w => r.therapy_16w.map(|c| c.code()),
        F::StrengthBalance16w => r.strength_balance_16w.map(|c| c.code()),
        F::CalciumVitd16w => r.calcium_vitd_16w.map(|c| c.code()),
        F::Followup52 => r.followup52.map(|c| c.code()),
        F::Followup52By => r.followup52_by.map(|c| c.code()),
        F::Therapy52w => r.therapy_52w.map(|c| c.code()),
        _ => return None,
    })
}

fn value(r: &Record, field: Field, interner: &mut Interner) -> Value {
    use Field as F;
    match field {
        // Ten digits fit an i64 with room to spare.
        F::NhsNumber => Value::Int(r.nhs_number.map(|n| n.as_u64() as i64)),
        F::Refractures => Value::Int(r.refractures.map(i64::from)),
        F::DateOfBirth => Value::Date(Some(r.date_of_birth)),
        F::FractureDate => Value::Date(Some(r.fracture_date)),
        F::FlsContactDate => Value::Date(r.fls_contact_date),
        F::FlsAssessmentDate => Value::Date(r.fls_assessment_date),
        F::DxaDate => Value::Date(r.dxa_date),
        F::Followup16Date => Value::Date(r.followup16_date),
        F::Followup52Date => Value::Date(r.followup52_date),
        F::DeathDate => Value::Date(r.death_date),
        F::HeightCm => Value::Real(r.height_cm),
        F::WeightKg => Value::Real(r.weight_kg),
        F::TScore => Value::Real(r.t_score),
        F::FraxMajor => Value::Real(r.frax_major),
        // Free text, different in every row.
        F::LocalId | F::Postcode => {
            let cell = r.cell(field);
            Value::Text((!cell.is_empty()).then_some(cell))
        }
        // Codes: the same few texts over and over.
        F::ServiceCode => Value::Shared(Some(interner.get(r.service_code.as_str()))),
        _ => match single_code(r, field) {
            Some(code) => Value::Shared(code.map(|c| interner.get(c))),
            None => {
                let cell = r.cell(field);
                Value::Shared((!cell.is_empty()).then(|| interner.get(&cell)))
            }
        },
    }
}

/// The column values of a record, in [`RECORD_COLUMNS`] order.
pub(crate) fn to_values(r: &Record, interner: &mut Interner) -> Vec<Value> {
    Field::ALL.iter().map(|f| value(r, *f, interner)).collect()
}

/// The canonical (export) text of a stored record value; empty when missing.
pub(crate) fn cell_text(field: Field, v: &Value) -> String {
    match v {
        Value::Int(Some(n)) if field == Field::NhsNumber => format!("{n:010}"),
        v => plain_text(v),
    }
}

/// The text of a stored value as the dataset writes it; empty when missing.
pub(crate) fn plain_text(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone().unwrap_or_default(),
        Value::Shared(s) => s.as_deref().map(str::to_owned).unwrap_or_default(),
        Value::Int(n) => n.map(|n| n.to_string()).unwrap_or_default(),
        // f64's Display is the shortest text that reads back to the same number, never with an
        // exponent: exactly what `Record::cell` writes and `parse_decimal` reads.
        Value::Real(x) => x.map(|x| x.to_string()).unwrap_or_default(),
        Value::Date(d) => d.map(format_date).unwrap_or_default(),
        Value::Time(t) => t.map(|t| t.to_string()).unwrap_or_default(),
    }
}

/// Rebuilds a record from the record columns of `row`, which start at column `first`.
pub(crate) fn record_from_row(row: &dyn RowRef, first: usize) -> Result<Record> {
    // Typed values become their canonical text here; text columns are used where they lie.
    let mut owned: [String; Field::COUNT] = std::array::from_fn(|_| String::new());
    for (i, kind) in RECORD_KINDS.iter().enumerate() {
        if *kind != Kind::Text {
            owned[i] = cell_text(Field::ALL[i], &row.value(first + i, *kind)?);
        }
    }
    let mut cells: Cells<'_> = [""; Field::COUNT];
    for (i, kind) in RECORD_KINDS.iter().enumerate() {
        cells[i] = if *kind == Kind::Text { row.text(first + i)?.unwrap_or("") } else { &owned[i] };
    }
    parse_record(&cells, STORED).map(|valid| valid.record).map_err(|problems| StoreError::InvalidStored {
        entity: "record",
        key: format!("{}/{}", cells[0], cells[1]),
        reason: problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
    })
}

/// A stable 64-bit FNV-1a hash of the column values, stored with the row so a re-import can
/// skip unchanged rows without reading them. It only ever short-cuts equality: rows whose hash
/// differs are compared value by value before anything is written, so a hash that changes with
/// a future version of this mapping costs time, never correctness.
pub(crate) fn row_hash(values: &[Value]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for v in values {
        match v {
            v if v.is_null() => eat(&[0]),
            // Shared text is text: it hashes the same.
            Value::Text(Some(s)) => {
                eat(&[1]);
                eat(s.as_bytes());
            }
            Value::Shared(Some(s)) => {
                eat(&[1]);
                eat(s.as_bytes());
            }
            Value::Int(Some(n)) => {
                eat(&[2]);
                eat(&n.to_le_bytes());
            }
            Value::Real(Some(x)) => {
                eat(&[3]);
                eat(&x.to_bits().to_le_bytes());
            }
            Value::Date(Some(d)) => {
                eat(&[4]);
                eat(&d.to_julian_day().to_le_bytes());
            }
            Value::Time(Some(t)) => {
                eat(&[5]);
                eat(&t.unix_timestamp_nanos().to_le_bytes());
            }
            _ => {}
        }
        // 0xff never occurs in UTF-8, so it separates the values unambiguously.
        eat(&[0xff]);
    }
    h as i64
}

/// Appends `s` as a JSON string literal.
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON object `{"name": "canonical text" | null, …}` in the given order; empty text is null.
pub(crate) fn json_object<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::from("{");
    for (i, (name, text)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(&mut out, name);
        out.push(':');
        if text.is_empty() {
            out.push_str("null");
        } else {
            push_json_str(&mut out, text);
        }
    }
    out.push('}');
    out
}

/// The audit `before` and `after` of a changed record; `None` when nothing differs.
pub(crate) fn record_diff_json(old: &[Value], new: &[Value]) -> Option<(String, String)> {
    let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
    let text =
        |values: &[Value]| -> Vec<String> { Field::ALL.iter().zip(values).map(|(f, v)| cell_text(*f, v)).collect() };
    diff_json(&names, &text(old), &text(new))
}

/// `before` and `after` objects over the columns whose texts differ; `None` when none do.
pub(crate) fn diff_json(names: &[&str], old: &[String], new: &[String]) -> Option<(String, String)> {
    let changed: Vec<usize> = (0..names.len()).filter(|&i| old.get(i) != new.get(i)).collect();
    if changed.is_empty() {
        return None;
    }
    let side =
        |texts: &[String]| json_object(changed.iter().map(|&i| (names[i], texts.get(i).map_or("", String::as_str))));
    Some((side(old), side(new)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flsdb_dataset::codes::*;

    /// Every code of every single-code field is stored as exactly the text `Record::cell`
    /// writes (the stored text and the row hash depend on it).
    #[test]
    fn codes_straight_from_their_types_are_the_cells() {
        let codes: Vec<&str> = [
            Sex::ALL.iter().map(|c| c.code()).collect::<Vec<_>>(),
            YesNo::ALL.iter().map(|c| c.code()).collect(),
            Admitted::ALL.iter().map(|c| c.code()).collect(),
            FractureIdentification::ALL.iter().map(|c| c.code()).collect(),
            FractureSite::ALL.iter().map(|c| c.code()).collect(),
            Smoker::ALL.iter().map(|c| c.code()).collect(),
            FallsHistory::ALL.iter().map(|c| c.code()).collect(),
            Dxa::ALL.iter().map(|c| c.code()).collect(),
            FallsAssessment::ALL.iter().map(|c| c.code()).collect(),
            FollowupBy::ALL.iter().map(|c| c.code()).collect(),
            Drug::ALL.iter().map(|c| c.code()).collect(),
            TherapyOther::ALL.iter().map(|c| c.code()).collect(),
        ]
        .concat();
        let rules = Validation { today: date!(2030 - 01 - 01), allow_test_nhs_numbers: true };
        let mut interner = Interner::default();
        for &field in Field::ALL.iter() {
            let mut stored = 0;
            for code in &codes {
                // Follow-up details count only with a follow-up: try without, then with one.
                let with_followups = [
                    (Field::Followup16, "yes"),
                    (Field::Followup16Date, "2023-04-20"),
                    (Field::Followup52, "yes"),
                    (Field::Followup52Date, "2024-01-05"),
                ];
                let parsed = [&with_followups[..0], &with_followups[..]].into_iter().find_map(|extra| {
                    let mut cells: Cells<'_> = [""; Field::COUNT];
                    for (f, text) in MINIMAL.iter().chain(extra) {
                        cells[f.index()] = text;
                    }
                    cells[field.index()] = code;
                    parse_record(&cells, rules).ok()
                });
                let Some(valid) = parsed else { continue };
                let Some(single) = single_code(&valid.record, field) else { continue };
                assert_eq!(single.unwrap_or(""), valid.record.cell(field), "{field:?} {code}");
                assert_eq!(plain_text(&value(&valid.record, field, &mut interner)), valid.record.cell(field));
                stored += usize::from(single.is_some());
            }
            if single_code(&minimal(), field).is_some() {
                assert!(stored > 0, "{field:?}: no code was tried");
            }
        }
    }

    const MINIMAL: [(Field, &str); 5] = [
        (Field::ServiceCode, "BNT"),
        (Field::LocalId, "1"),
        (Field::DateOfBirth, "1948-02-29"),
        (Field::FractureDate, "2023-01-05"),
        (Field::FractureSite, "hip"),
    ];

    fn minimal() -> Record {
        let mut cells: Cells<'_> = [""; Field::COUNT];
        for (f, text) in MINIMAL {
            cells[f.index()] = text;
        }
        let rules = Validation { today: date!(2030 - 01 - 01), allow_test_nhs_numbers: true };
        parse_record(&cells, rules).map(|v| v.record).unwrap_or_else(|p| panic!("{p:?}"))
    }
}
