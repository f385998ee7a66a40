//! The reference for the FFI query cost: the same query as bindings/python/bench_ffi.py and the
//! Kotlin `FfiQueryCostTest`, on the same data, called on the core `Store` directly from Rust
//! (no FFI). Built in the same profile as the library the binding benches load, so the ratio
//! (foreign ÷ Rust) is the cost of crossing the FFI and building the foreign objects.
//!
//! `cargo build --workspace --examples && target/debug/examples/query_cost [customers] [calls]`
//! prints one JSON line `{"bench":"ffi-query-rust-reference","us_per_call":…}`.

use std::time::Instant;

use fieldsync_core::Store;
use fieldsync_core::model::NewCustomer;

const STEMS: [&str; 20] = [
    "Hangzhou",
    "Ningbo",
    "Wenzhou",
    "Shaoxing",
    "Jiaxing",
    "Huzhou",
    "Jinhua",
    "Taizhou",
    "Lishui",
    "Quzhou",
    "Zhoushan",
    "Yiwu",
    "Cixi",
    "Yuyao",
    "Ruian",
    "Leqing",
    "Haining",
    "Tongxiang",
    "Zhuji",
    "Shangyu",
];

fn median_us(calls: usize, mut call: impl FnMut()) -> (f64, f64) {
    for _ in 0..calls.min(200) {
        call();
    }
    let mut samples: Vec<u128> = (0..calls)
        .map(|_| {
            let start = Instant::now();
            call();
            start.elapsed().as_nanos()
        })
        .collect();
    samples.sort_unstable();
    (samples[calls / 2] as f64 / 1000.0, samples[calls * 99 / 100] as f64 / 1000.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let customers: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let calls: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2000).max(1);
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path().join("bench.fieldsync"))?;
    for i in 0..customers {
        store.create(NewCustomer {
            company_name: format!("{} Trading {i:04}", STEMS[i % STEMS.len()]),
            phones: vec![format!("+86 571 {}", 8000_0000 + i)],
            ..Default::default()
        })?;
    }
    let rows = store.customers_by_name_prefix("Hangzhou", 10)?.len();
    let (query_us, p99_us) = median_us(calls, || {
        std::hint::black_box(store.customers_by_name_prefix("Hangzhou", 10).expect("query"));
    });
    store.close()?;
    println!(
        "{{\"bench\":\"ffi-query-rust-reference\",\"us_per_call\":{query_us:.2},\"p99_us\":{p99_us:.2},\
         \"calls\":{calls},\"customers\":{customers},\"rows_per_call\":{rows},\
         \"query\":\"Store::customers_by_name_prefix(\\\"Hangzhou\\\", 10), no FFI\"}}"
    );
    Ok(())
}
