//! Passphrase-encrypted share files: round trip, every bad-input error, atomicity, mode, redaction.

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use common::*;
use mpc_store::{
    load_share, read_info, save_share, Expect, FileKind, KeySource, KeySourceDescriptor, Overwrite,
    ShareParty, StoreError,
};

fn saved_share(dir: &Path) -> PathBuf {
    let path = dir.join("client_share.enc");
    save_share(
        &path,
        &meta("wallet-a", ShareParty::Client),
        PLAINTEXT,
        &KeySource::Passphrase(passphrase("correct horse")),
        Overwrite::Refuse,
    )
    .unwrap();
    path
}

/// Writes `bytes` to a new file and loads it with the right passphrase; the
/// file must be left exactly as it was.
fn load_bytes(dir: &Path, bytes: &[u8]) -> StoreError {
    let path = dir.join("bad.enc");
    std::fs::write(&path, bytes).unwrap();
    let err = load_share(&path, Expect::default(), Some(&passphrase("correct horse"))).unwrap_err();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "a failed load changed the file"
    );
    err
}

#[test]
fn passphrase_round_trip_keeps_plaintext_and_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("client_share.enc");
    let mut input = meta("wallet-a", ShareParty::Client);
    input.public_key = format!("0x{}", PUBLIC_KEY.to_uppercase());
    let started = Instant::now();
    let saved = save_share(
        &path,
        &input,
        PLAINTEXT,
        &KeySource::Passphrase(passphrase("correct horse")),
        Overwrite::Refuse,
    )
    .unwrap();
    let save_ms = started.elapsed().as_millis();

    let started = Instant::now();
    let loaded = load_share(
        &path,
        Expect::party(ShareParty::Client).wallet("wallet-a"),
        Some(&passphrase("correct horse")),
    )
    .unwrap();
    eprintln!(
        "argon2id save {save_ms} ms, load {} ms",
        started.elapsed().as_millis()
    );

    assert_eq!(&loaded.plaintext[..], PLAINTEXT);
    assert_eq!(loaded.info, saved);
    assert_eq!(loaded.info.kind, FileKind::Share);
    assert_eq!(
        loaded.info.public_key, PUBLIC_KEY,
        "normalised to lowercase without 0x"
    );
    assert_eq!(loaded.info.curve, "secp256k1");
    assert_eq!(loaded.info.share_version, 1);
    assert_eq!(loaded.info.metadata, input.metadata);
    let KeySourceDescriptor::Passphrase { argon2id } = &loaded.info.key_source else {
        panic!(
            "expected passphrase source, got {:?}",
            loaded.info.key_source
        );
    };
    assert!(argon2id.m_cost_kib >= 19 * 1024 && argon2id.t_cost >= 2 && argon2id.p_cost >= 1);
    assert_eq!(argon2id.salt.len(), 32);
    assert_eq!(read_info(&path).unwrap(), saved);
    assert_owner_only(&path);
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn file_starts_with_magic_and_holds_no_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(saved_share(dir.path())).unwrap();
    assert_eq!(&bytes[..10], b"MPCSHARE\x00\x01");
    assert!(!bytes.windows(PLAINTEXT.len()).any(|w| w == PLAINTEXT));
}

#[test]
fn wrong_and_missing_passphrase_are_distinct_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved_share(dir.path());
    let before = std::fs::read(&path).unwrap();
    let err = load_share(&path, Expect::default(), Some(&passphrase("wrong horse"))).unwrap_err();
    assert!(matches!(err, StoreError::WrongPassphrase { .. }), "{err}");
    let err = load_share(&path, Expect::default(), None).unwrap_err();
    assert!(
        matches!(err, StoreError::PassphraseRequired { .. }),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn truncated_files_are_reported_as_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(saved_share(dir.path())).unwrap();
    for len in [0, 4, 12, 40, bytes.len() - 30, bytes.len() - 1] {
        let err = load_bytes(dir.path(), &bytes[..len]);
        assert!(
            matches!(err, StoreError::Truncated { .. }),
            "cut at {len}: {err}"
        );
    }
}

#[test]
fn tampered_header_or_ciphertext_is_reported_as_tampered() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(saved_share(dir.path())).unwrap();

    // A header value changed but still valid CBOR: only the AEAD notices.
    let at = bytes.windows(8).position(|w| w == b"wallet-a").unwrap();
    let mut header_edit = bytes.clone();
    header_edit[at + 7] = b'b';
    // A header byte that breaks the CBOR structure.
    let mut header_garbage = bytes.clone();
    header_garbage[14] = 0xff;
    // The last ciphertext byte (inside the GCM tag) and an appended byte.
    let mut ciphertext_edit = bytes.clone();
    *ciphertext_edit.last_mut().unwrap() ^= 1;
    let mut appended = bytes.clone();
    appended.push(0);

    for (case, tampered) in [
        ("header value", header_edit),
        ("header structure", header_garbage),
        ("ciphertext", ciphertext_edit),
        ("trailing byte", appended),
    ] {
        let err = load_bytes(dir.path(), &tampered);
        assert!(matches!(err, StoreError::Tampered { .. }), "{case}: {err}");
    }
}

#[test]
fn unknown_version_and_foreign_files_have_their_own_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(saved_share(dir.path())).unwrap();
    bytes[9] = 2;
    let err = load_bytes(dir.path(), &bytes);
    assert!(
        matches!(
            err,
            StoreError::UnknownFormatVersion {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );
    for foreign in [
        &b"{\"not\": \"a share\"}"[..],
        b"MPCSHAPE and more text",
        b"\x00",
    ] {
        let err = load_bytes(dir.path(), foreign);
        assert!(matches!(err, StoreError::NotAShareFile { .. }), "{err}");
    }
    let err = load_share(&dir.path().join("absent.enc"), Expect::default(), None).unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}

#[test]
fn other_party_and_other_wallet_are_refused_before_asking_for_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved_share(dir.path());
    let err = load_share(&path, Expect::party(ShareParty::Cosigner), None).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::WrongParty {
                expected: ShareParty::Cosigner,
                found: ShareParty::Client,
                ..
            }
        ),
        "{err}"
    );
    let err = load_share(
        &path,
        Expect::party(ShareParty::Client).wallet("wallet-b"),
        None,
    )
    .unwrap_err();
    assert!(
        matches!(&err, StoreError::WrongWallet { expected, found, .. } if expected == "wallet-b" && found == "wallet-a"),
        "{err}"
    );
}

#[test]
fn existing_share_is_replaced_only_when_forced() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved_share(dir.path());
    let before = std::fs::read(&path).unwrap();
    let source = KeySource::Passphrase(passphrase("other"));
    let mut newer = meta("wallet-a", ShareParty::Client);
    newer.share_version = 7;
    let err = save_share(&path, &newer, b"new", &source, Overwrite::Refuse).unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
    assert!(err.to_string().contains("--force"));
    assert_eq!(std::fs::read(&path).unwrap(), before);

    save_share(&path, &newer, b"new", &source, Overwrite::from_force(true)).unwrap();
    let loaded = load_share(&path, Expect::default(), Some(&passphrase("other"))).unwrap();
    assert_eq!(
        (&loaded.plaintext[..], loaded.info.share_version),
        (&b"new"[..], 7)
    );
    assert_owner_only(&path);
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn failed_write_leaves_old_file_and_no_temp() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved_share(dir.path());
    let before = std::fs::read(&path).unwrap();
    // The rename target is a non-empty directory: the write fails after the
    // temp file was complete (we run as root, so a read-only dir would not stop us).
    let blocked = dir.path().join("blocked.enc");
    std::fs::create_dir_all(blocked.join("inside")).unwrap();
    let err = save_share(
        &blocked,
        &meta("wallet-a", ShareParty::Client),
        PLAINTEXT,
        &KeySource::Passphrase(passphrase("correct horse")),
        Overwrite::Replace,
    )
    .unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err}");
    assert!(
        temp_files(dir.path()).is_empty(),
        "{:?}",
        temp_files(dir.path())
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn invalid_inputs_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let source = KeySource::Passphrase(passphrase("p"));
    for bad_id in ["", ".hidden", "a/b", "wallet id", &"x".repeat(129)] {
        let err = save_share(
            &dir.path().join("s.enc"),
            &meta(bad_id, ShareParty::Client),
            PLAINTEXT,
            &source,
            Overwrite::Refuse,
        )
        .unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidWalletId { .. }),
            "{bad_id:?}: {err}"
        );
    }
    for bad_key in ["zz", "04a1", &format!("04{}", &PUBLIC_KEY[2..])] {
        let mut m = meta("w", ShareParty::Client);
        m.public_key = bad_key.to_string();
        let err = save_share(
            &dir.path().join("s.enc"),
            &m,
            PLAINTEXT,
            &source,
            Overwrite::Refuse,
        )
        .unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidPublicKey { .. }),
            "{bad_key}: {err}"
        );
    }
    assert!(matches!(
        mpc_store::Passphrase::new(String::new()),
        Err(StoreError::EmptyPassphrase)
    ));
    assert!(!dir.path().join("s.enc").exists());
}

#[test]
fn secrets_never_appear_in_debug_or_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved_share(dir.path());
    let loaded = load_share(&path, Expect::default(), Some(&passphrase("correct horse"))).unwrap();
    let debug = format!("{loaded:?}");
    assert!(
        debug.contains("redacted") && debug.contains("wallet-a"),
        "{debug}"
    );
    assert!(!debug.contains("share-bytes") && !debug.contains(&format!("{:?}", &PLAINTEXT[..8])));

    let secret = passphrase("correct horse");
    assert_eq!(format!("{secret:?}"), "Passphrase(<redacted>)");
    assert!(!format!("{:?}", KeySource::Passphrase(secret)).contains("horse"));
    let err = load_share(&path, Expect::default(), Some(&passphrase("wrong horse"))).unwrap_err();
    assert!(!format!("{err} {err:?}").contains("horse"));
}
