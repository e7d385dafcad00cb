//! A model-based test of the engine: proptest makes random histories of issuing, redeeming
//! (with evidence), reviewing (approving, rejecting), reversing (by the bureau or a provider),
//! settling (statements netting clawbacks), recording related parties and revoking, of days
//! passing and of restarts, and runs each against a real engine (a real sled directory in a
//! tempdir, or every other case the in-memory store behind the same seam) and against a
//! reference model written in `reference/` from the rules in README.md and the
//! settlement rules of issue 6. After every step the answers, every voucher, every redemption,
//! every cap account, every program budget and every settlement statement (header, lines and
//! clawbacks) must agree, and the invariants must hold: no redemption in two statements, a
//! settled one in exactly the statement it names, each provider's statements paying (gross less
//! clawbacks) what the model's redemptions say it was paid and has not had back.
//!
//! The model is independent of `src/domain/ledger`: it keeps money in whole fen (`i64`),
//! computes subsidies with integer half-up rounding, derives cap and budget totals from its
//! vouchers, and has its own copy of the rules' constants. A disagreement is a bug in one of
//! the two.
//!
//! Where README.md is silent the model decides, and says so here:
//! - the order of a redemption's checks beyond "cap, then voucher" and "term, then future" is
//!   the one the issue tracker fixed (replay, voucher, program, enterprise, self-dealing,
//!   status, related parties, dates, evidence, cap, voucher balance); a subsidy that rounds to
//!   zero is refused after the evidence and before the cap;
//! - an issue request is checked for its dates (term, then one cap period), then the deadline,
//!   then the cap, then the program's budget; with no face value it takes what is left under
//!   both; with nothing left under the cap it is CAP_EXCEEDED, with something left under the
//!   cap and nothing under the budget BUDGET_EXCEEDED (remaining 0.00); a period the policy
//!   gives no budget is bound by the caps only;
//! - a redemption's cap check is against what is left of the cap (cap - redeemed); its
//!   refusals (CAP_EXCEEDED, VOUCHER_BALANCE_EXCEEDED) tell the provider no `remaining`
//!   (issue 12: what an enterprise has left is not the provider's to know);
//! - a closed voucher commits what it redeemed, so reversing (or rejecting) one of its
//!   redemptions releases that subsidy too; its `remaining` is zero;
//! - revoking an expired voucher is VOUCHER_NOT_ACTIVE;
//! - review: only an accepted claim is approved; approving one already approved (settled since
//!   or not) answers it again, so a retried review is safe; a rejected or reversed one is
//!   REDEMPTION_NOT_OPEN. Only an accepted or approved claim is rejected; rejecting a rejected
//!   one answers it again; a settled or reversed one is REDEMPTION_NOT_OPEN;
//! - reversal: a provider reversing another provider's redemption is NOT_FOUND, as if it did
//!   not exist (issue 12), before any status check; reversing a reversed one answers it unchanged (whoever may reverse it
//!   asks); a rejected one is REDEMPTION_NOT_OPEN; a settled one reversed by its provider is
//!   PERMISSION_DENIED, by the bureau it is reversed and a clawback of its subsidy is booked; it
//!   keeps naming the statement that paid it;
//! - a statement request is checked for a replay of its request id first (same provider,
//!   program and date: the same statement; otherwise REQUEST_ID_REUSED), then that the
//!   provider is registered (NOT_FOUND), then its program (PROGRAM_MISMATCH), then that it
//!   holds something (NOTHING_TO_SETTLE); a refused request is not remembered; `up_to` may be
//!   in the future; lines are in redemption id order, clawbacks in the order booked;
//! - a statement's payment: an unknown statement is NOT_FOUND; the same bank reference and day
//!   again answers the statement; anything else for a paid statement is
//!   SETTLEMENT_ALREADY_PAID; otherwise the day must lie between the day the statement was made
//!   and today (PAYMENT_DATE_OUT_OF_RANGE); paying changes nothing but the statement;
//! - a program period's `settled` is what its redemptions were paid and not yet recovered:
//!   settled ones, and clawed-back ones whose clawback is not yet netted;
//! - related parties: the provider must be registered, then the enterprise (NOT_FOUND);
//!   recording a pair again answers the record as first made, with its first reason;
//! - evidence is compared as the list sent; the model never resends the same documents in
//!   another order, so it does not decide whether order matters.
//!
//! `VOUCHER_MODEL_CASES` sets the number of histories (default 128):
//! `VOUCHER_MODEL_CASES=5000 cargo test --release --test model`. `VOUCHER_MODEL_STATS=1` (with
//! `-- --nocapture`) prints how often each answer came.
//!
//! Where things are (this directory is the test target `model`):
//! - `rules.rs`: the world (who is registered), the rules' numbers, the policy the engine runs;
//! - `values.rs`: money in fen, periods, the text of ids;
//! - `ops.rs`: the operations (`Op`) and the payloads they resolve to; `strategies.rs`: how
//!   proptest generates them, and how often;
//! - `answers.rs`: the views both sides are compared in, and `Answer`;
//! - `reference/`: the model (`commands.rs`: one function per command);
//! - `harness.rs`: the engine under test; `checks.rs`: comparing all it shows with the model;
//! - `runner.rs`: resolving each op (one function per command), running a history;
//! - this file: the tests, and the fixed histories;
//! - `proptest-regressions.txt`: the seeds of past failures, replayed before any new case.
//!
//! A new command touches: its `Op` variant and payload (`ops.rs`), its strategy and weight
//! (`strategies.rs`), its answer in the model (`reference/commands.rs`), its function in the
//! runner and its arm in `Runner::ask` (`runner.rs`), and the command built for the engine
//! (`harness.rs`); a new kind of answer, a view (`answers.rs`) and a line in `tally`.

mod answers;
mod checks;
mod harness;
mod ops;
mod reference;
mod rules;
mod runner;
mod strategies;
mod values;

use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError, TestRunner};
use voucher_ledger::domain::money::Rounding;
use voucher_ledger::domain::policy::ProgramCode;

use harness::code;
use ops::{Buyer, Op, Payee, Reverser, Seller, SettleChange, Validity, Which};
use rules::{
    COMPUTE_PROVIDER, ENTERPRISES, LESSOR, POLICY, cap_of, date, period_holding, subsidy_for, term,
};
use runner::{TALLY, run_history};
use strategies::{op, start_day};
use values::{Fen, Period};

const CASES_DEFAULT: u32 = 128;

fn cases() -> u32 {
    match std::env::var("VOUCHER_MODEL_CASES") {
        Err(_) => CASES_DEFAULT,
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("VOUCHER_MODEL_CASES={text:?} is not a whole number")),
    }
}

/// The number of cases, and where the seeds of past failures are kept: a path relative to the
/// working directory, which `cargo test` sets to the package's root.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/model/proptest-regressions.txt",
        ))),
        // Each shrinking step runs a whole history on a fresh sled directory.
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}

/// `VOUCHER_MODEL_STATS=1` prints how often each answer came, to see what the histories reach.
#[test]
fn the_engine_agrees_with_the_model() {
    let mut runner = TestRunner::new(config());
    let result = runner.run(
        &(start_day(), prop::collection::vec(op(), 1..=80)),
        |(start, ops)| run_history(start, &ops).map_err(TestCaseError::fail),
    );
    if std::env::var_os("VOUCHER_MODEL_STATS").is_some() {
        let tally = TALLY.lock().expect("the tally is not poisoned");
        for (label, count) in tally.iter() {
            eprintln!("{count:>8}  {label}");
        }
    }
    if let Err(error) = result {
        panic!("{error}");
    }
}

#[test]
fn the_test_codes_have_valid_check_digits() {
    for text in ENTERPRISES.iter().chain([COMPUTE_PROVIDER, LESSOR].iter()) {
        assert!(code(text).has_valid_check_digit(), "{text}");
    }
}

#[test]
fn the_model_reads_the_rules_as_the_readme_states_them() {
    // 0.01 at 50% is 0.01 and 0.03 at 20% is 0.01 (README); 0.05 at 50% is 0.03 half up.
    assert_eq!(
        subsidy_for(ProgramCode::Compute, Fen::parse("0.01")),
        Fen(1)
    );
    assert_eq!(
        subsidy_for(ProgramCode::Leasing, Fen::parse("0.03")),
        Fen(1)
    );
    assert_eq!(
        subsidy_for(ProgramCode::Compute, Fen::parse("0.05")),
        Fen(3)
    );
    assert_eq!(
        subsidy_for(ProgramCode::Leasing, Fen::parse("0.02")),
        Fen(0)
    );
    assert_eq!(
        period_holding(ProgramCode::Compute, date(2026, 6, 1)),
        Some(Period {
            first: date(2026, 5, 14),
            last: date(2026, 12, 31)
        })
    );
    assert_eq!(
        period_holding(ProgramCode::Leasing, date(2027, 6, 1)),
        Some(term())
    );
    assert_eq!(
        period_holding(ProgramCode::Compute, date(2028, 5, 14)),
        None
    );
    // The engine's policy has the caps the model assumes.
    for program in [ProgramCode::Compute, ProgramCode::Leasing] {
        let rules = POLICY.program(program).expect("offered");
        assert_eq!(Fen::of(rules.cap), cap_of(program));
        assert_eq!(rules.rounding, Rounding::HalfUp);
    }
}

// ---------------------------------------------------------------------------------------------
// Fixed histories: the settlement path end to end, and the smallest histories where the engine
// and the rules were seen to differ (kept so that each is checked on every run, whatever
// proptest happens to generate).
// ---------------------------------------------------------------------------------------------

/// A compute claim on a fresh whole-year voucher of enterprise 0, for 100.00 (subsidy 50.00).
fn claim(invoice: u8) -> Op {
    Op::Redeem {
        voucher: 0,
        invoice,
        amount: "100.00",
        days_before_today: 0,
        allow_partial: false,
        seller: Seller::Matching,
        buyer: Buyer::Own,
        evidence: 0,
    }
}

fn issue_whole(enterprise: usize) -> Op {
    Op::Issue {
        enterprise,
        program: ProgramCode::Compute,
        face_value: None,
        validity: Validity::Whole,
    }
}

fn settle_today() -> Op {
    Op::Settle {
        payee: Payee::ComputeProvider,
        other_program: false,
        days_before_today: 0,
    }
}

fn run_fixed(ops: &[Op]) {
    if let Err(message) = run_history(date(2027, 6, 15), ops) {
        panic!("{message}");
    }
}

#[test]
fn a_clawback_is_netted_in_the_next_statement_even_below_zero() {
    run_fixed(&[
        issue_whole(0),
        claim(1),
        claim(2),
        Op::Approve {
            redemption: Which::Any(0),
        },
        Op::Approve {
            redemption: Which::Any(1),
        },
        settle_today(),
        // The provider may not reverse what was paid; the bureau may, booking a clawback.
        Op::Reverse {
            redemption: Which::Any(0),
            by: Reverser::OwnProvider,
        },
        Op::Reverse {
            redemption: Which::Any(0),
            by: Reverser::Bureau,
        },
        claim(3),
        Op::Approve {
            redemption: Which::Any(2),
        },
        Op::Reject {
            redemption: Which::Any(2),
        },
        // Nothing approved is left: the statement holds the clawback alone, net -50.00.
        settle_today(),
        Op::RetrySettle {
            settle: 1,
            change: SettleChange::Unchanged,
        },
        Op::RetrySettle {
            settle: 1,
            change: SettleChange::UpTo,
        },
        settle_today(),
        Op::Restart { days_later: 0 },
    ]);
}

#[test]
fn rejecting_a_rejected_redemption_again_answers_the_same() {
    run_fixed(&[
        issue_whole(0),
        claim(1),
        Op::Reject {
            redemption: Which::Any(0),
        },
        Op::Reject {
            redemption: Which::Any(0),
        },
    ]);
}

#[test]
fn approving_a_settled_redemption_again_answers_the_same() {
    run_fixed(&[
        issue_whole(0),
        claim(1),
        Op::Approve {
            redemption: Which::Any(0),
        },
        settle_today(),
        Op::Approve {
            redemption: Which::Any(0),
        },
    ]);
}

#[test]
fn a_closed_voucher_is_refused_before_related_parties() {
    run_fixed(&[
        Op::RelateParties {
            provider: 0,
            enterprise: 0,
            second_reason: false,
        },
        issue_whole(0),
        Op::Revoke { voucher: 0 },
        claim(1),
    ]);
}

#[test]
fn a_statement_is_paid_once_between_the_day_it_was_made_and_today() {
    let pay = |statement: Option<usize>, days_before_today: i64, second_reference: bool| Op::Pay {
        statement,
        days_before_today,
        second_reference,
    };
    run_fixed(&[
        pay(Some(0), 0, false),
        issue_whole(0),
        claim(1),
        Op::Approve {
            redemption: Which::Any(0),
        },
        settle_today(),
        pay(Some(0), 1, false),
        pay(Some(0), -1, false),
        pay(None, 0, false),
        Op::AdvanceDays { days: 3 },
        pay(Some(0), 2, false),
        pay(Some(0), 2, false),
        pay(Some(0), 2, true),
        pay(Some(0), 0, false),
        Op::Restart { days_later: 1 },
        pay(Some(0), 3, false),
        pay(Some(0), 3, true),
    ]);
}
