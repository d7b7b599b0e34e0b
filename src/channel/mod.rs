//! Channels between parts of a flow.
//!
//! [`StageConfig`] configures a stage boundary ([`Flow::stage`](crate::Flow::stage)): the upstream
//! part of a flow runs on its own tokio task and hands items over in batches through a bounded
//! queue, with an [`Overflow`] strategy for when it is full.
//!
//! [`side_output`] creates a bounded side output: a second flow that an operator feeds beside its
//! main output (late events, dead letters).

mod overflow;
pub(crate) mod queue;
mod side_output;

pub use overflow::{Overflow, StageConfig};
pub use side_output::{side_output, SideOutput, SideOutputSource};
