//! Every refusal of the core issue's list, sent over the wire: the code, the reason, the field
//! where there is one, and that nothing changed.

mod common;

use common::*;
use tonic::Code;
use tonic_types::StatusExt;
use voucher_ledger::proto::google::r#type::Money;
use voucher_ledger::proto::voucher::v1 as pb;

/// What a refusal must leave as it was.
#[derive(Debug, PartialEq)]
struct Snapshot {
    events: u64,
    vouchers: Vec<pb::Voucher>,
    redemptions: Vec<pb::Redemption>,
    balances: Vec<pb::Balance>,
}

async fn snapshot(bureau: &mut Client) -> Snapshot {
    let vouchers = bureau
        .list_vouchers(pb::ListVouchersRequest::default())
        .await
        .expect("vouchers")
        .into_inner()
        .vouchers;
    let redemptions = bureau
        .list_redemptions(pb::ListRedemptionsRequest::default())
        .await
        .expect("redemptions")
        .into_inner()
        .redemptions;
    let mut balances = Vec::new();
    for program in [pb::Program::Compute, pb::Program::Leasing] {
        balances.push(balance(bureau, ENTERPRISE, program, "").await);
    }
    let events = bureau
        .verify(pb::VerifyRequest {})
        .await
        .expect("verify")
        .into_inner()
        .events;
    Snapshot {
        events,
        vouchers,
        redemptions,
        balances,
    }
}

fn money(currency: &str, units: i64, nanos: i32) -> Option<Money> {
    Some(Money {
        currency_code: currency.to_owned(),
        units,
        nanos,
    })
}

/// The field a BadRequest names.
fn field(status: &tonic::Status) -> String {
    status
        .get_details_bad_request()
        .and_then(|bad_request| {
            bad_request
                .field_violations
                .first()
                .map(|violation| violation.field.clone())
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn malformed_redemptions_are_refused_whole_naming_the_field() {
    let mut world = World::new("2027-06-15").await;
    register_enterprise(&mut world.bureau, OTHER_ENTERPRISE, "另一家企业").await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("100000")).await;
    world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "100"))
        .await
        .expect("one redemption");
    let base = redeem_request(&voucher, &invoice(2), "2027-06-01", "100");
    let with = |change: &dyn Fn(&mut pb::RedeemRequest)| {
        let mut request = base.clone();
        change(&mut request);
        request
    };
    let cases: Vec<(&str, pb::RedeemRequest, &str, &str)> = vec![
        (
            "short credit code",
            with(&|r| r.enterprise_credit_code = "91440300192203821".into()),
            "enterprise_credit_code",
            "MALFORMED_CREDIT_CODE",
        ),
        (
            "letter O",
            with(&|r| r.enterprise_credit_code = "91440300192203821O".into()),
            "enterprise_credit_code",
            "MALFORMED_CREDIT_CODE",
        ),
        (
            "fraction of a fen",
            with(&|r| r.invoice_amount = money("CNY", 100, 5_000_000)),
            "invoice_amount",
            "FRACTION_OF_FEN",
        ),
        (
            "zero",
            with(&|r| r.invoice_amount = money("CNY", 0, 0)),
            "invoice_amount",
            "ZERO_AMOUNT",
        ),
        (
            "negative",
            with(&|r| r.invoice_amount = money("CNY", -100, 0)),
            "invoice_amount",
            "NEGATIVE_AMOUNT",
        ),
        (
            "dollars",
            with(&|r| r.invoice_amount = money("USD", 100, 0)),
            "invoice_amount",
            "UNSUPPORTED_CURRENCY",
        ),
        (
            "no currency",
            with(&|r| r.invoice_amount = money("", 100, 0)),
            "invoice_amount",
            "UNSUPPORTED_CURRENCY",
        ),
        (
            "over ten billion",
            with(&|r| r.invoice_amount = money("CNY", 10_000_000_000, 10_000_000)),
            "invoice_amount",
            "AMOUNT_TOO_LARGE",
        ),
        (
            "mixed signs",
            with(&|r| r.invoice_amount = money("CNY", 1, -10_000_000)),
            "invoice_amount",
            "MIXED_SIGNS",
        ),
        (
            "no amount",
            with(&|r| r.invoice_amount = None),
            "invoice_amount",
            "REQUIRED",
        ),
        (
            "malformed date",
            with(&|r| r.invoice_date = "2027/06/01".into()),
            "invoice_date",
            "MALFORMED_DATE",
        ),
        (
            "impossible date",
            with(&|r| r.invoice_date = "2027-02-29".into()),
            "invoice_date",
            "IMPOSSIBLE_DATE",
        ),
        (
            "no date",
            with(&|r| r.invoice_date = String::new()),
            "invoice_date",
            "REQUIRED",
        ),
        (
            "19-digit invoice",
            with(&|r| r.invoice_number = "2632000000000000001".into()),
            "invoice_number",
            "MALFORMED_INVOICE_NUMBER",
        ),
        (
            "11-digit code",
            with(&|r| r.invoice_number = "32002311300-01234567".into()),
            "invoice_number",
            "MALFORMED_INVOICE_NUMBER",
        ),
        (
            "malformed voucher id",
            with(&|r| r.voucher_id = "V1".into()),
            "voucher_id",
            "MALFORMED_ID",
        ),
    ];
    let before = snapshot(&mut world.bureau).await;
    for (name, request, expected_field, expected_reason) in cases {
        let status = world
            .compute_provider
            .redeem(request)
            .await
            .expect_err(name);
        assert_eq!(status.code(), Code::InvalidArgument, "{name}: {status:?}");
        assert_eq!(reason(&status), expected_reason, "{name}");
        assert_eq!(field(&status), expected_field, "{name}");
        assert!(
            status.message().starts_with(expected_field),
            "{name}: {}",
            status.message()
        );
    }
    assert_eq!(snapshot(&mut world.bureau).await, before);
}

#[tokio::test]
async fn redemptions_the_rules_refuse_change_nothing() {
    let mut world = World::new("2027-06-15").await;
    register_enterprise(&mut world.bureau, OTHER_ENTERPRISE, "另一家企业").await;
    register_provider(
        &mut world.bureau,
        ENTERPRISE,
        "自家算力",
        pb::Program::Compute,
    )
    .await;
    let self_token = create_token(&mut world.bureau, pb::Role::Provider, ENTERPRISE).await;
    let self_dealer = world.server.client(&self_token).await;
    let mut narrow = issue_request("narrow", ENTERPRISE, pb::Program::Compute, Some("100000"));
    narrow.valid_from = "2027-03-01".into();
    narrow.valid_until = "2027-05-31".into();
    let voucher = world
        .bureau
        .issue_voucher(narrow)
        .await
        .expect("issued")
        .into_inner();
    let revoked = issue(
        &mut world.bureau,
        "revoked",
        pb::Program::Compute,
        Some("100"),
    )
    .await;
    world
        .bureau
        .revoke_voucher(pb::RevokeVoucherRequest {
            voucher_id: revoked.voucher_id.clone(),
            reason: "测试".into(),
        })
        .await
        .expect("revoked");
    world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-04-01", "100"))
        .await
        .expect("one redemption");

    let before = snapshot(&mut world.bureau).await;
    let valid = redeem_request(&voucher, &invoice(2), "2027-04-01", "100");
    let mut other_enterprise = valid.clone();
    other_enterprise.enterprise_credit_code = OTHER_ENTERPRISE.into();
    let mut after_validity = valid.clone();
    after_validity.invoice_date = "2027-06-01".into();
    let mut in_future = valid.clone();
    in_future.invoice_date = "2027-06-16".into();
    let mut before_term = valid.clone();
    before_term.invoice_date = "2026-05-13".into();
    let mut unknown_voucher = valid.clone();
    unknown_voucher.voucher_id = "V000000009999".into();
    let mut conflicting = valid.clone();
    conflicting.invoice_number = invoice(1);
    conflicting.invoice_amount = Some(cny("200"));
    let cases = [
        (
            "buyer is not the voucher's (answered as no voucher)",
            world.compute_provider.clone(),
            other_enterprise,
            Code::NotFound,
            "NOT_FOUND",
        ),
        (
            "after validity",
            world.compute_provider.clone(),
            after_validity,
            Code::FailedPrecondition,
            "INVOICE_DATE_OUTSIDE_VALIDITY",
        ),
        (
            "in the future",
            world.compute_provider.clone(),
            in_future,
            Code::FailedPrecondition,
            "INVOICE_DATE_IN_FUTURE",
        ),
        (
            "before the term",
            world.compute_provider.clone(),
            before_term,
            Code::FailedPrecondition,
            "OUTSIDE_POLICY_TERM",
        ),
        (
            "revoked voucher",
            world.compute_provider.clone(),
            redeem_request(&revoked, &invoice(3), "2027-06-01", "10"),
            Code::FailedPrecondition,
            "VOUCHER_NOT_ACTIVE",
        ),
        (
            "lessor on compute",
            world.robot_lessor.clone(),
            valid.clone(),
            Code::FailedPrecondition,
            "PROGRAM_MISMATCH",
        ),
        (
            "provider is the buyer",
            self_dealer.clone(),
            valid.clone(),
            Code::FailedPrecondition,
            "SELF_DEALING",
        ),
        (
            "unknown voucher",
            world.compute_provider.clone(),
            unknown_voucher,
            Code::NotFound,
            "NOT_FOUND",
        ),
        (
            "invoice used with another payload",
            world.compute_provider.clone(),
            conflicting,
            Code::AlreadyExists,
            "INVOICE_ALREADY_REDEEMED",
        ),
    ];
    for (name, mut client, request, code, expected_reason) in cases {
        let status = client.redeem(request).await.expect_err(name);
        assert_eq!(
            (status.code(), reason(&status)),
            (code, expected_reason.to_owned()),
            "{name}: {}",
            status.message()
        );
    }
    assert_eq!(snapshot(&mut world.bureau).await, before);
}

#[tokio::test]
async fn bad_registrations_issues_and_queries_are_refused() {
    let mut world = World::new("2027-06-15").await;
    let bureau = &mut world.bureau;
    let before = snapshot(bureau).await;

    let bad_check_digit = pb::RegisterEnterpriseRequest {
        credit_code: "914403001922038217".into(),
        name: "校验位错误".into(),
        ..Default::default()
    };
    let status = expect_refusal(
        bureau.register_enterprise(bad_check_digit.clone()).await,
        Code::InvalidArgument,
        "CREDIT_CODE_CHECK_DIGIT",
    );
    assert_eq!(field(&status), "credit_code");
    assert!(
        status.message().contains("expected 6"),
        "{}",
        status.message()
    );
    let mut overridden = bad_check_digit;
    overridden.check_digit_override_reason = "营业执照原件核验无误，系统赋码错误".into();
    let registered = bureau
        .register_enterprise(overridden)
        .await
        .expect("override accepted")
        .into_inner();
    assert!(!registered.check_digit_valid);
    let issued_to_override = bureau
        .issue_voucher(issue_request(
            "override",
            "914403001922038217",
            pb::Program::Leasing,
            Some("10"),
        ))
        .await
        .expect("an overridden code works everywhere");
    assert_eq!(
        issued_to_override.into_inner().enterprise_credit_code,
        "914403001922038217"
    );

    let same_code_other_name = pb::RegisterEnterpriseRequest {
        credit_code: ENTERPRISE.into(),
        name: "别的名字".into(),
        ..Default::default()
    };
    expect_refusal(
        bureau.register_enterprise(same_code_other_name).await,
        Code::AlreadyExists,
        "ENTERPRISE_EXISTS",
    );

    let unknown_program = pb::IssueVoucherRequest {
        program: 99,
        ..issue_request("p", ENTERPRISE, pb::Program::Compute, None)
    };
    expect_refusal(
        bureau.issue_voucher(unknown_program).await,
        Code::InvalidArgument,
        "UNKNOWN_PROGRAM",
    );
    let no_program = issue_request("p", ENTERPRISE, pb::Program::Unspecified, None);
    expect_refusal(
        bureau.issue_voucher(no_program).await,
        Code::InvalidArgument,
        "REQUIRED",
    );
    let not_offered = issue_request("p", ENTERPRISE, pb::Program::Corpus, None);
    expect_refusal(
        bureau.issue_voucher(not_offered).await,
        Code::InvalidArgument,
        "PROGRAM_NOT_OFFERED",
    );
    let no_request_id = issue_request("", ENTERPRISE, pb::Program::Compute, None);
    expect_refusal(
        bureau.issue_voucher(no_request_id).await,
        Code::InvalidArgument,
        "REQUIRED",
    );
    let unregistered = issue_request("p", OTHER_ENTERPRISE, pb::Program::Compute, None);
    expect_refusal(
        bureau.issue_voucher(unregistered).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let unregistered_bad_digit =
        issue_request("p", "91110108551385082R", pb::Program::Compute, None);
    expect_refusal(
        bureau.issue_voucher(unregistered_bad_digit).await,
        Code::InvalidArgument,
        "CREDIT_CODE_CHECK_DIGIT",
    );
    let mut across_years = issue_request("p", ENTERPRISE, pb::Program::Compute, None);
    across_years.valid_from = "2027-12-01".into();
    across_years.valid_until = "2028-01-31".into();
    expect_refusal(
        bureau.issue_voucher(across_years).await,
        Code::InvalidArgument,
        "VALIDITY_CROSSES_CAP_PERIOD",
    );
    let mut past_term = issue_request("p", ENTERPRISE, pb::Program::Leasing, None);
    past_term.valid_until = "2028-05-14".into();
    expect_refusal(
        bureau.issue_voucher(past_term).await,
        Code::FailedPrecondition,
        "OUTSIDE_POLICY_TERM",
    );
    let mut reversed = issue_request("p", ENTERPRISE, pb::Program::Compute, None);
    reversed.valid_from = "2027-06-30".into();
    reversed.valid_until = "2027-06-01".into();
    expect_refusal(
        bureau.issue_voucher(reversed).await,
        Code::InvalidArgument,
        "VALIDITY_REVERSED",
    );

    let big_page = pb::ListRedemptionsRequest {
        page_size: 1001,
        ..Default::default()
    };
    let status = expect_refusal(
        bureau.list_redemptions(big_page).await,
        Code::InvalidArgument,
        "PAGE_SIZE_OUT_OF_RANGE",
    );
    assert_eq!(field(&status), "page_size");
    let bad_token = pb::ListVouchersRequest {
        page_token: "not-a-token".into(),
        ..Default::default()
    };
    expect_refusal(
        bureau.list_vouchers(bad_token).await,
        Code::InvalidArgument,
        "MALFORMED_PAGE_TOKEN",
    );
    let unknown_voucher = pb::GetVoucherRequest {
        voucher_id: "V000000000999".into(),
    };
    expect_refusal(
        bureau.get_voucher(unknown_voucher).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let unknown_redemption = pb::GetRedemptionRequest {
        redemption_id: "R000000000999".into(),
    };
    expect_refusal(
        bureau.get_redemption(unknown_redemption).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let unknown_enterprise = pb::GetEnterpriseRequest {
        credit_code: OTHER_ENTERPRISE.into(),
    };
    expect_refusal(
        bureau.get_enterprise(unknown_enterprise).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let unknown_token = pb::RevokeTokenRequest {
        token_id: "T000000000999".into(),
    };
    expect_refusal(
        bureau.revoke_token(unknown_token).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let outside_term = pb::GetBalanceRequest {
        enterprise_credit_code: ENTERPRISE.into(),
        program: pb::Program::Compute as i32,
        on_date: "2029-01-01".into(),
    };
    expect_refusal(
        bureau.get_balance(outside_term).await,
        Code::FailedPrecondition,
        "OUTSIDE_POLICY_TERM",
    );

    let after = snapshot(bureau).await;
    assert_eq!(
        after.events,
        before.events + 2,
        "only the overridden registration and its voucher were recorded"
    );
    assert_eq!(after.redemptions, before.redemptions);
    assert_eq!(
        after.balances, before.balances,
        "only the overridden enterprise's voucher was added"
    );
}
