//! Fixtures shared by the tests, benches and examples of several Tympan crates: the FSDD
//! recordings ([`fsdd`]), the drum set ([`drums`]), deterministic synthetic report data ([`synth`]) and a hostile-input
//! corpus.
//!
//! The hostile-input corpus is generated here, from code and from FSDD recordings re-encoded by
//! `sox` and `ffmpeg` (which `.ci/run` installs), so that `/predict`, `/feedback` and
//! `tympan embed` are all tried on exactly the same bytes. Nothing is downloaded.

#![warn(missing_docs)]

pub mod deployment;
pub mod drums;
pub mod fsdd;
pub mod fuzz;
pub mod hostile;
pub mod poll;
pub mod postgres;
pub mod synth;
pub mod wav;
