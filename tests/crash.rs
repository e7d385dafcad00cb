//! The crash test (Jepsen's bank test, for vouchers): concurrent redemptions and reversals
//! against a few enterprises near their caps, `kill -9` at a random moment, restart, again and
//! again. After every kill: `voucherd verify` passes on the data as the kill left it, every
//! acknowledged redemption is there with the same subsidy, every acknowledged reversal holds,
//! no cap is passed, and a request that was in flight, sent again, is answered consistently.
//!
//! Iterations: `VOUCHER_CRASH_ITERATIONS` (default 20); the long form is
//! `VOUCHER_CRASH_ITERATIONS=500 cargo test --release --test crash`. The seed is printed;
//! `VOUCHER_CRASH_SEED` replays one.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use voucher_ledger::proto::voucher::v1 as pb;

/// Small caps, so that the caps are reached and refusals happen in every round.
const POLICY: &str = r#"
name = "crash test"
document = "test"
term_start = "2026-05-14"
term_end = "2028-05-13"
redeem_grace_days = 90

[[program]]
program = "compute"
name = "算力券"
name_en = "compute voucher"
measure = "(七)"
administered_by = "市数据局"
rate = "0.50"
cap = "3000.00"
cap_period = "calendar_year"
rounding = "half_up"
provider_kind = "compute provider"
"#;

const CAP_FEN: i64 = 300_000;
const WORKERS: u64 = 8;

/// How long the checks after one restart may take (a few hundred calls, each with its own
/// deadline).
const ROUND_CHECK_DEADLINE: Duration = Duration::from_secs(300);

/// How long a worker may take to stop once the server is killed: its call in flight fails at
/// once or at its deadline, and it makes no other.
const WORKER_DEADLINE: Duration = Duration::from_secs(CALL_DEADLINE.as_secs() + 10);

/// What the clients were told, and what they asked without an answer.
#[derive(Default)]
struct Observed {
    /// Voucher id → (enterprise, face value in fen), acknowledged.
    vouchers: BTreeMap<String, (String, i64)>,
    /// Vouchers whose revocation was acknowledged.
    revoked: Vec<String>,
    /// Redemption id → (enterprise, subsidy in fen), acknowledged.
    redeemed: BTreeMap<String, (String, i64)>,
    /// Redemptions whose reversal was acknowledged.
    reversed: Vec<String>,
    /// Acknowledged redemptions nobody has tried to reverse yet.
    reversible: Vec<String>,
    /// Redeem requests that got no answer (the kill came first).
    unanswered: Vec<pb::RedeemRequest>,
}

fn fen(money: &Option<voucher_ledger::proto::google::r#type::Money>) -> i64 {
    let money = money.as_ref().expect("an amount");
    money.units * 100 + i64::from(money.nanos / 10_000_000)
}

/// The seed of this run: `VOUCHER_CRASH_SEED`, or a new one.
fn crash_seed() -> u64 {
    std::env::var("VOUCHER_CRASH_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(rand::random::<u64>)
}

/// voucherd's flags in both crash tests: the small-caps policy, and small log segments with
/// frequent checkpoints, so that every round rolls segments over and deletes checkpointed ones
/// (a checkpoint that forgot the log before sled was durable would lose acknowledged work here).
fn voucherd_arguments(policy_argument: &str) -> [&str; 6] {
    [
        "--policy",
        policy_argument,
        "--wal-segment-kib",
        "64",
        "--checkpoint-interval-ms",
        "50",
    ]
}

fn iterations() -> u64 {
    std::env::var("VOUCHER_CRASH_ITERATIONS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(20)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_work_survives_kill_minus_nine_at_random_moments() {
    let seed = crash_seed();
    println!("crash test seed {seed} (VOUCHER_CRASH_SEED={seed} to replay)");
    let mut rng = StdRng::seed_from_u64(seed);
    let data = DataDir::new();
    std::fs::create_dir_all(data.path()).expect("data dir");
    let policy_file = data.path().join("policy.toml");
    std::fs::write(&policy_file, POLICY).expect("policy file");
    let policy_argument = policy_file.to_str().expect("utf-8").to_owned();
    let arguments = voucherd_arguments(&policy_argument);

    let server = TestServer::start_in(data, "2027-06-15", &arguments).await;
    let observed = Arc::new(Mutex::new(Observed::default()));
    let provider_token = set_up(&server, &observed).await;
    let mut server = server;
    for round in 0..iterations() {
        let provider = server.client(&provider_token).await;
        let bureau = server.bureau().await;
        let workers = start_workers(&provider, &bureau, &observed, round, rng.random());
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
        let data = server.kill();
        for (index, worker) in workers.into_iter().enumerate() {
            let waiting_for = format!(
                "round {round} (VOUCHER_CRASH_SEED={seed}): worker {index} to notice the killed server"
            );
            let _ = within(WORKER_DEADLINE, &waiting_for, worker).await;
        }
        let context = format!("round {round} (VOUCHER_CRASH_SEED={seed}), after kill -9");
        assert_verified_offline(&policy_argument, &data.path(), &context);
        server = restart_and_check(data, &arguments, &provider_token, &observed, round, seed).await;
    }
    let total = observed.lock().expect("lock").redeemed.len();
    println!(
        "{} rounds, {total} acknowledged redemptions checked after every kill",
        iterations()
    );
    assert!(total > 0, "the load must have done something");
}

/// Three enterprises, each with a voucher for its whole (small) cap; one provider.
async fn set_up(server: &TestServer, observed: &Arc<Mutex<Observed>>) -> String {
    let mut bureau = server.bureau().await;
    register_provider(&mut bureau, COMPUTE_PROVIDER, "算力", pb::Program::Compute).await;
    for (index, code) in ENTERPRISES.iter().enumerate() {
        register_enterprise(&mut bureau, code, &format!("企业{index}")).await;
        let request = issue_request(&format!("crash-{index}"), code, pb::Program::Compute, None);
        let voucher = bureau
            .issue_voucher(request)
            .await
            .expect("issued")
            .into_inner();
        observed.lock().expect("lock").vouchers.insert(
            voucher.voucher_id,
            (code.to_string(), fen(&voucher.face_value)),
        );
    }
    create_token(&mut bureau, pb::Role::Provider, COMPUTE_PROVIDER).await
}

const ENTERPRISES: [&str; 3] = [ENTERPRISE, OTHER_ENTERPRISE, ROBOT_LESSOR];

/// One worker's clients and where its invoice numbers start.
#[derive(Clone)]
struct Worker {
    provider: Client,
    bureau: Client,
    observed: Arc<Mutex<Observed>>,
    first_serial: u64,
}

fn start_workers(
    provider: &Client,
    bureau: &Client,
    observed: &Arc<Mutex<Observed>>,
    round: u64,
    seed: u64,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..WORKERS)
        .map(|index| {
            let worker = Worker {
                provider: provider.clone(),
                bureau: bureau.clone(),
                observed: observed.clone(),
                first_serial: (round * WORKERS + index) * 1_000_000,
            };
            tokio::spawn(work(worker, seed ^ index))
        })
        .collect()
}

/// Redeems, reverses, issues and revokes at random until the server goes away.
async fn work(mut worker: Worker, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    for serial in worker.first_serial.. {
        let answered = match rng.random_range(0..10) {
            0..=2 => reverse_one(&mut worker, &mut rng).await,
            3 => issue_one(&mut worker, &mut rng, serial).await,
            4 => revoke_one(&mut worker, &mut rng).await,
            _ => redeem_one(&mut worker, &mut rng, serial).await,
        };
        if !answered {
            return;
        }
    }
}

/// Each step returns false when the server did not answer (it was killed).
async fn redeem_one(worker: &mut Worker, rng: &mut StdRng, serial: u64) -> bool {
    let Some(voucher_id) = pick(
        &worker
            .observed
            .lock()
            .expect("lock")
            .vouchers
            .keys()
            .cloned()
            .collect::<Vec<_>>(),
        rng,
    ) else {
        return true;
    };
    let enterprise = worker.observed.lock().expect("lock").vouchers[&voucher_id]
        .0
        .clone();
    let amount = format!(
        "{}.{:02}",
        rng.random_range(1..100),
        rng.random_range(0..100)
    );
    let request = pb::RedeemRequest {
        voucher_id,
        enterprise_credit_code: enterprise,
        invoice_number: invoice(serial),
        invoice_date: "2027-06-01".into(),
        invoice_amount: Some(cny(&amount)),
        ..Default::default()
    };
    match worker.provider.redeem(request.clone()).await {
        Ok(response) => {
            let redemption = response.into_inner();
            let entry = (
                redemption.enterprise_credit_code.clone(),
                fen(&redemption.subsidy),
            );
            let mut observed = worker.observed.lock().expect("lock");
            observed.reversible.push(redemption.redemption_id.clone());
            observed.redeemed.insert(redemption.redemption_id, entry);
            true
        }
        Err(status) if is_answer(&status) => true,
        Err(_) => {
            worker
                .observed
                .lock()
                .expect("lock")
                .unanswered
                .push(request);
            false
        }
    }
}

async fn reverse_one(worker: &mut Worker, rng: &mut StdRng) -> bool {
    let candidate = {
        let mut observed = worker.observed.lock().expect("lock");
        let count = observed.reversible.len();
        (count > 0).then(|| observed.reversible.swap_remove(rng.random_range(0..count)))
    };
    let Some(redemption_id) = candidate else {
        return true;
    };
    let reverse = pb::ReverseRedemptionRequest {
        redemption_id: redemption_id.clone(),
        reason: "crash test".into(),
    };
    match worker.provider.reverse_redemption(reverse).await {
        Ok(_) => {
            worker
                .observed
                .lock()
                .expect("lock")
                .reversed
                .push(redemption_id);
            true
        }
        Err(status) => is_answer(&status),
    }
}

/// The bureau tops up an enterprise with a small voucher, when its cap allows.
async fn issue_one(worker: &mut Worker, rng: &mut StdRng, serial: u64) -> bool {
    let enterprise = ENTERPRISES[rng.random_range(0..ENTERPRISES.len())];
    let face = format!("{}.00", rng.random_range(50..300));
    let request = issue_request(
        &format!("top-up-{serial}"),
        enterprise,
        pb::Program::Compute,
        Some(&face),
    );
    match worker.bureau.issue_voucher(request).await {
        Ok(response) => {
            let voucher = response.into_inner();
            let entry = (enterprise.to_owned(), fen(&voucher.face_value));
            worker
                .observed
                .lock()
                .expect("lock")
                .vouchers
                .insert(voucher.voucher_id, entry);
            true
        }
        Err(status) => is_answer(&status),
    }
}

async fn revoke_one(worker: &mut Worker, rng: &mut StdRng) -> bool {
    let Some(voucher_id) = pick(
        &worker
            .observed
            .lock()
            .expect("lock")
            .vouchers
            .keys()
            .cloned()
            .collect::<Vec<_>>(),
        rng,
    ) else {
        return true;
    };
    let revoke = pb::RevokeVoucherRequest {
        voucher_id: voucher_id.clone(),
        reason: "crash test".into(),
    };
    match worker.bureau.revoke_voucher(revoke).await {
        Ok(_) => {
            worker
                .observed
                .lock()
                .expect("lock")
                .revoked
                .push(voucher_id);
            true
        }
        Err(status) => is_answer(&status),
    }
}

fn pick(items: &[String], rng: &mut StdRng) -> Option<String> {
    (!items.is_empty()).then(|| items[rng.random_range(0..items.len())].clone())
}

/// A refusal by the ledger is an answer; a broken connection, or a call that ran out its
/// deadline, is not.
fn is_answer(status: &tonic::Status) -> bool {
    !matches!(
        status.code(),
        tonic::Code::Unavailable
            | tonic::Code::Unknown
            | tonic::Code::Cancelled
            | tonic::Code::Internal
            | tonic::Code::DeadlineExceeded
    )
}

async fn check_round(
    server: &TestServer,
    provider_token: &str,
    observed: &Arc<Mutex<Observed>>,
    round: u64,
    seed: u64,
) {
    let context = format!("round {round}, seed {seed}");
    let mut bureau = server.bureau().await;
    let (vouchers, revoked, redeemed, reversed, unanswered) = {
        let mut observed = observed.lock().expect("lock");
        let unanswered = std::mem::take(&mut observed.unanswered);
        (
            observed.vouchers.clone(),
            observed.revoked.clone(),
            observed.redeemed.clone(),
            observed.reversed.clone(),
            unanswered,
        )
    };
    for (voucher_id, (enterprise, face)) in &vouchers {
        let stored = get_voucher(&mut bureau, voucher_id).await;
        assert_eq!(
            (&stored.enterprise_credit_code, fen(&stored.face_value)),
            (enterprise, *face),
            "{context}: {voucher_id}"
        );
        if revoked.contains(voucher_id) {
            assert_eq!(
                stored.status,
                pb::VoucherStatus::Revoked as i32,
                "{context}: acknowledged revocation of {voucher_id} lost"
            );
        }
    }
    for (redemption_id, (enterprise, subsidy)) in &redeemed {
        let stored = bureau
            .get_redemption(pb::GetRedemptionRequest {
                redemption_id: redemption_id.clone(),
            })
            .await
            .unwrap_or_else(|status| {
                panic!("{context}: acknowledged {redemption_id} is gone: {status:?}")
            })
            .into_inner();
        assert_eq!(
            (&stored.enterprise_credit_code, fen(&stored.subsidy)),
            (enterprise, *subsidy),
            "{context}: {redemption_id}"
        );
        if reversed.contains(redemption_id) {
            assert_eq!(
                stored.status,
                pb::RedemptionStatus::Reversed as i32,
                "{context}: acknowledged reversal of {redemption_id} lost"
            );
        }
    }
    let mut provider = server.client(provider_token).await;
    for request in unanswered {
        match provider.redeem(request.clone()).await {
            Ok(answer) => assert_eq!(answer.into_inner().invoice_number, request.invoice_number),
            Err(status) => assert!(
                is_answer(&status),
                "{context}: an unanswered request sent again: {status:?}"
            ),
        }
    }
    for enterprise in ENTERPRISES {
        let balance = balance(&mut bureau, enterprise, pb::Program::Compute, "").await;
        assert!(
            fen(&balance.redeemed) <= fen(&balance.committed) && fen(&balance.committed) <= CAP_FEN,
            "{context}: {balance:?}"
        );
    }
}

// The power-cut form: `kill -9` ends the process, not the machine, so everything voucherd had
// written was still in the page cache for the disk. Here voucherd's data directory is on a
// powerfs mount (powerfs/README.md): at the instant of the kill the power is cut too, and only
// what voucherd had synced (file bytes by fsync/fdatasync, names by a directory fsync) is left.

/// The powerfs test harness, included by path since this package cannot depend on powerfs;
/// not every helper in it is used here.
#[allow(dead_code)]
#[path = "../powerfs/src/mounted.rs"]
mod mounted;

use std::path::{Path, PathBuf};

fn power_iterations() -> u64 {
    std::env::var("VOUCHER_CRASH_POWER_ITERATIONS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(20)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_work_survives_power_cuts_at_random_moments() {
    if std::env::var("VOUCHER_CRASH_POWER").as_deref() != Ok("1") {
        println!(
            "skipped: the power-cut crash test runs with `VOUCHER_CRASH_POWER=1 cargo test --test crash \
             acknowledged_work_survives_power_cuts` \
             (it needs /dev/fuse, fusermount3 and the powerfs binary; powerfs/README.md)"
        );
        return;
    }
    if let Err(missing) = mounted::fuse_available() {
        panic!("VOUCHER_CRASH_POWER=1, but powerfs cannot mount here: {missing}");
    }
    let seed = crash_seed();
    println!("power-cut crash test seed {seed} (VOUCHER_CRASH_SEED={seed} to replay)");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut disk = PoweredDisk::new(powerfs_program());
    let policy_directory = tempfile::tempdir().expect("temporary directory");
    let policy_file = policy_directory.path().join("policy.toml");
    std::fs::write(&policy_file, POLICY).expect("policy file");
    let policy_argument = policy_file.to_str().expect("utf-8").to_owned();
    let arguments = voucherd_arguments(&policy_argument);

    let data = DataDir::existing(&disk.data_on_mount());
    let server = TestServer::start_in(data, "2027-06-15", &arguments).await;
    let observed = Arc::new(Mutex::new(Observed::default()));
    let provider_token = set_up(&server, &observed).await;
    let mut server = server;
    for round in 0..power_iterations() {
        let context = format!("round {round} (VOUCHER_CRASH_SEED={seed})");
        let provider = server.client(&provider_token).await;
        let bureau = server.bureau().await;
        let workers = start_workers(&provider, &bureau, &observed, round, rng.random());
        let load_ms = rng.random_range(50..400);
        // A failure in the checks below names no round, so each round says which it is.
        println!("{context}: {load_ms} ms of load, then the cut");
        tokio::time::sleep(Duration::from_millis(load_ms)).await;
        let data = cut_power_and_kill(&mut disk, server, workers, &context).await;
        assert_verified_offline(&policy_argument, &disk.data_on_backing(), &context);
        disk.mount(&context);
        server = restart_and_check(data, &arguments, &provider_token, &observed, round, seed).await;
    }
    let total = observed.lock().expect("lock").redeemed.len();
    println!(
        "{} rounds, {total} acknowledged redemptions checked after every power cut",
        power_iterations()
    );
    assert!(total > 0, "the load must have done something");
}

/// The power cut and `kill -9` at the same instant; returns voucherd's data directory once
/// every worker has noticed and powerfs is unmounted.
async fn cut_power_and_kill(
    disk: &mut PoweredDisk,
    server: TestServer,
    workers: Vec<tokio::task::JoinHandle<()>>,
    context: &str,
) -> DataDir {
    disk.send_cut(context);
    let data = server.kill();
    disk.confirm_cut(context);
    for (index, worker) in workers.into_iter().enumerate() {
        let waiting_for = format!("{context}: worker {index} to notice the power cut");
        let _ = within(WORKER_DEADLINE, &waiting_for, worker).await;
    }
    disk.unmount(context);
    data
}

/// `voucherd verify` passes on the data directory as the disk holds it after the cut.
/// Starts voucherd again on `data` and checks every acknowledged write of the round.
async fn restart_and_check(
    data: DataDir,
    arguments: &[&str],
    provider_token: &str,
    observed: &Arc<Mutex<Observed>>,
    round: u64,
    seed: u64,
) -> TestServer {
    let server = TestServer::start_in(data, "2027-06-15", arguments).await;
    let waiting_for =
        format!("round {round} (VOUCHER_CRASH_SEED={seed}): the checks after the restart");
    within(
        ROUND_CHECK_DEADLINE,
        &waiting_for,
        check_round(&server, provider_token, observed, round, seed),
    )
    .await;
    server
}

fn assert_verified_offline(policy_argument: &str, data_directory: &Path, context: &str) {
    let verified = std::process::Command::new(env!("CARGO_BIN_EXE_voucherd"))
        .args(["verify", "--policy", policy_argument, "--data-dir"])
        .arg(data_directory)
        .output_within_deadline()
        .expect("voucherd verify runs");
    assert!(
        verified.status.success(),
        "{context}: verify failed on the data directory as it was left:\n{}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );
}

/// A disk whose power can be cut: a powerfs mount over a backing directory that holds, at every
/// moment, what the disk would hold after a power loss.
struct PoweredDisk {
    // Dropped first: the mount goes before the directories under it.
    mounted: Option<mounted::Mounted>,
    program: PathBuf,
    mountpoint: tempfile::TempDir,
    backing: tempfile::TempDir,
}

impl PoweredDisk {
    /// An empty data directory, made (durably: straight on the backing directory) before the
    /// first mount, as an operator would before the first start.
    fn new(program: PathBuf) -> PoweredDisk {
        let backing = tempfile::tempdir().expect("backing directory");
        std::fs::create_dir(backing.path().join("data")).expect("data directory");
        let mut disk = PoweredDisk {
            mounted: None,
            program,
            mountpoint: tempfile::tempdir().expect("mountpoint"),
            backing,
        };
        disk.mount("the first mount");
        disk
    }

    fn data_on_mount(&self) -> PathBuf {
        self.mountpoint.path().join("data")
    }

    fn data_on_backing(&self) -> PathBuf {
        self.backing.path().join("data")
    }

    fn mount(&mut self, context: &str) {
        let mounted =
            mounted::Mounted::start(&self.program, self.backing.path(), self.mountpoint.path())
                .unwrap_or_else(|error| panic!("{context}: powerfs did not mount: {error}"));
        self.mounted = Some(mounted);
    }

    fn mounted(&mut self) -> &mut mounted::Mounted {
        self.mounted.as_mut().expect("mounted")
    }

    fn send_cut(&mut self, context: &str) {
        self.mounted()
            .send_cut()
            .unwrap_or_else(|error| panic!("{context}: the cut was not sent: {error}"));
    }

    fn confirm_cut(&mut self, context: &str) {
        self.mounted()
            .confirm_cut()
            .unwrap_or_else(|error| panic!("{context}: the cut was not confirmed: {error}"));
    }

    fn unmount(&mut self, context: &str) {
        let mounted = self.mounted.take().expect("mounted");
        mounted
            .unmount()
            .unwrap_or_else(|error| panic!("{context}: powerfs did not unmount: {error}"));
    }
}

/// The powerfs program beside this test's own: `target/<profile>/powerfs`. A plain
/// `cargo test` builds it (powerfs is a default workspace member); `cargo test --test crash`
/// alone does not, so a missing or older program fails here, saying how to build it.
fn powerfs_program() -> PathBuf {
    let test_program = std::env::current_exe().expect("the test's own path");
    let program = test_program
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps")
        .join("powerfs");
    let built = std::fs::metadata(&program)
        .and_then(|metadata| metadata.modified())
        .unwrap_or_else(|error| {
            panic!(
                "{}: {error}; build it with `cargo build -p powerfs` (with --release for a release run)",
                program.display()
            )
        });
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("powerfs/src");
    if let Some(newer) = newest_source_after(&sources, built) {
        panic!(
            "{} is older than {}: rebuild it with `cargo build -p powerfs`",
            program.display(),
            newer.display()
        );
    }
    program
}

/// A file under `directory` changed after `time`, if any.
fn newest_source_after(directory: &Path, time: std::time::SystemTime) -> Option<PathBuf> {
    for entry in std::fs::read_dir(directory)
        .expect("powerfs sources")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            if let Some(newer) = newest_source_after(&path, time) {
                return Some(newer);
            }
        } else if entry
            .metadata()
            .and_then(|metadata| metadata.modified())
            .is_ok_and(|modified| modified > time)
        {
            return Some(path);
        }
    }
    None
}
