//! voucherd's life: load the policy, open the ledger, write a bureau token on first start,
//! serve, and on SIGTERM or Ctrl-C stop taking requests, finish those in flight, flush, exit.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::api::{self, ServeLimits, TlsFiles, auth::generate_secret};
use crate::config::Config;
use crate::domain::command::Command;
use crate::domain::model::{Role, SecretHash};
use crate::domain::policy::Policy;
use crate::domain::text::Description;
use crate::engine::{ClockSource, Engine, EngineConfig, EngineOwner, Promoted};
use crate::store::postgres::{self, WriterLease};

/// The sled directory inside the data directory.
pub const LEDGER_DIRECTORY: &str = "ledger";
/// The bureau token written on first start.
pub const BUREAU_TOKEN_FILE: &str = "bureau.token";

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot read policy file {path}: {error}")]
    PolicyFile {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Policy(#[from] crate::domain::policy::PolicyError),
    #[error("cannot open the ledger in {path}: {error}")]
    Start {
        path: PathBuf,
        error: crate::engine::StartError,
    },
    #[error("cannot open the ledger in the database {store}: {error}")]
    StartOnDatabase {
        store: String,
        error: crate::engine::StartError,
    },
    #[error("cannot make the data directory {path} its owner's alone: {error}")]
    DataDirectory {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot write the bureau token: {0}")]
    BootstrapToken(String),
    #[error("cannot listen on {address}: {error}")]
    Listen {
        address: SocketAddr,
        error: std::io::Error,
    },
    #[error("gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
    #[error("the ledger's storage failed; the last batch was not acknowledged")]
    StorageFailed,
    #[error("cannot read {what} {path}: {error}")]
    TlsFile {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot start the metrics listener on {address}: {error}")]
    Metrics { address: SocketAddr, error: String },
}

pub fn load_policy(path: Option<&Path>) -> Result<Policy, DaemonError> {
    match path {
        None => Ok(Policy::default_qidong()),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|error| DaemonError::PolicyFile {
                path: path.to_owned(),
                error,
            })?;
            Ok(Policy::from_toml(&text)?)
        }
    }
}

/// Checks the `store` key as starting on it would, connecting to nothing (`--check-config`):
/// a PostgreSQL address's `sslmode`, its `sslrootcert` file and its options.
pub fn check_store(config: &Config) -> Result<(), crate::store::StoreError> {
    match config.store.as_deref() {
        Some(url) => postgres::check_address(url),
        None => Ok(()),
    }
}

/// Runs the server until a shutdown signal; returns once everything is durable.
pub async fn run(config: Config) -> Result<(), DaemonError> {
    let policy = Arc::new(load_policy(config.policy.as_deref())?);
    tracing::info!(policy = %policy.name, document = %policy.document, fingerprint = %policy.fingerprint, "policy loaded");
    for exposed in config.plaintext_exposed() {
        tracing::warn!("PLAINTEXT on the network (allow_plaintext = true): {exposed}");
    }
    let clock = match config.today {
        Some(today) => {
            tracing::warn!(%today, "THE DATE IS PINNED: the rules see {today} as today, whatever the calendar says. For tests and drills only.");
            ClockSource::pinned(today)
        }
        None => ClockSource::system(),
    };
    let tls = read_tls_files(&config)?;
    if let Some(address) = config.metrics_listen {
        crate::metrics::install(address)
            .map_err(|error| DaemonError::Metrics { address, error })?;
        tracing::info!(%address, "serving Prometheus metrics on /metrics");
    }
    crate::private_files::restrict_directory(&config.data_dir, &[LEDGER_DIRECTORY]).map_err(
        |error| DaemonError::DataDirectory {
            path: config.data_dir.clone(),
            error,
        },
    )?;
    let engine_config = EngineConfig {
        clock,
        queue_capacity: config.queue_commands_max,
        batch_commands_max: config.batch_commands_max,
        checkpoint_interval: std::time::Duration::from_millis(config.checkpoint_interval_ms),
        store: crate::store::StoreOptions {
            wal_segment_bytes: config.wal_segment_kib * 1024,
        },
        ..EngineConfig::default()
    };
    let (owner, lease) = start_engine(&config, policy, engine_config)?;
    let result = serve_until_signal(&owner, &config, tls, lease.as_ref()).await;
    owner.shutdown();
    if let Some(lease) = lease {
        // Only once the writer has stopped: the next voucherd need not wait for it to lapse.
        lease.release();
    }
    tracing::info!("voucherd stopped; every acknowledged write is on disk");
    result
}

/// Opens the ledger where the configuration says (sled under the data directory, or the
/// PostgreSQL database of `store`) and starts the engine: on PostgreSQL as the writer when
/// the writer lease is free, else as a standby that takes over once it lapses.
fn start_engine(
    config: &Config,
    policy: Arc<Policy>,
    engine_config: EngineConfig,
) -> Result<(EngineOwner, Option<Arc<WriterLease>>), DaemonError> {
    let Some(url) = &config.store else {
        let ledger_path = config.data_dir.join(LEDGER_DIRECTORY);
        let owner = Engine::start(&ledger_path, policy, engine_config).map_err(|error| {
            DaemonError::Start {
                path: ledger_path.clone(),
                error,
            }
        })?;
        return Ok((owner, None));
    };
    let failed = |error: crate::engine::StartError| DaemonError::StartOnDatabase {
        store: postgres::describe(url),
        error,
    };
    let now = engine_config.clock.now().now.to_rfc3339();
    let (opened, lease) = postgres::open_ledger(
        url,
        policy.clone(),
        &now,
        &config.data_dir,
        &config
            .advertise_address
            .clone()
            .unwrap_or_else(|| config.listen.to_string()),
    )
    .map_err(|error| failed(error.into()))?;
    tracing::info!(store = %postgres::describe(url), "the ledger is in PostgreSQL");
    let owner = match opened {
        postgres::Opened::Writer(opened) => Engine::start_on(*opened, policy, engine_config),
        postgres::Opened::Standby(candidate) => {
            let reads = candidate.reader();
            // Named from the first answer on, before the standby's first try at the lease.
            let leader_address = candidate.leader_address.clone();
            let promotion = promotion(candidate, engine_config.clock.clone());
            Engine::start_standby(reads, promotion, policy, engine_config, leader_address)
        }
    }
    .map_err(failed)?;
    Ok((owner, Some(lease)))
}

/// A standby's tries at the writer lease, for the engine.
fn promotion(mut candidate: postgres::Candidate, clock: ClockSource) -> crate::engine::Promotion {
    let mut leader_address = candidate.leader_address.take();
    Box::new(move || {
        let now = clock.now().now.to_rfc3339();
        Ok(match candidate.try_promote(&now)? {
            postgres::Attempt::Held(held) => {
                if held.address != leader_address {
                    tracing::info!(%held, "the writer lease is held");
                    leader_address.clone_from(&held.address);
                }
                Promoted::Standby {
                    leader_address: held.address,
                }
            }
            postgres::Attempt::Taken(loaded) => Promoted::Writer(loaded),
        })
    })
}

/// Resolves once `lease` is found lost (never without one): a voucherd that is no longer the
/// writer stops rather than serve a ledger it can no longer change.
async fn lease_lost(lease: Option<&Arc<WriterLease>>) {
    let Some(lease) = lease else {
        return std::future::pending().await;
    };
    let mut check = tokio::time::interval(postgres::RENEW_INTERVAL / 2);
    while !lease.lost() {
        check.tick().await;
    }
}

/// The PEM files TLS needs, read before anything starts so a missing one stops nothing half-way.
fn read_tls_files(config: &Config) -> Result<Option<TlsFiles>, DaemonError> {
    let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else {
        return Ok(None);
    };
    let read = |what: &'static str, path: &Path| {
        std::fs::read(path).map_err(|error| DaemonError::TlsFile {
            what,
            path: path.to_owned(),
            error,
        })
    };
    let client_ca_pem = match &config.tls_client_ca {
        Some(path) => Some(read("tls_client_ca", path)?),
        None => None,
    };
    let files = TlsFiles {
        cert_pem: read("tls_cert", cert)?,
        key_pem: read("tls_key", key)?,
        client_ca_pem,
        require_client_cert: config.tls_require_client_cert,
    };
    files.check()?;
    Ok(Some(files))
}

async fn serve_until_signal(
    owner: &EngineOwner,
    config: &Config,
    tls: Option<TlsFiles>,
    lease: Option<&Arc<WriterLease>>,
) -> Result<(), DaemonError> {
    let engine = owner.engine().clone();
    // Only the voucherd that writes may record a token; a standby finds the ledger
    // initialised (or waits for the one that initialises it).
    if engine.is_writer() {
        write_bootstrap_token_if_needed(&engine, &config.data_dir).await?;
    } else {
        tracing::warn!(
            "standby: serving reads; writes are refused naming the active voucherd until this one takes over"
        );
        tokio::spawn(bootstrap_once_promoted(
            engine.clone(),
            config.data_dir.clone(),
        ));
    }
    // One count of failed authentications per address for the gRPC server and the console.
    let attempts = std::sync::Arc::new(crate::attempts::FailedAttempts::new());
    let web = start_web_console(&engine, config, attempts.clone()).await?;
    let (listener, address) = bind_grpc(config.listen).await?;
    if let Some(lease) = lease {
        let advertised = config
            .advertise_address
            .clone()
            .unwrap_or_else(|| address.to_string());
        lease.announce(&advertised);
    }
    tracing::info!(%address, data_dir = %config.data_dir.display(), tls = tls.is_some(), "voucherd serving");
    // Tests and scripts read the bound address from this line when they ask for port 0.
    say(&format!("voucherd listening on {address}"));
    if let Some(web) = &web {
        // The second line, when the console is on.
        say(&format!("voucherd web console on http://{}", web.address));
    }
    let limits = ServeLimits {
        message_bytes_max: config.message_bytes_max,
        concurrent_requests_max: config.concurrent_requests_max,
        concurrent_requests_per_connection_max: config.concurrent_requests_per_connection_max,
        connections_max: config.connections_max,
        ..ServeLimits::default()
    };
    let store_size = tokio::spawn(crate::metrics::watch_store_size(engine.reader().clone()));
    let (stop_serving, stop_requested) = tokio::sync::oneshot::channel::<()>();
    let serving = api::serve(listener, engine.clone(), limits, tls, attempts, async {
        let _ = stop_requested.await;
    });
    tokio::pin!(serving);
    let storage_failed = tokio::select! {
        result = &mut serving => {
            store_size.abort();
            return Ok(result?);
        }
        () = shutdown_signal() => {
            tracing::info!("shutdown requested: finishing requests in flight");
            false
        }
        () = engine.wait_for_failure() => {
            tracing::error!("the writer stopped: shutting down");
            true
        }
        () = lease_lost(lease) => {
            tracing::error!("another voucherd took the writer lease: shutting down");
            true
        }
    };
    store_size.abort();
    let _ = stop_serving.send(());
    if let Some(web) = web {
        stop_web_console(web, config).await;
    }
    // In-flight requests finish; a client that keeps an idle connection open must not hold
    // the shutdown forever. Commands already queued complete in the writer regardless.
    let grace = std::time::Duration::from_secs(config.shutdown_grace_s);
    match tokio::time::timeout(grace, &mut serving).await {
        Ok(result) => result?,
        Err(_) => tracing::warn!(
            grace_s = config.shutdown_grace_s,
            "connections still open after the grace period: closing them"
        ),
    }
    if storage_failed {
        return Err(DaemonError::StorageFailed);
    }
    Ok(())
}

/// The gRPC listener on `requested`, and the address it got (the port, when 0 was asked).
async fn bind_grpc(requested: SocketAddr) -> Result<(TcpListener, SocketAddr), DaemonError> {
    let failed = |error| DaemonError::Listen {
        address: requested,
        error,
    };
    let listener = TcpListener::bind(requested).await.map_err(failed)?;
    let address = listener.local_addr().map_err(failed)?;
    Ok((listener, address))
}

/// Stops the console, giving its connections the grace period.
async fn stop_web_console(web: WebConsole, config: &Config) {
    let _ = web.stop.send(());
    let grace = std::time::Duration::from_secs(config.shutdown_grace_s);
    if tokio::time::timeout(grace, web.task).await.is_err() {
        tracing::warn!("web console connections still open after the grace period");
    }
}

/// A line on stdout for scripts and tests; a closed stdout is not a reason to stop.
fn say(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The running web console: where it listens and how to stop it.
struct WebConsole {
    address: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// Binds and starts the web console when `web_port` is set; returns how to stop it.
async fn start_web_console(
    engine: &Engine,
    config: &Config,
    attempts: std::sync::Arc<crate::attempts::FailedAttempts>,
) -> Result<Option<WebConsole>, DaemonError> {
    let Some(port) = config.web_port else {
        return Ok(None);
    };
    let requested = std::net::SocketAddr::new(config.web_address, port);
    let listener = TcpListener::bind(requested)
        .await
        .map_err(|error| DaemonError::Listen {
            address: requested,
            error,
        })?;
    let address = listener.local_addr().map_err(|error| DaemonError::Listen {
        address: requested,
        error,
    })?;
    let settings = crate::web::WebSettings {
        session_lifetime: std::time::Duration::from_secs(config.web_session_minutes * 60),
        cookie_secure: config.web_cookie_secure,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = crate::web::serve(listener, engine.clone(), settings, attempts, async {
        let _ = stopped.await;
    });
    let task = tokio::spawn(async move {
        if let Err(error) = serving.await {
            tracing::error!(%error, "the web console stopped");
        }
    });
    tracing::info!(%address, "web console serving");
    Ok(Some(WebConsole {
        address,
        stop,
        task,
    }))
}

/// On first start (no token at all) writes a bureau token to `<data_dir>/bureau.token`, mode
/// 0600. The file is written and synced before the token is recorded, so a crash in between
/// leaves no token, and the next start writes a new one.
async fn write_bootstrap_token_if_needed(
    engine: &Engine,
    data_dir: &Path,
) -> Result<(), DaemonError> {
    let has_tokens = engine
        .reader()
        .store()
        .has_tokens()
        .map_err(|error| DaemonError::BootstrapToken(error.to_string()))?;
    if has_tokens {
        return Ok(());
    }
    let secret = generate_secret();
    let path = data_dir.join(BUREAU_TOKEN_FILE);
    write_private_file(&path, &secret)
        .map_err(|error| DaemonError::BootstrapToken(format!("{}: {error}", path.display())))?;
    let command = Command::CreateToken {
        role: Role::Bureau,
        provider_credit_code: None,
        enterprise_credit_code: None,
        programs: Default::default(),
        description: Some(
            Description::parse("bootstrap bureau token written at first start")
                .expect("a valid description"),
        ),
        secret_sha256: SecretHash::of(&secret),
    };
    engine
        .submit(command, crate::domain::model::Caller::ledger())
        .await
        .map_err(|error| DaemonError::BootstrapToken(error.to_string()))?;
    tracing::warn!(path = %path.display(), "first start: wrote a bureau token; keep it safe, it can do everything");
    Ok(())
}

/// Once this standby writes, the bureau token a first start writes, if the ledger has none:
/// the voucherd that initialised the database may have died before recording its own (it
/// writes the file first), and a ledger without a token is one nobody can sign in to.
async fn bootstrap_once_promoted(engine: Engine, data_dir: PathBuf) {
    let mut check = tokio::time::interval(std::time::Duration::from_millis(250));
    while !engine.is_writer() {
        check.tick().await;
    }
    if let Err(error) = write_bootstrap_token_if_needed(&engine, &data_dir).await {
        tracing::error!(%error, "took over a ledger without a bureau token and could not write one");
    }
}

fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    if let Some(directory) = path.parent() {
        std::fs::File::open(directory)?.sync_all()?;
    }
    Ok(())
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

/// Why an offline check or restore could not run.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    #[error(transparent)]
    Daemon(#[from] DaemonError),
    #[error("no ledger in {0}")]
    NoLedger(PathBuf),
    #[error(
        "cannot open the ledger in {path}: {error} (if voucherd is running on it, use `voucherctl verify` instead)"
    )]
    Open {
        path: PathBuf,
        error: crate::store::StoreError,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Backup(#[from] crate::store::backup::BackupError),
    #[error("cannot read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{0} already holds a ledger: restore into a new data directory")]
    TargetExists(PathBuf),
    #[error("no ledger in the database {0}")]
    NoLedgerInDatabase(String),
    #[error(
        "cannot open the ledger in the database {store}: {error} (if voucherd is running on it, use `voucherctl verify` instead)"
    )]
    OpenDatabase {
        store: String,
        error: crate::store::StoreError,
    },
}

/// Where an offline command finds the ledger: a data directory (sled), or a database.
#[derive(Clone, Copy, Debug)]
pub enum LedgerAt<'a> {
    Directory(&'a Path),
    /// `postgres://USER@HOST:PORT/DB`.
    Postgres(&'a str),
}

impl std::fmt::Display for LedgerAt<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LedgerAt::Directory(path) => write!(formatter, "{}", path.display()),
            LedgerAt::Postgres(url) => write!(formatter, "{}", postgres::describe(url)),
        }
    }
}

/// `voucherd verify`: replays the log of a stopped ledger and checks every stored record. A
/// ledger in PostgreSQL is verified holding its writer lease (refused while voucherd runs).
pub fn verify_offline(
    ledger: LedgerAt<'_>,
    policy_file: Option<&Path>,
) -> Result<crate::store::verify::VerifyReport, OfflineError> {
    let policy = Arc::new(load_policy(policy_file)?);
    let data_dir = match ledger {
        LedgerAt::Directory(data_dir) => data_dir,
        LedgerAt::Postgres(url) => {
            let opened =
                postgres::open_for_verify(url).map_err(|error| OfflineError::OpenDatabase {
                    store: postgres::describe(url),
                    error,
                })?;
            let Some((store, lease)) = opened else {
                return Err(OfflineError::NoLedgerInDatabase(postgres::describe(url)));
            };
            let (report, _) = crate::store::verify::verify(&store, policy)?;
            lease.release();
            return Ok(report);
        }
    };
    let ledger_path = data_dir.join(LEDGER_DIRECTORY);
    if !ledger_path.join("db").exists() {
        return Err(OfflineError::NoLedger(data_dir.to_owned()));
    }
    let open_error = |error| OfflineError::Open {
        path: ledger_path.clone(),
        error,
    };
    let store = crate::store::open_for_verify(&ledger_path, policy.clone()).map_err(open_error)?;
    let (report, _) = crate::store::verify::verify(&store, policy)?;
    Ok(report)
}

/// `voucherd restore`: rebuilds a data directory, or an empty database, from a backup file,
/// then verifies it.
pub fn restore_offline(
    backup_file: &Path,
    ledger: LedgerAt<'_>,
    policy_file: Option<&Path>,
) -> Result<
    (
        crate::store::backup::BackupSummary,
        crate::store::verify::VerifyReport,
    ),
    OfflineError,
> {
    let policy = Arc::new(load_policy(policy_file)?);
    let file = std::fs::File::open(backup_file).map_err(|error| OfflineError::Read {
        path: backup_file.to_owned(),
        error,
    })?;
    let data_dir = match ledger {
        LedgerAt::Directory(data_dir) => data_dir,
        LedgerAt::Postgres(url) => {
            return Ok(crate::store::backup::restore_into_postgres(
                std::io::BufReader::new(file),
                url,
                policy,
            )?);
        }
    };
    let ledger_path = data_dir.join(LEDGER_DIRECTORY);
    if ledger_path.exists() {
        return Err(OfflineError::TargetExists(data_dir.to_owned()));
    }
    std::fs::create_dir_all(data_dir).map_err(|error| OfflineError::Read {
        path: data_dir.to_owned(),
        error,
    })?;
    Ok(crate::store::backup::restore(
        std::io::BufReader::new(file),
        &ledger_path,
        policy,
    )?)
}
