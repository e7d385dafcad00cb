//! The downloads: a program's report for one year and a settlement statement (付款凭证), as
//! CSV (UTF-8 with BOM) or XLSX, the same documents `voucherctl report` and `voucherctl
//! settlement export` write, built from the reader.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::i18n::Language;
use super::pages::{bad_field, day_of_year, optional_program, parse_year};
use super::{Console, PageError, Viewer};
use crate::domain::input::InputError;
use crate::domain::model::Balance;
use crate::engine::EngineError;
use crate::engine::Reader;
use crate::report;

/// Enterprises read per page while a report is built.
const BALANCES_PER_PAGE: usize = 1000;
/// Pages read at most: a million enterprises.
const BALANCE_PAGES_MAX: usize = 1000;

#[derive(Deserialize)]
pub struct ReportQuery {
    program: Option<String>,
    year: Option<String>,
    format: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Xlsx,
}

pub async fn report(
    State(console): State<Console>,
    viewer: Viewer,
    Query(query): Query<ReportQuery>,
) -> Result<Response, PageError> {
    let language = viewer.language;
    let reader = console.engine.reader().clone();
    let program = optional_program(reader.policy(), query.program.as_deref(), language)?
        .ok_or_else(|| {
            bad_field(
                "program",
                InputError::new("REQUIRED", "name the program: compute, leasing…"),
                language,
            )
        })?;
    let format = format_of(query.format.as_deref(), language)?;
    let year = parse_year(&reader, query.year.as_deref(), language)?;
    let on_date = day_of_year(&reader, year);
    // Reading every enterprise is many store reads: off the async threads.
    let built = tokio::task::spawn_blocking(move || build(&reader, program, on_date, format))
        .await
        .map_err(|_| internal(language))?;
    let (bytes, stem) = built.map_err(|error| PageError::engine(error, language))?;
    Ok(attachment(bytes, &stem, format))
}

fn build(
    reader: &Reader,
    program: crate::domain::policy::ProgramCode,
    on_date: NaiveDate,
    format: Format,
) -> Result<(Vec<u8>, String), EngineError> {
    let summary = reader.program_summary(program, Some(on_date))?;
    let rules = reader.policy().program(program)?;
    let mut balances: Vec<Balance> = Vec::new();
    let mut after = None;
    for _ in 0..BALANCE_PAGES_MAX {
        let page = reader.list_balances(program, Some(on_date), after, BALANCES_PER_PAGE)?;
        balances.extend(page.items);
        match page.next_after {
            Some(next) => {
                after = Some(
                    crate::domain::credit_code::CreditCode::parse(next.as_str())
                        .map_err(|error| EngineError::Ledger(error.in_field("page_token")))?,
                )
            }
            None => break,
        }
    }
    let document = report::from_ledger(
        &summary,
        &format!("{} {}", rules.name, rules.name_en),
        &balances,
    );
    let stem = format!("report-{program}-{}", summary.period.first.year());
    match format {
        Format::Csv => {
            let mut bytes = Vec::new();
            report::write_csv(&document, &mut bytes).map_err(|error| {
                EngineError::Store(crate::store::StoreError::Corrupt(error.to_string()))
            })?;
            Ok((bytes, stem))
        }
        Format::Xlsx => {
            let bytes = report::xlsx_bytes(&document).map_err(|error| {
                EngineError::Store(crate::store::StoreError::Corrupt(error.to_string()))
            })?;
            Ok((bytes, stem))
        }
    }
}

fn internal(language: Language) -> PageError {
    PageError::Ledger {
        status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        message: "internal error".to_owned(),
        language,
    }
}

#[derive(Deserialize)]
pub struct StatementQuery {
    id: Option<String>,
    format: Option<String>,
}

/// A settlement statement as the payment voucher (付款凭证), CSV or XLSX.
pub async fn statement(
    State(console): State<Console>,
    viewer: Viewer,
    Query(query): Query<StatementQuery>,
) -> Result<Response, PageError> {
    let language = viewer.language;
    let reader = console.engine.reader();
    let id = crate::domain::ids::SettlementId::parse(query.id.as_deref().unwrap_or_default())
        .map_err(|error| bad_field("id", error, language))?;
    let format = format_of(query.format.as_deref(), language)?;
    let engine_error = |error: EngineError| PageError::engine(error, language);
    let (settlement, lines, provider_name) = reader
        .settlement(&id, crate::domain::model::Actor::Bureau)
        .map_err(engine_error)?;
    let rules = reader
        .policy()
        .program(settlement.program)
        .map_err(|error| engine_error(error.into()))?;
    let document = report::statement_from_ledger(
        &settlement,
        &lines,
        &provider_name,
        &format!("{} {}", rules.name, rules.name_en),
    );
    let bytes = match format {
        Format::Csv => {
            let mut bytes = Vec::new();
            report::write_statement_csv(&document, &mut bytes).map_err(|_| internal(language))?;
            bytes
        }
        Format::Xlsx => report::statement_xlsx_bytes(&document).map_err(|_| internal(language))?,
    };
    Ok(attachment(bytes, &format!("{id}"), format))
}

fn format_of(text: Option<&str>, language: Language) -> Result<Format, PageError> {
    match text {
        Some("csv") => Ok(Format::Csv),
        Some("xlsx") | None => Ok(Format::Xlsx),
        Some(other) => Err(bad_field(
            "format",
            InputError::new("UNKNOWN_FORMAT", format!("{other:?} is not csv or xlsx")),
            language,
        )),
    }
}

/// A file download: its bytes, its name and its type.
fn attachment(bytes: Vec<u8>, stem: &str, format: Format) -> Response {
    let (content_type, extension) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    };
    let disposition = format!("attachment; filename=\"{stem}.{extension}\"");
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}
