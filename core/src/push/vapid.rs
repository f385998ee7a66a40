//! VAPID (RFC 8292): how the relay identifies itself to push services, so that a subscription
//! made for our application server key only accepts messages signed by us.
//!
//! Each request carries `Authorization: vapid t=<JWT>, k=<public key>`: an ES256 JWT whose
//! claims say which push service it is for (`aud`, the endpoint's origin), until when
//! (`exp`, at most 24 hours ahead) and whom to contact about it (`sub`, a `mailto:` or `https:`
//! URI), signed with the relay's P-256 key, whose uncompressed public key is `k`.
//!
//! Key storage: the private key is its 32-byte big-endian scalar in unpadded base64url (43
//! characters); the public key, which apps pass as `applicationServerKey`, is the 65-byte
//! uncompressed point in unpadded base64url (87 characters).

use std::fmt;

use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::subscription::{EndpointSecurity, P256_POINT_LEN, P256_SCALAR_LEN, PushEndpoint};
use super::{b64url_decode, b64url_encode, generate_p256_secret};
use crate::clock::UnixMillis;
use crate::device::KeyGenerationError;

/// Longest a VAPID token may stay valid (RFC 8292 §2: `exp` no more than 24 hours ahead).
pub const MAX_VAPID_VALIDITY_SECS: u32 = 24 * 60 * 60;
/// The JOSE header of every VAPID token (RFC 8292 §2).
const JWT_HEADER: &str = r#"{"typ":"JWT","alg":"ES256"}"#;
/// Longest contact URI accepted.
const MAX_CONTACT_LEN: usize = 256;

/// What is wrong with a VAPID key, contact or token request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VapidError {
    /// The stored private key is not base64url.
    #[error(
        "the VAPID private key is not base64url; it is the 32-byte key in base64url (43 characters), as `fieldsync push keygen` prints it"
    )]
    BadBase64,
    /// The stored private key has the wrong length.
    #[error("the VAPID private key is {len} bytes; it must be the 32-byte P-256 private key")]
    WrongKeyLength {
        /// Its decoded length.
        len: usize,
    },
    /// The stored private key is zero or not below the group order.
    #[error("the VAPID private key is not a valid P-256 private key")]
    BadPrivateKey,
    /// The contact is not a `mailto:` address or `https:` URL.
    #[error(
        "the VAPID contact {contact:?} must be a mailto: address or an https: URL (RFC 8292 §2.1): {why}"
    )]
    BadContact {
        /// The contact given.
        contact: String,
        /// What is wrong with it.
        why: String,
    },
    /// The requested validity is zero or longer than 24 hours.
    #[error("a VAPID token must expire within 24 hours (1..={max} seconds), not {secs} seconds")]
    ValidityOutOfRange {
        /// The validity asked for.
        secs: u32,
        /// [`MAX_VAPID_VALIDITY_SECS`].
        max: u32,
    },
}

/// The application server's contact, the JWT `sub` claim: `mailto:ops@example.com` or an
/// `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VapidContact(String);

impl VapidContact {
    /// Checks a contact URI.
    pub fn parse(text: &str) -> Result<Self, VapidError> {
        let text = text.trim();
        let bad = |why: &str| VapidError::BadContact { contact: text.to_owned(), why: why.to_owned() };
        if text.len() > MAX_CONTACT_LEN {
            return Err(bad("it is longer than 256 characters"));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("it contains spaces or control characters"));
        }
        if let Some(address) = text.strip_prefix("mailto:") {
            match address.split_once('@') {
                Some((local, domain))
                    if !local.is_empty() && domain.contains('.') && !domain.ends_with('.') => {}
                _ => return Err(bad("the address after mailto: is not user@domain")),
            }
        } else if text.get(..8).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://")) {
            PushEndpoint::parse(text, EndpointSecurity::HttpsOnly).map_err(|e| bad(&e.to_string()))?;
        } else {
            return Err(bad("it starts with neither mailto: nor https://"));
        }
        Ok(VapidContact(text.to_owned()))
    }

    /// The URI.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The claims of a VAPID token, in the order they are serialised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VapidClaims {
    /// The push service's origin, `scheme://host[:port]`.
    pub aud: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
    /// The contact URI.
    pub sub: String,
}

impl VapidClaims {
    /// Claims for messages to `endpoint`, valid for `validity_secs` (1 s to 24 h) from `now`.
    pub fn new(
        endpoint: &PushEndpoint,
        contact: &VapidContact,
        now: UnixMillis,
        validity_secs: u32,
    ) -> Result<Self, VapidError> {
        if validity_secs == 0 || validity_secs > MAX_VAPID_VALIDITY_SECS {
            return Err(VapidError::ValidityOutOfRange { secs: validity_secs, max: MAX_VAPID_VALIDITY_SECS });
        }
        Ok(VapidClaims {
            aud: endpoint.origin().to_owned(),
            exp: now.div_euclid(1000).saturating_add(i64::from(validity_secs)),
            sub: contact.as_str().to_owned(),
        })
    }
}

/// The application server's VAPID signing key.
#[derive(Clone)]
pub struct VapidKey {
    signing: SigningKey,
}

impl VapidKey {
    /// Makes a new key from the operating system's randomness.
    pub fn generate() -> Result<Self, KeyGenerationError> {
        Ok(VapidKey { signing: SigningKey::from(generate_p256_secret()?) })
    }

    /// Rebuilds the key from its 32-byte private scalar.
    pub fn from_private_bytes(bytes: &[u8]) -> Result<Self, VapidError> {
        if bytes.len() != P256_SCALAR_LEN {
            return Err(VapidError::WrongKeyLength { len: bytes.len() });
        }
        let signing = SigningKey::from_slice(bytes).map_err(|_| VapidError::BadPrivateKey)?;
        Ok(VapidKey { signing })
    }

    /// Rebuilds the key from its stored form (base64url of the 32-byte scalar).
    pub fn from_base64url(text: &str) -> Result<Self, VapidError> {
        Self::from_private_bytes(&b64url_decode(text).ok_or(VapidError::BadBase64)?)
    }

    /// The stored form: base64url of the 32-byte private scalar. Secret.
    pub fn to_base64url(&self) -> String {
        b64url_encode(&self.signing.to_bytes())
    }

    /// The public key, uncompressed (65 bytes).
    pub fn public_key(&self) -> [u8; P256_POINT_LEN] {
        let point = self.signing.verifying_key().to_sec1_point(false);
        let mut out = [0u8; P256_POINT_LEN];
        out.copy_from_slice(point.as_bytes());
        out
    }

    /// The public key in base64url: the `k` parameter and the apps' `applicationServerKey`.
    pub fn public_key_base64url(&self) -> String {
        b64url_encode(&self.public_key())
    }

    /// The key that checks this key's signatures.
    pub fn verifying_key(&self) -> &VerifyingKey {
        self.signing.verifying_key()
    }

    /// The signed JWT for `claims`: `header.claims.signature`, each part base64url, the
    /// signature the 64-byte `r ‖ s` of ES256 (RFC 7518 §3.4).
    pub fn sign_jwt(&self, claims: &VapidClaims) -> String {
        // Claims in sorted order: some push services have insisted on it.
        let claims_json =
            serde_json::json!({ "aud": claims.aud, "exp": claims.exp, "sub": claims.sub }).to_string();
        let signing_input =
            format!("{}.{}", b64url_encode(JWT_HEADER.as_bytes()), b64url_encode(claims_json.as_bytes()));
        let signature: Signature = self.signing.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", b64url_encode(&signature.to_bytes()))
    }

    /// The `Authorization` header value for a message to `endpoint`:
    /// `vapid t=<JWT>, k=<public key>` (RFC 8292 §3).
    pub fn authorization(
        &self,
        endpoint: &PushEndpoint,
        contact: &VapidContact,
        now: UnixMillis,
        validity_secs: u32,
    ) -> Result<String, VapidError> {
        let claims = VapidClaims::new(endpoint, contact, now, validity_secs)?;
        Ok(format!("vapid t={}, k={}", self.sign_jwt(&claims), self.public_key_base64url()))
    }
}

impl fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the private key.
        f.debug_struct("VapidKey").field("public_key", &self.public_key_base64url()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::signature::Verifier;

    use super::*;

    /// 2026-05-01T08:00:00Z.
    const NOW: UnixMillis = 1_777_622_400_000;

    fn endpoint() -> PushEndpoint {
        PushEndpoint::parse("https://Push.Example.net:8443/wpush/v2/abc?x=1", EndpointSecurity::HttpsOnly)
            .unwrap()
    }

    fn contact() -> VapidContact {
        VapidContact::parse("mailto:ops@fieldsync.example").unwrap()
    }

    /// Splits `vapid t=…, k=…` and checks the JWT's signature against `k` with p256 alone.
    fn verify(header: &str) -> (serde_json::Value, VapidClaims) {
        let rest = header.strip_prefix("vapid ").expect("vapid scheme");
        let (t, k) = rest.split_once(", ").expect("t and k");
        let token = t.strip_prefix("t=").expect("t=");
        let key = b64url_decode(k.strip_prefix("k=").expect("k=")).unwrap();
        let (signing_input, signature) = token.rsplit_once('.').unwrap();
        let signature = Signature::from_slice(&b64url_decode(signature).unwrap()).unwrap();
        VerifyingKey::from_sec1_bytes(&key).unwrap().verify(signing_input.as_bytes(), &signature).unwrap();
        let (jose, claims) = signing_input.split_once('.').unwrap();
        let jose: serde_json::Value = serde_json::from_slice(&b64url_decode(jose).unwrap()).unwrap();
        let claims: VapidClaims = serde_json::from_slice(&b64url_decode(claims).unwrap()).unwrap();
        (jose, claims)
    }

    #[test]
    fn the_authorization_header_verifies_with_k_and_carries_the_right_claims() {
        let key = VapidKey::generate().unwrap();
        let header = key.authorization(&endpoint(), &contact(), NOW, 12 * 3600).unwrap();
        let (jose, claims) = verify(&header);
        assert_eq!(jose, serde_json::json!({"typ": "JWT", "alg": "ES256"}));
        assert_eq!(claims.aud, "https://push.example.net:8443");
        assert_eq!(claims.exp, NOW / 1000 + 12 * 3600);
        assert_eq!(claims.sub, "mailto:ops@fieldsync.example");
        assert!(header.ends_with(&format!(", k={}", key.public_key_base64url())));
    }

    #[test]
    fn a_signature_does_not_verify_for_other_claims_or_another_key() {
        let key = VapidKey::generate().unwrap();
        let claims = VapidClaims::new(&endpoint(), &contact(), NOW, 60).unwrap();
        let token = key.sign_jwt(&claims);
        let (signing_input, signature) = token.rsplit_once('.').unwrap();
        let signature = Signature::from_slice(&b64url_decode(signature).unwrap()).unwrap();
        assert!(key.verifying_key().verify(signing_input.as_bytes(), &signature).is_ok());
        let tampered = signing_input.replacen('.', ".e", 1);
        assert!(key.verifying_key().verify(tampered.as_bytes(), &signature).is_err());
        let other = VapidKey::generate().unwrap();
        assert!(other.verifying_key().verify(signing_input.as_bytes(), &signature).is_err());
    }

    #[test]
    fn expiry_must_be_within_24_hours() {
        let claims = VapidClaims::new(&endpoint(), &contact(), NOW, MAX_VAPID_VALIDITY_SECS).unwrap();
        assert_eq!(claims.exp - NOW / 1000, 86_400);
        let err = VapidClaims::new(&endpoint(), &contact(), NOW, MAX_VAPID_VALIDITY_SECS + 1).unwrap_err();
        assert_eq!(err, VapidError::ValidityOutOfRange { secs: 86_401, max: 86_400 });
        let err = VapidClaims::new(&endpoint(), &contact(), NOW, 0).unwrap_err();
        assert!(matches!(err, VapidError::ValidityOutOfRange { secs: 0, .. }));
    }

    #[test]
    fn the_stored_key_round_trips_and_bad_stored_keys_are_refused() {
        let key = VapidKey::generate().unwrap();
        let stored = key.to_base64url();
        assert_eq!(stored.len(), 43);
        assert_eq!(key.public_key_base64url().len(), 87);
        let again = VapidKey::from_base64url(&stored).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        assert!(!format!("{key:?}").contains(&stored));

        assert_eq!(VapidKey::from_base64url("not base64!").unwrap_err(), VapidError::BadBase64);
        assert_eq!(
            VapidKey::from_base64url(&b64url_encode(&[1u8; 31])).unwrap_err(),
            VapidError::WrongKeyLength { len: 31 }
        );
        assert_eq!(VapidKey::from_private_bytes(&[0u8; 32]).unwrap_err(), VapidError::BadPrivateKey);
        assert_eq!(VapidKey::from_private_bytes(&[0xffu8; 32]).unwrap_err(), VapidError::BadPrivateKey);
    }

    #[test]
    fn a_known_private_key_gives_its_known_public_key() {
        // The RFC 8291 Appendix A application-server key pair, reused as a fixed P-256 pair.
        let key = VapidKey::from_base64url("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw").unwrap();
        assert_eq!(
            key.public_key_base64url(),
            "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
        );
    }

    #[test]
    fn contacts_must_be_mailto_or_https() {
        for good in ["mailto:ops@fieldsync.example", "https://fieldsync.example/contact", "HTTPS://x.example"]
        {
            assert_eq!(VapidContact::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "ops@fieldsync.example",
            "mailto:",
            "mailto:ops",
            "mailto:@fieldsync.example",
            "mailto:ops@localhost",
            "mailto:o ps@fieldsync.example",
            "http://fieldsync.example",
            "https://",
            "tel:+8613800000000",
            "https:/é/x.example",
        ] {
            assert!(matches!(VapidContact::parse(bad), Err(VapidError::BadContact { .. })), "{bad}");
        }
        let long = format!("mailto:{}@fieldsync.example", "a".repeat(300));
        assert!(matches!(VapidContact::parse(&long), Err(VapidError::BadContact { .. })));
    }
}
