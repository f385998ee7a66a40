//! The managers' console in a real browser (docs/console.md): a real relay process, filled by a
//! rep's phone (a customer named `<script>alert(1)</script>`, deals across the funnel, a
//! follow-up, a visit with a photo and a signed slip), then `tests/console/console.mjs` drives
//! Debian's Chromium through Playwright: sign-in, the funnel's numbers against `GET /v1/funnel`,
//! the drill-down to a deal, a visit's evidence (photo and signature images loaded), the other
//! pages at 360 px and 1280 px (screenshots kept in `target/console-screenshots/`), a review pair
//! merged, an invalid rule shown in place, an XLSX list imported, a device revoked by an admin (the phone is refused afterwards), sign-out, a rep
//! refused, another team's supervisor answered 404 on this team's deal.
//!
//! Needs `node`, `npm ci` in `tests/console` and `/usr/bin/chromium` (scripts/test.sh installs
//! all three and sets `FIELDSYNC_REQUIRE_BROWSER=1`, so CI cannot skip it); elsewhere, without
//! them, it says SKIPPED.

use std::path::PathBuf;
use std::process::Command;

use fieldsync_core::model::{
    ActivityType, Money, NewActivity, NewCustomer, NewOpportunity, Opportunity, Stage,
};
use fieldsync_e2e::{RelayProcess, admin, enroll};

fn console_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("console")
}

fn chromium() -> PathBuf {
    std::env::var_os("FS_CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

fn ready() -> Result<(), String> {
    if !Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success()) {
        return Err("`node` is not installed".into());
    }
    if !console_dir().join("node_modules/playwright-core").is_dir() {
        return Err("playwright-core is missing: run `npm ci` in tests/console".into());
    }
    if !chromium().exists() {
        return Err(format!("{} is missing: apt-get install chromium", chromium().display()));
    }
    Ok(())
}

fn user_code(boot: &serde_json::Value, role: &str) -> (String, String) {
    let user = boot["users"].as_array().unwrap().iter().find(|u| u["role"] == role).unwrap();
    (user["user_id"].as_str().unwrap().to_owned(), user["code"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_chromium_signs_in_shows_the_apis_funnel_escapes_and_keeps_teams_apart() {
    if let Err(why) = ready() {
        assert!(
            std::env::var_os("FIELDSYNC_REQUIRE_BROWSER").is_none(),
            "the browser test cannot run: {why}"
        );
        eprintln!("SKIPPED: {why} (scripts/test.sh installs what the console's browser test needs)");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let boot = admin(data.path(), &["bootstrap", "--reps", "1", "--supervisors", "1", "--admins", "1"]);
    let relay = RelayProcess::start(data.path());
    let (rep_id, rep_enroll) = user_code(&boot, "rep");
    let (boss_id, boss_enroll) = user_code(&boot, "supervisor");
    let (admin_id, _) = user_code(&boot, "admin");

    // The rep's morning: a customer whose name is a script, deals across the funnel, a call.
    let rep = enroll(&relay.url(), &rep_enroll).await;
    let customer = rep
        .store
        .create(NewCustomer { company_name: "<script>alert(1)</script>".into(), ..Default::default() })
        .unwrap();
    let mut big: Option<Opportunity> = None;
    for (i, (stage, yuan)) in [
        (Stage::FirstContact, 12_000),
        (Stage::FirstContact, 3_000),
        (Stage::NeedsConfirmed, 48_000),
        (Stage::ProposalSubmitted, 900_000),
        (Stage::ProposalSubmitted, 65_000),
        (Stage::Negotiation, 150_000),
    ]
    .into_iter()
    .enumerate()
    {
        let deal: Opportunity = rep
            .store
            .create(NewOpportunity {
                customer_id: customer.id,
                owner: rep_id.clone(),
                title: format!("注塑机改造 {i}"),
                stage,
                amount: Some(Money { minor_units: yuan * 100, currency: "CNY".into() }),
                expected_close_at: None,
                next_action_due_at: None,
            })
            .unwrap();
        if yuan == 900_000 {
            big = Some(deal);
        }
    }
    let big = big.unwrap();
    // Two records of one company (same name, no shared phone): a pair for the review queue.
    for (name, phone) in [("无锡华光电子科技有限公司", "13900001111"), ("无锡华光电子科技", "13900002222")]
    {
        rep.store
            .create(NewCustomer {
                company_name: name.into(),
                phones: vec![phone.into()],
                ..Default::default()
            })
            .unwrap();
    }
    rep.store
        .log_activity(NewActivity {
            activity_type: ActivityType::Call,
            customer_id: customer.id,
            opportunity_id: Some(big.id),
            visit_id: None,
            contact: None,
            phone: None,
            at: fieldsync_core::Clock::now_ms(&fieldsync_core::SystemClock) - 60_000,
            duration_s: Some(300),
            summary: "问了交期，下周送样".into(),
            outcome: None,
            next_action: None,
        })
        .unwrap();
    // A visit with its evidence: a check-in at the site, a photo, a signed slip; blobs uploaded.
    let site = |north_m: f64, accuracy_m: f64| fieldsync_core::model::Location {
        lat: 31.2990 + north_m / 111_195.0,
        lon: 120.5853,
        datum: fieldsync_core::model::Datum::Wgs84,
        source: fieldsync_core::model::FixSource::Gps,
        accuracy_m: Some(accuracy_m),
        at: None,
        mock: false,
    };
    let factory = rep
        .store
        .create(NewCustomer {
            company_name: "苏州精密铸造厂".into(),
            location: Some(site(0.0, 5.0)),
            ..Default::default()
        })
        .unwrap();
    let now = fieldsync_core::Clock::now_ms(&fieldsync_core::SystemClock);
    let visit: fieldsync_core::model::Visit = rep
        .store
        .create(fieldsync_core::model::NewVisit {
            customer_id: factory.id,
            opportunity_id: None,
            planned_at: now,
            notes: "看了二号线".into(),
        })
        .unwrap();
    let context =
        fieldsync_core::store::CaptureContext { utc_offset_minutes: 480, elapsed_since_sync_ms: None };
    rep.store.check_in(visit.id, site(80.0, 12.0), context).unwrap();
    let photo =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/exif/gps_DSCN0012.jpg"))
            .unwrap();
    rep.store.attach_photo(visit.id, &photo, Some(site(30.0, 8.0)), context).unwrap();
    let slip: fieldsync_core::model::ServiceSlip = rep
        .store
        .create(fieldsync_core::model::NewServiceSlip {
            visit_id: visit.id,
            items: vec![fieldsync_core::model::SlipItem {
                description: "更换主轴轴承".into(),
                quantity: 2.0,
                unit: "套".into(),
            }],
            notes: String::new(),
        })
        .unwrap();
    let strokes = fieldsync_core::evidence::signature::SignatureStrokes {
        pad_width: 360.0,
        pad_height: 180.0,
        strokes: vec![
            [(30.0, 120.0), (60.0, 40.0), (90.0, 130.0), (120.0, 50.0), (160.0, 110.0)]
                .iter()
                .enumerate()
                .map(|(i, &(x, y))| fieldsync_core::evidence::signature::StrokePoint {
                    x,
                    y,
                    t_ms: i as u32 * 15,
                    pressure: 0.5,
                })
                .collect(),
        ],
    };
    rep.store
        .sign_slip(
            slip.id,
            fieldsync_core::store::SlipSignature { signer_name: "王建国".into(), strokes, fix: None },
        )
        .unwrap();
    rep.client.sync(&rep.store, |_| {}).await.unwrap();
    rep.client.upload_blobs(&rep.store, 64 * 1024).await.unwrap();
    let day = fieldsync_core::kpi::Date::of_instant(now, 480).to_string();
    // After the browser revoked it, the rep's phone can no longer sync (checked below).
    let boss = enroll(&relay.url(), &boss_enroll).await;
    let (_, boss_token) = boss.store.relay().unwrap().unwrap();

    // Console codes; another team's supervisor.
    let code = |user: &str| {
        admin(data.path(), &["console-code", "--user", user])["code"].as_str().unwrap().to_owned()
    };
    let tenant = boot["tenant_id"].as_str().unwrap();
    let other_team = admin(data.path(), &["create-team", "--tenant", tenant, "华南销售部"]);
    let other = admin(
        data.path(),
        &["create-user", "--team", other_team["team_id"].as_str().unwrap(), "--role", "supervisor", "钱主管"],
    );
    let other_id = other["user_id"].as_str().unwrap().to_owned();

    // A customer list as Excel writes it, for 导入.
    let xlsx = data.path().join("客户名单.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (row, cells) in [
        ["公司名称", "电话", "地址"],
        ["南通海达机械", "13800001234", "南通"],
        ["扬州精工模具", "0514-87654321", "扬州"],
    ]
    .iter()
    .enumerate()
    {
        for (col, cell) in cells.iter().enumerate() {
            sheet.write_string(row as u32, col as u16, *cell).unwrap();
        }
    }
    book.save(&xlsx).unwrap();

    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots");
    let out = Command::new("node")
        .arg(console_dir().join("console.mjs"))
        .env("FS_URL", relay.url())
        .env("FS_BOSS", &boss_id)
        .env("FS_BOSS_CODE", code(&boss_id))
        .env("FS_BOSS_TOKEN", &boss_token)
        .env("FS_REP", &rep_id)
        .env("FS_REP_CODE", code(&rep_id))
        .env("FS_OTHER", &other_id)
        .env("FS_OTHER_CODE", code(&other_id))
        .env("FS_DEAL", big.id.to_string())
        .env("FS_VISIT", visit.id.to_string())
        .env("FS_DAY", &day)
        .env("FS_ADMIN", &admin_id)
        .env("FS_ADMIN_CODE", code(&admin_id))
        .env("FS_REP_DEVICE", hex::encode(rep.store.device_id().as_bytes()))
        .env("FS_XLSX", &xlsx)
        .env("FS_SHOTS", &shots)
        .env("FS_CHROMIUM", chromium())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser test failed:\n{stdout}\n{stderr}");
    println!("{stdout}");
    assert!(
        rep.client.sync(&rep.store, |_| {}).await.is_err(),
        "the device revoked in the browser is refused"
    );
    for page in
        ["funnel", "stage", "deal", "stalls", "visits", "visit", "scoreboard", "rules", "review", "people"]
    {
        for width in [360, 1280] {
            assert!(shots.join(format!("{page}-{width}.png")).is_file(), "{page} at {width} px");
        }
    }
}
