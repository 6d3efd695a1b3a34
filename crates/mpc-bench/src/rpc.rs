//! `eth_sendTransaction` through `mpc serve`'s Ethereum JSON-RPC endpoint
//! (`POST /rpc`), with a real node (anvil) and the release broadcaster:
//! each request timed until its transaction hash comes back, one after
//! another; the last one must then be mined, so the figure is of real,
//! valid transactions.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use mpc_testkit::Anvil;
use serde_json::{json, Value};

use crate::serve::{self, post};
use crate::stats::{milliseconds, timed, Summary};

const RECIPIENT: &str = "0x3535353535353535353535353535353535353535";
/// 100 ether for the wallet's master address.
const FUNDS_WEI: &str = "0x56bc75e2d63100000";
const MINED_WITHIN: Duration = Duration::from_secs(30);

/// A JSON-RPC server: `mpc serve`'s `/rpc` (with its token) or the node itself.
struct Endpoint<'a> {
    address: &'a str,
    token: Option<&'a str>,
    path: &'a str,
}

impl Endpoint<'_> {
    /// The `result` of `method(params)`; an error answer fails.
    async fn call(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (status, body) = post(self.address, self.token, self.path, &request.to_string())
            .await
            .with_context(|| format!("{method} to {}{}", self.address, self.path))?;
        ensure!(status == 200, "{method}: HTTP {status}: {body}");
        let mut reply: Value = serde_json::from_str(&body)
            .with_context(|| format!("{method}: not a JSON-RPC response: {body:?}"))?;
        if let Some(error) = reply.get("error") {
            bail!("{method}: {error}");
        }
        Ok(reply["result"].take())
    }
}

/// Starts `mpc serve` for `share` with `MPC_RPC_URL` at `anvil` (a
/// broadcaster must be pulling from the broker at `nats_url`), funds the
/// master address through the endpoint, and times `sends` sequential
/// `eth_sendTransaction` of 1 wei each.
pub async fn measure(
    mpc: &Path,
    nats_url: &str,
    share: &Path,
    passphrase: &str,
    anvil: &Anvil,
    sends: usize,
) -> anyhow::Result<Summary> {
    let home = tempfile::tempdir().context("a home for mpc serve")?;
    let server = serve::start(
        mpc,
        nats_url,
        share,
        passphrase,
        home.path(),
        &[("MPC_RPC_URL", &anvil.url())],
    )?;
    let wallet = Endpoint {
        address: &server.address,
        token: Some(&server.token),
        path: "/rpc",
    };
    let node_address = format!("127.0.0.1:{}", anvil.port());
    let node = Endpoint {
        address: &node_address,
        token: None,
        path: "/",
    };
    // Opens the share (Argon2id) before anything is timed.
    let accounts = wallet.call("eth_accounts", json!([])).await?;
    let from = accounts[0]
        .as_str()
        .with_context(|| format!("eth_accounts: no master address in {accounts}"))?
        .to_owned();
    // anvil's own method, passed through to the node.
    wallet
        .call("anvil_setBalance", json!([from, FUNDS_WEI]))
        .await?;

    let mut samples = Vec::new();
    let mut last_hash = String::new();
    for _ in 0..sends {
        let tx = json!({"from": from, "to": RECIPIENT, "value": "0x1"});
        let (hash, elapsed) = timed(wallet.call("eth_sendTransaction", json!([tx]))).await;
        let hash = hash?;
        last_hash = hash
            .as_str()
            .with_context(|| format!("eth_sendTransaction answered {hash}, not a hash"))?
            .to_owned();
        samples.push(elapsed);
    }
    let answered = Instant::now();
    let (receipt, mined_after) = loop {
        let receipt = node
            .call("eth_getTransactionReceipt", json!([last_hash]))
            .await?;
        if !receipt.is_null() {
            break (receipt, answered.elapsed());
        }
        ensure!(
            answered.elapsed() < MINED_WITHIN,
            "{last_hash}, the last eth_sendTransaction, was not mined within {MINED_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    ensure!(
        receipt["status"] == "0x1",
        "{last_hash} was mined but reverted: {receipt}"
    );
    let mined = node
        .call("eth_getTransactionCount", json!([from, "latest"]))
        .await?;
    ensure!(
        mined == json!(format!("{sends:#x}")),
        "{from} has {mined} transactions mined, not the {sends} sent"
    );
    crate::progress(&format!(
        "{sends} transactions mined, the last ({last_hash}) in block {} within {} ms of its hash",
        receipt["blockNumber"].as_str().unwrap_or("?"),
        milliseconds(mined_after)
    ));
    Ok(Summary::of(samples))
}
