//! A settlement statement as the payment voucher's document (付款凭证), CSV or XLSX: a header
//! block (statement, provider, program, the amounts, and the payment once recorded: the day
//! the money moved and the bank's reference), the lines (each enterprise's name beside its
//! code), then the clawbacks.
//!
//! In XLSX the counts and amounts are numbers, the amounts with the format `#,##0.00`, so
//! finance sums and checks them as they are; days are date cells shown `yyyy-mm-dd`; codes,
//! ids and references are text. In CSV the
//! cells follow the module's rules: codes with a trailing tab, free text against formulas.

use std::io::Write;
use std::path::Path;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::lists::DAY_FORMAT;
use super::{csv_writer, number, spreadsheet_code, spreadsheet_text};
use crate::domain::model::{Redemption, Settlement};
use crate::domain::money::Total;

/// A statement as the payment voucher shows it, from the ledger's records directly: each
/// line with its enterprise's name.
pub fn statement_from_ledger(
    settlement: &Settlement,
    lines: &[(Redemption, String)],
    provider_name: &str,
    program_name: &str,
) -> Statement {
    Statement {
        settlement_id: settlement.settlement_id.to_string(),
        provider_credit_code: settlement.provider_credit_code.to_string(),
        provider_name: provider_name.to_owned(),
        program: program_name.to_owned(),
        up_to_date: settlement.up_to.to_string(),
        lines: lines
            .iter()
            .map(|(line, enterprise_name)| StatementLine {
                redemption_id: line.redemption_id.to_string(),
                enterprise_credit_code: line.enterprise_credit_code.to_string(),
                enterprise_name: enterprise_name.clone(),
                invoice_number: line.invoice.number.to_string(),
                invoice_date: line.invoice.date.to_string(),
                invoice_amount: line.invoice.amount.into(),
                subsidy: line.subsidy.into(),
            })
            .collect(),
        clawbacks: settlement
            .clawbacks
            .iter()
            .map(|clawback| (clawback.redemption_id.to_string(), clawback.amount.into()))
            .collect(),
        gross: settlement.gross,
        clawed_back: settlement.clawed_back,
        payment: settlement.payment.as_ref().map(|payment| StatementPayment {
            paid_on: payment.paid_on.to_string(),
            bank_reference: payment.bank_reference.to_string(),
        }),
    }
}

/// A settlement statement, for the payment voucher (付款凭证).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub settlement_id: String,
    pub provider_credit_code: String,
    pub provider_name: String,
    pub program: String,
    pub up_to_date: String,
    pub lines: Vec<StatementLine>,
    /// (redemption id, amount) of each clawback netted.
    pub clawbacks: Vec<(String, Total)>,
    pub gross: Total,
    pub clawed_back: Total,
    /// The payment once recorded; `None` while the statement waits.
    pub payment: Option<StatementPayment>,
}

/// The day the money moved and the bank's or treasury's reference for the transfer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementPayment {
    pub paid_on: String,
    pub bank_reference: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementLine {
    pub redemption_id: String,
    pub enterprise_credit_code: String,
    /// Empty when the source does not give it (gRPC's statement lines carry codes only).
    pub enterprise_name: String,
    pub invoice_number: String,
    pub invoice_date: String,
    pub invoice_amount: Total,
    pub subsidy: Total,
}

/// A value of the header block, and so how each format writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Field {
    /// Written by this program (an id, a word): as it is.
    Plain(String),
    /// A day, `YYYY-MM-DD`: as it is in CSV, a date cell in XLSX.
    Day(String),
    /// Free text from outside: against formulas in CSV.
    Text(String),
    /// A credit code: kept text in CSV.
    Code(String),
    /// A bank reference: free text that may also be all digits, so both.
    Reference(String),
    Count(usize),
    Amount(Decimal),
}

impl Field {
    fn csv(&self) -> String {
        match self {
            Field::Plain(value) | Field::Day(value) => value.clone(),
            Field::Text(value) => spreadsheet_text(value),
            Field::Code(value) => spreadsheet_code(value),
            Field::Reference(value) => spreadsheet_code(&spreadsheet_text(value)),
            Field::Count(count) => count.to_string(),
            // A negative amount begins with `-` and is a number to a spreadsheet, not a formula.
            Field::Amount(amount) => amount.to_string(),
        }
    }
}

impl Statement {
    /// What the bureau pays; negative when the provider owes the bureau.
    pub fn net(&self) -> Decimal {
        self.gross.as_decimal() - self.clawed_back.as_decimal()
    }

    /// The header block: label and value. The payment's two rows are always there (empty
    /// while unpaid), so the lines start on the same row of every statement.
    fn header_rows(&self) -> Vec<(&'static str, Field)> {
        let (paid_on, reference) = match &self.payment {
            Some(payment) => (
                Field::Day(payment.paid_on.clone()),
                Field::Reference(payment.bank_reference.clone()),
            ),
            None => (
                Field::Plain("待拨付 Not paid yet".to_owned()),
                Field::Plain(String::new()),
            ),
        };
        vec![
            (
                "结算单号 Statement",
                Field::Plain(self.settlement_id.clone()),
            ),
            (
                "服务商信用代码 Provider credit code",
                Field::Code(self.provider_credit_code.clone()),
            ),
            (
                "服务商名称 Provider",
                Field::Text(self.provider_name.clone()),
            ),
            ("项目 Program", Field::Text(self.program.clone())),
            (
                "发票截止日期 Invoices up to",
                Field::Day(self.up_to_date.clone()),
            ),
            ("笔数 Lines", Field::Count(self.lines.len())),
            ("核销金额 Gross", Field::Amount(self.gross.as_decimal())),
            (
                "追回金额 Clawed back",
                Field::Amount(self.clawed_back.as_decimal()),
            ),
            ("应付净额 Net payable", Field::Amount(self.net())),
            ("拨付日期 Paid on", paid_on),
            ("银行凭证号 Bank reference", reference),
        ]
    }
}

const LINE_HEADERS: [&str; 7] = [
    "核销编号 Redemption",
    "企业信用代码 Enterprise credit code",
    "企业名称 Enterprise",
    "发票号码 Invoice number",
    "发票日期 Invoice date",
    "发票金额 Invoice amount",
    "补贴金额 Subsidy",
];

/// The column of the lines' subsidies, where the clawbacks' amounts go too.
const SUBSIDY_COLUMN: u16 = 6;

/// The statement as CSV (UTF-8 with BOM): the header block, the lines, then the clawbacks.
pub fn write_statement_csv(statement: &Statement, out: impl Write) -> Result<(), csv::Error> {
    let mut out = out;
    out.write_all("\u{feff}".as_bytes())?;
    let mut writer = csv_writer(out);
    for (label, value) in statement.header_rows() {
        writer.write_record([label.to_owned(), value.csv()])?;
    }
    writer.write_record([""])?;
    writer.write_record(LINE_HEADERS)?;
    for line in &statement.lines {
        writer.write_record([
            line.redemption_id.clone(),
            spreadsheet_code(&line.enterprise_credit_code),
            spreadsheet_text(&line.enterprise_name),
            spreadsheet_code(&line.invoice_number),
            line.invoice_date.clone(),
            line.invoice_amount.to_string(),
            line.subsidy.to_string(),
        ])?;
    }
    if !statement.clawbacks.is_empty() {
        writer.write_record([""])?;
        writer.write_record(["追回 Clawback of", "金额 Amount"])?;
        for (redemption_id, amount) in &statement.clawbacks {
            writer.write_record([redemption_id.clone(), amount.to_string()])?;
        }
    }
    writer.flush()?;
    Ok(())
}

/// The statement as XLSX: one sheet with the header block, the lines and the clawbacks.
pub fn write_statement_xlsx(statement: &Statement, path: &Path) -> Result<(), XlsxError> {
    statement_workbook(statement)?.save(path)
}

/// The statement's XLSX workbook as bytes, for a download.
pub fn statement_xlsx_bytes(statement: &Statement) -> Result<Vec<u8>, XlsxError> {
    statement_workbook(statement)?.save_to_buffer()
}

fn statement_workbook(statement: &Statement) -> Result<Workbook, XlsxError> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("#,##0.00");
    let day = Format::new().set_num_format(DAY_FORMAT);
    let sheet = workbook.add_worksheet().set_name("结算单 Statement")?;
    let header_rows = statement.header_rows();
    for (row, (label, value)) in (0u32..).zip(&header_rows) {
        sheet.write_string_with_format(row, 0, *label, &bold)?;
        match value {
            Field::Count(count) => sheet.write_number(row, 1, *count as f64)?,
            Field::Amount(amount) => sheet.write_number_with_format(
                row,
                1,
                amount.to_f64().unwrap_or(f64::NAN),
                &money,
            )?,
            Field::Day(text) => write_day(sheet, (row, 1), text, &day)?,
            Field::Plain(text) | Field::Text(text) | Field::Code(text) | Field::Reference(text) => {
                sheet.write_string(row, 1, text)?
            }
        };
    }
    let first = header_rows.len() as u32 + 1;
    for (column, header) in (0u16..).zip(LINE_HEADERS) {
        sheet.set_column_width(column, 24)?;
        sheet.write_string_with_format(first, column, header, &bold)?;
    }
    for (row, line) in (first + 1..).zip(&statement.lines) {
        sheet.write_string(row, 0, &line.redemption_id)?;
        sheet.write_string(row, 1, &line.enterprise_credit_code)?;
        sheet.write_string(row, 2, &line.enterprise_name)?;
        sheet.write_string(row, 3, &line.invoice_number)?;
        write_day(sheet, (row, 4), &line.invoice_date, &day)?;
        sheet.write_number_with_format(row, 5, number(line.invoice_amount), &money)?;
        sheet.write_number_with_format(row, SUBSIDY_COLUMN, number(line.subsidy), &money)?;
    }
    let clawback_rows = (first + 2 + statement.lines.len() as u32..).zip(&statement.clawbacks);
    for (row, (redemption_id, amount)) in clawback_rows {
        sheet.write_string(row, 0, format!("追回 Clawback of {redemption_id}"))?;
        sheet.write_number_with_format(row, SUBSIDY_COLUMN, -number(*amount), &money)?;
    }
    Ok(workbook)
}

/// A day as a date cell; text as it is should it not be `YYYY-MM-DD` (a statement read from
/// gRPC carries its days as text).
fn write_day<'a>(
    sheet: &'a mut rust_xlsxwriter::Worksheet,
    (row, column): (u32, u16),
    text: &str,
    day: &Format,
) -> Result<&'a mut rust_xlsxwriter::Worksheet, XlsxError> {
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(date) => sheet.write_date_with_format(row, column, date, day),
        Err(_) => sheet.write_string(row, column, text),
    }
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

    fn statement() -> Statement {
        Statement {
            settlement_id: "S000000000002".into(),
            provider_credit_code: "914403001922038216".into(),
            provider_name: "=1+1".into(),
            program: "算力券".into(),
            up_to_date: "2027-06-30".into(),
            lines: vec![StatementLine {
                redemption_id: "R000000000007".into(),
                enterprise_credit_code: "91320681000000001X".into(),
                enterprise_name: "@启东".into(),
                invoice_number: "26320000000000000001".into(),
                invoice_date: "2027-06-01".into(),
                invoice_amount: yuan("100.02"),
                subsidy: yuan("50.01"),
            }],
            clawbacks: vec![("R000000000001".into(), yuan("500"))],
            gross: yuan("50.01"),
            clawed_back: yuan("500"),
            payment: Some(StatementPayment {
                paid_on: "2027-07-02".into(),
                bank_reference: "320000202707020001".into(),
            }),
        }
    }

    fn rows_of(text: &str) -> Vec<Vec<String>> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        reader
            .records()
            .map(|record| {
                record
                    .expect("a record")
                    .iter()
                    .map(str::to_owned)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_statement_marks_its_codes_neutralises_its_text_and_leaves_its_amounts() {
        let mut bytes = Vec::new();
        write_statement_csv(&statement(), &mut bytes).expect("csv");
        let text = String::from_utf8(bytes).expect("utf-8");
        let rows = rows_of(&text);
        let value = |label: &str| -> String {
            rows.iter()
                .find(|row| row[0] == label)
                .map(|row| row[1].clone())
                .unwrap_or_else(|| panic!("no {label} in {text:?}"))
        };
        assert_eq!(value("结算单号 Statement"), "S000000000002");
        assert_eq!(
            value("服务商信用代码 Provider credit code"),
            "914403001922038216\t"
        );
        assert_eq!(value("服务商名称 Provider"), "'=1+1");
        assert_eq!(
            value("应付净额 Net payable"),
            "-449.99",
            "a negative amount is a number, not a formula"
        );
        assert_eq!(value("拨付日期 Paid on"), "2027-07-02");
        assert_eq!(
            value("银行凭证号 Bank reference"),
            "320000202707020001\t",
            "an all-digit reference stays text"
        );
        let line = rows
            .iter()
            .find(|row| row[0] == "R000000000007")
            .expect("the line");
        assert_eq!(
            line[1..],
            [
                "91320681000000001X\t",
                "'@启东",
                "26320000000000000001\t",
                "2027-06-01",
                "100.02",
                "50.01"
            ]
        );
        assert!(
            text.contains("\"26320000000000000001\t\""),
            "inside quotes: {text:?}"
        );
        assert_eq!(value("R000000000001"), "500.00", "the clawback");
        for row in &rows {
            for cell in row {
                assert!(
                    !cell.trim_end_matches('\t').contains('\t'),
                    "a tab only at the end of a code: {cell:?}"
                );
            }
        }
    }

    #[test]
    fn an_unpaid_statement_says_so_where_the_payment_goes() {
        let mut unpaid = statement();
        unpaid.payment = None;
        let mut bytes = Vec::new();
        write_statement_csv(&unpaid, &mut bytes).expect("csv");
        let rows = rows_of(&String::from_utf8(bytes).expect("utf-8"));
        assert_eq!(rows[9], ["拨付日期 Paid on", "待拨付 Not paid yet"]);
        assert_eq!(rows[10], ["银行凭证号 Bank reference", ""]);
        assert_eq!(
            rows[12][0], "核销编号 Redemption",
            "the lines start where they always do"
        );
    }

    #[test]
    fn a_formula_as_bank_reference_is_text() {
        let mut paid = statement();
        if let Some(payment) = paid.payment.as_mut() {
            payment.bank_reference = "=cmd|' /C calc'!A0".into();
        }
        let mut bytes = Vec::new();
        write_statement_csv(&paid, &mut bytes).expect("csv");
        let rows = rows_of(&String::from_utf8(bytes).expect("utf-8"));
        assert_eq!(rows[10][1], "'=cmd|' /C calc'!A0\t");
    }
}
