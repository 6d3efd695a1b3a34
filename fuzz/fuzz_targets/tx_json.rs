//! mpc-evm tx.json: `TxDraft::from_json` / `TxRequest::from_json` on any text;
//! a complete request hashes, yields `v`, and its canonical JSON parses back
//! to the same request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpc_evm::{TxDraft, TxPolicy, TxRequest};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(draft) = TxDraft::from_json(text) else {
        return;
    };
    // The most permissive policy a co-signer could be configured with.
    let policy = TxPolicy {
        chain_id: draft.chain_id.unwrap_or(1),
        max_fee_per_gas: u128::MAX,
    };
    let Ok(request) = draft.complete(&policy) else {
        return;
    };
    let _ = request.signing_hash();
    let _ = (request.v(false), request.v(true));
    let canonical = request.to_json().to_string();
    let again = TxRequest::from_json(&canonical, &policy).expect("canonical tx.json parses");
    assert_eq!(again, request, "canonical tx.json changed the request");
});
