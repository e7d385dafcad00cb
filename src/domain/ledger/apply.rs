//! Applying events: the only code that changes the ledger's state.
//!
//! An event is a fact already decided, so applying it cannot fail; what it can do is find that
//! the state contradicts it, and then it stops the process (TigerBeetle style) rather than keep
//! serving from a state that is wrong about public money.

use super::Ledger;
use crate::domain::event::Event;
use crate::domain::ids::{RedemptionId, TokenId, VoucherId};
use crate::domain::model::{
    CapAccount, Enterprise, Provider, Redemption, RedemptionStatus, Role, Timestamp, Token,
    Voucher, VoucherStatus,
};
use crate::domain::money::Money;
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
        assert!(
            previous_invoice.is_none(),
            "invoice {} redeemed twice",
            redemption.invoice.number
        );
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
        assert_eq!(
            redemption.status,
            RedemptionStatus::Accepted,
            "{redemption_id} reversed twice"
        );
        redemption.status = RedemptionStatus::Reversed;
        redemption.reversal_reason = Some(reason.clone());
        redemption.reversed_at = Some(at);
        redemption.reversed_by = Some(by);
        let subsidy = redemption.subsidy;
        let year = redemption.cap_year();
        let provider_code = redemption.provider_credit_code;
        let voucher = self
            .vouchers
            .get_mut(&redemption.voucher_id)
            .expect("redeemed voucher exists");
        voucher.redeemed = subtract(voucher.redeemed, subsidy);
        let voucher_active = voucher.is_active();
        let key = voucher.cap_key();
        let program_period = voucher.program_period();
        let totals = self
            .program_totals
            .get_mut(&program_period)
            .expect("an issued voucher is counted");
        totals.redeemed = totals
            .redeemed
            .minus(subsidy)
            .expect("program totals never go below zero");
        totals.reversed = totals.reversed.plus(subsidy);
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
            .expect("program totals never go below zero");
        provider.reversed = provider.reversed.plus(subsidy);
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
            // A closed voucher commits only what it redeemed, so a reversal releases it too.
            account.committed = subtract(account.committed, subsidy);
        }
        assert_account_holds(account);
    }
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
