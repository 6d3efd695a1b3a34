//! `mpc-bench`: keygen, signing and refresh in process and over a real
//! broker with the real co-signer; throughput with 1, 4 and 16 wallets on
//! one and two co-signers; the co-signer's memory over a long run; bytes on
//! the wire and where a signature's time goes. Prints one JSON object.
//!
//! Run through `scripts/bench [--quick] [--json]`, which builds the release
//! binaries this one starts.

mod cbor;
mod deployment;
mod inprocess;
mod overnats;
mod report;
mod stats;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use mpc_cli::ClientShare;
use mpc_protocol::DerivationPath;

use crate::deployment::Deployment;
use crate::overnats::{Throughput, Wallets};
use crate::report::{MemoryCheck, NatsLatencies, Operations, Profile, Report};
use crate::stats::{milliseconds, round2, Summary};

/// Concurrent wallets of the throughput runs.
const CONCURRENCY: [usize; 3] = [1, 4, 16];
/// Wallets the memory run signs with, concurrently.
const MEMORY_RUN_WALLETS: usize = 4;

#[derive(Debug, Parser)]
#[command(
    name = "mpc-bench",
    about = "Benchmarks the MPC wallet (see scripts/bench)"
)]
struct Args {
    /// Few runs of everything (about a minute), for a smoke check
    #[arg(long)]
    quick: bool,
    /// Print only the JSON object on stdout (the human table goes to stderr either way)
    #[arg(long)]
    json: bool,
    /// The co-signer binary to start [default: mpc-cosigner beside this binary]
    #[arg(long)]
    cosigner: Option<PathBuf>,
}

/// How much of everything one mode runs.
struct Plan {
    name: &'static str,
    keygens: usize,
    signs: usize,
    refreshes: usize,
    /// Signatures per throughput run, spread over its wallets.
    throughput_signatures: usize,
    memory_signatures: usize,
}

const QUICK: Plan = Plan {
    name: "quick",
    keygens: 3,
    signs: 10,
    refreshes: 3,
    throughput_signatures: 32,
    memory_signatures: 200,
};

const FULL: Plan = Plan {
    name: "full",
    keygens: 50,
    signs: 100,
    refreshes: 20,
    throughput_signatures: 320,
    memory_signatures: 10_000,
};

/// Progress for the person waiting; stdout stays one JSON object.
fn progress(what: &str) {
    eprintln!("mpc-bench: {what}");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let plan = if args.quick { QUICK } else { FULL };
    let cosigner = match args.cosigner {
        Some(path) => path,
        None => std::env::current_exe()?
            .parent()
            .context("this binary has no directory")?
            .join("mpc-cosigner"),
    };
    let report = run(&plan, cosigner).await?;
    eprintln!("{}", report.human());
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}

async fn run(plan: &Plan, cosigner: PathBuf) -> anyhow::Result<Report> {
    progress("in process: keygen, sign, sign at m/0/7, refresh");
    let (in_process, shares) = inprocess::run(inprocess::Runs {
        keygen: plan.keygens,
        sign: plan.signs,
        refresh: plan.refreshes,
    })
    .await?;
    let trace = inprocess::traced_sign(&shares).await?;
    let cbor = cbor::measure(&trace)?;

    progress("starting nats-server and the co-signer");
    let mut deployment = Deployment::start(cosigner).await?;
    let wallets = Wallets::connect(deployment.client_url()).await?;

    // The throughput runs need 16 wallets, the refresh runs one more of its own.
    let needed = plan.keygens.max(CONCURRENCY[2] + 1);
    progress(&format!("over NATS: {needed} keygens"));
    let mut keygen_samples = Vec::new();
    let mut shares = Vec::new();
    for number in 0..needed {
        let (path, elapsed) = wallets.keygen(number).await?;
        keygen_samples.push(elapsed);
        shares.push(wallets.load(&path).await?);
    }
    let refreshed = shares.pop().context("a wallet to refresh")?;
    shares.truncate(CONCURRENCY[2]);

    progress("over NATS: sign, sign at m/0/7");
    let (sign, sign_m_0_7) = sign_latencies(&wallets, &shares[0], plan.signs).await?;
    let wire = wallets
        .wire_bytes(
            &shares[0],
            &deployment.client_url(),
            &deployment.cosigner_url(),
        )
        .await?;
    progress("over NATS: refresh");
    let refresh = refresh_latencies(&wallets, refreshed, plan.refreshes).await?;

    progress("throughput with one co-signer");
    let mut throughput = throughput_runs(&wallets, &shares, plan, 1).await?;

    progress(&format!(
        "co-signer memory over {} signatures",
        plan.memory_signatures
    ));
    let before = deployment.first_cosigner().memory()?;
    let per_wallet = plan.memory_signatures.div_ceil(MEMORY_RUN_WALLETS);
    let long_run = wallets
        .throughput(&shares[..MEMORY_RUN_WALLETS], per_wallet, 1)
        .await?;
    let after = deployment.first_cosigner().memory()?;
    let memory = MemoryCheck::new(long_run.signatures, before, after);

    progress("throughput with two co-signers in the queue group");
    deployment.add_cosigner().await?;
    // Each co-signer decrypts a wallet's share (Argon2id) the first time it
    // serves it: let both see every wallet before measuring.
    wallets.throughput(&shares, 8, 2).await?;
    throughput.extend(throughput_runs(&wallets, &shares, plan, 2).await?);

    let latencies = NatsLatencies {
        keygen: Summary::of(keygen_samples),
        sign,
        sign_m_0_7,
        refresh,
    };
    let operations = Operations::new(in_process, latencies);
    let profile = Profile {
        protocol_compute_ms: operations.sign.in_process.p50_ms,
        cbor_ms: cbor.cbor_ms,
        transport_ms: round2(operations.sign.nats.p50_ms - operations.sign.in_process.p50_ms),
        longest_compute_step_ms: milliseconds(trace.longest_step),
        cbor,
    };
    Ok(Report::new(
        plan.name, operations, throughput, wire, memory, profile,
    ))
}

/// Alternating signatures at the master key and at m/0/7 with one wallet.
async fn sign_latencies(
    wallets: &Wallets,
    share: &ClientShare,
    runs: usize,
) -> anyhow::Result<(Summary, Summary)> {
    let master = DerivationPath::master();
    let child: DerivationPath = "m/0/7".parse()?;
    // The first signature makes the co-signer decrypt its share: not timed.
    wallets.sign(share, &master).await?;
    let (mut master_samples, mut child_samples) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        master_samples.push(wallets.sign(share, &master).await?.0);
        child_samples.push(wallets.sign(share, &child).await?.0);
    }
    Ok((Summary::of(master_samples), Summary::of(child_samples)))
}

async fn refresh_latencies(
    wallets: &Wallets,
    mut share: Arc<ClientShare>,
    runs: usize,
) -> anyhow::Result<Summary> {
    let mut samples = Vec::new();
    for _ in 0..runs {
        let (refreshed, elapsed) = wallets.refresh(&share).await?;
        samples.push(elapsed);
        share = refreshed;
    }
    Ok(Summary::of(samples))
}

/// One throughput run per concurrency level, after one untimed signature
/// per wallet so every share is already decrypted on the co-signer.
async fn throughput_runs(
    wallets: &Wallets,
    shares: &[Arc<ClientShare>],
    plan: &Plan,
    cosigners: usize,
) -> anyhow::Result<Vec<Throughput>> {
    wallets.throughput(shares, 1, cosigners).await?;
    let mut runs = Vec::new();
    for concurrency in CONCURRENCY {
        let per_wallet = (plan.throughput_signatures / concurrency).max(2);
        runs.push(
            wallets
                .throughput(&shares[..concurrency], per_wallet, cosigners)
                .await?,
        );
    }
    Ok(runs)
}
