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
    assert!(page.contains("按发票月份"), "the chart says what it counts by");
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
    assert_eq!(found(&lower), (false, true), "a code in lower case: {lower}");
}
