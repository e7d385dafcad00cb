//! The sled store: the hash-chained event log, and the records derived from it for reading.
//!
//! This is the only module that knows sled. [`Journal`] is the writer's half: it appends a
//! batch of events together with every record they changed in one atomic sled batch, flushes
//! it, and fsyncs the data file (sled's own flush uses `sync_file_range`, which does not reach
//! the disk's cache). [`Store`] is the readers' half: it serves records without ever waiting
//! for the writer.
//!
//! Every event record names the SHA-256 of the record before it, so any change to history
//! breaks the chain from that point on.

pub mod backup;
mod export;
pub mod format;
pub mod keys;
pub mod postgres;
mod reads;
mod records;
mod resident;
mod seam;
mod tree;
pub mod upgrade;
pub mod verify;
pub mod wal;

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::event::{Event, LoggedEvent};
use crate::domain::ledger::{History, Ledger};
use crate::domain::policy::Policy;

pub use reads::{Page, RedemptionFilter, SettlementFilter, VoucherFilter};
use records::{RecordKey, writes_of};
pub use tree::MemoryTree;
use tree::{Tree, TreeBatch};

/// The hash that the first event names as its predecessor.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The largest value the store writes. sled moves values past a fraction of its segment size
/// into separate blob files; staying far below keeps every write in the one fsynced file.
const VALUE_BYTES_MAX: usize = 96 * 1024;

/// Sled's page cache; the rest of the memory is the ledger's. sled keeps more than this
/// beside it (its page table, segment accounting), so it is kept small: at 64 MiB the server
/// held 243 MiB after 200,000 redemptions, at 16 MiB 185 MiB, at the same speed.
const CACHE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage engine: {0}")]
    Sled(#[from] sled::Error),
    #[error("storage i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("stored data is not what was written: {0}")]
    Corrupt(String),
    /// The PostgreSQL store: a connection, a statement, the schema, or the lease.
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    /// A batch refused because a key it expected (what its decisions read) held something
    /// else: nothing of it was written.
    #[error("refused by the store: {0}")]
    NotAsDecided(String),
    /// A batch refused because this process no longer holds the writer lease.
    #[error("refused by the database: {0}")]
    Fenced(String),
    /// The hash chain of the event log breaks at this event.
    #[error("the event log is broken at event {sequence}: {message}")]
    Chain { sequence: u64, message: String },
}

pub use export::{export_line, parse_export_line};
pub use format::EventRecord;
pub use seam::{Durability, EventJournal, ReadStore, RecordAudit, SharedReadStore};

/// The last event written: where the next one goes and what it must name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    pub sequence: u64,
    pub sha256: String,
}

impl ChainHead {
    fn genesis() -> ChainHead {
        ChainHead {
            sequence: 0,
            sha256: GENESIS_HASH.to_owned(),
        }
    }

    /// The head once the record `bytes` follows this one.
    fn after(&self, bytes: &[u8]) -> ChainHead {
        ChainHead {
            sequence: self.sequence + 1,
            sha256: hex::encode(Sha256::digest(bytes)),
        }
    }
}

/// The readers' handle. Cheap to clone; every clone sees the same tree.
#[derive(Clone)]
pub struct Store {
    tree: Arc<dyn Tree>,
}

/// The writer's handle: appends batches durably. Exactly one exists per open store.
pub struct Journal {
    tree: Arc<dyn Tree>,
    /// The same tree, read as the history the writer recalls closed redemptions from.
    history: Store,
    /// sled's write-ahead log and checkpoints, or nothing to do for a tree in memory.
    durable: Arc<dyn Durability>,
    /// The head after the last prepared batch (ahead of the disk while a batch is in flight).
    head: ChainHead,
}

/// Makes appended batches durable: one frame of the write-ahead log and one `fdatasync` each.
/// Can live on its own thread, so the next batch is decided and appended while this one is
/// synced. Clones share the log.
#[derive(Clone)]
pub struct DurableWriter {
    db: sled::Db,
    directory: PathBuf,
    data_file: Arc<File>,
    wal: Arc<Mutex<wal::WriteAheadLog>>,
}

/// A batch of events and the records they touched, applied to sled atomically but not yet
/// known to be on disk: nobody may hear of it until [`DurableWriter::write`] returns.
pub struct AppendedBatch {
    pub head: ChainHead,
    pub events: usize,
    /// What the store needs to make it durable (for sled: the event records, for the
    /// write-ahead log).
    pending: Box<dyn std::any::Any + Send>,
    /// Encoding and chaining, on the writer thread.
    pub prepare: Duration,
    /// sled's in-memory apply, on the writer thread.
    pub apply: Duration,
}

/// How long the last commit took, for logs and metrics.
#[derive(Clone, Copy, Debug)]
pub struct CommitTiming {
    /// Encoding and chaining, on the writer thread.
    pub prepare: Duration,
    /// sled's in-memory apply.
    pub apply: Duration,
    pub flush_and_sync: Duration,
}

/// How the embedded store is laid out on disk: settings, not stored facts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// The size write-ahead log segments are made with.
    pub wal_segment_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            wal_segment_bytes: wal::SEGMENT_BYTES,
        }
    }
}

/// An open store, as the engine holds it: through the seam only.
pub struct OpenedStore {
    pub reader: SharedReadStore,
    pub journal: Box<dyn EventJournal>,
    /// The ledger as the store's history leaves it.
    pub ledger: Ledger,
}

/// Opens the ledger's store in `directory` (the embedded default: sled behind a write-ahead
/// log) and rebuilds the ledger; see [`open_and_load`].
pub fn open_ledger(
    directory: &Path,
    policy: Arc<Policy>,
    now: &str,
    options: StoreOptions,
) -> Result<OpenedStore, StoreError> {
    let (store, journal, ledger) = open_and_load(directory, policy, now, options)?;
    Ok(OpenedStore {
        reader: Arc::new(store),
        journal: Box::new(journal),
        ledger,
    })
}

/// Opens a store kept in `tree`, in memory (for tests and models: nothing is durable beyond
/// the process), and rebuilds the ledger from it. Opening the same tree again is a restart.
pub fn open_memory(tree: Arc<MemoryTree>, policy: Arc<Policy>) -> Result<OpenedStore, StoreError> {
    let tree: Arc<dyn Tree> = tree;
    let head = match tree.get(keys::HEAD)? {
        Some(bytes) => decode::<ChainHead>(&bytes, "chain head")?,
        None => ChainHead::genesis(),
    };
    if head.sequence == 0 && tree.get(keys::RECORDS_FORMAT)?.is_none() {
        let mut batch = TreeBatch::default();
        batch.insert(keys::RECORDS_FORMAT, upgrade::RECORDS_FORMAT.to_string());
        tree.apply(batch)?;
    }
    let store = Store { tree: tree.clone() };
    let mut ledger = load_for_start(&store, policy)?;
    ledger.forget_history();
    let journal = Journal {
        tree,
        history: store.clone(),
        durable: Arc::new(InMemory),
        head,
    };
    Ok(OpenedStore {
        reader: Arc::new(store),
        journal: Box::new(journal),
        ledger,
    })
}

/// The durability of a store in memory: a batch is as durable as it will ever be once applied.
struct InMemory;

impl Durability for InMemory {
    fn write(&self, appended: AppendedBatch) -> Result<CommitTiming, StoreError> {
        Ok(CommitTiming {
            prepare: appended.prepare,
            apply: appended.apply,
            flush_and_sync: Duration::ZERO,
        })
    }

    fn checkpoint(&self, _durable_sequence: u64) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Opens (or creates) the store in `directory` and rebuilds the ledger: sled's events are
/// replayed, then the write-ahead log's records past sled's head are applied to both and
/// checkpointed, so that the log is empty of anything sled does not hold by itself. Fails if
/// another process has the store open, or if the log is damaged (naming the file and offset).
///
/// A directory written by an earlier build has its records rebuilt (after a backup of its log
/// beside the directory, stamped `now`): see `upgrade`.
pub fn open_and_load(
    directory: &Path,
    policy: Arc<Policy>,
    now: &str,
    options: StoreOptions,
) -> Result<(Store, Journal, Ledger), StoreError> {
    let started = Instant::now();
    let (store, mut journal, recovered) = open(directory, options)?;
    let opened = started.elapsed();
    let mut ledger = load_for_start(&store, policy)?;
    let loaded = started.elapsed() - opened;
    tracing::info!(
        open_ms = opened.as_millis() as u64,
        load_ms = loaded.as_millis() as u64,
        replayed_whole_log = ledger.history_complete(),
        vouchers = ledger.vouchers().count(),
        "store opened and the ledger's state loaded"
    );
    let replayed = journal.recover(&recovered, &mut ledger)?;
    if replayed > 0 {
        tracing::warn!(
            events = replayed,
            "recovered events from the write-ahead log that sled had not checkpointed"
        );
    }
    journal.checkpoint()?;
    upgrade::upgrade_if_needed(&store, &journal, &ledger, directory, now)?;
    ledger.forget_history();
    Ok((store, journal, ledger))
}

/// The ledger to start from: loaded from the records when they are in this build's format
/// (no replay: see `resident`), else replayed from the whole log, for `upgrade` to rebuild
/// the records from.
fn load_for_start(store: &Store, policy: Arc<Policy>) -> Result<Ledger, StoreError> {
    if store.records_format()? == upgrade::RECORDS_FORMAT {
        resident::load_resident(store, policy)
    } else {
        load_ledger(store, policy)
    }
}

/// Opens the store for an offline `verify`: recovered like a start (the write-ahead log
/// applied and checkpointed), unless its log does not chain; then it is left as it lies, for
/// `verify` to name the first bad event.
pub fn open_for_verify(directory: &Path, policy: Arc<Policy>) -> Result<Store, StoreError> {
    let (store, mut journal, recovered) = open(directory, StoreOptions::default())?;
    let loaded =
        load_ledger(&store, policy).and_then(|mut ledger| journal.recover(&recovered, &mut ledger));
    match loaded {
        Ok(_) => journal.checkpoint()?,
        Err(StoreError::Chain { sequence, message }) => {
            tracing::warn!(
                sequence,
                message,
                "the log does not chain: verifying it as it lies"
            );
        }
        Err(other) => return Err(other),
    }
    Ok(store)
}

/// Makes durable the names sled and the log created: the ledger directory's entries (`db`,
/// `conf`, `wal/`, snapshots), the ledger directory's own name in the data directory, and the
/// data directory's in its parent. Without it a power cut can take the whole ledger away
/// (found by the power-cut crash test: `ledger/` came back empty in round 0). sled writes
/// `conf` without syncing it, so it is synced here too.
fn sync_directory_names(directory: &Path) -> Result<(), StoreError> {
    File::open(directory.join("conf"))?.sync_all()?;
    wal::sync_directory(directory)?;
    if let Some(data_directory) = directory.parent() {
        wal::sync_directory(data_directory)?;
        if let Some(above) = data_directory.parent()
            && above.exists()
        {
            wal::sync_directory(above)?;
        }
    }
    Ok(())
}

/// Opens sled and reads the write-ahead log (not yet applied: see [`open_and_load`]).
fn open(
    directory: &Path,
    options: StoreOptions,
) -> Result<(Store, Journal, wal::Recovered), StoreError> {
    std::fs::create_dir_all(directory)?;
    let db = sled::Config::new()
        .path(directory)
        .cache_capacity(CACHE_BYTES)
        .mode(sled::Mode::HighThroughput)
        // Durability comes from the write-ahead log; sled is flushed at checkpoints only.
        .flush_every_ms(None)
        .open()?;
    let data_file = Arc::new(File::open(directory.join("db"))?);
    let head = match db.get(keys::HEAD)? {
        Some(bytes) => decode::<ChainHead>(&bytes, "chain head")?,
        None => ChainHead::genesis(),
    };
    // A new store is written in this build's layout from the first record on.
    if head.sequence == 0 && db.get(keys::RECORDS_FORMAT)?.is_none() {
        let layout = upgrade::RECORDS_FORMAT.to_string();
        db.insert(keys::RECORDS_FORMAT, layout.as_bytes())?;
    }
    let wal_directory = wal::directory_of(directory);
    let recovered = wal::read_all(&wal_directory)?;
    let next_sequence = recovered.frames.last().map_or(head.sequence, |frame| {
        frame.last_sequence().max(head.sequence)
    }) + 1;
    let log = wal::WriteAheadLog::open(
        &wal_directory,
        &recovered,
        next_sequence,
        options.wal_segment_bytes,
    )?;
    sync_directory_names(directory)?;
    let durable = DurableWriter {
        db: db.clone(),
        directory: directory.to_owned(),
        data_file,
        wal: Arc::new(Mutex::new(log)),
    };
    let tree: Arc<dyn Tree> = Arc::new(db);
    let journal = Journal {
        tree: tree.clone(),
        history: Store { tree: tree.clone() },
        durable: Arc::new(durable),
        head,
    };
    Ok((Store { tree }, journal, recovered))
}

impl Journal {
    pub fn head(&self) -> &ChainHead {
        &self.head
    }

    /// [`EventJournal::commit`] for records already encoded: see [`Journal::append_stored`].
    pub fn commit_stored(
        &mut self,
        stored: Vec<Vec<u8>>,
        events: &[Event],
        ledger: &Ledger,
    ) -> Result<CommitTiming, StoreError> {
        let appended = self.append_stored(stored, events, ledger)?;
        self.durable.write(appended)
    }

    /// Encodes `events` (already applied to `ledger`), chains them, and applies them with every
    /// record they touched to sled in one atomic batch. Not yet durable: hand the result to
    /// [`DurableWriter::write`], in the order appended, before telling anyone.
    pub fn append(
        &mut self,
        events: &[LoggedEvent],
        ledger: &Ledger,
    ) -> Result<AppendedBatch, StoreError> {
        assert!(
            !events.is_empty(),
            "an empty batch has nothing to make durable"
        );
        let started = Instant::now();
        let mut head = self.head.clone();
        let mut stored = Vec::with_capacity(events.len());
        for logged in events {
            let bytes = format::encode_event(
                head.sequence + 1,
                &head.sha256,
                &logged.event,
                &logged.cause,
            );
            head = ChainHead::after(&head, &bytes);
            stored.push(bytes);
        }
        let encoded = started.elapsed();
        let mut appended = self.append_stored(stored, events, ledger)?;
        appended.prepare += encoded;
        Ok(appended)
    }

    /// Appends records already encoded (by this build or, on restore, by the build that first
    /// wrote them), byte for byte, with the events they hold (already applied to `ledger`).
    /// Each must follow the one before it in the chain: the bytes are never re-encoded, so a
    /// restored log hashes exactly as the original.
    pub fn append_stored<E: AsRef<Event>>(
        &mut self,
        stored: Vec<Vec<u8>>,
        events: &[E],
        ledger: &Ledger,
    ) -> Result<AppendedBatch, StoreError> {
        assert_eq!(stored.len(), events.len(), "one event per stored record");
        assert!(
            !events.is_empty(),
            "an empty batch has nothing to make durable"
        );
        let started = Instant::now();
        let mut batch = TreeBatch::default();
        let mut head = self.head.clone();
        // A record touched by many events of the batch is written once, as it ends up.
        let mut touched: BTreeSet<RecordKey> = BTreeSet::new();
        for (bytes, event) in stored.iter().zip(events) {
            assert!(
                bytes.len() <= VALUE_BYTES_MAX,
                "a stored event is over the bound"
            );
            let next_head = ChainHead::after(&head, bytes);
            batch.insert(keys::event(next_head.sequence), bytes.clone());
            head = next_head;
            let writes = writes_of(event.as_ref(), ledger);
            touched.extend(writes.records);
            for (key, value) in writes.expected {
                batch.expect(key, value);
            }
            for (key, value) in writes.indexes {
                batch.insert(key, value);
            }
        }
        for record in &touched {
            match record.encode_from(ledger) {
                Some(bytes) => batch.insert(record.key(), bytes),
                // Only a netted clawback leaves the ledger; its stored copy goes with it.
                None => batch.remove(record.key()),
            }
        }
        batch.insert(keys::HEAD, encode(&head));
        let encoded = Instant::now();
        self.tree.apply(batch)?;
        self.head = head.clone();
        Ok(AppendedBatch {
            head,
            events: events.len(),
            pending: Box::new(stored),
            prepare: encoded - started,
            apply: encoded.elapsed(),
        })
    }

    /// Makes sled hold everything appended so far by itself (see [`DurableWriter::checkpoint`]).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.durable.checkpoint(self.head.sequence)
    }

    /// Applies the write-ahead log's records past the head to `ledger` and to sled, checking
    /// that each follows the one before in the chain: one sled batch per frame, as the writer
    /// appended it. Returns how many it applied.
    fn recover(
        &mut self,
        recovered: &wal::Recovered,
        ledger: &mut Ledger,
    ) -> Result<u64, StoreError> {
        let mut applied = 0;
        for frame in &recovered.frames {
            let mut head = self.head.clone();
            let mut stored = Vec::new();
            let mut events = Vec::new();
            for (index, bytes) in frame.records.iter().enumerate() {
                let sequence = frame.first_sequence + index as u64;
                if sequence <= head.sequence {
                    continue;
                }
                let record = format::decode_event(bytes).map_err(|error| {
                    chain_break(sequence, format!("in the write-ahead log: {error}"))
                })?;
                if record.sequence != head.sequence + 1 || record.previous_sha256 != head.sha256 {
                    return Err(chain_break(
                        sequence,
                        format!(
                            "the write-ahead log's event {} does not follow event {} in the chain",
                            record.sequence, head.sequence
                        ),
                    ));
                }
                ledger
                    .recall_for_event(&record.event, &self.history)
                    .map_err(|error| StoreError::Corrupt(error.to_string()))?;
                ledger.apply_logged(&LoggedEvent {
                    event: record.event.clone(),
                    cause: record.cause.clone(),
                });
                head = ChainHead::after(&head, bytes);
                stored.push(bytes.clone());
                events.push(record.event);
            }
            if !events.is_empty() {
                applied += events.len() as u64;
                self.append_stored(stored, &events, ledger)?;
                if !ledger.history_complete() {
                    ledger.forget_history();
                }
            }
        }
        Ok(applied)
    }
}

impl DurableWriter {
    /// Makes an appended batch (and everything appended before it) durable: one frame of the
    /// write-ahead log, one `fdatasync`. Returns once it is on disk.
    pub fn write(&self, appended: AppendedBatch) -> Result<CommitTiming, StoreError> {
        let started = Instant::now();
        let records = appended
            .pending
            .downcast_ref::<Vec<Vec<u8>>>()
            .expect("a batch appended by the sled journal");
        let first_sequence = appended.head.sequence + 1 - records.len() as u64;
        self.wal
            .lock()
            .map_err(|_| StoreError::Corrupt("the write-ahead log's lock is poisoned".into()))?
            .append_durably(first_sequence, records)?;
        Ok(CommitTiming {
            prepare: appended.prepare,
            apply: appended.apply,
            flush_and_sync: started.elapsed(),
        })
    }

    /// A checkpoint: makes sled hold durably, by itself, every record applied to it so far
    /// (at least up to `durable_sequence`, which the caller read before calling), then
    /// forgets the log segments wholly at or below it.
    pub fn checkpoint(&self, durable_sequence: u64) -> Result<(), StoreError> {
        self.make_sled_durable()?;
        self.wal
            .lock()
            .map_err(|_| StoreError::Corrupt("the write-ahead log's lock is poisoned".into()))?
            .forget_before(durable_sequence)?;
        Ok(())
    }

    /// sled's flush writes its log with `sync_file_range`, which neither flushes the drive's
    /// write cache nor file metadata; an `fdatasync` of the data file does both. Blob files
    /// are written without any sync by sled, so any that exist are synced too.
    fn make_sled_durable(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        self.data_file.sync_data()?;
        // sled creates and removes snapshot files without syncing their directory.
        wal::sync_directory(&self.directory)?;
        let blobs = self.directory.join("blobs");
        if let Ok(entries) = std::fs::read_dir(&blobs) {
            let mut any = false;
            for entry in entries.flatten() {
                File::open(entry.path())?.sync_all()?;
                any = true;
            }
            if any {
                File::open(&blobs)?.sync_all()?;
            }
        }
        Ok(())
    }
}

/// Every event from the first, in order, each visited only once its own hash is known to be
/// the one the next event (or, for the last, the stored head) names. The first break ends the
/// walk with [`StoreError::Chain`] naming the event. Works on any store.
pub fn walk_chain(
    store: &dyn ReadStore,
    mut visit: impl FnMut(&EventRecord, &[u8]),
) -> Result<ChainHead, StoreError> {
    ChainWalker::default().end(store, &mut visit)
}

/// A walk along the chain that can stop and go on: [`ChainWalker::advance`] reads what is
/// stored so far (while writes go on, if they do), [`ChainWalker::end`] reads the rest and
/// checks the last event against the stored head (with writes paused, for a live store). An
/// event is visited only once its hash is confirmed, so the last one read waits.
#[derive(Default)]
pub struct ChainWalker {
    /// The last event visited (confirmed), or the genesis.
    visited: Option<ChainHead>,
    /// The last event read, waiting for its hash to be confirmed.
    pending: Option<(EventRecord, Vec<u8>, ChainHead)>,
}

impl ChainWalker {
    fn visited(&self) -> ChainHead {
        self.visited.clone().unwrap_or_else(ChainHead::genesis)
    }

    /// The number of the last event read.
    pub fn read_through(&self) -> u64 {
        self.pending
            .as_ref()
            .map_or(self.visited().sequence, |(_, _, head)| head.sequence)
    }

    /// Reads every event stored after the last one read, visiting each confirmed one.
    pub fn advance(
        &mut self,
        store: &dyn ReadStore,
        visit: &mut dyn FnMut(&EventRecord, &[u8]),
    ) -> Result<(), StoreError> {
        let mut broken: Option<StoreError> = None;
        store.visit_events(
            self.read_through() + 1,
            u64::MAX,
            &mut |sequence, bytes| match self.step(sequence, bytes, visit) {
                Ok(()) => true,
                Err(error) => {
                    broken = Some(error);
                    false
                }
            },
        )?;
        broken.map_or(Ok(()), Err)
    }

    /// One more event: checked against its predecessor, which it confirms.
    fn step(
        &mut self,
        sequence: u64,
        bytes: &[u8],
        visit: &mut dyn FnMut(&EventRecord, &[u8]),
    ) -> Result<(), StoreError> {
        let expected = self.read_through() + 1;
        let record = read_event(sequence, bytes, expected)?;
        let own_head = ChainHead {
            sequence: expected,
            sha256: hex::encode(Sha256::digest(bytes)),
        };
        let previous = self
            .pending
            .as_ref()
            .map_or_else(|| self.visited(), |(_, _, head)| head.clone());
        if record.previous_sha256 != previous.sha256 {
            return Err(chain_break(
                previous.sequence.max(1),
                format!(
                    "event {} names a SHA-256 for event {} that is not its own: one of them was altered",
                    expected, previous.sequence
                ),
            ));
        }
        if let Some((previous_record, previous_bytes, previous_head)) = self.pending.take() {
            visit(&previous_record, &previous_bytes);
            self.visited = Some(previous_head);
        }
        self.pending = Some((record, bytes.to_vec(), own_head));
        Ok(())
    }

    /// Reads the rest of the log and checks that it ends at the stored head; returns it.
    pub fn end(
        mut self,
        store: &dyn ReadStore,
        visit: &mut dyn FnMut(&EventRecord, &[u8]),
    ) -> Result<ChainHead, StoreError> {
        let stored_head = store.stored_head()?;
        self.advance(store, visit)?;
        match self.pending {
            Some((record, bytes, head)) if head == stored_head => {
                visit(&record, &bytes);
                Ok(head)
            }
            Some((_, _, head)) => Err(chain_break(
                head.sequence,
                format!(
                    "the log ends at event {} with SHA-256 {}, but the stored head names event {} with {}",
                    head.sequence, head.sha256, stored_head.sequence, stored_head.sha256
                ),
            )),
            None if stored_head.sequence == 0 => Ok(self.visited()),
            None => Err(chain_break(
                1,
                format!(
                    "the log is empty but the stored head names event {}",
                    stored_head.sequence
                ),
            )),
        }
    }
}

/// Rebuilds the ledger by replaying the whole log of any store, checking the chain as it goes.
pub fn load_ledger(store: &dyn ReadStore, policy: Arc<Policy>) -> Result<Ledger, StoreError> {
    let mut ledger = Ledger::new(policy);
    walk_chain(store, |record, _| ledger.apply_logged(&record.logged()))?;
    Ok(ledger)
}

fn chain_break(sequence: u64, message: String) -> StoreError {
    StoreError::Chain { sequence, message }
}

/// Decodes the event stored as number `sequence`, which must be event number `expected`.
fn read_event(sequence: u64, bytes: &[u8], expected: u64) -> Result<EventRecord, StoreError> {
    if sequence != expected {
        return Err(chain_break(
            expected,
            format!("missing: the next event stored is {sequence}"),
        ));
    }
    let record = format::decode_event(bytes)
        .map_err(|error| chain_break(expected, format!("cannot be read: {error}")))?;
    if record.sequence != expected {
        return Err(chain_break(
            expected,
            format!("says it is event {}", record.sequence),
        ));
    }
    Ok(record)
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let bytes = serde_json::to_vec(value).expect("ledger records always serialize");
    assert!(
        bytes.len() <= VALUE_BYTES_MAX,
        "a stored value of {} bytes is over the bound",
        bytes.len()
    );
    bytes
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Corrupt(format!("{what}: {error}")))
}

impl EventJournal for Journal {
    fn head(&self) -> &ChainHead {
        Journal::head(self)
    }

    fn append(
        &mut self,
        events: &[LoggedEvent],
        ledger: &Ledger,
    ) -> Result<AppendedBatch, StoreError> {
        Journal::append(self, events, ledger)
    }

    fn durability(&self) -> Arc<dyn Durability> {
        self.durable.clone()
    }

    fn history(&self) -> &dyn History {
        &self.history
    }
}

impl Durability for DurableWriter {
    fn write(&self, appended: AppendedBatch) -> Result<CommitTiming, StoreError> {
        DurableWriter::write(self, appended)
    }

    fn checkpoint(&self, durable_sequence: u64) -> Result<(), StoreError> {
        DurableWriter::checkpoint(self, durable_sequence)
    }
}

#[cfg(test)]
mod agreement_tests;
