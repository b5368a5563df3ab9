//! One HTTP delivery: a bounded, timed POST.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::config::{DeliverySettings, Target};

/// The header carrying the event id, the same on every delivery of one event.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// The header carrying `sha256=<hex HMAC-SHA256 of the body keyed by the secret>`.
pub const SIGNATURE_HEADER: &str = "X-Incident-Signature";

/// How much of a response body is read (for the error message); the rest is dropped.
const RESPONSE_LIMIT: u64 = 64 * 1024;

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Worth another attempt (network error, timeout, 5xx, 408, 429).
    Retry(String),
    /// The receiver refused the request (other 4xx); retrying would not help.
    Refused(String),
}

/// `sha256=<hex>` of `body` keyed by `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(7 + 64);
    hex.push_str("sha256=");
    for b in bytes {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// A client with the timeouts of `settings`; no redirects (a URL is only what the config
/// says), statuses returned rather than raised.
pub(super) fn agent(settings: &DeliverySettings) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(settings.connect_timeout))
        .timeout_global(Some(settings.request_timeout))
        .timeout_recv_response(Some(settings.request_timeout))
        .timeout_recv_body(Some(settings.request_timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent(concat!("incident/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// POSTs `body` to `target`. Errors name the target, never its secret.
pub(super) fn post(
    agent: &ureq::Agent,
    target: &Target,
    event_id: &str,
    event_kind: &str,
    body: &[u8],
) -> Outcome {
    let mut req = agent
        .post(&target.url)
        .header("Content-Type", "application/json")
        .header(IDEMPOTENCY_HEADER, event_id)
        .header("X-Incident-Event", event_kind);
    if let Some(secret) = &target.secret {
        req = req.header(SIGNATURE_HEADER, signature(secret.bytes(), body));
    }
    match req.send(body) {
        Ok(mut resp) => {
            let status = resp.status().as_u16();
            let text = resp
                .body_mut()
                .with_config()
                .limit(RESPONSE_LIMIT)
                .read_to_string()
                .unwrap_or_default();
            let said = answer_excerpt(&text);
            let reason = if said.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {said}")
            };
            match status {
                200..=299 => Outcome::Delivered,
                408 | 429 | 500..=599 => Outcome::Retry(reason),
                _ => Outcome::Refused(reason),
            }
        }
        Err(e) => Outcome::Retry(match e {
            ureq::Error::Timeout(t) => format!("timed out ({t})"),
            other => other.to_string(),
        }),
    }
}

/// The start of a receiver's answer as it goes into the outbox, logs and terminals: one
/// line of at most 200 characters, control characters (escape sequences) made spaces.
fn answer_excerpt(text: &str) -> String {
    let start: String = text.trim().chars().take(200).collect();
    crate::text::sanitize(&start)
}

/// The wait before attempt `attempts + 1`: `initial * 2^(attempts-1)`, capped, times a
/// jitter factor in [0.5, 1) drawn from `seed` so retries of many messages spread out.
pub fn backoff(settings: &DeliverySettings, attempts: u32, seed: &str) -> Duration {
    let exp = settings
        .backoff_initial
        .saturating_mul(1u32 << attempts.saturating_sub(1).min(20))
        .min(settings.backoff_max);
    let h = xxhash_rust::xxh3::xxh3_64(format!("{seed}/{attempts}").as_bytes());
    let factor = 0.5 + (h % 1000) as f64 / 2000.0;
    exp.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receivers_answer_is_kept_to_one_plain_line() {
        assert_eq!(
            answer_excerpt("  upstream\n\x1b[31mdown\r\n"),
            "upstream  [31mdown"
        );
        assert_eq!(answer_excerpt(&"あ".repeat(300)).chars().count(), 200);
    }

    #[test]
    fn signature_matches_rfc4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let s = DeliverySettings {
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            ..DeliverySettings::default()
        };
        for attempts in 1..=10u32 {
            let d = backoff(&s, attempts, "evt-1/t");
            let full = Duration::from_secs(1 << (attempts - 1)).min(Duration::from_secs(60));
            assert!(
                d >= full / 2 && d < full,
                "attempt {attempts}: {d:?} vs {full:?}"
            );
        }
        assert_ne!(backoff(&s, 3, "evt-1/t"), backoff(&s, 3, "evt-2/t"));
    }
}
