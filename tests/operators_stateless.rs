//! Stateless operators: what each does to data, that control messages pass every operator
//! untouched and in order, and how a flow runs to its end (streams, collect, sinks, tasks).

mod support;

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use rheoflow::error::{ConfigError, SinkError};
use rheoflow::{sink, Error, Flow, Message, Sink};

use support::{barrier, data, end, failed, messages, output, watermark};

/// Data interleaved with watermarks and barriers, ended normally.
fn input() -> Vec<Message<u32>> {
    vec![
        watermark(0),
        data(1),
        barrier(1),
        data(2),
        watermark(5),
        data(3),
        data(4),
        barrier(2),
        end(),
    ]
}

fn config_error() -> Error {
    Error::Config(ConfigError::new("test", "valid"))
}

#[tokio::test]
async fn map_transforms_data_and_keeps_controls_in_place() {
    let out = output(messages(input()).map(|x| x * 10)).await;
    assert_eq!(
        out,
        [
            watermark(0),
            data(10),
            barrier(1),
            data(20),
            watermark(5),
            data(30),
            data(40),
            barrier(2),
            end(),
        ]
    );
}

#[tokio::test]
async fn map_can_change_the_item_type() {
    let out = output(messages(input()).map(|x| format!("#{x}"))).await;
    assert_eq!(out[1], data("#1".to_owned()));
    assert_eq!(out.len(), input().len());
}

#[tokio::test]
async fn filter_drops_data_but_never_controls() {
    let out = output(messages(input()).filter(|x| x % 2 == 1)).await;
    assert_eq!(
        out,
        [
            watermark(0),
            data(1),
            barrier(1),
            watermark(5),
            data(3),
            barrier(2),
            end(),
        ]
    );
}

#[tokio::test]
async fn filter_that_rejects_everything_still_forwards_controls() {
    let out = output(messages(input()).filter(|_| false)).await;
    assert_eq!(
        out,
        [watermark(0), barrier(1), watermark(5), barrier(2), end()]
    );
}

#[tokio::test]
async fn filter_map_keeps_some_results() {
    let out = output(messages(input()).filter_map(|x| (x % 2 == 1).then_some(x * 2))).await;
    assert_eq!(
        out,
        [
            watermark(0),
            data(2),
            barrier(1),
            watermark(5),
            data(6),
            barrier(2),
            end(),
        ]
    );
}

#[tokio::test]
async fn flat_map_yields_every_item_of_every_iterator_in_order() {
    // 1 → [1], 2 → [2, 2], 3 → [], 4 → [4].
    let out = output(messages(input()).flat_map(|x| vec![x; (x % 3) as usize])).await;
    assert_eq!(
        out,
        [
            watermark(0),
            data(1),
            barrier(1),
            data(2),
            data(2),
            watermark(5),
            data(4),
            barrier(2),
            end(),
        ]
    );
}

#[tokio::test]
async fn flat_map_emits_a_control_only_after_the_current_iterator_is_done() {
    let out = output(messages(vec![data(2), barrier(1), data(1), end()]).flat_map(|x| 0..x)).await;
    assert_eq!(out, [data(0), data(1), barrier(1), data(0), end()]);
}

#[tokio::test]
async fn inspect_sees_data_only_and_passes_everything_on() {
    let mut seen = Vec::new();
    let out = output(messages(input()).inspect(|x| seen.push(*x))).await;
    assert_eq!(out, input());
    assert_eq!(seen, [1, 2, 3, 4]);
}

#[tokio::test]
async fn scan_keeps_state_across_controls() {
    let out = output(messages(input()).scan(0, |total, x| {
        *total += x;
        *total
    }))
    .await;
    assert_eq!(
        out,
        [
            watermark(0),
            data(1),
            barrier(1),
            data(3),
            watermark(5),
            data(6),
            data(10),
            barrier(2),
            end(),
        ]
    );
}

#[tokio::test]
async fn take_while_emits_end_at_the_cut_and_nothing_after() {
    let out = output(messages(input()).take_while(|x| *x < 3)).await;
    assert_eq!(
        out,
        [
            watermark(0),
            data(1),
            barrier(1),
            data(2),
            watermark(5),
            end(),
        ]
    );
}

#[tokio::test]
async fn take_while_without_a_cut_passes_the_single_end_through() {
    let out = output(messages(input()).take_while(|_| true)).await;
    assert_eq!(out, input());
}

#[tokio::test]
async fn take_while_cut_on_the_first_item_is_just_end() {
    let out = output(messages(input()).take_while(|_| false)).await;
    assert_eq!(out, [watermark(0), end()]);
}

#[tokio::test]
async fn take_while_forwards_a_failure_before_the_cut() {
    let out = output(
        messages(vec![data(1), failed(config_error()), data(9), end()]).take_while(|x| *x < 3),
    )
    .await;
    assert_eq!(out, [data(1), failed(config_error())]);
}

#[tokio::test]
async fn take_while_stops_the_collect_at_the_cut() {
    let out = Flow::from_iter(1..)
        .take_while(|x| *x <= 3)
        .collect::<Vec<u64>>()
        .await;
    assert_eq!(out.ok(), Some(vec![1, 2, 3]));
}

#[tokio::test]
async fn skip_while_drops_a_prefix_of_data_but_no_controls() {
    let out = output(messages(input()).skip_while(|x| *x < 3)).await;
    assert_eq!(
        out,
        [
            watermark(0),
            barrier(1),
            watermark(5),
            data(3),
            data(4),
            barrier(2),
            end(),
        ]
    );
}

#[tokio::test]
async fn skip_while_passes_everything_once_the_predicate_failed() {
    let out = output(messages(vec![data(1), data(5), data(1), end()]).skip_while(|x| *x < 3)).await;
    assert_eq!(out, [data(5), data(1), end()]);
}

/// Only control messages: each operator must emit exactly these, in order.
fn controls_only(last: Message<u32>) -> Vec<Message<u32>> {
    vec![
        watermark(-5),
        barrier(7),
        watermark(3),
        barrier(8),
        watermark(i64::MAX),
        last,
    ]
}

#[tokio::test]
async fn every_stateless_operator_forwards_controls_untouched() {
    for last in [end(), failed(config_error())] {
        let expected = controls_only(last.clone());
        let input = || messages(controls_only(last.clone()));
        assert_eq!(output(input().map(|x| x + 1)).await, expected, "map");
        assert_eq!(output(input().filter(|_| true)).await, expected, "filter");
        assert_eq!(
            output(input().filter_map(Some)).await,
            expected,
            "filter_map"
        );
        assert_eq!(
            output(input().flat_map(|x| [x, x])).await,
            expected,
            "flat_map"
        );
        assert_eq!(output(input().inspect(|_| {})).await, expected, "inspect");
        assert_eq!(output(input().scan(0, |_, x| x)).await, expected, "scan");
        assert_eq!(
            output(input().take_while(|_| false)).await,
            expected,
            "take_while"
        );
        assert_eq!(
            output(input().skip_while(|_| true)).await,
            expected,
            "skip_while"
        );
    }
}

#[tokio::test]
async fn a_long_chain_keeps_controls_in_order_relative_to_data() {
    let out = output(
        messages(input())
            .map(|x| x + 1)
            .filter(|x| *x != 3)
            .filter_map(Some)
            .flat_map(|x| [x])
            .inspect(|_| {})
            .scan((), |_, x| x)
            .take_while(|_| true)
            .skip_while(|_| false),
    )
    .await;
    assert_eq!(
        out,
        [
            watermark(0),
            data(2),
            barrier(1),
            watermark(5),
            data(4),
            data(5),
            barrier(2),
            end(),
        ]
    );
}

#[tokio::test]
async fn into_stream_yields_data_until_the_end() {
    let items: Vec<u32> = messages(vec![
        watermark(0),
        data(1),
        barrier(1),
        data(2),
        end(),
        data(3),
    ])
    .into_stream()
    .collect()
    .await;
    assert_eq!(items, [1, 2]);
}

#[tokio::test]
async fn into_stream_ends_at_a_failure() {
    let mut stream = messages(vec![data(1), failed(config_error()), data(2)]).into_stream();
    assert_eq!(stream.next().await, Some(1));
    assert_eq!(stream.next().await, None);
    assert_eq!(stream.next().await, None);
}

#[tokio::test]
async fn into_stream_ends_when_the_input_stops_without_end() {
    let items: Vec<u32> = messages(vec![data(1), watermark(3)])
        .into_stream()
        .collect()
        .await;
    assert_eq!(items, [1]);
}

#[tokio::test]
async fn into_try_stream_yields_the_error_then_ends() {
    let mut stream =
        messages(vec![data(1), watermark(1), failed(config_error()), data(2)]).into_try_stream();
    assert_eq!(stream.next().await.map(Result::ok), Some(Some(1)));
    let err = stream.next().await.and_then(Result::err);
    assert!(matches!(err, Some(Error::Config(_))), "{err:?}");
    assert!(stream.next().await.is_none());
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn into_try_stream_ends_without_error_at_end() {
    let items: Vec<Result<u32, Error>> = messages(vec![data(1), end(), data(2)])
        .into_try_stream()
        .collect()
        .await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].as_ref().ok(), Some(&1));
}

#[tokio::test]
async fn collect_returns_the_items_or_the_failure() {
    let ok = messages(input()).collect::<Vec<_>>().await;
    assert_eq!(ok.ok(), Some(vec![1, 2, 3, 4]));

    let err = messages(vec![data(1), failed(config_error())])
        .collect::<Vec<_>>()
        .await;
    assert!(matches!(err, Err(Error::Config(_))));
}

#[tokio::test]
async fn for_each_sees_items_before_a_failure_then_returns_it() {
    let mut seen = Vec::new();
    let result = messages(vec![
        data(1),
        watermark(1),
        data(2),
        failed(config_error()),
        data(3),
    ])
    .for_each(|x| seen.push(x))
    .await;
    assert!(matches!(result, Err(Error::Config(_))));
    assert_eq!(seen, [1, 2]);
}

#[tokio::test]
async fn for_each_stops_at_end() {
    let mut seen = Vec::new();
    let result = messages(vec![data(1), end(), data(2)])
        .for_each(|x| seen.push(x))
        .await;
    assert!(result.is_ok());
    assert_eq!(seen, [1]);
}

/// What a [`Recorder`] sink was asked to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Write(Vec<u32>),
    Flush,
    Close,
}

/// A sink that records every call, readable while the flow runs.
#[derive(Debug, Clone, Default)]
struct Recorder {
    events: Arc<Mutex<Vec<Event>>>,
}

impl Recorder {
    fn events(&self) -> Vec<Event> {
        self.events.lock().expect("not poisoned").clone()
    }

    fn push(&self, event: Event) {
        self.events.lock().expect("not poisoned").push(event);
    }
}

#[async_trait::async_trait]
impl Sink<u32> for Recorder {
    async fn write(&mut self, batch: &mut Vec<u32>) -> Result<(), SinkError> {
        self.push(Event::Write(std::mem::take(batch)));
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        self.push(Event::Flush);
        Ok(())
    }

    async fn close(&mut self) -> Result<(), SinkError> {
        self.push(Event::Close);
        Ok(())
    }
}

#[tokio::test]
async fn send_to_flushes_at_barriers_and_closes_at_end() {
    let recorder = messages(input()).send_to(Recorder::default()).await;
    let events = recorder.map(|r| r.events()).ok();
    assert_eq!(
        events,
        Some(vec![
            Event::Write(vec![1]),
            Event::Flush,
            Event::Write(vec![2, 3, 4]),
            Event::Flush,
            Event::Close,
        ])
    );
}

#[tokio::test]
async fn send_to_writes_items_before_a_failure_and_does_not_close() {
    let recorder = Recorder::default();
    let result = messages(vec![data(1), data(2), failed(config_error()), data(3)])
        .send_to(recorder.clone())
        .await;
    assert!(matches!(result, Err(Error::Config(_))));
    assert_eq!(recorder.events(), [Event::Write(vec![1, 2])]);
}

#[tokio::test]
async fn send_to_hands_over_batches_of_at_most_1024() {
    let recorder = Flow::from_iter(0..2500u32)
        .send_to(Recorder::default())
        .await;
    let sizes: Vec<usize> = recorder
        .map(|r| r.events())
        .unwrap_or_default()
        .iter()
        .map(|event| match event {
            Event::Write(items) => items.len(),
            Event::Flush | Event::Close => 0,
        })
        .collect();
    assert_eq!(sizes, [1024, 1024, 452, 0]);
}

#[tokio::test(start_paused = true)]
async fn send_to_writes_a_partial_batch_when_the_input_is_not_ready() {
    let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
    let recorder = Recorder::default();
    let task = Flow::from_stream(rx).spawn(recorder.clone());

    tx.unbounded_send(1).expect("receiver alive");
    tx.unbounded_send(2).expect("receiver alive");
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(recorder.events(), [Event::Write(vec![1, 2])]);

    tx.unbounded_send(3).expect("receiver alive");
    drop(tx);
    assert!(task.await.is_ok());
    assert_eq!(
        recorder.events(),
        [
            Event::Write(vec![1, 2]),
            Event::Write(vec![3]),
            Event::Close
        ]
    );
}

#[tokio::test]
async fn send_to_returns_the_sink_error() {
    struct Broken;

    #[async_trait::async_trait]
    impl Sink<u32> for Broken {
        async fn write(&mut self, _: &mut Vec<u32>) -> Result<(), SinkError> {
            Err(SinkError::new(std::io::Error::other("disk full")))
        }
    }

    let err = Flow::from_iter([1u32]).send_to(Broken).await.err();
    assert_eq!(
        err.map(|e| e.to_string()),
        Some("sink failed: disk full".to_owned())
    );
}

#[tokio::test]
async fn spawn_runs_the_flow_to_the_sink() {
    let task = Flow::from_iter(0..5u32)
        .map(|x| x * 2)
        .spawn(sink::Collect::new());
    let items = task.await.map(sink::Collect::into_inner);
    assert_eq!(items.ok(), Some(vec![0, 2, 4, 6, 8]));
}

#[tokio::test]
async fn spawn_propagates_a_pipeline_failure() {
    let task = messages(vec![data(1), failed(config_error())]).spawn(sink::Collect::new());
    assert!(matches!(task.await, Err(Error::Config(_))));
}

#[tokio::test]
async fn spawn_turns_a_panic_on_the_task_into_an_error() {
    let task = Flow::from_iter(0..5u32)
        .map(|x| {
            if x == 3 {
                panic!("boom at {x}");
            }
            x
        })
        .spawn(sink::Collect::new());
    match task.await {
        Err(Error::Panicked { message }) => assert_eq!(message, "boom at 3"),
        other => panic!("expected a panic error, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn an_aborted_task_reports_aborted() {
    let task = Flow::from_stream(futures::stream::pending::<u32>()).spawn(sink::Collect::new());
    tokio::task::yield_now().await;
    assert!(!task.is_finished());
    task.abort();
    assert!(matches!(task.await, Err(Error::Aborted)));
}
