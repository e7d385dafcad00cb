//! The page shell (header, navigation, language toggle, sign-out) and the small pieces every
//! page draws: amounts, progress bars, status words. Pure markup; the tables are drawn from
//! `fragments`.

use maud::{DOCTYPE, Markup, html};
use rust_decimal::Decimal;

use super::chart::share;
use super::i18n::Language;
use crate::domain::model::{RedemptionStatus, Role, VoucherStatus};
use crate::domain::money::{Money, Total};
use crate::domain::policy::ProgramRules;

/// Which navigation entry is lit.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Overview,
    Enterprises,
    Redemptions,
    Providers,
    Actions,
}

/// What the shell needs to know about the reader.
pub struct Chrome<'a> {
    pub language: Language,
    pub role: Role,
    pub csrf: &'a str,
    /// This page's path and query, for the language toggle to come back to.
    pub here: &'a str,
}

/// A whole signed-in page.
pub fn page(chrome: &Chrome<'_>, section: Section, title: &str, body: Markup) -> Markup {
    let language = chrome.language;
    let entries = [
        (Section::Overview, "/", "总览", "Overview"),
        (Section::Enterprises, "/enterprises", "企业", "Enterprises"),
        (
            Section::Redemptions,
            "/redemptions",
            "核销记录",
            "Redemptions",
        ),
        (Section::Providers, "/providers", "服务商", "Providers"),
        (Section::Actions, "/actions", "操作", "Actions"),
    ];
    let role_word = match chrome.role {
        Role::Bureau => language.pick("数据局", "Bureau"),
        Role::Auditor => language.pick("审计", "Auditor"),
        Role::Provider => language.pick("服务商", "Provider"),
        Role::Enterprise => language.pick("企业", "Enterprise"),
    };
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
                        @for (entry, href, chinese, english) in entries {
                            @if entry != Section::Actions || chrome.role == Role::Bureau {
                                a href=(href) class=[(entry == section).then_some("active")] { (language.pick(chinese, english)) }
                            }
                        }
                    }
                    div class="who" {
                        a class="language" href={"/language?to=" (language.other().code()) "&back=" (encode(chrome.here))} {
                            (language.pick("English", "中文"))
                        }
                        span class="role" { (role_word) }
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
    html! {
        (DOCTYPE)
        html lang=(language.html_lang()) {
            (head(title))
            body class="bare" {
                main {
                    h1 { (title) }
                    p class="message error" { (message) }
                    p { a href="/" { (language.pick("返回总览", "Back to the overview")) } }
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

/// Percent-encodes a query value (the toggle's way back, the pager's filters).
pub fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
