//! The EVM JSON-RPC client: chain id check, filling a draft, sending, receipts.

use std::time::Duration;

use alloy::consensus::TxType;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::client::RpcClient;
use alloy::rpc::types::TransactionRequest;
use alloy::transports::http::{reqwest, Http};
use alloy::transports::{RpcError as TransportRpcError, TransportErrorKind};

use crate::raw::raw_tx_hash;
use crate::tx::{DraftFees, Fees, TxDraft, TxError, TxPolicy, TxRequest};

/// How long one JSON-RPC call may take before the node counts as unreachable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("invalid RPC URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error(
        "cannot reach the EVM node at {url}: {reason} (is MPC_RPC_URL right and the node up?)"
    )]
    Unreachable { url: String, reason: String },
    #[error(
        "the node at {url} is on chain {found}, but chain {expected} is expected (MPC_CHAIN_ID)"
    )]
    WrongChain {
        url: String,
        expected: u64,
        found: u64,
    },
    #[error("nonce too low: {0} (that nonce is already used; prepare the transaction again)")]
    NonceTooLow(String),
    /// Its fee cap is below the base fee, or below a pending transaction's
    /// with the same nonce: it may be accepted later.
    #[error("the node refused the transaction's fees for now: {0}")]
    Underpriced(String),
    #[error("the node rejected the raw transaction as malformed: {0}")]
    MalformedTx(String),
    #[error("the node rejected the transaction's chain id: {0}")]
    TxWrongChain(String),
    #[error("the node rejected the transaction: {0}")]
    Rejected(String),
    #[error(transparent)]
    InvalidTx(#[from] TxError),
}

impl RpcError {
    /// Worth retrying later (the node was unreachable or failed); every other
    /// error would fail the same way again.
    pub fn is_transient(&self) -> bool {
        matches!(self, RpcError::Unreachable { .. })
    }
}

/// A transaction receipt, reduced to what the wallet reports and checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub tx_hash: B256,
    /// `true` when execution succeeded (status 1).
    pub success: bool,
    pub block_number: u64,
    pub block_hash: B256,
    pub from: Address,
    pub gas_used: u64,
    /// The deployed contract, for a contract creation.
    pub contract_address: Option<Address>,
}

/// A transaction the node knows, pending or mined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentTx {
    /// The transaction as it was signed.
    pub request: TxRequest,
    pub from: Address,
    /// The block it was mined in; `None` while pending.
    pub block_number: Option<u64>,
}

/// A JSON-RPC endpoint known to be on the expected chain.
#[derive(Debug, Clone)]
pub struct EvmRpc {
    provider: RootProvider,
    url: String,
    chain_id: u64,
}

impl EvmRpc {
    /// Connects over HTTP and checks `eth_chainId` against `expected_chain_id`.
    pub async fn connect(url: &str, expected_chain_id: u64) -> Result<Self, RpcError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| RpcError::BadUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        let http_client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| RpcError::BadUrl {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
        let client = RpcClient::new(Http::with_client(http_client, parsed), false);
        let rpc = EvmRpc {
            provider: RootProvider::new(client),
            url: url.to_owned(),
            chain_id: expected_chain_id,
        };
        let found = rpc
            .provider
            .get_chain_id()
            .await
            .map_err(|e| rpc.classify(e))?;
        if found != expected_chain_id {
            return Err(RpcError::WrongChain {
                url: url.to_owned(),
                expected: expected_chain_id,
                found,
            });
        }
        Ok(rpc)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Fills what the draft leaves open (chain id, nonce, fees, gas) from the
    /// node, for a transaction sent by `from`, then validates the result.
    /// Fees stay legacy when the draft gives `gas_price` or asks for type 0
    /// or 1 (then `eth_gasPrice` fills it), and are EIP-1559 otherwise. The
    /// gas estimate sees the access and authorization lists, and deploys
    /// `data` when there is no `to`.
    pub async fn prepare(
        &self,
        draft: TxDraft,
        from: Address,
        policy: &TxPolicy,
    ) -> Result<TxRequest, RpcError> {
        let mut draft = draft;
        let legacy = matches!(
            draft.resolved_type()?,
            Some(TxType::Legacy | TxType::Eip2930)
        );
        draft.chain_id.get_or_insert(self.chain_id);
        if draft.nonce.is_none() {
            draft.nonce = Some(self.nonce(from).await?);
        }
        draft.fees = self.fill_fees(draft.fees, legacy).await?;
        if draft.gas_limit.is_none() {
            draft.gas_limit = Some(self.estimate_gas(&draft, from).await?);
        }
        Ok(draft.complete(policy)?)
    }

    async fn estimate_gas(&self, draft: &TxDraft, from: Address) -> Result<u64, RpcError> {
        let mut call = TransactionRequest::default()
            .with_from(from)
            .with_kind(draft.to)
            .with_value(draft.value)
            .with_input(draft.data.clone());
        // A legacy price lets the node check the sender can pay for the gas;
        // EIP-1559 estimates stay out of it, as they are only estimates.
        if let DraftFees::Legacy { gas_price } = draft.fees {
            call.set_gas_price(gas_price);
        }
        if let Some(list) = &draft.access_list {
            call.set_access_list(list.clone());
        }
        // Each authorization costs gas and the delegated code may run.
        call.authorization_list
            .clone_from(&draft.authorization_list);
        self.provider
            .estimate_gas(call)
            .await
            .map_err(|e| self.classify(e))
    }

    async fn fill_fees(&self, fees: DraftFees, legacy: bool) -> Result<DraftFees, RpcError> {
        let (max_fee, priority) = match fees {
            DraftFees::Legacy { .. }
            | DraftFees::Eip1559 {
                max_fee_per_gas: Some(_),
                max_priority_fee_per_gas: Some(_),
            } => return Ok(fees),
            DraftFees::Unset if legacy => {
                let gas_price = self
                    .provider
                    .get_gas_price()
                    .await
                    .map_err(|e| self.classify(e))?;
                return Ok(DraftFees::Legacy { gas_price });
            }
            DraftFees::Eip1559 {
                max_fee_per_gas,
                max_priority_fee_per_gas,
            } => (max_fee_per_gas, max_priority_fee_per_gas),
            DraftFees::Unset => (None, None),
        };
        let estimate = self
            .provider
            .estimate_eip1559_fees()
            .await
            .map_err(|e| self.classify(e))?;
        // The estimate is base-fee headroom plus a tip; keep the user's tip if given.
        let headroom = estimate
            .max_fee_per_gas
            .saturating_sub(estimate.max_priority_fee_per_gas);
        let priority = priority.unwrap_or(match max_fee {
            Some(cap) => estimate.max_priority_fee_per_gas.min(cap),
            None => estimate.max_priority_fee_per_gas,
        });
        Ok(DraftFees::Eip1559 {
            max_fee_per_gas: Some(max_fee.unwrap_or(headroom + priority)),
            max_priority_fee_per_gas: Some(priority),
        })
    }

    /// The next nonce for `address`, counting pending transactions.
    pub async fn nonce(&self, address: Address) -> Result<u64, RpcError> {
        self.provider
            .get_transaction_count(address)
            .pending()
            .await
            .map_err(|e| self.classify(e))
    }

    /// The latest block's base fee; `None` on a chain without EIP-1559.
    pub async fn base_fee(&self) -> Result<Option<u128>, RpcError> {
        let block = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(|e| self.classify(e))?;
        Ok(block.and_then(|b| b.header.base_fee_per_gas.map(u128::from)))
    }

    pub async fn balance(&self, address: Address) -> Result<U256, RpcError> {
        self.provider
            .get_balance(address)
            .await
            .map_err(|e| self.classify(e))
    }

    pub async fn block_number(&self) -> Result<u64, RpcError> {
        self.provider
            .get_block_number()
            .await
            .map_err(|e| self.classify(e))
    }

    /// `eth_call` against the latest block (e.g. an ERC-20 `balanceOf`).
    pub async fn call(&self, to: Address, data: Bytes) -> Result<Bytes, RpcError> {
        let call = TransactionRequest::default().with_to(to).with_input(data);
        self.provider.call(call).await.map_err(|e| self.classify(e))
    }

    /// The code at `address` in the latest block: a contract's runtime code,
    /// or an EIP-7702 delegation designator (`0xef0100 ‖ delegate`).
    pub async fn code(&self, address: Address) -> Result<Bytes, RpcError> {
        self.provider
            .get_code_at(address)
            .await
            .map_err(|e| self.classify(e))
    }

    /// Sends a signed raw transaction and returns its hash. A node that already
    /// has it ("already known") counts as success: sending twice is harmless.
    pub async fn send_raw(&self, raw: &[u8]) -> Result<B256, RpcError> {
        match self.provider.send_raw_transaction(raw).await {
            Ok(pending) => Ok(*pending.tx_hash()),
            Err(TransportRpcError::ErrorResp(payload)) if is_already_known(&payload.message) => {
                Ok(raw_tx_hash(raw))
            }
            Err(e) => Err(self.classify(e)),
        }
    }

    /// The receipt, or `None` while the transaction is not (or no longer) mined.
    pub async fn receipt(&self, tx_hash: B256) -> Result<Option<Receipt>, RpcError> {
        let receipt = self
            .provider
            .get_transaction_receipt(tx_hash)
            .await
            .map_err(|e| self.classify(e))?;
        Ok(receipt.and_then(|r| {
            Some(Receipt {
                tx_hash: r.transaction_hash,
                success: r.status(),
                block_number: r.block_number?,
                block_hash: r.block_hash?,
                from: r.from,
                gas_used: r.gas_used,
                contract_address: r.contract_address,
            })
        }))
    }

    /// The transaction with this hash, or `None` when the node knows none.
    pub async fn transaction(&self, tx_hash: B256) -> Result<Option<SentTx>, RpcError> {
        let Some(tx) = self
            .provider
            .get_transaction_by_hash(tx_hash)
            .await
            .map_err(|e| self.classify(e))?
        else {
            return Ok(None);
        };
        let from = tx.inner.signer();
        let typed = tx.inner.into_inner().into_typed_transaction();
        Ok(Some(SentTx {
            request: TxRequest::from_signable(&typed)?,
            from,
            block_number: tx.block_number,
        }))
    }

    /// The fees the node suggests now: a gas price when `legacy`, else an
    /// EIP-1559 fee cap and tip.
    pub async fn current_fees(&self, legacy: bool) -> Result<Fees, RpcError> {
        let filled = self.fill_fees(DraftFees::Unset, legacy).await?;
        Ok(match filled {
            DraftFees::Legacy { gas_price } => Fees::Legacy { gas_price },
            DraftFees::Eip1559 {
                max_fee_per_gas,
                max_priority_fee_per_gas,
            } => Fees::Eip1559 {
                max_fee_per_gas: max_fee_per_gas.unwrap_or_default(),
                max_priority_fee_per_gas: max_priority_fee_per_gas.unwrap_or_default(),
            },
            DraftFees::Unset => unreachable!("fill_fees always fills"),
        })
    }

    fn classify(&self, error: TransportRpcError<TransportErrorKind>) -> RpcError {
        match error {
            TransportRpcError::ErrorResp(payload) => {
                classify_rejection(payload.message.to_string())
            }
            other => RpcError::Unreachable {
                url: self.url.clone(),
                reason: other.to_string(),
            },
        }
    }
}

fn is_already_known(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "already known",
        "known transaction",
        "already imported",
        "alreadyknown",
    ]
    .iter()
    .any(|m| message.contains(m))
}

/// Maps a node's error message (geth, anvil, reth wording) to a typed error.
fn classify_rejection(message: String) -> RpcError {
    let lower = message.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    if has(&["nonce too low", "nonce is too low", "oldnonce"]) {
        RpcError::NonceTooLow(message)
    } else if has(&[
        "underpriced",
        "fee cap less than block base fee",
        "max fee per gas less than block base fee",
        "feecaptoolow",
    ]) {
        RpcError::Underpriced(message)
    } else if has(&["chain id", "chainid", "chain_id"]) {
        RpcError::TxWrongChain(message)
    } else if has(&[
        "rlp",
        "decode",
        "invalid transaction",
        "too short",
        "invalid signature",
        "unexpected length",
    ]) {
        RpcError::MalformedTx(message)
    } else {
        RpcError::Rejected(message)
    }
}
