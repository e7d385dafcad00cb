//! The records the ledger keeps: enterprises, providers, tokens, vouchers, redemptions and
//! cap accounts. Every field holds a checked type; a record can be serialized whole into the
//! event log and the store.

mod cause;
mod enterprise;
mod totals;

pub use cause::{Caller, CallerStamp, EventCause};
pub use enterprise::{ApplicationStatus, PublicNotice, VoucherApplication};
pub use totals::{ClaimMonths, ProgramTotals, ProviderTotals};

use crate::domain::reason::ReasonCode;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use super::credit_code::CreditCode;
use super::dates::DateRange;
use super::ids::{ApplicationId, RedemptionId, SettlementId, TokenId, VoucherId};
use super::invoice::InvoiceNumber;
use super::money::{Money, Total};
use super::policy::ProgramCode;
use super::text::{Description, Name, Reason, Reference, RequestId};

pub type Timestamp = DateTime<FixedOffset>;

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 数据局 / 科技局 operators: everything.
    Bureau,
    /// A compute provider or robot lessor, bound to its own credit code.
    Provider,
    /// 审计 / 财政: every query, no change.
    Auditor,
    /// An enterprise, bound to its own credit code: applies for vouchers, reads its own
    /// records, confirms or disputes the claims made in its name.
    Enterprise,
    /// 财政局: reads everything, records payments; never issues, reviews or creates statements.
    Finance,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Bureau => "bureau",
            Role::Provider => "provider",
            Role::Auditor => "auditor",
            Role::Enterprise => "enterprise",
            Role::Finance => "finance",
        }
    }
}

/// Who is asking: a role, and for a provider or an enterprise the credit code its token is
/// bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Actor {
    Bureau,
    Provider(CreditCode),
    Auditor,
    Enterprise(CreditCode),
    Finance,
}

impl Actor {
    pub fn role(self) -> Role {
        match self {
            Actor::Bureau => Role::Bureau,
            Actor::Provider(_) => Role::Provider,
            Actor::Auditor => Role::Auditor,
            Actor::Enterprise(_) => Role::Enterprise,
            Actor::Finance => Role::Finance,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enterprise {
    pub credit_code: CreditCode,
    pub name: Name,
    /// Why the bureau accepted a code whose check digit is wrong.
    pub check_digit_override_reason: Option<Reason>,
    pub registered_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    pub credit_code: CreditCode,
    pub name: Name,
    /// The one program this provider may redeem.
    pub program: ProgramCode,
    pub check_digit_override_reason: Option<Reason>,
    pub registered_at: Timestamp,
    /// Whether it is suspended, and which client certificates identify it. Records written
    /// before access existed (records format 3 and earlier) read as open to all.
    #[serde(default)]
    pub access: ProviderAccess,
}

/// How a provider may reach the ledger. The bureau can suspend it (nothing it asks is
/// accepted, however it authenticates) and pin or revoke its client certificates by the
/// SHA-256 of their DER bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderAccess {
    pub suspension: Option<Suspension>,
    /// When not empty, the only client certificates that identify the provider.
    pub pinned_certificates: BTreeSet<Sha256Hex>,
    /// Certificates that never identify it again. Never also pinned.
    pub revoked_certificates: BTreeSet<Sha256Hex>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    pub reason: Reason,
    pub at: Timestamp,
}

/// Why a provider's request is not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessRefusal {
    Suspended,
    CertificateRevoked,
    CertificateNotPinned,
}

impl ProviderAccess {
    /// Whether a request from the provider is accepted, given the fingerprint of the client
    /// certificate it came with (`None` without one).
    pub fn admits(&self, certificate: Option<&Sha256Hex>) -> Result<(), AccessRefusal> {
        if self.suspension.is_some() {
            return Err(AccessRefusal::Suspended);
        }
        let Some(certificate) = certificate else {
            return Ok(());
        };
        if self.revoked_certificates.contains(certificate) {
            return Err(AccessRefusal::CertificateRevoked);
        }
        if !self.pinned_certificates.is_empty() && !self.pinned_certificates.contains(certificate) {
            return Err(AccessRefusal::CertificateNotPinned);
        }
        Ok(())
    }

    pub fn is_suspended(&self) -> bool {
        self.suspension.is_some()
    }
}

/// The SHA-256 of a token's secret, in hex. The secret itself is never kept.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SecretHash(pub String);

impl SecretHash {
    /// The hash under which a secret is kept.
    pub fn of(secret: &str) -> SecretHash {
        use sha2::Digest;
        SecretHash(hex::encode(sha2::Sha256::digest(secret.as_bytes())))
    }
}

impl std::fmt::Debug for SecretHash {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SecretHash(…)")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub token_id: TokenId,
    pub role: Role,
    /// Set exactly when `role` is [`Role::Provider`].
    pub provider_credit_code: Option<CreditCode>,
    /// Set exactly when `role` is [`Role::Enterprise`]. Event format 4 on.
    #[serde(default)]
    pub enterprise_credit_code: Option<CreditCode>,
    /// For a bureau token, the programs it acts in; empty: every program. Event format 5 on.
    #[serde(default)]
    pub programs: BTreeSet<ProgramCode>,
    pub description: Option<Description>,
    pub secret_sha256: SecretHash,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl Token {
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }

    /// The actor this token speaks for.
    pub fn actor(&self) -> Actor {
        let bound = || {
            self.provider_credit_code
                .or(self.enterprise_credit_code)
                .expect("a provider or enterprise token always names its party")
        };
        match self.role {
            Role::Bureau => Actor::Bureau,
            Role::Auditor => Actor::Auditor,
            Role::Provider => Actor::Provider(bound()),
            Role::Enterprise => Actor::Enterprise(bound()),
            Role::Finance => Actor::Finance,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoucherStatus {
    Active,
    Revoked,
    Expired,
}

/// What the bureau asked for when it issued a voucher, kept to tell a retry from a conflict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueVoucherRequest {
    pub request_id: RequestId,
    pub enterprise_credit_code: CreditCode,
    pub program: ProgramCode,
    pub face_value: Option<Money>,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    /// The providers that may redeem it; empty: any provider of the program. Event format 4
    /// on; earlier requests bound none.
    #[serde(default)]
    pub provider_credit_codes: BTreeSet<CreditCode>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Voucher {
    pub voucher_id: VoucherId,
    pub enterprise_credit_code: CreditCode,
    pub program: ProgramCode,
    pub face_value: Money,
    /// Net of reversals.
    pub redeemed: Money,
    /// Invoices dated inside may be redeemed.
    pub validity: DateRange,
    /// The last day a redemption is accepted.
    pub redeem_by: NaiveDate,
    /// The cap period the face value is committed under; holds `validity`.
    pub cap_period: DateRange,
    pub status: VoucherStatus,
    pub issued_at: Timestamp,
    pub request: IssueVoucherRequest,
    pub revocation_reason: Option<Reason>,
    pub closed_at: Option<Timestamp>,
    /// The only providers that may redeem it; empty: any provider of its program (every
    /// voucher issued before binding existed). The bureau may change the list.
    #[serde(default)]
    pub provider_credit_codes: BTreeSet<CreditCode>,
    /// The application it was issued on, if the enterprise applied through the ledger.
    #[serde(default)]
    pub application_id: Option<ApplicationId>,
    #[serde(default)]
    pub issued_by: EventCause,
    /// Who revoked it; the ledger itself when it expired.
    #[serde(default)]
    pub closed_by: Option<EventCause>,
}

impl Voucher {
    /// Whether `provider` may redeem it: one of its bound providers, or any when none is bound.
    pub fn admits_provider(&self, provider: &CreditCode) -> bool {
        self.provider_credit_codes.is_empty() || self.provider_credit_codes.contains(provider)
    }

    pub fn is_active(&self) -> bool {
        self.status == VoucherStatus::Active
    }

    /// What may still be redeemed: nothing once closed.
    pub fn remaining(&self) -> Money {
        if self.is_active() {
            self.face_value.saturating_sub(self.redeemed)
        } else {
            Money::ZERO
        }
    }

    /// What this voucher holds under the cap: its face value while active, what it redeemed
    /// once closed (closing releases the rest).
    pub fn committed(&self) -> Money {
        if self.is_active() {
            self.face_value
        } else {
            self.redeemed
        }
    }

    pub fn cap_key(&self) -> CapKey {
        CapKey {
            enterprise_credit_code: self.enterprise_credit_code,
            program: self.program,
            period_start: self.cap_period.first,
        }
    }

    pub fn program_period(&self) -> ProgramPeriod {
        ProgramPeriod {
            program: self.program,
            period_start: self.cap_period.first,
        }
    }
}

/// An invoice as a provider presents it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub number: InvoiceNumber,
    pub date: NaiveDate,
    /// The amount actually paid.
    pub amount: Money,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedemptionStatus {
    /// Submitted by the provider: counts under the cap at once, awaits the bureau's review.
    Accepted,
    /// Reviewed and approved by the bureau: may be settled.
    Approved,
    /// Refused on review: the subsidy is released, the invoice stays used.
    Rejected,
    /// Paid out in a settlement statement.
    Settled,
    /// Reversed (红冲) by its provider or the bureau, or clawed back after settlement.
    Reversed,
    /// The enterprise said the claim is not its own (企业异议): closed, its subsidy released.
    Disputed,
    /// Sent back by the bureau for correction (退回补正): closed, its subsidy released, and its
    /// invoice may be claimed once more by the same provider for the same enterprise.
    Returned,
}

impl RedemptionStatus {
    /// Whether the subsidy still counts under the cap.
    pub fn counts(self) -> bool {
        matches!(
            self,
            RedemptionStatus::Accepted | RedemptionStatus::Approved | RedemptionStatus::Settled
        )
    }
}

/// What a document attached to a claim proves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// 合同: the rental or lease contract.
    Contract,
    /// 付款凭证: proof the enterprise paid.
    PaymentReceipt,
    /// 交付证明: proof of delivery.
    DeliveryProof,
    /// 部署证明: proof of deployment (compute in use, robots on site).
    DeploymentProof,
}

impl EvidenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Contract => "contract",
            EvidenceKind::PaymentReceipt => "payment_receipt",
            EvidenceKind::DeliveryProof => "delivery_proof",
            EvidenceKind::DeploymentProof => "deployment_proof",
        }
    }
}

/// One document behind a claim: what it is, its SHA-256, and where to find it. The ledger
/// keeps the fingerprint, not the document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub kind: EvidenceKind,
    pub sha256: Sha256Hex,
    /// A file name or URI.
    pub reference: Reference,
}

/// A SHA-256 in lower-case hex: 64 characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256Hex(String);

impl Sha256Hex {
    pub fn parse(text: &str) -> Result<Sha256Hex, crate::domain::input::InputError> {
        let lower = text.to_ascii_lowercase();
        if lower.len() != 64 || !lower.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(crate::domain::input::InputError::new(
                ReasonCode::MalformedSha256,
                "a SHA-256 is 64 hexadecimal characters",
            ));
        }
        Ok(Sha256Hex(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Sha256Hex {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "Sha256Hex({})", self.0)
    }
}

impl TryFrom<String> for Sha256Hex {
    type Error = crate::domain::input::InputError;
    fn try_from(text: String) -> Result<Sha256Hex, Self::Error> {
        Sha256Hex::parse(&text)
    }
}

impl From<Sha256Hex> for String {
    fn from(hash: Sha256Hex) -> String {
        hash.0
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redemption {
    pub redemption_id: RedemptionId,
    pub voucher_id: VoucherId,
    pub program: ProgramCode,
    pub enterprise_credit_code: CreditCode,
    pub provider_credit_code: CreditCode,
    pub invoice: Invoice,
    pub allow_partial: bool,
    pub computed_subsidy: Money,
    /// What was granted: at most `computed_subsidy`.
    pub subsidy: Money,
    pub status: RedemptionStatus,
    pub redeemed_at: Timestamp,
    pub reversal_reason: Option<Reason>,
    pub reversed_at: Option<Timestamp>,
    pub reversed_by: Option<Role>,
    /// Documents behind the claim; part of what makes a retry the same request.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    #[serde(default)]
    pub approved_at: Option<Timestamp>,
    #[serde(default)]
    pub rejection_reason: Option<Reason>,
    #[serde(default)]
    pub rejected_at: Option<Timestamp>,
    /// The statement that paid it.
    #[serde(default)]
    pub settlement_id: Option<SettlementId>,
    /// The returned claim this one corrects (same invoice, provider and enterprise).
    #[serde(default)]
    pub corrects: Option<RedemptionId>,
    /// When the enterprise confirmed it (企业确认).
    #[serde(default)]
    pub confirmed_at: Option<Timestamp>,
    /// Why the enterprise disputed it, or why the bureau returned it, and when.
    #[serde(default)]
    pub closing_reason: Option<Reason>,
    #[serde(default)]
    pub closed_at: Option<Timestamp>,
    /// Who made each step: the claim, its review (approval, rejection, return), its
    /// reversal, the enterprise's answer.
    /// Boxed: a claim is moved whole in events and answers, and its steps are the largest part.
    #[serde(default)]
    pub steps: Box<ClaimSteps>,
}

/// Who made each step of a claim; `None` for a step not taken.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimSteps {
    #[serde(default)]
    pub redeemed_by: EventCause,
    #[serde(default)]
    pub approved_by: Option<EventCause>,
    /// Who rejected, returned or (the enterprise) disputed it.
    #[serde(default)]
    pub closed_by: Option<EventCause>,
    #[serde(default)]
    pub confirmed_by: Option<EventCause>,
    #[serde(default)]
    pub reversed_by: Option<EventCause>,
}

impl Redemption {
    /// What still counts under the cap: the subsidy, or nothing once rejected or reversed.
    pub fn counted_subsidy(&self) -> Money {
        if self.status.counts() {
            self.subsidy
        } else {
            Money::ZERO
        }
    }

    pub fn cap_year(&self) -> i32 {
        self.invoice.date.year()
    }

    /// The months the claim counts in: accepted, and invoiced.
    pub fn months(&self) -> ClaimMonths {
        let invoice_date = self.invoice.date;
        ClaimMonths {
            accepted: self.accepted_month(),
            invoiced: invoice_date.year().unsigned_abs() * 100 + invoice_date.month(),
        }
    }

    /// The month the claim was accepted, `YYYYMM` in China time.
    pub fn accepted_month(&self) -> u32 {
        let local = self
            .redeemed_at
            .with_timezone(&crate::domain::dates::china_offset());
        local.year().unsigned_abs() * 100 + local.month()
    }
}

/// Which cap an amount counts under: one enterprise, one program, one cap period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CapKey {
    pub enterprise_credit_code: CreditCode,
    pub program: ProgramCode,
    pub period_start: NaiveDate,
}

/// An enterprise's totals under one cap. Invariant: `redeemed ≤ committed ≤ cap`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapAccount {
    pub key: CapKey,
    pub period: DateRange,
    /// Face value of active vouchers plus what closed vouchers redeemed.
    pub committed: Money,
    /// Net of reversals.
    pub redeemed: Money,
    /// `redeemed`, split by the calendar year of the invoice.
    pub redeemed_by_year: BTreeMap<i32, Money>,
}

impl CapAccount {
    pub fn empty(key: CapKey, period: DateRange) -> CapAccount {
        assert_eq!(key.period_start, period.first);
        CapAccount {
            key,
            period,
            committed: Money::ZERO,
            redeemed: Money::ZERO,
            redeemed_by_year: BTreeMap::new(),
        }
    }
}

/// One program in one cap period: what the bureau's summary and the finance bureau's
/// budget questions are asked about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProgramPeriod {
    pub program: ProgramCode,
    pub period_start: NaiveDate,
}

/// A subsidy to recover from a provider: a settled redemption reversed afterwards. The
/// provider's next statement nets it off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clawback {
    pub redemption_id: RedemptionId,
    pub amount: Money,
    pub booked_at: Timestamp,
}

/// A settlement statement (拨付): a provider's approved claims under one program, up to a date,
/// paid together, less what is clawed back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    pub settlement_id: SettlementId,
    pub request_id: RequestId,
    pub provider_credit_code: CreditCode,
    pub program: ProgramCode,
    /// Claims with invoices dated up to this day were gathered.
    pub up_to: NaiveDate,
    /// The settled redemptions, in id order.
    pub redemption_ids: Vec<RedemptionId>,
    /// The sum of their subsidies.
    pub gross: Total,
    /// Clawbacks netted off.
    pub clawbacks: Vec<Clawback>,
    pub clawed_back: Total,
    pub created_at: Timestamp,
    /// The ledger's day when the statement was made (China time; the pinned day in drills):
    /// no payment is dated before it.
    pub made_on: NaiveDate,
    /// Approved claims up to `up_to` left for the next statement (past the line bound).
    pub more_pending: bool,
    /// Recorded by the bureau once the money has moved; `None` while the statement waits.
    /// Always `None` in the creation event; `SettlementPaid` fills it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<SettlementPayment>,
    #[serde(default)]
    pub created_by: EventCause,
}

/// The bureau's record that a statement's net was paid (拨付): to the provider when it is
/// positive, by the provider when it is negative (the provider owed the clawbacks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementPayment {
    /// The bank's or treasury's reference for the transfer (e.g. the 国库集中支付 voucher number).
    pub bank_reference: Reference,
    /// The day the money moved (China time), never before the statement was made.
    pub paid_on: NaiveDate,
    pub recorded_at: Timestamp,
    #[serde(default)]
    pub recorded_by: EventCause,
}

impl Settlement {
    /// What the bureau pays (positive) or the provider owes (negative): gross less clawbacks.
    pub fn net(&self) -> rust_decimal::Decimal {
        self.gross.as_decimal() - self.clawed_back.as_decimal()
    }

    /// Whether a payment may be dated `paid_on` when recorded on `today`: not before the
    /// statement was made, not in the future.
    pub fn may_be_paid_on(&self, paid_on: NaiveDate, today: NaiveDate) -> bool {
        self.made_on <= paid_on && paid_on <= today
    }
}

/// A provider and an enterprise the bureau found related (关联方): no redemption between them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelatedParties {
    pub provider_credit_code: CreditCode,
    pub enterprise_credit_code: CreditCode,
    pub reason: Reason,
    pub recorded_at: Timestamp,
}

/// An enterprise's position under one cap, as the bureau reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Balance {
    pub enterprise_credit_code: CreditCode,
    /// Empty when the enterprise record could not be read with the balance.
    pub enterprise_name: String,
    pub program: ProgramCode,
    pub period: DateRange,
    pub cap: Money,
    pub committed: Money,
    pub redeemed: Money,
    /// `cap - committed`: what the bureau may still issue.
    pub available_to_issue: Money,
    /// `committed - redeemed`: issued and not yet redeemed.
    pub outstanding: Money,
    pub redeemed_by_year: BTreeMap<i32, Money>,
}

impl Balance {
    /// The balance of `account` (or of an empty one) under `cap`.
    pub fn of(
        key: CapKey,
        enterprise_name: String,
        period: DateRange,
        account: Option<&CapAccount>,
        cap: Money,
    ) -> Balance {
        let (committed, redeemed, redeemed_by_year) = match account {
            Some(account) => (
                account.committed,
                account.redeemed,
                account.redeemed_by_year.clone(),
            ),
            None => (Money::ZERO, Money::ZERO, BTreeMap::new()),
        };
        Balance {
            enterprise_credit_code: key.enterprise_credit_code,
            enterprise_name,
            program: key.program,
            period,
            cap,
            committed,
            redeemed,
            available_to_issue: cap.saturating_sub(committed),
            outstanding: committed.saturating_sub(redeemed),
            redeemed_by_year,
        }
    }
}

/// A program in one cap period, as the bureau's summary shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramSummary {
    pub program_period: ProgramPeriod,
    pub period: DateRange,
    /// One enterprise's cap in the period.
    pub cap: Money,
    pub totals: ProgramTotals,
    /// (provider, its name, its totals), in credit code order.
    pub providers: Vec<(CreditCode, String, ProviderTotals)>,
    pub providers_truncated: bool,
    /// The program's budget for the period, if the policy sets one.
    pub budget: Option<Money>,
}

/// A program's budget in one cap period against what is committed, redeemed and settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BudgetView {
    pub program_period: ProgramPeriod,
    pub period: DateRange,
    pub budget: Option<Money>,
    pub committed: Total,
    pub redeemed: Total,
    pub settled: Total,
}

impl BudgetView {
    /// What may still be committed: the budget less what is committed.
    pub fn available(&self) -> Option<Total> {
        let budget = self.budget?;
        Total::try_from(
            (budget.as_decimal() - self.committed.as_decimal()).max(rust_decimal::Decimal::ZERO),
        )
        .ok()
    }
}
