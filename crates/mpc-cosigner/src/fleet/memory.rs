//! The fleet's replay memory: every accepted session id, create-only in the
//! sessions bucket, kept for twice the freshness window. Any replica refuses
//! an id any other accepted, before a restart or after.

use async_nats::jetstream::kv;

use super::FleetError;
use crate::replay::Admission;

pub struct FleetMemory {
    sessions: kv::Store,
}

impl FleetMemory {
    pub fn new(sessions: kv::Store) -> FleetMemory {
        FleetMemory { sessions }
    }

    /// Remembers an authenticated request's session id; a replay is refused.
    pub async fn admit(&self, session_id: &str, issued_at: u64) -> Result<Admission, FleetError> {
        match self
            .sessions
            .create(session_id, issued_at.to_string().into())
            .await
        {
            Ok(_) => Ok(Admission::Fresh),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(Admission::Replayed),
            Err(e) => Err(FleetError::jetstream("remember a session id")(
                e.to_string(),
            )),
        }
    }
}
