//! `#[processor]` expands to code that means the same whatever is in scope: the crate renamed
//! with `crate = "…"`, and user types named like the standard ones (`Result`, `Option`, `Box`,
//! `Clone`, `u32`, …), under `#![deny(warnings)]`.

#![deny(warnings)]
// The point of this file: user items named like the prelude's and the primitives.
#![allow(non_camel_case_types, dead_code)]

extern crate rheoflow as flowlib;

use flowlib::checkpoint::{self, Snapshot, StateError};
use flowlib::keyed::KeyedContext;
use flowlib::processor::{processor, Context, Processor, Timer};
use flowlib::{Flow, Timestamp};
use serde::{Deserialize, Serialize};

// Local items named like the ones the generated code uses.
struct Result;
struct Option;
struct Box;
struct Some;
struct None;
struct Ok;
struct Err;
struct Vec;
struct Clone;
struct Default;
struct Send;
struct Future;
struct Pin;
struct u8;
struct u32;
struct str;
mod core {}
mod std {}

type StdResult<T, E> = ::core::result::Result<T, E>;
type StdOption<T> = ::core::option::Option<T>;

#[derive(::core::clone::Clone, ::core::default::Default, Serialize, Deserialize)]
struct Dedup {
    seen: ::std::collections::BTreeSet<::core::primitive::u64>,
    last: StdOption<::core::primitive::u64>,
}

fn migrate_dedup(
    version: ::core::primitive::u32,
    _bytes: &[::core::primitive::u8],
) -> StdResult<Dedup, StateError> {
    StdResult::Err(StateError::IncompatibleVersion {
        found: version,
        supported: 2,
    })
}

#[processor(crate = "flowlib", name = "dedup", version = 2, migrate = migrate_dedup)]
impl Dedup {
    fn open(&mut self) {}

    fn process(
        &mut self,
        item: ::core::primitive::u64,
        ctx: &mut Context<'_, ::core::primitive::u64>,
    ) {
        if self.seen.insert(item) {
            ctx.emit(item);
        }
        ctx.set_event_timer(Timestamp::MAX);
    }

    fn on_watermark(&mut self, _watermark: Timestamp) {}

    fn on_timer(&mut self, _timer: Timer, ctx: &mut Context<'_, ::core::primitive::u64>) {
        ctx.emit(0);
    }

    fn close(&mut self, ctx: &mut Context<'_, ::core::primitive::u64>) {
        ctx.emit(::core::primitive::u64::MAX);
    }
}

#[derive(::core::clone::Clone, Serialize, Deserialize)]
struct Config;

#[processor(crate = "::flowlib", state = none)]
impl Config {
    fn process(
        &mut self,
        item: ::core::primitive::u64,
        ctx: &mut Context<'_, ::core::primitive::u64>,
    ) {
        ctx.emit(item);
    }
}

struct Manual;

#[processor(crate = "flowlib", state = manual)]
impl Manual {
    fn process(
        &mut self,
        item: ::core::primitive::u64,
        ctx: &mut Context<'_, ::core::primitive::u64>,
    ) {
        ctx.emit(item);
    }
}

impl Snapshot for Manual {
    type State = ();

    fn snapshot(&self) {}

    fn restore(&mut self, (): ()) {}
}

struct FirstPerKey;

#[processor(crate = "flowlib", keyed)]
impl FirstPerKey {
    fn process(
        &mut self,
        item: ::core::primitive::u64,
        ctx: &mut KeyedContext<'_, bool, bool, ::core::primitive::u64>,
    ) {
        if !*ctx.state() {
            *ctx.state() = true;
            ctx.emit(item);
        }
    }

    fn on_timer(&mut self, _timer: Timer) {}
}

#[processor(crate = "flowlib")]
fn halve(x: ::core::primitive::u64) -> ::core::primitive::u64 {
    x / 2
}

#[processor(crate = "flowlib", name = "evens")]
fn evens(x: ::core::primitive::u64) -> ::core::option::Option<::core::primitive::u64> {
    (x % 2 == 0).then_some(x)
}

#[processor(crate = "flowlib")]
fn twice(x: ::core::primitive::u64) -> ::std::vec::Vec<::core::primitive::u64> {
    ::std::vec![x, x]
}

#[processor(crate = "flowlib")]
fn emit_all(x: ::core::primitive::u64, ctx: &mut Context<'_, ::core::primitive::u64>) {
    ctx.emit(x);
}

#[processor(crate = "flowlib")]
async fn later(x: ::core::primitive::u64) -> ::core::primitive::u64 {
    x + 1
}

#[tokio::test]
async fn generated_code_ignores_what_is_in_scope() -> StdResult<(), flowlib::Error> {
    let out = Flow::from_iter([4, 4, 6, 7])
        .process(Dedup::default())
        .process(Config)
        .process(Manual)
        .process(Halve)
        .process(Evens)
        .process(Twice)
        .process(EmitAll)
        .process_async(Later, 2)
        .collect::<::std::vec::Vec<_>>()
        .await?;
    // 4, 6, 7 pass the dedup, then its closing `u64::MAX`; once halved only 2 is even.
    assert_eq!(out, [3, 3]);

    let firsts = Flow::from_iter([1u64, 2, 3])
        .key_by(|x| x % 2 == 0)
        .process(FirstPerKey)
        .collect::<::std::vec::Vec<_>>()
        .await?;
    assert_eq!(firsts, [1, 2]);

    assert_eq!(<Dedup as Processor>::NAME, StdOption::Some("dedup"));
    assert_eq!(<Dedup as Snapshot>::VERSION, 2);
    let bytes = checkpoint::encode(&Dedup::default()).expect("the state encodes");
    assert_eq!(bytes[..4], 2u32.to_le_bytes());
    StdResult::Ok(())
}
