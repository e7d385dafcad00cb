//! The ordered key-value tree the embedded store's layout is written on (`keys.rs`,
//! `records.rs`, `reads.rs`): point reads, ordered ranges, and atomic batches. sled provides it
//! on disk; [`MemoryTree`] provides it in memory for unit tests, the model of a store, and the
//! test that runs both side by side. Nothing outside `store/` sees either.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::RwLock;

use super::StoreError;

/// One entry: key and value bytes.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Entries in key order, each possibly a read error.
pub type Entries<'a> = Box<dyn Iterator<Item = Result<Entry, StoreError>> + 'a>;

pub trait Tree: Send + Sync + 'static {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Entries from `start` to `end`, in key order.
    fn range(&self, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>) -> Entries<'_>;
    /// Applies every write of `batch` at once: a reader sees all of them or none.
    fn apply(&self, batch: TreeBatch) -> Result<(), StoreError>;
    /// Bytes on disk (0 in memory).
    fn size_on_disk_bytes(&self) -> Result<u64, StoreError>;
    /// The last entry whose key starts with `prefix`.
    fn last_with_prefix(&self, prefix: &[u8]) -> Result<Option<Entry>, StoreError>;

    /// Entries whose key starts with `prefix`, in key order.
    fn scan_prefix(&self, prefix: &[u8]) -> Entries<'_> {
        let owned = prefix.to_vec();
        Box::new(
            self.range(Bound::Included(prefix.to_vec()), Bound::Unbounded)
                .take_while(move |entry| {
                    entry
                        .as_ref()
                        .map_or(true, |(key, _)| key.starts_with(&owned))
                }),
        )
    }
}

/// Writes to apply together; a later write to a key replaces an earlier one. With the values
/// some keys must hold before it (its expectations): a tree applies nothing of a batch whose
/// expectation a key does not meet.
#[derive(Clone, Debug, Default)]
pub struct TreeBatch {
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    expected: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl TreeBatch {
    /// `key` must hold `value` (`None`: no entry) before this batch. Only the first expectation
    /// of a key not yet written by the batch is kept: a later one is about the batch's own
    /// writes, which the ledger that decided them already checked.
    pub fn expect(&mut self, key: impl Into<Vec<u8>>, value: Option<Vec<u8>>) {
        let key = key.into();
        if !self.writes.contains_key(&key) {
            self.expected.entry(key).or_insert(value);
        }
    }

    /// Every expectation, each key once, in key order.
    pub(super) fn expectations(&self) -> &BTreeMap<Vec<u8>, Option<Vec<u8>>> {
        &self.expected
    }

    /// Fails naming the first key of the batch's expectations that `get` finds otherwise.
    fn check_expectations(
        &self,
        get: impl Fn(&[u8]) -> Result<Option<Vec<u8>>, StoreError>,
    ) -> Result<(), StoreError> {
        for (key, expected) in &self.expected {
            let found = get(key)?;
            if found != *expected {
                return Err(not_as_decided(key, expected.as_deref(), found.as_deref()));
            }
        }
        Ok(())
    }

    pub fn insert(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.writes.insert(key.into(), Some(value.into()));
    }

    pub fn remove(&mut self, key: impl Into<Vec<u8>>) {
        self.writes.insert(key.into(), None);
    }

    /// The writes, each key once, in key order (`None`: removed), for a tree that hands them
    /// to a database in one transaction (`postgres`).
    pub(super) fn into_writes(self) -> BTreeMap<Vec<u8>, Option<Vec<u8>>> {
        self.writes
    }
}

/// The refusal of a batch whose decision read `key` as `expected` where the store holds
/// `found` (`None` where not known).
fn not_as_decided(key: &[u8], expected: Option<&[u8]>, found: Option<&[u8]>) -> StoreError {
    let shown = |value: Option<&[u8]>| {
        value.map_or_else(
            || "nothing".to_owned(),
            |bytes| String::from_utf8_lossy(bytes).into_owned(),
        )
    };
    StoreError::NotAsDecided(format!(
        "{} holds {}, not {} as the batch's decisions read it: nothing of the batch was written",
        String::from_utf8_lossy(key),
        shown(found),
        shown(expected)
    ))
}

impl Tree for sled::Db {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(sled::Tree::get(self, key)?.map(|value| value.to_vec()))
    }

    fn range(&self, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>) -> Entries<'_> {
        Box::new(
            sled::Tree::range::<Vec<u8>, _>(self, (start, end)).map(|entry| {
                let (key, value) = entry?;
                Ok((key.to_vec(), value.to_vec()))
            }),
        )
    }

    fn apply(&self, batch: TreeBatch) -> Result<(), StoreError> {
        // One writer applies batches, so what is checked here is what the batch applies over.
        batch.check_expectations(|key| Tree::get(self, key))?;
        let mut sled_batch = sled::Batch::default();
        for (key, write) in batch.writes {
            match write {
                Some(value) => sled_batch.insert(key, value),
                None => sled_batch.remove(key),
            }
        }
        Ok(self.apply_batch(sled_batch)?)
    }

    fn size_on_disk_bytes(&self) -> Result<u64, StoreError> {
        Ok(self.size_on_disk()?)
    }

    fn last_with_prefix(&self, prefix: &[u8]) -> Result<Option<Entry>, StoreError> {
        match sled::Tree::scan_prefix(self, prefix).next_back() {
            Some(entry) => {
                let (key, value) = entry?;
                Ok(Some((key.to_vec(), value.to_vec())))
            }
            None => Ok(None),
        }
    }
}

/// A tree in memory: what sled would hold, without a disk.
#[derive(Debug, Default)]
pub struct MemoryTree {
    entries: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
}

/// Entries a memory range hands out at a time, so a long scan never holds the lock long.
const MEMORY_RANGE_CHUNK: usize = 256;

impl MemoryTree {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        // A panic while holding the lock cannot leave a batch half applied (see `apply`).
        self.entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Up to a chunk of entries after `start`, and whether the range may go on.
    fn chunk(&self, start: &Bound<Vec<u8>>, end: &Bound<Vec<u8>>) -> Vec<Entry> {
        self.read()
            .range::<Vec<u8>, _>((start.clone(), end.clone()))
            .take(MEMORY_RANGE_CHUNK)
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }
}

impl Tree for MemoryTree {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.read().get(key).cloned())
    }

    fn range(&self, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>) -> Entries<'_> {
        let mut next_start = start;
        let mut buffered: std::vec::IntoIter<Entry> = Vec::new().into_iter();
        let mut finished = false;
        Box::new(std::iter::from_fn(move || {
            if let Some(entry) = buffered.next() {
                return Some(Ok(entry));
            }
            if finished {
                return None;
            }
            let chunk = self.chunk(&next_start, &end);
            finished = chunk.len() < MEMORY_RANGE_CHUNK;
            if let Some((last_key, _)) = chunk.last() {
                next_start = Bound::Excluded(last_key.clone());
            }
            buffered = chunk.into_iter();
            buffered.next().map(Ok)
        }))
    }

    fn apply(&self, batch: TreeBatch) -> Result<(), StoreError> {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        batch.check_expectations(|key| Ok(entries.get(key).cloned()))?;
        for (key, write) in batch.writes {
            match write {
                Some(value) => entries.insert(key, value),
                None => entries.remove(&key),
            };
        }
        Ok(())
    }

    fn size_on_disk_bytes(&self) -> Result<u64, StoreError> {
        Ok(0)
    }

    fn last_with_prefix(&self, prefix: &[u8]) -> Result<Option<Entry>, StoreError> {
        let entries = self.read();
        let last = entries
            .range::<Vec<u8>, _>((Bound::Included(prefix.to_vec()), past_prefix(prefix)))
            .next_back();
        Ok(last.map(|(key, value)| (key.clone(), value.clone())))
    }
}

/// The bound just past every key that starts with `prefix`.
fn past_prefix(prefix: &[u8]) -> Bound<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Bound::Excluded(end);
        }
    }
    Bound::Unbounded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_tree(tree: &dyn Tree) {
        let mut batch = TreeBatch::default();
        for number in 0..600u32 {
            batch.insert(format!("a/{number:04}"), number.to_string());
        }
        batch.insert("b/1", "one");
        batch.insert("b/2", "two");
        batch.remove("b/2");
        tree.apply(batch).expect("apply");
        assert_eq!(tree.get(b"b/1").expect("get"), Some(b"one".to_vec()));
        assert_eq!(tree.get(b"b/2").expect("get"), None, "a later remove wins");
        let keys: Vec<Vec<u8>> = tree
            .scan_prefix(b"a/")
            .map(|entry| entry.expect("entry").0)
            .collect();
        assert_eq!(keys.len(), 600, "a prefix scan crosses chunk boundaries");
        assert!(
            keys.windows(2).all(|pair| pair[0] < pair[1]),
            "in key order"
        );
        let after: Vec<Vec<u8>> = tree
            .range(Bound::Excluded(b"a/0597".to_vec()), Bound::Unbounded)
            .map(|entry| entry.expect("entry").0)
            .collect();
        assert_eq!(
            after,
            vec![b"a/0598".to_vec(), b"a/0599".to_vec(), b"b/1".to_vec()]
        );
        let last = tree.last_with_prefix(b"a/").expect("last");
        assert_eq!(last, Some((b"a/0599".to_vec(), b"599".to_vec())));
        assert_eq!(tree.last_with_prefix(b"c/").expect("last"), None);
        check_expectations(tree);
    }

    /// A batch whose expectation a key does not meet writes nothing; one whose expectations
    /// all hold is written; an expectation about a key the batch already wrote is not kept.
    fn check_expectations(tree: &dyn Tree) {
        let mut second_claim = TreeBatch::default();
        second_claim.expect("b/1", None);
        second_claim.insert("b/1", "again");
        second_claim.insert("c/1", "side effect");
        let refused = tree.apply(second_claim).expect_err("b/1 is taken");
        assert!(
            matches!(&refused, StoreError::NotAsDecided(message) if message.contains("b/1")),
            "{refused}"
        );
        assert_eq!(tree.get(b"b/1").expect("get"), Some(b"one".to_vec()));
        assert_eq!(tree.get(b"c/1").expect("get"), None, "nothing written");

        let mut correction = TreeBatch::default();
        correction.expect("b/1", Some(b"one".to_vec()));
        correction.insert("b/1", "corrected");
        correction.expect("b/2", None);
        correction.insert("b/2", "first");
        correction.expect("b/2", Some(b"first".to_vec()));
        tree.apply(correction).expect("every expectation holds");
        assert_eq!(tree.get(b"b/1").expect("get"), Some(b"corrected".to_vec()));
        assert_eq!(tree.get(b"b/2").expect("get"), Some(b"first".to_vec()));
    }

    #[test]
    fn sled_and_memory_trees_behave_alike() {
        let directory = tempfile::tempdir().expect("tempdir");
        let sled = sled::Config::new()
            .path(directory.path())
            .open()
            .expect("sled");
        check_tree(&sled);
        check_tree(&MemoryTree::default());
    }
}
