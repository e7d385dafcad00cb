//! The claims made in the enterprise's name (`/my/claims`): each with its status and whether the
//! enterprise confirmed it; on those it may still confirm, a button, and on those it may still
//! dispute, a reason and a button. The forms post to `/my/confirm` and `/my/dispute`, which act
//! in the enterprise's own name (another's claim answers as one that does not exist).

use axum::Form;
use axum::extract::{OriginalUri, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::{EnterpriseViewer, shell};
use crate::api::enterprise;
use crate::domain::ids::RedemptionId;
use crate::domain::ledger::Outcome;
use crate::domain::model::{Redemption, RedemptionStatus};
use crate::domain::policy::Policy;
use crate::engine::RedemptionFilter;
use crate::proto::voucher::v1 as pb;
use crate::web::actions::{answer, submit};
use crate::web::counts::{awaits_confirmation, confirmation_asked};
use crate::web::fragments::{
    LastAction, cell, column, last_action, markup_cell, number_cell, number_column, pager, row,
    row_form, status_cell, table,
};
use crate::web::i18n::Language;
use crate::web::layout::{Section, StatusWord, encode, yuan};
use crate::web::pages::query::optional;
use crate::web::pages::{ROWS_PER_PAGE, refused};
use crate::web::{Console, PageError};

#[derive(Deserialize)]
pub struct ClaimsQuery {
    after: Option<String>,
}

pub async fn claims(
    State(console): State<Console>,
    viewer: EnterpriseViewer,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<ClaimsQuery>,
) -> Result<Markup, PageError> {
    let language = viewer.viewer.language;
    let after = optional(
        "after",
        query.after.as_deref(),
        RedemptionId::parse,
        language,
    )?;
    render(&console, &viewer, &uri.to_string(), after, None)
}

/// One page of the claims in the enterprise's name, what the last form did on top.
fn render(
    console: &Console,
    viewer: &EnterpriseViewer,
    here: &str,
    after: Option<RedemptionId>,
    last: Option<&LastAction>,
) -> Result<Markup, PageError> {
    let language = viewer.viewer.language;
    let reader = console.engine.reader();
    // The reader pins an enterprise's filter to its own code.
    let page = reader
        .list_redemptions(
            RedemptionFilter::default(),
            viewer.actor(),
            after,
            ROWS_PER_PAGE,
        )
        .map_err(refused(language))?;
    let next = page
        .next_after
        .map(|after| format!("/my/claims?after={}", encode(&after)));
    let policy = reader.policy();
    let body = html! {
        (last_action(last))
        @if confirmation_asked(policy) {
            p class="hint" { (language.pick(
                "标有“待确认”的核销，须经本企业确认后数据局方可审核通过。如核销并非本企业的交易，请提出异议并说明原因。",
                "A claim marked “to confirm” is approved by the bureau only once this enterprise confirmed it. If a claim is not this enterprise's own purchase, dispute it and say why."
            )) }
        }
        (claim_table(language, policy, &viewer.viewer.session.csrf, &page.items))
        (pager(language, next))
    };
    let title = language.pick("以本企业名义的核销", "Claims in my name");
    Ok(shell(viewer, here, Section::OwnClaims, title, body))
}

fn claim_table(language: Language, policy: &Policy, csrf: &str, claims: &[Redemption]) -> Markup {
    let columns = [
        column(language.pick("核销编号", "Redemption")),
        column(language.pick("券号", "Voucher")),
        column(language.pick("服务商", "Provider")),
        column(language.pick("发票号码", "Invoice")),
        column(language.pick("发票日期", "Invoice date")),
        number_column(language.pick("发票金额（元）", "Amount (yuan)")),
        number_column(language.pick("补贴（元）", "Subsidy (yuan)")),
        column(language.pick("状态", "Status")),
        column(language.pick("企业确认", "Confirmation")),
    ];
    let rows = claims.iter().map(|claim| {
        row([
            cell(claim.redemption_id),
            cell(claim.voucher_id),
            cell(claim.provider_credit_code),
            cell(&claim.invoice.number),
            cell(claim.invoice.date),
            number_cell(yuan(claim.invoice.amount)),
            number_cell(yuan(claim.subsidy)),
            status_cell(language, claim.status),
            markup_cell(confirmation(language, policy, csrf, claim)),
        ])
    });
    let empty = language.pick(
        "尚无以本企业名义的核销。",
        "No claim in this enterprise's name yet.",
    );
    table(&columns, rows, Some(empty))
}

/// Whether the enterprise confirmed the claim, and the buttons for what it may still do.
fn confirmation(language: Language, policy: &Policy, csrf: &str, claim: &Redemption) -> Markup {
    let id = claim.redemption_id.to_string();
    let may_confirm = claim.confirmed_at.is_none()
        && matches!(
            claim.status,
            RedemptionStatus::Accepted | RedemptionStatus::Approved | RedemptionStatus::Settled
        );
    let may_dispute = claim.confirmed_at.is_none()
        && matches!(
            claim.status,
            RedemptionStatus::Accepted | RedemptionStatus::Approved
        );
    let confirm_button =
        html! { button type="submit" class="small" { (language.pick("确认", "Confirm")) } };
    let reason = html! {
        input name="reason" required maxlength="500"
            placeholder=(language.pick("异议原因", "Why it is not ours"))
            aria-label=(language.pick("异议原因", "Reason"));
    };
    let dispute_button = html! { button type="submit" class="small danger" { (language.pick("提出异议", "Dispute")) } };
    html! {
        @if let Some(at) = claim.confirmed_at {
            (language.pick("已确认 ", "confirmed ")) (at.format("%Y-%m-%d %H:%M"))
        } @else if awaits_confirmation(policy, claim) {
            strong { (language.pick("待确认", "to confirm")) }
        }
        @if let Some(reason) = &claim.closing_reason {
            div class="hint" { (claim.status.word(language)) (language.pick("：", ": ")) (reason.as_str()) }
        }
        @if may_confirm {
            (row_form("/my/confirm", csrf, ("redemption_id", &id), html! {}, confirm_button))
        }
        @if may_dispute {
            (row_form("/my/dispute", csrf, ("redemption_id", &id), reason, dispute_button))
        }
    }
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    csrf: String,
    redemption_id: String,
}

pub async fn confirm(
    State(console): State<Console>,
    viewer: EnterpriseViewer,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, PageError> {
    viewer.viewer.check_csrf(&form.csrf)?;
    let command = enterprise::confirm_redemption(
        &pb::ConfirmRedemptionRequest {
            redemption_id: crate::web::fields::code(&form.redemption_id),
        },
        viewer.actor(),
    );
    acted(&console, &viewer, command).await
}

#[derive(Deserialize)]
pub struct DisputeForm {
    csrf: String,
    redemption_id: String,
    reason: String,
}

pub async fn dispute(
    State(console): State<Console>,
    viewer: EnterpriseViewer,
    Form(form): Form<DisputeForm>,
) -> Result<Response, PageError> {
    viewer.viewer.check_csrf(&form.csrf)?;
    let command = enterprise::dispute_redemption(
        &pb::DisputeRedemptionRequest {
            redemption_id: crate::web::fields::code(&form.redemption_id),
            reason: form.reason.clone(),
        },
        viewer.actor(),
    );
    acted(&console, &viewer, command).await
}

/// Submits a confirmation or dispute and answers with the claims.
async fn acted(
    console: &Console,
    viewer: &EnterpriseViewer,
    command: Result<crate::domain::command::Command, crate::domain::error::LedgerError>,
) -> Result<Response, PageError> {
    let result = submit(console, &viewer.viewer, command).await;
    let language = viewer.viewer.language;
    answer(
        language,
        result,
        |outcome| match outcome {
            Outcome::Redemption(claim) if claim.confirmed_at.is_some() => format!(
                "{} {}",
                language.pick("已确认", "Confirmed"),
                claim.redemption_id
            ),
            Outcome::Redemption(claim) => {
                format!("{} {}", claim.status.word(language), claim.redemption_id)
            }
            other => format!("{other:?}"),
        },
        |last| render(console, viewer, "/my/claims", None, Some(last)),
    )
}
