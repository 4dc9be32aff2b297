//! Model-based random testing of the Mach calls: long random sequences of
//! operations over several spaces, run against the kernel and against a
//! reference model of docs/calls.md, docs/messages.md and
//! docs/notifications.md (tests/src/model), compared call by call and,
//! every few operations, space by space. Prints TAP.
//!
//! The operations: allocate, allocate_name, reply_port, type, get_refs,
//! mod_refs, deallocate, destroy, insert_right, extract_right, names,
//! task_for_fd; mach_msg sends (timeout 0: a full queue gives
//! MACH_SEND_TIMED_OUT) with header rights of every disposition, port
//! descriptors of every disposition (MOVE_RECEIVE included) and
//! out-of-line port arrays, and receives (timeout 0) on ports and port
//! sets; queue limits and MACH_PORT_RECEIVE_STATUS; move_member,
//! insert_member, extract_member, get_set_status; dead-name, no-senders
//! and port-destroyed requests and port_set_backup (port-deleted and
//! send-once notifications come with them); closing a space and opening a
//! new one. Every received message is compared with the model's: id, bits,
//! size, the names and types of the rights it brought (and what they
//! became in the receiver's space), the trailer's sequence number, and
//! whether the kernel sent it. A full check compares every name's type and
//! references, every receive right's status and every set's members.
//!
//! Environment:
//! - `MACH_MODEL_SEED`: the seed (printed; default: from the clock).
//! - `MACH_MODEL_OPS`: how many operations (default 100000: about 250 s
//!   on the debug kernel under QEMU TCG, 30 to 60 s on the plain one).
//! - `MACH_MODEL_CHECK_EVERY`: operations between full checks (default 500).
//! - `MACH_MODEL_SPACES`: how many spaces at once (default 4).
//! - `MACH_MODEL_SHRINK_SECS`: time allowed for shrinking a failure (120).
//!
//! On a mismatch it prints the seed, the operation and what differed, then
//! replays shorter sequences from scratch to find a short failing one and
//! prints it. In a printed sequence `@N` is the name operation N returned.

#[path = "../model/mod.rs"]
mod model;

use model::gen::Gen;
use model::op::Op;
use model::rng::Rng;
use model::run::{replay, shrink, tally_lines, Failure, Session};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Operations per run unless MACH_MODEL_OPS says otherwise.
const DEFAULT_OPS: usize = 100_000;

fn env_num(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => {
            let v = v.trim();
            let parsed = if let Some(hex) = v.strip_prefix("0x") {
                u64::from_str_radix(hex, 16)
            } else {
                v.parse()
            };
            parsed.unwrap_or_else(|_| {
                eprintln!("# {name}={v} is not a number; using {default}");
                default
            })
        }
        Err(_) => default,
    }
}

fn main() -> ExitCode {
    println!("TAP version 13");
    println!("1..2");
    let clock = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let seed = env_num(
        "MACH_MODEL_SEED",
        clock ^ ((std::process::id() as u64) << 32),
    );
    let nops = env_num("MACH_MODEL_OPS", DEFAULT_OPS as u64) as usize;
    let check_every = env_num("MACH_MODEL_CHECK_EVERY", 500).max(1) as usize;
    let slots = env_num("MACH_MODEL_SPACES", 4).clamp(1, 16) as usize;
    let shrink_secs = env_num("MACH_MODEL_SHRINK_SECS", 120);
    println!("# seed {seed} (MACH_MODEL_SEED={seed} repeats this run), {nops} operations, {slots} spaces, full check every {check_every}");

    let mut passed = 0;
    let mut failed = 0;
    let name = "random_operations_match_the_model";
    let (failure, ops, calls, elapsed) = {
        let mut session = match Session::new(slots) {
            Ok(s) => s,
            Err(e) => {
                println!("not ok 1 - {name} # cannot open /dev/mach: {e}");
                println!("not ok 2 - every_object_is_freed_after_the_spaces_close # skipped");
                println!("# 0 passed, 2 failed");
                return ExitCode::FAILURE;
            }
        };
        let mut gen = Gen {
            rng: Rng::new(seed),
            close_every: 700,
        };
        let mut ops: Vec<Op> = Vec::with_capacity(nops);
        let mut recent: Vec<String> = Vec::new();
        let mut failure = None;
        let start = Instant::now();
        for i in 0..nops {
            let op = gen.next(&session.model, i);
            ops.push(op.clone());
            match session.step(&op) {
                Ok(line) => {
                    recent.push(line);
                    if recent.len() > 12 {
                        recent.remove(0);
                    }
                }
                Err(msg) => {
                    failure = Some(Failure { pos: i, msg });
                    break;
                }
            }
            if (i + 1) % check_every == 0 || i + 1 == nops {
                if let Err(msg) = session.full_check() {
                    failure = Some(Failure {
                        pos: i,
                        msg: format!("full check after operation @{i}: {msg}"),
                    });
                    break;
                }
            }
        }
        if nops == 0 {
            if let Err(msg) = session.full_check() {
                failure = Some(Failure { pos: 0, msg });
            }
        }
        let elapsed = start.elapsed();
        let kernel: Duration = session.timing.values().map(|t| t.0).sum();
        println!(
            "# {:.1} s in the operations' calls, {:.1} s in full checks and the model",
            kernel.as_secs_f64(),
            (elapsed - kernel.min(elapsed)).as_secs_f64()
        );
        if let Some(f) = &failure {
            println!(
                "# MISMATCH (seed {seed}) at operation @{}: {}",
                f.pos, ops[f.pos]
            );
            println!("#   {}", f.msg);
            println!("# the operations before it:");
            for l in &recent {
                println!("#   {l}");
            }
            for slot in 0..slots {
                println!("# model space s{slot}: {}", session.model.describe(slot));
                println!("#   queues: {}", session.model.describe_queues(slot));
            }
        }
        for l in tally_lines(&session) {
            println!("# {l}");
        }
        (failure, ops, session.calls, elapsed)
    };
    let secs = elapsed.as_secs_f64().max(1e-9);
    let done = failure.as_ref().map(|f| f.pos + 1).unwrap_or(nops);
    let rate = format!(
        "{done} operations, {calls} calls in {secs:.1} s ({:.0} ops/s, {:.0} calls/s)",
        done as f64 / secs,
        calls as f64 / secs
    );
    match failure {
        None => {
            println!("ok 1 - {name} # seed {seed}, {rate}");
            passed += 1;
        }
        Some(f) => {
            println!("# shrinking (at most {shrink_secs} s)...");
            let deadline = Instant::now() + Duration::from_secs(shrink_secs);
            let (short, tries) = shrink(&ops[..=f.pos], slots, deadline);
            let (again, log) = replay(&short, slots);
            match again {
                Some(g) => {
                    println!("# shortest failing sequence found ({} operations, {tries} replays), from fresh spaces:", short.len());
                    for l in &log {
                        println!("#   {l}");
                    }
                    println!("#   => {}", g.msg);
                }
                None => {
                    println!("# the failure does not reproduce from fresh spaces ({tries} replays)")
                }
            }
            println!(
                "not ok 1 - {name} # seed {seed}, operation @{}: {}: {}",
                f.pos, ops[f.pos], f.msg
            );
            failed += 1;
        }
    }

    // Every space is closed now: nothing of them may remain.
    let name = "every_object_is_freed_after_the_spaces_close";
    let want = mach::Stats {
        spaces: 1,
        ports: 1,
        port_sets: 0,
        names: 1,
        messages: 0,
        message_bytes: 0,
    };
    match mach::Space::open().and_then(|s| s.stats()) {
        Ok(stats) if stats == want => {
            println!("ok 2 - {name}");
            passed += 1;
        }
        Ok(stats) => {
            println!("not ok 2 - {name} # expected {want:?} (one probe space), got {stats:?}");
            failed += 1;
        }
        Err(e) => {
            println!("not ok 2 - {name} # cannot read the module's counts: {e}");
            failed += 1;
        }
    }
    println!("# {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
