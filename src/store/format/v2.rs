//! Event format 2: the decided facts of each event and nothing else, in types of their own.
//!
//! A record is one JSON object whose first key is `"format":2`:
//! `{"format":2,"sequence":N,"previous_sha256":"<hex>","event":{"type":"<name>",…facts}}`.
//! Amounts are text with two decimals, days `YYYY-MM-DD`, instants RFC 3339, ids their number
//! (`"voucher":12` is `V000000000012`), see [`super::value`]. Read-model fields that only
//! replay derives (a voucher's `redeemed`, a claim's `status`) are not stored: decoding
//! rebuilds the record as the event created it.
//!
//! Frozen: a field added here would change what earlier builds wrote. A new fact is a new
//! format version beside this one (see ARCHITECTURE.md, "Stored formats and upgrades").

use serde::{Deserialize, Serialize};

use super::FormatError;
use super::value::{
    amount, amount_text, credit_code, day, day_text, id, id_number, instant, instant_text, total,
    total_text,
};
use crate::domain::dates::DateRange;
use crate::domain::event::Event;
use crate::domain::invoice::InvoiceNumber;
use crate::domain::model::{
    Clawback, Enterprise, Evidence, EvidenceKind, Invoice, IssueVoucherRequest, Provider,
    ProviderAccess, Redemption, RedemptionStatus, RelatedParties, Role, SecretHash, Settlement,
    SettlementPayment, Sha256Hex, Token, Voucher, VoucherStatus,
};
use crate::domain::policy::ProgramCode;
use crate::domain::text::{BoundedText, RequestId};

pub const FORMAT: u32 = 2;

/// What every format-2 record starts with; how a reader tells the formats apart.
pub const PREFIX: &[u8] = b"{\"format\":2,";

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
    PolicyAdopted {
        name: String,
        document: String,
        fingerprint: String,
        at: String,
    },
    EnterpriseRegistered {
        credit_code: String,
        name: String,
        check_digit_override_reason: Option<String>,
        at: String,
    },
    ProviderRegistered {
        credit_code: String,
        name: String,
        program: ProgramCode,
        check_digit_override_reason: Option<String>,
        at: String,
    },
    TokenCreated {
        token: u64,
        role: Role,
        provider_credit_code: Option<String>,
        description: Option<String>,
        secret_sha256: String,
        at: String,
    },
    TokenRevoked {
        token: u64,
        at: String,
    },
    VoucherIssued(VoucherIssued),
    VoucherRevoked {
        voucher: u64,
        reason: String,
        at: String,
    },
    VoucherExpired {
        voucher: u64,
        at: String,
    },
    RedemptionAccepted(RedemptionAccepted),
    RedemptionApproved {
        redemption: u64,
        at: String,
    },
    RedemptionRejected {
        redemption: u64,
        reason: String,
        at: String,
    },
    SettlementCreated(SettlementCreated),
    RelatedPartiesRecorded {
        provider_credit_code: String,
        enterprise_credit_code: String,
        reason: String,
        at: String,
    },
    SettlementPaid {
        settlement: u64,
        bank_reference: String,
        paid_on: String,
        at: String,
    },
    RedemptionReversed {
        redemption: u64,
        reason: String,
        by: Role,
        at: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VoucherIssued {
    voucher: u64,
    request_id: String,
    enterprise_credit_code: String,
    program: ProgramCode,
    face_value: String,
    valid_from: String,
    valid_until: String,
    redeem_by: String,
    cap_period_first: String,
    cap_period_last: String,
    /// What the bureau asked for, where it left a default to the ledger.
    requested_face_value: Option<String>,
    requested_valid_from: Option<String>,
    requested_valid_until: Option<String>,
    at: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RedemptionAccepted {
    redemption: u64,
    voucher: u64,
    program: ProgramCode,
    enterprise_credit_code: String,
    provider_credit_code: String,
    invoice_number: String,
    invoice_date: String,
    invoice_amount: String,
    allow_partial: bool,
    computed_subsidy: String,
    subsidy: String,
    evidence: Vec<StoredEvidence>,
    at: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredEvidence {
    kind: EvidenceKind,
    sha256: String,
    reference: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettlementCreated {
    settlement: u64,
    request_id: String,
    provider_credit_code: String,
    program: ProgramCode,
    up_to: String,
    redemptions: Vec<u64>,
    gross: String,
    clawbacks: Vec<StoredClawback>,
    clawed_back: String,
    made_on: String,
    more_pending: bool,
    at: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredClawback {
    redemption: u64,
    amount: String,
    booked_at: String,
}

/// The bytes of `event` as record number `sequence` after the record hashed `previous_sha256`.
pub fn encode(sequence: u64, previous_sha256: &str, event: &Event) -> Vec<u8> {
    let record = Record {
        format: FORMAT,
        sequence,
        previous_sha256: previous_sha256.to_owned(),
        event: payload_of(event),
    };
    let bytes = serde_json::to_vec(&record).expect("a stored record always serializes");
    assert!(
        bytes.starts_with(PREFIX),
        "format 2 records start with their format"
    );
    bytes
}

/// The record's sequence, predecessor and event.
pub fn decode(bytes: &[u8]) -> Result<(u64, String, Event), FormatError> {
    let record: Record = serde_json::from_slice(bytes)
        .map_err(|error| FormatError::new(format!("not a format 2 event: {error}")))?;
    if record.format != FORMAT {
        return Err(FormatError::new(format!(
            "format {} is not 2",
            record.format
        )));
    }
    Ok((
        record.sequence,
        record.previous_sha256,
        event_of(record.event)?,
    ))
}

/// The stored facts of `event`, by the group its kind belongs to.
fn payload_of(event: &Event) -> Payload {
    match event {
        Event::PolicyAdopted { .. } | Event::TokenCreated { .. } | Event::TokenRevoked { .. } => {
            policy_or_token_payload(event)
        }
        Event::EnterpriseRegistered { .. }
        | Event::ProviderRegistered { .. }
        | Event::RelatedPartiesRecorded { .. } => party_payload(event),
        Event::VoucherIssued { .. }
        | Event::VoucherRevoked { .. }
        | Event::VoucherExpired { .. } => voucher_payload(event),
        Event::RedemptionAccepted { .. }
        | Event::RedemptionApproved { .. }
        | Event::RedemptionRejected { .. }
        | Event::RedemptionReversed { .. } => redemption_payload(event),
        Event::SettlementCreated { .. } | Event::SettlementPaid { .. } => settlement_payload(event),
        _ => unreachable!(
            "{} is written in a later format (see `format::encode_event`)",
            event.name()
        ),
    }
}

fn policy_or_token_payload(event: &Event) -> Payload {
    match event {
        Event::PolicyAdopted {
            name,
            document,
            fingerprint,
            at,
        } => Payload::PolicyAdopted {
            name: name.clone(),
            document: document.clone(),
            fingerprint: fingerprint.clone(),
            at: instant_text(at),
        },
        Event::TokenCreated { token } => Payload::TokenCreated {
            token: id_number(token.token_id),
            role: token.role,
            provider_credit_code: token.provider_credit_code.map(|code| code.to_string()),
            description: text_of(&token.description),
            secret_sha256: token.secret_sha256.0.clone(),
            at: instant_text(&token.created_at),
        },
        Event::TokenRevoked { token_id, at } => Payload::TokenRevoked {
            token: id_number(*token_id),
            at: instant_text(at),
        },
        _ => unreachable!("{} is not a policy or token event", event.name()),
    }
}

/// Enterprises, providers, and the ties between them.
fn party_payload(event: &Event) -> Payload {
    match event {
        Event::EnterpriseRegistered { enterprise } => Payload::EnterpriseRegistered {
            credit_code: enterprise.credit_code.to_string(),
            name: enterprise.name.to_string(),
            check_digit_override_reason: text_of(&enterprise.check_digit_override_reason),
            at: instant_text(&enterprise.registered_at),
        },
        Event::ProviderRegistered { provider } => Payload::ProviderRegistered {
            credit_code: provider.credit_code.to_string(),
            name: provider.name.to_string(),
            program: provider.program,
            check_digit_override_reason: text_of(&provider.check_digit_override_reason),
            at: instant_text(&provider.registered_at),
        },
        Event::RelatedPartiesRecorded { parties } => Payload::RelatedPartiesRecorded {
            provider_credit_code: parties.provider_credit_code.to_string(),
            enterprise_credit_code: parties.enterprise_credit_code.to_string(),
            reason: parties.reason.to_string(),
            at: instant_text(&parties.recorded_at),
        },
        _ => unreachable!("{} is not a party event", event.name()),
    }
}

fn voucher_payload(event: &Event) -> Payload {
    match event {
        Event::VoucherIssued { voucher } => Payload::VoucherIssued(voucher_issued(voucher)),
        Event::VoucherRevoked {
            voucher_id,
            reason,
            at,
        } => Payload::VoucherRevoked {
            voucher: id_number(*voucher_id),
            reason: reason.to_string(),
            at: instant_text(at),
        },
        Event::VoucherExpired { voucher_id, at } => Payload::VoucherExpired {
            voucher: id_number(*voucher_id),
            at: instant_text(at),
        },
        _ => unreachable!("{} is not a voucher event", event.name()),
    }
}

fn redemption_payload(event: &Event) -> Payload {
    match event {
        Event::RedemptionAccepted { redemption } => {
            Payload::RedemptionAccepted(redemption_accepted(redemption))
        }
        Event::RedemptionApproved { redemption_id, at } => Payload::RedemptionApproved {
            redemption: id_number(*redemption_id),
            at: instant_text(at),
        },
        Event::RedemptionRejected {
            redemption_id,
            reason,
            at,
        } => Payload::RedemptionRejected {
            redemption: id_number(*redemption_id),
            reason: reason.to_string(),
            at: instant_text(at),
        },
        Event::RedemptionReversed {
            redemption_id,
            reason,
            by,
            at,
        } => Payload::RedemptionReversed {
            redemption: id_number(*redemption_id),
            reason: reason.to_string(),
            by: *by,
            at: instant_text(at),
        },
        _ => unreachable!("{} is not a redemption event", event.name()),
    }
}

fn settlement_payload(event: &Event) -> Payload {
    match event {
        Event::SettlementCreated { settlement } => {
            Payload::SettlementCreated(settlement_created(settlement))
        }
        Event::SettlementPaid {
            settlement_id,
            payment,
        } => Payload::SettlementPaid {
            settlement: id_number(*settlement_id),
            bank_reference: payment.bank_reference.to_string(),
            paid_on: day_text(payment.paid_on),
            at: instant_text(&payment.recorded_at),
        },
        _ => unreachable!("{} is not a settlement event", event.name()),
    }
}

fn text_of<const MIN: usize, const MAX: usize>(
    text: &Option<BoundedText<MIN, MAX>>,
) -> Option<String> {
    text.as_ref().map(ToString::to_string)
}

pub(super) fn voucher_issued(voucher: &Voucher) -> VoucherIssued {
    VoucherIssued {
        voucher: id_number(voucher.voucher_id),
        request_id: voucher.request.request_id.as_str().to_owned(),
        enterprise_credit_code: voucher.enterprise_credit_code.to_string(),
        program: voucher.program,
        face_value: amount_text(voucher.face_value),
        valid_from: day_text(voucher.validity.first),
        valid_until: day_text(voucher.validity.last),
        redeem_by: day_text(voucher.redeem_by),
        cap_period_first: day_text(voucher.cap_period.first),
        cap_period_last: day_text(voucher.cap_period.last),
        requested_face_value: voucher.request.face_value.map(amount_text),
        requested_valid_from: voucher.request.valid_from.map(day_text),
        requested_valid_until: voucher.request.valid_until.map(day_text),
        at: instant_text(&voucher.issued_at),
    }
}

pub(super) fn redemption_accepted(redemption: &Redemption) -> RedemptionAccepted {
    RedemptionAccepted {
        redemption: id_number(redemption.redemption_id),
        voucher: id_number(redemption.voucher_id),
        program: redemption.program,
        enterprise_credit_code: redemption.enterprise_credit_code.to_string(),
        provider_credit_code: redemption.provider_credit_code.to_string(),
        invoice_number: redemption.invoice.number.as_str().to_owned(),
        invoice_date: day_text(redemption.invoice.date),
        invoice_amount: amount_text(redemption.invoice.amount),
        allow_partial: redemption.allow_partial,
        computed_subsidy: amount_text(redemption.computed_subsidy),
        subsidy: amount_text(redemption.subsidy),
        evidence: redemption
            .evidence
            .iter()
            .map(|evidence| StoredEvidence {
                kind: evidence.kind,
                sha256: evidence.sha256.as_str().to_owned(),
                reference: evidence.reference.to_string(),
            })
            .collect(),
        at: instant_text(&redemption.redeemed_at),
    }
}

fn settlement_created(settlement: &Settlement) -> SettlementCreated {
    SettlementCreated {
        settlement: id_number(settlement.settlement_id),
        request_id: settlement.request_id.as_str().to_owned(),
        provider_credit_code: settlement.provider_credit_code.to_string(),
        program: settlement.program,
        up_to: day_text(settlement.up_to),
        redemptions: settlement
            .redemption_ids
            .iter()
            .map(|id| id_number(*id))
            .collect(),
        gross: total_text(settlement.gross),
        clawbacks: settlement
            .clawbacks
            .iter()
            .map(|clawback| StoredClawback {
                redemption: id_number(clawback.redemption_id),
                amount: amount_text(clawback.amount),
                booked_at: instant_text(&clawback.booked_at),
            })
            .collect(),
        clawed_back: total_text(settlement.clawed_back),
        made_on: day_text(settlement.made_on),
        more_pending: settlement.more_pending,
        at: instant_text(&settlement.created_at),
    }
}

/// The event `payload` holds, by the group its kind belongs to.
fn event_of(payload: Payload) -> Result<Event, FormatError> {
    match payload {
        Payload::PolicyAdopted { .. }
        | Payload::TokenCreated { .. }
        | Payload::TokenRevoked { .. } => policy_or_token_event(payload),
        Payload::EnterpriseRegistered { .. }
        | Payload::ProviderRegistered { .. }
        | Payload::RelatedPartiesRecorded { .. } => party_event(payload),
        Payload::VoucherIssued(_)
        | Payload::VoucherRevoked { .. }
        | Payload::VoucherExpired { .. } => voucher_event(payload),
        Payload::RedemptionAccepted(_)
        | Payload::RedemptionApproved { .. }
        | Payload::RedemptionRejected { .. }
        | Payload::RedemptionReversed { .. } => redemption_event(payload),
        Payload::SettlementCreated(_) | Payload::SettlementPaid { .. } => settlement_event(payload),
    }
}

fn policy_or_token_event(payload: Payload) -> Result<Event, FormatError> {
    Ok(match payload {
        Payload::PolicyAdopted {
            name,
            document,
            fingerprint,
            at,
        } => Event::PolicyAdopted {
            name,
            document,
            fingerprint,
            at: instant(&at, "at")?,
        },
        Payload::TokenCreated {
            token,
            role,
            provider_credit_code,
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
                enterprise_credit_code: None,
                description: description.map(BoundedText::from_stored),
                secret_sha256: SecretHash(secret_sha256),
                created_at: instant(&at, "at")?,
                revoked_at: None,
                programs: Default::default(),
            },
        },
        Payload::TokenRevoked { token, at } => Event::TokenRevoked {
            token_id: id(token, "token")?,
            at: instant(&at, "at")?,
        },
        _ => unreachable!("event_of sends only policy and token events here"),
    })
}

/// Enterprises, providers, and the ties between them.
fn party_event(payload: Payload) -> Result<Event, FormatError> {
    Ok(match payload {
        Payload::EnterpriseRegistered {
            credit_code: code,
            name,
            check_digit_override_reason,
            at,
        } => Event::EnterpriseRegistered {
            enterprise: Enterprise {
                credit_code: credit_code(&code, "credit_code")?,
                name: BoundedText::from_stored(name),
                check_digit_override_reason: check_digit_override_reason
                    .map(BoundedText::from_stored),
                registered_at: instant(&at, "at")?,
            },
        },
        Payload::ProviderRegistered {
            credit_code: code,
            name,
            program,
            check_digit_override_reason,
            at,
        } => Event::ProviderRegistered {
            provider: Provider {
                credit_code: credit_code(&code, "credit_code")?,
                name: BoundedText::from_stored(name),
                program,
                check_digit_override_reason: check_digit_override_reason
                    .map(BoundedText::from_stored),
                registered_at: instant(&at, "at")?,
                access: ProviderAccess::default(),
            },
        },
        Payload::RelatedPartiesRecorded {
            provider_credit_code,
            enterprise_credit_code,
            reason,
            at,
        } => Event::RelatedPartiesRecorded {
            parties: RelatedParties {
                provider_credit_code: credit_code(&provider_credit_code, "provider_credit_code")?,
                enterprise_credit_code: credit_code(
                    &enterprise_credit_code,
                    "enterprise_credit_code",
                )?,
                reason: BoundedText::from_stored(reason),
                recorded_at: instant(&at, "at")?,
            },
        },
        _ => unreachable!("event_of sends only party events here"),
    })
}

fn voucher_event(payload: Payload) -> Result<Event, FormatError> {
    Ok(match payload {
        Payload::VoucherIssued(issued) => Event::VoucherIssued {
            voucher: voucher_of(issued)?,
        },
        Payload::VoucherRevoked {
            voucher,
            reason,
            at,
        } => Event::VoucherRevoked {
            voucher_id: id(voucher, "voucher")?,
            reason: BoundedText::from_stored(reason),
            at: instant(&at, "at")?,
        },
        Payload::VoucherExpired { voucher, at } => Event::VoucherExpired {
            voucher_id: id(voucher, "voucher")?,
            at: instant(&at, "at")?,
        },
        _ => unreachable!("event_of sends only voucher events here"),
    })
}

fn redemption_event(payload: Payload) -> Result<Event, FormatError> {
    Ok(match payload {
        Payload::RedemptionAccepted(accepted) => Event::RedemptionAccepted {
            redemption: redemption_of(accepted)?,
        },
        Payload::RedemptionApproved { redemption, at } => Event::RedemptionApproved {
            redemption_id: id(redemption, "redemption")?,
            at: instant(&at, "at")?,
        },
        Payload::RedemptionRejected {
            redemption,
            reason,
            at,
        } => Event::RedemptionRejected {
            redemption_id: id(redemption, "redemption")?,
            reason: BoundedText::from_stored(reason),
            at: instant(&at, "at")?,
        },
        Payload::RedemptionReversed {
            redemption,
            reason,
            by,
            at,
        } => Event::RedemptionReversed {
            redemption_id: id(redemption, "redemption")?,
            reason: BoundedText::from_stored(reason),
            by,
            at: instant(&at, "at")?,
        },
        _ => unreachable!("event_of sends only redemption events here"),
    })
}

fn settlement_event(payload: Payload) -> Result<Event, FormatError> {
    Ok(match payload {
        Payload::SettlementCreated(created) => Event::SettlementCreated {
            settlement: settlement_of(created)?,
        },
        Payload::SettlementPaid {
            settlement,
            bank_reference,
            paid_on,
            at,
        } => Event::SettlementPaid {
            settlement_id: id(settlement, "settlement")?,
            payment: SettlementPayment {
                bank_reference: BoundedText::from_stored(bank_reference),
                paid_on: day(&paid_on, "paid_on")?,
                recorded_at: instant(&at, "at")?,
                recorded_by: Default::default(),
            },
        },
        _ => unreachable!("event_of sends only settlement events here"),
    })
}

pub(super) fn voucher_of(issued: VoucherIssued) -> Result<Voucher, FormatError> {
    let enterprise_credit_code = credit_code(&issued.enterprise_credit_code, "enterprise")?;
    let optional_day = |text: &Option<String>, field: &str| {
        text.as_deref().map(|text| day(text, field)).transpose()
    };
    Ok(Voucher {
        voucher_id: id(issued.voucher, "voucher")?,
        enterprise_credit_code,
        program: issued.program,
        face_value: amount(&issued.face_value, "face_value")?,
        redeemed: crate::domain::money::Money::ZERO,
        validity: range(&issued.valid_from, &issued.valid_until, "valid_from")?,
        redeem_by: day(&issued.redeem_by, "redeem_by")?,
        cap_period: range(
            &issued.cap_period_first,
            &issued.cap_period_last,
            "cap_period_first",
        )?,
        status: VoucherStatus::Active,
        issued_at: instant(&issued.at, "at")?,
        request: IssueVoucherRequest {
            request_id: RequestId::from_stored(issued.request_id),
            enterprise_credit_code,
            program: issued.program,
            face_value: issued
                .requested_face_value
                .map(|text| amount(&text, "requested_face_value"))
                .transpose()?,
            valid_from: optional_day(&issued.requested_valid_from, "requested_valid_from")?,
            valid_until: optional_day(&issued.requested_valid_until, "requested_valid_until")?,
            provider_credit_codes: std::collections::BTreeSet::new(),
        },
        revocation_reason: None,
        closed_at: None,
        provider_credit_codes: std::collections::BTreeSet::new(),
        application_id: None,
        issued_by: Default::default(),
        closed_by: None,
    })
}

/// A range of days that must not end before it starts.
pub(super) fn range(first: &str, last: &str, field: &str) -> Result<DateRange, FormatError> {
    let (first, last) = (day(first, field)?, day(last, field)?);
    if last < first {
        return Err(FormatError::field(field, "the range ends before it starts"));
    }
    Ok(DateRange::new(first, last))
}

pub(super) fn redemption_of(accepted: RedemptionAccepted) -> Result<Redemption, FormatError> {
    let evidence = accepted
        .evidence
        .into_iter()
        .map(|stored| {
            Ok(Evidence {
                kind: stored.kind,
                sha256: Sha256Hex::parse(&stored.sha256)
                    .map_err(|error| FormatError::field("evidence.sha256", error.to_string()))?,
                reference: BoundedText::from_stored(stored.reference),
            })
        })
        .collect::<Result<Vec<_>, FormatError>>()?;
    Ok(Redemption {
        redemption_id: id(accepted.redemption, "redemption")?,
        voucher_id: id(accepted.voucher, "voucher")?,
        program: accepted.program,
        enterprise_credit_code: credit_code(&accepted.enterprise_credit_code, "enterprise")?,
        provider_credit_code: credit_code(&accepted.provider_credit_code, "provider")?,
        invoice: Invoice {
            number: InvoiceNumber::from_stored(accepted.invoice_number),
            date: day(&accepted.invoice_date, "invoice_date")?,
            amount: amount(&accepted.invoice_amount, "invoice_amount")?,
        },
        allow_partial: accepted.allow_partial,
        computed_subsidy: amount(&accepted.computed_subsidy, "computed_subsidy")?,
        subsidy: amount(&accepted.subsidy, "subsidy")?,
        status: RedemptionStatus::Accepted,
        redeemed_at: instant(&accepted.at, "at")?,
        reversal_reason: None,
        reversed_at: None,
        reversed_by: None,
        evidence,
        approved_at: None,
        rejection_reason: None,
        rejected_at: None,
        settlement_id: None,
        corrects: None,
        confirmed_at: None,
        closing_reason: None,
        closed_at: None,
        steps: Default::default(),
    })
}

fn settlement_of(created: SettlementCreated) -> Result<Settlement, FormatError> {
    let clawbacks = created
        .clawbacks
        .into_iter()
        .map(|stored| {
            Ok(Clawback {
                redemption_id: id(stored.redemption, "clawbacks.redemption")?,
                amount: amount(&stored.amount, "clawbacks.amount")?,
                booked_at: instant(&stored.booked_at, "clawbacks.booked_at")?,
            })
        })
        .collect::<Result<Vec<_>, FormatError>>()?;
    Ok(Settlement {
        settlement_id: id(created.settlement, "settlement")?,
        request_id: RequestId::from_stored(created.request_id),
        provider_credit_code: credit_code(&created.provider_credit_code, "provider")?,
        program: created.program,
        up_to: day(&created.up_to, "up_to")?,
        redemption_ids: created
            .redemptions
            .into_iter()
            .map(|number| id(number, "redemptions"))
            .collect::<Result<Vec<_>, FormatError>>()?,
        gross: total(&created.gross, "gross")?,
        clawbacks,
        clawed_back: total(&created.clawed_back, "clawed_back")?,
        created_at: instant(&created.at, "at")?,
        made_on: day(&created.made_on, "made_on")?,
        more_pending: created.more_pending,
        payment: None,
        created_by: Default::default(),
    })
}
