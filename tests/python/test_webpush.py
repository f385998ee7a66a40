"""Web Push from the real `fieldsync` binary, checked by implementations that are not ours.

A real HTTP push receiver runs on loopback in a thread. `fieldsync push send` POSTs to it; the body
is decrypted with `http_ece` (Mozilla's RFC 8188/8291 implementation) and the VAPID header is
verified with `py_vapid` and, separately, with `cryptography`'s ECDSA. In the other direction,
`http_ece` encrypts to keys made by `fieldsync push subscription-keys`, and `fieldsync push
decrypt` must read it. Every test here fails when the receiver gets nothing, gets something else,
or cannot decrypt or verify what it got.
"""

import base64
import http.server
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import http_ece
import py_vapid.jwt
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

REPO = Path(__file__).resolve().parents[2]
FIELDSYNC = Path(os.environ.get("FIELDSYNC_BIN", REPO / "target" / "debug" / "fieldsync"))
CONTACT = "mailto:ops@fieldsync.example"
PAYLOAD = '{"alert":"stalled","stage":"商务谈判","days":14}'
EXIT_GONE = 3
EXIT_RETRYABLE = 4


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fieldsync(*args, timeout=60):
    assert FIELDSYNC.is_file(), f"{FIELDSYNC} is missing: build it with `cargo build --workspace --bins`"
    return subprocess.run([str(FIELDSYNC), *args], capture_output=True, timeout=timeout)


class PushReceiver:
    """A push service stand-in: records every request and answers with a fixed status."""

    def __init__(self, status=201, headers=None, delay=0.0):
        self.requests = []
        # Set when the test is done, so a handler told to hang stops waiting.
        self.released = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.requests.append(
                    {"method": "POST", "path": self.path, "headers": dict(self.headers.items()), "body": body}
                )
                if delay and receiver.released.wait(delay):
                    return
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


class Receiver:
    """The receiving device's keys, made with `cryptography` (not with fieldsync)."""

    def __init__(self):
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.p256dh = self.private_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)

    def subscription(self, endpoint):
        return {"endpoint": endpoint, "expirationTime": None, "keys": {"p256dh": b64url(self.p256dh), "auth": b64url(self.auth)}}


@pytest.fixture
def vapid_file(tmp_path):
    done = fieldsync("push", "keygen", "--contact", CONTACT)
    assert done.returncode == 0, done.stderr.decode()
    key = json.loads(done.stdout)
    assert set(key) == {"private_key", "public_key", "contact"}
    path = tmp_path / "vapid.json"
    path.write_text(json.dumps(key))
    return path, key


def write_subscription(tmp_path, subscription):
    path = tmp_path / "subscription.json"
    path.write_text(json.dumps(subscription))
    return path


def send(subscription_path, vapid_path, *extra, payload=PAYLOAD, ttl="3600", urgency="normal"):
    return fieldsync(
        "push", "send",
        "--subscription", str(subscription_path),
        "--vapid-key", str(vapid_path),
        "--payload", payload,
        "--ttl", ttl,
        "--urgency", urgency,
        *extra,
    )


def header(request, name):
    """A received header, whatever the case the client wrote its name in."""
    found = [value for key, value in request["headers"].items() if key.lower() == name.lower()]
    assert len(found) == 1, f"{name}: {request['headers']}"
    return found[0]


def parse_vapid(authorization):
    """Splits `vapid t=<jwt>, k=<key>` (RFC 8292 §3) into its two parameters."""
    scheme, _, params = authorization.partition(" ")
    assert scheme.lower() == "vapid", authorization
    parts = dict(p.strip().split("=", 1) for p in params.split(","))
    assert set(parts) == {"t", "k"}, authorization
    return parts["t"], parts["k"]


def verify_es256_with_cryptography(token, public_key_b64):
    """Checks the JWS signature with `cryptography` alone: r ‖ s → DER, ECDSA-P256-SHA256."""
    signing_input, _, signature = token.rpartition(".")
    raw = unb64url(signature)
    assert len(raw) == 64
    der = utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(public_key_b64))
    key.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))


def test_a_sent_message_arrives_decrypts_with_http_ece_and_carries_a_valid_vapid_token(tmp_path, vapid_file):
    vapid_path, vapid_key = vapid_file
    device = Receiver()
    with PushReceiver(status=201, headers={"Location": "/m/1"}) as service:
        subscription = write_subscription(tmp_path, device.subscription(f"{service.origin}/wpush/v2/abc?x=1"))
        started = int(time.time())
        done = send(subscription, vapid_path, "--topic", "opp-42", "--allow-insecure-loopback", urgency="high")
        finished = int(time.time())

    assert done.returncode == 0, done.stderr.decode()
    report = json.loads(done.stdout)
    assert report["status"] == 201
    assert report["outcome"] == "accepted"
    assert report["retryable"] is False
    assert report["location"] == "/m/1"

    assert len(service.requests) == 1, "the receiver got no request (or more than one)"
    request = service.requests[0]
    assert request["path"] == "/wpush/v2/abc?x=1"
    assert header(request, "TTL") == "3600"
    assert header(request, "Urgency") == "high"
    assert header(request, "Topic") == "opp-42"
    assert header(request, "Content-Encoding") == "aes128gcm"
    assert header(request, "Content-Type") == "application/octet-stream"

    # The body: RFC 8188 header with the sender's 65-byte key as key id, then one record.
    body = request["body"]
    assert len(body) <= 4096
    assert body[20] == 65
    plaintext = http_ece.decrypt(body, private_key=device.private_key, auth_secret=device.auth, version="aes128gcm")
    assert plaintext == PAYLOAD.encode()

    # The VAPID header: signature valid for k, k is the key keygen printed, claims as RFC 8292 asks.
    token, k = parse_vapid(header(request, "Authorization"))
    assert k == vapid_key["public_key"]
    claims = py_vapid.jwt.decode(token, k)  # raises InvalidSignature unless the signature holds
    verify_es256_with_cryptography(token, k)
    assert json.loads(unb64url(token.split(".")[0])) == {"typ": "JWT", "alg": "ES256"}
    assert claims["aud"] == service.origin
    assert claims["sub"] == CONTACT
    assert started < claims["exp"] <= finished + 24 * 3600


def test_the_vapid_token_does_not_verify_for_another_key_or_other_claims(tmp_path, vapid_file):
    # The verification above is only worth something if it can fail.
    vapid_path, _ = vapid_file
    device = Receiver()
    with PushReceiver() as service:
        subscription = write_subscription(tmp_path, device.subscription(f"{service.origin}/p"))
        done = send(subscription, vapid_path, "--allow-insecure-loopback")
    assert done.returncode == 0, done.stderr.decode()
    token, k = parse_vapid(header(service.requests[0], "Authorization"))

    stranger = ec.generate_private_key(ec.SECP256R1()).public_key()
    stranger_k = b64url(stranger.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))
    with pytest.raises(InvalidSignature):
        py_vapid.jwt.decode(token, stranger_k)
    jose, claims, signature = token.split(".")
    forged = json.loads(unb64url(claims))
    forged["aud"] = "https://elsewhere.example"
    forged_token = ".".join([jose, b64url(json.dumps(forged).encode()), signature])
    with pytest.raises(InvalidSignature):
        verify_es256_with_cryptography(forged_token, k)


def test_http_ece_with_the_wrong_auth_secret_cannot_decrypt_what_was_sent(tmp_path, vapid_file):
    vapid_path, _ = vapid_file
    device = Receiver()
    with PushReceiver() as service:
        subscription = write_subscription(tmp_path, device.subscription(f"{service.origin}/p"))
        assert send(subscription, vapid_path, "--allow-insecure-loopback").returncode == 0
    with pytest.raises(http_ece.ECEException):
        http_ece.decrypt(service.requests[0]["body"], private_key=device.private_key, auth_secret=os.urandom(16), version="aes128gcm")


@pytest.mark.parametrize("status", [404, 410])
def test_a_gone_subscription_is_reported_with_its_own_exit_code(tmp_path, vapid_file, status):
    vapid_path, _ = vapid_file
    with PushReceiver(status=status) as service:
        subscription = write_subscription(tmp_path, Receiver().subscription(f"{service.origin}/gone"))
        done = send(subscription, vapid_path, "--allow-insecure-loopback")
    assert len(service.requests) == 1
    assert done.returncode == EXIT_GONE, done.stderr.decode()
    report = json.loads(done.stdout)
    assert report["status"] == status
    assert report["outcome"] == "subscription_gone"
    assert report["retryable"] is False
    assert "subscription gone" in done.stderr.decode()


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_failing_push_service_is_reported_as_retryable(tmp_path, vapid_file, status):
    vapid_path, _ = vapid_file
    with PushReceiver(status=status, headers={"Retry-After": "120"}) as service:
        subscription = write_subscription(tmp_path, Receiver().subscription(f"{service.origin}/p"))
        done = send(subscription, vapid_path, "--allow-insecure-loopback")
    assert len(service.requests) == 1
    assert done.returncode == EXIT_RETRYABLE, done.stderr.decode()
    report = json.loads(done.stdout)
    assert report["status"] == status
    assert report["outcome"] == "retryable"
    assert report["retryable"] is True
    assert report["retry_after"] == "120"


def test_a_rejecting_push_service_is_not_retryable(tmp_path, vapid_file):
    vapid_path, _ = vapid_file
    with PushReceiver(status=403) as service:
        subscription = write_subscription(tmp_path, Receiver().subscription(f"{service.origin}/p"))
        done = send(subscription, vapid_path, "--allow-insecure-loopback")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert (report["status"], report["outcome"], report["retryable"]) == (403, "rejected", False)


def test_a_push_service_that_hangs_times_out(tmp_path, vapid_file):
    vapid_path, _ = vapid_file
    with PushReceiver(delay=8) as service:
        subscription = write_subscription(tmp_path, Receiver().subscription(f"{service.origin}/slow"))
        started = time.monotonic()
        done = send(subscription, vapid_path, "--allow-insecure-loopback", "--timeout", "1")
        elapsed = time.monotonic() - started
    assert done.returncode == EXIT_RETRYABLE, done.stderr.decode()
    report = json.loads(done.stdout)
    assert report["outcome"] == "timeout"
    assert report["status"] is None
    assert "timeout" in done.stderr.decode()
    assert elapsed < 6, f"took {elapsed:.1f} s with --timeout 1"


def test_nothing_listening_is_reported_as_unreachable_and_retryable(tmp_path, vapid_file):
    vapid_path, _ = vapid_file
    with PushReceiver() as service:
        origin = service.origin
    subscription = write_subscription(tmp_path, Receiver().subscription(f"{origin}/p"))
    done = send(subscription, vapid_path, "--allow-insecure-loopback", "--timeout", "5")
    assert done.returncode == EXIT_RETRYABLE, done.stderr.decode()
    assert json.loads(done.stdout)["outcome"] == "unreachable"


def bad_subscriptions(origin):
    device = Receiver()
    good = device.subscription(f"{origin}/p")
    off_curve = bytearray(device.p256dh)
    off_curve[-1] ^= 1
    yield "plain http without the test flag", good, [], "https://"
    yield "not https at all", {**good, "endpoint": "ftp://127.0.0.1/p"}, ["--allow-insecure-loopback"], "https://"
    yield "http to a non-loopback host", {**good, "endpoint": "http://192.0.2.1/p"}, ["--allow-insecure-loopback"], "loopback"
    yield "p256dh off the curve", {**good, "keys": {**good["keys"], "p256dh": b64url(bytes(off_curve))}}, ["--allow-insecure-loopback"], "not a point on the P-256 curve"
    yield "p256dh not base64url", {**good, "keys": {**good["keys"], "p256dh": "not*base64"}}, ["--allow-insecure-loopback"], "not base64url"
    yield "auth too short", {**good, "keys": {**good["keys"], "auth": b64url(b"short")}}, ["--allow-insecure-loopback"], "auth is 5 bytes; it must be 16"
    yield "no keys", {"endpoint": good["endpoint"]}, ["--allow-insecure-loopback"], '"keys"'


def test_malformed_subscriptions_are_refused_with_a_clear_error_and_nothing_is_sent(tmp_path, vapid_file):
    vapid_path, _ = vapid_file
    with PushReceiver() as service:
        for name, subscription, flags, expected in bad_subscriptions(service.origin):
            path = write_subscription(tmp_path, subscription)
            done = send(path, vapid_path, *flags)
            stderr = done.stderr.decode()
            assert done.returncode == 1, f"{name}: {stderr}"
            assert expected in stderr, f"{name}: {stderr}"
            assert "panicked" not in stderr, f"{name}: {stderr}"
    assert service.requests == [], "a malformed subscription reached the network"


def test_an_oversize_payload_is_refused_before_sending(tmp_path, vapid_file):
    vapid_path, _ = vapid_file
    with PushReceiver() as service:
        subscription = write_subscription(tmp_path, Receiver().subscription(f"{service.origin}/p"))
        done = send(subscription, vapid_path, "--allow-insecure-loopback", payload="x" * 3994)
        fits = send(subscription, vapid_path, "--allow-insecure-loopback", payload="x" * 3993)
    assert done.returncode == 1
    assert "at most 3993" in done.stderr.decode()
    assert fits.returncode == 0, fits.stderr.decode()
    assert len(service.requests) == 1 and len(service.requests[0]["body"]) == 4096


def test_fieldsync_decrypts_what_http_ece_encrypted_to_its_subscription_keys(tmp_path):
    made = fieldsync("push", "subscription-keys", "--endpoint", "https://push.example.net/up/1")
    assert made.returncode == 0, made.stderr.decode()
    out = json.loads(made.stdout)
    keys_path = tmp_path / "keys.json"
    keys_path.write_text(json.dumps(out["keys"]))
    p256dh = unb64url(out["subscription"]["keys"]["p256dh"])
    auth = unb64url(out["subscription"]["keys"]["auth"])
    assert out["subscription"]["endpoint"] == "https://push.example.net/up/1"
    assert len(p256dh) == 65 and p256dh[0] == 4 and len(auth) == 16

    sender = ec.generate_private_key(ec.SECP256R1())
    body = http_ece.encrypt(PAYLOAD.encode(), private_key=sender, dh=p256dh, auth_secret=auth, version="aes128gcm")
    body_path = tmp_path / "body.bin"
    body_path.write_bytes(body)
    opened = fieldsync("push", "decrypt", "--keys", str(keys_path), "--body", str(body_path))
    assert opened.returncode == 0, opened.stderr.decode()
    assert opened.stdout == PAYLOAD.encode()

    tampered = bytearray(body)
    tampered[-1] ^= 1
    body_path.write_bytes(bytes(tampered))
    refused = fieldsync("push", "decrypt", "--keys", str(keys_path), "--body", str(body_path))
    assert refused.returncode == 1
    assert refused.stdout == b""
    assert "does not decrypt with these keys" in refused.stderr.decode()


def relay_call(base, method, path, token=None, body=None):
    """One JSON request to the relay; returns (status, parsed body)."""
    import urllib.error
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_the_relays_deliverer_sends_an_alert_that_http_ece_decrypts_and_py_vapid_verifies(tmp_path):
    """The relay process (`fieldsync serve`) delivers an alert written into its `alerts` table to a
    supervisor's subscription: the body decrypts with http_ece, the VAPID token verifies with
    py_vapid and cryptography, and the delivery log says it was accepted."""
    import contextlib
    import sqlite3

    from cryptography.hazmat.primitives.asymmetric import ed25519

    data = tmp_path / "relay"
    boot = fieldsync("admin", "--data-dir", str(data), "bootstrap", "--reps", "0", "--supervisors", "1")
    assert boot.returncode == 0, boot.stderr.decode()
    boot = json.loads(boot.stdout)
    config = tmp_path / "relay.toml"
    config.write_text(
        f'listen = "127.0.0.1:0"\ndata_dir = "{data}"\n'
        f'[push]\ncontact = "{CONTACT}"\nallow_insecure_loopback = true\npoll_interval_secs = 1\n'
    )
    relay = subprocess.Popen([str(FIELDSYNC), "serve", "--config", str(config)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        line = relay.stdout.readline().decode()
        assert "listening on " in line, line
        base = line.split("listening on ", 1)[1].strip()

        # Enroll the supervisor's phone: Ed25519 signature over the enrollment message.
        code = boot["users"][0]["code"]
        key = ed25519.Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        signature = key.sign(b"fieldsync-enroll-v1\n" + code.encode() + b"\n" + public)
        status, enrolled = relay_call(base, "POST", "/v1/enroll", body={"code": code, "public_key": public.hex(), "signature": signature.hex()})
        assert status == 200, enrolled
        token = enrolled["token"]
        status, vapid = relay_call(base, "GET", "/v1/push/vapid", token)
        assert status == 200, vapid

        device = Receiver()
        with PushReceiver(status=201) as service:
            status, registered = relay_call(base, "POST", "/v1/push/subscriptions", token, device.subscription(f"{service.origin}/up/1"))
            assert status == 201, registered
            payload = json.dumps({"v": 1, "title": "华东 pump retrofit", "stage": "方案提交"}, ensure_ascii=False).encode()
            alert_id, opportunity = os.urandom(16), os.urandom(16)
            started = int(time.time())
            with contextlib.closing(sqlite3.connect(data / "relay.sqlite")) as db, db:
                db.execute(
                    "INSERT INTO alerts (alert_id, key, team_id, opportunity_id, level, payload, raised_at) VALUES (?, ?, ?, ?, 'escalation', ?, ?)",
                    (alert_id, "py-" + alert_id.hex(), boot["team_id"], opportunity, payload, started * 1000),
                )
            deadline = time.time() + 15
            while not service.requests and time.time() < deadline:
                time.sleep(0.05)
            assert len(service.requests) == 1, "the relay sent nothing (or more than one message)"
            request = service.requests[0]

        assert header(request, "Urgency") == "high"
        assert header(request, "Topic") == opportunity.hex()
        assert header(request, "Content-Encoding") == "aes128gcm"
        assert int(header(request, "TTL")) <= 24 * 3600
        plaintext = http_ece.decrypt(request["body"], private_key=device.private_key, auth_secret=device.auth, version="aes128gcm")
        assert plaintext == payload
        token_, k = parse_vapid(header(request, "Authorization"))
        assert k == vapid["public_key"]
        claims = py_vapid.jwt.decode(token_, k)
        verify_es256_with_cryptography(token_, k)
        assert claims["aud"] == service.origin
        assert claims["sub"] == CONTACT
        assert started < claims["exp"] <= int(time.time()) + 24 * 3600

        deadline = time.time() + 10
        while time.time() < deadline:
            status, log = relay_call(base, "GET", "/v1/push/deliveries", token)
            if log["deliveries"]:
                break
            time.sleep(0.1)
        assert [(d["alert_id"], d["outcome"], d["status"]) for d in log["deliveries"]] == [(alert_id.hex(), "accepted", 201)]
    finally:
        relay.terminate()
        exit_status = relay.wait(timeout=20)
        relay.stdout.close()
        assert exit_status == 0, "the relay did not shut down cleanly"
