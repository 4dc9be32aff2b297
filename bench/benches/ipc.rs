//! The /dev/mach benchmarks (`make bench`, `make bench-icount`): criterion
//! groups that each put a Mach path beside its peers, run one after the
//! other in one process, then a table of the results and of the issue's
//! targets, and the same as JSON between marker lines for scripts/bench.
//!
//! Environment: `MACH_BENCH_MODE=icount` when the guest runs under QEMU
//! `-icount shift=0,sleep=off` (results are then converted to guest
//! instructions); `MACH_BENCH_QUICK=1` for a fast smoke run;
//! `CRITERION_HOME` is where criterion keeps its results (read back for the
//! table). Criterion's own arguments (a filter, `--bench`) pass through.

use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use mach_bench::*;

const RPC_SIZES: [usize; 4] = [1, 8, 1024, 65536];
const OOL_SIZES: [usize; 3] = [64 << 10, 1 << 20, 16 << 20];
const LOOKUP_NAMES: [usize; 3] = [10, 1000, 100_000];
const PAIRS: [usize; 3] = [1, 2, 4];
const MEMORY_OBJECTS: usize = 100_000;

fn timed(iters: u64, f: impl FnOnce(u64)) -> Duration {
    let t = Instant::now();
    f(iters);
    t.elapsed()
}

fn size_label(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{}MiB", n >> 20)
    } else if n >= 1024 {
        format!("{}KiB", n >> 10)
    } else {
        format!("{n}B")
    }
}

fn benches(c: &mut Criterion) {
    // The null call: one ioctl against one syscall.
    {
        let mut g = c.benchmark_group("null");
        let space = mach::Space::open().expect("open /dev/mach (is the module loaded?)");
        g.bench_function("mach_ioctl_api_version", |b| {
            b.iter(|| space.api_version().unwrap())
        });
        // SAFETY: getppid has no preconditions.
        g.bench_function("getppid", |b| b.iter(|| unsafe { libc::getppid() }));
        let (rd, _wr) = pipe();
        g.bench_function("pipe_ioctl_fionread", |b| {
            b.iter(|| pipe_fionread(rd.as_raw_fd()))
        });
        g.finish();
    }

    // The kernel paths without a second process.
    {
        let mut g = c.benchmark_group("local");
        let mut m = MachLocal::new();
        g.bench_function("mach_send_rcv_self_8B", |b| {
            b.iter_custom(|n| timed(n, |n| m.send_receive(n)))
        });
        g.bench_function("mach_send_only_8B", |b| b.iter_custom(|n| m.time_sends(n)));
        g.bench_function("mach_rcv_only_8B", |b| {
            b.iter_custom(|n| m.time_receives(n))
        });
        let mut ph = MachPhases::new();
        g.bench_function("mach_send_too_small", |b| {
            b.iter_custom(|n| timed(n, |n| ph.too_small(n)))
        });
        g.bench_function("mach_send_invalid_dest_8B", |b| {
            b.iter_custom(|n| timed(n, |n| ph.invalid_dest(n)))
        });
        g.bench_function("mach_rcv_empty_timeout_0", |b| {
            b.iter_custom(|n| timed(n, |n| ph.empty_receive(n)))
        });
        let mut p = PipeLocal::new();
        g.bench_function("pipe_write_read_self_8B", |b| {
            b.iter_custom(|n| timed(n, |n| p.run(n)))
        });
        g.finish();
    }

    // RPC round trips, one group per payload size so that the mechanisms
    // run side by side.
    for size in RPC_SIZES {
        let mut g = c.benchmark_group(format!("rpc_{}", size_label(size)));
        let mut w = MachRpc::new(size, true, None);
        g.bench_function("mach_msg_send_rcv", |b| {
            b.iter_custom(|n| timed(n, |n| w.run(n)))
        });
        drop(w);
        let mut w = MachRpc::new(size, false, None);
        g.bench_function("mach_msg_separate", |b| {
            b.iter_custom(|n| timed(n, |n| w.run(n)))
        });
        drop(w);
        for (name, peer) in [
            ("pipe", Peer::Pipe),
            ("unix_stream", Peer::UnixStream),
            ("unix_seqpacket", Peer::UnixSeqpacket),
        ] {
            let mut w = FdPingPong::new(peer, size, None);
            g.bench_function(name, |b| b.iter_custom(|n| timed(n, |n| w.run(n))));
        }
        if size == 8 {
            let mut w = FdPingPong::new(Peer::Eventfd, 8, None);
            g.bench_function("eventfd", |b| b.iter_custom(|n| timed(n, |n| w.run(n))));
        }
        let mut w = FutexPingPong::new(size, None);
        g.bench_function("futex", |b| b.iter_custom(|n| timed(n, |n| w.run(n))));
        g.finish();
    }

    // Out-of-line transfer against the same bytes through a pipe.
    for size in OOL_SIZES {
        let mut g = c.benchmark_group(format!("ool_{}", size_label(size)));
        g.throughput(Throughput::Bytes(size as u64));
        if size >= 1 << 20 {
            g.sampling_mode(SamplingMode::Flat);
        }
        let mut w = MachOol::new(size);
        g.bench_function("mach_ool", |b| b.iter_custom(|n| timed(n, |n| w.run(n))));
        drop(w);
        let mut w = PipeBulk::new(size);
        g.bench_function("pipe", |b| b.iter_custom(|n| timed(n, |n| w.run(n))));
        g.finish();
    }

    // Passing a right: a port right in a message against a descriptor.
    {
        let mut g = c.benchmark_group("pass_right");
        let mut w = MachRight::new();
        g.bench_function("mach_port_right", |b| {
            b.iter_custom(|n| timed(n, |n| w.run(n)))
        });
        drop(w);
        let mut w = ScmRights::new();
        g.bench_function("scm_rights", |b| b.iter_custom(|n| timed(n, |n| w.run(n))));
        g.finish();
    }

    // Name lookup (mach_port_type) in spaces of growing size.
    {
        let mut g = c.benchmark_group("lookup");
        for names in LOOKUP_NAMES {
            let mut w = Lookup::new(names);
            g.bench_with_input(BenchmarkId::new("mach_port_type", names), &names, |b, _| {
                b.iter_custom(|n| timed(n, |n| w.run(n)))
            });
        }
        g.finish();
    }

    // Aggregate throughput of independent pairs. One iteration is
    // PAIR_BATCH round trips in each pair, all pairs at once.
    if std::env::var("MACH_BENCH_MODE").as_deref() != Ok("icount") {
        for (label, kind) in [
            ("mach", PairKind::Mach),
            ("pipe", PairKind::Pipe),
            ("spin", PairKind::Spin),
        ] {
            let mut g = c.benchmark_group(format!("pairs_{label}"));
            for k in PAIRS {
                g.throughput(Throughput::Elements(k as u64 * PAIR_BATCH));
                let mut w = Pairs::new(kind, k);
                g.bench_with_input(BenchmarkId::new("rpc_8B", k), &k, |b, _| {
                    b.iter_custom(|n| timed(n, |n| w.run(n)))
                });
            }
            g.finish();
        }
    }
}

// --- the report -------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct Est {
    median: f64,
    lower: f64,
    upper: f64,
}

/// Reads criterion's estimates (`new/estimates.json` beside
/// `new/benchmark.json`) under `dir`, by full benchmark id.
fn read_results(dir: &Path, out: &mut BTreeMap<String, Est>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "new") {
                let bench = std::fs::read_to_string(p.join("benchmark.json")).ok();
                let est = std::fs::read_to_string(p.join("estimates.json")).ok();
                if let (Some(bench), Some(est)) = (bench, est) {
                    let bench: serde_json::Value = serde_json::from_str(&bench).unwrap_or_default();
                    let est: serde_json::Value = serde_json::from_str(&est).unwrap_or_default();
                    let id = bench["full_id"].as_str().unwrap_or("?").to_string();
                    let m = &est["median"];
                    let f = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
                    out.insert(
                        id,
                        Est {
                            median: f(&m["point_estimate"]),
                            lower: f(&m["confidence_interval"]["lower_bound"]),
                            upper: f(&m["confidence_interval"]["upper_bound"]),
                        },
                    );
                }
            } else {
                read_results(&p, out);
            }
        }
    }
}

/// One result per benchmark from several rounds: the median of the rounds'
/// medians, and the lowest and highest of them (with one round: its median
/// and confidence interval).
fn combine(rounds: &[BTreeMap<String, Est>]) -> BTreeMap<String, Est> {
    if rounds.len() == 1 {
        return rounds[0].clone();
    }
    let mut ids: Vec<&String> = rounds.iter().flat_map(|r| r.keys()).collect();
    ids.sort();
    ids.dedup();
    ids.into_iter()
        .map(|id| {
            let mut v: Vec<f64> = rounds
                .iter()
                .filter_map(|r| r.get(id))
                .map(|e| e.median)
                .collect();
            v.sort_by(|a, b| a.total_cmp(b));
            let n = v.len();
            let median = if n % 2 == 1 {
                v[n / 2]
            } else {
                (v[n / 2 - 1] + v[n / 2]) / 2.0
            };
            (
                id.clone(),
                Est {
                    median,
                    lower: v[0],
                    upper: v[n - 1],
                },
            )
        })
        .collect()
}

struct Target {
    name: &'static str,
    value: Option<f64>,
    op: &'static str,
    limit: f64,
    detail: String,
}

impl Target {
    fn met(&self) -> Option<bool> {
        let v = self.value?;
        Some(if self.op == "<=" {
            v <= self.limit
        } else {
            v >= self.limit
        })
    }
}

fn report(
    results: &BTreeMap<String, Est>,
    mem: &Memory,
    mode: &str,
    scale: f64,
    clock: f64,
    rounds: usize,
) {
    let unit = if mode == "icount" { "instr" } else { "ns" };
    let get = |id: &str| results.get(id).map(|e| e.median * scale);
    let ratio = |a: &str, b: &str| Some(get(a)? / get(b)?);

    let mut table = String::new();
    table.push_str(&format!(
        "{:<44} {:>14} {:>22}\n",
        "benchmark",
        format!("median {unit}/op"),
        if rounds > 1 {
            format!("range of {rounds} rounds")
        } else {
            "95% CI of the median".into()
        }
    ));
    for (id, e) in results {
        table.push_str(&format!(
            "{:<44} {:>14.0} {:>10.0} .. {:<10.0}\n",
            id,
            e.median * scale,
            e.lower * scale,
            e.upper * scale
        ));
    }

    // Ratios of interest beside the targets.
    let mut rows: Vec<(String, Option<f64>)> = Vec::new();
    for size in RPC_SIZES {
        let g = format!("rpc_{}", size_label(size));
        for peer in [
            "pipe",
            "unix_stream",
            "unix_seqpacket",
            "futex",
            "eventfd",
            "mach_msg_separate",
        ] {
            let r = ratio(&format!("{g}/mach_msg_send_rcv"), &format!("{g}/{peer}"));
            if r.is_some() {
                rows.push((format!("{g}: mach_msg_send_rcv / {peer}"), r));
            }
        }
    }
    for size in OOL_SIZES {
        let g = format!("ool_{}", size_label(size));
        rows.push((
            format!("{g}: mach_ool / pipe"),
            ratio(&format!("{g}/mach_ool"), &format!("{g}/pipe")),
        ));
    }
    rows.push((
        "pass_right: mach_port_right / scm_rights".into(),
        ratio("pass_right/mach_port_right", "pass_right/scm_rights"),
    ));
    rows.push((
        "null: mach ioctl / pipe FIONREAD ioctl".into(),
        ratio("null/mach_ioctl_api_version", "null/pipe_ioctl_fionread"),
    ));
    rows.push((
        "local: mach send+receive (one call) / pipe write+read".into(),
        ratio(
            "local/mach_send_rcv_self_8B",
            "local/pipe_write_read_self_8B",
        ),
    ));
    rows.push((
        "lookup: 1000 names / 10 names".into(),
        ratio("lookup/mach_port_type/1000", "lookup/mach_port_type/10"),
    ));
    let pairs = |kind: &str, k: usize| -> Option<f64> {
        // Aggregate round trips per unit of time: k * PAIR_BATCH per iteration.
        let t = get(&format!("pairs_{kind}/rpc_8B/{k}"))?;
        Some((k as u64 * PAIR_BATCH) as f64 / t)
    };
    for kind in ["mach", "pipe", "spin"] {
        for k in [2, 4] {
            let r = pairs(kind, k).zip(pairs(kind, 1)).map(|(a, b)| a / b);
            if r.is_some() {
                rows.push((format!("pairs_{kind}: throughput of {k} pairs / 1 pair"), r));
            }
        }
    }
    if results.keys().any(|k| k.starts_with("pairs_")) {
        table.push_str(&format!(
            "(pairs_*: per {PAIR_BATCH} round trips in each pair, the pairs at once)\n"
        ));
    }
    table.push_str("\nratios\n");
    for (name, r) in &rows {
        match r {
            Some(r) => table.push_str(&format!("  {name:<58} {r:>7.2}\n")),
            None => table.push_str(&format!("  {name:<58} {:>7}\n", "-")),
        }
    }

    let targets = vec![
        Target {
            name: "RPC round trip / pipe ping-pong (8 B)",
            value: ratio("rpc_8B/mach_msg_send_rcv", "rpc_8B/pipe"),
            op: "<=",
            limit: 0.7,
            detail: String::new(),
        },
        Target {
            name: "RPC round trip / UNIX stream ping-pong (8 B)",
            value: ratio("rpc_8B/mach_msg_send_rcv", "rpc_8B/unix_stream"),
            op: "<=",
            limit: 0.6,
            detail: String::new(),
        },
        Target {
            name: "RPC round trip / futex ping-pong (8 B)",
            value: ratio("rpc_8B/mach_msg_send_rcv", "rpc_8B/futex"),
            op: "<=",
            limit: 1.0,
            detail: String::new(),
        },
        Target {
            name: "null ioctl / getppid()",
            value: ratio("null/mach_ioctl_api_version", "null/getppid"),
            op: "<=",
            limit: 1.1,
            detail: String::new(),
        },
        Target {
            name: "lookup at 100,000 names / at 10 names",
            value: ratio("lookup/mach_port_type/100000", "lookup/mach_port_type/10"),
            op: "<=",
            limit: 1.2,
            detail: String::new(),
        },
        Target {
            name: "64 KiB inline RPC / 8 B RPC",
            value: ratio("rpc_64KiB/mach_msg_send_rcv", "rpc_8B/mach_msg_send_rcv"),
            op: "<=",
            limit: 4.0,
            detail: String::new(),
        },
        Target {
            name: "throughput of 2 pairs / 1 pair (Mach)",
            value: pairs("mach", 2).zip(pairs("mach", 1)).map(|(a, b)| a / b),
            op: ">=",
            limit: 1.8,
            detail: {
                let of = |kind: &str| {
                    pairs(kind, 2)
                        .zip(pairs(kind, 1))
                        .map(|(a, b)| format!("{:.2}", a / b))
                        .unwrap_or("-".into())
                };
                format!(
                    "{} CPUs; pipes {}, no IPC {}",
                    cpus(),
                    of("pipe"),
                    of("spin")
                )
            },
        },
        Target {
            name: "kernel memory per port (bytes)",
            value: Some(mem.port_slab()),
            op: "<=",
            limit: 256.0,
            detail: format!(
                "receive right {:.0} B less a send right's name {:.0} B",
                mem.receive_slab, mem.send_name_slab
            ),
        },
        Target {
            name: "kernel memory per name entry (bytes)",
            value: Some(mem.dead_name_slab),
            op: "<=",
            limit: 64.0,
            detail: format!("dead name; a send right's name {:.0} B", mem.send_name_slab),
        },
    ];
    table.push_str("\ntargets (issue 7)\n");
    for t in &targets {
        let v = t.value.map(|v| format!("{v:.2}")).unwrap_or("-".into());
        let met = match t.met() {
            Some(true) => "met",
            Some(false) => "NOT met",
            None => "not measured",
        };
        let extra = if t.detail.is_empty() {
            String::new()
        } else {
            format!("  ({})", t.detail)
        };
        table.push_str(&format!(
            "  {:<46} {:>9} {} {:<6} {}{}\n",
            t.name, v, t.op, t.limit, met, extra
        ));
    }
    table.push_str(&format!(
        "\nkernel memory, {} objects each, from /proc/meminfo Slab (MemFree): dead name {:.0} B ({:.0}), \
         send right's name {:.0} B ({:.0}), receive right with its port {:.0} B ({:.0})\n",
        mem.count,
        mem.dead_name_slab,
        mem.dead_name_free,
        mem.send_name_slab,
        mem.send_name_free,
        mem.receive_slab,
        mem.receive_free
    ));
    table.push_str(&format!(
        "mode {mode}: {} CPU(s); {}\n",
        cpus(),
        if mode == "icount" {
            format!("clock check: {clock:.3} guest instructions per ns of the guest clock; results converted to instructions")
        } else {
            "times are emulated (QEMU TCG) nanoseconds: compare ratios, not absolute values".into()
        }
    ));

    println!("MACH-BENCH-TABLE-BEGIN");
    print!("{table}");
    println!("MACH-BENCH-TABLE-END");

    let json = serde_json::json!({
        "mode": mode,
        "unit": if mode == "icount" { "guest instructions per operation" } else { "emulated ns per operation" },
        "cpus": cpus(),
        "rounds": rounds,
        "clock_instructions_per_ns": clock,
        "results": results.iter().map(|(k, e)| (k.clone(), serde_json::json!({
            "median": e.median * scale, "lower": e.lower * scale, "upper": e.upper * scale,
        }))).collect::<serde_json::Map<_, _>>(),
        "ratios": rows.iter().map(|(k, r)| (k.clone(), serde_json::json!(r))).collect::<serde_json::Map<_, _>>(),
        "targets": targets.iter().map(|t| serde_json::json!({
            "name": t.name, "value": t.value, "op": t.op, "limit": t.limit, "met": t.met(), "detail": t.detail,
        })).collect::<Vec<_>>(),
        "memory_bytes": {
            "objects": mem.count,
            "dead_name_slab": mem.dead_name_slab,
            "send_right_name_slab": mem.send_name_slab,
            "receive_right_with_port_slab": mem.receive_slab,
            "port_slab": mem.port_slab(),
            "dead_name_memfree": mem.dead_name_free,
            "send_right_name_memfree": mem.send_name_free,
            "receive_right_with_port_memfree": mem.receive_free,
        },
    });
    println!("MACH-BENCH-JSON-BEGIN");
    println!("{json}");
    println!("MACH-BENCH-JSON-END");
}

fn main() {
    let mode = if std::env::var("MACH_BENCH_MODE").as_deref() == Ok("icount") {
        "icount"
    } else {
        "tcg"
    };
    let quick = std::env::var("MACH_BENCH_QUICK").is_ok_and(|v| v == "1");
    // Every single-pair benchmark runs client and server on CPU 0: a
    // context switch per message, as on one CPU.
    pin_to_cpu(0);

    let clock = instructions_per_ns();
    let scale = if mode == "icount" { clock } else { 1.0 };
    let mem = measure_memory(if quick { 10_000 } else { MEMORY_OBJECTS });

    let home = PathBuf::from(
        std::env::var("CRITERION_HOME").unwrap_or_else(|_| "target/criterion".into()),
    );
    // Times are the guest's: under icount a guest second is about 1e9
    // instructions (the clock check above says exactly).
    let (warm, measure, samples) = match (mode, quick) {
        (_, true) => (Duration::from_millis(20), Duration::from_millis(50), 10),
        ("icount", _) => (Duration::from_millis(20), Duration::from_millis(100), 10),
        _ => (Duration::from_millis(300), Duration::from_millis(1500), 20),
    };
    // Under plain TCG the host's load moves the figures: the whole set runs
    // several times, one round after the other, and each benchmark's
    // result is the median of its rounds (icount needs one round).
    let rounds: usize = std::env::var("MACH_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if mode == "icount" || quick { 1 } else { 3 })
        .max(1);
    let mut per_round: Vec<BTreeMap<String, Est>> = Vec::new();
    for round in 0..rounds {
        if rounds > 1 {
            println!("==== round {} of {rounds} ====", round + 1);
        }
        let dir = home.join(format!("round{}", round + 1));
        let mut c = Criterion::default()
            .output_directory(&dir)
            .warm_up_time(warm)
            .measurement_time(measure)
            .sample_size(samples)
            .nresamples(5000)
            .without_plots()
            .configure_from_args();
        benches(&mut c);
        c.final_summary();
        let mut results = BTreeMap::new();
        read_results(&dir, &mut results);
        per_round.push(results);
    }
    let results = combine(&per_round);
    report(&results, &mem, mode, scale, clock, rounds);
}
