//! Applying events: the only code that changes the ledger's state.
//!
//! An event is a fact already decided, so applying it cannot fail; what it can do is find that
//! the state contradicts it, and then it stops the process (TigerBeetle style) rather than keep
//! serving from a state that is wrong about public money.

use super::Ledger;
use crate::domain::credit_code::CreditCode;
use crate::domain::event::Event;
use crate::domain::ids::SettlementId;
use crate::domain::ids::{RedemptionId, TokenId, VoucherId};
use crate::domain::model::{
    CapAccount, Clawback, Enterprise, ProgramPeriod, Provider, Redemption, RedemptionStatus,
    RelatedParties, Role, Settlement, SettlementPayment, Timestamp, Token, Voucher, VoucherStatus,
};
use crate::domain::money::Money;
use crate::domain::money::Total;
use crate::domain::policy::ProgramCode;
use crate::domain::text::Reason;

impl Ledger {
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::PolicyAdopted { fingerprint, .. } => {
                self.adopted_policy_fingerprint = Some(fingerprint.clone());
            }
            Event::EnterpriseRegistered { enterprise } => self.apply_enterprise(enterprise),
            Event::ProviderRegistered { provider } => self.apply_provider(provider),
            Event::TokenCreated { token } => self.apply_token_created(token),
            Event::TokenRevoked { token_id, at } => self.apply_token_revoked(*token_id, *at),
            Event::VoucherIssued { voucher } => self.apply_voucher_issued(voucher),
            Event::VoucherRevoked {
                voucher_id,
                reason,
                at,
            } => self.apply_voucher_closed(*voucher_id, VoucherStatus::Revoked, Some(reason), *at),
            Event::VoucherExpired { voucher_id, at } => {
                self.apply_voucher_closed(*voucher_id, VoucherStatus::Expired, None, *at)
            }
            Event::RedemptionAccepted { redemption } => self.apply_redemption_accepted(redemption),
            Event::RedemptionReversed {
                redemption_id,
                reason,
                by,
                at,
            } => self.apply_redemption_reversed(*redemption_id, reason, *by, *at),
            Event::RedemptionApproved { redemption_id, at } => {
                self.apply_redemption_approved(*redemption_id, *at)
            }
            Event::RedemptionRejected {
                redemption_id,
                reason,
                at,
            } => self.apply_redemption_rejected(*redemption_id, reason, *at),
            Event::SettlementCreated { settlement } => self.apply_settlement(settlement),
            Event::RelatedPartiesRecorded { parties } => self.apply_related_parties(parties),
            Event::SettlementPaid {
                settlement_id,
                payment,
            } => self.apply_settlement_paid(*settlement_id, payment),
            Event::ProviderSuspended { .. }
            | Event::ProviderReinstated { .. }
            | Event::ProviderCertificatePinned { .. }
            | Event::ProviderCertificateRevoked { .. } => self.apply_access(event),
            Event::VoucherApplied { .. }
            | Event::ApplicationApproved { .. }
            | Event::ApplicationRejected { .. }
            | Event::VoucherProvidersChanged { .. }
            | Event::RedemptionConfirmed { .. }
            | Event::RedemptionDisputed { .. }
            | Event::RedemptionReturned { .. }
            | Event::NoticePublished { .. } => self.apply_enterprise_event(event),
        }
    }

    fn apply_enterprise(&mut self, enterprise: &Enterprise) {
        let previous = self
            .enterprises
            .insert(enterprise.credit_code, enterprise.clone());
        assert!(
            previous.is_none(),
            "enterprise {} registered twice",
            enterprise.credit_code
        );
    }

    fn apply_provider(&mut self, provider: &Provider) {
        let previous = self
            .providers
            .insert(provider.credit_code, provider.clone());
        assert!(
            previous.is_none(),
            "provider {} registered twice",
            provider.credit_code
        );
    }

    fn apply_token_created(&mut self, token: &Token) {
        let expected_id = self.last_token_id.map_or(TokenId::FIRST, TokenId::next);
        assert_eq!(token.token_id, expected_id, "token ids are sequential");
        assert_eq!(
            token.role == Role::Provider,
            token.provider_credit_code.is_some()
        );
        self.last_token_id = Some(token.token_id);
        let previous_secret = self
            .token_by_secret
            .insert(token.secret_sha256.clone(), token.token_id);
        assert!(previous_secret.is_none(), "two tokens share a secret");
        self.tokens.insert(token.token_id, token.clone());
    }

    fn apply_token_revoked(&mut self, token_id: TokenId, at: Timestamp) {
        let token = self
            .tokens
            .get_mut(&token_id)
            .expect("revoked token exists");
        assert!(token.is_active(), "token {token_id} revoked twice");
        token.revoked_at = Some(at);
    }

    fn apply_voucher_issued(&mut self, voucher: &Voucher) {
        let expected_id = self
            .last_voucher_id
            .map_or(VoucherId::FIRST, VoucherId::next);
        assert_eq!(
            voucher.voucher_id, expected_id,
            "voucher ids are sequential"
        );
        assert!(voucher.is_active() && voucher.redeemed.is_zero() && !voucher.face_value.is_zero());
        assert!(voucher.cap_period.contains_range(voucher.validity));
        assert!(
            self.enterprises
                .contains_key(&voucher.enterprise_credit_code)
        );
        self.last_voucher_id = Some(voucher.voucher_id);
        let new_account = !self.cap_accounts.contains_key(&voucher.cap_key());
        let totals = self
            .program_totals
            .entry(voucher.program_period())
            .or_default();
        totals.enterprises += u64::from(new_account);
        totals.vouchers += 1;
        totals.committed = totals.committed.plus(voucher.face_value);
        let account = self
            .cap_accounts
            .entry(voucher.cap_key())
            .or_insert_with(|| CapAccount::empty(voucher.cap_key(), voucher.cap_period));
        assert_eq!(account.period, voucher.cap_period, "one cap period per key");
        account.committed = add(account.committed, voucher.face_value);
        let previous_request = self
            .voucher_by_request
            .insert(voucher.request.request_id.clone(), voucher.voucher_id);
        assert!(
            previous_request.is_none(),
            "request id {} used twice",
            voucher.request.request_id
        );
        self.active_by_redeem_by
            .insert((voucher.redeem_by, voucher.voucher_id));
        self.vouchers.insert(voucher.voucher_id, voucher.clone());
    }

    fn apply_voucher_closed(
        &mut self,
        voucher_id: VoucherId,
        status: VoucherStatus,
        reason: Option<&Reason>,
        at: Timestamp,
    ) {
        let voucher = self
            .vouchers
            .get_mut(&voucher_id)
            .expect("closed voucher exists");
        assert!(voucher.is_active(), "voucher {voucher_id} closed twice");
        let released = subtract(voucher.face_value, voucher.redeemed);
        voucher.status = status;
        voucher.revocation_reason = reason.cloned();
        voucher.closed_at = Some(at);
        let removed = self
            .active_by_redeem_by
            .remove(&(voucher.redeem_by, voucher_id));
        assert!(removed, "an active voucher is in the expiry index");
        let key = voucher.cap_key();
        let totals = self
            .program_totals
            .get_mut(&voucher.program_period())
            .expect("an issued voucher is counted");
        totals.committed = totals
            .committed
            .minus(released)
            .expect("program totals never go below zero");
        let account = self
            .cap_accounts
            .get_mut(&key)
            .expect("an issued voucher has an account");
        account.committed = subtract(account.committed, released);
        assert_account_holds(account);
    }

    fn apply_redemption_accepted(&mut self, redemption: &Redemption) {
        let expected_id = self
            .last_redemption_id
            .map_or(RedemptionId::FIRST, RedemptionId::next);
        assert_eq!(
            redemption.redemption_id, expected_id,
            "redemption ids are sequential"
        );
        assert_eq!(redemption.status, RedemptionStatus::Accepted);
        assert!(!redemption.subsidy.is_zero() && redemption.subsidy <= redemption.computed_subsidy);
        self.last_redemption_id = Some(redemption.redemption_id);
        let voucher = self
            .vouchers
            .get_mut(&redemption.voucher_id)
            .expect("redeemed voucher exists");
        assert!(voucher.is_active(), "only an active voucher is redeemed");
        assert_eq!(voucher.program, redemption.program);
        assert_eq!(
            voucher.enterprise_credit_code,
            redemption.enterprise_credit_code
        );
        voucher.redeemed = add(voucher.redeemed, redemption.subsidy);
        assert!(
            voucher.redeemed <= voucher.face_value,
            "voucher {} over its face value",
            voucher.voucher_id
        );
        let key = voucher.cap_key();
        let program_period = voucher.program_period();
        let totals = self
            .program_totals
            .get_mut(&program_period)
            .expect("an issued voucher is counted");
        totals.redeemed = totals.redeemed.plus(redemption.subsidy);
        totals.redemptions += 1;
        totals.shift_months(redemption.months(), redemption.subsidy, true);
        let provider = self
            .provider_totals
            .entry((program_period, redemption.provider_credit_code))
            .or_default();
        provider.redemptions += 1;
        provider.redeemed = provider.redeemed.plus(redemption.subsidy);
        let account = self
            .cap_accounts
            .get_mut(&key)
            .expect("an issued voucher has an account");
        account.redeemed = add(account.redeemed, redemption.subsidy);
        let year_total = account
            .redeemed_by_year
            .entry(redemption.cap_year())
            .or_insert(Money::ZERO);
        *year_total = add(*year_total, redemption.subsidy);
        assert_account_holds(account);
        let previous_invoice = self
            .redemption_by_invoice
            .insert(redemption.invoice.number.clone(), redemption.redemption_id);
        assert_eq!(
            previous_invoice, redemption.corrects,
            "invoice {} claimed again without correcting its returned claim",
            redemption.invoice.number
        );
        if let Some(returned) = redemption.corrects {
            let returned = self
                .redemptions
                .get(&returned)
                .expect("a corrected claim exists");
            assert!(
                returned.status == RedemptionStatus::Returned
                    && returned.provider_credit_code == redemption.provider_credit_code
                    && returned.enterprise_credit_code == redemption.enterprise_credit_code,
                "{} corrects a claim that was not returned to its provider",
                redemption.redemption_id
            );
        }
        self.redemptions
            .insert(redemption.redemption_id, redemption.clone());
    }

    fn apply_redemption_reversed(
        &mut self,
        redemption_id: RedemptionId,
        reason: &Reason,
        by: Role,
        at: Timestamp,
    ) {
        let redemption = self
            .redemptions
            .get_mut(&redemption_id)
            .expect("reversed redemption exists");
        let was = redemption.status;
        assert!(was.counts(), "{redemption_id} reversed when {was:?}");
        redemption.status = RedemptionStatus::Reversed;
        redemption.reversal_reason = Some(reason.clone());
        redemption.reversed_at = Some(at);
        redemption.reversed_by = Some(by);
        let (subsidy, provider) = (redemption.subsidy, redemption.provider_credit_code);
        let program = redemption.program;
        match was {
            RedemptionStatus::Approved => self.forget_settleable(provider, program, redemption_id),
            RedemptionStatus::Settled => {
                // Paid already: the provider owes it back, netted by its next statement.
                let clawback = Clawback {
                    redemption_id,
                    amount: subsidy,
                    booked_at: at,
                };
                self.receivables
                    .entry((provider, program))
                    .or_default()
                    .push(clawback);
            }
            _ => {}
        }
        self.release_subsidy(redemption_id, Released::Reversed);
    }

    fn apply_redemption_approved(&mut self, redemption_id: RedemptionId, at: Timestamp) {
        let redemption = self
            .redemptions
            .get_mut(&redemption_id)
            .expect("approved redemption exists");
        assert_eq!(
            redemption.status,
            RedemptionStatus::Accepted,
            "{redemption_id} approved twice"
        );
        redemption.status = RedemptionStatus::Approved;
        redemption.approved_at = Some(at);
        let key = (redemption.provider_credit_code, redemption.program);
        let invoice_date = redemption.invoice.date;
        let previous = self
            .settleable
            .entry(key)
            .or_default()
            .insert(redemption_id, invoice_date);
        assert!(previous.is_none(), "{redemption_id} was already settleable");
    }

    fn apply_redemption_rejected(
        &mut self,
        redemption_id: RedemptionId,
        reason: &Reason,
        at: Timestamp,
    ) {
        let redemption = self
            .redemptions
            .get_mut(&redemption_id)
            .expect("rejected redemption exists");
        let was = redemption.status;
        assert!(
            matches!(was, RedemptionStatus::Accepted | RedemptionStatus::Approved),
            "{redemption_id} rejected when {was:?}"
        );
        redemption.status = RedemptionStatus::Rejected;
        redemption.rejection_reason = Some(reason.clone());
        redemption.rejected_at = Some(at);
        let (provider, program) = (redemption.provider_credit_code, redemption.program);
        if was == RedemptionStatus::Approved {
            self.forget_settleable(provider, program, redemption_id);
        }
        self.release_subsidy(redemption_id, Released::Rejected);
    }

    pub(super) fn forget_settleable(
        &mut self,
        provider: CreditCode,
        program: ProgramCode,
        redemption_id: RedemptionId,
    ) {
        let settleable = self
            .settleable
            .get_mut(&(provider, program))
            .expect("an approved claim is settleable");
        assert!(
            settleable.remove(&redemption_id).is_some(),
            "{redemption_id} was not settleable"
        );
        if settleable.is_empty() {
            self.settleable.remove(&(provider, program));
        }
    }

    /// Gives a redemption's subsidy back: to its voucher, its cap account, its program's and
    /// its provider's totals. A closed voucher commits only what it redeemed, so this releases
    /// the commitment too.
    /// Gives back the subsidy of a claim closed on review (rejected, disputed, returned).
    pub(super) fn release_rejected(&mut self, redemption_id: RedemptionId) {
        self.release_subsidy(redemption_id, Released::Rejected);
    }

    fn release_subsidy(&mut self, redemption_id: RedemptionId, how: Released) {
        let redemption = self
            .redemptions
            .get(&redemption_id)
            .expect("released redemption exists");
        let (subsidy, year, provider_code, months) = (
            redemption.subsidy,
            redemption.cap_year(),
            redemption.provider_credit_code,
            redemption.months(),
        );
        let voucher = self
            .vouchers
            .get_mut(&redemption.voucher_id)
            .expect("redeemed voucher exists");
        voucher.redeemed = subtract(voucher.redeemed, subsidy);
        let voucher_active = voucher.is_active();
        let (key, program_period) = (voucher.cap_key(), voucher.program_period());
        let totals = self
            .program_totals
            .get_mut(&program_period)
            .expect("an issued voucher is counted");
        totals.redeemed = totals
            .redeemed
            .minus(subsidy)
            .expect("program totals never go below zero");
        totals.shift_months(months, subsidy, false);
        if !voucher_active {
            totals.committed = totals
                .committed
                .minus(subsidy)
                .expect("program totals never go below zero");
        }
        let provider = self
            .provider_totals
            .get_mut(&(program_period, provider_code))
            .expect("the provider was counted");
        provider.redeemed = provider
            .redeemed
            .minus(subsidy)
            .expect("provider totals never go below zero");
        match how {
            Released::Reversed => {
                totals.reversed = totals.reversed.plus(subsidy);
                provider.reversed = provider.reversed.plus(subsidy);
            }
            Released::Rejected => {
                totals.rejected = totals.rejected.plus(subsidy);
                provider.rejected = provider.rejected.plus(subsidy);
            }
        }
        let account = self
            .cap_accounts
            .get_mut(&key)
            .expect("an issued voucher has an account");
        account.redeemed = subtract(account.redeemed, subsidy);
        let year_total = account
            .redeemed_by_year
            .get_mut(&year)
            .expect("the year was counted");
        *year_total = subtract(*year_total, subsidy);
        if !voucher_active {
            account.committed = subtract(account.committed, subsidy);
        }
        assert_account_holds(account);
    }

    fn apply_settlement(&mut self, settlement: &Settlement) {
        let expected_id = self
            .last_settlement_id
            .map_or(SettlementId::FIRST, SettlementId::next);
        assert_eq!(
            settlement.settlement_id, expected_id,
            "settlement ids are sequential"
        );
        self.last_settlement_id = Some(settlement.settlement_id);
        assert!(
            settlement.payment.is_none(),
            "{} is made unpaid",
            settlement.settlement_id
        );
        let key = (settlement.provider_credit_code, settlement.program);
        let mut gross = Total::ZERO;
        for redemption_id in &settlement.redemption_ids {
            self.forget_settleable(key.0, key.1, *redemption_id);
            let redemption = self
                .redemptions
                .get_mut(redemption_id)
                .expect("a settled redemption exists");
            assert_eq!(
                redemption.status,
                RedemptionStatus::Approved,
                "{redemption_id} settled unapproved"
            );
            redemption.status = RedemptionStatus::Settled;
            redemption.settlement_id = Some(settlement.settlement_id);
            gross = gross.plus(redemption.subsidy);
        }
        assert_eq!(
            gross, settlement.gross,
            "a statement's total is the sum of its lines"
        );
        let pending = self.receivables.entry(key).or_default();
        assert!(
            pending.len() >= settlement.clawbacks.len()
                && pending[..settlement.clawbacks.len()] == settlement.clawbacks[..],
            "a statement nets the oldest pending clawbacks"
        );
        let netted: Vec<Clawback> = pending.drain(..settlement.clawbacks.len()).collect();
        if pending.is_empty() {
            self.receivables.remove(&key);
        }
        let clawed_back = netted
            .iter()
            .fold(Total::ZERO, |sum, clawback| sum.plus(clawback.amount));
        assert_eq!(clawed_back, settlement.clawed_back);
        self.count_settled(settlement);
        let previous_request = self
            .settlement_by_request
            .insert(settlement.request_id.clone(), settlement.settlement_id);
        assert!(
            previous_request.is_none(),
            "settlement request {} used twice",
            settlement.request_id
        );
        self.settlements
            .insert(settlement.settlement_id, settlement.clone());
    }

    /// Adds a statement's lines to the settled totals of each program period, and takes its
    /// clawbacks off the periods they were paid in.
    fn count_settled(&mut self, settlement: &Settlement) {
        let provider = settlement.provider_credit_code;
        let mut changes: Vec<(ProgramPeriod, rust_decimal::Decimal)> = Vec::new();
        for redemption_id in &settlement.redemption_ids {
            let period = self.period_of(*redemption_id);
            changes.push((period, self.redemptions[redemption_id].subsidy.as_decimal()));
        }
        for clawback in &settlement.clawbacks {
            changes.push((
                self.period_of(clawback.redemption_id),
                -clawback.amount.as_decimal(),
            ));
        }
        for (period, change) in changes {
            let totals = self
                .program_totals
                .get_mut(&period)
                .expect("a settled claim's period is counted");
            totals.settled = shifted(totals.settled, change);
            let provider_totals = self
                .provider_totals
                .get_mut(&(period, provider))
                .expect("a settled claim's provider is counted");
            provider_totals.settled = shifted(provider_totals.settled, change);
        }
    }

    fn period_of(&self, redemption_id: RedemptionId) -> ProgramPeriod {
        let voucher_id = self.redemptions[&redemption_id].voucher_id;
        self.vouchers[&voucher_id].program_period()
    }

    fn apply_settlement_paid(&mut self, settlement_id: SettlementId, payment: &SettlementPayment) {
        let settlement = self
            .settlements
            .get_mut(&settlement_id)
            .expect("a paid statement exists");
        assert!(
            settlement.payment.is_none(),
            "statement {settlement_id} paid twice"
        );
        assert!(
            payment.paid_on >= settlement.made_on,
            "statement {settlement_id} paid before it was made"
        );
        settlement.payment = Some(payment.clone());
    }

    fn apply_related_parties(&mut self, parties: &RelatedParties) {
        let key = (parties.provider_credit_code, parties.enterprise_credit_code);
        let previous = self.related_parties.insert(key, parties.clone());
        assert!(previous.is_none(), "related parties {key:?} recorded twice");
    }
}

/// How a subsidy came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Released {
    Reversed,
    Rejected,
}

/// `total + change` for a signed change; a settled total never goes below zero.
fn shifted(total: Total, change: rust_decimal::Decimal) -> Total {
    Total::try_from(total.as_decimal() + change).expect("settled totals never go below zero")
}

fn add(total: Money, amount: Money) -> Money {
    total
        .checked_add(amount)
        .expect("ledger totals stay within Money::MAX_YUAN")
}

fn subtract(total: Money, amount: Money) -> Money {
    total
        .checked_sub(amount)
        .expect("ledger totals never go below zero")
}

fn assert_account_holds(account: &CapAccount) {
    assert!(
        account.redeemed <= account.committed,
        "cap account {:?}: redeemed {} over committed {}",
        account.key,
        account.redeemed,
        account.committed
    );
}
