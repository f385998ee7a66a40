"""The FieldStore flow an app performs, through the generated Python bindings and the real library."""

import re
import time

import pytest

from fieldsync_ffi import FfiCustomer, FfiCustomerSummary, FfiError, FfiNewCustomer, FieldStore


def new_customer(name, phones=(), address=None, tags=()):
    return FfiNewCustomer(company_name=name, phones=list(phones), address=address, tags=list(tags))


def test_created_customer_reads_back_with_every_field(store):
    before_ms = int(time.time() * 1000)
    created = store.create_customer(
        new_customer("温州正泰电器", phones=["+86 577 6287 7777"], address="浙江省乐清市", tags=["vip", "展会"])
    )

    assert isinstance(created, FfiCustomer)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", created.id)
    assert created.company_name == "温州正泰电器"
    assert created.phones == ["+86 577 6287 7777"]
    assert created.address == "浙江省乐清市"
    assert created.tags == ["vip", "展会"]
    assert before_ms - 5_000 <= created.created_at <= int(time.time() * 1000) + 5_000

    assert store.customer(created.id) == created


def test_optional_fields_cross_as_none_and_empty_lists(store):
    created = store.create_customer(new_customer("Acme Valves"))
    read = store.customer(created.id)
    assert read.address is None
    assert read.phones == []
    assert read.tags == []


def test_name_prefix_query_returns_matches_in_name_order_up_to_the_limit(store):
    for name in ["Ningbo Pumps", "Acme Valves", "ACME Bearings", "Acme Castings", "Wenzhou Switches"]:
        store.create_customer(new_customer(name, phones=[f"0574 {len(name):04d}"]))

    found = store.customers_by_name_prefix("acme", 10)
    assert all(isinstance(s, FfiCustomerSummary) for s in found)
    assert [s.company_name for s in found] == ["ACME Bearings", "Acme Castings", "Acme Valves"]
    assert found[0].first_phone == "0574 0013"

    assert len(store.customers_by_name_prefix("acme", 2)) == 2
    assert store.customers_by_name_prefix("Zhejiang", 10) == []


def test_each_created_customer_waits_in_the_outbox(store):
    assert store.outbox_len() == 0
    for i in range(3):
        store.create_customer(new_customer(f"Customer {i}"))
    assert store.outbox_len() == 3


def test_device_id_is_stable_across_reopen_and_data_survives(store_path):
    first = FieldStore.open(store_path)
    device = first.device_id()
    created = first.create_customer(new_customer("Hangzhou Motors"))
    first.close()

    again = FieldStore.open(store_path)
    try:
        assert re.fullmatch(r"[0-9a-f]+", device)
        assert again.device_id() == device
        assert again.customer(created.id).company_name == "Hangzhou Motors"
        assert again.outbox_len() == 1
    finally:
        again.close()


def test_empty_company_name_raises_invalid_input_and_stores_nothing(store):
    with pytest.raises(FfiError.InvalidInput) as raised:
        store.create_customer(new_customer(""))
    assert isinstance(raised.value, FfiError)
    assert raised.value.message
    assert store.outbox_len() == 0


def test_malformed_id_raises_invalid_input(store):
    with pytest.raises(FfiError.InvalidInput) as raised:
        store.customer("not-an-id")
    assert raised.value.message


def test_unknown_well_formed_id_raises_not_found(store, tmp_path):
    elsewhere = FieldStore.open(str(tmp_path / "other.fieldsync"))
    try:
        foreign_id = elsewhere.create_customer(new_customer("Elsewhere Ltd")).id
    finally:
        elsewhere.close()
    with pytest.raises(FfiError.NotFound):
        store.customer(foreign_id)


def test_empty_path_raises_invalid_input():
    with pytest.raises(FfiError.InvalidInput):
        FieldStore.open("  ")


def test_second_open_of_the_same_file_raises_store_unavailable(store, store_path):
    with pytest.raises(FfiError.StoreUnavailable) as raised:
        FieldStore.open(store_path)
    assert raised.value.message
    # The first handle is unaffected.
    assert store.outbox_len() == 0


def test_every_call_after_close_raises_store_unavailable(store):
    created = store.create_customer(new_customer("Before Close"))
    store.close()

    with pytest.raises(FfiError.StoreUnavailable):
        store.outbox_len()
    with pytest.raises(FfiError.StoreUnavailable):
        store.create_customer(new_customer("After Close"))
    with pytest.raises(FfiError.StoreUnavailable):
        store.customer(created.id)
    with pytest.raises(FfiError.StoreUnavailable):
        store.customers_by_name_prefix("Before", 10)
    store.close()  # closing twice is harmless


def test_close_releases_the_file_for_the_next_open(store, store_path):
    store.close()
    reopened = FieldStore.open(store_path)
    reopened.close()
