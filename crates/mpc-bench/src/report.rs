//! The one JSON object `scripts/bench --json` prints, and the targets it is
//! judged against.

use std::time::Duration;

use serde::Serialize;

use crate::broadcaster::BroadcasterThroughput;
use crate::cbor::CborCost;
use crate::deployment::Memory;
use crate::fleet::FleetReport;
use crate::overnats::{Throughput, WireBytes};
use crate::policy::PolicyCost;
use crate::serve::ServeMemory;
use crate::stats::{round2, Summary};

#[derive(Debug, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu_model: String,
}

impl Machine {
    pub fn this() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
            .map_or_else(
                || "unknown".to_owned(),
                |(_, model)| model.trim().to_owned(),
            );
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
        }
    }
}

/// One operation in process and over NATS, side by side. Both sides are
/// measured alternately, so load from elsewhere on the machine hits both alike.
#[derive(Debug, Serialize)]
pub struct SideBySide {
    pub in_process: Summary,
    pub nats: Summary,
}

/// Samples of both sides, taken in turns.
#[derive(Debug, Default)]
pub struct Samples {
    pub in_process: Vec<Duration>,
    pub nats: Vec<Duration>,
}

impl Samples {
    pub fn summary(self) -> SideBySide {
        SideBySide {
            in_process: Summary::of(self.in_process),
            nats: Summary::of(self.nats),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Operations {
    pub keygen: SideBySide,
    pub sign: SideBySide,
    pub sign_m_0_7: SideBySide,
    /// Signing through `MpcSigner` (alloy's `Signer`) on a long-lived
    /// connection; compare with `sign.nats`, the library's own `sign`.
    pub sign_mpc_signer: Summary,
    /// `eth_sendTransaction` to `mpc serve`'s `/rpc` until the hash comes
    /// back: nonce and fees from the node, a signature over NATS, queued for
    /// the broadcaster. One after another, with one wallet; all mined.
    pub rpc_send_transaction: Summary,
    /// Over NATS this is `mpc rotate`'s whole flow: refresh, both new shares
    /// staged on disk (Argon2id on each side), a check signature, promotion.
    pub refresh: SideBySide,
    /// The co-signer's policy check before each signature, in process.
    pub policy: PolicyCost,
    /// Transactions from 10 senders queued at once until all are confirmed.
    pub broadcaster: BroadcasterThroughput,
}

/// The first co-signer's resident memory through the run.
#[derive(Debug, Serialize)]
pub struct CosignerMemory {
    pub rss_at_start_kib: u64,
    /// After the keygens (each stores a share with Argon2id) and the first
    /// signature with each wallet (each decrypts and caches a share).
    pub rss_after_keygens_kib: u64,
    /// The long run of signatures: its RSS before and after.
    pub long_run_signatures: usize,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    pub growth_kib: i64,
    pub growth_pct: f64,
    /// Peak resident set size (VmHWM) at the end of the long run.
    pub peak_rss_kib: u64,
}

impl CosignerMemory {
    pub fn new(
        start: Memory,
        after_keygens: Memory,
        long_run_signatures: usize,
        before: Memory,
        after: Memory,
    ) -> CosignerMemory {
        let growth_kib = after.rss_kib as i64 - before.rss_kib as i64;
        CosignerMemory {
            rss_at_start_kib: start.rss_kib,
            rss_after_keygens_kib: after_keygens.rss_kib,
            long_run_signatures,
            rss_before_kib: before.rss_kib,
            rss_after_kib: after.rss_kib,
            growth_kib,
            growth_pct: round2(growth_kib as f64 * 100.0 / before.rss_kib.max(1) as f64),
            peak_rss_kib: after.peak_rss_kib,
        }
    }

    /// Flat: under 10 % growth, or under 4 MiB (allocator noise on a small heap).
    fn is_flat(&self) -> bool {
        self.growth_pct < 10.0 || self.growth_kib < 4 * 1024
    }
}

/// Signatures/s of 16 wallets at once against one co-signer.
pub fn sixteen_on_one(throughput: &[Throughput]) -> f64 {
    throughput
        .iter()
        .find(|t| t.wallets == 16 && t.cosigners == 1)
        .map_or(0.0, |t| t.signatures_per_s)
}

/// Where a signature's time goes.
#[derive(Debug, Serialize)]
pub struct Profile {
    /// Both parties' DKLs23 work: the in-process signing p50.
    pub protocol_compute_ms: f64,
    /// Encoding and decoding the round messages (included in the compute).
    pub cbor_ms: f64,
    /// Broker, Noise encryption, envelopes, the second process: NATS p50 minus in-process p50.
    pub transport_ms: f64,
    /// Longest a party computed between receiving a message and sending its
    /// next one: how long a protocol step holds an async worker thread.
    pub longest_compute_step_ms: f64,
    pub cbor: CborCost,
}

#[derive(Debug, Serialize)]
pub struct Targets {
    pub sign_nats_p50_under_30_ms: bool,
    pub sign_nats_p50_within_1_5x_in_process: bool,
    pub keygen_nats_p50_under_1_5_s: bool,
    pub at_least_40_signatures_per_s_with_16_wallets: bool,
    pub cosigner_memory_flat: bool,
    pub mpc_signer_p50_within_1_1x_library_sign: bool,
    pub policy_check_p95_under_0_5_ms: bool,
    pub at_least_50_broadcast_tx_per_s_with_10_senders: bool,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub mode: &'static str,
    pub machine: Machine,
    pub keygen_inprocess_p50_ms: f64,
    pub keygen_nats_p50_ms: f64,
    pub sign_inprocess_p50_ms: f64,
    pub sign_nats_p50_ms: f64,
    pub sign_nats_p95_ms: f64,
    pub sign_mpc_signer_p50_ms: f64,
    pub sign_mpc_signer_p95_ms: f64,
    pub rpc_send_transaction_p50_ms: f64,
    pub rpc_send_transaction_p95_ms: f64,
    pub wire_bytes_per_signature: usize,
    /// 16 wallets signing at once against one co-signer.
    pub signatures_per_s: f64,
    /// The co-signer's policy check before each signature, in microseconds.
    pub policy_check_p50_us: f64,
    pub policy_check_p95_us: f64,
    /// The check with its fsynced ledger entry, as an allowed signature pays it.
    pub policy_record_p50_us: f64,
    /// Transactions from 10 senders queued at once, accepted and confirmed
    /// per second by one broadcaster on anvil with automine.
    pub broadcaster_tx_per_s: f64,
    pub broadcaster_senders: usize,
    pub operations: Operations,
    pub throughput: Vec<Throughput>,
    pub wire: WireBytes,
    pub cosigner_memory: CosignerMemory,
    /// Peak resident memory of `mpc serve` while it serves concurrent requests.
    pub serve_rss_mib_under_load: f64,
    pub serve_memory: ServeMemory,
    pub profile: Profile,
    pub targets: Targets,
    /// The co-signer fleet on a 3-node cluster, beside the single broker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fleet: Option<FleetReport>,
}

impl Report {
    pub fn new(
        mode: &'static str,
        operations: Operations,
        throughput: Vec<Throughput>,
        wire: WireBytes,
        cosigner_memory: CosignerMemory,
        serve_memory: ServeMemory,
        profile: Profile,
    ) -> Report {
        let sixteen_on_one = sixteen_on_one(&throughput);
        let sign = &operations.sign;
        let targets = Targets {
            sign_nats_p50_under_30_ms: sign.nats.p50_ms < 30.0,
            sign_nats_p50_within_1_5x_in_process: sign.nats.p50_ms <= 1.5 * sign.in_process.p50_ms,
            keygen_nats_p50_under_1_5_s: operations.keygen.nats.p50_ms < 1500.0,
            at_least_40_signatures_per_s_with_16_wallets: sixteen_on_one >= 40.0,
            cosigner_memory_flat: cosigner_memory.is_flat(),
            mpc_signer_p50_within_1_1x_library_sign: operations.sign_mpc_signer.p50_ms
                <= 1.1 * sign.nats.p50_ms,
            policy_check_p95_under_0_5_ms: operations.policy.check_p95_us < 500.0,
            at_least_50_broadcast_tx_per_s_with_10_senders: operations.broadcaster.tx_per_s >= 50.0,
        };
        Report {
            mode,
            machine: Machine::this(),
            keygen_inprocess_p50_ms: operations.keygen.in_process.p50_ms,
            keygen_nats_p50_ms: operations.keygen.nats.p50_ms,
            sign_inprocess_p50_ms: sign.in_process.p50_ms,
            sign_nats_p50_ms: sign.nats.p50_ms,
            sign_nats_p95_ms: sign.nats.p95_ms,
            sign_mpc_signer_p50_ms: operations.sign_mpc_signer.p50_ms,
            sign_mpc_signer_p95_ms: operations.sign_mpc_signer.p95_ms,
            rpc_send_transaction_p50_ms: operations.rpc_send_transaction.p50_ms,
            rpc_send_transaction_p95_ms: operations.rpc_send_transaction.p95_ms,
            wire_bytes_per_signature: wire.bytes_per_signature,
            signatures_per_s: sixteen_on_one,
            policy_check_p50_us: operations.policy.check_p50_us,
            policy_check_p95_us: operations.policy.check_p95_us,
            policy_record_p50_us: operations.policy.record_p50_us,
            broadcaster_tx_per_s: operations.broadcaster.tx_per_s,
            broadcaster_senders: operations.broadcaster.senders,
            operations,
            throughput,
            wire,
            cosigner_memory,
            serve_rss_mib_under_load: serve_memory.peak_rss_mib,
            serve_memory,
            profile,
            targets,
            fleet: None,
        }
    }

    /// A short table for people, on stderr.
    pub fn human(&self) -> String {
        let mut lines = vec![format!(
            "{} mode on {} cores ({})",
            self.mode, self.machine.cores, self.machine.cpu_model
        )];
        lines.push(format!(
            "{:<12} {:>14} {:>14}",
            "p50/p95 ms", "in process", "over NATS"
        ));
        let ops = &self.operations;
        for (name, op) in [
            ("keygen", &ops.keygen),
            ("sign", &ops.sign),
            ("sign m/0/7", &ops.sign_m_0_7),
            ("refresh", &ops.refresh),
        ] {
            let cell = |s: &Summary| format!("{:.1}/{:.1}", s.p50_ms, s.p95_ms);
            lines.push(format!(
                "{name:<12} {:>14} {:>14}",
                cell(&op.in_process),
                cell(&op.nats)
            ));
        }
        let signer = &ops.sign_mpc_signer;
        lines.push(format!(
            "{:<12} {:>14} {:>14}",
            "MpcSigner",
            "",
            format!("{:.1}/{:.1}", signer.p50_ms, signer.p95_ms)
        ));
        let send = &ops.rpc_send_transaction;
        lines.push(format!(
            "eth_sendTransaction through mpc serve /rpc until the hash: {:.1}/{:.1} ms p50/p95 over {} sends",
            send.p50_ms, send.p95_ms, send.runs
        ));
        let broadcasts = &self.operations.broadcaster;
        lines.push(format!(
            "broadcaster: {} transactions from {} senders in {:.0} ms ({:.1} tx/s; all queued after \
             {:.0} ms), queued to final {:.0}/{:.0} ms p50/p95",
            broadcasts.transactions,
            broadcasts.senders,
            broadcasts.confirmed_ms,
            broadcasts.tx_per_s,
            broadcasts.queued_ms,
            broadcasts.latency.p50_ms,
            broadcasts.latency.p95_ms
        ));
        let policy = &self.operations.policy;
        lines.push(format!(
            "policy check: {:.1}/{:.1} µs p50/p95, with the fsynced ledger entry {:.1}/{:.1} µs \
             ({} ledger entries)",
            policy.check_p50_us,
            policy.check_p95_us,
            policy.record_p50_us,
            policy.record_p95_us,
            policy.ledger_entries
        ));
        for t in &self.throughput {
            lines.push(format!(
                "throughput   {:>2} wallets, {} co-signer(s): {:.1} signatures/s",
                t.wallets, t.cosigners, t.signatures_per_s
            ));
        }
        if let Some(fleet) = &self.fleet {
            lines.push(format!(
                "fleet (3-node cluster): sign {:.1}/{:.1} ms p50/p95 vs {:.1}/{:.1} on one broker; \
                 co-signer CPU {:.1} ms/signature vs {:.1} ms per protocol party",
                fleet.sign_cluster.p50_ms,
                fleet.sign_cluster.p95_ms,
                fleet.sign_single_broker.p50_ms,
                fleet.sign_single_broker.p95_ms,
                fleet.cosigner_cpu_ms_per_signature,
                fleet.protocol_cpu_ms_per_party
            ));
            for t in &fleet.throughput {
                lines.push(format!(
                    "fleet        {:>2} wallets, {} replica(s): {:.1} signatures/s (one broker: {:.1})",
                    t.wallets, t.cosigners, t.signatures_per_s, fleet.single_broker_signatures_per_s
                ));
            }
        }
        let memory = &self.cosigner_memory;
        lines.push(format!(
            "co-signer RSS: {} KiB at start, {} KiB after the keygens; {} -> {} KiB over {} \
             signatures ({:+.1} %); peak {} KiB",
            memory.rss_at_start_kib,
            memory.rss_after_keygens_kib,
            memory.rss_before_kib,
            memory.rss_after_kib,
            memory.long_run_signatures,
            memory.growth_pct,
            memory.peak_rss_kib
        ));
        let serve = &self.serve_memory;
        lines.push(format!(
            "mpc serve RSS: {} MiB at start, peak {} MiB over {} requests ({} at once, {} not 200), {} MiB after",
            serve.rss_mib_at_start,
            serve.peak_rss_mib,
            serve.requests,
            serve.concurrency,
            serve.not_ok,
            serve.rss_mib_after
        ));
        lines.push(format!(
            "wire {} bytes/signature; profile: compute {:.2} ms (CBOR {:.3} ms), transport {:.2} ms, longest step {:.2} ms",
            self.wire_bytes_per_signature,
            self.profile.protocol_compute_ms,
            self.profile.cbor_ms,
            self.profile.transport_ms,
            self.profile.longest_compute_step_ms
        ));
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory(rss_kib: u64) -> Memory {
        Memory {
            rss_kib,
            peak_rss_kib: rss_kib,
        }
    }

    #[test]
    fn memory_is_flat_under_ten_percent_or_four_mib() {
        let check = |before, after| {
            CosignerMemory::new(memory(1), memory(1), 1, memory(before), memory(after)).is_flat()
        };
        assert!(check(100_000, 109_000));
        assert!(!check(100_000, 111_000));
        // A small heap may grow by more than 10 % while staying a few MiB.
        assert!(check(20_000, 24_000));
        assert!(!check(20_000, 25_000));
        assert!(check(100_000, 90_000));
    }

    #[test]
    fn reads_the_cpu_model_and_core_count() {
        let machine = Machine::this();
        assert!(machine.cores >= 1);
        assert!(!machine.cpu_model.is_empty());
    }
}
