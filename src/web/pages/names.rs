//! The names beside the codes in a page's tables: each distinct enterprise and provider code
//! the page shows is looked up once (a small map per page), never once per row, and a code
//! the ledger does not know is shown without a name rather than refusing the page.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use crate::domain::credit_code::CreditCode;
use crate::domain::error::LedgerError;
use crate::domain::model::Redemption;
use crate::engine::{EngineError, Reader};

/// The enterprises' and providers' names a page needs, by credit code.
#[derive(Default)]
pub struct Names {
    enterprises: BTreeMap<CreditCode, String>,
    providers: BTreeMap<CreditCode, String>,
}

impl Names {
    /// The names of `enterprises` and `providers`, each distinct code read once.
    pub fn read(
        reader: &Reader,
        enterprises: impl IntoIterator<Item = CreditCode>,
        providers: impl IntoIterator<Item = CreditCode>,
    ) -> Result<Names, EngineError> {
        let mut names = Names::default();
        for code in enterprises {
            if let Entry::Vacant(place) = names.enterprises.entry(code) {
                let name = known(reader.enterprise(&code).map(|found| found.name.to_string()))?;
                place.insert(name.unwrap_or_default());
            }
        }
        for code in providers {
            if let Entry::Vacant(place) = names.providers.entry(code) {
                let name = known(reader.provider(&code).map(|found| found.name.to_string()))?;
                place.insert(name.unwrap_or_default());
            }
        }
        Ok(names)
    }

    /// The names of the enterprises and providers of `claims`.
    pub fn of_claims<'c>(
        reader: &Reader,
        claims: impl IntoIterator<Item = &'c Redemption> + Clone,
    ) -> Result<Names, EngineError> {
        Names::read(
            reader,
            claims
                .clone()
                .into_iter()
                .map(|claim| claim.enterprise_credit_code),
            claims.into_iter().map(|claim| claim.provider_credit_code),
        )
    }

    /// Each of `claims` (a statement's lines) with its enterprise's name, for its documents.
    pub fn with_enterprise_names(
        reader: &Reader,
        claims: Vec<Redemption>,
    ) -> Result<Vec<(Redemption, String)>, EngineError> {
        let codes = claims.iter().map(|claim| claim.enterprise_credit_code);
        let names = Names::read(reader, codes, [])?;
        Ok(claims
            .into_iter()
            .map(|claim| {
                let name = names.enterprise(&claim.enterprise_credit_code).to_owned();
                (claim, name)
            })
            .collect())
    }

    /// The enterprise's name; empty when it was not read or is not registered.
    pub fn enterprise(&self, code: &CreditCode) -> &str {
        self.enterprises.get(code).map_or("", String::as_str)
    }

    /// The provider's name; empty when it was not read or is not registered.
    pub fn provider(&self, code: &CreditCode) -> &str {
        self.providers.get(code).map_or("", String::as_str)
    }
}

/// A record's name, `None` when the ledger has no such record; other failures are the page's.
fn known(read: Result<String, EngineError>) -> Result<Option<String>, EngineError> {
    match read {
        Ok(name) => Ok(Some(name)),
        Err(EngineError::Ledger(LedgerError::NotFound { .. })) => Ok(None),
        Err(error) => Err(error),
    }
}
