//! The review workbench's forms (`/review`): approve a claim from its row, reject it with a
//! reason (after a confirmation, as the actions page's rejection), and approve the ticked
//! claims (after one confirmation of their count and subsidy total; then each approval is its
//! own command in the viewer's name, and the answer says how many were approved and why each
//! other one was refused). Each is checked for the CSRF secret and then the role, built into
//! the gRPC request voucherctl would send, and answered with the workbench under the same
//! filters, what happened on top and the next claim to decide marked.

use axum::Form;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::Markup;
use serde::Deserialize;

use super::confirm::{self, Confirmation};
use super::{answer, check_bureau_form, confirmed_page, submit};
use crate::api::convert::invalid;
use crate::api::requests;
use crate::domain::error::LedgerError;
use crate::domain::ids::RedemptionId;
use crate::domain::input::InputError;
use crate::domain::ledger::Outcome;
use crate::domain::model::{Actor, Redemption};
use crate::domain::money::Total;
use crate::domain::reason::ReasonCode;
use crate::engine::EngineError;
use crate::proto::voucher::v1 as pb;
use crate::web::fields::{Fields, code};
use crate::web::fragments::{LastAction, cell, column, number_cell, number_column, row, table};
use crate::web::i18n::Language;
use crate::web::layout::{Section, StatusWord, yuan};
use crate::web::pages::ROWS_PER_PAGE;
use crate::web::pages::review::{Asked, RefusedClaim, ReviewQuery, render};
use crate::web::{Console, PageError, Viewer, refused};

/// A form on one row of the workbench: the claim, a rejection's reason, and the filters the
/// workbench was under.
#[derive(Deserialize)]
pub struct RowForm {
    csrf: String,
    redemption_id: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    program: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    confirmed: String,
}

impl RowForm {
    fn asked(&self, console: &Console, language: Language) -> Result<Asked, PageError> {
        let query = ReviewQuery {
            program: Some(self.program.clone()),
            provider: Some(self.provider.clone()),
            after: None,
        };
        Asked::parse(&query, console.engine.reader().policy(), language)
    }
}

pub async fn review_approve(
    State(console): State<Console>,
    viewer: Viewer,
    Form(form): Form<RowForm>,
) -> Result<Response, PageError> {
    check_bureau_form(&viewer, &form.csrf)?;
    let language = viewer.language;
    let asked = form.asked(&console, language)?;
    let command = requests::approve_redemption(&pb::ApproveRedemptionRequest {
        redemption_id: code(&form.redemption_id),
    });
    let result = submit(&console, &viewer, command).await;
    answer(
        language,
        result,
        |outcome| decided(language, language.pick("已通过", "Approved"), outcome),
        |last| workbench(&console, &viewer, &asked, last, &[]),
    )
}

/// Rejecting from a row: the first submit answers the confirmation (the subsidy that will not
/// be paid), the second rejects.
pub async fn review_reject(
    State(console): State<Console>,
    viewer: Viewer,
    Form(form): Form<RowForm>,
) -> Result<Response, PageError> {
    check_bureau_form(&viewer, &form.csrf)?;
    let language = viewer.language;
    let asked = form.asked(&console, language)?;
    let command = requests::reject_redemption(&pb::RejectRedemptionRequest {
        redemption_id: code(&form.redemption_id),
        reason: form.reason.clone(),
    });
    if !confirm::is_confirmed(&form.confirmed)
        && let Ok(parsed) = &command
    {
        let fields = vec![
            ("redemption_id", form.redemption_id.clone()),
            ("reason", form.reason.clone()),
            ("program", form.program.clone()),
            ("provider", form.provider.clone()),
        ];
        let place = ("/actions/review-reject", asked.link(), Section::Review);
        let reader = console.engine.reader();
        match confirm::prepare_reject_claim(reader, language, parsed, fields, place) {
            Ok(Some(confirmation)) => return Ok(confirmed_page(&viewer, &confirmation)),
            Ok(None) | Err(EngineError::Ledger(_)) => {}
            Err(error) => {
                return answer(
                    language,
                    Err(error),
                    |_| String::new(),
                    |last| workbench(&console, &viewer, &asked, last, &[]),
                );
            }
        }
    }
    let result = submit(&console, &viewer, command).await;
    answer(
        language,
        result,
        |outcome| decided(language, language.pick("已驳回", "Rejected"), outcome),
        |last| workbench(&console, &viewer, &asked, last, &[]),
    )
}

/// The ticked claims: at most a page of them. The first submit reads each and answers the
/// confirmation (their count and subsidy total); the second approves each on its own.
pub async fn review_approve_selected(
    State(console): State<Console>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    let fields = Fields::parse(&body);
    check_bureau_form(&viewer, fields.one("csrf"))?;
    let language = viewer.language;
    let query = ReviewQuery {
        program: Some(fields.one("program").to_owned()),
        provider: Some(fields.one("provider").to_owned()),
        after: None,
    };
    let asked = Asked::parse(&query, console.engine.reader().policy(), language)?;
    let selected = match selection(&fields.all("redemption_id")) {
        Ok(selected) => selected,
        Err(error) => return refuse_batch(&console, &viewer, &asked, error.into()),
    };
    if confirm::is_confirmed(fields.one("confirmed")) {
        return approve_each(&console, &viewer, &asked, &selected).await;
    }
    let mut claims = Vec::with_capacity(selected.len());
    for redemption_id in &selected {
        match console
            .engine
            .reader()
            .redemption(redemption_id, Actor::Bureau)
        {
            Ok(claim) => claims.push(claim),
            Err(error) => return refuse_batch(&console, &viewer, &asked, error),
        }
    }
    let confirmation = batch_confirmation(language, &asked, &claims);
    Ok(confirmed_page(&viewer, &confirmation))
}

/// The ticked ids, each once in the order ticked; none, or more than a page, is refused.
fn selection(ticked: &[String]) -> Result<Vec<RedemptionId>, LedgerError> {
    if ticked.is_empty() {
        return Err(invalid(
            "redemption_id",
            InputError::new(ReasonCode::Required, "no claim was ticked"),
        ));
    }
    if ticked.len() > ROWS_PER_PAGE {
        return Err(invalid(
            "redemption_id",
            InputError::new(
                ReasonCode::TooMany,
                format!(
                    "{} claims were ticked; at most {ROWS_PER_PAGE} are approved at once",
                    ticked.len()
                ),
            ),
        ));
    }
    let mut selected: Vec<RedemptionId> = Vec::with_capacity(ticked.len());
    for text in ticked {
        let redemption_id =
            RedemptionId::parse(&code(text)).map_err(|error| invalid("redemption_id", error))?;
        if !selected.contains(&redemption_id) {
            selected.push(redemption_id);
        }
    }
    Ok(selected)
}

/// The confirmation of a batch: how many and their subsidy total, each claim a row, every id
/// carried to the second submit.
fn batch_confirmation(language: Language, asked: &Asked, claims: &[Redemption]) -> Confirmation {
    let total = claims
        .iter()
        .fold(Total::ZERO, |sum, claim| sum.plus(claim.subsidy));
    let mut fields = vec![
        ("program", asked.program.clone()),
        ("provider", asked.provider.clone()),
    ];
    fields.extend(
        claims
            .iter()
            .map(|claim| ("redemption_id", claim.redemption_id.to_string())),
    );
    Confirmation {
        title: language
            .pick("确认批量通过", "Confirm approving the selected claims")
            .to_owned(),
        consequences: confirm::approve_selected(language, claims.len(), total),
        details: Some(selected_table(language, claims)),
        action: "/actions/review-approve-selected",
        fields,
        button: language.pick("确认通过", "Approve them").to_owned(),
        back: asked.link(),
        section: Section::Review,
    }
}

fn selected_table(language: Language, claims: &[Redemption]) -> Markup {
    let columns = [
        column(language.pick("核销编号", "Claim")),
        column(language.pick("企业", "Enterprise")),
        column(language.pick("服务商", "Provider")),
        column(language.pick("发票号码", "Invoice")),
        number_column(language.pick("补贴（元）", "Subsidy (yuan)")),
        column(language.pick("状态", "Status")),
    ];
    let rows = claims.iter().map(|claim| {
        row([
            cell(claim.redemption_id),
            cell(claim.enterprise_credit_code),
            cell(claim.provider_credit_code),
            cell(&claim.invoice.number),
            number_cell(yuan(claim.subsidy)),
            cell(claim.status.word(language)),
        ])
    });
    table(&columns, rows, None)
}

/// Approves each claim on its own, in the viewer's name; the answer counts those approved and
/// lists each refused with the catalogue's sentence.
async fn approve_each(
    console: &Console,
    viewer: &Viewer,
    asked: &Asked,
    selected: &[RedemptionId],
) -> Result<Response, PageError> {
    let language = viewer.language;
    let mut approved = 0;
    let mut subsidy = Total::ZERO;
    let mut refused_claims = Vec::new();
    let mut first_status = None;
    for redemption_id in selected {
        let command = requests::approve_redemption(&pb::ApproveRedemptionRequest {
            redemption_id: redemption_id.to_string(),
        });
        match submit(console, viewer, command).await {
            Ok(Outcome::Redemption(claim)) => {
                approved += 1;
                subsidy = subsidy.plus(claim.subsidy);
            }
            Ok(_) => approved += 1,
            Err(error) => {
                let (status, refusal) = refused(&error, language);
                first_status.get_or_insert(status);
                refused_claims.push(RefusedClaim {
                    redemption_id: redemption_id.to_string(),
                    refusal,
                });
            }
        }
    }
    let message = match language {
        Language::Chinese => format!(
            "已通过 {approved} 笔核销，补贴合计 {} 元；未通过 {} 笔。",
            subsidy.to_grouped_string(),
            refused_claims.len()
        ),
        Language::English => format!(
            "Approved {approved} claims, subsidy {} yuan in all; {} refused.",
            subsidy.to_grouped_string(),
            refused_claims.len()
        ),
    };
    let last = LastAction::Done(message);
    let page = workbench(console, viewer, asked, &last, &refused_claims)?;
    // Nothing approved: the status of the first refusal, as a single form's answer would be.
    let status = match (approved, first_status) {
        (0, Some(status)) => status,
        _ => StatusCode::OK,
    };
    Ok((status, page).into_response())
}

/// A batch refused before any claim was submitted: the workbench, the refusal on top.
fn refuse_batch(
    console: &Console,
    viewer: &Viewer,
    asked: &Asked,
    error: EngineError,
) -> Result<Response, PageError> {
    answer(
        viewer.language,
        Err(error),
        |_| String::new(),
        |last| workbench(console, viewer, asked, last, &[]),
    )
}

/// The workbench from its first page under the same filters, after a decision.
fn workbench(
    console: &Console,
    viewer: &Viewer,
    asked: &Asked,
    last: &LastAction,
    refused_claims: &[RefusedClaim],
) -> Result<Markup, PageError> {
    render(
        console,
        viewer,
        &asked.link(),
        asked,
        Some(last),
        refused_claims,
    )
}

/// `已通过 R000000000012 · 补贴 1,234.00 元`.
fn decided(language: Language, done: &str, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Redemption(claim) => format!(
            "{done} {} · {}{}{}",
            claim.redemption_id,
            language.pick("补贴 ", "subsidy "),
            yuan(claim.subsidy),
            language.pick(" 元", " yuan")
        ),
        other => format!("{done} {other:?}"),
    }
}
