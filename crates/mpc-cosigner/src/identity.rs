//! The co-signer's long-term Noise identity: one X25519 key, created on first
//! start. Clients pin its public key at their first keygen.

use std::fs;
use std::path::Path;

use anyhow::Context;
use mpc_session::Identity;
use mpc_store::StoreError;
use zeroize::Zeroizing;

/// Reads the identity key, or creates it (mode 0600) when there is none.
pub fn load_or_create(path: &Path) -> anyhow::Result<Identity> {
    match load(path) {
        Err(e) if is_not_found(&e) => create(path),
        other => other,
    }
}

fn is_not_found(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

/// Reads the identity key; never creates one.
pub fn load(path: &Path) -> anyhow::Result<Identity> {
    match fs::read(path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            let private: &[u8; 32] = bytes
                .as_slice()
                .try_into()
                .with_context(|| format!("{} is not a 32-byte identity key", path.display()))?;
            Ok(Identity::from_bytes(private)?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Writes a new key create-only (owner-only, whole or not at all): when two
/// co-signers sharing a data dir start together, exactly one key is written
/// and the other start adopts it.
fn create(path: &Path) -> anyhow::Result<Identity> {
    let identity = Identity::generate()?;
    let dir = path.parent().context("identity path has no directory")?;
    fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    match mpc_store::write_private_new(path, identity.to_bytes().as_slice()) {
        Ok(()) => {
            tracing::info!(public_key = %hex::encode(identity.public_key()), "created co-signer identity");
            Ok(identity)
        }
        Err(StoreError::AlreadyExists { .. }) => load(path),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_first_starts_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.key");
        let keys: Vec<[u8; 32]> = std::thread::scope(|scope| {
            let starts: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| load_or_create(&path).unwrap().public_key()))
                .collect();
            starts.into_iter().map(|s| s.join().unwrap()).collect()
        });
        assert!(keys.iter().all(|key| key == &keys[0]));
        assert_eq!(load_or_create(&path).unwrap().public_key(), keys[0]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["identity.key"], "no temp file is left behind");
    }
}
