//! Fallible operators: a user function that may fail, with an [`ErrorPolicy`] for failures.

use futures_core::Stream;

use super::Flow;
use crate::error_policy::{ErrorPolicy, PolicyHandler};
use crate::operators::{FilterMapStep, MapStep, TryFilterMap, TryMap};
use crate::Message;

impl<S, T> Flow<S>
where
    S: Stream<Item = Message<T>>,
    T: Send + 'static,
{
    /// Transforms every item with a fallible `f`; an item for which `f` returns an error or
    /// panics goes to `policy`.
    ///
    /// `f` borrows the item, so a failed item can go to a dead-letter output as it was.
    ///
    /// # Errors
    ///
    /// Under [`ErrorPolicy::fail`] the flow ends with [`Error::Record`](crate::Error::Record),
    /// which names the failed item by its position.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::{ErrorPolicy, Flow};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let out = Flow::from_iter(["1", "x", "3"])
    ///     .try_map(|s: &&str| s.parse::<u32>(), ErrorPolicy::skip())
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(out, [1, 3]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_map<U, E, F>(self, f: F, policy: ErrorPolicy<T>) -> Flow<TryMap<S, F, T>>
    where
        F: FnMut(&T) -> Result<U, E>,
        E: std::error::Error + Send + Sync + 'static,
    {
        self.chain("try_map", |stream, counters| {
            TryMap::new(stream, MapStep(f), PolicyHandler::new(policy, counters))
        })
    }

    /// Transforms every item with a fallible `f` and keeps the `Ok(Some(_))` results; an item for
    /// which `f` returns an error or panics goes to `policy`.
    ///
    /// # Errors
    ///
    /// Under [`ErrorPolicy::fail`] the flow ends with [`Error::Record`](crate::Error::Record).
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::{ErrorPolicy, Flow};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let out = Flow::from_iter(["1", "", "x", "4"])
    ///     .try_filter_map(
    ///         |s: &&str| if s.is_empty() { Ok(None) } else { s.parse::<u32>().map(Some) },
    ///         ErrorPolicy::skip(),
    ///     )
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(out, [1, 4]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_filter_map<U, E, F>(
        self,
        f: F,
        policy: ErrorPolicy<T>,
    ) -> Flow<TryFilterMap<S, F, T>>
    where
        F: FnMut(&T) -> Result<Option<U>, E>,
        E: std::error::Error + Send + Sync + 'static,
    {
        self.chain("try_filter_map", |stream, counters| {
            TryFilterMap::new(
                stream,
                FilterMapStep(f),
                PolicyHandler::new(policy, counters),
            )
        })
    }
}
