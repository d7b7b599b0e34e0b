//! Fan-out: one flow into several.

use futures_core::Stream;

use super::Flow;
use crate::channel::StageConfig;
use crate::error::ConfigError;
use crate::operators::{Broadcast, Route};
use crate::Message;

impl<S, T> Flow<S>
where
    S: Stream<Item = Message<T>>,
{
    /// Sends every item of this flow to each of `subscribers` flows, shared by [`Arc`] (zero
    /// copy).
    ///
    /// Use it to feed one input to several independent pipelines: an alerting path and an
    /// archiving path, or windows of several sizes. Each data item is wrapped in an `Arc` once,
    /// and every subscriber gets a clone of that `Arc`, so no item is copied. Every subscriber
    /// sees the whole flow: every data item and every control message (watermarks, barriers,
    /// idleness, the end of input, a failure), in the order of the input.
    ///
    /// The flow so far runs on its own tokio task, which hands its messages to one bounded queue
    /// per subscriber, in batches, like a [stage boundary](Flow::stage). The task starts when any
    /// subscriber is first polled. Dropping a subscriber stops its deliveries, and the others go on
    /// without it; dropping every subscriber stops the task. A panic upstream reaches every
    /// subscriber as [`Error::Panicked`](crate::Error::Panicked).
    ///
    /// Items must be `Send + Sync`, as subscribers on several tasks share them. The subscribers
    /// share this flow's metrics registry, where the broadcast is registered as `"broadcast"` and
    /// counts the items that slow subscribers missed.
    ///
    /// [`Arc`]: std::sync::Arc
    ///
    /// # Backpressure
    ///
    /// `config` sets each subscriber's queue: its capacity in data items, the batch size and what
    /// happens when it is full.
    ///
    /// - [`Overflow::Block`](crate::channel::Overflow::Block) (the default): the slowest
    ///   subscriber sets the pace. The upstream task waits, without spinning, while any
    ///   subscriber's queue is full, so the items read from the input but not yet taken by the
    ///   slowest subscriber never exceed the capacity plus one batch. A subscriber that is neither
    ///   polled nor dropped holds every other back once its queue is full: read the subscribers
    ///   concurrently (on their own tasks, or with `tokio::join!`), and drop the ones you do not
    ///   need.
    /// - [`Overflow::DropNewest`](crate::channel::Overflow::DropNewest) and
    ///   [`Overflow::DropOldest`](crate::channel::Overflow::DropOldest): a full subscriber misses
    ///   data items (those that do not fit, or its oldest queued ones), and the others still get
    ///   them; the upstream task never waits. Every missed item is counted as
    ///   [`DropReason::SlowSubscriber`](crate::metrics::DropReason::SlowSubscriber). Control
    ///   messages are never dropped.
    /// - [`Overflow::Fail`](crate::channel::Overflow::Fail): a full subscriber fails the flow,
    ///   on every subscriber, with [`Error::Overflow`](crate::Error::Overflow).
    ///
    /// # Errors
    ///
    /// Zero `subscribers` is a [`ConfigError`]. (A zero capacity is refused by
    /// [`StageConfig::with_capacity`].)
    ///
    /// # Panics
    ///
    /// The first poll of a subscriber panics outside a tokio runtime, like [`tokio::spawn`].
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::channel::StageConfig;
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut subscribers = Flow::from_iter(["kiwi", "fig", "apple"])
    ///     .map(String::from)
    ///     .broadcast(2, StageConfig::with_capacity(1_024)?)?
    ///     .into_iter();
    /// let lengths = subscribers.next().ok_or("a subscriber")?.map(|word| word.len());
    /// let shouts = subscribers.next().ok_or("a subscriber")?.map(|word| word.to_uppercase());
    /// // Read the subscribers concurrently: the slowest one sets the pace.
    /// let (lengths, shouts) = tokio::join!(
    ///     lengths.collect::<Vec<_>>(),
    ///     shouts.collect::<Vec<_>>(),
    /// );
    /// assert_eq!(lengths?, [4, 3, 5]);
    /// assert_eq!(shouts?, ["KIWI", "FIG", "APPLE"]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Every subscriber gets the same `Arc`, and every control message:
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// use futures::StreamExt;
    /// use rheoflow::channel::StageConfig;
    /// use rheoflow::{Control, Flow, Message, Timestamp};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let watermark = Control::Watermark(Timestamp::from_millis(5));
    /// let input = vec![
    ///     Message::Data(vec![0u8; 1_024]),
    ///     Message::Control(watermark.clone()),
    ///     Message::Control(Control::End),
    /// ];
    /// let subscribers = Flow::from_messages(futures::stream::iter(input))
    ///     .broadcast(3, StageConfig::default())?;
    /// let outputs = futures::future::join_all(
    ///     subscribers
    ///         .into_iter()
    ///         .map(|subscriber| subscriber.into_messages().collect::<Vec<_>>()),
    /// )
    /// .await;
    /// let first = outputs[0][0].as_data();
    /// for output in &outputs {
    ///     // The same allocation, not a copy.
    ///     let shared = (first, output[0].as_data());
    ///     assert!(matches!(shared, (Some(a), Some(b)) if Arc::ptr_eq(a, b)));
    ///     let controls = [Message::Control(watermark.clone()), Message::Control(Control::End)];
    ///     assert_eq!(output[1..], controls);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn broadcast(
        self,
        subscribers: usize,
        config: StageConfig,
    ) -> Result<Vec<Flow<Broadcast<T>>>, ConfigError>
    where
        S: Send + 'static,
        T: Send + Sync + 'static,
    {
        if subscribers == 0 {
            return Err(ConfigError::new(
                "broadcast subscribers",
                "greater than zero",
            ));
        }
        let counters = self.metrics.register("broadcast");
        let outputs = Broadcast::subscribers(self.stream, subscribers, config, counters);
        Ok(outputs
            .into_iter()
            .map(|stream| Flow {
                stream,
                metrics: self.metrics.clone(),
                checkpoints: self.checkpoints.clone(),
            })
            .collect())
    }

    /// Sends each data item of this flow to exactly one of `outputs` flows: the one `route`
    /// picks (from 0).
    ///
    /// Use it to split a flow by kind (orders and refunds, one output per region) without
    /// reading the input once per output. For two outputs chosen by a predicate, see
    /// [`Flow::split`].
    ///
    /// Ordering: each output gets its data items in the order of the input, and every control
    /// message of the input (watermarks, barriers, idleness, the end of input, a failure) in its
    /// place among them: an output's messages are exactly the input with the data items routed
    /// elsewhere left out. So every output sees event time advance, even one that gets no data.
    /// Across outputs there is no order: each is read at its own pace.
    ///
    /// The flow so far runs on its own tokio task, which hands its messages to one bounded queue
    /// per output, in batches, like a [stage boundary](Flow::stage). The task starts when any
    /// output is first polled. Dropping an output discards what is routed to it from then on,
    /// and the others go on; dropping every output stops the task. The outputs share this flow's
    /// metrics registry, where the operator is registered as `"route"`.
    ///
    /// # Backpressure
    ///
    /// `config` sets each output's queue: its capacity in data items, the batch size and what
    /// happens when it is full. Under [`Overflow::Block`](crate::channel::Overflow::Block) (the
    /// default) the upstream task waits, without spinning, while a batch for an output does not
    /// fit in that output's queue: the slowest output sets the pace, and the items routed to an
    /// output but not yet taken by it never exceed the capacity plus one batch. An output that is
    /// neither polled nor dropped holds the others back once its queue is full: read the outputs
    /// concurrently. The dropping strategies drop data items of a full output, counted in the
    /// metrics as for a [stage](Flow::stage); [`Overflow::Fail`](crate::channel::Overflow::Fail)
    /// fails every output with [`Error::Overflow`](crate::Error::Overflow).
    ///
    /// # Errors
    ///
    /// Zero `outputs` is a [`ConfigError`]. (A zero capacity is refused by
    /// [`StageConfig::with_capacity`].)
    ///
    /// While the flow runs, an index `route` returns that is not below `outputs` fails the flow on
    /// every output with [`Error::Record`](crate::Error::Record), whose cause is a
    /// [`RouteError`](crate::operators::RouteError); a panic in `route` fails it with
    /// [`Error::Panicked`](crate::Error::Panicked). The items read before reach their outputs.
    ///
    /// # Panics
    ///
    /// The first poll of an output panics outside a tokio runtime, like [`tokio::spawn`].
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::channel::StageConfig;
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let outputs = Flow::from_iter(0..10u32)
    ///     .route(3, StageConfig::with_capacity(256)?, |n| (n % 3) as usize)?;
    /// let outputs = futures::future::try_join_all(
    ///     outputs.into_iter().map(|output| output.collect::<Vec<_>>()),
    /// )
    /// .await?;
    /// assert_eq!(outputs, [vec![0, 3, 6, 9], vec![1, 4, 7], vec![2, 5, 8]]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn route<F>(
        self,
        outputs: usize,
        config: StageConfig,
        route: F,
    ) -> Result<Vec<Flow<Route<T>>>, ConfigError>
    where
        F: FnMut(&T) -> usize + Send + 'static,
        S: Send + 'static,
        T: Send + 'static,
    {
        if outputs == 0 {
            return Err(ConfigError::new("route outputs", "greater than zero"));
        }
        Ok(self.routed("route", outputs, config, route))
    }

    /// Splits this flow in two: the data items that match `predicate`, and those that do not.
    ///
    /// The same as [`Flow::route`] with two outputs, the first for matching items: each item goes
    /// to exactly one output, each output keeps the input order, and both get every control
    /// message in its place. The operator is registered as `"split"` in the metrics.
    ///
    /// # Backpressure
    ///
    /// As for [`Flow::route`]: under [`Overflow::Block`](crate::channel::Overflow::Block) the
    /// slower output sets the pace, so read both outputs concurrently (or drop the one you do
    /// not need).
    ///
    /// # Errors
    ///
    /// A panic in `predicate` fails both outputs with
    /// [`Error::Panicked`](crate::Error::Panicked).
    ///
    /// # Panics
    ///
    /// The first poll of an output panics outside a tokio runtime, like [`tokio::spawn`].
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::channel::StageConfig;
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let (even, odd) = Flow::from_iter(1..=6u32).split(StageConfig::default(), |n| n % 2 == 0);
    /// let (even, odd) = tokio::join!(even.collect::<Vec<_>>(), odd.collect::<Vec<_>>());
    /// assert_eq!(even?, [2, 4, 6]);
    /// assert_eq!(odd?, [1, 3, 5]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn split<P>(self, config: StageConfig, mut predicate: P) -> (Flow<Route<T>>, Flow<Route<T>>)
    where
        P: FnMut(&T) -> bool + Send + 'static,
        S: Send + 'static,
        T: Send + 'static,
    {
        let outputs = self.routed("split", 2, config, move |item| {
            usize::from(!predicate(item))
        });
        let mut outputs = outputs.into_iter();
        match (outputs.next(), outputs.next()) {
            (Some(matching), Some(rest)) => (matching, rest),
            _ => unreachable!("a split has two outputs"),
        }
    }

    /// The `outputs` flows of a route registered as `method`.
    fn routed<F>(
        self,
        method: &str,
        outputs: usize,
        config: StageConfig,
        route: F,
    ) -> Vec<Flow<Route<T>>>
    where
        F: FnMut(&T) -> usize + Send + 'static,
        S: Send + 'static,
        T: Send + 'static,
    {
        let counters = self.metrics.register(method);
        Route::outputs(self.stream, outputs, config, counters, route)
            .into_iter()
            .map(|stream| Flow {
                stream,
                metrics: self.metrics.clone(),
                checkpoints: self.checkpoints.clone(),
            })
            .collect()
    }
}
