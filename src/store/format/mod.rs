//! Stored formats: the bytes of each event record, written once and hashed as written.
//!
//! Every record names its format in its first bytes: format N records (N ≥ 2) start with
//! `{"format":N,`, format 1 records (every build up to d4e9db9) with `{"sequence":`. A reader
//! decodes each record by its own format into the domain's [`Event`] and who caused it. A
//! writer writes every event in format 5 ([`CURRENT`]): an envelope naming who caused it,
//! around the event's facts as the newest earlier format that holds its kind lays them out
//! (format 4, 3 or 2; `token_created` in format 5's own layout), so that no earlier layout
//! moves. Records of formats 1 to 4 name no cause ([`EventCause::Unrecorded`]). Nothing ever re-encodes a stored record: the hash chain, backups and restore
//! all carry the original bytes, and verification compares decoded values.
//!
//! The layouts are in ARCHITECTURE.md ("Stored formats and upgrades") and in the `v1`, `v2`
//! modules, which are frozen: a change is a new module and a new number.

pub mod v1;
pub mod v2;
pub mod v3;
pub mod v4;
pub mod v5;
mod value;

use crate::domain::event::Event;
use crate::domain::model::EventCause;

/// The newest format this build writes.
pub const CURRENT: u32 = v5::FORMAT;

/// One stored event, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRecord {
    /// The format its bytes were written in.
    pub format: u32,
    pub sequence: u64,
    pub previous_sha256: String,
    pub event: Event,
    /// Who caused it; [`EventCause::Unrecorded`] before format 5.
    pub cause: EventCause,
}

impl EventRecord {
    /// The event with who caused it, to apply.
    pub fn logged(&self) -> crate::domain::event::LoggedEvent {
        crate::domain::event::LoggedEvent {
            event: self.event.clone(),
            cause: self.cause.clone(),
        }
    }
}

/// Bytes that are not a record of any format this build reads, or a value in them that could
/// not have been written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FormatError(String);

impl FormatError {
    pub fn new(message: impl Into<String>) -> FormatError {
        FormatError(message.into())
    }

    pub fn field(field: &str, message: impl std::fmt::Display) -> FormatError {
        FormatError(format!("{field}: {message}"))
    }
}

/// The bytes of `event` as record `sequence` after the record hashed `previous_sha256`, in the
/// current format. Asserts that they decode back to the same event: a fact the format cannot
/// hold must stop the writer before it is written, not be lost.
pub fn encode_event(
    sequence: u64,
    previous_sha256: &str,
    event: &Event,
    cause: &EventCause,
) -> Vec<u8> {
    let bytes = v5::encode(sequence, previous_sha256, event, cause);
    let decoded = decode_event(&bytes).expect("a record just encoded decodes");
    assert!(
        decoded.event == *event && decoded.sequence == sequence && decoded.cause == *cause,
        "the stored format loses a fact of {}: {event:?} came back as {:?}",
        event.name(),
        decoded.event
    );
    bytes
}

/// Decodes a stored record of any format this build knows.
pub fn decode_event(bytes: &[u8]) -> Result<EventRecord, FormatError> {
    if bytes.starts_with(v5::PREFIX) {
        let (sequence, previous_sha256, event, cause) = v5::decode(bytes)?;
        return Ok(EventRecord {
            format: v5::FORMAT,
            sequence,
            previous_sha256,
            event,
            cause,
        });
    }
    let (format, (sequence, previous_sha256, event)) = if bytes.starts_with(v4::PREFIX) {
        (v4::FORMAT, v4::decode(bytes)?)
    } else if bytes.starts_with(v3::PREFIX) {
        (v3::FORMAT, v3::decode(bytes)?)
    } else if bytes.starts_with(v2::PREFIX) {
        (v2::FORMAT, v2::decode(bytes)?)
    } else if bytes.starts_with(v1::PREFIX) {
        (v1::FORMAT, v1::decode(bytes)?)
    } else {
        let start = String::from_utf8_lossy(&bytes[..bytes.len().min(16)]).into_owned();
        return Err(FormatError::new(format!(
            "a record of no known format (it starts {start:?}): written by a newer build?"
        )));
    };
    Ok(EventRecord {
        format,
        sequence,
        previous_sha256,
        event,
        cause: EventCause::Unrecorded,
    })
}
