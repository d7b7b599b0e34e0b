//! User-defined processors: emitting, watermark and timer hooks, open and close, checkpointed
//! state and timers across a restart, async processors.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use rheoflow::checkpoint::{
    self, CheckpointError, CheckpointStore, Checkpoints, MemoryStore, Snapshot, StateError, Trigger,
};
use rheoflow::keyed::KeyedContext;
use rheoflow::operators::{Process, ProcessAsync};
use rheoflow::processor::{processor, AsyncProcessor, Context, Processor, TimeDomain, Timer};
use rheoflow::{Control, Error, Flow, Message, Timestamp};
use serde::{Deserialize, Serialize};
use support::{barrier, data, end, failed, watermark};

// ---------------------------------------------------------------------------------------------
// Emitting
// ---------------------------------------------------------------------------------------------

#[processor]
fn double(x: u32) -> u32 {
    x * 2
}

#[processor]
fn even(x: u32) -> Option<u32> {
    x.is_multiple_of(2).then_some(x)
}

#[processor]
fn repeat(x: u32) -> Vec<u32> {
    vec![x; x as usize]
}

#[processor]
fn split(line: String, ctx: &mut Context<'_, String>) {
    for word in line.split(',') {
        ctx.emit(word.to_string());
    }
}

#[tokio::test]
async fn fn_processors_emit_one_optional_or_many_outputs() {
    let doubled = Flow::from_iter([1, 2, 3]).process(Double);
    assert_eq!(doubled.collect::<Vec<_>>().await.unwrap(), [2, 4, 6]);
    let evens = Flow::from_iter(1..=6).process(Even);
    assert_eq!(evens.collect::<Vec<_>>().await.unwrap(), [2, 4, 6]);
    let repeated = Flow::from_iter([0, 1, 2]).process(Repeat);
    assert_eq!(repeated.collect::<Vec<_>>().await.unwrap(), [1, 2, 2]);
    let words = Flow::from_iter(["a,b".to_string(), "c".to_string()]).process(Split);
    assert_eq!(words.collect::<Vec<_>>().await.unwrap(), ["a", "b", "c"]);
    // The functions stay callable.
    assert_eq!((double(4), even(3), repeat(1)), (8, None, vec![1]));
}

#[tokio::test]
async fn outputs_keep_their_place_among_control_messages() {
    let input = futures::stream::iter([data(1), watermark(5), data(2), barrier(1), data(3), end()]);
    let out: Vec<Message<u32>> = Flow::from_messages(input)
        .process(Repeat)
        .into_messages()
        .collect()
        .await;
    assert_eq!(
        out,
        [
            data(1),
            watermark(5),
            data(2),
            data(2),
            barrier(1),
            data(3),
            data(3),
            data(3),
            end(),
        ]
    );
}

/// Emits from every hook: `n` outputs for the item `n`, two for `open`, each timer and
/// `close`. The first output of a call goes out at once, the others are queued after it.
#[derive(Default)]
struct Echo;

#[processor(state = none)]
impl Echo {
    fn open(&mut self, ctx: &mut Context<'_, String>) {
        ctx.emit("open a".into());
        ctx.emit("open b".into());
        ctx.set_event_timer(Timestamp::from_millis(4));
        ctx.set_event_timer(Timestamp::from_millis(3));
    }

    fn process(&mut self, item: u32, ctx: &mut Context<'_, String>) {
        for i in 0..item {
            ctx.emit(format!("{item}.{i}"));
        }
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut Context<'_, String>) {
        ctx.emit(format!("timer {} a", timer.timestamp.millis()));
        ctx.emit(format!("timer {} b", timer.timestamp.millis()));
    }

    fn on_watermark(&mut self, watermark: Timestamp, ctx: &mut Context<'_, String>) {
        ctx.emit(format!("watermark {}", watermark.millis()));
    }

    fn close(&mut self, ctx: &mut Context<'_, String>) {
        ctx.emit("close a".into());
        ctx.emit("close b".into());
    }
}

#[tokio::test]
async fn every_output_keeps_its_place_whatever_the_hook_and_count() {
    let input = futures::stream::iter([
        data(1),
        data(0),
        data(3),
        watermark(5),
        data(2),
        barrier(1),
        data(0),
        data(1),
        end(),
    ]);
    let flow = Flow::from_messages(input).process(Echo);
    let metrics = flow.metrics();
    let out: Vec<Message<String>> = flow.into_messages().collect().await;
    let texts = |items: &[&str]| -> Vec<Message<String>> {
        items.iter().map(|s| data(s.to_string())).collect()
    };
    let mut expected = texts(&["open a", "open b", "1.0", "3.0", "3.1", "3.2"]);
    expected.extend(texts(&[
        "timer 3 a",
        "timer 3 b",
        "timer 4 a",
        "timer 4 b",
        "watermark 5",
    ]));
    expected.push(watermark(5));
    expected.extend(texts(&["2.0", "2.1"]));
    expected.push(barrier(1));
    expected.extend(texts(&["1.0", "close a", "close b"]));
    expected.push(end());
    assert_eq!(out, expected);
    let snapshot = metrics.snapshot();
    let operator = &snapshot.operators()[0];
    assert_eq!((operator.items_in(), operator.items_out()), (6, 16));
}

#[tokio::test]
async fn the_name_option_names_the_operator() {
    #[processor(name = "tripled")]
    fn triple(x: u32) -> u32 {
        x * 3
    }
    let flow = Flow::from_iter([1]).process(Double).process(Triple);
    let metrics = flow.metrics();
    assert_eq!(flow.collect::<Vec<_>>().await.unwrap(), [6]);
    let names: Vec<_> = metrics
        .snapshot()
        .operators()
        .iter()
        .map(|op| op.name().to_string())
        .collect();
    assert_eq!(names, ["process-0", "tripled"]);
    assert_eq!(<Triple as Processor>::NAME, Some("tripled"));
}

// ---------------------------------------------------------------------------------------------
// Hooks: open, watermarks, timers, close
// ---------------------------------------------------------------------------------------------

/// Records every hook call as a string, and sets an event timer `delay` after each item.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Trace {
    delay: i64,
}

#[processor]
impl Trace {
    fn open(&mut self, ctx: &mut Context<'_, String>) {
        ctx.emit("open".into());
    }

    fn process(&mut self, item: i64, ctx: &mut Context<'_, String>) {
        ctx.set_event_timer(Timestamp::from_millis(item + self.delay));
        ctx.emit(format!("item {item}"));
    }

    fn on_watermark(&mut self, watermark: Timestamp, ctx: &mut Context<'_, String>) {
        ctx.emit(format!("watermark {}", watermark.millis()));
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut Context<'_, String>) {
        assert_eq!(timer.domain, TimeDomain::EventTime);
        assert!(ctx.watermark() >= timer.timestamp);
        ctx.emit(format!("timer {}", timer.timestamp.millis()));
    }

    fn close(&mut self, ctx: &mut Context<'_, String>) {
        ctx.emit("close".into());
    }
}

#[tokio::test]
async fn event_timers_fire_in_order_then_on_watermark_then_the_watermark_passes_on() {
    let input = futures::stream::iter([
        data(10),
        data(1),
        watermark(12),
        // Not an advance: no hook.
        watermark(12),
        data(20),
        end(),
    ]);
    let out: Vec<Message<String>> = Flow::from_messages(input)
        .process(Trace { delay: 1 })
        .into_messages()
        .collect()
        .await;
    let texts = |items: &[&str]| {
        items
            .iter()
            .map(|s| data(s.to_string()))
            .collect::<Vec<_>>()
    };
    let mut expected = texts(&[
        "open",
        "item 10",
        "item 1",
        "timer 2",
        "timer 11",
        "watermark 12",
    ]);
    expected.push(watermark(12));
    expected.push(watermark(12));
    // The timer at 21 is still pending at the end: no watermark reached it.
    expected.extend(texts(&["item 20", "close"]));
    expected.push(end());
    assert_eq!(out, expected);
}

#[tokio::test]
async fn a_failed_flow_does_not_close_its_processors() {
    let input = futures::stream::iter([data(1), failed(Error::Aborted)]);
    let out: Vec<Message<String>> = Flow::from_messages(input)
        .process(Trace { delay: 1 })
        .into_messages()
        .collect()
        .await;
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(out[1], data("item 1".to_string()));
    assert!(matches!(out[2], Message::Control(Control::Failed(_))));
}

/// Emits `"tick {n}"` every 100 ms of processing time, counting the items seen.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Ticker {
    seen: u64,
}

#[processor(state = none)]
impl Ticker {
    fn open(&mut self, ctx: &mut Context<'_, String>) {
        let at = ctx.processing_time().saturating_add_millis(100);
        ctx.set_processing_timer(at);
    }

    fn process(&mut self, _item: u32, _ctx: &mut Context<'_, String>) {
        self.seen += 1;
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut Context<'_, String>) {
        assert_eq!(timer.domain, TimeDomain::ProcessingTime);
        assert!(ctx.processing_time() >= timer.timestamp);
        ctx.emit(format!("tick {}", self.seen));
        ctx.set_processing_timer(timer.timestamp.saturating_add_millis(100));
    }
}

#[tokio::test(start_paused = true)]
async fn processing_timers_fire_on_tokios_clock() {
    let (tx, flow) = rheoflow::source::channel(8).unwrap();
    let mut out = flow.process(Ticker::default()).into_stream();
    let feed = async move {
        tx.send(1).await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        tx.send(2).await.unwrap();
        tx.send(3).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Dropping the sender ends the input, and the pending timer is dropped.
    };
    let ((), ticks) = tokio::join!(feed, async {
        let mut ticks = Vec::new();
        while let Some(tick) = out.next().await {
            ticks.push(tick);
        }
        ticks
    });
    assert_eq!(ticks, ["tick 1", "tick 3"]);
}

// ---------------------------------------------------------------------------------------------
// Keyed
// ---------------------------------------------------------------------------------------------

/// Emits the first item of each key, and forgets the key 10 ms (event time) after it was seen.
#[derive(Default)]
struct FirstPerKey;

#[derive(Default, Clone, Serialize, Deserialize)]
struct Seen {
    first: Option<i64>,
}

#[processor(keyed)]
impl FirstPerKey {
    fn process(&mut self, item: (char, i64), ctx: &mut KeyedContext<'_, char, Seen, (char, i64)>) {
        if ctx.state().first.is_none() {
            ctx.state().first = Some(item.1);
            ctx.set_event_timer(Timestamp::from_millis(item.1 + 10));
            ctx.emit(item);
        }
    }

    fn on_timer(&mut self, _timer: Timer, ctx: &mut KeyedContext<'_, char, Seen, (char, i64)>) {
        ctx.clear_state();
    }
}

#[tokio::test]
async fn a_keyed_processor_keeps_state_and_timers_per_key() {
    let events = [('a', 0), ('a', 5), ('b', 6), ('a', 20), ('b', 12)];
    let firsts = Flow::from_iter(events)
        .watermarks(
            |e| Timestamp::from_millis(e.1),
            rheoflow::time::WatermarkStrategy::bounded_out_of_orderness(Duration::ZERO),
        )
        .key_by(|e| e.0)
        .process(FirstPerKey)
        .collect::<Vec<_>>()
        .await
        .unwrap();
    // A record's watermark applies after it: ('a', 20) still finds `a` (its timer at 10 fires
    // on the watermark 19 that follows), and that watermark forgets `b` too (timer at 16), so
    // ('b', 12) is a first again.
    assert_eq!(firsts, [('a', 0), ('b', 6), ('b', 12)]);
}

// ---------------------------------------------------------------------------------------------
// Checkpoints
// ---------------------------------------------------------------------------------------------

/// A running sum that also sets an event timer at every multiple of 10 it passes, and emits
/// `(sum, timers fired)`.
#[derive(Clone, Default, Debug, Serialize, Deserialize)]
struct RunningSum {
    sum: u64,
    fired: Vec<i64>,
}

#[processor(name = "sum")]
impl RunningSum {
    fn process(&mut self, item: u64, ctx: &mut Context<'_, (u64, Vec<i64>)>) {
        self.sum += item;
        ctx.set_event_timer(Timestamp::from_millis(self.sum as i64 * 100));
        ctx.emit((self.sum, self.fired.clone()));
    }

    fn on_timer(&mut self, timer: Timer) {
        self.fired.push(timer.timestamp.millis());
    }
}

#[tokio::test]
async fn state_and_pending_timers_continue_after_a_restart() {
    let store = MemoryStore::new();
    let input: Vec<u64> = (1..=6).collect();

    // First run: a barrier after every second item; stop after the fifth output, so the
    // checkpoint after item 4 is the last complete one.
    let checkpoints = Checkpoints::open(store.clone(), Trigger::every_events(2))
        .await
        .unwrap();
    let first: Vec<_> = Flow::from_iter(input.clone())
        .checkpointed(&checkpoints)
        .process(RunningSum::default())
        .into_stream()
        .take(5)
        .collect()
        .await;
    assert_eq!(first.last(), Some(&(15, vec![])));
    checkpoints.wait_idle().await;
    let saved = store.latest().await.unwrap().unwrap();
    assert!(saved.get("sum").is_some(), "{:?}", saved.state().keys());

    // Second run: the source skips the four items counted, the sum goes on from 10, and the
    // timers set in the first run (100, 300, 600, 1000) are still pending: the end of input's
    // watermark fires them with the new ones.
    let checkpoints = Checkpoints::open(store.clone(), Trigger::every_events(2))
        .await
        .unwrap();
    let second: Vec<_> = Flow::from_iter(input)
        .checkpointed(&checkpoints)
        .process(RunningSum::default())
        .collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(second, [(15, vec![]), (21, vec![])]);
    checkpoints.wait_idle().await;

    let last = store.latest().await.unwrap().unwrap();
    let mut restored = RunningSum::default();
    let timers = decode_sum(&mut restored, last.get("sum").unwrap());
    assert_eq!(restored.sum, 21);
    assert_eq!(
        timers,
        [100, 300, 600, 1000, 1500, 2100]
            .into_iter()
            .collect::<BTreeSet<_>>()
    );
}

#[tokio::test]
async fn restored_event_timers_fire_in_the_next_run() {
    let store = MemoryStore::new();
    let checkpoints = Checkpoints::open(store.clone(), Trigger::at_end())
        .await
        .unwrap();
    let first = Flow::from_iter([1u64, 2])
        .checkpointed(&checkpoints)
        .process(RunningSum::default())
        .collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(first, [(1, vec![]), (3, vec![])]);
    checkpoints.wait_idle().await;

    // The restored timers (100 and 300) fire once the new run's watermark passes them.
    let checkpoints = Checkpoints::open(store, Trigger::at_end()).await.unwrap();
    let second = Flow::from_iter([1u64, 2, 400, 1])
        .checkpointed(&checkpoints)
        .watermarks(
            |x| Timestamp::from_millis(*x as i64),
            rheoflow::time::WatermarkStrategy::bounded_out_of_orderness(Duration::ZERO),
        )
        .process(RunningSum::default())
        .collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(second, [(403, vec![]), (404, vec![100, 300])]);
}

/// Reads the operator state of [`RunningSum`]: its own state and the pending event timers.
fn decode_sum(into: &mut RunningSum, bytes: &[u8]) -> BTreeSet<i64> {
    type Envelope = (Vec<u8>, BTreeSet<Timestamp>, BTreeSet<Timestamp>);
    let (state, event, processing): Envelope =
        checkpoint::decode_versioned(1, bytes, |_, _| unreachable!()).unwrap();
    checkpoint::decode(into, &state).unwrap();
    assert!(processing.is_empty());
    event.into_iter().map(Timestamp::millis).collect()
}

/// Version 1 of a counter: the count alone.
#[derive(Clone, Default, Serialize, Deserialize)]
struct CounterV1 {
    count: u64,
}

#[processor(name = "counter")]
impl CounterV1 {
    fn process(&mut self, _item: u8, ctx: &mut Context<'_, u64>) {
        self.count += 1;
        ctx.emit(self.count);
    }
}

/// Version 2: the count and the last item.
#[derive(Clone, Default, Serialize, Deserialize)]
struct CounterV2 {
    count: u64,
    last: Option<u8>,
}

fn migrate_counter(version: u32, bytes: &[u8]) -> Result<CounterV2, StateError> {
    match version {
        1 => {
            let old: CounterV1 = checkpoint::decode_value(bytes)?;
            Ok(CounterV2 {
                count: old.count,
                last: None,
            })
        }
        _ => Err(StateError::IncompatibleVersion {
            found: version,
            supported: 2,
        }),
    }
}

#[processor(name = "counter", version = 2, migrate = migrate_counter)]
impl CounterV2 {
    fn process(&mut self, item: u8, ctx: &mut Context<'_, u64>) {
        self.count += 1;
        self.last = Some(item);
        ctx.emit(self.count);
    }
}

/// Version 3, which cannot read version 2.
#[derive(Clone, Default, Serialize, Deserialize)]
struct CounterV3 {
    counts: Vec<u64>,
}

#[processor(name = "counter", version = 3)]
impl CounterV3 {
    fn process(&mut self, _item: u8, _ctx: &mut Context<'_, u64>) {}
}

#[tokio::test]
async fn an_older_state_migrates_and_an_unknown_one_fails_the_flow() {
    let store = MemoryStore::new();
    let checkpoints = Checkpoints::open(store.clone(), Trigger::at_end())
        .await
        .unwrap();
    let v1 = Flow::from_iter([7u8, 8])
        .checkpointed(&checkpoints)
        .process(CounterV1::default());
    assert_eq!(v1.collect::<Vec<_>>().await.unwrap(), [1, 2]);
    checkpoints.wait_idle().await;

    let checkpoints = Checkpoints::open(store.clone(), Trigger::at_end())
        .await
        .unwrap();
    let v2 = Flow::from_iter([7u8, 8, 9])
        .checkpointed(&checkpoints)
        .process(CounterV2::default());
    assert_eq!(v2.collect::<Vec<_>>().await.unwrap(), [3]);
    checkpoints.wait_idle().await;
    assert_eq!(<CounterV2 as Snapshot>::VERSION, 2);

    // Version 3 cannot read version 2: the flow fails with a typed error, not a panic.
    let checkpoints = Checkpoints::open(store, Trigger::at_end()).await.unwrap();
    let result = Flow::from_iter([7u8, 8, 9, 10])
        .checkpointed(&checkpoints)
        .process(CounterV3::default())
        .collect::<Vec<_>>()
        .await;
    match result {
        Err(Error::Checkpoint(CheckpointError::State { operator, error })) => {
            assert_eq!(operator, "counter");
            assert_eq!(
                error,
                StateError::IncompatibleVersion {
                    found: 2,
                    supported: 3
                }
            );
        }
        other => panic!("expected a state error, got {other:?}"),
    }
}

/// Keeps a cache that is not worth saving: `state = manual` lets it save only the count.
#[derive(Default)]
struct Cached {
    count: u64,
    cache: Vec<u64>,
}

#[processor(state = manual)]
impl Cached {
    fn process(&mut self, item: u64, ctx: &mut Context<'_, u64>) {
        self.count += 1;
        self.cache.push(item);
        ctx.emit(self.count);
    }
}

impl Snapshot for Cached {
    type State = u64;

    fn snapshot(&self) -> u64 {
        self.count
    }

    fn restore(&mut self, count: u64) {
        self.count = count;
        self.cache.clear();
    }
}

#[tokio::test]
async fn manual_and_unit_snapshots() {
    let mut cached = Cached {
        count: 4,
        cache: vec![1],
    };
    let bytes = checkpoint::encode(&cached).unwrap();
    cached.count = 0;
    checkpoint::decode(&mut cached, &bytes).unwrap();
    assert_eq!((cached.count, cached.cache.len()), (4, 0));

    // A stateless processor saves `()`.
    let bytes = checkpoint::encode(&Ticker { seen: 3 }).unwrap();
    let mut ticker = Ticker { seen: 5 };
    checkpoint::decode(&mut ticker, &bytes).unwrap();
    assert_eq!(ticker.seen, 5);
    assert_eq!(checkpoint::encode(&Double).unwrap(), bytes);
}

// ---------------------------------------------------------------------------------------------
// Async processors
// ---------------------------------------------------------------------------------------------

#[processor(name = "lookup")]
async fn lookup(ms: u64) -> String {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    format!("done {ms}")
}

#[tokio::test(start_paused = true)]
async fn async_processors_run_concurrently_and_keep_input_order() {
    let start = tokio::time::Instant::now();
    let flow = Flow::from_iter([30, 10, 20]).process_async(Lookup, 3);
    let metrics = flow.metrics();
    let out = flow.collect::<Vec<_>>().await.unwrap();
    assert_eq!(out, ["done 30", "done 10", "done 20"]);
    // All three ran at once.
    assert_eq!(start.elapsed(), Duration::from_millis(30));
    assert_eq!(metrics.snapshot().operators()[0].name(), "lookup");

    let start = tokio::time::Instant::now();
    let out = Flow::from_iter([30, 10, 20])
        .process_async(Lookup, 1)
        .collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(60));
}

#[test]
#[should_panic(expected = "invalid process_async limit")]
fn a_zero_limit_panics_where_it_is_given() {
    let _ = Flow::from_iter([1u64]).process_async(Lookup, 0);
}

// ---------------------------------------------------------------------------------------------
// Auto traits
// ---------------------------------------------------------------------------------------------

#[test]
fn processor_operators_are_send_and_unpin() {
    fn assert_traits<T: Send + Sync + Unpin>() {}
    type Input = futures::stream::Iter<std::vec::IntoIter<Message<u32>>>;
    assert_traits::<Process<Input, Double>>();
    assert_traits::<Process<Input, Trace>>();
    // A boxed future is `Send` but not `Sync`.
    fn assert_send_unpin<T: Send + Unpin>() {}
    assert_send_unpin::<
        ProcessAsync<futures::stream::Iter<std::vec::IntoIter<Message<u64>>>, Lookup>,
    >();
    fn assert_async_processor<P: AsyncProcessor<In = u64, Out = String>>() {}
    assert_async_processor::<Lookup>();
}
