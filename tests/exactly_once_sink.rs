//! The exactly-once JSON-lines sink and the two-phase-commit runner: uninterrupted runs, a crash
//! at every step of a run and chains of crashes at seeded points, each followed by a restart
//! that must leave the file exactly as one uninterrupted run (nothing lost, nothing doubled);
//! output of incomplete checkpoints never visible; pending files committed once on recovery.

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rheoflow::checkpoint::{
    Checkpoint, CheckpointError, CheckpointId, CheckpointStore, Checkpoints, DirectoryStore,
    MemoryStore, Trigger,
};
use rheoflow::error::SinkError;
use rheoflow::sink::{self, ExactlyOnceJsonLines, PendingAppend, TwoPhaseCommit};
use rheoflow::source::{Position, Source};
use rheoflow::{Error, ErrorPolicy, Flow, Message};
use support::TempDir;
use tokio::sync::{mpsc, Semaphore};

mod support;

/// The stateless pipeline between source and sink in these tests.
fn transform(x: u64) -> u64 {
    x * 7 % 1000
}

fn keep(x: &u64) -> bool {
    !x.is_multiple_of(3)
}

/// What one uninterrupted run over `0..len` writes.
fn golden(len: u64) -> String {
    lines((0..len).map(transform).filter(keep))
}

fn lines(items: impl IntoIterator<Item = u64>) -> String {
    items.into_iter().map(|x| format!("{x}\n")).collect()
}

fn read(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => panic!("read {}: {error}", path.display()),
    }
}

/// What the sink under test did, in order.
#[derive(Debug, Clone, PartialEq)]
enum Event {
    Recovered(usize),
    Wrote(usize),
    PreCommitted(u64),
    Committed(u64),
    Aborted(u64),
    Crashed,
}

/// The file sink, reporting each call and "crashing" (hanging, until the test aborts its task)
/// at a chosen step: step `2k` is just before the `k`-th call, step `2k + 1` just after it.
struct Harness {
    inner: ExactlyOnceJsonLines,
    events: mpsc::UnboundedSender<Event>,
    crash_at: Option<usize>,
    step: usize,
}

impl Harness {
    async fn open(path: &Path, crash_at: Option<usize>) -> (Self, mpsc::UnboundedReceiver<Event>) {
        let (events, receiver) = mpsc::unbounded_channel();
        let inner = sink::exactly_once_json_lines(path)
            .await
            .expect("open the sink");
        let harness = Harness {
            inner,
            events,
            crash_at,
            step: 0,
        };
        (harness, receiver)
    }

    async fn step(&mut self) {
        if self.crash_at == Some(self.step) {
            let _ = self.events.send(Event::Crashed);
            std::future::pending::<()>().await;
        }
        self.step += 1;
    }

    fn report(&self, event: Event) {
        let _ = self.events.send(event);
    }
}

type Inner = dyn TwoPhaseCommit<u64, Pending = PendingAppend>;

#[async_trait::async_trait]
impl TwoPhaseCommit<u64> for Harness {
    type Pending = PendingAppend;

    async fn recover(&mut self, committed: Vec<PendingAppend>) -> Result<(), SinkError> {
        self.step().await;
        let count = committed.len();
        (&mut self.inner as &mut Inner).recover(committed).await?;
        self.report(Event::Recovered(count));
        self.step().await;
        Ok(())
    }

    async fn write(&mut self, batch: &mut Vec<u64>) -> Result<(), SinkError> {
        self.step().await;
        let count = batch.len();
        (&mut self.inner as &mut Inner).write(batch).await?;
        self.report(Event::Wrote(count));
        self.step().await;
        Ok(())
    }

    async fn pre_commit(&mut self, checkpoint: CheckpointId) -> Result<PendingAppend, SinkError> {
        self.step().await;
        let pending = (&mut self.inner as &mut Inner)
            .pre_commit(checkpoint)
            .await?;
        self.report(Event::PreCommitted(checkpoint.get()));
        self.step().await;
        Ok(pending)
    }

    async fn commit(&mut self, pending: PendingAppend) -> Result<(), SinkError> {
        self.step().await;
        let checkpoint = pending.checkpoint().get();
        (&mut self.inner as &mut Inner).commit(pending).await?;
        self.report(Event::Committed(checkpoint));
        self.step().await;
        Ok(())
    }

    async fn abort(&mut self, pending: PendingAppend) -> Result<(), SinkError> {
        let checkpoint = pending.checkpoint().get();
        (&mut self.inner as &mut Inner).abort(pending).await?;
        self.report(Event::Aborted(checkpoint));
        Ok(())
    }
}

/// How a run ended.
#[derive(Debug)]
struct Run {
    crashed: bool,
    result: Option<Result<(), Error>>,
    events: Vec<Event>,
}

/// Lets the checkpoint writer of a dropped coordinator save what it was given: a crashed process
/// saves nothing more, but a checkpoint it handed over before is in the store.
async fn settle() {
    for _ in 0..16 {
        tokio::task::yield_now().await;
    }
}

/// Runs `0..len` through the test pipeline into the sink on `path`, checkpointing into `store`
/// every `every` items, crashing at step `crash_at`.
async fn run_once(
    store: &MemoryStore,
    path: &Path,
    len: u64,
    every: u64,
    crash_at: Option<usize>,
) -> Run {
    let checkpoints = Checkpoints::open(store.clone(), Trigger::every_events(every))
        .await
        .expect("open checkpoints");
    let (sink, mut events) = Harness::open(path, crash_at).await;
    let flow = Flow::from_iter(0..len)
        .checkpointed(&checkpoints)
        .map(transform)
        .filter(keep);
    let mut task = tokio::spawn(flow.send_exactly_once(sink));
    let mut seen = Vec::new();
    let result = loop {
        tokio::select! {
            biased;
            Some(event) = events.recv() => {
                if event == Event::Crashed {
                    task.abort();
                    let joined = task.await;
                    assert!(joined.is_err_and(|error| error.is_cancelled()));
                    drop(checkpoints);
                    settle().await;
                    return Run { crashed: true, result: None, events: seen };
                }
                seen.push(event);
            }
            joined = &mut task => break joined.expect("the flow did not panic").map(drop),
        }
    };
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    drop(checkpoints);
    settle().await;
    Run {
        crashed: false,
        result: Some(result),
        events: seen,
    }
}

/// The committed file holds the first lines of `expected`, whole.
fn assert_prefix(path: &Path, expected: &str, context: &str) {
    let text = read(path);
    assert!(
        expected.starts_with(&text) && (text.is_empty() || text.ends_with('\n')),
        "{context}: the committed file is not a prefix of the output:\n{text:?}"
    );
}

/// A restart after a crash: ends normally with the exact output and no leftover files.
async fn finish_and_check(dir: &TempDir, store: &MemoryStore, len: u64, every: u64, context: &str) {
    let path = dir.join("out.jsonl");
    let run = run_once(store, &path, len, every, None).await;
    assert!(!run.crashed);
    run.result
        .expect("the run ended")
        .unwrap_or_else(|error| panic!("{context}: the restart failed: {error}"));
    assert_eq!(read(&path), golden(len), "{context}");
    assert_eq!(dir.files(), ["out.jsonl"], "{context}: leftover files");
}

#[tokio::test(start_paused = true)]
async fn an_uninterrupted_run_writes_every_item_once() {
    for (len, every) in [(0, 3), (1, 1), (40, 4), (40, 1_000), (3_000, 700)] {
        let dir = TempDir::new("uninterrupted");
        let path = dir.join("out.jsonl");
        let store = MemoryStore::new();
        let run = run_once(&store, &path, len, every, None).await;
        run.result
            .expect("the run ended")
            .expect("the run succeeded");
        assert_eq!(read(&path), golden(len), "len {len}, every {every}");
        assert_eq!(dir.files(), ["out.jsonl"]);
        // Barriers every `every` items and a final one; each checkpoint committed in order.
        let committed: Vec<u64> = run
            .events
            .iter()
            .filter_map(|event| match event {
                Event::Committed(id) => Some(*id),
                _ => None,
            })
            .collect();
        assert_eq!(committed, (1..=len / every + 1).collect::<Vec<_>>());
    }
}

#[tokio::test(start_paused = true)]
async fn a_crash_at_any_step_then_a_restart_writes_every_item_exactly_once() {
    for (len, every) in [(30, 4), (12, 1), (25, 100)] {
        let steps = {
            let dir = TempDir::new("steps");
            let run = run_once(
                &MemoryStore::new(),
                &dir.join("out.jsonl"),
                len,
                every,
                None,
            )
            .await;
            2 * run.events.len()
        };
        assert!(steps >= 6);
        for crash_at in 0..steps {
            let context = format!("len {len}, every {every}, crash at step {crash_at}");
            let dir = TempDir::new("crash");
            let path = dir.join("out.jsonl");
            let store = MemoryStore::new();
            let run = run_once(&store, &path, len, every, Some(crash_at)).await;
            assert!(run.crashed, "{context}: no crash");
            assert_prefix(&path, &golden(len), &context);
            finish_and_check(&dir, &store, len, every, &context).await;
        }
    }
}

/// A small deterministic generator (SplitMix64), so that failures replay from their seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % bound
    }
}

#[tokio::test(start_paused = true)]
async fn chains_of_crashes_at_seeded_points_lose_and_double_nothing() {
    for seed in 0..40 {
        let mut rng = Rng(seed);
        let len = rng.below(80);
        let every = 1 + rng.below(9);
        let dir = TempDir::new("chain");
        let path = dir.join("out.jsonl");
        let store = MemoryStore::new();
        let crashes = 1 + rng.below(4);
        for crash in 0..crashes {
            let crash_at = rng.below(70) as usize;
            let context =
                format!("seed {seed}: len {len}, every {every}, crash {crash} at step {crash_at}");
            let run = run_once(&store, &path, len, every, Some(crash_at)).await;
            if let Some(result) = run.result {
                result.unwrap_or_else(|error| panic!("{context}: {error}"));
                assert_eq!(read(&path), golden(len), "{context}");
            }
            assert_prefix(&path, &golden(len), &context);
        }
        finish_and_check(&dir, &store, len, every, &format!("seed {seed}")).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_crash_between_pre_commit_and_commit_is_committed_once_on_recovery() -> Result<(), Error>
{
    let dir = TempDir::new("between");
    let path = dir.join("out.jsonl");
    let store = MemoryStore::new();
    // Steps: recover (0, 1), write (2, 3), pre-commit 1 (4, 5), then just before commit 1.
    let run = run_once(&store, &path, 10, 5, Some(6)).await;
    assert!(run.crashed);
    assert_eq!(
        run.events,
        [
            Event::Recovered(0),
            Event::Wrote(golden(5).lines().count()),
            Event::PreCommitted(1)
        ]
    );
    // Checkpoint 1 is complete, its transaction pre-committed but not visible.
    assert_eq!(store.latest().await?.map(|c| c.id().get()), Some(1));
    assert_eq!(read(&path), "");
    assert_eq!(read(&dir.join("out.jsonl.pending-1")), golden(5));

    let run = run_once(&store, &path, 10, 5, None).await;
    run.result.expect("the run ended")?;
    assert_eq!(run.events[0], Event::Recovered(1));
    assert_eq!(read(&path), golden(10));
    assert_eq!(dir.files(), ["out.jsonl"]);
    Ok(())
}

#[tokio::test]
async fn recovery_appends_once_drops_partial_appends_and_leftovers() -> Result<(), Error> {
    let dir = TempDir::new("recovery");
    let path = dir.join("out.jsonl");
    type Sink = dyn TwoPhaseCommit<u64, Pending = PendingAppend>;

    let mut first = sink::exactly_once_json_lines(&path).await?;
    let sink: &mut Sink = &mut first;
    sink.recover(Vec::new()).await?;
    sink.write(&mut vec![1, 2, 3]).await?;
    let one = sink.pre_commit(CheckpointId::new(1)).await?;
    sink.write(&mut vec![4, 5]).await?;
    let two = sink.pre_commit(CheckpointId::new(2)).await?;
    sink.write(&mut vec![6]).await?;
    let three = sink.pre_commit(CheckpointId::new(3)).await?;
    sink.write(&mut vec![7]).await?;
    sink.commit(one.clone()).await?;
    assert_eq!(read(&path), "1\n2\n3\n");
    assert_eq!(
        (two.checkpoint(), two.base_len(), two.len()),
        (CheckpointId::new(2), 6, 4)
    );
    // A crash in the middle of committing checkpoint 2: half of it appended.
    let pending_two = std::fs::read(dir.join("out.jsonl.pending-2")).expect("pending file");
    let mut partial = std::fs::read(&path).expect("committed file");
    partial.extend_from_slice(&pending_two[..3]);
    std::fs::write(&path, &partial).expect("write the partial append");
    drop(first);
    assert_eq!(
        dir.files(),
        [
            "out.jsonl",
            "out.jsonl.inprogress",
            "out.jsonl.pending-2",
            "out.jsonl.pending-3"
        ]
    );

    // Restored from checkpoint 2: 1 and 2 are committed (1 again), 3 and the rest discarded.
    for _ in 0..2 {
        let mut again = sink::exactly_once_json_lines(&path).await?;
        let sink: &mut Sink = &mut again;
        sink.recover(vec![one.clone(), two.clone()]).await?;
        assert_eq!(read(&path), "1\n2\n3\n4\n5\n");
        assert_eq!(dir.files(), ["out.jsonl"]);
    }

    // Restored from an older checkpoint than the last committed: the later output goes.
    let mut older = sink::exactly_once_json_lines(&path).await?;
    let sink: &mut Sink = &mut older;
    sink.recover(vec![one.clone()]).await?;
    assert_eq!(read(&path), "1\n2\n3\n");
    sink.write(&mut vec![8]).await?;
    let next = sink.pre_commit(CheckpointId::new(2)).await?;
    sink.commit(next.clone()).await?;
    sink.commit(next).await?;
    assert_eq!(read(&path), "1\n2\n3\n8\n");

    // A transaction already committed, whose output was lost since, is a typed error.
    std::fs::write(&path, "1\n").expect("shorten the committed file");
    let mut damaged = sink::exactly_once_json_lines(&path).await?;
    let sink: &mut Sink = &mut damaged;
    assert!(sink.recover(vec![one, three]).await.is_err());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_fresh_start_truncates_the_file_and_removes_leftovers() -> Result<(), Error> {
    let dir = TempDir::new("fresh");
    let path = dir.join("out.jsonl");
    std::fs::write(&path, "old output\n").expect("write");
    std::fs::write(dir.join("out.jsonl.pending-7"), "old pending\n").expect("write");
    std::fs::write(dir.join("out.jsonl.inprogress"), "old open\n").expect("write");
    std::fs::write(dir.join("other.jsonl.pending-1"), "not ours\n").expect("write");
    let run = run_once(&MemoryStore::new(), &path, 20, 6, None).await;
    run.result.expect("the run ended")?;
    assert_eq!(read(&path), golden(20));
    assert_eq!(dir.files(), ["other.jsonl.pending-1", "out.jsonl"]);
    Ok(())
}

/// A store whose saves wait for a permit, so that checkpoints stay incomplete while the test
/// looks at the file.
#[derive(Clone)]
struct GatedStore {
    inner: MemoryStore,
    permits: Arc<Semaphore>,
    saving: mpsc::UnboundedSender<u64>,
}

#[async_trait::async_trait]
impl CheckpointStore for GatedStore {
    async fn save(&mut self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let _ = self.saving.send(checkpoint.id().get());
        self.permits
            .acquire()
            .await
            .expect("the semaphore stays open")
            .forget();
        self.inner.save(checkpoint).await
    }

    async fn latest(&self) -> Result<Option<Checkpoint>, CheckpointError> {
        self.inner.latest().await
    }

    async fn list(&self) -> Result<Vec<CheckpointId>, CheckpointError> {
        self.inner.list().await
    }
}

async fn next_event(events: &mut mpsc::UnboundedReceiver<Event>, wanted: Event) {
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(event) = events.recv().await {
            if event == wanted {
                return;
            }
        }
        panic!("the sink stopped before {wanted:?}");
    })
    .await;
    assert!(found.is_ok(), "no {wanted:?}");
}

#[tokio::test(start_paused = true)]
async fn output_of_an_incomplete_checkpoint_is_never_visible() -> Result<(), Error> {
    let dir = TempDir::new("incomplete");
    let path = dir.join("out.jsonl");
    let (saving, mut saves) = mpsc::unbounded_channel();
    let permits = Arc::new(Semaphore::new(0));
    let store = GatedStore {
        inner: MemoryStore::new(),
        permits: Arc::clone(&permits),
        saving,
    };
    let checkpoints = Checkpoints::open(store, Trigger::every_events(5)).await?;
    let (sink, mut events) = Harness::open(&path, None).await;
    let task = tokio::spawn(
        Flow::from_iter(0..20u64)
            .checkpointed(&checkpoints)
            .map(transform)
            .filter(keep)
            .send_exactly_once(sink),
    );

    // Checkpoint 1 is acknowledged by every operator but not saved yet.
    assert_eq!(saves.recv().await, Some(1));
    next_event(&mut events, Event::PreCommitted(2)).await;
    assert_eq!(read(&path), "");
    assert_eq!(read(&dir.join("out.jsonl.pending-1")), golden(5));

    // Once checkpoint 1 is saved, its output shows, and not a line of checkpoint 2's.
    permits.add_permits(1);
    next_event(&mut events, Event::Committed(1)).await;
    assert_eq!(read(&path), golden(5));

    permits.add_permits(100);
    task.await.expect("the flow did not panic")?;
    assert_eq!(read(&path), golden(20));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn checkpoints_commit_while_the_input_is_idle() -> Result<(), Error> {
    let dir = TempDir::new("idle");
    let path = dir.join("out.jsonl");
    let checkpoints = Checkpoints::open(MemoryStore::new(), Trigger::every_events(3)).await?;
    let (sender, flow) = rheoflow::source::channel::<u64>(16)?;
    let (sink, mut events) = Harness::open(&path, None).await;
    let task = tokio::spawn(flow.checkpointed(&checkpoints).send_exactly_once(sink));
    for item in [10, 11, 12, 13] {
        sender.send(item).await.expect("the flow runs");
    }
    // No more items come, yet the first checkpoint's items become visible.
    next_event(&mut events, Event::Committed(1)).await;
    assert_eq!(read(&path), lines([10, 11, 12]));
    drop(sender);
    task.await.expect("the flow did not panic")?;
    assert_eq!(read(&path), lines([10, 11, 12, 13]));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_failed_flow_commits_nothing_pending_and_a_restart_completes_it() -> Result<(), Error> {
    let dir = TempDir::new("failed");
    let path = dir.join("out.jsonl");
    let store = MemoryStore::new();
    let checkpoints = Checkpoints::open(store.clone(), Trigger::at_end()).await?;
    let result = Flow::from_iter(0..30u64)
        .checkpointed(&checkpoints)
        .try_map(
            |x: &u64| {
                if *x == 17 {
                    Err(std::io::Error::other("boom"))
                } else {
                    Ok(transform(*x))
                }
            },
            ErrorPolicy::fail(),
        )
        .filter(keep)
        .send_exactly_once(sink::exactly_once_json_lines(&path).await?)
        .await;
    assert!(matches!(result, Err(Error::Record(_))), "{result:?}");
    assert_eq!(read(&path), "");
    drop(checkpoints);
    settle().await;

    finish_and_check(&dir, &store, 30, 1_000, "after a failure").await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_input_that_ends_early_is_redone_by_a_restart() -> Result<(), Error> {
    let dir = TempDir::new("take-while");
    let path = dir.join("out.jsonl");
    let store = MemoryStore::new();
    // The first run stops at item 13, past its last checkpoint (after item 12); the second
    // one, of the same shape so that the sink keeps its id, goes to the end.
    for (stop, output) in [(13, golden(13)), (u64::MAX, golden(30))] {
        let checkpoints = Checkpoints::open(store.clone(), Trigger::every_events(4)).await?;
        Flow::from_iter(0..30u64)
            .checkpointed(&checkpoints)
            .take_while(move |x| *x < stop)
            .map(transform)
            .filter(keep)
            .send_exactly_once(sink::exactly_once_json_lines(&path).await?)
            .await?;
        assert_eq!(read(&path), output);
        assert_eq!(dir.files(), ["out.jsonl"]);
        drop(checkpoints);
        settle().await;
    }
    Ok(())
}

/// A replayable source over `0..len` that stops without an end of input.
struct CutOff {
    next: u64,
    len: u64,
}

impl futures::Stream for CutOff {
    type Item = Message<u64>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Message<u64>>> {
        if self.next == self.len {
            return Poll::Ready(None);
        }
        self.next += 1;
        Poll::Ready(Some(Message::Data(self.next - 1)))
    }
}

impl Source for CutOff {
    fn position(&self) -> Option<Position> {
        Some(Position::new(self.next, self.next))
    }

    fn seek(mut self: Pin<&mut Self>, position: Position) -> Result<(), Error> {
        self.next = position.records();
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn an_input_cut_off_aborts_without_committing_its_tail() -> Result<(), Error> {
    let dir = TempDir::new("cut-off");
    let path = dir.join("out.jsonl");
    let store = MemoryStore::new();
    let checkpoints = Checkpoints::open(store.clone(), Trigger::every_events(4)).await?;
    let result = Flow::from_messages(CutOff { next: 0, len: 10 })
        .checkpointed(&checkpoints)
        .map(transform)
        .filter(keep)
        .send_exactly_once(sink::exactly_once_json_lines(&path).await?)
        .await;
    assert!(matches!(result, Err(Error::Aborted)), "{result:?}");
    // Checkpoints 1 and 2 (items 0..8) may be committed; items 8 and 9 are not.
    assert_prefix(&path, &golden(8), "cut off");
    drop(checkpoints);
    settle().await;

    finish_and_check(&dir, &store, 30, 4, "after a cut-off").await;
    Ok(())
}

#[tokio::test]
async fn a_directory_store_restart_after_the_end_changes_nothing() -> Result<(), Error> {
    let dir = TempDir::new("directory");
    let path = dir.join("out.jsonl");
    let checkpoint_dir = TempDir::new("directory-store");
    for _ in 0..2 {
        let store = DirectoryStore::open(checkpoint_dir.path()).await?;
        let checkpoints = Checkpoints::open(store, Trigger::every_events(7)).await?;
        Flow::from_iter(0..50u64)
            .checkpointed(&checkpoints)
            .map(transform)
            .filter(keep)
            .send_exactly_once(sink::exactly_once_json_lines(&path).await?)
            .await?;
        checkpoints.wait_idle().await;
        assert_eq!(read(&path), golden(50));
        assert_eq!(dir.files(), ["out.jsonl"]);
    }
    Ok(())
}

#[tokio::test]
async fn a_flow_without_checkpoints_is_a_config_error() -> Result<(), Error> {
    let dir = TempDir::new("unchecked");
    let result = Flow::from_iter(0..3u64)
        .send_exactly_once(sink::exactly_once_json_lines(dir.join("out.jsonl")).await?)
        .await;
    let Err(Error::Config(error)) = result else {
        panic!("expected a config error, got {result:?}");
    };
    assert!(error.to_string().contains("checkpointed"), "{error}");
    assert!(sink::exactly_once_json_lines(dir.join("missing/out.jsonl"))
        .await
        .is_err());
    Ok(())
}

#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync + Unpin>() {}
    send_sync::<ExactlyOnceJsonLines>();
    send_sync::<PendingAppend>();
}
