//! Performance on facts (docs/kpi.md): the metric catalogue computed from proven work, the
//! team's working calendar, incentive rules paid in whole fen, and the strategy sandbox.
//!
//! Pure code with no store or clock of its own: the phone and the relay call the same functions
//! with the same records and get the same numbers.

pub mod brief;
pub mod calendar;
pub mod compute;
pub mod metric;
pub mod rules;

#[cfg(test)]
mod tests;

pub use brief::{WeeklyBrief, weekly_brief};
pub use calendar::{Date, DateError, Period, PeriodKind, TeamCalendar};
pub use compute::{
    ActivityRow, Aggregate, ByRep, CustomerRow, DealRow, KpiContext, KpiIndex, KpiRecords, KpiRow,
    RepFigures, RepRows, Shortfall, VisitRow, classify_visit, rep_figures, team_aggregates, team_figures,
};
pub use metric::{Family, Metric, RepFacts, Unit};
pub use rules::{
    Band, FactsError, IncentiveRules, Payout, RuleBook, RuleError, SandboxReport, read_facts, sandbox,
};
