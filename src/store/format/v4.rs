//! Event format 4: the enterprise's part (applications, bound providers, confirmation, dispute,
//! return for correction, public notices), and the three kinds that gained a field with it.
//!
//! A record is one JSON object whose first key is `"format":4`:
//! `{"format":4,"sequence":N,"previous_sha256":"<hex>","event":{"type":"<name>",…facts}}`,
//! with values written as in format 2 (see [`super::value`]).
//!
//! - New kinds: `voucher_applied`, `application_approved`, `application_rejected`,
//!   `voucher_providers_changed`, `redemption_confirmed`, `redemption_disputed`,
//!   `redemption_returned`, `notice_published`.
//! - Kinds with a new field, written here from this format on (format 2 still reads the
//!   earlier ones): `token_created` (`enterprise_credit_code`, and the role `enterprise`),
//!   `voucher_issued` (format 2's facts under `"voucher"`, then the bound
//!   `provider_credit_codes` and the `application` it was issued on), `redemption_accepted`
//!   (format 2's facts under `"claim"`, then the returned claim it `corrects`).
//!
//! Every other kind is still written in format 2 or 3, byte for byte as before.
//!
//! Frozen: a new fact is a new format version beside this one (ARCHITECTURE.md, "Stored
//! formats and upgrades").

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::FormatError;
use super::v2;
use super::value::{
    amount, amount_text, credit_code, day_text, id, id_number, instant, instant_text, total,
    total_text,
};
use crate::domain::credit_code::CreditCode;
use crate::domain::dates::DateRange;
use crate::domain::event::Event;
use crate::domain::model::{
    ApplicationStatus, PublicNotice, Role, SecretHash, Sha256Hex, Token, VoucherApplication,
};
use crate::domain::policy::ProgramCode;
use crate::domain::text::{BoundedText, RequestId};

pub const FORMAT: u32 = 4;

/// What every format-4 record starts with; how a reader tells the formats apart.
pub const PREFIX: &[u8] = b"{\"format\":4,";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    format: u32,
    sequence: u64,
    previous_sha256: String,
    event: Payload,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Payload {
    TokenCreated {
        token: u64,
        role: Role,
        provider_credit_code: Option<String>,
        enterprise_credit_code: Option<String>,
        description: Option<String>,
        secret_sha256: String,
        at: String,
    },
    VoucherIssued {
        voucher: v2::VoucherIssued,
        provider_credit_codes: Vec<String>,
        application: Option<u64>,
    },
    RedemptionAccepted {
        claim: v2::RedemptionAccepted,
        corrects: Option<u64>,
    },
    VoucherApplied(Applied),
    ApplicationApproved {
        application: u64,
        voucher: u64,
        at: String,
    },
    ApplicationRejected {
        application: u64,
        reason: String,
        at: String,
    },
    VoucherProvidersChanged {
        voucher: u64,
        provider_credit_codes: Vec<String>,
        reason: String,
        at: String,
    },
    RedemptionConfirmed {
        redemption: u64,
        at: String,
    },
    RedemptionDisputed {
        redemption: u64,
        reason: String,
        at: String,
    },
    RedemptionReturned {
        redemption: u64,
        reason: String,
        at: String,
    },
    NoticePublished(Notice),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Applied {
    application: u64,
    request_id: String,
    enterprise_credit_code: String,
    program: ProgramCode,
    amount: String,
    provider_credit_codes: Vec<String>,
    contract_number: String,
    contract_sha256: String,
    purpose: String,
    other_subsidies: Option<String>,
    at: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Notice {
    notice: u64,
    program: ProgramCode,
    approved_from: String,
    approved_until: String,
    posted_from: String,
    posted_until: String,
    redemptions: Vec<u64>,
    total: String,
    at: String,
}

/// The bytes of `event` as record number `sequence`; `None` for a kind format 4 does not hold.
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
        "format 4 records start with their format"
    );
    Some(bytes)
}

/// The record's sequence, predecessor and event.
pub fn decode(bytes: &[u8]) -> Result<(u64, String, Event), FormatError> {
    let record: Record = serde_json::from_slice(bytes)
        .map_err(|error| FormatError::new(format!("not a format 4 event: {error}")))?;
    if record.format != FORMAT {
        return Err(FormatError::new(format!(
            "format {} is not 4",
            record.format
        )));
    }
    Ok((
        record.sequence,
        record.previous_sha256,
        event_of(record.event)?,
    ))
}

fn codes_text(codes: &BTreeSet<CreditCode>) -> Vec<String> {
    codes.iter().map(ToString::to_string).collect()
}

fn codes(texts: &[String], field: &str) -> Result<BTreeSet<CreditCode>, FormatError> {
    texts.iter().map(|text| credit_code(text, field)).collect()
}

fn payload_of(event: &Event) -> Option<Payload> {
    Some(match event {
        Event::TokenCreated { token } => Payload::TokenCreated {
            token: id_number(token.token_id),
            role: token.role,
            provider_credit_code: token.provider_credit_code.map(|code| code.to_string()),
            enterprise_credit_code: token.enterprise_credit_code.map(|code| code.to_string()),
            description: token.description.as_ref().map(ToString::to_string),
            secret_sha256: token.secret_sha256.0.clone(),
            at: instant_text(&token.created_at),
        },
        Event::VoucherIssued { voucher } => Payload::VoucherIssued {
            voucher: v2::voucher_issued(voucher),
            provider_credit_codes: codes_text(&voucher.provider_credit_codes),
            application: voucher.application_id.map(id_number),
        },
        Event::RedemptionAccepted { redemption } => Payload::RedemptionAccepted {
            claim: v2::redemption_accepted(redemption),
            corrects: redemption.corrects.map(id_number),
        },
        Event::VoucherApplied { application } => Payload::VoucherApplied(applied(application)),
        Event::NoticePublished { notice } => Payload::NoticePublished(notice_payload(notice)),
        _ => return review_payload(event),
    })
}

/// The bureau's and the enterprise's decisions on applications, vouchers and claims.
fn review_payload(event: &Event) -> Option<Payload> {
    Some(match event {
        Event::ApplicationApproved {
            application_id,
            voucher_id,
            at,
        } => Payload::ApplicationApproved {
            application: id_number(*application_id),
            voucher: id_number(*voucher_id),
            at: instant_text(at),
        },
        Event::ApplicationRejected {
            application_id,
            reason,
            at,
        } => Payload::ApplicationRejected {
            application: id_number(*application_id),
            reason: reason.to_string(),
            at: instant_text(at),
        },
        Event::VoucherProvidersChanged {
            voucher_id,
            provider_credit_codes,
            reason,
            at,
        } => Payload::VoucherProvidersChanged {
            voucher: id_number(*voucher_id),
            provider_credit_codes: codes_text(provider_credit_codes),
            reason: reason.to_string(),
            at: instant_text(at),
        },
        Event::RedemptionConfirmed { redemption_id, at } => Payload::RedemptionConfirmed {
            redemption: id_number(*redemption_id),
            at: instant_text(at),
        },
        Event::RedemptionDisputed {
            redemption_id,
            reason,
            at,
        } => Payload::RedemptionDisputed {
            redemption: id_number(*redemption_id),
            reason: reason.to_string(),
            at: instant_text(at),
        },
        Event::RedemptionReturned {
            redemption_id,
            reason,
            at,
        } => Payload::RedemptionReturned {
            redemption: id_number(*redemption_id),
            reason: reason.to_string(),
            at: instant_text(at),
        },
        _ => return None,
    })
}

fn applied(application: &VoucherApplication) -> Applied {
    Applied {
        application: id_number(application.application_id),
        request_id: application.request_id.as_str().to_owned(),
        enterprise_credit_code: application.enterprise_credit_code.to_string(),
        program: application.program,
        amount: amount_text(application.amount),
        provider_credit_codes: codes_text(&application.provider_credit_codes),
        contract_number: application.contract_number.to_string(),
        contract_sha256: application.contract_sha256.as_str().to_owned(),
        purpose: application.purpose.to_string(),
        other_subsidies: application
            .other_subsidies
            .as_ref()
            .map(ToString::to_string),
        at: instant_text(&application.applied_at),
    }
}

fn notice_payload(notice: &PublicNotice) -> Notice {
    Notice {
        notice: id_number(notice.notice_id),
        program: notice.program,
        approved_from: day_text(notice.approved_in.first),
        approved_until: day_text(notice.approved_in.last),
        posted_from: day_text(notice.posted.first),
        posted_until: day_text(notice.posted.last),
        redemptions: notice
            .redemption_ids
            .iter()
            .copied()
            .map(id_number)
            .collect(),
        total: total_text(notice.total),
        at: instant_text(&notice.published_at),
    }
}

fn event_of(payload: Payload) -> Result<Event, FormatError> {
    Ok(match payload {
        Payload::TokenCreated {
            token,
            role,
            provider_credit_code,
            enterprise_credit_code,
            description,
            secret_sha256,
            at,
        } => Event::TokenCreated {
            token: Token {
                token_id: id(token, "token")?,
                role,
                provider_credit_code: provider_credit_code
                    .map(|code| credit_code(&code, "provider_credit_code"))
                    .transpose()?,
                enterprise_credit_code: enterprise_credit_code
                    .map(|code| credit_code(&code, "enterprise_credit_code"))
                    .transpose()?,
                description: description.map(BoundedText::from_stored),
                secret_sha256: SecretHash(secret_sha256),
                created_at: instant(&at, "at")?,
                revoked_at: None,
                programs: Default::default(),
            },
        },
        Payload::VoucherIssued {
            voucher,
            provider_credit_codes,
            application,
        } => {
            let mut voucher = v2::voucher_of(voucher)?;
            let bound = codes(&provider_credit_codes, "provider_credit_codes")?;
            voucher.request.provider_credit_codes = bound.clone();
            voucher.provider_credit_codes = bound;
            voucher.application_id = application
                .map(|number| id(number, "application"))
                .transpose()?;
            Event::VoucherIssued { voucher }
        }
        Payload::RedemptionAccepted { claim, corrects } => {
            let mut redemption = v2::redemption_of(claim)?;
            redemption.corrects = corrects.map(|number| id(number, "corrects")).transpose()?;
            Event::RedemptionAccepted { redemption }
        }
        Payload::VoucherApplied(applied) => Event::VoucherApplied {
            application: application_of(applied)?,
        },
        Payload::NoticePublished(notice) => Event::NoticePublished {
            notice: notice_of(notice)?,
        },
        review => review_event(review)?,
    })
}

fn review_event(payload: Payload) -> Result<Event, FormatError> {
    Ok(match payload {
        Payload::ApplicationApproved {
            application,
            voucher,
            at,
        } => Event::ApplicationApproved {
            application_id: id(application, "application")?,
            voucher_id: id(voucher, "voucher")?,
            at: instant(&at, "at")?,
        },
        Payload::ApplicationRejected {
            application,
            reason,
            at,
        } => Event::ApplicationRejected {
            application_id: id(application, "application")?,
            reason: BoundedText::from_stored(reason),
            at: instant(&at, "at")?,
        },
        Payload::VoucherProvidersChanged {
            voucher,
            provider_credit_codes,
            reason,
            at,
        } => Event::VoucherProvidersChanged {
            voucher_id: id(voucher, "voucher")?,
            provider_credit_codes: codes(&provider_credit_codes, "provider_credit_codes")?,
            reason: BoundedText::from_stored(reason),
            at: instant(&at, "at")?,
        },
        Payload::RedemptionConfirmed { redemption, at } => Event::RedemptionConfirmed {
            redemption_id: id(redemption, "redemption")?,
            at: instant(&at, "at")?,
        },
        Payload::RedemptionDisputed {
            redemption,
            reason,
            at,
        } => Event::RedemptionDisputed {
            redemption_id: id(redemption, "redemption")?,
            reason: BoundedText::from_stored(reason),
            at: instant(&at, "at")?,
        },
        Payload::RedemptionReturned {
            redemption,
            reason,
            at,
        } => Event::RedemptionReturned {
            redemption_id: id(redemption, "redemption")?,
            reason: BoundedText::from_stored(reason),
            at: instant(&at, "at")?,
        },
        _ => unreachable!("event_of sends only review events here"),
    })
}

fn application_of(applied: Applied) -> Result<VoucherApplication, FormatError> {
    Ok(VoucherApplication {
        application_id: id(applied.application, "application")?,
        request_id: RequestId::from_stored(applied.request_id),
        enterprise_credit_code: credit_code(&applied.enterprise_credit_code, "enterprise")?,
        program: applied.program,
        amount: amount(&applied.amount, "amount")?,
        provider_credit_codes: codes(&applied.provider_credit_codes, "provider_credit_codes")?,
        contract_number: BoundedText::from_stored(applied.contract_number),
        contract_sha256: Sha256Hex::parse(&applied.contract_sha256)
            .map_err(|error| FormatError::field("contract_sha256", error))?,
        purpose: BoundedText::from_stored(applied.purpose),
        other_subsidies: applied.other_subsidies.map(BoundedText::from_stored),
        status: ApplicationStatus::Pending,
        applied_at: instant(&applied.at, "at")?,
        decided_at: None,
        voucher_id: None,
        rejection_reason: None,
        applied_by: Default::default(),
        decided_by: None,
    })
}

fn notice_of(notice: Notice) -> Result<PublicNotice, FormatError> {
    let range = |first: &str, last: &str, field: &str| -> Result<DateRange, FormatError> {
        v2::range(first, last, field)
    };
    Ok(PublicNotice {
        notice_id: id(notice.notice, "notice")?,
        program: notice.program,
        approved_in: range(
            &notice.approved_from,
            &notice.approved_until,
            "approved_from",
        )?,
        posted: range(&notice.posted_from, &notice.posted_until, "posted_from")?,
        redemption_ids: notice
            .redemptions
            .into_iter()
            .map(|number| id(number, "redemptions"))
            .collect::<Result<_, _>>()?,
        total: total(&notice.total, "total")?,
        published_at: instant(&notice.at, "at")?,
    })
}
