//! The web console through HTTP, against a real voucherd with `--web-port 0` and a real sled
//! directory: sign-in and its refusals, every page with data in it, the bureau's forms (CSRF,
//! roles, the same refusals as gRPC), the language toggle and the downloads.

mod common;

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use common::*;
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use voucher_ledger::proto::voucher::v1 as pb;

const TODAY: &str = "2026-11-20";

/// A browser: keeps cookies, does not follow redirects (tests look at them).
struct Browser {
    http: reqwest::Client,
    base: String,
}

impl Browser {
    fn new(server: &TestServer) -> Browser {
        Browser::from_address(server, "127.0.0.1")
    }

    /// A browser whose connections come from `local` (any 127.x.y.z is this machine): another
    /// caller address, as the server sees it.
    fn from_address(server: &TestServer, local: &str) -> Browser {
        let web = server.web_address.expect("started with --web-port");
        let local: std::net::IpAddr = local.parse().expect("an address");
        Browser {
            http: reqwest::Client::builder()
                .local_address(local)
                .cookie_store(true)
                .redirect(Policy::none())
                .connect_timeout(CONNECT_DEADLINE)
                .timeout(CALL_DEADLINE)
                .build()
                .expect("an HTTP client"),
            base: format!("http://{web}"),
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("the console answers");
        let status = response.status();
        (status, response.text().await.expect("a body"))
    }

    async fn location_of(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("the console answers");
        (response.status(), location(&response))
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, String, String) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .await
            .expect("the console answers");
        let status = response.status();
        let location = location(&response);
        (status, location, response.text().await.expect("a body"))
    }

    /// Opens the sign-in page and signs in with `token`; returns the answer to the POST.
    async fn sign_in(&self, token: &str) -> (StatusCode, String, String) {
        let (status, page) = self.get("/login").await;
        assert_eq!(status, StatusCode::OK);
        let csrf = hidden_value(&page, "csrf");
        self.post("/login", &[("token", token), ("csrf", &csrf)])
            .await
    }

    /// Posts the issue form for a compute voucher to ENTERPRISE.
    async fn issue_compute_voucher(
        &self,
        csrf: &str,
        request_id: &str,
        face_value: &str,
    ) -> (StatusCode, String, String) {
        let form = [
            ("csrf", csrf),
            ("request_id", request_id),
            ("enterprise_credit_code", ENTERPRISE),
            ("program", "compute"),
            ("face_value", face_value),
            ("valid_from", ""),
            ("valid_until", ""),
        ];
        self.post("/actions/issue-voucher", &form).await
    }

    /// The CSRF secret the signed-in pages carry.
    async fn csrf(&self) -> String {
        let (status, page) = self.get("/").await;
        assert_eq!(status, StatusCode::OK, "{page}");
        hidden_value(&page, "csrf")
    }
}

fn location(response: &reqwest::Response) -> String {
    header_of(response, reqwest::header::LOCATION)
}

/// The value of the first hidden input named `name`.
fn hidden_value(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden {name} in {page}"))
        + marker.len();
    let end = start + page[start..].find('"').expect("a closing quote");
    page[start..end].to_owned()
}

/// The redeemed share drawn on the first bar after `anchor`.
fn redeemed_percent_after(page: &str, anchor: &str) -> f64 {
    let from = page
        .find(anchor)
        .unwrap_or_else(|| panic!("{anchor} not in {page}"));
    let marker = "data-redeemed-percent=\"";
    let start = from + page[from..].find(marker).expect("a bar") + marker.len();
    let end = start + page[start..].find('"').expect("a closing quote");
    page[start..end].parse().expect("a number")
}

/// How many vouchers the ledger holds (the first page, which is enough here).
async fn vouchers_issued(bureau: &mut Client) -> usize {
    bureau
        .list_vouchers(pb::ListVouchersRequest::default())
        .await
        .expect("listed")
        .into_inner()
        .vouchers
        .len()
}

async fn world_with_console() -> World {
    World::new_in(DataDir::new(), TODAY, &["--web-port", "0"]).await
}

/// A 100,000.00 compute voucher with one claim per amount (invoices 1, 2…, dated 2026-11-02);
/// returns the voucher and the redemptions.
async fn voucher_with_claims(
    world: &mut World,
    amounts: &[&str],
) -> (pb::Voucher, Vec<pb::Redemption>) {
    let voucher = issue(
        &mut world.bureau,
        "v",
        pb::Program::Compute,
        Some("100000.00"),
    )
    .await;
    let mut redemptions = Vec::new();
    for (serial, amount) in (1..).zip(amounts) {
        let request = redeem_request(&voucher, &invoice(serial), "2026-11-02", amount);
        let redemption = world
            .compute_provider
            .redeem(request)
            .await
            .expect("redeemed");
        redemptions.push(redemption.into_inner());
    }
    (voucher, redemptions)
}

#[tokio::test]
async fn only_a_live_bureau_or_auditor_token_signs_in() {
    let mut world = world_with_console().await;
    let browser = Browser::new(&world.server);

    let (status, location) = browser.location_of("/").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "no session: off to sign in");
    assert_eq!(location, "/login");

    let provider_token =
        create_token(&mut world.bureau, pb::Role::Provider, COMPUTE_PROVIDER).await;
    let (status, _, page) = browser.sign_in(&provider_token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("服务商令牌不能登录控制台"), "{page}");

    let (status, _, page) = browser.sign_in("not-a-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("令牌无效或已撤销"), "{page}");
    assert_eq!(browser.location_of("/").await.0, StatusCode::SEE_OTHER);

    let (status, location, _) = browser.sign_in(&world.server.bureau_token).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/"));
    let (status, page) = browser.get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<h1>总览</h1>"), "{page}");

    let log = world.server.log();
    assert!(log.contains("console sign-in") && log.contains("console request"));
    assert!(
        !log.contains(&world.server.bureau_token) && !log.contains(&provider_token),
        "no token is ever logged"
    );
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_strict_and_sign_in_needs_its_own_csrf() {
    let world = world_with_console().await;
    let browser = Browser::new(&world.server);
    // A form posted from elsewhere has no sign-in CSRF cookie to match.
    let (status, _, _) = browser
        .post(
            "/login",
            &[
                ("token", world.server.bureau_token.as_str()),
                ("csrf", "forged"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (_, page) = browser.get("/login").await;
    let csrf = hidden_value(&page, "csrf");
    let response = browser
        .http
        .post(format!("{}/login", browser.base))
        .form(&[
            ("token", world.server.bureau_token.as_str()),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .expect("signs in");
    let cookie = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("voucher_session="))
        .expect("a session cookie")
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
}

#[tokio::test]
async fn every_page_shows_the_ledger_with_data_in_it() {
    let mut world = world_with_console().await;
    let (voucher, redemptions) = voucher_with_claims(&mut world, &["30000.00"]).await;
    let redemption = &redemptions[0];
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;

    let (status, overview) = browser.get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        overview.contains("算力券 · 2026-05-14 – 2026-12-31"),
        "{overview}"
    );
    assert!(overview.contains("15,000.00"), "redeemed shows: {overview}");
    assert!(
        overview.contains("<svg class=\"chart\""),
        "the monthly chart"
    );
    assert!(
        overview.contains("2026-11: 15000.00"),
        "November's bar: {overview}"
    );
    assert!(overview.contains("/downloads/report?program=compute&amp;year=2026&amp;format=xlsx"));

    let (status, enterprises) = browser.get("/enterprises").await;
    assert_eq!(status, StatusCode::OK);
    assert!(enterprises.contains("启东智算科技有限公司"));
    assert!((redeemed_percent_after(&enterprises, ENTERPRISE) - 0.75).abs() < 0.001);
    let (_, found) = browser.get("/enterprises?q=智算").await;
    assert!(found.contains(ENTERPRISE));
    let (_, none) = browser.get("/enterprises?q=不存在的企业").await;
    assert!(!none.contains(ENTERPRISE) && none.contains("没有符合条件的企业"));

    let (status, one) = browser.get(&format!("/enterprises/{ENTERPRISE}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(one.contains(&voucher.voucher_id) && one.contains(&redemption.redemption_id));
    assert!(one.contains("100,000.00") && one.contains("30,000.00"));

    let (status, redemptions) = browser
        .get(&format!(
            "/redemptions?program=compute&provider={COMPUTE_PROVIDER}&from=2026-11-01&to=2026-11-30"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(redemptions.contains(&redemption.redemption_id));
    let (_, outside) = browser.get("/redemptions?from=2026-11-03").await;
    assert!(
        !outside.contains(&redemption.redemption_id),
        "the date filter holds"
    );

    let (status, providers) = browser.get("/providers").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        providers.contains("南通算力服务有限公司")
            && providers.contains("江苏具身机器人租赁有限公司")
    );
    assert!(
        providers.contains("15,000.00"),
        "the provider's redeemed total"
    );

    let (status, unknown) = browser.get("/enterprises/91320681MA1N7Q4R2M").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{unknown}");
}

#[tokio::test]
async fn lists_page_on() {
    let mut world = world_with_console().await;
    voucher_with_claims(&mut world, &["10.00"; 55]).await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let (_, first) = browser.get("/redemptions").await;
    let row = |id: &str| format!("<td>{id}</td>");
    assert!(first.contains(&row("R000000000050")) && !first.contains(&row("R000000000051")));
    let next = first
        .split("href=\"")
        .filter_map(|part| part.split('"').next())
        .find(|link| link.starts_with("/redemptions?") && link.contains("after="))
        .expect("a next-page link")
        .replace("&amp;", "&");
    let (_, second) = browser.get(&next).await;
    assert!(second.contains(&row("R000000000051")) && second.contains(&row("R000000000055")));
    assert!(!second.contains(&row("R000000000050")));
}

#[tokio::test]
async fn bad_query_fields_are_refused_naming_the_field() {
    let world = world_with_console().await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    for (path, field) in [
        ("/redemptions?provider=NOT-A-CODE", "provider: "),
        ("/redemptions?from=2026-13-01", "from: "),
        ("/redemptions?program=corpus-x", "program: "),
        ("/?year=1999", "year: "),
        ("/enterprises?after=x", "after: "),
        ("/downloads/report?program=compute&format=pdf", "format: "),
    ] {
        let (status, page) = browser.get(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {page}");
        assert!(page.contains(field), "{path} names {field}: {page}");
    }
}

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
    let (status, _, page) = browser
        .issue_compute_voucher(&csrf, "web-more", "1.00")
        .await;
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
async fn an_auditor_reads_every_page_and_acts_on_none() {
    let mut world = world_with_console().await;
    let auditor = create_token(&mut world.bureau, pb::Role::Auditor, "").await;
    let browser = Browser::new(&world.server);
    let (status, _, _) = browser.sign_in(&auditor).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    for path in ["/", "/enterprises", "/redemptions", "/providers"] {
        let (status, page) = browser.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            !page.contains("href=\"/actions\""),
            "no actions link for an auditor"
        );
    }
    assert_eq!(browser.get("/actions").await.0, StatusCode::FORBIDDEN);
    let csrf = browser.csrf().await;
    let (status, _, _) = browser
        .post(
            "/actions/register-enterprise",
            &[
                ("csrf", csrf.as_str()),
                ("credit_code", "91330100716105852F"),
                ("name", "审计不能登记"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let refused = world
        .bureau
        .get_enterprise(pb::GetEnterpriseRequest {
            credit_code: "91330100716105852F".to_owned(),
        })
        .await
        .expect_err("not registered");
    assert_eq!(refused.code(), tonic::Code::NotFound);
}

#[tokio::test]
async fn revoking_the_token_or_signing_out_ends_the_session() {
    let mut world = world_with_console().await;
    let second_bureau = world
        .bureau
        .create_token(pb::CreateTokenRequest {
            role: pb::Role::Bureau as i32,
            description: "console clerk".to_owned(),
            ..Default::default()
        })
        .await
        .expect("token created")
        .into_inner();
    let browser = Browser::new(&world.server);
    browser.sign_in(&second_bureau.token).await;
    assert_eq!(browser.get("/").await.0, StatusCode::OK);
    let token_id = second_bureau.token_id;
    world
        .bureau
        .revoke_token(pb::RevokeTokenRequest { token_id })
        .await
        .expect("revoked");
    assert_eq!(browser.location_of("/").await.0, StatusCode::SEE_OTHER);

    let other = Browser::new(&world.server);
    other.sign_in(&world.server.bureau_token).await;
    let csrf = other.csrf().await;
    let (status, location, _) = other.post("/logout", &[("csrf", csrf.as_str())]).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/login")
    );
    assert_eq!(other.location_of("/").await.0, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_language_toggle_switches_to_english_and_stays_on_this_site() {
    let world = world_with_console().await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let (status, location) = browser
        .location_of("/language?to=en&back=%2Fenterprises")
        .await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/enterprises")
    );
    let (_, page) = browser.get("/enterprises").await;
    assert!(
        page.contains("<html lang=\"en\">") && page.contains("<h1>Enterprises</h1>"),
        "{page}"
    );
    let (_, back) = browser
        .location_of("/language?to=zh&back=%2F%2Fevil.example")
        .await;
    assert_eq!(back, "/", "no redirect off the site");
    for odd in [
        "%2F%0Aevil",
        "https%3A%2F%2Fevil.example",
        "%2F%5Cevil.example",
    ] {
        let (status, back) = browser
            .location_of(&format!("/language?to=zh&back={odd}"))
            .await;
        assert_eq!(
            (status, back.as_str()),
            (StatusCode::SEE_OTHER, "/"),
            "{odd}"
        );
    }
    let (_, page) = browser.get("/").await;
    assert!(page.contains("<h1>总览</h1>"));
}

#[tokio::test]
async fn the_reports_download_as_xlsx_and_csv() {
    let mut world = world_with_console().await;
    voucher_with_claims(&mut world, &["30000.00"]).await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let response = browser
        .http
        .get(format!(
            "{}/downloads/report?program=compute&year=2026&format=xlsx",
            browser.base
        ))
        .send()
        .await
        .expect("downloaded");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        header_of(&response, reqwest::header::CONTENT_DISPOSITION)
            .contains("report-compute-2026.xlsx")
    );
    let bytes = response.bytes().await.expect("bytes").to_vec();
    let mut workbook = Xlsx::new(Cursor::new(bytes)).expect("an XLSX");
    let sheet = workbook
        .worksheet_range("企业 Enterprises")
        .expect("the enterprises sheet");
    assert_eq!(
        sheet.get_value((1, 0)),
        Some(&Data::String(ENTERPRISE.to_owned()))
    );
    assert_eq!(
        sheet.get_value((1, 4)),
        Some(&Data::Float(15000.0)),
        "redeemed"
    );

    let response = browser
        .http
        .get(format!(
            "{}/downloads/report?program=compute&format=csv",
            browser.base
        ))
        .send()
        .await
        .expect("downloaded");
    let text = response.text().await.expect("text");
    assert!(text.starts_with('\u{feff}'), "a BOM for Excel");
    assert!(
        text.contains(ENTERPRISE) && text.contains("15000.00"),
        "{text}"
    );

    let signed_out = Browser::new(&world.server);
    let (status, _) = signed_out
        .location_of("/downloads/report?program=compute&format=csv")
        .await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "no download without a session"
    );
}

fn header_of(response: &reqwest::Response, name: reqwest::header::HeaderName) -> String {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_settlement_shows_on_the_overview_and_its_statement_downloads() {
    let mut world = world_with_console().await;
    let (_, claims) = voucher_with_claims(&mut world, &["10000.00", "10000.00"]).await;
    for claim in claims {
        world
            .bureau
            .approve_redemption(pb::ApproveRedemptionRequest {
                redemption_id: claim.redemption_id,
            })
            .await
            .expect("approved");
    }
    let statement = world
        .bureau
        .create_settlement(pb::CreateSettlementRequest {
            request_id: "s1".to_owned(),
            provider_credit_code: COMPUTE_PROVIDER.to_owned(),
            program: pb::Program::Compute as i32,
            up_to_date: "2026-11-30".to_owned(),
        })
        .await
        .expect("settled")
        .into_inner();
    assert_eq!(statement.settlement_id, "S000000000001");

    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let (_, overview) = browser.get("/").await;
    let settled_card = overview.find("已结算").expect("a settled card");
    assert!(
        overview[settled_card..].starts_with("已结算</div><div class=\"value\">10,000.00"),
        "{overview}"
    );

    let (_, providers) = browser.get("/providers").await;
    assert!(providers.contains("<td>S000000000001</td>"), "{providers}");
    let response = browser
        .http
        .get(format!(
            "{}/downloads/statement?id=S000000000001&format=xlsx",
            browser.base
        ))
        .send()
        .await
        .expect("downloaded");
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.bytes().await.expect("bytes").to_vec();
    let mut workbook = Xlsx::new(Cursor::new(bytes)).expect("an XLSX");
    let sheet = workbook
        .worksheet_range("结算单 Statement")
        .expect("the statement sheet");
    assert_eq!(
        sheet.get_value((8, 1)),
        Some(&Data::String("10000.00".to_owned())),
        "net payable"
    );
    let (status, page) = browser.get("/downloads/statement?id=S000000000009").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
}

#[tokio::test]
async fn the_enterprises_nearest_their_cap_come_first() {
    let mut world = world_with_console().await;
    let other = synthetic_code(7);
    register_enterprise(&mut world.bureau, &other, "启东具身智能有限公司").await;
    voucher_with_claims(&mut world, &["90000.00"]).await;
    let voucher = world
        .bureau
        .issue_voucher(issue_request("other", &other, pb::Program::Compute, None))
        .await
        .expect("issued")
        .into_inner();
    world
        .compute_provider
        .redeem(redeem_request(
            &voucher,
            &invoice(9),
            "2026-11-03",
            "20000.00",
        ))
        .await
        .expect("redeemed");
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let (_, by_code) = browser.get("/enterprises").await;
    let (_, nearest) = browser.get("/enterprises?near=compute").await;
    let position = |page: &str, code: &str| {
        page.find(&format!("<div class=\"code\">{code}"))
            .expect(code)
    };
    assert!(
        position(&by_code, &other) < position(&by_code, ENTERPRISE),
        "credit code order"
    );
    assert!(
        position(&nearest, ENTERPRISE) < position(&nearest, &other),
        "45,000.00 before 10,000.00"
    );
    let (status, page) = browser.get("/enterprises?near=nothing").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("program: "));
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
    ];
    let (status, _, page) = browser.post("/actions/create-settlement", &settle).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("已生成结算单 S000000000001"), "{page}");
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
        ]
    };
    let (status, _, page) = browser
        .post("/actions/record-settlement-payment", &pay("2026-11-21"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "tomorrow: {page}");
    assert!(page.contains("PAYMENT_DATE_OUT_OF_RANGE"), "{page}");
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

#[tokio::test]
async fn a_token_signing_in_again_and_again_signs_out_only_itself() {
    // The attack of issue 12: an auditor fills the session table to sign every clerk out.
    let mut world = world_with_console().await;
    let clerk = Browser::new(&world.server);
    let (status, _, _) = clerk.sign_in(&world.server.bureau_token).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let auditor_token = create_token(&mut world.bureau, pb::Role::Auditor, "").await;
    let first_auditor_tab = Browser::new(&world.server);
    first_auditor_tab.sign_in(&auditor_token).await;
    let flood = Browser::new(&world.server);
    for _ in 0..1_100 {
        let (status, _, _) = flood.sign_in(&auditor_token).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    let (status, page) = clerk.get("/").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the clerk is still signed in: {page}"
    );
    assert_eq!(
        first_auditor_tab.location_of("/").await.0,
        StatusCode::SEE_OTHER,
        "the flooding token lost its own oldest session"
    );
    assert_eq!(flood.get("/").await.0, StatusCode::OK, "its newest stays");
}

#[tokio::test]
async fn sign_in_forms_that_never_finish_take_no_one_elses_place() {
    // The attack of issue 12: unfinished `POST /login` bodies held every request slot.
    use tokio::io::AsyncWriteExt;
    let world = world_with_console().await;
    let web = world.server.web_address.expect("a console");
    let mut stalled = Vec::new();
    for _ in 0..80 {
        let mut connection = tokio::net::TcpStream::connect(web).await.expect("connects");
        connection
            .write_all(
                b"POST /login HTTP/1.1\r\nHost: console\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ntoken=",
            )
            .await
            .expect("headers sent");
        stalled.push(connection);
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let clerk = Browser::new(&world.server);
    let (status, page) =
        tokio::time::timeout(std::time::Duration::from_secs(1), clerk.get("/login"))
            .await
            .expect("the sign-in page answers within a second");
    assert_eq!(status, StatusCode::OK, "{page}");
    let (status, _, _) = clerk.sign_in(&world.server.bureau_token).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "and the clerk signs in");
    drop(stalled);
}

#[tokio::test]
async fn sign_in_guessing_from_one_address_waits_and_counts_with_grpc() {
    // Issue 12, item 9: sign-in guessing was unlimited (~5,000 a second).
    let world = world_with_console().await;
    let guesser = Browser::from_address(&world.server, "127.0.0.2");
    for attempt in 1..=6 {
        let (status, _, _) = guesser.sign_in("qdv_guess").await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt} is looked at"
        );
    }
    let (status, login) = guesser.get("/login").await;
    assert_eq!(status, StatusCode::OK);
    let csrf = hidden_value(&login, "csrf");
    let response = guesser
        .http
        .post(format!("{}/login", guesser.base))
        .form(&[
            ("token", world.server.bureau_token.as_str()),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .expect("the console answers");
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "while it waits, even the right token is not read"
    );
    let retry_after = header_of(&response, reqwest::header::RETRY_AFTER);
    assert!(
        retry_after
            .parse::<u64>()
            .is_ok_and(|seconds| (1..=60).contains(&seconds)),
        "Retry-After: {retry_after}"
    );
    let page = response.text().await.expect("a body");
    assert!(page.contains("登录失败次数过多"), "{page}");

    let clerk = Browser::new(&world.server);
    let (status, location, _) = clerk.sign_in(&world.server.bureau_token).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/"),
        "a clerk at another address signs in at once"
    );

    // The console and the gRPC server share one count per address.
    let channel = test_endpoint(&format!("http://{}", world.server.address))
        .local_address(Some("127.0.0.3".parse().expect("an address")))
        .connect()
        .await
        .expect("connects");
    let mut guessing_client = pb::voucher_ledger_client::VoucherLedgerClient::with_interceptor(
        channel,
        bearer("qdv_guess"),
    );
    for _ in 0..6 {
        let refused = guessing_client
            .get_enterprise(pb::GetEnterpriseRequest {
                credit_code: ENTERPRISE.into(),
            })
            .await;
        expect_refusal(refused, tonic::Code::Unauthenticated, "UNAUTHENTICATED");
    }
    let same_address = Browser::from_address(&world.server, "127.0.0.3");
    let (status, _, _) = same_address.sign_in(&world.server.bureau_token).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}
