//! The one error type of the ledger, classified by what the caller should do about it.
//!
//! `api` maps each variant to one gRPC code and each reason to a `google.rpc.ErrorInfo`; no
//! other module decides how an error looks on the wire.

use std::fmt;

use super::money::Money;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// Malformed input: fix the named field and send again.
    #[error("{field}: {message}")]
    InvalidArgument {
        field: &'static str,
        reason: &'static str,
        message: String,
    },
    /// No such thing: check the named field.
    #[error("{field}: {message}")]
    NotFound {
        field: &'static str,
        message: String,
    },
    /// The thing exists already with other contents: do not retry with this payload.
    #[error("{message}")]
    AlreadyExists {
        reason: &'static str,
        message: String,
    },
    /// The rules refuse it in the ledger's present state: retrying will not help until it changes.
    #[error("{0}")]
    Refused(Refusal),
    /// The caller's role may not do this.
    #[error("{message}")]
    PermissionDenied { message: String },
}

impl LedgerError {
    pub fn not_found(field: &'static str, message: impl Into<String>) -> LedgerError {
        LedgerError::NotFound {
            field,
            message: message.into(),
        }
    }

    pub fn already_exists(reason: &'static str, message: impl Into<String>) -> LedgerError {
        LedgerError::AlreadyExists {
            reason,
            message: message.into(),
        }
    }

    pub fn refused(reason: RefusalReason, message: impl Into<String>) -> LedgerError {
        LedgerError::Refused(Refusal {
            reason,
            message: message.into(),
            remaining: None,
        })
    }

    /// A refusal that tells the caller how much is left.
    pub fn refused_with_remaining(
        reason: RefusalReason,
        message: impl Into<String>,
        remaining: Money,
    ) -> LedgerError {
        LedgerError::Refused(Refusal {
            reason,
            message: message.into(),
            remaining: Some(remaining),
        })
    }

    pub fn permission_denied(message: impl Into<String>) -> LedgerError {
        LedgerError::PermissionDenied {
            message: message.into(),
        }
    }

    /// The stable UPPER_SNAKE reason the wire carries.
    pub fn reason(&self) -> &'static str {
        match self {
            LedgerError::InvalidArgument { reason, .. } => reason,
            LedgerError::NotFound { .. } => "NOT_FOUND",
            LedgerError::AlreadyExists { reason, .. } => reason,
            LedgerError::Refused(refusal) => refusal.reason.as_str(),
            LedgerError::PermissionDenied { .. } => "PERMISSION_DENIED",
        }
    }
}

/// Why the rules refused a command (FAILED_PRECONDITION).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: RefusalReason,
    pub message: String,
    /// What is left under the cap or on the voucher, where that is the trouble.
    pub remaining: Option<Money>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefusalReason {
    /// The enterprise's cap for the period would be passed.
    CapExceeded,
    /// The voucher's remaining value would be passed.
    VoucherBalanceExceeded,
    /// The voucher is revoked or expired.
    VoucherNotActive,
    InvoiceDateOutsideValidity,
    InvoiceDateInFuture,
    /// A date falls outside the policy term.
    OutsidePolicyTerm,
    /// The provider redeems another program's voucher.
    ProgramMismatch,
    /// The provider is the enterprise.
    SelfDealing,
    /// A voucher being issued would already be past its redemption deadline.
    RedeemDeadlinePassed,
    /// Revoking this token would leave nobody able to administer the ledger.
    LastBureauToken,
    /// The program's budget for the period would be passed.
    BudgetExceeded,
    /// The provider and the enterprise are related parties (关联方).
    RelatedParty,
    /// The policy requires documents the claim does not carry.
    EvidenceRequired,
    /// The redemption is not in a state this step applies to (e.g. approving a rejected one).
    RedemptionNotOpen,
    /// A settlement would hold no claim and no clawback.
    NothingToSettle,
    /// A payment dated in the future, or before its statement was made.
    PaymentDateOutOfRange,
    /// The bureau suspended the provider.
    ProviderSuspended,
    /// A revoked certificate cannot be pinned again.
    CertificateRevoked,
}

impl RefusalReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::CapExceeded => "CAP_EXCEEDED",
            RefusalReason::VoucherBalanceExceeded => "VOUCHER_BALANCE_EXCEEDED",
            RefusalReason::VoucherNotActive => "VOUCHER_NOT_ACTIVE",
            RefusalReason::InvoiceDateOutsideValidity => "INVOICE_DATE_OUTSIDE_VALIDITY",
            RefusalReason::InvoiceDateInFuture => "INVOICE_DATE_IN_FUTURE",
            RefusalReason::OutsidePolicyTerm => "OUTSIDE_POLICY_TERM",
            RefusalReason::ProgramMismatch => "PROGRAM_MISMATCH",
            RefusalReason::SelfDealing => "SELF_DEALING",
            RefusalReason::RedeemDeadlinePassed => "REDEEM_DEADLINE_PASSED",
            RefusalReason::LastBureauToken => "LAST_BUREAU_TOKEN",
            RefusalReason::BudgetExceeded => "BUDGET_EXCEEDED",
            RefusalReason::RelatedParty => "RELATED_PARTY",
            RefusalReason::EvidenceRequired => "EVIDENCE_REQUIRED",
            RefusalReason::RedemptionNotOpen => "REDEMPTION_NOT_OPEN",
            RefusalReason::NothingToSettle => "NOTHING_TO_SETTLE",
            RefusalReason::PaymentDateOutOfRange => "PAYMENT_DATE_OUT_OF_RANGE",
            RefusalReason::ProviderSuspended => "PROVIDER_SUSPENDED",
            RefusalReason::CertificateRevoked => "CERTIFICATE_REVOKED",
        }
    }
}
