//! The one error type of the ledger, classified by what the caller should do about it.
//!
//! `api` maps each variant to one gRPC code and each reason to a `google.rpc.ErrorInfo`; no
//! other module decides how an error looks on the wire.

use std::fmt;

use super::money::Money;
use super::reason::ReasonCode;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// Malformed input: fix the named field and send again.
    #[error("{field}: {message}")]
    InvalidArgument {
        field: &'static str,
        reason: ReasonCode,
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
    AlreadyExists { reason: ReasonCode, message: String },
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

    pub fn already_exists(reason: ReasonCode, message: impl Into<String>) -> LedgerError {
        LedgerError::AlreadyExists {
            reason,
            message: message.into(),
        }
    }

    pub fn refused(reason: ReasonCode, message: impl Into<String>) -> LedgerError {
        LedgerError::Refused(Refusal {
            reason,
            message: message.into(),
            remaining: None,
        })
    }

    /// A refusal that tells the caller how much is left.
    pub fn refused_with_remaining(
        reason: ReasonCode,
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

    /// The reason the wire carries.
    pub fn reason(&self) -> ReasonCode {
        match self {
            LedgerError::InvalidArgument { reason, .. } => *reason,
            LedgerError::NotFound { .. } => ReasonCode::NotFound,
            LedgerError::AlreadyExists { reason, .. } => *reason,
            LedgerError::Refused(refusal) => refusal.reason,
            LedgerError::PermissionDenied { .. } => ReasonCode::PermissionDenied,
        }
    }
}

/// Why the rules refused a command (FAILED_PRECONDITION).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: ReasonCode,
    pub message: String,
    /// What is left under the cap or on the voucher, where that is the trouble.
    pub remaining: Option<Money>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}
