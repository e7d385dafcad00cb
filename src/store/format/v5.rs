//! Event format 5: every event with who caused it (issue 15).
//!
//! A record is one JSON object whose first key is `"format":5`:
//! `{"format":5,"sequence":N,"previous_sha256":"<hex>","actor":{…},"event_format":F,"event":{…}}`.
//!
//! - `actor` is `{"by":"ledger"}` for what the ledger does by itself (an expiry, a policy
//!   adopted at start, the bootstrap token) or `{"by":"caller","token":7,"role":"bureau",
//!   "certificate_subject":null}` for a caller: its token's number (`null` for a client
//!   certificate alone), its role, and the subject of the certificate it came with.
//! - `event` is the event's facts in the layout of format `event_format`: format 2, 3 or 4's
//!   payload for every kind those hold (their frozen modules read it), and this format's own
//!   for `token_created`, which gained the bureau token's `programs` here.
//!
//! Every kind is written in this format from now on: the envelope is what is new, so no kind
//! can be written without its actor. Earlier records keep decoding through their own formats
//! and read as [`EventCause::Unrecorded`].
//!
//! Frozen: a new fact is a new format version beside this one (ARCHITECTURE.md, "Stored
//! formats and upgrades").

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::FormatError;
use super::value::{credit_code, id, id_number, instant, instant_text};
use super::{v2, v3, v4};
use crate::domain::event::Event;
use crate::domain::model::{CallerStamp, EventCause, Role, SecretHash, Token};
use crate::domain::policy::ProgramCode;
use crate::domain::text::BoundedText;

pub const FORMAT: u32 = 5;

/// What every format-5 record starts with; how a reader tells the formats apart.
pub const PREFIX: &[u8] = b"{\"format\":5,";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record<'a> {
    format: u32,
    sequence: u64,
    previous_sha256: String,
    actor: Actor,
    event_format: u32,
    /// The facts as their format lays them out, byte for byte.
    #[serde(borrow)]
    event: &'a RawValue,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case", deny_unknown_fields)]
enum Actor {
    Ledger,
    Caller {
        token: Option<u64>,
        role: Role,
        certificate_subject: Option<String>,
    },
}

/// The one kind whose facts this format lays out itself.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Payload {
    TokenCreated {
        token: u64,
        role: Role,
        provider_credit_code: Option<String>,
        enterprise_credit_code: Option<String>,
        programs: Vec<ProgramCode>,
        description: Option<String>,
        secret_sha256: String,
        at: String,
    },
}

/// The bytes of `event`, caused by `cause`, as record number `sequence`.
pub fn encode(sequence: u64, previous_sha256: &str, event: &Event, cause: &EventCause) -> Vec<u8> {
    let (event_format, payload) = match event {
        Event::TokenCreated { token } => (
            FORMAT,
            serde_json::to_string(&token_payload(token)).expect("a payload always serializes"),
        ),
        _ => earlier_payload(sequence, previous_sha256, event),
    };
    let payload = RawValue::from_string(payload).expect("a payload is JSON");
    let record = Record {
        format: FORMAT,
        sequence,
        previous_sha256: previous_sha256.to_owned(),
        actor: actor_of(cause),
        event_format,
        event: &payload,
    };
    let bytes = serde_json::to_vec(&record).expect("a stored record always serializes");
    assert!(
        bytes.starts_with(PREFIX),
        "format 5 records start with their format"
    );
    bytes
}

/// The record's sequence, predecessor, event and cause.
pub fn decode(bytes: &[u8]) -> Result<(u64, String, Event, EventCause), FormatError> {
    let record: Record = serde_json::from_slice(bytes)
        .map_err(|error| FormatError::new(format!("not a format 5 event: {error}")))?;
    if record.format != FORMAT {
        return Err(FormatError::new(format!(
            "format {} is not 5",
            record.format
        )));
    }
    let event = match record.event_format {
        FORMAT => event_of(record.event)?,
        earlier => earlier_event(
            earlier,
            record.sequence,
            &record.previous_sha256,
            record.event,
        )?,
    };
    Ok((
        record.sequence,
        record.previous_sha256,
        event,
        cause_of(record.actor)?,
    ))
}

/// The facts of `event` as the newest earlier format that holds its kind lays them out: that
/// format's record is `{…,"event":<facts>}` with the facts last, so they are its tail.
fn earlier_payload(sequence: u64, previous_sha256: &str, event: &Event) -> (u32, String) {
    let (format, bytes) = v4::encode(sequence, previous_sha256, event)
        .map(|bytes| (v4::FORMAT, bytes))
        .or_else(|| v3::encode(sequence, previous_sha256, event).map(|bytes| (v3::FORMAT, bytes)))
        .unwrap_or_else(|| (v2::FORMAT, v2::encode(sequence, previous_sha256, event)));
    let text = String::from_utf8(bytes).expect("a record is UTF-8");
    const KEY: &str = ",\"event\":";
    let start = text.find(KEY).expect("every record holds its event") + KEY.len();
    assert!(text.ends_with('}'), "a record is one object");
    (format, text[start..text.len() - 1].to_owned())
}

/// Reads facts laid out as format `format` by handing them, in that format's record, to its
/// own (frozen) reader.
fn earlier_event(
    format: u32,
    sequence: u64,
    previous_sha256: &str,
    payload: &RawValue,
) -> Result<Event, FormatError> {
    let previous = serde_json::to_string(previous_sha256).expect("text always serializes");
    let bytes = format!(
        "{{\"format\":{format},\"sequence\":{sequence},\"previous_sha256\":{previous},\"event\":{}}}",
        payload.get()
    )
    .into_bytes();
    let (_, _, event) = match format {
        4 => v4::decode(&bytes)?,
        3 => v3::decode(&bytes)?,
        2 => v2::decode(&bytes)?,
        other => {
            return Err(FormatError::new(format!(
                "format 5 carries facts in format 2 to 5, not {other}"
            )));
        }
    };
    Ok(event)
}

fn actor_of(cause: &EventCause) -> Actor {
    match cause {
        EventCause::Ledger => Actor::Ledger,
        EventCause::Caller(stamp) => Actor::Caller {
            token: stamp.token_id.map(id_number),
            role: stamp.role,
            certificate_subject: stamp.certificate_subject.clone(),
        },
        EventCause::Unrecorded => {
            unreachable!("every event written from format 5 on names its cause")
        }
    }
}

fn cause_of(actor: Actor) -> Result<EventCause, FormatError> {
    Ok(match actor {
        Actor::Ledger => EventCause::Ledger,
        Actor::Caller {
            token,
            role,
            certificate_subject,
        } => EventCause::Caller(CallerStamp {
            token_id: token.map(|number| id(number, "actor.token")).transpose()?,
            role,
            certificate_subject,
        }),
    })
}

fn token_payload(token: &Token) -> Payload {
    Payload::TokenCreated {
        token: id_number(token.token_id),
        role: token.role,
        provider_credit_code: token.provider_credit_code.map(|code| code.to_string()),
        enterprise_credit_code: token.enterprise_credit_code.map(|code| code.to_string()),
        programs: token.programs.iter().copied().collect(),
        description: token.description.as_ref().map(ToString::to_string),
        secret_sha256: token.secret_sha256.0.clone(),
        at: instant_text(&token.created_at),
    }
}

fn event_of(payload: &RawValue) -> Result<Event, FormatError> {
    let payload: Payload = serde_json::from_str(payload.get())
        .map_err(|error| FormatError::new(format!("not a format 5 event: {error}")))?;
    let Payload::TokenCreated {
        token,
        role,
        provider_credit_code,
        enterprise_credit_code,
        programs,
        description,
        secret_sha256,
        at,
    } = payload;
    let party =
        |code: Option<String>, field: &str| code.map(|code| credit_code(&code, field)).transpose();
    Ok(Event::TokenCreated {
        token: Token {
            token_id: id(token, "token")?,
            role,
            provider_credit_code: party(provider_credit_code, "provider_credit_code")?,
            enterprise_credit_code: party(enterprise_credit_code, "enterprise_credit_code")?,
            programs: programs.into_iter().collect::<BTreeSet<_>>(),
            description: description.map(BoundedText::from_stored),
            secret_sha256: SecretHash(secret_sha256),
            created_at: instant(&at, "at")?,
            revoked_at: None,
        },
    })
}
