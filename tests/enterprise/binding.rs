//! Vouchers bound to providers, and the attack binding closes: a provider probing vouchers
//! learns nothing and takes nothing; the bureau rebinds; an enterprise reads only its own.

use super::*;

#[tokio::test]
async fn a_provider_probing_bound_vouchers_learns_nothing_and_takes_nothing() {
    let mut world = World::new("2027-06-15").await;
    register_enterprise(&mut world.bureau, OTHER_ENTERPRISE, "启东另一家企业").await;
    let mut vouchers = Vec::new();
    for (index, enterprise) in [ENTERPRISE, OTHER_ENTERPRISE].iter().enumerate() {
        let request = pb::IssueVoucherRequest {
            enterprise_credit_code: (*enterprise).to_owned(),
            ..bound_issue(&format!("bound-{index}"), COMPUTE_PROVIDER, "10000")
        };
        let voucher = world.bureau.issue_voucher(request).await.expect("issued");
        vouchers.push(voucher.into_inner());
    }
    assert_eq!(vouchers[0].provider_credit_codes, vec![COMPUTE_PROVIDER]);
    let mut stranger = stranger_provider(&mut world).await;

    // Voucher ids in sequence, under a guessed holder, then under the right one, then with
    // allow_partial and an invented invoice: every answer is the unknown voucher's.
    let unknown = pb::Voucher {
        voucher_id: "V000000000099".into(),
        enterprise_credit_code: ENTERPRISE.into(),
        ..Default::default()
    };
    let mut probes = Vec::new();
    for (serial, voucher) in vouchers.iter().chain([&unknown]).enumerate() {
        for holder in [ENTERPRISE, OTHER_ENTERPRISE] {
            let mut request =
                redeem_request(voucher, &invoice(serial as u64), "2027-06-01", "20000");
            request.enterprise_credit_code = holder.to_owned();
            request.allow_partial = serial % 2 == 0;
            probes.push((voucher.voucher_id.clone(), holder, request));
        }
    }
    for (voucher_id, holder, request) in probes {
        let refusal = expect_refusal(stranger.redeem(request).await, Code::NotFound, "NOT_FOUND");
        assert_eq!(
            refusal.message(),
            format!("enterprise {holder} holds no voucher {voucher_id}"),
            "a refusal names only what the caller sent"
        );
    }
    // The enterprise's own provider still has the whole voucher.
    let claim = world
        .compute_provider
        .redeem(redeem_request(
            &vouchers[0],
            &invoice(50),
            "2027-06-01",
            "20000",
        ))
        .await
        .expect("its provider redeems")
        .into_inner();
    assert_eq!(yuan(&claim.subsidy), "10000.00");
}

#[tokio::test]
async fn the_bureau_rebinds_a_voucher_and_an_unbound_one_takes_any_provider_of_its_program() {
    let mut world = World::new("2027-06-15").await;
    let mut stranger = stranger_provider(&mut world).await;
    let stranger_code = code_with_check_digit(&STRANGER[..17]);
    let unbound = issue(
        &mut world.bureau,
        "unbound",
        pb::Program::Compute,
        Some("500"),
    )
    .await;
    assert!(unbound.provider_credit_codes.is_empty());
    stranger
        .redeem(redeem_request(&unbound, &invoice(1), "2027-06-01", "100"))
        .await
        .expect("an unbound voucher: any provider of the program, as before");

    let bound = world
        .bureau
        .issue_voucher(bound_issue("bound", COMPUTE_PROVIDER, "500"))
        .await
        .expect("issued")
        .into_inner();
    let rebound = world
        .bureau
        .change_voucher_providers(pb::ChangeVoucherProvidersRequest {
            voucher_id: bound.voucher_id.clone(),
            provider_credit_codes: vec![stranger_code.clone()],
            reason: "企业书面申请更换服务商".into(),
        })
        .await
        .expect("rebound")
        .into_inner();
    assert_eq!(rebound.provider_credit_codes, vec![stranger_code]);
    expect_refusal(
        world
            .compute_provider
            .redeem(redeem_request(&bound, &invoice(2), "2027-06-01", "100"))
            .await,
        Code::NotFound,
        "NOT_FOUND",
    );
    stranger
        .redeem(redeem_request(&bound, &invoice(3), "2027-06-01", "100"))
        .await
        .expect("the newly bound provider redeems");
    let leasing = world
        .bureau
        .change_voucher_providers(pb::ChangeVoucherProvidersRequest {
            voucher_id: bound.voucher_id.clone(),
            provider_credit_codes: vec![ROBOT_LESSOR.into()],
            reason: "错误".into(),
        })
        .await;
    expect_refusal(leasing, Code::FailedPrecondition, "PROGRAM_MISMATCH");
}

#[tokio::test]
async fn an_enterprise_reads_only_its_own_and_changes_nothing_it_may_not() {
    let mut world = World::new("2027-06-15").await;
    register_enterprise(&mut world.bureau, OTHER_ENTERPRISE, "启东另一家企业").await;
    let own_voucher = issue(&mut world.bureau, "own", pb::Program::Compute, Some("1000")).await;
    let neighbour_voucher = world
        .bureau
        .issue_voucher(issue_request(
            "theirs",
            OTHER_ENTERPRISE,
            pb::Program::Compute,
            Some("1000"),
        ))
        .await
        .expect("issued")
        .into_inner();
    let own_claim = world
        .compute_provider
        .redeem(redeem_request(
            &own_voucher,
            &invoice(1),
            "2027-06-01",
            "100",
        ))
        .await
        .expect("redeemed")
        .into_inner();
    let neighbour_claim = world
        .compute_provider
        .redeem(redeem_request(
            &neighbour_voucher,
            &invoice(2),
            "2027-06-01",
            "100",
        ))
        .await
        .expect("redeemed")
        .into_inner();
    let mut neighbour = enterprise_client(&mut world, OTHER_ENTERPRISE).await;
    let neighbour_application = neighbour
        .apply_for_voucher(application("theirs-a", "HT-OTHER-1", "5000"))
        .await
        .expect("applied")
        .into_inner();
    let mut enterprise = enterprise_client(&mut world, ENTERPRISE).await;

    let listed = enterprise
        .list_redemptions(pb::ListRedemptionsRequest::default())
        .await
        .expect("lists its claims")
        .into_inner();
    let ids: Vec<_> = listed
        .redemptions
        .iter()
        .map(|r| r.redemption_id.clone())
        .collect();
    assert_eq!(ids, vec![own_claim.redemption_id.clone()]);
    let vouchers = enterprise
        .list_vouchers(pb::ListVouchersRequest::default())
        .await
        .expect("lists its vouchers")
        .into_inner();
    assert_eq!(vouchers.vouchers.len(), 1);
    assert_eq!(vouchers.vouchers[0].voucher_id, own_voucher.voucher_id);
    balance(&mut enterprise, ENTERPRISE, pb::Program::Compute, "").await;
    let applications = enterprise
        .list_applications(pb::ListApplicationsRequest::default())
        .await
        .expect("lists its applications")
        .into_inner();
    assert!(applications.applications.is_empty());

    let not_found = [
        enterprise
            .get_enterprise(pb::GetEnterpriseRequest {
                credit_code: OTHER_ENTERPRISE.into(),
            })
            .await
            .map(|_| ()),
        enterprise
            .get_voucher(pb::GetVoucherRequest {
                voucher_id: neighbour_voucher.voucher_id.clone(),
            })
            .await
            .map(|_| ()),
        enterprise
            .get_redemption(pb::GetRedemptionRequest {
                redemption_id: neighbour_claim.redemption_id.clone(),
            })
            .await
            .map(|_| ()),
        enterprise
            .get_application(pb::GetApplicationRequest {
                application_id: neighbour_application.application_id.clone(),
            })
            .await
            .map(|_| ()),
        enterprise
            .confirm_redemption(pb::ConfirmRedemptionRequest {
                redemption_id: neighbour_claim.redemption_id.clone(),
            })
            .await
            .map(|_| ()),
    ];
    for refusal in not_found {
        let status = refusal.expect_err("another enterprise's record is not found");
        assert_eq!(status.code(), Code::NotFound, "{}", status.message());
        assert!(!status.message().contains("另一家"), "{}", status.message());
    }
    // The neighbour answers exactly as an enterprise nobody registered.
    let unregistered = synthetic_code(7);
    let neighbour = enterprise
        .get_enterprise(pb::GetEnterpriseRequest {
            credit_code: OTHER_ENTERPRISE.into(),
        })
        .await
        .expect_err("not its own");
    let nobody = enterprise
        .get_enterprise(pb::GetEnterpriseRequest {
            credit_code: unregistered.clone(),
        })
        .await
        .expect_err("nobody");
    assert_eq!(
        neighbour.message().replace(OTHER_ENTERPRISE, "CODE"),
        nobody.message().replace(&unregistered, "CODE")
    );
    let denied = [
        enterprise
            .get_balance(pb::GetBalanceRequest {
                enterprise_credit_code: OTHER_ENTERPRISE.into(),
                program: pb::Program::Compute as i32,
                on_date: String::new(),
            })
            .await
            .map(|_| ()),
        enterprise
            .list_redemptions(pb::ListRedemptionsRequest {
                enterprise_credit_code: OTHER_ENTERPRISE.into(),
                ..Default::default()
            })
            .await
            .map(|_| ()),
        enterprise
            .list_applications(pb::ListApplicationsRequest {
                enterprise_credit_code: OTHER_ENTERPRISE.into(),
                ..Default::default()
            })
            .await
            .map(|_| ()),
        enterprise
            .list_settlements(pb::ListSettlementsRequest::default())
            .await
            .map(|_| ()),
        enterprise
            .issue_voucher(issue_request(
                "self",
                ENTERPRISE,
                pb::Program::Compute,
                None,
            ))
            .await
            .map(|_| ()),
        enterprise
            .redeem(redeem_request(
                &own_voucher,
                &invoice(9),
                "2027-06-01",
                "100",
            ))
            .await
            .map(|_| ()),
        enterprise
            .approve_redemption(pb::ApproveRedemptionRequest {
                redemption_id: own_claim.redemption_id.clone(),
            })
            .await
            .map(|_| ()),
        enterprise
            .apply_for_voucher(pb::ApplyForVoucherRequest {
                enterprise_credit_code: OTHER_ENTERPRISE.into(),
                ..application("for-them", "HT-X", "100")
            })
            .await
            .map(|_| ()),
        world
            .compute_provider
            .apply_for_voucher(application("provider", "HT-P", "100"))
            .await
            .map(|_| ()),
    ];
    for refusal in denied {
        let status = refusal.expect_err("not the enterprise's to do");
        assert_eq!(
            status.code(),
            Code::PermissionDenied,
            "{}",
            status.message()
        );
    }
}
