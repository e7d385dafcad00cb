//! Confirmation before an irreversible step (issue 16 item 5): the first submit of revoke,
//! reverse, create a statement and record a payment changes nothing (checked over gRPC) and
//! answers a page stating the consequence in numbers, every field carried with
//! `confirmed=yes`; the second acts. A refusal found while preparing it is answered as before,
//! the form filled. Issuing to an enterprise that holds an active voucher warns first; a first
//! voucher issues at once.

use super::workbench::{fen, from_fen, grouped};
use super::*;

/// The page is a confirmation carrying `fields` and `confirmed=yes`.
fn assert_confirmation(page: &str, fields: &[(&str, &str)]) {
    assert!(page.contains("name=\"confirmed\" value=\"yes\""), "{page}");
    assert!(page.contains("返回"), "{page}");
    for (name, value) in fields {
        assert!(
            page.contains(&format!("name=\"{name}\" value=\"{value}\"")),
            "{name}={value} carried: {page}"
        );
    }
}

async fn redemption_status(world: &mut World, redemption_id: &str) -> pb::RedemptionStatus {
    world
        .bureau
        .get_redemption(pb::GetRedemptionRequest {
            redemption_id: redemption_id.to_owned(),
        })
        .await
        .expect("the claim")
        .into_inner()
        .status()
}

#[tokio::test]
async fn revoking_says_what_returns_to_the_cap_and_acts_only_when_confirmed() {
    let mut world = world_with_console().await;
    voucher_with_claims(&mut world, &["1000.00"]).await;
    let remaining = yuan(
        &get_voucher(&mut world.bureau, "V000000000001")
            .await
            .remaining,
    );
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let csrf = browser.csrf().await;
    let form = [
        ("csrf", csrf.as_str()),
        ("voucher_id", "v000000000001"),
        ("reason", "企业注销"),
    ];
    let (status, _, first) = browser.post("/actions/revoke-voucher", &form).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let expected = format!(
        "未使用的 {} 元退回企业 {ENTERPRISE} 的额度",
        grouped(&remaining)
    );
    assert!(first.contains(&expected), "{expected} in {first}");
    assert_confirmation(
        &first,
        &[("voucher_id", "v000000000001"), ("reason", "企业注销")],
    );
    let voucher = get_voucher(&mut world.bureau, "V000000000001").await;
    assert_eq!(
        voucher.status(),
        pb::VoucherStatus::Active,
        "nothing revoked yet"
    );

    let mut confirmed = form.to_vec();
    confirmed.push(("confirmed", "yes"));
    let (status, _, second) = browser.post("/actions/revoke-voucher", &confirmed).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert!(second.contains("已撤销 V000000000001"), "{second}");
    let voucher = get_voucher(&mut world.bureau, "V000000000001").await;
    assert_eq!(voucher.status(), pb::VoucherStatus::Revoked);
}

#[tokio::test]
async fn the_first_submit_changes_nothing_and_a_refusal_comes_back_as_the_form() {
    let mut world = world_with_console().await;
    voucher_with_claims(&mut world, &["1000.00"]).await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let csrf = browser.csrf().await;
    let form = [
        ("csrf", csrf.as_str()),
        ("voucher_id", "V000000000001"),
        ("reason", "企业注销"),
    ];
    let (status, _, page) = browser.post("/actions/revoke-voucher", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("确认撤销"), "{page}");
    let voucher = get_voucher(&mut world.bureau, "V000000000001").await;
    assert_eq!(
        voucher.status(),
        pb::VoucherStatus::Active,
        "nothing revoked yet"
    );

    // A voucher that does not exist: the form back, filled, the field marked; no confirmation.
    let missing = [
        ("csrf", csrf.as_str()),
        ("voucher_id", "V000000000009"),
        ("reason", "企业注销"),
    ];
    let (status, _, page) = browser.post("/actions/revoke-voucher", &missing).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
    assert!(!page.contains("name=\"confirmed\""), "{page}");
    assert!(page.contains("value=\"V000000000009\""), "{page}");
    let field = page
        .split("name=\"voucher_id\"")
        .nth(1)
        .and_then(|rest| rest.split('>').next())
        .expect("the voucher field");
    assert!(field.contains("aria-invalid=\"true\""), "{field}");

    // In English the same consequence, in English.
    browser.get("/language?to=en&back=%2Factions").await;
    let (status, _, page) = browser.post("/actions/revoke-voucher", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Revoke V000000000001: its unused"), "{page}");
    assert!(page.contains(">Back</a>"), "{page}");
}

#[tokio::test]
async fn clawing_back_a_paid_claim_states_the_sum_and_the_next_statement() {
    let mut world = world_with_console().await;
    let (_, claims) = voucher_with_claims(&mut world, &["3000.00"]).await;
    let bureau = &mut world.bureau;
    bureau
        .approve_redemption(pb::ApproveRedemptionRequest {
            redemption_id: "R000000000001".into(),
        })
        .await
        .expect("approved");
    settle_and_pay(bureau).await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let csrf = browser.csrf().await;
    let form = [
        ("csrf", csrf.as_str()),
        ("redemption_id", "R000000000001"),
        ("reason", "发票作废"),
    ];
    let (status, _, page) = browser.post("/actions/reverse-redemption", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let subsidy = grouped(&yuan(&claims[0].subsidy));
    let expected =
        format!("收回已拨付的 {subsidy} 元，计入服务商 {COMPUTE_PROVIDER} 的下一张结算单");
    assert!(page.contains(&expected), "{expected} in {page}");
    assert_confirmation(
        &page,
        &[("redemption_id", "R000000000001"), ("reason", "发票作废")],
    );
    assert_eq!(
        redemption_status(&mut world, "R000000000001").await,
        pb::RedemptionStatus::Settled,
        "the first submit claws nothing back"
    );

    let mut confirmed = form.to_vec();
    confirmed.push(("confirmed", "yes"));
    let (status, _, page) = browser
        .post("/actions/reverse-redemption", &confirmed)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        redemption_status(&mut world, "R000000000001").await,
        pb::RedemptionStatus::Reversed
    );
}

/// Settles the compute provider's approved claims and records the payment, over gRPC.
async fn settle_and_pay(bureau: &mut Client) {
    let statement = bureau
        .create_settlement(pb::CreateSettlementRequest {
            request_id: "s-1".into(),
            provider_credit_code: COMPUTE_PROVIDER.into(),
            program: pb::Program::Compute as i32,
            up_to_date: "2026-11-30".into(),
        })
        .await
        .expect("a statement")
        .into_inner();
    bureau
        .record_settlement_payment(pb::RecordSettlementPaymentRequest {
            settlement_id: statement.settlement_id,
            bank_reference: "国库支付 1".into(),
            paid_on: TODAY.into(),
        })
        .await
        .expect("paid");
}

#[tokio::test]
async fn a_statement_and_its_payment_are_confirmed_with_their_sums() {
    let mut world = world_with_console().await;
    let (_, claims) = voucher_with_claims(&mut world, &["1000.00", "2000.00"]).await;
    for claim in &claims {
        world
            .bureau
            .approve_redemption(pb::ApproveRedemptionRequest {
                redemption_id: claim.redemption_id.clone(),
            })
            .await
            .expect("approved");
    }
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let csrf = browser.csrf().await;
    let settle = [
        ("csrf", csrf.as_str()),
        ("request_id", "confirm-settle"),
        ("provider_credit_code", COMPUTE_PROVIDER),
        ("program", "compute"),
        ("up_to_date", "2026-11-30"),
    ];
    let (status, _, page) = browser.post("/actions/create-settlement", &settle).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let total: i64 = claims.iter().map(|claim| fen(&yuan(&claim.subsidy))).sum();
    let total = grouped(&from_fen(total));
    let expected = format!("已审核核销 2 笔，补贴合计 {total} 元");
    assert!(page.contains(&expected), "{expected} in {page}");
    assert_confirmation(
        &page,
        &[
            ("request_id", "confirm-settle"),
            ("up_to_date", "2026-11-30"),
        ],
    );
    let statements = world
        .bureau
        .list_settlements(pb::ListSettlementsRequest::default())
        .await
        .expect("listed")
        .into_inner();
    assert!(statements.settlements.is_empty(), "no statement yet");

    let mut confirmed = settle.to_vec();
    confirmed.push(("confirmed", "yes"));
    let (status, _, page) = browser.post("/actions/create-settlement", &confirmed).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("已生成结算单 S000000000001"), "{page}");

    let pay = [
        ("csrf", csrf.as_str()),
        ("settlement_id", "S000000000001"),
        ("bank_reference", "国库支付 20261120-3"),
        ("paid_on", TODAY),
    ];
    let (status, _, page) = browser
        .post("/actions/record-settlement-payment", &pay)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let expected = format!("拨付应付净额 {total} 元");
    assert!(page.contains(&expected), "{expected} in {page}");
    assert!(page.contains("凭证号 国库支付 20261120-3"), "{page}");
    let unpaid = world
        .bureau
        .get_settlement(pb::GetSettlementRequest {
            settlement_id: "S000000000001".into(),
        })
        .await
        .expect("the statement")
        .into_inner();
    assert!(unpaid.payment.is_none(), "the first submit records nothing");
    let mut confirmed = pay.to_vec();
    confirmed.push(("confirmed", "yes"));
    let (status, _, page) = browser
        .post("/actions/record-settlement-payment", &confirmed)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("结算单已拨付 S000000000001"), "{page}");
}

#[tokio::test]
async fn a_second_voucher_to_the_same_enterprise_warns_first_and_a_first_issues_at_once() {
    let mut world = world_with_console().await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let csrf = browser.csrf().await;
    let (status, _, page) = browser
        .issue_compute_voucher(&csrf, "first", "100,000.00")
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("已发券 V000000000001"),
        "a first voucher at once: {page}"
    );

    let form = [
        ("csrf", csrf.as_str()),
        ("request_id", "second"),
        ("enterprise_credit_code", ENTERPRISE),
        ("program", "compute"),
        ("face_value", "5万"),
        ("valid_from", ""),
        ("valid_until", ""),
    ];
    let (status, _, page) = browser.post("/actions/issue-voucher", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("已持有有效的算力券：V000000000001（面值 100,000.00 元"),
        "{page}"
    );
    assert!(page.contains("再发一张券（面值 50,000.00 元）"), "{page}");
    assert_confirmation(&page, &[("request_id", "second"), ("face_value", "5万")]);
    assert_eq!(
        vouchers_issued(&mut world.bureau).await,
        1,
        "nothing issued yet"
    );

    let mut confirmed = form.to_vec();
    confirmed.push(("confirmed", "yes"));
    let (status, _, page) = browser.post("/actions/issue-voucher", &confirmed).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("已发券 V000000000002"), "{page}");
    assert_eq!(vouchers_issued(&mut world.bureau).await, 2);
}
