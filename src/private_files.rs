//! Files this program writes hold public money's records and secrets (the ledger, the bureau
//! token, backups, reports): they are their owner's alone, whatever umask the program was
//! started with (see SECURITY.md). New files are made private by the process umask; an existing data
//! directory is made 0700, so whatever an older build left readable inside it is closed too.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nix::sys::stat::{Mode, umask};

/// Every file and directory the process creates from here on: 0600 and 0700 at most.
pub fn make_new_files_private() {
    umask(Mode::from_bits_truncate(0o077));
}

/// Creates `directory` if need be and makes it (and, if present, the listed subdirectories)
/// reachable by its owner only.
pub fn restrict_directory(directory: &Path, subdirectories: &[&str]) -> std::io::Result<()> {
    std::fs::create_dir_all(directory)?;
    std::fs::set_permissions(directory, std::fs::Permissions::from_mode(0o700))?;
    for name in subdirectories {
        let path = directory.join(name);
        if path.is_dir() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}
