//! Procedural macros for [rheoflow](https://docs.rs/rheoflow).
//!
//! This crate is re-exported by `rheoflow`; depend on `rheoflow` rather than on it directly. It
//! will hold `#[processor]`, which turns a plain struct and impl block, or a plain function, into a
//! stateful stream processor.
