//! Signing in and out: who may, the session cookie and its CSRF secret, sessions a token
//! holds, and sign-ins that guess or never finish.

use super::*;

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
