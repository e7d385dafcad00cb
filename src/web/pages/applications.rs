//! The enterprises' applications (`/applications`): those waiting for the bureau first, or
//! those of one status; on each waiting row the bureau approves (at the amount applied for or
//! a lower face value) or rejects with a reason. Auditors read the same list without forms.

use axum::extract::{OriginalUri, Query, State};
use maud::{Markup, html};
use serde::Deserialize;

use super::names::Names;
use super::query::{bad_field, optional};
use super::{ROWS_PER_PAGE, refused, shell};
use crate::domain::ids::ApplicationId;
use crate::domain::input::InputError;
use crate::domain::model::{Actor, ApplicationStatus, VoucherApplication};
use crate::domain::policy::Policy;
use crate::domain::reason::ReasonCode;
use crate::web::fragments::{
    LastAction, cell, column, enterprise_cell, last_action, markup_cell, number_cell,
    number_column, party, row, row_form, table, voucher_link,
};
use crate::web::i18n::Language;
use crate::web::layout::{Section, StatusWord, program_name, yuan};
use crate::web::paging::{paged_here, pager_here};
use crate::web::{Console, PageError, Viewer};

#[derive(Deserialize)]
pub struct ApplicationsQuery {
    status: Option<String>,
    after: Option<String>,
}

/// Which applications the page lists: one status (waiting ones by default) or all.
pub struct Asked {
    status: Option<ApplicationStatus>,
    /// The status as the query says it, carried to the next page.
    word: &'static str,
    after: Option<ApplicationId>,
}

impl Asked {
    /// The first page of those waiting for the bureau: what a form answers with.
    pub fn pending() -> Asked {
        Asked {
            status: Some(ApplicationStatus::Pending),
            word: "pending",
            after: None,
        }
    }

    fn parse(query: &ApplicationsQuery, language: Language) -> Result<Asked, PageError> {
        let (status, word) = match query.status.as_deref().unwrap_or("pending") {
            "" | "pending" => (Some(ApplicationStatus::Pending), "pending"),
            "approved" => (Some(ApplicationStatus::Approved), "approved"),
            "rejected" => (Some(ApplicationStatus::Rejected), "rejected"),
            "all" => (None, "all"),
            other => {
                return Err(bad_field(
                    "status",
                    InputError::new(
                        ReasonCode::NotAllowed,
                        format!("{other:?} is not pending, approved, rejected or all"),
                    ),
                    language,
                ));
            }
        };
        let after = optional(
            "after",
            query.after.as_deref(),
            ApplicationId::parse,
            language,
        )?;
        Ok(Asked {
            status,
            word,
            after,
        })
    }
}

pub async fn applications(
    State(console): State<Console>,
    viewer: Viewer,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<ApplicationsQuery>,
) -> Result<Markup, PageError> {
    let asked = Asked::parse(&query, viewer.language)?;
    render(&console, &viewer, &uri.to_string(), &asked, None)
}

/// The page for `asked`, what the last form did on top.
pub fn render(
    console: &Console,
    viewer: &Viewer,
    here: &str,
    asked: &Asked,
    last: Option<&LastAction>,
) -> Result<Markup, PageError> {
    let language = viewer.language;
    let reader = console.engine.reader();
    let page = reader
        .list_applications(
            None,
            asked.status,
            Actor::Bureau,
            asked.after,
            ROWS_PER_PAGE,
        )
        .map_err(refused(language))?;
    let names = Names::read(
        reader,
        page.items
            .iter()
            .map(|application| application.enterprise_credit_code),
        page.items
            .iter()
            .flat_map(|application| application.provider_credit_codes.iter().copied()),
    )
    .map_err(refused(language))?;
    let base = format!("/applications?status={}", asked.word);
    let forms = viewer.is_bureau().then_some(viewer.session.csrf.as_str());
    let body = html! {
        (last_action(last))
        (status_links(language, asked.word))
        (application_table(language, reader.policy(), &names, &page.items, forms))
        (pager_here(language, &paged_here(&base, here), page.next_after.as_deref(), page.items.len(), None))
    };
    let title = language.pick("申领审批", "Applications");
    Ok(shell(viewer, here, Section::Applications, title, body))
}

/// A link per status, the one shown lit.
fn status_links(language: Language, word: &str) -> Markup {
    let links = [
        ("pending", ApplicationStatus::Pending.word(language)),
        ("approved", ApplicationStatus::Approved.word(language)),
        ("rejected", ApplicationStatus::Rejected.word(language)),
        ("all", language.pick("全部", "all")),
    ];
    html! {
        p class="near" {
            @for (value, label) in links {
                a class={"button secondary" @if value == word { " active" }} href={"/applications?status=" (value)} { (label) }
            }
        }
    }
}

/// An application a row, its enterprise and providers named and linking to their pages, the
/// voucher it was issued as linking to its page; with `forms` (the bureau's CSRF secret),
/// approve and reject on the waiting ones.
fn application_table(
    language: Language,
    policy: &Policy,
    names: &Names,
    applications: &[VoucherApplication],
    forms: Option<&str>,
) -> Markup {
    let mut columns = vec![
        column(language.pick("申领编号", "Application")),
        column(language.pick("企业", "Enterprise")),
        column(language.pick("项目", "Program")),
        number_column(language.pick("申领金额（元）", "Amount (yuan)")),
        column(language.pick("服务商", "Providers")),
        column(language.pick("合同", "Contract")),
        column(language.pick("用途", "Purpose")),
        column(language.pick("其他补贴", "Other subsidies")),
        column(language.pick("状态", "Status")),
    ];
    if forms.is_some() {
        columns.push(column(language.pick("审批", "Decide")));
    }
    let rows = applications.iter().map(|application| {
        let code = application.enterprise_credit_code;
        let providers = html! {
            @for provider in &application.provider_credit_codes {
                div { (party("/providers/", names.provider(provider), provider)) }
            }
        };
        let mut cells = vec![
            cell(application.application_id),
            enterprise_cell(names.enterprise(&code), code),
            cell(program_of(policy, language, application)),
            number_cell(yuan(application.amount)),
            markup_cell(providers),
            markup_cell(contract(application)),
            cell(application.purpose.as_str()),
            cell(other_subsidies(language, application)),
            markup_cell(decision_drawn(language, application, true)),
        ];
        if let Some(csrf) = forms {
            cells.push(markup_cell(decide_forms(language, csrf, application)));
        }
        row(cells)
    });
    let empty = language.pick("没有符合条件的申领。", "No application matches.");
    table(&columns, rows, Some(empty))
}

fn program_of(policy: &Policy, language: Language, application: &VoucherApplication) -> String {
    policy
        .program(application.program)
        .map(|rules| program_name(language, rules))
        .unwrap_or_else(|_| application.program.to_string())
}

/// The contract's number over the start of its SHA-256 (the whole of it on hover).
pub(in crate::web) fn contract(application: &VoucherApplication) -> Markup {
    let sha256 = application.contract_sha256.as_str();
    html! {
        (application.contract_number.as_str())
        div class="code" title=(sha256) { "SHA-256 " (&sha256[..16]) "…" }
    }
}

pub(in crate::web) fn other_subsidies(
    language: Language,
    application: &VoucherApplication,
) -> String {
    application.other_subsidies.as_ref().map_or_else(
        || language.pick("无", "none").to_owned(),
        ToString::to_string,
    )
}

/// The status, with the voucher it was issued as or why it was refused.
pub(in crate::web) fn decision(language: Language, application: &VoucherApplication) -> Markup {
    decision_drawn(language, application, false)
}

/// [`decision`], the voucher linking to its page when `linked` (the bureau's pages).
fn decision_drawn(language: Language, application: &VoucherApplication, linked: bool) -> Markup {
    html! {
        (application.status.word(language))
        @if let Some(voucher_id) = application.voucher_id {
            div class="code" {
                @if linked { (voucher_link(voucher_id)) } @else { (voucher_id) }
            }
        }
        @if let Some(reason) = &application.rejection_reason {
            div class="hint" { (reason.as_str()) }
        }
    }
}

/// Approve (a lower face value may be typed) and reject (a reason is needed), on a waiting row.
fn decide_forms(language: Language, csrf: &str, application: &VoucherApplication) -> Markup {
    if application.status != ApplicationStatus::Pending {
        return html! {};
    }
    let id = application.application_id.to_string();
    let approve = html! {
        input name="face_value" inputmode="decimal" maxlength="40"
            placeholder=(language.pick("面值（空：按申领金额）", "Face value (empty: as applied)"))
            aria-label=(language.pick("面值", "Face value"));
    };
    let reject = html! {
        input name="reason" required maxlength="500"
            placeholder=(language.pick("驳回原因", "Why"))
            aria-label=(language.pick("驳回原因", "Reason"));
    };
    html! {
        (row_form("/actions/approve-application", csrf, ("application_id", &id), approve,
            html! { button type="submit" class="small" { (language.pick("批准发券", "Approve")) } }))
        (row_form("/actions/reject-application", csrf, ("application_id", &id), reject,
            html! { button type="submit" class="small danger" { (language.pick("驳回", "Reject")) } }))
    }
}
