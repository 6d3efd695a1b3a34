//! Sends ether from the MPC wallet with a plain alloy provider: the only
//! wallet-specific line is the signer.
//!
//! ```sh
//! MPC_NATS_URL=nats://client:…@127.0.0.1:4222 MPC_RPC_URL=http://127.0.0.1:8545 \
//! MPC_PASSPHRASE='a long passphrase' \
//!   cargo run -p mpc-client --example send_transaction -- client_share.enc 0xRecipient 1000000000000000
//! ```

use std::sync::Arc;

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use mpc_client::{Account, Connection, MpcSigner, Passphrase};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: send_transaction <share file> <to> <value in wei>";
    let share = args.next().ok_or(usage)?;
    let to: Address = args.next().ok_or(usage)?.parse()?;
    let value: U256 = args.next().ok_or(usage)?.parse()?;
    let rpc_url = std::env::var("MPC_RPC_URL")?;

    let connection = Connection::builder()
        .nats_url(std::env::var("MPC_NATS_URL")?)
        .rpc_url(&rpc_url)
        .chain_id(11155111)
        .connect()
        .await?;
    let passphrase = Passphrase::new(std::env::var("MPC_PASSPHRASE")?)?;
    let wallet = connection
        .open_wallet(share.as_ref(), Some(passphrase))
        .await?;
    let signer = MpcSigner::new(Arc::new(wallet), Account::Master)?;

    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(rpc_url.parse()?);
    let tx = TransactionRequest::default().with_to(to).with_value(value);
    let receipt = provider.send_transaction(tx).await?.get_receipt().await?;

    println!("tx_hash {}", receipt.transaction_hash);
    println!(
        "status  {}",
        if receipt.status() {
            "success"
        } else {
            "reverted"
        }
    );
    println!("block   {}", receipt.block_number.unwrap_or_default());
    Ok(())
}
