//! The redemptions (`/redemptions`): filtered by program, provider, enterprise, invoice dates
//! and status, 50 a page; and the redemptions table the enterprise's page shows too.

use axum::extract::{OriginalUri, Query, State};
use maud::{Markup, html};
use serde::Deserialize;

use super::names::Names;
use super::providers::program_of;
use super::query::{optional, optional_program};
use super::{ROWS_PER_PAGE, refused, shell};
use crate::domain::ids::RedemptionId;
use crate::domain::input::InputError;
use crate::domain::model::{Actor, Redemption, RedemptionStatus};
use crate::domain::policy::{Policy, ProgramRules};
use crate::domain::reason::ReasonCode;
use crate::engine::{EngineError, RedemptionFilter};
use crate::web::fragments::{
    cell, claim_link, column, enterprise_cell, markup_cell, number_cell, number_column,
    program_filter, provider_cell, row, status_cell, table, voucher_link,
};
use crate::web::i18n::Language;
use crate::web::layout::{Section, StatusWord, yuan};
use crate::web::paging::{COUNT_PAGE, bounded_count, pager_here};
use crate::web::{Console, PageError, Viewer};

#[derive(Deserialize)]
pub struct RedemptionsQuery {
    program: Option<String>,
    provider: Option<String>,
    enterprise: Option<String>,
    from: Option<String>,
    to: Option<String>,
    status: Option<String>,
    after: Option<String>,
}

/// The statuses a claim may be filtered by, as the query words them.
const STATUSES: [(&str, RedemptionStatus); 7] = [
    ("accepted", RedemptionStatus::Accepted),
    ("approved", RedemptionStatus::Approved),
    ("rejected", RedemptionStatus::Rejected),
    ("settled", RedemptionStatus::Settled),
    ("reversed", RedemptionStatus::Reversed),
    ("disputed", RedemptionStatus::Disputed),
    ("returned", RedemptionStatus::Returned),
];

/// A status word of the query (`disputed`); empty means every status.
fn status_of(text: &str) -> Result<Option<RedemptionStatus>, InputError> {
    if text.is_empty() {
        return Ok(None);
    }
    STATUSES
        .iter()
        .find(|(word, _)| *word == text)
        .map(|(_, status)| Some(*status))
        .ok_or_else(|| InputError::new(ReasonCode::NotAllowed, format!("{text:?} is not a status")))
}

pub async fn redemptions(
    State(console): State<Console>,
    viewer: Viewer,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<RedemptionsQuery>,
) -> Result<Markup, PageError> {
    let language = viewer.language;
    let reader = console.engine.reader();
    let filter = filter_of(&query, reader.policy(), language)?;
    let after = optional(
        "after",
        query.after.as_deref(),
        RedemptionId::parse,
        language,
    )?;
    let page = reader
        .list_redemptions(filter, Actor::Bureau, after, ROWS_PER_PAGE)
        .map_err(refused(language))?;
    let total = bounded_count(|after| {
        // The store's own key always parses; were it not to, the count ends there.
        let Ok(after) = after.map(|key| RedemptionId::parse(&key)).transpose() else {
            return Ok((0, None));
        };
        let counted = reader.list_redemptions(filter, Actor::Bureau, after, COUNT_PAGE)?;
        Ok::<_, EngineError>((counted.items.len(), counted.next_after))
    })
    .map_err(refused(language))?;
    let names = Names::of_claims(reader, &page.items).map_err(refused(language))?;
    let typed = Typed::of(&query);
    let body = html! {
        (filter_form(language, reader.policy().programs(), &typed))
        (crate::web::downloads::export_link(language, &format!("/downloads/redemptions?{}", uri.query().unwrap_or_default())))
        (redemption_table(language, reader.policy(), &names, &page.items))
        (pager_here(language, &uri.to_string(), page.next_after.as_deref(), page.items.len(), Some(total)))
    };
    let title = language.pick("核销记录", "Redemptions");
    Ok(shell(&viewer, &uri, Section::Redemptions, title, body))
}

/// The query's filters, checked in the order of the form's fields.
pub(crate) fn filter_of(
    query: &RedemptionsQuery,
    policy: &Policy,
    language: Language,
) -> Result<RedemptionFilter, PageError> {
    let code = |field, text: &Option<String>| {
        optional(
            field,
            text.as_deref().map(str::trim),
            crate::domain::typed::credit_code_as_typed,
            language,
        )
    };
    let day = |field, text: &Option<String>| {
        optional(
            field,
            text.as_deref().map(str::trim),
            crate::domain::typed::date_as_typed,
            language,
        )
    };
    Ok(RedemptionFilter {
        program: optional_program(policy, query.program.as_deref(), language)?,
        provider_credit_code: code("provider", &query.provider)?,
        enterprise_credit_code: code("enterprise", &query.enterprise)?,
        invoice_date_from: day("from", &query.from)?,
        invoice_date_to: day("to", &query.to)?,
        status: optional("status", query.status.as_deref(), status_of, language)?.flatten(),
    })
}

/// The filters as the reader typed them: shown again in the form (the pager carries the
/// query to the next and previous pages).
struct Typed<'q> {
    program: &'q str,
    provider: &'q str,
    enterprise: &'q str,
    from: &'q str,
    to: &'q str,
    status: &'q str,
}

impl<'q> Typed<'q> {
    fn of(query: &'q RedemptionsQuery) -> Typed<'q> {
        let typed = |field: &'q Option<String>| field.as_deref().unwrap_or_default();
        Typed {
            program: typed(&query.program),
            provider: typed(&query.provider),
            enterprise: typed(&query.enterprise),
            from: typed(&query.from),
            to: typed(&query.to),
            status: typed(&query.status),
        }
    }
}

fn filter_form(language: Language, programs: &[ProgramRules], typed: &Typed<'_>) -> Markup {
    html! {
        form method="get" action="/redemptions" class="filters" {
            (program_filter(language, programs, typed.program))
            label { (language.pick("服务商代码", "Provider code")) " " input name="provider" value=(typed.provider) size="20" maxlength="18"; }
            label { (language.pick("企业代码", "Enterprise code")) " " input name="enterprise" value=(typed.enterprise) size="20" maxlength="18"; }
            label { (language.pick("发票日期自", "Invoice from")) " " input type="date" name="from" value=(typed.from); }
            label { (language.pick("至", "to")) " " input type="date" name="to" value=(typed.to); }
            label { (language.pick("状态", "Status")) " "
                select name="status" {
                    option value="" { (language.pick("全部", "All")) }
                    @for (word, status) in STATUSES {
                        option value=(word) selected[typed.status == word] { (status.word(language)) }
                    }
                }
            }
            button type="submit" { (language.pick("筛选", "Filter")) }
        }
    }
}

/// A redemption a row: its id linking to its page over its voucher's (linked), its program
/// in words, its enterprise and provider as names linking to their pages over their codes.
pub(super) fn redemption_table(
    language: Language,
    policy: &Policy,
    names: &Names,
    redemptions: &[Redemption],
) -> Markup {
    let columns = [
        column(language.pick("核销编号 / 券号", "Redemption / voucher")),
        column(language.pick("项目", "Program")),
        column(language.pick("企业", "Enterprise")),
        column(language.pick("服务商", "Provider")),
        column(language.pick("发票号码", "Invoice")),
        column(language.pick("发票日期", "Invoice date")),
        number_column(language.pick("发票金额（元）", "Amount (yuan)")),
        number_column(language.pick("补贴（元）", "Subsidy (yuan)")),
        column(language.pick("状态", "Status")),
    ];
    let rows = redemptions.iter().map(|redemption| {
        let enterprise = redemption.enterprise_credit_code;
        let provider = redemption.provider_credit_code;
        let ids = html! {
            (claim_link(redemption.redemption_id))
            div class="code" { (voucher_link(redemption.voucher_id)) }
        };
        row([
            markup_cell(ids),
            cell(program_of(policy, language, redemption.program)),
            enterprise_cell(names.enterprise(&enterprise), enterprise),
            provider_cell(names.provider(&provider), provider),
            cell(&redemption.invoice.number),
            cell(redemption.invoice.date),
            number_cell(yuan(redemption.invoice.amount)),
            number_cell(yuan(redemption.subsidy)),
            status_cell(language, redemption.status),
        ])
    });
    let empty = language.pick("没有符合条件的核销记录。", "No redemption matches.");
    table(&columns, rows, Some(empty))
}
