//! A filtered list of the console (redemptions, enterprises, statements) as an XLSX sheet:
//! bold headers, one record a row, and when the list was cut, a last row saying so.
//!
//! Every cell says what it is: codes, ids and names are text (a spreadsheet never turns a
//! credit code or invoice number into a number), amounts are numbers with `#,##0.00`, counts
//! are numbers, days are date cells shown `yyyy-mm-dd` (a clerk sorts and filters by them).
//! Nothing here is a formula.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use rust_xlsxwriter::{Format, Workbook, XlsxError};

/// How every day in our workbooks is shown: the ledger's own `YYYY-MM-DD`.
pub const DAY_FORMAT: &str = "yyyy-mm-dd";

/// A cell of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A code, id, name or word: a text cell, as it is.
    Text(String),
    /// A day: a date cell.
    Date(NaiveDate),
    /// Yuan, exact to the fen: a number with two decimals shown.
    Amount(Decimal),
    Count(u64),
    /// Nothing known (a statement not paid yet).
    Empty,
}

/// One sheet of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListSheet {
    /// The sheet's name (at most 31 characters, no `[]:*?/\`).
    pub name: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    /// Why the list stops short of every record matching, written as its last row.
    pub cut: Option<String>,
}

/// The list as an XLSX workbook's bytes, for a download.
pub fn list_xlsx_bytes(list: &ListSheet) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("#,##0.00");
    let day = Format::new().set_num_format(DAY_FORMAT);
    let sheet = workbook.add_worksheet().set_name(&list.name)?;
    for (column, header) in (0u16..).zip(&list.headers) {
        sheet.write_string_with_format(0, column, header, &bold)?;
        sheet.set_column_width(column, 20)?;
    }
    for (row, values) in (1u32..).zip(&list.rows) {
        for (column, value) in (0u16..).zip(values) {
            match value {
                Value::Text(text) => sheet.write_string(row, column, text)?,
                Value::Date(date) => sheet.write_date_with_format(row, column, date, &day)?,
                Value::Amount(amount) => sheet.write_number_with_format(
                    row,
                    column,
                    amount.to_f64().unwrap_or(f64::NAN),
                    &money,
                )?,
                Value::Count(count) => sheet.write_number(row, column, *count as f64)?,
                Value::Empty => sheet,
            };
        }
    }
    if let Some(cut) = &list.cut {
        let row = 1 + list.rows.len() as u32;
        sheet.write_string_with_format(row, 0, cut, &bold)?;
    }
    workbook.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{Data, Reader, Xlsx};
    use std::io::Cursor;
    use std::str::FromStr;

    fn read(list: &ListSheet) -> calamine::Range<Data> {
        let bytes = list_xlsx_bytes(list).expect("written");
        let mut workbook = Xlsx::new(Cursor::new(bytes)).expect("an XLSX");
        workbook.worksheet_range(&list.name).expect("the sheet")
    }

    fn sample(cut: Option<&str>) -> ListSheet {
        ListSheet {
            name: "核销 Redemptions".into(),
            headers: vec![
                "代码 Code".into(),
                "金额 Amount".into(),
                "笔数 Count".into(),
            ],
            rows: vec![
                vec![
                    Value::Text("914403001922038216".into()),
                    Value::Amount(Decimal::from_str("1234567.89").expect("decimal")),
                    Value::Count(3),
                ],
                vec![Value::Text("=1+1".into()), Value::Empty, Value::Count(0)],
                vec![
                    Value::Date(NaiveDate::from_ymd_opt(2026, 11, 30).expect("a day")),
                    Value::Empty,
                    Value::Empty,
                ],
            ],
            cut: cut.map(str::to_owned),
        }
    }

    #[test]
    fn codes_are_text_and_amounts_numbers() {
        let sheet = read(&sample(None));
        assert_eq!(
            sheet.get_value((1, 0)),
            Some(&Data::String("914403001922038216".into()))
        );
        assert_eq!(sheet.get_value((1, 1)), Some(&Data::Float(1234567.89)));
        assert_eq!(sheet.get_value((1, 2)), Some(&Data::Float(3.0)));
        assert_eq!(sheet.get_value((2, 0)), Some(&Data::String("=1+1".into())));
        let Some(Data::DateTime(day)) = sheet.get_value((3, 0)) else {
            panic!("a date cell: {:?}", sheet.get_value((3, 0)));
        };
        assert_eq!(
            day.as_datetime().map(|moment| moment.date()),
            NaiveDate::from_ymd_opt(2026, 11, 30)
        );
        assert_eq!(sheet.height(), 4, "no row saying it was cut");
    }

    #[test]
    fn a_cut_list_says_so_in_its_last_row() {
        let sheet = read(&sample(Some("仅导出前 10,000 行")));
        assert_eq!(sheet.height(), 5);
        assert_eq!(
            sheet.get_value((4, 0)),
            Some(&Data::String("仅导出前 10,000 行".into()))
        );
    }
}
