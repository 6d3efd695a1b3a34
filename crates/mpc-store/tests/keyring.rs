//! Keyring-encrypted shares against the real OS keyring. Run through
//! `scripts/with-keyring cargo test -p mpc-store`; without a keyring these
//! tests fail unless MPC_TEST_NO_KEYRING=1.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use mpc_store::{
    delete_keyring_key, export_backup, import_backup, load_share, promote_next, resolve_key_source,
    save_share, stage_next, Expect, KeySource, KeySourceDescriptor, KeyringBackend, Overwrite,
    ResolvedKeySource, ShareInfo, ShareParty, StoreError, KEYRING_SERVICE,
};

fn save_with_keyring(path: &Path, wallet_id: &str, backend: KeyringBackend) -> ShareInfo {
    save_share(
        path,
        &meta(wallet_id, ShareParty::Client),
        PLAINTEXT,
        &KeySource::Keyring(backend),
        Overwrite::Refuse,
    )
    .unwrap()
}

fn round_trip(backend: KeyringBackend) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("client_share.enc");
    let wallet_id = unique_wallet_id("rt");
    let saved = save_with_keyring(&path, &wallet_id, backend);
    assert_eq!(
        saved.key_source,
        KeySourceDescriptor::Keyring {
            backend,
            service: KEYRING_SERVICE.into(),
            user: format!("client/{wallet_id}"),
        }
    );
    assert_eq!(mode(&path), 0o600);

    // No passphrase: the header says keyring.
    let loaded = load_share(
        &path,
        Expect::party(ShareParty::Client).wallet(&wallet_id),
        None,
    )
    .unwrap();
    assert_eq!(&loaded.plaintext[..], PLAINTEXT);
    assert_eq!(loaded.info, saved);

    assert!(delete_keyring_key(&saved.key_source).unwrap());
    let err = load_share(&path, Expect::default(), None).unwrap_err();
    assert!(
        matches!(err, StoreError::KeyringEntryMissing { .. }),
        "{err}"
    );
    assert!(!delete_keyring_key(&saved.key_source).unwrap());
}

#[test]
fn secret_service_round_trip_and_missing_entry() {
    if keyring_available(KeyringBackend::SecretService) {
        round_trip(KeyringBackend::SecretService);
    }
}

#[test]
fn wrong_keyring_entry_is_distinct_from_tampering() {
    if !keyring_available(KeyringBackend::SecretService) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("client_share.enc");
    let wallet_id = unique_wallet_id("wrong");
    let saved = save_with_keyring(&path, &wallet_id, KeyringBackend::SecretService);
    let bytes = std::fs::read(&path).unwrap();

    let mut tampered = bytes.clone();
    *tampered.last_mut().unwrap() ^= 1;
    std::fs::write(&path, &tampered).unwrap();
    let err = load_share(&path, Expect::default(), None).unwrap_err();
    assert!(matches!(err, StoreError::Tampered { .. }), "{err}");
    std::fs::write(&path, &bytes).unwrap();

    let entry = keyring::Entry::new(KEYRING_SERVICE, &format!("client/{wallet_id}")).unwrap();
    for other in [rand::random::<[u8; 32]>().to_vec(), b"short".to_vec()] {
        entry.set_secret(&other).unwrap();
        let err = load_share(&path, Expect::default(), None).unwrap_err();
        assert!(matches!(err, StoreError::WrongKeyringKey { .. }), "{err}");
        assert!(err.to_string().contains("backup"), "actionable: {err}");
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "failed loads changed the file"
    );
    delete_keyring_key(&saved.key_source).unwrap();
}

#[test]
fn forced_resave_and_rotation_reuse_the_keyring_key() {
    if !keyring_available(KeyringBackend::SecretService) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("client_share.enc");
    let wallet_id = unique_wallet_id("rot");
    let saved = save_with_keyring(&path, &wallet_id, KeyringBackend::SecretService);
    stage_next(&path, b"refreshed", 2, None).unwrap();
    // Re-saving the same wallet must not strand the staged file's key.
    save_share(
        &path,
        &meta(&wallet_id, ShareParty::Client),
        PLAINTEXT,
        &KeySource::Keyring(KeyringBackend::SecretService),
        Overwrite::Replace,
    )
    .unwrap();
    assert_eq!(promote_next(&path).unwrap().share_version, 2);
    let loaded = load_share(&path, Expect::default(), None).unwrap();
    assert_eq!(
        (&loaded.plaintext[..], loaded.info.share_version),
        (&b"refreshed"[..], 2)
    );
    delete_keyring_key(&saved.key_source).unwrap();
}

#[test]
fn backup_moves_a_share_between_keyring_and_passphrase() {
    if !keyring_available(KeyringBackend::SecretService) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("client_share.enc");
    let backup = dir.path().join("client_share.backup");
    let restored = dir.path().join("restored.enc");
    let wallet_id = unique_wallet_id("bk");
    let saved = save_with_keyring(&share, &wallet_id, KeyringBackend::SecretService);

    export_backup(
        &share,
        &backup,
        None,
        &passphrase("backup pw"),
        Overwrite::Refuse,
    )
    .unwrap();
    // The backup must not depend on the keyring.
    delete_keyring_key(&saved.key_source).unwrap();
    let target = KeySource::Keyring(KeyringBackend::SecretService);
    let imported = import_backup(
        &backup,
        &restored,
        &passphrase("backup pw"),
        &target,
        Overwrite::Refuse,
    )
    .unwrap();
    assert_eq!(imported.key_source, saved.key_source);
    let loaded = load_share(&restored, Expect::default(), None).unwrap();
    assert_eq!(&loaded.plaintext[..], PLAINTEXT);
    delete_keyring_key(&imported.key_source).unwrap();
}

#[test]
fn resolver_picks_an_answering_keyring() {
    if !keyring_available(KeyringBackend::SecretService) {
        return;
    }
    let resolved = resolve_key_source(Some("keyring")).unwrap();
    assert!(
        matches!(
            resolved,
            ResolvedKeySource::Ready(KeySource::Keyring(KeyringBackend::SecretService))
        ),
        "{resolved:?}"
    );
}

const IN_KEYCTL_SESSION: &str = "MPC_TEST_IN_KEYCTL_SESSION";

/// The kernel keyutils backend needs a session keyring this process owns, so
/// the test re-runs itself under `keyctl session -`.
#[test]
fn kernel_keyutils_round_trip() {
    if std::env::var_os(IN_KEYCTL_SESSION).is_some() {
        assert!(keyring_available(KeyringBackend::KernelKeyutils));
        round_trip(KeyringBackend::KernelKeyutils);
        return;
    }
    let spawned = Command::new("keyctl")
        .args(["session", "-"])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "kernel_keyutils_round_trip",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(IN_KEYCTL_SESSION, "1")
        .output();
    let output = match spawned {
        Ok(output) => output,
        Err(e) if std::env::var("MPC_TEST_NO_KEYRING").as_deref() == Ok("1") => {
            eprintln!("SKIPPED: cannot run keyctl ({e}) and MPC_TEST_NO_KEYRING=1");
            return;
        }
        Err(e) => panic!(
            "cannot run `keyctl session -` ({e}); install keyutils or set MPC_TEST_NO_KEYRING=1"
        ),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "keyutils run failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}
