//! EVM side of the MPC wallet: tx.json, signing digests (transactions,
//! EIP-191, EIP-712), signed raw transactions, signature checks and JSON-RPC. Knows nothing of MPC: it turns requests into
//! 32-byte digests and (digest, signature) back into Ethereum artefacts.

pub mod authorization;
mod encoding;
pub mod erc20;
mod fields;
pub mod message;
mod number;
pub mod raw;
mod replace;
pub mod rpc;
pub mod tx;
pub mod verify;

pub use alloy::consensus::TxType;
pub use alloy::eips::eip2930::{AccessList, AccessListItem};
pub use alloy::eips::eip7702::SignedAuthorization;
pub use alloy::primitives::{Address, Bytes, Selector, Signature, TxKind, B256, U256};
pub use authorization::{signed_authorization_json, AuthorizationRequest};
pub use message::{message_v, personal_message_hash, typed_data_hash, PayloadError, SignPayload};
pub use number::{format_amount, parse_amount};
pub use raw::{decode_raw_tx, parse_raw_tx_hex, RawTx, RawTxError};
pub use replace::replacement_fees;
pub use rpc::{EvmRpc, Receipt, RpcError, SentTx};
pub use tx::{DraftFees, Fees, SignedTx, TxDraft, TxError, TxPolicy, TxRequest, UnsignedTxError};
pub use verify::{recover_signer, verify_signer, VerifyError};
