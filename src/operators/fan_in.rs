//! What every operator with several inputs does with their control messages.

use crate::time::WatermarkTracker;
use crate::{Barrier, Control, Message};

/// The control logic of a fan-in: the combined watermark is the minimum over the inputs that are
/// not idle; the output ends once every input has ended; a failure of any input fails it.
#[derive(Debug)]
pub(crate) struct FanIn {
    tracker: WatermarkTracker,
    ended: Vec<bool>,
    /// The inputs that delivered the barrier being aligned; they are not polled until it is.
    blocked: Vec<bool>,
    aligning: Option<Barrier>,
    /// A watermark to pass on right after the barrier that went out before it.
    pending: Option<Control>,
    done: bool,
}

impl FanIn {
    pub(crate) fn new(inputs: usize) -> Self {
        FanIn {
            tracker: WatermarkTracker::new(inputs),
            ended: vec![false; inputs],
            blocked: vec![false; inputs],
            aligning: None,
            pending: None,
            done: false,
        }
    }

    /// Whether the output has ended.
    /// A control message to pass on before polling the inputs again.
    pub(crate) fn take_pending<T>(&mut self) -> Option<Message<T>> {
        self.pending.take().map(Message::Control)
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// Whether `input` has ended.
    /// Whether `input` must not be polled now: it ended, or it delivered the barrier being
    /// aligned and waits for the others.
    pub(crate) fn has_ended(&self, input: usize) -> bool {
        self.ended[input] || self.blocked[input]
    }

    /// The current combined watermark.
    pub(crate) fn watermark(&self) -> crate::Timestamp {
        self.tracker.current()
    }

    /// Takes what `input` yielded (`None`: it stopped) and returns what the output emits, if
    /// anything. A data item goes out as it came, inline; the rest is out of line.
    #[inline(always)]
    pub(crate) fn on_message<T>(
        &mut self,
        input: usize,
        message: Option<Message<T>>,
    ) -> Option<Message<T>> {
        match message {
            Some(Message::Data(item)) => {
                self.tracker.activate(input);
                Some(Message::Data(item))
            }
            Some(Message::Control(control)) => self.on_control(input, Some(control)),
            None => self.on_control(input, None),
        }
    }

    /// [`FanIn::on_message`] for a control message, or the end of `input` (`None`).
    #[inline(never)]
    fn on_control<T>(&mut self, input: usize, control: Option<Control>) -> Option<Message<T>> {
        let control = match control {
            Some(Control::Watermark(watermark)) => self
                .tracker
                .update(input, watermark)
                .map(Control::Watermark),
            Some(Control::Idle) => {
                let advanced = self.tracker.set_idle(input).map(Control::Watermark);
                if advanced.is_none() && self.tracker.all_idle() {
                    Some(Control::Idle)
                } else {
                    advanced
                }
            }
            Some(Control::End) | None => {
                self.ended[input] = true;
                if self.ended.iter().all(|ended| *ended) {
                    self.done = true;
                    return Some(Message::Control(Control::End));
                }
                // An input that ends no longer holds back a barrier being aligned. The
                // barrier goes first, then the watermark the end releases.
                if let Some(barrier) = self.aligned() {
                    self.pending = self.tracker.end(input).map(Control::Watermark);
                    return Some(Message::Control(Control::Barrier(barrier)));
                }
                self.tracker.end(input).map(Control::Watermark)
            }
            Some(Control::Barrier(barrier)) => self.align(input, barrier),
            Some(Control::Failed(error)) => {
                self.done = true;
                Some(Control::Failed(error))
            }
        };
        control.map(Message::Control)
    }

    /// Aligns checkpoint barriers, as Flink does for exactly-once: a barrier from one input
    /// blocks that input until the same barrier came from every input that has not ended, and
    /// then goes out once. So no item after the barrier on one input is processed before the
    /// barrier, and the state snapshot downstream holds exactly the items before it.
    fn align(&mut self, input: usize, barrier: Barrier) -> Option<Control> {
        match self.aligning {
            Some(current) if barrier.checkpoint_id() < current.checkpoint_id() => {
                // An older checkpoint than the one aligning: it can no longer complete.
                return None;
            }
            Some(current) if barrier.checkpoint_id() > current.checkpoint_id() => {
                // This input skipped the barrier being aligned, so that checkpoint cannot
                // complete; align the newer one instead.
                self.blocked.iter_mut().for_each(|blocked| *blocked = false);
                self.aligning = Some(barrier);
            }
            Some(_) => {}
            None => self.aligning = Some(barrier),
        }
        self.blocked[input] = true;
        self.aligned().map(Control::Barrier)
    }

    /// The barrier being aligned, once every input that has not ended delivered it.
    fn aligned(&mut self) -> Option<Barrier> {
        let barrier = self.aligning?;
        let all = (0..self.ended.len()).all(|input| self.ended[input] || self.blocked[input]);
        if !all {
            return None;
        }
        self.aligning = None;
        self.blocked.iter_mut().for_each(|blocked| *blocked = false);
        Some(barrier)
    }
}
