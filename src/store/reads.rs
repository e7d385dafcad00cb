//! Reads for the query side: single records by key, and bounded pages in id order.
//!
//! Reads see what the writer has applied, never wait for it, and never take a lock it needs.
//! A page examines at most `scan_max` index entries, so a filter that matches little cannot
//! make one request walk the whole store: such a page comes back short, with a token to go on.

use std::ops::Bound;

use chrono::NaiveDate;
use serde::Deserialize;

use super::seam::{ReadStore, RecordAudit};
use super::{ChainHead, Store, StoreError, decode, keys};
use crate::domain::credit_code::CreditCode;
use crate::domain::ids::{ApplicationId, NoticeId, RedemptionId, SettlementId, TokenId, VoucherId};
use crate::domain::model::{
    ApplicationStatus, CapAccount, CapKey, Enterprise, ProgramPeriod, ProgramTotals, Provider,
    ProviderTotals, PublicNotice, Redemption, RedemptionStatus, Settlement, Token, Voucher,
    VoucherApplication,
};
use crate::domain::policy::ProgramCode;

/// One page of results, and where the next one starts (`None` on the last page).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_after: Option<String>,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct VoucherFilter {
    pub enterprise_credit_code: Option<CreditCode>,
    pub program: Option<ProgramCode>,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct RedemptionFilter {
    pub enterprise_credit_code: Option<CreditCode>,
    pub provider_credit_code: Option<CreditCode>,
    pub program: Option<ProgramCode>,
    pub invoice_date_from: Option<NaiveDate>,
    pub invoice_date_to: Option<NaiveDate>,
    pub status: Option<RedemptionStatus>,
}

/// Which statements: a provider's (or everyone's), a program's (or every program's).
#[derive(Clone, Copy, Debug, Default)]
pub struct SettlementFilter {
    pub provider_credit_code: Option<CreditCode>,
    pub program: Option<ProgramCode>,
}

impl RedemptionFilter {
    fn admits(&self, redemption: &Redemption) -> bool {
        let date = redemption.invoice.date;
        self.enterprise_credit_code
            .is_none_or(|code| code == redemption.enterprise_credit_code)
            && self
                .provider_credit_code
                .is_none_or(|code| code == redemption.provider_credit_code)
            && self
                .program
                .is_none_or(|program| program == redemption.program)
            && self.invoice_date_from.is_none_or(|from| date >= from)
            && self.invoice_date_to.is_none_or(|to| date <= to)
            && self.status.is_none_or(|status| status == redemption.status)
    }
}

impl ReadStore for Store {
    fn enterprise(&self, code: &CreditCode) -> Result<Option<Enterprise>, StoreError> {
        self.get(&keys::enterprise(code), "enterprise")
    }

    fn provider(&self, code: &CreditCode) -> Result<Option<Provider>, StoreError> {
        self.get(&keys::provider(code), "provider")
    }

    /// The token whose secret hashes to `secret_sha256_hex`, revoked or not.
    fn token_by_secret(&self, secret_sha256_hex: &str) -> Result<Option<Token>, StoreError> {
        let Some(id_bytes) = self.tree.get(&keys::token_secret(secret_sha256_hex))? else {
            return Ok(None);
        };
        let id_text = std::str::from_utf8(&id_bytes)
            .map_err(|_| StoreError::Corrupt("token index".to_owned()))?;
        let token_id =
            TokenId::parse(id_text).map_err(|error| StoreError::Corrupt(error.message))?;
        self.get(&keys::token(&token_id), "token")
    }

    /// A token by its id, revoked or not.
    fn token(&self, token_id: &TokenId) -> Result<Option<Token>, StoreError> {
        self.get(&keys::token(token_id), "token")
    }

    fn voucher(&self, voucher_id: &VoucherId) -> Result<Option<Voucher>, StoreError> {
        self.get(&keys::voucher(voucher_id), "voucher")
    }

    fn redemption(&self, redemption_id: &RedemptionId) -> Result<Option<Redemption>, StoreError> {
        self.get(&keys::redemption(redemption_id), "redemption")
    }

    fn cap_account(&self, key: &CapKey) -> Result<Option<CapAccount>, StoreError> {
        self.get(&keys::cap_account(key), "cap account")
    }

    fn application(
        &self,
        application_id: &ApplicationId,
    ) -> Result<Option<VoucherApplication>, StoreError> {
        self.get(&keys::application(application_id), "application")
    }

    /// Applications in id order after `after`, through the enterprise index when one is named.
    fn list_applications(
        &self,
        enterprise: Option<CreditCode>,
        status: Option<ApplicationStatus>,
        after: Option<ApplicationId>,
        limit: usize,
        scan_max: usize,
    ) -> Result<Page<VoucherApplication>, StoreError> {
        let admits = |application: &VoucherApplication| {
            status.is_none_or(|status| status == application.status)
        };
        let after = after.map(|id| id.to_string());
        match enterprise {
            Some(code) => {
                let prefix = keys::index_prefix(keys::APPLICATIONS_BY_ENTERPRISE, &code);
                self.page_through_index(&prefix, after, limit, scan_max, |id| {
                    let application_id =
                        ApplicationId::parse(id).map_err(|e| StoreError::Corrupt(e.message))?;
                    Ok(self.application(&application_id)?.filter(admits))
                })
            }
            None => self.page_through_records(
                keys::APPLICATIONS,
                after,
                limit,
                scan_max,
                |application: VoucherApplication| admits(&application).then_some(application),
            ),
        }
    }

    fn notice(&self, notice_id: &NoticeId) -> Result<Option<PublicNotice>, StoreError> {
        self.get(&keys::notice(notice_id), "notice")
    }

    fn list_notices(
        &self,
        after: Option<NoticeId>,
        limit: usize,
    ) -> Result<Page<PublicNotice>, StoreError> {
        self.page_through_records(
            keys::NOTICES,
            after.map(|id| id.to_string()),
            limit,
            limit,
            Some,
        )
    }

    /// Vouchers in id order after `after`, through the enterprise index when one is named.
    fn list_vouchers(
        &self,
        filter: VoucherFilter,
        after: Option<VoucherId>,
        limit: usize,
        scan_max: usize,
    ) -> Result<Page<Voucher>, StoreError> {
        let admits = |voucher: &Voucher| {
            filter
                .program
                .is_none_or(|program| program == voucher.program)
        };
        match filter.enterprise_credit_code {
            Some(code) => {
                let prefix = keys::index_prefix(keys::VOUCHERS_BY_ENTERPRISE, &code);
                self.page_through_index(
                    &prefix,
                    after.map(|id| id.to_string()),
                    limit,
                    scan_max,
                    |id| {
                        let voucher_id =
                            VoucherId::parse(id).map_err(|e| StoreError::Corrupt(e.message))?;
                        Ok(self.voucher(&voucher_id)?.filter(admits))
                    },
                )
            }
            None => self.page_through_records(
                keys::VOUCHERS,
                after.map(|id| id.to_string()),
                limit,
                scan_max,
                |v: Voucher| admits(&v).then_some(v),
            ),
        }
    }

    /// Redemptions in id order after `after`, through the narrowest index the filter allows.
    fn list_redemptions(
        &self,
        filter: RedemptionFilter,
        after: Option<RedemptionId>,
        limit: usize,
        scan_max: usize,
    ) -> Result<Page<Redemption>, StoreError> {
        let after = after.map(|id| id.to_string());
        let index = match (filter.enterprise_credit_code, filter.provider_credit_code) {
            (Some(code), _) => Some(keys::index_prefix(keys::REDEMPTIONS_BY_ENTERPRISE, &code)),
            (None, Some(code)) => Some(keys::index_prefix(keys::REDEMPTIONS_BY_PROVIDER, &code)),
            (None, None) => None,
        };
        match index {
            Some(prefix) => self.page_through_index(&prefix, after, limit, scan_max, |id| {
                let redemption_id =
                    RedemptionId::parse(id).map_err(|e| StoreError::Corrupt(e.message))?;
                Ok(self
                    .redemption(&redemption_id)?
                    .filter(|r| filter.admits(r)))
            }),
            None => self.page_through_records(
                keys::REDEMPTIONS,
                after,
                limit,
                scan_max,
                |r: Redemption| filter.admits(&r).then_some(r),
            ),
        }
    }

    /// One program-period's cap accounts, in credit code order after `after`.
    fn cap_accounts_of(
        &self,
        program_period: &ProgramPeriod,
        after: Option<CreditCode>,
        limit: usize,
    ) -> Result<Page<CapAccount>, StoreError> {
        let prefix = keys::program_period_prefix(keys::CAP_ACCOUNTS, program_period);
        self.page_through_records(
            &prefix,
            after.map(|code| code.to_string()),
            limit,
            limit,
            Some,
        )
    }

    fn settlement(&self, settlement_id: &SettlementId) -> Result<Option<Settlement>, StoreError> {
        self.get(&keys::settlement(settlement_id), "settlement")
    }

    /// Statements in id order after `after`, through the provider index when one is named.
    fn list_settlements(
        &self,
        provider: Option<CreditCode>,
        program: Option<ProgramCode>,
        after: Option<SettlementId>,
        limit: usize,
        scan_max: usize,
    ) -> Result<Page<Settlement>, StoreError> {
        let admits =
            |settlement: &Settlement| program.is_none_or(|program| program == settlement.program);
        let after = after.map(|id| id.to_string());
        match provider {
            Some(code) => {
                let prefix = keys::index_prefix(keys::SETTLEMENTS_BY_PROVIDER, &code);
                self.page_through_index(&prefix, after, limit, scan_max, |id| {
                    let settlement_id =
                        SettlementId::parse(id).map_err(|e| StoreError::Corrupt(e.message))?;
                    Ok(self.settlement(&settlement_id)?.filter(admits))
                })
            }
            None => self.page_through_records(
                keys::SETTLEMENTS,
                after,
                limit,
                scan_max,
                |s: Settlement| admits(&s).then_some(s),
            ),
        }
    }

    /// Enterprises in credit code order after `after`, those `keep` admits.
    fn list_enterprises(
        &self,
        after: Option<CreditCode>,
        limit: usize,
        scan_max: usize,
        keep: &dyn Fn(&Enterprise) -> bool,
    ) -> Result<Page<Enterprise>, StoreError> {
        self.page_through_records(
            keys::ENTERPRISES,
            after.map(|code| code.to_string()),
            limit,
            scan_max,
            |enterprise: Enterprise| keep(&enterprise).then_some(enterprise),
        )
    }

    /// Providers in credit code order after `after`.
    fn list_providers(
        &self,
        after: Option<CreditCode>,
        limit: usize,
    ) -> Result<Page<Provider>, StoreError> {
        self.page_through_records(
            keys::PROVIDERS,
            after.map(|code| code.to_string()),
            limit,
            limit,
            Some,
        )
    }

    fn program_totals(
        &self,
        program_period: &ProgramPeriod,
    ) -> Result<Option<ProgramTotals>, StoreError> {
        self.get(&keys::program_totals(program_period), "program totals")
    }

    /// Up to `limit` providers' totals for one program-period, in credit code order, and
    /// whether there were more.
    fn provider_totals_of(
        &self,
        program_period: &ProgramPeriod,
        limit: usize,
    ) -> Result<(Vec<(CreditCode, ProviderTotals)>, bool), StoreError> {
        let prefix = keys::program_period_prefix(keys::PROVIDER_TOTALS, program_period);
        let mut totals = Vec::new();
        for entry in self.tree.scan_prefix(&prefix) {
            if totals.len() == limit {
                return Ok((totals, true));
            }
            let (key, value) = entry?;
            let code_text = std::str::from_utf8(&key[prefix.len()..])
                .map_err(|_| StoreError::Corrupt("provider totals key".to_owned()))?;
            let code =
                CreditCode::parse(code_text).map_err(|error| StoreError::Corrupt(error.message))?;
            totals.push((code, decode(&value, "provider totals")?));
        }
        Ok((totals, false))
    }

    fn visit_events(
        &self,
        from: u64,
        through: u64,
        visit: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let range = self.tree.range(
            Bound::Included(keys::event(from.max(1))),
            Bound::Included(keys::event(through)),
        );
        for entry in range {
            let (key, bytes) = entry?;
            let sequence = keys::event_sequence(&key)
                .ok_or_else(|| StoreError::Corrupt("malformed event key".to_owned()))?;
            if !visit(sequence, &bytes) {
                break;
            }
        }
        Ok(())
    }

    fn stored_head(&self) -> Result<ChainHead, StoreError> {
        match self.tree.get(keys::HEAD)? {
            Some(bytes) => decode(&bytes, "chain head"),
            None => Ok(ChainHead::genesis()),
        }
    }

    fn has_tokens(&self) -> Result<bool, StoreError> {
        Ok(self
            .tree
            .scan_prefix(keys::TOKENS)
            .next()
            .transpose()?
            .is_some())
    }

    fn size_on_disk_bytes(&self) -> Result<u64, StoreError> {
        self.tree.size_on_disk_bytes()
    }

    /// `mt/records_format`; absent in every directory written before records format 2.
    fn records_format(&self) -> Result<u32, StoreError> {
        match self.tree.get(keys::RECORDS_FORMAT)? {
            None => Ok(1),
            Some(bytes) => std::str::from_utf8(&bytes)
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| StoreError::Corrupt("mt/records_format is not a number".into())),
        }
    }

    fn record_audit(&self) -> Box<dyn RecordAudit + Send> {
        Box::new(super::verify::SledAudit::new(self))
    }
}

impl Store {
    fn get<T: for<'de> Deserialize<'de>>(
        &self,
        key: &[u8],
        what: &str,
    ) -> Result<Option<T>, StoreError> {
        self.tree
            .get(key)?
            .map(|bytes| decode(&bytes, what))
            .transpose()
    }

    /// Walks `<prefix><id>` index keys after `after`, resolving each id to a record.
    fn page_through_index<T>(
        &self,
        prefix: &[u8],
        after: Option<String>,
        limit: usize,
        scan_max: usize,
        mut resolve: impl FnMut(&str) -> Result<Option<T>, StoreError>,
    ) -> Result<Page<T>, StoreError> {
        self.page(prefix, after, limit, scan_max, |key, _| {
            let id =
                keys::indexed_id(key).ok_or_else(|| StoreError::Corrupt("index key".to_owned()))?;
            Ok((id.to_owned(), resolve(id)?))
        })
    }

    /// Walks `<prefix><id>` records after `after`, keeping those `keep` returns.
    fn page_through_records<R: for<'de> Deserialize<'de>, T>(
        &self,
        prefix: &[u8],
        after: Option<String>,
        limit: usize,
        scan_max: usize,
        mut keep: impl FnMut(R) -> Option<T>,
    ) -> Result<Page<T>, StoreError> {
        self.page(prefix, after, limit, scan_max, |key, value| {
            let id = std::str::from_utf8(&key[prefix.len()..])
                .map_err(|_| StoreError::Corrupt("record key".to_owned()))?;
            Ok((id.to_owned(), keep(decode(value, "record")?)))
        })
    }

    fn page<T>(
        &self,
        prefix: &[u8],
        after: Option<String>,
        limit: usize,
        scan_max: usize,
        mut read: impl FnMut(&[u8], &[u8]) -> Result<(String, Option<T>), StoreError>,
    ) -> Result<Page<T>, StoreError> {
        assert!(limit > 0 && scan_max >= limit);
        let start = match after {
            Some(id) => Bound::Excluded([prefix, id.as_bytes()].concat()),
            None => Bound::Included(prefix.to_vec()),
        };
        let mut entries = self.tree.range(start, Bound::Unbounded);
        let mut items = Vec::new();
        let mut last_examined = None;
        let mut examined = 0;
        while items.len() < limit && examined < scan_max {
            let Some(entry) = entries.next() else {
                return Ok(Page {
                    items,
                    next_after: None,
                });
            };
            let (key, value) = entry?;
            if !key.starts_with(prefix) {
                return Ok(Page {
                    items,
                    next_after: None,
                });
            }
            examined += 1;
            let (id, item) = read(&key, &value)?;
            items.extend(item);
            last_examined = Some(id);
        }
        let more = match entries.next() {
            Some(entry) => entry?.0.starts_with(prefix),
            None => false,
        };
        Ok(Page {
            items,
            next_after: if more { last_examined } else { None },
        })
    }
}
