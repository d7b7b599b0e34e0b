//! Keyed process functions: per-key state and timers, as in Flink's `KeyedProcessFunction`.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;

use crate::Timestamp;

/// Which clock a timer follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeDomain {
    /// Event time: the timer fires when the watermark reaches it.
    EventTime,
    /// Processing time: the timer fires when tokio's clock reaches it.
    ProcessingTime,
}

/// A timer that fired: its time and its clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timer {
    /// When the timer was set to fire.
    pub timestamp: Timestamp,
    /// Which clock it followed.
    pub domain: TimeDomain,
}

/// A user operator on a keyed flow with per-key state and timers.
///
/// `process` sees every item with its key's state; timers set through the context call back
/// `on_timer` with the same key's state. State is created with `Default` on first use and kept
/// until [`KeyedContext::clear_state`] or the keyed flow's state TTL frees it.
///
/// # Examples
///
/// Emit a key's count once it has been quiet for 10 ms of event time:
///
/// ```
/// use rheoflow::keyed::{KeyedContext, KeyedProcessFunction, Timer};
/// use rheoflow::time::WatermarkStrategy;
/// use rheoflow::{Flow, Timestamp};
///
/// // Per-key state is saved in checkpoints, so it is serializable.
/// #[derive(Default, serde::Serialize, serde::Deserialize)]
/// struct Burst {
///     count: u64,
///     last: Option<Timestamp>,
/// }
///
/// struct QuietAfter;
///
/// impl KeyedProcessFunction<char, (char, i64)> for QuietAfter {
///     type State = Burst;
///     type Output = (char, u64);
///
///     fn process(&mut self, item: (char, i64), ctx: &mut KeyedContext<'_, char, Burst, (char, u64)>) {
///         let ts = Timestamp::from_millis(item.1);
///         let state = ctx.state();
///         state.count += 1;
///         state.last = Some(ts);
///         ctx.set_event_timer(ts.saturating_add_millis(10));
///     }
///
///     fn on_timer(&mut self, timer: Timer, ctx: &mut KeyedContext<'_, char, Burst, (char, u64)>) {
///         let key = *ctx.key();
///         let state = ctx.state();
///         if state.last.map(|t| t.saturating_add_millis(10)) == Some(timer.timestamp) {
///             let output = (key, state.count);
///             ctx.clear_state();
///             ctx.emit(output);
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let bursts = Flow::from_iter([('a', 0), ('a', 5), ('b', 6), ('c', 30), ('a', 50)])
///     .watermarks(|e| Timestamp::from_millis(e.1), WatermarkStrategy::monotonic())
///     .key_by(|e| e.0)
///     .process(QuietAfter)
///     .collect::<Vec<_>>()
///     .await?;
/// // Timers fire as the watermark passes them: the one after ('c', 30) is 29.
/// assert_eq!(bursts, [('a', 2), ('b', 1), ('c', 1), ('a', 1)]);
/// # Ok(())
/// # }
/// ```
pub trait KeyedProcessFunction<K, T> {
    /// The state kept per key; checkpoints hold it, so running the function needs it to be
    /// [`Persist`](crate::checkpoint::Persist).
    type State: Default;
    /// What the function emits.
    type Output;

    /// Handles one item of the context's key.
    fn process(&mut self, item: T, ctx: &mut KeyedContext<'_, K, Self::State, Self::Output>);

    /// Handles a timer of the context's key. The default does nothing.
    fn on_timer(&mut self, timer: Timer, ctx: &mut KeyedContext<'_, K, Self::State, Self::Output>) {
        let _ = (timer, ctx);
    }
}

/// Per key: the state (if any) and the pending timers.
#[derive(Debug)]
pub(crate) struct KeyEntry<S> {
    pub(crate) state: Option<S>,
    pub(crate) event_timers: BTreeSet<Timestamp>,
    pub(crate) processing_timers: BTreeSet<Timestamp>,
    /// With a state TTL: the TTL sweeps done when the key was last used.
    pub(crate) last_access: Option<u64>,
}

impl<S> KeyEntry<S> {
    pub(crate) fn new() -> Self {
        KeyEntry {
            state: None,
            event_timers: BTreeSet::new(),
            processing_timers: BTreeSet::new(),
            last_access: None,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.state.is_none() && self.event_timers.is_empty() && self.processing_timers.is_empty()
    }
}

/// What a [`KeyedProcessFunction`] can do while it handles an item or a timer: read the key, use
/// the key's state, set and delete timers, emit outputs.
pub struct KeyedContext<'a, K, S, O> {
    pub(crate) key: &'a K,
    pub(crate) entry: &'a mut KeyEntry<S>,
    pub(crate) out: &'a mut VecDeque<O>,
    pub(crate) watermark: Timestamp,
    pub(crate) clock: &'a crate::time::Clock,
    /// Timers set during this call, to add to the operator's timer queues.
    pub(crate) new_event_timers: &'a mut Vec<Timestamp>,
    pub(crate) new_processing_timers: &'a mut Vec<Timestamp>,
}

impl<K, S: Default, O> KeyedContext<'_, K, S, O> {
    /// The key being handled.
    pub fn key(&self) -> &K {
        self.key
    }

    /// The key's state, created with `Default` if it has none.
    pub fn state(&mut self) -> &mut S {
        self.entry.state.get_or_insert_with(S::default)
    }

    /// Drops the key's state; the next [`state`](KeyedContext::state) starts afresh.
    pub fn clear_state(&mut self) {
        self.entry.state = None;
    }

    /// Emits an output.
    pub fn emit(&mut self, output: O) {
        self.out.push_back(output);
    }

    /// The current watermark.
    pub fn watermark(&self) -> Timestamp {
        self.watermark
    }

    /// The current processing time.
    pub fn processing_time(&self) -> Timestamp {
        self.clock.now()
    }

    /// Sets an event-time timer for this key; it fires once the watermark reaches `at`. Setting
    /// the same time twice sets one timer.
    pub fn set_event_timer(&mut self, at: Timestamp) {
        if self.entry.event_timers.insert(at) {
            self.new_event_timers.push(at);
        }
    }

    /// Sets a processing-time timer for this key; it fires once tokio's clock reaches `at`.
    ///
    /// The operator looks at its timers whenever its input waits and every 1,024 items while
    /// items keep coming, so under a steady stream a timer fires at most that many items late.
    pub fn set_processing_timer(&mut self, at: Timestamp) {
        if self.entry.processing_timers.insert(at) {
            self.new_processing_timers.push(at);
        }
    }

    /// Deletes this key's event-time timer at `at`, if set.
    pub fn delete_event_timer(&mut self, at: Timestamp) {
        self.entry.event_timers.remove(&at);
    }

    /// Deletes this key's processing-time timer at `at`, if set.
    pub fn delete_processing_timer(&mut self, at: Timestamp) {
        self.entry.processing_timers.remove(&at);
    }
}

impl<K: fmt::Debug, S, O> fmt::Debug for KeyedContext<'_, K, S, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedContext")
            .field("key", self.key)
            .field("watermark", &self.watermark)
            .finish_non_exhaustive()
    }
}
