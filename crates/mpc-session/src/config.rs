use std::time::Duration;

/// How long to wait, and how much to hold, while talking to the peer.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// How long `recv` waits for the peer's message of one round.
    pub round_timeout: Duration,
    /// How long a request to the co-signer waits for its reply.
    pub request_timeout: Duration,
    /// How many authentic messages for rounds not asked for yet are kept, so
    /// the two parties need not run in lock step.
    pub max_buffered_rounds: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            round_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(5),
            max_buffered_rounds: 16,
        }
    }
}

/// Whole seconds for error messages, rounded up so a sub-second timeout
/// never reads as "0 s".
pub(crate) fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs_f64().ceil() as u64
}
