//! This phone's identity: an Ed25519 key pair made on first open, and the device id derived from it.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::ids::DeviceId;

/// The device's signing key and id. The secret never leaves this type except to be stored.
#[derive(Clone)]
pub struct DeviceIdentity {
    signing_key: SigningKey,
    device_id: DeviceId,
}

/// The operating system could not supply randomness for a new key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct KeyGenerationError(String);

impl KeyGenerationError {
    /// The generator failed for `reason` (also used by the Web Push keys in [`crate::push`]).
    pub(crate) fn new(reason: String) -> Self {
        KeyGenerationError(reason)
    }
}

impl DeviceIdentity {
    /// Makes a new identity from the operating system's randomness.
    pub fn generate() -> Result<Self, KeyGenerationError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| KeyGenerationError(e.to_string()))?;
        Ok(Self::from_secret(secret))
    }

    /// Rebuilds an identity from its stored 32-byte secret.
    pub fn from_secret(secret: [u8; 32]) -> Self {
        let signing_key = SigningKey::from_bytes(&secret);
        let device_id = DeviceId::from_public_key(signing_key.verifying_key().as_bytes());
        DeviceIdentity { signing_key, device_id }
    }

    /// The 32-byte secret, for the store (or, later, the phone's keystore) to keep.
    pub(crate) fn secret(&self) -> [u8; 32] {
        self.signing_key.to_bytes()
    }

    /// The device id; also the Automerge actor of every change this device makes.
    pub fn device_id(&self) -> DeviceId {
        self.device_id
    }

    /// The Ed25519 public key the device enrolls with.
    pub fn public_key(&self) -> [u8; 32] {
        self.signing_key.verifying_key().to_bytes()
    }

    /// Signs `message` with the device key.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing_key.sign(message).to_bytes()
    }

    /// Checks an Ed25519 signature made by the holder of `public_key`.
    pub fn verify(public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
        VerifyingKey::from_bytes(public_key)
            .map(|key| key.verify(message, &Signature::from_bytes(signature)).is_ok())
            .unwrap_or(false)
    }
}

impl fmt::Debug for DeviceIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        f.debug_struct("DeviceIdentity").field("device_id", &self.device_id).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_with_the_public_key_and_fail_when_tampered() {
        let identity = DeviceIdentity::generate().unwrap();
        let signature = identity.sign(b"slip content");
        assert!(DeviceIdentity::verify(&identity.public_key(), b"slip content", &signature));
        assert!(!DeviceIdentity::verify(&identity.public_key(), b"slip c0ntent", &signature));
        let other = DeviceIdentity::generate().unwrap();
        assert!(!DeviceIdentity::verify(&other.public_key(), b"slip content", &signature));
    }

    #[test]
    fn identity_round_trips_through_its_secret() {
        let identity = DeviceIdentity::generate().unwrap();
        let again = DeviceIdentity::from_secret(identity.secret());
        assert_eq!(again.device_id(), identity.device_id());
        assert_eq!(again.public_key(), identity.public_key());
        assert!(!format!("{identity:?}").contains(&hex::encode(identity.secret())));
    }
}
