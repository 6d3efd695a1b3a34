//! Backups (export / import / verify) and two-phase rotation with crash simulation.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use mpc_store::{
    discard_next, export_backup, import_backup, load_share, next_path, pending_next, promote_next,
    save_share, stage_next, verify_backup, Expect, FileKind, KeySource, Overwrite, ShareParty,
    StoreError,
};

fn saved_share(dir: &Path, wallet_id: &str) -> PathBuf {
    let path = dir.join(format!("{wallet_id}.enc"));
    save_share(
        &path,
        &meta(wallet_id, ShareParty::Cosigner),
        PLAINTEXT,
        &KeySource::Passphrase(passphrase("share pw")),
        Overwrite::Refuse,
    )
    .unwrap();
    path
}

fn load_version(path: &Path) -> (Vec<u8>, u32) {
    let loaded = load_share(
        path,
        Expect::party(ShareParty::Cosigner),
        Some(&passphrase("share pw")),
    )
    .unwrap();
    (loaded.plaintext.to_vec(), loaded.info.share_version)
}

#[test]
fn backup_export_verify_import_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let share = saved_share(dir.path(), "w1");
    let backup = dir.path().join("w1.backup");
    let exported = export_backup(
        &share,
        &backup,
        Some(&passphrase("share pw")),
        &passphrase("backup pw"),
        Overwrite::Refuse,
    )
    .unwrap();
    assert_eq!(exported.kind, FileKind::Backup);
    assert_owner_only(&backup);

    let mut seen = None;
    let verified = verify_backup(&backup, &passphrase("backup pw"), |info, plaintext| {
        seen = Some((info.public_key.clone(), plaintext.to_vec()));
        Ok(())
    })
    .unwrap();
    assert_eq!(verified, exported);
    assert_eq!(seen, Some((PUBLIC_KEY.to_string(), PLAINTEXT.to_vec())));

    let restored = dir.path().join("restored.enc");
    let imported = import_backup(
        &backup,
        &restored,
        &passphrase("backup pw"),
        &KeySource::Passphrase(passphrase("new share pw")),
        Overwrite::Refuse,
    )
    .unwrap();
    assert_eq!(imported.kind, FileKind::Share);
    assert_eq!(
        (&imported.wallet_id, imported.party, &imported.metadata),
        (&exported.wallet_id, exported.party, &exported.metadata)
    );
    let loaded = load_share(
        &restored,
        Expect::party(ShareParty::Cosigner).wallet("w1"),
        Some(&passphrase("new share pw")),
    )
    .unwrap();
    assert_eq!(&loaded.plaintext[..], PLAINTEXT);
    assert_owner_only(&restored);
}

#[test]
fn backup_errors_are_specific() {
    let dir = tempfile::tempdir().unwrap();
    let share = saved_share(dir.path(), "w1");
    let backup = dir.path().join("w1.backup");
    export_backup(
        &share,
        &backup,
        Some(&passphrase("share pw")),
        &passphrase("backup pw"),
        Overwrite::Refuse,
    )
    .unwrap();

    let no_check = |_: &_, _: &[u8]| Ok(());
    let err = verify_backup(&backup, &passphrase("guess"), no_check).unwrap_err();
    assert!(matches!(err, StoreError::WrongPassphrase { .. }), "{err}");
    let err = verify_backup(&backup, &passphrase("backup pw"), |_, _| {
        Err("public key differs".into())
    })
    .unwrap_err();
    assert!(
        matches!(&err, StoreError::BackupCheckFailed { detail } if detail == "public key differs"),
        "{err}"
    );
    let err = verify_backup(&share, &passphrase("share pw"), no_check).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::WrongKind {
                expected: FileKind::Backup,
                found: FileKind::Share,
                ..
            }
        ),
        "{err}"
    );
    let err = load_share(&backup, Expect::default(), Some(&passphrase("backup pw"))).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::WrongKind {
                expected: FileKind::Share,
                found: FileKind::Backup,
                ..
            }
        ),
        "{err}"
    );

    let err = export_backup(
        &share,
        &backup,
        Some(&passphrase("share pw")),
        &passphrase("b"),
        Overwrite::Refuse,
    )
    .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
    let target = KeySource::Passphrase(passphrase("x"));
    let err = import_backup(
        &backup,
        &share,
        &passphrase("backup pw"),
        &target,
        Overwrite::Refuse,
    )
    .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
    let err = import_backup(
        &backup,
        &dir.path().join("n.enc"),
        &passphrase("nope"),
        &target,
        Overwrite::Refuse,
    )
    .unwrap_err();
    assert!(matches!(err, StoreError::WrongPassphrase { .. }), "{err}");
    assert!(!dir.path().join("n.enc").exists());
    assert_eq!(load_version(&share), (PLAINTEXT.to_vec(), 1));
}

#[test]
fn stage_then_promote_replaces_the_share() {
    let dir = tempfile::tempdir().unwrap();
    let share = saved_share(dir.path(), "w1");
    assert_eq!(pending_next(&share).unwrap(), None);

    let staged = stage_next(&share, b"refreshed share", 2, Some(&passphrase("share pw"))).unwrap();
    assert_eq!(staged.share_version, 2);
    assert_eq!(pending_next(&share).unwrap(), Some(2));
    assert_owner_only(&next_path(&share));
    assert_eq!(
        load_version(&share),
        (PLAINTEXT.to_vec(), 1),
        "current untouched until promoted"
    );

    assert_eq!(
        promote_next(&share, Some(&passphrase("share pw")))
            .unwrap()
            .share_version,
        2
    );
    assert_eq!(load_version(&share), (b"refreshed share".to_vec(), 2));
    assert_eq!(pending_next(&share).unwrap(), None);
    let err = promote_next(&share, Some(&passphrase("share pw"))).unwrap_err();
    assert!(matches!(err, StoreError::NoStagedShare { .. }), "{err}");
}

#[test]
fn staging_rules() {
    let dir = tempfile::tempdir().unwrap();
    let share = saved_share(dir.path(), "w1");
    let err = stage_next(&share, b"x", 1, Some(&passphrase("share pw"))).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::VersionNotIncreasing {
                current: 1,
                requested: 1
            }
        ),
        "{err}"
    );
    let err = stage_next(&share, b"x", 2, Some(&passphrase("wrong"))).unwrap_err();
    assert!(matches!(err, StoreError::WrongPassphrase { .. }), "{err}");
    assert_eq!(pending_next(&share).unwrap(), None);

    stage_next(&share, b"x", 2, Some(&passphrase("share pw"))).unwrap();
    assert!(discard_next(&share).unwrap());
    assert!(!discard_next(&share).unwrap());
    assert_eq!(load_version(&share), (PLAINTEXT.to_vec(), 1));

    // A `.next` that belongs to another wallet is never promoted.
    let other = saved_share(dir.path(), "w2");
    stage_next(&other, b"x", 2, Some(&passphrase("share pw"))).unwrap();
    std::fs::rename(next_path(&other), next_path(&share)).unwrap();
    let err = promote_next(&share, Some(&passphrase("share pw"))).unwrap_err();
    assert!(matches!(err, StoreError::WrongWallet { .. }), "{err}");
    assert_eq!(load_version(&share), (PLAINTEXT.to_vec(), 1));

    // Nor one whose bytes changed: its header is authenticated before the rename.
    stage_next(&share, b"x", 2, Some(&passphrase("share pw"))).unwrap();
    let mut staged = std::fs::read(next_path(&share)).unwrap();
    let last = staged.len() - 1;
    staged[last] ^= 1;
    std::fs::write(next_path(&share), staged).unwrap();
    let err = promote_next(&share, Some(&passphrase("share pw"))).unwrap_err();
    assert!(matches!(err, StoreError::Tampered { .. }), "{err}");
    assert_eq!(load_version(&share), (PLAINTEXT.to_vec(), 1));
}

#[test]
fn failed_staging_leaves_current_and_no_temp() {
    let dir = tempfile::tempdir().unwrap();
    let share = saved_share(dir.path(), "w1");
    std::fs::create_dir_all(next_path(&share).join("occupied")).unwrap();
    let err = stage_next(&share, b"x", 2, Some(&passphrase("share pw"))).unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err}");
    assert!(
        temp_files(dir.path()).is_empty(),
        "{:?}",
        temp_files(dir.path())
    );
    assert_eq!(load_version(&share), (PLAINTEXT.to_vec(), 1));
}

/// Every state a crash can leave behind yields a loadable current share of
/// exactly one version.
#[test]
fn crash_at_any_step_leaves_a_working_share() {
    let dir = tempfile::tempdir().unwrap();
    let share = saved_share(dir.path(), "w1");

    // Crash while writing the staged file: only a partial temp exists.
    let stray = dir.path().join(".w1.enc.next.tmp.0123456789abcdef");
    std::fs::write(&stray, b"MPCSHARE\x00\x01 partial").unwrap();
    assert_eq!(load_version(&share), (PLAINTEXT.to_vec(), 1));
    assert_eq!(pending_next(&share).unwrap(), None);

    // Crash after staging, before promotion: old share current, new one pending.
    stage_next(&share, b"v2", 2, Some(&passphrase("share pw"))).unwrap();
    assert_eq!(load_version(&share), (PLAINTEXT.to_vec(), 1));
    assert_eq!(pending_next(&share).unwrap(), Some(2));

    // Recovery after restart: promote; a crash after the rename shows the new share.
    promote_next(&share, Some(&passphrase("share pw"))).unwrap();
    assert_eq!(load_version(&share), (b"v2".to_vec(), 2));
    assert!(!next_path(&share).exists());
    assert!(stray.exists(), "strays are ignored, not misread");
}
