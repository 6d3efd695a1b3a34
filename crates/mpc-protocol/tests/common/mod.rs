//! Helpers shared by the integration tests: run both parties as separate
//! tokio tasks over `memory::pair`, and a channel adapter that edits what
//! one party sends.
#![allow(dead_code)] // each test binary uses its own subset

use std::future::Future;
use std::sync::{Arc, Mutex};

use k256::ecdsa::{RecoveryId, Signature as K256Signature, VerifyingKey};
use mpc_protocol::memory;
use mpc_protocol::{
    ChannelError, DerivationPath, Dkls23, KeyShare, Party, PeerChannel, ProtocolError, PublicKey,
    Round, SessionContext, Signature, ThresholdSigner,
};
use zeroize::Zeroizing;

pub fn context(transport_session_id: &str) -> SessionContext {
    SessionContext::new(transport_session_id.as_bytes(), "test-wallet")
}

/// Runs the two futures as two tokio tasks and waits for both.
pub async fn both<T: Send + 'static>(
    client: impl Future<Output = T> + Send + 'static,
    cosigner: impl Future<Output = T> + Send + 'static,
) -> (T, T) {
    let client = tokio::spawn(client);
    let cosigner = tokio::spawn(cosigner);
    (client.await.unwrap(), cosigner.await.unwrap())
}

pub async fn keygen_over<A, B>(
    mut client: A,
    mut cosigner: B,
) -> (
    Result<KeyShare, ProtocolError>,
    Result<KeyShare, ProtocolError>,
)
where
    A: PeerChannel + 'static,
    B: PeerChannel + 'static,
{
    let ctx = context("keygen");
    let ctx2 = ctx.clone();
    both(
        async move { Dkls23.keygen(Party::Client, &ctx, &mut client).await },
        async move { Dkls23.keygen(Party::Cosigner, &ctx2, &mut cosigner).await },
    )
    .await
}

/// A fresh wallet: (client share, cosigner share).
pub async fn keygen() -> (Arc<KeyShare>, Arc<KeyShare>) {
    let (a, b) = memory::pair();
    let (client, cosigner) = keygen_over(a, b).await;
    (Arc::new(client.unwrap()), Arc::new(cosigner.unwrap()))
}

pub async fn sign_over<A, B>(
    shares: (&Arc<KeyShare>, &Arc<KeyShare>),
    path: &str,
    digest: [u8; 32],
    channels: (A, B),
) -> (
    Result<Signature, ProtocolError>,
    Result<Signature, ProtocolError>,
)
where
    A: PeerChannel + 'static,
    B: PeerChannel + 'static,
{
    let path: DerivationPath = path.parse().unwrap();
    let ctx = context("sign");
    let (share_a, share_b) = (shares.0.clone(), shares.1.clone());
    let (path_a, path_b) = (path.clone(), path);
    let (ctx_a, ctx_b) = (ctx.clone(), ctx);
    let (mut channel_a, mut channel_b) = channels;
    both(
        async move {
            Dkls23
                .sign(&share_a, &path_a, digest, &ctx_a, &mut channel_a)
                .await
        },
        async move {
            Dkls23
                .sign(&share_b, &path_b, digest, &ctx_b, &mut channel_b)
                .await
        },
    )
    .await
}

pub async fn sign(
    client: &Arc<KeyShare>,
    cosigner: &Arc<KeyShare>,
    path: &str,
    digest: [u8; 32],
) -> (
    Result<Signature, ProtocolError>,
    Result<Signature, ProtocolError>,
) {
    sign_over((client, cosigner), path, digest, memory::pair()).await
}

/// The EVM address that `signature` over `digest` recovers to, with k256.
pub fn recovered_address(digest: &[u8; 32], signature: &Signature) -> String {
    let k256_signature = K256Signature::from_scalars(signature.r, signature.s).unwrap();
    let recovery_id = RecoveryId::from_byte(signature.recovery_id()).unwrap();
    let key = VerifyingKey::recover_from_prehash(digest, &k256_signature, recovery_id).unwrap();
    PublicKey::from_sec1_bytes(&key.to_sec1_bytes())
        .unwrap()
        .address()
}

/// The captured payload of one round.
pub type Captured = Arc<Mutex<Option<Vec<u8>>>>;

/// Changes a payload in place.
type Edit = Box<dyn FnMut(&mut Vec<u8>) + Send>;

/// Wraps a channel and edits this party's outgoing payload for one round.
pub struct Tamper<C> {
    inner: C,
    round: Round,
    edit: Edit,
}

impl<C: PeerChannel> Tamper<C> {
    pub fn new(inner: C, round: Round, edit: impl FnMut(&mut Vec<u8>) + Send + 'static) -> Self {
        Tamper {
            inner,
            round,
            edit: Box::new(edit),
        }
    }

    /// Flips one byte in the middle of the payload.
    pub fn flip_byte(inner: C, round: Round) -> Self {
        Tamper::new(inner, round, |payload| {
            let middle = payload.len() / 2;
            payload[middle] ^= 0x01;
        })
    }

    /// Leaves the payload alone but keeps a copy of it.
    pub fn record(inner: C, round: Round) -> (Self, Captured) {
        let captured: Captured = Arc::default();
        let sink = captured.clone();
        let tamper = Tamper::new(inner, round, move |payload| {
            *sink.lock().unwrap() = Some(payload.clone());
        });
        (tamper, captured)
    }

    /// Sends `captured` (from another session) instead of the real payload.
    pub fn substitute(inner: C, round: Round, captured: Captured) -> Self {
        Tamper::new(inner, round, move |payload| {
            *payload = captured.lock().unwrap().clone().expect("nothing captured");
        })
    }
}

impl<C: PeerChannel> PeerChannel for Tamper<C> {
    async fn send(
        &mut self,
        round: Round,
        mut payload: Zeroizing<Vec<u8>>,
    ) -> Result<(), ChannelError> {
        if round == self.round {
            (self.edit)(&mut payload);
        }
        self.inner.send(round, payload).await
    }

    async fn recv(&mut self, round: Round) -> Result<Zeroizing<Vec<u8>>, ChannelError> {
        self.inner.recv(round).await
    }

    async fn abort(&mut self, reason: &str) {
        self.inner.abort(reason).await
    }
}
