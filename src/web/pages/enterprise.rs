//! One enterprise (`/enterprises/{credit_code}`, the code in any case): its balances, its
//! vouchers and its redemptions (each linking to its page, providers named), and its history
//! (the events naming its credit code).

use axum::extract::{OriginalUri, Path, Query, State};
use chrono::{Datelike, NaiveDate};
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::BTreeSet;

use super::enterprises::{balance_figures, balances_of};
use super::history::of_record;
use super::names::Names;
use super::providers::program_of;
use super::query::{bad_field, day_of_year, optional};
use super::redemptions::redemption_table;
use super::{ENTERPRISE_VOUCHERS_MAX, ROWS_PER_PAGE, refused, shell};
use crate::domain::credit_code::CreditCode;
use crate::domain::ids::RedemptionId;
use crate::domain::model::{Actor, Balance, Enterprise, Redemption, Voucher};
use crate::domain::policy::{Policy, ProgramRules};
use crate::engine::{EngineError, Reader, RedemptionFilter, VoucherFilter};
use crate::web::fragments::{
    cell, codes, column, markup_cell, number_cell, number_column, pager, party, row, status_cell,
    table, voucher_cell,
};
use crate::web::i18n::Language;
use crate::web::layout::{Section, encode, program_name, yuan};
use crate::web::{Console, PageError, Viewer};

#[derive(Deserialize)]
pub struct PageQuery {
    after: Option<String>,
}

pub async fn enterprise(
    State(console): State<Console>,
    viewer: Viewer,
    OriginalUri(uri): OriginalUri,
    Path(credit_code): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Markup, PageError> {
    let language = viewer.language;
    let reader = console.engine.reader();
    let code = crate::domain::typed::credit_code_as_typed(&credit_code)
        .map_err(|error| bad_field("credit_code", error, language))?;
    let after = optional(
        "after",
        query.after.as_deref(),
        RedemptionId::parse,
        language,
    )?;
    let on_date = day_of_year(reader, reader.today().year());
    let shown = Shown::read(reader, code, after, on_date).map_err(refused(language))?;
    let history = of_record(&console, code).await;
    let next = shown
        .next_redemptions
        .map(|after| format!("/enterprises/{code}?after={}", encode(&after)));
    let body = html! {
        p class="code" { (language.pick("统一社会信用代码 ", "Credit code ")) (code) }
        (balance_cards(language, reader.policy().programs(), &shown.balances))
        h2 { (language.pick("券", "Vouchers")) }
        (linked_voucher_table(language, reader.policy(), &shown.names, &shown.vouchers))
        @if shown.more_vouchers {
            p class="hint" { (language.pick("仅显示前 200 张券；完整列表请用 voucherctl list-vouchers。", "The first 200 vouchers only; voucherctl list-vouchers lists them all.")) }
        }
        h2 { (language.pick("核销记录", "Redemptions")) }
        (redemption_table(language, reader.policy(), &shown.names, &shown.redemptions))
        (pager(language, next))
        (history.draw(language))
    };
    let title = shown.enterprise.name.as_str();
    Ok(shell(&viewer, &uri, Section::Enterprises, title, body))
}

/// What the page shows of one enterprise: its balances in the policy's program order, its
/// first vouchers (and whether it has more), one page of its redemptions and where the next
/// starts.
struct Shown {
    enterprise: Enterprise,
    balances: Vec<Balance>,
    vouchers: Vec<Voucher>,
    more_vouchers: bool,
    redemptions: Vec<Redemption>,
    next_redemptions: Option<String>,
    /// The names of the enterprise and of the providers its vouchers and claims name.
    names: Names,
}

impl Shown {
    fn read(
        reader: &Reader,
        code: CreditCode,
        after: Option<RedemptionId>,
        on_date: NaiveDate,
    ) -> Result<Shown, EngineError> {
        let enterprise = reader.enterprise(&code)?;
        let balances = balances_of(reader, &code, on_date)?;
        let vouchers = VoucherFilter {
            enterprise_credit_code: Some(code),
            program: None,
        };
        let vouchers = reader.list_vouchers(vouchers, None, ENTERPRISE_VOUCHERS_MAX)?;
        let redemptions = RedemptionFilter {
            enterprise_credit_code: Some(code),
            ..RedemptionFilter::default()
        };
        let redemptions =
            reader.list_redemptions(redemptions, Actor::Bureau, after, ROWS_PER_PAGE)?;
        let bound = vouchers
            .items
            .iter()
            .flat_map(|voucher| voucher.provider_credit_codes.iter().copied());
        let claimed = redemptions
            .items
            .iter()
            .map(|claim| claim.provider_credit_code);
        let names = Names::read(reader, [code], bound.chain(claimed))?;
        Ok(Shown {
            enterprise,
            balances,
            vouchers: vouchers.items,
            more_vouchers: vouchers.next_after.is_some(),
            redemptions: redemptions.items,
            next_redemptions: redemptions.next_after,
            names,
        })
    }
}

/// A wide card per program: the period, the balance's bar and figures, what is left.
pub(in crate::web) fn balance_cards(
    language: Language,
    programs: &[ProgramRules],
    balances: &[Balance],
) -> Markup {
    html! {
        div class="cards" {
            @for (rules, balance) in programs.iter().zip(balances) {
                div class="card wide" {
                    div class="label" { (program_name(language, rules)) " · " (balance.period.first) " – " (balance.period.last) }
                    (balance_figures(language, balance))
                    div class="figures" {
                        (language.pick("可发放 ", "available to issue ")) (yuan(balance.available_to_issue))
                        " · " (language.pick("待核销 ", "outstanding ")) (yuan(balance.outstanding))
                    }
                }
            }
        }
    }
}

/// A voucher a row, with the providers bound to it (none: any provider of its program), as
/// the enterprise's own page shows them: no links to the bureau's pages.
pub(in crate::web) fn voucher_table(
    language: Language,
    policy: &Policy,
    vouchers: &[Voucher],
) -> Markup {
    vouchers_drawn(language, policy, vouchers, None)
}

/// The bureau's voucher table: each voucher linking to its page, the program in words, the
/// bound providers named and linked.
fn linked_voucher_table(
    language: Language,
    policy: &Policy,
    names: &Names,
    vouchers: &[Voucher],
) -> Markup {
    vouchers_drawn(language, policy, vouchers, Some(names))
}

fn vouchers_drawn(
    language: Language,
    policy: &Policy,
    vouchers: &[Voucher],
    linked: Option<&Names>,
) -> Markup {
    let columns = [
        column(language.pick("券号", "Voucher")),
        column(language.pick("项目", "Program")),
        column(language.pick("状态", "Status")),
        number_column(language.pick("面值（元）", "Face value (yuan)")),
        number_column(language.pick("已核销（元）", "Redeemed (yuan)")),
        column(language.pick("有效期", "Valid")),
        column(language.pick("核销截止", "Redeem by")),
        column(language.pick("服务商", "Providers")),
    ];
    let any = language.pick("本项目任一服务商", "any of the program");
    let rows = vouchers.iter().map(|voucher| {
        let program = cell(program_of(policy, language, voucher.program));
        let (id, providers) = match linked {
            Some(names) => (
                voucher_cell(voucher.voucher_id),
                markup_cell(named_providers(names, &voucher.provider_credit_codes, any)),
            ),
            None => (
                cell(voucher.voucher_id),
                markup_cell(codes(&voucher.provider_credit_codes, any)),
            ),
        };
        row([
            id,
            program,
            status_cell(language, voucher.status),
            number_cell(yuan(voucher.face_value)),
            number_cell(yuan(voucher.redeemed)),
            cell(format!(
                "{} – {}",
                voucher.validity.first, voucher.validity.last
            )),
            cell(voucher.redeem_by),
            providers,
        ])
    });
    table(&columns, rows, None)
}

/// Providers one under another, each named and linking to its page; `none` when there are
/// none.
fn named_providers(names: &Names, codes: &BTreeSet<CreditCode>, none: &str) -> Markup {
    html! {
        @if codes.is_empty() {
            span class="hint" { (none) }
        }
        @for code in codes {
            div { (party("/providers/", names.provider(code), code)) }
        }
    }
}
