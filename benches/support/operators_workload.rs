//! The stateless chain workload shared by `benches/operators.rs` and
//! `examples/operators_throughput.rs`: `map` → `filter` → sum, through a `Flow`, through the same
//! chain written with `futures::StreamExt`, and as a plain `for` loop.

#![allow(dead_code)]

use futures::executor::block_on;
use futures::StreamExt;
use rheoflow::Flow;

pub(crate) fn flow_chain(n: u64) -> u64 {
    let mut sum = 0u64;
    block_on(
        Flow::from_iter(0..n)
            .map(|x: u64| x.wrapping_mul(3))
            .filter(|x| x % 5 != 0)
            .for_each(|x| sum = sum.wrapping_add(x)),
    )
    .expect("the flow does not fail");
    sum
}

pub(crate) fn stream_ext_chain(n: u64) -> u64 {
    let mut sum = 0u64;
    block_on(
        futures::stream::iter(0..n)
            .map(|x: u64| x.wrapping_mul(3))
            .filter(|x| futures::future::ready(x % 5 != 0))
            .for_each(|x| {
                sum = sum.wrapping_add(x);
                futures::future::ready(())
            }),
    );
    sum
}

pub(crate) fn plain_loop(n: u64) -> u64 {
    let mut sum = 0u64;
    for x in 0..n {
        let x = x.wrapping_mul(3);
        if x % 5 != 0 {
            sum = sum.wrapping_add(x);
        }
    }
    sum
}
