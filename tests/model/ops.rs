//! The operations proptest generates (`Op`: one command, several sent together, days
//! passing, a restart) and their parts, the tables of face values, amounts and evidence they
//! pick from, and the payloads an op resolves to against the model's state at the time (what
//! is asked). How ops are generated, with which weights, is in `strategies.rs`.

use chrono::NaiveDate;
use voucher_ledger::domain::model::{EvidenceKind, RedemptionStatus};
use voucher_ledger::domain::policy::ProgramCode;

use crate::callers::By;
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

/// Who sells: usually the provider of the voucher's program (the first it is bound to, if it
/// is bound).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seller {
    Matching,
    ComputeProvider,
    Lessor,
    Enterprise2AsLessor,
    /// A provider of the voucher's program it is not bound to and that `Matching` is not, if
    /// there is one; else a provider of the other program.
    NotBound,
}

/// The providers a voucher is bound to when issued, or changed to by the bureau.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// None: any provider of its program.
    Unbound,
    /// The program's first provider (the compute provider, the lessor).
    Matching,
    /// Enterprise 2 as a lessor (a compute voucher's is of another program).
    Enterprise2AsLessor,
    /// Both lessors (of another program for a compute voucher).
    BothLessors,
    /// A provider of the other program.
    OtherProgram,
    /// A credit code registered as an enterprise only.
    NotAProvider,
}

impl Bound {
    /// The credit codes, in the order the engine keeps them (credit code order).
    pub fn resolve(self, program: ProgramCode) -> Vec<&'static str> {
        let mut codes = match self {
            Bound::Unbound => Vec::new(),
            Bound::Matching => vec![first_provider_of(program)],
            Bound::Enterprise2AsLessor => vec![ENTERPRISE_2_AS_LESSOR],
            Bound::BothLessors => vec![LESSOR, ENTERPRISE_2_AS_LESSOR],
            Bound::OtherProgram => vec![first_provider_of(other_program_of(program))],
            Bound::NotAProvider => vec![ENTERPRISES[0]],
        };
        codes.sort_unstable();
        codes
    }
}

/// The provider a claim under the program is usually made by.
pub fn first_provider_of(program: ProgramCode) -> &'static str {
    match program {
        ProgramCode::Compute => COMPUTE_PROVIDER,
        _ => LESSOR,
    }
}

/// The other lessor, or the lessor for the compute provider.
pub fn another_provider(provider: &'static str) -> &'static str {
    if provider == LESSOR {
        ENTERPRISE_2_AS_LESSOR
    } else {
        LESSOR
    }
}

/// The enterprise after `enterprise`'s credit code in the world.
pub fn next_enterprise(enterprise: &str) -> &'static str {
    let index = ENTERPRISES
        .iter()
        .position(|code| *code == enterprise)
        .unwrap_or(0);
    ENTERPRISES[(index + 1) % ENTERPRISES.len()]
}

/// What a RetryRedeem changes in the request it sends again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Unchanged,
    /// The other allow_partial.
    AllowPartial,
    /// The next amount of the table (its first, for an amount not in it).
    Amount,
    /// The invoice dated a day earlier.
    InvoiceDate,
    /// The next voucher.
    Voucher,
    /// Other evidence: the first document's hash changed, or a contract added to none.
    Evidence,
    /// Another provider: the other lessor, or the lessor for the compute provider.
    Seller,
    /// The next enterprise.
    Buyer,
}

impl Change {
    pub fn apply(self, payload: &RedeemPayload, vouchers: usize) -> RedeemPayload {
        let mut changed = payload.clone();
        match self {
            Change::Unchanged => {}
            Change::AllowPartial => changed.allow_partial = !payload.allow_partial,
            Change::Amount => {
                let next = AMOUNTS
                    .iter()
                    .position(|amount| *amount == payload.amount)
                    .map_or(0, |index| (index + 1) % AMOUNTS.len());
                changed.amount = AMOUNTS[next];
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
            Change::Seller => changed.seller = another_provider(payload.seller),
            Change::Buyer => changed.buyer = next_enterprise(payload.buyer),
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
            SettleChange::Provider => changed.provider = another_provider(payload.provider),
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

/// Which enterprise confirms or disputes a claim: the one it was made for, or the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claimant {
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
        bound: Bound,
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
    /// The bureau changes the providers voucher number `voucher` (modulo those issued) is
    /// bound to.
    ChangeProviders { voucher: usize, bound: Bound },
    /// An enterprise confirms (企业确认) a claim made in its name, or another's.
    Confirm { redemption: Which, by: Claimant },
    /// An enterprise disputes (企业异议) a claim made in its name, or another's.
    Dispute { redemption: Which, by: Claimant },
    /// The bureau returns a claim for correction (退回补正).
    Return { redemption: Which },
    /// The provider claims the invoice of returned claim number `redemption` (modulo those
    /// returned; of all, when none is) again, with `change` (unchanged: a retry of it).
    Correct { redemption: usize, change: Change },
    /// An enterprise (`enterprise` indexes [`ENTERPRISES`]; past its end: a code that is no
    /// enterprise) applies (申领) for a voucher of `amount` under contract number `contract`
    /// (a small range, so contracts repeat), a fresh request id.
    Apply {
        enterprise: usize,
        program: ProgramCode,
        amount: &'static str,
        bound: Bound,
        contract: u8,
    },
    /// The `apply`th Apply sent again, unchanged or for the next amount of the table.
    RetryApply { apply: usize, other_amount: bool },
    /// The bureau approves application number `application` (modulo those made; none made:
    /// the first, unknown), at the amount applied for or at `face_value`.
    ApproveApplication {
        application: usize,
        face_value: Option<&'static str>,
    },
    /// The bureau rejects application number `application` (modulo those made).
    RejectApplication { application: usize },
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
    /// The bureau creates a token (issue 15).
    CreateToken { kind: TokenKind },
    /// The bureau revokes token number `token` (modulo those created; none created: the first,
    /// unknown).
    RevokeToken { token: usize },
    /// The bureau registers party `party` again (it indexes [`ENTERPRISES`], then
    /// [`crate::rules::SELLERS`]): as it is (answered as registered), under another name
    /// (ENTERPRISE_EXISTS, PROVIDER_EXISTS), a provider for the other program.
    Register {
        party: usize,
        renamed: bool,
        other_program: bool,
    },
    /// `op` (a command) sent by `by` rather than by its natural caller (issue 15).
    As { by: By, op: Box<Op> },
}

/// The token a CreateToken asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A bureau token acting in every program, or scoped to compute, to leasing, or to both.
    Bureau {
        compute: bool,
        leasing: bool,
    },
    /// A provider's (`provider` indexes [`crate::rules::SELLERS`]; past its end: a code that
    /// is no provider).
    Provider {
        provider: usize,
    },
    /// An enterprise's (past the end of [`ENTERPRISES`]: a code that is no enterprise).
    Enterprise {
        enterprise: usize,
    },
    Auditor,
    Finance,
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
    /// The providers it is bound to, in credit code order.
    pub providers: Vec<&'static str>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationPayload {
    pub request_id: String,
    pub enterprise: &'static str,
    pub program: ProgramCode,
    pub amount: &'static str,
    /// The providers chosen, in credit code order.
    pub providers: Vec<&'static str>,
    pub contract: u8,
}

impl ApplicationPayload {
    /// The next amount of [`FACE_VALUES`].
    pub fn with_other_amount(&self) -> ApplicationPayload {
        let next = FACE_VALUES
            .iter()
            .position(|amount| *amount == self.amount)
            .map_or(0, |index| (index + 1) % FACE_VALUES.len());
        ApplicationPayload {
            amount: FACE_VALUES[next],
            ..self.clone()
        }
    }
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
