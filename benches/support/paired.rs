//! Ratios from rounds run back to back, shared by the benches and examples that compare a flow
//! with a baseline.
//!
//! Criterion measures one variant after the other, a minute or more apart, and this machine's
//! speed drifts by tens of percent over that time, so a ratio of two criterion figures can be
//! off by as much. Here each round runs every variant once, back to back, in a rotating order;
//! a variant is compared with the baseline of its own round, and the median of those per-round
//! ratios is the figure to judge by.

#![allow(dead_code)]

use std::time::Instant;

/// Each variant's rate per round: `rates[variant][round]`.
#[derive(Debug, Clone)]
pub(crate) struct Rounds {
    pub(crate) rates: Vec<Vec<f64>>,
}

/// Runs `rounds` rounds of `variants` variants, back to back; `run(variant)` runs one and
/// returns its rate. Round `r` starts with variant `r % variants`.
pub(crate) fn rounds(rounds: usize, variants: usize, mut run: impl FnMut(usize) -> f64) -> Rounds {
    let mut rates = vec![Vec::with_capacity(rounds); variants];
    for round in 0..rounds {
        for at in 0..variants {
            let variant = (round + at) % variants;
            rates[variant].push(run(variant));
        }
    }
    Rounds { rates }
}

/// [`rounds`] of workloads that each process the events `0..events` they are given: variant
/// `v` is `workloads[v]`.
pub(crate) fn rounds_of(rounds: usize, events: u64, workloads: &[fn(u64) -> u64]) -> Rounds {
    self::rounds(rounds, workloads.len(), |variant| {
        rate(events, || {
            std::hint::black_box(workloads[variant](std::hint::black_box(events)));
        })
    })
}

/// Events per second of `run`, which processes `events` events.
pub(crate) fn rate(events: u64, run: impl FnOnce()) -> f64 {
    let start = Instant::now();
    run();
    events as f64 / start.elapsed().as_secs_f64()
}

impl Rounds {
    /// The median rate of `variant`.
    pub(crate) fn median(&self, variant: usize) -> f64 {
        median(&self.rates[variant])
    }

    /// `variant`'s rate over `base`'s, per round.
    pub(crate) fn ratios(&self, variant: usize, base: usize) -> Vec<f64> {
        self.rates[variant]
            .iter()
            .zip(&self.rates[base])
            .map(|(rate, base)| rate / base)
            .collect()
    }

    /// The median and the lowest of `variant`'s per-round ratios to `base`.
    pub(crate) fn ratio(&self, variant: usize, base: usize) -> (f64, f64) {
        let ratios = self.ratios(variant, base);
        let lowest = ratios.iter().copied().fold(f64::MAX, f64::min);
        (median(&ratios), lowest)
    }

    /// One line: `variant`'s median rate, and its ratio to `base` (median of the rounds, and
    /// the lowest round).
    pub(crate) fn line(&self, name: &str, variant: usize, base: usize, base_name: &str) -> String {
        let (ratio, lowest) = self.ratio(variant, base);
        format!(
            "{name:<28} {:7.2}M events/s (median), {ratio:.3}x {base_name} (median of {} \
             rounds; lowest {lowest:.3})",
            self.median(variant) / 1e6,
            self.rates[variant].len(),
        )
    }
}

/// The median of `values` (not empty).
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}
