//! Prints checkpoint figures for keyed tumbling windows: the size and duration of a checkpoint
//! of 10k and of 1M keys of open window state, and the throughput of the windows workload of
//! `benches/windows.rs` checkpointed every second, relative to the same flow without
//! checkpoints.
//!
//! `cargo run --release --example checkpoint_figures [EVENTS]` (EVENTS: events per throughput
//! run, 128M by default; the whole example takes about a minute).
//!
//! What is measured:
//!
//! - Open state: one event per key into a single one-hour tumbling window, checkpointed with
//!   `Trigger::every_events(keys)`, so the barrier follows the last key while the window is
//!   still open and its checkpoint holds every key. Size: the checkpoint's file in a
//!   `DirectoryStore`, and the sum of its operator state blobs. Duration, from the moment the
//!   last event leaves the source (the barrier is injected right after it) to the save
//!   returning, split into barrier → save start (the window operator's synchronous snapshot,
//!   the barrier reaching the sink, the hand-off to the writer task) and the save itself
//!   (`DirectoryStore`: encode, CRC, write, fsync, rename, fsync of the directory, pruning;
//!   `MemoryStore`: a clone). Also the extra wall time of the whole run with the checkpoint
//!   against the same run without checkpointing: what the flow itself pays. Best of 5 rounds,
//!   the variants in a rotating order.
//! - Throughput: 7 rounds (rotating order) of no checkpoints, `Trigger::every(1 s)` to a
//!   `DirectoryStore`, and to a `MemoryStore`, with the checkpoints each run took. Each
//!   checkpointed run is divided by the run without checkpoints of the same round, and the
//!   median of those ratios is printed: the machine's speed drifts between rounds, not within
//!   one.
//!
//! Everything runs on a 2-worker multi-threaded tokio runtime, the flow driven by `block_on`, so
//! that the checkpoint writer runs beside the flow.

#[path = "../benches/support/windows_workload.rs"]
mod workload;

#[path = "../benches/support/checkpoint.rs"]
mod support;

#[path = "../benches/support/paired.rs"]
mod paired;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rheoflow::checkpoint::{CheckpointStore, Checkpoints, DirectoryStore, MemoryStore, Trigger};
use tokio::runtime::Runtime;

use support::{open_keys, paired_rounds, rate, tumbling_checkpointed, Save, TimedStore};

/// A window long enough to hold a million events at 1 ms each: it never closes before the end.
const HOUR_MS: u64 = 3_600_000;

/// Runs of each variant; the best is printed.
const ROUNDS: usize = 5;

/// Events per throughput run unless given on the command line: about 2 s here, so that each run
/// takes one or two periodic checkpoints (fewer than the bench, to stay near a minute).
const THROUGHPUT_EVENTS: u64 = 128_000_000;

fn main() {
    let events = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(THROUGHPUT_EVENTS);
    let rt = support::runtime();
    // For profiling one variant alone: `checkpoint_figures EVENTS none|memory|directory|never`.
    match std::env::args().nth(2).as_deref() {
        Some("none") => return println!("{:.1}", rate::<MemoryStore>(&rt, events, None).0),
        Some("memory") => {
            return println!("{:.1}", rate(&rt, events, Some(MemoryStore::new())).0);
        }
        Some("directory") => {
            let dir = support::temp_dir("checkpoint-figures-directory");
            let store = rt
                .block_on(DirectoryStore::open(&dir))
                .expect("the directory opens");
            let (rate, _) = rate(&rt, events, Some(store));
            std::fs::remove_dir_all(&dir).expect("the directory is removed");
            return println!("{rate:.1}");
        }
        // The checkpointed source with no checkpoint due during the run: its per-item cost.
        Some("never") => {
            let checkpoints = rt
                .block_on(Checkpoints::open(
                    MemoryStore::new(),
                    Trigger::every(Duration::from_secs(3_600)),
                ))
                .expect("the store opens");
            let start = Instant::now();
            std::hint::black_box(rt.block_on(tumbling_checkpointed(events, &checkpoints)));
            return println!("{:.1}", events as f64 / start.elapsed().as_secs_f64());
        }
        _ => {}
    }
    let started = Instant::now();

    println!("checkpoint of open tumbling-window state (count/sum/min/max per key):");
    for keys in [10_000, 1_000_000] {
        open_state(&rt, keys);
    }

    throughput(&rt, events);
    println!("total {:.1} s", started.elapsed().as_secs_f64());
}

/// What one checkpoint of `keys` open keys took.
struct Taken {
    /// The save of the checkpoint taken after the last key.
    save: Save,
    /// When the last event left the source.
    barrier: Instant,
    /// The wall time of the whole run, checkpoint saved.
    run: Duration,
}

/// Runs `keys` keys into one open window, checkpointed after the last key to `store`.
fn take<S: CheckpointStore + Clone + 'static>(rt: &Runtime, keys: u32, store: S) -> Taken {
    let store = TimedStore::new(store);
    let checkpoints = rt
        .block_on(Checkpoints::open(
            store.clone(),
            Trigger::every_events(u64::from(keys)),
        ))
        .expect("the store opens");
    let barrier = Arc::new(Mutex::new(None));
    let last = Arc::clone(&barrier);
    let start = Instant::now();
    let fired = rt.block_on(async {
        let fired = open_keys(keys, HOUR_MS, Some(&checkpoints), move |_| {
            *last.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        })
        .await;
        checkpoints.wait_idle().await;
        fired
    });
    let run = start.elapsed();
    assert_eq!(fired, u64::from(keys), "one result per key");
    let save = store
        .saves()
        .into_iter()
        .find(|save| save.id.get() == 1)
        .expect("the checkpoint after the last key was saved");
    assert!(save.ok, "the save succeeds");
    let barrier = barrier
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .expect("the last key went through");
    Taken { save, barrier, run }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn open_state(rt: &Runtime, keys: u32) {
    let mut directory = Vec::new();
    let mut memory = Vec::new();
    let mut plain = Vec::new();
    let mut file_bytes = 0;
    // Five rounds of the three variants, in a rotating order, so that none always runs first.
    for round in 0..ROUNDS {
        for variant in 0..3 {
            match (round + variant) % 3 {
                0 => {
                    let dir = support::temp_dir("checkpoint-figures");
                    let store = rt
                        .block_on(DirectoryStore::open(&dir))
                        .expect("the directory opens");
                    let path = store.path_of(1.into());
                    directory.push(take(rt, keys, store));
                    file_bytes = std::fs::metadata(&path)
                        .expect("checkpoint 1 is kept")
                        .len();
                    std::fs::remove_dir_all(&dir).expect("the directory is removed");
                }
                1 => memory.push(take(rt, keys, MemoryStore::new())),
                _ => {
                    let start = Instant::now();
                    rt.block_on(open_keys(keys, HOUR_MS, None, |_| {}));
                    plain.push(start.elapsed());
                }
            }
        }
    }
    let best = |taken: &[Taken], f: &dyn Fn(&Taken) -> Duration| {
        taken.iter().map(f).min().expect("several runs")
    };
    let to_start = |t: &Taken| t.save.started.saturating_duration_since(t.barrier);
    let saving = |t: &Taken| t.save.finished - t.save.started;
    let total = |t: &Taken| t.save.finished.saturating_duration_since(t.barrier);
    let run = |t: &Taken| t.run;
    let plain = plain.iter().min().copied().expect("several runs");
    println!(
        "  {keys:>9} keys: file {file_bytes} bytes, state {} bytes ({:.1} bytes/key)",
        directory[0].save.state_bytes,
        directory[0].save.state_bytes as f64 / f64::from(keys),
    );
    for (store, taken) in [("DirectoryStore", &directory), ("MemoryStore", &memory)] {
        println!(
            "    {store:<14} barrier->saved {:7.2} ms = barrier->save start {:7.2} ms \
             + save {:7.2} ms; run {:7.1} ms vs {:7.1} ms without checkpoints (+{:.1} ms) \
             [best of {ROUNDS}]",
            ms(best(taken, &total)),
            ms(best(taken, &to_start)),
            ms(best(taken, &saving)),
            ms(best(taken, &run)),
            ms(plain),
            ms(best(taken, &run).saturating_sub(plain)),
        );
    }
}

fn throughput(rt: &Runtime, events: u64) {
    let rounds = paired_rounds(rt, events, THROUGHPUT_ROUNDS);
    println!(
        "throughput, tumbling 1 s windows, 10k keys, {}M events, {THROUGHPUT_ROUNDS} rounds:",
        events / 1_000_000
    );
    rounds.print();
}

/// Rounds of the throughput comparison.
const THROUGHPUT_ROUNDS: usize = 7;
