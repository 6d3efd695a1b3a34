//! `mpc serve` under load: the release binary serving one share over HTTP
//! while concurrent clients sign messages and read addresses, and its
//! resident memory before, at the peak and after (its allocator is
//! mimalloc, as the co-signer's).

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::deployment::process_memory;

/// Clients sending requests at once.
const CONCURRENCY: usize = 8;

#[derive(Debug, Clone, Serialize)]
pub struct ServeMemory {
    pub requests: usize,
    pub concurrency: usize,
    /// Requests answered with anything but 200 (a co-signer busy with the
    /// same wallet's previous session answers 503).
    pub not_ok: usize,
    pub rss_mib_at_start: f64,
    /// VmHWM over the whole run.
    pub peak_rss_mib: f64,
    pub rss_mib_after: f64,
}

/// A running `mpc serve`, killed on drop.
pub struct Server {
    child: Child,
    /// `127.0.0.1:PORT`
    pub address: String,
    /// The bearer token of its HTTP API.
    pub token: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `mpc serve` for `share` against the broker at `nats_url` and
/// sends `requests` requests, half `/tx/sign`, half `/address`.
pub async fn measure(
    mpc: &Path,
    nats_url: &str,
    share: &Path,
    passphrase: &str,
    requests: usize,
) -> anyhow::Result<ServeMemory> {
    let home = tempfile::tempdir().context("a home for mpc serve")?;
    let server = start(mpc, nats_url, share, passphrase, home.path(), &[])?;
    let pid = server.child.id();
    let at_start = process_memory(pid)?;
    let mut clients = Vec::new();
    for client in 0..CONCURRENCY {
        let (address, token) = (server.address.clone(), server.token.clone());
        let count = requests / CONCURRENCY;
        clients.push(tokio::spawn(async move {
            let mut not_ok = 0;
            for number in 0..count {
                let (path, body) = match number % 2 {
                    0 => (
                        "/tx/sign",
                        format!(r#"{{"message": "bench {client}/{number}"}}"#),
                    ),
                    _ => ("/address", "{}".to_owned()),
                };
                if post(&address, Some(&token), path, &body).await?.0 != 200 {
                    not_ok += 1;
                }
            }
            anyhow::Ok(not_ok)
        }));
    }
    let mut not_ok = 0;
    for client in clients {
        not_ok += client.await??;
    }
    let after = process_memory(pid)?;
    let mib = |kib: u64| (kib as f64 / 1024.0 * 10.0).round() / 10.0;
    Ok(ServeMemory {
        requests: requests / CONCURRENCY * CONCURRENCY,
        concurrency: CONCURRENCY,
        not_ok,
        rss_mib_at_start: mib(at_start.rss_kib),
        peak_rss_mib: mib(after.peak_rss_kib),
        rss_mib_after: mib(after.rss_kib),
    })
}

/// Starts `mpc serve --json` for `share` on a free loopback port, with
/// `MPC_HOME` at `home` and `env` besides (e.g. `MPC_RPC_URL`).
pub fn start(
    mpc: &Path,
    nats_url: &str,
    share: &Path,
    passphrase: &str,
    home: &Path,
    env: &[(&str, &str)],
) -> anyhow::Result<Server> {
    anyhow::ensure!(
        mpc.is_file(),
        "no mpc binary at {}: build it with `cargo build --release -p mpc-cli` (scripts/bench does)",
        mpc.display()
    );
    let port = mpc_testkit::free_port();
    let address = format!("127.0.0.1:{port}");
    let mut child = Command::new(mpc)
        .args(["serve", "--listen", &address, "--json", "--share"])
        .arg(share)
        .env("MPC_NATS_URL", nats_url)
        .env("MPC_HOME", home)
        .env("MPC_PASSPHRASE", passphrase)
        .env_remove("MPC_PASSPHRASE_FILE")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("start {}", mpc.display()))?;
    // Its first line says it listens; the token is written by then.
    let mut line = String::new();
    let stdout = child.stdout.take().context("mpc serve stdout")?;
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    if !line.contains(r#""listen""#) {
        let _ = child.kill();
        bail!("mpc serve did not start: {line:?}");
    }
    let token = std::fs::read_to_string(home.join("http.token")).context("read http.token")?;
    Ok(Server {
        child,
        address,
        token: token.trim().to_owned(),
    })
}

/// One HTTP/1.1 POST on its own connection, with the bearer `token` if
/// any; returns the status code and the body.
pub async fn post(
    address: &str,
    token: Option<&str>,
    path: &str,
    body: &str,
) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect(address).await?;
    let authorization = token.map_or_else(String::new, |token| {
        format!("Authorization: Bearer {token}\r\n")
    });
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\n{authorization}\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("no HTTP status in {head:?}"))?;
    Ok((status, body.to_owned()))
}
