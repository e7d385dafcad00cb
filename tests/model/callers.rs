//! Who submits each command (issue 15): the ledger itself, three bureau tokens (a clerk acting
//! in every program, one acting in compute only, one in leasing only), the finance bureau, and
//! each provider's and each enterprise's own token. `By` is what an op names; `Who` the caller
//! it resolves to, as the model sees it (its token, role and programs) and as the engine is
//! sent it (`Who::caller`). The tokens are not in the ledger: the engine takes the caller the
//! harness gives it, as it takes the one the server authenticated.

use std::collections::BTreeSet;

use voucher_ledger::domain::ids::TokenId;
use voucher_ledger::domain::model::{Actor, Caller, CallerStamp, EventCause, Role};
use voucher_ledger::domain::policy::ProgramCode;

use crate::harness::code;
use crate::rules::{ENTERPRISES, SELLERS};

/// The caller an op names, when it is not the command's own: the bureau's callers and the
/// finance bureau. (An op that names none is sent by its natural caller: a bureau command by
/// the ledger, a claim or a provider's reversal by the provider's token, an enterprise's
/// command by the enterprise's token.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    Ledger,
    /// A bureau token acting in every program.
    Clerk,
    /// A bureau token scoped to compute.
    ComputeClerk,
    /// A bureau token scoped to leasing.
    LeasingClerk,
    Finance,
}

/// A caller, resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    Ledger,
    Clerk,
    ComputeClerk,
    LeasingClerk,
    Finance,
    /// A provider's token (the credit code it is bound to).
    Provider(&'static str),
    /// An enterprise's token.
    Enterprise(&'static str),
}

impl From<By> for Who {
    fn from(by: By) -> Who {
        match by {
            By::Ledger => Who::Ledger,
            By::Clerk => Who::Clerk,
            By::ComputeClerk => Who::ComputeClerk,
            By::LeasingClerk => Who::LeasingClerk,
            By::Finance => Who::Finance,
        }
    }
}

/// The number of the token a party's caller holds: 9101 on for the sellers, 9201 on for the
/// enterprises, 9199 and 9299 for a code that is neither.
fn party_token(code: &str, codes: &[&str], first: u64) -> u64 {
    codes
        .iter()
        .position(|known| *known == code)
        .map_or(first + 98, |index| first + index as u64)
}

pub fn token_id_text(number: u64) -> String {
    format!("T{number:012}")
}

impl Who {
    /// The token it holds (none for the ledger). Far above the tokens a history creates.
    pub fn token(self) -> Option<u64> {
        Some(match self {
            Who::Ledger => return None,
            Who::Clerk => 9001,
            Who::ComputeClerk => 9002,
            Who::LeasingClerk => 9003,
            Who::Finance => 9004,
            Who::Provider(provider) => {
                let sellers: Vec<&str> = SELLERS.iter().map(|(seller, _)| *seller).collect();
                party_token(provider, &sellers, 9101)
            }
            Who::Enterprise(enterprise) => party_token(enterprise, &ENTERPRISES, 9201),
        })
    }

    pub fn role(self) -> Role {
        match self {
            Who::Ledger | Who::Clerk | Who::ComputeClerk | Who::LeasingClerk => Role::Bureau,
            Who::Finance => Role::Finance,
            Who::Provider(_) => Role::Provider,
            Who::Enterprise(_) => Role::Enterprise,
        }
    }

    /// The programs a bureau token is scoped to; empty: every program.
    pub fn programs(self) -> &'static [ProgramCode] {
        match self {
            Who::ComputeClerk => &[ProgramCode::Compute],
            Who::LeasingClerk => &[ProgramCode::Leasing],
            _ => &[],
        }
    }

    /// Whether it acts in `program`.
    pub fn acts_in(self, program: ProgramCode) -> bool {
        self.programs().is_empty() || self.programs().contains(&program)
    }

    /// How a record names it: "ledger", or its token and role.
    pub fn text(self) -> String {
        match self.token() {
            None => "ledger".to_owned(),
            Some(token) => format!("{} {}", token_id_text(token), self.role().as_str()),
        }
    }

    /// The caller the engine is sent.
    pub fn caller(self) -> Caller {
        let actor = match self {
            Who::Ledger => return Caller::ledger(),
            Who::Clerk | Who::ComputeClerk | Who::LeasingClerk => Actor::Bureau,
            Who::Finance => Actor::Finance,
            Who::Provider(provider) => Actor::Provider(code(provider)),
            Who::Enterprise(enterprise) => Actor::Enterprise(code(enterprise)),
        };
        let token = self.token().map(|number| {
            TokenId::parse(&token_id_text(number)).expect("a token id the engine reads")
        });
        Caller {
            actor,
            programs: self.programs().iter().copied().collect::<BTreeSet<_>>(),
            cause: EventCause::Caller(CallerStamp {
                token_id: token,
                role: self.role(),
                certificate_subject: None,
            }),
        }
    }
}

/// How the engine's record names who made a step, in the model's words ([`Who::text`]).
pub fn cause_text(cause: &EventCause) -> String {
    match cause {
        EventCause::Unrecorded => "unrecorded".to_owned(),
        EventCause::Ledger => "ledger".to_owned(),
        EventCause::Caller(stamp) => {
            let token = stamp
                .token_id
                .map_or_else(|| "no token".to_owned(), |token| token.to_string());
            match &stamp.certificate_subject {
                None => format!("{token} {}", stamp.role.as_str()),
                Some(subject) => format!("{token} {} ({subject})", stamp.role.as_str()),
            }
        }
    }
}
