//! Heat tags (热度标签, issue 13 §4): how warm a customer is, from what the team did with them.
//!
//! One pure function, [`heat`], turns a customer's facts ([`HeatInput`]) and the team's
//! thresholds ([`HeatRules`], from `TeamRules`) into a level — 热 / 温 / 冷 — and named tags. The
//! phone builds the input from its projection tables, the relay from the typed records it
//! stores ([`HeatInput::from_records`]); both hand it to this function, so they give the same
//! tags for the same data. Heat is derived: it is computed when asked and never written into a
//! document. The rule in words, with its defaults, is in docs/heat-tags.md.
//!
//! Times dated after `now` (a phone clock set forward) count as `now`: a future follow-up is
//! recent, never "not yet".

use std::fmt;

use crate::clock::UnixMillis;
use crate::ids::DocId;
use crate::model::{Activity, ActivityType, Customer, LeadCard, Opportunity, Stage, Visit};

const DAY_MS: i64 = 86_400_000;

/// How warm a customer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HeatLevel {
    /// 热: a recent inquiry, a sample sent, a deal in negotiation or signing, or many touches.
    Hot,
    /// 温: touched within the window, an open deal or a new lead.
    Warm,
    /// 冷: nothing recent, or dormant.
    Cold,
}

impl HeatLevel {
    /// Every level, hottest first.
    pub const ALL: [HeatLevel; 3] = [HeatLevel::Hot, HeatLevel::Warm, HeatLevel::Cold];

    /// The name used by the store, the FFI and the relay's JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            HeatLevel::Hot => "hot",
            HeatLevel::Warm => "warm",
            HeatLevel::Cold => "cold",
        }
    }

    /// What reps read.
    pub fn label_zh(self) -> &'static str {
        match self {
            HeatLevel::Hot => "热",
            HeatLevel::Warm => "温",
            HeatLevel::Cold => "冷",
        }
    }

    /// The level named `s` (as [`HeatLevel::as_str`] spells it).
    pub fn parse(s: &str) -> Option<HeatLevel> {
        HeatLevel::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

impl fmt::Display for HeatLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason a customer is as warm as it is. Tags come out in the order of [`HeatTag::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HeatTag {
    /// 询价: an inquiry received within the window.
    RecentInquiry,
    /// 寄样: a sample sent within the window.
    SampleSent,
    /// 近期拜访: a visit checked in within the window.
    Visited,
    /// 在谈商机: a deal that is neither won nor lost.
    OpenDeal,
    /// 商机后期: an open deal in negotiation or contract signing.
    LateStageDeal,
    /// 新线索: a lead card linked to the customer, scanned within the new-lead days.
    NewLead,
    /// 沉睡: no touch for more than the dormant days.
    Dormant,
}

impl HeatTag {
    /// Every tag, in output order.
    pub const ALL: [HeatTag; 7] = [
        HeatTag::RecentInquiry,
        HeatTag::SampleSent,
        HeatTag::Visited,
        HeatTag::OpenDeal,
        HeatTag::LateStageDeal,
        HeatTag::NewLead,
        HeatTag::Dormant,
    ];

    /// The name used by the store, the FFI and the relay's JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            HeatTag::RecentInquiry => "recent_inquiry",
            HeatTag::SampleSent => "sample_sent",
            HeatTag::Visited => "visited",
            HeatTag::OpenDeal => "open_deal",
            HeatTag::LateStageDeal => "late_stage_deal",
            HeatTag::NewLead => "new_lead",
            HeatTag::Dormant => "dormant",
        }
    }

    /// What reps read.
    pub fn label_zh(self) -> &'static str {
        match self {
            HeatTag::RecentInquiry => "询价",
            HeatTag::SampleSent => "寄样",
            HeatTag::Visited => "近期拜访",
            HeatTag::OpenDeal => "在谈商机",
            HeatTag::LateStageDeal => "商机后期",
            HeatTag::NewLead => "新线索",
            HeatTag::Dormant => "沉睡",
        }
    }

    /// The tag named `s` (as [`HeatTag::as_str`] spells it).
    pub fn parse(s: &str) -> Option<HeatTag> {
        HeatTag::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for HeatTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a customer list can be filtered by: a level or a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeatFilter {
    /// Customers at this level.
    Level(HeatLevel),
    /// Customers carrying this tag.
    Tag(HeatTag),
}

impl HeatFilter {
    /// Reads `hot`, `warm`, `cold` or a tag name; anything else is an [`UnknownHeatTag`] that
    /// lists the names that exist.
    pub fn parse(s: &str) -> Result<HeatFilter, UnknownHeatTag> {
        HeatLevel::parse(s)
            .map(HeatFilter::Level)
            .or_else(|| HeatTag::parse(s).map(HeatFilter::Tag))
            .ok_or_else(|| UnknownHeatTag(s.to_owned()))
    }

    /// Whether `heat` passes the filter.
    pub fn matches(self, heat: &Heat) -> bool {
        match self {
            HeatFilter::Level(level) => heat.level == level,
            HeatFilter::Tag(tag) => heat.tags.contains(&tag),
        }
    }
}

/// A heat level or tag name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown heat tag \"{0}\"; use hot, warm, cold or one of {names}", names = tag_names())]
pub struct UnknownHeatTag(pub String);

fn tag_names() -> String {
    HeatTag::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
}

/// The team's heat thresholds (TeamRules `heat_*`; validated there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeatRules {
    /// Days that count as recent for inquiries, samples, visits and touches (default 30).
    pub window_days: u32,
    /// Touches within the window that make a customer hot by themselves (default 4).
    pub hot_touches: u32,
    /// Days without a touch after which a customer is dormant (default 60; at least the window).
    pub dormant_days: u32,
    /// Days a scanned lead card keeps its customer a new lead (default 14).
    pub new_lead_days: u32,
}

impl Default for HeatRules {
    fn default() -> Self {
        HeatRules { window_days: 30, hot_touches: 4, dormant_days: 60, new_lead_days: 14 }
    }
}

/// One follow-up, as heat reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityFact {
    /// What kind.
    pub activity_type: ActivityType,
    /// When it happened.
    pub at: UnixMillis,
    /// Whether it says what was said.
    pub has_summary: bool,
}

impl ActivityFact {
    /// The facts of `activity`.
    pub fn of(activity: &Activity) -> Self {
        ActivityFact {
            activity_type: activity.activity_type,
            at: activity.at,
            has_summary: activity.has_summary(),
        }
    }

    /// Whether it is a touch: an inquiry or a sample always (the type says what happened), any
    /// other follow-up once it says what was said (a call started and never summarised may not
    /// have been answered).
    fn is_touch(self) -> bool {
        self.has_summary
            || matches!(self.activity_type, ActivityType::InquiryReceived | ActivityType::SampleSent)
    }
}

/// One deal, as heat reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DealFact {
    /// Its stage.
    pub stage: Stage,
    /// Its last activity on the deal itself ([`crate::funnel::deal_activity`]).
    pub last_activity_at: UnixMillis,
}

impl DealFact {
    /// The facts of `deal`.
    pub fn of(deal: &Opportunity) -> Self {
        DealFact { stage: deal.stage, last_activity_at: crate::funnel::deal_activity(deal) }
    }
}

/// Everything [`heat`] reads about one customer. Order does not matter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeatInput {
    /// When the customer was created, if known: a customer never touched is dormant once this is
    /// older than the dormant days.
    pub customer_created_at: Option<UnixMillis>,
    /// Its follow-ups.
    pub activities: Vec<ActivityFact>,
    /// Check-in times of its visits (visits only planned are not touches and are left out).
    pub visit_starts: Vec<UnixMillis>,
    /// Scan times of the lead cards linked to it.
    pub lead_cards_scanned: Vec<UnixMillis>,
    /// Its deals.
    pub deals: Vec<DealFact>,
}

impl HeatInput {
    /// The input for `customer_id` from typed records: records of other customers are skipped,
    /// so the caller may pass a whole team's records.
    pub fn from_records(
        customer_id: DocId,
        customer: Option<&Customer>,
        activities: &[Activity],
        visits: &[Visit],
        lead_cards: &[LeadCard],
        deals: &[Opportunity],
    ) -> HeatInput {
        let mut input = HeatInput {
            customer_created_at: customer.filter(|c| c.id == customer_id).map(|c| c.provenance.created_at),
            ..HeatInput::default()
        };
        input.activities =
            activities.iter().filter(|a| a.customer_id == customer_id).map(ActivityFact::of).collect();
        input.visit_starts =
            visits.iter().filter(|v| v.customer_id == customer_id).filter_map(|v| v.started_at).collect();
        input.lead_cards_scanned = lead_cards
            .iter()
            .filter(|c| c.customer_id == Some(customer_id))
            .map(|c| c.provenance.created_at)
            .collect();
        input.deals = deals.iter().filter(|d| d.customer_id == customer_id).map(DealFact::of).collect();
        input
    }
}

/// A customer's heat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heat {
    /// 热 / 温 / 冷.
    pub level: HeatLevel,
    /// Why, in the order of [`HeatTag::ALL`].
    pub tags: Vec<HeatTag>,
    /// The latest touch (future times read as `now`); `None` when never touched.
    pub last_touch_at: Option<UnixMillis>,
}

/// The order heat lists use, on the phone and the relay alike: most recently touched first,
/// never touched last. Callers break ties by name, then id.
pub fn touched_first(a: &Heat, b: &Heat) -> std::cmp::Ordering {
    b.last_touch_at.cmp(&a.last_touch_at)
}

/// The heat of one customer at `now` (see the module doc and docs/heat-tags.md):
///
/// - touches are follow-ups ([`ActivityFact`] says which count), visit check-ins, linked lead
///   card scans and deal activity (stage moves, attached documents); a time after `now` counts
///   as `now`, and "within N days" includes exactly N days ago;
/// - tags: `recent_inquiry`, `sample_sent`, `visited` within `window_days`; `open_deal`,
///   `late_stage_deal` (negotiation or contract signing) from the deals' stages; `new_lead` for a
///   card scanned within `new_lead_days`; `dormant` when the last touch — or, never touched, the
///   customer's creation — is more than `dormant_days` ago;
/// - level: dormant is 冷; 热 needs a touch in the window and an inquiry, a sample, a late-stage
///   deal or at least `hot_touches` touches in the window; 温 is a touch in the window, an open
///   deal or a new lead; anything else is 冷.
pub fn heat(input: &HeatInput, rules: &HeatRules, now: UnixMillis) -> Heat {
    let clamp = |t: UnixMillis| t.min(now);
    let within = |t: UnixMillis, days: u32| now.saturating_sub(clamp(t)) <= i64::from(days) * DAY_MS;
    let recent = |t: UnixMillis| within(t, rules.window_days);

    let activity_touches = input.activities.iter().filter(|a| a.is_touch()).map(|a| a.at);
    let touches: Vec<UnixMillis> = activity_touches
        .chain(input.visit_starts.iter().copied())
        .chain(input.lead_cards_scanned.iter().copied())
        .chain(input.deals.iter().map(|d| d.last_activity_at))
        .map(clamp)
        .collect();
    let last_touch_at = touches.iter().copied().max();
    let recent_touches = touches.iter().filter(|&&t| recent(t)).count();

    let recent_of =
        |kind: ActivityType| input.activities.iter().any(|a| a.activity_type == kind && recent(a.at));
    let open = |d: &&DealFact| !d.stage.is_closed();
    let mut tags = Vec::new();
    if recent_of(ActivityType::InquiryReceived) {
        tags.push(HeatTag::RecentInquiry);
    }
    if recent_of(ActivityType::SampleSent) {
        tags.push(HeatTag::SampleSent);
    }
    if input.visit_starts.iter().any(|&t| recent(t)) {
        tags.push(HeatTag::Visited);
    }
    if input.deals.iter().any(|d| open(&d)) {
        tags.push(HeatTag::OpenDeal);
    }
    if input.deals.iter().filter(open).any(|d| matches!(d.stage, Stage::Negotiation | Stage::ContractSigning))
    {
        tags.push(HeatTag::LateStageDeal);
    }
    if input.lead_cards_scanned.iter().any(|&t| within(t, rules.new_lead_days)) {
        tags.push(HeatTag::NewLead);
    }
    let quiet_since = last_touch_at.or(input.customer_created_at);
    if quiet_since.is_some_and(|t| !within(t, rules.dormant_days)) {
        tags.push(HeatTag::Dormant);
    }

    let has = |tag| tags.contains(&tag);
    let level = if has(HeatTag::Dormant) {
        HeatLevel::Cold
    } else if recent_touches > 0
        && (has(HeatTag::RecentInquiry)
            || has(HeatTag::SampleSent)
            || has(HeatTag::LateStageDeal)
            || recent_touches >= rules.hot_touches as usize)
    {
        HeatLevel::Hot
    } else if recent_touches > 0 || has(HeatTag::OpenDeal) || has(HeatTag::NewLead) {
        HeatLevel::Warm
    } else {
        HeatLevel::Cold
    };
    Heat { level, tags, last_touch_at }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixMillis = 1_800_000_000_000;

    fn days_ago(days: i64) -> UnixMillis {
        NOW - days * DAY_MS
    }

    fn activity(activity_type: ActivityType, at: UnixMillis, has_summary: bool) -> ActivityFact {
        ActivityFact { activity_type, at, has_summary }
    }

    fn heat_of(input: &HeatInput) -> Heat {
        heat(input, &HeatRules::default(), NOW)
    }

    #[test]
    fn an_empty_customer_is_cold_with_no_tags() {
        assert_eq!(
            heat_of(&HeatInput::default()),
            Heat { level: HeatLevel::Cold, tags: vec![], last_touch_at: None }
        );
        let new = HeatInput { customer_created_at: Some(days_ago(1)), ..HeatInput::default() };
        assert_eq!(heat_of(&new).tags, vec![]);
    }

    #[test]
    fn a_customer_never_touched_since_long_ago_is_dormant() {
        let old = HeatInput { customer_created_at: Some(days_ago(61)), ..HeatInput::default() };
        assert_eq!(
            heat_of(&old),
            Heat { level: HeatLevel::Cold, tags: vec![HeatTag::Dormant], last_touch_at: None }
        );
    }

    #[test]
    fn an_inquiry_exactly_thirty_days_ago_is_recent_and_a_millisecond_more_is_not() {
        let at = |t| HeatInput {
            activities: vec![activity(ActivityType::InquiryReceived, t, false)],
            ..HeatInput::default()
        };
        let exactly = heat_of(&at(days_ago(30)));
        assert_eq!((exactly.level, exactly.tags), (HeatLevel::Hot, vec![HeatTag::RecentInquiry]));
        let older = heat_of(&at(days_ago(30) - 1));
        assert_eq!((older.level, older.tags), (HeatLevel::Cold, vec![]));
    }

    #[test]
    fn dormant_starts_after_exactly_the_dormant_days() {
        let call =
            |t| HeatInput { activities: vec![activity(ActivityType::Call, t, true)], ..HeatInput::default() };
        assert_eq!(heat_of(&call(days_ago(60))).tags, vec![]);
        assert_eq!(heat_of(&call(days_ago(60) - 1)).tags, vec![HeatTag::Dormant]);
    }

    #[test]
    fn future_timestamps_count_as_now() {
        let input = HeatInput {
            activities: vec![activity(ActivityType::SampleSent, NOW + 400 * DAY_MS, false)],
            visit_starts: vec![NOW + DAY_MS],
            ..HeatInput::default()
        };
        let heat = heat_of(&input);
        assert_eq!(heat.tags, vec![HeatTag::SampleSent, HeatTag::Visited]);
        assert_eq!((heat.level, heat.last_touch_at), (HeatLevel::Hot, Some(NOW)));
    }

    #[test]
    fn a_call_without_a_summary_is_no_touch_but_an_inquiry_without_one_is() {
        let unsummarised = HeatInput {
            activities: vec![activity(ActivityType::Call, days_ago(1), false)],
            ..HeatInput::default()
        };
        assert_eq!(
            heat_of(&unsummarised),
            Heat { level: HeatLevel::Cold, tags: vec![], last_touch_at: None }
        );
        let summarised = HeatInput {
            activities: vec![activity(ActivityType::Call, days_ago(1), true)],
            ..HeatInput::default()
        };
        assert_eq!(heat_of(&summarised).level, HeatLevel::Warm);
    }

    #[test]
    fn enough_touches_in_the_window_make_a_customer_hot() {
        let calls = |n| HeatInput {
            activities: (0..n).map(|i| activity(ActivityType::Call, days_ago(i), true)).collect(),
            ..HeatInput::default()
        };
        assert_eq!(heat_of(&calls(3)).level, HeatLevel::Warm);
        assert_eq!(heat_of(&calls(4)).level, HeatLevel::Hot);
        let strict = HeatRules { hot_touches: 5, ..HeatRules::default() };
        assert_eq!(heat(&calls(4), &strict, NOW).level, HeatLevel::Warm);
    }

    #[test]
    fn deals_tag_open_and_late_stage_and_closed_deals_only_count_as_touches() {
        let deal = |stage, days| DealFact { stage, last_activity_at: days_ago(days) };
        let late = HeatInput {
            deals: vec![deal(Stage::Negotiation, 2), deal(Stage::Won, 1)],
            ..HeatInput::default()
        };
        let heat = heat_of(&late);
        assert_eq!(
            (heat.level, heat.tags),
            (HeatLevel::Hot, vec![HeatTag::OpenDeal, HeatTag::LateStageDeal])
        );
        let quiet_open = HeatInput { deals: vec![deal(Stage::FirstContact, 45)], ..HeatInput::default() };
        assert_eq!(heat_of(&quiet_open).level, HeatLevel::Warm);
        let quiet_late = HeatInput { deals: vec![deal(Stage::ContractSigning, 45)], ..HeatInput::default() };
        assert_eq!(heat_of(&quiet_late).level, HeatLevel::Warm, "hot needs a touch in the window");
        let closed = HeatInput { deals: vec![deal(Stage::Lost, 3)], ..HeatInput::default() };
        assert_eq!((heat_of(&closed).level, heat_of(&closed).tags), (HeatLevel::Warm, vec![]));
    }

    #[test]
    fn a_lead_card_is_new_for_the_new_lead_days() {
        let card = |days| HeatInput { lead_cards_scanned: vec![days_ago(days)], ..HeatInput::default() };
        assert_eq!(heat_of(&card(14)).tags, vec![HeatTag::NewLead]);
        assert_eq!(heat_of(&card(15)).tags, vec![]);
        assert_eq!(heat_of(&card(15)).level, HeatLevel::Warm, "still a touch in the window");
    }

    #[test]
    fn the_same_facts_in_any_order_give_the_same_heat() {
        let mut input = HeatInput {
            customer_created_at: Some(days_ago(100)),
            activities: vec![
                activity(ActivityType::QuoteSent, days_ago(3), true),
                activity(ActivityType::InquiryReceived, days_ago(10), false),
                activity(ActivityType::SampleSent, days_ago(40), true),
            ],
            visit_starts: vec![days_ago(5), days_ago(50)],
            lead_cards_scanned: vec![days_ago(2)],
            deals: vec![DealFact { stage: Stage::ProposalSubmitted, last_activity_at: days_ago(20) }],
        };
        let first = heat_of(&input);
        input.activities.reverse();
        input.visit_starts.reverse();
        assert_eq!(heat_of(&input), first);
        assert_eq!(
            first.tags,
            vec![HeatTag::RecentInquiry, HeatTag::Visited, HeatTag::OpenDeal, HeatTag::NewLead]
        );
        assert_eq!(first.level, HeatLevel::Hot);
    }

    #[test]
    fn filters_read_levels_and_tags_and_refuse_other_names() {
        assert_eq!(HeatFilter::parse("hot"), Ok(HeatFilter::Level(HeatLevel::Hot)));
        assert_eq!(HeatFilter::parse("sample_sent"), Ok(HeatFilter::Tag(HeatTag::SampleSent)));
        let err = HeatFilter::parse("lukewarm").unwrap_err();
        assert!(err.to_string().contains("recent_inquiry"), "{err}");
        for tag in HeatTag::ALL {
            assert_eq!(HeatTag::parse(tag.as_str()), Some(tag));
        }
    }
}
