//! `verify`: replay the event log from nothing with the domain code and check that the store
//! holds exactly what the replay says it should.
//!
//! It checks, in order: the hash chain of every event up to the stored head; that every event
//! applies; the ledger's invariants (caps, voucher balances, one redemption per invoice); and
//! that every stored record and index entry equals the replay's, with nothing extra. Each
//! problem names the event it traces back to: the altered event, or the last event that wrote a
//! mismatching record.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use serde_json::Value;

use super::records::{RecordKey, STATE_PREFIXES, expected_indexes, expected_records, writes_of};
use super::upgrade::RECORDS_FORMAT;
use super::{ChainHead, ChainWalker, EventRecord, ReadStore, RecordAudit, Store, StoreError};
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
    let mut replay = Replay::new(store, policy);
    replay.advance(store)?;
    replay.finish(store)
}

/// A verification in two steps, so that a live ledger pauses its writes only for the second:
/// [`Replay::advance`] replays what is stored so far while writes go on (events never change
/// once written); [`Replay::finish`], with writes paused, replays the few written meanwhile,
/// checks the chain's end, the invariants and every record.
pub struct Replay {
    ledger: Ledger,
    audit: Box<dyn RecordAudit + Send>,
    chain: ChainWalker,
    /// The first event that broke the chain or did not apply: the replay stops there.
    failure: Option<Failure>,
}

enum Failure {
    /// The chain breaks at this event: records cannot be compared.
    Chain(Problem),
    /// The event does not apply.
    Apply(Problem),
}

impl Replay {
    pub fn new(store: &dyn ReadStore, policy: Arc<Policy>) -> Replay {
        Replay {
            ledger: Ledger::new(policy),
            audit: store.record_audit(),
            chain: ChainWalker::default(),
            failure: None,
        }
    }

    /// How many events have been read so far.
    pub fn events_read(&self) -> u64 {
        self.chain.read_through()
    }

    /// Replays every event stored since the last call; writes may go on meanwhile.
    pub fn advance(&mut self, store: &dyn ReadStore) -> Result<(), StoreError> {
        if self.failure.is_some() {
            return Ok(());
        }
        let Replay {
            ledger,
            audit,
            chain,
            failure,
        } = self;
        let walked = chain.advance(store, &mut |record, _| {
            apply_noted(ledger, audit.as_mut(), failure, record)
        });
        note_chain_break(walked, failure)
    }

    /// A first look at every stored record against the replay so far, while writes go on:
    /// what differs, and whatever the events replayed after this write, is looked at again in
    /// [`Replay::finish`]. A record no later event writes is compared once, here.
    pub fn compare_while_writing(&mut self) -> Result<(), StoreError> {
        if self.failure.is_some() {
            return Ok(());
        }
        self.audit.compare_while_writing(&self.ledger)
    }

    /// The rest of the log, its end against the stored head, the invariants and every record.
    /// For a live ledger, writes must be paused.
    pub fn finish(mut self, store: &dyn ReadStore) -> Result<(VerifyReport, Ledger), StoreError> {
        let head = if self.failure.is_some() {
            None
        } else {
            let Replay {
                ledger,
                audit,
                chain,
                failure,
            } = &mut self;
            let chain = std::mem::take(chain);
            let walked = chain.end(store, &mut |record, _| {
                apply_noted(ledger, audit.as_mut(), failure, record)
            });
            match walked {
                Ok(head) => Some(head),
                Err(error) => {
                    note_chain_break(Err(error), failure)?;
                    None
                }
            }
        };
        match (self.failure.take(), head) {
            (Some(Failure::Chain(problem)), _) => {
                let problems = vec![
                    problem,
                    Problem {
                        event: None,
                        message: "records were not compared: the replay stopped at the break"
                            .to_owned(),
                    },
                ];
                Ok((report(store.stored_head()?, 0, problems), self.ledger))
            }
            (Some(Failure::Apply(problem)), _) => {
                let head = store.stored_head()?;
                Ok((report(head, 0, vec![problem]), self.ledger))
            }
            (None, Some(head)) => self.compare(store, head),
            (None, None) => unreachable!("a walk that ended without a head broke the chain"),
        }
    }

    /// The invariants and every stored record, against the complete replay.
    fn compare(
        self,
        store: &dyn ReadStore,
        head: ChainHead,
    ) -> Result<(VerifyReport, Ledger), StoreError> {
        let mut problems: Vec<Problem> = self
            .ledger
            .check_invariants()
            .into_iter()
            .map(|violation| Problem {
                event: None,
                message: format!("invariant: {violation}"),
            })
            .collect();
        let records_format = store.records_format()?;
        if records_format != RECORDS_FORMAT {
            let mut report = report(head, 0, problems);
            report.notes.push(format!(
                "the records were written by an earlier build in records format {records_format}; voucherd rebuilds them from the log at its next start (after a backup), so they were not compared"
            ));
            return Ok((report, self.ledger));
        }
        let (records_checked, differences) = self.audit.finish(&self.ledger)?;
        problems.extend(differences);
        Ok((report(head, records_checked, problems), self.ledger))
    }
}

/// Applies one confirmed event and notes what it wrote; a panic while applying stops the
/// replay with the event named.
fn apply_noted(
    ledger: &mut Ledger,
    audit: &mut (dyn RecordAudit + Send),
    failure: &mut Option<Failure>,
    record: &EventRecord,
) {
    if failure.is_some() {
        return;
    }
    let applied = catch_unwind(AssertUnwindSafe(|| ledger.apply_logged(&record.logged())));
    match applied {
        Ok(()) => audit.note(record.sequence, &record.event, ledger),
        Err(panic) => {
            *failure = Some(Failure::Apply(Problem {
                event: Some(record.sequence),
                message: format!("does not apply: {}", panic_text(&panic)),
            }))
        }
    }
}

/// A chain break becomes the replay's failure; any other error is the caller's.
fn note_chain_break(
    walked: Result<(), StoreError>,
    failure: &mut Option<Failure>,
) -> Result<(), StoreError> {
    match walked {
        Ok(()) => Ok(()),
        Err(StoreError::Chain { sequence, message }) => {
            failure.get_or_insert(Failure::Chain(Problem {
                event: Some(sequence),
                message,
            }));
            Ok(())
        }
        Err(other) => Err(other),
    }
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
pub(super) struct SledAudit {
    store: Store,
    last_writer: HashMap<Vec<u8>, u64>,
    /// Set by a first look taken while writes went on ([`RecordAudit::compare_while_writing`]).
    second_look: Option<SecondLook>,
}

impl SledAudit {
    pub(super) fn new(store: &Store) -> SledAudit {
        SledAudit {
            store: store.clone(),
            last_writer: HashMap::new(),
            second_look: None,
        }
    }
}

impl RecordAudit for SledAudit {
    fn note(&mut self, sequence: u64, event: &Event, ledger: &Ledger) {
        let writes = writes_of(event, ledger);
        for record in &writes.records {
            self.last_writer.insert(record.key(), sequence);
        }
        for (key, _) in &writes.indexes {
            self.last_writer.insert(key.clone(), sequence);
        }
        if let Some(look) = &mut self.second_look {
            look.written_records.extend(writes.records);
            look.written_indexes.extend(writes.indexes);
        }
    }

    fn compare_while_writing(&mut self, ledger: &Ledger) -> Result<(), StoreError> {
        let mut expected = expected_map(ledger);
        let mut suspects = BTreeMap::new();
        let mut scanned = BTreeSet::new();
        for prefix in STATE_PREFIXES {
            for entry in self.store.tree.scan_prefix(prefix) {
                let (key, stored) = entry?;
                let wanted = expected.remove(&key);
                if wanted.as_deref() != Some(stored.as_slice()) {
                    suspects.insert(key.clone(), wanted);
                }
                scanned.insert(key);
            }
        }
        let records_checked = scanned.len() as u64;
        suspects.extend(
            expected
                .into_iter()
                .map(|(key, wanted)| (key, Some(wanted))),
        );
        self.second_look = Some(SecondLook {
            records_checked,
            scanned,
            suspects,
            written_records: BTreeSet::new(),
            written_indexes: BTreeMap::new(),
        });
        Ok(())
    }

    fn finish(mut self: Box<Self>, ledger: &Ledger) -> Result<(u64, Vec<Problem>), StoreError> {
        if let Some(look) = self.second_look.take() {
            return self.look_again(look, ledger);
        }
        let mut problems = Vec::new();
        let checked = compare_records(&self.store, ledger, &self.last_writer, &mut problems)?;
        Ok((checked, problems))
    }
}

/// Every record and index entry the replay says the store holds, by key.
fn expected_map(ledger: &Ledger) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut expected: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for record in expected_records(ledger) {
        let bytes = record
            .encode_from(ledger)
            .expect("an expected record exists");
        expected.insert(record.key(), bytes);
    }
    expected.extend(expected_indexes(ledger));
    expected
}

/// Compares every stored record and index entry with the replay, both ways.
fn compare_records(
    store: &Store,
    ledger: &Ledger,
    last_writer: &HashMap<Vec<u8>, u64>,
    problems: &mut Vec<Problem>,
) -> Result<u64, StoreError> {
    let mut expected = expected_map(ledger);
    let mut checked = 0u64;
    for prefix in STATE_PREFIXES {
        for entry in store.tree.scan_prefix(prefix) {
            let (key, stored) = entry?;
            checked += 1;
            let wanted = expected.remove(&key);
            problems.extend(judge(&key, Some(&stored), wanted.as_deref(), last_writer));
        }
    }
    for (key, wanted) in &expected {
        problems.extend(judge(key, None, Some(wanted), last_writer));
    }
    Ok(checked)
}

/// What is wrong with one key, if anything: stored without the replay writing it, missing, or
/// different (traced to the last event that wrote it).
fn judge(
    key: &[u8],
    stored: Option<&[u8]>,
    wanted: Option<&[u8]>,
    last_writer: &HashMap<Vec<u8>, u64>,
) -> Option<Problem> {
    let writer = last_writer.get(key).copied();
    let message = match (stored, wanted) {
        (None, None) => return None,
        (Some(stored), Some(wanted)) if stored == wanted => return None,
        (Some(_), None) => {
            return Some(Problem {
                event: None,
                message: format!("{} is stored but no event wrote it", printable(key)),
            });
        }
        (None, Some(_)) => format!("{} is missing from the store", printable(key)),
        (Some(stored), Some(wanted)) => format!(
            "{} differs from the replay: {}",
            printable(key),
            differences(stored, wanted)
        ),
    };
    Some(Problem {
        event: writer,
        message,
    })
}

/// What a first look at the records, taken while writes went on, leaves for the second.
struct SecondLook {
    records_checked: u64,
    /// The keys the first look found stored, so that a key stored since counts once more.
    scanned: BTreeSet<Vec<u8>>,
    /// The keys that differed from the replay then, with what the replay wanted (`None`:
    /// absent). A write after the replay's point may explain them; the second look decides.
    suspects: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// What the events replayed after the first look wrote: looked at again, at the end.
    written_records: BTreeSet<RecordKey>,
    written_indexes: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl SledAudit {
    /// The second look, with writes paused: every suspect and every key written since the
    /// first, against the complete replay.
    fn look_again(
        &self,
        look: SecondLook,
        ledger: &Ledger,
    ) -> Result<(u64, Vec<Problem>), StoreError> {
        let mut wanted = look.suspects;
        for record in &look.written_records {
            wanted.insert(record.key(), record.encode_from(ledger));
        }
        wanted.extend(
            look.written_indexes
                .into_iter()
                .map(|(key, value)| (key, Some(value))),
        );
        let mut problems = Vec::new();
        let mut records_checked = look.records_checked;
        for (key, expected) in &wanted {
            let stored = self.store.tree.get(key)?;
            if stored.is_some() && !look.scanned.contains(key) {
                records_checked += 1;
            }
            problems.extend(judge(
                key,
                stored.as_deref(),
                expected.as_deref(),
                &self.last_writer,
            ));
        }
        Ok((records_checked, problems))
    }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{NaiveDate, TimeZone};

    use super::{Replay, verify};
    use crate::domain::command::Command;
    use crate::domain::credit_code::CreditCode;
    use crate::domain::dates::{Clock, china_offset};
    use crate::domain::policy::Policy;
    use crate::domain::text::BoundedText;
    use crate::store::keys;
    use crate::store::tree::{Tree, TreeBatch};
    use crate::store::{MemoryTree, OpenedStore, open_memory};

    const ENTERPRISES: [&str; 4] = [
        "914403001922038216",
        "91110108551385082Q",
        "91330100716105852F",
        "9144030071526726XG",
    ];

    fn register(opened: &mut OpenedStore, credit_code: &str) {
        let clock = Clock {
            now: china_offset()
                .with_ymd_and_hms(2027, 6, 15, 10, 0, 0)
                .single()
                .expect("an instant"),
            today: NaiveDate::from_ymd_opt(2027, 6, 15).expect("a day"),
        };
        let command = Command::RegisterEnterprise {
            credit_code: CreditCode::parse(credit_code).expect("a valid code"),
            name: BoundedText::parse("企业").expect("a name"),
            check_digit_override_reason: None,
        };
        let executed = opened
            .ledger
            .execute_recalled(
                &command,
                &crate::domain::model::Caller::ledger(),
                clock,
                opened.journal.history(),
            )
            .expect("history is readable")
            .expect("registered");
        opened
            .journal
            .commit(&executed.events, &opened.ledger)
            .expect("committed");
        opened.ledger.forget_history();
    }

    #[test]
    fn a_replay_that_stops_while_events_are_written_ends_as_one_that_ran_whole() {
        let policy = Arc::new(Policy::default_qidong());
        let mut opened = open_memory(Arc::new(MemoryTree::default()), policy.clone())
            .expect("a store in memory");
        for code in &ENTERPRISES[..2] {
            register(&mut opened, code);
        }
        let mut replay = Replay::new(&*opened.reader, policy.clone());
        replay.advance(&*opened.reader).expect("replayed so far");
        replay.compare_while_writing().expect("a first look");
        let read_before = replay.events_read();
        // Written after the replay stopped, as the writer does while a verification replays.
        for code in &ENTERPRISES[2..] {
            register(&mut opened, code);
        }
        let (report, replayed) = replay.finish(&*opened.reader).expect("finished");
        let (whole, _) = verify(&*opened.reader, policy).expect("verified whole");
        assert!(report.is_sound(), "{}", report.render());
        assert!(
            read_before < report.events,
            "events were written after the first half"
        );
        assert_eq!(
            (report.events, &report.head_sha256, report.records_checked),
            (whole.events, &whole.head_sha256, whole.records_checked)
        );
        assert!(replayed.resident_equals(&opened.ledger));
    }

    #[test]
    fn a_record_altered_before_the_first_look_is_named_after_the_second() {
        let policy = Arc::new(Policy::default_qidong());
        let tree = Arc::new(MemoryTree::default());
        let mut opened = open_memory(tree.clone(), policy.clone()).expect("a store in memory");
        for code in &ENTERPRISES[..2] {
            register(&mut opened, code);
        }
        let altered = keys::enterprise(&CreditCode::parse(ENTERPRISES[0]).expect("a code"));
        let mut batch = TreeBatch::default();
        batch.insert(altered, b"{\"name\":\"someone else\"}".to_vec());
        tree.apply(batch).expect("altered");
        let mut replay = Replay::new(&*opened.reader, policy.clone());
        replay.advance(&*opened.reader).expect("replayed so far");
        replay.compare_while_writing().expect("a first look");
        for code in &ENTERPRISES[2..] {
            register(&mut opened, code);
        }
        let (report, _) = replay.finish(&*opened.reader).expect("finished");
        assert!(!report.is_sound());
        let named: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert_eq!(named.len(), 1, "{named:?}");
        assert!(named[0].contains(ENTERPRISES[0]), "{named:?}");
    }
}
