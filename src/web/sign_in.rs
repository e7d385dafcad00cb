//! Sign-in, sign-out and the language toggle. The sign-in form carries its own CSRF secret,
//! from a cookie set with the form; a refused sign-in shows the form again with why, under the
//! status it maps to (401 an unknown token, 403 a provider's, 429 an address that must wait).
//! A bureau, auditor or finance session starts at the overview; an enterprise's at its own
//! page.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::{LANGUAGE_COOKIE, Language};
use super::layout;
use super::listener::PeerAddress;
use super::session::{LOGIN_CSRF_COOKIE, SESSION_COOKIE, random_secret, same_secret};
use super::{Console, PageError, SignedIn, home_of, language_of};
use crate::domain::model::Role;

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
                    p { (language.pick("请粘贴数据局、审计、财政或企业令牌。服务商令牌不能登录控制台。", "Paste a bureau, auditor, finance or enterprise token. Provider tokens cannot sign in here.")) }
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

/// Checks the form's own CSRF secret, whether the caller's address must wait, and the token;
/// a bureau, auditor or finance token opens a session and goes to the overview, an
/// enterprise's token one bound to its credit code that goes to its own page.
pub async fn login(
    State(console): State<Console>,
    ConnectInfo(PeerAddress(address)): ConnectInfo<PeerAddress>,
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
    if let Some(wait) = console.attempts.wait(Some(address.ip()), Instant::now()) {
        return must_wait(language, wait);
    }
    let token = match console.engine.reader().authenticate(form.token.trim()) {
        Ok(Some(token)) => token,
        Ok(None) => return unknown_token(&console, address, language),
        Err(error) => return PageError::engine(error, language).into_response(),
    };
    // A provider works through its own systems over gRPC; the console has no pages for it.
    // An enterprise's session reads only its own records (`Viewer` keeps it off the rest).
    if token.role == Role::Provider {
        return refuse(
            language,
            StatusCode::FORBIDDEN,
            language.pick(
                "服务商令牌不能登录控制台，请使用数据局、审计、财政或企业令牌。",
                "Provider tokens cannot sign in to the console: use a bureau, auditor, finance or enterprise token.",
            ),
        );
    }
    // The console's pages show every program: a bureau token scoped to programs works over
    // gRPC and voucherctl, which keep it to them.
    if !token.programs.is_empty() {
        return refuse(
            language,
            StatusCode::FORBIDDEN,
            language.pick(
                "限定项目的数据局令牌不能登录控制台，请使用 voucherctl。",
                "A bureau token scoped to programs cannot sign in to the console: use voucherctl.",
            ),
        );
    }
    let actor = token.actor();
    let session_id = console.sessions.open(token.token_id, actor);
    tracing::info!(token_id = %token.token_id, role = ?token.role, "console sign-in");
    let jar = jar
        .remove(Cookie::build(LOGIN_CSRF_COOKIE).path("/"))
        .add(strict_cookie(
            SESSION_COOKIE,
            session_id,
            console.settings.cookie_secure,
        ));
    (jar, Redirect::to(home_of(actor))).into_response()
}

/// The sign-in form again, saying why, under `status`, with a fresh CSRF secret.
fn refuse(language: Language, status: StatusCode, message: &str) -> Response {
    let csrf = random_secret();
    let jar = CookieJar::new().add(strict_cookie(LOGIN_CSRF_COOKIE, csrf.clone(), false));
    (status, jar, login_form(language, &csrf, Some(message))).into_response()
}

/// 429 with `Retry-After`: the address failed too often and waits `wait` more (whole seconds,
/// rounded up), its token not read.
fn must_wait(language: Language, wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let message = match language {
        Language::Chinese => format!("此地址登录失败次数过多，请 {seconds} 秒后再试。"),
        Language::English => {
            format!("Too many failed sign-ins from this address: try again in {seconds} s.")
        }
    };
    let mut response = refuse(language, StatusCode::TOO_MANY_REQUESTS, &message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, seconds.into());
    response
}

/// 401 for a token that is unknown or revoked: counted, logged with the caller's address, and
/// held against the address.
fn unknown_token(console: &Console, address: SocketAddr, language: Language) -> Response {
    crate::metrics::authentication_failed("console");
    let wait_s = console
        .attempts
        .failed(Some(address.ip()), Instant::now())
        .map(|wait| wait.as_secs());
    tracing::warn!(%address, ?wait_s, "console sign-in with an unknown or revoked token");
    refuse(
        language,
        StatusCode::UNAUTHORIZED,
        language.pick(
            "令牌无效或已撤销。",
            "The token is not valid or was revoked.",
        ),
    )
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn logout(
    State(console): State<Console>,
    SignedIn(viewer): SignedIn,
    jar: CookieJar,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
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
