//! A public notice (公示) as CSV or XLSX: the notice's header (program, the period its claims
//! were approved in, the days it is posted), then one line per claim: enterprise, its name,
//! provider, amount. Codes are kept as text and names against formulas, as in every report.

use std::io::Write;
use std::path::Path;

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::{csv_writer, number, spreadsheet_code, spreadsheet_text};
use crate::domain::money::Total;

/// A notice as the documents show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub notice_id: String,
    /// The program's name as the policy gives it.
    pub program: String,
    pub approved_from: String,
    pub approved_until: String,
    pub posted_from: String,
    pub posted_until: String,
    pub lines: Vec<NoticeLine>,
    pub total: Total,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeLine {
    pub redemption_id: String,
    pub enterprise_credit_code: String,
    pub enterprise_name: String,
    pub provider_credit_code: String,
    pub subsidy: Total,
}

const HEADERS: [&str; 5] = [
    "核销编号 Redemption",
    "企业信用代码 Enterprise credit code",
    "企业名称 Enterprise",
    "服务商信用代码 Provider credit code",
    "补贴金额 Subsidy",
];

impl Notice {
    fn header_rows(&self) -> [(&'static str, String); 6] {
        [
            ("公示编号 Notice", self.notice_id.clone()),
            ("项目 Program", self.program.clone()),
            (
                "审核期间 Approved",
                format!("{} – {}", self.approved_from, self.approved_until),
            ),
            (
                "公示期 Posted",
                format!("{} – {}", self.posted_from, self.posted_until),
            ),
            ("笔数 Lines", self.lines.len().to_string()),
            ("补贴合计 Total", self.total.to_string()),
        ]
    }
}

/// The notice as CSV (UTF-8 with BOM): the header block, a blank line, the lines.
pub fn write_notice_csv(notice: &Notice, out: impl Write) -> Result<(), csv::Error> {
    let mut out = out;
    out.write_all("\u{feff}".as_bytes())?;
    let mut writer = csv_writer(out);
    for (label, value) in notice.header_rows() {
        writer.write_record([label.to_owned(), spreadsheet_text(&value)])?;
    }
    writer.write_record([""])?;
    writer.write_record(HEADERS)?;
    for line in &notice.lines {
        writer.write_record([
            line.redemption_id.clone(),
            spreadsheet_code(&line.enterprise_credit_code),
            spreadsheet_text(&line.enterprise_name),
            spreadsheet_code(&line.provider_credit_code),
            line.subsidy.to_string(),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

pub fn write_notice_xlsx(notice: &Notice, path: &Path) -> Result<(), XlsxError> {
    notice_workbook(notice)?.save(path)
}

/// The notice's XLSX workbook as bytes, for a download.
pub fn notice_xlsx_bytes(notice: &Notice) -> Result<Vec<u8>, XlsxError> {
    notice_workbook(notice)?.save_to_buffer()
}

/// One sheet: the header block, then the lines; codes as text cells, amounts as numbers.
fn notice_workbook(notice: &Notice) -> Result<Workbook, XlsxError> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("#,##0.00");
    let sheet = workbook.add_worksheet().set_name("公示 Notice")?;
    let header_rows = notice.header_rows();
    for (row, (label, value)) in header_rows.iter().enumerate() {
        sheet.write_string_with_format(row as u32, 0, *label, &bold)?;
        sheet.write_string(row as u32, 1, value)?;
    }
    let first = header_rows.len() as u32 + 1;
    for (column, header) in HEADERS.iter().enumerate() {
        sheet.set_column_width(column as u16, 26)?;
        sheet.write_string_with_format(first, column as u16, *header, &bold)?;
    }
    for (index, line) in notice.lines.iter().enumerate() {
        let row = first + 1 + index as u32;
        sheet.write_string(row, 0, &line.redemption_id)?;
        sheet.write_string(row, 1, &line.enterprise_credit_code)?;
        sheet.write_string(row, 2, &line.enterprise_name)?;
        sheet.write_string(row, 3, &line.provider_credit_code)?;
        sheet.write_number_with_format(row, 4, number(line.subsidy), &money)?;
    }
    Ok(workbook)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Notice {
        Notice {
            notice_id: "N000000000001".into(),
            program: "算力券".into(),
            approved_from: "2026-11-01".into(),
            approved_until: "2026-11-30".into(),
            posted_from: "2026-12-01".into(),
            posted_until: "2026-12-07".into(),
            lines: vec![NoticeLine {
                redemption_id: "R000000000001".into(),
                enterprise_credit_code: "914403001922038216".into(),
                enterprise_name: "=启东智算".into(),
                provider_credit_code: "91320681MA1XYZ0009".into(),
                subsidy: Total::from(
                    crate::domain::money::Money::parse_yuan("1234.50")
                        .unwrap_or(crate::domain::money::Money::ZERO),
                ),
            }],
            total: Total::ZERO,
        }
    }

    #[test]
    fn the_csv_keeps_codes_as_text_and_names_away_from_formulas() {
        let mut bytes = Vec::new();
        write_notice_csv(&sample(), &mut bytes).expect("csv");
        let text = String::from_utf8(bytes).expect("utf-8");
        assert!(text.starts_with('\u{feff}'));
        assert!(text.contains("914403001922038216\t"), "{text}");
        assert!(text.contains("'=启东智算"), "{text}");
        assert!(text.contains("1234.50"), "{text}");
    }

    #[test]
    fn the_xlsx_is_a_workbook() {
        let bytes = notice_xlsx_bytes(&sample()).expect("xlsx");
        assert!(bytes.starts_with(b"PK"), "an XLSX is a zip");
    }
}
