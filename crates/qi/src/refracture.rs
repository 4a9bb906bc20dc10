//! Refracture alerts: a new record whose NHS number matches an earlier record (at the same or
//! another service) with a fracture in the two years before is the clearest sign that secondary
//! prevention failed, and the service holding the earlier record should know.

use flsdb_dataset::codes::FractureSite;
use flsdb_dataset::{LocalId, NhsNumber, Record, ServiceCode};
use std::collections::HashMap;
use time::Date;

/// One fracture as matching needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Fracture {
    pub service: ServiceCode,
    pub local_id: LocalId,
    pub date: Date,
    pub site: FractureSite,
}

impl Fracture {
    fn of(record: &Record) -> Fracture {
        Fracture {
            service: record.service_code.clone(),
            local_id: record.local_id.clone(),
            date: record.fracture_date,
            site: record.fracture_site,
        }
    }
}

/// A later fracture of the patient of an earlier record.
#[derive(Clone, Debug, PartialEq)]
pub struct Refracture {
    pub earlier: Fracture,
    pub later: Fracture,
    pub days_between: i64,
}

/// Whether `later` falls in the two years after `earlier` (a later calendar day up to the same
/// day two years on; 29 February counts to 28 February): the same day is the same presentation.
fn within_two_years(earlier: Date, later: Date) -> bool {
    let limit = earlier.replace_year(earlier.year() + 2).unwrap_or_else(|_| {
        // 29 February + 2 years does not exist: the window ends on 28 February.
        earlier.previous_day().and_then(|d| d.replace_year(earlier.year() + 2).ok()).unwrap_or(earlier)
    });
    later > earlier && later <= limit
}

/// Every pair (earlier, later) of records of one patient, matched by NHS number across all
/// services, with the later fracture within two years after the earlier one. Records without an
/// NHS number cannot be matched and are skipped; opted-out patients must be filtered out by the
/// caller (alerts are patient care, but the caller decides what the list is used for).
pub fn refractures<'r>(records: impl IntoIterator<Item = &'r Record>) -> Vec<Refracture> {
    let mut by_patient: HashMap<NhsNumber, Vec<Fracture>> = HashMap::new();
    for r in records {
        if let Some(nhs) = r.nhs_number {
            by_patient.entry(nhs).or_default().push(Fracture::of(r));
        }
    }
    let mut found = Vec::new();
    for fractures in by_patient.values_mut().filter(|f| f.len() > 1) {
        fractures.sort_by(|a, b| (a.date, &a.service, &a.local_id).cmp(&(b.date, &b.service, &b.local_id)));
        for (i, later) in fractures.iter().enumerate() {
            for earlier in fractures[..i].iter().filter(|e| within_two_years(e.date, later.date)) {
                found.push(Refracture {
                    earlier: earlier.clone(),
                    later: later.clone(),
                    days_between: (later.date - earlier.date).whole_days(),
                });
            }
        }
    }
    found.sort_by(|a, b| {
        (b.later.date, &a.earlier.service, &a.earlier.local_id).cmp(&(
            a.later.date,
            &b.earlier.service,
            &b.earlier.local_id,
        ))
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn two_years_counts_calendar_days_and_leap_days() {
        assert!(within_two_years(date!(2022 - 03 - 01), date!(2024 - 03 - 01)));
        assert!(!within_two_years(date!(2022 - 03 - 01), date!(2024 - 03 - 02)));
        assert!(!within_two_years(date!(2022 - 03 - 01), date!(2022 - 03 - 01)), "same presentation");
        assert!(within_two_years(date!(2024 - 02 - 29), date!(2026 - 02 - 28)));
        assert!(!within_two_years(date!(2024 - 02 - 29), date!(2026 - 03 - 01)));
    }
}
