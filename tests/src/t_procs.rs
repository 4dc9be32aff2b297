//! Two processes exchanging rights through task ports.
//!
//! The pattern: the parent opens a space X and forks; the child uses X as
//! its own space. The parent gets a task name for X with task_for_fd and
//! closes its copy of X, so X lives exactly as long as the child. They
//! take turns through a channel (`proc::Peer`).

use std::os::fd::AsFd;

use mach::{PortName, PortType};

use crate::check::*;
use crate::proc::{self, Peer};
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    child_destroys_its_port_and_the_parent_sees_a_dead_name_with_its_references,
    killing_a_child_turns_its_ports_and_its_task_name_into_dead_names,
    receive_right_moved_into_a_child_is_received_there,
    child_reaches_the_parent_space_through_a_task_port_from_the_parent,
    killing_a_child_holding_rights_to_parent_ports_leaves_the_parent_space_intact,
    dev_mach_descriptor_passed_over_a_unix_socket_names_the_same_space,
];

/// Waits for "exit" (or the parent going away), keeping the child's space
/// open until then.
fn until_exit(peer: &mut Peer) -> TestResult {
    let _ = peer.recv();
    Ok(())
}

fn child_destroys_its_port_and_the_parent_sees_a_dead_name_with_its_references(
    _: &mut Ctx,
) -> TestResult {
    let x = TestSpace::open_as("X (the child's space)")?;
    let mut child = proc::spawn(&[], |peer| {
        let port = x.new_receive()?;
        peer.send_name("port", port)?;
        peer.expect("destroy")?;
        x.destroy(TASK, port).succeeds()?;
        x.expect_only_task_self()?;
        peer.send("destroyed")?;
        until_exit(peer)
    })?;
    let a = TestSpace::open_as("A (the parent's space)")?;
    let tx = a.task_for(&x)?;
    drop(x);
    let port = child.peer.recv_name("port")?;
    a.port_type(tx, port).returns(PortType::RECEIVE)?;
    let send = a.extract_right(tx, port, MAKE_SEND).succeeds()?;
    expect_eq("extract_right(MAKE_SEND) polyPoly", PORT_SEND, send.ty)?;
    for _ in 0..2 {
        a.extract_right(tx, port, MAKE_SEND).returns(send)?;
    }
    let so = a.extract_right(tx, port, MAKE_SEND_ONCE).succeeds()?.name;
    a.expect_send(send.name, 3)?;
    child.peer.send("destroy")?;
    child.peer.expect("destroyed")?;
    a.expect_dead(send.name, 3)?;
    a.expect_dead(so, 1)?;
    // X lives on with the child.
    a.port_type(tx, TASK).returns(PortType::SEND)?;
    child.peer.send("exit")?;
    child.wait()?;
    // The child exited: X is closed and its task port dead.
    a.expect_dead(tx, 1)?;
    a.port_type(tx, TASK).gives(KERN_INVALID_TASK)?;
    let mut want = vec![
        (tx, PortType::DEAD_NAME),
        (send.name, PortType::DEAD_NAME),
        (so, PortType::DEAD_NAME),
    ];
    want.sort_by_key(|&(name, _)| name);
    a.expect_only_task_self_and(&want)
}

fn killing_a_child_turns_its_ports_and_its_task_name_into_dead_names(_: &mut Ctx) -> TestResult {
    let x = TestSpace::open_as("X (the child's space)")?;
    let mut child = proc::spawn(&[], |peer| {
        let alone = x.new_receive()?;
        let both = x.new_send_receive(2)?;
        peer.send_name("alone", alone)?;
        peer.send_name("both", both)?;
        until_exit(peer)
    })?;
    let a = TestSpace::open_as("A (the parent's space)")?;
    let tx = a.task_for(&x)?;
    a.task_for(&x)?;
    drop(x);
    let alone = child.peer.recv_name("alone")?;
    let both = child.peer.recv_name("both")?;
    let s1 = a.extract_right(tx, alone, MAKE_SEND).succeeds()?.name;
    a.extract_right(tx, alone, MAKE_SEND).succeeds()?;
    let so = a.extract_right(tx, alone, MAKE_SEND_ONCE).succeeds()?.name;
    let s2 = a.extract_right(tx, both, COPY_SEND).succeeds()?.name;
    // A port of the parent's, with a send right in X: it stays alive.
    let own = a.new_receive()?;
    a.insert_right(tx, N1, own, MAKE_SEND).succeeds()?;
    let a_want = a.state()?.with_dead(&[tx, s1, so, s2])?;
    a.expect_send(s1, 2)?;
    child.kill()?;
    a.expect_state_is(&a_want, "SIGKILL of the child")?;
    a.expect_dead(tx, 2)?;
    a.expect_dead(s1, 2)?;
    a.expect_dead(so, 1)?;
    a.expect_dead(s2, 1)?;
    a.expect_receive(own)?;
    // The dead task name as a task.
    a.port_type(tx, alone).gives(KERN_INVALID_TASK)?;
    a.names(tx).gives(KERN_INVALID_TASK)?;
    a.extract_right(tx, alone, MAKE_SEND)
        .gives(KERN_INVALID_TASK)?;
    a.insert_right(tx, N2, own, MOVE_RECEIVE)
        .gives(KERN_INVALID_TASK)?;
    a.allocate(tx, RECEIVE).gives(KERN_INVALID_TASK)?;
    a.expect_state_is(&a_want, "calls with the dead task name")
}

fn receive_right_moved_into_a_child_is_received_there(_: &mut Ctx) -> TestResult {
    let x = TestSpace::open_as("X (the child's space)")?;
    let mut child = proc::spawn(&[], |peer| {
        let name = peer.recv_name("moved")?;
        x.expect_receive(name)?;
        // It is the child's to use.
        x.insert_right(TASK, name, name, MAKE_SEND).succeeds()?;
        x.expect_send_receive(name, 1)?;
        peer.send("received")?;
        peer.expect("destroy")?;
        x.mod_refs(TASK, name, RECEIVE, -1).succeeds()?;
        x.expect_dead(name, 1)?;
        peer.send("destroyed")?;
        until_exit(peer)
    })?;
    let a = TestSpace::open_as("A (the parent's space)")?;
    let tx = a.task_for(&x)?;
    drop(x);
    let port = a.new_send_receive(2)?;
    let so = a.new_send_once(port)?;
    a.insert_right(tx, N1, port, MOVE_RECEIVE).succeeds()?;
    a.expect_send(port, 2)?;
    child.peer.send_name("moved", N1)?;
    child.peer.expect("received")?;
    a.get_refs(tx, N1, SEND).returns(1)?;
    // The parent cannot take back what it gave.
    a.insert_right(tx, N2, port, MOVE_RECEIVE)
        .gives(KERN_INVALID_RIGHT)?;
    child.peer.send("destroy")?;
    child.peer.expect("destroyed")?;
    a.expect_dead(port, 2)?;
    a.expect_dead(so, 1)?;
    child.peer.send("exit")?;
    child.wait()
}

fn child_reaches_the_parent_space_through_a_task_port_from_the_parent(_: &mut Ctx) -> TestResult {
    let x = TestSpace::open_as("X (the child's space)")?;
    let mut child = proc::spawn(&[], |peer| {
        // X's name for the parent's task port.
        let ta = peer.recv_name("task")?;
        x.expect_send(ta, 1)?;
        // A port in the parent's space, with a send right to it here.
        let q = x.allocate(ta, RECEIVE).succeeds()?;
        x.extract_right(ta, q, MAKE_SEND).succeeds()?;
        // A port here, with a send right to it there.
        let r = x.new_receive()?;
        x.insert_right(ta, N2, r, MAKE_SEND).succeeds()?;
        x.insert_right(ta, N3, r, MAKE_SEND_ONCE).succeeds()?;
        peer.send_name("port", q)?;
        until_exit(peer)
    })?;
    let a = TestSpace::open_as("A (the parent's space)")?;
    let tx = a.task_for(&x)?;
    drop(x);
    a.insert_right(tx, N1, TASK, COPY_SEND).succeeds()?;
    a.expect_send(TASK, 1)?;
    child.peer.send_name("task", N1)?;
    let q = child.peer.recv_name("port")?;
    a.expect_receive(q)?;
    a.expect_send(N2, 1)?;
    a.expect_send_once(N3)?;
    let mut want = vec![
        (tx, PortType::SEND),
        (q, PortType::RECEIVE),
        (N2, PortType::SEND),
        (N3, PortType::SEND_ONCE),
    ];
    want.sort_by_key(|&(name, _)| name);
    a.expect_only_task_self_and(&want)?;
    child.peer.send("exit")?;
    child.wait()?;
    // The child's port died with X; the parent's port lives.
    a.expect_dead(N2, 1)?;
    a.expect_dead(N3, 1)?;
    a.expect_dead(tx, 1)?;
    a.expect_receive(q)?;
    a.expect_send(TASK, 1)
}

fn killing_a_child_holding_rights_to_parent_ports_leaves_the_parent_space_intact(
    _: &mut Ctx,
) -> TestResult {
    let x = TestSpace::open_as("X (the child's space)")?;
    let mut child = proc::spawn(&[], |peer| {
        peer.send("ready")?;
        until_exit(peer)
    })?;
    let a = TestSpace::open_as("A (the parent's space)")?;
    let b = TestSpace::open_as("B")?;
    let tx = a.task_for(&x)?;
    let tb = a.task_for(&b)?;
    drop(x);
    child.peer.expect("ready")?;
    // A's ports, with rights in X and in B.
    let q = a.new_send_receive(3)?;
    let set = a.new_port_set()?;
    let dead = a.new_dead_name(2)?;
    for _ in 0..5 {
        a.insert_right(tx, N1, q, MAKE_SEND).succeeds()?;
    }
    a.insert_right(tx, N2, q, MAKE_SEND_ONCE).succeeds()?;
    a.insert_right(tx, N1, q, MOVE_SEND).succeeds()?;
    a.insert_right(tx, N4, TASK, COPY_SEND).succeeds()?;
    a.insert_right(tb, N1, q, MAKE_SEND).succeeds()?;
    // A receive right moved into X: A's send right to it will die.
    let moved = a.new_send_receive(2)?;
    a.insert_right(tx, PortName(0x4d4f_5603), moved, MOVE_RECEIVE)
        .succeeds()?;
    a.insert_right(tb, N2, moved, COPY_SEND).succeeds()?;
    a.expect_send_receive(q, 2)?;
    let a_want = a.state()?.with_dead(&[tx, moved])?;
    let b_want = b.state()?.with_dead(&[N2])?;
    child.kill()?;
    a.expect_state_is(&a_want, "SIGKILL of the child holding rights to A's ports")?;
    b.expect_state_is(&b_want, "SIGKILL of the child holding rights to A's ports")?;
    a.expect_send_receive(q, 2)?;
    a.expect_entry(set, PortType::PORT_SET, 0)?;
    a.expect_dead(dead, 2)?;
    a.expect_dead(moved, 2)?;
    b.expect_send(N1, 1)?;
    // A's port still works.
    a.insert_right(tb, N3, q, MAKE_SEND_ONCE).succeeds()?;
    b.expect_send_once(N3)
}

fn dev_mach_descriptor_passed_over_a_unix_socket_names_the_same_space(_: &mut Ctx) -> TestResult {
    let mut child = proc::spawn(&[], |peer| {
        // Y is opened by the child alone.
        let y = TestSpace::open_as("Y (opened by the child)")?;
        let port = y.new_receive()?;
        peer.send_fd("space", y.as_fd())?;
        peer.send_name("port", port)?;
        peer.expect("check")?;
        y.expect_send(N1, 1)?;
        y.expect_receive(port)?;
        peer.send("checked")?;
        until_exit(peer)
    })?;
    let a = TestSpace::open_as("A (the parent's space)")?;
    child.peer.expect("space")?;
    let fd = child.peer.take_fd()?;
    let port = child.peer.recv_name("port")?;
    let ty = a.task_for_fd(fd.as_fd()).succeeds()?;
    a.expect_send(ty, 1)?;
    a.task_for_fd(fd.as_fd()).returns(ty)?;
    a.expect_send(ty, 2)?;
    a.port_type(ty, port).returns(PortType::RECEIVE)?;
    // The received descriptor is Y itself: its own task_for_fd is its
    // task-self name.
    let y = TestSpace::from_fd(fd, "Y (received)");
    y.task_for_fd(y.as_fd()).returns(TASK)?;
    y.mod_refs(TASK, TASK, SEND, -1).succeeds()?;
    y.expect_receive(port)?;
    let q = a.new_receive()?;
    a.insert_right(ty, N1, q, MAKE_SEND).succeeds()?;
    y.expect_send(N1, 1)?;
    child.peer.send("check")?;
    child.peer.expect("checked")?;
    // The parent's copy closed, Y lives on in the child.
    drop(y);
    a.port_type(ty, port).returns(PortType::RECEIVE)?;
    child.peer.send("exit")?;
    child.wait()?;
    a.expect_dead(ty, 2)?;
    a.port_type(ty, port).gives(KERN_INVALID_TASK)?;
    a.expect_receive(q)
}
