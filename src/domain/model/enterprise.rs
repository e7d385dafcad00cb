//! The enterprise's records (issue 14): its applications for vouchers, and the public notices
//! of approved claims.

use serde::{Deserialize, Serialize};

use super::{EventCause, Sha256Hex, Timestamp};
use crate::domain::credit_code::CreditCode;
use crate::domain::dates::DateRange;
use crate::domain::ids::{ApplicationId, NoticeId, RedemptionId, VoucherId};
use crate::domain::money::{Money, Total};
use crate::domain::policy::ProgramCode;
use crate::domain::text::{Description, Reason, Reference, RequestId};
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    /// Waiting for the bureau.
    Pending,
    /// A voucher was issued on it.
    Approved,
    /// Refused; its contract may be applied for again.
    Rejected,
}

/// An enterprise's application for a voucher (申领): what it asks for, under which contract,
/// with which providers, and what it declares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherApplication {
    pub application_id: ApplicationId,
    pub request_id: RequestId,
    pub enterprise_credit_code: CreditCode,
    pub program: ProgramCode,
    /// The face value asked for.
    pub amount: Money,
    /// The providers it chose from the pool; the voucher is bound to them.
    pub provider_credit_codes: BTreeSet<CreditCode>,
    pub contract_number: Reference,
    pub contract_sha256: Sha256Hex,
    /// The model trained or the scenario the robots serve ((七), (五)).
    pub purpose: Reason,
    /// Its declaration of other public funding for the same contract (不重复享受); empty: none.
    pub other_subsidies: Option<Description>,
    pub status: ApplicationStatus,
    pub applied_at: Timestamp,
    pub decided_at: Option<Timestamp>,
    pub voucher_id: Option<VoucherId>,
    pub rejection_reason: Option<Reason>,
    #[serde(default)]
    pub applied_by: EventCause,
    #[serde(default)]
    pub decided_by: Option<EventCause>,
}

impl VoucherApplication {
    /// Whether it holds its contract: one live application per contract and program.
    pub fn is_live(&self) -> bool {
        self.status != ApplicationStatus::Rejected
    }
}

/// A public notice (公示) of a program's approved claims in a period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicNotice {
    pub notice_id: NoticeId,
    pub program: ProgramCode,
    /// Claims approved on these days (China time) are in it.
    pub approved_in: DateRange,
    /// The days the notice is posted.
    pub posted: DateRange,
    /// The claims, in id order.
    pub redemption_ids: Vec<RedemptionId>,
    pub total: Total,
    pub published_at: Timestamp,
}
