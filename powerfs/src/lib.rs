//! powerfs: a FUSE filesystem for tests that, on a power cut, forgets every write not yet
//! synced.
//!
//! `kill -9` ends a process, not the machine: everything it wrote is still in the kernel's
//! page cache and reaches the disk later. powerfs passes every operation through to a backing
//! directory, but keeps what was not synced apart, in memory, as a page cache does; a cut
//! (`SIGUSR1`, see [`service`]) drops it, leaving the backing directory as the disk would be
//! after a power loss, and fails every later operation with `EIO` until it is unmounted.
//!
//! What it models, harsher than ext4's `data=ordered` on purpose (README.md says it in full):
//!
//! - A file's bytes and length are durable only after `fsync` or `fdatasync` of that file
//!   (any descriptor of it); `fdatasync` persists the length too. `sync_file_range`,
//!   `close`, `sync` and `syncfs` persist nothing.
//! - A name (create, `mkdir`) is durable only after `fsync` of its directory; so are unlink,
//!   `rmdir` and rename. A directory's sync makes all of its pending changes durable at once.
//! - A file whose bytes were synced but whose name is not durable is lost with the name; if
//!   the name becomes durable later, the file has the bytes of its last sync.
//! - Renames are allowed within one directory only (`EXDEV` otherwise, as between two
//!   filesystems); hard links, symbolic links and special files are refused (`EPERM`).
//! - Modes, owners and times live in memory; the backing directory gets a file's mode when
//!   its name becomes durable, and nothing else of them.
//! - Nothing is cached by the kernel and files are opened for direct I/O, so reads see the
//!   unsynced state (powerfs serves it) and a shared writable `mmap` is refused.
//!
//! [`tree`] holds the model, [`content`] a file's bytes, [`commit`] a directory's sync,
//! [`filesystem`] the FUSE requests, [`service`] the process, [`mounted`] the test harness.

pub mod commit;
pub mod content;
pub mod filesystem;
pub mod mounted;
pub mod service;
pub mod tree;
