//! A standby's writer thread. Until this voucherd holds the writer lease it answers every
//! write "not the leader" (naming the active one when known) and tries to take the lease every
//! [`PROMOTION_INTERVAL`]. Once it holds it, the ledger is loaded from the store (only then:
//! the old writer may have committed until the moment its lease was taken), its invariants are
//! checked, and the thread runs as the writer on the same queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::writer::Writer;
use super::{EngineConfig, Message, Promoted, Promotion, StartError, Writership};
use crate::store::OpenedStore;

/// How often a standby tries to take the writer lease: a takeover comes at most this long
/// after the lease lapses (plus the time to load the ledger).
pub const PROMOTION_INTERVAL: Duration = Duration::from_millis(250);

/// What the standby's thread needs once it holds the lease.
pub(super) struct Standby {
    pub promotion: Promotion,
    pub config: EngineConfig,
    pub failed: watch::Sender<bool>,
    pub queued: Arc<AtomicUsize>,
    pub writership: Arc<Writership>,
}

/// Starts the writer thread in standby; returns its queue.
pub(super) fn spawn(standby: Standby) -> std::io::Result<(SyncSender<Message>, JoinHandle<()>)> {
    let (queue, receiver) = sync_channel(standby.config.queue_capacity);
    let handle = std::thread::Builder::new()
        .name("ledger-writer".to_owned())
        .spawn(move || run(standby, receiver))?;
    Ok((queue, handle))
}

fn run(standby: Standby, receiver: Receiver<Message>) {
    let Standby {
        promotion,
        config,
        failed,
        queued,
        writership,
    } = standby;
    let failed = Arc::new(failed);
    let Some((loaded, waited)) = wait_for_lease(promotion, &receiver, &writership, &queued) else {
        tracing::info!("standby stopped without taking the writer lease");
        return;
    };
    let loading = Instant::now();
    let ready = loaded
        .map_err(StartError::from)
        .and_then(|opened| become_writer(*opened, config, failed.clone(), queued));
    match ready {
        Ok(writer) => {
            writership.set_active();
            tracing::warn!(
                took_ms = (waited + loading.elapsed()).as_millis() as u64,
                loaded_ms = loading.elapsed().as_millis() as u64,
                events = writer.events(),
                "took over as the writer: this voucherd now accepts writes (took_ms counts from the first attempt that did not find the lease live)"
            );
            writer.run(receiver);
        }
        Err(error) => {
            // The lease is held but nothing can be written: stop, so that another voucherd
            // (or this one, restarted) takes over.
            tracing::error!(%error, "took the writer lease but cannot write the ledger: stopping");
            let _ = failed.send(true);
        }
    }
}

/// The ledger as loaded once this voucherd took the lease.
type Loaded = Result<Box<OpenedStore>, crate::store::StoreError>;

/// Answers writes "not the leader" and tries to take the lease until it does (`None` when
/// told to stop first). Returns what loading the ledger gave and how long the takeover waited
/// since the first attempt that did not find the lease live.
fn wait_for_lease(
    mut promotion: Promotion,
    receiver: &Receiver<Message>,
    writership: &Writership,
    queued: &AtomicUsize,
) -> Option<(Loaded, Duration)> {
    let mut since_lapsed: Option<Instant> = None;
    let mut next_attempt = Instant::now();
    loop {
        let wait = next_attempt.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(wait) {
            Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => return None,
            Ok(Message::Execute { reply, .. }) => {
                queued.fetch_sub(1, Ordering::SeqCst);
                let _ = reply.send(Err(writership.not_leader()));
                continue;
            }
            // Dropped unanswered: its caller hears "not the leader" (see `Engine::inspect`).
            Ok(Message::Inspect(_)) => continue,
            Err(RecvTimeoutError::Timeout) => {}
        }
        let attempt = Instant::now();
        next_attempt = attempt + PROMOTION_INTERVAL;
        match promotion() {
            Ok(Promoted::Standby { leader_address }) => {
                since_lapsed = None;
                writership.set_leader(leader_address);
            }
            Ok(Promoted::Writer(loaded)) => {
                return Some((loaded, since_lapsed.unwrap_or(attempt).elapsed()));
            }
            Err(error) => {
                // A lock held by a paused writer, or the database away: tried again.
                since_lapsed.get_or_insert(attempt);
                tracing::warn!(%error, "could not try to take the writer lease: trying again");
            }
        }
    }
}

/// Checks the loaded ledger and starts the writer's pipeline on it.
fn become_writer(
    opened: OpenedStore,
    config: EngineConfig,
    failed: Arc<watch::Sender<bool>>,
    queued: Arc<AtomicUsize>,
) -> Result<Writer, StartError> {
    super::check_invariants(&opened.ledger)?;
    Ok(Writer::prepare(
        opened.ledger,
        opened.journal,
        config,
        failed,
        queued,
    )?)
}
