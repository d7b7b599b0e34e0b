//! User-defined operators: the [`Processor`] trait and the [`#[processor]`](macro@processor)
//! macro.
//!
//! A processor sees every item of a flow, one at a time, with a [`Context`] to emit any number of
//! outputs, read the watermark and the processing time, and set timers. It may keep state in
//! its own fields; [`Flow::process`](crate::Flow::process) saves that state (and the pending
//! timers) in every checkpoint of a [checkpointed](crate::Flow::checkpointed) flow, and restores
//! it on restart. Items are handled by a plain method call: nothing is boxed or allocated per
//! item.
//!
//! Write a processor with the macro, in one of three shapes:
//!
//! - on an impl block of a struct: the struct's fields are the state, the methods named after
//!   the hooks (`process`, `on_watermark`, `on_timer`, `open`, `close`) are the handlers;
//! - on a plain `fn` from an item to its output(s): a stateless processor, a unit struct named
//!   after the function in UpperCamelCase;
//! - on an `async fn`: an [`AsyncProcessor`], run with a concurrency limit by
//!   [`Flow::process_async`](crate::Flow::process_async).
//!
//! `#[processor(keyed)]` on an impl block writes a
//! [`KeyedProcessFunction`](crate::keyed::KeyedProcessFunction) instead, for a
//! [keyed flow](crate::keyed::KeyedFlow::process) with per-key state.
//!
//! # Examples
//!
//! A running deduplication: the struct is the state, checkpointed through serde.
//!
//! ```
//! use rheoflow::processor::{processor, Context};
//! use serde::{Deserialize, Serialize};
//! use std::collections::HashSet;
//!
//! #[derive(Default, Clone, Serialize, Deserialize)]
//! struct Dedup {
//!     seen: HashSet<String>,
//! }
//!
//! #[processor(name = "dedup")]
//! impl Dedup {
//!     fn process(&mut self, item: String, ctx: &mut Context<'_, String>) {
//!         if self.seen.insert(item.clone()) {
//!             ctx.emit(item);
//!         }
//!     }
//! }
//!
//! #[processor]
//! fn shout(word: String) -> String {
//!     word.to_uppercase()
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), rheoflow::Error> {
//! let words = ["a", "b", "a", "c", "b"].map(String::from);
//! let flow = rheoflow::Flow::from_iter(words).process(Dedup::default()).process(Shout);
//! assert_eq!(flow.metrics().snapshot().operators()[0].name(), "dedup");
//! assert_eq!(flow.collect::<Vec<_>>().await?, ["A", "B", "C"]);
//! # Ok(())
//! # }
//! ```
//!
//! A keyed processor keeps a state per key, created with `Default`, and sets timers per key;
//! [`state_ttl`](crate::keyed::KeyedFlow::state_ttl) frees the state of idle keys:
//!
//! ```
//! use rheoflow::keyed::KeyedContext;
//! use rheoflow::processor::processor;
//! use std::time::Duration;
//!
//! type Count = (String, u64);
//!
//! /// Emits each user's running count of clicks.
//! struct Clicks;
//!
//! #[processor(keyed)]
//! impl Clicks {
//!     fn process(&mut self, user: String, ctx: &mut KeyedContext<'_, String, u64, Count>) {
//!         *ctx.state() += 1;
//!         let count = *ctx.state();
//!         ctx.emit((user, count));
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), rheoflow::Error> {
//! let counts = rheoflow::Flow::from_iter(["ann", "bo", "ann"].map(String::from))
//!     .key_by(|user: &String| user.clone())
//!     .state_ttl(Duration::from_secs(3600))
//!     .process(Clicks)
//!     .collect::<Vec<_>>()
//!     .await?;
//! assert_eq!(counts[2], ("ann".to_string(), 2));
//! # Ok(())
//! # }
//! ```
//!
//! # Checkpointed state
//!
//! [`Flow::process`](crate::Flow::process) requires [`Snapshot`] as well as [`Processor`], so
//! that a processor in a checkpointed flow can never silently lose its state. The macro always
//! writes that impl, as the `state` option says:
//!
//! - by default the struct itself is the state: it must be `Clone + Serialize + Deserialize`,
//!   and a snapshot is a clone taken at the barrier. `version = N` and `migrate = path` version
//!   it (see [`Snapshot::VERSION`] and [`Snapshot::migrate`]);
//! - `state = none` declares the fields configuration, not state: nothing is saved (the state
//!   is `()`). A processor made from a `fn` is always so;
//! - `state = manual` writes no `Snapshot` impl: write your own, to save a smaller or
//!   differently shaped state.
//!
//! A processor written by hand implements both traits (see [`Processor`]); a stateless one
//! declares `type State = ();` with an empty `snapshot` and `restore`.
//!
//! The operator saves the processor's state and its pending timers under the operator's stable
//! id: its [name](crate::Flow::name), or the macro's `name` option. Name the processors of a flow
//! that will change between restarts.
//!
//! # Hygiene
//!
//! The generated code names everything by absolute path (`::rheoflow::…`). A crate that
//! renames `rheoflow` says so with `crate = "path"`:
//!
//! ```
//! extern crate rheoflow as flowlib;
//!
//! #[flowlib::processor::processor(crate = "flowlib")]
//! fn double(x: u64) -> u64 {
//!     x * 2
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), flowlib::Error> {
//! assert_eq!(flowlib::Flow::from_iter([1, 2]).process(Double).collect::<Vec<_>>().await?, [2, 4]);
//! # Ok(())
//! # }
//! ```
//!
//! [`Snapshot`]: crate::checkpoint::Snapshot
//! [`Snapshot::VERSION`]: crate::checkpoint::Snapshot::VERSION
//! [`Snapshot::migrate`]: crate::checkpoint::Snapshot::migrate

mod async_processor;
mod context;
pub(crate) mod state;

pub use self::async_processor::AsyncProcessor;
pub use self::context::Context;
pub(crate) use self::context::Timers;
pub use crate::keyed::{TimeDomain, Timer};

/// Turns a struct and impl block, a `fn` or an `async fn` into a stream processor.
///
/// See the [module documentation](self) for the shapes it takes and examples; the options, in
/// `#[processor(option, …)]`:
///
/// | option | applies to | meaning |
/// | --- | --- | --- |
/// | `name = "dedup"` | impl, `fn`, `async fn` | the operator's stable name ([`Processor::NAME`]) |
/// | `version = 2` | impl | the version of the saved state ([`Snapshot::VERSION`]) |
/// | `migrate = path::to_fn` | impl, `version` ≥ 2 | reads old states ([`Snapshot::migrate`]) |
/// | `state = none` / `state = manual` | impl | save nothing / write `Snapshot` yourself |
/// | `keyed` | impl | implement [`KeyedProcessFunction`](crate::keyed::KeyedProcessFunction) |
/// | `crate = "path"` | all | where `rheoflow` is, when renamed |
///
/// The handlers of an impl block, by name (other methods are left alone):
///
/// | handler | signature (`ctx` is optional except in `process`) |
/// | --- | --- |
/// | `process` | `fn process(&mut self, item: In, ctx: &mut Context<'_, Out>)` |
/// | `on_watermark` | `fn on_watermark(&mut self, wm: Timestamp, ctx: &mut Context<'_, Out>)` |
/// | `on_timer` | `fn on_timer(&mut self, timer: Timer, ctx: &mut Context<'_, Out>)` |
/// | `open` | `fn open(&mut self, ctx: &mut Context<'_, Out>)` |
/// | `close` | `fn close(&mut self, ctx: &mut Context<'_, Out>)` |
///
/// With `keyed`, only `process` and `on_timer`, each with a
/// `ctx: &mut KeyedContext<'_, Key, State, Out>`.
///
/// A `fn` takes the item and returns its output: a value is one output; an `Option<Out>` or a
/// `Vec<Out>` (anything iterable, spelled `Option<…>` or `Vec<…>`) is zero or more. Or it takes
/// `(item: In, ctx: &mut Context<'_, Out>)` and returns nothing.
///
/// # Examples
///
/// ```
/// use rheoflow::processor::processor;
///
/// #[processor]
/// fn words(line: String) -> Vec<String> {
///     line.split_whitespace().map(String::from).collect()
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let lines = ["a b", "", "c"].map(String::from);
/// let words = rheoflow::Flow::from_iter(lines).process(Words).collect::<Vec<_>>().await?;
/// assert_eq!(words, ["a", "b", "c"]);
/// # Ok(())
/// # }
/// ```
///
/// [`Snapshot::VERSION`]: crate::checkpoint::Snapshot::VERSION
/// [`Snapshot::migrate`]: crate::checkpoint::Snapshot::migrate
pub use rheoflow_macros::processor;

use crate::Timestamp;

/// A user operator: handles the items of a flow one at a time, with hooks for watermarks,
/// timers, and the start and end of its input.
///
/// Run it with [`Flow::process`](crate::Flow::process), which also requires [`Snapshot`] so
/// that its state survives a restart of a checkpointed flow. Most processors are written with
/// the [`#[processor]`](macro@processor) macro, which implements both traits; this is the trait
/// it implements.
///
/// The operator calls the hooks in this order:
///
/// 1. [`open`](Processor::open), on the first poll, after the state and timers were restored
///    from a checkpoint;
/// 2. [`process`](Processor::process) for every item;
/// 3. for a watermark `W` greater than the last: [`on_timer`](Processor::on_timer) for every
///    event-time timer at or before `W`, in time order, then
///    [`on_watermark`](Processor::on_watermark); the watermark is passed on after their outputs;
/// 4. [`on_timer`](Processor::on_timer) for a processing-time timer once tokio's clock reaches
///    it, between two items;
/// 5. [`close`](Processor::close) at the end of input, before the end is passed on. A flow that
///    fails or is cut off does not close its processors. Processing-time timers still pending
///    then are dropped, as in Flink; event-time timers fire first if the flow's watermarks
///    reach [`Timestamp::MAX`] at the end (as [`Flow::watermarks`](crate::Flow::watermarks)
///    does).
///
/// # Examples
///
/// A processor by hand, with an event-time timer: sum the items and emit the sum once the
/// watermark passes a deadline.
///
/// ```
/// use rheoflow::checkpoint::Snapshot;
/// use rheoflow::processor::{Context, Processor, Timer};
/// use rheoflow::time::WatermarkStrategy;
/// use rheoflow::{Flow, Timestamp};
///
/// #[derive(Debug, Default)]
/// struct SumUntil {
///     sum: i64,
/// }
///
/// impl Processor for SumUntil {
///     type In = i64;
///     type Out = i64;
///
///     fn open(&mut self, ctx: &mut Context<'_, i64>) {
///         ctx.set_event_timer(Timestamp::from_millis(10));
///     }
///
///     fn process(&mut self, item: i64, _ctx: &mut Context<'_, i64>) {
///         self.sum += item;
///     }
///
///     fn on_timer(&mut self, _timer: Timer, ctx: &mut Context<'_, i64>) {
///         ctx.emit(self.sum);
///     }
/// }
///
/// impl Snapshot for SumUntil {
///     type State = i64;
///
///     fn snapshot(&self) -> i64 {
///         self.sum
///     }
///
///     fn restore(&mut self, sum: i64) {
///         self.sum = sum;
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let sums = Flow::from_iter([1, 5, 10, 12, 30])
///     .watermarks(|ts| Timestamp::from_millis(*ts), WatermarkStrategy::monotonic())
///     .process(SumUntil::default())
///     .collect::<Vec<_>>()
///     .await?;
/// // The watermark passes 10 after the item 12 (it trails the greatest timestamp by 1 ms).
/// assert_eq!(sums, [28]);
/// # Ok(())
/// # }
/// ```
///
/// [`Snapshot`]: crate::checkpoint::Snapshot
pub trait Processor {
    /// The items it takes.
    type In;
    /// What it emits.
    type Out;

    /// The operator's stable name (for metrics, tracing and checkpoint ids), if it has one:
    /// [`Flow::process`](crate::Flow::process) names the operator with it. `None`, the
    /// default, keeps the default name `"process-{position}"`.
    const NAME: Option<&'static str> = None;

    /// Handles one item.
    fn process(&mut self, item: Self::In, ctx: &mut Context<'_, Self::Out>);

    /// Called once the watermark advances to `watermark`, after the event-time timers it
    /// fired. The default does nothing.
    fn on_watermark(&mut self, watermark: Timestamp, ctx: &mut Context<'_, Self::Out>) {
        let _ = (watermark, ctx);
    }

    /// Handles a timer that fired. The default does nothing.
    fn on_timer(&mut self, timer: Timer, ctx: &mut Context<'_, Self::Out>) {
        let _ = (timer, ctx);
    }

    /// Called before the first item, after the state was restored. The default does nothing.
    fn open(&mut self, ctx: &mut Context<'_, Self::Out>) {
        let _ = ctx;
    }

    /// Called at the end of input, before the end is passed on; what it emits goes out first.
    /// The default does nothing.
    fn close(&mut self, ctx: &mut Context<'_, Self::Out>) {
        let _ = ctx;
    }
}
