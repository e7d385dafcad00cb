//! Events: the facts the ledger records. Every state change is one or more events; replaying
//! them from the first gives back every balance (see `Ledger::apply`).
//!
//! Events carry the whole outcome of a decision (the computed subsidy, the defaulted dates), so
//! replay never re-decides anything and does not depend on the policy file in force.

use serde::{Deserialize, Serialize};

use super::credit_code::CreditCode;
use std::collections::BTreeSet;

use super::ids::{ApplicationId, RedemptionId, SettlementId, TokenId, VoucherId};
use super::model::{
    Enterprise, EventCause, Provider, PublicNotice, Redemption, RelatedParties, Role, Settlement,
    SettlementPayment, Sha256Hex, Timestamp, Token, Voucher, VoucherApplication,
};
use super::text::Reason;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The server started with these rules (recorded when they differ from the last ones).
    PolicyAdopted {
        name: String,
        document: String,
        fingerprint: String,
        at: Timestamp,
    },
    EnterpriseRegistered {
        enterprise: Enterprise,
    },
    ProviderRegistered {
        provider: Provider,
    },
    TokenCreated {
        token: Token,
    },
    TokenRevoked {
        token_id: TokenId,
        at: Timestamp,
    },
    VoucherIssued {
        voucher: Voucher,
    },
    VoucherRevoked {
        voucher_id: VoucherId,
        reason: Reason,
        at: Timestamp,
    },
    /// The voucher's redemption deadline passed; its remainder is released.
    VoucherExpired {
        voucher_id: VoucherId,
        at: Timestamp,
    },
    RedemptionAccepted {
        redemption: Redemption,
    },
    /// The bureau approved a claim on review.
    RedemptionApproved {
        redemption_id: RedemptionId,
        at: Timestamp,
    },
    /// The bureau rejected a claim on review; its subsidy is released.
    RedemptionRejected {
        redemption_id: RedemptionId,
        reason: Reason,
        at: Timestamp,
    },
    /// A statement settled these approved claims and netted these clawbacks.
    SettlementCreated {
        settlement: Settlement,
    },
    RelatedPartiesRecorded {
        parties: RelatedParties,
    },
    /// The bureau recorded that a statement's net was paid.
    SettlementPaid {
        settlement_id: SettlementId,
        payment: SettlementPayment,
    },
    /// A reversal; of a settled redemption, a clawback the provider's next statement nets.
    RedemptionReversed {
        redemption_id: RedemptionId,
        reason: Reason,
        by: Role,
        at: Timestamp,
    },
    /// The bureau suspended a provider: nothing it asks is accepted until it is reinstated.
    /// Event format 3 on.
    ProviderSuspended {
        provider_credit_code: CreditCode,
        reason: Reason,
        at: Timestamp,
    },
    /// The bureau lifted a provider's suspension. Event format 3 on.
    ProviderReinstated {
        provider_credit_code: CreditCode,
        at: Timestamp,
    },
    /// From now on only pinned certificates identify the provider. Event format 3 on.
    ProviderCertificatePinned {
        provider_credit_code: CreditCode,
        certificate_sha256: Sha256Hex,
        at: Timestamp,
    },
    /// This certificate never identifies the provider again. Event format 3 on.
    ProviderCertificateRevoked {
        provider_credit_code: CreditCode,
        certificate_sha256: Sha256Hex,
        at: Timestamp,
    },
    /// An enterprise applied for a voucher (申领). Event format 4 on.
    VoucherApplied {
        application: VoucherApplication,
    },
    /// The bureau approved an application; the `VoucherIssued` that follows in the same batch
    /// is its voucher. Event format 4 on.
    ApplicationApproved {
        application_id: ApplicationId,
        voucher_id: VoucherId,
        at: Timestamp,
    },
    /// The bureau refused an application; its contract may be applied for again. Event format
    /// 4 on.
    ApplicationRejected {
        application_id: ApplicationId,
        reason: Reason,
        at: Timestamp,
    },
    /// The bureau changed which providers may redeem a voucher, at the enterprise's request.
    /// Event format 4 on.
    VoucherProvidersChanged {
        voucher_id: VoucherId,
        provider_credit_codes: BTreeSet<CreditCode>,
        reason: Reason,
        at: Timestamp,
    },
    /// The enterprise confirmed a claim made in its name (企业确认). Event format 4 on.
    RedemptionConfirmed {
        redemption_id: RedemptionId,
        at: Timestamp,
    },
    /// The enterprise disputed a claim made in its name: closed, its subsidy released. Event
    /// format 4 on.
    RedemptionDisputed {
        redemption_id: RedemptionId,
        reason: Reason,
        at: Timestamp,
    },
    /// The bureau returned a claim for correction (退回补正): closed, its subsidy released, its
    /// invoice free for one corrected claim. Event format 4 on.
    RedemptionReturned {
        redemption_id: RedemptionId,
        reason: Reason,
        at: Timestamp,
    },
    /// The bureau published a notice (公示) of approved claims. Event format 4 on.
    NoticePublished {
        notice: PublicNotice,
    },
}

impl Event {
    pub fn name(&self) -> &'static str {
        match self {
            Event::PolicyAdopted { .. } => "policy_adopted",
            Event::EnterpriseRegistered { .. } => "enterprise_registered",
            Event::ProviderRegistered { .. } => "provider_registered",
            Event::TokenCreated { .. } => "token_created",
            Event::TokenRevoked { .. } => "token_revoked",
            Event::VoucherIssued { .. } => "voucher_issued",
            Event::VoucherRevoked { .. } => "voucher_revoked",
            Event::VoucherExpired { .. } => "voucher_expired",
            Event::RedemptionAccepted { .. } => "redemption_accepted",
            Event::RedemptionReversed { .. } => "redemption_reversed",
            Event::RedemptionApproved { .. } => "redemption_approved",
            Event::RedemptionRejected { .. } => "redemption_rejected",
            Event::SettlementCreated { .. } => "settlement_created",
            Event::RelatedPartiesRecorded { .. } => "related_parties_recorded",
            Event::SettlementPaid { .. } => "settlement_paid",
            Event::ProviderSuspended { .. } => "provider_suspended",
            Event::ProviderReinstated { .. } => "provider_reinstated",
            Event::ProviderCertificatePinned { .. } => "provider_certificate_pinned",
            Event::ProviderCertificateRevoked { .. } => "provider_certificate_revoked",
            Event::VoucherApplied { .. } => "voucher_applied",
            Event::ApplicationApproved { .. } => "application_approved",
            Event::ApplicationRejected { .. } => "application_rejected",
            Event::VoucherProvidersChanged { .. } => "voucher_providers_changed",
            Event::RedemptionConfirmed { .. } => "redemption_confirmed",
            Event::RedemptionDisputed { .. } => "redemption_disputed",
            Event::RedemptionReturned { .. } => "redemption_returned",
            Event::NoticePublished { .. } => "notice_published",
        }
    }
}

impl AsRef<Event> for Event {
    fn as_ref(&self) -> &Event {
        self
    }
}

impl AsRef<Event> for LoggedEvent {
    fn as_ref(&self) -> &Event {
        &self.event
    }
}

/// An event with who caused it, as the log records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedEvent {
    pub event: Event,
    pub cause: EventCause,
}

impl Event {
    /// The records it touched, as their ids (`V…`, `R…`, `S…`, `A…`, `N…`, `T…`) and credit
    /// codes: what an auditor asks the history of.
    pub fn record_ids(&self) -> Vec<String> {
        match self {
            Event::PolicyAdopted { .. } => Vec::new(),
            Event::EnterpriseRegistered { enterprise } => vec![enterprise.credit_code.to_string()],
            Event::ProviderRegistered { provider } => vec![provider.credit_code.to_string()],
            Event::TokenCreated { token } => vec![token.token_id.to_string()],
            Event::TokenRevoked { token_id, .. } => vec![token_id.to_string()],
            Event::VoucherIssued { voucher } => vec![
                voucher.voucher_id.to_string(),
                voucher.enterprise_credit_code.to_string(),
            ],
            Event::VoucherRevoked { voucher_id, .. }
            | Event::VoucherExpired { voucher_id, .. }
            | Event::VoucherProvidersChanged { voucher_id, .. } => vec![voucher_id.to_string()],
            Event::RedemptionAccepted { redemption } => vec![
                redemption.redemption_id.to_string(),
                redemption.voucher_id.to_string(),
                redemption.enterprise_credit_code.to_string(),
                redemption.provider_credit_code.to_string(),
            ],
            Event::RedemptionApproved { redemption_id, .. }
            | Event::RedemptionRejected { redemption_id, .. }
            | Event::RedemptionReversed { redemption_id, .. }
            | Event::RedemptionConfirmed { redemption_id, .. }
            | Event::RedemptionDisputed { redemption_id, .. }
            | Event::RedemptionReturned { redemption_id, .. } => vec![redemption_id.to_string()],
            _ => self.other_record_ids(),
        }
    }

    fn other_record_ids(&self) -> Vec<String> {
        match self {
            Event::SettlementCreated { settlement } => {
                std::iter::once(settlement.settlement_id.to_string())
                    .chain(std::iter::once(settlement.provider_credit_code.to_string()))
                    .chain(settlement.redemption_ids.iter().map(ToString::to_string))
                    .chain(
                        settlement
                            .clawbacks
                            .iter()
                            .map(|c| c.redemption_id.to_string()),
                    )
                    .collect()
            }
            Event::SettlementPaid { settlement_id, .. } => vec![settlement_id.to_string()],
            Event::RelatedPartiesRecorded { parties } => vec![
                parties.provider_credit_code.to_string(),
                parties.enterprise_credit_code.to_string(),
            ],
            Event::ProviderSuspended {
                provider_credit_code,
                ..
            }
            | Event::ProviderReinstated {
                provider_credit_code,
                ..
            }
            | Event::ProviderCertificatePinned {
                provider_credit_code,
                ..
            }
            | Event::ProviderCertificateRevoked {
                provider_credit_code,
                ..
            } => {
                vec![provider_credit_code.to_string()]
            }
            Event::VoucherApplied { application } => vec![
                application.application_id.to_string(),
                application.enterprise_credit_code.to_string(),
            ],
            Event::ApplicationApproved {
                application_id,
                voucher_id,
                ..
            } => vec![application_id.to_string(), voucher_id.to_string()],
            Event::ApplicationRejected { application_id, .. } => vec![application_id.to_string()],
            Event::NoticePublished { notice } => std::iter::once(notice.notice_id.to_string())
                .chain(notice.redemption_ids.iter().map(ToString::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }
}
