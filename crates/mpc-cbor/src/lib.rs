//! # mpc-cbor: the one CBOR rule of the wallet's crates
//!
//! Protocol messages, wire envelopes, key shares and share-file headers are
//! CBOR (ciborium over serde). A buffer holds exactly one value: [`decode`]
//! refuses bytes after it, so no decoder silently ignores part of what it was
//! handed and one value has one encoding, not that encoding plus any tail.

use std::io;

use serde::de::DeserializeOwned;
use serde::Serialize;
use zeroize::Zeroizing;

/// Bytes that are not one CBOR value of the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {what}: {detail}")]
pub struct DecodeError {
    /// What the bytes should have been, e.g. `"round envelope"`.
    pub what: &'static str,
    /// Why they are not.
    pub detail: String,
}

/// Encodes `value` as CBOR.
///
/// # Panics
///
/// Writing into a `Vec` cannot fail, so this panics only when `T`'s own
/// `Serialize` implementation reports an error (serde's `ser::Error::custom`),
/// as std's does for a `Path` that is not UTF-8 or a poisoned `Mutex`. Derived
/// implementations over numbers, strings, bytes, collections and the crypto
/// types of this workspace never do.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    write(value, &mut out);
    out
}

/// [`encode`] for values that hold secrets: the buffer is zeroized when
/// dropped and sized exactly by a counting pass first, because a growing `Vec`
/// would leave unzeroized copies behind in freed memory. Panics as [`encode`].
pub fn encode_secret<T: Serialize + ?Sized>(value: &T) -> Zeroizing<Vec<u8>> {
    let mut counter = ByteCounter(0);
    write(value, &mut counter);
    let mut out = Zeroizing::new(Vec::with_capacity(counter.0));
    write(value, &mut *out);
    out
}

/// Decodes one value of type `T` that must fill `bytes` exactly; `what` names
/// the expected value in the error.
pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, DecodeError> {
    let error = |detail| DecodeError { what, detail };
    let mut rest = bytes;
    let value = ciborium::from_reader(&mut rest).map_err(|e| error(describe(e)))?;
    if !rest.is_empty() {
        return Err(error(format!(
            "trailing bytes after the value ({})",
            rest.len()
        )));
    }
    Ok(value)
}

fn write<T: Serialize + ?Sized>(value: &T, writer: impl io::Write) {
    if let Err(e) = ciborium::into_writer(value, writer) {
        panic!("the Serialize implementation of a value refused CBOR encoding: {e}");
    }
}

/// ciborium's own `Display` is its `Debug`; say it in words instead.
fn describe(error: ciborium::de::Error<io::Error>) -> String {
    use ciborium::de::Error;
    match error {
        Error::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            "the bytes end inside the value".into()
        }
        Error::Io(e) => e.to_string(),
        Error::Syntax(offset) => format!("not well-formed CBOR at byte {offset}"),
        Error::Semantic(Some(offset), message) => format!("{message} (at byte {offset})"),
        Error::Semantic(None, message) => message,
        Error::RecursionLimitExceeded => "nested too deeply".into(),
    }
}

/// An `io::Write` that only counts, for sizing [`encode_secret`]'s buffer.
struct ByteCounter(usize);

impl io::Write for ByteCounter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Message {
        round: String,
        seq: u64,
        body: Vec<u8>,
        routes: BTreeMap<String, u16>,
    }

    fn message() -> Message {
        Message {
            round: "sign.nonce".into(),
            seq: 7,
            body: vec![0, 1, 2, 255],
            routes: BTreeMap::from([("client".into(), 1), ("cosigner".into(), 2)]),
        }
    }

    #[test]
    fn round_trip() {
        let bytes = encode(&message());
        assert_eq!(decode::<Message>("message", &bytes).unwrap(), message());
    }

    #[test]
    fn secret_encoding_is_the_same_bytes_in_an_exact_buffer() {
        let secret = encode_secret(&message());
        assert_eq!(*secret, encode(&message()));
        assert_eq!(secret.capacity(), secret.len(), "allocated once, exactly");
    }

    #[test]
    fn a_trailing_byte_is_refused() {
        let mut bytes = encode(&message());
        bytes.push(0);
        let error = decode::<Message>("message", &bytes).unwrap_err();
        assert_eq!(
            error,
            DecodeError {
                what: "message",
                detail: "trailing bytes after the value (1)".into(),
            }
        );
        // Two concatenated values are not one value either.
        let twice = [encode(&message()), encode(&message())].concat();
        assert!(decode::<Message>("message", &twice).is_err());
    }

    #[test]
    fn a_wrong_shape_names_what_was_expected() {
        let error = decode::<Message>("round envelope", &encode(&"just a string")).unwrap_err();
        assert_eq!(error.what, "round envelope");
        assert!(
            error.to_string().starts_with("malformed round envelope: "),
            "{error}"
        );

        let bytes = encode(&message());
        let cut = decode::<Message>("round envelope", &bytes[..bytes.len() - 1]).unwrap_err();
        assert_eq!(
            cut.to_string(),
            "malformed round envelope: the bytes end inside the value"
        );
        assert!(decode::<Message>("round envelope", &[]).is_err());
        // 0x1c is a reserved additional-information value: not CBOR at all.
        let garbage = decode::<Message>("round envelope", &[0x1c]).unwrap_err();
        assert!(garbage.detail.contains("byte 0"), "{garbage}");
    }
}
