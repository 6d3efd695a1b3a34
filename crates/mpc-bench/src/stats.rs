//! Latency samples and their percentiles.

use std::future::Future;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Percentiles of one operation's wall-clock times.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Summary {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub runs: usize,
}

impl Summary {
    /// Nearest-rank percentiles; `samples` must not be empty.
    pub fn of(mut samples: Vec<Duration>) -> Summary {
        assert!(!samples.is_empty(), "a summary needs at least one sample");
        samples.sort();
        let at = |quantile: f64| {
            let index = ((samples.len() as f64 - 1.0) * quantile).round() as usize;
            milliseconds(samples[index])
        };
        Summary {
            p50_ms: at(0.50),
            p95_ms: at(0.95),
            runs: samples.len(),
        }
    }
}

pub fn milliseconds(duration: Duration) -> f64 {
    round2(duration.as_secs_f64() * 1000.0)
}

/// Two decimals are all a noisy wall clock can back.
pub fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// Runs `operation` and returns its output with how long it took.
pub async fn timed<T>(operation: impl Future<Output = T>) -> (T, Duration) {
    let start = Instant::now();
    let output = operation.await;
    (output, start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let samples = (1..=100).rev().map(Duration::from_millis).collect();
        let summary = Summary::of(samples);
        assert_eq!(summary.p50_ms, 51.0);
        assert_eq!(summary.p95_ms, 95.0);
        assert_eq!(summary.runs, 100);

        let single = Summary::of(vec![Duration::from_micros(1234)]);
        assert_eq!((single.p50_ms, single.p95_ms), (1.23, 1.23));
    }
}
