//! `slow_sink_memory`: a fast source in front of a slow sink runs in bounded memory.
//!
//! ```text
//! cargo run --release --example slow_sink_memory -- [EVENTS] [--pause-every N]
//! ```
//!
//! A source produces `EVENTS` events (default 10M) as fast as it can, each with a 64-byte heap
//! payload; a stage boundary of 4096 items hands them to a `map` and a sink that sleeps 1 ms
//! every `N` items (default 1000), so it runs far slower than the source. The stage's bounded
//! queue makes the source wait instead of buffering: the process's peak memory is the same for
//! 1M events as for 10M, while an unbounded queue would hold most of them (about 100 bytes
//! each).
//!
//! Once a second it prints the items sunk, the stage's queue depth, the time the source spent
//! blocked on the full queue and the resident memory; at the end the count, the throughput, the
//! source's blocked time and the peak resident memory (`VmHWM` from `/proc/self/status`, on
//! Linux).

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rheoflow::channel::StageConfig;
use rheoflow::error::SinkError;
use rheoflow::metrics::{Metrics, OperatorSnapshot};
use rheoflow::{Flow, Sink};

const USAGE: &str = "usage: slow_sink_memory [EVENTS] [--pause-every N]";
const STAGE_CAPACITY: usize = 4_096;
const PAYLOAD: usize = 64;

/// One event: an id and a payload on the heap, so that every buffered event costs memory.
struct Event {
    id: u64,
    payload: Vec<u8>,
}

impl Event {
    fn new(id: u64) -> Self {
        Event {
            id,
            payload: vec![id as u8; PAYLOAD],
        }
    }

    fn checksum(&self) -> u64 {
        self.payload
            .iter()
            .fold(self.id, |sum, byte| sum.wrapping_add(u64::from(*byte)))
    }
}

/// A deliberately slow sink: sleeps 1 ms every `pause_every` items.
struct SlowSink {
    pause_every: u64,
    sunk: Arc<AtomicU64>,
    checksum: u64,
}

#[async_trait::async_trait]
impl Sink<u64> for SlowSink {
    async fn write(&mut self, batch: &mut Vec<u64>) -> Result<(), SinkError> {
        for checksum in batch.drain(..) {
            self.checksum = self.checksum.wrapping_add(checksum);
            let sunk = self.sunk.fetch_add(1, Ordering::Relaxed) + 1;
            if sunk.is_multiple_of(self.pause_every) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        Ok(())
    }
}

struct Args {
    events: u64,
    pause_every: u64,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        events: 10_000_000,
        pause_every: 1_000,
    };
    let number = |value: Option<String>, what: &str| -> Result<u64, String> {
        let value = value.ok_or_else(|| format!("`{what}` needs a value"))?;
        match value.replace('_', "").parse() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("bad {what} `{value}`: expected a positive integer")),
        }
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--pause-every" => parsed.pause_every = number(args.next(), "--pause-every")?,
            _ if !arg.starts_with('-') => parsed.events = number(Some(arg), "EVENTS")?,
            _ => return Err(format!("unexpected argument `{arg}`")),
        }
    }
    Ok(parsed)
}

/// A line of `/proc/self/status` in KiB (`VmHWM`: peak resident memory, `VmRSS`: now).
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line[field.len()..]
        .trim_start_matches(':')
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "n/a".to_owned(),
        |kib| format!("{:.1} MiB", kib as f64 / 1024.0),
    )
}

fn stage(metrics: &Metrics) -> Option<OperatorSnapshot> {
    metrics.snapshot().operator("hand-off").cloned()
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("error: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let config = match StageConfig::with_capacity(STAGE_CAPACITY) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let rss_before = status_kib("VmRSS");

    let sunk = Arc::new(AtomicU64::new(0));
    let flow = Flow::from_iter((0..args.events).map(Event::new))
        .stage(config)
        .name("hand-off")
        .map(|event: Event| event.checksum());
    let metrics = flow.metrics();
    let started = Instant::now();
    let task = flow.spawn(SlowSink {
        pause_every: args.pause_every,
        sunk: Arc::clone(&sunk),
        checksum: 0,
    });

    // Once a second: progress, queue depth, blocked time and memory; the deepest queue seen.
    let mut max_depth = 0;
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.tick().await;
    tokio::pin!(task);
    let result = loop {
        tokio::select! {
            result = &mut task => break result,
            _ = every.tick() => {
                if let Some(stage) = stage(&metrics) {
                    max_depth = max_depth.max(stage.queue_depth());
                    eprintln!(
                        "{:5.1} s  sunk {:>10}  queued {:>5}  source blocked {:6.2} s  rss {}",
                        started.elapsed().as_secs_f64(),
                        sunk.load(Ordering::Relaxed),
                        stage.queue_depth(),
                        stage.blocked().as_secs_f64(),
                        mib(status_kib("VmRSS")),
                    );
                }
            }
        }
    };
    let elapsed = started.elapsed();
    let sink = match result {
        Ok(sink) => sink,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let Some(stage) = stage(&metrics) else {
        eprintln!("error: the stage is not in the flow's metrics");
        return ExitCode::FAILURE;
    };

    let count = sunk.load(Ordering::Relaxed);
    let blocked = stage.blocked();
    println!("events {count} (checksum {:#x})", sink.checksum);
    println!(
        "elapsed {:.2} s, {:.2}M events/s",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64() / 1e6
    );
    println!(
        "source blocked on the full stage queue {:.2} s ({:.0}% of the run); stage in {} out {}, \
         deepest queue seen {max_depth} of {STAGE_CAPACITY}",
        blocked.as_secs_f64(),
        100.0 * blocked.as_secs_f64() / elapsed.as_secs_f64(),
        stage.items_in(),
        stage.items_out(),
    );
    println!(
        "rss before the flow {}, peak rss (VmHWM) {}",
        mib(rss_before),
        mib(status_kib("VmHWM"))
    );
    if count != args.events || stage.items_out() != args.events {
        eprintln!("error: {count} events sunk of {}", args.events);
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
