use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::error::RecordError;
use crate::error_policy::{catch_panic, DeadLetter, PolicyHandler};
use crate::metrics::Tally;
use crate::{Control, Message};

/// The stream returned by [`Flow::try_map`](crate::Flow::try_map).
pub type TryMap<S, F, T> = Fallible<S, MapStep<F>, T>;

/// The step of [`TryMap`]: one output per input.
#[derive(Clone)]
pub struct MapStep<F>(pub(crate) F);

/// One fallible step of a [`Fallible`] operator: `Ok(None)` filters the item out.
pub trait TryStep<T> {
    /// The output item.
    type Output;
    /// The error of a failed step.
    type Error: std::error::Error + Send + Sync + 'static;
    /// Runs the step on `item`.
    fn step(&mut self, item: &T) -> Result<Option<Self::Output>, Self::Error>;
}

impl<F, T, U, E> TryStep<T> for MapStep<F>
where
    F: FnMut(&T) -> Result<U, E>,
    E: std::error::Error + Send + Sync + 'static,
{
    type Output = U;
    type Error = E;

    #[inline]
    fn step(&mut self, item: &T) -> Result<Option<U>, E> {
        (self.0)(item).map(Some)
    }
}

pin_project! {
    /// A fallible operator: runs a [`TryStep`] on every item and hands failures and panics to
    /// its error policy.
    #[must_use = "streams do nothing unless polled"]
    pub struct Fallible<S, Step, T> {
        #[pin]
        stream: S,
        step: Step,
        policy: PolicyHandler<T>,
        index: u64,
        failed: bool,
        // Items in and out, published to the policy's counters every few hundred.
        tally: Tally,
    }
}

impl<S, Step, T> Fallible<S, Step, T> {
    pub(crate) fn new(stream: S, step: Step, policy: PolicyHandler<T>) -> Self {
        Fallible {
            stream,
            step,
            policy,
            index: 0,
            failed: false,
            tally: Tally::default(),
        }
    }
}

impl<S, Step, T> Stream for Fallible<S, Step, T>
where
    S: Stream<Item = Message<T>>,
    Step: TryStep<T>,
    T: Send + 'static,
{
    type Item = Message<Step::Output>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if *this.failed {
            return Poll::Ready(None);
        }
        loop {
            ready!(this.policy.poll_ready(cx));
            let item = match this.stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Message::Data(item))) => item,
                Poll::Ready(Some(Message::Control(control))) => {
                    if !matches!(control, Control::Watermark(_)) {
                        this.tally.publish(this.policy.counters());
                    }
                    return Poll::Ready(Some(Message::Control(control)));
                }
                Poll::Ready(None) => {
                    this.tally.publish(this.policy.counters());
                    return Poll::Ready(None);
                }
                Poll::Pending => {
                    this.tally.publish(this.policy.counters());
                    return Poll::Pending;
                }
            };
            this.tally.count_in(this.policy.counters());
            let index = *this.index;
            *this.index += 1;
            let error = match catch_panic(|| this.step.step(&item)) {
                Ok(Ok(Some(out))) => {
                    this.tally.count_out(this.policy.counters());
                    return Poll::Ready(Some(Message::Data(out)));
                }
                Ok(Ok(None)) => continue,
                Ok(Err(error)) => RecordError::failed(error),
                Err(panic) => panic,
            };
            if let Some(error) = this.policy.fail(DeadLetter::new(item, index, None, error)) {
                this.tally.publish(this.policy.counters());
                *this.failed = true;
                return Poll::Ready(Some(Message::Control(Control::Failed(Box::new(error)))));
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.stream.size_hint().1)
    }
}

impl<S: fmt::Debug, Step, T> fmt::Debug for Fallible<S, Step, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fallible")
            .field("stream", &self.stream)
            .field("policy", &self.policy)
            .field("index", &self.index)
            .finish()
    }
}

impl<F> fmt::Debug for MapStep<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MapStep")
    }
}
