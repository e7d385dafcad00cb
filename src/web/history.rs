//! Who did what: the console's one walk of the event log, for a record's history (操作记录) and
//! the audit page. The store keeps no index of events by token, record or day, so they are
//! found by reading the log through the reader's `visit_exported_events`, on a blocking thread:
//! at most [`WINDOW_EVENTS`] events per page, from the newest (or from before a sequence) back,
//! keeping the newest [`ENTRIES_MAX`] that match. What was read is said on the page ([`Found`]):
//! the sequences searched, whether older events were left unread, whether more matched than
//! are shown, and where the next page of older ones starts.
//!
//! An event's time is its `at` as the export line holds it (every kind records one, at the top
//! of its facts or in the record they carry), read in China time; its day is that time's date.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde_json::Value;
use std::collections::VecDeque;

use crate::domain::dates::china_offset;
use crate::domain::ids::TokenId;
use crate::domain::model::EventCause;
use crate::engine::{EngineError, ExportedEvent, Reader};

/// Events read for one page of history at most.
pub const WINDOW_EVENTS: u64 = 100_000;
/// Entries one page of history shows at most.
pub const ENTRIES_MAX: usize = 50;
/// Walks of the log running at once; the others wait for one to end (each holds a blocking
/// thread while it reads).
pub const WALKS_AT_ONCE: usize = 2;

/// Which events to show: those a token caused, those touching a record, those of a day (China
/// time). Each that is set must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub token: Option<TokenId>,
    pub record: Option<String>,
    pub day: Option<NaiveDate>,
}

impl Filter {
    /// The history of one record.
    pub fn record(record: impl ToString) -> Filter {
        Filter {
            record: Some(record.to_string()),
            ..Filter::default()
        }
    }

    /// Whether the token and record hold (the day is checked once the time is read).
    fn admits(&self, event: &ExportedEvent) -> bool {
        self.token
            .is_none_or(|token| event.cause.token_id() == Some(token))
            && self
                .record
                .as_ref()
                .is_none_or(|record| event.record_ids.iter().any(|id| id == record))
    }
}

/// One event as the pages show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub sequence: u64,
    /// When, in China time; `None` when the line holds no time this build can read.
    pub at: Option<DateTime<FixedOffset>>,
    pub cause: EventCause,
    /// The event's kind (`voucher_issued`).
    pub kind: &'static str,
    pub record_ids: Vec<String>,
}

/// What one walk found, and how much of the log it read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// The newest matching events, newest first, at most [`ENTRIES_MAX`].
    pub entries: Vec<Entry>,
    /// The sequences read, `first..=last`; `last` is 0 when there was nothing to read.
    pub first: u64,
    pub last: u64,
    /// Events matched in the window beyond those shown (older ones).
    pub more_matched: usize,
}

impl Found {
    /// Whether the window stopped before the first event: older events were not read.
    pub fn cut(&self) -> bool {
        self.first > 1
    }

    /// Where the next page of older events ends (exclusive): past the oldest shown when more
    /// matched, else past the window when it was cut; `None` when the log was read to its start.
    pub fn older_before(&self) -> Option<u64> {
        if self.more_matched > 0 {
            self.entries.last().map(|entry| entry.sequence)
        } else if self.cut() {
            Some(self.first)
        } else {
            None
        }
    }
}

/// The events matching `filter` among the [`WINDOW_EVENTS`] before `before` (exclusive; the
/// head when `None`), read on a blocking thread once one of the walks' places is free.
pub async fn find(
    walks: &tokio::sync::Semaphore,
    reader: &Reader,
    filter: Filter,
    before: Option<u64>,
) -> Result<Found, EngineError> {
    let _place = walks
        .acquire()
        .await
        .map_err(|_| EngineError::Unavailable)?;
    let reader = reader.clone();
    tokio::task::spawn_blocking(move || walk(&reader, &filter, before))
        .await
        .unwrap_or_else(|error| {
            tracing::error!(%error, "a walk of the event log failed");
            Err(EngineError::Unavailable)
        })
}

/// The window before `before`, read in order, keeping the newest matches.
pub fn walk(reader: &Reader, filter: &Filter, before: Option<u64>) -> Result<Found, EngineError> {
    let head = reader.head_sequence()?;
    let last = before.map_or(head, |before| before.saturating_sub(1).min(head));
    if last == 0 {
        return Ok(Found::default());
    }
    let first = last.saturating_sub(WINDOW_EVENTS - 1).max(1);
    let mut kept: VecDeque<Entry> = VecDeque::with_capacity(ENTRIES_MAX + 1);
    let mut matched = 0usize;
    let mut failure = None;
    reader.visit_exported_events(first, last, &mut |exported| match exported {
        Ok(event) => {
            if let Some(entry) = entry_of(filter, event) {
                matched += 1;
                kept.push_back(entry);
                if kept.len() > ENTRIES_MAX {
                    kept.pop_front();
                }
            }
            true
        }
        Err(error) => {
            failure = Some(error);
            false
        }
    })?;
    if let Some(error) = failure {
        return Err(error);
    }
    let entries: Vec<Entry> = kept.into_iter().rev().collect();
    Ok(Found {
        more_matched: matched - entries.len(),
        entries,
        first,
        last,
    })
}

/// The event as an entry when it passes `filter` (its time read only then).
fn entry_of(filter: &Filter, event: ExportedEvent) -> Option<Entry> {
    if !filter.admits(&event) {
        return None;
    }
    let at = instant_of(&event.json);
    if let Some(day) = filter.day
        && at.is_none_or(|at| at.date_naive() != day)
    {
        return None;
    }
    Some(Entry {
        sequence: event.sequence,
        at,
        cause: event.cause,
        kind: event.kind,
        record_ids: event.record_ids,
    })
}

/// When an event happened, in China time, from its export line: the `at` of its facts, or of
/// the record they carry (`voucher.at`); for the oldest format, which stored whole records,
/// the first `…_at` that is a time (`issued_at`).
pub fn instant_of(json: &str) -> Option<DateTime<FixedOffset>> {
    let line: Value = serde_json::from_str(json).ok()?;
    let facts = line.get("event")?.as_object()?;
    let nested = || facts.values().filter_map(Value::as_object);
    let time = |value: &Value| {
        value
            .as_str()
            .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
    };
    let stamped = |object: &serde_json::Map<String, Value>| {
        object
            .iter()
            .filter(|(key, _)| key.ends_with("_at"))
            .find_map(|(_, value)| time(value))
    };
    facts
        .get("at")
        .and_then(time)
        .or_else(|| nested().find_map(|object| object.get("at").and_then(time)))
        .or_else(|| stamped(facts))
        .or_else(|| nested().find_map(stamped))
        .map(|at| at.with_timezone(&china_offset()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_is_read_at_the_top_nested_or_from_a_stamp() {
        let top = r#"{"format":5,"sequence":3,"event_format":4,"event":{"type":"redemption_confirmed","redemption":1,"at":"2026-11-20T01:30:00+00:00"},"sha256":"x"}"#;
        let at = instant_of(top).expect("a time");
        assert_eq!(at.to_rfc3339(), "2026-11-20T09:30:00+08:00");
        let nested = r#"{"format":5,"event":{"type":"voucher_issued","voucher":{"voucher":1,"at":"2026-11-19T20:00:00+08:00"},"application":null}}"#;
        assert_eq!(
            instant_of(nested).map(|at| at.date_naive().to_string()),
            Some("2026-11-19".to_owned())
        );
        let oldest = r#"{"sequence":2,"event":{"type":"voucher_issued","voucher":{"issued_at":"2025-01-02T03:04:05+08:00","closed_at":null}}}"#;
        assert_eq!(
            instant_of(oldest).map(|at| at.to_rfc3339()),
            Some("2025-01-02T03:04:05+08:00".to_owned())
        );
        assert_eq!(instant_of(r#"{"event":{"type":"x"}}"#), None);
        assert_eq!(instant_of("not json"), None);
    }

    #[test]
    fn the_next_page_starts_past_the_oldest_shown_or_the_window() {
        let entry = |sequence| Entry {
            sequence,
            at: None,
            cause: EventCause::Ledger,
            kind: "voucher_issued",
            record_ids: Vec::new(),
        };
        let mut found = Found {
            entries: vec![entry(900), entry(700)],
            first: 1,
            last: 1000,
            more_matched: 3,
        };
        assert_eq!(found.older_before(), Some(700));
        found.more_matched = 0;
        assert_eq!(found.older_before(), None);
        found.first = 500;
        assert!(found.cut());
        assert_eq!(found.older_before(), Some(500));
    }
}
