//! From redemption to payment: review, settlement statements, clawbacks netted in the next
//! statement, program budgets, related parties and required evidence.

mod common;

use calamine::{Data, Reader, Xlsx, open_workbook};
use common::*;
use tonic::Code;
use voucher_ledger::domain::policy::DEFAULT_POLICY_TOML;
use voucher_ledger::proto::voucher::v1 as pb;

/// The default policy with a 2027 compute budget of 3,000,000.00 and leasing claims that must
/// carry a contract and a payment receipt.
fn policy_with_budget_and_evidence() -> String {
    let with_budget = DEFAULT_POLICY_TOML.replacen(
        "provider_kind = \"compute provider (算力服务商)\"",
        "provider_kind = \"compute provider (算力服务商)\"\nbudgets = { \"2027\" = \"3000000.00\" }",
        1,
    );
    with_budget.replacen(
        "provider_kind = \"embodied-robot lessor (具身机器人租赁商)\"",
        "provider_kind = \"embodied-robot lessor (具身机器人租赁商)\"\nrequired_evidence = [\"contract\", \"payment_receipt\"]",
        1,
    )
}

fn approve(id: &str) -> pb::ApproveRedemptionRequest {
    pb::ApproveRedemptionRequest {
        redemption_id: id.to_owned(),
    }
}

fn settle(request_id: &str, up_to: &str) -> pb::CreateSettlementRequest {
    pb::CreateSettlementRequest {
        request_id: request_id.to_owned(),
        provider_credit_code: COMPUTE_PROVIDER.to_owned(),
        program: pb::Program::Compute as i32,
        up_to_date: up_to.to_owned(),
    }
}

/// A compute claim on `voucher` for invoice `serial`, approved by the bureau.
async fn approved_claim(
    world: &mut World,
    voucher: &pb::Voucher,
    serial: u64,
    date: &str,
    amount: &str,
) -> pb::Redemption {
    let claim = world
        .compute_provider
        .redeem(redeem_request(voucher, &invoice(serial), date, amount))
        .await
        .expect("claimed")
        .into_inner();
    world
        .bureau
        .approve_redemption(approve(&claim.redemption_id))
        .await
        .expect("approved")
        .into_inner()
}

fn fen(money: &Option<voucher_ledger::proto::google::r#type::Money>) -> i64 {
    let money = money.as_ref().expect("an amount");
    money.units * 100 + i64::from(money.nanos / 10_000_000)
}

#[tokio::test]
async fn a_month_of_claims_settles_into_one_statement_that_adds_up() {
    let mut world = World::new("2027-07-05").await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("100000")).await;
    let mut redemptions = Vec::new();
    for day in 1..=10u64 {
        let amount = format!("{}.{:02}", 1000 + day * 37, day * 7);
        let request = redeem_request(
            &voucher,
            &invoice(day),
            &format!("2027-06-{:02}", day * 3),
            &amount,
        );
        redemptions.push(
            world
                .compute_provider
                .redeem(request)
                .await
                .expect("claimed")
                .into_inner(),
        );
    }
    for redemption in &redemptions[..8] {
        let approved = world
            .bureau
            .approve_redemption(approve(&redemption.redemption_id))
            .await
            .expect("approved")
            .into_inner();
        assert_eq!(approved.status, pb::RedemptionStatus::Approved as i32);
    }
    let reject = pb::RejectRedemptionRequest {
        redemption_id: redemptions[8].redemption_id.clone(),
        reason: "发票与合同不符".into(),
    };
    world
        .bureau
        .reject_redemption(reject)
        .await
        .expect("rejected");
    let provider_approving = world
        .compute_provider
        .approve_redemption(approve(&redemptions[9].redemption_id))
        .await;
    expect_refusal(
        provider_approving,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );

    let statement = world
        .bureau
        .create_settlement(settle("june", "2027-06-30"))
        .await
        .expect("settled")
        .into_inner();
    assert_eq!(statement.line_count, 8, "the approved claims only");
    let line_sum: i64 = statement.lines.iter().map(|line| fen(&line.subsidy)).sum();
    let expected: i64 = redemptions[..8].iter().map(|r| fen(&r.subsidy)).sum();
    assert_eq!(
        (fen(&statement.gross), line_sum),
        (expected, expected),
        "the total is the sum of its lines"
    );
    assert_eq!(fen(&statement.net), expected);
    assert_eq!(fen(&statement.clawed_back), 0);
    let again = world
        .bureau
        .create_settlement(settle("june", "2027-06-30"))
        .await
        .expect("a retry")
        .into_inner();
    assert_eq!(
        again, statement,
        "the same request_id returns the same statement"
    );
    let conflicting = world
        .bureau
        .create_settlement(settle("june", "2027-06-15"))
        .await;
    expect_refusal(conflicting, Code::AlreadyExists, "REQUEST_ID_REUSED");
    let nothing = world
        .bureau
        .create_settlement(settle("june-again", "2027-06-30"))
        .await;
    expect_refusal(nothing, Code::FailedPrecondition, "NOTHING_TO_SETTLE");

    let settled = world
        .bureau
        .get_redemption(pb::GetRedemptionRequest {
            redemption_id: redemptions[0].redemption_id.clone(),
        })
        .await
        .expect("redemption")
        .into_inner();
    assert_eq!(
        (settled.status, settled.settlement_id.as_str()),
        (
            pb::RedemptionStatus::Settled as i32,
            statement.settlement_id.as_str()
        )
    );
    let own = world
        .compute_provider
        .get_settlement(pb::GetSettlementRequest {
            settlement_id: statement.settlement_id.clone(),
        })
        .await;
    assert_eq!(
        own.expect("a provider sees its own statement").into_inner(),
        statement
    );
    let others = world
        .robot_lessor
        .get_settlement(pb::GetSettlementRequest {
            settlement_id: statement.settlement_id.clone(),
        })
        .await;
    expect_refusal(others, Code::NotFound, "NOT_FOUND");

    let summary = program_summary(&mut world.bureau, pb::Program::Compute).await;
    assert_eq!(fen(&summary.settled), expected);
    assert_eq!(fen(&summary.rejected), fen(&redemptions[8].subsidy));

    let directory = tempfile::tempdir().expect("tempdir");
    let xlsx = directory.path().join("statement.xlsx");
    let exported = std::process::Command::new(env!("CARGO_BIN_EXE_voucherctl"))
        .env("VOUCHER_ADDR", world.server.address.to_string())
        .env(
            "VOUCHER_TOKEN_FILE",
            world.server.data().path().join("bureau.token"),
        )
        .args([
            "settlement",
            "export",
            &statement.settlement_id,
            "--output",
            xlsx.to_str().expect("utf-8"),
        ])
        .output_within_deadline()
        .expect("voucherctl runs");
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    let mut workbook: Xlsx<_> = open_workbook(&xlsx).expect("an XLSX");
    let sheet = workbook
        .worksheet_range("结算单 Statement")
        .expect("the statement sheet");
    assert_eq!(
        sheet.get_value((0, 1)),
        Some(&Data::String(statement.settlement_id.clone()))
    );
    assert_eq!(
        sheet.get_value((8, 1)).and_then(|net| match net {
            Data::Float(value) => Some((value * 100.0).round() as i64),
            _ => None,
        }),
        Some(expected),
        "the net payable, a number"
    );
    let line_subsidies: i64 = (13..21)
        .map(|row| match sheet.get_value((row, 6)) {
            Some(Data::Float(value)) => (value * 100.0).round() as i64,
            other => panic!("row {row}: {other:?}"),
        })
        .sum();
    assert_eq!(
        line_subsidies, expected,
        "the spreadsheet's lines add up to the statement"
    );
    assert_verified(&mut world.bureau).await;
}

#[tokio::test]
async fn a_rejected_claim_releases_its_cap() {
    let mut world = World::new("2027-07-05").await;
    let voucher = issue(&mut world.bureau, "all", pb::Program::Compute, None).await;
    let big = world
        .compute_provider
        .redeem(redeem_request(
            &voucher,
            &invoice(1),
            "2027-06-01",
            "3999000.00",
        ))
        .await
        .expect("most of the cap")
        .into_inner();
    let blocked = world
        .compute_provider
        .redeem(redeem_request(
            &voucher,
            &invoice(2),
            "2027-06-02",
            "2000.00",
        ))
        .await;
    expect_refusal(blocked, Code::FailedPrecondition, "CAP_EXCEEDED");
    let reject = pb::RejectRedemptionRequest {
        redemption_id: big.redemption_id.clone(),
        reason: "重复申报".into(),
    };
    let rejected = world
        .bureau
        .reject_redemption(reject.clone())
        .await
        .expect("rejected")
        .into_inner();
    assert_eq!(
        (rejected.status, rejected.rejection_reason.as_str()),
        (pb::RedemptionStatus::Rejected as i32, "重复申报")
    );
    assert_eq!(
        world
            .bureau
            .reject_redemption(reject)
            .await
            .expect("idempotent")
            .into_inner(),
        rejected
    );
    let balance = balance(&mut world.bureau, ENTERPRISE, pb::Program::Compute, "").await;
    assert_eq!(yuan(&balance.redeemed), "0.00");
    world
        .compute_provider
        .redeem(redeem_request(
            &voucher,
            &invoice(2),
            "2027-06-02",
            "2000.00",
        ))
        .await
        .expect("the cap is free again");
    let reused = world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "10.00"))
        .await;
    expect_refusal(reused, Code::AlreadyExists, "INVOICE_ALREADY_REDEEMED");
    let approve_rejected = world
        .bureau
        .approve_redemption(approve(&big.redemption_id))
        .await;
    expect_refusal(
        approve_rejected,
        Code::FailedPrecondition,
        "REDEMPTION_NOT_OPEN",
    );
}

#[tokio::test]
async fn a_clawback_is_netted_in_the_next_statement_which_may_be_negative() {
    let mut world = World::new("2027-07-05").await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("100000")).await;
    let first = approved_claim(&mut world, &voucher, 1, "2027-06-01", "10000").await;
    let june = world
        .bureau
        .create_settlement(settle("june", "2027-06-30"))
        .await
        .expect("settled")
        .into_inner();
    assert_eq!(fen(&june.net), 500_000);

    let reverse = pb::ReverseRedemptionRequest {
        redemption_id: first.redemption_id.clone(),
        reason: "发票已红冲".into(),
    };
    let by_provider = world
        .compute_provider
        .reverse_redemption(reverse.clone())
        .await;
    expect_refusal(by_provider, Code::PermissionDenied, "PERMISSION_DENIED");
    let clawed = world
        .bureau
        .reverse_redemption(reverse)
        .await
        .expect("clawed back by the bureau")
        .into_inner();
    assert_eq!(clawed.status, pb::RedemptionStatus::Reversed as i32);
    assert_eq!(
        yuan(
            &balance(&mut world.bureau, ENTERPRISE, pb::Program::Compute, "")
                .await
                .redeemed
        ),
        "0.00",
        "the cap is returned"
    );

    approved_claim(&mut world, &voucher, 2, "2027-07-01", "4000").await;
    let july = world
        .bureau
        .create_settlement(settle("july", "2027-07-31"))
        .await
        .expect("settled")
        .into_inner();
    assert_eq!((july.line_count, july.clawbacks.len()), (1, 1));
    assert_eq!(
        (fen(&july.gross), fen(&july.clawed_back), fen(&july.net)),
        (200_000, 500_000, -300_000),
        "the provider owes 3,000.00"
    );
    let summary = program_summary(&mut world.bureau, pb::Program::Compute).await;
    assert_eq!(
        fen(&summary.settled),
        200_000,
        "5,000 paid, 5,000 recovered, 2,000 paid"
    );
    let listed = world
        .bureau
        .list_settlements(pb::ListSettlementsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        listed
            .settlements
            .iter()
            .map(|s| s.settlement_id.clone())
            .collect::<Vec<_>>(),
        vec![june.settlement_id, july.settlement_id]
    );
    assert_verified(&mut world.bureau).await;
}

#[tokio::test]
async fn a_program_budget_stops_issuing_when_it_is_spoken_for() {
    let mut world = World::with_policy(&policy_with_budget_and_evidence(), "2027-07-05", &[]).await;
    register_enterprise(&mut world.bureau, OTHER_ENTERPRISE, "第二家企业").await;
    let third = synthetic_code(3);
    register_enterprise(&mut world.bureau, &third, "第三家企业").await;
    let first = issue(&mut world.bureau, "first", pb::Program::Compute, None).await;
    assert_eq!(yuan(&first.face_value), "2000000.00");
    let over = world
        .bureau
        .issue_voucher(issue_request(
            "over",
            OTHER_ENTERPRISE,
            pb::Program::Compute,
            Some("1000000.01"),
        ))
        .await;
    let refused = expect_refusal(over, Code::FailedPrecondition, "BUDGET_EXCEEDED");
    assert_eq!(
        error_metadata(&refused, "remainingCny").as_deref(),
        Some("1000000.00")
    );
    let second = world
        .bureau
        .issue_voucher(issue_request(
            "second",
            OTHER_ENTERPRISE,
            pb::Program::Compute,
            None,
        ))
        .await
        .expect("issued")
        .into_inner();
    assert_eq!(
        yuan(&second.face_value),
        "1000000.00",
        "by default, what the budget leaves"
    );
    let exhausted = world
        .bureau
        .issue_voucher(issue_request("third", &third, pb::Program::Compute, None))
        .await;
    expect_refusal(exhausted, Code::FailedPrecondition, "BUDGET_EXCEEDED");
    let budget = world
        .bureau
        .get_budget(pb::GetBudgetRequest {
            program: pb::Program::Compute as i32,
            on_date: String::new(),
        })
        .await
        .expect("budget")
        .into_inner();
    assert_eq!(
        (
            yuan(&budget.budget),
            yuan(&budget.committed),
            yuan(&budget.available)
        ),
        ("3000000.00".into(), "3000000.00".into(), "0.00".into())
    );
    world
        .bureau
        .revoke_voucher(pb::RevokeVoucherRequest {
            voucher_id: second.voucher_id,
            reason: "项目取消".into(),
        })
        .await
        .expect("revoked");
    let after_revoke = world
        .bureau
        .issue_voucher(issue_request(
            "after-revoke",
            &third,
            pb::Program::Compute,
            None,
        ))
        .await
        .expect("the revoked voucher's face is back in the budget")
        .into_inner();
    assert_eq!(yuan(&after_revoke.face_value), "1000000.00");
    let leasing = issue(&mut world.bureau, "leasing", pb::Program::Leasing, None).await;
    assert_eq!(
        yuan(&leasing.face_value),
        "1000000.00",
        "no budget for leasing: the cap alone limits it"
    );
}

#[tokio::test]
async fn related_parties_and_missing_evidence_are_refused() {
    let mut world = World::with_policy(&policy_with_budget_and_evidence(), "2027-07-05", &[]).await;
    let compute = issue(&mut world.bureau, "c", pb::Program::Compute, Some("1000")).await;
    let record = pb::RecordRelatedPartiesRequest {
        provider_credit_code: COMPUTE_PROVIDER.into(),
        enterprise_credit_code: ENTERPRISE.into(),
        reason: "同一实际控制人".into(),
    };
    let by_provider = world
        .compute_provider
        .record_related_parties(record.clone())
        .await;
    expect_refusal(by_provider, Code::PermissionDenied, "PERMISSION_DENIED");
    world
        .bureau
        .record_related_parties(record)
        .await
        .expect("recorded");
    let related = world
        .compute_provider
        .redeem(redeem_request(&compute, &invoice(1), "2027-06-01", "100"))
        .await;
    let refused = expect_refusal(related, Code::FailedPrecondition, "RELATED_PARTY");
    assert!(
        !refused.message().contains("同一实际控制人"),
        "the bureau's reason stays the bureau's: {}",
        refused.message()
    );

    let leasing = issue(&mut world.bureau, "l", pb::Program::Leasing, Some("1000")).await;
    let bare = world
        .robot_lessor
        .redeem(redeem_request(&leasing, &invoice(2), "2027-06-01", "100"))
        .await;
    let refused = expect_refusal(bare, Code::FailedPrecondition, "EVIDENCE_REQUIRED");
    assert!(
        refused.message().contains("payment_receipt"),
        "{}",
        refused.message()
    );
    let document = |kind: pb::EvidenceKind, hash: char, reference: &str| pb::Evidence {
        kind: kind as i32,
        sha256: hash.to_string().repeat(64),
        reference: reference.to_owned(),
    };
    let mut documented = redeem_request(&leasing, &invoice(2), "2027-06-01", "100");
    documented.evidence = vec![
        document(pb::EvidenceKind::Contract, 'a', "租赁合同-2027-041.pdf"),
        document(
            pb::EvidenceKind::PaymentReceipt,
            'b',
            "oss://receipts/2027/06/0001.pdf",
        ),
    ];
    let accepted = world
        .robot_lessor
        .redeem(documented.clone())
        .await
        .expect("documented")
        .into_inner();
    assert_eq!(accepted.evidence, documented.evidence);
    let mut other_documents = documented.clone();
    other_documents.evidence[1].reference = "oss://receipts/2027/06/0002.pdf".into();
    let conflict = world.robot_lessor.redeem(other_documents).await;
    expect_refusal(conflict, Code::AlreadyExists, "INVOICE_ALREADY_REDEEMED");
    let mut malformed = documented;
    malformed.invoice_number = invoice(3);
    malformed.evidence[0].sha256 = "not-a-hash".into();
    let status = expect_refusal(
        world.robot_lessor.redeem(malformed).await,
        Code::InvalidArgument,
        "MALFORMED_SHA256",
    );
    assert!(status.message().starts_with("evidence.sha256"));
}

fn payment(
    settlement_id: &str,
    bank_reference: &str,
    paid_on: &str,
) -> pb::RecordSettlementPaymentRequest {
    pb::RecordSettlementPaymentRequest {
        settlement_id: settlement_id.to_owned(),
        bank_reference: bank_reference.to_owned(),
        paid_on: paid_on.to_owned(),
    }
}

#[tokio::test]
async fn a_statement_is_paid_once_and_its_payment_survives_a_restart() {
    let mut world = World::new("2027-07-05").await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("100000")).await;
    approved_claim(&mut world, &voucher, 1, "2027-06-01", "10000").await;
    let june = world
        .bureau
        .create_settlement(settle("june", "2027-06-30"))
        .await
        .expect("settled")
        .into_inner();
    assert_eq!(june.payment, None, "a new statement waits for its payment");
    let id = june.settlement_id.clone();
    let reference = "国库集中支付 2027070500017";

    let auditor_token = create_token(&mut world.bureau, pb::Role::Auditor, "").await;
    let mut auditor = world.server.client(&auditor_token).await;
    for caller in [&mut world.compute_provider, &mut auditor] {
        let refused = caller
            .record_settlement_payment(payment(&id, reference, "2027-07-05"))
            .await;
        expect_refusal(refused, Code::PermissionDenied, "PERMISSION_DENIED");
    }
    for (paid_on, why) in [
        ("2027-07-06", "tomorrow"),
        ("2027-07-04", "before the statement"),
    ] {
        let refused = world
            .bureau
            .record_settlement_payment(payment(&id, reference, paid_on))
            .await;
        let status = expect_refusal(
            refused,
            Code::FailedPrecondition,
            "PAYMENT_DATE_OUT_OF_RANGE",
        );
        assert!(
            status.message().starts_with("paid_on"),
            "{why}: {}",
            status.message()
        );
    }
    let blank = world
        .bureau
        .record_settlement_payment(payment(&id, "", "2027-07-05"))
        .await
        .expect_err("a payment needs a bank reference");
    assert_eq!(blank.code(), Code::InvalidArgument);
    assert!(
        blank.message().starts_with("bank_reference"),
        "{}",
        blank.message()
    );
    let unknown = world
        .bureau
        .record_settlement_payment(payment("S000000000099", reference, "2027-07-05"))
        .await
        .expect_err("no such statement");
    assert_eq!(unknown.code(), Code::NotFound);
    let still_waiting = world
        .bureau
        .get_settlement(pb::GetSettlementRequest {
            settlement_id: id.clone(),
        })
        .await
        .expect("statement")
        .into_inner();
    assert_eq!(
        still_waiting.payment, None,
        "a refused payment changes nothing"
    );

    let paid = world
        .bureau
        .record_settlement_payment(payment(&id, reference, "2027-07-05"))
        .await
        .expect("paid")
        .into_inner();
    let recorded = paid
        .payment
        .clone()
        .expect("the payment is on the statement");
    assert_eq!(
        (recorded.bank_reference.as_str(), recorded.paid_on.as_str()),
        (reference, "2027-07-05")
    );
    assert_eq!(
        (paid.line_count, fen(&paid.net)),
        (june.line_count, fen(&june.net)),
        "paying changes nothing else on the statement"
    );
    let retried = world
        .bureau
        .record_settlement_payment(payment(&id, reference, "2027-07-05"))
        .await
        .expect("the same payment again answers the statement")
        .into_inner();
    assert_eq!(retried.payment, paid.payment, "a retry records nothing new");
    let second = world
        .bureau
        .record_settlement_payment(payment(&id, "another transfer", "2027-07-05"))
        .await;
    let status = expect_refusal(second, Code::AlreadyExists, "SETTLEMENT_ALREADY_PAID");
    assert!(status.message().contains(reference), "{}", status.message());

    let data = world.server.stop();
    let server = TestServer::start_in(data, "2027-07-05", &[]).await;
    let mut bureau = server.bureau().await;
    let after_restart = bureau
        .get_settlement(pb::GetSettlementRequest {
            settlement_id: id.clone(),
        })
        .await
        .expect("statement")
        .into_inner();
    assert_eq!(after_restart.payment, paid.payment);
    let listed = bureau
        .list_settlements(pb::ListSettlementsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        listed.settlements[0].payment, paid.payment,
        "the listing shows it too"
    );
    assert_verified(&mut bureau).await;
}
