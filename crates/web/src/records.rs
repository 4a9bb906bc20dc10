//! Record pages: the list per service, one record with its edit history, and the entry form in
//! the dataset's sections (the 16- and 52-week follow-ups as their own steps). Every rule is
//! `flsdb_dataset::parse_record`'s; this module only maps its problems back to the inputs.

use crate::AppState;
use crate::auth::Auth;
use crate::error::WebError;
use crate::pages::{Nav, html};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use flsdb_dataset::{Cells, Field, LocalId, Problem, Record, ServiceCode, Severity, parse_record};
use flsdb_store::{AuditFilter, RecordFilter, StoreError};
use serde::Deserialize;
use time::{Date, Month};

/// The sections of dataset.md and their fields.
const SECTIONS: &[(&str, &[Field])] = {
    use Field::*;
    &[
        (
            "1. Patient and index fracture",
            &[
                ServiceCode,
                LocalId,
                NhsNumber,
                DateOfBirth,
                Sex,
                Postcode,
                CareHome,
                FlsContactDate,
                FlsAssessmentDate,
                Admitted,
                FractureDate,
                FractureIdentification,
                FractureSite,
                OtherFractureSites,
            ],
        ),
        (
            "2. Risk factors",
            &[HeightCm, WeightKg, PreviousFracture, ParentalHipFracture, Smoker, OnBoneTherapy, FallsHistory],
        ),
        ("3. Bone density (DXA) and fracture risk", &[Dxa, DxaDate, TScore, FraxMajor]),
        ("4. Treatment recommendation", &[BoneTherapyRecommended, CalciumVitdRecommended]),
        ("5. Falls", &[FallsAssessment]),
        (
            "6. Follow-up at 16 weeks",
            &[Followup16, Followup16Date, Followup16By, Therapy16w, StrengthBalance16w, CalciumVitd16w],
        ),
        (
            "7. Follow-up at 52 weeks",
            &[Followup52, Followup52Date, Followup52By, Therapy52w, Refractures, RefractureSites],
        ),
        ("8. Status", &[DeathDate]),
    ]
};

/// Which part of a record a form edits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    New,
    Main,
    Followup16,
    Followup52,
}

impl Step {
    fn sections(self) -> &'static [usize] {
        match self {
            Step::New | Step::Main => &[0, 1, 2, 3, 4, 7],
            Step::Followup16 => &[5],
            Step::Followup52 => &[6],
        }
    }

    fn title(self) -> &'static str {
        match self {
            Step::New => "New record",
            Step::Main => "Edit record",
            Step::Followup16 => "Follow-up at 16 weeks",
            Step::Followup52 => "Follow-up at 52 weeks",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Step::New => "",
            Step::Main => "edit",
            Step::Followup16 => "followup16",
            Step::Followup52 => "followup52",
        }
    }

    fn editable(self, field: Field) -> bool {
        let key = matches!(field, Field::ServiceCode | Field::LocalId);
        (self == Step::New || !key) && self.sections().iter().any(|&s| SECTIONS[s].1.contains(&field))
    }
}

const YES_NO: &[&str] = &["yes", "no", "unknown"];
const THERAPY: &[&str] = &[
    "alendronate",
    "risedronate",
    "ibandronate",
    "zoledronate",
    "denosumab",
    "teriparatide",
    "abaloparatide",
    "romosozumab",
    "raloxifene",
    "hrt",
    "not_started",
    "informed_decline",
    "no_longer_appropriate",
    "referred_specialist",
    "unknown",
];

/// The choices of a single-code field (shown as a select), from dataset.md.
fn options(field: Field) -> Option<&'static [&'static str]> {
    use Field::*;
    Some(match field {
        Sex => &["male", "female", "other", "unknown"],
        CareHome
        | PreviousFracture
        | ParentalHipFracture
        | OnBoneTherapy
        | CalciumVitdRecommended
        | Followup16
        | StrengthBalance16w
        | CalciumVitd16w
        | Followup52 => YES_NO,
        Admitted => &["inpatient", "outpatient", "unknown"],
        FractureIdentification => &["clinical", "radiological", "unknown"],
        FractureSite => &["hip", "spine", "wrist", "humerus", "pelvis", "other"],
        Smoker => &["current", "ex", "never", "unknown"],
        FallsHistory => &["none", "one", "two_or_more", "unknown"],
        Dxa => &["ordered", "recommended", "not_required", "declined", "not_possible", "unknown"],
        FallsAssessment => &["done", "referred", "recommended", "not_indicated", "declined", "not_done", "unknown"],
        Followup16By | Followup52By => &["fls", "gp", "other"],
        Therapy16w | Therapy52w => THERAPY,
        _ => return None,
    })
}

fn hint(field: Field) -> &'static str {
    use Field::*;
    match field {
        DateOfBirth | FlsContactDate | FlsAssessmentDate | FractureDate | DxaDate | Followup16Date | Followup52Date
        | DeathDate => "Date: YYYY-MM-DD or D/M/YYYY",
        NhsNumber => "10 digits",
        Postcode => "UK postcode, e.g. SW1A 1AA",
        OtherFractureSites | RefractureSites => "Sites separated by ; (hip, spine, wrist, humerus, pelvis, other)",
        BoneTherapyRecommended => {
            "Drug codes separated by ; (e.g. alendronate), or one of not_indicated, informed_decline, referred_specialist, referred_gp, unknown"
        }
        HeightCm => "100–230",
        WeightKg => "25–250",
        TScore => "-7.0 to +5.0, one decimal place",
        FraxMajor => "0–100 (%)",
        Refractures => "0–20",
        LocalId => "Your service's own reference (not the NHS number)",
        _ => "",
    }
}

fn label(field: Field) -> String {
    let name = field.name().replace('_', " ");
    let mut chars = name.chars();
    let text = chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default();
    text.replace("Nhs ", "NHS ")
        .replace("Fls ", "FLS ")
        .replace("Dxa", "DXA")
        .replace("Frax", "FRAX")
        .replace("vitd", "vitamin D")
}

pub struct FieldView {
    pub name: &'static str,
    pub label: String,
    pub value: String,
    pub options: Option<Vec<String>>,
    pub hint: &'static str,
    pub required: bool,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

impl FieldView {
    pub fn is_selected(&self, option: &str) -> bool {
        self.value == option
    }
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }
}

pub struct SectionView {
    pub title: &'static str,
    pub fields: Vec<FieldView>,
}

#[derive(Template)]
#[template(path = "record_form.html")]
struct FormPage {
    nav: Nav,
    title: &'static str,
    action: String,
    /// The key of an existing record (shown, not editable).
    key: Option<(String, String)>,
    version: Option<i64>,
    sections: Vec<SectionView>,
    errors: Vec<(String, String)>,
    warnings: Vec<(String, String)>,
    conflict: Option<String>,
    ask_save_anyway: bool,
}

/// The cells of a form: one string per field.
type FormCells = Vec<String>;

fn form_page(
    auth: &Auth,
    step: Step,
    key: Option<(&ServiceCode, &LocalId)>,
    version: Option<i64>,
    cells: &FormCells,
    problems: &[Problem],
    conflict: Option<String>,
) -> Result<Response, WebError> {
    let mut sections = Vec::new();
    for &s in step.sections() {
        let (title, fields) = SECTIONS[s];
        let fields = fields
            .iter()
            .filter(|f| step.editable(**f))
            .map(|&f| {
                let value = cells[f.index()].clone();
                let options = options(f).map(|opts| {
                    let mut all: Vec<String> =
                        std::iter::once(String::new()).chain(opts.iter().map(|o| (*o).to_owned())).collect();
                    // Whatever was typed (or stored) stays on the form, even if not a listed code.
                    if !all.contains(&value) {
                        all.push(value.clone());
                    }
                    all
                });
                let of = |warning: bool| {
                    problems
                        .iter()
                        .filter(|p| p.field == f && (p.severity == Severity::Warning) == warning)
                        .map(|p| p.message.clone())
                        .collect()
                };
                FieldView {
                    name: f.name(),
                    label: label(f),
                    value,
                    options,
                    hint: hint(f),
                    required: f.is_required(),
                    errors: of(false),
                    warnings: of(true),
                }
            })
            .collect();
        sections.push(SectionView { title, fields });
    }
    let listed = |warning: bool| {
        problems
            .iter()
            .filter(|p| (p.severity == Severity::Warning) == warning)
            .map(|p| (p.field.name().to_owned(), p.message.clone()))
            .collect::<Vec<_>>()
    };
    let errors = listed(false);
    let warnings = listed(true);
    let action = match key {
        None => "/records/new".to_owned(),
        Some((s, l)) => format!("/records/{}/{}/{}", s.as_str(), encode(l.as_str()), step.path()),
    };
    let status = if errors.is_empty() && conflict.is_none() {
        axum::http::StatusCode::OK
    } else if conflict.is_some() {
        axum::http::StatusCode::CONFLICT
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = FormPage {
        nav: Nav::new(auth),
        title: step.title(),
        action,
        key: key.map(|(s, l)| (s.as_str().to_owned(), l.as_str().to_owned())),
        version,
        ask_save_anyway: errors.is_empty() && !warnings.is_empty(),
        sections,
        errors,
        warnings,
        conflict,
    };
    let mut response = html(page)?;
    *response.status_mut() = status;
    Ok(response)
}

/// Percent-encodes a path segment (local ids are free text).
pub fn encode(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The record behind a URL, if the user may see it (else 404, or 403 for roles without patients).
async fn load(state: &AppState, auth: &Auth, service: &str, local_id: &str) -> Result<(Record, i64), WebError> {
    auth.patient_services()?;
    let service = ServiceCode::parse(service).ok_or(WebError::NotFound)?;
    auth.patient_scope(&service)?;
    let local_id = LocalId::parse(local_id).map_err(|_| WebError::NotFound)?;
    state.store.get_record(&service, &local_id).await?.ok_or(WebError::NotFound)
}

fn form_value<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn parse(cells: &FormCells, state: &AppState) -> Result<flsdb_dataset::ValidRecord, Vec<Problem>> {
    let refs: Cells<'_> = std::array::from_fn(|i| cells[i].as_str());
    parse_record(&refs, state.config.validation())
}

// ---- the list ---------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct ListQuery {
    service: Option<String>,
    q: Option<String>,
    year: Option<String>,
}

pub struct Row {
    pub service: String,
    pub local_id: String,
    pub href: String,
    pub fracture_date: String,
    pub site: String,
    pub followup16: String,
    pub followup52: String,
}

#[derive(Template)]
#[template(path = "records.html")]
struct ListPage {
    nav: Nav,
    services: Vec<String>,
    service: String,
    q: String,
    year: String,
    rows: Vec<Row>,
    total: usize,
}

const LIST_LIMIT: usize = 500;

/// The services a user's request covers: one asked for (if theirs), else all of theirs.
pub fn scoped_services(auth: &Auth, asked: Option<&str>) -> Result<Option<Vec<ServiceCode>>, WebError> {
    let mine = auth.patient_services()?;
    match asked.map(str::trim).filter(|s| !s.is_empty()) {
        Some(code) => {
            let code = ServiceCode::parse(code).ok_or(WebError::NotFound)?;
            auth.patient_scope(&code)?;
            Ok(Some(vec![code]))
        }
        None => Ok(mine.map(<[ServiceCode]>::to_vec)),
    }
}

/// The records of `services` (`None` = all), optionally of one fracture year.
pub async fn records_in(
    state: &AppState,
    services: &Option<Vec<ServiceCode>>,
    year: Option<i32>,
) -> Result<Vec<Record>, WebError> {
    let (from, to) = match year {
        Some(y) => {
            (Date::from_calendar_date(y, Month::January, 1).ok(), Date::from_calendar_date(y, Month::December, 31).ok())
        }
        None => (None, None),
    };
    let filters: Vec<RecordFilter> = match services {
        None => vec![RecordFilter { service: None, fracture_from: from, fracture_to: to }],
        Some(list) => list
            .iter()
            .map(|s| RecordFilter { service: Some(s.clone()), fracture_from: from, fracture_to: to })
            .collect(),
    };
    let mut all = Vec::new();
    for filter in &filters {
        all.extend(state.store.records(filter).await?);
    }
    Ok(all)
}

pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<ListQuery>,
) -> Result<Response, WebError> {
    let services = scoped_services(&auth, query.service.as_deref())?;
    let year_text = query.year.clone().unwrap_or_default();
    let year = match year_text.trim() {
        "" => None,
        y => Some(y.parse::<i32>().map_err(|_| WebError::BadRequest(format!("{y:?} is not a year")))?),
    };
    let q = query.q.clone().unwrap_or_default();
    let needle = q.trim().to_lowercase();
    let mut records = records_in(&state, &services, year).await?;
    records.retain(|r| needle.is_empty() || r.local_id.as_str().to_lowercase().contains(&needle));
    records.sort_by(|a, b| {
        b.fracture_date.cmp(&a.fracture_date).then_with(|| a.local_id.as_str().cmp(b.local_id.as_str()))
    });
    let total = records.len();
    let rows = records.iter().take(LIST_LIMIT).map(row).collect();
    let menu = match auth.patient_services()? {
        Some(mine) => mine.iter().map(|s| s.as_str().to_owned()).collect(),
        None => state.store.services().await?.into_iter().map(|s| s.code.as_str().to_owned()).collect(),
    };
    html(ListPage {
        nav: Nav::new(&auth),
        services: menu,
        service: query.service.unwrap_or_default(),
        q,
        year: year_text,
        rows,
        total,
    })
}

pub fn row(r: &Record) -> Row {
    Row {
        service: r.service_code.as_str().to_owned(),
        local_id: r.local_id.as_str().to_owned(),
        href: format!("/records/{}/{}", r.service_code.as_str(), encode(r.local_id.as_str())),
        fracture_date: r.cell(Field::FractureDate),
        site: r.cell(Field::FractureSite),
        followup16: r.cell(Field::Followup16),
        followup52: r.cell(Field::Followup52),
    }
}

// ---- one record -------------------------------------------------------------------------------

pub struct HistoryLine {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub changes: String,
}

#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage {
    nav: Nav,
    service: String,
    local_id: String,
    base: String,
    version: i64,
    sections: Vec<(&'static str, Vec<(String, String)>)>,
    history: Vec<HistoryLine>,
}

pub async fn view(
    State(state): State<AppState>,
    auth: Auth,
    Path((service, local_id)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let (record, version) = load(&state, &auth, &service, &local_id).await?;
    let sections = SECTIONS
        .iter()
        .map(|(title, fields)| (*title, fields.iter().map(|f| (label(*f), record.cell(*f))).collect()))
        .collect();
    let key = format!("{}/{}", record.service_code.as_str(), record.local_id.as_str());
    let entries = state
        .store
        .audit_log(&AuditFilter {
            entity: Some("record".into()),
            entity_key: Some(key),
            limit: Some(200),
            ..Default::default()
        })
        .await?;
    let history = entries
        .into_iter()
        .map(|e| HistoryLine {
            at: e.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            actor: e.actor,
            action: e.action,
            changes: describe_change(e.before.as_deref(), e.after.as_deref()),
        })
        .collect();
    html(RecordPage {
        nav: Nav::new(&auth),
        base: format!("/records/{}/{}", record.service_code.as_str(), encode(record.local_id.as_str())),
        service: record.service_code.as_str().to_owned(),
        local_id: record.local_id.as_str().to_owned(),
        version,
        sections,
        history,
    })
}

/// `field: old → new` lines from the audit log's JSON objects (flat maps of text or null).
fn describe_change(before: Option<&str>, after: Option<&str>) -> String {
    fn pairs(json: Option<&str>) -> Vec<(String, String)> {
        let Some(text) = json else { return Vec::new() };
        let inner = text.trim().trim_start_matches('{').trim_end_matches('}');
        // The audit log writes `"name":"text"` or `"name":null`; good enough to show, not parse.
        inner
            .split(",\"")
            .filter_map(|kv| kv.split_once("\":"))
            .map(|(k, v)| (k.trim_matches('"').to_owned(), v.trim_matches('"').replace("null", "(empty)")))
            .collect()
    }
    let before = pairs(before);
    let after = pairs(after);
    after
        .iter()
        .map(|(k, v)| match before.iter().find(|(bk, _)| bk == k) {
            Some((_, old)) => format!("{k}: {old} → {v}"),
            None => format!("{k}: {v}"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

// ---- forms ------------------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct NewQuery {
    service: Option<String>,
}

pub async fn new_form(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<NewQuery>,
) -> Result<Response, WebError> {
    let mine = auth.patient_services()?;
    let mut cells: FormCells = vec![String::new(); Field::COUNT];
    cells[Field::ServiceCode.index()] = match (query.service, mine) {
        (Some(s), _) => s,
        (None, Some(mine)) => mine.first().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        (None, None) => String::new(),
    };
    let _ = &state;
    form_page(&auth, Step::New, None, None, &cells, &[], None)
}

pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let mine = auth.patient_services()?.map(<[ServiceCode]>::to_vec);
    auth.check_csrf(form_value(&form, "csrf"))?;
    let mut cells: FormCells = vec![String::new(); Field::COUNT];
    for f in Field::ALL.iter().filter(|f| Step::New.editable(**f)) {
        cells[f.index()] = form_value(&form, f.name()).unwrap_or_default().to_owned();
    }
    let mut problems = match parse(&cells, &state) {
        Ok(valid) => valid.warnings,
        Err(problems) => problems,
    };
    // The service must be the user's and registered; the key must be new.
    let service_text = cells[Field::ServiceCode.index()].trim().to_owned();
    if let Some(code) = ServiceCode::parse(&service_text).filter(|_| !service_text.is_empty()) {
        let registered = state.store.services().await?.iter().any(|s| s.code == code);
        let allowed = mine.as_ref().is_none_or(|m| m.contains(&code));
        if !allowed {
            let list = mine.iter().flatten().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
            problems.push(Problem::invalid(
                Field::ServiceCode,
                &service_text,
                flsdb_dataset::Rule::NotYourService,
                format!("you can only enter records for your services ({list})"),
            ));
        } else if !registered {
            problems.push(Problem::invalid(
                Field::ServiceCode,
                &service_text,
                flsdb_dataset::Rule::UnknownService,
                format!("service {service_text} is not in the registry"),
            ));
        } else if let Ok(local_id) = LocalId::parse(cells[Field::LocalId.index()].trim())
            && state.store.get_record(&code, &local_id).await?.is_some()
        {
            problems.push(Problem::invalid(
                Field::LocalId,
                local_id.as_str(),
                flsdb_dataset::Rule::DuplicateKey,
                format!("a record {local_id} already exists for {code}: open it from the record list to edit it"),
            ));
        }
    }
    let has_errors = problems.iter().any(|p| p.severity != Severity::Warning);
    let save_anyway = form_value(&form, "save_anyway").is_some();
    if has_errors || (!problems.is_empty() && !save_anyway) {
        return form_page(&auth, Step::New, None, None, &cells, &problems, None);
    }
    let valid = match parse(&cells, &state) {
        Ok(valid) => valid,
        Err(problems) => return form_page(&auth, Step::New, None, None, &cells, &problems, None),
    };
    let batch = flsdb_store::NewBatch { actor: auth.user.name.clone(), file_name: None, mode: "web".into() };
    state.store.import_records(&batch, [&valid.record]).await?;
    let r = &valid.record;
    Ok(Redirect::to(&format!("/records/{}/{}", r.service_code.as_str(), encode(r.local_id.as_str()))).into_response())
}

async fn edit_page(
    state: AppState,
    auth: Auth,
    service: String,
    local_id: String,
    step: Step,
) -> Result<Response, WebError> {
    let (record, version) = load(&state, &auth, &service, &local_id).await?;
    let cells = record.cells();
    form_page(&auth, step, Some((&record.service_code, &record.local_id)), Some(version), &cells, &[], None)
}

async fn save_step(
    state: AppState,
    auth: Auth,
    service: String,
    local_id: String,
    step: Step,
    form: Vec<(String, String)>,
) -> Result<Response, WebError> {
    let (stored, _) = load(&state, &auth, &service, &local_id).await?;
    auth.check_csrf(form_value(&form, "csrf"))?;
    let version: i64 = form_value(&form, "version").and_then(|v| v.trim().parse().ok()).ok_or_else(|| {
        WebError::BadRequest("the form has no record version: reload the record and edit again".into())
    })?;
    let mut cells = stored.cells();
    for f in Field::ALL.iter().filter(|f| step.editable(**f)) {
        cells[f.index()] = form_value(&form, f.name()).unwrap_or_default().to_owned();
    }
    let key = (&stored.service_code, &stored.local_id);
    let valid = match parse(&cells, &state) {
        Ok(valid) => valid,
        Err(problems) => return form_page(&auth, step, Some(key), Some(version), &cells, &problems, None),
    };
    if !valid.warnings.is_empty() && form_value(&form, "save_anyway").is_none() {
        return form_page(&auth, step, Some(key), Some(version), &cells, &valid.warnings, None);
    }
    match state.store.update_record(&auth.user.name, &valid.record, version).await {
        Ok(_) => {
            Ok(Redirect::to(&format!("/records/{}/{}", stored.service_code.as_str(), encode(stored.local_id.as_str())))
                .into_response())
        }
        Err(StoreError::Conflict { .. }) => {
            let message = "Someone else saved this record while you were editing it, so your changes were NOT saved. \
                           Your entries are still on this form: open the current record in a new tab, compare, \
                           and apply your changes to it."
                .to_owned();
            form_page(&auth, step, Some(key), Some(version), &cells, &[], Some(message))
        }
        Err(StoreError::NotFound { .. }) => Err(WebError::NotFound),
        Err(e) => Err(e.into()),
    }
}

type KeyPath = Path<(String, String)>;

pub async fn edit_form(State(s): State<AppState>, a: Auth, Path((sv, id)): KeyPath) -> Result<Response, WebError> {
    edit_page(s, a, sv, id, Step::Main).await
}
pub async fn edit_form16(State(s): State<AppState>, a: Auth, Path((sv, id)): KeyPath) -> Result<Response, WebError> {
    edit_page(s, a, sv, id, Step::Followup16).await
}
pub async fn edit_form52(State(s): State<AppState>, a: Auth, Path((sv, id)): KeyPath) -> Result<Response, WebError> {
    edit_page(s, a, sv, id, Step::Followup52).await
}
pub async fn save(
    State(s): State<AppState>,
    a: Auth,
    Path((sv, id)): KeyPath,
    Form(f): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    save_step(s, a, sv, id, Step::Main, f).await
}
pub async fn save16(
    State(s): State<AppState>,
    a: Auth,
    Path((sv, id)): KeyPath,
    Form(f): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    save_step(s, a, sv, id, Step::Followup16, f).await
}
pub async fn save52(
    State(s): State<AppState>,
    a: Auth,
    Path((sv, id)): KeyPath,
    Form(f): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    save_step(s, a, sv, id, Step::Followup52, f).await
}
