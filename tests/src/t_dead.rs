//! Dead names: when a port's receive right is destroyed (mach_port_destroy,
//! mod_refs(RECEIVE, -1), its space closing, its holder killed), every send
//! and send-once right to it in every space becomes a dead name; a send
//! right keeps its user references, a send-once right has one. Every call
//! sees the change (docs/calls.md, "Rights, their counts and dead names").

use std::os::fd::AsRawFd;

use mach::{PortName, PortType};

use crate::check::*;
use crate::proc;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    destroy_of_a_receive_right_turns_rights_to_its_port_into_dead_names,
    mod_refs_receive_minus_one_turns_rights_to_its_port_into_dead_names,
    closing_the_space_holding_the_receive_right_turns_rights_to_its_port_into_dead_names,
    killing_the_process_holding_the_receive_right_turns_rights_to_its_port_into_dead_names,
    send_receive_name_becomes_a_dead_name_with_its_send_references,
    destroy_of_send_receive_frees_the_name_and_kills_the_port,
    every_call_sees_a_send_right_whose_port_died,
    every_call_sees_a_send_once_right_whose_port_died,
    dead_names_of_a_dead_port_work_with_mod_refs_deallocate_and_destroy,
    dead_name_of_a_full_send_right_keeps_urefs_max,
    rights_to_other_ports_are_untouched_by_a_ports_death,
];

/// Spaces B and C holding rights to `port`, a receive right of space H:
/// B a send right with 3 user references under N1 and send-once rights
/// under N2 and N3, C a send right with 1 under N1 and a send-once right
/// under N2. Each also holds rights of its own that must not change.
struct Watchers {
    b: TestSpace,
    c: TestSpace,
    /// What B and C must look like once the port is dead.
    b_dead: State,
    c_dead: State,
}

impl Watchers {
    fn new(h: &TestSpace, port: PortName) -> Result<Watchers, String> {
        let b = TestSpace::open_as("B")?;
        let c = TestSpace::open_as("C")?;
        let tb = h.task_for(&b)?;
        let tc = h.task_for(&c)?;
        for _ in 0..3 {
            h.insert_right(tb, N1, port, MAKE_SEND).succeeds()?;
        }
        h.insert_right(tb, N2, port, MAKE_SEND_ONCE).succeeds()?;
        h.insert_right(tb, N3, port, MAKE_SEND_ONCE).succeeds()?;
        h.insert_right(tc, N1, port, MAKE_SEND).succeeds()?;
        h.insert_right(tc, N2, port, MAKE_SEND_ONCE).succeeds()?;
        for s in [&b, &c] {
            let own = s.new_send_receive(2)?;
            s.insert_right(TASK, N4, own, MAKE_SEND_ONCE).succeeds()?;
            s.new_port_set()?;
            s.new_dead_name(5)?;
        }
        b.expect_send(N1, 3)?;
        b.expect_send_once(N2)?;
        c.expect_send(N1, 1)?;
        let b_dead = b.state()?.with_dead(&[N1, N2, N3])?;
        let c_dead = c.state()?.with_dead(&[N1, N2])?;
        Ok(Watchers {
            b,
            c,
            b_dead,
            c_dead,
        })
    }

    /// B and C hold dead names where they held rights to the port, and
    /// nothing else changed.
    fn expect_dead(&self, how: &str) -> TestResult {
        self.b.expect_state_is(&self.b_dead, how)?;
        self.c.expect_state_is(&self.c_dead, how)?;
        self.b.expect_dead(N1, 3)?;
        self.b.expect_dead(N2, 1)?;
        self.b.expect_dead(N3, 1)?;
        self.c.expect_dead(N1, 1)?;
        self.c.expect_dead(N2, 1)
    }
}

fn destroy_of_a_receive_right_turns_rights_to_its_port_into_dead_names(_: &mut Ctx) -> TestResult {
    let h = TestSpace::open_as("H")?;
    let port = h.new_receive()?;
    let w = Watchers::new(&h, port)?;
    h.destroy(TASK, port).succeeds()?;
    h.expect_unused(port)?;
    w.expect_dead("mach_port_destroy of the receive right")
}

fn mod_refs_receive_minus_one_turns_rights_to_its_port_into_dead_names(_: &mut Ctx) -> TestResult {
    let h = TestSpace::open_as("H")?;
    let port = h.new_receive()?;
    let w = Watchers::new(&h, port)?;
    h.mod_refs(TASK, port, RECEIVE, -1).succeeds()?;
    h.expect_unused(port)?;
    w.expect_dead("mod_refs(RECEIVE, -1)")
}

fn closing_the_space_holding_the_receive_right_turns_rights_to_its_port_into_dead_names(
    _: &mut Ctx,
) -> TestResult {
    let h = TestSpace::open_as("H")?;
    let port = h.new_send_receive(2)?;
    let w = Watchers::new(&h, port)?;
    drop(h);
    w.expect_dead("closing the space holding the receive right")
}

fn killing_the_process_holding_the_receive_right_turns_rights_to_its_port_into_dead_names(
    _: &mut Ctx,
) -> TestResult {
    let h = TestSpace::open_as("H")?;
    let port = h.new_receive()?;
    let w = Watchers::new(&h, port)?;
    // The child holds H (and nothing else of ours); the parent lets go of it.
    let mut child = proc::spawn(&[w.b.as_raw_fd(), w.c.as_raw_fd()], |peer| {
        h.expect_receive(port)?;
        peer.send("holding")?;
        // Until killed.
        let _ = peer.recv();
        Ok(())
    })?;
    child.peer.expect("holding")?;
    drop(h);
    // H is open in the child: the port is alive.
    w.b.expect_send(N1, 3)?;
    w.c.expect_send_once(N2)?;
    child.kill()?;
    w.expect_dead("SIGKILL of the process holding the receive right")
}

fn send_receive_name_becomes_a_dead_name_with_its_send_references(_: &mut Ctx) -> TestResult {
    let h = TestSpace::open_as("H")?;
    let port = h.new_send_receive(4)?;
    let w = Watchers::new(&h, port)?;
    let h_want = h.state()?.with_dead(&[port])?;
    h.mod_refs(TASK, port, RECEIVE, -1).succeeds()?;
    h.expect_dead(port, 4)?;
    h.expect_state_is(&h_want, "mod_refs(RECEIVE, -1) of a SEND|RECEIVE name")?;
    w.expect_dead("mod_refs(RECEIVE, -1) of a SEND|RECEIVE name")
}

fn destroy_of_send_receive_frees_the_name_and_kills_the_port(_: &mut Ctx) -> TestResult {
    let h = TestSpace::open_as("H")?;
    let port = h.new_send_receive(4)?;
    let w = Watchers::new(&h, port)?;
    h.destroy(TASK, port).succeeds()?;
    h.expect_unused(port)?;
    w.expect_dead("mach_port_destroy of a SEND|RECEIVE name")
}

/// A first call on a name whose port has just died, and what it must give.
type FirstCall = fn(&TestSpace, PortName) -> TestResult;

/// For each check: a fresh port in H with B holding `setup`'s right to it
/// under N1, the port destroyed, then the check as B's first call on N1.
fn each_first_call(send_once: bool, checks: &[(&str, FirstCall)]) -> TestResult {
    for (what, check) in checks {
        let h = TestSpace::open_as("H")?;
        let b = TestSpace::open_as("B")?;
        let tb = h.task_for(&b)?;
        let port = h.new_receive()?;
        if send_once {
            h.insert_right(tb, N1, port, MAKE_SEND_ONCE).succeeds()?;
        } else {
            for _ in 0..3 {
                h.insert_right(tb, N1, port, MAKE_SEND).succeeds()?;
            }
        }
        h.destroy(TASK, port).succeeds()?;
        check(&b, N1).map_err(|e| format!("{what} as the first call after the port died: {e}"))?;
    }
    Ok(())
}

fn every_call_sees_a_send_right_whose_port_died(_: &mut Ctx) -> TestResult {
    each_first_call(
        false,
        &[
            ("port_type", |b, n| {
                b.port_type(TASK, n).returns(PortType::DEAD_NAME)
            }),
            ("names", |b, n| {
                b.names(TASK)
                    .returns(vec![(TASK, PortType::SEND), (n, PortType::DEAD_NAME)])
            }),
            ("get_refs(DEAD_NAME)", |b, n| {
                b.get_refs(TASK, n, DEAD_NAME).returns(3)
            }),
            ("get_refs(SEND)", |b, n| {
                b.get_refs(TASK, n, SEND).returns(0)?;
                b.expect_dead(n, 3)
            }),
            ("mod_refs(DEAD_NAME, +1)", |b, n| {
                b.mod_refs(TASK, n, DEAD_NAME, 1).succeeds()?;
                b.expect_dead(n, 4)
            }),
            ("mod_refs(DEAD_NAME, -3)", |b, n| {
                b.mod_refs(TASK, n, DEAD_NAME, -3).succeeds()?;
                b.expect_unused(n)
            }),
            ("mod_refs(SEND, +1)", |b, n| {
                b.mod_refs(TASK, n, SEND, 1).gives(KERN_INVALID_RIGHT)?;
                b.expect_dead(n, 3)
            }),
            ("mod_refs(SEND, -1)", |b, n| {
                b.mod_refs(TASK, n, SEND, -1).gives(KERN_INVALID_RIGHT)?;
                b.expect_dead(n, 3)
            }),
            ("deallocate", |b, n| {
                b.deallocate(TASK, n).succeeds()?;
                b.expect_dead(n, 2)
            }),
            ("destroy", |b, n| {
                b.destroy(TASK, n).succeeds()?;
                b.expect_unused(n)
            }),
            ("insert_right(COPY_SEND)", |b, n| {
                b.insert_right(TASK, N2, n, COPY_SEND)
                    .gives(KERN_INVALID_CAPABILITY)?;
                b.expect_dead(n, 3)
            }),
            ("insert_right(MOVE_SEND)", |b, n| {
                b.insert_right(TASK, N2, n, MOVE_SEND)
                    .gives(KERN_INVALID_CAPABILITY)?;
                b.expect_dead(n, 2)
            }),
            ("insert_right(MAKE_SEND)", |b, n| {
                b.insert_right(TASK, n, n, MAKE_SEND)
                    .gives(KERN_INVALID_RIGHT)?;
                b.expect_dead(n, 3)
            }),
            ("insert_right(MAKE_SEND_ONCE) under its name", |b, n| {
                let port = b.new_receive()?;
                b.insert_right(TASK, n, port, MAKE_SEND_ONCE)
                    .gives(KERN_NAME_EXISTS)?;
                b.expect_dead(n, 3)
            }),
            ("extract_right(COPY_SEND)", |b, n| {
                b.extract_right(TASK, n, COPY_SEND)
                    .returns(extracted(DEAD, PORT_SEND))?;
                b.expect_dead(n, 3)
            }),
            ("extract_right(MOVE_SEND)", |b, n| {
                b.extract_right(TASK, n, MOVE_SEND)
                    .returns(extracted(DEAD, PORT_SEND))?;
                b.expect_dead(n, 2)
            }),
        ],
    )
}

fn every_call_sees_a_send_once_right_whose_port_died(_: &mut Ctx) -> TestResult {
    each_first_call(
        true,
        &[
            ("port_type", |b, n| {
                b.port_type(TASK, n).returns(PortType::DEAD_NAME)
            }),
            ("names", |b, n| {
                b.names(TASK)
                    .returns(vec![(TASK, PortType::SEND), (n, PortType::DEAD_NAME)])
            }),
            ("get_refs(DEAD_NAME)", |b, n| {
                b.get_refs(TASK, n, DEAD_NAME).returns(1)
            }),
            ("get_refs(SEND_ONCE)", |b, n| {
                b.get_refs(TASK, n, SEND_ONCE).returns(0)?;
                b.expect_dead(n, 1)
            }),
            ("mod_refs(SEND_ONCE, -1)", |b, n| {
                b.mod_refs(TASK, n, SEND_ONCE, -1)
                    .gives(KERN_INVALID_RIGHT)?;
                b.expect_dead(n, 1)
            }),
            ("mod_refs(DEAD_NAME, +2)", |b, n| {
                b.mod_refs(TASK, n, DEAD_NAME, 2).succeeds()?;
                b.expect_dead(n, 3)
            }),
            ("deallocate", |b, n| {
                b.deallocate(TASK, n).succeeds()?;
                b.expect_unused(n)
            }),
            ("destroy", |b, n| {
                b.destroy(TASK, n).succeeds()?;
                b.expect_unused(n)
            }),
            ("insert_right(MOVE_SEND_ONCE)", |b, n| {
                b.insert_right(TASK, N2, n, MOVE_SEND_ONCE)
                    .gives(KERN_INVALID_CAPABILITY)?;
                b.expect_unused(n)
            }),
            ("extract_right(MOVE_SEND_ONCE)", |b, n| {
                b.extract_right(TASK, n, MOVE_SEND_ONCE)
                    .returns(extracted(DEAD, PORT_SEND_ONCE))?;
                b.expect_unused(n)
            }),
        ],
    )
}

fn dead_names_of_a_dead_port_work_with_mod_refs_deallocate_and_destroy(_: &mut Ctx) -> TestResult {
    let h = TestSpace::open_as("H")?;
    let port = h.new_receive()?;
    let w = Watchers::new(&h, port)?;
    h.destroy(TASK, port).succeeds()?;
    let b = &w.b;
    b.mod_refs(TASK, N1, DEAD_NAME, 2).succeeds()?;
    b.expect_dead(N1, 5)?;
    b.deallocate(TASK, N1).succeeds()?;
    b.expect_dead(N1, 4)?;
    b.mod_refs(TASK, N1, DEAD_NAME, 0).succeeds()?;
    b.mod_refs(TASK, N1, DEAD_NAME, -5)
        .gives(KERN_INVALID_VALUE)?;
    b.mod_refs(TASK, N1, SEND, -1).gives(KERN_INVALID_RIGHT)?;
    b.mod_refs(TASK, N1, RECEIVE, -1)
        .gives(KERN_INVALID_RIGHT)?;
    b.expect_dead(N1, 4)?;
    // Its name stays taken.
    let other = b.new_receive()?;
    b.insert_right(TASK, N1, other, MAKE_SEND_ONCE)
        .gives(KERN_NAME_EXISTS)?;
    b.allocate_name(TASK, RECEIVE, N1).gives(KERN_NAME_EXISTS)?;
    b.mod_refs(TASK, N1, DEAD_NAME, -4).succeeds()?;
    b.expect_unused(N1)?;
    // A dead send-once right: one reference.
    b.mod_refs(TASK, N2, DEAD_NAME, -1).succeeds()?;
    b.expect_unused(N2)?;
    b.destroy(TASK, N3).succeeds()?;
    b.expect_unused(N3)?;
    w.c.deallocate(TASK, N1).succeeds()?;
    w.c.expect_unused(N1)?;
    w.c.deallocate(TASK, N2).succeeds()?;
    w.c.expect_unused(N2)?;
    // A new port of H is not the dead one.
    let fresh = h.new_receive()?;
    h.insert_right(h.task_for(b)?, N1, fresh, MAKE_SEND)
        .succeeds()?;
    b.expect_send(N1, 1)
}

fn dead_name_of_a_full_send_right_keeps_urefs_max(_: &mut Ctx) -> TestResult {
    let p = Pair::new()?;
    let port = p.a.new_receive()?;
    p.a.insert_right(p.tb, N1, port, MAKE_SEND).succeeds()?;
    p.b.mod_refs(TASK, N1, SEND, (UREFS_MAX - 1) as i32)
        .succeeds()?;
    p.a.destroy(TASK, port).succeeds()?;
    p.b.expect_dead(N1, UREFS_MAX)?;
    p.b.mod_refs(TASK, N1, DEAD_NAME, 1)
        .gives(KERN_UREFS_OVERFLOW)?;
    p.b.expect_dead(N1, UREFS_MAX)?;
    p.b.deallocate(TASK, N1).succeeds()?;
    p.b.expect_dead(N1, UREFS_MAX - 1)
}

fn rights_to_other_ports_are_untouched_by_a_ports_death(_: &mut Ctx) -> TestResult {
    let p = Pair::new()?;
    let dies = p.a.new_receive()?;
    let lives = p.a.new_send_receive(2)?;
    p.a.insert_right(p.tb, N1, dies, MAKE_SEND).succeeds()?;
    p.a.insert_right(p.tb, N2, lives, MAKE_SEND).succeeds()?;
    p.a.insert_right(p.tb, N3, lives, MAKE_SEND_ONCE)
        .succeeds()?;
    let so = p.a.new_send_once(lives)?;
    let a_want = p.a.state()?.without(&[dies]);
    let b_want = p.b.state()?.with_dead(&[N1])?;
    p.a.destroy(TASK, dies).succeeds()?;
    p.a.expect_state_is(&a_want, "destroying another port")?;
    p.b.expect_state_is(&b_want, "destroying another port")?;
    p.a.expect_send_once(so)?;
    p.b.expect_send(N2, 1)?;
    p.b.expect_send_once(N3)
}
