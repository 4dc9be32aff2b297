//! User references of send rights to ordinary ports (SEND alone and
//! SEND|RECEIVE) and send-once rights: mod_refs, deallocate, get_refs,
//! destroy, and the bounds 0 and MACH_PORT_UREFS_MAX.

use mach::{PortName, PortType};

use crate::check::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    send_right_user_references_follow_mod_refs_and_deallocate,
    send_right_at_zero_references_frees_the_name,
    send_receive_at_zero_send_references_keeps_the_receive_right,
    send_right_counts_up_to_urefs_max,
    send_right_beyond_urefs_max_gives_urefs_overflow_and_changes_nothing,
    send_right_below_zero_gives_invalid_value_and_changes_nothing,
    send_right_get_refs_of_other_rights_gives_zero,
    mod_refs_of_a_right_the_name_does_not_hold_gives_invalid_right,
    destroy_send_right_frees_the_name_and_leaves_the_port,
    send_once_right_takes_only_zero_and_minus_one,
    deallocate_send_once_right_destroys_it,
    destroy_send_once_right_frees_the_name_and_leaves_the_port,
    deallocate_send_receive_releases_a_send_reference_then_gives_invalid_right,
];

/// Space A holding a receive right; space B holding a send right to it
/// with `refs` user references under N1.
fn send_in_b(refs: u32) -> Result<(Pair, PortName), String> {
    let p = Pair::new()?;
    let port = p.a.new_receive()?;
    p.a.insert_right(p.tb, N1, port, MAKE_SEND).succeeds()?;
    if refs > 1 {
        p.b.mod_refs(TASK, N1, SEND, (refs - 1) as i32).succeeds()?;
    }
    p.b.expect_send(N1, refs)?;
    Ok((p, port))
}

fn send_right_user_references_follow_mod_refs_and_deallocate(_: &mut Ctx) -> TestResult {
    let (p, port) = send_in_b(1)?;
    let steps: [(i32, u32); 6] = [(5, 6), (-2, 4), (0, 4), (1, 5), (-4, 1), (0x100, 0x101)];
    for (delta, refs) in steps {
        p.b.mod_refs(TASK, N1, SEND, delta).succeeds()?;
        p.b.expect_send(N1, refs)?;
    }
    for refs in [0x100, 0xff] {
        p.b.deallocate(TASK, N1).succeeds()?;
        p.b.expect_send(N1, refs)?;
    }
    p.a.expect_receive(port)
}

fn send_right_at_zero_references_frees_the_name(_: &mut Ctx) -> TestResult {
    let (p, port) = send_in_b(3)?;
    p.b.mod_refs(TASK, N1, SEND, -3).succeeds()?;
    p.b.expect_unused(N1)?;
    p.b.expect_only_task_self_and(&[])?;
    // By deallocate, one at a time.
    p.a.insert_right(p.tb, N2, port, MAKE_SEND).succeeds()?;
    p.a.insert_right(p.tb, N2, port, MAKE_SEND).succeeds()?;
    p.b.deallocate(TASK, N2).succeeds()?;
    p.b.expect_send(N2, 1)?;
    p.b.deallocate(TASK, N2).succeeds()?;
    p.b.expect_unused(N2)?;
    p.b.deallocate(TASK, N2).gives(KERN_INVALID_NAME)?;
    // The port lives on; a new send right can go under the same name.
    p.a.expect_receive(port)?;
    p.a.insert_right(p.tb, N1, port, MAKE_SEND).succeeds()?;
    p.b.expect_send(N1, 1)
}

fn send_receive_at_zero_send_references_keeps_the_receive_right(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let port = s.new_send_receive(4)?;
    s.mod_refs(TASK, port, SEND, -2).succeeds()?;
    s.expect_send_receive(port, 2)?;
    s.mod_refs(TASK, port, SEND, -2).succeeds()?;
    s.expect_receive(port)?;
    // Without a send right, SEND is not held.
    s.mod_refs(TASK, port, SEND, 1).gives(KERN_INVALID_RIGHT)?;
    s.mod_refs(TASK, port, SEND, 0).gives(KERN_INVALID_RIGHT)?;
    s.expect_receive(port)?;
    s.insert_right(TASK, port, port, MAKE_SEND).succeeds()?;
    s.expect_send_receive(port, 1)
}

fn send_right_counts_up_to_urefs_max(_: &mut Ctx) -> TestResult {
    let (p, _port) = send_in_b(1)?;
    p.b.mod_refs(TASK, N1, SEND, (UREFS_MAX - 1) as i32)
        .succeeds()?;
    p.b.expect_send(N1, UREFS_MAX)?;
    // SEND|RECEIVE, step by step near the top.
    let sr = p.a.new_send_receive(UREFS_MAX - 10)?;
    for refs in (UREFS_MAX - 9)..=UREFS_MAX {
        p.a.mod_refs(TASK, sr, SEND, 1).succeeds()?;
        p.a.expect_send_receive(sr, refs)?;
    }
    // Down from the top to zero in one step.
    p.a.mod_refs(TASK, sr, SEND, -(UREFS_MAX as i32))
        .succeeds()?;
    p.a.expect_receive(sr)
}

fn send_right_beyond_urefs_max_gives_urefs_overflow_and_changes_nothing(_: &mut Ctx) -> TestResult {
    let (p, port) = send_in_b(UREFS_MAX)?;
    p.a.insert_right(p.tb, N2, p.a.new_receive()?, MAKE_SEND)
        .succeeds()?;
    let sr = p.a.new_send_receive(UREFS_MAX)?;
    let before = p.states()?;
    for delta in [1, 2, 0x1_0000, i32::MAX] {
        p.b.mod_refs(TASK, N1, SEND, delta)
            .gives(KERN_UREFS_OVERFLOW)?;
        p.b.mod_refs(TASK, N2, SEND, delta.saturating_add(UREFS_MAX as i32 - 1))
            .gives(KERN_UREFS_OVERFLOW)?;
        p.a.mod_refs(TASK, sr, SEND, delta)
            .gives(KERN_UREFS_OVERFLOW)?;
    }
    p.b.mod_refs(TASK, N2, SEND, UREFS_MAX as i32)
        .gives(KERN_UREFS_OVERFLOW)?;
    p.expect_states(&before, "mod_refs(SEND) past MACH_PORT_UREFS_MAX")?;
    p.b.expect_send(N1, UREFS_MAX)?;
    p.b.expect_send(N2, 1)?;
    p.a.expect_send_receive(sr, UREFS_MAX)?;
    p.a.expect_receive(port)
}

fn send_right_below_zero_gives_invalid_value_and_changes_nothing(_: &mut Ctx) -> TestResult {
    let (p, _port) = send_in_b(3)?;
    let sr = p.a.new_send_receive(1)?;
    let before = p.states()?;
    for delta in [-4, -0x1_0000, i32::MIN] {
        p.b.mod_refs(TASK, N1, SEND, delta)
            .gives(KERN_INVALID_VALUE)?;
    }
    for delta in [-2, i32::MIN] {
        p.a.mod_refs(TASK, sr, SEND, delta)
            .gives(KERN_INVALID_VALUE)?;
    }
    p.expect_states(&before, "mod_refs(SEND) below zero")?;
    p.b.expect_send(N1, 3)
}

fn send_right_get_refs_of_other_rights_gives_zero(_: &mut Ctx) -> TestResult {
    let (p, _port) = send_in_b(7)?;
    for (right, refs) in [
        (SEND, 7),
        (RECEIVE, 0),
        (SEND_ONCE, 0),
        (PORT_SET, 0),
        (DEAD_NAME, 0),
        (LABELH, 0),
    ] {
        p.b.get_refs(TASK, N1, right).returns(refs)?;
    }
    p.b.get_refs(TASK, N1, RIGHT_NUMBER)
        .gives(KERN_INVALID_VALUE)
}

fn mod_refs_of_a_right_the_name_does_not_hold_gives_invalid_right(_: &mut Ctx) -> TestResult {
    let (p, port) = send_in_b(2)?;
    p.a.insert_right(p.tb, N2, port, MAKE_SEND_ONCE)
        .succeeds()?;
    let before = p.b.state()?;
    for right in [RECEIVE, SEND_ONCE, PORT_SET, DEAD_NAME, LABELH] {
        for delta in [0, -1, 1] {
            p.b.mod_refs(TASK, N1, right, delta)
                .gives(KERN_INVALID_RIGHT)?;
        }
    }
    for right in [SEND, RECEIVE, PORT_SET, DEAD_NAME, LABELH] {
        for delta in [0, -1, 1] {
            p.b.mod_refs(TASK, N2, right, delta)
                .gives(KERN_INVALID_RIGHT)?;
        }
    }
    p.b.expect_state(&before, "mod_refs of rights not held")
}

fn destroy_send_right_frees_the_name_and_leaves_the_port(_: &mut Ctx) -> TestResult {
    let (p, port) = send_in_b(9)?;
    p.b.destroy(TASK, N1).succeeds()?;
    p.b.expect_unused(N1)?;
    p.b.expect_only_task_self_and(&[])?;
    p.a.expect_receive(port)?;
    p.a.insert_right(p.tb, N1, port, MAKE_SEND).succeeds()?;
    p.b.expect_send(N1, 1)
}

fn send_once_right_takes_only_zero_and_minus_one(_: &mut Ctx) -> TestResult {
    let p = Pair::new()?;
    let port = p.a.new_receive()?;
    p.a.insert_right(p.tb, N1, port, MAKE_SEND_ONCE)
        .succeeds()?;
    let before = p.b.state()?;
    p.b.mod_refs(TASK, N1, SEND_ONCE, 0).succeeds()?;
    for delta in [1, -2, 2, i32::MAX, i32::MIN] {
        p.b.mod_refs(TASK, N1, SEND_ONCE, delta)
            .gives(KERN_INVALID_VALUE)?;
    }
    p.b.expect_state(&before, "mod_refs(SEND_ONCE) with deltas other than -1")?;
    p.b.expect_send_once(N1)?;
    p.b.mod_refs(TASK, N1, SEND_ONCE, -1).succeeds()?;
    p.b.expect_unused(N1)?;
    p.a.expect_receive(port)
}

fn deallocate_send_once_right_destroys_it(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let port = s.new_receive()?;
    let so = s.new_send_once(port)?;
    let other = s.new_send_once(port)?;
    s.deallocate(TASK, so).succeeds()?;
    s.expect_unused(so)?;
    s.deallocate(TASK, so).gives(KERN_INVALID_NAME)?;
    s.expect_send_once(other)?;
    s.expect_only_task_self_and(&sorted(&[
        (port, PortType::RECEIVE),
        (other, PortType::SEND_ONCE),
    ]))
}

fn destroy_send_once_right_frees_the_name_and_leaves_the_port(_: &mut Ctx) -> TestResult {
    let p = Pair::new()?;
    let port = p.a.new_receive()?;
    p.a.insert_right(p.tb, N1, port, MAKE_SEND_ONCE)
        .succeeds()?;
    p.a.insert_right(p.tb, N2, port, MAKE_SEND).succeeds()?;
    p.b.destroy(TASK, N1).succeeds()?;
    p.b.expect_unused(N1)?;
    p.b.expect_send(N2, 1)?;
    p.a.expect_receive(port)
}

fn deallocate_send_receive_releases_a_send_reference_then_gives_invalid_right(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let port = s.new_send_receive(2)?;
    s.deallocate(TASK, port).succeeds()?;
    s.expect_send_receive(port, 1)?;
    s.deallocate(TASK, port).succeeds()?;
    s.expect_receive(port)?;
    s.deallocate(TASK, port).gives(KERN_INVALID_RIGHT)?;
    s.expect_receive(port)
}

/// `names` in ascending order, as `mach_port_names` gives them.
fn sorted(names: &[(PortName, PortType)]) -> Vec<(PortName, PortType)> {
    let mut v = names.to_vec();
    v.sort_by_key(|&(name, _)| name);
    v
}
