//! mpc-session wire: every clear-text CBOR envelope decoder, and the round
//! receive path (decode, decrypt, sealed-body decode, route check) both for
//! unauthenticated bytes and for arbitrary plaintext sealed by the pinned peer.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mpc_session::fuzzing::{decode_envelopes, SessionPair};

static PAIR: LazyLock<SessionPair> =
    LazyLock::new(|| SessionPair::new().expect("an in-memory Noise handshake succeeds"));

fuzz_target!(|data: &[u8]| {
    decode_envelopes(data);
    assert!(
        PAIR.receive(data).is_err(),
        "bytes not sealed by the peer were accepted as a round message"
    );
    let _ = PAIR.receive(&PAIR.envelope_sealing(7, data));
    assert_eq!(
        PAIR.receive(&PAIR.honest_envelope(8, data))
            .expect("honest envelope"),
        data,
        "an honest round message did not survive the trip"
    );
});
