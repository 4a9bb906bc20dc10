//! The random numbers behind every synthetic value.
//!
//! The generator is written here rather than taken from a crate so that a seed gives the same data
//! forever, whatever crate versions the workspace moves to. It is SplitMix64 (Steele, Lea and
//! Flood, 2014): a 64-bit Weyl sequence passed through a strong mixing function. Each record gets
//! its own stream, seeded from `(seed, index)`, so any record can be made without the ones before
//! it, and the number of draws one record uses never shifts the next.
//!
//! Only `+ − × ÷` and `sqrt` are used on floating-point values, which IEEE 754 defines exactly:
//! unlike `ln`, `exp` or `sin` (which come from the platform's maths library), they give the same
//! bits on every machine.

/// The 64-bit golden ratio, SplitMix64's stream increment.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's finaliser: a bijection on `u64` that spreads every input bit over the output.
pub(crate) const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hashes a few words into one, to derive independent streams from `(seed, purpose, index)`.
pub(crate) fn hash(words: &[u64]) -> u64 {
    words.iter().fold(0x243F_6A88_85A3_08D3, |h, w| mix(h ^ mix(w.wrapping_add(GOLDEN))))
}

/// FNV-1a over bytes: a fixed hash of a text (such as a service code) to seed its stream.
pub(crate) fn hash_text(text: &str) -> u64 {
    text.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3))
}

/// Purposes that keep the streams drawn from one seed apart.
pub(crate) mod purpose {
    pub const SERVICES: u64 = 1;
    pub const PROFILE: u64 = 2;
    pub const POSTCODES: u64 = 3;
    pub const RECORD: u64 = 4;
    pub const NHS: u64 = 5;
    pub const LOCAL_ID: u64 = 6;
    pub const OPT_OUT: u64 = 7;
}

#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// Uniform in `[0, 1)`, with 53 random bits.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias, below 2⁻³², does not matter here).
    pub fn below(&mut self, n: u32) -> i32 {
        (((self.next_u64() >> 32) * u64::from(n)) >> 32) as i32
    }

    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.f64()
    }

    /// Approximately normal: the Irwin–Hall sum of four uniforms, scaled to unit variance. It is
    /// bounded (±3.46 sd), which suits clinical values, and needs no `ln` or `cos`.
    pub fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let sum = self.f64() + self.f64() + self.f64() + self.f64();
        mean + sd * (sum - 2.0) * 1.732_050_807_568_877_2
    }

    /// A value from a list of `(value, weight)`; the weights need not add up to 1.
    pub fn weighted<T: Copy>(&mut self, items: &[(T, f64)]) -> T {
        let total: f64 = items.iter().map(|(_, w)| w).sum();
        let mut target = self.f64() * total;
        for &(item, weight) in items {
            if target < weight {
                return item;
            }
            target -= weight;
        }
        items.last().expect("weighted lists are constants with at least one item").0
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u32) as usize]
    }
}

/// A keyed permutation of `0..n`: a four-round Feistel network on the smallest even number of
/// bits that covers `n`, cycle-walked back into range. Turns a record index into an identifier that
/// looks random but can never repeat.
pub(crate) fn permute(x: u64, n: u64, key: u64) -> u64 {
    debug_assert!(x < n);
    let bits = (64 - n.saturating_sub(1).leading_zeros()).max(2);
    let half = bits.div_ceil(2);
    let mask = (1u64 << half) - 1;
    let mut v = x;
    loop {
        let (mut left, mut right) = (v >> half, v & mask);
        for round in 0..4 {
            let f = mix(right ^ key.wrapping_add(round)) & mask;
            (left, right) = (right, left ^ f);
        }
        v = (left << half) | right;
        if v < n {
            return v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_is_a_bijection() {
        for n in [1, 2, 3, 10, 1000, 4097] {
            let mut seen: Vec<u64> = (0..n).map(|x| permute(x, n, 42)).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n = {n}");
        }
    }

    #[test]
    fn stream_is_fixed_forever() {
        // SplitMix64 from state 0: the published first output.
        assert_eq!(Rng::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
        let mut rng = Rng::new(7);
        for _ in 0..1000 {
            let x = rng.below(10);
            assert!((0..10).contains(&x));
            let u = rng.f64();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
