//! The FUSE side: each kernel request becomes one operation on the [`Tree`], under one lock,
//! so a power cut falls between two operations, never inside one.
//!
//! Every reply tells the kernel to cache nothing (entries and attributes live for zero
//! seconds, every file is opened with `FOPEN_DIRECT_IO`), so every read, write, lookup and
//! `stat` reaches powerfs: reads see the unsynced state because powerfs serves it, and after a
//! cut every one of them fails. Direct I/O also means that a shared writable `mmap` is refused
//! (`ENODEV`): powerfs does not model mapped pages, and sled 0.34 does not map its files (it
//! uses `pread`/`pwrite`).

use std::ffi::OsStr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use fuser::{
    Errno, FileAttr, FileHandle, Filesystem, FopenFlags, Generation, INodeNo, LockOwner, OpenFlags,
    RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry,
    ReplyOpen, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

use crate::tree::{Failure, Kind, Outcome, Tree};

/// Nothing is cached by the kernel: see the module documentation.
const CACHE_FOR: Duration = Duration::ZERO;

/// The filesystem before, or after, the power cut.
#[derive(Debug)]
pub enum State {
    Powered(Tree),
    /// The power was cut: the backing directory is the disk, and every operation fails.
    Cut,
    /// The backing directory failed in the middle of a change: what it holds is unknown, so
    /// every operation fails.
    Broken,
}

/// Cuts the power of the filesystem it was taken from, from any thread.
#[derive(Clone, Debug)]
pub struct PowerSwitch {
    state: Arc<Mutex<State>>,
}

impl PowerSwitch {
    /// Drops everything not synced, as a power loss would; the backing directory is left as
    /// the disk would be. Every later operation fails with `EIO`.
    pub fn cut(&self) {
        *lock(&self.state) = State::Cut;
    }
}

/// The FUSE filesystem.
#[derive(Debug)]
pub struct PowerFs {
    state: Arc<Mutex<State>>,
}

impl PowerFs {
    pub fn new(tree: Tree) -> PowerFs {
        PowerFs {
            state: Arc::new(Mutex::new(State::Powered(tree))),
        }
    }

    pub fn power_switch(&self) -> PowerSwitch {
        PowerSwitch {
            state: self.state.clone(),
        }
    }

    /// Runs one operation on the tree, or fails it with `EIO` once the power is cut.
    fn with_tree<T>(&self, operation: impl FnOnce(&mut Tree) -> Outcome<T>) -> Result<T, Errno> {
        let mut state = lock(&self.state);
        let State::Powered(tree) = &mut *state else {
            return Err(Errno::EIO);
        };
        match operation(tree) {
            Ok(value) => Ok(value),
            Err(Failure::Refused(errno)) => Err(errno),
            Err(Failure::Backing(error)) => {
                eprintln!(
                    "powerfs: the backing directory failed ({error}); every operation fails from now on"
                );
                *state = State::Broken;
                Err(Errno::EIO)
            }
        }
    }

    /// An operation that answers with a node's attributes.
    fn attributes_after(
        &self,
        operation: impl FnOnce(&mut Tree) -> Outcome<u64>,
    ) -> Result<FileAttr, Errno> {
        self.with_tree(|tree| {
            let number = operation(tree)?;
            attributes(tree, number)
        })
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic in one operation must not stop the cut: the state itself is still consistent,
    // since the backing directory is only changed by syncs.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn attributes(tree: &Tree, number: u64) -> Outcome<FileAttr> {
    let node = tree.node(number)?;
    let size = match &node.kind {
        Kind::File(content) => content.length(),
        Kind::Directory(directory) => directory.live.len() as u64,
    };
    Ok(FileAttr {
        ino: INodeNo(number),
        size,
        blocks: size.div_ceil(512),
        atime: node.attributes.accessed,
        mtime: node.attributes.modified,
        ctime: node.attributes.changed,
        crtime: node.attributes.changed,
        kind: node.file_type(),
        perm: u16::try_from(node.attributes.mode & 0o7777).unwrap_or(0o700),
        nlink: tree.link_count(number)?,
        uid: node.attributes.owner,
        gid: node.attributes.group,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    })
}

fn reply_entry(reply: ReplyEntry, result: Result<FileAttr, Errno>) {
    match result {
        Ok(attributes) => reply.entry(&CACHE_FOR, &attributes, Generation(0)),
        Err(errno) => reply.error(errno),
    }
}

fn reply_empty(reply: ReplyEmpty, result: Result<(), Errno>) {
    match result {
        Ok(()) => reply.ok(),
        Err(errno) => reply.error(errno),
    }
}

/// A new node's mode, owner and group.
fn identity_of_new(request: &Request, mode: u32, umask: u32) -> (u32, u32, u32) {
    (mode & !umask & 0o7777, request.uid(), request.gid())
}

fn time_of(time: TimeOrNow) -> SystemTime {
    match time {
        TimeOrNow::SpecificTime(time) => time,
        TimeOrNow::Now => SystemTime::now(),
    }
}

impl Filesystem for PowerFs {
    fn lookup(&self, _request: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        reply_entry(
            reply,
            self.attributes_after(|tree| tree.lookup(parent.0, name)),
        );
    }

    fn getattr(
        &self,
        _request: &Request,
        number: INodeNo,
        _handle: Option<FileHandle>,
        reply: ReplyAttr,
    ) {
        match self.with_tree(|tree| attributes(tree, number.0)) {
            Ok(attributes) => reply.attr(&CACHE_FOR, &attributes),
            Err(errno) => reply.error(errno),
        }
    }

    fn setattr(
        &self,
        _request: &Request,
        number: INodeNo,
        mode: Option<u32>,
        owner: Option<u32>,
        group: Option<u32>,
        size: Option<u64>,
        accessed: Option<TimeOrNow>,
        modified: Option<TimeOrNow>,
        _changed: Option<SystemTime>,
        _handle: Option<FileHandle>,
        _created: Option<SystemTime>,
        _change_time: Option<SystemTime>,
        _backup_time: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let result = self.attributes_after(|tree| {
            if let Some(length) = size {
                tree.set_length(number.0, length)?;
            }
            let attributes = &mut tree.node_mut(number.0)?.attributes;
            attributes.mode = mode.map_or(attributes.mode, |mode| mode & 0o7777);
            attributes.owner = owner.unwrap_or(attributes.owner);
            attributes.group = group.unwrap_or(attributes.group);
            attributes.accessed = accessed.map_or(attributes.accessed, time_of);
            attributes.modified = modified.map_or(attributes.modified, time_of);
            attributes.changed = SystemTime::now();
            Ok(number.0)
        });
        match result {
            Ok(attributes) => reply.attr(&CACHE_FOR, &attributes),
            Err(errno) => reply.error(errno),
        }
    }

    fn mknod(
        &self,
        request: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _device: u32,
        reply: ReplyEntry,
    ) {
        if mode & nix::libc::S_IFMT != nix::libc::S_IFREG {
            // Devices, pipes and sockets have no bytes to lose.
            return reply.error(Errno::EPERM);
        }
        let identity = identity_of_new(request, mode, umask);
        reply_entry(
            reply,
            self.attributes_after(|tree| tree.create_file(parent.0, name, identity)),
        );
    }

    fn mkdir(
        &self,
        request: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let identity = identity_of_new(request, mode, umask);
        reply_entry(
            reply,
            self.attributes_after(|tree| tree.make_directory(parent.0, name, identity)),
        );
    }

    fn unlink(&self, _request: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_empty(reply, self.with_tree(|tree| tree.unlink(parent.0, name)));
    }

    fn rmdir(&self, _request: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_empty(
            reply,
            self.with_tree(|tree| tree.remove_directory(parent.0, name)),
        );
    }

    fn symlink(
        &self,
        _request: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _target: &Path,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EPERM);
    }

    fn rename(
        &self,
        _request: &Request,
        parent: INodeNo,
        name: &OsStr,
        new_parent: INodeNo,
        new_name: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        reply_empty(
            reply,
            self.with_tree(|tree| tree.rename((parent.0, name), (new_parent.0, new_name), flags)),
        );
    }

    fn link(
        &self,
        _request: &Request,
        _number: INodeNo,
        _new_parent: INodeNo,
        _new_name: &OsStr,
        reply: ReplyEntry,
    ) {
        // link(2) documents EPERM for a filesystem without hard links; voucherd and sled make
        // none, and with them a file could have durable names in two directories.
        reply.error(Errno::EPERM);
    }

    fn open(&self, _request: &Request, number: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.with_tree(|tree| tree.file(number.0).map(|_| ())) {
            Ok(()) => reply.opened(FileHandle(0), FopenFlags::FOPEN_DIRECT_IO),
            Err(errno) => reply.error(errno),
        }
    }

    fn create(
        &self,
        request: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let identity = identity_of_new(request, mode, umask);
        match self.attributes_after(|tree| tree.create_file(parent.0, name, identity)) {
            Ok(attributes) => reply.created(
                &CACHE_FOR,
                &attributes,
                Generation(0),
                FileHandle(0),
                FopenFlags::FOPEN_DIRECT_IO,
            ),
            Err(errno) => reply.error(errno),
        }
    }

    fn read(
        &self,
        _request: &Request,
        number: INodeNo,
        _handle: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.with_tree(|tree| tree.read(number.0, offset, u64::from(size))) {
            Ok(bytes) => reply.data(&bytes),
            Err(errno) => reply.error(errno),
        }
    }

    fn write(
        &self,
        _request: &Request,
        number: INodeNo,
        _handle: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let Ok(written) = u32::try_from(data.len()) else {
            return reply.error(Errno::EFBIG);
        };
        match self.with_tree(|tree| tree.write(number.0, offset, data)) {
            Ok(()) => reply.written(written),
            Err(errno) => reply.error(errno),
        }
    }

    fn flush(
        &self,
        _request: &Request,
        number: INodeNo,
        _handle: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close(2) makes nothing durable.
        reply_empty(
            reply,
            self.with_tree(|tree| tree.node(number.0).map(|_| ())),
        );
    }

    fn fsync(
        &self,
        _request: &Request,
        number: INodeNo,
        _handle: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        // fdatasync persists a file's bytes and its length, all that powerfs keeps of it.
        reply_empty(reply, self.with_tree(|tree| tree.sync_file(number.0)));
    }

    fn opendir(&self, _request: &Request, number: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.with_tree(|tree| tree.directory(number.0).map(|_| ())) {
            Ok(()) => reply.opened(FileHandle(0), FopenFlags::empty()),
            Err(errno) => reply.error(errno),
        }
    }

    fn readdir(
        &self,
        _request: &Request,
        number: INodeNo,
        _handle: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let listing = match self.with_tree(|tree| tree.list(number.0)) {
            Ok(listing) => listing,
            Err(errno) => return reply.error(errno),
        };
        let skipped = usize::try_from(offset).unwrap_or(usize::MAX);
        for (position, (child, file_type, name)) in listing.into_iter().enumerate().skip(skipped) {
            // The offset an entry carries is where the next listing starts.
            if reply.add(INodeNo(child), position as u64 + 1, file_type, name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _request: &Request,
        number: INodeNo,
        _handle: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply_empty(reply, self.with_tree(|tree| tree.sync_directory(number.0)));
    }
}
