//! What `cast wallet` users reach for: a one-step send, balance, nonce,
//! receipt lookup, speed-up and cancel, shell completions. Each composes the
//! library's steps (prepare, sign, broadcast); balance, nonce and status need
//! only the RPC, so they start no broker or co-signer.

use std::path::Path;
use std::time::Duration;

use mpc_client::{Account, Broadcast, BroadcastResult, Connection, Waiting, Wallet};
use mpc_evm::{Address, EvmRpc, Fees, TxDraft, TxKind, TxRequest, B256, U256};
use serde_json::{json, Map, Value};

use crate::cli::{Cli, ReplaceArgs, SendArgs};
use crate::commands::{open_share, open_wallet};
use crate::output::{print_result, CliError, ExitCode};
use crate::progress::Step;
use crate::settings::{Needs, Settings};
use crate::views::BroadcastView;

/// Which replacement `mpc tx speed-up` / `mpc tx cancel` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replacement {
    /// The same transaction with higher fees.
    SpeedUp,
    /// A 0-value transfer to self with the same nonce and higher fees.
    Cancel,
}

/// `mpc send`: prepare, sign, broadcast and (unless `--no-wait`) the receipt.
pub async fn send(settings: &Settings, json: bool, args: SendArgs) -> Result<(), CliError> {
    let draft = TxDraft::from_value(&draft_json(&args)?)?;
    let account = Account::from_index(args.index);
    let connection = settings.connect_for(Needs::Broadcaster).await?;
    let wallet = open_wallet(&connection, &args.share).await?;
    let tx = wallet.prepare_transaction(draft, account).await?;
    let wait = args.wait.receipt_wait();
    let output = sign_and_broadcast(&wallet, &tx, account, wait, false, json).await?;
    print_sent(json, &output);
    Ok(())
}

/// tx.json for the flags, so `send` reads amounts, units, `erc20` and
/// contract creation exactly as `mpc tx prepare` does.
fn draft_json(args: &SendArgs) -> Result<Value, CliError> {
    let mut draft = Map::new();
    match (&args.erc20, &args.to) {
        (Some(token), Some(to)) => {
            draft.insert(
                "erc20".into(),
                json!({"token": token, "to": to, "amount": args.amount}),
            );
        }
        (None, to) => {
            if to.is_none() && args.data.is_none() {
                return Err(CliError::new(
                    "usage",
                    ExitCode::Usage,
                    "give --to ADDR for a transfer, or --data INIT_CODE without --to to deploy a contract",
                ));
            }
            if let Some(to) = to {
                draft.insert("to".into(), to.clone().into());
            }
            draft.insert("value".into(), args.value.as_deref().unwrap_or("0").into());
            if let Some(data) = &args.data {
                draft.insert("data".into(), data.clone().into());
            }
        }
        (Some(_), None) => unreachable!("clap requires --to with --erc20"),
    }
    Ok(Value::Object(draft))
}

/// Signs `tx` with the co-signer and queues it; `direct` also hands it to
/// the node at once (a replacement must reach the mempool even while the
/// broadcaster holds the original back, e.g. as underpriced).
async fn sign_and_broadcast(
    wallet: &Wallet,
    tx: &TxRequest,
    account: Account,
    wait: Option<Duration>,
    direct: bool,
    json: bool,
) -> Result<Value, CliError> {
    let signed = wallet.sign_transaction(tx, account).await?;
    let raw = &signed
        .transaction
        .as_ref()
        .expect("a transaction's signature carries the raw transaction")
        .raw_tx;
    let connection = wallet.connection();
    if direct {
        connection
            .rpc("sending a replacement")
            .await?
            .send_raw(raw)
            .await?;
    }
    let step = Step::begin(
        json || wait.is_none(),
        "queued; waiting for the broadcaster's receipt and confirmations",
    );
    let broadcast: Broadcast = connection.broadcast(raw, wait).await?;
    step.done();
    let tx_hash = broadcast.tx_hash;
    let mut output = serde_json::to_value(BroadcastView::from(broadcast)).expect("plain JSON");
    output["from"] = signed.from.to_checksum(None).into();
    output["nonce"] = tx.nonce.into();
    output["tx"] = tx.to_json();
    if tx.to == TxKind::Create && wait.is_some() {
        let receipt = connection
            .rpc("reading the receipt")
            .await?
            .receipt(tx_hash)
            .await?;
        output["contract_address"] = receipt
            .and_then(|r| r.contract_address)
            .map(|a| a.to_checksum(None))
            .into();
    }
    Ok(output)
}

fn print_sent(json: bool, output: &Value) {
    print_result(json, output, |v| {
        let mut line = format!(
            "{} {}",
            v["tx_hash"].as_str().unwrap_or_default(),
            v["status"].as_str().unwrap_or_default()
        );
        if let Some(contract) = v["contract_address"].as_str() {
            line.push_str(&format!("\ncontract {contract}"));
        }
        line
    });
}

/// The node at `MPC_RPC_URL`, checked to serve `MPC_CHAIN_ID`.
async fn rpc(settings: &Settings, operation: &'static str) -> Result<EvmRpc, CliError> {
    let url = settings
        .rpc_url
        .as_deref()
        .ok_or(mpc_client::Error::RpcUrlMissing { operation })?;
    Ok(EvmRpc::connect(url, settings.chain_id).await?)
}

/// The address of the share's account `index`.
async fn account_address(share: &Path, index: Option<u32>) -> Result<Address, CliError> {
    Ok(open_share(share)
        .await?
        .address(Account::from_index(index))?)
}

/// `mpc balance`: ether, or with `token` an ERC-20 balance (and the human
/// amount when the token answers `decimals()`).
pub async fn balance(
    settings: &Settings,
    json: bool,
    share: &Path,
    index: Option<u32>,
    token: Option<&str>,
) -> Result<(), CliError> {
    let token = token.map(parse_address).transpose()?;
    let address = account_address(share, index).await?;
    let rpc = rpc(settings, "balance").await?;
    let mut output = json!({"address": address.to_checksum(None), "index": index});
    let (raw, decimals) = match token {
        None => (rpc.balance(address).await?, Some(18)),
        Some(token) => {
            let data = mpc_evm::erc20::balance_of_calldata(address);
            let raw = U256::from_be_slice(&rpc.call(token, data).await?);
            output["token"] = token.to_checksum(None).into();
            (raw, token_decimals(&rpc, token).await)
        }
    };
    output["balance"] = raw.to_string().into();
    output["decimals"] = decimals.into();
    output["amount"] = decimals.and_then(|d| mpc_evm::format_amount(raw, d)).into();
    print_result(json, &output, |v| {
        let unit = if token.is_some() { "" } else { " ether" };
        match v["amount"].as_str() {
            Some(amount) => format!("{amount}{unit} ({} raw)", raw),
            None => format!("{raw} (raw; the token states no decimals)"),
        }
    });
    Ok(())
}

/// A token's `decimals()`; `None` when it has none (the call is optional).
async fn token_decimals(rpc: &EvmRpc, token: Address) -> Option<u8> {
    let out = rpc
        .call(token, mpc_evm::erc20::decimals_calldata())
        .await
        .ok()?;
    (out.len() == 32)
        .then(|| u8::try_from(U256::from_be_slice(&out)).ok())
        .flatten()
}

/// `mpc nonce`: the next nonce, counting pending transactions.
pub async fn nonce(
    settings: &Settings,
    json: bool,
    share: &Path,
    index: Option<u32>,
) -> Result<(), CliError> {
    let address = account_address(share, index).await?;
    let nonce = rpc(settings, "nonce").await?.nonce(address).await?;
    let output = json!({"address": address.to_checksum(None), "index": index, "nonce": nonce});
    print_result(json, &output, |_| nonce.to_string());
    Ok(())
}

/// `mpc tx status`: the receipt, or `pending` while the node holds it unmined.
pub async fn status(settings: &Settings, json: bool, tx_hash: &str) -> Result<(), CliError> {
    let hash = parse_hash(tx_hash)?;
    let rpc = rpc(settings, "tx status").await?;
    let output = match rpc.receipt(hash).await? {
        Some(receipt) => json!({
            "tx_hash": hash.to_string(),
            "status": if receipt.success { "success" } else { "reverted" },
            "block_number": receipt.block_number,
            "block_hash": receipt.block_hash.to_string(),
            "from": receipt.from.to_checksum(None),
            "gas_used": receipt.gas_used,
            "contract_address": receipt.contract_address.map(|a| a.to_checksum(None)),
        }),
        None => {
            let sent = rpc.transaction(hash).await?.ok_or_else(|| unknown(hash))?;
            json!({
                "tx_hash": hash.to_string(),
                "status": "pending",
                "block_number": null,
                "from": sent.from.to_checksum(None),
                "nonce": sent.request.nonce,
            })
        }
    };
    print_result(json, &output, |v| {
        let block = v["block_number"]
            .as_u64()
            .map(|n| format!(" in block {n}"))
            .unwrap_or_default();
        format!(
            "{} {}{block}",
            hash,
            v["status"].as_str().unwrap_or_default()
        )
    });
    Ok(())
}

/// `mpc tx speed-up` / `mpc tx cancel`: a replacement with the original's
/// nonce and fees raised (see [`mpc_evm::replacement_fees`]), signed with
/// the co-signer seeing the whole replacement.
pub async fn replace(
    settings: &Settings,
    json: bool,
    kind: Replacement,
    args: ReplaceArgs,
) -> Result<(), CliError> {
    let hash = parse_hash(&args.tx_hash)?;
    let account = Account::from_index(args.index);
    let connection = settings.connect_for(Needs::Broadcaster).await?;
    let rpc = connection.rpc("replacing a transaction").await?;
    let original = rpc.transaction(hash).await?.ok_or_else(|| unknown(hash))?;
    if let Some(block) = original.block_number {
        return Err(CliError::new(
            "already_mined",
            ExitCode::Chain,
            format!("{hash} is already mined in block {block}: there is nothing to replace"),
        ));
    }
    let wallet = open_wallet(&connection, &args.share).await?;
    let ours = wallet.address(account)?;
    if original.from != ours {
        return Err(CliError::new(
            "not_this_account",
            ExitCode::InvalidInput,
            format!(
                "{hash} is sent by {}, not by this share's account {ours} (use --index for a child account)",
                original.from
            ),
        ));
    }
    let legacy = matches!(original.request.fees, Fees::Legacy { .. });
    let current = rpc.current_fees(legacy).await?;
    let replacement = match kind {
        Replacement::SpeedUp => original.request.speed_up(current),
        Replacement::Cancel => original.request.cancellation(ours, current),
    };
    let wait = args.wait.receipt_wait();
    let mut output = sign_and_broadcast(&wallet, &replacement, account, wait, true, json).await?;
    output["replaces"] = hash.to_string().into();
    // Replaced: the broadcaster must not send the original again (after a
    // restart it would be redelivered).
    output["original_dropped_from_queue"] = connection.drop_queued(&hash).await?.is_some().into();
    print_sent(json, &output);
    Ok(())
}

fn waiting_json(waiting: &Waiting) -> Value {
    json!({
        "tx_hash": waiting.tx.tx_hash.to_string(),
        "from": waiting.tx.from.to_checksum(None),
        "nonce": waiting.tx.nonce,
        "chain_id": waiting.tx.chain_id,
        "in_flight": waiting.in_flight,
        "sequence": waiting.sequence,
    })
}

/// What the broadcaster last recorded for `tx_hash`, for `mpc broadcast
/// --status` and `GET /tx/broadcast/{tx_hash}`.
pub async fn lookup_broadcast(
    connection: &Connection,
    tx_hash: &str,
) -> Result<BroadcastResult, CliError> {
    let hash = parse_hash(tx_hash)?;
    connection.broadcast_status(&hash).await?.ok_or_else(|| {
        CliError::new(
            "unknown_broadcast",
            ExitCode::InvalidInput,
            format!(
                "{hash} is neither queued nor known to the broadcaster (statuses are kept a week)"
            ),
        )
    })
}

/// `mpc broadcast --status <hash>`.
pub async fn broadcast_status(
    settings: &Settings,
    json: bool,
    tx_hash: &str,
) -> Result<(), CliError> {
    let result = lookup_broadcast(&settings.connect().await?, tx_hash).await?;
    let line = format!("{} {result}", result.tx_hash);
    let output = serde_json::to_value(BroadcastView::from(result)).expect("plain JSON");
    print_result(json, &output, |_| line.clone());
    Ok(())
}

/// `mpc queue ls`: what waits in the broadcaster's queue, oldest first.
pub async fn queue_ls(settings: &Settings, json: bool) -> Result<(), CliError> {
    let queued = settings.connect().await?.queued().await?;
    let output = json!({"queued": queued.iter().map(waiting_json).collect::<Vec<_>>()});
    print_result(json, &output, |_| {
        if queued.is_empty() {
            return "the queue is empty".to_owned();
        }
        queued
            .iter()
            .map(|waiting| {
                let state = if waiting.in_flight {
                    "in flight"
                } else {
                    "waiting"
                };
                format!(
                    "{}  {} nonce {}  {state}",
                    waiting.tx.tx_hash, waiting.tx.from, waiting.tx.nonce
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

/// `mpc queue drop <hash>`: the transaction leaves the queue, never (re)sent.
pub async fn queue_drop(settings: &Settings, json: bool, tx_hash: &str) -> Result<(), CliError> {
    let hash = parse_hash(tx_hash)?;
    let dropped = settings
        .connect()
        .await?
        .drop_queued(&hash)
        .await?
        .ok_or_else(|| {
            CliError::new(
                "not_queued",
                ExitCode::InvalidInput,
                format!("{hash} is not in the broadcast queue (see `mpc queue ls`)"),
            )
        })?;
    let output = json!({"dropped": waiting_json(&dropped)});
    print_result(json, &output, |_| {
        let note = if dropped.in_flight {
            "; it was in flight and may have reached the node: `mpc tx cancel` makes sure"
        } else {
            ""
        };
        format!("dropped {hash}{note}")
    });
    Ok(())
}

/// `mpc completions`: the shell's completion script on stdout.
pub fn completions(json: bool, shell: clap_complete::Shell) {
    let mut command = <Cli as clap::CommandFactory>::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "mpc", &mut script);
    let script = String::from_utf8(script).expect("completion scripts are text");
    match json {
        true => print_result(
            true,
            &json!({"shell": shell.to_string(), "script": script}),
            |_| String::new(),
        ),
        false => print!("{script}"),
    }
}

pub fn parse_hash(text: &str) -> Result<B256, CliError> {
    text.trim().parse().map_err(|_| {
        CliError::new(
            "invalid_tx_hash",
            ExitCode::InvalidInput,
            format!("{text:?} is not a transaction hash (0x and 64 hex digits)"),
        )
    })
}

fn parse_address(text: &str) -> Result<Address, CliError> {
    text.trim().parse().map_err(|_| {
        CliError::new(
            "invalid_address",
            ExitCode::InvalidInput,
            format!("{text:?} is not an address (0x and 40 hex digits)"),
        )
    })
}

/// The node knows no transaction with this hash (never sent, dropped, or
/// another chain): the chain's answer, so exit 7.
fn unknown(hash: B256) -> CliError {
    CliError::new(
        "unknown_transaction",
        ExitCode::Chain,
        format!("the node knows no transaction {hash} (not sent, dropped from its pool, or on another chain)"),
    )
}
