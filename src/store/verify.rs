//! `verify`: replay the event log from nothing with the domain code and check that the store
//! holds exactly what the replay says it should.
//!
//! It checks, in order: the hash chain of every event up to the stored head; that every event
//! applies; the ledger's invariants (caps, voucher balances, one redemption per invoice); and
//! that every stored record and index entry equals the replay's, with nothing extra. Each
//! problem names the event it traces back to: the altered event, or the last event that wrote a
//! mismatching record.

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use serde_json::Value;

use super::records::{STATE_PREFIXES, expected_indexes, expected_records, writes_of};
use super::upgrade::RECORDS_FORMAT;
use super::{ChainHead, ReadStore, RecordAudit, Store, StoreError, walk_chain};
use crate::domain::event::Event;
use crate::domain::ledger::Ledger;
use crate::domain::policy::Policy;

/// One thing wrong, and the event it traces back to where there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub event: Option<u64>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.event {
            Some(sequence) => write!(formatter, "event {sequence}: {}", self.message),
            None => formatter.write_str(&self.message),
        }
    }
}

/// What `verify` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Events replayed (up to the first break, if the chain breaks).
    pub events: u64,
    pub head_sha256: String,
    pub records_checked: u64,
    pub problems: Vec<Problem>,
    /// What was not checked and why (not problems).
    pub notes: Vec<String>,
}

impl VerifyReport {
    pub fn is_sound(&self) -> bool {
        self.problems.is_empty()
    }

    /// The lowest event number any problem names.
    pub fn first_bad_event(&self) -> Option<u64> {
        self.problems
            .iter()
            .filter_map(|problem| problem.event)
            .min()
    }

    /// A report a person can read, ending in the verdict.
    pub fn render(&self) -> String {
        let mut text = format!(
            "events replayed: {}\nhead sha256: {}\nrecords checked: {}\n",
            self.events, self.head_sha256, self.records_checked
        );
        for note in &self.notes {
            text.push_str(&format!("NOTE {note}\n"));
        }
        for problem in self.problems.iter().take(PROBLEMS_SHOWN_MAX) {
            text.push_str(&format!("PROBLEM {problem}\n"));
        }
        if self.problems.len() > PROBLEMS_SHOWN_MAX {
            text.push_str(&format!(
                "… and {} more problems\n",
                self.problems.len() - PROBLEMS_SHOWN_MAX
            ));
        }
        match self.first_bad_event() {
            None if self.is_sound() => text
                .push_str("VERIFIED: the log chains, replays, and matches every stored record\n"),
            None => text.push_str(&format!("FAILED: {} problems\n", self.problems.len())),
            Some(first) => text.push_str(&format!(
                "FAILED: {} problems; the first bad event is {first}\n",
                self.problems.len()
            )),
        }
        text
    }
}

const PROBLEMS_SHOWN_MAX: usize = 50;

/// Replays the whole log into a fresh ledger and checks the store against it. Returns the
/// report and the replayed ledger (so a caller holding a live ledger can compare it too).
/// Works on any store: the comparison of records is the store's own [`RecordAudit`].
pub fn verify(
    store: &dyn ReadStore,
    policy: Arc<Policy>,
) -> Result<(VerifyReport, Ledger), StoreError> {
    let mut ledger = Ledger::new(policy);
    let mut audit = store.record_audit();
    let mut problems = Vec::new();
    let mut apply_failure: Option<Problem> = None;
    let walked = walk_chain(store, |record, _| {
        if apply_failure.is_some() {
            return;
        }
        let applied = catch_unwind(AssertUnwindSafe(|| ledger.apply(&record.event)));
        match applied {
            Ok(()) => audit.note(record.sequence, &record.event, &ledger),
            Err(panic) => {
                apply_failure = Some(Problem {
                    event: Some(record.sequence),
                    message: format!("does not apply: {}", panic_text(&panic)),
                })
            }
        }
    });
    let head = match walked {
        Ok(head) => head,
        Err(StoreError::Chain { sequence, message }) => {
            problems.push(Problem {
                event: Some(sequence),
                message,
            });
            problems.push(Problem {
                event: None,
                message: "records were not compared: the replay stopped at the break".to_owned(),
            });
            return Ok((report(store.stored_head()?, 0, problems), ledger));
        }
        Err(other) => return Err(other),
    };
    if let Some(failure) = apply_failure {
        problems.push(failure);
        return Ok((report(head, 0, problems), ledger));
    }
    problems.extend(
        ledger
            .check_invariants()
            .into_iter()
            .map(|violation| Problem {
                event: None,
                message: format!("invariant: {violation}"),
            }),
    );
    let records_format = store.records_format()?;
    if records_format != RECORDS_FORMAT {
        let mut report = report(head, 0, problems);
        report.notes.push(format!(
            "the records were written by an earlier build in records format {records_format}; voucherd rebuilds them from the log at its next start (after a backup), so they were not compared"
        ));
        return Ok((report, ledger));
    }
    let (records_checked, differences) = audit.finish(&ledger)?;
    problems.extend(differences);
    Ok((report(head, records_checked, problems), ledger))
}

fn report(head: ChainHead, records_checked: u64, problems: Vec<Problem>) -> VerifyReport {
    VerifyReport {
        events: head.sequence,
        head_sha256: head.sha256,
        records_checked,
        problems,
        notes: Vec::new(),
    }
}

/// The sled store's audit: which event last wrote each key, then every stored record and
/// index entry against the replay, both ways.
pub(super) struct SledAudit<'a> {
    store: &'a Store,
    last_writer: HashMap<Vec<u8>, u64>,
}

impl<'a> SledAudit<'a> {
    pub(super) fn new(store: &'a Store) -> SledAudit<'a> {
        SledAudit {
            store,
            last_writer: HashMap::new(),
        }
    }
}

impl RecordAudit for SledAudit<'_> {
    fn note(&mut self, sequence: u64, event: &Event, ledger: &Ledger) {
        let writes = writes_of(event, ledger);
        for record in writes.records {
            self.last_writer.insert(record.key(), sequence);
        }
        for (key, _) in writes.indexes {
            self.last_writer.insert(key, sequence);
        }
    }

    fn finish(self: Box<Self>, ledger: &Ledger) -> Result<(u64, Vec<Problem>), StoreError> {
        let mut problems = Vec::new();
        let checked = compare_records(self.store, ledger, &self.last_writer, &mut problems)?;
        Ok((checked, problems))
    }
}

/// Compares every stored record and index entry with the replay, both ways.
fn compare_records(
    store: &Store,
    ledger: &Ledger,
    last_writer: &HashMap<Vec<u8>, u64>,
    problems: &mut Vec<Problem>,
) -> Result<u64, StoreError> {
    let mut expected: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for record in expected_records(ledger) {
        let bytes = record
            .encode_from(ledger)
            .expect("an expected record exists");
        expected.insert(record.key(), bytes);
    }
    expected.extend(expected_indexes(ledger));
    let mut checked = 0u64;
    for prefix in STATE_PREFIXES {
        for entry in store.tree.scan_prefix(prefix) {
            let (key, stored) = entry?;
            checked += 1;
            let writer = last_writer.get(&key).copied();
            match expected.remove(&key) {
                None => problems.push(Problem {
                    event: None,
                    message: format!("{} is stored but no event wrote it", printable(&key)),
                }),
                Some(wanted) if wanted != stored => problems.push(Problem {
                    event: writer,
                    message: format!(
                        "{} differs from the replay: {}",
                        printable(&key),
                        differences(&stored, &wanted)
                    ),
                }),
                Some(_) => {}
            }
        }
    }
    for key in expected.keys() {
        problems.push(Problem {
            event: last_writer.get(key).copied(),
            message: format!("{} is missing from the store", printable(key)),
        });
    }
    Ok(checked)
}

/// Which top-level fields differ, `stored → replay`, for JSON records; or both raw.
fn differences(stored: &[u8], wanted: &[u8]) -> String {
    let parsed = (
        serde_json::from_slice::<Value>(stored),
        serde_json::from_slice::<Value>(wanted),
    );
    let (Ok(Value::Object(stored)), Ok(Value::Object(wanted))) = parsed else {
        return format!(
            "stored {:?}, replay {:?}",
            String::from_utf8_lossy(stored),
            String::from_utf8_lossy(wanted)
        );
    };
    let mut fields: Vec<String> = wanted
        .iter()
        .filter(|(name, value)| stored.get(*name) != Some(value))
        .map(|(name, value)| {
            format!(
                "{name}: stored {} but the replay says {value}",
                stored
                    .get(name)
                    .map_or("nothing".to_owned(), Value::to_string)
            )
        })
        .collect();
    fields.extend(
        stored
            .keys()
            .filter(|name| !wanted.contains_key(*name))
            .map(|name| format!("{name}: stored but unknown")),
    );
    fields.join("; ")
}

fn printable(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
        .unwrap_or_else(|| "a broken invariant".to_owned())
}
