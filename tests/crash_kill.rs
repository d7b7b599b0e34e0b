//! The `aggregate` example killed with SIGKILL at seeded moments and started again with the same
//! arguments: once it completes, its output file is the one of an uninterrupted run, byte for
//! byte, and after every kill the committed file holds only output of complete checkpoints (a
//! prefix of the uninterrupted output).
//!
//! The kills land at every stage of a run: while the process starts, while it restores the
//! checkpoint of the run before (within milliseconds of a restart), and while it runs, where with
//! a checkpoint every 100 rows at 20,000 rows per second there are 200 checkpoint writes and
//! sink commits a second. These are the only tests with real sleeps: a process is killed at a
//! wall-clock moment.
//!
//! The binary is built once per test run with `cargo build --example aggregate`, in the profile
//! of the tests, as in `example_aggregate.rs`.

mod support;

#[path = "support/crash.rs"]
mod crash;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crash::{diff, is_window_prefix, read_or_empty, sorted_lines, window_groups, write_csv, Rng};
use support::TempDir;

/// Rows of the input, and their keys.
const ROWS: usize = 8_000;
const KEYS: u64 = 12;
/// Rows between checkpoints and rows read per second: a run takes 0.4 s.
const EVERY: u64 = 100;
const RATE: u64 = 20_000;

/// The input of every test (written once per test) and the uninterrupted run's output.
struct Setup {
    _dir: TempDir,
    input: PathBuf,
    golden: String,
}

impl Setup {
    fn new(name: &str) -> Self {
        let dir = TempDir::new(name);
        let input = dir.join("input.csv");
        // Rows 5 ms apart on average, jittered by up to 40 ms: two-second windows fire every
        // ~400 rows, all the way through, with no late row (out-of-orderness 50 ms).
        write_csv(&input, 42, ROWS, KEYS, 5, 40);
        let golden_path = dir.join("golden.jsonl");
        let status = Command::new(support::aggregate_binary())
            .args(args(&input, &golden_path, None, 1))
            .stderr(Stdio::null())
            .status()
            .expect("run the example");
        assert!(status.success(), "the uninterrupted run failed: {status}");
        let golden = read_or_empty(&golden_path);
        let lines = golden.lines().count();
        assert!(lines >= 200, "only {lines} windows");
        Setup {
            _dir: dir,
            input,
            golden,
        }
    }
}

fn args(
    input: &Path,
    output: &Path,
    checkpoint_dir: Option<&Path>,
    parallelism: usize,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "--key",
        "key",
        "--time",
        "ts",
        "--value",
        "value",
        "--window",
        "tumbling:2s",
        "--max-out-of-orderness",
        "50ms",
    ]
    .map(OsString::from)
    .to_vec();
    args.extend([
        "--input".into(),
        input.into(),
        "--output".into(),
        output.into(),
    ]);
    if let Some(dir) = checkpoint_dir {
        args.extend([
            "--checkpoint-dir".into(),
            dir.into(),
            "--checkpoint-every".into(),
            EVERY.to_string().into(),
            "--max-rate".into(),
            RATE.to_string().into(),
        ]);
    }
    if parallelism > 1 {
        args.extend(["--parallelism".into(), parallelism.to_string().into()]);
    }
    args
}

/// When a kill comes after its process started.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// 0 to 2 ms: while the process starts.
    Startup,
    /// 2 to 15 ms: while a restarted process restores its checkpoint and recovers its sink.
    Restore,
    /// 20 to 250 ms: while it reads, checkpoints and commits.
    Running,
}

impl Moment {
    fn delay(self, rng: &mut Rng) -> Duration {
        let millis = match self {
            Moment::Startup => rng.range(0, 2),
            Moment::Restore => rng.range(2, 15),
            Moment::Running => rng.range(20, 250),
        };
        Duration::from_millis(millis)
    }
}

/// What the kills of a test found.
#[derive(Debug, Default)]
struct Tally {
    kills: usize,
    /// Kills while starting, while restoring and while running.
    startup: usize,
    restore: usize,
    running: usize,
    /// Runs that ended before their kill came.
    completed_early: usize,
    /// Kills that left a checkpoint file half written (`.tmp`): during a checkpoint write.
    in_checkpoint_write: usize,
    /// Kills that left a pre-committed transaction not committed yet (`.pending-N`).
    pending_commit: usize,
    /// Kills that left an open transaction (`.inprogress`).
    open_transaction: usize,
    /// Committed lines seen after each kill.
    committed_lines: Vec<usize>,
    /// Kills after which the committed file was not a byte prefix of the golden output (only
    /// the order of the keys within a window differed).
    not_byte_prefix: usize,
}

/// Starts the example on the test's input with checkpoints in `dir`.
fn start(setup: &Setup, dir: &TempDir, parallelism: usize) -> Child {
    Command::new(support::aggregate_binary())
        .args(args(
            &setup.input,
            &dir.join("out.jsonl"),
            Some(&dir.join("checkpoints")),
            parallelism,
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the example")
}

/// The files in `dir` whose names contain `part`, with their modification times and lengths.
fn files_like(dir: &Path, part: &str) -> BTreeSet<(String, SystemTime, u64)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeSet::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().contains(part))
        .filter_map(|entry| {
            let metadata = entry.metadata().ok()?;
            let name = entry.file_name().to_string_lossy().into_owned();
            Some((name, metadata.modified().ok()?, metadata.len()))
        })
        .collect()
}

/// Whether the run between `before` and now left a file of `part` in `dir`: one that was not
/// there, or not as it is, before.
fn left_behind(before: &BTreeSet<(String, SystemTime, u64)>, dir: &Path, part: &str) -> bool {
    files_like(dir, part)
        .iter()
        .any(|file| !before.contains(file))
}

/// The committed output after a kill holds only output of complete checkpoints: with one
/// partition, whole lines that begin the golden output, window by window (the keys of a window
/// may come in another order); with several, golden lines, each once.
fn check_committed(
    setup: &Setup,
    committed: &str,
    parallelism: usize,
    strict: bool,
    tally: &mut Tally,
    context: &str,
) {
    assert!(
        committed.is_empty() || committed.ends_with('\n'),
        "{context}: a partial line is committed"
    );
    if parallelism == 1 {
        if let Err(error) = is_window_prefix(&setup.golden, committed) {
            panic!("{context}: the committed file does not begin the golden output: {error}");
        }
        if !setup.golden.starts_with(committed) {
            tally.not_byte_prefix += 1;
            assert!(
                !strict,
                "{context}: the committed file is not a byte prefix of the golden output:\n{}",
                first_difference(&setup.golden, committed)
            );
        }
    } else {
        let found = diff(setup.golden.lines(), committed.lines());
        assert_eq!(
            found.duplicated, 0,
            "{context}: lines committed twice or wrong"
        );
    }
}

/// The first line where `output` departs from `golden`.
fn first_difference(golden: &str, output: &str) -> String {
    let line = golden
        .lines()
        .zip(output.lines())
        .position(|(g, o)| g != o)
        .unwrap_or_else(|| golden.lines().count().min(output.lines().count()));
    format!(
        "line {}: golden {:?}, output {:?}",
        line + 1,
        golden.lines().nth(line),
        output.lines().nth(line)
    )
}

/// One chain of kills, seeded: the process is started and killed after each delay of `plan`,
/// then started once more and left to complete. Returns the final output.
fn kill_chain(
    setup: &Setup,
    seed: u64,
    plan: &[Moment],
    parallelism: usize,
    strict: bool,
    tally: &mut Tally,
) -> String {
    let dir = TempDir::new(&format!("kill-{seed}"));
    let output = dir.join("out.jsonl");
    let checkpoints = dir.join("checkpoints");
    let mut rng = Rng(seed);
    for (index, &moment) in plan.iter().enumerate() {
        let delay = moment.delay(&mut rng);
        let context = format!("seed {seed}, kill {index} ({moment:?}, after {delay:?})");
        let temp_before = files_like(&checkpoints, ".tmp");
        let pending_before = files_like(dir.path(), "out.jsonl.pending-");
        let open_before = files_like(dir.path(), "out.jsonl.inprogress");
        let mut child = start(setup, &dir, parallelism);
        std::thread::sleep(delay);
        match child.try_wait().expect("poll the example") {
            Some(status) => {
                // The run ended first: it must have completed, with the golden output.
                let stderr = child_stderr(&mut child);
                assert!(status.success(), "{context}: the run failed: {stderr}");
                tally.completed_early += 1;
                return read_or_empty(&output);
            }
            None => {
                child.kill().expect("kill the example");
                child.wait().expect("reap the example");
            }
        }
        tally.kills += 1;
        match moment {
            Moment::Startup => tally.startup += 1,
            Moment::Restore => tally.restore += 1,
            Moment::Running => tally.running += 1,
        }
        tally.in_checkpoint_write += usize::from(left_behind(&temp_before, &checkpoints, ".tmp"));
        tally.pending_commit += usize::from(left_behind(
            &pending_before,
            dir.path(),
            "out.jsonl.pending-",
        ));
        tally.open_transaction += usize::from(left_behind(
            &open_before,
            dir.path(),
            "out.jsonl.inprogress",
        ));
        let committed = read_or_empty(&output);
        tally.committed_lines.push(committed.lines().count());
        check_committed(setup, &committed, parallelism, strict, tally, &context);
    }
    let mut child = start(setup, &dir, parallelism);
    let status = child.wait().expect("wait for the example");
    let stderr = child_stderr(&mut child);
    assert!(
        status.success(),
        "seed {seed}: the last run failed: {stderr}"
    );
    read_or_empty(&output)
}

fn child_stderr(child: &mut Child) -> String {
    use std::io::Read;
    let mut text = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut text);
    }
    text
}

/// The kills of one chain: a first kill while running (so that there is a checkpoint to
/// restore), then three more, drawn from every moment.
fn plan(rng: &mut Rng) -> Vec<Moment> {
    let mut plan = vec![Moment::Running];
    for _ in 0..3 {
        plan.push(match rng.below(3) {
            0 => Moment::Startup,
            1 => Moment::Restore,
            _ => Moment::Running,
        });
    }
    plan
}

#[test]
fn killed_at_seeded_moments_and_restarted_the_output_equals_an_uninterrupted_run() {
    let started = Instant::now();
    let setup = Setup::new("kill");
    let golden_windows = window_groups(&setup.golden);
    let mut tally = Tally::default();
    let (mut lost, mut duplicated, mut byte_identical) = (0, 0, 0);
    let mut rng = Rng(2024);
    // Chains of four kills; a run that completes before its kill ends its chain early, so
    // chains go on until there were enough kills.
    let mut chains = 0u64;
    while (tally.kills < 24 || chains < 6) && chains < 12 {
        let seed = chains;
        chains += 1;
        let plan = plan(&mut rng);
        let output = kill_chain(&setup, seed, &plan, 1, false, &mut tally);
        let found = diff(setup.golden.lines(), output.lines());
        lost += found.lost;
        duplicated += found.duplicated;
        assert!(found.is_clean(), "seed {seed} ({plan:?}): {found:?}");
        // Window by window, in order: nothing lost, doubled or moved to another window, and
        // each key's results in the golden order.
        assert!(
            window_groups(&output) == golden_windows,
            "seed {seed} ({plan:?}): the windows differ from the uninterrupted run's"
        );
        byte_identical += usize::from(output == setup.golden);
    }
    eprintln!(
        "crash_kill: {} kills in {chains} chains, {tally:?}; lost {lost}, duplicated {duplicated}; \
         {byte_identical} of {chains} final outputs byte-identical; {:?}",
        tally.kills,
        started.elapsed()
    );
    assert!(tally.kills >= 20, "only {} kills", tally.kills);
    // Some kills left committed output behind, and the restarts went on from it.
    assert!(tally.committed_lines.iter().any(|&lines| lines > 0));
}

/// The stronger promise of the example's documentation: the output file of a killed and
/// restarted run equals the uninterrupted run's byte for byte, the order of the keys within a
/// window included.
/// (Window slices keep their keys in insertion order, so a restore changes nothing.)
#[test]
fn killed_and_restarted_the_output_is_byte_identical() {
    let setup = Setup::new("kill-strict");
    let mut tally = Tally::default();
    let mut rng = Rng(2024);
    for seed in 0..3u64 {
        let plan = plan(&mut rng);
        let output = kill_chain(&setup, seed, &plan, 1, true, &mut tally);
        assert!(
            output == setup.golden,
            "seed {seed} ({plan:?}): the output differs from the uninterrupted run at {}",
            first_difference(&setup.golden, &output)
        );
    }
}

#[test]
fn two_partitions_killed_and_restarted_give_the_uninterrupted_lines() {
    let started = Instant::now();
    let setup = Setup::new("kill-parallel");
    let golden = sorted_lines(&setup.golden);
    let mut tally = Tally::default();
    let (mut lost, mut duplicated) = (0, 0);
    let mut rng = Rng(77);
    let mut chains = 0u64;
    while (tally.kills < 8 || chains < 2) && chains < 5 {
        let seed = 100 + chains;
        chains += 1;
        let plan = plan(&mut rng);
        let output = kill_chain(&setup, seed, &plan, 2, false, &mut tally);
        let found = diff(setup.golden.lines(), output.lines());
        lost += found.lost;
        duplicated += found.duplicated;
        assert!(found.is_clean(), "seed {seed} ({plan:?}): {found:?}");
        assert_eq!(sorted_lines(&output), golden, "seed {seed} ({plan:?})");
    }
    eprintln!(
        "crash_kill (2 partitions): {} kills in {chains} chains, {tally:?}; lost {lost}, \
         duplicated {duplicated}; {:?}",
        tally.kills,
        started.elapsed()
    );
    assert!(tally.kills >= 6, "only {} kills", tally.kills);
}
