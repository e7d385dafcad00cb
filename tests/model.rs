//! A model-based test of the engine: proptest makes random histories of issuing, redeeming,
//! reversing and revoking, of days passing and of restarts, and runs each against a real
//! engine (a real sled directory in a tempdir) and against a reference model written here
//! from the rules in README.md. After every step the answers, every voucher, every
//! redemption and every cap account must agree, and the invariants must hold.
//!
//! The model is independent of `src/domain/ledger`: it keeps money in whole fen (`i64`),
//! computes subsidies with integer half-up rounding, derives cap totals from its vouchers, and
//! has its own copy of the rules' constants. A disagreement is a bug in one of the two.
//!
//! Where README.md is silent the model decides, and says so here:
//! - the order of a redemption's checks beyond "cap, then voucher" and "term, then future" is
//!   the one the issue tracker fixed (replay, voucher, program, enterprise, self-dealing,
//!   status, dates, cap, voucher balance); a subsidy that rounds to zero is refused after the
//!   dates and before the cap;
//! - an issue request is checked for its dates (term, then one cap period), then the deadline,
//!   then the cap; with no face value and nothing left it is CAP_EXCEEDED;
//! - a redemption's cap check is against what is left of the cap (cap - redeemed), and that
//!   is the `remaining` of CAP_EXCEEDED;
//! - a closed voucher commits what it redeemed, so reversing one of its redemptions releases
//!   that subsidy too; its `remaining` is zero;
//! - revoking an expired voucher is VOUCHER_NOT_ACTIVE.
//!
//! `VOUCHER_MODEL_CASES` sets the number of histories (default 128):
//! `VOUCHER_MODEL_CASES=5000 cargo test --release --test model`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::Poll;
use std::time::Duration;

use chrono::{Datelike, NaiveDate, TimeDelta};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};
use voucher_ledger::domain::command::{Command, RedeemCommand};
use voucher_ledger::domain::credit_code::CreditCode;
use voucher_ledger::domain::error::LedgerError;
use voucher_ledger::domain::ids::{RedemptionId, VoucherId};
use voucher_ledger::domain::invoice::InvoiceNumber;
use voucher_ledger::domain::ledger::Outcome;
use voucher_ledger::domain::model::{
    Actor, Balance, Invoice, IssueVoucherRequest, Redemption, RedemptionStatus, Voucher,
    VoucherStatus,
};
use voucher_ledger::domain::money::{Money, Rounding};
use voucher_ledger::domain::policy::{DEFAULT_POLICY_TOML, Policy, ProgramCode};
use voucher_ledger::domain::text::{Name, Reason, RequestId};
use voucher_ledger::engine::{ClockSource, Engine, EngineConfig, EngineError, EngineOwner};

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

/// The policy the engine runs: the compiled-in file with small caps, so they are reached.
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
        }
        changed
    }
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
    },
    /// The `attempt`th Redeem sent again: unchanged (a retry), or with one field changed
    /// (a conflict, if the invoice was redeemed).
    RetryRedeem { attempt: usize, change: Change },
    /// The bureau reverses redemption number `redemption` (modulo those accepted).
    Reverse { redemption: usize },
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
    )
        .prop_map(
            |(voucher, invoice, amount, days_before_today, allow_partial, seller, buyer)| {
                Op::Redeem {
                    voucher,
                    invoice,
                    amount,
                    days_before_today,
                    allow_partial,
                    seller,
                    buyer,
                }
            },
        )
}

/// The ops that are one command each.
fn command_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => issue(),
        2 => (0usize..8).prop_map(|issue| Op::RetryIssue { issue }),
        20 => redeem(),
        4 => retry_redeem(),
        4 => (0usize..16).prop_map(|redemption| Op::Reverse { redemption }),
        2 => (0usize..8).prop_map(|voucher| Op::Revoke { voucher }),
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
        ],
    )
        .prop_map(|(attempt, change)| Op::RetryRedeem { attempt, change })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        42 => command_op(),
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

#[derive(Clone, Debug, PartialEq, Eq)]
struct RedemptionView {
    id: String,
    voucher: String,
    provider: String,
    enterprise: String,
    invoice: String,
    invoice_date: NaiveDate,
    amount: Fen,
    allow_partial: bool,
    computed_subsidy: Fen,
    subsidy: Fen,
    status: RedemptionStatus,
}

impl RedemptionView {
    fn of(redemption: &Redemption) -> RedemptionView {
        RedemptionView {
            id: redemption.redemption_id.to_string(),
            voucher: redemption.voucher_id.to_string(),
            provider: redemption.provider_credit_code.to_string(),
            enterprise: redemption.enterprise_credit_code.to_string(),
            invoice: redemption.invoice.number.to_string(),
            invoice_date: redemption.invoice.date,
            amount: Fen::of(redemption.invoice.amount),
            allow_partial: redemption.allow_partial,
            computed_subsidy: Fen::of(redemption.computed_subsidy),
            subsidy: Fen::of(redemption.subsidy),
            status: redemption.status,
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
        Ok(other) => Answer::Failed(format!("unexpected outcome {other:?}")),
        Err(EngineError::Ledger(error)) => Answer::Refused {
            reason: error.reason().to_owned(),
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

#[derive(Clone, Debug)]
struct ModelRedemption {
    number: u64,
    payload: RedeemPayload,
    computed_subsidy: Fen,
    subsidy: Fen,
    reversed: bool,
}

impl ModelRedemption {
    fn view(&self) -> RedemptionView {
        RedemptionView {
            id: redemption_id_text(self.number),
            voucher: voucher_id_text(self.payload.voucher),
            provider: self.payload.seller.to_owned(),
            enterprise: self.payload.buyer.to_owned(),
            invoice: invoice_number_text(self.payload.invoice),
            invoice_date: self.payload.invoice_date,
            amount: Fen::parse(self.payload.amount),
            allow_partial: self.payload.allow_partial,
            computed_subsidy: self.computed_subsidy,
            subsidy: self.subsidy,
            status: if self.reversed {
                RedemptionStatus::Reversed
            } else {
                RedemptionStatus::Accepted
            },
        }
    }
}

struct Model {
    today: NaiveDate,
    /// Voucher number n is at index n - 1.
    vouchers: Vec<ModelVoucher>,
    /// Redemption number n is at index n - 1.
    redemptions: Vec<ModelRedemption>,
    /// Accepted issue requests by request id, and the voucher each made.
    issued: HashMap<String, (IssuePayload, u64)>,
    /// Invoice serials that were redeemed (even if reversed since), and by which redemption.
    invoices: HashMap<u8, u64>,
}

impl Model {
    fn new(today: NaiveDate) -> Model {
        Model {
            today,
            vouchers: Vec::new(),
            redemptions: Vec::new(),
            issued: HashMap::new(),
            invoices: HashMap::new(),
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

    fn pick_redemption(&self, index: usize) -> u64 {
        if self.redemptions.is_empty() {
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

    fn balance(&self, enterprise: usize, program: ProgramCode, period: Period) -> BalanceView {
        let cap = cap_of(program);
        let committed = self.committed(enterprise, program, period);
        let redeemed = self.redeemed(enterprise, program, period);
        let mut redeemed_by_year: BTreeMap<i32, Fen> = BTreeMap::new();
        for redemption in self.redemptions.iter().filter(|r| !r.reversed) {
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
    /// period; the deadline must not have passed; the face value (default: all that is left)
    /// must fit under the cap.
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
        let available =
            cap_of(program).minus(self.committed(payload.enterprise, program, cap_period));
        let face_value = payload.face_value.map_or(available, Fen::parse);
        if face_value.0 == 0 || face_value > available {
            return refused_with_remaining("CAP_EXCEEDED", available);
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

    /// Redeem, checked in the order the issue tracker fixed: replay of the invoice, voucher,
    /// program, enterprise, self-dealing, status, dates (term, future, validity), then the
    /// amount: zero subsidy (placed here by the model), cap, voucher balance.
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
        let Some(voucher) = self.voucher(payload.voucher) else {
            return refused("NOT_FOUND");
        };
        let seller_program = SELLERS
            .iter()
            .find(|(code, _)| *code == payload.seller)
            .map(|(_, program)| *program)
            .expect("the test's sellers are registered");
        if seller_program != voucher.program {
            return refused("PROGRAM_MISMATCH");
        }
        if payload.buyer != ENTERPRISES[voucher.enterprise] {
            return refused("ENTERPRISE_MISMATCH");
        }
        if payload.seller == payload.buyer {
            return refused("SELF_DEALING");
        }
        if !voucher.is_active() || today > voucher.redeem_by {
            return refused("VOUCHER_NOT_ACTIVE");
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
            return refused_with_remaining("CAP_EXCEEDED", cap_left);
        } else {
            return refused_with_remaining("VOUCHER_BALANCE_EXCEEDED", voucher_left);
        };
        let voucher = self.voucher_mut(payload.voucher).expect("looked up above");
        voucher.redeemed = voucher.redeemed.plus(subsidy);
        let number = Model::next_number(self.redemptions.len());
        self.redemptions.push(ModelRedemption {
            number,
            payload: payload.clone(),
            computed_subsidy: computed,
            subsidy,
            reversed: false,
        });
        self.invoices.insert(payload.invoice, number);
        Answer::Redemption(self.redemptions.last().expect("just pushed").view())
    }

    /// A reversal (红冲) gives the subsidy back to the voucher and the cap; the invoice stays
    /// used; reversing again returns the record unchanged.
    fn reverse(&mut self, number: u64) -> Answer {
        let Some(index) = usize::try_from(number)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .filter(|index| *index < self.redemptions.len())
        else {
            return refused("NOT_FOUND");
        };
        if !self.redemptions[index].reversed {
            self.redemptions[index].reversed = true;
            let subsidy = self.redemptions[index].subsidy;
            let voucher_number = self.redemptions[index].payload.voucher;
            let voucher = self.voucher_mut(voucher_number).expect("redeemed voucher");
            voucher.redeemed = voucher.redeemed.minus(subsidy);
        }
        Answer::Redemption(self.redemptions[index].view())
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
                .filter(|r| !r.reversed && r.payload.voucher == voucher.number)
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
        Ok(())
    }
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
        evidence: Vec::new(),
    })
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
}

struct Harness {
    runtime: tokio::runtime::Runtime,
    directory: tempfile::TempDir,
    clock: ClockSource,
    owner: Option<EngineOwner>,
}

impl Harness {
    fn start(today: NaiveDate) -> Result<Harness, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let directory = tempfile::tempdir().expect("a temporary directory");
        let clock = ClockSource::pinned(today);
        let mut harness = Harness {
            runtime,
            directory,
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
        Ok(Snapshot {
            vouchers,
            redemptions,
            balances,
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
            Op::Reverse { redemption } => {
                let number = model.pick_redemption(*redemption);
                Asked {
                    asked: redemption_id_text(number),
                    expected: model.reverse(number),
                    command: Some(Command::ReverseRedemption {
                        redemption_id: redemption_id(number),
                        reason: reason("红冲: the invoice was cancelled"),
                        actor: Actor::Bureau,
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

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_engine_agrees_with_the_model(
        start in start_day(),
        ops in prop::collection::vec(op(), 1..=40),
    ) {
        if let Err(message) = run_history(start, &ops) {
            return Err(TestCaseError::fail(message));
        }
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
