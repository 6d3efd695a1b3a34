//! The client side over the broker, driven through the client library
//! (`mpc_client`), against the real co-signer process.
//! Shares are decrypted once up front: what is timed is the protocol over
//! two processes and the broker, not process start-up or Argon2id.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use mpc_client::{Account, Connection, Error, RejectionCode, Wallet};
use mpc_session::subjects;
use mpc_session::Op;
use mpc_store::{KeySource, Overwrite, Passphrase};
use serde::Serialize;
use tempfile::TempDir;

use crate::stats::{round2, timed};

/// The co-signer refuses a second session on a wallet while it still winds
/// the previous one down; the client then simply asks again.
const BUSY_BACKOFF: Duration = Duration::from_millis(1);

pub struct Wallets {
    connection: Connection,
    dir: TempDir,
    passphrase: Passphrase,
}

/// Signatures made by several wallets at once.
#[derive(Debug, Serialize)]
pub struct Throughput {
    pub wallets: usize,
    pub cosigners: usize,
    pub signatures: usize,
    pub seconds: f64,
    pub signatures_per_s: f64,
    /// Sessions the co-signer refused as busy and the client asked again.
    pub busy_retries: usize,
}

/// Bytes on the broker for one signing session, as NATS counts a message:
/// subject, reply subject, headers and payload.
#[derive(Debug, Serialize)]
pub struct WireBytes {
    pub bytes_per_signature: usize,
    pub request_bytes: usize,
    pub reply_bytes: usize,
    pub session_messages: usize,
    pub session_bytes: usize,
    /// Payloads only (CBOR envelopes with the encrypted round messages).
    pub payload_bytes: usize,
}

const MESSAGE: &[u8] = b"mpc-bench: a message to sign";
/// What the benchmark's client shares are encrypted under.
pub const CLIENT_PASSPHRASE: &str = "mpc-bench client passphrase";

impl Wallets {
    pub async fn connect(nats_url: String) -> anyhow::Result<Wallets> {
        let dir = tempfile::tempdir().context("temp dir for client shares")?;
        let connection = Connection::builder()
            .nats_url(nats_url)
            .chain_id(mpc_testkit::SEPOLIA_CHAIN_ID)
            .round_timeout(Duration::from_secs(30))
            .connect()
            .await?;
        let passphrase = Passphrase::new(String::from(CLIENT_PASSPHRASE))?;
        Ok(Wallets {
            connection,
            dir,
            passphrase,
        })
    }

    /// A new wallet: the client share goes to a new file (its Argon2id
    /// encryption is part of the time, as is the co-signer's).
    pub async fn keygen(&self, number: usize) -> anyhow::Result<(PathBuf, Duration)> {
        let path = self.dir.path().join(format!("wallet-{number}.share"));
        let source = KeySource::Passphrase(self.passphrase.clone());
        let (made, elapsed) = timed(self.connection.keygen(&path, source, Overwrite::Refuse)).await;
        made?;
        Ok((path, elapsed))
    }

    /// Opens a wallet: its client share is decrypted once, here.
    pub async fn load(&self, path: &Path) -> anyhow::Result<Arc<Wallet>> {
        let wallet = self
            .connection
            .open_wallet(path, Some(self.passphrase.clone()))
            .await?;
        Ok(Arc::new(wallet))
    }

    /// One signature; returns its time (of the successful attempt) and how
    /// many busy refusals came first.
    pub async fn sign(
        &self,
        wallet: &Wallet,
        account: Account,
    ) -> anyhow::Result<(Duration, usize)> {
        sign_retrying(wallet, account).await
    }

    /// Refreshes both shares of a wallet (the wallet then holds the new one).
    pub async fn refresh(&self, wallet: &Wallet) -> anyhow::Result<Duration> {
        let (rotated, elapsed) = timed(wallet.rotate()).await;
        rotated?;
        Ok(elapsed)
    }

    /// `wallets` sign concurrently, `per_wallet` signatures each, one after
    /// the other, at the master key.
    pub async fn throughput(
        &self,
        shares: &[Arc<Wallet>],
        per_wallet: usize,
        cosigners: usize,
    ) -> anyhow::Result<Throughput> {
        let start = Instant::now();
        let tasks: Vec<_> = shares
            .iter()
            .map(|share| {
                let wallet = Arc::clone(share);
                tokio::spawn(async move {
                    let mut retries = 0;
                    for _ in 0..per_wallet {
                        retries += sign_retrying(&wallet, Account::Master).await?.1;
                    }
                    anyhow::Ok(retries)
                })
            })
            .collect();
        let mut busy_retries = 0;
        for task in tasks {
            busy_retries += task.await.context("signing task")??;
        }
        let seconds = start.elapsed().as_secs_f64();
        let signatures = shares.len() * per_wallet;
        Ok(Throughput {
            wallets: shares.len(),
            cosigners,
            signatures,
            seconds: round2(seconds),
            signatures_per_s: round2(signatures as f64 / seconds),
            busy_retries,
        })
    }

    /// Signs once while watching every subject the session uses: the
    /// request (seen through the co-signer's user, which may subscribe to
    /// requests), the reply and the round traffic (through the client's).
    pub async fn wire_bytes(
        &self,
        share: &Wallet,
        client_url: &str,
        cosigner_url: &str,
    ) -> anyhow::Result<WireBytes> {
        let watcher = mpc_session::connect(client_url).await?;
        let request_watcher = mpc_session::connect(cosigner_url).await?;
        let mut rounds = watcher.subscribe("mpc.v1.session.>").await?;
        let mut replies = watcher.subscribe("_INBOX.>").await?;
        let mut requests = request_watcher
            .subscribe(subjects::request(&Op::Sign))
            .await?;
        watcher.flush().await?;
        request_watcher.flush().await?;

        self.sign(share, Account::Master).await?;

        let (request_messages, request_bytes, request_payload) = drain(&mut requests).await;
        let (_, reply_bytes, reply_payload) = drain(&mut replies).await;
        let (session_messages, session_bytes, session_payload) = drain(&mut rounds).await;
        anyhow::ensure!(
            request_messages == 1 && session_messages > 0,
            "saw {request_messages} requests and {session_messages} round messages for one \
             signature; something else is using the broker"
        );
        Ok(WireBytes {
            bytes_per_signature: request_bytes + reply_bytes + session_bytes,
            request_bytes,
            reply_bytes,
            session_messages,
            session_bytes,
            payload_bytes: request_payload + reply_payload + session_payload,
        })
    }
}

async fn sign_retrying(wallet: &Wallet, account: Account) -> anyhow::Result<(Duration, usize)> {
    let mut retries = 0;
    loop {
        let (signed, elapsed) = timed(wallet.sign_message(MESSAGE, account)).await;
        match signed {
            Ok(_) => return Ok((elapsed, retries)),
            Err(Error::Refused {
                code: RejectionCode::Busy,
                ..
            }) if retries < 100 => {
                retries += 1;
                tokio::time::sleep(BUSY_BACKOFF).await;
            }
            Err(error) => return Err(error).context(format!("sign ({} busy retries)", retries)),
        }
    }
}

/// (messages, NATS message bytes, payload bytes) that arrived, waiting
/// until none has come for a moment.
async fn drain(subscriber: &mut async_nats::Subscriber) -> (usize, usize, usize) {
    let (mut messages, mut bytes, mut payload) = (0, 0, 0);
    while let Ok(Some(message)) =
        tokio::time::timeout(Duration::from_millis(200), subscriber.next()).await
    {
        messages += 1;
        bytes += message.length;
        payload += message.payload.len();
    }
    (messages, bytes, payload)
}
