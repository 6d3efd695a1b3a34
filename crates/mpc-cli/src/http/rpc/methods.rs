//! The methods the wallet answers itself. Signing goes through the client
//! library exactly as `mpc sign` does: the co-signer sees the whole
//! transaction, message or typed data, and every signature is checked to
//! recover to the account before it is returned.

use std::sync::Arc;

use mpc_client::{Account, Wallet};
use mpc_evm::Address;
use serde_json::{json, Value};

use super::error::{RpcCode, RpcError};
use super::params;
use crate::http::Server;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Accounts,
    ChainId,
    SendTransaction,
    SignTransaction,
    PersonalSign,
    SignTypedData,
    /// `eth_sign`: refused, it signs a bare hash.
    SignHash,
}

impl Method {
    /// The method the wallet answers, or `None` for one the node answers.
    pub fn parse(name: &str) -> Option<Method> {
        Some(match name {
            "eth_accounts" | "eth_requestAccounts" => Method::Accounts,
            "eth_chainId" => Method::ChainId,
            "eth_sendTransaction" => Method::SendTransaction,
            "eth_signTransaction" => Method::SignTransaction,
            "personal_sign" => Method::PersonalSign,
            "eth_signTypedData_v4" | "eth_signTypedData" => Method::SignTypedData,
            "eth_sign" => Method::SignHash,
            _ => return None,
        })
    }
}

fn hex_bytes(bytes: &[u8]) -> Value {
    Value::String(format!("0x{}", hex::encode(bytes)))
}

impl Server {
    pub(super) async fn answer(
        &self,
        method: Method,
        params: Option<&Value>,
    ) -> Result<Value, RpcError> {
        let params = params::positional(params)?;
        match method {
            Method::Accounts => {
                let served = self.served().await?;
                Ok(json!(served
                    .addresses()
                    .map(|address| address.to_checksum(None))
                    .collect::<Vec<_>>()))
            }
            Method::ChainId => Ok(json!(format!("0x{:x}", self.settings.chain_id))),
            Method::SendTransaction => self.send_transaction(params).await,
            Method::SignTransaction => {
                let (from, draft) = params::transaction(params)?;
                let served = self.served().await?;
                let account = served.account(from)?;
                let tx = served.wallet.prepare_transaction(draft, account).await?;
                let signed = served.wallet.sign_transaction(&tx, account).await?;
                Ok(hex_bytes(&raw_tx(&signed)?.raw_tx))
            }
            Method::PersonalSign => {
                let served = self.served().await?;
                let addresses: Vec<Address> = served.addresses().collect();
                let (from, message) = params::personal_sign(params, &addresses)?;
                let account = served.account(from)?;
                let signed = served.wallet.sign_message(&message, account).await?;
                Ok(hex_bytes(&signed.to_bytes()))
            }
            Method::SignTypedData => {
                let (from, document) = params::typed_data(params)?;
                let served = self.served().await?;
                let account = served.account(from)?;
                let payload = mpc_client::typed_data_payload(document)?;
                let signed = served.wallet.sign(payload, account).await?;
                Ok(hex_bytes(&signed.to_bytes()))
            }
            Method::SignHash => Err(RpcError::new(
                RpcCode::Unsupported,
                "eth_sign_refused",
                "eth_sign signs a bare 32-byte hash, and the co-signer signs only what it can \
                 read in full: use personal_sign for a message or eth_signTypedData_v4 for \
                 structured data",
            )),
        }
    }

    /// The wallet of the server's share and the accounts it serves.
    async fn served(&self) -> Result<Served, RpcError> {
        let wallet = self.wallet(&self.share_to_read(None)?).await?;
        let accounts = self
            .rpc
            .accounts
            .iter()
            .map(|&account| Ok((wallet.address(account)?, account)))
            .collect::<Result<Vec<_>, mpc_client::Error>>()?;
        Ok(Served { wallet, accounts })
    }

    /// Signs and queues for the broadcaster; answers with the hash at once,
    /// as nodes do. Sends from one account take turns, so concurrent ones
    /// get consecutive nonces.
    async fn send_transaction(&self, params: &[Value]) -> Result<Value, RpcError> {
        let (from, mut draft) = params::transaction(params)?;
        let served = self.served().await?;
        let account = served.account(from)?;
        let mut next = self.rpc.nonces.turn(from).await;
        if draft.nonce.is_none() {
            draft.nonce = Some(self.next_nonce(from, &mut next).await?);
        }
        let tx = served.wallet.prepare_transaction(draft, account).await?;
        let signed = served.wallet.sign_transaction(&tx, account).await?;
        let broadcast = self
            .connection
            .broadcast(&raw_tx(&signed)?.raw_tx, None)
            .await?;
        next.queued(tx.nonce);
        Ok(json!(broadcast.tx_hash))
    }

    async fn next_nonce(
        &self,
        from: Address,
        next: &mut super::nonces::Next,
    ) -> Result<u64, RpcError> {
        let queued_before = next.ahead()
            && self
                .connection
                .queued()
                .await?
                .iter()
                .any(|waiting| waiting.tx.from == from);
        let rpc = self.connection.rpc("choosing a nonce").await?;
        let pending = rpc.nonce(from).await.map_err(mpc_client::Error::from)?;
        Ok(next.choose(pending, queued_before))
    }
}

/// The wallet of the server's share and the accounts it serves, by address.
struct Served {
    wallet: Arc<Wallet>,
    accounts: Vec<(Address, Account)>,
}

impl Served {
    /// The served addresses, the master key's first.
    fn addresses(&self) -> impl Iterator<Item = Address> + '_ {
        self.accounts.iter().map(|(address, _)| *address)
    }

    /// The served account whose address is `from` (4100 if none is).
    fn account(&self, from: Address) -> Result<Account, RpcError> {
        match self.accounts.iter().find(|(address, _)| *address == from) {
            Some(&(_, account)) => Ok(account),
            None => Err(RpcError::new(
                RpcCode::UnknownAccount,
                "unknown_account",
                format!(
                    "{} is not an account served here: eth_accounts lists them \
                     (mpc serve --accounts N serves m/0/N)",
                    from.to_checksum(None)
                ),
            )),
        }
    }
}

fn raw_tx(signed: &mpc_client::Signed) -> Result<&mpc_evm::SignedTx, RpcError> {
    signed.transaction.as_ref().ok_or_else(|| {
        RpcError::new(
            RpcCode::Internal,
            "internal",
            "the signed transaction came back without its raw bytes",
        )
    })
}
