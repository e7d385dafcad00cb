# Shared by bench/postgres/run.sh (PostgreSQL's own redeem()) and bench/postgres/ledger.sh (the
# ledger with --store postgres://…): where PostgreSQL's programs are, and the settings both
# throwaway clusters run with, so that the two rows of the table compare like with like.
# Source it; it defines functions only.

# Prints the directory holding pgbench and initdb (15 first, then the newest), or fails.
find_pg_bin() {
    local d
    if [ -x /usr/lib/postgresql/15/bin/pgbench ]; then echo /usr/lib/postgresql/15/bin; return 0; fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
        if [ -x "$d/pgbench" ] && [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
    done
    if command -v pg_config >/dev/null; then
        d="$(pg_config --bindir)"
        if [ -x "$d/pgbench" ] && [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
    fi
    return 1
}

# Prints the lines appended to postgresql.conf for port $1 and socket directory $2. Only these
# settings differ from the PostgreSQL defaults. fsync, synchronous_commit and full_page_writes
# are the defaults, written out so nobody wonders. Everything else (wal_sync_method=fdatasync,
# commit_delay=0, checkpoint_timeout=5min, max_wal_size=1GB, wal_buffers auto = 8MB with 256MB
# shared_buffers) is left alone.
pg_bench_settings() {
    cat <<CONF

# ---- bench/postgres/lib.sh
listen_addresses = '127.0.0.1'
port = $1
unix_socket_directories = '$2'
max_connections = 200
shared_buffers = 256MB
fsync = on
synchronous_commit = on
full_page_writes = on
# instrumentation only: times each WAL write and fdatasync for pg_stat_wal (about 50 ns a call)
track_wal_io_timing = on
CONF
}

# The filesystem type of $1 (tmpfs would make fsync free and the numbers meaningless).
fstype() { stat -f -c %T "$1" 2>/dev/null || echo unknown; }
