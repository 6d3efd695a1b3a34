//! Exponential backoff with jitter for transient failures (node or broker down).

use std::future::Future;
use std::time::Duration;

use mpc_evm::RpcError;
use rand::Rng;

const FIRST_DELAY: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(15);

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
