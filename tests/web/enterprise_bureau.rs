//! The bureau's side of the enterprise's part in the console: an application made through the
//! enterprise's form, approved (or rejected) on the applications page; an unbound voucher
//! bound; a claim returned for correction; and a public notice published, read and downloaded.

use super::enterprise::{
    application_request, enterprise_browser, enterprise_client, nav_count, world_with_policy,
};
use super::*;

/// A second compute provider, so that choosing one means something.
const SECOND_PROVIDER_NAME: &str = "启东第二算力有限公司";

fn second_provider() -> String {
    code_with_check_digit("91320681MA1X8K2G6")
}

#[tokio::test]
async fn an_enterprise_applies_through_the_form_and_the_bureau_approves_it() {
    let mut world = world_with_console().await;
    let second = second_provider();
    register_provider(
        &mut world.bureau,
        &second,
        SECOND_PROVIDER_NAME,
        pb::Program::Compute,
    )
    .await;
    let enterprise = enterprise_browser(&mut world, ENTERPRISE).await;
    apply_through_the_form(&enterprise).await;

    let bureau = Browser::new(&world.server);
    bureau.sign_in(&world.server.bureau_token).await;
    let (_, waiting) = bureau.get("/applications").await;
    assert_eq!(nav_count(&waiting, "申领"), "1");
    for shown in [
        "A000000000001",
        "启东智算科技有限公司",
        "QD-2026-001",
        "待审批",
        "300,000.00",
    ] {
        assert!(waiting.contains(shown), "{shown} in {waiting}");
    }
    let csrf = hidden_value(&waiting, "csrf");
    let form = [
        ("csrf", csrf.as_str()),
        ("application_id", "A000000000001"),
        ("face_value", "250,000.00"),
    ];
    let (status, _, page) = bureau.post("/actions/approve-application", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("A000000000001 已批准"), "{page}");
    assert!(page.contains("已发券 V000000000001"), "{page}");
    assert_eq!(nav_count(&page, "申领"), "0");
    let voucher = get_voucher(&mut world.bureau, "V000000000001").await;
    assert_eq!(yuan(&voucher.face_value), "250000.00");
    assert_eq!(
        voucher.provider_credit_codes,
        vec![COMPUTE_PROVIDER.to_owned()]
    );

    let (_, home) = enterprise.get("/my").await;
    assert!(
        home.contains("V000000000001") && home.contains(COMPUTE_PROVIDER),
        "{home}"
    );
    assert!(
        !home.contains(&second),
        "bound to the provider it chose only"
    );
    let (_, mine) = enterprise.get("/my/applications").await;
    assert!(
        mine.contains("已批准") && mine.contains("V000000000001"),
        "{mine}"
    );
    assert_eq!(nav_count(&mine, "申领"), "0");
}

/// The enterprise fills the compute form (300,000.00 with COMPUTE_PROVIDER ticked) and sends
/// it twice: one application, A000000000001.
async fn apply_through_the_form(enterprise: &Browser) {
    let (_, page) = enterprise.get("/my/applications").await;
    assert!(
        page.contains(SECOND_PROVIDER_NAME) && page.contains(COMPUTE_PROVIDER),
        "{page}"
    );
    let csrf = hidden_value(&page, "csrf");
    let request_id = hidden_value(&page, "request_id");
    let sha = "ab".repeat(32);
    let form = [
        ("csrf", csrf.as_str()),
        ("request_id", &request_id),
        ("program", "compute"),
        ("amount", "300,000.00"),
        ("provider", COMPUTE_PROVIDER),
        ("contract_number", "QD-2026-001"),
        ("contract_sha256", &sha),
        ("purpose", "训练启东港口调度大模型"),
        ("other_subsidies", ""),
    ];
    // Issue 16: a refused application comes back as typed, the amount marked, in words.
    let mut typo = form;
    typo[3] = ("amount", "30.0000001万");
    typo[1] = ("request_id", "typo");
    let (status, _, page) = enterprise.post("/my/apply", &typo).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("金额：金额最多精确到分"), "{page}");
    assert!(page.contains("value=\"QD-2026-001\""), "{page}");
    assert!(page.contains("value=\"30.0000001万\""), "{page}");
    let field = page
        .split("name=\"amount\"")
        .nth(1)
        .and_then(|rest| rest.split('>').next())
        .expect("the amount field");
    assert!(field.contains("aria-invalid=\"true\""), "{field}");
    // 30万 as people type it is the 300,000.00 of the form.
    let mut wan = form;
    wan[3] = ("amount", "30万");
    let (status, _, page) = enterprise.post("/my/apply", &wan).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("已提交申领 A000000000001"), "{page}");
    assert_eq!(nav_count(&page, "申领"), "1", "its own application waits");
    let (status, _, again) = enterprise.post("/my/apply", &form).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the same form again is the same application"
    );
    assert!(again.contains("已提交申领 A000000000001"), "{again}");
}

#[tokio::test]
async fn the_bureau_rejects_with_a_reason_and_an_auditor_only_reads() {
    let mut world = world_with_console().await;
    let mut enterprise = enterprise_client(&mut world, ENTERPRISE).await;
    enterprise
        .apply_for_voucher(application_request("a-1", "QD-2026-002"))
        .await
        .expect("applied");
    let auditor_token = create_token(&mut world.bureau, pb::Role::Auditor, "").await;
    let auditor = Browser::new(&world.server);
    auditor.sign_in(&auditor_token).await;
    let (status, page) = auditor.get("/applications").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("A000000000001"), "{page}");
    assert!(
        !page.contains("/actions/approve-application"),
        "no forms for an auditor"
    );
    assert_eq!(nav_count(&page, "申领"), "1");
    let csrf = hidden_value(&page, "csrf");
    let form = [("csrf", csrf.as_str()), ("application_id", "A000000000001")];
    let (status, _, _) = auditor.post("/actions/approve-application", &form).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let bureau = Browser::new(&world.server);
    bureau.sign_in(&world.server.bureau_token).await;
    let csrf = bureau.csrf().await;
    let reason = "合同金额与发票不符";
    let form = [
        ("csrf", csrf.as_str()),
        ("application_id", "A000000000001"),
        ("reason", reason),
        ("confirmed", "yes"),
    ];
    let (status, _, page) = bureau.post("/actions/reject-application", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("A000000000001 未批准"), "{page}");
    let browser = enterprise_browser(&mut world, ENTERPRISE).await;
    let (_, mine) = browser.get("/my/applications").await;
    assert!(mine.contains("未批准") && mine.contains(reason), "{mine}");
    assert_eq!(vouchers_issued(&mut world.bureau).await, 0);
}

#[tokio::test]
async fn the_bureau_binds_an_unbound_voucher_and_returns_a_claim_for_correction() {
    let mut world = world_with_policy(&confirmation_policy()).await;
    let (voucher, claims) = voucher_with_claims(&mut world, &["1000.00", "2000.00"]).await;
    let bureau = Browser::new(&world.server);
    bureau.sign_in(&world.server.bureau_token).await;
    let (_, unbound) = bureau.get("/vouchers/unbound").await;
    assert!(unbound.contains(&voucher.voucher_id), "{unbound}");
    let (_, page) = bureau
        .get(&format!("/vouchers/{}/providers", voucher.voucher_id))
        .await;
    assert!(
        page.contains("action=\"/actions/change-voucher-providers\""),
        "{page}"
    );
    let csrf = hidden_value(&page, "csrf");
    let form = [
        ("csrf", csrf.as_str()),
        ("voucher_id", &voucher.voucher_id),
        ("provider", COMPUTE_PROVIDER),
        ("reason", "企业申报的服务商"),
    ];
    let (status, _, page) = bureau
        .post("/actions/change-voucher-providers", &form)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("已保存服务商"), "{page}");
    let bound = get_voucher(&mut world.bureau, &voucher.voucher_id).await;
    assert_eq!(
        bound.provider_credit_codes,
        vec![COMPUTE_PROVIDER.to_owned()]
    );
    let (_, unbound) = bureau.get("/vouchers/unbound").await;
    assert!(
        !unbound.contains(&voucher.voucher_id),
        "bound now: {unbound}"
    );

    let (_, waiting) = bureau.get("/confirmations").await;
    assert_eq!(nav_count(&waiting, "待企业确认"), "2");
    let form = [
        ("csrf", csrf.as_str()),
        ("redemption_id", claims[0].redemption_id.as_str()),
        ("reason", "发票抬头有误"),
        ("from", "confirmations"),
    ];
    let (status, _, page) = bureau.post("/actions/return-redemption", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains(&format!("已退回补正 {}", claims[0].redemption_id)),
        "{page}"
    );
    assert_eq!(nav_count(&page, "待企业确认"), "1");
    let enterprise = enterprise_browser(&mut world, ENTERPRISE).await;
    let (_, mine) = enterprise.get("/my/claims").await;
    assert!(
        mine.contains("已退回补正") && mine.contains("发票抬头有误"),
        "{mine}"
    );
    assert_eq!(nav_count(&mine, "核销确认"), "1");
}

#[tokio::test]
async fn the_bureau_publishes_a_notice_and_downloads_it() {
    let mut world = world_with_console().await;
    let (_, claims) = voucher_with_claims(&mut world, &["10000.00", "6000.00"]).await;
    for claim in &claims {
        world
            .bureau
            .approve_redemption(pb::ApproveRedemptionRequest {
                redemption_id: claim.redemption_id.clone(),
            })
            .await
            .expect("approved");
    }
    // Claims are approved at the wall clock's instant, in China: the period is around it.
    let china_today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let day = |offset: i64| (china_today + chrono::Duration::days(offset)).to_string();
    let bureau = Browser::new(&world.server);
    bureau.sign_in(&world.server.bureau_token).await;
    let (_, page) = bureau.get("/notices").await;
    assert!(
        page.contains("action=\"/actions/publish-notice\""),
        "{page}"
    );
    let csrf = hidden_value(&page, "csrf");
    let (from, until) = (day(-1), day(1));
    let form = [
        ("csrf", csrf.as_str()),
        ("program", "compute"),
        ("approved_from", &from),
        ("approved_until", &until),
        ("posted_from", "2026-12-01"),
        ("posted_until", "2026-12-07"),
    ];
    let (status, _, page) = bureau.post("/actions/publish-notice", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("已发布公示 N000000000001 · 笔数 2 · 补贴合计 8,000.00"),
        "{page}"
    );
    assert!(page.contains("href=\"/notices/N000000000001\""), "{page}");

    let (_, notice) = bureau.get("/notices/N000000000001").await;
    for shown in [&claims[0].redemption_id, &claims[1].redemption_id] {
        assert!(notice.contains(shown.as_str()), "{notice}");
    }
    assert!(
        notice.contains("启东智算科技有限公司") && notice.contains("5,000.00"),
        "{notice}"
    );

    assert_notice_downloads(&bureau).await;

    let auditor_token = create_token(&mut world.bureau, pb::Role::Auditor, "").await;
    let auditor = Browser::new(&world.server);
    auditor.sign_in(&auditor_token).await;
    let (status, page) = auditor.get("/notices").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("N000000000001") && !page.contains("/actions/publish-notice"));
}

/// The notice's CSV (a BOM, the credit code kept as text) and XLSX (the code a text cell).
async fn assert_notice_downloads(bureau: &Browser) {
    let download = |format: &str| {
        bureau
            .http
            .get(format!(
                "{}/downloads/notice?id=N000000000001&format={format}",
                bureau.base
            ))
            .send()
    };
    let response = download("csv").await.expect("downloaded");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        header_of(&response, reqwest::header::CONTENT_DISPOSITION).contains("N000000000001.csv")
    );
    let csv = response.text().await.expect("text");
    assert!(csv.starts_with('\u{feff}'), "a BOM for Excel");
    assert!(
        csv.contains(&format!("\"{ENTERPRISE}\t\"")),
        "the credit code is kept as text: {csv}"
    );
    assert!(
        csv.contains("8000.00") && csv.contains("启东智算科技有限公司"),
        "{csv}"
    );
    let response = download("xlsx").await.expect("downloaded");
    let bytes = response.bytes().await.expect("bytes").to_vec();
    let mut workbook = Xlsx::new(Cursor::new(bytes)).expect("an XLSX");
    let sheet = workbook
        .worksheet_range("公示 Notice")
        .expect("the notice sheet");
    assert!(
        sheet
            .rows()
            .any(|row| row.get(1) == Some(&Data::String(ENTERPRISE.to_owned()))),
        "the code is a text cell"
    );
}
