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
    match fs::read(path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            let private: &[u8; 32] = bytes
                .as_slice()
                .try_into()
                .with_context(|| format!("{} is not a 32-byte identity key", path.display()))?;
            Ok(Identity::from_bytes(private)?)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path),
        Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
    }
}

fn create(path: &Path) -> anyhow::Result<Identity> {
    let identity = Identity::generate()?;
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    // create_new: two co-signers starting on one data dir must not both write.
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("create {}", path.display()))?;
    file.write_all(identity.to_bytes().as_slice())?;
    file.sync_all()?;
    tracing::info!(public_key = %hex::encode(identity.public_key()), "created co-signer identity");
    Ok(identity)
}
