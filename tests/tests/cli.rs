//! The `fieldsync` binary, run as a real process.

use fieldsync_e2e::run_fieldsync;

#[test]
fn demo_runs_four_devices_through_an_embedded_relay_and_they_converge() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_fieldsync(&["demo", "--dir", dir.path().to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("all four devices hold identical records"), "{stdout}");
}

#[test]
fn bench_store_prints_one_json_object_per_scenario_with_units_in_the_keys() {
    let out = run_fieldsync(&["bench", "store", "--documents", "500", "--samples", "20", "--opens", "2"]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let open = lines.iter().find(|l| l["bench"] == "store-open").expect("store-open line");
    assert_eq!(open["documents"], 500);
    assert!(open["open_ms_p50"].as_f64().unwrap() > 0.0);
    assert!(open["rss_mb_after_open"].as_f64().unwrap() > 0.0);
    let create = lines.iter().find(|l| l["bench"] == "store-create-visit").expect("store-create-visit line");
    assert!(create["p99_ms"].as_f64().unwrap() >= create["p50_ms"].as_f64().unwrap());
    assert!(create["reference_p50_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn bench_dedup_local_prints_latency_hit_rate_and_the_full_scan_reference() {
    let out = run_fieldsync(&[
        "bench",
        "dedup-local",
        "--customers",
        "2000",
        "--queries",
        "200",
        "--reference-queries",
        "10",
    ]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(line["bench"], "dedup-local");
    assert_eq!(line["customers"], 2000);
    assert!(line["p99_ms"].as_f64().unwrap() >= line["p50_ms"].as_f64().unwrap());
    assert!(line["best_of_3_p99_ms"].as_f64().unwrap() <= line["p99_ms"].as_f64().unwrap());
    assert!(line["hit_rate"].as_f64().unwrap() >= 0.9, "{line}");
    assert!(line["reference_p50_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(line["reference_queries"], 10);
}

#[test]
fn bench_activity_prints_the_log_latency_beside_the_durable_insert_reference() {
    let out = run_fieldsync(&["bench", "activity", "--documents", "200", "--samples", "10"]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(line["bench"], "activity-log");
    assert_eq!(line["samples"], 10);
    assert!(line["p99_ms"].as_f64().unwrap() >= line["p50_ms"].as_f64().unwrap());
    assert!(line["reference_p50_ms"].as_f64().unwrap() > 0.0);
    assert!(line["change_bytes_mean"].as_f64().unwrap() > 0.0);
}

#[test]
fn bench_timeline_pages_through_every_entry_of_the_customer() {
    let out = run_fieldsync(&[
        "bench",
        "timeline",
        "--documents",
        "300",
        "--entries",
        "40",
        "--page",
        "7",
        "--samples",
        "3",
    ]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(line["bench"], "customer-timeline");
    assert_eq!(line["entries"], 40);
    assert_eq!(line["pages"], 6, "40 entries in pages of 7: {line}");
    assert_eq!(line["documents"], 300);
    assert!(line["all_pages_ms_p99"].as_f64().unwrap() >= line["all_pages_ms_p50"].as_f64().unwrap());
    assert!(line["reference_page_ms_p50"].as_f64().unwrap() > 0.0);
}

#[test]
fn opening_a_file_that_is_not_a_store_exits_non_zero_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.fieldsync");
    std::fs::write(&bogus, b"not sqlite at all, just text that is long enough").unwrap();
    let out = run_fieldsync(&["bench", "store-open", bogus.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not a fieldsync store"), "{stderr}");
    assert_eq!(std::fs::read(&bogus).unwrap(), b"not sqlite at all, just text that is long enough");
}

#[test]
fn unknown_commands_are_refused_with_usage() {
    let out = run_fieldsync(&["frobnicate"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage"));
}

#[test]
fn dedup_pairs_scores_each_line_and_flags_lines_that_are_not_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pairs.jsonl");
    std::fs::write(
        &input,
        concat!(
            r#"{"a": {"name": "苏州精工机械有限公司", "phone": "0512-6888 8888"}, "b": {"name": "精工机械（苏州）有限公司", "phone": "+86 512 68888888"}}"#,
            "\n",
            r#"{"a": {"name": "苏州精工机械", "phone": "13812345678"}, "b": {"name": "苏州精工模具", "phone": "13900001111"}}"#,
            "\n",
            "not json\n",
        ),
    )
    .unwrap();
    let out = run_fieldsync(&["dedup", "pairs", input.to_str().unwrap()]);
    assert!(!out.status.success(), "a bad line makes the exit code non-zero");
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["decision"], "same", "{}", lines[0]);
    assert_eq!(lines[1]["decision"], "different", "machinery vs moulds is a hard negative: {}", lines[1]);
    let score = lines[1]["score"].as_f64().unwrap();
    assert!((0.0..0.8).contains(&score));
    assert_eq!(lines[2]["line"], 3);
}

#[test]
fn geo_convert_prints_a_line_per_point_with_the_region_and_refuses_bad_points() {
    let out = run_fieldsync(&[
        "geo", "convert", "--from", "wgs84", "--to", "gcj02", "50.244", "127.490", "27.7172", "85.3240",
    ]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["in_gcj02_region"], true, "Heihe: {}", lines[0]);
    assert!(lines[0]["moved_m"].as_f64().unwrap() > 300.0, "{}", lines[0]);
    assert_eq!(lines[1]["in_gcj02_region"], false, "Kathmandu: {}", lines[1]);
    assert_eq!(lines[1]["result"]["lat"], 27.7172);

    let out = run_fieldsync(&["geo", "convert", "--from", "wgs84", "--to", "bd09", "95", "10"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"error\""));
    let out = run_fieldsync(&["geo", "convert", "--from", "mercator", "--to", "bd09", "31", "121"]);
    assert_eq!(out.status.code(), Some(2), "a clap usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown datum"));
}

#[test]
fn bench_geo_reports_the_region_test_beside_the_transform() {
    let out = run_fieldsync(&["bench", "geo", "--points", "2000"]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    for line in &lines {
        assert!(line["region_test_ns"].as_f64().unwrap() > 0.0, "{line}");
        assert!(line["wgs84_to_gcj02_ns"].as_f64().unwrap() > 0.0, "{line}");
        assert!(line["region_vertices"].as_u64().unwrap() > 1000, "{line}");
    }
}

#[test]
fn lead_parse_prints_the_parsed_card_with_each_phone_s_extension() {
    let dir = tempfile::tempdir().unwrap();
    let card = dir.path().join("card.txt");
    std::fs::write(
        &card,
        "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:周敏\r\nORG:上海远大模具有限公司\r\n\
         TEL;VALUE=uri;TYPE=work:tel:+86-21-6234-5678;ext=8021\r\nEND:VCARD\r\n",
    )
    .unwrap();
    let out = run_fieldsync(&["lead", "parse", card.to_str().unwrap()]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let parsed: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(parsed["format"]["kind"], "vcard");
    assert_eq!(parsed["company"], "上海远大模具有限公司");
    let phone = &parsed["phones"][0];
    assert_eq!(phone["value"], "+86-21-6234-5678;ext=8021", "{parsed}");
    assert_eq!(phone["e164"], "+862162345678");
    assert_eq!(phone["extension"], "8021");
    assert_eq!(phone["display"], "021 6234 5678 转 8021");
    assert_eq!(phone["dial"], "+862162345678,8021");
}

#[test]
fn lead_parse_reads_standard_input_and_splits_a_slash_list() {
    use std::io::Write;
    let mut child = std::process::Command::new(fieldsync_e2e::fieldsync_bin())
        .args(["lead", "parse", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all("周敏 电话 021 6234 5678 / 6234 5679 x 102".as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(parsed["format"]["kind"], "plain_text");
    let phones: Vec<(&str, &str)> = parsed["phones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["e164"].as_str().unwrap(), p["dial"].as_str().unwrap()))
        .collect();
    assert_eq!(phones, vec![("+862162345678", "+862162345678"), ("+862162345679", "+862162345679,102")]);
}

#[test]
fn lead_parse_refuses_what_is_not_a_card_with_the_reason_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "   \n").unwrap();
    let out = run_fieldsync(&["lead", "parse", empty.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("holds no text"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let huge = dir.path().join("huge.txt");
    std::fs::write(&huge, "1".repeat(100_000)).unwrap();
    let out = run_fieldsync(&["lead", "parse", huge.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("100000 bytes") && stderr.contains("not a lead card"), "{stderr}");

    let out = run_fieldsync(&["lead", "parse", dir.path().join("missing.txt").to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open"));
}

/// The regression guard's scenarios (scripts/perf-guard.sh) run from a prepared input, and a
/// damaged input file is refused with a clear error.
#[test]
fn bench_guard_scenarios_run_from_their_prepared_input_and_refuse_a_cut_off_one() {
    let dir = tempfile::tempdir().unwrap();
    for (scenario, size, count) in
        [("fresh", ["--documents", "80"], "documents"), ("ingest", ["--changes", "40"], "changes")]
    {
        let input = dir.path().join(scenario);
        let input = input.to_str().unwrap();
        let args = vec!["bench", "guard", scenario, size[0], size[1], "--input", input];
        let prepared = run_fieldsync(&[args.as_slice(), &["--prepare"]].concat());
        assert!(prepared.status.success(), "stderr: {}", String::from_utf8_lossy(&prepared.stderr));
        let out = run_fieldsync(&args);
        assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
        let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            (line["scenario"].as_str(), line[count].as_u64()),
            (Some(scenario), Some(size[1].parse().unwrap()))
        );
        // Cut the input off in the middle of its last item.
        let bytes = std::fs::read(input).unwrap();
        std::fs::write(input, &bytes[..bytes.len() - 3]).unwrap();
        let cut = run_fieldsync(&args);
        assert!(!cut.status.success());
        assert!(
            String::from_utf8_lossy(&cut.stderr).contains("cut off"),
            "{}",
            String::from_utf8_lossy(&cut.stderr)
        );
    }
}

fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

fn example(name: &str) -> String {
    format!("{}/../docs/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn incentive_eval_pays_the_documented_example_by_the_version_in_force() {
    let (rules, facts) = (example("incentive-rules.json"), example("incentive-facts.jsonl"));
    let lines = json_lines(&run_fieldsync(&[
        "incentive",
        "eval",
        "--rules",
        &rules,
        "--facts",
        &facts,
        "--today",
        "2026-12-07",
    ]));
    let pay: Vec<(String, String, i64, i64)> = lines
        .iter()
        .map(|l| {
            let s = |k: &str| l[k].as_str().unwrap().to_string();
            (s("rep"), s("period"), l["rules_version"].as_i64().unwrap(), l["payout_fen"].as_i64().unwrap())
        })
        .collect();
    // October, version 1: chen 0.4 × 110 % + 0.6 × 150 % = 134 % → 3000 + 300 + 336 = 3636.00;
    // li has 9 effective visits, under the gate of 10.
    // November, version 2: chen 0.3 × 100 + 0.5 × 100 + 0.2 × 100 = 100 % → 3500.00; li 0.3 × 90 %
    // + 0.5 × 90 % + 0.2 × 80 % = 88 % → 3500 × 0.88 = 3080.00.
    let expected = [
        ("rep-chen", "2026-10", 1, 363_600),
        ("rep-li", "2026-10", 1, 0),
        ("rep-chen", "2026-11", 2, 350_000),
        ("rep-li", "2026-11", 2, 308_000),
    ];
    let expected: Vec<_> =
        expected.iter().map(|(r, p, v, f)| (r.to_string(), p.to_string(), *v, *f)).collect();
    assert_eq!(pay, expected);
    assert_eq!(lines[1]["band"], "gated");
    assert_eq!(lines[1]["gate_failed"]["metric"], "effective_visits");

    let sandbox = json_lines(&run_fieldsync(&[
        "incentive",
        "sandbox",
        "--rules",
        &rules,
        "--candidate",
        &example("incentive-candidate.json"),
        "--facts",
        &facts,
        "--periods",
        "1",
        "--today",
        "2026-12-07",
    ]));
    // November only; the candidate's visit target of 36: chen 0.3 × 111.1111 % + 70 % = 103.3333 %
    // → 3500 + 3.3333 % × 50 % × 3500 = 58.33 → 3558.33; li 0.3 × 100 % + 45 % + 16 % = 91 % → 3185.00.
    assert_eq!(sandbox.len(), 3);
    assert_eq!(
        (sandbox[0]["current_fen"].as_i64(), sandbox[0]["candidate_fen"].as_i64()),
        (Some(350_000), Some(355_833))
    );
    assert_eq!(sandbox[0]["crossings"][0]["candidate"], "excess_1");
    assert_eq!(
        (sandbox[1]["current_fen"].as_i64(), sandbox[1]["candidate_fen"].as_i64()),
        (Some(308_000), Some(318_500))
    );
    assert_eq!(sandbox[2]["total"]["change_fen"], 355_833 + 318_500 - 350_000 - 308_000);
}

#[test]
fn incentive_refuses_bad_rules_and_facts_with_the_reason_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    let text = std::fs::read_to_string(example("incentive-candidate.json")).unwrap();
    std::fs::write(&bad, text.replace(r#""from_pct": 120"#, r#""from_pct": 110"#)).unwrap();
    let out = run_fieldsync(&["incentive", "check", "--rules", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("excess_tiers[1].from_pct") && stderr.contains("inside the tier before"),
        "{stderr}"
    );

    let facts = dir.path().join("facts.jsonl");
    std::fs::write(&facts, r#"{"rep": "a", "period": "2026-12", "metrics": {"effective_visits": 3}}"#)
        .unwrap();
    let out = run_fieldsync(&[
        "incentive",
        "eval",
        "--rules",
        &example("incentive-rules.json"),
        "--facts",
        facts.to_str().unwrap(),
        "--today",
        "2026-11-30",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("has not begun"));
    let check =
        json_lines(&run_fieldsync(&["incentive", "check", "--rules", &example("incentive-rules.json")]));
    assert_eq!(check.len(), 2);
}
