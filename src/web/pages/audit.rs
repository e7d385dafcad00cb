//! Who did what (`/audit`): the events of the log, newest first, filtered by the token that
//! caused them, by day (China time, from the time each event records) and by a record they
//! touched; a page reads at most `history::WINDOW_EVENTS` events and shows at most
//! `history::ENTRIES_MAX`, says which it read, and links to the older ones. Each row: the
//! sequence, the time, who (token and role, the ledger, or unrecorded), the kind, and the
//! records as links to their pages (or to their own history here). The bureau, auditors and
//! finance read it; an enterprise's session is never a `Viewer`.

use axum::extract::{OriginalUri, Query, State};
use maud::{Markup, html};
use serde::Deserialize;

use super::history::{audit_link_cell, records_cell, what, when_cell, who, window_note};
use super::query::bad_field;
use super::{refused, shell};
use crate::api::convert::{optional_id, optional_record_id};
use crate::domain::error::LedgerError;
use crate::domain::ids::TokenId;
use crate::domain::input::InputError;
use crate::domain::reason::ReasonCode;
use crate::engine::{EngineError, Reader};
use crate::web::fragments::{column, markup_cell, number_column, row, table};
use crate::web::history::{self, Filter, Found};
use crate::web::i18n::Language;
use crate::web::layout::{Section, encode};
use crate::web::{Console, PageError, Viewer};

#[derive(Deserialize)]
pub struct AuditQuery {
    token: Option<String>,
    day: Option<String>,
    record: Option<String>,
    before: Option<String>,
}

/// The filters asked for, checked, with the words typed (to fill the form again).
struct Asked {
    filter: Filter,
    before: Option<u64>,
    token: String,
    day: String,
    record: String,
}

impl Asked {
    fn parse(query: &AuditQuery, language: Language) -> Result<Asked, PageError> {
        let text = |value: &Option<String>| value.as_deref().unwrap_or_default().trim().to_owned();
        let (token, day, record) = (text(&query.token), text(&query.day), text(&query.record));
        let refused = |error: LedgerError| PageError::engine(EngineError::Ledger(error), language);
        let token_id = optional_id(
            "token",
            &crate::domain::typed::id_as_typed(&token),
            TokenId::parse,
        )
        .map_err(refused)?;
        let on_day = match day.as_str() {
            "" => None,
            day => Some(
                crate::domain::typed::date_as_typed(day)
                    .map_err(|error| bad_field("day", error, language))?,
            ),
        };
        let record_id = optional_record_id("record", &record).map_err(refused)?;
        let before = match text(&query.before).as_str() {
            "" => None,
            before => Some(sequence(before).map_err(|error| bad_field("before", error, language))?),
        };
        Ok(Asked {
            filter: Filter {
                token: token_id,
                record: record_id,
                day: on_day,
            },
            before,
            token,
            day,
            record,
        })
    }

    /// This page's address without `before`: where the older pages go on from.
    fn href(&self) -> String {
        let mut parts = Vec::new();
        for (name, value) in [
            ("token", &self.token),
            ("day", &self.day),
            ("record", &self.record),
        ] {
            if !value.is_empty() {
                parts.push(format!("{name}={}", encode(value)));
            }
        }
        if parts.is_empty() {
            "/audit".to_owned()
        } else {
            format!("/audit?{}", parts.join("&"))
        }
    }
}

/// An event's sequence, from 1.
fn sequence(text: &str) -> Result<u64, InputError> {
    match text.parse::<u64>() {
        Ok(sequence) if sequence >= 1 => Ok(sequence),
        _ => Err(InputError::new(
            ReasonCode::MalformedPageToken,
            format!("{text:?} is not an event's sequence"),
        )),
    }
}

pub async fn audit(
    State(console): State<Console>,
    viewer: Viewer,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<AuditQuery>,
) -> Result<Markup, PageError> {
    let language = viewer.language;
    let asked = Asked::parse(&query, language)?;
    let reader = console.engine.reader();
    let found = history::find(&console.walks, reader, asked.filter.clone(), asked.before)
        .await
        .map_err(refused(language))?;
    let body = html! {
        p class="hint" { (language.pick(
            "账本中的每个事件都记录了操作人：令牌及其角色、账本本身，或（早于记录操作人的事件）未记录。日期按事件记录的时间（中国时间）。",
            "Every event of the log names who caused it: a token and its role, the ledger itself, or (for events older than that record) unrecorded. Days are those of each event's time, in China time."
        )) }
        (filter_form(language, &asked))
        (event_table(language, reader, &found))
        (window_note(language, &found, &asked.href()))
    };
    let title = language.pick("操作日志", "Audit log");
    Ok(shell(&viewer, &uri, Section::Audit, title, body))
}

fn filter_form(language: Language, asked: &Asked) -> Markup {
    html! {
        form method="get" action="/audit" class="filters" {
            label { (language.pick("令牌", "Token")) " " input name="token" value=(asked.token) maxlength="20" placeholder="T000000000001"; }
            " "
            label { (language.pick("日期", "Day")) " " input type="date" name="day" value=(asked.day); }
            " "
            label { (language.pick("记录", "Record")) " " input name="record" value=(asked.record) maxlength="20" placeholder="V000000000001"; }
            " "
            button type="submit" { (language.pick("查看", "Show")) }
        }
    }
}

fn event_table(language: Language, reader: &Reader, found: &Found) -> Markup {
    let columns = [
        number_column(language.pick("序号", "Event")),
        column(language.pick("时间", "When")),
        column(language.pick("操作人", "Who")),
        column(language.pick("操作", "What")),
        column(language.pick("涉及记录", "Records")),
    ];
    let rows = found.entries.iter().map(|entry| {
        row([
            audit_link_cell(entry.sequence),
            when_cell(entry),
            markup_cell(who(language, &entry.cause)),
            markup_cell(what(language, entry.kind)),
            records_cell(reader, &entry.record_ids),
        ])
    });
    let empty = language.pick(
        "所查找的事件中没有符合条件的。",
        "No event among those searched matches.",
    );
    table(&columns, rows, Some(empty))
}
