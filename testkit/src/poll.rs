//! Waiting for something another thread or process does, without a fixed sleep.

use std::time::{Duration, Instant};

/// Calls `done` every 20 ms until it returns true (then true) or `timeout` passes (then false).
pub fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}
