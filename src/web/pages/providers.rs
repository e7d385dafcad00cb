//! The providers (`/providers`): the resource pool, the settlement statements with their
//! downloads (each linking to its own page, `settlements`), and each program's totals per
//! provider.

use axum::extract::{OriginalUri, Query, State};
use maud::{Markup, html};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::query::{day_of_year, optional, parse_year};
use super::{PROVIDERS_MAX, ROWS_PER_PAGE, refused, shell, year_picker};
use crate::domain::ids::SettlementId;
use crate::domain::model::{Actor, ProgramSummary, Provider, Settlement};
use crate::domain::money::Total;
use crate::domain::policy::{Policy, ProgramCode};
use crate::engine::{EngineError, Reader, SettlementFilter};
use crate::web::fragments::{
    cell, code_cell, column, link_cell, markup_cell, named_cell, number_cell, number_column, pager,
    row, table,
};
use crate::web::i18n::Language;
use crate::web::layout::{Section, encode, program_name, total};
use crate::web::{Console, PageError, Viewer};

#[derive(Deserialize)]
pub struct ProvidersQuery {
    year: Option<String>,
    statements_after: Option<String>,
}

pub async fn providers(
    State(console): State<Console>,
    viewer: Viewer,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<ProvidersQuery>,
) -> Result<Markup, PageError> {
    let language = viewer.language;
    let reader = console.engine.reader();
    let policy = reader.policy();
    let year = parse_year(reader, query.year.as_deref(), language)?;
    let statements_after = optional(
        "statements_after",
        query.statements_after.as_deref(),
        SettlementId::parse,
        language,
    )?;
    let shown = Shown::read(reader, year, statements_after).map_err(refused(language))?;
    let next_statements = shown
        .next_statements
        .map(|after| format!("/providers?year={year}&statements_after={}", encode(&after)));
    let body = html! {
        (year_picker(language, policy, year, "/providers"))
        h2 { (language.pick("资源池", "Resource pool")) }
        (pool_table(language, policy, &shown.pool))
        @if shown.more_providers {
            p class="hint" { (language.pick("仅显示前 1000 家服务商。", "The first 1,000 providers only.")) }
        }
        h2 { (language.pick("结算单（付款凭证）", "Settlement statements (payment vouchers)")) }
        (statement_table(language, policy, &shown.statements))
        (pager(language, next_statements))
        @for (rules, summary) in policy.programs().iter().zip(&shown.summaries) {
            h2 { (program_name(language, rules)) " · " (summary.period.first) " – " (summary.period.last) }
            (provider_totals_table(language, summary))
        }
    };
    let title = language.pick("服务商", "Providers");
    Ok(shell(&viewer, &uri, Section::Providers, title, body))
}

/// What the page shows: one page of statements (with each provider's name) and where the
/// next starts, the first providers of the pool (and whether there are more), and each
/// program's summary for the cap period of the year, in the policy's order.
struct Shown {
    statements: Vec<(Settlement, String)>,
    next_statements: Option<String>,
    pool: Vec<Provider>,
    more_providers: bool,
    summaries: Vec<ProgramSummary>,
}

impl Shown {
    fn read(
        reader: &Reader,
        year: i32,
        statements_after: Option<SettlementId>,
    ) -> Result<Shown, EngineError> {
        let statements = reader.list_settlements(
            SettlementFilter::default(),
            Actor::Bureau,
            statements_after,
            ROWS_PER_PAGE,
        )?;
        let on_date = day_of_year(reader, year);
        let pool = reader.list_providers(None, PROVIDERS_MAX)?;
        let summaries = reader
            .policy()
            .programs()
            .iter()
            .map(|rules| reader.program_summary(rules.code, Some(on_date)))
            .collect::<Result<Vec<ProgramSummary>, EngineError>>()?;
        Ok(Shown {
            statements: statements.items,
            next_statements: statements.next_after,
            pool: pool.items,
            more_providers: pool.next_after.is_some(),
            summaries,
        })
    }
}

/// A program's name in the reader's language; its code word if the policy in force lacks it.
pub(super) fn program_of(policy: &Policy, language: Language, code: ProgramCode) -> String {
    policy
        .programs()
        .iter()
        .find(|rules| rules.code == code)
        .map(|rules| program_name(language, rules))
        .unwrap_or_else(|| code.to_string())
}

fn pool_table(language: Language, policy: &Policy, pool: &[Provider]) -> Markup {
    let columns = [
        column(language.pick("服务商", "Provider")),
        column(language.pick("信用代码", "Credit code")),
        column(language.pick("项目", "Program")),
        column(language.pick("登记时间", "Registered")),
    ];
    let rows = pool.iter().map(|provider| {
        row([
            cell(provider.name.as_str()),
            code_cell(provider.credit_code),
            cell(program_of(policy, language, provider.program)),
            cell(provider.registered_at.format("%Y-%m-%d %H:%M")),
        ])
    });
    table(&columns, rows, None)
}

/// A statement a row: its lines and amounts, whether it was paid (the day and the bank's
/// reference), and its downloads.
fn statement_table(
    language: Language,
    policy: &Policy,
    statements: &[(Settlement, String)],
) -> Markup {
    let columns = [
        column(language.pick("结算单号", "Statement")),
        column(language.pick("服务商", "Provider")),
        column(language.pick("项目", "Program")),
        column(language.pick("发票截止", "Invoices up to")),
        number_column(language.pick("笔数", "Lines")),
        number_column(language.pick("核销金额", "Gross")),
        number_column(language.pick("追回", "Clawed back")),
        number_column(language.pick("应付净额", "Net")),
        column(language.pick("拨付", "Paid")),
        column(language.pick("下载", "Download")),
    ];
    let rows = statements.iter().map(|(settlement, name)| {
        let id = settlement.settlement_id;
        row([
            link_cell(&format!("/settlements/{id}"), id),
            named_cell(name, settlement.provider_credit_code),
            cell(program_of(policy, language, settlement.program)),
            cell(settlement.up_to),
            number_cell(settlement.redemption_ids.len()),
            number_cell(total(settlement.gross)),
            number_cell(total(settlement.clawed_back)),
            number_cell(signed_yuan(settlement.net())),
            markup_cell(payment(language, settlement)),
            markup_cell(downloads(settlement.settlement_id)),
        ])
    });
    let empty = language.pick("尚无结算单。", "No statements yet.");
    table(&columns, rows, Some(empty))
}

/// When a statement was paid and the bank's reference, or that it is not yet.
fn payment(language: Language, settlement: &Settlement) -> Markup {
    html! {
        @if let Some(payment) = &settlement.payment {
            (payment.paid_on) div class="code" { (payment.bank_reference) }
        } @else {
            span class="hint" { (language.pick("待拨付", "Not yet")) }
        }
    }
}

pub(super) fn downloads(id: SettlementId) -> Markup {
    html! {
        a href={"/downloads/statement?id=" (id) "&format=xlsx"} { "XLSX" }
        " · "
        a href={"/downloads/statement?id=" (id) "&format=csv"} { "CSV" }
    }
}

/// A program's totals in one cap period, a provider a row.
fn provider_totals_table(language: Language, summary: &ProgramSummary) -> Markup {
    let columns = [
        column(language.pick("服务商", "Provider")),
        number_column(language.pick("笔数", "Claims")),
        number_column(language.pick("已核销", "Redeemed")),
        number_column(language.pick("已红冲", "Reversed")),
        number_column(language.pick("已驳回", "Rejected")),
        number_column(language.pick("已结算", "Settled")),
    ];
    let rows = summary.providers.iter().map(|(code, name, totals)| {
        row([
            named_cell(name, code),
            number_cell(totals.redemptions),
            number_cell(total(totals.redeemed)),
            number_cell(total(totals.reversed)),
            number_cell(total(totals.rejected)),
            number_cell(total(totals.settled)),
        ])
    });
    let empty = language.pick("本期尚无核销。", "No claims in this period yet.");
    table(&columns, rows, Some(empty))
}

/// A signed amount with thousands separators: a statement's net may be negative.
pub(super) fn signed_yuan(amount: Decimal) -> String {
    let magnitude = Total::try_from(amount.abs())
        .map(|total| total.to_grouped_string())
        .unwrap_or_else(|_| amount.abs().to_string());
    if amount.is_sign_negative() && !amount.is_zero() {
        format!("-{magnitude}")
    } else {
        magnitude
    }
}
