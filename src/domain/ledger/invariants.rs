//! The invariants of DESIGN.md §4, checked over the whole state from first principles:
//! every cap account is recomputed from the vouchers and redemptions it covers.

use std::collections::{BTreeMap, HashMap};

use super::Ledger;
use crate::domain::credit_code::CreditCode;
use crate::domain::model::{
    CapKey, ProgramPeriod, ProgramTotals, ProviderTotals, RedemptionStatus,
};
use crate::domain::money::Money;

/// One broken invariant, said plainly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvariantViolation(pub String);

impl std::fmt::Display for InvariantViolation {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

#[derive(Default)]
struct Recount {
    committed: Money,
    redeemed: Money,
    redeemed_by_year: BTreeMap<i32, Money>,
}

impl Ledger {
    /// Every violation of: `redeemed ≤ committed ≤ cap` per cap account, `0 ≤ redeemed ≤ face
    /// value` per voucher, one redemption per invoice, and every stored total equal to the sum
    /// of what it counts. Empty when the ledger is sound.
    pub fn check_invariants(&self) -> Vec<InvariantViolation> {
        let mut violations = Vec::new();
        let mut report = |text: String| violations.push(InvariantViolation(text));
        let mut recounts: HashMap<CapKey, Recount> = HashMap::new();
        let mut voucher_redeemed: HashMap<_, Money> = HashMap::new();
        for redemption in self.redemptions.values() {
            if redemption.subsidy > redemption.computed_subsidy {
                report(format!(
                    "{} grants more than it computed",
                    redemption.redemption_id
                ));
            }
            if self.redemption_by_invoice.get(&redemption.invoice.number)
                != Some(&redemption.redemption_id)
            {
                report(format!(
                    "invoice {} is not indexed to {}",
                    redemption.invoice.number, redemption.redemption_id
                ));
            }
            if redemption.status == RedemptionStatus::Reversed {
                continue;
            }
            let Some(voucher) = self.vouchers.get(&redemption.voucher_id) else {
                report(format!(
                    "{} names a missing voucher",
                    redemption.redemption_id
                ));
                continue;
            };
            let total = voucher_redeemed
                .entry(voucher.voucher_id)
                .or_insert(Money::ZERO);
            *total = total.checked_add(redemption.subsidy).unwrap_or(*total);
            let recount = recounts.entry(voucher.cap_key()).or_default();
            recount.redeemed = recount
                .redeemed
                .checked_add(redemption.subsidy)
                .unwrap_or(recount.redeemed);
            let year = recount
                .redeemed_by_year
                .entry(redemption.cap_year())
                .or_insert(Money::ZERO);
            *year = year.checked_add(redemption.subsidy).unwrap_or(*year);
        }
        if self.redemption_by_invoice.len() != self.redemptions.len() {
            report("the invoice index and the redemptions differ in number".to_owned());
        }
        for voucher in self.vouchers.values() {
            let counted = voucher_redeemed
                .get(&voucher.voucher_id)
                .copied()
                .unwrap_or(Money::ZERO);
            if counted != voucher.redeemed {
                report(format!(
                    "{} says redeemed {} but its redemptions sum to {counted}",
                    voucher.voucher_id, voucher.redeemed
                ));
            }
            if voucher.redeemed > voucher.face_value {
                report(format!(
                    "{} redeemed {} over face value {}",
                    voucher.voucher_id, voucher.redeemed, voucher.face_value
                ));
            }
            let recount = recounts.entry(voucher.cap_key()).or_default();
            recount.committed = recount
                .committed
                .checked_add(voucher.committed())
                .unwrap_or(recount.committed);
        }
        for (key, recount) in &recounts {
            let Some(account) = self.cap_accounts.get(key) else {
                report(format!("no cap account for {key:?}"));
                continue;
            };
            let recount_years: BTreeMap<i32, Money> = recount
                .redeemed_by_year
                .iter()
                .filter(|(_, amount)| !amount.is_zero())
                .map(|(y, a)| (*y, *a))
                .collect();
            let stored_years: BTreeMap<i32, Money> = account
                .redeemed_by_year
                .iter()
                .filter(|(_, amount)| !amount.is_zero())
                .map(|(y, a)| (*y, *a))
                .collect();
            if account.committed != recount.committed
                || account.redeemed != recount.redeemed
                || stored_years != recount_years
            {
                report(format!(
                    "cap account {key:?} says committed {} redeemed {}, its vouchers say {} and {}",
                    account.committed, account.redeemed, recount.committed, recount.redeemed
                ));
            }
        }
        for account in self.cap_accounts.values() {
            if account.redeemed > account.committed {
                report(format!(
                    "{:?}: redeemed {} over committed {}",
                    account.key, account.redeemed, account.committed
                ));
            }
            match self.policy.program(account.key.program) {
                Ok(rules) if account.committed > rules.cap => report(format!(
                    "{:?}: committed {} over cap {}",
                    account.key, account.committed, rules.cap
                )),
                Ok(_) => {}
                Err(_) => report(format!(
                    "{:?}: program not in the policy in force",
                    account.key
                )),
            }
        }
        violations.extend(self.check_program_totals());
        violations
    }

    /// The program and provider totals equal the sums of the accounts, vouchers and
    /// redemptions they summarize.
    fn check_program_totals(&self) -> Vec<InvariantViolation> {
        let mut programs: HashMap<ProgramPeriod, ProgramTotals> = HashMap::new();
        let mut providers: HashMap<(ProgramPeriod, CreditCode), ProviderTotals> = HashMap::new();

        for account in self.cap_accounts.values() {
            let key = ProgramPeriod {
                program: account.key.program,
                period_start: account.key.period_start,
            };
            let totals = programs.entry(key).or_default();
            totals.enterprises += 1;
            totals.committed = totals.committed.plus(account.committed);
            totals.redeemed = totals.redeemed.plus(account.redeemed);
        }
        for voucher in self.vouchers.values() {
            programs
                .entry(voucher.program_period())
                .or_default()
                .vouchers += 1;
        }
        for redemption in self.redemptions.values() {
            let Some(voucher) = self.vouchers.get(&redemption.voucher_id) else {
                continue;
            };
            let key = voucher.program_period();
            let totals = programs.entry(key).or_default();
            let provider = providers
                .entry((key, redemption.provider_credit_code))
                .or_default();
            totals.redemptions += 1;
            provider.redemptions += 1;
            match redemption.status {
                RedemptionStatus::Accepted => {
                    provider.redeemed = provider.redeemed.plus(redemption.subsidy)
                }
                RedemptionStatus::Reversed => {
                    totals.reversed = totals.reversed.plus(redemption.subsidy);
                    provider.reversed = provider.reversed.plus(redemption.subsidy);
                }
            }
        }
        let mut violations = Vec::new();
        if programs != self.program_totals {
            violations.push(InvariantViolation(
                "the program totals differ from the sum of their accounts and redemptions"
                    .to_owned(),
            ));
        }
        if providers != self.provider_totals {
            violations.push(InvariantViolation(
                "the provider totals differ from the sum of their redemptions".to_owned(),
            ));
        }
        violations
    }
}
