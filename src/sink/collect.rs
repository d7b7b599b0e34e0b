use super::Sink;
use crate::error::SinkError;

/// A sink that keeps every item in memory, in order.
///
/// # Examples
///
/// ```
/// use rheoflow::{sink::Collect, Flow};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let sink = Flow::from_iter(["a", "b"]).send_to(Collect::new()).await?;
/// assert_eq!(sink.items(), ["a", "b"]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Collect<T> {
    items: Vec<T>,
}

impl<T> Collect<T> {
    /// Creates an empty collecting sink.
    pub fn new() -> Self {
        Collect { items: Vec::new() }
    }

    /// The items received so far.
    pub fn items(&self) -> &[T] {
        &self.items
    }

    /// Returns the items received.
    pub fn into_inner(self) -> Vec<T> {
        self.items
    }
}

impl<T> Default for Collect<T> {
    fn default() -> Self {
        Collect::new()
    }
}

#[async_trait::async_trait]
impl<T: Send + 'static> Sink<T> for Collect<T> {
    async fn write(&mut self, batch: &mut Vec<T>) -> Result<(), SinkError> {
        self.items.append(batch);
        Ok(())
    }
}
