//! The store's ordered key-value [`Tree`] as the table `entries (key bytea, value bytea)`.
//!
//! Reads are single statements on the readers' connection; a range reads lazily, 256
//! entries at a time after the last key read. A batch is one transaction on the writer's
//! connection, sent in one round trip: `BEGIN`, one statement that checks and locks the writer
//! lease, checks the chain head the batch extends and only then writes every upsert and
//! delete, and `COMMIT` (`synchronous_commit` on). Batches are handed to a committer task that
//! writes them in order (`pipeline`); `apply` waits for its batch's COMMIT, the writer's journal
//! does not (its durability does). The durability of a batch is its commit: nothing more to sync.

use std::collections::{HashMap, VecDeque};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio_postgres::Statement;
use tokio_postgres::types::{ToSql, Type};

use super::cache::{self, Cache};
use super::lease::{Fence, NOT_THE_WRITER};
use super::link::{
    Connected, Link, RANGE_CHUNK, Shared, connection_lost, postgres_error, range_index,
};
use super::pipeline::{COMMIT_DEADLINE, InFlight, Job, Overlay, commit_in_order};
use crate::store::keys;
use crate::store::tree::{Entries, Entry, Tree, TreeBatch};
use crate::store::{ChainHead, StoreError};

pub struct PostgresTree {
    pub(super) link: Link,
    /// The lease this tree writes under; `None` once released (or never taken).
    fence: Mutex<Option<Fence>>,
    /// Set when a renewal found the lease taken: batches fail at once.
    pub(super) lost: Arc<AtomicBool>,
    /// The chain head's stored bytes as this writer last handed them to the committer (or
    /// found them): a batch that moves the head must find exactly these, or another writer
    /// has been at the ledger.
    head_written: Mutex<Option<Vec<u8>>>,
    /// What the batches in flight write, for the writer's own reads (`pipeline`).
    pub(super) overlay: Arc<Mutex<Overlay>>,
    /// The committer's queue, and the batches handed to it not yet waited for, in order.
    submitted: Mutex<Submitted>,
    /// Committed values the writer read ahead for the batch it is deciding (`pipeline`),
    /// emptied when that batch is handed over.
    pub(super) read_ahead: Mutex<HashMap<Vec<u8>, Option<Vec<u8>>>>,
    /// The committed rows every request reads, while this voucherd writes (`cache`).
    pub(super) cache: Arc<Mutex<Cache>>,
}

/// The committer's end of the tree.
struct Submitted {
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
    next_ticket: u64,
    in_flight: VecDeque<InFlight>,
}

impl PostgresTree {
    pub(super) fn new(link: Link) -> PostgresTree {
        let overlay = Arc::new(Mutex::new(Overlay::default()));
        let (jobs, queue) = tokio::sync::mpsc::unbounded_channel();
        let kept_rows = Arc::new(Mutex::new(Cache::default()));
        link.spawn(commit_in_order(
            link.shared.clone(),
            overlay.clone(),
            kept_rows.clone(),
            queue,
        ));
        PostgresTree {
            link,
            fence: Mutex::new(None),
            lost: Arc::new(AtomicBool::new(false)),
            head_written: Mutex::new(None),
            overlay,
            submitted: Mutex::new(Submitted {
                jobs,
                next_ticket: 0,
                in_flight: VecDeque::new(),
            }),
            read_ahead: Mutex::new(HashMap::new()),
            cache: kept_rows,
        }
    }

    /// Writes under `fence` from now on, extending the chain head as it is stored now.
    /// `sent`: when the request that took it was sent.
    pub(super) fn hold(&self, fence: Fence, sent: std::time::Instant) -> Result<(), StoreError> {
        let head = self.get(keys::HEAD)?;
        *lock(&self.head_written) = head;
        *lock(&self.fence) = Some(fence);
        lock(&self.cache).enable(sent);
        Ok(())
    }

    /// Writes nothing more (the lease is being released).
    pub(super) fn let_go(&self) -> Option<Fence> {
        lock(&self.cache).disable();
        lock(&self.fence).take()
    }

    /// A row from the database, on the readers' connection.
    fn read_row(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let key = key.to_vec();
        self.link.read(move |connected| {
            let key = key.clone();
            async move {
                let row = connected
                    .client
                    .query_opt(&connected.statements.get, &[&key])
                    .await?;
                Ok(row.map(|row| row.get(0)))
            }
        })
    }

    pub(super) fn fence(&self) -> Option<Fence> {
        lock(&self.fence).clone()
    }

    /// Up to a chunk of entries from `start` to `end`.
    fn chunk(
        &self,
        start: &Bound<Vec<u8>>,
        end: &Bound<Vec<u8>>,
    ) -> Result<Vec<Entry>, StoreError> {
        let index = range_index(start, end);
        let bounds: Vec<Vec<u8>> = [start, end]
            .into_iter()
            .filter_map(|bound| match bound {
                Bound::Included(key) | Bound::Excluded(key) => Some(key.clone()),
                Bound::Unbounded => None,
            })
            .collect();
        self.link.read(move |connected| {
            let bounds = bounds.clone();
            async move {
                let mut parameters: Vec<&(dyn ToSql + Sync)> = bounds
                    .iter()
                    .map(|key| key as &(dyn ToSql + Sync))
                    .collect();
                parameters.push(&RANGE_CHUNK);
                let rows = connected
                    .client
                    .query(&connected.statements.ranges[index], &parameters)
                    .await?;
                Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
            }
        })
    }
}

impl PostgresTree {
    /// Hands `batch` to the committer, behind every batch handed over before it. Returns
    /// where its outcome will come, or, `in_flight`, keeps that for
    /// [`PostgresTree::next_in_flight_up_to`] (the journal's durability waits for it there).
    pub(super) fn submit(
        &self,
        batch: TreeBatch,
        in_flight: bool,
    ) -> Result<Option<std::sync::mpsc::Receiver<Result<(), StoreError>>>, StoreError> {
        let Some(fence) = self.fence() else {
            return Err(StoreError::Fenced(format!(
                "{NOT_THE_WRITER}: it has none (released, or never taken)"
            )));
        };
        if self.lost.load(Ordering::SeqCst) {
            return Err(StoreError::Fenced(format!(
                "{NOT_THE_WRITER} (epoch {}): a renewal found it taken",
                fence.epoch
            )));
        }
        let writes = Writes::of(batch);
        let sequence = match &writes.head {
            Some(bytes) => Some(crate::store::decode::<ChainHead>(bytes, "chain head")?.sequence),
            None => None,
        };
        let mut submitted = lock(&self.submitted);
        // What was read ahead may be what this batch changes.
        lock(&self.read_ahead).clear();
        let mut head_written = lock(&self.head_written);
        let head_expected = head_written.clone();
        if let Some(head) = &writes.head {
            // The next batch extends this one; if this one fails, the committer refuses it.
            *head_written = Some(head.clone());
        }
        drop(head_written);
        let ticket = submitted.next_ticket;
        submitted.next_ticket += 1;
        lock(&self.overlay).record(ticket, &writes);
        let (reply, outcome) = std::sync::mpsc::sync_channel(1);
        let job = Job {
            ticket,
            fence,
            head_expected,
            writes,
            reply,
        };
        if submitted.jobs.send(job).is_err() {
            return Err(StoreError::Postgres(
                "the PostgreSQL client thread stopped".to_owned(),
            ));
        }
        if !in_flight {
            return Ok(Some(outcome));
        }
        submitted
            .in_flight
            .push_back(InFlight { sequence, outcome });
        Ok(None)
    }

    /// The oldest batch handed over and not yet waited for, if it ends at or before event
    /// `sequence` (or moves no head).
    pub(super) fn next_in_flight_up_to(&self, sequence: u64) -> Option<InFlight> {
        let mut submitted = lock(&self.submitted);
        let due = submitted
            .in_flight
            .front()
            .is_some_and(|next| next.sequence.is_none_or(|ends| ends <= sequence));
        if due {
            submitted.in_flight.pop_front()
        } else {
            None
        }
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Each value is replaced whole under the lock: a panic cannot leave it half written.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A batch split into what one transaction sends: upserted keys and values, deleted keys.
pub(super) struct Writes {
    pub keys: Vec<Vec<u8>>,
    pub values: Vec<Vec<u8>>,
    pub deleted: Vec<Vec<u8>>,
    /// The head's new bytes, when the batch moves it.
    pub head: Option<Vec<u8>>,
    /// Keys the batch expects, and what each must hold before it (`None`: no row).
    pub expected_keys: Vec<Vec<u8>>,
    pub expected_values: Vec<Option<Vec<u8>>>,
}

impl Writes {
    fn of(batch: TreeBatch) -> Writes {
        let (expected_keys, expected_values) = batch
            .expectations()
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .unzip();
        let mut writes = Writes {
            keys: Vec::new(),
            values: Vec::new(),
            deleted: Vec::new(),
            head: None,
            expected_keys,
            expected_values,
        };
        for (key, write) in batch.into_writes() {
            match write {
                Some(value) => {
                    if key == keys::HEAD {
                        writes.head = Some(value.clone());
                    }
                    writes.keys.push(key);
                    writes.values.push(value);
                }
                None => writes.deleted.push(key),
            }
        }
        writes
    }
}

/// A batch's whole transaction in one statement, sent between `BEGIN` and `COMMIT` in one
/// round trip (see [`attempt`]). It locks the writer lease `FOR SHARE` if it still carries
/// this writer's epoch and holder ($1, $2), so no takeover commits until this transaction
/// ends; reads the stored chain head ($3); and writes the batch (upserts $6 → $7, deletes
/// $8) only when the lease is held and the stored head is the one the batch extends ($4;
/// any, when the batch does not move the head, $5 null), and that every key the batch expects
/// ($9) holds what its decisions read ($10, null: no row). It answers whether the lease is
/// held, whether the head matched, and whether the head is already the batch's own: an
/// earlier attempt whose connection broke at its COMMIT committed it; and whether every
/// expectation was met. Every part reads the rows as they were before the batch.
const BATCH_SQL: &str = "\
WITH held AS (
    SELECT epoch FROM writer_lease WHERE id = 1 AND epoch = $1 AND holder = $2 FOR SHARE),
stored AS (SELECT value FROM entries WHERE key = $3),
unmet AS (
    SELECT 1 FROM unnest($9::bytea[], $10::bytea[]) AS wanted (key, value)
    WHERE (SELECT value FROM entries WHERE entries.key = wanted.key) IS DISTINCT FROM wanted.value),
verdict AS (
    SELECT EXISTS (SELECT 1 FROM held) AS held,
           $5::bytea IS NULL OR (SELECT value FROM stored) IS NOT DISTINCT FROM $4::bytea AS extends,
           $5::bytea IS NOT NULL AND (SELECT value FROM stored) IS NOT DISTINCT FROM $5::bytea AS already,
           NOT EXISTS (SELECT 1 FROM unmet) AS met),
upserted AS (
    INSERT INTO entries (key, value)
    SELECT key, value FROM unnest($6::bytea[], $7::bytea[]) AS batch (key, value)
    WHERE (SELECT held AND extends AND NOT already AND met FROM verdict)
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
    RETURNING 1),
deleted AS (
    DELETE FROM entries
    WHERE key = ANY ($8::bytea[]) AND (SELECT held AND extends AND NOT already AND met FROM verdict)
    RETURNING 1)
SELECT held, extends, already, (SELECT count(*) FROM upserted), (SELECT count(*) FROM deleted), met
FROM verdict";

/// The types of [`BATCH_SQL`]'s parameters, in order.
const BATCH_TYPES: [Type; 10] = [
    Type::INT8,
    Type::TEXT,
    Type::BYTEA,
    Type::BYTEA,
    Type::BYTEA,
    Type::BYTEA_ARRAY,
    Type::BYTEA_ARRAY,
    Type::BYTEA_ARRAY,
    Type::BYTEA_ARRAY,
    Type::BYTEA_ARRAY,
];

/// [`BATCH_SQL`] on the writer's connection, prepared on its first batch: every later batch
/// skips the server's parsing and planning (about half a small batch's cost there).
async fn batch_statement(writer: &mut Connected) -> Result<Statement, tokio_postgres::Error> {
    if let Some(statement) = &writer.batch_statement {
        return Ok(statement.clone());
    }
    let statement = writer.client.prepare_typed(BATCH_SQL, &BATCH_TYPES).await?;
    writer.batch_statement = Some(statement.clone());
    Ok(statement)
}

/// What a batch's statement found.
struct Verdict {
    held: bool,
    extends: bool,
    already: bool,
    met: bool,
}

/// Why an attempt at a batch failed: its connection broke (whether the batch committed is
/// then unknown until the head is read again), or anything else (nothing was committed).
enum Failed {
    ConnectionLost(StoreError),
    Other(StoreError),
}

impl Failed {
    fn of(error: tokio_postgres::Error) -> Failed {
        if connection_lost(&error) {
            Failed::ConnectionLost(postgres_error(error))
        } else {
            Failed::Other(postgres_error(error))
        }
    }
}

/// One attempt at a batch: `BEGIN`, [`BATCH_SQL`] and `COMMIT` sent together, in order, in one
/// round trip. `COMMIT` answers (after its WAL flush, `synchronous_commit` on) once the
/// transaction is durable; if the statement failed, the transaction was aborted and the
/// server's answer to `COMMIT` is a rollback, so the batch counts as committed only when
/// all three succeeded.
async fn attempt(
    writer: &mut Connected,
    fence: &Fence,
    head_expected: &Option<Vec<u8>>,
    writes: &Writes,
) -> Result<Verdict, Failed> {
    let statement = batch_statement(writer).await.map_err(Failed::of)?;
    let head_key = keys::HEAD;
    let parameters: [&(dyn ToSql + Sync); 10] = [
        &fence.epoch,
        &fence.holder,
        &head_key,
        head_expected,
        &writes.head,
        &writes.keys,
        &writes.values,
        &writes.deleted,
        &writes.expected_keys,
        &writes.expected_values,
    ];
    let client = &writer.client;
    // Biased: polled in this order, so the three are sent in this order before any answer.
    let (begun, rows, committed) = tokio::join!(
        biased;
        client.batch_execute("BEGIN"),
        client.query(&statement, &parameters),
        client.batch_execute("COMMIT"),
    );
    begun.map_err(Failed::of)?;
    let rows = rows.map_err(Failed::of)?;
    committed.map_err(Failed::of)?;
    let row = rows.first().ok_or_else(|| {
        Failed::Other(StoreError::Postgres(
            "the batch's statement answered no row".to_owned(),
        ))
    })?;
    Ok(Verdict {
        held: row.get(0),
        extends: row.get(1),
        already: row.get(2),
        met: row.get(5),
    })
}

/// What a batch's verdict means: written (or written already), or refused as fenced, or
/// refused because a key it expected holds something else.
fn settle(fence: &Fence, verdict: Verdict, writes: &Writes) -> Result<(), StoreError> {
    if !verdict.held {
        return Err(StoreError::Fenced(format!(
            "{NOT_THE_WRITER} (epoch {}): another voucherd took it; this batch was not written",
            fence.epoch
        )));
    }
    if !verdict.extends && !verdict.already {
        return Err(StoreError::Fenced(
            "the chain head in the database is not the one this voucherd last wrote: another writer has been at the ledger; this batch was not written".to_owned(),
        ));
    }
    if !verdict.met && !verdict.already {
        let keys: Vec<_> = writes
            .expected_keys
            .iter()
            .map(|key| String::from_utf8_lossy(key).into_owned())
            .collect();
        return Err(StoreError::NotAsDecided(format!(
            "the database does not hold what the batch's decisions read for {}: nothing of the batch was written",
            keys.join(", ")
        )));
    }
    Ok(())
}

/// Writes a batch; once more on a new connection if its connection broke. Writing it again
/// is safe whether or not the broken attempt committed: the batch is written only over the
/// head it extends, and a head that is already the batch's own means it committed.
pub(super) async fn write_batch(
    shared: &Shared,
    fence: &Fence,
    head_expected: &Option<Vec<u8>>,
    writes: &Writes,
) -> Result<(), StoreError> {
    let broke = {
        let mut writer = shared.writer().await?;
        match attempt(&mut writer, fence, head_expected, writes).await {
            Ok(verdict) => return settle(fence, verdict, writes),
            Err(Failed::ConnectionLost(error)) => error,
            Err(Failed::Other(error)) => return Err(error),
        }
    };
    tracing::warn!(error = %broke, "the writer's PostgreSQL connection broke during a batch: writing it again on a new one (the head tells whether it committed)");
    let mut writer = shared.writer().await?;
    match attempt(&mut writer, fence, head_expected, writes).await {
        Ok(verdict) => settle(fence, verdict, writes),
        Err(Failed::ConnectionLost(error) | Failed::Other(error)) => Err(error),
    }
}

impl Tree for PostgresTree {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if !cache::is_kept(key) || self.lost.load(Ordering::SeqCst) {
            return self.read_row(key);
        }
        let generation = {
            let cache = lock(&self.cache);
            if let Some(value) = cache.lookup(key) {
                return Ok(Some(value));
            }
            cache.generation()
        };
        let value = self.read_row(key)?;
        lock(&self.cache).fill(key, &value, generation);
        Ok(value)
    }

    fn range(&self, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>) -> Entries<'_> {
        let mut next_start = start;
        let mut buffered: std::vec::IntoIter<Entry> = Vec::new().into_iter();
        let mut finished = false;
        Box::new(std::iter::from_fn(move || {
            if let Some(entry) = buffered.next() {
                return Some(Ok(entry));
            }
            if finished {
                return None;
            }
            let chunk = match self.chunk(&next_start, &end) {
                Ok(chunk) => chunk,
                Err(error) => {
                    finished = true;
                    return Some(Err(error));
                }
            };
            finished = (chunk.len() as i64) < RANGE_CHUNK;
            if let Some((last_key, _)) = chunk.last() {
                next_start = Bound::Excluded(last_key.clone());
            }
            buffered = chunk.into_iter();
            buffered.next().map(Ok)
        }))
    }

    /// Writes the batch and waits for its COMMIT (after every batch handed over before it).
    fn apply(&self, batch: TreeBatch) -> Result<(), StoreError> {
        let Some(outcome) = self.submit(batch, false)? else {
            return Err(StoreError::Postgres(
                "a batch to wait for was not kept".to_owned(),
            ));
        };
        outcome
            .recv_timeout(COMMIT_DEADLINE + std::time::Duration::from_secs(5))
            .map_err(|_| StoreError::Postgres("the batch's COMMIT never answered".to_owned()))?
    }

    fn size_on_disk_bytes(&self) -> Result<u64, StoreError> {
        let bytes: i64 = self.link.read(|connected| async move {
            let row = connected
                .client
                .query_one(&connected.statements.size, &[])
                .await?;
            Ok(row.get(0))
        })?;
        Ok(u64::try_from(bytes).unwrap_or(0))
    }

    fn last_with_prefix(&self, prefix: &[u8]) -> Result<Option<Entry>, StoreError> {
        let prefix = prefix.to_vec();
        let end = past_prefix(&prefix);
        self.link.read(move |connected| {
            let prefix = prefix.clone();
            let end = end.clone();
            async move {
                let row = match &end {
                    Some(end) => {
                        connected
                            .client
                            .query_opt(&connected.statements.last_below, &[&prefix, end])
                            .await?
                    }
                    None => {
                        connected
                            .client
                            .query_opt(&connected.statements.last_from, &[&prefix])
                            .await?
                    }
                };
                Ok(row.map(|row| (row.get(0), row.get(1))))
            }
        })
    }
}

/// The first key past every key that starts with `prefix`, if there is one.
fn past_prefix(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}
