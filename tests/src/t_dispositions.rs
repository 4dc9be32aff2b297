//! mach_port_insert_right that succeeds: each of the six dispositions into
//! the caller's own space and into another space, with the types and
//! reference counts on both sides after every step.

use mach::{PortName, PortType};

use crate::check::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    insert_right_make_send_onto_receive_gives_send_receive,
    insert_right_make_send_again_adds_a_user_reference,
    insert_right_make_send_into_another_space_gives_a_send_right_to_the_port,
    insert_right_copy_send_leaves_the_source_unchanged,
    insert_right_copy_send_of_a_send_right_alone_passes_it_on,
    insert_right_copy_send_onto_the_receive_name_gives_send_receive,
    insert_right_copy_send_onto_its_own_name_adds_a_user_reference,
    insert_right_move_send_takes_one_user_reference,
    insert_right_move_send_of_the_last_reference_frees_the_name,
    insert_right_make_send_once_gives_a_new_send_once_right_each_time,
    insert_right_make_send_once_into_own_space_gives_send_once_rights,
    insert_right_move_send_once_moves_the_right,
    insert_right_move_receive_moves_the_port,
    insert_right_move_receive_of_send_receive_leaves_the_send_right,
    insert_right_move_receive_onto_a_send_right_to_the_same_port_gives_send_receive,
    insert_right_move_receive_within_own_space_renames_the_receive_right,
    insert_right_move_receive_back_and_forth_keeps_the_port_alive,
    insert_right_copy_send_of_task_self_gives_another_space_a_task_port,
];

fn insert_right_make_send_onto_receive_gives_send_receive(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let port = s.new_receive()?;
    s.insert_right(TASK, port, port, MAKE_SEND).succeeds()?;
    s.expect_send_receive(port, 1)?;
    s.expect_only_task_self_and(&[(port, PortType::SEND_RECEIVE)])
}

fn insert_right_make_send_again_adds_a_user_reference(_: &mut Ctx) -> TestResult {
    let p = Pair::new()?;
    let port = p.a.new_receive()?;
    for refs in 1..=5 {
        p.a.insert_right(TASK, port, port, MAKE_SEND).succeeds()?;
        p.a.expect_send_receive(port, refs)?;
        p.a.insert_right(p.tb, N1, port, MAKE_SEND).succeeds()?;
        p.b.expect_send(N1, refs)?;
    }
    p.b.expect_only_task_self_and(&[(N1, PortType::SEND)])
}

fn insert_right_make_send_into_another_space_gives_a_send_right_to_the_port(
    _: &mut Ctx,
) -> TestResult {
    let p = Pair::new()?;
    let port = p.a.new_receive()?;
    let a_before = p.a.state()?;
    p.a.insert_right(p.tb, N1, port, MAKE_SEND).succeeds()?;
    p.b.expect_send(N1, 1)?;
    p.b.expect_only_task_self_and(&[(N1, PortType::SEND)])?;
    p.a.expect_state(&a_before, "insert_right(MAKE_SEND) into B")?;
    // It is a send right to A's port: it dies with it.
    p.a.destroy(TASK, port).succeeds()?;
    p.b.expect_dead(N1, 1)
}

fn insert_right_copy_send_leaves_the_source_unchanged(_: &mut Ctx) -> TestResult {
    let p = Pair::new()?;
    let port = p.a.new_send_receive(2)?;
    let a_before = p.a.state()?;
    for refs in 1..=3 {
        p.a.insert_right(p.tb, N1, port, COPY_SEND).succeeds()?;
        p.b.expect_send(N1, refs)?;
        p.a.expect_state(&a_before, "insert_right(COPY_SEND) into B")?;
    }
    p.a.destroy(TASK, port).succeeds()?;
    p.b.expect_dead(N1, 3)
}

fn insert_right_copy_send_of_a_send_right_alone_passes_it_on(_: &mut Ctx) -> TestResult {
    // A's port; B holds a send right to it and copies it on to C.
    let p = Pair::new()?;
    let c = TestSpace::open_as("C")?;
    let tc = p.b.task_for(&c)?;
    let port = p.a.new_receive()?;
    p.a.insert_right(p.tb, N1, port, MAKE_SEND).succeeds()?;
    p.a.insert_right(p.tb, N1, port, MAKE_SEND).succeeds()?;
    let b_before = p.b.state()?;
    p.b.insert_right(tc, N2, N1, COPY_SEND).succeeds()?;
    p.b.insert_right(tc, N2, N1, COPY_SEND).succeeds()?;
    p.b.expect_state(&b_before, "insert_right(COPY_SEND) into C")?;
    c.expect_send(N2, 2)?;
    c.expect_only_task_self_and(&[(N2, PortType::SEND)])?;
    p.a.mod_refs(TASK, port, RECEIVE, -1).succeeds()?;
    p.b.expect_dead(N1, 2)?;
    c.expect_dead(N2, 2)
}

fn insert_right_copy_send_onto_the_receive_name_gives_send_receive(_: &mut Ctx) -> TestResult {
    // B holds the receive right; A's send right copied onto its name.
    let p = Pair::new()?;
    let port = p.a.new_send_receive(1)?;
    p.a.insert_right(p.tb, N1, port, MOVE_RECEIVE).succeeds()?;
    p.a.expect_send(port, 1)?;
    p.b.expect_receive(N1)?;
    p.a.insert_right(p.tb, N1, port, COPY_SEND).succeeds()?;
    p.b.expect_send_receive(N1, 1)?;
    p.a.expect_send(port, 1)?;
    p.a.insert_right(p.tb, N1, port, COPY_SEND).succeeds()?;
    p.b.expect_send_receive(N1, 2)
}

fn insert_right_move_send_takes_one_user_reference(_: &mut Ctx) -> TestResult {
    let p = Pair::new()?;
    let port = p.a.new_send_receive(3)?;
    for (a_refs, b_refs) in [(2, 1), (1, 2)] {
        p.a.insert_right(p.tb, N1, port, MOVE_SEND).succeeds()?;
        p.a.expect_send_receive(port, a_refs)?;
        p.b.expect_send(N1, b_refs)?;
    }
    // The last reference: A keeps the receive right alone.
    p.a.insert_right(p.tb, N1, port, MOVE_SEND).succeeds()?;
    p.a.expect_receive(port)?;
    p.b.expect_send(N1, 3)?;
    p.a.insert_right(p.tb, N1, port, MOVE_SEND)
        .gives(KERN_INVALID_RIGHT)?;
    p.b.expect_send(N1, 3)
}

fn insert_right_move_send_of_the_last_reference_frees_the_name(_: &mut Ctx) -> TestResult {
    // B holds a send right alone (3 references) and moves it to C.
    let p = Pair::new()?;
    let c = TestSpace::open_as("C")?;
    let tc = p.b.task_for(&c)?;
    let port = p.a.new_receive()?;
    for _ in 0..3 {
        p.a.insert_right(p.tb, N1, port, MAKE_SEND).succeeds()?;
    }
    for (b_refs, c_refs) in [(2, 1), (1, 2)] {
        p.b.insert_right(tc, N2, N1, MOVE_SEND).succeeds()?;
        p.b.expect_send(N1, b_refs)?;
        c.expect_send(N2, c_refs)?;
    }
    p.b.insert_right(tc, N2, N1, MOVE_SEND).succeeds()?;
    p.b.expect_unused(N1)?;
    c.expect_send(N2, 3)?;
    p.b.expect_only_task_self_and(&[(tc, PortType::SEND)])?;
    p.a.expect_receive(port)
}

fn insert_right_make_send_once_gives_a_new_send_once_right_each_time(_: &mut Ctx) -> TestResult {
    let p = Pair::new()?;
    let port = p.a.new_receive()?;
    let a_before = p.a.state()?;
    for name in [N1, N2, N3] {
        p.a.insert_right(p.tb, name, port, MAKE_SEND_ONCE)
            .succeeds()?;
        p.b.expect_send_once(name)?;
    }
    p.a.expect_state(&a_before, "insert_right(MAKE_SEND_ONCE) into B")?;
    p.b.expect_only_task_self_and(&[
        (N1, PortType::SEND_ONCE),
        (N2, PortType::SEND_ONCE),
        (N3, PortType::SEND_ONCE),
    ])?;
    // A send right to the same port beside them.
    p.a.insert_right(p.tb, N4, port, MAKE_SEND).succeeds()?;
    p.b.expect_send(N4, 1)?;
    // All of them name A's port.
    p.a.destroy(TASK, port).succeeds()?;
    for name in [N1, N2, N3] {
        p.b.expect_dead(name, 1)?;
    }
    p.b.expect_dead(N4, 1)
}

fn insert_right_make_send_once_into_own_space_gives_send_once_rights(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let port = s.new_send_receive(2)?;
    let once = [PortName(0x4d00_0103), PortName(0x4d00_0203)];
    for name in once {
        s.insert_right(TASK, name, port, MAKE_SEND_ONCE)
            .succeeds()?;
        s.expect_send_once(name)?;
    }
    s.expect_send_receive(port, 2)?;
    s.expect_only_task_self_and(&[
        (port, PortType::SEND_RECEIVE),
        (once[0], PortType::SEND_ONCE),
        (once[1], PortType::SEND_ONCE),
    ])?;
    // Each is a right of its own: one goes, the other stays.
    s.deallocate(TASK, once[0]).succeeds()?;
    s.expect_unused(once[0])?;
    s.expect_send_once(once[1])
}

fn insert_right_move_send_once_moves_the_right(_: &mut Ctx) -> TestResult {
    let p = Pair::new()?;
    let port = p.a.new_receive()?;
    let so = p.a.new_send_once(port)?;
    p.a.expect_send_once(so)?;
    p.a.insert_right(p.tb, N1, so, MOVE_SEND_ONCE).succeeds()?;
    p.a.expect_unused(so)?;
    p.b.expect_send_once(N1)?;
    // Within A's own space: a new name for it.
    let so = p.a.new_send_once(port)?;
    p.a.insert_right(TASK, N2, so, MOVE_SEND_ONCE).succeeds()?;
    p.a.expect_unused(so)?;
    p.a.expect_send_once(N2)?;
    p.a.expect_only_task_self_and(&[
        (p.tb, PortType::SEND),
        (port, PortType::RECEIVE),
        (N2, PortType::SEND_ONCE),
    ])?;
    // From B on to A's own space: B's name is freed.
    let ta = p.b.task_for(&p.a)?;
    p.b.insert_right(ta, N3, N1, MOVE_SEND_ONCE).succeeds()?;
    p.b.expect_unused(N1)?;
    p.a.expect_send_once(N3)
}

fn insert_right_move_receive_moves_the_port(_: &mut Ctx) -> TestResult {
    let p = Pair::new()?;
    let c = TestSpace::open_as("C")?;
    let tc = p.a.task_for(&c)?;
    let port = p.a.new_receive()?;
    // C holds a send right to the port before it moves.
    p.a.insert_right(tc, N2, port, MAKE_SEND).succeeds()?;
    p.a.insert_right(p.tb, N1, port, MOVE_RECEIVE).succeeds()?;
    p.a.expect_unused(port)?;
    p.b.expect_receive(N1)?;
    p.b.expect_only_task_self_and(&[(N1, PortType::RECEIVE)])?;
    // B holds the receive right now: it can make send rights, A cannot.
    p.a.insert_right(tc, N2, port, MAKE_SEND)
        .gives(KERN_INVALID_NAME)?;
    p.b.insert_right(TASK, N1, N1, MAKE_SEND).succeeds()?;
    p.b.expect_send_receive(N1, 1)?;
    c.expect_send(N2, 1)?;
    // It is still the same port: C's send right dies when B destroys it.
    p.b.mod_refs(TASK, N1, RECEIVE, -1).succeeds()?;
    p.b.expect_dead(N1, 1)?;
    c.expect_dead(N2, 1)
}

fn insert_right_move_receive_of_send_receive_leaves_the_send_right(_: &mut Ctx) -> TestResult {
    let p = Pair::new()?;
    let port = p.a.new_send_receive(2)?;
    p.a.insert_right(p.tb, N1, port, MOVE_RECEIVE).succeeds()?;
    p.a.expect_send(port, 2)?;
    p.b.expect_receive(N1)?;
    // A's send right is now to a port B holds.
    p.a.insert_right(TASK, port, port, MAKE_SEND)
        .gives(KERN_INVALID_RIGHT)?;
    p.b.destroy(TASK, N1).succeeds()?;
    p.a.expect_dead(port, 2)
}

fn insert_right_move_receive_onto_a_send_right_to_the_same_port_gives_send_receive(
    _: &mut Ctx,
) -> TestResult {
    let p = Pair::new()?;
    let port = p.a.new_receive()?;
    for _ in 0..3 {
        p.a.insert_right(p.tb, N1, port, MAKE_SEND).succeeds()?;
    }
    p.b.expect_send(N1, 3)?;
    p.a.insert_right(p.tb, N1, port, MOVE_RECEIVE).succeeds()?;
    p.b.expect_send_receive(N1, 3)?;
    p.a.expect_unused(port)?;
    p.b.expect_only_task_self_and(&[(N1, PortType::SEND_RECEIVE)])?;
    // And back to A, where A has no name for it: a receive right alone in
    // A, B's name keeps the send right.
    let ta = p.b.task_for(&p.a)?;
    p.b.insert_right(ta, N2, N1, MOVE_RECEIVE).succeeds()?;
    p.b.expect_send(N1, 3)?;
    p.a.expect_receive(N2)
}

fn insert_right_move_receive_within_own_space_renames_the_receive_right(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let port = s.new_receive()?;
    s.insert_right(TASK, N1, port, MOVE_RECEIVE).succeeds()?;
    s.expect_unused(port)?;
    s.expect_receive(N1)?;
    // Onto its own name: nothing changes.
    s.insert_right(TASK, N1, N1, MOVE_RECEIVE).succeeds()?;
    s.expect_receive(N1)?;
    let sr = s.new_send_receive(2)?;
    s.insert_right(TASK, sr, sr, MOVE_RECEIVE).succeeds()?;
    s.expect_send_receive(sr, 2)?;
    s.expect_only_task_self_and(&[(N1, PortType::RECEIVE), (sr, PortType::SEND_RECEIVE)])
}

fn insert_right_move_receive_back_and_forth_keeps_the_port_alive(_: &mut Ctx) -> TestResult {
    let p = Pair::new()?;
    let ta = p.b.task_for(&p.a)?;
    let c = TestSpace::open_as("C")?;
    let tc = p.a.task_for(&c)?;
    let port = p.a.new_receive()?;
    p.a.insert_right(tc, N4, port, MAKE_SEND).succeeds()?;
    let mut a_name = port;
    for round in 0..4u32 {
        let b_name = PortName(N1.0 + (round << 16));
        p.a.insert_right(p.tb, b_name, a_name, MOVE_RECEIVE)
            .succeeds()?;
        p.a.expect_unused(a_name)?;
        p.b.expect_receive(b_name)?;
        a_name = PortName(N2.0 + (round << 16));
        p.b.insert_right(ta, a_name, b_name, MOVE_RECEIVE)
            .succeeds()?;
        p.b.expect_unused(b_name)?;
        p.a.expect_receive(a_name)?;
        c.expect_send(N4, 1)?;
    }
    p.a.destroy(TASK, a_name).succeeds()?;
    c.expect_dead(N4, 1)
}

fn insert_right_copy_send_of_task_self_gives_another_space_a_task_port(_: &mut Ctx) -> TestResult {
    let p = Pair::new()?;
    p.a.insert_right(p.tb, N1, TASK, COPY_SEND).succeeds()?;
    p.a.expect_send(TASK, 1)?;
    p.b.expect_send(N1, 1)?;
    // B's N1 is A's task: B acts on A's space through it.
    let port = p.b.allocate(N1, RECEIVE).succeeds()?;
    p.a.expect_receive(port)?;
    p.b.port_type(N1, port).returns(PortType::RECEIVE)?;
    // B's send right to A's task port, copied back into A: A holds that
    // port under its task-self name, so only that name takes it.
    p.b.insert_right(N1, N2, N1, COPY_SEND)
        .gives(KERN_RIGHT_EXISTS)?;
    p.b.insert_right(N1, TASK, N1, COPY_SEND).succeeds()?;
    p.a.expect_send(TASK, 2)?;
    p.b.expect_send(N1, 1)?;
    p.a.expect_only_task_self_and_refs(2, &[(p.tb, PortType::SEND), (port, PortType::RECEIVE)])
}

fn insert_right_copy_send_onto_its_own_name_adds_a_user_reference(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let port = s.new_send_receive(1)?;
    for refs in 2..=4 {
        s.insert_right(TASK, port, port, COPY_SEND).succeeds()?;
        s.expect_send_receive(port, refs)?;
        s.insert_right(TASK, TASK, TASK, COPY_SEND).succeeds()?;
        s.expect_send(TASK, refs)?;
    }
    Ok(())
}
