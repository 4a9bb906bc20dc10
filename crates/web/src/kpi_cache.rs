//! KPI results for the dashboards and public pages, computed by `flsdb-kpi` (the same engine and
//! inputs as `flsdb kpi --db`) and cached per (period, as-of date, KPI set, data version).
//!
//! The data version is read from the store on every request and is bumped in the same
//! transaction as every change, so a request that starts after a write commits never sees a
//! result computed before it. An entry is computed once however many requests ask for it at the
//! same moment (the others wait for it); entries of older data versions are dropped as soon as
//! a newer version is seen.

use crate::AppState;
use crate::error::WebError;
use flsdb_charts::{ChartOptions, FunnelPoint, funnel_svg_adjusted, run_chart_svg, spc_svg};
use flsdb_dataset::{Caseloads, NhsNumber, Record, Service, ServiceCode};
use flsdb_kpi::{
    ChartKind, ColumnKind, Decoration, DenominatorMode, Disclosure, Engine, KpiSet, Number, OverdispersionRule, Period,
    Report, ServiceChart, Setup, chart_series, monthly_series, set_by_name,
};
use flsdb_store::{RecordFilter, StoreError};
use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use time::Date;
use tokio::sync::OnceCell;

/// What a cached result depends on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub period: Period,
    pub as_of: Date,
    /// A name of [`flsdb_kpi::SET_NAMES`].
    pub set: &'static str,
    /// [`flsdb_store::Store::data_version`] when the request started.
    pub version: i64,
}

type Slot<V> = Arc<OnceCell<Arc<V>>>;

/// One cache: a slot per key, computed once.
struct Map<K, V> {
    slots: Mutex<HashMap<K, Slot<V>>>,
    capacity: usize,
    version: fn(&K) -> i64,
}

impl<K: Eq + Hash + Clone, V> Map<K, V> {
    fn new(capacity: usize, version: fn(&K) -> i64) -> Self {
        Map { slots: Mutex::default(), capacity, version }
    }

    fn slot(&self, key: &K) -> Slot<V> {
        let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(slot) = slots.get(key) {
            return slot.clone();
        }
        // The data version only grows: an older entry will never be asked for again.
        let version = (self.version)(key);
        let of = self.version;
        slots.retain(|k, _| of(k) >= version);
        if slots.len() >= self.capacity {
            slots.clear();
        }
        slots.entry(key.clone()).or_default().clone()
    }

    async fn get(&self, key: &K, compute: impl AsyncFnOnce() -> Result<V, WebError>) -> Result<Arc<V>, WebError> {
        let slot = self.slot(key);
        slot.get_or_try_init(async || compute().await.map(Arc::new)).await.cloned()
    }
}

/// Reads [`flsdb_store::Store::data_version`] for many concurrent requests at once: a request
/// takes the result of a read that *started after the request arrived* (so it reflects every
/// write committed before then, exactly as a read of its own would), and only one read runs at a
/// time. Under load one read serves every request that queued behind the previous one, instead
/// of one read transaction per request.
#[derive(Default)]
struct VersionReader {
    /// Reads started so far; a read's index is this count after it started.
    started: AtomicU64,
    /// (index, value) of the last completed read.
    last: Mutex<(u64, i64)>,
    running: tokio::sync::Mutex<()>,
}

impl VersionReader {
    async fn read(&self, store: &flsdb_store::Store) -> Result<i64, WebError> {
        let arrived = self.started.load(Ordering::SeqCst);
        let _one_at_a_time = self.running.lock().await;
        let last = *self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if last.0 > arrived {
            return Ok(last.1);
        }
        let index = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        let version = store.data_version().await?;
        *self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = (index, version);
        Ok(version)
    }
}

/// The caches of one application.
pub struct Cache {
    version: VersionReader,
    reports: Map<Key, Computed>,
    charts: Map<(Key, ServiceCode), Vec<SpcView>>,
    combined: Map<(Key, Vec<ServiceCode>), Report>,
    html: Map<(Key, String), String>,
    refractures: Map<(i64, Date), Vec<flsdb_qi::Refracture>>,
}

impl Default for Cache {
    fn default() -> Self {
        Cache {
            version: VersionReader::default(),
            reports: Map::new(16, |k| k.version),
            charts: Map::new(512, |k| k.0.version),
            combined: Map::new(256, |k| k.0.version),
            html: Map::new(512, |k| k.0.version),
            refractures: Map::new(4, |k| k.0),
        }
    }
}

/// The exact and published reports of one key, and the inputs they came from.
pub struct Computed {
    pub key: Key,
    pub set: KpiSet,
    pub exact: Report,
    pub published: Report,
    pub services: Vec<Service>,
    caseloads: Caseloads,
    opt_outs: HashSet<NhsNumber>,
    funnels: OnceLock<Vec<FunnelView>>,
}

/// One KPI's SPC chart of one service.
#[derive(Clone, Debug)]
pub struct SpcView {
    pub id: String,
    /// `xmr`, `p` or `run`.
    pub kind: &'static str,
    pub svg: String,
}

/// One KPI's funnel plot and its over-dispersion note.
#[derive(Clone, Debug)]
pub struct FunnelView {
    pub id: String,
    pub svg: String,
    pub note: String,
}

fn kpi_error(e: flsdb_kpi::KpiError) -> WebError {
    WebError::Internal(e.into())
}

impl Computed {
    /// The engine's inputs for this key (denominator mode `all`).
    pub fn setup(&self) -> Setup<'_> {
        Setup {
            set: &self.set,
            services: &self.services,
            caseloads: &self.caseloads,
            opt_outs: &self.opt_outs,
            period: self.key.period,
            as_of: self.key.as_of,
            mode: DenominatorMode::All,
        }
    }

    /// The ids and names of the KPIs that are proportions (with funnel and SPC chart), in set order.
    pub fn ratio_columns(&self) -> impl Iterator<Item = &flsdb_kpi::KpiColumn> {
        self.exact.columns.iter().filter(|c| matches!(c.kind, ColumnKind::Proportion | ColumnKind::Identification))
    }

    /// The funnel plots of every service (national dashboard), drawn once per entry.
    pub fn national_funnels(&self) -> &[FunnelView] {
        self.funnels.get_or_init(|| self.funnels_of(|_| true, false))
    }

    /// Funnel plots with only the services `keep` accepts as points (highlighted when
    /// `highlight`), against the national proportion and limits.
    pub fn funnels_of(&self, keep: impl Fn(&str) -> bool, highlight: bool) -> Vec<FunnelView> {
        let mut out = Vec::new();
        for column in self.exact.columns.iter().filter(|c| c.kind == ColumnKind::Proportion) {
            let Some(overall) = self.exact.overall.kpis.entry(&column.id) else { continue };
            let Some(Number::Count(total)) = overall.exact.denominator.filter(|d| d.as_f64() > 0.0) else { continue };
            let theta = overall.exact.numerator as f64 / total as f64;
            let od = match &overall.decoration {
                Decoration::Overall { overdispersion } => overdispersion.as_ref(),
                _ => None,
            };
            let tau2 = od.filter(|o| o.rule == OverdispersionRule::Additive).and_then(|o| o.tau2);
            let points: Vec<FunnelPoint> = self
                .exact
                .services
                .iter()
                .filter(|s| keep(&s.code))
                .filter_map(|s| {
                    let e = s.kpis.entry(&column.id)?;
                    let Some(Number::Count(n)) = e.exact.denominator else { return None };
                    Some(FunnelPoint {
                        label: format!("{} ({})", s.name, s.code),
                        numerator: e.exact.numerator,
                        denominator: n,
                        highlight,
                    })
                })
                .collect();
            let title = format!("{}: {}", column.id, column.name);
            let opts = ChartOptions {
                title: format!("{title}: funnel plot"),
                y_label: "Percent".into(),
                x_label: "Patients in the denominator".into(),
                width: 720,
                height: 420,
                ..ChartOptions::default()
            };
            let svg = funnel_svg_adjusted(&points, theta, tau2, &opts);
            out.push(FunnelView { id: column.id.clone(), svg, note: self.overdispersion_note(&column.id) });
        }
        out
    }

    /// The over-dispersion note of a KPI (national figures).
    pub fn overdispersion_note(&self, kpi: &str) -> String {
        let Some(e) = self.exact.overall.kpis.entry(kpi) else { return String::new() };
        let Decoration::Overall { overdispersion: Some(od) } = &e.decoration else { return String::new() };
        match (od.rule, od.phi, od.tau2) {
            (OverdispersionRule::Additive, Some(phi), Some(tau2)) => format!(
                "Over-dispersion: φ = {phi:.2} over {} services with a denominator of at least 10, so services vary \
                 more than chance alone explains; the dotted limits are widened by the additive method \
                 (τ² = {tau2:.5}), and the adjusted funnel status uses them.",
                od.units
            ),
            (_, Some(phi), _) => format!(
                "Over-dispersion: φ = {phi:.2} over {} services with a denominator of at least 10: no more variation \
                 than chance explains, so the exact 95% and 99.8% limits are used unadjusted.",
                od.units
            ),
            _ => format!(
                "Over-dispersion could not be estimated ({} services with a denominator of at least 10); the exact \
                 limits are used unadjusted.",
                od.units
            ),
        }
    }
}

/// The reports of `key`, from the cache or computed now over every record of the period.
pub async fn report(state: &AppState, key: &Key) -> Result<Arc<Computed>, WebError> {
    state.kpi_cache.reports.get(key, async || compute(state, key).await).await
}

/// A rendered part of a page that depends only on `key` and `part` (never on the user), from the
/// cache or rendered now: tables of 80 services and ten charts are built once per data version,
/// not once per request.
pub async fn html(
    state: &AppState,
    key: &Key,
    part: String,
    render: impl AsyncFnOnce() -> Result<String, WebError>,
) -> Result<Arc<String>, WebError> {
    state.kpi_cache.html.get(&(key.clone(), part), render).await
}

/// The key of a request: the period, the as-of date (the server's today), the set and the data
/// version read now.
pub async fn key(state: &AppState, period: Period, set: &'static str) -> Result<Key, WebError> {
    let version = state.kpi_cache.version.read(&state.store).await?;
    Ok(Key { period, as_of: state.config.today(), set, version })
}

async fn compute(state: &AppState, key: &Key) -> Result<Computed, WebError> {
    let set = set_by_name(key.set).ok_or_else(|| WebError::BadRequest(format!("unknown KPI set {}", key.set)))?;
    let services = state.store.services().await?;
    let caseloads = state.store.caseloads().await?;
    let opt_outs = state.store.opt_outs().await?;
    let started = std::time::Instant::now();
    let exact = {
        let engine = Engine::new(Setup {
            set: &set,
            services: &services,
            caseloads: &caseloads,
            opt_outs: &opt_outs,
            period: key.period,
            as_of: key.as_of,
            mode: DenominatorMode::All,
        })
        .map_err(kpi_error)?;
        let mut partial = engine.partial();
        let filter =
            RecordFilter { service: None, fracture_from: Some(key.period.from()), fracture_to: Some(key.period.to()) };
        state
            .store
            .for_each_record_chunk(&filter, 20_000, |chunk: Vec<Record>| {
                chunk.iter().for_each(|r| partial.add(r));
                Ok::<(), StoreError>(())
            })
            .await?;
        partial.finish()
    };
    let ms = started.elapsed().as_millis() as u64;
    tracing::info!(period = %key.period, version = key.version, ms, "KPI results computed");
    let published = Disclosure::default().apply(&exact);
    Ok(Computed { key: key.clone(), set, exact, published, services, caseloads, opt_outs, funnels: OnceLock::new() })
}

async fn records_of(state: &AppState, codes: &[ServiceCode], period: Period) -> Result<Vec<Record>, WebError> {
    let mut records = Vec::new();
    for code in codes {
        let filter = RecordFilter {
            service: Some(code.clone()),
            fracture_from: Some(period.from()),
            fracture_to: Some(period.to()),
        };
        records.extend(state.store.records(&filter).await?);
    }
    Ok(records)
}

/// One service's SPC chart per proportion KPI: `flsdb spc`'s series and chart choice (XmR, or a
/// run chart under 12 months with data), drawn by `flsdb-charts`.
pub async fn service_charts(
    state: &AppState,
    computed: &Computed,
    code: &ServiceCode,
) -> Result<Arc<Vec<SpcView>>, WebError> {
    let key = (computed.key.clone(), code.clone());
    state
        .kpi_cache
        .charts
        .get(&key, async || {
            let records = records_of(state, std::slice::from_ref(code), computed.key.period).await?;
            let engine = Engine::new(computed.setup()).map_err(kpi_error)?;
            let name = computed.services.iter().find(|s| s.code == *code).map_or(code.as_str(), |s| s.name.as_str());
            let mut out = Vec::new();
            for column in computed.ratio_columns() {
                let points = monthly_series(&engine, &records, code.as_str(), &column.id).map_err(kpi_error)?;
                let (kind, chart) = chart_series(&points, None, None).map_err(|e| WebError::Internal(e.into()))?;
                let labels: Vec<String> =
                    points.iter().map(|p| format!("{}-{:02}", p.from.year(), u8::from(p.from.month()))).collect();
                let title = format!("{}: {}", column.id, column.name);
                let options = ChartOptions {
                    title: format!("{name}: {title}"),
                    y_label: "Percent".into(),
                    x_label: "Month of fracture".into(),
                    percent: true,
                    scale: if kind == ChartKind::P { 100.0 } else { 1.0 },
                    width: 640,
                    height: 340,
                    ..ChartOptions::default()
                };
                let (kind, svg) = match &chart {
                    ServiceChart::Spc(c) => {
                        (if kind == ChartKind::P { "p" } else { "xmr" }, spc_svg(c, &labels, &options))
                    }
                    ServiceChart::Run(c) => ("run", run_chart_svg(c, &labels, &options)),
                };
                out.push(SpcView { id: column.id.clone(), kind, svg });
            }
            Ok(out)
        })
        .await
}

/// The KPIs of a group of services combined (sums of their counts, by the engine itself: its
/// overall row over a registry of just these services).
pub async fn combined(state: &AppState, computed: &Computed, codes: &[ServiceCode]) -> Result<Arc<Report>, WebError> {
    let mut codes = codes.to_vec();
    codes.sort();
    codes.dedup();
    let key = (computed.key.clone(), codes.clone());
    state
        .kpi_cache
        .combined
        .get(&key, async || {
            let subset: Vec<Service> = computed.services.iter().filter(|s| codes.contains(&s.code)).cloned().collect();
            let records = records_of(state, &codes, computed.key.period).await?;
            let engine = Engine::new(Setup { services: &subset, ..computed.setup() }).map_err(kpi_error)?;
            Ok(engine.compute(&records))
        })
        .await
}

/// Refractures whose later fracture is in the last two years, at every service
/// ([`crate::qi::recent_refractures`]), computed once per data version and day: the dashboard's
/// count and the service's alert list read the same result.
pub async fn recent_refractures(state: &AppState, version: i64) -> Result<Arc<Vec<flsdb_qi::Refracture>>, WebError> {
    let today = state.config.today();
    state.kpi_cache.refractures.get(&(version, today), async || crate::qi::recent_refractures(state, today).await).await
}
