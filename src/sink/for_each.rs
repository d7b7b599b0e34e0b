use std::fmt;

use super::Sink;
use crate::error::SinkError;

/// A sink that calls a function with every item.
///
/// # Examples
///
/// ```
/// use rheoflow::{sink::ForEach, Flow};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let (tx, rx) = std::sync::mpsc::channel();
/// Flow::from_iter([1, 2]).send_to(ForEach::new(move |x| tx.send(x).unwrap())).await?;
/// assert_eq!(rx.iter().collect::<Vec<_>>(), [1, 2]);
/// # Ok(())
/// # }
/// ```
pub struct ForEach<F> {
    f: F,
}

impl<F> ForEach<F> {
    /// Creates a sink that calls `f` with every item.
    pub fn new(f: F) -> Self {
        ForEach { f }
    }
}

impl<F> fmt::Debug for ForEach<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForEach").finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl<T, F> Sink<T> for ForEach<F>
where
    T: Send + 'static,
    F: FnMut(T) + Send,
{
    async fn write(&mut self, batch: &mut Vec<T>) -> Result<(), SinkError> {
        batch.drain(..).for_each(&mut self.f);
        Ok(())
    }
}
