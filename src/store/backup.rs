//! Online backup and restore.
//!
//! A backup is the event log up to the head at the moment it starts, as JSON Lines: a header,
//! one export line per event (see [`super::export_line`]), and a trailer holding the SHA-256 of
//! every byte before it. Events are never changed once written and a head is written in the
//! same atomic batch as its events, so reading events `1..=head` while the writer keeps
//! appending gives exactly the ledger as it was at `head`: neither the writer nor the readers
//! pause. (sled's own export walks live trees and is not a snapshot; it is not used.)
//!
//! Restore replays the file with the domain code into a new data directory, checking every
//! line's hash, the chain, and the trailer, and stores each event's bytes exactly as the
//! backup carries them (never re-encoded, whatever format and build wrote them): the restored
//! head hash must equal the backup's. Restore writes into a new sled directory or into an
//! empty PostgreSQL database alike.

use std::io::{BufRead, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::verify::{VerifyReport, verify};
use super::{
    ChainHead, EventRecord, GENESIS_HASH, Journal, ReadStore, Store, StoreError, StoreOptions,
    export_line, open_and_load, parse_export_line,
};
use crate::domain::event::Event;
use crate::domain::ledger::Ledger;
use crate::domain::policy::Policy;

pub const BACKUP_FORMAT: &str = "qidong-voucher-ledger-backup";
pub const BACKUP_VERSION: u32 = 1;

/// Events restored per durable batch.
const RESTORE_BATCH_EVENTS: usize = 1000;
/// The longest line a backup may hold; every record is far smaller.
const LINE_BYTES_MAX: usize = 64 * 1024;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupHeader {
    format: String,
    version: u32,
    created_at: String,
    events: u64,
    head_sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupTrailer {
    end: bool,
    events: u64,
    /// SHA-256 of every byte of the file before this line.
    sha256: String,
}

/// What a backup holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupSummary {
    pub events: u64,
    pub head_sha256: String,
    /// SHA-256 of the whole file, trailer included: what to write in the operations log.
    pub file_sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("backup line {line}: {message}")]
    Format { line: u64, message: String },
    #[error("{0} already holds a ledger: restore into a new directory")]
    TargetNotEmpty(String),
}

fn format_error(line: u64, message: impl Into<String>) -> BackupError {
    BackupError::Format {
        line,
        message: message.into(),
    }
}

/// Writes a backup of everything up to the head as of now. `created_at` is stamped in the
/// header (the caller's clock).
pub fn write_backup(
    store: &dyn ReadStore,
    created_at: &str,
    out: &mut impl Write,
) -> Result<BackupSummary, BackupError> {
    let head = store.stored_head()?;
    let mut file = HashingLines {
        out,
        hash: Sha256::new(),
    };
    let header = BackupHeader {
        format: BACKUP_FORMAT.to_owned(),
        version: BACKUP_VERSION,
        created_at: created_at.to_owned(),
        events: head.sequence,
        head_sha256: head.sha256.clone(),
    };
    file.line(&serde_json::to_string(&header).expect("a header serializes"))?;
    let mut last = ChainHead {
        sequence: 0,
        sha256: GENESIS_HASH.to_owned(),
    };
    let mut written: std::io::Result<()> = Ok(());
    store.visit_events(1, head.sequence, &mut |_, bytes| {
        last = ChainHead {
            sequence: last.sequence + 1,
            sha256: hex::encode(Sha256::digest(bytes)),
        };
        written = file.line(&export_line(bytes));
        written.is_ok()
    })?;
    written?;
    if last != head {
        let message = "the log does not end at the head it was backed up to".to_owned();
        return Err(StoreError::Chain {
            sequence: last.sequence,
            message,
        }
        .into());
    }
    let trailer = BackupTrailer {
        end: true,
        events: head.sequence,
        sha256: hex::encode(file.hash.clone().finalize()),
    };
    file.line(&serde_json::to_string(&trailer).expect("a trailer serializes"))?;
    file.out.flush()?;
    Ok(BackupSummary {
        events: head.sequence,
        head_sha256: head.sha256,
        file_sha256: hex::encode(file.hash.finalize()),
    })
}

/// Writes lines and hashes every byte written.
struct HashingLines<'a, W> {
    out: &'a mut W,
    hash: Sha256,
}

impl<W: Write> HashingLines<'_, W> {
    fn line(&mut self, line: &str) -> std::io::Result<()> {
        self.hash.update(line.as_bytes());
        self.hash.update(b"\n");
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")
    }
}

/// Checks a whole backup without writing anything: header, every line's hash, the chain, that
/// every event applies, the trailer. Returns what it holds. (Caps are checked on restore,
/// against the policy the restored ledger will run with.)
pub fn check_backup(input: impl BufRead) -> Result<BackupSummary, BackupError> {
    read_backup(input, Arc::new(Policy::default_qidong()), |_, _, _| Ok(()))
}

/// Rebuilds a data directory from a backup and verifies it. `directory` must not exist or be
/// empty; the ledger is built in a sibling directory and moved into place only when complete.
pub fn restore(
    input: impl BufRead,
    directory: &Path,
    policy: Arc<Policy>,
) -> Result<(BackupSummary, VerifyReport), BackupError> {
    if directory.exists() && std::fs::read_dir(directory)?.next().is_some() {
        return Err(BackupError::TargetNotEmpty(directory.display().to_string()));
    }
    let building = directory.with_extension("restoring");
    if building.exists() {
        std::fs::remove_dir_all(&building)?;
    }
    let built = build_from_backup(input, &building, policy);
    let (summary, report) = match built {
        Ok(built) => built,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&building);
            return Err(error);
        }
    };
    if directory.exists() {
        std::fs::remove_dir(directory)?;
    }
    std::fs::rename(&building, directory)?;
    // The rename is the restore's commit: durable only once the parent directory is synced
    // (the power-cut test found a "VERIFIED" restore gone after a cut without it).
    if let Some(parent) = directory.parent() {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok((summary, report))
}

/// Replays the backup into a new store at `building`, checking it hashes as the original, then
/// verifies the store it built (before closing it: sled releases its lock lazily).
fn build_from_backup(
    input: impl BufRead,
    building: &Path,
    policy: Arc<Policy>,
) -> Result<(BackupSummary, VerifyReport), BackupError> {
    // A new directory is in this build's layout from the start: nothing to upgrade, no stamp.
    let (store, journal, _) = open_and_load(building, policy.clone(), "", StoreOptions::default())?;
    fill_from_backup(input, &store, journal, policy)
}

/// Restores a backup into the empty PostgreSQL database at `url` and verifies it, holding the
/// writer lease throughout. A restore that fails part-way empties the database again, so that
/// it never holds half a ledger that looks whole.
pub fn restore_into_postgres(
    input: impl BufRead,
    url: &str,
    policy: Arc<Policy>,
) -> Result<(BackupSummary, VerifyReport), BackupError> {
    let (store, journal, lease) = super::postgres::open_for_restore(url)?;
    let restored = fill_from_backup(input, &store, journal, policy);
    if restored.is_err() {
        lease.empty_after_failed_restore()?;
    }
    lease.release();
    restored
}

/// Replays the backup into the empty store behind `store` and `journal`, checking that it
/// hashes as the original, then verifies what it built.
fn fill_from_backup(
    input: impl BufRead,
    store: &Store,
    mut journal: Journal,
    policy: Arc<Policy>,
) -> Result<(BackupSummary, VerifyReport), BackupError> {
    let mut pending: Vec<Event> = Vec::with_capacity(RESTORE_BATCH_EVENTS);
    let mut pending_bytes: Vec<Vec<u8>> = Vec::with_capacity(RESTORE_BATCH_EVENTS);
    let summary = read_backup(
        input,
        policy.clone(),
        |record, bytes, (ledger, head, is_last)| {
            pending.push(record.event.clone());
            pending_bytes.push(bytes.to_vec());
            if pending.len() < RESTORE_BATCH_EVENTS && !is_last {
                return Ok(());
            }
            journal.commit_stored(std::mem::take(&mut pending_bytes), &pending, ledger)?;
            pending.clear();
            if journal.head() != head {
                return Err(format_error(
                    head.sequence,
                    "the restored event does not hash as in the backup",
                ));
            }
            if is_last && let Some(first) = ledger.check_invariants().first() {
                return Err(format_error(
                    head.sequence,
                    format!("the restored ledger breaks an invariant: {first}"),
                ));
            }
            Ok(())
        },
    )?;
    journal.checkpoint()?;
    drop(journal);
    let (report, _) = verify(store, policy)?;
    Ok((summary, report))
}

/// The state `visit` sees after each event: the ledger, the head, and whether it is the last.
type AfterEvent<'a> = (&'a Ledger, &'a ChainHead, bool);

/// Reads a whole backup, checking it line by line: the header, each event (replayed into a
/// ledger that `visit` sees after each one), the head, the trailer and its checksum.
fn read_backup(
    input: impl BufRead,
    policy: Arc<Policy>,
    visit: impl FnMut(&EventRecord, &[u8], AfterEvent<'_>) -> Result<(), BackupError>,
) -> Result<BackupSummary, BackupError> {
    let mut lines = BoundedLines { input, number: 0 };
    let mut file_hash = Sha256::new();
    let header = read_header(&mut lines, &mut file_hash)?;
    let head = replay_events(&mut lines, &mut file_hash, &header, policy, visit)?;
    if head.sha256 != header.head_sha256 {
        return Err(format_error(
            lines.number,
            "the last event's hash is not the head the header names",
        ));
    }
    read_trailer(&mut lines, &mut file_hash, &header)?;
    Ok(BackupSummary {
        events: header.events,
        head_sha256: header.head_sha256,
        file_sha256: hex::encode(file_hash.finalize()),
    })
}

/// The first line: a backup of the format and version this build reads.
fn read_header(
    lines: &mut BoundedLines<impl BufRead>,
    file_hash: &mut Sha256,
) -> Result<BackupHeader, BackupError> {
    let header_line = lines
        .next_line()?
        .ok_or_else(|| format_error(1, "the file is empty"))?;
    file_hash.update(&header_line);
    let header: BackupHeader = serde_json::from_slice(trim_newline(&header_line))
        .map_err(|error| format_error(1, format!("not a backup header: {error}")))?;
    if header.format != BACKUP_FORMAT || header.version != BACKUP_VERSION {
        return Err(format_error(
            1,
            format!(
                "format {} version {} is not {BACKUP_FORMAT} version {BACKUP_VERSION}",
                header.format, header.version
            ),
        ));
    }
    Ok(header)
}

/// Each event line the header counts, checked ([`read_event_line`]) and applied to a new
/// ledger; `visit` sees each one after it is applied. Returns the last event's head.
fn replay_events(
    lines: &mut BoundedLines<impl BufRead>,
    file_hash: &mut Sha256,
    header: &BackupHeader,
    policy: Arc<Policy>,
    mut visit: impl FnMut(&EventRecord, &[u8], AfterEvent<'_>) -> Result<(), BackupError>,
) -> Result<ChainHead, BackupError> {
    let mut ledger = Ledger::new(policy);
    let mut head = ChainHead {
        sequence: 0,
        sha256: GENESIS_HASH.to_owned(),
    };
    while head.sequence < header.events {
        let line = lines
            .next_line()?
            .ok_or_else(|| format_error(lines.number + 1, "the file ends before its last event"))?;
        file_hash.update(&line);
        let (record, bytes, sha256) = read_event_line(&line, &head, lines.number)?;
        head = ChainHead {
            sequence: record.sequence,
            sha256,
        };
        catch_unwind(AssertUnwindSafe(|| ledger.apply_logged(&record.logged()))).map_err(|_| {
            format_error(
                lines.number,
                format!(
                    "event {} does not apply to the ledger before it",
                    record.sequence
                ),
            )
        })?;
        visit(
            &record,
            &bytes,
            (&ledger, &head, head.sequence == header.events),
        )?;
    }
    Ok(head)
}

/// The last line: the trailer, whose checksum covers every byte before it, and nothing after.
fn read_trailer(
    lines: &mut BoundedLines<impl BufRead>,
    file_hash: &mut Sha256,
    header: &BackupHeader,
) -> Result<(), BackupError> {
    let expected_file_hash = hex::encode(file_hash.clone().finalize());
    let trailer_line = lines.next_line()?.ok_or_else(|| {
        format_error(
            lines.number + 1,
            "the trailer is missing: the file is cut short",
        )
    })?;
    file_hash.update(&trailer_line);
    let trailer: BackupTrailer = serde_json::from_slice(trim_newline(&trailer_line))
        .map_err(|error| format_error(lines.number, format!("not a trailer: {error}")))?;
    if !trailer.end || trailer.events != header.events || trailer.sha256 != expected_file_hash {
        return Err(format_error(
            lines.number,
            "the checksum in the trailer does not match the file",
        ));
    }
    if lines.next_line()?.is_some() {
        return Err(format_error(
            lines.number,
            "there is more after the trailer",
        ));
    }
    Ok(())
}

/// Parses and checks one event line: its own hash, its sequence, its link to `previous`.
/// Returns the record, its bytes as first written, and its SHA-256.
fn read_event_line(
    line: &[u8],
    previous: &ChainHead,
    number: u64,
) -> Result<(EventRecord, Vec<u8>, String), BackupError> {
    let (bytes, declared) = parse_export_line(text(line, number)?)
        .ok_or_else(|| format_error(number, "not an event line"))?;
    if hex::encode(Sha256::digest(&bytes)) != declared {
        return Err(format_error(
            number,
            "the event's SHA-256 does not match its contents",
        ));
    }
    let record = super::format::decode_event(&bytes)
        .map_err(|error| format_error(number, format!("not an event: {error}")))?;
    if record.sequence != previous.sequence + 1 || record.previous_sha256 != previous.sha256 {
        return Err(format_error(
            number,
            format!(
                "event {} does not follow event {} in the chain",
                record.sequence, previous.sequence
            ),
        ));
    }
    Ok((record, bytes, declared))
}

fn text(line: &[u8], number: u64) -> Result<&str, BackupError> {
    std::str::from_utf8(trim_newline(line)).map_err(|_| format_error(number, "not UTF-8"))
}

fn trim_newline(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

/// Lines of at most [`LINE_BYTES_MAX`] bytes, newline kept.
struct BoundedLines<R> {
    input: R,
    number: u64,
}

impl<R: BufRead> BoundedLines<R> {
    fn next_line(&mut self) -> Result<Option<Vec<u8>>, BackupError> {
        let mut line = Vec::new();
        let read = std::io::Read::take(&mut self.input, LINE_BYTES_MAX as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if read == 0 {
            return Ok(None);
        }
        self.number += 1;
        if line.len() > LINE_BYTES_MAX {
            return Err(format_error(
                self.number,
                "the line is longer than any record",
            ));
        }
        Ok(Some(line))
    }
}
