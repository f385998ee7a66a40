//! The metric catalogue: every KPI fieldsync computes, its unit and its family. Definitions are
//! written down in docs/kpi.md; the computation is in [`super::compute`].

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::calendar::Period;

/// What a metric's integer value counts. No floats anywhere: rates are basis points, money is fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A plain count.
    Count,
    /// Thousandths (a per-day average ×1000).
    Milli,
    /// Basis points: 10,000 = 100 %. May be negative for growth.
    BasisPoints,
    /// Money in fen (0.01 CNY).
    Fen,
}

/// Which kind of effort a metric measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// 行为指标: what the rep does.
    Behaviour,
    /// 结果指标: what the work achieves.
    Result,
    /// 数据质量: how well the rep records it.
    DataQuality,
}

/// One metric of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// 有效拜访: visits with an on-site check-in, an unflagged on-site photo and a verified slip.
    EffectiveVisits,
    /// Visits in the period that fell short of effective (reasons in the computation's detail).
    VisitsNotEffective,
    /// 日均客户触达: distinct customers with a visit or an activity, per working day (×1000).
    CustomerTouchesPerDay,
    /// 报价修订: quotes attached to deals.
    QuoteRevisions,
    /// 回款跟进: payment follow-ups logged.
    PaymentFollowUps,
    /// 下一步按时完成率: next actions due in the period done by their due time (basis points).
    NextActionsOnTime,
    /// 新客户赢单率: won among the closed deals of customers with no earlier won deal (bp).
    NewCustomerWinRate,
    /// 老客户复购增长: won amount of existing customers against the same period a year before (bp).
    RepeatPurchaseGrowth,
    /// 毛利贡献: margin of the deals won (fen).
    GrossMargin,
    /// 线索→方案转化率: deals opened in the period that reached 方案提交 by its end (bp).
    LeadToProposal,
    /// 产出: amount of the deals won (fen); the team's mean is the per-capita output.
    Output,
    /// 数据完整度: records made in the period that carry what they should (bp).
    DataCompleteness,
    /// 数据及时性: records made within 24 h of what they record (bp).
    DataTimeliness,
}

impl Metric {
    /// Every metric, in catalogue order.
    pub const ALL: [Metric; 13] = [
        Metric::EffectiveVisits,
        Metric::VisitsNotEffective,
        Metric::CustomerTouchesPerDay,
        Metric::QuoteRevisions,
        Metric::PaymentFollowUps,
        Metric::NextActionsOnTime,
        Metric::NewCustomerWinRate,
        Metric::RepeatPurchaseGrowth,
        Metric::GrossMargin,
        Metric::LeadToProposal,
        Metric::Output,
        Metric::DataCompleteness,
        Metric::DataTimeliness,
    ];

    /// The name in files, APIs and rules.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::EffectiveVisits => "effective_visits",
            Metric::VisitsNotEffective => "visits_not_effective",
            Metric::CustomerTouchesPerDay => "customer_touches_per_day",
            Metric::QuoteRevisions => "quote_revisions",
            Metric::PaymentFollowUps => "payment_follow_ups",
            Metric::NextActionsOnTime => "next_actions_on_time",
            Metric::NewCustomerWinRate => "new_customer_win_rate",
            Metric::RepeatPurchaseGrowth => "repeat_purchase_growth",
            Metric::GrossMargin => "gross_margin",
            Metric::LeadToProposal => "lead_to_proposal",
            Metric::Output => "output",
            Metric::DataCompleteness => "data_completeness",
            Metric::DataTimeliness => "data_timeliness",
        }
    }

    /// The metric named `s`.
    pub fn parse(s: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// What managers read.
    pub fn label_zh(self) -> &'static str {
        match self {
            Metric::EffectiveVisits => "有效拜访",
            Metric::VisitsNotEffective => "未达有效的拜访",
            Metric::CustomerTouchesPerDay => "日均客户触达",
            Metric::QuoteRevisions => "报价修订",
            Metric::PaymentFollowUps => "回款跟进",
            Metric::NextActionsOnTime => "下一步按时完成率",
            Metric::NewCustomerWinRate => "新客户赢单率",
            Metric::RepeatPurchaseGrowth => "老客户复购增长",
            Metric::GrossMargin => "毛利贡献",
            Metric::LeadToProposal => "线索→方案转化率",
            Metric::Output => "产出",
            Metric::DataCompleteness => "数据完整度",
            Metric::DataTimeliness => "数据及时性",
        }
    }

    /// Its unit.
    pub fn unit(self) -> Unit {
        match self {
            Metric::EffectiveVisits
            | Metric::VisitsNotEffective
            | Metric::QuoteRevisions
            | Metric::PaymentFollowUps => Unit::Count,
            Metric::CustomerTouchesPerDay => Unit::Milli,
            Metric::NextActionsOnTime
            | Metric::NewCustomerWinRate
            | Metric::RepeatPurchaseGrowth
            | Metric::LeadToProposal
            | Metric::DataCompleteness
            | Metric::DataTimeliness => Unit::BasisPoints,
            Metric::GrossMargin | Metric::Output => Unit::Fen,
        }
    }

    /// Its family.
    pub fn family(self) -> Family {
        match self {
            Metric::EffectiveVisits
            | Metric::VisitsNotEffective
            | Metric::CustomerTouchesPerDay
            | Metric::QuoteRevisions
            | Metric::PaymentFollowUps
            | Metric::NextActionsOnTime => Family::Behaviour,
            Metric::NewCustomerWinRate
            | Metric::RepeatPurchaseGrowth
            | Metric::GrossMargin
            | Metric::LeadToProposal
            | Metric::Output => Family::Result,
            Metric::DataCompleteness | Metric::DataTimeliness => Family::DataQuality,
        }
    }

    /// Whether more is worse (only the short-of-effective visit count).
    pub fn lower_is_better(self) -> bool {
        self == Metric::VisitsNotEffective
    }

    /// The range a value may take: rates 0–100 % (growth from −100 % to +1,000,000 %), counts
    /// and money non-negative.
    pub fn value_range(self) -> (i64, i64) {
        match self.unit() {
            Unit::BasisPoints if self == Metric::RepeatPurchaseGrowth => (-10_000, 100_000_000),
            Unit::BasisPoints => (0, 10_000),
            Unit::Count => (0, 10_000_000),
            Unit::Milli => (0, 1_000_000_000),
            Unit::Fen => (0, 1_000_000_000_000_000),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rep's metric values for one period. A metric absent from `values` is undefined for the
/// period (a rate with nothing to divide by), which is not the same as zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepFacts {
    /// The rep's user id.
    pub rep: String,
    /// The period.
    pub period: Period,
    /// The values.
    #[serde(rename = "metrics")]
    pub values: BTreeMap<Metric, i64>,
}

impl RepFacts {
    /// The value of `metric`, if defined.
    pub fn get(&self, metric: Metric) -> Option<i64> {
        self.values.get(&metric).copied()
    }
}
