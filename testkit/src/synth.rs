//! Deterministic synthetic data for tests, benchmarks and demos.
//!
//! No `rand` dependency: a tiny xorshift64* generator is enough, and its
//! Python mirror in `report/tests/vectors/gen_vectors.py` lets the reference values
//! computed with SciPy be regenerated bit for bit. Only exact IEEE operations
//! (`+`, `*`, `floor`) are used to turn random bits into samples, so both
//! languages produce identical `f64`s.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// xorshift64* pseudo-random generator (Vigna, 2016). Not cryptographic.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose sequence is fully determined by `seed`.
    pub fn new(seed: u64) -> Self {
        // The all-zero state is a fixed point of xorshift; the xor keeps seed 0 usable.
        let state = seed ^ 0x9E37_79B9_7F4A_7C15;
        Rng {
            state: if state == 0 { 1 } else { state },
        }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Approximately standard normal (Irwin–Hall sum of four uniforms, unit variance).
    ///
    /// Chosen over Box–Muller because it needs no `ln`/`cos`, whose last bit may
    /// differ between libm implementations.
    pub fn normalish(&mut self) -> f64 {
        let mut s = self.uniform();
        s += self.uniform();
        s += self.uniform();
        s += self.uniform();
        (s - 2.0) * 1.732_050_807_568_877_2
    }

    /// Uniform integer in `0..n` (`n > 0`); the modulo bias is irrelevant here.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// `n` samples of `normalish() * scale + shift`, optionally floored to a multiple of `quantum`.
pub fn sample(seed: u64, n: usize, shift: f64, scale: f64, quantum: Option<f64>) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let v = rng.normalish() * scale + shift;
            match quantum {
                Some(q) => (v / q).floor() * q,
                None => v,
            }
        })
        .collect()
}

/// Shape of a synthetic reference/production pair, see [`write_csv_pair`].
#[derive(Debug, Clone)]
pub struct SynthSpec {
    /// Number of reference rows.
    pub ref_rows: usize,
    /// Number of production rows.
    pub prod_rows: usize,
    /// Number of `PCA_i` columns.
    pub columns: usize,
    /// Number of class labels (`class_0`, `class_1`, …).
    pub classes: usize,
    /// Mean shift added to the first half of the production PCA columns.
    pub shift: f64,
    /// Probability that a production prediction equals the target.
    pub accuracy: f64,
    /// Seed of the generator.
    pub seed: u64,
    /// Decimals written per value; `None` writes the shortest exact representation
    /// (about 18 characters, like pandas' `to_csv`).
    pub decimals: Option<usize>,
}

impl Default for SynthSpec {
    fn default() -> Self {
        SynthSpec {
            ref_rows: 2_500,
            prod_rows: 500,
            columns: 16,
            classes: 10,
            shift: 0.0,
            accuracy: 0.8,
            seed: 42,
            decimals: Some(6),
        }
    }
}

/// Writes `ref_path` (`PCA_1..PCA_n,target`) and `prod_path`
/// (`PCA_1..PCA_n,target,prediction`) following `spec`.
pub fn write_csv_pair(spec: &SynthSpec, ref_path: &Path, prod_path: &Path) -> io::Result<()> {
    let mut rng = Rng::new(spec.seed);
    write_one(&mut rng, spec, ref_path, spec.ref_rows, false)?;
    write_one(&mut rng, spec, prod_path, spec.prod_rows, true)
}

fn write_one(
    rng: &mut Rng,
    spec: &SynthSpec,
    path: &Path,
    rows: usize,
    production: bool,
) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut line = String::with_capacity(32 * (spec.columns + 2));
    for i in 0..spec.columns {
        let _ = write!(line, "PCA_{},", i + 1);
    }
    line.push_str(if production {
        "target,prediction\n"
    } else {
        "target\n"
    });
    out.write_all(line.as_bytes())?;
    let classes = spec.classes.max(1) as u64;
    for _ in 0..rows {
        line.clear();
        let class = rng.below(classes);
        for c in 0..spec.columns {
            // Class-dependent means make the labels learnable, as real PCA features are.
            let mut v = rng.normalish() + 0.5 * ((class as usize + c) % 3) as f64;
            if production && c < spec.columns / 2 {
                v += spec.shift;
            }
            let _ = match spec.decimals {
                Some(d) => write!(line, "{v:.d$},"),
                None => write!(line, "{v},"),
            };
        }
        let _ = write!(line, "class_{class}");
        if production {
            let pred = if rng.uniform() < spec.accuracy {
                class
            } else {
                rng.below(classes)
            };
            let _ = write!(line, ",class_{pred}");
        }
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    out.flush()?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_is_deterministic_and_seeded() {
        let a: Vec<u64> = (0..4).map(|_| Rng::new(7).next_u64()).collect();
        assert!(a.iter().all(|&x| x == a[0]));
        assert_ne!(Rng::new(7).next_u64(), Rng::new(8).next_u64());
        // Pinned against the Python mirror in report/tests/vectors/gen_vectors.py.
        let mut r = Rng::new(1);
        assert_eq!(r.next_u64(), 1_164_970_750_538_294_679);
        assert_eq!(r.next_u64(), 2_646_037_555_109_054_538);
    }

    #[test]
    fn normalish_has_unit_variance() {
        let xs = sample(3, 200_000, 0.0, 1.0, None);
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((var - 1.0).abs() < 0.01, "{var}");
    }
}
