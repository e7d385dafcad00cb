//! Deciding a redemption and its reversal: the checks a claim passes, in the order they run
//! (see `decide.rs` for the order as a list), and the subsidy it is granted.

use chrono::NaiveDate;

use super::decide::{Decision, check_active, outside_term};
use super::{Ledger, Target, unknown_credit_code};
use crate::domain::command::RedeemCommand;
use crate::domain::dates::Clock;
use crate::domain::error::LedgerError;
use crate::domain::event::Event;
use crate::domain::ids::RedemptionId;
use crate::domain::model::{
    Actor, CapAccount, Evidence, Provider, Redemption, RedemptionStatus, Voucher,
};
use crate::domain::money::Money;
use crate::domain::policy::ProgramRules;
use crate::domain::reason::ReasonCode;
use crate::domain::text::Reason;

impl Ledger {
    pub(super) fn decide_redeem(&self, command: &RedeemCommand, clock: Clock) -> Decision {
        let mut corrects = None;
        if let Some(existing_id) = self.redemption_by_invoice.get(&command.invoice.number) {
            match self.returned_for_correction(*existing_id, command) {
                Some(returned) => corrects = Some(returned),
                None => return self.replay_redeem(*existing_id, command),
            }
        }
        let voucher = self.voucher_held_by(command.voucher_id, command.enterprise_credit_code)?;
        if !voucher.admits_provider(&command.provider_credit_code) {
            // A voucher bound to other providers answers as one that does not exist.
            return Err(super::settle::no_voucher(
                command.voucher_id,
                command.enterprise_credit_code,
            ));
        }
        let provider = self
            .providers
            .get(&command.provider_credit_code)
            .ok_or_else(|| {
                unknown_credit_code(
                    &command.provider_credit_code,
                    "provider_credit_code",
                    "provider",
                )
            })?;
        check_parties(voucher, provider)?;
        check_not_suspended(provider)?;
        check_active(voucher, clock.today)?;
        self.check_not_related(provider.credit_code, command.enterprise_credit_code)?;
        self.check_dates(voucher, command.invoice.date, clock.today)?;
        let rules = self.policy.program(voucher.program)?;
        check_evidence(rules, &command.evidence)?;
        let computed_subsidy = nonzero_subsidy(rules, command.invoice.amount)?;
        let account = self
            .cap_accounts
            .get(&voucher.cap_key())
            .expect("an issued voucher has an account");
        let subsidy = grant(
            rules,
            account,
            voucher,
            computed_subsidy,
            command.allow_partial,
        )?;
        let mut redemption =
            self.accepted_redemption(command, voucher, computed_subsidy, subsidy, clock);
        redemption.corrects = corrects;
        let target = Target::Redemption(redemption.redemption_id);
        Ok((vec![Event::RedemptionAccepted { redemption }], target))
    }

    /// The claim as accepted: what the command asked, what the rules granted, nothing reviewed.
    fn accepted_redemption(
        &self,
        command: &RedeemCommand,
        voucher: &Voucher,
        computed_subsidy: Money,
        subsidy: Money,
        clock: Clock,
    ) -> Redemption {
        Redemption {
            redemption_id: self
                .last_redemption_id
                .map_or(RedemptionId::FIRST, RedemptionId::next),
            voucher_id: voucher.voucher_id,
            program: voucher.program,
            enterprise_credit_code: command.enterprise_credit_code,
            provider_credit_code: command.provider_credit_code,
            invoice: command.invoice.clone(),
            allow_partial: command.allow_partial,
            computed_subsidy,
            subsidy,
            status: RedemptionStatus::Accepted,
            redeemed_at: clock.now,
            reversal_reason: None,
            reversed_at: None,
            reversed_by: None,
            evidence: command.evidence.clone(),
            approved_at: None,
            rejection_reason: None,
            rejected_at: None,
            settlement_id: None,
            corrects: None,
            confirmed_at: None,
            closing_reason: None,
            closed_at: None,
            steps: Default::default(),
        }
    }

    /// The claim `command` corrects: the invoice's claim, returned by the bureau, made by the
    /// same provider for the same enterprise, and asked for differently (the same payload
    /// again is a retry of the returned claim, answered with it).
    fn returned_for_correction(
        &self,
        existing_id: RedemptionId,
        command: &RedeemCommand,
    ) -> Option<RedemptionId> {
        let existing = self
            .redemptions
            .get(&existing_id)
            .expect("invoice index points at a redemption");
        let correctable = existing.status == RedemptionStatus::Returned
            && existing.provider_credit_code == command.provider_credit_code
            && existing.enterprise_credit_code == command.enterprise_credit_code
            && !same_claim(existing, command);
        correctable.then_some(existing_id)
    }

    /// The same invoice again: the first redemption if the payload is the same, else a conflict.
    fn replay_redeem(&self, existing_id: RedemptionId, command: &RedeemCommand) -> Decision {
        let existing = self
            .redemptions
            .get(&existing_id)
            .expect("invoice index points at a redemption");
        let same_provider = existing.provider_credit_code == command.provider_credit_code;
        if same_claim(existing, command) {
            return Ok((Vec::new(), Target::Redemption(existing_id)));
        }
        // Another provider's claim id is not the caller's to know.
        let which = if same_provider {
            format!(" as {existing_id}")
        } else {
            String::new()
        };
        Err(LedgerError::already_exists(
            ReasonCode::InvoiceAlreadyRedeemed,
            format!(
                "invoice {} was already redeemed{which}; an invoice is subsidised once, ever",
                command.invoice.number
            ),
        ))
    }

    /// The invoice's date against the policy term, today, and the voucher's validity; the
    /// voucher is known to be active.
    fn check_dates(
        &self,
        voucher: &Voucher,
        invoice_date: NaiveDate,
        today: NaiveDate,
    ) -> Result<(), LedgerError> {
        assert!(
            voucher.is_active() && today <= voucher.redeem_by,
            "checked before the dates"
        );
        if !self.policy.term.contains(invoice_date) {
            return Err(outside_term("invoice_date", invoice_date, self.policy.term));
        }
        if invoice_date > today {
            return Err(LedgerError::refused(
                ReasonCode::InvoiceDateInFuture,
                format!("invoice date {invoice_date} is after today ({today}, China time)"),
            ));
        }
        if !voucher.validity.contains(invoice_date) {
            return Err(LedgerError::refused(
                ReasonCode::InvoiceDateOutsideValidity,
                format!(
                    "invoice date {invoice_date} is outside voucher {}'s validity {} to {}",
                    voucher.voucher_id, voucher.validity.first, voucher.validity.last
                ),
            ));
        }
        Ok(())
    }

    pub(super) fn decide_reverse(
        &self,
        redemption_id: RedemptionId,
        reason: &Reason,
        actor: Actor,
        clock: Clock,
    ) -> Decision {
        let redemption = self.known_redemption(redemption_id)?;
        match actor {
            Actor::Bureau => {}
            Actor::Provider(code) if code == redemption.provider_credit_code => {}
            // Another provider's claim answers as a claim that does not exist.
            Actor::Provider(_) => return Err(super::settle::no_redemption(redemption_id)),
            Actor::Auditor | Actor::Enterprise(_) | Actor::Finance => {
                return Err(LedgerError::permission_denied(format!(
                    "only the bureau or the provider that made it may reverse {redemption_id}"
                )));
            }
        }
        match (redemption.status, actor) {
            (RedemptionStatus::Reversed, _) => {
                return Ok((Vec::new(), Target::Redemption(redemption_id)));
            }
            (
                RedemptionStatus::Rejected
                | RedemptionStatus::Disputed
                | RedemptionStatus::Returned,
                _,
            ) => {
                return Err(LedgerError::refused(
                    ReasonCode::RedemptionNotOpen,
                    format!(
                        "{redemption_id} was closed on review: its subsidy is already released"
                    ),
                ));
            }
            (RedemptionStatus::Settled, Actor::Provider(_)) => {
                return Err(LedgerError::permission_denied(format!(
                    "{redemption_id} is settled: only the bureau may claw it back"
                )));
            }
            _ => {}
        }
        let event = Event::RedemptionReversed {
            redemption_id,
            reason: reason.clone(),
            by: actor.role(),
            at: clock.now,
        };
        Ok((vec![event], Target::Redemption(redemption_id)))
    }
}

/// Whether `command` asks for exactly what `existing` claimed: then it is a retry.
fn same_claim(existing: &Redemption, command: &RedeemCommand) -> bool {
    existing.voucher_id == command.voucher_id
        && existing.provider_credit_code == command.provider_credit_code
        && existing.enterprise_credit_code == command.enterprise_credit_code
        && existing.invoice == command.invoice
        && existing.allow_partial == command.allow_partial
        && existing.evidence == command.evidence
}

/// Program and seller must fit the voucher (its holder is checked when it is looked up).
fn check_parties(voucher: &Voucher, provider: &Provider) -> Result<(), LedgerError> {
    let enterprise = voucher.enterprise_credit_code;
    if provider.program != voucher.program {
        return Err(LedgerError::refused(
            ReasonCode::ProgramMismatch,
            format!(
                "provider {} is registered for {}, voucher {} is {}",
                provider.credit_code, provider.program, voucher.voucher_id, voucher.program
            ),
        ));
    }
    if provider.credit_code == enterprise {
        return Err(LedgerError::refused(
            ReasonCode::SelfDealing,
            format!("provider {enterprise} may not redeem an invoice it issued to itself"),
        ));
    }
    Ok(())
}

/// A suspended provider's claims are refused, even when the bureau files them for it.
fn check_not_suspended(provider: &Provider) -> Result<(), LedgerError> {
    if provider.access.is_suspended() {
        return Err(LedgerError::refused(
            ReasonCode::ProviderSuspended,
            format!(
                "provider {} is suspended by the bureau",
                provider.credit_code
            ),
        ));
    }
    Ok(())
}

/// The subsidy the program's rate gives for the invoice; refused when it rounds to zero.
fn nonzero_subsidy(rules: &ProgramRules, invoice_amount: Money) -> Result<Money, LedgerError> {
    let computed_subsidy = rules.subsidy_for(invoice_amount);
    if computed_subsidy.is_zero() {
        return Err(LedgerError::InvalidArgument {
            field: "invoice_amount",
            reason: ReasonCode::SubsidyRoundsToZero,
            message: format!(
                "{} of {} rounds to 0.00",
                rules.rate.as_decimal(),
                invoice_amount
            ),
        });
    }
    Ok(computed_subsidy)
}

/// The subsidy granted: the computed one if it fits under the cap (checked first) and on the
/// voucher; with `allow_partial`, what is left of the smaller; otherwise a refusal that says
/// what is left.
fn grant(
    rules: &ProgramRules,
    account: &CapAccount,
    voucher: &Voucher,
    computed: Money,
    allow_partial: bool,
) -> Result<Money, LedgerError> {
    let cap_left = rules.cap.saturating_sub(account.redeemed);
    let voucher_left = voucher.remaining();
    let granted = computed.min(cap_left).min(voucher_left);
    if granted == computed || (allow_partial && !granted.is_zero()) {
        debug_assert!(granted <= computed && granted <= cap_left && granted <= voucher_left);
        return Ok(granted);
    }
    // The provider asking is not the enterprise: it is told that the claim does not fit, never
    // what the enterprise has left (`allow_partial` claims whatever is left instead).
    if computed > cap_left {
        return Err(LedgerError::refused(
            ReasonCode::CapExceeded,
            format!(
                "subsidy {} would pass the enterprise's {} cap {} for {} to {}",
                computed.to_grouped_string(),
                rules.name,
                rules.cap.to_grouped_string(),
                account.period.first,
                account.period.last,
            ),
        ));
    }
    Err(LedgerError::refused(
        ReasonCode::VoucherBalanceExceeded,
        format!(
            "subsidy {} is more than voucher {} has left",
            computed.to_grouped_string(),
            voucher.voucher_id,
        ),
    ))
}

/// Every document kind the program's policy requires is among the claim's evidence.
fn check_evidence(rules: &ProgramRules, evidence: &[Evidence]) -> Result<(), LedgerError> {
    let missing: Vec<&str> = rules
        .required_evidence
        .iter()
        .filter(|kind| !evidence.iter().any(|document| document.kind == **kind))
        .map(|kind| kind.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(LedgerError::refused(
        ReasonCode::EvidenceRequired,
        format!(
            "{} claims must carry evidence of kind: {}",
            rules.name,
            missing.join(", ")
        ),
    ))
}
