//! Event-time windows (tumbling, sliding, sessions) compared with a brute-force reference model of
//! Flink's semantics (DESIGN.md §3, "the fine print").
//!
//! The model shares no code with the library. For every item it takes the watermark that stood
//! before it, enumerates every window that holds its timestamp by brute force (in `i128`), and
//! tracks per key and window the items, whether the window fired, and what it emits: the on-time
//! result when the watermark reaches `end − 1`, a first result at once for a window that is
//! closed but not late, an update (`Firing::Late`) for a late item within the lateness, early
//! results as the emit policy says, a late item when none of its windows takes it, a gap drop for
//! an item between two sliding windows, and one last firing at the end of input.
//!
//! Per key, the library's results must equal the model's, in order: by the message that fired
//! them, and within one watermark advance by window end. Every non-watermark control message must
//! come out in order; a window operator may merge consecutive watermarks into the last one, but no
//! watermark may overtake the results it (or a later message) fired, and a result fired by an item
//! must follow the watermark that stood before that item. Late items must reach the late output in
//! order, or be counted as `DropReason::Late`; gap drops must be counted as `OutsideWindows`.
//!
//! Order-sensitive aggregators (First, Last, Collect) see a sliding window's items slice by slice
//! (slices of `gcd(size, slide)`, each in arrival order), because the library computes sliding
//! windows from per-slice accumulators; Flink would show them in arrival order. The model follows
//! the library here; see `PaneModel::slice`.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rheoflow::aggregate::{Collect, Count, First, Last, Max, Mean, Min, Sum};
use rheoflow::channel::side_output;
use rheoflow::keyed::BuildState;
use rheoflow::metrics::DropReason;
use rheoflow::window::{
    Aggregate, EmitPolicy, Firing, Session, Sliding, TimeWindow, Tumbling, WindowResult,
};
use rheoflow::{Control, Message, Timestamp};

use support::{messages, output};

// ---------------------------------------------------------------------------------------------
// Items, the aggregation and results

/// An input item: `id` is its position in the input, so order-sensitive aggregators show order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ev {
    key: u8,
    ts: i64,
    value: i64,
    id: u32,
}

fn value_of(e: &Ev) -> i64 {
    e.value
}

fn id_of(e: &Ev) -> u32 {
    e.id
}

type ValueFn = fn(&Ev) -> i64;
type IdFn = fn(&Ev) -> u32;

/// Every built-in aggregator at once.
type Agg = (
    Count,
    Sum<ValueFn>,
    Min<ValueFn>,
    Max<ValueFn>,
    Mean<ValueFn>,
    First<IdFn>,
    Last<IdFn>,
    Collect<IdFn>,
);

type Value = (
    u64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<f64>,
    Option<u32>,
    Option<u32>,
    Vec<u32>,
);

fn agg() -> Agg {
    (
        Count,
        Sum::of(value_of as ValueFn),
        Min::of(value_of as ValueFn),
        Max::of(value_of as ValueFn),
        Mean::of(value_of as ValueFn),
        First::of(id_of as IdFn),
        Last::of(id_of as IdFn),
        Collect::of(id_of as IdFn),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fired {
    Early,
    OnTime,
    Late,
}

/// One result, comparable: the mean by its bits (sums of small integers are exact in `f64`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    key: u8,
    start: i64,
    end: i64,
    firing: Fired,
    count: u64,
    sum: i64,
    min: Option<i64>,
    max: Option<i64>,
    mean: Option<u64>,
    first: Option<u32>,
    last: Option<u32>,
    ids: Vec<u32>,
}

fn lib_row(r: WindowResult<u8, Value>) -> Row {
    let (count, sum, min, max, mean, first, last, ids) = r.value;
    Row {
        key: r.key,
        start: r.window.start().millis(),
        end: r.window.end().millis(),
        firing: match r.firing {
            Firing::Early => Fired::Early,
            Firing::OnTime => Fired::OnTime,
            Firing::Late => Fired::Late,
            other => panic!("unknown firing {other:?}"),
        },
        count,
        sum,
        min,
        max,
        mean: mean.map(f64::to_bits),
        first,
        last,
        ids,
    }
}

fn clamp(v: i128) -> i64 {
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// The model's result for a window `[start, end)` over `items`, in the order the aggregators
/// saw them.
fn model_row(key: u8, start: i128, end: i128, firing: Fired, items: &[Ev]) -> Row {
    let n = items.len() as u64;
    let sum: i64 = items.iter().map(|e| e.value).sum();
    Row {
        key,
        start: clamp(start),
        end: clamp(end),
        firing,
        count: n,
        sum,
        min: items.iter().map(|e| e.value).min(),
        max: items.iter().map(|e| e.value).max(),
        mean: (n > 0).then(|| (sum as f64 / n as f64).to_bits()),
        first: items.first().map(|e| e.id),
        last: items.last().map(|e| e.id),
        ids: items.iter().map(|e| e.id).collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Test cases

#[derive(Debug, Clone, Copy)]
enum Assign {
    Tumbling { size: i64, offset: i64 },
    Sliding { size: i64, slide: i64, offset: i64 },
    Session { gap: i64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    OnClose,
    OnUpdate,
    EveryCount(u64),
}

impl Policy {
    fn emit(self) -> EmitPolicy {
        match self {
            Policy::OnClose => EmitPolicy::OnClose,
            Policy::OnUpdate => EmitPolicy::OnUpdate,
            Policy::EveryCount(n) => EmitPolicy::early_every_count(n),
        }
    }
}

#[derive(Debug, Clone)]
struct Case {
    assign: Assign,
    lateness: i64,
    policy: Policy,
    late_output: bool,
    input: Vec<Message<Ev>>,
}

#[derive(Debug, Clone)]
enum Step {
    Item { key: u8, off: i64, value: i64 },
    Watermark(i64),
}

/// Builds the input: items at `base + off` (saturating, so items pile up at the bounds of time),
/// watermarks at `base + off` made non-decreasing, an optional jump to `Timestamp::MAX` before
/// step `max_at`, then the end. With `drift`, time moves forward with the steps and offsets are
/// small jitter around it: a mostly ordered input over many windows.
fn build_input(base: i64, steps: &[Step], max_at: Option<usize>, drift: bool) -> Vec<Message<Ev>> {
    let mut input = Vec::new();
    let mut current: Option<i64> = None;
    let mut id = 0;
    for (i, step) in steps.iter().enumerate() {
        if max_at == Some(i) {
            current = Some(i64::MAX);
            input.push(Message::Control(Control::Watermark(Timestamp::MAX)));
        }
        let at = |off: i64| match drift {
            true => base.saturating_add(3 * i as i64 + off / 8 - 60),
            false => base.saturating_add(off),
        };
        match *step {
            Step::Item { key, off, value } => {
                input.push(Message::Data(Ev {
                    key,
                    ts: at(off),
                    value,
                    id,
                }));
                id += 1;
            }
            Step::Watermark(off) => {
                let w = at(off - 40);
                let w = current.map_or(w, |c| c.max(w));
                current = Some(w);
                input.push(Message::Control(Control::Watermark(
                    Timestamp::from_millis(w),
                )));
            }
        }
    }
    input.push(Message::Control(Control::End));
    input
}

fn bases() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MIN),
        Just(i64::MIN + 40),
        Just(-1_000),
        Just(0),
        Just(7_777),
        Just(i64::MAX - 40),
        Just(i64::MAX),
        any::<i64>(),
    ]
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let keys = 1u8..=3;
    keys.prop_flat_map(|keys| {
        prop::collection::vec(
            prop_oneof![
                3 => (0..keys, -100i64..100, -1_000i64..1_000)
                    .prop_map(|(key, off, value)| Step::Item { key, off, value }),
                1 => (-110i64..120).prop_map(Step::Watermark),
            ],
            0..64,
        )
    })
}

fn lateness() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => Just(0i64),
        3 => 1i64..60,
        1 => Just(i64::MAX),
    ]
}

fn policies() -> impl Strategy<Value = Policy> {
    prop_oneof![
        4 => Just(Policy::OnClose),
        1 => Just(Policy::OnUpdate),
        1 => (1u64..4).prop_map(Policy::EveryCount),
    ]
}

fn offsets() -> impl Strategy<Value = i64> {
    prop_oneof![3 => -50i64..50, 1 => any::<i64>()]
}

fn cases(assign: impl Strategy<Value = Assign>) -> impl Strategy<Value = Case> {
    (
        assign,
        lateness(),
        policies(),
        any::<bool>(),
        bases(),
        steps(),
        prop::option::weighted(0.15, any::<prop::sample::Index>()),
        any::<bool>(),
    )
        .prop_map(
            |(assign, lateness, policy, late_output, base, steps, max_at, drift)| {
                let max_at = max_at.map(|i| i.index(steps.len() + 1));
                Case {
                    assign,
                    lateness,
                    policy,
                    late_output,
                    input: build_input(base, &steps, max_at, drift),
                }
            },
        )
}

// ---------------------------------------------------------------------------------------------
// The reference model

/// One result and where it fired: the watermark that stood before the message that fired it, and
/// whether that message was an item (a late or early firing) rather than a watermark or the end.
#[derive(Debug)]
struct Fire {
    row: Row,
    before: i64,
    by_item: bool,
}

/// What the model produced: results in the order they fire, late items, and items dropped in a
/// gap.
#[derive(Debug, Default)]
struct ModelOut {
    fires: Vec<Fire>,
    late: Vec<Ev>,
    gap: u64,
}

impl ModelOut {
    fn emit(&mut self, row: Row, before: i64, by_item: bool) {
        self.fires.push(Fire {
            row,
            before,
            by_item,
        });
    }
}

/// `x ≤ w` with `x` saturated to the range of time, as Flink's cleanup time saturates.
fn reached(x: i128, w: i64) -> bool {
    x.min(i64::MAX as i128) <= w as i128
}

struct PaneWin {
    /// Items with their order key: the order in which an order-sensitive aggregator sees them.
    items: Vec<((i128, usize), Ev)>,
    fired: bool,
}

/// Tumbling and sliding windows: tumbling is sliding with `slide = size`.
struct PaneModel {
    size: i128,
    slide: i128,
    offset: i128,
    lateness: i128,
    policy: Policy,
    /// Order-sensitive aggregators (First, Last, Collect) see a window's items slice by slice,
    /// each slice in arrival order, with slices of `gcd(size, slide)` (a known difference from
    /// Flink, which keeps arrival order per window). For tumbling windows a slice is the window:
    /// plain arrival order.
    slice: i128,
    w: i64,
    seq: usize,
    wins: BTreeMap<(u8, i128), PaneWin>,
}

fn gcd(mut x: i128, mut y: i128) -> i128 {
    while y != 0 {
        (x, y) = (y, x % y);
    }
    x
}

impl PaneModel {
    fn new(size: i64, slide: i64, offset: i64, lateness: i64, policy: Policy) -> Self {
        let (size, slide) = (size as i128, slide as i128);
        PaneModel {
            size,
            slide,
            offset: offset as i128,
            lateness: lateness as i128,
            policy,
            slice: gcd(size, slide),
            w: i64::MIN,
            seq: 0,
            wins: BTreeMap::new(),
        }
    }

    /// Every window start `s ≡ offset (mod slide)` with `s ≤ ts < s + size`, by brute force.
    fn windows_of(&self, ts: i64) -> Vec<i128> {
        let ts = ts as i128;
        let mut s = ts - (ts - self.offset).rem_euclid(self.slide);
        let mut starts = Vec::new();
        while s > ts - self.size {
            starts.push(s);
            s -= self.slide;
        }
        starts.reverse();
        starts
    }

    fn closed(&self, start: i128) -> bool {
        reached(start + self.size - 1, self.w)
    }

    fn late(&self, start: i128) -> bool {
        reached(start + self.size - 1 + self.lateness, self.w)
    }

    fn row(&self, key: u8, start: i128, firing: Fired) -> Row {
        let mut items = self.wins[&(key, start)].items.clone();
        items.sort_by_key(|(order, _)| *order);
        let items: Vec<Ev> = items.into_iter().map(|(_, e)| e).collect();
        model_row(key, start, start + self.size, firing, &items)
    }

    fn item(&mut self, e: Ev, out: &mut ModelOut) {
        let starts = self.windows_of(e.ts);
        let takers: Vec<i128> = starts.iter().copied().filter(|&s| !self.late(s)).collect();
        if takers.is_empty() {
            if reached(e.ts as i128 + self.lateness, self.w) {
                out.late.push(e);
            } else {
                assert!(starts.is_empty(), "an item with windows is late or taken");
                out.gap += 1;
            }
            return;
        }
        self.seq += 1;
        let order = (
            (e.ts as i128 - self.offset).div_euclid(self.slice),
            self.seq,
        );
        for s in takers {
            let win = self.wins.entry((e.key, s)).or_insert(PaneWin {
                items: Vec::new(),
                fired: false,
            });
            win.items.push((order, e));
            let (fired, len) = (win.fired, win.items.len() as u64);
            let firing = if self.closed(s) {
                Some(if fired { Fired::Late } else { Fired::OnTime })
            } else {
                match self.policy {
                    Policy::OnUpdate => Some(Fired::Early),
                    Policy::EveryCount(n) if len % n == 0 => Some(Fired::Early),
                    _ => None,
                }
            };
            if let Some(firing) = firing {
                out.emit(self.row(e.key, s, firing), self.w, true);
                if firing != Fired::Early {
                    self.wins.get_mut(&(e.key, s)).unwrap().fired = true;
                }
            }
        }
    }

    fn watermark(&mut self, w: i64, out: &mut ModelOut) {
        if w <= self.w {
            return;
        }
        let before = std::mem::replace(&mut self.w, w);
        let due: Vec<(u8, i128)> = self
            .wins
            .iter()
            .filter(|(&(_, s), win)| !win.fired && self.closed(s))
            .map(|(&k, _)| k)
            .collect();
        for (key, s) in due {
            out.emit(self.row(key, s, Fired::OnTime), before, false);
            self.wins.get_mut(&(key, s)).unwrap().fired = true;
        }
        let late: Vec<(u8, i128)> = self
            .wins
            .keys()
            .copied()
            .filter(|&(_, s)| self.late(s))
            .collect();
        for k in late {
            self.wins.remove(&k);
        }
    }
}

struct Sess {
    start: i128,
    end: i128,
    items: Vec<Ev>,
    /// A result was emitted for this session or one it absorbed.
    fired: bool,
    /// The result for its current extent was emitted.
    current: bool,
}

/// Session windows: per key, a sorted list of disjoint sessions.
struct SessionModel {
    gap: i128,
    lateness: i128,
    policy: Policy,
    w: i64,
    keys: BTreeMap<u8, Vec<Sess>>,
}

impl SessionModel {
    fn new(gap: i64, lateness: i64, policy: Policy) -> Self {
        SessionModel {
            gap: gap as i128,
            lateness: lateness as i128,
            policy,
            w: i64::MIN,
            keys: BTreeMap::new(),
        }
    }

    fn item(&mut self, e: Ev, out: &mut ModelOut) {
        let (start, end) = (e.ts as i128, e.ts as i128 + self.gap);
        let sessions = self.keys.entry(e.key).or_default();
        // Windows that overlap or touch merge into their cover.
        let (absorbed, kept): (Vec<Sess>, Vec<Sess>) = std::mem::take(sessions)
            .into_iter()
            .partition(|s| s.start <= end && s.end >= start);
        *sessions = kept;
        let cover_start = absorbed.iter().map(|s| s.start).fold(start, i128::min);
        let cover_end = absorbed.iter().map(|s| s.end).fold(end, i128::max);
        // Lateness is judged after merging.
        if reached(cover_end - 1 + self.lateness, self.w) {
            assert!(absorbed.is_empty(), "a late session was kept");
            assert!(reached(e.ts as i128 + self.lateness, self.w));
            out.late.push(e);
            return;
        }
        let mut merged = Sess {
            start: cover_start,
            end: cover_end,
            items: Vec::new(),
            fired: false,
            current: false,
        };
        for s in absorbed {
            merged.items.extend(s.items);
            merged.fired |= s.fired;
        }
        merged.items.push(e);
        let firing = if reached(cover_end - 1, self.w) {
            let firing = if merged.fired {
                Fired::Late
            } else {
                Fired::OnTime
            };
            merged.fired = true;
            merged.current = true;
            Some(firing)
        } else {
            match self.policy {
                Policy::OnUpdate => Some(Fired::Early),
                Policy::EveryCount(n) if (merged.items.len() as u64).is_multiple_of(n) => {
                    Some(Fired::Early)
                }
                _ => None,
            }
        };
        if let Some(firing) = firing {
            let row = model_row(e.key, merged.start, merged.end, firing, &merged.items);
            out.emit(row, self.w, true);
        }
        let at = sessions.partition_point(|s| s.start < merged.start);
        sessions.insert(at, merged);
    }

    fn watermark(&mut self, w: i64, out: &mut ModelOut) {
        if w <= self.w {
            return;
        }
        let before = std::mem::replace(&mut self.w, w);
        for (&key, sessions) in &mut self.keys {
            for s in sessions.iter_mut() {
                if !s.current && reached(s.end - 1, w) {
                    let firing = if s.fired { Fired::Late } else { Fired::OnTime };
                    out.emit(
                        model_row(key, s.start, s.end, firing, &s.items),
                        before,
                        false,
                    );
                    s.fired = true;
                    s.current = true;
                }
            }
            let lateness = self.lateness;
            sessions.retain(|s| !reached(s.end - 1 + lateness, w));
        }
    }
}

enum Model {
    Panes(PaneModel),
    Sessions(SessionModel),
}

fn model(case: &Case) -> ModelOut {
    let mut m = match case.assign {
        Assign::Tumbling { size, offset } => Model::Panes(PaneModel::new(
            size,
            size,
            offset,
            case.lateness,
            case.policy,
        )),
        Assign::Sliding {
            size,
            slide,
            offset,
        } => Model::Panes(PaneModel::new(
            size,
            slide,
            offset,
            case.lateness,
            case.policy,
        )),
        Assign::Session { gap } => {
            Model::Sessions(SessionModel::new(gap, case.lateness, case.policy))
        }
    };
    let mut out = ModelOut::default();
    for message in &case.input {
        match (message, &mut m) {
            (Message::Data(e), Model::Panes(p)) => p.item(*e, &mut out),
            (Message::Data(e), Model::Sessions(s)) => s.item(*e, &mut out),
            (Message::Control(control), _) => {
                let w = match control {
                    Control::Watermark(w) => w.millis(),
                    // The end of input fires every window not fired yet, exactly once.
                    Control::End => i64::MAX,
                    other => panic!("unexpected control {other:?}"),
                };
                match &mut m {
                    Model::Panes(p) => p.watermark(w, &mut out),
                    Model::Sessions(s) => s.watermark(w, &mut out),
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Running the library

#[derive(Debug, Default)]
struct LibOut {
    /// Each result with the largest watermark that came out before it (`i64::MIN` if none).
    results: Vec<(Row, i64)>,
    controls: Vec<Control>,
    late: Vec<Ev>,
    dropped_late: u64,
    late_output: u64,
    outside: u64,
}

fn split(messages: Vec<Message<WindowResult<u8, Value>>>, out: &mut LibOut) {
    let mut watermark = i64::MIN;
    for message in messages {
        match message {
            Message::Data(result) => out.results.push((lib_row(result), watermark)),
            Message::Control(control) => {
                if let Control::Watermark(w) = control {
                    watermark = watermark.max(w.millis());
                }
                out.controls.push(control);
            }
        }
    }
}

async fn run_library<A>(assigner: A, case: &Case) -> LibOut
where
    A: BuildState<u8, Ev, Aggregate<Agg>, Window = TimeWindow>,
{
    let windowed = messages(case.input.clone())
        .key_by(|e: &Ev| e.key)
        .window(assigner, |e: &Ev| Timestamp::from_millis(e.ts))
        .allowed_lateness(Duration::from_millis(case.lateness as u64))
        .emit(case.policy.emit());
    let mut out = LibOut::default();
    let metrics;
    if case.late_output {
        // A small late output, so that the operator has to wait for room.
        let (late, late_flow) = side_output(2).expect("capacity is not zero");
        let flow = windowed.late_output(late).aggregate(agg());
        metrics = flow.metrics();
        let (messages, late) = tokio::join!(output(flow), late_flow.collect::<Vec<_>>());
        split(messages, &mut out);
        out.late = late.expect("the late output ends normally");
    } else {
        let flow = windowed.aggregate(agg());
        metrics = flow.metrics();
        split(output(flow).await, &mut out);
    }
    let snapshot = metrics.snapshot();
    out.dropped_late = snapshot.dropped(DropReason::Late);
    out.late_output = snapshot.dropped(DropReason::LateOutput);
    out.outside = snapshot.dropped(DropReason::OutsideWindows);
    out
}

fn run(case: &Case) -> LibOut {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        match case.assign {
            Assign::Tumbling { size, offset } => {
                let assigner =
                    Tumbling::of(Duration::from_millis(size as u64)).with_offset_millis(offset);
                run_library(assigner, case).await
            }
            Assign::Sliding {
                size,
                slide,
                offset,
            } => {
                let assigner = Sliding::of(
                    Duration::from_millis(size as u64),
                    Duration::from_millis(slide as u64),
                )
                .with_offset_millis(offset);
                run_library(assigner, case).await
            }
            Assign::Session { gap } => {
                let assigner = Session::with_gap(Duration::from_millis(gap as u64));
                run_library(assigner, case).await
            }
        }
    })
}

/// The control messages that came out: every one that is not a watermark, in order; watermarks
/// in order (a window operator may merge consecutive ones into the last), and the last one before
/// each other control message never held back past it.
fn check_controls(got: &[Control], input: &[Control]) -> Result<(), TestCaseError> {
    let others = |c: &[Control]| -> Vec<Control> {
        c.iter()
            .filter(|c| !matches!(c, Control::Watermark(_)))
            .cloned()
            .collect()
    };
    prop_assert_eq!(others(got), others(input), "control messages pass in order");
    // Split at the other control messages: in each stretch, the watermarks that came out are a
    // subsequence of those that went in, ending with the same one.
    let stretches = |c: &[Control]| -> Vec<Vec<i64>> {
        let mut all = vec![Vec::new()];
        for control in c {
            match control {
                Control::Watermark(w) => all.last_mut().unwrap().push(w.millis()),
                _ => all.push(Vec::new()),
            }
        }
        all
    };
    for (out, input) in stretches(got).iter().zip(&stretches(input)) {
        prop_assert_eq!(out.last(), input.last(), "the last watermark comes out");
        let mut rest = input.iter();
        prop_assert!(
            out.iter().all(|w| rest.any(|i| i == w)),
            "watermarks {:?} are not a subsequence of {:?}",
            out,
            input
        );
    }
    Ok(())
}

/// Runs `case` through the library and the model and compares them exactly.
fn check(case: &Case) -> Result<(), TestCaseError> {
    let expected = model(case);
    let actual = run(case);
    let controls: Vec<Control> = case
        .input
        .iter()
        .filter_map(|m| match m {
            Message::Control(c) => Some(c.clone()),
            Message::Data(_) => None,
        })
        .collect();
    check_controls(&actual.controls, &controls)?;
    for key in 0..3u8 {
        let got: Vec<&(Row, i64)> = actual.results.iter().filter(|r| r.0.key == key).collect();
        let want: Vec<&Fire> = expected.fires.iter().filter(|f| f.row.key == key).collect();
        let got_rows: Vec<&Row> = got.iter().map(|r| &r.0).collect();
        let want_rows: Vec<&Row> = want.iter().map(|f| &f.row).collect();
        prop_assert_eq!(got_rows, want_rows, "results of key {}, in order", key);
        for ((row, seen), fire) in got.iter().zip(&want) {
            // No watermark overtakes the results that it (or a later message) fired.
            prop_assert!(
                *seen <= fire.before,
                "{:?} came out after watermark {}, but fired after watermark {}",
                row,
                seen,
                fire.before
            );
            // A result fired by an item follows the watermark that stood before the item.
            if fire.by_item {
                prop_assert_eq!(*seen, fire.before, "{:?} fired by an item", row);
            }
        }
    }
    prop_assert_eq!(actual.results.len(), expected.fires.len());
    let late = expected.late.len() as u64;
    if case.late_output {
        prop_assert_eq!(
            &actual.late,
            &expected.late,
            "every late item reaches the output"
        );
        prop_assert_eq!(actual.late_output, late);
        prop_assert_eq!(actual.dropped_late, 0);
    } else {
        prop_assert!(actual.late.is_empty());
        prop_assert_eq!(actual.late_output, 0);
        prop_assert_eq!(actual.dropped_late, late, "every late item is counted");
    }
    prop_assert_eq!(actual.outside, expected.gap, "gap drops are counted");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn tumbling_matches_the_model(case in cases(
        (1i64..40, offsets()).prop_map(|(size, offset)| Assign::Tumbling { size, offset })
    )) {
        check(&case)?;
    }

    #[test]
    fn sliding_whose_slide_divides_the_size_matches_the_model(case in cases(
        (1i64..12, 1i64..6, offsets()).prop_map(|(slide, k, offset)| Assign::Sliding {
            size: slide * k,
            slide,
            offset,
        })
    )) {
        check(&case)?;
    }

    #[test]
    fn sliding_whose_slide_does_not_divide_the_size_matches_the_model(case in cases(
        (2i64..40, 2i64..40, offsets())
            .prop_filter("slide does not divide size", |(size, slide, _)| {
                slide < size && size % slide != 0
            })
            .prop_map(|(size, slide, offset)| Assign::Sliding { size, slide, offset })
    )) {
        check(&case)?;
    }

    #[test]
    fn sliding_with_gaps_matches_the_model(case in cases(
        (1i64..20, 1i64..25, offsets()).prop_map(|(size, extra, offset)| Assign::Sliding {
            size,
            slide: size + extra,
            offset,
        })
    )) {
        check(&case)?;
    }

    #[test]
    fn sessions_match_the_model(case in cases(
        (1i64..40).prop_map(|gap| Assign::Session { gap })
    )) {
        check(&case)?;
    }
}

// ---------------------------------------------------------------------------------------------
// The fine print, by example

fn ev(key: u8, ts: i64, id: u32) -> Message<Ev> {
    Message::Data(Ev {
        key,
        ts,
        value: 1,
        id,
    })
}

fn wm(w: i64) -> Message<Ev> {
    Message::Control(Control::Watermark(Timestamp::from_millis(w)))
}

fn end() -> Message<Ev> {
    Message::Control(Control::End)
}

/// The results of `case`, as `(start, end, firing, ids)`, checked against the model first.
fn results(case: &Case) -> Vec<(i64, i64, Fired, Vec<u32>)> {
    check(case).unwrap_or_else(|e| panic!("{e}"));
    run(case)
        .results
        .into_iter()
        .map(|(r, _)| (r.start, r.end, r.firing, r.ids))
        .collect()
}

fn case(assign: Assign, lateness: i64, input: Vec<Message<Ev>>) -> Case {
    Case {
        assign,
        lateness,
        policy: Policy::OnClose,
        late_output: true,
        input,
    }
}

/// Regression: a merge that absorbs a fired session into one that has not closed yet kept the
/// fired session's cleanup timer, so the update fired only at the end of input.
#[test]
fn a_session_that_absorbed_a_fired_one_fires_an_update_at_its_new_close() {
    let input = vec![
        ev(0, 72, 0),
        wm(89),
        ev(0, 73, 1),
        wm(90),
        ev(0, 0, 2),
        end(),
    ];
    let case = case(Assign::Session { gap: 18 }, 1_000, input);
    assert_eq!(
        results(&case),
        [
            (72, 90, Fired::OnTime, vec![0]),
            (72, 91, Fired::Late, vec![0, 1]),
            (0, 18, Fired::OnTime, vec![2]),
        ]
    );
    // The update fired at watermark 90, so it comes out before it.
    let (update, seen) = &run(&case).results[1];
    assert_eq!((update.end, *seen < 90), (91, true));
    check(&case).unwrap_or_else(|e| panic!("{e}"));
}

/// A window whose first item comes after it closed but within the lateness fires at once as a
/// first result; later items re-fire it as updates; past the lateness items are late.
#[test]
fn a_window_first_filled_within_the_lateness_fires_on_time_then_updates() {
    let tumbling = Assign::Tumbling {
        size: 10,
        offset: 0,
    };
    let input = vec![
        wm(12),
        ev(0, 5, 0),
        ev(0, 6, 1),
        wm(18),
        ev(0, 7, 2),
        wm(19),
        ev(0, 8, 3),
        end(),
    ];
    let case = case(tumbling, 10, input);
    assert_eq!(
        results(&case),
        [
            (0, 10, Fired::OnTime, vec![0]),
            (0, 10, Fired::Late, vec![0, 1]),
            (0, 10, Fired::Late, vec![0, 1, 2]),
        ]
    );
    assert_eq!(
        run(&case).late,
        [Ev {
            key: 0,
            ts: 8,
            value: 1,
            id: 3
        }]
    );
}

/// Items between two sliding windows are dropped and counted as such unless they are late.
#[test]
fn sliding_gaps_drop_items_that_are_not_late() {
    let gapped = Assign::Sliding {
        size: 2,
        slide: 5,
        offset: 0,
    };
    // Windows [0, 2), [5, 7): 3 is in a gap; at watermark 10, so is 8 but it is late.
    let input = vec![
        ev(0, 1, 0),
        ev(0, 3, 1),
        wm(10),
        ev(0, 8, 2),
        ev(0, 13, 3),
        end(),
    ];
    let mut case = case(gapped, 0, input);
    case.late_output = false;
    assert_eq!(
        results(&case),
        [(0, 2, Fired::OnTime, vec![0])],
        "13 is in a gap too"
    );
    let out = run(&case);
    assert_eq!((out.outside, out.dropped_late), (2, 1));
}

/// Sessions merge first and judge lateness after: an item whose own window is late counts if it
/// merges into a session that is not.
#[test]
fn an_item_late_on_its_own_counts_when_it_merges_into_a_live_session() {
    let input = vec![ev(0, 20, 0), wm(25), ev(0, 10, 1), ev(0, 0, 2), end()];
    let case = case(Assign::Session { gap: 10 }, 0, input);
    // [10, 20) is late at 25 but touches [20, 30); [0, 10) then touches the merged [10, 30).
    assert_eq!(results(&case), [(0, 30, Fired::OnTime, vec![0, 1, 2])]);
    assert!(run(&case).late.is_empty());
}

/// Windows at the ends of time: bounds are clamped to the range of `Timestamp`.
#[test]
fn windows_at_the_ends_of_time_are_clamped() {
    let sliding = Assign::Sliding {
        size: 10,
        slide: 4,
        offset: 0,
    };
    let input = vec![ev(0, i64::MAX, 0), ev(1, i64::MIN, 1), end()];
    let case = case(sliding, 0, input);
    let mut out = results(&case);
    out.sort();
    let (min, max) = (i64::MIN, i64::MAX);
    assert_eq!(
        out,
        [
            // [MIN − 8, MIN + 2), [MIN − 4, MIN + 6), [MIN, MIN + 10)
            (min, min + 2, Fired::OnTime, vec![1]),
            (min, min + 6, Fired::OnTime, vec![1]),
            (min, min + 10, Fired::OnTime, vec![1]),
            // [MAX − 7, MAX + 3), [MAX − 3, MAX + 7)
            (max - 7, max, Fired::OnTime, vec![0]),
            (max - 3, max, Fired::OnTime, vec![0]),
        ]
    );
}

/// Late items are never lost silently: with the late output's receiver gone, they are counted.
#[tokio::test]
async fn late_items_are_counted_when_the_late_output_is_gone() {
    let (late, late_flow) = side_output::<Ev>(1).expect("capacity is not zero");
    drop(late_flow);
    let input = vec![
        ev(0, 50, 0),
        wm(100),
        ev(0, 1, 1),
        ev(0, 2, 2),
        ev(0, 150, 3),
        end(),
    ];
    let flow = messages(input)
        .key_by(|e: &Ev| e.key)
        .window(Tumbling::of(Duration::from_millis(10)), |e: &Ev| {
            Timestamp::from_millis(e.ts)
        })
        .late_output(late)
        .aggregate(Count);
    let metrics = flow.metrics();
    let results: Vec<_> = output(flow)
        .await
        .into_iter()
        .filter_map(Message::into_data)
        .map(|r| (r.window.start().millis(), r.value))
        .collect();
    assert_eq!(results, [(50, 1), (150, 1)]);
    let snapshot = metrics.snapshot();
    assert_eq!(
        (
            snapshot.dropped(DropReason::Late),
            snapshot.dropped(DropReason::LateOutput)
        ),
        (2, 0)
    );
}
