//! The global window: one window per key, fired by a trigger.

use std::collections::VecDeque;
use std::hash::Hash;
use std::marker::PhantomData;
use std::time::Duration;

use rustc_hash::FxHashMap;

use super::state::{Placement, WindowFn, WindowState};
use super::{Firing, WindowResult};
use crate::checkpoint::{self, Persist, StateError};
use crate::Timestamp;

/// One window per key that never closes by itself: a [`Trigger`] fires it, and the end of input
/// fires it a last time.
///
/// # Examples
///
/// ```
/// use rheoflow::window::{GlobalWindow, Trigger};
/// use std::time::Duration;
///
/// let running_totals = GlobalWindow::with_trigger(Trigger::every(Duration::from_secs(1)));
/// let per_100 = GlobalWindow::with_trigger(Trigger::count(100).purging());
/// # let _ = (running_totals, per_100);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct GlobalWindow {
    #[serde(skip)]
    pub(crate) trigger: Trigger,
}

impl GlobalWindow {
    /// The global window fired by `trigger`.
    pub fn with_trigger(trigger: Trigger) -> Self {
        GlobalWindow { trigger }
    }
}

/// When a [`GlobalWindow`] fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Trigger {
    pub(crate) kind: TriggerKind,
    pub(crate) purge: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TriggerKind {
    Count(u64),
    Every(Duration),
}

impl Trigger {
    /// Fires a key's window after every `n` of its items.
    ///
    /// # Panics
    ///
    /// Panics if `n` is zero.
    #[track_caller]
    pub fn count(n: u64) -> Self {
        assert!(n > 0, "trigger count must be greater than zero");
        Trigger {
            kind: TriggerKind::Count(n),
            purge: false,
        }
    }

    /// Fires every key's window every `interval` of processing time.
    ///
    /// # Panics
    ///
    /// Panics if `interval` is zero.
    #[track_caller]
    pub fn every(interval: Duration) -> Self {
        assert!(
            !interval.is_zero(),
            "trigger interval must be greater than zero"
        );
        Trigger {
            kind: TriggerKind::Every(interval),
            purge: false,
        }
    }

    /// Clears a key's window after each firing, so each result covers only the items since the
    /// previous one.
    pub fn purging(mut self) -> Self {
        self.purge = true;
        self
    }

    /// The processing-time interval of the trigger, if it fires on time.
    pub(crate) fn interval(&self) -> Option<Duration> {
        match self.kind {
            TriggerKind::Every(interval) => Some(interval),
            TriggerKind::Count(_) => None,
        }
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct KeyState<A> {
    acc: A,
    count: u64,
    /// Items arrived since the last firing.
    dirty: bool,
}

/// Window state; see [`WindowState`](super::WindowState).
pub struct GlobalState<K, T, F: WindowFn<K, GlobalWindow, T>> {
    window: GlobalWindow,
    f: F,
    keys: FxHashMap<K, KeyState<F::Acc>>,
    _item: PhantomData<fn(T)>,
}

impl<K, T, F> GlobalState<K, T, F>
where
    K: Hash + Eq + Clone,
    F: WindowFn<K, GlobalWindow, T>,
{
    pub(crate) fn new(window: GlobalWindow, f: F) -> Self {
        GlobalState {
            window,
            f,
            keys: FxHashMap::default(),
            _item: PhantomData,
        }
    }

    fn fire(
        window: &GlobalWindow,
        f: &F,
        key: &K,
        state: &mut KeyState<F::Acc>,
        out: &mut VecDeque<WindowResult<K, F::Output, GlobalWindow>>,
    ) {
        let value = f.result(key, window, &state.acc);
        out.push_back(WindowResult::new(
            key.clone(),
            *window,
            value,
            Firing::OnTime,
        ));
        state.dirty = false;
        if window.trigger.purge {
            state.acc = f.create();
        }
    }
}

impl<K, T, F> WindowState<T> for GlobalState<K, T, F>
where
    K: Hash + Eq + Clone + Persist,
    F: WindowFn<K, GlobalWindow, T>,
    F::Acc: Persist,
{
    type Key = K;
    type Output = WindowResult<K, F::Output, GlobalWindow>;

    fn add(
        &mut self,
        key: K,
        _timestamp: Timestamp,
        item: T,
        out: &mut VecDeque<Self::Output>,
    ) -> Result<(), (Placement, T)> {
        let count_trigger = match self.window.trigger.kind {
            TriggerKind::Count(n) => Some(n),
            TriggerKind::Every(_) => None,
        };
        let add =
            |f: &F, state: &mut KeyState<F::Acc>, key: &K, out: &mut VecDeque<Self::Output>| {
                f.add(&mut state.acc, item);
                state.count += 1;
                state.dirty = true;
                if count_trigger.is_some_and(|n| state.count % n == 0) {
                    Self::fire(&self.window, f, key, state, out);
                }
            };
        match self.keys.get_mut(&key) {
            Some(state) => add(&self.f, state, &key, out),
            None => {
                let mut state = KeyState {
                    acc: self.f.create(),
                    count: 0,
                    dirty: false,
                };
                add(&self.f, &mut state, &key, out);
                self.keys.insert(key, state);
            }
        }
        Ok(())
    }

    fn advance(&mut self, _watermark: Timestamp, _out: &mut VecDeque<Self::Output>) {}

    fn fire_early(&mut self, out: &mut VecDeque<Self::Output>) {
        for (key, state) in self.keys.iter_mut().filter(|(_, s)| s.dirty) {
            Self::fire(&self.window, &self.f, key, state, out);
        }
    }

    fn finish(&mut self, out: &mut VecDeque<Self::Output>) {
        self.fire_early(out);
        self.keys.clear();
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

impl<K, T, F: WindowFn<K, GlobalWindow, T>> std::fmt::Debug for GlobalState<K, T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalState")
            .field("window", &self.window)
            .field("keys", &self.keys.len())
            .finish()
    }
}

/// The version of the state this build writes.
const STATE_VERSION: u32 = 1;
