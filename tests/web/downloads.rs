//! Downloads: the reports as XLSX and CSV, and a statement from the overview.

use super::*;

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
        overview[settled_card..].starts_with("已结算（元）</div><div class=\"value\">10,000.00"),
        "{overview}"
    );

    let (_, providers) = browser.get("/providers").await;
    assert!(providers.contains(">S000000000001</a></td>"), "{providers}");
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
        Some(&Data::Float(10000.0)),
        "net payable, a number"
    );
    let (status, page) = browser.get("/downloads/statement?id=S000000000009").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
}
