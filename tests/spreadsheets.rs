//! The CSV exports opened in a real spreadsheet. voucherctl writes the report and a settlement
//! statement as CSV, LibreOffice Calc opens each with its default CSV import (`soffice
//! --headless --convert-to xlsx`, no filter options: what a double-click gets) and saves it as
//! XLSX, and calamine reads the cells back: a name that is a formula is text and no formula,
//! all-digit credit codes and 20-digit invoice numbers are text with every digit (and the
//! trailing tab `src/report.rs` adds), amounts are numbers exact to the fen.
//!
//! Needs `soffice` (Debian's `libreoffice-calc`; `.ci/run` installs it). Without it the test
//! says so and passes, except on CI (`CI` set), where it fails instead.
//!
//! LibreOffice's headless import without options reads the file in the machine's legacy
//! charset, not as the UTF-8 its byte-order mark says (LibreOffice 7.4: Chinese comes back as
//! mojibake; the types of cells are the same as with UTF-8 chosen, tried by hand). So cells are
//! found and compared by their ASCII text only: labels by their English half.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::Duration;

use calamine::{Data, Range, Reader, open_workbook_auto};
use common::*;
use rust_decimal::Decimal;
use voucher_ledger::proto::voucher::v1 as pb;

/// What a formula-named enterprise and provider are called.
const FORMULA_ENTERPRISE: &str = "=HYPERLINK(\"http://x\",\"y\")";
const FORMULA_PROVIDER: &str = "@SUM(1+1)";
/// A 数电票 number of 20 digits, and one of the older code-and-number form.
const DIGITAL_INVOICE: &str = "24322000000012345678";
const OLD_INVOICE: &str = "3200213130-00123456";

/// How long one LibreOffice conversion may take (its first start makes a profile).
const SOFFICE_DEADLINE: Duration = Duration::from_secs(120);

/// Whether `soffice` runs here; `false` after saying how to install it (never on CI).
fn soffice_available() -> bool {
    let version = Command::new("soffice")
        .arg("--version")
        .output_within_deadline();
    match version {
        Ok(output) if output.status.success() => true,
        other => {
            let missing = format!("`soffice --version` gave {other:?}");
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must have LibreOffice Calc (.ci/run installs it): {missing}"
            );
            eprintln!(
                "skipped: no LibreOffice here ({missing}); install it with \
                 `apt-get install -y --no-install-recommends libreoffice-calc`"
            );
            false
        }
    }
}

/// Converts each CSV to XLSX in `directory` with LibreOffice's defaults and returns the XLSX
/// paths. A profile of its own (so that parallel runs do not share one), and `timeout`, which
/// kills LibreOffice's whole process group if it hangs.
fn convert_to_xlsx(directory: &Path, csvs: &[&Path]) -> Vec<PathBuf> {
    let profile = directory.join("libreoffice-profile");
    let mut command = Command::new("timeout");
    command
        .args([
            "--kill-after=10",
            &SOFFICE_DEADLINE.as_secs().to_string(),
            "soffice",
        ])
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.display()
        ))
        .args(["--headless", "--convert-to", "xlsx", "--outdir"])
        .arg(directory)
        .args(csvs)
        .env_remove("DISPLAY");
    let converted = output_within(&mut command, SOFFICE_DEADLINE + Duration::from_secs(20))
        .expect("soffice runs");
    assert!(
        converted.status.success(),
        "soffice: {:?}\n{}\n{}",
        converted.status,
        String::from_utf8_lossy(&converted.stdout),
        String::from_utf8_lossy(&converted.stderr)
    );
    csvs.iter()
        .map(|csv| {
            let xlsx = directory.join(csv.with_extension("xlsx").file_name().expect("a name"));
            assert!(
                xlsx.exists(),
                "soffice wrote no {}: {}",
                xlsx.display(),
                String::from_utf8_lossy(&converted.stdout)
            );
            xlsx
        })
        .collect()
}

/// The one sheet of a converted CSV: its values, and its formulas (empty text where none).
fn sheet(xlsx: &Path) -> (Range<Data>, Range<String>) {
    let mut workbook = open_workbook_auto(xlsx).expect("an XLSX");
    let name = workbook.sheet_names()[0].clone();
    let values = workbook.worksheet_range(&name).expect("values");
    let formulas = workbook.worksheet_formula(&name).expect("formulas");
    (values, formulas)
}

/// The row whose first cell is the string `first`, or whose first cell's text ends with
/// `first` (a label's English half).
fn row_of(values: &Range<Data>, first: &str) -> Vec<Data> {
    let english_half = format!(" {first}");
    values
        .rows()
        .find(|row| match row.first() {
            Some(Data::String(text)) => text == first || text.ends_with(&english_half),
            _ => false,
        })
        .unwrap_or_else(|| panic!("no row {first:?} in {values:?}"))
        .to_vec()
}

/// A code's cell: text, the code and the documented trailing tab, every digit kept.
fn assert_code(cell: &Data, code: &str) {
    assert_eq!(
        cell,
        &Data::String(format!("{code}\t")),
        "{code} must stay text with every digit"
    );
    if let Data::String(text) = cell {
        assert_eq!(text.trim_end_matches('\t'), code);
    }
}

/// An amount's cell: a number, equal to `yuan` to the fen. The spreadsheet's number goes
/// through its shortest decimal text (exact for amounts of up to 15 significant digits), so no
/// arithmetic is done in floating point.
fn assert_amount(cell: &Data, yuan: &str) {
    let Data::Float(number) = cell else {
        panic!("{yuan}: a number expected, got {cell:?}");
    };
    assert_eq!(
        Decimal::from_str(&number.to_string()).expect("a decimal"),
        Decimal::from_str(yuan).expect("a decimal"),
        "{cell:?}"
    );
}

/// No cell of the sheet is a formula: the CSV import ran nothing.
fn assert_no_formula(formulas: &Range<String>, file: &str) {
    let found: Vec<&String> = formulas
        .used_cells()
        .map(|(_, _, f)| f)
        .filter(|f| !f.is_empty())
        .collect();
    assert!(found.is_empty(), "{file}: formulas {found:?}");
}

/// The first `n` synthetic credit codes whose check character is a digit, so all 18 are.
fn all_digit_codes(n: usize) -> Vec<String> {
    (1..)
        .map(synthetic_code)
        .filter(|code| code.bytes().all(|byte| byte.is_ascii_digit()))
        .take(n)
        .collect()
}

#[tokio::test]
async fn the_csv_exports_open_in_libreoffice_as_text_and_exact_numbers() {
    if !soffice_available() {
        return;
    }
    let codes = all_digit_codes(2);
    let (enterprise, provider) = (codes[0].as_str(), codes[1].as_str());
    assert!(ENTERPRISE.bytes().all(|byte| byte.is_ascii_digit()));

    let mut world = World::new("2027-07-05").await;
    register_enterprise(&mut world.bureau, enterprise, FORMULA_ENTERPRISE).await;
    register_provider(
        &mut world.bureau,
        provider,
        FORMULA_PROVIDER,
        pb::Program::Compute,
    )
    .await;
    issue(
        &mut world.bureau,
        "plain",
        pb::Program::Compute,
        Some("50000"),
    )
    .await;
    let voucher = world
        .bureau
        .issue_voucher(issue_request(
            "formula",
            enterprise,
            pb::Program::Compute,
            Some("100000"),
        ))
        .await
        .expect("issued")
        .into_inner();
    let mut redemption_ids = Vec::new();
    for (invoice_number, date, amount) in [
        (DIGITAL_INVOICE, "2027-06-01", "3000.02"),
        (OLD_INVOICE, "2027-06-02", "1000.00"),
    ] {
        let mut claim = redeem_request(&voucher, invoice_number, date, amount);
        claim.provider_credit_code = provider.to_owned();
        let redemption = world
            .bureau
            .redeem(claim)
            .await
            .expect("redeemed")
            .into_inner();
        world
            .bureau
            .approve_redemption(pb::ApproveRedemptionRequest {
                redemption_id: redemption.redemption_id.clone(),
            })
            .await
            .expect("approved");
        redemption_ids.push(redemption.redemption_id);
    }
    let settlement = world
        .bureau
        .create_settlement(pb::CreateSettlementRequest {
            request_id: "june".into(),
            provider_credit_code: provider.to_owned(),
            program: pb::Program::Compute as i32,
            up_to_date: "2027-06-30".into(),
        })
        .await
        .expect("settled")
        .into_inner();

    let directory = tempfile::tempdir().expect("tempdir");
    let report_csv = directory.path().join("report.csv");
    let statement_csv = directory.path().join("statement.csv");
    for arguments in [
        vec!["report", "--program", "compute", "--year", "2027"],
        vec!["settlement", "export", &settlement.settlement_id],
    ] {
        let output = if arguments[0] == "report" {
            &report_csv
        } else {
            &statement_csv
        };
        let written = Command::new(env!("CARGO_BIN_EXE_voucherctl"))
            .env_remove("VOUCHER_TOKEN")
            .env("VOUCHER_ADDR", world.server.address.to_string())
            .env(
                "VOUCHER_TOKEN_FILE",
                world.server.data().path().join("bureau.token"),
            )
            .args(arguments)
            .args(["--format", "csv", "--output"])
            .arg(output)
            .output_within_deadline()
            .expect("voucherctl runs");
        assert!(
            written.status.success(),
            "{}",
            String::from_utf8_lossy(&written.stderr)
        );
    }
    // The attack, in the same run: a raw formula and raw digits, as the CSV had them before.
    let control_csv = directory.path().join("control.csv");
    std::fs::write(
        &control_csv,
        format!("=1+1,{ENTERPRISE},{DIGITAL_INVOICE}\n"),
    )
    .expect("csv");

    let xlsx = convert_to_xlsx(
        directory.path(),
        &[&report_csv, &statement_csv, &control_csv],
    );

    let (control, control_formulas) = sheet(&xlsx[2]);
    assert_eq!(
        control_formulas.get_value((0, 0)).map(String::as_str),
        Some("1+1"),
        "the check sees a formula when there is one"
    );
    assert!(
        matches!(control.get_value((0, 1)), Some(Data::Float(_))),
        "raw digits are a number to LibreOffice, digits lost: {:?}",
        control.get_value((0, 1))
    );

    let (report, formulas) = sheet(&xlsx[0]);
    assert_no_formula(&formulas, "report.csv");
    let row = row_of(&report, &format!("{enterprise}\t"));
    assert_code(&row[0], enterprise);
    assert_eq!(
        row[1],
        Data::String(format!("'{FORMULA_ENTERPRISE}")),
        "the name as typed, after the documented apostrophe"
    );
    for (cell, yuan) in row[2..].iter().zip([
        "2000000.00",
        "100000.00",
        "2000.01",
        "1997999.99",
        "97999.99",
        "1900000.00",
    ]) {
        assert_amount(cell, yuan);
    }
    let row = row_of(&report, &format!("{ENTERPRISE}\t"));
    assert_code(&row[0], ENTERPRISE);
    assert_amount(&row[3], "50000.00");
    let row = row_of(&report, &format!("{provider}\t"));
    assert_code(&row[0], provider);
    assert_eq!(row[1], Data::String(format!("'{FORMULA_PROVIDER}")));
    assert_amount(&row[2], "2");
    assert_amount(&row[3], "2000.01");
    assert_amount(&row[4], "0.00");

    let (statement, formulas) = sheet(&xlsx[1]);
    assert_no_formula(&formulas, "statement.csv");
    assert_eq!(
        row_of(&statement, "Statement")[1],
        Data::String(settlement.settlement_id.clone())
    );
    assert_code(&row_of(&statement, "Provider credit code")[1], provider);
    assert_eq!(
        row_of(&statement, "Provider")[1],
        Data::String(format!("'{FORMULA_PROVIDER}"))
    );
    assert_amount(&row_of(&statement, "Lines")[1], "2");
    assert_amount(&row_of(&statement, "Gross")[1], "2000.01");
    assert_amount(&row_of(&statement, "Net payable")[1], "2000.01");
    for (redemption_id, invoice_number, date, amount, subsidy) in [
        (
            &redemption_ids[0],
            DIGITAL_INVOICE,
            "2027-06-01",
            "3000.02",
            "1500.01",
        ),
        (
            &redemption_ids[1],
            OLD_INVOICE,
            "2027-06-02",
            "1000.00",
            "500.00",
        ),
    ] {
        let line = row_of(&statement, redemption_id);
        assert_code(&line[1], enterprise);
        assert_eq!(
            line[2],
            Data::String(format!("'{FORMULA_ENTERPRISE}")),
            "the enterprise's name beside its code, as text"
        );
        assert_code(&line[3], invoice_number);
        let day = chrono::NaiveDate::from_str(date).expect("a date");
        let serial =
            (day - chrono::NaiveDate::from_ymd_opt(1899, 12, 30).expect("epoch")).num_days();
        assert!(
            matches!(&line[4], Data::DateTime(value) if value.as_f64() == serial as f64),
            "the invoice date is a date, {date}: {:?}",
            line[4]
        );
        assert_amount(&line[5], amount);
        assert_amount(&line[6], subsidy);
    }
    assert_verified(&mut world.bureau).await;
}

/// What the console's session needs to download: a cookie-keeping client signed in with the
/// bureau's token, and where the console listens.
async fn console_session(server: &TestServer) -> (reqwest::Client, String) {
    let base = format!("http://{}", server.web_address.expect("--web-port"));
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(CALL_DEADLINE)
        .build()
        .expect("an HTTP client");
    let page = http
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("the sign-in page")
        .text()
        .await
        .expect("text");
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("a csrf field") + marker.len();
    let csrf = &page[start..start + page[start..].find('"').expect("a quote")];
    let signed_in = http
        .post(format!("{base}/login"))
        .form(&[("token", server.bureau_token.as_str()), ("csrf", csrf)])
        .send()
        .await
        .expect("signed in");
    assert!(signed_in.status().is_redirection(), "{signed_in:?}");
    (http, base)
}

/// The console's CSV downloads (the report, a paid statement) opened in LibreOffice, as a
/// clerk double-clicks them: all-digit credit codes, 20-digit invoice numbers and an all-digit
/// bank reference stay text with every digit, names stay text, amounts are numbers.
#[tokio::test]
async fn the_consoles_csv_downloads_open_in_libreoffice_as_text_and_exact_numbers() {
    if !soffice_available() {
        return;
    }
    let codes = all_digit_codes(2);
    let (enterprise, provider) = (codes[0].as_str(), codes[1].as_str());
    let bank_reference = "320000202707020000123";
    let mut world = World::new_in(DataDir::new(), "2027-07-05", &["--web-port", "0"]).await;
    register_enterprise(&mut world.bureau, enterprise, FORMULA_ENTERPRISE).await;
    register_provider(
        &mut world.bureau,
        provider,
        "启东算力",
        pb::Program::Compute,
    )
    .await;
    let voucher = world
        .bureau
        .issue_voucher(issue_request(
            "v",
            enterprise,
            pb::Program::Compute,
            Some("100000"),
        ))
        .await
        .expect("issued")
        .into_inner();
    let mut claim = redeem_request(&voucher, DIGITAL_INVOICE, "2027-06-01", "3000.02");
    claim.provider_credit_code = provider.to_owned();
    let redemption = world
        .bureau
        .redeem(claim)
        .await
        .expect("redeemed")
        .into_inner();
    world
        .bureau
        .approve_redemption(pb::ApproveRedemptionRequest {
            redemption_id: redemption.redemption_id.clone(),
        })
        .await
        .expect("approved");
    let settlement = world
        .bureau
        .create_settlement(pb::CreateSettlementRequest {
            request_id: "june".into(),
            provider_credit_code: provider.to_owned(),
            program: pb::Program::Compute as i32,
            up_to_date: "2027-06-30".into(),
        })
        .await
        .expect("settled")
        .into_inner();
    world
        .bureau
        .record_settlement_payment(pb::RecordSettlementPaymentRequest {
            settlement_id: settlement.settlement_id.clone(),
            bank_reference: bank_reference.into(),
            paid_on: "2027-07-05".into(),
        })
        .await
        .expect("paid");

    let (http, base) = console_session(&world.server).await;
    let directory = tempfile::tempdir().expect("tempdir");
    let report_csv = directory.path().join("console-report.csv");
    let statement_csv = directory.path().join("console-statement.csv");
    for (path, file) in [
        (
            "/downloads/report?program=compute&year=2027&format=csv",
            &report_csv,
        ),
        (
            &format!(
                "/downloads/statement?id={}&format=csv",
                settlement.settlement_id
            ),
            &statement_csv,
        ),
    ] {
        let response = http
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), reqwest::StatusCode::OK, "{path}");
        let bytes = response.bytes().await.expect("bytes");
        std::fs::write(file, &bytes).expect("written");
    }
    let xlsx = convert_to_xlsx(directory.path(), &[&report_csv, &statement_csv]);

    let (report, formulas) = sheet(&xlsx[0]);
    assert_no_formula(&formulas, "console-report.csv");
    let row = row_of(&report, &format!("{enterprise}\t"));
    assert_code(&row[0], enterprise);
    assert_eq!(row[1], Data::String(format!("'{FORMULA_ENTERPRISE}")));
    assert_amount(&row[4], "1500.01");
    let row = row_of(&report, &format!("{provider}\t"));
    assert_code(&row[0], provider);
    assert_amount(&row[3], "1500.01");
    assert_amount(&row[6], "1500.01");

    let (statement, formulas) = sheet(&xlsx[1]);
    assert_no_formula(&formulas, "console-statement.csv");
    assert_code(&row_of(&statement, "Provider credit code")[1], provider);
    assert_amount(&row_of(&statement, "Net payable")[1], "1500.01");
    assert_code(&row_of(&statement, "Bank reference")[1], bank_reference);
    let line = row_of(&statement, &redemption.redemption_id);
    assert_code(&line[1], enterprise);
    assert_code(&line[3], DIGITAL_INVOICE);
    assert_amount(&line[6], "1500.01");
    assert_verified(&mut world.bureau).await;
}
