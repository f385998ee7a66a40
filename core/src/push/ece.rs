//! Push message encryption: RFC 8188 `aes128gcm` content coding with the RFC 8291 key
//! derivation, as one record (RFC 8291 §4 requires a single record for Web Push).
//!
//! A body is `salt (16) ‖ rs (u32, big-endian) ‖ idlen (1) ‖ keyid (65: the sender's ephemeral
//! public key) ‖ AES-128-GCM(plaintext ‖ 0x02 ‖ zero padding)`. The content key and nonce come
//! from ECDH between the sender's ephemeral key and the receiver's `p256dh`, mixed with the
//! receiver's auth secret and the salt through HKDF-SHA-256 (RFC 8291 §3.3–3.4).

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use hkdf::Hkdf;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;

use super::subscription::{AUTH_SECRET_LEN, P256_POINT_LEN, ReceiverKeys, uncompressed};
use super::{generate_p256_secret, random_bytes};
use crate::device::KeyGenerationError;

/// Length of the salt at the start of a body.
pub const SALT_LEN: usize = 16;
/// Length of the header RFC 8291 bodies carry: salt, record size, key id length, 65-byte key id.
pub const HEADER_LEN: usize = SALT_LEN + 4 + 1 + P256_POINT_LEN;
/// Length of the AES-GCM authentication tag.
pub const TAG_LEN: usize = 16;
/// Largest body a push service must accept (RFC 8030 §7.2, RFC 8291 §4).
pub const MAX_BODY_LEN: usize = 4096;
/// Largest plaintext that fits in [`MAX_BODY_LEN`]: the header, the padding delimiter and the
/// tag take the rest (RFC 8291 §4: 3993 octets).
pub const MAX_PLAINTEXT_LEN: usize = MAX_BODY_LEN - HEADER_LEN - 1 - TAG_LEN;
/// The record size written when the caller has no reason to choose another (RFC 8188's
/// default). With one record the body is shorter than this anyway.
pub const DEFAULT_RECORD_SIZE: u32 = 4096;
/// The smallest record size RFC 8188 §2 allows: a tag and a delimiter octet plus one octet.
pub const MIN_RECORD_SIZE: u32 = 18;

/// Why a push message could not be encrypted or decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EceError {
    /// The plaintext does not fit in one Web Push body.
    #[error("the push payload is {len} bytes; at most {max} fit in a Web Push message (4096 bytes of body)")]
    PlaintextTooLarge {
        /// Its length.
        len: usize,
        /// The limit, [`MAX_PLAINTEXT_LEN`].
        max: usize,
    },
    /// The record size asked for cannot hold the plaintext in one record.
    #[error(
        "record size {record_size} is too small: this payload needs at least {needed} (and RFC 8188 at least 18)"
    )]
    RecordSizeTooSmall {
        /// The record size asked for.
        record_size: u32,
        /// What the payload needs.
        needed: u64,
    },
    /// No randomness for the ephemeral key or salt.
    #[error(transparent)]
    Randomness(#[from] KeyGenerationError),
    /// The body is larger than any Web Push message.
    #[error("the push message body is {len} bytes; Web Push bodies are at most {max}")]
    BodyTooLarge {
        /// Its length.
        len: usize,
        /// [`MAX_BODY_LEN`].
        max: usize,
    },
    /// The body ends inside its header.
    #[error(
        "the push message body is {len} bytes, shorter than its {needed}-byte aes128gcm header: truncated"
    )]
    HeaderTruncated {
        /// The body's length.
        len: usize,
        /// The header length needed.
        needed: usize,
    },
    /// The header's record size is below what RFC 8188 allows.
    #[error("the body's record size is {record_size}; RFC 8188 requires at least 18")]
    BadRecordSize {
        /// The record size in the header.
        record_size: u32,
    },
    /// The header's key id is not a 65-byte public key.
    #[error("the body's key id is {len} bytes; Web Push puts the sender's 65-byte public key there")]
    BadKeyIdLength {
        /// The key id length in the header.
        len: u8,
    },
    /// The key id is not a P-256 public key.
    #[error("the body's key id is not an uncompressed P-256 public key")]
    BadSenderKey,
    /// The ciphertext is too short to be a record.
    #[error("the encrypted record is {len} bytes, shorter than a tag and a delimiter (17): truncated")]
    RecordTruncated {
        /// Its length.
        len: usize,
    },
    /// The ciphertext is longer than one record.
    #[error(
        "the body holds {len} bytes of records with record size {record_size}: more than one record, which Web Push does not use"
    )]
    MultipleRecords {
        /// Bytes after the header.
        len: usize,
        /// The record size in the header.
        record_size: u32,
    },
    /// AES-GCM authentication failed: wrong private key or auth secret, or a garbled body.
    #[error(
        "the push message does not decrypt with these keys: it was encrypted to other keys, or it was altered or truncated"
    )]
    AuthenticationFailed,
    /// The record's padding has no final-record delimiter.
    #[error("the decrypted record has no final-record delimiter (0x02) {0}")]
    BadPadding(&'static str),
}

/// Encrypts `plaintext` to `receiver` with a fresh ephemeral key and salt (RFC 8291 §3: never
/// reuse either) and the [`DEFAULT_RECORD_SIZE`].
pub fn encrypt(plaintext: &[u8], receiver: &ReceiverKeys) -> Result<Vec<u8>, EceError> {
    let sender = generate_p256_secret()?;
    let salt: [u8; SALT_LEN] = random_bytes()?;
    encrypt_with(plaintext, receiver, &sender, &salt, DEFAULT_RECORD_SIZE)
}

/// Encrypts `plaintext` to `receiver` with a given ephemeral key, salt and record size. The result
/// is fully determined by the inputs, which is what test vectors need; real messages use
/// [`encrypt`].
pub fn encrypt_with(
    plaintext: &[u8],
    receiver: &ReceiverKeys,
    sender: &SecretKey,
    salt: &[u8; SALT_LEN],
    record_size: u32,
) -> Result<Vec<u8>, EceError> {
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(EceError::PlaintextTooLarge { len: plaintext.len(), max: MAX_PLAINTEXT_LEN });
    }
    // The one record: plaintext, delimiter, tag. No padding beyond the delimiter.
    let needed = (plaintext.len() + 1 + TAG_LEN) as u64;
    if record_size < MIN_RECORD_SIZE || u64::from(record_size) < needed {
        return Err(EceError::RecordSizeTooSmall { record_size, needed: needed.max(MIN_RECORD_SIZE.into()) });
    }
    let sender_public = uncompressed(&sender.public_key());
    let keys = ContentKeys::derive(
        &sender.diffie_hellman(receiver.public_key()),
        receiver.auth(),
        &receiver.p256dh(),
        &sender_public,
        salt,
    );
    let mut record = Vec::with_capacity(plaintext.len() + 1);
    record.extend_from_slice(plaintext);
    record.push(0x02);
    let ciphertext = keys.cipher().encrypt(&keys.nonce(), record.as_slice()).map_err(|_| {
        // AES-GCM encryption fails only for inputs of gigabytes; the length check above rules that out.
        EceError::PlaintextTooLarge { len: plaintext.len(), max: MAX_PLAINTEXT_LEN }
    })?;

    let mut body = Vec::with_capacity(HEADER_LEN + ciphertext.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&record_size.to_be_bytes());
    body.push(P256_POINT_LEN as u8);
    body.extend_from_slice(&sender_public);
    body.extend_from_slice(&ciphertext);
    Ok(body)
}

/// Decrypts a push message body with the receiver's private key and auth secret: what the phone
/// does with a message its push distributor hands it.
pub fn decrypt(
    body: &[u8],
    receiver_private: &SecretKey,
    auth: &[u8; AUTH_SECRET_LEN],
) -> Result<Vec<u8>, EceError> {
    if body.len() > MAX_BODY_LEN {
        return Err(EceError::BodyTooLarge { len: body.len(), max: MAX_BODY_LEN });
    }
    // Fixed part of the header first: the key id length decides the rest.
    if body.len() < SALT_LEN + 5 {
        return Err(EceError::HeaderTruncated { len: body.len(), needed: HEADER_LEN });
    }
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&body[..SALT_LEN]);
    let record_size = u32::from_be_bytes([body[16], body[17], body[18], body[19]]);
    let key_id_len = body[20];
    if usize::from(key_id_len) != P256_POINT_LEN {
        return Err(EceError::BadKeyIdLength { len: key_id_len });
    }
    if body.len() < HEADER_LEN {
        return Err(EceError::HeaderTruncated { len: body.len(), needed: HEADER_LEN });
    }
    if record_size < MIN_RECORD_SIZE {
        return Err(EceError::BadRecordSize { record_size });
    }
    let sender_public = &body[SALT_LEN + 5..HEADER_LEN];
    if sender_public[0] != 0x04 {
        return Err(EceError::BadSenderKey);
    }
    let sender = PublicKey::from_sec1_bytes(sender_public).map_err(|_| EceError::BadSenderKey)?;

    let ciphertext = &body[HEADER_LEN..];
    if ciphertext.len() < TAG_LEN + 1 {
        return Err(EceError::RecordTruncated { len: ciphertext.len() });
    }
    if ciphertext.len() as u64 > u64::from(record_size) {
        return Err(EceError::MultipleRecords { len: ciphertext.len(), record_size });
    }

    let receiver_public = uncompressed(&receiver_private.public_key());
    let keys = ContentKeys::derive(
        &receiver_private.diffie_hellman(&sender),
        auth,
        &receiver_public,
        sender_public,
        &salt,
    );
    let mut record =
        keys.cipher().decrypt(&keys.nonce(), ciphertext).map_err(|_| EceError::AuthenticationFailed)?;

    // RFC 8188 §2: strip trailing zero padding; the last non-zero octet is the delimiter, and in
    // the last (here: only) record it must be 0x02.
    let Some(delimiter_at) = record.iter().rposition(|&b| b != 0) else {
        return Err(EceError::BadPadding("(the record is all padding)"));
    };
    match record[delimiter_at] {
        0x02 => {
            record.truncate(delimiter_at);
            Ok(record)
        }
        0x01 => Err(EceError::BadPadding("(it is marked as not the last record: the message is truncated)")),
        _ => Err(EceError::BadPadding("(the octet before the padding is neither 0x01 nor 0x02)")),
    }
}

/// The content-encryption key and nonce of one message (RFC 8291 §3.4, RFC 8188 §2.2–2.3).
struct ContentKeys {
    cek: [u8; 16],
    nonce: [u8; 12],
}

impl ContentKeys {
    /// HKDF chain: ECDH secret + auth → IKM; salt + IKM → CEK and NONCE.
    fn derive(
        ecdh: &p256::ecdh::SharedSecret,
        auth: &[u8; AUTH_SECRET_LEN],
        receiver_public: &[u8],
        sender_public: &[u8],
        salt: &[u8; SALT_LEN],
    ) -> Self {
        let mut key_info = Vec::with_capacity(14 + 2 * P256_POINT_LEN);
        key_info.extend_from_slice(b"WebPush: info\0");
        key_info.extend_from_slice(receiver_public);
        key_info.extend_from_slice(sender_public);
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(auth), ecdh.raw_secret_bytes())
            .expand(&key_info, &mut ikm)
            .expect("32 bytes is within HKDF-SHA-256's output limit");

        let content = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let mut cek = [0u8; 16];
        content
            .expand(b"Content-Encoding: aes128gcm\0", &mut cek)
            .expect("16 bytes is within HKDF-SHA-256's output limit");
        let mut nonce = [0u8; 12];
        content
            .expand(b"Content-Encoding: nonce\0", &mut nonce)
            .expect("12 bytes is within HKDF-SHA-256's output limit");
        ContentKeys { cek, nonce }
    }

    fn cipher(&self) -> Aes128Gcm {
        Aes128Gcm::new(&self.cek.into())
    }

    /// The nonce of record 0: the derived nonce XOR the sequence number 0, i.e. itself.
    fn nonce(&self) -> Nonce<aes_gcm::aead::consts::U12> {
        self.nonce.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::{SubscriptionKeys, b64url_decode, b64url_encode};

    /// RFC 8291 Appendix A: the published keys, salt, plaintext and resulting body.
    mod rfc8291 {
        pub const PLAINTEXT: &[u8] = b"When I grow up, I want to be a watermelon";
        pub const SENDER_PRIVATE: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
        pub const SENDER_PUBLIC: &str =
            "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
        pub const RECEIVER_PRIVATE: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
        pub const RECEIVER_PUBLIC: &str =
            "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
        pub const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
        pub const SALT: &str = "DGv6ra1nlYgDCS1FRnbzlw";
        pub const ECDH_SECRET: &str = "kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs";
        pub const CEK: &str = "oIhVW04MRdy2XN9CiKLxTg";
        pub const NONCE: &str = "4h_95klXJ5E_qnoN";
        pub const BODY: &str = concat!(
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml",
            "mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT",
            "pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
        );
    }

    fn b64(text: &str) -> Vec<u8> {
        b64url_decode(text).unwrap()
    }

    fn secret(text: &str) -> SecretKey {
        SecretKey::from_slice(&b64(text)).unwrap()
    }

    fn rfc_receiver() -> ReceiverKeys {
        ReceiverKeys::from_base64url(rfc8291::RECEIVER_PUBLIC, rfc8291::AUTH).unwrap()
    }

    fn rfc_auth() -> [u8; 16] {
        b64(rfc8291::AUTH).try_into().unwrap()
    }

    fn rfc_body() -> Vec<u8> {
        b64(rfc8291::BODY)
    }

    #[test]
    fn rfc8291_appendix_a_encrypts_to_the_published_body_byte_for_byte() {
        let sender = secret(rfc8291::SENDER_PRIVATE);
        assert_eq!(b64url_encode(&uncompressed(&sender.public_key())), rfc8291::SENDER_PUBLIC);
        let salt: [u8; 16] = b64(rfc8291::SALT).try_into().unwrap();
        let body = encrypt_with(rfc8291::PLAINTEXT, &rfc_receiver(), &sender, &salt, 4096).unwrap();
        assert_eq!(b64url_encode(&body), rfc8291::BODY);
        assert_eq!(body.len(), 144);
    }

    #[test]
    fn rfc8291_appendix_a_intermediate_keys_match() {
        let sender = secret(rfc8291::SENDER_PRIVATE);
        let receiver = rfc_receiver();
        let ecdh = sender.diffie_hellman(receiver.public_key());
        assert_eq!(b64url_encode(ecdh.raw_secret_bytes()), rfc8291::ECDH_SECRET);
        let salt: [u8; 16] = b64(rfc8291::SALT).try_into().unwrap();
        let keys = ContentKeys::derive(
            &ecdh,
            receiver.auth(),
            &receiver.p256dh(),
            &b64(rfc8291::SENDER_PUBLIC),
            &salt,
        );
        assert_eq!(b64url_encode(&keys.cek), rfc8291::CEK);
        assert_eq!(b64url_encode(&keys.nonce), rfc8291::NONCE);
    }

    #[test]
    fn rfc8291_appendix_a_body_decrypts_with_the_receiver_key() {
        let plaintext = decrypt(&rfc_body(), &secret(rfc8291::RECEIVER_PRIVATE), &rfc_auth()).unwrap();
        assert_eq!(plaintext, rfc8291::PLAINTEXT);
    }

    #[test]
    fn generated_keys_round_trip_every_payload_size_up_to_the_limit() {
        let keys = SubscriptionKeys::generate().unwrap();
        for len in [0, 1, 15, 16, 17, 100, 1000, MAX_PLAINTEXT_LEN] {
            let plaintext: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let body = encrypt(&plaintext, keys.public()).unwrap();
            assert_eq!(body.len(), HEADER_LEN + len + 1 + TAG_LEN);
            assert!(body.len() <= MAX_BODY_LEN);
            assert_eq!(keys.decrypt(&body).unwrap(), plaintext, "length {len}");
        }
    }

    #[test]
    fn two_encryptions_of_one_payload_differ() {
        let keys = SubscriptionKeys::generate().unwrap();
        let a = encrypt(b"stalled", keys.public()).unwrap();
        let b = encrypt(b"stalled", keys.public()).unwrap();
        assert_ne!(a[..16], b[..16], "salt reused");
        assert_ne!(a[21..86], b[21..86], "ephemeral key reused");
    }

    #[test]
    fn an_oversize_payload_is_refused() {
        let keys = SubscriptionKeys::generate().unwrap();
        let err = encrypt(&vec![b'x'; MAX_PLAINTEXT_LEN + 1], keys.public()).unwrap_err();
        assert_eq!(err, EceError::PlaintextTooLarge { len: 3994, max: 3993 });
        assert!(err.to_string().contains("at most 3993"), "{err}");
    }

    #[test]
    fn a_record_size_too_small_for_the_payload_is_refused() {
        let keys = SubscriptionKeys::generate().unwrap();
        let sender = secret(rfc8291::SENDER_PRIVATE);
        let salt = [7u8; 16];
        let err = encrypt_with(b"abc", keys.public(), &sender, &salt, 17).unwrap_err();
        assert_eq!(err, EceError::RecordSizeTooSmall { record_size: 17, needed: 20 });
        let err = encrypt_with(b"", keys.public(), &sender, &salt, 10).unwrap_err();
        assert_eq!(err, EceError::RecordSizeTooSmall { record_size: 10, needed: 18 });
        let err = encrypt_with(&[1u8; 100], keys.public(), &sender, &salt, 116).unwrap_err();
        assert_eq!(err, EceError::RecordSizeTooSmall { record_size: 116, needed: 117 });
        // Exactly enough is enough.
        let body = encrypt_with(&[1u8; 100], keys.public(), &sender, &salt, 117).unwrap();
        assert_eq!(keys.decrypt(&body).unwrap(), vec![1u8; 100]);
    }

    #[test]
    fn a_wrong_auth_secret_or_private_key_fails_authentication() {
        let mut wrong_auth = rfc_auth();
        wrong_auth[0] ^= 1;
        let receiver = secret(rfc8291::RECEIVER_PRIVATE);
        assert_eq!(decrypt(&rfc_body(), &receiver, &wrong_auth).unwrap_err(), EceError::AuthenticationFailed);
        let stranger = SubscriptionKeys::generate().unwrap();
        assert_eq!(
            decrypt(&rfc_body(), stranger.private_key(), &rfc_auth()).unwrap_err(),
            EceError::AuthenticationFailed
        );
    }

    #[test]
    fn truncated_bodies_are_refused_at_every_length() {
        let body = rfc_body();
        let receiver = secret(rfc8291::RECEIVER_PRIVATE);
        for len in 0..body.len() {
            let err = decrypt(&body[..len], &receiver, &rfc_auth()).unwrap_err();
            let expected = match len {
                0..=85 => matches!(err, EceError::HeaderTruncated { .. }),
                86..=102 => matches!(err, EceError::RecordTruncated { .. }),
                _ => err == EceError::AuthenticationFailed,
            };
            assert!(expected, "length {len}: {err:?}");
        }
    }

    #[test]
    fn any_flipped_bit_in_the_body_is_detected() {
        let body = rfc_body();
        let receiver = secret(rfc8291::RECEIVER_PRIVATE);
        // The record size (bytes 16..20) is not authenticated (RFC 8188 §2.1): with one record
        // it only has to be large enough, which the bad-header test covers.
        for at in (0..16).chain(20..body.len()) {
            let mut garbled = body.clone();
            garbled[at] ^= 0x10;
            assert!(decrypt(&garbled, &receiver, &rfc_auth()).is_err(), "flip at {at} went unnoticed");
        }
    }

    #[test]
    fn bad_header_fields_get_their_own_errors() {
        let receiver = secret(rfc8291::RECEIVER_PRIVATE);
        let mut body = rfc_body();
        body[20] = 64;
        assert_eq!(decrypt(&body, &receiver, &rfc_auth()).unwrap_err(), EceError::BadKeyIdLength { len: 64 });

        let mut body = rfc_body();
        body[16..20].copy_from_slice(&17u32.to_be_bytes());
        assert_eq!(
            decrypt(&body, &receiver, &rfc_auth()).unwrap_err(),
            EceError::BadRecordSize { record_size: 17 }
        );

        let mut body = rfc_body();
        body[16..20].copy_from_slice(&40u32.to_be_bytes());
        assert_eq!(
            decrypt(&body, &receiver, &rfc_auth()).unwrap_err(),
            EceError::MultipleRecords { len: 58, record_size: 40 }
        );

        let mut body = rfc_body();
        body[85] ^= 0x01; // last byte of the sender key: off the curve
        assert_eq!(decrypt(&body, &receiver, &rfc_auth()).unwrap_err(), EceError::BadSenderKey);
        let mut body = rfc_body();
        body[21] = 0x02; // a compressed-point tag in a 65-byte key id
        assert_eq!(decrypt(&body, &receiver, &rfc_auth()).unwrap_err(), EceError::BadSenderKey);

        let err = decrypt(&vec![0u8; MAX_BODY_LEN + 1], &receiver, &rfc_auth()).unwrap_err();
        assert_eq!(err, EceError::BodyTooLarge { len: 4097, max: 4096 });
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

            #[test]
            fn any_payload_up_to_the_limit_round_trips(
                payload in proptest::collection::vec(any::<u8>(), 0..=MAX_PLAINTEXT_LEN),
                slack in 0u32..64,
            ) {
                let keys = SubscriptionKeys::generate().unwrap();
                let sender = secret(rfc8291::SENDER_PRIVATE);
                let record_size = (payload.len() + 17) as u32 + slack;
                let body = encrypt_with(&payload, keys.public(), &sender, &[3u8; 16], record_size).unwrap();
                prop_assert_eq!(keys.decrypt(&body).unwrap(), payload);
            }

            #[test]
            fn decrypting_arbitrary_bytes_returns_an_error_and_never_panics(
                tail in proptest::collection::vec(any::<u8>(), 0..300),
                keep_header in any::<bool>(),
            ) {
                // With the RFC header kept, the bytes get as far as AES-GCM; without, the parser
                // sees arbitrary header fields.
                let mut body = if keep_header { rfc_body()[..HEADER_LEN].to_vec() } else { Vec::new() };
                body.extend_from_slice(&tail);
                prop_assert!(decrypt(&body, &secret(rfc8291::RECEIVER_PRIVATE), &rfc_auth()).is_err());
            }
        }
    }

    /// Encrypts a raw record (delimiter and padding included) the way [`encrypt_with`] does, to
    /// test how decryption reads padding.
    fn body_with_record(keys: &SubscriptionKeys, record: &[u8]) -> Vec<u8> {
        let sender = secret(rfc8291::SENDER_PRIVATE);
        let salt = [9u8; 16];
        let sender_public = uncompressed(&sender.public_key());
        let content = ContentKeys::derive(
            &sender.diffie_hellman(keys.public().public_key()),
            keys.public().auth(),
            &keys.public().p256dh(),
            &sender_public,
            &salt,
        );
        let mut body = salt.to_vec();
        body.extend_from_slice(&4096u32.to_be_bytes());
        body.push(65);
        body.extend_from_slice(&sender_public);
        body.extend_from_slice(&content.cipher().encrypt(&content.nonce(), record).unwrap());
        body
    }

    #[test]
    fn padding_after_the_delimiter_is_removed_and_bad_delimiters_are_refused() {
        let keys = SubscriptionKeys::generate().unwrap();
        let padded = body_with_record(&keys, b"alert\x02\0\0\0\0\0\0\0\0");
        assert_eq!(keys.decrypt(&padded).unwrap(), b"alert");
        // Zero bytes that belong to the payload survive: only what follows the delimiter is padding.
        let zeros_inside = body_with_record(&keys, b"a\0\0\x02\0\0");
        assert_eq!(keys.decrypt(&zeros_inside).unwrap(), b"a\0\0");
        let not_last = body_with_record(&keys, b"alert\x01\0\0");
        assert!(matches!(keys.decrypt(&not_last).unwrap_err(), EceError::BadPadding(_)));
        let all_padding = body_with_record(&keys, b"\0\0\0\0");
        assert!(matches!(keys.decrypt(&all_padding).unwrap_err(), EceError::BadPadding(_)));
        let stray = body_with_record(&keys, b"alert\x07\0");
        assert!(matches!(keys.decrypt(&stray).unwrap_err(), EceError::BadPadding(_)));
        let empty = body_with_record(&keys, b"");
        assert_eq!(keys.decrypt(&empty).unwrap_err(), EceError::RecordTruncated { len: 16 });
    }
}
