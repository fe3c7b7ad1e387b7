//! The projector: one thread that applies every new entry to the views, in batches of at most
//! [`BATCH_MAX`] entries. It is fed: it takes each durable entry's snapshot from the sequencer
//! (see [`crate::feed`]) and keeps no state. When the feed is detached it follows the log (its
//! size watch) with a state of its own instead.

use std::thread::JoinHandle;

use deedlog_store::LogReader;
use std::sync::Arc;

use deedlog_views::{Projection, Snapshot};

use crate::NodeError;
use crate::feed::Feed;
use crate::messages::{self, MessageStore};

/// Most entries applied in one views batch.
pub(crate) const BATCH_MAX: u64 = 1000;

pub(crate) struct Projector {
    stop: tokio::sync::watch::Sender<bool>,
    thread: JoinHandle<()>,
}

impl Projector {
    pub(crate) fn start(
        projection: Projection,
        feed: Arc<Feed>,
        reader: LogReader,
        messages: Arc<MessageStore>,
    ) -> Result<Self, NodeError> {
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("projector".into())
            .spawn(move || run(projection, &feed, &reader, &messages, stop_rx))
            .map_err(|e| NodeError::Config(format!("cannot spawn a thread: {e}")))?;
        Ok(Self { stop, thread })
    }

    /// Catches up with the log, flushes the views and ends the thread.
    pub(crate) fn stop(self) {
        self.stop.send_replace(true);
        if self.thread.join().is_err() {
            tracing::error!("the projector thread panicked");
        }
    }
}

/// How a catch-up ended.
#[derive(Debug, PartialEq, Eq)]
enum CaughtUp {
    /// The views show the whole log.
    Yes,
    /// The file system under the views, the messages or the log failed (a full disk): the
    /// projection is rebuilt from the log at the views' cursor and tried again later.
    Retry,
    /// The log holds an entry the views cannot take: they stay at their last good batch until
    /// the views are rebuilt.
    Stop,
}

/// The first wait before a failed catch-up is tried again; it doubles up to [`RETRY_MAX`].
const RETRY_FIRST: std::time::Duration = std::time::Duration::from_secs(1);
const RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(60);

/// Applies a run of snapshots (consecutive, from the views' cursor) with their entries, after
/// removing the messages of the subjects erased among them.
pub(crate) fn apply_fed(
    projection: &mut Projection,
    reader: &LogReader,
    store: &MessageStore,
    snapshots: &[Snapshot],
) -> Result<(), String> {
    if snapshots.is_empty() {
        return Ok(());
    }
    // The projection checks that each snapshot is of its entry.
    let applied = projection.views().applied();
    let entries = reader
        .records(applied, applied + snapshots.len() as u64)
        .map_err(|e| format!("reading the log: {e}"))?;
    erase_messages(&entries, store)?;
    projection
        .apply_fed(&entries, snapshots)
        .map_err(|e| e.to_string())
}

/// An erasure removes its subject's messages before the views apply it: a crash between the
/// two leaves the views behind, and the erasure (idempotent) runs again on restart, so no
/// erasure the views show has left a message text behind.
fn erase_messages(entries: &[Vec<u8>], store: &MessageStore) -> Result<(), String> {
    for subject in messages::erased_subjects(entries) {
        match store.erase(&subject) {
            Ok(n) => tracing::info!(subject, messages = n, "erasure: message texts removed"),
            Err(error) => return Err(format!("erasing the messages of {subject}: {error}")),
        }
    }
    Ok(())
}

/// Applies every snapshot the feed holds. Any failure detaches the feed: the projector goes
/// on with a state of its own (see [`crate::feed`]), rebuilt at the views' cursor.
fn catch_up_fed(
    projection: &mut Projection,
    feed: &Feed,
    reader: &LogReader,
    store: &MessageStore,
) -> CaughtUp {
    loop {
        let Some(snapshots) = feed.take(BATCH_MAX as usize) else {
            return CaughtUp::Retry;
        };
        if snapshots.is_empty() {
            return CaughtUp::Yes;
        }
        if let Err(error) = apply_fed(projection, reader, store, &snapshots) {
            tracing::error!(%error, "the views could not apply the sequencer's snapshots");
            feed.detach("the views could not apply the sequencer's snapshots");
            return CaughtUp::Retry;
        }
    }
}

/// Applies everything up to the log's current size.
fn catch_up(projection: &mut Projection, reader: &LogReader, store: &MessageStore) -> CaughtUp {
    loop {
        let applied = projection.views().applied();
        let size = reader.size();
        if applied >= size {
            return CaughtUp::Yes;
        }
        let end = size.min(applied + BATCH_MAX);
        let entries = match reader.records(applied, end) {
            Ok(e) => e,
            Err(error) => {
                tracing::error!(%error, applied, "the projector cannot read the log; it tries again");
                return CaughtUp::Retry;
            }
        };
        if let Err(error) = erase_messages(&entries, store) {
            tracing::error!(%error, "the projector cannot erase messages; it tries again");
            return CaughtUp::Retry;
        }
        match projection.apply(&entries) {
            Ok(()) => {}
            Err(error @ deedlog_views::ViewError::Store(_)) => {
                tracing::error!(%error, applied, "the views could not be written; the projector tries again");
                return CaughtUp::Retry;
            }
            Err(error) => {
                tracing::error!(%error, applied, "the projector stopped; rebuild the views");
                return CaughtUp::Stop;
            }
        }
        if end / 10_000 != applied / 10_000 && size - applied > BATCH_MAX {
            tracing::info!(applied = end, size, "projecting the log into the views");
        }
    }
}

/// A fresh projection at the views' cursor, its state replayed from the log (after a failed
/// batch, whose entries the old projection's state had applied but the views never wrote).
/// The views' engine is opened again first: after a failed write it refuses every later one.
fn rebuilt(projection: &Projection, reader: &LogReader) -> Result<Projection, NodeError> {
    let views = projection.views().clone();
    views.reopen()?;
    let state = crate::state_after(reader, views.applied())?;
    Ok(Projection::new(views, state)?)
}

/// One catch-up, fed or following the log as the projection is.
fn step(
    projection: &mut Projection,
    feed: &Feed,
    reader: &LogReader,
    store: &MessageStore,
) -> CaughtUp {
    if projection.is_fed() {
        catch_up_fed(projection, feed, reader, store)
    } else {
        catch_up(projection, reader, store)
    }
}

fn run(
    mut projection: Projection,
    feed: &Feed,
    reader: &LogReader,
    store: &MessageStore,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            tracing::error!(%error, "the projector cannot start a runtime");
            return;
        }
    };
    let mut sizes = reader.subscribe();
    let mut fed = feed.subscribe();
    runtime.block_on(async {
        let mut state = step(&mut projection, feed, reader, store);
        let mut wait = RETRY_FIRST;
        let mut retry_at = tokio::time::Instant::now();
        loop {
            if state == CaughtUp::Retry {
                if tokio::time::Instant::now() >= retry_at {
                    state = match rebuilt(&projection, reader) {
                        Ok(p) => {
                            projection = p;
                            step(&mut projection, feed, reader, store)
                        }
                        Err(error) => {
                            tracing::error!(%error, "the projector cannot rebuild its state yet");
                            CaughtUp::Retry
                        }
                    };
                    if state == CaughtUp::Retry {
                        retry_at = tokio::time::Instant::now() + wait;
                        wait = (wait * 2).min(RETRY_MAX);
                    } else {
                        wait = RETRY_FIRST;
                    }
                }
            } else if state == CaughtUp::Yes {
                state = step(&mut projection, feed, reader, store);
                if state == CaughtUp::Retry {
                    retry_at = tokio::time::Instant::now() + wait;
                }
            }
            if *stop.borrow() {
                break;
            }
            let retry = tokio::time::sleep_until(retry_at);
            let retrying = state == CaughtUp::Retry;
            tokio::select! {
                changed = sizes.changed() => if changed.is_err() { break },
                changed = fed.changed() => if changed.is_err() { break },
                _ = stop.changed() => {}
                () = retry, if retrying => {}
            }
        }
        if state == CaughtUp::Yes {
            step(&mut projection, feed, reader, store);
        }
    });
    if let Err(error) = projection.views().flush() {
        tracing::warn!(%error, "flushing the views");
    }
}
