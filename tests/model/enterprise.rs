//! Resolving the ops of the enterprise's part (issue 14) against the model's state, one
//! function per command, as `runner.rs` does the others: an enterprise applying for a voucher
//! and the bureau deciding, an enterprise confirming or disputing a claim, the bureau
//! returning one or changing a voucher's providers, and the provider correcting a returned
//! claim.

use voucher_ledger::domain::command::Command;
use voucher_ledger::domain::model::RedemptionStatus;

use crate::callers::Who;
use crate::harness::{
    application_id, apply_command, code, reason, redeem_command, redemption_id, voucher_id, yuan,
};
use crate::ops::{ApplicationPayload, Bound, Change, Claimant, Op, Which, next_enterprise};
use crate::rules::{COMPUTE_PROVIDER, ENTERPRISES};
use crate::runner::{Asked, Runner};
use crate::values::{application_id_text, redemption_id_text, voucher_id_text};

const DISPUTE_REASON: &str = "企业异议: we bought nothing from this provider";
const RETURN_REASON: &str = "退回补正: the invoice amount differs from the contract";
const REJECTION_REASON: &str = "the contract is for another scenario";

impl Runner {
    /// The enterprise that confirms or disputes claim `number`: the one it was made for (the
    /// first enterprise when there is no such claim), or the next.
    fn claimant(&self, number: u64, by: Claimant) -> &'static str {
        let own = self
            .model
            .redemption_index(number)
            .map_or(ENTERPRISES[0], |index| {
                self.model.redemptions[index].payload.buyer
            });
        match by {
            Claimant::Own => own,
            Claimant::Another => next_enterprise(own),
        }
    }

    pub fn confirm(&mut self, redemption: Which, by: Claimant) -> Asked {
        let number = self.model.pick_redemption(redemption);
        let enterprise = self.claimant(number, by);
        let by = self.caller(Who::Enterprise(enterprise));
        Asked::command(
            format!("{} confirmed by {enterprise}", redemption_id_text(number)),
            self.model.confirm(number, enterprise, by),
            Command::ConfirmRedemption {
                redemption_id: redemption_id(number),
                enterprise_credit_code: code(enterprise),
            },
            by,
        )
    }

    pub fn dispute(&mut self, redemption: Which, by: Claimant) -> Asked {
        let number = self.model.pick_redemption(redemption);
        let enterprise = self.claimant(number, by);
        let by = self.caller(Who::Enterprise(enterprise));
        Asked::command(
            format!("{} disputed by {enterprise}", redemption_id_text(number)),
            self.model.dispute(number, enterprise, DISPUTE_REASON, by),
            Command::DisputeRedemption {
                redemption_id: redemption_id(number),
                enterprise_credit_code: code(enterprise),
                reason: reason(DISPUTE_REASON),
            },
            by,
        )
    }

    pub fn return_claim(&mut self, redemption: Which) -> Asked {
        let number = self.model.pick_redemption(redemption);
        let by = self.caller(Who::Ledger);
        Asked::command(
            format!("return {}", redemption_id_text(number)),
            self.model.return_claim(number, RETURN_REASON, by),
            Command::ReturnRedemption {
                redemption_id: redemption_id(number),
                reason: reason(RETURN_REASON),
            },
            by,
        )
    }

    /// The invoice of a returned claim (any claim, when none was returned) claimed again by
    /// the payload it was claimed with, changed.
    pub fn correct(&mut self, redemption: usize, change: Change) -> Asked {
        if self.model.redemptions.is_empty() {
            return Asked::nothing("nothing to correct");
        }
        let number = self
            .model
            .pick_redemption(Which::InStatus(RedemptionStatus::Returned, redemption));
        let index = self.model.redemption_index(number).expect("picked");
        let first = &self.model.redemptions[index].payload;
        let payload = change.apply(first, self.model.vouchers.len());
        self.redeems_sent.push(payload.clone());
        let by = self.caller(Who::Provider(payload.seller));
        Asked::command(
            format!("claim again {}: {payload:?}", redemption_id_text(number)),
            self.model.redeem(&payload, by),
            redeem_command(&payload),
            by,
        )
    }

    pub fn change_providers(&mut self, voucher: usize, bound: Bound) -> Asked {
        let number = self.model.pick_voucher(voucher);
        let program = self.model.voucher(number).map(|voucher| voucher.program);
        let providers = program.map_or_else(Vec::new, |program| bound.resolve(program));
        let by = self.caller(Who::Ledger);
        Asked::command(
            format!("{} bound to {providers:?}", voucher_id_text(number)),
            self.model.change_providers(number, &providers, by),
            Command::ChangeVoucherProviders {
                voucher_id: voucher_id(number),
                provider_credit_codes: providers.iter().map(|provider| code(provider)).collect(),
                reason: reason("the enterprise chose another provider"),
            },
            by,
        )
    }

    /// Takes the whole op, as `redeem` does.
    pub fn apply(&mut self, step: usize, op: &Op) -> Asked {
        let Op::Apply {
            enterprise,
            program,
            amount,
            bound,
            contract,
        } = *op
        else {
            unreachable!("asked to apply {op:?}");
        };
        let payload = ApplicationPayload {
            request_id: format!("apply-{step}-{}", self.applies_sent.len()),
            enterprise: ENTERPRISES
                .get(enterprise)
                .copied()
                .unwrap_or(COMPUTE_PROVIDER),
            program,
            amount,
            providers: bound.resolve(program),
            contract,
        };
        self.applies_sent.push(payload.clone());
        let by = self.caller(Who::Enterprise(payload.enterprise));
        Asked::command(
            format!("{payload:?}"),
            self.model.apply(&payload, by),
            apply_command(&payload),
            by,
        )
    }

    pub fn retry_apply(&mut self, apply: usize, other_amount: bool) -> Asked {
        let sent = self.applies_sent.len().max(1);
        let Some(first) = self.applies_sent.get(apply % sent) else {
            return Asked::nothing("nothing to retry");
        };
        let payload = if other_amount {
            first.with_other_amount()
        } else {
            first.clone()
        };
        let by = self.caller(Who::Enterprise(payload.enterprise));
        Asked::command(
            format!("{payload:?}"),
            self.model.apply(&payload, by),
            apply_command(&payload),
            by,
        )
    }

    /// The application an index picks: one of those made, or the first (unknown) when there
    /// is none.
    fn pick_application(&self, index: usize) -> u64 {
        let made = self.model.applications.len();
        u64::try_from(if made == 0 { 0 } else { index % made }).expect("few") + 1
    }

    pub fn approve_application(
        &mut self,
        application: usize,
        face_value: Option<&'static str>,
    ) -> Asked {
        let number = self.pick_application(application);
        let by = self.caller(Who::Ledger);
        Asked::command(
            format!("approve {} at {face_value:?}", application_id_text(number)),
            self.model.approve_application(number, face_value, by),
            Command::ApproveApplication {
                application_id: application_id(number),
                face_value: face_value.map(yuan),
            },
            by,
        )
    }

    pub fn reject_application(&mut self, application: usize) -> Asked {
        let number = self.pick_application(application);
        let by = self.caller(Who::Ledger);
        Asked::command(
            format!("reject {}", application_id_text(number)),
            self.model.reject_application(number, REJECTION_REASON, by),
            Command::RejectApplication {
                application_id: application_id(number),
                reason: reason(REJECTION_REASON),
            },
            by,
        )
    }
}
