//! The feed: the snapshots the sequencer takes of each entry as it applies it, handed to the
//! projector once the entry's batch is durable. With it the domain state is kept once, by the
//! sequencer; the projector writes the view documents from the snapshots and keeps no state.
//!
//! The feed is bounded. A projector that is slower than the sequencer makes the sequencer wait
//! for room (the views' lag stays bounded, and so does the feed's memory); one that does not
//! make room within [`ROOM_WAIT`], or fails, **detaches** the feed: the sequencer stops taking
//! snapshots and the projector goes on with a state of its own, replayed from the log at its
//! cursor (a second copy of the state, until the node is restarted).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use deedlog_views::Snapshot;

/// Most snapshots waiting in the feed.
pub(crate) const FEED_MAX: usize = 16_384;

/// How long the sequencer waits for room before it detaches the feed.
pub(crate) const ROOM_WAIT: Duration = Duration::from_secs(2);

pub(crate) struct Feed {
    queue: Mutex<VecDeque<Snapshot>>,
    room: Condvar,
    attached: AtomicBool,
    /// The seq after the last snapshot pushed (bumped on detach too, to wake the projector).
    fed: tokio::sync::watch::Sender<u64>,
}

impl Feed {
    /// A feed whose first snapshot will be of entry `next`; `attached`: whether the projector
    /// takes it (false when the projector starts with a state of its own).
    pub(crate) fn new(next: u64, attached: bool) -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            room: Condvar::new(),
            attached: AtomicBool::new(attached),
            fed: tokio::sync::watch::Sender::new(next),
        }
    }

    /// Whether the sequencer should take snapshots.
    pub(crate) fn attached(&self) -> bool {
        self.attached.load(Ordering::Acquire)
    }

    /// Hands a durable batch's snapshots to the projector, waiting for room while the feed is
    /// full; detaches it when no room comes in time.
    pub(crate) fn push(&self, snapshots: Vec<Snapshot>) {
        let Some(last) = snapshots.last().map(Snapshot::seq) else {
            return;
        };
        let deadline = Instant::now() + ROOM_WAIT;
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        while self.attached() && !queue.is_empty() && queue.len() + snapshots.len() > FEED_MAX {
            let now = Instant::now();
            if now >= deadline {
                drop(queue);
                self.detach("the views fell too far behind the log");
                return;
            }
            queue = self
                .room
                .wait_timeout(queue, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        if !self.attached() {
            return;
        }
        queue.extend(snapshots);
        drop(queue);
        self.fed.send_replace(last + 1);
    }

    /// Takes up to `max` snapshots from the front. `None` when the feed is detached.
    pub(crate) fn take(&self, max: usize) -> Option<Vec<Snapshot>> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.attached() {
            return None;
        }
        let n = queue.len().min(max);
        let out: Vec<Snapshot> = queue.drain(..n).collect();
        drop(queue);
        if n > 0 {
            self.room.notify_all();
        }
        Some(out)
    }

    /// Stops the feed for good: the sequencer stops taking snapshots, the waiting ones are
    /// dropped, and the projector is woken to go on with a state of its own.
    pub(crate) fn detach(&self, why: &str) {
        let was = self.attached.swap(false, Ordering::AcqRel);
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.room.notify_all();
        self.fed.send_modify(|_| {});
        if was {
            tracing::warn!(
                why,
                "the projector goes on with a state of its own (a second copy in memory until restart)"
            );
        }
    }

    /// Wakes on every push and on detach.
    pub(crate) fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.fed.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_feed_takes_nothing_and_a_detached_one_refuses() {
        let feed = Feed::new(0, true);
        assert_eq!(feed.take(10).map(|v| v.len()), Some(0));
        feed.push(Vec::new());
        feed.detach("test");
        assert!(!feed.attached());
        assert!(feed.take(10).is_none());
    }
}
