//! mpc-store container parser: `read_info` (share and backup files share the
//! container; backups differ only in `kind`) on the input as a whole file, as
//! the CBOR header inside a well-formed prefix, and as edits of a valid file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpc_fuzz::{mutate, scratch_path, VALID_SHARE};
use mpc_store::FORMAT_VERSION;

/// Nonce and tag: the least a file holds after its header.
const NONCE_AND_TAG: usize = 12 + 16;

fn read_info(file: &[u8]) {
    let path = scratch_path("share");
    std::fs::write(&path, file).expect("write scratch file");
    let _ = mpc_store::read_info(&path);
}

fn with_header(header: &[u8]) -> Vec<u8> {
    let mut file = b"MPCSHARE".to_vec();
    file.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    file.extend_from_slice(&(header.len() as u32).to_be_bytes());
    file.extend_from_slice(header);
    file.extend_from_slice(&[0; NONCE_AND_TAG]);
    file
}

fuzz_target!(|data: &[u8]| {
    read_info(data);
    read_info(&with_header(data));
    read_info(&mutate(&VALID_SHARE, data));
});
