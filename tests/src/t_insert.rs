//! mach_port_insert_right: every return code, the order of the checks, and
//! what a failure does to the right taken from the caller (docs/calls.md,
//! "mach_port_insert_right"; seed 004).

use mach::{PortName, PortType};

use crate::check::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    insert_right_with_a_bad_task_gives_invalid_task_and_takes_nothing,
    insert_right_under_null_or_dead_name_gives_invalid_value,
    insert_right_with_a_bad_disposition_gives_invalid_value,
    insert_right_of_null_or_dead_poly_gives_invalid_capability,
    insert_right_checks_task_name_disposition_poly_then_copy_in_then_copy_out,
    insert_right_of_an_unused_name_gives_invalid_name,
    insert_right_make_or_move_receive_without_receive_right_gives_invalid_right,
    insert_right_copy_or_move_send_without_send_right_gives_invalid_right,
    insert_right_move_send_once_without_send_once_right_gives_invalid_right,
    insert_right_of_a_port_set_gives_invalid_right,
    insert_right_copy_or_move_of_a_dead_name_gives_invalid_capability,
    insert_right_make_or_move_receive_of_a_dead_name_gives_invalid_right,
    insert_right_of_a_right_whose_port_died_gives_invalid_capability,
    insert_right_into_used_name_gives_name_exists,
    insert_right_move_send_into_used_name_gives_name_exists_and_consumes_the_reference,
    insert_right_move_send_once_into_used_name_gives_name_exists_and_consumes_the_right,
    insert_right_move_receive_into_used_name_gives_name_exists_and_destroys_the_port,
    insert_right_send_once_onto_a_name_for_the_same_port_gives_name_exists,
    insert_right_send_onto_a_send_once_name_for_the_same_port_gives_name_exists,
    insert_right_send_under_a_second_name_gives_right_exists,
    insert_right_move_send_under_a_second_name_gives_right_exists_and_consumes_the_reference,
    insert_right_receive_under_a_second_name_gives_right_exists_and_destroys_the_port,
    insert_right_send_once_skips_the_right_exists_check,
    insert_right_beyond_urefs_max_gives_urefs_overflow_and_changes_nothing,
    insert_right_move_send_beyond_urefs_max_gives_urefs_overflow_and_consumes_the_reference,
    insert_right_move_receive_onto_a_full_send_right_does_not_overflow,
    insert_right_move_send_onto_its_own_name_changes_nothing,
    failed_insert_right_copy_send_changes_nothing_in_either_space,
];

/// Space A (the caller) with one right of each kind, space B (a target)
/// holding the port `send` names, and A's name for B's task.
struct F {
    a: TestSpace,
    b: TestSpace,
    tb: PortName,
    /// A: a receive right alone.
    receive: PortName,
    /// A: a receive right and a send right with 2 user references.
    send_receive: PortName,
    /// A: a send right alone, 2 user references, to `b_port`.
    send: PortName,
    /// B: the receive right `send` names.
    b_port: PortName,
    /// A: a send-once right to `receive`.
    send_once: PortName,
    port_set: PortName,
    /// A: a dead name with 2 user references.
    dead_name: PortName,
}

impl F {
    fn new() -> Result<F, String> {
        let Pair { a, b, tb } = Pair::new()?;
        let receive = a.new_receive()?;
        let send_receive = a.new_send_receive(2)?;
        let b_port = b.new_receive()?;
        let send = a.extract_right(tb, b_port, MAKE_SEND).succeeds()?.name;
        a.extract_right(tb, b_port, MAKE_SEND)
            .returns(extracted(send, PORT_SEND))?;
        let send_once = a.new_send_once(receive)?;
        let port_set = a.new_port_set()?;
        let dead_name = a.new_dead_name(2)?;
        a.expect_send(send, 2)?;
        Ok(F {
            a,
            b,
            tb,
            receive,
            send_receive,
            send,
            b_port,
            send_once,
            port_set,
            dead_name,
        })
    }

    /// A right of A with which `disposition` succeeds.
    fn good_poly(&self, disposition: MsgTypeName) -> PortName {
        match disposition {
            MOVE_SEND | COPY_SEND => self.send_receive,
            MOVE_SEND_ONCE => self.send_once,
            _ => self.receive,
        }
    }

    fn states(&self) -> Result<(State, State), String> {
        Ok((self.a.state()?, self.b.state()?))
    }

    fn expect_states(&self, before: &(State, State), after: &str) -> TestResult {
        self.a.expect_state(&before.0, after)?;
        self.b.expect_state(&before.1, after)
    }

    /// Every `(task, name, poly, disposition)` gives `kr`, and neither
    /// space changes.
    fn each_gives(
        &self,
        calls: &[(PortName, PortName, PortName, MsgTypeName)],
        kr: mach::KernReturn,
    ) -> TestResult {
        let before = self.states()?;
        for &(task, name, poly, disposition) in calls {
            self.a
                .insert_right(task, name, poly, disposition)
                .gives(kr)?;
        }
        self.expect_states(&before, &format!("insert_right calls that give {kr}"))
    }
}

fn insert_right_with_a_bad_task_gives_invalid_task_and_takes_nothing(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    // A send right to a task port whose space is closed.
    let gone = {
        let c = TestSpace::open_as("C")?;
        f.a.task_for(&c)?
    };
    let unused = f.a.unused_name(0x4d00_0003)?;
    let tasks = [
        NULL,
        DEAD,
        unused,
        f.receive,
        f.send_receive,
        f.send,
        f.send_once,
        f.port_set,
        f.dead_name,
        gone,
    ];
    let mut calls = Vec::new();
    for task in tasks {
        for name in [N1, NULL, TASK] {
            for disposition in DISPOSITIONS {
                calls.push((task, name, f.good_poly(disposition), disposition));
            }
            calls.push((task, name, NULL, MAKE_SEND));
            calls.push((task, name, f.dead_name, MOVE_SEND));
            calls.push((task, name, f.port_set, MAKE_SEND));
            calls.push((task, name, f.receive, MsgTypeName(0)));
        }
    }
    f.each_gives(&calls, KERN_INVALID_TASK)
}

fn insert_right_under_null_or_dead_name_gives_invalid_value(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let mut calls = Vec::new();
    for task in [TASK, f.tb] {
        for name in [NULL, DEAD] {
            for disposition in DISPOSITIONS {
                calls.push((task, name, f.good_poly(disposition), disposition));
            }
            calls.push((task, name, f.send, MOVE_SEND));
            calls.push((task, name, NULL, MAKE_SEND));
            calls.push((task, name, DEAD, COPY_SEND));
            calls.push((task, name, PortName(0x1234_5678), COPY_SEND));
            calls.push((task, name, f.port_set, MAKE_SEND));
            calls.push((task, name, f.dead_name, MOVE_SEND));
        }
    }
    f.each_gives(&calls, KERN_INVALID_VALUE)
}

fn insert_right_with_a_bad_disposition_gives_invalid_value(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let polys = [
        f.receive,
        f.send_receive,
        f.send,
        f.send_once,
        f.port_set,
        f.dead_name,
        NULL,
        DEAD,
        PortName(0x1234_5678),
    ];
    let mut calls = Vec::new();
    for task in [TASK, f.tb] {
        for disposition in BAD_DISPOSITIONS {
            for poly in polys {
                for name in [N1, poly, TASK] {
                    calls.push((task, name, poly, disposition));
                }
            }
        }
    }
    f.each_gives(&calls, KERN_INVALID_VALUE)
}

fn insert_right_of_null_or_dead_poly_gives_invalid_capability(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let mut calls = Vec::new();
    for task in [TASK, f.tb] {
        for poly in [NULL, DEAD] {
            for disposition in DISPOSITIONS {
                for name in [N1, f.receive, f.dead_name, TASK] {
                    calls.push((task, name, poly, disposition));
                }
            }
        }
    }
    f.each_gives(&calls, KERN_INVALID_CAPABILITY)
}

fn insert_right_checks_task_name_disposition_poly_then_copy_in_then_copy_out(
    _: &mut Ctx,
) -> TestResult {
    let f = F::new()?;
    let unused = PortName(0x1234_5678);
    let bad = MsgTypeName(0);
    let before = f.states()?;
    let checks: Vec<(PortName, PortName, PortName, MsgTypeName, mach::KernReturn)> = vec![
        // 1. The task first, whatever else is wrong.
        (NULL, NULL, NULL, bad, KERN_INVALID_TASK),
        (f.receive, DEAD, unused, MOVE_RECEIVE, KERN_INVALID_TASK),
        // 2. The name before the disposition's right and the poly.
        (TASK, NULL, NULL, MAKE_SEND, KERN_INVALID_VALUE),
        (f.tb, DEAD, unused, COPY_SEND, KERN_INVALID_VALUE),
        (TASK, NULL, f.port_set, MAKE_SEND, KERN_INVALID_VALUE),
        (f.tb, NULL, f.receive, MOVE_RECEIVE, KERN_INVALID_VALUE),
        // 3. The disposition before the poly.
        (TASK, N1, NULL, bad, KERN_INVALID_VALUE),
        (f.tb, N1, unused, MsgTypeName(22), KERN_INVALID_VALUE),
        // 4. A NULL or DEAD poly before copy-in and copy-out.
        (TASK, f.port_set, NULL, MAKE_SEND, KERN_INVALID_CAPABILITY),
        (f.tb, TASK, DEAD, MOVE_RECEIVE, KERN_INVALID_CAPABILITY),
        // 5. Copy-in before copy-out (the name being in use).
        (TASK, f.port_set, unused, COPY_SEND, KERN_INVALID_NAME),
        (f.tb, TASK, unused, MOVE_RECEIVE, KERN_INVALID_NAME),
        (TASK, f.dead_name, f.port_set, MAKE_SEND, KERN_INVALID_RIGHT),
        (f.tb, TASK, f.send, MAKE_SEND, KERN_INVALID_RIGHT),
        (f.tb, TASK, f.receive, MOVE_SEND_ONCE, KERN_INVALID_RIGHT),
        (f.tb, TASK, f.dead_name, COPY_SEND, KERN_INVALID_CAPABILITY),
        // 6. Copy-out: the name in use in the target.
        (f.tb, TASK, f.send_receive, COPY_SEND, KERN_NAME_EXISTS),
    ];
    for (task, name, poly, disposition, kr) in checks {
        f.a.insert_right(task, name, poly, disposition).gives(kr)?;
    }
    f.expect_states(
        &before,
        "insert_right calls that fail before taking anything",
    )
}

fn insert_right_of_an_unused_name_gives_invalid_name(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let freed = f.a.new_dead_name(1)?;
    f.a.destroy(TASK, freed).succeeds()?;
    let mut calls = Vec::new();
    for task in [TASK, f.tb] {
        for poly in [freed, PortName(0x1234_5678), PortName(0x107)] {
            for disposition in DISPOSITIONS {
                for name in [N1, TASK] {
                    calls.push((task, name, poly, disposition));
                }
            }
        }
    }
    f.each_gives(&calls, KERN_INVALID_NAME)
}

fn insert_right_make_or_move_receive_without_receive_right_gives_invalid_right(
    _: &mut Ctx,
) -> TestResult {
    let f = F::new()?;
    let mut calls = Vec::new();
    for task in [TASK, f.tb] {
        // TASK and tb are send rights to task ports, whose receive rights
        // are the kernel's.
        for poly in [TASK, f.tb, f.send, f.send_once] {
            for disposition in [MAKE_SEND, MAKE_SEND_ONCE, MOVE_RECEIVE] {
                calls.push((task, N1, poly, disposition));
            }
        }
    }
    f.each_gives(&calls, KERN_INVALID_RIGHT)
}

fn insert_right_copy_or_move_send_without_send_right_gives_invalid_right(
    _: &mut Ctx,
) -> TestResult {
    let f = F::new()?;
    let mut calls = Vec::new();
    for task in [TASK, f.tb] {
        for poly in [f.receive, f.send_once] {
            for disposition in [COPY_SEND, MOVE_SEND] {
                calls.push((task, N1, poly, disposition));
            }
        }
    }
    f.each_gives(&calls, KERN_INVALID_RIGHT)
}

fn insert_right_move_send_once_without_send_once_right_gives_invalid_right(
    _: &mut Ctx,
) -> TestResult {
    let f = F::new()?;
    let mut calls = Vec::new();
    for task in [TASK, f.tb] {
        for poly in [f.receive, f.send_receive, f.send, TASK, f.tb] {
            calls.push((task, N1, poly, MOVE_SEND_ONCE));
        }
    }
    f.each_gives(&calls, KERN_INVALID_RIGHT)
}

fn insert_right_of_a_port_set_gives_invalid_right(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let mut calls = Vec::new();
    for task in [TASK, f.tb] {
        for disposition in DISPOSITIONS {
            calls.push((task, N1, f.port_set, disposition));
            calls.push((task, f.port_set, f.port_set, disposition));
        }
    }
    f.each_gives(&calls, KERN_INVALID_RIGHT)
}

fn insert_right_copy_or_move_of_a_dead_name_gives_invalid_capability(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let dead = f.a.new_dead_name(4)?;
    for task in [TASK, f.tb] {
        let b_before = f.b.state()?;
        f.a.expect_dead(dead, 4)?;
        // COPY_SEND takes nothing.
        f.a.insert_right(task, N1, dead, COPY_SEND)
            .gives(KERN_INVALID_CAPABILITY)?;
        f.a.expect_dead(dead, 4)?;
        // MOVE_SEND and MOVE_SEND_ONCE take one user reference each.
        f.a.insert_right(task, N1, dead, MOVE_SEND)
            .gives(KERN_INVALID_CAPABILITY)?;
        f.a.expect_dead(dead, 3)?;
        f.a.insert_right(task, N1, dead, MOVE_SEND_ONCE)
            .gives(KERN_INVALID_CAPABILITY)?;
        f.a.expect_dead(dead, 2)?;
        f.a.insert_right(task, dead, dead, COPY_SEND)
            .gives(KERN_INVALID_CAPABILITY)?;
        f.a.expect_dead(dead, 2)?;
        f.a.expect_unused(N1)?;
        f.b.expect_state(&b_before, "insert_right of a dead name")?;
        f.a.mod_refs(TASK, dead, DEAD_NAME, 2).succeeds()?;
    }
    // The last reference: the name is freed.
    let one = f.a.new_dead_name(1)?;
    f.a.insert_right(f.tb, N1, one, MOVE_SEND)
        .gives(KERN_INVALID_CAPABILITY)?;
    f.a.expect_unused(one)?;
    let one = f.a.new_dead_name(1)?;
    f.a.insert_right(TASK, N1, one, MOVE_SEND_ONCE)
        .gives(KERN_INVALID_CAPABILITY)?;
    f.a.expect_unused(one)?;
    f.b.expect_only_task_self_and(&[(f.b_port, PortType::RECEIVE)])
}

fn insert_right_make_or_move_receive_of_a_dead_name_gives_invalid_right(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let mut calls = Vec::new();
    for task in [TASK, f.tb] {
        for disposition in [MAKE_SEND, MAKE_SEND_ONCE, MOVE_RECEIVE] {
            calls.push((task, N1, f.dead_name, disposition));
            calls.push((task, f.dead_name, f.dead_name, disposition));
        }
    }
    f.each_gives(&calls, KERN_INVALID_RIGHT)
}

fn insert_right_of_a_right_whose_port_died_gives_invalid_capability(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let c = TestSpace::open_as("C")?;
    let tc = f.a.task_for(&c)?;
    let so1 =
        f.a.extract_right(f.tb, f.b_port, MAKE_SEND_ONCE)
            .succeeds()?
            .name;
    let so2 =
        f.a.extract_right(f.tb, f.b_port, MAKE_SEND_ONCE)
            .succeeds()?
            .name;
    f.b.destroy(TASK, f.b_port).succeeds()?;
    let c_before = c.state()?;
    // The first call A makes on each name after the port died.
    f.a.insert_right(tc, N1, f.send, COPY_SEND)
        .gives(KERN_INVALID_CAPABILITY)?;
    f.a.expect_dead(f.send, 2)?;
    f.a.insert_right(tc, N1, so1, MOVE_SEND_ONCE)
        .gives(KERN_INVALID_CAPABILITY)?;
    f.a.expect_unused(so1)?;
    f.a.insert_right(TASK, N1, so2, MAKE_SEND)
        .gives(KERN_INVALID_RIGHT)?;
    f.a.expect_dead(so2, 1)?;
    // Once dead, the names behave as any dead name.
    f.a.insert_right(tc, N1, f.send, MOVE_SEND)
        .gives(KERN_INVALID_CAPABILITY)?;
    f.a.expect_dead(f.send, 1)?;
    f.a.insert_right(tc, N1, f.send, MOVE_RECEIVE)
        .gives(KERN_INVALID_RIGHT)?;
    f.a.insert_right(TASK, N1, f.send, MOVE_SEND)
        .gives(KERN_INVALID_CAPABILITY)?;
    f.a.expect_unused(f.send)?;
    f.a.expect_unused(N1)?;
    c.expect_state(&c_before, "insert_right of rights whose port died")
}

/// In B: names in use, none of them for A's ports `receive` and
/// `send_receive`.
struct Used {
    names: Vec<PortName>,
}

impl Used {
    fn new(f: &F) -> Result<Used, String> {
        let other = f.a.new_receive()?;
        let b_receive = f.b.new_receive()?;
        let b_set = f.b.new_port_set()?;
        let b_dead = f.b.new_dead_name(1)?;
        f.a.insert_right(f.tb, N3, other, MAKE_SEND).succeeds()?;
        f.a.insert_right(f.tb, N4, other, MAKE_SEND_ONCE)
            .succeeds()?;
        Ok(Used {
            names: vec![f.b_port, b_receive, b_set, b_dead, TASK, N3, N4],
        })
    }
}

fn insert_right_into_used_name_gives_name_exists(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let used = Used::new(&f)?;
    let mut calls = Vec::new();
    for &name in &used.names {
        calls.push((f.tb, name, f.receive, MAKE_SEND));
        calls.push((f.tb, name, f.send_receive, COPY_SEND));
        calls.push((f.tb, name, f.send_receive, MAKE_SEND));
        calls.push((f.tb, name, f.receive, MAKE_SEND_ONCE));
    }
    // In A's own space, a send-once right needs an unused name.
    for name in [TASK, f.tb, f.send, f.port_set, f.dead_name, f.send_once] {
        calls.push((TASK, name, f.receive, MAKE_SEND_ONCE));
        calls.push((TASK, name, f.send_receive, MAKE_SEND_ONCE));
    }
    f.each_gives(&calls, KERN_NAME_EXISTS)
}

fn insert_right_move_send_into_used_name_gives_name_exists_and_consumes_the_reference(
    _: &mut Ctx,
) -> TestResult {
    let f = F::new()?;
    let used = Used::new(&f)?;
    let b_before = f.b.state()?;
    let mut refs = UREFS_MAX;
    f.a.mod_refs(TASK, f.send_receive, SEND, (UREFS_MAX - 2) as i32)
        .succeeds()?;
    for &name in &used.names {
        f.a.insert_right(f.tb, name, f.send_receive, MOVE_SEND)
            .gives(KERN_NAME_EXISTS)?;
        refs -= 1;
        f.a.expect_send_receive(f.send_receive, refs)?;
    }
    f.b.expect_state(&b_before, "insert_right(MOVE_SEND) into used names")?;
    // The last reference: the name keeps its receive right only.
    f.a.mod_refs(TASK, f.send_receive, SEND, 1 - refs as i32)
        .succeeds()?;
    f.a.insert_right(f.tb, TASK, f.send_receive, MOVE_SEND)
        .gives(KERN_NAME_EXISTS)?;
    f.a.expect_receive(f.send_receive)?;
    // A send right alone (to a port in C): the name is freed at the last
    // reference.
    let c = TestSpace::open_as("C")?;
    let tc = f.a.task_for(&c)?;
    let c_port = c.new_receive()?;
    let send = f.a.extract_right(tc, c_port, MAKE_SEND).succeeds()?.name;
    f.a.extract_right(tc, c_port, MAKE_SEND)
        .returns(extracted(send, PORT_SEND))?;
    f.a.insert_right(f.tb, TASK, send, MOVE_SEND)
        .gives(KERN_NAME_EXISTS)?;
    f.a.expect_send(send, 1)?;
    f.a.insert_right(f.tb, N3, send, MOVE_SEND)
        .gives(KERN_NAME_EXISTS)?;
    f.a.expect_unused(send)?;
    f.b.expect_state(&b_before, "insert_right(MOVE_SEND) into used names")?;
    // Into A's own space: only once the copy-in has freed the name does
    // A hold no other name for the port, so the name in use is what fails.
    f.a.mod_refs(TASK, f.send, SEND, -1).succeeds()?;
    f.a.insert_right(TASK, f.port_set, f.send, MOVE_SEND)
        .gives(KERN_NAME_EXISTS)?;
    f.a.expect_unused(f.send)?;
    f.a.expect_entry(f.port_set, PortType::PORT_SET, 0)?;
    c.expect_receive(c_port)
}

fn insert_right_move_send_once_into_used_name_gives_name_exists_and_consumes_the_right(
    _: &mut Ctx,
) -> TestResult {
    let f = F::new()?;
    let used = Used::new(&f)?;
    let b_before = f.b.state()?;
    for &name in &used.names {
        let so = f.a.new_send_once(f.receive)?;
        f.a.insert_right(f.tb, name, so, MOVE_SEND_ONCE)
            .gives(KERN_NAME_EXISTS)?;
        f.a.expect_unused(so)?;
    }
    f.b.expect_state(&b_before, "insert_right(MOVE_SEND_ONCE) into used names")?;
    let a_before = f.a.state()?;
    f.a.insert_right(TASK, f.dead_name, f.send_once, MOVE_SEND_ONCE)
        .gives(KERN_NAME_EXISTS)?;
    f.a.expect_state_is(
        &a_before.without(&[f.send_once]),
        "insert_right(MOVE_SEND_ONCE) onto a dead name",
    )?;
    // The port is alive: its receive right is untouched.
    f.a.expect_receive(f.receive)
}

fn insert_right_move_receive_into_used_name_gives_name_exists_and_destroys_the_port(
    _: &mut Ctx,
) -> TestResult {
    let f = F::new()?;
    let used = Used::new(&f)?;
    let c = TestSpace::open_as("C")?;
    let tc = f.a.task_for(&c)?;
    let b_before = f.b.state()?;
    for &name in &used.names {
        // A port with send rights elsewhere (in C): they die with it.
        let port = f.a.new_receive()?;
        f.a.insert_right(tc, N1, port, MAKE_SEND).succeeds()?;
        f.a.insert_right(tc, N1, port, MAKE_SEND).succeeds()?;
        f.a.insert_right(tc, N2, port, MAKE_SEND_ONCE).succeeds()?;
        c.expect_send(N1, 2)?;
        f.a.insert_right(f.tb, name, port, MOVE_RECEIVE)
            .gives(KERN_NAME_EXISTS)?;
        f.a.expect_unused(port)?;
        c.expect_dead(N1, 2)?;
        c.expect_dead(N2, 1)?;
        c.destroy(TASK, N1).succeeds()?;
        c.destroy(TASK, N2).succeeds()?;
    }
    f.b.expect_state(&b_before, "insert_right(MOVE_RECEIVE) into used names")?;
    // A receive right with send rights under its name: the name keeps
    // them, dead.
    f.a.insert_right(f.tb, TASK, f.send_receive, MOVE_RECEIVE)
        .gives(KERN_NAME_EXISTS)?;
    f.a.expect_dead(f.send_receive, 2)?;
    // Into A's own space: the same.
    f.a.insert_right(tc, N1, f.receive, MAKE_SEND).succeeds()?;
    f.a.insert_right(TASK, f.port_set, f.receive, MOVE_RECEIVE)
        .gives(KERN_NAME_EXISTS)?;
    f.a.expect_unused(f.receive)?;
    // The send-once right A held to it is dead too.
    f.a.expect_dead(f.send_once, 1)?;
    c.expect_dead(N1, 1)?;
    f.a.expect_entry(f.port_set, PortType::PORT_SET, 0)?;
    f.b.expect_state(&b_before, "insert_right(MOVE_RECEIVE) into used names")
}

fn insert_right_send_once_onto_a_name_for_the_same_port_gives_name_exists(
    _: &mut Ctx,
) -> TestResult {
    let f = F::new()?;
    // In A's own space: onto the receive right's own name.
    let mut calls = vec![
        (TASK, f.receive, f.receive, MAKE_SEND_ONCE),
        (TASK, f.send_receive, f.send_receive, MAKE_SEND_ONCE),
        (TASK, f.send_once, f.receive, MAKE_SEND_ONCE),
    ];
    // In B: onto a send right and a send-once right to the same port.
    f.a.insert_right(f.tb, N1, f.receive, MAKE_SEND)
        .succeeds()?;
    f.a.insert_right(f.tb, N2, f.receive, MAKE_SEND_ONCE)
        .succeeds()?;
    calls.push((f.tb, N1, f.receive, MAKE_SEND_ONCE));
    calls.push((f.tb, N2, f.receive, MAKE_SEND_ONCE));
    f.each_gives(&calls, KERN_NAME_EXISTS)?;
    let b_before = f.b.state()?;
    let so = f.a.new_send_once(f.receive)?;
    f.a.insert_right(f.tb, N1, so, MOVE_SEND_ONCE)
        .gives(KERN_NAME_EXISTS)?;
    f.a.expect_unused(so)?;
    f.b.expect_state(
        &b_before,
        "insert_right(MOVE_SEND_ONCE) onto a send right for the same port",
    )
}

fn insert_right_send_onto_a_send_once_name_for_the_same_port_gives_name_exists(
    _: &mut Ctx,
) -> TestResult {
    let f = F::new()?;
    f.a.insert_right(f.tb, N1, f.send_receive, MAKE_SEND_ONCE)
        .succeeds()?;
    let calls = [
        (f.tb, N1, f.send_receive, MAKE_SEND),
        (f.tb, N1, f.send_receive, COPY_SEND),
        (TASK, f.send_once, f.receive, MAKE_SEND),
    ];
    // In A's own space, `receive` is held under its own name, so a send
    // right under another name is refused as KERN_RIGHT_EXISTS instead.
    f.each_gives(&calls[..2], KERN_NAME_EXISTS)?;
    f.each_gives(&calls[2..], KERN_RIGHT_EXISTS)?;
    // A receive right onto it: refused, and the port destroyed.
    f.a.insert_right(f.tb, N1, f.send_receive, MOVE_RECEIVE)
        .gives(KERN_NAME_EXISTS)?;
    f.b.expect_dead(N1, 1)?;
    f.a.expect_dead(f.send_receive, 2)
}

fn insert_right_send_under_a_second_name_gives_right_exists(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    // B holds a send right to `send_receive` under N1, and the receive
    // right of a port A has a send right to under N2.
    f.a.insert_right(f.tb, N1, f.send_receive, MAKE_SEND)
        .succeeds()?;
    let moved = f.a.new_send_receive(1)?;
    f.a.insert_right(f.tb, N2, moved, MOVE_RECEIVE).succeeds()?;
    f.a.expect_send(moved, 1)?;
    let mut calls = Vec::new();
    // Checked before the name: also onto a name in use.
    for name in [N3, TASK, N2] {
        calls.push((f.tb, name, f.send_receive, MAKE_SEND));
        calls.push((f.tb, name, f.send_receive, COPY_SEND));
    }
    for name in [N3, TASK, N1] {
        calls.push((f.tb, name, moved, COPY_SEND));
    }
    // In A's own space.
    for name in [N3, f.port_set, f.dead_name, TASK, f.send_receive] {
        calls.push((TASK, name, f.receive, MAKE_SEND));
    }
    for name in [N3, f.port_set, f.receive] {
        calls.push((TASK, name, f.send_receive, MAKE_SEND));
        calls.push((TASK, name, f.send_receive, COPY_SEND));
        calls.push((TASK, name, f.send, COPY_SEND));
        calls.push((TASK, name, TASK, COPY_SEND));
    }
    f.each_gives(&calls, KERN_RIGHT_EXISTS)?;
    f.b.expect_send(N1, 1)?;
    f.b.expect_receive(N2)
}

fn insert_right_move_send_under_a_second_name_gives_right_exists_and_consumes_the_reference(
    _: &mut Ctx,
) -> TestResult {
    let f = F::new()?;
    f.a.insert_right(f.tb, N1, f.send_receive, MAKE_SEND)
        .succeeds()?;
    let b_before = f.b.state()?;
    f.a.insert_right(f.tb, N2, f.send_receive, MOVE_SEND)
        .gives(KERN_RIGHT_EXISTS)?;
    f.a.expect_send_receive(f.send_receive, 1)?;
    f.a.insert_right(f.tb, TASK, f.send_receive, MOVE_SEND)
        .gives(KERN_RIGHT_EXISTS)?;
    f.a.expect_receive(f.send_receive)?;
    f.b.expect_state(&b_before, "insert_right(MOVE_SEND) under a second name")?;
    // In A's own space: the name keeps the send right while it has
    // references left, so the right exists under it.
    f.a.insert_right(TASK, N3, f.send, MOVE_SEND)
        .gives(KERN_RIGHT_EXISTS)?;
    f.a.expect_send(f.send, 1)?;
    f.a.expect_unused(N3)?;
    // A's receive name with a send right: the receive right stays, so
    // the right exists even at the last reference.
    let sr = f.a.new_send_receive(1)?;
    f.a.insert_right(TASK, N3, sr, MOVE_SEND)
        .gives(KERN_RIGHT_EXISTS)?;
    f.a.expect_receive(sr)?;
    f.a.expect_unused(N3)
}

fn insert_right_receive_under_a_second_name_gives_right_exists_and_destroys_the_port(
    _: &mut Ctx,
) -> TestResult {
    let f = F::new()?;
    // B holds a send right (2 references) to `receive` under N1.
    f.a.insert_right(f.tb, N1, f.receive, MAKE_SEND)
        .succeeds()?;
    f.a.insert_right(f.tb, N1, f.receive, MAKE_SEND)
        .succeeds()?;
    f.a.insert_right(f.tb, N2, f.receive, MOVE_RECEIVE)
        .gives(KERN_RIGHT_EXISTS)?;
    f.a.expect_unused(f.receive)?;
    f.b.expect_dead(N1, 2)?;
    f.b.expect_unused(N2)?;
    // The send-once right A held to it died too.
    f.a.expect_dead(f.send_once, 1)?;
    // In A's own space: a receive right whose name keeps send rights.
    let sr = f.a.new_send_receive(3)?;
    f.a.insert_right(TASK, N3, sr, MOVE_RECEIVE)
        .gives(KERN_RIGHT_EXISTS)?;
    f.a.expect_dead(sr, 3)?;
    f.a.expect_unused(N3)
}

fn insert_right_send_once_skips_the_right_exists_check(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    // A holds `receive` under its own name, and a send-once right to it.
    let n = f.a.unused_name(0x4d53_4f03)?;
    f.a.insert_right(TASK, n, f.receive, MAKE_SEND_ONCE)
        .succeeds()?;
    f.a.expect_send_once(n)?;
    f.a.expect_receive(f.receive)?;
    // B holds a send right to it under N1: send-once rights under other
    // names are still allowed.
    f.a.insert_right(f.tb, N1, f.receive, MAKE_SEND)
        .succeeds()?;
    f.a.insert_right(f.tb, N2, f.receive, MAKE_SEND_ONCE)
        .succeeds()?;
    f.a.insert_right(f.tb, N3, f.send_once, MOVE_SEND_ONCE)
        .succeeds()?;
    f.b.expect_send(N1, 1)?;
    f.b.expect_send_once(N2)?;
    f.b.expect_send_once(N3)?;
    f.a.expect_unused(f.send_once)
}

fn insert_right_beyond_urefs_max_gives_urefs_overflow_and_changes_nothing(
    _: &mut Ctx,
) -> TestResult {
    let f = F::new()?;
    // In A's own space: the receive right's name with a full send right.
    f.a.mod_refs(TASK, f.send_receive, SEND, (UREFS_MAX - 2) as i32)
        .succeeds()?;
    f.a.expect_send_receive(f.send_receive, UREFS_MAX)?;
    let calls = [
        (TASK, f.send_receive, f.send_receive, MAKE_SEND),
        (TASK, f.send_receive, f.send_receive, COPY_SEND),
    ];
    f.each_gives(&calls, KERN_UREFS_OVERFLOW)?;
    // In B: a send right one short of full, then full.
    f.a.insert_right(f.tb, N1, f.receive, MAKE_SEND)
        .succeeds()?;
    f.b.mod_refs(TASK, N1, SEND, (UREFS_MAX - 2) as i32)
        .succeeds()?;
    f.b.expect_send(N1, UREFS_MAX - 1)?;
    f.a.insert_right(f.tb, N1, f.receive, MAKE_SEND)
        .succeeds()?;
    f.b.expect_send(N1, UREFS_MAX)?;
    f.each_gives(&[(f.tb, N1, f.receive, MAKE_SEND)], KERN_UREFS_OVERFLOW)?;
    // A copied send right, into a full name.
    let sr = f.a.new_send_receive(2)?;
    f.a.insert_right(f.tb, N2, sr, COPY_SEND).succeeds()?;
    f.b.mod_refs(TASK, N2, SEND, (UREFS_MAX - 1) as i32)
        .succeeds()?;
    f.each_gives(
        &[(f.tb, N2, sr, COPY_SEND), (f.tb, N2, sr, MAKE_SEND)],
        KERN_UREFS_OVERFLOW,
    )?;
    f.b.expect_send(N2, UREFS_MAX)?;
    f.a.expect_send_receive(sr, 2)
}

fn insert_right_move_send_beyond_urefs_max_gives_urefs_overflow_and_consumes_the_reference(
    _: &mut Ctx,
) -> TestResult {
    let f = F::new()?;
    f.a.insert_right(f.tb, N1, f.send_receive, MAKE_SEND)
        .succeeds()?;
    f.b.mod_refs(TASK, N1, SEND, (UREFS_MAX - 1) as i32)
        .succeeds()?;
    let b_before = f.b.state()?;
    f.a.insert_right(f.tb, N1, f.send_receive, MOVE_SEND)
        .gives(KERN_UREFS_OVERFLOW)?;
    f.a.expect_send_receive(f.send_receive, 1)?;
    f.a.insert_right(f.tb, N1, f.send_receive, MOVE_SEND)
        .gives(KERN_UREFS_OVERFLOW)?;
    f.a.expect_receive(f.send_receive)?;
    f.b.expect_state(&b_before, "insert_right(MOVE_SEND) into a full send right")?;
    f.b.expect_send(N1, UREFS_MAX)
}

fn insert_right_move_receive_onto_a_full_send_right_does_not_overflow(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    f.a.insert_right(f.tb, N1, f.receive, MAKE_SEND)
        .succeeds()?;
    f.b.mod_refs(TASK, N1, SEND, (UREFS_MAX - 1) as i32)
        .succeeds()?;
    // The receive right adds no user reference.
    f.a.insert_right(f.tb, N1, f.receive, MOVE_RECEIVE)
        .succeeds()?;
    f.b.expect_send_receive(N1, UREFS_MAX)?;
    f.a.expect_unused(f.receive)?;
    // A's send-once right now names a port in B.
    f.a.expect_send_once(f.send_once)
}

fn insert_right_move_send_onto_its_own_name_changes_nothing(_: &mut Ctx) -> TestResult {
    // One reference is taken by the copy-in and given back by the copy-out
    // under the same name, at 0xFFFF and at 1 alike.
    let f = F::new()?;
    f.a.mod_refs(TASK, f.send_receive, SEND, (UREFS_MAX - 2) as i32)
        .succeeds()?;
    let sr1 = f.a.new_send_receive(1)?;
    f.a.mod_refs(TASK, f.send, SEND, -1).succeeds()?;
    let before = f.a.state()?;
    for name in [f.send_receive, sr1, f.send] {
        f.a.insert_right(TASK, name, name, MOVE_SEND).succeeds()?;
    }
    f.a.expect_state(&before, "insert_right(MOVE_SEND) of names onto themselves")?;
    f.a.expect_send_receive(f.send_receive, UREFS_MAX)?;
    f.a.expect_send(f.send, 1)
}

fn failed_insert_right_copy_send_changes_nothing_in_either_space(_: &mut Ctx) -> TestResult {
    let f = F::new()?;
    let used = Used::new(&f)?;
    // B's send right to `send_receive` under N1, full; to `send`'s port
    // (B's own receive right) under b_port.
    f.a.insert_right(f.tb, N1, f.send_receive, MAKE_SEND)
        .succeeds()?;
    f.b.mod_refs(TASK, N1, SEND, (UREFS_MAX - 1) as i32)
        .succeeds()?;
    let before = f.states()?;
    for &name in &used.names {
        // `send` names B's port `b_port`: B holds it under that name.
        if name != f.b_port {
            f.a.insert_right(f.tb, name, f.send, COPY_SEND)
                .gives(KERN_RIGHT_EXISTS)?;
        }
    }
    f.a.insert_right(f.tb, N2, f.send_receive, COPY_SEND)
        .gives(KERN_RIGHT_EXISTS)?;
    f.a.insert_right(f.tb, N1, f.send_receive, COPY_SEND)
        .gives(KERN_UREFS_OVERFLOW)?;
    f.a.insert_right(f.tb, N4, TASK, COPY_SEND)
        .gives(KERN_NAME_EXISTS)?;
    f.a.insert_right(f.tb, N3, TASK, COPY_SEND)
        .gives(KERN_NAME_EXISTS)?;
    // B holds its own task port under its task-self name.
    f.a.insert_right(f.tb, N1, f.tb, COPY_SEND)
        .gives(KERN_RIGHT_EXISTS)?;
    f.expect_states(&before, "failed insert_right(COPY_SEND) calls")
}
