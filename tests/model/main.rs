//! A model-based test of the engine: proptest makes random histories of issuing (vouchers bound
//! to providers or not), redeeming (with evidence), reviewing (approving, rejecting),
//! reversing (by the bureau or a provider), settling (statements netting clawbacks),
//! recording related parties and revoking, the enterprise's part of issue 14 (an enterprise
//! applying for a voucher and the bureau approving, so issuing it, or rejecting the
//! application; an enterprise confirming or disputing a claim made in its name, the bureau
//! returning a claim for correction and changing a voucher's providers, the provider claiming
//! a returned invoice again), tokens created and revoked and parties registered again (issue
//! 15), of days passing and of restarts, each command sent by a caller the history chooses
//! (issue 15, `callers.rs`: the ledger, a bureau clerk acting in every program, a clerk scoped
//! to compute, one scoped to leasing, the finance bureau, each provider's and each
//! enterprise's own token), and runs each against a real engine (a real sled directory in a
//! tempdir, or every other case the in-memory store behind the same seam) and against a
//! reference model written in `reference/` from the rules in README.md and the
//! settlement rules of issue 6, the enterprise's part of issue 14 (leasing runs with
//! `enterprise_confirmation = "required"`, compute without, so both behaviours are
//! exercised) and the duties of issue 15 (about every other history runs with
//! `separation_of_duties = true`: a flag proptest draws with the history, so that a shrunk
//! failure keeps its policy). After every step the answers, every voucher (its providers too),
//! every redemption (its status, whether it is confirmed, the claim it corrects, its closing
//! reason), every application, every token the history created, every cap account, every
//! program budget and every settlement statement (header, lines and clawbacks) must agree, and
//! who made each step of each record (a voucher's issue and closing, a claim's filing,
//! approval, closing, confirmation and reversal, a statement's making and payment, an
//! application's filing and decision: a token and its role, or "ledger"), and the invariants
//! must hold: no redemption in two statements, a settled one in exactly the statement it
//! names, each provider's statements paying (gross less clawbacks) what the model's
//! redemptions say it was paid and has not had back.
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
//!   another order, so it does not decide whether order matters;
//! - bound vouchers (issue 14): the providers named at issue are checked after the deadline
//!   and before the cap (each must be a provider, NOT_FOUND, of the voucher's program,
//!   PROGRAM_MISMATCH); a provider a voucher is not bound to is answered NOT_FOUND right after
//!   the voucher's holder is checked, so before the program (a compute voucher bound to its
//!   provider is NOT_FOUND to a lessor, not PROGRAM_MISMATCH) and before its status (a closed
//!   voucher bound to others is NOT_FOUND, not VOUCHER_NOT_ACTIVE); a retried issue must name
//!   the same providers to be a replay;
//! - changing a voucher's providers: an unknown voucher is NOT_FOUND; the set it has answers
//!   it unchanged (checked before the providers are); a closed voucher's may be changed too;
//!   an empty set binds it to none (any provider of its program);
//! - the enterprise's confirmation: an unknown claim and another enterprise's claim are
//!   NOT_FOUND alike; once confirmed, confirming again answers the claim whatever became of
//!   it since (reversed, returned: still confirmed); an unconfirmed accepted, approved or
//!   settled claim is confirmed (a settled one too, in a program that does not require it);
//!   a rejected, reversed, disputed or returned one is REDEMPTION_NOT_OPEN. In a program that
//!   requires it, approving an unconfirmed accepted claim is CONFIRMATION_REQUIRED; approving
//!   an approved or settled one answers it as before, and closed ones stay
//!   REDEMPTION_NOT_OPEN (the status is looked at before the confirmation);
//! - a dispute: NOT_FOUND as for a confirmation; a disputed claim answers itself again; an
//!   accepted or approved claim not confirmed is disputed; a confirmed, settled, rejected,
//!   reversed or returned one is REDEMPTION_NOT_OPEN;
//! - a return (the bureau): an unknown claim is NOT_FOUND; a returned claim answers itself
//!   again; an accepted or approved one, confirmed or not, is returned; any other is
//!   REDEMPTION_NOT_OPEN;
//! - a disputed or returned claim is closed: its subsidy goes back to the voucher and the cap
//!   as a rejection's does (and, on a closed voucher, is released from the cap), it counts in
//!   the program's and its provider's `rejected` totals, an approved one leaves the settlement
//!   queue, and approving, rejecting or reversing it is REDEMPTION_NOT_OPEN (a provider
//!   reversing another's is still NOT_FOUND first; reversing a reversed one still answers it);
//! - a correction: an invoice's claims are looked at through its newest; the same payload
//!   again answers the newest (a returned one too); a different payload from the newest's
//!   provider for its enterprise, when the newest was returned, is a new claim that corrects
//!   it, checked as any claim (voucher, dates, cap...), and a refused one leaves the invoice
//!   as it was; anything else is INVOICE_ALREADY_REDEEMED. A correction that is returned in
//!   turn may be corrected again, and the payload of the first claim sent once more then
//!   corrects the returned correction (it differs from the newest's);
//! - applications: a request id seen before answers its application as it stands now when
//!   the request is the same, else REQUEST_ID_REUSED; then the enterprise must be registered
//!   (NOT_FOUND), the amount within the program's cap (CAP_EXCEEDED, with no `remaining`: it
//!   is not checked against what the enterprise has left), the providers chosen must be
//!   providers of the program (as at issue), and the contract number must not be held by a
//!   live (pending or approved) application under the program, whoever's
//!   (CONTRACT_ALREADY_APPLIED); a rejected one frees it;
//! - approving an application: unknown is NOT_FOUND; approved answers it again whatever face
//!   value is sent; rejected is APPLICATION_NOT_PENDING; a face value above the amount applied
//!   for is ABOVE_APPLIED_AMOUNT (none: the amount); then the voucher is issued as by
//!   IssueVoucher with no dates (the whole cap period holding today), that face value and the
//!   application's providers, with IssueVoucher's refusals (CAP_EXCEEDED and BUDGET_EXCEEDED
//!   with `remaining`); a refused approval leaves the application pending; the voucher names
//!   its application. Rejecting: unknown is NOT_FOUND; rejected answers it again with its
//!   first reason; approved is APPLICATION_NOT_PENDING;
//! - duties (issue 15) come before every rule of the command (before a replay too), in this
//!   order, each PERMISSION_DENIED (the answer does not say which; `VOUCHER_MODEL_STATS` counts
//!   each): the finance bureau sends nothing but payments; a scoped clerk acts only in its
//!   program; with separation, the rest. The program of a command is the one it names (issue,
//!   statement, application, registering a provider) or that of the record it names (a redeem
//!   its voucher's, whoever holds it and whatever providers it is bound to; a review,
//!   reversal, return, confirmation or dispute its claim's; a payment its statement's; a
//!   revocation or a change of providers its voucher's; related parties the provider's); a
//!   record that does not exist leaves it to the rules (NOT_FOUND); registering an enterprise
//!   is any bureau caller's. The caller's role is the server's to check (a provider never
//!   sends a review): the model sends each command only from callers the server lets send it,
//!   and the finance bureau;
//! - tokens: a scoped clerk makes and revokes bureau tokens scoped within its own programs
//!   (not an unscoped one), tokens of its programs' providers (and of a code no provider has,
//!   left to the rules: NOT_FOUND), enterprises' tokens, never an auditor's or the finance
//!   bureau's; the same for a revoked token. Then an enterprise's or provider's token names a
//!   registered one (NOT_FOUND); revoking an unknown token is NOT_FOUND, a revoked one answers
//!   it, the last active bureau token is LAST_BUREAU_TOKEN. The callers' own tokens (T9001 on)
//!   are not in the ledger (the engine takes the caller it is given), so only the tokens the
//!   history created (T1 on) count;
//! - registering a party again as it is answers it; under another name ENTERPRISE_EXISTS or
//!   PROVIDER_EXISTS, and a provider for the other program PROVIDER_EXISTS;
//! - separation of duties: a payment by anyone but the finance bureau is refused, the ledger's
//!   and one naming no statement too; approving a claim by the token that filed it is refused
//!   whatever the claim's status (a retried approval too); a statement by a token that
//!   approved any claim it would gather (approved, unsettled, of its provider and program,
//!   invoice dated up to `up_to`, the first 2000) is refused, but a retried request of a
//!   statement already made answers it; the ledger has no token, so it is never refused for
//!   filing, approving or settling;
//! - who made a step: the caller of the command that took it; a command that changes nothing
//!   (a retry, a replay, a refusal) names nobody; an expiry is the ledger's; the voucher
//!   issued by approving an application names the approver, as does the application.
//!
//! `VOUCHER_MODEL_CASES` sets the number of histories (default 128):
//! `VOUCHER_MODEL_CASES=5000 cargo test --release --test model`. `VOUCHER_MODEL_STORE=postgres`
//! runs every history on PostgreSQL instead (a database each, in a throwaway cluster the run
//! starts; `.ci/run`: `VOUCHER_MODEL_STORE=postgres VOUCHER_MODEL_CASES=24`). `VOUCHER_MODEL_STATS=1` (with
//! `-- --nocapture`) prints how often each answer came, and which duty each PERMISSION_DENIED
//! the model gave stood for.
//!
//! Where things are (this directory is the test target `model`):
//! - `rules.rs`: the world (who is registered), the rules' numbers, the policy the engine runs;
//! - `values.rs`: money in fen, periods, the text of ids;
//! - `ops.rs`: the operations (`Op`) and the payloads they resolve to; `strategies.rs`: how
//!   proptest generates them, and how often;
//! - `answers.rs`: the views both sides are compared in, and `Answer`;
//! - `callers.rs`: who sends a command (`By`, as an op names it; `Who`, resolved), the token
//!   and role each holds, the `Caller` the engine is sent;
//! - `reference/`: the model (`commands.rs`: one function per command; `enterprise.rs`: those
//!   of the enterprise's part; `duties.rs`: who may do what, and tokens and registrations);
//! - `harness.rs`: the engine under test; `checks.rs`: comparing all it shows with the model;
//! - `runner.rs`: resolving each op (one function per command), running a history;
//!   `enterprise.rs`: resolving the ops of the enterprise's part; `duties.rs`: those of
//!   tokens and registrations;
//! - this file: the tests, and the fixed histories; `fixed_duties.rs`: those of issue 15;
//! - `proptest-regressions.txt`: the seeds of past failures, replayed before any new case.
//!
//! A new command touches: its `Op` variant and payload (`ops.rs`), its strategy and weight
//! (`strategies.rs`, with the callers that may send it: `sent_by`), its answer in the model
//! (`reference/commands.rs` or `reference/enterprise.rs`, which first asks
//! `Model::check_duties` with its `Deed`, and notes who made the step), its function in the
//! runner (`runner.rs` or `enterprise.rs`, with its natural caller: `Runner::caller`) and its
//! arm in `Runner::ask`, and the command built for the engine (`harness.rs`, or beside its
//! runner function); a new record field, a field in its view (`answers.rs`) and in the
//! model's record (`reference/records.rs`); a new kind of answer, a view (`answers.rs`) and a
//! line in `tally`.
//!
//! What the ops weigh (`strategies.rs`; `op`: 70 single commands, 3 days passing, 1 to a
//! deadline, 2 several commands together, 1 a claim returned and a returned claim's invoice
//! claimed again together, 2 a claim approved and an approved claim's provider's statement asked
//! for together, 2 restarts): of the single commands, redeem 25, the enterprise's
//! part 25 (confirm 8, return 4, correct a returned claim 4, apply 3, approve an application
//! 3, dispute 2, retry an application 1, reject an application 1, change a voucher's
//! providers 1), issue 12 (bound to none 12 in 21, to its program's provider 4, to
//! enterprise 2 as a lessor 2, to both lessors, another program's provider or no provider 1
//! each), approve 10, settle 6, retry a redeem 4, reverse 4, pay 3, retry an issue 2, reject 2,
//! revoke 2, retry a settle 1, related parties 1, issue 15's 4 (create a token 2, revoke one 1,
//! register a party again 1). A redeem's seller is the voucher's own (the
//! first it is bound to) 12 in 17, one it is not bound to 2. Confirmations and disputes are
//! by the claim's own enterprise 6 in 7. Callers: a bureau command (a reversal by the bureau
//! too) is sent by the ledger 5 in 15, the clerk 5, each scoped clerk 2, the finance bureau 1;
//! a payment by the finance bureau 6 in 13, the ledger 3, the clerk 2, each scoped clerk 1; a
//! claim (a retry, a correction) by its provider 12 in 19, the clerk 3, each scoped clerk 1,
//! the ledger 1, the finance bureau 1; an enterprise's command by the enterprise 16 in 17,
//! the finance bureau 1; a token made or revoked by each scoped clerk 3 in 11, the ledger 2,
//! the clerk 2, the finance bureau 1; a provider's reversal by its own token. Tokens asked
//! for: a bureau token 4 in 9 (scoped to compute, leasing, both or neither alike), a
//! provider's 2, an enterprise's 1, an auditor's 1, the finance bureau's 1.

mod answers;
mod callers;
mod checks;
/// Only its throwaway PostgreSQL, for `VOUCHER_MODEL_STORE=postgres` (`harness.rs`).
#[path = "../common/mod.rs"]
mod common;
mod duties;
mod enterprise;
mod fixed_duties;
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
use voucher_ledger::domain::policy::{EnterpriseConfirmation, ProgramCode};

use harness::code;
use ops::{
    Bound, Buyer, Change, Claimant, Op, Payee, Reverser, Seller, SettleChange, Validity, Which,
};
use rules::{
    COMPUTE_PROVIDER, ENTERPRISES, LESSOR, POLICY, cap_of, confirmation_required, date,
    period_holding, subsidy_for, term,
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
        &(
            start_day(),
            any::<bool>(),
            prop::collection::vec(op(), 1..=80),
        ),
        |(start, separated, ops)| run_history(start, separated, &ops).map_err(TestCaseError::fail),
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
    // The engine's policy has the caps and the confirmation the model assumes.
    for program in [ProgramCode::Compute, ProgramCode::Leasing] {
        let rules = POLICY.program(program).expect("offered");
        assert_eq!(Fen::of(rules.cap), cap_of(program));
        assert_eq!(rules.rounding, Rounding::HalfUp);
        assert_eq!(
            rules.enterprise_confirmation == EnterpriseConfirmation::Required,
            confirmation_required(program)
        );
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
        bound: Bound::Unbound,
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
    if let Err(message) = run_history(date(2027, 6, 15), false, ops) {
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

// ---------------------------------------------------------------------------------------------
// The enterprise's part (issue 14).
// ---------------------------------------------------------------------------------------------

fn leasing_claim(voucher: usize, invoice: u8, seller: Seller) -> Op {
    Op::Redeem {
        voucher,
        invoice,
        amount: "1000.00",
        days_before_today: 0,
        allow_partial: false,
        seller,
        buyer: Buyer::Own,
        evidence: 1,
    }
}

fn issue_bound(enterprise: usize, program: ProgramCode, bound: Bound) -> Op {
    Op::Issue {
        enterprise,
        program,
        face_value: Some("500.00"),
        validity: Validity::Whole,
        bound,
    }
}

fn first(redemption: usize) -> Which {
    Which::Any(redemption)
}

#[test]
fn a_leasing_claim_is_approved_only_once_its_enterprise_confirmed_it() {
    run_fixed(&[
        issue_bound(0, ProgramCode::Leasing, Bound::Unbound),
        leasing_claim(0, 1, Seller::Matching),
        Op::Approve {
            redemption: first(0),
        },
        Op::Confirm {
            redemption: first(0),
            by: Claimant::Another,
        },
        Op::Confirm {
            redemption: first(0),
            by: Claimant::Own,
        },
        Op::Confirm {
            redemption: first(0),
            by: Claimant::Own,
        },
        // Confirmed: no longer the enterprise's to dispute.
        Op::Dispute {
            redemption: first(0),
            by: Claimant::Own,
        },
        Op::Approve {
            redemption: first(0),
        },
        Op::Settle {
            payee: Payee::Lessor,
            other_program: false,
            days_before_today: 0,
        },
        Op::Reverse {
            redemption: first(0),
            by: Reverser::Bureau,
        },
        // Confirming a confirmed claim answers it, whatever became of it.
        Op::Confirm {
            redemption: first(0),
            by: Claimant::Own,
        },
        Op::Restart { days_later: 0 },
    ]);
}

#[test]
fn a_returned_claim_is_corrected_once_by_its_provider() {
    let correct = |change: Change| Op::Correct {
        redemption: 0,
        change,
    };
    run_fixed(&[
        issue_whole(0),
        claim(1),
        Op::Approve {
            redemption: first(0),
        },
        Op::Return {
            redemption: first(0),
        },
        Op::Return {
            redemption: first(0),
        },
        Op::Approve {
            redemption: first(0),
        },
        Op::Reject {
            redemption: first(0),
        },
        Op::Reverse {
            redemption: first(0),
            by: Reverser::Bureau,
        },
        Op::Confirm {
            redemption: first(0),
            by: Claimant::Own,
        },
        settle_today(),
        // The same claim again answers the returned one; another enterprise's is the invoice's
        // reuse; another amount corrects it.
        correct(Change::Unchanged),
        correct(Change::Buyer),
        correct(Change::Amount),
        correct(Change::Amount),
        Op::Return {
            redemption: first(1),
        },
        // The original claim again now corrects the returned correction.
        correct(Change::Unchanged),
        Op::Restart { days_later: 0 },
    ]);
}

#[test]
fn a_disputed_claim_leaves_the_settlement_queue() {
    run_fixed(&[
        issue_whole(1),
        Op::Redeem {
            voucher: 0,
            invoice: 1,
            amount: "100.00",
            days_before_today: 0,
            allow_partial: false,
            seller: Seller::Matching,
            buyer: Buyer::Own,
            evidence: 0,
        },
        Op::Approve {
            redemption: first(0),
        },
        Op::Dispute {
            redemption: first(0),
            by: Claimant::Another,
        },
        Op::Dispute {
            redemption: first(0),
            by: Claimant::Own,
        },
        Op::Dispute {
            redemption: first(0),
            by: Claimant::Own,
        },
        settle_today(),
        Op::Confirm {
            redemption: first(0),
            by: Claimant::Own,
        },
        Op::Return {
            redemption: first(0),
        },
        Op::Correct {
            redemption: 0,
            change: Change::Amount,
        },
    ]);
}

#[test]
fn a_bound_voucher_is_unknown_to_other_providers() {
    run_fixed(&[
        issue_bound(0, ProgramCode::Leasing, Bound::Enterprise2AsLessor),
        issue_bound(1, ProgramCode::Compute, Bound::Matching),
        issue_bound(1, ProgramCode::Compute, Bound::OtherProgram),
        issue_bound(1, ProgramCode::Leasing, Bound::NotAProvider),
        leasing_claim(0, 1, Seller::NotBound),
        leasing_claim(0, 2, Seller::Matching),
        // A compute voucher bound to its provider: a lessor is told no such voucher, not that
        // it is of another program.
        leasing_claim(1, 3, Seller::Lessor),
        Op::ChangeProviders {
            voucher: 0,
            bound: Bound::Unbound,
        },
        leasing_claim(0, 4, Seller::Lessor),
        Op::ChangeProviders {
            voucher: 1,
            bound: Bound::OtherProgram,
        },
        Op::Revoke { voucher: 0 },
        Op::ChangeProviders {
            voucher: 0,
            bound: Bound::BothLessors,
        },
        Op::Restart { days_later: 0 },
    ]);
}

#[test]
fn an_application_is_approved_once_into_a_bound_voucher() {
    let apply = |enterprise: usize, amount: &'static str, contract: u8| Op::Apply {
        enterprise,
        program: ProgramCode::Leasing,
        amount,
        bound: Bound::Enterprise2AsLessor,
        contract,
    };
    let approve = |application: usize, face_value: Option<&'static str>| Op::ApproveApplication {
        application,
        face_value,
    };
    run_fixed(&[
        approve(0, None),
        apply(0, "500.01", 1),
        apply(0, "300.00", 1),
        // The contract is held, whoever applies; the same request again answers it.
        apply(1, "100.00", 1),
        Op::RetryApply {
            apply: 1,
            other_amount: false,
        },
        Op::RetryApply {
            apply: 1,
            other_amount: true,
        },
        apply(1, "100.00", 2),
        approve(0, Some("300.01")),
        approve(0, Some("299.99")),
        approve(0, None),
        Op::RejectApplication { application: 0 },
        Op::RejectApplication { application: 1 },
        Op::RejectApplication { application: 1 },
        approve(1, None),
        // Its contract is free again.
        apply(1, "100.00", 2),
        leasing_claim(0, 1, Seller::Matching),
        leasing_claim(0, 2, Seller::Lessor),
        Op::Restart { days_later: 0 },
    ]);
}
