//! The embedded default (an explicit opt-in of [`ConnectionBuilder`](crate::ConnectionBuilder)):
//! a local nats-server and co-signer (and the broadcaster when an RPC URL is
//! set) for the lifetime of one connection. State lives under `$MPC_HOME`, so the
//! co-signer's shares and the broadcast queue survive between commands.

use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const SERVER_CONF: &str = include_str!("../../../nats/server.conf");
const USERS_CONF: &str = include_str!("../../../nats/users.conf");

/// Per-role broker passwords, generated once and kept 0600 in `$MPC_HOME`.
#[derive(Serialize, Deserialize)]
struct BrokerPasswords {
    client: String,
    cosigner: String,
    broadcaster: String,
}

/// Local broker and workers, stopped (in reverse order) when dropped.
pub struct Embedded {
    children: Vec<(&'static str, Child)>,
    client_url: String,
}

impl Embedded {
    /// Starts the broker and co-signer; the broadcaster too when `rpc_url` is given.
    pub fn start(home: &Path, rpc_url: Option<&str>, chain_id: u64) -> Result<Self> {
        let broker_dir = home.join("broker");
        fs::create_dir_all(broker_dir.join("jetstream")).map_err(io_error(&broker_dir))?;
        fs::write(broker_dir.join("server.conf"), SERVER_CONF).map_err(io_error(&broker_dir))?;
        fs::write(broker_dir.join("users.conf"), USERS_CONF).map_err(io_error(&broker_dir))?;
        let passwords = load_or_create_passwords(&broker_dir.join("passwords.json"))?;

        let ports_dir = broker_dir.join("ports");
        // Files of earlier runs would name ports that are gone.
        let _ = fs::remove_dir_all(&ports_dir);
        fs::create_dir_all(&ports_dir).map_err(io_error(&ports_dir))?;
        let mut embedded = Embedded {
            children: Vec::new(),
            client_url: String::new(),
        };
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
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        embedded.spawn("nats-server", &mut nats)?;
        let port = embedded.wait_for_broker(&ports_dir)?;
        embedded.client_url = url("client", &passwords.client, port);

        let cosigner_dir = home.join("cosigner");
        fs::create_dir_all(&cosigner_dir).map_err(io_error(&cosigner_dir))?;
        let mut cosigner = worker("mpc-cosigner")?;
        cosigner
            .arg("--data-dir")
            .arg(&cosigner_dir)
            .env("MPC_NATS_URL", url("cosigner", &passwords.cosigner, port))
            .env("MPC_KEY_SOURCE", "passphrase")
            .env("MPC_PASSPHRASE_FILE", cosigner_passphrase(&cosigner_dir)?)
            .stdout(Stdio::null())
            .stderr(log_file(home, "cosigner.log")?);
        embedded.spawn("mpc-cosigner", &mut cosigner)?;

        if let Some(rpc_url) = rpc_url {
            let mut broadcaster = worker("mpc-broadcaster")?;
            broadcaster
                .env(
                    "MPC_NATS_URL",
                    url("broadcaster", &passwords.broadcaster, port),
                )
                .env("MPC_RPC_URL", rpc_url)
                .env("MPC_CHAIN_ID", chain_id.to_string())
                .stdout(Stdio::null())
                .stderr(log_file(home, "broadcaster.log")?);
            embedded.spawn("mpc-broadcaster", &mut broadcaster)?;
        }
        Ok(embedded)
    }

    /// The URL the client connects with (client user, local port).
    pub fn client_url(&self) -> &str {
        &self.client_url
    }

    /// A child that has exited, with where its log is: the embedded services
    /// must outlive the command.
    pub fn exited(&mut self) -> Option<String> {
        self.children.iter_mut().find_map(|(name, child)| {
            let status = child.try_wait().ok().flatten()?;
            Some(format!(
                "the embedded {name} exited ({status}); see its log in MPC_HOME"
            ))
        })
    }

    fn spawn(&mut self, name: &'static str, command: &mut Command) -> Result<()> {
        let child = command
            .spawn()
            .map_err(|e| Error::Embedded(format!("could not start the embedded {name}: {e}")))?;
        self.children.push((name, child));
        Ok(())
    }

    /// Waits until the broker wrote its ports file and accepts connections.
    fn wait_for_broker(&mut self, ports_dir: &Path) -> Result<u16> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(port) = reported_port(ports_dir) {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Ok(port);
                }
            }
            if let Some((_, nats)) = self.children.first_mut() {
                if let Ok(Some(status)) = nats.try_wait() {
                    return Err(Error::Embedded(format!(
                        "the embedded nats-server exited at start ({status})"
                    )));
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(Error::Embedded(
            "the embedded nats-server did not start listening within 10 s".to_owned(),
        ))
    }
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

impl Drop for Embedded {
    fn drop(&mut self) {
        for (_, child) in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
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
