//! The console's filtered lists as XLSX: `/downloads/redemptions`, `/downloads/enterprises` and
//! `/downloads/settlements` take the very query of their page (`/redemptions`, `/enterprises`,
//! the statements of a provider or program) and parse it with the page's own parsing, so an
//! export holds exactly the rows the filter shows, every page of them, not only the first.
//!
//! Bounded twice: at most [`EXPORT_ROWS_MAX`] rows, and at most [`EXPORT_READS_MAX`] bounded
//! reads of the ledger (a narrow filter over many records scans without finding). A list cut
//! by either says so in its last row, so no clerk takes part of a list for the whole.

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::Datelike;
use serde::Deserialize;

use super::{Format, attachment, internal};
use crate::domain::credit_code::CreditCode;
use crate::domain::ids::{RedemptionId, SettlementId};
use crate::domain::model::{Actor, Enterprise, Redemption, Settlement};
use crate::domain::policy::{Policy, ProgramCode};
use crate::engine::{EngineError, Reader, RedemptionFilter, SettlementFilter};
use crate::report::lists::{ListSheet, Value, list_xlsx_bytes};
use crate::web::i18n::Language;
use crate::web::layout::StatusWord;
use crate::web::pages::enterprises::{Asked, EnterprisesQuery, NEAR_CAP_SCAN_MAX, balances_of};
use crate::web::pages::names::Names;
use crate::web::pages::query::{day_of_year, optional, optional_program};
use crate::web::pages::{RedemptionsQuery, redemption_filter_of};
use crate::web::{Console, PageError, Viewer};

/// Rows an exported list holds at most.
pub const EXPORT_ROWS_MAX: usize = 10_000;
/// Bounded reads of the ledger one export makes at most (each scans at most the reader's
/// page bound).
pub const EXPORT_READS_MAX: usize = 100;
/// Rows asked for in one read.
const READ_ROWS: usize = 1_000;

/// Why an exported list stops short of every record matching.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cut {
    /// More rows match than an export holds.
    Rows,
    /// The reads ran out before the records did.
    Reads,
}

impl Cut {
    /// The sheet's last row: in both languages, like the headers.
    fn note(self) -> String {
        match self {
            Cut::Rows => "仅导出前 10,000 行：符合条件的记录更多，请缩小筛选范围后分批导出。 \
                          Only the first 10,000 rows: more records match; narrow the filter and export the rest."
                .to_owned(),
            Cut::Reads => "仅导出已查到的行：记录太多，未能查完，请缩小筛选范围（如加上企业或服务商代码）后再导出。 \
                           Only the rows found so far: too many records to search; narrow the filter (an enterprise or provider code) and export again."
                .to_owned(),
        }
    }
}

/// One read of a list: the items, and where the next page starts.
type Read<T> = Result<(Vec<T>, Option<String>), EngineError>;

/// What a bounded export found, and whether it was cut.
struct Collected<T> {
    items: Vec<T>,
    cut: Option<Cut>,
}

/// Reads page after page with `read(after, rows)` (the items, and where the next page starts)
/// until the records end, `rows_max` rows are found (one more is asked for, to know whether
/// there are more) or `reads_max` reads are made.
fn collect_bounded<T>(
    rows_max: usize,
    reads_max: usize,
    mut read: impl FnMut(Option<&str>, usize) -> Read<T>,
) -> Result<Collected<T>, EngineError> {
    let mut items: Vec<T> = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..reads_max {
        let wanted = (rows_max + 1 - items.len()).min(READ_ROWS);
        let (found, next) = read(after.as_deref(), wanted)?;
        items.extend(found);
        if items.len() > rows_max {
            items.truncate(rows_max);
            return Ok(Collected {
                items,
                cut: Some(Cut::Rows),
            });
        }
        match next {
            None => return Ok(Collected { items, cut: None }),
            Some(next) => after = Some(next),
        }
    }
    Ok(Collected {
        items,
        cut: Some(Cut::Reads),
    })
}

/// A page cursor the reader gave back, parsed as the id it is.
fn cursor<T>(
    after: Option<&str>,
    parse: impl Fn(&str) -> Result<T, crate::domain::input::InputError>,
) -> Result<Option<T>, EngineError> {
    after
        .map(|text| parse(text).map_err(|error| EngineError::Ledger(error.in_field("after"))))
        .transpose()
}

/// The sheet as a download named `stem.xlsx`.
fn sheet_download(
    built: Result<Result<ListSheet, EngineError>, tokio::task::JoinError>,
    stem: &str,
    language: Language,
) -> Result<Response, PageError> {
    let sheet = built
        .map_err(|_| internal(language))?
        .map_err(|error| PageError::engine(error, language))?;
    let bytes = list_xlsx_bytes(&sheet).map_err(|_| internal(language))?;
    Ok(attachment(bytes, stem, Format::Xlsx))
}

/// A program's name in both languages, as the documents write it.
fn program_words(policy: &Policy, program: ProgramCode) -> String {
    policy
        .program(program)
        .map(|rules| format!("{} {}", rules.name, rules.name_en))
        .unwrap_or_else(|_| program.to_string())
}

/// `/downloads/redemptions?<the query of /redemptions>`: every claim the filter shows.
pub async fn redemptions(
    State(console): State<Console>,
    viewer: Viewer,
    Query(query): Query<RedemptionsQuery>,
) -> Result<Response, PageError> {
    let language = viewer.language;
    let reader = console.engine.reader().clone();
    let filter = redemption_filter_of(&query, reader.policy(), language)?;
    // Up to 10,000 claims and their names: many store reads, off the async threads.
    let built =
        tokio::task::spawn_blocking(move || redemption_sheet(&reader, filter, language)).await;
    sheet_download(built, "redemptions", language)
}

const REDEMPTION_HEADERS: [&str; 12] = [
    "核销编号 Redemption",
    "项目 Program",
    "企业信用代码 Enterprise credit code",
    "企业名称 Enterprise",
    "服务商信用代码 Provider credit code",
    "服务商名称 Provider",
    "发票号码 Invoice number",
    "发票日期 Invoice date",
    "发票金额 Invoice amount",
    "补贴金额 Subsidy",
    "状态 Status",
    "结算单号 Statement",
];

fn redemption_sheet(
    reader: &Reader,
    filter: RedemptionFilter,
    language: Language,
) -> Result<ListSheet, EngineError> {
    let collected = collect_bounded(EXPORT_ROWS_MAX, EXPORT_READS_MAX, |after, rows| {
        let after = cursor(after, RedemptionId::parse)?;
        let page = reader.list_redemptions(filter, Actor::Bureau, after, rows)?;
        Ok((page.items, page.next_after))
    })?;
    let names = Names::of_claims(reader, &collected.items)?;
    let rows = collected
        .items
        .iter()
        .map(|claim| redemption_row(reader.policy(), &names, claim, language))
        .collect();
    Ok(ListSheet {
        name: "核销 Redemptions".to_owned(),
        headers: REDEMPTION_HEADERS.map(str::to_owned).to_vec(),
        rows,
        cut: collected.cut.map(Cut::note),
    })
}

fn redemption_row(
    policy: &Policy,
    names: &Names,
    claim: &Redemption,
    language: Language,
) -> Vec<Value> {
    let text = |value: String| Value::Text(value);
    vec![
        text(claim.redemption_id.to_string()),
        text(program_words(policy, claim.program)),
        text(claim.enterprise_credit_code.to_string()),
        text(names.enterprise(&claim.enterprise_credit_code).to_owned()),
        text(claim.provider_credit_code.to_string()),
        text(names.provider(&claim.provider_credit_code).to_owned()),
        text(claim.invoice.number.to_string()),
        Value::Date(claim.invoice.date),
        Value::Amount(claim.invoice.amount.as_decimal()),
        Value::Amount(claim.subsidy.as_decimal()),
        text(claim.status.word(language).to_owned()),
        claim
            .settlement_id
            .map_or(Value::Empty, |id| text(id.to_string())),
    ]
}

/// `/downloads/enterprises?<the query of /enterprises>`: the search's enterprises, or those
/// nearest a program's cap (most redeemed first), each with its balance under every program
/// in this year's cap period, as the page shows them.
pub async fn enterprises(
    State(console): State<Console>,
    viewer: Viewer,
    Query(query): Query<EnterprisesQuery>,
) -> Result<Response, PageError> {
    let language = viewer.language;
    let reader = console.engine.reader().clone();
    let asked = Asked::parse(&query, reader.policy(), language)?;
    let (search, near) = (asked.search.to_owned(), asked.near);
    let built = tokio::task::spawn_blocking(move || enterprise_sheet(&reader, &search, near)).await;
    sheet_download(built, "enterprises", language)
}

fn enterprise_sheet(
    reader: &Reader,
    search: &str,
    near: Option<ProgramCode>,
) -> Result<ListSheet, EngineError> {
    let on_date = day_of_year(reader, reader.today().year());
    let collected = match near {
        Some(program) => nearest_caps(reader, program, on_date)?,
        None => collect_bounded(EXPORT_ROWS_MAX, EXPORT_READS_MAX, |after, rows| {
            let after = cursor(after, CreditCode::parse)?;
            let page = reader.list_enterprises(search, after, rows)?;
            Ok((page.items, page.next_after))
        })?,
    };
    let mut headers = vec![
        "统一社会信用代码 Credit code".to_owned(),
        "企业名称 Enterprise".to_owned(),
        "登记时间 Registered".to_owned(),
    ];
    for rules in reader.policy().programs() {
        for (chinese, english) in [
            ("额度", "cap"),
            ("已承诺", "committed"),
            ("已核销", "redeemed"),
        ] {
            headers.push(format!(
                "{}{chinese} {} {english}",
                rules.name, rules.name_en
            ));
        }
    }
    let mut rows = Vec::with_capacity(collected.items.len());
    for enterprise in &collected.items {
        let mut row = vec![
            Value::Text(enterprise.credit_code.to_string()),
            Value::Text(enterprise.name.to_string()),
            Value::Text(
                enterprise
                    .registered_at
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
            ),
        ];
        for balance in balances_of(reader, &enterprise.credit_code, on_date)? {
            row.push(Value::Amount(balance.cap.as_decimal()));
            row.push(Value::Amount(balance.committed.as_decimal()));
            row.push(Value::Amount(balance.redeemed.as_decimal()));
        }
        rows.push(row);
    }
    Ok(ListSheet {
        name: "企业 Enterprises".to_owned(),
        headers,
        rows,
        cut: collected.cut.map(Cut::note),
    })
}

/// The enterprises of `program`'s cap period holding `on_date`, most redeemed first (the
/// page's ranking), among the first cap accounts the page ranks too.
fn nearest_caps(
    reader: &Reader,
    program: ProgramCode,
    on_date: chrono::NaiveDate,
) -> Result<Collected<Enterprise>, EngineError> {
    let (mut balances, truncated) =
        reader.balances_up_to(program, Some(on_date), NEAR_CAP_SCAN_MAX)?;
    balances.sort_by(|a, b| {
        b.redeemed
            .cmp(&a.redeemed)
            .then(a.enterprise_credit_code.cmp(&b.enterprise_credit_code))
    });
    let cut = if balances.len() > EXPORT_ROWS_MAX {
        Some(Cut::Rows)
    } else {
        truncated.then_some(Cut::Reads)
    };
    let items = balances
        .iter()
        .take(EXPORT_ROWS_MAX)
        .map(|balance| reader.enterprise(&balance.enterprise_credit_code))
        .collect::<Result<Vec<Enterprise>, EngineError>>()?;
    Ok(Collected { items, cut })
}

#[derive(Deserialize)]
pub struct SettlementsQuery {
    provider: Option<String>,
    program: Option<String>,
}

/// `/downloads/settlements?provider=…&program=…`: the statements of a provider, a program,
/// both or all, with their amounts and payments.
pub async fn settlements(
    State(console): State<Console>,
    viewer: Viewer,
    Query(query): Query<SettlementsQuery>,
) -> Result<Response, PageError> {
    let language = viewer.language;
    let reader = console.engine.reader().clone();
    let filter = SettlementFilter {
        provider_credit_code: optional(
            "provider",
            query.provider.as_deref().map(str::trim),
            crate::domain::typed::credit_code_as_typed,
            language,
        )?,
        program: optional_program(reader.policy(), query.program.as_deref(), language)?,
    };
    let built = tokio::task::spawn_blocking(move || settlement_sheet(&reader, filter)).await;
    sheet_download(built, "settlements", language)
}

const SETTLEMENT_HEADERS: [&str; 13] = [
    "结算单号 Statement",
    "服务商信用代码 Provider credit code",
    "服务商名称 Provider",
    "项目 Program",
    "发票截止日期 Invoices up to",
    "生成日期 Made on",
    "笔数 Lines",
    "核销金额 Gross",
    "追回金额 Clawed back",
    "应付净额 Net payable",
    "拨付日期 Paid on",
    "银行凭证号 Bank reference",
    "尚有待结算 More pending",
];

fn settlement_sheet(reader: &Reader, filter: SettlementFilter) -> Result<ListSheet, EngineError> {
    let collected = collect_bounded(EXPORT_ROWS_MAX, EXPORT_READS_MAX, |after, rows| {
        let after = cursor(after, SettlementId::parse)?;
        let page = reader.list_settlements(filter, Actor::Bureau, after, rows)?;
        Ok((page.items, page.next_after))
    })?;
    let rows = collected
        .items
        .iter()
        .map(|(settlement, name)| settlement_row(reader.policy(), settlement, name))
        .collect();
    Ok(ListSheet {
        name: "结算单 Statements".to_owned(),
        headers: SETTLEMENT_HEADERS.map(str::to_owned).to_vec(),
        rows,
        cut: collected.cut.map(Cut::note),
    })
}

fn settlement_row(policy: &Policy, settlement: &Settlement, provider: &str) -> Vec<Value> {
    let text = |value: String| Value::Text(value);
    let payment = settlement.payment.as_ref();
    vec![
        text(settlement.settlement_id.to_string()),
        text(settlement.provider_credit_code.to_string()),
        text(provider.to_owned()),
        text(program_words(policy, settlement.program)),
        Value::Date(settlement.up_to),
        Value::Date(settlement.made_on),
        Value::Count(settlement.redemption_ids.len() as u64),
        Value::Amount(settlement.gross.as_decimal()),
        Value::Amount(settlement.clawed_back.as_decimal()),
        Value::Amount(settlement.net()),
        payment.map_or(Value::Empty, |payment| Value::Date(payment.paid_on)),
        payment.map_or(Value::Empty, |payment| {
            text(payment.bank_reference.to_string())
        }),
        text(
            if settlement.more_pending {
                "是 yes"
            } else {
                ""
            }
            .to_owned(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader of `total` numbered records, in pages of `page` (the page bound of a store
    /// read); counts its reads.
    fn numbered(
        total: usize,
        page: usize,
        reads: &mut usize,
    ) -> impl FnMut(Option<&str>, usize) -> Read<usize> + '_ {
        move |after, rows| {
            *reads += 1;
            let start = after.map_or(0, |text| text.parse::<usize>().unwrap_or(0) + 1);
            let end = (start + rows.min(page)).min(total);
            let items: Vec<usize> = (start..end).collect();
            let next = (end < total).then(|| (end - 1).to_string());
            Ok((items, next))
        }
    }

    #[test]
    fn a_list_within_the_bound_is_whole_and_not_cut() {
        let mut reads = 0;
        let collected = collect_bounded(10, 100, numbered(10, 3, &mut reads)).expect("read");
        assert_eq!(collected.items, (0..10).collect::<Vec<_>>());
        assert_eq!(collected.cut, None);
    }

    #[test]
    fn a_longer_list_is_cut_at_the_bound_and_says_so() {
        let mut reads = 0;
        let collected = collect_bounded(10, 100, numbered(11, 1000, &mut reads)).expect("read");
        assert_eq!(collected.items, (0..10).collect::<Vec<_>>());
        assert_eq!(collected.cut, Some(Cut::Rows));
        assert!(Cut::Rows.note().starts_with("仅导出前 10,000 行"));
    }

    #[test]
    fn reads_run_out_before_the_records_do() {
        let mut reads = 0;
        let collected = collect_bounded(100, 3, numbered(50, 2, &mut reads)).expect("read");
        assert_eq!(collected.items, (0..6).collect::<Vec<_>>());
        assert_eq!(collected.cut, Some(Cut::Reads));
        assert_eq!(reads, 3);
    }

    #[test]
    fn the_constant_and_the_note_agree() {
        assert_eq!(EXPORT_ROWS_MAX, 10_000, "the note says 10,000");
    }
}
