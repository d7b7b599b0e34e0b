//! `http_service`: rheoflow embedded in a tokio HTTP service (axum).
//!
//! ```text
//! cargo run --example http_service -- [--port PORT]
//! cargo run --example http_service -- --self-test
//! ```
//!
//! The handlers feed a flow that runs next to the server on its own task:
//!
//! ```text
//! POST /events ─► source::channel ─► stop_on(token, Flush) ─► watermarks (1 s out of order)
//!     ─► stage ─► key_by(sensor) ─► 10 s tumbling windows ─► (Count, Mean, Max) ─► latest per sensor
//! ```
//!
//! - `POST /events` takes one event `{"sensor": "a", "time": <epoch ms>, "value": 1.5}` or a JSON
//!   array of them, and sends each into the flow with [`Sender::send`]: when the flow is busy the
//!   handler waits (backpressure reaches the HTTP client as a slower response, never as an
//!   unbounded queue). It answers `202 Accepted` with `{"accepted": n}`, or `503 Service
//!   Unavailable` with `{"accepted": n, "refused": m}` once the flow has shut down.
//! - `GET /metrics` answers the flow's metrics snapshot (every operator's name and counters) and
//!   the latest window result per sensor.
//! - `POST /shutdown` cancels the flow's token: the channel closes, what it already accepted
//!   drains through, every open window fires, and the handler answers once the flow task has
//!   ended, with what was processed. Then the server shuts down gracefully; so does Ctrl-C.
//!
//! The server binds to `127.0.0.1:PORT` (`--port`, default 0: any free port) and prints its
//! address. `--self-test` starts it, sends a few hundred events to itself over loopback with
//! hand-written HTTP/1.1 requests, checks `/metrics`, calls `/shutdown` and checks that the
//! windows counted every accepted event; it exits 0 on success and 1 on any mismatch.

use std::collections::BTreeMap;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rheoflow::aggregate::{Count, Max, Mean};
use rheoflow::channel::StageConfig;
use rheoflow::error::SinkError;
use rheoflow::metrics::{DropReason, Metrics};
use rheoflow::source::{self, Sender};
use rheoflow::time::WatermarkStrategy;
use rheoflow::window::{Tumbling, WindowResult};
use rheoflow::{CancellationToken, FlowTask, Shutdown, Sink, Timestamp};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const USAGE: &str = "usage: http_service [--port PORT] [--self-test]";

/// Events the source channel holds before `POST /events` waits.
const CHANNEL_CAPACITY: usize = 1_024;
/// Items the stage boundary between the watermarks and the windows holds.
const STAGE_CAPACITY: usize = 4_096;
const WINDOW: Duration = Duration::from_secs(10);
const OUT_OF_ORDERNESS: Duration = Duration::from_secs(1);

/// One reading, as posted to `/events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Event {
    sensor: String,
    /// Event time, epoch milliseconds.
    time: i64,
    value: f64,
}

/// The body of `POST /events`: one event or an array of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Events {
    One(Event),
    Many(Vec<Event>),
}

/// One window's result for one sensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct WindowSummary {
    /// The window `[start, end)`, epoch milliseconds.
    start: i64,
    end: i64,
    count: u64,
    mean: Option<f64>,
    max: Option<f64>,
}

/// What the sink keeps: updated once per window result, never per event.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct WindowTotals {
    /// Window results received.
    fired: u64,
    /// The sum of their counts: events the windows counted.
    events_counted: u64,
    /// The latest result of each sensor.
    latest: BTreeMap<String, WindowSummary>,
}

type Stats = (u64, Option<f64>, Option<f64>);

/// The flow's sink: writes each batch of window results into the shared [`WindowTotals`].
#[derive(Debug)]
struct LatestPerSensor {
    totals: Arc<Mutex<WindowTotals>>,
}

#[async_trait::async_trait]
impl Sink<WindowResult<String, Stats>> for LatestPerSensor {
    async fn write(
        &mut self,
        batch: &mut Vec<WindowResult<String, Stats>>,
    ) -> Result<(), SinkError> {
        let mut totals = lock(&self.totals);
        for result in batch.drain(..) {
            let (count, mean, max) = result.value;
            // Without allowed lateness a window fires once, so the counts simply add up.
            totals.fired += 1;
            totals.events_counted += count;
            totals.latest.insert(
                result.key,
                WindowSummary {
                    start: result.window.start().millis(),
                    end: result.window.end().millis(),
                    count,
                    mean,
                    max,
                },
            );
        }
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One operator in `GET /metrics`.
#[derive(Debug, Serialize, Deserialize)]
struct OperatorMetrics {
    name: String,
    items_in: u64,
    items_out: u64,
    /// Dropped items by reason, the reasons with a count only.
    dropped: BTreeMap<String, u64>,
    queue_depth: u64,
    blocked_ms: f64,
}

/// The body of `GET /metrics`.
#[derive(Debug, Serialize, Deserialize)]
struct MetricsBody {
    events_accepted: u64,
    events_refused: u64,
    operators: Vec<OperatorMetrics>,
    windows: WindowTotals,
}

/// The body of `POST /shutdown`: what the flow processed, once it has ended.
#[derive(Debug, Serialize, Deserialize)]
struct ShutdownReport {
    /// `"ok"`, or the flow's error.
    flow: String,
    events_accepted: u64,
    events_refused: u64,
    /// Events the windows counted (the sum of the window counts).
    events_counted: u64,
    /// Events that came too late for their window (dropped and counted by the window operator).
    events_late: u64,
    windows_fired: u64,
    latest: BTreeMap<String, WindowSummary>,
}

/// The service's state, shared by every handler.
#[derive(Debug)]
struct App {
    sender: Sender<Event>,
    metrics: Metrics,
    totals: Arc<Mutex<WindowTotals>>,
    accepted: AtomicU64,
    refused: AtomicU64,
    /// Stops the flow (`Flow::stop_on`).
    flow_token: CancellationToken,
    /// Stops the server (graceful shutdown).
    server_stop: CancellationToken,
    flow: tokio::sync::Mutex<FlowHandle>,
}

#[derive(Debug)]
struct FlowHandle {
    task: Option<FlowTask<LatestPerSensor>>,
    /// `Ok` or the flow's error, once the task has ended.
    outcome: Option<Result<(), String>>,
}

impl App {
    /// Builds the flow, spawns it on its own task, and returns the state the handlers share.
    fn start() -> Result<Arc<App>, rheoflow::Error> {
        let flow_token = CancellationToken::new();
        let totals = Arc::new(Mutex::new(WindowTotals::default()));
        let time = |e: &Event| Timestamp::from_millis(e.time);
        let (sender, events) = source::channel::<Event>(CHANNEL_CAPACITY)?;
        let flow = events
            .name("http-events")
            .stop_on(flow_token.clone(), Shutdown::Flush)
            .watermarks(
                time,
                WatermarkStrategy::bounded_out_of_orderness(OUT_OF_ORDERNESS),
            )
            .stage(StageConfig::with_capacity(STAGE_CAPACITY)?)
            .name("hand-off")
            .key_by(|e: &Event| e.sensor.clone())
            .window(Tumbling::of(WINDOW), time)
            .aggregate((
                Count,
                Mean::of(|e: &Event| e.value),
                Max::of(|e: &Event| e.value),
            ))
            .name("windows");
        let metrics = flow.metrics();
        let task = flow.spawn(LatestPerSensor {
            totals: Arc::clone(&totals),
        });
        Ok(Arc::new(App {
            sender,
            metrics,
            totals,
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            flow_token,
            server_stop: CancellationToken::new(),
            flow: tokio::sync::Mutex::new(FlowHandle {
                task: Some(task),
                outcome: None,
            }),
        }))
    }

    /// Sends `events` into the flow in order, waiting for room; returns how many were accepted
    /// and how many refused because the flow has shut down.
    async fn ingest(&self, events: Vec<Event>) -> (u64, u64) {
        let total = events.len() as u64;
        let mut accepted = 0;
        for event in events {
            if self.sender.send(event).await.is_err() {
                break;
            }
            // Counted one by one, so that a request dropped halfway still counts what went in.
            self.accepted.fetch_add(1, Ordering::Relaxed);
            accepted += 1;
        }
        let refused = total - accepted;
        self.refused.fetch_add(refused, Ordering::Relaxed);
        (accepted, refused)
    }

    fn metrics_body(&self) -> MetricsBody {
        let snapshot = self.metrics.snapshot();
        let operators = snapshot
            .operators()
            .iter()
            .map(|op| OperatorMetrics {
                name: op.name().to_owned(),
                items_in: op.items_in(),
                items_out: op.items_out(),
                dropped: DropReason::ALL
                    .into_iter()
                    .filter(|reason| op.dropped(*reason) > 0)
                    .map(|reason| (reason.to_string(), op.dropped(reason)))
                    .collect(),
                queue_depth: op.queue_depth(),
                blocked_ms: op.blocked().as_secs_f64() * 1e3,
            })
            .collect();
        MetricsBody {
            events_accepted: self.accepted.load(Ordering::Relaxed),
            events_refused: self.refused.load(Ordering::Relaxed),
            operators,
            windows: lock(&self.totals).clone(),
        }
    }

    /// Stops the flow and waits for its task to end: the channel closes, what it accepted drains
    /// through, the windows flush. Returns at once when the flow has already ended.
    async fn stop_flow(&self) -> ShutdownReport {
        self.flow_token.cancel();
        let outcome = {
            let mut flow = self.flow.lock().await;
            if let Some(task) = flow.task.as_mut() {
                // Awaited in place: if this request is dropped, the next caller waits instead.
                let result = task.await;
                flow.task = None;
                flow.outcome = Some(result.map(drop).map_err(|err| err.to_string()));
            }
            flow.outcome.clone().unwrap_or(Ok(()))
        };
        let snapshot = self.metrics.snapshot();
        let totals = lock(&self.totals).clone();
        ShutdownReport {
            flow: outcome.err().unwrap_or_else(|| "ok".to_owned()),
            events_accepted: self.accepted.load(Ordering::Relaxed),
            events_refused: self.refused.load(Ordering::Relaxed),
            events_counted: totals.events_counted,
            events_late: snapshot.dropped(DropReason::Late),
            windows_fired: totals.fired,
            latest: totals.latest,
        }
    }
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/events", post(post_events))
        .route("/metrics", get(get_metrics))
        .route("/shutdown", post(post_shutdown))
        .with_state(app)
}

async fn post_events(State(app): State<Arc<App>>, Json(body): Json<Events>) -> Response {
    let events = match body {
        Events::One(event) => vec![event],
        Events::Many(events) => events,
    };
    match app.ingest(events).await {
        (accepted, 0) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "accepted": accepted })),
        )
            .into_response(),
        (accepted, refused) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({
                "error": "the flow has shut down",
                "accepted": accepted,
                "refused": refused,
            })),
        )
            .into_response(),
    }
}

async fn get_metrics(State(app): State<Arc<App>>) -> Json<MetricsBody> {
    Json(app.metrics_body())
}

async fn post_shutdown(State(app): State<Arc<App>>) -> Response {
    let report = app.stop_flow().await;
    // The server stops taking connections and ends once this response is written.
    app.server_stop.cancel();
    let status = if report.flow == "ok" {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    (status, Json(report)).into_response()
}

// ---------------------------------------------------------------------------------------------
// Main

#[derive(Debug)]
struct Args {
    port: u16,
    self_test: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        port: 0,
        self_test: false,
    };
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(None),
            "--self-test" if inline.is_none() => parsed.self_test = true,
            "--port" => {
                let value = inline
                    .or_else(|| args.next())
                    .ok_or("`--port` needs a value")?;
                parsed.port = value
                    .parse()
                    .map_err(|_| format!("bad port `{value}`: expected 0 to 65535"))?;
            }
            _ => return Err(format!("unexpected argument `{name}`")),
        }
    }
    Ok(Some(parsed))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|err| format!("cannot bind 127.0.0.1:{}: {err}", args.port))?;
    let addr = listener.local_addr().map_err(|err| err.to_string())?;
    let app = App::start().map_err(|err| format!("cannot build the flow: {err}"))?;
    println!("listening on http://{addr}");

    let stop = app.server_stop.clone();
    let signal = async move {
        tokio::select! {
            () = stop.cancelled() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    let server = tokio::spawn(
        axum::serve(listener, router(Arc::clone(&app)))
            .with_graceful_shutdown(signal)
            .into_future(),
    );

    let checked = if args.self_test {
        self_test(addr, &app).await
    } else {
        Ok(())
    };
    if checked.is_err() {
        app.server_stop.cancel();
    }
    // Served until `/shutdown` or Ctrl-C; the self-test bounds its wait.
    let joined = if args.self_test {
        tokio::time::timeout(SHUTDOWN_TIMEOUT, server)
            .await
            .map_err(|_| format!("the server did not shut down within {SHUTDOWN_TIMEOUT:?}"))
    } else {
        Ok(server.await)
    };
    let served = match joined {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(err))) => Err(format!("server failed: {err}")),
        Ok(Err(err)) => Err(format!("server task failed: {err}")),
        Err(message) => Err(message),
    };
    // After Ctrl-C, or if the self-test failed early: stop the flow too (a no-op after
    // `/shutdown`).
    let report = app.stop_flow().await;
    if !args.self_test {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|err| err.to_string())?
        );
    }
    checked?;
    served?;
    if report.flow != "ok" {
        return Err(format!("the flow failed: {}", report.flow));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Self-test: a client over loopback

/// Sensors of the generated events.
const SENSORS: [&str; 5] = ["a", "b", "c", "d", "e"];
/// Generated events.
const EVENTS: usize = 400;
/// Events per request, cycled: 1 is sent as a single object, the others as arrays.
const CHUNKS: [usize; 5] = [1, 5, 20, 50, 13];
/// 2023-11-14T22:13:20Z: generated event times start here.
const BASE_TIME: i64 = 1_700_000_000_000;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the self-test waits for the server to shut down after `/shutdown`.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// The `i`-th generated event: 100 ms apart, up to 400 ms out of order (within the 1 s bound, so
/// none is late).
fn generated(i: usize) -> Event {
    let i64_i = i as i64;
    let jitter = (i64_i * 7_919 % 801) - 400;
    Event {
        sensor: SENSORS[i * 3 % SENSORS.len()].to_owned(),
        time: BASE_TIME + i64_i * 100 + jitter,
        value: (i * 37 % 100) as f64 / 4.0 - 5.0,
    }
}

/// What the windows should report for `events`: per sensor and window start, count, sum, max.
fn expected(events: &[Event]) -> BTreeMap<(String, i64), (u64, f64, f64)> {
    let size = WINDOW.as_millis() as i64;
    let mut windows = BTreeMap::new();
    for event in events {
        let start = event.time - event.time.rem_euclid(size);
        let entry = windows
            .entry((event.sensor.clone(), start))
            .or_insert((0, 0.0, f64::MIN));
        entry.0 += 1;
        entry.1 += event.value;
        entry.2 = entry.2.max(event.value);
    }
    windows
}

fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("self-test failed: {}", what()))
    }
}

async fn self_test(addr: SocketAddr, app: &Arc<App>) -> Result<(), String> {
    let started = Instant::now();
    let events: Vec<Event> = (0..EVENTS).map(generated).collect();

    // 1. Post the events, one request per chunk.
    let (mut sent, mut requests) = (0, 0);
    for size in CHUNKS.iter().cycle() {
        if sent == events.len() {
            break;
        }
        let chunk = &events[sent..(sent + size).min(events.len())];
        let body = if let [one] = chunk {
            serde_json::to_string(one)
        } else {
            serde_json::to_string(chunk)
        }
        .map_err(|err| err.to_string())?;
        let (status, reply) = request(addr, "POST", "/events", &body).await?;
        check(status == 202, || format!("POST /events: {status} {reply}"))?;
        let reply: serde_json::Value = parse(&reply)?;
        check(reply["accepted"] == chunk.len(), || {
            format!("POST /events accepted {reply}, sent {}", chunk.len())
        })?;
        sent += chunk.len();
        requests += 1;
    }
    let accepted = sent as u64;

    // 2. Bad bodies are refused by the JSON extractor and never reach the flow.
    for bad in [
        r#"{"sensor": "a", "time": 1"#,
        r#"{"sensor": "a", "value": 1.0}"#,
    ] {
        let (status, reply) = request(addr, "POST", "/events", bad).await?;
        check((400..500).contains(&status), || {
            format!("POST /events {bad}: expected a 4xx, got {status} {reply}")
        })?;
    }

    // 3. `/metrics`, polled until the windows have taken in every event (a bounded wait: the flow
    //    runs on its own task, and window counters are published whenever it waits for input).
    let mut metrics = None;
    for _ in 0..200 {
        let (status, reply) = request(addr, "GET", "/metrics", "").await?;
        check(status == 200, || format!("GET /metrics: {status} {reply}"))?;
        let body: MetricsBody = parse(&reply)?;
        let items = |name: &str, f: fn(&OperatorMetrics) -> u64| {
            body.operators
                .iter()
                .find(|op| op.name == name)
                .map(f)
                .unwrap_or(0)
        };
        if items("http-events", |op| op.items_out) == accepted
            && items("windows", |op| op.items_in) == accepted
        {
            metrics = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let metrics = metrics.ok_or_else(|| {
        "self-test failed: /metrics never showed every event through the windows".to_owned()
    })?;
    check(metrics.events_accepted == accepted, || {
        format!("/metrics events_accepted {}", metrics.events_accepted)
    })?;
    for name in ["http-events", "hand-off", "windows"] {
        check(metrics.operators.iter().any(|op| op.name == name), || {
            format!("/metrics has no operator `{name}`")
        })?;
    }
    check(metrics.windows.fired > 0, || {
        "no window fired before the shutdown".to_owned()
    })?;

    // 4. Shut down: the windows flush, and every accepted event is counted.
    let (status, reply) = request(addr, "POST", "/shutdown", "").await?;
    check(status == 200, || {
        format!("POST /shutdown: {status} {reply}")
    })?;
    let report: ShutdownReport = parse(&reply)?;
    let windows = expected(&events);
    check(report.events_accepted == accepted, || {
        format!("accepted {} of {accepted}", report.events_accepted)
    })?;
    check(report.events_counted == accepted, || {
        format!(
            "the windows counted {} events, {accepted} were accepted",
            report.events_counted
        )
    })?;
    check(
        report.events_late == 0 && report.events_refused == 0,
        || {
            format!(
                "late {}, refused {}",
                report.events_late, report.events_refused
            )
        },
    )?;
    check(report.windows_fired == windows.len() as u64, || {
        format!(
            "{} windows fired, expected {}",
            report.windows_fired,
            windows.len()
        )
    })?;
    for sensor in SENSORS {
        let last = windows
            .iter()
            .rfind(|((key, _), _)| key == sensor)
            .map(|((_, start), stats)| (*start, *stats));
        let got = report.latest.get(sensor);
        let matches = match (last, got) {
            (Some((start, (count, sum, max))), Some(got)) => {
                got.start == start
                    && got.count == count
                    && got.max == Some(max)
                    && got
                        .mean
                        .is_some_and(|mean| (mean - sum / count as f64).abs() < 1e-9)
            }
            _ => false,
        };
        check(matches, || {
            format!("sensor {sensor}: latest window {got:?}, expected {last:?}")
        })?;
    }

    // 5. After the shutdown the flow refuses events: the handler, called here directly as the
    //    server no longer takes connections, answers 503 with the count refused.
    let batch = Events::Many(vec![generated(0), generated(1)]);
    let response = post_events(State(Arc::clone(app)), Json(batch)).await;
    let status = response.status();
    let reply = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .map_err(|err| err.to_string())?;
    let reply: serde_json::Value = serde_json::from_slice(&reply).map_err(|err| err.to_string())?;
    check(
        status == StatusCode::SERVICE_UNAVAILABLE
            && reply["accepted"] == 0
            && reply["refused"] == 2,
        || format!("POST /events after the shutdown: {status} {reply}"),
    )?;

    println!(
        "self-test passed: {accepted} events in {requests} requests, {} windows, {} events \
         counted, {} operators in /metrics, {:.0} ms",
        report.windows_fired,
        report.events_counted,
        metrics.operators.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

fn parse<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, String> {
    serde_json::from_str(body).map_err(|err| format!("bad JSON reply ({err}): {body}"))
}

/// Sends one HTTP/1.1 request on a new connection and returns the status and the body.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> Result<(u16, String), String> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await?;
        Ok::<_, std::io::Error>(reply)
    };
    let reply = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("{method} {path}: no reply within {REQUEST_TIMEOUT:?}"))?
        .map_err(|err| format!("{method} {path}: {err}"))?;
    let reply = String::from_utf8(reply).map_err(|_| format!("{method} {path}: not UTF-8"))?;
    let (head, body) = reply
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{method} {path}: no end of headers in {reply:?}"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("{method} {path}: bad status line in {head:?}"))?;
    let chunked = head.lines().any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("transfer-encoding:") && line.contains("chunked")
    });
    let body = if chunked {
        dechunk(body).ok_or_else(|| format!("{method} {path}: bad chunked body"))?
    } else {
        body.to_owned()
    };
    Ok((status, body))
}

/// Decodes a `Transfer-Encoding: chunked` body.
fn dechunk(mut rest: &str) -> Option<String> {
    let mut body = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(body);
        }
        body.push_str(after.get(..size)?);
        rest = after.get(size..)?.strip_prefix("\r\n")?;
    }
}
