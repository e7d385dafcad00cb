//! voucherd: the voucher ledger server. `voucherd --help` for its flags.
//!
//! Configuration comes from defaults, `--config FILE`, `VOUCHER_*` variables and flags, in that
//! order (see `deploy/voucherd.example.toml`).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::Parser;
use serde::Serialize;
use voucher_ledger::config::{Config, LogFormat};
use voucher_ledger::daemon;
use voucher_ledger::domain::dates::parse_date;

/// The Qidong voucher ledger (启东市 算力券 / 租赁券) gRPC server.
///
/// Without a subcommand it serves. `voucherd verify` checks a stopped ledger; `voucherd
/// restore` rebuilds a data directory from a backup made with `voucherctl backup`.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Arguments {
    #[command(subcommand)]
    offline: Option<Offline>,
    /// A TOML configuration file (see deploy/voucherd.example.toml).
    #[arg(long, env = "VOUCHER_CONFIG")]
    config: Option<PathBuf>,
    /// Print the configuration in force and exit: 0 if valid, 2 if not.
    #[arg(long)]
    check_config: bool,
    #[command(flatten)]
    flags: Flags,
}

/// Every configuration key as a flag; a flag given overrides the file and the environment.
#[derive(clap::Args, Debug, Default, Serialize)]
struct Flags {
    /// Address to serve gRPC on. Port 0 picks a free port (printed at start).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<SocketAddr>,
    /// Where the ledger keeps its data (created if missing).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<PathBuf>,
    /// The ledger in PostgreSQL instead of sled under --data-dir:
    /// postgres://USER@HOST:PORT/DB (the bureau token is still written to --data-dir).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    store: Option<String>,
    /// With --store: the gRPC address clients reach this voucherd at (host:port), named by the
    /// standbys to a client whose write they refuse; default: the bound --listen address.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    advertise_address: Option<String>,
    /// A policy file (TOML) to use instead of the compiled-in 启政办规〔2026〕1号 rules.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<PathBuf>,
    /// Pin the date the rules see (YYYY-MM-DD), for tests and drills. Logged loudly.
    #[arg(long, value_parser = parse_today)]
    #[serde(skip_serializing_if = "Option::is_none")]
    today: Option<NaiveDate>,
    /// Requests handled at once across all connections; past it, RESOURCE_EXHAUSTED at once.
    #[arg(long, alias = "max-concurrent-requests")]
    #[serde(skip_serializing_if = "Option::is_none")]
    concurrent_requests_max: Option<usize>,
    /// Requests one connection may have in flight.
    #[arg(long, alias = "max-concurrent-requests-per-connection")]
    #[serde(skip_serializing_if = "Option::is_none")]
    concurrent_requests_per_connection_max: Option<usize>,
    /// The largest request message, in bytes.
    #[arg(long, alias = "max-message-bytes")]
    #[serde(skip_serializing_if = "Option::is_none")]
    message_bytes_max: Option<usize>,
    /// gRPC connections open at once (default 4096).
    #[arg(long, alias = "max-connections")]
    #[serde(skip_serializing_if = "Option::is_none")]
    connections_max: Option<usize>,
    /// Commands waiting for the writer.
    #[arg(long, alias = "queue-capacity")]
    #[serde(skip_serializing_if = "Option::is_none")]
    queue_commands_max: Option<usize>,
    /// Commands in one durable batch.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    batch_commands_max: Option<usize>,
    /// The size of a write-ahead log segment, in KiB.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    wal_segment_kib: Option<u64>,
    /// Milliseconds between checkpoints.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    checkpoint_interval_ms: Option<u64>,
    /// Seconds requests in flight get after SIGTERM.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    shutdown_grace_s: Option<u64>,
    /// PEM server certificate; with --tls-key the listener speaks TLS only.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_key: Option<PathBuf>,
    /// PEM CA of accepted client certificates (mTLS).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_client_ca: Option<PathBuf>,
    /// Refuse TLS clients without a certificate from --tls-client-ca.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_require_client_cert: Option<bool>,
    /// Address of the Prometheus /metrics listener.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics_listen: Option<SocketAddr>,
    /// Port of the web console (HTTP); off unless set.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    web_port: Option<u16>,
    /// Address the web console binds (default 127.0.0.1).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    web_address: Option<std::net::IpAddr>,
    /// Minutes a console sign-in lasts (default 480).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    web_session_minutes: Option<u64>,
    /// Mark the console's session cookie Secure (behind a TLS proxy).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    web_cookie_secure: Option<bool>,
    /// Accept gRPC without TLS, or the console, on an address other machines can reach
    /// (warned at every start).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_plaintext: Option<bool>,
    /// auto (text on a terminal, JSON otherwise), text or json.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    log_format: Option<LogFormat>,
    /// A tracing filter such as info or voucher_ledger=debug.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    log_level: Option<String>,
}

#[derive(clap::Subcommand, Debug)]
enum Offline {
    /// Replay the log of a stopped ledger from nothing and check every stored record against
    /// the replay. Exit 0 when sound, 1 on any problem (naming the first bad event), 2 when it
    /// cannot run.
    Verify {
        #[arg(long, default_value = "./voucher-data")]
        data_dir: PathBuf,
        /// The ledger in PostgreSQL (postgres://USER@HOST:PORT/DB) instead of --data-dir.
        #[arg(long)]
        store: Option<String>,
        /// The policy file the ledger runs with, if not the compiled-in one.
        #[arg(long)]
        policy: Option<PathBuf>,
    },
    /// Rebuild a new data directory, or an empty PostgreSQL database, from a backup file,
    /// then verify it.
    Restore {
        /// A file written by `voucherctl backup`.
        file: PathBuf,
        /// Where to put the restored ledger; must not hold one already.
        #[arg(long, required_unless_present = "store")]
        data_dir: Option<PathBuf>,
        /// An empty PostgreSQL database to restore into (postgres://USER@HOST:PORT/DB).
        #[arg(long, conflicts_with = "data_dir")]
        store: Option<String>,
        #[arg(long)]
        policy: Option<PathBuf>,
    },
}

fn parse_today(text: &str) -> Result<NaiveDate, String> {
    parse_date(text).map_err(|error| error.message)
}

fn main() -> ExitCode {
    voucher_ledger::private_files::make_new_files_private();
    let arguments = Arguments::parse();
    if let Some(offline) = arguments.offline {
        return run_offline(offline);
    }
    let mut config = match Config::load(arguments.config.as_deref(), &arguments.flags) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("voucherd: {error}");
            return ExitCode::from(2);
        }
    };
    config.renamed_keys_used.extend(renamed_flags_given());
    if arguments.check_config {
        for (old, new) in &config.renamed_keys_used {
            eprintln!("voucherd: `{old}` is now called `{new}`; the old name still works");
        }
        if let Err(error) = daemon::check_store(&config) {
            eprintln!("voucherd: key `store`: {error}");
            return ExitCode::from(2);
        }
        print!("{}", config.to_toml());
        return ExitCode::SUCCESS;
    }
    init_logging(&config);
    for (old, new) in &config.renamed_keys_used {
        tracing::warn!(
            old,
            new,
            "a renamed configuration key: `{old}` is now `{new}`; the old name still works"
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("voucherd: cannot start the async runtime: {error}");
            return ExitCode::from(70);
        }
    };
    match runtime.block_on(daemon::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "voucherd stopped with an error");
            eprintln!("voucherd: {error}");
            ExitCode::from(1)
        }
    }
}

/// `voucherd verify` and `voucherd restore`, on a data directory or a database.
fn run_offline(offline: Offline) -> ExitCode {
    match offline {
        Offline::Verify {
            data_dir,
            store,
            policy,
        } => {
            let ledger = match &store {
                Some(url) => daemon::LedgerAt::Postgres(url),
                None => daemon::LedgerAt::Directory(&data_dir),
            };
            verify(ledger, policy.as_deref())
        }
        Offline::Restore {
            file,
            data_dir,
            store,
            policy,
        } => {
            let ledger = match (&store, &data_dir) {
                (Some(url), _) => daemon::LedgerAt::Postgres(url),
                (None, Some(data_dir)) => daemon::LedgerAt::Directory(data_dir),
                (None, None) => {
                    eprintln!("voucherd restore: give --data-dir or --store");
                    return ExitCode::from(2);
                }
            };
            restore(&file, ledger, policy.as_deref())
        }
    }
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let on_terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let json = match config.log_format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !on_terminal,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(on_terminal);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

fn verify(ledger: daemon::LedgerAt<'_>, policy: Option<&Path>) -> ExitCode {
    match daemon::verify_offline(ledger, policy) {
        Ok(report) => {
            print!("{}", report.render());
            if report.is_sound() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(error) => {
            eprintln!("voucherd verify: {error}");
            ExitCode::from(2)
        }
    }
}

fn restore(file: &Path, ledger: daemon::LedgerAt<'_>, policy: Option<&Path>) -> ExitCode {
    match daemon::restore_offline(file, ledger, policy) {
        Ok((summary, report)) => {
            println!("restored {} events into {ledger}", summary.events);
            println!("backup file sha256: {}", summary.file_sha256);
            print!("{}", report.render());
            if report.is_sound() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(error) => {
            eprintln!("voucherd restore: {error}");
            ExitCode::from(2)
        }
    }
}

/// The renamed keys given as flags under their old names (`--max-connections`), which clap
/// takes as aliases of the new ones.
fn renamed_flags_given() -> Vec<(&'static str, &'static str)> {
    let given: Vec<String> = std::env::args().collect();
    voucher_ledger::config::RENAMED_KEYS
        .iter()
        .filter(|(old, _)| {
            let flag = format!("--{}", old.replace('_', "-"));
            given
                .iter()
                .any(|argument| *argument == flag || argument.starts_with(&format!("{flag}=")))
        })
        .copied()
        .collect()
}
