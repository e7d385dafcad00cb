#!/usr/bin/env bash
# The ledger on PostgreSQL: voucher-bench against a voucherd started with
# `--store postgres://…` on a throwaway PostgreSQL configured exactly as run.sh's (lib.sh), one
# fresh database per run, every batch a synchronous-commit transaction. Writes voucher-bench's
# JSON lines (one per run, with "store": "postgresql" added) to --json.
#
#   bench/postgres/ledger.sh [--duration-s 20] [--json FILE] [--bin DIR]
#   bench/postgres/ledger.sh --smoke        # CI: one 10 s redeem run of the debug build
#
# Stops PostgreSQL and removes its temporary directory on exit, failure or Ctrl-C. As root the
# cluster runs as the unprivileged user `pgbench` (created if missing), like run.sh's.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/postgres/ledger.sh [options]
  --duration-s 20     seconds measured per run (after a 2 s warm-up)
  --json FILE         append each run's JSON line to FILE
  --bin DIR           where voucherd and voucher-bench are (default target/release)
  --enterprises 1000  enterprises the load is spread over
  --runs "LIST"       runs as workload:distribution:concurrency (default: the sled row's loads)
  --tmp DIR           parent of the cluster's temp directory (a real disk, not tmpfs)
  --statements        after each run, print the statements voucherd sent and their server
                      time (pg_stat_statements): where a redemption's database time goes
  --smoke             one redeem uniform run of 10 s at 16 clients over 50 enterprises with the
                      debug build, failing on any error (what .ci/run does)
EOF
}

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DURATION_S=20
WARMUP_S=2
JSON_OUT=""
BIN="$ROOT/target/release"
ENTERPRISES=1000
RUNS="redeem:uniform:1 redeem:uniform:16 redeem:uniform:64 redeem:hot:16 redeem:hot:64 mixed:uniform:64"
TMP_PARENT="${TMPDIR:-/tmp}"
SMOKE=0
STATEMENTS=0
RUN_USER=pgbench
DB_USER=bench

while [ $# -gt 0 ]; do
    case "$1" in
        --duration-s) DURATION_S="$2"; shift 2 ;;
        --json) JSON_OUT="$2"; shift 2 ;;
        --bin) BIN="$2"; shift 2 ;;
        --enterprises) ENTERPRISES="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --tmp) TMP_PARENT="$2"; shift 2 ;;
        --smoke) SMOKE=1; shift ;;
        --statements) STATEMENTS=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "ledger.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done
if [ "$SMOKE" = 1 ]; then
    DURATION_S=10; WARMUP_S=0; BIN="$ROOT/target/debug"; ENTERPRISES=50
    RUNS="redeem:uniform:16"
fi
[[ "$DURATION_S" =~ ^[1-9][0-9]*$ ]] || { echo "ledger.sh: bad --duration-s '$DURATION_S'" >&2; exit 2; }
for program in voucherd voucher-bench; do
    [ -x "$BIN/$program" ] || { echo "ledger.sh: no $BIN/$program: build it first (cargo build --bins, --release for a measurement)" >&2; exit 2; }
done
if [ -n "$JSON_OUT" ]; then
    JSON_OUT="$(cd "$(dirname "$JSON_OUT")" && pwd)/$(basename "$JSON_OUT")"
fi

log() { echo "[ledger-on-postgres] $*" >&2; }
. "$HERE/lib.sh"

PG_BIN="$(find_pg_bin)" || {
    echo "ledger.sh: no PostgreSQL here (initdb, pgbench); install it with apt-get install -y postgresql postgresql-contrib" >&2
    exit 1
}
AS=()
if [ "$(id -u)" -eq 0 ]; then
    if ! id "$RUN_USER" >/dev/null 2>&1; then
        log "creating system user $RUN_USER"
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$RUN_USER"
    fi
    AS=(runuser -u "$RUN_USER" --)
fi
case "$(fstype "$TMP_PARENT")" in
    tmpfs|ramfs) log "$TMP_PARENT is in memory (fsync would be free): using /var/tmp"; TMP_PARENT=/var/tmp ;;
esac

WORK="$(mktemp -d "$TMP_PARENT/voucher-ledger-pg.XXXXXX")"
PGDATA_DIR="$WORK/data"
SERVER_STARTED=0
BENCH_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$BENCH_PID" ] && kill -0 "$BENCH_PID" 2>/dev/null; then
        kill -TERM "$BENCH_PID" 2>/dev/null || true   # voucher-bench stops its voucherd
        wait "$BENCH_PID" 2>/dev/null || true
    fi
    if [ "$SERVER_STARTED" = 1 ]; then
        "${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

chmod 755 "$WORK"
[ ${#AS[@]} -eq 0 ] || chown "$RUN_USER:" "$WORK"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log "initdb in $PGDATA_DIR ($(fstype "$WORK") filesystem), port $PORT, $("$PG_BIN/postgres" --version)"
"${AS[@]}" "$PG_BIN/initdb" -D "$PGDATA_DIR" -U "$DB_USER" --auth=trust -E UTF8 --locale=C.UTF-8 \
    --no-instructions >"$WORK/initdb.log" 2>&1 || { cat "$WORK/initdb.log" >&2; exit 1; }
pg_bench_settings "$PORT" "$WORK" >>"$PGDATA_DIR/postgresql.conf"
[ "$STATEMENTS" = 0 ] || echo "shared_preload_libraries = 'pg_stat_statements'" >>"$PGDATA_DIR/postgresql.conf"
"${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$WORK/server.log" -w -t 60 start >/dev/null \
    || { tail -30 "$WORK/server.log" >&2; exit 1; }
SERVER_STARTED=1
PSQL=("${AS[@]}" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U "$DB_USER" -d postgres)

number=0
for run in $RUNS; do
    IFS=: read -r workload distribution concurrency <<<"$run"
    number=$((number + 1))
    database="ledger_$number"
    # A fresh database per run, as the sled rows get a fresh data directory per run.
    "${PSQL[@]}" -c "CREATE DATABASE $database" -c "CHECKPOINT" >/dev/null
    [ "$STATEMENTS" = 0 ] || "${PSQL[@]}" -d "$database" -c "CREATE EXTENSION pg_stat_statements" \
        -c "SELECT pg_stat_statements_reset()" >/dev/null
    log "run $number: $workload $distribution concurrency $concurrency, ${DURATION_S} s, database $database"
    set +e
    "$BIN/voucher-bench" --store "postgres://$DB_USER@127.0.0.1:$PORT/$database" \
        --workload "$workload" --distribution "$distribution" --concurrency "$concurrency" \
        --enterprises "$ENTERPRISES" --duration-s "$DURATION_S" --warmup-s "$WARMUP_S" \
        --json --fail-on-errors >"$WORK/run.json" &
    BENCH_PID=$!
    wait "$BENCH_PID"
    status=$?
    BENCH_PID=""
    set -e
    [ "$status" = 0 ] || { log "run $number failed (voucher-bench exit $status)"; cat "$WORK/run.json" >&2; exit 1; }
    line="$(python3 -c 'import json, sys; run = json.load(open(sys.argv[1])); run["store"] = "postgresql"; print(json.dumps(run))' "$WORK/run.json")"
    python3 -c 'import json, sys
r = json.loads(sys.argv[1])
print("[ledger-on-postgres] %s %s x%d: %.0f ok/s, p50 %.2f ms, p99 %.2f ms, errors %d" % (r["workload"], r["distribution"], r["concurrency"], r["throughput_per_s"], r["p50_ms"], r["p99_ms"], r["errors"]))' "$line" >&2
    [ -z "$JSON_OUT" ] || echo "$line" >>"$JSON_OUT"
    [ "$STATEMENTS" = 0 ] || "${PSQL[@]}" -d "$database" -c "SELECT calls, \
        round(total_exec_time::numeric, 1) AS server_ms, \
        left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS statement \
        FROM pg_stat_statements ORDER BY calls DESC LIMIT 12" >&2
    "${PSQL[@]}" -c "DROP DATABASE $database" >/dev/null
done
