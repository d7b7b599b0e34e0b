//! Channels between parts of a flow.
//!
//! [`side_output`] creates a bounded side output: a second flow that an operator feeds beside its
//! main output (late events, dead letters).

mod side_output;

pub use side_output::{side_output, SideOutput, SideOutputSource};
