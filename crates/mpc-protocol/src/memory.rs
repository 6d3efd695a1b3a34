//! An in-process [`PeerChannel`] pair over tokio channels, for tests,
//! benchmarks and other crates' tests. It does no encryption: it never
//! leaves the process.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::time::{timeout_at, Instant};
use zeroize::Zeroizing;

use crate::channel::{ChannelError, PeerChannel, Round};

/// How long [`pair`]'s ends wait for a message before giving up.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

enum Frame {
    Message(Round, Zeroizing<Vec<u8>>),
    Abort(String),
}

/// One end of an in-process channel.
pub struct MemoryChannel {
    outgoing: UnboundedSender<Frame>,
    incoming: UnboundedReceiver<Frame>,
    /// Messages that arrived before they were asked for, by round.
    early: HashMap<Round, Zeroizing<Vec<u8>>>,
    peer_abort: Option<String>,
    timeout: Duration,
}

/// Two connected ends with the [`DEFAULT_TIMEOUT`].
pub fn pair() -> (MemoryChannel, MemoryChannel) {
    pair_with_timeout(DEFAULT_TIMEOUT)
}

/// Two connected ends whose `recv` gives up after `timeout`.
pub fn pair_with_timeout(timeout: Duration) -> (MemoryChannel, MemoryChannel) {
    let (to_b, from_a) = unbounded_channel();
    let (to_a, from_b) = unbounded_channel();
    let end = |outgoing, incoming| MemoryChannel {
        outgoing,
        incoming,
        early: HashMap::new(),
        peer_abort: None,
        timeout,
    };
    (end(to_b, from_b), end(to_a, from_a))
}

impl MemoryChannel {
    /// The peer is gone: say why if it left an abort behind.
    fn why_closed(&mut self) -> ChannelError {
        while let Ok(frame) = self.incoming.try_recv() {
            match frame {
                Frame::Abort(reason) => self.peer_abort = Some(reason),
                Frame::Message(round, payload) => {
                    self.early.entry(round).or_insert(payload);
                }
            }
        }
        match &self.peer_abort {
            Some(reason) => ChannelError::PeerAborted(reason.clone()),
            None => ChannelError::Closed,
        }
    }
}

impl PeerChannel for MemoryChannel {
    async fn send(
        &mut self,
        round: Round,
        payload: Zeroizing<Vec<u8>>,
    ) -> Result<(), ChannelError> {
        match self.outgoing.send(Frame::Message(round, payload)) {
            Ok(()) => Ok(()),
            Err(_) => Err(self.why_closed()),
        }
    }

    async fn recv(&mut self, round: Round) -> Result<Zeroizing<Vec<u8>>, ChannelError> {
        if let Some(payload) = self.early.remove(&round) {
            return Ok(payload);
        }
        if let Some(reason) = &self.peer_abort {
            return Err(ChannelError::PeerAborted(reason.clone()));
        }
        let deadline = Instant::now() + self.timeout;
        loop {
            let frame = timeout_at(deadline, self.incoming.recv())
                .await
                .map_err(|_| ChannelError::Timeout {
                    round: round.to_string(),
                    seconds: self.timeout.as_secs(),
                })?;
            match frame {
                None => return Err(ChannelError::Closed),
                Some(Frame::Abort(reason)) => {
                    self.peer_abort = Some(reason.clone());
                    return Err(ChannelError::PeerAborted(reason));
                }
                Some(Frame::Message(arrived, payload)) if arrived == round => return Ok(payload),
                // A later round's message, kept for later; a duplicate is dropped.
                Some(Frame::Message(arrived, payload)) => {
                    self.early.entry(arrived).or_insert(payload);
                }
            }
        }
    }

    async fn abort(&mut self, reason: &str) {
        // Best effort: a peer that is gone needs no telling.
        let _ = self.outgoing.send(Frame::Abort(reason.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(data: &[u8]) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(data.to_vec())
    }

    #[tokio::test]
    async fn delivers_by_round_whatever_the_order() {
        let (mut a, mut b) = pair();
        a.send(Round("t.2"), bytes(b"second")).await.unwrap();
        a.send(Round("t.2"), bytes(b"duplicate")).await.unwrap();
        a.send(Round("t.1"), bytes(b"first")).await.unwrap();
        assert_eq!(&**b.recv(Round("t.1")).await.unwrap(), b"first");
        assert_eq!(&**b.recv(Round("t.2")).await.unwrap(), b"second");
        b.send(Round("t.3"), bytes(b"reply")).await.unwrap();
        assert_eq!(&**a.recv(Round("t.3")).await.unwrap(), b"reply");
    }

    #[tokio::test]
    async fn reports_abort_timeout_and_close() {
        let (mut a, mut b) = pair_with_timeout(Duration::from_millis(50));
        assert_eq!(
            b.recv(Round("t.1")).await,
            Err(ChannelError::Timeout {
                round: "t.1".into(),
                seconds: 0
            })
        );
        a.abort("gave up").await;
        assert_eq!(
            b.recv(Round("t.1")).await,
            Err(ChannelError::PeerAborted("gave up".into()))
        );
        drop(a);
        assert_eq!(
            b.send(Round("t.1"), bytes(b"x")).await,
            Err(ChannelError::PeerAborted("gave up".into()))
        );
        let (a, mut b) = pair();
        drop(a);
        assert_eq!(
            b.send(Round("t.1"), bytes(b"x")).await,
            Err(ChannelError::Closed)
        );
        assert_eq!(b.recv(Round("t.1")).await, Err(ChannelError::Closed));
    }
}
