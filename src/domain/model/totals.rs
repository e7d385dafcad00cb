//! The totals a program and a provider keep per cap period: what the overview, the reports and
//! the finance bureau's budget questions read, kept by `apply` as events land.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::money::{Money, Total};

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
    /// Subsidy given back by reversals and clawbacks.
    pub reversed: Total,
    /// Subsidy released by rejections on review.
    #[serde(default)]
    pub rejected: Total,
    /// Paid out by settlement statements, net of clawbacks netted since.
    #[serde(default)]
    pub settled: Total,
    /// Redemptions accepted, reversed ones included.
    pub redemptions: u64,
    /// `redeemed` by the month its claims were accepted (`YYYYMM`, China time): what the
    /// console's monthly chart draws. A reversal or rejection takes its subsidy out of the
    /// month the claim was accepted in, so the months always add up to `redeemed`.
    #[serde(default)]
    pub redeemed_by_month: BTreeMap<u32, Total>,
    /// `redeemed` by the month of its claims' invoices (`YYYYMM`): what the console's chart
    /// draws since records format 7, the month the compute was rented or the robot leased. It
    /// adds up to `redeemed` as `redeemed_by_month` does.
    #[serde(default)]
    pub redeemed_by_invoice_month: BTreeMap<u32, Total>,
}

impl ProgramTotals {
    /// Adds (`true`) or takes out (`false`) a claim's subsidy from the month it was accepted
    /// in and the month of its invoice.
    pub fn shift_months(&mut self, months: ClaimMonths, subsidy: Money, add: bool) {
        shift(&mut self.redeemed_by_month, months.accepted, subsidy, add);
        shift(
            &mut self.redeemed_by_invoice_month,
            months.invoiced,
            subsidy,
            add,
        );
    }
}

/// The two months a claim counts in (`YYYYMM`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimMonths {
    /// When the ledger accepted it, China time.
    pub accepted: u32,
    /// Its invoice's date.
    pub invoiced: u32,
}

fn shift(by_month: &mut BTreeMap<u32, Total>, month: u32, subsidy: Money, add: bool) {
    let current = by_month.get(&month).copied().unwrap_or_default();
    let changed = if add {
        current.plus(subsidy)
    } else {
        current
            .minus(subsidy)
            .expect("a month gives back only what it took")
    };
    if changed == Total::ZERO {
        by_month.remove(&month);
    } else {
        by_month.insert(month, changed);
    }
}

/// One provider's redemptions under one program in one cap period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderTotals {
    /// Redemptions accepted, reversed ones included.
    pub redemptions: u64,
    /// Net of reversals.
    pub redeemed: Total,
    pub reversed: Total,
    #[serde(default)]
    pub rejected: Total,
    /// Paid out by settlements, net of clawbacks netted since.
    #[serde(default)]
    pub settled: Total,
}
