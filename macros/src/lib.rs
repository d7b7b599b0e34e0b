//! Procedural macros for [rheoflow](https://docs.rs/rheoflow).
//!
//! This crate is re-exported by `rheoflow`; depend on `rheoflow` rather than on it directly.
//! It holds `#[processor]`, which turns a plain struct and impl block, or a plain (async)
//! function, into a stream processor. Its documentation, with examples, is at
//! `rheoflow::processor`.
//!
//! The entry points are here; `options.rs` reads the attribute's arguments, `parse.rs` checks
//! the annotated item and `expand.rs` writes the trait impls.

mod expand;
mod options;
mod parse;

use proc_macro::TokenStream;

/// Turns a struct and impl block, a `fn` or an `async fn` into a stream processor.
///
/// ```text
/// #[processor]
/// impl Dedup { fn process(&mut self, item: In, ctx: &mut Context<'_, Out>) { … } }
///
/// #[processor(keyed)]
/// impl Dedup { fn process(&mut self, item: In, ctx: &mut KeyedContext<'_, K, S, Out>) { … } }
///
/// #[processor]
/// fn parse(line: String) -> Option<Event> { … }      // makes `struct Parse`
///
/// #[processor]
/// async fn enrich(order: Order) -> Enriched { … }    // makes `struct Enrich`
///
/// options: name = "…", version = N, migrate = path::to_fn, state = none | manual, keyed,
///          crate = "path"
/// ```
///
/// See `rheoflow::processor` for the full reference and runnable examples.
#[proc_macro_attribute]
pub fn processor(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::processor(args.into(), item.into()).into()
}
