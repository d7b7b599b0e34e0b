//! How each window assigner builds its window state.

use std::hash::Hash;

use crate::checkpoint::Persist;

use crate::window::{
    CountState, CountWindow, CountWindows, EmitPolicy, GlobalState, GlobalWindow, PaneState,
    Session, SessionState, Sliding, TimeWindow, Tumbling, WindowFn, WindowResult, WindowState,
};

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::window::Tumbling {}
    impl Sealed for crate::window::Sliding {}
    impl Sealed for crate::window::Session {}
    impl Sealed for crate::window::CountWindows {}
    impl Sealed for crate::window::GlobalWindow {}
}

/// A window assigner: [`Tumbling`], [`Sliding`], [`Session`], [`CountWindows`] or
/// [`GlobalWindow`].
pub trait WindowAssigner: sealed::Sealed {
    /// The windows it assigns.
    type Window;
}

/// Builds the window state of an assigner for a key type, an item type and a window function.
pub trait BuildState<K, T, F: WindowFn<K, Self::Window, T>>: WindowAssigner {
    /// The window state.
    type State: WindowState<T, Key = K, Output = WindowResult<K, F::Output, Self::Window>>;

    /// Builds the state with an allowed lateness in milliseconds and an emit policy.
    fn build(self, lateness: i64, policy: EmitPolicy, f: F) -> Self::State;
}

impl WindowAssigner for Tumbling {
    type Window = TimeWindow;
}

impl<K: Hash + Eq + Clone + Persist, T, F: WindowFn<K, TimeWindow, T>> BuildState<K, T, F>
    for Tumbling
where
    F::Acc: Persist,
{
    type State = PaneState<K, T, F>;

    fn build(self, lateness: i64, policy: EmitPolicy, f: F) -> Self::State {
        PaneState::new(self.panes(), lateness, policy, f)
    }
}

impl WindowAssigner for Sliding {
    type Window = TimeWindow;
}

impl<K: Hash + Eq + Clone + Persist, T, F: WindowFn<K, TimeWindow, T>> BuildState<K, T, F>
    for Sliding
where
    F::Acc: Persist,
{
    type State = PaneState<K, T, F>;

    fn build(self, lateness: i64, policy: EmitPolicy, f: F) -> Self::State {
        PaneState::new(self.panes(), lateness, policy, f)
    }
}

impl WindowAssigner for Session {
    type Window = TimeWindow;
}

impl<K: Hash + Eq + Clone + Persist, T, F: WindowFn<K, TimeWindow, T>> BuildState<K, T, F>
    for Session
where
    F::Acc: Persist,
{
    type State = SessionState<K, T, F>;

    fn build(self, lateness: i64, policy: EmitPolicy, f: F) -> Self::State {
        SessionState::new(self.gap, lateness, policy, f)
    }
}

impl WindowAssigner for CountWindows {
    type Window = CountWindow;
}

impl<K: Hash + Eq + Clone + Persist, T, F: WindowFn<K, CountWindow, T>> BuildState<K, T, F>
    for CountWindows
where
    F::Acc: Persist,
{
    type State = CountState<K, T, F>;

    fn build(self, _lateness: i64, _policy: EmitPolicy, f: F) -> Self::State {
        CountState::new(self, f)
    }
}

impl WindowAssigner for GlobalWindow {
    type Window = GlobalWindow;
}

impl<K: Hash + Eq + Clone + Persist, T, F: WindowFn<K, GlobalWindow, T>> BuildState<K, T, F>
    for GlobalWindow
where
    F::Acc: Persist,
{
    type State = GlobalState<K, T, F>;

    fn build(self, _lateness: i64, _policy: EmitPolicy, f: F) -> Self::State {
        GlobalState::new(self, f)
    }
}
