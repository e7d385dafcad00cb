//! Event format 3: the provider access events (see SECURITY.md), and only those.
//!
//! A record is one JSON object whose first key is `"format":3`:
//! `{"format":3,"sequence":N,"previous_sha256":"<hex>","event":{"type":"<name>",…facts}}`,
//! with values written as in format 2 (see [`super::value`]). Format 3 adds four event kinds
//! and changes nothing else: an event of a kind format 2 holds is still written in format 2,
//! byte for byte as before, so no earlier layout moves (see [`super::encode_event`]).
//!
//! Frozen: a new fact is a new format version beside this one (ARCHITECTURE.md, "Stored
//! formats and upgrades").

use serde::{Deserialize, Serialize};

use super::FormatError;
use super::value::{credit_code, instant, instant_text};
use crate::domain::event::Event;
use crate::domain::model::Sha256Hex;
use crate::domain::text::BoundedText;

pub const FORMAT: u32 = 3;

/// What every format-3 record starts with; how a reader tells the formats apart.
pub const PREFIX: &[u8] = b"{\"format\":3,";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    format: u32,
    sequence: u64,
    previous_sha256: String,
    event: Payload,
}

// The variant names are the stored `type` tags: they all concern a provider.
#[allow(clippy::enum_variant_names)]
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Payload {
    ProviderSuspended {
        provider_credit_code: String,
        reason: String,
        at: String,
    },
    ProviderReinstated {
        provider_credit_code: String,
        at: String,
    },
    ProviderCertificatePinned {
        provider_credit_code: String,
        certificate_sha256: String,
        at: String,
    },
    ProviderCertificateRevoked {
        provider_credit_code: String,
        certificate_sha256: String,
        at: String,
    },
}

/// The bytes of `event` as record number `sequence`; `None` for a kind format 3 did not add.
pub fn encode(sequence: u64, previous_sha256: &str, event: &Event) -> Option<Vec<u8>> {
    let record = Record {
        format: FORMAT,
        sequence,
        previous_sha256: previous_sha256.to_owned(),
        event: payload_of(event)?,
    };
    let bytes = serde_json::to_vec(&record).expect("a stored record always serializes");
    assert!(
        bytes.starts_with(PREFIX),
        "format 3 records start with their format"
    );
    Some(bytes)
}

/// The record's sequence, predecessor and event.
pub fn decode(bytes: &[u8]) -> Result<(u64, String, Event), FormatError> {
    let record: Record = serde_json::from_slice(bytes)
        .map_err(|error| FormatError::new(format!("not a format 3 event: {error}")))?;
    if record.format != FORMAT {
        return Err(FormatError::new(format!(
            "format {} is not 3",
            record.format
        )));
    }
    Ok((
        record.sequence,
        record.previous_sha256,
        event_of(record.event)?,
    ))
}

fn payload_of(event: &Event) -> Option<Payload> {
    Some(match event {
        Event::ProviderSuspended {
            provider_credit_code,
            reason,
            at,
        } => Payload::ProviderSuspended {
            provider_credit_code: provider_credit_code.to_string(),
            reason: reason.to_string(),
            at: instant_text(at),
        },
        Event::ProviderReinstated {
            provider_credit_code,
            at,
        } => Payload::ProviderReinstated {
            provider_credit_code: provider_credit_code.to_string(),
            at: instant_text(at),
        },
        Event::ProviderCertificatePinned {
            provider_credit_code,
            certificate_sha256,
            at,
        } => Payload::ProviderCertificatePinned {
            provider_credit_code: provider_credit_code.to_string(),
            certificate_sha256: certificate_sha256.as_str().to_owned(),
            at: instant_text(at),
        },
        Event::ProviderCertificateRevoked {
            provider_credit_code,
            certificate_sha256,
            at,
        } => Payload::ProviderCertificateRevoked {
            provider_credit_code: provider_credit_code.to_string(),
            certificate_sha256: certificate_sha256.as_str().to_owned(),
            at: instant_text(at),
        },
        _ => return None,
    })
}

fn event_of(payload: Payload) -> Result<Event, FormatError> {
    Ok(match payload {
        Payload::ProviderSuspended {
            provider_credit_code,
            reason,
            at,
        } => Event::ProviderSuspended {
            provider_credit_code: credit_code(&provider_credit_code, "provider_credit_code")?,
            reason: BoundedText::from_stored(reason),
            at: instant(&at, "at")?,
        },
        Payload::ProviderReinstated {
            provider_credit_code,
            at,
        } => Event::ProviderReinstated {
            provider_credit_code: credit_code(&provider_credit_code, "provider_credit_code")?,
            at: instant(&at, "at")?,
        },
        Payload::ProviderCertificatePinned {
            provider_credit_code,
            certificate_sha256,
            at,
        } => Event::ProviderCertificatePinned {
            provider_credit_code: credit_code(&provider_credit_code, "provider_credit_code")?,
            certificate_sha256: certificate(&certificate_sha256)?,
            at: instant(&at, "at")?,
        },
        Payload::ProviderCertificateRevoked {
            provider_credit_code,
            certificate_sha256,
            at,
        } => Event::ProviderCertificateRevoked {
            provider_credit_code: credit_code(&provider_credit_code, "provider_credit_code")?,
            certificate_sha256: certificate(&certificate_sha256)?,
            at: instant(&at, "at")?,
        },
    })
}

fn certificate(text: &str) -> Result<Sha256Hex, FormatError> {
    Sha256Hex::parse(text).map_err(|error| FormatError::field("certificate_sha256", error))
}
