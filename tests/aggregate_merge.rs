//! The `Aggregator` merge law for every built-in and for tuples: adding all items to one
//! accumulator gives the same result as adding a prefix to one, the rest to another, and merging
//! them (the later into the earlier). Merging is associative, an empty accumulator is neutral on
//! either side, and reading a result leaves the accumulator usable.

use std::fmt::Debug;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rheoflow::aggregate::{Aggregator, Collect, Count, First, Last, Max, Mean, Min, Sum};

fn filled<T, A: Aggregator<T>>(agg: &A, items: &[T]) -> A::Acc {
    let mut acc = agg.create();
    for item in items {
        agg.add(&mut acc, item);
    }
    acc
}

/// Checks the law for `agg` over `items` split at `i ≤ j`, comparing results with `same`.
fn law_with<T, A, F>(agg: &A, items: &[T], i: usize, j: usize, same: F) -> Result<(), TestCaseError>
where
    A: Aggregator<T>,
    A::Output: Debug,
    F: Fn(&A::Output, &A::Output) -> bool,
{
    let (i, j) = (i.min(items.len()), j.min(items.len()));
    let (i, j) = (i.min(j), i.max(j));
    let whole = agg.result(&filled(agg, items));
    let check = |got: A::Output, how: &str| -> Result<(), TestCaseError> {
        prop_assert!(same(&got, &whole), "{}: {:?} != {:?}", how, got, whole);
        Ok(())
    };

    // Two halves.
    let mut left = filled(agg, &items[..i]);
    agg.merge(&mut left, &filled(agg, &items[i..]));
    check(agg.result(&left), "prefix merged with the rest")?;

    // Three parts, both ways.
    let (a, b, c) = (
        filled(agg, &items[..i]),
        filled(agg, &items[i..j]),
        filled(agg, &items[j..]),
    );
    let mut ab = filled(agg, &items[..i]);
    agg.merge(&mut ab, &b);
    agg.merge(&mut ab, &c);
    check(agg.result(&ab), "(a + b) + c")?;
    let mut bc = filled(agg, &items[i..j]);
    agg.merge(&mut bc, &c);
    let mut a_bc = a;
    agg.merge(&mut a_bc, &bc);
    check(agg.result(&a_bc), "a + (b + c)")?;

    // An empty accumulator is neutral on either side.
    let mut empty = agg.create();
    agg.merge(&mut empty, &filled(agg, items));
    check(agg.result(&empty), "empty + all")?;
    let mut all = filled(agg, items);
    agg.merge(&mut all, &agg.create());
    check(agg.result(&all), "all + empty")?;

    // Reading a result does not disturb the accumulator.
    let mut acc = filled(agg, &items[..i]);
    let _ = agg.result(&acc);
    for item in &items[i..] {
        agg.add(&mut acc, item);
    }
    check(agg.result(&acc), "added after a result")?;
    Ok(())
}

fn law<T, A>(agg: &A, items: &[T], i: usize, j: usize) -> Result<(), TestCaseError>
where
    A: Aggregator<T>,
    A::Output: Debug + PartialEq,
{
    law_with(agg, items, i, j, |a, b| a == b)
}

fn same_f64(a: &Option<f64>, b: &Option<f64>) -> bool {
    a.map(f64::to_bits) == b.map(f64::to_bits)
}

fn floats() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => (-1_000i32..1_000).prop_map(f64::from),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(-0.0),
        1 => Just(0.0),
    ]
}

fn split() -> impl Strategy<Value = (usize, usize)> {
    (0usize..50, 0usize..50)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn count_merges(items in prop::collection::vec(any::<u8>(), 0..40), (i, j) in split()) {
        law(&Count, &items, i, j)?;
    }

    /// Integer sums without overflow, and saturating unsigned sums (saturation at the top is
    /// associative for non-negative values).
    #[test]
    fn sum_merges(
        small in prop::collection::vec(any::<i32>(), 0..40),
        big in prop::collection::vec(any::<u64>(), 0..40),
        (i, j) in split(),
    ) {
        law(&Sum::of(|x: &i32| i64::from(*x)), &small, i, j)?;
        law(&Sum::of(|x: &u64| *x), &big, i, j)?;
        // Sums of small integers are exact in floating point.
        law(&Sum::of(|x: &i32| f64::from(*x % 1_000_000)), &small, i, j)?;
    }

    #[test]
    fn min_and_max_merge(
        ints in prop::collection::vec(any::<i64>(), 0..40),
        floats in prop::collection::vec(floats(), 0..40),
        (i, j) in split(),
    ) {
        law(&Min::of(|x: &i64| *x), &ints, i, j)?;
        law(&Max::of(|x: &i64| *x), &ints, i, j)?;
        // NaN never wins; between 0.0 and −0.0 the first stays.
        law_with(&Min::of(|x: &f64| *x), &floats, i, j, same_f64)?;
        law_with(&Max::of(|x: &f64| *x), &floats, i, j, same_f64)?;
    }

    #[test]
    fn mean_merges(items in prop::collection::vec(-1_000_000i64..1_000_000, 0..40), (i, j) in split()) {
        law_with(&Mean::of(|x: &i64| *x), &items, i, j, same_f64)?;
    }

    #[test]
    fn first_last_and_collect_merge(
        items in prop::collection::vec("[a-c]{0,2}", 0..40),
        (i, j) in split(),
    ) {
        law(&First::of(|s: &String| s.clone()), &items, i, j)?;
        law(&Last::of(|s: &String| s.clone()), &items, i, j)?;
        law(&Collect::of(|s: &String| s.clone()), &items, i, j)?;
    }

    #[test]
    fn tuples_merge(items in prop::collection::vec((any::<u8>(), -1_000i64..1_000), 0..40), (i, j) in split()) {
        let all = (
            Count,
            Sum::of(|x: &(u8, i64)| x.1),
            Min::of(|x: &(u8, i64)| x.1),
            Max::of(|x: &(u8, i64)| x.0),
            Mean::of(|x: &(u8, i64)| x.1),
            First::of(|x: &(u8, i64)| x.0),
            Last::of(|x: &(u8, i64)| x.0),
            Collect::of(|x: &(u8, i64)| *x),
        );
        let same = |a: &_, b: &_| {
            let (a, b): (&(_, _, _, _, Option<f64>, _, _, _), &(_, _, _, _, Option<f64>, _, _, _)) = (a, b);
            same_f64(&a.4, &b.4)
                && (a.0, a.1, a.2, a.3, a.5, a.6, &a.7) == (b.0, b.1, b.2, b.3, b.5, b.6, &b.7)
        };
        law_with(&all, &items, i, j, same)?;
        law(&(Count,), &items, i, j)?;
    }
}

/// Empty accumulators read as the identity of each aggregator.
#[test]
fn empty_accumulators_read_as_nothing() {
    let none: &[i64] = &[];
    assert_eq!(Aggregator::<i64>::result(&Count, &filled(&Count, none)), 0);
    let sum = Sum::of(|x: &i64| *x);
    assert_eq!(sum.result(&filled(&sum, none)), 0);
    let min = Min::of(|x: &i64| *x);
    assert_eq!(min.result(&filled(&min, none)), None);
    let mean = Mean::of(|x: &i64| *x);
    assert_eq!(mean.result(&filled(&mean, none)), None);
    let first = First::of(|x: &i64| *x);
    assert_eq!(first.result(&filled(&first, none)), None);
    let collect = Collect::of(|x: &i64| *x);
    assert_eq!(collect.result(&filled(&collect, none)), Vec::<i64>::new());
}
