use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long to wait, and how much to hold, while talking to the peer.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// How long `recv` waits for the peer's message of one round.
    pub round_timeout: Duration,
    /// How long a request to the co-signer waits for its reply.
    pub request_timeout: Duration,
    /// How far a request's timestamp may be from the co-signer's clock, either
    /// way: older requests are refused as replays, so a co-signer need only
    /// remember session ids this long.
    pub freshness_window: Duration,
    /// How many authentic messages for rounds not asked for yet are kept, so
    /// the two parties need not run in lock step.
    pub max_buffered_rounds: usize,
    /// How many bytes of such messages one session may hold.
    pub max_buffered_bytes: usize,
    /// The bytes all sessions made from this config may hold together
    /// (clones share it), beyond the 256 KiB each may always hold.
    pub buffer_budget: BufferBudget,
}

/// The default freshness window: generous for clock drift, short enough to
/// keep the co-signer's memory of session ids small.
pub const DEFAULT_FRESHNESS_WINDOW: Duration = Duration::from_secs(60);

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            round_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(5),
            freshness_window: DEFAULT_FRESHNESS_WINDOW,
            max_buffered_rounds: 16,
            // The largest protocol message is ~100 KB (keygen); a peer this
            // far ahead is flooding.
            max_buffered_bytes: 8 << 20,
            buffer_budget: BufferBudget::new(128 << 20),
        }
    }
}

/// Bytes of buffered peer messages shared by many sessions: a session takes
/// from it before buffering and gives back when the message is delivered or
/// the session ends.
#[derive(Debug, Clone)]
pub struct BufferBudget {
    used: Arc<AtomicUsize>,
    limit: usize,
}

impl BufferBudget {
    pub fn new(limit: usize) -> BufferBudget {
        BufferBudget {
            used: Arc::default(),
            limit,
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes held right now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Takes `bytes` when they fit; false (and nothing taken) otherwise.
    pub(crate) fn take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|total| *total <= self.limit)
            })
            .is_ok()
    }

    pub(crate) fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// Whole seconds for error messages, rounded up so a sub-second timeout
/// never reads as "0 s".
pub(crate) fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs_f64().ceil() as u64
}

#[cfg(test)]
mod tests {
    use super::BufferBudget;

    #[test]
    fn a_budget_never_goes_past_its_limit_and_clones_share_it() {
        let budget = BufferBudget::new(10);
        let other = budget.clone();
        assert!(budget.take(6));
        assert!(!other.take(5), "6 + 5 is past 10");
        assert!(other.take(4));
        assert_eq!(budget.used(), 10);
        other.give_back(6);
        assert!(budget.take(5));
        assert_eq!(other.used(), 9);
    }
}
