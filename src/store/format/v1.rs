//! Event format 1, read-only: what every build up to and including d4e9db9 wrote.
//!
//! Those builds stored `serde_json` of the domain's own structs, so the format is whatever
//! those structs were: `{"sequence":N,"previous_sha256":"<hex>","event":{"type":"<name>",…}}`
//! with whole records inside (`voucher_issued` holds the voucher, `redemption_accepted` the
//! redemption). The types below freeze that shape as the last of those builds wrote it; fields
//! added by a later one of them carry `default`, so the earliest records read too. Nothing is
//! ever written in this format again.

use serde::Deserialize;

use super::FormatError;
use super::value::{amount, credit_code, day, id_from_text, instant, total};
use crate::domain::event::Event;
use crate::domain::invoice::InvoiceNumber;
use crate::domain::model::{
    Clawback, Enterprise, Evidence, EvidenceKind, Invoice, IssueVoucherRequest, Provider,
    ProviderAccess, Redemption, RedemptionStatus, RelatedParties, Role, SecretHash, Settlement,
    SettlementPayment, Sha256Hex, Token, Voucher, VoucherStatus,
};
use crate::domain::policy::ProgramCode;
use crate::domain::text::{BoundedText, RequestId};

pub const FORMAT: u32 = 1;

/// What every format-1 record starts with.
pub const PREFIX: &[u8] = b"{\"sequence\":";

#[derive(Deserialize)]
struct Record {
    sequence: u64,
    previous_sha256: String,
    event: Payload,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Payload {
    PolicyAdopted {
        name: String,
        document: String,
        fingerprint: String,
        at: String,
    },
    EnterpriseRegistered {
        enterprise: StoredEnterprise,
    },
    ProviderRegistered {
        provider: StoredProvider,
    },
    TokenCreated {
        token: StoredToken,
    },
    TokenRevoked {
        token_id: String,
        at: String,
    },
    VoucherIssued {
        voucher: StoredVoucher,
    },
    VoucherRevoked {
        voucher_id: String,
        reason: String,
        at: String,
    },
    VoucherExpired {
        voucher_id: String,
        at: String,
    },
    RedemptionAccepted {
        redemption: StoredRedemption,
    },
    RedemptionApproved {
        redemption_id: String,
        at: String,
    },
    RedemptionRejected {
        redemption_id: String,
        reason: String,
        at: String,
    },
    SettlementCreated {
        settlement: StoredSettlement,
    },
    RelatedPartiesRecorded {
        parties: StoredRelatedParties,
    },
    SettlementPaid {
        settlement_id: String,
        payment: StoredPayment,
    },
    RedemptionReversed {
        redemption_id: String,
        reason: String,
        by: Role,
        at: String,
    },
}

#[derive(Deserialize)]
struct StoredEnterprise {
    credit_code: String,
    name: String,
    check_digit_override_reason: Option<String>,
    registered_at: String,
}

#[derive(Deserialize)]
struct StoredProvider {
    credit_code: String,
    name: String,
    program: ProgramCode,
    check_digit_override_reason: Option<String>,
    registered_at: String,
}

#[derive(Deserialize)]
struct StoredToken {
    token_id: String,
    role: Role,
    provider_credit_code: Option<String>,
    description: Option<String>,
    secret_sha256: String,
    created_at: String,
    revoked_at: Option<String>,
}

#[derive(Deserialize)]
struct StoredRange {
    first: String,
    last: String,
}

#[derive(Deserialize)]
struct StoredIssueRequest {
    request_id: String,
    enterprise_credit_code: String,
    program: ProgramCode,
    face_value: Option<String>,
    valid_from: Option<String>,
    valid_until: Option<String>,
}

#[derive(Deserialize)]
struct StoredVoucher {
    voucher_id: String,
    enterprise_credit_code: String,
    program: ProgramCode,
    face_value: String,
    redeemed: String,
    validity: StoredRange,
    redeem_by: String,
    cap_period: StoredRange,
    status: VoucherStatus,
    issued_at: String,
    request: StoredIssueRequest,
    revocation_reason: Option<String>,
    closed_at: Option<String>,
}

#[derive(Deserialize)]
struct StoredInvoice {
    number: String,
    date: String,
    amount: String,
}

#[derive(Deserialize)]
struct StoredEvidence {
    kind: EvidenceKind,
    sha256: String,
    reference: String,
}

#[derive(Deserialize)]
struct StoredRedemption {
    redemption_id: String,
    voucher_id: String,
    program: ProgramCode,
    enterprise_credit_code: String,
    provider_credit_code: String,
    invoice: StoredInvoice,
    allow_partial: bool,
    computed_subsidy: String,
    subsidy: String,
    status: RedemptionStatus,
    redeemed_at: String,
    reversal_reason: Option<String>,
    reversed_at: Option<String>,
    reversed_by: Option<Role>,
    #[serde(default)]
    evidence: Vec<StoredEvidence>,
    #[serde(default)]
    approved_at: Option<String>,
    #[serde(default)]
    rejection_reason: Option<String>,
    #[serde(default)]
    rejected_at: Option<String>,
    #[serde(default)]
    settlement_id: Option<String>,
}

#[derive(Deserialize)]
struct StoredClawback {
    redemption_id: String,
    amount: String,
    booked_at: String,
}

#[derive(Deserialize)]
struct StoredSettlement {
    settlement_id: String,
    request_id: String,
    provider_credit_code: String,
    program: ProgramCode,
    up_to: String,
    redemption_ids: Vec<String>,
    gross: String,
    clawbacks: Vec<StoredClawback>,
    clawed_back: String,
    created_at: String,
    made_on: String,
    more_pending: bool,
    #[serde(default)]
    payment: Option<StoredPayment>,
}

#[derive(Deserialize)]
struct StoredPayment {
    bank_reference: String,
    paid_on: String,
    recorded_at: String,
}

#[derive(Deserialize)]
struct StoredRelatedParties {
    provider_credit_code: String,
    enterprise_credit_code: String,
    reason: String,
    recorded_at: String,
}

/// The record's sequence, predecessor and event.
pub fn decode(bytes: &[u8]) -> Result<(u64, String, Event), FormatError> {
    let record: Record = serde_json::from_slice(bytes)
        .map_err(|error| FormatError::new(format!("not a format 1 event: {error}")))?;
    Ok((
        record.sequence,
        record.previous_sha256,
        event_of(record.event)?,
    ))
}

fn optional_instant(
    text: Option<String>,
    field: &str,
) -> Result<Option<crate::domain::model::Timestamp>, FormatError> {
    text.map(|text| instant(&text, field)).transpose()
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
        Payload::VoucherIssued { .. }
        | Payload::VoucherRevoked { .. }
        | Payload::VoucherExpired { .. } => voucher_event(payload),
        Payload::RedemptionAccepted { .. }
        | Payload::RedemptionApproved { .. }
        | Payload::RedemptionRejected { .. }
        | Payload::RedemptionReversed { .. } => redemption_event(payload),
        Payload::SettlementCreated { .. } | Payload::SettlementPaid { .. } => {
            settlement_event(payload)
        }
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
        Payload::TokenCreated { token } => Event::TokenCreated {
            token: token_of(token)?,
        },
        Payload::TokenRevoked { token_id, at } => Event::TokenRevoked {
            token_id: id_from_text(&token_id, "token_id")?,
            at: instant(&at, "at")?,
        },
        _ => unreachable!("event_of sends only policy and token events here"),
    })
}

/// Enterprises, providers, and the ties between them.
fn party_event(payload: Payload) -> Result<Event, FormatError> {
    Ok(match payload {
        Payload::EnterpriseRegistered { enterprise } => Event::EnterpriseRegistered {
            enterprise: Enterprise {
                credit_code: credit_code(&enterprise.credit_code, "credit_code")?,
                name: BoundedText::from_stored(enterprise.name),
                check_digit_override_reason: enterprise
                    .check_digit_override_reason
                    .map(BoundedText::from_stored),
                registered_at: instant(&enterprise.registered_at, "registered_at")?,
            },
        },
        Payload::ProviderRegistered { provider } => Event::ProviderRegistered {
            provider: Provider {
                credit_code: credit_code(&provider.credit_code, "credit_code")?,
                name: BoundedText::from_stored(provider.name),
                program: provider.program,
                check_digit_override_reason: provider
                    .check_digit_override_reason
                    .map(BoundedText::from_stored),
                registered_at: instant(&provider.registered_at, "registered_at")?,
                access: ProviderAccess::default(),
            },
        },
        Payload::RelatedPartiesRecorded { parties } => Event::RelatedPartiesRecorded {
            parties: RelatedParties {
                provider_credit_code: credit_code(
                    &parties.provider_credit_code,
                    "provider_credit_code",
                )?,
                enterprise_credit_code: credit_code(
                    &parties.enterprise_credit_code,
                    "enterprise_credit_code",
                )?,
                reason: BoundedText::from_stored(parties.reason),
                recorded_at: instant(&parties.recorded_at, "recorded_at")?,
            },
        },
        _ => unreachable!("event_of sends only party events here"),
    })
}

fn voucher_event(payload: Payload) -> Result<Event, FormatError> {
    Ok(match payload {
        Payload::VoucherIssued { voucher } => Event::VoucherIssued {
            voucher: voucher_of(voucher)?,
        },
        Payload::VoucherRevoked {
            voucher_id,
            reason,
            at,
        } => Event::VoucherRevoked {
            voucher_id: id_from_text(&voucher_id, "voucher_id")?,
            reason: BoundedText::from_stored(reason),
            at: instant(&at, "at")?,
        },
        Payload::VoucherExpired { voucher_id, at } => Event::VoucherExpired {
            voucher_id: id_from_text(&voucher_id, "voucher_id")?,
            at: instant(&at, "at")?,
        },
        _ => unreachable!("event_of sends only voucher events here"),
    })
}

fn redemption_event(payload: Payload) -> Result<Event, FormatError> {
    Ok(match payload {
        Payload::RedemptionAccepted { redemption } => Event::RedemptionAccepted {
            redemption: redemption_of(redemption)?,
        },
        Payload::RedemptionApproved { redemption_id, at } => Event::RedemptionApproved {
            redemption_id: id_from_text(&redemption_id, "redemption_id")?,
            at: instant(&at, "at")?,
        },
        Payload::RedemptionRejected {
            redemption_id,
            reason,
            at,
        } => Event::RedemptionRejected {
            redemption_id: id_from_text(&redemption_id, "redemption_id")?,
            reason: BoundedText::from_stored(reason),
            at: instant(&at, "at")?,
        },
        Payload::RedemptionReversed {
            redemption_id,
            reason,
            by,
            at,
        } => Event::RedemptionReversed {
            redemption_id: id_from_text(&redemption_id, "redemption_id")?,
            reason: BoundedText::from_stored(reason),
            by,
            at: instant(&at, "at")?,
        },
        _ => unreachable!("event_of sends only redemption events here"),
    })
}

fn settlement_event(payload: Payload) -> Result<Event, FormatError> {
    Ok(match payload {
        Payload::SettlementCreated { settlement } => Event::SettlementCreated {
            settlement: settlement_of(settlement)?,
        },
        Payload::SettlementPaid {
            settlement_id,
            payment,
        } => Event::SettlementPaid {
            settlement_id: id_from_text(&settlement_id, "settlement_id")?,
            payment: payment_of(payment)?,
        },
        _ => unreachable!("event_of sends only settlement events here"),
    })
}

fn token_of(token: StoredToken) -> Result<Token, FormatError> {
    Ok(Token {
        token_id: id_from_text(&token.token_id, "token_id")?,
        role: token.role,
        provider_credit_code: token
            .provider_credit_code
            .map(|code| credit_code(&code, "provider_credit_code"))
            .transpose()?,
        enterprise_credit_code: None,
        description: token.description.map(BoundedText::from_stored),
        secret_sha256: SecretHash(token.secret_sha256),
        created_at: instant(&token.created_at, "created_at")?,
        revoked_at: optional_instant(token.revoked_at, "revoked_at")?,
        programs: Default::default(),
    })
}

fn voucher_of(voucher: StoredVoucher) -> Result<Voucher, FormatError> {
    let request = voucher.request;
    let optional_day =
        |text: Option<String>, field: &str| text.map(|text| day(&text, field)).transpose();
    Ok(Voucher {
        voucher_id: id_from_text(&voucher.voucher_id, "voucher_id")?,
        enterprise_credit_code: credit_code(&voucher.enterprise_credit_code, "enterprise")?,
        program: voucher.program,
        face_value: amount(&voucher.face_value, "face_value")?,
        redeemed: amount(&voucher.redeemed, "redeemed")?,
        validity: super::v2::range(&voucher.validity.first, &voucher.validity.last, "validity")?,
        redeem_by: day(&voucher.redeem_by, "redeem_by")?,
        cap_period: super::v2::range(
            &voucher.cap_period.first,
            &voucher.cap_period.last,
            "cap_period",
        )?,
        status: voucher.status,
        issued_at: instant(&voucher.issued_at, "issued_at")?,
        request: IssueVoucherRequest {
            request_id: RequestId::from_stored(request.request_id),
            enterprise_credit_code: credit_code(
                &request.enterprise_credit_code,
                "request.enterprise_credit_code",
            )?,
            program: request.program,
            face_value: request
                .face_value
                .map(|text| amount(&text, "request.face_value"))
                .transpose()?,
            valid_from: optional_day(request.valid_from, "request.valid_from")?,
            valid_until: optional_day(request.valid_until, "request.valid_until")?,
            provider_credit_codes: std::collections::BTreeSet::new(),
        },
        revocation_reason: voucher.revocation_reason.map(BoundedText::from_stored),
        closed_at: optional_instant(voucher.closed_at, "closed_at")?,
        provider_credit_codes: std::collections::BTreeSet::new(),
        application_id: None,
        issued_by: Default::default(),
        closed_by: None,
    })
}

fn redemption_of(stored: StoredRedemption) -> Result<Redemption, FormatError> {
    let evidence = stored
        .evidence
        .into_iter()
        .map(|evidence| {
            Ok(Evidence {
                kind: evidence.kind,
                sha256: Sha256Hex::parse(&evidence.sha256)
                    .map_err(|error| FormatError::field("evidence.sha256", error.to_string()))?,
                reference: BoundedText::from_stored(evidence.reference),
            })
        })
        .collect::<Result<Vec<_>, FormatError>>()?;
    Ok(Redemption {
        redemption_id: id_from_text(&stored.redemption_id, "redemption_id")?,
        voucher_id: id_from_text(&stored.voucher_id, "voucher_id")?,
        program: stored.program,
        enterprise_credit_code: credit_code(&stored.enterprise_credit_code, "enterprise")?,
        provider_credit_code: credit_code(&stored.provider_credit_code, "provider")?,
        invoice: Invoice {
            number: InvoiceNumber::from_stored(stored.invoice.number),
            date: day(&stored.invoice.date, "invoice.date")?,
            amount: amount(&stored.invoice.amount, "invoice.amount")?,
        },
        allow_partial: stored.allow_partial,
        computed_subsidy: amount(&stored.computed_subsidy, "computed_subsidy")?,
        subsidy: amount(&stored.subsidy, "subsidy")?,
        status: stored.status,
        redeemed_at: instant(&stored.redeemed_at, "redeemed_at")?,
        reversal_reason: stored.reversal_reason.map(BoundedText::from_stored),
        reversed_at: optional_instant(stored.reversed_at, "reversed_at")?,
        reversed_by: stored.reversed_by,
        evidence,
        approved_at: optional_instant(stored.approved_at, "approved_at")?,
        rejection_reason: stored.rejection_reason.map(BoundedText::from_stored),
        rejected_at: optional_instant(stored.rejected_at, "rejected_at")?,
        settlement_id: stored
            .settlement_id
            .map(|text| id_from_text(&text, "settlement_id"))
            .transpose()?,
        corrects: None,
        confirmed_at: None,
        closing_reason: None,
        closed_at: None,
        steps: Default::default(),
    })
}

fn settlement_of(stored: StoredSettlement) -> Result<Settlement, FormatError> {
    let clawbacks = stored
        .clawbacks
        .into_iter()
        .map(|clawback| {
            Ok(Clawback {
                redemption_id: id_from_text(&clawback.redemption_id, "clawbacks.redemption_id")?,
                amount: amount(&clawback.amount, "clawbacks.amount")?,
                booked_at: instant(&clawback.booked_at, "clawbacks.booked_at")?,
            })
        })
        .collect::<Result<Vec<_>, FormatError>>()?;
    Ok(Settlement {
        settlement_id: id_from_text(&stored.settlement_id, "settlement_id")?,
        request_id: RequestId::from_stored(stored.request_id),
        provider_credit_code: credit_code(&stored.provider_credit_code, "provider")?,
        program: stored.program,
        up_to: day(&stored.up_to, "up_to")?,
        redemption_ids: stored
            .redemption_ids
            .iter()
            .map(|text| id_from_text(text, "redemption_ids"))
            .collect::<Result<Vec<_>, FormatError>>()?,
        gross: total(&stored.gross, "gross")?,
        clawbacks,
        clawed_back: total(&stored.clawed_back, "clawed_back")?,
        created_at: instant(&stored.created_at, "created_at")?,
        made_on: day(&stored.made_on, "made_on")?,
        more_pending: stored.more_pending,
        payment: stored.payment.map(payment_of).transpose()?,
        created_by: Default::default(),
    })
}

fn payment_of(payment: StoredPayment) -> Result<SettlementPayment, FormatError> {
    Ok(SettlementPayment {
        bank_reference: BoundedText::from_stored(payment.bank_reference),
        paid_on: day(&payment.paid_on, "paid_on")?,
        recorded_at: instant(&payment.recorded_at, "recorded_at")?,
        recorded_by: Default::default(),
    })
}
