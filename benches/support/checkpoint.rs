//! The checkpointed keyed-window workload shared by `benches/checkpoint.rs` and
//! `examples/checkpoint_figures.rs`.
//!
//! The pipeline is the tumbling workload of `benches/support/windows_workload.rs` (u32 keys,
//! event time 1 ms per event, monotonic watermarks, 1 s tumbling windows, count/sum/min/max),
//! run on a tokio runtime with or without `Flow::checkpointed` after the source. The including
//! crate must declare that file as `mod workload`, and `benches/support/paired.rs` as
//! `mod paired`.
//!
//! [`TimedStore`] wraps a store and records when each save starts and ends and how many state
//! bytes it held, so that callers can prove checkpoints happened (and when) without touching
//! the timed path.

#![allow(dead_code)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rheoflow::checkpoint::{
    Checkpoint, CheckpointError, CheckpointId, CheckpointStore, Checkpoints, DirectoryStore,
    MemoryStore, Trigger,
};
use rheoflow::time::WatermarkStrategy;
use rheoflow::window::Tumbling;
use rheoflow::{Flow, Timestamp};
use tokio::runtime::Runtime;

use crate::paired::{self, Rounds};
use crate::workload::{aggregator, event, Event, WINDOW_MS};

/// Events per measured run of [`tumbling`]: about 4 s at 60M events/s, so that a 1 s trigger
/// takes at least two checkpoints during each run even at 100M events/s.
pub(crate) const EVENTS: u64 = 240_000_000;

/// The runtime the workload runs on: multi-threaded with 2 workers, the flow driven by
/// `Runtime::block_on` on the calling thread. The checkpoint writer task then runs on a worker
/// while the flow runs; a flow spawned as a task (or a current-thread runtime) would starve it
/// until the flow yields or ends, since the flow never waits on anything.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The keyed tumbling-window chain after a source, consumed by a counting `for_each`.
macro_rules! tumbling_after {
    ($source:expr, $window_ms:expr) => {{
        let ts = |e: &Event| Timestamp::from_millis(e.ts);
        let mut fired = 0u64;
        $source
            .watermarks(ts, WatermarkStrategy::monotonic())
            .key_by(|e: &Event| e.key)
            .window(Tumbling::of(Duration::from_millis($window_ms)), ts)
            .aggregate(aggregator())
            .name("window")
            .for_each(|r| {
                black_box(&r);
                fired += 1;
            })
            .await
            .expect("the flow does not fail");
        fired
    }};
}

/// The tumbling workload over events `0..n` without checkpoints; returns the number of window
/// results.
///
/// The two variants are `async fn`s of their own: a flow built inside a future that holds
/// both runs slower, a cost of that future's code rather than of checkpointing.
pub(crate) async fn tumbling(n: u64) -> u64 {
    tumbling_after!(Flow::from_iter((0..n).map(event)), WINDOW_MS as u64)
}

/// [`tumbling`] with its source checkpointed to `checkpoints`.
pub(crate) async fn tumbling_checkpointed(n: u64, checkpoints: &Checkpoints) -> u64 {
    tumbling_after!(
        Flow::from_iter((0..n).map(event)).checkpointed(checkpoints),
        WINDOW_MS as u64
    )
}

/// One event per key `0..keys` (event `i` has key `i` and time `i` ms), all in one window of
/// `window_ms`, checkpointed to `checkpoints` when given; returns the number of window results.
/// `on_last` runs when the last event leaves the source (after `checkpointed`), just before the
/// barrier that `Trigger::every_events(keys)` triggers on it is injected.
pub(crate) async fn open_keys(
    keys: u32,
    window_ms: u64,
    checkpoints: Option<&Checkpoints>,
    on_last: impl FnMut(&Event),
) -> u64 {
    let mut on_last = on_last;
    let last = move |e: &Event| {
        if e.key + 1 == keys {
            on_last(e);
        }
    };
    let source = Flow::from_iter((0..keys).map(|key| Event {
        key,
        ts: i64::from(key),
        value: i64::from(key % 1_000),
    }));
    match checkpoints {
        None => tumbling_after!(source.inspect(last), window_ms),
        Some(checkpoints) => {
            tumbling_after!(source.checkpointed(checkpoints).inspect(last), window_ms)
        }
    }
}

/// One save seen by a [`TimedStore`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Save {
    /// The checkpoint saved.
    pub(crate) id: CheckpointId,
    /// When the store was asked to save it.
    pub(crate) started: Instant,
    /// When the save returned.
    pub(crate) finished: Instant,
    /// The sum of the lengths of its operator state blobs.
    pub(crate) state_bytes: usize,
    /// Whether the save succeeded.
    pub(crate) ok: bool,
}

/// A store that records every save of the store it wraps.
#[derive(Debug, Clone)]
pub(crate) struct TimedStore<S> {
    inner: S,
    saves: Arc<Mutex<Vec<Save>>>,
}

impl<S> TimedStore<S> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: S) -> Self {
        TimedStore {
            inner,
            saves: Arc::default(),
        }
    }

    /// The saves so far, in order.
    pub(crate) fn saves(&self) -> Vec<Save> {
        self.saves
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait::async_trait]
impl<S: CheckpointStore> CheckpointStore for TimedStore<S> {
    async fn save(&mut self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let started = Instant::now();
        let result = self.inner.save(checkpoint).await;
        let save = Save {
            id: checkpoint.id(),
            started,
            finished: Instant::now(),
            state_bytes: checkpoint.state().values().map(Vec::len).sum(),
            ok: result.is_ok(),
        };
        self.saves
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(save);
        result
    }

    async fn latest(&self) -> Result<Option<Checkpoint>, CheckpointError> {
        self.inner.latest().await
    }

    async fn list(&self) -> Result<Vec<CheckpointId>, CheckpointError> {
        self.inner.list().await
    }
}

/// One throughput run: events per second and the periodic checkpoints completed.
pub(crate) fn rate<S: CheckpointStore + Clone + 'static>(
    rt: &Runtime,
    events: u64,
    store: Option<S>,
) -> (f64, u64) {
    let checkpoints = store.map(|store| {
        rt.block_on(Checkpoints::open(
            store,
            Trigger::every(Duration::from_secs(1)),
        ))
        .expect("the store opens")
    });
    let rate = paired::rate(events, || match &checkpoints {
        None => {
            std::hint::black_box(rt.block_on(tumbling(events)));
        }
        Some(checkpoints) => rt.block_on(async {
            std::hint::black_box(tumbling_checkpointed(events, checkpoints).await);
            checkpoints.wait_idle().await;
        }),
    });
    let periodic = checkpoints
        .and_then(|checkpoints| checkpoints.completed())
        .map_or(0, |id| id.get() - 1);
    (rate, periodic)
}

/// Throughput of the three variants (no checkpoints, checkpoints every second to a
/// `DirectoryStore`, to a `MemoryStore`) over rounds run back to back.
#[derive(Debug)]
pub(crate) struct PairedRounds {
    /// Rates per variant: none, directory, memory.
    pub(crate) rounds: Rounds,
    /// Periodic checkpoints per run: directory, memory.
    pub(crate) periodic: [Vec<u64>; 2],
}

impl PairedRounds {
    /// Prints the median rates, and the median and lowest of the per-round ratios.
    pub(crate) fn print(&self) {
        println!(
            "  no checkpoints            {:6.1}M events/s (median)",
            self.rounds.median(0) / 1e6
        );
        for (variant, store) in [(1, "DirectoryStore"), (2, "MemoryStore")] {
            let (ratio, lowest) = self.rounds.ratio(variant, 0);
            println!(
                "  every 1 s, {store:<14} {:6.1}M events/s (median), ratio {ratio:.3} (median \
                 of the rounds' ratios; lowest {lowest:.3}), periodic checkpoints per run: {:?}",
                self.rounds.median(variant) / 1e6,
                self.periodic[variant - 1],
            );
        }
    }
}

/// Runs `rounds` rounds of the three variants over `events` events, back to back in a rotating
/// order (see `benches/support/paired.rs`).
pub(crate) fn paired_rounds(rt: &Runtime, events: u64, rounds: usize) -> PairedRounds {
    let mut periodic = [Vec::new(), Vec::new()];
    let rounds = paired::rounds(rounds, 3, |variant| match variant {
        0 => rate::<MemoryStore>(rt, events, None).0,
        1 => {
            let dir = temp_dir("paired-rounds");
            let store = rt
                .block_on(DirectoryStore::open(&dir))
                .expect("the directory opens");
            let (rate, n) = rate(rt, events, Some(store));
            std::fs::remove_dir_all(&dir).expect("the directory is removed");
            periodic[0].push(n);
            rate
        }
        _ => {
            let (rate, n) = rate(rt, events, Some(MemoryStore::new()));
            periodic[1].push(n);
            rate
        }
    });
    PairedRounds { rounds, periodic }
}

/// A fresh directory under the system temporary directory; remove it with
/// [`std::fs::remove_dir_all`].
pub(crate) fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "rheoflow-{tag}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
