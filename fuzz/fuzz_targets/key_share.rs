//! mpc-protocol `KeyShare::from_cbor`, on any bytes and on edits of a real
//! share made by an in-memory keygen. A share that loads re-encodes to
//! something that loads to the same public key.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mpc_fuzz::mutate;
use mpc_protocol::{memory, Dkls23, KeyShare, Party, SessionContext, ThresholdSigner};

static VALID: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
    let (mut a, mut b) = memory::pair();
    let ctx = SessionContext::new(b"fuzz", "fuzz-wallet");
    let (client, _) = runtime.block_on(async {
        tokio::join!(
            Dkls23.keygen(Party::Client, &ctx, &mut a),
            Dkls23.keygen(Party::Cosigner, &ctx, &mut b)
        )
    });
    client.expect("in-memory keygen").to_cbor().to_vec()
});

fn check(bytes: &[u8]) {
    if let Ok(share) = KeyShare::from_cbor(bytes) {
        let again = KeyShare::from_cbor(&share.to_cbor()).expect("re-encoded share loads");
        assert_eq!(again.public_key(), share.public_key());
        assert_eq!(again.party(), share.party());
        let _ = share.address();
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    check(&mutate(&VALID, data));
});
