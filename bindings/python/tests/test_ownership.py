"""Customer ownership and the public pool through the generated Python bindings and the real
library, against a real relay process (docs/ownership.md): a rep releases a customer, two reps
claim it offline, the first claim to reach the relay wins and the other learns why."""

import asyncio
import time

import pytest

from fieldsync_ffi import FfiError, FfiNewCustomer, FfiReminderKind, FieldStore, PhoneClock


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


class MovableClock(PhoneClock):
    """The phone's clock, started at the relay's time and moved by the test."""

    def __init__(self):
        self.now = int(time.time() * 1000)

    def now_ms(self):
        return self.now

    def uptime(self):
        return None


def test_a_quiet_customer_is_on_the_to_do_and_in_the_reminders_before_it_returns_to_the_pool(tmp_path, relay):
    day = 86_400_000
    clock = MovableClock()
    rep = FieldStore.open_with(str(tmp_path / "rep.fieldsync"), clock, None, None)
    try:
        asyncio.run(rep.enroll(relay.url, relay.codes[0], "rep 1"))
        quiet = rep.create_customer(new_customer("常州恒达轴承有限公司", "0519-86661234"))
        sync(rep)
        clock.now += 26 * day
        assert rep.follow_up_todo(clock.now + day).returning_to_pool == []
        assert [r for r in rep.due_reminders("rep 1", clock.now) if r.kind == FfiReminderKind.POOL_RETURN] == []

        # Offline from here: day 27.5 of the default 30.
        clock.now += day + day // 2
        [warning] = rep.follow_up_todo(clock.now + day).returning_to_pool
        assert (warning.customer_id, warning.company_name) == (quiet.id, "常州恒达轴承有限公司")
        assert 0 < warning.returns_at - clock.now <= 3 * day
        [reminder] = [r for r in rep.due_reminders("rep 1", clock.now) if r.kind == FfiReminderKind.POOL_RETURN]
        assert (reminder.customer_id, reminder.returns_at) == (quiet.id, warning.returns_at)
        assert reminder.due_at == warning.returns_at - 3 * day
        assert reminder.what == "常州恒达轴承有限公司"
    finally:
        rep.close()
