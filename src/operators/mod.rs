//! The operators' stream types, one per file, each named after its [`Flow`](crate::Flow) method.
//!
//! Users rarely name these types, except to store a flow in a struct field.

mod filter;
mod filter_map;
mod flat_map;
mod inspect;
mod into_stream;
mod map;
mod scan;
mod skip_while;
mod take_while;
mod try_filter_map;
mod try_map;

pub use filter::Filter;
pub use filter_map::FilterMap;
pub use flat_map::FlatMap;
pub use inspect::Inspect;
pub use into_stream::{IntoStream, IntoTryStream};
pub use map::Map;
pub use scan::Scan;
pub use skip_while::SkipWhile;
pub use take_while::TakeWhile;
pub use try_filter_map::{FilterMapStep, TryFilterMap};
pub use try_map::{Fallible, MapStep, TryMap, TryStep};
