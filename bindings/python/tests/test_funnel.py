"""The funnel and supervisors' alerts through the generated bindings into the real library.

Stage moves with the documents each stage needs, the rep's reminders on a fake clock (the same
rules the relay alerts with), a supervisor's funnel, push messages made by an independent Web
Push implementation (`http_ece`) decoded into typed alerts, and alerts arriving through a
subscription from a real relay process whose scheduler raised them, and a supervisor's phone that
registers its push endpoint with that relay and receives the alert from it as a push message.
"""

import asyncio
import base64
import hashlib
import http.server
import json
import os
import threading
import time
import uuid

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import Relay
from fieldsync_ffi import (
    AlertListener,
    FfiError,
    FfiEvidenceKind,
    FfiNewCustomer,
    FfiNewOpportunity,
    FfiStage,
    FfiStallKind,
    FfiStallLevel,
    FieldStore,
    PhoneClock,
    create_push_keys,
    decode_alert_push,
    push_subscription_json,
)

DAY = 86_400_000
T0 = 1_790_000_000_000


class FakeClock(PhoneClock):
    def __init__(self, now):
        self.now = now

    def now_ms(self):
        return self.now

    def uptime(self):
        return None


def new_deal(store, owner="rep-li", title="注塑机二期"):
    customer = store.create_customer(
        FfiNewCustomer(company_name=f"{title} 客户", phones=[], address=None, tags=[], location=None, credit_code=None)
    )
    return store.create_opportunity(
        FfiNewOpportunity(
            customer_id=customer.id, owner=owner, title=title, stage=FfiStage.FIRST_CONTACT,
            amount_minor_units=50_000_000, currency="CNY", expected_close_at=None, next_action_due_at=None,
        )
    )


def to_proposal(store, deal_id):
    store.attach_deal_document(deal_id, FfiEvidenceKind.TECHNICAL_DOCUMENT, "技术参数.pdf", b"%PDF spec " + deal_id.encode())
    store.move_stage(deal_id, FfiStage.NEEDS_CONFIRMED, None)
    store.attach_deal_document(deal_id, FfiEvidenceKind.QUOTE, "报价单.xlsx", b"quote " + deal_id.encode())
    return store.move_stage(deal_id, FfiStage.PROPOSAL_SUBMITTED, "报价已发")


def test_stage_moves_need_the_stage_documents_and_refusals_are_typed(tmp_path):
    store = FieldStore.open_with(str(tmp_path / "rep.fieldsync"), FakeClock(T0), None, None)
    try:
        deal = new_deal(store)
        with pytest.raises(FfiError.InvalidInput) as refused:
            store.move_stage(deal.id, FfiStage.NEEDS_CONFIRMED, None)
        assert "技术文件" in str(refused.value)
        assert store.deal(deal.id).stage == FfiStage.FIRST_CONTACT, "a refused move saves nothing"

        moved = to_proposal(store, deal.id)
        assert moved.stage == FfiStage.PROPOSAL_SUBMITTED
        assert [(c.from_stage, c.to_stage) for c in moved.history] == [
            (None, FfiStage.FIRST_CONTACT),
            (FfiStage.FIRST_CONTACT, FfiStage.NEEDS_CONFIRMED),
            (FfiStage.NEEDS_CONFIRMED, FfiStage.PROPOSAL_SUBMITTED),
        ]
        assert moved.history[-1].note == "报价已发"
        assert {d.kind for d in moved.documents} == {FfiEvidenceKind.TECHNICAL_DOCUMENT, FfiEvidenceKind.QUOTE}
        back = store.move_stage(deal.id, FfiStage.NEEDS_CONFIRMED, "客户换了负责人")
        assert back.stage == FfiStage.NEEDS_CONFIRMED, "backward moves need nothing"

        with pytest.raises(FfiError.InvalidInput):
            store.attach_deal_document(deal.id, FfiEvidenceKind.QUOTE, "  ", b"x")
        with pytest.raises(FfiError.InvalidInput):
            store.attach_deal_document(deal.id, FfiEvidenceKind.QUOTE, "空.pdf", b"")
        with pytest.raises(FfiError.InvalidInput):
            store.move_stage("not-an-id", FfiStage.WON, None)
        with pytest.raises(FfiError.NotFound):
            store.deal(str(uuid.uuid7()) if hasattr(uuid, "uuid7") else "01900000-0000-7000-8000-000000000000")
    finally:
        store.close()
    with pytest.raises(FfiError.StoreUnavailable):
        store.stalled_deals()


def test_reminders_stalls_and_the_funnel_follow_the_phones_clock(tmp_path):
    clock = FakeClock(T0)
    store = FieldStore.open_with(str(tmp_path / "rep.fieldsync"), clock, None, None)
    try:
        quiet = new_deal(store, title="安静的方案")
        to_proposal(store, quiet.id)
        other = new_deal(store, owner="rep-wang", title="别人的方案")
        to_proposal(store, other.id)

        clock.now = T0 + 6 * DAY
        assert store.stall_reminders("rep-li") == []
        clock.now = T0 + 7 * DAY  # 方案提交: 8-day rules, the rep is reminded a day before
        reminders = store.stall_reminders("rep-li")
        assert [r.opportunity_id for r in reminders] == [quiet.id]
        assert reminders[0].level == FfiStallLevel.REMINDER
        assert reminders[0].kinds == [FfiStallKind.NO_ACTIVITY, FfiStallKind.STAGE_TOO_LONG]
        assert reminders[0].next_due_at == T0 + 8 * DAY
        assert store.stalled_deals() == [], "reminders are the rep's, not the supervisor's"

        clock.now = T0 + 9 * DAY
        stalled = store.stalled_deals()
        assert {s.opportunity_id for s in stalled} == {quiet.id, other.id}
        assert all(s.level == FfiStallLevel.SUPERVISOR and s.due_at == T0 + 8 * DAY for s in stalled)

        report = store.funnel_report()
        team = {c.stage: c.deals for c in report.team}
        assert team[FfiStage.PROPOSAL_SUBMITTED] == 2 and sum(team.values()) == 2
        assert [o.owner for o in report.by_owner] == ["rep-li", "rep-wang"]
        steps = {(c.from_stage, c.to_stage): (c.entered, c.advanced) for c in store.stage_conversion("rep-li")}
        assert steps[(FfiStage.FIRST_CONTACT, FfiStage.NEEDS_CONFIRMED)] == (1, 1)
        assert steps[(FfiStage.PROPOSAL_SUBMITTED, FfiStage.NEGOTIATION)] == (1, 0)
        with pytest.raises(FfiError.InvalidInput):
            store.stall_reminders(" ")
    finally:
        store.close()


# ---- push messages made by http_ece, decoded by the library ----

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def alert_payload(trigger_key, **overrides):
    """The alert JSON the relay sends (docs/funnel.md), with the id derived from the key as the
    relay derives it (UUIDv8 from SHA-256), computed here independently."""
    key = trigger_key
    digest = bytearray(hashlib.sha256(("fieldsync/alert/v1\n" + key).encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x80
    digest[8] = (digest[8] & 0x3F) | 0x80
    opportunity = key.split("/")[0]
    payload = {
        "v": 1, "id": str(uuid.UUID(bytes=bytes(digest))), "key": key, "opportunity_id": opportunity,
        "customer_id": "01990000-0000-7000-8000-0000000000c1", "title": "注塑机二期", "owner": "李娜",
        "stage": "ProposalSubmitted", "level": "supervisor", "kinds": ["no_activity", "stage_too_long"],
        "stage_entered_at": T0, "last_activity_at": T0, "due_at": T0 + 8 * DAY, "threshold_days": 8,
        "rep_last_sync_at": T0 + 8 * DAY + 3_600_000, "raised_at": T0 + 9 * DAY, "by": "00" * 16,
    }
    payload.update(overrides)
    return json.dumps(payload, ensure_ascii=False).encode()


def encrypt_for(keys, plaintext):
    """RFC 8291 aes128gcm to the subscription's public key and auth secret, by http_ece."""
    sender = ec.generate_private_key(ec.SECP256R1())
    return http_ece.encrypt(
        plaintext, private_key=sender, dh=unb64url(keys.p256dh), auth_secret=unb64url(keys.auth),
        version="aes128gcm",
    )


def test_a_push_message_from_an_independent_implementation_decodes_to_a_typed_alert():
    keys = create_push_keys()
    assert len(unb64url(keys.p256dh)) == 65 and len(unb64url(keys.auth)) == 16
    subscription = json.loads(push_subscription_json(keys.secret, "https://push.example.net/up/abc"))
    assert subscription["keys"] == {"p256dh": keys.p256dh, "auth": keys.auth}

    key = f"01990000-0000-7000-8000-0000000000d1/ProposalSubmitted/{T0}/no_activity/supervisor/{T0}"
    alert = decode_alert_push(keys.secret, encrypt_for(keys, alert_payload(key)))
    assert alert.opportunity_id == "01990000-0000-7000-8000-0000000000d1"
    assert (alert.stage, alert.level) == (FfiStage.PROPOSAL_SUBMITTED, FfiStallLevel.SUPERVISOR)
    assert alert.kinds == [FfiStallKind.NO_ACTIVITY, FfiStallKind.STAGE_TOO_LONG]
    assert (alert.title, alert.owner, alert.threshold_days) == ("注塑机二期", "李娜", 8)
    assert alert.raised_at - alert.rep_last_sync_at == 23 * 3_600_000

    other = create_push_keys()
    with pytest.raises(FfiError.InvalidInput, match="decrypted"):
        decode_alert_push(other.secret, encrypt_for(keys, alert_payload(key)))
    for bad in [alert_payload(key, v=2), alert_payload(key, stage="Dreaming"), alert_payload(key, level="reminder"),
                alert_payload(key, key=key.replace("supervisor", "escalation")), b"not json"]:
        with pytest.raises(FfiError.InvalidInput):
            decode_alert_push(keys.secret, encrypt_for(keys, bad))
    with pytest.raises(FfiError.InvalidInput):
        decode_alert_push(keys.secret, os.urandom(200))
    with pytest.raises(FfiError.InvalidInput):
        decode_alert_push(b"\x01" * 7, b"")
    with pytest.raises(FfiError.InvalidInput, match="https"):
        push_subscription_json(keys.secret, "http://push.example.net/up/abc")


# ---- alerts from a real relay's scheduler, through a subscription ----

class Heard(AlertListener):
    def __init__(self):
        self.alerts = []

    def on_alerts(self, alerts):
        self.alerts.extend(alerts)


def test_a_stalled_deal_reaches_the_supervisor_through_an_alert_subscription(tmp_path):
    relay = Relay(tmp_path / "relay-data", reps=1, supervisors=1, env={"FIELDSYNC_SCHEDULER_INTERVAL_SECS": "1"})
    code = {user["role"]: user["code"] for user in relay.users}
    now = int(time.time() * 1000)
    clock = FakeClock(now - 9 * DAY)  # the quote went out nine days ago
    rep = FieldStore.open_with(str(tmp_path / "rep.fieldsync"), clock, None, None)
    supervisor = FieldStore.open(str(tmp_path / "supervisor.fieldsync"))
    try:
        asyncio.run(rep.enroll(relay.url, code["rep"], "rep phone"))
        deal = new_deal(rep, owner="rep 1")
        to_proposal(rep, deal.id)
        clock.now = now
        asyncio.run(rep.sync(None))

        asyncio.run(supervisor.enroll(relay.url, code["supervisor"], "supervisor phone"))
        heard = Heard()
        subscription = supervisor.subscribe_alerts(heard)
        deadline = time.time() + 30
        while not heard.alerts:
            assert time.time() < deadline, "no alert within 30 s"
            time.sleep(0.3)
            asyncio.run(supervisor.sync(None))
        [alert] = heard.alerts
        assert alert.opportunity_id == deal.id and alert.owner == "rep 1"
        assert (alert.stage, alert.level) == (FfiStage.PROPOSAL_SUBMITTED, FfiStallLevel.SUPERVISOR)
        assert 0 <= alert.raised_at - alert.rep_last_sync_at < 60_000, "the rep synced just now"
        assert supervisor.alerts(10) == [alert]

        subscription.close()
        subscription.close()  # harmless twice
        time.sleep(2.2)
        asyncio.run(supervisor.sync(None))
        assert len(heard.alerts) == 1, "a closed subscription hears nothing more"
        assert len(supervisor.alerts(10)) == 1, "one alert, not one per tick"
    finally:
        rep.close()
        supervisor.close()
        relay.stop()


# ---- the supervisor's phone registers its push endpoint; the relay's alert arrives by push ----

class PushService:
    """A push service stand-in on loopback: answers every POST with 201 and keeps its headers and
    body. The relay may send to it over plain http only because its config allows loopback."""

    def __init__(self):
        self.messages = []
        received = self.messages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                received.append((dict(self.headers), body))
                self.send_response(201)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_supervisor_registers_its_push_endpoint_and_the_relays_alert_arrives_by_push(tmp_path):
    config = tmp_path / "relay.toml"
    config.write_text(
        '[push]\ncontact = "mailto:ops@fieldsync.example"\nallow_insecure_loopback = true\npoll_interval_secs = 1\n'
    )
    relay = Relay(
        tmp_path / "relay-data", reps=1, supervisors=1,
        env={"FIELDSYNC_SCHEDULER_INTERVAL_SECS": "1", "FIELDSYNC_CONFIG": str(config)},
    )
    code = {user["role"]: user["code"] for user in relay.users}
    now = int(time.time() * 1000)
    clock = FakeClock(now - 9 * DAY)
    rep = FieldStore.open_with(str(tmp_path / "rep.fieldsync"), clock, None, None)
    supervisor = FieldStore.open(str(tmp_path / "supervisor.fieldsync"))
    service = PushService()
    try:
        keys = create_push_keys()
        endpoint = service.url + "/up/supervisor-1"
        with pytest.raises(FfiError.Unauthorized, match="not enrolled"):
            asyncio.run(supervisor.register_push_endpoint(keys.secret, endpoint))

        asyncio.run(supervisor.enroll(relay.url, code["supervisor"], "supervisor phone"))
        info = asyncio.run(supervisor.push_relay_info())
        assert "webpush" in info.providers
        assert len(unb64url(info.vapid_public_key)) == 65, "an uncompressed P-256 point"

        registered = asyncio.run(supervisor.register_push_endpoint(keys.secret, endpoint))
        assert (registered.provider, registered.address) == ("webpush", endpoint)
        again = asyncio.run(supervisor.register_push_endpoint(keys.secret, endpoint))
        assert again.subscription_id == registered.subscription_id, "registering twice keeps one"
        [listed] = asyncio.run(supervisor.push_registrations())
        assert (listed.subscription_id, listed.address) == (registered.subscription_id, endpoint)
        assert listed.created_at is not None

        # Bad input is typed and registers nothing.
        with pytest.raises(FfiError.InvalidInput, match="loopback"):
            asyncio.run(supervisor.register_push_endpoint(keys.secret, "http://push.example.net/up/1"))
        with pytest.raises(FfiError.InvalidInput):
            asyncio.run(supervisor.register_push_endpoint(b"\x01" * 7, endpoint))
        with pytest.raises(FfiError.InvalidInput, match="32 hex"):
            asyncio.run(supervisor.unregister_push("nope"))
        assert len(asyncio.run(supervisor.push_registrations())) == 1

        # A rep's deal stalls; reps receive no alerts, so their phones cannot register for them.
        asyncio.run(rep.enroll(relay.url, code["rep"], "rep phone"))
        with pytest.raises(FfiError.Unauthorized):
            asyncio.run(rep.register_push_endpoint(create_push_keys().secret, service.url + "/up/rep"))
        deal = new_deal(rep, owner="rep 1")
        to_proposal(rep, deal.id)
        clock.now = now
        asyncio.run(rep.sync(None))

        deadline = time.time() + 30
        while not service.messages:
            assert time.time() < deadline, "no push message within 30 s"
            time.sleep(0.2)
        headers, body = service.messages[0]
        alert = decode_alert_push(keys.secret, body)
        assert alert.opportunity_id == deal.id and alert.owner == "rep 1"
        assert (alert.stage, alert.level) == (FfiStage.PROPOSAL_SUBMITTED, FfiStallLevel.SUPERVISOR)
        authorization = {k.lower(): v for k, v in headers.items()}["authorization"]
        assert authorization.startswith("vapid t=") and f"k={info.vapid_public_key}" in authorization

        # Unregistered (the distributor dropped the endpoint): gone from the relay; twice is NotFound.
        asyncio.run(supervisor.unregister_push(registered.subscription_id))
        assert asyncio.run(supervisor.push_registrations()) == []
        with pytest.raises(FfiError.NotFound):
            asyncio.run(supervisor.unregister_push(registered.subscription_id))
    finally:
        service.stop()
        rep.close()
        supervisor.close()
        relay.stop()
