//! The bureau's web console: server-rendered pages (maud) over HTTP (axum) on their own port,
//! and the only module that knows HTTP pages.
//!
//! It reads from the same [`Reader`](crate::engine::Reader) as gRPC and never waits for the
//! writer. Its forms build the very gRPC request messages voucherctl sends and turn them into
//! commands with `api::requests` (and `api::enterprise`), so a field is checked by the same
//! parser and a refusal reads the same words as over gRPC. Sign-in takes a bureau, auditor,
//! finance or enterprise token (provider tokens and bureau tokens scoped to programs are
//! refused); the session is an HttpOnly, SameSite=Strict cookie, and every form carries the
//! session's CSRF secret. The pages of the bureau, auditors and finance (who may only record
//! payments) take a [`Viewer`], which an enterprise's session never is; every form submits in
//! the signed-in token's name ([`Viewer::caller`]), and `history` walks the log for who did
//! what (a record's history, the audit page). An enterprise has pages of its own
//! (`portal`), which take an [`EnterpriseViewer`] and read by the credit code its token is
//! bound to. Every asset is served from the binary: the bureau's network may be closed, and the
//! pages run no script at all.

mod actions;
pub mod chart;
mod counts;
mod downloads;
mod fields;
mod fragments;
mod history;
pub mod i18n;
mod layout;
pub(crate) mod listener;
mod pages;
mod paging;
mod portal;
pub mod session;
mod sign_in;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::attempts::FailedAttempts;
use crate::domain::credit_code::CreditCode;
use crate::domain::error::LedgerError;
use crate::domain::model::{Actor, Role};
use crate::domain::reason::ReasonCode;
use crate::engine::{Engine, EngineError};
use i18n::{LANGUAGE_COOKIE, Language};
use session::{SESSION_COOKIE, Session, Sessions, same_secret};

/// The largest form a page accepts.
pub const FORM_BYTES_MAX: usize = 64 * 1024;
/// Requests the console handles at once; past it, 503 at once.
pub const CONCURRENT_REQUESTS_MAX: usize = 64;
/// How long a request's body may take to arrive; it holds no slot meanwhile.
pub const BODY_READ_DEADLINE: Duration = Duration::from_secs(10);

/// What the daemon's configuration says about the console.
#[derive(Clone, Copy, Debug)]
pub struct WebSettings {
    pub session_lifetime: Duration,
    /// Mark the session cookie `Secure` (a TLS proxy serves the console).
    pub cookie_secure: bool,
}

/// What every handler shares.
#[derive(Clone)]
struct Console {
    engine: Engine,
    sessions: Arc<Sessions>,
    settings: WebSettings,
    in_flight: Arc<Semaphore>,
    /// Failed sign-ins per caller address, shared with the gRPC server.
    attempts: Arc<FailedAttempts>,
    /// The counts the bureau's navigation shows, kept while the ledger does not change.
    counts: Arc<counts::CountCache>,
    /// Places for walks of the event log (histories, the audit page).
    walks: Arc<Semaphore>,
}

/// Serves the console on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    engine: Engine,
    settings: WebSettings,
    attempts: Arc<FailedAttempts>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let console = Console {
        engine,
        sessions: Arc::new(Sessions::new(settings.session_lifetime)),
        settings,
        in_flight: Arc::new(Semaphore::new(CONCURRENT_REQUESTS_MAX)),
        attempts,
        counts: Arc::new(counts::CountCache::default()),
        walks: Arc::new(Semaphore::new(history::WALKS_AT_ONCE)),
    };
    let app = router(console).into_make_service_with_connect_info::<listener::PeerAddress>();
    axum::serve(listener::BoundedListener::new(listener), app)
        .with_graceful_shutdown(shutdown)
        .await
}

fn router(console: Console) -> Router {
    Router::new()
        .merge(enterprise_routes())
        .merge(bureau_routes())
        .merge(notice_routes())
        .route("/", get(pages::overview))
        .route("/enterprises", get(pages::enterprises))
        .route("/enterprises/{credit_code}", get(pages::enterprise))
        .route("/redemptions", get(pages::redemptions))
        .merge(review_routes())
        .route("/redemptions/{redemption_id}", get(pages::claim))
        .route("/providers", get(pages::providers))
        .route("/providers/{credit_code}", get(pages::provider))
        .route("/settlements/{settlement_id}", get(pages::settlement))
        .route("/audit", get(pages::audit))
        .route("/actions", get(actions::page))
        .route(
            "/actions/register-enterprise",
            post(actions::register_enterprise),
        )
        .route(
            "/actions/register-provider",
            post(actions::register_provider),
        )
        .route("/actions/issue-voucher", post(actions::issue_voucher))
        .route("/actions/revoke-voucher", post(actions::revoke_voucher))
        .route(
            "/actions/reverse-redemption",
            post(actions::reverse_redemption),
        )
        .route(
            "/actions/approve-redemption",
            post(actions::approve_redemption),
        )
        .route(
            "/actions/reject-redemption",
            post(actions::reject_redemption),
        )
        .route(
            "/actions/create-settlement",
            post(actions::create_settlement),
        )
        .route(
            "/actions/record-settlement-payment",
            post(actions::record_settlement_payment),
        )
        .route("/downloads/report", get(downloads::report))
        .route("/downloads/statement", get(downloads::statement))
        .route("/downloads/redemptions", get(downloads::redemptions))
        .route("/downloads/enterprises", get(downloads::enterprises))
        .route("/downloads/settlements", get(downloads::settlements))
        .route(
            "/settlements/{settlement_id}/print",
            get(pages::print_statement),
        )
        .route("/assets/print.css", get(pages::print_stylesheet))
        .route("/login", get(sign_in::login_page).post(sign_in::login))
        .route("/logout", post(sign_in::logout))
        .route("/language", get(sign_in::switch_language))
        .route("/assets/console.css", get(stylesheet))
        .layer(DefaultBodyLimit::max(FORM_BYTES_MAX))
        .layer(middleware::from_fn_with_state(
            console.clone(),
            guard_and_headers,
        ))
        .with_state(console)
}

/// The enterprise's own pages and forms: each takes an [`EnterpriseViewer`].
fn enterprise_routes() -> Router<Console> {
    Router::new()
        .route("/my", get(portal::home))
        .route("/my/applications", get(portal::applications))
        .route("/my/claims", get(portal::claims))
        .route("/my/apply", post(portal::apply))
        .route("/my/confirm", post(portal::confirm))
        .route("/my/dispute", post(portal::dispute))
}

/// The bureau's pages of the enterprise's part (auditors read them) and their forms.
fn bureau_routes() -> Router<Console> {
    Router::new()
        .route("/applications", get(pages::applications))
        .route("/confirmations", get(pages::confirmations))
        .route("/vouchers/unbound", get(pages::unbound_vouchers))
        .route("/vouchers/{voucher_id}", get(pages::voucher))
        .route(
            "/vouchers/{voucher_id}/providers",
            get(pages::voucher_providers),
        )
        .route(
            "/actions/approve-application",
            post(actions::approve_application),
        )
        .route(
            "/actions/reject-application",
            post(actions::reject_application),
        )
        .route(
            "/actions/change-voucher-providers",
            post(actions::change_voucher_providers),
        )
        .route(
            "/actions/return-redemption",
            post(actions::return_redemption),
        )
}

/// The review workbench and its forms (a row's approve and reject, approving the ticked).
fn review_routes() -> Router<Console> {
    Router::new()
        .route("/review", get(pages::review))
        .route("/actions/review-approve", post(actions::review_approve))
        .route("/actions/review-reject", post(actions::review_reject))
        .route(
            "/actions/review-approve-selected",
            post(actions::review_approve_selected),
        )
}

/// Public notices: the list, one notice, its documents, and publishing one.
fn notice_routes() -> Router<Console> {
    Router::new()
        .route("/notices", get(pages::notices))
        .route("/notices/{notice_id}", get(pages::notice))
        .route("/downloads/notice", get(downloads::notice))
        .route("/actions/publish-notice", post(actions::publish_notice))
}

/// Reads the request's whole body (within [`BODY_READ_DEADLINE`] and [`FORM_BYTES_MAX`])
/// before taking one of the concurrency bound's slots, so a client that sends headers and then
/// nothing holds no slot (see SECURITY.md); refuses work past the bound; logs one line per request;
/// and sets the headers every response carries: no script, nothing from elsewhere, no
/// framing, no caching of pages that show public money.
async fn guard_and_headers(
    State(console): State<Console>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let reading = axum::body::to_bytes(body, FORM_BYTES_MAX);
    let body = match tokio::time::timeout(BODY_READ_DEADLINE, reading).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, "the form is too large").into_response();
        }
        Err(_) => {
            return (
                StatusCode::REQUEST_TIMEOUT,
                "the form did not arrive in time",
            )
                .into_response();
        }
    };
    let request = Request::from_parts(parts, axum::body::Body::from(body));
    let Ok(_permit) = console.in_flight.clone().try_acquire_owned() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "busy: retry shortly").into_response();
    };
    let is_asset = request.uri().path().starts_with("/assets/");
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let started = std::time::Instant::now();
    let mut response = next.run(request).await;
    // One line per page, like the gRPC side; the path only (queries hold filters, never
    // secrets, but a path is enough to follow a session's steps).
    tracing::info!(
        target: "voucher_ledger::web::request",
        %method,
        %path,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "console request"
    );
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !is_asset && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("assets/console.css"),
    )
}

/// The signed-in reader of one of the bureau's pages: a bureau, auditor or finance session (its
/// token still active) and the language. An enterprise's session is never a `Viewer`: a page or form
/// that takes one refuses it before reading anything (see [`PageError::NotForEnterprise`]), so
/// a page added for the bureau is closed to enterprises unless it says otherwise.
struct Viewer {
    session_id: String,
    session: Session,
    language: Language,
    /// The console, for the counts the navigation shows.
    console: Console,
}

impl Viewer {
    fn is_bureau(&self) -> bool {
        self.session.role == Role::Bureau
    }

    /// Whether its forms may record a statement's payment: the bureau's (the ledger refuses
    /// them when the policy separates duties) and finance's, its only form.
    fn records_payments(&self) -> bool {
        matches!(self.session.role, Role::Bureau | Role::Finance)
    }

    /// A form must carry this session's CSRF secret.
    fn check_csrf(&self, given: &str) -> Result<(), PageError> {
        if same_secret(&self.session.csrf, given) {
            Ok(())
        } else {
            Err(PageError::Forgery)
        }
    }
}

impl FromRequestParts<Console> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, console: &Console) -> Result<Viewer, PageError> {
        let viewer = signed_in(parts, console)?;
        if let Actor::Enterprise(_) = viewer.session.actor {
            return Err(PageError::NotForEnterprise {
                language: viewer.language,
                reading: is_reading(&parts.method),
            });
        }
        Ok(viewer)
    }
}

/// An enterprise's session, and the credit code its token is bound to: the only enterprise
/// whose records its pages read and whose name its forms act in.
struct EnterpriseViewer {
    viewer: Viewer,
    own: CreditCode,
}

impl Viewer {
    /// The signed-in token as the ledger sees a caller: its actor, and its token named on
    /// every event it causes. A token scoped to programs cannot sign in (see `sign_in`), so a
    /// console caller acts in every program its role allows.
    fn caller(&self) -> crate::domain::model::Caller {
        use crate::domain::model::{Caller, CallerStamp, EventCause};
        Caller {
            actor: self.session.actor,
            programs: Default::default(),
            cause: EventCause::Caller(CallerStamp {
                token_id: Some(self.session.token_id),
                role: self.session.role,
                certificate_subject: None,
            }),
        }
    }
}

impl EnterpriseViewer {
    fn actor(&self) -> Actor {
        Actor::Enterprise(self.own)
    }
}

impl FromRequestParts<Console> for EnterpriseViewer {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Console,
    ) -> Result<EnterpriseViewer, PageError> {
        let viewer = signed_in(parts, console)?;
        match viewer.session.actor {
            Actor::Enterprise(own) => Ok(EnterpriseViewer { viewer, own }),
            _ => Err(PageError::EnterpriseOnly {
                language: viewer.language,
                reading: is_reading(&parts.method),
            }),
        }
    }
}

/// Any live session, whatever it speaks for: only signing out takes one.
struct SignedIn(Viewer);

impl FromRequestParts<Console> for SignedIn {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Console,
    ) -> Result<SignedIn, PageError> {
        signed_in(parts, console).map(SignedIn)
    }
}

/// The session the request's cookie names, while it lives and its token is active and still
/// speaks for the same party.
fn signed_in(parts: &Parts, console: &Console) -> Result<Viewer, PageError> {
    let jar = CookieJar::from_headers(&parts.headers);
    let language = language_of(&jar);
    let session_id = jar
        .get(SESSION_COOKIE)
        .map(|cookie| cookie.value().to_owned())
        .ok_or(PageError::SignIn)?;
    let session = console
        .sessions
        .find(&session_id)
        .ok_or(PageError::SignIn)?;
    let token = console
        .engine
        .reader()
        .active_token(&session.token_id)
        .map_err(|error| PageError::engine(error, language))?;
    if token.is_none_or(|token| token.actor() != session.actor) {
        console.sessions.close(&session_id);
        return Err(PageError::SignIn);
    }
    Ok(Viewer {
        session_id,
        session,
        language,
        console: console.clone(),
    })
}

/// Whether a request only reads (a page, a download), so that one not meant for its session may
/// be sent to the session's own start page rather than refused.
fn is_reading(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

/// Where a session starts: the enterprise's own page, or the overview.
fn home_of(actor: Actor) -> &'static str {
    match actor {
        Actor::Enterprise(_) => portal::HOME,
        _ => "/",
    }
}

fn language_of(jar: &CookieJar) -> Language {
    Language::from_cookie(jar.get(LANGUAGE_COOKIE).map(|cookie| cookie.value()))
}

/// Why a page was not served.
#[derive(Debug)]
enum PageError {
    /// No live session: go sign in.
    SignIn,
    /// Signed in, but this page or form is the bureau's (finance's one form aside).
    BureauOnly(Language),
    /// An enterprise's session at one of the bureau's pages (sent to its own page) or forms
    /// (refused).
    NotForEnterprise { language: Language, reading: bool },
    /// The bureau's or an auditor's session at one of an enterprise's pages (sent to the
    /// overview) or forms (refused).
    EnterpriseOnly { language: Language, reading: bool },
    /// A form without the session's CSRF secret.
    Forgery,
    /// What the ledger said: the catalogue's sentence, and the line gRPC would say kept for a
    /// collapsed 技术信息.
    Ledger {
        status: StatusCode,
        message: String,
        technical: Option<String>,
        language: Language,
    },
}

impl PageError {
    fn engine(error: EngineError, language: Language) -> PageError {
        let (status, refusal) = refused(&error, language);
        PageError::Ledger {
            status,
            message: refusal.sentence,
            technical: Some(refusal.technical),
            language,
        }
    }
}

/// What the console answers for an error of the engine or the ledger: the HTTP status and
/// one line, `REASON: what is wrong` (the reason from the closed list the API also sends).
fn refusal(error: &EngineError) -> (StatusCode, String) {
    let status = match error {
        EngineError::Ledger(ledger_error) => ledger_http_status(ledger_error),
        EngineError::Overloaded | EngineError::Unavailable | EngineError::NotLeader { .. } => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        EngineError::Store(store_error) => {
            tracing::error!(error = %store_error, "store error while serving a console page");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL: internal error".to_owned(),
            );
        }
    };
    let line = match error {
        EngineError::Ledger(ledger_error) => format!("{}: {ledger_error}", ledger_error.reason()),
        EngineError::Overloaded => format!(
            "{}: the ledger's write queue is full: retry shortly",
            ReasonCode::Overloaded
        ),
        EngineError::NotLeader { .. } => format!("{}: {error}", ReasonCode::NotLeader),
        _ => format!(
            "{}: the ledger is not accepting writes",
            ReasonCode::NotAcceptingWrites
        ),
    };
    (status, line)
}

/// The refusal as the console shows it: the status, and the catalogue's sentence
/// (`domain::reason_text`) in the reader's language with the wire's words beside it.
fn refused(error: &EngineError, language: Language) -> (StatusCode, fragments::Refusal) {
    use crate::domain::reason_text::{self, Lang};
    let (status, technical) = refusal(error);
    let lang = match language {
        Language::Chinese => Lang::Zh,
        Language::English => Lang::En,
    };
    let (sentence, field) = match error {
        EngineError::Ledger(ledger_error) => (
            reason_text::sentence(ledger_error, lang),
            match ledger_error {
                LedgerError::InvalidArgument { field, .. }
                | LedgerError::NotFound { field, .. } => Some(*field),
                LedgerError::Refused(refusal) => field_refused_over(refusal.reason),
                _ => None,
            },
        ),
        EngineError::Overloaded => (
            reason_text::explain(ReasonCode::Overloaded, lang).to_owned(),
            None,
        ),
        EngineError::Unavailable => (
            reason_text::explain(ReasonCode::NotAcceptingWrites, lang).to_owned(),
            None,
        ),
        // The catalogue's sentence, and where the active voucherd serves when known.
        EngineError::NotLeader { leader_address } => (
            match leader_address {
                Some(address) => format!(
                    "{} ({address})",
                    reason_text::explain(ReasonCode::NotLeader, lang)
                ),
                None => reason_text::explain(ReasonCode::NotLeader, lang).to_owned(),
            },
            None,
        ),
        EngineError::Store(_) => (
            language
                .pick(
                    "系统内部出错，请稍后再试；如反复出现，请联系管理员。",
                    "Internal error: try again shortly; tell the administrator if it persists.",
                )
                .to_owned(),
            None,
        ),
    };
    let refusal = fragments::Refusal {
        language,
        sentence,
        field,
        technical,
    };
    (status, refusal)
}

/// The form field a rule's refusal is about, where one field alone is: the console marks it
/// (the wire names none, since the rule concerns the ledger's state, not the field's form).
fn field_refused_over(reason: ReasonCode) -> Option<&'static str> {
    match reason {
        ReasonCode::PaymentDateOutOfRange => Some("paid_on"),
        ReasonCode::CapExceeded | ReasonCode::BudgetExceeded | ReasonCode::AboveAppliedAmount => {
            Some("face_value")
        }
        _ => None,
    }
}

fn ledger_http_status(error: &LedgerError) -> StatusCode {
    match error {
        LedgerError::InvalidArgument { .. } => StatusCode::BAD_REQUEST,
        LedgerError::NotFound { .. } => StatusCode::NOT_FOUND,
        LedgerError::AlreadyExists { .. } | LedgerError::Refused(_) => StatusCode::CONFLICT,
        LedgerError::PermissionDenied { .. } => StatusCode::FORBIDDEN,
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::SignIn => Redirect::to("/login").into_response(),
            PageError::BureauOnly(language) => (
                StatusCode::FORBIDDEN,
                layout::bare(
                    language,
                    language.pick("无权限", "Not allowed"),
                    language.pick(
                        "此页面仅限数据局使用；审计和财政账号只能查看（财政只登记拨付）。",
                        "This page is the bureau's; auditors and finance may only read (finance records payments only).",
                    ),
                ),
            )
                .into_response(),
            PageError::NotForEnterprise { reading: true, .. } => {
                Redirect::to(portal::HOME).into_response()
            }
            PageError::NotForEnterprise { language, .. } => (
                StatusCode::FORBIDDEN,
                layout::bare(
                    language,
                    language.pick("无权限", "Not allowed"),
                    language.pick(
                        "此页面和操作仅限数据局、审计和财政使用；企业只能查看本企业的记录。",
                        "This page is the bureau's, the auditors' and finance's; an enterprise sees only its own records.",
                    ),
                ),
            )
                .into_response(),
            PageError::EnterpriseOnly { reading: true, .. } => Redirect::to("/").into_response(),
            PageError::EnterpriseOnly { language, .. } => (
                StatusCode::FORBIDDEN,
                layout::bare(
                    language,
                    language.pick("无权限", "Not allowed"),
                    language.pick(
                        "此操作仅限企业本身使用。",
                        "Only the enterprise itself may do this.",
                    ),
                ),
            )
                .into_response(),
            PageError::Forgery => (
                StatusCode::FORBIDDEN,
                layout::bare(
                    Language::Chinese,
                    "表单已失效 · Form expired",
                    "表单缺少有效的校验码，未做任何更改。请重新打开页面再提交。 The form did not carry this session's check value; nothing was changed. Open the page again and resubmit.",
                ),
            )
                .into_response(),
            PageError::Ledger {
                status,
                message,
                technical,
                language,
            } => (
                status,
                layout::bare_refusal(
                    language,
                    language.pick("出错了", "Error"),
                    &message,
                    technical.as_deref(),
                ),
            )
                .into_response(),
        }
    }
}
