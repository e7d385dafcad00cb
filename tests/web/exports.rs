//! Finance-grade exports (issue 16 item 6): the statement XLSX with numeric totals in
//! `#,##0.00`, the payment's day and bank reference, each line's enterprise name; the report's
//! settled and rejected amounts as gRPC gives them; the filtered lists exported with exactly
//! the rows their filter shows, codes kept as text.

use std::str::FromStr;

use calamine::{Range, StyleRange};
use rust_decimal::Decimal;

use super::*;

const BANK_REFERENCE: &str = "320000202611200000001";

/// A download's bytes, after checking it is a 200 XLSX.
async fn xlsx_of(browser: &Browser, path: &str) -> Xlsx<Cursor<Vec<u8>>> {
    let response = browser
        .http
        .get(format!("{}{path}", browser.base))
        .send()
        .await
        .expect("downloaded");
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    assert!(
        header_of(&response, reqwest::header::CONTENT_DISPOSITION).contains(".xlsx"),
        "{path}"
    );
    let bytes = response.bytes().await.expect("bytes").to_vec();
    Xlsx::new(Cursor::new(bytes)).expect("an XLSX")
}

/// The sheet's values and styles.
fn sheet_of(workbook: &mut Xlsx<Cursor<Vec<u8>>>, name: &str) -> (Range<Data>, StyleRange) {
    let values = workbook.worksheet_range(name).expect("the sheet");
    let styles = workbook.worksheet_style(name).expect("its styles");
    (values, styles)
}

/// A cell that is a number equal to `yuan`, to the fen.
fn assert_yuan(cell: Option<&Data>, yuan: &str) {
    let Some(Data::Float(number)) = cell else {
        panic!("{yuan}: a number expected, got {cell:?}");
    };
    assert_eq!(
        Decimal::from_str(&number.to_string()).expect("a decimal"),
        Decimal::from_str(yuan).expect("a decimal"),
        "{cell:?}"
    );
}

/// A cell shown with two decimals and thousands separators.
fn assert_money_format(styles: &StyleRange, at: (u32, u32)) {
    let format = styles
        .get(at)
        .and_then(|style| style.number_format.as_ref())
        .map(|format| format.format_code.clone());
    assert_eq!(format.as_deref(), Some("#,##0.00"), "the format at {at:?}");
}

/// The day of a date cell shown `yyyy-mm-dd`, as the ledger writes days; `None` for any other
/// cell (text that looks like a date is not one: a spreadsheet cannot sort or filter it).
fn day_at(sheet: &Range<Data>, styles: &StyleRange, at: (u32, u32)) -> Option<String> {
    let format = styles
        .get(at)
        .and_then(|style| style.number_format.as_ref())
        .map(|format| format.format_code.clone());
    assert_eq!(
        format.as_deref(),
        Some("yyyy-mm-dd"),
        "the format at {at:?}"
    );
    match sheet.get_value(at) {
        Some(Data::DateTime(day)) => day.as_datetime().map(|moment| moment.date().to_string()),
        _ => None,
    }
}

/// The text of a text cell; `None` for any other cell (a number is not text).
fn text_at(sheet: &Range<Data>, at: (u32, u32)) -> Option<&str> {
    match sheet.get_value(at) {
        Some(Data::String(text)) => Some(text.as_str()),
        _ => None,
    }
}

/// Claims on ENTERPRISE's compute voucher with COMPUTE_PROVIDER, the first `approved` of them
/// approved; returns the claims.
async fn claims(world: &mut World, amounts: &[&str], approved: usize) -> Vec<pb::Redemption> {
    let (_, claims) = voucher_with_claims(world, amounts).await;
    for claim in &claims[..approved] {
        world
            .bureau
            .approve_redemption(pb::ApproveRedemptionRequest {
                redemption_id: claim.redemption_id.clone(),
            })
            .await
            .expect("approved");
    }
    claims
}

async fn settle_and_pay(world: &mut World) -> pb::Settlement {
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
    world
        .bureau
        .record_settlement_payment(pb::RecordSettlementPaymentRequest {
            settlement_id: statement.settlement_id.clone(),
            bank_reference: BANK_REFERENCE.to_owned(),
            paid_on: TODAY.to_owned(),
        })
        .await
        .expect("paid")
        .into_inner()
}

#[tokio::test]
async fn the_statement_xlsx_has_numeric_totals_the_payment_and_enterprise_names() {
    let mut world = world_with_console().await;
    claims(&mut world, &["10000.00", "3000.02"], 2).await;
    let statement = settle_and_pay(&mut world).await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let path = format!(
        "/downloads/statement?id={}&format=xlsx",
        statement.settlement_id
    );
    let mut workbook = xlsx_of(&browser, &path).await;
    let (sheet, styles) = sheet_of(&mut workbook, "结算单 Statement");
    assert_eq!(sheet.get_value((5, 1)), Some(&Data::Float(2.0)), "lines");
    for (row, yuan) in [(6, "6500.01"), (7, "0.00"), (8, "6500.01")] {
        assert_yuan(sheet.get_value((row, 1)), yuan);
        assert_money_format(&styles, (row, 1));
    }
    assert_eq!(text_at(&sheet, (9, 0)), Some("拨付日期 Paid on"));
    assert_eq!(day_at(&sheet, &styles, (9, 1)).as_deref(), Some(TODAY));
    assert_eq!(
        text_at(&sheet, (10, 1)),
        Some(BANK_REFERENCE),
        "text, every digit"
    );
    for (row, subsidy) in [(13, "5000.00"), (14, "1500.01")] {
        assert_eq!(
            text_at(&sheet, (row, 1)),
            Some(ENTERPRISE),
            "the code is text"
        );
        assert_eq!(text_at(&sheet, (row, 2)), Some("启东智算科技有限公司"));
        assert!(
            day_at(&sheet, &styles, (row, 4)).is_some(),
            "the invoice's day, a date cell"
        );
        assert_yuan(sheet.get_value((row, 6)), subsidy);
        assert_money_format(&styles, (row, 6));
    }
    assert_eq!(
        text_at(&sheet, (14, 3)),
        Some(invoice(2).as_str()),
        "the invoice number is text"
    );

    let mut workbook = xlsx_of(&browser, "/downloads/settlements?program=compute").await;
    let (list, styles) = sheet_of(&mut workbook, "结算单 Statements");
    assert_eq!(list.height(), 2, "one statement: {list:?}");
    assert_eq!(
        text_at(&list, (1, 0)),
        Some(statement.settlement_id.as_str())
    );
    assert_eq!(text_at(&list, (1, 1)), Some(COMPUTE_PROVIDER));
    assert_yuan(list.get_value((1, 9)), "6500.01");
    assert_money_format(&styles, (1, 9));
    assert_eq!(day_at(&list, &styles, (1, 10)).as_deref(), Some(TODAY));
    assert_eq!(text_at(&list, (1, 11)), Some(BANK_REFERENCE));
    let mut workbook = xlsx_of(&browser, "/downloads/settlements?program=leasing").await;
    let (list, _) = sheet_of(&mut workbook, "结算单 Statements");
    assert_eq!(list.height(), 1, "no leasing statement, the headers only");
}

/// The report's settled and rejected amounts, for the program and for the provider, are
/// what ProgramSummary says over gRPC.
#[tokio::test]
async fn the_report_has_settled_and_rejected_amounts_as_grpc_says() {
    let mut world = world_with_console().await;
    let claims = claims(&mut world, &["10000.00", "3000.02", "4000.00"], 2).await;
    world
        .bureau
        .reject_redemption(pb::RejectRedemptionRequest {
            redemption_id: claims[2].redemption_id.clone(),
            reason: "发票与合同不符".to_owned(),
        })
        .await
        .expect("rejected");
    settle_and_pay(&mut world).await;
    let summary = world
        .bureau
        .program_summary(pb::ProgramSummaryRequest {
            program: pb::Program::Compute as i32,
            on_date: TODAY.to_owned(),
        })
        .await
        .expect("a summary")
        .into_inner();
    assert_eq!(yuan(&summary.settled), "6500.01");
    assert_eq!(yuan(&summary.rejected), "2000.00");
    let provider = summary
        .providers
        .iter()
        .find(|total| total.provider_credit_code == COMPUTE_PROVIDER)
        .expect("the provider's totals");

    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let mut workbook = xlsx_of(&browser, "/downloads/report?program=compute&year=2026").await;
    let (sheet, styles) = sheet_of(&mut workbook, "汇总 Summary");
    assert_eq!(text_at(&sheet, (0, 6)), Some("已驳回 Rejected"));
    assert_eq!(text_at(&sheet, (0, 7)), Some("已结算 Settled"));
    assert_yuan(sheet.get_value((1, 6)), &yuan(&summary.rejected));
    assert_yuan(sheet.get_value((1, 7)), &yuan(&summary.settled));
    assert_money_format(&styles, (1, 7));
    let (sheet, _) = sheet_of(&mut workbook, "服务商 Providers");
    assert_eq!(text_at(&sheet, (1, 0)), Some(COMPUTE_PROVIDER));
    assert_yuan(sheet.get_value((1, 5)), &yuan(&provider.rejected));
    assert_yuan(sheet.get_value((1, 6)), &yuan(&provider.settled));

    let csv = browser
        .http
        .get(format!(
            "{}/downloads/report?program=compute&year=2026&format=csv",
            browser.base
        ))
        .send()
        .await
        .expect("downloaded")
        .text()
        .await
        .expect("text");
    assert_eq!(
        csv.matches(",0.00,2000.00,6500.01\n").count(),
        2,
        "the summary's and the provider's reversed, rejected and settled: {csv}"
    );
}

#[tokio::test]
async fn a_filtered_list_exports_exactly_its_rows() {
    let mut world = world_with_console().await;
    let claims = claims(&mut world, &["10000.00", "3000.02", "4000.00"], 2).await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;

    let query = "program=compute&status=approved";
    let (_, page) = browser.get(&format!("/redemptions?{query}")).await;
    assert!(
        page.contains(&format!(
            "href=\"/downloads/redemptions?{}\"",
            query.replace('&', "&amp;")
        )),
        "the export link carries the filter: {page}"
    );
    let mut workbook = xlsx_of(&browser, &format!("/downloads/redemptions?{query}")).await;
    let (sheet, styles) = sheet_of(&mut workbook, "核销 Redemptions");
    assert_eq!(
        sheet.height(),
        3,
        "the headers and the two approved claims: {sheet:?}"
    );
    for (row, claim) in (1..).zip(&claims[..2]) {
        assert_eq!(
            text_at(&sheet, (row, 0)),
            Some(claim.redemption_id.as_str())
        );
        assert_eq!(text_at(&sheet, (row, 2)), Some(ENTERPRISE));
        assert_eq!(text_at(&sheet, (row, 3)), Some("启东智算科技有限公司"));
        assert_eq!(
            text_at(&sheet, (row, 6)),
            Some(claim.invoice_number.as_str())
        );
        assert_eq!(
            day_at(&sheet, &styles, (row, 7)).as_deref(),
            Some(claim.invoice_date.as_str()),
            "the invoice's day, a date cell"
        );
        assert_yuan(sheet.get_value((row, 9)), &yuan(&claim.subsidy));
        assert_money_format(&styles, (row, 9));
    }
    let mut workbook = xlsx_of(&browser, "/downloads/redemptions?status=accepted").await;
    let (sheet, _) = sheet_of(&mut workbook, "核销 Redemptions");
    assert_eq!(sheet.height(), 2, "the one claim waiting: {sheet:?}");
    assert_eq!(
        text_at(&sheet, (1, 0)),
        Some(claims[2].redemption_id.as_str())
    );

    let (status, refused) = browser.get("/downloads/redemptions?status=lost").await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the page's own refusal: {refused}"
    );

    let (_, page) = browser.get("/enterprises?q=启东").await;
    assert!(page.contains("href=\"/downloads/enterprises?q="), "{page}");
    let mut workbook = xlsx_of(&browser, "/downloads/enterprises?q=%E5%90%AF%E4%B8%9C").await;
    let (sheet, _) = sheet_of(&mut workbook, "企业 Enterprises");
    assert_eq!(
        sheet.height(),
        2,
        "the one enterprise named 启东…: {sheet:?}"
    );
    assert_eq!(
        text_at(&sheet, (1, 0)),
        Some(ENTERPRISE),
        "the code is text"
    );
    assert_yuan(sheet.get_value((1, 5)), "8500.01");

    let enterprise = Browser::new(&world.server);
    let token = create_enterprise_token(&mut world.bureau, ENTERPRISE).await;
    enterprise.sign_in(&token).await;
    let (status, location) = enterprise
        .location_of("/downloads/redemptions?status=approved")
        .await;
    assert!(
        status.is_redirection() && location == "/my",
        "an enterprise is sent to its own page: {status} {location}"
    );
}
