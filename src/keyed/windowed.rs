//! [`WindowedFlow`]: a keyed flow with a window assigner, waiting for what to compute.

use std::fmt;
use std::time::Duration;

use futures_core::Stream;

use super::assign::{BuildState, WindowAssigner};
use crate::aggregate::Aggregator;
use crate::channel::SideOutput;
use crate::operators::{KeyedWindow, LateHandler, Stamp, TimeMode};
use crate::time::timestamp::duration_millis;
use crate::window::{Aggregate, EmitPolicy, Fold, Process, Reduce, WindowFn};
use crate::{Flow, Message};

/// No late-data output: late items are dropped and counted.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLateOutput;

/// A keyed flow with a window assigner, created by [`KeyedFlow::window`](super::KeyedFlow::window)
/// and its siblings. Configure lateness, the late-data output and the emit policy, then say what
/// to compute: [`aggregate`](WindowedFlow::aggregate), [`reduce`](WindowedFlow::reduce),
/// [`fold`](WindowedFlow::fold) or [`process`](WindowedFlow::process).
#[must_use = "a windowed flow does nothing until an operation is applied"]
pub struct WindowedFlow<S, KF, A, TF, L = NoLateOutput> {
    flow: Flow<S>,
    key: KF,
    assigner: A,
    time: TimeMode<TF>,
    lateness: i64,
    late: L,
    policy: EmitPolicy,
    timer: Option<Duration>,
}

impl<S, KF, A, TF> WindowedFlow<S, KF, A, TF> {
    pub(crate) fn new(flow: Flow<S>, key: KF, assigner: A, time: TimeMode<TF>) -> Self {
        WindowedFlow {
            flow,
            key,
            assigner,
            time,
            lateness: 0,
            late: NoLateOutput,
            policy: EmitPolicy::OnClose,
            timer: None,
        }
    }

    pub(crate) fn with_timer(mut self, timer: Option<Duration>) -> Self {
        self.timer = timer;
        self
    }
}

impl<S, KF, A, TF, L> WindowedFlow<S, KF, A, TF, L> {
    /// Keeps windows for `lateness` after they close: a late item within it updates its windows,
    /// which fire again with [`Firing::Late`](crate::window::Firing::Late).
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::aggregate::Count;
    /// use rheoflow::time::WatermarkStrategy;
    /// use rheoflow::window::{Firing, Tumbling};
    /// use rheoflow::{Flow, Timestamp};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let ts = |t: &i64| Timestamp::from_millis(*t);
    /// let firings = Flow::from_iter([10, 1_500, 20])
    ///     .watermarks(ts, WatermarkStrategy::monotonic())
    ///     .key_by(|_| ())
    ///     .window(Tumbling::of(Duration::from_secs(1)), ts)
    ///     .allowed_lateness(Duration::from_secs(1))
    ///     .aggregate(Count)
    ///     .map(|r| (r.window.start().millis(), r.value, r.firing))
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(
    ///     firings,
    ///     [(0, 1, Firing::OnTime), (0, 2, Firing::Late), (1_000, 1, Firing::OnTime)]
    /// );
    /// # Ok(())
    /// # }
    /// ```
    pub fn allowed_lateness(mut self, lateness: Duration) -> Self {
        self.lateness = duration_millis(lateness);
        self
    }

    /// Sends late items (those no window takes any more) to `output` instead of dropping and
    /// counting them.
    ///
    /// # Backpressure
    ///
    /// The late output is bounded; consume it beside the main flow.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::aggregate::Count;
    /// use rheoflow::channel::side_output;
    /// use rheoflow::time::WatermarkStrategy;
    /// use rheoflow::window::Tumbling;
    /// use rheoflow::{Flow, Timestamp};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let (late, late_flow) = side_output(16)?;
    /// let ts = |t: &i64| Timestamp::from_millis(*t);
    /// let counts = Flow::from_iter([10, 2_000, 20])
    ///     .watermarks(ts, WatermarkStrategy::monotonic())
    ///     .key_by(|_| ())
    ///     .window(Tumbling::of(Duration::from_secs(1)), ts)
    ///     .late_output(late)
    ///     .aggregate(Count)
    ///     .collect::<Vec<_>>();
    /// let (counts, late) = tokio::join!(counts, late_flow.collect::<Vec<_>>());
    /// assert_eq!(counts?.len(), 2);
    /// assert_eq!(late?, [20]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn late_output<T>(
        self,
        output: SideOutput<T>,
    ) -> WindowedFlow<S, KF, A, TF, SideOutput<T>> {
        WindowedFlow {
            flow: self.flow,
            key: self.key,
            assigner: self.assigner,
            time: self.time,
            lateness: self.lateness,
            late: output,
            policy: self.policy,
            timer: self.timer,
        }
    }

    /// Sets when windows emit results (default: once when they close).
    pub fn emit(mut self, policy: EmitPolicy) -> Self {
        if let EmitPolicy::EarlyEvery(interval) = policy {
            self.timer = Some(interval);
        }
        self.policy = policy;
        self
    }
}

/// The late-data output of a window operator, if any.
pub trait LateOutput<T> {
    /// The side output to send late items to.
    fn into_output(self) -> Option<SideOutput<T>>;
}

impl<T> LateOutput<T> for NoLateOutput {
    fn into_output(self) -> Option<SideOutput<T>> {
        None
    }
}

impl<T> LateOutput<T> for SideOutput<T> {
    fn into_output(self) -> Option<SideOutput<T>> {
        Some(self)
    }
}

/// The flow of a window operator computing `F`.
type WindowOutput<S, KF, A, TF, K, T, F> =
    Flow<KeyedWindow<S, KF, TF, <A as BuildState<K, T, F>>::State, T>>;

impl<S, KF, A, TF, L, T, K> WindowedFlow<S, KF, A, TF, L>
where
    S: Stream<Item = Message<T>>,
    KF: FnMut(&T) -> K,
    A: WindowAssigner,
    TF: Stamp<T>,
    L: LateOutput<T>,
    T: Send + 'static,
{
    fn build<F>(self, method: &str, f: F) -> WindowOutput<S, KF, A, TF, K, T, F>
    where
        F: WindowFn<K, A::Window, T>,
        A: BuildState<K, T, F>,
    {
        let state = self.assigner.build(self.lateness, self.policy, f);
        let (key, time, late, timer) = (self.key, self.time, self.late, self.timer);
        self.flow
            .chain_stateful(method, |stream, counters, participant| {
                let late = LateHandler::new(late.into_output(), counters.clone());
                KeyedWindow::new(stream, key, time, state, late, timer, counters, participant)
            })
    }

    /// Aggregates each window's items per key with `aggregator`, keeping only its accumulator.
    ///
    /// Results are [`WindowResult`](crate::window::WindowResult)s: key, window, value and why it
    /// fired.
    ///
    /// # Examples
    ///
    /// See [`KeyedFlow::window`](super::KeyedFlow::window).
    ///
    /// ```
    /// use rheoflow::aggregate::{Count, Max};
    /// use rheoflow::window::Sliding;
    /// use rheoflow::{Flow, Timestamp};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let ts = |t: &i64| Timestamp::from_millis(*t);
    /// let results = Flow::from_iter([100, 600])
    ///     .key_by(|_| ())
    ///     .window(Sliding::of(Duration::from_secs(1), Duration::from_millis(500)), ts)
    ///     .aggregate((Count, Max::of(|t: &i64| *t)))
    ///     .map(|r| (r.window.start().millis(), r.value))
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(results, [(-500, (1, Some(100))), (0, (2, Some(600))), (500, (1, Some(600)))]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn aggregate<Agg>(self, aggregator: Agg) -> WindowOutput<S, KF, A, TF, K, T, Aggregate<Agg>>
    where
        Agg: Aggregator<T>,
        A: BuildState<K, T, Aggregate<Agg>>,
    {
        self.build("window_aggregate", Aggregate(aggregator))
    }

    /// Combines each window's items per key pairwise with `f`.
    pub fn reduce<F>(self, f: F) -> WindowOutput<S, KF, A, TF, K, T, Reduce<F>>
    where
        F: Fn(T, T) -> T,
        T: Clone,
        A: BuildState<K, T, Reduce<F>>,
    {
        self.build("window_reduce", Reduce(f))
    }

    /// Folds each window's items per key, in order, from `initial`.
    ///
    /// The window keeps its items until it fires; prefer [`aggregate`](WindowedFlow::aggregate)
    /// for constant memory per window.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::window::CountWindows;
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let words = Flow::from_iter(["a", "b", "c"].map(String::from))
    ///     .key_by(|_| ())
    ///     .count_window(CountWindows::tumbling(3))
    ///     .fold(String::new(), |s, w| s + w)
    ///     .map(|r| r.value)
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(words, ["abc"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn fold<I, F>(self, initial: I, f: F) -> WindowOutput<S, KF, A, TF, K, T, Fold<I, F>>
    where
        I: Clone,
        F: Fn(I, &T) -> I,
        T: Clone,
        A: BuildState<K, T, Fold<I, F>>,
    {
        self.build("window_fold", Fold { initial, f })
    }

    /// Computes each window's result per key from all its items at once.
    ///
    /// The window keeps its items until it fires.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::window::Session;
    /// use rheoflow::{Flow, Timestamp};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let ts = |t: &i64| Timestamp::from_millis(*t);
    /// let spans = Flow::from_iter([0, 40, 90, 500])
    ///     .key_by(|_| ())
    ///     .window(Session::with_gap(Duration::from_millis(100)), ts)
    ///     .process(|_key, window, items: &[i64]| (window.start().millis(), items.len()))
    ///     .map(|r| r.value)
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(spans, [(0, 3), (500, 1)]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn process<O, F>(self, f: F) -> WindowOutput<S, KF, A, TF, K, T, Process<F>>
    where
        F: Fn(&K, &A::Window, &[T]) -> O,
        T: Clone,
        A: BuildState<K, T, Process<F>>,
    {
        self.build("window_process", Process(f))
    }
}

impl<S: fmt::Debug, KF, A: fmt::Debug, TF, L> fmt::Debug for WindowedFlow<S, KF, A, TF, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowedFlow")
            .field("flow", &self.flow)
            .field("assigner", &self.assigner)
            .field("lateness", &self.lateness)
            .field("policy", &self.policy)
            .finish()
    }
}
