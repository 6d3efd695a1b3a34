//! One logging setup for every binary: JSON lines on stderr, filtered by
//! `MPC_LOG` (tracing `EnvFilter` syntax). Events carry the session id and
//! round as fields; secrets are never fields.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber with `default_filter` unless `MPC_LOG` is
/// set. Call once, first thing in `main`.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_env("MPC_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
