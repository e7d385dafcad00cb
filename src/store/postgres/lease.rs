//! The writer lease: the one row of `writer_lease` that names the voucherd allowed to write.
//!
//! Fencing is in the database, not in timing. Taking the lease bumps its epoch, and only when
//! it is free or expired; every batch's transaction first locks the row `FOR SHARE` with the
//! writer's epoch and holder (see `tree`), so once another voucherd has taken it, the old
//! writer's next commit fails whatever its clock says. A taker's `UPDATE` waits for any batch
//! holding the row to end, so a batch either commits before the takeover or not at all.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::cache::Cache;
use super::link::{Link, Shared, postgres_error};
use super::tree::lock;
use crate::store::StoreError;

/// How long a lease lasts unless renewed.
pub const LEASE_DURATION: Duration = Duration::from_secs(3);
/// How often the holder renews it.
pub const RENEW_INTERVAL: Duration = Duration::from_secs(1);

/// Who holds the lease: the epoch it was taken with and the holder's random id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    pub epoch: i64,
    pub holder: String,
}

/// The lease as another voucherd holds it, for the message refusing to start.
#[derive(Clone, Debug)]
pub struct HeldBy {
    pub holder: String,
    pub address: Option<String>,
    pub expires_at: String,
}

impl std::fmt::Display for HeldBy {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "voucherd {} at {} (its lease runs to {})",
            self.holder,
            self.address.as_deref().unwrap_or("an unknown address"),
            self.expires_at
        )
    }
}

/// Takes the lease if it is free or expired: a new epoch, this holder, `address`. Returns
/// the fence, or who holds it.
pub(super) fn try_take(
    link: &Link,
    holder: &str,
    address: Option<&str>,
) -> Result<Result<Fence, HeldBy>, StoreError> {
    let holder = holder.to_owned();
    let address = address.map(str::to_owned);
    let lease_ms = LEASE_DURATION.as_millis() as i64;
    link.run(move |shared| async move {
        let connected = shared.lease().await?;
        let taken = connected
            .client
            .query_opt(
                "INSERT INTO writer_lease AS lease (id, epoch, holder, address, expires_at) \
                 VALUES (1, 1, $1, $2, now() + $3::bigint * interval '1 millisecond') \
                 ON CONFLICT (id) DO UPDATE SET epoch = lease.epoch + 1, \
                 holder = EXCLUDED.holder, address = EXCLUDED.address, \
                 expires_at = EXCLUDED.expires_at \
                 WHERE lease.expires_at < clock_timestamp() RETURNING epoch",
                &[&holder, &address, &lease_ms],
            )
            .await
            .map_err(postgres_error)?;
        if let Some(row) = taken {
            return Ok(Ok(Fence {
                epoch: row.get(0),
                holder,
            }));
        }
        let row = connected
            .client
            .query_one(
                "SELECT holder, address, expires_at::text FROM writer_lease WHERE id = 1",
                &[],
            )
            .await
            .map_err(postgres_error)?;
        Ok(Err(HeldBy {
            holder: row.get(0),
            address: row.get(1),
            expires_at: row.get(2),
        }))
    })
}

/// Takes the lease, waiting out one lease duration if another holds it (a voucherd killed a
/// moment ago holds it until it expires; a live one renews it and is still there after).
pub(super) fn take(link: &Link, holder: &str, address: Option<&str>) -> Result<Fence, StoreError> {
    let give_up = std::time::Instant::now() + LEASE_DURATION + RENEW_INTERVAL;
    loop {
        match try_take(link, holder, address)? {
            Ok(fence) => return Ok(fence),
            Err(held) if std::time::Instant::now() >= give_up => {
                return Err(StoreError::Postgres(format!(
                    "the ledger in {} is being written by {held}: only one voucherd writes to a database; stop that one first",
                    link.described
                )));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// Renews the lease every [`RENEW_INTERVAL`] until `lost` is set or the task is aborted. A
/// renewal that finds the lease taken sets `lost` (the next batch then fails at once; the
/// database refuses it anyway); one that fails (a broken connection) is tried again.
pub(super) async fn renew_until_lost(
    shared: Arc<Shared>,
    fence: Fence,
    lost: Arc<AtomicBool>,
    cache: Arc<Mutex<Cache>>,
) {
    let lease_ms = LEASE_DURATION.as_millis() as i64;
    let mut timer = tokio::time::interval(RENEW_INTERVAL);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !lost.load(Ordering::SeqCst) {
        timer.tick().await;
        let sent = Instant::now();
        let renewed = match shared.lease().await {
            Ok(connected) => connected
                .client
                .execute(
                    "UPDATE writer_lease SET expires_at = now() + $3::bigint * interval '1 millisecond' \
                     WHERE id = 1 AND epoch = $1 AND holder = $2",
                    &[&fence.epoch, &fence.holder, &lease_ms],
                )
                .await
                .map_err(postgres_error),
            Err(error) => Err(error),
        };
        match renewed {
            Ok(1) => lock(&cache).lease_renewed(sent),
            Ok(_) => {
                tracing::error!(
                    epoch = fence.epoch,
                    "another voucherd took the writer lease: this one writes nothing more"
                );
                lost.store(true, Ordering::SeqCst);
                lock(&cache).disable();
            }
            Err(error) => {
                tracing::warn!(%error, "could not renew the writer lease: trying again");
            }
        }
    }
}

/// Why a batch is refused: this voucherd is not (or no longer) the writer.
pub(super) const NOT_THE_WRITER: &str = "this voucherd no longer holds the writer lease";

/// Inside a batch's transaction: locks the lease row `FOR SHARE` if it still carries this
/// writer's epoch and holder, so that no takeover commits until this transaction ends;
/// refuses the batch otherwise.
pub(super) async fn check_held(
    transaction: &tokio_postgres::Transaction<'_>,
    fence: &Fence,
) -> Result<(), StoreError> {
    let holding = transaction
        .query_opt(
            "SELECT epoch FROM writer_lease WHERE id = 1 AND epoch = $1 AND holder = $2 FOR SHARE",
            &[&fence.epoch, &fence.holder],
        )
        .await
        .map_err(postgres_error)?;
    match holding {
        Some(_) => Ok(()),
        None => Err(StoreError::Fenced(format!(
            "{NOT_THE_WRITER} (epoch {}): another voucherd took it; this batch was not written",
            fence.epoch
        ))),
    }
}

/// Sets what the lease says about where its holder listens.
pub(super) fn announce(link: &Link, fence: &Fence, address: &str) -> Result<(), StoreError> {
    let fence = fence.clone();
    let address = address.to_owned();
    link.run(move |shared| async move {
        let connected = shared.lease().await?;
        connected
            .client
            .execute(
                "UPDATE writer_lease SET address = $3 WHERE id = 1 AND epoch = $1 AND holder = $2",
                &[&fence.epoch, &fence.holder, &address],
            )
            .await
            .map_err(postgres_error)?;
        Ok(())
    })
}

/// Gives the lease up (it expires now), if it is still this holder's: the next voucherd
/// starts at once instead of waiting for it to lapse.
pub(super) fn release(link: &Link, fence: &Fence) -> Result<(), StoreError> {
    let fence = fence.clone();
    link.run(move |shared| async move {
        let connected = shared.lease().await?;
        connected
            .client
            .execute(
                "UPDATE writer_lease SET expires_at = now() - interval '1 millisecond' \
                 WHERE id = 1 AND epoch = $1 AND holder = $2",
                &[&fence.epoch, &fence.holder],
            )
            .await
            .map_err(postgres_error)?;
        Ok(())
    })
}
