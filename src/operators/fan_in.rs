//! What every operator with several inputs does with their control messages.

use crate::time::WatermarkTracker;
use crate::{Control, Message};

/// The control logic of a fan-in: the combined watermark is the minimum over the inputs that are
/// not idle; the output ends once every input has ended; a failure of any input fails it.
#[derive(Debug)]
pub(crate) struct FanIn {
    tracker: WatermarkTracker,
    ended: Vec<bool>,
    done: bool,
}

impl FanIn {
    pub(crate) fn new(inputs: usize) -> Self {
        FanIn {
            tracker: WatermarkTracker::new(inputs),
            ended: vec![false; inputs],
            done: false,
        }
    }

    /// Whether the output has ended.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// Whether `input` has ended.
    pub(crate) fn has_ended(&self, input: usize) -> bool {
        self.ended[input]
    }

    /// The current combined watermark.
    pub(crate) fn watermark(&self) -> crate::Timestamp {
        self.tracker.current()
    }

    /// Takes what `input` yielded (`None`: it stopped) and returns what the output emits, if
    /// anything.
    #[inline]
    pub(crate) fn on_message<T>(
        &mut self,
        input: usize,
        message: Option<Message<T>>,
    ) -> Option<Message<T>> {
        let control = match message {
            Some(Message::Data(item)) => {
                self.tracker.activate(input);
                return Some(Message::Data(item));
            }
            Some(Message::Control(Control::Watermark(watermark))) => self
                .tracker
                .update(input, watermark)
                .map(Control::Watermark),
            Some(Message::Control(Control::Idle)) => {
                let advanced = self.tracker.set_idle(input).map(Control::Watermark);
                if advanced.is_none() && self.tracker.all_idle() {
                    Some(Control::Idle)
                } else {
                    advanced
                }
            }
            Some(Message::Control(Control::End)) | None => {
                self.ended[input] = true;
                if self.ended.iter().all(|ended| *ended) {
                    self.done = true;
                    return Some(Message::Control(Control::End));
                }
                self.tracker.end(input).map(Control::Watermark)
            }
            Some(Message::Control(Control::Failed(error))) => {
                self.done = true;
                Some(Control::Failed(error))
            }
            // Barriers are aligned at multi-input operators once checkpoints exist; until then
            // they pass through.
            Some(Message::Control(control)) => Some(control),
        };
        control.map(Message::Control)
    }
}
