//! The ledger on PostgreSQL (`--store postgres://…`): a real voucherd on a throwaway
//! PostgreSQL started by the test (see `common/postgres.rs`). It keeps what it acknowledged
//! across restarts, moves to and from sled through a backup with the same head hash, lets
//! only one voucherd write (a second is a standby until the writer stops), and a writer whose
//! lease was taken commits nothing more; over TLS it checks the database's certificate.
//! Failover itself is tested in `failover.rs`.
//!
//! Needs PostgreSQL's `initdb` (Debian's `postgresql`; `.ci/run` installs it). Without it each
//! test says so and passes, except on CI (`CI` set), where it fails instead.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::postgres::TestPostgres;
use common::tls::Certificates;
use common::*;
use tonic::Code;
use voucher_ledger::proto::voucher::v1 as pb;

const TODAY: &str = "2027-06-15";

/// `voucherd` run offline (verify, restore) to its end.
fn voucherd(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_voucherd"))
        .args(arguments)
        .output_within_deadline()
        .expect("voucherd runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn voucherctl_backup(server: &TestServer, file: &Path) {
    let output = Command::new(env!("CARGO_BIN_EXE_voucherctl"))
        .env_remove("VOUCHER_TOKEN")
        .env("VOUCHER_ADDR", server.address.to_string())
        .env(
            "VOUCHER_TOKEN_FILE",
            server.data().path().join("bureau.token"),
        )
        .arg("backup")
        .arg(file)
        .output_within_deadline()
        .expect("voucherctl runs");
    assert!(output.status.success(), "backup: {}", text(&output));
}

/// A new data directory holding `token` as its bureau token (a restored ledger's own).
fn data_dir_with_token(token: &str) -> DataDir {
    let data = DataDir::new();
    std::fs::create_dir_all(data.path()).expect("data directory");
    std::fs::write(data.path().join("bureau.token"), format!("{token}\n")).expect("token");
    data
}

async fn verified_head(server: &TestServer) -> (u64, String) {
    let report = assert_verified(&mut server.bureau().await).await;
    (report.events, report.head_sha256)
}

#[tokio::test]
async fn a_ledger_on_postgres_keeps_caps_and_balances_across_a_restart() {
    let Some(postgres) = TestPostgres::start() else {
        return;
    };
    let url = postgres.url("postgres");
    let mut world = World::new_in(DataDir::new(), TODAY, &["--store", &url]).await;
    assert_eq!(
        postgres.psql(
            "postgres",
            "SELECT string_agg(version::text, ',' ORDER BY version) FROM voucher_schema_migrations"
        ),
        "1,2",
        "voucherd created its schema"
    );
    let voucher = issue(&mut world.bureau, "all-of-it", pb::Program::Compute, None).await;
    let provider = &mut world.compute_provider;
    let first = provider
        .redeem(redeem_request(
            &voucher,
            &invoice(1),
            "2027-06-01",
            "3999999.98",
        ))
        .await
        .expect("under the cap");
    assert_eq!(yuan(&first.into_inner().subsidy), "1999999.99");
    let one_fen_over = provider
        .redeem(redeem_request(&voucher, &invoice(2), "2027-06-01", "0.04"))
        .await;
    expect_refusal(one_fen_over, Code::FailedPrecondition, "CAP_EXCEEDED");
    let before = balance(&mut world.bureau, ENTERPRISE, pb::Program::Compute, "").await;
    assert_eq!(yuan(&before.redeemed), "1999999.99");
    let head_before = verified_head(&world.server).await;
    let token = world.server.bureau_token.clone();

    let data = world.server.stop();
    let verified = voucherd(&["verify", "--store", &url]);
    assert!(
        verified.status.success(),
        "offline verify: {}",
        text(&verified)
    );
    let restarted = TestServer::start_in(data, TODAY, &["--store", &url]).await;
    assert_eq!(
        restarted.bureau_token, token,
        "the restart found the ledger initialised and wrote no new token"
    );
    // Every connection voucherd holds is cut, as a restart of PostgreSQL or a failover of its
    // address would: reads and writes go on over new connections.
    let cut = postgres.psql(
        "postgres",
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = 'voucherd'",
    );
    assert_ne!(cut, "0", "voucherd's connections were cut");
    let mut bureau = restarted.bureau().await;
    let after = balance(&mut bureau, ENTERPRISE, pb::Program::Compute, "").await;
    assert_eq!(yuan(&after.redeemed), "1999999.99");
    assert_eq!(yuan(&after.outstanding), yuan(&before.outstanding));
    assert_eq!(verified_head(&restarted).await, head_before);
    let mut provider = restarted
        .client(&create_token(&mut bureau, pb::Role::Provider, COMPUTE_PROVIDER).await)
        .await;
    let past = provider
        .redeem(redeem_request(&voucher, &invoice(3), "2027-06-01", "0.04"))
        .await;
    expect_refusal(past, Code::FailedPrecondition, "CAP_EXCEEDED");
}

#[tokio::test]
async fn a_backup_moves_the_ledger_from_sled_to_postgres_and_back_with_the_same_head() {
    let Some(postgres) = TestPostgres::start() else {
        return;
    };
    let mut world = World::new(TODAY).await;
    let voucher = issue(
        &mut world.bureau,
        "moved",
        pb::Program::Compute,
        Some("500000"),
    )
    .await;
    // Past 256 events and records: every range the store reads crosses its chunks.
    redeem_each(&mut world.compute_provider, &voucher, 1..=300, "100").await;
    let on_sled = verified_head(&world.server).await;
    let token = world.server.bureau_token.clone();
    let backups = tempfile::tempdir().expect("tempdir");
    let from_sled = backups.path().join("from-sled.backup");
    voucherctl_backup(&world.server, &from_sled);
    drop(world);

    let url = postgres.url("postgres");
    let file = from_sled.to_str().expect("utf-8");
    let restored = voucherd(&["restore", file, "--store", &url]);
    assert!(
        restored.status.success(),
        "restore into PostgreSQL: {}",
        text(&restored)
    );
    assert!(
        text(&restored).contains(&format!("restored {} events", on_sled.0)),
        "{}",
        text(&restored)
    );
    let again = voucherd(&["restore", file, "--store", &url]);
    assert!(
        !again.status.success(),
        "a second restore into the same database is refused"
    );
    assert!(
        text(&again).contains("already holds a ledger"),
        "{}",
        text(&again)
    );

    let on_postgres =
        TestServer::start_in(data_dir_with_token(&token), TODAY, &["--store", &url]).await;
    assert_eq!(verified_head(&on_postgres).await, on_sled);
    let mut bureau = on_postgres.bureau().await;
    let moved = get_voucher(&mut bureau, &voucher.voucher_id).await;
    assert_eq!(
        yuan(&moved.redeemed),
        "15000.00",
        "300 claims of 100 at half"
    );
    let from_postgres = backups.path().join("from-postgres.backup");
    voucherctl_backup(&on_postgres, &from_postgres);
    drop(on_postgres);

    assert_eq!(restored_on_sled(&from_postgres, &token).await, on_sled);
}

/// Restores `backup` into a new sled data directory holding `token`, starts voucherd on it,
/// and returns its verified head.
async fn restored_on_sled(backup: &Path, token: &str) -> (u64, String) {
    let back = DataDir::new();
    let restored = voucherd(&[
        "restore",
        backup.to_str().expect("utf-8"),
        "--data-dir",
        back.path().to_str().expect("utf-8"),
    ]);
    assert!(
        restored.status.success(),
        "restore into sled: {}",
        text(&restored)
    );
    std::fs::write(back.path().join("bureau.token"), format!("{token}\n")).expect("token");
    let on_sled = TestServer::start_in(back, TODAY, &[]).await;
    verified_head(&on_sled).await
}

/// How long a standby may take to become the writer before the test calls it a hang.
const WRITER_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// Starts voucherd on `url` expecting it to refuse; returns its exit and what it said.
fn refused_start(url: &str) -> String {
    let data = DataDir::new();
    let output = voucherd(&[
        "--listen",
        "127.0.0.1:0",
        "--today",
        TODAY,
        "--store",
        url,
        "--data-dir",
        data.path().to_str().expect("utf-8"),
    ]);
    assert!(
        !output.status.success(),
        "a second voucherd started: {}",
        text(&output)
    );
    assert!(
        !data.path().join("bureau.token").exists(),
        "the refused voucherd wrote no token"
    );
    text(&output)
}

#[tokio::test]
async fn a_second_voucherd_on_the_same_database_is_a_standby_until_the_writer_stops() {
    let Some(postgres) = TestPostgres::start() else {
        return;
    };
    let url = postgres.url("postgres");
    let world = World::new_in(DataDir::new(), TODAY, &["--store", &url]).await;
    let token = world.server.bureau_token.clone();
    let standby = TestServer::start_in(DataDir::new(), TODAY, &["--store", &url]).await;
    assert!(
        standby.log().contains("starting as a standby"),
        "{}",
        standby.log()
    );
    assert!(
        standby.log().contains(&world.server.address.to_string()),
        "names the writer's address {}: {}",
        world.server.address,
        standby.log()
    );
    let verify = voucherd(&["verify", "--store", &url]);
    assert_eq!(verify.status.code(), Some(2), "{}", text(&verify));
    assert!(
        text(&verify).contains("voucherctl verify"),
        "{}",
        text(&verify)
    );

    let newer = postgres.create_database("newer");
    postgres.psql(
        "newer",
        "CREATE TABLE voucher_schema_migrations (version int PRIMARY KEY, applied_at timestamptz); \
         INSERT INTO voucher_schema_migrations VALUES (99, now())",
    );
    let said = refused_start(&newer);
    assert!(
        said.contains("migrated by a newer build (schema version 99"),
        "{said}"
    );

    // Once the writer stops (and gives the lease up), the standby takes over at once.
    world.server.stop();
    let took = wait_for_writer(&standby, &token, WRITER_DEADLINE).await;
    println!("the standby took over {took:?} after the writer stopped");
    assert_verified(&mut standby.client(&token).await).await;
}

#[tokio::test]
async fn a_writer_whose_lease_was_taken_commits_nothing_more() {
    let Some(postgres) = TestPostgres::start() else {
        return;
    };
    let url = postgres.url("postgres");
    let mut world = World::new_in(DataDir::new(), TODAY, &["--store", &url]).await;
    let voucher = issue(
        &mut world.bureau,
        "fenced",
        pb::Program::Compute,
        Some("100000"),
    )
    .await;
    let head_before = verified_head(&world.server).await;
    // Another voucherd took the lease: a new epoch, another holder (what a standby's takeover
    // writes in the next stage).
    postgres.psql(
        "postgres",
        "UPDATE writer_lease SET epoch = epoch + 1, holder = 'the other voucherd', \
         address = '10.0.0.2:50051', expires_at = now() + interval '1 hour'",
    );
    let claim = world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "500"))
        .await;
    assert!(
        claim.is_err(),
        "a fenced writer acknowledged a claim: {claim:?}"
    );
    let data = world.server.kill();
    let log = std::fs::read_to_string(data.log_path()).unwrap_or_default();
    assert!(
        log.contains("no longer holds the writer lease")
            || log.contains("another voucherd took the writer lease"),
        "the writer stopped because of the lease: {log}"
    );
    assert_eq!(
        postgres.psql("postgres", "SELECT holder FROM writer_lease WHERE id = 1"),
        "the other voucherd",
        "the fenced voucherd did not take the lease back"
    );

    // The other one goes away; this ledger starts again and shows no trace of the claim.
    postgres.psql(
        "postgres",
        "UPDATE writer_lease SET expires_at = now() - interval '1 second'",
    );
    let restarted = TestServer::start_in(data, TODAY, &["--store", &url]).await;
    assert_eq!(verified_head(&restarted).await, head_before);
    let mut bureau = restarted.bureau().await;
    let after = get_voucher(&mut bureau, &voucher.voucher_id).await;
    assert_eq!(yuan(&after.redeemed), "0.00", "the refused claim is absent");
}

#[test]
fn the_store_is_configured_like_every_other_key_and_checked() {
    let check = |value: &str| {
        Command::new(env!("CARGO_BIN_EXE_voucherd"))
            .arg("--check-config")
            .env("VOUCHER_STORE", value)
            .output_within_deadline()
            .expect("voucherd runs")
    };
    let url = "postgres://voucher@db.example:5432/ledger";
    let good = check(url);
    assert!(good.status.success(), "{}", text(&good));
    assert!(
        text(&good).contains(&format!("store = \"{url}\"")),
        "{}",
        text(&good)
    );
    let bad = check("/var/lib/voucher");
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("key `store`"), "{}", text(&bad));
    // What starting on it would refuse, refused by the check already, naming what is wrong.
    let refused = [
        (format!("{url}?sslmode=prefer"), "sslmode=prefer"),
        (format!("{url}?sslmode=verify-full"), "sslrootcert"),
        (
            format!("{url}?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"),
            "/nonexistent/ca.pem",
        ),
        (format!("{url}?connect_timeout=soon"), "connect_timeout"),
    ];
    for (address, named) in refused {
        let checked = check(&address);
        assert_eq!(
            checked.status.code(),
            Some(2),
            "{address}: {}",
            text(&checked)
        );
        assert!(
            text(&checked).contains("key `store`") && text(&checked).contains(named),
            "{address}: {}",
            text(&checked)
        );
    }
}

#[tokio::test]
async fn a_voucherd_killed_outright_starts_again_once_its_lease_lapses() {
    let Some(postgres) = TestPostgres::start() else {
        return;
    };
    let url = postgres.url("postgres");
    let mut world = World::new_in(DataDir::new(), TODAY, &["--store", &url]).await;
    let voucher = issue(
        &mut world.bureau,
        "killed",
        pb::Program::Compute,
        Some("100000"),
    )
    .await;
    redeem_each(&mut world.compute_provider, &voucher, 1..=3, "400").await;
    let head = verified_head(&world.server).await;
    // kill -9: the lease is not given up, so the restarted voucherd serves as a standby
    // until it lapses (3 s), then takes over.
    let token = world.server.bureau_token.clone();
    let data = world.server.kill();
    let started = std::time::Instant::now();
    let restarted = TestServer::start_in(data, TODAY, &["--store", &url]).await;
    wait_for_writer(&restarted, &token, WRITER_DEADLINE).await;
    println!("the restart took over after {:?}", started.elapsed());
    assert_eq!(verified_head(&restarted).await, head);
    let after = get_voucher(&mut restarted.bureau().await, &voucher.voucher_id).await;
    assert_eq!(
        yuan(&after.redeemed),
        "600.00",
        "every acknowledged claim is there"
    );
}

#[tokio::test]
async fn over_tls_voucherd_checks_the_database_certificate_and_sends_nothing_in_the_clear() {
    let Some(postgres) = TestPostgres::start() else {
        return;
    };
    let certificates = Certificates::new();
    let (certificate, key) = certificates.server();
    postgres.enable_tls(certificate, key);
    let files = tempfile::tempdir().expect("temporary directory");
    let ca = files.path().join("database-ca.pem");
    std::fs::write(&ca, &certificates.ca_pem).expect("write");
    let tls_url = |ca: &Path| {
        format!(
            "{}?sslmode=verify-full&sslrootcert={}",
            postgres.url("postgres"),
            ca.display()
        )
    };

    let impostor_ca = files.path().join("another-ca.pem");
    std::fs::write(&impostor_ca, &Certificates::new().ca_pem).expect("write");
    let refused = voucherd(&["verify", "--store", &tls_url(&impostor_ca)]);
    assert!(
        !refused.status.success() && text(&refused).contains("certificate"),
        "a database whose certificate another CA signed is refused: {}",
        text(&refused)
    );
    let opportunistic = format!("{}?sslmode=prefer", postgres.url("postgres"));
    let refused = voucherd(&["verify", "--store", &opportunistic]);
    assert!(
        !refused.status.success() && text(&refused).contains("sslmode=prefer"),
        "a mode that may fall back to the clear is refused: {}",
        text(&refused)
    );

    let url = tls_url(&ca);
    let mut world = World::new_in(DataDir::new(), TODAY, &["--store", &url]).await;
    let voucher = issue(&mut world.bureau, "tls", pb::Program::Compute, None).await;
    redeem_each(&mut world.compute_provider, &voucher, 1..=2, "1000").await;
    let after = get_voucher(&mut world.bureau, &voucher.voucher_id).await;
    assert_eq!(yuan(&after.redeemed), "1000.00");
    let connections = postgres.psql(
        "postgres",
        "SELECT count(*) FILTER (WHERE s.ssl) || ' of ' || count(*) FROM pg_stat_ssl s \
         JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'voucherd'",
    );
    let (encrypted, all) = connections
        .trim()
        .split_once(" of ")
        .expect("counts of voucherd's connections");
    assert!(
        all != "0" && encrypted == all,
        "every connection of voucherd's is TLS: {encrypted} of {all}"
    );
}

#[tokio::test]
async fn a_standby_taking_over_a_ledger_without_a_bureau_token_writes_one() {
    let Some(postgres) = TestPostgres::start() else {
        return;
    };
    let url = postgres.url("postgres");
    // The first voucherd initialises the database but dies before recording its bureau token
    // (here: its data directory cannot take the file, which is written first).
    let first = DataDir::new();
    std::fs::create_dir_all(first.path().join("bureau.token")).expect("directory");
    let data = first.path();
    let died = voucherd(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().expect("utf-8"),
        "--today",
        TODAY,
        "--store",
        &url,
    ]);
    assert!(!died.status.success(), "{}", text(&died));
    let tokens = "SELECT count(*) FROM entries WHERE substring(key from 1 for 3) = 'tk/'::bytea";
    assert_eq!(
        postgres.psql("postgres", tokens).trim(),
        "0",
        "no token recorded"
    );
    // Another voucherd held the lease meanwhile, so the next one starts as a standby.
    postgres.psql(
        "postgres",
        "UPDATE writer_lease SET epoch = epoch + 1, holder = 'voucherd elsewhere', \
         address = '192.0.2.1:50051', expires_at = now() + interval '2 seconds'",
    );
    let standby = TestServer::start_in(DataDir::new(), TODAY, &["--store", &url]).await;
    assert!(standby.bureau_token.is_empty(), "a standby writes no token");

    let written = standby.data().path().join("bureau.token");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !written.is_file() {
        assert!(
            std::time::Instant::now() < deadline,
            "the standby took over and wrote no bureau token: {}",
            standby.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let token = std::fs::read_to_string(&written).expect("token file");
    let mut bureau = standby.client(token.trim()).await;
    assert_eq!(
        postgres.psql("postgres", tokens).trim(),
        "1",
        "exactly one token"
    );
    let auditor = create_token(&mut bureau, pb::Role::Auditor, "").await;
    assert!(!auditor.is_empty(), "the written token acts as the bureau");
    assert_eq!(postgres.psql("postgres", tokens).trim(), "2");
}
