//! The built-in sinks: `sink::Channel` and `sink::JsonLines`.

mod support;

use std::error::Error as _;

use rheoflow::error::{BoxError, SinkError};
use rheoflow::sink::{self, Channel, ChannelClosed, JsonLines};
use rheoflow::{Error, Flow, Sink};
use serde::ser::Error as _;
use tokio::sync::mpsc;

use support::{barrier, data, end, messages};

/// The [`ChannelClosed`] inside a sink error, if that is what it wraps.
fn channel_closed(err: &Error) -> Option<ChannelClosed> {
    let Error::Sink(sink) = err else { return None };
    // The source is the shared `BoxError` that holds the sink's own error.
    sink.source()?
        .downcast_ref::<BoxError>()?
        .downcast_ref::<ChannelClosed>()
        .copied()
}

#[tokio::test]
async fn channel_delivers_every_item_in_order_under_backpressure() -> Result<(), Error> {
    let (tx, mut rx) = mpsc::channel(1);
    let task = Flow::from_iter(0..10_000u32).spawn(Channel::new(tx));
    let mut received = Vec::new();
    while let Some(x) = rx.recv().await {
        received.push(x);
    }
    let sink = task.await?;
    assert!(sink.is_closed());
    assert_eq!(received, (0..10_000).collect::<Vec<_>>());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn channel_ends_the_receiver_when_the_flow_ends_even_if_the_task_is_not_awaited() {
    let (tx, mut rx) = mpsc::channel(4);
    // The task's result (the sink) is never taken, but the sender must not outlive the flow.
    let task = Flow::from_iter([1u32, 2]).spawn(Channel::new(tx));
    assert_eq!(rx.recv().await, Some(1));
    assert_eq!(rx.recv().await, Some(2));
    assert_eq!(rx.recv().await, None);
    drop(task);
}

#[tokio::test]
async fn channel_reports_how_many_items_were_not_delivered() {
    let (tx, rx) = mpsc::channel::<u32>(8);
    drop(rx);
    let err = Flow::from_iter(0..5u32)
        .send_to(Channel::new(tx))
        .await
        .expect_err("the receiver is gone");
    assert_eq!(channel_closed(&err).map(|c| c.undelivered()), Some(5));
    assert_eq!(
        err.to_string(),
        "sink failed: channel receiver dropped: 5 items not delivered"
    );
}

#[tokio::test]
async fn channel_dropped_midway_stops_the_flow_with_an_error() {
    let (tx, mut rx) = mpsc::channel::<u32>(2);
    let task = Flow::from_iter(0..100u32).spawn(Channel::new(tx));
    let mut received = Vec::new();
    while received.len() < 3 {
        received.push(rx.recv().await.expect("items before the drop"));
    }
    drop(rx);
    let err = task.await.expect_err("the receiver is gone");
    let undelivered = channel_closed(&err)
        .expect("a closed channel")
        .undelivered();
    assert_eq!(received, [0, 1, 2]);
    // At most two more were in the channel's buffer when it was dropped.
    assert!((95..=97).contains(&undelivered), "{undelivered}");
}

#[tokio::test]
async fn channel_refuses_writes_after_close() {
    let (tx, mut rx) = mpsc::channel::<u32>(8);
    let mut sink = Channel::from(tx);
    let mut batch = vec![1, 2];
    assert!(sink.write(&mut batch).await.is_ok());
    assert!(batch.is_empty(), "sent items leave the batch");
    assert!(sink.close().await.is_ok());
    assert!(sink.is_closed());

    let mut batch = vec![3];
    let err = sink.write(&mut batch).await.err().map(Error::from);
    assert_eq!(
        err.as_ref()
            .and_then(channel_closed)
            .map(|c| c.undelivered()),
        Some(1)
    );
    assert_eq!(rx.recv().await, Some(1));
    assert_eq!(rx.recv().await, Some(2));
    assert_eq!(rx.recv().await, None);
}

#[derive(serde::Serialize)]
struct Reading<'a> {
    station: &'a str,
    temp: f64,
}

#[tokio::test]
async fn json_lines_writes_one_line_per_item() -> Result<(), Error> {
    let readings = [
        Reading {
            station: "EWR",
            temp: 21.5,
        },
        Reading {
            station: "JFK",
            temp: -3.0,
        },
    ];
    let sink = Flow::from_iter(readings)
        .send_to(JsonLines::new(Vec::new()))
        .await?;
    let text = String::from_utf8(sink.into_inner()).expect("utf-8");
    assert_eq!(
        text,
        "{\"station\":\"EWR\",\"temp\":21.5}\n{\"station\":\"JFK\",\"temp\":-3.0}\n"
    );
    Ok(())
}

#[tokio::test]
async fn json_lines_writes_every_batch_in_order() -> Result<(), Error> {
    let sink = Flow::from_iter(0..3000u32)
        .send_to(JsonLines::new(Vec::new()))
        .await?;
    let text = String::from_utf8(sink.into_inner()).expect("utf-8");
    let numbers: Vec<u32> = text.lines().map(|l| l.parse().expect("a number")).collect();
    assert_eq!(numbers, (0..3000).collect::<Vec<_>>());
    assert!(text.ends_with('\n'));
    Ok(())
}

#[tokio::test]
async fn json_lines_flush_makes_buffered_lines_visible() -> Result<(), SinkError> {
    let mut sink = JsonLines::new(Vec::new());
    sink.write(&mut vec!["a", "b"]).await?;
    assert!(
        sink.get_ref().is_empty(),
        "small batches wait in the buffer"
    );
    Sink::<&str>::flush(&mut sink).await?;
    assert_eq!(sink.get_ref(), b"\"a\"\n\"b\"\n");
    Ok(())
}

#[tokio::test]
async fn json_lines_flushes_at_barriers() -> Result<(), Error> {
    // A barrier flushes, and the end of input closes (flushing again).
    let sink = messages(vec![data(1u8), barrier(1), data(2), end()])
        .send_to(JsonLines::new(Vec::new()))
        .await?;
    assert_eq!(sink.into_inner(), b"1\n2\n");
    Ok(())
}

/// Serializes as its number, except 13, which fails.
struct Unlucky(u32);

impl serde::Serialize for Unlucky {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0 == 13 {
            // Start writing, then fail: the partial line must not reach the writer.
            let _ = serializer.serialize_newtype_struct("partial", &0);
            return Err(S::Error::custom("unlucky number"));
        }
        serializer.serialize_u32(self.0)
    }
}

#[tokio::test]
async fn json_lines_writes_the_lines_before_a_serialization_error() -> Result<(), SinkError> {
    let mut sink = JsonLines::new(Vec::new());
    let mut batch: Vec<Unlucky> = (11..16).map(Unlucky).collect();
    let err = sink.write(&mut batch).await.err();
    assert_eq!(
        err.map(|e| e.to_string()),
        Some("sink failed: unlucky number".to_owned())
    );
    Sink::<Unlucky>::close(&mut sink).await?;
    assert_eq!(sink.into_inner(), b"11\n12\n");
    Ok(())
}

#[tokio::test]
async fn json_lines_create_truncates_the_file() -> Result<(), Error> {
    let path = std::env::temp_dir().join(format!(
        "rheoflow-test-json-lines-{}.jsonl",
        std::process::id()
    ));
    tokio::fs::write(&path, "old content that is longer\n").await?;
    Flow::from_iter([Some(1), None])
        .send_to(JsonLines::create(&path).await?)
        .await?;
    let text = tokio::fs::read_to_string(&path).await?;
    tokio::fs::remove_file(&path).await?;
    assert_eq!(text, "1\nnull\n");
    Ok(())
}

#[tokio::test]
async fn json_lines_create_reports_an_io_error() {
    let path = std::env::temp_dir()
        .join("rheoflow-no-such-directory")
        .join("out.jsonl");
    let err = JsonLines::create(&path).await.err();
    assert!(matches!(err, Some(Error::Io(_))), "{err:?}");
}

#[tokio::test]
async fn stdout_sink_is_a_json_lines_sink() -> Result<(), Error> {
    let sink: JsonLines<tokio::io::Stdout> = sink::stdout();
    assert!(format!("{sink:?}").starts_with("JsonLines"));
    // An empty flow writes nothing, but still flushes and shuts the writer down.
    Flow::from_iter(std::iter::empty::<u32>())
        .send_to(sink)
        .await?;
    Ok(())
}
