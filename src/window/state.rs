//! The contract between window operators and the per-assigner window state.

use std::collections::VecDeque;

use crate::Timestamp;

/// What a window operator computes per window and key: the by-value, internal counterpart of
/// [`Aggregator`](crate::aggregate::Aggregator), also implemented by full-window functions.
pub trait WindowFn<K, W, T> {
    /// The state kept per window (or slice) and key.
    type Acc;
    /// The value of a fired window.
    type Output;

    /// Creates an empty accumulator.
    fn create(&self) -> Self::Acc;
    /// Adds one item.
    fn add(&self, acc: &mut Self::Acc, item: T);
    /// Merges `other`, which holds later items, into `acc`.
    fn merge(&self, acc: &mut Self::Acc, other: &Self::Acc);
    /// Merges `other`, which holds later items, into `acc`, consuming it.
    fn merge_owned(&self, acc: &mut Self::Acc, other: Self::Acc) {
        self.merge(acc, &other);
    }
    /// Computes the window's value.
    fn result(&self, key: &K, window: &W, acc: &Self::Acc) -> Self::Output;
}

/// Why no window took an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Placement {
    /// Every window of the item was late.
    Late,
    /// The item fell between two sliding windows (slide > size) and was not late.
    Gap,
}

/// The state of a window operator for one assigner: which windows are open, their accumulators per
/// key, and when they fire.
///
/// The built-in states are [`PaneState`](super::PaneState) (tumbling and sliding windows),
/// [`SessionState`](super::SessionState), [`CountState`](super::CountState) and
/// [`GlobalState`](super::GlobalState); the operator that drives them feeds items, watermarks and
/// timer ticks.
pub trait WindowState<T> {
    /// The key type.
    type Key;
    /// One fired result.
    type Output;

    /// Adds `item` of `key` at `timestamp` with the watermark as it stood before the item. Results
    /// that fire at once (late updates, early firings) go to `out`. An item no window takes is
    /// handed back with the reason.
    fn add(
        &mut self,
        key: Self::Key,
        timestamp: Timestamp,
        item: T,
        out: &mut VecDeque<Self::Output>,
    ) -> Result<(), (Placement, T)>;

    /// Advances the watermark: fires the windows that close and frees those that are late.
    fn advance(&mut self, watermark: Timestamp, out: &mut VecDeque<Self::Output>);

    /// Fires every open window early (an [`EmitPolicy::EarlyEvery`](super::EmitPolicy) tick).
    fn fire_early(&mut self, out: &mut VecDeque<Self::Output>);

    /// The end of input: fires every window not fired yet, exactly once, and frees all state.
    fn finish(&mut self, out: &mut VecDeque<Self::Output>) {
        self.advance(Timestamp::MAX, out);
    }

    /// The watermark at which the next window closes, if any is open (for processing-time
    /// windows, which fire on a timer).
    fn next_close(&self) -> Option<Timestamp>;

    /// Whether no window state is held.
    fn is_empty(&self) -> bool;

    /// The state for a checkpoint: every open window's contents and the watermark, encoded
    /// with a version ([`checkpoint::encode_versioned`](crate::checkpoint::encode_versioned)).
    ///
    /// # Errors
    ///
    /// [`StateError::Encode`](crate::checkpoint::StateError::Encode) when a key or an
    /// accumulator fails to serialize.
    fn snapshot(&self) -> Result<Vec<u8>, crate::checkpoint::StateError>;

    /// Replaces the state with one [`WindowState::snapshot`] wrote. On error the state is left
    /// as it was: a state is restored whole or not at all.
    ///
    /// # Errors
    ///
    /// A [`StateError`](crate::checkpoint::StateError) when `bytes` are not such a state.
    fn restore(&mut self, bytes: &[u8]) -> Result<(), crate::checkpoint::StateError>;
}
