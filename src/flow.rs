//! [`Flow`]: the chaining API over a stream of in-band messages.
//!
//! The methods of `Flow` are grouped by kind, each group in its own file: building a flow and
//! turning it back into a plain stream (here), stateless operators (`flow/stateless.rs`),
//! fallible operators with an error policy (`flow/fallible.rs`) and running a flow to completion
//! (`flow/run.rs`). Each operator's poll logic lives in `src/operators/`, in a file named after its
//! method.

mod checkpoint;
mod concurrent;
mod event_time;
mod fallible;
mod fan_in;
mod fan_out;
mod processor;
mod run;
mod shutdown;
mod stages;
mod stateless;
mod timed;
mod transactional;

pub use run::FlowTask;

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::checkpoint::{Checkpoints, Participant, Scope};
use crate::metrics::{Metrics, OperatorCounters};
use crate::operators::{IntoStream, IntoTryStream};
use crate::source::{IterSource, StreamSource};
use crate::Message;

pin_project! {
    /// A typed dataflow: a stream of [`Message`]s with operators chained as methods.
    ///
    /// A flow starts from any [`Stream`] ([`Flow::from_stream`]), any [`IntoIterator`]
    /// ([`Flow::from_iter`]) or one of the [sources](crate::source), and turns back into a plain
    /// `Stream<Item = T>` with [`Flow::into_stream`], so it drops into `tokio::select!`, `StreamExt`
    /// chains and spawned tasks. Every operator is a concrete, monomorphized stream adapter: a chain
    /// of operators compiles to one loop with no boxing and no allocation per item.
    ///
    /// `Flow<S>` is itself a `Stream<Item = Message<T>>`, so an operator written by hand (a stream
    /// of messages) wraps back into a flow with [`Flow::from_messages`].
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let squares = Flow::from_iter(1..=5u64)
    ///     .map(|x| x * x)
    ///     .filter(|x| x % 2 == 1)
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(squares, [1, 9, 25]);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled"]
    pub struct Flow<S> {
        #[pin]
        stream: S,
        metrics: Metrics,
        checkpoints: Option<(Checkpoints, Scope)>,
    }
}

impl<T> Flow<IterSource<T>>
where
    T: Iterator,
{
    /// Creates a flow of the items of `iter`, followed by the end of input.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let words = Flow::from_iter(vec!["a", "b"]).collect::<Vec<_>>().await?;
    /// assert_eq!(words, ["a", "b"]);
    /// # Ok(())
    /// # }
    /// ```
    #[allow(clippy::should_implement_trait)]
    pub fn from_iter<I>(iter: I) -> Self
    where
        I: IntoIterator<IntoIter = T>,
    {
        Flow::from_messages(IterSource::new(iter.into_iter()))
    }
}

impl<St> Flow<StreamSource<St>>
where
    St: Stream,
{
    /// Creates a flow of the items of `stream`, followed by the end of input when it ends.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let stream = futures::stream::iter([3, 1, 2]);
    /// let items = Flow::from_stream(stream).collect::<Vec<_>>().await?;
    /// assert_eq!(items, [3, 1, 2]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_stream(stream: St) -> Self {
        Flow::from_messages(StreamSource::new(stream))
    }
}

impl<S> Flow<S> {
    /// Wraps a stream of messages (a source or an operator written by hand) into a flow.
    ///
    /// The stream should end with [`Control::End`](crate::Control::End) when its input ends
    /// normally; a stream that simply stops is treated as cut off, and operators that hold state
    /// (windows) do not flush it.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::{Control, Flow, Message};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let messages = futures::stream::iter([Message::Data(1), Message::Control(Control::End)]);
    /// assert_eq!(Flow::from_messages(messages).collect::<Vec<_>>().await?, [1]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_messages(stream: S) -> Self {
        Flow {
            stream,
            metrics: Metrics::new(),
            checkpoints: None,
        }
    }

    /// The metrics registry of this flow and the operators chained after it.
    ///
    /// Take it before the flow is consumed; it stays readable while the flow runs and afterwards.
    pub fn metrics(&self) -> Metrics {
        self.metrics.clone()
    }

    /// Names the operator added last, for metrics, tracing and (later) checkpoint ids.
    ///
    /// Operators get a deterministic default name, `"{method}-{position}"` (`"map-0"`); a name
    /// given here is stable across changes to the rest of the flow.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::Flow;
    ///
    /// let flow = Flow::from_iter(0..3).map(|x| x + 1).name("increment");
    /// assert_eq!(flow.metrics().snapshot().operators()[0].name(), "increment");
    /// ```
    pub fn name(self, name: impl Into<String>) -> Self {
        self.metrics.rename_last(name.into());
        self
    }

    /// Returns the inner stream of messages.
    pub fn into_messages(self) -> S {
        self.stream
    }

    /// Chains the operator built by `make` after this flow, registering it as `method`.
    pub(crate) fn chain<S2>(
        self,
        method: &str,
        make: impl FnOnce(S, Arc<OperatorCounters>) -> S2,
    ) -> Flow<S2> {
        let counters = self.metrics.register(method);
        Flow {
            stream: make(self.stream, counters),
            metrics: self.metrics,
            checkpoints: self.checkpoints,
        }
    }

    /// Chains a stateful operator: like [`Flow::chain`], and when the flow is checkpointed,
    /// `make` also gets the operator's part in the checkpoints, to restore and snapshot its
    /// state.
    pub(crate) fn chain_stateful<S2>(
        self,
        method: &str,
        make: impl FnOnce(S, Arc<OperatorCounters>, Option<Participant>) -> S2,
    ) -> Flow<S2> {
        let counters = self.metrics.register(method);
        let participant = self
            .checkpoints
            .as_ref()
            .map(|(checkpoints, scope)| checkpoints.register(Arc::clone(&counters), scope.clone()));
        Flow {
            stream: make(self.stream, counters, participant),
            metrics: self.metrics,
            checkpoints: self.checkpoints,
        }
    }

    /// Registers the consumer at the end of a checkpointed flow (`method`) as taking part in its
    /// checkpoints, so that a checkpoint completes only once its barrier was delivered.
    pub(crate) fn output_participant(
        &self,
        counters: Option<Arc<OperatorCounters>>,
        method: &str,
    ) -> Option<Participant> {
        let (checkpoints, scope) = self.checkpoints.as_ref()?;
        let counters = counters.unwrap_or_else(|| self.metrics.register(method));
        Some(checkpoints.register(counters, scope.clone()))
    }

    /// The checkpointing of this flow, if any, and the scope its operators' ids live in.
    pub(crate) fn checkpointing(&self) -> Option<&(Checkpoints, Scope)> {
        self.checkpoints.as_ref()
    }

    /// Makes the operators chained after this flow take part in `checkpoints`, in `scope`.
    pub(crate) fn with_checkpointing(mut self, checkpoints: Option<(Checkpoints, Scope)>) -> Self {
        self.checkpoints = checkpoints;
        self
    }

    /// Creates a flow from the source built by `make`, registering it as `method` so that its
    /// counters show in the flow's metrics.
    pub(crate) fn from_source(method: &str, make: impl FnOnce(Arc<OperatorCounters>) -> S) -> Self {
        let metrics = Metrics::new();
        let counters = metrics.register(method);
        Flow {
            stream: make(counters),
            metrics,
            checkpoints: None,
        }
    }

    /// Turns the flow into a plain stream of its data items.
    ///
    /// Control messages are consumed; the stream ends at the end of input. If the pipeline fails,
    /// the stream simply ends: use [`Flow::into_try_stream`] to see the error.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut stream = Flow::from_iter([1, 2]).map(|x| x * 2).into_stream();
    /// assert_eq!(stream.next().await, Some(2));
    /// assert_eq!(stream.next().await, Some(4));
    /// assert_eq!(stream.next().await, None);
    /// # }
    /// ```
    pub fn into_stream<T>(self) -> IntoStream<S>
    where
        S: Stream<Item = Message<T>>,
    {
        let participant = self.output_participant(None, "into_stream");
        IntoStream::new(self.stream, participant)
    }

    /// Turns the flow into a plain stream of `Result`s: data items, then the pipeline's error if
    /// it fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use rheoflow::{ErrorPolicy, Flow};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut stream = Flow::from_iter(["7", "x"])
    ///     .try_map(|s: &&str| s.parse::<u8>(), ErrorPolicy::fail())
    ///     .into_try_stream();
    /// assert_eq!(stream.next().await.unwrap().unwrap(), 7);
    /// assert!(stream.next().await.unwrap().is_err());
    /// assert!(stream.next().await.is_none());
    /// # }
    /// ```
    pub fn into_try_stream<T>(self) -> IntoTryStream<S>
    where
        S: Stream<Item = Message<T>>,
    {
        let participant = self.output_participant(None, "into_try_stream");
        IntoTryStream::new(self.stream, participant)
    }
}

impl<S: Stream> Stream for Flow<S> {
    type Item = S::Item;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        self.project().stream.poll_next(cx)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stream.size_hint()
    }
}

impl<S: fmt::Debug> fmt::Debug for Flow<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flow")
            .field("stream", &self.stream)
            .finish()
    }
}
