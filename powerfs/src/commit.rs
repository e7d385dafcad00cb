//! A directory's sync: its live entries become its durable entries, all at once.
//!
//! When the directory is itself in the backing directory, the backing directory is changed to
//! match: a renamed entry is renamed there (through a reserved name, so that swaps work), a
//! removed one is removed (a directory with everything under it), and a new one is written
//! with only its durable content: a file's synced bytes, a directory's durable entries. A
//! directory not yet on the disk only records its new durable entries; they reach the backing
//! directory when its own name does.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::tree::{Failure, Kind, Link, Outcome, RESERVED_PREFIX, Tree};

/// How one directory's durable entries change.
struct Changes {
    /// Entries that go, with the node each named.
    departing: Vec<(OsString, u64)>,
    /// Entries that come, with the node each names.
    arriving: Vec<(OsString, u64)>,
    /// Nodes that both depart and arrive: renamed within the directory.
    renamed: BTreeSet<u64>,
}

impl Changes {
    fn between(durable: &BTreeMap<OsString, u64>, live: &BTreeMap<OsString, u64>) -> Changes {
        let differs = |from: &BTreeMap<OsString, u64>,
                       to: &BTreeMap<OsString, u64>|
         -> Vec<(OsString, u64)> {
            from.iter()
                .filter(|(name, number)| to.get(*name) != Some(number))
                .map(|(name, number)| (name.clone(), *number))
                .collect()
        };
        let departing = differs(durable, live);
        let arriving = differs(live, durable);
        let departed: BTreeSet<u64> = departing.iter().map(|(_, number)| *number).collect();
        let renamed = arriving
            .iter()
            .map(|(_, number)| *number)
            .filter(|number| departed.contains(number))
            .collect();
        Changes {
            departing,
            arriving,
            renamed,
        }
    }
}

impl Tree {
    /// `fsync` of a directory.
    pub fn sync_directory(&mut self, number: u64) -> Outcome<()> {
        let directory = self.directory(number)?;
        let changes = Changes::between(&directory.durable, &directory.live);
        if changes.departing.is_empty() && changes.arriving.is_empty() {
            return Ok(());
        }
        if let Some(path) = self.backing_path(number) {
            self.change_backing_directory(&path, &changes)?;
        }
        for (_, child) in &changes.departing {
            if !changes.renamed.contains(child) {
                self.node_mut(*child)?.durable_link = None;
            }
        }
        for (name, child) in &changes.arriving {
            let link = Link {
                directory: number,
                name: name.clone(),
            };
            self.node_mut(*child)?.durable_link = Some(link);
        }
        let directory = self.directory_mut(number)?;
        directory.durable = directory.live.clone();
        Ok(())
    }

    fn change_backing_directory(&mut self, path: &Path, changes: &Changes) -> Outcome<()> {
        let moving = |number: u64| path.join(format!("{RESERVED_PREFIX}moving-{number}"));
        for (name, child) in &changes.departing {
            if changes.renamed.contains(child) {
                std::fs::rename(path.join(name), moving(*child))?;
            }
        }
        for (name, child) in &changes.departing {
            if !changes.renamed.contains(child) {
                remove(&path.join(name))?;
            }
        }
        for (name, child) in &changes.arriving {
            if changes.renamed.contains(child) {
                std::fs::rename(moving(*child), path.join(name))?;
            } else {
                self.write_to_backing(*child, &path.join(name))?;
            }
        }
        Ok(())
    }

    /// Writes a node whose name just became durable, with its durable content only.
    fn write_to_backing(&mut self, number: u64, path: &Path) -> Outcome<()> {
        let mode = self.node(number)?.attributes.mode;
        match &mut self.node_mut(number)?.kind {
            Kind::File(content) => Ok(content.write_to_backing(path, mode)?),
            Kind::Directory(directory) => {
                let children: Vec<(OsString, u64)> = directory
                    .durable
                    .iter()
                    .map(|(name, child)| (name.clone(), *child))
                    .collect();
                std::fs::create_dir(path)?;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
                for (name, child) in children {
                    self.write_to_backing(child, &path.join(name))?;
                }
                Ok(())
            }
        }
    }
}

fn remove(path: &Path) -> Result<(), Failure> {
    if std::fs::symlink_metadata(path)?.is_dir() {
        std::fs::remove_dir_all(path)?;
    } else {
        std::fs::remove_file(path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::path::Path;

    use fuser::RenameFlags;

    use crate::tree::{ROOT, Tree};

    fn names_in(directory: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(directory)
            .expect("listed")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }

    fn rename(tree: &mut Tree, from: &str, to: &str) {
        tree.rename(
            (ROOT, OsStr::new(from)),
            (ROOT, OsStr::new(to)),
            RenameFlags::empty(),
        )
        .expect("renamed");
    }

    #[test]
    fn a_swap_through_a_third_name_reaches_the_backing_directory_in_one_sync() {
        let backing = tempfile::tempdir().expect("temporary directory");
        std::fs::write(backing.path().join("a"), "A").expect("written");
        std::fs::write(backing.path().join("b"), "B").expect("written");
        let mut tree = Tree::load(backing.path()).expect("loaded");
        rename(&mut tree, "a", "t");
        rename(&mut tree, "b", "a");
        rename(&mut tree, "t", "b");
        assert_eq!(std::fs::read(backing.path().join("a")).expect("a"), b"A");
        tree.sync_directory(ROOT).expect("synced");
        assert_eq!(std::fs::read(backing.path().join("a")).expect("a"), b"B");
        assert_eq!(std::fs::read(backing.path().join("b")).expect("b"), b"A");
        assert_eq!(names_in(backing.path()), ["a", "b"]);
    }

    #[test]
    fn a_new_directory_arrives_with_its_durable_entries_and_synced_bytes_only() {
        let backing = tempfile::tempdir().expect("temporary directory");
        let mut tree = Tree::load(backing.path()).expect("loaded");
        let identity = (0o755, 0, 0);
        let directory = tree
            .make_directory(ROOT, OsStr::new("ledger"), identity)
            .expect("mkdir");
        let file = tree
            .create_file(directory, OsStr::new("db"), identity)
            .expect("created");
        tree.write(file, 0, b"synced").expect("written");
        tree.sync_file(file).expect("synced");
        tree.write(file, 0, b"SYNCED, then more").expect("written");
        tree.sync_directory(directory).expect("synced");
        tree.create_file(directory, OsStr::new("conf"), identity)
            .expect("created");
        assert_eq!(names_in(backing.path()), Vec::<String>::new());
        tree.sync_directory(ROOT).expect("synced");
        assert_eq!(names_in(&backing.path().join("ledger")), ["db"]);
        assert_eq!(
            std::fs::read(backing.path().join("ledger/db")).expect("db"),
            b"synced"
        );
    }

    #[test]
    fn a_removed_directory_leaves_with_everything_under_it() {
        let backing = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(backing.path().join("old")).expect("mkdir");
        std::fs::write(backing.path().join("old/file"), "x").expect("written");
        let mut tree = Tree::load(backing.path()).expect("loaded");
        let directory = tree.lookup(ROOT, OsStr::new("old")).expect("found");
        tree.unlink(directory, OsStr::new("file"))
            .expect("unlinked");
        tree.remove_directory(ROOT, OsStr::new("old"))
            .expect("removed");
        tree.sync_directory(ROOT).expect("synced");
        assert_eq!(names_in(backing.path()), Vec::<String>::new());
    }
}
