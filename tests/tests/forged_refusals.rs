//! Only the co-signer's authenticated word changes a share. A forger on the
//! broker (here with the co-signer's own credentials, while the co-signer is
//! down so the forgery is the only answer) refuses every request in clear
//! with the codes that would make a client promote, discard or lock: at
//! every step of a rotation, including the states a crash leaves, nothing
//! changes, and the wallet signs with its address once the co-signer is back.

mod support;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ciborium::Value as Cbor;
use futures::StreamExt;
use mpc_api::RejectionCode;
use mpc_e2e::{Deployment, Role, CLIENT_PASSPHRASE};
use mpc_store::{Expect, Passphrase, ShareParty};

/// The codes a forged refusal carries: each would change local state if the
/// client believed it.
const FORGED: [RejectionCode; 3] = [
    RejectionCode::ClientShareOutdated,
    RejectionCode::WalletLocked,
    RejectionCode::ShareVersionMismatch,
];

/// Answers every session request on the broker with a plain-text refusal.
struct Forger {
    answered: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Forger {
    async fn start(d: &Deployment, code: RejectionCode) -> Forger {
        let nats = mpc_session::connect(&d.nats.url(Role::Cosigner))
            .await
            .unwrap();
        let mut requests = nats.subscribe("mpc.v1.cosigner.*").await.unwrap();
        nats.flush().await.unwrap();
        let answered = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&answered);
        let task = tokio::spawn(async move {
            while let Some(request) = requests.next().await {
                let Some(reply) = request.reply else { continue };
                let refusal = refused(code);
                nats.publish(reply, refusal.into()).await.unwrap();
                nats.flush().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        Forger { answered, task }
    }

    fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }
}

impl Drop for Forger {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `ReplyEnvelope::Refused` as the co-signer encodes it in clear.
fn refused(code: RejectionCode) -> Vec<u8> {
    let text = |s: &str| Cbor::Text(s.to_owned());
    let rejection = Cbor::Map(vec![
        (text("code"), text(code.as_str())),
        (text("message"), text("trust me")),
    ]);
    let body = Cbor::Map(vec![
        (text("version"), Cbor::Integer(2.into())),
        (text("rejection"), rejection),
    ]);
    let mut bytes = Vec::new();
    ciborium::into_writer(&Cbor::Map(vec![(text("Refused"), body)]), &mut bytes).unwrap();
    bytes
}

/// The share file and its staged sibling, byte for byte (`None`: absent).
fn files(share: &Path) -> (Vec<u8>, Option<Vec<u8>>) {
    (
        std::fs::read(share).unwrap(),
        std::fs::read(mpc_store::next_path(share)).ok(),
    )
}

/// With the co-signer down, every forged code against sign and rotate: each
/// attempt fails as an unauthenticated refusal and no file changes.
async fn forge_everything(d: &mut Deployment, share: &Path) {
    d.cosigner.kill();
    let before = files(share);
    let share_arg = share.to_str().unwrap();
    for code in FORGED {
        let forger = Forger::start(d, code).await;
        for args in [
            support::sign_args(share),
            vec!["rotate", "--share", share_arg, "--timeout", "3"],
        ] {
            let (exit, json, stderr) = tokio::task::block_in_place(|| d.mpc_err(&args));
            assert_eq!(exit, 1, "{code} on {args:?}: {stderr}");
            assert_eq!(json["error"]["code"], "unauthenticated_refusal", "{json}");
            assert!(stderr.contains("unauthenticated reply"), "{stderr}");
        }
        assert_eq!(forger.answered(), 2, "the forger answered both requests");
        assert_eq!(
            files(share),
            before,
            "a forged {code} changed the share files"
        );
        assert!(
            !mpc_store::lock_path(share).exists(),
            "a forged {code} locked the wallet"
        );
    }
    d.restart_cosigner();
}

fn client_share_plaintext(share: &Path) -> Vec<u8> {
    let passphrase = Passphrase::new(CLIENT_PASSPHRASE.to_owned()).unwrap();
    mpc_store::load_share(share, Expect::party(ShareParty::Client), Some(&passphrase))
        .unwrap()
        .plaintext
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_refusals_change_nothing_at_any_step_of_a_rotation() {
    let mut d = Deployment::start();
    let share = d.path("client_share.enc");
    let next = mpc_store::next_path(&share);
    let keygen = tokio::task::block_in_place(|| d.keygen("client_share.enc"));
    let address = support::address(&keygen, "address");
    let signs = |d: &Deployment, message: &str| {
        let (signer, _) =
            tokio::task::block_in_place(|| support::sign_message(d, &share, message, &[]));
        assert_eq!(signer, address, "signed with the wallet's address");
    };

    // Before any rotation.
    forge_everything(&mut d, &share).await;
    signs(&d, "before any rotation");

    // A crash after the co-signer promoted its refreshed share and before
    // the client promoted its own: the client holds v0 current, v1 staged.
    let v0 = std::fs::read(&share).unwrap();
    tokio::task::block_in_place(|| d.mpc_ok(&["rotate", "--share", share.to_str().unwrap()]));
    let v1 = std::fs::read(&share).unwrap();
    std::fs::write(&share, &v0).unwrap();
    std::fs::write(&next, &v1).unwrap();
    forge_everything(&mut d, &share).await;
    // The co-signer's authenticated `client_share_outdated` promotes it.
    signs(&d, "after the co-signer promoted");
    assert_eq!(files(&share), (v1.clone(), None));

    // A crash after both staged and before either promoted: the client's
    // staged v2 was never the co-signer's.
    mpc_store::stage_next(
        &share,
        &client_share_plaintext(&share),
        2,
        Some(&Passphrase::new(CLIENT_PASSPHRASE.to_owned()).unwrap()),
    )
    .unwrap();
    forge_everything(&mut d, &share).await;
    // Signing with the current pair proves the staged share dead: it goes.
    signs(&d, "after a refresh neither side finished");
    assert_eq!(files(&share), (v1, None));

    // And a rotation still completes.
    tokio::task::block_in_place(|| d.mpc_ok(&["rotate", "--share", share.to_str().unwrap()]));
    signs(&d, "after the last rotation");
}
