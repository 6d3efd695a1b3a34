//! Real components for tests and benchmarks: a nats-server with the project's
//! own config (`nats/`) and an anvil node, each on a free loopback port, each
//! stopped when dropped. No mocks: what the tests talk to is what users run.

pub mod chaos;
mod cluster;

pub use cluster::{NatsCluster, CLUSTER_SIZE};

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace root (this crate lives in `crates/mpc-testkit`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("workspace root")
        .to_path_buf()
}

/// Finds a tool installed by `scripts/install-tools`: `$MPC_TOOLS_DIR`, then
/// `.tools/bin` in the workspace, then `PATH`.
pub fn tool(name: &str) -> PathBuf {
    let candidates = std::env::var_os("MPC_TOOLS_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([workspace_root().join(".tools/bin")]);
    for dir in candidates {
        let path = dir.join(name);
        if path.is_file() {
            return path;
        }
    }
    PathBuf::from(name)
}

/// A loopback TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral loopback port")
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening on port {port}: {status}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("{what} did not listen on port {port} within 20 s");
}

/// Starts `command` (which logs `...<marker>127.0.0.1:<port>` once it
/// listens, on stdout or stderr) and returns it with the port it bound. The
/// process picks its own free port, so parallel tests never race for one.
fn spawn_listening(command: &mut Command, marker: &str, what: &str) -> (Child, u16) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what} (run scripts/install-tools): {e}"));
    let (found, ports) = std::sync::mpsc::channel();
    let outputs: [Box<dyn std::io::Read + Send>; 2] = [
        Box::new(child.stdout.take().expect("piped stdout")),
        Box::new(child.stderr.take().expect("piped stderr")),
    ];
    for output in outputs {
        let (found, marker) = (found.clone(), marker.to_owned());
        // Keeps draining after the port is found, so the pipe never fills.
        std::thread::spawn(move || {
            for line in
                std::io::BufRead::lines(std::io::BufReader::new(output)).map_while(Result::ok)
            {
                if let Some(port) = line
                    .split_once(&marker)
                    .and_then(|(_, rest)| rest.trim().rsplit(':').next()?.parse::<u16>().ok())
                {
                    let _ = found.send(port);
                }
            }
        });
    }
    match ports.recv_timeout(Duration::from_secs(20)) {
        Ok(port) => {
            wait_for_port(port, &mut child, what);
            (child, port)
        }
        Err(_) => {
            stop(&mut child);
            panic!("{what} did not report a listening port within 20 s");
        }
    }
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The NATS roles of `nats/users.conf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Client,
    Cosigner,
    Broadcaster,
    /// Read-only: subscribes to the traffic, publishes nothing of the wallet's.
    Observer,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Client,
        Role::Cosigner,
        Role::Broadcaster,
        Role::Observer,
    ];

    pub fn user(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Cosigner => "cosigner",
            Role::Broadcaster => "broadcaster",
            Role::Observer => "observer",
        }
    }

    /// The environment variable `nats/users.conf` reads this role's password from.
    pub fn password_env(self) -> &'static str {
        match self {
            Role::Client => "MPC_NATS_CLIENT_PASSWORD",
            Role::Cosigner => "MPC_NATS_COSIGNER_PASSWORD",
            Role::Broadcaster => "MPC_NATS_BROADCASTER_PASSWORD",
            Role::Observer => "MPC_NATS_OBSERVER_PASSWORD",
        }
    }
}

/// A nats-server started with `nats/server.conf`, JetStream in a temp dir,
/// random per-role passwords. Restartable on the same port and store.
pub struct NatsServer {
    child: Child,
    port: u16,
    store: tempfile::TempDir,
    passwords: [String; Role::ALL.len()],
}

impl NatsServer {
    pub fn start() -> Self {
        let passwords = Role::ALL.map(|_| hex::encode(rand::random::<[u8; 16]>()));
        let store = tempfile::tempdir().expect("temp dir for JetStream");
        let (child, port) = Self::spawn(None, store.path(), &passwords);
        NatsServer {
            child,
            port,
            store,
            passwords,
        }
    }

    /// Starts the broker on `port`, or on a port of its own choosing.
    fn spawn(
        port: Option<u16>,
        store: &Path,
        passwords: &[String; Role::ALL.len()],
    ) -> (Child, u16) {
        let mut cmd = Command::new(tool("nats-server"));
        // -1: the server picks a free port and logs it.
        let port_arg = port.map_or_else(|| "-1".to_owned(), |p| p.to_string());
        cmd.arg("-c")
            .arg(workspace_root().join("nats/server.conf"))
            .args(["-a", "127.0.0.1", "-p", &port_arg, "-js", "-sd"])
            .arg(store);
        for (role, password) in Role::ALL.iter().zip(passwords) {
            cmd.env(role.password_env(), password);
        }
        spawn_listening(
            &mut cmd,
            "Listening for client connections on ",
            "nats-server",
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn password(&self, role: Role) -> &str {
        &self.passwords[role as usize]
    }

    /// `nats://user:password@127.0.0.1:port` for a role.
    pub fn url(&self, role: Role) -> String {
        format!(
            "nats://{}:{}@127.0.0.1:{}",
            role.user(),
            self.password(role),
            self.port
        )
    }

    /// Stops the broker, keeping its JetStream store, until `start_again`.
    pub fn kill(&mut self) {
        stop(&mut self.child);
    }

    /// Starts the broker again on the same port and JetStream store.
    pub fn start_again(&mut self) {
        self.child = Self::spawn(Some(self.port), self.store.path(), &self.passwords).0;
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// An anvil node with chain id 11155111 (Sepolia's), so signed transactions
/// are exactly what Sepolia would accept.
pub struct Anvil {
    child: Child,
    port: u16,
}

/// Anvil's first default dev account (funded with 10,000 ETH).
pub const ANVIL_DEV_KEY: &str =
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
pub const ANVIL_DEV_ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
pub const SEPOLIA_CHAIN_ID: u64 = 11155111;

impl Anvil {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts anvil with extra flags (e.g. `--no-mining`).
    pub fn start_with(extra: &[&str]) -> Self {
        let mut cmd = Command::new(tool("anvil"));
        // --port 0: anvil picks a free port and prints it.
        cmd.args(["--host", "127.0.0.1", "--port", "0"])
            .args(["--chain-id", &SEPOLIA_CHAIN_ID.to_string()])
            .args(extra);
        let (child, port) = spawn_listening(&mut cmd, "Listening on ", "anvil");
        Anvil { child, port }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn kill(&mut self) {
        stop(&mut self.child);
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nats_server_accepts_connections_and_restarts_on_the_same_port() {
        let mut nats = NatsServer::start();
        assert!(TcpStream::connect(("127.0.0.1", nats.port())).is_ok());
        nats.kill();
        assert!(TcpStream::connect(("127.0.0.1", nats.port())).is_err());
        nats.start_again();
        assert!(TcpStream::connect(("127.0.0.1", nats.port())).is_ok());
        assert!(nats.url(Role::Client).starts_with("nats://client:"));
    }

    #[test]
    fn anvil_listens() {
        let anvil = Anvil::start();
        assert!(TcpStream::connect(("127.0.0.1", anvil.port())).is_ok());
    }
}
