//! Wall-clock cost of each operation, both parties in one process over
//! `memory::pair` (no network). Prints one JSON object.
//!
//! `cargo bench -p mpc-protocol --bench protocol`; `BENCH_RUNS` sets the
//! number of signing and refresh runs (default 20); keygen runs a quarter
//! as often (at least 3).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mpc_protocol::memory::{self, MemoryChannel};
use mpc_protocol::{
    DerivationPath, Dkls23, KeyShare, Party, ProtocolError, SessionContext, ThresholdSigner,
};

type Shares = (Arc<KeyShare>, Arc<KeyShare>);

/// Runs both parties as two tokio tasks over a fresh channel pair.
async fn both<T, F>(run: impl Fn(Party, MemoryChannel) -> F) -> (T, T)
where
    T: Send + 'static,
    F: Future<Output = Result<T, ProtocolError>> + Send + 'static,
{
    let (a, b) = memory::pair();
    let client = tokio::spawn(run(Party::Client, a));
    let cosigner = tokio::spawn(run(Party::Cosigner, b));
    let (client, cosigner) = (client.await.unwrap(), cosigner.await.unwrap());
    (client.unwrap(), cosigner.unwrap())
}

fn context() -> SessionContext {
    SessionContext::new(*b"bench-session-id", "bench")
}

fn pick(shares: &Shares, party: Party) -> Arc<KeyShare> {
    match party {
        Party::Client => shares.0.clone(),
        Party::Cosigner => shares.1.clone(),
    }
}

async fn keygen() -> Shares {
    let (client, cosigner) = both(|party, mut channel| async move {
        Dkls23.keygen(party, &context(), &mut channel).await
    })
    .await;
    (Arc::new(client), Arc::new(cosigner))
}

async fn sign(shares: &Shares, path: &DerivationPath) {
    both(|party, mut channel| {
        let (share, path) = (pick(shares, party), path.clone());
        async move {
            Dkls23
                .sign(&share, &path, [0x5a; 32], &context(), &mut channel)
                .await
        }
    })
    .await;
}

async fn refresh(shares: &Shares) -> Shares {
    let (client, cosigner) = both(|party, mut channel| {
        let share = pick(shares, party);
        async move { Dkls23.refresh(&share, &context(), &mut channel).await }
    })
    .await;
    (Arc::new(client), Arc::new(cosigner))
}

/// `{"p50_ms":..,"p95_ms":..,"runs":..}` of the sorted samples.
fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |quantile: f64| {
        let index = ((samples.len() as f64 - 1.0) * quantile).round() as usize;
        samples[index].as_secs_f64() * 1000.0
    };
    format!(
        r#"{{"p50_ms":{:.2},"p95_ms":{:.2},"runs":{}}}"#,
        at(0.50),
        at(0.95),
        samples.len()
    )
}

async fn time<T>(operation: impl Future<Output = T>) -> (T, Duration) {
    let start = Instant::now();
    let output = operation.await;
    (output, start.elapsed())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(20)
        .max(1);
    let keygen_runs = (runs / 4).max(3);

    let mut keygen_samples = Vec::new();
    let mut shares = None;
    for _ in 0..keygen_runs {
        let (made, elapsed) = time(keygen()).await;
        keygen_samples.push(elapsed);
        shares = Some(made);
    }
    let mut shares = shares.expect("at least one keygen");

    let master = DerivationPath::master();
    let child: DerivationPath = "m/0/7".parse().expect("valid path");
    let (mut sign_samples, mut child_samples, mut refresh_samples) =
        (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        sign_samples.push(time(sign(&shares, &master)).await.1);
        child_samples.push(time(sign(&shares, &child)).await.1);
    }
    for _ in 0..runs {
        let (refreshed, elapsed) = time(refresh(&shares)).await;
        refresh_samples.push(elapsed);
        shares = refreshed;
    }

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        r#"{{"cores":{cores},"keygen":{},"sign":{},"sign_m_0_7":{},"refresh":{}}}"#,
        summary(keygen_samples),
        summary(sign_samples),
        summary(child_samples),
        summary(refresh_samples)
    );
}
