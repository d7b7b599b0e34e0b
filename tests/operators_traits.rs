//! Auto traits of the public types: a refactor must not silently make a flow `!Send` (it could no
//! longer be spawned), `!Sync`, or `!Unpin` over an `Unpin` input.

use std::ops::Range;

use rheoflow::error::{ConfigError, FailedRecord, RecordError, SinkError};
use rheoflow::error_policy::{DeadLetter, DeadLetterSender, DeadLetterSource, RawRecord};
use rheoflow::metrics::{Metrics, MetricsSnapshot};
use rheoflow::operators::{
    Filter, FilterMap, FlatMap, Inspect, IntoStream, IntoTryStream, Map, Scan, SkipWhile,
    TakeWhile, TryFilterMap, TryMap,
};
use rheoflow::sink::{Channel, ChannelClosed, Collect, ForEach, JsonLines};
use rheoflow::source::{IterSource, StreamSource};
use rheoflow::{Barrier, Control, Error, ErrorPolicy, Flow, FlowTask, Message, Timestamp};

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}
fn assert_unpin<T: Unpin>() {}

/// `Send + Sync + Unpin`.
fn assert_all<T: Send + Sync + Unpin>() {
    assert_send::<T>();
    assert_sync::<T>();
    assert_unpin::<T>();
}

type Src = IterSource<Range<u64>>;
type Parse = fn(&u64) -> Result<u64, std::num::TryFromIntError>;
type ParseSome = fn(&u64) -> Result<Option<u64>, std::num::TryFromIntError>;

#[test]
fn sources_and_flows_are_send_sync_unpin() {
    assert_all::<Src>();
    assert_all::<StreamSource<futures::stream::Iter<std::vec::IntoIter<u64>>>>();
    assert_all::<Flow<Src>>();
    assert_all::<Flow<StreamSource<futures::stream::Iter<std::vec::IntoIter<u64>>>>>();
    assert_all::<DeadLetterSource<u64>>();
    assert_all::<Flow<DeadLetterSource<u64>>>();
}

#[test]
fn stateless_operators_are_send_sync_unpin() {
    assert_all::<Map<Src, fn(u64) -> u64>>();
    assert_all::<Filter<Src, fn(&u64) -> bool>>();
    assert_all::<FilterMap<Src, fn(u64) -> Option<u64>>>();
    assert_all::<FlatMap<Src, fn(u64) -> [u64; 2], std::array::IntoIter<u64, 2>>>();
    assert_all::<FlatMap<Src, fn(u64) -> Vec<u64>, std::vec::IntoIter<u64>>>();
    assert_all::<Inspect<Src, fn(&u64)>>();
    assert_all::<Scan<Src, u64, fn(&mut u64, u64) -> u64>>();
    assert_all::<TakeWhile<Src, fn(&u64) -> bool>>();
    assert_all::<SkipWhile<Src, fn(&u64) -> bool>>();
    assert_all::<IntoStream<Src>>();
    assert_all::<IntoTryStream<Src>>();
    assert_all::<Flow<Map<Filter<Src, fn(&u64) -> bool>, fn(u64) -> u64>>>();
    assert_all::<IntoStream<Map<Filter<Src, fn(&u64) -> bool>, fn(u64) -> u64>>>();
}

#[test]
fn fallible_operators_are_send_sync_unpin() {
    assert_all::<TryMap<Src, Parse, u64>>();
    assert_all::<TryFilterMap<Src, ParseSome, u64>>();
    assert_all::<Flow<TryMap<Src, Parse, u64>>>();
    assert_all::<ErrorPolicy<u64>>();
    assert_all::<DeadLetterSender<u64>>();
    assert_all::<DeadLetter<u64>>();
    assert_all::<DeadLetter<RawRecord>>();
}

#[test]
fn closures_keep_the_auto_traits_of_their_captures() {
    fn check<T: Send + Sync + Unpin>(_: &T) {}
    let offset = 3u64;
    let flow = Flow::from_iter(0..10u64)
        .map(move |x| x + offset)
        .filter(|x| x % 2 == 0)
        .flat_map(|x| [x; 1])
        .try_map(|x: &u64| u32::try_from(*x), ErrorPolicy::skip());
    check(&flow);
    let stream = flow.into_stream();
    check(&stream);
}

#[test]
fn operators_over_a_pinned_stream_are_still_send() {
    fn check<T: Send>(_: &T) {}
    // An `async` block is `!Unpin`; the flow over it must still be `Send` to be spawned.
    let stream = futures::stream::once(async { 1u64 });
    let flow = Flow::from_stream(stream)
        .map(|x| x + 1)
        .try_map(|x: &u64| u8::try_from(*x), ErrorPolicy::skip());
    check(&flow);
}

#[test]
fn tasks_sinks_and_errors_are_send_sync_unpin() {
    assert_all::<FlowTask<Collect<u64>>>();
    assert_all::<Collect<u64>>();
    assert_all::<ForEach<fn(u64)>>();
    assert_all::<Channel<u64>>();
    assert_all::<JsonLines<tokio::fs::File>>();
    assert_all::<JsonLines<tokio::io::Stdout>>();
    assert_all::<JsonLines<Vec<u8>>>();
    assert_all::<Error>();
    assert_all::<ConfigError>();
    assert_all::<FailedRecord>();
    assert_all::<RecordError>();
    assert_all::<SinkError>();
    assert_all::<ChannelClosed>();
    assert_all::<Message<u64>>();
    assert_all::<Control>();
    assert_all::<Barrier>();
    assert_all::<Timestamp>();
    assert_all::<Metrics>();
    assert_all::<MetricsSnapshot>();
}

/// Event time, windows, keyed operators, stages and fan-in/out: a flow made of them can still be
/// spawned on a multi-threaded runtime.
#[test]
fn time_window_keyed_and_stage_operators_are_send() {
    use rheoflow::aggregate::Count;
    use rheoflow::channel::StageConfig;
    use rheoflow::time::WatermarkStrategy;
    use rheoflow::window::Tumbling;
    use std::time::Duration;

    fn send_flow<S: Send>(_: &Flow<S>) {}
    fn send_flows<S: Send>(_: &[Flow<S>]) {}

    let ts = |t: &u64| Timestamp::from_millis(*t as i64);
    let windows = Flow::from_iter(0..10u64)
        .watermarks(ts, WatermarkStrategy::monotonic())
        .key_by(|t| t % 3)
        .window(Tumbling::of(Duration::from_secs(1)), ts)
        .aggregate(Count);
    send_flow(&windows);
    let staged = Flow::from_iter(0..10u64)
        .stage(StageConfig::default())
        .union(Flow::from_iter(10..20u64));
    send_flow(&staged);
    let parallel = Flow::from_iter(0..10u64)
        .key_by(|t| t % 3)
        .parallel(2, StageConfig::default(), |keyed| keyed.aggregate(Count))
        .unwrap();
    send_flow(&parallel);
    let subscribers = Flow::from_iter(0..10u64)
        .broadcast(2, StageConfig::default())
        .unwrap();
    send_flows(&subscribers);
    let stopped = Flow::from_iter(0..10u64).stop_on(
        rheoflow::CancellationToken::new(),
        rheoflow::Shutdown::Flush,
    );
    send_flow(&stopped);
}
