//! The operations proptest generates (`Op`: one command, several sent together, days
//! passing, a restart) and their parts, the tables of face values, amounts and evidence they
//! pick from, and the payloads an op resolves to against the model's state at the time (what
//! is asked). How ops are generated, with which weights, is in `strategies.rs`.

use chrono::NaiveDate;
use voucher_ledger::domain::model::{EvidenceKind, RedemptionStatus};
use voucher_ledger::domain::policy::ProgramCode;

use crate::rules::{COMPUTE_PROVIDER, ENTERPRISE_2_AS_LESSOR, ENTERPRISES, LESSOR};
use crate::values::shift;

/// Which invoice dates a voucher takes, relative to today when it is issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
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
    pub fn resolve(self, today: NaiveDate) -> (Option<NaiveDate>, Option<NaiveDate>) {
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
pub enum Seller {
    Matching,
    ComputeProvider,
    Lessor,
    Enterprise2AsLessor,
}

/// What a RetryRedeem changes in the request it sends again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
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
    pub fn apply(self, payload: &RedeemPayload, vouchers: usize) -> RedeemPayload {
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
pub struct ModelEvidence {
    pub kind: EvidenceKind,
    sha: char,
    pub reference: &'static str,
}

impl ModelEvidence {
    pub fn sha256(self) -> String {
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

pub fn evidence_set(index: usize) -> Vec<ModelEvidence> {
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
pub enum Which {
    Any(usize),
    InStatus(RedemptionStatus, usize),
}
/// Who asks for a reversal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reverser {
    Bureau,
    /// The provider that made the redemption.
    OwnProvider,
    /// A provider that did not make it.
    OtherProvider,
}

/// Whom a statement is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payee {
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
    pub fn code(self) -> &'static str {
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
pub enum SettleChange {
    Unchanged,
    /// A day earlier.
    UpTo,
    /// The other lessor, or the lessor for the compute provider.
    Provider,
    /// The other program.
    Program,
}

impl SettleChange {
    pub fn apply(self, payload: &SettlePayload) -> SettlePayload {
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

pub fn other_program_of(program: ProgramCode) -> ProgramCode {
    match program {
        ProgramCode::Compute => ProgramCode::Leasing,
        _ => ProgramCode::Compute,
    }
}
/// Who buys: usually the voucher's own enterprise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buyer {
    Own,
    Another,
}

#[derive(Clone, Debug)]
pub enum Op {
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

pub const FACE_VALUES: &[&str] = &[
    "0.01", "0.02", "100.00", "300.00", "499.99", "500.00", "500.01", "999.99", "1000.00",
    "1000.01",
];

/// Tiny amounts that round (0.01 at 20% is 0.00, 0.05 at 50% is 0.03 half up), and amounts
/// whose subsidy hits or passes the caps (2000.00 at 50% and 2500.00 at 20% are the whole cap).
pub const AMOUNTS: &[&str] = &[
    "0.01", "0.02", "0.03", "0.05", "1.00", "10.01", "333.33", "999.99", "1000.00", "1234.56",
    "2000.00", "2000.02", "2500.00", "5000.00",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuePayload {
    pub request_id: String,
    pub enterprise: usize,
    pub program: ProgramCode,
    pub face_value: Option<&'static str>,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedeemPayload {
    pub voucher: u64,
    pub seller: &'static str,
    pub buyer: &'static str,
    pub invoice: u8,
    pub invoice_date: NaiveDate,
    pub amount: &'static str,
    pub allow_partial: bool,
    pub evidence: Vec<ModelEvidence>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettlePayload {
    pub request_id: String,
    pub provider: &'static str,
    pub program: ProgramCode,
    pub up_to: NaiveDate,
}
