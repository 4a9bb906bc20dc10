//! Reading records back in bulk: one streaming query, each row turned into a [`Record`] straight
//! from its typed columns while the database produces the next rows (SQLite's driver steps the
//! statement on its own thread; PostgreSQL works in its own process).
//!
//! A stored row was a valid record when it was written (the only ways in take a [`Record`],
//! which only `parse_record` makes from input), so reading it back does not run the dataset's
//! validation again: it rebuilds each field with the field's own type (code lists, identifiers,
//! NHS number check digit, multi-value sets) and refuses a row whose column does not fit that
//! type with [`StoreError::InvalidStored`]. A row can therefore only ever become a record of
//! well-formed values, at a fraction of the cost of re-parsing text.

use crate::db::{Tx, Value};
use crate::mapping::RECORD_COLUMNS;
use crate::{Result, StoreError};
use flsdb_dataset::codes::*;
use flsdb_dataset::values::{parse_date, parse_multi};
use flsdb_dataset::{
    CellError, DrugSet, Field, LocalId, NhsNumber, Postcode, Recommendation, Record, Rule, ServiceCode, SiteSet,
};
use futures_core::Stream;
use sqlx::Row as _;
use std::pin::Pin;
use time::{Date, Month};

/// Typed access to the record columns of a result row, whichever the driver.
pub(crate) trait Columns {
    fn str_at(&self, i: usize) -> Result<Option<&str>>;
    fn int_at(&self, i: usize) -> Result<Option<i64>>;
    fn small_at(&self, i: usize) -> Result<Option<i16>>;
    fn real_at(&self, i: usize) -> Result<Option<f64>>;
    fn date_at(&self, i: usize) -> Result<Option<Date>>;
}

impl Columns for sqlx::sqlite::SqliteRow {
    fn str_at(&self, i: usize) -> Result<Option<&str>> {
        Ok(self.try_get(i)?)
    }
    fn int_at(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.try_get(i)?)
    }
    fn small_at(&self, i: usize) -> Result<Option<i16>> {
        Ok(self.try_get(i)?)
    }
    fn real_at(&self, i: usize) -> Result<Option<f64>> {
        Ok(self.try_get(i)?)
    }
    /// Dates are ISO text in SQLite: read in place rather than through a format description.
    fn date_at(&self, i: usize) -> Result<Option<Date>> {
        let Some(text) = self.try_get::<Option<&str>, _>(i)? else { return Ok(None) };
        iso_date(text).or_else(|| parse_date(text).ok()).map(Some).ok_or_else(|| StoreError::InvalidStored {
            entity: "record",
            key: format!("column {i}"),
            reason: format!("{text:?} is not a date"),
        })
    }
}

impl Columns for sqlx::postgres::PgRow {
    fn str_at(&self, i: usize) -> Result<Option<&str>> {
        Ok(self.try_get(i)?)
    }
    fn int_at(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.try_get(i)?)
    }
    fn small_at(&self, i: usize) -> Result<Option<i16>> {
        Ok(self.try_get(i)?)
    }
    fn real_at(&self, i: usize) -> Result<Option<f64>> {
        Ok(self.try_get(i)?)
    }
    fn date_at(&self, i: usize) -> Result<Option<Date>> {
        Ok(self.try_get(i)?)
    }
}

/// A SQLite result row read as one packed text column (every field but the decimals, joined
/// with the unit separator, NULL as empty) followed by the decimal columns: one value for the
/// driver to copy out of SQLite instead of forty, which is most of the cost of a bulk read.
/// Stored texts never hold control characters (identifiers and codes refuse them), and an
/// empty text is always stored as NULL, so the packing loses nothing.
struct Packed<'a> {
    cells: [&'a str; Field::COUNT],
    reals: [Option<f64>; Field::COUNT],
}

/// The fields SQLite keeps as REAL: read as their own columns (exact), not through text.
const REAL_FIELDS: [Field; 4] = [Field::HeightCm, Field::WeightKg, Field::TScore, Field::FraxMajor];
const SEPARATOR: char = '\u{1f}';

impl<'a> Packed<'a> {
    fn new(row: &'a sqlx::sqlite::SqliteRow) -> Result<Packed<'a>> {
        let text: &str = row.try_get(0)?;
        let mut cells = [""; Field::COUNT];
        let mut parts = text.split(SEPARATOR);
        for cell in &mut cells {
            *cell = parts.next().ok_or_else(|| StoreError::InvalidStored {
                entity: "record",
                key: text.chars().take(40).collect(),
                reason: "too few packed columns".into(),
            })?;
        }
        let mut reals = [None; Field::COUNT];
        for (i, f) in REAL_FIELDS.iter().enumerate() {
            reals[f.index()] = row.try_get(1 + i)?;
        }
        Ok(Packed { cells, reals })
    }

    fn cell(&self, i: usize) -> Option<&'a str> {
        self.cells.get(i).copied().filter(|c| !c.is_empty())
    }
}

impl Columns for Packed<'_> {
    fn str_at(&self, i: usize) -> Result<Option<&str>> {
        Ok(self.cell(i))
    }
    fn int_at(&self, i: usize) -> Result<Option<i64>> {
        self.cell(i).map(|c| c.parse::<i64>().map_err(|e| packed_error(c, e))).transpose()
    }
    fn small_at(&self, i: usize) -> Result<Option<i16>> {
        self.cell(i).map(|c| c.parse::<i16>().map_err(|e| packed_error(c, e))).transpose()
    }
    fn real_at(&self, i: usize) -> Result<Option<f64>> {
        Ok(self.reals.get(i).copied().flatten())
    }
    fn date_at(&self, i: usize) -> Result<Option<Date>> {
        self.cell(i)
            .map(|c| iso_date(c).or_else(|| parse_date(c).ok()).ok_or_else(|| packed_error(c, "not a date")))
            .transpose()
    }
}

fn packed_error(cell: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::InvalidStored { entity: "record", key: String::new(), reason: format!("{cell:?}: {e}") }
}

/// `YYYY-MM-DD` exactly (how the store writes dates), without allocating; `None` otherwise.
fn iso_date(text: &str) -> Option<Date> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |n, d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')))
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()
}

/// The record columns of one row, from column `first` on.
struct Fields<'r, R> {
    row: &'r R,
    first: usize,
}

impl<R: Columns> Fields<'_, R> {
    fn col(&self, f: Field) -> usize {
        self.first + f.index()
    }

    fn bad(&self, f: Field, reason: impl std::fmt::Display) -> StoreError {
        let service = self.row.str_at(self.col(Field::ServiceCode)).ok().flatten().unwrap_or("");
        let local = self.row.str_at(self.col(Field::LocalId)).ok().flatten().unwrap_or("");
        StoreError::InvalidStored {
            entity: "record",
            key: format!("{service}/{local}"),
            reason: format!("{f}: {reason}"),
        }
    }

    fn text(&self, f: Field) -> Result<Option<&str>> {
        Ok(self.row.str_at(self.col(f))?.filter(|t| !t.is_empty()))
    }

    fn code<T>(&self, f: Field, parse: fn(&str) -> Option<T>) -> Result<Option<T>> {
        match self.text(f)? {
            None => Ok(None),
            Some(t) => parse(t).map(Some).ok_or_else(|| self.bad(f, format!("{t:?} is not one of its codes"))),
        }
    }

    fn date(&self, f: Field) -> Result<Option<Date>> {
        self.row.date_at(self.col(f))
    }

    fn required_date(&self, f: Field) -> Result<Date> {
        self.date(f)?.ok_or_else(|| self.bad(f, "missing"))
    }

    fn real(&self, f: Field) -> Result<Option<f64>> {
        self.row.real_at(self.col(f))
    }

    fn sites(&self, f: Field) -> Result<SiteSet> {
        match self.text(f)? {
            None => Ok(SiteSet::default()),
            Some(t) => parse_multi(t, |s| FractureSite::parse(s).ok_or_else(|| CellError::new(Rule::Code, s)))
                .map_err(|e| self.bad(f, e.message)),
        }
    }
}

/// Builds a record from the record columns of `row` (in [`RECORD_COLUMNS`] order from `first`).
pub(crate) fn record_from_columns(row: &impl Columns, first: usize) -> Result<Record> {
    let c = Fields { row, first };
    let text = |f| c.text(f);
    let bad = |f, reason: String| c.bad(f, reason);
    let date = |f| c.date(f);
    let required_date = |f| c.required_date(f);
    let sites = |f| c.sites(f);
    macro_rules! code {
        ($f:ident, $t:ty) => {
            c.code(Field::$f, <$t>::parse)?
        };
    }
    let service_code = text(Field::ServiceCode)?
        .and_then(ServiceCode::parse)
        .ok_or_else(|| bad(Field::ServiceCode, "missing or not a service code".into()))?;
    let local_id = LocalId::parse(text(Field::LocalId)?.unwrap_or("")).map_err(|e| bad(Field::LocalId, e.message))?;
    let nhs_number = match row.int_at(c.col(Field::NhsNumber))? {
        None => None,
        Some(n) => Some(
            u64::try_from(n)
                .ok()
                .and_then(NhsNumber::from_stored)
                .ok_or_else(|| bad(Field::NhsNumber, format!("{n} is not an NHS number")))?,
        ),
    };
    let postcode = match text(Field::Postcode)? {
        None => None,
        Some(t) => Some(Postcode::parse(t).map_err(|e| bad(Field::Postcode, e.message))?),
    };
    let fracture_site = code!(FractureSite, FractureSite).ok_or_else(|| bad(Field::FractureSite, "missing".into()))?;
    let bone_therapy_recommended = match text(Field::BoneTherapyRecommended)? {
        None => None,
        Some(t) => Some(recommendation(t).ok_or_else(|| bad(Field::BoneTherapyRecommended, format!("{t:?}")))?),
    };
    let refractures = match row.small_at(c.col(Field::Refractures))? {
        None => None,
        Some(n) => {
            Some(u8::try_from(n).ok().filter(|n| *n <= 20).ok_or_else(|| bad(Field::Refractures, format!("{n}")))?)
        }
    };
    Ok(Record {
        service_code,
        local_id,
        nhs_number,
        date_of_birth: required_date(Field::DateOfBirth)?,
        sex: code!(Sex, Sex),
        postcode,
        care_home: code!(CareHome, YesNo),
        fls_contact_date: date(Field::FlsContactDate)?,
        fls_assessment_date: date(Field::FlsAssessmentDate)?,
        admitted: code!(Admitted, Admitted),
        fracture_date: required_date(Field::FractureDate)?,
        fracture_identification: code!(FractureIdentification, FractureIdentification),
        fracture_site,
        other_fracture_sites: sites(Field::OtherFractureSites)?,
        height_cm: c.real(Field::HeightCm)?,
        weight_kg: c.real(Field::WeightKg)?,
        previous_fracture: code!(PreviousFracture, YesNo),
        parental_hip_fracture: code!(ParentalHipFracture, YesNo),
        smoker: code!(Smoker, Smoker),
        on_bone_therapy: code!(OnBoneTherapy, YesNo),
        falls_history: code!(FallsHistory, FallsHistory),
        dxa: code!(Dxa, Dxa),
        dxa_date: date(Field::DxaDate)?,
        t_score: c.real(Field::TScore)?,
        frax_major: c.real(Field::FraxMajor)?,
        bone_therapy_recommended,
        calcium_vitd_recommended: code!(CalciumVitdRecommended, YesNo),
        falls_assessment: code!(FallsAssessment, FallsAssessment),
        followup16: code!(Followup16, YesNo),
        followup16_date: date(Field::Followup16Date)?,
        followup16_by: code!(Followup16By, FollowupBy),
        therapy_16w: code!(Therapy16w, Therapy),
        strength_balance_16w: code!(StrengthBalance16w, YesNo),
        calcium_vitd_16w: code!(CalciumVitd16w, YesNo),
        followup52: code!(Followup52, YesNo),
        followup52_date: date(Field::Followup52Date)?,
        followup52_by: code!(Followup52By, FollowupBy),
        therapy_52w: code!(Therapy52w, Therapy),
        refractures,
        refracture_sites: sites(Field::RefractureSites)?,
        death_date: date(Field::DeathDate)?,
    })
}

/// `bone_therapy_recommended` as stored ([`Recommendation::to_code`]): one or more drugs, or
/// exactly one other answer.
fn recommendation(text: &str) -> Option<Recommendation> {
    if let Some(other) = RecommendationOther::parse(text) {
        return Some(Recommendation::Other(other));
    }
    let drugs: DrugSet = parse_multi(text, |s| Drug::parse(s).ok_or_else(|| CellError::new(Rule::Code, s))).ok()?;
    Some(Recommendation::Drugs(drugs))
}

/// Streams the records of `sql` (selecting [`RECORD_COLUMNS`], with `params`) to `f` in chunks
/// of `chunk_size`. Returns the callback's own error, if it stopped the read, as `Ok(Some(e))`.
pub(crate) async fn stream_records<F, E>(
    tx: &mut Tx,
    sql: &str,
    params: Vec<Value>,
    chunk_size: usize,
    f: &mut F,
) -> Result<Option<E>>
where
    F: FnMut(Vec<Record>) -> Result<(), E>,
{
    macro_rules! bind_params {
        ($q:expr, $params:expr) => {{
            let mut q = $q;
            for v in $params {
                q = match v {
                    Value::Text(x) => q.bind(x),
                    Value::Shared(x) => q.bind(x),
                    Value::Int(x) => q.bind(x),
                    Value::Real(x) => q.bind(x),
                    Value::Date(x) => q.bind(x),
                    Value::Time(x) => q.bind(x),
                };
            }
            q
        }};
    }
    match tx {
        Tx::Sqlite(t) => {
            // SQLite stores dates as ISO text: compare with text, not with sqlx's date encoding.
            let params: Vec<Value> = params
                .into_iter()
                .map(|v| match v {
                    Value::Date(d) => Value::Text(d.map(flsdb_dataset::values::format_date)),
                    v => v,
                })
                .collect();
            let sql = sqlite_packed(sql);
            let stream = bind_params!(sqlx::query(sqlx::AssertSqlSafe(&*sql)), params).fetch(&mut **t);
            drain(stream, chunk_size, f, |row| record_from_columns(&Packed::new(row)?, 0)).await
        }
        Tx::Postgres(t) => {
            let stream = bind_params!(sqlx::query(sqlx::AssertSqlSafe(sql)), params).fetch(&mut **t);
            drain(stream, chunk_size, f, |row| record_from_columns(row, 0)).await
        }
    }
}

async fn drain<R, S, F, E>(
    mut stream: Pin<Box<S>>,
    chunk_size: usize,
    f: &mut F,
    decode: impl Fn(&R) -> Result<Record>,
) -> Result<Option<E>>
where
    S: Stream<Item = Result<R, sqlx::Error>> + ?Sized,
    F: FnMut(Vec<Record>) -> Result<(), E>,
{
    let mut chunk = Vec::with_capacity(chunk_size);
    while let Some(row) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
        chunk.push(decode(&row?)?);
        if chunk.len() == chunk_size {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(chunk_size));
            if let Err(e) = f(full) {
                return Ok(Some(e));
            }
        }
    }
    if !chunk.is_empty()
        && let Err(e) = f(chunk)
    {
        return Ok(Some(e));
    }
    Ok(None)
}

/// SQLite's form of a [`select_sql`] query: the packed column, then the decimals (see [`Packed`]).
fn sqlite_packed(sql: &str) -> String {
    let cells: Vec<String> = Field::ALL
        .iter()
        .map(|f| if REAL_FIELDS.contains(f) { "''".to_owned() } else { format!("coalesce({}, '')", f.name()) })
        .collect();
    let reals: Vec<&str> = REAL_FIELDS.iter().map(|f| f.name()).collect();
    let columns = format!("concat_ws(char(31), {}), {}", cells.join(", "), reals.join(", "));
    sql.replacen(RECORD_COLUMNS.as_str(), &columns, 1)
}

/// The query of a bulk read: the record columns of the rows matching `conditions`, oldest first.
pub(crate) fn select_sql(conditions: &str) -> String {
    format!("SELECT {} FROM records WHERE TRUE{conditions} ORDER BY id", *RECORD_COLUMNS)
}
