//! What a clerk reads all day, worded and laid out for reading: the chart by the month of the
//! claims' invoices in 万元 with years on its months, a search that finds a code by any part
//! of it, and lists paged both ways with how many there are.

use super::*;

/// The overview's bar title for a month, e.g. `2026年10月: 100000.00`.
fn bar_amount(page: &str, month: &str) -> String {
    let marker = format!("{month}: ");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no bar for {month} in {page}"))
        + marker.len();
    let end = start + page[start..].find('<').expect("the title ends");
    page[start..end].to_owned()
}

#[tokio::test]
async fn the_chart_counts_a_claim_in_its_invoice_month_in_wan_yuan_with_years() {
    let mut world = world_with_console().await;
    let voucher = issue(
        &mut world.bureau,
        "chart",
        pb::Program::Compute,
        Some("500000.00"),
    )
    .await;
    // Claimed in November, for compute rented in October: the chart shows October.
    world
        .compute_provider
        .redeem(redeem_request(
            &voucher,
            &invoice(1),
            "2026-10-15",
            "200000.00",
        ))
        .await
        .expect("redeemed");
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let (status, page) = browser.get("/").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("按发票月份"),
        "the chart says what it counts by"
    );
    assert_eq!(bar_amount(&page, "2026年10月"), "100000.00");
    assert_eq!(bar_amount(&page, "2026年11月"), "0");
    assert!(page.contains(">10万<"), "the axis reads in 万元: {page}");

    browser.get("/language?to=en").await;
    let (_, english) = browser.get("/").await;
    assert_eq!(bar_amount(&english, "Oct 2026"), "100000.00");
    assert!(english.contains("redeemed by invoice month"), "{english}");
}

#[tokio::test]
async fn a_search_finds_an_enterprise_by_any_part_of_its_code_or_name_as_typed() {
    let mut world = world_with_console().await;
    register_enterprise(&mut world.bureau, OTHER_ENTERPRISE, "北京某某数据有限公司").await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let found = |page: &str| (page.contains(ENTERPRISE), page.contains(OTHER_ENTERPRISE));
    // The middle of the code, half-width and full-width; a part of the name.
    for search in ["1922038", "%EF%BC%91%EF%BC%99%EF%BC%92%EF%BC%92", "智算"] {
        let (status, page) = browser.get(&format!("/enterprises?q={search}")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(found(&page), (true, false), "searching {search}: {page}");
    }
    let (_, lower) = browser.get("/enterprises?q=551385082q").await;
    assert_eq!(
        found(&lower),
        (false, true),
        "a code in lower case: {lower}"
    );
}

/// The address a link with `rel` (`next`, `prev`) points to, as the page writes it.
fn link_of(page: &str, rel: &str) -> Option<String> {
    let marker = format!("rel=\"{rel}\" href=\"");
    let start = page.find(&marker)? + marker.len();
    let end = start + page[start..].find('"')?;
    Some(page[start..end].replace("&amp;", "&"))
}

#[tokio::test]
async fn a_list_says_how_many_there_are_and_pages_forward_and_back_under_its_filters() {
    let mut world = world_with_console().await;
    let amounts = vec!["100.00"; 55];
    let (_, claims) = voucher_with_claims(&mut world, &amounts).await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;

    let (status, first) = browser.get("/redemptions?status=accepted").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert!(first.contains("第 1 页 · 本页 50 条 · 共 55 条"), "{first}");
    assert!(
        link_of(&first, "prev").is_none(),
        "no way back from the first page"
    );
    let next = link_of(&first, "next").expect("a next page");
    assert!(
        next.contains("status=accepted"),
        "the filter is kept: {next}"
    );

    let (_, second) = browser.get(&next).await;
    assert!(
        second.contains("第 2 页 · 本页 5 条 · 共 55 条"),
        "{second}"
    );
    assert!(
        second.contains(&claims[54].redemption_id),
        "the last claim is on page 2"
    );
    assert!(!second.contains(&format!(">{}<", claims[0].redemption_id)));
    assert!(
        link_of(&second, "next").is_none(),
        "nothing after the last page"
    );
    let back = link_of(&second, "prev").expect("a previous page");
    assert_eq!(back, "/redemptions?status=accepted");
    let (_, again) = browser.get(&back).await;
    assert!(again.contains("第 1 页 · 本页 50 条"), "{again}");

    // The workbench pages the same way, its filters kept, and names the provider.
    let (_, review) = browser.get("/review").await;
    assert!(
        review.contains("第 1 页 · 本页 50 条 · 共 55 条"),
        "{review}"
    );
    assert!(
        review.contains("南通算力服务有限公司"),
        "the provider by name: {review}"
    );
    let next = link_of(&review, "next").expect("a next page of the workbench");
    let (_, second) = browser.get(&next).await;
    assert!(second.contains("第 2 页 · 本页 5 条"), "{second}");
    assert_eq!(
        link_of(&second, "prev").as_deref(),
        Some("/review?program=&provider=")
    );

    // A filter that matches nothing says so, with a count of none.
    let (_, none) = browser.get("/redemptions?status=settled").await;
    assert!(none.contains("共 0 条"), "{none}");
}

#[tokio::test]
async fn a_refused_payment_on_the_statements_page_comes_back_as_typed_the_date_marked() {
    let mut world = world_with_console().await;
    let (_, claims) = voucher_with_claims(&mut world, &["30000.00"]).await;
    world
        .bureau
        .approve_redemption(pb::ApproveRedemptionRequest {
            redemption_id: claims[0].redemption_id.clone(),
        })
        .await
        .expect("approved");
    let statement = world
        .bureau
        .create_settlement(pb::CreateSettlementRequest {
            request_id: "clerk-statement".into(),
            provider_credit_code: COMPUTE_PROVIDER.into(),
            program: pb::Program::Compute as i32,
            up_to_date: TODAY.into(),
        })
        .await
        .expect("a statement")
        .into_inner();
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let csrf = browser.csrf().await;
    let id = statement.settlement_id.as_str();
    // Paid tomorrow: the ledger refuses a payment dated after today.
    let form = [
        ("csrf", csrf.as_str()),
        ("settlement_id", id),
        ("from", "statement"),
        ("bank_reference", "国库支付 20261121-9"),
        ("paid_on", "2026-11-21"),
        ("confirmed", "yes"),
    ];
    let (status, _, page) = browser
        .post("/actions/record-settlement-payment", &form)
        .await;
    assert_ne!(status, StatusCode::OK, "refused: {page}");
    let payment_form = &page[page
        .find("id=\"record-settlement-payment\"")
        .unwrap_or_else(|| panic!("the statement's payment form: {page}"))..];
    assert!(
        payment_form.contains("value=\"国库支付 20261121-9\""),
        "the bank reference as typed: {payment_form}"
    );
    assert!(
        payment_form
            .contains("name=\"paid_on\" required value=\"2026-11-21\" aria-invalid=\"true\""),
        "the date as typed, marked: {payment_form}"
    );
    let unpaid = world
        .bureau
        .get_settlement(pb::GetSettlementRequest {
            settlement_id: id.to_owned(),
        })
        .await
        .expect("the statement")
        .into_inner();
    assert!(unpaid.payment.is_none(), "nothing recorded");
}
