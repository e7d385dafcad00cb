//! The model's answer to each command, one function per command, with the order of checks the
//! top of `main.rs` records where README.md is silent; each first asks `duties.rs` whether its
//! caller may send it, and notes on the records it changes who made the step. Each changes the model as the command
//! changes the ledger and returns what the engine must answer; time passing is `advance`.

use chrono::{Datelike, NaiveDate};
use voucher_ledger::domain::model::{EvidenceKind, RedemptionStatus, Role, VoucherStatus};
use voucher_ledger::domain::policy::ProgramCode;

use super::{Clawback, Deed, Model, ModelRedemption, ModelSettlement, ModelVoucher, Steps};
use crate::answers::{Answer, RelatedPartiesView, refused, refused_with_remaining};
use crate::callers::Who;
use crate::ops::{IssuePayload, RedeemPayload, SettlePayload};
use crate::rules::{
    ENTERPRISES, REDEEM_GRACE_DAYS, SETTLEMENT_LINES_MAX, budget_of, cap_of, confirmation_required,
    period_holding, provider_program, required_evidence, subsidy_for, term,
};
use crate::values::{Fen, Period, shift};

impl Model {
    /// IssueVoucher, once the duties allow it (it acts in its program).
    pub fn issue(&mut self, payload: &IssuePayload, by: Who) -> Answer {
        if let Some(refusal) = self.check_duties(by, Deed::In(Some(payload.program))) {
            return refusal;
        }
        self.issue_voucher(payload, by)
    }

    /// IssueVoucher: idempotent by request id; the dates must lie in the term and in one cap
    /// period; the deadline must not have passed; the providers it is bound to must be
    /// providers of its program; the face value (default: all that is left
    /// under the cap and the budget) must fit under the cap, then under the program's budget.
    pub fn issue_voucher(&mut self, payload: &IssuePayload, by: Who) -> Answer {
        if let Some((first, number)) = self.issued.get(&payload.request_id) {
            if first == payload {
                return Answer::Voucher(self.voucher(*number).expect("issued").view());
            }
            return refused("REQUEST_ID_REUSED");
        }
        let program = payload.program;
        let today = self.today;
        let (validity, cap_period) =
            match validity_of(program, today, payload.valid_from, payload.valid_until) {
                Ok(dates) => dates,
                Err(reason) => return refused(reason),
            };
        let redeem_by = shift(validity.last, REDEEM_GRACE_DAYS);
        if redeem_by < today {
            return refused("REDEEM_DEADLINE_PASSED");
        }
        if let Err(reason) = check_providers(program, &payload.providers) {
            return refused(reason);
        }
        let cap_left =
            cap_of(program).minus(self.committed(payload.enterprise, program, cap_period));
        let budget_left = budget_of(program, cap_period.first.year())
            .map(|budget| budget.minus(self.committed_by_all(program, cap_period)));
        let face_value = payload
            .face_value
            .map_or(cap_left.min(budget_left.unwrap_or(cap_left)), Fen::parse);
        if cap_left.0 == 0 || face_value > cap_left {
            return refused_with_remaining("CAP_EXCEEDED", cap_left);
        }
        if let Some(budget_left) = budget_left
            && (budget_left.0 == 0 || face_value > budget_left)
        {
            return refused_with_remaining("BUDGET_EXCEEDED", budget_left);
        }
        let number = Model::next_number(self.vouchers.len());
        self.vouchers.push(ModelVoucher {
            number,
            enterprise: payload.enterprise,
            program,
            face_value,
            redeemed: Fen(0),
            status: VoucherStatus::Active,
            validity,
            redeem_by,
            cap_period,
            providers: payload.providers.clone(),
            application: None,
            issued_by: by,
            closed_by: None,
        });
        self.issued
            .insert(payload.request_id.clone(), (payload.clone(), number));
        Answer::Voucher(self.voucher(number).expect("just issued").view())
    }

    /// Redeem, checked in the order the issue tracker fixed: replay of the invoice (its newest
    /// claim: the same payload answers it; a returned one may be corrected by its provider for
    /// its enterprise with another payload; else the invoice is used), the voucher held by the
    /// buyer (another's answers as none: issue 12) and admitting the seller (a voucher bound to
    /// others answers as none: issue 14), program, self-dealing, status, related parties,
    /// dates (term, future, validity), evidence, then the amount: zero subsidy (placed here by
    /// the model), cap, voucher balance.
    pub fn redeem(&mut self, payload: &RedeemPayload, by: Who) -> Answer {
        let program = self.voucher(payload.voucher).map(|voucher| voucher.program);
        if let Some(refusal) = self.check_duties(by, Deed::In(program)) {
            return refusal;
        }
        let mut corrects = None;
        if let Some(number) = self.invoices.get(&payload.invoice) {
            let index = usize::try_from(*number - 1).expect("few records");
            let newest = &self.redemptions[index];
            if newest.payload == *payload {
                return Answer::Redemption(newest.view());
            }
            let correctable = newest.status == RedemptionStatus::Returned
                && newest.payload.seller == payload.seller
                && newest.payload.buyer == payload.buyer;
            if !correctable {
                return refused("INVOICE_ALREADY_REDEEMED");
            }
            corrects = Some(*number);
        }
        let voucher = match self.claimable(payload) {
            Ok(voucher) => voucher,
            Err(reason) => return refused(reason),
        };
        let (computed, subsidy) = match self.subsidy(voucher, payload) {
            Ok(amounts) => amounts,
            Err(reason) => return refused(reason),
        };
        let program = voucher.program;
        let voucher = self.voucher_mut(payload.voucher).expect("looked up above");
        voucher.redeemed = voucher.redeemed.plus(subsidy);
        let number = Model::next_number(self.redemptions.len());
        self.redemptions.push(ModelRedemption {
            number,
            payload: payload.clone(),
            program,
            computed_subsidy: computed,
            subsidy,
            status: RedemptionStatus::Accepted,
            reversed_by: None,
            settlement: None,
            clawback: Clawback::None,
            corrects,
            confirmed: false,
            closing_reason: None,
            steps: Steps::filed_by(by),
        });
        self.invoices.insert(payload.invoice, number);
        Answer::Redemption(self.redemptions.last().expect("just pushed").view())
    }

    /// A redemption's checks before its amount, in order: the voucher held by the buyer and
    /// admitting the seller, program, self-dealing, status, related parties, dates (term, future, validity),
    /// evidence. The voucher it redeems, or the reason it is refused.
    fn claimable(&self, payload: &RedeemPayload) -> Result<&ModelVoucher, &'static str> {
        let today = self.today;
        let Some(voucher) = self
            .voucher(payload.voucher)
            .filter(|voucher| ENTERPRISES[voucher.enterprise] == payload.buyer)
            .filter(|voucher| voucher.admits(payload.seller))
        else {
            return Err("NOT_FOUND");
        };
        let seller_program =
            provider_program(payload.seller).expect("the test's sellers are registered");
        if seller_program != voucher.program {
            return Err("PROGRAM_MISMATCH");
        }
        if payload.seller == payload.buyer {
            return Err("SELF_DEALING");
        }
        if !voucher.is_active() || today > voucher.redeem_by {
            return Err("VOUCHER_NOT_ACTIVE");
        }
        if self.related.contains_key(&(payload.seller, payload.buyer)) {
            return Err("RELATED_PARTY");
        }
        if !term().contains(payload.invoice_date) {
            return Err("OUTSIDE_POLICY_TERM");
        }
        if payload.invoice_date > today {
            return Err("INVOICE_DATE_IN_FUTURE");
        }
        if !voucher.validity.contains(payload.invoice_date) {
            return Err("INVOICE_DATE_OUTSIDE_VALIDITY");
        }
        let carries = |kind: &EvidenceKind| payload.evidence.iter().any(|doc| doc.kind == *kind);
        if !required_evidence(voucher.program).iter().all(carries) {
            return Err("EVIDENCE_REQUIRED");
        }
        Ok(voucher)
    }

    /// A redemption's amount: (the subsidy computed, the subsidy given), or the reason it is
    /// refused: a subsidy that rounds to zero, then the cap, then the voucher's balance (a
    /// partial redemption takes what is left of both).
    fn subsidy(
        &self,
        voucher: &ModelVoucher,
        payload: &RedeemPayload,
    ) -> Result<(Fen, Fen), &'static str> {
        let computed = subsidy_for(voucher.program, Fen::parse(payload.amount));
        if computed.0 == 0 {
            return Err("SUBSIDY_ROUNDS_TO_ZERO");
        }
        let cap_left = cap_of(voucher.program).minus(self.redeemed(
            voucher.enterprise,
            voucher.program,
            voucher.cap_period,
        ));
        let voucher_left = voucher.remaining();
        let fits = computed <= cap_left && computed <= voucher_left;
        let partial = computed.min(cap_left).min(voucher_left);
        let subsidy = if fits {
            computed
        } else if payload.allow_partial && partial.0 > 0 {
            partial
        } else if computed > cap_left {
            return Err("CAP_EXCEEDED");
        } else {
            return Err("VOUCHER_BALANCE_EXCEEDED");
        };
        Ok((computed, subsidy))
    }

    /// Gives a redemption's subsidy back to its voucher (and so to the cap).
    pub fn release(&mut self, index: usize) {
        let subsidy = self.redemptions[index].subsidy;
        let voucher_number = self.redemptions[index].payload.voucher;
        let voucher = self.voucher_mut(voucher_number).expect("redeemed voucher");
        voucher.redeemed = voucher.redeemed.minus(subsidy);
    }

    /// A reversal (红冲), by the bureau or the redemption's own provider (to another provider
    /// the claim does not exist), gives the subsidy back to the voucher and the cap; the invoice
    /// stays used; reversing again returns the record unchanged; a rejected, disputed or
    /// returned one is not open; a settled one only the bureau may reverse, and that books a
    /// clawback.
    pub fn reverse(&mut self, number: u64, actor: Option<&'static str>, by: Who) -> Answer {
        if let Some(refusal) = self.check_duties(by, Deed::In(self.claim_program(number))) {
            return refusal;
        }
        let Some(index) = self.redemption_index(number) else {
            return refused("NOT_FOUND");
        };
        let redemption = &self.redemptions[index];
        if actor.is_some_and(|provider| provider != redemption.payload.seller) {
            return refused("NOT_FOUND");
        }
        let role = if actor.is_some() {
            Role::Provider
        } else {
            Role::Bureau
        };
        match redemption.status {
            RedemptionStatus::Reversed => return Answer::Redemption(redemption.view()),
            RedemptionStatus::Rejected
            | RedemptionStatus::Disputed
            | RedemptionStatus::Returned => return refused("REDEMPTION_NOT_OPEN"),
            RedemptionStatus::Settled if actor.is_some() => return refused("PERMISSION_DENIED"),
            RedemptionStatus::Settled => {
                let key = (redemption.payload.seller, redemption.program);
                let amount = redemption.subsidy;
                self.receivables
                    .entry(key)
                    .or_default()
                    .push((number, amount));
                self.redemptions[index].clawback = Clawback::Open;
            }
            RedemptionStatus::Accepted | RedemptionStatus::Approved => {}
        }
        self.redemptions[index].status = RedemptionStatus::Reversed;
        self.redemptions[index].reversed_by = Some(role);
        self.redemptions[index].steps.reversed_by = Some(by);
        self.release(index);
        Answer::Redemption(self.redemptions[index].view())
    }

    /// Only an accepted claim is approved, and in a program that requires it only once its
    /// enterprise confirmed it; approving one that was approved (settled since, or not) answers
    /// the same, so a retried review is safe; a closed one is not open.
    pub fn approve(&mut self, number: u64, by: Who) -> Answer {
        if let Some(refusal) = self.check_duties(by, Deed::Approve(number)) {
            return refusal;
        }
        let Some(index) = self.redemption_index(number) else {
            return refused("NOT_FOUND");
        };
        let redemption = &mut self.redemptions[index];
        match redemption.status {
            RedemptionStatus::Accepted
                if confirmation_required(redemption.program) && !redemption.confirmed =>
            {
                return refused("CONFIRMATION_REQUIRED");
            }
            RedemptionStatus::Accepted => {
                redemption.status = RedemptionStatus::Approved;
                redemption.steps.approved_by = Some(by);
            }
            RedemptionStatus::Approved | RedemptionStatus::Settled => {}
            RedemptionStatus::Rejected
            | RedemptionStatus::Reversed
            | RedemptionStatus::Disputed
            | RedemptionStatus::Returned => {
                return refused("REDEMPTION_NOT_OPEN");
            }
        }
        Answer::Redemption(self.redemptions[index].view())
    }

    /// An accepted or approved claim is rejected, its subsidy released as by a reversal;
    /// rejecting a rejected one answers the same (a retried review); a settled, reversed,
    /// disputed or returned one is not open.
    pub fn reject(&mut self, number: u64, by: Who) -> Answer {
        if let Some(refusal) = self.check_duties(by, Deed::In(self.claim_program(number))) {
            return refusal;
        }
        let Some(index) = self.redemption_index(number) else {
            return refused("NOT_FOUND");
        };
        match self.redemptions[index].status {
            RedemptionStatus::Accepted | RedemptionStatus::Approved => {
                self.redemptions[index].status = RedemptionStatus::Rejected;
                self.redemptions[index].steps.closed_by = Some(by);
                self.release(index);
            }
            RedemptionStatus::Rejected => {}
            RedemptionStatus::Settled
            | RedemptionStatus::Reversed
            | RedemptionStatus::Disputed
            | RedemptionStatus::Returned => {
                return refused("REDEMPTION_NOT_OPEN");
            }
        }
        Answer::Redemption(self.redemptions[index].view())
    }

    /// A statement: replay by request id first; the provider must be one, of that program;
    /// its approved claims with invoices up to the date, in redemption id order, and its open
    /// clawbacks in the order booked, each at most SETTLEMENT_LINES_MAX; not both empty.
    pub fn settle(&mut self, payload: &SettlePayload, by: Who) -> Answer {
        if let Some(refusal) = self.check_duties(by, Deed::Settle(payload)) {
            return refusal;
        }
        if let Some(number) = self.settled_requests.get(&payload.request_id) {
            let existing = &self.settlements[usize::try_from(*number - 1).expect("few")];
            if existing.payload == *payload {
                return Answer::Settlement(existing.view());
            }
            return refused("REQUEST_ID_REUSED");
        }
        let Some(program) = provider_program(payload.provider) else {
            return refused("NOT_FOUND");
        };
        if program != payload.program {
            return refused("PROGRAM_MISMATCH");
        }
        let lines: Vec<usize> = self
            .gathered(payload)
            .into_iter()
            .take(SETTLEMENT_LINES_MAX)
            .collect();
        let key = (payload.provider, payload.program);
        let open = self.receivables.entry(key).or_default();
        let clawbacks: Vec<(u64, Fen)> =
            open.drain(..open.len().min(SETTLEMENT_LINES_MAX)).collect();
        if lines.is_empty() && clawbacks.is_empty() {
            return refused("NOTHING_TO_SETTLE");
        }
        let number = Model::next_number(self.settlements.len());
        let mut gross = Fen(0);
        for index in &lines {
            let redemption = &mut self.redemptions[*index];
            redemption.status = RedemptionStatus::Settled;
            redemption.settlement = Some(number);
            gross = gross.plus(redemption.subsidy);
        }
        let mut clawed_back = Fen(0);
        for (redemption, amount) in &clawbacks {
            let index = self.redemption_index(*redemption).expect("clawed back");
            self.redemptions[index].clawback = Clawback::Netted(number);
            clawed_back = clawed_back.plus(*amount);
        }
        self.settlements.push(ModelSettlement {
            number,
            payload: payload.clone(),
            lines: lines
                .iter()
                .map(|index| self.redemptions[*index].number)
                .collect(),
            gross,
            clawbacks,
            clawed_back,
            made_on: self.today,
            payment: None,
            created_by: by,
        });
        self.settled_requests
            .insert(payload.request_id.clone(), number);
        Answer::Settlement(self.settlements.last().expect("just pushed").view())
    }

    /// A payment: the statement must exist; a paid one answers the same payment again and
    /// refuses any other; otherwise the day lies between the day it was made and today.
    pub fn pay(
        &mut self,
        number: u64,
        reference: &'static str,
        paid_on: NaiveDate,
        by: Who,
    ) -> Answer {
        if let Some(refusal) = self.check_duties(by, Deed::Pay(number)) {
            return refusal;
        }
        let today = self.today;
        let Some(statement) = usize::try_from(number - 1)
            .ok()
            .and_then(|index| self.settlements.get_mut(index))
        else {
            return refused("NOT_FOUND");
        };
        match statement.payment {
            Some((first, day, _)) if (first, day) == (reference, paid_on) => {}
            Some(_) => return refused("SETTLEMENT_ALREADY_PAID"),
            None if paid_on < statement.made_on || paid_on > today => {
                return refused("PAYMENT_DATE_OUT_OF_RANGE");
            }
            None => statement.payment = Some((reference, paid_on, by)),
        }
        Answer::Settlement(statement.view())
    }

    /// Related parties: both must be registered (provider first); recording a pair again
    /// answers the record as first made.
    pub fn relate(
        &mut self,
        provider: &'static str,
        enterprise: &'static str,
        why: &'static str,
        by: Who,
    ) -> Answer {
        if let Some(refusal) = self.check_duties(by, Deed::In(provider_program(provider))) {
            return refusal;
        }
        if provider_program(provider).is_none() {
            return refused("NOT_FOUND");
        }
        if !ENTERPRISES.contains(&enterprise) {
            return refused("NOT_FOUND");
        }
        let reason = *self.related.entry((provider, enterprise)).or_insert(why);
        Answer::RelatedParties(RelatedPartiesView {
            provider: provider.to_owned(),
            enterprise: enterprise.to_owned(),
            reason: reason.to_owned(),
        })
    }

    /// Revoking releases the remainder; revoking again returns the record unchanged; an
    /// expired voucher is not active and cannot be revoked.
    pub fn revoke(&mut self, number: u64, by: Who) -> Answer {
        let program = self.voucher(number).map(|voucher| voucher.program);
        if let Some(refusal) = self.check_duties(by, Deed::In(program)) {
            return refusal;
        }
        let Some(voucher) = self.voucher_mut(number) else {
            return refused("NOT_FOUND");
        };
        match voucher.status {
            VoucherStatus::Active => {
                voucher.status = VoucherStatus::Revoked;
                voucher.closed_by = Some(by);
            }
            VoucherStatus::Revoked => {}
            VoucherStatus::Expired => return refused("VOUCHER_NOT_ACTIVE"),
        }
        Answer::Voucher(voucher.view())
    }

    /// The claims a statement for `payload` gathers, in redemption order: the provider's
    /// approved claims under the program with invoices up to the date.
    pub fn gathered(&self, payload: &SettlePayload) -> Vec<usize> {
        self.redemptions
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.payload.seller == payload.provider
                    && r.program == payload.program
                    && r.status == RedemptionStatus::Approved
                    && r.payload.invoice_date <= payload.up_to
            })
            .map(|(index, _)| index)
            .collect()
    }

    /// The program of claim number n, if there is one.
    pub fn claim_program(&self, number: u64) -> Option<ProgramCode> {
        self.redemption_index(number)
            .map(|index| self.redemptions[index].program)
    }

    /// A voucher expires the day after its redeem_by.
    pub fn advance(&mut self, days: i64) {
        self.today = shift(self.today, days);
        let today = self.today;
        for voucher in &mut self.vouchers {
            if voucher.is_active() && voucher.redeem_by < today {
                voucher.status = VoucherStatus::Expired;
                voucher.closed_by = Some(Who::Ledger);
            }
        }
    }
}

/// The providers a voucher of `program` is bound to: each must be registered as a provider
/// (NOT_FOUND), of that program (PROGRAM_MISMATCH).
pub fn check_providers(
    program: ProgramCode,
    providers: &[&'static str],
) -> Result<(), &'static str> {
    for provider in providers {
        match provider_program(provider) {
            None => return Err("NOT_FOUND"),
            Some(registered) if registered != program => return Err("PROGRAM_MISMATCH"),
            Some(_) => {}
        }
    }
    Ok(())
}

/// An issue request's validity and the cap period holding it, or the reason it is refused:
/// every date given must lie in the term (OUTSIDE_POLICY_TERM), and both in one cap period
/// (VALIDITY_CROSSES_CAP_PERIOD). A date not given is the edge of the cap period holding the
/// other, or of today's.
fn validity_of(
    program: ProgramCode,
    today: NaiveDate,
    valid_from: Option<NaiveDate>,
    valid_until: Option<NaiveDate>,
) -> Result<(Period, Period), &'static str> {
    Ok(match (valid_from, valid_until) {
        (None, None) => match period_holding(program, today) {
            Some(period) => (period, period),
            None => return Err("OUTSIDE_POLICY_TERM"),
        },
        (Some(from), None) => match period_holding(program, from) {
            Some(period) => (
                Period {
                    first: from,
                    last: period.last,
                },
                period,
            ),
            None => return Err("OUTSIDE_POLICY_TERM"),
        },
        (None, Some(until)) => match period_holding(program, until) {
            Some(period) => (
                Period {
                    first: period.first,
                    last: until,
                },
                period,
            ),
            None => return Err("OUTSIDE_POLICY_TERM"),
        },
        (Some(from), Some(until)) => {
            assert!(from <= until, "the test never reverses a window");
            match (
                period_holding(program, from),
                period_holding(program, until),
            ) {
                (Some(first), Some(last)) if first == last => (
                    Period {
                        first: from,
                        last: until,
                    },
                    first,
                ),
                (Some(_), Some(_)) => return Err("VALIDITY_CROSSES_CAP_PERIOD"),
                _ => return Err("OUTSIDE_POLICY_TERM"),
            }
        }
    })
}
