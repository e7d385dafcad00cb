//! Golden ledgers: data directories and online backups written by earlier builds (and by this
//! format's first build), kept in `tests/golden/<build>/` with what that build reported about
//! them (`expected.json`). Every later build must restore each backup to the same head hash,
//! verify and open each directory (upgrading its records), show the same balances, vouchers
//! and claims, and go on writing to it. How they were made: `tests/golden/README.md`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;
use voucher_ledger::proto::voucher::v1 as pb;
use voucher_ledger::store::upgrade::RECORDS_FORMAT;

/// Every golden ledger, oldest first, with the records format its build wrote (see
/// `store::upgrade`): a directory in an older one is backed up and its records rebuilt.
const GOLDEN_LEDGERS: [(&str, u32); 7] = [
    ("cef3c4d", 1),
    ("d4e9db9", 1),
    ("event-format-2", 2),
    ("records-format-3", 3),
    ("event-format-3", 4),
    ("event-format-4", 5),
    ("event-format-5", 6),
];

struct Golden {
    name: &'static str,
    directory: PathBuf,
    expected: Value,
}

impl Golden {
    fn load(name: &'static str) -> Golden {
        let directory = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(name);
        let text = std::fs::read_to_string(directory.join("expected.json"))
            .unwrap_or_else(|error| panic!("{name}: expected.json: {error}"));
        let expected = serde_json::from_str(&text).expect("expected.json is JSON");
        Golden {
            name,
            directory,
            expected,
        }
    }

    fn today(&self) -> &str {
        self.text(&self.expected, "today")
    }

    fn head_sha256(&self) -> &str {
        self.text(&self.expected, "head_sha256")
    }

    fn event_count(&self) -> u64 {
        self.expected["event_count"]
            .as_u64()
            .expect("event_count is a number")
    }

    fn list(&self, key: &str) -> &Vec<Value> {
        self.expected[key]
            .as_array()
            .unwrap_or_else(|| panic!("{}: expected.json has no list {key}", self.name))
    }

    fn text<'a>(&self, value: &'a Value, key: &str) -> &'a str {
        value[key]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no text {key} in {value}", self.name))
    }
}

fn voucherd(arguments: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_voucherd"))
        .args(arguments)
        .output_within_deadline()
        .expect("voucherd runs")
}

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn program(name: &str) -> pb::Program {
    match name {
        "compute" => pb::Program::Compute,
        "leasing" => pb::Program::Leasing,
        other => panic!("unknown program {other}"),
    }
}

/// `VOUCHER_STATUS_ACTIVE` → `active`.
fn status_name(wire_name: &str, prefix: &str) -> String {
    wire_name
        .strip_prefix(prefix)
        .unwrap_or(wire_name)
        .to_ascii_lowercase()
}

/// Every balance, voucher and claim the writing build reported, read through gRPC.
async fn assert_as_written(golden: &Golden, bureau: &mut Client) {
    let name = golden.name;
    for expected in golden.list("balances") {
        let enterprise = golden.text(expected, "enterprise");
        let program_name = golden.text(expected, "program");
        let balance = balance(bureau, enterprise, program(program_name), "").await;
        assert_eq!(
            (yuan(&balance.committed), yuan(&balance.redeemed)),
            (
                golden.text(expected, "committed").to_owned(),
                golden.text(expected, "redeemed").to_owned()
            ),
            "{name}: balance of {enterprise} under {program_name}"
        );
    }
    for expected in golden.list("vouchers") {
        let voucher_id = golden.text(expected, "voucher_id");
        let voucher = get_voucher(bureau, voucher_id).await;
        let status = pb::VoucherStatus::try_from(voucher.status).expect("a known status");
        assert_eq!(
            (
                voucher.enterprise_credit_code.as_str(),
                yuan(&voucher.face_value),
                yuan(&voucher.redeemed),
                status_name(status.as_str_name(), "VOUCHER_STATUS_"),
            ),
            (
                golden.text(expected, "enterprise"),
                golden.text(expected, "face_value").to_owned(),
                golden.text(expected, "redeemed").to_owned(),
                golden.text(expected, "status").to_owned(),
            ),
            "{name}: {voucher_id}"
        );
    }
    for expected in golden.list("redemptions") {
        let redemption_id = golden.text(expected, "redemption_id");
        let redemption = bureau
            .get_redemption(pb::GetRedemptionRequest {
                redemption_id: redemption_id.to_owned(),
            })
            .await
            .unwrap_or_else(|status| panic!("{name}: {redemption_id}: {status:?}"))
            .into_inner();
        let status = pb::RedemptionStatus::try_from(redemption.status).expect("a known status");
        assert_eq!(
            (
                redemption.voucher_id.as_str(),
                redemption.invoice_number.as_str(),
                yuan(&redemption.subsidy),
                status_name(status.as_str_name(), "REDEMPTION_STATUS_"),
            ),
            (
                golden.text(expected, "voucher_id"),
                golden.text(expected, "invoice_number"),
                golden.text(expected, "subsidy").to_owned(),
                golden.text(expected, "status").to_owned(),
            ),
            "{name}: {redemption_id}"
        );
    }
    assert_access_as_written(golden, bureau).await;
    assert_enterprise_part_as_written(golden, bureau).await;
}

/// Applications, notices, bound vouchers and the enterprise's answers to claims, for ledgers
/// written since event format 4.
async fn assert_enterprise_part_as_written(golden: &Golden, bureau: &mut Client) {
    let name = golden.name;
    for expected in optional_list(golden, "applications") {
        let application_id = golden.text(expected, "application_id");
        let application = bureau
            .get_application(pb::GetApplicationRequest {
                application_id: application_id.to_owned(),
            })
            .await
            .unwrap_or_else(|status| panic!("{name}: {application_id}: {status:?}"))
            .into_inner();
        let status = pb::ApplicationStatus::try_from(application.status).expect("known");
        assert_eq!(
            (
                application.enterprise_credit_code.as_str(),
                yuan(&application.amount),
                application.provider_credit_codes.clone(),
                application.contract_number.as_str(),
                status_name(status.as_str_name(), "APPLICATION_STATUS_"),
                application.voucher_id.as_str(),
                application.rejection_reason.as_str(),
            ),
            (
                golden.text(expected, "enterprise"),
                golden.text(expected, "amount").to_owned(),
                codes(&expected["providers"]),
                golden.text(expected, "contract_number"),
                golden.text(expected, "status").to_owned(),
                golden.text(expected, "voucher_id"),
                golden.text(expected, "rejection_reason"),
            ),
            "{name}: {application_id}"
        );
    }
    for expected in optional_list(golden, "notices") {
        let notice_id = golden.text(expected, "notice_id");
        let notice = bureau
            .get_notice(pb::GetNoticeRequest {
                notice_id: notice_id.to_owned(),
            })
            .await
            .unwrap_or_else(|status| panic!("{name}: {notice_id}: {status:?}"))
            .into_inner();
        let lines: Vec<(String, String)> = notice
            .lines
            .iter()
            .map(|line| (line.redemption_id.clone(), yuan(&line.subsidy)))
            .collect();
        let expected_lines: Vec<(String, String)> = expected["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|line| {
                (
                    golden.text(line, "redemption_id").to_owned(),
                    golden.text(line, "subsidy").to_owned(),
                )
            })
            .collect();
        assert_eq!(
            (yuan(&notice.total), notice.posted_from.as_str(), lines),
            (
                golden.text(expected, "total").to_owned(),
                golden.text(expected, "posted_from"),
                expected_lines
            ),
            "{name}: {notice_id}"
        );
    }
    assert_claims_and_bindings_as_written(golden, bureau).await;
    assert_steps_as_written(golden, bureau).await;
    assert_event_filters_as_written(golden, bureau).await;
}

/// Who made each step of the records the writing build reported (event format 5 on).
async fn assert_steps_as_written(golden: &Golden, bureau: &mut Client) {
    for expected in optional_list(golden, "steps") {
        let record = golden.text(expected, "record");
        let step = golden.text(expected, "step");
        let actor = step_actor(bureau, record, step)
            .await
            .unwrap_or_else(|| panic!("{}: {record} has no {step}", golden.name));
        assert_eq!(
            (actor.token_id.as_str(), actor.role.as_str()),
            (
                golden.text(expected, "token_id"),
                golden.text(expected, "role")
            ),
            "{}: {record}'s {step}",
            golden.name
        );
    }
}

/// The actor of one step of a voucher, claim, statement or application, as the server shows it.
async fn step_actor(bureau: &mut Client, record: &str, step: &str) -> Option<pb::Actor> {
    match record.chars().next() {
        Some('V') => {
            let voucher = get_voucher(bureau, record).await;
            match step {
                "issued_by" => voucher.issued_by,
                "closed_by" => voucher.closed_by,
                _ => None,
            }
        }
        Some('R') => {
            let claim = bureau
                .get_redemption(pb::GetRedemptionRequest {
                    redemption_id: record.to_owned(),
                })
                .await
                .ok()?
                .into_inner();
            match step {
                "redeemed_by" => claim.redeemed_by,
                "approved_by" => claim.approved_by,
                "closed_by" => claim.closed_by,
                "confirmed_by" => claim.confirmed_by,
                "reversed_by" => claim.reversed_by,
                _ => None,
            }
        }
        Some('S') => {
            let statement = bureau
                .get_settlement(pb::GetSettlementRequest {
                    settlement_id: record.to_owned(),
                })
                .await
                .ok()?
                .into_inner();
            match step {
                "created_by" => statement.created_by,
                "payment.recorded_by" => statement.payment.and_then(|payment| payment.recorded_by),
                _ => None,
            }
        }
        Some('A') => {
            let application = bureau
                .get_application(pb::GetApplicationRequest {
                    application_id: record.to_owned(),
                })
                .await
                .ok()?
                .into_inner();
            match step {
                "applied_by" => application.applied_by,
                "decided_by" => application.decided_by,
                _ => None,
            }
        }
        _ => None,
    }
}

/// What ListEvents gave the writing build for each filter: the same events, by the same actors.
async fn assert_event_filters_as_written(golden: &Golden, bureau: &mut Client) {
    for expected in optional_list(golden, "event_filters") {
        let text = |key: &str| {
            expected
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let request = pb::ListEventsRequest {
            record_id: text("record_id"),
            actor_token_id: text("actor_token_id"),
            ..Default::default()
        };
        let mut stream = bureau
            .list_events(request)
            .await
            .expect("events")
            .into_inner();
        let mut listed = Vec::new();
        while let Some(event) = stream.message().await.expect("an event") {
            listed.push((
                event.sequence,
                event.r#type,
                event.actor_token_id,
                event.actor_role,
            ));
        }
        let wanted: Vec<(u64, String, String, String)> = expected["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|event| {
                (
                    event["sequence"].as_u64().expect("a sequence"),
                    golden.text(event, "type").to_owned(),
                    golden.text(event, "token_id").to_owned(),
                    golden.text(event, "role").to_owned(),
                )
            })
            .collect();
        assert_eq!(listed, wanted, "{}: events for {expected}", golden.name);
    }
}

/// The providers each voucher is bound to, and each claim's correction, confirmation and
/// closing reason, where the writing build reported them.
async fn assert_claims_and_bindings_as_written(golden: &Golden, bureau: &mut Client) {
    let name = golden.name;
    for expected in golden.list("vouchers") {
        let Some(providers) = expected.get("providers") else {
            continue;
        };
        let voucher_id = golden.text(expected, "voucher_id");
        let voucher = get_voucher(bureau, voucher_id).await;
        assert_eq!(
            voucher.provider_credit_codes,
            codes(providers),
            "{name}: {voucher_id}'s providers"
        );
    }
    for expected in golden.list("redemptions") {
        let redemption_id = golden.text(expected, "redemption_id");
        let claim = bureau
            .get_redemption(pb::GetRedemptionRequest {
                redemption_id: redemption_id.to_owned(),
            })
            .await
            .unwrap_or_else(|status| panic!("{name}: {redemption_id}: {status:?}"))
            .into_inner();
        let optional = |key: &str| expected.get(key).and_then(Value::as_str).unwrap_or("");
        assert_eq!(
            (
                claim.corrects_redemption_id.as_str(),
                claim.closing_reason.as_str(),
                claim.confirmed_at.is_some(),
            ),
            (
                optional("corrects_redemption_id"),
                optional("closing_reason"),
                expected.get("confirmed") == Some(&Value::Bool(true)),
            ),
            "{name}: {redemption_id}'s enterprise part"
        );
    }
}

/// A list the writing build may not have had (empty then).
fn optional_list<'a>(golden: &'a Golden, key: &str) -> &'a [Value] {
    golden
        .expected
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn codes(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|codes| {
            codes
                .iter()
                .filter_map(|code| code.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Each provider's suspension and certificates, for ledgers written since event format 3.
async fn assert_access_as_written(golden: &Golden, bureau: &mut Client) {
    let Some(providers) = golden.expected.get("providers").and_then(Value::as_array) else {
        return;
    };
    for expected in providers {
        let credit_code = golden.text(expected, "credit_code");
        let provider = bureau
            .get_provider(pb::GetProviderRequest {
                credit_code: credit_code.to_owned(),
            })
            .await
            .unwrap_or_else(|status| panic!("{}: {credit_code}: {status:?}", golden.name))
            .into_inner();
        let suspension_reason = provider
            .suspension
            .as_ref()
            .map(|suspension| suspension.reason.clone());
        assert_eq!(
            (
                suspension_reason.is_some(),
                suspension_reason.unwrap_or_default(),
                provider.pinned_certificate_sha256.join(", "),
                provider.revoked_certificate_sha256.join(", "),
            ),
            (
                expected["suspended"] == Value::Bool(true),
                golden.text(expected, "suspension_reason").to_owned(),
                golden
                    .text(expected, "pinned_certificate_sha256")
                    .to_owned(),
                golden
                    .text(expected, "revoked_certificate_sha256")
                    .to_owned(),
            ),
            "{}: the access of provider {credit_code}",
            golden.name
        );
    }
}

/// Who caused the first event, as the server lists it.
async fn first_event_actor(client: &mut Client) -> String {
    let mut events = client
        .list_events(pb::ListEventsRequest {
            max_events: 1,
            ..Default::default()
        })
        .await
        .expect("events")
        .into_inner();
    let event = events
        .message()
        .await
        .expect("a message")
        .expect("an event");
    event.actor_role
}

/// The hash of event `sequence` as the server lists it.
async fn event_sha256(client: &mut Client, sequence: u64) -> String {
    let mut events = client
        .list_events(pb::ListEventsRequest {
            from_sequence: sequence,
            max_events: 1,
            ..Default::default()
        })
        .await
        .expect("events")
        .into_inner();
    let event = events
        .message()
        .await
        .expect("a message")
        .expect("the event exists");
    assert_eq!(event.sequence, sequence);
    event.sha256
}

#[tokio::test]
async fn every_golden_backup_restores_to_the_same_head_and_balances() {
    for (name, records_format) in GOLDEN_LEDGERS {
        let golden = Golden::load(name);
        let target = DataDir::new();
        let backup = golden.directory.join("ledger.backup");
        let restored = voucherd(&[
            "restore",
            backup.to_str().expect("utf-8"),
            "--data-dir",
            target.path().to_str().expect("utf-8"),
        ]);
        assert!(restored.status.success(), "{name}: {}", text(&restored));
        assert!(
            text(&restored).contains(golden.head_sha256()),
            "{name}: the restored head is the backup's: {}",
            text(&restored)
        );
        let bureau_token = std::fs::read_to_string(golden.directory.join("data/bureau.token"))
            .expect("the golden bureau token");
        let server = TestServer::start_in(target, golden.today(), &[]).await;
        let mut bureau = server.client(bureau_token.trim()).await;
        assert_as_written(&golden, &mut bureau).await;
        assert_eq!(
            event_sha256(&mut bureau, golden.event_count()).await,
            golden.head_sha256(),
            "{name}: the restored events hash as first written"
        );
        let first_actor = first_event_actor(&mut bureau).await;
        let expected_actor = if records_format < 6 {
            "unrecorded"
        } else {
            "ledger"
        };
        assert_eq!(
            first_actor, expected_actor,
            "{name}: events written before event format 5 say they name nobody"
        );
        assert_verified(&mut bureau).await;
    }
}

#[tokio::test]
async fn every_golden_data_directory_verifies_opens_and_takes_new_work() {
    for (name, records_format) in GOLDEN_LEDGERS {
        let golden = Golden::load(name);
        let data = DataDir::new();
        copy_directory(&golden.directory.join("data"), &data.path());
        let verified = voucherd(&["verify", "--data-dir", data.path().to_str().expect("utf-8")]);
        assert!(verified.status.success(), "{name}: {}", text(&verified));

        let server = TestServer::start_in(data, golden.today(), &[]).await;
        let mut bureau = server.bureau().await;
        assert_as_written(&golden, &mut bureau).await;
        assert_eq!(
            event_sha256(&mut bureau, golden.event_count()).await,
            golden.head_sha256(),
            "{name}: the stored events are untouched"
        );
        assert_verified(&mut bureau).await;
        let upgraded_with_backup = std::fs::read_dir(server.data().path())
            .expect("data directory")
            .flatten()
            .any(|entry| {
                entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with("before-upgrade-")
            });
        let written_in_an_older_layout = records_format < RECORDS_FORMAT;
        assert_eq!(
            upgraded_with_backup, written_in_an_older_layout,
            "{name}: a directory from an earlier build is backed up before its records are rebuilt"
        );

        redeem_once_more(&golden, &mut bureau, &server).await;
        let data = server.stop();
        let verified = voucherd(&["verify", "--data-dir", data.path().to_str().expect("utf-8")]);
        assert!(
            verified.status.success() && text(&verified).contains("VERIFIED"),
            "{name}: after new work on the old ledger: {}",
            text(&verified)
        );
    }
}

/// A new claim on the golden ledger's first voucher: new events chain onto the old ones.
async fn redeem_once_more(golden: &Golden, bureau: &mut Client, server: &TestServer) {
    let first = &golden.list("vouchers")[0];
    let voucher = get_voucher(bureau, golden.text(first, "voucher_id")).await;
    let before = balance(
        bureau,
        &voucher.enterprise_credit_code,
        pb::Program::Compute,
        "",
    )
    .await;
    let token = create_token(bureau, pb::Role::Provider, COMPUTE_PROVIDER).await;
    let mut provider = server.client(&token).await;
    let request = redeem_request(&voucher, &invoice(990_001), golden.today(), "100.00");
    let redemption = provider
        .redeem(request)
        .await
        .unwrap_or_else(|status| panic!("{}: a new claim: {status:?}", golden.name))
        .into_inner();
    assert_eq!(yuan(&redemption.subsidy), "50.00");
    let after = balance(
        bureau,
        &voucher.enterprise_credit_code,
        pb::Program::Compute,
        "",
    )
    .await;
    assert_eq!(
        fen(&after.redeemed) - fen(&before.redeemed),
        5_000,
        "{}",
        golden.name
    );
    assert_verified(bureau).await;
}

fn fen(amount: &Option<voucher_ledger::proto::google::r#type::Money>) -> i64 {
    let amount = amount.as_ref().expect("an amount");
    amount.units * 100 + i64::from(amount.nanos / 10_000_000)
}
