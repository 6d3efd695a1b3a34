//! What the co-signer decodes from a client: `SignRequest` CBOR (its
//! `SignPayload`: tx.json, unsigned EIP-2718 bytes, message, EIP-712 or an
//! EIP-7702 authorization), then the digest it recomputes;
//! and the other request and answer bodies of mpc-api.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpc_api::{decode, Accepted, Confirm, KeygenRequest, RefreshRequest, SignRequest};
use mpc_evm::TxPolicy;

fuzz_target!(|data: &[u8]| {
    let _ = decode::<KeygenRequest>("keygen request", data);
    let _ = decode::<RefreshRequest>("refresh request", data);
    // What the client decodes from the co-signer.
    let _ = decode::<Accepted>("accepted", data);
    let _ = decode::<Confirm>("confirmation", data);
    let Ok(request) = decode::<SignRequest>("sign request", data) else {
        return;
    };
    // Both transaction forms (tx.json and unsigned EIP-2718 bytes), and
    // authorizations, through the co-signer's own validation.
    let chain_id = request.payload.transaction().map_or(1, |tx| tx.chain_id);
    let _ = request.payload.validate(&TxPolicy::new(chain_id));
    let _ = request.payload.digest();
    let _ = (request.payload.v(false), request.payload.v(true));
});
