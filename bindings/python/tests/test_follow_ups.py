"""Follow-ups through the generated Python bindings and the real library, synced through a real
relay process to a second device of the team (docs/follow-ups.md)."""

import asyncio

import pytest

from fieldsync_ffi import (
    FfiCreateMode,
    FfiError,
    FfiNewActivity,
    FfiNewCustomer,
    FfiNewOpportunity,
    FfiNextAction,
    FfiReminderKind,
    FfiStage,
    FfiStallKind,
    FfiStallLevel,
    FieldStore,
    PhoneClock,
)

MORNING = 1_790_000_000_000
HOUR = 3_600_000
DAY = 24 * HOUR


class FakeClock(PhoneClock):
    def __init__(self, now):
        self.now = now

    def now_ms(self):
        return self.now

    def uptime(self):
        return None


def new_activity(customer_id, **overrides):
    fields = dict(
        activity_type="sample_sent", customer_id=customer_id, opportunity_id=None, visit_id=None,
        contact="王经理", phone=None, at=MORNING, duration_s=None, summary="寄了两件样品",
        outcome=None, next_action=None,
    )
    fields.update(overrides)
    return FfiNewActivity(**fields)


def test_a_call_and_a_sample_reach_the_second_device_with_the_timeline(tmp_path, relay):
    clock = FakeClock(MORNING)
    rep = FieldStore.open_with(str(tmp_path / "rep.fieldsync"), clock, None, None)
    try:
        customer = rep.create_customer_checked(
            FfiNewCustomer(company_name="宁波海天塑机", phones=["0574-8888 1234"], address="", tags=[],
                           location=None, credit_code=None),
            FfiCreateMode.WARN_IF_DUPLICATES,
        ).customer
        call = rep.start_call(customer.id, "0574-8888 1234")
        assert (call.activity_type, call.label, call.at, call.summary) == ("call", "电话", MORNING, "")
        assert call.phone == "0574-8888 1234"
        clock.now += 25 * HOUR
        todo = rep.follow_up_todo(clock.now)
        assert [a.id for a in todo.calls_without_summary] == [call.id]
        finished = rep.finish_call(
            call.id, 300, "接通", "确认二期两台 450 吨", FfiNextAction(what="发报价", due_at=clock.now + HOUR, done_at=None)
        )
        assert finished.duration_s == 300 and finished.next_action.what == "发报价"
        todo = rep.follow_up_todo(clock.now + 2 * HOUR)
        assert todo.calls_without_summary == []
        assert [(a.id, a.next_action_what) for a in todo.due] == [(call.id, "发报价")]
        sample = rep.log_activity(new_activity(customer.id, at=clock.now))
        page = rep.customer_timeline(customer.id, None, None, 10)
        assert [e.id for e in page.entries] == [sample.id, call.id]
        assert page.entries[0].line == "寄样 · 寄了两件样品"
        assert page.next_before_at is None

        asyncio.run(rep.enroll(relay.url, relay.codes[0], "rep phone"))
        asyncio.run(rep.sync(None))
    finally:
        rep.close()

    # The supervisor's phone (codes[2]) gets the rep's follow-ups; another rep's (codes[1]) does
    # not: the call names the customer's people and numbers (docs/ownership.md).
    colleague = FieldStore.open(str(tmp_path / "colleague.fieldsync"))
    try:
        asyncio.run(colleague.enroll(relay.url, relay.codes[1], "colleague phone"))
        asyncio.run(colleague.sync(None))
        with pytest.raises(FfiError.NotFound):
            colleague.activity(call.id)
        assert colleague.customer_timeline(customer.id, None, None, 10).entries == []
    finally:
        colleague.close()

    other = FieldStore.open(str(tmp_path / "second.fieldsync"))
    try:
        asyncio.run(other.enroll(relay.url, relay.codes[2], "supervisor phone"))
        asyncio.run(other.sync(None))
        assert other.activity(call.id) == finished
        first = other.customer_timeline(customer.id, None, None, 1)
        assert [e.id for e in first.entries] == [sample.id]
        second = other.customer_timeline(customer.id, first.next_before_at, first.next_before_id, 1)
        assert [e.id for e in second.entries] == [call.id]
    finally:
        other.close()


def test_bad_follow_ups_are_invalid_input_and_save_nothing(tmp_path):
    store = FieldStore.open_with(str(tmp_path / "rep.fieldsync"), FakeClock(MORNING), None, None)
    try:
        customer = store.create_customer_checked(
            FfiNewCustomer(company_name="苏州精工", phones=[], address="", tags=[], location=None, credit_code=None),
            FfiCreateMode.WARN_IF_DUPLICATES,
        ).customer
        waiting = store.outbox_len()
        for bad in [
            new_activity(customer.id, duration_s=-60),
            new_activity(customer.id, summary="长" * 100_000),
            new_activity(customer.id, activity_type="fax"),
            new_activity(customer.id, next_action=FfiNextAction(what="回电", due_at=MORNING - HOUR, done_at=None)),
            new_activity(customer.id, opportunity_id="not-an-id"),
        ]:
            with pytest.raises(FfiError.InvalidInput):
                store.log_activity(bad)
        with pytest.raises(FfiError.NotFound):
            store.log_activity(new_activity("0190a0b0-0000-7000-8000-000000000001"))
        with pytest.raises(FfiError.InvalidInput):
            store.customer_timeline(customer.id, MORNING, None, 10)
        assert store.outbox_len() == waiting
    finally:
        store.close()


def test_a_due_next_action_is_a_reminder_beside_the_deals_stall_reminders(tmp_path):
    clock = FakeClock(MORNING)
    rep = FieldStore.open_with(str(tmp_path / "rep.fieldsync"), clock, None, None)
    try:
        customer = rep.create_customer(
            FfiNewCustomer(company_name="常州恒力精密", phones=[], address=None, tags=[], location=None, credit_code=None)
        )
        deal = rep.create_opportunity(
            FfiNewOpportunity(
                customer_id=customer.id, owner="rep-li", title="两台五轴机床", stage=FfiStage.FIRST_CONTACT,
                amount_minor_units=None, currency=None, expected_close_at=None, next_action_due_at=None,
            )
        )
        call = rep.log_activity(new_activity(
            customer.id, activity_type="call", opportunity_id=deal.id, summary="客户要两台的报价",
            next_action=FfiNextAction(what="发报价单", due_at=MORNING + 2 * DAY, done_at=None),
        ))

        assert rep.due_reminders("rep-li", MORNING + DAY) == []
        [due] = rep.due_reminders("rep-li", MORNING + 2 * DAY)
        assert (due.kind, due.stall_kind, due.level) == (FfiReminderKind.NEXT_ACTION, None, None)
        assert (due.due_at, due.what, due.activity_id, due.opportunity_id) == (
            MORNING + 2 * DAY, "发报价单", call.id, deal.id,
        )

        # 初步接触: the stage rule reminds the rep on day 4, in the same list.
        clock.now = MORNING + 4 * DAY
        reminders = rep.due_reminders("rep-li", clock.now)
        assert [(r.kind, r.stall_kind, r.level, r.due_at) for r in reminders] == [
            (FfiReminderKind.NEXT_ACTION, None, None, MORNING + 2 * DAY),
            (FfiReminderKind.STALL, FfiStallKind.NO_ACTIVITY, FfiStallLevel.REMINDER, MORNING + 4 * DAY),
            (FfiReminderKind.STALL, FfiStallKind.STAGE_TOO_LONG, FfiStallLevel.REMINDER, MORNING + 4 * DAY),
        ]
        assert all(r.what == "两台五轴机床" for r in reminders[1:])
        assert len({r.key for r in reminders}) == 3
        assert rep.due_reminders("rep-li", clock.now) == reminders, "same keys: each scheduled once"
        # Another owner's deals do not remind; this phone's own next action does, whoever asks.
        assert [r.kind for r in rep.due_reminders("rep-wang", clock.now)] == [FfiReminderKind.NEXT_ACTION]

        rep.complete_next_action(call.id)
        assert [r.kind for r in rep.due_reminders("rep-li", clock.now)] == [FfiReminderKind.STALL] * 2
        with pytest.raises(FfiError.InvalidInput):
            rep.due_reminders(" ", clock.now)
    finally:
        rep.close()
