//! A fingerprint of the data a report was built from: a stable 64-bit FNV-1a hash over the
//! canonical cells of every record used, the registry (services and caseloads) and the opt-out
//! list. The same database and options give the same fingerprint whatever the backend (SQLite or
//! PostgreSQL) or the order rows are read in; one changed cell changes it.
//!
//! Records are hashed one by one and combined by a wrapping sum and an XOR of their (mixed)
//! hashes, which do not depend on order, so worker threads can add records concurrently.

use flsdb_dataset::{Caseloads, Field, NhsNumber, Record, Service};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;
/// Separates cells, so `("ab", "c")` and `("a", "bc")` hash differently.
const UNIT: u8 = 0x1f;

/// FNV-1a, 64 bits.
#[derive(Clone, Copy, Debug)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(OFFSET)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(PRIME);
        }
    }

    fn cell(&mut self, text: &str) {
        self.bytes(text.as_bytes());
        self.bytes(&[UNIT]);
    }

    fn number(&mut self, n: u64) {
        self.bytes(&n.to_le_bytes());
    }
}

/// splitmix64's finaliser: spreads FNV's output over all bits before the order-free sum.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The running fingerprint. `add_record` takes `&self`, so one value can be shared by threads.
#[derive(Debug)]
pub struct Fingerprint {
    registry: u64,
    sum: AtomicU64,
    xor: AtomicU64,
    records: AtomicU64,
}

impl Fingerprint {
    /// Starts from the registry and the opt-out list.
    pub fn new(services: &[Service], caseloads: &Caseloads, opt_outs: &HashSet<NhsNumber>) -> Self {
        let mut h = Fnv::new();
        let mut services: Vec<&Service> = services.iter().collect();
        services.sort_by(|a, b| a.code.as_str().cmp(b.code.as_str()));
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let num = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
        for s in services {
            for cell in [
                s.code.as_str().to_owned(),
                s.name.clone(),
                opt(&s.nation),
                opt(&s.region),
                opt(&s.commissioner),
                opt(&s.parent_org),
                s.setting.map(|x| x.code().to_owned()).unwrap_or_default(),
                num(s.expected_caseload),
                num(s.nhfd_hip_fractures),
            ] {
                h.cell(&cell);
            }
        }
        h.cell("caseloads");
        let mut loads: Vec<(String, i32, f64)> =
            caseloads.iter().map(|(code, year, value)| (code.as_str().to_owned(), year, value)).collect();
        loads.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        for (code, year, value) in loads {
            h.cell(&code);
            h.cell(&year.to_string());
            h.cell(&value.to_string());
        }
        h.cell("opt_outs");
        let mut numbers: Vec<u64> = opt_outs.iter().map(|n| n.as_u64()).collect();
        numbers.sort_unstable();
        for n in numbers {
            h.number(n);
        }
        Fingerprint { registry: h.0, sum: AtomicU64::new(0), xor: AtomicU64::new(0), records: AtomicU64::new(0) }
    }

    /// Adds one record used by the report (each record once).
    pub fn add_record(&self, record: &Record) {
        let mut h = Fnv::new();
        for field in Field::ALL {
            h.cell(&record.cell(*field));
        }
        let m = mix(h.0);
        self.sum.fetch_add(m, Ordering::Relaxed);
        self.xor.fetch_xor(m, Ordering::Relaxed);
        self.records.fetch_add(1, Ordering::Relaxed);
    }

    /// Records added so far.
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    /// The fingerprint: `fnv1a64:` and 16 hex digits.
    pub fn value(&self) -> String {
        let mut h = Fnv::new();
        h.number(self.registry);
        h.number(self.sum.load(Ordering::Relaxed));
        h.number(self.xor.load(Ordering::Relaxed));
        h.number(self.records());
        format!("fnv1a64:{:016x}", h.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_reference_values() {
        // Published FNV-1a 64 test vectors.
        let mut h = Fnv::new();
        h.bytes(b"");
        assert_eq!(h.0, 0xcbf29ce484222325);
        let mut h = Fnv::new();
        h.bytes(b"a");
        assert_eq!(h.0, 0xaf63dc4c8601ec8c);
        let mut h = Fnv::new();
        h.bytes(b"foobar");
        assert_eq!(h.0, 0x85944171f73967e8);
    }

    #[test]
    fn registry_changes_the_fingerprint_and_order_does_not() {
        let row = |code: &str, name: &str| {
            Service::parse([code, name, "england", "London", "NCL", "", "hospital", "400", ""]).expect("service")
        };
        let (c, o) = (Caseloads::default(), HashSet::new());
        let a = Fingerprint::new(&[row("AAA", "A"), row("BBB", "B")], &c, &o).value();
        let b = Fingerprint::new(&[row("BBB", "B"), row("AAA", "A")], &c, &o).value();
        let d = Fingerprint::new(&[row("AAA", "A"), row("BBB", "Bee")], &c, &o).value();
        assert_eq!(a, b);
        assert_ne!(a, d);
        assert!(a.starts_with("fnv1a64:") && a.len() == 24, "{a}");
    }
}
