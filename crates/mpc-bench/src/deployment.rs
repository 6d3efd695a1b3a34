//! The real thing: a nats-server with the project's config and the release
//! `mpc-cosigner` binary as separate processes, all on one data dir; the
//! release `mpc-broadcaster` when a run needs a node.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use mpc_testkit::{NatsServer, Role};
use serde::Serialize;
use tempfile::TempDir;

/// What the co-signer logs once it listens for requests.
pub const COSIGNER_READY: &str = "co-signer ready";
/// What the broadcaster logs (a JSON line) once it pulls from the queue.
const BROADCASTER_READY: &str = r#""message":"ready""#;
const START_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Deployment {
    pub nats: NatsServer,
    binary: PathBuf,
    /// Shared by every co-signer: they serve the same wallets.
    data_dir: TempDir,
    passphrase: String,
    cosigners: Vec<Worker>,
}

impl Deployment {
    /// Starts the broker and one co-signer.
    pub async fn start(binary: PathBuf) -> anyhow::Result<Deployment> {
        anyhow::ensure!(
            binary.is_file(),
            "no co-signer binary at {}: build it with `cargo build --release -p mpc-cosigner` \
             (scripts/bench does)",
            binary.display()
        );
        let mut deployment = Deployment {
            nats: NatsServer::start(),
            binary,
            data_dir: tempfile::tempdir().context("co-signer data dir")?,
            passphrase: format!("bench-{}", hex::encode(rand::random::<[u8; 16]>())),
            cosigners: Vec::new(),
        };
        deployment.add_cosigner().await?;
        Ok(deployment)
    }

    pub fn client_url(&self) -> String {
        self.nats.url(Role::Client)
    }

    /// A plain (not queue-group) subscriber may use the co-signer's user to
    /// see requests, which the client's user may only publish.
    pub fn cosigner_url(&self) -> String {
        self.nats.url(Role::Cosigner)
    }

    /// Starts one more co-signer in the queue group, on the same data dir.
    pub async fn add_cosigner(&mut self) -> anyhow::Result<()> {
        let number = self.cosigners.len() + 1;
        let log = self.data_dir.path().join(format!("cosigner-{number}.log"));
        let mut command = Command::new(&self.binary);
        command
            .arg("--data-dir")
            .arg(self.data_dir.path().join("data"))
            .arg("--open-enrollment")
            .env("MPC_NATS_URL", self.nats.url(Role::Cosigner))
            .env("MPC_KEY_SOURCE", "passphrase")
            .env("MPC_PASSPHRASE", &self.passphrase)
            .env_remove("MPC_PASSPHRASE_FILE");
        let process = Worker::start(&mut command, "the co-signer", COSIGNER_READY, log).await?;
        self.cosigners.push(process);
        Ok(())
    }

    /// Starts the `mpc-broadcaster` at `binary` against the node at
    /// `rpc_url` (chain 11155111), with the broadcaster's user on the broker.
    pub async fn start_broadcaster(&self, binary: &Path, rpc_url: &str) -> anyhow::Result<Worker> {
        anyhow::ensure!(
            binary.is_file(),
            "no broadcaster binary at {}: build it with `cargo build --release -p mpc-broadcaster` \
             (scripts/bench does)",
            binary.display()
        );
        let mut command = Command::new(binary);
        command
            .env("MPC_NATS_URL", self.nats.url(Role::Broadcaster))
            .env("MPC_RPC_URL", rpc_url)
            .env("MPC_CHAIN_ID", mpc_testkit::SEPOLIA_CHAIN_ID.to_string())
            .env("MPC_LOG", "info");
        let log = self.data_dir.path().join("broadcaster.log");
        Worker::start(&mut command, "the broadcaster", BROADCASTER_READY, log).await
    }

    /// The first co-signer, the one every single-co-signer number is about.
    pub fn first_cosigner(&self) -> &Worker {
        &self.cosigners[0]
    }
}

/// A co-signer or broadcaster process with its stderr (logs) in a file, killed on drop.
pub struct Worker {
    child: Child,
    log: PathBuf,
}

/// Resident memory of a process, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Memory {
    pub rss_kib: u64,
    /// Peak resident set size (VmHWM).
    pub peak_rss_kib: u64,
}

impl Worker {
    /// Starts `command` and waits until its log holds `ready`.
    pub async fn start(
        mut command: impl std::borrow::BorrowMut<Command>,
        what: &str,
        ready: &str,
        log: PathBuf,
    ) -> anyhow::Result<Worker> {
        let stderr = File::create(&log).with_context(|| format!("create {}", log.display()))?;
        let command = command.borrow_mut();
        let program = PathBuf::from(command.get_program());
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("start {what} ({})", program.display()))?;
        let mut process = Worker { child, log };
        process.wait_until_ready(what, ready).await?;
        Ok(process)
    }

    async fn wait_until_ready(&mut self, what: &str, ready: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if log.contains(ready) {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("{what} exited ({status}) before it was ready:\n{log}");
            }
            if Instant::now() > deadline {
                bail!("{what} was not ready within {START_TIMEOUT:?}:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub fn memory(&self) -> anyhow::Result<Memory> {
        process_memory(self.child.id())
    }

    /// The CPU time (user + system) the process used so far.
    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        cpu_time(self.child.id())
    }
}

/// The CPU time (user + system) of process `pid`, from `/proc/<pid>/stat`.
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
    // Fields after the command name (which may hold spaces, so split at its ')').
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 of the line: 11 and 12 after ')'.
    let ticks = |index: usize| -> anyhow::Result<u64> {
        fields
            .get(index)
            .and_then(|field| field.parse().ok())
            .with_context(|| format!("no CPU time in {path}"))
    };
    // Linux reports CPU time in USER_HZ, 100 on every platform it runs on.
    Ok(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
}

/// The resident memory of process `pid` now, and its peak.
pub fn process_memory(pid: u32) -> anyhow::Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
    Ok(Memory {
        rss_kib: status_kib(&status, "VmRSS")?,
        peak_rss_kib: status_kib(&status, "VmHWM")?,
    })
}

/// A `Name:   1234 kB` line of `/proc/<pid>/status`.
fn status_kib(status: &str, name: &str) -> anyhow::Result<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|number| number.trim().parse().ok())
        .with_context(|| format!("no {name} line in /proc status"))
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kib_lines_of_proc_status() {
        let status = "Name:\tmpc-cosigner\nVmHWM:\t   20480 kB\nVmRSS:\t   18000 kB\n";
        assert_eq!(status_kib(status, "VmHWM").unwrap(), 20480);
        assert_eq!(status_kib(status, "VmRSS").unwrap(), 18000);
        assert!(status_kib(status, "VmSwap").is_err());
        assert!(status_kib("VmRSS:\tlots\n", "VmRSS").is_err());
    }
}
