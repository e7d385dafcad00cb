//! The bureau's report of one program in one cap period, as CSV or XLSX for Excel.
//!
//! Headers are Chinese with English beside them. CSV is UTF-8 with a byte-order mark, which is
//! what makes Excel show Chinese; it holds the summary, the enterprises, then the providers,
//! separated by blank lines. XLSX has one sheet each. Amounts are written from their exact
//! decimal text: CSV cells are that text, XLSX cells are numbers (what a spreadsheet sums)
//! with the two-decimal format `#,##0.00`.
//!
//! A CSV is opened in a spreadsheet by double-clicking it, and the spreadsheet guesses each
//! cell's type. Two guesses would hurt, so CSV cells are written against them:
//!
//! - Free text from outside (names) that begins with a formula character gets a leading
//!   apostrophe ([`spreadsheet_text`], OWASP's rule for CSV injection).
//! - Credit codes and invoice numbers get a trailing tab ([`spreadsheet_code`]): an all-digit
//!   credit code (`914403001922038216`) or 20-digit invoice number is otherwise read as a
//!   number and loses its last digits (`9.14403001922038E+17`), and a code such as
//!   `913206811234567E12` is read as 9.13 × 10²⁶.
//!
//! Amounts, dates and counts are left for the spreadsheet to read as numbers and dates.
//! Ids (`V000000000001`, `R…`, `S…`) begin with a letter, so no spreadsheet reads them as a
//! number or a date, and they are written as they are.

pub mod capital;
pub mod lists;
mod notice;
mod statement;

pub use capital::capital_amount;
pub use notice::{Notice, NoticeLine, notice_xlsx_bytes, write_notice_csv, write_notice_xlsx};
pub use statement::{
    Statement, StatementLine, StatementPayment, statement_from_ledger, statement_xlsx_bytes,
    write_statement_csv, write_statement_xlsx,
};

use std::io::Write;
use std::path::Path;

use rust_decimal::prelude::ToPrimitive;
use rust_xlsxwriter::{Format, Workbook, XlsxError};

use crate::domain::model::{Balance, ProgramSummary};
use crate::domain::money::Total;

/// The report of a program summary and every enterprise's balance, read from the ledger
/// directly (the console) rather than over gRPC (voucherctl).
pub fn from_ledger(summary: &ProgramSummary, program_name: &str, balances: &[Balance]) -> Report {
    Report {
        program: format!("{program_name} ({})", summary.period.first.format("%Y")),
        period_start: summary.period.first.to_string(),
        period_end: summary.period.last.to_string(),
        committed: summary.totals.committed,
        redeemed: summary.totals.redeemed,
        reversed: summary.totals.reversed,
        rejected: summary.totals.rejected,
        settled: summary.totals.settled,
        enterprises: balances
            .iter()
            .map(|balance| EnterpriseLine {
                credit_code: balance.enterprise_credit_code.to_string(),
                name: balance.enterprise_name.clone(),
                cap: balance.cap.into(),
                committed: balance.committed.into(),
                redeemed: balance.redeemed.into(),
            })
            .collect(),
        providers: summary
            .providers
            .iter()
            .map(|(code, name, totals)| ProviderLine {
                credit_code: code.to_string(),
                name: name.clone(),
                redemptions: totals.redemptions,
                redeemed: totals.redeemed,
                reversed: totals.reversed,
                rejected: totals.rejected,
                settled: totals.settled,
            })
            .collect(),
    }
}

/// One enterprise's line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnterpriseLine {
    pub credit_code: String,
    pub name: String,
    pub cap: Total,
    pub committed: Total,
    pub redeemed: Total,
}

impl EnterpriseLine {
    /// What the enterprise can still receive: the cap less what it redeemed.
    pub fn remaining(&self) -> Total {
        difference(self.cap, self.redeemed)
    }

    /// Issued and not yet redeemed.
    pub fn outstanding(&self) -> Total {
        difference(self.committed, self.redeemed)
    }

    /// What the bureau may still issue.
    pub fn available(&self) -> Total {
        difference(self.cap, self.committed)
    }
}

/// One provider's line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderLine {
    pub credit_code: String,
    pub name: String,
    pub redemptions: u64,
    pub redeemed: Total,
    pub reversed: Total,
    /// Released by rejections on review.
    pub rejected: Total,
    /// Paid by settlement statements, net of clawbacks netted since.
    pub settled: Total,
}

/// The whole report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// e.g. "算力券 compute voucher".
    pub program: String,
    pub period_start: String,
    pub period_end: String,
    pub committed: Total,
    pub redeemed: Total,
    pub reversed: Total,
    /// Released by rejections on review.
    pub rejected: Total,
    /// Paid by settlement statements, net of clawbacks netted since.
    pub settled: Total,
    pub enterprises: Vec<EnterpriseLine>,
    pub providers: Vec<ProviderLine>,
}

const ENTERPRISE_HEADERS: [&str; 8] = [
    "统一社会信用代码 Credit code",
    "企业名称 Enterprise",
    "额度 Cap",
    "已承诺 Committed",
    "已核销 Redeemed",
    "剩余额度 Remaining",
    "待核销 Outstanding",
    "可发放 Available to issue",
];

const PROVIDER_HEADERS: [&str; 7] = [
    "服务商信用代码 Provider credit code",
    "服务商名称 Provider",
    "核销笔数 Redemptions",
    "核销金额 Redeemed",
    "红冲金额 Reversed",
    "驳回金额 Rejected",
    "已结算 Settled",
];

const SUMMARY_HEADERS: [&str; 8] = [
    "项目 Program",
    "期间起 Period start",
    "期间止 Period end",
    "已承诺 Committed",
    "已核销 Redeemed",
    "已红冲 Reversed",
    "已驳回 Rejected",
    "已结算 Settled",
];

impl Report {
    /// The period's amounts, in the summary's order.
    fn summary_amounts(&self) -> [Total; 5] {
        [
            self.committed,
            self.redeemed,
            self.reversed,
            self.rejected,
            self.settled,
        ]
    }

    fn summary_row(&self) -> Vec<String> {
        let mut row = vec![
            self.program.clone(),
            self.period_start.clone(),
            self.period_end.clone(),
        ];
        row.extend(self.summary_amounts().iter().map(Total::to_string));
        row
    }
}

/// Free text as a CSV cell a spreadsheet shows as text, never runs: a cell that begins with
/// `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel and LibreOffice, so it
/// gets a leading apostrophe (OWASP's rule for CSV injection). LibreOffice shows the
/// apostrophe as part of the text. Amounts and ids are written by this program and never
/// need it; names and other text from outside always go through here.
fn spreadsheet_text(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    }
}

/// A credit code or invoice number as a CSV cell a spreadsheet keeps as text, every digit of
/// it: the code and a trailing tab, in a quoted field (see [`csv_writer`]).
///
/// Why a trailing tab. Tried with LibreOffice 7.4's default CSV import (`soffice --headless
/// --convert-to xlsx`), each read back from the XLSX:
///
/// | written                            | LibreOffice reads                              |
/// |------------------------------------|------------------------------------------------|
/// | the digits alone, quoted or not    | number 9.14403001922038E+17: three digits lost |
/// | a space before or after            | the same number                                |
/// | U+00A0 (no-break space) before     | the same number                                |
/// | U+200B (zero-width space) before   | text, but invisible: refused in names as a spoofing risk |
/// | `'` before                         | text, the apostrophe shown                     |
/// | `="…"`                             | a formula, which neutralisation exists to avoid |
/// | a tab before                       | text, the tab not seen                         |
/// | a tab after                        | text, the tab not seen                         |
///
/// A tab before or after the digits is the form also reported to keep long numbers as text in
/// Excel. After is chosen: the cell still begins with its first digit, so it is not one of the
/// cells OWASP's rule treats as a formula (a leading tab is), and it sorts and reads as the
/// code. Every cell of these columns gets it, not only all-digit ones: which codes a
/// spreadsheet misreads depends on the program and its locale (`…E12` is a number in
/// LibreOffice), and one rule per column is simpler for a program that reads the CSV.
///
/// The trade-off: a program that parses the CSV sees the tab. No value this ledger writes
/// ends in a tab otherwise (names are trimmed and refuse control characters), so removing
/// one trailing tab from every cell is always safe: `trim_end_matches('\t')` in Rust,
/// `rstrip("\t")` in Python, `CLEAN()` in a spreadsheet (`TRIM()` removes spaces only).
fn spreadsheet_code(code: &str) -> String {
    format!("{code}\t")
}

/// A CSV writer for the spreadsheet: flexible (the sections have different widths), and
/// quoting every field that holds a tab. The `csv` crate quotes what RFC 4180 needs (commas,
/// quotes, line breaks) and, when given a comment byte, every field holding that byte; the tab
/// is given as that byte so that [`spreadsheet_code`]'s tab is inside quotes, where no reader
/// takes it for padding to trim. No line of these files is a comment.
fn csv_writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .flexible(true)
        .comment(Some(b'\t'))
        .from_writer(out)
}

fn enterprise_row(line: &EnterpriseLine) -> [String; 8] {
    [
        spreadsheet_code(&line.credit_code),
        spreadsheet_text(&line.name),
        line.cap.to_string(),
        line.committed.to_string(),
        line.redeemed.to_string(),
        line.remaining().to_string(),
        line.outstanding().to_string(),
        line.available().to_string(),
    ]
}

fn provider_row(line: &ProviderLine) -> [String; 7] {
    [
        spreadsheet_code(&line.credit_code),
        spreadsheet_text(&line.name),
        line.redemptions.to_string(),
        line.redeemed.to_string(),
        line.reversed.to_string(),
        line.rejected.to_string(),
        line.settled.to_string(),
    ]
}

/// Writes the report as CSV (UTF-8 with BOM).
pub fn write_csv(report: &Report, out: impl Write) -> Result<(), csv::Error> {
    let mut out = out;
    out.write_all("\u{feff}".as_bytes())?;
    let mut writer = csv_writer(out);
    writer.write_record(SUMMARY_HEADERS)?;
    let mut summary = report.summary_row();
    summary[0] = spreadsheet_text(&summary[0]);
    writer.write_record(summary)?;
    writer.write_record([""])?;
    writer.write_record(ENTERPRISE_HEADERS)?;
    for line in &report.enterprises {
        writer.write_record(enterprise_row(line))?;
    }
    writer.write_record([""])?;
    writer.write_record(PROVIDER_HEADERS)?;
    for line in &report.providers {
        writer.write_record(provider_row(line))?;
    }
    writer.flush()?;
    Ok(())
}

/// Writes the report as an XLSX workbook with three sheets.
pub fn write_xlsx(report: &Report, path: &Path) -> Result<(), XlsxError> {
    report_workbook(report)?.save(path)
}

/// The report's XLSX workbook as bytes, for a download.
pub fn xlsx_bytes(report: &Report) -> Result<Vec<u8>, XlsxError> {
    report_workbook(report)?.save_to_buffer()
}

fn report_workbook(report: &Report) -> Result<Workbook, XlsxError> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("#,##0.00");
    let summary = workbook.add_worksheet().set_name("汇总 Summary")?;
    write_headers(summary, &SUMMARY_HEADERS, &bold)?;
    for (column, value) in report.summary_row().iter().enumerate().take(3) {
        summary.write_string(1, column as u16, value)?;
    }
    for (column, amount) in report.summary_amounts().into_iter().enumerate() {
        summary.write_number_with_format(1, 3 + column as u16, number(amount), &money)?;
    }
    let enterprises = workbook.add_worksheet().set_name("企业 Enterprises")?;
    write_headers(enterprises, &ENTERPRISE_HEADERS, &bold)?;
    for (index, line) in report.enterprises.iter().enumerate() {
        let row = 1 + index as u32;
        enterprises.write_string(row, 0, &line.credit_code)?;
        enterprises.write_string(row, 1, &line.name)?;
        let amounts = [
            line.cap,
            line.committed,
            line.redeemed,
            line.remaining(),
            line.outstanding(),
            line.available(),
        ];
        for (column, amount) in amounts.into_iter().enumerate() {
            enterprises.write_number_with_format(row, 2 + column as u16, number(amount), &money)?;
        }
    }
    let providers = workbook.add_worksheet().set_name("服务商 Providers")?;
    write_headers(providers, &PROVIDER_HEADERS, &bold)?;
    for (index, line) in report.providers.iter().enumerate() {
        let row = 1 + index as u32;
        providers.write_string(row, 0, &line.credit_code)?;
        providers.write_string(row, 1, &line.name)?;
        providers.write_number(row, 2, line.redemptions as f64)?;
        providers.write_number_with_format(row, 3, number(line.redeemed), &money)?;
        providers.write_number_with_format(row, 4, number(line.reversed), &money)?;
        providers.write_number_with_format(row, 5, number(line.rejected), &money)?;
        providers.write_number_with_format(row, 6, number(line.settled), &money)?;
    }
    Ok(workbook)
}

fn write_headers(
    sheet: &mut rust_xlsxwriter::Worksheet,
    headers: &[&str],
    bold: &Format,
) -> Result<(), XlsxError> {
    for (column, header) in headers.iter().enumerate() {
        sheet.write_string_with_format(0, column as u16, *header, bold)?;
        sheet.set_column_width(column as u16, 22)?;
    }
    Ok(())
}

/// `larger - smaller`, or zero.
fn difference(larger: Total, smaller: Total) -> Total {
    let value = (larger.as_decimal() - smaller.as_decimal()).max(rust_decimal::Decimal::ZERO);
    Total::try_from(value).unwrap_or(Total::ZERO)
}

/// A spreadsheet number: the amount's exact decimal text, read as a number. Two decimals
/// survive up to 15 significant digits, ten trillion yuan.
fn number(amount: Total) -> f64 {
    amount.as_decimal().to_f64().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yuan(text: &str) -> Total {
        Total::from(
            crate::domain::money::Money::parse_yuan(text)
                .unwrap_or(crate::domain::money::Money::ZERO),
        )
    }

    fn sample() -> Report {
        Report {
            program: "算力券 compute voucher".into(),
            period_start: "2027-01-01".into(),
            period_end: "2027-12-31".into(),
            committed: yuan("2000000"),
            redeemed: yuan("5000"),
            reversed: yuan("10"),
            rejected: yuan("20"),
            settled: yuan("4000"),
            enterprises: vec![EnterpriseLine {
                credit_code: "914403001922038216".into(),
                name: "启东智算, \"科技\"".into(),
                cap: yuan("2000000"),
                committed: yuan("2000000"),
                redeemed: yuan("5000"),
            }],
            providers: vec![],
        }
    }

    #[test]
    fn csv_starts_with_a_bom_and_quotes_what_needs_quoting() {
        let mut bytes = Vec::new();
        write_csv(&sample(), &mut bytes).expect("csv");
        let text = String::from_utf8(bytes).expect("utf-8");
        assert!(text.starts_with('\u{feff}'));
        assert!(text.contains("\"启东智算, \"\"科技\"\"\",2000000.00,2000000.00,5000.00,1995000.00,1995000.00,0.00"), "{text}");
        assert!(text.contains("统一社会信用代码 Credit code"));
    }

    #[test]
    fn a_name_that_a_spreadsheet_would_run_is_written_as_text() {
        for (name, written) in [
            ("=HYPERLINK(\"http://x\",\"启东\")", "'=HYPERLINK"),
            ("+1+cmd|' /C calc'!A0", "'+1+cmd"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1+1", "'\t=1+1"),
        ] {
            let mut report = sample();
            report.enterprises[0].name = name.to_owned();
            let mut bytes = Vec::new();
            write_csv(&report, &mut bytes).expect("csv");
            let text = String::from_utf8(bytes).expect("utf-8");
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .has_headers(false)
                .from_reader(text.as_bytes());
            let cells: Vec<String> = reader
                .records()
                .filter_map(Result::ok)
                .filter(|record| {
                    record.get(0) == Some(&spreadsheet_code(&report.enterprises[0].credit_code))
                })
                .filter_map(|record| record.get(1).map(str::to_owned))
                .collect();
            assert_eq!(cells.len(), 1, "{text}");
            assert!(
                cells[0].starts_with(written),
                "{name:?} written as {:?}",
                cells[0]
            );
        }
        assert_eq!(spreadsheet_text("启东智算"), "启东智算");
    }

    #[test]
    fn a_code_is_written_with_a_trailing_tab_inside_quotes() {
        assert_eq!(
            spreadsheet_code("914403001922038216"),
            "914403001922038216\t"
        );
        assert_eq!(
            spreadsheet_code("3200213130-00123456"),
            "3200213130-00123456\t"
        );
        let mut report = sample();
        report.providers.push(ProviderLine {
            credit_code: "9144030071526726XG".into(),
            name: "@SUM(1+1)".into(),
            redemptions: 3,
            redeemed: yuan("2000"),
            reversed: yuan("0"),
            rejected: yuan("0"),
            settled: yuan("0"),
        });
        let mut bytes = Vec::new();
        write_csv(&report, &mut bytes).expect("csv");
        let text = String::from_utf8(bytes).expect("utf-8");
        assert!(
            text.contains("\n\"914403001922038216\t\",\"启东智算, \"\"科技\"\"\",2000000.00,"),
            "{text:?}"
        );
        assert!(
            text.contains("\n\"9144030071526726XG\t\",'@SUM(1+1),3,2000.00,0.00,0.00,0.00\n"),
            "{text:?}"
        );
        assert_eq!(
            text.matches('\t').count(),
            2,
            "the credit codes and nothing else: {text:?}"
        );
    }
}
