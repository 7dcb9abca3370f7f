//! Fixtures shared by the end-to-end tests of several Tympan crates.
//!
//! The hostile-input corpus is generated here, from code and from FSDD recordings re-encoded by
//! `sox` and `ffmpeg` (which `.ci/run` installs), so that `/predict`, `/feedback` and
//! `tympan embed` are all tried on exactly the same bytes. Nothing is downloaded.

#![warn(missing_docs)]

pub mod deployment;
pub mod fuzz;
pub mod hostile;
pub mod poll;
pub mod wav;
