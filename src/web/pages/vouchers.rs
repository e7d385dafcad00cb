//! Vouchers and the providers bound to them: the active vouchers any provider of their program
//! may redeem (`/vouchers/unbound`, issued before binding existed or without providers); one
//! voucher (`/vouchers/{voucher_id}`, the id in any case): its enterprise, program, face value,
//! redeemed and remaining, validity, status, bound providers, who issued and closed it, its
//! application, its claims and its history; and its providers' page
//! (`/vouchers/{voucher_id}/providers`), where the bureau binds or changes them with a reason.

use std::collections::BTreeSet;

use axum::extract::{OriginalUri, Path, Query, State};
use maud::{Markup, html};
use serde::Deserialize;

use super::history::{History, of_record, who};
use super::names::Names;
use super::providers::program_of;
use super::query::{bad_field, optional};
use super::redemptions::redemption_table;
use super::{PROVIDERS_MAX, ROWS_PER_PAGE, refused, shell};
use crate::domain::credit_code::CreditCode;
use crate::domain::ids::{RedemptionId, VoucherId};
use crate::domain::model::{Actor, EventCause, Provider, Redemption, Timestamp, Voucher};
use crate::domain::policy::{Policy, ProgramCode};
use crate::engine::{EngineError, Reader, RedemptionFilter, VoucherFilter};
use crate::web::fragments::{
    LastAction, cell, codes, column, enterprise_cell, field_table, last_action, link_cell,
    markup_cell, number_cell, number_column, pager, party, row, status_cell, table, voucher_cell,
};
use crate::web::i18n::Language;
use crate::web::layout::{Section, StatusWord, encode, yuan};
use crate::web::paging::{paged_here, pager_here};
use crate::web::{Console, PageError, Viewer};

/// Claims of the voucher's enterprise and program read for one page of the voucher's claims:
/// the reader has no filter by voucher, so the page keeps the voucher's among these.
pub const VOUCHER_CLAIMS_SCAN: usize = 1000;

#[derive(Deserialize)]
pub struct VoucherQuery {
    claims_after: Option<String>,
}

pub async fn voucher(
    State(console): State<Console>,
    viewer: Viewer,
    OriginalUri(uri): OriginalUri,
    Path(voucher_id): Path<String>,
    Query(query): Query<VoucherQuery>,
) -> Result<Markup, PageError> {
    let language = viewer.language;
    let typed = crate::domain::typed::id_as_typed(&voucher_id);
    let voucher_id =
        VoucherId::parse(&typed).map_err(|error| bad_field("voucher_id", error, language))?;
    let claims_after = optional(
        "claims_after",
        query.claims_after.as_deref(),
        RedemptionId::parse,
        language,
    )?;
    let reader = console.engine.reader();
    let voucher = reader.voucher(&voucher_id).map_err(refused(language))?;
    let claims = claims_of(reader, &voucher, claims_after).map_err(refused(language))?;
    let names = Names::read(
        reader,
        [voucher.enterprise_credit_code],
        voucher
            .provider_credit_codes
            .iter()
            .copied()
            .chain(claims.items.iter().map(|claim| claim.provider_credit_code)),
    )
    .map_err(refused(language))?;
    let history = of_record(&console, voucher_id).await;
    let next = claims
        .next_after
        .as_ref()
        .map(|after| format!("/vouchers/{voucher_id}?claims_after={}", encode(after)));
    let body = html! {
        (voucher_fields(language, reader.policy(), &names, &voucher))
        h2 { (language.pick("核销记录", "Claims")) }
        (redemption_table(language, reader.policy(), &names, &claims.items))
        @if next.is_some() {
            p class="hint" { (language.pick(
                "本页只查找了该企业在本项目下的 1,000 笔核销；下一页继续查找。",
                "This page searched 1,000 claims of the enterprise under the program; the next page searches on."
            )) }
        }
        (pager(language, next))
        (history.draw(language))
    };
    let title = format!("{} {voucher_id}", language.pick("券", "Voucher"));
    Ok(shell(&viewer, &uri, Section::Unbound, &title, body))
}

/// One page of the voucher's claims: those of its enterprise and program after `after`, at
/// most [`VOUCHER_CLAIMS_SCAN`] read, the voucher's kept; and where the next page starts.
fn claims_of(
    reader: &Reader,
    voucher: &Voucher,
    after: Option<RedemptionId>,
) -> Result<crate::engine::Page<Redemption>, EngineError> {
    let filter = RedemptionFilter {
        enterprise_credit_code: Some(voucher.enterprise_credit_code),
        program: Some(voucher.program),
        ..RedemptionFilter::default()
    };
    let mut page = reader.list_redemptions(filter, Actor::Bureau, after, VOUCHER_CLAIMS_SCAN)?;
    page.items
        .retain(|claim| claim.voucher_id == voucher.voucher_id);
    Ok(page)
}

/// The voucher's fields, a row each.
fn voucher_fields(language: Language, policy: &Policy, names: &Names, voucher: &Voucher) -> Markup {
    let enterprise = voucher.enterprise_credit_code;
    let id = voucher.voucher_id;
    let providers = html! {
        @if voucher.provider_credit_codes.is_empty() {
            span class="hint" { (language.pick("未绑定：本项目任一服务商均可核销。", "None: any provider of the program may redeem it.")) }
        }
        @for code in &voucher.provider_credit_codes {
            div { (party("/providers/", names.provider(code), code)) }
        }
        div { a href={"/vouchers/" (id) "/providers"} { (language.pick("查看或变更服务商 →", "See or change the providers →")) } }
    };
    let when_by = |at: &Timestamp, by: &EventCause| {
        html! {
            (at.format("%Y-%m-%d %H:%M")) " · " (who(language, by))
        }
    };
    let mut rows = vec![
        (
            language.pick("券号", "Voucher"),
            html! { span class="code" { (id) } },
        ),
        (
            language.pick("状态", "Status"),
            html! { strong { (voucher.status.word(language)) } },
        ),
        (
            language.pick("企业", "Enterprise"),
            party("/enterprises/", names.enterprise(&enterprise), enterprise),
        ),
        (
            language.pick("项目", "Program"),
            html! { (program_of(policy, language, voucher.program)) },
        ),
        (
            language.pick("面值（元）", "Face value (yuan)"),
            html! { (yuan(voucher.face_value)) },
        ),
        (
            language.pick("已核销（元）", "Redeemed (yuan)"),
            html! { (yuan(voucher.redeemed)) },
        ),
        (
            language.pick("可用余额（元）", "Remaining (yuan)"),
            html! { strong class="remaining" { (yuan(voucher.remaining())) } },
        ),
        (
            language.pick("有效期", "Valid"),
            html! { (voucher.validity.first) " – " (voucher.validity.last) },
        ),
        (
            language.pick("核销截止", "Redeem by"),
            html! { (voucher.redeem_by) },
        ),
        (
            language.pick("额度期间", "Cap period"),
            html! { (voucher.cap_period.first) " – " (voucher.cap_period.last) },
        ),
        (language.pick("服务商", "Providers"), providers),
        (
            language.pick("发放", "Issued"),
            when_by(&voucher.issued_at, &voucher.issued_by),
        ),
    ];
    if let Some(closed_at) = &voucher.closed_at {
        let by = voucher.closed_by.clone().unwrap_or_default();
        rows.push((language.pick("关闭", "Closed"), when_by(closed_at, &by)));
    }
    if let Some(reason) = &voucher.revocation_reason {
        rows.push((
            language.pick("撤销原因", "Why revoked"),
            html! { (reason.as_str()) },
        ));
    }
    if let Some(application) = voucher.application_id {
        rows.push((
            language.pick("申领编号", "Application"),
            html! { span class="code" { (application) } },
        ));
    }
    field_table(rows)
}

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
    let names = Names::read(
        reader,
        unbound.iter().map(|voucher| voucher.enterprise_credit_code),
        [],
    )
    .map_err(refused(language))?;
    let body = html! {
        p class="hint" { (language.pick(
            "以下有效券未绑定服务商：本项目任一服务商均可核销。点“绑定”选择服务商。",
            "These active vouchers are bound to no provider: any provider of their program may redeem them. Choose providers under “Bind”."
        )) }
        (unbound_table(language, reader.policy(), &names, &unbound))
        (pager_here(language, &paged_here("/vouchers/unbound", &uri.to_string()), page.next_after.as_deref(), unbound.len(), None))
    };
    let title = language.pick("未绑定服务商的券", "Unbound vouchers");
    Ok(shell(&viewer, &uri, Section::Unbound, title, body))
}

fn unbound_table(
    language: Language,
    policy: &Policy,
    names: &Names,
    vouchers: &[&Voucher],
) -> Markup {
    let columns = [
        column(language.pick("券号", "Voucher")),
        column(language.pick("企业", "Enterprise")),
        column(language.pick("项目", "Program")),
        number_column(language.pick("面值（元）", "Face value (yuan)")),
        number_column(language.pick("已核销（元）", "Redeemed (yuan)")),
        column(language.pick("有效期", "Valid")),
        column(language.pick("绑定", "Bind")),
    ];
    let rows = vouchers.iter().map(|voucher| {
        let enterprise = voucher.enterprise_credit_code;
        row([
            voucher_cell(voucher.voucher_id),
            enterprise_cell(names.enterprise(&enterprise), enterprise),
            cell(program_of(policy, language, voucher.program)),
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
    let typed = crate::domain::typed::id_as_typed(&voucher_id);
    let voucher_id = VoucherId::parse(&typed)
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
        (voucher_summary(language, reader.policy(), &voucher))
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

fn voucher_summary(language: Language, policy: &Policy, voucher: &Voucher) -> Markup {
    let columns = [
        column(language.pick("券号", "Voucher")),
        column(language.pick("企业", "Enterprise")),
        column(language.pick("项目", "Program")),
        column(language.pick("状态", "Status")),
        number_column(language.pick("面值（元）", "Face value (yuan)")),
        number_column(language.pick("已核销（元）", "Redeemed (yuan)")),
        column(language.pick("申领编号", "Application")),
    ];
    let enterprise = voucher.enterprise_credit_code;
    let application = voucher
        .application_id
        .map_or_else(String::new, |id| id.to_string());
    let cells = [
        voucher_cell(voucher.voucher_id),
        link_cell(&format!("/enterprises/{enterprise}"), enterprise),
        cell(program_of(policy, language, voucher.program)),
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
