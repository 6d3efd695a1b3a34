//! The co-signer's long-term Noise identity: one X25519 key, created on first
//! start. Clients pin its public key at their first keygen.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;
use mpc_session::Identity;
use zeroize::Zeroizing;

/// Reads the identity key, or creates it (mode 0600) when there is none.
pub fn load_or_create(path: &Path) -> anyhow::Result<Identity> {
    match read(path) {
        Err(e) if is_not_found(&e) => create(path),
        other => other,
    }
}

fn is_not_found(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

fn read(path: &Path) -> anyhow::Result<Identity> {
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

/// Writes a new key to a private temp file and links it into place: the key
/// appears whole or not at all, and when two co-signers sharing a data dir
/// start together, the second one adopts the first one's key.
fn create(path: &Path) -> anyhow::Result<Identity> {
    let identity = Identity::generate()?;
    let dir = path.parent().context("identity path has no directory")?;
    fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    // Named after the new key, so concurrent starts never share a temp file.
    let temp = dir.join(format!(
        ".identity-{}.tmp",
        hex::encode(&identity.public_key()[..8])
    ));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temp)
        .with_context(|| format!("create {}", temp.display()))?;
    file.write_all(identity.to_bytes().as_slice())?;
    file.sync_all()?;
    let linked = fs::hard_link(&temp, path);
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => {
            tracing::info!(public_key = %hex::encode(identity.public_key()), "created co-signer identity");
            Ok(identity)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(path),
        Err(e) => Err(e).with_context(|| format!("create {}", path.display())),
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
        let mode = fs::metadata(&path).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
    }
}
