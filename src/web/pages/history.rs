//! Who did what, drawn: a record page's history section (操作记录: when, who, what), and the
//! cells the audit page shares with it (who caused an event, what kind it is, the records it
//! touched as links). The walking is `web::history`'s.

use maud::{Markup, html};

use crate::domain::credit_code::CreditCode;
use crate::domain::ids::{NoticeId, RedemptionId, SettlementId, VoucherId};
use crate::domain::model::EventCause;
use crate::engine::Reader;
use crate::web::Console;
use crate::web::fragments::{cell, column, markup_cell, number_column, row, table};
use crate::web::history::{self, ENTRIES_MAX, Entry, Filter, Found, WINDOW_EVENTS};
use crate::web::i18n::Language;
use crate::web::layout::{encode, role_name};

/// A record's history as read for its page: what was found, or why it could not be read
/// (the page shows the rest all the same).
pub struct History {
    record: String,
    found: Result<Found, String>,
}

/// The history of `record` (its id or credit code as the log names it), newest first.
pub async fn of_record(console: &Console, record: impl ToString) -> History {
    let record = record.to_string();
    let filter = Filter::record(&record);
    let found = history::find(&console.walks, console.engine.reader(), filter, None).await;
    History {
        found: found.map_err(|error| {
            tracing::warn!(%error, %record, "a record's history could not be read");
            error.to_string()
        }),
        record,
    }
}

impl History {
    /// The section under a record's page: a row per event, and what was not shown or read.
    pub fn draw(&self, language: Language) -> Markup {
        let columns = [
            column(language.pick("时间", "When")),
            column(language.pick("操作人", "Who")),
            column(language.pick("操作", "What")),
            number_column(language.pick("序号", "Event")),
        ];
        let audit = format!("/audit?record={}", encode(&self.record));
        html! {
            section class="history" {
                h2 { (language.pick("操作记录", "History")) }
                @match &self.found {
                    Err(error) => p class="message error" { (language.pick("操作记录暂时无法读取：", "The history could not be read: ")) (error) },
                    Ok(found) => {
                        (table(&columns, found.entries.iter().map(|entry| row([
                            when_cell(entry),
                            markup_cell(who(language, &entry.cause)),
                            markup_cell(what(language, entry.kind)),
                            audit_link_cell(entry.sequence),
                        ])), Some(language.pick("所查找的事件中没有本记录的操作。", "No event of this record among those searched."))))
                        (window_note(language, found, &audit))
                    }
                }
            }
        }
    }
}

/// What a page of events did not show or read, plainly: more matches than shown, events
/// before the window left unread; each with the link that goes on.
pub fn window_note(language: Language, found: &Found, more_href: &str) -> Markup {
    let join = if more_href.contains('?') { '&' } else { '?' };
    let older = found
        .older_before()
        .map(|before| format!("{more_href}{join}before={before}"));
    html! {
        p class="hint" {
            @if found.last == 0 {
                (language.pick("没有可查找的事件。", "No events to search."))
            } @else {
                (language.pick("已查找事件 ", "Searched events "))
                "#" (found.first) "–#" (found.last)
                (language.pick("（每次最多查找 ", " (at most "))
                (grouped(WINDOW_EVENTS))
                (language.pick(" 条，最多显示 ", " read and "))
                (ENTRIES_MAX)
                (language.pick(" 条，新的在前）。", " shown at a time, newest first)."))
            }
            @if found.more_matched > 0 {
                " " (language.pick("另有 ", "")) (found.more_matched)
                (language.pick(" 条更早的匹配事件未显示。", " older matching events are not shown."))
            }
            @if found.cut() {
                " " strong { (language.pick("查找范围已截断：", "The search was cut: "))
                (language.pick("序号 #", "events before #")) (found.first)
                (language.pick(" 之前的事件未查找。", " were not read.")) }
            }
            @if let Some(older) = older {
                " " a href=(older) { (language.pick("查看更早的 →", "Older →")) }
            }
        }
    }
}

/// A count with thousands separators (`100,000`).
fn grouped(count: u64) -> String {
    let digits = count.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// When an event happened, in China time, to the second.
pub fn when_cell(entry: &Entry) -> Markup {
    match entry.at {
        Some(at) => cell(at.format("%Y-%m-%d %H:%M:%S")),
        None => cell("—"),
    }
}

/// An event's sequence, linking to it on the audit page.
pub fn audit_link_cell(sequence: u64) -> Markup {
    html! { td class="number" { a href={"/audit?before=" (sequence + 1)} { "#" (sequence) } } }
}

/// Who caused an event: a caller's token (linking to what it did) and role, or the
/// certificate it came with; the ledger itself; or that the log did not record it.
pub fn who(language: Language, cause: &EventCause) -> Markup {
    html! {
        @match cause {
            EventCause::Unrecorded => span class="hint" { (language.pick("未记录", "unrecorded")) },
            EventCause::Ledger => span { (language.pick("账本", "ledger")) },
            EventCause::Caller(stamp) => {
                @if let Some(token) = stamp.token_id {
                    a class="code" href={"/audit?token=" (token)} { (token) }
                    " · "
                }
                (role_name(language, stamp.role))
                @if let Some(subject) = &stamp.certificate_subject {
                    div class="code" { (subject) }
                }
            }
        }
    }
}

/// What kind of event, in words, over its kind as the log names it.
pub fn what(language: Language, kind: &str) -> Markup {
    html! {
        (kind_word(language, kind).unwrap_or(kind))
        div class="code" { (kind) }
    }
}

/// The records an event touched, each a link: to its page where one exists, else to its
/// history on the audit page.
pub fn records_cell(reader: &Reader, records: &[String]) -> Markup {
    html! {
        td {
            @for record in records {
                div class="code" { a href=(record_href(reader, record)) { (record) } }
            }
        }
    }
}

fn record_href(reader: &Reader, record: &str) -> String {
    if VoucherId::parse(record).is_ok() {
        format!("/vouchers/{record}")
    } else if RedemptionId::parse(record).is_ok() {
        format!("/redemptions/{record}")
    } else if NoticeId::parse(record).is_ok() {
        format!("/notices/{record}")
    } else if SettlementId::parse(record).is_ok() {
        format!("/settlements/{record}")
    } else if let Ok(code) = CreditCode::parse(record)
        && reader.enterprise(&code).is_ok()
    {
        format!("/enterprises/{record}")
    } else if let Ok(code) = CreditCode::parse(record)
        && reader.provider(&code).is_ok()
    {
        format!("/providers/{record}")
    } else {
        format!("/audit?record={}", encode(record))
    }
}

/// An event kind in words; `None` for one this build does not know.
fn kind_word(language: Language, kind: &str) -> Option<&'static str> {
    let (chinese, english) = match kind {
        "policy_adopted" => ("采用政策", "policy adopted"),
        "enterprise_registered" => ("登记企业", "enterprise registered"),
        "provider_registered" => ("登记服务商", "provider registered"),
        "token_created" => ("创建令牌", "token created"),
        "token_revoked" => ("撤销令牌", "token revoked"),
        "voucher_issued" => ("发券", "voucher issued"),
        "voucher_revoked" => ("撤销券", "voucher revoked"),
        "voucher_expired" => ("券过期", "voucher expired"),
        "redemption_accepted" => ("申报核销", "claim filed"),
        "redemption_approved" => ("审核通过", "claim approved"),
        "redemption_rejected" => ("驳回核销", "claim rejected"),
        "redemption_reversed" => ("红冲", "claim reversed"),
        "settlement_created" => ("生成结算单", "statement created"),
        "related_parties_recorded" => ("登记关联方", "related parties recorded"),
        "settlement_paid" => ("登记拨付", "payment recorded"),
        "provider_suspended" => ("暂停服务商", "provider suspended"),
        "provider_reinstated" => ("恢复服务商", "provider reinstated"),
        "provider_certificate_pinned" => ("绑定证书", "certificate pinned"),
        "provider_certificate_revoked" => ("吊销证书", "certificate revoked"),
        "voucher_applied" => ("企业申领", "voucher applied for"),
        "application_approved" => ("批准申领", "application approved"),
        "application_rejected" => ("驳回申领", "application rejected"),
        "voucher_providers_changed" => ("变更服务商", "providers changed"),
        "redemption_confirmed" => ("企业确认", "claim confirmed"),
        "redemption_disputed" => ("企业异议", "claim disputed"),
        "redemption_returned" => ("退回补正", "claim returned"),
        "notice_published" => ("发布公示", "notice published"),
        _ => return None,
    };
    Some(language.pick(chinese, english))
}
