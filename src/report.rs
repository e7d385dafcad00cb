//! The bureau's report of one program in one cap period, as CSV or XLSX for Excel.
//!
//! Headers are Chinese with English beside them. CSV is UTF-8 with a byte-order mark, which is
//! what makes Excel show Chinese; it holds the summary, the enterprises, then the providers,
//! separated by blank lines. XLSX has one sheet each. Amounts are written from their exact
//! decimal text: CSV cells are that text, XLSX cells are numbers (what a spreadsheet sums)
//! with the two-decimal format `#,##0.00`.

use std::io::Write;
use std::path::Path;

use rust_decimal::prelude::ToPrimitive;
use rust_xlsxwriter::{Format, Workbook, XlsxError};

use crate::domain::money::Total;

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

const PROVIDER_HEADERS: [&str; 5] = [
    "服务商信用代码 Provider credit code",
    "服务商名称 Provider",
    "核销笔数 Redemptions",
    "核销金额 Redeemed",
    "红冲金额 Reversed",
];

const SUMMARY_HEADERS: [&str; 6] = [
    "项目 Program",
    "期间起 Period start",
    "期间止 Period end",
    "已承诺 Committed",
    "已核销 Redeemed",
    "已红冲 Reversed",
];

impl Report {
    fn summary_row(&self) -> [String; 6] {
        [
            self.program.clone(),
            self.period_start.clone(),
            self.period_end.clone(),
            self.committed.to_string(),
            self.redeemed.to_string(),
            self.reversed.to_string(),
        ]
    }
}

fn enterprise_row(line: &EnterpriseLine) -> [String; 8] {
    [
        line.credit_code.clone(),
        line.name.clone(),
        line.cap.to_string(),
        line.committed.to_string(),
        line.redeemed.to_string(),
        line.remaining().to_string(),
        line.outstanding().to_string(),
        line.available().to_string(),
    ]
}

fn provider_row(line: &ProviderLine) -> [String; 5] {
    [
        line.credit_code.clone(),
        line.name.clone(),
        line.redemptions.to_string(),
        line.redeemed.to_string(),
        line.reversed.to_string(),
    ]
}

/// Writes the report as CSV (UTF-8 with BOM).
pub fn write_csv(report: &Report, out: impl Write) -> Result<(), csv::Error> {
    let mut out = out;
    out.write_all("\u{feff}".as_bytes())?;
    let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(out);
    writer.write_record(SUMMARY_HEADERS)?;
    writer.write_record(report.summary_row())?;
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
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("#,##0.00");
    let summary = workbook.add_worksheet().set_name("汇总 Summary")?;
    write_headers(summary, &SUMMARY_HEADERS, &bold)?;
    for (column, value) in report.summary_row().iter().enumerate().take(3) {
        summary.write_string(1, column as u16, value)?;
    }
    for (column, amount) in [report.committed, report.redeemed, report.reversed]
        .into_iter()
        .enumerate()
    {
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
    }
    workbook.save(path)
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
}
