//! The [`AsyncProcessor`] trait: one async call per item, run with a concurrency limit.

use std::future::Future;

/// A user operator that makes one async call per item: a lookup, an enrichment, a write.
///
/// Run it with [`Flow::process_async`](crate::Flow::process_async), which keeps up to `limit`
/// calls in flight and passes their results on in input order (like
/// [`Flow::map_async`](crate::Flow::map_async)). The future a call returns must not borrow the
/// processor: clone what it needs (an `Arc` client, a
/// [`RetryPolicy`](crate::resilience::RetryPolicy), a
/// [`CircuitBreaker`](crate::resilience::CircuitBreaker)) into it.
///
/// `#[processor]` on an `async fn` implements this trait for a unit struct named after the
/// function. Such a future cannot be named on stable Rust, so the generated impl boxes it: one
/// allocation per call, next to the one every call in flight costs anyway. A hand-written impl
/// names its future and boxes nothing; and the `async fn` itself stays callable, so
/// `flow.map_async(limit, enrich)` is the box-free spelling of `flow.process_async(Enrich, limit)`.
///
/// Async processors keep no checkpointed state: a call's effects live in the service it calls.
///
/// # Examples
///
/// By hand, with a named future:
///
/// ```
/// use rheoflow::processor::AsyncProcessor;
/// use std::future::{ready, Ready};
///
/// #[derive(Debug)]
/// struct Double;
///
/// impl AsyncProcessor for Double {
///     type In = u32;
///     type Out = u32;
///     type Future = Ready<u32>;
///
///     fn call(&mut self, item: u32) -> Ready<u32> {
///         ready(item * 2)
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let out = rheoflow::Flow::from_iter([1, 2, 3])
///     .process_async(Double, 2)
///     .collect::<Vec<_>>()
///     .await?;
/// assert_eq!(out, [2, 4, 6]);
/// # Ok(())
/// # }
/// ```
///
/// With the macro (see [`processor`](macro@super::processor)):
///
/// ```
/// use rheoflow::processor::processor;
/// use std::time::Duration;
///
/// #[processor(name = "lookup")]
/// async fn lookup(id: u32) -> String {
///     tokio::time::sleep(Duration::from_millis(10)).await;
///     format!("user-{id}")
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let names = rheoflow::Flow::from_iter([7, 8])
///     .process_async(Lookup, 4)
///     .collect::<Vec<_>>()
///     .await?;
/// assert_eq!(names, ["user-7", "user-8"]);
/// # Ok(())
/// # }
/// ```
pub trait AsyncProcessor {
    /// The items it takes.
    type In;
    /// What each call yields, passed on as one output.
    type Out;
    /// The future of one call.
    type Future: Future<Output = Self::Out>;

    /// The operator's stable name (for metrics and tracing), if it has one; the flow names the
    /// operator with it. `None` keeps the default name, `"process_async-{position}"`.
    const NAME: Option<&'static str> = None;

    /// Starts the call for `item`.
    fn call(&mut self, item: Self::In) -> Self::Future;
}
