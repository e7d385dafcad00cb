//! Stored formats: the bytes of each event record, written once and hashed as written.
//!
//! Every record names its format in its first bytes: format N records (N ≥ 2) start with
//! `{"format":N,`, format 1 records (every build up to d4e9db9) with `{"sequence":`. A reader
//! decodes each record by its own format into the domain's [`Event`]. A writer writes each
//! event in the newest format that holds its kind: the enterprise's part and the three kinds
//! that gained a field with it in format 4 ([`CURRENT`]), the provider access events in format
//! 3, every other kind in format 2, so that adding a kind never moves the bytes of the others. Nothing ever re-encodes a stored record: the hash chain, backups and restore
//! all carry the original bytes, and verification compares decoded values.
//!
//! The layouts are in ARCHITECTURE.md ("Stored formats and upgrades") and in the `v1`, `v2`
//! modules, which are frozen: a change is a new module and a new number.

pub mod v1;
pub mod v2;
pub mod v3;
pub mod v4;
mod value;

use crate::domain::event::Event;

/// The newest format this build writes.
pub const CURRENT: u32 = v4::FORMAT;

/// One stored event, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRecord {
    /// The format its bytes were written in.
    pub format: u32,
    pub sequence: u64,
    pub previous_sha256: String,
    pub event: Event,
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
pub fn encode_event(sequence: u64, previous_sha256: &str, event: &Event) -> Vec<u8> {
    let bytes = v4::encode(sequence, previous_sha256, event)
        .or_else(|| v3::encode(sequence, previous_sha256, event))
        .unwrap_or_else(|| v2::encode(sequence, previous_sha256, event));
    let decoded = decode_event(&bytes).expect("a record just encoded decodes");
    assert!(
        decoded.event == *event && decoded.sequence == sequence,
        "the stored format loses a fact of {}: {event:?} came back as {:?}",
        event.name(),
        decoded.event
    );
    bytes
}

/// Decodes a stored record of any format this build knows.
pub fn decode_event(bytes: &[u8]) -> Result<EventRecord, FormatError> {
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
    })
}
