//! Waiting for what the server (or a process it started) does in its own time: the one poll loop
//! of the suite. A check answers `true`, `Some(value)` or `Ok(value)` when done; `false`, `None`
//! or `Err(what it saw)` when not yet, and the last of those is what a timeout reports.

use std::fmt::Display;
use std::time::{Duration, Instant};

/// `n` seconds.
pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// What one check of [`eventually`] found.
pub trait Outcome {
    type Done;
    fn done(self) -> Result<Self::Done, String>;
}

impl Outcome for bool {
    type Done = ();
    fn done(self) -> Result<(), String> {
        if self {
            Ok(())
        } else {
            Err("the condition still does not hold".into())
        }
    }
}

impl<T> Outcome for Option<T> {
    type Done = T;
    fn done(self) -> Result<T, String> {
        self.ok_or_else(|| "nothing yet".into())
    }
}

impl<T, E: Display> Outcome for Result<T, E> {
    type Done = T;
    fn done(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

/// Runs `check` until it is done, pausing between tries; panics with what the last try saw when
/// `timeout` has passed.
pub async fn eventually<O: Outcome>(
    timeout: Duration,
    mut check: impl AsyncFnMut() -> O,
) -> O::Done {
    let deadline = Instant::now() + timeout;
    // Short pauses first (most waits are short), growing so that a long wait does not hammer.
    let mut pause = Duration::from_millis(50);
    loop {
        match check().await.done() {
            Ok(done) => return done,
            Err(last) => assert!(
                Instant::now() < deadline,
                "not done within {timeout:?}; last seen: {last}"
            ),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 3 / 2).min(Duration::from_millis(250));
    }
}
