//! Argument types and parsers that several groups of commands share: the program, the paging
//! options of every list, yuan amounts and days checked before anything is sent, and the
//! idempotency key of the commands that take `--request-id`.

use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use tonic::{Code, Status};
use voucher_ledger::domain::money::Money;
use voucher_ledger::domain::typed;
use voucher_ledger::proto::voucher::v1 as pb;

use crate::Failure;

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ProgramArgument {
    /// 算力券
    Compute,
    /// 租赁券
    Leasing,
    /// 语料补贴 (only if the policy file opens it)
    Corpus,
}

impl ProgramArgument {
    pub fn wire(self) -> i32 {
        let program = match self {
            ProgramArgument::Compute => pb::Program::Compute,
            ProgramArgument::Leasing => pb::Program::Leasing,
            ProgramArgument::Corpus => pb::Program::Corpus,
        };
        program as i32
    }
}

/// A program filter: every program when absent.
pub fn optional_program(program: Option<ProgramArgument>) -> i32 {
    program.map_or(pb::Program::Unspecified as i32, ProgramArgument::wire)
}

#[derive(Args, Debug)]
pub struct Paging {
    /// Results per page, 1 to 1000 (the server's default is 100).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub page_size: Option<i32>,
    /// Continue from a previous reply's next_page_token.
    #[arg(long, value_name = "TOKEN")]
    pub page_token: Option<String>,
    /// Follow next_page_token to the end (at most 1,000 pages).
    #[arg(long)]
    pub all: bool,
}

impl Paging {
    /// The page size to ask for: 0 leaves it to the server.
    pub fn page_size(&self) -> i32 {
        self.page_size.unwrap_or(0)
    }
}

/// Yuan as people type them: `12,345.67`, `¥30万`, `1.5万元`, full-width digits.
pub fn parse_yuan(text: &str) -> Result<Money, String> {
    typed::amount_as_typed(text).map_err(|error| error.message)
}

/// A day as `2026-11-30`, `2026/11/30` or `2026年11月30日`, full-width digits too.
pub fn parse_day(text: &str) -> Result<NaiveDate, String> {
    typed::date_as_typed(text).map_err(|error| error.message)
}

/// An id or credit code in any case and width (`v000000000001`); the server checks its shape.
pub fn parse_code(text: &str) -> Result<String, String> {
    Ok(typed::id_as_typed(text))
}

/// The `--request-id` given, or a fresh UUID (printed with the reply, to retry with).
pub fn request_id_or_new(request_id: Option<String>) -> String {
    request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// A failed call of a command idempotent by `request_id`: when its outcome is unknown (the
/// ledger may have done it), the failure says how to retry without `doing` it twice.
pub fn unsettled_failure(status: Status, request_id: &str, doing: &str) -> Failure {
    let note = outcome_unsettled(&status).then(|| {
        format!(
            "request_id was {request_id}; to retry without risk of {doing} twice, \
             repeat the command with --request-id {request_id}"
        )
    });
    Failure::Call { status, note }
}

/// False for refusals that the same request would meet again: retrying them is pointless.
fn outcome_unsettled(status: &Status) -> bool {
    !matches!(
        status.code(),
        Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::Unauthenticated
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unknown_outcome_says_how_to_retry() {
        let note =
            |status: Status| match unsettled_failure(status, "golden-s1", "making a statement") {
                Failure::Call { note, .. } => note,
                other => panic!("not a call failure: {other:?}"),
            };
        let unavailable = note(Status::unavailable("connection reset")).expect("a note");
        assert!(
            unavailable.contains("--request-id golden-s1"),
            "{unavailable}"
        );
        assert!(
            unavailable.contains("making a statement twice"),
            "{unavailable}"
        );
        assert_eq!(note(Status::failed_precondition("NOTHING_TO_SETTLE")), None);
    }
}
