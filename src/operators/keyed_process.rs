use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use pin_project_lite::pin_project;
use rustc_hash::FxHashMap;
use tokio::time::Sleep;

use super::timer::LookEvery;
use crate::checkpoint::{self, Participant, Persist, StateError};
use crate::keyed::{KeyEntry, KeyedContext, KeyedProcessFunction, StateTtl, TimeDomain, Timer};
use crate::metrics::{OperatorCounters, Tally};
use crate::time::{Clock, Timestamp};
use crate::{Control, Error, Message};

/// Timer queues: time → keys with a timer then (entries are checked against the key's own set,
/// so deleted timers are skipped).
type TimerQueue<K> = BTreeMap<Timestamp, Vec<K>>;

pin_project! {
    /// The stream returned by [`KeyedFlow::process`](crate::keyed::KeyedFlow::process).
    #[must_use = "streams do nothing unless polled"]
    pub struct KeyedProcess<S, KF, P, K, T>
    where
        P: KeyedProcessFunction<K, T>,
    {
        #[pin]
        stream: S,
        key: KF,
        function: P,
        keys: FxHashMap<K, KeyEntry<P::State>>,
        event_timers: TimerQueue<K>,
        processing_timers: TimerQueue<K>,
        out: VecDeque<P::Output>,
        pending: Option<Control>,
        done: bool,
        watermark: Timestamp,
        clock: Clock,
        timer: Option<Pin<Box<Sleep>>>,
        armed_for: Option<Timestamp>,
        // When to look at the timer between messages.
        look: LookEvery,
        ttl: Option<StateTtl>,
        new_event_timers: Vec<Timestamp>,
        new_processing_timers: Vec<Timestamp>,
        counters: Arc<OperatorCounters>,
        participant: Option<Participant>,
        restored: bool,
        // Items in and outputs out, published to `counters` every few hundred.
        tally: Tally,
        _item: PhantomData<fn(T)>,
    }
}

impl<S, KF, P, K, T> KeyedProcess<S, KF, P, K, T>
where
    P: KeyedProcessFunction<K, T>,
{
    pub(crate) fn new(
        stream: S,
        key: KF,
        function: P,
        ttl: Option<Duration>,
        counters: Arc<OperatorCounters>,
        participant: Option<Participant>,
    ) -> Self {
        KeyedProcess {
            stream,
            key,
            function,
            keys: FxHashMap::default(),
            event_timers: BTreeMap::new(),
            processing_timers: BTreeMap::new(),
            out: VecDeque::new(),
            pending: None,
            done: false,
            watermark: Timestamp::MIN,
            clock: Clock::new(),
            timer: None,
            armed_for: None,
            look: LookEvery::default(),
            ttl: ttl.map(StateTtl::new),
            new_event_timers: Vec::new(),
            new_processing_timers: Vec::new(),
            counters,
            participant,
            restored: false,
            tally: Tally::default(),
            _item: PhantomData,
        }
    }
}

/// The parts of the operator a call into the user function needs.
struct Parts<'a, K, P: KeyedProcessFunction<K, T>, T> {
    function: &'a mut P,
    keys: &'a mut FxHashMap<K, KeyEntry<P::State>>,
    event_timers: &'a mut TimerQueue<K>,
    processing_timers: &'a mut TimerQueue<K>,
    out: &'a mut VecDeque<P::Output>,
    watermark: Timestamp,
    clock: &'a Clock,
    /// With a state TTL, the sweeps done so far: the mark of a key used now.
    access_mark: Option<u64>,
    new_event_timers: &'a mut Vec<Timestamp>,
    new_processing_timers: &'a mut Vec<Timestamp>,
}

impl<K: Hash + Eq + Clone, P: KeyedProcessFunction<K, T>, T> Parts<'_, K, P, T> {
    /// Calls the function for `key`, with `call` choosing `process` or `on_timer`.
    fn call(
        &mut self,
        key: K,
        call: impl FnOnce(&mut P, &mut KeyedContext<'_, K, P::State, P::Output>),
    ) {
        let entry = match self.keys.get_mut(&key) {
            Some(entry) => entry,
            None => self.keys.entry(key.clone()).or_insert_with(KeyEntry::new),
        };
        if let Some(mark) = self.access_mark {
            entry.last_access = Some(mark);
        }
        let mut ctx = KeyedContext {
            key: &key,
            entry,
            out: self.out,
            watermark: self.watermark,
            clock: self.clock,
            new_event_timers: self.new_event_timers,
            new_processing_timers: self.new_processing_timers,
        };
        call(self.function, &mut ctx);
        let empty = ctx.entry.is_empty();
        for at in self.new_event_timers.drain(..) {
            self.event_timers.entry(at).or_default().push(key.clone());
        }
        for at in self.new_processing_timers.drain(..) {
            self.processing_timers
                .entry(at)
                .or_default()
                .push(key.clone());
        }
        if empty {
            self.keys.remove(&key);
        }
    }

    /// Fires the processing-time timers that are due, and re-arms the timer for the next one.
    fn fire_processing_timers(
        &mut self,
        timer: &mut Option<Pin<Box<Sleep>>>,
        armed_for: &mut Option<Timestamp>,
    ) {
        *armed_for = None;
        self.fire_timers(TimeDomain::ProcessingTime, self.clock.now());
        arm(self.clock, self.processing_timers, timer, armed_for);
    }

    /// Fires the timers of `domain` due at or before `until`, in time order.
    fn fire_timers(&mut self, domain: TimeDomain, until: Timestamp) {
        loop {
            let queue = match domain {
                TimeDomain::EventTime => &mut *self.event_timers,
                TimeDomain::ProcessingTime => &mut *self.processing_timers,
            };
            let Some((&at, _)) = queue.first_key_value() else {
                break;
            };
            if at > until {
                break;
            }
            let keys = queue.pop_first().map(|(_, keys)| keys).unwrap_or_default();
            for key in keys {
                let live = self.keys.get_mut(&key).is_some_and(|entry| match domain {
                    TimeDomain::EventTime => entry.event_timers.remove(&at),
                    TimeDomain::ProcessingTime => entry.processing_timers.remove(&at),
                });
                if live {
                    let timer = Timer {
                        timestamp: at,
                        domain,
                    };
                    self.call(key, |function, ctx| function.on_timer(timer, ctx));
                }
            }
        }
    }
}

impl<S, KF, P, K, T> Stream for KeyedProcess<S, KF, P, K, T>
where
    S: Stream<Item = Message<T>>,
    KF: FnMut(&T) -> K,
    K: Hash + Eq + Clone + Persist,
    P: KeyedProcessFunction<K, T>,
    P::State: Persist,
{
    type Item = Message<P::Output>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if !*this.restored {
            *this.restored = true;
            if let Some(participant) = this.participant.as_ref() {
                let restored = restore(
                    participant,
                    this.keys,
                    this.event_timers,
                    this.processing_timers,
                    this.watermark,
                );
                if let Err(error) = restored {
                    *this.done = true;
                    return Poll::Ready(Some(Message::Control(Control::Failed(Box::new(error)))));
                }
                arm(
                    this.clock,
                    this.processing_timers,
                    this.timer,
                    this.armed_for,
                );
            }
        }
        loop {
            if let Some(output) = this.out.pop_front() {
                this.tally.count_out(this.counters);
                return Poll::Ready(Some(Message::Data(output)));
            }
            if let Some(control) = this.pending.take() {
                // After the outputs that came before it; not per watermark, which may follow
                // every item.
                if !matches!(control, Control::Watermark(_)) {
                    this.tally.publish(this.counters);
                }
                return Poll::Ready(Some(Message::Control(control)));
            }
            if *this.done {
                this.tally.publish(this.counters);
                return Poll::Ready(None);
            }
            let mut parts = Parts {
                function: this.function,
                keys: this.keys,
                event_timers: this.event_timers,
                processing_timers: this.processing_timers,
                out: this.out,
                watermark: *this.watermark,
                clock: this.clock,
                access_mark: this.ttl.as_ref().map(StateTtl::mark),
                new_event_timers: this.new_event_timers,
                new_processing_timers: this.new_processing_timers,
            };
            if let Some(ttl) = this.ttl.as_mut() {
                if ttl.poll_sweep(cx) {
                    free_stale(ttl, parts.keys);
                    continue;
                }
            }
            if this.look.due() && fired(this.timer, *this.armed_for, cx) {
                parts.fire_processing_timers(this.timer, this.armed_for);
                continue;
            }
            match this.stream.as_mut().poll_next(cx) {
                Poll::Pending => {
                    // Waiting for input: the processing-time timer must wake this task.
                    if fired(this.timer, *this.armed_for, cx) {
                        parts.fire_processing_timers(this.timer, this.armed_for);
                        continue;
                    }
                    this.look.waiting();
                    if let Some(ttl) = this.ttl.as_mut() {
                        // Waiting for input: the sweep timer must wake this task.
                        if ttl.poll_sweep_before_wait(cx) {
                            free_stale(ttl, parts.keys);
                            continue;
                        }
                    }
                    this.tally.publish(this.counters);
                    return Poll::Pending;
                }
                Poll::Ready(Some(Message::Data(item))) => {
                    this.tally.count_in(this.counters);
                    let key = (this.key)(&item);
                    parts.call(key, |function, ctx| function.process(item, ctx));
                }
                Poll::Ready(Some(Message::Control(Control::Watermark(watermark)))) => {
                    if watermark > *this.watermark {
                        *this.watermark = watermark;
                        parts.watermark = watermark;
                        parts.fire_timers(TimeDomain::EventTime, watermark);
                    }
                    this.counters.set_watermark(*this.watermark);
                    *this.pending = Some(Control::Watermark(watermark));
                }
                Poll::Ready(Some(Message::Control(control))) => {
                    if let Some(participant) = this.participant.as_ref() {
                        let state = || snapshot(parts.keys, parts.watermark);
                        match &control {
                            Control::Barrier(barrier) => participant.ack(barrier, state()),
                            Control::End => participant.finish(state()),
                            _ => {}
                        }
                    }
                    if control.is_terminal() {
                        *this.done = true;
                        this.keys.clear();
                    }
                    *this.pending = Some(control);
                }
                Poll::Ready(None) => *this.done = true,
            }
            // Timers set while handling the message may be earlier than the armed one.
            arm(
                this.clock,
                this.processing_timers,
                this.timer,
                this.armed_for,
            );
        }
    }
}

/// Whether the processing-time timer, armed for `armed_for`, has fired; registers the task to
/// be woken when it does.
fn fired(
    timer: &mut Option<Pin<Box<Sleep>>>,
    armed_for: Option<Timestamp>,
    cx: &mut Context<'_>,
) -> bool {
    match timer {
        Some(timer) if armed_for.is_some() => timer.as_mut().poll(cx).is_ready(),
        _ => false,
    }
}

/// Frees the state of the keys `ttl` finds stale, and the keys left with nothing.
fn free_stale<K, S>(ttl: &StateTtl, keys: &mut FxHashMap<K, KeyEntry<S>>) {
    keys.retain(|_, entry| {
        if entry.last_access.is_some_and(|mark| ttl.is_stale(mark)) {
            entry.state = None;
        }
        !entry.is_empty()
    });
}

/// The version of a keyed process function's state this build writes.
const STATE_VERSION: u32 = 1;

/// What a checkpoint holds of one key: its state and its pending timers.
#[derive(serde::Serialize, serde::Deserialize)]
struct KeySnapshot<K, S> {
    key: K,
    state: Option<S>,
    event_timers: Vec<Timestamp>,
    processing_timers: Vec<Timestamp>,
}

/// The watermark and every key's state and timers. When a key was last seen is not kept:
/// after a restore each key starts a fresh TTL.
fn snapshot<K: serde::Serialize, S: serde::Serialize>(
    keys: &FxHashMap<K, KeyEntry<S>>,
    watermark: Timestamp,
) -> Result<Vec<u8>, StateError> {
    let entries: Vec<KeySnapshot<&K, &S>> = keys
        .iter()
        .map(|(key, entry)| KeySnapshot {
            key,
            state: entry.state.as_ref(),
            event_timers: entry.event_timers.iter().copied().collect(),
            processing_timers: entry.processing_timers.iter().copied().collect(),
        })
        .collect();
    checkpoint::encode_versioned(STATE_VERSION, &(watermark, entries))
}

fn restore<K: Hash + Eq + Clone + Persist, S: Persist>(
    participant: &Participant,
    keys: &mut FxHashMap<K, KeyEntry<S>>,
    event_timers: &mut TimerQueue<K>,
    processing_timers: &mut TimerQueue<K>,
    watermark: &mut Timestamp,
) -> Result<(), Error> {
    let restored: Option<(Timestamp, Vec<KeySnapshot<K, S>>)> =
        participant.restore(|bytes| checkpoint::decode_current(STATE_VERSION, bytes))?;
    let Some((restored_watermark, entries)) = restored else {
        return Ok(());
    };
    *watermark = restored_watermark;
    for snapshot in entries {
        let mut entry = KeyEntry::new();
        entry.state = snapshot.state;
        for at in snapshot.event_timers {
            entry.event_timers.insert(at);
            event_timers
                .entry(at)
                .or_default()
                .push(snapshot.key.clone());
        }
        for at in snapshot.processing_timers {
            entry.processing_timers.insert(at);
            processing_timers
                .entry(at)
                .or_default()
                .push(snapshot.key.clone());
        }
        keys.insert(snapshot.key, entry);
    }
    Ok(())
}

/// Arms the processing-time timer for the earliest processing-time timer, if it changed.
fn arm<K>(
    clock: &Clock,
    timers: &TimerQueue<K>,
    timer: &mut Option<Pin<Box<Sleep>>>,
    armed_for: &mut Option<Timestamp>,
) {
    let Some((&at, _)) = timers.first_key_value() else {
        return;
    };
    if *armed_for == Some(at) {
        return;
    }
    let deadline = clock.instant_at(at);
    match timer {
        Some(timer) => timer.as_mut().reset(deadline),
        None => *timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
    }
    *armed_for = Some(at);
}

impl<S: fmt::Debug, KF, P, K, T> fmt::Debug for KeyedProcess<S, KF, P, K, T>
where
    P: KeyedProcessFunction<K, T>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedProcess")
            .field("stream", &self.stream)
            .field("keys", &self.keys.len())
            .field("watermark", &self.watermark)
            .finish()
    }
}
