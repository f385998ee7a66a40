"""Performance on facts (我的业绩, 智能摘要) through the generated Python bindings and the real
library (docs/kpi.md): an enrolled rep's own figures for this month from the phone's KPI
projection, a malformed period refused; the relay's scoreboard bringing the team's means to a
rep's phone and its team table to the supervisor's only; and a weekly brief's payload — written
here by hand, as another implementation would — read back, with a stall alert refused."""

import asyncio
import datetime
import json
import time

import pytest

from conftest import Relay
from fieldsync_ffi import FfiError, FfiNewActivity, FfiNewCustomer, FfiNextAction, FieldStore, decode_weekly_brief

CHINA = datetime.timezone(datetime.timedelta(hours=8))


def this_month():
    return datetime.datetime.now(CHINA).strftime("%Y-%m")


def log(store, customer_id, activity_type, at, summary, next_action=None):
    return store.log_activity(
        FfiNewActivity(
            activity_type=activity_type, customer_id=customer_id, opportunity_id=None, visit_id=None,
            contact=None, phone=None, at=at, duration_s=None, summary=summary, outcome=None,
            next_action=next_action,
        )
    )


def test_my_figures_count_the_reps_own_work_and_refuse_a_bad_period(tmp_path, relay):
    rep = FieldStore.open(str(tmp_path / "rep.fieldsync"))
    try:
        with pytest.raises(FfiError.InvalidInput):
            rep.my_figures(this_month())  # not enrolled: no user to count for
        asyncio.run(rep.enroll(relay.url, relay.codes[0], "rep 1"))
        now = int(time.time() * 1000)
        customer = rep.create_customer(
            FfiNewCustomer(company_name="宁波鑫达精密模具", phones=[], address=None, tags=[], location=None,
                           credit_code=None)
        )
        # Said what was said, next action done before it was due; and a payment follow-up with
        # no summary (an incomplete record).
        log(rep, customer.id, "call", now - 1000, "问了交期",
            FfiNextAction(what="寄样", due_at=now - 500, done_at=now - 700))
        log(rep, customer.id, "payment_follow_up", now - 900, "")

        mine = rep.my_figures(this_month())
        values = {m.metric: m.value for m in mine.metrics}
        assert mine.period == this_month()
        assert values["payment_follow_ups"] == 1
        assert values["effective_visits"] == 0
        assert values["next_actions_on_time"] == 10_000
        # Three records made this month (the customer, two follow-ups), two complete.
        assert values["data_completeness"] == 6_666
        assert values["data_timeliness"] == 10_000
        units = {m.metric: (m.family, m.unit, m.label) for m in mine.metrics}
        assert units["payment_follow_ups"] == ("behaviour", "count", "回款跟进")
        assert units["data_completeness"] == ("data_quality", "basis_points", "数据完整度")
        assert mine.payout_fen is None and "no incentive rules" in mine.payout_unavailable

        # The same once synced: the phone's rows are its own, whatever the relay sends back.
        asyncio.run(rep.sync(None))
        assert rep.my_figures(this_month()) == mine

        for bad in ["2026-13", "soon", ""]:
            with pytest.raises(FfiError.InvalidInput):
                rep.my_figures(bad)
    finally:
        rep.close()


def test_the_scoreboard_brings_the_team_means_offline_and_the_table_to_the_supervisor_only(tmp_path):
    # A scheduler tick every second: the relay writes the team's boards soon after a change.
    relay = Relay(tmp_path / "relay-data", reps=2, supervisors=1, env={"FIELDSYNC_SCHEDULER_INTERVAL_SECS": "1"})
    phones = [FieldStore.open(str(tmp_path / f"{who}.fieldsync")) for who in ("a", "b", "boss")]
    try:
        a, b, boss = phones
        for phone, code, name in zip(phones, relay.codes, ["phone a", "phone b", "phone boss"]):
            asyncio.run(phone.enroll(relay.url, code, name))
        now = int(time.time() * 1000)
        # Rep a logs three payment follow-ups this month, rep b one.
        for phone, count in ((a, 3), (b, 1)):
            customer = phone.create_customer(
                FfiNewCustomer(company_name=f"宁波鑫达精密模具{count}", phones=[], address=None, tags=[],
                               location=None, credit_code=None)
            )
            for i in range(count):
                log(phone, customer.id, "payment_follow_up", now - 1000 - i, "催了尾款")
            asyncio.run(phone.sync(None))
        assert a.my_figures(this_month()).team_reps is None, "no scoreboard synced yet"

        deadline = time.time() + 30
        while True:
            asyncio.run(a.sync(None))
            mine = a.my_figures(this_month())
            if mine.team_reps == 2 or time.time() > deadline:
                break
            time.sleep(0.5)
        assert mine.team_reps == 2, "the relay wrote the team's scoreboard and the rep's phone has it"
        follow_ups = next(m for m in mine.metrics if m.metric == "payment_follow_ups")
        # 3 and 1: mean and median 2 (the supervisor has no figures of their own).
        assert (follow_ups.value, follow_ups.team_mean, follow_ups.team_median) == (3, 2, 2)
        assert mine.team_computed_at is not None and mine.team_computed_at <= int(time.time() * 1000)
        assert a.team_table(this_month()) is None, "reps never receive the team table"

        asyncio.run(boss.sync(None))
        table = boss.team_table(this_month())
        assert table is not None and table.period == this_month()
        counts = sorted(next(m.value for m in row.metrics if m.metric == "payment_follow_ups") for row in table.reps)
        assert counts == [1, 3]
        assert {row.name for row in table.reps} == {"rep 1", "rep 2"}
        assert all(row.payout_fen is None for row in table.reps) and "no incentive rules" in table.payout_unavailable
        for bad in ["2026-13", ""]:
            with pytest.raises(FfiError.InvalidInput):
                boss.team_table(bad)
    finally:
        for phone in phones:
            phone.close()
        relay.stop()


def test_a_weekly_briefs_payload_reads_back_and_an_alert_does_not():
    payload = {
        "v": 1,
        "type": "weekly_brief",
        "team_id": "team-1",
        "week": "2026-W49",
        "text": "W49周报：最大单「二期注塑机」¥90万方案提交→商务谈判；各阶段转化正常；无人明显落后。",
        "biggest_deal": {
            "deal_id": "0190f0c2-5f1e-7c2a-9d3b-2a6f1c0e4b11",
            "title": "二期注塑机",
            "owner": "u1",
            "amount_fen": 90_000_000,
            "from": "ProposalSubmitted",
            "to": "Negotiation",
        },
        "abnormal_stage": None,
        "needs_support": {
            "rep": "u2", "name": "李娜", "score_bp": 4772, "effective_visits": 3,
            "team_mean_effective_visits": 8,
        },
        "raised_at": 1_796_000_000_000,
    }
    brief = decode_weekly_brief(json.dumps(payload, ensure_ascii=False).encode())
    assert brief.week == "2026-W49"
    assert brief.text.startswith("W49周报")
    assert (brief.biggest_deal_amount_fen, brief.biggest_deal_from, brief.biggest_deal_to) == (
        90_000_000, "ProposalSubmitted", "Negotiation")
    assert brief.abnormal_stage is None
    assert (brief.needs_support_name, brief.needs_support_score_bp) == ("李娜", 4772)

    alert = {"v": 1, "id": "x", "key": "deal/stage", "title": "二期"}
    too_long = dict(payload, text="长" * 101)
    newer = dict(payload, v=2)
    for bad in [alert, too_long, newer]:
        with pytest.raises(FfiError.InvalidInput):
            decode_weekly_brief(json.dumps(bad).encode())
    with pytest.raises(FfiError.InvalidInput):
        decode_weekly_brief(b"\xff\xfe not json")
