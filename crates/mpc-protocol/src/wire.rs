//! CBOR encoding of protocol messages, and the one-step exchange with the
//! peer that every round of every operation goes through.

use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::debug;
use zeroize::Zeroizing;

use crate::channel::{Party, PeerChannel, Round};
use crate::error::{ErrorKind, ProtocolError, Result};

/// Counts bytes so the real buffer can be allocated once: a growing `Vec`
/// would leave unzeroized copies of secret messages behind in freed memory.
struct CountingSink(usize);

impl std::io::Write for CountingSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Encodes `value` as CBOR into a zeroizing buffer of exactly its size.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut sink = CountingSink(0);
    ciborium::into_writer(value, &mut sink).map_err(|e| e.to_string())?;
    let mut buffer = Zeroizing::new(Vec::with_capacity(sink.0));
    ciborium::into_writer(value, &mut *buffer).map_err(|e| e.to_string())?;
    Ok(buffer)
}

/// Decodes one CBOR value that must fill `bytes` completely.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let mut reader = bytes;
    let value = ciborium::from_reader(&mut reader).map_err(|e| e.to_string())?;
    if !reader.is_empty() {
        return Err(format!("{} trailing bytes after the message", reader.len()));
    }
    Ok(value)
}

/// One party's side of a protocol run: who it is and the channel to its peer.
pub(crate) struct Wire<'c, C> {
    pub(crate) party: Party,
    channel: &'c mut C,
}

impl<'c, C> Wire<'c, C> {
    pub(crate) fn new(party: Party, channel: &'c mut C) -> Self {
        Wire { party, channel }
    }

    /// An error at `round` for this party.
    pub(crate) fn error(&self, round: Round, kind: ErrorKind) -> ProtocolError {
        ProtocolError::new(self.party, round, kind)
    }
}

impl<C: PeerChannel> Wire<'_, C> {
    /// Sends our message for `round`, then waits for the peer's. Both sides
    /// send first: sends never wait for the peer, so this cannot deadlock.
    pub(crate) async fn exchange<T, U>(&mut self, round: Round, ours: &T) -> Result<U>
    where
        T: Serialize + Sync,
        U: DeserializeOwned,
    {
        let payload = encode(ours).map_err(|detail| {
            self.error(
                round,
                ErrorKind::InvalidInput {
                    detail: format!("could not encode our message: {detail}"),
                },
            )
        })?;
        debug!(party = %self.party, %round, "sending");
        self.channel
            .send(round, payload)
            .await
            .map_err(|e| self.error(round, e.into()))?;
        let received = self
            .channel
            .recv(round)
            .await
            .map_err(|e| self.error(round, e.into()))?;
        debug!(party = %self.party, %round, "received");
        decode(&received)
            .map_err(|detail| self.error(round, ErrorKind::MalformedMessage { detail }))
    }

    /// Tells the peer to stop when `result` is a local failure, then hands
    /// the result back unchanged.
    pub(crate) async fn finish<T>(&mut self, result: Result<T>) -> Result<T> {
        if let Err(error) = &result {
            debug!(party = %self.party, round = %error.round, "aborting: {}", error.kind);
            if error.should_notify_peer() {
                self.channel.abort(&error.to_string()).await;
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use dkls23::protocols::signing::Broadcast3to4;
    use k256::{Scalar, Secp256k1};

    use super::*;

    #[test]
    fn protocol_message_round_trips_through_cbor() {
        let message = Broadcast3to4::<Secp256k1> {
            u: Scalar::from(7u64),
            w: -Scalar::from(11u64),
        };
        let bytes = encode(&message).unwrap();
        assert_eq!(bytes.capacity(), bytes.len(), "allocated once, exactly");
        let decoded: Broadcast3to4<Secp256k1> = decode(&bytes).unwrap();
        assert_eq!((decoded.u, decoded.w), (message.u, message.w));

        let mut trailing = bytes.to_vec();
        trailing.push(0);
        let error = decode::<Broadcast3to4<Secp256k1>>(&trailing).err().unwrap();
        assert!(error.contains("trailing"), "{error}");
        assert!(decode::<Broadcast3to4<Secp256k1>>(&bytes[..bytes.len() - 1]).is_err());
    }
}
