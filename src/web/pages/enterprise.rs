//! One enterprise (`/enterprises/{credit_code}`): its balances, its vouchers, its redemptions
//! and its history (the events naming its credit code).

use axum::extract::{OriginalUri, Path, Query, State};
use chrono::{Datelike, NaiveDate};
use maud::{Markup, html};
use serde::Deserialize;

use super::enterprises::{balance_figures, balances_of};
use super::history::of_record;
use super::query::{bad_field, day_of_year, optional};
use super::redemptions::redemption_table;
use super::{ENTERPRISE_VOUCHERS_MAX, ROWS_PER_PAGE, refused, shell};
use crate::domain::credit_code::CreditCode;
use crate::domain::ids::RedemptionId;
use crate::domain::model::{Actor, Balance, Enterprise, Redemption, Voucher};
use crate::domain::policy::ProgramRules;
use crate::engine::{EngineError, Reader, RedemptionFilter, VoucherFilter};
use crate::web::fragments::{
    cell, codes, column, markup_cell, number_cell, number_column, pager, row, status_cell, table,
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
    let code = CreditCode::parse(&credit_code)
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
        (voucher_table(language, &shown.vouchers))
        @if shown.more_vouchers {
            p class="hint" { (language.pick("仅显示前 200 张券；完整列表请用 voucherctl list-vouchers。", "The first 200 vouchers only; voucherctl list-vouchers lists them all.")) }
        }
        h2 { (language.pick("核销记录", "Redemptions")) }
        (redemption_table(language, &shown.redemptions))
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
        Ok(Shown {
            enterprise,
            balances,
            vouchers: vouchers.items,
            more_vouchers: vouchers.next_after.is_some(),
            redemptions: redemptions.items,
            next_redemptions: redemptions.next_after,
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

/// A voucher a row, with the providers bound to it (none: any provider of its program).
pub(in crate::web) fn voucher_table(language: Language, vouchers: &[Voucher]) -> Markup {
    let columns = [
        column(language.pick("券号", "Voucher")),
        column(language.pick("项目", "Program")),
        column(language.pick("状态", "Status")),
        number_column(language.pick("面值", "Face value")),
        number_column(language.pick("已核销", "Redeemed")),
        column(language.pick("有效期", "Valid")),
        column(language.pick("核销截止", "Redeem by")),
        column(language.pick("服务商", "Providers")),
    ];
    let rows = vouchers.iter().map(|voucher| {
        row([
            cell(voucher.voucher_id),
            cell(voucher.program),
            status_cell(language, voucher.status),
            number_cell(yuan(voucher.face_value)),
            number_cell(yuan(voucher.redeemed)),
            cell(format!(
                "{} – {}",
                voucher.validity.first, voucher.validity.last
            )),
            cell(voucher.redeem_by),
            markup_cell(codes(
                &voucher.provider_credit_codes,
                language.pick("本项目任一服务商", "any of the program"),
            )),
        ])
    });
    table(&columns, rows, None)
}
