//! Tumbling and sliding windows, kept as slices ("panes") of `gcd(size, slide)`.
//!
//! Every item updates exactly one slice's accumulator for its key; a window's result merges the
//! slices it covers. Slices live in a slab of recycled hash maps indexed by a `BTreeMap` from slice
//! number to slot, and the slice of the last item is cached with its bounds, so the common case
//! (an on-time item in the same slice as the one before) is one range check and one hash lookup.

use std::collections::{BTreeMap, VecDeque};
use std::hash::Hash;
use std::marker::PhantomData;

use rustc_hash::FxHashMap;

use super::assigner::TimeAssigner;
use super::result::clamp;
use super::slice::Slice;
use super::state::{Placement, WindowFn, WindowState};
use super::{EmitPolicy, Firing, TimeWindow, WindowResult};
use crate::checkpoint::{self, Persist, StateError};
use crate::Timestamp;

/// The slice of the last item, with what decides its fast path.
#[derive(Debug, Clone, Copy)]
struct Cached {
    pane: i128,
    slot: usize,
    /// The slice covers `[ts_lo, ts_hi)`.
    ts_lo: i64,
    ts_hi: i64,
    /// At a watermark `≥ close_at`, the slice's first window has closed.
    close_at: i64,
    /// At a watermark `≥ late_at`, every window of the slice is late.
    late_at: i64,
}

/// Window state; see [`WindowState`](super::WindowState).
pub struct PaneState<K, T, F: WindowFn<K, TimeWindow, T>> {
    assigner: TimeAssigner,
    lateness: i64,
    policy: EmitPolicy,
    f: F,
    watermark: Timestamp,
    /// Slice number → slot in `slots`.
    panes: BTreeMap<i128, usize>,
    slots: Vec<Slice<K, F::Acc>>,
    free_slots: Vec<usize>,
    cache: Option<Cached>,
    scratch: Slice<K, F::Acc>,
    /// Items per window and key, for [`EmitPolicy::EarlyEveryCount`] only.
    early_counts: BTreeMap<i128, FxHashMap<K, u64>>,
    /// Below this watermark, advancing fires and frees nothing.
    next_due: i64,
    /// Whether the emit policy fires after items (early firings per item).
    fires_per_item: bool,
    _item: PhantomData<fn(T)>,
}

impl<K, T, F> PaneState<K, T, F>
where
    K: Hash + Eq + Clone,
    F: WindowFn<K, TimeWindow, T>,
{
    pub(crate) fn new(assigner: TimeAssigner, lateness: i64, policy: EmitPolicy, f: F) -> Self {
        PaneState {
            assigner,
            lateness,
            policy,
            f,
            watermark: Timestamp::MIN,
            panes: BTreeMap::new(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            cache: None,
            scratch: Slice::default(),
            early_counts: BTreeMap::new(),
            next_due: i64::MAX,
            fires_per_item: matches!(
                policy,
                EmitPolicy::OnUpdate | EmitPolicy::EarlyEveryCount(_)
            ),
            _item: PhantomData,
        }
    }

    /// Whether window `m` is late under the current watermark.
    fn is_late(&self, m: i128) -> bool {
        self.watermark == Timestamp::MAX
            || self.assigner.window_max(m) + self.lateness as i128
                <= self.watermark.millis() as i128
    }

    /// Whether window `m` has closed (fired) under the current watermark.
    fn is_closed(&self, m: i128) -> bool {
        self.watermark == Timestamp::MAX
            || self.assigner.window_max(m) <= self.watermark.millis() as i128
    }

    fn window(&self, m: i128) -> TimeWindow {
        let start = self.assigner.window_start(m);
        TimeWindow::from_bounds(start, start + self.assigner.size as i128)
    }

    /// The cache entry for slice `n`, allocating its slot if it has none.
    fn lookup(&mut self, n: i128) -> Cached {
        let slot = match self.panes.get(&n) {
            Some(&slot) => slot,
            None => {
                let slot = match self.free_slots.pop() {
                    Some(slot) => slot,
                    None => {
                        self.slots.push(Slice::default());
                        self.slots.len() - 1
                    }
                };
                self.panes.insert(n, slot);
                let (lo, hi) = self.assigner.windows_of_pane(n);
                let first_open = lo.max(self.assigner.first_open(self.watermark.millis()));
                let close = clamp(self.assigner.window_max(first_open));
                let free = clamp(self.assigner.window_max(hi) + self.lateness as i128);
                self.next_due = self.next_due.min(close).min(free);
                slot
            }
        };
        let (lo, hi) = self.assigner.windows_of_pane(n);
        let start = self.assigner.pane_start(n);
        Cached {
            pane: n,
            slot,
            ts_lo: clamp(start),
            ts_hi: clamp(start + self.assigner.pane as i128),
            close_at: clamp(self.assigner.window_max(lo)),
            late_at: clamp(self.assigner.window_max(hi) + self.lateness as i128),
        }
    }

    /// Key `key`'s accumulator over the slices of window `m`, if it has items there.
    fn window_value(&self, m: i128, key: &K) -> Option<F::Acc> {
        let mut merged: Option<F::Acc> = None;
        for n in self.assigner.panes_of_window(m) {
            let Some(&slot) = self.panes.get(&n) else {
                continue;
            };
            let Some(acc) = self.slots[slot].get(key) else {
                continue;
            };
            let into = merged.get_or_insert_with(|| self.f.create());
            self.f.merge(into, acc);
        }
        merged
    }

    /// Whether `key` has items in window `m`.
    fn has_key(&self, m: i128, key: &K) -> bool {
        self.assigner.panes_of_window(m).any(|n| {
            self.panes
                .get(&n)
                .is_some_and(|&slot| self.slots[slot].contains_key(key))
        })
    }

    /// Fires window `m` for one key.
    fn fire_key(
        &self,
        m: i128,
        key: &K,
        firing: Firing,
        out: &mut VecDeque<WindowResult<K, F::Output>>,
    ) {
        if let Some(acc) = self.window_value(m, key) {
            let window = self.window(m);
            let value = self.f.result(key, &window, &acc);
            out.push_back(WindowResult::new(key.clone(), window, value, firing));
        }
    }

    /// Fires window `m` for every key that has items in it. With `drain`, the window's only slice is
    /// emptied as it fires (it is about to be freed), which moves keys out instead of cloning them.
    fn fire_window(
        &mut self,
        m: i128,
        firing: Firing,
        drain: bool,
        out: &mut VecDeque<WindowResult<K, F::Output>>,
    ) {
        let window = self.window(m);
        if self.assigner.b == 1 {
            let n = m * self.assigner.a as i128;
            let Some(&slot) = self.panes.get(&n) else {
                return;
            };
            // `extend` from an iterator of known length reserves once and writes in a row.
            let f = &self.f;
            if drain {
                out.extend(self.slots[slot].drain().map(|(key, acc)| {
                    let value = f.result(&key, &window, &acc);
                    WindowResult::new(key, window, value, firing)
                }));
            } else {
                out.extend(self.slots[slot].iter().map(|(key, acc)| {
                    let value = f.result(key, &window, acc);
                    WindowResult::new(key.clone(), window, value, firing)
                }));
            }
            return;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        for n in self.assigner.panes_of_window(m) {
            let Some(&slot) = self.panes.get(&n) else {
                continue;
            };
            for (key, acc) in self.slots[slot].iter() {
                scratch.upsert(
                    key,
                    acc,
                    |into, acc| self.f.merge(into, acc),
                    |acc| {
                        let mut into = self.f.create();
                        self.f.merge(&mut into, acc);
                        into
                    },
                );
            }
        }
        let f = &self.f;
        out.extend(scratch.drain().map(|(key, acc)| {
            let value = f.result(&key, &window, &acc);
            WindowResult::new(key, window, value, firing)
        }));
        self.scratch = scratch;
    }

    /// The first window from `from` on that holds items.
    fn next_window_with_items(&self, from: i128) -> Option<i128> {
        let mut m = from;
        loop {
            let first = m * self.assigner.a as i128;
            let (&n, _) = self.panes.range(first..).next()?;
            if n < first + self.assigner.b as i128 {
                return Some(m);
            }
            m = self.assigner.windows_of_pane(n).0;
        }
    }

    /// Recomputes the watermark below which [`WindowState::advance`] has nothing to do: the close
    /// of the first open window with items, or the lateness deadline of the oldest slice.
    fn update_next_due(&mut self) {
        let from = self.assigner.first_open(self.watermark.millis());
        let close = self
            .next_window_with_items(from)
            .map_or(i64::MAX, |m| clamp(self.assigner.window_max(m)));
        let free = self.panes.first_key_value().map_or(i64::MAX, |(&n, _)| {
            let hi = self.assigner.windows_of_pane(n).1;
            clamp(self.assigner.window_max(hi) + self.lateness as i128)
        });
        self.next_due = close.min(free);
    }

    /// The slice of an item at `ts` that is not in the cached one: caches it (allocating it if
    /// new), or says why no window takes the item.
    #[cold]
    #[inline(never)]
    fn enter_slice(&mut self, ts: i64) -> Result<Cached, Placement> {
        let n = self.assigner.pane_of(ts);
        let (lo, hi) = self.assigner.windows_of_pane(n);
        if lo > hi {
            // In the gap between two windows.
            let late = ts as i128 + self.lateness as i128 <= self.watermark.millis() as i128
                || self.watermark == Timestamp::MAX;
            return Err(if late {
                Placement::Late
            } else {
                Placement::Gap
            });
        }
        if self.is_late(hi) {
            return Err(Placement::Late);
        }
        let cached = self.lookup(n);
        self.cache = Some(cached);
        Ok(cached)
    }

    /// The slow path of [`WindowState::add`]: some window of the slice has closed, or the emit
    /// policy fires early.
    #[cold]
    #[inline(never)]
    fn add_slow(
        &mut self,
        cached: Cached,
        key: K,
        item: T,
        out: &mut VecDeque<WindowResult<K, F::Output>>,
    ) {
        let (lo, hi) = self.assigner.windows_of_pane(cached.pane);
        if self.watermark.millis() < cached.close_at {
            // Every window of the slice is open: only an early-firing policy brings us here.
            self.add_to_slice(cached.slot, key.clone(), item);
            for m in lo..=hi {
                self.fire_early_key(m, &key, out);
            }
            return;
        }
        // Some windows have closed: a late item within the lateness re-fires them. Which of them
        // already emitted a result for this key (it had items there)?
        let fired_before: Vec<(i128, bool)> = (lo..=hi)
            .filter(|&m| !self.is_late(m))
            .map(|m| (m, self.is_closed(m) && self.has_key(m, &key)))
            .collect();
        self.add_to_slice(cached.slot, key.clone(), item);
        for (m, fired) in fired_before {
            if self.is_closed(m) {
                let firing = if fired { Firing::Late } else { Firing::OnTime };
                self.fire_key(m, &key, firing, out);
            } else {
                self.fire_early_key(m, &key, out);
            }
        }
    }

    #[inline]
    fn add_to_slice(&mut self, slot: usize, key: K, item: T) {
        let f = &self.f;
        self.slots[slot].upsert(
            key,
            item,
            |acc, item| f.add(acc, item),
            // Built in place and moved once.
            |item| {
                let mut acc = f.create();
                f.add(&mut acc, item);
                acc
            },
        );
    }

    /// Fires open window `m` early for `key` if the emit policy says so after an item.
    fn fire_early_key(&mut self, m: i128, key: &K, out: &mut VecDeque<WindowResult<K, F::Output>>) {
        match self.policy {
            EmitPolicy::OnUpdate => self.fire_key(m, key, Firing::Early, out),
            EmitPolicy::EarlyEveryCount(n) => {
                let counts = self.early_counts.entry(m).or_default();
                let count = match counts.get_mut(key) {
                    Some(count) => count,
                    None => counts.entry(key.clone()).or_insert(0),
                };
                *count += 1;
                if *count % n == 0 {
                    self.fire_key(m, key, Firing::Early, out);
                }
            }
            _ => {}
        }
    }
}

impl<K, T, F> WindowState<T> for PaneState<K, T, F>
where
    K: Hash + Eq + Clone + Persist,
    F: WindowFn<K, TimeWindow, T>,
    F::Acc: Persist,
{
    type Key = K;
    type Output = WindowResult<K, F::Output>;

    #[inline]
    fn add(
        &mut self,
        key: K,
        timestamp: Timestamp,
        item: T,
        out: &mut VecDeque<Self::Output>,
    ) -> Result<(), (Placement, T)> {
        let ts = timestamp.millis();
        let w = self.watermark.millis();
        let cached = match self.cache {
            Some(cached) if cached.ts_lo <= ts && ts < cached.ts_hi => cached,
            _ => match self.enter_slice(ts) {
                Ok(cached) => cached,
                Err(placement) => return Err((placement, item)),
            },
        };
        if w >= cached.late_at {
            return Err((Placement::Late, item));
        }
        if w >= cached.close_at || self.fires_per_item {
            self.add_slow(cached, key, item, out);
            return Ok(());
        }
        self.add_to_slice(cached.slot, key, item);
        Ok(())
    }

    #[inline]
    fn advance(&mut self, watermark: Timestamp, out: &mut VecDeque<Self::Output>) {
        if watermark <= self.watermark {
            return;
        }
        let previous = self.watermark;
        self.watermark = watermark;
        if watermark.millis() < self.next_due && watermark != Timestamp::MAX {
            return;
        }
        self.fire_and_free(previous, out);
    }

    fn fire_early(&mut self, out: &mut VecDeque<Self::Output>) {
        let mut from = self.assigner.first_open(self.watermark.millis());
        while let Some(m) = self.next_window_with_items(from) {
            self.fire_window(m, Firing::Early, false, out);
            from = m + 1;
        }
    }

    fn next_close(&self) -> Option<Timestamp> {
        let from = self.assigner.first_open(self.watermark.millis());
        self.next_window_with_items(from)
            .map(|m| Timestamp::from_millis(clamp(self.assigner.window_max(m))))
    }

    fn is_empty(&self) -> bool {
        self.panes.is_empty()
    }

    fn snapshot(&self) -> Result<Vec<u8>, StateError> {
        let slices: Vec<(i128, &Slice<K, F::Acc>)> = self
            .panes
            .iter()
            .map(|(&n, &slot)| (n, &self.slots[slot]))
            .collect();
        let state = PaneSnapshot {
            watermark: self.watermark.millis(),
            slices,
            early_counts: &self.early_counts,
        };
        checkpoint::encode_versioned(STATE_VERSION, &state)
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let state: OwnedPaneSnapshot<K, F::Acc> = checkpoint::decode_current(STATE_VERSION, bytes)?;
        self.watermark = Timestamp::from_millis(state.watermark);
        self.panes.clear();
        self.slots.clear();
        self.free_slots.clear();
        self.cache = None;
        for (n, slice) in state.slices {
            self.panes.insert(n, self.slots.len());
            self.slots.push(slice);
        }
        self.early_counts = state.early_counts;
        self.update_next_due();
        Ok(())
    }
}

/// A [`PaneSnapshot`] read back.
type OwnedPaneSnapshot<K, A> =
    PaneSnapshot<Vec<(i128, Slice<K, A>)>, BTreeMap<i128, FxHashMap<K, u64>>>;

/// The version of [`PaneSnapshot`] this build writes.
const STATE_VERSION: u32 = 1;

/// What a checkpoint holds of tumbling and sliding windows: the watermark, and the
/// accumulators of every slice still held, per key. Written from borrowed slices, read back
/// owned.
#[derive(serde::Serialize, serde::Deserialize)]
struct PaneSnapshot<S, E> {
    watermark: i64,
    slices: S,
    early_counts: E,
}

impl<K, T, F> PaneState<K, T, F>
where
    K: Hash + Eq + Clone,
    F: WindowFn<K, TimeWindow, T>,
{
    /// The work of [`WindowState::advance`] once the watermark reaches a due window: fires the
    /// windows that closed since `previous` and frees the slices that are late.
    #[inline(never)]
    fn fire_and_free(
        &mut self,
        previous: Timestamp,
        out: &mut VecDeque<WindowResult<K, F::Output>>,
    ) {
        let watermark = self.watermark;
        let drain = self.lateness == 0 && self.assigner.a == 1 && self.assigner.b == 1;
        let mut from = self.assigner.first_open(previous.millis());
        while let Some(m) = self.next_window_with_items(from) {
            if !self.is_closed(m) {
                break;
            }
            self.fire_window(m, Firing::OnTime, drain, out);
            from = m + 1;
        }
        let first_open = self.assigner.first_open(watermark.millis());
        while self
            .early_counts
            .first_key_value()
            .is_some_and(|(&m, _)| m < first_open || watermark == Timestamp::MAX)
        {
            self.early_counts.pop_first();
        }
        // Free every slice whose last window is late.
        while let Some((&n, &slot)) = self.panes.first_key_value() {
            if !self.is_late(self.assigner.windows_of_pane(n).1) {
                break;
            }
            self.panes.pop_first();
            self.slots[slot].clear();
            self.free_slots.push(slot);
            if self.cache.is_some_and(|c| c.pane == n) {
                self.cache = None;
            }
        }
        self.update_next_due();
    }
}

impl<K, T, F: WindowFn<K, TimeWindow, T>> std::fmt::Debug for PaneState<K, T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaneState")
            .field("assigner", &self.assigner)
            .field("watermark", &self.watermark)
            .field("open_slices", &self.panes.len())
            .finish()
    }
}
