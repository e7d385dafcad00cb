//! The printable payment voucher (issue 16 item 7): `/settlements/{id}/print` shows the bureau's
//! title, the lines with enterprise names, the net in figures and in capitals, the signature
//! block and the print stylesheet; an unknown statement is 404 and an enterprise's session
//! never sees it; every page links the print stylesheet for paper.

use super::*;

/// A paid statement of two claims (subsidies 5,000.00 and 1,500.01), approved, settled.
async fn statement(world: &mut World) -> pb::Settlement {
    let (_, claims) = voucher_with_claims(world, &["10000.00", "3000.02"]).await;
    for claim in &claims {
        world
            .bureau
            .approve_redemption(pb::ApproveRedemptionRequest {
                redemption_id: claim.redemption_id.clone(),
            })
            .await
            .expect("approved");
    }
    world
        .bureau
        .create_settlement(pb::CreateSettlementRequest {
            request_id: "s1".to_owned(),
            provider_credit_code: COMPUTE_PROVIDER.to_owned(),
            program: pb::Program::Compute as i32,
            up_to_date: "2026-11-30".to_owned(),
        })
        .await
        .expect("settled")
        .into_inner()
}

#[tokio::test]
async fn the_payment_voucher_prints_the_lines_the_net_in_capitals_and_the_signatures() {
    let mut world = world_with_console().await;
    let settlement = statement(&mut world).await;
    let id = &settlement.settlement_id;
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;

    let (status, page) = browser.get(&format!("/settlements/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!("href=\"/settlements/{id}/print\"")),
        "the statement links its voucher: {page}"
    );

    let (status, voucher) = browser.get(&format!("/settlements/{id}/print")).await;
    assert_eq!(status, StatusCode::OK, "{voucher}");
    for shown in [
        "启东市数据局",
        "算力券 付款凭证",
        id.as_str(),
        "南通算力服务有限公司",
        COMPUTE_PROVIDER,
        "启东智算科技有限公司",
        ENTERPRISE,
        &invoice(1),
        &invoice(2),
        "5,000.00",
        "1,500.01",
        "6,500.01",
        "人民币陆仟伍佰元零壹分",
        "经办人",
        "审核人",
        "财政",
        "待拨付",
    ] {
        assert!(voucher.contains(shown), "{shown} on the voucher: {voucher}");
    }
    assert!(
        voucher.contains("<link rel=\"stylesheet\" href=\"/assets/print.css\">"),
        "the print stylesheet for every medium: {voucher}"
    );
    assert!(
        !voucher.contains("<nav") && !voucher.contains("<form"),
        "no navigation and no form on paper"
    );

    world
        .bureau
        .record_settlement_payment(pb::RecordSettlementPaymentRequest {
            settlement_id: id.clone(),
            bank_reference: "GK2026112000017".to_owned(),
            paid_on: TODAY.to_owned(),
        })
        .await
        .expect("paid");
    let (_, voucher) = browser.get(&format!("/settlements/{id}/print")).await;
    assert!(
        voucher.contains("GK2026112000017")
            && voucher.contains(TODAY)
            && !voucher.contains("待拨付"),
        "the payment once recorded: {voucher}"
    );

    browser.get("/language?to=en&back=/").await;
    let (_, english) = browser.get(&format!("/settlements/{id}/print")).await;
    assert!(
        english.contains("Qidong Municipal Data Bureau")
            && english.contains("Prepared by")
            && english.contains("人民币陆仟伍佰元零壹分"),
        "in English, the capitals still Chinese: {english}"
    );
}

#[tokio::test]
async fn an_unknown_statement_is_not_found_and_an_enterprise_never_sees_one() {
    let mut world = world_with_console().await;
    let settlement = statement(&mut world).await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let (status, page) = browser.get("/settlements/S000000000009/print").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
    let (status, _) = browser.get("/settlements/not-an-id/print").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let token = create_enterprise_token(&mut world.bureau, ENTERPRISE).await;
    let enterprise = Browser::new(&world.server);
    enterprise.sign_in(&token).await;
    let path = format!("/settlements/{}/print", settlement.settlement_id);
    let (status, location) = enterprise.location_of(&path).await;
    assert!(
        status.is_redirection() && location == "/my",
        "sent to its own page: {status} {location}"
    );
}

#[tokio::test]
async fn every_page_links_the_print_stylesheet_which_hides_the_screen() {
    let world = world_with_console().await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    for path in ["/", "/redemptions", "/providers", "/enterprises"] {
        let (_, page) = browser.get(path).await;
        assert!(
            page.contains("<link rel=\"stylesheet\" href=\"/assets/print.css\" media=\"print\">"),
            "{path}: {page}"
        );
    }
    let response = browser
        .http
        .get(format!("{}/assets/print.css", browser.base))
        .send()
        .await
        .expect("served");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header_of(&response, reqwest::header::CONTENT_TYPE).starts_with("text/css"));
    let css = response.text().await.expect("text");
    for rule in [
        "@page { size: A4",
        "header.top, nav, .who, form, button",
        "text-decoration: none",
        "page-break-inside: avoid",
        "width: 100%",
    ] {
        assert!(css.contains(rule), "{rule} in the print stylesheet");
    }
}
