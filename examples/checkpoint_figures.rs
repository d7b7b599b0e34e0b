//! probe
#[path = "../benches/support/windows_workload.rs"]
mod workload;
#[path = "../benches/support/checkpoint.rs"]
mod support;

use std::time::{Duration, Instant};
use rheoflow::checkpoint::{Checkpoints, MemoryStore, Trigger, DirectoryStore};
use support::TimedStore;

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(50_000_000);
    let mode = std::env::args().nth(2).unwrap_or_default();
    let rt = match mode.as_str() {
        "ct" => tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap(),
        _ => tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap(),
    };
    let t = Instant::now();
    let fired = rt.block_on(workload::flow_tumbling_on(n, 0));
    println!("plain spawned: {:?} {fired}", t.elapsed());
    let t = Instant::now();
    let fired = rt.block_on(support::tumbling(n, None));
    println!("plain block_on: {:?} {fired}", t.elapsed());
    for dir in [false, true] {
        if dir {
            let store = rt.block_on(async { TimedStore::new(DirectoryStore::open(support::temp_dir("probe")).await.unwrap()) });
            one(&rt, n, store, &mode);
        } else { one(&rt, n, TimedStore::new(MemoryStore::new()), &mode); }
    }
}

fn one<S: rheoflow::checkpoint::CheckpointStore + Clone + 'static>(rt: &tokio::runtime::Runtime, n: u64, store: TimedStore<S>, mode: &str) {
        let cps = rt.block_on(Checkpoints::open(store.clone(), Trigger::every(Duration::from_secs(1)))).unwrap();
        let t = Instant::now();
        let fired = if mode == "spawn" { let c = cps.clone(); rt.block_on(async move { tokio::spawn(async move { support::tumbling(n, Some(&c)).await }).await.unwrap() }) } else { rt.block_on(support::tumbling(n, Some(&cps))) };
        let ran = t.elapsed();
        rt.block_on(cps.wait_idle());
        println!("ckpt block_on: {:?} idle {:?} {fired}", ran, t.elapsed());
        for s in store.saves() { println!("  {} start {:?} dur {:?} bytes {}", s.id, s.started - t, s.finished - s.started, s.state_bytes); }
}
