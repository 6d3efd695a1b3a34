//! Noise_KK_25519_ChaChaPoly_SHA256 via `snow`: handshake set-up and the
//! framing of round plaintexts into transport messages.

use serde_bytes::ByteBuf;
use snow::{Builder, HandshakeState, StatelessTransportState};
use zeroize::Zeroizing;

use crate::subjects::{Op, SessionId};
use crate::wire::WIRE_VERSION;
use crate::{Identity, SessionError};

const PATTERN: &str = "Noise_KK_25519_ChaChaPoly_SHA256";
/// Noise's limit on one message.
const MAX_NOISE_MESSAGE: usize = 65535;
const TAG_LEN: usize = 16;
const EPHEMERAL_LEN: usize = 32;
/// Largest request or response body: one handshake message minus the
/// ephemeral key, the payload's tag and room for the CBOR reply wrapper.
pub(crate) const MAX_HANDSHAKE_BODY: usize = MAX_NOISE_MESSAGE - EPHEMERAL_LEN - TAG_LEN - 64;
const MAX_FRAME_PLAINTEXT: usize = MAX_NOISE_MESSAGE - TAG_LEN;
/// The low bits of a transport nonce number the frames of one message.
const FRAME_BITS: u32 = 16;

/// Binds the handshake to the wire version, the session and the operation:
/// a handshake message replayed into another session or op fails.
fn prologue(session: &SessionId, op: &Op) -> Vec<u8> {
    format!("mpc-wallet/{WIRE_VERSION}/{op}/{session}").into_bytes()
}

fn builder<'a>(
    identity: &'a Identity,
    remote: &'a [u8; 32],
    prologue: &'a [u8],
) -> Result<Builder<'a>, SessionError> {
    let params = PATTERN.parse().map_err(SessionError::noise)?;
    Builder::new(params)
        .local_private_key(identity.private_key())
        .and_then(|b| b.remote_public_key(remote))
        .and_then(|b| b.prologue(prologue))
        .map_err(SessionError::noise)
}

pub(crate) fn initiator(
    identity: &Identity,
    responder: &[u8; 32],
    session: &SessionId,
    op: &Op,
) -> Result<HandshakeState, SessionError> {
    let prologue = prologue(session, op);
    builder(identity, responder, &prologue)?
        .build_initiator()
        .map_err(SessionError::noise)
}

pub(crate) fn responder(
    identity: &Identity,
    initiator: &[u8; 32],
    session: &SessionId,
    op: &Op,
) -> Result<HandshakeState, SessionError> {
    let prologue = prologue(session, op);
    builder(identity, initiator, &prologue)?
        .build_responder()
        .map_err(SessionError::noise)
}

/// Writes the next handshake message carrying `payload`.
pub(crate) fn write_handshake(
    state: &mut HandshakeState,
    payload: &[u8],
) -> Result<Vec<u8>, SessionError> {
    let mut message = vec![0u8; MAX_NOISE_MESSAGE];
    let len = state
        .write_message(payload, &mut message)
        .map_err(SessionError::noise)?;
    message.truncate(len);
    Ok(message)
}

/// Reads a handshake message; `None` when it fails authentication.
pub(crate) fn read_handshake(
    state: &mut HandshakeState,
    message: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let mut payload = Zeroizing::new(vec![0u8; MAX_NOISE_MESSAGE]);
    let len = state.read_message(message, &mut payload).ok()?;
    payload.truncate(len);
    Some(payload)
}

fn frame_nonce(seq: u64, frame: usize) -> Option<u64> {
    let frame = u64::try_from(frame).ok().filter(|f| *f < 1 << FRAME_BITS)?;
    seq.checked_shl(FRAME_BITS)
        .filter(|n| n >> FRAME_BITS == seq)
        .map(|n| n | frame)
}

/// Encrypts a plaintext of any size as Noise transport frames. Each frame's
/// nonce is `seq << 16 | frame index`: unique per sender as long as `seq` is,
/// and a reordered or dropped frame fails authentication or decoding.
pub(crate) fn seal(
    transport: &StatelessTransportState,
    seq: u64,
    plaintext: &[u8],
) -> Result<Vec<ByteBuf>, SessionError> {
    plaintext
        .chunks(MAX_FRAME_PLAINTEXT)
        .enumerate()
        .map(|(index, chunk)| {
            let nonce = frame_nonce(seq, index).ok_or_else(|| {
                SessionError::Noise(format!("message {seq} is too large or too late to number"))
            })?;
            let mut frame = vec![0u8; chunk.len() + TAG_LEN];
            let len = transport
                .write_message(nonce, chunk, &mut frame)
                .map_err(SessionError::noise)?;
            frame.truncate(len);
            Ok(ByteBuf::from(frame))
        })
        .collect()
}

/// Decrypts frames written by [`seal`]; `None` when any fails authentication.
pub(crate) fn open(
    transport: &StatelessTransportState,
    seq: u64,
    frames: &[ByteBuf],
) -> Option<Zeroizing<Vec<u8>>> {
    let total = frames.iter().map(|f| f.len()).sum();
    let mut plaintext = Zeroizing::new(Vec::with_capacity(total));
    let mut frame_plain = Zeroizing::new(vec![0u8; MAX_NOISE_MESSAGE]);
    for (index, frame) in frames.iter().enumerate() {
        let nonce = frame_nonce(seq, index)?;
        let len = transport
            .read_message(nonce, frame, &mut frame_plain)
            .ok()?;
        plaintext.extend_from_slice(&frame_plain[..len]);
    }
    Some(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (StatelessTransportState, StatelessTransportState) {
        let (a, b) = (Identity::generate().unwrap(), Identity::generate().unwrap());
        let sid = SessionId::random();
        let mut init = initiator(&a, &b.public_key(), &sid, &Op::Sign).unwrap();
        let mut resp = responder(&b, &a.public_key(), &sid, &Op::Sign).unwrap();
        let m1 = write_handshake(&mut init, b"request").unwrap();
        assert_eq!(&read_handshake(&mut resp, &m1).unwrap()[..], b"request");
        let m2 = write_handshake(&mut resp, b"response").unwrap();
        assert_eq!(&read_handshake(&mut init, &m2).unwrap()[..], b"response");
        (
            init.into_stateless_transport_mode().unwrap(),
            resp.into_stateless_transport_mode().unwrap(),
        )
    }

    #[test]
    fn large_plaintexts_span_frames_and_survive_the_trip() {
        let (client, cosigner) = pair();
        let plaintext: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let frames = seal(&client, 7, &plaintext).unwrap();
        assert_eq!(frames.len(), 4);
        assert_eq!(&open(&cosigner, 7, &frames).unwrap()[..], &plaintext[..]);
    }

    #[test]
    fn wrong_seq_reordered_or_flipped_frames_fail() {
        let (client, cosigner) = pair();
        let plaintext = vec![1u8; 100_000];
        let frames = seal(&client, 3, &plaintext).unwrap();
        assert!(open(&cosigner, 4, &frames).is_none());
        let swapped = vec![frames[1].clone(), frames[0].clone()];
        assert!(open(&cosigner, 3, &swapped).is_none());
        let mut flipped = frames.clone();
        flipped[0][10] ^= 1;
        assert!(open(&cosigner, 3, &flipped).is_none());
        // Our own direction's key does not open what we sent.
        assert!(open(&client, 3, &frames).is_none());
    }

    #[test]
    fn handshake_from_an_unpinned_key_fails() {
        let (a, b, mallory) = (
            Identity::generate().unwrap(),
            Identity::generate().unwrap(),
            Identity::generate().unwrap(),
        );
        let sid = SessionId::random();
        let mut forged = initiator(&mallory, &b.public_key(), &sid, &Op::Sign).unwrap();
        let mut resp = responder(&b, &a.public_key(), &sid, &Op::Sign).unwrap();
        let m1 = write_handshake(&mut forged, b"request").unwrap();
        assert!(read_handshake(&mut resp, &m1).is_none());

        let other_sid = SessionId::random();
        let mut honest = initiator(&a, &b.public_key(), &sid, &Op::Sign).unwrap();
        let mut resp = responder(&b, &a.public_key(), &other_sid, &Op::Sign).unwrap();
        let m1 = write_handshake(&mut honest, b"request").unwrap();
        assert!(
            read_handshake(&mut resp, &m1).is_none(),
            "prologue binds the session"
        );
    }

    #[test]
    fn nonces_never_collide_across_messages() {
        assert_eq!(frame_nonce(1, 0), Some(1 << 16));
        assert_eq!(frame_nonce(0, 65535), Some(65535));
        assert_eq!(frame_nonce(0, 65536), None);
        assert_eq!(frame_nonce(u64::MAX, 0), None);
    }
}
