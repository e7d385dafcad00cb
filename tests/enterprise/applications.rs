//! Applications and the vouchers issued on them, confirmation and dispute, return for
//! correction, public notices, and all of it surviving a restart.

use super::*;

#[tokio::test]
async fn an_application_becomes_a_voucher_bound_to_the_providers_it_chose() {
    let mut world = World::new("2027-06-15").await;
    let mut enterprise = enterprise_client(&mut world, ENTERPRISE).await;
    let applied = enterprise
        .apply_for_voucher(application("a-1", "QD-2027-001", "300000"))
        .await
        .expect("applied")
        .into_inner();
    assert_eq!(applied.status, pb::ApplicationStatus::Pending as i32);
    assert_eq!(
        applied.enterprise_credit_code, ENTERPRISE,
        "its own code, from its token"
    );
    let again = enterprise
        .apply_for_voucher(application("a-1", "QD-2027-001", "300000"))
        .await
        .expect("a retry answers the same application")
        .into_inner();
    assert_eq!(again.application_id, applied.application_id);

    let pending = world
        .bureau
        .list_applications(pb::ListApplicationsRequest {
            status: pb::ApplicationStatus::Pending as i32,
            ..Default::default()
        })
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(pending.applications.len(), 1);
    let too_much = world
        .bureau
        .approve_application(pb::ApproveApplicationRequest {
            application_id: applied.application_id.clone(),
            face_value: Some(cny("300000.01")),
        })
        .await;
    expect_refusal(too_much, Code::FailedPrecondition, "ABOVE_APPLIED_AMOUNT");
    let approved = world
        .bureau
        .approve_application(pb::ApproveApplicationRequest {
            application_id: applied.application_id.clone(),
            face_value: Some(cny("200000")),
        })
        .await
        .expect("approved")
        .into_inner();
    assert_eq!(approved.status, pb::ApplicationStatus::Approved as i32);
    let voucher = get_voucher(&mut world.bureau, &approved.voucher_id).await;
    assert_eq!(yuan(&voucher.face_value), "200000.00");
    assert_eq!(voucher.provider_credit_codes, vec![COMPUTE_PROVIDER]);
    assert_eq!(voucher.application_id, applied.application_id);
    let seen = enterprise
        .get_application(pb::GetApplicationRequest {
            application_id: applied.application_id.clone(),
        })
        .await
        .expect("its own")
        .into_inner();
    assert_eq!(seen.voucher_id, voucher.voucher_id);

    let mut stranger = stranger_provider(&mut world).await;
    expect_refusal(
        stranger
            .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "1000"))
            .await,
        Code::NotFound,
        "NOT_FOUND",
    );
    world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "1000"))
        .await
        .expect("the chosen provider redeems");
}

#[tokio::test]
async fn a_contract_is_applied_for_once_while_its_application_lives() {
    let mut world = World::new("2027-06-15").await;
    let mut enterprise = enterprise_client(&mut world, ENTERPRISE).await;
    let first = enterprise
        .apply_for_voucher(application("c-1", "QD-HT-7", "1000"))
        .await
        .expect("applied")
        .into_inner();
    let second = enterprise
        .apply_for_voucher(application("c-2", "QD-HT-7", "2000"))
        .await;
    expect_refusal(second, Code::AlreadyExists, "CONTRACT_ALREADY_APPLIED");
    let leasing = pb::ApplyForVoucherRequest {
        program: pb::Program::Leasing as i32,
        provider_credit_codes: vec![ROBOT_LESSOR.into()],
        ..application("c-3", "QD-HT-7", "2000")
    };
    enterprise
        .apply_for_voucher(leasing)
        .await
        .expect("one application per contract per program");
    let rejected = world
        .bureau
        .reject_application(pb::RejectApplicationRequest {
            application_id: first.application_id.clone(),
            reason: "合同未盖章".into(),
        })
        .await
        .expect("rejected")
        .into_inner();
    assert_eq!(rejected.status, pb::ApplicationStatus::Rejected as i32);
    assert_eq!(rejected.rejection_reason, "合同未盖章");
    let approve_rejected = world
        .bureau
        .approve_application(pb::ApproveApplicationRequest {
            application_id: first.application_id.clone(),
            face_value: None,
        })
        .await;
    expect_refusal(
        approve_rejected,
        Code::FailedPrecondition,
        "APPLICATION_NOT_PENDING",
    );
    enterprise
        .apply_for_voucher(application("c-4", "QD-HT-7", "2000"))
        .await
        .expect("a rejected application frees its contract");
    let wrong_program = pb::ApplyForVoucherRequest {
        provider_credit_codes: vec![ROBOT_LESSOR.into()],
        ..application("c-5", "QD-HT-8", "2000")
    };
    expect_refusal(
        enterprise.apply_for_voucher(wrong_program).await,
        Code::FailedPrecondition,
        "PROGRAM_MISMATCH",
    );
    let no_provider = pb::ApplyForVoucherRequest {
        provider_credit_codes: Vec::new(),
        ..application("c-6", "QD-HT-9", "2000")
    };
    let refusal = expect_refusal(
        enterprise.apply_for_voucher(no_provider).await,
        Code::InvalidArgument,
        "REQUIRED",
    );
    assert!(refusal.message().starts_with("provider_credit_codes"));
}

#[tokio::test]
async fn with_confirmation_required_approval_waits_and_a_dispute_releases_the_cap() {
    let mut world = World::with_policy(&confirmation_policy(), "2027-06-15", &[]).await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("1000")).await;
    let mut claims = Vec::new();
    for serial in 1..=3 {
        let claim = world
            .compute_provider
            .redeem(redeem_request(
                &voucher,
                &invoice(serial),
                "2027-06-01",
                "400",
            ))
            .await
            .expect("accepted: it counts under the cap at once")
            .into_inner();
        claims.push(claim.redemption_id);
    }
    let approve = |id: &str| pb::ApproveRedemptionRequest {
        redemption_id: id.to_owned(),
    };
    expect_refusal(
        world.bureau.approve_redemption(approve(&claims[0])).await,
        Code::FailedPrecondition,
        "CONFIRMATION_REQUIRED",
    );
    let mut enterprise = enterprise_client(&mut world, ENTERPRISE).await;
    let confirmed = enterprise
        .confirm_redemption(pb::ConfirmRedemptionRequest {
            redemption_id: claims[0].clone(),
        })
        .await
        .expect("confirmed")
        .into_inner();
    assert!(confirmed.confirmed_at.is_some());
    world
        .bureau
        .approve_redemption(approve(&claims[0]))
        .await
        .expect("approved once confirmed");
    let before = balance(&mut world.bureau, ENTERPRISE, pb::Program::Compute, "").await;
    assert_eq!(yuan(&before.redeemed), "600.00");

    let disputed = enterprise
        .dispute_redemption(pb::DisputeRedemptionRequest {
            redemption_id: claims[1].clone(),
            reason: "本企业未向该服务商租用算力".into(),
        })
        .await
        .expect("disputed")
        .into_inner();
    assert_eq!(disputed.status, pb::RedemptionStatus::Disputed as i32);
    assert_eq!(disputed.closing_reason, "本企业未向该服务商租用算力");
    let after = balance(&mut world.bureau, ENTERPRISE, pb::Program::Compute, "").await;
    assert_eq!(
        yuan(&after.redeemed),
        "400.00",
        "the disputed subsidy is released"
    );
    expect_refusal(
        world.bureau.approve_redemption(approve(&claims[1])).await,
        Code::FailedPrecondition,
        "REDEMPTION_NOT_OPEN",
    );
    expect_refusal(
        enterprise
            .dispute_redemption(pb::DisputeRedemptionRequest {
                redemption_id: claims[0].clone(),
                reason: "改变主意".into(),
            })
            .await,
        Code::FailedPrecondition,
        "REDEMPTION_NOT_OPEN",
    );
    // What a dispute released, the real provider may claim.
    world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(4), "2027-06-01", "400"))
        .await
        .expect("the released subsidy is available again");
    assert_verified(&mut world.bureau).await;
}

#[tokio::test]
async fn a_returned_claim_is_claimed_again_once_and_a_rejected_one_stays_final() {
    let mut world = World::new("2027-06-15").await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("5000")).await;
    let first = world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "1200"))
        .await
        .expect("accepted")
        .into_inner();
    let returned = world
        .bureau
        .return_redemption(pb::ReturnRedemptionRequest {
            redemption_id: first.redemption_id.clone(),
            reason: "发票金额与合同不符，请更正".into(),
        })
        .await
        .expect("returned")
        .into_inner();
    assert_eq!(returned.status, pb::RedemptionStatus::Returned as i32);
    let released = balance(&mut world.bureau, ENTERPRISE, pb::Program::Compute, "").await;
    assert_eq!(yuan(&released.redeemed), "0.00");

    let same_again = world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "1200"))
        .await
        .expect("the same request again is a retry")
        .into_inner();
    assert_eq!(same_again.redemption_id, first.redemption_id);
    let mut stranger = stranger_provider(&mut world).await;
    expect_refusal(
        stranger
            .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "1000"))
            .await,
        Code::AlreadyExists,
        "INVOICE_ALREADY_REDEEMED",
    );
    let corrected = world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "1000"))
        .await
        .expect("the corrected claim")
        .into_inner();
    assert_ne!(corrected.redemption_id, first.redemption_id);
    assert_eq!(corrected.corrects_redemption_id, first.redemption_id);
    assert_eq!(yuan(&corrected.subsidy), "500.00");
    expect_refusal(
        world
            .compute_provider
            .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "900"))
            .await,
        Code::AlreadyExists,
        "INVOICE_ALREADY_REDEEMED",
    );

    let other = world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(2), "2027-06-01", "100"))
        .await
        .expect("accepted")
        .into_inner();
    world
        .bureau
        .reject_redemption(pb::RejectRedemptionRequest {
            redemption_id: other.redemption_id.clone(),
            reason: "虚假发票".into(),
        })
        .await
        .expect("rejected");
    expect_refusal(
        world
            .bureau
            .return_redemption(pb::ReturnRedemptionRequest {
                redemption_id: other.redemption_id.clone(),
                reason: "改为退回".into(),
            })
            .await,
        Code::FailedPrecondition,
        "REDEMPTION_NOT_OPEN",
    );
    expect_refusal(
        world
            .compute_provider
            .redeem(redeem_request(&voucher, &invoice(2), "2027-06-01", "90"))
            .await,
        Code::AlreadyExists,
        "INVOICE_ALREADY_REDEEMED",
    );
    let total = balance(&mut world.bureau, ENTERPRISE, pb::Program::Compute, "").await;
    assert_eq!(yuan(&total.redeemed), "500.00");
    assert_verified(&mut world.bureau).await;
}

#[tokio::test]
async fn a_notice_lists_approved_claims_and_everything_survives_a_restart() {
    let mut world = World::new("2027-06-15").await;
    let mut enterprise = enterprise_client(&mut world, ENTERPRISE).await;
    let applied = enterprise
        .apply_for_voucher(application("n-1", "QD-N-1", "8000"))
        .await
        .expect("applied")
        .into_inner();
    let approved = world
        .bureau
        .approve_application(pb::ApproveApplicationRequest {
            application_id: applied.application_id.clone(),
            face_value: None,
        })
        .await
        .expect("approved")
        .into_inner();
    let voucher = get_voucher(&mut world.bureau, &approved.voucher_id).await;
    let mut approved_claims = Vec::new();
    for serial in 1..=3 {
        let claim = world
            .compute_provider
            .redeem(redeem_request(
                &voucher,
                &invoice(serial),
                "2027-06-01",
                "2000",
            ))
            .await
            .expect("accepted")
            .into_inner();
        if serial < 3 {
            world
                .bureau
                .approve_redemption(pb::ApproveRedemptionRequest {
                    redemption_id: claim.redemption_id.clone(),
                })
                .await
                .expect("approved");
            approved_claims.push(claim.redemption_id);
        }
    }
    // Claims are approved at the wall clock's instant (the rules' day is pinned, the records'
    // instants are not): the notice's period is around today in China.
    let china_today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let day = |offset: i64| (china_today + chrono::Duration::days(offset)).to_string();
    let notice = world
        .bureau
        .publish_notice(pb::PublishNoticeRequest {
            program: pb::Program::Compute as i32,
            approved_from: day(-1),
            approved_until: day(1),
            posted_from: "2027-07-01".into(),
            posted_until: "2027-07-07".into(),
            redemption_ids: Vec::new(),
        })
        .await
        .expect("published")
        .into_inner();
    let listed: Vec<_> = notice
        .lines
        .iter()
        .map(|line| line.redemption_id.clone())
        .collect();
    assert_eq!(
        listed, approved_claims,
        "every approved claim of the period, and only those"
    );
    assert_eq!(notice.lines[0].enterprise_name, "启东智算科技有限公司");
    assert_eq!(yuan(&notice.total), "2000.00");
    let public = enterprise
        .get_notice(pb::GetNoticeRequest {
            notice_id: notice.notice_id.clone(),
        })
        .await
        .expect("a notice is public")
        .into_inner();
    assert_eq!(public, notice);
    let empty_period = world
        .bureau
        .publish_notice(pb::PublishNoticeRequest {
            approved_from: "2020-05-01".into(),
            approved_until: "2020-05-31".into(),
            ..pb::PublishNoticeRequest {
                program: pb::Program::Compute as i32,
                posted_from: "2027-07-01".into(),
                posted_until: "2027-07-07".into(),
                ..Default::default()
            }
        })
        .await;
    expect_refusal(empty_period, Code::InvalidArgument, "REQUIRED");

    let World { server, bureau, .. } = world;
    drop((bureau, enterprise));
    let data = server.stop();
    let server = TestServer::start_in(data, "2027-06-15", &[]).await;
    let mut bureau = server.bureau().await;
    let kept = bureau
        .get_application(pb::GetApplicationRequest {
            application_id: applied.application_id.clone(),
        })
        .await
        .expect("kept")
        .into_inner();
    assert_eq!(kept.voucher_id, voucher.voucher_id);
    let kept_voucher = get_voucher(&mut bureau, &voucher.voucher_id).await;
    assert_eq!(kept_voucher.provider_credit_codes, vec![COMPUTE_PROVIDER]);
    let kept_notice = bureau
        .get_notice(pb::GetNoticeRequest {
            notice_id: notice.notice_id.clone(),
        })
        .await
        .expect("kept")
        .into_inner();
    assert_eq!(kept_notice, notice);
    let refused_again = bureau
        .apply_for_voucher(application("n-2", "QD-N-1", "8000"))
        .await;
    expect_refusal(refused_again, Code::PermissionDenied, "PERMISSION_DENIED");
    assert_verified(&mut bureau).await;
}
