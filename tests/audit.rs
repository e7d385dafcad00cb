//! What an auditor checks: the hash-chained log (exported, and checked by a script that shares
//! no code with the ledger), `verify` catching a tampered balance and a tampered event, and a
//! backup taken while serving that restores to the same balances.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use tonic::Code;
use voucher_ledger::proto::voucher::v1 as pb;

fn voucherd(arguments: &[&str], data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_voucherd"))
        .args(arguments)
        .arg("--data-dir")
        .arg(data_dir)
        .output_within_deadline()
        .expect("voucherd runs")
}

fn voucherctl(server: &TestServer, arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_voucherctl"))
        .env_remove("VOUCHER_TOKEN")
        .env("VOUCHER_ADDR", server.address.to_string())
        .env(
            "VOUCHER_TOKEN_FILE",
            server.data().path().join("bureau.token"),
        )
        .args(arguments)
        .output_within_deadline()
        .expect("voucherctl runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn check_chain(file: &Path) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/check_chain.py");
    Command::new("python3")
        .arg(script)
        .arg(file)
        .output_within_deadline()
        .expect("python3 runs")
}

/// A history with issues, redemptions, a reversal and a revocation.
async fn some_history(world: &mut World) {
    let compute = issue(&mut world.bureau, "c", pb::Program::Compute, Some("100000")).await;
    let leasing = issue(&mut world.bureau, "l", pb::Program::Leasing, Some("50000")).await;
    for serial in 1..=5 {
        world
            .compute_provider
            .redeem(redeem_request(
                &compute,
                &invoice(serial),
                "2027-06-01",
                "1000",
            ))
            .await
            .expect("redeemed");
        world
            .robot_lessor
            .redeem(redeem_request(
                &leasing,
                &invoice(100 + serial),
                "2027-06-01",
                "1000",
            ))
            .await
            .expect("redeemed");
    }
    let reverse = pb::ReverseRedemptionRequest {
        redemption_id: "R000000000003".into(),
        reason: "红冲".into(),
    };
    world
        .bureau
        .reverse_redemption(reverse)
        .await
        .expect("reversed");
    let revoke = pb::RevokeVoucherRequest {
        voucher_id: leasing.voucher_id,
        reason: "测试".into(),
    };
    world.bureau.revoke_voucher(revoke).await.expect("revoked");
}

#[tokio::test]
async fn the_exported_chain_checks_out_without_the_ledger_and_catches_an_edit() {
    let mut world = World::new("2027-06-15").await;
    some_history(&mut world).await;
    let export = world.server.data().path().join("events.jsonl");
    let exported = voucherctl(
        &world.server,
        &[
            "events",
            "export",
            "--output",
            export.to_str().expect("utf-8"),
        ],
    );
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    let checked = check_chain(&export);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );

    let events = world
        .bureau
        .list_events(pb::ListEventsRequest::default())
        .await
        .expect("events")
        .into_inner();
    let events: Vec<pb::LedgerEvent> = collect(events).await;
    let lines = std::fs::read_to_string(&export).expect("export");
    assert_eq!(lines.lines().count(), events.len());
    assert!(stdout(&checked).contains(&events.last().expect("events").sha256));
    assert!(
        events
            .iter()
            .any(|event| event.r#type == "redemption_reversed")
    );
    for pair in events.windows(2) {
        assert_eq!(pair[1].previous_sha256, pair[0].sha256);
    }

    let tampered = lines.replacen("\"subsidy\":\"500.00\"", "\"subsidy\":\"5000.00\"", 1);
    assert_ne!(tampered, lines);
    std::fs::write(&export, tampered).expect("write");
    let caught = check_chain(&export);
    assert_eq!(caught.status.code(), Some(1));

    let middle = world
        .bureau
        .list_events(pb::ListEventsRequest {
            from_sequence: 5,
            max_events: 3,
            ..Default::default()
        })
        .await
        .expect("events")
        .into_inner();
    let middle: Vec<u64> = collect(middle)
        .await
        .iter()
        .map(|event| event.sequence)
        .collect();
    assert_eq!(middle, vec![5, 6, 7]);
    let denied = world
        .compute_provider
        .list_events(pb::ListEventsRequest::default())
        .await;
    expect_refusal(denied, Code::PermissionDenied, "PERMISSION_DENIED");
}

async fn collect(mut stream: tonic::Streaming<pb::LedgerEvent>) -> Vec<pb::LedgerEvent> {
    let mut events = Vec::new();
    while let Some(event) = stream.message().await.expect("a message") {
        events.push(event);
    }
    events
}

#[tokio::test]
async fn verify_passes_on_a_sound_ledger_and_names_a_tampered_balance_and_event() {
    skip_on_postgres!("it edits sled's files (tests/postgres.rs verifies a database offline)");
    let mut world = World::new("2027-06-15").await;
    some_history(&mut world).await;
    let online = assert_verified(&mut world.bureau).await;
    assert!(online.records_checked > 20);
    let auditor_token = create_token(&mut world.bureau, pb::Role::Auditor, "").await;
    let mut auditor = world.server.client(&auditor_token).await;
    assert!(
        auditor
            .verify(pb::VerifyRequest {})
            .await
            .expect("an auditor may verify")
            .into_inner()
            .sound
    );
    expect_refusal(
        world.compute_provider.verify(pb::VerifyRequest {}).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );

    let World {
        server,
        bureau,
        compute_provider,
        robot_lessor,
    } = world;
    drop((bureau, compute_provider, robot_lessor, auditor));
    let data = server.stop();
    let sound = voucherd(&["verify"], &data.path());
    assert!(sound.status.success(), "{}", stdout(&sound));
    assert!(stdout(&sound).contains("VERIFIED"));

    let balance_copy = tempfile::tempdir().expect("tempdir");
    copy_directory(&data.path(), balance_copy.path());
    tamper(&balance_copy.path().join("ledger"), |key, value| {
        (key.starts_with(b"ca/compute/2027-01-01/") && key.ends_with(b"914403001922038216"))
            .then(|| value.replace("\"redeemed\":\"2000.00\"", "\"redeemed\":\"1500.00\""))
    });
    let caught = voucherd(&["verify"], balance_copy.path());
    assert_eq!(caught.status.code(), Some(1), "{}", stdout(&caught));
    let report = stdout(&caught);
    assert!(
        report.contains("ca/compute/2027-01-01/914403001922038216 differs from the replay"),
        "{report}"
    );
    assert!(
        report.contains("redeemed: stored \"1500.00\" but the replay says \"2000.00\""),
        "{report}"
    );
    assert!(report.contains("the first bad event is"), "{report}");

    let event_copy = tempfile::tempdir().expect("tempdir");
    copy_directory(&data.path(), event_copy.path());
    let mut altered_sequence = 0;
    tamper(&event_copy.path().join("ledger"), |key, value| {
        let altered = (key.starts_with(b"ev/")
            && value.contains("\"redemption_accepted\"")
            && altered_sequence == 0)
            .then(|| value.replacen("\"subsidy\":\"500.00\"", "\"subsidy\":\"5.00\"", 1));
        if altered.is_some() {
            altered_sequence = u64::from_be_bytes(key[3..].try_into().expect("8 bytes"));
        }
        altered
    });
    let caught = voucherd(&["verify"], event_copy.path());
    assert_eq!(caught.status.code(), Some(1));
    let report = stdout(&caught);
    assert!(
        report.contains(&format!("the first bad event is {altered_sequence}")),
        "{report}"
    );

    // Start-up loads the stored state without replaying the log (that is verify's work, above)
    // but refuses a log whose last event is not the one the stored head names.
    let head_copy = tempfile::tempdir().expect("tempdir");
    copy_directory(&data.path(), head_copy.path());
    let last = last_event_key(&head_copy.path().join("ledger"));
    tamper(&head_copy.path().join("ledger"), |key, value| {
        (key == last.as_slice()).then(|| value.replacen("\"at\":\"", "\"at\":\" ", 1))
    });
    let last_sequence = u64::from_be_bytes(last[3..].try_into().expect("8 bytes"));
    let refused_start = TestServer::try_start_in(head_copy.path(), "2027-06-15");
    assert!(
        refused_start.contains(&format!("broken at event {last_sequence}")),
        "{refused_start}"
    );
}

/// The key of the last event in a stopped ledger.
fn last_event_key(ledger: &Path) -> Vec<u8> {
    let db = sled::open(ledger).expect("opens the copy");
    let (key, _) = db
        .scan_prefix(b"ev/")
        .next_back()
        .expect("an event")
        .expect("readable");
    key.to_vec()
}

/// Rewrites stored values in a stopped ledger where `change` says so.
fn tamper(ledger: &Path, mut change: impl FnMut(&[u8], &str) -> Option<String>) {
    let db = sled::open(ledger).expect("opens the copy");
    let mut changed = 0;
    for entry in db.iter() {
        let (key, value) = entry.expect("entry");
        let text = String::from_utf8_lossy(&value).into_owned();
        if let Some(new_value) = change(&key, &text).filter(|new_value| *new_value != text) {
            db.insert(key, new_value.as_bytes()).expect("insert");
            changed += 1;
        }
    }
    assert_eq!(changed, 1, "exactly one stored value is altered");
    db.flush().expect("flush");
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_to_the_same_balances() {
    skip_on_postgres!("it restores into sled data directories (tests/postgres.rs: both ways)");
    let mut world = World::new("2027-06-15").await;
    some_history(&mut world).await;
    let voucher = issue(
        &mut world.bureau,
        "busy",
        pb::Program::Compute,
        Some("500000"),
    )
    .await;
    let mut load = world.compute_provider.clone();
    let writer = tokio::spawn(async move {
        for serial in 1000..1200 {
            load.redeem(redeem_request(
                &voucher,
                &invoice(serial),
                "2027-06-01",
                "10",
            ))
            .await
            .expect("redeemed under load");
        }
    });
    let backups = tempfile::tempdir().expect("tempdir");
    let during = backups.path().join("during.backup");
    let output = voucherctl(&world.server, &["backup", during.to_str().expect("utf-8")]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    writer.await.expect("load finished");
    let after = backups.path().join("after.backup");
    let output = voucherctl(&world.server, &["backup", after.to_str().expect("utf-8")]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout(&output).contains("events: "));

    let during_restored = backups.path().join("during-data");
    let restored = voucherd(
        &["restore", during.to_str().expect("utf-8")],
        &during_restored,
    );
    assert!(
        restored.status.success(),
        "{}{}",
        stdout(&restored),
        String::from_utf8_lossy(&restored.stderr)
    );
    assert!(stdout(&restored).contains("VERIFIED"));

    let after_restored = backups.path().join("after-data");
    let restored = voucherd(
        &["restore", after.to_str().expect("utf-8")],
        &after_restored,
    );
    assert!(restored.status.success(), "{}", stdout(&restored));
    let again = voucherd(
        &["restore", after.to_str().expect("utf-8")],
        &after_restored,
    );
    assert_eq!(
        again.status.code(),
        Some(2),
        "restore never overwrites a ledger"
    );

    let original: Vec<pb::Balance> = balances(&mut world.bureau).await;
    let token = world.server.bureau_token.clone();
    let copy = TestServer::start_on(&after_restored, "2027-06-15").await;
    let mut bureau = copy.client(&token).await;
    assert_eq!(
        balances(&mut bureau).await,
        original,
        "the original bureau token works on the restored ledger"
    );
    assert!(
        bureau
            .verify(pb::VerifyRequest {})
            .await
            .expect("verify")
            .into_inner()
            .sound
    );

    let corrupt = backups.path().join("corrupt.backup");
    let text = std::fs::read_to_string(&after).expect("backup");
    std::fs::write(&corrupt, text.replacen("\"1000.00\"", "\"1000.01\"", 1)).expect("write");
    let refused = voucherd(
        &["restore", corrupt.to_str().expect("utf-8")],
        &backups.path().join("corrupt-data"),
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("SHA-256"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(
        !backups.path().join("corrupt-data/ledger").exists(),
        "nothing is left of a failed restore"
    );
}

async fn balances(bureau: &mut Client) -> Vec<pb::Balance> {
    vec![
        balance(bureau, ENTERPRISE, pb::Program::Compute, "").await,
        balance(bureau, ENTERPRISE, pb::Program::Leasing, "").await,
    ]
}
