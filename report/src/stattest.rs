//! The individual statistical tests and distances, reproducing Evidently's
//! implementations (`evidently.legacy.calculations.stattests`, 0.7.x) on top
//! of SciPy semantics.
//!
//! Categorical inputs are given as aligned count vectors over the union of
//! categories seen in either sample (`reference[i]` and `current[i]` count
//! the same category); numeric inputs as sorted slices.

use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Chi-square goodness-of-fit statistic and p-value (`scipy.stats.chisquare`).
///
/// Returns `(statistic, p_value)`. A category expected 0 times but observed
/// gives an infinite statistic and p = 0, as SciPy does. With fewer than two
/// categories there is nothing to test: `(0, 1)`.
pub fn chi_square(observed: &[f64], expected: &[f64]) -> (f64, f64) {
    debug_assert_eq!(observed.len(), expected.len());
    if observed.len() < 2 {
        return (0.0, 1.0);
    }
    let mut stat = 0.0;
    for (&o, &e) in observed.iter().zip(expected) {
        let d = o - e;
        if e == 0.0 {
            if d != 0.0 {
                return (f64::INFINITY, 0.0);
            }
            // 0/0 is NaN in SciPy but cannot occur here: every category was seen somewhere.
            continue;
        }
        stat += d * d / e;
    }
    let dof = (observed.len() - 1) as f64;
    let p = ChiSquared::new(dof).map(|d| d.sf(stat)).unwrap_or(f64::NAN);
    (stat, p)
}

/// Evidently's chi-square drift test: expected frequencies are the reference
/// counts rescaled to the current sample size. Returns `(statistic, p_value)`.
pub fn chi_square_drift(reference: &[u64], current: &[u64]) -> (f64, f64) {
    let n_ref: u64 = reference.iter().sum();
    let n_cur: u64 = current.iter().sum();
    let k_norm = n_cur as f64 / n_ref as f64;
    let expected: Vec<f64> = reference.iter().map(|&r| r as f64 * k_norm).collect();
    let observed: Vec<f64> = current.iter().map(|&c| c as f64).collect();
    chi_square(&observed, &expected)
}

/// Standard normal CDF with the same operations as Cephes `ndtr` (used by
/// `scipy.stats.norm.cdf`), so `1 - cdf` rounds like SciPy's.
pub fn normal_cdf(a: f64) -> f64 {
    let x = a * std::f64::consts::FRAC_1_SQRT_2;
    let z = x.abs();
    if z < 1.0 {
        0.5 + 0.5 * statrs::function::erf::erf(x)
    } else {
        let y = 0.5 * statrs::function::erf::erfc(z);
        if x > 0.0 {
            1.0 - y
        } else {
            y
        }
    }
}

/// Evidently's two-proportion Z-test. `reference`/`current` are counts of the
/// (at most two) categories, first entry = the first category in sorted order.
/// Returns `(z, p_value)` with `p = 2 * (1 - Phi(|z|))`, Evidently's formula.
pub fn z_test_drift(reference: &[u64], current: &[u64]) -> (f64, f64) {
    let n1: u64 = reference.iter().sum();
    let n2: u64 = current.iter().sum();
    let ref_distinct = reference.iter().filter(|&&c| c > 0).count();
    let cur_distinct = current.iter().filter(|&&c| c > 0).count();
    let same_single = ref_distinct == 1
        && cur_distinct == 1
        && reference.iter().position(|&c| c > 0) == current.iter().position(|&c| c > 0);
    if same_single || reference.is_empty() {
        return (0.0, 1.0);
    }
    // Proportion of rows *not* in the first category, as Evidently encodes it.
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let p1 = (n1 - reference[0]) as f64 / n1f;
    let p2 = (n2 - current[0]) as f64 / n2f;
    let pooled = (p1 * n1f + p2 * n2f) / (n1f + n2f);
    let z = (p1 - p2) / (pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n2f)).sqrt();
    let p = 2.0 * (1.0 - normal_cdf(z.abs()));
    (z, p)
}

/// Population standard deviation (`numpy.std`, ddof = 0).
pub fn std_dev(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    (ss / n).sqrt()
}

/// Exact 1-D Wasserstein (earth mover's) distance between two **sorted**
/// samples (`scipy.stats.wasserstein_distance`): the area between the two
/// empirical CDFs.
pub fn wasserstein(a: &[f64], b: &[f64]) -> f64 {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut total = 0.0f64;
    let mut comp = 0.0f64;
    let mut prev: Option<(f64, f64)> = None; // (value, |Fa - Fb| just after it)
    while i < a.len() || j < b.len() {
        let v = if j >= b.len() || (i < a.len() && a[i] <= b[j]) {
            a[i]
        } else {
            b[j]
        };
        if let Some((pv, gap)) = prev {
            // Neumaier summation: a million small terms otherwise lose ~1e-10.
            let term = gap * (v - pv);
            let t = total + term;
            if total.abs() >= term.abs() {
                comp += (total - t) + term;
            } else {
                comp += (term - t) + total;
            }
            total = t;
        }
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
        }
        prev = Some((v, (i as f64 / na - j as f64 / nb).abs()));
    }
    total + comp
}

/// Evidently's normed Wasserstein distance: distance / max(std(reference), 0.001).
pub fn wasserstein_normed(reference: &[f64], current: &[f64]) -> f64 {
    let norm = std_dev(reference).max(0.001);
    wasserstein(reference, current) / norm
}

/// Bin edges and per-bin shares of both samples, Evidently's `get_binned_data`.
#[derive(Debug, Clone, PartialEq)]
pub struct Binned {
    /// Share of the reference sample in each bin.
    pub reference: Vec<f64>,
    /// Share of the current sample in each bin.
    pub current: Vec<f64>,
}

/// Shares per category from aligned counts.
pub fn binned_categorical(reference: &[u64], current: &[u64]) -> Binned {
    let n_ref: u64 = reference.iter().sum();
    let n_cur: u64 = current.iter().sum();
    Binned {
        reference: reference.iter().map(|&c| c as f64 / n_ref as f64).collect(),
        current: current.iter().map(|&c| c as f64 / n_cur as f64).collect(),
    }
}

/// Evidently's numeric binning: when the reference has more than 20 distinct
/// values, equal-width bins over the pooled sample with NumPy's "sturges"
/// rule; otherwise one bin per distinct value. Inputs are sorted.
pub fn binned_numeric(reference: &[f64], current: &[f64]) -> Binned {
    if distinct_count(reference) > 20 {
        let edges = sturges_edges(reference, current);
        let nr = reference.len() as f64;
        let nc = current.len() as f64;
        Binned {
            reference: histogram_sorted(reference, &edges)
                .into_iter()
                .map(|c| c as f64 / nr)
                .collect(),
            current: histogram_sorted(current, &edges)
                .into_iter()
                .map(|c| c as f64 / nc)
                .collect(),
        }
    } else {
        let (r, c) = value_counts_sorted(reference, current);
        binned_categorical(&r, &c)
    }
}

/// Number of distinct values in a sorted slice (`-0.0 == 0.0`, like pandas).
pub fn distinct_count(sorted: &[f64]) -> usize {
    if sorted.is_empty() {
        return 0;
    }
    1 + sorted.windows(2).filter(|w| w[0] != w[1]).count()
}

/// Number of distinct values in the union of two sorted slices.
pub fn distinct_count_union(a: &[f64], b: &[f64]) -> usize {
    value_counts_sorted(a, b).0.len()
}

/// Counts per distinct value of the union of two sorted slices, aligned
/// (ascending values). Returns `(reference_counts, current_counts)`.
pub fn value_counts_sorted(a: &[f64], b: &[f64]) -> (Vec<u64>, Vec<u64>) {
    let (mut i, mut j) = (0usize, 0usize);
    let (mut ra, mut rb) = (Vec::new(), Vec::new());
    while i < a.len() || j < b.len() {
        let v = if j >= b.len() || (i < a.len() && a[i] <= b[j]) {
            a[i]
        } else {
            b[j]
        };
        let (si, sj) = (i, j);
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
        }
        ra.push((i - si) as u64);
        rb.push((j - sj) as u64);
    }
    (ra, rb)
}

/// `numpy.histogram_bin_edges(concat(a, b), bins="sturges")` for sorted `a`, `b`.
pub fn sturges_edges(a: &[f64], b: &[f64]) -> Vec<f64> {
    let min = match (a.first(), b.first()) {
        (Some(&x), Some(&y)) => x.min(y),
        (Some(&x), None) | (None, Some(&x)) => x,
        (None, None) => 0.0,
    };
    let max = match (a.last(), b.last()) {
        (Some(&x), Some(&y)) => x.max(y),
        (Some(&x), None) | (None, Some(&x)) => x,
        (None, None) => 0.0,
    };
    let size = (a.len() + b.len()) as f64;
    let width = (max - min) / (size.log2() + 1.0);
    let (first, last) = if min == max {
        (min - 0.5, max + 0.5)
    } else {
        (min, max)
    };
    let bins = if width > 0.0 {
        ((last - first) / width).ceil() as usize
    } else {
        1
    };
    linspace(first, last, bins + 1)
}

/// `numpy.linspace(start, stop, num)` with the same rounding (`i*step + start`).
pub fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    if num == 1 {
        return vec![start];
    }
    let step = (stop - start) / (num - 1) as f64;
    let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    v[num - 1] = stop;
    v
}

/// `numpy.histogram(x, edges)` counts for a sorted sample: bins are half
/// open `[e_i, e_{i+1})` except the last, which is closed.
pub fn histogram_sorted(sorted: &[f64], edges: &[f64]) -> Vec<u64> {
    let k = edges.len().saturating_sub(1);
    let left = |e: f64| sorted.partition_point(|&x| x < e);
    let mut counts = Vec::with_capacity(k);
    for i in 0..k {
        let lo = left(edges[i]);
        let hi = if i + 1 == k {
            sorted.partition_point(|&x| x <= edges[i + 1])
        } else {
            left(edges[i + 1])
        };
        counts.push((hi - lo) as u64);
    }
    counts
}

/// Replaces zero shares as Evidently does before PSI (`feel_zeroes`): by
/// `min_nonzero / 1e6` when the smallest non-zero share is <= 1e-4, else 1e-4.
fn fill_zeroes(shares: &mut [f64]) {
    let min_nonzero = shares
        .iter()
        .cloned()
        .filter(|&s| s != 0.0)
        .fold(f64::INFINITY, f64::min);
    if !min_nonzero.is_finite() {
        return;
    }
    let fill = if min_nonzero <= 0.0001 {
        min_nonzero / 1e6
    } else {
        0.0001
    };
    for s in shares.iter_mut().filter(|s| **s == 0.0) {
        *s = fill;
    }
}

/// Population Stability Index on binned shares (Evidently's `psi`).
pub fn psi(binned: &Binned) -> f64 {
    let mut r = binned.reference.clone();
    let mut c = binned.current.clone();
    fill_zeroes(&mut r);
    fill_zeroes(&mut c);
    r.iter()
        .zip(&c)
        .map(|(&r, &c)| (r - c) * (r / c).ln())
        .sum()
}

/// Logarithm base of the Jensen–Shannon distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JsBase {
    /// Natural logarithm: Evidently's default (`base=None`), distances in `[0, sqrt(ln 2)]`.
    #[default]
    Natural,
    /// Base 2: distances in `[0, 1]`.
    Two,
}

/// Jensen–Shannon distance (`scipy.spatial.distance.jensenshannon`) between
/// two share vectors; both are renormalised to sum to 1 first.
pub fn jensen_shannon(binned: &Binned, base: JsBase) -> f64 {
    let sp: f64 = binned.reference.iter().sum();
    let sq: f64 = binned.current.iter().sum();
    let mut total = 0.0;
    for (&p, &q) in binned.reference.iter().zip(&binned.current) {
        let (p, q) = (p / sp, q / sq);
        let m = (p + q) / 2.0;
        total += rel_entr(p, m) + rel_entr(q, m);
    }
    if base == JsBase::Two {
        total /= std::f64::consts::LN_2;
    }
    (total / 2.0).max(0.0).sqrt()
}

fn rel_entr(x: f64, y: f64) -> f64 {
    if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_matches_numpy_edge_rules() {
        let x = [0.0, 1.0, 1.0, 2.0, 3.0];
        assert_eq!(histogram_sorted(&x, &[0.0, 1.0, 2.0, 3.0]), vec![1, 2, 2]);
        assert_eq!(linspace(0.0, 1.0, 3), vec![0.0, 0.5, 1.0]);
    }

    #[test]
    fn sturges_bin_count() {
        // 100 points in [0, 99]: width = 99 / (log2(100) + 1) -> ceil(7.64) = 8 bins.
        let a: Vec<f64> = (0..100).map(f64::from).collect();
        assert_eq!(sturges_edges(&a, &[]).len(), 9);
        // Constant data: a single bin of width 1 around the value.
        assert_eq!(sturges_edges(&[2.0, 2.0], &[2.0]), vec![1.5, 2.5]);
    }

    #[test]
    fn js_and_psi_basic_properties() {
        let same = Binned {
            reference: vec![0.5, 0.5],
            current: vec![0.5, 0.5],
        };
        assert_eq!(jensen_shannon(&same, JsBase::Natural), 0.0);
        assert_eq!(psi(&same), 0.0);
        let disjoint = Binned {
            reference: vec![1.0, 0.0],
            current: vec![0.0, 1.0],
        };
        assert!((jensen_shannon(&disjoint, JsBase::Two) - 1.0).abs() < 1e-15);
        assert!((jensen_shannon(&disjoint, JsBase::Natural) - 2f64.ln().sqrt()).abs() < 1e-15);
    }

    #[test]
    fn wasserstein_simple() {
        assert!((wasserstein(&[0.0, 1.0, 3.0], &[5.0, 6.0, 8.0]) - 5.0).abs() < 1e-12);
        assert_eq!(wasserstein(&[1.0, 2.0], &[1.0, 2.0]), 0.0);
    }

    #[test]
    fn value_counts_align() {
        let (r, c) = value_counts_sorted(&[1.0, 1.0, 2.0], &[2.0, 3.0]);
        assert_eq!(r, vec![2, 1, 0]);
        assert_eq!(c, vec![0, 1, 1]);
        assert_eq!(distinct_count(&[-0.0, 0.0, 1.0]), 2);
    }
}
