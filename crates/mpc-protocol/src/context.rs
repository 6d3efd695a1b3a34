//! Session ids that both parties contribute to, so neither can force the
//! reuse of an old one.

use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::channel::{Party, PeerChannel, Round};
use crate::error::{ErrorKind, Result};
use crate::wire::Wire;

/// Domain tag of every session id this crate derives.
const SESSION_ID_DOMAIN: &[u8] = b"mpc-wallet/session-id/v1";

/// What both parties must agree on before a protocol run: the transport's
/// session id and an application label (for example the wallet id). They
/// are bound, with fresh nonces from both sides, into the DKLs23 session id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionContext {
    pub transport_session_id: Vec<u8>,
    pub label: String,
}

impl SessionContext {
    pub fn new(transport_session_id: impl Into<Vec<u8>>, label: impl Into<String>) -> Self {
        SessionContext {
            transport_session_id: transport_session_id.into(),
            label: label.into(),
        }
    }

    /// Length-prefixed fields, so no two different inputs hash alike.
    fn hash_fields(&self, operation: &str, request: &[u8], nonces: &[&[u8; 32]]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(SESSION_ID_DOMAIN);
        let fields = [
            operation.as_bytes(),
            self.label.as_bytes(),
            &self.transport_session_id,
            request,
        ];
        for field in fields.into_iter().chain(nonces.iter().map(|n| &n[..])) {
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field);
        }
        hasher.finalize().into()
    }
}

/// The `<op>.nonce` round's message.
#[derive(Serialize, Deserialize)]
struct NonceMessage {
    /// The sender's role; two clients (or two co-signers) cannot pair up.
    party: Party,
    /// Hash of what the sender believes the context is; a mismatch is a
    /// clear error here instead of an obscure proof failure later.
    context: [u8; 32],
    nonce: [u8; 32],
}

/// Runs the `<op>.nonce` round and returns the DKLs23 session id:
/// SHA-256(domain ‖ op ‖ label ‖ transport id ‖ request ‖ client nonce ‖
/// cosigner nonce), each field length-prefixed. `request` is what both sides
/// must be asked to do (for signing: key, path and digest), so a mismatch
/// fails here, by name.
pub(crate) async fn agree_session_id<C: PeerChannel>(
    wire: &mut Wire<'_, C>,
    round: Round,
    operation: &str,
    request: &[u8],
    context: &SessionContext,
) -> Result<Vec<u8>> {
    let mut ours = NonceMessage {
        party: wire.party,
        context: context.hash_fields(operation, request, &[]),
        nonce: [0; 32],
    };
    OsRng.fill_bytes(&mut ours.nonce);
    let theirs: NonceMessage = wire.exchange(round, &ours).await?;
    if theirs.party != wire.party.peer() {
        return Err(wire.error(
            round,
            ErrorKind::InvalidInput {
                detail: format!(
                    "both sides hold a {} share: one side must be the client, the other the \
                     co-signer",
                    wire.party
                ),
            },
        ));
    }
    if theirs.context != ours.context {
        return Err(wire.error(
            round,
            ErrorKind::InvalidInput {
                detail: format!(
                    "the peer was asked for something else (operation {operation:?}, label {:?}): \
                     both sides must use the same transport session id, label, key and request",
                    context.label
                ),
            },
        ));
    }
    let (client, cosigner) = match wire.party {
        Party::Client => (&ours.nonce, &theirs.nonce),
        Party::Cosigner => (&theirs.nonce, &ours.nonce),
    };
    Ok(context
        .hash_fields(operation, request, &[client, cosigner])
        .to_vec())
}
