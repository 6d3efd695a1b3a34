//! Exponential backoff with jitter for transient failures (node or broker
//! down), and the redelivery delay of transactions that cannot be mined yet.

use std::future::Future;
use std::time::Duration;

use mpc_evm::RpcError;
use rand::Rng;

const FIRST_DELAY: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(15);

/// A transaction waiting for its nonce or for lower fees is looked at again
/// after 0.5 s, 1 s, 2 s, … up to 10 s: soon after the gap is filled, without
/// polling the node for it all the time.
const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(10);

/// Delays 200 ms, 400 ms, … up to 15 s, each scaled by a random 50–100 %
/// so that restarted workers do not hammer the node in step.
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    pub fn new() -> Self {
        Backoff { next: FIRST_DELAY }
    }

    pub async fn wait(&mut self) {
        let jittered = self.next.mul_f64(rand::thread_rng().gen_range(0.5..=1.0));
        tokio::time::sleep(jittered).await;
        self.next = (self.next * 2).min(MAX_DELAY);
    }
}

/// How long to leave a not-yet-mineable transaction in the queue before
/// its `delivery`-th (1-based) redelivery.
pub fn retry_delay(delivery: i64) -> Duration {
    let doublings = u32::try_from(delivery.saturating_sub(1).max(0))
        .unwrap_or(u32::MAX)
        .min(10);
    (FIRST_RETRY * 2u32.pow(doublings)).min(MAX_RETRY)
}

/// Runs `call` until it succeeds or fails permanently; transient RPC errors
/// are retried without limit, since a queued transaction must not be lost.
pub async fn retry_rpc<T, F, Fut>(what: &str, mut call: F) -> Result<T, RpcError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RpcError>>,
{
    let mut backoff = Backoff::new();
    loop {
        match call().await {
            Err(error) if error.is_transient() => {
                tracing::warn!(%error, what, "RPC unavailable, retrying");
                backoff.wait().await;
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_up_to_the_cap() {
        let delays: Vec<_> = (1..=7).map(retry_delay).collect();
        let ms = |n| Duration::from_millis(n);
        assert_eq!(
            delays,
            [
                ms(500),
                ms(1000),
                ms(2000),
                ms(4000),
                ms(8000),
                ms(10_000),
                ms(10_000)
            ]
        );
        assert_eq!(retry_delay(0), ms(500));
        assert_eq!(retry_delay(i64::MAX), MAX_RETRY);
    }
}
