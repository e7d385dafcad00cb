//! The read side: authentication and queries, served from the store without the writer.
//!
//! It sees what the writer has applied to the store. A batch becomes visible here a moment
//! before its fsync returns; its callers are answered only after.

use std::sync::Arc;

use chrono::NaiveDate;

use super::{ClockSource, EngineError};
use crate::domain::credit_code::CreditCode;
use crate::domain::dates::DateRange;
use crate::domain::error::{LedgerError, RefusalReason};
use crate::domain::ids::{RedemptionId, VoucherId};
use crate::domain::ledger::unknown_credit_code;
use crate::domain::model::{
    Actor, Balance, CapKey, Enterprise, ProgramPeriod, ProgramSummary, Redemption, SecretHash,
    Token, Voucher,
};
use crate::domain::money::Money;
use crate::domain::policy::{Policy, ProgramCode};
use crate::store::{Page, RedemptionFilter, Store, VoucherFilter};

/// The most providers a program summary lists.
pub const SUMMARY_PROVIDERS_MAX: usize = 10_000;

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
        let enterprise = self
            .store
            .enterprise(code)?
            .ok_or_else(|| unknown_credit_code(code, "enterprise_credit_code", "enterprise"))?;
        let (program_period, period, cap) = self.program_period(program, on_date)?;
        let key = CapKey {
            enterprise_credit_code: *code,
            program,
            period_start: program_period.period_start,
        };
        let account = self.store.cap_account(&key)?;
        Ok(Balance::of(
            key,
            enterprise.name.to_string(),
            period,
            account.as_ref(),
            cap,
        ))
    }

    /// Every enterprise's balance under `program` in the cap period holding `on_date`, in
    /// credit code order after `after`.
    pub fn list_balances(
        &self,
        program: ProgramCode,
        on_date: Option<NaiveDate>,
        after: Option<CreditCode>,
        limit: usize,
    ) -> Result<Page<Balance>, EngineError> {
        let (program_period, period, cap) = self.program_period(program, on_date)?;
        let accounts = self.store.cap_accounts_of(&program_period, after, limit)?;
        let mut balances = Vec::with_capacity(accounts.items.len());
        for account in &accounts.items {
            let name = self
                .store
                .enterprise(&account.key.enterprise_credit_code)?
                .map(|e| e.name.to_string())
                .unwrap_or_default();
            balances.push(Balance::of(account.key, name, period, Some(account), cap));
        }
        Ok(Page {
            items: balances,
            next_after: accounts.next_after,
        })
    }

    /// The totals of `program` in the cap period holding `on_date`, with each provider's.
    pub fn program_summary(
        &self,
        program: ProgramCode,
        on_date: Option<NaiveDate>,
    ) -> Result<ProgramSummary, EngineError> {
        let (program_period, period, cap) = self.program_period(program, on_date)?;
        let totals = self
            .store
            .program_totals(&program_period)?
            .unwrap_or_default();
        let (provider_totals, providers_truncated) = self
            .store
            .provider_totals_of(&program_period, SUMMARY_PROVIDERS_MAX)?;
        let mut providers = Vec::with_capacity(provider_totals.len());
        for (code, totals) in provider_totals {
            let name = self
                .store
                .provider(&code)?
                .map(|provider| provider.name.to_string())
                .unwrap_or_default();
            providers.push((code, name, totals));
        }
        Ok(ProgramSummary {
            program_period,
            period,
            cap,
            totals,
            providers,
            providers_truncated,
        })
    }

    /// The cap period of `program` holding `on_date` (today by default), and its cap.
    fn program_period(
        &self,
        program: ProgramCode,
        on_date: Option<NaiveDate>,
    ) -> Result<(ProgramPeriod, DateRange, Money), EngineError> {
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
        Ok((
            ProgramPeriod {
                program,
                period_start: period.first,
            },
            period,
            rules.cap,
        ))
    }
}
