//! powerfs mounted for real in a temporary directory: what a cut keeps and what it drops.
//!
//! Needs `/dev/fuse` and `fusermount3` (Debian's `fuse3`; `.ci/run` installs it). Without
//! them each test says so and passes, except on CI (`CI` set), where it fails instead.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use powerfs::mounted::{Mounted, fuse_available};

/// A powerfs over a temporary backing directory, mounted in another temporary directory.
struct Fixture {
    // Dropped first: the mount goes before the directories under it.
    mounted: Option<Mounted>,
    mountpoint: tempfile::TempDir,
    backing: tempfile::TempDir,
    /// Held for the whole test: one mount at a time in this process (see [`ONE_MOUNT_AT_A_TIME`]).
    _alone: std::sync::MutexGuard<'static, ()>,
}

/// Tests run on threads of one process, and a test that starts its powerfs forks that process:
/// until the child execs, it holds a copy of every file another test has open on its own mount,
/// so that mount cannot be unmounted (EBUSY; under CPU load the window is long enough to hit,
/// and then the test waited 30 s for an unmount that never came). One fixture at a time.
static ONE_MOUNT_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Fixture {
    /// A mounted powerfs, or `None` (after saying why) where FUSE is not available.
    fn new() -> Option<Fixture> {
        if let Err(missing) = fuse_available() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must be able to mount powerfs: {missing}"
            );
            eprintln!("skipped: cannot mount powerfs here ({missing})");
            return None;
        }
        let alone = ONE_MOUNT_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let backing = tempfile::tempdir().expect("backing directory");
        let mountpoint = tempfile::tempdir().expect("mountpoint");
        let mut fixture = Fixture {
            mounted: None,
            mountpoint,
            backing,
            _alone: alone,
        };
        fixture.mount();
        Some(fixture)
    }

    fn mount(&mut self) {
        let program = Path::new(env!("CARGO_BIN_EXE_powerfs"));
        let mounted = Mounted::start(program, self.backing.path(), self.mountpoint.path())
            .expect("powerfs mounts");
        self.mounted = Some(mounted);
    }

    /// A path inside the mount.
    fn path(&self, relative: &str) -> PathBuf {
        self.mountpoint.path().join(relative)
    }

    /// The power goes, and comes back: cut, unmount, mount the backing directory again.
    fn cut_and_remount(&mut self) {
        let mut mounted = self.mounted.take().expect("mounted");
        mounted.cut().expect("the cut is confirmed");
        mounted.unmount().expect("unmounts after the cut");
        self.mount();
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> File {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .expect("opened");
    file.write_all(bytes).expect("written");
    file
}

fn sync_directory(path: &Path) {
    File::open(path)
        .expect("directory opened")
        .sync_all()
        .expect("directory synced");
}

fn read(path: &Path) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(error) if error.kind() == ErrorKind::NotFound => None,
        Err(error) => panic!("reading {}: {error}", path.display()),
    }
}

#[test]
fn synced_bytes_survive_a_cut_and_later_unsynced_bytes_do_not() {
    let Some(mut fixture) = Fixture::new() else {
        return;
    };
    let path = fixture.path("ledger");
    let mut file = write_file(&path, b"synced");
    file.sync_all().expect("fsync");
    sync_directory(fixture.mountpoint.path());
    file.write_all(b" and then some").expect("written");
    assert_eq!(
        read(&path).as_deref(),
        Some(&b"synced and then some"[..]),
        "reads see what is not synced yet"
    );
    drop(file);
    fixture.cut_and_remount();
    assert_eq!(read(&path).as_deref(), Some(&b"synced"[..]));
}

#[test]
fn a_new_name_without_a_directory_sync_vanishes_even_with_its_bytes_synced() {
    let Some(mut fixture) = Fixture::new() else {
        return;
    };
    write_file(&fixture.path("token"), b"secret")
        .sync_all()
        .expect("fsync");
    std::fs::create_dir(fixture.path("ledger")).expect("mkdir");
    write_file(&fixture.path("ledger/db"), b"records")
        .sync_data()
        .expect("fdatasync");
    // The ledger directory's own entries are durable, but its name in the root is not.
    sync_directory(&fixture.path("ledger"));
    fixture.cut_and_remount();
    assert_eq!(read(&fixture.path("token")), None);
    assert_eq!(read(&fixture.path("ledger/db")), None);
    assert_eq!(
        std::fs::read_dir(fixture.backing.path())
            .expect("listed")
            .count(),
        0
    );
}

#[test]
fn a_name_made_durable_later_brings_the_bytes_of_the_last_sync() {
    let Some(mut fixture) = Fixture::new() else {
        return;
    };
    std::fs::create_dir(fixture.path("ledger")).expect("mkdir");
    let mut file = write_file(&fixture.path("ledger/db"), b"first");
    file.sync_all().expect("fsync");
    file.write_all(b", second").expect("written");
    sync_directory(&fixture.path("ledger"));
    sync_directory(fixture.mountpoint.path());
    assert_eq!(
        std::fs::read(fixture.backing.path().join("ledger/db")).expect("on the backing"),
        b"first",
        "the backing directory holds only what is durable"
    );
    drop(file);
    fixture.cut_and_remount();
    assert_eq!(
        read(&fixture.path("ledger/db")).as_deref(),
        Some(&b"first"[..])
    );
}

#[test]
fn a_rename_without_a_directory_sync_is_undone_and_with_one_it_holds() {
    let Some(mut fixture) = Fixture::new() else {
        return;
    };
    for name in ["a", "b"] {
        write_file(&fixture.path(name), name.as_bytes())
            .sync_all()
            .expect("fsync");
    }
    sync_directory(fixture.mountpoint.path());
    std::fs::rename(fixture.path("a"), fixture.path("b")).expect("renamed");
    assert_eq!(read(&fixture.path("a")), None);
    fixture.cut_and_remount();
    assert_eq!(read(&fixture.path("a")).as_deref(), Some(&b"a"[..]));
    assert_eq!(read(&fixture.path("b")).as_deref(), Some(&b"b"[..]));

    std::fs::rename(fixture.path("a"), fixture.path("b")).expect("renamed");
    sync_directory(fixture.mountpoint.path());
    fixture.cut_and_remount();
    assert_eq!(read(&fixture.path("a")), None);
    assert_eq!(read(&fixture.path("b")).as_deref(), Some(&b"a"[..]));
}

#[test]
fn an_unlink_without_a_directory_sync_is_undone() {
    let Some(mut fixture) = Fixture::new() else {
        return;
    };
    write_file(&fixture.path("snapshot"), b"kept")
        .sync_all()
        .expect("fsync");
    sync_directory(fixture.mountpoint.path());
    std::fs::remove_file(fixture.path("snapshot")).expect("unlinked");
    fixture.cut_and_remount();
    assert_eq!(
        read(&fixture.path("snapshot")).as_deref(),
        Some(&b"kept"[..])
    );
}

#[test]
fn fdatasync_persists_the_bytes_and_length_of_an_existing_file_and_a_truncate_needs_one() {
    let Some(mut fixture) = Fixture::new() else {
        return;
    };
    write_file(&fixture.path("log"), b"head")
        .sync_all()
        .expect("fsync");
    sync_directory(fixture.mountpoint.path());
    let mut file = OpenOptions::new()
        .append(true)
        .open(fixture.path("log"))
        .expect("opened");
    file.write_all(&[b'x'; 10_000]).expect("appended");
    file.sync_data().expect("fdatasync");
    file.set_len(2).expect("truncated");
    assert_eq!(read(&fixture.path("log")).as_deref(), Some(&b"he"[..]));
    drop(file);
    fixture.cut_and_remount();
    let bytes = read(&fixture.path("log")).expect("the file is there");
    assert_eq!(bytes.len(), 10_004);
    assert!(bytes.starts_with(b"headxxx") && bytes.ends_with(b"xxx"));
}

#[test]
fn after_a_cut_every_operation_fails_until_unmounted() {
    let Some(mut fixture) = Fixture::new() else {
        return;
    };
    let file = write_file(&fixture.path("open"), b"bytes");
    fixture
        .mounted
        .as_mut()
        .expect("mounted")
        .cut()
        .expect("cut");
    let failures = [
        File::open(fixture.path("open")).err(),
        std::fs::metadata(fixture.mountpoint.path()).err(),
        file.sync_all().err(),
        std::fs::create_dir(fixture.path("new")).err(),
    ];
    for failure in failures {
        let error = failure.expect("refused after the cut");
        assert_eq!(error.raw_os_error(), Some(nix::libc::EIO), "{error}");
    }
}

#[test]
fn links_across_directories_and_hard_links_are_refused() {
    let Some(fixture) = Fixture::new() else {
        return;
    };
    std::fs::create_dir(fixture.path("other")).expect("mkdir");
    write_file(&fixture.path("file"), b"x");
    let across = std::fs::rename(fixture.path("file"), fixture.path("other/file"))
        .expect_err("a rename across directories is refused");
    assert_eq!(across.raw_os_error(), Some(nix::libc::EXDEV));
    let hard = std::fs::hard_link(fixture.path("file"), fixture.path("link"))
        .expect_err("a hard link is refused");
    assert_eq!(hard.raw_os_error(), Some(nix::libc::EPERM));
}
