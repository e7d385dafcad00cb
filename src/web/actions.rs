//! Sign-in, sign-out, the language toggle, and the bureau's forms. Each form is checked for the
//! session's CSRF secret first, then built into the gRPC request message voucherctl would send
//! and turned into a command by `api::requests`: the same parsers, the same engine, the same
//! words in every refusal.

use crate::domain::reason::ReasonCode;
use std::time::Instant;

use axum::Form;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::{LANGUAGE_COOKIE, Language};
use super::layout::{self, Section, StatusWord, program_name, total, yuan};
use super::pages::chrome;
use super::session::{LOGIN_CSRF_COOKIE, SESSION_COOKIE, random_secret, same_secret};
use super::{Console, PageError, Viewer, language_of, refusal};
use crate::api::convert::invalid;
use crate::api::convert::to_money;
use crate::api::requests;
use crate::domain::error::LedgerError;
use crate::domain::ledger::Outcome;
use crate::domain::model::{Actor, Role, Settlement};
use crate::domain::money::Money;
use crate::engine::EngineError;
use crate::proto::voucher::v1 as pb;

// ---------------------------------------------------------------------------------------------
// Sign-in and sign-out
// ---------------------------------------------------------------------------------------------

pub async fn login_page(headers: HeaderMap) -> Response {
    let jar = CookieJar::from_headers(&headers);
    let language = language_of(&jar);
    let csrf = random_secret();
    let jar = jar.add(strict_cookie(LOGIN_CSRF_COOKIE, csrf.clone(), false));
    (jar, login_form(language, &csrf, None)).into_response()
}

fn login_form(language: Language, csrf: &str, error: Option<&str>) -> Markup {
    let title = language.pick("登录", "Sign in");
    html! {
        (maud::DOCTYPE)
        html lang=(language.html_lang()) {
            (layout::head(title))
            body class="bare" {
                main class="login" {
                    div class="brand" { span class="seal" { "启" } span { (language.pick("启东市 算力券 / 租赁券 核销账本", "Qidong compute & leasing vouchers")) } }
                    h1 { (title) }
                    p { (language.pick("请粘贴数据局或审计令牌。服务商令牌不能登录控制台。", "Paste a bureau or auditor token. Provider tokens cannot sign in here.")) }
                    @if let Some(error) = error { p class="message error" { (error) } }
                    form method="post" action="/login" {
                        input type="hidden" name="csrf" value=(csrf);
                        label { (language.pick("令牌", "Token")) " "
                            input type="password" name="token" autocomplete="off" required maxlength="200" autofocus;
                        }
                        button type="submit" { (title) }
                    }
                    p { a href={"/language?to=" (language.other().code()) "&back=/login"} { (language.pick("English", "中文")) } }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
    csrf: String,
}

pub async fn login(
    State(console): State<Console>,
    axum::extract::ConnectInfo(super::listener::PeerAddress(address)): axum::extract::ConnectInfo<
        super::listener::PeerAddress,
    >,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let jar = CookieJar::from_headers(&headers);
    let language = language_of(&jar);
    let expected = jar
        .get(LOGIN_CSRF_COOKIE)
        .map(|cookie| cookie.value().to_owned());
    if !expected.is_some_and(|expected| same_secret(&expected, &form.csrf)) {
        return PageError::Forgery.into_response();
    }
    let refuse = |status: StatusCode, message: &str| {
        let csrf = random_secret();
        let jar = CookieJar::new().add(strict_cookie(LOGIN_CSRF_COOKIE, csrf.clone(), false));
        (status, jar, login_form(language, &csrf, Some(message))).into_response()
    };
    if let Some(wait) = console.attempts.wait(Some(address.ip()), Instant::now()) {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let message = match language {
            Language::Chinese => format!("此地址登录失败次数过多，请 {seconds} 秒后再试。"),
            Language::English => {
                format!("Too many failed sign-ins from this address: try again in {seconds} s.")
            }
        };
        let mut response = refuse(StatusCode::TOO_MANY_REQUESTS, &message);
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, seconds.into());
        return response;
    }
    let token = match console.engine.reader().authenticate(form.token.trim()) {
        Ok(Some(token)) => token,
        Ok(None) => {
            crate::metrics::authentication_failed("console");
            let wait_s = console
                .attempts
                .failed(Some(address.ip()), Instant::now())
                .map(|wait| wait.as_secs());
            tracing::warn!(%address, ?wait_s, "console sign-in with an unknown or revoked token");
            return refuse(
                StatusCode::UNAUTHORIZED,
                language.pick(
                    "令牌无效或已撤销。",
                    "The token is not valid or was revoked.",
                ),
            );
        }
        Err(error) => return PageError::engine(error, language).into_response(),
    };
    if token.role == Role::Provider {
        return refuse(
            StatusCode::FORBIDDEN,
            language.pick(
                "服务商令牌不能登录控制台，请使用数据局或审计令牌。",
                "Provider tokens cannot sign in to the console: use a bureau or auditor token.",
            ),
        );
    }
    let session_id = console.sessions.open(token.token_id, token.role);
    tracing::info!(token_id = %token.token_id, role = ?token.role, "console sign-in");
    let jar = jar
        .remove(Cookie::build(LOGIN_CSRF_COOKIE).path("/"))
        .add(strict_cookie(
            SESSION_COOKIE,
            session_id,
            console.settings.cookie_secure,
        ));
    (jar, Redirect::to("/")).into_response()
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn logout(
    State(console): State<Console>,
    viewer: Viewer,
    jar: CookieJar,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&viewer, &form.csrf)?;
    console.sessions.close(&viewer.session_id);
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
    Ok((jar, Redirect::to("/login")).into_response())
}

#[derive(Deserialize)]
pub struct LanguageQuery {
    to: Option<String>,
    back: Option<String>,
}

/// Sets the language cookie and goes back to the page it came from (on this site only).
pub async fn switch_language(jar: CookieJar, Query(query): Query<LanguageQuery>) -> Response {
    let language = Language::from_cookie(query.to.as_deref());
    let back = query
        .back
        .filter(|back| is_local_path(back))
        .unwrap_or_else(|| "/".to_owned());
    let jar = jar.add(strict_cookie(
        LANGUAGE_COOKIE,
        language.code().to_owned(),
        false,
    ));
    (jar, Redirect::to(&back)).into_response()
}

/// A path on this site, as the pages write it (percent-encoded): no scheme, no host, nothing
/// a header cannot hold.
fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && path.len() <= 2000
        && path.chars().all(|c| c.is_ascii_graphic())
}

fn strict_cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .build()
}

fn check_csrf(viewer: &Viewer, given: &str) -> Result<(), PageError> {
    if same_secret(&viewer.session.csrf, given) {
        Ok(())
    } else {
        Err(PageError::Forgery)
    }
}

// ---------------------------------------------------------------------------------------------
// The bureau's forms
// ---------------------------------------------------------------------------------------------

/// What the last form did, shown above the forms.
enum LastAction {
    Done(String),
    Refused(String),
}

pub async fn page(
    State(console): State<Console>,
    viewer: Viewer,
    OriginalUri(uri): OriginalUri,
) -> Result<Markup, PageError> {
    bureau_only(&viewer)?;
    Ok(actions_page(&console, &viewer, &uri.to_string(), None))
}

fn actions_page(
    console: &Console,
    viewer: &Viewer,
    here: &str,
    outcome: Option<&LastAction>,
) -> Markup {
    let language = viewer.language;
    let csrf = viewer.session.csrf.as_str();
    let programs = console.engine.reader().policy().programs();
    let program_select = html! {
        select name="program" required {
            @for rules in programs { option value=(rules.code) { (program_name(language, rules)) } }
        }
    };
    let hidden = html! { input type="hidden" name="csrf" value=(csrf); };
    let body = html! {
        @match outcome {
            Some(LastAction::Done(message)) => p class="message done" role="status" { (message) },
            Some(LastAction::Refused(message)) => p class="message error" role="alert" { (message) },
            None => {},
        }
        p class="hint" { (language.pick("每个操作与 gRPC 接口走同一引擎、同一规则，错误信息相同。", "Every action goes through the same engine and rules as gRPC, with the same error messages.")) }
        div class="forms" {
            form method="post" action="/actions/issue-voucher" class="action" id="issue-voucher" {
                h2 { (language.pick("发券", "Issue a voucher")) }
                (hidden)
                input type="hidden" name="request_id" value=(uuid::Uuid::new_v4().to_string());
                label { (language.pick("企业信用代码", "Enterprise credit code")) input name="enterprise_credit_code" required maxlength="18"; }
                label { (language.pick("项目", "Program")) (program_select) }
                label { (language.pick("面值（元，留空为剩余额度）", "Face value (yuan; empty = all that is left)")) input name="face_value" inputmode="decimal" maxlength="40"; }
                label { (language.pick("有效期自（可空）", "Valid from (optional)")) input type="date" name="valid_from"; }
                label { (language.pick("有效期至（可空）", "Valid until (optional)")) input type="date" name="valid_until"; }
                button type="submit" { (language.pick("发券", "Issue")) }
            }
            form method="post" action="/actions/revoke-voucher" class="action" id="revoke-voucher" {
                h2 { (language.pick("撤销券", "Revoke a voucher")) }
                (hidden)
                label { (language.pick("券号", "Voucher id")) input name="voucher_id" required maxlength="20" placeholder="V000000000001"; }
                label { (language.pick("原因", "Reason")) input name="reason" required maxlength="500"; }
                button type="submit" class="danger" { (language.pick("撤销", "Revoke")) }
            }
            form method="post" action="/actions/reverse-redemption" class="action" id="reverse-redemption" {
                h2 { (language.pick("红冲核销", "Reverse a redemption")) }
                (hidden)
                label { (language.pick("核销编号", "Redemption id")) input name="redemption_id" required maxlength="20" placeholder="R000000000001"; }
                label { (language.pick("原因", "Reason")) input name="reason" required maxlength="500"; }
                button type="submit" class="danger" { (language.pick("红冲", "Reverse")) }
            }
            form method="post" action="/actions/approve-redemption" class="action" id="approve-redemption" {
                h2 { (language.pick("审核通过", "Approve a claim")) }
                (hidden)
                label { (language.pick("核销编号", "Redemption id")) input name="redemption_id" required maxlength="20" placeholder="R000000000001"; }
                button type="submit" { (language.pick("通过", "Approve")) }
            }
            form method="post" action="/actions/reject-redemption" class="action" id="reject-redemption" {
                h2 { (language.pick("驳回核销", "Reject a claim")) }
                (hidden)
                label { (language.pick("核销编号", "Redemption id")) input name="redemption_id" required maxlength="20" placeholder="R000000000001"; }
                label { (language.pick("原因", "Reason")) input name="reason" required maxlength="500"; }
                button type="submit" class="danger" { (language.pick("驳回", "Reject")) }
            }
            form method="post" action="/actions/create-settlement" class="action" id="create-settlement" {
                h2 { (language.pick("生成结算单", "Create a settlement statement")) }
                (hidden)
                input type="hidden" name="request_id" value=(uuid::Uuid::new_v4().to_string());
                label { (language.pick("服务商信用代码", "Provider credit code")) input name="provider_credit_code" required maxlength="18"; }
                label { (language.pick("项目", "Program")) (program_select) }
                label { (language.pick("发票日期截至", "Invoices dated up to")) input type="date" name="up_to_date" required; }
                button type="submit" { (language.pick("结算", "Settle")) }
            }
            form method="post" action="/actions/record-settlement-payment" class="action" id="record-settlement-payment" {
                h2 { (language.pick("登记拨付", "Record a payment")) }
                (hidden)
                label { (language.pick("结算单号", "Statement")) input name="settlement_id" required maxlength="20" placeholder="S000000000001"; }
                label { (language.pick("银行/国库支付凭证号", "Bank reference")) input name="bank_reference" required maxlength="500"; }
                label { (language.pick("拨付日期", "Paid on")) input type="date" name="paid_on" required; }
                button type="submit" { (language.pick("登记", "Record")) }
            }
            form method="post" action="/actions/register-enterprise" class="action" id="register-enterprise" {
                h2 { (language.pick("登记企业", "Register an enterprise")) }
                (hidden)
                label { (language.pick("统一社会信用代码", "Credit code")) input name="credit_code" required maxlength="18"; }
                label { (language.pick("名称", "Name")) input name="name" required maxlength="200"; }
                button type="submit" { (language.pick("登记", "Register")) }
            }
            form method="post" action="/actions/register-provider" class="action" id="register-provider" {
                h2 { (language.pick("登记服务商", "Register a provider")) }
                (hidden)
                label { (language.pick("统一社会信用代码", "Credit code")) input name="credit_code" required maxlength="18"; }
                label { (language.pick("名称", "Name")) input name="name" required maxlength="200"; }
                label { (language.pick("项目", "Program")) (program_select) }
                button type="submit" { (language.pick("登记", "Register")) }
            }
        }
    };
    layout::page(
        &chrome(viewer, here),
        Section::Actions,
        language.pick("操作", "Actions"),
        body,
    )
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
            enterprise_credit_code: form.enterprise_credit_code.trim().to_owned(),
            program,
            face_value,
            valid_from: form.valid_from.clone(),
            valid_until: form.valid_until.clone(),
        })
    });
    Ok(act(&console, &viewer, command).await)
}

#[derive(Deserialize)]
pub struct RevokeForm {
    csrf: String,
    voucher_id: String,
    reason: String,
}

pub async fn revoke_voucher(
    State(console): State<Console>,
    viewer: Viewer,
    Form(form): Form<RevokeForm>,
) -> Result<Response, PageError> {
    check_bureau_form(&viewer, &form.csrf)?;
    let command = requests::revoke_voucher(&pb::RevokeVoucherRequest {
        voucher_id: form.voucher_id.trim().to_owned(),
        reason: form.reason.clone(),
    });
    Ok(act(&console, &viewer, command).await)
}

#[derive(Deserialize)]
pub struct ReverseForm {
    csrf: String,
    redemption_id: String,
    reason: String,
}

pub async fn reverse_redemption(
    State(console): State<Console>,
    viewer: Viewer,
    Form(form): Form<ReverseForm>,
) -> Result<Response, PageError> {
    check_bureau_form(&viewer, &form.csrf)?;
    let command = requests::reverse_redemption(
        &pb::ReverseRedemptionRequest {
            redemption_id: form.redemption_id.trim().to_owned(),
            reason: form.reason.clone(),
        },
        Actor::Bureau,
    );
    Ok(act(&console, &viewer, command).await)
}

#[derive(Deserialize)]
pub struct ReviewForm {
    csrf: String,
    redemption_id: String,
    #[serde(default)]
    reason: String,
}

pub async fn approve_redemption(
    State(console): State<Console>,
    viewer: Viewer,
    Form(form): Form<ReviewForm>,
) -> Result<Response, PageError> {
    check_bureau_form(&viewer, &form.csrf)?;
    let command = requests::approve_redemption(&pb::ApproveRedemptionRequest {
        redemption_id: form.redemption_id.trim().to_owned(),
    });
    Ok(act(&console, &viewer, command).await)
}

pub async fn reject_redemption(
    State(console): State<Console>,
    viewer: Viewer,
    Form(form): Form<ReviewForm>,
) -> Result<Response, PageError> {
    check_bureau_form(&viewer, &form.csrf)?;
    let command = requests::reject_redemption(&pb::RejectRedemptionRequest {
        redemption_id: form.redemption_id.trim().to_owned(),
        reason: form.reason.clone(),
    });
    Ok(act(&console, &viewer, command).await)
}

#[derive(Deserialize)]
pub struct SettlementForm {
    csrf: String,
    request_id: String,
    provider_credit_code: String,
    program: String,
    up_to_date: String,
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
            provider_credit_code: form.provider_credit_code.trim().to_owned(),
            program,
            up_to_date: form.up_to_date.trim().to_owned(),
        })
    });
    Ok(act(&console, &viewer, command).await)
}

#[derive(Deserialize)]
pub struct PaymentForm {
    csrf: String,
    settlement_id: String,
    bank_reference: String,
    paid_on: String,
}

pub async fn record_settlement_payment(
    State(console): State<Console>,
    viewer: Viewer,
    Form(form): Form<PaymentForm>,
) -> Result<Response, PageError> {
    check_bureau_form(&viewer, &form.csrf)?;
    let command = requests::record_settlement_payment(&pb::RecordSettlementPaymentRequest {
        settlement_id: form.settlement_id.trim().to_owned(),
        bank_reference: form.bank_reference.clone(),
        paid_on: form.paid_on.trim().to_owned(),
    });
    Ok(act(&console, &viewer, command).await)
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
        credit_code: form.credit_code.trim().to_owned(),
        name: form.name.clone(),
        check_digit_override_reason: String::new(),
    });
    Ok(act(&console, &viewer, command).await)
}

pub async fn register_provider(
    State(console): State<Console>,
    viewer: Viewer,
    Form(form): Form<RegisterForm>,
) -> Result<Response, PageError> {
    check_bureau_form(&viewer, &form.csrf)?;
    let command = program_word(&form.program).and_then(|program| {
        requests::register_provider(&pb::RegisterProviderRequest {
            credit_code: form.credit_code.trim().to_owned(),
            name: form.name.clone(),
            program,
            check_digit_override_reason: String::new(),
        })
    });
    Ok(act(&console, &viewer, command).await)
}

fn bureau_only(viewer: &Viewer) -> Result<(), PageError> {
    if viewer.is_bureau() {
        Ok(())
    } else {
        Err(PageError::BureauOnly(viewer.language))
    }
}

/// The CSRF secret first (a forged form learns nothing, not even the role), then the role.
fn check_bureau_form(viewer: &Viewer, csrf: &str) -> Result<(), PageError> {
    check_csrf(viewer, csrf)?;
    bureau_only(viewer)
}

/// Submits a parsed command and answers with the actions page, what happened on top, under
/// the status a refusal maps to. A parse failure reads as the ledger's refusal would.
async fn act(
    console: &Console,
    viewer: &Viewer,
    command: Result<crate::domain::command::Command, LedgerError>,
) -> Response {
    let result = match command {
        Ok(command) => console.engine.submit(command).await,
        Err(error) => Err(EngineError::Ledger(error)),
    };
    match result {
        Ok(outcome) => {
            let done = LastAction::Done(done_message(viewer.language, &outcome));
            actions_page(console, viewer, "/actions", Some(&done)).into_response()
        }
        Err(error) => {
            let (status, line) = refusal(&error);
            let refused = LastAction::Refused(line);
            (
                status,
                actions_page(console, viewer, "/actions", Some(&refused)),
            )
                .into_response()
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
            "{} {} · {} {} · {} {} · {} {}",
            language.pick("已生成结算单", "Statement"),
            settlement.settlement_id,
            language.pick("笔数", "lines"),
            settlement.redemption_ids.len(),
            language.pick("追回", "clawed back"),
            total(settlement.clawed_back),
            language.pick("应付净额", "net"),
            settlement.net()
        ),
    }
}

/// A program's code word (`compute`) as the wire enum; unknown words are refused by
/// `api::requests` exactly as an unknown enum value would be.
fn program_word(word: &str) -> Result<i32, LedgerError> {
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

/// A typed amount (`1,000,000.00`), or none when the field is empty.
fn face_value(text: &str) -> Result<Option<crate::proto::google::r#type::Money>, LedgerError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    Money::parse_yuan(text)
        .map(|amount| Some(to_money(amount)))
        .map_err(|error| invalid("face_value", error))
}
