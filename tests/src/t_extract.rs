//! mach_port_extract_right: every disposition, what comes back (`poly` and
//! `polyPoly`), merges into the caller's names, dead rights, and the errors
//! (docs/calls.md, "mach_port_extract_right").

use mach::{KernReturn, PortName, PortType};

use crate::check::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    extract_right_with_a_bad_task_gives_invalid_task_and_takes_nothing,
    extract_right_with_a_bad_disposition_gives_invalid_value,
    extract_right_of_null_or_dead_name_gives_invalid_right,
    extract_right_of_an_unused_name_gives_invalid_name,
    extract_right_without_the_right_the_disposition_needs_gives_invalid_right,
    extract_right_checks_task_disposition_name_then_copy_in,
    extract_right_make_send_gives_a_send_right_and_merges_on_repeat,
    extract_right_copy_send_leaves_the_source_unchanged,
    extract_right_move_send_takes_one_reference_and_frees_the_name_at_the_last,
    extract_right_move_send_of_send_receive_leaves_the_receive_right,
    extract_right_make_send_once_gives_a_new_name_each_time,
    extract_right_move_send_once_moves_the_right,
    extract_right_move_receive_moves_the_port,
    extract_right_move_receive_of_send_receive_leaves_the_send_right,
    extract_right_move_receive_merges_with_the_callers_send_right,
    extract_right_send_merges_into_the_callers_receive_name,
    extract_right_from_own_space_merges_into_the_same_name,
    extract_right_of_a_dead_name_gives_dead,
    extract_right_of_a_right_whose_port_died_gives_dead,
    extract_right_send_into_a_full_name_stays_at_urefs_max,
    extract_right_of_another_spaces_task_self_merges_with_its_task_name,
];

/// Space A (the caller), space B (the source) with one right of each
/// kind, and space C holding the port B's send right names.
struct F {
    a: TestSpace,
    b: TestSpace,
    c: TestSpace,
    /// A's name for B's task.
    tb: PortName,
    /// B: a receive right alone.
    receive: PortName,
    /// B: a receive right with a send right of 2 user references.
    send_receive: PortName,
    /// B: a send right alone, 2 user references, to C's `c_port`.
    send: PortName,
    c_port: PortName,
    /// B: a send-once right to `receive`.
    send_once: PortName,
    port_set: PortName,
    /// B: a dead name with 2 user references.
    dead_name: PortName,
}

impl F {
    fn new() -> Result<F, String> {
        let Pair { a, b, tb } = Pair::new()?;
        let c = TestSpace::open_as("C")?;
        let receive = b.new_receive()?;
        let send_receive = b.new_send_receive(2)?;
        let c_port = c.new_receive()?;
        // B's send right to C's port, through B's name for C.
        let tc = b.task_for(&c)?;
        let send = b.extract_right(tc, c_port, MAKE_SEND).succeeds()?.name;
        b.extract_right(tc, c_port, MAKE_SEND)
            .returns(extracted(send, PORT_SEND))?;
        let send_once = b.new_send_once(receive)?;
        let port_set = b.new_port_set()?;
        let dead_name = b.new_dead_name(2)?;
        b.expect_send(send, 2)?;
        Ok(F {
            a,
            b,
            c,
            tb,
            receive,
            send_receive,
            send,
            c_port,
            send_once,
            port_set,
            dead_name,
        })
    }

    fn states(&self) -> Result<(State, State), String> {
        Ok((self.a.state()?, self.b.state()?))
    }

    fn expect_states(&self, before: &(State, State), after: &str) -> TestResult {
        self.a.expect_state(&before.0, after)?;
        self.b.expect_state(&before.1, after)
    }

    /// Every `(task, name, disposition)` gives `kr`, and neither A nor B
    /// changes.
    fn each_gives(
        &self,
        calls: &[(PortName, PortName, MsgTypeName)],
        kr: KernReturn,
    ) -> TestResult {
        let before = self.states()?;
        for &(task, name, disposition) in calls {
            self.a.extract_right(task, name, disposition).gives(kr)?;
        }
        self.expect_states(&before, &format!("extract_right calls that give {kr}"))
    }

    /// A right of B with which `disposition` succeeds.
    fn good_name(&self, disposition: MsgTypeName) -> PortName {
        match disposition {
            MOVE_SEND | COPY_SEND => self.send,
            MOVE_SEND_ONCE => self.send_once,
            _ => self.receive,
        }
    }
}

fn extract_right_with_a_bad_task_gives_invalid_task_and_takes_nothing(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let gone = {
        let d = TestSpace::open_as("D")?;
        f.a.task_for(&d)?
    };
    let a_receive = f.a.new_receive()?;
    let a_set = f.a.new_port_set()?;
    let a_dead = f.a.new_dead_name(1)?;
    let a_send_once = f.a.new_send_once(a_receive)?;
    let a_send =
        f.a.extract_right(f.tb, f.receive, MAKE_SEND)
            .succeeds()?
            .name;
    let unused = f.a.unused_name(0x4d00_0003)?;
    let mut calls = Vec::new();
    for task in [
        NULL,
        DEAD,
        unused,
        a_receive,
        a_set,
        a_dead,
        a_send_once,
        a_send,
        gone,
    ] {
        for disposition in DISPOSITIONS {
            calls.push((task, f.good_name(disposition), disposition));
        }
        calls.push((task, NULL, MAKE_SEND));
        calls.push((task, f.dead_name, MOVE_SEND));
        calls.push((task, f.receive, MsgTypeName(0)));
    }
    f.each_gives(&calls, KERN_INVALID_TASK)
}

fn extract_right_with_a_bad_disposition_gives_invalid_value(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let names = [
        f.receive,
        f.send_receive,
        f.send,
        f.send_once,
        f.port_set,
        f.dead_name,
        TASK,
        NULL,
        DEAD,
        PortName(0x1234_5678),
    ];
    let mut calls = Vec::new();
    for task in [TASK, f.tb] {
        for disposition in BAD_DISPOSITIONS {
            for name in names {
                calls.push((task, name, disposition));
            }
        }
    }
    f.each_gives(&calls, KERN_INVALID_VALUE)
}

fn extract_right_of_null_or_dead_name_gives_invalid_right(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let mut calls = Vec::new();
    for task in [TASK, f.tb] {
        for name in [NULL, DEAD] {
            for disposition in DISPOSITIONS {
                calls.push((task, name, disposition));
            }
        }
    }
    f.each_gives(&calls, KERN_INVALID_RIGHT)
}

fn extract_right_of_an_unused_name_gives_invalid_name(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let freed = f.b.new_dead_name(1)?;
    f.b.destroy(TASK, freed).succeeds()?;
    let far = f.b.unused_name(0x1234_5678)?;
    let mut calls = Vec::new();
    for disposition in DISPOSITIONS {
        for name in [freed, far, PortName(0x107)] {
            calls.push((f.tb, name, disposition));
        }
        calls.push((TASK, f.a.unused_name(0x1234_5678)?, disposition));
    }
    f.each_gives(&calls, KERN_INVALID_NAME)
}

fn extract_right_without_the_right_the_disposition_needs_gives_invalid_right(
    _: &mut Ctx,
) -> TestResult {
    let f = F::new()?;
    let mut calls = Vec::new();
    for name in [TASK, f.send, f.send_once, f.dead_name, f.port_set] {
        for disposition in [MAKE_SEND, MAKE_SEND_ONCE, MOVE_RECEIVE] {
            calls.push((f.tb, name, disposition));
        }
    }
    for name in [f.receive, f.send_once, f.port_set] {
        for disposition in [COPY_SEND, MOVE_SEND] {
            calls.push((f.tb, name, disposition));
        }
    }
    for name in [f.receive, f.send_receive, f.send, TASK, f.port_set] {
        calls.push((f.tb, name, MOVE_SEND_ONCE));
    }
    // A's own space: its task-self name is a send right alone.
    for disposition in [MAKE_SEND, MAKE_SEND_ONCE, MOVE_RECEIVE, MOVE_SEND_ONCE] {
        calls.push((TASK, TASK, disposition));
        calls.push((TASK, f.tb, disposition));
    }
    f.each_gives(&calls, KERN_INVALID_RIGHT)
}

fn extract_right_checks_task_disposition_name_then_copy_in(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let before = f.states()?;
    let unused = f.b.unused_name(0x1234_5678)?;
    let checks: Vec<(PortName, PortName, MsgTypeName, KernReturn)> = vec![
        (NULL, NULL, MsgTypeName(0), KERN_INVALID_TASK),
        (DEAD, unused, MOVE_RECEIVE, KERN_INVALID_TASK),
        // The disposition before the name.
        (f.tb, NULL, MsgTypeName(0), KERN_INVALID_VALUE),
        (f.tb, unused, MsgTypeName(22), KERN_INVALID_VALUE),
        (
            f.tb,
            f.port_set,
            MsgTypeName(0xffff_ffff),
            KERN_INVALID_VALUE,
        ),
        // NULL and DEAD before the lookup.
        (f.tb, DEAD, MOVE_RECEIVE, KERN_INVALID_RIGHT),
        // Then copy-in.
        (f.tb, unused, MAKE_SEND, KERN_INVALID_NAME),
        (f.tb, f.port_set, COPY_SEND, KERN_INVALID_RIGHT),
        (f.tb, f.dead_name, MAKE_SEND_ONCE, KERN_INVALID_RIGHT),
    ];
    for (task, name, disposition, kr) in checks {
        f.a.extract_right(task, name, disposition).gives(kr)?;
    }
    f.expect_states(&before, "extract_right calls that fail")
}

fn extract_right_make_send_gives_a_send_right_and_merges_on_repeat(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let b_before = f.b.state()?;
    let got = f.a.extract_right(f.tb, f.receive, MAKE_SEND).succeeds()?;
    expect_eq("extract_right(MAKE_SEND) polyPoly", PORT_SEND, got.ty)?;
    let name = got.name;
    ensure(name.is_valid(), || {
        format!("extract_right(MAKE_SEND) gave the name {name:?}")
    })?;
    f.a.expect_send(name, 1)?;
    for refs in 2..=4 {
        f.a.extract_right(f.tb, f.receive, MAKE_SEND)
            .returns(extracted(name, PORT_SEND))?;
        f.a.expect_send(name, refs)?;
    }
    f.b.expect_state(&b_before, "extract_right(MAKE_SEND) from B")?;
    f.a.expect_only_task_self_and(&[(f.tb, PortType::SEND), (name, PortType::SEND)])?;
    // A send right to B's port.
    f.b.mod_refs(TASK, f.receive, RECEIVE, -1).succeeds()?;
    f.a.expect_dead(name, 4)
}

fn extract_right_copy_send_leaves_the_source_unchanged(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let b_before = f.b.state()?;
    let name = f.a.extract_right(f.tb, f.send, COPY_SEND).succeeds()?;
    expect_eq("extract_right(COPY_SEND) polyPoly", PORT_SEND, name.ty)?;
    let name = name.name;
    f.a.expect_send(name, 1)?;
    f.a.extract_right(f.tb, f.send, COPY_SEND)
        .returns(extracted(name, PORT_SEND))?;
    f.a.expect_send(name, 2)?;
    // From the send right of a SEND|RECEIVE name: another port, another name.
    let other =
        f.a.extract_right(f.tb, f.send_receive, COPY_SEND)
            .succeeds()?;
    expect_eq("extract_right(COPY_SEND) polyPoly", PORT_SEND, other.ty)?;
    ensure(other.name != name, || {
        format!("two ports came out under one name {name:?}")
    })?;
    f.a.expect_send(other.name, 1)?;
    f.b.expect_state(&b_before, "extract_right(COPY_SEND) from B")?;
    // A's send right is to C's port.
    f.c.destroy(TASK, f.c_port).succeeds()?;
    f.a.expect_dead(name, 2)?;
    f.a.expect_send(other.name, 1)
}

fn extract_right_move_send_takes_one_reference_and_frees_the_name_at_the_last(
    _: &mut Ctx,
) -> TestResult {
    let f = F::new()?;
    let name = f.a.extract_right(f.tb, f.send, MOVE_SEND).succeeds()?;
    expect_eq("extract_right(MOVE_SEND) polyPoly", PORT_SEND, name.ty)?;
    let name = name.name;
    f.a.expect_send(name, 1)?;
    f.b.expect_send(f.send, 1)?;
    f.a.extract_right(f.tb, f.send, MOVE_SEND)
        .returns(extracted(name, PORT_SEND))?;
    f.a.expect_send(name, 2)?;
    f.b.expect_unused(f.send)?;
    f.a.extract_right(f.tb, f.send, MOVE_SEND)
        .gives(KERN_INVALID_NAME)?;
    f.a.expect_send(name, 2)
}

fn extract_right_move_send_of_send_receive_leaves_the_receive_right(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let name =
        f.a.extract_right(f.tb, f.send_receive, MOVE_SEND)
            .succeeds()?
            .name;
    f.b.expect_send_receive(f.send_receive, 1)?;
    f.a.expect_send(name, 1)?;
    f.a.extract_right(f.tb, f.send_receive, MOVE_SEND)
        .returns(extracted(name, PORT_SEND))?;
    f.b.expect_receive(f.send_receive)?;
    f.a.expect_send(name, 2)?;
    f.a.extract_right(f.tb, f.send_receive, MOVE_SEND)
        .gives(KERN_INVALID_RIGHT)?;
    f.a.expect_send(name, 2)
}

fn extract_right_make_send_once_gives_a_new_name_each_time(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let b_before = f.b.state()?;
    let mut names = Vec::new();
    for _ in 0..3 {
        let got =
            f.a.extract_right(f.tb, f.receive, MAKE_SEND_ONCE)
                .succeeds()?;
        expect_eq(
            "extract_right(MAKE_SEND_ONCE) polyPoly",
            PORT_SEND_ONCE,
            got.ty,
        )?;
        ensure(got.name.is_valid() && !names.contains(&got.name), || {
            format!(
                "extract_right(MAKE_SEND_ONCE) gave {:?} after {names:?}",
                got.name
            )
        })?;
        f.a.expect_send_once(got.name)?;
        names.push(got.name);
    }
    // Beside a send right to the same port.
    let send =
        f.a.extract_right(f.tb, f.receive, MAKE_SEND)
            .succeeds()?
            .name;
    ensure(!names.contains(&send), || {
        format!("the send right came out under a send-once right's name {send:?}")
    })?;
    f.b.expect_state(&b_before, "extract_right(MAKE_SEND_ONCE) from B")?;
    f.b.destroy(TASK, f.receive).succeeds()?;
    for name in names {
        f.a.expect_dead(name, 1)?;
    }
    f.a.expect_dead(send, 1)
}

fn extract_right_move_send_once_moves_the_right(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let got =
        f.a.extract_right(f.tb, f.send_once, MOVE_SEND_ONCE)
            .succeeds()?;
    expect_eq(
        "extract_right(MOVE_SEND_ONCE) polyPoly",
        PORT_SEND_ONCE,
        got.ty,
    )?;
    f.a.expect_send_once(got.name)?;
    f.b.expect_unused(f.send_once)?;
    f.a.extract_right(f.tb, f.send_once, MOVE_SEND_ONCE)
        .gives(KERN_INVALID_NAME)?;
    // A second one to the same port gets a name of its own.
    let so = f.b.new_send_once(f.receive)?;
    let second = f.a.extract_right(f.tb, so, MOVE_SEND_ONCE).succeeds()?;
    ensure(second.name != got.name, || {
        format!("two send-once rights came out under {:?}", got.name)
    })?;
    f.a.expect_send_once(second.name)?;
    f.a.expect_send_once(got.name)
}

fn extract_right_move_receive_moves_the_port(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let got =
        f.a.extract_right(f.tb, f.receive, MOVE_RECEIVE)
            .succeeds()?;
    expect_eq("extract_right(MOVE_RECEIVE) polyPoly", PORT_RECEIVE, got.ty)?;
    f.a.expect_receive(got.name)?;
    f.b.expect_unused(f.receive)?;
    // B's send-once right to it lives on, now to a port A holds.
    f.b.expect_send_once(f.send_once)?;
    f.a.insert_right(TASK, got.name, got.name, MAKE_SEND)
        .succeeds()?;
    f.a.expect_send_receive(got.name, 1)?;
    f.a.destroy(TASK, got.name).succeeds()?;
    f.b.expect_dead(f.send_once, 1)
}

fn extract_right_move_receive_of_send_receive_leaves_the_send_right(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let got =
        f.a.extract_right(f.tb, f.send_receive, MOVE_RECEIVE)
            .succeeds()?;
    expect_eq("extract_right(MOVE_RECEIVE) polyPoly", PORT_RECEIVE, got.ty)?;
    f.a.expect_receive(got.name)?;
    f.b.expect_send(f.send_receive, 2)?;
    f.a.mod_refs(TASK, got.name, RECEIVE, -1).succeeds()?;
    f.b.expect_dead(f.send_receive, 2)
}

fn extract_right_move_receive_merges_with_the_callers_send_right(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let name =
        f.a.extract_right(f.tb, f.receive, MAKE_SEND)
            .succeeds()?
            .name;
    f.a.extract_right(f.tb, f.receive, MAKE_SEND).succeeds()?;
    f.a.expect_send(name, 2)?;
    f.a.extract_right(f.tb, f.receive, MOVE_RECEIVE)
        .returns(extracted(name, PORT_RECEIVE))?;
    f.a.expect_send_receive(name, 2)?;
    f.b.expect_unused(f.receive)
}

fn extract_right_send_merges_into_the_callers_receive_name(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let port = f.a.new_receive()?;
    f.a.insert_right(f.tb, N1, port, MAKE_SEND).succeeds()?;
    f.a.insert_right(f.tb, N1, port, MAKE_SEND).succeeds()?;
    f.a.extract_right(f.tb, N1, COPY_SEND)
        .returns(extracted(port, PORT_SEND))?;
    f.a.expect_send_receive(port, 1)?;
    f.b.expect_send(N1, 2)?;
    f.a.extract_right(f.tb, N1, MOVE_SEND)
        .returns(extracted(port, PORT_SEND))?;
    f.a.expect_send_receive(port, 2)?;
    f.a.extract_right(f.tb, N1, MOVE_SEND)
        .returns(extracted(port, PORT_SEND))?;
    f.a.expect_send_receive(port, 3)?;
    f.b.expect_unused(N1)?;
    // A send-once right never merges.
    f.a.insert_right(f.tb, N2, port, MAKE_SEND_ONCE)
        .succeeds()?;
    let so = f.a.extract_right(f.tb, N2, MOVE_SEND_ONCE).succeeds()?;
    ensure(so.name != port && so.name.is_valid(), || {
        format!(
            "the send-once right came out under {:?}, the receive right's name {port:?}",
            so.name
        )
    })?;
    expect_eq(
        "extract_right(MOVE_SEND_ONCE) polyPoly",
        PORT_SEND_ONCE,
        so.ty,
    )?;
    f.a.expect_send_once(so.name)?;
    f.a.expect_send_receive(port, 3)
}

fn extract_right_from_own_space_merges_into_the_same_name(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    s.extract_right(TASK, TASK, COPY_SEND)
        .returns(extracted(TASK, PORT_SEND))?;
    s.expect_send(TASK, 2)?;
    s.extract_right(TASK, TASK, MOVE_SEND)
        .returns(extracted(TASK, PORT_SEND))?;
    s.expect_send(TASK, 2)?;
    let port = s.new_receive()?;
    s.extract_right(TASK, port, MAKE_SEND)
        .returns(extracted(port, PORT_SEND))?;
    s.expect_send_receive(port, 1)?;
    s.extract_right(TASK, port, MOVE_RECEIVE)
        .returns(extracted(port, PORT_RECEIVE))?;
    s.expect_send_receive(port, 1)?;
    // A receive right alone comes back under a name; the old one is gone
    // unless it is the same.
    let alone = s.new_receive()?;
    let got = s.extract_right(TASK, alone, MOVE_RECEIVE).succeeds()?;
    expect_eq("extract_right(MOVE_RECEIVE) polyPoly", PORT_RECEIVE, got.ty)?;
    s.expect_receive(got.name)?;
    // Send-once rights: always a new name.
    let so = s.extract_right(TASK, port, MAKE_SEND_ONCE).succeeds()?;
    expect_eq(
        "extract_right(MAKE_SEND_ONCE) polyPoly",
        PORT_SEND_ONCE,
        so.ty,
    )?;
    let moved = s.extract_right(TASK, so.name, MOVE_SEND_ONCE).succeeds()?;
    s.expect_send_once(moved.name)?;
    let mut want = vec![
        (port, PortType::SEND_RECEIVE),
        (got.name, PortType::RECEIVE),
        (moved.name, PortType::SEND_ONCE),
    ];
    want.sort_by_key(|&(name, _)| name);
    s.expect_only_task_self_and_refs(2, &want)
}

fn extract_right_of_a_dead_name_gives_dead(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let dead = f.b.new_dead_name(3)?;
    let a_before = f.a.state()?;
    f.a.extract_right(f.tb, dead, COPY_SEND)
        .returns(extracted(DEAD, PORT_SEND))?;
    f.b.expect_dead(dead, 3)?;
    f.a.extract_right(f.tb, dead, MOVE_SEND)
        .returns(extracted(DEAD, PORT_SEND))?;
    f.b.expect_dead(dead, 2)?;
    f.a.extract_right(f.tb, dead, MOVE_SEND_ONCE)
        .returns(extracted(DEAD, PORT_SEND_ONCE))?;
    f.b.expect_dead(dead, 1)?;
    for disposition in [MAKE_SEND, MAKE_SEND_ONCE, MOVE_RECEIVE] {
        f.a.extract_right(f.tb, dead, disposition)
            .gives(KERN_INVALID_RIGHT)?;
    }
    f.b.expect_dead(dead, 1)?;
    f.a.extract_right(f.tb, dead, MOVE_SEND)
        .returns(extracted(DEAD, PORT_SEND))?;
    f.b.expect_unused(dead)?;
    f.a.expect_state(&a_before, "extract_right of B's dead name")?;
    // From A's own space too.
    let own = f.a.new_dead_name(2)?;
    f.a.extract_right(TASK, own, MOVE_SEND)
        .returns(extracted(DEAD, PORT_SEND))?;
    f.a.expect_dead(own, 1)
}

fn extract_right_of_a_right_whose_port_died_gives_dead(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let so =
        f.b.extract_right(TASK, f.send_receive, MAKE_SEND_ONCE)
            .succeeds()?
            .name;
    f.b.insert_right(TASK, N1, f.receive, MAKE_SEND_ONCE)
        .succeeds()?;
    // C's port dies: B's send right to it is dead; B's own ports die: the
    // send-once rights to them are dead.
    f.c.destroy(TASK, f.c_port).succeeds()?;
    f.b.destroy(TASK, f.send_receive).succeeds()?;
    f.b.mod_refs(TASK, f.receive, RECEIVE, -1).succeeds()?;
    let a_before = f.a.state()?;
    // The first call on each name after the death.
    f.a.extract_right(f.tb, f.send, COPY_SEND)
        .returns(extracted(DEAD, PORT_SEND))?;
    f.b.expect_dead(f.send, 2)?;
    f.a.extract_right(f.tb, so, MOVE_SEND_ONCE)
        .returns(extracted(DEAD, PORT_SEND_ONCE))?;
    f.b.expect_unused(so)?;
    f.a.extract_right(f.tb, f.send_once, MAKE_SEND)
        .gives(KERN_INVALID_RIGHT)?;
    f.b.expect_dead(f.send_once, 1)?;
    f.a.extract_right(f.tb, N1, MOVE_SEND)
        .returns(extracted(DEAD, PORT_SEND))?;
    f.b.expect_unused(N1)?;
    f.a.extract_right(f.tb, f.send, MOVE_SEND)
        .returns(extracted(DEAD, PORT_SEND))?;
    f.b.expect_dead(f.send, 1)?;
    f.a.expect_state(&a_before, "extract_right of dead rights")
}

fn extract_right_send_into_a_full_name_stays_at_urefs_max(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let name =
        f.a.extract_right(f.tb, f.receive, MAKE_SEND)
            .succeeds()?
            .name;
    f.a.mod_refs(TASK, name, SEND, (UREFS_MAX - 1) as i32)
        .succeeds()?;
    f.a.expect_send(name, UREFS_MAX)?;
    f.a.extract_right(f.tb, f.receive, MAKE_SEND)
        .returns(extracted(name, PORT_SEND))?;
    f.a.expect_send(name, UREFS_MAX)?;
    // A moved reference is taken from B all the same.
    let sr = f.b.new_send_receive(2)?;
    let other = f.a.extract_right(f.tb, sr, COPY_SEND).succeeds()?.name;
    f.a.mod_refs(TASK, other, SEND, (UREFS_MAX - 1) as i32)
        .succeeds()?;
    f.a.extract_right(f.tb, sr, COPY_SEND)
        .returns(extracted(other, PORT_SEND))?;
    f.b.expect_send_receive(sr, 2)?;
    f.a.extract_right(f.tb, sr, MOVE_SEND)
        .returns(extracted(other, PORT_SEND))?;
    f.b.expect_send_receive(sr, 1)?;
    f.a.expect_send(other, UREFS_MAX)
}

fn extract_right_of_another_spaces_task_self_merges_with_its_task_name(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    f.a.extract_right(f.tb, TASK, COPY_SEND)
        .returns(extracted(f.tb, PORT_SEND))?;
    f.a.expect_send(f.tb, 2)?;
    f.b.expect_send(TASK, 1)?;
    // Taking B's only reference to its own task port: B loses its
    // task-self name, but the port lives on with the space.
    f.a.extract_right(f.tb, TASK, MOVE_SEND)
        .returns(extracted(f.tb, PORT_SEND))?;
    f.a.expect_send(f.tb, 3)?;
    f.b.port_type(TASK, f.receive).gives(KERN_INVALID_TASK)?;
    f.a.port_type(f.tb, TASK).gives(KERN_INVALID_NAME)?;
    f.a.port_type(f.tb, f.receive).returns(PortType::RECEIVE)?;
    // Given back under its usual name, it works again.
    f.a.insert_right(f.tb, TASK, f.tb, COPY_SEND).succeeds()?;
    f.b.expect_send(TASK, 1)?;
    f.b.expect_receive(f.receive)?;
    f.a.expect_send(f.tb, 3)
}
