//! A powerfs process for tests: start it, cut its power, unmount it. Every wait is bounded,
//! and dropping a [`Mounted`] kills the process and detaches its mount, so a failing test
//! leaves no dead mount behind.
//!
//! voucherd's power-cut crash test includes this file by path (`tests/crash.rs`), since that
//! package cannot depend on this one; so it uses only the standard library and `nix`.

use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long powerfs may take to mount, to cut, or to unmount and exit.
pub const CONTROL_DEADLINE: Duration = Duration::from_secs(30);

/// Whether this machine can mount a powerfs: `/dev/fuse`, and `fusermount3` (Debian's
/// `fuse3`), which mounts for a user and detaches a mount whose process died. `Err` says what
/// is missing.
pub fn fuse_available() -> Result<(), String> {
    if !Path::new("/dev/fuse").exists() {
        return Err("no /dev/fuse".to_owned());
    }
    let version = Command::new("fusermount3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .and_then(|mut child| wait_or_kill(&mut child, CONTROL_DEADLINE));
    match version {
        Ok(_) => Ok(()),
        Err(error) => Err(format!("no fusermount3 ({error}): apt-get install fuse3")),
    }
}

/// A running powerfs process and its mount.
#[derive(Debug)]
pub struct Mounted {
    child: Child,
    mountpoint: PathBuf,
    /// powerfs's standard output, line by line: its control protocol.
    lines: Receiver<String>,
    /// Whether it was unmounted and exited cleanly: otherwise dropping it cleans up.
    unmounted: bool,
}

impl Mounted {
    /// Mounts `backing` at `mountpoint` with the powerfs program at `program`, and returns once
    /// the mount answers.
    pub fn start(program: &Path, backing: &Path, mountpoint: &Path) -> io::Result<Mounted> {
        let mut child = Command::new(program)
            .arg(backing)
            .arg(mountpoint)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("powerfs's standard output is not piped"))?;
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        let mut mounted = Mounted {
            child,
            mountpoint: mountpoint.to_owned(),
            lines,
            unmounted: false,
        };
        mounted.expect_line("powerfs: mounted")?;
        Ok(mounted)
    }

    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Cuts the power and returns once powerfs has dropped everything not synced.
    pub fn cut(&mut self) -> io::Result<()> {
        self.send_cut()?;
        self.confirm_cut()
    }

    /// Sends the cut without waiting for it, to cut at the same instant as something else;
    /// [`Mounted::confirm_cut`] waits for it.
    pub fn send_cut(&self) -> io::Result<()> {
        self.signal(Signal::SIGUSR1)
    }

    pub fn confirm_cut(&mut self) -> io::Result<()> {
        self.expect_line("powerfs: cut")
    }

    /// Unmounts and waits for powerfs to exit cleanly.
    pub fn unmount(mut self) -> io::Result<()> {
        self.signal(Signal::SIGTERM)?;
        self.expect_line("powerfs: unmounted")?;
        let status = self.wait()?;
        if status.success() {
            self.unmounted = true;
            Ok(())
        } else {
            Err(io::Error::other(format!("powerfs exited with {status}")))
        }
    }

    fn signal(&self, signal: Signal) -> io::Result<()> {
        let pid = i32::try_from(self.child.id()).map_err(io::Error::other)?;
        kill(Pid::from_raw(pid), signal).map_err(io::Error::from)
    }

    fn expect_line(&mut self, expected: &str) -> io::Result<()> {
        match self.lines.recv_timeout(CONTROL_DEADLINE) {
            Ok(line) if line.starts_with(expected) => Ok(()),
            Ok(line) => Err(io::Error::other(format!(
                "powerfs said {line:?}, expected {expected:?}"
            ))),
            Err(RecvTimeoutError::Timeout) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("powerfs did not say {expected:?} within {CONTROL_DEADLINE:?}"),
            )),
            Err(RecvTimeoutError::Disconnected) => Err(io::Error::other(format!(
                "powerfs ended before saying {expected:?}: {:?}",
                self.child.try_wait()
            ))),
        }
    }

    /// powerfs's exit status, once it exits within [`CONTROL_DEADLINE`].
    fn wait(&mut self) -> io::Result<ExitStatus> {
        let give_up = Instant::now() + CONTROL_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= give_up {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("powerfs did not exit within {CONTROL_DEADLINE:?}"),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if self.unmounted {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        detach(&self.mountpoint);
    }
}

/// Detaches a mount whose powerfs is gone, so that its directory can be removed.
fn detach(mountpoint: &Path) {
    for (program, flags) in [("fusermount3", ["-u", "-z"]), ("umount", ["-l", "--"])] {
        let finished = Command::new(program)
            .args(flags)
            .arg(mountpoint)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .and_then(|mut child| wait_or_kill(&mut child, CONTROL_DEADLINE));
        if finished.is_ok_and(|status| status.success()) {
            return;
        }
    }
}

fn wait_or_kill(child: &mut Child, deadline: Duration) -> io::Result<ExitStatus> {
    let give_up = Instant::now() + deadline;
    while Instant::now() < give_up {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill()?;
    child.wait()
}
