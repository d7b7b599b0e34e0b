//! rheoflow: async, reactive stream processing for tokio services.
//!
//! A [`Flow`] is a typed dataflow built from plain [`futures::Stream`](futures_core::Stream)
//! combinators: chain operators as methods, run it inside your own tokio service, and get a plain
//! `Stream` back whenever you need one. Between operators travel [`Message`]s: data items and, in
//! band, the control messages (watermarks, checkpoint barriers, end of input, failure) that give a
//! flow event time and consistent checkpoints.
//!
//! # Quick start
//!
//! Parse lines, send the bad ones to a dead-letter flow, and sum the good ones:
//!
//! ```
//! use rheoflow::prelude::*;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), rheoflow::Error> {
//! let lines = ["12", "7", "oops", "30"];
//! let (dead_letters, dead) = error_policy::channel(64)?;
//!
//! let total = Flow::from_iter(lines)
//!     .try_map(|line: &&str| line.parse::<u64>(), ErrorPolicy::dead_letter(dead_letters))
//!     .filter(|n| *n > 10)
//!     .map(|n| n * 2)
//!     .collect::<Vec<_>>();
//! let (total, dead) = tokio::join!(total, dead.collect::<Vec<_>>());
//!
//! assert_eq!(total?, [24, 60]);
//! assert_eq!(dead?[0].record(), &"oops");
//! # Ok(())
//! # }
//! ```
//!
//! # Design
//!
//! - Every operator is a concrete, monomorphized `Stream` adapter; a chain compiles to one loop
//!   with no boxing, locking or allocation per item.
//! - Control messages pass every operator in order: no operator reorders data past a watermark or
//!   a barrier.
//! - Bad input never crashes a pipeline: fallible steps take an [`ErrorPolicy`] (skip and count,
//!   dead-letter, or fail with a typed error), and panics in user closures go to the same policy.
//! - Processing time reads tokio's clock ([`time::Clock`]), so tests run under paused time.
//!
//! # Map of the crate
//!
//! - Event time and windows: [`Flow::watermarks`], [`Flow::key_by`] and [`keyed`], [`window`],
//!   [`aggregate`]. Windows follow Flink's semantics exactly (see [`window`] for the fine print,
//!   and where a sliding window's order-sensitive functions differ).
//! - Parallelism and backpressure: [`Flow::stage`], [`keyed::KeyedFlow::parallel`],
//!   [`Flow::union`], [`Flow::broadcast`], [`Flow::route`], configured by
//!   [`channel::StageConfig`]; every queue is bounded.
//! - Errors and bad input: [`error_policy`], [`error`].
//! - Shutdown: [`Flow::stop_on`] with a [`CancellationToken`].
//! - Observability: [`metrics`] (a snapshot struct; the `metrics` feature publishes it through
//!   the `metrics` crate) and `tracing` spans on spawned tasks.
//!
//! Watermarks are never reordered past data, but an operator may merge consecutive watermarks
//! with no output between them into the last one: the later watermark implies the earlier.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod aggregate;
pub mod channel;
pub mod checkpoint;
pub mod error;
pub mod error_policy;
mod flow;
pub mod keyed;
mod message;
pub mod metrics;
pub mod operators;
pub mod processor;
pub mod resilience;
pub mod sink;
pub mod source;
pub mod supervision;
pub mod time;
pub mod window;

pub use error::Error;
pub use error_policy::ErrorPolicy;
pub use flow::{Flow, FlowTask};
pub use message::{Barrier, Control, Message};
pub use operators::Shutdown;
pub use sink::Sink;
pub use time::Timestamp;
/// The cancellation token of [`Flow::stop_on`], re-exported from `tokio-util`.
pub use tokio_util::sync::CancellationToken;

/// The items most flows need: `use rheoflow::prelude::*;`.
pub mod prelude {
    pub use crate::error_policy::{self, ErrorPolicy};
    pub use crate::sink::{self, Sink};
    pub use crate::source;
    pub use crate::{Control, Error, Flow, Message, Timestamp};
}
