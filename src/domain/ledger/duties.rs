//! Who may do what, beyond the role (issue 15): a bureau token scoped to programs acts only in
//! them and cannot make or revoke a token wider than itself; the finance bureau only records
//! payments; with the policy's `separation_of_duties`, payments are the finance bureau's alone,
//! a claim is approved by another token than the one that filed it for its provider, and a
//! statement is made by another token than any that approved its claims. And, once an event is
//! applied, the records it touched note who caused it.

use std::collections::BTreeSet;

use super::Ledger;
use super::settle::SETTLEMENT_LINES_MAX;
use crate::domain::command::Command;
use crate::domain::credit_code::CreditCode;
use crate::domain::error::LedgerError;
use crate::domain::event::Event;
use crate::domain::ids::TokenId;
use crate::domain::model::{Actor, Caller, EventCause, Role};
use crate::domain::policy::ProgramCode;

impl Ledger {
    /// Fails when `caller` may not submit `command`, before anything is decided.
    pub(super) fn check_duties(
        &self,
        command: &Command,
        caller: &Caller,
    ) -> Result<(), LedgerError> {
        if caller.actor == Actor::Finance
            && !matches!(command, Command::RecordSettlementPayment { .. })
        {
            return Err(LedgerError::permission_denied(
                "the finance bureau records payments; it does not issue, review or settle",
            ));
        }
        if !caller.programs.is_empty() {
            self.check_scope(command, caller)?;
        }
        if self.policy.separation_of_duties {
            self.check_separation(command, caller)?;
        }
        Ok(())
    }

    fn check_scope(&self, command: &Command, caller: &Caller) -> Result<(), LedgerError> {
        match command {
            Command::CreateToken {
                role,
                provider_credit_code,
                ..
            } => self.check_token_within(caller, *role, *provider_credit_code, command),
            Command::RevokeToken { token_id } => self.check_revoke_within(caller, *token_id),
            _ => match self.program_of(command) {
                Some(program) if !caller.acts_in(program) => Err(outside_scope(program, caller)),
                _ => Ok(()),
            },
        }
    }

    /// The program a command acts in, when the record it names exists (a command naming
    /// nothing that exists is left to the rules, which answer NOT_FOUND).
    fn program_of(&self, command: &Command) -> Option<ProgramCode> {
        let voucher = |id| self.vouchers.get(id).map(|voucher| voucher.program);
        let claim = |id| self.redemptions.get(id).map(|claim| claim.program);
        let provider = |code| self.providers.get(code).map(|provider| provider.program);
        match command {
            Command::RegisterProvider { program, .. } => Some(*program),
            Command::IssueVoucher(request) => Some(request.program),
            Command::CreateSettlement(request) => Some(request.program),
            Command::ApplyForVoucher(request) => Some(request.program),
            Command::PublishNotice(request) => Some(request.program),
            Command::RevokeVoucher { voucher_id, .. }
            | Command::ChangeVoucherProviders { voucher_id, .. } => voucher(voucher_id),
            Command::Redeem(redeem) => voucher(&redeem.voucher_id),
            Command::ReverseRedemption { redemption_id, .. }
            | Command::ApproveRedemption { redemption_id }
            | Command::RejectRedemption { redemption_id, .. }
            | Command::ReturnRedemption { redemption_id, .. }
            | Command::ConfirmRedemption { redemption_id, .. }
            | Command::DisputeRedemption { redemption_id, .. } => claim(redemption_id),
            Command::RecordSettlementPayment { settlement_id, .. } => self
                .settlements
                .get(settlement_id)
                .map(|settlement| settlement.program),
            Command::ApproveApplication { application_id, .. }
            | Command::RejectApplication { application_id, .. } => self
                .applications
                .get(application_id)
                .map(|application| application.program),
            Command::RecordRelatedParties {
                provider_credit_code,
                ..
            }
            | Command::SuspendProvider {
                provider_credit_code,
                ..
            }
            | Command::ReinstateProvider {
                provider_credit_code,
            }
            | Command::PinProviderCertificate {
                provider_credit_code,
                ..
            }
            | Command::RevokeProviderCertificate {
                provider_credit_code,
                ..
            } => provider(provider_credit_code),
            Command::RegisterEnterprise { .. }
            | Command::CreateToken { .. }
            | Command::RevokeToken { .. } => None,
        }
    }

    /// A scoped bureau token makes only tokens no wider than itself: bureau tokens within its
    /// programs, tokens of its programs' providers, and enterprises' tokens. Auditors and the
    /// finance bureau read every program: only an unscoped token makes theirs.
    fn check_token_within(
        &self,
        caller: &Caller,
        role: Role,
        provider: Option<CreditCode>,
        command: &Command,
    ) -> Result<(), LedgerError> {
        let programs = match command {
            Command::CreateToken { programs, .. } => programs,
            _ => unreachable!("checked only for CreateToken"),
        };
        let within = match role {
            Role::Bureau => !programs.is_empty() && programs.is_subset(&caller.programs),
            Role::Provider => provider
                .and_then(|code| self.providers.get(&code))
                .is_none_or(|provider| caller.acts_in(provider.program)),
            Role::Enterprise => true,
            Role::Auditor | Role::Finance => false,
        };
        if within {
            return Ok(());
        }
        Err(LedgerError::permission_denied(format!(
            "a token for {} cannot make a token wider than itself",
            programs_text(&caller.programs)
        )))
    }

    fn check_revoke_within(&self, caller: &Caller, token_id: TokenId) -> Result<(), LedgerError> {
        let Some(token) = self.tokens.get(&token_id) else {
            return Ok(());
        };
        let within = match token.role {
            Role::Bureau => {
                !token.programs.is_empty() && token.programs.is_subset(&caller.programs)
            }
            Role::Provider => token
                .provider_credit_code
                .and_then(|code| self.providers.get(&code))
                .is_none_or(|provider| caller.acts_in(provider.program)),
            Role::Enterprise => true,
            Role::Auditor | Role::Finance => false,
        };
        if within {
            return Ok(());
        }
        Err(LedgerError::permission_denied(format!(
            "a token for {} cannot revoke a token wider than itself",
            programs_text(&caller.programs)
        )))
    }

    fn check_separation(&self, command: &Command, caller: &Caller) -> Result<(), LedgerError> {
        let token = caller.cause.token_id();
        match command {
            Command::RecordSettlementPayment { .. }
                if !self.policy.records_payments(caller.actor.role()) =>
            {
                Err(LedgerError::permission_denied(
                    "with separation of duties, only the finance bureau records a payment",
                ))
            }
            Command::ApproveRedemption { redemption_id } => {
                let filed_by = self
                    .redemptions
                    .get(redemption_id)
                    .and_then(|claim| claim.steps.redeemed_by.token_id());
                if token.is_some() && filed_by == token {
                    return Err(LedgerError::permission_denied(format!(
                        "with separation of duties, {redemption_id} is approved by another token than the one that filed it"
                    )));
                }
                Ok(())
            }
            // A retry of a statement already made answers it, whoever approved since.
            Command::CreateSettlement(request)
                if token.is_some()
                    && !self.settlement_by_request.contains_key(&request.request_id) =>
            {
                let key = (request.provider_credit_code, request.program);
                let own = self
                    .gathered_lines(&key, request.up_to)
                    .take(SETTLEMENT_LINES_MAX)
                    .find(|id| {
                        self.redemptions
                            .get(id)
                            .and_then(|claim| claim.steps.approved_by.as_ref())
                            .and_then(EventCause::token_id)
                            == token
                    });
                match own {
                    Some(claim) => Err(LedgerError::permission_denied(format!(
                        "with separation of duties, a statement is made by another token than the one that approved {claim}"
                    ))),
                    None => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// Notes on the records `event` touched who caused it (the ledger already applied it).
    pub(super) fn note_cause(&mut self, event: &Event, cause: &EventCause) {
        if *cause == EventCause::Unrecorded {
            return;
        }
        let by = Some(cause.clone());
        match event {
            Event::VoucherIssued { voucher } => {
                self.voucher_mut(voucher.voucher_id).issued_by = cause.clone()
            }
            Event::VoucherRevoked { voucher_id, .. } | Event::VoucherExpired { voucher_id, .. } => {
                self.voucher_mut(*voucher_id).closed_by = by;
            }
            Event::RedemptionAccepted { redemption } => {
                self.claim_steps(redemption.redemption_id).redeemed_by = cause.clone();
            }
            Event::RedemptionApproved { redemption_id, .. } => {
                self.claim_steps(*redemption_id).approved_by = by;
            }
            Event::RedemptionRejected { redemption_id, .. }
            | Event::RedemptionDisputed { redemption_id, .. }
            | Event::RedemptionReturned { redemption_id, .. } => {
                self.claim_steps(*redemption_id).closed_by = by;
            }
            Event::RedemptionConfirmed { redemption_id, .. } => {
                self.claim_steps(*redemption_id).confirmed_by = by;
            }
            Event::RedemptionReversed { redemption_id, .. } => {
                self.claim_steps(*redemption_id).reversed_by = by;
            }
            _ => self.note_settlement_cause(event, cause),
        }
    }

    fn note_settlement_cause(&mut self, event: &Event, cause: &EventCause) {
        match event {
            Event::SettlementCreated { settlement } => {
                self.settlement_mut(settlement.settlement_id).created_by = cause.clone();
            }
            Event::SettlementPaid { settlement_id, .. } => {
                if let Some(payment) = &mut self.settlement_mut(*settlement_id).payment {
                    payment.recorded_by = cause.clone();
                }
            }
            Event::VoucherApplied { application } => {
                self.application_mut(application.application_id).applied_by = cause.clone();
            }
            Event::ApplicationApproved { application_id, .. }
            | Event::ApplicationRejected { application_id, .. } => {
                self.application_mut(*application_id).decided_by = Some(cause.clone());
            }
            _ => {}
        }
    }

    fn voucher_mut(
        &mut self,
        voucher_id: crate::domain::ids::VoucherId,
    ) -> &mut crate::domain::model::Voucher {
        self.vouchers
            .get_mut(&voucher_id)
            .expect("a voucher an event names exists")
    }

    fn settlement_mut(
        &mut self,
        settlement_id: crate::domain::ids::SettlementId,
    ) -> &mut crate::domain::model::Settlement {
        self.settlements
            .get_mut(&settlement_id)
            .expect("a settlement an event names exists")
    }

    fn claim_steps(
        &mut self,
        redemption_id: crate::domain::ids::RedemptionId,
    ) -> &mut crate::domain::model::ClaimSteps {
        &mut self
            .redemptions
            .get_mut(&redemption_id)
            .expect("a claim an event names was recalled")
            .steps
    }

    fn application_mut(
        &mut self,
        application_id: crate::domain::ids::ApplicationId,
    ) -> &mut crate::domain::model::VoucherApplication {
        self.applications
            .get_mut(&application_id)
            .expect("an application an event names exists")
    }
}

fn outside_scope(program: ProgramCode, caller: &Caller) -> LedgerError {
    LedgerError::permission_denied(format!(
        "this token acts in {} only, not in {program}",
        programs_text(&caller.programs)
    ))
}

fn programs_text(programs: &BTreeSet<ProgramCode>) -> String {
    programs
        .iter()
        .map(|program| program.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
