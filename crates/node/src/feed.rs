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

/// Most waiting in the feed of a node, counted in documents ([`Snapshot::weight`]): tens of
/// megabytes at most, however many documents each entry touches.
pub(crate) const FEED_MAX: usize = 65_536;

/// How long the sequencer of a node waits for room before it detaches the feed.
pub(crate) const ROOM_WAIT: Duration = Duration::from_secs(2);

pub(crate) struct Feed {
    max: usize,
    wait: Duration,
    /// The snapshots waiting and their total weight.
    queue: Mutex<(VecDeque<Snapshot>, usize)>,
    room: Condvar,
    attached: AtomicBool,
    /// The seq after the last snapshot pushed (bumped on detach too, to wake the projector).
    fed: tokio::sync::watch::Sender<u64>,
}

impl Feed {
    /// A feed whose first snapshot will be of entry `next`; `attached`: whether the projector
    /// takes it (false when the projector starts with a state of its own).
    pub(crate) fn new(next: u64, attached: bool) -> Self {
        Self::with_limits(next, attached, FEED_MAX, ROOM_WAIT)
    }

    /// As [`Feed::new`], holding snapshots of at most `max` in weight (more only when the feed
    /// is otherwise empty) and waiting at most `wait` for room.
    pub(crate) fn with_limits(next: u64, attached: bool, max: usize, wait: Duration) -> Self {
        Self {
            max,
            wait,
            queue: Mutex::new((VecDeque::new(), 0)),
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
        let weight: usize = snapshots.iter().map(Snapshot::weight).sum();
        let deadline = Instant::now() + self.wait;
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        while self.attached() && !queue.0.is_empty() && queue.1 + weight > self.max {
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
        queue.0.extend(snapshots);
        queue.1 += weight;
        drop(queue);
        self.fed.send_replace(last + 1);
    }

    /// Takes up to `max` snapshots from the front. `None` when the feed is detached.
    pub(crate) fn take(&self, max: usize) -> Option<Vec<Snapshot>> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.attached() {
            return None;
        }
        let n = queue.0.len().min(max);
        let out: Vec<Snapshot> = queue.0.drain(..n).collect();
        queue.1 -= out.iter().map(Snapshot::weight).sum::<usize>();
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
        *self.queue.lock().unwrap_or_else(PoisonError::into_inner) = (VecDeque::new(), 0);
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
    use std::collections::BTreeSet;

    /// Snapshots of entries `from..to` (the genesis entry renumbered; its snapshot names no id).
    fn snapshots(from: u64, to: u64) -> Vec<Snapshot> {
        let ledger = deedlog_domain::testkit::Ledger::new();
        let state = deedlog_domain::State::default();
        (from..to)
            .map(|seq| {
                let mut entry = ledger.entries[0].clone();
                entry.seq = seq;
                Snapshot::take(&state, &entry, &BTreeSet::new())
            })
            .collect()
    }

    fn seqs(taken: Option<Vec<Snapshot>>) -> Option<Vec<u64>> {
        taken.map(|v| v.iter().map(Snapshot::seq).collect())
    }

    #[test]
    fn snapshots_come_out_in_the_order_they_went_in_and_a_push_wakes_the_projector() {
        let feed = Feed::new(0, true);
        let mut woken = feed.subscribe();
        assert_eq!(seqs(feed.take(10)), Some(vec![]));
        feed.push(Vec::new());
        assert!(!woken.has_changed().unwrap(), "an empty push wakes no one");
        feed.push(snapshots(0, 3));
        assert!(woken.has_changed().unwrap());
        assert_eq!(*woken.borrow_and_update(), 3);
        assert_eq!(seqs(feed.take(2)), Some(vec![0, 1]));
        assert_eq!(seqs(feed.take(10)), Some(vec![2]));
        assert_eq!(seqs(feed.take(10)), Some(vec![]));
    }

    #[test]
    fn a_full_feed_makes_the_sequencer_wait_until_the_projector_takes() {
        let feed = std::sync::Arc::new(Feed::with_limits(0, true, 4, Duration::from_secs(60)));
        feed.push(snapshots(0, 4));
        let taker = {
            let feed = feed.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                seqs(feed.take(2))
            })
        };
        // Blocks until the taker made room, then goes in: nothing dropped, nothing detached.
        feed.push(snapshots(4, 6));
        assert_eq!(taker.join().unwrap(), Some(vec![0, 1]));
        assert!(feed.attached());
        assert_eq!(seqs(feed.take(10)), Some(vec![2, 3, 4, 5]));
    }

    #[test]
    fn the_feed_counts_documents_not_entries() {
        let ledger = deedlog_domain::testkit::Ledger::new();
        let ids: BTreeSet<String> = (1..=5).map(|i| format!("agency/AG-{i}")).collect();
        let heavy = Snapshot::take(&deedlog_domain::State::default(), &ledger.entries[0], &ids);
        assert_eq!(heavy.weight(), 6);
        let feed = Feed::with_limits(0, true, 4, Duration::from_millis(50));
        // Heavier than the bound, into an empty feed: taken (the bound never stops the
        // sequencer for good).
        feed.push(vec![heavy]);
        assert!(feed.attached());
        // One light snapshot more does not fit beside it, and nobody takes.
        feed.push(snapshots(1, 2));
        assert!(!feed.attached());
    }

    #[test]
    fn a_feed_nobody_takes_detaches_and_a_detach_frees_a_waiting_sequencer() {
        let feed = Feed::with_limits(0, true, 2, Duration::from_millis(50));
        feed.push(snapshots(0, 2));
        feed.push(snapshots(2, 3));
        assert!(!feed.attached(), "no room came within the wait");
        assert!(feed.take(10).is_none(), "a detached feed hands out nothing");
        feed.push(snapshots(3, 4));
        assert!(feed.take(10).is_none());

        let feed = std::sync::Arc::new(Feed::with_limits(0, true, 1, Duration::from_secs(60)));
        feed.push(snapshots(0, 1));
        let pusher = {
            let feed = feed.clone();
            std::thread::spawn(move || feed.push(snapshots(1, 2)))
        };
        std::thread::sleep(Duration::from_millis(100));
        feed.detach("test");
        pusher.join().unwrap();
        assert!(!feed.attached());
        assert!(feed.take(10).is_none());
    }
}
