//! Faults injected at seeded points of a checkpointed, windowed flow in this process, each
//! followed by a restart from the last complete checkpoint: a panic in an operator, an item
//! that fails under `ErrorPolicy::fail`, an aborted task, a panic while an operator snapshots
//! its state and a panic while it restores it.
//!
//! The flow reads a CSV file, assigns watermarks, keys and windows the rows and aggregates
//! each window with a custom aggregator, into the exactly-once JSON-lines sink. After recovery
//! the committed file holds the uninterrupted run's lines: none lost, none doubled, each key's
//! in the golden order (the keys of one window may come in another order; see
//! `crash_kill.rs`). With a plain sink instead, nothing is lost, and the lines repeated are at
//! most those emitted after the checkpoint the restart resumed from.

mod support;

#[path = "support/crash.rs"]
mod crash;

use std::cell::Cell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use crash::{diff, reordered_keys, window_groups, write_csv, Rng};
use futures::Stream;
use rheoflow::aggregate::Aggregator;
use rheoflow::checkpoint::{Checkpoints, DirectoryStore, MemoryStore, Trigger};
use rheoflow::error::SinkError;
use rheoflow::sink::{self, Sink};
use rheoflow::supervision::{supervise, RestartStrategy};
use rheoflow::time::WatermarkStrategy;
use rheoflow::window::{Tumbling, WindowResult};
use rheoflow::{source, Error, ErrorPolicy, Flow, Message, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use support::TempDir;
use tokio::task::AbortHandle;

/// Rows of the input, their keys, and rows between checkpoints.
const ROWS: usize = 1_500;
const KEYS: u64 = 8;
const EVERY: u64 = 40;

/// What every injected panic says, so that the panic hook keeps them quiet.
const INJECTED: &str = "injected fault";

// ---------------------------------------------------------------------------------------------
// The flow

#[derive(Debug, Clone, Deserialize)]
struct Row {
    seq: u64,
    key: String,
    ts: i64,
    value: f64,
}

/// One window result, as the sink writes it: `first` and `last` are the rows' `seq`.
#[derive(Debug, Serialize)]
struct Line {
    key: String,
    start: i64,
    end: i64,
    count: u64,
    sum: f64,
    first: u64,
    last: u64,
}

impl Line {
    fn of(result: WindowResult<String, Acc>) -> Self {
        Line {
            key: result.key,
            start: result.window.start().millis(),
            end: result.window.end().millis(),
            count: result.value.count,
            sum: result.value.sum,
            first: result.value.first,
            last: result.value.last,
        }
    }
}

/// Count, sum and the first and last row of a window and key.
#[derive(Debug, Clone, Default)]
struct Stats;

#[derive(Debug, Clone, Default, PartialEq)]
struct Acc {
    count: u64,
    sum: f64,
    first: u64,
    last: u64,
}

impl Aggregator<Row> for Stats {
    type Acc = Acc;
    type Output = Acc;

    fn create(&self) -> Acc {
        Acc::default()
    }

    fn add(&self, acc: &mut Acc, row: &Row) {
        if acc.count == 0 {
            acc.first = row.seq;
        }
        acc.count += 1;
        acc.sum += row.value;
        acc.last = row.seq;
    }

    fn merge(&self, acc: &mut Acc, other: &Acc) {
        if other.count == 0 {
            return;
        }
        if acc.count == 0 {
            acc.first = other.first;
        }
        acc.count += other.count;
        acc.sum += other.sum;
        acc.last = other.last;
    }

    fn result(&self, acc: &Acc) -> Acc {
        acc.clone()
    }
}

// The accumulator's serde impls are where snapshots and restores can be made to panic. Every
// test runs on its own thread, on a current-thread runtime, so these flags are the test's own.
thread_local! {
    /// Accumulators serialized (by snapshots) so far.
    static SERIALIZED: Cell<u64> = const { Cell::new(0) };
    /// Panic in the serialization that makes `SERIALIZED` reach this count.
    static SNAPSHOT_BOMB: Cell<Option<u64>> = const { Cell::new(None) };
    /// Panic in the next deserialization of an accumulator (by a restore).
    static RESTORE_BOMB: Cell<bool> = const { Cell::new(false) };
    /// Faults of the serde impls that fired.
    static SERDE_FIRED: Cell<u32> = const { Cell::new(0) };
}

impl Serialize for Acc {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let n = SERIALIZED.get() + 1;
        SERIALIZED.set(n);
        if SNAPSHOT_BOMB.get() == Some(n) {
            SNAPSHOT_BOMB.set(None);
            SERDE_FIRED.set(SERDE_FIRED.get() + 1);
            panic!("{INJECTED}: snapshot of accumulator {n}");
        }
        (self.count, self.sum, self.first, self.last).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Acc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if RESTORE_BOMB.replace(false) {
            SERDE_FIRED.set(SERDE_FIRED.get() + 1);
            panic!("{INJECTED}: restore of an accumulator");
        }
        let (count, sum, first, last) = Deserialize::deserialize(deserializer)?;
        Ok(Acc {
            count,
            sum,
            first,
            last,
        })
    }
}

/// The faults of one scenario, shared by its attempts: each fires once, on the first attempt
/// that reaches it.
#[derive(Debug, Default)]
struct Faults {
    /// The `map` panics at this row.
    panic_at: Option<u64>,
    /// The `try_map` fails at this row.
    error_at: Option<u64>,
    /// The flow's task is aborted once this row went through.
    abort_at: Option<u64>,
    abort: Mutex<Option<AbortHandle>>,
    fired: AtomicU32,
    panicked: AtomicBool,
    failed: AtomicBool,
    aborted: AtomicBool,
}

impl Faults {
    fn once(&self, at: Option<u64>, seq: u64, done: &AtomicBool) -> bool {
        let hit = at == Some(seq) && !done.swap(true, Ordering::SeqCst);
        if hit {
            self.fired.fetch_add(1, Ordering::SeqCst);
        }
        hit
    }
}

#[derive(Debug)]
struct InjectedError(u64);

impl std::fmt::Display for InjectedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{INJECTED}: row {}", self.0)
    }
}

impl std::error::Error for InjectedError {}

/// The files of a scenario.
struct Paths {
    input: PathBuf,
    output: PathBuf,
}

/// The flow from the rows to the lines, with `faults` injected.
fn lines<S>(
    rows: Flow<S>,
    faults: Arc<Faults>,
) -> Flow<impl Stream<Item = Message<Line>> + Send + 'static>
where
    S: Stream<Item = Message<Row>> + Send + 'static,
{
    let time = |row: &Row| Timestamp::from_millis(row.ts);
    let (panics, errors, aborts) = (faults.clone(), faults.clone(), faults);
    rows.map(move |row: Row| {
        if panics.once(panics.panic_at, row.seq, &panics.panicked) {
            panic!("{INJECTED}: row {}", row.seq);
        }
        row
    })
    .try_map(
        move |row: &Row| {
            if errors.once(errors.error_at, row.seq, &errors.failed) {
                return Err(InjectedError(row.seq));
            }
            Ok(row.clone())
        },
        ErrorPolicy::fail(),
    )
    .inspect(move |row: &Row| {
        if aborts.once(aborts.abort_at, row.seq, &aborts.aborted) {
            if let Some(handle) = &*aborts.abort.lock().expect("not poisoned") {
                handle.abort();
            }
        }
    })
    .watermarks(
        time,
        WatermarkStrategy::bounded_out_of_orderness(Duration::from_millis(30)),
    )
    .name("watermarks")
    .key_by(|row: &Row| row.key.clone())
    .window(Tumbling::of(Duration::from_millis(500)), time)
    .aggregate(Stats)
    .name("windows")
    .map(Line::of)
}

/// Where a scenario keeps its checkpoints: in memory, or in a directory as a process would.
#[derive(Clone)]
enum Store {
    Memory(MemoryStore),
    Directory(PathBuf),
}

impl Store {
    async fn open(self) -> Result<Checkpoints, Error> {
        let trigger = Trigger::every_events(EVERY);
        Ok(match self {
            Store::Memory(store) => Checkpoints::open(store, trigger).await?,
            Store::Directory(dir) => {
                Checkpoints::open(DirectoryStore::open(dir).await?, trigger).await?
            }
        })
    }
}

/// One run of the flow into the exactly-once sink, restoring from and checkpointing into
/// `store`.
async fn exactly_once(store: Store, paths: Arc<Paths>, faults: Arc<Faults>) -> Result<(), Error> {
    let checkpoints = store.open().await?;
    let rows = source::csv_file::<Row>(&paths.input)
        .await?
        .into_flow()
        .checkpointed(&checkpoints)
        .name("rows");
    lines(rows, faults)
        .send_exactly_once(sink::exactly_once_json_lines(&paths.output).await?)
        .await?;
    checkpoints.wait_idle().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Scenarios

/// Keeps the injected panics out of the test output; any other panic is reported as usual.
fn quiet_injected_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or_default();
            if !message.contains(INJECTED) {
                default(info);
            }
        }));
    });
}

/// A test's input and the uninterrupted run's output.
struct Setup {
    dir: TempDir,
    input: PathBuf,
    golden: String,
    /// Accumulators the uninterrupted run serialized in its snapshots.
    serialized: u64,
}

impl Setup {
    async fn new(name: &str) -> Self {
        quiet_injected_panics();
        let dir = TempDir::new(name);
        let input = dir.join("input.csv");
        // Rows 5 ms apart on average, jittered by up to 20 ms: half-second windows fire every
        // ~100 rows, with no late row (out-of-orderness 30 ms).
        write_csv(&input, 7, ROWS, KEYS, 5, 20);
        let paths = Arc::new(Paths {
            input: input.clone(),
            output: dir.join("golden.jsonl"),
        });
        SERIALIZED.set(0);
        exactly_once(
            Store::Memory(MemoryStore::new()),
            Arc::clone(&paths),
            Arc::default(),
        )
        .await
        .expect("the uninterrupted run succeeds");
        let serialized = SERIALIZED.get();
        let golden = std::fs::read_to_string(&paths.output).expect("read the golden output");
        let windows = golden.lines().count();
        assert!(windows >= 100, "only {windows} windows");
        assert!(
            serialized > 100,
            "only {serialized} accumulators in snapshots"
        );
        Setup {
            dir,
            input,
            golden,
            serialized,
        }
    }

    fn paths(&self, name: &str) -> Arc<Paths> {
        Arc::new(Paths {
            input: self.input.clone(),
            output: self.dir.join(name),
        })
    }
}

/// What the scenarios of a test found.
#[derive(Debug, Default)]
struct Figures {
    points: usize,
    attempts: u32,
    lost: usize,
    duplicated: usize,
    reordered_keys: usize,
    /// Outputs equal to the golden one byte for byte (not only window by window).
    byte_identical: usize,
}

impl Figures {
    /// Checks the output of a recovered scenario against the golden one.
    fn check(&mut self, setup: &Setup, output: &str, attempts: u32, context: &str) {
        let found = diff(setup.golden.lines(), output.lines());
        let reordered = reordered_keys(&setup.golden, output);
        self.points += 1;
        self.attempts += attempts;
        self.lost += found.lost;
        self.duplicated += found.duplicated;
        self.reordered_keys += reordered;
        self.byte_identical += usize::from(output == setup.golden);
        assert!(found.is_clean(), "{context}: {found:?}");
        assert_eq!(reordered, 0, "{context}: keys reordered");
        assert!(
            window_groups(output) == window_groups(&setup.golden),
            "{context}: the windows differ from the uninterrupted run's"
        );
    }

    fn report(&self, test: &str) {
        eprintln!("crash_recovery {test}: {self:?}");
    }
}

/// Runs the flow under `supervise` with `faults`, checkpointing in memory, arming the restore
/// bomb before attempt `restore_bomb_at` if given. Returns the committed output and the number
/// of attempts.
async fn supervised(
    setup: &Setup,
    name: &str,
    faults: Faults,
    restore_bomb_at: Option<u32>,
) -> (String, u32) {
    let store = Store::Memory(MemoryStore::new());
    supervised_in(setup, name, store, faults, restore_bomb_at).await
}

/// [`supervised`], checkpointing into `store`.
async fn supervised_in(
    setup: &Setup,
    name: &str,
    store: Store,
    faults: Faults,
    restore_bomb_at: Option<u32>,
) -> (String, u32) {
    let paths = setup.paths(name);
    let faults = Arc::new(faults);
    let attempts = Arc::new(AtomicU32::new(0));
    let strategy = RestartStrategy::fixed_delay(Duration::ZERO, 6);
    let counted = Arc::clone(&attempts);
    supervise(strategy, |attempt| {
        counted.store(attempt, Ordering::SeqCst);
        if restore_bomb_at == Some(attempt) {
            RESTORE_BOMB.set(true);
        }
        exactly_once(store.clone(), Arc::clone(&paths), Arc::clone(&faults))
    })
    .await
    .unwrap_or_else(|error| panic!("{name}: every attempt failed: {error}"));
    let output = std::fs::read_to_string(&paths.output).expect("read the output");
    (output, attempts.load(Ordering::SeqCst))
}

/// Seeded rows of the input, from row 1.
fn seeded_rows(seed: u64, count: usize) -> Vec<u64> {
    let mut rng = Rng(seed);
    (0..count).map(|_| rng.range(1, ROWS as u64 - 1)).collect()
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_an_operator_is_recovered_exactly_once() {
    let setup = Setup::new("panic").await;
    let mut figures = Figures::default();
    for (point, row) in seeded_rows(1, 6).into_iter().enumerate() {
        let faults = Faults {
            panic_at: Some(row),
            ..Faults::default()
        };
        let (output, attempts) = supervised(&setup, &format!("panic-{point}"), faults, None).await;
        assert_eq!(attempts, 2, "the panic at row {row} fired once");
        figures.check(&setup, &output, attempts, &format!("panic at row {row}"));
    }
    figures.report("panic in map");
}

#[tokio::test(start_paused = true)]
async fn an_item_that_fails_the_flow_is_recovered_exactly_once() {
    let setup = Setup::new("error").await;
    let mut figures = Figures::default();
    for (point, row) in seeded_rows(2, 5).into_iter().enumerate() {
        let faults = Faults {
            error_at: Some(row),
            ..Faults::default()
        };
        let (output, attempts) = supervised(&setup, &format!("error-{point}"), faults, None).await;
        assert_eq!(attempts, 2, "the error at row {row} fired once");
        figures.check(&setup, &output, attempts, &format!("error at row {row}"));
    }
    figures.report("error item");
}

#[tokio::test(start_paused = true)]
async fn an_aborted_task_restarted_by_hand_is_recovered_exactly_once() {
    let setup = Setup::new("abort").await;
    let mut figures = Figures::default();
    for (point, row) in seeded_rows(3, 5).into_iter().enumerate() {
        let paths = setup.paths(&format!("abort-{point}"));
        let store = Store::Memory(MemoryStore::new());
        let faults = Arc::new(Faults {
            abort_at: Some(row),
            ..Faults::default()
        });
        let mut attempts = 0;
        loop {
            attempts += 1;
            assert!(attempts <= 3, "abort at row {row}: too many attempts");
            let task = tokio::spawn(exactly_once(
                store.clone(),
                Arc::clone(&paths),
                Arc::clone(&faults),
            ));
            *faults.abort.lock().expect("not poisoned") = Some(task.abort_handle());
            match task.await {
                Ok(result) => {
                    result.unwrap_or_else(|error| panic!("abort at row {row}: {error}"));
                    break;
                }
                Err(error) if error.is_cancelled() => continue,
                Err(error) => panic!("abort at row {row}: {error}"),
            }
        }
        assert_eq!(attempts, 2, "the abort at row {row} fired once");
        let output = std::fs::read_to_string(&paths.output).expect("read the output");
        figures.check(&setup, &output, attempts, &format!("abort at row {row}"));
    }
    figures.report("task abort");
}

#[tokio::test(start_paused = true)]
async fn a_panic_while_snapshotting_is_recovered_exactly_once() {
    let setup = Setup::new("snapshot").await;
    let mut figures = Figures::default();
    let mut rng = Rng(4);
    for point in 0..5 {
        // The n-th accumulator serialized by the run's snapshots, counted from now.
        let n = rng.range(1, setup.serialized);
        SNAPSHOT_BOMB.set(Some(SERIALIZED.get() + n));
        let fired = SERDE_FIRED.get();
        let (output, attempts) = supervised(
            &setup,
            &format!("snapshot-{point}"),
            Faults::default(),
            None,
        )
        .await;
        assert_eq!(SERDE_FIRED.get(), fired + 1, "the snapshot bomb {n} fired");
        assert_eq!(attempts, 2);
        figures.check(
            &setup,
            &output,
            attempts,
            &format!("panic in the snapshot of accumulator {n}"),
        );
    }
    figures.report("panic in snapshot");
}

#[tokio::test(start_paused = true)]
async fn a_panic_while_restoring_is_recovered_exactly_once() {
    let setup = Setup::new("restore").await;
    let mut figures = Figures::default();
    // A panic in the map first, late enough that the checkpoint to restore holds windows; the
    // first restore then panics too, and the second one succeeds.
    for (point, row) in seeded_rows(5, 4).into_iter().enumerate() {
        let row = row.max(2 * EVERY);
        let fired = SERDE_FIRED.get();
        let faults = Faults {
            panic_at: Some(row),
            ..Faults::default()
        };
        let (output, attempts) =
            supervised(&setup, &format!("restore-{point}"), faults, Some(2)).await;
        assert_eq!(SERDE_FIRED.get(), fired + 1, "the restore bomb fired");
        assert_eq!(attempts, 3);
        figures.check(
            &setup,
            &output,
            attempts,
            &format!("panic at row {row}, then in the restore"),
        );
    }
    figures.report("panic in restore");
}

#[tokio::test(start_paused = true)]
async fn every_fault_in_one_run_is_recovered_exactly_once() {
    let setup = Setup::new("chain").await;
    let mut figures = Figures::default();
    let mut rng = Rng(6);
    for point in 0..2 {
        let faults = Faults {
            panic_at: Some(rng.range(2 * EVERY, ROWS as u64 / 3)),
            error_at: Some(rng.range(ROWS as u64 / 3, 2 * ROWS as u64 / 3)),
            ..Faults::default()
        };
        SNAPSHOT_BOMB.set(Some(
            SERIALIZED.get() + rng.range(setup.serialized / 2, setup.serialized),
        ));
        let fired = SERDE_FIRED.get();
        let context = format!("chain {point}: {faults:?}");
        let (output, attempts) =
            supervised(&setup, &format!("chain-{point}"), faults, Some(2)).await;
        assert!(SERDE_FIRED.get() > fired, "{context}: no serde fault");
        assert!(attempts >= 4, "{context}: {attempts} attempts");
        figures.check(&setup, &output, attempts, &context);
    }
    figures.report("faults chained");
}

// ---------------------------------------------------------------------------------------------
// At least once

/// What a plain sink received, in order: lines, and a mark at each checkpoint barrier.
#[derive(Debug, Clone, PartialEq)]
enum Entry {
    Line(String),
    Barrier,
}

/// A sink that records what it gets into a list the test keeps.
struct Recording(Arc<Mutex<Vec<Entry>>>);

#[async_trait::async_trait]
impl Sink<Line> for Recording {
    async fn write(&mut self, batch: &mut Vec<Line>) -> Result<(), SinkError> {
        let mut entries = self.0.lock().expect("not poisoned");
        for line in batch.drain(..) {
            let text = serde_json::to_string(&line).expect("a line serializes");
            entries.push(Entry::Line(text));
        }
        Ok(())
    }

    /// Called at each barrier, once what came before it is written.
    async fn flush(&mut self) -> Result<(), SinkError> {
        self.0.lock().expect("not poisoned").push(Entry::Barrier);
        Ok(())
    }

    async fn close(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// One attempt's record: the checkpoint it restored from (0 for none) and what its sink got.
type Attempts = Arc<Mutex<Vec<(u64, Arc<Mutex<Vec<Entry>>>)>>>;

async fn at_least_once(
    store: MemoryStore,
    input: PathBuf,
    faults: Arc<Faults>,
    attempts: Attempts,
) -> Result<(), Error> {
    let checkpoints = Checkpoints::open(store, Trigger::every_events(EVERY)).await?;
    let restored = checkpoints.restored().map_or(0, |c| c.id().get());
    let entries = Arc::new(Mutex::new(Vec::new()));
    attempts
        .lock()
        .expect("not poisoned")
        .push((restored, Arc::clone(&entries)));
    let rows = source::csv_file::<Row>(&input)
        .await?
        .into_flow()
        .checkpointed(&checkpoints)
        .name("rows");
    // A yield after each line, so that lines reach the sink as they come, not only at barriers.
    lines(rows, faults)
        .map_async(1, |line| async move {
            tokio::task::yield_now().await;
            line
        })
        .send_to(Recording(entries))
        .await?;
    checkpoints.wait_idle().await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn with_a_plain_sink_nothing_is_lost_and_only_the_tail_repeats() {
    let setup = Setup::new("at-least-once").await;
    let golden: std::collections::BTreeSet<&str> = setup.golden.lines().collect();
    let (mut points, mut lost, mut duplicated, mut bound) = (0, 0, 0, 0);
    for row in seeded_rows(8, 6) {
        let store = MemoryStore::new();
        let attempts: Attempts = Arc::default();
        let faults = Arc::new(Faults {
            panic_at: Some(row),
            ..Faults::default()
        });
        let strategy = RestartStrategy::fixed_delay(Duration::ZERO, 3);
        supervise(strategy, |_| {
            at_least_once(
                store.clone(),
                setup.input.clone(),
                Arc::clone(&faults),
                Arc::clone(&attempts),
            )
        })
        .await
        .unwrap_or_else(|error| panic!("panic at row {row}: every attempt failed: {error}"));

        let attempts = attempts.lock().expect("not poisoned").clone();
        assert_eq!(attempts.len(), 2, "panic at row {row}: fired once");
        let mut output = Vec::new();
        // Lines of a failed attempt after the barrier of the checkpoint the next attempt
        // restored from: the next attempt emits them again.
        let mut tail = 0;
        for (index, (restored, entries)) in attempts.iter().enumerate() {
            let entries = entries.lock().expect("not poisoned");
            let mut barrier = *restored;
            let resumed_from = attempts.get(index + 1).map(|(next, _)| *next);
            for entry in entries.iter() {
                match entry {
                    Entry::Barrier => barrier += 1,
                    Entry::Line(line) => {
                        output.push(line.clone());
                        if resumed_from.is_some_and(|from| barrier >= from) {
                            tail += 1;
                        }
                    }
                }
            }
        }
        let found = diff(setup.golden.lines(), output.iter().map(String::as_str));
        for line in &output {
            assert!(
                golden.contains(line.as_str()),
                "panic at row {row}: {line} is not a golden line"
            );
        }
        assert_eq!(found.lost, 0, "panic at row {row}: lines lost");
        assert!(
            found.duplicated <= tail,
            "panic at row {row}: {} lines repeated, {tail} emitted after the last checkpoint",
            found.duplicated
        );
        points += 1;
        lost += found.lost;
        duplicated += found.duplicated;
        bound += tail;
    }
    eprintln!(
        "crash_recovery at-least-once: {points} points, lost {lost}, duplicated {duplicated} \
         (at most {bound}: the lines after the last complete checkpoint)"
    );
}

#[tokio::test(start_paused = true)]
async fn a_panic_is_recovered_exactly_once_with_checkpoints_in_a_directory() {
    let setup = Setup::new("directory").await;
    let mut figures = Figures::default();
    for (point, row) in seeded_rows(9, 3).into_iter().enumerate() {
        let checkpoints = TempDir::new(&format!("directory-{point}"));
        let store = Store::Directory(checkpoints.path().to_path_buf());
        let faults = Faults {
            panic_at: Some(row),
            ..Faults::default()
        };
        let name = format!("directory-{point}");
        let (output, attempts) = supervised_in(&setup, &name, store, faults, None).await;
        assert_eq!(attempts, 2, "the panic at row {row} fired once");
        figures.check(&setup, &output, attempts, &format!("panic at row {row}"));
    }
    figures.report("panic in map, directory store");
}

/// Two failures in a row with checkpoints in a directory: a panic in the flow, then a panic in
/// the restore of the restart, right away (no restart delay).
///
/// The failed attempt's checkpoint writer outlives it. Without fencing, a checkpoint it was
/// saving when the flow panicked would land in the directory after the restart restored the
/// one before (and its sink dropped the newer checkpoint's pending transaction), and the next
/// restart would restore a checkpoint whose transaction is gone. Opening the store fences the
/// old writer off: its save in progress finishes first, and it saves nothing afterwards.
#[tokio::test(start_paused = true)]
async fn two_failures_in_a_row_are_recovered_with_checkpoints_in_a_directory() {
    let setup = Setup::new("directory-twice").await;
    let mut figures = Figures::default();
    for (point, row) in seeded_rows(11, 5).into_iter().enumerate() {
        let row = row.max(2 * EVERY);
        let checkpoints = TempDir::new(&format!("directory-twice-{point}"));
        let store = Store::Directory(checkpoints.path().to_path_buf());
        let faults = Faults {
            panic_at: Some(row),
            ..Faults::default()
        };
        let name = format!("directory-twice-{point}");
        let (output, attempts) = supervised_in(&setup, &name, store, faults, Some(2)).await;
        assert_eq!(attempts, 3);
        figures.check(
            &setup,
            &output,
            attempts,
            &format!("panic at row {row}, then in the restore"),
        );
    }
    figures.report("panic in map then in restore, directory store");
}
