//! Proto <-> domain. Inbound, every field is parsed once into a checked type, and a bad one
//! becomes INVALID_ARGUMENT naming it. Outbound, records become messages.

use crate::domain::reason::ReasonCode;
use chrono::NaiveDate;

use crate::domain::credit_code::CreditCode;
use crate::domain::dates::parse_date;
use crate::domain::error::LedgerError;
use crate::domain::input::InputError;
use crate::domain::invoice::InvoiceNumber;
use crate::domain::model::{
    Balance, BudgetView, Enterprise, EventCause, Evidence, EvidenceKind, ProgramSummary, Provider,
    Redemption, RedemptionStatus, RelatedParties, Role, Settlement, Sha256Hex, Voucher,
    VoucherStatus,
};
use crate::domain::money::Money;
use crate::domain::policy::ProgramCode;
use crate::domain::text::BoundedText;
use crate::proto::google::r#type::Money as ProtoMoney;
use crate::proto::voucher::v1 as pb;

pub use crate::wire::{signed_to_money, to_date, to_money, to_timestamp, total_to_money};

/// The most documents one claim may carry.
pub const EVIDENCE_MAX: usize = 20;

/// The page size when the caller gives none.
pub const PAGE_SIZE_DEFAULT: usize = 100;
/// The largest page a caller may ask for.
pub const PAGE_SIZE_MAX: usize = 1000;

/// A malformed field: the input's reason and words, and the field it came from.
pub fn invalid(field: &'static str, error: InputError) -> LedgerError {
    error.in_field(field)
}

pub fn credit_code(field: &'static str, text: &str) -> Result<CreditCode, LedgerError> {
    CreditCode::parse(text).map_err(|error| invalid(field, error))
}

pub fn optional_credit_code(
    field: &'static str,
    text: &str,
) -> Result<Option<CreditCode>, LedgerError> {
    if text.is_empty() {
        return Ok(None);
    }
    credit_code(field, text).map(Some)
}

pub fn program(field: &'static str, value: i32) -> Result<ProgramCode, LedgerError> {
    optional_program(field, value)?.ok_or_else(|| {
        invalid(
            field,
            InputError::new(
                ReasonCode::Required,
                "program must be set (PROGRAM_COMPUTE, PROGRAM_LEASING…)",
            ),
        )
    })
}

/// `PROGRAM_UNSPECIFIED` means no filter.
pub fn optional_program(
    field: &'static str,
    value: i32,
) -> Result<Option<ProgramCode>, LedgerError> {
    match pb::Program::try_from(value) {
        Ok(pb::Program::Unspecified) => Ok(None),
        Ok(pb::Program::Compute) => Ok(Some(ProgramCode::Compute)),
        Ok(pb::Program::Leasing) => Ok(Some(ProgramCode::Leasing)),
        Ok(pb::Program::Corpus) => Ok(Some(ProgramCode::Corpus)),
        Err(_) => Err(invalid(
            field,
            InputError::new(
                ReasonCode::UnknownProgram,
                format!("{value} is not a program"),
            ),
        )),
    }
}

pub fn role(field: &'static str, value: i32) -> Result<Role, LedgerError> {
    match pb::Role::try_from(value) {
        Ok(pb::Role::Bureau) => Ok(Role::Bureau),
        Ok(pb::Role::Provider) => Ok(Role::Provider),
        Ok(pb::Role::Auditor) => Ok(Role::Auditor),
        Ok(pb::Role::Enterprise) => Ok(Role::Enterprise),
        Ok(pb::Role::Finance) => Ok(Role::Finance),
        Ok(pb::Role::Unspecified) | Err(_) => Err(invalid(
            field,
            InputError::new(
                ReasonCode::UnknownRole,
                "role must be ROLE_BUREAU, ROLE_PROVIDER, ROLE_AUDITOR, ROLE_ENTERPRISE or ROLE_FINANCE",
            ),
        )),
    }
}

pub fn money(field: &'static str, value: Option<&ProtoMoney>) -> Result<Money, LedgerError> {
    let value = value.ok_or_else(|| {
        invalid(
            field,
            InputError::new(ReasonCode::Required, "an amount in CNY is required"),
        )
    })?;
    Money::from_units_and_nanos(&value.currency_code, value.units, value.nanos)
        .map_err(|error| invalid(field, error))
}

pub fn optional_money(
    field: &'static str,
    value: Option<&ProtoMoney>,
) -> Result<Option<Money>, LedgerError> {
    value.map(|value| money(field, Some(value))).transpose()
}

pub fn date(field: &'static str, text: &str) -> Result<NaiveDate, LedgerError> {
    if text.is_empty() {
        return Err(invalid(
            field,
            InputError::new(ReasonCode::Required, "a date YYYY-MM-DD is required"),
        ));
    }
    parse_date(text).map_err(|error| invalid(field, error))
}

pub fn optional_date(field: &'static str, text: &str) -> Result<Option<NaiveDate>, LedgerError> {
    if text.is_empty() {
        return Ok(None);
    }
    date(field, text).map(Some)
}

pub fn invoice_number(field: &'static str, text: &str) -> Result<InvoiceNumber, LedgerError> {
    InvoiceNumber::parse(text).map_err(|error| invalid(field, error))
}

pub fn text<const MIN: usize, const MAX: usize>(
    field: &'static str,
    value: &str,
) -> Result<BoundedText<MIN, MAX>, LedgerError> {
    BoundedText::parse(value).map_err(|error| invalid(field, error))
}

pub fn optional_text<const MIN: usize, const MAX: usize>(
    field: &'static str,
    value: &str,
) -> Result<Option<BoundedText<MIN, MAX>>, LedgerError> {
    BoundedText::parse_optional(value).map_err(|error| invalid(field, error))
}

/// Any id type that parses from text (voucher, redemption, token ids).
pub fn id<T>(
    field: &'static str,
    text: &str,
    parse: impl Fn(&str) -> Result<T, InputError>,
) -> Result<T, LedgerError> {
    if text.is_empty() {
        return Err(invalid(
            field,
            InputError::new(ReasonCode::Required, "an id is required"),
        ));
    }
    parse(text).map_err(|error| invalid(field, error))
}

/// An id that may be left empty (no filter).
pub fn optional_id<T>(
    field: &'static str,
    text: &str,
    parse: impl Fn(&str) -> Result<T, InputError>,
) -> Result<Option<T>, LedgerError> {
    if text.is_empty() {
        return Ok(None);
    }
    id(field, text, parse).map(Some)
}

/// A record an auditor asks the history of: an id of any kind the ledger hands out, or a
/// credit code (upper-cased); empty: no filter.
pub fn optional_record_id(field: &'static str, text: &str) -> Result<Option<String>, LedgerError> {
    use crate::domain::ids::{
        ApplicationId, NoticeId, RedemptionId, SettlementId, TokenId, VoucherId,
    };
    if text.is_empty() {
        return Ok(None);
    }
    let upper = text.to_ascii_uppercase();
    let known = VoucherId::parse(&upper).is_ok()
        || RedemptionId::parse(&upper).is_ok()
        || SettlementId::parse(&upper).is_ok()
        || ApplicationId::parse(&upper).is_ok()
        || NoticeId::parse(&upper).is_ok()
        || TokenId::parse(&upper).is_ok();
    if known {
        return Ok(Some(upper));
    }
    credit_code(field, text).map(|code| Some(code.to_string()))
}

pub fn page_size(value: i32) -> Result<usize, LedgerError> {
    match usize::try_from(value) {
        Ok(0) => Ok(PAGE_SIZE_DEFAULT),
        Ok(size) if size <= PAGE_SIZE_MAX => Ok(size),
        _ => Err(invalid(
            "page_size",
            InputError::new(
                ReasonCode::PageSizeOutOfRange,
                format!("page_size must be 0 to {PAGE_SIZE_MAX}, got {value}"),
            ),
        )),
    }
}

/// A page token is the id of the last record examined; empty means the first page.
pub fn page_token<T>(
    text: &str,
    parse: impl Fn(&str) -> Result<T, InputError>,
) -> Result<Option<T>, LedgerError> {
    if text.is_empty() {
        return Ok(None);
    }
    parse(text).map(Some).map_err(|_| {
        invalid(
            "page_token",
            InputError::new(
                ReasonCode::MalformedPageToken,
                "page_token must come from a previous response",
            ),
        )
    })
}

pub fn to_program(program: ProgramCode) -> i32 {
    match program {
        ProgramCode::Compute => pb::Program::Compute as i32,
        ProgramCode::Leasing => pb::Program::Leasing as i32,
        ProgramCode::Corpus => pb::Program::Corpus as i32,
    }
}

pub fn text_of<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map(ToString::to_string).unwrap_or_default()
}

pub fn to_enterprise(enterprise: &Enterprise) -> pb::Enterprise {
    pb::Enterprise {
        credit_code: enterprise.credit_code.to_string(),
        name: enterprise.name.to_string(),
        check_digit_valid: enterprise.credit_code.has_valid_check_digit(),
        check_digit_override_reason: text_of(&enterprise.check_digit_override_reason),
        registered_at: Some(to_timestamp(enterprise.registered_at)),
    }
}

pub fn to_provider(provider: &Provider) -> pb::Provider {
    pb::Provider {
        credit_code: provider.credit_code.to_string(),
        name: provider.name.to_string(),
        program: to_program(provider.program),
        check_digit_valid: provider.credit_code.has_valid_check_digit(),
        check_digit_override_reason: text_of(&provider.check_digit_override_reason),
        registered_at: Some(to_timestamp(provider.registered_at)),
        suspension: provider
            .access
            .suspension
            .as_ref()
            .map(|suspension| pb::ProviderSuspension {
                reason: suspension.reason.to_string(),
                suspended_at: Some(to_timestamp(suspension.at)),
            }),
        pinned_certificate_sha256: fingerprints(&provider.access.pinned_certificates),
        revoked_certificate_sha256: fingerprints(&provider.access.revoked_certificates),
    }
}

fn fingerprints(certificates: &std::collections::BTreeSet<Sha256Hex>) -> Vec<String> {
    certificates
        .iter()
        .map(|certificate| certificate.as_str().to_owned())
        .collect()
}

/// A certificate's SHA-256 fingerprint, in hex with or without colons.
pub fn certificate_fingerprint(field: &'static str, text: &str) -> Result<Sha256Hex, LedgerError> {
    let digits: String = text.chars().filter(|character| *character != ':').collect();
    Sha256Hex::parse(&digits).map_err(|error| invalid(field, error))
}

pub fn to_voucher(voucher: &Voucher) -> pb::Voucher {
    let status = match voucher.status {
        VoucherStatus::Active => pb::VoucherStatus::Active,
        VoucherStatus::Revoked => pb::VoucherStatus::Revoked,
        VoucherStatus::Expired => pb::VoucherStatus::Expired,
    };
    pb::Voucher {
        voucher_id: voucher.voucher_id.to_string(),
        enterprise_credit_code: voucher.enterprise_credit_code.to_string(),
        program: to_program(voucher.program),
        face_value: Some(to_money(voucher.face_value)),
        redeemed: Some(to_money(voucher.redeemed)),
        remaining: Some(to_money(voucher.remaining())),
        valid_from: to_date(voucher.validity.first),
        valid_until: to_date(voucher.validity.last),
        redeem_by: to_date(voucher.redeem_by),
        status: status as i32,
        issued_at: Some(to_timestamp(voucher.issued_at)),
        revocation_reason: text_of(&voucher.revocation_reason),
        closed_at: voucher.closed_at.map(to_timestamp),
        provider_credit_codes: voucher
            .provider_credit_codes
            .iter()
            .map(ToString::to_string)
            .collect(),
        application_id: text_of(&voucher.application_id),
        issued_by: Some(to_actor(&voucher.issued_by)),
        closed_by: to_step(&voucher.closed_by),
    }
}

pub fn to_redemption(redemption: &Redemption) -> pb::Redemption {
    let status = match redemption.status {
        RedemptionStatus::Accepted => pb::RedemptionStatus::Accepted,
        RedemptionStatus::Approved => pb::RedemptionStatus::Approved,
        RedemptionStatus::Rejected => pb::RedemptionStatus::Rejected,
        RedemptionStatus::Settled => pb::RedemptionStatus::Settled,
        RedemptionStatus::Reversed => pb::RedemptionStatus::Reversed,
        RedemptionStatus::Disputed => pb::RedemptionStatus::Disputed,
        RedemptionStatus::Returned => pb::RedemptionStatus::Returned,
    };
    pb::Redemption {
        redemption_id: redemption.redemption_id.to_string(),
        voucher_id: redemption.voucher_id.to_string(),
        program: to_program(redemption.program),
        enterprise_credit_code: redemption.enterprise_credit_code.to_string(),
        provider_credit_code: redemption.provider_credit_code.to_string(),
        invoice_number: redemption.invoice.number.to_string(),
        invoice_date: to_date(redemption.invoice.date),
        invoice_amount: Some(to_money(redemption.invoice.amount)),
        computed_subsidy: Some(to_money(redemption.computed_subsidy)),
        subsidy: Some(to_money(redemption.subsidy)),
        status: status as i32,
        redeemed_at: Some(to_timestamp(redemption.redeemed_at)),
        allow_partial: redemption.allow_partial,
        reversal_reason: text_of(&redemption.reversal_reason),
        reversed_at: redemption.reversed_at.map(to_timestamp),
        evidence: redemption.evidence.iter().map(to_evidence).collect(),
        approved_at: redemption.approved_at.map(to_timestamp),
        rejection_reason: text_of(&redemption.rejection_reason),
        rejected_at: redemption.rejected_at.map(to_timestamp),
        settlement_id: text_of(&redemption.settlement_id),
        corrects_redemption_id: text_of(&redemption.corrects),
        confirmed_at: redemption.confirmed_at.map(to_timestamp),
        closing_reason: text_of(&redemption.closing_reason),
        closed_at: redemption.closed_at.map(to_timestamp),
        redeemed_by: Some(to_actor(&redemption.steps.redeemed_by)),
        approved_by: to_step(&redemption.steps.approved_by),
        closed_by: to_step(&redemption.steps.closed_by),
        confirmed_by: to_step(&redemption.steps.confirmed_by),
        reversed_by: to_step(&redemption.steps.reversed_by),
    }
}

/// Who caused an event or made a step, as the wire shows it.
pub fn to_actor(cause: &EventCause) -> pb::Actor {
    match cause {
        EventCause::Unrecorded => pb::Actor {
            role: "unrecorded".to_owned(),
            ..pb::Actor::default()
        },
        EventCause::Ledger => pb::Actor {
            role: "ledger".to_owned(),
            ..pb::Actor::default()
        },
        EventCause::Caller(stamp) => pb::Actor {
            token_id: text_of(&stamp.token_id),
            role: stamp.role.as_str().to_owned(),
            certificate_subject: stamp.certificate_subject.clone().unwrap_or_default(),
        },
    }
}

/// A step taken (`Some`), as the wire shows who took it.
pub fn to_step(cause: &Option<EventCause>) -> Option<pb::Actor> {
    cause.as_ref().map(to_actor)
}

/// A redemption status filter: `REDEMPTION_STATUS_UNSPECIFIED` means every status.
pub fn optional_redemption_status(
    field: &'static str,
    value: i32,
) -> Result<Option<RedemptionStatus>, LedgerError> {
    Ok(Some(match pb::RedemptionStatus::try_from(value) {
        Ok(pb::RedemptionStatus::Unspecified) => return Ok(None),
        Ok(pb::RedemptionStatus::Accepted) => RedemptionStatus::Accepted,
        Ok(pb::RedemptionStatus::Approved) => RedemptionStatus::Approved,
        Ok(pb::RedemptionStatus::Rejected) => RedemptionStatus::Rejected,
        Ok(pb::RedemptionStatus::Settled) => RedemptionStatus::Settled,
        Ok(pb::RedemptionStatus::Reversed) => RedemptionStatus::Reversed,
        Ok(pb::RedemptionStatus::Disputed) => RedemptionStatus::Disputed,
        Ok(pb::RedemptionStatus::Returned) => RedemptionStatus::Returned,
        Err(_) => {
            return Err(invalid(
                field,
                InputError::new(ReasonCode::NotAllowed, format!("{value} is not a status")),
            ));
        }
    }))
}

fn to_evidence(evidence: &Evidence) -> pb::Evidence {
    let kind = match evidence.kind {
        EvidenceKind::Contract => pb::EvidenceKind::Contract,
        EvidenceKind::PaymentReceipt => pb::EvidenceKind::PaymentReceipt,
        EvidenceKind::DeliveryProof => pb::EvidenceKind::DeliveryProof,
        EvidenceKind::DeploymentProof => pb::EvidenceKind::DeploymentProof,
    };
    pb::Evidence {
        kind: kind as i32,
        sha256: evidence.sha256.as_str().to_owned(),
        reference: evidence.reference.to_string(),
    }
}

/// The documents of a claim, at most [`EVIDENCE_MAX`], each checked.
pub fn evidence(documents: &[pb::Evidence]) -> Result<Vec<Evidence>, LedgerError> {
    if documents.len() > EVIDENCE_MAX {
        return Err(invalid(
            "evidence",
            InputError::new(
                ReasonCode::TooMany,
                format!("at most {EVIDENCE_MAX} documents per claim"),
            ),
        ));
    }
    documents
        .iter()
        .map(|document| {
            let kind = match pb::EvidenceKind::try_from(document.kind) {
                Ok(pb::EvidenceKind::Contract) => EvidenceKind::Contract,
                Ok(pb::EvidenceKind::PaymentReceipt) => EvidenceKind::PaymentReceipt,
                Ok(pb::EvidenceKind::DeliveryProof) => EvidenceKind::DeliveryProof,
                Ok(pb::EvidenceKind::DeploymentProof) => EvidenceKind::DeploymentProof,
                Ok(pb::EvidenceKind::Unspecified) | Err(_) => {
                    return Err(invalid(
                        "evidence.kind",
                        InputError::new(
                            ReasonCode::UnknownEvidenceKind,
                            "kind must be one of EVIDENCE_KIND_CONTRACT…",
                        ),
                    ));
                }
            };
            Ok(Evidence {
                kind,
                sha256: Sha256Hex::parse(&document.sha256)
                    .map_err(|error| invalid("evidence.sha256", error))?,
                reference: text("evidence.reference", &document.reference)?,
            })
        })
        .collect()
}

/// A statement, with its lines when `lines` holds their redemptions.
pub fn to_settlement(
    settlement: &Settlement,
    provider_name: &str,
    lines: &[Redemption],
) -> pb::Settlement {
    pb::Settlement {
        settlement_id: settlement.settlement_id.to_string(),
        request_id: settlement.request_id.to_string(),
        provider_credit_code: settlement.provider_credit_code.to_string(),
        provider_name: provider_name.to_owned(),
        program: to_program(settlement.program),
        up_to_date: to_date(settlement.up_to),
        line_count: settlement.redemption_ids.len() as u64,
        gross: Some(total_to_money(settlement.gross)),
        clawed_back: Some(total_to_money(settlement.clawed_back)),
        net: Some(signed_to_money(settlement.net())),
        lines: lines
            .iter()
            .map(|redemption| pb::SettlementLine {
                redemption_id: redemption.redemption_id.to_string(),
                voucher_id: redemption.voucher_id.to_string(),
                enterprise_credit_code: redemption.enterprise_credit_code.to_string(),
                invoice_number: redemption.invoice.number.to_string(),
                invoice_date: to_date(redemption.invoice.date),
                invoice_amount: Some(to_money(redemption.invoice.amount)),
                subsidy: Some(to_money(redemption.subsidy)),
            })
            .collect(),
        clawbacks: settlement
            .clawbacks
            .iter()
            .map(|clawback| pb::Clawback {
                redemption_id: clawback.redemption_id.to_string(),
                amount: Some(to_money(clawback.amount)),
                booked_at: Some(to_timestamp(clawback.booked_at)),
            })
            .collect(),
        created_at: Some(to_timestamp(settlement.created_at)),
        more_pending: settlement.more_pending,
        payment: settlement
            .payment
            .as_ref()
            .map(|payment| pb::SettlementPayment {
                bank_reference: payment.bank_reference.to_string(),
                paid_on: to_date(payment.paid_on),
                recorded_at: Some(to_timestamp(payment.recorded_at)),
                recorded_by: Some(to_actor(&payment.recorded_by)),
            }),
        created_by: Some(to_actor(&settlement.created_by)),
    }
}

pub fn to_budget(budget: &BudgetView) -> pb::Budget {
    pb::Budget {
        program: to_program(budget.program_period.program),
        period_start: to_date(budget.period.first),
        period_end: to_date(budget.period.last),
        budget: budget.budget.map(to_money),
        committed: Some(total_to_money(budget.committed)),
        redeemed: Some(total_to_money(budget.redeemed)),
        settled: Some(total_to_money(budget.settled)),
        available: budget.available().map(total_to_money),
    }
}

pub fn to_related_parties(parties: &RelatedParties) -> pb::RelatedParties {
    pb::RelatedParties {
        provider_credit_code: parties.provider_credit_code.to_string(),
        enterprise_credit_code: parties.enterprise_credit_code.to_string(),
        reason: parties.reason.to_string(),
        recorded_at: Some(to_timestamp(parties.recorded_at)),
    }
}

pub fn to_balance(balance: &Balance) -> pb::Balance {
    pb::Balance {
        enterprise_credit_code: balance.enterprise_credit_code.to_string(),
        enterprise_name: balance.enterprise_name.clone(),
        program: to_program(balance.program),
        period_start: to_date(balance.period.first),
        period_end: to_date(balance.period.last),
        cap: Some(to_money(balance.cap)),
        committed: Some(to_money(balance.committed)),
        redeemed: Some(to_money(balance.redeemed)),
        available_to_issue: Some(to_money(balance.available_to_issue)),
        outstanding: Some(to_money(balance.outstanding)),
        redeemed_by_year: balance
            .redeemed_by_year
            .iter()
            .map(|(year, redeemed)| pb::YearTotal {
                year: *year,
                redeemed: Some(to_money(*redeemed)),
            })
            .collect(),
    }
}

pub fn to_program_summary(summary: &ProgramSummary) -> pb::ProgramSummaryResponse {
    pb::ProgramSummaryResponse {
        program: to_program(summary.program_period.program),
        period_start: to_date(summary.period.first),
        period_end: to_date(summary.period.last),
        cap_per_enterprise: Some(to_money(summary.cap)),
        enterprises: summary.totals.enterprises,
        vouchers: summary.totals.vouchers,
        committed: Some(total_to_money(summary.totals.committed)),
        redeemed: Some(total_to_money(summary.totals.redeemed)),
        reversed: Some(total_to_money(summary.totals.reversed)),
        rejected: Some(total_to_money(summary.totals.rejected)),
        settled: Some(total_to_money(summary.totals.settled)),
        budget: summary.budget.map(to_money),
        redemptions: summary.totals.redemptions,
        providers: summary
            .providers
            .iter()
            .map(|(code, name, totals)| pb::ProviderTotal {
                provider_credit_code: code.to_string(),
                provider_name: name.clone(),
                redemptions: totals.redemptions,
                redeemed: Some(total_to_money(totals.redeemed)),
                reversed: Some(total_to_money(totals.reversed)),
                rejected: Some(total_to_money(totals.rejected)),
                settled: Some(total_to_money(totals.settled)),
            })
            .collect(),
        providers_truncated: summary.providers_truncated,
    }
}
