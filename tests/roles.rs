//! Who may do what: tokens, roles, and a provider bound to its own credit code.

mod common;

use common::*;
use tonic::Code;
use voucher_ledger::proto::voucher::v1 as pb;

#[tokio::test]
async fn calls_without_a_valid_token_are_unauthenticated() {
    let world = World::new("2027-06-15").await;
    let channel = world.server.channel().await;
    let mut anonymous =
        voucher_ledger::proto::voucher::v1::voucher_ledger_client::VoucherLedgerClient::new(
            channel,
        );
    let request = pb::GetEnterpriseRequest {
        credit_code: ENTERPRISE.into(),
    };
    expect_refusal(
        anonymous.get_enterprise(request.clone()).await,
        Code::Unauthenticated,
        "UNAUTHENTICATED",
    );
    for bad in ["qdv_0000", "", "Bearer"] {
        let mut client = world.server.client(bad).await;
        expect_refusal(
            client.get_enterprise(request.clone()).await,
            Code::Unauthenticated,
            "UNAUTHENTICATED",
        );
    }
    let mut basic = tonic::Request::new(request);
    basic.metadata_mut().insert(
        "authorization",
        format!("Basic {}", world.server.bureau_token)
            .parse()
            .expect("ascii"),
    );
    expect_refusal(
        anonymous.get_enterprise(basic).await,
        Code::Unauthenticated,
        "UNAUTHENTICATED",
    );
}

#[tokio::test]
async fn an_auditor_reads_everything_and_changes_nothing() {
    let mut world = World::new("2027-06-15").await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("1000")).await;
    let redemption = world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "100"))
        .await
        .expect("redeemed")
        .into_inner();
    let auditor_token = create_token(&mut world.bureau, pb::Role::Auditor, "").await;
    let mut auditor = world.server.client(&auditor_token).await;

    auditor
        .get_enterprise(pb::GetEnterpriseRequest {
            credit_code: ENTERPRISE.into(),
        })
        .await
        .expect("reads enterprises");
    assert_eq!(
        get_voucher(&mut auditor, &voucher.voucher_id)
            .await
            .voucher_id,
        voucher.voucher_id
    );
    auditor
        .list_vouchers(pb::ListVouchersRequest::default())
        .await
        .expect("lists vouchers");
    balance(&mut auditor, ENTERPRISE, pb::Program::Compute, "").await;
    let listed = auditor
        .list_redemptions(pb::ListRedemptionsRequest::default())
        .await
        .expect("lists")
        .into_inner();
    assert_eq!(listed.redemptions, vec![redemption.clone()]);
    auditor
        .get_redemption(pb::GetRedemptionRequest {
            redemption_id: redemption.redemption_id.clone(),
        })
        .await
        .expect("reads redemptions");

    let denied = Code::PermissionDenied;
    expect_refusal(
        auditor
            .issue_voucher(issue_request("a", ENTERPRISE, pb::Program::Compute, None))
            .await,
        denied,
        "PERMISSION_DENIED",
    );
    let register = pb::RegisterEnterpriseRequest {
        credit_code: OTHER_ENTERPRISE.into(),
        name: "x".into(),
        ..Default::default()
    };
    expect_refusal(
        auditor.register_enterprise(register).await,
        denied,
        "PERMISSION_DENIED",
    );
    let mut redeem = redeem_request(&voucher, &invoice(2), "2027-06-01", "100");
    redeem.provider_credit_code = COMPUTE_PROVIDER.into();
    expect_refusal(auditor.redeem(redeem).await, denied, "PERMISSION_DENIED");
    let reverse = pb::ReverseRedemptionRequest {
        redemption_id: redemption.redemption_id,
        reason: "x".into(),
    };
    expect_refusal(
        auditor.reverse_redemption(reverse).await,
        denied,
        "PERMISSION_DENIED",
    );
    let revoke = pb::RevokeVoucherRequest {
        voucher_id: voucher.voucher_id,
        reason: "x".into(),
    };
    expect_refusal(
        auditor.revoke_voucher(revoke).await,
        denied,
        "PERMISSION_DENIED",
    );
    let token = pb::CreateTokenRequest {
        role: pb::Role::Bureau as i32,
        ..Default::default()
    };
    expect_refusal(
        auditor.create_token(token).await,
        denied,
        "PERMISSION_DENIED",
    );
}

#[tokio::test]
async fn a_provider_acts_only_as_itself_and_sees_only_its_own() {
    let mut world = World::new("2027-06-15").await;
    let other_compute = synthetic_code(7);
    register_provider(
        &mut world.bureau,
        &other_compute,
        "另一家算力服务商",
        pb::Program::Compute,
    )
    .await;
    let other_token = create_token(&mut world.bureau, pb::Role::Provider, &other_compute).await;
    let mut other_provider = world.server.client(&other_token).await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("1000")).await;
    let mine = world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "100"))
        .await
        .expect("redeemed")
        .into_inner();

    let mut as_someone_else = redeem_request(&voucher, &invoice(2), "2027-06-01", "100");
    as_someone_else.provider_credit_code = COMPUTE_PROVIDER.into();
    expect_refusal(
        other_provider.redeem(as_someone_else).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    let theirs = pb::GetRedemptionRequest {
        redemption_id: mine.redemption_id.clone(),
    };
    expect_refusal(
        other_provider.get_redemption(theirs).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let listed = other_provider
        .list_redemptions(pb::ListRedemptionsRequest::default())
        .await
        .expect("own list")
        .into_inner();
    assert!(
        listed.redemptions.is_empty(),
        "another provider's redemptions stay hidden"
    );
    let snooping = pb::ListRedemptionsRequest {
        provider_credit_code: COMPUTE_PROVIDER.into(),
        ..Default::default()
    };
    expect_refusal(
        other_provider.list_redemptions(snooping).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    let reverse = pb::ReverseRedemptionRequest {
        redemption_id: mine.redemption_id.clone(),
        reason: "不是我的".into(),
    };
    // Another provider's claim is not there for it at all (issue 12).
    expect_refusal(
        other_provider.reverse_redemption(reverse).await,
        Code::NotFound,
        "NOT_FOUND",
    );

    let provider = &mut world.compute_provider;
    let denied = Code::PermissionDenied;
    expect_refusal(
        provider
            .issue_voucher(issue_request("a", ENTERPRISE, pb::Program::Compute, None))
            .await,
        denied,
        "PERMISSION_DENIED",
    );
    expect_refusal(
        provider
            .get_voucher(pb::GetVoucherRequest {
                voucher_id: voucher.voucher_id.clone(),
            })
            .await,
        denied,
        "PERMISSION_DENIED",
    );
    let balance_request = pb::GetBalanceRequest {
        enterprise_credit_code: ENTERPRISE.into(),
        program: pb::Program::Compute as i32,
        on_date: String::new(),
    };
    expect_refusal(
        provider.get_balance(balance_request).await,
        denied,
        "PERMISSION_DENIED",
    );
    let token = pb::CreateTokenRequest {
        role: pb::Role::Provider as i32,
        provider_credit_code: COMPUTE_PROVIDER.into(),
        ..Default::default()
    };
    expect_refusal(
        provider.create_token(token).await,
        denied,
        "PERMISSION_DENIED",
    );
    let own = provider
        .get_redemption(pb::GetRedemptionRequest {
            redemption_id: mine.redemption_id,
        })
        .await
        .expect("sees its own");
    assert_eq!(own.into_inner().provider_credit_code, COMPUTE_PROVIDER);
}

#[tokio::test]
async fn the_bureau_redeems_for_a_named_provider_and_manages_tokens() {
    let mut world = World::new("2027-06-15").await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("1000")).await;
    let unnamed = redeem_request(&voucher, &invoice(1), "2027-06-01", "100");
    let status = expect_refusal(
        world.bureau.redeem(unnamed.clone()).await,
        Code::InvalidArgument,
        "REQUIRED",
    );
    assert!(status.message().starts_with("provider_credit_code"));
    let mut named = unnamed;
    named.provider_credit_code = COMPUTE_PROVIDER.into();
    let redemption = world
        .bureau
        .redeem(named)
        .await
        .expect("redeemed for the provider")
        .into_inner();
    assert_eq!(redemption.provider_credit_code, COMPUTE_PROVIDER);

    let unregistered = pb::CreateTokenRequest {
        role: pb::Role::Provider as i32,
        provider_credit_code: OTHER_ENTERPRISE.into(),
        ..Default::default()
    };
    expect_refusal(
        world.bureau.create_token(unregistered).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let nameless = pb::CreateTokenRequest {
        role: pb::Role::Provider as i32,
        ..Default::default()
    };
    expect_refusal(
        world.bureau.create_token(nameless).await,
        Code::InvalidArgument,
        "REQUIRED",
    );
    let no_role = pb::CreateTokenRequest::default();
    expect_refusal(
        world.bureau.create_token(no_role).await,
        Code::InvalidArgument,
        "UNKNOWN_ROLE",
    );

    let bootstrap_id = "T000000000001".to_owned();
    let alone = pb::RevokeTokenRequest {
        token_id: bootstrap_id.clone(),
    };
    expect_refusal(
        world.bureau.revoke_token(alone.clone()).await,
        Code::FailedPrecondition,
        "LAST_BUREAU_TOKEN",
    );
    let second = create_token(&mut world.bureau, pb::Role::Bureau, "").await;
    let mut second_bureau = world.server.client(&second).await;
    second_bureau
        .revoke_token(alone)
        .await
        .expect("the bootstrap token can go once another exists");
    let request = pb::GetEnterpriseRequest {
        credit_code: ENTERPRISE.into(),
    };
    expect_refusal(
        world.bureau.get_enterprise(request.clone()).await,
        Code::Unauthenticated,
        "UNAUTHENTICATED",
    );
    second_bureau
        .get_enterprise(request)
        .await
        .expect("the new token works");
}
