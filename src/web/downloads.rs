//! The downloads: a program's report for one year, a settlement statement (付款凭证) and a
//! public notice (公示), as CSV (UTF-8 with BOM) or XLSX, the same documents `voucherctl report`
//! and `voucherctl settlement export` write, built from the reader; and the filtered lists
//! as XLSX (`lists`).

mod lists;

pub use lists::{enterprises, redemptions, settlements};

use crate::domain::reason::ReasonCode;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::i18n::Language;
use super::pages::names::Names;
use super::pages::query::{bad_field, day_of_year, optional_program, parse_year};
use super::{Console, PageError, Viewer};
use crate::domain::input::InputError;
use crate::engine::EngineError;
use crate::engine::Reader;
use crate::report;

/// Enterprises a report holds at most.
const REPORT_ENTERPRISES_MAX: usize = 1_000_000;

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
                InputError::new(ReasonCode::Required, "name the program: compute, leasing…"),
                language,
            )
        })?;
    let format = format_of(query.format.as_deref(), language)?;
    let year = parse_year(&reader, query.year.as_deref(), language)?;
    let on_date = day_of_year(&reader, year);
    // Reading every enterprise is many store reads: off the async threads.
    let built = tokio::task::spawn_blocking(move || build(&reader, program, on_date))
        .await
        .map_err(|_| internal(language))?;
    let (document, stem) = built.map_err(|error| PageError::engine(error, language))?;
    let bytes = encode_report(&document, format).ok_or_else(|| internal(language))?;
    Ok(attachment(bytes, &stem, format))
}

/// The report of `program` in the cap period holding `on_date`, and its file name's stem.
fn build(
    reader: &Reader,
    program: crate::domain::policy::ProgramCode,
    on_date: NaiveDate,
) -> Result<(report::Report, String), EngineError> {
    let summary = reader.program_summary(program, Some(on_date))?;
    let rules = reader.policy().program(program)?;
    let (balances, _) = reader.balances_up_to(program, Some(on_date), REPORT_ENTERPRISES_MAX)?;
    let document = report::from_ledger(
        &summary,
        &format!("{} {}", rules.name, rules.name_en),
        &balances,
    );
    Ok((
        document,
        format!("report-{program}-{}", summary.period.first.year()),
    ))
}

/// The document as the file the reader asked for.
fn encode_report(document: &report::Report, format: Format) -> Option<Vec<u8>> {
    match format {
        Format::Csv => {
            let mut bytes = Vec::new();
            report::write_csv(document, &mut bytes).ok()?;
            Some(bytes)
        }
        Format::Xlsx => report::xlsx_bytes(document).ok(),
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
    let lines = Names::with_enterprise_names(reader, lines).map_err(engine_error)?;
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
    let bytes = encode_statement(&document, format).ok_or_else(|| internal(language))?;
    Ok(attachment(bytes, &format!("{id}"), format))
}

/// The link exporting a filtered list as XLSX, set beside the list's filters: `href` is the
/// export's address with the page's own query.
pub(super) fn export_link(language: Language, href: &str) -> maud::Markup {
    maud::html! {
        a class="button secondary export" href=(href) { (language.pick("导出 XLSX", "Export XLSX")) }
    }
}

/// The links exporting the statements as XLSX: all of them, or one program's.
pub(super) fn statement_export_links(
    language: Language,
    policy: &crate::domain::policy::Policy,
) -> maud::Markup {
    maud::html! {
        p class="downloads exports" {
            (export_link(language, "/downloads/settlements"))
            @for rules in policy.programs() {
                " "
                a href={"/downloads/settlements?program=" (rules.code)} {
                    (crate::web::layout::program_name(language, rules))
                }
            }
        }
    }
}

fn encode_statement(document: &report::Statement, format: Format) -> Option<Vec<u8>> {
    match format {
        Format::Csv => {
            let mut bytes = Vec::new();
            report::write_statement_csv(document, &mut bytes).ok()?;
            Some(bytes)
        }
        Format::Xlsx => report::statement_xlsx_bytes(document).ok(),
    }
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    id: Option<String>,
    format: Option<String>,
}

/// A public notice with its lines, CSV or XLSX: codes kept as text, names kept from formulas.
pub async fn notice(
    State(console): State<Console>,
    viewer: Viewer,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let language = viewer.language;
    let reader = console.engine.reader();
    let id = crate::domain::ids::NoticeId::parse(query.id.as_deref().unwrap_or_default())
        .map_err(|error| bad_field("id", error, language))?;
    let format = format_of(query.format.as_deref(), language)?;
    let engine_error = |error: EngineError| PageError::engine(error, language);
    let notice = reader.notice(&id).map_err(engine_error)?;
    let lines = reader.notice_lines(&notice).map_err(engine_error)?;
    let rules = reader
        .policy()
        .program(notice.program)
        .map_err(|error| engine_error(error.into()))?;
    let document = notice_document(
        &notice,
        &lines,
        &format!("{} {}", rules.name, rules.name_en),
    );
    let bytes = encode_notice(&document, format).ok_or_else(|| internal(language))?;
    Ok(attachment(bytes, &format!("{id}"), format))
}

/// The notice as the documents show it.
fn notice_document(
    notice: &crate::domain::model::PublicNotice,
    lines: &[(crate::domain::model::Redemption, String)],
    program: &str,
) -> report::Notice {
    report::Notice {
        notice_id: notice.notice_id.to_string(),
        program: program.to_owned(),
        approved_from: notice.approved_in.first.to_string(),
        approved_until: notice.approved_in.last.to_string(),
        posted_from: notice.posted.first.to_string(),
        posted_until: notice.posted.last.to_string(),
        lines: lines
            .iter()
            .map(|(claim, name)| report::NoticeLine {
                redemption_id: claim.redemption_id.to_string(),
                enterprise_credit_code: claim.enterprise_credit_code.to_string(),
                enterprise_name: name.clone(),
                provider_credit_code: claim.provider_credit_code.to_string(),
                subsidy: claim.subsidy.into(),
            })
            .collect(),
        total: notice.total,
    }
}

fn encode_notice(document: &report::Notice, format: Format) -> Option<Vec<u8>> {
    match format {
        Format::Csv => {
            let mut bytes = Vec::new();
            report::write_notice_csv(document, &mut bytes).ok()?;
            Some(bytes)
        }
        Format::Xlsx => report::notice_xlsx_bytes(document).ok(),
    }
}

fn format_of(text: Option<&str>, language: Language) -> Result<Format, PageError> {
    match text {
        Some("csv") => Ok(Format::Csv),
        Some("xlsx") | None => Ok(Format::Xlsx),
        Some(other) => Err(bad_field(
            "format",
            InputError::new(
                ReasonCode::UnknownFormat,
                format!("{other:?} is not csv or xlsx"),
            ),
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

/// A document that could not be written: nothing the reader did, so a plain 500.
fn internal(language: Language) -> PageError {
    PageError::Ledger {
        status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        message: language
            .pick(
                "报表生成失败，请稍后再试。",
                "The document could not be written: try again shortly.",
            )
            .to_owned(),
        technical: Some("INTERNAL: internal error".to_owned()),
        language,
    }
}
