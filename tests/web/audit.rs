//! Who did what in the console (issue 15): a second bureau token's issue named on the audit
//! page (by token and by day) and in the enterprise's and the voucher's histories; finance
//! signing in to read and to record a payment, its only form, named on the statement; the
//! bureau's payment refused when the policy separates duties; the audit page for auditors and
//! not for enterprises.

use super::*;

use voucher_ledger::domain::policy::DEFAULT_POLICY_TOML;

/// A token of `role` made over gRPC: its id and its secret.
async fn token_of(bureau: &mut Client, role: pb::Role) -> (String, String) {
    let created = bureau
        .create_token(pb::CreateTokenRequest {
            role: role as i32,
            description: "console audit test".into(),
            ..Default::default()
        })
        .await
        .expect("a token")
        .into_inner();
    (created.token_id, created.token)
}

/// Today in China, by the wall clock the events are stamped with.
fn china_today() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&voucher_ledger::domain::dates::china_offset())
        .date_naive()
}

#[tokio::test]
async fn a_second_bureau_tokens_issue_is_named_in_the_audit_log_and_the_histories() {
    let mut world = world_with_console().await;
    let (clerk_id, clerk) = token_of(&mut world.bureau, pb::Role::Bureau).await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&clerk).await;
    let csrf = browser.csrf().await;
    let day_before = china_today();
    let (status, _, page) = browser
        .issue_compute_voucher(&csrf, "clerk-issue-1", "1,000.00")
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("已发券 V000000000001"), "{page}");
    let day = china_today();

    let (status, by_clerk) = browser
        .get(&format!("/audit?token={}", clerk_id.to_lowercase()))
        .await;
    assert_eq!(status, StatusCode::OK, "{by_clerk}");
    assert!(by_clerk.contains("<h1>操作日志</h1>"), "{by_clerk}");
    assert!(by_clerk.contains("voucher_issued"), "{by_clerk}");
    assert!(by_clerk.contains("发券"));
    assert!(by_clerk.contains(&format!(">{clerk_id}</a> · 数据局")));
    assert!(by_clerk.contains("href=\"/vouchers/V000000000001\""));
    assert!(by_clerk.contains(&format!("href=\"/enterprises/{ENTERPRISE}\"")));
    assert!(
        !by_clerk.contains("enterprise_registered") && !by_clerk.contains("token_created"),
        "only what the clerk did: {by_clerk}"
    );
    assert!(
        by_clerk.contains("已查找事件 #1–#"),
        "what was read: {by_clerk}"
    );

    if day == day_before {
        let on_day = format!("/audit?token={clerk_id}&day={day}");
        let (_, that_day) = browser.get(&on_day).await;
        assert!(that_day.contains("voucher_issued"), "{that_day}");
        let before = day.pred_opt().expect("a day before");
        let (_, other_day) = browser
            .get(&format!("/audit?token={clerk_id}&day={before}"))
            .await;
        assert!(!other_day.contains("voucher_issued"), "{other_day}");
        assert!(other_day.contains("所查找的事件中没有符合条件的。"));
    }
    let (status, refused) = browser.get("/audit?token=T12").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refused.contains("token: "), "{refused}");
    let (status, refused) = browser.get("/audit?day=2026-02-30").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");

    let (status, enterprise) = browser.get(&format!("/enterprises/{ENTERPRISE}")).await;
    assert_eq!(status, StatusCode::OK);
    let history = &enterprise[enterprise.find("操作记录").expect("a history")..];
    assert!(history.contains("voucher_issued"), "{history}");
    assert!(
        history.contains(&format!(">{clerk_id}</a> · 数据局")),
        "{history}"
    );
    assert!(
        history.contains("enterprise_registered"),
        "its registration, by the first bureau token: {history}"
    );
    let (_, voucher) = browser.get("/vouchers/V000000000001/providers").await;
    let history = &voucher[voucher.find("操作记录").expect("a history")..];
    assert!(history.contains(&clerk_id) && history.contains("voucher_issued"));
}

/// The default rules with separation of duties on.
fn separated_policy() -> String {
    DEFAULT_POLICY_TOML.replacen(
        "redeem_grace_days = 90",
        "redeem_grace_days = 90\nseparation_of_duties = true",
        1,
    )
}

/// A world whose policy separates duties, with the console, and one approved 15,000.00 claim
/// (approved by another bureau token than the world's) on a statement the world's bureau made.
async fn separated_world_with_a_statement() -> (World, String) {
    let data = DataDir::new();
    std::fs::create_dir_all(data.path()).expect("data dir");
    let file = data.path().join("policy.toml");
    std::fs::write(&file, separated_policy()).expect("policy");
    let file = file.to_str().expect("utf-8").to_owned();
    let mut world = World::new_in(data, TODAY, &["--policy", &file, "--web-port", "0"]).await;
    let (_, reviewer) = token_of(&mut world.bureau, pb::Role::Bureau).await;
    let mut reviewer = world.server.client(&reviewer).await;
    let (_, claims) = voucher_with_claims(&mut world, &["30000.00"]).await;
    reviewer
        .approve_redemption(pb::ApproveRedemptionRequest {
            redemption_id: claims[0].redemption_id.clone(),
        })
        .await
        .expect("another bureau token approves");
    let statement = world
        .bureau
        .create_settlement(pb::CreateSettlementRequest {
            request_id: "s-1".into(),
            provider_credit_code: COMPUTE_PROVIDER.into(),
            program: pb::Program::Compute as i32,
            up_to_date: TODAY.into(),
        })
        .await
        .expect("a statement")
        .into_inner();
    (world, statement.settlement_id)
}

/// The statement page's payment form, filled in.
fn payment_form<'a>(csrf: &'a str, settlement_id: &'a str) -> [(&'a str, &'a str); 6] {
    [
        ("csrf", csrf),
        ("settlement_id", settlement_id),
        ("bank_reference", "国库支付 2026-0001"),
        ("paid_on", TODAY),
        ("from", "statement"),
        ("confirmed", "yes"),
    ]
}

/// The bureau sees the statement's payment form, and the ledger refuses it: duties are
/// separated.
async fn the_bureaus_payment_is_refused(world: &World, settlement_id: &str) {
    let bureau = Browser::new(&world.server);
    bureau.sign_in(&world.server.bureau_token).await;
    let (status, statement) = bureau.get(&format!("/settlements/{settlement_id}")).await;
    assert_eq!(status, StatusCode::OK, "{statement}");
    assert!(statement.contains(&format!("<h1>结算单 {settlement_id}</h1>")));
    assert!(statement.contains("id=\"record-settlement-payment\""));
    assert!(statement.contains("待拨付") && statement.contains("settlement_created"));
    let csrf = bureau.csrf().await;
    // Refused at the first submit, without asking to confirm a payment it cannot make.
    let mut unconfirmed = payment_form(&csrf, settlement_id).to_vec();
    unconfirmed.retain(|(name, _)| *name != "confirmed");
    let (status, _, refused) = bureau
        .post("/actions/record-settlement-payment", &unconfirmed)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert!(refused.contains("PERMISSION_DENIED"), "{refused}");
    assert!(!refused.contains("确认登记拨付"), "{refused}");
    assert!(
        refused.contains("待拨付"),
        "the statement's page again: {refused}"
    );
    let (status, _) = bureau.get("/settlements/S000000000009").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Finance reads every page, and its one form is the payment's.
async fn finance_reads_and_has_one_form(browser: &Browser, settlement_id: &str) {
    let (status, overview) = browser.get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(overview.contains("财政") && overview.contains("拨付登记"));
    for path in [
        "/enterprises",
        "/redemptions",
        "/providers",
        "/notices",
        "/audit",
    ] {
        assert_eq!(browser.get(path).await.0, StatusCode::OK, "{path}");
    }
    let (status, actions) = browser.get("/actions").await;
    assert_eq!(status, StatusCode::OK, "{actions}");
    assert!(actions.contains("id=\"record-settlement-payment\""));
    assert!(
        !actions.contains("id=\"issue-voucher\"") && !actions.contains("id=\"create-settlement\""),
        "finance's one form: {actions}"
    );
    let csrf = browser.csrf().await;
    let (status, _, _) = browser
        .issue_compute_voucher(&csrf, "finance-issue", "1.00")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "finance issues nothing");
    let (_, statement) = browser.get(&format!("/settlements/{settlement_id}")).await;
    assert!(statement.contains("id=\"record-settlement-payment\""));
}

#[tokio::test]
async fn finance_signs_in_and_records_a_payment_the_bureau_may_not() {
    let (mut world, settlement_id) = separated_world_with_a_statement().await;
    the_bureaus_payment_is_refused(&world, &settlement_id).await;
    let (finance_id, finance) = token_of(&mut world.bureau, pb::Role::Finance).await;
    let browser = Browser::new(&world.server);
    let (status, location, _) = browser.sign_in(&finance).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/"));
    finance_reads_and_has_one_form(&browser, &settlement_id).await;
    let csrf = browser.csrf().await;
    let (status, _, paid) = browser
        .post(
            "/actions/record-settlement-payment",
            &payment_form(&csrf, &settlement_id),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert!(
        paid.contains(&format!("结算单已拨付 {settlement_id}")),
        "{paid}"
    );
    assert!(
        !paid.contains("id=\"record-settlement-payment\""),
        "paid: no form"
    );
    assert!(
        paid.contains(&format!(">{finance_id}</a> · 财政")),
        "recorded by: {paid}"
    );
    let history = &paid[paid.find("操作记录").expect("a history")..];
    assert!(history.contains("settlement_paid") && history.contains(&finance_id));

    let recorded = world
        .bureau
        .get_settlement(pb::GetSettlementRequest {
            settlement_id: settlement_id.clone(),
        })
        .await
        .expect("the statement")
        .into_inner()
        .payment
        .and_then(|payment| payment.recorded_by)
        .expect("recorded by someone");
    assert_eq!(
        (recorded.token_id.as_str(), recorded.role.as_str()),
        (finance_id.as_str(), "finance")
    );
    let (_, listed) = browser.get("/providers").await;
    let link = format!("<td><a href=\"/settlements/{settlement_id}\">{settlement_id}</a></td>");
    assert!(listed.contains(&link), "{listed}");
}

#[tokio::test]
async fn auditors_read_the_audit_log_and_enterprises_are_kept_off_it() {
    let mut world = world_with_console().await;
    let (auditor_id, auditor) = token_of(&mut world.bureau, pb::Role::Auditor).await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&auditor).await;
    let (status, log) = browser.get("/audit").await;
    assert_eq!(status, StatusCode::OK, "{log}");
    assert!(log.contains("enterprise_registered") && log.contains("policy_adopted"));
    assert!(
        log.contains("<span>账本</span>"),
        "the policy adopted at start: {log}"
    );
    assert!(
        log.contains(&auditor_id),
        "its own token's creation names it: {log}"
    );
    let (status, one) = browser
        .get(&format!("/audit?record={}", ENTERPRISE.to_lowercase()))
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert!(one.contains("enterprise_registered") && !one.contains("policy_adopted"));
    let (status, _) = browser.get("/audit?before=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        browser.get("/audit?before=x").await.0,
        StatusCode::BAD_REQUEST
    );

    let enterprise = create_enterprise_token(&mut world.bureau, ENTERPRISE).await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&enterprise).await;
    let (status, location) = browser.location_of("/audit").await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/my"));
    let (status, location) = browser.location_of("/settlements/S000000000001").await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/my"));
}
