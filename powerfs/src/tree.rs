//! The filesystem as programs see it and as the disk has it, side by side.
//!
//! Every node (a regular file or a directory) has a number. A directory has two sets of
//! entries: the *live* ones, which every lookup, create, rename and unlink changes, and the
//! *durable* ones, which change only when the directory itself is synced (see
//! [`crate::commit`]). A regular file has its [`FileContent`]. The backing directory always
//! holds exactly what is durable and reachable through durable entries from the root, so a
//! power cut only has to drop this tree.
//!
//! Hard links, symbolic links, special files and renames from one directory to another are
//! refused, so a node is named by at most one live entry and at most one durable entry, both
//! in the directory it was created in.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use fuser::{Errno, FileType, RenameFlags};

use crate::content::FileContent;

/// The root directory's node number, as FUSE numbers it.
pub const ROOT: u64 = 1;

/// Names that programs may not use: a directory sync moves files under these names for a
/// moment while it renames them in the backing directory.
pub const RESERVED_PREFIX: &str = ".powerfs-";

/// Why an operation did not happen.
#[derive(Debug)]
pub enum Failure {
    /// The program asked for something this filesystem refuses, with the errno it gets.
    Refused(Errno),
    /// The backing directory failed: what is on it is no longer known.
    Backing(io::Error),
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Failure {
        Failure::Backing(error)
    }
}

impl From<Failure> for io::Error {
    fn from(failure: Failure) -> io::Error {
        match failure {
            Failure::Refused(errno) => io::Error::from_raw_os_error(errno.code()),
            Failure::Backing(error) => error,
        }
    }
}

pub type Outcome<T> = Result<T, Failure>;

fn refused<T>(errno: Errno) -> Outcome<T> {
    Err(Failure::Refused(errno))
}

/// What `stat` shows besides the length; kept in memory only (see the crate's documentation).
#[derive(Clone, Copy, Debug)]
pub struct Attributes {
    /// Permission bits.
    pub mode: u32,
    pub owner: u32,
    pub group: u32,
    pub accessed: SystemTime,
    pub modified: SystemTime,
    pub changed: SystemTime,
}

impl Attributes {
    fn new(mode: u32, owner: u32, group: u32) -> Attributes {
        let now = SystemTime::now();
        Attributes {
            mode,
            owner,
            group,
            accessed: now,
            modified: now,
            changed: now,
        }
    }

    fn of(metadata: &std::fs::Metadata) -> Attributes {
        let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        Attributes {
            mode: metadata.mode() & 0o7777,
            owner: metadata.uid(),
            group: metadata.gid(),
            accessed: metadata.accessed().unwrap_or(modified),
            modified,
            changed: modified,
        }
    }

    fn touch(&mut self) {
        self.modified = SystemTime::now();
        self.changed = self.modified;
    }
}

/// A directory's entries: name → node number.
#[derive(Debug, Default)]
pub struct Directory {
    pub live: BTreeMap<OsString, u64>,
    pub durable: BTreeMap<OsString, u64>,
}

#[derive(Debug)]
pub enum Kind {
    File(FileContent),
    Directory(Directory),
}

/// The entry that names a node on the disk: its directory's number and its name there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub directory: u64,
    pub name: OsString,
}

#[derive(Debug)]
pub struct Node {
    pub kind: Kind,
    pub attributes: Attributes,
    /// The directory whose live entries name this node; `None` once unlinked (the root names
    /// itself).
    pub live_parent: Option<u64>,
    /// The durable entry naming this node, if any (the root has none and needs none).
    pub durable_link: Option<Link>,
}

impl Node {
    pub fn file_type(&self) -> FileType {
        match self.kind {
            Kind::File(_) => FileType::RegularFile,
            Kind::Directory(_) => FileType::Directory,
        }
    }
}

/// The whole filesystem, live and durable.
#[derive(Debug)]
pub struct Tree {
    pub backing_root: PathBuf,
    pub nodes: HashMap<u64, Node>,
    next_number: u64,
}

impl Tree {
    /// Reads the backing directory: everything in it is durable, and nothing is pending.
    pub fn load(backing_root: &Path) -> io::Result<Tree> {
        let metadata = std::fs::metadata(backing_root)?;
        let mut tree = Tree {
            backing_root: backing_root.to_owned(),
            nodes: HashMap::new(),
            next_number: ROOT + 1,
        };
        let root = Node {
            kind: Kind::Directory(Directory::default()),
            attributes: Attributes::of(&metadata),
            live_parent: Some(ROOT),
            durable_link: None,
        };
        tree.nodes.insert(ROOT, root);
        tree.load_directory(ROOT, backing_root)?;
        Ok(tree)
    }

    fn load_directory(&mut self, number: u64, path: &Path) -> io::Result<()> {
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            let name = entry.file_name();
            let entry_path = entry.path();
            if is_reserved(&name) {
                return Err(io::Error::other(format!(
                    "{} is a name powerfs uses only while it syncs a directory: it was stopped in the middle of one",
                    entry_path.display()
                )));
            }
            let metadata = std::fs::symlink_metadata(&entry_path)?;
            let kind = if metadata.is_file() {
                let file = File::options().read(true).write(true).open(&entry_path)?;
                Kind::File(FileContent::from_backing(file)?)
            } else if metadata.is_dir() {
                Kind::Directory(Directory::default())
            } else {
                return Err(io::Error::other(format!(
                    "{}: powerfs holds only regular files and directories",
                    entry_path.display()
                )));
            };
            let child = self.insert(kind, Attributes::of(&metadata), number);
            self.node_mut(child)?.durable_link = Some(Link {
                directory: number,
                name: name.clone(),
            });
            let directory = self.directory_mut(number)?;
            directory.live.insert(name.clone(), child);
            directory.durable.insert(name, child);
            if metadata.is_dir() {
                self.load_directory(child, &entry_path)?;
            }
        }
        Ok(())
    }

    fn insert(&mut self, kind: Kind, attributes: Attributes, parent: u64) -> u64 {
        let number = self.next_number;
        self.next_number += 1;
        let node = Node {
            kind,
            attributes,
            live_parent: Some(parent),
            durable_link: None,
        };
        self.nodes.insert(number, node);
        number
    }

    pub fn node(&self, number: u64) -> Outcome<&Node> {
        match self.nodes.get(&number) {
            Some(node) => Ok(node),
            None => refused(Errno::ENOENT),
        }
    }

    pub fn node_mut(&mut self, number: u64) -> Outcome<&mut Node> {
        match self.nodes.get_mut(&number) {
            Some(node) => Ok(node),
            None => refused(Errno::ENOENT),
        }
    }

    pub fn directory(&self, number: u64) -> Outcome<&Directory> {
        match &self.node(number)?.kind {
            Kind::Directory(directory) => Ok(directory),
            Kind::File(_) => refused(Errno::ENOTDIR),
        }
    }

    pub fn directory_mut(&mut self, number: u64) -> Outcome<&mut Directory> {
        match &mut self.node_mut(number)?.kind {
            Kind::Directory(directory) => Ok(directory),
            Kind::File(_) => refused(Errno::ENOTDIR),
        }
    }

    pub fn file(&self, number: u64) -> Outcome<&FileContent> {
        match &self.node(number)?.kind {
            Kind::File(content) => Ok(content),
            Kind::Directory(_) => refused(Errno::EISDIR),
        }
    }

    pub fn file_mut(&mut self, number: u64) -> Outcome<&mut FileContent> {
        match &mut self.node_mut(number)?.kind {
            Kind::File(content) => Ok(content),
            Kind::Directory(_) => refused(Errno::EISDIR),
        }
    }

    pub fn lookup(&self, parent: u64, name: &OsStr) -> Outcome<u64> {
        match self.directory(parent)?.live.get(name) {
            Some(number) => Ok(*number),
            None => refused(Errno::ENOENT),
        }
    }

    /// The number of live entries naming the node (directories count `.` and subdirectories'
    /// `..`, as `stat` shows them).
    pub fn link_count(&self, number: u64) -> Outcome<u32> {
        let node = self.node(number)?;
        Ok(match &node.kind {
            Kind::File(_) => u32::from(node.live_parent.is_some()),
            Kind::Directory(directory) => {
                let subdirectories = directory
                    .live
                    .values()
                    .filter(|child| {
                        self.nodes
                            .get(child)
                            .is_some_and(|node| matches!(node.kind, Kind::Directory(_)))
                    })
                    .count();
                2 + u32::try_from(subdirectories).unwrap_or(u32::MAX - 2)
            }
        })
    }

    /// A new entry in `parent`'s live entries, durable only once `parent` is synced.
    pub fn create(
        &mut self,
        parent: u64,
        name: &OsStr,
        kind: Kind,
        attributes: Attributes,
    ) -> Outcome<u64> {
        check_name(name)?;
        if self.directory(parent)?.live.contains_key(name) {
            return refused(Errno::EEXIST);
        }
        let child = self.insert(kind, attributes, parent);
        self.directory_mut(parent)?
            .live
            .insert(name.to_owned(), child);
        self.node_mut(parent)?.attributes.touch();
        Ok(child)
    }

    pub fn create_file(
        &mut self,
        parent: u64,
        name: &OsStr,
        (mode, owner, group): (u32, u32, u32),
    ) -> Outcome<u64> {
        let attributes = Attributes::new(mode, owner, group);
        let kind = Kind::File(FileContent::new_empty());
        self.create(parent, name, kind, attributes)
    }

    pub fn make_directory(
        &mut self,
        parent: u64,
        name: &OsStr,
        (mode, owner, group): (u32, u32, u32),
    ) -> Outcome<u64> {
        let attributes = Attributes::new(mode, owner, group);
        let kind = Kind::Directory(Directory::default());
        self.create(parent, name, kind, attributes)
    }

    /// Removes a live entry naming a file; the durable entry stays until `parent` is synced,
    /// and an open file stays readable and writable.
    pub fn unlink(&mut self, parent: u64, name: &OsStr) -> Outcome<()> {
        let child = self.lookup(parent, name)?;
        if matches!(self.node(child)?.kind, Kind::Directory(_)) {
            return refused(Errno::EISDIR);
        }
        self.forget_live_entry(parent, name, child)
    }

    pub fn remove_directory(&mut self, parent: u64, name: &OsStr) -> Outcome<()> {
        let child = self.lookup(parent, name)?;
        if !self.directory(child)?.live.is_empty() {
            return refused(Errno::ENOTEMPTY);
        }
        self.forget_live_entry(parent, name, child)
    }

    fn forget_live_entry(&mut self, parent: u64, name: &OsStr, child: u64) -> Outcome<()> {
        self.directory_mut(parent)?.live.remove(name);
        self.node_mut(parent)?.attributes.touch();
        let node = self.node_mut(child)?;
        node.live_parent = None;
        node.attributes.changed = SystemTime::now();
        Ok(())
    }

    /// Renames within one directory; durable, all of it at once, when that directory is synced.
    pub fn rename(
        &mut self,
        (parent, name): (u64, &OsStr),
        (new_parent, new_name): (u64, &OsStr),
        flags: RenameFlags,
    ) -> Outcome<()> {
        if parent != new_parent {
            // One directory's sync could then make the file durable in both or in neither.
            return refused(Errno::EXDEV);
        }
        if flags.contains(RenameFlags::RENAME_EXCHANGE)
            || flags.contains(RenameFlags::RENAME_WHITEOUT)
        {
            return refused(Errno::EINVAL);
        }
        check_name(new_name)?;
        let source = self.lookup(parent, name)?;
        if name == new_name {
            return Ok(());
        }
        if let Ok(target) = self.lookup(parent, new_name) {
            if flags.contains(RenameFlags::RENAME_NOREPLACE) {
                return refused(Errno::EEXIST);
            }
            self.check_replaceable(source, target)?;
            self.forget_live_entry(parent, new_name, target)?;
        }
        let directory = self.directory_mut(parent)?;
        directory.live.remove(name);
        directory.live.insert(new_name.to_owned(), source);
        self.node_mut(parent)?.attributes.touch();
        Ok(())
    }

    /// rename(2)'s rules for replacing `target` with `source`.
    fn check_replaceable(&self, source: u64, target: u64) -> Outcome<()> {
        match (&self.node(source)?.kind, &self.node(target)?.kind) {
            (Kind::Directory(_), Kind::File(_)) => refused(Errno::ENOTDIR),
            (Kind::File(_), Kind::Directory(_)) => refused(Errno::EISDIR),
            (Kind::Directory(_), Kind::Directory(target)) if !target.live.is_empty() => {
                refused(Errno::ENOTEMPTY)
            }
            _ => Ok(()),
        }
    }

    /// A directory's listing: `.`, `..` and its live entries, each with its node's number.
    pub fn list(&self, number: u64) -> Outcome<Vec<(u64, FileType, OsString)>> {
        let node = self.node(number)?;
        let directory = self.directory(number)?;
        let parent = node.live_parent.unwrap_or(ROOT);
        let mut listing = vec![
            (number, FileType::Directory, OsString::from(".")),
            (parent, FileType::Directory, OsString::from("..")),
        ];
        for (name, child) in &directory.live {
            listing.push((*child, self.node(*child)?.file_type(), name.clone()));
        }
        Ok(listing)
    }

    pub fn read(&self, number: u64, offset: u64, size: u64) -> Outcome<Vec<u8>> {
        Ok(self.file(number)?.read(offset, size)?)
    }

    pub fn write(&mut self, number: u64, offset: u64, data: &[u8]) -> Outcome<()> {
        self.file_mut(number)?.write(offset, data)?;
        self.node_mut(number)?.attributes.touch();
        Ok(())
    }

    pub fn set_length(&mut self, number: u64, length: u64) -> Outcome<()> {
        self.file_mut(number)?.set_length(length);
        self.node_mut(number)?.attributes.touch();
        Ok(())
    }

    /// `fsync` and `fdatasync` of a file: its bytes and length become durable (in the backing
    /// directory if its name is durable there, else in memory until the name is).
    pub fn sync_file(&mut self, number: u64) -> Outcome<()> {
        Ok(self.file_mut(number)?.sync()?)
    }

    /// The node's path in the backing directory, if every directory up to the root durably
    /// names the one below it.
    pub fn backing_path(&self, number: u64) -> Option<PathBuf> {
        let mut names = Vec::new();
        let mut current = number;
        while current != ROOT {
            let link = self.nodes.get(&current)?.durable_link.as_ref()?;
            names.push(link.name.as_os_str());
            current = link.directory;
        }
        let mut path = self.backing_root.clone();
        path.extend(names.iter().rev());
        Some(path)
    }
}

pub fn is_reserved(name: &OsStr) -> bool {
    name.as_encoded_bytes()
        .starts_with(RESERVED_PREFIX.as_bytes())
}

fn check_name(name: &OsStr) -> Outcome<()> {
    if is_reserved(name) {
        return refused(Errno::EPERM);
    }
    Ok(())
}
