//! `mpc-bench`: keygen, signing and refresh in process and over a real
//! broker with the real co-signer; throughput with 1, 4 and 16 wallets on
//! one and two co-signers; the co-signer's memory over a long run; bytes on
//! the wire and where a signature's time goes; `eth_sendTransaction` through
//! `mpc serve`'s `/rpc` with a node and the broadcaster; the co-signer's
//! policy check per signature; the broadcaster's throughput with 10
//! senders. Prints one JSON object.
//!
//! Run through `scripts/bench [--quick] [--json]`, which builds the release
//! binaries this one starts.

mod broadcaster;
mod cbor;
mod deployment;
mod fleet;
mod inprocess;
mod overnats;
mod policy;
mod report;
mod rpc;
mod serve;
mod stats;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use std::time::Duration;

use alloy::signers::Signer;
use mpc_client::{Account, MpcSigner, Wallet};
use mpc_protocol::DerivationPath;
use mpc_testkit::Anvil;

use crate::deployment::Deployment;
use crate::overnats::{Throughput, Wallets};
use crate::report::{CosignerMemory, Operations, Profile, Report, Samples};
use crate::stats::{milliseconds, round2, timed, Summary};

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
    /// The mpc binary whose `serve` is measured [default: mpc beside this binary]
    #[arg(long)]
    mpc: Option<PathBuf>,
    /// The broadcaster binary `eth_sendTransaction` goes through [default: mpc-broadcaster beside this binary]
    #[arg(long)]
    broadcaster: Option<PathBuf>,
}

/// How much of everything one mode runs.
struct Plan {
    name: &'static str,
    keygens: usize,
    /// Also the number of `eth_sendTransaction` through `mpc serve`'s `/rpc`.
    signs: usize,
    refreshes: usize,
    /// Signatures per throughput run, spread over its wallets.
    throughput_signatures: usize,
    memory_signatures: usize,
    /// Requests to `mpc serve` in its memory run.
    serve_requests: usize,
    /// Policy checks (and as many recorded checks) timed.
    policy_checks: usize,
    /// Transactions per sender of the broadcaster's throughput run.
    broadcasts_per_sender: usize,
}

const QUICK: Plan = Plan {
    name: "quick",
    keygens: 3,
    signs: 10,
    refreshes: 3,
    throughput_signatures: 32,
    memory_signatures: 200,
    serve_requests: 80,
    policy_checks: 200,
    broadcasts_per_sender: 10,
};

const FULL: Plan = Plan {
    name: "full",
    keygens: 50,
    signs: 100,
    refreshes: 20,
    throughput_signatures: 320,
    memory_signatures: 10_000,
    serve_requests: 2_000,
    policy_checks: 2_000,
    broadcasts_per_sender: 30,
};

/// Progress for the person waiting; stdout stays one JSON object.
fn progress(what: &str) {
    eprintln!("mpc-bench: {what}");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let plan = if args.quick { QUICK } else { FULL };
    let beside_this = |name: &str| -> anyhow::Result<PathBuf> {
        Ok(std::env::current_exe()?
            .parent()
            .context("this binary has no directory")?
            .join(name))
    };
    let cosigner = match args.cosigner {
        Some(path) => path,
        None => beside_this("mpc-cosigner")?,
    };
    let mpc = match args.mpc {
        Some(path) => path,
        None => beside_this("mpc")?,
    };
    let broadcaster = match args.broadcaster {
        Some(path) => path,
        None => beside_this("mpc-broadcaster")?,
    };
    let report = run(&plan, cosigner, mpc, broadcaster).await?;
    eprintln!("{}", report.human());
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}

async fn run(
    plan: &Plan,
    cosigner: PathBuf,
    mpc: PathBuf,
    broadcaster: PathBuf,
) -> anyhow::Result<Report> {
    progress(&format!(
        "{} policy checks against a ledger of many entries",
        plan.policy_checks
    ));
    let policy = policy::measure(plan.policy_checks)?;
    progress("starting nats-server and the co-signer");
    let mut deployment = Deployment::start(cosigner.clone()).await?;
    let memory_at_start = deployment.first_cosigner().memory()?;
    let wallets = Wallets::connect(deployment.client_url()).await?;

    // The throughput runs need 16 wallets, the refresh runs one more of its own.
    let needed = plan.keygens.max(CONCURRENCY[2] + 1);
    progress(&format!(
        "keygen: {} in process, {needed} over NATS",
        plan.keygens
    ));
    let mut keygen = Samples::default();
    let mut local = None;
    let mut shares = Vec::new();
    for number in 0..needed {
        if number < plan.keygens {
            let (made, elapsed) = timed(inprocess::keygen()).await;
            keygen.in_process.push(elapsed);
            local = Some(made?);
        }
        let (path, elapsed) = wallets.keygen(number).await?;
        keygen.nats.push(elapsed);
        let share = wallets.load(&path).await?;
        // The co-signer decrypts and caches its share at the first signature.
        wallets.sign(&share, Account::Master).await?;
        shares.push(share);
    }
    let local = local.context("no keygen ran")?;
    let memory_after_keygens = deployment.first_cosigner().memory()?;
    let refreshed = shares.pop().context("a wallet to refresh")?;
    shares.truncate(CONCURRENCY[2]);

    progress("sign and sign at m/0/7: in process and over NATS");
    let (sign, sign_m_0_7, sign_mpc_signer) =
        sign_latencies(&wallets, &shares[0], &local, plan.signs).await?;
    let trace = inprocess::traced_sign(&local).await?;
    let cbor = cbor::measure(&trace)?;
    let wire = wallets
        .wire_bytes(
            &shares[0],
            &deployment.client_url(),
            &deployment.cosigner_url(),
        )
        .await?;
    progress("refresh: in process and over NATS");
    let refresh = refresh_latencies(&wallets, &refreshed, local, plan.refreshes).await?;

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
    let memory = CosignerMemory::new(
        memory_at_start,
        memory_after_keygens,
        long_run.signatures,
        before,
        after,
    );

    progress(&format!(
        "mpc serve memory over {} requests",
        plan.serve_requests
    ));
    let serve = serve::measure(
        &mpc,
        &deployment.client_url(),
        shares[0].share().path(),
        overnats::CLIENT_PASSPHRASE,
        plan.serve_requests,
    )
    .await?;

    progress(&format!(
        "{} eth_sendTransaction through mpc serve's /rpc, with anvil and the broadcaster",
        plan.signs
    ));
    let anvil = Anvil::start();
    let _broadcaster = deployment
        .start_broadcaster(&broadcaster, &anvil.url())
        .await?;
    let rpc_send_transaction = rpc::measure(
        &mpc,
        &deployment.client_url(),
        shares[0].share().path(),
        overnats::CLIENT_PASSPHRASE,
        &anvil,
        plan.signs,
    )
    .await?;

    progress(&format!(
        "broadcaster throughput: {} senders, {} transactions each",
        broadcaster::SENDERS,
        plan.broadcasts_per_sender
    ));
    let broadcasts =
        broadcaster::measure(&deployment.client_url(), &anvil, plan.broadcasts_per_sender).await?;

    progress("throughput with two co-signers in the queue group");
    deployment.add_cosigner().await?;
    // Each co-signer decrypts a wallet's share (Argon2id) the first time it
    // serves it: let both see every wallet before measuring.
    wallets.throughput(&shares, 8, 2).await?;
    throughput.extend(throughput_runs(&wallets, &shares, plan, 2).await?);

    let operations = Operations {
        keygen: keygen.summary(),
        sign: sign.summary(),
        sign_m_0_7: sign_m_0_7.summary(),
        sign_mpc_signer: Summary::of(sign_mpc_signer),
        rpc_send_transaction,
        refresh: refresh.summary(),
        policy,
        broadcaster: broadcasts,
    };
    progress("the fleet: 1, 2 and 3 replicas on a 3-node cluster");
    drop(deployment);
    let single = fleet::SingleBroker {
        sign: operations.sign.nats,
        signatures_per_s: report::sixteen_on_one(&throughput),
    };
    let per_wallet = (plan.throughput_signatures / CONCURRENCY[2]).max(2);
    let fleet = fleet::measure(&cosigner, plan.signs, per_wallet, single).await?;
    let profile = Profile {
        protocol_compute_ms: operations.sign.in_process.p50_ms,
        cbor_ms: cbor.cbor_ms,
        transport_ms: round2(operations.sign.nats.p50_ms - operations.sign.in_process.p50_ms),
        longest_compute_step_ms: milliseconds(trace.longest_step),
        cbor,
    };
    let mut report = Report::new(
        plan.name, operations, throughput, wire, memory, serve, profile,
    );
    report.fleet = Some(fleet);
    Ok(report)
}

/// Signatures at the master key and at m/0/7, each in process then over
/// NATS, in turns; and at the master key through `MpcSigner` (alloy's
/// `Signer` trait on the same long-lived connection).
async fn sign_latencies(
    wallets: &Wallets,
    share: &Arc<Wallet>,
    local: &inprocess::Shares,
    runs: usize,
) -> anyhow::Result<(Samples, Samples, Vec<Duration>)> {
    let child: DerivationPath = "m/0/7".parse()?;
    let signer = MpcSigner::new(Arc::clone(share), Account::Master)?;
    let (mut master, mut at_child) = (Samples::default(), Samples::default());
    let mut through_signer = Vec::new();
    for _ in 0..runs {
        for (path, account, samples) in [
            (DerivationPath::master(), Account::Master, &mut master),
            (child.clone(), Account::Child(7), &mut at_child),
        ] {
            let (signed, elapsed) = timed(inprocess::sign(local, &path)).await;
            signed?;
            samples.in_process.push(elapsed);
            samples.nats.push(wallets.sign(share, account).await?.0);
        }
        let (signed, elapsed) = timed(signer.sign_message(b"mpc-bench: through MpcSigner")).await;
        signed?;
        through_signer.push(elapsed);
    }
    Ok((master, at_child, through_signer))
}

async fn refresh_latencies(
    wallets: &Wallets,
    share: &Wallet,
    mut local: inprocess::Shares,
    runs: usize,
) -> anyhow::Result<Samples> {
    let mut samples = Samples::default();
    for _ in 0..runs {
        let (refreshed, elapsed) = timed(inprocess::refresh(&local)).await;
        samples.in_process.push(elapsed);
        local = refreshed?;
        samples.nats.push(wallets.refresh(share).await?);
    }
    Ok(samples)
}

/// One throughput run per concurrency level.
async fn throughput_runs(
    wallets: &Wallets,
    shares: &[Arc<Wallet>],
    plan: &Plan,
    cosigners: usize,
) -> anyhow::Result<Vec<Throughput>> {
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
