//! The caller of the call being served, and the program checks of reads: a bureau token scoped
//! to programs reads only in them.

use tonic::Status;

use crate::domain::error::LedgerError;
use crate::domain::model::Caller as LedgerCaller;
use crate::domain::policy::ProgramCode;

tokio::task_local! {
    /// The caller of the call being served, as the ledger sees it (its actor, the programs its
    /// token acts in, how its events name it): set by [`LedgerService::serve`] for the whole
    /// call, read by [`LedgerService::execute`] and by the program checks of reads, so no
    /// handler can submit a command in anyone else's name.
    pub(super) static LEDGER_CALLER: LedgerCaller;
}

/// Fails unless the caller acts in `program`: a bureau token scoped to programs reads only
/// in them (PERMISSION_DENIED, naming the program).
pub(super) fn check_program(program: ProgramCode) -> Result<(), Status> {
    let acts_in = LEDGER_CALLER
        .try_with(|caller| caller.acts_in(program))
        .unwrap_or(false);
    if acts_in {
        return Ok(());
    }
    Err(Status::from(LedgerError::permission_denied(format!(
        "this token does not act in {program}"
    ))))
}

/// The program filter of a list, for the caller: a bureau token scoped to one program lists
/// only in it; one naming a program outside its scope is refused.
pub(super) fn scoped_filter(filter: Option<ProgramCode>) -> Result<Option<ProgramCode>, Status> {
    let programs = LEDGER_CALLER
        .try_with(|caller| caller.programs.clone())
        .unwrap_or_default();
    match filter {
        Some(program) => check_program(program).map(|()| Some(program)),
        None if programs.len() == 1 => Ok(programs.first().copied()),
        None => Ok(None),
    }
}

/// Whether the caller acts in `program` (for filtering a page of a token scoped to several).
pub(super) fn in_scope(program: ProgramCode) -> bool {
    LEDGER_CALLER
        .try_with(|caller| caller.acts_in(program))
        .unwrap_or(false)
}

/// Fails for a token scoped to programs: the whole log holds every program's events.
pub(super) fn check_unscoped(what: &str) -> Result<(), Status> {
    let scoped = LEDGER_CALLER
        .try_with(|caller| !caller.programs.is_empty())
        .unwrap_or(true);
    if scoped {
        return Err(Status::from(LedgerError::permission_denied(format!(
            "a token scoped to programs reads their records, not {what}"
        ))));
    }
    Ok(())
}
