//! The files voucherctl writes for people, the bureau's report (`report`) and a settlement
//! statement (`settlement export`): their format and file name, the writing itself, and the
//! amounts in them. The documents' layout is `voucher_ledger::report`'s.

use std::fmt::Display;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use clap::ValueEnum;
use voucher_ledger::client::decode_money;
use voucher_ledger::domain::money::Total;
use voucher_ledger::proto::google::r#type::Money as ProtoMoney;

use crate::Failure;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentFormat {
    /// UTF-8 with a byte-order mark, so Excel shows Chinese.
    Csv,
    Xlsx,
}

impl DocumentFormat {
    /// The file name's extension, for the default name.
    pub fn extension(self) -> &'static str {
        match self {
            DocumentFormat::Csv => "csv",
            DocumentFormat::Xlsx => "xlsx",
        }
    }
}

/// Writes a document to `path`: as CSV through a buffered new file, as XLSX by the workbook
/// writer. A failure names the file (exit 2).
pub fn write<CsvError: Display, XlsxError: Display>(
    format: DocumentFormat,
    path: &Path,
    write_csv: impl FnOnce(BufWriter<File>) -> Result<(), CsvError>,
    write_xlsx: impl FnOnce(&Path) -> Result<(), XlsxError>,
) -> Result<(), Failure> {
    let cannot =
        |error: &dyn Display| Failure::Usage(format!("cannot write {}: {error}", path.display()));
    match format {
        DocumentFormat::Csv => {
            let file = File::create(path).map_err(|error| cannot(&error))?;
            write_csv(BufWriter::new(file)).map_err(|error| cannot(&error))
        }
        DocumentFormat::Xlsx => write_xlsx(path).map_err(|error| cannot(&error)),
    }
}

/// An amount of a reply as a document shows it: zero when absent or not whole fen of CNY.
pub fn amount(value: &Option<ProtoMoney>) -> Total {
    value.as_ref().and_then(decode_money).unwrap_or(Total::ZERO)
}
