//! JSON helpers: serde adapters and (de)serialisation of reports.

/// Serialises an `f64` that may be `+inf` (a chi-square statistic against an
/// unseen category) as `null`, since JSON has no infinity; reads `null` back
/// as `+inf`.
pub mod f64_inf_null {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialize `v`, writing `null` for non-finite values.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }

    /// Deserialize a number, or `null` as `+inf`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
    }
}
