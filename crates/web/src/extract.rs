//! Pseudonymised record extracts for analysts (and national admins): patient-level rows with
//! nothing that names a patient, for analyses the KPI tables do not answer.
//!
//! What changes from the canonical export:
//! * `nhs_number` and `local_id` are replaced by `pseudo_id`, a keyed hash (HMAC-SHA-256 under a
//!   secret kept in the database's settings) of the NHS number, or of the service and local id
//!   when there is no NHS number. The same patient has the same pseudonym in every extract and
//!   at every service, so analysts can link refractures, but nobody without the key can go back.
//! * `date_of_birth` becomes `age_at_fracture` (whole years); `postcode` becomes
//!   `postcode_district` (the outward code, e.g. `SW1A`).
//! * `fracture_date` becomes `fracture_month` (`YYYY-MM`); every other date becomes the number of
//!   days after the fracture (`fls_assessment_date` → `fls_assessment_days`), which keeps every
//!   KPI window computable without the exact dates.
//! * Patients on the national data opt-out list are left out.
//!
//! Every extract is written to the audit log (who, which year and service, how many rows).

use crate::AppState;
use crate::auth::Auth;
use crate::error::WebError;
use crate::pages::{Nav, html};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use flsdb_dataset::values::age_in_years;
use flsdb_dataset::{Field, Record, ServiceCode};
use flsdb_store::{RecordFilter, Role};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// The setting that holds the pseudonym key (hex); created at random on first use.
const KEY_SETTING: &str = "pseudonym_key";

/// The extract's column for a dataset field, or `None` when the field is left out.
fn column(field: Field) -> Option<String> {
    let name = field.name();
    Some(match field {
        Field::LocalId | Field::NhsNumber => return None,
        Field::DateOfBirth => "age_at_fracture".into(),
        Field::Postcode => "postcode_district".into(),
        Field::FractureDate => "fracture_month".into(),
        _ if EVENT_DATES.contains(&field) => format!("{}_days", name.trim_end_matches("_date")),
        _ => name.into(),
    })
}

/// The dates after the fracture, given in an extract as days after it.
const EVENT_DATES: [Field; 6] = [
    Field::FlsContactDate,
    Field::FlsAssessmentDate,
    Field::DxaDate,
    Field::Followup16Date,
    Field::Followup52Date,
    Field::DeathDate,
];

fn event_date(record: &Record, field: Field) -> Option<time::Date> {
    match field {
        Field::FlsContactDate => record.fls_contact_date,
        Field::FlsAssessmentDate => record.fls_assessment_date,
        Field::DxaDate => record.dxa_date,
        Field::Followup16Date => record.followup16_date,
        Field::Followup52Date => record.followup52_date,
        Field::DeathDate => record.death_date,
        _ => None,
    }
}

/// The header of an extract: `pseudo_id`, then the dataset's fields in order as [`column`] maps them.
pub fn header() -> Vec<String> {
    std::iter::once("pseudo_id".to_owned()).chain(Field::ALL.iter().filter_map(|f| column(*f))).collect()
}

/// The keyed pseudonym of a record's patient (16 hex digits after `P`).
pub fn pseudonym(record: &Record, key: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail; the fallback keeps it total anyway.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else { return String::new() };
    match &record.nhs_number {
        Some(nhs) => mac.update(format!("nhs:{nhs}").as_bytes()),
        None => mac.update(format!("local:{}/{}", record.service_code, record.local_id.as_str()).as_bytes()),
    }
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("P{hex}")
}

/// One extract row, in [`header`]'s order.
pub fn row(record: &Record, key: &[u8]) -> Vec<String> {
    let mut cells = vec![pseudonym(record, key)];
    for &field in Field::ALL {
        if column(field).is_none() {
            continue;
        }
        cells.push(match field {
            Field::DateOfBirth => age_in_years(record.date_of_birth, record.fracture_date).to_string(),
            Field::Postcode => record
                .postcode
                .as_ref()
                .map(|p| p.as_str().split(' ').next().unwrap_or_default().to_owned())
                .unwrap_or_default(),
            Field::FractureDate => {
                format!("{:04}-{:02}", record.fracture_date.year(), u8::from(record.fracture_date.month()))
            }
            _ if EVENT_DATES.contains(&field) => event_date(record, field)
                .map(|d| (d - record.fracture_date).whole_days().to_string())
                .unwrap_or_default(),
            _ => record.cell(field),
        });
    }
    cells
}

#[derive(Deserialize, Default)]
pub struct ExtractQuery {
    year: Option<String>,
    service: Option<String>,
}

#[derive(Template)]
#[template(path = "extracts.html")]
struct ExtractsPage {
    nav: Nav,
    columns: Vec<String>,
    years: Vec<i32>,
    services: Vec<(String, String)>,
}

/// Analysts and national admins only: extracts are patient-level, however pseudonymised.
fn allowed(auth: &Auth) -> Result<(), WebError> {
    match auth.role() {
        Role::Analyst | Role::NationalAdmin => Ok(()),
        _ => Err(WebError::Forbidden),
    }
}

pub async fn page(State(state): State<AppState>, auth: Auth) -> Result<Response, WebError> {
    allowed(&auth)?;
    let this_year = state.config.today().year();
    let services = state.store.services().await?.into_iter().map(|s| (s.code.as_str().to_owned(), s.name)).collect();
    html(ExtractsPage { nav: Nav::new(&auth), columns: header(), years: (2016..=this_year).rev().collect(), services })
}

/// `GET /extracts/records.csv?year=YYYY[&service=CODE]`: one calendar year of fracture dates.
pub async fn records_csv(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<ExtractQuery>,
) -> Result<Response, WebError> {
    allowed(&auth)?;
    let year_text = query.year.unwrap_or_default();
    let year: i32 = year_text
        .trim()
        .parse()
        .ok()
        .filter(|y| (2016..=state.config.today().year()).contains(y))
        .ok_or_else(|| WebError::BadRequest(format!("year {year_text:?} is not a year from 2016 to this year")))?;
    let service = match query.service.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(code) => Some(
            ServiceCode::parse(code).ok_or_else(|| WebError::BadRequest(format!("{code:?} is not a service code")))?,
        ),
    };
    let key = pseudonym_key(&state).await?;
    let opt_outs = state.store.opt_outs().await?;
    let filter = RecordFilter {
        service: service.clone(),
        fracture_from: time::Date::from_calendar_date(year, time::Month::January, 1).ok(),
        fracture_to: time::Date::from_calendar_date(year, time::Month::December, 31).ok(),
    };
    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_error = |e: csv::Error| WebError::Internal(e.into());
    out.write_record(header()).map_err(csv_error)?;
    let mut rows = 0u64;
    let mut failure = None;
    state
        .store
        .for_each_record_chunk(&filter, 10_000, |chunk| {
            for record in chunk.iter().filter(|r| r.nhs_number.as_ref().is_none_or(|n| !opt_outs.contains(n))) {
                if let Err(e) = out.write_record(row(record, &key)) {
                    failure = Some(e);
                    break;
                }
                rows += 1;
            }
            Ok::<_, flsdb_store::StoreError>(())
        })
        .await?;
    if let Some(e) = failure {
        return Err(csv_error(e));
    }
    let body = out.into_inner().map_err(|e| WebError::Internal(anyhow::anyhow!("{e}")))?;
    let scope = service.as_ref().map_or("all", |s| s.as_str());
    state.store.audit_extract(&auth.user.name, &format!("records year={year} service={scope} rows={rows}")).await?;
    let file = format!("attachment; filename=\"extract-{year}-{scope}.csv\"");
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, file)], body)
        .into_response())
}

/// The deployment's pseudonym key: random on first use, then the same for ever.
async fn pseudonym_key(state: &AppState) -> Result<Vec<u8>, WebError> {
    let stored = state.store.setting_or_init(KEY_SETTING, &crate::auth::random_hex(32)).await?;
    Ok(stored.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(nhs: &str, local_id: &str) -> Record {
        let mut cells: flsdb_dataset::Cells = [""; Field::COUNT];
        for (field, value) in [
            (Field::ServiceCode, "BNT"),
            (Field::LocalId, local_id),
            (Field::NhsNumber, nhs),
            (Field::DateOfBirth, "1950-03-01"),
            (Field::Postcode, "SW1A 1AA"),
            (Field::FractureDate, "2023-02-10"),
            (Field::FractureSite, "hip"),
            (Field::FlsAssessmentDate, "2023-03-01"),
            (Field::Dxa, "ordered"),
            (Field::DxaDate, "2022-12-10"),
        ] {
            cells[field.index()] = value;
        }
        let validation =
            flsdb_dataset::Validation { today: time::macros::date!(2024 - 06 - 30), allow_test_nhs_numbers: true };
        flsdb_dataset::parse_record(&cells, validation).expect("a valid record").record
    }

    #[test]
    fn nothing_identifying_is_left_and_intervals_are_kept() {
        let r = record("9434765919", "LOCAL-77");
        let cells = row(&r, b"key");
        let header = header();
        assert_eq!(cells.len(), header.len());
        let joined = cells.join(",");
        for identifying in ["9434765919", "LOCAL-77", "1950-03-01", "1AA", "2023-02-10"] {
            assert!(!joined.contains(identifying), "{identifying} leaked into {joined}");
        }
        let get = |name: &str| &cells[header.iter().position(|h| h == name).expect(name)];
        assert_eq!(get("age_at_fracture"), "72");
        assert_eq!(get("postcode_district"), "SW1A");
        assert_eq!(get("fracture_month"), "2023-02");
        assert_eq!(get("fls_assessment_days"), "19");
        assert_eq!(get("dxa_days"), "-62");
        assert_eq!(get("fracture_site"), "hip");
    }

    #[test]
    fn pseudonyms_follow_the_patient_and_depend_on_the_key() {
        let at_one_service = record("9434765919", "A1");
        let elsewhere = record("9434765919", "B2");
        assert_eq!(pseudonym(&at_one_service, b"k1"), pseudonym(&elsewhere, b"k1"));
        assert_ne!(pseudonym(&at_one_service, b"k1"), pseudonym(&at_one_service, b"k2"));
        let no_nhs = record("", "A1");
        assert_ne!(pseudonym(&no_nhs, b"k1"), pseudonym(&at_one_service, b"k1"));
        assert!(pseudonym(&no_nhs, b"k1").starts_with('P') && pseudonym(&no_nhs, b"k1").len() == 17);
    }
}
