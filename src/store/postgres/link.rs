//! The link to PostgreSQL: a tokio runtime of its own, on a thread of its own, that runs the
//! `tokio-postgres` clients, and the blocking calls the synchronous `Tree` makes into it.
//!
//! The `Tree` trait is called from tokio worker threads (the API's reads) and from plain
//! threads (the writer); `Runtime::block_on` inside another runtime panics, so every call is a
//! task spawned on this runtime whose answer comes back on a std channel. Three connections:
//! the readers' (shared, pipelined, reconnected when it breaks), the writer's (one batch at a
//! time, in a transaction) and the lease's (renewed on a timer, never queued behind reads);
//! each in the clear or over verified TLS, as the store URL says (`tls`). One readers'
//! connection is enough: four taken in turn were measured no faster (mixed ×64, 2026-12-01:
//! 8,028 and 7,911/s against one's 8,898 and 8,081/s); the reads pipeline on it.

use std::future::Future;
use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio_postgres::{Client, Config, NoTls, Statement};

use super::tls::{self, Security};
use crate::store::StoreError;

/// How long connecting may take.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest any one statement may run in the server: a batch of a restore is the largest.
const STATEMENT_TIMEOUT: &str = "15s";
/// How long a lock may be waited for (the lease row, while a taker holds it).
const LOCK_TIMEOUT: &str = "5s";
/// How long a session may sit idle inside a transaction before the server ends it. Short:
/// a writer paused in the middle of a batch (SIGSTOP, a frozen VM) holds the lease row
/// `FOR SHARE`, and a standby's takeover waits for that lock; past this the server rolls the
/// paused batch back (it was never acknowledged) and the takeover goes on. Every transaction
/// of ours sends its statements back to back, so a live one is never idle this long.
const IDLE_IN_TRANSACTION_TIMEOUT: &str = "2s";
/// How long a caller waits for any one call: past the statement timeout and a reconnect, so a
/// server that stops answering fails the call instead of hanging the writer.
const CALL_DEADLINE: Duration = Duration::from_secs(30);
/// Entries a range reads per query.
pub(super) const RANGE_CHUNK: i64 = 256;

/// One connection.
pub(super) struct Connected {
    pub client: Client,
    /// The writer's batch statement, prepared on the connection's first batch (`tree`).
    pub batch_statement: Option<Statement>,
}

/// The readers' connection and the statements prepared on it (once the schema exists).
pub(super) struct Reading {
    pub client: Client,
    pub statements: Statements,
}

/// The statements the readers use all the time, prepared once per connection.
pub(super) struct Statements {
    pub get: Statement,
    /// Many keys at once (`$1`, an array): what the writer reads ahead for a batch.
    pub get_many: Statement,
    /// Indexed by [`range_index`]: every pair of start and end bound kinds.
    pub ranges: Vec<Statement>,
    pub last_below: Statement,
    pub last_from: Statement,
    pub size: Statement,
}

/// Which of [`Statements::ranges`] reads `(start, end)`.
pub(super) fn range_index(start: &Bound<Vec<u8>>, end: &Bound<Vec<u8>>) -> usize {
    let kind = |bound: &Bound<Vec<u8>>| match bound {
        Bound::Included(_) => 0,
        Bound::Excluded(_) => 1,
        Bound::Unbounded => 2,
    };
    kind(start) * 3 + kind(end)
}

/// The SQL of every range statement, in [`range_index`] order. The start's parameter is $1
/// and the end's the next free one; the chunk's limit is last.
fn range_sql() -> Vec<String> {
    let mut all = Vec::with_capacity(9);
    for start in [">=", ">", ""] {
        for end in ["<=", "<", ""] {
            let mut conditions = Vec::new();
            let mut next = 1;
            if !start.is_empty() {
                conditions.push(format!("key {start} ${next}"));
                next += 1;
            }
            if !end.is_empty() {
                conditions.push(format!("key {end} ${next}"));
                next += 1;
            }
            let filter = if conditions.is_empty() {
                String::new()
            } else {
                format!("WHERE {} ", conditions.join(" AND "))
            };
            all.push(format!(
                "SELECT key, value FROM entries {filter}ORDER BY key LIMIT ${next}"
            ));
        }
    }
    all
}

/// Connects, in the clear or over verified TLS, and runs the connection on this runtime.
async fn connect(config: &Config, security: &Security) -> Result<Client, StoreError> {
    match security {
        Security::Plain => {
            let (client, connection) = config.connect(NoTls).await.map_err(postgres_error)?;
            run_connection(connection);
            Ok(client)
        }
        Security::Verified(tls) => {
            let (client, connection) = config.connect(tls.clone()).await.map_err(postgres_error)?;
            run_connection(connection);
            Ok(client)
        }
    }
}

fn run_connection(
    connection: impl Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
) {
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "a PostgreSQL connection ended");
        }
    });
}

impl Connected {
    /// Connects and sets the session's bounds and durability.
    async fn open(config: &Config, security: &Security) -> Result<Connected, StoreError> {
        let client = connect(config, security).await?;
        // synchronous_commit on: a commit returns once its WAL is flushed (and, with
        // synchronous standbys configured, replicated): nothing is acknowledged before.
        client
            .batch_execute(&format!(
                "SET synchronous_commit = on; SET statement_timeout = '{STATEMENT_TIMEOUT}'; \
                 SET lock_timeout = '{LOCK_TIMEOUT}'; \
                 SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION_TIMEOUT}'"
            ))
            .await
            .map_err(postgres_error)?;
        Ok(Connected {
            client,
            batch_statement: None,
        })
    }
}

impl Reading {
    async fn open(config: &Config, security: &Security) -> Result<Reading, StoreError> {
        let Connected { client, .. } = Connected::open(config, security).await?;
        let statements = Statements::prepare(&client).await.map_err(postgres_error)?;
        Ok(Reading { client, statements })
    }
}

impl Statements {
    async fn prepare(client: &Client) -> Result<Statements, tokio_postgres::Error> {
        let mut ranges = Vec::with_capacity(9);
        for sql in range_sql() {
            ranges.push(client.prepare(&sql).await?);
        }
        Ok(Statements {
            get: client
                .prepare("SELECT value FROM entries WHERE key = $1")
                .await?,
            get_many: client
                .prepare_typed(
                    "SELECT key, value FROM entries WHERE key = ANY ($1)",
                    &[tokio_postgres::types::Type::BYTEA_ARRAY],
                )
                .await?,
            ranges,
            last_below: client
                .prepare(
                    "SELECT key, value FROM entries WHERE key >= $1 AND key < $2 \
                     ORDER BY key DESC LIMIT 1",
                )
                .await?,
            last_from: client
                .prepare("SELECT key, value FROM entries WHERE key >= $1 ORDER BY key DESC LIMIT 1")
                .await?,
            size: client
                .prepare("SELECT pg_total_relation_size('entries')::bigint")
                .await?,
        })
    }
}

/// A connection slot: opened on first use and again once it broke.
type Slot = Mutex<Option<Arc<Connected>>>;

/// The readers' slot, likewise.
type ReadingSlot = Mutex<Option<Arc<Reading>>>;

/// What the runtime's tasks share.
pub(super) struct Shared {
    config: Config,
    security: Security,
    readers: ReadingSlot,
    /// Not shared like the others: a transaction needs its client to itself.
    writer: Mutex<Option<Connected>>,
    lease: Slot,
}

/// The writer's connection, held for one batch (or migration) at a time.
pub(super) type WriterGuard<'a> = tokio::sync::MappedMutexGuard<'a, Connected>;

impl Shared {
    /// The connection in `slot`, opened anew if there is none or it broke.
    async fn connection(&self, slot: &Slot) -> Result<Arc<Connected>, StoreError> {
        let mut held = slot.lock().await;
        if let Some(connected) = held.as_ref()
            && !connected.client.is_closed()
        {
            return Ok(connected.clone());
        }
        let connected = Arc::new(Connected::open(&self.config, &self.security).await?);
        *held = Some(connected.clone());
        Ok(connected)
    }

    /// The readers' connection, opened (and its statements prepared) on first use, after the
    /// schema exists, and again once it broke.
    async fn readers(&self) -> Result<Arc<Reading>, StoreError> {
        let mut held = self.readers.lock().await;
        if let Some(reading) = held.as_ref()
            && !reading.client.is_closed()
        {
            return Ok(reading.clone());
        }
        let reading = Arc::new(Reading::open(&self.config, &self.security).await?);
        *held = Some(reading.clone());
        Ok(reading)
    }

    /// The writer's connection, opened anew if it broke. Only one batch is ever in flight
    /// (the journal's `&mut self`); a batch whose connection broke before its COMMIT is
    /// written again on a new one, one that broke at its COMMIT fails (see `tree`).
    pub async fn writer(&self) -> Result<WriterGuard<'_>, StoreError> {
        let mut held = self.writer.lock().await;
        if held
            .as_ref()
            .is_none_or(|connected| connected.client.is_closed())
        {
            *held = Some(Connected::open(&self.config, &self.security).await?);
        }
        tokio::sync::MutexGuard::try_map(held, Option::as_mut)
            .map_err(|_| StoreError::Postgres("the writer's connection is missing".to_owned()))
    }

    pub async fn lease(&self) -> Result<Arc<Connected>, StoreError> {
        self.connection(&self.lease).await
    }
}

/// The runtime, its thread, and the connections. Dropping it stops the thread.
pub(super) struct Link {
    handle: tokio::runtime::Handle,
    /// Dropped with the link: the runtime's thread then returns and drops the runtime (on a
    /// plain thread, where dropping one is allowed).
    _stop: tokio::sync::oneshot::Sender<()>,
    pub shared: Arc<Shared>,
    /// `user@host:port/database`, never the password: for messages.
    pub described: String,
}

/// A store address read: the client's configuration and how to secure the connections (the
/// CA file read and parsed). Connects to nothing.
pub(super) fn parse_address(url: &str) -> Result<(Config, Security), StoreError> {
    let (url, security) = tls::split(url)?;
    let config: Config = url.parse().map_err(|error: tokio_postgres::Error| {
        StoreError::Postgres(format!(
            "the store address is not a PostgreSQL URL: {}",
            with_causes(&error)
        ))
    })?;
    Ok((config, security))
}

impl Link {
    /// Parses `url` and starts the runtime's thread; connects on first use.
    pub fn start(url: &str) -> Result<Link, StoreError> {
        let (mut config, security) = parse_address(url)?;
        config
            .connect_timeout(CONNECT_TIMEOUT)
            .application_name("voucherd");
        let described = describe(&config);
        let (handle_sender, handle_receiver) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("postgres".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(runtime) => {
                        let _ = handle_sender.send(Ok(runtime.handle().clone()));
                        runtime.block_on(async {
                            let _ = stopped.await;
                        });
                    }
                    Err(error) => {
                        let _ = handle_sender.send(Err(error));
                    }
                }
            })?;
        let handle = handle_receiver.recv().map_err(|_| {
            StoreError::Postgres("the PostgreSQL client thread did not start".into())
        })??;
        let shared = Arc::new(Shared {
            config,
            security,
            readers: Mutex::new(None),
            writer: Mutex::new(None),
            lease: Mutex::new(None),
        });
        Ok(Link {
            handle,
            _stop: stop,
            shared,
            described,
        })
    }

    /// Runs `task` on the link's runtime and waits for its answer, at most [`CALL_DEADLINE`].
    /// Never call it from a task of the link's own runtime (it would wait on itself).
    pub fn run<T, F>(&self, task: impl FnOnce(Arc<Shared>) -> F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        let future = task(self.shared.clone());
        self.handle.spawn(async move {
            let answer = match tokio::time::timeout(CALL_DEADLINE, future).await {
                Ok(answer) => answer,
                Err(_) => Err(StoreError::Postgres(format!(
                    "no answer from PostgreSQL within {CALL_DEADLINE:?}"
                ))),
            };
            let _ = sender.send(answer);
        });
        receiver
            .recv()
            .map_err(|_| StoreError::Postgres("the PostgreSQL client thread stopped".to_owned()))?
    }

    /// Runs a read, once more on a new connection if the connection broke under it.
    pub fn read<T, F>(
        &self,
        query: impl Fn(Arc<Reading>) -> F + Send + 'static,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, tokio_postgres::Error>> + Send + 'static,
    {
        self.run(|shared| async move {
            let connected = shared.readers().await?;
            match query(connected.clone()).await {
                Ok(answer) => Ok(answer),
                Err(error) if connected.client.is_closed() || connection_lost(&error) => {
                    tracing::warn!(%error, "the PostgreSQL connection broke: reading again on a new one");
                    let connected = shared.readers().await?;
                    query(connected).await.map_err(postgres_error)
                }
                Err(error) => Err(postgres_error(error)),
            }
        })
    }

    /// Spawns `task` on the link's runtime (a timer, such as the lease's renewal).
    pub fn spawn(
        &self,
        task: impl Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        self.handle.spawn(task)
    }
}

/// `user@host:port/database` of a configuration.
pub(super) fn describe(config: &Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_default();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{}@{host}:{port}/{}",
        config.get_user().unwrap_or(""),
        config.get_dbname().unwrap_or("")
    )
}

/// Whether `error` means the connection is gone (not that the statement was refused): the
/// client saw it close, a connection exception (08), or the server ended the session (57P).
pub(super) fn connection_lost(error: &tokio_postgres::Error) -> bool {
    error.is_closed()
        || error
            .code()
            .is_some_and(|code| code.code().starts_with("08") || code.code().starts_with("57P"))
}

/// A client error as the store's, with the server's own message when there is one.
pub(super) fn postgres_error(error: tokio_postgres::Error) -> StoreError {
    match error.as_db_error() {
        Some(database) => StoreError::Postgres(format!(
            "{} ({})",
            database.message(),
            database.code().code()
        )),
        None => StoreError::Postgres(with_causes(&error)),
    }
}

/// An error and every cause under it: the cause says what went wrong ("invalid peer
/// certificate: UnknownIssuer", "invalid value for option `connect_timeout`").
fn with_causes(error: &tokio_postgres::Error) -> String {
    let mut message = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        message.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    message
}
