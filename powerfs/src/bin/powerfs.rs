//! `powerfs BACKING_DIRECTORY MOUNTPOINT`: mounts a filesystem that forgets, on `SIGUSR1`,
//! every write not yet synced (see the powerfs crate's README.md).

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: powerfs BACKING_DIRECTORY MOUNTPOINT

Mounts BACKING_DIRECTORY at MOUNTPOINT. Writes, creates, renames and removals stay in memory
until the file (or, for names, its directory) is synced. SIGUSR1 cuts the power: everything
not synced is dropped and every later operation fails with EIO. SIGTERM or SIGINT unmounts.
Prints `powerfs: mounted MOUNTPOINT`, `powerfs: cut` and `powerfs: unmounted` as they happen.";

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    if arguments
        .iter()
        .any(|argument| argument == "-h" || argument == "--help")
    {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let [backing, mountpoint] = arguments.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match powerfs::service::serve(&PathBuf::from(backing), &PathBuf::from(mountpoint)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("powerfs: {error}");
            ExitCode::FAILURE
        }
    }
}
