//! The reference model: the ledger as the rules in README.md describe it, written apart from
//! `src/domain/ledger`. It keeps money in whole fen, derives every cap, budget and total from
//! its vouchers and redemptions rather than keeping running sums, and answers each command in
//! `commands.rs` (one function per command; the enterprise's part in `enterprise.rs`).
//! `duties.rs` decides who may do what (issue 15) before any command's own checks, and answers
//! the commands only the duties concern (tokens, parties registered again). `records.rs` holds
//! its vouchers, redemptions, statements, applications and tokens; `invariants.rs` the checks of
//! its own consistency. This file holds the model's state, its look-ups, and the derived
//! views the engine's are compared with.

mod commands;
mod duties;
mod enterprise;
mod invariants;
mod records;

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use voucher_ledger::domain::model::RedemptionStatus;
use voucher_ledger::domain::policy::ProgramCode;

use crate::answers::{BalanceView, BudgetLine, SummaryView, Totals};
use crate::ops::{IssuePayload, Which};
use crate::rules::{ENTERPRISES, budget_of, cap_of};
use crate::values::{Fen, Period};

pub use duties::{Deed, enterprise_name, name_sent, provider_name};
pub use records::{
    Clawback, ModelApplication, ModelRedemption, ModelSettlement, ModelToken, ModelVoucher, Steps,
};

/// The model's state: every record it made, and what it remembers to answer replays.
pub struct Model {
    pub today: NaiveDate,
    /// Voucher number n is at index n - 1.
    pub vouchers: Vec<ModelVoucher>,
    /// Redemption number n is at index n - 1.
    pub redemptions: Vec<ModelRedemption>,
    /// Statement number n is at index n - 1.
    pub settlements: Vec<ModelSettlement>,
    /// Accepted issue requests by request id, and the voucher each made.
    pub issued: HashMap<String, (IssuePayload, u64)>,
    /// Invoice serials that were redeemed (even if reversed since), and by which redemption:
    /// the newest, when a returned claim was corrected.
    pub invoices: HashMap<u8, u64>,
    /// Statement requests that made a statement, by request id, and its number.
    pub settled_requests: HashMap<String, u64>,
    /// Clawbacks booked and not yet netted, by (provider, program), in the order booked:
    /// (redemption number, amount).
    pub receivables: BTreeMap<(&'static str, ProgramCode), Vec<(u64, Fen)>>,
    /// Related parties by (provider, enterprise), with the reason first recorded.
    pub related: BTreeMap<(&'static str, &'static str), &'static str>,
    /// Application number n is at index n - 1.
    pub applications: Vec<ModelApplication>,
    /// Token number n is at index n - 1 (those the history created).
    pub tokens: Vec<ModelToken>,
    /// Whether the policy separates duties (`separation_of_duties = true`).
    pub separated: bool,
}

impl Model {
    pub fn new(today: NaiveDate, separated: bool) -> Model {
        Model {
            today,
            vouchers: Vec::new(),
            redemptions: Vec::new(),
            settlements: Vec::new(),
            issued: HashMap::new(),
            invoices: HashMap::new(),
            settled_requests: HashMap::new(),
            receivables: BTreeMap::new(),
            related: BTreeMap::new(),
            applications: Vec::new(),
            tokens: Vec::new(),
            separated,
        }
    }

    pub fn statement(&self, number: u64) -> Option<&ModelSettlement> {
        let index = usize::try_from(number).ok()?.checked_sub(1)?;
        self.settlements.get(index)
    }

    pub fn voucher(&self, number: u64) -> Option<&ModelVoucher> {
        let index = usize::try_from(number).ok()?.checked_sub(1)?;
        self.vouchers.get(index)
    }

    pub fn voucher_mut(&mut self, number: u64) -> Option<&mut ModelVoucher> {
        let index = usize::try_from(number).ok()?.checked_sub(1)?;
        self.vouchers.get_mut(index)
    }

    pub fn redemption_index(&self, number: u64) -> Option<usize> {
        usize::try_from(number)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .filter(|index| *index < self.redemptions.len())
    }

    pub fn next_number(count: usize) -> u64 {
        u64::try_from(count).expect("few records") + 1
    }

    /// The voucher number an index picks: one of those issued, or the first (unknown) when
    /// there is none.
    pub fn pick_voucher(&self, index: usize) -> u64 {
        if self.vouchers.is_empty() {
            1
        } else {
            Model::next_number(index % self.vouchers.len())
        }
    }

    pub fn pick_redemption(&self, which: Which) -> u64 {
        let (status, index) = match which {
            Which::Any(index) => (None, index),
            Which::InStatus(status, index) => (Some(status), index),
        };
        let in_status: Vec<u64> = self
            .redemptions
            .iter()
            .filter(|r| status.is_some_and(|status| r.status == status))
            .map(|r| r.number)
            .collect();
        if !in_status.is_empty() {
            in_status[index % in_status.len()]
        } else if self.redemptions.is_empty() {
            1
        } else {
            Model::next_number(index % self.redemptions.len())
        }
    }

    fn in_account(
        voucher: &ModelVoucher,
        enterprise: usize,
        program: ProgramCode,
        period: Period,
    ) -> bool {
        voucher.enterprise == enterprise
            && voucher.program == program
            && voucher.cap_period == period
    }

    pub fn committed(&self, enterprise: usize, program: ProgramCode, period: Period) -> Fen {
        self.vouchers
            .iter()
            .filter(|voucher| Model::in_account(voucher, enterprise, program, period))
            .fold(Fen(0), |total, voucher| total.plus(voucher.committed()))
    }

    pub fn redeemed(&self, enterprise: usize, program: ProgramCode, period: Period) -> Fen {
        self.vouchers
            .iter()
            .filter(|voucher| Model::in_account(voucher, enterprise, program, period))
            .fold(Fen(0), |total, voucher| total.plus(voucher.redeemed))
    }

    /// What every enterprise has committed under the program in the period.
    pub fn committed_by_all(&self, program: ProgramCode, period: Period) -> Fen {
        (0..ENTERPRISES.len()).fold(Fen(0), |total, enterprise| {
            total.plus(self.committed(enterprise, program, period))
        })
    }

    /// The budget line of a program period: what is committed and redeemed under it, and what
    /// its redemptions were paid and not recovered.
    pub fn budget_line(&self, program: ProgramCode, period: Period) -> BudgetLine {
        let redeemed = (0..ENTERPRISES.len()).fold(Fen(0), |total, enterprise| {
            total.plus(self.redeemed(enterprise, program, period))
        });
        let settled = self
            .redemptions
            .iter()
            .filter(|redemption| redemption.paid())
            .filter(|redemption| {
                self.voucher(redemption.payload.voucher)
                    .is_some_and(|v| v.program == program && v.cap_period == period)
            })
            .fold(Fen(0), |total, redemption| total.plus(redemption.subsidy));
        BudgetLine {
            program,
            period,
            budget: budget_of(program, period.first.year()),
            committed: self.committed_by_all(program, period),
            redeemed,
            settled,
        }
    }

    /// The program period's summary: its vouchers, and its redemptions' totals, all and by
    /// provider.
    pub fn summary(&self, program: ProgramCode, period: Period) -> SummaryView {
        let vouchers: Vec<&ModelVoucher> = self
            .vouchers
            .iter()
            .filter(|v| v.program == program && v.cap_period == period)
            .collect();
        let mut enterprises: Vec<usize> = vouchers.iter().map(|v| v.enterprise).collect();
        enterprises.sort_unstable();
        enterprises.dedup();
        let mut totals = Totals::default();
        let mut providers: BTreeMap<String, Totals> = BTreeMap::new();
        for redemption in &self.redemptions {
            let voucher = self
                .voucher(redemption.payload.voucher)
                .expect("a redemption's voucher exists");
            if voucher.program != program || voucher.cap_period != period {
                continue;
            }
            let subsidy = redemption.subsidy;
            for sum in [
                &mut totals,
                providers
                    .entry(redemption.payload.seller.to_owned())
                    .or_default(),
            ] {
                sum.redemptions += 1;
                match redemption.status {
                    RedemptionStatus::Reversed => sum.reversed = sum.reversed.plus(subsidy),
                    RedemptionStatus::Rejected
                    | RedemptionStatus::Disputed
                    | RedemptionStatus::Returned => sum.rejected = sum.rejected.plus(subsidy),
                    _ => sum.redeemed = sum.redeemed.plus(subsidy),
                }
                if redemption.paid() {
                    sum.settled = sum.settled.plus(subsidy);
                }
            }
        }
        SummaryView {
            program,
            period,
            enterprises: u64::try_from(enterprises.len()).expect("few"),
            vouchers: u64::try_from(vouchers.len()).expect("few"),
            committed: self.committed_by_all(program, period),
            totals,
            budget: budget_of(program, period.first.year()),
            providers,
        }
    }

    /// What the provider was paid under the program and has not had back: from the
    /// redemptions alone, not from the statements.
    pub fn paid(&self, provider: &str, program: ProgramCode) -> Fen {
        self.redemptions
            .iter()
            .filter(|r| r.payload.seller == provider && r.program == program && r.paid())
            .fold(Fen(0), |total, r| total.plus(r.subsidy))
    }

    pub fn balance(&self, enterprise: usize, program: ProgramCode, period: Period) -> BalanceView {
        let cap = cap_of(program);
        let committed = self.committed(enterprise, program, period);
        let redeemed = self.redeemed(enterprise, program, period);
        let mut redeemed_by_year: BTreeMap<i32, Fen> = BTreeMap::new();
        for redemption in self.redemptions.iter().filter(|r| r.counts()) {
            let voucher = self
                .voucher(redemption.payload.voucher)
                .expect("a redemption's voucher exists");
            if Model::in_account(voucher, enterprise, program, period) {
                let year = redemption.payload.invoice_date.year();
                let total = redeemed_by_year.entry(year).or_default();
                *total = total.plus(redemption.subsidy);
            }
        }
        redeemed_by_year.retain(|_, total| total.0 != 0);
        BalanceView {
            period,
            cap,
            committed,
            redeemed,
            available_to_issue: cap.minus(committed),
            outstanding: committed.minus(redeemed),
            redeemed_by_year,
        }
    }
}
