//! Count windows and the global window, compared with simple reference models.
//!
//! Count windows: a key's window `j` holds its items `(j + 1)·step − size + 1 ..= (j + 1)·step`
//! (counted from 1) and fires on item `(j + 1)·step`: every `step` items, the last
//! `min(size, seen)` items. At the end of input, if items arrived since the last firing, the
//! window being filled fires once with the items it holds, if any.
//!
//! Global window with a count trigger: fires a key's window on every `n`-th item of the key, with
//! all its items (or, purging, the items since the previous firing); at the end of input it fires
//! once more if items arrived since the last firing.
//!
//! Inputs put a barrier after every item, so each result is checked to come out right after the
//! item that fired it (and the last ones at the end of input).

mod support;

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rheoflow::aggregate::{Collect, Count};
use rheoflow::window::{CountWindow, CountWindows, Firing, GlobalWindow, Trigger, WindowResult};
use rheoflow::{Control, Message};

use support::{barrier, data, end, messages, output};

/// An item: its key and its position in the input.
type Item = (u8, u32);

fn id(item: &Item) -> u32 {
    item.1
}

/// Items with a barrier after each (numbered by the item's position), then the end.
fn input(items: &[Item]) -> Vec<Message<Item>> {
    let mut input = Vec::new();
    for (i, &item) in items.iter().enumerate() {
        input.push(data(item));
        input.push(barrier(i as u64));
    }
    input.push(end());
    input
}

/// The results of `messages` with the number of control messages before each.
fn positioned<W, V>(messages: Vec<Message<WindowResult<u8, V, W>>>) -> Vec<(usize, u8, W, V)> {
    let mut controls = 0;
    let mut out = Vec::new();
    for message in messages {
        match message {
            Message::Data(r) => {
                assert_eq!(r.firing, Firing::OnTime);
                out.push((controls, r.key, r.window, r.value));
            }
            Message::Control(_) => controls += 1,
        }
    }
    out
}

fn keyed_items() -> impl Strategy<Value = Vec<Item>> {
    prop::collection::vec(0u8..3, 0..80).prop_map(|keys| {
        keys.into_iter()
            .enumerate()
            .map(|(i, key)| (key, i as u32))
            .collect()
    })
}

/// Per key, in order: `(controls before it, sequence, len, ids)`.
type CountRows = BTreeMap<u8, Vec<(usize, u64, u64, Vec<u32>)>>;

fn count_model(size: u64, step: u64, items: &[Item]) -> CountRows {
    let mut seen: BTreeMap<u8, Vec<u32>> = BTreeMap::new();
    let mut rows = CountRows::new();
    for (i, &(key, id)) in items.iter().enumerate() {
        let ids = seen.entry(key).or_default();
        ids.push(id);
        let n = ids.len() as u64;
        if n.is_multiple_of(step) {
            let window = ids[n.saturating_sub(size) as usize..].to_vec();
            // Fired by the item: before the barrier that follows it.
            rows.entry(key)
                .or_default()
                .push((i, n / step - 1, window.len() as u64, window));
        }
    }
    for (key, ids) in seen {
        let n = ids.len() as u64;
        if n.is_multiple_of(step) {
            continue;
        }
        let j = n / step;
        let start = ((j + 1) * step).saturating_sub(size);
        if start < n {
            let window = ids[start as usize..].to_vec();
            rows.entry(key)
                .or_default()
                .push((items.len(), j, window.len() as u64, window));
        }
    }
    rows
}

async fn count_library(size: u64, step: u64, items: &[Item]) -> CountRows {
    let flow = messages(input(items))
        .key_by(|item: &Item| item.0)
        .count_window(CountWindows::sliding(size, step))
        .aggregate((Count, Collect::of(id)));
    let mut rows = CountRows::new();
    for (at, key, window, (count, ids)) in positioned::<CountWindow, _>(output(flow).await) {
        assert_eq!(count, window.len, "the window's len is its number of items");
        rows.entry(key)
            .or_default()
            .push((at, window.sequence, window.len, ids));
    }
    rows
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
        .block_on(f)
}

fn check_count(size: u64, step: u64, items: &[Item]) -> Result<(), TestCaseError> {
    let got = block_on(count_library(size, step, items));
    prop_assert_eq!(got, count_model(size, step, items));
    Ok(())
}

/// Per key, in order: `(controls before it, ids)`.
type GlobalRows = BTreeMap<u8, Vec<(usize, Vec<u32>)>>;

fn global_model(n: u64, purge: bool, items: &[Item]) -> GlobalRows {
    let mut held: BTreeMap<u8, (Vec<u32>, u64, bool)> = BTreeMap::new();
    let mut rows = GlobalRows::new();
    for (i, &(key, id)) in items.iter().enumerate() {
        let (ids, count, dirty) = held.entry(key).or_default();
        ids.push(id);
        *count += 1;
        *dirty = true;
        if *count % n == 0 {
            rows.entry(key).or_default().push((i, ids.clone()));
            *dirty = false;
            if purge {
                ids.clear();
            }
        }
    }
    for (key, (ids, _, dirty)) in held {
        if dirty {
            rows.entry(key).or_default().push((items.len(), ids));
        }
    }
    rows
}

async fn global_library(n: u64, purge: bool, items: &[Item]) -> GlobalRows {
    let trigger = if purge {
        Trigger::count(n).purging()
    } else {
        Trigger::count(n)
    };
    let flow = messages(input(items))
        .key_by(|item: &Item| item.0)
        .global_window(GlobalWindow::with_trigger(trigger))
        .aggregate((Count, Collect::of(id)));
    let mut rows = GlobalRows::new();
    for (at, key, window, (count, ids)) in positioned(output(flow).await) {
        assert_eq!(window, GlobalWindow::with_trigger(trigger));
        assert_eq!(count, ids.len() as u64);
        rows.entry(key).or_default().push((at, ids));
    }
    rows
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn tumbling_count_windows_match_the_model(size in 1u64..8, items in keyed_items()) {
        check_count(size, size, &items)?;
    }

    #[test]
    fn sliding_count_windows_with_a_step_under_the_size_match_the_model(
        (size, step) in (2u64..10).prop_flat_map(|size| (Just(size), 1..size)),
        items in keyed_items(),
    ) {
        check_count(size, step, &items)?;
    }

    #[test]
    fn sliding_count_windows_with_a_step_over_the_size_match_the_model(
        (size, step) in (1u64..6).prop_flat_map(|size| (Just(size), size + 1..size + 8)),
        items in keyed_items(),
    ) {
        check_count(size, step, &items)?;
    }

    #[test]
    fn global_windows_with_a_count_trigger_match_the_model(
        n in 1u64..6,
        purge in any::<bool>(),
        items in keyed_items(),
    ) {
        let got = block_on(global_library(n, purge, &items));
        prop_assert_eq!(got, global_model(n, purge, &items));
    }
}

/// The end of input fires the window being filled, with the items it holds.
#[tokio::test]
async fn count_windows_fire_the_window_being_filled_at_the_end() {
    let ids = |size, step, n| async move {
        let flow = messages((1..=n).map(|i| data((0u8, i))).chain([end()]).collect())
            .key_by(|item: &Item| item.0)
            .count_window(CountWindows::sliding(size, step))
            .aggregate(Collect::of(id));
        output(flow)
            .await
            .into_iter()
            .filter_map(Message::into_data)
            .map(|r| (r.window.sequence, r.value))
            .collect::<Vec<_>>()
    };
    // Tumbling: the rest.
    assert_eq!(ids(3, 3, 4).await, [(0, vec![1, 2, 3]), (1, vec![4])]);
    // Windows of 6 every 4: window 2 would hold 7..=12; it holds 7..=9.
    assert_eq!(
        ids(6, 4, 9).await,
        [
            (0, vec![1, 2, 3, 4]),
            (1, vec![3, 4, 5, 6, 7, 8]),
            (2, vec![7, 8, 9])
        ]
    );
    // Windows of 2 every 3: window 2 would hold 8..=9; item 7 lies between windows.
    assert_eq!(ids(2, 3, 7).await, [(0, vec![2, 3]), (1, vec![5, 6])]);
    assert_eq!(
        ids(2, 3, 8).await,
        [(0, vec![2, 3]), (1, vec![5, 6]), (2, vec![8])]
    );
    // Nothing arrived since the last firing: nothing more fires.
    assert_eq!(ids(4, 2, 4).await, [(0, vec![1, 2]), (1, vec![1, 2, 3, 4])]);
}

/// Control messages pass a count window in order, with nothing held back.
#[tokio::test]
async fn count_windows_forward_control_messages() {
    let input = vec![
        data((0u8, 0)),
        barrier(1),
        data((0, 1)),
        support::watermark(5),
        end(),
    ];
    let out = output(
        messages(input)
            .key_by(|item: &Item| item.0)
            .count_window(CountWindows::tumbling(2))
            .aggregate(Count),
    )
    .await;
    let controls = support::controls(&out);
    assert!(matches!(controls[0], Control::Barrier(_)));
    assert_eq!(controls[1..], [Control::Watermark(5.into()), Control::End]);
    assert_eq!(out.len(), 4, "one result: {out:?}");
}

#[tokio::test]
async fn items_between_sliding_count_windows_are_counted_as_outside_windows() {
    use rheoflow::metrics::DropReason;
    // Windows of the last 2 items every 5: items 1-3, 6-8 and 11-12 belong to no window.
    let flow = rheoflow::Flow::from_iter(1..=12u64)
        .key_by(|_| ())
        .count_window(CountWindows::sliding(2, 5))
        .aggregate(rheoflow::aggregate::Collect::of(|x: &u64| *x));
    let metrics = flow.metrics();
    let windows: Vec<Vec<u64>> = flow.map(|r| r.value).collect().await.unwrap();
    assert_eq!(windows, [vec![4, 5], vec![9, 10]]);
    assert_eq!(metrics.snapshot().dropped(DropReason::OutsideWindows), 8);
}
