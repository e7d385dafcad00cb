//! The writer thread: batches commands, applies them, commits once per batch, then answers.

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;

use tokio::sync::{oneshot, watch};

use super::{EngineConfig, EngineError, Message};
use crate::domain::event::Event;
use crate::domain::ledger::{Ledger, Outcome};
use crate::store::Journal;

type Reply = oneshot::Sender<Result<Outcome, EngineError>>;

struct Writer {
    ledger: Ledger,
    journal: Journal,
    config: EngineConfig,
    failed: watch::Sender<bool>,
}

/// Starts the writer. Before it takes any command it records the policy if it changed and
/// expires what is due, so the first answer already sees today's state.
pub(super) fn spawn(
    ledger: Ledger,
    journal: Journal,
    config: EngineConfig,
    failed: watch::Sender<bool>,
) -> std::io::Result<(SyncSender<Message>, JoinHandle<()>)> {
    let (queue, receiver) = sync_channel(config.queue_capacity);
    let mut writer = Writer {
        ledger,
        journal,
        config,
        failed,
    };
    let clock = writer.config.clock.now();
    let mut events: Vec<Event> = writer.ledger.adopt_policy(clock).into_iter().collect();
    events.extend(writer.ledger.expire_due(clock));
    if !events.is_empty() {
        writer
            .journal
            .commit(&events, &writer.ledger)
            .map_err(std::io::Error::other)?;
    }
    let handle = std::thread::Builder::new()
        .name("ledger-writer".to_owned())
        .spawn(move || writer.run(receiver))?;
    Ok((queue, handle))
}

impl Writer {
    fn run(mut self, receiver: Receiver<Message>) {
        let mut stopping = false;
        while !stopping {
            let first = match receiver.recv_timeout(self.config.expiry_interval) {
                Ok(message) => Some(message),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            let mut batch = Vec::new();
            let mut inspections = Vec::new();
            for message in first
                .into_iter()
                .chain(std::iter::from_fn(|| drain_one(&receiver)))
            {
                match message {
                    Message::Execute { command, reply } => batch.push((command, reply)),
                    Message::Inspect(inspection) => inspections.push(inspection),
                    Message::Stop => {
                        stopping = true;
                        break;
                    }
                }
                if batch.len() + inspections.len() >= self.config.batch_commands_max {
                    break;
                }
            }
            if !self.run_batch(batch) {
                let _ = self.failed.send(true);
                return;
            }
            // Inspections see the state after this batch is durable, and no write happens
            // while they run.
            for inspection in inspections {
                inspection(&self.ledger, self.journal.head());
            }
        }
        tracing::info!(
            events = self.journal.head().sequence,
            "writer stopped after its last batch"
        );
    }

    /// Applies a batch and commits it. Returns false if the store failed: the in-memory state
    /// is then ahead of the disk, and the writer must not go on.
    fn run_batch(&mut self, batch: Vec<(crate::domain::command::Command, Reply)>) -> bool {
        let clock = self.config.clock.now();
        let mut events = self.ledger.expire_due(clock);
        let mut replies: Vec<(Reply, Result<Outcome, EngineError>)> =
            Vec::with_capacity(batch.len());
        for (command, reply) in batch {
            let result = match self.ledger.execute(&command, clock) {
                Ok(executed) => {
                    events.extend(executed.events);
                    Ok(executed.outcome)
                }
                Err(error) => Err(EngineError::Ledger(error)),
            };
            replies.push((reply, result));
        }
        let commands = replies.len();
        let committed = events.is_empty() || self.commit(&events, commands);
        for (reply, result) in replies {
            let answer = if committed {
                result
            } else {
                Err(EngineError::Unavailable)
            };
            // The caller may have gone away; the write stands regardless.
            let _ = reply.send(answer);
        }
        committed
    }

    fn commit(&mut self, events: &[Event], commands: usize) -> bool {
        match self.journal.commit(events, &self.ledger) {
            Ok(timing) => {
                tracing::debug!(
                    commands,
                    events = events.len(),
                    apply_us = timing.apply.as_micros() as u64,
                    flush_and_sync_us = timing.flush_and_sync.as_micros() as u64,
                    "batch committed"
                );
                true
            }
            Err(error) => {
                tracing::error!(%error, commands, "commit failed: the writer stops; no answer in this batch was acknowledged");
                false
            }
        }
    }
}

fn drain_one(receiver: &Receiver<Message>) -> Option<Message> {
    receiver.try_recv().ok()
}
