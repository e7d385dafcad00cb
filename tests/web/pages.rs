//! The pages, with data in them: every page, paging, refused query fields, the enterprises
//! nearest their cap, the language toggle, and what an auditor sees.

use super::*;

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
    // The chart counts a claim in the month of its invoice (2026-11-02), whenever it was made.
    assert!(
        overview.contains("2026年11月: 15000.00"),
        "the bar of November: {overview}"
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
    // A claim's id links to its page (`/redemptions/{id}`) in every table.
    let row = |id: &str| format!("href=\"/redemptions/{id}\"");
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
