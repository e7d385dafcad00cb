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

pub mod keys;
mod reads;

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::event::Event;
use crate::domain::ids::{RedemptionId, TokenId, VoucherId};
use crate::domain::ledger::Ledger;
use crate::domain::model::CapKey;

pub use reads::{Page, RedemptionFilter, VoucherFilter};

/// The hash that the first event names as its predecessor.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The largest value the store writes. sled moves values past a fraction of its segment size
/// into separate blob files; staying far below keeps every write in the one fsynced file.
const VALUE_BYTES_MAX: usize = 16 * 1024;

/// Sled's page cache; the rest of the memory is the ledger's.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage engine: {0}")]
    Sled(#[from] sled::Error),
    #[error("storage i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("stored data is not what was written: {0}")]
    Corrupt(String),
}

/// One event as stored: its place in the log and the hash of the record before it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    pub sequence: u64,
    pub previous_sha256: String,
    pub event: Event,
}

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
}

/// The readers' handle. Cheap to clone; every clone sees the same tree.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
}

/// The writer's handle: appends batches durably. Exactly one exists per open store.
pub struct Journal {
    db: sled::Db,
    directory: PathBuf,
    data_file: File,
    head: ChainHead,
}

/// How long the last commit took, for logs and metrics.
#[derive(Clone, Copy, Debug)]
pub struct CommitTiming {
    pub apply: Duration,
    pub flush_and_sync: Duration,
}

/// Opens (or creates) the store in `directory`. Fails if another process has it open.
pub fn open(directory: &Path) -> Result<(Store, Journal), StoreError> {
    std::fs::create_dir_all(directory)?;
    let db = sled::Config::new()
        .path(directory)
        .cache_capacity(CACHE_BYTES)
        .mode(sled::Mode::HighThroughput)
        .open()?;
    let data_file = File::open(directory.join("db"))?;
    let head = match db.get(keys::HEAD)? {
        Some(bytes) => decode::<ChainHead>(&bytes, "chain head")?,
        None => ChainHead::genesis(),
    };
    let journal = Journal {
        db: db.clone(),
        directory: directory.to_owned(),
        data_file,
        head,
    };
    Ok((Store { db }, journal))
}

impl Journal {
    pub fn head(&self) -> &ChainHead {
        &self.head
    }

    /// Appends `events` (already applied to `ledger`) and every record they touched, in one
    /// atomic batch, then makes it durable. Returns only once it is on disk.
    pub fn commit(
        &mut self,
        events: &[Event],
        ledger: &Ledger,
    ) -> Result<CommitTiming, StoreError> {
        assert!(
            !events.is_empty(),
            "an empty commit has nothing to make durable"
        );
        let started = Instant::now();
        let mut batch = sled::Batch::default();
        let mut head = self.head.clone();
        let mut touched = Touched::default();
        for event in events {
            let record = EventRecord {
                sequence: head.sequence + 1,
                previous_sha256: head.sha256.clone(),
                event: event.clone(),
            };
            let bytes = encode(&record);
            head = ChainHead {
                sequence: record.sequence,
                sha256: hex::encode(Sha256::digest(&bytes)),
            };
            batch.insert(keys::event(record.sequence), bytes);
            touched.note(event, ledger, &mut batch);
        }
        touched.write_records(ledger, &mut batch);
        batch.insert(keys::HEAD, encode(&head));
        self.db.apply_batch(batch)?;
        let applied = Instant::now();
        self.make_durable()?;
        self.head = head;
        Ok(CommitTiming {
            apply: applied - started,
            flush_and_sync: applied.elapsed(),
        })
    }

    /// sled's flush writes its log with `sync_file_range`, which neither flushes the drive's
    /// write cache nor file metadata; an `fdatasync` of the data file does both. Blob files
    /// are written without any sync by sled, so any that exist are synced too.
    fn make_durable(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        self.data_file.sync_data()?;
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

/// Which records a batch of events changed, written once each however often touched.
#[derive(Default)]
struct Touched {
    vouchers: BTreeSet<VoucherId>,
    redemptions: BTreeSet<RedemptionId>,
    tokens: BTreeSet<TokenId>,
    cap_accounts: BTreeSet<CapKey>,
}

impl Touched {
    /// Notes what `event` changed; writes creation-only index entries straight into `batch`.
    fn note(&mut self, event: &Event, ledger: &Ledger, batch: &mut sled::Batch) {
        match event {
            Event::PolicyAdopted { .. } => {}
            Event::EnterpriseRegistered { enterprise } => {
                batch.insert(
                    keys::enterprise(&enterprise.credit_code),
                    encode(enterprise),
                );
            }
            Event::ProviderRegistered { provider } => {
                batch.insert(keys::provider(&provider.credit_code), encode(provider));
            }
            Event::TokenCreated { token } => {
                batch.insert(
                    keys::token_secret(&token.secret_sha256.0),
                    token.token_id.to_string().as_bytes(),
                );
                self.tokens.insert(token.token_id);
            }
            Event::TokenRevoked { token_id, .. } => {
                self.tokens.insert(*token_id);
            }
            Event::VoucherIssued { voucher } => {
                batch.insert(
                    keys::voucher_by_enterprise(
                        &voucher.enterprise_credit_code,
                        &voucher.voucher_id,
                    ),
                    &[],
                );
                self.note_voucher(voucher.voucher_id, ledger);
            }
            Event::VoucherRevoked { voucher_id, .. } | Event::VoucherExpired { voucher_id, .. } => {
                self.note_voucher(*voucher_id, ledger);
            }
            Event::RedemptionAccepted { redemption } => {
                let id = redemption.redemption_id;
                batch.insert(
                    keys::redemption_by_enterprise(&redemption.enterprise_credit_code, &id),
                    &[],
                );
                batch.insert(
                    keys::redemption_by_provider(&redemption.provider_credit_code, &id),
                    &[],
                );
                self.redemptions.insert(id);
                self.note_voucher(redemption.voucher_id, ledger);
            }
            Event::RedemptionReversed { redemption_id, .. } => {
                self.redemptions.insert(*redemption_id);
                let redemption = ledger
                    .redemption(redemption_id)
                    .expect("a reversed redemption exists");
                self.note_voucher(redemption.voucher_id, ledger);
            }
        }
    }

    fn note_voucher(&mut self, voucher_id: VoucherId, ledger: &Ledger) {
        let voucher = ledger
            .voucher(&voucher_id)
            .expect("a touched voucher exists");
        self.vouchers.insert(voucher_id);
        self.cap_accounts.insert(voucher.cap_key());
    }

    fn write_records(&self, ledger: &Ledger, batch: &mut sled::Batch) {
        let missing = "a touched record exists in the ledger";
        for token_id in &self.tokens {
            batch.insert(
                keys::token(token_id),
                encode(ledger.token(token_id).expect(missing)),
            );
        }
        for voucher_id in &self.vouchers {
            batch.insert(
                keys::voucher(voucher_id),
                encode(ledger.voucher(voucher_id).expect(missing)),
            );
        }
        for redemption_id in &self.redemptions {
            batch.insert(
                keys::redemption(redemption_id),
                encode(ledger.redemption(redemption_id).expect(missing)),
            );
        }
        for cap_key in &self.cap_accounts {
            batch.insert(
                keys::cap_account(cap_key),
                encode(ledger.cap_account(cap_key).expect(missing)),
            );
        }
    }
}

impl Store {
    /// Every event from the first, in order, with the chain checked as it goes. `visit` sees
    /// each record; the first broken link or undecodable record ends the walk with an error
    /// that names its sequence number.
    pub fn walk_events(
        &self,
        mut visit: impl FnMut(&EventRecord),
    ) -> Result<ChainHead, StoreError> {
        let mut head = ChainHead::genesis();
        for entry in self.db.scan_prefix(keys::EVENTS) {
            let (key, bytes) = entry?;
            let sequence = keys::event_sequence(&key)
                .ok_or_else(|| StoreError::Corrupt(format!("malformed event key {key:?}")))?;
            let record: EventRecord = decode(&bytes, &format!("event {sequence}"))?;
            if record.sequence != sequence || sequence != head.sequence + 1 {
                return Err(StoreError::Corrupt(format!(
                    "event {sequence}: out of sequence after {}",
                    head.sequence
                )));
            }
            if record.previous_sha256 != head.sha256 {
                return Err(StoreError::Corrupt(format!(
                    "event {sequence}: does not chain to event {}",
                    head.sequence
                )));
            }
            visit(&record);
            head = ChainHead {
                sequence,
                sha256: hex::encode(Sha256::digest(&bytes)),
            };
        }
        Ok(head)
    }

    /// Rebuilds the ledger by replaying the whole log, checking the chain and that it ends at
    /// the stored head.
    pub fn load_ledger(
        &self,
        policy: std::sync::Arc<crate::domain::policy::Policy>,
    ) -> Result<Ledger, StoreError> {
        let mut ledger = Ledger::new(policy);
        let head = self.walk_events(|record| ledger.apply(&record.event))?;
        let stored_head = match self.db.get(keys::HEAD)? {
            Some(bytes) => decode::<ChainHead>(&bytes, "chain head")?,
            None => ChainHead::genesis(),
        };
        if head != stored_head {
            return Err(StoreError::Corrupt(format!(
                "the log ends at event {} but the head names event {}",
                head.sequence, stored_head.sequence
            )));
        }
        Ok(ledger)
    }

    /// The number of events recorded.
    pub fn event_count(&self) -> Result<u64, StoreError> {
        match self.db.get(keys::HEAD)? {
            Some(bytes) => Ok(decode::<ChainHead>(&bytes, "chain head")?.sequence),
            None => Ok(0),
        }
    }

    /// Whether any token was ever created: a store without one needs a bootstrap token.
    pub fn has_tokens(&self) -> Result<bool, StoreError> {
        Ok(self
            .db
            .scan_prefix(keys::TOKENS)
            .next()
            .transpose()?
            .is_some())
    }

    /// Bytes the store takes on disk.
    pub fn size_on_disk_bytes(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }
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
