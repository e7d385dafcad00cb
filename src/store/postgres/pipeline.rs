//! The writer's batches in flight: decided, handed to PostgreSQL, not yet committed.
//!
//! The engine's writer appends a batch (`EventJournal::append`) and goes on to decide the
//! next while its sync thread makes the first durable (`Durability::write`) and only then
//! answers its callers. For PostgreSQL the append hands the batch's transaction to a
//! committer task that writes batches one at a time, in order ([`commit_in_order`]), and
//! returns at once; [`PostgresDurability::write`] waits for that batch's COMMIT. So the
//! database's round trip and WAL flush for one batch overlap the deciding of the next.
//!
//! Readers see only what is committed: they read the database itself. The writer alone must
//! see its own batches in flight (what it recalls before deciding is "the state after the last
//! batch"), so it reads through a [`WriterView`]: the batches in flight (an [`Overlay`]) over
//! the committed entries. A batch leaves the overlay once committed. The first batch that
//! fails makes the committer refuse every later one, so nothing decided on it is written; the
//! engine stops at that failure and acknowledges nothing more.
//!
//! Deciding a command first recalls what it touches (a redemption's invoice number, above
//! all), one read each: a round trip to the database per command. [`PostgresJournal`] reads
//! them for the whole batch in one query first ([`PostgresTree::read_ahead`]). A key read
//! ahead keeps its value until the batch is handed over: no other voucherd writes while this
//! one holds the lease, and this one's own batches in flight are in the overlay, which is
//! looked at first (a key in it is not read ahead: its committed value is about to change).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::cache::Cache;
use super::link::Shared;
use super::tree::{PostgresTree, Writes, lock, write_batch};
use crate::domain::command::Command;
use crate::domain::event::LoggedEvent;
use crate::domain::ledger::{History, Ledger};
use crate::store::tree::{Entries, Entry, Tree, TreeBatch};
use crate::store::{AppendedBatch, CommitTiming, Durability, StoreError};
use crate::store::{ChainHead, EventJournal, Journal, keys};

/// How long waiting for one batch's COMMIT may take: past the statement timeout and a
/// reconnect, so a database that stops answering fails the batch instead of hanging.
pub(super) const COMMIT_DEADLINE: Duration = Duration::from_secs(30);

/// The writes of the batches in flight, by key: the batch's ticket and the value (`None`:
/// removed). A key written by two batches in flight holds the later one's.
#[derive(Default)]
pub(super) struct Overlay {
    entries: BTreeMap<Vec<u8>, (u64, Option<Vec<u8>>)>,
}

impl Overlay {
    pub(super) fn record(&mut self, ticket: u64, writes: &Writes) {
        for (key, value) in writes.keys.iter().zip(&writes.values) {
            self.entries
                .insert(key.clone(), (ticket, Some(value.clone())));
        }
        for key in &writes.deleted {
            self.entries.insert(key.clone(), (ticket, None));
        }
    }

    /// Drops what batch `ticket` wrote, now committed, unless a later batch wrote it again.
    fn forget(&mut self, ticket: u64) {
        self.entries
            .retain(|_, (written_by, _)| *written_by != ticket);
    }

    fn get(&self, key: &[u8]) -> Option<Option<Vec<u8>>> {
        self.entries.get(key).map(|(_, value)| value.clone())
    }

    fn between(&self, start: &Bound<Vec<u8>>, end: &Bound<Vec<u8>>) -> Vec<PendingEntry> {
        self.entries
            .range::<Vec<u8>, _>((start.as_ref(), end.as_ref()))
            .map(|(key, (_, value))| (key.clone(), value.clone()))
            .collect()
    }

    fn touches_prefix(&self, prefix: &[u8]) -> bool {
        self.entries
            .range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded))
            .next()
            .is_some_and(|(key, _)| key.starts_with(prefix))
    }
}

/// A key and its value in flight (`None`: removed).
type PendingEntry = (Vec<u8>, Option<Vec<u8>>);

/// One batch for the committer.
pub(super) struct Job {
    pub ticket: u64,
    pub fence: super::lease::Fence,
    pub head_expected: Option<Vec<u8>>,
    pub writes: Writes,
    pub reply: std::sync::mpsc::SyncSender<Result<(), StoreError>>,
}

/// A batch handed to the committer and not yet waited for: its ticket, the chain head's
/// sequence it writes (if it moves the head), and where its outcome comes.
pub(super) struct InFlight {
    pub sequence: Option<u64>,
    pub outcome: std::sync::mpsc::Receiver<Result<(), StoreError>>,
}

/// Writes the batches one at a time, in the order handed over, each in its own transaction
/// (`tree::write_batch`); once one fails, refuses every later one.
pub(super) async fn commit_in_order(
    shared: Arc<Shared>,
    overlay: Arc<Mutex<Overlay>>,
    cache: Arc<Mutex<Cache>>,
    mut jobs: tokio::sync::mpsc::UnboundedReceiver<Job>,
) {
    let mut failed: Option<String> = None;
    while let Some(job) = jobs.recv().await {
        let outcome = match &failed {
            Some(first) => Err(StoreError::Postgres(format!(
                "an earlier batch failed ({first}): this one, decided after it, was not written"
            ))),
            None => {
                let writing = write_batch(&shared, &job.fence, &job.head_expected, &job.writes);
                match tokio::time::timeout(COMMIT_DEADLINE, writing).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(StoreError::Postgres(format!(
                        "no answer from PostgreSQL within {COMMIT_DEADLINE:?}"
                    ))),
                }
            }
        };
        match &outcome {
            Ok(()) => {
                lock(&cache).committed(&job.writes);
                lock(&overlay).forget(job.ticket);
            }
            Err(error) => {
                // Whether it committed may be unknown: keep no row from now on.
                lock(&cache).disable();
                failed.get_or_insert_with(|| error.to_string());
            }
        }
        // The writer may have stopped waiting; the batch's outcome stands regardless.
        let _ = job.reply.send(outcome);
    }
}

/// The tree as the writer reads and writes it: its batches in flight over the committed
/// entries; a batch applied here is handed to the committer and not waited for.
pub(super) struct WriterView {
    pub tree: Arc<PostgresTree>,
}

impl Tree for WriterView {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(pending) = lock(&self.tree.overlay).get(key) {
            return Ok(pending);
        }
        if let Some(committed) = lock(&self.tree.read_ahead).get(key) {
            return Ok(committed.clone());
        }
        self.tree.get(key)
    }

    fn range(&self, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>) -> Entries<'_> {
        // The overlay first: a batch that commits meanwhile is then in one or the other.
        let pending = lock(&self.tree.overlay).between(&start, &end);
        let committed = self.tree.range(start, end);
        Box::new(Merged {
            committed: committed.peekable(),
            pending: pending.into_iter().peekable(),
        })
    }

    fn apply(&self, batch: TreeBatch) -> Result<(), StoreError> {
        self.tree.submit(batch, true).map(drop)
    }

    fn size_on_disk_bytes(&self) -> Result<u64, StoreError> {
        self.tree.size_on_disk_bytes()
    }

    fn last_with_prefix(&self, prefix: &[u8]) -> Result<Option<Entry>, StoreError> {
        if !lock(&self.tree.overlay).touches_prefix(prefix) {
            return self.tree.last_with_prefix(prefix);
        }
        let mut last = None;
        for entry in self.scan_prefix(prefix) {
            last = Some(entry?);
        }
        Ok(last)
    }
}

/// Committed entries and entries in flight, in key order; in flight wins, removals skipped.
struct Merged<'a> {
    committed: std::iter::Peekable<Entries<'a>>,
    pending: std::iter::Peekable<std::vec::IntoIter<PendingEntry>>,
}

impl Iterator for Merged<'_> {
    type Item = Result<Entry, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let order = match (self.committed.peek(), self.pending.peek()) {
                (Some(Err(_)), _) => return self.committed.next(),
                (None, None) => return None,
                (Some(Ok(_)), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(Ok((committed, _))), Some((pending, _))) => committed.cmp(pending),
            };
            match order {
                Ordering::Less => return self.committed.next(),
                // Replaced (or removed) by a batch in flight.
                Ordering::Equal => {
                    self.committed.next();
                }
                Ordering::Greater => {}
            }
            if let Some((key, Some(value))) = self.pending.next() {
                return Some(Ok((key, value)));
            }
        }
    }
}

/// The durability of a batch on PostgreSQL: its COMMIT, which [`PostgresDurability::write`]
/// waits for. Nothing to checkpoint: every committed batch is the database's own.
pub(super) struct PostgresDurability {
    pub tree: Arc<PostgresTree>,
}

impl Durability for PostgresDurability {
    fn write(&self, appended: AppendedBatch) -> Result<CommitTiming, StoreError> {
        let started = Instant::now();
        let target = appended.head.sequence;
        let mut found = false;
        // Every batch handed over up to this one, in order: one that failed fails this one.
        while let Some(in_flight) = self.tree.next_in_flight_up_to(target) {
            found |= in_flight.sequence == Some(target);
            in_flight
                .outcome
                .recv_timeout(COMMIT_DEADLINE + Duration::from_secs(5))
                .map_err(|_| {
                    StoreError::Postgres("the batch's COMMIT never answered".to_owned())
                })??;
        }
        if !found {
            return Err(StoreError::Postgres(format!(
                "no batch in flight ends at event {target}: nothing to wait for, so nothing is acknowledged"
            )));
        }
        Ok(CommitTiming {
            prepare: appended.prepare,
            apply: appended.apply,
            flush_and_sync: started.elapsed(),
        })
    }

    fn checkpoint(&self, _durable_sequence: u64) -> Result<(), StoreError> {
        Ok(())
    }
}

impl PostgresTree {
    /// Reads the committed values of `wanted` in one query, for the writer's next decisions.
    /// Keys in flight are left out (the overlay answers them); a failed read is only logged:
    /// each key is then read when recalled.
    pub(super) fn read_ahead(&self, wanted: Vec<Vec<u8>>) {
        // Each key once: a batch often recalls one invoice twice (a claim and its retry, or two
        // providers' claims of one number), and every key asked gets its one answer below.
        let wanted: Vec<Vec<u8>> = {
            let overlay = lock(&self.overlay);
            let distinct: BTreeSet<Vec<u8>> = wanted
                .into_iter()
                .filter(|key| overlay.get(key).is_none())
                .collect();
            distinct.into_iter().collect()
        };
        lock(&self.read_ahead).clear();
        if wanted.is_empty() {
            return;
        }
        let asked = wanted.clone();
        let found = self.link.read(move |connected| {
            let asked = asked.clone();
            async move {
                let rows = connected
                    .client
                    .query(&connected.statements.get_many, &[&asked])
                    .await?;
                Ok(rows
                    .iter()
                    .map(|row| (row.get::<_, Vec<u8>>(0), row.get::<_, Vec<u8>>(1)))
                    .collect::<BTreeMap<_, _>>())
            }
        });
        match found {
            Ok(found) => lock(&self.read_ahead).extend(answers(wanted, found)),
            Err(error) => {
                tracing::warn!(%error, "could not read ahead for a batch: reading each key when recalled")
            }
        }
    }
}

/// Every key asked with its committed value, `None` where the database had no row. A key
/// asked twice gets the same answer twice: its row is not used up by the first.
fn answers(
    wanted: Vec<Vec<u8>>,
    found: BTreeMap<Vec<u8>, Vec<u8>>,
) -> impl Iterator<Item = (Vec<u8>, Option<Vec<u8>>)> {
    wanted.into_iter().map(move |key| {
        let value = found.get(&key).cloned();
        (key, value)
    })
}

/// The journal of a ledger in PostgreSQL: the store's own, reading ahead what a batch's
/// commands recall (their invoice numbers) in one query.
pub(super) struct PostgresJournal {
    pub journal: Journal,
    pub tree: Arc<PostgresTree>,
}

impl EventJournal for PostgresJournal {
    fn head(&self) -> &ChainHead {
        self.journal.head()
    }

    fn append(
        &mut self,
        events: &[LoggedEvent],
        ledger: &Ledger,
    ) -> Result<AppendedBatch, StoreError> {
        self.journal.append(events, ledger)
    }

    fn durability(&self) -> Arc<dyn Durability> {
        EventJournal::durability(&self.journal)
    }

    fn history(&self) -> &dyn History {
        EventJournal::history(&self.journal)
    }

    fn read_ahead(&self, commands: &[&Command]) {
        let wanted: Vec<Vec<u8>> = commands
            .iter()
            .filter_map(|command| match command {
                Command::Redeem(redeem) => Some(keys::invoice(redeem.invoice.number.as_str())),
                _ => None,
            })
            .collect();
        self.tree.read_ahead(wanted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> Vec<u8> {
        text.as_bytes().to_vec()
    }

    /// What the writer reads over a range: `committed` as the database holds it, `pending` as
    /// its batches in flight write it (`None`: removed).
    fn merged(
        committed: &[(&str, &str)],
        pending: &[(&str, Option<&str>)],
    ) -> Vec<(String, String)> {
        let committed: Vec<Result<Entry, StoreError>> = committed
            .iter()
            .map(|(k, v)| Ok((key(k), key(v))))
            .collect();
        let pending: Vec<PendingEntry> =
            pending.iter().map(|(k, v)| (key(k), v.map(key))).collect();
        let entries: Entries<'_> = Box::new(committed.into_iter());
        Merged {
            committed: entries.peekable(),
            pending: pending.into_iter().peekable(),
        }
        .map(|entry| {
            let (k, v) = entry.expect("no read failed");
            (
                String::from_utf8(k).expect("utf-8"),
                String::from_utf8(v).expect("utf-8"),
            )
        })
        .collect()
    }

    /// A batch in flight replaces, removes and adds entries among the committed ones: the
    /// writer sees exactly the state after it, in key order, each key once.
    #[test]
    fn the_writer_reads_its_batches_in_flight_over_the_committed_entries() {
        let seen = merged(
            &[("a", "1"), ("b", "1"), ("c", "1"), ("e", "1")],
            &[
                ("b", Some("2")),
                ("c", None),
                ("d", Some("2")),
                ("f", Some("2")),
            ],
        );
        let expected = [("a", "1"), ("b", "2"), ("d", "2"), ("e", "1"), ("f", "2")];
        assert_eq!(
            seen,
            expected
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn removals_of_keys_never_committed_and_empty_sides_are_nothing() {
        assert_eq!(merged(&[], &[("a", None), ("b", None)]), Vec::new());
        assert_eq!(merged(&[("a", "1")], &[("a", None)]), Vec::new());
        assert_eq!(
            merged(&[], &[("a", Some("2"))]),
            vec![("a".to_owned(), "2".to_owned())]
        );
        assert_eq!(
            merged(&[("a", "1")], &[]),
            vec![("a".to_owned(), "1".to_owned())]
        );
    }

    /// A key two batches in flight wrote keeps the later one's value once the first commits,
    /// and leaves the overlay only when the later one does.
    #[test]
    fn a_key_rewritten_by_a_later_batch_stays_until_that_batch_commits() {
        let writes = |value: &str| Writes {
            keys: vec![key("k"), key(value)],
            values: vec![key(value), key(value)],
            deleted: Vec::new(),
            head: None,
            expected_keys: Vec::new(),
            expected_values: Vec::new(),
        };
        let mut overlay = Overlay::default();
        overlay.record(1, &writes("first"));
        overlay.record(2, &writes("second"));
        overlay.forget(1);
        assert_eq!(overlay.get(b"k"), Some(Some(key("second"))));
        assert_eq!(
            overlay.get(b"first"),
            None,
            "the first batch's own key left"
        );
        overlay.forget(2);
        assert_eq!(overlay.get(b"k"), None);
    }

    #[test]
    fn a_failed_read_of_the_committed_entries_is_passed_on() {
        let committed: Vec<Result<Entry, StoreError>> =
            vec![Err(StoreError::Postgres("connection lost".to_owned()))];
        let entries: Entries<'_> = Box::new(committed.into_iter());
        let mut merged = Merged {
            committed: entries.peekable(),
            pending: vec![(key("a"), Some(key("2")))].into_iter().peekable(),
        };
        assert!(matches!(merged.next(), Some(Err(StoreError::Postgres(_)))));
    }

    /// A batch that recalled a paid invoice twice once read it as paid and then as never
    /// claimed (the second ask found the row used up): the invoice was paid twice.
    #[test]
    fn a_key_read_ahead_twice_keeps_its_row_both_times() {
        let paid = b"invoice/5".to_vec();
        let unclaimed = b"invoice/6".to_vec();
        let found = BTreeMap::from([(paid.clone(), b"R1".to_vec())]);
        let wanted = vec![paid.clone(), unclaimed.clone(), paid.clone()];
        let answered: Vec<_> = answers(wanted, found).collect();
        assert_eq!(
            answered,
            vec![
                (paid.clone(), Some(b"R1".to_vec())),
                (unclaimed, None),
                (paid, Some(b"R1".to_vec())),
            ]
        );
    }
}
