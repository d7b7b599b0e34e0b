//! The combined watermark of an operator with several inputs.

use super::Timestamp;

/// Tracks the watermark of each input of a multi-input operator and combines them: the combined
/// watermark is the minimum over the inputs that are not idle, and it never goes backwards.
///
/// An input is idle from [`Control::Idle`](crate::Control::Idle) until its next item or watermark;
/// an input that ended counts as [`Timestamp::MAX`]. When every input is idle, the combined
/// watermark stays where it is.
///
/// # Examples
///
/// ```
/// use rheoflow::time::WatermarkTracker;
/// use rheoflow::Timestamp;
///
/// let ms = Timestamp::from_millis;
/// let mut tracker = WatermarkTracker::new(2);
/// assert_eq!(tracker.update(0, ms(10)), None); // input 1 has no watermark yet
/// assert_eq!(tracker.update(1, ms(5)), Some(ms(5)));
/// assert_eq!(tracker.set_idle(1), Some(ms(10))); // an idle input no longer holds it back
/// assert_eq!(tracker.update(1, ms(7)), None); // active again, but never backwards
/// ```
#[derive(Debug, Clone)]
pub struct WatermarkTracker {
    inputs: Vec<Input>,
    combined: Timestamp,
}

#[derive(Debug, Clone, Copy)]
struct Input {
    watermark: Timestamp,
    idle: bool,
}

impl WatermarkTracker {
    /// Tracks `inputs` inputs, all at [`Timestamp::MIN`] and active.
    pub fn new(inputs: usize) -> Self {
        WatermarkTracker {
            inputs: vec![
                Input {
                    watermark: Timestamp::MIN,
                    idle: false,
                };
                inputs
            ],
            combined: Timestamp::MIN,
        }
    }

    /// The combined watermark.
    pub fn current(&self) -> Timestamp {
        self.combined
    }

    /// Input `input` sent watermark `watermark` (it is active again). Returns the new combined
    /// watermark if it advanced.
    pub fn update(&mut self, input: usize, watermark: Timestamp) -> Option<Timestamp> {
        let slot = &mut self.inputs[input];
        slot.watermark = slot.watermark.max(watermark);
        slot.idle = false;
        self.recompute()
    }

    /// Input `input` sent an item: it is active again. (An input coming back from idleness never
    /// moves the combined watermark backwards.)
    #[inline]
    pub fn activate(&mut self, input: usize) {
        self.inputs[input].idle = false;
    }

    /// Input `input` went idle. Returns the new combined watermark if it advanced.
    pub fn set_idle(&mut self, input: usize) -> Option<Timestamp> {
        self.inputs[input].idle = true;
        self.recompute()
    }

    /// Input `input` ended: it holds nothing back any more.
    pub fn end(&mut self, input: usize) -> Option<Timestamp> {
        self.update(input, Timestamp::MAX)
    }

    /// Whether every input is idle (or ended).
    pub fn all_idle(&self) -> bool {
        self.inputs
            .iter()
            .all(|input| input.idle || input.watermark == Timestamp::MAX)
    }

    fn recompute(&mut self) -> Option<Timestamp> {
        let minimum = self
            .inputs
            .iter()
            .filter(|input| !input.idle)
            .map(|input| input.watermark)
            .min()?;
        (minimum > self.combined).then(|| {
            self.combined = minimum;
            minimum
        })
    }
}
