//! Keyed deduplication with `#[processor(keyed)]`: per-key state, an event-time timer that
//! forgets a key after a TTL, and checkpoints in a local directory that carry both across a
//! restart.
//!
//! The first run reads part of a stream of click events and stops (as a crash would); the
//! second run restarts from the last checkpoint in the same directory: it skips the events
//! already read and still drops the duplicates of events the first run saw.
//!
//! ```text
//! cargo run --example dedup
//! ```

use std::time::Duration;

use futures::StreamExt;
use rheoflow::checkpoint::{CheckpointStore, Checkpoints, DirectoryStore, Trigger};
use rheoflow::keyed::KeyedContext;
use rheoflow::processor::{processor, Timer};
use rheoflow::time::WatermarkStrategy;
use rheoflow::{Flow, Timestamp};
use serde::{Deserialize, Serialize};

/// A click: its id (duplicates share it), the user, and when it happened (ms).
#[derive(Debug, Clone, PartialEq)]
struct Click {
    id: u32,
    user: &'static str,
    at: i64,
}

/// How long a click id is remembered, in event time.
const TTL_MS: i64 = 1_000;

/// Drops a click whose id was seen less than [`TTL_MS`] before.
struct Dedup;

/// What is kept per click id: when it was first seen.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Seen {
    first: Option<i64>,
}

#[processor(keyed)]
impl Dedup {
    fn process(&mut self, click: Click, ctx: &mut KeyedContext<'_, u32, Seen, Click>) {
        if ctx.state().first.is_some() {
            return;
        }
        ctx.state().first = Some(click.at);
        ctx.set_event_timer(Timestamp::from_millis(click.at + TTL_MS));
        ctx.emit(click);
    }

    fn on_timer(&mut self, _timer: Timer, ctx: &mut KeyedContext<'_, u32, Seen, Click>) {
        ctx.clear_state();
    }
}

fn clicks() -> Vec<Click> {
    let click = |id, user, at| Click { id, user, at };
    vec![
        click(1, "ada", 0),
        click(2, "bob", 100),
        click(1, "ada", 150), // duplicate of 1
        click(3, "cy", 300),
        click(2, "bob", 400), // duplicate of 2, seen by the first run
        click(4, "ada", 500),
        click(3, "cy", 700), // duplicate of 3, seen by the first run
        click(5, "bob", 900),
        click(6, "cy", 1_200), // its watermark forgets ids 1 (at 1_000) and 2 (at 1_100)
        click(1, "ada", 1_600), // so id 1 is new again
        click(5, "bob", 1_650), // duplicate of 5
    ]
}

/// The flow, over the whole input: a restart replays the input from the checkpointed position.
fn dedup(checkpoints: &Checkpoints) -> Flow<impl futures::Stream<Item = rheoflow::Message<Click>>> {
    Flow::from_iter(clicks())
        .checkpointed(checkpoints)
        .watermarks(
            |click: &Click| Timestamp::from_millis(click.at),
            WatermarkStrategy::bounded_out_of_orderness(Duration::from_millis(50)),
        )
        .key_by(|click: &Click| click.id)
        .process(Dedup)
        .name("dedup")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), rheoflow::Error> {
    let dir = std::env::temp_dir().join(format!("rheoflow-dedup-{}", std::process::id()));
    let store = DirectoryStore::open(&dir).await?;
    println!("checkpoints in {}", dir.display());

    // First run: a checkpoint every 2 clicks read; it stops (as a crash would) after the
    // fourth unique click, two clicks after the last checkpoint.
    let checkpoints = Checkpoints::open(store, Trigger::every_events(2)).await?;
    println!("first run:");
    let first: Vec<Click> = dedup(&checkpoints).into_stream().take(4).collect().await;
    for click in &first {
        println!("  {click:?}");
    }
    checkpoints.wait_idle().await;

    // Restart from the newest checkpoint in the directory: the source resumes after the fourth
    // click, and the per-key state and timers are as they were then.
    let store = DirectoryStore::open(&dir).await?;
    let restored = store
        .latest()
        .await?
        .map(|checkpoint| checkpoint.id().get());
    println!("restart from checkpoint {restored:?}:");
    let checkpoints = Checkpoints::open(store, Trigger::every_events(2)).await?;
    let second = dedup(&checkpoints).collect::<Vec<_>>().await?;
    for click in &second {
        println!("  {click:?}");
    }
    checkpoints.wait_idle().await;

    // Clicks 2 (at 400) and 3 (at 700) are dropped: their ids are in the restored state. Click
    // 4 comes out again: it was read after the last checkpoint (state is exactly-once, output
    // at-least-once without a transactional sink).
    let ids: Vec<(u32, i64)> = second.iter().map(|click| (click.id, click.at)).collect();
    assert_eq!(ids, [(4, 500), (5, 900), (6, 1_200), (1, 1_600)]);
    println!("the duplicates of clicks 2 and 3 were dropped: the state survived the restart");

    tokio::fs::remove_dir_all(&dir)
        .await
        .map_err(|error| rheoflow::Error::Io(std::sync::Arc::new(error)))?;
    Ok(())
}
