//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::path::Path;

use mpc_store::{KeyringBackend, Passphrase, ShareMeta, ShareParty};

pub const PUBLIC_KEY: &str = "02a1633cafcc01ebfb6d78e39f687a1f0995c62fc95f51ead10a02ee0be551b5dc";
pub const PLAINTEXT: &[u8] = b"\xa2fsecretx\x20share-bytes-that-must-not-leak!!";

pub fn meta(wallet_id: &str, party: ShareParty) -> ShareMeta {
    ShareMeta {
        wallet_id: wallet_id.into(),
        party,
        share_version: 1,
        public_key: PUBLIC_KEY.into(),
        metadata: BTreeMap::from([
            ("peer_identity".to_string(), "ab".repeat(32)),
            ("protocol".to_string(), "dkls23".to_string()),
        ]),
    }
}

pub fn passphrase(text: &str) -> Passphrase {
    Passphrase::new(text.to_string()).unwrap()
}

/// A wallet id no earlier run used, so keyring entries never collide.
pub fn unique_wallet_id(prefix: &str) -> String {
    format!("{prefix}-{}", hex::encode(rand::random::<[u8; 8]>()))
}

/// Asserts that only the owner can read or write `path` (mode 0600).
#[cfg(unix)]
pub fn assert_owner_only(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "mode of {}", path.display());
}

/// Modes are a Unix notion: elsewhere a file inherits its directory's ACL.
#[cfg(not(unix))]
pub fn assert_owner_only(_path: &Path) {}

/// Names in `dir` that are in-flight temp files.
pub fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp."))
        .collect()
}

/// Keyring tests must not pass silently without a keyring: they fail unless
/// `MPC_TEST_NO_KEYRING=1` explicitly allows skipping. `true` = run the test.
pub fn keyring_available(backend: KeyringBackend) -> bool {
    match mpc_store::probe_keyring(backend) {
        Ok(()) => true,
        Err(e) if std::env::var("MPC_TEST_NO_KEYRING").as_deref() == Ok("1") => {
            eprintln!("SKIPPED: no {backend:?} keyring ({e}) and MPC_TEST_NO_KEYRING=1");
            false
        }
        Err(e) => panic!(
            "no {backend:?} keyring answers: {e}\nrun the tests as `scripts/with-keyring cargo test -p mpc-store`, \
             or set MPC_TEST_NO_KEYRING=1 to skip keyring tests"
        ),
    }
}
