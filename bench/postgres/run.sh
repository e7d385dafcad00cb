#!/usr/bin/env bash
# PostgreSQL comparison benchmark: the voucher redemption done as a PL/pgSQL function
# (schema.sql), driven by pgbench, every commit durable (fsync=on, synchronous_commit=on).
#
# Starts a throwaway PostgreSQL on 127.0.0.1 on a free port in a fresh temp directory, loads
# schema.sql, and for every distribution and concurrency reseeds (seed.sql), checkpoints, runs
# pgbench and reports throughput, average, p50 and p99 latency. Stops the server and removes the
# temp directory on exit, failure or Ctrl-C. Installs PostgreSQL with apt-get if it is missing.
# As root it runs PostgreSQL and pgbench as the unprivileged system user `pgbench` (created if
# missing). See README.md in this directory.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/postgres/run.sh [options]
  --concurrency "16 64"         pgbench client counts (one run each)
  --distribution "uniform hot"  uniform: random enterprise 1..N; hot: every client on enterprise 1
  --duration-s 30               seconds per run (pgbench -T)
  --enterprises 1000            enterprises seeded (one cap account and one voucher each)
  --threads 2                   pgbench worker threads (-j); never more than the clients
  --progress-s 5                pgbench progress report interval on stderr (0: none)
  --json FILE                   also write the results as a JSON array to FILE
  --tmp DIR                     parent of the temp directory holding the cluster
                                (default $TMPDIR or /tmp; must be a real disk, not tmpfs)
  --keep DIR                    copy pgbench outputs, transaction logs and the server log to DIR
EOF
}

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONCURRENCY="16 64"
DISTRIBUTION="uniform hot"
DURATION_S=30
ENTERPRISES=1000
THREADS=2
PROGRESS_S=5
JSON_OUT=""
TMP_PARENT="${TMPDIR:-/tmp}"
KEEP_DIR=""
RUN_USER=pgbench   # OS user that owns the cluster when the script runs as root
DB_USER=bench      # PostgreSQL superuser created by initdb
DB_NAME=ledger

while [ $# -gt 0 ]; do
    opt="$1"; val=""
    case "$opt" in
        --*=*) val="${opt#*=}"; opt="${opt%%=*}" ;;
        -h|--help) usage; exit 0 ;;
        *) if [ $# -lt 2 ]; then echo "run.sh: $opt needs a value" >&2; usage >&2; exit 2; fi
           val="$2"; shift ;;
    esac
    shift
    case "$opt" in
        --concurrency) CONCURRENCY="$val" ;;
        --distribution) DISTRIBUTION="$val" ;;
        --duration-s) DURATION_S="$val" ;;
        --enterprises) ENTERPRISES="$val" ;;
        --threads) THREADS="$val" ;;
        --progress-s) PROGRESS_S="$val" ;;
        --json) JSON_OUT="$val" ;;
        --tmp) TMP_PARENT="$val" ;;
        --keep) KEEP_DIR="$val" ;;
        *) echo "run.sh: unknown option $opt" >&2; usage >&2; exit 2 ;;
    esac
done

is_pos_int() { [[ "$1" =~ ^[1-9][0-9]*$ ]]; }
for c in $CONCURRENCY; do
    is_pos_int "$c" || { echo "run.sh: bad concurrency '$c'" >&2; exit 2; }
    [ "$c" -le 190 ] || { echo "run.sh: concurrency $c > 190 (max_connections is 200)" >&2; exit 2; }
done
for d in $DISTRIBUTION; do
    case "$d" in uniform|hot) ;; *) echo "run.sh: bad distribution '$d' (uniform or hot)" >&2; exit 2 ;; esac
done
is_pos_int "$DURATION_S" || { echo "run.sh: bad --duration-s '$DURATION_S'" >&2; exit 2; }
is_pos_int "$ENTERPRISES" || { echo "run.sh: bad --enterprises '$ENTERPRISES'" >&2; exit 2; }
is_pos_int "$THREADS" || { echo "run.sh: bad --threads '$THREADS'" >&2; exit 2; }
[[ "$PROGRESS_S" =~ ^[0-9]+$ ]] || { echo "run.sh: bad --progress-s '$PROGRESS_S'" >&2; exit 2; }
[ -n "$CONCURRENCY" ] && [ -n "$DISTRIBUTION" ] || { echo "run.sh: nothing to run" >&2; exit 2; }
command -v python3 >/dev/null || { echo "run.sh: python3 is needed (percentiles, JSON)" >&2; exit 2; }
if [ -n "$JSON_OUT" ]; then
    # resolve now: we cd into the temp directory later
    JSON_OUT="$(cd "$(dirname "$JSON_OUT")" && pwd)/$(basename "$JSON_OUT")"
fi
if [ -n "$KEEP_DIR" ]; then mkdir -p "$KEEP_DIR"; KEEP_DIR="$(cd "$KEEP_DIR" && pwd)"; fi

log() { echo "[postgres-bench] $*" >&2; }
T_START=$(date +%s.%N)

# ---------------------------------------------------------------- PostgreSQL binaries
# find_pg_bin, pg_bench_settings and fstype are shared with ledger.sh
. "$HERE/lib.sh"

INSTALLED_BY_US=0
INSTALL_S=0
if ! PG_BIN="$(find_pg_bin)"; then
    [ "$(id -u)" -eq 0 ] || { echo "run.sh: PostgreSQL is not installed and we are not root to apt-get it" >&2; exit 1; }
    log "PostgreSQL not found; installing postgresql postgresql-contrib with apt-get"
    t0=$(date +%s.%N)
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q postgresql postgresql-contrib >&2
    INSTALL_S=$(python3 -c "print(round($(date +%s.%N) - $t0, 1))")
    INSTALLED_BY_US=1
    PG_BIN="$(find_pg_bin)" || { echo "run.sh: installed PostgreSQL but found no pgbench" >&2; exit 1; }
    log "installed in ${INSTALL_S}s"
    # Debian's package creates and (where services may start) starts a 'main' cluster. We
    # caused it, so stop it: it must not compete with the benchmark for CPU and disk.
    if command -v pg_lsclusters >/dev/null; then
        pg_lsclusters -h 2>/dev/null | while read -r ver name _port status _rest; do
            if [ "$status" = online ]; then
                log "stopping the cluster $ver/$name the package installation started"
                pg_ctlcluster "$ver" "$name" stop || true
            fi
        done
    fi
fi
PG_VERSION="$("$PG_BIN/postgres" --version)"
log "using $PG_VERSION ($PG_BIN)"

# ---------------------------------------------------------------- user, temp dir, port
AS=()
if [ "$(id -u)" -eq 0 ]; then
    if ! id "$RUN_USER" >/dev/null 2>&1; then
        log "creating system user $RUN_USER"
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$RUN_USER"
    fi
    AS=(runuser -u "$RUN_USER" --)
fi

case "$(fstype "$TMP_PARENT")" in
    tmpfs|ramfs)
        log "$TMP_PARENT is $(fstype "$TMP_PARENT"): fsync would be free there; using /var/tmp"
        TMP_PARENT=/var/tmp ;;
esac
case "$(fstype "$TMP_PARENT")" in
    tmpfs|ramfs) echo "run.sh: $TMP_PARENT is in memory; give --tmp DIR on a real disk" >&2; exit 1 ;;
esac

WORK="$(mktemp -d "$TMP_PARENT/voucher-pgbench.XXXXXX")"
PGDATA_DIR="$WORK/data"
SERVER_STARTED=0
PGBENCH_PID=""

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$PGBENCH_PID" ] && kill -0 "$PGBENCH_PID" 2>/dev/null; then
        kill -TERM "$PGBENCH_PID" 2>/dev/null || true   # runuser passes it on to pgbench
    fi
    if [ "$SERVER_STARTED" = 1 ] && [ -f "$PGDATA_DIR/postmaster.pid" ]; then
        log "stopping PostgreSQL"
        if ! "${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 60 stop >/dev/null 2>&1; then
            "${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
        fi
        if [ -f "$PGDATA_DIR/postmaster.pid" ]; then
            local pid; pid="$(head -1 "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true)"
            if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; sleep 1; fi
        fi
    fi
    if [ -n "$KEEP_DIR" ] && [ -f "$WORK/server.log" ]; then cp "$WORK/server.log" "$KEEP_DIR/" 2>/dev/null || true; fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

chmod 700 "$WORK"
[ ${#AS[@]} -eq 0 ] || chown "$RUN_USER:" "$WORK"
cp "$HERE/redeem_uniform.pgbench" "$HERE/redeem_hot.pgbench" "$WORK/"
[ ${#AS[@]} -eq 0 ] || chown "$RUN_USER:" "$WORK"/*.pgbench
cd "$WORK"   # pgbench writes its transaction logs here; the run user can enter it

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

# ---------------------------------------------------------------- cluster
log "initdb in $PGDATA_DIR ($(fstype "$WORK") filesystem), port $PORT"
"${AS[@]}" "$PG_BIN/initdb" -D "$PGDATA_DIR" -U "$DB_USER" --auth=trust -E UTF8 --locale=C.UTF-8 \
    --no-instructions >"$WORK/initdb.log" 2>&1 || { cat "$WORK/initdb.log" >&2; exit 1; }
pg_bench_settings "$PORT" "$WORK" >>"$PGDATA_DIR/postgresql.conf"

"${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$WORK/server.log" -w -t 60 start >/dev/null \
    || { tail -30 "$WORK/server.log" >&2; exit 1; }
SERVER_STARTED=1

PSQL=("${AS[@]}" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U "$DB_USER")
"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB_NAME" >/dev/null
"${PSQL[@]}" -d "$DB_NAME" <"$HERE/schema.sql"
log "settings: $("${PSQL[@]}" -d "$DB_NAME" -At -c "SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync','synchronous_commit','full_page_writes','wal_sync_method','shared_buffers','max_connections','commit_delay','wal_buffers','max_wal_size','checkpoint_timeout','track_wal_io_timing')")"

# ---------------------------------------------------------------- runs
RESULTS="$WORK/results.tsv"
: >"$RESULTS"
RUN_TAG="$(date +%s)"

for dist in $DISTRIBUTION; do
    for c in $CONCURRENCY; do
        name="${dist}_c${c}"
        log "run $name: reseeding $ENTERPRISES enterprises, checkpoint"
        "${PSQL[@]}" -d "$DB_NAME" -v enterprises="$ENTERPRISES" <"$HERE/seed.sql"
        "${PSQL[@]}" -d "$DB_NAME" -c "CHECKPOINT" -c "SELECT pg_stat_reset()" \
            -c "SELECT pg_stat_reset_shared('wal')" >/dev/null

        # Other work on the machine steals CPU and disk from the benchmark: say so.
        load="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)"
        if python3 -c "import sys; sys.exit(0 if float('$load') > $(nproc) else 1)"; then
            log "WARNING: load average $load before this run is above the $(nproc) CPUs; other processes are competing"
        fi
        j=$THREADS; [ "$j" -le "$c" ] || j=$c
        progress=(); [ "$PROGRESS_S" -eq 0 ] || progress=(--progress "$PROGRESS_S")
        log "run $name: pgbench -c $c -j $j -T $DURATION_S"
        set +e
        "${AS[@]}" "$PG_BIN/pgbench" -h 127.0.0.1 -p "$PORT" -U "$DB_USER" -n \
            --protocol=prepared -j "$j" -c "$c" -T "$DURATION_S" "${progress[@]}" -r \
            --log --log-prefix="$WORK/tx_$name" \
            -D enterprises="$ENTERPRISES" -D run="$RUN_TAG" -D n=0 \
            -f "$WORK/redeem_$dist.pgbench" "$DB_NAME" >"$WORK/pgbench_$name.out" \
            2> >(tee "$WORK/pgbench_$name.err" >&2) &
        PGBENCH_PID=$!   # in the background so that a signal to this script is handled at once
        wait "$PGBENCH_PID"
        prc=$?
        PGBENCH_PID=""
        set -e
        cat "$WORK/pgbench_$name.out" >&2
        if [ $prc -ne 0 ]; then
            log "pgbench exited $prc:"; tail -20 "$WORK/pgbench_$name.err" >&2
            # pgbench exits 2 when some transactions failed but the run completed; keep those numbers
            grep -q '^tps = ' "$WORK/pgbench_$name.out" || exit 1
        fi

        # pgbench has disconnected; wait for its backends to exit (they flush their statistics)
        for _ in $(seq 1 50); do
            left="$("${PSQL[@]}" -d "$DB_NAME" -At -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")"
            [ "$left" = 0 ] && break
            sleep 0.1
        done
        # Every lookup in redeem() should go through an index; a sequential scan of the growing
        # redemptions table would make PostgreSQL look slower than it is (see seed.sql).
        seqscans="$("${PSQL[@]}" -d "$DB_NAME" -At -c "SELECT coalesce(sum(seq_scan), 0) FROM pg_stat_user_tables WHERE relname IN ('redemptions', 'cap_accounts', 'vouchers')")"
        [ "$seqscans" = 0 ] || log "WARNING: run $name: $seqscans sequential scans of the benchmark tables (a bad plan?)"
        # WAL flushes (fdatasync) during the run and their average time: how much group commit
        # batched, and how fast this disk makes a commit durable.
        read -r wal_syncs wal_sync_ms <<<"$("${PSQL[@]}" -d "$DB_NAME" -At -F ' ' -c "SELECT wal_sync, round((wal_sync_time / greatest(wal_sync, 1))::numeric, 3) FROM pg_stat_wal")"

        # What the database holds after the run: the redemptions committed, and whether the
        # totals agree with them (they must: every redemption updated both in one transaction).
        read -r inserted consistent <<<"$("${PSQL[@]}" -d "$DB_NAME" -At -F ' ' -c "
            SELECT (SELECT count(*) FROM redemptions),
                   (SELECT coalesce(sum(subsidy), 0) FROM redemptions)
                     = (SELECT sum(redeemed) FROM cap_accounts)
               AND (SELECT coalesce(sum(subsidy), 0) FROM redemptions)
                     = (SELECT sum(redeemed) FROM vouchers)")"
        [ "$consistent" = t ] || { log "run $name: totals disagree with the redemptions table"; exit 1; }

        python3 - "$WORK/pgbench_$name.out" "$inserted" "$dist" "$c" "$wal_syncs" "$wal_sync_ms" \
            "$WORK"/tx_"$name".* >>"$RESULTS" <<'PY'
import math, re, sys
out, inserted, dist, c = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
wal_syncs, wal_sync_ms = int(sys.argv[5]), float(sys.argv[6])
text = open(out).read()
def num(pattern, default=None):
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else default
processed = int(num(r'^number of transactions actually processed: (\d+)', 0))
failed = int(num(r'^number of failed transactions: (\d+)', 0))
tps = num(r'^tps = ([0-9.]+) \(without initial connection time\)')
avg = num(r'^latency average = ([0-9.]+) ms')
lat = []
for path in sys.argv[7:]:
    with open(path) as f:
        for line in f:
            parts = line.split()
            # client_id transaction_no time script_no time_epoch time_us [...]; time is
            # "failed" or "skipped" for transactions that did not complete
            if len(parts) >= 3 and parts[2].isdigit():
                lat.append(int(parts[2]))
lat.sort()
def pct(p):  # nearest rank
    if not lat:
        return float('nan')
    return lat[max(0, math.ceil(p / 100 * len(lat)) - 1)] / 1000.0
# A transaction pgbench counts but that left no redemption was refused by redeem() (a status,
# not an error to pgbench). pgbench may stop the clock just before a last commit is counted,
# so the table can hold a few more rows than pgbench counted; that is not a refusal.
refused = max(0, processed - inserted)
ok = processed - refused
errors = refused + failed
throughput = tps * ok / processed if processed else 0.0
print('\t'.join(str(x) for x in (
    dist, c, f'{throughput:.1f}', f'{avg:.3f}', f'{pct(50):.3f}', f'{pct(99):.3f}',
    f'{pct(100):.3f}', ok, errors, processed, inserted, len(lat), wal_syncs,
    f'{processed / wal_syncs if wal_syncs else 0:.1f}', f'{wal_sync_ms:.3f}')))
PY
        log "run $name: load average after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
        tail -1 "$RESULTS" | awk -F'\t' '{printf "[postgres-bench] run %s c=%s: %s redemptions/s, avg %s ms, p50 %s ms, p99 %s ms, max %s ms, ok %s, errors %s (pgbench %s, table %s, logged %s); %s WAL fdatasyncs, %s commits each, %s ms each\n", $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15}' >&2
        if [ -n "$KEEP_DIR" ]; then
            cp "$WORK/pgbench_$name.out" "$WORK/pgbench_$name.err" "$KEEP_DIR/"
            cp "$WORK"/tx_"$name".* "$KEEP_DIR/"
        fi
        rm -f "$WORK"/tx_"$name".*
    done
done

# ---------------------------------------------------------------- report
T_TOTAL=$(python3 -c "print(round($(date +%s.%N) - $T_START, 1))")
echo
echo "PostgreSQL redeem() via pgbench: $PG_VERSION, fsync=on, synchronous_commit=on, $ENTERPRISES enterprises, ${DURATION_S}s per run, $(nproc) CPUs"
printf '%-8s %6s %14s %9s %9s %9s %9s %9s %7s %14s %9s\n' distribution clients "redemptions/s" "avg ms" "p50 ms" "p99 ms" "max ms" ok errors "commits/fsync" "ms/fsync"
while IFS=$'\t' read -r d c tp avg p50 p99 pmax ok err _processed _inserted _logged _syncs per_sync sync_ms; do
    printf '%-12s %2s %14s %9s %9s %9s %9s %9s %7s %14s %9s\n' "$d" "$c" "$tp" "$avg" "$p50" "$p99" "$pmax" "$ok" "$err" "$per_sync" "$sync_ms"
done <"$RESULTS"
echo "total ${T_TOTAL}s$( [ "$INSTALLED_BY_US" = 1 ] && echo " (of which installing PostgreSQL ${INSTALL_S}s)")"

if [ -n "$JSON_OUT" ]; then
    python3 - "$RESULTS" >"$JSON_OUT" <<'PY'
import json, sys
rows = []
for line in open(sys.argv[1]):
    d, c, tp, avg, p50, p99, pmax, ok, err = line.rstrip('\n').split('\t')[:9]
    rows.append({"system": "postgresql", "distribution": d, "concurrency": int(c),
                 "throughput_per_s": float(tp), "p50_ms": float(p50), "p99_ms": float(p99),
                 "ok": int(ok), "errors": int(err)})
json.dump(rows, sys.stdout, indent=2)
print()
PY
    log "wrote $JSON_OUT"
fi
