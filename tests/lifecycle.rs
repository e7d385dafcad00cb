//! A voucher's life: idempotent issue and redeem, conflicts, reversal, revocation and expiry
//! releasing what was committed.

mod common;

use common::*;
use tonic::Code;
use voucher_ledger::proto::voucher::v1 as pb;

#[tokio::test]
async fn issuing_again_with_the_same_request_id_returns_the_same_voucher() {
    let mut world = World::new("2027-06-15").await;
    let request = issue_request("req-1", ENTERPRISE, pb::Program::Compute, Some("1000"));
    let first = world
        .bureau
        .issue_voucher(request.clone())
        .await
        .expect("issued")
        .into_inner();
    let again = world
        .bureau
        .issue_voucher(request.clone())
        .await
        .expect("a retry")
        .into_inner();
    assert_eq!(first, again);
    let balance = balance(&mut world.bureau, ENTERPRISE, pb::Program::Compute, "").await;
    assert_eq!(
        yuan(&balance.committed),
        "1000.00",
        "the retry committed nothing more"
    );

    let mut other = request;
    other.face_value = Some(cny("2000"));
    expect_refusal(
        world.bureau.issue_voucher(other).await,
        Code::AlreadyExists,
        "REQUEST_ID_REUSED",
    );
}

#[tokio::test]
async fn an_invoice_is_subsidised_once_ever_across_programs() {
    let mut world = World::new("2027-06-15").await;
    let compute = issue(
        &mut world.bureau,
        "compute",
        pb::Program::Compute,
        Some("1000"),
    )
    .await;
    let leasing = issue(
        &mut world.bureau,
        "leasing",
        pb::Program::Leasing,
        Some("1000"),
    )
    .await;
    let request = redeem_request(&compute, &invoice(42), "2027-06-01", "100");
    let first = world
        .compute_provider
        .redeem(request.clone())
        .await
        .expect("redeemed")
        .into_inner();
    let replay = world
        .compute_provider
        .redeem(request.clone())
        .await
        .expect("a retry")
        .into_inner();
    assert_eq!(
        first, replay,
        "the same payload returns the first redemption, unchanged"
    );

    let mut other_amount = request.clone();
    other_amount.invoice_amount = Some(cny("101"));
    expect_refusal(
        world.compute_provider.redeem(other_amount).await,
        Code::AlreadyExists,
        "INVOICE_ALREADY_REDEEMED",
    );
    let other_program = redeem_request(&leasing, &invoice(42), "2027-06-01", "100");
    expect_refusal(
        world.robot_lessor.redeem(other_program).await,
        Code::AlreadyExists,
        "INVOICE_ALREADY_REDEEMED",
    );
    let compute_now = get_voucher(&mut world.bureau, &compute.voucher_id).await;
    assert_eq!(yuan(&compute_now.redeemed), "50.00");
}

#[tokio::test]
async fn a_reversal_returns_the_subsidy_and_keeps_the_invoice_used() {
    let mut world = World::new("2027-06-15").await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("1000")).await;
    let request = redeem_request(&voucher, &invoice(1), "2027-06-01", "2000");
    let redemption = world
        .compute_provider
        .redeem(request.clone())
        .await
        .expect("redeemed")
        .into_inner();
    assert_eq!(
        yuan(
            &get_voucher(&mut world.bureau, &voucher.voucher_id)
                .await
                .remaining
        ),
        "0.00"
    );

    let reverse = pb::ReverseRedemptionRequest {
        redemption_id: redemption.redemption_id.clone(),
        reason: "发票红冲".to_owned(),
    };
    let reversed = world
        .compute_provider
        .reverse_redemption(reverse.clone())
        .await
        .expect("reversed")
        .into_inner();
    assert_eq!(reversed.status, pb::RedemptionStatus::Reversed as i32);
    assert_eq!(reversed.reversal_reason, "发票红冲");
    assert!(reversed.reversed_at.is_some());
    let again = world
        .compute_provider
        .reverse_redemption(reverse)
        .await
        .expect("idempotent")
        .into_inner();
    assert_eq!(again, reversed);

    assert_eq!(
        yuan(
            &get_voucher(&mut world.bureau, &voucher.voucher_id)
                .await
                .remaining
        ),
        "1000.00"
    );
    let balance = balance(&mut world.bureau, ENTERPRISE, pb::Program::Compute, "").await;
    assert_eq!(yuan(&balance.redeemed), "0.00");
    let replayed = world
        .compute_provider
        .redeem(request)
        .await
        .expect("the same payload still answers")
        .into_inner();
    assert_eq!(
        replayed.status,
        pb::RedemptionStatus::Reversed as i32,
        "the reversed redemption, not a new one"
    );
    let fresh = redeem_request(&voucher, &invoice(1), "2027-06-01", "1000");
    expect_refusal(
        world.compute_provider.redeem(fresh).await,
        Code::AlreadyExists,
        "INVOICE_ALREADY_REDEEMED",
    );
}

#[tokio::test]
async fn revocation_releases_what_was_not_redeemed() {
    let mut world = World::new("2027-06-15").await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, None).await;
    world
        .compute_provider
        .redeem(redeem_request(
            &voucher,
            &invoice(1),
            "2027-06-01",
            "600000",
        ))
        .await
        .expect("300,000 redeemed");
    let revoke = pb::RevokeVoucherRequest {
        voucher_id: voucher.voucher_id.clone(),
        reason: "项目终止".to_owned(),
    };
    let revoked = world
        .bureau
        .revoke_voucher(revoke.clone())
        .await
        .expect("revoked")
        .into_inner();
    assert_eq!(revoked.status, pb::VoucherStatus::Revoked as i32);
    assert_eq!(
        (yuan(&revoked.redeemed), yuan(&revoked.remaining)),
        ("300000.00".into(), "0.00".into())
    );
    assert_eq!(revoked.revocation_reason, "项目终止");
    assert_eq!(
        world
            .bureau
            .revoke_voucher(revoke)
            .await
            .expect("idempotent")
            .into_inner(),
        revoked
    );

    let balance = balance(&mut world.bureau, ENTERPRISE, pb::Program::Compute, "").await;
    assert_eq!(
        (yuan(&balance.committed), yuan(&balance.available_to_issue)),
        ("300000.00".into(), "1700000.00".into())
    );
    let refused = world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(2), "2027-06-01", "10"))
        .await;
    expect_refusal(refused, Code::FailedPrecondition, "VOUCHER_NOT_ACTIVE");
    let next = issue(&mut world.bureau, "next", pb::Program::Compute, None).await;
    assert_eq!(
        yuan(&next.face_value),
        "1700000.00",
        "the released remainder can be issued again"
    );
}

#[tokio::test]
async fn expiry_after_the_grace_period_releases_the_remainder() {
    let mut world = World::new("2027-06-15").await;
    let mut request = issue_request("short", ENTERPRISE, pb::Program::Compute, Some("10000"));
    request.valid_from = "2027-06-01".to_owned();
    request.valid_until = "2027-06-30".to_owned();
    let voucher = world
        .bureau
        .issue_voucher(request)
        .await
        .expect("issued")
        .into_inner();
    assert_eq!(voucher.redeem_by, "2027-09-28");
    world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-10", "4000"))
        .await
        .expect("2,000 redeemed");
    let World {
        server,
        bureau,
        compute_provider,
        robot_lessor,
    } = world;
    drop((bureau, compute_provider, robot_lessor));

    // The last day of grace still redeems an invoice dated inside the validity.
    let on_last_day = TestServer::start_in(server.kill(), "2027-09-28", &[]).await;
    let provider_code = COMPUTE_PROVIDER.to_owned();
    let mut bureau = on_last_day.bureau().await;
    let mut late_claim = redeem_request(&voucher, &invoice(2), "2027-06-20", "2000");
    late_claim.provider_credit_code = provider_code;
    bureau
        .redeem(late_claim)
        .await
        .expect("still within redeem_by");
    drop(bureau);

    let after = TestServer::start_in(on_last_day.kill(), "2027-09-29", &[]).await;
    let mut bureau = after.bureau().await;
    let expired = get_voucher(&mut bureau, &voucher.voucher_id).await;
    assert_eq!(expired.status, pb::VoucherStatus::Expired as i32);
    assert!(expired.closed_at.is_some());
    assert_eq!(
        (yuan(&expired.redeemed), yuan(&expired.remaining)),
        ("3000.00".into(), "0.00".into())
    );
    let balance = balance(&mut bureau, ENTERPRISE, pb::Program::Compute, "2027-06-15").await;
    assert_eq!(
        (yuan(&balance.committed), yuan(&balance.redeemed)),
        ("3000.00".into(), "3000.00".into())
    );
    let mut too_late = redeem_request(&voucher, &invoice(3), "2027-06-20", "10");
    too_late.provider_credit_code = COMPUTE_PROVIDER.to_owned();
    expect_refusal(
        bureau.redeem(too_late).await,
        Code::FailedPrecondition,
        "VOUCHER_NOT_ACTIVE",
    );
}

#[tokio::test]
async fn lists_page_through_everything_in_order() {
    let mut world = World::new("2027-06-15").await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, None).await;
    redeem_each(&mut world.compute_provider, &voucher, 1..=25, "10").await;
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = world
            .bureau
            .list_redemptions(pb::ListRedemptionsRequest {
                enterprise_credit_code: ENTERPRISE.to_owned(),
                page_size: 10,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .expect("a page")
            .into_inner();
        assert!(page.redemptions.len() <= 10);
        seen.extend(page.redemptions.into_iter().map(|r| r.invoice_number));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let expected: Vec<String> = (1..=25).map(invoice).collect();
    assert_eq!(seen, expected);

    let dated = world
        .bureau
        .list_redemptions(pb::ListRedemptionsRequest {
            invoice_date_from: "2027-06-02".to_owned(),
            ..Default::default()
        })
        .await
        .expect("filtered")
        .into_inner();
    assert!(dated.redemptions.is_empty());
    let vouchers = world
        .bureau
        .list_vouchers(pb::ListVouchersRequest {
            enterprise_credit_code: ENTERPRISE.to_owned(),
            ..Default::default()
        })
        .await
        .expect("vouchers")
        .into_inner();
    assert_eq!(vouchers.vouchers.len(), 1);
    assert_eq!(yuan(&vouchers.vouchers[0].redeemed), "125.00");
}
