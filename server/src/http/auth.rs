//! Who is calling: bearer tokens for enrolled devices, and enrollment with a one-time code and
//! the device's Ed25519 key (DESIGN §6 Auth).
//!
//! Tokens and codes are stored only as SHA-256 hashes, so a copy of the database does not let
//! anyone act as a device.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fieldsync_core::sync::enrollment_message;
use fieldsync_core::{Clock as _, DeviceId, DeviceIdentity, SystemClock};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::http::app::AppState;
use crate::http::error::ApiError;
use crate::http::limits::{self, ClientIp, Key, Limit};
use crate::storage::{DeviceScope, StorageError};

/// SHA-256 of a secret (token or code).
pub fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.trim().as_bytes()).into()
}

/// A new bearer token: 128 random bits, base64url (22 characters).
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A new one-time enrollment code: 10 characters from an alphabet without look-alikes
/// (about 50 bits), easy to read out over the phone.
pub fn new_enrollment_code() -> Result<String, getrandom::Error> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 10];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect())
}

/// An authenticated device, extracted from `Authorization: Bearer …`.
#[derive(Debug, Clone)]
pub struct Device(pub DeviceScope);

impl FromRequestParts<AppState> for Device {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Ok(ClientIp(ip)) = ClientIp::from_request_parts(parts, state).await;
        // An address that sent too many unknown tokens is refused before its token is looked up.
        state
            .limiter
            .peek(Limit::TokenFailuresPerIp, Key::Ip(ip))
            .map_err(|wait| limits::refusal(Limit::TokenFailuresPerIp, wait, &state.metrics))?;
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).ok_or_else(|| {
            ApiError::new(StatusCode::UNAUTHORIZED, "missing_token", "send Authorization: Bearer <token>")
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .filter(|t| !t.is_empty() && t.len() <= 128)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    "the Authorization header is not a bearer token",
                )
            })?;
        let hash = secret_hash(token);
        let storage = state.relay.storage().clone();
        let scope = tokio::task::spawn_blocking(move || storage.device_by_token(hash))
            .await
            .map_err(ApiError::internal)??;
        let Some(scope) = scope else {
            state.limiter.record(Limit::TokenFailuresPerIp, Key::Ip(ip));
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "unknown or revoked token; enroll the device again",
            ));
        };
        let limit = Limit::for_path(parts.uri.path());
        state
            .limiter
            .take(limit, Key::Device(scope.device_id))
            .map_err(|wait| limits::refusal(limit, wait, &state.metrics))?;
        Ok(Device(scope))
    }
}

/// `POST /v1/enroll` body.
#[derive(Debug, Deserialize)]
pub struct EnrollRequest {
    /// The one-time code an admin handed out.
    pub code: String,
    /// The device's Ed25519 public key, hex.
    pub public_key: String,
    /// Signature (hex) by that key over [`enrollment_message`].
    pub signature: String,
    /// A name for the device ("Li Na's Redmi").
    #[serde(default)]
    pub device_name: String,
}

/// `POST /v1/enroll` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct EnrollResponse {
    /// The device id (hex), derived from the key.
    pub device_id: String,
    /// The bearer token; shown once.
    pub token: String,
    /// Tenant.
    pub tenant_id: String,
    /// Team.
    pub team_id: String,
    /// User.
    pub user_id: String,
    /// Role.
    pub role: String,
}

fn decode_hex<const N: usize>(field: &'static str, value: &str) -> Result<[u8; N], ApiError> {
    let mut out = [0u8; N];
    hex::decode_to_slice(value.trim(), &mut out).map_err(|_| {
        ApiError::bad_request("bad_request", format!("{field} must be {} hex characters", N * 2))
    })?;
    Ok(out)
}

/// The largest enrollment body: a code, a hex key and signature and a device name of at most
/// 100 characters fit in well under 1 KiB. The route is open to anyone, so it buffers no more.
pub const MAX_ENROLL_BODY_BYTES: usize = 4 * 1024;

/// Enrolls a device. Every refused enrollment counts against the client's address and, once
/// the body names one, the device key ([`Limit::EnrollFailuresPerIp`],
/// [`Limit::EnrollFailuresPerKey`]); an address or key with none left is refused with 429
/// before anything else is looked at, right code or not.
pub async fn enroll(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    request: Result<Json<EnrollRequest>, JsonRejection>,
) -> Result<Json<EnrollResponse>, ApiError> {
    let refused = |limit: Limit, wait| limits::refusal(limit, wait, &state.metrics);
    state
        .limiter
        .peek(Limit::EnrollFailuresPerIp, Key::Ip(ip))
        .map_err(|w| refused(Limit::EnrollFailuresPerIp, w))?;
    let key = request.as_ref().ok().and_then(|Json(r)| decode_hex::<32>("public_key", &r.public_key).ok());
    if let Some(key) = key {
        state
            .limiter
            .peek(Limit::EnrollFailuresPerKey, Key::PublicKey(key))
            .map_err(|w| refused(Limit::EnrollFailuresPerKey, w))?;
    }
    let answer = enroll_checked(&state, request).await;
    if let Err(e) = &answer
        && e.status.is_client_error()
    {
        state.limiter.record(Limit::EnrollFailuresPerIp, Key::Ip(ip));
        if let Some(key) = key {
            state.limiter.record(Limit::EnrollFailuresPerKey, Key::PublicKey(key));
        }
    }
    answer
}

async fn enroll_checked(
    state: &AppState,
    request: Result<Json<EnrollRequest>, JsonRejection>,
) -> Result<Json<EnrollResponse>, ApiError> {
    let Json(request) = request.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("an enrollment is a few hundred bytes of JSON; the limit is {MAX_ENROLL_BODY_BYTES}"),
            )
        } else {
            ApiError::from(e)
        }
    })?;
    let public_key: [u8; 32] = decode_hex("public_key", &request.public_key)?;
    let signature: [u8; 64] = decode_hex("signature", &request.signature)?;
    if request.code.trim().is_empty() || request.code.len() > 64 {
        return Err(ApiError::bad_request("bad_request", "code is missing"));
    }
    if request.device_name.chars().count() > 100 {
        return Err(ApiError::bad_request("bad_request", "device_name is longer than 100 characters"));
    }
    if !DeviceIdentity::verify(&public_key, &enrollment_message(&request.code, &public_key), &signature) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            "the signature does not verify with public_key",
        ));
    }
    let device_id = DeviceId::from_public_key(&public_key);
    let token = new_token().map_err(ApiError::internal)?;
    let (code_hash, token_hash) = (secret_hash(&request.code), secret_hash(&token));
    let storage = state.relay.storage().clone();
    let name = request.device_name.clone();
    let scope = tokio::task::spawn_blocking(move || {
        storage.enroll_device(
            code_hash,
            *device_id.as_bytes(),
            public_key,
            &name,
            token_hash,
            SystemClock.now_ms(),
        )
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| match e {
        StorageError::NotFound(_) => {
            ApiError::new(StatusCode::UNAUTHORIZED, "invalid_code", "unknown enrollment code")
        }
        StorageError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "code_unusable", m),
        other => other.into(),
    })?;
    tracing::info!(device = %device_id, user = %scope.user_id, "device enrolled");
    Ok(Json(EnrollResponse {
        device_id: device_id.to_string(),
        token,
        tenant_id: scope.tenant_id,
        team_id: scope.team_id,
        user_id: scope.user_id,
        role: scope.role.as_str().to_owned(),
    }))
}
