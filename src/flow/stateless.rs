//! Stateless operators: one item in, zero or more items out, control messages passed through.

use futures_core::Stream;

use super::Flow;
use crate::operators::{Filter, FilterMap, FlatMap, Inspect, Map, Scan, SkipWhile, TakeWhile};
use crate::Message;

impl<S, T> Flow<S>
where
    S: Stream<Item = Message<T>>,
{
    /// Transforms every item with `f`.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let out = Flow::from_iter([1, 2, 3]).map(|x| x * 10).collect::<Vec<_>>().await?;
    /// assert_eq!(out, [10, 20, 30]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn map<U, F>(self, f: F) -> Flow<Map<S, F>>
    where
        F: FnMut(T) -> U,
    {
        self.chain("map", |stream, _| Map::new(stream, f))
    }

    /// Keeps the items for which `predicate` returns `true`.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let even = Flow::from_iter(1..=6).filter(|x| x % 2 == 0).collect::<Vec<_>>().await?;
    /// assert_eq!(even, [2, 4, 6]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn filter<P>(self, predicate: P) -> Flow<Filter<S, P>>
    where
        P: FnMut(&T) -> bool,
    {
        self.chain("filter", |stream, _| Filter::new(stream, predicate))
    }

    /// Transforms every item with `f` and keeps the `Some` results.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let out = Flow::from_iter(["1", "x", "3"])
    ///     .filter_map(|s| s.parse::<u32>().ok())
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(out, [1, 3]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn filter_map<U, F>(self, f: F) -> Flow<FilterMap<S, F>>
    where
        F: FnMut(T) -> Option<U>,
    {
        self.chain("filter_map", |stream, _| FilterMap::new(stream, f))
    }

    /// Transforms every item into an iterator and yields all of their items.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let words = Flow::from_iter(["a b", "c"])
    ///     .flat_map(|line| line.split(' '))
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(words, ["a", "b", "c"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn flat_map<I, F>(self, f: F) -> Flow<FlatMap<S, F, I::IntoIter>>
    where
        F: FnMut(T) -> I,
        I: IntoIterator,
    {
        self.chain("flat_map", |stream, _| FlatMap::new(stream, f))
    }

    /// Calls `f` with a reference to every item and passes the item on.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let mut seen = 0;
    /// let out = Flow::from_iter([1, 2]).inspect(|_| seen += 1).collect::<Vec<_>>().await?;
    /// assert_eq!((out, seen), (vec![1, 2], 2));
    /// # Ok(())
    /// # }
    /// ```
    pub fn inspect<F>(self, f: F) -> Flow<Inspect<S, F>>
    where
        F: FnMut(&T),
    {
        self.chain("inspect", |stream, _| Inspect::new(stream, f))
    }

    /// Transforms every item with `f`, which also gets mutable access to a state that starts as
    /// `initial`: a map with memory.
    ///
    /// The state belongs to this operator alone; for per-key state use a keyed flow.
    ///
    /// # Examples
    ///
    /// Running totals:
    ///
    /// ```
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let totals = Flow::from_iter([1, 2, 3])
    ///     .scan(0, |total, x| {
    ///         *total += x;
    ///         *total
    ///     })
    ///     .collect::<Vec<_>>()
    ///     .await?;
    /// assert_eq!(totals, [1, 3, 6]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn scan<St, U, F>(self, initial: St, f: F) -> Flow<Scan<S, St, F>>
    where
        F: FnMut(&mut St, T) -> U,
    {
        self.chain("scan", |stream, _| Scan::new(stream, initial, f))
    }

    /// Passes items on while `predicate` returns `true`; the first item for which it returns
    /// `false` ends the input (downstream sees [`Control::End`](crate::Control::End) there).
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let out = Flow::from_iter([1, 2, 5, 1]).take_while(|x| *x < 3).collect::<Vec<_>>().await?;
    /// assert_eq!(out, [1, 2]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn take_while<P>(self, predicate: P) -> Flow<TakeWhile<S, P>>
    where
        P: FnMut(&T) -> bool,
    {
        self.chain("take_while", |stream, _| TakeWhile::new(stream, predicate))
    }

    /// Drops items while `predicate` returns `true`, then passes every item on.
    ///
    /// Control messages pass through while items are skipped.
    ///
    /// # Examples
    ///
    /// ```
    /// use rheoflow::Flow;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rheoflow::Error> {
    /// let out = Flow::from_iter([1, 2, 5, 1]).skip_while(|x| *x < 3).collect::<Vec<_>>().await?;
    /// assert_eq!(out, [5, 1]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn skip_while<P>(self, predicate: P) -> Flow<SkipWhile<S, P>>
    where
        P: FnMut(&T) -> bool,
    {
        self.chain("skip_while", |stream, _| SkipWhile::new(stream, predicate))
    }
}
