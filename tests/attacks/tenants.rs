//! Refusals that would tell a provider of another tenant: the same answer for "not yours"
//! as for "does not exist", no other enterprise's cap or balance, no other provider's ids, no
//! bureau reasons; and names that imitate another's with invisible characters.

use super::*;

#[tokio::test]
async fn a_voucher_of_another_enterprise_looks_like_no_voucher_at_all() {
    let mut world = World::new("2027-06-15").await;
    register_enterprise(&mut world.bureau, OTHER_ENTERPRISE, "海门智造有限公司").await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("1000")).await;
    let mut wrong_buyer = redeem_request(&voucher, &invoice(1), "2027-06-01", "100");
    wrong_buyer.enterprise_credit_code = OTHER_ENTERPRISE.into();
    let not_held = world.compute_provider.redeem(wrong_buyer.clone()).await;
    let not_held = expect_refusal(not_held, Code::NotFound, "NOT_FOUND");
    assert!(
        !not_held.message().contains(ENTERPRISE),
        "the owner's code leaks: {}",
        not_held.message()
    );

    let missing_id = "V000000009999";
    let mut missing = wrong_buyer;
    missing.voucher_id = missing_id.into();
    let missing = world.compute_provider.redeem(missing).await;
    let missing = expect_refusal(missing, Code::NotFound, "NOT_FOUND");
    assert_eq!(
        shape(&not_held, &voucher.voucher_id),
        shape(&missing, missing_id),
        "another's voucher and no voucher answer alike"
    );
}

#[tokio::test]
async fn a_refused_redemption_does_not_tell_the_enterprise_cap_or_voucher_balance() {
    let mut world = World::new("2027-06-15").await;
    let voucher = issue(
        &mut world.bureau,
        "v",
        pb::Program::Compute,
        Some("1234.56"),
    )
    .await;
    world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "1000"))
        .await
        .expect("a first redemption");
    // 500 of 1,234.56 granted: 734.56 left on the voucher, 1,999,500.00 under the cap.
    let over_voucher = world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(2), "2027-06-01", "2000"))
        .await;
    let over_voucher = expect_refusal(
        over_voucher,
        Code::FailedPrecondition,
        "VOUCHER_BALANCE_EXCEEDED",
    );
    let big = issue(&mut world.bureau, "big", pb::Program::Compute, None).await;
    let over_cap = world
        .compute_provider
        .redeem(redeem_request(&big, &invoice(3), "2027-06-01", "5000000"))
        .await;
    let over_cap = expect_refusal(over_cap, Code::FailedPrecondition, "CAP_EXCEEDED");
    for refusal in [&over_voucher, &over_cap] {
        for secret in ["734.56", "734", "1,999,500.00", "1999500", "1,998,765.44"] {
            assert!(
                !refusal.message().contains(secret),
                "{secret} leaks in: {}",
                refusal.message()
            );
        }
        assert_eq!(
            error_metadata(refusal, "remainingCny"),
            None,
            "no remaining amount in the details"
        );
    }
    let balance = balance(
        &mut world.bureau,
        ENTERPRISE,
        pb::Program::Compute,
        "2027-06-15",
    )
    .await;
    assert_eq!(
        yuan(&balance.redeemed),
        "500.00",
        "the bureau still sees the balance"
    );
}

#[tokio::test]
async fn another_provider_learns_neither_the_claim_nor_its_id() {
    let mut world = World::new("2027-06-15").await;
    let mut rival = rival(&mut world).await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("1000")).await;
    let claimed = world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "100"))
        .await
        .expect("claimed")
        .into_inner();

    let same_invoice = rival
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "100"))
        .await;
    let same_invoice = expect_refusal(
        same_invoice,
        Code::AlreadyExists,
        "INVOICE_ALREADY_REDEEMED",
    );
    assert!(
        !same_invoice.message().contains(&claimed.redemption_id),
        "another provider's claim id leaks: {}",
        same_invoice.message()
    );
    let own_again = world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "999"))
        .await;
    let own_again = expect_refusal(own_again, Code::AlreadyExists, "INVOICE_ALREADY_REDEEMED");
    assert!(
        own_again.message().contains(&claimed.redemption_id),
        "the provider that made the claim is told which: {}",
        own_again.message()
    );

    let reverse = |id: &str| pb::ReverseRedemptionRequest {
        redemption_id: id.to_owned(),
        reason: "probe".into(),
    };
    let not_mine = rival
        .reverse_redemption(reverse(&claimed.redemption_id))
        .await;
    let not_mine = expect_refusal(not_mine, Code::NotFound, "NOT_FOUND");
    let missing_id = "R000000009999";
    let missing = rival.reverse_redemption(reverse(missing_id)).await;
    let missing = expect_refusal(missing, Code::NotFound, "NOT_FOUND");
    assert_eq!(
        shape(&not_mine, &claimed.redemption_id),
        shape(&missing, missing_id),
        "another's claim and no claim answer alike"
    );
    let still = world
        .bureau
        .get_redemption(pb::GetRedemptionRequest {
            redemption_id: claimed.redemption_id.clone(),
        })
        .await
        .expect("the bureau reads it")
        .into_inner();
    assert_eq!(still.status, claimed.status, "the probe changed nothing");
}

#[tokio::test]
async fn a_related_party_refusal_keeps_the_bureau_reason_to_the_bureau() {
    let mut world = World::new("2027-06-15").await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("1000")).await;
    let bureau_reason = "法定代表人为同一人（内部线索 2027-17）";
    world
        .bureau
        .record_related_parties(pb::RecordRelatedPartiesRequest {
            provider_credit_code: COMPUTE_PROVIDER.into(),
            enterprise_credit_code: ENTERPRISE.into(),
            reason: bureau_reason.into(),
        })
        .await
        .expect("recorded");
    let related = world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "100"))
        .await;
    let refused = expect_refusal(related, Code::FailedPrecondition, "RELATED_PARTY");
    assert!(
        !refused.message().contains("内部线索") && !refused.message().contains("法定代表人"),
        "the bureau's reason leaks: {}",
        refused.message()
    );
}

#[tokio::test]
async fn a_lookalike_name_with_invisible_characters_is_refused_naming_the_field() {
    let mut world = World::new("2027-06-15").await;
    // "启东智算科技有限公司" with a right-to-left override, a zero-width space, a byte-order mark.
    for name in [
        "启东智算\u{202E}司公限有技科",
        "启东智\u{200B}算科技有限公司",
        "\u{FEFF}启东智算科技有限公司",
    ] {
        let refused = world
            .bureau
            .register_enterprise(pb::RegisterEnterpriseRequest {
                credit_code: OTHER_ENTERPRISE.into(),
                name: name.into(),
                ..Default::default()
            })
            .await;
        let refused = expect_refusal(refused, Code::InvalidArgument, "INVISIBLE_CHARACTER");
        let field = refused
            .get_details_bad_request()
            .and_then(|bad| bad.field_violations.first().map(|v| v.field.clone()));
        assert_eq!(field.as_deref(), Some("name"), "{}", refused.message());
    }
    let nobody = world
        .bureau
        .get_enterprise(pb::GetEnterpriseRequest {
            credit_code: OTHER_ENTERPRISE.into(),
        })
        .await;
    expect_refusal(nobody, Code::NotFound, "NOT_FOUND");
}
