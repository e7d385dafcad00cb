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
//! database: another voucherd may be writing it. The rows kept are answered only while the
//! lease is known to be live by this process's own clock: until [`LEASE_DURATION`] less a
//! margin after the last take or renewal the database confirmed was sent (the database dates
//! the lease's end from its own receipt of it, later). A writer paused past its lease (SIGSTOP,
//! a frozen VM) thus reads the database again the moment it runs, before its next renewal
//! tells it another voucherd took over: a token revoked meanwhile is refused, not served
//! from memory. (Its writes are refused by the database whatever it reads.)

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::lease::LEASE_DURATION;
use super::tree::Writes;
use crate::store::keys;

/// Whether `key` is one of the rows kept: a token, a token's secret index, a provider.
pub(super) fn is_kept(key: &[u8]) -> bool {
    [keys::TOKENS, keys::TOKEN_SECRETS, keys::PROVIDERS]
        .iter()
        .any(|prefix| key.starts_with(prefix))
}

/// Taken off the lease's length before trusting it: for the database's clock running at
/// another rate than this one's, and the lease's row being dated a little after the send.
const CLOCK_MARGIN: Duration = Duration::from_millis(500);

#[derive(Default)]
pub(super) struct Cache {
    entries: HashMap<Vec<u8>, Vec<u8>>,
    /// Counts the commits that wrote a kept row, so a read that raced one is not kept.
    generation: u64,
    /// While this voucherd holds the writer lease: until when (by this process's clock) the
    /// lease is surely still its own. `None`: keeps nothing (a standby, or released, or lost).
    lease_sure_until: Option<Instant>,
}

impl Cache {
    /// Keeps rows from now on (the lease was taken by a request sent at `sent`), starting
    /// empty.
    pub(super) fn enable(&mut self, sent: Instant) {
        self.entries.clear();
        // A read begun before (another writer may have written since) is not kept.
        self.generation += 1;
        self.lease_sure_until = Some(sure_until(sent));
    }

    /// The database renewed the lease on a request sent at `sent`.
    pub(super) fn lease_renewed(&mut self, sent: Instant) {
        if let Some(until) = &mut self.lease_sure_until {
            *until = (*until).max(sure_until(sent));
        }
    }

    /// Keeps nothing more (the lease was released or lost).
    pub(super) fn disable(&mut self) {
        self.entries.clear();
        self.generation += 1;
        self.lease_sure_until = None;
    }

    /// A kept row, while the lease is surely this voucherd's.
    pub(super) fn lookup(&self, key: &[u8]) -> Option<Vec<u8>> {
        let sure_until = self.lease_sure_until?;
        if Instant::now() >= sure_until {
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
            && self.lease_sure_until.is_some()
            && self.generation == generation
            && is_kept(key)
        {
            self.entries.insert(key.to_vec(), value.clone());
        }
    }

    /// What a batch committed: kept rows take their new values.
    pub(super) fn committed(&mut self, writes: &Writes) {
        if self.lease_sure_until.is_none() {
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

/// Until when a lease taken or renewed by a request sent at `sent` is surely still held.
fn sure_until(sent: Instant) -> Instant {
    sent + LEASE_DURATION.saturating_sub(CLOCK_MARGIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_row() -> (Vec<u8>, Option<Vec<u8>>) {
        (
            [keys::TOKENS, b"T000000000001"].concat(),
            Some(b"row".to_vec()),
        )
    }

    #[test]
    fn a_standby_keeps_nothing() {
        let (key, value) = token_row();
        let mut cache = Cache::default();
        cache.fill(&key, &value, cache.generation());
        assert_eq!(cache.lookup(&key), None);
    }

    #[test]
    fn kept_rows_are_answered_only_while_the_lease_is_surely_held() {
        let (key, value) = token_row();
        let mut cache = Cache::default();
        cache.enable(Instant::now());
        cache.fill(&key, &value, cache.generation());
        assert_eq!(cache.lookup(&key), value, "a fresh lease: the kept row");

        // The last renewal sent a whole lease ago: a writer paused past its lease.
        let paused_since = Instant::now()
            .checked_sub(LEASE_DURATION)
            .expect("the clock runs past one lease");
        let mut paused = Cache::default();
        paused.enable(paused_since);
        paused.fill(&key, &value, paused.generation());
        assert_eq!(paused.lookup(&key), None, "read from the database instead");
        paused.lease_renewed(Instant::now());
        assert_eq!(paused.lookup(&key), value, "renewed: kept again");

        cache.disable();
        assert_eq!(cache.lookup(&key), None, "lost or released: nothing kept");
    }

    /// A read slow enough to span losing the lease and taking it again read a row another
    /// writer may have changed meanwhile.
    #[test]
    fn a_read_begun_before_the_lease_was_lost_and_taken_again_is_not_kept() {
        let (key, value) = token_row();
        let mut cache = Cache::default();
        cache.enable(Instant::now());
        let before = cache.generation();
        cache.disable();
        cache.enable(Instant::now());
        cache.fill(&key, &value, before);
        assert_eq!(cache.lookup(&key), None);
    }

    #[test]
    fn a_read_that_raced_a_commit_is_not_kept() {
        let (key, value) = token_row();
        let mut cache = Cache::default();
        cache.enable(Instant::now());
        let before = cache.generation();
        cache.committed(&Writes {
            keys: vec![key.clone()],
            values: vec![b"newer".to_vec()],
            deleted: Vec::new(),
            head: None,
            expected_keys: Vec::new(),
            expected_values: Vec::new(),
        });
        cache.fill(&key, &value, before);
        assert_eq!(cache.lookup(&key), Some(b"newer".to_vec()));
    }
}
