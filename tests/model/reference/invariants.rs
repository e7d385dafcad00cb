//! The model's own invariants, checked after every step before the engine is compared with
//! it: if one breaks, the model is wrong, not the engine.

use voucher_ledger::domain::model::RedemptionStatus;

use super::{Clawback, Model};
use crate::rules::{SELLERS, accounts, program_periods};
use crate::values::Fen;

impl Model {
    /// The model's own invariants: if one breaks, the model is wrong.
    pub fn check_itself(&self) -> Result<(), String> {
        for voucher in &self.vouchers {
            let from_redemptions = self
                .redemptions
                .iter()
                .filter(|r| r.counts() && r.payload.voucher == voucher.number)
                .fold(Fen(0), |total, r| total.plus(r.subsidy));
            if from_redemptions != voucher.redeemed
                || voucher.redeemed.0 < 0
                || voucher.redeemed > voucher.face_value
            {
                return Err(format!("model voucher breaks an invariant: {voucher:?}"));
            }
        }
        for (enterprise, program, period) in accounts() {
            let balance = self.balance(enterprise, program, period);
            if !(balance.redeemed <= balance.committed && balance.committed <= balance.cap) {
                return Err(format!(
                    "model cap account breaks an invariant: {balance:?}"
                ));
            }
        }
        for (program, period) in program_periods() {
            let line = self.budget_line(program, period);
            if line.budget.is_some_and(|budget| line.committed > budget) {
                return Err(format!("model program over its budget: {line:?}"));
            }
        }
        self.check_corrections()?;
        self.check_statements()
    }

    /// A correction names an earlier returned claim of the same invoice, provider and
    /// enterprise, which no other claim corrects; an invoice's newest claim is the one no
    /// claim corrects.
    fn check_corrections(&self) -> Result<(), String> {
        for redemption in &self.redemptions {
            let corrected_by: Vec<u64> = self
                .redemptions
                .iter()
                .filter(|later| later.corrects == Some(redemption.number))
                .map(|later| later.number)
                .collect();
            let newest = self.invoices.get(&redemption.payload.invoice) == Some(&redemption.number);
            if corrected_by.len() > 1 || newest == (corrected_by.len() == 1) {
                return Err(format!(
                    "model invoice {} has {redemption:?} corrected by {corrected_by:?}",
                    redemption.payload.invoice
                ));
            }
            let Some(number) = redemption.corrects else {
                continue;
            };
            let returned = &self.redemptions[self.redemption_index(number).expect("earlier")];
            if returned.status != RedemptionStatus::Returned
                || returned.number >= redemption.number
                || returned.payload.invoice != redemption.payload.invoice
                || returned.payload.seller != redemption.payload.seller
                || returned.payload.buyer != redemption.payload.buyer
            {
                return Err(format!(
                    "model correction {redemption:?} of a claim not returned to it: {returned:?}"
                ));
            }
        }
        Ok(())
    }

    /// A redemption is in the statement it names and no other, and netted in at most the one
    /// its clawback names; a settled one is paid and not clawed back; each provider's
    /// statements pay what its redemptions say it was paid and has not had back.
    fn check_statements(&self) -> Result<(), String> {
        for redemption in &self.redemptions {
            let statements = self
                .settlements
                .iter()
                .filter(|s| s.lines.contains(&redemption.number))
                .map(|s| s.number)
                .collect::<Vec<_>>();
            let netted = self
                .settlements
                .iter()
                .filter(|s| s.clawbacks.iter().any(|(n, _)| *n == redemption.number))
                .map(|s| s.number)
                .collect::<Vec<_>>();
            let expected_netted = match redemption.clawback {
                Clawback::Netted(number) => vec![number],
                Clawback::None | Clawback::Open => Vec::new(),
            };
            if statements != redemption.settlement.into_iter().collect::<Vec<_>>()
                || netted != expected_netted
                || (redemption.status == RedemptionStatus::Settled)
                    != (redemption.settlement.is_some() && redemption.clawback == Clawback::None)
            {
                return Err(format!(
                    "model redemption and statements disagree: {redemption:?} in {statements:?}, netted in {netted:?}"
                ));
            }
        }
        for (provider, program) in SELLERS {
            let from_statements = self
                .settlements
                .iter()
                .filter(|s| s.payload.provider == provider && s.payload.program == program)
                .fold(Fen(0), |total, s| total.plus(s.gross).minus(s.clawed_back));
            if from_statements != self.paid(provider, program) {
                return Err(format!(
                    "model statements of {provider} {program} pay {from_statements:?}, its redemptions say {:?}",
                    self.paid(provider, program)
                ));
            }
        }
        Ok(())
    }
}
