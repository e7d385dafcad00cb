//! A model-based test of the engine: proptest makes random histories of issuing, redeeming
//! (with evidence), reviewing (approving, rejecting), reversing (by the bureau or a provider),
//! settling (statements netting clawbacks), recording related parties and revoking, of days
//! passing and of restarts, and runs each against a real engine (a real sled directory in a
//! tempdir, or every other case the in-memory store behind the same seam) and against a
//! reference model written here from the rules in README.md and the
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

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex};
use std::task::Poll;
use std::time::Duration;

use chrono::{Datelike, NaiveDate, TimeDelta};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{FileFailurePersistence, TestCaseError, TestRunner};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use voucher_ledger::domain::command::{Command, RedeemCommand, SettlementRequest};
use voucher_ledger::domain::credit_code::CreditCode;
use voucher_ledger::domain::error::LedgerError;
use voucher_ledger::domain::ids::{RedemptionId, SettlementId, VoucherId};
use voucher_ledger::domain::invoice::InvoiceNumber;
use voucher_ledger::domain::ledger::Outcome;
use voucher_ledger::domain::model::{
    Actor, Balance, BudgetView, Evidence, EvidenceKind, Invoice, IssueVoucherRequest,
    ProgramSummary, Redemption, RedemptionStatus, RelatedParties, Role, Settlement, Sha256Hex,
    Voucher, VoucherStatus,
};
use voucher_ledger::domain::money::{Money, Rounding, Total};
use voucher_ledger::domain::policy::{DEFAULT_POLICY_TOML, Policy, ProgramCode};
use voucher_ledger::domain::text::{Name, Reason, Reference, RequestId};
use voucher_ledger::engine::{ClockSource, Engine, EngineConfig, EngineError, EngineOwner};
use voucher_ledger::store::SettlementFilter;
use voucher_ledger::store::{MemoryTree, open_memory};

// ---------------------------------------------------------------------------------------------
// The world: three enterprises, a compute provider, a robot lessor, and enterprise 2 also
// registered as a robot lessor (so that it can try to deal with itself).
// ---------------------------------------------------------------------------------------------

const ENTERPRISES: [&str; 3] = [
    "914403001922038216",
    "91110108551385082Q",
    "91330100716105852F",
];
const COMPUTE_PROVIDER: &str = "9144030071526726XG";
const LESSOR: &str = "91320681MA1N7Q4R2M";
const ENTERPRISE_2_AS_LESSOR: &str = ENTERPRISES[2];

/// The program each seller is registered for.
const SELLERS: [(&str, ProgramCode); 3] = [
    (COMPUTE_PROVIDER, ProgramCode::Compute),
    (LESSOR, ProgramCode::Leasing),
    (ENTERPRISE_2_AS_LESSOR, ProgramCode::Leasing),
];

const CASES_DEFAULT: u32 = 128;

// ---------------------------------------------------------------------------------------------
// The rules, as README.md states them, with the caps made small (policy file below).
// ---------------------------------------------------------------------------------------------

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("a real day")
}

fn term() -> Period {
    Period {
        first: date(2026, 5, 14),
        last: date(2028, 5, 13),
    }
}

const REDEEM_GRACE_DAYS: i64 = 90;

fn cap_of(program: ProgramCode) -> Fen {
    match program {
        // 1000.00 per enterprise per calendar year.
        ProgramCode::Compute => Fen(100_000),
        // 500.00 per enterprise over the whole term.
        ProgramCode::Leasing => Fen(50_000),
        ProgramCode::Corpus => unreachable!("the test policy has no corpus program"),
    }
}

fn rate_percent(program: ProgramCode) -> i64 {
    match program {
        ProgramCode::Compute => 50,
        ProgramCode::Leasing => 20,
        ProgramCode::Corpus => unreachable!("the test policy has no corpus program"),
    }
}

/// The subsidy of an invoice amount: rate × amount, half up to the fen.
fn subsidy_for(program: ProgramCode, amount: Fen) -> Fen {
    Fen((amount.0 * rate_percent(program) + 50) / 100)
}

/// The program's budget for the cap period starting in `year` (small, so it is reached: a
/// few enterprises' caps pass it); 2028's compute period has none and is bound by the caps only.
fn budget_of(program: ProgramCode, year: i32) -> Option<Fen> {
    match (program, year) {
        (ProgramCode::Compute, 2026) => Some(Fen(150_000)),
        (ProgramCode::Compute, 2027) => Some(Fen(250_000)),
        (ProgramCode::Leasing, 2026) => Some(Fen(70_000)),
        _ => None,
    }
}

/// The documents every claim of the program must carry: leasing claims a contract and a
/// payment receipt; compute claims nothing.
fn required_evidence(program: ProgramCode) -> &'static [EvidenceKind] {
    match program {
        ProgramCode::Compute => &[],
        ProgramCode::Leasing => &[EvidenceKind::Contract, EvidenceKind::PaymentReceipt],
        ProgramCode::Corpus => unreachable!("the test policy has no corpus program"),
    }
}

/// The most claims, and separately the most clawbacks, one statement carries.
const SETTLEMENT_LINES_MAX: usize = 2000;

/// The cap period holding `day`: its calendar year clipped to the term (compute), or the
/// term (leasing); none outside the term.
fn period_holding(program: ProgramCode, day: NaiveDate) -> Option<Period> {
    let term = term();
    if !term.contains(day) {
        return None;
    }
    Some(match program {
        ProgramCode::Compute => Period {
            first: date(day.year(), 1, 1).max(term.first),
            last: date(day.year(), 12, 31).min(term.last),
        },
        ProgramCode::Leasing => term,
        ProgramCode::Corpus => unreachable!("the test policy has no corpus program"),
    })
}

/// Every cap period there is, to read every balance after every step.
fn all_periods(program: ProgramCode) -> Vec<Period> {
    let mut periods: Vec<Period> = [date(2026, 6, 1), date(2027, 6, 1), date(2028, 3, 1)]
        .into_iter()
        .filter_map(|day| period_holding(program, day))
        .collect();
    periods.dedup();
    periods
}

/// The policy the engine runs: the compiled-in file with small caps and small budgets, so
/// they are reached, and the evidence leasing claims must carry.
static POLICY: LazyLock<Arc<Policy>> = LazyLock::new(|| {
    let replace = |text: &str, from: &str, to: &str| {
        assert!(text.contains(from), "the default policy has {from}");
        text.replacen(from, to, 1)
    };
    let small = replace(
        DEFAULT_POLICY_TOML,
        "cap = \"2000000.00\"",
        "cap = \"1000.00\"",
    );
    let small = replace(&small, "cap = \"1000000.00\"", "cap = \"500.00\"");
    let compute_kind = "provider_kind = \"compute provider (算力服务商)\"";
    let small = replace(
        &small,
        compute_kind,
        &format!("{compute_kind}\nbudgets = {{ \"2026\" = \"1500.00\", \"2027\" = \"2500.00\" }}"),
    );
    let leasing_kind = "provider_kind = \"embodied-robot lessor (具身机器人租赁商)\"";
    let small = replace(
        &small,
        leasing_kind,
        &format!(
            "{leasing_kind}\nbudgets = {{ \"2026\" = \"700.00\" }}\nrequired_evidence = [\"contract\", \"payment_receipt\"]"
        ),
    );
    Arc::new(Policy::from_toml(&small).expect("the test policy is valid"))
});

// ---------------------------------------------------------------------------------------------
// Money in fen, dates and periods.
// ---------------------------------------------------------------------------------------------

/// An amount in fen, printed as yuan.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
struct Fen(i64);

impl Fen {
    /// The model's own reading of the test's amounts, such as "0.03" or "1000".
    fn parse(text: &str) -> Fen {
        let (units, cents) = text.split_once('.').unwrap_or((text, "00"));
        assert_eq!(cents.len(), 2, "amounts in the tables have two decimals");
        let units: i64 = units.parse().expect("whole yuan in the table");
        let cents: i64 = cents.parse().expect("fen in the table");
        Fen(units * 100 + cents)
    }

    fn of(money: Money) -> Fen {
        Fen(i64::try_from(money.fen()).expect("amounts are bounded"))
    }

    /// A sum, or a difference of sums (a statement's net), which is whole fen.
    fn of_decimal(value: Decimal) -> Fen {
        let fen = value * Decimal::from(100);
        assert!(fen.fract().is_zero(), "{value} is not whole fen");
        Fen(fen.to_i64().expect("sums are bounded"))
    }

    fn of_total(total: Total) -> Fen {
        Fen::of_decimal(total.as_decimal())
    }

    fn plus(self, other: Fen) -> Fen {
        Fen(self.0 + other.0)
    }

    fn minus(self, other: Fen) -> Fen {
        Fen(self.0 - other.0)
    }
}

impl fmt::Debug for Fen {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let fen = self.0.unsigned_abs();
        write!(formatter, "{sign}{}.{:02}", fen / 100, fen % 100)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Period {
    first: NaiveDate,
    last: NaiveDate,
}

impl Period {
    fn contains(self, day: NaiveDate) -> bool {
        self.first <= day && day <= self.last
    }
}

impl fmt::Debug for Period {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}..{}", self.first, self.last)
    }
}

fn shift(day: NaiveDate, days: i64) -> NaiveDate {
    day + TimeDelta::days(days)
}

fn voucher_id_text(number: u64) -> String {
    format!("V{number:012}")
}

fn redemption_id_text(number: u64) -> String {
    format!("R{number:012}")
}

fn settlement_id_text(number: u64) -> String {
    format!("S{number:012}")
}

fn invoice_number_text(serial: u8) -> String {
    format!("2432200000000000{serial:04}")
}

// ---------------------------------------------------------------------------------------------
// The operations proptest generates.
// ---------------------------------------------------------------------------------------------

/// Which invoice dates a voucher takes, relative to today when it is issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Validity {
    /// Neither date given: the whole cap period holding today.
    Whole,
    /// Only `valid_from`.
    From { days_from_today: i64 },
    /// Only `valid_until`.
    Until { days_from_today: i64 },
    /// Both: `valid_from` = today + `days_from_today`, `valid_until` = that + `days`.
    Window { days_from_today: i64, days: i64 },
}

impl Validity {
    fn resolve(self, today: NaiveDate) -> (Option<NaiveDate>, Option<NaiveDate>) {
        match self {
            Validity::Whole => (None, None),
            Validity::From { days_from_today } => (Some(shift(today, days_from_today)), None),
            Validity::Until { days_from_today } => (None, Some(shift(today, days_from_today))),
            Validity::Window {
                days_from_today,
                days,
            } => {
                let from = shift(today, days_from_today);
                (Some(from), Some(shift(from, days)))
            }
        }
    }
}

/// Who sells: usually the provider of the voucher's program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seller {
    Matching,
    ComputeProvider,
    Lessor,
    Enterprise2AsLessor,
}

/// What a RetryRedeem changes in the request it sends again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    Unchanged,
    /// The other allow_partial.
    AllowPartial,
    /// The next amount of the table.
    Amount,
    /// The invoice dated a day earlier.
    InvoiceDate,
    /// The next voucher.
    Voucher,
    /// Other evidence: the first document's hash changed, or a contract added to none.
    Evidence,
}

impl Change {
    fn apply(self, payload: &RedeemPayload, vouchers: usize) -> RedeemPayload {
        let mut changed = payload.clone();
        match self {
            Change::Unchanged => {}
            Change::AllowPartial => changed.allow_partial = !payload.allow_partial,
            Change::Amount => {
                let index = AMOUNTS
                    .iter()
                    .position(|amount| *amount == payload.amount)
                    .expect("amounts come from the table");
                changed.amount = AMOUNTS[(index + 1) % AMOUNTS.len()];
            }
            Change::InvoiceDate => changed.invoice_date = shift(payload.invoice_date, -1),
            Change::Voucher => {
                let count = u64::try_from(vouchers.max(1)).expect("few vouchers");
                changed.voucher = payload.voucher % count + 1;
            }
            Change::Evidence => match changed.evidence.first_mut() {
                None => changed.evidence.push(ModelEvidence {
                    kind: EvidenceKind::Contract,
                    sha: 'a',
                    reference: "contract.pdf",
                }),
                Some(first) => first.sha = if first.sha == 'a' { 'e' } else { 'a' },
            },
        }
        changed
    }
}

/// One document behind a claim: its kind, the hex digit its SHA-256 repeats, its reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ModelEvidence {
    kind: EvidenceKind,
    sha: char,
    reference: &'static str,
}

impl ModelEvidence {
    fn sha256(self) -> String {
        self.sha.to_string().repeat(64)
    }
}

/// The evidence a claim may carry: none, what leasing requires (in either order, with more),
/// part of it, only other kinds, and what leasing requires with another contract's hash.
const EVIDENCE_SETS: &[&[(EvidenceKind, char, &str)]] = &[
    &[],
    &[
        (EvidenceKind::Contract, 'a', "contract.pdf"),
        (EvidenceKind::PaymentReceipt, 'b', "receipt.pdf"),
    ],
    &[(EvidenceKind::Contract, 'a', "contract.pdf")],
    &[
        (EvidenceKind::PaymentReceipt, 'b', "receipt.pdf"),
        (EvidenceKind::Contract, 'a', "contract.pdf"),
        (
            EvidenceKind::DeliveryProof,
            'c',
            "https://example.cn/delivery/1",
        ),
    ],
    &[
        (EvidenceKind::Contract, 'a', "contract.pdf"),
        (EvidenceKind::PaymentReceipt, 'b', "receipt.pdf"),
        (EvidenceKind::DeploymentProof, 'd', "deployment.jpg"),
    ],
    &[(EvidenceKind::DeploymentProof, 'd', "deployment.jpg")],
    &[
        (EvidenceKind::Contract, 'f', "contract-v2.pdf"),
        (EvidenceKind::PaymentReceipt, 'b', "receipt.pdf"),
    ],
];

fn evidence_set(index: usize) -> Vec<ModelEvidence> {
    EVIDENCE_SETS[index]
        .iter()
        .map(|(kind, sha, reference)| ModelEvidence {
            kind: *kind,
            sha: *sha,
            reference,
        })
        .collect()
}

/// Which redemption an op is about: any of those accepted, or one in a given status (any,
/// when none is), so that histories reach approval, settlement and clawback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Any(usize),
    InStatus(RedemptionStatus, usize),
}

fn which(status: RedemptionStatus, any: u32, in_status: u32) -> impl Strategy<Value = Which> {
    prop_oneof![
        any => (0usize..16).prop_map(Which::Any),
        in_status => (0usize..16).prop_map(move |index| Which::InStatus(status, index)),
    ]
}

/// Who asks for a reversal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reverser {
    Bureau,
    /// The provider that made the redemption.
    OwnProvider,
    /// A provider that did not make it.
    OtherProvider,
}

/// Whom a statement is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Payee {
    /// The provider of redemption number `redemption` (modulo those accepted).
    OfRedemption {
        redemption: Which,
    },
    ComputeProvider,
    Lessor,
    Enterprise2AsLessor,
    /// A credit code registered as an enterprise only.
    NotAProvider,
}

impl Payee {
    fn code(self) -> &'static str {
        match self {
            Payee::ComputeProvider => COMPUTE_PROVIDER,
            Payee::Lessor => LESSOR,
            Payee::Enterprise2AsLessor => ENTERPRISE_2_AS_LESSOR,
            Payee::NotAProvider => ENTERPRISES[0],
            Payee::OfRedemption { .. } => unreachable!("resolved against the model"),
        }
    }
}

/// What a RetrySettle changes in the request it sends again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SettleChange {
    Unchanged,
    /// A day earlier.
    UpTo,
    /// The other lessor, or the lessor for the compute provider.
    Provider,
    /// The other program.
    Program,
}

impl SettleChange {
    fn apply(self, payload: &SettlePayload) -> SettlePayload {
        let mut changed = payload.clone();
        match self {
            SettleChange::Unchanged => {}
            SettleChange::UpTo => changed.up_to = shift(payload.up_to, -1),
            SettleChange::Provider => {
                changed.provider = if payload.provider == LESSOR {
                    ENTERPRISE_2_AS_LESSOR
                } else {
                    LESSOR
                }
            }
            SettleChange::Program => changed.program = other_program_of(payload.program),
        }
        changed
    }
}

fn other_program_of(program: ProgramCode) -> ProgramCode {
    match program {
        ProgramCode::Compute => ProgramCode::Leasing,
        _ => ProgramCode::Compute,
    }
}

/// The program a credit code is registered as a provider for, if it is one.
fn provider_program(code: &str) -> Option<ProgramCode> {
    SELLERS
        .iter()
        .find(|(seller, _)| *seller == code)
        .map(|(_, program)| *program)
}

/// Who buys: usually the voucher's own enterprise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Buyer {
    Own,
    Another,
}

#[derive(Clone, Debug)]
enum Op {
    /// The bureau issues a voucher (a fresh request id).
    Issue {
        enterprise: usize,
        program: ProgramCode,
        face_value: Option<&'static str>,
        validity: Validity,
    },
    /// The bureau sends the `issue`th Issue again, unchanged (same request id).
    RetryIssue { issue: usize },
    /// A provider redeems voucher number `voucher` (modulo those issued) with invoice
    /// `invoice` (a small range, so numbers repeat) dated `days_before_today` days ago.
    Redeem {
        voucher: usize,
        invoice: u8,
        amount: &'static str,
        days_before_today: i64,
        allow_partial: bool,
        seller: Seller,
        buyer: Buyer,
        /// An index into [`EVIDENCE_SETS`].
        evidence: usize,
    },
    /// The `attempt`th Redeem sent again: unchanged (a retry), or with one field changed
    /// (a conflict, if the invoice was redeemed).
    RetryRedeem { attempt: usize, change: Change },
    /// Redemption number `redemption` (modulo those accepted) is reversed, by the bureau or a
    /// provider.
    Reverse { redemption: Which, by: Reverser },
    /// The bureau approves redemption number `redemption` (modulo those accepted).
    Approve { redemption: Which },
    /// The bureau rejects redemption number `redemption` (modulo those accepted).
    Reject { redemption: Which },
    /// The bureau asks for a statement (a fresh request id) for `payee` under its program (or
    /// the other), of invoices up to `days_before_today` days ago (negative: in the future).
    Settle {
        payee: Payee,
        other_program: bool,
        days_before_today: i64,
    },
    /// The `settle`th Settle sent again, unchanged or with one field changed.
    RetrySettle { settle: usize, change: SettleChange },
    /// The bureau records the payment of statement number `statement` (modulo those made;
    /// `None`: one that does not exist), dated `days_before_today` days ago (negative: in the
    /// future), with the first or the second of two bank references.
    Pay {
        statement: Option<usize>,
        days_before_today: i64,
        second_reference: bool,
    },
    /// The bureau records a provider (`provider` indexes [`SELLERS`], past its end: a code
    /// that is no provider) and enterprise `enterprise` as related parties.
    RelateParties {
        provider: usize,
        enterprise: usize,
        /// Which of two reasons.
        second_reason: bool,
    },
    /// The bureau revokes voucher number `voucher` (modulo those issued).
    Revoke { voucher: usize },
    /// Time passes; expiries run.
    AdvanceDays { days: i64 },
    /// Time passes until `days_after` the redeem_by of voucher number `voucher` (modulo
    /// those issued), if that is later than today: the deadline's edge.
    AdvanceToDeadline { voucher: usize, days_after: i64 },
    /// Several commands (no time passing, no restart) sent at once: one batch of the writer,
    /// or a few, carried out in the order sent.
    Together { ops: Vec<Op> },
    /// The engine shuts down and starts again on the same directory, `days_later` (the
    /// expiries due then run as it starts). With no day passing it must show the same.
    Restart { days_later: i64 },
}

const FACE_VALUES: &[&str] = &[
    "0.01", "0.02", "100.00", "300.00", "499.99", "500.00", "500.01", "999.99", "1000.00",
    "1000.01",
];

/// Tiny amounts that round (0.01 at 20% is 0.00, 0.05 at 50% is 0.03 half up), and amounts
/// whose subsidy hits or passes the caps (2000.00 at 50% and 2500.00 at 20% are the whole cap).
const AMOUNTS: &[&str] = &[
    "0.01", "0.02", "0.03", "0.05", "1.00", "10.01", "333.33", "999.99", "1000.00", "1234.56",
    "2000.00", "2000.02", "2500.00", "5000.00",
];

/// Days to start on: early in the term, at a year's end, mid-year, and just before the end.
fn start_day() -> impl Strategy<Value = NaiveDate> {
    prop_oneof![
        2 => Just(date(2026, 5, 20)),
        2 => Just(date(2026, 12, 20)),
        2 => Just(date(2027, 6, 15)),
        2 => Just(date(2027, 12, 28)),
        1 => Just(date(2028, 5, 1)),
    ]
}

fn program() -> impl Strategy<Value = ProgramCode> {
    prop_oneof![Just(ProgramCode::Compute), Just(ProgramCode::Leasing)]
}

fn validity() -> impl Strategy<Value = Validity> {
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

fn issue() -> impl Strategy<Value = Op> {
    (
        0usize..3,
        program(),
        prop_oneof![3 => Just(None), 4 => select(FACE_VALUES).prop_map(Some)],
        validity(),
    )
        .prop_map(|(enterprise, program, face_value, validity)| Op::Issue {
            enterprise,
            program,
            face_value,
            validity,
        })
}

fn redeem() -> impl Strategy<Value = Op> {
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

fn settle() -> impl Strategy<Value = Op> {
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

fn pay() -> impl Strategy<Value = Op> {
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

/// The ops that are one command each.
fn command_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => issue(),
        2 => (0usize..8).prop_map(|issue| Op::RetryIssue { issue }),
        20 => redeem(),
        4 => retry_redeem(),
        4 => (which(RedemptionStatus::Settled, 2, 1), reverser())
            .prop_map(|(redemption, by)| Op::Reverse { redemption, by }),
        2 => (0usize..8).prop_map(|voucher| Op::Revoke { voucher }),
        10 => which(RedemptionStatus::Accepted, 1, 2)
            .prop_map(|redemption| Op::Approve { redemption }),
        2 => which(RedemptionStatus::Approved, 3, 1)
            .prop_map(|redemption| Op::Reject { redemption }),
        6 => settle(),
        1 => retry_settle(),
        3 => pay(),
        1 => relate_parties(),
    ]
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
        ],
    )
        .prop_map(|(attempt, change)| Op::RetryRedeem { attempt, change })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        56 => command_op(),
        3 => prop_oneof![8 => 1i64..=3, 2 => 20i64..=40, 2 => 85i64..=100, 1 => 250i64..=400]
            .prop_map(|days| Op::AdvanceDays { days }),
        1 => (0usize..8, -1i64..=1)
            .prop_map(|(voucher, days_after)| Op::AdvanceToDeadline { voucher, days_after }),
        2 => prop::collection::vec(command_op(), 2..=5).prop_map(|ops| Op::Together { ops }),
        2 => prop_oneof![3 => Just(0i64), 1 => 1i64..=100]
            .prop_map(|days_later| Op::Restart { days_later }),
    ]
}

// ---------------------------------------------------------------------------------------------
// What is asked (the payloads, resolved against the state at the time) and what is answered.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
struct IssuePayload {
    request_id: String,
    enterprise: usize,
    program: ProgramCode,
    face_value: Option<&'static str>,
    valid_from: Option<NaiveDate>,
    valid_until: Option<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct RedeemPayload {
    voucher: u64,
    seller: &'static str,
    buyer: &'static str,
    invoice: u8,
    invoice_date: NaiveDate,
    amount: &'static str,
    allow_partial: bool,
    evidence: Vec<ModelEvidence>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct SettlePayload {
    request_id: String,
    provider: &'static str,
    program: ProgramCode,
    up_to: NaiveDate,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct VoucherView {
    id: String,
    enterprise: String,
    program: ProgramCode,
    face_value: Fen,
    redeemed: Fen,
    remaining: Fen,
    status: VoucherStatus,
    validity: Period,
    redeem_by: NaiveDate,
    cap_period: Period,
}

impl VoucherView {
    fn of(voucher: &Voucher) -> VoucherView {
        VoucherView {
            id: voucher.voucher_id.to_string(),
            enterprise: voucher.enterprise_credit_code.to_string(),
            program: voucher.program,
            face_value: Fen::of(voucher.face_value),
            redeemed: Fen::of(voucher.redeemed),
            remaining: Fen::of(voucher.remaining()),
            status: voucher.status,
            validity: Period {
                first: voucher.validity.first,
                last: voucher.validity.last,
            },
            redeem_by: voucher.redeem_by,
            cap_period: Period {
                first: voucher.cap_period.first,
                last: voucher.cap_period.last,
            },
        }
    }
}

/// A document as the engine shows it: kind, SHA-256, reference.
type EvidenceView = (EvidenceKind, String, String);

#[derive(Clone, Debug, PartialEq, Eq)]
struct RedemptionView {
    id: String,
    voucher: String,
    program: ProgramCode,
    provider: String,
    enterprise: String,
    invoice: String,
    invoice_date: NaiveDate,
    amount: Fen,
    allow_partial: bool,
    computed_subsidy: Fen,
    subsidy: Fen,
    status: RedemptionStatus,
    evidence: Vec<EvidenceView>,
    reversed_by: Option<Role>,
    /// The statement that paid it.
    settlement: Option<String>,
}

impl RedemptionView {
    fn of(redemption: &Redemption) -> RedemptionView {
        RedemptionView {
            id: redemption.redemption_id.to_string(),
            voucher: redemption.voucher_id.to_string(),
            program: redemption.program,
            provider: redemption.provider_credit_code.to_string(),
            enterprise: redemption.enterprise_credit_code.to_string(),
            invoice: redemption.invoice.number.to_string(),
            invoice_date: redemption.invoice.date,
            amount: Fen::of(redemption.invoice.amount),
            allow_partial: redemption.allow_partial,
            computed_subsidy: Fen::of(redemption.computed_subsidy),
            subsidy: Fen::of(redemption.subsidy),
            status: redemption.status,
            evidence: redemption
                .evidence
                .iter()
                .map(|document| {
                    (
                        document.kind,
                        document.sha256.as_str().to_owned(),
                        document.reference.to_string(),
                    )
                })
                .collect(),
            reversed_by: redemption.reversed_by,
            settlement: redemption.settlement_id.map(|id| id.to_string()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct SettlementView {
    id: String,
    request_id: String,
    provider: String,
    program: ProgramCode,
    up_to: NaiveDate,
    /// The redemption ids, in the statement's order.
    lines: Vec<String>,
    gross: Fen,
    /// (redemption id, amount), in the statement's order.
    clawbacks: Vec<(String, Fen)>,
    clawed_back: Fen,
    net: Fen,
    more_pending: bool,
    /// (bank reference, day paid).
    payment: Option<(String, NaiveDate)>,
}

impl SettlementView {
    fn of(settlement: &Settlement) -> SettlementView {
        SettlementView {
            id: settlement.settlement_id.to_string(),
            request_id: settlement.request_id.to_string(),
            provider: settlement.provider_credit_code.to_string(),
            program: settlement.program,
            up_to: settlement.up_to,
            lines: settlement
                .redemption_ids
                .iter()
                .map(ToString::to_string)
                .collect(),
            gross: Fen::of_total(settlement.gross),
            clawbacks: settlement
                .clawbacks
                .iter()
                .map(|clawback| (clawback.redemption_id.to_string(), Fen::of(clawback.amount)))
                .collect(),
            clawed_back: Fen::of_total(settlement.clawed_back),
            net: Fen::of_decimal(settlement.net()),
            more_pending: settlement.more_pending,
            payment: settlement
                .payment
                .as_ref()
                .map(|payment| (payment.bank_reference.to_string(), payment.paid_on)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct RelatedPartiesView {
    provider: String,
    enterprise: String,
    reason: String,
}

impl RelatedPartiesView {
    fn of(parties: &RelatedParties) -> RelatedPartiesView {
        RelatedPartiesView {
            provider: parties.provider_credit_code.to_string(),
            enterprise: parties.enterprise_credit_code.to_string(),
            reason: parties.reason.to_string(),
        }
    }
}

/// What a program period's totals (or one provider's share of them) add up to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Totals {
    /// Redemptions accepted, whatever became of them.
    redemptions: u64,
    /// Net of reversals and rejections.
    redeemed: Fen,
    /// Subsidy given back by reversals (clawbacks included).
    reversed: Fen,
    /// Subsidy released by rejections.
    rejected: Fen,
    /// Paid and not recovered.
    settled: Fen,
}

/// A program in one cap period, as the engine's summary shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct SummaryView {
    program: ProgramCode,
    period: Period,
    /// Enterprises with a cap account (a voucher issued) in the period.
    enterprises: u64,
    vouchers: u64,
    committed: Fen,
    totals: Totals,
    budget: Option<Fen>,
    /// By provider; providers with nothing are left out.
    providers: BTreeMap<String, Totals>,
}

impl SummaryView {
    fn of(summary: &ProgramSummary) -> SummaryView {
        let totals = &summary.totals;
        SummaryView {
            program: summary.program_period.program,
            period: Period {
                first: summary.period.first,
                last: summary.period.last,
            },
            enterprises: totals.enterprises,
            vouchers: totals.vouchers,
            committed: Fen::of_total(totals.committed),
            totals: Totals {
                redemptions: totals.redemptions,
                redeemed: Fen::of_total(totals.redeemed),
                reversed: Fen::of_total(totals.reversed),
                rejected: Fen::of_total(totals.rejected),
                settled: Fen::of_total(totals.settled),
            },
            budget: summary.budget.map(Fen::of),
            providers: summary
                .providers
                .iter()
                .map(|(code, _, totals)| {
                    (
                        code.to_string(),
                        Totals {
                            redemptions: totals.redemptions,
                            redeemed: Fen::of_total(totals.redeemed),
                            reversed: Fen::of_total(totals.reversed),
                            rejected: Fen::of_total(totals.rejected),
                            settled: Fen::of_total(totals.settled),
                        },
                    )
                })
                .filter(|(_, totals)| *totals != Totals::default())
                .collect(),
        }
    }
}

/// A program's budget in one cap period, as the engine's budget query shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct BudgetLine {
    program: ProgramCode,
    period: Period,
    budget: Option<Fen>,
    committed: Fen,
    redeemed: Fen,
    settled: Fen,
}

impl BudgetLine {
    fn of(view: &BudgetView) -> BudgetLine {
        BudgetLine {
            program: view.program_period.program,
            period: Period {
                first: view.period.first,
                last: view.period.last,
            },
            budget: view.budget.map(Fen::of),
            committed: Fen::of_total(view.committed),
            redeemed: Fen::of_total(view.redeemed),
            settled: Fen::of_total(view.settled),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct BalanceView {
    period: Period,
    cap: Fen,
    committed: Fen,
    redeemed: Fen,
    available_to_issue: Fen,
    outstanding: Fen,
    /// Without years whose total is zero.
    redeemed_by_year: BTreeMap<i32, Fen>,
}

impl BalanceView {
    fn of(balance: &Balance) -> BalanceView {
        BalanceView {
            period: Period {
                first: balance.period.first,
                last: balance.period.last,
            },
            cap: Fen::of(balance.cap),
            committed: Fen::of(balance.committed),
            redeemed: Fen::of(balance.redeemed),
            available_to_issue: Fen::of(balance.available_to_issue),
            outstanding: Fen::of(balance.outstanding),
            redeemed_by_year: balance
                .redeemed_by_year
                .iter()
                .filter(|(_, total)| !total.is_zero())
                .map(|(year, total)| (*year, Fen::of(*total)))
                .collect(),
        }
    }
}

/// The answer to one step.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Answer {
    Voucher(VoucherView),
    Redemption(RedemptionView),
    Settlement(SettlementView),
    RelatedParties(RelatedPartiesView),
    Refused {
        reason: String,
        remaining: Option<Fen>,
    },
    /// A step with no answer (time passing, a restart, a retry with nothing to retry).
    Done,
    /// The engine failed rather than answer (never expected).
    Failed(String),
}

fn refused(reason: &str) -> Answer {
    Answer::Refused {
        reason: reason.to_owned(),
        remaining: None,
    }
}

fn refused_with_remaining(reason: &str, remaining: Fen) -> Answer {
    Answer::Refused {
        reason: reason.to_owned(),
        remaining: Some(remaining),
    }
}

fn answer_of(result: Result<Outcome, EngineError>) -> Answer {
    match result {
        Ok(Outcome::Voucher(voucher)) => Answer::Voucher(VoucherView::of(&voucher)),
        Ok(Outcome::Redemption(redemption)) => Answer::Redemption(RedemptionView::of(&redemption)),
        Ok(Outcome::Settlement(settlement)) => Answer::Settlement(SettlementView::of(&settlement)),
        Ok(Outcome::RelatedParties(parties)) => {
            Answer::RelatedParties(RelatedPartiesView::of(&parties))
        }
        Ok(other) => Answer::Failed(format!("unexpected outcome {other:?}")),
        Err(EngineError::Ledger(error)) => Answer::Refused {
            reason: error.reason().as_str().to_owned(),
            remaining: match &error {
                LedgerError::Refused(refusal) => refusal.remaining.map(Fen::of),
                _ => None,
            },
        },
        Err(other) => Answer::Failed(other.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// The reference model.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct ModelVoucher {
    number: u64,
    enterprise: usize,
    program: ProgramCode,
    face_value: Fen,
    redeemed: Fen,
    status: VoucherStatus,
    validity: Period,
    redeem_by: NaiveDate,
    cap_period: Period,
}

impl ModelVoucher {
    fn is_active(&self) -> bool {
        self.status == VoucherStatus::Active
    }

    /// Under the cap: the face value while active; once closed, only what it redeemed (the
    /// rest is released, and so is what a later reversal gives back).
    fn committed(&self) -> Fen {
        if self.is_active() {
            self.face_value
        } else {
            self.redeemed
        }
    }

    fn remaining(&self) -> Fen {
        if self.is_active() {
            self.face_value.minus(self.redeemed)
        } else {
            Fen(0)
        }
    }

    fn view(&self) -> VoucherView {
        VoucherView {
            id: voucher_id_text(self.number),
            enterprise: ENTERPRISES[self.enterprise].to_owned(),
            program: self.program,
            face_value: self.face_value,
            redeemed: self.redeemed,
            remaining: self.remaining(),
            status: self.status,
            validity: self.validity,
            redeem_by: self.redeem_by,
            cap_period: self.cap_period,
        }
    }
}

/// What became of a settled redemption reversed by the bureau: the subsidy to recover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Clawback {
    /// Never settled, or settled and not reversed.
    None,
    /// Booked, waiting for the provider's next statement.
    Open,
    /// Netted in statement number n.
    Netted(u64),
}

#[derive(Clone, Debug)]
struct ModelRedemption {
    number: u64,
    payload: RedeemPayload,
    program: ProgramCode,
    computed_subsidy: Fen,
    subsidy: Fen,
    status: RedemptionStatus,
    reversed_by: Option<Role>,
    /// The statement that paid it, kept when it is clawed back.
    settlement: Option<u64>,
    clawback: Clawback,
}

impl ModelRedemption {
    /// Whether the subsidy counts under the cap (and on the voucher).
    fn counts(&self) -> bool {
        matches!(
            self.status,
            RedemptionStatus::Accepted | RedemptionStatus::Approved | RedemptionStatus::Settled
        )
    }

    /// Paid out and not recovered: settled, or clawed back with the clawback not yet netted.
    fn paid(&self) -> bool {
        self.status == RedemptionStatus::Settled || self.clawback == Clawback::Open
    }

    fn view(&self) -> RedemptionView {
        RedemptionView {
            id: redemption_id_text(self.number),
            voucher: voucher_id_text(self.payload.voucher),
            program: self.program,
            provider: self.payload.seller.to_owned(),
            enterprise: self.payload.buyer.to_owned(),
            invoice: invoice_number_text(self.payload.invoice),
            invoice_date: self.payload.invoice_date,
            amount: Fen::parse(self.payload.amount),
            allow_partial: self.payload.allow_partial,
            computed_subsidy: self.computed_subsidy,
            subsidy: self.subsidy,
            status: self.status,
            evidence: self
                .payload
                .evidence
                .iter()
                .map(|document| {
                    (
                        document.kind,
                        document.sha256(),
                        document.reference.to_owned(),
                    )
                })
                .collect(),
            reversed_by: self.reversed_by,
            settlement: self.settlement.map(settlement_id_text),
        }
    }
}

#[derive(Clone, Debug)]
struct ModelSettlement {
    number: u64,
    payload: SettlePayload,
    /// Redemption numbers.
    lines: Vec<u64>,
    gross: Fen,
    /// (redemption number, amount).
    clawbacks: Vec<(u64, Fen)>,
    clawed_back: Fen,
    /// The model's today when the statement was made.
    made_on: NaiveDate,
    /// (bank reference, day paid).
    payment: Option<(&'static str, NaiveDate)>,
}

impl ModelSettlement {
    fn view(&self) -> SettlementView {
        SettlementView {
            id: settlement_id_text(self.number),
            request_id: self.payload.request_id.clone(),
            provider: self.payload.provider.to_owned(),
            program: self.payload.program,
            up_to: self.payload.up_to,
            lines: self.lines.iter().map(|n| redemption_id_text(*n)).collect(),
            gross: self.gross,
            clawbacks: self
                .clawbacks
                .iter()
                .map(|(n, amount)| (redemption_id_text(*n), *amount))
                .collect(),
            clawed_back: self.clawed_back,
            net: self.gross.minus(self.clawed_back),
            more_pending: false,
            payment: self
                .payment
                .map(|(reference, paid_on)| (reference.to_owned(), paid_on)),
        }
    }
}

struct Model {
    today: NaiveDate,
    /// Voucher number n is at index n - 1.
    vouchers: Vec<ModelVoucher>,
    /// Redemption number n is at index n - 1.
    redemptions: Vec<ModelRedemption>,
    /// Statement number n is at index n - 1.
    settlements: Vec<ModelSettlement>,
    /// Accepted issue requests by request id, and the voucher each made.
    issued: HashMap<String, (IssuePayload, u64)>,
    /// Invoice serials that were redeemed (even if reversed since), and by which redemption.
    invoices: HashMap<u8, u64>,
    /// Statement requests that made a statement, by request id, and its number.
    settled_requests: HashMap<String, u64>,
    /// Clawbacks booked and not yet netted, by (provider, program), in the order booked:
    /// (redemption number, amount).
    receivables: BTreeMap<(&'static str, ProgramCode), Vec<(u64, Fen)>>,
    /// Related parties by (provider, enterprise), with the reason first recorded.
    related: BTreeMap<(&'static str, &'static str), &'static str>,
}

impl Model {
    fn new(today: NaiveDate) -> Model {
        Model {
            today,
            vouchers: Vec::new(),
            redemptions: Vec::new(),
            settlements: Vec::new(),
            issued: HashMap::new(),
            invoices: HashMap::new(),
            settled_requests: HashMap::new(),
            receivables: BTreeMap::new(),
            related: BTreeMap::new(),
        }
    }

    fn voucher(&self, number: u64) -> Option<&ModelVoucher> {
        let index = usize::try_from(number).ok()?.checked_sub(1)?;
        self.vouchers.get(index)
    }

    fn voucher_mut(&mut self, number: u64) -> Option<&mut ModelVoucher> {
        let index = usize::try_from(number).ok()?.checked_sub(1)?;
        self.vouchers.get_mut(index)
    }

    fn redemption_index(&self, number: u64) -> Option<usize> {
        usize::try_from(number)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .filter(|index| *index < self.redemptions.len())
    }

    fn next_number(count: usize) -> u64 {
        u64::try_from(count).expect("few records") + 1
    }

    /// The voucher number an index picks: one of those issued, or the first (unknown) when
    /// there is none.
    fn pick_voucher(&self, index: usize) -> u64 {
        if self.vouchers.is_empty() {
            1
        } else {
            Model::next_number(index % self.vouchers.len())
        }
    }

    fn pick_redemption(&self, which: Which) -> u64 {
        let (status, index) = match which {
            Which::Any(index) => (None, index),
            Which::InStatus(status, index) => (Some(status), index),
        };
        let in_status: Vec<u64> = self
            .redemptions
            .iter()
            .filter(|r| status.is_some_and(|status| r.status == status))
            .map(|r| r.number)
            .collect();
        if !in_status.is_empty() {
            in_status[index % in_status.len()]
        } else if self.redemptions.is_empty() {
            1
        } else {
            Model::next_number(index % self.redemptions.len())
        }
    }

    fn in_account(
        voucher: &ModelVoucher,
        enterprise: usize,
        program: ProgramCode,
        period: Period,
    ) -> bool {
        voucher.enterprise == enterprise
            && voucher.program == program
            && voucher.cap_period == period
    }

    fn committed(&self, enterprise: usize, program: ProgramCode, period: Period) -> Fen {
        self.vouchers
            .iter()
            .filter(|voucher| Model::in_account(voucher, enterprise, program, period))
            .fold(Fen(0), |total, voucher| total.plus(voucher.committed()))
    }

    fn redeemed(&self, enterprise: usize, program: ProgramCode, period: Period) -> Fen {
        self.vouchers
            .iter()
            .filter(|voucher| Model::in_account(voucher, enterprise, program, period))
            .fold(Fen(0), |total, voucher| total.plus(voucher.redeemed))
    }

    /// What every enterprise has committed under the program in the period.
    fn committed_by_all(&self, program: ProgramCode, period: Period) -> Fen {
        (0..ENTERPRISES.len()).fold(Fen(0), |total, enterprise| {
            total.plus(self.committed(enterprise, program, period))
        })
    }

    /// The budget line of a program period: what is committed and redeemed under it, and what
    /// its redemptions were paid and not recovered.
    fn budget_line(&self, program: ProgramCode, period: Period) -> BudgetLine {
        let redeemed = (0..ENTERPRISES.len()).fold(Fen(0), |total, enterprise| {
            total.plus(self.redeemed(enterprise, program, period))
        });
        let settled = self
            .redemptions
            .iter()
            .filter(|redemption| redemption.paid())
            .filter(|redemption| {
                self.voucher(redemption.payload.voucher)
                    .is_some_and(|v| v.program == program && v.cap_period == period)
            })
            .fold(Fen(0), |total, redemption| total.plus(redemption.subsidy));
        BudgetLine {
            program,
            period,
            budget: budget_of(program, period.first.year()),
            committed: self.committed_by_all(program, period),
            redeemed,
            settled,
        }
    }

    /// The program period's summary: its vouchers, and its redemptions' totals, all and by
    /// provider.
    fn summary(&self, program: ProgramCode, period: Period) -> SummaryView {
        let vouchers: Vec<&ModelVoucher> = self
            .vouchers
            .iter()
            .filter(|v| v.program == program && v.cap_period == period)
            .collect();
        let mut enterprises: Vec<usize> = vouchers.iter().map(|v| v.enterprise).collect();
        enterprises.sort_unstable();
        enterprises.dedup();
        let mut totals = Totals::default();
        let mut providers: BTreeMap<String, Totals> = BTreeMap::new();
        for redemption in &self.redemptions {
            let voucher = self
                .voucher(redemption.payload.voucher)
                .expect("a redemption's voucher exists");
            if voucher.program != program || voucher.cap_period != period {
                continue;
            }
            let subsidy = redemption.subsidy;
            for sum in [
                &mut totals,
                providers
                    .entry(redemption.payload.seller.to_owned())
                    .or_default(),
            ] {
                sum.redemptions += 1;
                match redemption.status {
                    RedemptionStatus::Reversed => sum.reversed = sum.reversed.plus(subsidy),
                    RedemptionStatus::Rejected => sum.rejected = sum.rejected.plus(subsidy),
                    _ => sum.redeemed = sum.redeemed.plus(subsidy),
                }
                if redemption.paid() {
                    sum.settled = sum.settled.plus(subsidy);
                }
            }
        }
        SummaryView {
            program,
            period,
            enterprises: u64::try_from(enterprises.len()).expect("few"),
            vouchers: u64::try_from(vouchers.len()).expect("few"),
            committed: self.committed_by_all(program, period),
            totals,
            budget: budget_of(program, period.first.year()),
            providers,
        }
    }

    /// What the provider was paid under the program and has not had back: from the
    /// redemptions alone, not from the statements.
    fn paid(&self, provider: &str, program: ProgramCode) -> Fen {
        self.redemptions
            .iter()
            .filter(|r| r.payload.seller == provider && r.program == program && r.paid())
            .fold(Fen(0), |total, r| total.plus(r.subsidy))
    }

    fn balance(&self, enterprise: usize, program: ProgramCode, period: Period) -> BalanceView {
        let cap = cap_of(program);
        let committed = self.committed(enterprise, program, period);
        let redeemed = self.redeemed(enterprise, program, period);
        let mut redeemed_by_year: BTreeMap<i32, Fen> = BTreeMap::new();
        for redemption in self.redemptions.iter().filter(|r| r.counts()) {
            let voucher = self
                .voucher(redemption.payload.voucher)
                .expect("a redemption's voucher exists");
            if Model::in_account(voucher, enterprise, program, period) {
                let year = redemption.payload.invoice_date.year();
                let total = redeemed_by_year.entry(year).or_default();
                *total = total.plus(redemption.subsidy);
            }
        }
        redeemed_by_year.retain(|_, total| total.0 != 0);
        BalanceView {
            period,
            cap,
            committed,
            redeemed,
            available_to_issue: cap.minus(committed),
            outstanding: committed.minus(redeemed),
            redeemed_by_year,
        }
    }

    /// IssueVoucher: idempotent by request id; the dates must lie in the term and in one cap
    /// period; the deadline must not have passed; the face value (default: all that is left
    /// under the cap and the budget) must fit under the cap, then under the program's budget.
    fn issue(&mut self, payload: &IssuePayload) -> Answer {
        if let Some((first, number)) = self.issued.get(&payload.request_id) {
            if first == payload {
                return Answer::Voucher(self.voucher(*number).expect("issued").view());
            }
            return refused("REQUEST_ID_REUSED");
        }
        let program = payload.program;
        let today = self.today;
        let (validity, cap_period) = match (payload.valid_from, payload.valid_until) {
            (None, None) => match period_holding(program, today) {
                Some(period) => (period, period),
                None => return refused("OUTSIDE_POLICY_TERM"),
            },
            (Some(from), None) => match period_holding(program, from) {
                Some(period) => (
                    Period {
                        first: from,
                        last: period.last,
                    },
                    period,
                ),
                None => return refused("OUTSIDE_POLICY_TERM"),
            },
            (None, Some(until)) => match period_holding(program, until) {
                Some(period) => (
                    Period {
                        first: period.first,
                        last: until,
                    },
                    period,
                ),
                None => return refused("OUTSIDE_POLICY_TERM"),
            },
            (Some(from), Some(until)) => {
                assert!(from <= until, "the test never reverses a window");
                match (
                    period_holding(program, from),
                    period_holding(program, until),
                ) {
                    (Some(first), Some(last)) if first == last => (
                        Period {
                            first: from,
                            last: until,
                        },
                        first,
                    ),
                    (Some(_), Some(_)) => return refused("VALIDITY_CROSSES_CAP_PERIOD"),
                    _ => return refused("OUTSIDE_POLICY_TERM"),
                }
            }
        };
        let redeem_by = shift(validity.last, REDEEM_GRACE_DAYS);
        if redeem_by < today {
            return refused("REDEEM_DEADLINE_PASSED");
        }
        let cap_left =
            cap_of(program).minus(self.committed(payload.enterprise, program, cap_period));
        let budget_left = budget_of(program, cap_period.first.year())
            .map(|budget| budget.minus(self.committed_by_all(program, cap_period)));
        let face_value = payload
            .face_value
            .map_or(cap_left.min(budget_left.unwrap_or(cap_left)), Fen::parse);
        if cap_left.0 == 0 || face_value > cap_left {
            return refused_with_remaining("CAP_EXCEEDED", cap_left);
        }
        if let Some(budget_left) = budget_left
            && (budget_left.0 == 0 || face_value > budget_left)
        {
            return refused_with_remaining("BUDGET_EXCEEDED", budget_left);
        }
        let number = Model::next_number(self.vouchers.len());
        self.vouchers.push(ModelVoucher {
            number,
            enterprise: payload.enterprise,
            program,
            face_value,
            redeemed: Fen(0),
            status: VoucherStatus::Active,
            validity,
            redeem_by,
            cap_period,
        });
        self.issued
            .insert(payload.request_id.clone(), (payload.clone(), number));
        Answer::Voucher(self.voucher(number).expect("just issued").view())
    }

    /// Redeem, checked in the order the issue tracker fixed: replay of the invoice, the voucher
    /// held by the buyer (another's answers as none: issue 12), program, self-dealing, status, related parties, dates (term, future,
    /// validity), evidence, then the amount: zero subsidy (placed here by the model), cap,
    /// voucher balance.
    fn redeem(&mut self, payload: &RedeemPayload) -> Answer {
        if let Some(number) = self.invoices.get(&payload.invoice) {
            let index = usize::try_from(*number - 1).expect("few records");
            let first = &self.redemptions[index];
            if first.payload == *payload {
                return Answer::Redemption(first.view());
            }
            return refused("INVOICE_ALREADY_REDEEMED");
        }
        let today = self.today;
        let Some(voucher) = self
            .voucher(payload.voucher)
            .filter(|voucher| ENTERPRISES[voucher.enterprise] == payload.buyer)
        else {
            return refused("NOT_FOUND");
        };
        let seller_program =
            provider_program(payload.seller).expect("the test's sellers are registered");
        if seller_program != voucher.program {
            return refused("PROGRAM_MISMATCH");
        }
        if payload.seller == payload.buyer {
            return refused("SELF_DEALING");
        }
        if !voucher.is_active() || today > voucher.redeem_by {
            return refused("VOUCHER_NOT_ACTIVE");
        }
        if self.related.contains_key(&(payload.seller, payload.buyer)) {
            return refused("RELATED_PARTY");
        }
        if !term().contains(payload.invoice_date) {
            return refused("OUTSIDE_POLICY_TERM");
        }
        if payload.invoice_date > today {
            return refused("INVOICE_DATE_IN_FUTURE");
        }
        if !voucher.validity.contains(payload.invoice_date) {
            return refused("INVOICE_DATE_OUTSIDE_VALIDITY");
        }
        let carries = |kind: &EvidenceKind| payload.evidence.iter().any(|doc| doc.kind == *kind);
        if !required_evidence(voucher.program).iter().all(carries) {
            return refused("EVIDENCE_REQUIRED");
        }
        let computed = subsidy_for(voucher.program, Fen::parse(payload.amount));
        if computed.0 == 0 {
            return refused("SUBSIDY_ROUNDS_TO_ZERO");
        }
        let cap_left = cap_of(voucher.program).minus(self.redeemed(
            voucher.enterprise,
            voucher.program,
            voucher.cap_period,
        ));
        let voucher_left = voucher.remaining();
        let fits = computed <= cap_left && computed <= voucher_left;
        let partial = computed.min(cap_left).min(voucher_left);
        let subsidy = if fits {
            computed
        } else if payload.allow_partial && partial.0 > 0 {
            partial
        } else if computed > cap_left {
            return refused("CAP_EXCEEDED");
        } else {
            return refused("VOUCHER_BALANCE_EXCEEDED");
        };
        let program = voucher.program;
        let voucher = self.voucher_mut(payload.voucher).expect("looked up above");
        voucher.redeemed = voucher.redeemed.plus(subsidy);
        let number = Model::next_number(self.redemptions.len());
        self.redemptions.push(ModelRedemption {
            number,
            payload: payload.clone(),
            program,
            computed_subsidy: computed,
            subsidy,
            status: RedemptionStatus::Accepted,
            reversed_by: None,
            settlement: None,
            clawback: Clawback::None,
        });
        self.invoices.insert(payload.invoice, number);
        Answer::Redemption(self.redemptions.last().expect("just pushed").view())
    }

    /// Gives a redemption's subsidy back to its voucher (and so to the cap).
    fn release(&mut self, index: usize) {
        let subsidy = self.redemptions[index].subsidy;
        let voucher_number = self.redemptions[index].payload.voucher;
        let voucher = self.voucher_mut(voucher_number).expect("redeemed voucher");
        voucher.redeemed = voucher.redeemed.minus(subsidy);
    }

    /// A reversal (红冲), by the bureau or the redemption's own provider (to another provider
    /// the claim does not exist), gives the subsidy back to the voucher and the cap; the invoice stays
    /// used; reversing again returns the record unchanged; a rejected one is not open; a
    /// settled one only the bureau may reverse, and that books a clawback.
    fn reverse(&mut self, number: u64, actor: Option<&'static str>) -> Answer {
        let Some(index) = self.redemption_index(number) else {
            return refused("NOT_FOUND");
        };
        let redemption = &self.redemptions[index];
        if actor.is_some_and(|provider| provider != redemption.payload.seller) {
            return refused("NOT_FOUND");
        }
        let role = if actor.is_some() {
            Role::Provider
        } else {
            Role::Bureau
        };
        match redemption.status {
            RedemptionStatus::Reversed => return Answer::Redemption(redemption.view()),
            RedemptionStatus::Rejected => return refused("REDEMPTION_NOT_OPEN"),
            RedemptionStatus::Settled if actor.is_some() => return refused("PERMISSION_DENIED"),
            RedemptionStatus::Settled => {
                let key = (redemption.payload.seller, redemption.program);
                let amount = redemption.subsidy;
                self.receivables
                    .entry(key)
                    .or_default()
                    .push((number, amount));
                self.redemptions[index].clawback = Clawback::Open;
            }
            RedemptionStatus::Accepted | RedemptionStatus::Approved => {}
        }
        self.redemptions[index].status = RedemptionStatus::Reversed;
        self.redemptions[index].reversed_by = Some(role);
        self.release(index);
        Answer::Redemption(self.redemptions[index].view())
    }

    /// Only an accepted claim is approved; approving one that was approved (settled since, or
    /// not) answers the same, so a retried review is safe; a rejected or reversed one is not
    /// open.
    fn approve(&mut self, number: u64) -> Answer {
        let Some(index) = self.redemption_index(number) else {
            return refused("NOT_FOUND");
        };
        let redemption = &mut self.redemptions[index];
        match redemption.status {
            RedemptionStatus::Accepted => redemption.status = RedemptionStatus::Approved,
            RedemptionStatus::Approved | RedemptionStatus::Settled => {}
            RedemptionStatus::Rejected | RedemptionStatus::Reversed => {
                return refused("REDEMPTION_NOT_OPEN");
            }
        }
        Answer::Redemption(self.redemptions[index].view())
    }

    /// An accepted or approved claim is rejected, its subsidy released as by a reversal;
    /// rejecting a rejected one answers the same (a retried review); a settled or reversed one
    /// is not open.
    fn reject(&mut self, number: u64) -> Answer {
        let Some(index) = self.redemption_index(number) else {
            return refused("NOT_FOUND");
        };
        match self.redemptions[index].status {
            RedemptionStatus::Accepted | RedemptionStatus::Approved => {
                self.redemptions[index].status = RedemptionStatus::Rejected;
                self.release(index);
            }
            RedemptionStatus::Rejected => {}
            RedemptionStatus::Settled | RedemptionStatus::Reversed => {
                return refused("REDEMPTION_NOT_OPEN");
            }
        }
        Answer::Redemption(self.redemptions[index].view())
    }

    /// A statement: replay by request id first; the provider must be one, of that program;
    /// its approved claims with invoices up to the date, in redemption id order, and its open
    /// clawbacks in the order booked, each at most SETTLEMENT_LINES_MAX; not both empty.
    fn settle(&mut self, payload: &SettlePayload) -> Answer {
        if let Some(number) = self.settled_requests.get(&payload.request_id) {
            let existing = &self.settlements[usize::try_from(*number - 1).expect("few")];
            if existing.payload == *payload {
                return Answer::Settlement(existing.view());
            }
            return refused("REQUEST_ID_REUSED");
        }
        let Some(program) = provider_program(payload.provider) else {
            return refused("NOT_FOUND");
        };
        if program != payload.program {
            return refused("PROGRAM_MISMATCH");
        }
        let lines: Vec<usize> = self
            .redemptions
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.payload.seller == payload.provider
                    && r.program == payload.program
                    && r.status == RedemptionStatus::Approved
                    && r.payload.invoice_date <= payload.up_to
            })
            .map(|(index, _)| index)
            .take(SETTLEMENT_LINES_MAX)
            .collect();
        let key = (payload.provider, payload.program);
        let open = self.receivables.entry(key).or_default();
        let clawbacks: Vec<(u64, Fen)> =
            open.drain(..open.len().min(SETTLEMENT_LINES_MAX)).collect();
        if lines.is_empty() && clawbacks.is_empty() {
            return refused("NOTHING_TO_SETTLE");
        }
        let number = Model::next_number(self.settlements.len());
        let mut gross = Fen(0);
        for index in &lines {
            let redemption = &mut self.redemptions[*index];
            redemption.status = RedemptionStatus::Settled;
            redemption.settlement = Some(number);
            gross = gross.plus(redemption.subsidy);
        }
        let mut clawed_back = Fen(0);
        for (redemption, amount) in &clawbacks {
            let index = self.redemption_index(*redemption).expect("clawed back");
            self.redemptions[index].clawback = Clawback::Netted(number);
            clawed_back = clawed_back.plus(*amount);
        }
        self.settlements.push(ModelSettlement {
            number,
            payload: payload.clone(),
            lines: lines
                .iter()
                .map(|index| self.redemptions[*index].number)
                .collect(),
            gross,
            clawbacks,
            clawed_back,
            made_on: self.today,
            payment: None,
        });
        self.settled_requests
            .insert(payload.request_id.clone(), number);
        Answer::Settlement(self.settlements.last().expect("just pushed").view())
    }

    /// A payment: the statement must exist; a paid one answers the same payment again and
    /// refuses any other; otherwise the day lies between the day it was made and today.
    fn pay(&mut self, number: u64, reference: &'static str, paid_on: NaiveDate) -> Answer {
        let today = self.today;
        let Some(statement) = usize::try_from(number - 1)
            .ok()
            .and_then(|index| self.settlements.get_mut(index))
        else {
            return refused("NOT_FOUND");
        };
        match statement.payment {
            Some(payment) if payment == (reference, paid_on) => {}
            Some(_) => return refused("SETTLEMENT_ALREADY_PAID"),
            None if paid_on < statement.made_on || paid_on > today => {
                return refused("PAYMENT_DATE_OUT_OF_RANGE");
            }
            None => statement.payment = Some((reference, paid_on)),
        }
        Answer::Settlement(statement.view())
    }

    /// Related parties: both must be registered (provider first); recording a pair again
    /// answers the record as first made.
    fn relate(
        &mut self,
        provider: &'static str,
        enterprise: &'static str,
        why: &'static str,
    ) -> Answer {
        if provider_program(provider).is_none() {
            return refused("NOT_FOUND");
        }
        if !ENTERPRISES.contains(&enterprise) {
            return refused("NOT_FOUND");
        }
        let reason = *self.related.entry((provider, enterprise)).or_insert(why);
        Answer::RelatedParties(RelatedPartiesView {
            provider: provider.to_owned(),
            enterprise: enterprise.to_owned(),
            reason: reason.to_owned(),
        })
    }

    /// Revoking releases the remainder; revoking again returns the record unchanged; an
    /// expired voucher is not active and cannot be revoked.
    fn revoke(&mut self, number: u64) -> Answer {
        let Some(voucher) = self.voucher_mut(number) else {
            return refused("NOT_FOUND");
        };
        match voucher.status {
            VoucherStatus::Active => voucher.status = VoucherStatus::Revoked,
            VoucherStatus::Revoked => {}
            VoucherStatus::Expired => return refused("VOUCHER_NOT_ACTIVE"),
        }
        Answer::Voucher(voucher.view())
    }

    /// A voucher expires the day after its redeem_by.
    fn advance(&mut self, days: i64) {
        self.today = shift(self.today, days);
        let today = self.today;
        for voucher in &mut self.vouchers {
            if voucher.is_active() && voucher.redeem_by < today {
                voucher.status = VoucherStatus::Expired;
            }
        }
    }

    /// The model's own invariants: if one breaks, the model is wrong.
    fn check_itself(&self) -> Result<(), String> {
        for voucher in &self.vouchers {
            let from_redemptions = self
                .redemptions
                .iter()
                .filter(|r| r.counts() && r.payload.voucher == voucher.number)
                .fold(Fen(0), |total, r| total.plus(r.subsidy));
            if from_redemptions != voucher.redeemed
                || voucher.redeemed.0 < 0
                || voucher.redeemed > voucher.face_value
            {
                return Err(format!("model voucher breaks an invariant: {voucher:?}"));
            }
        }
        for (enterprise, program, period) in accounts() {
            let balance = self.balance(enterprise, program, period);
            if !(balance.redeemed <= balance.committed && balance.committed <= balance.cap) {
                return Err(format!(
                    "model cap account breaks an invariant: {balance:?}"
                ));
            }
        }
        for (program, period) in program_periods() {
            let line = self.budget_line(program, period);
            if line.budget.is_some_and(|budget| line.committed > budget) {
                return Err(format!("model program over its budget: {line:?}"));
            }
        }
        for redemption in &self.redemptions {
            let statements = self
                .settlements
                .iter()
                .filter(|s| s.lines.contains(&redemption.number))
                .map(|s| s.number)
                .collect::<Vec<_>>();
            let netted = self
                .settlements
                .iter()
                .filter(|s| s.clawbacks.iter().any(|(n, _)| *n == redemption.number))
                .map(|s| s.number)
                .collect::<Vec<_>>();
            let expected_netted = match redemption.clawback {
                Clawback::Netted(number) => vec![number],
                Clawback::None | Clawback::Open => Vec::new(),
            };
            if statements != redemption.settlement.into_iter().collect::<Vec<_>>()
                || netted != expected_netted
                || (redemption.status == RedemptionStatus::Settled)
                    != (redemption.settlement.is_some() && redemption.clawback == Clawback::None)
            {
                return Err(format!(
                    "model redemption and statements disagree: {redemption:?} in {statements:?}, netted in {netted:?}"
                ));
            }
        }
        for (provider, program) in SELLERS {
            let from_statements = self
                .settlements
                .iter()
                .filter(|s| s.payload.provider == provider && s.payload.program == program)
                .fold(Fen(0), |total, s| total.plus(s.gross).minus(s.clawed_back));
            if from_statements != self.paid(provider, program) {
                return Err(format!(
                    "model statements of {provider} {program} pay {from_statements:?}, its redemptions say {:?}",
                    self.paid(provider, program)
                ));
            }
        }
        Ok(())
    }
}

/// Every (program, cap period).
fn program_periods() -> Vec<(ProgramCode, Period)> {
    [ProgramCode::Compute, ProgramCode::Leasing]
        .into_iter()
        .flat_map(|program| {
            all_periods(program)
                .into_iter()
                .map(move |period| (program, period))
        })
        .collect()
}

/// Every (enterprise, program, cap period).
fn accounts() -> Vec<(usize, ProgramCode, Period)> {
    let mut accounts = Vec::new();
    for enterprise in 0..ENTERPRISES.len() {
        for program in [ProgramCode::Compute, ProgramCode::Leasing] {
            for period in all_periods(program) {
                accounts.push((enterprise, program, period));
            }
        }
    }
    accounts
}

// ---------------------------------------------------------------------------------------------
// The engine under test.
// ---------------------------------------------------------------------------------------------

fn code(text: &str) -> CreditCode {
    CreditCode::parse(text).expect("the test's credit codes are well formed")
}

fn voucher_id(number: u64) -> VoucherId {
    VoucherId::parse(&voucher_id_text(number)).expect("a voucher id")
}

fn redemption_id(number: u64) -> RedemptionId {
    RedemptionId::parse(&redemption_id_text(number)).expect("a redemption id")
}

fn reason(text: &str) -> Reason {
    Reason::parse(text).expect("a reason")
}

fn yuan(text: &str) -> Money {
    Money::parse_yuan(text).expect("the test's amounts are valid")
}

fn issue_command(payload: &IssuePayload) -> Command {
    Command::IssueVoucher(IssueVoucherRequest {
        request_id: RequestId::parse(&payload.request_id).expect("a request id"),
        enterprise_credit_code: code(ENTERPRISES[payload.enterprise]),
        program: payload.program,
        face_value: payload.face_value.map(yuan),
        valid_from: payload.valid_from,
        valid_until: payload.valid_until,
    })
}

fn redeem_command(payload: &RedeemPayload) -> Command {
    Command::Redeem(RedeemCommand {
        voucher_id: voucher_id(payload.voucher),
        provider_credit_code: code(payload.seller),
        enterprise_credit_code: code(payload.buyer),
        invoice: Invoice {
            number: InvoiceNumber::parse(&invoice_number_text(payload.invoice))
                .expect("an invoice number"),
            date: payload.invoice_date,
            amount: yuan(payload.amount),
        },
        allow_partial: payload.allow_partial,
        evidence: payload
            .evidence
            .iter()
            .map(|document| Evidence {
                kind: document.kind,
                sha256: Sha256Hex::parse(&document.sha256()).expect("a SHA-256"),
                reference: Reference::parse(document.reference).expect("a reference"),
            })
            .collect(),
    })
}

fn settle_command(payload: &SettlePayload) -> Command {
    Command::CreateSettlement(SettlementRequest {
        request_id: RequestId::parse(&payload.request_id).expect("a request id"),
        provider_credit_code: code(payload.provider),
        program: payload.program,
        up_to: payload.up_to,
    })
}

fn settlement_id(number: u64) -> SettlementId {
    SettlementId::parse(&settlement_id_text(number)).expect("a settlement id")
}

fn is_not_found<T>(result: &Result<T, EngineError>) -> bool {
    matches!(
        result,
        Err(EngineError::Ledger(LedgerError::NotFound { .. }))
    )
}

/// Every record the engine shows, read until the first id it does not know.
#[derive(Debug, PartialEq)]
struct Snapshot {
    vouchers: Vec<Voucher>,
    redemptions: Vec<Redemption>,
    balances: Vec<Balance>,
    settlements: Vec<(Settlement, Vec<Redemption>, String)>,
    budgets: Vec<BudgetView>,
}

struct Harness {
    runtime: tokio::runtime::Runtime,
    directory: tempfile::TempDir,
    /// Where the ledger is kept: sled in `directory`, or a tree in memory (every other case,
    /// so that each run drives both stores through the same model).
    memory: Option<Arc<MemoryTree>>,
    clock: ClockSource,
    owner: Option<EngineOwner>,
}

/// Cases started so far: even ones run on sled, odd ones on the memory store.
static CASES_STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Harness {
    fn start(today: NaiveDate) -> Result<Harness, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let directory = tempfile::tempdir().expect("a temporary directory");
        let clock = ClockSource::pinned(today);
        let on_memory = CASES_STARTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 2 == 1;
        let mut harness = Harness {
            runtime,
            directory,
            memory: on_memory.then(|| Arc::new(MemoryTree::default())),
            clock,
            owner: None,
        };
        harness.open()?;
        let name = |text: &str| Name::parse(text).expect("a name");
        let mut setup: Vec<Command> = ENTERPRISES
            .iter()
            .enumerate()
            .map(|(index, credit_code)| Command::RegisterEnterprise {
                credit_code: code(credit_code),
                name: name(&format!("启东企业 {index}")),
                check_digit_override_reason: None,
            })
            .collect();
        for (index, (credit_code, program)) in SELLERS.iter().enumerate() {
            setup.push(Command::RegisterProvider {
                credit_code: code(credit_code),
                name: name(&format!("服务商 {index}")),
                program: *program,
                check_digit_override_reason: None,
            });
        }
        for command in setup {
            let name = command.name();
            harness
                .runtime
                .block_on(harness.engine().submit(command))
                .map_err(|error| format!("setup: {name} failed: {error}"))?;
        }
        Ok(harness)
    }

    fn open(&mut self) -> Result<(), String> {
        let config = EngineConfig {
            clock: self.clock.clone(),
            ..EngineConfig::default()
        };
        if let Some(tree) = &self.memory {
            let opened = open_memory(tree.clone(), POLICY.clone())
                .map_err(|error| format!("the memory store does not open: {error}"))?;
            let owner = Engine::start_on(opened, POLICY.clone(), config)
                .map_err(|error| format!("the engine does not start: {error}"))?;
            self.owner = Some(owner);
            return Ok(());
        }
        let path = self.directory.path().join("ledger");
        // sled may hold its lock a moment after the last handle is dropped.
        let mut last_error = String::new();
        for _ in 0..50 {
            match Engine::start(&path, POLICY.clone(), config.clone()) {
                Ok(owner) => {
                    self.owner = Some(owner);
                    return Ok(());
                }
                Err(error) => last_error = error.to_string(),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("the engine does not start: {last_error}"))
    }

    fn engine(&self) -> &Engine {
        self.owner.as_ref().expect("the engine is running").engine()
    }

    fn submit(&self, command: Command) -> Answer {
        answer_of(self.runtime.block_on(self.engine().submit(command)))
    }

    /// Queues every command before waiting for any answer: each future is first polled in
    /// order, which puts its command in the writer's queue, so they are carried out in the
    /// order given, in as few batches as the writer takes them in.
    fn submit_together(&self, commands: Vec<Command>) -> Vec<Answer> {
        type Pending<'a> = Pin<Box<dyn Future<Output = Result<Outcome, EngineError>> + 'a>>;
        let engine = self.engine();
        let mut pending: Vec<Pending<'_>> = commands
            .into_iter()
            .map(|command| Box::pin(engine.submit(command)) as Pending<'_>)
            .collect();
        let mut answers: Vec<Option<Answer>> = vec![None; pending.len()];
        self.runtime.block_on(std::future::poll_fn(|context| {
            for (future, answer) in pending.iter_mut().zip(answers.iter_mut()) {
                if answer.is_none()
                    && let Poll::Ready(result) = future.as_mut().poll(context)
                {
                    *answer = Some(answer_of(result));
                }
            }
            if answers.iter().all(Option::is_some) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }));
        answers
            .into_iter()
            .map(|answer| answer.expect("every future finished"))
            .collect()
    }

    fn advance_to(&self, today: NaiveDate) -> Result<(), String> {
        assert!(self.clock.set_today(today), "the clock is pinned");
        self.runtime
            .block_on(self.engine().sync())
            .map(|_| ())
            .map_err(|error| format!("sync failed: {error}"))
    }

    /// Shuts the engine down, moves the clock to `today`, and starts it again.
    fn restart(&mut self, today: NaiveDate) -> Result<(), String> {
        let before = self.snapshot()?;
        if let Some(owner) = self.owner.take() {
            owner.shutdown();
        }
        let same_day = self.clock.pinned_today() == Some(today);
        assert!(self.clock.set_today(today), "the clock is pinned");
        self.open()?;
        let after = self.snapshot()?;
        if same_day && before != after {
            return Err(format!(
                "the restart changed what the engine shows:\n before: {before:#?}\n after:  {after:#?}"
            ));
        }
        Ok(())
    }

    fn snapshot(&self) -> Result<Snapshot, String> {
        let reader = self.engine().reader();
        let mut vouchers = Vec::new();
        for number in 1.. {
            let result = reader.voucher(&voucher_id(number));
            if is_not_found(&result) {
                break;
            }
            vouchers.push(result.map_err(|error| format!("reading a voucher: {error}"))?);
        }
        let mut redemptions = Vec::new();
        for number in 1.. {
            let result = reader.redemption(&redemption_id(number), Actor::Bureau);
            if is_not_found(&result) {
                break;
            }
            redemptions.push(result.map_err(|error| format!("reading a redemption: {error}"))?);
        }
        let mut balances = Vec::new();
        for (enterprise, program, period) in accounts() {
            balances.push(
                reader
                    .balance(&code(ENTERPRISES[enterprise]), program, Some(period.first))
                    .map_err(|error| format!("reading a balance: {error}"))?,
            );
        }
        let mut settlements = Vec::new();
        for number in 1.. {
            let result = reader.settlement(&settlement_id(number), Actor::Bureau);
            if is_not_found(&result) {
                break;
            }
            settlements.push(result.map_err(|error| format!("reading a settlement: {error}"))?);
        }
        let mut budgets = Vec::new();
        for (program, period) in program_periods() {
            budgets.push(
                reader
                    .budget(program, Some(period.first))
                    .map_err(|error| format!("reading a budget: {error}"))?,
            );
        }
        Ok(Snapshot {
            vouchers,
            redemptions,
            balances,
            settlements,
            budgets,
        })
    }

    /// Every voucher, redemption and cap account the engine shows equals the model's, the
    /// engine shows nothing more, and its invariants hold.
    fn check_against(&self, model: &Model) -> Result<(), String> {
        model.check_itself()?;
        let reader = self.engine().reader();
        for expected in &model.vouchers {
            let voucher = reader
                .voucher(&voucher_id(expected.number))
                .map_err(|error| format!("voucher {}: {error}", expected.number))?;
            if voucher.redeemed > voucher.face_value {
                return Err(format!("engine voucher over its face value: {voucher:?}"));
            }
            let (expected, actual) = (expected.view(), VoucherView::of(&voucher));
            if expected != actual {
                return Err(format!(
                    "voucher differs:\n  model:  {expected:?}\n  engine: {actual:?}"
                ));
            }
        }
        let extra = reader.voucher(&voucher_id(Model::next_number(model.vouchers.len())));
        if !is_not_found(&extra) {
            return Err(format!(
                "the engine has a voucher the model has not: {extra:?}"
            ));
        }
        for expected in &model.redemptions {
            let redemption = reader
                .redemption(&redemption_id(expected.number), Actor::Bureau)
                .map_err(|error| format!("redemption {}: {error}", expected.number))?;
            let (expected, actual) = (expected.view(), RedemptionView::of(&redemption));
            if expected != actual {
                return Err(format!(
                    "redemption differs:\n  model:  {expected:?}\n  engine: {actual:?}"
                ));
            }
        }
        let extra = reader.redemption(
            &redemption_id(Model::next_number(model.redemptions.len())),
            Actor::Bureau,
        );
        if !is_not_found(&extra) {
            return Err(format!(
                "the engine has a redemption the model has not: {extra:?}"
            ));
        }
        for (enterprise, program, period) in accounts() {
            let balance = reader
                .balance(&code(ENTERPRISES[enterprise]), program, Some(period.first))
                .map_err(|error| format!("balance: {error}"))?;
            if !(balance.redeemed <= balance.committed && balance.committed <= balance.cap) {
                return Err(format!(
                    "engine cap account breaks redeemed ≤ committed ≤ cap: {balance:?}"
                ));
            }
            let expected = model.balance(enterprise, program, period);
            let actual = BalanceView::of(&balance);
            if expected != actual {
                return Err(format!(
                    "balance of enterprise {enterprise} ({}) {program} differs:\n  model:  {expected:?}\n  engine: {actual:?}",
                    ENTERPRISES[enterprise]
                ));
            }
        }
        for (program, period) in program_periods() {
            let view = reader
                .budget(program, Some(period.first))
                .map_err(|error| format!("budget: {error}"))?;
            let expected = model.budget_line(program, period);
            let actual = BudgetLine::of(&view);
            if expected != actual {
                return Err(format!(
                    "budget of {program} {period:?} differs:\n  model:  {expected:?}\n  engine: {actual:?}"
                ));
            }
            if actual
                .budget
                .is_some_and(|budget| actual.committed > budget)
            {
                return Err(format!("engine program over its budget: {actual:?}"));
            }
            let summary = reader
                .program_summary(program, Some(period.first))
                .map_err(|error| format!("program summary: {error}"))?;
            let expected = model.summary(program, period);
            let actual = SummaryView::of(&summary);
            if expected != actual {
                return Err(format!(
                    "summary of {program} {period:?} differs:\n  model:  {expected:?}\n  engine: {actual:?}"
                ));
            }
        }
        self.check_settlements(model)
    }

    /// Every statement the engine shows equals the model's, header, lines and clawbacks; it
    /// shows no other; and the statements agree with the redemptions.
    fn check_settlements(&self, model: &Model) -> Result<(), String> {
        let reader = self.engine().reader();
        let mut statements = Vec::new();
        for expected in &model.settlements {
            let (settlement, lines, _) = reader
                .settlement(&settlement_id(expected.number), Actor::Bureau)
                .map_err(|error| format!("settlement {}: {error}", expected.number))?;
            let (expected_view, actual) = (expected.view(), SettlementView::of(&settlement));
            if expected_view != actual {
                return Err(format!(
                    "settlement differs:\n  model:  {expected_view:?}\n  engine: {actual:?}"
                ));
            }
            let line_ids: Vec<String> = lines
                .iter()
                .map(|line| line.redemption_id.to_string())
                .collect();
            if line_ids != actual.lines {
                return Err(format!(
                    "settlement {} lists {:?} but its lines are {line_ids:?}",
                    actual.id, actual.lines
                ));
            }
            for line in &lines {
                let number = line.redemption_id.number();
                let index = model.redemption_index(number).ok_or_else(|| {
                    format!(
                        "settlement {} has a line the model has not: {number}",
                        actual.id
                    )
                })?;
                let (expected_line, actual_line) =
                    (model.redemptions[index].view(), RedemptionView::of(line));
                if expected_line != actual_line {
                    return Err(format!(
                        "a line of settlement {} differs:\n  model:  {expected_line:?}\n  engine: {actual_line:?}",
                        actual.id
                    ));
                }
            }
            let line_sum = lines
                .iter()
                .fold(Fen(0), |total, line| total.plus(Fen::of(line.subsidy)));
            let clawback_sum = settlement.clawbacks.iter().fold(Fen(0), |total, clawback| {
                total.plus(Fen::of(clawback.amount))
            });
            if line_sum != actual.gross
                || clawback_sum != actual.clawed_back
                || actual.net != actual.gross.minus(actual.clawed_back)
            {
                return Err(format!(
                    "settlement {} does not add up: lines {line_sum:?}, clawbacks {clawback_sum:?}: {actual:?}",
                    actual.id
                ));
            }
            statements.push(settlement);
        }
        let extra = reader.settlement(
            &settlement_id(Model::next_number(model.settlements.len())),
            Actor::Bureau,
        );
        if !is_not_found(&extra) {
            return Err(format!(
                "the engine has a settlement the model has not: {extra:?}"
            ));
        }
        let listed = reader
            .list_settlements(SettlementFilter::default(), Actor::Bureau, None, 1000)
            .map_err(|error| format!("listing settlements: {error}"))?;
        let listed: Vec<&Settlement> = listed.items.iter().map(|(s, _)| s).collect();
        if listed != statements.iter().collect::<Vec<_>>() {
            return Err(format!(
                "the settlements listed are not those read one by one: {listed:?}"
            ));
        }
        // No redemption is in two statements, nor netted twice; a settled one is in exactly
        // the statement it names.
        let mut paid_in: HashMap<RedemptionId, SettlementId> = HashMap::new();
        let mut netted_in: HashMap<RedemptionId, SettlementId> = HashMap::new();
        for statement in &statements {
            for id in &statement.redemption_ids {
                if let Some(other) = paid_in.insert(*id, statement.settlement_id) {
                    return Err(format!(
                        "{id} is in two settlements, {other} and {}",
                        statement.settlement_id
                    ));
                }
            }
            for clawback in &statement.clawbacks {
                if let Some(other) =
                    netted_in.insert(clawback.redemption_id, statement.settlement_id)
                {
                    return Err(format!(
                        "{} is clawed back in two settlements, {other} and {}",
                        clawback.redemption_id, statement.settlement_id
                    ));
                }
                if !paid_in.contains_key(&clawback.redemption_id) {
                    return Err(format!(
                        "{} is clawed back in {} but was not paid before",
                        clawback.redemption_id, statement.settlement_id
                    ));
                }
            }
        }
        for number in 1..=u64::try_from(model.redemptions.len()).expect("few") {
            let redemption = reader
                .redemption(&redemption_id(number), Actor::Bureau)
                .map_err(|error| format!("redemption {number}: {error}"))?;
            let in_statement = paid_in.get(&redemption.redemption_id).copied();
            if in_statement != redemption.settlement_id
                || (redemption.status == RedemptionStatus::Settled && in_statement.is_none())
            {
                return Err(format!(
                    "{} is {:?} naming settlement {:?}, but the statements list it in {in_statement:?}",
                    redemption.redemption_id, redemption.status, redemption.settlement_id
                ));
            }
        }
        // What the statements paid each provider, less what they clawed back, is what the
        // model's redemptions say the provider was paid and has not had back.
        for (provider, program) in SELLERS {
            let from_statements = statements
                .iter()
                .filter(|s| s.provider_credit_code == code(provider) && s.program == program)
                .fold(Fen(0), |total, s| total.plus(Fen::of_decimal(s.net())));
            let expected = model.paid(provider, program);
            if from_statements != expected {
                return Err(format!(
                    "the statements pay {provider} {program} {from_statements:?} net, the model says {expected:?}"
                ));
            }
        }
        Ok(())
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(owner) = self.owner.take() {
            owner.shutdown();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running a history.
// ---------------------------------------------------------------------------------------------

/// The model, what has been sent so far, and the history for the failure message.
struct Runner {
    model: Model,
    issues_sent: Vec<IssuePayload>,
    redeems_sent: Vec<RedeemPayload>,
    settles_sent: Vec<SettlePayload>,
}

/// One command of a step: what it resolved to, the model's answer, and the command to send
/// (none when there was nothing to send, e.g. a retry before any request).
struct Asked {
    asked: String,
    expected: Answer,
    command: Option<Command>,
}

impl Runner {
    /// Resolves a command op against the model's state, lets the model answer it, and
    /// returns the command for the engine. `None` for ops that are not commands.
    fn ask(&mut self, step: usize, op: &Op) -> Option<Asked> {
        let model = &mut self.model;
        let nothing = |what: &str| Asked {
            asked: what.to_owned(),
            expected: Answer::Done,
            command: None,
        };
        Some(match op {
            Op::Issue {
                enterprise,
                program,
                face_value,
                validity,
            } => {
                let (valid_from, valid_until) = validity.resolve(model.today);
                let payload = IssuePayload {
                    request_id: format!("issue-{step}-{}", self.issues_sent.len()),
                    enterprise: *enterprise,
                    program: *program,
                    face_value: *face_value,
                    valid_from,
                    valid_until,
                };
                self.issues_sent.push(payload.clone());
                Asked {
                    asked: format!("{payload:?}"),
                    expected: model.issue(&payload),
                    command: Some(issue_command(&payload)),
                }
            }
            Op::RetryIssue { issue } => {
                let sent = self.issues_sent.len().max(1);
                match self.issues_sent.get(issue % sent) {
                    None => nothing("nothing to retry"),
                    Some(payload) => Asked {
                        asked: format!("{payload:?}"),
                        expected: model.issue(payload),
                        command: Some(issue_command(payload)),
                    },
                }
            }
            Op::Redeem {
                voucher,
                invoice,
                amount,
                days_before_today,
                allow_partial,
                seller,
                buyer,
                evidence,
            } => {
                let number = model.pick_voucher(*voucher);
                let (owner, program) = model
                    .voucher(number)
                    .map_or((0, ProgramCode::Compute), |v| (v.enterprise, v.program));
                let seller = match seller {
                    Seller::Matching if program == ProgramCode::Compute => COMPUTE_PROVIDER,
                    Seller::Matching | Seller::Lessor => LESSOR,
                    Seller::ComputeProvider => COMPUTE_PROVIDER,
                    Seller::Enterprise2AsLessor => ENTERPRISE_2_AS_LESSOR,
                };
                let buyer = match buyer {
                    Buyer::Own => ENTERPRISES[owner],
                    Buyer::Another => ENTERPRISES[(owner + 1) % ENTERPRISES.len()],
                };
                let payload = RedeemPayload {
                    voucher: number,
                    seller,
                    buyer,
                    invoice: *invoice,
                    invoice_date: shift(model.today, -days_before_today),
                    amount,
                    allow_partial: *allow_partial,
                    evidence: evidence_set(*evidence),
                };
                self.redeems_sent.push(payload.clone());
                Asked {
                    asked: format!("{payload:?}"),
                    expected: model.redeem(&payload),
                    command: Some(redeem_command(&payload)),
                }
            }
            Op::RetryRedeem { attempt, change } => {
                let sent = self.redeems_sent.len().max(1);
                match self.redeems_sent.get(attempt % sent) {
                    None => nothing("nothing to retry"),
                    Some(first) => {
                        let payload = change.apply(first, model.vouchers.len());
                        Asked {
                            asked: format!("{payload:?}"),
                            expected: model.redeem(&payload),
                            command: Some(redeem_command(&payload)),
                        }
                    }
                }
            }
            Op::Reverse { redemption, by } => {
                let number = model.pick_redemption(*redemption);
                let own = model
                    .redemption_index(number)
                    .map_or(COMPUTE_PROVIDER, |index| {
                        model.redemptions[index].payload.seller
                    });
                let provider = match by {
                    Reverser::Bureau => None,
                    Reverser::OwnProvider => Some(own),
                    Reverser::OtherProvider => Some(if own == LESSOR {
                        ENTERPRISE_2_AS_LESSOR
                    } else {
                        LESSOR
                    }),
                };
                Asked {
                    asked: format!("{} reversed by {provider:?}", redemption_id_text(number)),
                    expected: model.reverse(number, provider),
                    command: Some(Command::ReverseRedemption {
                        redemption_id: redemption_id(number),
                        reason: reason("红冲: the invoice was cancelled"),
                        actor: provider.map_or(Actor::Bureau, |p| Actor::Provider(code(p))),
                    }),
                }
            }
            Op::Approve { redemption } => {
                let number = model.pick_redemption(*redemption);
                Asked {
                    asked: format!("approve {}", redemption_id_text(number)),
                    expected: model.approve(number),
                    command: Some(Command::ApproveRedemption {
                        redemption_id: redemption_id(number),
                    }),
                }
            }
            Op::Reject { redemption } => {
                let number = model.pick_redemption(*redemption);
                Asked {
                    asked: format!("reject {}", redemption_id_text(number)),
                    expected: model.reject(number),
                    command: Some(Command::RejectRedemption {
                        redemption_id: redemption_id(number),
                        reason: reason("the contract does not match the invoice"),
                    }),
                }
            }
            Op::Settle {
                payee,
                other_program,
                days_before_today,
            } => {
                let provider = match payee {
                    Payee::OfRedemption { redemption } => {
                        let number = model.pick_redemption(*redemption);
                        model
                            .redemption_index(number)
                            .map_or(COMPUTE_PROVIDER, |index| {
                                model.redemptions[index].payload.seller
                            })
                    }
                    _ => payee.code(),
                };
                let own = provider_program(provider).unwrap_or(ProgramCode::Compute);
                let payload = SettlePayload {
                    request_id: format!("settle-{step}-{}", self.settles_sent.len()),
                    provider,
                    program: if *other_program {
                        other_program_of(own)
                    } else {
                        own
                    },
                    up_to: shift(model.today, -days_before_today),
                };
                self.settles_sent.push(payload.clone());
                Asked {
                    asked: format!("{payload:?}"),
                    expected: model.settle(&payload),
                    command: Some(settle_command(&payload)),
                }
            }
            Op::RetrySettle { settle, change } => {
                let sent = self.settles_sent.len().max(1);
                match self.settles_sent.get(settle % sent) {
                    None => nothing("nothing to retry"),
                    Some(first) => {
                        let payload = change.apply(first);
                        Asked {
                            asked: format!("{payload:?}"),
                            expected: model.settle(&payload),
                            command: Some(settle_command(&payload)),
                        }
                    }
                }
            }
            Op::Pay {
                statement,
                days_before_today,
                second_reference,
            } => {
                let made = model.settlements.len();
                let number = match statement {
                    Some(index) if made > 0 => (index % made) as u64 + 1,
                    _ => made as u64 + 1,
                };
                let reference = if *second_reference {
                    "国库集中支付 0002"
                } else {
                    "国库集中支付 0001"
                };
                let paid_on = shift(model.today, -days_before_today);
                Asked {
                    asked: format!(
                        "pay {} on {paid_on} ({reference})",
                        settlement_id_text(number)
                    ),
                    expected: model.pay(number, reference, paid_on),
                    command: Some(Command::RecordSettlementPayment {
                        settlement_id: settlement_id(number),
                        bank_reference: Reference::parse(reference).expect("a reference"),
                        paid_on,
                    }),
                }
            }
            Op::RelateParties {
                provider,
                enterprise,
                second_reason,
            } => {
                let provider = SELLERS
                    .get(*provider)
                    .map_or(ENTERPRISES[0], |(seller, _)| *seller);
                let enterprise = ENTERPRISES
                    .get(*enterprise)
                    .copied()
                    .unwrap_or(COMPUTE_PROVIDER);
                let why = if *second_reason {
                    "the lessor's director owns the enterprise"
                } else {
                    "same beneficial owner (关联方)"
                };
                Asked {
                    asked: format!("related parties {provider} and {enterprise}: {why}"),
                    expected: model.relate(provider, enterprise, why),
                    command: Some(Command::RecordRelatedParties {
                        provider_credit_code: code(provider),
                        enterprise_credit_code: code(enterprise),
                        reason: reason(why),
                    }),
                }
            }
            Op::Revoke { voucher } => {
                let number = model.pick_voucher(*voucher);
                Asked {
                    asked: voucher_id_text(number),
                    expected: model.revoke(number),
                    command: Some(Command::RevokeVoucher {
                        voucher_id: voucher_id(number),
                        reason: reason("the enterprise left Qidong"),
                    }),
                }
            }
            Op::Together { .. }
            | Op::AdvanceDays { .. }
            | Op::AdvanceToDeadline { .. }
            | Op::Restart { .. } => return None,
        })
    }

    /// Runs one step on the model and the engine: (what was asked, expected, actual) for
    /// each command of the step.
    fn step(
        &mut self,
        harness: &mut Harness,
        step: usize,
        op: &Op,
    ) -> Vec<(String, Answer, Answer)> {
        if let Some(asked) = self.ask(step, op) {
            let actual = match asked.command {
                Some(command) => harness.submit(command),
                None => Answer::Done,
            };
            return vec![(asked.asked, asked.expected, actual)];
        }
        let done = |what: String, result: Result<(), String>| {
            let actual = match result {
                Ok(()) => Answer::Done,
                Err(problem) => Answer::Failed(problem),
            };
            vec![(what, Answer::Done, actual)]
        };
        let model = &mut self.model;
        match op {
            Op::Together { ops } => {
                let asked: Vec<Asked> = ops.iter().filter_map(|op| self.ask(step, op)).collect();
                let commands: Vec<Command> = asked
                    .iter()
                    .filter_map(|asked| asked.command.clone())
                    .collect();
                let mut actual = harness.submit_together(commands).into_iter();
                asked
                    .into_iter()
                    .map(|asked| {
                        let answer = match asked.command {
                            Some(_) => actual.next().expect("an answer per command"),
                            None => Answer::Done,
                        };
                        (asked.asked, asked.expected, answer)
                    })
                    .collect()
            }
            Op::AdvanceDays { days } => {
                model.advance(*days);
                done(
                    format!("today is {}", model.today),
                    harness.advance_to(model.today),
                )
            }
            Op::AdvanceToDeadline {
                voucher,
                days_after,
            } => {
                let target = model
                    .voucher(model.pick_voucher(*voucher))
                    .map(|voucher| shift(voucher.redeem_by, *days_after))
                    .filter(|target| *target > model.today);
                match target {
                    None => done("no deadline ahead".to_owned(), Ok(())),
                    Some(target) => {
                        model.advance((target - model.today).num_days());
                        done(
                            format!("today is {}", model.today),
                            harness.advance_to(model.today),
                        )
                    }
                }
            }
            Op::Restart { days_later } => {
                model.advance(*days_later);
                done(
                    format!("restart, today is {}", model.today),
                    harness.restart(model.today),
                )
            }
            _ => unreachable!("command ops are asked above"),
        }
    }
}

fn run_history(start: NaiveDate, ops: &[Op]) -> Result<(), String> {
    let mut harness = Harness::start(start)?;
    let mut runner = Runner {
        model: Model::new(start),
        issues_sent: Vec::new(),
        redeems_sent: Vec::new(),
        settles_sent: Vec::new(),
    };
    let mut trace: Vec<String> = vec![format!("start on {start}")];
    let failure = |trace: &[String], step: usize, what: String| {
        format!(
            "step {step} went wrong: {what}\nhistory (what each step resolved to, and both answers):\n{}",
            trace.join("\n")
        )
    };
    harness
        .check_against(&runner.model)
        .map_err(|problem| failure(&trace, 0, format!("after setup: {problem}")))?;
    for (step, op) in ops.iter().enumerate() {
        trace.push(format!("  step {step}: {op:?}"));
        let mut agree = true;
        for (asked, expected, actual) in runner.step(&mut harness, step, op) {
            trace.push(format!("    asked:  {asked}\n    model:  {expected:?}"));
            tally(&expected);
            if expected != actual {
                trace.push(format!("    engine: {actual:?}"));
                agree = false;
            }
        }
        if !agree {
            return Err(failure(
                &trace,
                step,
                "the engine's answer differs from the model's".to_owned(),
            ));
        }
        harness
            .check_against(&runner.model)
            .map_err(|problem| failure(&trace, step, problem))?;
    }
    Ok(())
}

fn cases() -> u32 {
    match std::env::var("VOUCHER_MODEL_CASES") {
        Err(_) => CASES_DEFAULT,
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("VOUCHER_MODEL_CASES={text:?} is not a whole number")),
    }
}

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

/// How often the model gave each kind of answer, over every history run (shrinking too).
static TALLY: LazyLock<Mutex<BTreeMap<String, u64>>> = LazyLock::new(Mutex::default);

fn tally(answer: &Answer) {
    let label = match answer {
        Answer::Voucher(voucher) => format!("voucher {:?}", voucher.status),
        Answer::Redemption(redemption) => format!("redemption {:?}", redemption.status),
        Answer::Settlement(settlement) => format!(
            "settlement with {} lines, {} clawbacks, net {}{}",
            if settlement.lines.is_empty() {
                "no"
            } else {
                "some"
            },
            if settlement.clawbacks.is_empty() {
                "no"
            } else {
                "some"
            },
            if settlement.net.0 < 0 {
                "negative"
            } else {
                "not negative"
            },
            if settlement.payment.is_some() {
                ", paid"
            } else {
                ""
            },
        ),
        Answer::RelatedParties(_) => "related parties".to_owned(),
        Answer::Refused { reason, .. } => format!("refused {reason}"),
        Answer::Done | Answer::Failed(_) => return,
    };
    *TALLY
        .lock()
        .expect("the tally is not poisoned")
        .entry(label)
        .or_default() += 1;
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
