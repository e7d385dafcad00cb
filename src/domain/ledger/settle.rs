//! From claim to payment: the bureau's review, settlement statements with clawbacks netted,
//! the record of a statement's payment, and related parties. Rules only; `apply.rs` changes
//! the state.

use crate::domain::reason::ReasonCode;
use chrono::NaiveDate;

use super::{Decision, Ledger, Target, unknown_credit_code};
use crate::domain::command::SettlementRequest;
use crate::domain::credit_code::CreditCode;
use crate::domain::dates::Clock;
use crate::domain::error::LedgerError;
use crate::domain::event::Event;
use crate::domain::ids::{RedemptionId, SettlementId, VoucherId};
use crate::domain::model::{
    Redemption, RedemptionStatus, RelatedParties, Settlement, SettlementPayment, Voucher,
};
use crate::domain::money::Total;
use crate::domain::text::{Reason, Reference};

/// The most claims (and, separately, clawbacks) one statement carries; the rest wait for the
/// next one (`more_pending`). It bounds the statement's event and record.
pub const SETTLEMENT_LINES_MAX: usize = 2000;

impl Ledger {
    pub(super) fn decide_approve(&self, redemption_id: RedemptionId, clock: Clock) -> Decision {
        let redemption = self.known_redemption(redemption_id)?;
        match redemption.status {
            RedemptionStatus::Approved | RedemptionStatus::Settled => {
                Ok((Vec::new(), Target::Redemption(redemption_id)))
            }
            RedemptionStatus::Accepted => {
                self.check_confirmed(redemption)?;
                Ok((
                    vec![Event::RedemptionApproved {
                        redemption_id,
                        at: clock.now,
                    }],
                    Target::Redemption(redemption_id),
                ))
            }
            RedemptionStatus::Rejected
            | RedemptionStatus::Reversed
            | RedemptionStatus::Disputed
            | RedemptionStatus::Returned => Err(not_open(redemption, "approved")),
        }
    }

    pub(super) fn decide_reject(
        &self,
        redemption_id: RedemptionId,
        reason: &Reason,
        clock: Clock,
    ) -> Decision {
        let redemption = self.known_redemption(redemption_id)?;
        match redemption.status {
            RedemptionStatus::Rejected => Ok((Vec::new(), Target::Redemption(redemption_id))),
            RedemptionStatus::Accepted | RedemptionStatus::Approved => Ok((
                vec![Event::RedemptionRejected {
                    redemption_id,
                    reason: reason.clone(),
                    at: clock.now,
                }],
                Target::Redemption(redemption_id),
            )),
            RedemptionStatus::Settled
            | RedemptionStatus::Reversed
            | RedemptionStatus::Disputed
            | RedemptionStatus::Returned => Err(not_open(redemption, "rejected")),
        }
    }

    /// Gathers the provider's approved claims under the program with invoices up to the date,
    /// in the order they were claimed (redemption id), and nets every clawback booked against it.
    pub(super) fn decide_settlement(&self, request: &SettlementRequest, clock: Clock) -> Decision {
        if let Some(settlement_id) = self.settlement_by_request.get(&request.request_id) {
            return self.replay_settlement(*settlement_id, request);
        }
        let provider = self
            .providers
            .get(&request.provider_credit_code)
            .ok_or_else(|| {
                unknown_credit_code(
                    &request.provider_credit_code,
                    "provider_credit_code",
                    "provider",
                )
            })?;
        self.policy.program(request.program)?;
        if provider.program != request.program {
            return Err(LedgerError::refused(
                ReasonCode::ProgramMismatch,
                format!(
                    "provider {} is registered for {}, not {}",
                    provider.credit_code, provider.program, request.program
                ),
            ));
        }
        let key = (request.provider_credit_code, request.program);
        // One more than a statement holds, to know whether claims are left for the next one,
        // without gathering every approved claim the provider has.
        let mut lines: Vec<RedemptionId> = self.gathered_lines(&key, request.up_to).collect();
        let lines_pending = lines.len() > SETTLEMENT_LINES_MAX;
        lines.truncate(SETTLEMENT_LINES_MAX);
        let clawbacks = self.netted_clawbacks(&key).to_vec();
        if lines.is_empty() && clawbacks.is_empty() {
            return Err(LedgerError::refused(
                ReasonCode::NothingToSettle,
                format!(
                    "provider {} has no approved {} claim up to {} and nothing to claw back",
                    provider.credit_code, request.program, request.up_to
                ),
            ));
        }
        let settlement = Settlement {
            settlement_id: self
                .last_settlement_id
                .map_or(SettlementId::FIRST, SettlementId::next),
            request_id: request.request_id.clone(),
            provider_credit_code: request.provider_credit_code,
            program: request.program,
            up_to: request.up_to,
            gross: lines.iter().fold(Total::ZERO, |sum, id| {
                sum.plus(self.redemptions[id].subsidy)
            }),
            redemption_ids: lines,
            clawed_back: clawbacks
                .iter()
                .fold(Total::ZERO, |sum, clawback| sum.plus(clawback.amount)),
            clawbacks,
            created_at: clock.now,
            made_on: clock.today,
            payment: None,
            more_pending: lines_pending
                || self.receivables(&key.0, key.1).len() > SETTLEMENT_LINES_MAX,
            created_by: Default::default(),
        };
        let target = Target::Settlement(settlement.settlement_id);
        Ok((vec![Event::SettlementCreated { settlement }], target))
    }

    fn replay_settlement(
        &self,
        settlement_id: SettlementId,
        request: &SettlementRequest,
    ) -> Decision {
        let existing = &self.settlements[&settlement_id];
        let same = existing.provider_credit_code == request.provider_credit_code
            && existing.program == request.program
            && existing.up_to == request.up_to;
        if same {
            return Ok((Vec::new(), Target::Settlement(settlement_id)));
        }
        Err(LedgerError::already_exists(
            ReasonCode::RequestIdReused,
            format!(
                "request_id {} was used for settlement {settlement_id} with another request",
                request.request_id
            ),
        ))
    }

    /// Records that a statement's net was paid. The same payment again answers the statement;
    /// another payment of a paid statement is refused, so a statement is paid once.
    pub(super) fn decide_payment(
        &self,
        settlement_id: SettlementId,
        bank_reference: &Reference,
        paid_on: NaiveDate,
        clock: Clock,
    ) -> Decision {
        let settlement = self.settlements.get(&settlement_id).ok_or_else(|| {
            LedgerError::not_found("settlement_id", format!("no settlement {settlement_id}"))
        })?;
        if let Some(payment) = &settlement.payment {
            if payment.bank_reference == *bank_reference && payment.paid_on == paid_on {
                return Ok((Vec::new(), Target::Settlement(settlement_id)));
            }
            return Err(LedgerError::already_exists(
                ReasonCode::SettlementAlreadyPaid,
                format!(
                    "settlement {settlement_id} was paid on {} with bank reference {}",
                    payment.paid_on, payment.bank_reference
                ),
            ));
        }
        let made_on = settlement.made_on;
        if !settlement.may_be_paid_on(paid_on, clock.today) {
            return Err(LedgerError::refused(
                ReasonCode::PaymentDateOutOfRange,
                format!(
                    "paid_on {paid_on} must be between the day settlement {settlement_id} was \
                     made ({made_on}) and today ({})",
                    clock.today
                ),
            ));
        }
        let payment = SettlementPayment {
            bank_reference: bank_reference.clone(),
            paid_on,
            recorded_at: clock.now,
            recorded_by: Default::default(),
        };
        Ok((
            vec![Event::SettlementPaid {
                settlement_id,
                payment,
            }],
            Target::Settlement(settlement_id),
        ))
    }

    pub(super) fn decide_related_parties(
        &self,
        provider: CreditCode,
        enterprise: CreditCode,
        reason: &Reason,
        clock: Clock,
    ) -> Decision {
        if !self.providers.contains_key(&provider) {
            return Err(unknown_credit_code(
                &provider,
                "provider_credit_code",
                "provider",
            ));
        }
        if !self.enterprises.contains_key(&enterprise) {
            return Err(unknown_credit_code(
                &enterprise,
                "enterprise_credit_code",
                "enterprise",
            ));
        }
        if self.related_parties.contains_key(&(provider, enterprise)) {
            return Ok((Vec::new(), Target::RelatedParties(provider, enterprise)));
        }
        let parties = RelatedParties {
            provider_credit_code: provider,
            enterprise_credit_code: enterprise,
            reason: reason.clone(),
            recorded_at: clock.now,
        };
        Ok((
            vec![Event::RelatedPartiesRecorded { parties }],
            Target::RelatedParties(provider, enterprise),
        ))
    }

    /// No redemption between parties the bureau found related.
    pub(super) fn check_not_related(
        &self,
        provider: CreditCode,
        enterprise: CreditCode,
    ) -> Result<(), LedgerError> {
        match self.related_parties.get(&(provider, enterprise)) {
            None => Ok(()),
            // The bureau's reason is its own finding about the provider: not shown to it.
            Some(_) => Err(LedgerError::refused(
                ReasonCode::RelatedParty,
                format!(
                    "provider {provider} and enterprise {enterprise} are recorded as related parties (关联方); the bureau has the details"
                ),
            )),
        }
    }

    pub(super) fn known_redemption(
        &self,
        redemption_id: RedemptionId,
    ) -> Result<&Redemption, LedgerError> {
        self.redemptions
            .get(&redemption_id)
            .ok_or_else(|| no_redemption(redemption_id))
    }

    /// The voucher, if `enterprise` holds it. A voucher someone else holds answers exactly as
    /// one that does not exist: a provider learns nothing of other enterprises' vouchers.
    pub(super) fn voucher_held_by(
        &self,
        voucher_id: VoucherId,
        enterprise: CreditCode,
    ) -> Result<&Voucher, LedgerError> {
        self.vouchers
            .get(&voucher_id)
            .filter(|voucher| voucher.enterprise_credit_code == enterprise)
            .ok_or_else(|| no_voucher(voucher_id, enterprise))
    }
}

/// The answer for a voucher the enterprise does not hold, or that the caller may not redeem:
/// it names only what the caller sent.
pub(super) fn no_voucher(voucher_id: VoucherId, enterprise: CreditCode) -> LedgerError {
    LedgerError::not_found(
        "voucher_id",
        format!("enterprise {enterprise} holds no voucher {voucher_id}"),
    )
}

/// The answer for a claim that does not exist, or that is not the caller's to see.
pub(super) fn no_redemption(redemption_id: RedemptionId) -> LedgerError {
    LedgerError::not_found("redemption_id", format!("no redemption {redemption_id}"))
}

pub(super) fn not_open(redemption: &Redemption, what: &str) -> LedgerError {
    LedgerError::refused(
        ReasonCode::RedemptionNotOpen,
        format!(
            "{} is {} and cannot be {what}",
            redemption.redemption_id,
            format!("{:?}", redemption.status).to_lowercase()
        ),
    )
}
