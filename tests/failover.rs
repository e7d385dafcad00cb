//! Active and standby voucherds on one PostgreSQL (issue 17 stage 2): a standby serves reads
//! and refuses writes naming the active one; when the active one is killed outright a
//! standby takes over and every acknowledged claim is there, the cap never passed; a writer
//! paused past its lease can commit nothing once the standby took it.
//!
//! `VOUCHER_FAILOVER_ROUNDS` sets the rounds of the failover test (20 by default; the long
//! run is 500). Run with `--nocapture` to see the worst takeover time. Needs PostgreSQL's
//! `initdb` (see `common/postgres.rs`).

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::postgres::TestPostgres;
use common::*;
use tonic::Code;
use voucher_ledger::proto::voucher::v1 as pb;
use voucher_ledger::proto::voucher::v1::voucher_ledger_client::VoucherLedgerClient;

const TODAY: &str = "2027-06-15";
/// Concurrent claimants in the failover test.
const CLIENTS: u64 = 8;
/// The longest a takeover may take before the test calls it a hang (the target is 5 s; the
/// time is reported, not asserted).
const TAKEOVER_DEADLINE: Duration = Duration::from_secs(30);
/// Each claim's invoice amount; the compute program pays half. The default rounds stay
/// below the 2,000,000 yuan cap; the long run reaches it and goes on being refused.
const INVOICE_AMOUNT: &str = "100";

/// voucherd on `url` with its own new data directory.
async fn voucherd_on(url: &str) -> TestServer {
    TestServer::start_in(DataDir::new(), TODAY, &["--store", url]).await
}

/// voucherctl against `server` with `token`; returns its exit code and everything it said.
fn voucherctl(server: &TestServer, token: &str, arguments: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_voucherctl"))
        .env("VOUCHER_ADDR", server.address.to_string())
        .env("VOUCHER_TOKEN", token)
        .env_remove("VOUCHER_TOKEN_FILE")
        .args(arguments)
        .output_within_deadline()
        .expect("voucherctl runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), said)
}

/// Asserts `result` is UNAVAILABLE NOT_LEADER naming `active` in its metadata and message.
#[track_caller]
fn assert_not_leader<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
    active: &TestServer,
) {
    let status = expect_refusal(result, Code::Unavailable, "NOT_LEADER");
    let address = active.address.to_string();
    assert_eq!(error_metadata(&status, "leader"), Some(address.clone()));
    assert!(status.message().contains(&address), "{}", status.message());
}

#[tokio::test]
async fn a_standby_serves_reads_and_refuses_writes_naming_the_active() {
    let Some(postgres) = TestPostgres::start() else {
        return;
    };
    let url = postgres.url("postgres");
    let mut world = World::new_in(DataDir::new(), TODAY, &["--store", &url]).await;
    let voucher = issue(&mut world.bureau, "read-me", pb::Program::Compute, None).await;
    redeem_each(&mut world.compute_provider, &voucher, 1..=3, "1000").await;
    let token = world.server.bureau_token.clone();

    let standby = voucherd_on(&url).await;
    assert!(
        !standby.data().path().join("bureau.token").exists(),
        "a standby writes no bureau token"
    );
    let mut bureau = standby.client(&token).await;
    let enterprise = bureau
        .get_enterprise(pb::GetEnterpriseRequest {
            credit_code: ENTERPRISE.to_owned(),
        })
        .await
        .expect("the standby reads the enterprise")
        .into_inner();
    assert_eq!(enterprise.name, "启东智算科技有限公司");
    let read = balance(&mut bureau, ENTERPRISE, pb::Program::Compute, "").await;
    assert_eq!(
        yuan(&read.redeemed),
        "1500.00",
        "three claims of 1000 at half"
    );

    let issued = bureau
        .issue_voucher(issue_request(
            "on-standby",
            ENTERPRISE,
            pb::Program::Compute,
            Some("10"),
        ))
        .await;
    assert_not_leader(issued, &world.server);
    let provider_token =
        create_token(&mut world.bureau, pb::Role::Provider, COMPUTE_PROVIDER).await;
    let mut provider = standby.client(&provider_token).await;
    let claim = provider
        .redeem(redeem_request(&voucher, &invoice(9), "2027-06-01", "1000"))
        .await;
    assert_not_leader(claim, &world.server);
    let verify = bureau.verify(pb::VerifyRequest {}).await;
    assert_not_leader(verify, &world.server);

    let (code, said) = voucherctl(&standby, &token, &["verify"]);
    assert_ne!(code, Some(0), "{said}");
    assert!(said.contains("UNAVAILABLE NOT_LEADER"), "{said}");
    assert!(said.contains(&world.server.address.to_string()), "{said}");
    let (code, said) = voucherctl(&standby, &token, &["verify"]);
    assert_ne!(code, Some(0), "{said}");

    let after = get_voucher(&mut world.bureau, &voucher.voucher_id).await;
    assert_eq!(
        yuan(&after.redeemed),
        "1500.00",
        "the refused claim is absent"
    );
    assert_verified(&mut world.bureau).await;
}

/// What the claimants heard: each acknowledged claim's invoice, id and subsidy, and the
/// invoices refused past the cap.
#[derive(Clone, Default)]
struct Heard {
    acknowledged: BTreeMap<String, (String, i64)>,
    refused_past_cap: Vec<String>,
    /// When each server first decided a claim (acknowledged it, or refused it past the cap):
    /// by its address.
    first_decided: BTreeMap<String, Instant>,
}

/// Fen of a wire amount.
fn fen(money: &Option<voucher_ledger::proto::google::r#type::Money>) -> i64 {
    let money = money.as_ref().expect("an amount");
    money.units * 100 + i64::from(money.nanos / 10_000_000)
}

/// One claimant: claims invoice after invoice (serials `first`, `first + CLIENTS`, …) on
/// whichever server accepts, switching to the next address on UNAVAILABLE (NOT_LEADER, or a
/// server gone) and retrying the same invoice until it is acknowledged or refused. Stops
/// after `stop` is set, once its current invoice is settled.
async fn claimant(
    addresses: Vec<String>,
    token: String,
    voucher: pb::Voucher,
    first: u64,
    stop: Arc<AtomicBool>,
    heard: Arc<std::sync::Mutex<Heard>>,
) {
    let mut clients: Vec<Option<Client>> = addresses.iter().map(|_| None).collect();
    let mut target = 0;
    let mut serial = first;
    let give_up = Instant::now() + TAKEOVER_DEADLINE * 2;
    while !stop.load(Ordering::SeqCst) {
        let number = invoice(serial);
        loop {
            assert!(Instant::now() < give_up, "claim {number} never settled");
            let answer = claim_once(
                &mut clients[target],
                &addresses[target],
                &token,
                &voucher,
                &number,
            )
            .await;
            let mut heard = heard.lock().expect("heard");
            match answer {
                Ok(redemption) => {
                    heard
                        .first_decided
                        .entry(addresses[target].clone())
                        .or_insert_with(Instant::now);
                    let subsidy = fen(&redemption.subsidy);
                    heard
                        .acknowledged
                        .insert(number, (redemption.redemption_id, subsidy));
                    break;
                }
                Err(status) if status.code() == Code::FailedPrecondition => {
                    assert_eq!(reason(&status), "CAP_EXCEEDED", "{status:?}");
                    heard
                        .first_decided
                        .entry(addresses[target].clone())
                        .or_insert_with(Instant::now);
                    heard.refused_past_cap.push(number);
                    break;
                }
                Err(status)
                    if matches!(
                        status.code(),
                        Code::Unavailable | Code::Unknown | Code::Cancelled
                    ) =>
                {
                    drop(heard);
                    clients[target] = None;
                    target = (target + 1) % addresses.len();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(status) => panic!("claim {number} refused unexpectedly: {status:?}"),
            }
        }
        serial += CLIENTS;
    }
}

/// One try of one claim on one server (connecting first if need be).
async fn claim_once(
    client: &mut Option<Client>,
    address: &str,
    token: &str,
    voucher: &pb::Voucher,
    number: &str,
) -> Result<pb::Redemption, tonic::Status> {
    if client.is_none() {
        let channel = test_endpoint(&format!("http://{address}"))
            .connect()
            .await
            .map_err(|error| tonic::Status::unavailable(error.to_string()))?;
        *client = Some(VoucherLedgerClient::with_interceptor(
            channel,
            bearer(token),
        ));
    }
    let Some(connected) = client.as_mut() else {
        return Err(tonic::Status::unavailable("not connected"));
    };
    connected
        .redeem(redeem_request(
            voucher,
            number,
            "2027-06-01",
            INVOICE_AMOUNT,
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// Every claim the ledger holds for `voucher`: invoice number → (id, subsidy in fen).
async fn claims_held(bureau: &mut Client) -> BTreeMap<String, (String, i64)> {
    let mut held = BTreeMap::new();
    let mut page_token = String::new();
    loop {
        let page = bureau
            .list_redemptions(pb::ListRedemptionsRequest {
                enterprise_credit_code: ENTERPRISE.to_owned(),
                page_size: 1000,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .expect("claims listed")
            .into_inner();
        for claim in page.redemptions {
            held.insert(
                claim.invoice_number,
                (claim.redemption_id, fen(&claim.subsidy)),
            );
        }
        if page.next_page_token.is_empty() {
            return held;
        }
        page_token = page.next_page_token;
    }
}

/// After a takeover: exactly the acknowledged claims are there (every claim settled, so none
/// other), the enterprise is within its cap, and the new writer's ledger verifies.
async fn check_after_takeover(writer: &TestServer, token: &str, heard: &Heard, round: usize) {
    let mut bureau = writer.client(token).await;
    let held = claims_held(&mut bureau).await;
    for (number, acknowledged) in &heard.acknowledged {
        assert_eq!(
            held.get(number),
            Some(acknowledged),
            "round {round}: acknowledged claim {number} is not in the ledger as acknowledged"
        );
    }
    assert_eq!(
        held.len(),
        heard.acknowledged.len(),
        "round {round}: claims nobody was told of"
    );
    let totals = balance(&mut bureau, ENTERPRISE, pb::Program::Compute, "").await;
    let acknowledged: i64 = heard
        .acknowledged
        .values()
        .map(|(_, subsidy)| subsidy)
        .sum();
    assert_eq!(fen(&totals.redeemed), acknowledged, "round {round}");
    assert!(
        fen(&totals.redeemed) <= fen(&totals.cap),
        "round {round}: the cap was passed"
    );
    assert_verified(&mut bureau).await;
}

/// A pseudo-random number in `0..bound` (the moment of each kill).
fn random_below(bound: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    let mut state = u64::from(nanos) ^ 0x9e37_79b9_7f4a_7c15;
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    state % bound.max(1)
}

/// Sets up the ledger for the failover test: the first voucherd (the writer), the bureau's
/// and a provider's tokens, and a voucher up to the enterprise's cap.
async fn failover_world(url: &str) -> (TestServer, String, String, pb::Voucher) {
    let mut world = World::new_in(DataDir::new(), TODAY, &["--store", url]).await;
    let voucher = issue(&mut world.bureau, "failover", pb::Program::Compute, None).await;
    let provider = create_token(&mut world.bureau, pb::Role::Provider, COMPUTE_PROVIDER).await;
    let token = world.server.bureau_token.clone();
    (world.server, token, provider, voucher)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_redemptions_survive_failover() {
    let Some(postgres) = TestPostgres::start() else {
        return;
    };
    let rounds: usize = std::env::var("VOUCHER_FAILOVER_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(20);
    let url = postgres.url("postgres");
    let (mut active, token, provider, voucher) = failover_world(&url).await;
    let mut standby = voucherd_on(&url).await;
    let heard = Arc::new(std::sync::Mutex::new(Heard::default()));
    let mut worst = Duration::ZERO;
    let mut takeovers = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let took = one_round(round, &active, &standby, &provider, &voucher, &heard).await;
        worst = worst.max(took);
        takeovers.push(took);
        // The killed one is restarted: the next round's standby.
        let restarted = voucherd_on(&url).await;
        active = std::mem::replace(&mut standby, restarted);
        let so_far = heard.lock().expect("heard").clone();
        check_after_takeover(&active, &token, &so_far, round).await;
    }
    let heard = heard.lock().expect("heard").clone();
    takeovers.sort();
    println!(
        "failover: {rounds} rounds, {} claims acknowledged, {} refused past the cap; takeover (kill -9 to the first write accepted by the new writer): median {:?}, worst {worst:?}",
        heard.acknowledged.len(),
        heard.refused_past_cap.len(),
        takeovers.get(rounds / 2).copied().unwrap_or_default(),
    );
    past_the_cap_is_refused(&active, &token, &provider, &voucher).await;
}

/// One round: claimants on both servers, the active one killed at a random moment, until
/// the standby decides a claim. Returns the takeover time (kill to that claim).
async fn one_round(
    round: usize,
    active: &TestServer,
    standby: &TestServer,
    provider: &str,
    voucher: &pb::Voucher,
    heard: &Arc<std::sync::Mutex<Heard>>,
) -> Duration {
    let addresses = vec![active.address.to_string(), standby.address.to_string()];
    heard.lock().expect("heard").first_decided.clear();
    let stop = Arc::new(AtomicBool::new(false));
    let claimants: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let first = 1 + (round as u64) * 1_000_000 + client;
            tokio::spawn(claimant(
                addresses.clone(),
                provider.to_owned(),
                voucher.clone(),
                first,
                stop.clone(),
                heard.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100 + random_below(900))).await;
    let pid = nix::unistd::Pid::from_raw(i32::try_from(active.pid()).expect("a pid fits"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("kill -9");
    let killed = Instant::now();
    let standby_address = standby.address.to_string();
    let took = loop {
        if let Some(first) = heard
            .lock()
            .expect("heard")
            .first_decided
            .get(&standby_address)
        {
            break first.saturating_duration_since(killed);
        }
        if killed.elapsed() > TAKEOVER_DEADLINE {
            break TAKEOVER_DEADLINE;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    stop.store(true, Ordering::SeqCst);
    for claimant in claimants {
        within(
            TAKEOVER_DEADLINE * 3,
            "a claimant to settle its last claim",
            claimant,
        )
        .await
        .expect("the claimant ran to its end");
    }
    assert!(
        took < TAKEOVER_DEADLINE,
        "round {round}: no write accepted by the standby within {TAKEOVER_DEADLINE:?} of the kill; its log:\n{}",
        standby.log()
    );
    took
}

/// Once the cap is all but reached: a claim of exactly what is left is accepted, one fen more
/// is refused CAP_EXCEEDED.
async fn past_the_cap_is_refused(
    writer: &TestServer,
    token: &str,
    provider: &str,
    voucher: &pb::Voucher,
) {
    let mut client = writer.client(provider).await;
    let left = {
        let mut bureau = writer.client(token).await;
        let totals = balance(&mut bureau, ENTERPRISE, pb::Program::Compute, "").await;
        fen(&totals.cap) - fen(&totals.redeemed)
    };
    if left > 0 {
        let invoice_fen = left * 2;
        let amount = format!("{}.{:02}", invoice_fen / 100, invoice_fen % 100);
        client
            .redeem(redeem_request(
                voucher,
                &invoice(999_999_999),
                "2027-06-01",
                &amount,
            ))
            .await
            .expect("a claim up to the cap exactly");
    }
    let over = client
        .redeem(redeem_request(
            voucher,
            &invoice(999_999_998),
            "2027-06-01",
            "0.02",
        ))
        .await;
    expect_refusal(over, Code::FailedPrecondition, "CAP_EXCEEDED");
}

#[tokio::test]
async fn a_paused_writer_cannot_commit_after_its_lease_is_taken() {
    let Some(postgres) = TestPostgres::start() else {
        return;
    };
    let url = postgres.url("postgres");
    let mut world = World::new_in(DataDir::new(), TODAY, &["--store", &url]).await;
    let voucher = issue(&mut world.bureau, "paused", pb::Program::Compute, None).await;
    redeem_each(&mut world.compute_provider, &voucher, 1..=2, "1000").await;
    let token = world.server.bureau_token.clone();
    let provider_token =
        create_token(&mut world.bureau, pb::Role::Provider, COMPUTE_PROVIDER).await;
    // A token the old writer has answered (and so keeps in memory), revoked by the new one.
    let doomed = world
        .bureau
        .create_token(pb::CreateTokenRequest {
            role: pb::Role::Provider as i32,
            provider_credit_code: COMPUTE_PROVIDER.to_owned(),
            description: "revoked while the writer was paused".to_owned(),
            ..Default::default()
        })
        .await
        .expect("token created")
        .into_inner();
    let mut doomed_on_old = world.server.client(&doomed.token).await;
    doomed_on_old
        .list_redemptions(pb::ListRedemptionsRequest::default())
        .await
        .expect("the token works before the pause");
    let standby = voucherd_on(&url).await;

    let paused = nix::unistd::Pid::from_raw(i32::try_from(world.server.pid()).expect("a pid fits"));
    nix::sys::signal::kill(paused, nix::sys::signal::Signal::SIGSTOP).expect("SIGSTOP");
    let took = wait_for_writer(&standby, &token, TAKEOVER_DEADLINE).await;
    println!("the standby took over {took:?} after the writer was paused");
    let mut provider = standby.client(&provider_token).await;
    let on_new = provider
        .redeem(redeem_request(&voucher, &invoice(10), "2027-06-01", "1000"))
        .await
        .expect("the new writer accepts a claim")
        .into_inner();
    standby
        .client(&token)
        .await
        .revoke_token(pb::RevokeTokenRequest {
            token_id: doomed.token_id.clone(),
        })
        .await
        .expect("the new writer revokes a token");

    nix::sys::signal::kill(paused, nix::sys::signal::Signal::SIGCONT).expect("SIGCONT");
    // The old writer, running again, must not answer from what it kept before the pause.
    let revoked_read = doomed_on_old
        .list_redemptions(pb::ListRedemptionsRequest::default())
        .await;
    assert!(
        revoked_read.is_err(),
        "the resumed writer answered a token revoked during its pause: {revoked_read:?}"
    );
    // On the connection opened before the pause: the claim reaches the old writer.
    let on_old = world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(11), "2027-06-01", "1000"))
        .await;
    assert!(
        on_old.is_err(),
        "the paused writer acknowledged a claim: {on_old:?}"
    );
    let exit = world.server.exit_within(TAKEOVER_DEADLINE);
    assert!(
        exit.is_some_and(|status| !status.success()),
        "the old writer steps down with a failure exit, got {exit:?}; log:\n{}",
        world.server.log()
    );
    let log = world.server.log();
    assert!(
        log.contains("no longer holds the writer lease")
            || log.contains("another voucherd took the writer lease"),
        "the old writer stopped because of the lease: {log}"
    );

    let mut bureau = standby.client(&token).await;
    let held = claims_held(&mut bureau).await;
    let numbers: Vec<&String> = held.keys().collect();
    assert_eq!(
        numbers,
        [invoice(1), invoice(2), invoice(10)]
            .iter()
            .collect::<Vec<_>>(),
        "exactly the acknowledged claims"
    );
    assert_eq!(held[&invoice(10)].0, on_new.redemption_id);
    let after = get_voucher(&mut bureau, &voucher.voucher_id).await;
    assert_eq!(yuan(&after.redeemed), "1500.00");
    assert_verified(&mut bureau).await;
}

#[tokio::test]
async fn a_standby_names_the_address_the_active_advertises() {
    let Some(postgres) = TestPostgres::start() else {
        return;
    };
    let url = postgres.url("postgres");
    // Bound to 127.0.0.1 here; in a pod or behind a balancer it would be 0.0.0.0, which no client
    // can reach: the active names the address its clients use instead.
    let advertised = "ledger-a.example.gov.cn:50051";
    let mut world = World::new_in(
        DataDir::new(),
        TODAY,
        &["--store", &url, "--advertise-address", advertised],
    )
    .await;
    let token = world.server.bureau_token.clone();
    issue(&mut world.bureau, "advertised", pb::Program::Compute, None).await;
    let standby = voucherd_on(&url).await;
    let mut bureau = standby.client(&token).await;
    let refused = bureau
        .issue_voucher(issue_request(
            "on-standby",
            ENTERPRISE,
            pb::Program::Compute,
            Some("10"),
        ))
        .await;
    let status = expect_refusal(refused, Code::Unavailable, "NOT_LEADER");
    assert_eq!(
        error_metadata(&status, "leader").as_deref(),
        Some(advertised)
    );
    assert!(
        status.message().contains(advertised),
        "{}",
        status.message()
    );

    // The probe that sends writes to the active one: only the writer answers SERVING.
    let (code, said) = voucherctl(&world.server, &token, &["health", "--writer"]);
    assert_eq!(code, Some(0), "{said}");
    let (code, said) = voucherctl(&standby, &token, &["health", "--writer"]);
    assert_eq!(code, Some(1), "the standby does not write: {said}");
    let (code, said) = voucherctl(&standby, &token, &["health"]);
    assert_eq!(code, Some(0), "but it serves: {said}");
}
