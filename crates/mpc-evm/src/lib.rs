//! EVM side of the MPC wallet: tx.json, signing digests (transactions,
//! EIP-191, EIP-712), signed raw transactions, signature checks, JSON-RPC and
//! the broadcast queue contract. Knows nothing of MPC: it turns requests into
//! 32-byte digests and (digest, signature) back into Ethereum artefacts.

pub mod broadcast;
pub mod erc20;
pub mod message;
mod number;
pub mod raw;
pub mod rpc;
pub mod tx;
pub mod verify;

pub use alloy::primitives::{Address, Bytes, Signature, B256, U256};
pub use message::{message_v, personal_message_hash, typed_data_hash, PayloadError, SignPayload};
pub use raw::{decode_raw_tx, parse_raw_tx_hex, RawTx, RawTxError};
pub use rpc::{EvmRpc, Receipt, RpcError};
pub use tx::{DraftFees, Fees, SignedTx, TxDraft, TxError, TxPolicy, TxRequest};
pub use verify::{recover_signer, verify_signer, VerifyError};
