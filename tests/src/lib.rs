//! The harness for end-to-end tests: a real nats-server (`nats/` config), the
//! real `mpc-cosigner` and `mpc-broadcaster` processes, optionally a real
//! anvil, and a runner for the real `mpc` CLI. Build the binaries first
//! (`scripts/test` does: `cargo build --workspace --bins`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub mod api;

pub use mpc_testkit::{Anvil, NatsServer, Role, ANVIL_DEV_ADDRESS, SEPOLIA_CHAIN_ID};
use serde_json::Value;

/// The first `sh` block after `heading` in the README: tests run the
/// README's commands as written, placeholders replaced.
pub fn readme_block(heading: &str) -> String {
    readme_block_of(heading, "sh")
}

/// The first block of `language` (`sh`, `toml`) after `heading` in the README.
pub fn readme_block_of(heading: &str, language: &str) -> String {
    let path = mpc_testkit::workspace_root().join("README.md");
    let readme = std::fs::read_to_string(path).expect("read README.md");
    let section = &readme[readme.find(heading).expect("the README has the section")..];
    let fence = format!("```{language}\n");
    let start = section.find(&fence).expect("a block of that language") + fence.len();
    let end = start + section[start..].find("```").expect("the block ends");
    section[start..end].to_owned()
}

/// `target/debug` (or whichever profile built this test), where cargo put the binaries.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test>-<hash>
    exe.parent()
        .and_then(Path::parent)
        .expect("target profile dir")
        .to_path_buf()
}

pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first (scripts/test does)",
        path.display()
    );
    path
}

/// The passphrase every test share is encrypted under (client side).
pub const CLIENT_PASSPHRASE: &str = "correct horse battery staple";
/// The passphrase the co-signer's shares are encrypted under.
pub const COSIGNER_PASSPHRASE: &str = "co-signer test passphrase";

/// A running worker process with its stderr (JSON logs) in a file.
pub struct Worker {
    child: Child,
    pub log: PathBuf,
}

impl Worker {
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The process id, e.g. to read `/proc/<pid>/status`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A broker, a co-signer and a client home, all in temp dirs.
pub struct Deployment {
    pub nats: NatsServer,
    pub cosigner: Worker,
    pub dir: tempfile::TempDir,
    /// Extra `mpc-cosigner` flags, kept for `restart_cosigner`.
    cosigner_args: Vec<String>,
}

/// The co-signer flags of the tests that do not test enrollment: any client
/// may create wallets.
const OPEN: &str = "--open-enrollment";

impl Deployment {
    pub fn start() -> Self {
        Self::start_with_cosigner_args(&[])
    }

    /// Like `start`, with extra `mpc-cosigner` flags such as `--round-timeout 3`.
    pub fn start_with_cosigner_args(args: &[&str]) -> Self {
        Self::start_enrolled(&[&[OPEN], args].concat())
    }

    /// A co-signer that creates wallets only for enrolled clients (its
    /// default), with these flags.
    pub fn start_enrolled(args: &[&str]) -> Self {
        let nats = NatsServer::start();
        let dir = tempfile::tempdir().expect("temp dir");
        let cosigner_args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let cosigner = spawn_cosigner(&nats, dir.path(), &cosigner_args);
        let deployment = Deployment {
            nats,
            cosigner,
            dir,
            cosigner_args,
        };
        deployment.wait_healthy();
        deployment
    }

    /// A path inside this deployment's temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn cosigner_data(&self) -> PathBuf {
        self.dir.path().join("cosigner")
    }

    /// The co-signer's share file of `wallet_id`.
    pub fn cosigner_share(&self, wallet_id: &str) -> PathBuf {
        self.cosigner_data()
            .join("wallets")
            .join(format!("{wallet_id}.enc"))
    }

    /// Runs `mpc keygen --out <name>` and returns its JSON.
    pub fn keygen(&self, name: &str) -> Value {
        self.mpc_ok(&[
            "keygen",
            "--out",
            self.path(name).to_str().expect("utf-8 path"),
        ])
    }

    /// Like `mpc_ok`, with extra environment variables.
    pub fn mpc_ok_env(&self, env: &[(&str, &str)], args: &[&str]) -> Value {
        parse_success(args, &self.run_json(env, args))
    }

    /// Like `mpc_err`, with extra environment variables.
    pub fn mpc_err_env(&self, env: &[(&str, &str)], args: &[&str]) -> (i32, Value, String) {
        parse_failure(args, &self.run_json(env, args))
    }

    fn run_json(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        self.mpc()
            .envs(env.iter().copied())
            .args(args)
            .arg("--json")
            .output()
            .expect("run mpc")
    }

    /// Starts the co-signer again (after `cosigner.kill()`), with the same data.
    pub fn restart_cosigner(&mut self) {
        self.cosigner = spawn_cosigner(&self.nats, self.dir.path(), &self.cosigner_args);
        self.wait_healthy();
    }

    /// Starts a broadcaster against `rpc_url`.
    pub fn start_broadcaster(&self, rpc_url: &str) -> Worker {
        let log = self.path("broadcaster.log");
        spawn_worker(
            Command::new(binary("mpc-broadcaster"))
                .env("MPC_NATS_URL", self.nats.url(Role::Broadcaster))
                .env("MPC_RPC_URL", rpc_url)
                .env("MPC_CHAIN_ID", SEPOLIA_CHAIN_ID.to_string())
                .env("MPC_LOG", "debug"),
            log,
        )
    }

    /// A `mpc` command as the client, with the broker URL, passphrase and home set.
    pub fn mpc(&self) -> Command {
        let mut cmd = Command::new(binary("mpc"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("MPC_NATS_URL", self.nats.url(Role::Client))
            .env("MPC_HOME", self.path("client-home"))
            .env("MPC_PASSPHRASE", CLIENT_PASSPHRASE)
            .env("MPC_LOG", "debug")
            .current_dir(self.dir.path());
        cmd
    }

    /// Runs `mpc <args> --json` and returns its JSON, panicking with stderr on failure.
    pub fn mpc_ok(&self, args: &[&str]) -> Value {
        self.mpc_ok_env(&[], args)
    }

    /// Runs `mpc <args> --json` expecting failure; returns (exit code, error JSON, stderr).
    pub fn mpc_err(&self, args: &[&str]) -> (i32, Value, String) {
        self.mpc_err_env(&[], args)
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let output = self
                .mpc()
                .args(["health", "--json"])
                .output()
                .expect("run mpc health");
            if output.status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "co-signer not healthy after 20 s: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Starts anvil on a port chosen beforehand, with `args` such as
/// `--chain-id 1` or `--init genesis.json`: a node that comes up late on a
/// port a worker already points at, or one on another chain.
pub fn anvil_on(port: u16, args: &[&str], log: PathBuf) -> Worker {
    let mut worker = spawn_worker(
        Command::new(mpc_testkit::tool("anvil"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(args),
        log,
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            worker.is_running(),
            "anvil exited before listening on port {port}: {}",
            worker.logs()
        );
        assert!(
            Instant::now() < deadline,
            "anvil did not listen on port {port} within 20 s"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    worker
}

fn spawn_cosigner(nats: &NatsServer, dir: &Path, args: &[String]) -> Worker {
    spawn_worker(
        Command::new(binary("mpc-cosigner"))
            .arg("--data-dir")
            .arg(dir.join("cosigner"))
            .args(args)
            .env("MPC_NATS_URL", nats.url(Role::Cosigner))
            .env("MPC_KEY_SOURCE", "passphrase")
            .env("MPC_PASSPHRASE", COSIGNER_PASSPHRASE)
            .env("MPC_CHAIN_ID", SEPOLIA_CHAIN_ID.to_string())
            .env("MPC_LOG", "debug"),
        dir.join("cosigner.log"),
    )
}

/// Starts a worker process with its stderr in `log`.
pub fn spawn_worker(cmd: &mut Command, log: PathBuf) -> Worker {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .expect("open worker log");
    let child = cmd
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("spawn worker");
    Worker { child, log }
}

pub fn parse_success(args: &[&str], output: &Output) -> Value {
    assert!(
        output.status.success(),
        "mpc {args:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "mpc {args:?} printed no single JSON object ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

pub fn parse_failure(args: &[&str], output: &Output) -> (i32, Value, String) {
    assert!(
        !output.status.success(),
        "mpc {args:?} unexpectedly succeeded: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "mpc {args:?} printed no JSON error ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    (
        output.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `mpc` on the embedded default (no `MPC_NATS_URL`): nothing of the
/// caller's environment but PATH (with the tools, to find nats-server), the
/// home (also the working directory), the client passphrase and `env`.
pub fn embedded_mpc(home: &Path, env: &[(&str, &str)], args: &[&str]) -> Command {
    let tools = mpc_testkit::tool("nats-server");
    let path = format!(
        "{}:{}",
        tools.parent().expect("tools dir").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = Command::new(binary("mpc"));
    command
        .env_clear()
        .env("PATH", path)
        .env("MPC_HOME", home)
        .env("MPC_PASSPHRASE", CLIENT_PASSPHRASE)
        .envs(env.iter().copied())
        .current_dir(home)
        .args(args);
    command
}

/// `mpc serve` on the embedded default, running; it keeps the home's
/// embedded instance up until [`terminate`](EmbeddedServe::terminate)d (or
/// dropped, as when a test fails).
pub struct EmbeddedServe {
    child: Child,
}

/// Starts `mpc serve` in `home` and reads its start line.
pub fn embedded_serve(home: &Path, env: &[(&str, &str)]) -> EmbeddedServe {
    let port = mpc_testkit::free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let mut child = embedded_mpc(home, env, &["serve", "--listen", &listen, "--json"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(home.join("serve.log")).expect("serve log"))
        .spawn()
        .expect("spawn mpc serve");
    let mut line = String::new();
    // Read through a borrow: the pipe stays open for the rest of its output.
    let stdout = child.stdout.as_mut().expect("piped stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
        .expect("read mpc serve stdout");
    let mut serving = EmbeddedServe { child };
    let started: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
        serving.signal();
        panic!(
            "mpc serve printed no start line ({e}): {line:?} {}",
            std::fs::read_to_string(home.join("serve.log")).unwrap_or_default()
        )
    });
    assert_eq!(started["listen"], listen);
    serving
}

impl EmbeddedServe {
    /// SIGTERM, as a service manager stops it; it must exit 0.
    pub fn terminate(mut self) {
        self.signal();
        let exit = self.child.wait().expect("wait for mpc serve");
        assert!(exit.success(), "mpc serve exits 0 on SIGTERM: {exit}");
    }

    /// SIGTERM, so it stops the embedded instance on its way out.
    fn signal(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }
}

impl Drop for EmbeddedServe {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal();
            let _ = self.child.wait();
        }
    }
}
