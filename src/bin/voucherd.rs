//! voucherd: the voucher ledger server. `voucherd --help` for its flags.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use voucher_ledger::api::ServeLimits;
use voucher_ledger::daemon::{self, DaemonOptions};
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
    /// Address to serve gRPC on. Port 0 picks a free port (printed at start).
    #[arg(long, env = "VOUCHER_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Where the ledger keeps its data (created if missing).
    #[arg(long, env = "VOUCHER_DATA_DIR", default_value = "./voucher-data")]
    data_dir: PathBuf,
    /// A policy file (TOML) to use instead of the compiled-in 启政办规〔2026〕1号 rules.
    #[arg(long, env = "VOUCHER_POLICY")]
    policy: Option<PathBuf>,
    /// Pin the date the rules see (YYYY-MM-DD), for tests and drills. Logged loudly.
    #[arg(long, env = "VOUCHER_TODAY", value_parser = parse_today)]
    today: Option<chrono::NaiveDate>,
    /// Requests handled at once across all connections; past it, RESOURCE_EXHAUSTED at once.
    #[arg(long, env = "VOUCHER_MAX_CONCURRENT_REQUESTS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=65536))]
    max_concurrent_requests: u32,
    /// Log format: text on a terminal, json for log collectors.
    #[arg(long, env = "VOUCHER_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
}

#[derive(clap::Subcommand, Debug)]
enum Offline {
    /// Replay the log of a stopped ledger from nothing and check every stored record against
    /// the replay. Exit 0 when sound, 1 on any problem (naming the first bad event), 2 when it
    /// cannot run.
    Verify {
        #[arg(long, default_value = "./voucher-data")]
        data_dir: PathBuf,
        /// The policy file the ledger runs with, if not the compiled-in one.
        #[arg(long)]
        policy: Option<PathBuf>,
    },
    /// Rebuild a new data directory from a backup file, then verify it.
    Restore {
        /// A file written by `voucherctl backup`.
        file: PathBuf,
        /// Where to put the restored ledger; must not hold one already.
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long)]
        policy: Option<PathBuf>,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum LogFormat {
    Text,
    Json,
}

fn parse_today(text: &str) -> Result<chrono::NaiveDate, String> {
    parse_date(text).map_err(|error| error.message)
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    init_logging(arguments.log_format);
    match arguments.offline {
        Some(Offline::Verify { data_dir, policy }) => return verify(&data_dir, policy.as_deref()),
        Some(Offline::Restore {
            file,
            data_dir,
            policy,
        }) => return restore(&file, &data_dir, policy.as_deref()),
        None => {}
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
    let options = DaemonOptions {
        listen: arguments.listen,
        data_dir: arguments.data_dir,
        policy_file: arguments.policy,
        today: arguments.today,
        limits: ServeLimits {
            concurrent_requests_max: arguments.max_concurrent_requests as usize,
            ..ServeLimits::default()
        },
    };
    match runtime.block_on(daemon::run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "voucherd stopped with an error");
            eprintln!("voucherd: {error}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let on_terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(on_terminal);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn verify(data_dir: &std::path::Path, policy: Option<&std::path::Path>) -> ExitCode {
    match daemon::verify_offline(data_dir, policy) {
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

fn restore(
    file: &std::path::Path,
    data_dir: &std::path::Path,
    policy: Option<&std::path::Path>,
) -> ExitCode {
    match daemon::restore_offline(file, data_dir, policy) {
        Ok((summary, report)) => {
            println!(
                "restored {} events into {}",
                summary.events,
                data_dir.display()
            );
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
