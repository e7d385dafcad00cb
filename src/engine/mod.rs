//! The engine: one writer thread that owns the ledger, and a read side that never waits for it.
//!
//! Commands go into a bounded queue ([`Engine::submit`]). The writer takes every command
//! waiting (up to a batch bound), applies each to the in-memory ledger, appends all their
//! events to the store in one batch with one flush and one fsync, and only then answers every
//! caller in the batch: an answer means the write is on disk. While the disk is busy the next
//! batch grows; when the service is idle a batch is one command and answers at once.
//!
//! A command that reached the queue is carried out even if its caller goes away.

mod applications;
mod clock;
mod reader;
mod standby;
mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use crate::domain::command::Command;
use crate::domain::error::LedgerError;
use crate::domain::ledger::{Ledger, Outcome};
use crate::domain::model::Caller;
use crate::domain::policy::Policy;
use crate::store::verify::Problem;
use crate::store::{self, ChainHead, StoreError};

pub use crate::store::backup::{BackupError, BackupSummary};
pub use crate::store::verify::VerifyReport;
pub use crate::store::{Page, RedemptionFilter, SettlementFilter, VoucherFilter};
pub use clock::ClockSource;
pub use reader::{ExportedEvent, Reader};
pub use standby::PROMOTION_INTERVAL;

/// Bounds of the engine, and the clock it reads.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Commands waiting for the writer; beyond it, callers are told the service is overloaded.
    pub queue_capacity: usize,
    /// The most commands one batch (one fsync) carries.
    pub batch_commands_max: usize,
    /// How often the writer wakes on its own to expire vouchers.
    pub expiry_interval: Duration,
    /// How often sled is made durable by itself so that the write-ahead log can be forgotten
    /// up to there: the longest stretch a restart replays from the log.
    pub checkpoint_interval: Duration,
    /// How the store lays itself out on disk.
    pub store: store::StoreOptions,
    pub clock: ClockSource,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            queue_capacity: 4096,
            batch_commands_max: 1024,
            expiry_interval: Duration::from_secs(1),
            checkpoint_interval: Duration::from_secs(2),
            store: store::StoreOptions::default(),
            clock: ClockSource::system(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The rules or the input refused it; nothing changed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The writer's queue is full: try again shortly. Nothing changed.
    #[error("the ledger is busy: try again shortly")]
    Overloaded,
    /// The writer has stopped (shutdown, or a storage failure).
    #[error("the ledger is not accepting writes")]
    Unavailable,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// This voucherd is a standby: another one holds the writer lease. Nothing changed.
    #[error("{}", not_leader_message(leader_address.as_deref()))]
    NotLeader { leader_address: Option<String> },
}

fn not_leader_message(leader_address: Option<&str>) -> String {
    match leader_address {
        Some(address) => format!(
            "this voucherd is a standby and serves reads only: writes go to the active voucherd at {address}"
        ),
        None => "this voucherd is a standby and serves reads only: the active voucherd's address is not known (a takeover may be under way): retry shortly".to_owned(),
    }
}

/// A standby's one try at becoming the writer (see [`Engine::start_standby`]).
pub enum Promoted {
    /// Another voucherd holds the writer lease; it serves at this address, when it said.
    Standby { leader_address: Option<String> },
    /// This voucherd took the lease; the ledger as loaded after taking it (an error here
    /// stops the voucherd: it holds the lease but cannot write).
    Writer(Result<Box<store::OpenedStore>, StoreError>),
}

/// Tries once to take the writer lease; an error (the database away, a lock not granted) is
/// tried again later.
pub type Promotion = Box<dyn FnMut() -> Result<Promoted, StoreError> + Send>;

/// Whether this voucherd writes (holds the writer lease, or has a store of its own), and the
/// active one's address while it does not.
pub(crate) struct Writership {
    active: watch::Sender<bool>,
    leader_address: std::sync::Mutex<Option<String>>,
}

impl Writership {
    fn new(active: bool) -> Arc<Writership> {
        crate::metrics::writer_active(active);
        Arc::new(Writership {
            active: watch::Sender::new(active),
            leader_address: std::sync::Mutex::new(None),
        })
    }

    fn is_active(&self) -> bool {
        *self.active.borrow()
    }

    fn set_active(&self) {
        self.active.send_replace(true);
        crate::metrics::writer_active(true);
    }

    fn set_leader(&self, address: Option<String>) {
        // Replaced whole under the lock: a panic cannot leave it half written.
        *self
            .leader_address
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = address;
    }

    fn not_leader(&self) -> EngineError {
        EngineError::NotLeader {
            leader_address: self
                .leader_address
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        }
    }
}

/// Work that runs on the writer thread after a batch is durable, with writes paused.
pub(crate) type Inspection = Box<dyn FnOnce(&Ledger, &ChainHead) + Send>;

// A command is moved once, through the queue, to the writer; boxing it would buy nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Message {
    Execute {
        command: Command,
        caller: Caller,
        reply: oneshot::Sender<Result<Outcome, EngineError>>,
    },
    Inspect(Inspection),
    /// Finish everything queued before this, then stop.
    Stop,
}

/// A verification pauses writes while it runs; after one, writes get at least this many times
/// its length before the next may start, so callers looping `Verify` cannot stall the ledger
/// (see SECURITY.md): writes keep four fifths of the time at least.
pub const VERIFY_REST_FACTOR: u32 = 4;

/// A verification's report, and when it ran.
#[derive(Clone, Debug)]
pub struct Verification {
    pub report: VerifyReport,
    pub verified_at: chrono::DateTime<chrono::FixedOffset>,
    /// The head it verified, how long it took and when it ended.
    head: ChainHead,
    took: Duration,
    finished: std::time::Instant,
    /// Its number: a caller shares any run that ended after it asked.
    run: u64,
}

/// A handle to the engine; cheap to clone, one per request handler if need be.
#[derive(Clone)]
pub struct Engine {
    /// The last verification; its lock is held while one runs, so callers share it.
    verification: Arc<tokio::sync::Mutex<Option<Verification>>>,
    /// Verification runs finished so far.
    verifications_finished: Arc<std::sync::atomic::AtomicU64>,
    queue: SyncSender<Message>,
    /// Commands in the queue, for the queue-depth metric.
    queued: Arc<AtomicUsize>,
    reader: Reader,
    failed: watch::Receiver<bool>,
    writership: Arc<Writership>,
}

/// Owns the writer thread; [`EngineOwner::shutdown`] drains and joins it.
pub struct EngineOwner {
    engine: Engine,
    writer: Option<JoinHandle<()>>,
}

impl Engine {
    /// Opens the store in `directory`, rebuilds the ledger from its log, records the policy if
    /// it changed, expires what is due, and starts the writer.
    pub fn start(
        directory: &std::path::Path,
        policy: Arc<Policy>,
        config: EngineConfig,
    ) -> Result<EngineOwner, StartError> {
        let now = config.clock.now().now.to_rfc3339();
        let opened = store::open_ledger(directory, policy.clone(), &now, config.store)?;
        Engine::start_on(opened, policy, config)
    }

    /// Starts on a store already opened (e.g. one in memory: `store::open_memory`).
    pub fn start_on(
        opened: store::OpenedStore,
        policy: Arc<Policy>,
        config: EngineConfig,
    ) -> Result<EngineOwner, StartError> {
        let store::OpenedStore {
            reader: store,
            journal,
            ledger,
        } = opened;
        check_invariants(&ledger)?;
        let (failed_sender, failed) = watch::channel(false);
        let queued = Arc::new(AtomicUsize::new(0));
        let (queue, writer) = writer::spawn(
            ledger,
            journal,
            config.clone(),
            failed_sender,
            queued.clone(),
        )?;
        let reader = Reader::new(store, policy, config.clock);
        let engine = Engine {
            verification: Arc::new(tokio::sync::Mutex::new(None)),
            verifications_finished: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            queue,
            queued,
            reader,
            failed,
            writership: Writership::new(true),
        };
        Ok(EngineOwner {
            engine,
            writer: Some(writer),
        })
    }

    /// Starts as a standby: reads are served from `store` (which refuses writes), writes are
    /// answered [`EngineError::NotLeader`], and `promotion` is tried every
    /// [`PROMOTION_INTERVAL`] until it takes the writer lease; from then on this engine writes.
    /// `leader_address` is the active one as the lease named it at start.
    pub fn start_standby(
        store: store::SharedReadStore,
        promotion: Promotion,
        policy: Arc<Policy>,
        config: EngineConfig,
        leader_address: Option<String>,
    ) -> Result<EngineOwner, StartError> {
        let (failed_sender, failed) = watch::channel(false);
        let queued = Arc::new(AtomicUsize::new(0));
        let writership = Writership::new(false);
        writership.set_leader(leader_address);
        let (queue, writer) = standby::spawn(standby::Standby {
            promotion,
            config: config.clone(),
            failed: failed_sender,
            queued: queued.clone(),
            writership: writership.clone(),
        })?;
        let engine = Engine {
            verification: Arc::new(tokio::sync::Mutex::new(None)),
            verifications_finished: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            queue,
            queued,
            reader: Reader::new(store, policy, config.clock),
            failed,
            writership,
        };
        Ok(EngineOwner {
            engine,
            writer: Some(writer),
        })
    }

    /// Whether this voucherd writes; a standby does not until it takes over.
    pub fn is_writer(&self) -> bool {
        self.writership.is_active()
    }

    /// Follows [`Engine::is_writer`] (for the health service).
    pub fn writer_changes(&self) -> watch::Receiver<bool> {
        self.writership.active.subscribe()
    }

    /// What a write is answered while this voucherd is a standby: `Some` refusal, or `None`
    /// once it writes.
    fn refused_as_standby(&self) -> Option<EngineError> {
        (!self.writership.is_active()).then(|| self.writership.not_leader())
    }

    /// Why an answer never came: a standby's writer thread drops what it cannot answer.
    fn no_answer(&self) -> EngineError {
        self.refused_as_standby()
            .unwrap_or(EngineError::Unavailable)
    }

    /// Queues a command and waits until its outcome is durable (or refused).
    pub async fn submit(&self, command: Command, caller: Caller) -> Result<Outcome, EngineError> {
        if let Some(refusal) = self.refused_as_standby() {
            return Err(refusal);
        }
        let (reply, answer) = oneshot::channel();
        // Counted before it is sent, so the writer never takes away more than was added.
        self.queued.fetch_add(1, Ordering::SeqCst);
        let message = Message::Execute {
            command,
            caller,
            reply,
        };
        if let Err(refused) = self.queue.try_send(message) {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(match refused {
                TrySendError::Full(_) => EngineError::Overloaded,
                TrySendError::Disconnected(_) => EngineError::Unavailable,
            });
        }
        answer.await.map_err(|_| EngineError::Unavailable)?
    }

    /// Runs `inspect` on the writer thread against the live ledger once everything queued
    /// before it is durable (expiring what is due first). Writes wait while it runs, reads do
    /// not: keep it short, or accept the pause (verification does).
    pub async fn inspect<T: Send + 'static>(
        &self,
        inspect: impl FnOnce(&Ledger, &ChainHead) -> T + Send + 'static,
    ) -> Result<T, EngineError> {
        if let Some(refusal) = self.refused_as_standby() {
            return Err(refusal);
        }
        let (reply, answer) = oneshot::channel();
        let inspection: Inspection = Box::new(move |ledger, head| {
            let _ = reply.send(inspect(ledger, head));
        });
        match self.queue.try_send(Message::Inspect(inspection)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(EngineError::Overloaded),
            Err(TrySendError::Disconnected(_)) => return Err(EngineError::Unavailable),
        }
        answer.await.map_err(|_| self.no_answer())
    }

    /// Waits until everything queued so far, and every expiry due today, is durable; returns
    /// the number of events recorded.
    pub async fn sync(&self) -> Result<u64, EngineError> {
        self.inspect(|_, head| head.sequence).await
    }

    /// A verification of the ledger as it stands, run at most one at a time: callers that
    /// arrive while one runs share its report; when nothing was written since the last run,
    /// its report is still exact and is returned; otherwise a new run starts once writes have
    /// had [`VERIFY_REST_FACTOR`] times the last run's length since it ended.
    pub async fn verification(&self) -> Result<Verification, EngineError> {
        // Verification compares the live ledger, which only the writer has.
        if let Some(refusal) = self.refused_as_standby() {
            return Err(refusal);
        }
        let asked_after = self.verifications_finished.load(Ordering::SeqCst);
        let mut last = self.verification.lock().await;
        if let Some(done) = last.as_ref() {
            let current_head = self.reader.store().stored_head()?;
            if done.run > asked_after || done.head == current_head {
                return Ok(done.clone());
            }
            let rest = done.took * VERIFY_REST_FACTOR;
            if let Some(wait) = rest.checked_sub(done.finished.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        let verified_at = self.reader.now().now;
        let started = std::time::Instant::now();
        let (report, head) = self.verify_with_head().await?;
        let run = self.verifications_finished.load(Ordering::SeqCst) + 1;
        let done = Verification {
            report,
            verified_at,
            head,
            took: started.elapsed(),
            finished: std::time::Instant::now(),
            run,
        };
        *last = Some(done.clone());
        self.verifications_finished.store(run, Ordering::SeqCst);
        Ok(done)
    }

    /// Replays the whole log from nothing and checks every stored record against the replay,
    /// and the live ledger against it too, and says at which head. The replay and a first look
    /// at every record run while writes go on; writes wait only for the rest: the events of
    /// the last moment, a second look at the records that differed or were written since, the
    /// invariants and the live ledger.
    async fn verify_with_head(&self) -> Result<(VerifyReport, ChainHead), EngineError> {
        let store = self.reader.store().clone();
        let policy = self.reader.policy().clone();
        let started = std::time::Instant::now();
        let replay = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || {
                let mut replay = store::verify::Replay::new(&*store, policy);
                replay.advance(&*store)?;
                replay.compare_while_writing()?;
                // What was written during the first look is replayed now too, so that the
                // pause has only the last moment's events to catch up.
                replay.advance(&*store)?;
                Ok::<_, StoreError>(replay)
            })
            .await
            .map_err(|_| EngineError::Unavailable)??
        };
        let replayed_before_pause_ms = started.elapsed().as_millis();
        let events_before_pause = replay.events_read();
        let outcome = self
            .inspect(move |live, head| {
                let paused = std::time::Instant::now();
                let (mut report, replayed) = replay.finish(&*store)?;
                tracing::info!(
                    events_before_pause,
                    events = head.sequence,
                    replayed_before_pause_ms,
                    writes_paused_ms = paused.elapsed().as_millis(),
                    "verification: the log replayed and the records looked at while writes went on, the rest with writes paused"
                );
                if report.is_sound() && !replayed.resident_equals(live) {
                    report.problems.push(Problem {
                        event: None,
                        message: "the live ledger differs from the replay of its log".to_owned(),
                    });
                }
                Ok::<_, StoreError>((report, head.clone()))
            })
            .await?;
        Ok(outcome?)
    }

    pub fn reader(&self) -> &Reader {
        &self.reader
    }

    /// Resolves when the writer stopped because storage failed; the process should exit.
    pub async fn wait_for_failure(&self) {
        let mut failed = self.failed.clone();
        let _ = failed.wait_for(|failed| *failed).await;
    }
}

impl EngineOwner {
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Lets the writer finish every queued command, make it durable, and stop.
    pub fn shutdown(mut self) {
        // A full queue still takes Stop once the writer drains it; blocking here is bounded
        // by the queue length.
        let _ = self.engine.queue.send(Message::Stop);
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// Refuses a ledger that breaks its invariants before anything is served from it.
fn check_invariants(ledger: &Ledger) -> Result<(), StartError> {
    let violations = ledger.check_invariants();
    match violations.first() {
        Some(first) => Err(StartError::Invariant(format!(
            "{} invariant violations; the first: {first}",
            violations.len()
        ))),
        None => Ok(()),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the ledger breaks its invariants: {0}")]
    Invariant(String),
    #[error("cannot start the writer thread: {0}")]
    Thread(#[from] std::io::Error),
}
