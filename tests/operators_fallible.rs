//! Fallible operators (`try_map`, `try_filter_map`) under each error policy: skip, dead-letter
//! and fail, with errors and panics, exact counts in the dead-letter output and the metrics, and
//! dead-letter backpressure.

mod support;

use std::fmt;

use rheoflow::error::RecordError;
use rheoflow::error_policy::{self, DeadLetter};
use rheoflow::metrics::DropReason;
use rheoflow::{Barrier, Control, Error, ErrorPolicy, Flow, Message, Timestamp};

use support::{barrier, controls, data, end, messages, output, watermark};

/// The error of [`parse`].
#[derive(Debug)]
struct Bad(u32);

impl fmt::Display for Bad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad {}", self.0)
    }
}

impl std::error::Error for Bad {}

/// Multiples of 3 fail, multiples of 7 (that are not multiples of 3) panic, the rest double.
fn parse(x: &u32) -> Result<u32, Bad> {
    if x.is_multiple_of(3) {
        Err(Bad(*x))
    } else if x.is_multiple_of(7) {
        panic!("panic on {x}")
    } else {
        Ok(x * 2)
    }
}

/// Like [`parse`], and multiples of 5 (that fail neither way) are filtered out.
fn parse_some(x: &u32) -> Result<Option<u32>, Bad> {
    if x.is_multiple_of(5) && !x.is_multiple_of(3) && !x.is_multiple_of(7) {
        return Ok(None);
    }
    parse(x).map(Some)
}

fn is_error(x: u32) -> bool {
    x.is_multiple_of(3)
}

fn is_panic(x: u32) -> bool {
    !x.is_multiple_of(3) && x.is_multiple_of(7)
}

fn is_bad(x: u32) -> bool {
    is_error(x) || is_panic(x)
}

const N: u32 = 1_000;

fn expected_map() -> Vec<u32> {
    (0..N).filter(|x| !is_bad(*x)).map(|x| x * 2).collect()
}

fn expected_filter_map() -> Vec<u32> {
    (0..N)
        .filter(|x| !is_bad(*x) && x % 5 != 0)
        .map(|x| x * 2)
        .collect()
}

fn bad_count() -> u64 {
    (0..N).filter(|x| is_bad(*x)).count() as u64
}

#[tokio::test]
async fn try_map_skip_drops_errors_and_panics_and_counts_them() -> Result<(), Error> {
    let flow = Flow::from_iter(0..N).try_map(parse, ErrorPolicy::skip());
    let metrics = flow.metrics();
    assert_eq!(flow.collect::<Vec<_>>().await?, expected_map());

    let snapshot = metrics.snapshot();
    let op = snapshot.operator("try_map-0").expect("registered");
    assert_eq!(op.dropped(DropReason::Skipped), bad_count());
    assert_eq!(op.total_dropped(), bad_count());
    Ok(())
}

#[tokio::test]
async fn try_filter_map_skip_keeps_some_and_counts_failures_only() -> Result<(), Error> {
    let flow = Flow::from_iter(0..N).try_filter_map(parse_some, ErrorPolicy::skip());
    let metrics = flow.metrics();
    assert_eq!(flow.collect::<Vec<_>>().await?, expected_filter_map());
    // Items filtered out with `Ok(None)` are not failures.
    assert_eq!(metrics.snapshot().dropped(DropReason::Skipped), bad_count());
    assert_eq!(
        metrics.snapshot().operators()[0].total_dropped(),
        bad_count()
    );
    Ok(())
}

/// Checks the dead letters against the input: exactly the bad items, in order, with their index
/// and the right kind of error.
fn check_dead_letters(dead: &[DeadLetter<u32>]) {
    let bad: Vec<u32> = (0..N).filter(|x| is_bad(*x)).collect();
    let records: Vec<u32> = dead.iter().map(|d| *d.record()).collect();
    assert_eq!(records, bad);
    for letter in dead {
        let x = *letter.record();
        assert_eq!(
            letter.index(),
            u64::from(x),
            "the index is the position in the input"
        );
        assert_eq!(letter.offset(), None);
        match letter.error() {
            RecordError::Failed(err) => {
                assert!(is_error(x));
                assert_eq!(err.to_string(), format!("bad {x}"));
            }
            RecordError::Panicked { message } => {
                assert!(is_panic(x));
                assert_eq!(message, &format!("panic on {x}"));
            }
            other => panic!("unexpected error {other:?}"),
        }
    }
}

#[tokio::test]
async fn try_map_dead_letter_sends_every_failure_exactly_once() -> Result<(), Error> {
    let (sender, dead) = error_policy::channel(16)?;
    let flow = Flow::from_iter(0..N).try_map(parse, ErrorPolicy::dead_letter(sender));
    let metrics = flow.metrics();
    let (out, dead) = tokio::join!(flow.collect::<Vec<_>>(), dead.collect::<Vec<_>>());

    assert_eq!(out?, expected_map());
    let dead = dead?;
    check_dead_letters(&dead);
    let snapshot = metrics.snapshot();
    assert_eq!(
        snapshot.dropped(DropReason::DeadLettered),
        dead.len() as u64
    );
    assert_eq!(snapshot.dropped(DropReason::DeadLettered), bad_count());
    assert_eq!(snapshot.dropped(DropReason::Skipped), 0);
    Ok(())
}

#[tokio::test]
async fn try_filter_map_dead_letter_sends_every_failure_exactly_once() -> Result<(), Error> {
    let (sender, dead) = error_policy::channel(16)?;
    let flow = Flow::from_iter(0..N).try_filter_map(parse_some, ErrorPolicy::dead_letter(sender));
    let metrics = flow.metrics();
    let (out, dead) = tokio::join!(flow.collect::<Vec<_>>(), dead.collect::<Vec<_>>());

    assert_eq!(out?, expected_filter_map());
    let dead = dead?;
    check_dead_letters(&dead);
    assert_eq!(
        metrics.snapshot().dropped(DropReason::DeadLettered),
        bad_count()
    );
    Ok(())
}

#[tokio::test]
async fn dead_letter_backpressure_with_capacity_one_loses_nothing() -> Result<(), Error> {
    let (sender, dead) = error_policy::channel(1)?;
    let flow = Flow::from_iter(0..N).try_map(parse, ErrorPolicy::dead_letter(sender));
    let metrics = flow.metrics();
    // The dead-letter flow is consumed slowly, on another task: the main flow has to wait.
    let dead = tokio::spawn(async move {
        let mut letters = Vec::new();
        dead.for_each(|letter| letters.push(letter)).await?;
        Ok::<_, Error>(letters)
    });
    let out = tokio::spawn(flow.collect::<Vec<_>>());

    assert_eq!(out.await.expect("no panic")?, expected_map());
    let dead = dead.await.expect("no panic")?;
    check_dead_letters(&dead);
    let snapshot = metrics.snapshot();
    assert_eq!(snapshot.dropped(DropReason::DeadLettered), bad_count());
    assert_eq!(snapshot.dropped(DropReason::Skipped), 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letter_backpressure_across_threads_loses_nothing() -> Result<(), Error> {
    let (sender, dead) = error_policy::channel(1)?;
    let flow = Flow::from_iter(0..N).try_filter_map(parse_some, ErrorPolicy::dead_letter(sender));
    let metrics = flow.metrics();
    let dead = tokio::spawn(dead.collect::<Vec<_>>());
    let out = tokio::spawn(flow.collect::<Vec<_>>());

    assert_eq!(out.await.expect("no panic")?, expected_filter_map());
    check_dead_letters(&dead.await.expect("no panic")?);
    assert_eq!(
        metrics.snapshot().dropped(DropReason::DeadLettered),
        bad_count()
    );
    Ok(())
}

#[tokio::test]
async fn a_dropped_dead_letter_flow_counts_failures_as_skipped() -> Result<(), Error> {
    let (sender, dead) = error_policy::channel(4)?;
    drop(dead);
    let flow = Flow::from_iter(0..N).try_map(parse, ErrorPolicy::dead_letter(sender));
    let metrics = flow.metrics();
    assert_eq!(flow.collect::<Vec<_>>().await?, expected_map());
    let snapshot = metrics.snapshot();
    assert_eq!(snapshot.dropped(DropReason::Skipped), bad_count());
    assert_eq!(snapshot.dropped(DropReason::DeadLettered), 0);
    Ok(())
}

#[tokio::test]
async fn a_dead_letter_flow_dropped_midway_counts_later_failures_as_skipped() -> Result<(), Error> {
    let (sender, mut dead) = error_policy::channel(1)?;
    let flow = Flow::from_iter(0..N).try_map(parse, ErrorPolicy::dead_letter(sender));
    let metrics = flow.metrics();
    let reader = async move {
        // Take three dead letters, then drop the dead-letter flow.
        let mut taken = Vec::new();
        while taken.len() < 3 {
            match futures::StreamExt::next(&mut dead).await {
                Some(Message::Data(letter)) => taken.push(*letter.record()),
                other => panic!("unexpected {other:?}"),
            }
        }
        taken
    };
    let (out, taken) = tokio::join!(flow.collect::<Vec<_>>(), reader);
    assert_eq!(out?, expected_map());
    assert_eq!(taken, [0, 3, 6]);

    let snapshot = metrics.snapshot();
    let sent = snapshot.dropped(DropReason::DeadLettered);
    let skipped = snapshot.dropped(DropReason::Skipped);
    // Three were taken; at most one more sat in the channel's buffer when it was dropped.
    assert!((3..=4).contains(&sent), "{sent} dead-lettered");
    assert_eq!(sent + skipped, bad_count());
    Ok(())
}

#[tokio::test]
async fn try_map_fail_names_the_first_bad_record() {
    let flow = Flow::from_iter(10..N).try_map(parse, ErrorPolicy::fail());
    let metrics = flow.metrics();
    let mut seen = Vec::new();
    let result = flow.for_each(|x| seen.push(x)).await;

    // 10, 11 pass; 12 is a multiple of 3, the third record the operator saw.
    assert_eq!(seen, [20, 22]);
    let Err(Error::Record(failed)) = result else {
        panic!("expected a record error, got {result:?}");
    };
    assert_eq!(failed.index(), 2);
    assert_eq!(failed.offset(), None);
    assert!(matches!(failed.cause(), RecordError::Failed(_)));
    assert_eq!(failed.to_string(), "record #2 failed: bad 12");
    assert_eq!(metrics.snapshot().dropped(DropReason::Failed), 1);
    assert_eq!(metrics.snapshot().dropped(DropReason::Skipped), 0);
}

#[tokio::test]
async fn try_map_fail_on_a_panic_names_the_record() {
    let result = Flow::from_iter([1u32, 2, 7, 4])
        .try_map(parse, ErrorPolicy::fail())
        .collect::<Vec<_>>()
        .await;
    let Err(Error::Record(failed)) = result else {
        panic!("expected a record error, got {result:?}");
    };
    assert_eq!(failed.index(), 2);
    assert_eq!(failed.to_string(), "record #2 failed: panicked: panic on 7");
}

#[tokio::test]
async fn try_filter_map_fail_counts_filtered_items_in_the_index() {
    // 5 and 10 are filtered out (`Ok(None)`), 12 fails: the operator saw 5, 8, 10, 11, 12.
    let result = Flow::from_iter([5u32, 8, 10, 11, 12, 13])
        .try_filter_map(parse_some, ErrorPolicy::fail())
        .collect::<Vec<_>>()
        .await;
    let Err(Error::Record(failed)) = result else {
        panic!("expected a record error, got {result:?}");
    };
    assert_eq!(failed.index(), 4);
}

#[tokio::test]
async fn fail_emits_the_failure_in_band_and_nothing_after() {
    let out = output(
        messages(vec![
            watermark(0),
            data(1),
            barrier(1),
            data(3),
            data(4),
            watermark(9),
            end(),
        ])
        .try_map(parse, ErrorPolicy::fail()),
    )
    .await;
    assert_eq!(out.len(), 4, "{out:?}");
    assert_eq!(out[..3], [watermark(0), data(2), barrier(1)]);
    match &out[3] {
        Message::Control(Control::Failed(err)) => {
            assert_eq!(err.to_string(), "record #1 failed: bad 3");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn input() -> Vec<Message<u32>> {
    vec![
        watermark(0),
        data(1),
        barrier(1),
        data(3),
        watermark(5),
        data(7),
        data(4),
        barrier(2),
        data(6),
        end(),
    ]
}

#[tokio::test]
async fn fallible_operators_forward_controls_in_order_under_every_policy() -> Result<(), Error> {
    let expected = [
        watermark(0),
        data(2),
        barrier(1),
        watermark(5),
        data(8),
        barrier(2),
        end(),
    ];

    let out = output(messages(input()).try_map(parse, ErrorPolicy::skip())).await;
    assert_eq!(out, expected);
    let out = output(messages(input()).try_filter_map(parse_some, ErrorPolicy::skip())).await;
    assert_eq!(out, expected);

    // Capacity 1 and three failures: the operator waits for room while controls queue behind.
    let (sender, dead) = error_policy::channel(1)?;
    let main = output(messages(input()).try_map(parse, ErrorPolicy::dead_letter(sender)));
    let (out, dead) = tokio::join!(main, dead.collect::<Vec<_>>());
    assert_eq!(out, expected);
    let records: Vec<u32> = dead?.iter().map(|d| *d.record()).collect();
    assert_eq!(records, [3, 7, 6]);

    let (sender, dead) = error_policy::channel(1)?;
    let main =
        output(messages(input()).try_filter_map(parse_some, ErrorPolicy::dead_letter(sender)));
    let (out, dead) = tokio::join!(main, dead.collect::<Vec<_>>());
    assert_eq!(out, expected);
    assert_eq!(dead?.len(), 3);

    let out = output(messages(input()).try_map(parse, ErrorPolicy::fail())).await;
    assert_eq!(
        controls(&out)[..2],
        [
            Control::Watermark(Timestamp::from_millis(0)),
            Control::Barrier(Barrier::new(1, Timestamp::from_millis(0))),
        ]
    );
    Ok(())
}

#[tokio::test]
async fn the_dead_letter_flow_ends_once_every_sender_is_dropped() -> Result<(), Error> {
    let (sender, dead) = error_policy::channel(8)?;
    let a = Flow::from_iter([1u32, 3]).try_map(parse, ErrorPolicy::dead_letter(sender.clone()));
    let b = Flow::from_iter([6u32, 2]).try_map(parse, ErrorPolicy::dead_letter(sender));
    let (a, b, dead) = tokio::join!(a.collect::<Vec<_>>(), b.collect::<Vec<_>>(), output(dead));
    assert_eq!(a?, [2]);
    assert_eq!(b?, [4]);
    assert_eq!(dead.len(), 3, "two dead letters, then the end");
    assert!(matches!(dead.last(), Some(Message::Control(Control::End))));
    Ok(())
}
