//! A throwaway PostgreSQL for a test: `initdb` in a temporary directory, started on a free
//! port on 127.0.0.1 (as the unprivileged user `nobody` when the test runs as root, since
//! `initdb` refuses root), trust authentication, stopped with `pg_ctl -m immediate` when
//! dropped. Without PostgreSQL on the machine, [`TestPostgres::start`] says how to install it
//! and returns `None`, except on CI (`CI` set), where it fails the test instead.
//!
//! Each cluster also has a watchdog (a process of its own session, outside the test's process
//! group) that stops it and removes its directory once the test process is gone, however it
//! ended: the cluster a whole test binary shares under `VOUCHER_TEST_STORE=postgres`
//! ([`shared_database_for`]) lives in a static, which is never dropped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use super::OutputWithin;

/// The superuser `initdb` creates, and the database every test starts with.
const USER: &str = "voucher";

pub struct TestPostgres {
    directory: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    /// `runuser -u nobody --` when running as root.
    run_as: Vec<String>,
    /// The watchdog's stdin: it stops the cluster when this closes, which the kernel does for
    /// a test process that ends any way at all (after [`Drop`] has stopped it, if dropped).
    _watchdog: Option<ChildStdin>,
}

/// The directory holding `initdb`, `pg_ctl` and `psql`: on PATH, or Debian's place.
fn find_bin() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    debian.sort();
    debian.reverse();
    on_path
        .into_iter()
        .chain(debian)
        .find(|directory| directory.join("initdb").is_file() && directory.join("pg_ctl").is_file())
        // A link on PATH (/usr/local/bin/initdb) leads to the directory holding psql too.
        .and_then(|directory| std::fs::canonicalize(directory.join("initdb")).ok())
        .and_then(|initdb| initdb.parent().map(Path::to_path_buf))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

impl TestPostgres {
    /// A new cluster, started; `None` (after saying how to install PostgreSQL) when it is not
    /// on this machine. On CI its absence fails the test.
    pub fn start() -> Option<TestPostgres> {
        let Some(bin) = find_bin() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must have PostgreSQL (.ci/run installs Debian's postgresql package): no initdb on PATH or under /usr/lib/postgresql/*/bin"
            );
            eprintln!(
                "skipped: no PostgreSQL here (no initdb); install it with \
                 `apt-get install -y --no-install-recommends postgresql`"
            );
            return None;
        };
        // /proc/self belongs to the process's effective user.
        let is_root = std::os::unix::fs::MetadataExt::uid(
            &std::fs::metadata("/proc/self").expect("/proc/self"),
        ) == 0;
        // As root, in /tmp: `nobody` must be able to reach the directory, which it cannot
        // under a $TMPDIR in root's home.
        let directory = if is_root {
            tempfile::Builder::new()
                .prefix("voucher-postgres")
                .tempdir_in("/tmp")
        } else {
            tempfile::tempdir()
        }
        .expect("temporary directory");
        let run_as = if is_root {
            let status = Command::new("chown")
                .arg("nobody:")
                .arg(directory.path())
                .status()
                .expect("chown runs");
            assert!(status.success(), "chown nobody {:?}", directory.path());
            vec!["runuser".into(), "-u".into(), "nobody".into(), "--".into()]
        } else {
            Vec::new()
        };
        let mut postgres = TestPostgres {
            directory,
            bin,
            port: free_port(),
            run_as,
            _watchdog: None,
        };
        // Armed before the cluster starts, so no moment leaves a postmaster unwatched.
        postgres._watchdog = Some(postgres.watchdog());
        postgres.initdb_and_start();
        Some(postgres)
    }

    fn data(&self) -> PathBuf {
        self.directory.path().join("data")
    }

    /// A command for one of PostgreSQL's programs, as the cluster's owner.
    fn as_owner(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        match self.run_as.split_first() {
            Some((first, rest)) => {
                let mut command = Command::new(first);
                command.args(rest).arg(program);
                command
            }
            None => Command::new(program),
        }
    }

    fn run(&self, what: &str, command: &mut Command) -> String {
        let output = command.output_within_deadline().expect(what);
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{what} failed: {}{}",
            text,
            String::from_utf8_lossy(&output.stderr)
        );
        text
    }

    fn initdb_and_start(&self) {
        let data = self.data();
        self.run(
            "initdb",
            self.as_owner("initdb").arg("-D").arg(&data).args([
                "-U",
                USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-instructions",
            ]),
        );
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on",
            self.port,
            self.directory.path().display()
        );
        self.run(
            "pg_ctl start",
            self.as_owner("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(self.directory.path().join("server.log"))
                .args(["-w", "-t", "60", "-o", &options, "start"]),
        );
    }

    /// Turns TLS on with this certificate and key (PEM), for 127.0.0.1 and localhost: the
    /// server then takes TLS and plain connections alike.
    pub fn enable_tls(&self, certificate_pem: &str, key_pem: &str) {
        let data = self.data();
        for (name, text) in [("server.crt", certificate_pem), ("server.key", key_pem)] {
            let path = data.join(name);
            std::fs::write(&path, text).expect("write");
            // PostgreSQL refuses a key others can read; the cluster's owner must read both.
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .expect("chmod");
            if !self.run_as.is_empty() {
                let status = Command::new("chown")
                    .arg("nobody:")
                    .arg(&path)
                    .status()
                    .expect("chown runs");
                assert!(status.success(), "chown nobody {path:?}");
            }
        }
        self.psql("postgres", "ALTER SYSTEM SET ssl = on");
        self.psql("postgres", "SELECT pg_reload_conf()");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.psql("postgres", "SHOW ssl").trim() != "on" {
            assert!(
                std::time::Instant::now() < deadline,
                "TLS did not come on: {}",
                self.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// The URL voucherd takes for the database `database` (`postgres` exists from the start).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{database}", self.port)
    }

    /// A new empty database; returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(name)
    }

    /// Runs `sql` in `database` with psql; returns its unaligned, tuples-only output.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        self.run(
            "psql",
            Command::new(if self.bin.join("psql").is_file() {
                self.bin.join("psql")
            } else {
                PathBuf::from("psql")
            })
            .args(["-X", "-v", "ON_ERROR_STOP=1", "-At", "-h", "127.0.0.1"])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                USER,
                "-d",
                database,
                "-c",
                sql,
            ]),
        )
        .trim()
        .to_owned()
    }

    /// The server's log so far, for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.directory.path().join("server.log")).unwrap_or_default()
    }

    pub fn directory(&self) -> &Path {
        self.directory.path()
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .as_owner("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "-t", "30", "stop"])
            .output();
    }
}

impl TestPostgres {
    /// Starts the watchdog: `setsid -f` puts it in a session of its own, so neither the end of
    /// the test process nor a signal to its process group (`timeout` in `.ci/run`) takes it
    /// down first. It waits for its stdin to close, then runs `pg_ctl stop -m immediate` as the
    /// cluster's owner and removes the directory. Returns the pipe's end that keeps it waiting.
    fn watchdog(&self) -> ChildStdin {
        let mut stop = self.as_owner("pg_ctl");
        stop.arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "-t", "30", "stop"]);
        let mut watchdog = Command::new("setsid");
        watchdog
            .args(["-f", "sh", "-c"])
            .arg(r#"cat >/dev/null; directory=$1; shift; "$@"; rm -rf "$directory""#)
            .arg("voucher-postgres-watchdog")
            .arg(self.directory.path())
            .arg(stop.get_program())
            .args(stop.get_args())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = watchdog
            .spawn()
            .expect("the PostgreSQL watchdog starts (setsid, sh)");
        let stdin = child.stdin.take().expect("the watchdog's stdin is piped");
        // `setsid -f` returns once it has forked the watchdog off.
        let _ = child.wait();
        stdin
    }
}

/// Whether this run puts every `TestServer` on PostgreSQL (`VOUCHER_TEST_STORE=postgres`).
pub fn tests_use_postgres() -> bool {
    std::env::var("VOUCHER_TEST_STORE").is_ok_and(|store| store == "postgres")
}

/// The one cluster this test process shares, started on first use.
fn shared() -> &'static TestPostgres {
    static SHARED: OnceLock<TestPostgres> = OnceLock::new();
    SHARED.get_or_init(|| {
        TestPostgres::start().expect(
            "VOUCHER_TEST_STORE=postgres needs PostgreSQL's initdb on PATH or under /usr/lib/postgresql",
        )
    })
}

/// The URL of the database of `data_dir` in the shared cluster: created the first time a
/// server starts on that directory, the same one when a test starts a server on it again.
pub fn shared_database_for(data_dir: &Path) -> String {
    static DATABASES: Mutex<BTreeMap<PathBuf, String>> = Mutex::new(BTreeMap::new());
    let postgres = shared();
    // A test that panicked while holding the lock left the map whole: keep using it.
    let mut databases = DATABASES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(url) = databases.get(data_dir) {
        return url.clone();
    }
    let name = format!("ledger_{}", databases.len() + 1);
    let url = postgres.create_database(&name);
    databases.insert(data_dir.to_owned(), url.clone());
    url
}
