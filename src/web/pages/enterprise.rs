//! One enterprise (`/enterprises/{credit_code}`): its balances, its vouchers and its
//! redemptions.

use axum::extract::{OriginalUri, Path, Query, State};
use chrono::Datelike;
use maud::{Markup, html};
use serde::Deserialize;

use super::enterprises::balance_cell;
use super::query::{bad_field, day_of_year, optional};
use super::redemptions::redemption_table;
use super::{ENTERPRISE_VOUCHERS_MAX, ROWS_PER_PAGE, chrome, pager};
use crate::domain::credit_code::CreditCode;
use crate::domain::ids::RedemptionId;
use crate::domain::model::Actor;
use crate::engine::{EngineError, RedemptionFilter, VoucherFilter};
use crate::web::layout::{self, Section, encode, program_name, yuan};
use crate::web::{Console, PageError, Viewer};

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
    let engine_error = |error: EngineError| PageError::engine(error, language);
    let enterprise = reader.enterprise(&code).map_err(engine_error)?;
    let on_date = day_of_year(reader, reader.today().year());
    let mut balances = Vec::new();
    for rules in reader.policy().programs() {
        balances.push((
            rules,
            reader
                .balance(&code, rules.code, Some(on_date))
                .map_err(engine_error)?,
        ));
    }
    let vouchers = reader
        .list_vouchers(
            VoucherFilter {
                enterprise_credit_code: Some(code),
                program: None,
            },
            None,
            ENTERPRISE_VOUCHERS_MAX,
        )
        .map_err(engine_error)?;
    let filter = RedemptionFilter {
        enterprise_credit_code: Some(code),
        ..RedemptionFilter::default()
    };
    let redemptions = reader
        .list_redemptions(filter, Actor::Bureau, after, ROWS_PER_PAGE)
        .map_err(engine_error)?;
    let next = redemptions
        .next_after
        .map(|after| format!("/enterprises/{code}?after={}", encode(&after)));
    let body = html! {
        p class="code" { (language.pick("统一社会信用代码 ", "Credit code ")) (code) }
        div class="cards" {
            @for (rules, balance) in &balances {
                div class="card wide" {
                    div class="label" { (program_name(language, rules)) " · " (balance.period.first) " – " (balance.period.last) }
                    (balance_cell(language, balance))
                    div class="figures" {
                        (language.pick("可发放 ", "available to issue ")) (yuan(balance.available_to_issue))
                        " · " (language.pick("待核销 ", "outstanding ")) (yuan(balance.outstanding))
                    }
                }
            }
        }
        h2 { (language.pick("券", "Vouchers")) }
        table class="list" {
            thead { tr {
                th { (language.pick("券号", "Voucher")) } th { (language.pick("项目", "Program")) }
                th { (language.pick("状态", "Status")) } th class="number" { (language.pick("面值", "Face value")) }
                th class="number" { (language.pick("已核销", "Redeemed")) } th { (language.pick("有效期", "Valid")) }
                th { (language.pick("核销截止", "Redeem by")) }
            } }
            tbody {
                @for voucher in &vouchers.items {
                    tr {
                        td { (voucher.voucher_id) } td { (voucher.program) }
                        td { (layout::voucher_status(language, voucher.status)) }
                        td class="number" { (yuan(voucher.face_value)) } td class="number" { (yuan(voucher.redeemed)) }
                        td { (voucher.validity.first) " – " (voucher.validity.last) } td { (voucher.redeem_by) }
                    }
                }
            }
        }
        @if vouchers.next_after.is_some() {
            p class="hint" { (language.pick("仅显示前 200 张券；完整列表请用 voucherctl list-vouchers。", "The first 200 vouchers only; voucherctl list-vouchers lists them all.")) }
        }
        h2 { (language.pick("核销记录", "Redemptions")) }
        (redemption_table(language, &redemptions.items))
        (pager(language, next))
    };
    Ok(layout::page(
        &chrome(&viewer, uri.to_string().as_str()),
        Section::Enterprises,
        enterprise.name.as_str(),
        body,
    ))
}

#[derive(Deserialize)]
pub struct PageQuery {
    after: Option<String>,
}
