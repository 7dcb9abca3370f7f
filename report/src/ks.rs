//! Kolmogorov–Smirnov distributions, following SciPy.
//!
//! [`ks_2samp`] reproduces `scipy.stats.ks_2samp(a, b, method="auto")`
//! (SciPy 1.17): the exact two-sample distribution when both samples have at
//! most 10,000 values, otherwise the one-sample distribution `kstwo` of
//! `D_n` with `n = round(n1*n2/(n1+n2))`. `kstwo` itself
//! ([`kolmogorov_sf`]) is computed with the same algorithm selection as
//! SciPy's `_ksstats.kolmogn` (Simard & L'Ecuyer 2011: Ruben–Gambino,
//! Durbin matrix, Pomeranz, Pelz–Good, and the one-sided Smirnov sum), so the
//! p-values agree with SciPy to about 1e-10 relative, not just asymptotically.

use serde::{Deserialize, Serialize};

/// How a two-sample KS p-value was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KsMethod {
    /// Exact distribution of the two-sample statistic.
    Exact,
    /// One-sample `kstwo` distribution with the effective sample size.
    Asymptotic,
}

/// Result of [`ks_2samp`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsResult {
    /// Largest absolute difference between the two empirical CDFs.
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Which distribution produced the p-value.
    pub method: KsMethod,
}

/// SciPy switches to the asymptotic distribution above this sample size.
const MAX_AUTO_N: usize = 10_000;
const E128: i64 = 128;
const EP128: f64 = 3.402_823_669_209_385e38; // 2^128
const EM128: f64 = 2.938_735_877_055_719e-39; // 2^-128
const MIN_LOG: f64 = -708.0;
const CEPHES_MINLOG: f64 = -708.396_418_532_264_1;

/// Two-sided two-sample KS test on **sorted**, non-empty samples.
///
/// # Panics
/// If either sample is empty.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> KsResult {
    assert!(
        !a.is_empty() && !b.is_empty(),
        "ks_2samp needs non-empty samples"
    );
    let (n1, n2) = (a.len(), b.len());
    let mut d = ks_statistic(a, b);
    if n1.max(n2) <= MAX_AUTO_N {
        let g = gcd(n1 as u64, n2 as u64);
        let (d_exact, p) = exact_2samp(n1 as u64, n2 as u64, g, d);
        // SciPy keeps the lattice-rounded statistic even when it falls back.
        d = d_exact;
        if let Some(p) = p {
            return KsResult {
                statistic: d,
                p_value: p.clamp(0.0, 1.0),
                method: KsMethod::Exact,
            };
        }
    }
    let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
    let en = m * n / (m + n);
    let p = kolmogorov_sf(en.round_ties_even() as u64, d);
    KsResult {
        statistic: d,
        p_value: p.clamp(0.0, 1.0),
        method: KsMethod::Asymptotic,
    }
}

/// `max |F_a - F_b|`, with the same floating-point operations as SciPy
/// (`searchsorted(..., 'right') / n`), so ties and rounding match bit for bit.
pub fn ks_statistic(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut max_diff = f64::NEG_INFINITY;
    let mut min_diff = f64::INFINITY;
    while i < a.len() || j < b.len() {
        let v = if j >= b.len() || (i < a.len() && a[i] <= b[j]) {
            a[i]
        } else {
            b[j]
        };
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
        }
        let diff = i as f64 / n1 - j as f64 / n2;
        max_diff = max_diff.max(diff);
        min_diff = min_diff.min(diff);
    }
    let min_s = (-min_diff).clamp(0.0, 1.0);
    if min_s > max_diff {
        min_s
    } else {
        max_diff
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// SciPy's `_attempt_exact_2kssamp` for the two-sided alternative.
/// Returns the lattice-rounded statistic and the p-value if it is usable.
fn exact_2samp(n1: u64, n2: u64, g: u64, d: f64) -> (f64, Option<f64>) {
    let lcm = (n1 / g) * n2;
    let h = (d * lcm as f64).round_ties_even() as u64;
    let d = h as f64 / lcm as f64;
    if h == 0 {
        return (d, Some(1.0));
    }
    let prob = if n1 == n2 {
        prob_outside_square(n1, h)
    } else {
        outer_prob_inside(n1 as i64, n2 as i64, g as i64, h as i64)
    };
    if prob.is_finite() && (0.0..=1.0).contains(&prob) {
        (d, Some(prob))
    } else {
        (d, None)
    }
}

/// `P(D_{n,n} >= h/n)` by the Horner-like alternating sum (SciPy `_compute_prob_outside_square`).
fn prob_outside_square(n: u64, h: u64) -> f64 {
    let (n, h) = (n as i64, h as i64);
    let mut p = 0.0f64;
    let mut k = n / h;
    while k >= 0 {
        let mut p1 = 1.0f64;
        for j in 0..h {
            p1 = (n - k * h - j) as f64 * p1 / (n + k * h + j + 1) as f64;
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

/// Proportion of lattice paths leaving the band `|x/m - y/n| < h/lcm`,
/// computed directly as `1 - p` (Hodges' inside method with Viehmann's
/// recursion; SciPy `_compute_outer_prob_inside_method`).
fn outer_prob_inside(m: i64, n: i64, g: i64, h: i64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let mg = m / g;
    let ng = n / g;
    let mut minj: i64 = 0;
    let mut maxj: i64 = ((h as f64 / mg as f64).ceil() as i64).min(n + 1);
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n + 1) as usize;
    let mut a = vec![1.0f64; len_a];
    for v in a.iter_mut().take(maxj as usize).skip(minj as usize) {
        *v = 0.0;
    }
    for i in 1..=m {
        let lastminj = minj;
        let lastlen = curlen;
        minj = ((((ng * i - h) as f64) / mg as f64).floor() as i64 + 1).max(0);
        minj = minj.min(n);
        maxj = ((((ng * i + h) as f64) / mg as f64).ceil() as i64).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..(maxj - minj) {
            let j = jj + minj;
            val = (a[(jj + minj - lastminj) as usize] * i as f64 + val * j as f64) / (i + j) as f64;
            a[jj as usize] = val;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let start = (maxj - minj) as usize;
            let end = (start + (lastlen - curlen) as usize).min(len_a);
            for v in a.iter_mut().take(end).skip(start) {
                *v = 1.0;
            }
        }
    }
    a[(maxj - minj - 1) as usize]
}

/// Survival function `P(D_n > x)` of the one-sample two-sided KS statistic
/// (SciPy `scipy.stats.kstwo.sf(x, n)`).
pub fn kolmogorov_sf(n: u64, x: f64) -> f64 {
    kolmogn(n, x, false)
}

/// CDF `P(D_n <= x)` of the one-sample two-sided KS statistic (SciPy `kstwo.cdf`).
pub fn kolmogorov_cdf(n: u64, x: f64) -> f64 {
    kolmogn(n, x, true)
}

fn select(cdfprob: f64, sfprob: f64, cdf: bool) -> f64 {
    (if cdf { cdfprob } else { sfprob }).clamp(0.0, 1.0)
}

/// Port of SciPy `_kolmogn`: picks the most accurate algorithm for `(n, x)`.
fn kolmogn(n: u64, x: f64, cdf: bool) -> f64 {
    if n == 0 || x.is_nan() {
        return f64::NAN;
    }
    if x >= 1.0 {
        return select(1.0, 0.0, cdf);
    }
    if x <= 0.0 {
        return select(0.0, 1.0, cdf);
    }
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        // Ruben–Gambino: 1/2n <= x <= 1/n
        if t <= 0.5 {
            return select(0.0, 1.0, cdf);
        }
        let prob = if n <= 140 {
            let mut p = 1.0;
            for i in 1..=n {
                p *= i as f64 * (1.0 / nf) * (2.0 * t - 1.0);
            }
            p
        } else {
            (log_nfactorial_div_n_pow_n(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return select(prob, 1.0 - prob, cdf);
    }
    if t >= nf - 1.0 {
        let prob = 2.0 * (1.0 - x).powf(nf);
        return select(1.0 - prob, prob, cdf);
    }
    if x >= 0.5 {
        let prob = 2.0 * smirnov_sf(n, x);
        return select(1.0 - prob, prob, cdf);
    }
    let nxsquared = t * x;
    if n <= 140 {
        if nxsquared <= 0.754693 {
            let prob = kolmogn_dmtw(n, x);
            return select(prob, 1.0 - prob, cdf);
        }
        if nxsquared <= 4.0 {
            let prob = kolmogn_pomeranz(n, x);
            return select(prob, 1.0 - prob, cdf);
        }
        let prob = 2.0 * smirnov_sf(n, x);
        return select(1.0 - prob, prob, cdf);
    }
    if !cdf {
        if nxsquared >= 370.0 {
            return 0.0;
        }
        if nxsquared >= 2.2 {
            return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
        }
    }
    let cdfprob = if nxsquared >= 18.0 {
        1.0
    } else if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        kolmogn_dmtw(n, x)
    } else {
        kolmogn_pelz_good(n, x)
    };
    select(cdfprob, 1.0 - cdfprob, cdf)
}

const STIRLING_COEFFS: [f64; 8] = [
    -2.955_065_359_477_124e-2,
    6.410_256_410_256_41e-3,
    -1.917_526_917_526_917_5e-3,
    8.417_508_417_508_418e-4,
    -5.952_380_952_380_952e-4,
    7.936_507_936_507_937e-4,
    -2.777_777_777_777_778e-3,
    8.333_333_333_333_333e-2,
];

/// `log(n!/n^n)` by Stirling's series.
fn log_nfactorial_div_n_pow_n(n: f64) -> f64 {
    let rn = 1.0 / n;
    let x = rn / n;
    let poly = STIRLING_COEFFS.iter().fold(0.0, |acc, &c| acc * x + c);
    n.ln() / 2.0 - n + (2.0 * std::f64::consts::PI).ln() / 2.0 + rn * poly
}

/// Durbin matrix algorithm, Marsaglia–Tsang–Wang variant: `P(D_n <= d)`.
fn kolmogn_dmtw(n: u64, d: f64) -> f64 {
    if d >= 1.0 {
        return 1.0;
    }
    let nd = n as f64 * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;
    let mut hm = vec![0.0f64; m * m];
    let mut v: Vec<f64> = (1..=m).map(|j| 1.0 - h.powi(j as i32)).collect();
    let mut w = vec![0.0f64; m];
    let mut fac = 1.0f64;
    for j in 1..=m {
        w[j - 1] = fac;
        fac /= j as f64;
        v[j - 1] *= fac;
    }
    let tt = (2.0 * h - 1.0).max(0.0).powi(m as i32) - 2.0 * h.powi(m as i32);
    v[m - 1] = (1.0 + tt) * fac;
    for i in 1..m {
        for r in (i - 1)..m {
            hm[r * m + i] = w[r - (i - 1)];
        }
    }
    for r in 0..m {
        hm[r * m] = v[r];
    }
    for c in 0..m {
        hm[(m - 1) * m + c] = v[m - 1 - c];
    }
    let mut hpwr = vec![0.0f64; m * m];
    for i in 0..m {
        hpwr[i * m + i] = 1.0;
    }
    let mut nn = n;
    let mut expnt: i64 = 0;
    let mut hexpnt: i64 = 0;
    while nn > 0 {
        if nn % 2 == 1 {
            hpwr = matmul(&hpwr, &hm, m);
            expnt += hexpnt;
        }
        hm = matmul(&hm, &hm, m);
        hexpnt *= 2;
        if hm[(k - 1) * m + (k - 1)].abs() > EP128 {
            for x in hm.iter_mut() {
                *x /= EP128;
            }
            hexpnt += E128;
        }
        nn /= 2;
    }
    let mut p = hpwr[(k - 1) * m + (k - 1)];
    let nf = n as f64;
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < EM128 {
            p *= EP128;
            expnt -= E128;
        }
    }
    if expnt != 0 {
        p = ldexp(p, expnt);
    }
    p.clamp(0.0, 1.0)
}

fn matmul(a: &[f64], b: &[f64], m: usize) -> Vec<f64> {
    let mut c = vec![0.0f64; m * m];
    for i in 0..m {
        for k in 0..m {
            let aik = a[i * m + k];
            if aik == 0.0 {
                continue;
            }
            let row = &b[k * m..(k + 1) * m];
            let out = &mut c[i * m..(i + 1) * m];
            for (o, &bkj) in out.iter_mut().zip(row) {
                *o += aik * bkj;
            }
        }
    }
    c
}

fn pomeranz_j1j2(i: i64, n: i64, ll: i64, ceilf: i64, roundf: i64) -> (i64, i64) {
    let (j1, j2) = if i == 0 {
        (-ll - ceilf - 1, ll + ceilf - 1)
    } else {
        let (ip1div2, ip1mod2) = ((i + 1) / 2, (i + 1) % 2);
        if ip1mod2 == 0 {
            if ip1div2 == n + 1 {
                (n - ll - ceilf - 1, n + ll + ceilf - 1)
            } else {
                (ip1div2 - 1 - ll - roundf - 1, ip1div2 + ll - 1 + ceilf - 1)
            }
        } else {
            (ip1div2 - 1 - ll - 1, ip1div2 + ll + roundf - 1)
        }
    };
    ((j1 + 2).max(0), j2.min(n))
}

/// Pomeranz recursion: `P(D_n <= x)`.
fn kolmogn_pomeranz(n: u64, x: f64) -> f64 {
    let nf = n as f64;
    let n = n as i64;
    let t = nf * x;
    let ll = t.floor() as i64;
    let f = t - ll as f64;
    let g = f.min(1.0 - f);
    let ceilf = i64::from(f > 0.0);
    let roundf = i64::from(f > 0.5);
    let npwrs = (2 * (ll + 1)) as usize;
    let mut gpower = vec![1.0f64; npwrs];
    let mut twogpower = vec![1.0f64; npwrs];
    let mut onem2gpower = vec![1.0f64; npwrs];
    let (g_n, two_g_n, one_m2g_n) = (g / nf, 2.0 * g / nf, (1.0 - 2.0 * g) / nf);
    for m in 1..npwrs {
        gpower[m] = gpower[m - 1] * g_n / m as f64;
        twogpower[m] = twogpower[m - 1] * two_g_n / m as f64;
        onem2gpower[m] = onem2gpower[m - 1] * one_m2g_n / m as f64;
    }
    let mut v0 = vec![0.0f64; npwrs];
    let mut v1 = vec![0.0f64; npwrs];
    v1[0] = 1.0;
    let (mut v0s, mut v1s) = (0i64, 0i64);
    let mut expnt: i64 = 0;
    let mut j1 = pomeranz_j1j2(0, n, ll, ceilf, roundf).0;
    for i in 1..(2 * n + 2) {
        let k1 = j1;
        std::mem::swap(&mut v0, &mut v1);
        std::mem::swap(&mut v0s, &mut v1s);
        v1.iter_mut().for_each(|v| *v = 0.0);
        let (nj1, j2) = pomeranz_j1j2(i, n, ll, ceilf, roundf);
        j1 = nj1;
        let pwrs = if i == 1 || i == 2 * n + 1 {
            &gpower
        } else if i % 2 == 1 {
            &twogpower
        } else {
            &onem2gpower
        };
        let ln2 = j2 - k1 + 1;
        if ln2 > 0 {
            let start = (k1 - v0s).max(0) as usize;
            let a = slice_clamped(&v0, start, start + ln2 as usize);
            let b = slice_clamped(pwrs, 0, ln2 as usize);
            let conv = convolve(a, b);
            let conv_start = (j1 - k1).max(0) as usize;
            let conv_len = j2 - j1 + 1;
            if conv_len > 0 {
                let src = slice_clamped(&conv, conv_start, conv_start + conv_len as usize);
                v1[..src.len()].copy_from_slice(src);
            }
            let maxv = v1.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            if 0.0 < maxv && maxv < EM128 {
                v1.iter_mut().for_each(|v| *v *= EP128);
                expnt -= E128;
            }
            v1s = v0s + j1 - k1;
        }
    }
    let mut ans = v1[(n - v1s) as usize];
    for m in 1..=n {
        if ans.abs() > EP128 {
            ans *= EM128;
            expnt += E128;
        }
        ans *= m as f64;
    }
    if expnt != 0 {
        ans = ldexp(ans, expnt);
    }
    ans.clamp(0.0, 1.0)
}

fn slice_clamped(v: &[f64], start: usize, end: usize) -> &[f64] {
    let end = end.min(v.len());
    let start = start.min(end);
    &v[start..end]
}

/// Full discrete convolution, like `numpy.convolve(a, b)`.
fn convolve(a: &[f64], b: &[f64]) -> Vec<f64> {
    if a.is_empty() || b.is_empty() {
        return Vec::new();
    }
    let mut out = vec![0.0f64; a.len() + b.len() - 1];
    for (i, &x) in a.iter().enumerate() {
        if x == 0.0 {
            continue;
        }
        for (j, &y) in b.iter().enumerate() {
            out[i + j] += x * y;
        }
    }
    out
}

/// Pelz–Good asymptotic series for `P(D_n <= x)`.
fn kolmogn_pelz_good(n: u64, x: f64) -> f64 {
    use std::f64::consts::PI;
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let sqrt2pi = (2.0 * PI).sqrt();
    let (pi2, pi4, pi6) = (PI * PI, PI.powi(4), PI.powi(6));
    let z = nf.sqrt() * x;
    let (z2, z3, z4, z6) = (z * z, z.powi(3), z.powi(4), z.powi(6));
    let qlog = -pi2 / 8.0 / z2;
    if qlog < MIN_LOG {
        return 0.0;
    }
    let q = qlog.exp();
    let k1a = -z2;
    let k1b = pi2 / 4.0;
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powi(8);
    let mut kk = [0.0f64; 4];
    let maxk = (16.0 * z / PI).ceil() as i64;
    for k in (1..=maxk).rev() {
        let m = (2 * k - 1) as f64;
        let (m2, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let qpower = q.powf((8 * k) as f64);
        let coeffs = [
            1.0,
            k1a + k1b * m2,
            k2a + k2b * m2 + k2c * m4,
            k3a + k3b * m2 + k3c * m4 + k3d * m6,
        ];
        for (kv, c) in kk.iter_mut().zip(coeffs) {
            *kv = *kv * qpower + c;
        }
    }
    let denom = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (kv, d) in kk.iter_mut().zip(denom) {
        *kv = *kv * q * sqrt2pi / d;
    }
    let q = (-pi2 / 2.0 / z2).exp();
    let sqrt3z = 3f64.sqrt() * z;
    let mut k2extra = 0.0;
    let mut k3extra = 0.0;
    for k in (1..=maxk).rev() {
        let kf = k as f64;
        let ksq = kf * kf;
        let qp = q.powf(ksq);
        k2extra += ksq * qp;
        let kspi = PI * kf;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksq * qp;
    }
    kk[2] += k2extra * pi2 * sqrt2pi / (-36.0 * z3);
    kk[3] += k3extra * pi2 * sqrt2pi / (216.0 * z6);
    for (i, kv) in kk.iter_mut().enumerate() {
        *kv /= nf.powf(i as f64 / 2.0);
    }
    kk.iter().sum()
}

/// Survival function `P(D+_n >= x)` of the one-sided statistic
/// (SciPy `scipy.special.smirnov(n, x)`), by the Birnbaum–Tingey sum.
///
/// SciPy sums in double-double arithmetic; here the binomial coefficient and
/// the bases of the powers are carried as double-double and the powers are
/// taken with `powf` in scaled (mantissa, exponent) form, which keeps each
/// term to about 1e-13 relative. SciPy's alternative "upper sum" (used only
/// for `x <= 0.5/sqrt(n)`) is not needed: the lower sum is accurate there too.
pub fn smirnov_sf(n: u64, x: f64) -> f64 {
    if !(n > 0 && (0.0..=1.0).contains(&x)) {
        return f64::NAN;
    }
    if n == 1 {
        return 1.0 - x;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    let (nxfl, alpha) = mod_nx(nf, x);
    let mut n1mxfl = n as i64 - nxfl - if alpha == 0.0 { 0 } else { 1 };
    if alpha == 0.0 {
        n1mxfl -= 1;
    }
    if nxfl == 0 || (nxfl == 1 && alpha == 0.0) {
        let t = pow_dd(two_sum(1.0, x), n - 1);
        return 1.0 - x * t;
    }
    if -2.0 * nf * x * x < CEPHES_MINLOG {
        return 0.0;
    }
    if nxfl >= n as i64 - 1 {
        return pow_dd(two_sum(1.0, -x), n);
    }
    if n > 1_000_000 {
        let logp = -(6.0 * nf * x + 1.0).powi(2) / 18.0 / nf;
        return if logp < -std::f64::consts::LN_2 {
            logp.exp()
        } else {
            1.0 - (-logp.exp_m1())
        };
    }
    let n_terms = n1mxfl + 1;
    let vmid = n as i64 / 2;
    // Binomial coefficient C(n, v) as double-double mantissa and binary exponent.
    let mut c = (1.0f64, 0.0f64);
    let mut c_exp: i64 = 0;
    let mut sum = Neumaier::default();
    // v = 0 term: (1-x)^n / x
    sum.add(pow_dd(two_sum(1.0, -x), n) / x);
    mul_binomial(&mut c, &mut c_exp, nf, 0);
    let mut j: i64 = 1;
    while j < n_terms {
        let v = j;
        // 1 - x - v/n and x + v/n, both as double-double
        let q = div_dd((n as i64 - v) as f64, nf);
        let t2x = dd_add_d(q, -x);
        let r = div_dd(v as f64, nf);
        let t1x = dd_add_d(r, x);
        let (m2, e2) = pow_scaled_dd(t2x, (n as i64 - v) as u64);
        let (m1, e1) = pow_scaled_dd(t1x, (v - 1) as u64);
        let term = ldexp(c.0 * m1 * m2 + c.1 * m1 * m2, c_exp + e1 + e2);
        if term.is_finite() && term != 0.0 {
            sum.add(term);
        }
        if term != 0.0 {
            if 4.0 * (n_terms - j) as f64 * term.abs() < f64::EPSILON * sum.value()
                && j != n_terms - 1
            {
                break;
            }
        } else if j > vmid {
            break;
        }
        mul_binomial(&mut c, &mut c_exp, nf, j as u64);
        j += 1;
    }
    (x * sum.value()).clamp(0.0, 1.0)
}

/// `floor(n*x)` and the fractional part of the exact product.
fn mod_nx(n: f64, x: f64) -> (i64, f64) {
    let hi = n * x;
    let lo = n.mul_add(x, -hi);
    let fl = hi.floor();
    let (floor_total, alpha) = if fl == hi {
        let flo = lo.floor();
        (fl + flo, lo - flo)
    } else {
        (fl, (hi - fl) + lo)
    };
    let mut nxfl = floor_total as i64;
    let mut alpha = alpha;
    if alpha >= 1.0 {
        nxfl += 1;
        alpha = 0.0;
    }
    (nxfl, alpha.max(0.0))
}

/// C(n, j+1) = C(n, j) * (n - j) / (j + 1), renormalised to keep the mantissa in [0.5, 1).
fn mul_binomial(c: &mut (f64, f64), c_exp: &mut i64, n: f64, j: u64) {
    let rat = div_dd(n - j as f64, j as f64 + 1.0);
    let prod = mul_dd(*c, rat);
    let (m, e) = frexp(prod.0);
    let scale = ldexp(1.0, -(e as i64));
    *c = (m, prod.1 * scale);
    *c_exp += e as i64;
}

#[derive(Default)]
struct Neumaier {
    sum: f64,
    comp: f64,
}

impl Neumaier {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.comp += (self.sum - t) + x;
        } else {
            self.comp += (x - t) + self.sum;
        }
        self.sum = t;
    }

    fn value(&self) -> f64 {
        self.sum + self.comp
    }
}

fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let err = (a - (s - bb)) + (b - bb);
    (s, err)
}

fn div_dd(a: f64, b: f64) -> (f64, f64) {
    let q = a / b;
    let r = (-q).mul_add(b, a);
    (q, r / b)
}

fn mul_dd(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    let p = a.0 * b.0;
    let e = a.0.mul_add(b.0, -p) + (a.0 * b.1 + a.1 * b.0);
    two_sum(p, e)
}

fn dd_add_d(a: (f64, f64), b: f64) -> (f64, f64) {
    let (s, e) = two_sum(a.0, b);
    two_sum(s, e + a.1)
}

/// `(hi + lo)^m` as a plain double.
fn pow_dd(a: (f64, f64), m: u64) -> f64 {
    let (man, e) = pow_scaled_dd(a, m);
    ldexp(man, e)
}

/// `(hi + lo)^m` as (mantissa, binary exponent) so huge and tiny powers survive.
fn pow_scaled_dd(a: (f64, f64), m: u64) -> (f64, i64) {
    if m == 0 {
        return (1.0, 0);
    }
    if a.0 == 0.0 {
        return (0.0, 0);
    }
    let (man, e) = pow_scaled(a.0, m);
    let r = a.1 / a.0;
    let adj = (m as f64 * r.ln_1p()).exp();
    (man * adj, e)
}

fn pow_scaled(a: f64, m: u64) -> (f64, i64) {
    let (y, ye) = frexp(a);
    let mut exp = ye as i64 * m as i64;
    let lg2y = y.log2();
    // Largest chunk whose power stays far from underflow (y^k >= 2^-900).
    let chunk = if lg2y < 0.0 {
        ((-900.0 / lg2y).floor() as u64).max(1)
    } else {
        m
    };
    let mut man = 1.0f64;
    let mut remaining = m;
    while remaining > 0 {
        let k = remaining.min(chunk);
        let (pm, pe) = frexp(y.powf(k as f64));
        let (mm, me) = frexp(man * pm);
        man = mm;
        exp += pe as i64 + me as i64;
        remaining -= k;
    }
    (man, exp)
}

/// Splits `x` into a mantissa in `[0.5, 1)` and a power of two.
fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let bits = x.to_bits();
    let exp_bits = ((bits >> 52) & 0x7ff) as i32;
    if exp_bits == 0 {
        // Subnormal: scale up first.
        let (m, e) = frexp(x * 18_446_744_073_709_551_616.0);
        return (m, e - 64);
    }
    let e = exp_bits - 1022;
    let m = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (m, e)
}

/// `x * 2^e` without intermediate overflow.
fn ldexp(mut x: f64, mut e: i64) -> f64 {
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
        if x.is_infinite() {
            return x;
        }
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
        if x == 0.0 {
            return x;
        }
    }
    x * 2f64.powi(e as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frexp_ldexp_roundtrip() {
        for &x in &[1.0, 0.75, 3.0e300, 1.0e-310, 123.456] {
            let (m, e) = frexp(x);
            assert!((0.5..1.0).contains(&m), "{x} {m}");
            assert_eq!(ldexp(m, e as i64), x);
        }
    }

    #[test]
    fn statistic_handles_ties_and_separation() {
        assert_eq!(ks_statistic(&[1.0, 2.0, 3.0], &[4.0, 5.0]), 1.0);
        assert_eq!(ks_statistic(&[1.0, 2.0], &[1.0, 2.0]), 0.0);
        let r = ks_2samp(&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(r.p_value, 1.0);
        assert_eq!(r.method, KsMethod::Exact);
    }

    #[test]
    fn exact_small_case_matches_closed_form() {
        // Complete separation of n1=n2=3: P = 2 / C(6,3) = 0.1
        let r = ks_2samp(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]);
        assert!((r.p_value - 0.1).abs() < 1e-15, "{}", r.p_value);
    }
}
