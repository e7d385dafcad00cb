//! The bureau's forms: the actions page (`forms` draws it) and a handler per form. Each form
//! is checked for the session's CSRF secret first, then the role, then built into the gRPC
//! request message voucherctl would send and turned into a command by `api::requests`: the
//! same parsers, the same engine, the same words in every refusal. The answer is the actions
//! page again (or, for a form on a list's row or a record's page, that page), what happened on
//! top, under the status a refusal maps to. `enterprise` holds the bureau's forms of the
//! enterprise's part. Finance has one form, recording a statement's payment: on the actions
//! page, where it is all finance sees, and on each unpaid statement's page.
//!
//! A form that cannot be undone (revoke, reverse, reject, create a statement, record a
//! payment; issuing a second voucher to an enterprise that holds one) acts only when it carries
//! `confirmed=yes`: its first submit answers the page `confirm` draws, saying what will happen
//! in numbers. `review` holds the review workbench's forms.

mod confirm;
mod enterprise;
mod forms;
mod review;

use axum::Form;
use axum::extract::{OriginalUri, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::fields::{code, day};
use super::fragments::{LastAction, last_action};
use super::i18n::Language;
use super::layout::{self, Section, StatusWord, total, yuan};
use super::pages::chrome;
use super::pages::history::of_record;
use super::pages::settlements;
use super::{Console, PageError, Viewer, refused};
use crate::api::convert::{invalid, to_money};
use crate::api::requests;
use crate::domain::command::Command;
use crate::domain::error::LedgerError;
use crate::domain::ids::SettlementId;
use crate::domain::ledger::Outcome;
use crate::domain::model::{Actor, Settlement};
use crate::domain::reason::ReasonCode;
use crate::engine::EngineError;
use crate::proto::voucher::v1 as pb;
use confirm::{Confirmation, Prepared};
use forms::{Forms, Typed};

pub use enterprise::{
    approve_application, change_voucher_providers, publish_notice, reject_application,
    return_redemption,
};
pub use review::{review_approve, review_approve_selected, review_reject};

pub async fn page(
    State(console): State<Console>,
    viewer: Viewer,
    OriginalUri(uri): OriginalUri,
) -> Result<Markup, PageError> {
    payments_or_bureau(&viewer)?;
    Ok(actions_page(
        &console,
        &viewer,
        &uri.to_string(),
        None,
        None,
    ))
}

pub(super) fn actions_page(
    console: &Console,
    viewer: &Viewer,
    here: &str,
    outcome: Option<&LastAction>,
    typed: Option<&Typed>,
) -> Markup {
    let language = viewer.language;
    let forms = Forms {
        language,
        csrf: &viewer.session.csrf,
        programs: console.engine.reader().policy().programs(),
        typed,
    };
    let bureau = viewer.is_bureau();
    let body = html! {
        (last_action(outcome))
        p class="hint" { (language.pick("每个操作与 gRPC 接口走同一引擎、同一规则，错误信息相同。", "Every action goes through the same engine and rules as gRPC, with the same error messages.")) }
        @if bureau { (forms.all()) } @else { (forms.finance()) }
    };
    let title = if bureau {
        language.pick("操作", "Actions")
    } else {
        language.pick("拨付登记", "Record payments")
    };
    layout::page(&chrome(viewer, here), Section::Actions, title, body)
}

#[derive(Deserialize)]
pub struct IssueForm {
    csrf: String,
    request_id: String,
    enterprise_credit_code: String,
    program: String,
    #[serde(default)]
    face_value: String,
    #[serde(default)]
    valid_from: String,
    #[serde(default)]
    valid_until: String,
    /// `yes` once the warning about an active voucher was seen.
    #[serde(default)]
    confirmed: String,
}

pub async fn issue_voucher(
    State(console): State<Console>,
    viewer: Viewer,
    Form(form): Form<IssueForm>,
) -> Result<Response, PageError> {
    check_bureau_form(&viewer, &form.csrf)?;
    let command = program_word(&form.program).and_then(|program| {
        let face_value = face_value(&form.face_value)?;
        requests::issue_voucher(&pb::IssueVoucherRequest {
            request_id: form.request_id.clone(),
            enterprise_credit_code: code(&form.enterprise_credit_code),
            program,
            face_value,
            valid_from: day(&form.valid_from),
            valid_until: day(&form.valid_until),
            provider_credit_codes: Vec::new(),
        })
    });
    let fields = carried(&[
        ("request_id", &form.request_id),
        ("enterprise_credit_code", &form.enterprise_credit_code),
        ("program", &form.program),
        ("face_value", &form.face_value),
        ("valid_from", &form.valid_from),
        ("valid_until", &form.valid_until),
    ]);
    let typed = typed(
        "issue-voucher",
        &[
            ("enterprise_credit_code", &form.enterprise_credit_code),
            ("face_value", &form.face_value),
            ("valid_from", &form.valid_from),
            ("valid_until", &form.valid_until),
        ],
    );
    let language = viewer.language;
    Ok(act_once_confirmed(
        &console,
        &viewer,
        command,
        typed,
        &form.confirmed,
        |reader, command| confirm::prepare_issue(reader, language, command, fields),
    )
    .await)
}

#[derive(Deserialize)]
pub struct RevokeForm {
    csrf: String,
    voucher_id: String,
    reason: String,
    #[serde(default)]
    confirmed: String,
}

pub async fn revoke_voucher(
    State(console): State<Console>,
    viewer: Viewer,
    Form(form): Form<RevokeForm>,
) -> Result<Response, PageError> {
    check_bureau_form(&viewer, &form.csrf)?;
    let command = requests::revoke_voucher(&pb::RevokeVoucherRequest {
        voucher_id: code(&form.voucher_id),
        reason: form.reason.clone(),
    });
    let values = [("voucher_id", &form.voucher_id), ("reason", &form.reason)];
    let fields = carried(&values);
    let language = viewer.language;
    Ok(act_once_confirmed(
        &console,
        &viewer,
        command,
        typed("revoke-voucher", &values),
        &form.confirmed,
        |reader, command| confirm::prepare_revoke(reader, language, command, fields),
    )
    .await)
}

#[derive(Deserialize)]
pub struct ReverseForm {
    csrf: String,
    redemption_id: String,
    reason: String,
    #[serde(default)]
    confirmed: String,
}

pub async fn reverse_redemption(
    State(console): State<Console>,
    viewer: Viewer,
    Form(form): Form<ReverseForm>,
) -> Result<Response, PageError> {
    check_bureau_form(&viewer, &form.csrf)?;
    let command = requests::reverse_redemption(
        &pb::ReverseRedemptionRequest {
            redemption_id: code(&form.redemption_id),
            reason: form.reason.clone(),
        },
        Actor::Bureau,
    );
    let values = [
        ("redemption_id", &form.redemption_id),
        ("reason", &form.reason),
    ];
    let fields = carried(&values);
    let language = viewer.language;
    Ok(act_once_confirmed(
        &console,
        &viewer,
        command,
        typed("reverse-redemption", &values),
        &form.confirmed,
        |reader, command| confirm::prepare_reverse(reader, language, command, fields),
    )
    .await)
}

#[derive(Deserialize)]
pub struct ReviewForm {
    csrf: String,
    redemption_id: String,
    #[serde(default)]
    reason: String,
    /// `yes` once a rejection's confirmation was seen; approving needs none.
    #[serde(default)]
    confirmed: String,
}

pub async fn approve_redemption(
    State(console): State<Console>,
    viewer: Viewer,
    Form(form): Form<ReviewForm>,
) -> Result<Response, PageError> {
    check_bureau_form(&viewer, &form.csrf)?;
    let command = requests::approve_redemption(&pb::ApproveRedemptionRequest {
        redemption_id: code(&form.redemption_id),
    });
    Ok(act(
        &console,
        &viewer,
        command,
        typed(
            "approve-redemption",
            &[("redemption_id", &form.redemption_id)],
        ),
    )
    .await)
}

pub async fn reject_redemption(
    State(console): State<Console>,
    viewer: Viewer,
    Form(form): Form<ReviewForm>,
) -> Result<Response, PageError> {
    check_bureau_form(&viewer, &form.csrf)?;
    let command = requests::reject_redemption(&pb::RejectRedemptionRequest {
        redemption_id: code(&form.redemption_id),
        reason: form.reason.clone(),
    });
    let values = [
        ("redemption_id", &form.redemption_id),
        ("reason", &form.reason),
    ];
    let fields = carried(&values);
    let language = viewer.language;
    let place = (
        "/actions/reject-redemption",
        "/actions".to_owned(),
        Section::Actions,
    );
    Ok(act_once_confirmed(
        &console,
        &viewer,
        command,
        typed("reject-redemption", &values),
        &form.confirmed,
        |reader, command| confirm::prepare_reject_claim(reader, language, command, fields, place),
    )
    .await)
}

#[derive(Deserialize)]
pub struct SettlementForm {
    csrf: String,
    request_id: String,
    provider_credit_code: String,
    program: String,
    up_to_date: String,
    #[serde(default)]
    confirmed: String,
}

pub async fn create_settlement(
    State(console): State<Console>,
    viewer: Viewer,
    Form(form): Form<SettlementForm>,
) -> Result<Response, PageError> {
    check_bureau_form(&viewer, &form.csrf)?;
    let command = program_word(&form.program).and_then(|program| {
        requests::create_settlement(&pb::CreateSettlementRequest {
            request_id: form.request_id.clone(),
            provider_credit_code: code(&form.provider_credit_code),
            program,
            up_to_date: day(&form.up_to_date),
        })
    });
    let fields = carried(&[
        ("request_id", &form.request_id),
        ("provider_credit_code", &form.provider_credit_code),
        ("program", &form.program),
        ("up_to_date", &form.up_to_date),
    ]);
    let typed = typed(
        "create-settlement",
        &[
            ("provider_credit_code", &form.provider_credit_code),
            ("up_to_date", &form.up_to_date),
        ],
    );
    let language = viewer.language;
    Ok(act_once_confirmed(
        &console,
        &viewer,
        command,
        typed,
        &form.confirmed,
        |reader, command| confirm::prepare_settlement(reader, language, command, fields),
    )
    .await)
}

#[derive(Deserialize)]
pub struct PaymentForm {
    csrf: String,
    settlement_id: String,
    bank_reference: String,
    paid_on: String,
    /// `statement` when posted from the statement's page: the answer is that page.
    #[serde(default)]
    from: String,
    #[serde(default)]
    confirmed: String,
}

/// The bureau's and finance's form (finance's only one); with separation of duties the ledger
/// refuses the bureau's, and the answer shows the refusal at the first submit. A payment the
/// ledger would refuse for its date is likewise sent without asking to confirm it.
pub async fn record_settlement_payment(
    State(console): State<Console>,
    viewer: Viewer,
    Form(form): Form<PaymentForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    payments_or_bureau(&viewer)?;
    let command = requests::record_settlement_payment(&pb::RecordSettlementPaymentRequest {
        settlement_id: code(&form.settlement_id),
        bank_reference: form.bank_reference.clone(),
        paid_on: day(&form.paid_on),
    });
    let statement = SettlementId::parse(&code(&form.settlement_id)).ok();
    let from_statement = statement.filter(|_| form.from == "statement");
    let values = [
        ("settlement_id", &form.settlement_id),
        ("bank_reference", &form.bank_reference),
        ("paid_on", &form.paid_on),
    ];
    let language = viewer.language;
    // The bureau's payment under separated duties is refused at once, not after confirming.
    let may_pay = console
        .engine
        .reader()
        .policy()
        .records_payments(viewer.session.role);
    if may_pay
        && !confirm::is_confirmed(&form.confirmed)
        && let Ok(parsed) = &command
    {
        let mut fields = carried(&values);
        fields.push(("from", form.from.clone()));
        let back = from_statement.map_or_else(
            || "/actions".to_owned(),
            |settlement_id| format!("/settlements/{settlement_id}"),
        );
        let reader = console.engine.reader();
        match confirm::prepare_payment(reader, language, parsed, fields, back) {
            Ok(Some(confirmation)) => return Ok(confirmed_page(&viewer, &confirmation)),
            Ok(None) | Err(EngineError::Ledger(_)) => {}
            Err(error) => {
                let typed = typed("record-settlement-payment", &values);
                return Ok(respond(&console, &viewer, Err(error), typed));
            }
        }
    }
    let Some(settlement_id) = from_statement else {
        let typed = typed("record-settlement-payment", &values);
        return Ok(act(&console, &viewer, command, typed).await);
    };
    let result = submit(&console, &viewer, command).await;
    let history = of_record(&console, settlement_id).await;
    answer(
        language,
        result,
        |outcome| done_message(language, outcome),
        |last| {
            let typed = settlements::PaymentTyped {
                bank_reference: form.bank_reference.clone(),
                paid_on: form.paid_on.clone(),
            };
            let typed = matches!(last, LastAction::Refused(_)).then_some(&typed);
            settlements::render(
                &console,
                &viewer,
                settlement_id,
                &history,
                Some(last),
                typed,
            )
        },
    )
}

#[derive(Deserialize)]
pub struct RegisterForm {
    csrf: String,
    credit_code: String,
    name: String,
    #[serde(default)]
    program: String,
}

pub async fn register_enterprise(
    State(console): State<Console>,
    viewer: Viewer,
    Form(form): Form<RegisterForm>,
) -> Result<Response, PageError> {
    check_bureau_form(&viewer, &form.csrf)?;
    let command = requests::register_enterprise(&pb::RegisterEnterpriseRequest {
        credit_code: code(&form.credit_code),
        name: form.name.clone(),
        check_digit_override_reason: String::new(),
    });
    Ok(act(
        &console,
        &viewer,
        command,
        typed(
            "register-enterprise",
            &[("credit_code", &form.credit_code), ("name", &form.name)],
        ),
    )
    .await)
}

pub async fn register_provider(
    State(console): State<Console>,
    viewer: Viewer,
    Form(form): Form<RegisterForm>,
) -> Result<Response, PageError> {
    check_bureau_form(&viewer, &form.csrf)?;
    let command = program_word(&form.program).and_then(|program| {
        requests::register_provider(&pb::RegisterProviderRequest {
            credit_code: code(&form.credit_code),
            name: form.name.clone(),
            program,
            check_digit_override_reason: String::new(),
        })
    });
    Ok(act(
        &console,
        &viewer,
        command,
        typed(
            "register-provider",
            &[("credit_code", &form.credit_code), ("name", &form.name)],
        ),
    )
    .await)
}

pub(super) fn bureau_only(viewer: &Viewer) -> Result<(), PageError> {
    if viewer.is_bureau() {
        Ok(())
    } else {
        Err(PageError::BureauOnly(viewer.language))
    }
}

/// The actions page and the payment form: the bureau's, and finance's (its one form).
fn payments_or_bureau(viewer: &Viewer) -> Result<(), PageError> {
    if viewer.records_payments() {
        Ok(())
    } else {
        Err(PageError::BureauOnly(viewer.language))
    }
}

/// The CSRF secret first (a forged form learns nothing, not even the role), then the role.
pub(super) fn check_bureau_form(viewer: &Viewer, csrf: &str) -> Result<(), PageError> {
    viewer.check_csrf(csrf)?;
    bureau_only(viewer)
}

/// A form's fields as typed, to draw back into it if it is refused.
fn typed(form: &'static str, values: &[(&'static str, &String)]) -> Typed {
    Typed {
        form,
        values: values
            .iter()
            .map(|(field, value)| (*field, (*value).clone()))
            .collect(),
        bad: None,
    }
}

/// A form's fields as posted, carried in the hidden inputs of its confirmation page.
fn carried(values: &[(&'static str, &String)]) -> Vec<(&'static str, String)> {
    values
        .iter()
        .map(|(field, value)| (*field, (*value).clone()))
        .collect()
}

/// A form that cannot be undone: unless it says `confirmed=yes`, `prepare` reads what its
/// confirmation states and the answer is that page, nothing changed. A form the parsers
/// refuse, a record the ledger would refuse (not found, not in a state the form changes), or
/// one with nothing to confirm goes on as before: the ledger's answer, as today. A read that
/// failed for another reason (the store) is answered as a refusal, and nothing is submitted.
async fn act_once_confirmed(
    console: &Console,
    viewer: &Viewer,
    command: Result<Command, LedgerError>,
    typed: Typed,
    confirmed: &str,
    prepare: impl FnOnce(&crate::engine::Reader, &Command) -> Prepared,
) -> Response {
    if !confirm::is_confirmed(confirmed)
        && let Ok(parsed) = &command
    {
        match prepare(console.engine.reader(), parsed) {
            Ok(Some(confirmation)) => return confirmed_page(viewer, &confirmation),
            Ok(None) | Err(EngineError::Ledger(_)) => {}
            Err(error) => return respond(console, viewer, Err(error), typed),
        }
    }
    act(console, viewer, command, typed).await
}

/// The confirmation page, nothing changed yet.
pub(super) fn confirmed_page(viewer: &Viewer, confirmation: &Confirmation) -> Response {
    confirm::page(viewer, confirmation).into_response()
}

/// Submits a parsed command and answers with the actions page, what happened on top, under
/// the status a refusal maps to. A parse failure reads as the ledger's refusal would.
async fn act(
    console: &Console,
    viewer: &Viewer,
    command: Result<Command, LedgerError>,
    typed: Typed,
) -> Response {
    let result = submit(console, viewer, command).await;
    respond(console, viewer, result, typed)
}

/// The actions page after a form, what happened on top. A refused form comes back filled with
/// what was typed, the field at fault marked.
fn respond(
    console: &Console,
    viewer: &Viewer,
    result: Result<Outcome, EngineError>,
    mut typed: Typed,
) -> Response {
    let language = viewer.language;
    let draw = |last: &LastAction| {
        let refill = match last {
            LastAction::Refused(refusal) => {
                typed.bad = refusal.field;
                Some(&typed)
            }
            LastAction::Done(_) => None,
        };
        Ok(actions_page(
            console,
            viewer,
            "/actions",
            Some(last),
            refill,
        ))
    };
    answer(
        language,
        result,
        |outcome| done_message(language, outcome),
        draw,
    )
    .unwrap_or_else(IntoResponse::into_response)
}

/// Submits a parsed command; a parse failure is the ledger's refusal, as over gRPC.
pub(super) async fn submit(
    console: &Console,
    viewer: &Viewer,
    command: Result<Command, LedgerError>,
) -> Result<Outcome, EngineError> {
    match command {
        Ok(command) => console.engine.submit(command, viewer.caller()).await,
        Err(error) => Err(EngineError::Ledger(error)),
    }
}

/// Answers a form with the page `draw` draws, what happened on top: the outcome in the words
/// `done` gives it, or the refusal as the ledger words it, under the status it maps to.
pub(super) fn answer(
    language: Language,
    result: Result<Outcome, EngineError>,
    done: impl FnOnce(&Outcome) -> String,
    draw: impl FnOnce(&LastAction) -> Result<Markup, PageError>,
) -> Result<Response, PageError> {
    match result {
        Ok(outcome) => Ok(draw(&LastAction::Done(done(&outcome)))?.into_response()),
        Err(error) => {
            let (status, refusal) = refused(&error, language);
            Ok((status, draw(&LastAction::Refused(refusal))?).into_response())
        }
    }
}

/// One line on what a form did, from the record the engine answered with.
fn done_message(language: Language, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Voucher(voucher) if voucher.is_active() => format!(
            "{} {} · {} {} · {} {} – {}",
            language.pick("已发券", "Issued"),
            voucher.voucher_id,
            language.pick("面值", "face value"),
            yuan(voucher.face_value),
            language.pick("有效期", "valid"),
            voucher.validity.first,
            voucher.validity.last
        ),
        Outcome::Voucher(voucher) => format!(
            "{} {} · {} {}",
            language.pick("已撤销", "Revoked"),
            voucher.voucher_id,
            language.pick("已核销", "redeemed"),
            yuan(voucher.redeemed)
        ),
        Outcome::Redemption(redemption) => format!(
            "{} {} · {} {}",
            redemption.status.word(language),
            redemption.redemption_id,
            language.pick("补贴", "subsidy"),
            yuan(redemption.subsidy)
        ),
        Outcome::Settlement(settlement) => settlement_message(language, settlement),
        Outcome::Enterprise(enterprise) => format!(
            "{} {} {}",
            language.pick("已登记企业", "Registered enterprise"),
            enterprise.credit_code,
            enterprise.name.as_str()
        ),
        Outcome::Provider(provider) => format!(
            "{} {} {}",
            language.pick("已登记服务商", "Registered provider"),
            provider.credit_code,
            provider.name.as_str()
        ),
        other => format!("{other:?}"),
    }
}

/// What the bureau sees after creating a statement, or after recording its payment.
fn settlement_message(language: Language, settlement: &Settlement) -> String {
    match &settlement.payment {
        Some(payment) => format!(
            "{} {} · {} {} · {} {}",
            language.pick("结算单已拨付", "Statement paid"),
            settlement.settlement_id,
            language.pick("拨付日期", "paid on"),
            payment.paid_on,
            language.pick("凭证号", "reference"),
            payment.bank_reference
        ),
        None => format!(
            "{} {} · {} {} · {} {} {} · {}",
            language.pick("已生成结算单", "Statement"),
            settlement.settlement_id,
            language.pick("笔数", "lines"),
            settlement.redemption_ids.len(),
            language.pick("追回", "clawed back"),
            total(settlement.clawed_back),
            language.pick("元", "yuan"),
            super::pages::net_in_words(language, settlement)
        ),
    }
}

/// A program's code word (`compute`) as the wire enum; unknown words are refused by
/// `api::requests` exactly as an unknown enum value would be.
pub(super) fn program_word(word: &str) -> Result<i32, LedgerError> {
    crate::domain::policy::ProgramCode::ALL
        .into_iter()
        .find(|program| program.as_str() == word)
        .map(crate::api::convert::to_program)
        .ok_or_else(|| {
            invalid(
                "program",
                crate::domain::input::InputError::new(
                    ReasonCode::UnknownProgram,
                    format!("{word:?} is not a program"),
                ),
            )
        })
}

/// A typed amount (`1,000,000.00`, `¥30万`, full-width digits), or none when the field is
/// empty.
pub(super) fn face_value(
    text: &str,
) -> Result<Option<crate::proto::google::r#type::Money>, LedgerError> {
    typed_amount("face_value", text)
}

/// An amount as people type it (`crate::domain::typed`), or none when the field is blank.
pub(crate) fn typed_amount(
    field: &'static str,
    text: &str,
) -> Result<Option<crate::proto::google::r#type::Money>, LedgerError> {
    if crate::domain::typed::normalise(text).is_empty() {
        return Ok(None);
    }
    crate::domain::typed::amount_as_typed(text)
        .map(|amount| Some(to_money(amount)))
        .map_err(|error| invalid(field, error))
}
