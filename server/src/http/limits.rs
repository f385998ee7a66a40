//! Rate limits (docs/operations.md, "Rate limits"): token buckets per device, per IP address and
//! per enrollment key, kept in memory.
//!
//! What they are for:
//! - guessing enrollment codes: wrong codes (and every other refused enrollment) are counted per
//!   address and per device key; once a bucket is empty that address or key is locked out of
//!   enrollment, right code or not, until it refills;
//! - guessing tokens: unknown tokens are counted per address; an address with too many is
//!   refused before its tokens are looked up;
//! - one device hogging the relay: sync, blob and other requests are counted per device.
//!
//! A refusal is `429` with `Retry-After` (seconds) and a code: `too_many_attempts` for the
//! lockouts, `rate_limited` for the per-device limits. The phone's client waits that long before
//! it tries again.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

use crate::http::app::AppState;
use crate::http::error::ApiError;

/// One limit: a bucket of `burst` requests, refilled at `per_minute`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Requests allowed at once, from a full bucket.
    pub burst: u32,
    /// Requests added back per minute.
    pub per_minute: u32,
}

impl Rate {
    const fn new(burst: u32, per_minute: u32) -> Self {
        Rate { burst, per_minute }
    }
}

/// The `[rate_limits]` table of the relay's configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Off only for benchmarks that measure the relay itself (their simulated devices run
    /// faster than any phone).
    pub enabled: bool,
    /// Refused enrollments (wrong code, bad signature, malformed body) per client address.
    pub enroll_failures_per_ip: Rate,
    /// Refused enrollments per device key.
    pub enroll_failures_per_key: Rate,
    /// Requests with an unknown or revoked token per client address.
    pub token_failures_per_ip: Rate,
    /// Sync exchanges and document snapshots per device.
    pub sync_per_device: Rate,
    /// Blob requests (HEAD, GET, PUT chunks) per device.
    pub blobs_per_device: Rate,
    /// Every other authenticated request per device (alerts, review, push registrations).
    pub other_per_device: Rate,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            enabled: true,
            enroll_failures_per_ip: Rate::new(10, 6),
            enroll_failures_per_key: Rate::new(5, 2),
            token_failures_per_ip: Rate::new(30, 30),
            sync_per_device: Rate::new(300, 1800),
            blobs_per_device: Rate::new(200, 1200),
            other_per_device: Rate::new(100, 600),
        }
    }
}

impl RateLimits {
    /// A clear message for a limit that cannot work.
    pub fn check(&self) -> Result<(), String> {
        for (name, rate) in self.named() {
            if rate.burst == 0 || rate.per_minute == 0 {
                return Err(format!(
                    "rate_limits.{name} needs burst and per_minute above 0 (set rate_limits.enabled = false to turn limits off)"
                ));
            }
        }
        Ok(())
    }

    fn named(&self) -> [(&'static str, Rate); 6] {
        [
            ("enroll_failures_per_ip", self.enroll_failures_per_ip),
            ("enroll_failures_per_key", self.enroll_failures_per_key),
            ("token_failures_per_ip", self.token_failures_per_ip),
            ("sync_per_device", self.sync_per_device),
            ("blobs_per_device", self.blobs_per_device),
            ("other_per_device", self.other_per_device),
        ]
    }

    fn rate(&self, limit: Limit) -> Rate {
        match limit {
            Limit::EnrollFailuresPerIp => self.enroll_failures_per_ip,
            Limit::EnrollFailuresPerKey => self.enroll_failures_per_key,
            Limit::TokenFailuresPerIp => self.token_failures_per_ip,
            Limit::SyncPerDevice => self.sync_per_device,
            Limit::BlobsPerDevice => self.blobs_per_device,
            Limit::OtherPerDevice => self.other_per_device,
        }
    }
}

/// Which limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// [`RateLimits::enroll_failures_per_ip`].
    EnrollFailuresPerIp,
    /// [`RateLimits::enroll_failures_per_key`].
    EnrollFailuresPerKey,
    /// [`RateLimits::token_failures_per_ip`].
    TokenFailuresPerIp,
    /// [`RateLimits::sync_per_device`].
    SyncPerDevice,
    /// [`RateLimits::blobs_per_device`].
    BlobsPerDevice,
    /// [`RateLimits::other_per_device`].
    OtherPerDevice,
}

impl Limit {
    /// The limit's name in the configuration and in `/metrics`.
    pub fn name(self) -> &'static str {
        match self {
            Limit::EnrollFailuresPerIp => "enroll_failures_per_ip",
            Limit::EnrollFailuresPerKey => "enroll_failures_per_key",
            Limit::TokenFailuresPerIp => "token_failures_per_ip",
            Limit::SyncPerDevice => "sync_per_device",
            Limit::BlobsPerDevice => "blobs_per_device",
            Limit::OtherPerDevice => "other_per_device",
        }
    }

    /// The per-device limit a request path counts against.
    pub fn for_path(path: &str) -> Limit {
        if path == "/v1/sync" || path.starts_with("/v1/documents/") {
            Limit::SyncPerDevice
        } else if path.starts_with("/v1/blobs/") {
            Limit::BlobsPerDevice
        } else {
            Limit::OtherPerDevice
        }
    }
}

/// Whom a bucket counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// A client address.
    Ip(IpAddr),
    /// An enrolled device.
    Device([u8; 16]),
    /// A device key that tries to enroll.
    PublicKey([u8; 32]),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets this many at most; past it, full ones are dropped, and if that frees less than a
/// quarter, all (limits then start afresh rather than the relay's memory growing without bound).
const MAX_BUCKETS: usize = 100_000;

/// The buckets.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    buckets: Mutex<HashMap<(Limit, Key), Bucket>>,
}

impl RateLimiter {
    /// Limiter for `limits`.
    pub fn new(limits: RateLimits) -> Self {
        RateLimiter { limits, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request from the bucket; `Err(wait)` when it is empty.
    pub fn take(&self, limit: Limit, key: Key) -> Result<(), Duration> {
        self.with_bucket(limit, key, true)
    }

    /// Whether the bucket has a request left, without taking it; `Err(wait)` when empty.
    pub fn peek(&self, limit: Limit, key: Key) -> Result<(), Duration> {
        self.with_bucket(limit, key, false)
    }

    /// Counts a failure against the bucket (it may already be empty).
    pub fn record(&self, limit: Limit, key: Key) {
        let _ = self.with_bucket(limit, key, true);
    }

    fn with_bucket(&self, limit: Limit, key: Key, take: bool) -> Result<(), Duration> {
        if !self.limits.enabled {
            return Ok(());
        }
        let rate = self.limits.rate(limit);
        let per_second = f64::from(rate.per_minute) / 60.0;
        let capacity = f64::from(rate.burst);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&(limit, key)) {
            let limits = &self.limits;
            buckets.retain(|(l, _), b| {
                let r = limits.rate(*l);
                let refilled =
                    b.tokens + now.duration_since(b.at).as_secs_f64() * f64::from(r.per_minute) / 60.0;
                refilled < f64::from(r.burst)
            });
            // Each prune must free a quarter at least, or one new key per request would pay a
            // scan of every bucket.
            if buckets.len() > MAX_BUCKETS / 4 * 3 {
                tracing::warn!("rate limiter full: its buckets start afresh");
                buckets.clear();
            }
        }
        let bucket = buckets.entry((limit, key)).or_insert(Bucket { tokens: capacity, at: now });
        bucket.tokens =
            (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * per_second).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            if take {
                bucket.tokens -= 1.0;
            }
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

/// The 429 for an empty bucket: `Retry-After` in whole seconds, at least 1.
pub fn refusal(limit: Limit, wait: Duration, metrics: &crate::metrics::Metrics) -> ApiError {
    metrics.record_rate_limited(limit.name());
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let (code, message) = match limit {
        Limit::EnrollFailuresPerIp | Limit::EnrollFailuresPerKey => (
            "too_many_attempts",
            format!("too many refused enrollments; check the code and try again in {seconds} s"),
        ),
        Limit::TokenFailuresPerIp => (
            "too_many_attempts",
            format!("too many requests with unknown tokens from this address; try again in {seconds} s"),
        ),
        _ => (
            "rate_limited",
            format!("this device sends requests faster than the relay allows; retry in {seconds} s"),
        ),
    };
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message).with_retry_after(seconds)
}

/// The client's address: the connection's peer, or with `trust_forwarded_for` the address the
/// reverse proxy in front of the relay appended last to `X-Forwarded-For`. Requests served
/// without a socket (in-process tests) count as `0.0.0.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    fn of(headers: &HeaderMap, peer: Option<SocketAddr>, trust_forwarded_for: bool) -> IpAddr {
        if trust_forwarded_for {
            // The proxy appends the address it saw last; entries before it are the client's to
            // choose, so only the last one counts (and one that does not parse counts as none).
            let forwarded = headers
                .get_all("x-forwarded-for")
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|a| a.trim().parse::<IpAddr>().ok());
            if let Some(ip) = forwarded {
                return ip;
            }
        }
        peer.map(|p| p.ip()).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        Ok(ClientIp(ClientIp::of(&parts.headers, peer, state.config.trust_forwarded_for)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rate: Rate) -> RateLimiter {
        RateLimiter::new(RateLimits { sync_per_device: rate, ..RateLimits::default() })
    }

    #[test]
    fn a_bucket_allows_its_burst_then_says_how_long_to_wait() {
        let l = limiter(Rate::new(3, 60));
        let device = Key::Device([1; 16]);
        for _ in 0..3 {
            l.take(Limit::SyncPerDevice, device).unwrap();
        }
        let wait = l.take(Limit::SyncPerDevice, device).unwrap_err();
        assert!(wait <= Duration::from_secs(1) && wait > Duration::from_millis(900), "{wait:?}");
        // Another device, and another limit of the same device, have buckets of their own.
        l.take(Limit::SyncPerDevice, Key::Device([2; 16])).unwrap();
        l.take(Limit::BlobsPerDevice, device).unwrap();
    }

    #[test]
    fn peek_does_not_take_and_record_empties() {
        let l = limiter(Rate::new(2, 60));
        let ip = Key::Ip("10.1.2.3".parse().unwrap());
        let limit = Limit::EnrollFailuresPerIp;
        for _ in 0..20 {
            l.peek(limit, ip).unwrap();
        }
        for _ in 0..10 {
            l.record(limit, ip);
        }
        assert!(l.peek(limit, ip).is_err());
    }

    #[test]
    fn disabled_limits_allow_everything() {
        let l = RateLimiter::new(RateLimits { enabled: false, ..RateLimits::default() });
        for _ in 0..10_000 {
            l.take(Limit::OtherPerDevice, Key::Device([0; 16])).unwrap();
        }
    }

    #[test]
    fn paths_count_against_their_limit() {
        assert_eq!(Limit::for_path("/v1/sync"), Limit::SyncPerDevice);
        assert_eq!(Limit::for_path("/v1/documents/abc"), Limit::SyncPerDevice);
        assert_eq!(Limit::for_path("/v1/blobs/00ff"), Limit::BlobsPerDevice);
        assert_eq!(Limit::for_path("/v1/alerts"), Limit::OtherPerDevice);
    }

    #[test]
    fn the_forwarded_address_counts_only_when_trusted() {
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", "203.0.113.9, 198.51.100.7".parse().unwrap());
        let peer = Some(SocketAddr::from(([127, 0, 0, 1], 5000)));
        assert_eq!(ClientIp::of(&headers, peer, false), IpAddr::from([127, 0, 0, 1]));
        assert_eq!(ClientIp::of(&headers, peer, true), IpAddr::from([198, 51, 100, 7]));
        assert_eq!(ClientIp::of(&HeaderMap::new(), None, true), IpAddr::from([0, 0, 0, 0]));
        // A last entry that is not an address does not let an earlier, client-chosen one count.
        let mut spoofed = HeaderMap::new();
        spoofed.append("x-forwarded-for", "198.51.100.7, unknown".parse().unwrap());
        assert_eq!(ClientIp::of(&spoofed, peer, true), IpAddr::from([127, 0, 0, 1]));
    }

    #[test]
    fn zero_rates_are_refused_in_the_configuration() {
        let bad = RateLimits { blobs_per_device: Rate::new(0, 10), ..RateLimits::default() };
        assert!(bad.check().unwrap_err().contains("blobs_per_device"));
        RateLimits::default().check().unwrap();
    }
}
