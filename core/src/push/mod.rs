//! Web Push for stall alerts: what the relay needs to send a push message to a supervisor's phone
//! or browser, and what the phone needs to read one (DESIGN §6, issue 6).
//!
//! The pieces follow the three RFCs that browsers and UnifiedPush distributors speak:
//! - [`subscription`]: the W3C subscription JSON a device registers (endpoint + receiver keys),
//!   validated, and the phone's own [`SubscriptionKeys`] (P-256 key pair + auth secret);
//! - [`ece`]: RFC 8188 `aes128gcm` content coding with RFC 8291 key derivation, both directions;
//! - [`vapid`]: RFC 8292 application-server identification, an ES256 JWT in the
//!   `Authorization: vapid t=…, k=…` header;
//! - [`request`]: the RFC 8030 request (POST, `TTL`, `Urgency`, `Topic`, encrypted body) as a
//!   plain value that any HTTP client can send, and what the push service's answer means.
//!
//! Nothing here does I/O (STYLE §1): the caller gets bytes and headers and performs the POST.
//! The formats, key storage and what is not done yet are written down in `docs/push.md`.

pub mod ece;
pub mod request;
pub mod subscription;
pub mod vapid;

pub use ece::{
    DEFAULT_RECORD_SIZE, EceError, MAX_BODY_LEN, MAX_PLAINTEXT_LEN, MIN_RECORD_SIZE, decrypt, encrypt,
    encrypt_with,
};
pub use request::{PushMessage, PushOutcome, PushRequest, PushRequestError, PushTopic, Urgency};
pub use subscription::{
    EndpointSecurity, PushEndpoint, PushSubscription, ReceiverKeys, SubscriptionError, SubscriptionKeys,
};
pub use vapid::{MAX_VAPID_VALIDITY_SECS, VapidClaims, VapidContact, VapidError, VapidKey};

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::device::KeyGenerationError;

/// Unpadded base64url as Web Push uses it everywhere (keys, auth secrets, JWTs). Decoding also
/// accepts `=` padding, which some subscription producers add.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Encodes bytes as unpadded base64url.
pub(crate) fn b64url_encode(bytes: &[u8]) -> String {
    BASE64URL.encode(bytes)
}

/// Decodes base64url (padded or not); `None` when `text` is not base64url.
pub(crate) fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    BASE64URL.decode(text.trim()).ok()
}

/// Makes a new P-256 secret key from the operating system's randomness.
///
/// A random 32-byte string is a valid scalar unless it is zero or ≥ the group order (odds about
/// 2⁻³²), so a few draws are always enough; a generator that keeps producing invalid scalars is
/// broken and reported as such rather than looped on forever.
pub(crate) fn generate_p256_secret() -> Result<p256::SecretKey, KeyGenerationError> {
    for _ in 0..8 {
        let bytes: [u8; 32] = random_bytes()?;
        if let Ok(key) = p256::SecretKey::from_slice(&bytes) {
            return Ok(key);
        }
    }
    Err(KeyGenerationError::new("it produced no valid P-256 scalar in 8 draws".to_owned()))
}

/// `N` bytes from the operating system's randomness.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], KeyGenerationError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| KeyGenerationError::new(e.to_string()))?;
    Ok(bytes)
}
