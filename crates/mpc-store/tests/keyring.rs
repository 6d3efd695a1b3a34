//! Keyring-encrypted shares against the platform's real OS keyring. On Linux
//! run them through `scripts/with-keyring cargo test -p mpc-store`; without a
//! keyring these tests fail unless MPC_TEST_NO_KEYRING=1. Platforms without
//! a keyring backend have none of these tests (the resolver tests cover them).
#![cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]

mod common;

use std::path::Path;

use common::*;
use mpc_store::{
    delete_keyring_key, export_backup, import_backup, load_share, promote_next, resolve_key_source,
    save_share, stage_next, Expect, KeySource, KeySourceDescriptor, KeyringBackend, Overwrite,
    ResolvedKeySource, ShareInfo, ShareParty, StoreError, KEYRING_SERVICE,
};

/// The platform's own keyring, which new keyring-encrypted files use.
fn native() -> KeyringBackend {
    KeyringBackend::native().expect("this platform has a keyring backend")
}

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
    assert_owner_only(&path);

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
fn native_keyring_round_trip_and_missing_entry() {
    if keyring_available(native()) {
        round_trip(native());
    }
}

#[test]
fn wrong_keyring_entry_is_distinct_from_tampering() {
    if !keyring_available(native()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("client_share.enc");
    let wallet_id = unique_wallet_id("wrong");
    let saved = save_with_keyring(&path, &wallet_id, native());
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
    if !keyring_available(native()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("client_share.enc");
    let wallet_id = unique_wallet_id("rot");
    let saved = save_with_keyring(&path, &wallet_id, native());
    stage_next(&path, b"refreshed", 2, None).unwrap();
    // Re-saving the same wallet must not strand the staged file's key.
    save_share(
        &path,
        &meta(&wallet_id, ShareParty::Client),
        PLAINTEXT,
        &KeySource::Keyring(native()),
        Overwrite::Replace,
    )
    .unwrap();
    assert_eq!(promote_next(&path, None).unwrap().share_version, 2);
    let loaded = load_share(&path, Expect::default(), None).unwrap();
    assert_eq!(
        (&loaded.plaintext[..], loaded.info.share_version),
        (&b"refreshed"[..], 2)
    );
    delete_keyring_key(&saved.key_source).unwrap();
}

#[test]
fn backup_moves_a_share_between_keyring_and_passphrase() {
    if !keyring_available(native()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("client_share.enc");
    let backup = dir.path().join("client_share.backup");
    let restored = dir.path().join("restored.enc");
    let wallet_id = unique_wallet_id("bk");
    let saved = save_with_keyring(&share, &wallet_id, native());

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
    let target = KeySource::Keyring(native());
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
    if !keyring_available(native()) {
        return;
    }
    let resolved = resolve_key_source(Some("keyring")).unwrap();
    assert!(
        matches!(resolved, ResolvedKeySource::Ready(KeySource::Keyring(b)) if b == native()),
        "{resolved:?}"
    );
}

#[cfg(target_os = "linux")]
const IN_KEYCTL_SESSION: &str = "MPC_TEST_IN_KEYCTL_SESSION";

/// Linux's second backend, the kernel keyutils, needs a session keyring this
/// process owns, so the test re-runs itself under `keyctl session -`.
#[cfg(target_os = "linux")]
#[test]
fn kernel_keyutils_round_trip() {
    if std::env::var_os(IN_KEYCTL_SESSION).is_some() {
        assert!(keyring_available(KeyringBackend::KernelKeyutils));
        round_trip(KeyringBackend::KernelKeyutils);
        return;
    }
    let spawned = std::process::Command::new("keyctl")
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
