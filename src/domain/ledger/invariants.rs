//! The invariants of docs/DESIGN.md §4, checked over the whole state from first principles:
//! every cap account is recomputed from the vouchers and redemptions it covers.

use std::collections::{BTreeMap, HashMap};

use super::Ledger;
use crate::domain::credit_code::CreditCode;
use crate::domain::ids::VoucherId;
use crate::domain::model::{
    CapAccount, CapKey, ProgramPeriod, ProgramTotals, ProviderTotals, Redemption, RedemptionStatus,
    Settlement,
};
use crate::domain::money::{Money, Total};

/// `redeemed ≤ committed ≤ cap`, under a program of the policy in force.
fn report_account_bounds(ledger: &Ledger, account: &CapAccount, report: &mut impl FnMut(String)) {
    if account.redeemed > account.committed {
        report(format!(
            "{:?}: redeemed {} over committed {}",
            account.key, account.redeemed, account.committed
        ));
    }
    match ledger.policy.program(account.key.program) {
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

/// A statement's `clawed_back` is the sum of the clawbacks it nets.
fn report_clawback_sum(settlement: &Settlement, report: &mut impl FnMut(String)) {
    let clawed_back = settlement
        .clawbacks
        .iter()
        .fold(Total::ZERO, |sum, clawback| sum.plus(clawback.amount));
    if clawed_back != settlement.clawed_back {
        report(format!(
            "{} nets {} but its clawbacks sum to {clawed_back}",
            settlement.settlement_id, settlement.clawed_back
        ));
    }
}

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
    /// An invoice is indexed to its newest claim; every earlier one was returned for
    /// correction, and the claim after it names it.
    fn check_invoice_claim(&self, redemption: &Redemption, report: &mut impl FnMut(String)) {
        let number = &redemption.invoice.number;
        let indexed = self.redemption_by_invoice.get(number);
        if indexed == Some(&redemption.redemption_id) {
            return;
        }
        let corrected_by = self
            .redemptions
            .values()
            .find(|later| later.corrects == Some(redemption.redemption_id));
        let corrected = corrected_by.is_some_and(|later| later.invoice.number == *number)
            && redemption.status == RedemptionStatus::Returned;
        if !corrected {
            report(format!(
                "invoice {number} is not indexed to {}, and no correction replaced it",
                redemption.redemption_id
            ));
        }
    }

    /// Every violation of: `redeemed ≤ committed ≤ cap` per cap account, `0 ≤ redeemed ≤ face
    /// value` per voucher, one redemption per invoice, and every stored total equal to the sum
    /// of what it counts. Empty when the ledger is sound.
    ///
    /// A ledger without its history (see `history`) is recounted from what it holds: each cap
    /// account from its vouchers, each program's totals from its accounts, vouchers and
    /// providers' totals, each statement from its clawbacks.
    pub fn check_invariants(&self) -> Vec<InvariantViolation> {
        if !self.history_complete {
            return self.check_resident_invariants();
        }
        let mut violations = Vec::new();
        let mut report = |text: String| violations.push(InvariantViolation(text));
        let (mut recounts, voucher_redeemed) = self.recount_redemptions(&mut report);
        let corrected = self
            .redemptions
            .values()
            .filter(|redemption| redemption.corrects.is_some())
            .count();
        if self.redemption_by_invoice.len() + corrected != self.redemptions.len() {
            report("the invoice index and the redemptions differ in number".to_owned());
        }
        self.check_vouchers(&voucher_redeemed, &mut recounts, &mut report);
        self.check_recounted_accounts(&recounts, &mut report);
        for account in self.cap_accounts.values() {
            report_account_bounds(self, account, &mut report);
        }
        violations.extend(self.check_program_totals());
        violations.extend(self.check_settlements());
        violations
    }

    /// Checks each redemption on its own (a subsidy within what it computed, the invoice
    /// indexed to it) and adds each that counts to its voucher's and its cap account's recount.
    fn recount_redemptions(
        &self,
        report: &mut impl FnMut(String),
    ) -> (HashMap<CapKey, Recount>, HashMap<VoucherId, Money>) {
        let mut recounts: HashMap<CapKey, Recount> = HashMap::new();
        let mut voucher_redeemed: HashMap<_, Money> = HashMap::new();
        for redemption in self.redemptions.values() {
            if redemption.subsidy > redemption.computed_subsidy {
                report(format!(
                    "{} grants more than it computed",
                    redemption.redemption_id
                ));
            }
            self.check_invoice_claim(redemption, report);
            if !redemption.status.counts() {
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
        (recounts, voucher_redeemed)
    }

    /// Each voucher against the sum of its redemptions and its face value; adds what it
    /// commits to its cap account's recount.
    fn check_vouchers(
        &self,
        voucher_redeemed: &HashMap<VoucherId, Money>,
        recounts: &mut HashMap<CapKey, Recount>,
        report: &mut impl FnMut(String),
    ) {
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
    }

    /// Each recounted cap account against the stored one: committed, redeemed, redeemed by year.
    fn check_recounted_accounts(
        &self,
        recounts: &HashMap<CapKey, Recount>,
        report: &mut impl FnMut(String),
    ) {
        for (key, recount) in recounts {
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
    }

    fn check_resident_invariants(&self) -> Vec<InvariantViolation> {
        let mut violations = Vec::new();
        let mut report = |text: String| violations.push(InvariantViolation(text));
        let programs = self.check_resident_accounts(&mut report);
        self.check_resident_program_totals(programs, &mut report);
        for settlement in self.settlements.values() {
            report_clawback_sum(settlement, &mut report);
        }
        let issued = self.last_redemption_id;
        let waiting = self.settleable.values().flat_map(|queue| queue.keys());
        let owed = self
            .receivables
            .values()
            .flatten()
            .map(|c| &c.redemption_id);
        if waiting.chain(owed).any(|id| Some(*id) > issued) {
            report("a queued claim or clawback names a redemption never made".to_owned());
        }
        violations
    }

    /// Each cap account against the vouchers it covers, and each voucher and account within
    /// its bounds. Returns each program's totals as far as its accounts and vouchers count them.
    fn check_resident_accounts(
        &self,
        report: &mut impl FnMut(String),
    ) -> HashMap<ProgramPeriod, ProgramTotals> {
        let mut recounts: HashMap<CapKey, (Total, Total)> = HashMap::new();
        let mut programs: HashMap<ProgramPeriod, ProgramTotals> = HashMap::new();
        for voucher in self.vouchers.values() {
            if voucher.redeemed > voucher.face_value {
                report(format!(
                    "{} redeemed {} over face value {}",
                    voucher.voucher_id, voucher.redeemed, voucher.face_value
                ));
            }
            let (committed, redeemed) = recounts.entry(voucher.cap_key()).or_default();
            *committed = committed.plus(voucher.committed());
            *redeemed = redeemed.plus(voucher.redeemed);
            programs
                .entry(voucher.program_period())
                .or_default()
                .vouchers += 1;
        }
        for account in self.cap_accounts.values() {
            let (committed, redeemed) = recounts.remove(&account.key).unwrap_or_default();
            let by_year = account
                .redeemed_by_year
                .values()
                .fold(Total::ZERO, |sum, amount| sum.plus(*amount));
            if Total::from(account.committed) != committed
                || Total::from(account.redeemed) != redeemed
                || by_year != redeemed
            {
                report(format!(
                    "cap account {:?} says committed {} redeemed {}, its vouchers say {committed} and {redeemed} (by year {by_year})",
                    account.key, account.committed, account.redeemed
                ));
            }
            report_account_bounds(self, account, report);
            let totals = programs
                .entry(ProgramPeriod {
                    program: account.key.program,
                    period_start: account.key.period_start,
                })
                .or_default();
            totals.enterprises += 1;
            totals.committed = totals.committed.plus(account.committed);
            totals.redeemed = totals.redeemed.plus(account.redeemed);
        }
        for key in recounts.keys() {
            report(format!("no cap account for {key:?}"));
        }
        programs
    }

    /// Each program's stored totals against the sum of its accounts and vouchers (`programs`,
    /// counted so far) and of its providers' totals.
    fn check_resident_program_totals(
        &self,
        mut programs: HashMap<ProgramPeriod, ProgramTotals>,
        report: &mut impl FnMut(String),
    ) {
        let mut providers_redeemed: HashMap<ProgramPeriod, Total> = HashMap::new();
        for ((period, _), provider) in &self.provider_totals {
            let totals = programs.entry(*period).or_default();
            totals.redemptions += provider.redemptions;
            totals.reversed = totals.reversed.plus_total(provider.reversed);
            totals.rejected = totals.rejected.plus_total(provider.rejected);
            totals.settled = totals.settled.plus_total(provider.settled);
            let redeemed = providers_redeemed.entry(*period).or_default();
            *redeemed = redeemed.plus_total(provider.redeemed);
        }
        for (period, recounted) in &programs {
            let stored = self.program_totals.get(period).cloned().unwrap_or_default();
            let sum_of = |by_month: &BTreeMap<u32, Total>| {
                by_month
                    .values()
                    .fold(Total::ZERO, |sum, amount| sum.plus_total(*amount))
            };
            let by_month = sum_of(&stored.redeemed_by_month);
            let by_invoice_month = sum_of(&stored.redeemed_by_invoice_month);
            let providers_redeemed = providers_redeemed.get(period).copied().unwrap_or_default();
            let agrees = stored.enterprises == recounted.enterprises
                && stored.vouchers == recounted.vouchers
                && stored.committed == recounted.committed
                && stored.redeemed == recounted.redeemed
                && stored.redemptions == recounted.redemptions
                && stored.reversed == recounted.reversed
                && stored.rejected == recounted.rejected
                && stored.settled == recounted.settled
                && by_month == stored.redeemed
                && by_invoice_month == stored.redeemed
                && providers_redeemed == stored.redeemed;
            if !agrees {
                report(format!(
                    "the totals of {period:?} differ from the sum of their accounts, vouchers and providers"
                ));
            }
        }
        if self
            .program_totals
            .keys()
            .any(|period| !programs.contains_key(period))
        {
            report("program totals are kept for a period with no voucher".to_owned());
        }
    }

    /// Adds every statement's lines, less its clawbacks, to the settled totals of the periods
    /// they belong to.
    fn recount_settled(
        &self,
        programs: &mut HashMap<ProgramPeriod, ProgramTotals>,
        providers: &mut HashMap<(ProgramPeriod, CreditCode), ProviderTotals>,
    ) {
        let period_of = |id: &crate::domain::ids::RedemptionId| {
            self.redemptions
                .get(id)
                .and_then(|r| self.vouchers.get(&r.voucher_id))
                .map(|v| v.program_period())
        };
        let mut changes: HashMap<(ProgramPeriod, CreditCode), rust_decimal::Decimal> =
            HashMap::new();
        for settlement in self.settlements.values() {
            for id in &settlement.redemption_ids {
                if let (Some(period), Some(redemption)) = (period_of(id), self.redemptions.get(id))
                {
                    *changes
                        .entry((period, settlement.provider_credit_code))
                        .or_default() += redemption.subsidy.as_decimal();
                }
            }
            for clawback in &settlement.clawbacks {
                if let Some(period) = period_of(&clawback.redemption_id) {
                    *changes
                        .entry((period, settlement.provider_credit_code))
                        .or_default() -= clawback.amount.as_decimal();
                }
            }
        }
        for ((period, provider), change) in changes {
            let settled = Total::try_from(change).unwrap_or_default();
            let totals = programs.entry(period).or_default();
            totals.settled = Total::try_from(totals.settled.as_decimal() + settled.as_decimal())
                .unwrap_or_default();
            providers.entry((period, provider)).or_default().settled = settled;
        }
    }

    /// Statements add up, settled claims point at the statement that lists them, approved
    /// claims wait to be settled, and every clawback is of a settled claim since reversed.
    fn check_settlements(&self) -> Vec<InvariantViolation> {
        let mut violations = Vec::new();
        let mut report = |text: String| violations.push(InvariantViolation(text));
        for settlement in self.settlements.values() {
            self.check_statement(settlement, &mut report);
        }
        self.check_settlement_queue(&mut report);
        self.check_clawbacks(&mut report);
        violations
    }

    /// A statement's gross is the sum of its lines and what it claws back the sum of its
    /// clawbacks; it was paid no earlier than it was made; every claim it lists names it.
    fn check_statement(&self, settlement: &Settlement, report: &mut impl FnMut(String)) {
        let gross = settlement
            .redemption_ids
            .iter()
            .filter_map(|id| self.redemptions.get(id))
            .fold(Total::ZERO, |sum, redemption| sum.plus(redemption.subsidy));
        if gross != settlement.gross {
            report(format!(
                "{} says {} but its lines sum to {gross}",
                settlement.settlement_id, settlement.gross
            ));
        }
        report_clawback_sum(settlement, report);
        if let Some(payment) = &settlement.payment
            && payment.paid_on < settlement.made_on
        {
            report(format!(
                "{} was paid on {}, before it was made",
                settlement.settlement_id, payment.paid_on
            ));
        }
        for id in &settlement.redemption_ids {
            if self.redemptions.get(id).and_then(|r| r.settlement_id)
                != Some(settlement.settlement_id)
            {
                report(format!(
                    "{} lists {id}, which does not name it",
                    settlement.settlement_id
                ));
            }
        }
    }

    /// Exactly the approved claims wait in the settlement queue, and a settled claim names its
    /// statement.
    fn check_settlement_queue(&self, report: &mut impl FnMut(String)) {
        for redemption in self.redemptions.values() {
            let id = redemption.redemption_id;
            let key = (redemption.provider_credit_code, redemption.program);
            let waiting = self
                .settleable
                .get(&key)
                .is_some_and(|waiting| waiting.get(&id) == Some(&redemption.invoice.date));
            if waiting != (redemption.status == RedemptionStatus::Approved) {
                report(format!(
                    "{id} is {:?} but its settlement queue says otherwise",
                    redemption.status
                ));
            }
            if redemption.status == RedemptionStatus::Settled && redemption.settlement_id.is_none()
            {
                report(format!("{id} is settled by no statement"));
            }
        }
    }

    /// Every clawback, pending or netted, is of a settled claim since reversed, for its subsidy.
    fn check_clawbacks(&self, report: &mut impl FnMut(String)) {
        let netted = self
            .settlements
            .values()
            .flat_map(|settlement| settlement.clawbacks.iter());
        for clawback in self.receivables.values().flatten().chain(netted) {
            let clawed = self.redemptions.get(&clawback.redemption_id);
            let of_a_settled_claim = clawed.is_some_and(|r| {
                r.status == RedemptionStatus::Reversed
                    && r.settlement_id.is_some()
                    && r.subsidy == clawback.amount
            });
            if !of_a_settled_claim {
                report(format!(
                    "clawback of {} is not of a settled claim reversed since",
                    clawback.redemption_id
                ));
            }
        }
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
                RedemptionStatus::Accepted
                | RedemptionStatus::Approved
                | RedemptionStatus::Settled => {
                    provider.redeemed = provider.redeemed.plus(redemption.subsidy);
                    totals.shift_months(redemption.months(), redemption.subsidy, true);
                }
                RedemptionStatus::Reversed => {
                    totals.reversed = totals.reversed.plus(redemption.subsidy);
                    provider.reversed = provider.reversed.plus(redemption.subsidy);
                }
                RedemptionStatus::Rejected
                | RedemptionStatus::Disputed
                | RedemptionStatus::Returned => {
                    totals.rejected = totals.rejected.plus(redemption.subsidy);
                    provider.rejected = provider.rejected.plus(redemption.subsidy);
                }
            }
        }
        self.recount_settled(&mut programs, &mut providers);
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
