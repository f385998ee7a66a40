"""A rep's day offline, then sync through a real relay process to a second device.

Everything crosses the generated bindings into the real library: the platform services (clock,
key storage, location) are Python objects the library calls back, enroll and sync are coroutines
running on the library's own runtime, and the relay is the `fieldsync` binary on loopback.
"""

import asyncio
import pathlib

import pytest

from fieldsync_ffi import (
    FfiCreateMode,
    FfiCreateOutcome,
    FfiError,
    FfiFix,
    FfiNewCustomer,
    FfiSlipItem,
    FfiStage,
    FfiStrokePoint,
    FfiUptime,
    FieldStore,
    LocationService,
    PhoneClock,
    SecureKeyStorage,
    SyncPhase,
    SyncProgressListener,
)

SHARED = pathlib.Path(__file__).resolve().parents[4] / "shared" / "fixtures"
QR_PHOTO = SHARED / "qr" / "qrcode-3" / "26.png"  # a phone photo of a MECARD, with its text in 26.txt
CAMERA_JPEG = SHARED / "exif" / "gps_DSCN0010.jpg"
MORNING = 1_790_000_000_000  # 2026-09-21 ~21:46 UTC: a fixed day for the fake clock
SITE = dict(lat=31.2989, lon=120.5853, datum="gcj02")


def fix(**overrides):
    fields = dict(SITE, source="gps", accuracy_m=8.0, at=None, mock=False)
    fields.update(overrides)
    return FfiFix(**fields)


class FakeClock(PhoneClock):
    def __init__(self, now):
        self.now = now

    def now_ms(self):
        return self.now

    def uptime(self):
        return None


class MemoryKeyStorage(SecureKeyStorage):
    def __init__(self):
        self.entries = {}

    def load(self, entry):
        return self.entries.get(entry)

    def store(self, entry, value):
        self.entries[entry] = bytes(value)


class FixedLocation(LocationService):
    def __init__(self, current):
        self.current = current
        self.asked = 0

    def current_fix(self):
        self.asked += 1
        return self.current


class Recorder(SyncProgressListener):
    def __init__(self):
        self.seen = []

    def on_progress(self, progress):
        self.seen.append((progress.phase, progress.done, progress.total))


def stroke(n=14):
    return [FfiStrokePoint(x=10.0 + i * 12.0, y=30.0 + (i % 5) * 9.0, t_ms=i * 9, pressure=0.5) for i in range(n)]


class PhoneClocks(PhoneClock):
    """The wall clock the user can set, and time since boot, which moves only as time passes."""

    def __init__(self, wall):
        self.wall = wall
        self.since_boot = 120_000

    def pass_time(self, ms):
        self.wall += ms
        self.since_boot += ms

    def now_ms(self):
        return self.wall

    def uptime(self):
        return FfiUptime(boot_id="boot-3", uptime_ms=self.since_boot)


def test_the_phones_own_track_and_clock_flag_a_faked_day_offline(tmp_path):
    clock = PhoneClocks(MORNING)
    rep = FieldStore.open_with(str(tmp_path / "rep.fieldsync"), clock, MemoryKeyStorage(), None)
    try:
        suzhou = dict(lat=31.2990, lon=120.5853, datum="wgs84")
        nanjing = dict(lat=32.0603, lon=118.7969, datum="wgs84")
        visits = []
        for name, site in [("苏州精工", suzhou), ("南京华远", nanjing), ("南京晨光", nanjing)]:
            created = rep.create_customer_checked(
                FfiNewCustomer(company_name=name, phones=[], address="", tags=[], location=fix(**site), credit_code=None),
                FfiCreateMode.CREATE_ANYWAY,
            )
            visits.append(rep.create_visit(created.customer.id, clock.wall, ""))
        assert rep.check_in(visits[0].id, fix(**suzhou), 480).visit.flags == []
        # Eight minutes later, "at" a customer 190 km away.
        clock.pass_time(8 * 60_000)
        flags = rep.check_in(visits[1].id, fix(**nanjing), 480).visit.flags
        assert [f.code for f in flags] == ["impossible_travel"], flags
        # Two hours on, the clock is set back three hours for the next one.
        clock.pass_time(2 * 3_600_000)
        clock.wall -= 3 * 3_600_000
        codes = [f.code for f in rep.check_in(visits[2].id, fix(**nanjing), 480).visit.flags]
        assert "clock_off_last_save" in codes, codes
    finally:
        rep.close()


def test_a_reps_offline_day_syncs_through_a_real_relay_to_a_second_device(tmp_path, relay):
    clock = FakeClock(MORNING)
    keys = MemoryKeyStorage()
    gps = FixedLocation(fix())
    rep = FieldStore.open_with(str(tmp_path / "rep.fieldsync"), clock, keys, gps)
    try:
        # --- offline: no relay involved until enroll ---
        outcome = rep.create_customer_checked(
            FfiNewCustomer(
                company_name="苏州精工机械有限公司", phones=["0512-6888 8888"], address="苏州工业园区",
                tags=["展会"], location=fix(), credit_code=None,
            ),
            FfiCreateMode.WARN_IF_DUPLICATES,
        )
        assert isinstance(outcome, FfiCreateOutcome.CREATED)
        customer = outcome.customer
        assert customer.created_at == MORNING  # the library read the app's clock

        scan = rep.scan_lead_image(QR_PHOTO.read_bytes())
        assert scan.lead.raw_payload == QR_PHOTO.with_suffix(".txt").read_text()
        assert scan.lead.format == "mecard"
        assert scan.lead.name == "Sean Owen"
        assert scan.lead.phones == ["+12125658770"]
        card = rep.save_lead_card(scan.lead, "2026 工博会", customer.id)

        clock.now += 3_600_000
        visit = rep.create_visit(customer.id, clock.now, "季度保养")
        checked_in = rep.check_in_here(visit.id, 480)
        assert gps.asked == 1
        assert checked_in.outcome == "accept"
        assert checked_in.visit.on_site is True
        assert checked_in.distance_m < 1.0
        photo = rep.attach_photo(visit.id, CAMERA_JPEG.read_bytes(), fix(), 480)
        slip = rep.create_slip(visit.id, [FfiSlipItem(description="更换主轴轴承", quantity=2.0, unit="套")], "")
        signed = rep.sign_slip(slip.id, "王建国", 300.0, 120.0, [stroke(), stroke(6)], fix())
        assert signed.verification_problem is None
        assert [v.id for v in rep.visits_between(MORNING, clock.now + 1)] == [visit.id]
        near = rep.customers_near(fix(lat=31.2995), 500.0, 10)
        assert [c.id for c in near] == [customer.id] and 50 < near[0].distance_m < 100
        waiting = rep.outbox_len()
        assert waiting >= 6

        # --- online: enroll and sync on the library's runtime ---
        enrollment = asyncio.run(rep.enroll(relay.url, relay.codes[0], "rep phone"))
        assert enrollment.device_id == rep.device_id() and enrollment.role == "rep"
        assert rep.relay_url() == relay.url
        assert set(keys.entries) == {"fieldsync.device_key", "fieldsync.relay_token"}
        progress = Recorder()
        report = asyncio.run(rep.sync(progress))
        assert report.pushed == waiting and report.rejected == 0
        assert report.outbox_remaining == 0 and rep.outbox_len() == 0
        uploaded = [photo.sha256, photo.thumbnail_sha256, signed.signature_png_sha256, signed.strokes_sha256]
        assert report.blobs_uploaded == len(uploaded)
        for sha in uploaded:
            assert relay.blob_path(sha).read_bytes() == rep.blob(sha)
        phases = [phase for phase, _, _ in progress.seen]
        assert {SyncPhase.PUSHING, SyncPhase.PULLING, SyncPhase.BLOBS} <= set(phases)
        assert (SyncPhase.PUSHING, waiting, waiting) in progress.seen
        assert progress.seen[-1] == (SyncPhase.BLOBS, len(uploaded), len(uploaded))
    finally:
        rep.close()

    # --- the supervisor's device enrolls and sees the day (another rep would see only that the
    # customer exists and who owns it: docs/ownership.md) ---
    other = FieldStore.open(str(tmp_path / "second.fieldsync"))
    try:
        asyncio.run(other.enroll(relay.url, relay.codes[2], "supervisor phone"))
        received = asyncio.run(other.sync(None))
        # the customer and its ownership listing, the lead card, the visit and the slip
        assert received.received == 5
        assert other.customer(customer.id).company_name == "苏州精工机械有限公司"
        assert other.lead_card(card.id).lead == scan.lead
        assert other.lead_card(card.id).customer_id == customer.id
        seen_visit = other.visit(visit.id)
        assert seen_visit.on_site is True
        assert [p.sha256 for p in seen_visit.photos] == [photo.sha256]
        seen_slip = other.slip(slip.id)
        assert seen_slip.signer_name == "王建国" and seen_slip.verification_problem is None
    finally:
        other.close()


def test_the_key_storage_holds_the_device_identity_across_reopen(tmp_path):
    keys = MemoryKeyStorage()
    path = str(tmp_path / "device.fieldsync")
    first = FieldStore.open_with(path, None, keys, None)
    device = first.device_id()
    first.close()
    again = FieldStore.open_with(path, None, keys, None)
    assert again.device_id() == device
    again.close()
    with pytest.raises(FfiError.Storage):  # the key is not in the file: the keystore is required
        FieldStore.open(path)
    with pytest.raises(FfiError.Storage):  # a keystore that lost the key cannot stand in
        FieldStore.open_with(path, None, MemoryKeyStorage(), None)


def test_sync_and_enroll_errors_arrive_as_typed_exceptions(tmp_path, relay):
    store = FieldStore.open(str(tmp_path / "d.fieldsync"))
    try:
        with pytest.raises(FfiError.Unauthorized):
            asyncio.run(store.sync(None))  # not enrolled
        with pytest.raises(FfiError.Unauthorized):
            asyncio.run(store.enroll(relay.url, "WRONG-CODE-0000", "phone"))
        with pytest.raises(FfiError.InvalidInput):
            asyncio.run(store.enroll("relay.example", relay.codes[0], "phone"))
        with pytest.raises(FfiError.InvalidInput):
            asyncio.run(store.enroll(relay.url, "  ", "phone"))
        relay.stop()
        with pytest.raises(FfiError.Network) as unreachable:
            asyncio.run(store.enroll(relay.url, relay.codes[0], "phone"))
        assert unreachable.value.retryable is True
        assert store.relay_url() is None
    finally:
        store.close()
    with pytest.raises(FfiError.StoreUnavailable):
        asyncio.run(store.sync(None))


def test_a_used_enrollment_code_is_refused(tmp_path, relay):
    first = FieldStore.open(str(tmp_path / "a.fieldsync"))
    second = FieldStore.open(str(tmp_path / "b.fieldsync"))
    try:
        asyncio.run(first.enroll(relay.url, relay.codes[0], "a"))
        with pytest.raises(FfiError.Unauthorized):
            asyncio.run(second.enroll(relay.url, relay.codes[0], "b"))
    finally:
        first.close()
        second.close()


def test_a_panic_inside_the_library_is_an_internal_error_and_the_store_survives(store):
    with pytest.raises(FfiError.Internal) as caught:
        store.test_only_panic("boom from a test")
    assert "boom from a test" in str(caught.value)
    with pytest.raises(FfiError.Internal):
        asyncio.run(store.test_only_panic_async("async boom"))
    assert store.outbox_len() == 0


def test_lead_cards_from_text_and_bad_photos(store):
    existing = store.create_customer(
        FfiNewCustomer(company_name="美达电器", phones=["13812345678"], address=None, tags=[])
    )
    scan = store.scan_lead_text("MECARD:N:陈明;ORG:美达电器;TEL:13812345678;;")
    assert scan.lead.company == "美达电器"
    assert [c.customer.id for c in scan.candidates] == [existing.id]
    assert any(r.code == "shared_phone" for r in scan.candidates[0].reasons)

    for bad in ["", "   "]:
        with pytest.raises(FfiError.InvalidInput):
            store.scan_lead_text(bad)
    for bad in [b"", b"not a photo at all", CAMERA_JPEG.read_bytes()[:300]]:
        with pytest.raises(FfiError.InvalidInput):
            store.scan_lead_image(bad)
    with pytest.raises(FfiError.InvalidInput):  # a real photo, but no QR code in it
        store.scan_lead_image((SHARED / "exif" / "mobile_jolla.jpg").read_bytes())


def test_a_scanned_switchboard_keeps_its_extension_to_show_and_dial():
    from fieldsync_ffi import read_phone_numbers

    [number] = read_phone_numbers("+86-21-6234-5678;ext=8021")
    assert (number.e164, number.extension, number.kind) == ("+862162345678", "8021", "landline")
    assert number.display == "021 6234 5678 转 8021"
    assert number.dial == "+862162345678,8021"
    listed = read_phone_numbers("021 6234 5678 / 6234 5679")
    assert [n.e164 for n in listed] == ["+862162345678", "+862162345679"]
    assert read_phone_numbers("见名片") == []


def test_a_scanned_card_keeps_the_extension_for_the_duplicate_check(store):
    store.create_customer(
        FfiNewCustomer(company_name="上海远大模具有限公司", phones=["021-62345678转8022"], address=None, tags=[])
    )
    scan = store.scan_lead_text("tel:+862162345678;ext=8021")
    assert scan.lead.phones == ["+862162345678;ext=8021"]
    reasons = [r.code for c in scan.candidates for r in c.reasons]
    assert "shared_switchboard" in reasons and "shared_phone" not in reasons


def test_duplicate_check_warns_then_creates_when_forced(store):
    new = FfiNewCustomer(company_name="宁波天工泵业有限公司", phones=["0574 8765 4321"], address=None, tags=[])
    store.create_customer(new)
    candidates = store.duplicate_candidates(new)
    assert candidates and candidates[0].warning and candidates[0].decision == "same"
    warned = store.create_customer_checked(new, FfiCreateMode.WARN_IF_DUPLICATES)
    assert isinstance(warned, FfiCreateOutcome.DUPLICATES)
    assert store.outbox_len() == 1
    forced = store.create_customer_checked(new, FfiCreateMode.CREATE_ANYWAY)
    assert isinstance(forced, FfiCreateOutcome.CREATED)
    assert store.outbox_len() == 2


def test_opportunity_queries_and_bad_arguments(store):
    customer = store.create_customer(FfiNewCustomer(company_name="杭州汽轮", phones=[], address=None, tags=[]))
    from fieldsync_ffi import FfiNewOpportunity

    due = 1_790_000_000_000
    made = store.create_opportunity(
        FfiNewOpportunity(
            customer_id=customer.id, owner="rep-li", title="CNC 改造", stage=FfiStage.NEGOTIATION,
            amount_minor_units=12_000_000, currency="CNY", expected_close_at=None, next_action_due_at=due,
        )
    )
    assert [o.id for o in store.opportunities_in_stage(FfiStage.NEGOTIATION, 10)] == [made.id]
    assert store.opportunities_in_stage(FfiStage.WON, 10) == []
    assert [o.id for o in store.opportunities_due_before(due + 1, 10)] == [made.id]
    assert store.opportunities_due_before(due, 10) == []
    assert made.stage == FfiStage.NEGOTIATION and made.amount_minor_units == 12_000_000
    with pytest.raises(FfiError.InvalidInput):  # an amount without its currency
        store.create_opportunity(
            FfiNewOpportunity(
                customer_id=customer.id, owner="rep-li", title="x", stage=FfiStage.WON,
                amount_minor_units=5, currency=None, expected_close_at=None, next_action_due_at=None,
            )
        )
    with pytest.raises(FfiError.InvalidInput):
        store.customers_near(fix(lat=float("nan")), 100.0, 10)
    with pytest.raises(FfiError.InvalidInput):
        store.customers_near(fix(), float("nan"), 10)
    with pytest.raises(FfiError.InvalidInput):
        store.visit("")
    with pytest.raises(FfiError.InvalidInput):  # no location service was given to open()
        store.check_in_here(store.create_visit(customer.id, due, "").id, 480)
