//! The records the ledger keeps: enterprises, providers, tokens, vouchers, redemptions and
//! cap accounts. Every field holds a checked type; a record can be serialized whole into the
//! event log and the store.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use super::credit_code::CreditCode;
use super::dates::DateRange;
use super::ids::{RedemptionId, TokenId, VoucherId};
use super::invoice::InvoiceNumber;
use super::money::{Money, Total};
use super::policy::ProgramCode;
use super::text::{Description, Name, Reason, RequestId};

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
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Bureau => "bureau",
            Role::Provider => "provider",
            Role::Auditor => "auditor",
        }
    }
}

/// Who is asking: a role, and for a provider the credit code its token is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Actor {
    Bureau,
    Provider(CreditCode),
    Auditor,
}

impl Actor {
    pub fn role(self) -> Role {
        match self {
            Actor::Bureau => Role::Bureau,
            Actor::Provider(_) => Role::Provider,
            Actor::Auditor => Role::Auditor,
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
        match (self.role, self.provider_credit_code) {
            (Role::Bureau, _) => Actor::Bureau,
            (Role::Auditor, _) => Actor::Auditor,
            (Role::Provider, Some(code)) => Actor::Provider(code),
            (Role::Provider, None) => unreachable!("a provider token always names its provider"),
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
}

impl Voucher {
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
    Accepted,
    Reversed,
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
}

impl Redemption {
    /// What still counts under the cap: the subsidy, or nothing once reversed.
    pub fn counted_subsidy(&self) -> Money {
        match self.status {
            RedemptionStatus::Accepted => self.subsidy,
            RedemptionStatus::Reversed => Money::ZERO,
        }
    }

    pub fn cap_year(&self) -> i32 {
        self.invoice.date.year()
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

/// A program's totals over every enterprise in one cap period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramTotals {
    /// Enterprises with a cap account in the period.
    pub enterprises: u64,
    /// Vouchers issued in the period, whatever became of them.
    pub vouchers: u64,
    pub committed: Total,
    /// Net of reversals.
    pub redeemed: Total,
    /// Subsidy given back by reversals.
    pub reversed: Total,
    /// Redemptions accepted, reversed ones included.
    pub redemptions: u64,
}

/// One provider's redemptions under one program in one cap period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderTotals {
    /// Redemptions accepted, reversed ones included.
    pub redemptions: u64,
    /// Net of reversals.
    pub redeemed: Total,
    pub reversed: Total,
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
}
