//! The bureau's forms of the enterprise's part: approving an application (at most the amount
//! applied for) or rejecting it, binding a voucher's providers, returning a claim for
//! correction, and publishing a notice. Rejecting an application asks for confirmation first
//! (`confirm`). Each is checked for the CSRF secret and then the role,
//! built into the gRPC request voucherctl would send, parsed by `api::enterprise`, and answered
//! with the page its form is on.

use axum::Form;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use super::{
    actions_page, answer, check_bureau_form, confirm, confirmed_page, face_value, program_word,
    submit,
};
use crate::api::enterprise;
use crate::domain::ids::VoucherId;
use crate::domain::ledger::Outcome;
use crate::domain::model::VoucherApplication;
use crate::engine::EngineError;
use crate::proto::voucher::v1 as pb;
use crate::web::fields::Fields;
use crate::web::i18n::Language;
use crate::web::layout::{StatusWord, total, yuan};
use crate::web::pages::history::of_record;
use crate::web::pages::{applications, confirmations, notices, vouchers};
use crate::web::{Console, PageError, Viewer};

#[derive(Deserialize)]
pub struct ApproveApplicationForm {
    csrf: String,
    application_id: String,
    #[serde(default)]
    face_value: String,
}

pub async fn approve_application(
    State(console): State<Console>,
    viewer: Viewer,
    Form(form): Form<ApproveApplicationForm>,
) -> Result<Response, PageError> {
    check_bureau_form(&viewer, &form.csrf)?;
    let command = face_value(&form.face_value).and_then(|face_value| {
        enterprise::approve_application(&pb::ApproveApplicationRequest {
            application_id: crate::web::fields::code(&form.application_id),
            face_value,
        })
    });
    decided(&console, &viewer, command).await
}

#[derive(Deserialize)]
pub struct RejectApplicationForm {
    csrf: String,
    application_id: String,
    reason: String,
    /// `yes` once the confirmation page was seen: only then is it rejected.
    #[serde(default)]
    confirmed: String,
}

pub async fn reject_application(
    State(console): State<Console>,
    viewer: Viewer,
    Form(form): Form<RejectApplicationForm>,
) -> Result<Response, PageError> {
    check_bureau_form(&viewer, &form.csrf)?;
    let command = enterprise::reject_application(&pb::RejectApplicationRequest {
        application_id: crate::web::fields::code(&form.application_id),
        reason: form.reason.clone(),
    });
    if !confirm::is_confirmed(&form.confirmed)
        && let Ok(parsed) = &command
    {
        let fields = vec![
            ("application_id", form.application_id.clone()),
            ("reason", form.reason.clone()),
        ];
        let reader = console.engine.reader();
        match confirm::prepare_reject_application(reader, viewer.language, parsed, fields) {
            Ok(Some(confirmation)) => return Ok(confirmed_page(&viewer, &confirmation)),
            Ok(None) | Err(EngineError::Ledger(_)) => {}
            Err(error) => return answered(&console, &viewer, Err(error)),
        }
    }
    decided(&console, &viewer, command).await
}

/// Submits a decision on an application and answers with the waiting applications.
async fn decided(
    console: &Console,
    viewer: &Viewer,
    command: Result<crate::domain::command::Command, crate::domain::error::LedgerError>,
) -> Result<Response, PageError> {
    let result = submit(console, viewer, command).await;
    answered(console, viewer, result)
}

/// The waiting applications, what a decision did on top.
fn answered(
    console: &Console,
    viewer: &Viewer,
    result: Result<Outcome, EngineError>,
) -> Result<Response, PageError> {
    let language = viewer.language;
    answer(
        language,
        result,
        |outcome| match outcome {
            Outcome::Application(application) => decision_message(language, application),
            other => format!("{other:?}"),
        },
        |last| {
            let asked = applications::Asked::pending();
            applications::render(console, viewer, "/applications", &asked, Some(last))
        },
    )
}

fn decision_message(language: Language, application: &VoucherApplication) -> String {
    let mut message = format!(
        "{} {} · {}",
        application.application_id,
        application.status.word(language),
        application.enterprise_credit_code
    );
    if let Some(voucher_id) = application.voucher_id {
        message.push_str(&format!(
            " · {} {voucher_id}",
            language.pick("已发券", "voucher")
        ));
    }
    message
}

/// The voucher's providers as ticked (none: any provider of its program), and why.
pub async fn change_voucher_providers(
    State(console): State<Console>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    let fields = Fields::parse(&body);
    check_bureau_form(&viewer, fields.one("csrf"))?;
    let language = viewer.language;
    let voucher_id = VoucherId::parse(&crate::web::fields::code(fields.one("voucher_id")))
        .map_err(|error| crate::web::pages::query::bad_field("voucher_id", error, language))?;
    let command = enterprise::change_voucher_providers(&pb::ChangeVoucherProvidersRequest {
        voucher_id: voucher_id.to_string(),
        provider_credit_codes: fields.all("provider"),
        reason: fields.one("reason").to_owned(),
    });
    let result = submit(&console, &viewer, command).await;
    let history = of_record(&console, voucher_id).await;
    answer(
        language,
        result,
        |outcome| match outcome {
            Outcome::Voucher(voucher) => format!(
                "{} {} · {}",
                language.pick("已保存服务商", "Providers saved for"),
                voucher.voucher_id,
                voucher.provider_credit_codes.len()
            ),
            other => format!("{other:?}"),
        },
        |last| vouchers::render_providers(&console, &viewer, voucher_id, &history, Some(last)),
    )
}

#[derive(Deserialize)]
pub struct ReturnForm {
    csrf: String,
    redemption_id: String,
    reason: String,
    /// `confirmations` when posted from that list's row: the answer is that list.
    #[serde(default)]
    from: String,
}

pub async fn return_redemption(
    State(console): State<Console>,
    viewer: Viewer,
    Form(form): Form<ReturnForm>,
) -> Result<Response, PageError> {
    check_bureau_form(&viewer, &form.csrf)?;
    let command = enterprise::return_redemption(&pb::ReturnRedemptionRequest {
        redemption_id: crate::web::fields::code(&form.redemption_id),
        reason: form.reason.clone(),
    });
    let result = submit(&console, &viewer, command).await;
    let language = viewer.language;
    answer(
        language,
        result,
        |outcome| match outcome {
            Outcome::Redemption(claim) => format!(
                "{} {} · {} {}",
                claim.status.word(language),
                claim.redemption_id,
                language.pick("释放补贴", "subsidy released"),
                yuan(claim.subsidy)
            ),
            other => format!("{other:?}"),
        },
        |last| match form.from.as_str() {
            "confirmations" => {
                confirmations::render(&console, &viewer, "/confirmations", None, Some(last))
            }
            _ => Ok(actions_page(
                &console,
                &viewer,
                "/actions",
                Some(last),
                None,
            )),
        },
    )
}

#[derive(Deserialize)]
pub struct NoticeForm {
    csrf: String,
    program: String,
    approved_from: String,
    approved_until: String,
    posted_from: String,
    posted_until: String,
}

/// Gathers the program's claims approved in the period (as `PublishNotice` does when it names
/// none) and publishes them.
pub async fn publish_notice(
    State(console): State<Console>,
    viewer: Viewer,
    Form(form): Form<NoticeForm>,
) -> Result<Response, PageError> {
    check_bureau_form(&viewer, &form.csrf)?;
    let query = program_word(&form.program).and_then(|program| {
        enterprise::publish_notice(&pb::PublishNoticeRequest {
            program,
            approved_from: crate::web::fields::day(&form.approved_from),
            approved_until: crate::web::fields::day(&form.approved_until),
            posted_from: crate::web::fields::day(&form.posted_from),
            posted_until: crate::web::fields::day(&form.posted_until),
            redemption_ids: Vec::new(),
        })
    });
    let result = match query {
        Ok(query) => {
            let reader = console.engine.reader();
            match reader.approved_claims(query.program, query.approved_in) {
                Ok(claims) => submit(&console, &viewer, Ok(query.into_command(claims))).await,
                Err(error) => Err(error),
            }
        }
        Err(error) => submit(&console, &viewer, Err(error)).await,
    };
    let language = viewer.language;
    answer(
        language,
        result,
        |outcome| match outcome {
            Outcome::Notice(notice) => format!(
                "{} {} · {} {} · {} {}",
                language.pick("已发布公示", "Published"),
                notice.notice_id,
                language.pick("笔数", "lines"),
                notice.redemption_ids.len(),
                language.pick("补贴合计", "total"),
                total(notice.total)
            ),
            other => format!("{other:?}"),
        },
        |last| notices::render(&console, &viewer, "/notices", None, Some(last)),
    )
}
