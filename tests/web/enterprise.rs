//! The enterprise in the console (issue 14): it signs in with its own token and reads only its
//! own records, never a neighbour's and never a bureau page; it confirms and disputes the
//! claims made in its name through the buttons, and the counts on both navigations follow.

use super::*;

/// A second enterprise, with a voucher and a claim of its own.
const NEIGHBOUR_NAME: &str = "北京邻里科技有限公司";

/// A world with the console, under `policy`.
pub(super) async fn world_with_policy(policy: &str) -> World {
    World::with_policy(policy, TODAY, &["--web-port", "0"]).await
}

/// A browser signed in with `enterprise`'s own token; it lands on its own page.
pub(super) async fn enterprise_browser(world: &mut World, enterprise: &str) -> Browser {
    let token = create_enterprise_token(&mut world.bureau, enterprise).await;
    let browser = Browser::new(&world.server);
    let (status, location, _) = browser.sign_in(&token).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/my"),
        "an enterprise's session starts at its own page"
    );
    browser
}

/// The number beside the navigation entry `label`, as the reader sees it.
pub(super) fn nav_count(page: &str, label: &str) -> String {
    let nav = &page[page.find("<nav>").expect("a navigation")..];
    let nav = &nav[..nav.find("</nav>").expect("the navigation ends")];
    let marker = format!("{label} <span class=\"count\">");
    let start = nav
        .find(&marker)
        .unwrap_or_else(|| panic!("no count beside {label} in {nav}"))
        + marker.len();
    let end = start + nav[start..].find('<').expect("the count ends");
    nav[start..end].to_owned()
}

/// One claim on a fresh compute voucher for `enterprise` (invoice `serial`, 2026-11-02).
async fn claim_for(world: &mut World, enterprise: &str, serial: u64) -> (String, String) {
    let request_id = format!("v-{enterprise}");
    let voucher = world
        .bureau
        .issue_voucher(issue_request(
            &request_id,
            enterprise,
            pb::Program::Compute,
            Some("100000.00"),
        ))
        .await
        .expect("issued")
        .into_inner();
    let claim = world
        .compute_provider
        .redeem(redeem_request(
            &voucher,
            &invoice(serial),
            "2026-11-02",
            "10000.00",
        ))
        .await
        .expect("redeemed")
        .into_inner();
    (voucher.voucher_id, claim.redemption_id)
}

/// What the neighbour has that the enterprise must never see.
struct Theirs {
    voucher: String,
    claim: String,
    application: String,
}

impl Theirs {
    fn all(&self) -> [&str; 5] {
        [
            OTHER_ENTERPRISE,
            NEIGHBOUR_NAME,
            &self.voucher,
            &self.claim,
            &self.application,
        ]
    }
}

/// The neighbour: registered, with a voucher, a claim (invoice 1) and an application.
async fn neighbour(world: &mut World) -> Theirs {
    register_enterprise(&mut world.bureau, OTHER_ENTERPRISE, NEIGHBOUR_NAME).await;
    let (voucher, claim) = claim_for(world, OTHER_ENTERPRISE, 1).await;
    let mut neighbour = enterprise_client(world, OTHER_ENTERPRISE).await;
    let application = neighbour
        .apply_for_voucher(application_request("n-1", "NB-001"))
        .await
        .expect("the neighbour applied")
        .into_inner()
        .application_id;
    Theirs {
        voucher,
        claim,
        application,
    }
}

#[tokio::test]
async fn an_enterprise_sees_only_its_own_records_and_no_bureau_page() {
    let mut world = world_with_policy(&confirmation_policy()).await;
    let theirs = neighbour(&mut world).await;
    let (our_voucher, our_claim) = claim_for(&mut world, ENTERPRISE, 2).await;

    let browser = enterprise_browser(&mut world, ENTERPRISE).await;
    for path in ["/my", "/my/applications", "/my/claims"] {
        let (status, page) = browser.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        assert!(page.contains(ENTERPRISE), "{path} names its own code");
        for their in theirs.all() {
            assert!(
                !page.contains(their),
                "{path} shows the neighbour's {their}"
            );
        }
    }
    let (_, home) = browser.get("/my").await;
    assert!(
        home.contains("启东智算科技有限公司") && home.contains(&our_voucher),
        "{home}"
    );
    let (_, claims) = browser.get("/my/claims").await;
    assert!(claims.contains(&our_claim), "{claims}");
    assert!(
        !claims.contains("href=\"/redemptions\""),
        "no bureau navigation"
    );
    assert_bureau_pages_send_it_home(&browser, &theirs).await;
    let csrf = enterprise_csrf(&browser).await;
    assert_bureau_forms_refuse_it(&browser, &csrf, &theirs, &our_claim).await;
    // The neighbour's claim, confirmed or disputed by id, is one that does not exist.
    for (path, reason) in [("/my/confirm", ""), ("/my/dispute", "不是我们的")] {
        let form = [
            ("csrf", csrf.as_str()),
            ("redemption_id", theirs.claim.as_str()),
            ("reason", reason),
        ];
        let (status, _, page) = browser.post(path, &form).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {page}");
        assert!(!page.contains(OTHER_ENTERPRISE), "{path}");
    }
    assert_untouched(&mut world, &theirs).await;
}

/// Every page and download of the bureau's sends an enterprise's session to its own page.
async fn assert_bureau_pages_send_it_home(browser: &Browser, theirs: &Theirs) {
    let bureau_pages = [
        "/".to_owned(),
        "/enterprises".to_owned(),
        format!("/enterprises/{OTHER_ENTERPRISE}"),
        format!("/redemptions?enterprise={OTHER_ENTERPRISE}"),
        "/providers".to_owned(),
        "/applications?status=all".to_owned(),
        "/confirmations".to_owned(),
        "/vouchers/unbound".to_owned(),
        format!("/vouchers/{}/providers", theirs.voucher),
        "/notices".to_owned(),
        "/notices/N000000000001".to_owned(),
        "/actions".to_owned(),
        "/downloads/report?program=compute&format=csv".to_owned(),
        "/downloads/notice?id=N000000000001&format=csv".to_owned(),
        "/downloads/statement?id=S000000000001&format=csv".to_owned(),
    ];
    for path in &bureau_pages {
        let (status, location) = browser.location_of(path).await;
        assert_eq!(
            (status, location.as_str()),
            (StatusCode::SEE_OTHER, "/my"),
            "{path} sends the enterprise to its own page"
        );
    }
}

/// Every form of the bureau's refuses an enterprise's session, its CSRF secret right.
async fn assert_bureau_forms_refuse_it(
    browser: &Browser,
    csrf: &str,
    theirs: &Theirs,
    our_claim: &str,
) {
    let (claim, voucher, application) = (
        theirs.claim.as_str(),
        theirs.voucher.as_str(),
        theirs.application.as_str(),
    );
    let bureau_forms: [(&str, Vec<(&str, &str)>); 8] = [
        (
            "/actions/issue-voucher",
            vec![
                ("request_id", "e-1"),
                ("enterprise_credit_code", ENTERPRISE),
                ("program", "compute"),
                ("face_value", "1.00"),
            ],
        ),
        (
            "/actions/approve-redemption",
            vec![("redemption_id", our_claim)],
        ),
        (
            "/actions/reverse-redemption",
            vec![("redemption_id", claim), ("reason", "x")],
        ),
        (
            "/actions/approve-application",
            vec![("application_id", application)],
        ),
        (
            "/actions/reject-application",
            vec![("application_id", application), ("reason", "x")],
        ),
        (
            "/actions/return-redemption",
            vec![("redemption_id", claim), ("reason", "x")],
        ),
        (
            "/actions/change-voucher-providers",
            vec![("voucher_id", voucher), ("reason", "x")],
        ),
        (
            "/actions/publish-notice",
            vec![
                ("program", "compute"),
                ("approved_from", "2026-11-01"),
                ("approved_until", "2026-11-30"),
                ("posted_from", "2026-12-01"),
                ("posted_until", "2026-12-07"),
            ],
        ),
    ];
    for (path, fields) in &bureau_forms {
        let mut form = fields.clone();
        form.push(("csrf", csrf));
        let (status, _, page) = browser.post(path, &form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {page}");
        assert!(!page.contains(OTHER_ENTERPRISE), "{path}");
    }
}

/// Nothing the enterprise tried changed the neighbour's records or issued anything.
async fn assert_untouched(world: &mut World, theirs: &Theirs) {
    let claim = world
        .bureau
        .get_redemption(pb::GetRedemptionRequest {
            redemption_id: theirs.claim.clone(),
        })
        .await
        .expect("the claim")
        .into_inner();
    assert_eq!(claim.status, pb::RedemptionStatus::Accepted as i32);
    assert!(claim.confirmed_at.is_none());
    let application = world
        .bureau
        .get_application(pb::GetApplicationRequest {
            application_id: theirs.application.clone(),
        })
        .await
        .expect("the application")
        .into_inner();
    assert_eq!(application.status, pb::ApplicationStatus::Pending as i32);
    assert_eq!(
        vouchers_issued(&mut world.bureau).await,
        2,
        "nothing issued"
    );
}

#[tokio::test]
async fn the_bureau_is_kept_off_the_enterprises_pages_and_a_provider_off_the_console() {
    let mut world = world_with_console().await;
    let bureau = Browser::new(&world.server);
    bureau.sign_in(&world.server.bureau_token).await;
    for path in ["/my", "/my/applications", "/my/claims"] {
        let (status, location) = bureau.location_of(path).await;
        assert_eq!(
            (status, location.as_str()),
            (StatusCode::SEE_OTHER, "/"),
            "{path}"
        );
    }
    let csrf = bureau.csrf().await;
    let (status, _, _) = bureau
        .post(
            "/my/confirm",
            &[("csrf", csrf.as_str()), ("redemption_id", "R000000000001")],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the bureau confirms for no one"
    );

    let provider_token =
        create_token(&mut world.bureau, pb::Role::Provider, COMPUTE_PROVIDER).await;
    let provider = Browser::new(&world.server);
    let (status, _, page) = provider.sign_in(&provider_token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("服务商令牌不能登录控制台"), "{page}");

    // An enterprise's session ends with its token, and signs out like any other.
    let enterprise = enterprise_browser(&mut world, ENTERPRISE).await;
    let csrf = enterprise_csrf(&enterprise).await;
    let (status, location, _) = enterprise.post("/logout", &[("csrf", csrf.as_str())]).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/login")
    );
    assert_eq!(enterprise.location_of("/my").await.1, "/login");
}

#[tokio::test]
async fn an_enterprise_confirms_and_disputes_through_the_buttons_and_the_counts_follow() {
    let mut world = world_with_policy(&confirmation_policy()).await;
    let (_, claims) = voucher_with_claims(&mut world, &["1000.00", "2000.00", "3000.00"]).await;
    let ids: Vec<&str> = claims.iter().map(|c| c.redemption_id.as_str()).collect();
    let bureau = Browser::new(&world.server);
    bureau.sign_in(&world.server.bureau_token).await;
    let (_, overview) = bureau.get("/").await;
    assert_eq!(nav_count(&overview, "待企业确认"), "3");

    let browser = enterprise_browser(&mut world, ENTERPRISE).await;
    confirm_the_first_and_dispute_the_second(&browser, &ids).await;

    let (_, waiting) = bureau.get("/confirmations").await;
    assert_eq!(nav_count(&waiting, "待企业确认"), "1");
    assert!(waiting.contains(ids[2]), "{waiting}");
    assert!(!waiting.contains(ids[0]) && !waiting.contains(ids[1]));
    let (_, disputed) = bureau.get("/redemptions?status=disputed").await;
    assert!(
        disputed.contains(ids[1]) && disputed.contains("企业异议"),
        "{disputed}"
    );
    assert!(!disputed.contains(ids[0]) && !disputed.contains(ids[2]));
    let statuses = redemption_statuses(&mut world, &ids).await;
    assert_eq!(
        statuses,
        [
            pb::RedemptionStatus::Accepted,
            pb::RedemptionStatus::Disputed,
            pb::RedemptionStatus::Accepted
        ]
    );
    world
        .bureau
        .approve_redemption(pb::ApproveRedemptionRequest {
            redemption_id: ids[0].to_owned(),
        })
        .await
        .expect("approved once confirmed");
}

/// The enterprise's clicks: confirm the first claim, dispute the second, and be refused a
/// dispute of the confirmed one and a form without its CSRF secret.
async fn confirm_the_first_and_dispute_the_second(browser: &Browser, ids: &[&str]) {
    let (_, page) = browser.get("/my/claims").await;
    assert_eq!(nav_count(&page, "核销确认"), "3");
    assert_eq!(page.matches("action=\"/my/confirm\"").count(), 3, "{page}");
    assert_eq!(page.matches("action=\"/my/dispute\"").count(), 3);
    assert_eq!(page.matches("<strong>待确认</strong>").count(), 3);
    let csrf = hidden_value(&page, "csrf");

    let form = [("csrf", csrf.as_str()), ("redemption_id", ids[0])];
    let (status, _, page) = browser.post("/my/confirm", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(&format!("已确认 {}", ids[0])), "{page}");
    assert_eq!(nav_count(&page, "核销确认"), "2");
    assert_eq!(
        page.matches("action=\"/my/dispute\"").count(),
        2,
        "a confirmed claim can no longer be disputed"
    );

    let reason = "本企业未向该服务商租用算力";
    let form = [
        ("csrf", csrf.as_str()),
        ("redemption_id", ids[1]),
        ("reason", reason),
    ];
    let (status, _, page) = browser.post("/my/dispute", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(&format!("企业异议 {}", ids[1])), "{page}");
    assert!(page.contains(reason), "the reason is shown on its claim");
    assert_eq!(nav_count(&page, "核销确认"), "1");

    let form = [
        ("csrf", csrf.as_str()),
        ("redemption_id", ids[0]),
        ("reason", "改变主意"),
    ];
    let (status, _, page) = browser.post("/my/dispute", &form).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a confirmed claim stays: {page}"
    );
    assert!(page.contains("REDEMPTION_NOT_OPEN"), "{page}");
    let (status, _, _) = browser
        .post(
            "/my/confirm",
            &[("csrf", "forged"), ("redemption_id", ids[2])],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "no confirmation without the CSRF secret"
    );
}

/// Each claim's status, read over gRPC.
async fn redemption_statuses(world: &mut World, ids: &[&str]) -> Vec<pb::RedemptionStatus> {
    let mut statuses = Vec::new();
    for id in ids {
        let claim = world
            .bureau
            .get_redemption(pb::GetRedemptionRequest {
                redemption_id: (*id).to_owned(),
            })
            .await
            .expect("the claim")
            .into_inner();
        statuses.push(pb::RedemptionStatus::try_from(claim.status).expect("a status"));
    }
    statuses
}

/// The CSRF secret of an enterprise's session, from its own page.
pub(super) async fn enterprise_csrf(browser: &Browser) -> String {
    let (status, page) = browser.get("/my").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    hidden_value(&page, "csrf")
}

pub(super) async fn enterprise_client(world: &mut World, code: &str) -> Client {
    let token = create_enterprise_token(&mut world.bureau, code).await;
    world.server.client(&token).await
}

/// An application for a compute voucher of 50,000.00 with COMPUTE_PROVIDER, under `contract`.
pub(super) fn application_request(request_id: &str, contract: &str) -> pb::ApplyForVoucherRequest {
    pb::ApplyForVoucherRequest {
        request_id: request_id.to_owned(),
        program: pb::Program::Compute as i32,
        amount: Some(cny("50000.00")),
        provider_credit_codes: vec![COMPUTE_PROVIDER.to_owned()],
        contract_number: contract.to_owned(),
        contract_sha256: "ab".repeat(32),
        purpose: "训练启东港口调度大模型".to_owned(),
        other_subsidies: String::new(),
        enterprise_credit_code: String::new(),
    }
}
