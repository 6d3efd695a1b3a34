//! Keygens started by `POST /keygen/init` and collected by
//! `POST /keygen/complete`: each runs as its own task, so init answers at
//! once and a dropped `complete` connection loses nothing.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::Value;
use tokio::sync::watch;

use super::error::HttpError;

/// How many keygens may run at once; more is a misbehaving caller.
const MAX_RUNNING: usize = 8;
/// A finished result nobody collected is dropped after this long.
const UNCOLLECTED_TTL: Duration = Duration::from_secs(600);

/// `None` while running; then when it finished and how.
type Outcome = Option<(Instant, Result<Value, HttpError>)>;

struct Pending {
    out: PathBuf,
    outcome: watch::Receiver<Outcome>,
}

#[derive(Default)]
pub struct Keygens {
    pending: Mutex<HashMap<String, Pending>>,
}

impl Keygens {
    /// Starts `keygen` writing to `out` and returns the id to complete it with.
    pub fn start<F>(&self, out: &Path, keygen: F) -> Result<String, HttpError>
    where
        F: Future<Output = Result<Value, HttpError>> + Send + 'static,
    {
        let mut pending = self.pending.lock().expect("keygen map lock");
        pending.retain(|_, p| !is_stale(p));
        let running: Vec<&Pending> = pending.values().filter(|p| is_running(p)).collect();
        if running.iter().any(|p| p.out == out) {
            return Err(HttpError::new(
                StatusCode::CONFLICT,
                "keygen_in_progress",
                format!("a keygen writing {} is already running", out.display()),
            ));
        }
        if running.len() >= MAX_RUNNING {
            return Err(HttpError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_keygens",
                format!("{MAX_RUNNING} keygens are already running: complete them first"),
            ));
        }
        let session_id = uuid::Uuid::new_v4().to_string();
        let (send, outcome) = watch::channel(None);
        tokio::spawn(async move {
            let result = keygen.await;
            let _ = send.send(Some((Instant::now(), result)));
        });
        pending.insert(
            session_id.clone(),
            Pending {
                out: out.to_owned(),
                outcome,
            },
        );
        Ok(session_id)
    }

    /// Waits for the keygen `session_id` and hands out its result, once.
    pub async fn complete(&self, session_id: &str) -> Result<Value, HttpError> {
        let mut outcome = {
            let pending = self.pending.lock().expect("keygen map lock");
            let entry = pending.get(session_id).ok_or_else(|| {
                HttpError::new(
                    StatusCode::NOT_FOUND,
                    "unknown_session",
                    format!(
                        "no keygen {session_id:?} is pending: start one with POST /keygen/init \
                         (results are handed out once)"
                    ),
                )
            })?;
            entry.outcome.clone()
        };
        let result = match outcome.wait_for(Option::is_some).await {
            Ok(done) => done.as_ref().expect("waited for Some").1.clone(),
            Err(_) => Err(HttpError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the keygen task ended without a result",
            )),
        };
        self.pending
            .lock()
            .expect("keygen map lock")
            .remove(session_id);
        result
    }
}

fn is_running(pending: &Pending) -> bool {
    pending.outcome.borrow().is_none()
}

/// A result nobody collected for too long.
fn is_stale(pending: &Pending) -> bool {
    pending
        .outcome
        .borrow()
        .as_ref()
        .is_some_and(|(finished, _)| finished.elapsed() > UNCOLLECTED_TTL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_keygen_per_file_and_each_result_handed_out_once() {
        let keygens = Keygens::default();
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let id = keygens
            .start(Path::new("a.enc"), async move {
                released.await.expect("released");
                Ok(serde_json::json!({"address": "0xabc"}))
            })
            .unwrap();
        let busy = keygens
            .start(Path::new("a.enc"), async { unreachable!("refused") })
            .unwrap_err();
        assert_eq!(
            (busy.status, busy.code),
            (StatusCode::CONFLICT, "keygen_in_progress")
        );

        release.send(()).unwrap();
        assert_eq!(keygens.complete(&id).await.unwrap()["address"], "0xabc");
        let gone = keygens.complete(&id).await.unwrap_err();
        assert_eq!(
            (gone.status, gone.code),
            (StatusCode::NOT_FOUND, "unknown_session")
        );
        // The file is free again once its keygen ended.
        keygens
            .start(Path::new("a.enc"), async { Ok(Value::Null) })
            .unwrap();
    }

    #[tokio::test]
    async fn a_failed_keygen_returns_its_error_and_too_many_are_refused() {
        let keygens = Keygens::default();
        let failed = keygens
            .start(Path::new("x.enc"), async {
                Err(HttpError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "cosigner_unreachable",
                    "down",
                ))
            })
            .unwrap();
        let error = keygens.complete(&failed).await.unwrap_err();
        assert_eq!(error.code, "cosigner_unreachable");

        for n in 0..MAX_RUNNING {
            keygens
                .start(Path::new(&format!("{n}.enc")), std::future::pending())
                .unwrap();
        }
        let refused = keygens
            .start(Path::new("more.enc"), std::future::pending())
            .unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    }
}
