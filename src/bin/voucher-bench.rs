//! voucher-bench: a gRPC load generator for voucherd, using the generated client.
//!
//! It sets up what the workload needs (enterprises, a provider, a voucher per enterprise), then
//! runs `--concurrency` callers for `--duration-s` seconds (or `--count` requests) and prints
//! throughput, latency percentiles (HdrHistogram) and a count of every status code.
//! Without `--addr` it starts its own voucherd on a temporary data directory and reports that
//! server's memory and disk use too.
//!
//! ```text
//! voucher-bench --concurrency 64 --duration-s 10 --enterprises 1000 --distribution uniform --workload redeem
//! voucher-bench --addr 127.0.0.1:50051 --token-file voucher-data/bureau.token --workload noop --json
//! ```

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use tonic::Status;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use voucher_ledger::domain::credit_code::CreditCode;
use voucher_ledger::proto::google::r#type::Money;
use voucher_ledger::proto::voucher::v1 as pb;
use voucher_ledger::proto::voucher::v1::voucher_ledger_client::VoucherLedgerClient;
use voucher_ledger::wire::BearerToken;

/// Load generator for the voucher ledger. Every run is bounded by --duration-s or --count.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Arguments {
    /// The voucherd to load, HOST:PORT. Without it, voucher-bench starts its own.
    #[arg(long)]
    addr: Option<String>,
    /// A bureau token (needed for set-up). Default: the started server's, or ./voucher-data/bureau.token.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Callers running at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    concurrency: u32,
    /// How long to measure, after the warm-up.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    duration_s: u64,
    /// Stop after this many measured requests instead (still bounded by --duration-s).
    #[arg(long)]
    count: Option<u64>,
    /// Enterprises to spread the load over.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    enterprises: u32,
    #[arg(long, value_enum, default_value_t = Distribution::Uniform)]
    distribution: Distribution,
    #[arg(long, value_enum, default_value_t = Workload::Redeem)]
    workload: Workload,
    /// HTTP/2 connections the callers share.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    connections: u32,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 1)]
    warmup_s: u64,
    /// The voucherd binary to start when --addr is not given. Default: beside this one.
    #[arg(long)]
    voucherd: Option<PathBuf>,
    /// The store the started voucherd keeps its ledger in (its --store), such as
    /// postgres://USER@HOST:PORT/DB; default: its temporary data directory (sled).
    #[arg(long)]
    store: Option<String>,
    /// The date the started voucherd's rules see (its --today).
    #[arg(long, default_value = "2027-06-15")]
    server_today: String,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Exit 1 if any request failed or none succeeded (for smoke runs in CI).
    #[arg(long)]
    fail_on_errors: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Distribution {
    /// Every request picks an enterprise at random.
    Uniform,
    /// Every request goes to the first enterprise: one cap for everybody to contend for.
    Hot,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Workload {
    /// Durable redemptions.
    Redeem,
    /// GetBalance reads.
    Balance,
    /// 90% redeem, 10% balance.
    Mixed,
    /// The gRPC health check: the ceiling of gRPC on this machine.
    Noop,
}

type Client = VoucherLedgerClient<InterceptedService<Channel, BearerToken>>;

/// A voucherd this run started, stopped when dropped.
struct OwnServer {
    child: Child,
    data: tempfile::TempDir,
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the callers need: who redeems, who reads, and a voucher per enterprise.
struct Fixture {
    provider: BearerToken,
    reader: BearerToken,
    vouchers: Vec<pb::Voucher>,
}

/// What one caller saw.
struct Tally {
    latency_us: Histogram<u64>,
    codes: BTreeMap<String, u64>,
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&format!("cannot start the async runtime: {error}")),
    };
    match runtime.block_on(run(arguments)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("voucher-bench: {message}");
    ExitCode::from(1)
}

async fn run(arguments: Arguments) -> Result<(), String> {
    let (address, token_file, own_server) = target(&arguments)?;
    let bureau_token = read_token(&token_file)?;
    let channels = connect(&address, arguments.connections).await?;
    let fixture = set_up(&channels[0], &bureau_token, &arguments).await?;
    let started = Instant::now();
    let tallies = load(&channels, &fixture, &arguments).await;
    let measured = started
        .elapsed()
        .saturating_sub(Duration::from_secs(arguments.warmup_s));
    let report = Report::new(&arguments, tallies, measured, own_server.as_ref());
    let text = if arguments.json {
        report.to_json()
    } else {
        report.to_table()
    };
    // A closed pipe (`| head`) is not worth a panic.
    let _ = writeln!(std::io::stdout(), "{text}");
    if arguments.fail_on_errors && (report.errors() > 0 || report.ok() == 0) {
        return Err(format!(
            "{} requests failed, {} succeeded",
            report.errors(),
            report.ok()
        ));
    }
    Ok(())
}

/// Where to send load, with which bureau token, and the server if this run started one.
fn target(arguments: &Arguments) -> Result<(String, PathBuf, Option<OwnServer>), String> {
    if let Some(address) = &arguments.addr {
        let token_file = arguments
            .token_file
            .clone()
            .unwrap_or_else(|| PathBuf::from("voucher-data/bureau.token"));
        return Ok((address.clone(), token_file, None));
    }
    let (server, address) = start_own_server(arguments)?;
    let token_file = arguments
        .token_file
        .clone()
        .unwrap_or_else(|| server.data.path().join("data/bureau.token"));
    Ok((address, token_file, Some(server)))
}

/// Starts voucherd on a temporary data directory; returns it and the address it serves on.
fn start_own_server(arguments: &Arguments) -> Result<(OwnServer, String), String> {
    let binary = match &arguments.voucherd {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .map_err(|error| error.to_string())?
            .with_file_name("voucherd"),
    };
    let data =
        tempfile::tempdir().map_err(|error| format!("cannot make a data directory: {error}"))?;
    let mut child = Command::new(&binary)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--today",
            &arguments.server_today,
            "--data-dir",
        ])
        .arg(data.path().join("data"))
        .args(
            arguments
                .store
                .iter()
                .flat_map(|store| ["--store", store.as_str()]),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("cannot start {}: {error}", binary.display()))?;
    let stdout = child.stdout.take().ok_or("voucherd has no stdout")?;
    let server = OwnServer { child, data };
    let line = BufReader::new(stdout)
        .lines()
        .next()
        .and_then(Result::ok)
        .ok_or("voucherd did not start")?;
    let address = line
        .strip_prefix("voucherd listening on ")
        .ok_or_else(|| format!("unexpected line from voucherd: {line}"))?;
    Ok((server, address.to_owned()))
}

fn read_token(path: &Path) -> Result<BearerToken, String> {
    let secret = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read the bureau token {}: {error}", path.display()))?;
    bearer(secret.trim())
}

fn bearer(secret: &str) -> Result<BearerToken, String> {
    BearerToken::new(secret).map_err(|error| error.to_string())
}

/// How long one call may take before it counts as failed.
const CALL_DEADLINE: Duration = Duration::from_secs(30);

async fn connect(address: &str, connections: u32) -> Result<Vec<Channel>, String> {
    let uri = if address.contains("://") {
        address.to_owned()
    } else {
        format!("http://{address}")
    };
    let mut channels = Vec::new();
    for _ in 0..connections {
        let endpoint =
            Channel::from_shared(uri.clone()).map_err(|error| format!("{address}: {error}"))?;
        let channel = endpoint
            .connect_timeout(Duration::from_secs(5))
            // A call that gets no answer counts as an error instead of stalling the run.
            .timeout(CALL_DEADLINE)
            .tcp_nodelay(true)
            .connect()
            .await
            .map_err(|error| format!("cannot connect to {uri}: {error}"))?;
        channels.push(channel);
    }
    Ok(channels)
}

fn client(channel: &Channel, token: &BearerToken) -> Client {
    VoucherLedgerClient::with_interceptor(channel.clone(), token.clone())
}

/// Registers the enterprises and a provider, issues each enterprise a voucher (idempotent, so
/// a second run against the same server reuses them) and makes a provider token.
async fn set_up(
    channel: &Channel,
    bureau_token: &BearerToken,
    arguments: &Arguments,
) -> Result<Fixture, String> {
    let bureau = client(channel, bureau_token);
    let needs_vouchers = arguments.workload != Workload::Noop;
    let count = if needs_vouchers {
        arguments.enterprises
    } else {
        0
    };
    let provider_code = credit_code(0, "91320681");
    let mut setup = bureau.clone();
    setup
        .register_provider(pb::RegisterProviderRequest {
            credit_code: provider_code.clone(),
            name: "bench compute provider".into(),
            program: pb::Program::Compute as i32,
            ..Default::default()
        })
        .await
        .map_err(|status| format!("register provider: {status}"))?;
    let token = setup
        .create_token(pb::CreateTokenRequest {
            role: pb::Role::Provider as i32,
            provider_credit_code: provider_code,
            description: "voucher-bench".into(),
            ..Default::default()
        })
        .await
        .map_err(|status| format!("create token: {status}"))?
        .into_inner()
        .token;
    let vouchers = issue_vouchers(&bureau, count).await?;
    Ok(Fixture {
        provider: bearer(&token)?,
        reader: bureau_token.clone(),
        vouchers,
    })
}

/// Registers `count` enterprises and issues each a voucher, 64 at a time.
async fn issue_vouchers(bureau: &Client, count: u32) -> Result<Vec<pb::Voucher>, String> {
    const IN_FLIGHT_MAX: usize = 64;
    let mut vouchers = Vec::with_capacity(count as usize);
    let indexes: Vec<u32> = (1..=count).collect();
    for chunk in indexes.chunks(IN_FLIGHT_MAX) {
        let mut tasks = tokio::task::JoinSet::new();
        for &index in chunk {
            let mut bureau = bureau.clone();
            let code = credit_code(index, "91320682");
            tasks.spawn(async move {
                let register = pb::RegisterEnterpriseRequest {
                    credit_code: code.clone(),
                    name: format!("bench enterprise {index}"),
                    ..Default::default()
                };
                bureau.register_enterprise(register).await?;
                let issue = pb::IssueVoucherRequest {
                    request_id: format!("bench-{code}"),
                    enterprise_credit_code: code,
                    program: pb::Program::Compute as i32,
                    ..Default::default()
                };
                Ok::<_, Status>(bureau.issue_voucher(issue).await?.into_inner())
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let voucher = joined
                .map_err(|error| error.to_string())?
                .map_err(|status| format!("set-up: {status}"))?;
            vouchers.push(voucher);
        }
    }
    vouchers.sort_by(|a, b| a.voucher_id.cmp(&b.voucher_id));
    Ok(vouchers)
}

/// The `index`th synthetic credit code under `prefix` (8 characters), with a valid check digit.
fn credit_code(index: u32, prefix: &str) -> String {
    "0123456789ABCDEFGHJKLMNPQRTUWXY"
        .chars()
        .map(|check| format!("{prefix}{index:09}{check}"))
        .find(|candidate| {
            CreditCode::parse(candidate).is_ok_and(|code| code.has_valid_check_digit())
        })
        .expect("one check digit fits")
}

/// Runs the callers and returns what each saw.
async fn load(channels: &[Channel], fixture: &Fixture, arguments: &Arguments) -> Vec<Tally> {
    let started = Instant::now();
    let warmup_ends = started + Duration::from_secs(arguments.warmup_s);
    let deadline = warmup_ends + Duration::from_secs(arguments.duration_s);
    let remaining = Arc::new(AtomicU64::new(arguments.count.unwrap_or(u64::MAX)));
    // Invoice numbers must not repeat across runs against the same server: start each run's
    // numbers from the clock (microseconds, modulo a million).
    let run_tag = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_micros() as u64 % 1_000_000);
    let mut tasks = tokio::task::JoinSet::new();
    for caller in 0..arguments.concurrency {
        let channel = &channels[caller as usize % channels.len()];
        let caller_state = Caller {
            provider: client(channel, &fixture.provider),
            reader: client(channel, &fixture.reader),
            health: tonic_health::pb::health_client::HealthClient::new(channel.clone()),
            vouchers: fixture.vouchers.clone(),
            workload: arguments.workload,
            distribution: arguments.distribution,
            invoice_prefix: run_tag * 10_000 + u64::from(caller),
            sequence: 0,
            random: u64::from(caller).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        };
        let remaining = remaining.clone();
        tasks.spawn(caller_state.run(warmup_ends, deadline, remaining));
    }
    let mut tallies = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(tally) = joined {
            tallies.push(tally);
        }
    }
    tallies
}

struct Caller {
    provider: Client,
    reader: Client,
    health: tonic_health::pb::health_client::HealthClient<Channel>,
    vouchers: Vec<pb::Voucher>,
    workload: Workload,
    distribution: Distribution,
    invoice_prefix: u64,
    sequence: u64,
    random: u64,
}

impl Caller {
    async fn run(
        mut self,
        warmup_ends: Instant,
        deadline: Instant,
        remaining: Arc<AtomicU64>,
    ) -> Tally {
        let mut tally = Tally {
            latency_us: Histogram::new(3).expect("3 significant figures is valid"),
            codes: BTreeMap::new(),
        };
        loop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let measuring = now >= warmup_ends;
            if measuring
                && remaining
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                        left.checked_sub(1)
                    })
                    .is_err()
            {
                break;
            }
            let sent = Instant::now();
            let code = self.one_request().await;
            if measuring {
                let latency_us = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                // `record` grows the histogram; `saturating_record` would clip at its first range.
                if tally.latency_us.record(latency_us.max(1)).is_err() {
                    tally.latency_us.saturating_record(latency_us);
                }
                *tally.codes.entry(code).or_insert(0) += 1;
            }
        }
        tally
    }

    /// One request of the workload; returns the gRPC code's name.
    async fn one_request(&mut self) -> String {
        let reads_this_time =
            self.workload == Workload::Mixed && self.next_random().is_multiple_of(10);
        let result = match self.workload {
            Workload::Noop => self
                .health
                .check(tonic_health::pb::HealthCheckRequest::default())
                .await
                .map(drop),
            Workload::Balance => self.balance().await,
            Workload::Mixed if reads_this_time => self.balance().await,
            Workload::Redeem | Workload::Mixed => self.redeem().await,
        };
        match result {
            Ok(()) => "OK".to_owned(),
            Err(status) => format!("{:?}", status.code()),
        }
    }

    fn pick_voucher(&mut self) -> pb::Voucher {
        let index = match self.distribution {
            Distribution::Hot => 0,
            Distribution::Uniform => (self.next_random() % self.vouchers.len() as u64) as usize,
        };
        self.vouchers[index].clone()
    }

    async fn redeem(&mut self) -> Result<(), Status> {
        let voucher = self.pick_voucher();
        self.sequence += 1;
        // 0.02 yuan earns 0.01: a voucher of 2,000,000.00 lasts 200 million redemptions.
        let request = pb::RedeemRequest {
            invoice_number: format!("{:010}{:010}", self.invoice_prefix, self.sequence),
            invoice_date: voucher.valid_from.clone(),
            invoice_amount: Some(Money {
                currency_code: "CNY".into(),
                units: 0,
                nanos: 20_000_000,
            }),
            enterprise_credit_code: voucher.enterprise_credit_code,
            voucher_id: voucher.voucher_id,
            ..Default::default()
        };
        self.provider.redeem(request).await.map(drop)
    }

    async fn balance(&mut self) -> Result<(), Status> {
        let voucher = self.pick_voucher();
        let request = pb::GetBalanceRequest {
            enterprise_credit_code: voucher.enterprise_credit_code,
            program: pb::Program::Compute as i32,
            on_date: voucher.valid_from,
        };
        self.reader.get_balance(request).await.map(drop)
    }

    /// xorshift64*: enough randomness to spread load, no dependency.
    fn next_random(&mut self) -> u64 {
        self.random ^= self.random >> 12;
        self.random ^= self.random << 25;
        self.random ^= self.random >> 27;
        self.random.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The numbers of one run.
struct Report {
    workload: Workload,
    distribution: Distribution,
    concurrency: u32,
    enterprises: u32,
    measured_s: f64,
    latency_us: Histogram<u64>,
    codes: BTreeMap<String, u64>,
    server_rss_mib: Option<f64>,
    data_dir_bytes: Option<u64>,
}

impl Report {
    fn new(
        arguments: &Arguments,
        tallies: Vec<Tally>,
        measured: Duration,
        own_server: Option<&OwnServer>,
    ) -> Report {
        let mut latency_us = Histogram::<u64>::new(3).expect("valid");
        let mut codes = BTreeMap::new();
        for tally in tallies {
            let _ = latency_us.add(&tally.latency_us);
            for (code, count) in tally.codes {
                *codes.entry(code).or_insert(0) += count;
            }
        }
        Report {
            workload: arguments.workload,
            distribution: arguments.distribution,
            concurrency: arguments.concurrency,
            enterprises: arguments.enterprises,
            measured_s: measured.as_secs_f64().max(0.001),
            latency_us,
            codes,
            server_rss_mib: own_server.and_then(|server| resident_mib(server.child.id())),
            data_dir_bytes: own_server.map(|server| directory_bytes(server.data.path())),
        }
    }

    fn ok(&self) -> u64 {
        self.codes.get("OK").copied().unwrap_or(0)
    }

    fn errors(&self) -> u64 {
        self.codes
            .iter()
            .filter(|(code, _)| *code != "OK")
            .map(|(_, count)| count)
            .sum()
    }

    fn percentile_ms(&self, percentile: f64) -> f64 {
        self.latency_us.value_at_quantile(percentile / 100.0) as f64 / 1000.0
    }

    fn to_json(&self) -> String {
        serde_json::json!({
            "workload": format!("{:?}", self.workload).to_lowercase(),
            "distribution": format!("{:?}", self.distribution).to_lowercase(),
            "concurrency": self.concurrency,
            "enterprises": self.enterprises,
            "duration_s": self.measured_s,
            "throughput_per_s": self.ok() as f64 / self.measured_s,
            "p50_ms": self.percentile_ms(50.0),
            "p90_ms": self.percentile_ms(90.0),
            "p99_ms": self.percentile_ms(99.0),
            "p999_ms": self.percentile_ms(99.9),
            "max_ms": self.latency_us.max() as f64 / 1000.0,
            "ok": self.ok(),
            "errors": self.errors(),
            "codes": self.codes,
            "server_rss_mib": self.server_rss_mib,
            "data_dir_bytes": self.data_dir_bytes,
        })
        .to_string()
    }

    fn to_table(&self) -> String {
        let mut table = format!(
            "workload {:?}, distribution {:?}, concurrency {}, enterprises {}, {:.1} s measured\n\
             throughput  {:>10.0} ok/s\n\
             latency ms  p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}\n\
             ok {}  errors {}\n",
            self.workload,
            self.distribution,
            self.concurrency,
            self.enterprises,
            self.measured_s,
            self.ok() as f64 / self.measured_s,
            self.percentile_ms(50.0),
            self.percentile_ms(90.0),
            self.percentile_ms(99.0),
            self.percentile_ms(99.9),
            self.latency_us.max() as f64 / 1000.0,
            self.ok(),
            self.errors(),
        );
        for (code, count) in &self.codes {
            table.push_str(&format!("  {code:<20} {count}\n"));
        }
        if let (Some(rss), Some(bytes)) = (self.server_rss_mib, self.data_dir_bytes) {
            table.push_str(&format!(
                "server resident {rss:.1} MiB, data directory {:.1} MiB\n",
                bytes as f64 / 1_048_576.0
            ));
        }
        table
    }
}

/// The resident memory of a process, from /proc (Linux).
fn resident_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn directory_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(metadata) if metadata.is_dir() => directory_bytes(&entry.path()),
            Ok(metadata) => metadata.len(),
            Err(_) => 0,
        })
        .sum()
}
