//! Session windows: per-key windows that merge as items arrive.
//!
//! Each key keeps its sessions sorted and disjoint. Every session has one live timer: at its
//! close (`end − 1`) and, after it fired, at its cleanup (`end − 1 + lateness`). A session that
//! grows keeps its old timer, which re-arms itself at the new close when it comes due, so an item
//! that extends a session costs no timer work.

use std::collections::{BTreeMap, VecDeque};
use std::hash::Hash;
use std::marker::PhantomData;

use rustc_hash::FxHashMap;

use super::result::clamp;
use super::state::{Placement, WindowFn, WindowState};
use super::{EmitPolicy, Firing, TimeWindow, WindowResult};
use crate::checkpoint::{self, Persist, StateError};
use crate::Timestamp;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Sess<A> {
    start: i128,
    end: i128,
    acc: A,
    count: u64,
    /// A result was emitted for this session (or a session it absorbed) before.
    fired: bool,
    /// The result for its current extent was emitted at its close.
    closed_emitted: bool,
    /// The time of its one live timer.
    timer_at: i128,
}

/// Window state; see [`WindowState`](super::WindowState).
pub struct SessionState<K, T, F: WindowFn<K, TimeWindow, T>> {
    gap: i64,
    lateness: i64,
    policy: EmitPolicy,
    f: F,
    watermark: Timestamp,
    sessions: FxHashMap<K, Vec<Sess<F::Acc>>>,
    timers: BTreeMap<i128, Vec<K>>,
    _item: PhantomData<fn(T)>,
}

impl<K, T, F> SessionState<K, T, F>
where
    K: Hash + Eq + Clone,
    F: WindowFn<K, TimeWindow, T>,
{
    pub(crate) fn new(gap: i64, lateness: i64, policy: EmitPolicy, f: F) -> Self {
        SessionState {
            gap,
            lateness,
            policy,
            f,
            watermark: Timestamp::MIN,
            sessions: FxHashMap::default(),
            timers: BTreeMap::new(),
            _item: PhantomData,
        }
    }

    fn at_or_before_watermark(&self, t: i128) -> bool {
        self.watermark == Timestamp::MAX || t <= self.watermark.millis() as i128
    }

    fn emit(
        f: &F,
        key: &K,
        session: &Sess<F::Acc>,
        firing: Firing,
        out: &mut VecDeque<WindowResult<K, F::Output>>,
    ) {
        let window = TimeWindow::from_bounds(session.start, session.end);
        let value = f.result(key, &window, &session.acc);
        out.push_back(WindowResult::new(key.clone(), window, value, firing));
    }

    fn schedule(&mut self, at: i128, key: &K) {
        self.timers.entry(at).or_default().push(key.clone());
    }

    /// Handles the timer at `at` for `key`.
    fn on_timer(&mut self, at: i128, key: K, out: &mut VecDeque<WindowResult<K, F::Output>>) {
        let Some(list) = self.sessions.get_mut(&key) else {
            return;
        };
        let mut reschedule = Vec::new();
        let watermark = self.watermark;
        let passed = |t: i128| watermark == Timestamp::MAX || t <= watermark.millis() as i128;
        list.retain_mut(|session| {
            if session.timer_at != at {
                return true;
            }
            let close = session.end - 1;
            if passed(close) && !session.closed_emitted {
                let firing = if session.fired {
                    Firing::Late
                } else {
                    Firing::OnTime
                };
                Self::emit(&self.f, &key, session, firing, out);
                session.fired = true;
                session.closed_emitted = true;
            }
            let cleanup = close + self.lateness as i128;
            if passed(cleanup) {
                return false;
            }
            session.timer_at = if passed(close) { cleanup } else { close };
            reschedule.push(session.timer_at);
            true
        });
        if list.is_empty() {
            self.sessions.remove(&key);
        }
        for at in reschedule {
            self.schedule(at, &key);
        }
    }
}

impl<K, T, F> WindowState<T> for SessionState<K, T, F>
where
    K: Hash + Eq + Clone + Persist,
    F: WindowFn<K, TimeWindow, T>,
    F::Acc: Persist,
{
    type Key = K;
    type Output = WindowResult<K, F::Output>;

    fn add(
        &mut self,
        key: K,
        timestamp: Timestamp,
        item: T,
        out: &mut VecDeque<Self::Output>,
    ) -> Result<(), (Placement, T)> {
        let start = timestamp.millis() as i128;
        let end = start + self.gap as i128;
        let list = self.sessions.entry(key.clone()).or_default();
        // Sessions are sorted and disjoint, so those the new one overlaps or touches are a run.
        let first = list.partition_point(|s| s.end < start);
        let last = first + list[first..].partition_point(|s| s.start <= end);
        let cover_start = list
            .get(first)
            .filter(|_| first < last)
            .map_or(start, |s| s.start.min(start));
        let cover_end = if first < last {
            list[last - 1].end.max(end)
        } else {
            end
        };
        // Sessions merge first; lateness is judged on the merged window.
        let watermark = self.watermark;
        let late = watermark == Timestamp::MAX
            || cover_end - 1 + self.lateness as i128 <= watermark.millis() as i128;
        if late {
            if list.is_empty() {
                self.sessions.remove(&key);
            }
            return Err((Placement::Late, item));
        }
        let mut merged = Sess {
            start: cover_start,
            end: cover_end,
            acc: self.f.create(),
            count: 0,
            fired: false,
            closed_emitted: false,
            timer_at: i128::MAX,
        };
        for absorbed in list.drain(first..last) {
            self.f.merge_owned(&mut merged.acc, absorbed.acc);
            merged.count += absorbed.count;
            merged.fired |= absorbed.fired;
            merged.timer_at = merged.timer_at.min(absorbed.timer_at);
        }
        self.f.add(&mut merged.acc, item);
        merged.count += 1;
        let close = cover_end - 1;
        let closed = close <= watermark.millis() as i128;
        let mut schedule = None;
        if closed {
            // Late but within the lateness: fire at once; an update if it absorbed a fired session.
            let firing = if merged.fired {
                Firing::Late
            } else {
                Firing::OnTime
            };
            Self::emit(&self.f, &key, &merged, firing, out);
            merged.fired = true;
            merged.closed_emitted = true;
            merged.timer_at = close + self.lateness as i128;
            schedule = Some(merged.timer_at);
        } else {
            match self.policy {
                EmitPolicy::OnUpdate => Self::emit(&self.f, &key, &merged, Firing::Early, out),
                EmitPolicy::EarlyEveryCount(n) if merged.count % n == 0 => {
                    Self::emit(&self.f, &key, &merged, Firing::Early, out)
                }
                _ => {}
            }
            // Its timer must come due by its close. An absorbed session that already fired
            // brings its cleanup timer, which may be later: the update would fire late.
            if merged.timer_at > close {
                merged.timer_at = close;
                schedule = Some(close);
            }
        }
        list.insert(first, merged);
        if let Some(at) = schedule {
            self.schedule(at, &key);
        }
        Ok(())
    }

    fn advance(&mut self, watermark: Timestamp, out: &mut VecDeque<Self::Output>) {
        if watermark <= self.watermark {
            return;
        }
        self.watermark = watermark;
        while let Some((&at, _)) = self.timers.first_key_value() {
            if !self.at_or_before_watermark(at) {
                break;
            }
            let keys = self
                .timers
                .pop_first()
                .map(|(_, keys)| keys)
                .unwrap_or_default();
            for key in keys {
                self.on_timer(at, key, out);
            }
        }
    }

    fn fire_early(&mut self, out: &mut VecDeque<Self::Output>) {
        for (key, list) in &self.sessions {
            for session in list.iter().filter(|s| !s.closed_emitted) {
                Self::emit(&self.f, key, session, Firing::Early, out);
            }
        }
    }

    fn next_close(&self) -> Option<Timestamp> {
        self.timers
            .first_key_value()
            .map(|(&at, _)| Timestamp::from_millis(clamp(at)))
    }

    fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    fn snapshot(&self) -> Result<Vec<u8>, StateError> {
        let state = (self.watermark.millis(), &self.sessions, &self.timers);
        checkpoint::encode_versioned(STATE_VERSION, &state)
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let (watermark, sessions, timers): (i64, _, _) =
            checkpoint::decode_current(STATE_VERSION, bytes)?;
        self.watermark = Timestamp::from_millis(watermark);
        self.sessions = sessions;
        self.timers = timers;
        Ok(())
    }
}

impl<K, T, F: WindowFn<K, TimeWindow, T>> std::fmt::Debug for SessionState<K, T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionState")
            .field("gap", &self.gap)
            .field("watermark", &self.watermark)
            .field("keys", &self.sessions.len())
            .finish()
    }
}

/// The version of the state this build writes.
const STATE_VERSION: u32 = 1;
