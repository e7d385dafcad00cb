//! Who did what, and each office its own rights (issue 15), through a real voucherd: the
//! acting token on every event and on the records, bureau tokens scoped to programs, the
//! finance bureau, separation of duties, and the audit views of the log.

mod common;

use common::*;
use tonic::Code;
use voucher_ledger::proto::voucher::v1 as pb;

use voucher_ledger::domain::policy::DEFAULT_POLICY_TOML;

/// A token of `role` (scoped to `programs` for the bureau): its id and a client holding it.
async fn token(
    world: &mut World,
    role: pb::Role,
    programs: &[pb::Program],
) -> Result<(String, Client), tonic::Status> {
    let created = world
        .bureau
        .create_token(pb::CreateTokenRequest {
            role: role as i32,
            programs: programs.iter().map(|program| *program as i32).collect(),
            description: "duties test".into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    Ok((created.token_id, world.server.client(&created.token).await))
}

async fn events(client: &mut Client, request: pb::ListEventsRequest) -> Vec<pb::LedgerEvent> {
    let mut stream = client
        .list_events(request)
        .await
        .expect("events")
        .into_inner();
    let mut events = Vec::new();
    while let Some(event) = stream.message().await.expect("an event") {
        events.push(event);
    }
    events
}

fn approve(id: &str) -> pb::ApproveRedemptionRequest {
    pb::ApproveRedemptionRequest {
        redemption_id: id.to_owned(),
    }
}

#[tokio::test]
async fn a_second_bureau_token_is_named_on_its_events_and_its_records() {
    let mut world = World::new("2027-06-15").await;
    let (clerk_id, mut clerk) = token(&mut world, pb::Role::Bureau, &[])
        .await
        .expect("a second bureau token");
    let voucher = issue(&mut clerk, "by-clerk", pb::Program::Compute, Some("1000")).await;
    let issued_by = voucher.issued_by.clone().expect("issued by someone");
    assert_eq!(
        (issued_by.token_id.as_str(), issued_by.role.as_str()),
        (clerk_id.as_str(), "bureau")
    );
    let claim = world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "100"))
        .await
        .expect("redeemed")
        .into_inner();
    let provider_step = claim.redeemed_by.clone().expect("redeemed by someone");
    assert_eq!(provider_step.role, "provider");
    assert!(!provider_step.token_id.is_empty());
    let approved = world
        .bureau
        .approve_redemption(approve(&claim.redemption_id))
        .await
        .expect("approved")
        .into_inner();
    let approver = approved.approved_by.expect("approved by someone");
    assert_ne!(
        approver.token_id, clerk_id,
        "the first bureau token approved"
    );

    let by_clerk = events(
        &mut world.bureau,
        pb::ListEventsRequest {
            actor_token_id: clerk_id.clone(),
            ..Default::default()
        },
    )
    .await;
    let kinds: Vec<&str> = by_clerk.iter().map(|event| event.r#type.as_str()).collect();
    assert_eq!(kinds, vec!["voucher_issued"], "only what the clerk did");
    assert_eq!(by_clerk[0].actor_role, "bureau");
    let history = events(
        &mut world.bureau,
        pb::ListEventsRequest {
            record_id: claim.redemption_id.to_lowercase(),
            ..Default::default()
        },
    )
    .await;
    let steps: Vec<(&str, &str)> = history
        .iter()
        .map(|event| (event.r#type.as_str(), event.actor_role.as_str()))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("redemption_accepted", "provider"),
            ("redemption_approved", "bureau")
        ]
    );
    let first = events(
        &mut world.bureau,
        pb::ListEventsRequest {
            max_events: 1,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(first[0].actor_role, "ledger", "the policy adopted at start");
    assert_verified(&mut world.bureau).await;
}

#[tokio::test]
async fn a_leasing_only_token_stays_in_leasing_and_cannot_mint_a_wider_token() {
    let mut world = World::new("2027-06-15").await;
    let compute = issue(
        &mut world.bureau,
        "compute",
        pb::Program::Compute,
        Some("1000"),
    )
    .await;
    let (_, mut leasing_clerk) = token(&mut world, pb::Role::Bureau, &[pb::Program::Leasing])
        .await
        .expect("a leasing token");
    issue(
        &mut leasing_clerk,
        "leasing",
        pb::Program::Leasing,
        Some("1000"),
    )
    .await;
    let refusal = expect_refusal(
        leasing_clerk
            .issue_voucher(issue_request(
                "c2",
                ENTERPRISE,
                pb::Program::Compute,
                Some("10"),
            ))
            .await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    assert!(
        refusal.message().contains("compute"),
        "{}",
        refusal.message()
    );
    let revoke = leasing_clerk
        .revoke_voucher(pb::RevokeVoucherRequest {
            voucher_id: compute.voucher_id.clone(),
            reason: "越权".into(),
        })
        .await;
    expect_refusal(revoke, Code::PermissionDenied, "PERMISSION_DENIED");
    let read = leasing_clerk
        .get_voucher(pb::GetVoucherRequest {
            voucher_id: compute.voucher_id.clone(),
        })
        .await;
    expect_refusal(read, Code::PermissionDenied, "PERMISSION_DENIED");
    let listed = leasing_clerk
        .list_vouchers(pb::ListVouchersRequest::default())
        .await
        .expect("lists its program")
        .into_inner();
    assert!(
        listed
            .vouchers
            .iter()
            .all(|voucher| voucher.program == pb::Program::Leasing as i32),
        "only leasing vouchers"
    );
    let compute_balance = leasing_clerk
        .get_balance(pb::GetBalanceRequest {
            enterprise_credit_code: ENTERPRISE.into(),
            program: pb::Program::Compute as i32,
            on_date: String::new(),
        })
        .await;
    expect_refusal(compute_balance, Code::PermissionDenied, "PERMISSION_DENIED");

    let mint = |programs: Vec<pb::Program>, role: pb::Role| pb::CreateTokenRequest {
        role: role as i32,
        programs: programs.into_iter().map(|program| program as i32).collect(),
        ..Default::default()
    };
    for wider in [
        mint(vec![], pb::Role::Bureau),
        mint(vec![pb::Program::Compute], pb::Role::Bureau),
        mint(
            vec![pb::Program::Leasing, pb::Program::Compute],
            pb::Role::Bureau,
        ),
        mint(vec![], pb::Role::Auditor),
        mint(vec![], pb::Role::Finance),
    ] {
        expect_refusal(
            leasing_clerk.create_token(wider).await,
            Code::PermissionDenied,
            "PERMISSION_DENIED",
        );
    }
    leasing_clerk
        .create_token(mint(vec![pb::Program::Leasing], pb::Role::Bureau))
        .await
        .expect("a token as narrow as itself");
    expect_refusal(
        leasing_clerk
            .list_events(pb::ListEventsRequest::default())
            .await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
}

/// The default rules with separation of duties on.
fn separated_policy() -> String {
    DEFAULT_POLICY_TOML.replacen(
        "redeem_grace_days = 90",
        "redeem_grace_days = 90\nseparation_of_duties = true",
        1,
    )
}

async fn separated_world() -> World {
    let data = DataDir::new();
    std::fs::create_dir_all(data.path()).expect("data dir");
    let file = data.path().join("policy.toml");
    std::fs::write(&file, separated_policy()).expect("policy");
    let file = file.to_str().expect("utf-8").to_owned();
    World::new_in(data, "2027-07-05", &["--policy", &file]).await
}

#[tokio::test]
async fn with_separation_of_duties_each_step_takes_another_token_and_finance_pays() {
    let mut world = separated_world().await;
    let (_, mut reviewer) = token(&mut world, pb::Role::Bureau, &[])
        .await
        .expect("a reviewer");
    let (finance_id, mut finance) = token(&mut world, pb::Role::Finance, &[])
        .await
        .expect("a finance token");
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("10000")).await;
    let mut filed = redeem_request(&voucher, &invoice(1), "2027-06-01", "1000");
    filed.provider_credit_code = COMPUTE_PROVIDER.into();
    let on_behalf = world
        .bureau
        .redeem(filed)
        .await
        .expect("filed for its provider")
        .into_inner();
    expect_refusal(
        world
            .bureau
            .approve_redemption(approve(&on_behalf.redemption_id))
            .await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    reviewer
        .approve_redemption(approve(&on_behalf.redemption_id))
        .await
        .expect("another token approves");
    let statement = pb::CreateSettlementRequest {
        request_id: "s-1".into(),
        provider_credit_code: COMPUTE_PROVIDER.into(),
        program: pb::Program::Compute as i32,
        up_to_date: "2027-07-01".into(),
    };
    expect_refusal(
        reviewer.create_settlement(statement.clone()).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    expect_refusal(
        finance.create_settlement(statement.clone()).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    let made = world
        .bureau
        .create_settlement(statement)
        .await
        .expect("a token that approved none of its claims makes it")
        .into_inner();
    let payment = pb::RecordSettlementPaymentRequest {
        settlement_id: made.settlement_id.clone(),
        bank_reference: "国库支付 2027-0001".into(),
        paid_on: "2027-07-05".into(),
    };
    expect_refusal(
        world
            .bureau
            .record_settlement_payment(payment.clone())
            .await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    let paid = finance
        .record_settlement_payment(payment)
        .await
        .expect("finance records it")
        .into_inner();
    let recorded_by = paid
        .payment
        .and_then(|payment| payment.recorded_by)
        .expect("recorded by someone");
    assert_eq!(
        (recorded_by.token_id.as_str(), recorded_by.role.as_str()),
        (finance_id.as_str(), "finance")
    );
    finance
        .list_redemptions(pb::ListRedemptionsRequest::default())
        .await
        .expect("finance reads everything");
    expect_refusal(
        finance
            .issue_voucher(issue_request("f", ENTERPRISE, pb::Program::Compute, None))
            .await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    assert_verified(&mut world.bureau).await;
}
