//! The embedded default (an explicit opt-in of [`ConnectionBuilder`](crate::ConnectionBuilder)):
//! a local nats-server and co-signer (and the broadcaster when asked), one
//! instance per `$MPC_HOME` shared by every command using that home (the
//! `instance` module keeps the lock and record). State lives under `$MPC_HOME`, so the
//! co-signer's shares and the broadcast queue survive between commands.

use std::fs;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::instance::{self, BroadcasterRecord, Record, StartLock, Use};

const SERVER_CONF: &str = include_str!("../../../nats/server.conf");
const USERS_CONF: &str = include_str!("../../../nats/users.conf");

/// Per-role broker passwords, generated once and kept 0600 in `$MPC_HOME`.
#[derive(Serialize, Deserialize)]
struct BrokerPasswords {
    client: String,
    cosigner: String,
    broadcaster: String,
    observer: String,
}

/// How anyone may watch the embedded broker's traffic, read-only: the
/// `observer` user may subscribe to `mpc.>` and publish nothing of the wallet's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObserverAccess {
    /// The broker, without credentials: `nats://127.0.0.1:PORT`.
    pub url: String,
    /// The NATS user, `observer`.
    pub user: String,
    /// Its password (it grants reading routing headers and ciphertext only).
    pub password: String,
}

impl ObserverAccess {
    /// A `nats` CLI line that follows every session.
    pub fn nats_sub_command(&self) -> String {
        format!(
            "nats --server {} --user {} --password {} sub 'mpc.>'",
            self.url, self.user, self.password
        )
    }
}

/// This connection's use of the home's embedded instance. Dropping it ends
/// the use; the last user stops the instance.
pub struct Embedded {
    home: PathBuf,
    record: Record,
    passwords: BrokerPasswords,
    usage: Option<Use>,
    /// Processes this process started: reaped when it is done with them,
    /// so none lingers as a zombie.
    spawned: Vec<Child>,
}

impl Embedded {
    /// Joins the instance running for `home`, or starts its broker and
    /// co-signer; with `broadcaster` (RPC URL, chain id) also its broadcaster.
    pub fn start(home: &Path, broadcaster: Option<(&str, u64)>) -> Result<Self> {
        if !cfg!(target_os = "linux") {
            // Its processes are recognised through /proc.
            return Err(Error::Embedded(
                "the embedded default runs on Linux only: set MPC_NATS_URL to a broker".to_owned(),
            ));
        }
        fs::create_dir_all(home).map_err(io_error(home))?;
        // Absolute, so recorded processes can be recognised by their working directory.
        let home = fs::canonicalize(home).map_err(io_error(home))?;
        let _start = StartLock::acquire(&home)?;
        let usage = Use::register(&home)?;
        let mut spawned = Vec::new();
        match join_or_start(&home, broadcaster, &mut spawned) {
            Ok((record, passwords)) => Ok(Embedded {
                home,
                record,
                passwords,
                usage: Some(usage),
                spawned,
            }),
            Err(error) => {
                // Nothing recorded them: nobody else would stop them.
                for child in &mut spawned {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                Err(error)
            }
        }
    }

    /// The URL the client connects with (client user, local port).
    pub fn client_url(&self) -> String {
        url("client", &self.passwords.client, self.record.port)
    }

    /// Read-only access to the broker's traffic.
    pub fn observer(&self) -> ObserverAccess {
        ObserverAccess {
            url: format!("nats://127.0.0.1:{}", self.record.port),
            user: "observer".to_owned(),
            password: self.passwords.observer.clone(),
        }
    }

    /// A service of the instance that has exited, with where its log is:
    /// the embedded services must outlive the command.
    pub fn exited(&mut self) -> Option<String> {
        let name = self.record.gone(&self.home)?;
        Some(format!(
            "the embedded {name} exited; see its log in MPC_HOME"
        ))
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        if let Some(usage) = self.usage.take() {
            match StartLock::acquire(&self.home) {
                Ok(_start) => {
                    if usage.end_is_last() {
                        if let Some(record) = instance::read(&self.home) {
                            record.stop(&self.home);
                        }
                        instance::remove(&self.home);
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "could not stop the embedded services; the next command will")
                }
            }
        }
        for child in &mut self.spawned {
            let _ = child.try_wait();
        }
    }
}

/// Joins the recorded instance when it is alive, else starts one; adds the
/// broadcaster when asked and not yet running. Records the result.
fn join_or_start(
    home: &Path,
    broadcaster: Option<(&str, u64)>,
    spawned: &mut Vec<Child>,
) -> Result<(Record, BrokerPasswords)> {
    let broker_dir = home.join("broker");
    let running = instance::read(home).filter(|record| {
        let alive = record.alive(home);
        if !alive {
            // Half an instance serves nobody: stop what is left of it.
            record.stop(home);
            instance::remove(home);
        }
        alive
    });
    let (mut record, passwords) = match running {
        Some(record) => (
            record,
            load_or_create_passwords(&broker_dir.join("passwords.json"))?,
        ),
        None => start_broker_and_cosigner(home, spawned)?,
    };
    if let Some((rpc_url, chain_id)) = broadcaster {
        match &record.broadcaster {
            Some(running) if running.rpc_url == rpc_url && running.chain_id == chain_id => {}
            Some(running) => {
                return Err(Error::Embedded(format!(
                    "the embedded broadcaster of this MPC_HOME already sends to another RPC URL \
                     or chain (chain id {}); end the commands using it, or use another MPC_HOME",
                    running.chain_id
                )))
            }
            None => {
                let pid =
                    start_broadcaster(home, &passwords, record.port, rpc_url, chain_id, spawned)?;
                record.broadcaster = Some(BroadcasterRecord {
                    pid,
                    rpc_url: rpc_url.to_owned(),
                    chain_id,
                });
            }
        }
    }
    instance::write(home, &record)?;
    Ok((record, passwords))
}

fn start_broker_and_cosigner(
    home: &Path,
    spawned: &mut Vec<Child>,
) -> Result<(Record, BrokerPasswords)> {
    let broker_dir = home.join("broker");
    fs::create_dir_all(broker_dir.join("jetstream")).map_err(io_error(&broker_dir))?;
    fs::write(broker_dir.join("server.conf"), SERVER_CONF).map_err(io_error(&broker_dir))?;
    fs::write(broker_dir.join("users.conf"), USERS_CONF).map_err(io_error(&broker_dir))?;
    let passwords = load_or_create_passwords(&broker_dir.join("passwords.json"))?;

    let ports_dir = broker_dir.join("ports");
    // Files of earlier runs would name ports that are gone.
    let _ = fs::remove_dir_all(&ports_dir);
    fs::create_dir_all(&ports_dir).map_err(io_error(&ports_dir))?;
    let mut nats = Command::new(find_program("nats-server", "MPC_NATS_SERVER")?);
    // -p -1: the server picks a free port and writes it to the ports file,
    // so no other process can take it between choosing and binding.
    nats.arg("-c")
        .arg(broker_dir.join("server.conf"))
        .args(["-a", "127.0.0.1", "-p", "-1", "--ports_file_dir"])
        .arg(&ports_dir)
        .arg("-sd")
        .arg(broker_dir.join("jetstream"))
        .env("MPC_NATS_CLIENT_PASSWORD", &passwords.client)
        .env("MPC_NATS_COSIGNER_PASSWORD", &passwords.cosigner)
        .env("MPC_NATS_BROADCASTER_PASSWORD", &passwords.broadcaster)
        .env("MPC_NATS_OBSERVER_PASSWORD", &passwords.observer)
        .stderr(Stdio::null());
    let nats = spawn(home, "nats-server", &mut nats, spawned)?;
    let port = wait_for_broker(&ports_dir, spawned.last_mut().expect("just spawned"))?;

    let cosigner_dir = home.join("cosigner");
    fs::create_dir_all(&cosigner_dir).map_err(io_error(&cosigner_dir))?;
    let mut cosigner = worker("mpc-cosigner")?;
    // Only this user's processes reach the embedded broker: any of them may
    // create wallets.
    cosigner
        .arg("--data-dir")
        .arg(&cosigner_dir)
        .arg("--open-enrollment")
        .env("MPC_NATS_URL", url("cosigner", &passwords.cosigner, port))
        .env("MPC_KEY_SOURCE", "passphrase")
        .env("MPC_PASSPHRASE_FILE", cosigner_passphrase(&cosigner_dir)?)
        .stderr(log_file(home, "cosigner.log")?);
    let cosigner = spawn(home, "mpc-cosigner", &mut cosigner, spawned)?;
    let record = Record {
        port,
        nats,
        cosigner,
        broadcaster: None,
    };
    Ok((record, passwords))
}

fn start_broadcaster(
    home: &Path,
    passwords: &BrokerPasswords,
    port: u16,
    rpc_url: &str,
    chain_id: u64,
    spawned: &mut Vec<Child>,
) -> Result<u32> {
    let mut broadcaster = worker("mpc-broadcaster")?;
    broadcaster
        .env(
            "MPC_NATS_URL",
            url("broadcaster", &passwords.broadcaster, port),
        )
        .env("MPC_RPC_URL", rpc_url)
        .env("MPC_CHAIN_ID", chain_id.to_string())
        .stderr(log_file(home, "broadcaster.log")?);
    spawn(home, "mpc-broadcaster", &mut broadcaster, spawned)
}

/// Starts a service of the instance, detached: in its own process group (a
/// Ctrl-C at the terminal is for the command, not the shared services), with
/// the home as working directory (how a recorded pid is recognised) and no
/// inherited stdin or stdout (a caller reading the command's output must
/// not wait for the services).
fn spawn(
    home: &Path,
    name: &'static str,
    command: &mut Command,
    spawned: &mut Vec<Child>,
) -> Result<u32> {
    let child = command
        .current_dir(home)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| Error::Embedded(format!("could not start the embedded {name}: {e}")))?;
    let pid = child.id();
    spawned.push(child);
    Ok(pid)
}

/// Waits until the broker wrote its ports file and accepts connections.
fn wait_for_broker(ports_dir: &Path, nats: &mut Child) -> Result<u16> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(port) = reported_port(ports_dir) {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(port);
            }
        }
        if let Ok(Some(status)) = nats.try_wait() {
            return Err(Error::Embedded(format!(
                "the embedded nats-server exited at start ({status})"
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(Error::Embedded(
        "the embedded nats-server did not start listening within 10 s".to_owned(),
    ))
}

/// The client port in the ports file nats-server writes (`{"nats": ["nats://127.0.0.1:PORT"]}`).
fn reported_port(ports_dir: &Path) -> Option<u16> {
    #[derive(Deserialize)]
    struct Ports {
        nats: Vec<String>,
    }
    let entry = fs::read_dir(ports_dir).ok()?.flatten().next()?;
    let ports: Ports = serde_json::from_str(&fs::read_to_string(entry.path()).ok()?).ok()?;
    ports.nats.first()?.rsplit(':').next()?.parse().ok()
}

fn url(user: &str, password: &str, port: u16) -> String {
    format!("nats://{user}:{password}@127.0.0.1:{port}")
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

fn log_file(home: &Path, name: &str) -> Result<fs::File> {
    let path = home.join(name);
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io_error(&path))
}

fn load_or_create_passwords(path: &Path) -> Result<BrokerPasswords> {
    if let Ok(text) = fs::read_to_string(path) {
        if let Ok(passwords) = serde_json::from_str(&text) {
            return Ok(passwords);
        }
    }
    let passwords = BrokerPasswords {
        client: random_secret(),
        cosigner: random_secret(),
        broadcaster: random_secret(),
        observer: random_secret(),
    };
    let text = serde_json::to_string(&passwords).expect("plain strings");
    mpc_store::write_private(path, text.as_bytes())?;
    Ok(passwords)
}

/// The embedded co-signer is a local stand-in for a co-signer on another
/// machine: its shares are encrypted under a random passphrase kept 0600 in its
/// own folder. A real deployment runs `mpc-cosigner` elsewhere with its keyring.
fn cosigner_passphrase(dir: &Path) -> Result<PathBuf> {
    let path = dir.join("passphrase");
    if !path.exists() {
        mpc_store::write_private(&path, random_secret().as_bytes())?;
    }
    Ok(path)
}

fn random_secret() -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A program from `$env_var`, else `PATH`.
fn find_program(name: &str, env_var: &str) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(env_var) {
        return Ok(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file());
    on_path.ok_or_else(|| {
        Error::Embedded(format!(
            "{name} not found: set MPC_NATS_URL to use a running broker, or install it \
             (scripts/install-tools) and put .tools/bin on PATH (or set {env_var})"
        ))
    })
}

/// A worker process that inherits nothing of the client's secrets or key source.
fn worker(name: &str) -> Result<Command> {
    let mut command = Command::new(sibling_program(name)?);
    for variable in [
        "MPC_PASSPHRASE",
        "MPC_PASSPHRASE_FILE",
        "MPC_KEY_SOURCE",
        "MPC_NATS_URL",
    ] {
        command.env_remove(variable);
    }
    Ok(command)
}

/// A worker binary installed next to `mpc` (as cargo and `cargo install` place them).
fn sibling_program(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(io_error(Path::new("current executable")))?;
    let candidate = exe.with_file_name(name);
    if candidate.is_file() {
        return Ok(candidate);
    }
    let env_var = format!("MPC_{}_BIN", name.trim_start_matches("mpc-").to_uppercase());
    find_program(name, &env_var)
}
