//! `fieldsync demo`: a rep's offline morning, recorded in a real store, with a short report.
//! Shows what works before a relay exists: records as Automerge documents, the queries the app
//! runs, the outbox waiting for the relay, and that everything survives closing and reopening.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use fieldsync_core::model::{
    Contact, Customer, Datum, FixSource, Location, Money, NewCustomer, NewLeadCard, NewOpportunity,
    NewServiceSlip, NewVisit, SlipItem, Stage,
};
use fieldsync_core::{Clock as _, Store};

/// Runs the demo in `dir` (a new store file is created there) and returns the report.
pub fn run(dir: &Path) -> Result<String> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("demo-rep.fieldsync");
    let _ = std::fs::remove_file(&path);
    let store = Store::open(&path)?;
    let mut report = String::new();
    writeln!(report, "fieldsync demo — a rep's offline morning")?;
    writeln!(report, "store: {}", path.display())?;
    writeln!(report, "device id: {} (Ed25519 key made on first open)", store.device_id())?;

    let site = Location {
        lat: 31.2990,
        lon: 120.5853,
        datum: Datum::Gcj02,
        source: FixSource::Gps,
        accuracy_m: Some(12.0),
        at: None,
        mock: false,
    };
    let customer = store.create(NewCustomer {
        company_name: "苏州精工机械有限公司".into(),
        contacts: vec![Contact {
            name: "王建国".into(),
            title: Some("设备部经理".into()),
            phones: vec!["138 1234 5678".into()],
            email: None,
        }],
        phones: vec!["0512-6888 8888".into()],
        address: Some("苏州工业园区星湖街 328 号".into()),
        location: Some(site),
        tags: vec!["机械".into()],
        credit_code: None,
    })?;
    let card = store.create(NewLeadCard {
        raw_payload: "MECARD:N:李,娜;ORG:无锡威达模具;TEL:+8613900001111;;".into(),
        format: "mecard".into(),
        name: Some("李娜".into()),
        company: Some("无锡威达模具".into()),
        phones: vec!["+8613900001111".into()],
        source_event: Some("2026 上海工博会".into()),
        ..Default::default()
    })?;
    let deal = store.create(NewOpportunity {
        customer_id: customer.id,
        owner: "rep-zhang".into(),
        title: "五轴加工中心 2 台".into(),
        stage: Stage::FirstContact,
        amount: Some(Money { minor_units: 86_000_000, currency: "CNY".into() }),
        expected_close_at: None,
        next_action_due_at: None,
    })?;
    let visit = store.create(NewVisit {
        customer_id: customer.id,
        opportunity_id: Some(deal.id),
        planned_at: fieldsync_core::SystemClock.now_ms(),
        notes: "设备部确认需求，下周提交方案".into(),
    })?;
    let slip = store.create(NewServiceSlip {
        visit_id: visit.id,
        items: vec![SlipItem { description: "现场技术交流".into(), quantity: 1.0, unit: "次".into() }],
        notes: String::new(),
    })?;
    let deal = store.move_stage(deal.id, Stage::NeedsConfirmed, Some("技术参数已确认".into()))?;

    writeln!(report, "\nrecorded offline:")?;
    writeln!(report, "  customer     {}  {}", customer.id, customer.company_name)?;
    writeln!(
        report,
        "  lead card    {}  {} / {}",
        card.id,
        card.name.as_deref().unwrap_or("-"),
        card.company.as_deref().unwrap_or("-")
    )?;
    writeln!(report, "  opportunity  {}  {} → {}", deal.id, deal.title, deal.stage.label_zh())?;
    writeln!(report, "  visit        {}  {}", visit.id, visit.notes)?;
    writeln!(report, "  service slip {}  {} item(s), unsigned", slip.id, slip.items.len())?;

    writeln!(report, "\nqueries (answered from projection tables):")?;
    let by_phone = store.customers_by_phone_prefix("+86 138-1234", 5)?;
    writeln!(report, "  phone prefix \"+86 138-1234\" → {}", names(&by_phone))?;
    let near = store.customers_near(&Location { datum: Datum::Wgs84, ..site }, 1_000.0, 5)?;
    let distances: Vec<String> = near
        .iter()
        .map(|c| format!("{} ({:.0} m)", c.company_name, c.distance_m.unwrap_or(f64::NAN)))
        .collect();
    writeln!(report, "  within 1 km of the GCJ-02 fix read as WGS-84 → {}", distances.join(", "))?;
    writeln!(report, "  today's visits → {}", store.todays_visits(8 * 60)?.len())?;
    writeln!(
        report,
        "  deals in 需求确认 → {}",
        store.opportunities_in_stage(Stage::NeedsConfirmed, 10)?.len()
    )?;

    let outbox = store.outbox(100)?;
    let bytes: u64 = outbox.iter().map(|e| e.size_bytes).sum();
    writeln!(report, "\noutbox: {} changes, {} bytes, waiting for a relay", outbox.len(), bytes)?;
    store.close()?;

    let reopened = Store::open(&path)?;
    let again: Customer = reopened.get(customer.id)?;
    writeln!(
        report,
        "reopened: {} documents, customer reads back {}, outbox {}",
        reopened.document_count()?,
        if again == customer { "identical" } else { "DIFFERENT" },
        reopened.outbox_len()?
    )?;
    reopened.close()?;
    Ok(report)
}

fn names(found: &[fieldsync_core::store::CustomerSummary]) -> String {
    found.iter().map(|c| c.company_name.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn demo_records_a_morning_and_reads_it_back_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let report = super::run(dir.path()).unwrap();
        assert!(report.contains("customer reads back identical"), "{report}");
        assert!(report.contains("outbox: 6 changes"), "{report}");
        assert!(report.contains("phone prefix \"+86 138-1234\" → 苏州精工机械有限公司"), "{report}");
    }
}
