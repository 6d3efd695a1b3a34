//! The co-signer fleet: release `mpc-cosigner` replicas with `--store
//! jetstream` on a 3-node loopback cluster (R3 buckets), measured in the same
//! run as the single broker so the two compare on one machine.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mpc_client::{Account, Wallet};
use mpc_testkit::{NatsCluster, Role};
use serde::Serialize;

use crate::deployment::{Worker, COSIGNER_READY};
use crate::inprocess;
use crate::overnats::{Throughput, Wallets};
use crate::stats::{round2, Summary};

/// Wallets signing at once in the fleet's throughput runs.
const WALLETS: usize = 16;

#[derive(Debug, Serialize)]
pub struct FleetReport {
    /// Sequential signatures through the cluster, one replica serving.
    pub sign_cluster: Summary,
    /// The same on the single broker (from this run's main measurement).
    pub sign_single_broker: Summary,
    /// 16 wallets at once, with 1, 2 and 3 replicas.
    pub throughput: Vec<Throughput>,
    /// One replica on the single broker, 16 wallets at once.
    pub single_broker_signatures_per_s: f64,
    /// CPU time (user + system) of the serving replica per signature.
    pub cosigner_cpu_ms_per_signature: f64,
    /// CPU time of one party of the in-process protocol per signature.
    pub protocol_cpu_ms_per_party: f64,
    pub targets: FleetTargets,
}

#[derive(Debug, Serialize)]
pub struct FleetTargets {
    pub cluster_sign_p50_within_1_3x_single_broker: bool,
    pub cosigner_cpu_within_1_3x_protocol_party: bool,
}

/// What the single broker measured, to set the fleet beside.
pub struct SingleBroker {
    pub sign: Summary,
    pub signatures_per_s: f64,
}

pub async fn measure(
    cosigner: &Path,
    signs: usize,
    per_wallet: usize,
    single: SingleBroker,
) -> anyhow::Result<FleetReport> {
    let cluster = NatsCluster::start();
    let dir = tempfile::tempdir().context("fleet dir")?;
    let identity = dir.path().join("identity.key");
    let created = Command::new(cosigner)
        .arg("--identity-file")
        .arg(&identity)
        .arg("identity")
        .output()
        .context("create the fleet's identity")?;
    anyhow::ensure!(
        created.status.success(),
        "mpc-cosigner identity: {created:?}"
    );
    let passphrase = format!("bench-{}", hex::encode(rand::random::<[u8; 16]>()));
    let start_replica = |index: usize| {
        let mut command = Command::new(cosigner);
        command
            .arg("--data-dir")
            .arg(dir.path().join(format!("replica-{index}")))
            .args([
                "--store",
                "jetstream",
                "--replicas",
                "3",
                "--open-enrollment",
            ])
            .arg("--identity-file")
            .arg(&identity)
            .env("MPC_NATS_URL", cluster.node_url(index, Role::Cosigner))
            .env("MPC_KEY_SOURCE", "passphrase")
            .env("MPC_PASSPHRASE", &passphrase)
            .env_remove("MPC_PASSPHRASE_FILE");
        let log = dir.path().join(format!("replica-{index}.log"));
        Worker::start(command, "a fleet replica", COSIGNER_READY, log)
    };
    let mut replicas = vec![start_replica(0).await?];
    let wallets = Wallets::connect(cluster.url(Role::Client)).await?;
    let mut shares: Vec<Arc<Wallet>> = Vec::new();
    for number in 0..WALLETS {
        let (path, _) = wallets.keygen(number).await?;
        let share = wallets.load(&path).await?;
        wallets.sign(&share, Account::Master).await?;
        shares.push(share);
    }

    let cpu_before = replicas[0].cpu_time()?;
    let mut latencies = Vec::with_capacity(signs);
    for _ in 0..signs {
        latencies.push(wallets.sign(&shares[0], Account::Master).await?.0);
    }
    let cosigner_cpu = replicas[0].cpu_time()? - cpu_before;
    let sign_cluster = Summary::of(latencies);

    let mut throughput = vec![wallets.throughput(&shares, per_wallet, 1).await?];
    for index in 1..mpc_testkit::CLUSTER_SIZE {
        replicas.push(start_replica(index).await?);
        // A replica decrypts each share (Argon2id) the first time it serves it.
        wallets.throughput(&shares, 8, index + 1).await?;
        throughput.push(wallets.throughput(&shares, per_wallet, index + 1).await?);
    }

    let protocol_cpu = protocol_cpu_per_party(signs).await?;
    let cosigner_cpu_ms = cosigner_cpu.as_secs_f64() * 1000.0 / signs as f64;
    let protocol_cpu_ms = protocol_cpu.as_secs_f64() * 1000.0;
    Ok(FleetReport {
        targets: FleetTargets {
            cluster_sign_p50_within_1_3x_single_broker: sign_cluster.p50_ms
                <= 1.3 * single.sign.p50_ms,
            cosigner_cpu_within_1_3x_protocol_party: cosigner_cpu_ms <= 1.3 * protocol_cpu_ms,
        },
        sign_cluster,
        sign_single_broker: single.sign,
        throughput,
        single_broker_signatures_per_s: single.signatures_per_s,
        cosigner_cpu_ms_per_signature: round2(cosigner_cpu_ms),
        protocol_cpu_ms_per_party: round2(protocol_cpu_ms),
    })
}

/// This process's CPU time per party over `signs` in-process signatures
/// (both parties run here, so half of it).
async fn protocol_cpu_per_party(signs: usize) -> anyhow::Result<Duration> {
    let local = inprocess::keygen().await?;
    let master = mpc_protocol::DerivationPath::master();
    let before = crate::deployment::cpu_time(std::process::id())?;
    for _ in 0..signs {
        inprocess::sign(&local, &master).await?;
    }
    let spent = crate::deployment::cpu_time(std::process::id())? - before;
    Ok(spent / (2 * signs as u32))
}
