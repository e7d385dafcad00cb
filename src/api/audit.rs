//! The auditor's streams: the event log and backups, produced on a blocking thread from the
//! store and sent through a bounded channel, so a slow reader slows only its own stream and a
//! reader that goes away stops it.

use std::io::Write;

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::proto::voucher::v1 as pb;
use crate::store::backup::write_backup;
use crate::store::verify::VerifyReport;
use crate::store::{EventRecord, SharedReadStore, export_line};

/// Messages buffered per stream before the producer waits for the reader.
const STREAM_BUFFER_MESSAGES: usize = 32;
/// Bytes per backup chunk.
const BACKUP_CHUNK_BYTES: usize = 64 * 1024;

pub type EventStream = ReceiverStream<Result<pb::LedgerEvent, Status>>;
pub type BackupStream = ReceiverStream<Result<pb::BackupChunk, Status>>;

/// Events `from..=through`, in order.
pub fn stream_events(store: SharedReadStore, from: u64, through: u64) -> EventStream {
    let (sender, receiver) = mpsc::channel(STREAM_BUFFER_MESSAGES);
    tokio::task::spawn_blocking(move || {
        let visited = store.visit_events(from, through, &mut |_, bytes| {
            let message = ledger_event(bytes);
            let failed = message.is_err();
            sender.blocking_send(message).is_ok() && !failed
        });
        if let Err(error) = visited {
            let _ = sender.blocking_send(Err(internal(error)));
        }
    });
    ReceiverStream::new(receiver)
}

fn ledger_event(bytes: &[u8]) -> Result<pb::LedgerEvent, Status> {
    let record: EventRecord = crate::store::format::decode_event(bytes)
        .map_err(|error| internal(format!("stored event: {error}")))?;
    Ok(pb::LedgerEvent {
        sequence: record.sequence,
        previous_sha256: record.previous_sha256,
        sha256: hex::encode(Sha256::digest(bytes)),
        r#type: record.event.name().to_owned(),
        json: export_line(bytes),
    })
}

/// A backup of everything up to the head as of now, in chunks.
pub fn stream_backup(store: SharedReadStore, created_at: String) -> BackupStream {
    let (sender, receiver) = mpsc::channel(STREAM_BUFFER_MESSAGES);
    tokio::task::spawn_blocking(move || {
        let mut chunks = ChunkWriter {
            sender: sender.clone(),
            buffer: Vec::with_capacity(BACKUP_CHUNK_BYTES),
        };
        match write_backup(&*store, &created_at, &mut chunks) {
            Ok(summary) => {
                tracing::info!(events = summary.events, file_sha256 = %summary.file_sha256, "backup streamed")
            }
            Err(error) => {
                let _ = sender.blocking_send(Err(internal(error)));
            }
        }
    });
    ReceiverStream::new(receiver)
}

pub fn to_report(report: &VerifyReport) -> pb::VerifyReport {
    pb::VerifyReport {
        sound: report.is_sound(),
        events: report.events,
        head_sha256: report.head_sha256.clone(),
        records_checked: report.records_checked,
        problems: report.problems.iter().map(ToString::to_string).collect(),
        first_bad_event: report.first_bad_event().unwrap_or(0),
        report: report.render(),
        verified_at: String::new(),
    }
}

/// Sends what is written in chunks; fails once the reader has gone.
struct ChunkWriter {
    sender: mpsc::Sender<Result<pb::BackupChunk, Status>>,
    buffer: Vec<u8>,
}

impl Write for ChunkWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= BACKUP_CHUNK_BYTES {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let data = std::mem::replace(&mut self.buffer, Vec::with_capacity(BACKUP_CHUNK_BYTES));
        self.sender
            .blocking_send(Ok(pb::BackupChunk { data }))
            .map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "the backup's reader went away",
                )
            })
    }
}

fn internal(error: impl std::fmt::Display) -> Status {
    tracing::error!(%error, "while streaming from the store");
    Status::internal("internal error")
}
