//! The ledger in PostgreSQL (`--store postgres://USER@HOST:PORT/DB`), behind the storage seam.
//!
//! The same layout as sled's (`keys.rs`, `records.rs`, `reads.rs`) on a [`Tree`] kept in one
//! table (see `tree`), so `Store` and `Journal` and everything above them are unchanged. The
//! schema is voucherd's own (`migrations`). Each batch is one transaction, committed with
//! `synchronous_commit` on before the writer answers anyone: the commit is the durability.
//! The writer hands each batch over and decides the next while it commits (`pipeline`).
//!
//! Exactly one voucherd writes: the one holding the writer lease (`lease`), which every batch
//! checks inside its own transaction. A voucherd that finds the lease live starts as a
//! standby ([`Opened::Standby`]): it reads the same tables and tries the lease until it takes
//! it, then loads the ledger and writes. Offline `verify` and `restore` take the lease too, so
//! they never run beside a writer.

mod cache;
mod lease;
mod link;
mod migrations;
mod pipeline;
mod tls;
mod tree;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use lease::{HeldBy, LEASE_DURATION, RENEW_INTERVAL};

use super::tree::{Tree, TreeBatch};
use super::{ChainHead, Journal, OpenedStore, ReadStore, Store, StoreError, keys};
use crate::domain::policy::Policy;
use link::Link;
use tree::{PostgresTree, lock};

/// Whether `store` (the `store` configuration key) names a PostgreSQL database.
pub fn is_postgres_url(store: &str) -> bool {
    store.starts_with("postgres://") || store.starts_with("postgresql://")
}

/// `user@host:port/database` of a store address, without any password: for messages.
pub fn describe(url: &str) -> String {
    tls::url_for_client(url)
        .and_then(|url| {
            url.parse::<tokio_postgres::Config>()
                .map_err(link::postgres_error)
        })
        .map_or_else(
            |_| "a PostgreSQL database".to_owned(),
            |config| link::describe(&config),
        )
}

/// Checks a store address as starting on it would, without connecting: its `sslmode` and
/// `sslrootcert` (the CA file read and parsed), and the rest as a PostgreSQL URL.
pub fn check_address(url: &str) -> Result<(), StoreError> {
    link::parse_address(url).map(drop)
}

/// This process's hold on the writer lease, taken at start or later by a standby: renewed
/// every [`RENEW_INTERVAL`] from when it is taken until released (or dropped). While it is
/// held, no other voucherd writes to the database.
pub struct WriterLease {
    tree: Arc<PostgresTree>,
    /// `role` and a random id: this process, as the lease row names its holder.
    holder: String,
    /// Where this voucherd serves, for the row (and the standbys' refusals). Locked across a
    /// take, so an address announced meanwhile is never lost.
    address: Mutex<Option<String>>,
    renewal: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl WriterLease {
    fn new(tree: Arc<PostgresTree>, role: &str, address: Option<&str>) -> WriterLease {
        WriterLease {
            tree,
            holder: format!("{role} {}", uuid::Uuid::new_v4().simple()),
            address: Mutex::new(address.map(str::to_owned)),
            renewal: Mutex::new(None),
        }
    }

    /// Tries once to take the lease: `Err` naming the holder while another holds a live one.
    fn try_take(&self) -> Result<Result<(), lease::HeldBy>, StoreError> {
        let address = lock(&self.address);
        let sent = Instant::now();
        match lease::try_take(&self.tree.link, &self.holder, address.as_deref())? {
            Ok(fence) => self.begin(fence, sent).map(Ok),
            Err(held) => Ok(Err(held)),
        }
    }

    /// Takes the lease, waiting out one lease period if another holds it (offline commands).
    fn take(&self) -> Result<(), StoreError> {
        let address = lock(&self.address);
        // Before the first try: no later than the request that took it.
        let sent = Instant::now();
        let fence = lease::take(&self.tree.link, &self.holder, address.as_deref())?;
        self.begin(fence, sent)
    }

    /// Writes under `fence` (taken by a request sent at `sent`) from now on, extending the
    /// chain head as stored now, after the take: the old writer can commit nothing more; and
    /// starts renewing it.
    fn begin(&self, fence: lease::Fence, sent: Instant) -> Result<(), StoreError> {
        tracing::info!(database = %self.tree.link.described, epoch = fence.epoch, holder = %self.holder, "took the writer lease");
        self.tree.hold(fence.clone(), sent)?;
        let renewal = self.tree.link.spawn(lease::renew_until_lost(
            self.tree.link.shared.clone(),
            fence,
            self.tree.lost.clone(),
            self.tree.cache.clone(),
        ));
        *lock(&self.renewal) = Some(renewal);
        Ok(())
    }

    /// Records where this voucherd serves, for the standbys to name it: in the row now if
    /// the lease is held, else when it is taken.
    pub fn announce(&self, address: &str) {
        let mut announced = lock(&self.address);
        *announced = Some(address.to_owned());
        if let Some(fence) = self.tree.fence()
            && let Err(error) = lease::announce(&self.tree.link, &fence, address)
        {
            tracing::warn!(%error, "could not record this voucherd's address in the writer lease");
        }
    }

    /// Whether another voucherd took the lease (this one then writes nothing more).
    pub fn lost(&self) -> bool {
        self.tree.lost.load(Ordering::SeqCst)
    }

    /// Stops renewing and gives the lease up, so the next voucherd takes over at once. Call
    /// it once the writer has stopped; the tree refuses any batch after it.
    pub fn release(&self) {
        if let Some(renewal) = lock(&self.renewal).take() {
            renewal.abort();
        }
        if let Some(fence) = self.tree.let_go() {
            match lease::release(&self.tree.link, &fence) {
                Ok(()) => tracing::info!(epoch = fence.epoch, "released the writer lease"),
                Err(error) => {
                    tracing::warn!(%error, "could not release the writer lease; it lapses by itself")
                }
            }
        }
    }
}

impl WriterLease {
    /// Removes every entry, under the lease: what a restore that failed part-way wrote.
    pub fn empty_after_failed_restore(&self) -> Result<(), StoreError> {
        let Some(fence) = self.tree.fence() else {
            return Err(StoreError::Fenced(
                "the writer lease was released".to_owned(),
            ));
        };
        self.tree.link.run(move |shared| async move {
            let mut writer = shared.writer().await?;
            let transaction = writer
                .client
                .transaction()
                .await
                .map_err(link::postgres_error)?;
            lease::check_held(&transaction, &fence).await?;
            transaction
                .execute("DELETE FROM entries", &[])
                .await
                .map_err(link::postgres_error)?;
            transaction.commit().await.map_err(link::postgres_error)
        })
    }
}

impl Drop for WriterLease {
    fn drop(&mut self) {
        self.release();
    }
}

/// Connects to the database at `url` and brings its schema to this build's.
fn connect(url: &str) -> Result<Arc<PostgresTree>, StoreError> {
    let link = Link::start(url)?;
    let applied = migrations::migrate(&link)?;
    if !applied.is_empty() {
        tracing::info!(database = %link.described, ?applied, "migrated the database's schema");
    }
    Ok(Arc::new(PostgresTree::new(link)))
}

/// Connects, migrates the schema, and takes the writer lease as `role` (a random id is
/// added), waiting out one lease period if another holds it.
fn open_writer(
    url: &str,
    role: &str,
    address: Option<&str>,
) -> Result<(Arc<PostgresTree>, WriterLease), StoreError> {
    let tree = connect(url)?;
    let held = WriterLease::new(tree.clone(), role, address);
    held.take()?;
    Ok((tree, held))
}

/// A journal writing to `tree` from its stored head; a new ledger's records format first.
fn journal_on(committed: Arc<PostgresTree>) -> Result<(Store, Journal), StoreError> {
    let tree: Arc<dyn Tree> = committed.clone();
    let head = match tree.get(keys::HEAD)? {
        Some(bytes) => super::decode::<ChainHead>(&bytes, "chain head")?,
        None => ChainHead::genesis(),
    };
    if head.sequence == 0 && tree.get(keys::RECORDS_FORMAT)?.is_none() {
        let mut batch = TreeBatch::default();
        batch.insert(
            keys::RECORDS_FORMAT,
            super::upgrade::RECORDS_FORMAT.to_string(),
        );
        tree.apply(batch)?;
    }
    // Readers see what is committed; the writer sees its batches in flight too.
    let store = Store { tree };
    let writer: Arc<dyn Tree> = Arc::new(pipeline::WriterView {
        tree: committed.clone(),
    });
    let journal = Journal {
        tree: writer.clone(),
        history: Store { tree: writer },
        // A batch is durable once its COMMIT answered.
        durable: Arc::new(pipeline::PostgresDurability { tree: committed }),
        head,
    };
    Ok((store, journal))
}

/// The ledger opened at start: as its writer, or as a standby waiting for the lease.
pub enum Opened {
    Writer(Box<OpenedStore>),
    Standby(Candidate),
}

/// Opens the ledger in the database at `url`: creates or migrates the schema, then takes the
/// writer lease and loads the ledger, or, while another voucherd holds a live lease, opens it
/// as a standby that reads and may take over later. `address` is where this voucherd will
/// serve; `data_dir` holds the backup an upgrade of the records writes first (stamped `now`).
pub fn open_ledger(
    url: &str,
    policy: Arc<Policy>,
    now: &str,
    data_dir: &Path,
    address: &str,
) -> Result<(Opened, Arc<WriterLease>), StoreError> {
    let tree = connect(url)?;
    let held = Arc::new(WriterLease::new(tree.clone(), "voucherd", Some(address)));
    match held.try_take()? {
        Ok(()) => {
            let opened = load(tree, policy, now, data_dir)?;
            Ok((Opened::Writer(Box::new(opened)), held))
        }
        Err(holder) => {
            tracing::warn!(database = %tree.link.described, %holder, "another voucherd writes this ledger: starting as a standby (reads served, writes refused naming it) until its lease lapses");
            let candidate = Candidate {
                tree,
                lease: held.clone(),
                policy,
                data_dir: data_dir.to_owned(),
                leader_address: holder.address,
            };
            Ok((Opened::Standby(candidate), held))
        }
    }
}

/// Loads the ledger for its writer (this voucherd holds the lease): a new database's records
/// format is written first, and old records are upgraded.
fn load(
    tree: Arc<PostgresTree>,
    policy: Arc<Policy>,
    now: &str,
    data_dir: &Path,
) -> Result<OpenedStore, StoreError> {
    let (store, journal) = journal_on(tree.clone())?;
    let mut ledger = super::load_for_start(&store, policy)?;
    // The upgrade writes its backup beside the directory it is given: the data directory.
    super::upgrade::upgrade_if_needed(&store, &journal, &ledger, &data_dir.join("ledger"), now)?;
    ledger.forget_history();
    Ok(OpenedStore {
        reader: Arc::new(store),
        journal: Box::new(pipeline::PostgresJournal { journal, tree }),
        ledger,
    })
}

/// A standby's way to the writer's seat: its reads, and tries at the lease.
pub struct Candidate {
    tree: Arc<PostgresTree>,
    lease: Arc<WriterLease>,
    policy: Arc<Policy>,
    data_dir: PathBuf,
    /// Where the active voucherd serves, as the lease said at start.
    pub leader_address: Option<String>,
}

/// One try of a [`Candidate`] at the lease.
pub enum Attempt {
    /// Another voucherd holds a live lease.
    Held(lease::HeldBy),
    /// This one took it: the ledger as loaded after the take.
    Taken(Result<Box<OpenedStore>, StoreError>),
}

impl Candidate {
    /// The ledger's store for reads; it refuses every write until the lease is taken.
    pub fn reader(&self) -> super::SharedReadStore {
        Arc::new(Store {
            tree: self.tree.clone(),
        })
    }

    /// Tries once to take the lease; once taken, loads the ledger as it stands after the take.
    pub fn try_promote(&mut self, now: &str) -> Result<Attempt, StoreError> {
        match self.lease.try_take()? {
            Err(held) => Ok(Attempt::Held(held)),
            Ok(()) => Ok(Attempt::Taken(
                load(self.tree.clone(), self.policy.clone(), now, &self.data_dir).map(Box::new),
            )),
        }
    }
}

/// Opens the database at `url` for an offline `verify`, holding the writer lease meanwhile so
/// that nothing writes while it reads. `None` when voucherd never created a ledger there.
pub fn open_for_verify(url: &str) -> Result<Option<(Store, WriterLease)>, StoreError> {
    let link = Link::start(url)?;
    if migrations::version(&link)? == 0 {
        return Ok(None);
    }
    drop(link);
    let (tree, held) = open_writer(url, "voucherd verify", None)?;
    Ok(Some((Store { tree }, held)))
}

/// Opens the database at `url` to restore a backup into, holding the writer lease: it must
/// hold no ledger yet (no event, no record).
pub fn open_for_restore(url: &str) -> Result<(Store, Journal, WriterLease), StoreError> {
    let (tree, held) = open_writer(url, "voucherd restore", None)?;
    let occupied = tree
        .range(std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)
        .find_map(|entry| match entry {
            Ok((key, _)) if key != keys::RECORDS_FORMAT => Some(Ok(key)),
            Ok(_) => None,
            Err(error) => Some(Err(error)),
        })
        .transpose()?;
    if let Some(key) = occupied {
        return Err(StoreError::Postgres(format!(
            "the database {} already holds a ledger (it has {}): restore into an empty database",
            tree.link.described,
            String::from_utf8_lossy(&key)
        )));
    }
    let (store, journal) = journal_on(tree)?;
    if store.stored_head()?.sequence != 0 {
        return Err(StoreError::Postgres(
            "the database already holds a ledger".to_owned(),
        ));
    }
    Ok((store, journal, held))
}

/// Opens the ledger in the database at `url` as its writer, for an engine run in process (the
/// model test, `VOUCHER_MODEL_STORE=postgres`), as `open_memory` does for a tree in memory:
/// creates or migrates the schema, takes the writer lease (waiting out a live one) and rebuilds
/// the ledger. Opening the same database again after the lease is dropped is a restart.
pub fn open_in_process(
    url: &str,
    policy: Arc<Policy>,
) -> Result<(OpenedStore, WriterLease), StoreError> {
    let (tree, held) = open_writer(url, "in-process engine", None)?;
    let (store, journal) = journal_on(tree.clone())?;
    let mut ledger = super::load_for_start(&store, policy)?;
    ledger.forget_history();
    let opened = OpenedStore {
        reader: Arc::new(store),
        journal: Box::new(pipeline::PostgresJournal { journal, tree }),
        ledger,
    };
    Ok((opened, held))
}
