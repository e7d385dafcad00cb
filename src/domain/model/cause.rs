//! Who caused an event (issue 15): as the log records it, and as a command is submitted.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{Actor, Role};
use crate::domain::ids::TokenId;
use crate::domain::policy::ProgramCode;

/// Who caused an event, as its record in the log says (event format 5 on).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventCause {
    /// Written before the log recorded who (event formats 1 to 4).
    #[default]
    Unrecorded,
    /// The ledger itself: an expiry, a policy adopted at start, the bootstrap token.
    Ledger,
    /// A caller.
    Caller(CallerStamp),
}

/// A caller as the log records it: its token (none for a client certificate alone), its
/// role, and the subject of the client certificate it came with.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CallerStamp {
    pub token_id: Option<TokenId>,
    pub role: Role,
    pub certificate_subject: Option<String>,
}

impl EventCause {
    /// The token that caused it, if a caller with a token did.
    pub fn token_id(&self) -> Option<TokenId> {
        match self {
            EventCause::Caller(stamp) => stamp.token_id,
            _ => None,
        }
    }
}

/// Who submits a command: what it may do ([`Actor`]), the programs a bureau token acts in
/// (empty: all), and how its events will name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub actor: Actor,
    pub programs: BTreeSet<ProgramCode>,
    pub cause: EventCause,
}

impl Caller {
    /// The ledger itself (start-up, the bootstrap token, drills and tests that act as the
    /// unscoped bureau).
    pub fn ledger() -> Caller {
        Caller {
            actor: Actor::Bureau,
            programs: BTreeSet::new(),
            cause: EventCause::Ledger,
        }
    }

    /// Whether the caller acts in `program`.
    pub fn acts_in(&self, program: ProgramCode) -> bool {
        self.programs.is_empty() || self.programs.contains(&program)
    }
}
