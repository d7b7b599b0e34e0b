//! Running (unwindowed) keyed aggregation.

use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use pin_project_lite::pin_project;
use rustc_hash::FxHashMap;

use super::StateTtl;
use crate::checkpoint::{self, Participant, Persist, StateError};
use crate::metrics::{OperatorCounters, Tally};
use crate::window::WindowFn;
use crate::{Control, Error, Message};

pin_project! {
    /// The stream returned by [`KeyedFlow::aggregate`](super::KeyedFlow::aggregate) and
    /// [`KeyedFlow::reduce`](super::KeyedFlow::reduce): `(key, result)` after every item.
    #[must_use = "streams do nothing unless polled"]
    pub struct RunningAggregate<S, KF, F, K, T>
    where
        F: WindowFn<K, (), T>,
    {
        #[pin]
        stream: S,
        key: KF,
        f: F,
        // Each key's accumulator, and the sweeps done when it last saw an item.
        state: FxHashMap<K, (F::Acc, u64)>,
        ttl: Option<StateTtl>,
        counters: Arc<OperatorCounters>,
        participant: Option<Participant>,
        restored: bool,
        // Items in and out (one result per item), published to `counters` every few hundred.
        tally: Tally,
        _item: PhantomData<fn(T)>,
    }
}

impl<S, KF, F, K, T> RunningAggregate<S, KF, F, K, T>
where
    F: WindowFn<K, (), T>,
{
    pub(crate) fn new(
        stream: S,
        key: KF,
        f: F,
        ttl: Option<Duration>,
        counters: Arc<OperatorCounters>,
        participant: Option<Participant>,
    ) -> Self {
        let ttl = ttl.map(StateTtl::new);
        RunningAggregate {
            stream,
            key,
            f,
            state: FxHashMap::default(),
            ttl,
            counters,
            participant,
            restored: false,
            tally: Tally::default(),
            _item: PhantomData,
        }
    }
}

impl<S, KF, F, K, T> Stream for RunningAggregate<S, KF, F, K, T>
where
    S: Stream<Item = Message<T>>,
    KF: FnMut(&T) -> K,
    K: Hash + Eq + Clone + Persist,
    F: WindowFn<K, (), T>,
    F::Acc: Persist,
{
    type Item = Message<(K, F::Output)>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if !*this.restored {
            *this.restored = true;
            if let Some(participant) = this.participant.as_ref() {
                if let Err(error) = restore(
                    participant,
                    this.state,
                    this.ttl.as_ref().map_or(0, StateTtl::mark),
                ) {
                    return Poll::Ready(Some(Message::Control(Control::Failed(Box::new(error)))));
                }
            }
        }
        if let Some(ttl) = this.ttl.as_mut() {
            if ttl.poll_sweep(cx) {
                this.state.retain(|_, (_, mark)| !ttl.is_stale(*mark));
            }
        }
        match this.stream.as_mut().poll_next(cx) {
            Poll::Ready(Some(Message::Data(item))) => {
                let key = (this.key)(&item);
                let touched = this.ttl.as_ref().map_or(0, StateTtl::mark);
                let f = &*this.f;
                let output = match this.state.get_mut(&key) {
                    Some((acc, seen)) => {
                        f.add(acc, item);
                        *seen = touched;
                        f.result(&key, &(), acc)
                    }
                    None => {
                        let mut acc = f.create();
                        f.add(&mut acc, item);
                        let output = f.result(&key, &(), &acc);
                        this.state.insert(key.clone(), (acc, touched));
                        output
                    }
                };
                this.tally.count_in_out(this.counters);
                Poll::Ready(Some(Message::Data((key, output))))
            }
            Poll::Ready(Some(Message::Control(control))) => {
                if let Some(participant) = this.participant.as_ref() {
                    match &control {
                        Control::Barrier(barrier) => participant.ack(barrier, snapshot(this.state)),
                        Control::End => participant.finish(snapshot(this.state)),
                        _ => {}
                    }
                }
                if control.is_terminal() {
                    this.state.clear();
                }
                if !matches!(control, Control::Watermark(_)) {
                    this.tally.publish(this.counters);
                }
                Poll::Ready(Some(Message::Control(control)))
            }
            Poll::Ready(None) => {
                this.tally.publish(this.counters);
                Poll::Ready(None)
            }
            Poll::Pending => {
                if let Some(ttl) = this.ttl.as_mut() {
                    // Waiting for input: the sweep timer must wake this task.
                    if ttl.poll_sweep_before_wait(cx) {
                        this.state.retain(|_, (_, mark)| !ttl.is_stale(*mark));
                    }
                }
                this.tally.publish(this.counters);
                Poll::Pending
            }
        }
    }
}

/// The version of the running aggregate's state this build writes.
const STATE_VERSION: u32 = 1;

/// Every key's accumulator. When a key was last seen is not kept: after a restore each key
/// starts a fresh TTL.
fn snapshot<K: Persist, A: Persist>(state: &FxHashMap<K, (A, u64)>) -> Result<Vec<u8>, StateError> {
    let entries: Vec<(&K, &A)> = state.iter().map(|(key, (acc, _))| (key, acc)).collect();
    checkpoint::encode_versioned(STATE_VERSION, &entries)
}

fn restore<K: Hash + Eq + Persist, A: Persist>(
    participant: &Participant,
    state: &mut FxHashMap<K, (A, u64)>,
    sweeps: u64,
) -> Result<(), Error> {
    let restored: Option<Vec<(K, A)>> =
        participant.restore(|bytes| checkpoint::decode_current(STATE_VERSION, bytes))?;
    let Some(entries) = restored else {
        return Ok(());
    };
    state.clear();
    state.extend(entries.into_iter().map(|(key, acc)| (key, (acc, sweeps))));
    Ok(())
}

impl<S: fmt::Debug, KF, F, K, T> fmt::Debug for RunningAggregate<S, KF, F, K, T>
where
    F: WindowFn<K, (), T>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningAggregate")
            .field("stream", &self.stream)
            .field("keys", &self.state.len())
            .finish()
    }
}
