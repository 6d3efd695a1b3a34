//! Wallet locks, the per-wallet directory store, and the key source resolution rules.

mod common;

use std::collections::HashMap;

use common::*;
use mpc_store::{
    load_share, load_unlocked, lock, lock_path, lock_status, passphrase_from_env_with,
    resolve_key_source_with, save_share, stage_next, unlock, Expect, FileStore, KeyShareStore,
    KeySource, KeyringBackend, Overwrite, ResolvedKeySource, ShareParty, StoreError,
};

fn source() -> KeySource {
    KeySource::Passphrase(passphrase("pw"))
}

#[test]
fn locked_wallet_refuses_signing_load_until_unlocked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("client_share.enc");
    save_share(
        &path,
        &meta("w", ShareParty::Client),
        PLAINTEXT,
        &source(),
        Overwrite::Refuse,
    )
    .unwrap();
    assert_eq!(lock_status(&path).unwrap(), None);

    let record = lock(&path, "digest mismatch", "request 42 asked to sign 0xdead").unwrap();
    assert_eq!(lock_status(&path).unwrap(), Some(record.clone()));
    assert_owner_only(&lock_path(&path));
    let err = load_unlocked(&path, Expect::default(), Some(&passphrase("pw"))).unwrap_err();
    assert!(
        matches!(&err, StoreError::WalletLocked { evidence, .. } if evidence == "request 42 asked to sign 0xdead"),
        "{err}"
    );
    // Plain load (e.g. for backup) still works and exposes nothing else.
    load_share(&path, Expect::default(), Some(&passphrase("pw"))).unwrap();

    assert!(unlock(&path).unwrap());
    assert!(!unlock(&path).unwrap());
    load_unlocked(&path, Expect::default(), Some(&passphrase("pw"))).unwrap();

    std::fs::write(lock_path(&path), b"not json").unwrap();
    let err = load_unlocked(&path, Expect::default(), Some(&passphrase("pw"))).unwrap_err();
    assert!(matches!(err, StoreError::LockRecordCorrupt { .. }), "{err}");
}

#[test]
fn file_store_keeps_one_file_per_wallet() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(dir.path().join("shares"), ShareParty::Cosigner).unwrap();
    assert_eq!(store.list().unwrap(), Vec::<String>::new());
    for id in ["w-b", "w-a"] {
        store
            .save(
                &meta(id, ShareParty::Cosigner),
                id.as_bytes(),
                &source(),
                Overwrite::Refuse,
            )
            .unwrap();
    }
    assert!(store.share_path("w-a").unwrap().ends_with("shares/w-a.enc"));
    assert!(store.exists("w-a").unwrap() && !store.exists("w-c").unwrap());
    assert_eq!(
        &store
            .load("w-b", Some(&passphrase("pw")))
            .unwrap()
            .plaintext[..],
        b"w-b"
    );

    // Side files never show up as wallets.
    let a = store.share_path("w-a").unwrap();
    stage_next(&a, b"v2", 2, Some(&passphrase("pw"))).unwrap();
    lock(&a, "test", "evidence").unwrap();
    std::fs::write(store.dir().join(".w-z.enc.tmp.00"), b"partial").unwrap();
    assert_eq!(store.list().unwrap(), vec!["w-a", "w-b"]);
    let err = store
        .load_unlocked("w-a", Some(&passphrase("pw")))
        .unwrap_err();
    assert!(matches!(err, StoreError::WalletLocked { .. }), "{err}");

    let err = store
        .save(
            &meta("w-c", ShareParty::Client),
            PLAINTEXT,
            &source(),
            Overwrite::Refuse,
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::WrongParty { .. }), "{err}");
    let err = store
        .save(
            &meta("w-a", ShareParty::Cosigner),
            PLAINTEXT,
            &source(),
            Overwrite::Refuse,
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
    let err = store.load("../escape", None).unwrap_err();
    assert!(matches!(err, StoreError::InvalidWalletId { .. }), "{err}");

    // A file renamed to another wallet's name is caught by the header.
    std::fs::copy(&a, store.share_path("w-c").unwrap()).unwrap();
    let err = store.load("w-c", Some(&passphrase("pw"))).unwrap_err();
    assert!(matches!(err, StoreError::WrongWallet { .. }), "{err}");
}

fn resolve(
    explicit: Option<&str>,
    env: &[(&str, &str)],
    keyring_up: bool,
) -> Result<ResolvedKeySource, StoreError> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    resolve_key_source_with(explicit, &|name| env.get(name).cloned(), &|| {
        if keyring_up {
            Ok(KeyringBackend::SecretService)
        } else {
            Err(StoreError::KeyringUnavailable {
                detail: "no dbus".into(),
            })
        }
    })
}

fn kind(resolved: Result<ResolvedKeySource, StoreError>) -> String {
    match resolved {
        Ok(ResolvedKeySource::Ready(KeySource::Keyring(KeyringBackend::SecretService))) => {
            "keyring".into()
        }
        Ok(ResolvedKeySource::Ready(KeySource::Passphrase(_))) => "passphrase".into(),
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("error: {e}"),
    }
}

#[test]
fn key_source_resolution_follows_the_cli_contract() {
    let pw = [("MPC_PASSPHRASE", "secret")];
    assert_eq!(
        kind(resolve(Some("passphrase"), &[], true)),
        "PromptForPassphrase"
    );
    assert_eq!(kind(resolve(Some("passphrase"), &pw, true)), "passphrase");
    assert_eq!(
        kind(resolve(Some("keyring"), &pw, true)),
        "keyring",
        "explicit choice wins over env"
    );
    assert_eq!(
        kind(resolve(None, &[("MPC_KEY_SOURCE", "keyring")], true)),
        "keyring"
    );
    assert_eq!(
        kind(resolve(
            Some("passphrase"),
            &[("MPC_KEY_SOURCE", "keyring")],
            true
        )),
        "PromptForPassphrase"
    );
    assert_eq!(
        kind(resolve(None, &pw, true)),
        "passphrase",
        "a given passphrase beats the keyring"
    );
    assert_eq!(kind(resolve(None, &[], true)), "keyring");
    assert_eq!(kind(resolve(None, &[], false)), "PromptForPassphrase");

    let err = resolve(Some("keyring"), &[], false).unwrap_err();
    assert!(
        matches!(err, StoreError::KeyringUnavailable { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("passphrase"),
        "suggests the alternative: {err}"
    );
    let both = [("MPC_PASSPHRASE", "a"), ("MPC_PASSPHRASE_FILE", "/x")];
    assert_eq!(kind(resolve(Some("keyring"), &both, true)), "keyring");
    let err = resolve(None, &both, true).unwrap_err();
    assert!(matches!(err, StoreError::PassphraseEnv { .. }), "{err}");
    let err = resolve(None, &[("MPC_KEY_SOURCE", "vault")], true).unwrap_err();
    assert!(matches!(err, StoreError::InvalidKeySource { .. }), "{err}");
}

#[test]
fn without_a_keyring_backend_the_resolver_offers_the_passphrase() {
    let unsupported = || Err(StoreError::KeyringUnsupported { platform: "plan9" });
    let no_env = |_: &str| None;
    let resolved = resolve_key_source_with(None, &no_env, &unsupported).unwrap();
    assert!(
        matches!(resolved, ResolvedKeySource::PromptForPassphrase),
        "{resolved:?}"
    );
    let err = resolve_key_source_with(Some("keyring"), &no_env, &unsupported).unwrap_err();
    assert!(
        matches!(err, StoreError::KeyringUnsupported { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("--key-source passphrase"),
        "suggests the alternative: {err}"
    );
}

/// The resolver's real probe, on a platform mpc-store has no keyring for.
#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
#[test]
fn this_platform_has_no_keyring_and_says_so() {
    assert_eq!(KeyringBackend::native(), None);
    let err = mpc_store::resolve_key_source(Some("keyring")).unwrap_err();
    assert!(
        matches!(err, StoreError::KeyringUnsupported { .. }),
        "{err}"
    );
}

#[test]
fn passphrase_comes_from_env_or_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, "from file\n").unwrap();
    let file = file.to_str().unwrap().to_string();
    let env_of = |pairs: Vec<(&'static str, String)>| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        }
    };

    // The file's passphrase (newline stripped) must decrypt what "from file" encrypted.
    let target = dir.path().join("s.enc");
    save_share(
        &target,
        &meta("w", ShareParty::Client),
        PLAINTEXT,
        &KeySource::Passphrase(passphrase("from file")),
        Overwrite::Refuse,
    )
    .unwrap();
    let from_file =
        passphrase_from_env_with(&env_of(vec![("MPC_PASSPHRASE_FILE", file.clone())])).unwrap();
    load_share(&target, Expect::default(), from_file.as_ref()).unwrap();

    assert!(passphrase_from_env_with(&env_of(vec![])).unwrap().is_none());
    for bad in [
        vec![
            ("MPC_PASSPHRASE", "a".to_string()),
            ("MPC_PASSPHRASE_FILE", file.clone()),
        ],
        vec![("MPC_PASSPHRASE", String::new())],
        vec![("MPC_PASSPHRASE_FILE", "/nonexistent/pw".to_string())],
    ] {
        let err = passphrase_from_env_with(&env_of(bad)).unwrap_err();
        assert!(matches!(err, StoreError::PassphraseEnv { .. }), "{err}");
    }
}
