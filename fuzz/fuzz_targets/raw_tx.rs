//! mpc-evm raw transactions: `decode_raw_tx` on any bytes and on any hex text.
//! A decoded transaction's hash is the keccak of exactly the input bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpc_evm::raw::raw_tx_hash;
use mpc_evm::{decode_raw_tx, parse_raw_tx_hex};

fn check(raw: &[u8]) {
    if let Ok(tx) = decode_raw_tx(raw) {
        assert_eq!(&tx.bytes[..], raw);
        assert_eq!(
            tx.tx_hash,
            raw_tx_hash(raw),
            "hash of other bytes than the input"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Ok(Ok(raw)) = std::str::from_utf8(data).map(parse_raw_tx_hex) {
        check(&raw);
    }
});
