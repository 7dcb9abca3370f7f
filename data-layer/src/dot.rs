//! The dot product (and squared distance) the front end's filterbank and the unusual-clip
//! detector spend their time in.

/// `a · b` over their common length, in eight independent lanes: a sum in order is one chain of
/// dependent additions the compiler may not reorder (nor vectorise), which made the mel
/// filterbank the front end's costliest step at 64 ms windows.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    sum_in_lanes(a, b, |x, y| x * y)
}

/// `|a - b|²` over their common length, in eight lanes as [`dot`]: the unusual-clip detector
/// measures every class centre with it, on every prediction.
#[inline]
pub fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    sum_in_lanes(a, b, |x, y| (x - y) * (x - y))
}

/// `Σ term(a[i], b[i])` over the common length, in eight independent lanes and a tail.
#[inline(always)]
fn sum_in_lanes(a: &[f32], b: &[f32], term: impl Fn(f32, f32) -> f32) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut lanes = [0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(&x, &y)| term(x, y))
        .sum();
    for (x, y) in a8.zip(b8) {
        for k in 0..8 {
            lanes[k] += term(x[k], y[k]);
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_and_tail_add_up_to_the_plain_sum() {
        let a: Vec<f32> = (0..21).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..21).map(|i| 1.0 - i as f32 * 0.1).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-4);
        assert_eq!(dot(&a[..3], &b), dot(&a[..3], &b[..3]));
        assert_eq!(dot(&[], &b), 0.0);
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        assert!((squared_distance(&a, &b) - plain).abs() < 1e-3 * plain);
        assert_eq!(
            squared_distance(&a[..3], &b),
            squared_distance(&a[..3], &b[..3])
        );
    }
}
