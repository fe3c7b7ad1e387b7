//! The projector: one thread that follows the log (its size watch) and applies every new entry
//! to the views, in batches of at most [`BATCH_MAX`] entries.

use std::thread::JoinHandle;

use deedlog_store::LogReader;
use std::sync::Arc;

use deedlog_views::Projection;

use crate::NodeError;
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
        reader: LogReader,
        messages: Arc<MessageStore>,
    ) -> Result<Self, NodeError> {
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("projector".into())
            .spawn(move || run(projection, &reader, &messages, stop_rx))
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

/// Applies everything up to the log's current size; false after an error (the projection is
/// then stopped: the views stay at their last good batch until a restart).
fn catch_up(projection: &mut Projection, reader: &LogReader, store: &MessageStore) -> bool {
    loop {
        let applied = projection.views().applied();
        let size = reader.size();
        if applied >= size {
            return true;
        }
        let end = size.min(applied + BATCH_MAX);
        let entries = match reader.records(applied, end) {
            Ok(e) => e,
            Err(error) => {
                tracing::error!(%error, applied, "the projector cannot read the log");
                return false;
            }
        };
        // An erasure removes its subject's messages before the views apply it: a crash between
        // the two leaves the views behind, and the erasure (idempotent) runs again on restart,
        // so no erasure the views show has left a message text behind.
        for subject in messages::erased_subjects(&entries) {
            match store.erase(&subject) {
                Ok(n) => tracing::info!(subject, messages = n, "erasure: message texts removed"),
                Err(error) => {
                    tracing::error!(%error, subject, "the projector cannot erase messages");
                    return false;
                }
            }
        }
        if let Err(error) = projection.apply(&entries) {
            tracing::error!(%error, applied, "the projector stopped; restart to rebuild the views");
            return false;
        }
        if end / 10_000 != applied / 10_000 && size - applied > BATCH_MAX {
            tracing::info!(applied = end, size, "projecting the log into the views");
        }
    }
}

fn run(
    mut projection: Projection,
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
    runtime.block_on(async {
        let mut healthy = true;
        loop {
            if healthy {
                healthy = catch_up(&mut projection, reader, store);
            }
            if *stop.borrow() {
                break;
            }
            tokio::select! {
                changed = sizes.changed() => if changed.is_err() { break },
                _ = stop.changed() => {}
            }
        }
        if healthy {
            catch_up(&mut projection, reader, store);
        }
    });
    if let Err(error) = projection.views().flush() {
        tracing::warn!(%error, "flushing the views");
    }
}
