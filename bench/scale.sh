#!/usr/bin/env bash
# The scale targets (storage issue 11): redeem p99 after 1,000,000 redemptions over 10,000 enterprises against its
# value at 10,000; the server's resident memory; how long a restart takes to serve again; the
# data directory's size per million redemptions.
#
#   bench/scale.sh [--total 1000000] [--out bench/results]
set -euo pipefail
cd "$(dirname "$0")/.."

total=1000000
out=bench/results
while [ $# -gt 0 ]; do
  case "$1" in
    --total) total="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
cargo build --release --bin voucherd --bin voucher-bench
data=$(mktemp -d)
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$data"' EXIT

start_server() {
  local started=$(date +%s.%N)
  target/release/voucherd --listen 127.0.0.1:0 --data-dir "$data/d" --today 2027-06-15 > "$data/out" 2> "$data/log" &
  server=$!
  until grep -q "listening on" "$data/out" 2>/dev/null; do
    kill -0 "$server" 2>/dev/null || { cat "$data/log" >&2; exit 1; }
    sleep 0.01
  done
  address=$(sed -n 's/voucherd listening on //p' "$data/out")
  started_in_s=$(python3 -c "print(round($(date +%s.%N) - $started, 3))")
}

bench() {
  target/release/voucher-bench --addr "$address" --token-file "$data/d/bureau.token" \
    --enterprises 10000 --concurrency 64 --workload redeem --duration-s 3600 "$@"
}

rss_mib() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$server/status"; }

# "open_ms=… load_ms=…" from voucherd's start-up line: sled's own recovery, then the ledger's state.
opened_and_loaded() {
  python3 -c 'import json,sys
for line in open(sys.argv[1]):
    if "store opened" in line:
        try:
            entry = json.loads(line)
        except ValueError:
            print(line.strip()); break
        print("sled open %s ms, state load %s ms" % (entry["open_ms"], entry["load_ms"])); break' "$data/log"
}

start_server
echo "== first 10,000 redemptions (after setting up 10,000 enterprises)" >&2
bench --count 10000 --warmup-s 0 --json > "$out/scale-at-10k.json"
echo "== filling to $total" >&2
bench --count $((total - 20000)) --warmup-s 0 --json > "$out/scale-fill.json"
echo "== 10,000 more at $total" >&2
bench --count 10000 --warmup-s 0 --json > "$out/scale-at-1m.json"
rss_after=$(rss_mib)
data_bytes=$(du -sb "$data/d" | cut -f1)
kill -TERM "$server"; wait "$server" || true
start_server
restart_s=$started_in_s
rss_restarted=$(rss_mib)
opened_first=$(opened_and_loaded)
kill -TERM "$server"; wait "$server" || true
# sled writes its snapshot only when it opens, so the first restart re-reads everything sled
# logged since the server started; a second restart shows the cost without that.
start_server
restart_again_s=$started_in_s
opened_again=$(opened_and_loaded)
kill -TERM "$server"; wait "$server" || true
echo "restart after the fill: $restart_s s ($opened_first); again: $restart_again_s s ($opened_again)" >&2

python3 - "$out" "$total" "$rss_after" "$rss_restarted" "$data_bytes" "$restart_s" "$restart_again_s" "$opened_first" "$opened_again" <<'PY'
import json, sys
out, total, rss_after, rss_restarted, data_bytes, restart_s, restart_again_s, opened_first, opened_again = sys.argv[1:]
at_10k = json.load(open(f"{out}/scale-at-10k.json"))
at_1m = json.load(open(f"{out}/scale-at-1m.json"))
fill = json.load(open(f"{out}/scale-fill.json"))
ratio = at_1m["p99_ms"] / at_10k["p99_ms"]
per_million = int(data_bytes) / (int(total) / 1_000_000) / 1_048_576
rows = [
    ("redeem p99 at 10,000 redemptions", f"{at_10k['p99_ms']:.2f} ms", ""),
    (f"redeem p99 at {int(total):,} redemptions", f"{at_1m['p99_ms']:.2f} ms", f"{ratio:.2f}× ({'met' if ratio <= 1.2 else '**not met**'}: ≤ 1.2×)"),
    ("throughput while filling", f"{fill['throughput_per_s']:.0f} ok/s", f"{fill['errors']} errors"),
    ("resident memory after the fill", f"{rss_after} MiB", "met" if float(rss_after) <= 128 else "**not met** (≤ 128 MiB)"),
    ("resident memory after a restart", f"{rss_restarted} MiB", "met" if float(rss_restarted) <= 128 else "**not met** (≤ 128 MiB)"),
    ("restart until serving, right after the fill", f"{float(restart_s):.2f} s ({opened_first})", "met" if float(restart_s) <= 1 else "**not met** (≤ 1 s)"),
    ("restart until serving, again", f"{float(restart_again_s):.2f} s ({opened_again})", "met" if float(restart_again_s) <= 1 else "**not met** (≤ 1 s)"),
    ("data directory per million redemptions", f"{per_million:.0f} MiB", "met" if per_million <= 1024 else "**not met** (≤ 1 GiB)"),
]
print("| scale | measured | target |")
print("|---|---|---|")
for name, value, target in rows:
    print(f"| {name} | {value} | {target} |")
PY
