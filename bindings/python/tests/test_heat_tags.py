"""Heat tags (热度标签) through the generated Python bindings and the real library
(docs/heat-tags.md): a customer's heat, customers listed by level or tag, the heat on customer
search results, and a typed error for an unknown tag."""

import pytest

from fieldsync_ffi import (
    FfiError,
    FfiNewActivity,
    FfiNewCustomer,
    FfiNewOpportunity,
    FfiStage,
    FieldStore,
    PhoneClock,
)

NOW = 1_790_000_000_000
DAY = 86_400_000


class FakeClock(PhoneClock):
    def __init__(self, now):
        self.now = now

    def now_ms(self):
        return self.now

    def uptime(self):
        return None


def customer(store, name):
    return store.create_customer(
        FfiNewCustomer(company_name=name, phones=[], address=None, tags=[], location=None, credit_code=None)
    )


def log(store, customer_id, activity_type, at, summary=""):
    return store.log_activity(
        FfiNewActivity(
            activity_type=activity_type, customer_id=customer_id, opportunity_id=None, visit_id=None,
            contact=None, phone=None, at=at, duration_s=None, summary=summary, outcome=None, next_action=None,
        )
    )


@pytest.fixture
def team(tmp_path):
    clock = FakeClock(NOW - 90 * DAY)
    store = FieldStore.open_with(str(tmp_path / "rep.fieldsync"), clock, None, None)
    inquiring = customer(store, "宁波鑫达精密模具")
    negotiating = customer(store, "苏州精工机械")
    dormant = customer(store, "南京恒信包装")
    log(store, inquiring.id, "inquiry_received", NOW - 30 * DAY)
    log(store, dormant.id, "call", NOW - 61 * DAY, summary="问了交期")
    clock.now = NOW - 5 * DAY
    store.create_opportunity(
        FfiNewOpportunity(
            customer_id=negotiating.id, owner="李娜", title="二期注塑机", stage=FfiStage.NEGOTIATION,
            amount_minor_units=None, currency=None, expected_close_at=None, next_action_due_at=None,
        )
    )
    clock.now = NOW
    yield store, {"inquiring": inquiring.id, "negotiating": negotiating.id, "dormant": dormant.id}
    store.close()


def test_a_customers_heat_has_its_level_tags_and_labels(team):
    store, ids = team
    heat = store.customer_heat(ids["inquiring"])
    assert (heat.level, heat.level_label) == ("hot", "热")
    assert (heat.tags, heat.tag_labels) == (["recent_inquiry"], ["询价"])
    assert heat.last_touch_at == NOW - 30 * DAY
    deal = store.customer_heat(ids["negotiating"])
    assert (deal.level, deal.tags) == ("hot", ["open_deal", "late_stage_deal"])
    quiet = store.customer_heat(ids["dormant"])
    assert (quiet.level, quiet.tags, quiet.tag_labels) == ("cold", ["dormant"], ["沉睡"])


def test_customers_by_tag_lists_by_level_or_tag_with_the_heat(team):
    store, ids = team
    hot = store.customers_by_tag("hot", 10)
    assert [c.id for c in hot] == [ids["negotiating"], ids["inquiring"]]
    assert hot[0].heat.tags == ["open_deal", "late_stage_deal"]
    assert [c.company_name for c in store.customers_by_tag("dormant", 10)] == ["南京恒信包装"]
    assert store.customers_by_tag("sample_sent", 10) == []
    assert len(store.customers_by_tag("hot", 1)) == 1


def test_customer_searches_carry_the_heat(team):
    store, ids = team
    [found] = store.customers_by_name_prefix("南京", 10)
    assert found.id == ids["dormant"]
    assert (found.heat.level, found.heat.tags) == ("cold", ["dormant"])


def test_an_unknown_tag_or_customer_is_a_typed_error(team):
    store, _ = team
    with pytest.raises(FfiError.InvalidInput) as unknown:
        store.customers_by_tag("lukewarm", 10)
    assert "recent_inquiry" in str(unknown.value)
    with pytest.raises(FfiError.NotFound):
        store.customer_heat("0190a1b2-c3d4-7e5f-8071-8293a4b5c6d7")
    with pytest.raises(FfiError.InvalidInput):
        store.customer_heat("not an id")
