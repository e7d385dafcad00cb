//! One provider (`/providers/{credit_code}`, the code in any case): its record (name, code,
//! program, whether it is suspended), its open clawbacks (claims reversed after a statement
//! paid them, that no statement has netted yet: what it owes back), a page of its claims
//! (all of them, filtered, on `/redemptions?provider=…`), a page of its statements, and its
//! history.

use axum::extract::{OriginalUri, Path, Query, State};
use maud::{Markup, html};
use serde::Deserialize;

use super::history::of_record;
use super::names::Names;
use super::providers::{program_of, statement_table};
use super::query::{bad_field, optional};
use super::redemptions::redemption_table;
use super::{ROWS_PER_PAGE, refused, shell};
use crate::domain::credit_code::CreditCode;
use crate::domain::ids::{RedemptionId, SettlementId};
use crate::domain::model::{Actor, Provider, Redemption, Settlement};
use crate::domain::money::Total;
use crate::engine::{EngineError, Reader, RedemptionFilter, SettlementFilter};
use crate::web::fragments::{
    cell, claim_cell, column, enterprise_cell, field_table, link_cell, number_cell, number_column,
    pager, row, table,
};
use crate::web::i18n::Language;
use crate::web::layout::{Section, encode, total, yuan};
use crate::web::{Console, PageError, Viewer};

#[derive(Deserialize)]
pub struct ProviderQuery {
    claims_after: Option<String>,
    statements_after: Option<String>,
}

pub async fn provider(
    State(console): State<Console>,
    viewer: Viewer,
    OriginalUri(uri): OriginalUri,
    Path(credit_code): Path<String>,
    Query(query): Query<ProviderQuery>,
) -> Result<Markup, PageError> {
    let language = viewer.language;
    let code = crate::domain::typed::credit_code_as_typed(&credit_code)
        .map_err(|error| bad_field("credit_code", error, language))?;
    let claims_after = optional(
        "claims_after",
        query.claims_after.as_deref(),
        RedemptionId::parse,
        language,
    )?;
    let statements_after = optional(
        "statements_after",
        query.statements_after.as_deref(),
        SettlementId::parse,
        language,
    )?;
    let reader = console.engine.reader();
    let shown =
        Shown::read(reader, code, claims_after, statements_after).map_err(refused(language))?;
    let history = of_record(&console, code).await;
    let page = format!("/providers/{code}");
    let next_claims = shown
        .next_claims
        .as_ref()
        .map(|after| format!("{page}?claims_after={}", encode(after)));
    let next_statements = shown
        .next_statements
        .as_ref()
        .map(|after| format!("{page}?statements_after={}", encode(after)));
    let policy = reader.policy();
    let body = html! {
        (record(language, reader, &shown.provider))
        h2 { (language.pick("待追回（未抵扣的红冲）", "Open clawbacks (reversed after payment, not yet netted)")) }
        (open_clawbacks(language, &shown))
        h2 { (language.pick("核销记录", "Claims")) }
        p class="hint" {
            (language.pick("按编号列出，每页 50 笔。", "In id order, 50 a page. "))
            a href={"/redemptions?provider=" (code)} { (language.pick("按条件筛选全部核销 →", "Filter all its claims →")) }
        }
        (redemption_table(language, policy, &shown.names, &shown.claims))
        (pager(language, next_claims))
        h2 { (language.pick("结算单", "Statements")) }
        (statement_table(language, policy, &shown.statements))
        (pager(language, next_statements))
        (history.draw(language))
    };
    let title = shown.provider.name.as_str();
    Ok(shell(&viewer, &uri, Section::Providers, title, body))
}

/// What the page shows of one provider.
struct Shown {
    provider: Provider,
    claims: Vec<Redemption>,
    next_claims: Option<String>,
    statements: Vec<(Settlement, String)>,
    next_statements: Option<String>,
    /// Its open clawbacks, and whether the search for them was cut.
    clawbacks: Vec<Redemption>,
    clawbacks_cut: bool,
    /// The enterprises' names of its claims and clawbacks.
    names: Names,
}

impl Shown {
    fn read(
        reader: &Reader,
        code: CreditCode,
        claims_after: Option<RedemptionId>,
        statements_after: Option<SettlementId>,
    ) -> Result<Shown, EngineError> {
        let provider = reader.provider(&code)?;
        let claims = RedemptionFilter {
            provider_credit_code: Some(code),
            ..RedemptionFilter::default()
        };
        let claims = reader.list_redemptions(claims, Actor::Bureau, claims_after, ROWS_PER_PAGE)?;
        let statements = SettlementFilter {
            provider_credit_code: Some(code),
            program: None,
        };
        let statements =
            reader.list_settlements(statements, Actor::Bureau, statements_after, ROWS_PER_PAGE)?;
        let open = reader.open_clawbacks(Some(code))?;
        let names = Names::of_claims(reader, claims.items.iter().chain(&open.claims))?;
        Ok(Shown {
            provider,
            claims: claims.items,
            next_claims: claims.next_after,
            statements: statements.items,
            next_statements: statements.next_after,
            clawbacks: open.claims,
            clawbacks_cut: open.cut,
            names,
        })
    }
}

/// The provider's record, a row a field.
fn record(language: Language, reader: &Reader, provider: &Provider) -> Markup {
    let access = match &provider.access.suspension {
        Some(suspension) => html! {
            strong { (language.pick("已暂停", "Suspended")) }
            " · " (suspension.at.format("%Y-%m-%d %H:%M")) " · " (suspension.reason.as_str())
        },
        None => html! { (language.pick("正常", "Open")) },
    };
    let mut rows = vec![
        (
            language.pick("名称", "Name"),
            html! { (provider.name.as_str()) },
        ),
        (
            language.pick("统一社会信用代码", "Credit code"),
            html! { span class="code" { (provider.credit_code) } },
        ),
        (
            language.pick("项目", "Program"),
            html! { (program_of(reader.policy(), language, provider.program)) },
        ),
        (
            language.pick("登记时间", "Registered"),
            html! { (provider.registered_at.format("%Y-%m-%d %H:%M")) },
        ),
        (language.pick("状态", "Access"), access),
    ];
    if let Some(reason) = &provider.check_digit_override_reason {
        rows.push((
            language.pick("校验位例外原因", "Check digit override"),
            html! { (reason.as_str()) },
        ));
    }
    field_table(rows)
}

/// The clawbacks the provider's next statement nets, a claim a row, and their sum.
fn open_clawbacks(language: Language, shown: &Shown) -> Markup {
    let columns = [
        column(language.pick("核销编号", "Claim")),
        column(language.pick("企业", "Enterprise")),
        column(language.pick("发票号码", "Invoice")),
        column(language.pick("原结算单", "Paid by")),
        column(language.pick("红冲时间", "Reversed")),
        number_column(language.pick("应追回（元）", "To claw back (yuan)")),
    ];
    let rows = shown.clawbacks.iter().map(|claim| {
        let enterprise = claim.enterprise_credit_code;
        let paid_by = claim
            .settlement_id
            .map(|id| link_cell(&format!("/settlements/{id}"), id))
            .unwrap_or_else(|| cell(""));
        let reversed = claim
            .reversed_at
            .map(|at| at.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        row([
            claim_cell(claim.redemption_id),
            enterprise_cell(shown.names.enterprise(&enterprise), enterprise),
            cell(&claim.invoice.number),
            paid_by,
            cell(reversed),
            number_cell(yuan(claim.subsidy)),
        ])
    });
    let sum = shown
        .clawbacks
        .iter()
        .fold(Total::ZERO, |sum, claim| sum.plus(claim.subsidy));
    let none = language.pick("没有待追回的款项。", "Nothing to claw back.");
    html! {
        (table(&columns, rows, Some(none)))
        @if !shown.clawbacks.is_empty() {
            p class="clawback-total" {
                (language.pick("合计 ", "In all "))
                (shown.clawbacks.len())
                (language.pick(" 笔，", " claims, "))
                strong { (total(sum)) }
                (language.pick(" 元，将在下一张结算单中抵扣。", " yuan, netted by the next statement."))
            }
        }
        @if shown.clawbacks_cut {
            p class="hint" { (language.pick(
                "红冲记录较多，仅查找了一部分：以上可能不全。",
                "Many reversed claims: only part of them were searched, so the list may be incomplete."
            )) }
        }
    }
}
