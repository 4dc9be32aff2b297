//! What the module tells about its objects: the live-object counts of
//! MACH_IOC_STATS and each space's /proc/PID/fdinfo.

use std::os::fd::{AsFd, AsRawFd};

use mach::{MsgTypeName, PortName, PortType, Stats};

use crate::check::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    stats_count_the_objects_a_space_makes_and_frees,
    closing_spaces_frees_every_object_they_held,
    fdinfo_shows_the_names_of_the_space_by_right,
];

fn stats(s: &TestSpace) -> Result<Stats, String> {
    s.space()
        .stats()
        .map_err(|e| format!("MACH_IOC_STATS: {e}"))
}

fn expect_stats(what: &str, want: Stats, got: Stats) -> TestResult {
    ensure(want == got, || {
        format!("{what}: expected {want:?}, got {got:?}")
    })
}

fn stats_count_the_objects_a_space_makes_and_frees(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let before = stats(&s)?;
    let receive = s.new_receive()?;
    let set = s.new_port_set()?;
    let dead = s.new_dead_name(3)?;
    let after = stats(&s)?;
    let want = Stats {
        ports: before.ports + 1,
        port_sets: before.port_sets + 1,
        names: before.names + 3,
        ..before
    };
    expect_stats(
        "after allocating a port, a port set and a dead name",
        want,
        after,
    )?;
    for name in [receive, set, dead] {
        s.destroy(TASK, name).succeeds()?;
    }
    expect_stats("after destroying them", before, stats(&s)?)
}

fn closing_spaces_frees_every_object_they_held(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let before = stats(&s)?;
    {
        // Two spaces holding rights to each other's ports, task ports
        // included: closing both must free everything, cycles and all.
        let a = TestSpace::open()?;
        let b = TestSpace::open()?;
        let b_task = a
            .space()
            .task_for_fd(b.space().as_fd())
            .map_err(|e| format!("task_for_fd: {e}"))?;
        let a_task = b
            .space()
            .task_for_fd(a.space().as_fd())
            .map_err(|e| format!("task_for_fd: {e}"))?;
        for (x, other_task) in [(&a, b_task), (&b, a_task)] {
            for _ in 0..10 {
                let port = x.new_receive()?;
                x.new_port_set()?;
                x.new_dead_name(2)?;
                x.space()
                    .extract_right(other_task, other_task, MsgTypeName::COPY_SEND)
                    .map_err(|e| format!("extract_right: {e}"))?;
                x.space()
                    .insert_right(
                        other_task,
                        PortName(port.0 ^ 0x5a00_0000),
                        port,
                        MsgTypeName::MAKE_SEND,
                    )
                    .map_err(|e| format!("insert_right: {e}"))?;
                x.space()
                    .insert_right(
                        other_task,
                        PortName(port.0 ^ 0x3c00_0000),
                        port,
                        MsgTypeName::MAKE_SEND_ONCE,
                    )
                    .map_err(|e| format!("insert_right: {e}"))?;
            }
        }
        ensure(stats(&s)?.names > before.names + 60, || {
            "the spaces did not fill up".into()
        })?;
    }
    expect_stats("after closing both spaces", before, stats(&s)?)
}

fn fdinfo_shows_the_names_of_the_space_by_right(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let receive = s.new_receive()?;
    s.space()
        .insert_right(TASK, receive, receive, MsgTypeName::MAKE_SEND)
        .map_err(|e| format!("insert_right: {e}"))?;
    s.new_receive()?;
    s.new_port_set()?;
    s.new_dead_name(1)?;
    s.new_dead_name(1)?;
    s.expect_type(receive, PortType::SEND_RECEIVE)?;
    let path = format!("/proc/self/fdinfo/{}", s.space().as_raw_fd());
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let field = |key: &str| -> Option<String> {
        text.lines()
            .find_map(|line| line.strip_prefix(key).map(|v| v.trim().to_string()))
    };
    // The task-self send right, the SEND|RECEIVE name, another receive
    // right, a port set and two dead names.
    for (key, want) in [
        ("mach-space:", "open"),
        ("mach-names:", "6"),
        ("mach-receive:", "2"),
        ("mach-send:", "2"),
        ("mach-send-once:", "0"),
        ("mach-port-set:", "1"),
        ("mach-dead-name:", "2"),
    ] {
        let got = field(key);
        ensure(got.as_deref() == Some(want), || {
            format!("{path}: {key} expected {want}, got {got:?} in:\n{text}")
        })?;
    }
    Ok(())
}
