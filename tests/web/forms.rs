//! The bureau's forms: issuing, a refusal read as the ledger's, the CSRF secret every form
//! needs, and reviewing and settling claims.

use super::*;

#[tokio::test]
async fn the_bureau_issues_through_the_form_and_sees_the_bar_move() {
    let mut world = world_with_console().await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let csrf = browser.csrf().await;
    let (status, _, page) = browser
        .issue_compute_voucher(&csrf, "web-issue-1", "200,000.00")
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("已发券 V000000000001"), "{page}");
    let voucher = get_voucher(&mut world.bureau, "V000000000001").await;
    assert_eq!(yuan(&voucher.face_value), "200000.00");

    let (_, before) = browser.get("/enterprises").await;
    assert_eq!(redeemed_percent_after(&before, ENTERPRISE), 0.0);
    world
        .compute_provider
        .redeem(redeem_request(
            &voucher,
            &invoice(1),
            "2026-11-02",
            "400000.00",
        ))
        .await
        .expect("redeemed over gRPC");
    let (_, after) = browser.get("/enterprises").await;
    assert!((redeemed_percent_after(&after, ENTERPRISE) - 10.0).abs() < 0.001);

    // The same request again is the same voucher, as over gRPC.
    let (status, _, again) = browser
        .issue_compute_voucher(&csrf, "web-issue-1", "200,000.00")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(again.contains("已发券 V000000000001"));
}

#[tokio::test]
async fn a_refused_form_reads_as_the_ledgers_refusal_and_changes_nothing() {
    let mut world = world_with_console().await;
    issue(&mut world.bureau, "all", pb::Program::Compute, None).await;
    let grpc_refusal = world
        .bureau
        .issue_voucher(issue_request(
            "more",
            ENTERPRISE,
            pb::Program::Compute,
            Some("1.00"),
        ))
        .await
        .expect_err("the cap is committed");
    // The console says what the API says: the same reason and the same words.
    let expected = format!("{}: {}", reason(&grpc_refusal), grpc_refusal.message());

    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let csrf = browser.csrf().await;
    let more = [
        ("csrf", csrf.as_str()),
        ("request_id", "web-more"),
        ("enterprise_credit_code", ENTERPRISE),
        ("program", "compute"),
        ("face_value", "1.00"),
        ("confirmed", "yes"),
    ];
    let (status, _, page) = browser.post("/actions/issue-voucher", &more).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let escaped = expected
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    assert!(page.contains(&escaped), "{expected} in {page}");

    let (status, _, page) = browser
        .issue_compute_voucher(&csrf, "web-bad", "12.345")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("face_value: "), "{page}");

    let (status, _, page) = browser
        .post(
            "/actions/reverse-redemption",
            &[
                ("csrf", csrf.as_str()),
                ("redemption_id", "R000000000009"),
                ("reason", "红冲"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");

    assert_eq!(
        vouchers_issued(&mut world.bureau).await,
        1,
        "nothing was issued by the refused forms"
    );
}

#[tokio::test]
async fn every_form_needs_the_session_csrf_secret() {
    let mut world = world_with_console().await;
    let voucher = issue(
        &mut world.bureau,
        "v",
        pb::Program::Compute,
        Some("1000.00"),
    )
    .await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let forms: [(&str, Vec<(&str, &str)>); 9] = [
        (
            "/actions/approve-redemption",
            vec![("redemption_id", "R000000000001")],
        ),
        (
            "/actions/reject-redemption",
            vec![("redemption_id", "R000000000001"), ("reason", "forged")],
        ),
        (
            "/actions/create-settlement",
            vec![
                ("request_id", "forged"),
                ("provider_credit_code", COMPUTE_PROVIDER),
                ("program", "compute"),
                ("up_to_date", "2026-11-30"),
            ],
        ),
        (
            "/actions/record-settlement-payment",
            vec![
                ("settlement_id", "S000000000001"),
                ("bank_reference", "forged"),
                ("paid_on", TODAY),
            ],
        ),
        (
            "/actions/issue-voucher",
            vec![
                ("request_id", "forged"),
                ("enterprise_credit_code", ENTERPRISE),
                ("program", "leasing"),
            ],
        ),
        (
            "/actions/revoke-voucher",
            vec![
                ("voucher_id", voucher.voucher_id.as_str()),
                ("reason", "forged"),
            ],
        ),
        (
            "/actions/reverse-redemption",
            vec![("redemption_id", "R000000000001"), ("reason", "forged")],
        ),
        (
            "/actions/register-enterprise",
            vec![("credit_code", "91330100716105852F"), ("name", "伪造")],
        ),
        (
            "/actions/register-provider",
            vec![
                ("credit_code", "91330100716105852F"),
                ("name", "伪造"),
                ("program", "compute"),
            ],
        ),
    ];
    for (path, fields) in &forms {
        for csrf in ["", "0000"] {
            let mut form = fields.clone();
            form.push(("csrf", csrf));
            let (status, _, page) = browser.post(path, &form).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {page}");
        }
    }
    let (_, _, page) = browser.post("/logout", &[("csrf", "forged")]).await;
    assert!(page.contains("表单已失效"));
    assert_eq!(browser.get("/").await.0, StatusCode::OK, "still signed in");
    assert_eq!(
        get_voucher(&mut world.bureau, &voucher.voucher_id)
            .await
            .status,
        pb::VoucherStatus::Active as i32,
        "not revoked"
    );
    assert_eq!(
        vouchers_issued(&mut world.bureau).await,
        1,
        "nothing issued"
    );
}

#[tokio::test]
async fn the_bureau_reviews_and_settles_through_the_forms() {
    let mut world = world_with_console().await;
    let (_, claims) = voucher_with_claims(&mut world, &["10000.00", "6000.00"]).await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let csrf = browser.csrf().await;
    let (status, _, page) = browser
        .post(
            "/actions/approve-redemption",
            &[
                ("csrf", csrf.as_str()),
                ("redemption_id", &claims[0].redemption_id),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("已审核 R000000000001"), "{page}");
    let (status, _, page) = browser
        .post(
            "/actions/reject-redemption",
            &[
                ("csrf", csrf.as_str()),
                ("redemption_id", &claims[1].redemption_id),
                ("reason", "发票与合同不符"),
                ("confirmed", "yes"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("已驳回 R000000000002"), "{page}");
    let settle = [
        ("csrf", csrf.as_str()),
        ("request_id", "web-settle-1"),
        ("provider_credit_code", COMPUTE_PROVIDER),
        ("program", "compute"),
        ("up_to_date", "2026-11-30"),
        ("confirmed", "yes"),
    ];
    let (status, _, page) = browser.post("/actions/create-settlement", &settle).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("已生成结算单 S000000000001"), "{page}");
    assert!(
        page.contains("应拨付 5,000.00 元"),
        "the net in words: {page}"
    );
    let statement = world
        .bureau
        .get_settlement(pb::GetSettlementRequest {
            settlement_id: "S000000000001".to_owned(),
        })
        .await
        .expect("the statement")
        .into_inner();
    assert_eq!(statement.lines.len(), 1, "the rejected claim is not paid");
    assert_eq!(yuan(&statement.net), "5000.00");

    let (status, _, page) = browser.post("/actions/create-settlement", &settle).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the same form again is the same statement"
    );
    assert!(page.contains("已生成结算单 S000000000001"));
    let again = [
        ("csrf", csrf.as_str()),
        ("request_id", "web-settle-2"),
        ("provider_credit_code", COMPUTE_PROVIDER),
        ("program", "compute"),
        ("up_to_date", "2026-11-30"),
        ("confirmed", "yes"),
    ];
    let (status, _, page) = browser.post("/actions/create-settlement", &again).await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("NOTHING_TO_SETTLE"), "{page}");

    let (_, providers) = browser.get("/providers").await;
    assert!(
        providers.contains("待拨付"),
        "the statement waits for payment"
    );
    let pay = |paid_on: &'static str| {
        [
            ("csrf", csrf.as_str()),
            ("settlement_id", "S000000000001"),
            ("bank_reference", "国库支付 20261130-7"),
            ("paid_on", paid_on),
            ("confirmed", "yes"),
        ]
    };
    // Tomorrow is refused at the first submit, not after a confirmation.
    let mut tomorrow = pay("2026-11-21").to_vec();
    tomorrow.retain(|(name, _)| *name != "confirmed");
    let (status, _, page) = browser
        .post("/actions/record-settlement-payment", &tomorrow)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "tomorrow: {page}");
    assert!(page.contains("PAYMENT_DATE_OUT_OF_RANGE"), "{page}");
    assert!(
        !page.contains("确认登记拨付"),
        "no confirmation first: {page}"
    );
    // Today asks to confirm first, and records nothing yet.
    let mut today = pay(TODAY).to_vec();
    today.retain(|(name, _)| *name != "confirmed");
    let (status, _, page) = browser
        .post("/actions/record-settlement-payment", &today)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("确认登记拨付"), "{page}");
    assert!(!page.contains("结算单已拨付"), "{page}");
    let (status, _, page) = browser
        .post("/actions/record-settlement-payment", &pay(TODAY))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("结算单已拨付 S000000000001"), "{page}");
    let paid = world
        .bureau
        .get_settlement(pb::GetSettlementRequest {
            settlement_id: "S000000000001".to_owned(),
        })
        .await
        .expect("the statement")
        .into_inner()
        .payment
        .expect("paid through the form");
    assert_eq!(
        (paid.paid_on.as_str(), paid.bank_reference.as_str()),
        (TODAY, "国库支付 20261130-7")
    );
    let (_, providers) = browser.get("/providers").await;
    assert!(
        providers.contains("国库支付 20261130-7") && !providers.contains("待拨付"),
        "{providers}"
    );
}

/// Issue 16: a refused form says what is wrong in the clerk's words, keeps the wire's code in
/// 技术信息 only, and comes back filled with what was typed, the bad field marked.
#[tokio::test]
async fn a_refused_issue_form_comes_back_filled_in_words_a_clerk_reads() {
    let mut world = world_with_console().await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let csrf = browser.csrf().await;
    let form = [
        ("csrf", csrf.as_str()),
        ("request_id", "web-typo"),
        ("enterprise_credit_code", "91440300192203821"),
        ("program", "compute"),
        ("face_value", "12万"),
        ("valid_from", ""),
        ("valid_until", ""),
    ];
    let (status, _, page) = browser.post("/actions/issue-voucher", &form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(
        page.contains("企业信用代码：统一社会信用代码应为18位数字或大写字母"),
        "{page}"
    );
    // The wire's code only inside the collapsed technical details.
    let (outside, technical) = page
        .split_once("<details class=\"technical\">")
        .expect("技术信息");
    assert!(!outside.contains("MALFORMED_CREDIT_CODE"), "{outside}");
    assert!(technical.contains("技术信息"));
    assert!(technical.contains("MALFORMED_CREDIT_CODE"));
    // What was typed is back in the form, the bad field marked.
    assert!(page.contains("value=\"91440300192203821\""), "{page}");
    assert!(page.contains("value=\"12万\""), "{page}");
    let field = page
        .split("name=\"enterprise_credit_code\"")
        .nth(1)
        .and_then(|rest| rest.split('>').next())
        .expect("the credit code field");
    assert!(field.contains("aria-invalid=\"true\""), "{field}");
    assert!(field.contains("class=\"invalid\""), "{field}");
    assert_eq!(vouchers_issued(&mut world.bureau).await, 0);

    // In English the same catalogue speaks English.
    browser.get("/language?to=en&back=%2Factions").await;
    let (status, _, page) = browser.post("/actions/issue-voucher", &form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("enterprise credit code: A unified social credit code"),
        "{page}"
    );
}

/// Issue 16: amounts as people type them, `30万` and full-width digits, in the face value.
#[tokio::test]
async fn the_issue_form_reads_wan_and_full_width_digits() {
    let mut world = world_with_console().await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let csrf = browser.csrf().await;
    let (status, _, page) = browser.issue_compute_voucher(&csrf, "wan", "30万").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let voucher = get_voucher(&mut world.bureau, "V000000000001").await;
    assert_eq!(yuan(&voucher.face_value), "300000.00");
    let wide = [
        ("csrf", csrf.as_str()),
        ("request_id", "wide"),
        ("enterprise_credit_code", ENTERPRISE),
        ("program", "compute"),
        ("face_value", "￥１２，３４５．６７元"),
        ("confirmed", "yes"),
    ];
    let (status, _, page) = browser.post("/actions/issue-voucher", &wide).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let voucher = get_voucher(&mut world.bureau, "V000000000002").await;
    assert_eq!(yuan(&voucher.face_value), "12345.67");
}
