//! The one mapping from ledger errors to gRPC statuses.
//!
//! Every refusal carries a `google.rpc.ErrorInfo` with a stable UPPER_SNAKE reason; invalid
//! input also carries a `google.rpc.BadRequest` naming the field. Internal errors are logged
//! here and reach the caller only as "internal error".

use crate::domain::reason::ReasonCode;
use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::error::LedgerError;
use crate::domain::model::AccessRefusal;
use crate::engine::EngineError;

/// The `domain` of every ErrorInfo this service sends.
pub const ERROR_DOMAIN: &str = "voucher.qidong.gov.cn";

pub fn to_status(error: EngineError) -> Status {
    match error {
        EngineError::Ledger(ledger_error) => ledger_status(ledger_error),
        EngineError::Overloaded => overloaded("the ledger's write queue is full: retry shortly"),
        EngineError::Unavailable => with_reason(
            Code::Unavailable,
            ReasonCode::NotAcceptingWrites,
            "the ledger is not accepting writes",
            HashMap::new(),
        ),
        EngineError::NotLeader { leader_address } => {
            let message = EngineError::NotLeader {
                leader_address: leader_address.clone(),
            }
            .to_string();
            let metadata = leader_address
                .map(|address| HashMap::from([("leader".to_owned(), address)]))
                .unwrap_or_default();
            with_reason(Code::Unavailable, ReasonCode::NotLeader, &message, metadata)
        }
        EngineError::Store(store_error) => {
            tracing::error!(error = %store_error, "store error while serving a request");
            Status::internal("internal error")
        }
    }
}

pub fn ledger_status(error: LedgerError) -> Status {
    let reason = error.reason();
    match error {
        LedgerError::InvalidArgument { field, message, .. } => {
            let mut details = ErrorDetails::with_error_info(
                reason.as_str(),
                ERROR_DOMAIN,
                HashMap::from([("field".to_owned(), field.to_owned())]),
            );
            details.add_bad_request_violation(field, message.clone());
            Status::with_error_details(
                Code::InvalidArgument,
                format!("{field}: {message}"),
                details,
            )
        }
        LedgerError::NotFound { field, message } => with_reason(
            Code::NotFound,
            reason,
            &message,
            HashMap::from([("field".to_owned(), field.to_owned())]),
        ),
        LedgerError::AlreadyExists { message, .. } => {
            with_reason(Code::AlreadyExists, reason, &message, HashMap::new())
        }
        LedgerError::Refused(refusal) => {
            let metadata = refusal
                .remaining
                .map(|remaining| {
                    HashMap::from([("remainingCny".to_owned(), remaining.to_string())])
                })
                .unwrap_or_default();
            with_reason(Code::FailedPrecondition, reason, &refusal.message, metadata)
        }
        LedgerError::PermissionDenied { message } => {
            with_reason(Code::PermissionDenied, reason, &message, HashMap::new())
        }
    }
}

/// What the parsers and the ledger refuse reaches the wire through [`ledger_status`] alone.
impl From<LedgerError> for Status {
    fn from(error: LedgerError) -> Status {
        ledger_status(error)
    }
}

pub fn overloaded(message: &str) -> Status {
    with_reason(
        Code::ResourceExhausted,
        ReasonCode::Overloaded,
        message,
        HashMap::new(),
    )
}

pub fn unauthenticated(message: &str) -> Status {
    with_reason(
        Code::Unauthenticated,
        ReasonCode::Unauthenticated,
        message,
        HashMap::new(),
    )
}

pub fn permission_denied(message: &str) -> Status {
    with_reason(
        Code::PermissionDenied,
        ReasonCode::PermissionDenied,
        message,
        HashMap::new(),
    )
}

/// An address that failed to authenticate too often lately: told how long to wait, and
/// nothing else (its token was not read).
pub fn too_many_failures(wait: std::time::Duration) -> Status {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    with_reason(
        Code::ResourceExhausted,
        ReasonCode::TooManyFailedAttempts,
        &format!("too many failed authentications from this address: retry in {seconds} s"),
        HashMap::from([("retryAfterSeconds".to_owned(), seconds.to_string())]),
    )
}

/// A provider the bureau has suspended, or a client certificate it has revoked or not pinned.
pub fn access_refused(refusal: AccessRefusal) -> Status {
    let (code, reason, message) = match refusal {
        AccessRefusal::Suspended => (
            Code::PermissionDenied,
            ReasonCode::ProviderSuspended,
            "the bureau has suspended this provider: nothing it asks is accepted until it is reinstated",
        ),
        AccessRefusal::CertificateRevoked => (
            Code::Unauthenticated,
            ReasonCode::CertificateRevoked,
            "the client certificate was revoked by the bureau",
        ),
        AccessRefusal::CertificateNotPinned => (
            Code::Unauthenticated,
            ReasonCode::CertificateNotPinned,
            "the client certificate is not one the bureau pinned for this provider",
        ),
    };
    with_reason(code, reason, message, HashMap::new())
}

/// A status of `code` whose ErrorInfo carries `reason`: every status this service makes
/// with a reason is made here.
pub fn with_reason(
    code: Code,
    reason: ReasonCode,
    message: &str,
    metadata: HashMap<String, String>,
) -> Status {
    Status::with_error_details(
        code,
        message,
        ErrorDetails::with_error_info(reason.as_str(), ERROR_DOMAIN, metadata),
    )
}

#[cfg(test)]
mod reason_list_tests {
    use std::collections::BTreeSet;

    use crate::domain::reason::ReasonCode;

    /// The reasons the proto's header lists: lines `//   WORD: meaning` before `syntax`.
    fn listed_in_the_proto() -> BTreeSet<String> {
        let proto = include_str!("../../proto/voucher/v1/ledger.proto");
        let header = proto.split("syntax = ").next().unwrap_or_default();
        header
            .lines()
            .filter_map(|line| line.strip_prefix("//   "))
            .filter_map(|entry| entry.split_once(": "))
            .map(|(word, _)| word)
            .filter(|word| {
                word.bytes()
                    .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b'_')
            })
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn the_proto_lists_exactly_the_reasons_the_service_sends() {
        let in_code: BTreeSet<String> = ReasonCode::ALL
            .iter()
            .map(|reason| reason.as_str().to_owned())
            .collect();
        let in_proto = listed_in_the_proto();
        assert!(
            in_proto.len() > 50,
            "the proto's list was found: {in_proto:?}"
        );
        assert_eq!(
            in_code.difference(&in_proto).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "reasons the code sends that the proto does not list"
        );
        assert_eq!(
            in_proto.difference(&in_code).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "reasons the proto lists that the code does not have"
        );
    }
}
