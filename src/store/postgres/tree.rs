//! The store's ordered key-value [`Tree`] as the table `entries (key bytea, value bytea)`.
//!
//! Reads are single statements on the readers' connection; a range reads lazily, 256 entries
//! at a time after the last key read. A batch is one transaction on the writer's connection:
//! the writer lease checked and locked, the chain head it extends checked, every upsert in one
//! statement and every delete in another, committed with `synchronous_commit` on before
//! `apply` returns. The durability of a batch is its commit: nothing more to sync.

use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio_postgres::types::ToSql;

use super::lease::{Fence, NOT_THE_WRITER, check_held};
use super::link::{Link, RANGE_CHUNK, Shared, connection_lost, postgres_error, range_index};
use crate::store::StoreError;
use crate::store::keys;
use crate::store::tree::{Entries, Entry, Tree, TreeBatch};

pub struct PostgresTree {
    pub(super) link: Link,
    /// The lease this tree writes under; `None` once released (or never taken).
    fence: Mutex<Option<Fence>>,
    /// Set when a renewal found the lease taken: batches fail at once.
    pub(super) lost: Arc<AtomicBool>,
    /// The chain head's stored bytes as this writer last wrote (or found) them: a batch that
    /// moves the head must find exactly these, or another writer has been at the ledger.
    head_written: Mutex<Option<Vec<u8>>>,
}

impl PostgresTree {
    pub(super) fn new(link: Link) -> PostgresTree {
        PostgresTree {
            link,
            fence: Mutex::new(None),
            lost: Arc::new(AtomicBool::new(false)),
            head_written: Mutex::new(None),
        }
    }

    /// Writes under `fence` from now on, extending the chain head as it is stored now.
    pub(super) fn hold(&self, fence: Fence) -> Result<(), StoreError> {
        let head = self.get(keys::HEAD)?;
        *lock(&self.head_written) = head;
        *lock(&self.fence) = Some(fence);
        Ok(())
    }

    /// Writes nothing more (the lease is being released).
    pub(super) fn let_go(&self) -> Option<Fence> {
        lock(&self.fence).take()
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Each value is replaced whole under the lock: a panic cannot leave it half written.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A batch split into what one transaction sends: upserted keys and values, deleted keys.
struct Writes {
    keys: Vec<Vec<u8>>,
    values: Vec<Vec<u8>>,
    deleted: Vec<Vec<u8>>,
    /// The head's new bytes, when the batch moves it.
    head: Option<Vec<u8>>,
}

impl Writes {
    fn of(batch: TreeBatch) -> Writes {
        let mut writes = Writes {
            keys: Vec::new(),
            values: Vec::new(),
            deleted: Vec::new(),
            head: None,
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

/// Where a batch's transaction failed: before its COMMIT was sent (nothing was written; on a
/// connection that broke, it may be written again on a new one), or at its COMMIT (the
/// outcome is unknown: the writer stops and nobody is told it committed).
enum Failed {
    BeforeCommit {
        error: StoreError,
        connection_lost: bool,
    },
    AtCommit(StoreError),
}

impl Failed {
    fn before(error: tokio_postgres::Error) -> Failed {
        let connection_lost = connection_lost(&error);
        Failed::BeforeCommit {
            error: postgres_error(error),
            connection_lost,
        }
    }

    fn refused(error: StoreError) -> Failed {
        Failed::BeforeCommit {
            error,
            connection_lost: false,
        }
    }

    fn into_error(self) -> StoreError {
        match self {
            Failed::BeforeCommit { error, .. } | Failed::AtCommit(error) => error,
        }
    }
}

/// The batch's transaction: the lease, the head, the writes, the commit.
async fn commit(
    client: &mut tokio_postgres::Client,
    fence: &Fence,
    head_expected: &Option<Vec<u8>>,
    writes: &Writes,
) -> Result<(), Failed> {
    let transaction = client.transaction().await.map_err(Failed::before)?;
    check_held(&transaction, fence)
        .await
        .map_err(Failed::refused)?;
    if writes.head.is_some() {
        let stored = transaction
            .query_opt("SELECT value FROM entries WHERE key = $1", &[&keys::HEAD])
            .await
            .map_err(Failed::before)?
            .map(|row| row.get::<_, Vec<u8>>(0));
        if stored != *head_expected {
            return Err(Failed::refused(StoreError::Fenced(
                "the chain head in the database is not the one this voucherd last wrote: another writer has been at the ledger; this batch was not written".to_owned(),
            )));
        }
    }
    if !writes.keys.is_empty() {
        transaction
            .execute(
                "INSERT INTO entries (key, value) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[&writes.keys, &writes.values],
            )
            .await
            .map_err(Failed::before)?;
    }
    if !writes.deleted.is_empty() {
        transaction
            .execute(
                "DELETE FROM entries WHERE key = ANY($1::bytea[])",
                &[&writes.deleted],
            )
            .await
            .map_err(Failed::before)?;
    }
    transaction
        .commit()
        .await
        .map_err(|error| Failed::AtCommit(postgres_error(error)))
}

/// Writes a batch; once more on a new connection if the connection broke before its COMMIT.
async fn write_batch(
    shared: &Shared,
    fence: &Fence,
    head_expected: &Option<Vec<u8>>,
    writes: &Writes,
) -> Result<(), StoreError> {
    let broke = {
        let mut writer = shared.writer().await?;
        match commit(&mut writer.client, fence, head_expected, writes).await {
            Ok(()) => return Ok(()),
            Err(Failed::BeforeCommit {
                error,
                connection_lost: true,
            }) => error,
            Err(failed) => return Err(failed.into_error()),
        }
    };
    tracing::warn!(error = %broke, "the writer's PostgreSQL connection broke before the batch committed: writing it again on a new one");
    let mut writer = shared.writer().await?;
    commit(&mut writer.client, fence, head_expected, writes)
        .await
        .map_err(Failed::into_error)
}

impl Tree for PostgresTree {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
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

    fn apply(&self, batch: TreeBatch) -> Result<(), StoreError> {
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
        let head_expected = lock(&self.head_written).clone();
        let new_head = writes.head.clone();
        self.link.run(move |shared| async move {
            write_batch(&shared, &fence, &head_expected, &writes).await
        })?;
        if let Some(head) = new_head {
            *lock(&self.head_written) = Some(head);
        }
        Ok(())
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
