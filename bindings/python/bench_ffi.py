"""Cost of a small query through the FFI from Python, against the real library.

Fills a fresh store with 1,000 customers (20 name stems x 50), then times N calls of
`customers_by_name_prefix("Hangzhou", 10)` (10 summaries back) one by one and reports the median.
As a reference in the same run it times `device_id()`, the cheapest call there is (no SQLite,
one short string back): the difference is the query itself, the reference is the crossing.
bindings/kotlin's FfiQueryCostTest runs the same scenario from the JVM.

Prints one JSON line:
    {"bench":"ffi-query-python","us_per_call":…,"reference_device_id_us_per_call":…,…}

Usage: bench_ffi.py [--customers 1000] [--calls 2000]   (after scripts/gen-bindings.sh)
"""

import argparse
import json
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "generated" / "python"))

from fieldsync_ffi import FfiNewCustomer, FieldStore  # noqa: E402

STEMS = [
    "Hangzhou", "Ningbo", "Wenzhou", "Shaoxing", "Jiaxing", "Huzhou", "Jinhua", "Taizhou", "Lishui",
    "Quzhou", "Zhoushan", "Yiwu", "Cixi", "Yuyao", "Ruian", "Leqing", "Haining", "Tongxiang",
    "Zhuji", "Shangyu",
]
QUERY_PREFIX = "Hangzhou"
QUERY_LIMIT = 10


def median_us(call, calls):
    for _ in range(min(200, calls)):  # warm up: reader connection, statement cache
        call()
    samples = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        call()
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000.0, sorted(samples)[int(len(samples) * 0.99)] / 1000.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        store = FieldStore.open(str(pathlib.Path(tmp) / "bench.fieldsync"))
        try:
            for i in range(args.customers):
                stem = STEMS[i % len(STEMS)]
                store.create_customer(
                    FfiNewCustomer(
                        company_name=f"{stem} Trading {i:04d}",
                        phones=[f"+86 571 {8000_0000 + i}"],
                        address=None,
                        tags=[],
                    )
                )
            rows = len(store.customers_by_name_prefix(QUERY_PREFIX, QUERY_LIMIT))
            if rows != min(QUERY_LIMIT, args.customers // len(STEMS)):
                raise SystemExit(f"query returned {rows} rows; the data set is not what was intended")

            query_us, query_p99_us = median_us(
                lambda: store.customers_by_name_prefix(QUERY_PREFIX, QUERY_LIMIT), args.calls
            )
            reference_us, _ = median_us(store.device_id, args.calls)
        finally:
            store.close()

    print(
        json.dumps(
            {
                "bench": "ffi-query-python",
                "us_per_call": round(query_us, 2),
                "p99_us": round(query_p99_us, 2),
                "calls": args.calls,
                "customers": args.customers,
                "rows_per_call": rows,
                "query": f"customers_by_name_prefix({QUERY_PREFIX!r}, {QUERY_LIMIT})",
                "reference": "device_id(): one FFI call, no SQLite, one short string back",
                "reference_device_id_us_per_call": round(reference_us, 2),
                "python": sys.version.split()[0],
            },
            separators=(",", ":"),
        )
    )


if __name__ == "__main__":
    main()
