//! Keyed flows: per-key windows, aggregations and state.
//!
//! [`Flow::key_by`](crate::Flow::key_by) partitions a flow by a key. On the resulting
//! [`KeyedFlow`]:
//!
//! - [`KeyedFlow::window`] (event time), [`KeyedFlow::window_processing_time`],
//!   [`KeyedFlow::count_window`] and [`KeyedFlow::global_window`] give a [`WindowedFlow`], which
//!   computes per window and key with `aggregate`, `reduce`, `fold` or `process`;
//! - [`KeyedFlow::aggregate`] and [`KeyedFlow::reduce`] compute a running result per key and emit
//!   it on every update.
//!
//! Per-key maps use a fast, deterministic non-cryptographic hasher (FxHash), and tumbling and
//! sliding windows fire their keys in the order the keys first came, so the order of results
//! that fire together is the same from run to run, and after a restore from a checkpoint.
//!
//! Keys, accumulators and per-key state are what checkpoints hold, so they must be
//! [`Persist`](crate::checkpoint::Persist): serde-serializable and owned. `String`, numbers,
//! `char`, tuples and your own `#[derive(Serialize, Deserialize)]` types are; a borrowed `&str`
//! key is not (use `String` or `Arc<str>`).

mod assign;
mod parallel;
mod process;
mod running;
mod ttl;
mod windowed;

pub use assign::{BuildState, WindowAssigner};
pub use process::{KeyedContext, KeyedProcessFunction, TimeDomain, Timer};

pub(crate) use process::KeyEntry;
pub use running::RunningAggregate;
pub(crate) use ttl::StateTtl;
pub use windowed::WindowedFlow;

use std::fmt;

use futures_core::Stream;

use crate::aggregate::Aggregator;
use crate::operators::{KeyedProcess, NoTime, TimeMode};
use crate::time::{Clock, Timestamp};
use crate::window::{Aggregate, CountWindows, GlobalWindow, Reduce};
use crate::{Flow, Message};

/// A flow partitioned by key, created by [`Flow::key_by`].
#[must_use = "a keyed flow does nothing until an operation is applied"]
pub struct KeyedFlow<S, KF> {
    flow: Flow<S>,
    key: KF,
    ttl: Option<std::time::Duration>,
}

impl<S, T> Flow<S>
where
    S: Stream<Item = Message<T>>,
{
    /// Partitions the flow by the key `key` computes for every item.
    ///
    /// Operations on the keyed flow (windows, running aggregates) keep separate state per key.
    ///
    /// # Examples
    ///
    /// Running count per word:
    ///
    /// ```
    /// use rheoflow::aggregate::Count;
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let counts = Flow::from_iter(['a', 'b', 'a'])
    ///     .key_by(|c| *c)
    ///     .aggregate(Count)
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(counts, [('a', 1), ('b', 1), ('a', 2)]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn key_by<K, KF>(self, key: KF) -> KeyedFlow<S, KF>
    where
        KF: FnMut(&T) -> K,
    {
        KeyedFlow {
            flow: self,
            key,
            ttl: None,
        }
    }
}

impl<S, T, K, KF> KeyedFlow<S, KF>
where
    S: Stream<Item = Message<T>>,
    KF: FnMut(&T) -> K,
{
    /// Frees the state of a key that saw no item for `ttl` of processing time (checked every
    /// `ttl`), for running aggregates over keys that come and go. A key that returns starts
    /// afresh.
    ///
    /// # Panics
    ///
    /// Panics if `ttl` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::aggregate::Count;
    /// use rheoflow::Flow;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let (tx, flow) = rheoflow::source::channel(8)?;
    /// let counts = flow
    ///     .key_by(|k: &char| *k)
    ///     .state_ttl(Duration::from_secs(60))
    ///     .aggregate(Count)
    ///     .collect::<Vec<_>>();
    /// let feed = async move {
    ///     tx.send('a').await.ok();
    ///     tokio::time::sleep(Duration::from_secs(300)).await;
    ///     tx.send('a').await.ok();
    /// };
    /// let (counts, ()) = tokio::join!(counts, feed);
    /// assert_eq!(counts?, [('a', 1), ('a', 1)]);
    /// # Ok(())
    /// # }
    /// ```
    #[track_caller]
    pub fn state_ttl(mut self, ttl: std::time::Duration) -> Self {
        assert!(!ttl.is_zero(), "state ttl must be greater than zero");
        self.ttl = Some(ttl);
        self
    }

    /// Windows the keyed flow in event time, with each item's time read by `timestamp`.
    ///
    /// Windows fire on the flow's watermarks (see [`Flow::watermarks`]); the end of input fires
    /// every open window.
    ///
    /// # Examples
    ///
    /// Tumbling one-second windows, counted per key:
    ///
    /// ```
    /// use rheoflow::aggregate::Count;
    /// use rheoflow::time::WatermarkStrategy;
    /// use rheoflow::window::Tumbling;
    /// use rheoflow::{Flow, Timestamp};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let events = [('a', 100), ('b', 200), ('a', 900), ('a', 1_100)];
    /// let ts = |e: &(char, i64)| Timestamp::from_millis(e.1);
    /// let results = Flow::from_iter(events)
    ///     .watermarks(ts, WatermarkStrategy::monotonic())
    ///     .key_by(|e| e.0)
    ///     .window(Tumbling::of(Duration::from_secs(1)), ts)
    ///     .aggregate(Count)
    ///     .map(|r| (r.key, r.window.start().millis(), r.value))
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(results, [('a', 0, 2), ('b', 0, 1), ('a', 1_000, 1)]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn window<A, TF>(self, assigner: A, timestamp: TF) -> WindowedFlow<S, KF, A, TF>
    where
        A: WindowAssigner,
        TF: FnMut(&T) -> Timestamp,
    {
        WindowedFlow::new(self.flow, self.key, assigner, TimeMode::Event(timestamp))
    }

    /// Windows the keyed flow in processing time: items belong to the window of their arrival on
    /// tokio's clock, and windows fire on timers.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::aggregate::Count;
    /// use rheoflow::window::Tumbling;
    /// use rheoflow::Flow;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let results = Flow::from_iter(['x', 'y', 'x'])
    ///     .key_by(|c| *c)
    ///     .window_processing_time(Tumbling::of(Duration::from_secs(60)))
    ///     .aggregate(Count)
    ///     .map(|r| (r.key, r.value))
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(results.len(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn window_processing_time<A>(self, assigner: A) -> WindowedFlow<S, KF, A, NoTime>
    where
        A: WindowAssigner,
    {
        WindowedFlow::new(
            self.flow,
            self.key,
            assigner,
            TimeMode::Processing(Clock::new()),
        )
    }

    /// Windows the keyed flow by item count.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::aggregate::Count;
    /// use rheoflow::window::CountWindows;
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let sums = Flow::from_iter(1..=5)
    ///     .key_by(|_| ())
    ///     .count_window(CountWindows::tumbling(2))
    ///     .reduce(|a, b| a + b)
    ///     .map(|r| r.value)
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(sums, [3, 7, 5]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn count_window(self, windows: CountWindows) -> WindowedFlow<S, KF, CountWindows, NoTime> {
        WindowedFlow::new(self.flow, self.key, windows, TimeMode::Untimed)
    }

    /// Puts each key's items in one window that a trigger fires.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::aggregate::Count;
    /// use rheoflow::window::{GlobalWindow, Trigger};
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let counts = Flow::from_iter(0..5)
    ///     .key_by(|_| ())
    ///     .global_window(GlobalWindow::with_trigger(Trigger::count(2)))
    ///     .aggregate(Count)
    ///     .map(|r| r.value)
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(counts, [2, 4, 5]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn global_window(self, window: GlobalWindow) -> WindowedFlow<S, KF, GlobalWindow, NoTime> {
        let early = window.trigger.interval();
        WindowedFlow::new(self.flow, self.key, window, TimeMode::Untimed).with_timer(early)
    }

    /// Aggregates each key's items without windows, emitting `(key, result)` after every item.
    ///
    /// State is kept per key for as long as the flow runs; see [`KeyedFlow::state_ttl`] to
    /// free keys that go quiet.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::aggregate::Sum;
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let totals = Flow::from_iter([('a', 1), ('a', 2), ('b', 5)])
    ///     .key_by(|e| e.0)
    ///     .aggregate(Sum::of(|e: &(char, i32)| e.1))
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(totals, [('a', 1), ('a', 3), ('b', 5)]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn aggregate<A>(self, aggregator: A) -> Flow<RunningAggregate<S, KF, Aggregate<A>, K, T>>
    where
        A: Aggregator<T>,
    {
        let (key, ttl) = (self.key, self.ttl);
        self.flow
            .chain_stateful("aggregate", |stream, counters, participant| {
                RunningAggregate::new(
                    stream,
                    key,
                    Aggregate(aggregator),
                    ttl,
                    counters,
                    participant,
                )
            })
    }

    /// Runs a [`KeyedProcessFunction`] over the keyed flow: per-key state, event-time and
    /// processing-time timers, any number of outputs per item.
    ///
    /// With [`state_ttl`](KeyedFlow::state_ttl), a key's state is freed once it has seen no item
    /// for the TTL (its timers stay set). At the end of input the watermark reaches
    /// [`Timestamp::MAX`], which fires every event-time timer.
    ///
    /// # Examples
    ///
    /// See [`KeyedProcessFunction`].
    pub fn process<P>(self, function: P) -> Flow<KeyedProcess<S, KF, P, K, T>>
    where
        P: KeyedProcessFunction<K, T>,
    {
        let (key, ttl) = (self.key, self.ttl);
        self.flow
            .chain_stateful("process", |stream, counters, participant| {
                KeyedProcess::new(stream, key, function, ttl, counters, participant)
            })
    }

    /// Combines each key's items pairwise with `f`, emitting `(key, result)` after every item.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let maxima = Flow::from_iter([3, 1, 4, 1, 5])
    ///     .key_by(|_| ())
    ///     .reduce(|a: i32, b| a.max(b))
    ///     .map(|(_, max)| max)
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(maxima, [3, 3, 4, 4, 5]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn reduce<F>(self, f: F) -> Flow<RunningAggregate<S, KF, Reduce<F>, K, T>>
    where
        F: Fn(T, T) -> T,
        T: Clone,
    {
        let (key, ttl) = (self.key, self.ttl);
        self.flow
            .chain_stateful("reduce", |stream, counters, participant| {
                RunningAggregate::new(stream, key, Reduce(f), ttl, counters, participant)
            })
    }
}

impl<S: fmt::Debug, KF> fmt::Debug for KeyedFlow<S, KF> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedFlow")
            .field("flow", &self.flow)
            .finish()
    }
}
