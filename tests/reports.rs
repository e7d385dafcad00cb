//! The bureau's numbers: the program summary, every enterprise's balance, and the report
//! spreadsheet opened and read back cell by cell.

mod common;

use std::process::{Command, Output};

use calamine::{Data, Reader, Xlsx, open_workbook};
use common::*;
use voucher_ledger::proto::voucher::v1 as pb;

fn voucherctl(server: &TestServer, arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_voucherctl"))
        .env_remove("VOUCHER_TOKEN")
        .env("VOUCHER_ADDR", server.address.to_string())
        .env(
            "VOUCHER_TOKEN_FILE",
            server.data().path().join("bureau.token"),
        )
        .args(arguments)
        .output_within_deadline()
        .expect("voucherctl runs")
}

/// Two enterprises with compute vouchers, two providers, redemptions and one reversal.
async fn a_month_of_claims() -> World {
    let mut world = World::new("2027-06-15").await;
    register_enterprise(&mut world.bureau, OTHER_ENTERPRISE, "南通具身智能有限公司").await;
    let other_provider = synthetic_code(42);
    register_provider(
        &mut world.bureau,
        &other_provider,
        "另一家算力服务商",
        pb::Program::Compute,
    )
    .await;
    let first = issue(&mut world.bureau, "a", pb::Program::Compute, Some("100000")).await;
    let second = world
        .bureau
        .issue_voucher(issue_request(
            "b",
            OTHER_ENTERPRISE,
            pb::Program::Compute,
            Some("50000"),
        ))
        .await
        .expect("issued")
        .into_inner();
    for serial in 1..=3 {
        world
            .compute_provider
            .redeem(redeem_request(
                &first,
                &invoice(serial),
                "2027-06-01",
                "2000",
            ))
            .await
            .expect("redeemed");
    }
    let mut for_other = redeem_request(&second, &invoice(10), "2027-06-02", "3000.02");
    for_other.provider_credit_code = other_provider;
    world
        .bureau
        .redeem(for_other)
        .await
        .expect("redeemed for the other provider");
    let reverse = pb::ReverseRedemptionRequest {
        redemption_id: "R000000000002".into(),
        reason: "红冲".into(),
    };
    world
        .bureau
        .reverse_redemption(reverse)
        .await
        .expect("reversed");
    world
}

#[tokio::test]
async fn the_program_summary_adds_up_every_enterprise_and_provider() {
    let mut world = a_month_of_claims().await;
    let summary = program_summary(&mut world.bureau, pb::Program::Compute).await;
    assert_eq!(
        (summary.period_start.as_str(), summary.period_end.as_str()),
        ("2027-01-01", "2027-12-31")
    );
    assert_eq!(
        (summary.enterprises, summary.vouchers, summary.redemptions),
        (2, 2, 4)
    );
    assert_eq!(yuan(&summary.committed), "150000.00");
    assert_eq!(
        yuan(&summary.redeemed),
        "3500.01",
        "2 × 1,000 + 1,500.01, the reversed 1,000 excluded"
    );
    assert_eq!(yuan(&summary.reversed), "1000.00");
    let providers: Vec<(String, u64, String, String)> = summary
        .providers
        .iter()
        .map(|p| {
            (
                p.provider_name.clone(),
                p.redemptions,
                yuan(&p.redeemed),
                yuan(&p.reversed),
            )
        })
        .collect();
    assert_eq!(
        providers,
        vec![
            (
                "另一家算力服务商".to_owned(),
                1,
                "1500.01".to_owned(),
                "0.00".to_owned()
            ),
            (
                "南通算力服务有限公司".to_owned(),
                3,
                "2000.00".to_owned(),
                "1000.00".to_owned()
            ),
        ]
    );

    let balances = world
        .bureau
        .list_balances(pb::ListBalancesRequest {
            program: pb::Program::Compute as i32,
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("balances")
        .into_inner();
    assert_eq!(balances.balances.len(), 1);
    assert!(!balances.next_page_token.is_empty());
    let rest = world
        .bureau
        .list_balances(pb::ListBalancesRequest {
            program: pb::Program::Compute as i32,
            page_token: balances.next_page_token,
            ..Default::default()
        })
        .await
        .expect("balances")
        .into_inner();
    let names: Vec<String> = balances
        .balances
        .iter()
        .chain(&rest.balances)
        .map(|b| b.enterprise_name.clone())
        .collect();
    assert_eq!(names, vec!["南通具身智能有限公司", "启东智算科技有限公司"]);
    assert_verified(&mut world.bureau).await;
}

#[tokio::test]
async fn the_report_opens_in_a_spreadsheet_with_the_same_numbers() {
    let world = a_month_of_claims().await;
    let directory = tempfile::tempdir().expect("tempdir");
    let xlsx = directory.path().join("report.xlsx");
    let written = voucherctl(
        &world.server,
        &[
            "report",
            "--program",
            "compute",
            "--year",
            "2027",
            "--output",
            xlsx.to_str().expect("utf-8"),
        ],
    );
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    assert!(
        written.stderr.is_empty(),
        "no progress bar when stderr is not a terminal"
    );

    let mut workbook: Xlsx<_> = open_workbook(&xlsx).expect("a valid XLSX");
    assert_eq!(
        workbook.sheet_names(),
        vec!["汇总 Summary", "企业 Enterprises", "服务商 Providers"]
    );
    let enterprises = workbook.worksheet_range("企业 Enterprises").expect("sheet");
    assert_eq!(
        enterprises.get_value((0, 0)),
        Some(&Data::String("统一社会信用代码 Credit code".into()))
    );
    assert_eq!(
        enterprises.get_value((0, 5)),
        Some(&Data::String("剩余额度 Remaining".into()))
    );
    let row = |index: u32| -> Vec<String> {
        (0..8)
            .map(|column| match enterprises.get_value((index, column)) {
                Some(Data::String(text)) => text.clone(),
                Some(Data::Float(number)) => format!("{number:.2}"),
                other => format!("{other:?}"),
            })
            .collect()
    };
    assert_eq!(
        row(1),
        vec![
            "91110108551385082Q",
            "南通具身智能有限公司",
            "2000000.00",
            "50000.00",
            "1500.01",
            "1998499.99",
            "48499.99",
            "1950000.00"
        ]
    );
    assert_eq!(
        row(2),
        vec![
            ENTERPRISE,
            "启东智算科技有限公司",
            "2000000.00",
            "100000.00",
            "2000.00",
            "1998000.00",
            "98000.00",
            "1900000.00"
        ]
    );
    let providers = workbook.worksheet_range("服务商 Providers").expect("sheet");
    assert_eq!(providers.get_value((2, 3)), Some(&Data::Float(2000.0)));
    assert_eq!(providers.get_value((2, 4)), Some(&Data::Float(1000.0)));

    let csv = directory.path().join("report.csv");
    let written = voucherctl(
        &world.server,
        &[
            "report",
            "--program",
            "compute",
            "--year",
            "2027",
            "--format",
            "csv",
            "--output",
            csv.to_str().expect("utf-8"),
        ],
    );
    assert!(written.status.success());
    let text = std::fs::read_to_string(&csv).expect("csv");
    assert!(text.starts_with('\u{feff}'), "a BOM so Excel reads UTF-8");
    assert!(
        text.contains(&format!(
            "\"{ENTERPRISE}\t\",启东智算科技有限公司,2000000.00,100000.00,2000.00,1998000.00,98000.00,1900000.00"
        )),
        "the credit code with the tab that keeps it text in a spreadsheet (src/report.rs): {text}"
    );
}

#[tokio::test]
async fn the_health_command_needs_no_token() {
    let server = TestServer::start("2027-06-15").await;
    let healthy = Command::new(env!("CARGO_BIN_EXE_voucherctl"))
        .env_remove("VOUCHER_TOKEN")
        .env_remove("VOUCHER_TOKEN_FILE")
        .current_dir(std::env::temp_dir())
        .args(["--addr", &server.address.to_string(), "health"])
        .output_within_deadline()
        .expect("runs");
    assert!(
        healthy.status.success(),
        "{}",
        String::from_utf8_lossy(&healthy.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&healthy.stdout), "SERVING\n");
    let down = Command::new(env!("CARGO_BIN_EXE_voucherctl"))
        .args(["--addr", "127.0.0.1:1", "health"])
        .output_within_deadline()
        .expect("runs");
    assert_eq!(down.status.code(), Some(3));
}
