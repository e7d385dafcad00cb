//! Resolving the ops only the duties of issue 15 concern, as `runner.rs` does the others: the
//! bureau creating and revoking tokens (a scoped caller makes or revokes none wider than
//! itself), and registering a party again (an enterprise is anyone's to register, a provider
//! its program's).

use voucher_ledger::domain::command::Command;
use voucher_ledger::domain::model::Role;
use voucher_ledger::domain::policy::ProgramCode;

use crate::callers::{Who, token_id_text};
use crate::harness::{code, create_token_command, token_id};
use crate::ops::{TokenKind, other_program_of};
use crate::reference::{ModelToken, name_sent};
use crate::rules::{COMPUTE_PROVIDER, ENTERPRISES, SELLERS};
use crate::runner::{Asked, Runner};

/// The token a kind asks for (its number is the model's to give).
fn token_of(kind: TokenKind) -> ModelToken {
    let mut token = ModelToken {
        number: 0,
        role: Role::Auditor,
        provider: None,
        enterprise: None,
        programs: Vec::new(),
        active: true,
    };
    match kind {
        TokenKind::Bureau { compute, leasing } => {
            token.role = Role::Bureau;
            token.programs = [
                (compute, ProgramCode::Compute),
                (leasing, ProgramCode::Leasing),
            ]
            .into_iter()
            .filter(|(scoped, _)| *scoped)
            .map(|(_, program)| program)
            .collect();
        }
        TokenKind::Provider { provider } => {
            token.role = Role::Provider;
            token.provider = Some(SELLERS.get(provider).map_or(ENTERPRISES[0], |(p, _)| *p));
        }
        TokenKind::Enterprise { enterprise } => {
            token.role = Role::Enterprise;
            token.enterprise = Some(
                ENTERPRISES
                    .get(enterprise)
                    .copied()
                    .unwrap_or(COMPUTE_PROVIDER),
            );
        }
        TokenKind::Auditor => {}
        TokenKind::Finance => token.role = Role::Finance,
    }
    token
}

impl Runner {
    pub fn create_token(&mut self, kind: TokenKind) -> Asked {
        let token = token_of(kind);
        self.secrets += 1;
        let command = create_token_command(&token, self.secrets);
        let by = self.caller(Who::Ledger);
        Asked::command(
            format!("create {kind:?}"),
            self.model.create_token(token, by),
            command,
            by,
        )
    }

    pub fn revoke_token(&mut self, token: usize) -> Asked {
        let made = self.model.tokens.len();
        let number = u64::try_from(if made == 0 { 0 } else { token % made }).expect("few") + 1;
        let by = self.caller(Who::Ledger);
        Asked::command(
            format!("revoke {}", token_id_text(number)),
            self.model.revoke_token(number, by),
            Command::RevokeToken {
                token_id: token_id(number),
            },
            by,
        )
    }

    pub fn register(&mut self, party: usize, renamed: bool, other_program: bool) -> Asked {
        let name =
            voucher_ledger::domain::text::Name::parse(&name_sent(party, renamed)).expect("a name");
        let command = match party.checked_sub(ENTERPRISES.len()) {
            None => Command::RegisterEnterprise {
                credit_code: code(ENTERPRISES[party]),
                name,
                check_digit_override_reason: None,
            },
            Some(seller) => {
                let (provider, own) = SELLERS[seller];
                Command::RegisterProvider {
                    credit_code: code(provider),
                    name,
                    program: if other_program {
                        other_program_of(own)
                    } else {
                        own
                    },
                    check_digit_override_reason: None,
                }
            }
        };
        let by = self.caller(Who::Ledger);
        Asked::command(
            format!(
                "register party {party} again (renamed {renamed}, other program {other_program})"
            ),
            self.model.register(party, renamed, other_program, by),
            command,
            by,
        )
    }
}
