//! The co-signer's policy check per signature: the library's
//! `PolicyEngine` with a realistic file (every rule kind, per-wallet
//! overrides) against a ledger of many entries, timed as the co-signer runs
//! it before every signature; and the durable record (append and fsync)
//! that follows an allowed check.

use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

use mpc_cosigner::policy::ledger::{millis, Entry};
use mpc_cosigner::policy::{engine::LEDGER_FILE, PolicyEngine};
use mpc_evm::erc20::transfer_calldata;
use mpc_evm::{Address, Fees, SignPayload, TxKind, TxRequest, U256};
use serde::Serialize;

/// Wallets in the ledger and in the file's overrides.
const WALLETS: usize = 100;
/// Ledger entries of the measured wallet, within the last 24 h.
const OWN_ENTRIES: usize = 2_000;
/// Ledger entries of every other wallet.
const OTHER_ENTRIES: usize = 200;
const TOKEN: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const RECIPIENT: &str = "0x3535353535353535353535353535353535353535";
const CHAIN_ID: u64 = 11_155_111;

#[derive(Debug, Clone, Serialize)]
pub struct PolicyCost {
    pub check_p50_us: f64,
    pub check_p95_us: f64,
    /// Check, then append and fsync the ledger entry.
    pub record_p50_us: f64,
    pub record_p95_us: f64,
    pub ledger_entries: usize,
    pub runs: usize,
}

fn policy_file() -> String {
    let mut text = format!(
        r#"max_signatures_per_minute = 1000000
[tx]
chain_ids = [{CHAIN_ID}]
max_value = "10ether"
daily_limit = "100000ether"
allow_contract_creation = false
recipients_allow = ["{RECIPIENT}", "0x1111111111111111111111111111111111111111"]
recipients_deny = ["0x000000000000000000000000000000000000dEaD"]
delegates = ["0x2222222222222222222222222222222222222222"]
[[tx.contracts]]
address = "{TOKEN}"
selectors = ["0xa9059cbb", "0x095ea7b3", "0x23b872dd"]
[[tx.contracts]]
address = "0x3333333333333333333333333333333333333333"
[tokens]
spenders = ["0x000000000022D473030F116dDEE9F6B43aC78BA3"]
allow_unlimited_approval = false
[[tokens.daily_limits]]
token = "{TOKEN}"
limit = "1000000000000000000000000"
[message]
max_length = 1024
[[typed_data.domains]]
name = "Ether Mail"
primary_types = ["Mail"]
"#
    );
    for wallet in 0..WALLETS {
        text.push_str(&format!(
            "[wallets.\"wallet-{wallet}\".tx]\ndaily_limit = \"{}ether\"\n",
            100_000 + wallet
        ));
    }
    text
}

fn wallet_id(number: usize) -> String {
    format!("wallet-{number}")
}

/// Writes the ledger as the co-signer would have: entries spread over the last 23 h.
fn write_ledger(dir: &std::path::Path, token: Address) -> anyhow::Result<usize> {
    let now = millis(SystemTime::now());
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join(LEDGER_FILE))?);
    let mut written = 0;
    for wallet in 0..WALLETS {
        let count = if wallet == 0 {
            OWN_ENTRIES
        } else {
            OTHER_ENTRIES
        };
        for i in 0..count {
            let entry = Entry {
                wallet: wallet_id(wallet),
                at_ms: now - (23 * 3_600_000) * i as u64 / count as u64,
                native: U256::from(10u64.pow(15)),
                tokens: vec![(token, U256::from(250))],
            };
            serde_json::to_writer(&mut out, &entry)?;
            out.write_all(b"\n")?;
            written += 1;
        }
    }
    out.flush()?;
    Ok(written)
}

fn micros(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| {
        let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
        (samples[index].as_secs_f64() * 1e7).round() / 10.0
    };
    (at(0.5), at(0.95))
}

/// Times `runs` checks and `runs` checks-and-records of an ERC-20 transfer.
pub fn measure(runs: usize) -> anyhow::Result<PolicyCost> {
    let dir = tempfile::tempdir()?;
    let token: Address = TOKEN.parse()?;
    let ledger_entries = write_ledger(dir.path(), token)?;
    let file = dir.path().join("policy.toml");
    std::fs::write(&file, policy_file())?;
    let engine = PolicyEngine::open(&file, dir.path(), CHAIN_ID)?;
    let payload = SignPayload::Transaction(TxRequest {
        chain_id: CHAIN_ID,
        nonce: 7,
        to: TxKind::Call(token),
        value: U256::ZERO,
        gas_limit: 60_000,
        fees: Fees::Eip1559 {
            max_fee_per_gas: 30_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
        },
        data: transfer_calldata(RECIPIENT.parse()?, U256::from(250)),
        access_list: None,
        authorization_list: None,
    });
    let wallet = wallet_id(0);
    let time = |work: &dyn Fn() -> anyhow::Result<()>| -> anyhow::Result<Vec<Duration>> {
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                work()?;
                Ok(start.elapsed())
            })
            .collect()
    };
    let checks = time(&|| Ok(engine.evaluate(&wallet, &payload).map(drop)?))?;
    let records = time(&|| Ok(engine.authorize(&wallet, &payload)?))?;
    let (check_p50_us, check_p95_us) = micros(checks);
    let (record_p50_us, record_p95_us) = micros(records);
    Ok(PolicyCost {
        check_p50_us,
        check_p95_us,
        record_p50_us,
        record_p95_us,
        ledger_entries,
        runs,
    })
}
