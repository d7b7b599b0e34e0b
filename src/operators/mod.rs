//! The operators' stream types, one per file, each named after its [`Flow`](crate::Flow) method.
//!
//! Users rarely name these types, except to store a flow in a struct field.

mod batch;
mod broadcast;
mod checkpointed;
mod deadline;
mod fan_in;
mod fan_out;
mod filter;
mod filter_map;
mod flat_map;
mod inspect;
mod into_stream;
mod keyed_process;
mod map;
mod map_async;
mod map_async_unordered;
mod parallel;
mod processor;
mod route;
mod scan;
mod skip_while;
mod stage;
mod stop_on;
mod take_while;
mod throttle;
pub(crate) mod timer;
mod try_filter_map;
mod try_map;
mod union;
mod watermarks;
mod window;

pub use batch::Batch;
pub use broadcast::Broadcast;
pub use checkpointed::Checkpointed;
pub use deadline::Deadline;
pub use filter::Filter;
pub use filter_map::FilterMap;
pub use flat_map::FlatMap;
pub use inspect::Inspect;
pub use into_stream::{IntoStream, IntoTryStream};
pub use keyed_process::KeyedProcess;
pub use map::Map;
pub use map_async::MapAsync;
pub use map_async_unordered::MapAsyncUnordered;
pub use parallel::Parallel;
pub use processor::{Process, ProcessAsync};
pub use route::{Route, RouteError};
pub use scan::Scan;
pub use skip_while::SkipWhile;
pub use stage::{Receiver, Stage};
pub use stop_on::{Shutdown, StopOn};

pub(crate) use parallel::Launch;
pub(crate) use stage::produce;
pub use take_while::TakeWhile;
pub use throttle::Throttle;
pub use try_filter_map::{FilterMapStep, TryFilterMap};
pub use try_map::{Fallible, MapStep, TryMap, TryStep};
pub use union::Union;
pub use watermarks::Watermarks;
pub use window::{KeyedWindow, NoTime, Stamp};

pub(crate) use window::{LateHandler, TimeMode};
