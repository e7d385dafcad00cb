//! The providers (`/providers`): the resource pool, the settlement statements with their
//! downloads, and each program's totals per provider.

use axum::extract::{OriginalUri, Query, State};
use maud::{Markup, html};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::overview::year_picker;
use super::query::{day_of_year, optional, parse_year};
use super::{PROVIDERS_MAX, ROWS_PER_PAGE, chrome, pager};
use crate::domain::ids::SettlementId;
use crate::domain::model::Actor;
use crate::domain::policy::ProgramCode;
use crate::engine::{EngineError, SettlementFilter};
use crate::web::layout::{self, Section, encode, program_name, total};
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
    let engine_error = |error: EngineError| PageError::engine(error, language);
    let year = parse_year(reader, query.year.as_deref(), language)?;
    let statements_after = optional(
        "statements_after",
        query.statements_after.as_deref(),
        SettlementId::parse,
        language,
    )?;
    let statements = reader
        .list_settlements(
            SettlementFilter::default(),
            Actor::Bureau,
            statements_after,
            ROWS_PER_PAGE,
        )
        .map_err(engine_error)?;
    let next_statements = statements
        .next_after
        .map(|after| format!("/providers?year={year}&statements_after={}", encode(&after)));
    let on_date = day_of_year(reader, year);
    let pool = reader
        .list_providers(None, PROVIDERS_MAX)
        .map_err(engine_error)?;
    let mut summaries = Vec::new();
    for rules in reader.policy().programs() {
        summaries.push((
            rules,
            reader
                .program_summary(rules.code, Some(on_date))
                .map_err(engine_error)?,
        ));
    }
    let program_of = |code: ProgramCode| {
        reader
            .policy()
            .programs()
            .iter()
            .find(|rules| rules.code == code)
            .map(|rules| program_name(language, rules))
            .unwrap_or_else(|| code.to_string())
    };
    let body = html! {
        (year_picker(language, reader.policy(), year, "/providers"))
        h2 { (language.pick("资源池", "Resource pool")) }
        table class="list" {
            thead { tr {
                th { (language.pick("服务商", "Provider")) } th { (language.pick("信用代码", "Credit code")) }
                th { (language.pick("项目", "Program")) } th { (language.pick("登记时间", "Registered")) }
            } }
            tbody {
                @for provider in &pool.items {
                    tr {
                        td { (provider.name.as_str()) } td class="code" { (provider.credit_code) }
                        td { (program_of(provider.program)) }
                        td { (provider.registered_at.format("%Y-%m-%d %H:%M")) }
                    }
                }
            }
        }
        @if pool.next_after.is_some() {
            p class="hint" { (language.pick("仅显示前 1000 家服务商。", "The first 1,000 providers only.")) }
        }
        h2 { (language.pick("结算单（付款凭证）", "Settlement statements (payment vouchers)")) }
        table class="list" {
            thead { tr {
                th { (language.pick("结算单号", "Statement")) } th { (language.pick("服务商", "Provider")) }
                th { (language.pick("项目", "Program")) } th { (language.pick("发票截止", "Invoices up to")) }
                th class="number" { (language.pick("笔数", "Lines")) } th class="number" { (language.pick("核销金额", "Gross")) }
                th class="number" { (language.pick("追回", "Clawed back")) } th class="number" { (language.pick("应付净额", "Net")) }
                th { (language.pick("拨付", "Paid")) } th { (language.pick("下载", "Download")) }
            } }
            tbody {
                @for (settlement, name) in &statements.items {
                    tr {
                        td { (settlement.settlement_id) }
                        td { (name) div class="code" { (settlement.provider_credit_code) } }
                        td { (program_of(settlement.program)) } td { (settlement.up_to) }
                        td class="number" { (settlement.redemption_ids.len()) }
                        td class="number" { (total(settlement.gross)) }
                        td class="number" { (total(settlement.clawed_back)) }
                        td class="number" { (signed_yuan(settlement.net())) }
                        td {
                            @if let Some(payment) = &settlement.payment {
                                (payment.paid_on) div class="code" { (payment.bank_reference) }
                            } @else {
                                span class="hint" { (language.pick("待拨付", "Not yet")) }
                            }
                        }
                        td {
                            a href={"/downloads/statement?id=" (settlement.settlement_id) "&format=xlsx"} { "XLSX" }
                            " · "
                            a href={"/downloads/statement?id=" (settlement.settlement_id) "&format=csv"} { "CSV" }
                        }
                    }
                }
                @if statements.items.is_empty() {
                    tr { td colspan="10" { (language.pick("尚无结算单。", "No statements yet.")) } }
                }
            }
        }
        (pager(language, next_statements))
        @for (rules, summary) in &summaries {
            h2 { (program_name(language, rules)) " · " (summary.period.first) " – " (summary.period.last) }
            table class="list" {
                thead { tr {
                    th { (language.pick("服务商", "Provider")) } th class="number" { (language.pick("笔数", "Claims")) }
                    th class="number" { (language.pick("已核销", "Redeemed")) } th class="number" { (language.pick("已红冲", "Reversed")) }
                    th class="number" { (language.pick("已驳回", "Rejected")) } th class="number" { (language.pick("已结算", "Settled")) }
                } }
                tbody {
                    @for (code, name, totals) in &summary.providers {
                        tr {
                            td { (name) div class="code" { (code) } }
                            td class="number" { (totals.redemptions) }
                            td class="number" { (total(totals.redeemed)) }
                            td class="number" { (total(totals.reversed)) }
                            td class="number" { (total(totals.rejected)) }
                            td class="number" { (total(totals.settled)) }
                        }
                    }
                    @if summary.providers.is_empty() {
                        tr { td colspan="6" { (language.pick("本期尚无核销。", "No claims in this period yet.")) } }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        &chrome(&viewer, uri.to_string().as_str()),
        Section::Providers,
        language.pick("服务商", "Providers"),
        body,
    ))
}

/// A signed amount with thousands separators: a statement's net may be negative.
fn signed_yuan(amount: Decimal) -> String {
    let magnitude = crate::domain::money::Total::try_from(amount.abs())
        .map(|total| total.to_grouped_string())
        .unwrap_or_else(|_| amount.abs().to_string());
    if amount.is_sign_negative() && !amount.is_zero() {
        format!("-{magnitude}")
    } else {
        magnitude
    }
}
