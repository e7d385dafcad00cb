//! Fixed histories of issue 15 (who may do what), checked on every run whatever proptest
//! generates: a scoped clerk kept to its program and to tokens no wider than itself, the
//! finance bureau kept to payments, and, with the policy's `separation_of_duties`, filing,
//! approving, settling and paying kept apart.

use super::{claim, issue_whole, settle_today};
use crate::callers::By;
use crate::ops::{Op, SettleChange, TokenKind, Which};
use crate::rules::date;
use crate::runner::run_history;

fn run(separated: bool, ops: &[Op]) {
    if let Err(message) = run_history(date(2027, 6, 15), separated, ops) {
        panic!("{message}");
    }
}

fn by(by: By, op: Op) -> Op {
    Op::As {
        by,
        op: Box::new(op),
    }
}

fn approve(redemption: usize) -> Op {
    Op::Approve {
        redemption: Which::Any(redemption),
    }
}

fn create(kind: TokenKind) -> Op {
    Op::CreateToken { kind }
}

fn register(party: usize, other_program: bool) -> Op {
    Op::Register {
        party,
        renamed: false,
        other_program,
    }
}

fn pay(statement: usize) -> Op {
    Op::Pay {
        statement: Some(statement),
        days_before_today: 0,
        second_reference: false,
    }
}

/// The second statement request sent (the first was refused): the first statement made.
fn retry_first_statement() -> Op {
    Op::RetrySettle {
        settle: 1,
        change: SettleChange::Unchanged,
    }
}

#[test]
fn a_scoped_clerk_acts_in_its_program_and_makes_no_wider_token() {
    use By::{ComputeClerk, Finance, LeasingClerk};
    let bureau = |compute: bool, leasing: bool| create(TokenKind::Bureau { compute, leasing });
    run(
        false,
        &[
            by(LeasingClerk, issue_whole(0)),
            by(Finance, issue_whole(0)),
            issue_whole(0),
            by(LeasingClerk, claim(1)),
            by(ComputeClerk, claim(1)),
            by(LeasingClerk, approve(0)),
            by(Finance, approve(0)),
            by(ComputeClerk, approve(0)),
            by(LeasingClerk, Op::Revoke { voucher: 0 }),
            // No statement yet: it is the rules' to answer (NOT_FOUND), whatever the scope.
            by(LeasingClerk, pay(0)),
            by(LeasingClerk, settle_today()),
            by(ComputeClerk, settle_today()),
            by(LeasingClerk, pay(0)),
            by(Finance, pay(0)),
            by(ComputeClerk, bureau(true, true)),
            by(ComputeClerk, bureau(false, false)),
            by(ComputeClerk, bureau(true, false)),
            by(ComputeClerk, create(TokenKind::Provider { provider: 1 })),
            by(ComputeClerk, create(TokenKind::Provider { provider: 0 })),
            by(ComputeClerk, create(TokenKind::Provider { provider: 3 })),
            by(
                ComputeClerk,
                create(TokenKind::Enterprise { enterprise: 0 }),
            ),
            by(ComputeClerk, create(TokenKind::Auditor)),
            by(ComputeClerk, create(TokenKind::Finance)),
            by(LeasingClerk, Op::RevokeToken { token: 0 }),
            // The only bureau token the ledger has.
            by(ComputeClerk, Op::RevokeToken { token: 0 }),
            by(LeasingClerk, Op::RevokeToken { token: 1 }),
            by(LeasingClerk, Op::RevokeToken { token: 2 }),
            // Another bureau token (acting in every program), and the first is no longer the last.
            by(By::Clerk, bureau(false, false)),
            by(ComputeClerk, Op::RevokeToken { token: 3 }),
            by(ComputeClerk, Op::RevokeToken { token: 0 }),
            by(ComputeClerk, Op::RevokeToken { token: 0 }),
            by(Finance, Op::RevokeToken { token: 0 }),
            by(LeasingClerk, register(0, false)),
            by(Finance, register(0, false)),
            by(LeasingClerk, register(3, false)),
            by(LeasingClerk, register(3, true)),
            Op::Restart { days_later: 0 },
        ],
    );
}

#[test]
fn separated_duties_keep_filing_approving_settling_and_paying_apart() {
    use By::{Clerk, ComputeClerk, Finance, Ledger};
    run(
        true,
        &[
            issue_whole(0),
            by(Clerk, claim(1)),
            by(Clerk, approve(0)),
            by(ComputeClerk, approve(0)),
            // Approved since or not, the claim is never the filer's to approve: the duties
            // come before the rules.
            by(Clerk, approve(0)),
            by(ComputeClerk, settle_today()),
            // The ledger has no token: it neither filed nor approved as one.
            by(Ledger, claim(2)),
            approve(1),
            by(Clerk, settle_today()),
            pay(0),
            by(Clerk, pay(0)),
            by(Finance, pay(0)),
            by(Finance, pay(0)),
            claim(3),
            by(Finance, approve(2)),
            by(Clerk, approve(2)),
            by(Clerk, settle_today()),
            // The clerk's first statement asked for again: answered with it, though the clerk
            // approved a claim since that a new statement would gather.
            by(Clerk, retry_first_statement()),
            retry_first_statement(),
            settle_today(),
            by(Finance, pay(1)),
            Op::Restart { days_later: 0 },
        ],
    );
}
