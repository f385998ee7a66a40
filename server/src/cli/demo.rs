//! `fieldsync demo`: a relay embedded in this process, three reps and a supervisor enrolled with
//! one-time codes, a morning of offline work — including the same deal edited by two reps — then
//! sync, and a short report that shows every device converged.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use fieldsync_core::model::{
    Customer, EvidenceKind, Money, NewCustomer, NewOpportunity, NewVisit, Opportunity, Stage,
};
use fieldsync_core::sync::client::RelayClient;
use fieldsync_core::{Clock as _, Store, SystemClock};

use crate::cli::admin::{self, AdminCommand};
use crate::config::RelayConfig;
use crate::http::app::{self, AppState};

/// The technical document rep 1 attaches before confirming the customer's needs.
const DEMO_SPEC: &[u8] = b"Injection moulding line 2: 2 x 450 t, cycle <= 28 s, PP/ABS";

/// Runs the demo with its data under `dir` (removed and recreated) and returns the report.
pub fn run(dir: &Path) -> Result<String> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    let relay_dir = dir.join("relay");
    let boot = admin::run(
        &relay_dir,
        AdminCommand::Bootstrap {
            tenant: "苏州精工集团".into(),
            team: "华东销售部".into(),
            reps: 3,
            supervisors: 1,
            admins: 0,
        },
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let config =
            RelayConfig { listen: "127.0.0.1:0".parse()?, data_dir: relay_dir.clone(), ..Default::default() };
        let state = AppState::open(config)?;
        let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(app::serve(state, move |address| {
            let _ = bound_tx.send(address);
        }));
        let address = bound_rx.await.context("the embedded relay did not start")?;
        let url = format!("http://{address}");
        let mut report = String::new();
        writeln!(report, "fieldsync demo — relay embedded at {url}")?;

        let users = boot["users"].as_array().context("bootstrap users")?;
        let mut devices = Vec::new();
        for user in users {
            let name = user["name"].as_str().unwrap_or("?").to_owned();
            let code = user["code"].as_str().context("code")?;
            let store = Store::open(dir.join(format!("{}.fieldsync", name.replace(' ', "-"))))?;
            let client = RelayClient::new(&url)?;
            let enrollment = client.enroll(&store, code, &name).await?;
            writeln!(
                report,
                "enrolled {name:<13} device {} with one-time code {code}",
                enrollment.device_id
            )?;
            devices.push((name, store, client));
        }
        let (rep1, rep2, rep3) = (&devices[0].1, &devices[1].1, &devices[2].1);

        // Rep 1 meets a customer and opens a deal; everyone syncs once.
        let customer = rep1.create(NewCustomer {
            company_name: "无锡威达模具有限公司".into(),
            phones: vec!["0510-8888 6666".into()],
            ..Default::default()
        })?;
        let deal = rep1.create(NewOpportunity {
            customer_id: customer.id,
            owner: "rep 1".into(),
            title: "冲压模具 3 套".into(),
            stage: Stage::FirstContact,
            amount: Some(Money { minor_units: 45_000_000, currency: "CNY".into() }),
            expected_close_at: None,
            next_action_due_at: None,
        })?;
        for (_, store, client) in &devices {
            client.sync(store, |_| {}).await?;
        }
        writeln!(
            report,
            "\nrep 1 created {} and the deal \"{}\"; all four devices synced",
            customer.company_name, deal.title
        )?;

        // Offline: two reps edit the same deal; the third visits and adds a contact number.
        let now = SystemClock.now_ms();
        rep1.attach_deal_evidence(deal.id, EvidenceKind::TechnicalDocument, "技术参数.pdf", DEMO_SPEC)?;
        rep1.move_stage(deal.id, Stage::NeedsConfirmed, Some("技术参数确认".into()))?;
        let mut d2: Opportunity = rep2.get(deal.id)?;
        d2.amount = Some(Money { minor_units: 52_000_000, currency: "CNY".into() });
        d2.expected_close_at = Some(now + 30 * 86_400_000);
        rep2.update(&d2)?;
        // Rep 1 owns the customer: the other reps see that it exists and who owns it, not its
        // record; the supervisor sees it whole and adds a number.
        let supervisor = &devices[3].1;
        let mut c3: Customer = supervisor.get(customer.id)?;
        c3.phones.push("138 0000 1111".into());
        supervisor.update(&c3)?;
        rep3.create(NewVisit {
            customer_id: customer.id,
            opportunity_id: Some(deal.id),
            planned_at: now,
            notes: "现场看样".into(),
        })?;
        writeln!(
            report,
            "offline: rep 1 moved the deal to 需求确认; rep 2 raised the amount and set a close date;"
        )?;
        writeln!(report, "         the supervisor added a phone to the customer; rep 3 logged a visit")?;

        // Sync in an awkward order, then everyone once more.
        writeln!(report, "\nsync order: rep 3, rep 2, supervisor, rep 1, then everyone again")?;
        for i in [2usize, 1, 3, 0, 0, 1, 2, 3] {
            let (name, store, client) = &devices[i];
            let r = client.sync(store, |_| {}).await?;
            if r.progress.acknowledged + r.progress.documents_received > 0 {
                writeln!(
                    report,
                    "  {name:<13} pushed {:>2}, received {:>2}, {} request(s), {} B up / {} B down",
                    r.progress.acknowledged,
                    r.progress.documents_received,
                    r.progress.requests,
                    r.progress.bytes_up,
                    r.progress.bytes_down
                )?;
            }
        }

        writeln!(report, "\nwhat every device holds now:")?;
        let reference: Opportunity = devices[0].1.get(deal.id)?;
        let reference_customer: Customer = devices[0].1.get(customer.id)?;
        let mut converged = true;
        for (i, (name, store, _)) in devices.iter().enumerate() {
            let d: Opportunity = store.get(deal.id)?;
            let owner = store.ownership(customer.id)?.and_then(|o| o.owner_name).unwrap_or_default();
            // Rep 1 (the owner) and the supervisor hold the customer; reps 2 and 3 only its listing.
            let customer_line = match store.find::<Customer>(customer.id)? {
                Some(c) => {
                    converged &= (i == 0 || i == 3) && c == reference_customer;
                    format!("customer phones {}", c.phones.len())
                }
                None => {
                    converged &= i == 1 || i == 2;
                    format!("customer owned by {owner}, record not shared")
                }
            };
            converged &= d == reference && owner == "rep 1";
            writeln!(
                report,
                "  {name:<13} deal {} ¥{} close {} | {customer_line} | {} documents, outbox {}",
                d.stage.label_zh(),
                d.amount.as_ref().map(|a| a.minor_units / 100).unwrap_or(0),
                if d.expected_close_at.is_some() { "set" } else { "unset" },
                store.document_count()?,
                store.outbox_len()?
            )?;
        }
        if !converged {
            bail!("the devices did not converge:\n{report}");
        }
        writeln!(
            report,
            "\nall four devices hold identical records: both reps' edits to the deal survived the merge; \
             only the customer's owner and the supervisor hold its record"
        )?;
        for (_, store, _) in &devices {
            store.close()?;
        }
        Ok(report)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn demo_converges_four_devices_through_the_embedded_relay() {
        let dir = tempfile::tempdir().unwrap();
        let report = super::run(&dir.path().join("demo")).unwrap();
        assert!(report.contains("all four devices hold identical records"), "{report}");
        assert!(report.contains("需求确认 ¥520000"), "{report}");
    }
}
