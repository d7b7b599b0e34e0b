//! The `aggregate` example end to end: the built binary on small inputs, its output lines
//! checked against results worked out by hand.
//!
//! The binary is built once per test run with `cargo build --example aggregate`, in the profile
//! of the tests (a no-op after a plain `cargo test`, which builds the examples already).

mod support;

use std::io::Write;

use std::process::{Command, Output, Stdio};

use support::TempFile;

/// Runs the example with `args`, feeding `stdin` to it.
fn aggregate(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(support::aggregate_binary())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the example");
    let mut input = child.stdin.take().expect("stdin is piped");
    // The example may exit before reading everything (bad arguments): ignore a broken pipe.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    child.wait_with_output().expect("wait for the example")
}

/// A file with `contents`, removed when dropped.
fn file(name: &str, contents: &str) -> TempFile {
    let file = TempFile::new(name);
    std::fs::write(file.path(), contents).expect("write the test file");
    file
}

fn path(file: &TempFile) -> &str {
    file.path().to_str().expect("temp paths are UTF-8")
}

fn stdout_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn read_lines(file: &TempFile) -> Vec<String> {
    std::fs::read_to_string(file.path())
        .expect("read the output file")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Sorts lines that fire together in an order the tool does not promise (keys of one window).
fn sorted(mut lines: Vec<String>) -> Vec<String> {
    lines.sort();
    lines
}

/// Readings of two stations, with one `NA` value.
///
/// Two-second tumbling windows, watermark = largest time seen - 1:
/// - A [0, 2000): 1.5 and 2.5; B [0, 2000): 10. Both fire on A@2500 (watermark 2499).
/// - A [2000, 4000): 2.5 (the `NA` row is dead-lettered); B [2000, 4000): -4. Both fire on
///   A@4000 (watermark 3999).
/// - A [4000, 6000): 4, fired by the end of input.
const READINGS_CSV: &str = "\
station,ts,temp
A,1000,1.5
B,1500,10
A,1999,2.5
A,2500,2.5
A,3000,NA
B,3999,-4
A,4000,4
";

const READINGS_OUT: [&str; 5] = [
    r#"{"key":"A","start":0,"end":2000,"count":2,"sum":4.0,"min":1.5,"max":2.5,"mean":2.0}"#,
    r#"{"key":"B","start":0,"end":2000,"count":1,"sum":10.0,"min":10.0,"max":10.0,"mean":10.0}"#,
    r#"{"key":"A","start":2000,"end":4000,"count":1,"sum":2.5,"min":2.5,"max":2.5,"mean":2.5}"#,
    r#"{"key":"B","start":2000,"end":4000,"count":1,"sum":-4.0,"min":-4.0,"max":-4.0,"mean":-4.0}"#,
    r#"{"key":"A","start":4000,"end":6000,"count":1,"sum":4.0,"min":4.0,"max":4.0,"mean":4.0}"#,
];

const READINGS_ARGS: [&str; 8] = [
    "--key",
    "station",
    "--time",
    "ts",
    "--value",
    "temp",
    "--window",
    "tumbling:2s",
];

#[test]
fn csv_tumbling_windows_give_the_hand_computed_lines() {
    let input = file("readings.csv", READINGS_CSV);
    let mut args = vec!["--input", path(&input)];
    args.extend(READINGS_ARGS);
    let output = aggregate(&args, "");

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let lines = stdout_lines(&output);
    // Windows fire in time order; the keys of one window in an unspecified order.
    assert_eq!(sorted(lines[..2].to_vec()), READINGS_OUT[..2]);
    assert_eq!(sorted(lines[2..4].to_vec()), READINGS_OUT[2..4]);
    assert_eq!(lines[4..], READINGS_OUT[4..]);

    let report = stderr(&output);
    assert!(report.contains("records read:     7\n"), "{report}");
    assert!(report.contains("dead-lettered:    1\n"), "{report}");
    assert!(report.contains("late:             0\n"), "{report}");
    assert!(
        report.contains("windows emitted:  5 (0 updates)\n"),
        "{report}"
    );
    assert!(report.contains("events/s"), "{report}");
}

#[test]
fn csv_from_stdin_gives_the_same_lines() {
    let mut args = vec!["--input", "-"];
    args.extend(READINGS_ARGS);
    let output = aggregate(&args, READINGS_CSV);

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        sorted(stdout_lines(&output)),
        sorted(READINGS_OUT.map(String::from).to_vec())
    );
}

#[test]
fn json_lines_with_rfc3339_and_string_fields_give_the_same_lines() {
    // The readings again: times as epoch milliseconds, RFC 3339 in UTC or with an offset, or an
    // integer in a string; values as numbers or numeric strings. The `null` value and the line
    // that is not JSON are dead-lettered.
    let input = file(
        "readings.jsonl",
        r#"{"station":"A","ts":1000,"temp":1.5}
{"station":"B","ts":"1970-01-01T00:00:01.500Z","temp":10}
{"station":"A","ts":"1970-01-01T01:00:01.999+01:00","temp":"2.5"}
{"station":"A","ts":"1969-12-31T19:00:02.5-05:00","temp":2.5}
{"station":"A","ts":3000,"temp":null}
not json
{"station":"B","ts":"3999","temp":-4}
{"station":"A","ts":4000,"temp":4,"extra":[1,2]}
"#,
    );
    let dead = TempFile::new("dead.jsonl");
    let mut args = vec!["--input", path(&input), "--dead-letter", path(&dead)];
    args.extend(READINGS_ARGS);
    let output = aggregate(&args, "");

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        sorted(stdout_lines(&output)),
        sorted(READINGS_OUT.map(String::from).to_vec())
    );
    assert!(stderr(&output).contains("records read:     8\n"));
    assert!(stderr(&output).contains("dead-lettered:    2\n"));

    let dead = sorted(read_lines(&dead));
    assert_eq!(dead.len(), 2);
    assert_eq!(
        dead[0],
        r#"{"index":4,"offset":223,"error":"no value: column `temp` holds `null`","record":{"station":"A","temp":null,"ts":3000}}"#
    );
    assert!(
        dead[1].starts_with(r#"{"index":5,"offset":261,"error":"expected"#),
        "{}",
        dead[1]
    );
    assert!(
        dead[1].ends_with(r#""record":"not json\n"}"#),
        "{}",
        dead[1]
    );
}

#[test]
fn bad_values_and_times_are_dead_lettered_with_their_row() {
    let input = file(
        "bad.csv",
        "\
k,t,v
a,1000,NA
a,1001,
a,1002,abc
a,1003,inf
a,yesterday,1
a,,1
too,few
a,1004,7
",
    );
    let dead = TempFile::new("dead.jsonl");
    let args = [
        "--input",
        path(&input),
        "--key",
        "k",
        "--time",
        "t",
        "--value",
        "v",
        "--window",
        "tumbling:1m",
        "--dead-letter",
        path(&dead),
    ];
    let output = aggregate(&args, "");

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout_lines(&output),
        [r#"{"key":"a","start":0,"end":60000,"count":1,"sum":7.0,"min":7.0,"max":7.0,"mean":7.0}"#]
    );
    let report = stderr(&output);
    assert!(report.contains("records read:     8\n"), "{report}");
    assert!(report.contains("dead-lettered:    7\n"), "{report}");

    // Bad rows and undecodable records go through different channels: sort by index.
    let mut dead: Vec<serde_json::Value> = read_lines(&dead)
        .iter()
        .map(|line| serde_json::from_str(line).expect("dead letters are JSON"))
        .collect();
    dead.sort_by_key(|letter| letter["index"].as_u64());
    let errors: Vec<&str> = dead
        .iter()
        .map(|d| d["error"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        errors,
        [
            "no value: column `v` holds `NA`",
            "no value: column `v` is empty",
            "value `abc` in column `v` is not a number",
            "value `inf` in column `v` is not a finite number",
            "time `yesterday` in column `t` is not an RFC 3339 timestamp or integer epoch milliseconds",
            "no time: column `t` is empty",
            "expected 3 fields, found 2",
        ]
    );
    assert_eq!(dead[0]["index"], 1);
    assert_eq!(dead[0]["offset"], 6);
    assert_eq!(
        dead[0]["record"],
        serde_json::json!({"k": "a", "t": "1000", "v": "NA"})
    );
    assert_eq!(dead[6]["record"], "too,few\n");
}

#[test]
fn a_late_row_within_the_lateness_refires_its_window_as_an_update() {
    // One-second windows, one second of allowed lateness:
    // - k@1500 moves the watermark to 1499: [0, 1000) fires with 1.
    // - k@500 is late for [0, 1000) but within the lateness (999 + 1000 > 1499): the window
    //   fires again with 1 and 3, as an update.
    // - k@3000 moves the watermark to 2999: [1000, 2000) fires with 2, and [0, 1000) is gone.
    // - k@700 is too late: it goes to the late output.
    // - The end of input fires [3000, 4000) with 4.
    let input = file(
        "late.csv",
        "k,t,v\nk,0,1\nk,1500,2\nk,500,3\nk,3000,4\nk,700,5\n",
    );
    let late = TempFile::new("late.jsonl");
    let output_file = TempFile::new("out.jsonl");
    let args = [
        "--input",
        path(&input),
        "--key",
        "k",
        "--time",
        "t",
        "--value",
        "v",
        "--window",
        "tumbling:1000",
        "--allowed-lateness",
        "1s",
        "--late",
        path(&late),
        "--output",
        path(&output_file),
    ];
    let output = aggregate(&args, "");

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(output.stdout.is_empty());
    assert_eq!(
        read_lines(&output_file),
        [
            r#"{"key":"k","start":0,"end":1000,"count":1,"sum":1.0,"min":1.0,"max":1.0,"mean":1.0}"#,
            r#"{"key":"k","start":0,"end":1000,"count":2,"sum":4.0,"min":1.0,"max":3.0,"mean":2.0,"update":true}"#,
            r#"{"key":"k","start":1000,"end":2000,"count":1,"sum":2.0,"min":2.0,"max":2.0,"mean":2.0}"#,
            r#"{"key":"k","start":3000,"end":4000,"count":1,"sum":4.0,"min":4.0,"max":4.0,"mean":4.0}"#,
        ]
    );
    assert_eq!(
        read_lines(&late),
        [r#"{"index":5,"key":"k","time":700,"value":5.0}"#]
    );
    let report = stderr(&output);
    assert!(report.contains("late:             1\n"), "{report}");
    assert!(
        report.contains("windows emitted:  4 (1 updates)\n"),
        "{report}"
    );
}

#[test]
fn sliding_and_session_windows() {
    let input = file("spans.csv", "k,t,v\ns,500,1\ns,900,2\ns,1500,4\ns,4000,8\n");
    let run = |window: &str| {
        let args = [
            "--input",
            path(&input),
            "--key",
            "k",
            "--time",
            "t",
            "--value",
            "v",
            "--window",
            window,
        ];
        let output = aggregate(&args, "");
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        stdout_lines(&output)
    };

    // Two-second windows every second, around 500, 900, 1500 and 4000.
    assert_eq!(
        run("sliding:2s:1s"),
        [
            r#"{"key":"s","start":-1000,"end":1000,"count":2,"sum":3.0,"min":1.0,"max":2.0,"mean":1.5}"#,
            r#"{"key":"s","start":0,"end":2000,"count":3,"sum":7.0,"min":1.0,"max":4.0,"mean":2.3333333333333335}"#,
            r#"{"key":"s","start":1000,"end":3000,"count":1,"sum":4.0,"min":4.0,"max":4.0,"mean":4.0}"#,
            r#"{"key":"s","start":3000,"end":5000,"count":1,"sum":8.0,"min":8.0,"max":8.0,"mean":8.0}"#,
            r#"{"key":"s","start":4000,"end":6000,"count":1,"sum":8.0,"min":8.0,"max":8.0,"mean":8.0}"#,
        ]
    );
    // Sessions with a gap of 1 s: [500, 2500) holds the first three rows, [4000, 5000) the last.
    assert_eq!(
        run("session:1s"),
        [
            r#"{"key":"s","start":500,"end":2500,"count":3,"sum":7.0,"min":1.0,"max":4.0,"mean":2.3333333333333335}"#,
            r#"{"key":"s","start":4000,"end":5000,"count":1,"sum":8.0,"min":8.0,"max":8.0,"mean":8.0}"#,
        ]
    );
    // An offset shifts tumbling windows.
    assert_eq!(
        run("tumbling:2s:500ms"),
        [
            r#"{"key":"s","start":500,"end":2500,"count":3,"sum":7.0,"min":1.0,"max":4.0,"mean":2.3333333333333335}"#,
            r#"{"key":"s","start":2500,"end":4500,"count":1,"sum":8.0,"min":8.0,"max":8.0,"mean":8.0}"#,
        ]
    );
}

#[test]
fn bad_arguments_exit_with_2_a_message_and_the_usage() {
    let csv = file("args.csv", "k,t,v\na,1,1\n");
    let csv = path(&csv);
    let text = file("args.txt", "k,t,v\n");
    let required = |window: &str| -> Vec<String> {
        [
            "--input", csv, "--key", "k", "--time", "t", "--value", "v", "--window", window,
        ]
        .map(String::from)
        .to_vec()
    };
    let with = |extra: &[&str]| {
        let mut args = required("tumbling:1s");
        args.extend(extra.iter().map(|arg| arg.to_string()));
        args
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![],
            "missing required flags `--input`, `--key`, `--time`, `--value`, `--window`",
        ),
        (with(&["--bogus"]), "unknown flag `--bogus`"),
        (with(&["stray"]), "unexpected argument `stray`"),
        (with(&["--key", "k"]), "`--key` given more than once"),
        (
            with(&["--allowed-lateness"]),
            "`--allowed-lateness` needs a value",
        ),
        (
            required("tumbling:0"),
            "the window size must be greater than zero",
        ),
        (
            required("session:0s"),
            "the session gap must be greater than zero",
        ),
        (
            required("sliding:1m"),
            "expected tumbling:SIZE[:OFFSET], sliding:SIZE:SLIDE",
        ),
        (
            required("hopping:1m"),
            "expected tumbling:SIZE[:OFFSET], sliding:SIZE:SLIDE",
        ),
        (
            required("tumbling:5 minutes"),
            "`5 minutes` is not a duration",
        ),
        (
            with(&["--max-out-of-orderness", "-1s"]),
            "`-1s` is not a duration",
        ),
        (
            with(&["--max-out-of-orderness=1.5s"]),
            "`1.5s` is not a duration",
        ),
        (with(&["--late", "-"]), "`--late` needs a file path"),
        (
            vec![
                "--input",
                "/no/such/file.csv",
                "--key",
                "k",
                "--time",
                "t",
                "--value",
                "v",
                "--window",
                "session:1s",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            "cannot read the input `/no/such/file.csv`",
        ),
        (
            vec![
                "--input",
                path(&text),
                "--key",
                "k",
                "--time",
                "t",
                "--value",
                "v",
                "--window",
                "session:1s",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            "the input must end in .csv, .jsonl or .json",
        ),
        (
            [
                "--input",
                csv,
                "--key",
                "k",
                "--time",
                "time",
                "--value",
                "v",
                "--window",
                "session:1s",
            ]
            .map(String::from)
            .to_vec(),
            "column `time` is not in the CSV header (columns: k, t, v)",
        ),
    ];
    for (args, message) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = aggregate(&args, "");
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        let first = err.lines().next().unwrap_or_default();
        assert!(first.starts_with("error: "), "{args:?}: {err}");
        assert!(first.contains(message), "{args:?}: {first}");
        assert!(
            err.contains("\nusage: aggregate --input PATH"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }

    let help = aggregate(&["--help"], "");
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).starts_with("usage: aggregate"));
}

#[test]
fn a_column_missing_from_csv_on_stdin_is_a_usage_error_and_creates_no_output() {
    let results = TempFile::new("results.jsonl");
    let args = [
        "--input",
        "-",
        "--key",
        "x",
        "--time",
        "t",
        "--value",
        "v",
        "--window",
        "session:1s",
        "--output",
        path(&results),
    ];
    let output = aggregate(&args, "k,t,v\na,1,1\n");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).starts_with("error: column `x` is not in the CSV header"));
    assert!(!results.path().exists());

    let output = aggregate(&args, "");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).starts_with("error: the input has no CSV header"));
}
