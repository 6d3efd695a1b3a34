//! The client side over the broker, driven through the `mpc` CLI's own
//! library (`mpc_cli::wallet::Client`), against the real co-signer process.
//! Shares are decrypted once up front: what is timed is the protocol over
//! two processes and the broker, not process start-up or Argon2id.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use mpc_cli::wallet::{self, Client, Settings};
use mpc_cli::ClientShare;
use mpc_protocol::DerivationPath;
use mpc_session::subjects;
use mpc_session::Op;
use mpc_store::{KeySource, Overwrite, Passphrase};
use serde::Serialize;
use tempfile::TempDir;

use crate::stats::{round2, timed};

/// The co-signer refuses a second session on a wallet while it still winds
/// the previous one down; the client then simply asks again.
const BUSY_CODE: &str = "cosigner_busy";
const BUSY_BACKOFF: Duration = Duration::from_millis(1);

pub struct Wallets {
    client: Arc<Client>,
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

fn personal_message() -> mpc_evm::SignPayload {
    wallet::personal_message("mpc-bench: a message to sign")
}

impl Wallets {
    pub async fn connect(nats_url: String) -> anyhow::Result<Wallets> {
        let dir = tempfile::tempdir().context("temp dir for client shares")?;
        let settings = Settings {
            home: dir.path().join("home"),
            nats_url: Some(nats_url),
            rpc_url: None,
            chain_id: mpc_testkit::SEPOLIA_CHAIN_ID,
            round_timeout: Duration::from_secs(30),
        };
        let client = Client::connect(&settings).await?;
        let passphrase = Passphrase::new(String::from("mpc-bench client passphrase"))?;
        Ok(Wallets {
            client: Arc::new(client),
            dir,
            passphrase,
        })
    }

    /// A new wallet: the client share goes to a new file (its Argon2id
    /// encryption is part of the time, as is the co-signer's).
    pub async fn keygen(&self, number: usize) -> anyhow::Result<(PathBuf, Duration)> {
        let path = self.dir.path().join(format!("wallet-{number}.share"));
        let source = KeySource::Passphrase(self.passphrase.clone());
        let (made, elapsed) = timed(self.client.keygen(&path, Overwrite::Refuse, source)).await;
        made?;
        Ok((path, elapsed))
    }

    /// Decrypts a client share, settling any interrupted refresh first.
    pub async fn load(&self, path: &Path) -> anyhow::Result<Arc<ClientShare>> {
        let share = wallet::with_share(path, Some(self.passphrase.clone()), |share| async {
            Ok(share)
        })
        .await?;
        Ok(Arc::new(share))
    }

    /// One signature; returns its time (of the successful attempt) and how
    /// many busy refusals came first.
    pub async fn sign(
        &self,
        share: &ClientShare,
        path: &DerivationPath,
    ) -> anyhow::Result<(Duration, usize)> {
        sign_retrying(&self.client, share, path).await
    }

    /// Refreshes both shares of a wallet and loads the new client share.
    pub async fn refresh(
        &self,
        share: &ClientShare,
    ) -> anyhow::Result<(Arc<ClientShare>, Duration)> {
        let (rotated, elapsed) = timed(self.client.rotate(share, Some(&self.passphrase))).await;
        rotated?;
        Ok((self.load(&share.path).await?, elapsed))
    }

    /// `wallets` sign concurrently, `per_wallet` signatures each, one after
    /// the other, at the master key.
    pub async fn throughput(
        &self,
        shares: &[Arc<ClientShare>],
        per_wallet: usize,
        cosigners: usize,
    ) -> anyhow::Result<Throughput> {
        let start = Instant::now();
        let tasks: Vec<_> = shares
            .iter()
            .map(|share| {
                let (client, share) = (Arc::clone(&self.client), Arc::clone(share));
                tokio::spawn(async move {
                    let mut retries = 0;
                    for _ in 0..per_wallet {
                        retries += sign_retrying(&client, &share, &DerivationPath::master())
                            .await?
                            .1;
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
        share: &ClientShare,
        client_url: &str,
        cosigner_url: &str,
    ) -> anyhow::Result<WireBytes> {
        let watcher = mpc_session::connect(client_url).await?;
        let request_watcher = mpc_session::connect(cosigner_url).await?;
        let mut rounds = watcher.subscribe("mpc.v1.session.>").await?;
        let mut replies = watcher.subscribe("_INBOX.>").await?;
        let mut requests = request_watcher
            .subscribe(subjects::request(&Op::SIGN))
            .await?;
        watcher.flush().await?;
        request_watcher.flush().await?;

        self.sign(share, &DerivationPath::master()).await?;

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

async fn sign_retrying(
    client: &Client,
    share: &ClientShare,
    path: &DerivationPath,
) -> anyhow::Result<(Duration, usize)> {
    let mut retries = 0;
    loop {
        let (signed, elapsed) = timed(client.sign(share, personal_message(), path)).await;
        match signed {
            Ok(_) => return Ok((elapsed, retries)),
            Err(error) if error.code == BUSY_CODE && retries < 100 => {
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
