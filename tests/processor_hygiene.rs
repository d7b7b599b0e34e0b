//! `#[processor]` expands to code that means the same whatever is in scope: the crate renamed
//! with `crate = "…"`, and user types named like the standard ones (`Result`, `Option`, `Box`,
//! `Clone`, `u32`, …), under `#![deny(warnings)]`.

#![deny(warnings)]
// The point of this file: user items named like the prelude's and the primitives.
#![allow(non_camel_case_types, dead_code)]

extern crate rheoflow as flowlib;

use serde::{Deserialize, Serialize};

// The processors' structs are defined here, outside the shadowing module: serde's derives are
// not hygienic against a local `str` or `u8`.

#[derive(Clone, Default, Serialize, Deserialize)]
struct Dedup {
    seen: std::collections::BTreeSet<u64>,
}

#[derive(Clone, Serialize, Deserialize)]
struct Config;

struct Manual;

struct FirstPerKey;

/// The processors, where local items shadow the standard names.
mod shadowed {
    use super::{Config, Dedup, FirstPerKey, Manual};
    use flowlib::checkpoint::{self, Snapshot, StateError};
    use flowlib::keyed::KeyedContext;
    use flowlib::processor::{processor, Context, Processor, Timer};
    use flowlib::{Flow, Timestamp};

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
    struct Iterator;
    struct IntoIterator;
    struct u8;
    struct u32;
    struct u64;
    struct str;
    mod core {}
    mod std {}

    type Item = ::core::primitive::u64;
    type StdResult<T, E> = ::core::result::Result<T, E>;
    type StdOption<T> = ::core::option::Option<T>;

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

        fn process(&mut self, item: Item, ctx: &mut Context<'_, Item>) {
            if self.seen.insert(item) {
                ctx.emit(item);
            }
            ctx.set_event_timer(Timestamp::MAX);
        }

        fn on_watermark(&mut self, _watermark: Timestamp) {}

        fn on_timer(&mut self, _timer: Timer, ctx: &mut Context<'_, Item>) {
            ctx.emit(0);
        }

        fn close(&mut self, ctx: &mut Context<'_, Item>) {
            ctx.emit(Item::MAX);
        }
    }

    #[processor(crate = "::flowlib", state = none)]
    impl Config {
        fn process(&mut self, item: Item, ctx: &mut Context<'_, Item>) {
            ctx.emit(item);
        }
    }

    #[processor(crate = "flowlib", state = manual)]
    impl Manual {
        fn process(&mut self, item: Item, ctx: &mut Context<'_, Item>) {
            ctx.emit(item);
        }
    }

    impl Snapshot for Manual {
        type State = ();

        fn snapshot(&self) {}

        fn restore(&mut self, (): ()) {}
    }

    #[processor(crate = "flowlib", keyed)]
    impl FirstPerKey {
        fn process(&mut self, item: Item, ctx: &mut KeyedContext<'_, bool, bool, Item>) {
            if !*ctx.state() {
                *ctx.state() = true;
                ctx.emit(item);
            }
        }

        fn on_timer(&mut self, _timer: Timer) {}
    }

    #[processor(crate = "flowlib")]
    fn halve(x: Item) -> Item {
        x / 2
    }

    #[processor(crate = "flowlib", name = "evens")]
    fn evens(x: Item) -> ::core::option::Option<Item> {
        x.is_multiple_of(2).then_some(x)
    }

    #[processor(crate = "flowlib")]
    fn twice(x: Item) -> ::std::vec::Vec<Item> {
        ::std::vec![x, x]
    }

    #[processor(crate = "flowlib")]
    fn emit_all(x: Item, ctx: &mut Context<'_, Item>) {
        ctx.emit(x);
    }

    #[processor(crate = "flowlib")]
    async fn later(x: Item) -> Item {
        x + 1
    }

    #[::tokio::test]
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

        let firsts = Flow::from_iter([1, 2, 3])
            .key_by(|x| x % 2 == 0)
            .process(FirstPerKey)
            .collect::<::std::vec::Vec<_>>()
            .await?;
        assert_eq!(firsts, [1, 2]);

        assert_eq!(<Dedup as Processor>::NAME, StdOption::Some("dedup"));
        assert_eq!(<Evens as Processor>::NAME, StdOption::Some("evens"));
        assert_eq!(<Dedup as Snapshot>::VERSION, 2);
        let bytes = checkpoint::encode(&Dedup::default()).expect("the state encodes");
        assert_eq!(bytes[..4], 2u32.to_le_bytes());
        let mut dedup = Dedup::default();
        let older = checkpoint::encode_versioned(1, &()).expect("encodes");
        assert!(checkpoint::decode(&mut dedup, &older).is_err());
        StdResult::Ok(())
    }
}
