#!/usr/bin/env bash
# Runs the ledger's load generator and the PostgreSQL baseline on this machine, one after the
# other, and writes a table: ledger vs PostgreSQL, throughput ratio, p99 of each, and the ledger
# on PostgreSQL (voucherd --store postgres://…, bench/postgres/ledger.sh) beside them.
#
#   bench/run.sh [--duration-s 20] [--out bench/results]
#
# Everything runs on 127.0.0.1: client and server share the machine, as the issue asks.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=20
out=bench/results
while [ $# -gt 0 ]; do
  case "$1" in
    --duration-s) duration="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
ledger_json="$out/ledger.jsonl"
: > "$ledger_json"

echo "== building (release)"
cargo build --release --bin voucherd --bin voucher-bench

bench=target/release/voucher-bench
run_ledger() {
  # $1 workload, $2 distribution, $3 concurrency, $4 enterprises
  echo "== ledger: $1 $2 concurrency $3" >&2
  "$bench" --workload "$1" --distribution "$2" --concurrency "$3" --enterprises "$4" \
    --duration-s "$duration" --warmup-s 2 --json >> "$ledger_json"
}
run_ledger noop uniform 64 1
run_ledger redeem uniform 1 1000
run_ledger redeem uniform 16 1000
run_ledger redeem uniform 64 1000
run_ledger redeem hot 16 1000
run_ledger redeem hot 64 1000
run_ledger mixed uniform 64 1000

echo "== the ledger on PostgreSQL (voucherd --store postgres://…, same loads but the no-op)"
ledger_postgres_json="$out/ledger_postgres.jsonl"
: > "$ledger_postgres_json"
bench/postgres/ledger.sh --duration-s "$duration" --enterprises 1000 --json "$ledger_postgres_json"

echo "== the disk's own fdatasync floor (what the write-ahead log can at best do)"
python3 bench/disk_floor.py . | tee "$out/disk_floor.json"

echo "== PostgreSQL baseline"
bench/postgres/run.sh --concurrency "1 16 64" --distribution "uniform hot" \
  --duration-s "$duration" --enterprises 1000 --json "$out/postgres.json"

python3 bench/table.py "$ledger_json" "$out/postgres.json" "$ledger_postgres_json" | tee "$out/table.md"
