//! Files readable by others: the data directory, the token and backups are the owner's
//! alone, whatever the umask voucherd was started with.

use super::*;

/// Every file and directory under `root` whose mode lets anyone but its owner in.
fn open_to_others(root: &Path) -> Vec<String> {
    let mut open = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(path) = pending.pop() {
        let metadata = std::fs::symlink_metadata(&path).expect("metadata");
        if metadata.permissions().mode() & 0o077 != 0 {
            open.push(format!(
                "{} {:o}",
                path.display(),
                metadata.permissions().mode() & 0o777
            ));
        }
        if metadata.is_dir() {
            for entry in std::fs::read_dir(&path).expect("read_dir") {
                pending.push(entry.expect("entry").path());
            }
        }
    }
    open
}

#[tokio::test]
async fn the_ledger_its_token_and_its_backups_are_the_owners_alone_whatever_the_umask() {
    // The test process runs with the usual umask 022; a data directory left open by someone.
    let data = DataDir::new();
    std::fs::create_dir(data.path()).expect("mkdir");
    std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut world = World::new_in(data, "2027-06-15", &[]).await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("1000")).await;
    world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "100"))
        .await
        .expect("redeemed");
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(outside.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    let backup = outside.path().join("ledger.backup");
    let made = Command::new(env!("CARGO_BIN_EXE_voucherctl"))
        .env_remove("VOUCHER_TOKEN")
        .env("VOUCHER_ADDR", world.server.address.to_string())
        .env(
            "VOUCHER_TOKEN_FILE",
            world.server.data().path().join("bureau.token"),
        )
        .args(["backup", backup.to_str().expect("utf-8")])
        .output_within_deadline()
        .expect("voucherctl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let data_path = world.server.data().path();
    let open = open_to_others(&data_path);
    assert!(open.is_empty(), "readable by others: {open:?}");
    let backup_mode = std::fs::metadata(&backup)
        .expect("backup")
        .permissions()
        .mode();
    assert_eq!(
        backup_mode & 0o777,
        0o600,
        "the backup is the owner's alone"
    );
}
