//! The auditor's streams: the event log and backups, produced on a blocking thread from the
//! store and sent through a bounded channel, so a slow reader slows only its own stream and a
//! reader that goes away stops it.
//!
//! Each stream holds a blocking thread while it runs, so they are bounded (see SECURITY.md): at most
//! [`STREAMS_MAX`] open in the whole server and [`STREAMS_PER_TOKEN_MAX`] per token (beyond,
//! RESOURCE_EXHAUSTED at once), and a producer whose reader takes nothing for
//! [`READER_STALL_DEADLINE`] gives up and frees its thread. The rest of the blocking pool
//! stays for the console's downloads and everything else.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::domain::ids::TokenId;
use crate::engine::{EngineError, ExportedEvent, Reader, VerifyReport};
use crate::proto::voucher::v1 as pb;

/// Messages buffered per stream before the producer waits for the reader.
const STREAM_BUFFER_MESSAGES: usize = 32;
/// Event and backup streams open at once in the whole server.
pub const STREAMS_MAX: usize = 16;
/// Event and backup streams one token may have open at once.
pub const STREAMS_PER_TOKEN_MAX: usize = 2;
/// How long a producer waits for a reader that takes nothing before it gives up.
pub const READER_STALL_DEADLINE: Duration = Duration::from_secs(30);

/// Places for work that holds something scarce while it runs (a blocking thread, the
/// writer), in all and by token: event and backup streams, verifications.
#[derive(Clone)]
pub struct OpenStreams {
    by_token: Arc<Mutex<HashMap<String, usize>>>,
    total_max: usize,
    per_token_max: usize,
    /// What the places are for, in refusals: "event or backup streams".
    what: &'static str,
}

impl Default for OpenStreams {
    /// The places of event and backup streams.
    fn default() -> OpenStreams {
        OpenStreams::new(
            STREAMS_MAX,
            STREAMS_PER_TOKEN_MAX,
            "event or backup streams",
        )
    }
}

/// A stream's place among [`OpenStreams`]; given back when the producer ends.
pub struct StreamPlace {
    streams: OpenStreams,
    token: String,
}

impl OpenStreams {
    pub fn new(total_max: usize, per_token_max: usize, what: &'static str) -> OpenStreams {
        OpenStreams {
            by_token: Arc::default(),
            total_max,
            per_token_max,
            what,
        }
    }

    /// A place for a new stream of `token`, or RESOURCE_EXHAUSTED.
    pub fn open(&self, token: String) -> Result<StreamPlace, Status> {
        let mut by_token = self
            .by_token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let total: usize = by_token.values().sum();
        let own = by_token.get(&token).copied().unwrap_or(0);
        if own >= self.per_token_max {
            return Err(super::status::overloaded(&format!(
                "this token has {own} {} running already: let them finish first",
                self.what
            )));
        }
        if total >= self.total_max {
            return Err(super::status::overloaded(&format!(
                "the ledger is serving as many {} as it may: retry shortly",
                self.what
            )));
        }
        assert!(total < self.total_max && own < self.per_token_max);
        *by_token.entry(token.clone()).or_insert(0) += 1;
        Ok(StreamPlace {
            streams: self.clone(),
            token,
        })
    }
}

impl Drop for StreamPlace {
    fn drop(&mut self) {
        let mut by_token = self
            .streams
            .by_token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = by_token.get_mut(&self.token) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                by_token.remove(&self.token);
            }
        }
    }
}

/// Sends from a blocking thread, giving up on a reader that takes nothing for
/// [`READER_STALL_DEADLINE`] (or that has gone): false then, and the producer stops.
fn send_or_give_up<T>(sender: &mpsc::Sender<T>, message: T) -> bool {
    let handle = tokio::runtime::Handle::current();
    let sent = handle.block_on(tokio::time::timeout(
        READER_STALL_DEADLINE,
        sender.send(message),
    ));
    match sent {
        Ok(Ok(())) => true,
        Ok(Err(_)) => false,
        Err(_) => {
            tracing::warn!("a stream's reader took nothing for 30 s: the stream is closed");
            false
        }
    }
}
/// Bytes per backup chunk.
const BACKUP_CHUNK_BYTES: usize = 64 * 1024;

pub type EventStream = ReceiverStream<Result<pb::LedgerEvent, Status>>;
pub type BackupStream = ReceiverStream<Result<pb::BackupChunk, Status>>;

/// Events `from..=through`, in order; `place` is held until the stream ends.
/// Which of the events looked at to send: those a token caused, those touching a record.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub actor_token_id: Option<TokenId>,
    pub record_id: Option<String>,
}

impl EventFilter {
    fn admits(&self, event: &ExportedEvent) -> bool {
        self.actor_token_id
            .is_none_or(|token| event.cause.token_id() == Some(token))
            && self
                .record_id
                .as_ref()
                .is_none_or(|record| event.record_ids.iter().any(|id| id == record))
    }
}

pub fn stream_events(
    reader: Reader,
    from: u64,
    through: u64,
    filter: EventFilter,
    place: StreamPlace,
) -> EventStream {
    let (sender, receiver) = mpsc::channel(STREAM_BUFFER_MESSAGES);
    tokio::task::spawn_blocking(move || {
        let _place = place;
        let visited =
            reader.visit_exported_events(from, through, &mut |exported| match &exported {
                Ok(event) if !filter.admits(event) => true,
                _ => send_or_give_up(&sender, ledger_event(exported)),
            });
        if let Err(error) = visited {
            let _ = send_or_give_up(&sender, Err(internal(error)));
        }
    });
    ReceiverStream::new(receiver)
}

fn ledger_event(exported: Result<ExportedEvent, EngineError>) -> Result<pb::LedgerEvent, Status> {
    let event = exported.map_err(internal)?;
    let actor = super::convert::to_actor(&event.cause);
    Ok(pb::LedgerEvent {
        sequence: event.sequence,
        previous_sha256: event.previous_sha256,
        sha256: event.sha256,
        r#type: event.kind.to_owned(),
        json: event.json,
        actor_token_id: actor.token_id,
        actor_role: actor.role,
        actor_certificate_subject: actor.certificate_subject,
        record_ids: event.record_ids,
    })
}

/// A backup of everything up to the head as of now, in chunks; `place` is held until the
/// stream ends.
pub fn stream_backup(reader: Reader, created_at: String, place: StreamPlace) -> BackupStream {
    let (sender, receiver) = mpsc::channel(STREAM_BUFFER_MESSAGES);
    tokio::task::spawn_blocking(move || {
        let _place = place;
        let mut chunks = ChunkWriter {
            sender: sender.clone(),
            buffer: Vec::with_capacity(BACKUP_CHUNK_BYTES),
        };
        match reader.write_backup(&created_at, &mut chunks) {
            Ok(summary) => {
                tracing::info!(events = summary.events, file_sha256 = %summary.file_sha256, "backup streamed")
            }
            Err(error) => {
                let _ = send_or_give_up(&sender, Err(internal(error)));
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
        if send_or_give_up(&self.sender, Ok(pb::BackupChunk { data })) {
            Ok(())
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the backup's reader went away or stopped reading",
            ))
        }
    }
}

fn internal(error: impl std::fmt::Display) -> Status {
    tracing::error!(%error, "while streaming from the store");
    Status::internal("internal error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_bounded_per_token_and_in_all_and_given_back() {
        let places = OpenStreams::new(2, 1, "verifications");
        let first = places.open("T1".to_owned()).expect("a place");
        let refused = places.open("T1".to_owned()).err().expect("one per token");
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert!(refused.message().contains("verifications running already"));
        let second = places.open("T2".to_owned()).expect("another token's place");
        let full = places.open("T3".to_owned()).err().expect("two in all");
        assert!(full.message().contains("as many verifications"));
        drop(first);
        let _again = places
            .open("T1".to_owned())
            .expect("given back when dropped");
        drop(second);
    }
}
