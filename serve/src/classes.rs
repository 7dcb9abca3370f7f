//! The cap on feedback classes that the reference data does not have.
//!
//! Every class in the feedback log costs every later retraining (a row of weights, fitted on all
//! rows) and every report (a row of its tables). Labels are free to send, so without a bound one
//! client makes retraining and reporting as slow as it likes: 1,500 feedbacks of unique labels
//! took a retraining past 100 s. The reference classes are the dataset's and always accepted;
//! classes beyond them are accepted until the log holds `cap` of them, counted over what the log
//! held at start plus what was appended since.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};

use tympan_data::LabeledRow;

/// A feedback label refused because the log holds as many new classes as allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the feedback log holds {held} classes that the reference data does not have, and at most \
     {cap} are accepted (--max-new-classes, TYMPAN_MAX_NEW_CLASSES); a new class is refused, \
     the known ones are still accepted"
)]
pub struct ClassCapReached {
    /// The cap in force.
    pub cap: usize,
    /// New classes the log holds (more than the cap when a log written before it holds more).
    pub held: usize,
}

/// The classes feedback may use: those of the reference data, and at most `cap` others.
#[derive(Debug)]
pub struct ClassCap {
    reference: HashSet<String>,
    new: Mutex<HashSet<String>>,
    cap: usize,
}

impl ClassCap {
    /// The cap over the reference rows' classes, with the new classes among `logged` (the
    /// targets the production log holds already).
    pub fn new<'a>(
        reference: &[LabeledRow],
        logged: impl IntoIterator<Item = &'a str>,
        cap: usize,
    ) -> Self {
        let reference: HashSet<String> = reference.iter().map(|r| r.target.clone()).collect();
        let new = logged
            .into_iter()
            .filter(|t| !reference.contains(*t))
            .map(str::to_owned)
            .collect();
        Self {
            reference,
            new: Mutex::new(new),
            cap,
        }
    }

    /// Classes the log holds that the reference data does not have.
    pub fn new_classes(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashSet<String>> {
        // The set is only ever added to after a successful append: a panic cannot leave it
        // half-updated.
        self.new.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `append` (which stores a row labelled `label`) when the cap allows the label, and
    /// counts a new class once its first row is stored.
    ///
    /// A new class is checked and appended under one lock, so concurrent requests with different
    /// new labels cannot both take the last place; rows of known classes do not wait for it.
    pub fn admit<T, E: From<ClassCapReached>>(
        &self,
        label: &str,
        append: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        if self.reference.contains(label) {
            return append();
        }
        let mut new = self.lock();
        if new.contains(label) {
            drop(new);
            return append();
        }
        if new.len() >= self.cap {
            return Err(ClassCapReached {
                cap: self.cap,
                held: new.len(),
            }
            .into());
        }
        let stored = append()?;
        new.insert(label.to_owned());
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(target: &str) -> LabeledRow {
        LabeledRow {
            vector: vec![0.0],
            target: target.into(),
            prediction: Some("a".into()),
        }
    }

    #[test]
    fn counts_the_logged_classes_and_only_stored_rows() {
        let cap = ClassCap::new(&[row("a"), row("b")], ["a", "x"], 2);
        assert_eq!(cap.new_classes(), 1, "x is new, a is a reference class");
        let ok = |_: &str| Ok::<_, ClassCapReached>(());
        // A failed append does not count its class.
        let failed = cap.admit("y", || Err::<(), _>(ClassCapReached { cap: 0, held: 0 }));
        assert!(failed.is_err());
        assert_eq!(cap.new_classes(), 1);
        assert!(cap.admit("y", || ok("y")).is_ok());
        let refused = cap.admit("z", || ok("z")).unwrap_err();
        assert_eq!(refused, ClassCapReached { cap: 2, held: 2 });
        for known in ["a", "b", "x", "y"] {
            assert!(cap.admit(known, || ok(known)).is_ok(), "{known}");
        }
        let none = ClassCap::new(&[row("a")], [], 2);
        assert_eq!(none.new_classes(), 0);
    }
}
