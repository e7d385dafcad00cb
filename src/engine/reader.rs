//! The read side: authentication and queries, served from the store without the writer.
//!
//! It sees what the writer has applied to the store. A batch becomes visible here a moment
//! before its fsync returns; its callers are answered only after.

use std::sync::Arc;

use chrono::NaiveDate;

use super::{ClockSource, EngineError};
use crate::domain::credit_code::CreditCode;
use crate::domain::error::{LedgerError, RefusalReason};
use crate::domain::ids::{RedemptionId, VoucherId};
use crate::domain::ledger::unknown_credit_code;
use crate::domain::model::{
    Actor, Balance, CapKey, Enterprise, Redemption, SecretHash, Token, Voucher,
};
use crate::domain::policy::{Policy, ProgramCode};
use crate::store::{Page, RedemptionFilter, Store, VoucherFilter};

/// How many index entries one page may examine, whatever its filter.
pub const PAGE_SCAN_MAX: usize = 10_000;

#[derive(Clone)]
pub struct Reader {
    store: Store,
    policy: Arc<Policy>,
    clock: ClockSource,
}

impl Reader {
    pub(super) fn new(store: Store, policy: Arc<Policy>, clock: ClockSource) -> Reader {
        Reader {
            store,
            policy,
            clock,
        }
    }

    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    pub fn today(&self) -> NaiveDate {
        self.clock.now().today
    }

    pub fn now(&self) -> crate::domain::dates::Clock {
        self.clock.now()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The active token whose secret this is, if any.
    pub fn authenticate(&self, secret: &str) -> Result<Option<Token>, EngineError> {
        let token = self.store.token_by_secret(&SecretHash::of(secret).0)?;
        Ok(token.filter(Token::is_active))
    }

    pub fn enterprise(&self, code: &CreditCode) -> Result<Enterprise, EngineError> {
        self.store
            .enterprise(code)?
            .ok_or_else(|| unknown_credit_code(code, "credit_code", "enterprise").into())
    }

    pub fn voucher(&self, voucher_id: &VoucherId) -> Result<Voucher, EngineError> {
        self.store.voucher(voucher_id)?.ok_or_else(|| {
            LedgerError::not_found("voucher_id", format!("no voucher {voucher_id}")).into()
        })
    }

    /// One redemption; a provider sees only its own, and others' look like they do not exist.
    pub fn redemption(
        &self,
        redemption_id: &RedemptionId,
        actor: Actor,
    ) -> Result<Redemption, EngineError> {
        let not_found =
            || LedgerError::not_found("redemption_id", format!("no redemption {redemption_id}"));
        let redemption = self
            .store
            .redemption(redemption_id)?
            .ok_or_else(not_found)?;
        match actor {
            Actor::Provider(code) if code != redemption.provider_credit_code => {
                Err(not_found().into())
            }
            _ => Ok(redemption),
        }
    }

    pub fn list_vouchers(
        &self,
        filter: VoucherFilter,
        after: Option<VoucherId>,
        limit: usize,
    ) -> Result<Page<Voucher>, EngineError> {
        Ok(self
            .store
            .list_vouchers(filter, after, limit, PAGE_SCAN_MAX.max(limit))?)
    }

    /// Redemptions matching `filter`; a provider's filter is pinned to its own code.
    pub fn list_redemptions(
        &self,
        mut filter: RedemptionFilter,
        actor: Actor,
        after: Option<RedemptionId>,
        limit: usize,
    ) -> Result<Page<Redemption>, EngineError> {
        if let Actor::Provider(own_code) = actor {
            if filter
                .provider_credit_code
                .is_some_and(|code| code != own_code)
            {
                return Err(LedgerError::permission_denied(
                    "a provider may list only its own redemptions",
                )
                .into());
            }
            filter.provider_credit_code = Some(own_code);
        }
        Ok(self
            .store
            .list_redemptions(filter, after, limit, PAGE_SCAN_MAX.max(limit))?)
    }

    /// The enterprise's balance under `program` for the cap period holding `on_date` (today
    /// by default).
    pub fn balance(
        &self,
        code: &CreditCode,
        program: ProgramCode,
        on_date: Option<NaiveDate>,
    ) -> Result<Balance, EngineError> {
        if self.store.enterprise(code)?.is_none() {
            return Err(unknown_credit_code(code, "enterprise_credit_code", "enterprise").into());
        }
        let rules = self.policy.program(program)?;
        let date = on_date.unwrap_or_else(|| self.today());
        let period = self
            .policy
            .cap_period_containing(rules, date)
            .ok_or_else(|| {
                LedgerError::refused(
                    RefusalReason::OutsidePolicyTerm,
                    format!(
                        "{date} is outside the policy term {} to {}",
                        self.policy.term.first, self.policy.term.last
                    ),
                )
            })?;
        let key = CapKey {
            enterprise_credit_code: *code,
            program,
            period_start: period.first,
        };
        let account = self.store.cap_account(&key)?;
        Ok(Balance::of(key, period, account.as_ref(), rules.cap))
    }
}
