//! task_for_fd (an extension): a send right to the task port of the space
//! behind another /dev/mach descriptor; that name as a task for every call;
//! and the task port's death when its space closes (docs/calls.md,
//! "task_for_fd").

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, IntoRawFd};

use mach::PortType;

use crate::check::*;
use crate::proc;
use crate::t_task::{every_call_gives_invalid_task, Victims};
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    task_for_fd_on_own_fd_gives_task_self_with_one_more_reference,
    task_for_fd_on_another_space_gives_a_send_right_to_its_task_port,
    task_for_fd_again_adds_a_reference_to_the_same_name,
    task_for_fd_merges_with_a_task_port_received_otherwise,
    task_name_for_another_space_works_as_its_task_for_every_call,
    task_names_in_both_directions_are_independent,
    task_port_outlives_the_task_self_name_of_its_space,
    task_for_fd_on_own_fd_after_task_self_is_gone_gives_a_working_task_name,
    task_name_for_a_closed_space_is_a_dead_name_and_gives_invalid_task,
    task_for_fd_on_a_closed_fd_gives_ebadf,
    task_for_fd_on_a_file_that_is_not_dev_mach_gives_invalid_argument,
];

fn task_for_fd_on_own_fd_gives_task_self_with_one_more_reference(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    s.task_for_fd(s.as_fd()).returns(TASK)?;
    s.expect_send(TASK, 2)?;
    s.task_for_fd(s.as_fd()).returns(TASK)?;
    s.expect_send(TASK, 3)?;
    // A duplicate of the descriptor is the same space.
    let dup = s
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| format!("dup: {e}"))?;
    s.task_for_fd(dup.as_fd()).returns(TASK)?;
    s.expect_only_task_self_and_refs(4, &[])
}

fn task_for_fd_on_another_space_gives_a_send_right_to_its_task_port(_: &mut Ctx) -> TestResult {
    let a = TestSpace::open_as("A")?;
    let b = TestSpace::open_as("B")?;
    let b_before = b.state()?;
    let tb = a.task_for_fd(b.as_fd()).succeeds()?;
    ensure(tb.is_valid() && tb != TASK, || {
        format!("task_for_fd gave {tb:?}, expected a new name")
    })?;
    a.expect_send(tb, 1)?;
    a.expect_only_task_self_and(&[(tb, PortType::SEND)])?;
    b.expect_state(&b_before, "task_for_fd on B's descriptor in A")
}

fn task_for_fd_again_adds_a_reference_to_the_same_name(_: &mut Ctx) -> TestResult {
    let p = Pair::new()?;
    for refs in 2..=4 {
        p.a.task_for_fd(p.b.as_fd()).returns(p.tb)?;
        p.a.expect_send(p.tb, refs)?;
    }
    // A third space is another task port.
    let c = TestSpace::open_as("C")?;
    let tc = p.a.task_for(&c)?;
    ensure(tc != p.tb && tc != TASK, || {
        format!("C's task name {tc:?} is B's or A's own")
    })?;
    p.a.expect_send(tc, 1)
}

fn task_for_fd_merges_with_a_task_port_received_otherwise(_: &mut Ctx) -> TestResult {
    let a = TestSpace::open_as("A")?;
    let b = TestSpace::open_as("B")?;
    // B gives A a send right to B's task port under N1.
    let ta = b.task_for(&a)?;
    b.insert_right(ta, N1, TASK, COPY_SEND).succeeds()?;
    a.expect_send(N1, 1)?;
    a.task_for_fd(b.as_fd()).returns(N1)?;
    a.expect_send(N1, 2)?;
    a.expect_only_task_self_and(&[(N1, PortType::SEND)])
}

fn task_name_for_another_space_works_as_its_task_for_every_call(_: &mut Ctx) -> TestResult {
    let p = Pair::new()?;
    let (a, b, tb) = (&p.a, &p.b, p.tb);
    let a_before = a.state()?;
    let port = a.allocate(tb, RECEIVE).succeeds()?;
    b.expect_receive(port)?;
    a.allocate_name(tb, PORT_SET, N1).succeeds()?;
    b.expect_entry(N1, PortType::PORT_SET, 0)?;
    a.allocate_name(tb, DEAD_NAME, N2).succeeds()?;
    a.port_type(tb, port).returns(PortType::RECEIVE)?;
    a.port_type(tb, N2).returns(PortType::DEAD_NAME)?;
    a.names(tb).returns(b.names(TASK).succeeds()?)?;
    a.mod_refs(tb, N2, DEAD_NAME, 4).succeeds()?;
    a.get_refs(tb, N2, DEAD_NAME).returns(5)?;
    b.expect_dead(N2, 5)?;
    a.deallocate(tb, N2).succeeds()?;
    b.expect_dead(N2, 4)?;
    a.destroy(tb, N2).succeeds()?;
    b.expect_unused(N2)?;
    a.deallocate(tb, N1).succeeds()?;
    b.expect_unused(N1)?;
    // insert_right and extract_right: `poly` is always A's, `name` B's.
    a.insert_right(tb, port, TASK, COPY_SEND)
        .gives(KERN_NAME_EXISTS)?;
    let b_send = a.extract_right(tb, port, MAKE_SEND).succeeds()?;
    expect_eq("extract_right(MAKE_SEND) polyPoly", PORT_SEND, b_send.ty)?;
    a.expect_send(b_send.name, 1)?;
    a.insert_right(tb, port, b_send.name, COPY_SEND)
        .succeeds()?;
    b.expect_send_receive(port, 1)?;
    a.mod_refs(tb, port, RECEIVE, -1).succeeds()?;
    b.expect_dead(port, 1)?;
    a.expect_dead(b_send.name, 1)?;
    a.destroy(TASK, b_send.name).succeeds()?;
    a.expect_state(&a_before, "calls on B through A's task name for it")?;
    b.expect_only_task_self_and(&[(port, PortType::DEAD_NAME)])
}

fn task_names_in_both_directions_are_independent(_: &mut Ctx) -> TestResult {
    let a = TestSpace::open_as("A")?;
    let b = TestSpace::open_as("B")?;
    let tb = a.task_for(&b)?;
    let ta = b.task_for(&a)?;
    a.expect_only_task_self_and(&[(tb, PortType::SEND)])?;
    b.expect_only_task_self_and(&[(ta, PortType::SEND)])?;
    // Through B's name for A, B sees A's names; through A's, A sees B's.
    b.names(ta).returns(a.names(TASK).succeeds()?)?;
    a.names(tb).returns(b.names(TASK).succeeds()?)?;
    // Releasing one leaves the other.
    a.deallocate(TASK, tb).succeeds()?;
    a.expect_only_task_self()?;
    b.port_type(ta, TASK).returns(PortType::SEND)?;
    b.expect_send(ta, 1)
}

fn task_port_outlives_the_task_self_name_of_its_space(_: &mut Ctx) -> TestResult {
    let p = Pair::new()?;
    let port = p.b.new_receive()?;
    p.b.deallocate(TASK, TASK).succeeds()?;
    p.b.port_type(TASK, port).gives(KERN_INVALID_TASK)?;
    // The space is open, so its task port lives.
    p.a.expect_send(p.tb, 1)?;
    p.a.port_type(p.tb, port).returns(PortType::RECEIVE)?;
    p.a.names(p.tb).returns(vec![(port, PortType::RECEIVE)])?;
    // B's task-self name given back through A.
    p.a.insert_right(p.tb, TASK, p.tb, COPY_SEND).succeeds()?;
    p.b.expect_send(TASK, 1)?;
    p.b.expect_receive(port)
}

fn task_for_fd_on_own_fd_after_task_self_is_gone_gives_a_working_task_name(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let port = s.new_receive()?;
    s.destroy(TASK, TASK).succeeds()?;
    let task = s.task_for_fd(s.as_fd()).succeeds()?;
    ensure(task.is_valid(), || format!("task_for_fd gave {task:?}"))?;
    s.port_type(task, task).returns(PortType::SEND)?;
    s.get_refs(task, task, SEND).returns(1)?;
    s.port_type(task, port).returns(PortType::RECEIVE)?;
    let mut want = vec![(task, PortType::SEND), (port, PortType::RECEIVE)];
    want.sort_by_key(|&(name, _)| name);
    s.names(task).returns(want)
}

fn task_name_for_a_closed_space_is_a_dead_name_and_gives_invalid_task(_: &mut Ctx) -> TestResult {
    let a = TestSpace::open_as("A")?;
    let victims = Victims::new(&a)?;
    let tb = {
        let b = TestSpace::open_as("B")?;
        let tb = a.task_for(&b)?;
        a.task_for(&b)?;
        b.new_receive()?;
        tb
    };
    a.expect_dead(tb, 2)?;
    let before = a.state()?;
    every_call_gives_invalid_task(&a, tb, &victims)?;
    a.expect_state(
        &before,
        &format!("every call with the dead task name {tb:?}"),
    )?;
    // A dead name like any other.
    a.deallocate(TASK, tb).succeeds()?;
    a.expect_dead(tb, 1)?;
    a.mod_refs(TASK, tb, DEAD_NAME, -1).succeeds()?;
    a.expect_unused(tb)
}

fn task_for_fd_on_a_closed_fd_gives_ebadf(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let port = s.new_receive()?;
    let before = s.state()?;
    // A descriptor number that was just closed.
    let closed = {
        let file = File::open("/dev/null").map_err(|e| format!("open /dev/null: {e}"))?;
        file.into_raw_fd()
    };
    // SAFETY: `closed` came from into_raw_fd and is owned by nothing else.
    unsafe { libc::close(closed) };
    let closed_mach = {
        let other = TestSpace::open()?;
        other.as_raw_fd()
    };
    for fd in [closed, closed_mach, -1, i32::MIN, 1_000_000] {
        s.task_for_raw_fd(fd).errno(libc::EBADF)?;
    }
    s.expect_state(&before, "task_for_fd on closed descriptors")?;
    s.expect_receive(port)
}

fn task_for_fd_on_a_file_that_is_not_dev_mach_gives_invalid_argument(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let before = s.state()?;
    let (read_end, write_end) = proc::pipe()?;
    let null = File::open("/dev/null").map_err(|e| format!("open /dev/null: {e}"))?;
    let proc_self =
        File::open("/proc/self/stat").map_err(|e| format!("open /proc/self/stat: {e}"))?;
    for fd in [
        read_end.as_fd(),
        write_end.as_fd(),
        null.as_fd(),
        proc_self.as_fd(),
    ] {
        s.task_for_fd(fd).gives(KERN_INVALID_ARGUMENT)?;
    }
    s.expect_state(&before, "task_for_fd on descriptors that are not /dev/mach")
}
