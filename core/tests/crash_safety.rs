//! A crash at any point loses nothing that a call returned `Ok` for (DESIGN §4).
//!
//! The test binary re-runs itself as a child process that writes as fast as it can and prints
//! each write's id only after the call returned `Ok`. The parent SIGKILLs it at a varying moment,
//! reopens the store and checks that every printed write is there. Twenty rounds, one store.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fieldsync_core::model::{Customer, NewCustomer, NewVisit, Visit};
use fieldsync_core::{DocId, Store};

const CHILD_ENV: &str = "FIELDSYNC_CRASH_CHILD_STORE";
const ROUNDS: u64 = 20;

/// The child: writes until killed. Only runs when the parent sets [`CHILD_ENV`].
#[test]
#[ignore = "run by writes_that_returned_ok_survive_sigkill as a child process"]
fn crash_child_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = Store::open(&path).expect("child opens the store");
    let mut out = std::io::stdout().lock();
    let mut customer = store
        .create(NewCustomer {
            company_name: "昆山崩溃测试厂".into(),
            phones: vec!["13812345678".into()],
            ..Default::default()
        })
        .expect("create customer");
    writeln!(out, "CUSTOMER {}", customer.id).unwrap();
    out.flush().unwrap();
    for n in 0u64.. {
        let visit = store
            .create(NewVisit {
                customer_id: customer.id,
                opportunity_id: None,
                planned_at: n as i64,
                notes: format!("visit {n}"),
            })
            .expect("create visit");
        writeln!(out, "VISIT {}", visit.id).unwrap();
        customer.tags = vec![format!("{n}")];
        customer = store.update(&customer).expect("update customer");
        writeln!(out, "TAG {} {n}", customer.id).unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn writes_that_returned_ok_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.fieldsync");
    let exe = std::env::current_exe().unwrap();
    let mut total_visits = 0usize;
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child_writer", "--ignored", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<String>>()
        });
        // Vary the moment of death: a few ms after start up to ~300 ms of writing.
        let delay = Duration::from_millis(20 + (round * 7919) % 300);
        let started = Instant::now();
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let lines = reader.join().unwrap();

        let store = Store::open(&path).unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
        let mut visits = 0;
        let mut last_tag: Option<(DocId, u64)> = None;
        for line in &lines {
            let mut words = line.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("CUSTOMER"), Some(id), None) => {
                    store.get::<Customer>(id.parse().unwrap()).unwrap();
                }
                (Some("VISIT"), Some(id), None) => {
                    let visit: Visit = store.get(id.parse().unwrap()).unwrap_or_else(|e| {
                        panic!("round {round}: visit {id} returned Ok before the kill but is gone: {e}")
                    });
                    assert!(visit.notes.starts_with("visit "));
                    visits += 1;
                }
                (Some("TAG"), Some(id), Some(n)) => {
                    last_tag = Some((id.parse().unwrap(), n.parse().unwrap()))
                }
                _ => {}
            }
        }
        if let Some((id, n)) = last_tag {
            let customer: Customer = store.get(id).unwrap();
            let stored: u64 = customer.tags[0].parse().unwrap();
            assert!(stored >= n, "round {round}: tag {n} was acknowledged but the store has {stored}");
        }
        total_visits += visits;
        assert!(store.document_count().unwrap() as usize >= total_visits);
        store.close().unwrap();
        eprintln!(
            "round {round}: killed after {:?}, {visits} acknowledged visits all present",
            started.elapsed()
        );
    }
    assert!(total_visits > 0, "the child never got to write; the test proved nothing");
}
