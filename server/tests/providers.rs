//! The FCM HTTP v1 and APNs providers. Google's and Apple's servers cannot be reached from the
//! test machines, so these tests check the requests the providers build, byte by byte where it
//! matters: URLs, headers, bodies, and the signed tokens (verified with the public keys). FCM's
//! OAuth token exchange runs for real against a token endpoint on loopback.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use fieldsync_core::push::PushOutcome;
use fieldsync_server::delivery::apns::{ApnsConfig, ApnsProvider};
use fieldsync_server::delivery::fcm::{FCM_SCOPE, FcmProvider, ServiceAccount};
use fieldsync_server::delivery::{AlertMessage, ProviderError, PushProvider};
use fieldsync_server::storage::push::{AlertLevel, ProviderKind, PushSubscriptionRow};
use ring::signature::{self, UnparsedPublicKey};
use serde_json::{Value, json};

const NOW_MS: i64 = 1_777_622_400_000;
const SERVICE_ACCOUNT: &str = include_str!("fixtures/fcm-test-service-account.json");

fn message(level: AlertLevel, payload: &[u8]) -> AlertMessage {
    AlertMessage {
        alert_id: [0xA1; 16],
        level,
        payload: payload.to_vec(),
        ttl_secs: 3600,
        topic: "0123456789abcdef0123456789abcdef".into(),
        now_ms: NOW_MS,
    }
}

fn row(provider: ProviderKind, address: &str) -> PushSubscriptionRow {
    PushSubscriptionRow {
        subscription_id: [1; 16],
        device_id: [2; 16],
        user_id: "u".into(),
        team_id: "t".into(),
        provider,
        address: address.into(),
        p256dh: None,
        auth: None,
        created_at: 0,
    }
}

fn jwt_parts(token: &str) -> (Value, Value, String, Vec<u8>) {
    let (input, signature) = token.rsplit_once('.').unwrap();
    let (header, claims) = input.split_once('.').unwrap();
    let json = |part: &str| serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap();
    (json(header), json(claims), input.to_owned(), URL_SAFE_NO_PAD.decode(signature).unwrap())
}

#[derive(Clone, Default)]
struct TokenEndpoint {
    forms: Arc<Mutex<Vec<String>>>,
}

async fn token(State(t): State<TokenEndpoint>, body: String) -> axum::Json<Value> {
    t.forms.lock().unwrap().push(body);
    axum::Json(
        json!({ "access_token": "ya29.test-access-token", "expires_in": 3599, "token_type": "Bearer" }),
    )
}

#[tokio::test]
async fn fcm_exchanges_a_signed_service_account_jwt_and_builds_a_v1_data_message() {
    let endpoint = TokenEndpoint::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let token_uri = format!("http://{}/token", listener.local_addr().unwrap());
    let router = axum::Router::new().route("/token", post(token)).with_state(endpoint.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let mut file: Value = serde_json::from_str(SERVICE_ACCOUNT).unwrap();
    file["token_uri"] = json!(token_uri);
    let account = ServiceAccount::from_json(&file.to_string(), None).unwrap();
    let public_key = account.public_key_der();
    let client = fieldsync_server::delivery::http_client(Duration::from_secs(5)).unwrap();
    let fcm = FcmProvider::new(account, "https://fcm.googleapis.com", client);
    let subscription = row(ProviderKind::Fcm, "dGVzdC10b2tlbg:APA91b-registration_token");

    let payload = r#"{"v":1,"title":"华东 pump retrofit"}"#.as_bytes();
    let call = fcm.build(&subscription, &message(AlertLevel::Escalation, payload)).await.unwrap();
    assert_eq!(call.url, "https://fcm.googleapis.com/v1/projects/fieldsync-test/messages:send");
    assert_eq!(call.header("authorization"), Some("Bearer ya29.test-access-token"));
    assert_eq!(call.header("content-type"), Some("application/json; charset=utf-8"));
    assert!(!call.http2);
    let body: Value = serde_json::from_slice(&call.body).unwrap();
    let m = &body["message"];
    assert_eq!(m["token"], "dGVzdC10b2tlbg:APA91b-registration_token");
    assert_eq!(STANDARD.decode(m["data"]["fieldsync_alert"].as_str().unwrap()).unwrap(), payload);
    assert_eq!(m["data"]["alert_id"], "a1".repeat(16));
    assert_eq!(m["data"]["level"], "escalation");
    assert_eq!(
        m["android"],
        json!({ "priority": "high", "ttl": "3600s", "collapse_key": "0123456789abcdef0123456789abcdef" })
    );
    let call = fcm.build(&subscription, &message(AlertLevel::Supervisor, payload)).await.unwrap();
    let body: Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(body["message"]["android"]["priority"], "normal");

    // One token exchange for both messages (cached), with an RS256 assertion Google accepts.
    let forms = endpoint.forms.lock().unwrap().clone();
    assert_eq!(forms.len(), 1);
    let assertion = forms[0]
        .strip_prefix("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=")
        .unwrap();
    let (header, claims, input, sig) = jwt_parts(assertion);
    assert_eq!(
        header,
        json!({ "alg": "RS256", "typ": "JWT", "kid": "0123456789abcdef0123456789abcdef01234567" })
    );
    assert_eq!(claims["iss"], "relay@fieldsync-test.iam.gserviceaccount.com");
    assert_eq!(claims["scope"], FCM_SCOPE);
    assert_eq!(claims["aud"], token_uri);
    assert_eq!(claims["iat"], NOW_MS / 1000);
    assert_eq!(claims["exp"], NOW_MS / 1000 + 3600);
    UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &public_key)
        .verify(input.as_bytes(), &sig)
        .expect("the assertion verifies with the service account's public key");

    // What FCM's answers mean.
    assert_eq!(fcm.classify(200, ""), PushOutcome::Accepted);
    assert_eq!(
        fcm.classify(404, r#"{"error":{"status":"NOT_FOUND","details":[{"errorCode":"UNREGISTERED"}]}}"#),
        PushOutcome::SubscriptionGone
    );
    assert_eq!(fcm.classify(401, ""), PushOutcome::Retryable);
    assert_eq!(fcm.classify(503, ""), PushOutcome::Retryable);
    assert_eq!(fcm.classify(400, ""), PushOutcome::Rejected);
    // An access token refused with 401 is dropped: the next message exchanges a new one.
    fcm.build(&subscription, &message(AlertLevel::Supervisor, payload)).await.unwrap();
    assert_eq!(endpoint.forms.lock().unwrap().len(), 2);

    // A payload too large for FCM's 4 KB of data is refused before anything is sent.
    let err = fcm.build(&subscription, &message(AlertLevel::Supervisor, &[b'x'; 3500])).await.unwrap_err();
    assert!(matches!(&err, ProviderError::Permanent(m) if m.contains("at most 4096")), "{err:?}");
}

#[tokio::test]
async fn fcm_token_exchange_failures_are_retryable_and_bad_service_accounts_are_named() {
    let mut file: Value = serde_json::from_str(SERVICE_ACCOUNT).unwrap();
    file["token_uri"] = json!("http://127.0.0.1:9/token");
    let account = ServiceAccount::from_json(&file.to_string(), Some("other-project")).unwrap();
    let client = fieldsync_server::delivery::http_client(Duration::from_secs(2)).unwrap();
    let fcm = FcmProvider::new(account, "https://fcm.googleapis.com", client);
    let err =
        fcm.build(&row(ProviderKind::Fcm, "t"), &message(AlertLevel::Supervisor, b"{}")).await.unwrap_err();
    assert!(matches!(&err, ProviderError::Transient(m) if m.contains("FCM token exchange")), "{err:?}");

    for (broken, says) in [
        (json!({ "client_email": "a@b", "private_key": "nope" }), "BEGIN PRIVATE KEY"),
        (json!({ "private_key": file["private_key"] }), "client_email"),
        ("[]".into(), "not a service account key file"),
    ] {
        let err = ServiceAccount::from_json(&broken.to_string(), None).unwrap_err();
        assert!(err.contains(says), "{err}");
    }
    let mut no_project = file.clone();
    no_project.as_object_mut().unwrap().remove("project_id");
    let err = ServiceAccount::from_json(&no_project.to_string(), None).unwrap_err();
    assert!(err.contains("project_id"), "{err}");
}

fn apns_key() -> (String, Vec<u8>) {
    use ring::signature::KeyPair as _;
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 =
        ring::signature::EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap();
    let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8.as_ref(),
        &rng,
    )
    .unwrap();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(pkcs8.as_ref())
    );
    (pem, pair.public_key().as_ref().to_vec())
}

fn apns_config() -> ApnsConfig {
    ApnsConfig {
        key_file: "unused.p8".into(),
        key_id: "ABC123DEFG".into(),
        team_id: "DEF123GHIJ".into(),
        topic: "com.example.fieldsync".into(),
        endpoint: "https://api.sandbox.push.apple.com".into(),
    }
}

#[tokio::test]
async fn apns_requests_carry_the_provider_token_topic_priority_and_payload() {
    let (pem, public_key) = apns_key();
    let apns = ApnsProvider::new(&pem, &apns_config()).unwrap();
    assert_eq!(apns.public_key(), public_key);
    let device = "a".repeat(64);
    let payload = r#"{"v":1,"title":"华东 pump retrofit","stage":"方案提交","owner":"李娜"}"#.as_bytes();
    let call = apns
        .build(&row(ProviderKind::Apns, &device), &message(AlertLevel::Escalation, payload))
        .await
        .unwrap();
    assert_eq!(call.url, format!("https://api.sandbox.push.apple.com/3/device/{device}"));
    assert!(call.http2, "APNs speaks HTTP/2 only");
    assert_eq!(call.header("apns-topic"), Some("com.example.fieldsync"));
    assert_eq!(call.header("apns-push-type"), Some("alert"));
    assert_eq!(call.header("apns-priority"), Some("10"));
    assert_eq!(call.header("apns-expiration"), Some((NOW_MS / 1000 + 3600).to_string().as_str()));
    assert_eq!(call.header("apns-collapse-id"), Some("0123456789abcdef0123456789abcdef"));
    assert_eq!(call.header("apns-id"), Some("a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1"));
    let body: Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(body["aps"]["alert"]["title"], "Escalated: deal stalled");
    assert_eq!(body["aps"]["alert"]["body"], "华东 pump retrofit — 方案提交, 李娜");
    assert_eq!(STANDARD.decode(body["fieldsync_alert"].as_str().unwrap()).unwrap(), payload);

    let token = call.header("authorization").unwrap().strip_prefix("bearer ").unwrap().to_owned();
    let (header, claims, input, sig) = jwt_parts(&token);
    assert_eq!(header, json!({ "alg": "ES256", "kid": "ABC123DEFG" }));
    assert_eq!(claims, json!({ "iss": "DEF123GHIJ", "iat": NOW_MS / 1000 }));
    UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &public_key)
        .verify(input.as_bytes(), &sig)
        .expect("the provider token verifies with the key's public half");

    // Supervisor-level alerts are sent power-considerate; the token is reused for 50 minutes.
    let mut later = message(AlertLevel::Supervisor, payload);
    later.now_ms += 49 * 60 * 1000;
    let call = apns.build(&row(ProviderKind::Apns, &device), &later).await.unwrap();
    assert_eq!(call.header("apns-priority"), Some("5"));
    assert_eq!(call.header("authorization").unwrap(), format!("bearer {token}"));
    later.now_ms += 2 * 60 * 1000;
    let call = apns.build(&row(ProviderKind::Apns, &device), &later).await.unwrap();
    assert_ne!(call.header("authorization").unwrap(), format!("bearer {token}"));

    assert_eq!(apns.classify(200, ""), PushOutcome::Accepted);
    assert_eq!(apns.classify(410, r#"{"reason":"Unregistered"}"#), PushOutcome::SubscriptionGone);
    assert_eq!(apns.classify(400, r#"{"reason":"BadDeviceToken"}"#), PushOutcome::SubscriptionGone);
    assert_eq!(apns.classify(400, r#"{"reason":"PayloadTooLarge"}"#), PushOutcome::Rejected);
    assert_eq!(apns.classify(403, r#"{"reason":"ExpiredProviderToken"}"#), PushOutcome::Retryable);
    assert_eq!(apns.classify(429, ""), PushOutcome::Retryable);

    let err =
        apns.build(&row(ProviderKind::Apns, &device), &message(AlertLevel::Supervisor, &[b'x'; 3500])).await;
    assert!(matches!(&err, Err(ProviderError::Permanent(m)) if m.contains("at most 4096")), "{err:?}");
}

#[test]
fn apns_configuration_mistakes_are_named() {
    let (pem, _) = apns_key();
    let err = ApnsProvider::new(&pem, &ApnsConfig { key_id: "short".into(), ..apns_config() }).unwrap_err();
    assert!(err.contains("push.apns.key_id"), "{err}");
    let err = ApnsProvider::new(&pem, &ApnsConfig { topic: "".into(), ..apns_config() }).unwrap_err();
    assert!(err.contains("push.apns.topic"), "{err}");
    let err = ApnsProvider::new("not a key", &apns_config()).unwrap_err();
    assert!(err.contains("BEGIN PRIVATE KEY"), "{err}");
    let rsa: Value = serde_json::from_str(SERVICE_ACCOUNT).unwrap();
    let err = ApnsProvider::new(rsa["private_key"].as_str().unwrap(), &apns_config()).unwrap_err();
    assert!(err.contains("P-256"), "{err}");
    assert!(fieldsync_server::delivery::apns::check_token(&"0f".repeat(32)).is_ok());
    assert!(fieldsync_server::delivery::apns::check_token("xyz").is_err());
    assert!(fieldsync_server::delivery::fcm::check_token("abc:DEF-ghi_1.2").is_ok());
    assert!(fieldsync_server::delivery::fcm::check_token("has space").is_err());
}
