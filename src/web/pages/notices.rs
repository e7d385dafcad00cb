//! Public notices (公示): the list (`/notices`) with the bureau's form to publish one (a
//! program's claims approved in a period, posted for some days), and one notice with its lines
//! (`/notices/{notice_id}`) and its history; each downloads as XLSX and CSV.

use axum::extract::{OriginalUri, Path, Query, State};
use maud::{Markup, html};
use serde::Deserialize;

use super::history::of_record;
use super::names::Names;
use super::query::{bad_field, optional};
use super::{ROWS_PER_PAGE, refused, shell};
use crate::domain::ids::NoticeId;
use crate::domain::model::{PublicNotice, Redemption};
use crate::domain::policy::{Policy, ProgramRules};
use crate::web::fragments::{
    LastAction, cell, claim_cell, code_cell, column, last_action, link_cell, markup_cell,
    number_cell, number_column, provider_cell, row, table,
};
use crate::web::i18n::Language;
use crate::web::layout::{Section, program_name, total, yuan};
use crate::web::paging::{paged_here, pager_here};
use crate::web::{Console, PageError, Viewer};

#[derive(Deserialize)]
pub struct NoticesQuery {
    after: Option<String>,
}

pub async fn notices(
    State(console): State<Console>,
    viewer: Viewer,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<NoticesQuery>,
) -> Result<Markup, PageError> {
    let after = optional(
        "after",
        query.after.as_deref(),
        NoticeId::parse,
        viewer.language,
    )?;
    render(&console, &viewer, &uri.to_string(), after, None)
}

/// One page of notices after `after`, the publish form for the bureau, what the last form did
/// on top.
pub fn render(
    console: &Console,
    viewer: &Viewer,
    here: &str,
    after: Option<NoticeId>,
    last: Option<&LastAction>,
) -> Result<Markup, PageError> {
    let language = viewer.language;
    let reader = console.engine.reader();
    let page = reader
        .list_notices(after, ROWS_PER_PAGE)
        .map_err(refused(language))?;
    let policy = reader.policy();
    let body = html! {
        (last_action(last))
        @if viewer.is_bureau() {
            (publish_form(language, &viewer.session.csrf, policy.programs()))
        }
        h2 { (language.pick("已发布的公示", "Published notices")) }
        (notice_table(language, policy, &page.items))
        (pager_here(language, &paged_here("/notices", here), page.next_after.as_deref(), page.items.len(), None))
    };
    let title = language.pick("公示", "Public notices");
    Ok(shell(viewer, here, Section::Notices, title, body))
}

fn publish_form(language: Language, csrf: &str, programs: &[ProgramRules]) -> Markup {
    html! {
        form method="post" action="/actions/publish-notice" class="action" id="publish-notice" {
            h2 { (language.pick("发布公示", "Publish a notice")) }
            p class="hint" { (language.pick(
                "公示列出该项目在审核期间内审核通过（含已结算）的全部核销。",
                "A notice lists every claim of the program approved (or since settled) on a day of the approval period."
            )) }
            input type="hidden" name="csrf" value=(csrf);
            label { (language.pick("项目", "Program"))
                select name="program" required {
                    @for rules in programs { option value=(rules.code) { (program_name(language, rules)) } }
                }
            }
            label { (language.pick("审核期间自", "Approved from")) input type="date" name="approved_from" required; }
            label { (language.pick("审核期间至", "Approved until")) input type="date" name="approved_until" required; }
            label { (language.pick("公示期自", "Posted from")) input type="date" name="posted_from" required; }
            label { (language.pick("公示期至", "Posted until")) input type="date" name="posted_until" required; }
            button type="submit" { (language.pick("发布", "Publish")) }
        }
    }
}

/// A program's name in the reader's language; its code word if the policy in force lacks it.
fn program_of(policy: &Policy, language: Language, notice: &PublicNotice) -> String {
    policy
        .program(notice.program)
        .map(|rules| program_name(language, rules))
        .unwrap_or_else(|_| notice.program.to_string())
}

fn notice_table(language: Language, policy: &Policy, notices: &[PublicNotice]) -> Markup {
    let columns = [
        column(language.pick("公示编号", "Notice")),
        column(language.pick("项目", "Program")),
        column(language.pick("审核期间", "Approved")),
        column(language.pick("公示期", "Posted")),
        number_column(language.pick("笔数", "Lines")),
        number_column(language.pick("补贴合计（元）", "Total (yuan)")),
        column(language.pick("发布时间", "Published")),
        column(language.pick("下载", "Download")),
    ];
    let rows = notices.iter().map(|notice| {
        let id = notice.notice_id;
        row([
            link_cell(&format!("/notices/{id}"), id),
            cell(program_of(policy, language, notice)),
            cell(format!(
                "{} – {}",
                notice.approved_in.first, notice.approved_in.last
            )),
            cell(format!("{} – {}", notice.posted.first, notice.posted.last)),
            number_cell(notice.redemption_ids.len()),
            number_cell(total(notice.total)),
            cell(notice.published_at.format("%Y-%m-%d %H:%M")),
            markup_cell(downloads(id)),
        ])
    });
    let empty = language.pick("尚无公示。", "No notice yet.");
    table(&columns, rows, Some(empty))
}

fn downloads(id: NoticeId) -> Markup {
    html! {
        a href={"/downloads/notice?id=" (id) "&format=xlsx"} { "XLSX" }
        " · "
        a href={"/downloads/notice?id=" (id) "&format=csv"} { "CSV" }
    }
}

pub async fn notice(
    State(console): State<Console>,
    viewer: Viewer,
    OriginalUri(uri): OriginalUri,
    Path(notice_id): Path<String>,
) -> Result<Markup, PageError> {
    let language = viewer.language;
    let reader = console.engine.reader();
    let typed = crate::domain::typed::id_as_typed(&notice_id);
    let notice_id =
        NoticeId::parse(&typed).map_err(|error| bad_field("notice_id", error, language))?;
    let notice = reader.notice(&notice_id).map_err(refused(language))?;
    let history = of_record(&console, notice_id).await;
    let lines = reader.notice_lines(&notice).map_err(refused(language))?;
    let providers = lines.iter().map(|(claim, _)| claim.provider_credit_code);
    let names = Names::read(reader, [], providers).map_err(refused(language))?;
    let policy = reader.policy();
    let body = html! {
        p {
            (program_of(policy, language, &notice))
            " · " (language.pick("审核期间 ", "approved ")) (notice.approved_in.first) " – " (notice.approved_in.last)
            " · " (language.pick("公示期 ", "posted ")) (notice.posted.first) " – " (notice.posted.last)
            " · " (language.pick("补贴合计 ", "total ")) (total(notice.total))
        }
        p class="downloads" {
            a class="button" href={"/downloads/notice?id=" (notice_id) "&format=xlsx"} { (language.pick("下载 XLSX", "Download XLSX")) }
            " "
            a class="button secondary" href={"/downloads/notice?id=" (notice_id) "&format=csv"} { (language.pick("下载 CSV", "Download CSV")) }
        }
        (line_table(language, &names, &lines))
        (history.draw(language))
    };
    let title = format!("{} {notice_id}", language.pick("公示", "Notice"));
    Ok(shell(&viewer, &uri, Section::Notices, &title, body))
}

/// A notice's line a row, as published, each claim, enterprise and provider linking to its
/// page (the provider named over its code).
fn line_table(language: Language, names: &Names, lines: &[(Redemption, String)]) -> Markup {
    let columns = [
        column(language.pick("核销编号", "Redemption")),
        column(language.pick("企业信用代码", "Enterprise credit code")),
        column(language.pick("企业名称", "Enterprise")),
        column(language.pick("服务商", "Provider")),
        number_column(language.pick("补贴金额（元）", "Subsidy (yuan)")),
    ];
    let rows = lines.iter().map(|(claim, name)| {
        let (enterprise, provider) = (claim.enterprise_credit_code, claim.provider_credit_code);
        row([
            claim_cell(claim.redemption_id),
            code_cell(enterprise),
            link_cell(&format!("/enterprises/{enterprise}"), name),
            provider_cell(names.provider(&provider), provider),
            number_cell(yuan(claim.subsidy)),
        ])
    });
    table(&columns, rows, None)
}
