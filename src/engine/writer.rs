//! The writer and its sync thread: a two-stage pipeline.
//!
//! The writer thread takes every queued command (up to the batch bound), applies each to the
//! ledger, and appends their events and touched records to sled in one atomic batch. The sync
//! thread makes appended batches durable in order (sled's flush, then an fdatasync) and only
//! then answers the callers of that batch. While one batch is being synced the writer decides
//! and appends the next, so the disk's latency and the CPU's work overlap; at most
//! [`PIPELINE_DEPTH`] batches wait between them. One flush covers everything appended before
//! it, so a batch is never answered before it is on disk, whichever flush carried it there.
//!
//! Every answer (refusals and idempotent replays too) goes through the sync thread in order, so
//! nobody hears about a state that is not yet on disk.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use super::{EngineConfig, EngineError, Inspection, Message};
use crate::domain::command::Command;
use crate::domain::error::LedgerError;
use crate::domain::event::{Event, LoggedEvent};
use crate::domain::ledger::{Ledger, Outcome};
use crate::domain::model::Caller;
use crate::store::{AppendedBatch, Durability, EventJournal};

/// Prepared batches that may wait for the sync thread. One is synced while the next is
/// prepared; more would only add latency.
const PIPELINE_DEPTH: usize = 1;

type Reply = oneshot::Sender<Result<Outcome, EngineError>>;
type Answer = (Reply, Result<Outcome, EngineError>);

enum SyncJob {
    /// Make this batch durable (if it has events), then answer these callers.
    Batch {
        appended: Option<AppendedBatch>,
        answers: Vec<Answer>,
    },
    /// Answered once every batch sent before it is durable.
    Barrier(SyncSender<()>),
}

pub(super) struct Writer {
    /// Commands submitted and not yet taken into a batch (shared with [`super::Engine`]).
    queued: Arc<AtomicUsize>,
    ledger: Ledger,
    journal: Box<dyn EventJournal>,
    config: EngineConfig,
    sync: Option<SyncSender<SyncJob>>,
    sync_thread: Option<JoinHandle<()>>,
    checkpoints: Option<Checkpoints>,
    storage_failed: Arc<AtomicBool>,
    failed: Arc<watch::Sender<bool>>,
}

/// Starts the writer and its sync thread. Before either takes a command the policy is
/// recorded if it changed and what is due expires, so the first answer sees today's state.
pub(super) fn spawn(
    ledger: Ledger,
    journal: Box<dyn EventJournal>,
    config: EngineConfig,
    failed: watch::Sender<bool>,
    queued: Arc<AtomicUsize>,
) -> std::io::Result<(SyncSender<Message>, JoinHandle<()>)> {
    let writer = Writer::prepare(ledger, journal, config, Arc::new(failed), queued)?;
    let (queue, receiver) = sync_channel(writer.config.queue_capacity);
    let handle = std::thread::Builder::new()
        .name("ledger-writer".to_owned())
        .spawn(move || writer.run(receiver))?;
    Ok((queue, handle))
}

impl Writer {
    /// Records the policy if it changed and expires what is due, then starts the sync and
    /// checkpoint threads: the writer is ready to take its first command.
    pub(super) fn prepare(
        mut ledger: Ledger,
        mut journal: Box<dyn EventJournal>,
        config: EngineConfig,
        failed: Arc<watch::Sender<bool>>,
        queued: Arc<AtomicUsize>,
    ) -> std::io::Result<Writer> {
        let clock = config.clock.now();
        let mut events: Vec<LoggedEvent> = ledger.adopt_policy(clock).into_iter().collect();
        events.extend(ledger.expire_due(clock));
        if !events.is_empty() {
            journal
                .commit(&events, &ledger)
                .map_err(std::io::Error::other)?;
        }
        let durable = journal.durability();
        let storage_failed = Arc::new(AtomicBool::new(false));
        let durable_sequence = Arc::new(AtomicU64::new(journal.head().sequence));
        let checkpoints = Checkpoints::spawn(
            durable.clone(),
            durable_sequence.clone(),
            config.checkpoint_interval,
        )?;
        let (sync, sync_jobs) = sync_channel(PIPELINE_DEPTH);
        let health = Health {
            storage_failed: storage_failed.clone(),
            failed: failed.clone(),
            durable_sequence,
        };
        let sync_thread = std::thread::Builder::new()
            .name("ledger-sync".to_owned())
            .spawn(move || run_sync(durable, sync_jobs, health))?;
        Ok(Writer {
            queued,
            ledger,
            journal,
            config,
            sync: Some(sync),
            sync_thread: Some(sync_thread),
            checkpoints: Some(checkpoints),
            storage_failed,
            failed,
        })
    }
}

impl Writer {
    /// Events in the ledger so far.
    pub(super) fn events(&self) -> u64 {
        self.journal.head().sequence
    }

    pub(super) fn run(mut self, receiver: Receiver<Message>) {
        let mut stopping = false;
        while !stopping && !self.storage_failed.load(Ordering::SeqCst) {
            let first = match receiver.recv_timeout(self.config.expiry_interval) {
                Ok(message) => Some(message),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut commands = Vec::new();
            let mut inspections: Vec<Inspection> = Vec::new();
            for message in first
                .into_iter()
                .chain(std::iter::from_fn(|| receiver.try_recv().ok()))
            {
                match message {
                    Message::Execute {
                        command,
                        caller,
                        reply,
                    } => commands.push((command, caller, reply)),
                    Message::Inspect(inspection) => inspections.push(inspection),
                    Message::Stop => {
                        stopping = true;
                        break;
                    }
                }
                if commands.len() + inspections.len() >= self.config.batch_commands_max {
                    break;
                }
            }
            self.run_batch(commands);
            if !inspections.is_empty() {
                self.wait_until_durable();
                // Writes are paused while inspections look at the ledger and the store.
                for inspection in inspections {
                    inspection(&self.ledger, self.journal.head());
                }
            }
        }
        self.stop_sync();
        if let Some(checkpoints) = self.checkpoints.take() {
            checkpoints.stop_with_last(self.journal.head().sequence);
        }
        tracing::info!(
            events = self.journal.head().sequence,
            "writer stopped after its last batch"
        );
    }

    /// Applies a batch of commands, prepares their events, and hands both to the sync thread.
    fn run_batch(&mut self, commands: Vec<(Command, Caller, Reply)>) {
        let clock = self.config.clock.now();
        let mut events = self.ledger.expire_due(clock);
        let mut answers: Vec<Answer> = Vec::with_capacity(commands.len());
        let taken = commands.len();
        let deciding: Vec<&Command> = commands.iter().map(|(command, _, _)| command).collect();
        self.journal.read_ahead(&deciding);
        for (command, caller, reply) in commands {
            let history = self.journal.history();
            let result = match self
                .ledger
                .execute_recalled(&command, &caller, clock, history)
            {
                Ok(Ok(executed)) => {
                    events.extend(executed.events);
                    Ok(executed.outcome)
                }
                Ok(Err(error)) => {
                    count_refusal(&command, &error, &self.ledger);
                    Err(EngineError::Ledger(error))
                }
                Err(unreadable) => {
                    tracing::error!(%unreadable, command = command.name(), "history could not be read: the command is refused, nothing changed");
                    Err(EngineError::Unavailable)
                }
            };
            answers.push((reply, result));
        }
        let waiting = self
            .queued
            .fetch_sub(taken, Ordering::SeqCst)
            .saturating_sub(taken);
        crate::metrics::queue_depth(waiting);
        if events.is_empty() && answers.is_empty() {
            return;
        }
        count_events(&events, &self.ledger);
        let appended = if events.is_empty() {
            None
        } else {
            self.append(&events)
        };
        // Stored now (or the writer stops): what the batch recalled can go.
        self.ledger.forget_history();
        self.send(SyncJob::Batch { appended, answers });
    }

    /// Applies the batch to sled here, so the sync thread has only the flush and fsync left.
    /// A failure here leaves the ledger in memory ahead of the store: nothing from now on may
    /// be acknowledged.
    fn append(&mut self, events: &[LoggedEvent]) -> Option<AppendedBatch> {
        match self.journal.append(events, &self.ledger) {
            Ok(appended) => Some(appended),
            Err(error) => {
                tracing::error!(%error, "appending to the store failed: stopping; nothing from here on is acknowledged");
                self.storage_failed.store(true, Ordering::SeqCst);
                let _ = self.failed.send(true);
                None
            }
        }
    }

    /// Blocks until every batch handed over so far is on disk.
    fn wait_until_durable(&mut self) {
        let (done, finished) = sync_channel(1);
        self.send(SyncJob::Barrier(done));
        let _ = finished.recv();
    }

    fn send(&mut self, job: SyncJob) {
        if let Some(sync) = &self.sync {
            // Blocks while the sync thread is busy: that is the back-pressure that grows batches.
            let _ = sync.send(job);
        }
    }

    fn stop_sync(&mut self) {
        drop(self.sync.take());
        if let Some(thread) = self.sync_thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the sync thread reports to the rest: a storage failure, and how far the log is durable.
struct Health {
    storage_failed: Arc<AtomicBool>,
    failed: Arc<watch::Sender<bool>>,
    /// The last event on disk in the write-ahead log (what a checkpoint may forget up to).
    durable_sequence: Arc<AtomicU64>,
}

/// The sync thread: writes each batch, makes it durable, then answers its callers. After a
/// storage failure it answers everyone "unavailable": the ledger in memory is then ahead of
/// the disk and nothing more may be acknowledged.
fn run_sync(durable: Arc<dyn Durability>, jobs: Receiver<SyncJob>, health: Health) {
    for job in jobs {
        match job {
            SyncJob::Barrier(done) => {
                let _ = done.send(());
            }
            SyncJob::Batch { appended, answers } => {
                if let Some(appended) = appended
                    && !health.storage_failed.load(Ordering::SeqCst)
                {
                    write(&*durable, appended, answers.len(), &health);
                }
                let usable = !health.storage_failed.load(Ordering::SeqCst);
                for (reply, result) in answers {
                    // The caller may have gone away; the write stands regardless.
                    let _ = reply.send(if usable {
                        result
                    } else {
                        Err(EngineError::Unavailable)
                    });
                }
            }
        }
    }
}

fn write(durable: &dyn Durability, appended: AppendedBatch, commands: usize, health: &Health) {
    let events = appended.events;
    let head = appended.head.sequence;
    match durable.write(appended) {
        Ok(timing) => {
            health.durable_sequence.store(head, Ordering::SeqCst);
            crate::metrics::batch(commands, timing.flush_and_sync);
            tracing::debug!(
                commands,
                events,
                prepare_us = timing.prepare.as_micros() as u64,
                apply_us = timing.apply.as_micros() as u64,
                flush_and_sync_us = timing.flush_and_sync.as_micros() as u64,
                "batch durable"
            )
        }
        Err(error) => {
            tracing::error!(%error, commands, "commit failed: no answer in this batch or after it is acknowledged; stopping");
            health.storage_failed.store(true, Ordering::SeqCst);
            let _ = health.failed.send(true);
        }
    }
}

/// The checkpoint thread: every interval, makes sled durable by itself up to what the log has
/// made durable, and lets the log forget that far. Off the sync thread, so answers never wait
/// for sled's flush.
struct Checkpoints {
    stop: SyncSender<()>,
    thread: JoinHandle<()>,
    durable: Arc<dyn Durability>,
}

impl Checkpoints {
    fn spawn(
        durable: Arc<dyn Durability>,
        durable_sequence: Arc<AtomicU64>,
        interval: Duration,
    ) -> std::io::Result<Checkpoints> {
        let (stop, stopped) = sync_channel::<()>(1);
        let checkpointing = durable.clone();
        let thread = std::thread::Builder::new()
            .name("ledger-checkpoint".to_owned())
            .spawn(move || {
                let mut checkpointed = durable_sequence.load(Ordering::SeqCst);
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    let sequence = durable_sequence.load(Ordering::SeqCst);
                    if sequence == checkpointed {
                        continue;
                    }
                    let started = std::time::Instant::now();
                    match checkpointing.checkpoint(sequence) {
                        Ok(()) => {
                            checkpointed = sequence;
                            crate::metrics::checkpoint(started.elapsed());
                        }
                        // The log still holds everything: a failed checkpoint loses nothing.
                        Err(error) => tracing::error!(%error, "checkpoint failed; the write-ahead log keeps every record until one succeeds"),
                    }
                }
            })?;
        Ok(Checkpoints {
            stop,
            thread,
            durable,
        })
    }

    /// Stops the thread and takes a last checkpoint, so a restart has nothing to replay.
    fn stop_with_last(self, head: u64) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
        if let Err(error) = self.durable.checkpoint(head) {
            tracing::error!(%error, "the last checkpoint failed; the next start replays the write-ahead log");
        }
    }
}

/// A refused redemption, by its reason (and program, when the voucher is known).
fn count_refusal(command: &Command, error: &LedgerError, ledger: &Ledger) {
    if let Command::Redeem(redeem) = command {
        let program = ledger
            .voucher(&redeem.voucher_id)
            .map_or("unknown", |voucher| voucher.program.as_str());
        crate::metrics::redemption(program, error.reason().as_str());
    }
}

/// Accepted and reversed redemptions, and the subsidy they move, in fen.
fn count_events(events: &[LoggedEvent], ledger: &Ledger) {
    for logged in events {
        match &logged.event {
            Event::RedemptionAccepted { redemption } => {
                let program = redemption.program.as_str();
                crate::metrics::redemption(program, "accepted");
                crate::metrics::subsidy(program, "granted", fen(redemption.subsidy));
            }
            Event::RedemptionReversed { redemption_id, .. } => {
                if let Some(redemption) = ledger.redemption(redemption_id) {
                    let program = redemption.program.as_str();
                    crate::metrics::redemption(program, "reversed");
                    crate::metrics::subsidy(program, "returned", fen(redemption.subsidy));
                }
            }
            _ => {}
        }
    }
}

fn fen(amount: crate::domain::money::Money) -> u64 {
    u64::try_from(amount.fen()).unwrap_or(u64::MAX)
}
