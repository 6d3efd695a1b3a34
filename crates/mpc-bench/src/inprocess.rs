//! Both parties in this process, as two tokio tasks over `memory::pair`: the
//! protocol's own cost, with no broker, encryption or storage.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use mpc_protocol::memory::{self, MemoryChannel};
use mpc_protocol::{
    ChannelError, DerivationPath, Dkls23, KeyShare, Party, PeerChannel, ProtocolError, Round,
    SessionContext, ThresholdSigner,
};
use zeroize::Zeroizing;

/// Both parties' shares of one key.
#[derive(Clone)]
pub struct Shares {
    client: Arc<KeyShare>,
    cosigner: Arc<KeyShare>,
}

impl Shares {
    fn of(&self, party: Party) -> Arc<KeyShare> {
        match party {
            Party::Client => Arc::clone(&self.client),
            Party::Cosigner => Arc::clone(&self.cosigner),
        }
    }
}

/// One protocol message as its sender handed it to the channel.
pub struct SentMessage {
    pub round: Round,
    pub payload: Zeroizing<Vec<u8>>,
}

/// What a recorded run saw: every message of both parties, and the longest
/// stretch one party computed between receiving a message and sending its
/// next one, which is how long it held an async worker thread without yielding.
#[derive(Default)]
pub struct Trace {
    pub messages: Vec<SentMessage>,
    pub longest_step: Duration,
}

/// A channel that records into a [`Trace`] shared by both ends.
pub struct Recording<C> {
    inner: C,
    trace: Arc<Mutex<Trace>>,
    last_received: Option<Instant>,
}

impl<C: PeerChannel> PeerChannel for Recording<C> {
    async fn send(
        &mut self,
        round: Round,
        payload: Zeroizing<Vec<u8>>,
    ) -> Result<(), ChannelError> {
        {
            let mut trace = self.trace.lock().expect("trace lock");
            if let Some(received) = self.last_received.take() {
                trace.longest_step = trace.longest_step.max(received.elapsed());
            }
            trace.messages.push(SentMessage {
                round,
                payload: payload.clone(),
            });
        }
        self.inner.send(round, payload).await
    }

    async fn recv(&mut self, round: Round) -> Result<Zeroizing<Vec<u8>>, ChannelError> {
        let received = self.inner.recv(round).await;
        self.last_received = Some(Instant::now());
        received
    }

    async fn abort(&mut self, reason: &str) {
        self.inner.abort(reason).await;
    }
}

fn context() -> SessionContext {
    SessionContext::new(*b"bench-session-id", "bench")
}

/// Runs both parties as two tokio tasks, one channel end each.
async fn both<C, T, F>(ends: (C, C), run: impl Fn(Party, C) -> F) -> anyhow::Result<(T, T)>
where
    T: Send + 'static,
    F: Future<Output = Result<T, ProtocolError>> + Send + 'static,
{
    let client = tokio::spawn(run(Party::Client, ends.0));
    let cosigner = tokio::spawn(run(Party::Cosigner, ends.1));
    let client = client
        .await
        .context("client task")?
        .context("client side")?;
    let cosigner = cosigner
        .await
        .context("co-signer task")?
        .context("co-signer side")?;
    Ok((client, cosigner))
}

pub async fn keygen() -> anyhow::Result<Shares> {
    let (client, cosigner) = both(memory::pair(), |party, mut channel| async move {
        Dkls23.keygen(party, &context(), &mut channel).await
    })
    .await?;
    Ok(Shares {
        client: Arc::new(client),
        cosigner: Arc::new(cosigner),
    })
}

async fn sign_over<C: PeerChannel + 'static>(
    ends: (C, C),
    shares: &Shares,
    path: &DerivationPath,
) -> anyhow::Result<()> {
    both(ends, |party, mut channel| {
        let (share, path) = (shares.of(party), path.clone());
        async move {
            Dkls23
                .sign(&share, &path, [0x5a; 32], &context(), &mut channel)
                .await
        }
    })
    .await?;
    Ok(())
}

pub async fn sign(shares: &Shares, path: &DerivationPath) -> anyhow::Result<()> {
    sign_over(memory::pair(), shares, path).await
}

/// One signing run whose messages and compute steps are recorded.
pub async fn traced_sign(shares: &Shares) -> anyhow::Result<Trace> {
    let trace = Arc::new(Mutex::new(Trace::default()));
    let (a, b) = memory::pair();
    let record = |inner: MemoryChannel| Recording {
        inner,
        trace: Arc::clone(&trace),
        last_received: None,
    };
    sign_over((record(a), record(b)), shares, &DerivationPath::master()).await?;
    let trace = std::mem::take(&mut *trace.lock().expect("trace lock"));
    Ok(trace)
}

pub async fn refresh(shares: &Shares) -> anyhow::Result<Shares> {
    let (client, cosigner) = both(memory::pair(), |party, mut channel| {
        let share = shares.of(party);
        async move { Dkls23.refresh(&share, &context(), &mut channel).await }
    })
    .await?;
    Ok(Shares {
        client: Arc::new(client),
        cosigner: Arc::new(cosigner),
    })
}
