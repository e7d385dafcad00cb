//! Who may do what (issue 15), as the model reads the rules: the finance bureau only records
//! payments; a bureau token scoped to programs acts only in them (a command naming a record
//! that does not exist is left to the rules) and makes or revokes no token wider than itself;
//! with separation of duties, payments are the finance bureau's alone, a claim is approved by
//! another token than the one that filed it, and a statement is made by another token than any
//! that approved a claim it gathers. These checks come before each command's own. And the
//! commands that only the duties concern here: tokens created and revoked, parties registered
//! again.

use voucher_ledger::domain::model::Role;
use voucher_ledger::domain::policy::ProgramCode;

use super::{Model, ModelToken};
use crate::answers::{Answer, refused};
use crate::callers::Who;
use crate::ops::SettlePayload;
use crate::rules::{ENTERPRISES, SELLERS, SETTLEMENT_LINES_MAX, provider_program};
use crate::runner::count;

/// What a command is, as far as the duties are concerned.
#[derive(Clone, Copy, Debug)]
pub enum Deed<'a> {
    /// A command acting in a program: the one it names, or that of the record it names (none
    /// when that record does not exist).
    In(Option<ProgramCode>),
    /// Approving claim number n.
    Approve(u64),
    Settle(&'a SettlePayload),
    /// Paying statement number n.
    Pay(u64),
    RegisterEnterprise,
    CreateToken(&'a ModelToken),
    /// Revoking token number n.
    RevokeToken(u64),
}

impl Model {
    /// PERMISSION_DENIED when `by` may not do `deed`; none when it may.
    pub fn check_duties(&self, by: Who, deed: Deed<'_>) -> Option<Answer> {
        let rule = if by == Who::Finance && !matches!(deed, Deed::Pay(_)) {
            "the finance bureau only pays"
        } else if !by.programs().is_empty() && !self.within_scope(by, deed) {
            "outside the caller's programs"
        } else if self.separated && self.separates(by, deed) {
            match deed {
                Deed::Pay(_) => "separated: a payment not by the finance bureau",
                Deed::Approve(_) => "separated: approving a claim it filed",
                _ => "separated: a statement of claims it approved",
            }
        } else {
            return None;
        };
        count(&format!("PERMISSION_DENIED: {rule}"));
        Some(refused("PERMISSION_DENIED"))
    }

    fn within_scope(&self, by: Who, deed: Deed<'_>) -> bool {
        match deed {
            Deed::CreateToken(token) => token_within(by, token),
            Deed::RevokeToken(number) => self.token(number).is_none_or(|t| token_within(by, t)),
            Deed::RegisterEnterprise => true,
            Deed::In(program) => program.is_none_or(|program| by.acts_in(program)),
            Deed::Approve(number) => self
                .redemption_index(number)
                .is_none_or(|index| by.acts_in(self.redemptions[index].program)),
            Deed::Settle(payload) => by.acts_in(payload.program),
            Deed::Pay(number) => self
                .statement(number)
                .is_none_or(|statement| by.acts_in(statement.payload.program)),
        }
    }

    fn separates(&self, by: Who, deed: Deed<'_>) -> bool {
        let token = by.token();
        match deed {
            Deed::Pay(_) => by != Who::Finance,
            Deed::Approve(number) => {
                token.is_some()
                    && self.redemption_index(number).is_some_and(|index| {
                        self.redemptions[index].steps.redeemed_by.token() == token
                    })
            }
            // A retry of a statement already made answers it, whoever approved since.
            Deed::Settle(payload) => {
                token.is_some()
                    && !self.settled_requests.contains_key(&payload.request_id)
                    && self
                        .gathered(payload)
                        .into_iter()
                        .take(SETTLEMENT_LINES_MAX)
                        .any(|index| {
                            self.redemptions[index]
                                .steps
                                .approved_by
                                .and_then(Who::token)
                                == token
                        })
            }
            _ => false,
        }
    }

    pub fn token(&self, number: u64) -> Option<&ModelToken> {
        let index = usize::try_from(number).ok()?.checked_sub(1)?;
        self.tokens.get(index)
    }

    /// CreateToken: an enterprise's token names a registered enterprise, a provider's a
    /// registered provider (NOT_FOUND).
    pub fn create_token(&mut self, mut token: ModelToken, by: Who) -> Answer {
        token.number = Model::next_number(self.tokens.len());
        if let Some(refusal) = self.check_duties(by, Deed::CreateToken(&token)) {
            return refusal;
        }
        let unknown_enterprise = token.enterprise.is_some_and(|e| !ENTERPRISES.contains(&e));
        let unknown_provider = token
            .provider
            .is_some_and(|p| provider_program(p).is_none());
        if unknown_enterprise || unknown_provider {
            return refused("NOT_FOUND");
        }
        let view = token.view();
        self.tokens.push(token);
        Answer::Token(view)
    }

    /// RevokeToken: an unknown token is NOT_FOUND; a revoked one answers itself again; the last
    /// active bureau token is not revoked (LAST_BUREAU_TOKEN). Only the tokens a history made
    /// count: the callers' tokens are not in the ledger.
    pub fn revoke_token(&mut self, number: u64, by: Who) -> Answer {
        if let Some(refusal) = self.check_duties(by, Deed::RevokeToken(number)) {
            return refusal;
        }
        let Some(token) = self.token(number) else {
            return refused("NOT_FOUND");
        };
        if token.active && token.role == Role::Bureau {
            let others = self
                .tokens
                .iter()
                .filter(|other| other.role == Role::Bureau && other.active)
                .count()
                - 1;
            if others == 0 {
                return refused("LAST_BUREAU_TOKEN");
            }
        }
        let index = usize::try_from(number - 1).expect("few tokens");
        self.tokens[index].active = false;
        Answer::Token(self.tokens[index].view())
    }

    /// Registering a party again: as registered, it answers the record; an enterprise under
    /// another name is ENTERPRISE_EXISTS, a provider under another name or for another program
    /// PROVIDER_EXISTS. Registering a provider acts in the program it names.
    pub fn register(&self, party: usize, renamed: bool, other_program: bool, by: Who) -> Answer {
        if let Some(code) = ENTERPRISES.get(party) {
            if let Some(refusal) = self.check_duties(by, Deed::RegisterEnterprise) {
                return refusal;
            }
            if renamed {
                return refused("ENTERPRISE_EXISTS");
            }
            return Answer::Party((*code).to_owned(), enterprise_name(party), None);
        }
        let seller = party - ENTERPRISES.len();
        let (code, own) = SELLERS[seller];
        let program = if other_program {
            crate::ops::other_program_of(own)
        } else {
            own
        };
        if let Some(refusal) = self.check_duties(by, Deed::In(Some(program))) {
            return refusal;
        }
        if renamed || other_program {
            return refused("PROVIDER_EXISTS");
        }
        Answer::Party(code.to_owned(), provider_name(seller), Some(program))
    }
}

/// Whether a scoped bureau caller may make or revoke `token`: a bureau token scoped within its
/// own programs (an unscoped one is wider), a token of a provider of its programs (or of no
/// registered provider, left to the rules), any enterprise's; never an auditor's or the finance
/// bureau's, which read every program.
fn token_within(by: Who, token: &ModelToken) -> bool {
    match token.role {
        Role::Bureau => {
            !token.programs.is_empty()
                && token
                    .programs
                    .iter()
                    .all(|program| by.programs().contains(program))
        }
        Role::Provider => token
            .provider
            .and_then(provider_program)
            .is_none_or(|program| by.acts_in(program)),
        Role::Enterprise => true,
        Role::Auditor | Role::Finance => false,
    }
}

/// The names the world is registered under (`harness.rs`), and a name none has.
pub fn enterprise_name(index: usize) -> String {
    format!("启东企业 {index}")
}

pub fn provider_name(index: usize) -> String {
    format!("服务商 {index}")
}

/// The name a party is registered again under.
pub fn name_sent(party: usize, renamed: bool) -> String {
    let name = match party.checked_sub(ENTERPRISES.len()) {
        None => enterprise_name(party),
        Some(seller) => provider_name(seller),
    };
    if renamed {
        format!("{name} (改名)")
    } else {
        name
    }
}
