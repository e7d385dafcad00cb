//! How proptest generates histories: the day a history starts on and each kind of op, with
//! the weights that decide how often each comes. Changing a range or a weight changes which
//! cases a seed makes, and so which cases `proptest-regressions.txt` replays.

use chrono::NaiveDate;
use proptest::prelude::*;
use proptest::sample::select;
use voucher_ledger::domain::model::RedemptionStatus;
use voucher_ledger::domain::policy::ProgramCode;

use crate::callers::By;
use crate::ops::{
    AMOUNTS, Bound, Buyer, Change, Claimant, FACE_VALUES, Op, Payee, Reverser, Seller,
    SettleChange, TokenKind, Validity, Which,
};
use crate::rules::{ENTERPRISES, SELLERS, date};

/// Which redemption an op is about: with weight `any` one of all, with weight `in_status` one
/// in `status` (any, when none is).
pub fn which(status: RedemptionStatus, any: u32, in_status: u32) -> impl Strategy<Value = Which> {
    prop_oneof![
        any => (0usize..16).prop_map(Which::Any),
        in_status => (0usize..16).prop_map(move |index| Which::InStatus(status, index)),
    ]
}

/// `op` sent by the caller `by` names (none: its natural caller).
fn sent_by(
    op: impl Strategy<Value = Op>,
    by: impl Strategy<Value = Option<By>>,
) -> impl Strategy<Value = Op> {
    (op, by).prop_map(|(op, by)| match by {
        None => op,
        Some(by) => Op::As {
            by,
            op: Box::new(op),
        },
    })
}

/// Who sends a bureau command: the ledger (its natural caller) 5, the clerk acting in every
/// program 5, the compute clerk 2, the leasing clerk 2, the finance bureau 1.
fn bureau() -> impl Strategy<Value = Option<By>> {
    prop_oneof![
        5 => Just(None),
        5 => Just(Some(By::Clerk)),
        2 => Just(Some(By::ComputeClerk)),
        2 => Just(Some(By::LeasingClerk)),
        1 => Just(Some(By::Finance)),
    ]
}

/// Who records a payment: the finance bureau 6, the ledger 3, the clerk 2, each scoped clerk 1.
fn payer() -> impl Strategy<Value = Option<By>> {
    prop_oneof![
        6 => Just(Some(By::Finance)),
        3 => Just(None),
        2 => Just(Some(By::Clerk)),
        1 => Just(Some(By::ComputeClerk)),
        1 => Just(Some(By::LeasingClerk)),
    ]
}

/// Who files a claim: its provider 12, the clerk on its behalf 3, each scoped clerk 1, the
/// ledger 1, the finance bureau 1.
fn filer() -> impl Strategy<Value = Option<By>> {
    prop_oneof![
        12 => Just(None),
        3 => Just(Some(By::Clerk)),
        1 => Just(Some(By::ComputeClerk)),
        1 => Just(Some(By::LeasingClerk)),
        1 => Just(Some(By::Ledger)),
        1 => Just(Some(By::Finance)),
    ]
}

/// Who sends an enterprise's command: the enterprise 16, the finance bureau 1.
fn enterprise() -> impl Strategy<Value = Option<By>> {
    prop_oneof![16 => Just(None), 1 => Just(Some(By::Finance))]
}

/// A claim approved and a statement asked for of an approved claim's provider, each by a
/// bureau caller, in one batch: so that statements are made, and made by another token than
/// the approver's or by the same (separation of duties).
fn review_and_settle() -> impl Strategy<Value = Op> {
    let approve =
        which(RedemptionStatus::Accepted, 1, 4).prop_map(|redemption| Op::Approve { redemption });
    let settle = (0usize..16).prop_map(|index| Op::Settle {
        payee: Payee::OfRedemption {
            redemption: Which::InStatus(RedemptionStatus::Approved, index),
        },
        other_program: false,
        days_before_today: 0,
    });
    (sent_by(approve, bureau()), sent_by(settle, bureau())).prop_map(|(approve, settle)| {
        Op::Together {
            ops: vec![approve, settle],
        }
    })
}

/// Who makes or revokes a token: mostly a scoped clerk, whose scope limits it (3 each), the
/// ledger 2, the clerk 2, the finance bureau 1.
fn token_maker() -> impl Strategy<Value = Option<By>> {
    prop_oneof![
        2 => Just(None),
        2 => Just(Some(By::Clerk)),
        3 => Just(Some(By::ComputeClerk)),
        3 => Just(Some(By::LeasingClerk)),
        1 => Just(Some(By::Finance)),
    ]
}

/// The tokens asked for: a bureau token (acting in every program, or scoped) 4, a provider's
/// 2 (a code that is no provider 1 in 4), an enterprise's 1, an auditor's 1, the finance
/// bureau's 1.
fn token_kind() -> impl Strategy<Value = TokenKind> {
    prop_oneof![
        4 => (any::<bool>(), any::<bool>())
            .prop_map(|(compute, leasing)| TokenKind::Bureau { compute, leasing }),
        2 => (0usize..4).prop_map(|provider| TokenKind::Provider { provider }),
        1 => (0usize..4).prop_map(|enterprise| TokenKind::Enterprise { enterprise }),
        1 => Just(TokenKind::Auditor),
        1 => Just(TokenKind::Finance),
    ]
}

/// Tokens created 2, revoked 1; a party registered again 1.
fn duties_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => sent_by(token_kind().prop_map(|kind| Op::CreateToken { kind }), token_maker()),
        1 => sent_by((0usize..8).prop_map(|token| Op::RevokeToken { token }), token_maker()),
        1 => sent_by(
            (0usize..6, prop_oneof![3 => Just(false), 1 => Just(true)], any::<bool>())
                .prop_map(|(party, renamed, other_program)| Op::Register {
                    party,
                    renamed,
                    other_program,
                }),
            bureau(),
        ),
    ]
}

/// Days to start on: early in the term, at a year's end, mid-year, and just before the end.
pub fn start_day() -> impl Strategy<Value = NaiveDate> {
    prop_oneof![
        2 => Just(date(2026, 5, 20)),
        2 => Just(date(2026, 12, 20)),
        2 => Just(date(2027, 6, 15)),
        2 => Just(date(2027, 12, 28)),
        1 => Just(date(2028, 5, 1)),
    ]
}

pub fn program() -> impl Strategy<Value = ProgramCode> {
    prop_oneof![Just(ProgramCode::Compute), Just(ProgramCode::Leasing)]
}

pub fn validity() -> impl Strategy<Value = Validity> {
    prop_oneof![
        6 => Just(Validity::Whole),
        1 => (-60i64..=10).prop_map(|days_from_today| Validity::From { days_from_today }),
        1 => (-100i64..=60).prop_map(|days_from_today| Validity::Until { days_from_today }),
        2 => (-40i64..=5, 0i64..=45).prop_map(|(days_from_today, days)| Validity::Window {
            days_from_today,
            days,
        }),
        // Long past: before the term, or past the deadline.
        1 => (-240i64..=-100, 0i64..=20).prop_map(|(days_from_today, days)| Validity::Window {
            days_from_today,
            days,
        }),
    ]
}

/// The providers a voucher is bound to: mostly none or its program's own.
pub fn bound() -> impl Strategy<Value = Bound> {
    prop_oneof![
        12 => Just(Bound::Unbound),
        4 => Just(Bound::Matching),
        2 => Just(Bound::Enterprise2AsLessor),
        1 => Just(Bound::BothLessors),
        1 => Just(Bound::OtherProgram),
        1 => Just(Bound::NotAProvider),
    ]
}

pub fn issue() -> impl Strategy<Value = Op> {
    (
        0usize..3,
        program(),
        prop_oneof![3 => Just(None), 4 => select(FACE_VALUES).prop_map(Some)],
        validity(),
        bound(),
    )
        .prop_map(
            |(enterprise, program, face_value, validity, bound)| Op::Issue {
                enterprise,
                program,
                face_value,
                validity,
                bound,
            },
        )
}

pub fn redeem() -> impl Strategy<Value = Op> {
    (
        0usize..8,
        0u8..8,
        select(AMOUNTS),
        prop_oneof![1 => -3i64..=-1, 6 => 0i64..=5, 2 => 6i64..=200],
        any::<bool>(),
        prop_oneof![
            12 => Just(Seller::Matching),
            1 => Just(Seller::ComputeProvider),
            1 => Just(Seller::Lessor),
            1 => Just(Seller::Enterprise2AsLessor),
            2 => Just(Seller::NotBound),
        ],
        prop_oneof![12 => Just(Buyer::Own), 1 => Just(Buyer::Another)],
        prop_oneof![
            1 => Just(0usize),
            6 => Just(1usize),
            1 => Just(2usize),
            2 => Just(3usize),
            2 => Just(4usize),
            1 => Just(5usize),
            1 => Just(6usize),
        ],
    )
        .prop_map(
            |(
                voucher,
                invoice,
                amount,
                days_before_today,
                allow_partial,
                seller,
                buyer,
                evidence,
            )| {
                Op::Redeem {
                    voucher,
                    invoice,
                    amount,
                    days_before_today,
                    allow_partial,
                    seller,
                    buyer,
                    evidence,
                }
            },
        )
}

pub fn settle() -> impl Strategy<Value = Op> {
    (
        prop_oneof![
            12 => which(RedemptionStatus::Approved, 1, 3)
                .prop_map(|redemption| Payee::OfRedemption { redemption }),
            4 => Just(Payee::ComputeProvider),
            4 => Just(Payee::Lessor),
            1 => Just(Payee::Enterprise2AsLessor),
            1 => Just(Payee::NotAProvider),
        ],
        prop_oneof![12 => Just(false), 1 => Just(true)],
        prop_oneof![4 => Just(0i64), 3 => 1i64..=30, 1 => -5i64..=-1],
    )
        .prop_map(|(payee, other_program, days_before_today)| Op::Settle {
            payee,
            other_program,
            days_before_today,
        })
}

fn retry_settle() -> impl Strategy<Value = Op> {
    (
        0usize..8,
        prop_oneof![
            4 => Just(SettleChange::Unchanged),
            1 => Just(SettleChange::UpTo),
            1 => Just(SettleChange::Provider),
            1 => Just(SettleChange::Program),
        ],
    )
        .prop_map(|(settle, change)| Op::RetrySettle { settle, change })
}

pub fn pay() -> impl Strategy<Value = Op> {
    (
        prop_oneof![12 => (0usize..8).prop_map(Some), 1 => Just(None)],
        prop_oneof![6 => Just(0i64), 3 => 1i64..=10, 1 => -3i64..=-1],
        prop_oneof![4 => Just(false), 1 => Just(true)],
    )
        .prop_map(|(statement, days_before_today, second_reference)| Op::Pay {
            statement,
            days_before_today,
            second_reference,
        })
}

fn relate_parties() -> impl Strategy<Value = Op> {
    (
        prop_oneof![12 => 0usize..SELLERS.len(), 1 => Just(SELLERS.len())],
        prop_oneof![12 => 0usize..ENTERPRISES.len(), 1 => Just(ENTERPRISES.len())],
        any::<bool>(),
    )
        .prop_map(|(provider, enterprise, second_reason)| Op::RelateParties {
            provider,
            enterprise,
            second_reason,
        })
}

fn reverser() -> impl Strategy<Value = Reverser> {
    prop_oneof![
        6 => Just(Reverser::Bureau),
        2 => Just(Reverser::OwnProvider),
        1 => Just(Reverser::OtherProvider),
    ]
}

fn claimant() -> impl Strategy<Value = Claimant> {
    prop_oneof![6 => Just(Claimant::Own), 1 => Just(Claimant::Another)]
}

/// A claim the enterprise or the bureau looks at: mostly an accepted one, sometimes an approved
/// one, sometimes any.
fn open_claim(accepted: u32, approved: u32) -> impl Strategy<Value = Which> {
    prop_oneof![
        accepted => which(RedemptionStatus::Accepted, 1, 4),
        approved => which(RedemptionStatus::Approved, 1, 4),
    ]
}

/// The enterprise's part: confirming and disputing claims, the bureau returning them and
/// changing a voucher's providers, the provider correcting a returned claim; applications,
/// and the bureau's decisions on them.
fn enterprise_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => sent_by((open_claim(4, 1), claimant())
            .prop_map(|(redemption, by)| Op::Confirm { redemption, by }), enterprise()),
        2 => sent_by((open_claim(2, 1), claimant())
            .prop_map(|(redemption, by)| Op::Dispute { redemption, by }), enterprise()),
        4 => sent_by(open_claim(1, 1).prop_map(|redemption| Op::Return { redemption }), bureau()),
        4 => sent_by((0usize..8, correction())
            .prop_map(|(redemption, change)| Op::Correct { redemption, change }), filer()),
        1 => sent_by((0usize..8, bound())
            .prop_map(|(voucher, bound)| Op::ChangeProviders { voucher, bound }), bureau()),
        3 => sent_by(apply(), enterprise()),
        1 => sent_by((0usize..8, any::<bool>())
            .prop_map(|(apply, other_amount)| Op::RetryApply { apply, other_amount }), enterprise()),
        3 => sent_by((0usize..8, prop_oneof![3 => Just(None), 2 => select(FACE_VALUES).prop_map(Some)])
            .prop_map(|(application, face_value)| Op::ApproveApplication {
                application,
                face_value,
            }), bureau()),
        1 => sent_by((0usize..8).prop_map(|application| Op::RejectApplication { application }), bureau()),
    ]
}

/// An application: mostly by a registered enterprise, for an amount of the face values' table
/// (some above the caps), under one of a few contracts.
fn apply() -> impl Strategy<Value = Op> {
    (
        prop_oneof![12 => 0usize..ENTERPRISES.len(), 1 => Just(ENTERPRISES.len())],
        program(),
        select(FACE_VALUES),
        bound(),
        0u8..4,
    )
        .prop_map(|(enterprise, program, amount, bound, contract)| Op::Apply {
            enterprise,
            program,
            amount,
            bound,
            contract,
        })
}

/// What a correction of a returned claim changes: mostly the amount or the evidence.
fn correction() -> impl Strategy<Value = Change> {
    prop_oneof![
        2 => Just(Change::Unchanged),
        4 => Just(Change::Amount),
        2 => Just(Change::Evidence),
        1 => Just(Change::InvoiceDate),
        1 => Just(Change::AllowPartial),
        1 => Just(Change::Voucher),
        1 => Just(Change::Seller),
        1 => Just(Change::Buyer),
    ]
}

/// The ops that are one command each.
fn command_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        25 => enterprise_op(),
        12 => sent_by(issue(), bureau()),
        2 => sent_by((0usize..8).prop_map(|issue| Op::RetryIssue { issue }), bureau()),
        25 => sent_by(redeem(), filer()),
        4 => sent_by(retry_redeem(), filer()),
        4 => reverse(),
        2 => sent_by((0usize..8).prop_map(|voucher| Op::Revoke { voucher }), bureau()),
        10 => sent_by(which(RedemptionStatus::Accepted, 1, 2)
            .prop_map(|redemption| Op::Approve { redemption }), bureau()),
        2 => sent_by(which(RedemptionStatus::Approved, 3, 1)
            .prop_map(|redemption| Op::Reject { redemption }), bureau()),
        6 => sent_by(settle(), bureau()),
        1 => sent_by(retry_settle(), bureau()),
        3 => sent_by(pay(), payer()),
        1 => sent_by(relate_parties(), bureau()),
        4 => duties_op(),
    ]
}

/// A reversal: the bureau's sent by any of its callers, a provider's by its own token.
fn reverse() -> impl Strategy<Value = Op> {
    (which(RedemptionStatus::Settled, 2, 1), reverser(), bureau()).prop_map(
        |(redemption, by, caller)| {
            let op = Op::Reverse { redemption, by };
            match (by, caller) {
                (Reverser::Bureau, Some(caller)) => Op::As {
                    by: caller,
                    op: Box::new(op),
                },
                _ => op,
            }
        },
    )
}

fn retry_redeem() -> impl Strategy<Value = Op> {
    (
        0usize..16,
        prop_oneof![
            6 => Just(Change::Unchanged),
            1 => Just(Change::AllowPartial),
            1 => Just(Change::Amount),
            1 => Just(Change::InvoiceDate),
            1 => Just(Change::Voucher),
            1 => Just(Change::Evidence),
            1 => Just(Change::Seller),
            1 => Just(Change::Buyer),
        ],
    )
        .prop_map(|(attempt, change)| Op::RetryRedeem { attempt, change })
}

pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        70 => command_op(),
        3 => prop_oneof![8 => 1i64..=3, 2 => 20i64..=40, 2 => 85i64..=100, 1 => 250i64..=400]
            .prop_map(|days| Op::AdvanceDays { days }),
        1 => (0usize..8, -1i64..=1)
            .prop_map(|(voucher, days_after)| Op::AdvanceToDeadline { voucher, days_after }),
        2 => prop::collection::vec(command_op(), 2..=5).prop_map(|ops| Op::Together { ops }),
        2 => review_and_settle(),
        // A claim returned and a returned claim's invoice claimed again, in one batch.
        1 => (open_claim(1, 1), 0usize..8, correction()).prop_map(|(returned, redemption, change)| {
            Op::Together {
                ops: vec![
                    Op::Return { redemption: returned },
                    Op::Correct { redemption, change },
                ],
            }
        }),
        2 => prop_oneof![3 => Just(0i64), 1 => 1i64..=100]
            .prop_map(|days_later| Op::Restart { days_later }),
    ]
}
