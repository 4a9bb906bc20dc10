//! The KPI engine: a set's definitions checked and laid out once ([`Engine`]), then records
//! counted per service into mergeable counters ([`Partial`]).

use crate::definition::*;
use crate::fields::{self, Facts};
use crate::period::{DenominatorMode, Period};
use crate::{KpiError, Report};
use flsdb_dataset::{Caseloads, Field, NhsNumber, Record, Service, ServiceCode};
use std::collections::{BTreeMap, HashMap, HashSet};
use time::Date;

/// Everything a KPI computation depends on besides the records.
#[derive(Clone, Copy, Debug)]
pub struct Setup<'a> {
    pub set: &'a KpiSet,
    /// The organisation registry; every registered service is reported, in code order.
    pub services: &'a [Service],
    pub caseloads: &'a Caseloads,
    /// The national data opt-out list.
    pub opt_outs: &'a HashSet<NhsNumber>,
    pub period: Period,
    /// Decides what is due; records are used as they are.
    pub as_of: Date,
    pub mode: DenominatorMode,
}

/// One atomic test on a record. A set's conditions are compiled to a deduplicated list of atoms,
/// each evaluated once per record into a bit of [`Bits`]; a conjunction is then a mask.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Atom {
    /// The code field's value is in `mask` (bit i = i-th code of [`fields::code_list`]); with
    /// `negate`, it is not (a missing value passes).
    Code {
        field: Field,
        mask: u32,
        negate: bool,
    },
    Days {
        field: Field,
        min: i32,
        max: i32,
    },
    Drug(Field),
    /// `fracture_date + days ≤ as_of`.
    Due(i32),
    /// No death on or before `fracture_date + days`.
    Alive(i32),
    /// Present: not empty, not `unknown`.
    Known(Field),
}

/// One bit per atom.
pub(crate) type Bits = u128;

/// True when every bit of `mask` is set.
#[inline]
fn has(bits: Bits, mask: Bits) -> bool {
    bits & mask == mask
}

/// The atoms sorted by kind, so that evaluating them is a few tight loops of table look-ups
/// (no dispatch on field names per record).
#[derive(Clone, Debug, Default)]
struct Program {
    codes: Vec<(usize, u32, bool, Bits)>,
    days: Vec<(usize, i32, i32, Bits)>,
    /// (field bit in [`Facts::drugs`] or [`Facts::known`], atom bit).
    drugs: Vec<(u64, Bits)>,
    known: Vec<(u64, Bits)>,
    due: Vec<(i32, Bits)>,
    alive: Vec<(i32, Bits)>,
}

impl Program {
    fn new(atoms: &[Atom]) -> Self {
        let mut p = Program::default();
        for (i, atom) in atoms.iter().enumerate() {
            let bit: Bits = 1 << i;
            match *atom {
                Atom::Code { field, mask, negate } => p.codes.push((field.index(), mask, negate, bit)),
                Atom::Days { field, min, max } => p.days.push((field.index(), min, max, bit)),
                Atom::Drug(field) => p.drugs.push((1 << field.index(), bit)),
                Atom::Known(field) => p.known.push((1 << field.index(), bit)),
                Atom::Due(days) => p.due.push((days, bit)),
                Atom::Alive(days) => p.alive.push((days, bit)),
            }
        }
        p
    }

    /// The bits of the atoms that hold for a record; `age` is `as_of − fracture_date` in days.
    #[inline]
    fn eval(&self, f: &Facts, age: i32) -> Bits {
        let mut bits = 0;
        for &(field, mask, negate, bit) in &self.codes {
            let code = f.codes[field];
            let hit = code != Facts::NO_CODE && (mask >> (code & 31)) & 1 == 1;
            bits |= if hit != negate { bit } else { 0 };
        }
        for &(field, min, max, bit) in &self.days {
            let d = f.days[field];
            bits |= if d != Facts::NO_DATE && min <= d && d <= max { bit } else { 0 };
        }
        for &(field, bit) in &self.drugs {
            bits |= if f.drugs & field != 0 { bit } else { 0 };
        }
        for &(field, bit) in &self.known {
            bits |= if f.known & field != 0 { bit } else { 0 };
        }
        for &(days, bit) in &self.due {
            bits |= if days <= age { bit } else { 0 };
        }
        let death = f.days[Field::DeathDate.index()];
        for &(days, bit) in &self.alive {
            bits |= if death == Facts::NO_DATE || death > days { bit } else { 0 };
        }
        bits
    }
}

/// An input field: complete when `when` does not hold or the field is known.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CompiledInput {
    known: Bits,
    when: Bits,
}

#[inline]
fn inputs_complete(bits: Bits, inputs: &[CompiledInput]) -> bool {
    inputs.iter().all(|i| !has(bits, i.when) || bits & i.known != 0)
}

/// FNV-1a: service codes are a few bytes, and SipHash's set-up dominated their look-up. The
/// keys are the registry's codes, so flooding is not a concern.
#[derive(Clone, Copy, Debug)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Keyed by the code's bytes: a record's code gives them without a UTF-8 check.
type CodeIndex<'a> = HashMap<&'a [u8], usize, std::hash::BuildHasherDefault<Fnv>>;

/// Counter slots of a proportion KPI, relative to its offset.
pub(crate) mod slot {
    pub const NUMERATOR: usize = 0;
    pub const DENOMINATOR: usize = 1;
    pub const NOT_DUE: usize = 2;
    pub const DIED: usize = 3;
    /// Denominator records whose input fields are all present.
    pub const COMPLETE: usize = 4;
    pub const PROPORTION_LEN: usize = 5;
    /// Identification KPIs: numerator and complete only (the denominator records are the cohort).
    pub const IDENTIFICATION_LEN: usize = 2;
    pub const ID_NUMERATOR: usize = 0;
    pub const ID_COMPLETE: usize = 1;
    /// Per service, before the KPIs: cohort records, then records excluded by the opt-out list.
    pub const RECORDS: usize = 0;
    pub const OPTED_OUT: usize = 1;
    pub const HEADER_LEN: usize = 2;
}

/// What the report needs to know of a KPI (the counting is in [`Counting`]).
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Proportion {
        bands: Bands,
    },
    Identification {
        bands: Bands,
    },
    Completeness {
        fields: Vec<Field>,
        poor_above_percent: f64,
        good_if_fewer_than: usize,
        bands: Bands,
    },
    /// Indices (into the compiled KPIs) of the KPIs whose inputs are reported.
    Inputs {
        of: Vec<usize>,
    },
}

/// What `tally` does with each record, grouped by kind so that the per-record loop has no
/// dispatch per KPI.
#[derive(Clone, Debug, Default)]
struct Counting {
    proportions: Vec<CountProportion>,
    identifications: Vec<CountIdentification>,
    completeness: Vec<CountCompleteness>,
}

#[derive(Clone, Debug)]
struct CountProportion {
    offset: usize,
    filter: Bits,
    /// The due and the alive bit of the follow-up.
    follow_up: Option<(Bits, Bits)>,
    numerator: Bits,
    inputs: Vec<CompiledInput>,
}

#[derive(Clone, Debug)]
struct CountIdentification {
    offset: usize,
    numerator: Bits,
    inputs: Vec<CompiledInput>,
}

#[derive(Clone, Debug)]
struct CountCompleteness {
    offset: usize,
    fields: Vec<CountField>,
}

#[derive(Clone, Copy, Debug)]
struct CountField {
    when: Bits,
    known: Bits,
    /// Bit of [`Engine::nation_masks`] when the field applies only to some nations.
    nation_bit: Option<u32>,
}

#[derive(Clone, Debug)]
pub(crate) struct Compiled {
    pub id: String,
    pub name: String,
    /// Offset of this KPI's counters in a service's slots.
    pub offset: usize,
    pub kind: Kind,
}

/// A KPI set checked against the dataset and laid out for counting, with its inputs. Build it
/// once per computation; it is shared by every [`Partial`].
#[derive(Debug)]
pub struct Engine<'a> {
    pub(crate) setup: Setup<'a>,
    /// Registered services sorted by code.
    pub(crate) services: Vec<&'a Service>,
    index: CodeIndex<'a>,
    pub(crate) kpis: Vec<Compiled>,
    /// The distinct atoms of every condition, evaluated once per record.
    program: Program,
    counting: Counting,
    /// Counters per service.
    pub(crate) stride: usize,
    /// Per service: bit i set when nation-restricted completeness field i applies to it.
    nation_masks: Vec<u64>,
    as_of_day: i32,
}

fn invalid(kpi: &str, message: impl Into<String>) -> KpiError {
    KpiError::InvalidDefinition { kpi: kpi.to_owned(), message: message.into() }
}

/// Interns atoms, giving each distinct one a bit.
#[derive(Default)]
struct Compiler {
    atoms: Vec<Atom>,
}

impl Compiler {
    fn bit(&mut self, kpi: &str, atom: Atom) -> Result<Bits, KpiError> {
        let i = match self.atoms.iter().position(|a| *a == atom) {
            Some(i) => i,
            None => {
                if self.atoms.len() == Bits::BITS as usize {
                    return Err(invalid(kpi, format!("the set has more than {} distinct conditions", Bits::BITS)));
                }
                self.atoms.push(atom);
                self.atoms.len() - 1
            }
        };
        Ok(1 << i)
    }

    fn condition(&mut self, kpi: &str, c: &Condition) -> Result<Bits, KpiError> {
        match c {
            Condition::CodeIn { field, codes } | Condition::CodeNotIn { field, codes } => {
                let list = fields::code_list(*field)
                    .ok_or_else(|| invalid(kpi, format!("{field} is not a single-valued code field")))?;
                let mut mask = 0u32;
                for code in codes {
                    let i = list
                        .iter()
                        .position(|c| c.eq_ignore_ascii_case(code))
                        .ok_or_else(|| invalid(kpi, format!("{code:?} is not a code of {field}")))?;
                    mask |= 1 << i;
                }
                let negate = matches!(c, Condition::CodeNotIn { .. });
                self.bit(kpi, Atom::Code { field: *field, mask, negate })
            }
            Condition::DaysWithin { field, min, max } => {
                if !fields::is_date_field(*field) {
                    return Err(invalid(kpi, format!("{field} is not a date field")));
                }
                if min > max {
                    return Err(invalid(kpi, format!("days {min}..={max} of {field} is an empty window")));
                }
                self.bit(kpi, Atom::Days { field: *field, min: *min, max: *max })
            }
            Condition::HoldsDrug { field } => {
                if !fields::is_drug_field(*field) {
                    return Err(invalid(kpi, format!("{field} cannot hold a drug")));
                }
                self.bit(kpi, Atom::Drug(*field))
            }
            Condition::DueAndAlive(f) => {
                Ok(self.bit(kpi, Atom::Due(f.due_days))? | self.bit(kpi, Atom::Alive(f.alive_days))?)
            }
        }
    }

    /// A conjunction.
    fn all(&mut self, kpi: &str, cs: &[Condition]) -> Result<Bits, KpiError> {
        cs.iter().try_fold(0, |mask, c| Ok(mask | self.condition(kpi, c)?))
    }

    fn inputs(&mut self, kpi: &str, inputs: &[Input]) -> Result<Vec<CompiledInput>, KpiError> {
        inputs
            .iter()
            .map(|i| Ok(CompiledInput { known: self.bit(kpi, Atom::Known(i.field))?, when: self.all(kpi, &i.when)? }))
            .collect()
    }
}

impl<'a> Engine<'a> {
    /// Checks the set and the registry and lays out the counters.
    pub fn new(setup: Setup<'a>) -> Result<Self, KpiError> {
        let mut services: Vec<&Service> = setup.services.iter().collect();
        services.sort_by(|a, b| a.code.cmp(&b.code));
        if let Some(w) = services.windows(2).find(|w| w[0].code == w[1].code) {
            return Err(KpiError::DuplicateService(w[0].code.to_string()));
        }
        let index: CodeIndex<'a> = services.iter().enumerate().map(|(i, s)| (s.code.as_bytes(), i)).collect();

        let set = setup.set;
        let mut seen = HashSet::new();
        let mut offset = slot::HEADER_LEN;
        let mut kpis = Vec::with_capacity(set.kpis.len());
        let mut counting = Counting::default();
        let mut nation_fields: Vec<&[String]> = Vec::new();
        let mut compiler = Compiler::default();
        let mode_filter = compiler.all("recommended_filter", &set.recommended_filter)?;
        for def in &set.kpis {
            let id = def.id.as_str();
            if !seen.insert(id) {
                return Err(invalid(id, "the id is used twice"));
            }
            let (kind, len) = match &def.measure {
                Measure::Proportion(p) => {
                    let mut filter = compiler.all(id, &p.denominator.filter)?;
                    if p.denominator.mode_sensitive && setup.mode == DenominatorMode::Recommended {
                        filter |= mode_filter;
                    }
                    let follow_up = match p.denominator.follow_up {
                        Some(f) => Some((
                            compiler.bit(id, Atom::Due(f.due_days))?,
                            compiler.bit(id, Atom::Alive(f.alive_days))?,
                        )),
                        None => None,
                    };
                    counting.proportions.push(CountProportion {
                        offset,
                        filter,
                        follow_up,
                        numerator: compiler.all(id, &p.numerator)?,
                        inputs: compiler.inputs(id, &p.inputs)?,
                    });
                    (Kind::Proportion { bands: p.bands.clone() }, slot::PROPORTION_LEN)
                }
                Measure::Identification(m) => {
                    counting.identifications.push(CountIdentification {
                        offset,
                        numerator: compiler.all(id, &m.numerator)?,
                        inputs: compiler.inputs(id, &m.inputs)?,
                    });
                    (Kind::Identification { bands: m.bands.clone() }, slot::IDENTIFICATION_LEN)
                }
                Measure::Completeness(c) => {
                    let mut compiled = Vec::with_capacity(c.fields.len());
                    for f in &c.fields {
                        let nation_bit = match &f.nations {
                            None => None,
                            Some(nations) => {
                                if nation_fields.len() == 64 {
                                    return Err(invalid(id, "more than 64 nation-restricted fields"));
                                }
                                nation_fields.push(nations);
                                Some(nation_fields.len() as u32 - 1)
                            }
                        };
                        compiled.push(CountField {
                            when: compiler.all(id, &f.when)?,
                            known: compiler.bit(id, Atom::Known(f.field))?,
                            nation_bit,
                        });
                    }
                    let len = 2 * compiled.len();
                    counting.completeness.push(CountCompleteness { offset, fields: compiled });
                    let kind = Kind::Completeness {
                        fields: c.fields.iter().map(|f| f.field).collect(),
                        poor_above_percent: c.poor_above_percent,
                        good_if_fewer_than: c.good_if_fewer_than,
                        bands: c.bands.clone(),
                    };
                    (kind, len)
                }
                Measure::InputCompleteness { of } => {
                    let mut indices = Vec::with_capacity(of.len());
                    for other in of {
                        let i = set
                            .kpis
                            .iter()
                            .position(|k| &k.id == other)
                            .ok_or_else(|| invalid(id, format!("{other} is not a KPI of the set")))?;
                        if !matches!(set.kpis[i].measure, Measure::Proportion(_) | Measure::Identification(_)) {
                            return Err(invalid(id, format!("{other} has no input fields")));
                        }
                        indices.push(i);
                    }
                    (Kind::Inputs { of: indices }, 0)
                }
            };
            kpis.push(Compiled { id: def.id.clone(), name: def.name.clone(), offset, kind });
            offset += len;
        }
        let nation_masks = services
            .iter()
            .map(|s| {
                let nation = s.nation.as_deref();
                nation_fields.iter().enumerate().fold(0u64, |mask, (bit, nations)| {
                    if nation.is_some_and(|n| nations.iter().any(|x| x.eq_ignore_ascii_case(n))) {
                        mask | 1 << bit
                    } else {
                        mask
                    }
                })
            })
            .collect();
        Ok(Engine {
            setup,
            services,
            index,
            kpis,
            program: Program::new(&compiler.atoms),
            counting,
            stride: offset,
            nation_masks,
            as_of_day: setup.as_of.to_julian_day(),
        })
    }

    /// One-shot computation over all records.
    pub fn compute<'r>(&self, records: impl IntoIterator<Item = &'r Record>) -> Report {
        let mut partial = self.partial();
        for r in records {
            partial.add(r);
        }
        partial.finish()
    }

    /// Empty counters to [`Partial::add`] records to.
    pub fn partial(&self) -> Partial<'_> {
        Partial {
            engine: self,
            counts: vec![0; self.services.len() * self.stride],
            unregistered: BTreeMap::new(),
            last: usize::MAX,
        }
    }

    pub fn setup(&self) -> &Setup<'a> {
        &self.setup
    }

    /// The registered services in report order (by code).
    pub fn services(&self) -> &[&'a Service] {
        &self.services
    }

    pub(crate) fn service_index(&self, code: &str) -> Option<usize> {
        self.index.get(code.as_bytes()).copied()
    }

    /// True when the record is excluded by the opt-out list.
    pub(crate) fn opted_out(&self, r: &Record) -> bool {
        r.nhs_number.is_some_and(|n| self.setup.opt_outs.contains(&n))
    }

    /// Counts one cohort record of service `service` into that service's counters.
    #[inline]
    pub(crate) fn tally(&self, counts: &mut [u64], service: usize, r: &Record) {
        let age = self.as_of_day - r.fracture_date.to_julian_day();
        let bits = self.program.eval(&Facts::of(r), age);
        counts[slot::RECORDS] += 1;
        for p in &self.counting.proportions {
            if !has(bits, p.filter) {
                continue;
            }
            let c = &mut counts[p.offset..p.offset + slot::PROPORTION_LEN];
            if let Some((due, alive)) = p.follow_up {
                if !has(bits, due) {
                    c[slot::NOT_DUE] += 1;
                    continue;
                }
                if !has(bits, alive) {
                    c[slot::DIED] += 1;
                    continue;
                }
            }
            c[slot::DENOMINATOR] += 1;
            c[slot::NUMERATOR] += u64::from(has(bits, p.numerator));
            c[slot::COMPLETE] += u64::from(inputs_complete(bits, &p.inputs));
        }
        for m in &self.counting.identifications {
            let c = &mut counts[m.offset..m.offset + slot::IDENTIFICATION_LEN];
            c[slot::ID_NUMERATOR] += u64::from(has(bits, m.numerator));
            c[slot::ID_COMPLETE] += u64::from(inputs_complete(bits, &m.inputs));
        }
        let nations = self.nation_masks[service];
        for k in &self.counting.completeness {
            let c = &mut counts[k.offset..k.offset + 2 * k.fields.len()];
            for (i, f) in k.fields.iter().enumerate() {
                let applies = f.nation_bit.is_none_or(|b| nations & (1 << b) != 0) && has(bits, f.when);
                c[2 * i] += u64::from(applies);
                c[2 * i + 1] += u64::from(applies && bits & f.known == 0);
            }
        }
    }
}

/// Per-service counters of part of the records. Add records in any order and in any number of
/// partials, merge them, and [`finish`](Partial::finish): the report is the same.
#[derive(Clone, Debug)]
pub struct Partial<'e> {
    engine: &'e Engine<'e>,
    /// `engine.stride` counters per service, services in code order.
    counts: Vec<u64>,
    /// Period records of services missing from the registry, by code.
    unregistered: BTreeMap<ServiceCode, u64>,
    /// The service of the last record (a cache: files are usually grouped by service).
    last: usize,
}

impl<'e> Partial<'e> {
    /// Counts one record: ignored outside the period; counted as unregistered when its service
    /// is not in the registry; counted as excluded when opted out; else in the service's cohort.
    #[inline]
    pub fn add(&mut self, r: &Record) {
        let engine = self.engine;
        if !engine.setup.period.contains(r.fracture_date) {
            return;
        }
        let service = if self.last < engine.services.len() && engine.services[self.last].code == r.service_code {
            self.last
        } else if let Some(i) = engine.index.get(r.service_code.as_bytes()).copied() {
            self.last = i;
            i
        } else {
            match self.unregistered.get_mut(&r.service_code) {
                Some(n) => *n += 1,
                None => {
                    self.unregistered.insert(r.service_code.clone(), 1);
                }
            }
            return;
        };
        let counts = &mut self.counts[service * engine.stride..(service + 1) * engine.stride];
        if engine.opted_out(r) {
            counts[slot::OPTED_OUT] += 1;
            return;
        }
        engine.tally(counts, service, r);
    }

    /// Adds another partial's counts to these.
    ///
    /// # Panics
    /// When `other` was made by another engine (its counters would not line up).
    pub fn merge(&mut self, other: Partial<'e>) {
        assert!(std::ptr::eq(self.engine, other.engine), "partials of different engines cannot be merged");
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
        for (code, n) in other.unregistered {
            *self.unregistered.entry(code).or_insert(0) += n;
        }
    }

    /// Cohort records counted so far.
    pub fn records(&self) -> u64 {
        self.counts.chunks(self.engine.stride.max(1)).map(|c| c[slot::RECORDS]).sum()
    }

    pub fn engine(&self) -> &'e Engine<'e> {
        self.engine
    }

    /// The report of everything added.
    pub fn finish(self) -> Report {
        crate::finish::build(self.engine, &self.counts, &self.unregistered)
    }
}
