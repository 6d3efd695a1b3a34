//! mpc-evm EIP-712: `typed_data_hash` on any JSON document.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = mpc_evm::typed_data_hash(&value);
    }
});
