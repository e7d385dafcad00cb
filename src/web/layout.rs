//! The page shell (header, navigation, language toggle, sign-out) and the small pieces every
//! page draws: amounts, progress bars, status words. Pure markup; the tables are drawn from
//! `fragments`.

use maud::{DOCTYPE, Markup, html};
use rust_decimal::Decimal;

use super::chart::share;
use super::counts::{Count, NavCounts};
use super::i18n::Language;
use crate::domain::model::{Actor, ApplicationStatus, RedemptionStatus, Role, VoucherStatus};
use crate::domain::money::{Money, Total};
use crate::domain::policy::ProgramRules;

/// Which navigation entry is lit.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Overview,
    Enterprises,
    Redemptions,
    /// The review workbench: the claims waiting for the bureau's decision.
    Review,
    Providers,
    Applications,
    Confirmations,
    Unbound,
    Notices,
    /// Who did what: the events, by token, day and record.
    Audit,
    Actions,
    /// The enterprise's own page.
    Home,
    /// The enterprise's applications.
    OwnApplications,
    /// The claims made in the enterprise's name.
    OwnClaims,
}

/// What the shell needs to know about the reader.
pub struct Chrome<'a> {
    pub language: Language,
    pub actor: Actor,
    pub csrf: &'a str,
    /// This page's path and query, for the language toggle to come back to.
    pub here: &'a str,
    /// The figures beside the navigation's entries.
    pub counts: NavCounts,
}

/// A navigation entry: where it goes, its words, and the count beside it.
struct Entry {
    section: Section,
    href: &'static str,
    chinese: &'static str,
    english: &'static str,
    count: Option<Count>,
}

const fn entry(
    section: Section,
    href: &'static str,
    chinese: &'static str,
    english: &'static str,
) -> Entry {
    Entry {
        section,
        href,
        chinese,
        english,
        count: None,
    }
}

/// The entries a reader's navigation shows: an enterprise's own pages, or the bureau's.
fn entries(chrome: &Chrome<'_>) -> Vec<Entry> {
    match chrome.actor {
        Actor::Enterprise(_) => enterprise_entries(chrome.counts),
        actor => bureau_entries(actor, chrome.counts),
    }
}

/// An entry with its count beside it.
fn counted(entry: Entry, count: Count) -> Entry {
    Entry {
        count: Some(count),
        ..entry
    }
}

/// The enterprise's own page, its applications (those waiting counted) and the claims in its
/// name (those waiting for its confirmation counted, when a program asks for it).
fn enterprise_entries(counts: NavCounts) -> Vec<Entry> {
    let applications = entry(
        Section::OwnApplications,
        "/my/applications",
        "申领",
        "Applications",
    );
    let claims = entry(Section::OwnClaims, "/my/claims", "核销确认", "Claims");
    vec![
        entry(Section::Home, "/my", "本企业", "My enterprise"),
        counted(applications, counts.pending_applications),
        match counts.awaiting_confirmation {
            Some(count) => counted(claims, count),
            None => claims,
        },
    ]
}

/// The pages of the bureau, auditors and finance: the confirmations only when a program asks
/// for them, the log of who did what for all three, the actions for the bureau, and for finance
/// its one form (recording payments) where the bureau's actions are.
fn bureau_entries(actor: Actor, counts: NavCounts) -> Vec<Entry> {
    let applications = entry(
        Section::Applications,
        "/applications",
        "申领",
        "Applications",
    );
    let mut bureau = vec![
        entry(Section::Overview, "/", "总览", "Overview"),
        entry(Section::Enterprises, "/enterprises", "企业", "Enterprises"),
        entry(
            Section::Redemptions,
            "/redemptions",
            "核销记录",
            "Redemptions",
        ),
        counted(
            entry(Section::Review, "/review", "审核", "Review"),
            counts.pending_review,
        ),
        entry(Section::Providers, "/providers", "服务商", "Providers"),
        counted(applications, counts.pending_applications),
    ];
    if let Some(count) = counts.awaiting_confirmation {
        let confirmations = entry(
            Section::Confirmations,
            "/confirmations",
            "待企业确认",
            "Awaiting confirmation",
        );
        bureau.push(counted(confirmations, count));
    }
    bureau.push(entry(
        Section::Unbound,
        "/vouchers/unbound",
        "未绑定券",
        "Unbound vouchers",
    ));
    bureau.push(entry(Section::Notices, "/notices", "公示", "Notices"));
    bureau.push(entry(Section::Audit, "/audit", "操作日志", "Audit log"));
    match actor {
        Actor::Bureau => bureau.push(entry(Section::Actions, "/actions", "操作", "Actions")),
        Actor::Finance => bureau.push(entry(
            Section::Actions,
            "/actions",
            "拨付登记",
            "Record payments",
        )),
        _ => {}
    }
    bureau
}

/// Who is signed in, as the header says it: the role, and an enterprise's credit code.
fn role_word(language: Language, actor: Actor) -> String {
    let role = role_name(language, actor.role());
    match actor {
        Actor::Provider(code) | Actor::Enterprise(code) => format!("{role} {code}"),
        _ => role.to_owned(),
    }
}

/// A role's name in the reader's language: in the header, and for who caused an event.
pub fn role_name(language: Language, role: Role) -> &'static str {
    match role {
        Role::Bureau => language.pick("数据局", "Bureau"),
        Role::Auditor => language.pick("审计", "Auditor"),
        Role::Finance => language.pick("财政", "Finance"),
        Role::Provider => language.pick("服务商", "Provider"),
        Role::Enterprise => language.pick("企业", "Enterprise"),
    }
}

/// A whole signed-in page.
pub fn page(chrome: &Chrome<'_>, section: Section, title: &str, body: Markup) -> Markup {
    let language = chrome.language;
    html! {
        (DOCTYPE)
        html lang=(language.html_lang()) {
            (head(title))
            body {
                header class="top" {
                    div class="brand" {
                        span class="seal" { "启" }
                        span { (language.pick("启东市 算力券 / 租赁券 核销账本", "Qidong compute & leasing vouchers")) }
                    }
                    nav {
                        @for entry in entries(chrome) {
                            a href=(entry.href) class=[(entry.section == section).then_some("active")] {
                                (language.pick(entry.chinese, entry.english))
                                @if let Some(count) = entry.count {
                                    " " span class="count" { (count) }
                                }
                            }
                        }
                    }
                    div class="who" {
                        a class="language" href={"/language?to=" (language.other().code()) "&back=" (encode(chrome.here))} {
                            (language.pick("English", "中文"))
                        }
                        span class="role" { (role_word(language, chrome.actor)) }
                        form method="post" action="/logout" class="inline" {
                            input type="hidden" name="csrf" value=(chrome.csrf);
                            button type="submit" class="link" { (language.pick("退出", "Sign out")) }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A page outside the signed-in shell: sign-in, and errors.
pub fn bare(language: Language, title: &str, message: &str) -> Markup {
    bare_refusal(language, title, message, None)
}

/// A page of its own for a refusal: the sentence, and the wire's words in a collapsed
/// 技术信息 when there are any.
pub fn bare_refusal(
    language: Language,
    title: &str,
    message: &str,
    technical: Option<&str>,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(language.html_lang()) {
            (head(title))
            body class="bare" {
                main {
                    h1 { (title) }
                    div class="message error" {
                        p { (message) }
                        @if let Some(technical) = technical {
                            details class="technical" {
                                summary { (language.pick("技术信息", "Technical details")) }
                                code { (technical) }
                            }
                        }
                    }
                    p { a href="/" { (language.pick("返回首页", "Back to the start page")) } }
                }
            }
        }
    }
}

pub fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · 启东市 核销账本" }
            link rel="stylesheet" href="/assets/console.css";
            link rel="stylesheet" href="/assets/print.css" media="print";
            // An empty icon, so the browser does not ask for /favicon.ico.
            link rel="icon" href="data:,";
        }
    }
}

/// A program's name in the reader's language.
pub fn program_name(language: Language, rules: &ProgramRules) -> String {
    match language {
        Language::Chinese => rules.name.clone(),
        Language::English => rules.name_en.clone(),
    }
}

pub fn yuan(amount: Money) -> String {
    amount.to_grouped_string()
}

pub fn total(amount: Total) -> String {
    amount.to_grouped_string()
}

/// A horizontal bar: `redeemed` dark over `committed` light, both out of `cap`. SVG geometry,
/// not inline styles, so the page's content security policy can forbid those.
pub fn usage_bar(
    language: Language,
    redeemed: Decimal,
    committed: Decimal,
    cap: Decimal,
) -> Markup {
    let redeemed_share = share(redeemed, cap) * 100.0;
    let committed_share = share(committed, cap) * 100.0;
    let label = format!(
        "{} {:.1}% · {} {:.1}%",
        language.pick("已核销", "redeemed"),
        redeemed_share,
        language.pick("已发放", "committed"),
        committed_share
    );
    html! {
        svg class="bar" viewBox="0 0 100 8" preserveAspectRatio="none" role="img"
            xmlns="http://www.w3.org/2000/svg" aria-label=(label)
            data-redeemed-percent=(format!("{redeemed_share:.2}")) {
            title { (label) }
            rect class="cap" x="0" y="0" width="100" height="8" {}
            rect class="committed" x="0" y="0" width=(format!("{committed_share:.3}")) height="8" {}
            rect class="redeemed" x="0" y="0" width=(format!("{redeemed_share:.3}")) height="8" {}
        }
    }
}

/// A record's status, as the reader's language words it.
pub trait StatusWord: Copy {
    fn word(self, language: Language) -> &'static str;
}

impl StatusWord for VoucherStatus {
    fn word(self, language: Language) -> &'static str {
        match self {
            VoucherStatus::Active => language.pick("有效", "active"),
            VoucherStatus::Revoked => language.pick("已撤销", "revoked"),
            VoucherStatus::Expired => language.pick("已过期", "expired"),
        }
    }
}

impl StatusWord for RedemptionStatus {
    fn word(self, language: Language) -> &'static str {
        match self {
            RedemptionStatus::Accepted => language.pick("待审核", "accepted"),
            RedemptionStatus::Approved => language.pick("已审核", "approved"),
            RedemptionStatus::Rejected => language.pick("已驳回", "rejected"),
            RedemptionStatus::Settled => language.pick("已结算", "settled"),
            RedemptionStatus::Reversed => language.pick("已红冲", "reversed"),
            RedemptionStatus::Disputed => language.pick("企业异议", "disputed"),
            RedemptionStatus::Returned => language.pick("已退回补正", "returned"),
        }
    }
}

impl StatusWord for ApplicationStatus {
    fn word(self, language: Language) -> &'static str {
        match self {
            ApplicationStatus::Pending => language.pick("待审批", "pending"),
            ApplicationStatus::Approved => language.pick("已批准", "approved"),
            ApplicationStatus::Rejected => language.pick("未批准", "rejected"),
        }
    }
}

/// Percent-encodes a query value (the toggle's way back, the pager's filters).
pub fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
