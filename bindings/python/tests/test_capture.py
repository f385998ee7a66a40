"""Capturing evidence through the generated bindings: check-in, photos, signed slips."""

import math
import pathlib

import pytest

from fieldsync_ffi import FfiError, FfiFix, FfiNewCustomer, FfiSlipItem, FfiStrokePoint

FIXTURES = pathlib.Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "exif"


def fix(lat=31.2989, lon=120.5853, datum="gcj02", accuracy=12.0, mock=False):
    return FfiFix(lat=lat, lon=lon, datum=datum, source="gps", accuracy_m=accuracy, at=None, mock=mock)


@pytest.fixture
def visit(store):
    customer = store.create_customer(FfiNewCustomer(company_name="苏州精工机械", phones=[], address=None, tags=[]))
    return store.create_visit(customer.id, 1_790_000_000_000, "季度保养")


def stroke(n=12):
    return [FfiStrokePoint(x=10.0 + i * 15.0, y=40.0 + (i % 4) * 10.0, t_ms=i * 8, pressure=0.5) for i in range(n)]


def test_check_in_records_the_fix_and_what_the_checks_found(store, visit):
    result = store.check_in(visit.id, fix(mock=True), 480)
    assert result.outcome == "accept"
    assert result.distance_m is None  # the customer has no site location yet
    codes = [f.code for f in result.visit.flags]
    assert codes == ["site_unknown", "mock_location"]
    assert result.visit.fix_count == 1
    assert store.visit(visit.id).started_at is not None


@pytest.mark.parametrize(
    "bad",
    [fix(lat=math.nan), fix(datum="wgs-84"), fix(lon=181.0), fix(accuracy=None)],
)
def test_bad_fixes_are_typed_errors_and_change_nothing(store, visit, bad):
    with pytest.raises(FfiError.InvalidInput):
        store.check_in(visit.id, bad, 480)
    assert store.visit(visit.id).fix_count == 0


def test_a_camera_photo_is_stored_with_its_copy_and_flags(store, visit):
    jpeg = (FIXTURES / "gps_DSCN0010.jpg").read_bytes()
    photo = store.attach_photo(visit.id, jpeg, fix(lat=43.467448, lon=11.885127, datum="wgs84"), 120)
    assert len(photo.sha256) == 64
    assert store.blob(photo.sha256)[:2] == b"\xff\xd8"
    assert "site_unknown" in [f.code for f in photo.flags]
    assert [p.sha256 for p in store.visit(visit.id).photos] == [photo.sha256]

    for bad in [b"not a jpeg", b"", jpeg[:200]]:
        with pytest.raises(FfiError.InvalidInput):
            store.attach_photo(visit.id, bad, None, 120)
    assert len(store.visit(visit.id).photos) == 1
    with pytest.raises(FfiError.InvalidInput):
        store.blob("xyz")


def test_a_signed_slip_verifies_and_is_sealed(store, visit):
    slip = store.create_slip(visit.id, [FfiSlipItem(description="更换轴承", quantity=2.0, unit="套")], "")
    assert slip.signed_at is None

    with pytest.raises(FfiError.InvalidInput):
        store.sign_slip(slip.id, "王建国", 200.0, 100.0, [], None)
    with pytest.raises(FfiError.InvalidInput):
        store.sign_slip(slip.id, "  ", 200.0, 100.0, [stroke()], None)

    signed = store.sign_slip(slip.id, "王建国", 200.0, 100.0, [stroke(), stroke(3)], fix())
    assert signed.signer_name == "王建国"
    assert signed.signed_at is not None
    assert signed.verification_problem is None
    assert store.blob(signed.signature_png_sha256)[1:4] == b"PNG"
    assert store.slip(slip.id) == signed

    with pytest.raises(FfiError.Sealed):
        store.sign_slip(slip.id, "李四", 200.0, 100.0, [stroke()], None)
