//! What CBOR costs a signature: the real round messages of one recorded run,
//! decoded into their real DKLs23 types and encoded again, many times over.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use dkls23::protocols::signing::{Broadcast3to4, TransmitPhase1to2, TransmitPhase2to3};
use k256::Secp256k1;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::inprocess::Trace;
use crate::stats::round2;

/// How often each message is decoded and encoded, to rise above the clock.
const ITERATIONS: u32 = 200;

/// CBOR work of one round, both parties' messages together.
#[derive(Debug, Serialize)]
pub struct RoundCost {
    pub messages: usize,
    pub bytes: usize,
    pub encode_us: f64,
    pub decode_us: f64,
}

#[derive(Debug, Serialize)]
pub struct CborCost {
    /// Per signature, both parties: each message is encoded twice by its
    /// sender (mpc-protocol's wire.rs sizes the buffer with a counting pass
    /// first, so no secret is left in a reallocated buffer) and decoded once.
    pub cbor_ms: f64,
    pub protocol_messages: usize,
    pub protocol_bytes: usize,
    pub rounds: BTreeMap<&'static str, RoundCost>,
}

/// Mean time to decode `payload` as a `T`, and to encode that value again.
fn cost_as<T: Serialize + DeserializeOwned>(
    payload: &[u8],
) -> anyhow::Result<(Duration, Duration)> {
    let value: T = ciborium::from_reader(payload).context("decode a recorded message")?;
    let start = Instant::now();
    for _ in 0..ITERATIONS {
        let decoded: T = ciborium::from_reader(std::hint::black_box(payload))?;
        std::hint::black_box(decoded);
    }
    let decode = start.elapsed() / ITERATIONS;
    let start = Instant::now();
    for _ in 0..ITERATIONS {
        let mut out = Vec::with_capacity(payload.len());
        ciborium::into_writer(std::hint::black_box(&value), &mut out)?;
        std::hint::black_box(out);
    }
    Ok((decode, start.elapsed() / ITERATIONS))
}

/// Signing rounds by their real message type; the nonce round's type is
/// private to mpc-protocol, so it goes through the generic CBOR value.
fn cost(round: &str, payload: &[u8]) -> anyhow::Result<(Duration, Duration)> {
    match round {
        "sign.1" => cost_as::<Vec<TransmitPhase1to2>>(payload),
        "sign.2" => cost_as::<Vec<TransmitPhase2to3<Secp256k1>>>(payload),
        "sign.3" => cost_as::<Broadcast3to4<Secp256k1>>(payload),
        _ => cost_as::<ciborium::Value>(payload),
    }
}

pub fn measure(trace: &Trace) -> anyhow::Result<CborCost> {
    let mut rounds: BTreeMap<&'static str, RoundCost> = BTreeMap::new();
    let mut total = Duration::ZERO;
    for message in &trace.messages {
        let (decode, encode) = cost(message.round.as_str(), &message.payload)
            .with_context(|| format!("round {}", message.round))?;
        total += decode + encode * 2;
        let round = rounds.entry(message.round.as_str()).or_insert(RoundCost {
            messages: 0,
            bytes: 0,
            encode_us: 0.0,
            decode_us: 0.0,
        });
        round.messages += 1;
        round.bytes += message.payload.len();
        round.encode_us += encode.as_secs_f64() * 1e6;
        round.decode_us += decode.as_secs_f64() * 1e6;
    }
    for round in rounds.values_mut() {
        round.encode_us = round2(round.encode_us);
        round.decode_us = round2(round.decode_us);
    }
    Ok(CborCost {
        // Microsecond resolution: the whole is about a millisecond.
        cbor_ms: (total.as_secs_f64() * 1e6).round() / 1e3,
        protocol_messages: trace.messages.len(),
        protocol_bytes: trace.messages.iter().map(|m| m.payload.len()).sum(),
        rounds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inprocess;

    #[tokio::test(flavor = "multi_thread")]
    async fn decodes_a_real_signing_run_with_the_real_message_types() {
        let shares = inprocess::keygen().await.unwrap();
        let trace = inprocess::traced_sign(&shares).await.unwrap();
        let cost = measure(&trace).unwrap();
        // Both parties send one message per round.
        assert_eq!(cost.protocol_messages, 8);
        assert_eq!(
            cost.rounds.keys().copied().collect::<Vec<_>>(),
            ["sign.1", "sign.2", "sign.3", "sign.nonce"]
        );
        assert!(cost.rounds.values().all(|round| round.messages == 2));
        assert_eq!(
            cost.protocol_bytes,
            cost.rounds.values().map(|round| round.bytes).sum::<usize>()
        );
        assert!(cost.cbor_ms > 0.0);
        assert!(trace.longest_step > Duration::ZERO);
    }

    #[test]
    fn a_message_of_another_type_is_an_error() {
        let nonce_like = {
            let mut out = Vec::new();
            ciborium::into_writer(&("client", [7u8; 32]), &mut out).unwrap();
            out
        };
        assert!(cost("sign.nonce", &nonce_like).is_ok());
        assert!(cost("sign.3", &nonce_like).is_err());
    }
}
