//! The powerfs process: mounts, then waits for signals.
//!
//! - `SIGUSR1` cuts the power (see [`crate::filesystem::PowerSwitch::cut`]) and prints
//!   `powerfs: cut` once it is done.
//! - `SIGTERM` or `SIGINT` unmounts; the process prints `powerfs: unmounted` and exits 0. An
//!   unmount from outside (`fusermount3 -u`, `umount`) ends it the same way.
//!
//! It prints `powerfs: mounted MOUNTPOINT` once the filesystem answers. These lines on
//! standard output are the whole control protocol; signals were chosen over a control file
//! because a file inside the mount would itself be subject to the cut, and one outside needs
//! a path both sides agree on.
//!
//! Killing powerfs with `SIGKILL` is a cut too, as far as the backing directory is concerned
//! (it only changes on syncs), but it leaves a dead mount that must be unmounted by hand.

use std::io::Write;
use std::path::Path;
use std::thread;

use fuser::{Config, MountOption, Session};
use nix::sys::signal::{SigSet, Signal, kill};
use nix::unistd::Pid;

use crate::filesystem::PowerFs;
use crate::tree::Tree;

/// Why powerfs could not serve.
#[derive(Debug)]
pub enum ServeError {
    /// The backing directory could not be read.
    Backing(std::io::Error),
    /// The mount failed, or the session ended with an error.
    Mount(std::io::Error),
    /// Signals could not be set up or waited for.
    Signals(nix::Error),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Backing(error) => write!(formatter, "the backing directory: {error}"),
            ServeError::Mount(error) => write!(formatter, "the mount: {error}"),
            ServeError::Signals(error) => write!(formatter, "signals: {error}"),
        }
    }
}

impl std::error::Error for ServeError {}

/// Mounts `backing` at `mountpoint` and serves it until it is unmounted.
pub fn serve(backing: &Path, mountpoint: &Path) -> Result<(), ServeError> {
    let signals = control_signals();
    // Blocked before any thread starts, so every thread inherits the mask and the signals
    // wait, pending, for `sigwait` below instead of killing the process.
    signals.thread_block().map_err(ServeError::Signals)?;
    let tree = Tree::load(backing).map_err(ServeError::Backing)?;
    let filesystem = PowerFs::new(tree);
    let switch = filesystem.power_switch();
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName(format!("powerfs:{}", backing.display())),
        MountOption::Subtype("powerfs".to_owned()),
    ];
    let mut session = Session::new(filesystem, mountpoint, &config).map_err(ServeError::Mount)?;
    let mut unmounter = session.unmount_callable();
    let running = thread::spawn(move || {
        let ended = session.run();
        // Wakes the signal loop below: the session is over, however it ended.
        let _ = kill(Pid::this(), Signal::SIGUSR2);
        ended
    });
    announce(&format!("mounted {}", mountpoint.display()));
    loop {
        match signals.wait().map_err(ServeError::Signals)? {
            Signal::SIGUSR1 => {
                switch.cut();
                announce("cut");
            }
            Signal::SIGUSR2 => break,
            _ => {
                if let Err(error) = unmounter.unmount() {
                    eprintln!("powerfs: cannot unmount {}: {error}", mountpoint.display());
                }
            }
        }
    }
    let ended = running
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the session thread panicked")));
    ended.map_err(ServeError::Mount)?;
    announce("unmounted");
    Ok(())
}

fn control_signals() -> SigSet {
    let mut signals = SigSet::empty();
    for signal in [
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGTERM,
        Signal::SIGINT,
    ] {
        signals.add(signal);
    }
    signals
}

/// One line of the control protocol on standard output, flushed at once.
fn announce(event: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "powerfs: {event}");
    let _ = out.flush();
}
