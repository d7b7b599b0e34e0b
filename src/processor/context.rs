//! What a processor can do while it handles an item, a watermark or a timer.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;

use crate::keyed::TimeDomain;
use crate::time::Clock;
use crate::Timestamp;

/// The pending timers of a processor, per clock. Setting the same time twice sets one timer.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Timers {
    pub(crate) event: BTreeSet<Timestamp>,
    pub(crate) processing: BTreeSet<Timestamp>,
}

impl Timers {
    /// Takes the earliest timer of `domain` due at or before `until`.
    pub(crate) fn pop_due(&mut self, domain: TimeDomain, until: Timestamp) -> Option<Timestamp> {
        let queue = match domain {
            TimeDomain::EventTime => &mut self.event,
            TimeDomain::ProcessingTime => &mut self.processing,
        };
        match queue.first() {
            Some(&at) if at <= until => queue.pop_first(),
            _ => None,
        }
    }
}

/// What a [`Processor`](super::Processor) can do while it handles an item, a watermark or a
/// timer: emit outputs, read the watermark and the processing time, set and delete timers.
///
/// Outputs are buffered in the operator and passed on, in order, before anything that came
/// after the call: before the watermark it handles, and before the next item's outputs.
///
/// # Examples
///
/// ```
/// use rheoflow::processor::{processor, Context};
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// struct Pairs {
///     first: Option<u32>,
/// }
///
/// #[processor]
/// impl Pairs {
///     fn process(&mut self, item: u32, ctx: &mut Context<'_, (u32, u32)>) {
///         match self.first.take() {
///             Some(first) => ctx.emit((first, item)),
///             None => self.first = Some(item),
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let pairs = rheoflow::Flow::from_iter(1..=5)
///     .process(Pairs { first: None })
///     .collect::<Vec<_>>()
///     .await?;
/// assert_eq!(pairs, [(1, 2), (3, 4)]);
/// # Ok(())
/// # }
/// ```
pub struct Context<'a, O> {
    /// The first output of the calls since the operator last passed its outputs on: most calls
    /// emit at most one, which then goes out without touching `out`.
    pub(crate) slot: &'a mut Option<O>,
    /// The outputs after the first, in order.
    pub(crate) out: &'a mut VecDeque<O>,
    pub(crate) timers: &'a mut Timers,
    pub(crate) watermark: Timestamp,
    pub(crate) clock: &'a Clock,
}

impl<O> Context<'_, O> {
    /// Emits an output.
    #[inline]
    pub fn emit(&mut self, output: O) {
        // The operator calls the processor only once `out` is empty, and passes on the slot
        // before `out`: the first output of the calls goes in the slot, the others after it.
        if self.slot.is_none() {
            *self.slot = Some(output);
        } else {
            self.spill(output);
        }
    }

    /// Queues an output after the first.
    fn spill(&mut self, output: O) {
        self.out.push_back(output);
    }

    /// The current watermark: [`Timestamp::MIN`] before the first one.
    #[inline]
    pub fn watermark(&self) -> Timestamp {
        self.watermark
    }

    /// The current processing time, read from tokio's clock (see [`Clock`]).
    #[inline]
    pub fn processing_time(&self) -> Timestamp {
        self.clock.now()
    }

    /// Sets an event-time timer: [`on_timer`](super::Processor::on_timer) is called once the
    /// watermark reaches `at`. Setting the same time twice sets one timer.
    #[inline]
    pub fn set_event_timer(&mut self, at: Timestamp) {
        self.timers.event.insert(at);
    }

    /// Sets a processing-time timer: [`on_timer`](super::Processor::on_timer) is called once
    /// tokio's clock reaches `at`. Setting the same time twice sets one timer.
    ///
    /// The operator looks at its timers whenever its input waits and every 1,024 items while
    /// items keep coming, so under a steady stream a timer fires at most that many items late.
    #[inline]
    pub fn set_processing_timer(&mut self, at: Timestamp) {
        self.timers.processing.insert(at);
    }

    /// Deletes the event-time timer at `at`, if set.
    #[inline]
    pub fn delete_event_timer(&mut self, at: Timestamp) {
        self.timers.event.remove(&at);
    }

    /// Deletes the processing-time timer at `at`, if set.
    #[inline]
    pub fn delete_processing_timer(&mut self, at: Timestamp) {
        self.timers.processing.remove(&at);
    }
}

impl<O> fmt::Debug for Context<'_, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("watermark", &self.watermark)
            .field(
                "pending_outputs",
                &(usize::from(self.slot.is_some()) + self.out.len()),
            )
            .field("event_timers", &self.timers.event.len())
            .field("processing_timers", &self.timers.processing.len())
            .finish()
    }
}
