//! Count windows: every `n` items of a key, or the last `n` items every `step`.

use std::collections::VecDeque;
use std::hash::Hash;
use std::marker::PhantomData;

use rustc_hash::FxHashMap;

use super::state::{Placement, WindowFn, WindowState};
use super::{CountWindow, Firing, WindowResult};
use crate::checkpoint::{self, Persist, StateError};
use crate::Timestamp;

/// Count windows per key: tumbling (every `size` items) or sliding (the last `size` items, every
/// `step` items).
///
/// As in Flink, a sliding count window fires every `step` items with the last `size` items, fewer
/// while a key has seen fewer: window `j` of a key holds its items `(j + 1)·step − size + 1 ..=
/// (j + 1)·step` (counted from 1). At the end of input, the window being filled fires once with
/// the items it holds so far (a last, partial window), if items arrived since the last firing
/// and it holds any: with `step > size`, items between two windows belong to none (they are
/// dropped and counted as [`DropReason::OutsideWindows`](crate::metrics::DropReason)).
///
/// # Examples
///
/// ```
/// use rheoflow::window::CountWindows;
///
/// let every_100 = CountWindows::tumbling(100);
/// let last_10_every_5 = CountWindows::sliding(10, 5);
/// # let _ = (every_100, last_10_every_5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountWindows {
    pub(crate) size: u64,
    pub(crate) step: u64,
}

impl CountWindows {
    /// Windows of `size` items, one after the other.
    ///
    /// # Panics
    ///
    /// Panics if `size` is zero.
    #[track_caller]
    pub fn tumbling(size: u64) -> Self {
        CountWindows::sliding(size, size)
    }

    /// The last `size` items, every `step` items.
    ///
    /// # Panics
    ///
    /// Panics if `size` or `step` is zero.
    #[track_caller]
    pub fn sliding(size: u64, step: u64) -> Self {
        assert!(size > 0, "count window size must be greater than zero");
        assert!(step > 0, "count window step must be greater than zero");
        CountWindows { size, step }
    }
}

fn gcd(mut x: u64, mut y: u64) -> u64 {
    while y != 0 {
        (x, y) = (y, x % y);
    }
    x
}

/// One key: complete slices of `pane` items (the last `b`), the slice being filled, and counters.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct KeyWindows<A> {
    complete: VecDeque<A>,
    current: Option<A>,
    in_current: u64,
    completed: u64,
    unfired: bool,
    sequence: u64,
}

/// The slicing of a count window: slices of `pane` items; a window is the last `b` slices and
/// fires every `a` slices.
#[derive(Debug, Clone, Copy)]
struct Shape {
    pane: u64,
    a: u64,
    b: usize,
}

/// Window state; see [`WindowState`](super::WindowState).
pub struct CountState<K, T, F: WindowFn<K, CountWindow, T>> {
    shape: Shape,
    f: F,
    keys: FxHashMap<K, KeyWindows<F::Acc>>,
    _item: PhantomData<fn(T)>,
}

impl<K, T, F> CountState<K, T, F>
where
    K: Hash + Eq + Clone,
    F: WindowFn<K, CountWindow, T>,
{
    pub(crate) fn new(windows: CountWindows, f: F) -> Self {
        let pane = gcd(windows.size, windows.step);
        CountState {
            shape: Shape {
                pane,
                a: windows.step / pane,
                b: (windows.size / pane) as usize,
            },
            f,
            keys: FxHashMap::default(),
            _item: PhantomData,
        }
    }
}

impl<A> KeyWindows<A> {
    fn new(shape: Shape) -> Self {
        KeyWindows {
            complete: VecDeque::with_capacity(shape.b),
            current: None,
            in_current: 0,
            completed: 0,
            unfired: false,
            sequence: 0,
        }
    }

    /// Whether the next item falls between two windows (only when `step > size`): the first
    /// `step − size` items of each step belong to no window.
    fn next_is_gap(&self, shape: Shape) -> bool {
        let b = shape.b as u64;
        shape.a > b
            && (self.completed % shape.a) * shape.pane + self.in_current
                < (shape.a - b) * shape.pane
    }

    /// Counts an item that belongs to no window; slices in a gap hold nothing.
    fn skip(&mut self, shape: Shape) {
        self.in_current += 1;
        if self.in_current == shape.pane {
            self.in_current = 0;
            self.completed += 1;
        }
    }

    /// Adds one item, firing when a step completes.
    fn add<K: Clone, T, F: WindowFn<K, CountWindow, T, Acc = A>>(
        &mut self,
        shape: Shape,
        f: &F,
        key: &K,
        item: T,
        out: &mut VecDeque<WindowResult<K, F::Output, CountWindow>>,
    ) {
        f.add(self.current.get_or_insert_with(|| f.create()), item);
        self.in_current += 1;
        self.unfired = true;
        if self.in_current == shape.pane {
            if self.complete.len() == shape.b {
                self.complete.pop_front();
            }
            if let Some(done) = self.current.take() {
                self.complete.push_back(done);
            }
            self.in_current = 0;
            self.completed += 1;
            if self.completed.is_multiple_of(shape.a) {
                self.fire(shape, f, key, shape.b, false, out);
            }
        }
    }

    /// Fires a window over the last `full_slices` complete slices plus, at the end, the partial
    /// one.
    fn fire<K: Clone, T, F: WindowFn<K, CountWindow, T, Acc = A>>(
        &mut self,
        shape: Shape,
        f: &F,
        key: &K,
        full_slices: usize,
        with_current: bool,
        out: &mut VecDeque<WindowResult<K, F::Output, CountWindow>>,
    ) {
        let mut acc = f.create();
        let partial = if with_current { self.in_current } else { 0 };
        let skip = self.complete.len().saturating_sub(full_slices);
        let mut len = partial;
        for slice in self.complete.iter().skip(skip) {
            f.merge(&mut acc, slice);
            len += shape.pane;
        }
        if let (true, Some(current)) = (partial > 0, self.current.as_ref()) {
            f.merge(&mut acc, current);
        }
        let window = CountWindow {
            sequence: self.sequence,
            len,
        };
        self.sequence += 1;
        self.unfired = false;
        let value = f.result(key, &window, &acc);
        out.push_back(WindowResult::new(
            key.clone(),
            window,
            value,
            Firing::OnTime,
        ));
    }
}

impl<K, T, F> WindowState<T> for CountState<K, T, F>
where
    K: Hash + Eq + Clone + Persist,
    F: WindowFn<K, CountWindow, T>,
    F::Acc: Persist,
{
    type Key = K;
    type Output = WindowResult<K, F::Output, CountWindow>;

    fn add(
        &mut self,
        key: K,
        _timestamp: Timestamp,
        item: T,
        out: &mut VecDeque<Self::Output>,
    ) -> Result<(), (Placement, T)> {
        if let Some(state) = self.keys.get_mut(&key) {
            if state.next_is_gap(self.shape) {
                state.skip(self.shape);
                return Err((Placement::Gap, item));
            }
            state.add(self.shape, &self.f, &key, item, out);
            return Ok(());
        }
        // A key's first item: window 0 starts at its `step − size + 1`-th item.
        let mut state = KeyWindows::new(self.shape);
        let result = if state.next_is_gap(self.shape) {
            state.skip(self.shape);
            Err((Placement::Gap, item))
        } else {
            state.add(self.shape, &self.f, &key, item, out);
            Ok(())
        };
        self.keys.insert(key, state);
        result
    }

    fn advance(&mut self, _watermark: Timestamp, _out: &mut VecDeque<Self::Output>) {}

    fn fire_early(&mut self, _out: &mut VecDeque<Self::Output>) {}

    fn finish(&mut self, out: &mut VecDeque<Self::Output>) {
        let keys = std::mem::take(&mut self.keys);
        let shape = self.shape;
        for (key, mut state) in keys {
            if !state.unfired {
                continue;
            }
            // The window being filled fires with what it holds: it covers slices
            // `[next − b, next)`, `next` the slice at which it would have fired, and holds the
            // complete slices from its start on and the partial one (slice `completed`).
            let next = (state.sequence + 1) * shape.a;
            let start = next.saturating_sub(shape.b as u64);
            let full_slices = state.completed.saturating_sub(start) as usize;
            let with_current = state.in_current > 0 && state.completed >= start;
            // With `step > size`, the items since the last firing may all lie between windows.
            if full_slices > 0 || with_current {
                state.fire(shape, &self.f, &key, full_slices, with_current, out);
            }
        }
    }

    fn next_close(&self) -> Option<Timestamp> {
        None
    }

    fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn snapshot(&self) -> Result<Vec<u8>, StateError> {
        checkpoint::encode_versioned(STATE_VERSION, &self.keys)
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        self.keys = checkpoint::decode_current(STATE_VERSION, bytes)?;
        Ok(())
    }
}

impl<K, T, F: WindowFn<K, CountWindow, T>> std::fmt::Debug for CountState<K, T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CountState")
            .field("shape", &self.shape)
            .field("keys", &self.keys.len())
            .finish()
    }
}

/// The version of the state this build writes.
const STATE_VERSION: u32 = 1;
