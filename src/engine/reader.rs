//! The read side: authentication and queries, served from the store without the writer.
//!
//! It sees what the writer has applied to the store. A batch becomes visible here a moment
//! before its fsync returns; its callers are answered only after.

use crate::domain::reason::ReasonCode;
use std::sync::Arc;

use chrono::NaiveDate;

use super::{ClockSource, EngineError};
use crate::domain::credit_code::CreditCode;
use crate::domain::dates::DateRange;
use crate::domain::error::LedgerError;
use crate::domain::ids::{RedemptionId, SettlementId, TokenId, VoucherId};
use crate::domain::ledger::unknown_credit_code;
use crate::domain::model::{
    Actor, Balance, BudgetView, CapKey, Enterprise, ProgramPeriod, ProgramSummary, Provider,
    Redemption, SecretHash, Settlement, Token, Voucher,
};
use crate::domain::money::Money;
use crate::domain::policy::{Policy, ProgramCode};
use crate::store::{Page, RedemptionFilter, SettlementFilter, SharedReadStore, VoucherFilter};

/// The most providers a program summary lists.
pub const SUMMARY_PROVIDERS_MAX: usize = 10_000;

/// How many index entries one page may examine, whatever its filter.
pub const PAGE_SCAN_MAX: usize = 10_000;

/// Pages of reversed claims ([`PAGE_SCAN_MAX`] each) [`Reader::open_clawbacks`] reads at most.
pub const CLAWBACK_SCAN_PAGES: usize = 2;

/// Statements of one provider and program read at most to see which clawbacks they netted.
pub const NETTING_STATEMENTS_MAX: usize = 1000;

/// What [`Reader::open_clawbacks`] found.
#[derive(Clone, Debug, Default)]
pub struct OpenClawbacks {
    /// The reversed claims a statement had paid and none has netted yet, in id order; each
    /// claws back its subsidy.
    pub claims: Vec<Redemption>,
    /// Whether the search stopped before the end (more reversed claims or statements than it
    /// reads): the list may then miss some, or hold some already netted.
    pub cut: bool,
}

#[derive(Clone)]
pub struct Reader {
    store: SharedReadStore,
    policy: Arc<Policy>,
    clock: ClockSource,
}

impl Reader {
    pub(super) fn new(store: SharedReadStore, policy: Arc<Policy>, clock: ClockSource) -> Reader {
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

    /// The store, for the daemon's start-up and the engine's own use; the API and the
    /// console read through the methods below (a test keeps them from the store).
    pub fn store(&self) -> &SharedReadStore {
        &self.store
    }

    /// The number of the last stored event.
    pub fn head_sequence(&self) -> Result<u64, EngineError> {
        Ok(self.store.stored_head()?.sequence)
    }

    /// The store's size on disk, for the metrics.
    pub fn size_on_disk_bytes(&self) -> Result<u64, EngineError> {
        Ok(self.store.size_on_disk_bytes()?)
    }

    /// The registered provider with this code, if there is one (authentication asks this;
    /// [`Reader::provider`] refuses a missing one instead).
    pub fn registered_provider(&self, code: &CreditCode) -> Result<Option<Provider>, EngineError> {
        Ok(self.store.provider(code)?)
    }

    /// Visits the stored events `from..=through` as auditors get them, in order, until
    /// `visit` returns false. An event that cannot be read is visited as an error, last.
    pub fn visit_exported_events(
        &self,
        from: u64,
        through: u64,
        visit: &mut dyn FnMut(Result<ExportedEvent, EngineError>) -> bool,
    ) -> Result<(), EngineError> {
        self.store
            .visit_events(from, through, &mut |_, bytes| {
                let exported = ExportedEvent::of(bytes);
                let failed = exported.is_err();
                visit(exported) && !failed
            })
            .map_err(EngineError::from)
    }

    /// Writes a backup of every event up to the head as of now to `out`.
    pub fn write_backup(
        &self,
        created_at: &str,
        out: &mut impl std::io::Write,
    ) -> Result<crate::store::backup::BackupSummary, crate::store::backup::BackupError> {
        crate::store::backup::write_backup(&*self.store, created_at, out)
    }

    /// The active token whose secret this is, if any.
    pub fn authenticate(&self, secret: &str) -> Result<Option<Token>, EngineError> {
        let token = self.store.token_by_secret(&SecretHash::of(secret).0)?;
        Ok(token.filter(Token::is_active))
    }

    /// The token with this id if it is still active: a console session ends with its token.
    pub fn active_token(&self, token_id: &TokenId) -> Result<Option<Token>, EngineError> {
        Ok(self.store.token(token_id)?.filter(Token::is_active))
    }

    pub fn enterprise(&self, code: &CreditCode) -> Result<Enterprise, EngineError> {
        self.store
            .enterprise(code)?
            .ok_or_else(|| unknown_credit_code(code, "credit_code", "enterprise").into())
    }

    pub fn provider(&self, code: &CreditCode) -> Result<Provider, EngineError> {
        self.store
            .provider(code)?
            .ok_or_else(|| unknown_credit_code(code, "credit_code", "provider").into())
    }

    /// Enterprises in credit code order after `after` whose code or name contains `search`
    /// anywhere, as typed (full-width or half-width, any case; every one when it is empty).
    pub fn list_enterprises(
        &self,
        search: &str,
        after: Option<CreditCode>,
        limit: usize,
    ) -> Result<Page<Enterprise>, EngineError> {
        let wanted = crate::domain::typed::normalise(search).to_uppercase();
        let keep = |enterprise: &Enterprise| {
            enterprise.credit_code.as_str().contains(&wanted)
                || crate::domain::typed::normalise(enterprise.name.as_str())
                    .to_uppercase()
                    .contains(&wanted)
        };
        Ok(self
            .store
            .list_enterprises(after, limit, PAGE_SCAN_MAX.max(limit), &keep)?)
    }

    /// Providers in credit code order after `after`.
    pub fn list_providers(
        &self,
        after: Option<CreditCode>,
        limit: usize,
    ) -> Result<Page<Provider>, EngineError> {
        Ok(self.store.list_providers(after, limit)?)
    }

    pub fn voucher(&self, voucher_id: &VoucherId) -> Result<Voucher, EngineError> {
        self.store.voucher(voucher_id)?.ok_or_else(|| {
            LedgerError::not_found("voucher_id", format!("no voucher {voucher_id}")).into()
        })
    }

    /// A voucher as `actor` may see it: an enterprise sees only its own, and others' look like
    /// they do not exist.
    pub fn voucher_for(
        &self,
        voucher_id: &VoucherId,
        actor: Actor,
    ) -> Result<Voucher, EngineError> {
        let voucher = self.voucher(voucher_id)?;
        match actor {
            Actor::Enterprise(own) if own != voucher.enterprise_credit_code => {
                Err(LedgerError::not_found("voucher_id", format!("no voucher {voucher_id}")).into())
            }
            _ => Ok(voucher),
        }
    }

    /// An enterprise as `actor` may see it: an enterprise sees only itself.
    pub fn enterprise_for(
        &self,
        code: &CreditCode,
        actor: Actor,
    ) -> Result<Enterprise, EngineError> {
        match actor {
            Actor::Enterprise(own) if own != *code => Err(LedgerError::not_found(
                "credit_code",
                format!("no enterprise is registered with credit code {code}"),
            )
            .into()),
            _ => self.enterprise(code),
        }
    }

    /// Fails unless `actor` may read `code`'s records: an enterprise reads only its own.
    pub fn check_own_enterprise(&self, code: &CreditCode, actor: Actor) -> Result<(), EngineError> {
        match actor {
            Actor::Enterprise(own) if own != *code => Err(LedgerError::permission_denied(
                "an enterprise reads only its own records",
            )
            .into()),
            _ => Ok(()),
        }
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
            Actor::Enterprise(code) if code != redemption.enterprise_credit_code => {
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
        if let Actor::Enterprise(own_code) = actor {
            if filter
                .enterprise_credit_code
                .is_some_and(|code| code != own_code)
            {
                return Err(LedgerError::permission_denied(
                    "an enterprise may list only its own claims",
                )
                .into());
            }
            filter.enterprise_credit_code = Some(own_code);
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

    /// Up to `limit` balances under `program` in the cap period holding `on_date`, in credit
    /// code order, read a page at a time; and whether there were more.
    pub fn balances_up_to(
        &self,
        program: ProgramCode,
        on_date: Option<NaiveDate>,
        limit: usize,
    ) -> Result<(Vec<Balance>, bool), EngineError> {
        const PAGE: usize = 1000;
        let mut balances: Vec<Balance> = Vec::new();
        let mut after = None;
        while balances.len() < limit {
            let page_size = PAGE.min(limit - balances.len());
            let page = self.list_balances(program, on_date, after, page_size)?;
            balances.extend(page.items);
            if page.next_after.is_none() {
                return Ok((balances, false));
            }
            after = balances
                .last()
                .map(|balance| balance.enterprise_credit_code);
        }
        Ok((balances, true))
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
            let name = self.provider_name(&code)?;
            providers.push((code, name, totals));
        }
        let budget = self
            .policy
            .program(program)?
            .budget_for(program_period.period_start);
        Ok(ProgramSummary {
            budget,
            program_period,
            period,
            cap,
            totals,
            providers,
            providers_truncated,
        })
    }

    /// A statement, its lines (the redemptions it settled) and its provider's name. A provider
    /// sees only its own; others' look like they do not exist.
    pub fn settlement(
        &self,
        settlement_id: &SettlementId,
        actor: Actor,
    ) -> Result<(Settlement, Vec<Redemption>, String), EngineError> {
        let not_found =
            || LedgerError::not_found("settlement_id", format!("no settlement {settlement_id}"));
        let settlement = self
            .store
            .settlement(settlement_id)?
            .ok_or_else(not_found)?;
        if let Actor::Provider(own) = actor
            && own != settlement.provider_credit_code
        {
            return Err(not_found().into());
        }
        let mut lines = Vec::with_capacity(settlement.redemption_ids.len());
        for redemption_id in &settlement.redemption_ids {
            let redemption = self.store.redemption(redemption_id)?.ok_or_else(|| {
                crate::store::StoreError::Corrupt(format!(
                    "{settlement_id} lists a missing {redemption_id}"
                ))
            })?;
            lines.push(redemption);
        }
        let name = self.provider_name(&settlement.provider_credit_code)?;
        Ok((settlement, lines, name))
    }

    /// Statements in id order after `after`; a provider's filter is pinned to its own code.
    pub fn list_settlements(
        &self,
        mut filter: SettlementFilter,
        actor: Actor,
        after: Option<SettlementId>,
        limit: usize,
    ) -> Result<Page<(Settlement, String)>, EngineError> {
        if let Actor::Provider(own) = actor {
            if filter.provider_credit_code.is_some_and(|code| code != own) {
                return Err(LedgerError::permission_denied(
                    "a provider may list only its own settlements",
                )
                .into());
            }
            filter.provider_credit_code = Some(own);
        }
        let page = self.store.list_settlements(
            filter.provider_credit_code,
            filter.program,
            after,
            limit,
            PAGE_SCAN_MAX.max(limit),
        )?;
        let mut items = Vec::with_capacity(page.items.len());
        for settlement in page.items {
            let name = self.provider_name(&settlement.provider_credit_code)?;
            items.push((settlement, name));
        }
        Ok(Page {
            items,
            next_after: page.next_after,
        })
    }

    /// The clawbacks not yet netted (open): claims reversed after a statement paid them,
    /// that no later statement of their provider and program has netted. `provider`: one
    /// provider's (through its index), or every provider's. Read from the claims and the
    /// statements, since the store keeps the ledger's queue of them for the writer only:
    /// at most [`CLAWBACK_SCAN_PAGES`] pages of reversed claims and
    /// [`NETTING_STATEMENTS_MAX`] statements per provider and program, `cut` when more were
    /// left unread.
    pub fn open_clawbacks(
        &self,
        provider: Option<CreditCode>,
    ) -> Result<OpenClawbacks, EngineError> {
        let filter = RedemptionFilter {
            provider_credit_code: provider,
            status: Some(crate::domain::model::RedemptionStatus::Reversed),
            ..RedemptionFilter::default()
        };
        let mut paid_then_reversed: Vec<Redemption> = Vec::new();
        let mut after = None;
        let mut cut = false;
        for page_number in 1..=CLAWBACK_SCAN_PAGES {
            let page = self
                .store
                .list_redemptions(filter, after, PAGE_SCAN_MAX, PAGE_SCAN_MAX)?;
            paid_then_reversed.extend(
                page.items
                    .into_iter()
                    .filter(|claim| claim.settlement_id.is_some()),
            );
            let Some(next) = page.next_after else { break };
            if page_number == CLAWBACK_SCAN_PAGES {
                cut = true;
                break;
            }
            after = Some(RedemptionId::parse(&next).map_err(|error| {
                crate::store::StoreError::Corrupt(format!("a page's next id: {}", error.message))
            })?);
        }
        let (netted, statements_cut) = self.netted_clawbacks(&paid_then_reversed)?;
        paid_then_reversed.retain(|claim| !netted.contains(&claim.redemption_id));
        Ok(OpenClawbacks {
            claims: paid_then_reversed,
            cut: cut || statements_cut,
        })
    }

    /// The claims among `claims` that a statement netted: each provider's and program's
    /// statements from the earliest that paid one of them on; and whether one of those reads
    /// was cut.
    fn netted_clawbacks(
        &self,
        claims: &[Redemption],
    ) -> Result<(std::collections::BTreeSet<RedemptionId>, bool), EngineError> {
        let mut earliest: std::collections::BTreeMap<(CreditCode, ProgramCode), SettlementId> =
            std::collections::BTreeMap::new();
        for claim in claims {
            if let Some(paid_by) = claim.settlement_id {
                let key = (claim.provider_credit_code, claim.program);
                let first = earliest.entry(key).or_insert(paid_by);
                *first = (*first).min(paid_by);
            }
        }
        let mut netted = std::collections::BTreeSet::new();
        let mut cut = false;
        for ((provider, program), paid_by) in earliest {
            let statements = self.store.list_settlements(
                Some(provider),
                Some(program),
                Some(paid_by),
                NETTING_STATEMENTS_MAX,
                PAGE_SCAN_MAX,
            )?;
            cut |= statements.next_after.is_some();
            let clawbacks = statements.items.iter().flat_map(|s| &s.clawbacks);
            netted.extend(clawbacks.map(|clawback| clawback.redemption_id));
        }
        Ok((netted, cut))
    }

    /// The program's budget in the cap period holding `on_date`, against its totals.
    pub fn budget(
        &self,
        program: ProgramCode,
        on_date: Option<NaiveDate>,
    ) -> Result<BudgetView, EngineError> {
        let (program_period, period, _) = self.program_period(program, on_date)?;
        let budget = self
            .policy
            .program(program)?
            .budget_for(program_period.period_start);
        let totals = self
            .store
            .program_totals(&program_period)?
            .unwrap_or_default();
        Ok(BudgetView {
            program_period,
            period,
            budget,
            committed: totals.committed,
            redeemed: totals.redeemed,
            settled: totals.settled,
        })
    }

    /// A provider's name, or empty when its record cannot be read with what names it.
    fn provider_name(&self, code: &CreditCode) -> Result<String, EngineError> {
        Ok(self
            .store
            .provider(code)?
            .map(|provider| provider.name.to_string())
            .unwrap_or_default())
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
                    ReasonCode::OutsidePolicyTerm,
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

/// One stored event as it is exported: its place in the chain, its kind, and its export line
/// (the stored record with its own SHA-256 added as the last field).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportedEvent {
    pub sequence: u64,
    pub previous_sha256: String,
    pub sha256: String,
    pub kind: &'static str,
    pub json: String,
    /// Who caused it.
    pub cause: crate::domain::model::EventCause,
    /// The records it touched.
    pub record_ids: Vec<String>,
}

impl ExportedEvent {
    fn of(bytes: &[u8]) -> Result<ExportedEvent, EngineError> {
        use sha2::Digest;
        let record = crate::store::format::decode_event(bytes).map_err(|error| {
            EngineError::Store(crate::store::StoreError::Corrupt(format!(
                "stored event: {error}"
            )))
        })?;
        Ok(ExportedEvent {
            sequence: record.sequence,
            previous_sha256: record.previous_sha256,
            sha256: hex::encode(sha2::Sha256::digest(bytes)),
            kind: record.event.name(),
            cause: record.cause.clone(),
            record_ids: record.event.record_ids(),
            json: crate::store::export_line(bytes),
        })
    }
}
