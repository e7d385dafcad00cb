//! The committed rows every request reads, kept in memory by the voucherd that writes.
//!
//! Each call is authenticated from the store (`Reader::authenticate`: the token by its secret's
//! hash, the token, its provider): three round trips to the database per request, more than
//! the batch that carries a redemption costs. While this voucherd holds the writer lease no
//! other one writes, and every commit of its own passes through its committer, which puts what
//! it wrote here (`Cache::committed`); so the tokens, their secrets' index and the providers
//! are kept here as committed, and read from the database only the first time. A row read
//! from the database while a commit changed it is not kept (the generation moved), so a
//! cached row is never older than the database's. Only rows that exist are kept, so unknown
//! secrets cannot fill memory; tokens and providers are few.
//!
//! A standby, and a writer once it released or lost the lease, keeps nothing and reads the
//! database: another voucherd may be writing it. (A writer paused past its lease learns that
//! it lost it at its next renewal, within a second of running again; until then its reads of
//! these rows may miss a change the new writer made. Its writes are refused by the database
//! whatever it reads.)

use std::collections::HashMap;

use super::tree::Writes;
use crate::store::keys;

/// Whether `key` is one of the rows kept: a token, a token's secret index, a provider.
pub(super) fn is_kept(key: &[u8]) -> bool {
    [keys::TOKENS, keys::TOKEN_SECRETS, keys::PROVIDERS]
        .iter()
        .any(|prefix| key.starts_with(prefix))
}

#[derive(Default)]
pub(super) struct Cache {
    entries: HashMap<Vec<u8>, Vec<u8>>,
    /// Counts the commits that wrote a kept row, so a read that raced one is not kept.
    generation: u64,
    /// Only while this voucherd holds the writer lease.
    enabled: bool,
}

impl Cache {
    /// Keeps rows from now on (the lease was taken), starting empty.
    pub(super) fn enable(&mut self) {
        self.entries.clear();
        self.enabled = true;
    }

    /// Keeps nothing more (the lease was released or lost).
    pub(super) fn disable(&mut self) {
        self.entries.clear();
        self.enabled = false;
    }

    pub(super) fn lookup(&self, key: &[u8]) -> Option<Vec<u8>> {
        if !self.enabled {
            return None;
        }
        self.entries.get(key).cloned()
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// Keeps a row read from the database, unless a commit wrote a kept row since the read
    /// began (at `generation`) or it does not exist.
    pub(super) fn fill(&mut self, key: &[u8], value: &Option<Vec<u8>>, generation: u64) {
        if let Some(value) = value
            && self.enabled
            && self.generation == generation
            && is_kept(key)
        {
            self.entries.insert(key.to_vec(), value.clone());
        }
    }

    /// What a batch committed: kept rows take their new values.
    pub(super) fn committed(&mut self, writes: &Writes) {
        if !self.enabled {
            return;
        }
        let mut touched = false;
        for (key, value) in writes.keys.iter().zip(&writes.values) {
            if is_kept(key) {
                self.entries.insert(key.clone(), value.clone());
                touched = true;
            }
        }
        for key in &writes.deleted {
            if is_kept(key) {
                self.entries.remove(key);
                touched = true;
            }
        }
        if touched {
            self.generation += 1;
        }
    }
}
