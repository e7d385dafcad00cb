//! The test harness: a real `voucherd` process on 127.0.0.1:0 with a real sled directory,
//! and a gRPC client that carries a bearer token. With `VOUCHER_TEST_STORE=postgres` every
//! server keeps its ledger in PostgreSQL instead: a database per data directory in one
//! throwaway cluster per test process (`postgres.rs`).
#![allow(dead_code)]

pub mod calls;
pub mod postgres;
pub mod tls;

pub use calls::*;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tonic::Status;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_types::StatusExt;
use voucher_ledger::domain::credit_code::CreditCode;
use voucher_ledger::proto::google::r#type::Money;
use voucher_ledger::proto::voucher::v1 as pb;
use voucher_ledger::proto::voucher::v1::voucher_ledger_client::VoucherLedgerClient;

pub type Client = VoucherLedgerClient<InterceptedService<Channel, BearerToken>>;

/// Credit codes with valid GB 32100 check digits, as on real business licences.
pub const ENTERPRISE: &str = "914403001922038216";
pub const OTHER_ENTERPRISE: &str = "91110108551385082Q";
pub const COMPUTE_PROVIDER: &str = "9144030071526726XG";
pub const ROBOT_LESSOR: &str = "91330100716105852F";

/// How long any one gRPC call a test makes may take: long enough for a verify of a busy
/// ledger on a loaded 2-core machine, short enough that a lost answer fails the test with a
/// name instead of hanging CI.
pub const CALL_DEADLINE: Duration = Duration::from_secs(60);

/// How long connecting may take (the server is on this machine).
pub const CONNECT_DEADLINE: Duration = Duration::from_secs(10);

/// How long voucherd may take to start, stop, or run one offline command (verify, restore).
pub const PROCESS_DEADLINE: Duration = Duration::from_secs(120);

/// The endpoint every test channel is built from: a deadline on connecting and on every
/// call, and HTTP/2 keepalive so that a peer that vanished without closing is noticed.
pub fn test_endpoint(address: &str) -> tonic::transport::Endpoint {
    tonic::transport::Endpoint::from_shared(address.to_owned())
        .expect("a valid address")
        .connect_timeout(CONNECT_DEADLINE)
        .timeout(CALL_DEADLINE)
        .http2_keep_alive_interval(Duration::from_secs(5))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true)
}

/// Awaits `future` for at most `deadline`; past it, fails the test saying what it waited for.
pub async fn within<T>(
    deadline: Duration,
    waiting_for: &str,
    future: impl std::future::Future<Output = T>,
) -> T {
    match tokio::time::timeout(deadline, future).await {
        Ok(value) => value,
        Err(_) => panic!("gave up after {deadline:?} waiting for {waiting_for}"),
    }
}

/// `Command::output` with a deadline: a child still running after [`PROCESS_DEADLINE`] is
/// killed and fails the test, naming the command.
pub trait OutputWithin {
    fn output_within_deadline(&mut self) -> std::io::Result<std::process::Output>;
}

impl OutputWithin for Command {
    fn output_within_deadline(&mut self) -> std::io::Result<std::process::Output> {
        output_within(self, PROCESS_DEADLINE)
    }
}

/// Runs a command to its end like `Command::output`, but kills it and fails the test, naming
/// it, when it runs past `deadline`.
pub fn output_within(
    command: &mut Command,
    deadline: Duration,
) -> std::io::Result<std::process::Output> {
    let described = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let Some(status) = wait_until(&mut child, deadline) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{described} did not finish within {deadline:?}; killed");
    };
    Ok(std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Reads a child's pipe to its end on a thread of its own, so a full pipe never stalls it.
fn drain(pipe: Option<impl std::io::Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// The child's exit status, or `None` if it is still running after `deadline`.
fn wait_until(child: &mut Child, deadline: Duration) -> Option<std::process::ExitStatus> {
    let give_up = std::time::Instant::now() + deadline;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        if std::time::Instant::now() >= give_up {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running voucherd. Dropping it kills the process; the data directory lives as long as
/// the [`DataDir`] it was started in.
pub struct TestServer {
    child: Child,
    pub address: SocketAddr,
    /// The web console's address, when started with `--web-port`.
    pub web_address: Option<SocketAddr>,
    data: Option<DataDir>,
    pub bureau_token: String,
}

/// A temporary data directory that outlives server restarts (or an existing one, borrowed).
pub struct DataDir {
    root: tempfile::TempDir,
    data: PathBuf,
}

impl DataDir {
    pub fn new() -> DataDir {
        let root = tempfile::tempdir().expect("temporary directory");
        let data = root.path().join("data");
        DataDir { root, data }
    }

    /// An existing data directory; the log goes to a temporary directory.
    pub fn existing(data: &Path) -> DataDir {
        let root = tempfile::tempdir().expect("temporary directory");
        DataDir {
            root,
            data: data.to_owned(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.data.clone()
    }

    pub fn log_path(&self) -> PathBuf {
        self.root.path().join("voucherd.log")
    }
}

impl TestServer {
    /// Starts voucherd on a new data directory with the rules' date pinned to `today`.
    pub async fn start(today: &str) -> TestServer {
        TestServer::start_in(DataDir::new(), today, &[]).await
    }

    /// Starts voucherd on `data` (e.g. after a restart), with extra flags.
    pub async fn start_in(data: DataDir, today: &str, extra_arguments: &[&str]) -> TestServer {
        let mut child = spawn_voucherd(&data, today, extra_arguments);
        let with_web = extra_arguments.contains(&"--web-port");
        let (address, web_address) = read_listen_addresses(&mut child, &data.log_path(), with_web);
        // A restored ledger keeps the tokens of the original and gets no new token file.
        let bureau_token = std::fs::read_to_string(data.path().join("bureau.token"))
            .unwrap_or_default()
            .trim()
            .to_owned();
        let server = TestServer {
            child,
            address,
            web_address,
            data: Some(data),
            bureau_token,
        };
        // The check speaks plain text. The TLS tests start a server on a new database or after
        // a clean stop, which gives the lease up: such a server writes from the start.
        let plain_text = !extra_arguments.contains(&"--tls-cert");
        if switched_to_postgres(extra_arguments) && plain_text {
            server.wait_until_writer().await;
        }
        server
    }

    /// Waits until this voucherd writes: on PostgreSQL one restarted after `kill` serves as a
    /// standby until the killed one's writer lease lapses, and the test means the writer.
    /// Asks the health service for `voucher.v1.VoucherLedger.Writer` (SERVING on the writer);
    /// a voucherd that does not know that name has no standby, so it is the writer.
    async fn wait_until_writer(&self) {
        use tonic_health::pb::health_check_response::ServingStatus;
        let mut health = tonic_health::pb::health_client::HealthClient::new(self.channel().await);
        let writing = async {
            loop {
                let answer = health
                    .check(tonic_health::pb::HealthCheckRequest {
                        service: "voucher.v1.VoucherLedger.Writer".to_owned(),
                    })
                    .await;
                match answer {
                    Ok(answer) if answer.get_ref().status == ServingStatus::Serving as i32 => {
                        return;
                    }
                    Err(status) if status.code() == tonic::Code::NotFound => return,
                    _ => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        };
        within(
            WRITER_DEADLINE,
            "voucherd on PostgreSQL to become the writer",
            writing,
        )
        .await;
    }

    /// Starts voucherd on an existing data directory that the test owns.
    pub async fn start_on(data_dir: &Path, today: &str) -> TestServer {
        TestServer::start_in(DataDir::existing(data_dir), today, &[]).await
    }

    /// Starts voucherd on `data_dir` expecting it to refuse; returns what it logged.
    pub fn try_start_in(data_dir: &Path, today: &str) -> String {
        let data = DataDir::existing(data_dir);
        let mut child = spawn_voucherd(&data, today, &[]);
        let exit = wait_with_timeout(&mut child, Duration::from_secs(20));
        assert!(!exit.success(), "voucherd was expected to refuse to start");
        std::fs::read_to_string(data.log_path()).unwrap_or_default()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's exit status once it exits by itself, or `None` if it still runs after
    /// `deadline` (it is left running).
    pub fn exit_within(&mut self, deadline: Duration) -> Option<std::process::ExitStatus> {
        wait_until(&mut self.child, deadline)
    }

    pub async fn client(&self, token: &str) -> Client {
        VoucherLedgerClient::with_interceptor(self.channel().await, bearer(token))
    }

    /// A plain-text channel to this server whose every call has [`CALL_DEADLINE`].
    pub async fn channel(&self) -> Channel {
        let address = format!("http://{}", self.address);
        within(
            CONNECT_DEADLINE,
            &format!("connecting to {address}"),
            async {
                test_endpoint(&address)
                    .connect()
                    .await
                    .expect("connects to voucherd")
            },
        )
        .await
    }

    pub async fn bureau(&self) -> Client {
        self.client(&self.bureau_token).await
    }

    /// SIGTERM, and wait for a clean exit; returns the data directory for a restart.
    pub fn stop(mut self) -> DataDir {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("a pid fits"));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM delivered");
        let exit = wait_with_timeout(&mut self.child, Duration::from_secs(20));
        assert!(
            exit.success(),
            "voucherd exits 0 on SIGTERM, got {exit:?}; log:\n{}",
            self.log()
        );
        self.into_data()
    }

    /// kill -9: no chance to flush anything that was not already durable.
    pub fn kill(mut self) -> DataDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.into_data()
    }

    pub fn data(&self) -> &DataDir {
        self.data
            .as_ref()
            .expect("the data directory stays until the server is consumed")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data().log_path()).unwrap_or_default()
    }

    fn into_data(mut self) -> DataDir {
        self.data.take().expect("the data directory is taken once")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_voucherd(data: &DataDir, today: &str, extra_arguments: &[&str]) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data.log_path())
        .expect("log file");
    Command::new(env!("CARGO_BIN_EXE_voucherd"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .args(["--today", today])
        .args(extra_arguments)
        .args(store_arguments(&data.path(), extra_arguments))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("voucherd starts")
}

/// How long a voucherd restarted on PostgreSQL may serve as a standby before it writes: the
/// lease of the one killed before it (3 s) and its next try, with room for a loaded machine.
const WRITER_DEADLINE: Duration = Duration::from_secs(30);

/// Whether [`store_arguments`] puts a server started with `extra_arguments` on PostgreSQL.
fn switched_to_postgres(extra_arguments: &[&str]) -> bool {
    postgres::tests_use_postgres()
        && !extra_arguments
            .iter()
            .any(|argument| argument.starts_with("--store"))
}

/// `--store URL` of the data directory's database when this run puts the suite on PostgreSQL
/// (`VOUCHER_TEST_STORE=postgres`, see [`postgres::shared_database_for`]); nothing when it
/// does not, or when the test chose a store itself.
pub fn store_arguments(data_dir: &Path, extra_arguments: &[&str]) -> Vec<String> {
    if !switched_to_postgres(extra_arguments) {
        return Vec::new();
    }
    vec![
        "--store".to_owned(),
        postgres::shared_database_for(data_dir),
    ]
}

/// True, after printing why, when this run is on PostgreSQL and the test reads or writes
/// sled's own files: such a test runs in the default (sled) run only. Use as
/// `if skipped_on_postgres("why") { return; }`.
pub fn skipped_on_postgres(reason: &str) -> bool {
    let skipped = postgres::tests_use_postgres();
    if skipped {
        eprintln!("skipped on PostgreSQL (VOUCHER_TEST_STORE=postgres): {reason}");
    }
    skipped
}

/// Ends the test (it passes), saying why, when this run is on PostgreSQL: one line at the top
/// of a test that reads or writes sled's own files, `skip_on_postgres!("why");`.
#[allow(unused_macros)]
macro_rules! skip_on_postgres {
    ($reason:expr) => {
        if $crate::common::skipped_on_postgres($reason) {
            return;
        }
    };
}
#[allow(unused_imports)]
pub(crate) use skip_on_postgres;

/// The gRPC address from voucherd's first line, and the console's from its second when asked.
/// Startup is bounded: a voucherd that prints nothing within [`PROCESS_DEADLINE`] fails the
/// test with its log instead of blocking it.
fn read_listen_addresses(
    child: &mut Child,
    log_path: &Path,
    with_web: bool,
) -> (SocketAddr, Option<SocketAddr>) {
    let stdout = child.stdout.take().expect("piped stdout");
    let wanted = if with_web { 2 } else { 1 };
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().take(wanted) {
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    let log = || std::fs::read_to_string(log_path).unwrap_or_default();
    let mut next_line = || match receiver.recv_timeout(PROCESS_DEADLINE) {
        Ok(Ok(line)) => line,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            let _ = child.kill();
            panic!(
                "voucherd printed no address within {PROCESS_DEADLINE:?}; killed; log:\n{}",
                log()
            )
        }
        _ => panic!("voucherd did not start; log:\n{}", log()),
    };
    let line = next_line();
    let address = line
        .strip_prefix("voucherd listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .expect("a socket address");
    let web_address = with_web.then(|| {
        let line = next_line();
        line.strip_prefix("voucherd web console on http://")
            .unwrap_or_else(|| panic!("unexpected second line {line:?}"))
            .parse()
            .expect("a socket address")
    });
    (address, web_address)
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    wait_until(child, timeout).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("voucherd did not exit within {timeout:?}; killed")
    })
}

pub use voucher_ledger::wire::BearerToken;

/// The clients' bearer interceptor, for a token the test knows is one.
pub fn bearer(token: &str) -> BearerToken {
    BearerToken::new(token).expect("an ASCII token")
}

/// CNY from yuan text such as "1234.56".
pub fn cny(yuan: &str) -> Money {
    let (units, fraction) = yuan.split_once('.').unwrap_or((yuan, "0"));
    let fen: i32 = format!("{fraction:0<2}").parse().expect("fen digits");
    Money {
        currency_code: "CNY".to_owned(),
        units: units.parse().expect("units"),
        nanos: fen * 10_000_000,
    }
}

/// Yuan text ("1234.56") of a wire amount.
pub fn yuan(money: &Option<Money>) -> String {
    let money = money.as_ref().expect("an amount");
    assert_eq!(money.currency_code, "CNY");
    assert_eq!(money.nanos % 10_000_000, 0, "fen precision");
    format!("{}.{:02}", money.units, money.nanos / 10_000_000)
}

/// The ErrorInfo reason of a refusal.
pub fn reason(status: &Status) -> String {
    status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_else(|| format!("(no ErrorInfo: {status:?})"))
}

/// ErrorInfo metadata of a refusal.
pub fn error_metadata(status: &Status, key: &str) -> Option<String> {
    status
        .get_details_error_info()
        .and_then(|info| info.metadata.get(key).cloned())
}

/// Asserts a call failed with this code and reason, and returns the status.
#[track_caller]
pub fn expect_refusal<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, Status>,
    code: tonic::Code,
    expected_reason: &str,
) -> Status {
    match result {
        Ok(response) => panic!(
            "expected {code:?} {expected_reason}, got {:?}",
            response.get_ref()
        ),
        Err(status) => {
            assert_eq!(
                (status.code(), reason(&status)),
                (code, expected_reason.to_owned()),
                "message: {}",
                status.message()
            );
            status
        }
    }
}

/// A valid credit code from 17 characters, by finding the check digit that fits.
pub fn code_with_check_digit(first_seventeen: &str) -> String {
    "0123456789ABCDEFGHJKLMNPQRTUWXY"
        .chars()
        .map(|check| format!("{first_seventeen}{check}"))
        .find(|candidate| {
            CreditCode::parse(candidate).is_ok_and(|code| code.has_valid_check_digit())
        })
        .expect("one check digit fits")
}

/// The `n`th synthetic enterprise code, valid.
pub fn synthetic_code(n: u32) -> String {
    code_with_check_digit(&format!("91320681{n:09}"))
}

/// A 20-digit 数电票 number.
pub fn invoice(serial: u64) -> String {
    format!("2632{serial:016}")
}

/// The world most tests need: one enterprise, a compute provider and a robot lessor, each
/// provider with its own token.
pub struct World {
    pub server: TestServer,
    pub bureau: Client,
    pub compute_provider: Client,
    pub robot_lessor: Client,
}

impl World {
    pub async fn new(today: &str) -> World {
        World::new_in(DataDir::new(), today, &[]).await
    }

    /// The same world under the rules in `policy` (written to its data directory and given
    /// as `--policy`), with extra flags for voucherd.
    pub async fn with_policy(policy: &str, today: &str, extra_arguments: &[&str]) -> World {
        let data = DataDir::new();
        std::fs::create_dir_all(data.path()).expect("data dir");
        let file = data.path().join("policy.toml");
        std::fs::write(&file, policy).expect("policy");
        let file = file.to_str().expect("utf-8").to_owned();
        let mut arguments = extra_arguments.to_vec();
        arguments.extend(["--policy", &file]);
        World::new_in(data, today, &arguments).await
    }

    /// The same world on `data`, with extra flags for voucherd (e.g. `--policy FILE`).
    pub async fn new_in(data: DataDir, today: &str, extra_arguments: &[&str]) -> World {
        let server = TestServer::start_in(data, today, extra_arguments).await;
        let mut bureau = server.bureau().await;
        register_enterprise(&mut bureau, ENTERPRISE, "启东智算科技有限公司").await;
        register_provider(
            &mut bureau,
            COMPUTE_PROVIDER,
            "南通算力服务有限公司",
            pb::Program::Compute,
        )
        .await;
        register_provider(
            &mut bureau,
            ROBOT_LESSOR,
            "江苏具身机器人租赁有限公司",
            pb::Program::Leasing,
        )
        .await;
        let compute_token = create_token(&mut bureau, pb::Role::Provider, COMPUTE_PROVIDER).await;
        let lessor_token = create_token(&mut bureau, pb::Role::Provider, ROBOT_LESSOR).await;
        let compute_provider = server.client(&compute_token).await;
        let robot_lessor = server.client(&lessor_token).await;
        World {
            server,
            bureau,
            compute_provider,
            robot_lessor,
        }
    }
}

/// Polls until `server` accepts a write (on PostgreSQL: it holds the writer lease, a
/// standby having taken over), for at most `deadline`; returns how long that took. The probe
/// registers [`ENTERPRISE`] again with its own details, which changes nothing.
pub async fn wait_for_writer(server: &TestServer, token: &str, deadline: Duration) -> Duration {
    let started = std::time::Instant::now();
    let mut bureau = server.client(token).await;
    loop {
        let probe = bureau
            .register_enterprise(pb::RegisterEnterpriseRequest {
                credit_code: ENTERPRISE.to_owned(),
                name: "启东智算科技有限公司".to_owned(),
                ..Default::default()
            })
            .await;
        match probe {
            Ok(_) => return started.elapsed(),
            Err(status) if status.code() == tonic::Code::Unavailable => {}
            Err(status) => panic!("the probe write was refused: {status:?}"),
        }
        assert!(
            started.elapsed() < deadline,
            "{} did not become the writer within {deadline:?}; log:\n{}",
            server.address,
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Has the server replay its whole log and check every stored record; fails the test, with
/// the server's report, on any problem. Returns the report.
pub async fn assert_verified(client: &mut Client) -> pb::VerifyReport {
    let report = client
        .verify(pb::VerifyRequest {})
        .await
        .expect("verify")
        .into_inner();
    assert!(report.sound, "{}", report.report);
    report
}

/// Copies a directory tree, e.g. a golden ledger into a temporary directory a test may change.
pub fn copy_directory(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_directory(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// The default rules, with the enterprise's confirmation required for compute claims.
pub fn confirmation_policy() -> String {
    voucher_ledger::domain::policy::DEFAULT_POLICY_TOML.replacen(
        "provider_kind = \"compute provider (算力服务商)\"",
        "provider_kind = \"compute provider (算力服务商)\"\nenterprise_confirmation = \"required\"",
        1,
    )
}
