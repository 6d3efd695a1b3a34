//! [`MpcSigner`]: the wallet as an alloy signer, so that
//! `EthereumWallet::from(signer)` and `ProviderBuilder::new().wallet(...)`
//! sign through the co-signer with no other change to a service's code.
//!
//! Like alloy's hardware and remote signers (Ledger, Trezor), it never signs a
//! bare digest: [`Signer::sign_hash`] is an unsupported operation, and every
//! other method sends the co-signer the full payload (the unsigned
//! transaction, the message, the whole typed data) so it can check what it signs.

use std::sync::Arc;

use alloy::consensus::SignableTransaction;
use alloy::dyn_abi::TypedData;
use alloy::primitives::{Address, ChainId, Signature, B256};
use alloy::signers::{self, sign_transaction_with_chain_id, Signer, UnsupportedSignerOperation};
use alloy::sol_types::{Eip712Domain, SolStruct};
use async_trait::async_trait;
use mpc_evm::{AuthorizationRequest, SignPayload, TxRequest};

use crate::error::{Error, Result};
use crate::typed::typed_data_of;
use crate::wallet::{Account, Wallet};

/// One account of a [`Wallet`] as an alloy [`Signer`] and
/// [`TxSigner`](alloy::network::TxSigner). Child accounts are separate signers.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use alloy::network::EthereumWallet;
/// use alloy::providers::{Provider, ProviderBuilder, WalletProvider};
/// use mpc_client::{Account, Connection, MpcSigner};
///
/// let connection = Connection::builder()
///     .nats_url("nats://client:secret@127.0.0.1:4222")
///     .connect()
///     .await?;
/// let wallet = Arc::new(connection.open_wallet("client_share.enc".as_ref(), None).await?);
/// let signer = MpcSigner::new(wallet, Account::Master)?;
/// let provider = ProviderBuilder::new()
///     .wallet(EthereumWallet::from(signer))
///     .connect_http("http://127.0.0.1:8545".parse()?);
/// println!("balance {}", provider.get_balance(provider.default_signer_address()).await?);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct MpcSigner {
    wallet: Arc<Wallet>,
    account: Account,
    address: Address,
    chain_id: Option<ChainId>,
}

impl MpcSigner {
    /// The signer for `account` of `wallet`. Its address is derived locally;
    /// its chain id is the connection's.
    pub fn new(wallet: Arc<Wallet>, account: Account) -> Result<MpcSigner> {
        let address = wallet.address(account)?;
        let chain_id = Some(wallet.connection().chain_id());
        Ok(MpcSigner {
            wallet,
            account,
            address,
            chain_id,
        })
    }

    /// The account this signer signs for.
    pub fn account(&self) -> Account {
        self.account
    }

    /// Signs an EIP-7702 authorization (the co-signer sees chain id, delegate
    /// and nonce; alloy has no signer trait for it).
    pub async fn sign_authorization(
        &self,
        authorization: alloy::eips::eip7702::Authorization,
    ) -> Result<alloy::eips::eip7702::SignedAuthorization> {
        let request = AuthorizationRequest {
            chain_id: u64::try_from(authorization.chain_id).map_err(|_| {
                Error::Tx(mpc_evm::TxError::AuthorizationField {
                    field: "chain_id".to_owned(),
                    reason: format!("{} does not fit in 64 bits", authorization.chain_id),
                })
            })?,
            address: authorization.address,
            nonce: authorization.nonce,
        };
        let signed = self
            .wallet
            .sign_authorization(request, self.account)
            .await?;
        signed.authorization.ok_or_else(|| {
            Error::Internal("an authorization signature without its authorization".to_owned())
        })
    }

    async fn sign_payload(&self, payload: SignPayload) -> signers::Result<Signature> {
        self.wallet
            .sign(payload, self.account)
            .await
            .map(|signed| signed.signature)
            .map_err(signers::Error::other)
    }
}

#[async_trait]
impl alloy::network::TxSigner<Signature> for MpcSigner {
    fn address(&self) -> Address {
        self.address
    }

    async fn sign_transaction(
        &self,
        tx: &mut dyn SignableTransaction<Signature>,
    ) -> signers::Result<Signature> {
        sign_transaction_with_chain_id!(
            self,
            tx,
            async {
                // The co-signer decodes the unsigned transaction itself and
                // computes the digest from the decoded fields.
                let request = TxRequest::from_signable(tx).map_err(signers::Error::other)?;
                self.sign_payload(SignPayload::UnsignedTransaction(request))
                    .await
            }
            .await
        )
    }
}

#[async_trait]
impl Signer for MpcSigner {
    async fn sign_hash(&self, _hash: &B256) -> signers::Result<Signature> {
        Err(signers::Error::UnsupportedOperation(
            UnsupportedSignerOperation::SignHash,
        ))
    }

    async fn sign_message(&self, message: &[u8]) -> signers::Result<Signature> {
        self.sign_payload(SignPayload::PersonalMessage(message.to_vec().into()))
            .await
    }

    async fn sign_typed_data<T: SolStruct + Send + Sync>(
        &self,
        payload: &T,
        domain: &Eip712Domain,
    ) -> signers::Result<Signature> {
        let typed = typed_data_of(payload, domain).map_err(signers::Error::other)?;
        self.sign_dynamic_typed_data(&typed).await
    }

    async fn sign_dynamic_typed_data(&self, payload: &TypedData) -> signers::Result<Signature> {
        let document = serde_json::to_value(payload).map_err(signers::Error::other)?;
        self.sign_payload(SignPayload::TypedData(document)).await
    }

    fn address(&self) -> Address {
        self.address
    }

    fn chain_id(&self) -> Option<ChainId> {
        self.chain_id
    }

    fn set_chain_id(&mut self, chain_id: Option<ChainId>) {
        self.chain_id = chain_id;
    }
}

alloy::network::impl_into_wallet!(MpcSigner);
