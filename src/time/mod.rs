//! Time: timestamps and the processing-time clock.
//!
//! Event time is a [`Timestamp`]: milliseconds since the Unix epoch, negative values included.
//! Processing time is read from tokio's clock through [`Clock`], so a test that pauses tokio's time
//! (`#[tokio::test(start_paused = true)]`) controls it exactly.

mod clock;
pub(crate) mod timestamp;
mod tracker;
mod watermark;

pub use clock::Clock;
pub use timestamp::Timestamp;
pub use tracker::WatermarkTracker;
pub use watermark::{BoundedOutOfOrderness, WatermarkGenerator, WatermarkStrategy};
