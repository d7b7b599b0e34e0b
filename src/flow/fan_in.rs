//! Fan-in: several flows into one.

use futures_core::Stream;

use super::Flow;
use crate::operators::Union;
use crate::Message;

impl<S, T> Flow<S>
where
    S: Stream<Item = Message<T>>,
{
    /// Merges `other` into this flow: items from both, as they come.
    ///
    /// The merged watermark is the minimum over the inputs that are not idle (see
    /// [`WatermarkTracker`](crate::time::WatermarkTracker)) and never goes backwards; an input
    /// that ends stops holding it back; the merged flow ends when both inputs have ended. The
    /// metrics of both flows stay readable through the merged flow's registry.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let mut all = Flow::from_iter([1, 3]).union(Flow::from_iter([2, 4])).collect::<Vec<_>>().await?;
    /// all.sort();
    /// assert_eq!(all, [1, 2, 3, 4]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn union<S2>(self, other: Flow<S2>) -> Flow<Union<S, S2>>
    where
        S2: Stream<Item = Message<T>>,
    {
        self.metrics.adopt(other.metrics);
        let checkpoints = self.checkpoints.clone().or(other.checkpoints);
        let second = other.stream;
        self.with_checkpointing(checkpoints)
            .chain("union", |first, _| Union::new(first, second))
    }
}
