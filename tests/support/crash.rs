//! Helpers of the crash tests (`crash_kill`, `crash_recovery`): a seeded generator, the input
//! of the windowed pipelines, and the comparison of an output with the golden one.

// Each test file uses a different subset of the helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

/// A small deterministic generator (SplitMix64), so that a failure replays from its seed.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0).
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    /// A number in `low..=high`.
    pub(crate) fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }
}

/// Writes a CSV file `key,ts,value` of `rows` rows (and a `seq` column, the row's number from
/// 0): `keys` keys, event time growing by 0 to `2 * step_ms` ms per row with a jitter of up to
/// `jitter_ms` ms, values with one decimal.
pub(crate) fn write_csv(
    path: &Path,
    seed: u64,
    rows: usize,
    keys: u64,
    step_ms: u64,
    jitter_ms: u64,
) {
    let mut rng = Rng(seed);
    let mut text = String::with_capacity(rows * 24);
    text.push_str("seq,key,ts,value\n");
    let mut time = 1_000;
    for seq in 0..rows {
        time += rng.below(2 * step_ms + 1);
        let ts = time + rng.below(jitter_ms + 1);
        let key = rng.below(keys);
        let value = rng.below(20_001) as i64 - 10_000;
        let sign = if value < 0 { "-" } else { "" };
        let value = value.unsigned_abs();
        text.push_str(&format!(
            "{seq},k{key},{ts},{sign}{}.{}\n",
            value / 10,
            value % 10
        ));
    }
    std::fs::write(path, text).expect("write the input");
}

/// The text of `path`, empty when it does not exist.
pub(crate) fn read_or_empty(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => panic!("read {}: {error}", path.display()),
    }
}

/// How an output differs from the golden one, line by line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Diff {
    /// Golden lines missing from the output (counted with multiplicity).
    pub(crate) lost: usize,
    /// Output lines beyond the golden ones: repeated, or not in the golden output at all.
    pub(crate) duplicated: usize,
}

impl Diff {
    pub(crate) fn is_clean(&self) -> bool {
        self.lost == 0 && self.duplicated == 0
    }
}

/// Compares `output` with `golden` as multisets of lines.
pub(crate) fn diff<'a>(
    golden: impl IntoIterator<Item = &'a str>,
    output: impl IntoIterator<Item = &'a str>,
) -> Diff {
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for line in golden {
        *counts.entry(line).or_default() += 1;
    }
    for line in output {
        *counts.entry(line).or_default() -= 1;
    }
    let mut result = Diff::default();
    for count in counts.into_values() {
        if count > 0 {
            result.lost += count as usize;
        } else {
            result.duplicated += (-count) as usize;
        }
    }
    result
}

/// The lines of `text`, sorted.
pub(crate) fn sorted_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    lines
}

/// The lines of `text` in groups of consecutive lines of the same window (the same `"start"`
/// field), each group sorted: the results of one window firing, whose keys come in an order
/// that is not specified.
pub(crate) fn window_groups(text: &str) -> Vec<Vec<&str>> {
    let mut groups: Vec<(i64, Vec<&str>)> = Vec::new();
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("output line {line:?} is not JSON: {error}"));
        let start = value["start"].as_i64().expect("each line has a start");
        match groups.last_mut() {
            Some((last, group)) if *last == start => group.push(line),
            _ => groups.push((start, vec![line])),
        }
    }
    groups
        .into_iter()
        .map(|(_, mut group)| {
            group.sort_unstable();
            group
        })
        .collect()
}

/// Whether `output` begins the `golden` output, window by window: every window of `output` but
/// the last holds the golden window's lines, and the last some of them, each once. The order of
/// the keys within a window does not matter.
pub(crate) fn is_window_prefix(golden: &str, output: &str) -> Result<(), String> {
    let golden = window_groups(golden);
    let output = window_groups(output);
    if output.len() > golden.len() {
        return Err(format!(
            "{} windows, more than the {} golden ones",
            output.len(),
            golden.len()
        ));
    }
    for (index, (out, gold)) in output.iter().zip(&golden).enumerate() {
        if index + 1 < output.len() {
            if out != gold {
                return Err(format!("window {index} differs: {out:?}, golden {gold:?}"));
            }
        } else {
            let found = diff(gold.iter().copied(), out.iter().copied());
            if found.duplicated > 0 {
                return Err(format!(
                    "the last window {index} holds lines not in the golden one: {out:?}, \
                     golden {gold:?}"
                ));
            }
        }
    }
    Ok(())
}

/// The keys (the `"key"` field) whose lines come in another order in `output` than in
/// `golden`: lost or doubled lines count too.
pub(crate) fn reordered_keys(golden: &str, output: &str) -> usize {
    fn by_key(text: &str) -> BTreeMap<String, Vec<&str>> {
        let mut keys: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("output line {line:?} is not JSON: {error}"));
            let key = value["key"]
                .as_str()
                .expect("each line has a key")
                .to_owned();
            keys.entry(key).or_default().push(line);
        }
        keys
    }
    let golden = by_key(golden);
    let output = by_key(output);
    let all: std::collections::BTreeSet<&String> = golden.keys().chain(output.keys()).collect();
    all.into_iter()
        .filter(|key| golden.get(*key) != output.get(*key))
        .count()
}
