//! The period of a computation and the denominator mode.

use crate::KpiError;
use flsdb_dataset::values::format_date;
use serde::{Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use time::{Date, Month};

/// An inclusive range of `fracture_date`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Period {
    from: Date,
    to: Date,
}

impl Period {
    /// `from` must not be after `to` (a one-day period is fine).
    pub fn new(from: Date, to: Date) -> Result<Self, KpiError> {
        if from > to {
            return Err(KpiError::PeriodReversed { from, to });
        }
        Ok(Period { from, to })
    }

    /// 1 January to 31 December of `year`.
    pub fn calendar_year(year: i32) -> Result<Self, KpiError> {
        let start = Date::from_calendar_date(year, Month::January, 1);
        let end = Date::from_calendar_date(year, Month::December, 31);
        match (start, end) {
            (Ok(from), Ok(to)) => Ok(Period { from, to }),
            _ => Err(KpiError::YearOutOfRange(year)),
        }
    }

    /// The default period: the last calendar year that ended before `as_of`.
    pub fn default_for(as_of: Date) -> Result<Self, KpiError> {
        Period::calendar_year(as_of.year() - 1)
    }

    pub fn from(&self) -> Date {
        self.from
    }

    pub fn to(&self) -> Date {
        self.to
    }

    pub fn contains(&self, date: Date) -> bool {
        self.from <= date && date <= self.to
    }

    /// Length in days, counting both ends (a calendar year has 365 or 366).
    pub fn days(&self) -> i64 {
        (self.to - self.from).whole_days() + 1
    }

    /// The part of the period in one calendar year, if any.
    pub fn in_year(&self, year: i32) -> Option<Period> {
        let year = Period::calendar_year(year).ok()?;
        self.intersect(&year)
    }

    pub fn intersect(&self, other: &Period) -> Option<Period> {
        let from = self.from.max(other.from);
        let to = self.to.min(other.to);
        (from <= to).then_some(Period { from, to })
    }

    /// The calendar years the period touches, in order.
    pub fn years(&self) -> std::ops::RangeInclusive<i32> {
        self.from.year()..=self.to.year()
    }

    /// The calendar months the period touches, each cut to the period, in order.
    pub fn months(&self) -> Vec<Period> {
        let mut months = Vec::new();
        let mut start = self.from;
        loop {
            let month_end = start.replace_day(start.month().length(start.year())).unwrap_or(start);
            let to = month_end.min(self.to);
            months.push(Period { from: start, to });
            match to.next_day() {
                Some(next) if to < self.to => start = next,
                _ => break,
            }
        }
        months
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} to {}", format_date(self.from), format_date(self.to))
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Period", 2)?;
        st.serialize_field("from", &format_date(self.from))?;
        st.serialize_field("to", &format_date(self.to))?;
        st.end()
    }
}

/// Which denominators kpi9–kpi11 (iof8–iof10) use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DenominatorMode {
    /// As in the public FLS-DB benchmark tables (the default).
    #[default]
    All,
    /// Only records whose `bone_therapy_recommended` holds a drug, as in the annual report's
    /// narrative.
    Recommended,
}

impl DenominatorMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DenominatorMode::All => "all",
            DenominatorMode::Recommended => "recommended",
        }
    }
}

impl fmt::Display for DenominatorMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DenominatorMode {
    type Err = KpiError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "all" => Ok(DenominatorMode::All),
            "recommended" => Ok(DenominatorMode::Recommended),
            _ => Err(KpiError::UnknownMode(s.to_owned())),
        }
    }
}

/// Serialises a date as `YYYY-MM-DD`.
pub(crate) fn iso_date<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_date(*date))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn lengths_and_defaults() {
        assert_eq!(Period::calendar_year(2019).expect("year").days(), 365);
        assert_eq!(Period::calendar_year(2020).expect("year").days(), 366);
        let p = Period::new(date!(2020 - 02 - 28), date!(2020 - 03 - 01)).expect("period");
        assert_eq!(p.days(), 3);
        assert_eq!(Period::new(date!(2020 - 01 - 01), date!(2020 - 01 - 01)).expect("one day").days(), 1);
        assert!(Period::new(date!(2020 - 01 - 02), date!(2020 - 01 - 01)).is_err());
        let d = Period::default_for(date!(2021 - 03 - 31)).expect("default");
        assert_eq!((d.from(), d.to()), (date!(2020 - 01 - 01), date!(2020 - 12 - 31)));
        // 31 December: that year has not ended before the as-of date.
        let d = Period::default_for(date!(2020 - 12 - 31)).expect("default");
        assert_eq!(d.from(), date!(2019 - 01 - 01));
        let d = Period::default_for(date!(2021 - 01 - 01)).expect("default");
        assert_eq!(d.from(), date!(2020 - 01 - 01));
    }

    #[test]
    fn months_are_cut_to_the_period() {
        let p = Period::new(date!(2019 - 11 - 15), date!(2020 - 02 - 10)).expect("period");
        let months: Vec<_> = p.months().iter().map(|m| (m.from(), m.to())).collect();
        assert_eq!(
            months,
            [
                (date!(2019 - 11 - 15), date!(2019 - 11 - 30)),
                (date!(2019 - 12 - 01), date!(2019 - 12 - 31)),
                (date!(2020 - 01 - 01), date!(2020 - 01 - 31)),
                (date!(2020 - 02 - 01), date!(2020 - 02 - 10)),
            ]
        );
        assert_eq!(p.in_year(2019).map(|y| y.days()), Some(47));
        assert_eq!(p.in_year(2021), None);
        assert_eq!(p.years(), 2019..=2020);
    }

    #[test]
    fn modes() {
        assert_eq!("Recommended".parse::<DenominatorMode>().ok(), Some(DenominatorMode::Recommended));
        assert!("some".parse::<DenominatorMode>().is_err());
        assert_eq!(serde_json::to_string(&DenominatorMode::All).ok().as_deref(), Some("\"all\""));
    }
}
