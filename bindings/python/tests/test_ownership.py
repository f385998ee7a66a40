"""Customer ownership and the public pool through the generated Python bindings and the real
library, against a real relay process (docs/ownership.md): a rep releases a customer, two reps
claim it offline, the first claim to reach the relay wins and the other learns why."""

import asyncio

import pytest

from fieldsync_ffi import FfiError, FfiNewCustomer, FieldStore


def new_customer(name, phone):
    return FfiNewCustomer(company_name=name, phones=[phone], address="", tags=[], location=None, credit_code=None)


def sync(store):
    return asyncio.run(store.sync(None))


def test_two_reps_claim_a_pool_customer_offline_and_exactly_one_gets_it(tmp_path, relay):
    owner = FieldStore.open(str(tmp_path / "owner.fieldsync"))
    second = FieldStore.open(str(tmp_path / "second.fieldsync"))
    supervisor = FieldStore.open(str(tmp_path / "supervisor.fieldsync"))
    try:
        asyncio.run(owner.enroll(relay.url, relay.codes[0], "rep 1"))
        asyncio.run(second.enroll(relay.url, relay.codes[1], "rep 2"))
        asyncio.run(supervisor.enroll(relay.url, relay.codes[2], "supervisor"))
        customer = owner.create_customer(new_customer("昆山宏达精密模具有限公司", "0512-57771234"))
        sync(owner)
        mine = owner.ownership(customer.id)
        assert mine.mine and mine.reason == "created"
        assert [c.customer_id for c in owner.my_customers()] == [customer.id]

        # The other rep sees that it exists and who owns it, not its record.
        sync(second)
        seen = second.ownership(customer.id)
        assert (seen.mine, seen.owner_name, seen.company_name) == (False, "rep 1", "昆山宏达精密模具有限公司")
        with pytest.raises(FfiError.NotFound):
            second.customer(customer.id)
        with pytest.raises(FfiError.ClaimRefused) as refused:
            second.claim_customer(customer.id)
        assert refused.value.code == "owned_by_other"
        assert second.claims(10) == []  # nothing saved

        # Released to the pool, then claimed by both reps offline; the owner syncs first.
        release = owner.release_customer(customer.id)
        assert (release.action, release.decided) == ("release", False)
        sync(owner)
        assert owner.claims(10)[0].granted
        sync(second)
        assert [p.customer_id for p in second.pool_customers(None, 50)] == [customer.id]
        with pytest.raises(FfiError.ClaimRefused) as cooling:
            owner.claim_customer(customer.id)
        assert cooling.value.code == "cooldown"

        sync(supervisor)
        claim = second.claim_customer(customer.id)
        assert second.ownership(customer.id).pending == "claim"
        sync(second)
        decided = second.claims(10)[0]
        assert (decided.id, decided.decided, decided.granted, decided.code) == (claim.id, True, True, "granted")
        # The record arrives with the grant (fetched after the sync), contacts included.
        assert second.customer(customer.id).phones == ["0512-57771234"]
        assert second.ownership(customer.id).mine
        sync(owner)
        assert owner.ownership(customer.id).owner_name == "rep 2"
        assert owner.my_customers() == []

        with pytest.raises(FfiError.InvalidInput):
            second.claim_customer("not-a-document-id")
    finally:
        for store in (owner, second, supervisor):
            store.close()
