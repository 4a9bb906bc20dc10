//! Small-number suppression for published outputs (`kpis.md`, "Disclosure control").

use crate::report::*;

/// The suppression rule. The default is the one of `kpis.md`: below overall and nation levels,
/// a count of 1–7 is shown as `*`, other counts are rounded to the nearest 5, and a percentage
/// whose denominator is 1–7 is shown as `*` (with its interval and band, which would reveal it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disclosure {
    /// Counts from 1 to this are shown as `*`.
    pub suppress_up_to: u64,
    /// Other counts are rounded to the nearest multiple of this (halves upwards); 1 keeps them.
    pub round_to: u64,
    /// Levels published exactly.
    pub exact_levels: Vec<Level>,
}

impl Default for Disclosure {
    fn default() -> Self {
        Disclosure { suppress_up_to: 7, round_to: 5, exact_levels: vec![Level::Overall, Level::Nation] }
    }
}

impl Disclosure {
    /// A count as published.
    pub fn count(&self, n: u64) -> Shown<u64> {
        if n >= 1 && n <= self.suppress_up_to {
            return Shown::Suppressed;
        }
        let r = self.round_to.max(1);
        Shown::Value((n + r / 2) / r * r)
    }

    /// True when a percentage over this denominator must be hidden. A pro-rated caseload (not a
    /// count) is hidden when above 0 and below `suppress_up_to + 1`.
    pub fn hides_percent_over(&self, denominator: Number) -> bool {
        match denominator {
            Number::Count(n) => n >= 1 && n <= self.suppress_up_to,
            Number::Decimal(d) => d > 0.0 && d < self.suppress_up_to as f64 + 1.0,
        }
    }

    /// The published form of an exact report; a report already published is returned as it is.
    pub fn apply(&self, report: &Report) -> Report {
        let mut out = report.clone();
        if report.published {
            return out;
        }
        let exact_services_count: Vec<bool> =
            out.columns.iter().map(|c| matches!(c.kind, ColumnKind::Completeness { .. })).collect();
        let protect = |level: Level, records: &mut Shown<u64>, kpis: &mut Kpis, exact: u64| {
            if self.exact_levels.contains(&level) {
                return;
            }
            *records = self.count(exact);
            for (k, (_, value)) in kpis.0.iter_mut().enumerate() {
                let counts_services = exact_services_count.get(k).copied().unwrap_or(false);
                self.protect_value(value, counts_services);
            }
        };
        let overall_records = exact_records(&report.overall.records);
        protect(Level::Overall, &mut out.overall.records, &mut out.overall.kpis, overall_records);
        for (level, rows, exact) in [
            (Level::Nation, &mut out.nations, &report.nations),
            (Level::Region, &mut out.regions, &report.regions),
            (Level::Commissioner, &mut out.commissioners, &report.commissioners),
        ] {
            for (row, original) in rows.iter_mut().zip(exact) {
                protect(level, &mut row.records, &mut row.kpis, exact_records(&original.records));
            }
        }
        for (row, original) in out.services.iter_mut().zip(&report.services) {
            protect(Level::Service, &mut row.records, &mut row.kpis, exact_records(&original.records));
        }
        out.published = true;
        out
    }

    fn protect_value(&self, value: &mut KpiValue, counts_services: bool) {
        match value {
            KpiValue::Proportion(e) if !counts_services => self.protect_entry(e),
            KpiValue::Proportion(_) => {}
            KpiValue::Completeness(c) => {
                for f in &mut c.missing_rate {
                    if f.rate.is_some() && self.hides_percent_over(Number::Count(f.applies)) {
                        f.rate = Some(Shown::Suppressed);
                    }
                }
            }
            KpiValue::Inputs(entries) => {
                for e in entries {
                    let n = match e.exact.denominator {
                        Some(Number::Count(n)) => n,
                        _ => 0,
                    };
                    e.numerator = self.count(e.exact.numerator);
                    e.denominator = self.count(n);
                    if e.percent.is_some() && self.hides_percent_over(Number::Count(n)) {
                        e.percent = Some(Shown::Suppressed);
                    }
                }
            }
        }
    }

    fn protect_entry(&self, e: &mut Entry) {
        e.numerator = self.count(e.exact.numerator);
        if let Some(Number::Count(n)) = e.exact.denominator {
            e.denominator = Some(self.count(n).map_value(Number::Count));
        }
        for c in [&mut e.not_due, &mut e.died] {
            if let Shown::Value(n) = *c {
                *c = self.count(n);
            }
        }
        if e.exact.denominator.is_some_and(|d| self.hides_percent_over(d)) {
            e.percent = e.percent.map(|_| Shown::Suppressed);
            e.ci95 = e.ci95.map(|_| Shown::Suppressed);
            e.band = e.band.map(|_| Shown::Suppressed);
        }
    }
}

/// Nothing is suppressed in the exact report this starts from.
fn exact_records(shown: &Shown<u64>) -> u64 {
    shown.value().copied().unwrap_or(0)
}

impl<T> Shown<T> {
    pub fn map_value<U>(self, f: impl FnOnce(T) -> U) -> Shown<U> {
        match self {
            Shown::Value(v) => Shown::Value(f(v)),
            Shown::Suppressed => Shown::Suppressed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        let d = Disclosure::default();
        let shown: Vec<_> = [0, 1, 7, 8, 12, 13, 15, 17, 18, 1002].iter().map(|&n| d.count(n)).collect();
        use Shown::*;
        assert_eq!(
            shown,
            [
                Value(0),
                Suppressed,
                Suppressed,
                Value(10),
                Value(10),
                Value(15),
                Value(15),
                Value(15),
                Value(20),
                Value(1000)
            ]
        );
        assert!(d.hides_percent_over(Number::Count(7)));
        assert!(!d.hides_percent_over(Number::Count(8)));
        assert!(!d.hides_percent_over(Number::Count(0)));
        assert!(d.hides_percent_over(Number::Decimal(7.9)));
        assert!(!d.hides_percent_over(Number::Decimal(8.0)));
    }
}
