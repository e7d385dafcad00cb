//! Vouchers and the providers bound to them: the active vouchers any provider of their program
//! may redeem (`/vouchers/unbound`, issued before binding existed or without providers), and
//! one voucher's page (`/vouchers/{voucher_id}/providers`): its providers, where the bureau
//! binds or changes them with a reason, and its history.

use std::collections::BTreeSet;

use axum::extract::{OriginalUri, Path, Query, State};
use maud::{Markup, html};
use serde::Deserialize;

use super::history::{History, of_record};
use super::query::{bad_field, optional};
use super::{PROVIDERS_MAX, ROWS_PER_PAGE, refused, shell};
use crate::domain::credit_code::CreditCode;
use crate::domain::ids::VoucherId;
use crate::domain::model::{Provider, Voucher};
use crate::domain::policy::ProgramCode;
use crate::engine::{EngineError, Reader, VoucherFilter};
use crate::web::fragments::{
    LastAction, cell, codes, column, last_action, link_cell, markup_cell, number_cell,
    number_column, pager, row, status_cell, table,
};
use crate::web::i18n::Language;
use crate::web::layout::{Section, encode, yuan};
use crate::web::{Console, PageError, Viewer};

#[derive(Deserialize)]
pub struct UnboundQuery {
    after: Option<String>,
}

pub async fn unbound_vouchers(
    State(console): State<Console>,
    viewer: Viewer,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<UnboundQuery>,
) -> Result<Markup, PageError> {
    let language = viewer.language;
    let reader = console.engine.reader();
    let after = optional("after", query.after.as_deref(), VoucherId::parse, language)?;
    let page = reader
        .list_vouchers(VoucherFilter::default(), after, ROWS_PER_PAGE)
        .map_err(refused(language))?;
    let unbound: Vec<&Voucher> = page
        .items
        .iter()
        .filter(|voucher| voucher.is_active() && voucher.provider_credit_codes.is_empty())
        .collect();
    let next = page
        .next_after
        .map(|after| format!("/vouchers/unbound?after={}", encode(&after)));
    let body = html! {
        p class="hint" { (language.pick(
            "以下有效券未绑定服务商：本项目任一服务商均可核销。点“绑定”选择服务商。",
            "These active vouchers are bound to no provider: any provider of their program may redeem them. Choose providers under “Bind”."
        )) }
        (unbound_table(language, &unbound))
        (pager(language, next))
    };
    let title = language.pick("未绑定服务商的券", "Unbound vouchers");
    Ok(shell(&viewer, &uri, Section::Unbound, title, body))
}

fn unbound_table(language: Language, vouchers: &[&Voucher]) -> Markup {
    let columns = [
        column(language.pick("券号", "Voucher")),
        column(language.pick("企业", "Enterprise")),
        column(language.pick("项目", "Program")),
        number_column(language.pick("面值", "Face value")),
        number_column(language.pick("已核销", "Redeemed")),
        column(language.pick("有效期", "Valid")),
        column(language.pick("绑定", "Bind")),
    ];
    let rows = vouchers.iter().map(|voucher| {
        let enterprise = voucher.enterprise_credit_code;
        row([
            cell(voucher.voucher_id),
            link_cell(&format!("/enterprises/{enterprise}"), enterprise),
            cell(voucher.program),
            number_cell(yuan(voucher.face_value)),
            number_cell(yuan(voucher.redeemed)),
            cell(format!(
                "{} – {}",
                voucher.validity.first, voucher.validity.last
            )),
            link_cell(
                &format!("/vouchers/{}/providers", voucher.voucher_id),
                language.pick("绑定", "Bind"),
            ),
        ])
    });
    let empty = language.pick(
        "本页没有未绑定的有效券。",
        "No unbound active voucher on this page.",
    );
    table(&columns, rows, Some(empty))
}

pub async fn voucher_providers(
    State(console): State<Console>,
    viewer: Viewer,
    Path(voucher_id): Path<String>,
) -> Result<Markup, PageError> {
    let voucher_id = VoucherId::parse(&voucher_id)
        .map_err(|error| bad_field("voucher_id", error, viewer.language))?;
    let history = of_record(&console, voucher_id).await;
    render_providers(&console, &viewer, voucher_id, &history, None)
}

/// One voucher's providers, with the bureau's form to change them, what the last form did on
/// top, and its history.
pub fn render_providers(
    console: &Console,
    viewer: &Viewer,
    voucher_id: VoucherId,
    history: &History,
    last: Option<&LastAction>,
) -> Result<Markup, PageError> {
    let language = viewer.language;
    let reader = console.engine.reader();
    let voucher = reader.voucher(&voucher_id).map_err(refused(language))?;
    let (pool, more) = providers_of(reader, voucher.program).map_err(refused(language))?;
    let body = html! {
        (last_action(last))
        (voucher_summary(language, &voucher))
        h2 { (language.pick("绑定的服务商", "Bound providers")) }
        (codes(&voucher.provider_credit_codes, language.pick("未绑定：本项目任一服务商均可核销。", "None: any provider of the program may redeem it.")))
        @if viewer.is_bureau() {
            h2 { (language.pick("变更服务商", "Change the providers")) }
            form method="post" action="/actions/change-voucher-providers" class="action" {
                input type="hidden" name="csrf" value=(viewer.session.csrf);
                input type="hidden" name="voucher_id" value=(voucher.voucher_id);
                (provider_choices(language, &pool, &voucher.provider_credit_codes))
                @if more { p class="hint" { (language.pick("仅列出前 1000 家服务商。", "The first 1,000 providers only.")) } }
                label { (language.pick("原因", "Reason")) input name="reason" required maxlength="500"; }
                button type="submit" { (language.pick("保存", "Save")) }
            }
        }
        (history.draw(language))
    };
    let here = format!("/vouchers/{voucher_id}/providers");
    let title = format!("{} {}", language.pick("券", "Voucher"), voucher.voucher_id);
    Ok(shell(viewer, here, Section::Unbound, &title, body))
}

fn voucher_summary(language: Language, voucher: &Voucher) -> Markup {
    let columns = [
        column(language.pick("企业", "Enterprise")),
        column(language.pick("项目", "Program")),
        column(language.pick("状态", "Status")),
        number_column(language.pick("面值", "Face value")),
        number_column(language.pick("已核销", "Redeemed")),
        column(language.pick("申领编号", "Application")),
    ];
    let enterprise = voucher.enterprise_credit_code;
    let application = voucher
        .application_id
        .map_or_else(String::new, |id| id.to_string());
    let cells = [
        link_cell(&format!("/enterprises/{enterprise}"), enterprise),
        cell(voucher.program),
        status_cell(language, voucher.status),
        number_cell(yuan(voucher.face_value)),
        number_cell(yuan(voucher.redeemed)),
        markup_cell(html! { (application) }),
    ];
    table(&columns, [row(cells)], None)
}

/// The registered providers of `program` (from the first [`PROVIDERS_MAX`] of the pool), and
/// whether the pool had more.
pub(in crate::web) fn providers_of(
    reader: &Reader,
    program: ProgramCode,
) -> Result<(Vec<Provider>, bool), EngineError> {
    let pool = reader.list_providers(None, PROVIDERS_MAX)?;
    let more = pool.next_after.is_some();
    let of_program = pool
        .items
        .into_iter()
        .filter(|provider| provider.program == program)
        .collect();
    Ok((of_program, more))
}

/// A checkbox per provider (name over code), those in `chosen` ticked; a suspended provider is
/// offered only when already chosen, and says it is suspended.
pub(in crate::web) fn provider_choices(
    language: Language,
    providers: &[Provider],
    chosen: &BTreeSet<CreditCode>,
) -> Markup {
    let offered: Vec<&Provider> = providers
        .iter()
        .filter(|provider| {
            !provider.access.is_suspended() || chosen.contains(&provider.credit_code)
        })
        .collect();
    html! {
        fieldset class="providers" {
            legend { (language.pick("服务商", "Providers")) }
            @if offered.is_empty() {
                span class="hint" { (language.pick("本项目尚无可选的服务商。", "The program has no provider to choose.")) }
            }
            @for provider in offered {
                label {
                    input type="checkbox" name="provider" value=(provider.credit_code)
                        checked[chosen.contains(&provider.credit_code)];
                    (provider.name.as_str()) " " span class="code" { (provider.credit_code) }
                    @if provider.access.is_suspended() {
                        " " span class="hint" { (language.pick("（已暂停）", "(suspended)")) }
                    }
                }
            }
        }
    }
}
