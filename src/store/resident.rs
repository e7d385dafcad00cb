//! Start-up without replaying the log: the writer's resident state read from the records, and
//! the store as the [`History`] the writer recalls closed redemptions from.
//!
//! The records are the checkpointed state: sled holds them as of its head, and the
//! write-ahead log's frames past that head are applied on top at start (each event recalling
//! what it touches from the records, which stand exactly before it). Only directories whose
//! records are in the current format load this way; an older one is replayed and rebuilt once
//! (`upgrade`).

use std::sync::Arc;

use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::{ReadStore, Store, StoreError, decode, keys};
use crate::domain::credit_code::CreditCode;
use crate::domain::ids::RedemptionId;
use crate::domain::invoice::InvoiceNumber;
use crate::domain::ledger::{History, HistoryError, Ledger, QueuedClaim, ResidentState};
use crate::domain::model::{ProgramPeriod, Redemption};
use crate::domain::policy::{Policy, ProgramCode};

/// The ledger's resident state as the records hold it, checked against the chain head: the
/// last event stored must hash to what the head names.
pub fn load_resident(store: &Store, policy: Arc<Policy>) -> Result<Ledger, StoreError> {
    check_head(store)?;
    let resident = ResidentState {
        adopted_policy_fingerprint: store
            .tree
            .get(keys::ADOPTED_POLICY)?
            .map(|bytes| text(&bytes, "adopted policy"))
            .transpose()?,
        enterprises: all(store, keys::ENTERPRISES, "enterprise")?,
        providers: all(store, keys::PROVIDERS, "provider")?,
        tokens: all(store, keys::TOKENS, "token")?,
        vouchers: all(store, keys::VOUCHERS, "voucher")?,
        cap_accounts: all(store, keys::CAP_ACCOUNTS, "cap account")?,
        program_totals: keyed(store, keys::PROGRAM_TOTALS, "program totals", |parts| {
            program_period(parts.first()?, parts.get(1)?)
        })?,
        provider_totals: keyed(store, keys::PROVIDER_TOTALS, "provider totals", |parts| {
            let period = program_period(parts.first()?, parts.get(1)?)?;
            Some((period, CreditCode::parse(parts.get(2)?).ok()?))
        })?,
        settlements: all(store, keys::SETTLEMENTS, "settlement")?,
        related_parties: all(store, keys::RELATED_PARTIES, "related parties")?,
        applications: all(store, keys::APPLICATIONS, "application")?,
        notices: all(store, keys::NOTICES, "notice")?,
        settleable: settlement_queue(store)?,
        receivables: keyed(store, keys::CLAWBACK_QUEUE, "clawback queue", |parts| {
            Some((
                CreditCode::parse(parts.first()?).ok()?,
                program(parts.get(1)?)?,
            ))
        })?,
        last_redemption_id: match store.tree.last_with_prefix(keys::REDEMPTIONS)? {
            Some((_, bytes)) => Some(decode::<Redemption>(&bytes, "redemption")?.redemption_id),
            None => None,
        },
    };
    Ok(Ledger::from_resident(policy, resident))
}

/// The stored head names the last stored event, and that event hashes to it.
fn check_head(store: &Store) -> Result<(), StoreError> {
    let head = store.stored_head()?;
    if head.sequence == 0 {
        return Ok(());
    }
    let mut last: Option<Vec<u8>> = None;
    store.visit_events(head.sequence, head.sequence, &mut |_, bytes| {
        last = Some(bytes.to_vec());
        false
    })?;
    let Some(bytes) = last else {
        return Err(StoreError::Chain {
            sequence: head.sequence,
            message: "the stored head names an event that is not stored".to_owned(),
        });
    };
    let sha256 = hex::encode(Sha256::digest(&bytes));
    if sha256 != head.sha256 {
        return Err(StoreError::Chain {
            sequence: head.sequence,
            message: format!(
                "the last event hashes to {sha256}, but the stored head names {}",
                head.sha256
            ),
        });
    }
    Ok(())
}

fn all<T: DeserializeOwned>(
    store: &Store,
    prefix: &[u8],
    what: &str,
) -> Result<Vec<T>, StoreError> {
    store
        .tree
        .scan_prefix(prefix)
        .map(|entry| decode(&entry?.1, what))
        .collect()
}

/// Records whose identity is in their key (`<prefix><part>/<part>…`), with the key parsed.
fn keyed<K, T: DeserializeOwned>(
    store: &Store,
    prefix: &[u8],
    what: &str,
    parse: impl Fn(&[&str]) -> Option<K>,
) -> Result<Vec<(K, T)>, StoreError> {
    let mut records = Vec::new();
    for entry in store.tree.scan_prefix(prefix) {
        let (key, value) = entry?;
        let key = key_parts(&key, prefix)
            .and_then(|parts| parse(&parts))
            .ok_or_else(|| unreadable_key(what, &key))?;
        records.push((key, decode(&value, what)?));
    }
    Ok(records)
}

fn settlement_queue(store: &Store) -> Result<Vec<QueuedClaim>, StoreError> {
    let mut queue = Vec::new();
    for entry in store.tree.scan_prefix(keys::SETTLEMENT_QUEUE) {
        let (key, value) = entry?;
        let parsed = key_parts(&key, keys::SETTLEMENT_QUEUE).and_then(|parts| {
            let provider = CreditCode::parse(parts.first()?).ok()?;
            let redemption_id = RedemptionId::parse(parts.get(2)?).ok()?;
            Some(((provider, program(parts.get(1)?)?), redemption_id))
        });
        let (key_of_queue, redemption_id) =
            parsed.ok_or_else(|| unreadable_key("settlement queue", &key))?;
        let invoice_date =
            NaiveDate::parse_from_str(&text(&value, "settlement queue")?, "%Y-%m-%d")
                .map_err(|_| unreadable_key("settlement queue date", &key))?;
        queue.push((key_of_queue, redemption_id, invoice_date));
    }
    Ok(queue)
}

fn key_parts<'a>(key: &'a [u8], prefix: &[u8]) -> Option<Vec<&'a str>> {
    let rest = std::str::from_utf8(key.strip_prefix(prefix)?).ok()?;
    Some(rest.split('/').collect())
}

fn program(text: &str) -> Option<ProgramCode> {
    ProgramCode::ALL
        .into_iter()
        .find(|code| code.as_str() == text)
}

fn program_period(program_text: &str, period_start: &str) -> Option<ProgramPeriod> {
    Some(ProgramPeriod {
        program: program(program_text)?,
        period_start: NaiveDate::parse_from_str(period_start, "%Y-%m-%d").ok()?,
    })
}

fn text(bytes: &[u8], what: &str) -> Result<String, StoreError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| StoreError::Corrupt(format!("{what}: not text")))
}

fn unreadable_key(what: &str, key: &[u8]) -> StoreError {
    StoreError::Corrupt(format!(
        "{what}: the key {:?} cannot be read",
        String::from_utf8_lossy(key)
    ))
}

impl History for Store {
    fn redemption(&self, redemption_id: RedemptionId) -> Result<Option<Redemption>, HistoryError> {
        ReadStore::redemption(self, &redemption_id).map_err(unreadable)
    }

    fn redemption_of_invoice(
        &self,
        number: &InvoiceNumber,
    ) -> Result<Option<RedemptionId>, HistoryError> {
        let Some(bytes) = self
            .tree
            .get(&keys::invoice(number.as_str()))
            .map_err(unreadable)?
        else {
            return Ok(None);
        };
        let id_text = std::str::from_utf8(&bytes)
            .map_err(|_| HistoryError(format!("the index of invoice {number} is not text")))?;
        RedemptionId::parse(id_text)
            .map(Some)
            .map_err(|_| HistoryError(format!("the index of invoice {number} names {id_text:?}")))
    }
}

fn unreadable(error: StoreError) -> HistoryError {
    HistoryError(error.to_string())
}
