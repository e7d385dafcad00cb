//! The ledger in PostgreSQL (`--store postgres://USER@HOST:PORT/DB`), behind the storage seam.
//!
//! The same layout as sled's (`keys.rs`, `records.rs`, `reads.rs`) on a [`Tree`] kept in one
//! table (see `tree`), so `Store` and `Journal` and everything above them are unchanged. The
//! schema is voucherd's own (`migrations`). Each batch is one transaction, committed with
//! `synchronous_commit` on before the writer answers anyone: the commit is the durability,
//! so the journal's `Durability` has nothing left to do.
//!
//! Exactly one voucherd writes: the one holding the writer lease (`lease`), which every batch
//! checks inside its own transaction. In this version a second voucherd on a database whose
//! lease is live refuses to start, naming the holder; offline `verify` and `restore` take the
//! lease too, so they never run beside a writer.

mod lease;
mod link;
mod migrations;
mod tree;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub use lease::{LEASE_DURATION, RENEW_INTERVAL};

use super::tree::{Tree, TreeBatch};
use super::{ChainHead, InMemory, Journal, OpenedStore, ReadStore, Store, StoreError, keys};
use crate::domain::policy::Policy;
use link::Link;
use tree::PostgresTree;

/// Whether `store` (the `store` configuration key) names a PostgreSQL database.
pub fn is_postgres_url(store: &str) -> bool {
    store.starts_with("postgres://") || store.starts_with("postgresql://")
}

/// `user@host:port/database` of a store address, without any password: for messages.
pub fn describe(url: &str) -> String {
    url.parse::<tokio_postgres::Config>().map_or_else(
        |_| "a PostgreSQL database".to_owned(),
        |config| link::describe(&config),
    )
}

/// This process's hold on the writer lease: renewed every [`RENEW_INTERVAL`] until released
/// (or dropped). While it is held, no other voucherd writes to the database.
pub struct WriterLease {
    tree: Arc<PostgresTree>,
    renewal: tokio::task::JoinHandle<()>,
}

impl WriterLease {
    /// Records where this voucherd serves, for the message another one gets (and, later, for
    /// standbys to name the writer).
    pub fn announce(&self, address: &str) {
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

    /// Stops renewing and gives the lease up, so the next voucherd starts at once. Call it
    /// once the writer has stopped; the tree refuses any batch after it.
    pub fn release(&self) {
        self.renewal.abort();
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

/// Connects, migrates the schema, takes the writer lease as `role` (a random id is added) and
/// starts renewing it.
fn open_writer(
    url: &str,
    role: &str,
    address: Option<&str>,
) -> Result<(Arc<PostgresTree>, WriterLease), StoreError> {
    let link = Link::start(url)?;
    let applied = migrations::migrate(&link)?;
    if !applied.is_empty() {
        tracing::info!(database = %link.described, ?applied, "migrated the database's schema");
    }
    let holder = format!("{role} {}", uuid::Uuid::new_v4().simple());
    let fence = lease::take(&link, &holder, address)?;
    tracing::info!(database = %link.described, epoch = fence.epoch, %holder, "took the writer lease");
    let tree = Arc::new(PostgresTree::new(link));
    let renewal = tree.link.spawn(lease::renew_until_lost(
        tree.link.shared.clone(),
        fence.clone(),
        tree.lost.clone(),
    ));
    let held = WriterLease {
        tree: tree.clone(),
        renewal,
    };
    tree.hold(fence)?;
    Ok((tree, held))
}

/// A journal writing to `tree` from its stored head; a new ledger's records format first.
fn journal_on(tree: Arc<PostgresTree>) -> Result<(Store, Journal), StoreError> {
    let tree: Arc<dyn Tree> = tree;
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
    let store = Store { tree: tree.clone() };
    let journal = Journal {
        tree,
        history: store.clone(),
        // Each batch is a committed transaction once `apply` returns.
        durable: Arc::new(InMemory),
        head,
    };
    Ok((store, journal))
}

/// Opens the ledger in the database at `url` as its writer and rebuilds the ledger. Creates or
/// migrates the schema; refuses while another voucherd holds the writer lease. `address` is
/// where this voucherd will serve; `data_dir` holds the backup an upgrade of the records
/// writes first (stamped `now`).
pub fn open_ledger(
    url: &str,
    policy: Arc<Policy>,
    now: &str,
    data_dir: &Path,
    address: &str,
) -> Result<(OpenedStore, WriterLease), StoreError> {
    let (tree, held) = open_writer(url, "voucherd", Some(address))?;
    let (store, journal) = journal_on(tree)?;
    let mut ledger = super::load_for_start(&store, policy)?;
    // The upgrade writes its backup beside the directory it is given: the data directory.
    super::upgrade::upgrade_if_needed(&store, &journal, &ledger, &data_dir.join("ledger"), now)?;
    ledger.forget_history();
    Ok((
        OpenedStore {
            reader: Arc::new(store),
            journal: Box::new(journal),
            ledger,
        },
        held,
    ))
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
