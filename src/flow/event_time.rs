//! Event time: timestamps and watermarks.

use futures_core::Stream;

use super::Flow;
use crate::operators::Watermarks;
use crate::time::{Timestamp, WatermarkGenerator, WatermarkStrategy};
use crate::Message;

impl<S, T> Flow<S>
where
    S: Stream<Item = Message<T>>,
{
    /// Gives the flow event time: reads each item's timestamp with `timestamp` and emits
    /// watermarks as `strategy` says.
    ///
    /// A watermark follows the item that moved it, so an item is judged (on time or late) with the
    /// watermark that stood before it. Watermarks only go forward. At the end of input the
    /// watermark jumps to [`Timestamp::MAX`], which fires every open window. Watermarks from
    /// upstream are replaced by the ones generated here, as in Flink.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::time::WatermarkStrategy;
    /// use rheoflow::{Control, Flow, Message, Timestamp};
    /// use futures::StreamExt;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let messages = Flow::from_iter([1_000i64, 3_000, 2_000])
    ///     .watermarks(|t| Timestamp::from_millis(*t), WatermarkStrategy::bounded_out_of_orderness(Duration::from_secs(1)))
    ///     .into_messages()
    ///     .collect::<Vec<_>>()
    ///     .await;
    /// let watermark = |ms| Message::Control(Control::Watermark(Timestamp::from_millis(ms)));
    /// assert_eq!(messages, [
    ///     Message::Data(1_000), watermark(-1),
    ///     Message::Data(3_000), watermark(1_999),
    ///     Message::Data(2_000),
    ///     Message::Control(Control::Watermark(Timestamp::MAX)),
    ///     Message::Control(Control::End),
    /// ]);
    /// # }
    /// ```
    pub fn watermarks<F, G>(
        self,
        timestamp: F,
        strategy: WatermarkStrategy<G>,
    ) -> Flow<Watermarks<S, F, G>>
    where
        F: FnMut(&T) -> Timestamp,
        G: WatermarkGenerator,
    {
        self.chain_stateful("watermarks", |stream, _, participant| {
            Watermarks::new(stream, timestamp, strategy, participant)
        })
    }
}
