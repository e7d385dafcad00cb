//! The providers (`/providers`): the resource pool (each provider linking to its own page,
//! `provider`, with its open clawbacks: what it owes back until a statement nets it), the
//! settlement statements with their downloads (each linking to its own page, `settlements`;
//! a negative one says the provider owes), and each program's totals per provider.

use axum::extract::{OriginalUri, Query, State};
use maud::{Markup, html};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::query::{day_of_year, optional, parse_year};
use super::{PROVIDERS_MAX, ROWS_PER_PAGE, refused, shell, year_picker};
use crate::domain::ids::SettlementId;
use std::collections::BTreeMap;

use crate::domain::credit_code::CreditCode;
use crate::domain::model::{Actor, ProgramSummary, Provider, Redemption, Settlement};
use crate::domain::money::Total;
use crate::domain::policy::{Policy, ProgramCode};
use crate::engine::{EngineError, Reader, SettlementFilter};
use crate::web::fragments::{
    cell, code_cell, column, link_cell, markup_cell, number_cell, number_column, pager,
    provider_cell, row, table,
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
    let open = reader.open_clawbacks(None).map_err(refused(language))?;
    let owed = Owed::of(&open.claims);
    let next_statements = shown
        .next_statements
        .map(|after| format!("/providers?year={year}&statements_after={}", encode(&after)));
    let body = html! {
        (year_picker(language, policy, year, "/providers"))
        h2 { (language.pick("资源池", "Resource pool")) }
        (pool_table(language, policy, &shown.pool, &owed))
        @if open.cut {
            p class="hint" { (language.pick(
                "红冲记录较多，待追回仅查找了一部分，可能不全。",
                "Many reversed claims: the open clawbacks were searched in part and may be incomplete."
            )) }
        }
        @if shown.more_providers {
            p class="hint" { (language.pick("仅显示前 1000 家服务商。", "The first 1,000 providers only.")) }
        }
        h2 { (language.pick("结算单（付款凭证）", "Settlement statements (payment vouchers)")) }
        (crate::web::downloads::statement_export_links(language, policy))
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

/// Each provider's open clawbacks: how many, and their sum.
#[derive(Default)]
struct Owed(BTreeMap<CreditCode, (usize, Total)>);

impl Owed {
    fn of(open: &[Redemption]) -> Owed {
        let mut owed = Owed::default();
        for claim in open {
            let entry = owed.0.entry(claim.provider_credit_code).or_default();
            *entry = (entry.0 + 1, entry.1.plus(claim.subsidy));
        }
        owed
    }

    fn of_provider(&self, code: &CreditCode) -> (usize, Total) {
        self.0.get(code).copied().unwrap_or_default()
    }
}

/// A provider a row, its name linking to its page, with its open clawbacks.
fn pool_table(language: Language, policy: &Policy, pool: &[Provider], owed: &Owed) -> Markup {
    let columns = [
        column(language.pick("服务商", "Provider")),
        column(language.pick("信用代码", "Credit code")),
        column(language.pick("项目", "Program")),
        column(language.pick("登记时间", "Registered")),
        number_column(language.pick("待追回笔数", "Open clawbacks")),
        number_column(language.pick("待追回金额（元）", "To claw back (yuan)")),
    ];
    let rows = pool.iter().map(|provider| {
        let code = provider.credit_code;
        let (count, amount) = owed.of_provider(&code);
        row([
            link_cell(&format!("/providers/{code}"), provider.name.as_str()),
            code_cell(code),
            cell(program_of(policy, language, provider.program)),
            cell(provider.registered_at.format("%Y-%m-%d %H:%M")),
            number_cell(count),
            number_cell(total(amount)),
        ])
    });
    table(&columns, rows, None)
}

/// A statement a row: its lines and amounts, whether it was paid (the day and the bank's
/// reference), and its downloads.
pub(super) fn statement_table(
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
        number_column(language.pick("核销金额（元）", "Gross (yuan)")),
        number_column(language.pick("追回（元）", "Clawed back (yuan)")),
        number_column(language.pick("应付净额（元）", "Net (yuan)")),
        column(language.pick("拨付", "Paid")),
        column(language.pick("下载", "Download")),
    ];
    let rows = statements.iter().map(|(settlement, name)| {
        let id = settlement.settlement_id;
        row([
            link_cell(&format!("/settlements/{id}"), id),
            provider_cell(name, settlement.provider_credit_code),
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

/// When a statement was paid and the bank's reference, or that it is not yet: the bureau's
/// payment, or the provider's when the statement is negative (it owes).
fn payment(language: Language, settlement: &Settlement) -> Markup {
    html! {
        @if let Some(payment) = &settlement.payment {
            (payment.paid_on) div class="code" { (payment.bank_reference) }
        } @else if owes(settlement) {
            span class="hint owes" { (language.pick("待服务商退回", "Provider to repay")) }
        } @else {
            span class="hint" { (language.pick("待拨付", "Not yet")) }
        }
    }
}

/// Whether the statement's net is negative: its clawbacks exceed its claims, and the
/// provider owes the bureau the difference.
pub(in crate::web) fn owes(settlement: &Settlement) -> bool {
    settlement.net().is_sign_negative() && !settlement.net().is_zero()
}

/// A statement's net in words: what the bureau pays, or what the provider owes
/// (`服务商应退回 65,854.75 元`), the amount grouped.
pub(in crate::web) fn net_in_words(language: Language, settlement: &Settlement) -> String {
    let magnitude = signed_yuan(settlement.net().abs());
    if owes(settlement) {
        match language {
            Language::Chinese => format!("服务商应退回 {magnitude} 元"),
            Language::English => format!("provider owes {magnitude}"),
        }
    } else {
        match language {
            Language::Chinese => format!("应拨付 {magnitude} 元"),
            Language::English => format!("to pay {magnitude}"),
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
        number_column(language.pick("已核销（元）", "Redeemed (yuan)")),
        number_column(language.pick("已红冲（元）", "Reversed (yuan)")),
        number_column(language.pick("已驳回（元）", "Rejected (yuan)")),
        number_column(language.pick("已结算（元）", "Settled (yuan)")),
    ];
    let rows = summary.providers.iter().map(|(code, name, totals)| {
        row([
            provider_cell(name, code),
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
