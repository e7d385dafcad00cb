//! Commands: what a caller asks the ledger to change, already checked at the boundary.
//!
//! A command holds only valid values; the ledger decides whether the rules allow it.

use std::collections::BTreeSet;

use super::credit_code::CreditCode;
use super::dates::DateRange;
use super::ids::{ApplicationId, RedemptionId, SettlementId, TokenId, VoucherId};
use super::money::Money;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::model::{Actor, Evidence, Invoice, IssueVoucherRequest, Role, SecretHash, Sha256Hex};
use super::policy::ProgramCode;
use super::text::{Description, Name, Reason, Reference, RequestId};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    RegisterEnterprise {
        credit_code: CreditCode,
        name: Name,
        check_digit_override_reason: Option<Reason>,
    },
    RegisterProvider {
        credit_code: CreditCode,
        name: Name,
        program: ProgramCode,
        check_digit_override_reason: Option<Reason>,
    },
    CreateToken {
        role: Role,
        provider_credit_code: Option<CreditCode>,
        enterprise_credit_code: Option<CreditCode>,
        /// A bureau token's programs; empty: every program.
        programs: BTreeSet<ProgramCode>,
        description: Option<Description>,
        /// The hash of a secret the caller generated and will show once.
        secret_sha256: SecretHash,
    },
    RevokeToken {
        token_id: TokenId,
    },
    IssueVoucher(IssueVoucherRequest),
    RevokeVoucher {
        voucher_id: VoucherId,
        reason: Reason,
    },
    Redeem(RedeemCommand),
    ReverseRedemption {
        redemption_id: RedemptionId,
        reason: Reason,
        actor: Actor,
    },
    /// The bureau's review: the claim may be settled.
    ApproveRedemption {
        redemption_id: RedemptionId,
    },
    /// The bureau's review: the claim is refused, its subsidy released.
    RejectRedemption {
        redemption_id: RedemptionId,
        reason: Reason,
    },
    CreateSettlement(SettlementRequest),
    /// The bureau records that a statement's net was paid (拨付).
    RecordSettlementPayment {
        settlement_id: SettlementId,
        bank_reference: Reference,
        paid_on: NaiveDate,
    },
    RecordRelatedParties {
        provider_credit_code: CreditCode,
        enterprise_credit_code: CreditCode,
        reason: Reason,
    },
    /// Nothing the provider asks is accepted, however it authenticates, until reinstated.
    SuspendProvider {
        provider_credit_code: CreditCode,
        reason: Reason,
    },
    ReinstateProvider {
        provider_credit_code: CreditCode,
    },
    /// Only pinned certificates identify the provider once one is pinned.
    PinProviderCertificate {
        provider_credit_code: CreditCode,
        certificate_sha256: Sha256Hex,
    },
    RevokeProviderCertificate {
        provider_credit_code: CreditCode,
        certificate_sha256: Sha256Hex,
    },
    /// An enterprise applies for a voucher (申领).
    ApplyForVoucher(ApplicationRequest),
    /// The bureau issues the voucher an application asked for, at most its amount.
    ApproveApplication {
        application_id: ApplicationId,
        face_value: Option<Money>,
    },
    RejectApplication {
        application_id: ApplicationId,
        reason: Reason,
    },
    /// The bureau changes which providers may redeem a voucher (empty: any of its program).
    ChangeVoucherProviders {
        voucher_id: VoucherId,
        provider_credit_codes: BTreeSet<CreditCode>,
        reason: Reason,
    },
    /// The enterprise confirms a claim made in its name.
    ConfirmRedemption {
        redemption_id: RedemptionId,
        enterprise_credit_code: CreditCode,
    },
    /// The enterprise disputes a claim made in its name.
    DisputeRedemption {
        redemption_id: RedemptionId,
        enterprise_credit_code: CreditCode,
        reason: Reason,
    },
    /// The bureau sends a claim back for correction.
    ReturnRedemption {
        redemption_id: RedemptionId,
        reason: Reason,
    },
    PublishNotice(NoticeRequest),
}

impl Command {
    /// A short name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Command::RegisterEnterprise { .. } => "register_enterprise",
            Command::RegisterProvider { .. } => "register_provider",
            Command::CreateToken { .. } => "create_token",
            Command::RevokeToken { .. } => "revoke_token",
            Command::IssueVoucher(_) => "issue_voucher",
            Command::RevokeVoucher { .. } => "revoke_voucher",
            Command::Redeem(_) => "redeem",
            Command::ReverseRedemption { .. } => "reverse_redemption",
            Command::ApproveRedemption { .. } => "approve_redemption",
            Command::RejectRedemption { .. } => "reject_redemption",
            Command::CreateSettlement(_) => "create_settlement",
            Command::RecordSettlementPayment { .. } => "record_settlement_payment",
            Command::RecordRelatedParties { .. } => "record_related_parties",
            Command::SuspendProvider { .. } => "suspend_provider",
            Command::ReinstateProvider { .. } => "reinstate_provider",
            Command::PinProviderCertificate { .. } => "pin_provider_certificate",
            Command::RevokeProviderCertificate { .. } => "revoke_provider_certificate",
            Command::ApplyForVoucher(_) => "apply_for_voucher",
            Command::ApproveApplication { .. } => "approve_application",
            Command::RejectApplication { .. } => "reject_application",
            Command::ChangeVoucherProviders { .. } => "change_voucher_providers",
            Command::ConfirmRedemption { .. } => "confirm_redemption",
            Command::DisputeRedemption { .. } => "dispute_redemption",
            Command::ReturnRedemption { .. } => "return_redemption",
            Command::PublishNotice(_) => "publish_notice",
        }
    }
}

/// A provider's claim on a voucher for one invoice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedeemCommand {
    pub voucher_id: VoucherId,
    /// The seller: from the provider's token, or named by the bureau.
    pub provider_credit_code: CreditCode,
    /// The buyer on the invoice.
    pub enterprise_credit_code: CreditCode,
    pub invoice: Invoice,
    pub allow_partial: bool,
    pub evidence: Vec<Evidence>,
}

/// Settle a provider's approved claims under one program with invoices up to a date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementRequest {
    pub request_id: RequestId,
    pub provider_credit_code: CreditCode,
    pub program: ProgramCode,
    pub up_to: NaiveDate,
}

/// What an enterprise asks for when it applies for a voucher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationRequest {
    pub request_id: RequestId,
    pub enterprise_credit_code: CreditCode,
    pub program: ProgramCode,
    pub amount: Money,
    pub provider_credit_codes: BTreeSet<CreditCode>,
    pub contract_number: Reference,
    pub contract_sha256: Sha256Hex,
    pub purpose: Reason,
    pub other_subsidies: Option<Description>,
}

/// A public notice of the named approved claims of one program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeRequest {
    pub program: ProgramCode,
    /// The period the claims were approved in, as the notice states it.
    pub approved_in: DateRange,
    /// The days it is posted.
    pub posted: DateRange,
    pub redemption_ids: Vec<RedemptionId>,
}
