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

/// What the clients were told, and what they asked without an answer.
#[derive(Default)]
struct Observed {
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

fn iterations() -> u64 {
    std::env::var("VOUCHER_CRASH_ITERATIONS").ok().and_then(|text| text.parse().ok()).unwrap_or(20)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_work_survives_kill_minus_nine_at_random_moments() {
    let seed = std::env::var("VOUCHER_CRASH_SEED").ok().and_then(|text| text.parse().ok()).unwrap_or_else(rand::random::<u64>);
    println!("crash test seed {seed} (VOUCHER_CRASH_SEED={seed} to replay)");
    let mut rng = StdRng::seed_from_u64(seed);
    let data = DataDir::new();
    std::fs::create_dir_all(data.path()).expect("data dir");
    let policy_file = data.path().join("policy.toml");
    std::fs::write(&policy_file, POLICY).expect("policy file");
    let policy_argument = policy_file.to_str().expect("utf-8").to_owned();
    let arguments = ["--policy", policy_argument.as_str()];

    let server = TestServer::start_in(data, "2027-06-15", &arguments).await;
    let (vouchers, provider_token) = set_up(&server).await;
    let observed = Arc::new(Mutex::new(Observed::default()));
    let mut server = server;
    let mut next_invoice = 0u64;
    for round in 0..iterations() {
        let provider = server.client(&provider_token).await;
        let workers = start_workers(&provider, &vouchers, &observed, &mut next_invoice, rng.random());
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
        let data = server.kill();
        for worker in workers {
            let _ = worker.await;
        }
        let verified = std::process::Command::new(env!("CARGO_BIN_EXE_voucherd"))
            .args(["verify", "--policy", &policy_argument, "--data-dir"])
            .arg(data.path())
            .output()
            .expect("voucherd verify runs");
        assert!(verified.status.success(), "round {round} (seed {seed}): verify failed after kill -9:\n{}", String::from_utf8_lossy(&verified.stdout));
        server = TestServer::start_in(data, "2027-06-15", &arguments).await;
        check_round(&server, &provider_token, &vouchers, &observed, round, seed).await;
    }
    let total = observed.lock().expect("lock").redeemed.len();
    println!("{} rounds, {total} acknowledged redemptions checked after every kill", iterations());
    assert!(total > 0, "the load must have done something");
}

/// Three enterprises, each with a voucher for its whole (small) cap; one provider.
async fn set_up(server: &TestServer) -> (Vec<pb::Voucher>, String) {
    let mut bureau = server.bureau().await;
    register_provider(&mut bureau, COMPUTE_PROVIDER, "算力", pb::Program::Compute).await;
    let mut vouchers = Vec::new();
    for (index, code) in [ENTERPRISE, OTHER_ENTERPRISE, ROBOT_LESSOR].iter().enumerate() {
        register_enterprise(&mut bureau, code, &format!("企业{index}")).await;
        let request = issue_request(&format!("crash-{index}"), code, pb::Program::Compute, None);
        vouchers.push(bureau.issue_voucher(request).await.expect("issued").into_inner());
    }
    let token = create_token(&mut bureau, pb::Role::Provider, COMPUTE_PROVIDER).await;
    (vouchers, token)
}

fn start_workers(
    provider: &Client,
    vouchers: &[pb::Voucher],
    observed: &Arc<Mutex<Observed>>,
    next_invoice: &mut u64,
    seed: u64,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..WORKERS)
        .map(|worker| {
            let first_invoice = *next_invoice + worker * 1_000_000;
            let (provider, vouchers, observed) = (provider.clone(), vouchers.to_vec(), observed.clone());
            tokio::spawn(work(provider, vouchers, observed, first_invoice, seed ^ worker))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .inspect(|_| *next_invoice += 1_000_000)
        .collect()
}

/// Redeems (and now and then reverses) until the server goes away.
async fn work(mut provider: Client, vouchers: Vec<pb::Voucher>, observed: Arc<Mutex<Observed>>, first_invoice: u64, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    for serial in first_invoice.. {
        if rng.random_ratio(1, 3) {
            let candidate = {
                let mut observed = observed.lock().expect("lock");
                let count = observed.reversible.len();
                (count > 0).then(|| observed.reversible.swap_remove(rng.random_range(0..count)))
            };
            if let Some(redemption_id) = candidate {
                let reverse = pb::ReverseRedemptionRequest { redemption_id: redemption_id.clone(), reason: "crash test".into() };
                match provider.reverse_redemption(reverse).await {
                    Ok(_) => observed.lock().expect("lock").reversed.push(redemption_id),
                    Err(status) if is_answer(&status) => {}
                    Err(_) => return,
                }
                continue;
            }
        }
        let voucher = &vouchers[rng.random_range(0..vouchers.len())];
        let amount = format!("{}.{:02}", rng.random_range(1..100), rng.random_range(0..100));
        let request = redeem_request(voucher, &invoice(serial), "2027-06-01", &amount);
        match provider.redeem(request.clone()).await {
            Ok(response) => {
                let redemption = response.into_inner();
                let entry = (redemption.enterprise_credit_code.clone(), fen(&redemption.subsidy));
                let mut observed = observed.lock().expect("lock");
                observed.reversible.push(redemption.redemption_id.clone());
                observed.redeemed.insert(redemption.redemption_id, entry);
            }
            Err(status) if is_answer(&status) => {}
            Err(_) => {
                observed.lock().expect("lock").unanswered.push(request);
                return;
            }
        }
    }
}

/// A refusal by the ledger is an answer; a broken connection is not.
fn is_answer(status: &tonic::Status) -> bool {
    !matches!(status.code(), tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled | tonic::Code::Internal)
}

async fn check_round(server: &TestServer, provider_token: &str, vouchers: &[pb::Voucher], observed: &Arc<Mutex<Observed>>, round: u64, seed: u64) {
    let context = format!("round {round}, seed {seed}");
    let mut bureau = server.bureau().await;
    let (redeemed, reversed, unanswered) = {
        let mut observed = observed.lock().expect("lock");
        let unanswered = std::mem::take(&mut observed.unanswered);
        (observed.redeemed.clone(), observed.reversed.clone(), unanswered)
    };
    for (redemption_id, (enterprise, subsidy)) in &redeemed {
        let stored = bureau
            .get_redemption(pb::GetRedemptionRequest { redemption_id: redemption_id.clone() })
            .await
            .unwrap_or_else(|status| panic!("{context}: acknowledged {redemption_id} is gone: {status:?}"))
            .into_inner();
        assert_eq!((&stored.enterprise_credit_code, fen(&stored.subsidy)), (enterprise, *subsidy), "{context}: {redemption_id}");
        if reversed.contains(redemption_id) {
            assert_eq!(stored.status, pb::RedemptionStatus::Reversed as i32, "{context}: acknowledged reversal of {redemption_id} lost");
        }
    }
    let mut provider = server.client(provider_token).await;
    for request in unanswered {
        match provider.redeem(request.clone()).await {
            Ok(answer) => assert_eq!(answer.into_inner().invoice_number, request.invoice_number),
            Err(status) => assert!(
                ["CAP_EXCEEDED", "VOUCHER_BALANCE_EXCEEDED"].contains(&reason(&status).as_str()),
                "{context}: an unanswered request sent again: {status:?}"
            ),
        }
    }
    for voucher in vouchers {
        let balance = balance(&mut bureau, &voucher.enterprise_credit_code, pb::Program::Compute, "").await;
        assert!(fen(&balance.redeemed) <= fen(&balance.committed) && fen(&balance.committed) <= CAP_FEN, "{context}: {balance:?}");
    }
}
