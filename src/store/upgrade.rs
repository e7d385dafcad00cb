//! Upgrading a data directory written by an earlier build.
//!
//! Events are never touched: every build reads every earlier event format (see `format`).
//! The records beside them (enterprises, vouchers, balances, totals, indexes) are derived
//! from the events, and their layout is allowed to change: the directory names the layout
//! of its records under `mt/records_format` (absent: format 1, every build up to d4e9db9).
//! When it is older than [`RECORDS_FORMAT`], start-up first writes a backup of the log and
//! reads it back whole, then rebuilds every record from the replayed ledger in one atomic,
//! fsynced batch that also records the new format. A kill at any moment leaves either the
//! old records with the old marker (the next start upgrades again) or the new ones.

use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::backup::{BackupError, check_backup, write_backup};
use super::records::{STATE_PREFIXES, expected_indexes, expected_records};
use super::tree::TreeBatch;
use super::{Journal, ReadStore, Store, StoreError, keys};
use crate::domain::ledger::Ledger;

/// The layout of the records this build writes. Format 2 added `redeemed_by_month` to the
/// program totals and settled and rejected amounts, written by builds from d4e9db9 on, so
/// every directory from before is rebuilt once. Format 3 added what lets start-up load the
/// ledger's resident state instead of replaying the log: the invoice index (`iv/`), the
/// settlement queue (`sq/`), the clawback queue in booking order (`cq/`) and the adopted
/// policy (`ap/`). Format 4 added each provider's `access` (suspension, pinned and revoked
/// certificates) to its record: a format-3 record reads as open to all, which it was, but an
/// earlier build must not open a directory in which a provider may be suspended. Format 5
/// added applications (`va/`, `vn/`), public notices (`no/`), the providers a voucher is
/// bound to, and confirmed, disputed, returned and corrected claims: an earlier build would
/// let any provider redeem a bound voucher, so it must refuse the directory. Format 6 added
/// who made each step of a record (`issued_by`, a claim's `steps`, `created_by`,
/// `recorded_by`, `applied_by`, `decided_by`) and a bureau token's `programs`: an earlier
/// build would let a token scoped to one program act in all, so it must refuse the directory.
/// Format 7 added each program's redeemed amounts by the month of the claims' invoices
/// (`redeemed_by_invoice_month`, the console's chart): a format-6 record lacks them, so every
/// directory from before is rebuilt once.
pub const RECORDS_FORMAT: u32 = 7;

/// What an upgrade did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upgraded {
    pub from_records_format: u32,
    pub to_records_format: u32,
    /// The backup written before anything changed.
    pub backup: PathBuf,
    pub events: u64,
    pub records_written: u64,
}

/// Rebuilds the records of `store` from `ledger` (the replay of its log) when they were written
/// in an older layout, after a verified backup into `backup_directory`. Refuses a directory
/// written by a newer build. Returns `None` when there was nothing to do.
pub fn upgrade_records(
    store: &Store,
    journal: &Journal,
    ledger: &Ledger,
    backup_directory: &Path,
    now: &str,
) -> Result<Option<Upgraded>, StoreError> {
    let from = store.records_format()?;
    if from == RECORDS_FORMAT {
        return Ok(None);
    }
    if from > RECORDS_FORMAT {
        return Err(StoreError::Corrupt(format!(
            "the records are in format {from}, written by a newer build; this build knows up to {RECORDS_FORMAT}: run the newer build"
        )));
    }
    let head = store.stored_head()?;
    let backup = backup_directory.join(format!(
        "before-upgrade-records-{from}-to-{RECORDS_FORMAT}-event-{}.backup",
        head.sequence
    ));
    write_checked_backup(store, &backup, now)?;
    let records_written = rebuild_records(store, ledger)?;
    journal.checkpoint()?;
    Ok(Some(Upgraded {
        from_records_format: from,
        to_records_format: RECORDS_FORMAT,
        backup,
        events: head.sequence,
        records_written,
    }))
}

/// Writes a backup to `path` (readable by the owner only), syncs it, and reads it back whole.
fn write_checked_backup(store: &Store, path: &Path, now: &str) -> Result<(), StoreError> {
    let file = private_file(path)?;
    let mut out = BufWriter::new(file);
    let written = write_backup(store, now, &mut out).map_err(backup_failed)?;
    out.flush()?;
    out.get_ref().sync_all()?;
    if let Some(parent) = path.parent() {
        std::fs::File::open(parent)?.sync_all()?;
    }
    let read_back =
        check_backup(BufReader::new(std::fs::File::open(path)?)).map_err(backup_failed)?;
    if read_back != written {
        return Err(StoreError::Corrupt(format!(
            "the backup {} does not read back as written",
            path.display()
        )));
    }
    Ok(())
}

fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

fn backup_failed(error: BackupError) -> StoreError {
    match error {
        BackupError::Store(error) => error,
        BackupError::Io(error) => StoreError::Io(error),
        other => StoreError::Corrupt(format!("the backup before the upgrade: {other}")),
    }
}

/// Replaces every record and index with the ledger's, and records the new layout, in one
/// atomic batch (the caller makes it durable).
fn rebuild_records(store: &Store, ledger: &Ledger) -> Result<u64, StoreError> {
    let mut batch = TreeBatch::default();
    for prefix in STATE_PREFIXES {
        for entry in store.tree.scan_prefix(prefix) {
            batch.remove(entry?.0);
        }
    }
    let mut written = 0u64;
    for record in expected_records(ledger) {
        let bytes = record
            .encode_from(ledger)
            .expect("an expected record exists");
        batch.insert(record.key(), bytes);
        written += 1;
    }
    for (key, value) in expected_indexes(ledger) {
        batch.insert(key, value);
        written += 1;
    }
    batch.insert(keys::RECORDS_FORMAT, RECORDS_FORMAT.to_string().as_bytes());
    store.tree.apply(batch)?;
    Ok(written)
}

/// [`upgrade_records`] with the log lines an operator needs: a backup appeared, and why.
pub fn upgrade_if_needed(
    store: &Store,
    journal: &Journal,
    ledger: &Ledger,
    directory: &Path,
    now: &str,
) -> Result<(), StoreError> {
    let backup_directory = directory.parent().unwrap_or(directory);
    let from = store.records_format()?;
    if from != RECORDS_FORMAT {
        tracing::warn!(
            from_records_format = from,
            to_records_format = RECORDS_FORMAT,
            "UPGRADING the data directory written by an earlier build: a backup of the log first, then every record is rebuilt from it"
        );
    }
    if let Some(upgraded) = upgrade_records(store, journal, ledger, backup_directory, now)? {
        tracing::warn!(
            backup = %upgraded.backup.display(),
            events = upgraded.events,
            records_written = upgraded.records_written,
            "UPGRADED the data directory to records format {}; the backup taken before it is kept",
            upgraded.to_records_format
        );
    }
    Ok(())
}
