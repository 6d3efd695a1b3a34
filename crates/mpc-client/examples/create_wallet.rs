//! Creates a wallet with the co-signer and prints its address.
//!
//! ```sh
//! MPC_NATS_URL=nats://client:…@127.0.0.1:4222 MPC_PASSPHRASE='a long passphrase' \
//!   cargo run -p mpc-client --example create_wallet -- client_share.enc
//! ```

use mpc_client::{Account, Connection, KeySource, Overwrite, Passphrase};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .ok_or("usage: create_wallet <share file>")?;
    let passphrase = Passphrase::new(std::env::var("MPC_PASSPHRASE")?)?;

    let connection = Connection::builder()
        .nats_url(std::env::var("MPC_NATS_URL")?)
        .connect()
        .await?;
    let (wallet, created) = connection
        .keygen(
            out.as_ref(),
            KeySource::Passphrase(passphrase),
            Overwrite::Refuse,
        )
        .await?;

    println!("address   {}", created.address);
    println!("wallet id {}", created.wallet_id);
    println!("child 0   {}", wallet.address(Account::Child(0))?);
    Ok(())
}
