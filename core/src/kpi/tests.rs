//! The KPI module's tests. Every expected figure is worked out by hand in the comment beside it.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::DeviceIdentity;
use crate::evidence::seal_slip;
use crate::ids::DocId;
use crate::model::{
    Activity, ActivityType, Customer, DealEvidence, EvidenceFlag, EvidenceKind, Money, NextAction,
    Opportunity, PhotoRef, Provenance, ServiceSlip, SlipItem, Stage, StageChange, Visit,
};

const CN: i32 = 480;
const HOUR: i64 = 3_600_000;

fn day(y: i32, m: u32, d: u32) -> Date {
    Date::new(y, m, d).unwrap()
}

/// 10:00 team time on that day.
fn at(y: i32, m: u32, d: u32) -> i64 {
    day(y, m, d).start_ms(CN) + 10 * HOUR
}

fn period(s: &str) -> Period {
    s.parse().unwrap()
}

fn id(n: u8) -> DocId {
    DocId::from_bytes([n; 16])
}

// ---------------------------------------------------------------- calendar

#[test]
fn dates_round_trip_and_know_their_weekday_and_iso_week() {
    for days in [-1, 0, 59, 365, 10_957, 20_794, 2_932_896] {
        let date = Date::from_days(days.max(0));
        let (y, m, d) = date.ymd();
        assert_eq!(Date::new(y, m, d), Some(date), "{days}");
        assert_eq!(date.to_string().parse::<Date>(), Ok(date));
    }
    assert_eq!(day(2026, 12, 7).iso_weekday(), 1, "a Monday");
    // Checked with Python's date.isocalendar().
    assert_eq!(day(2026, 12, 7).iso_week(), (2026, 50));
    assert_eq!(day(2027, 1, 1).iso_week(), (2026, 53));
    assert_eq!(day(2021, 1, 3).iso_week(), (2020, 53));
    for bad in ["2026-02-29", "2026-13-01", "2026-1-01", "1969-12-31", "２０２６-01-01", "", "2026-01-01x"]
    {
        assert!(bad.parse::<Date>().is_err(), "{bad}");
    }
}

#[test]
fn periods_parse_print_and_step() {
    for text in ["2026-W50", "2026-W53", "2026-12", "2026-Q4", "2027-W01"] {
        assert_eq!(period(text).to_string(), text);
    }
    for bad in ["2025-W53", "2026-W00", "2026-W54", "2026-13", "2026-Q5", "26-01", "2026-W5", "2026"] {
        assert!(bad.parse::<Period>().is_err(), "{bad}");
    }
    assert_eq!(period("2026-W53").first_day(), day(2026, 12, 28));
    assert_eq!(period("2026-W53").next().to_string(), "2027-W01");
    assert_eq!(period("2026-12").next().to_string(), "2027-01");
    assert_eq!(period("2026-Q4").next().to_string(), "2027-Q1");
    assert_eq!(period("2027-Q1").previous().to_string(), "2026-Q4");
    // 2025 has 52 ISO weeks, so W53's year before is W52.
    assert_eq!(period("2026-W53").year_before().to_string(), "2025-W52");
    assert_eq!(period("2026-W50").year_before().to_string(), "2025-W50");
    assert_eq!(period("2026-Q1").year_before().to_string(), "2025-Q1");
    assert_eq!(Period::containing(PeriodKind::Quarter, day(2026, 8, 31)).to_string(), "2026-Q3");
}

#[test]
fn the_team_zone_decides_the_period() {
    // 2026-11-30T16:30Z is 00:30 on 1 December in Beijing, still 30 November in London.
    let instant = day(2026, 11, 30).start_ms(0) + 16 * HOUR + 30 * 60_000;
    assert_eq!(Period::of_instant(PeriodKind::Month, instant, CN).to_string(), "2026-12");
    assert_eq!(Period::of_instant(PeriodKind::Month, instant, 0).to_string(), "2026-11");
}

#[test]
fn working_days_follow_the_teams_holidays_and_make_up_days() {
    let mut calendar = TeamCalendar::default();
    assert_eq!(calendar.working_days(period("2026-10")), 22, "22 weekdays in October 2026");
    calendar.holidays = (1..=7).map(|d| day(2026, 10, d)).collect();
    calendar.make_up_working_days = [day(2026, 9, 27), day(2026, 10, 10)].into();
    // 22 weekdays − 5 of them (Thu 1 … Wed 7 holds Thu, Fri, Mon, Tue, Wed) + Saturday 10th = 18
    // (checked with Python); Sunday 27 September is in September.
    assert_eq!(calendar.working_days(period("2026-10")), 18);
    assert!(calendar.is_working_day(day(2026, 9, 27)));
    assert!(calendar.check().is_ok());
    calendar.make_up_working_days.insert(day(2026, 10, 2));
    assert!(calendar.check().unwrap_err().contains("2026-10-02"));
}

// ---------------------------------------------------------------- rules

fn rules_json(extra: &str) -> String {
    format!(
        r#"{{"version": 1, "effective_from": "2026-01-01", "period": "month", "base_bonus_fen": 300000,
            "metrics": [{{"metric": "effective_visits", "weight_bp": 4000, "target": 40}},
                        {{"metric": "gross_margin", "weight_bp": 6000, "target": 5000000}}],
            "excess_tiers": [{{"from_pct": 100, "to_pct": 120, "rate_bp": 5000}},
                             {{"from_pct": 120, "to_pct": null, "rate_bp": 8000}}]{extra}}}"#
    )
}

fn facts(rep: &str, p: &str, values: &[(Metric, i64)]) -> RepFacts {
    RepFacts { rep: rep.into(), period: period(p), values: values.iter().copied().collect() }
}

#[test]
fn a_payout_that_crosses_two_tiers() {
    let rules = IncentiveRules::from_json(&rules_json("")).unwrap();
    // 44 of 40 visits = 110 %, ¥75,000 of ¥50,000 margin = 150 %: 0.4 × 110 + 0.6 × 150 = 134 %.
    let payout = rules.evaluate(&facts(
        "chen",
        "2026-11",
        &[(Metric::EffectiveVisits, 44), (Metric::GrossMargin, 7_500_000)],
    ));
    assert_eq!(payout.achievement_ppm, 1_340_000);
    // base 3000.00 + tier 1: 20 % excess × 50 % × 3000 = 300.00 + tier 2: 14 % × 80 % × 3000 = 336.00.
    let lines: Vec<i64> = payout.lines.iter().map(|l| l.fen).collect();
    assert_eq!(lines, [300_000, 30_000, 33_600]);
    assert_eq!(payout.payout_fen, 363_600);
    assert_eq!(payout.band, Band::Excess(2));
}

#[test]
fn the_cap_the_threshold_and_pro_rata_pay() {
    let rules = IncentiveRules::from_json(&rules_json(r#", "cap_fen": 350000"#)).unwrap();
    let over = rules.evaluate(&facts(
        "chen",
        "2026-11",
        &[(Metric::EffectiveVisits, 44), (Metric::GrossMargin, 7_500_000)],
    ));
    assert_eq!(over.payout_fen, 350_000, "363,600 capped");
    assert_eq!(over.lines.last().unwrap().fen, -13_600);
    // 36 of 40 = 90 %, 4,500,000 of 5,000,000 = 90 %: 90 % of 3000.00 = 2700.00.
    let ninety = rules.evaluate(&facts(
        "li",
        "2026-11",
        &[(Metric::EffectiveVisits, 36), (Metric::GrossMargin, 4_500_000)],
    ));
    assert_eq!((ninety.achievement_ppm, ninety.payout_fen, ninety.band), (900_000, 270_000, Band::ProRata));
    // 31.9 of 40 cannot happen; 32 visits (80 %) and 3,999,950 (79.999 %): 0.4 × 800000 + 0.6 × 799990 = 799994 ppm.
    let below = rules.evaluate(&facts(
        "wu",
        "2026-11",
        &[(Metric::EffectiveVisits, 32), (Metric::GrossMargin, 3_999_950)],
    ));
    assert_eq!((below.achievement_ppm, below.payout_fen, below.band), (799_994, 0, Band::BelowThreshold));
    // An undefined metric counts as 0 %: 0.4 × 100 % = 40 %, below 80 %.
    let undefined = rules.evaluate(&facts("wu", "2026-11", &[(Metric::EffectiveVisits, 40)]));
    assert_eq!((undefined.achievement_ppm, undefined.payout_fen), (400_000, 0));
}

#[test]
fn every_division_rounds_down_to_the_fen() {
    let rules = IncentiveRules::from_json(
        r#"{"version": 1, "effective_from": "2026-01-01", "period": "month", "base_bonus_fen": 333,
            "metrics": [{"metric": "effective_visits", "weight_bp": 10000, "target": 20}]}"#,
    )
    .unwrap();
    // 17 of 20 = 85 %; 333 × 0.85 = 283.05 → 283 fen.
    assert_eq!(rules.evaluate(&facts("a", "2026-11", &[(Metric::EffectiveVisits, 17)])).payout_fen, 283);
    // 19 of 21 visits with target 21: 904761 ppm (904761.9… rounded down); 333 × 0.904761 = 301.28 → 301.
    let rules21 = IncentiveRules {
        metrics: vec![rules::WeightedTarget { target: 21, ..rules.metrics[0].clone() }],
        ..rules
    };
    let payout = rules21.evaluate(&facts("a", "2026-11", &[(Metric::EffectiveVisits, 19)]));
    assert_eq!((payout.achievement_ppm, payout.payout_fen), (904_761, 301));
}

#[test]
fn a_shut_gate_pays_nothing() {
    let rules =
        IncentiveRules::from_json(&rules_json(r#", "gates": [{"metric": "effective_visits", "min": 10}]"#))
            .unwrap();
    let payout = rules.evaluate(&facts(
        "chen",
        "2026-11",
        &[(Metric::EffectiveVisits, 9), (Metric::GrossMargin, 50_000_000)],
    ));
    assert_eq!((payout.band, payout.payout_fen), (Band::Gated, 0));
    assert_eq!(payout.gate_failed.as_ref().unwrap().value, Some(9));
    let open = rules.evaluate(&facts(
        "chen",
        "2026-11",
        &[(Metric::EffectiveVisits, 10), (Metric::GrossMargin, 5_000_000)],
    ));
    // 0.4 × 25 % + 0.6 × 100 % = 70 %: the gate is open but the threshold is not reached.
    assert_eq!((open.band, open.payout_fen), (Band::BelowThreshold, 0));
}

#[test]
fn a_rules_change_in_the_middle_of_a_quarter_pays_each_month_by_its_own_version() {
    let v1: IncentiveRules = serde_json::from_str(&rules_json("")).unwrap();
    let mut v2 = v1.clone();
    v2.version = 2;
    v2.effective_from = day(2026, 2, 15);
    v2.base_bonus_fen = 400_000;
    let book = RuleBook { versions: vec![v1, v2] };
    book.check().unwrap();
    let at_target = [(Metric::EffectiveVisits, 40), (Metric::GrossMargin, 5_000_000)];
    let quarter: Vec<RepFacts> =
        ["2026-01", "2026-02", "2026-03"].iter().map(|p| facts("chen", p, &at_target)).collect();
    let pay: Vec<(i64, i64)> =
        book.evaluate(&quarter).unwrap().iter().map(|p| (p.rules_version, p.payout_fen)).collect();
    // February began under version 1 (its change on the 15th pays from March).
    assert_eq!(pay, [(1, 300_000), (1, 300_000), (2, 400_000)]);
    let early = book.evaluate(&[facts("chen", "2025-12", &at_target)]).unwrap_err();
    assert!(early.to_string().contains("no version of the rules is in force on 2025-12-01"), "{early}");
    let weekly = book.evaluate(&[facts("chen", "2026-W10", &at_target)]).unwrap_err();
    assert!(weekly.to_string().contains("pays per month, not per week"), "{weekly}");
}

#[test]
fn invalid_rules_are_refused_with_the_field_and_the_reason() {
    let cases: &[(&str, &str)] = &[
        (r#", "threshold_pct": 120"#, "threshold_pct"),
        (r#", "cap_fen": -1"#, "cap_fen: is negative"),
        (r#", "gates": [{"metric": "visits_not_effective", "min": 1}]"#, "cannot gate"),
        (r#", "gates": [{"metric": "effective_visits", "min": -3}]"#, "gates[0].min"),
    ];
    for (extra, expected) in cases {
        let err = IncentiveRules::from_json(&rules_json(extra)).unwrap_err();
        assert!(err.to_string().contains(expected), "{extra}: {err}");
    }
    let replace = |from: &str, to: &str| {
        IncentiveRules::from_json(&rules_json("").replace(from, to)).unwrap_err().to_string()
    };
    assert!(replace("gross_margin", "gross_margn").contains("unknown variant `gross_margn`"));
    assert!(
        replace(r#""rate_bp": 8000"#, r#""rate_bp": -8000"#).contains("excess_tiers[1].rate_bp: is negative")
    );
    assert!(replace(r#""from_pct": 120"#, r#""from_pct": 110"#).contains("inside the tier before"));
    assert!(replace(r#""from_pct": 120"#, r#""from_pct": 130"#).contains("a gap"));
    assert!(replace(r#""to_pct": 120"#, r#""to_pct": 90"#).contains("tiers must be in order"));
    assert!(replace(r#""to_pct": 120"#, r#""to_pct": null"#).contains("only the last tier may be open"));
    assert!(replace(r#""from_pct": 100"#, r#""from_pct": 90"#).contains("must start at 100"));
    assert!(replace(r#""weight_bp": 4000"#, r#""weight_bp": 3000"#).contains("add up to 9000"));
    assert!(replace(r#""target": 40"#, r#""target": 0"#).contains("metrics[0].target"));
    assert!(replace(r#""base_bonus_fen": 300000"#, r#""base_bonus_fen": 3000.5"#).contains("rules"));
    assert!(replace(r#""period": "month""#, r#""period": "year""#).contains("unknown variant `year`"));
    assert!(replace(r#""version": 1"#, r#""version": 1, "formula": "x"#).contains("unknown field"));
    let v1: IncentiveRules = serde_json::from_str(&rules_json("")).unwrap();
    let book = RuleBook { versions: vec![v1.clone()] };
    let err = book.with(IncentiveRules { version: 2, ..v1.clone() }).unwrap_err();
    assert!(err.to_string().contains("versions[1].effective_from"), "{err}");
    let err = book.with(IncentiveRules { effective_from: day(2026, 6, 1), ..v1 }).unwrap_err();
    assert!(err.to_string().contains("does not follow version 1"), "{err}");
}

#[test]
fn bad_facts_get_typed_errors() {
    let today = day(2026, 12, 7);
    let line = |p: &str, body: &str| format!(r#"{{"rep": "chen", "period": "{p}", "metrics": {{{body}}}}}"#);
    let ok = line("2026-12", r#""effective_visits": 3"#);
    assert_eq!(read_facts(&ok, today, None).unwrap()[0].get(Metric::EffectiveVisits), Some(3));
    assert!(matches!(read_facts(&line("2027-01", ""), today, None), Err(FactsError::FuturePeriod { .. })));
    let twice = format!("{ok}\n\n# a comment\n{ok}");
    assert!(matches!(read_facts(&twice, today, None), Err(FactsError::Duplicate { .. })));
    let roster: BTreeSet<String> = ["li".to_string()].into();
    assert!(matches!(read_facts(&ok, today, Some(&roster)), Err(FactsError::UnknownRep { .. })));
    let unknown = read_facts(&line("2026-11", r#""happiness": 3"#), today, None).unwrap_err();
    assert!(
        matches!(unknown, FactsError::Unreadable { line: 1, .. })
            && unknown.to_string().contains("happiness")
    );
    let range = read_facts(&line("2026-11", r#""data_timeliness": 10001"#), today, None).unwrap_err();
    assert!(matches!(range, FactsError::OutOfRange { .. }), "{range}");
    assert!(read_facts("{", today, None).is_err());
}

#[test]
fn the_sandbox_reports_cost_ranks_and_crossings_and_refuses_ten_years() {
    let current = RuleBook::from_json(&rules_json("")).unwrap();
    // The candidate: target 36 visits instead of 40, nothing else.
    let candidate =
        IncentiveRules::from_json(&rules_json("").replace(r#""target": 40"#, r#""target": 36"#)).unwrap();
    let all = vec![
        // chen: 36 visits, ¥45,000: now 0.4 × 90 + 0.6 × 90 = 90 % → 2700.00; candidate 0.4 × 100 + 54 = 94 % → 2820.00.
        facts("chen", "2026-10", &[(Metric::EffectiveVisits, 36), (Metric::GrossMargin, 4_500_000)]),
        // li: 30 visits, ¥55,000: now 0.4 × 75 + 0.6 × 110 = 96 % → 2880.00;
        // candidate 0.4 × 83.3333 % (833333) + 66 % = 99.3333 % (993333) → 2979.99.
        facts("li", "2026-10", &[(Metric::EffectiveVisits, 30), (Metric::GrossMargin, 5_500_000)]),
        // chen: 40 visits, ¥50,000: now 100 % → 3000.00; candidate 0.4 × 111.1111 % + 60 % = 104.4444 %
        // (1044444) → 3000.00 + 4.4444 % × 50 % × 3000.00 = 66.666 → 3066.66 and a new band.
        facts("chen", "2026-11", &[(Metric::EffectiveVisits, 40), (Metric::GrossMargin, 5_000_000)]),
        facts("li", "2026-11", &[(Metric::EffectiveVisits, 20), (Metric::GrossMargin, 2_000_000)]),
        // An older period the sandbox is not asked about.
        facts("li", "2026-09", &[(Metric::EffectiveVisits, 90), (Metric::GrossMargin, 9_000_000)]),
    ];
    let report = sandbox(&current, &candidate, &all, 2).unwrap();
    assert_eq!(report.periods, [period("2026-10"), period("2026-11")]);
    let chen = &report.reps[0];
    assert_eq!((chen.rep.as_str(), chen.current_fen, chen.candidate_fen), ("chen", 570_000, 588_666));
    let li = &report.reps[1];
    assert_eq!((li.current_fen, li.candidate_fen), (288_000, 297_999));
    assert_eq!((chen.rank_current, chen.rank_candidate, li.rank_current), (1, 1, 2));
    assert_eq!(chen.crossings.len(), 1);
    assert_eq!((chen.crossings[0].current, chen.crossings[0].candidate), (Band::ProRata, Band::Excess(1)));
    assert!(li.crossings.is_empty());
    assert_eq!(
        (report.current_total_fen, report.candidate_total_fen, report.change_fen),
        (858_000, 886_665, 28_665)
    );
    // 28,665 / 858,000 = 3.3409 % → 334 bp.
    assert_eq!(report.change_bp, Some(334));
    assert!(matches!(sandbox(&current, &candidate, &all, 120), Err(FactsError::TooLong(_))));
    assert!(matches!(sandbox(&current, &candidate, &all, 0), Err(FactsError::TooLong(_))));
}

// ---------------------------------------------------------------- computing from records

fn provenance(created_at: i64) -> Provenance {
    Provenance { created_at, created_by: DeviceIdentity::from_secret([7; 32]).device_id() }
}

fn photo(on_site: bool, flags: Vec<EvidenceFlag>) -> PhotoRef {
    PhotoRef {
        sha256: "ab".repeat(32),
        thumbnail_sha256: None,
        taken_at: 0,
        original_sha256: None,
        exif_location: None,
        exif_taken_at: None,
        fix: None,
        on_site: Some(on_site),
        flags,
    }
}

fn visit(n: u8, customer: u8, started: Option<i64>, on_site: Option<bool>, photos: Vec<PhotoRef>) -> Visit {
    let planned = started.unwrap_or(at(2026, 11, 20));
    Visit {
        id: id(n),
        customer_id: id(customer),
        opportunity_id: None,
        planned_at: planned,
        started_at: started,
        ended_at: started.map(|s| s + HOUR),
        fixes: Vec::new(),
        photos,
        notes: "换了主轴轴承".into(),
        next_step: None,
        on_site,
        flags: Vec::new(),
        provenance: provenance(planned - HOUR),
    }
}

fn slip_for(n: u8, visit: u8, signed: bool) -> ServiceSlip {
    let identity = DeviceIdentity::from_secret([7; 32]);
    let mut slip = ServiceSlip {
        id: id(n),
        visit_id: id(visit),
        items: vec![SlipItem { description: "更换主轴轴承".into(), quantity: 2.0, unit: "套".into() }],
        notes: String::new(),
        signer_name: Some("王工".into()),
        signature_png_sha256: Some("ab".repeat(32)),
        strokes_sha256: Some("cd".repeat(32)),
        photo_sha256s: Vec::new(),
        fix: None,
        signed_by: None,
        device_public_key: None,
        content_sha256: None,
        device_signature: None,
        signed_at: None,
        provenance: provenance(at(2026, 11, 2)),
    };
    if signed {
        slip.signed_at = Some(at(2026, 11, 2) + HOUR);
        seal_slip(&mut slip, &identity).unwrap();
    }
    slip
}

fn by(rep: &str, record: Visit) -> ByRep<Visit> {
    ByRep { rep: rep.into(), record }
}

#[test]
fn a_visit_is_effective_only_with_all_its_proof() {
    let good = visit(1, 50, Some(at(2026, 11, 2)), Some(true), vec![photo(true, vec![])]);
    let slip = slip_for(101, 1, true);
    assert_eq!(classify_visit(&good, &[&slip]), Ok(()));
    let mut tampered = slip.clone();
    tampered.items[0].quantity = 3.0;
    assert_eq!(classify_visit(&good, &[&tampered]), Err(Shortfall::SlipUnverified), "changed after signing");
    assert_eq!(classify_visit(&good, &[&slip_for(102, 1, false)]), Err(Shortfall::SlipNotSigned));
    assert_eq!(classify_visit(&good, &[]), Err(Shortfall::NoSlip));
    assert_eq!(
        classify_visit(&good, &[&slip_for(103, 9, true)]),
        Err(Shortfall::NoSlip),
        "another visit's slip"
    );
    let cases = [
        (visit(2, 50, None, None, vec![]), Shortfall::NoCheckIn),
        (visit(2, 50, Some(at(2026, 11, 2)), None, vec![]), Shortfall::SiteUnknown),
        (visit(2, 50, Some(at(2026, 11, 2)), Some(false), vec![photo(true, vec![])]), Shortfall::OffSite),
        (
            visit(2, 50, Some(at(2026, 11, 2)), Some(true), vec![photo(false, vec![])]),
            Shortfall::NoOnSitePhoto,
        ),
        (
            visit(
                2,
                50,
                Some(at(2026, 11, 2)),
                Some(true),
                vec![photo(true, vec![EvidenceFlag::new("exif_far_from_fix", "3 km")])],
            ),
            Shortfall::PhotoFlagged,
        ),
    ];
    for (v, expected) in cases {
        assert_eq!(classify_visit(&v, &[]), Err(expected));
    }
    let mut mocked = good.clone();
    mocked.flags.push(EvidenceFlag::new("mock_location", "the OS flagged the fix"));
    assert_eq!(classify_visit(&mocked, &[&slip]), Err(Shortfall::CheckInFlagged));
}

fn deal(
    n: u8,
    customer: u8,
    owner: &str,
    created: i64,
    history: &[(Stage, i64)],
    amount: i64,
    margin: Option<i64>,
) -> Opportunity {
    let by = DeviceIdentity::from_secret([7; 32]).device_id();
    let mut changes = Vec::new();
    let mut from = None;
    for &(to, when) in history {
        changes.push(StageChange { from, to, at: when, by, note: None });
        from = Some(to);
    }
    let (stage, entered) = history.last().copied().unwrap();
    Opportunity {
        id: id(n),
        customer_id: id(customer),
        owner: owner.into(),
        title: "注塑机".into(),
        stage,
        stage_entered_at: entered,
        stage_history: changes,
        amount: Some(Money { minor_units: amount, currency: "CNY".into() }),
        margin: margin.map(|m| Money { minor_units: m, currency: "CNY".into() }),
        expected_close_at: None,
        next_action_due_at: None,
        evidence: Vec::new(),
        provenance: provenance(created),
    }
}

fn activity(n: u8, customer: u8, kind: ActivityType, when: i64, next: Option<NextAction>) -> Activity {
    Activity {
        id: id(n),
        activity_type: kind,
        customer_id: id(customer),
        opportunity_id: None,
        visit_id: None,
        contact: None,
        phone: None,
        at: when,
        duration_s: None,
        summary: if n.is_multiple_of(2) { "谈了价格".into() } else { String::new() },
        outcome: None,
        next_action: next,
        provenance: provenance(when + HOUR),
    }
}

fn november_records() -> KpiRecords {
    let nov = |d| at(2026, 11, d);
    let on_site = || vec![photo(true, vec![])];
    let visits = vec![
        by("chen", visit(1, 50, Some(nov(2)), Some(true), on_site())),
        by("chen", visit(2, 51, Some(nov(3)), Some(true), on_site())),
        by("chen", visit(3, 52, Some(nov(4)), Some(false), on_site())),
        by("chen", visit(4, 50, Some(nov(5)), Some(true), vec![])),
        // October: not November's.
        by("chen", visit(5, 53, Some(at(2026, 10, 20)), Some(true), on_site())),
        by("li", visit(6, 60, Some(nov(2)), Some(true), on_site())),
    ];
    let mut tampered = slip_for(102, 2, true);
    tampered.notes = "后来改的".into();
    let slips = vec![slip_for(101, 1, true), tampered, slip_for(105, 5, true), slip_for(106, 6, true)];
    let next = |due: i64, done: Option<i64>| {
        Some(NextAction { what: "发报价".into(), due_at: due, done_at: done })
    };
    let activities = vec![
        ByRep {
            rep: "chen".into(),
            record: activity(10, 54, ActivityType::PaymentFollowUp, nov(9), next(nov(12), Some(nov(11)))),
        },
        ByRep {
            rep: "chen".into(),
            record: activity(11, 50, ActivityType::Call, nov(10), next(nov(13), Some(nov(14)))),
        },
        ByRep {
            rep: "chen".into(),
            record: activity(12, 55, ActivityType::PaymentFollowUp, nov(16), next(nov(20), None)),
        },
        // Due after "now" (as_of is 25 November) and not done: not counted yet.
        ByRep {
            rep: "chen".into(),
            record: activity(13, 55, ActivityType::Message, nov(17), next(nov(28), None)),
        },
    ];
    let deals = vec![
        // A new customer won in November: margin ¥20,000 of ¥100,000.
        deal(
            20,
            56,
            "chen",
            at(2026, 9, 1),
            &[(Stage::FirstContact, at(2026, 9, 1)), (Stage::Won, nov(6))],
            10_000_000,
            Some(2_000_000),
        ),
        // A new customer lost in November.
        deal(
            21,
            57,
            "chen",
            at(2026, 9, 1),
            &[(Stage::FirstContact, at(2026, 9, 1)), (Stage::Lost, nov(7))],
            5_000_000,
            None,
        ),
        // Customer 58 was first won in 2025: its November 2026 win is a repeat purchase (¥60,000).
        deal(
            22,
            58,
            "chen",
            at(2025, 10, 1),
            &[(Stage::FirstContact, at(2025, 10, 1)), (Stage::Won, at(2025, 10, 15))],
            3_000_000,
            None,
        ),
        deal(
            23,
            58,
            "chen",
            at(2025, 11, 1),
            &[(Stage::FirstContact, at(2025, 11, 1)), (Stage::Won, at(2025, 11, 10))],
            4_000_000,
            None,
        ),
        deal(
            24,
            58,
            "chen",
            nov(1),
            &[(Stage::FirstContact, nov(1)), (Stage::ProposalSubmitted, nov(8)), (Stage::Won, nov(20))],
            6_000_000,
            Some(1_000_000),
        ),
        // Opened in November and still at first contact.
        deal(25, 59, "chen", nov(15), &[(Stage::FirstContact, nov(15))], 1_000_000, None),
    ];
    KpiRecords { visits, slips, activities, deals, customers: Vec::new() }
}

fn november_context() -> KpiContext {
    KpiContext {
        calendar: TeamCalendar::default(),
        required_customer_fields: Vec::new(),
        as_of: at(2026, 11, 25),
    }
}

#[test]
fn a_reps_month_computed_from_the_records() {
    let mut records = november_records();
    records.deals[4].evidence.push(DealEvidence {
        sha256: "ef".repeat(32),
        kind: EvidenceKind::Quote,
        name: "报价单 v2.pdf".into(),
        added_at: at(2026, 11, 8),
        added_by: DeviceIdentity::from_secret([7; 32]).device_id(),
    });
    let figures = rep_figures(&records, &november_context(), period("2026-11"), "chen");
    let v = |m| figures.facts.get(m);
    // Visits 1 (effective), 2 (slip changed after signing), 3 (off site), 4 (no photo).
    assert_eq!((v(Metric::EffectiveVisits), v(Metric::VisitsNotEffective)), (Some(1), Some(3)));
    let reasons: Vec<_> = figures.shortfalls.iter().map(|(r, n)| (r.as_str(), *n)).collect();
    assert_eq!(reasons, [("off_site", 1), ("no_on_site_photo", 1), ("slip_unverified", 1)]);
    assert_eq!(v(Metric::PaymentFollowUps), Some(2));
    // Next actions due by the 25th: the 12th (done the 11th), the 13th (done the 14th, late) and the
    // 20th (not done): 1 of 3 = 3333 bp.
    assert_eq!(v(Metric::NextActionsOnTime), Some(3333));
    // Customers 50, 51, 52 (visits), 54, 55 (activities) = 5 over the 18 working days from the 2nd
    // to the 25th (November 2026 begins on a Sunday): 5 / 18 = 0.277 → 277.
    assert_eq!(v(Metric::CustomerTouchesPerDay), Some(277));
    assert_eq!(v(Metric::QuoteRevisions), Some(1));
    // New customers closed: 56 won, 57 lost → 50 %. Customer 58 is not new.
    assert_eq!(v(Metric::NewCustomerWinRate), Some(5000));
    assert_eq!(v(Metric::GrossMargin), Some(3_000_000));
    assert_eq!(v(Metric::Output), Some(16_000_000));
    // Repeat purchases: ¥60,000 now against ¥40,000 in November 2025 = +50 %.
    assert_eq!(v(Metric::RepeatPurchaseGrowth), Some(5000));
    // Opened in November: 24 (reached 方案提交 on the 8th) and 25 (did not) = 50 %.
    assert_eq!(v(Metric::LeadToProposal), Some(5000));
    // Data: 4 visits done with notes (complete) + 4 activities (2 with a summary) + 2 deals with an
    // amount = 8 of 10; every visit and activity recorded within 24 h.
    assert_eq!(v(Metric::DataCompleteness), Some(8000));
    assert_eq!(v(Metric::DataTimeliness), Some(10_000));
}

#[test]
fn team_figures_and_their_mean_and_median() {
    let records = november_records();
    let team = team_figures(&records, &november_context(), period("2026-11"));
    let reps: Vec<&str> = team.iter().map(|f| f.facts.rep.as_str()).collect();
    assert_eq!(reps, ["chen", "li"]);
    let facts: Vec<RepFacts> = team.into_iter().map(|f| f.facts).collect();
    let aggregates = team_aggregates(&facts);
    let effective = aggregates[&Metric::EffectiveVisits];
    // chen 1, li 1.
    assert_eq!((effective.reps, effective.mean, effective.median), (2, 1, 1));
    let growth = aggregates.get(&Metric::RepeatPurchaseGrowth).unwrap();
    assert_eq!(growth.reps, 1, "undefined for li");
    let more = team_aggregates(&[
        facts_of("a", &[(Metric::Output, 1)]),
        facts_of("b", &[(Metric::Output, 4)]),
        facts_of("c", &[(Metric::Output, 10)]),
        facts_of("d", &[(Metric::Output, 2)]),
    ]);
    // Sorted 1, 2, 4, 10: mean 17 / 4 = 4.25 → 4, median (2 + 4) / 2 = 3.
    assert_eq!((more[&Metric::Output].mean, more[&Metric::Output].median), (4, 3));
}

fn facts_of(rep: &str, values: &[(Metric, i64)]) -> RepFacts {
    RepFacts {
        rep: rep.into(),
        period: period("2026-11"),
        values: values.iter().copied().collect::<BTreeMap<_, _>>(),
    }
}

#[test]
fn required_customer_fields_decide_completeness() {
    let mut records = KpiRecords::default();
    let customer = |n: u8, address: Option<&str>| Customer {
        id: id(n),
        company_name: "苏州精工".into(),
        contacts: Vec::new(),
        phones: Vec::new(),
        address: address.map(Into::into),
        location: None,
        tags: Vec::new(),
        credit_code: None,
        merged_into: None,
        provenance: provenance(at(2026, 11, 3)),
    };
    records.customers.push(ByRep { rep: "chen".into(), record: customer(1, Some("吴中区")) });
    records.customers.push(ByRep { rep: "chen".into(), record: customer(2, None) });
    let mut ctx = november_context();
    ctx.required_customer_fields = vec!["address".into()];
    let figures = rep_figures(&records, &ctx, period("2026-11"), "chen");
    assert_eq!(figures.facts.get(Metric::DataCompleteness), Some(5000));
    ctx.required_customer_fields.clear();
    assert_eq!(
        rep_figures(&records, &ctx, period("2026-11"), "chen").facts.get(Metric::DataCompleteness),
        Some(10_000)
    );
}

// ---------------------------------------------------------------- weekly brief

/// Week 49 of 2026 runs from Monday 30 November; `w` weeks before it, day `d` (0 = Monday).
fn in_week(w: i64, d: i64) -> i64 {
    day(2026, 11, 30).add_days(d - 7 * w).start_ms(CN) + 10 * HOUR
}

fn brief_deals() -> Vec<Opportunity> {
    use Stage::*;
    let mut big = deal(
        1,
        1,
        "u1",
        in_week(2, 0),
        &[(FirstContact, in_week(2, 0)), (ProposalSubmitted, in_week(1, 2)), (Negotiation, in_week(0, 1))],
        90_000_000,
        None,
    );
    big.title = "二期注塑机改造项目".into();
    let mut deals = vec![
        big,
        // Bigger, but won three weeks ago: not open during the week.
        deal(
            2,
            2,
            "u3",
            in_week(4, 0),
            &[(Negotiation, in_week(4, 0)), (Won, in_week(2, 3))],
            200_000_000,
            None,
        ),
        // Entered 方案提交 last week and stays there.
        deal(3, 3, "u2", in_week(1, 0), &[(ProposalSubmitted, in_week(1, 0))], 1_000_000, None),
        // Entered it this week and stays there.
        deal(4, 4, "u2", in_week(0, 0), &[(ProposalSubmitted, in_week(0, 0))], 1_000_000, None),
    ];
    // Four deals of the trailing weeks, each through 方案提交 within its week.
    for k in 1..=4u8 {
        let w = i64::from(k);
        deals.push(deal(
            10 + k,
            10 + k,
            "u3",
            in_week(w, 0),
            &[(ProposalSubmitted, in_week(w, 0)), (Negotiation, in_week(w, 2))],
            2_000_000,
            None,
        ));
    }
    deals
}

fn week_figures() -> Vec<RepFigures> {
    let week = period("2026-W49");
    let rep = |rep: &str, visits: i64, touches: i64, on_time: i64| RepFigures {
        facts: RepFacts {
            rep: rep.into(),
            period: week,
            values: [
                (Metric::EffectiveVisits, visits),
                (Metric::CustomerTouchesPerDay, touches),
                (Metric::NextActionsOnTime, on_time),
            ]
            .into(),
        },
        shortfalls: BTreeMap::new(),
    };
    vec![rep("u1", 9, 900, 8000), rep("u2", 3, 300, 5000), rep("u3", 12, 1200, 9000)]
}

#[test]
fn the_weekly_brief_answers_its_three_questions_from_the_data() {
    use brief::*;
    let deals = brief_deals();
    let names: BTreeMap<String, String> =
        [("u1", "王磊"), ("u2", "李娜"), ("u3", "张伟")].map(|(a, b)| (a.to_string(), b.to_string())).into();
    let raised = in_week(-1, 0) - 2 * HOUR; // Monday 08:00 of the next week
    let b = weekly_brief("team-1", period("2026-W49"), CN, &deals, &week_figures(), &names, raised);

    // 1. The won ¥2,000,000 deal closed before the week: the biggest open one is ¥900,000.
    let big = b.biggest_deal.clone().unwrap();
    assert_eq!(
        (big.amount_fen, big.from, big.to),
        (90_000_000, Some(Stage::ProposalSubmitted), Stage::Negotiation)
    );
    // 2. 方案提交 this week: deals 1, 3 and 4 in it, only deal 1 moved on: 3,333 bp. The eight
    //    weeks before: deals 11–14 (each moved on in its week), 1 and 3 (last week, stayed):
    //    4 of 6 = 6,666 bp. A gap of 3,333 ≥ 2,000. 商务谈判: 0 this week (5 deals), 1 of 13 in
    //    the trailing weeks (deal 2 won from it) = 769 bp: a gap under 2,000.
    let abnormal = b.abnormal_stage.clone().unwrap();
    assert_eq!(abnormal.stage, Stage::ProposalSubmitted);
    assert_eq!((abnormal.week_deals, abnormal.week_converted, abnormal.week_bp), (3, 1, 3_333));
    assert_eq!((abnormal.trailing_deals, abnormal.trailing_bp), (6, 6_666));
    // 3. Means: visits 8, touches 800, on time 7,333. 李娜: 3,750, 3,750 and 6,818 → 4,772.
    let support = b.needs_support.clone().unwrap();
    assert_eq!((support.rep.as_str(), support.score_bp), ("u2", 4_772));
    assert_eq!((support.effective_visits, support.team_mean_effective_visits), (3, 8));

    assert_eq!(
        b.text,
        "W49周报：最大单「二期注塑机改造项目」¥90万方案提交→商务谈判；方案提交转化33%（近8周66%）；需支持：李娜（有效拜访3，均值8）。"
    );
    assert!(b.text.chars().count() <= MAX_BRIEF_CHARS);
    // The same data give the same brief, byte for byte, and the payload reads back.
    let again = weekly_brief("team-1", period("2026-W49"), CN, &deals, &week_figures(), &names, raised);
    assert_eq!(encode(&again), encode(&b));
    assert_eq!(decode(&encode(&b)).unwrap(), b);
}

#[test]
fn a_quiet_week_says_so_and_long_names_still_fit() {
    use brief::*;
    let mut deals = brief_deals();
    deals.truncate(1);
    deals[0].title = "华东区年度框架协议之二期注塑机与模具改造总包项目".into();
    let names: BTreeMap<String, String> = [("u2".to_string(), "欧阳娜娜娜娜娜娜娜娜娜娜".to_string())].into();
    let b = weekly_brief("t", period("2026-W49"), CN, &deals, &week_figures(), &names, 0);
    assert!(b.abnormal_stage.is_none(), "one deal is too few to call a stage abnormal");
    assert!(b.text.contains("各阶段转化正常"), "{}", b.text);
    assert!(b.text.contains("「华东区年度框架协议之二…」"), "{}", b.text);
    assert!(b.text.chars().count() <= MAX_BRIEF_CHARS, "{}", b.text);

    let nobody = weekly_brief("t", period("2026-W49"), CN, &[], &[], &BTreeMap::new(), 0);
    assert_eq!(nobody.text, "W49周报：本周无在谈大单；各阶段转化正常；无人明显落后。");
}

#[test]
fn payloads_that_are_not_a_brief_of_this_version_are_refused() {
    use brief::*;
    let b = weekly_brief("t", period("2026-W49"), CN, &[], &[], &BTreeMap::new(), 0);
    let mut value: serde_json::Value = serde_json::from_slice(&encode(&b)).unwrap();
    assert!(matches!(decode(b"{not json"), Err(BriefError::Malformed(_))));
    assert!(matches!(decode(br#"{"v":1,"key":"deal/stage"}"#), Err(BriefError::Malformed(_))), "an alert");
    value["v"] = 2.into();
    assert_eq!(decode(&serde_json::to_vec(&value).unwrap()), Err(BriefError::UnsupportedVersion(2)));
    value["v"] = 1.into();
    value["text"] = "长".repeat(101).into();
    assert!(matches!(decode(&serde_json::to_vec(&value).unwrap()), Err(BriefError::Malformed(_))));
    value["text"] = "ok".into();
    value["week"] = "2026-12".into();
    assert!(matches!(decode(&serde_json::to_vec(&value).unwrap()), Err(BriefError::Malformed(_))));
}
