//! The task argument: anything but a send right to a live task port gives
//! KERN_INVALID_TASK, checked before everything else, and changes nothing.
//! (Task names from task_for_fd are in t_task_for_fd.rs.)

use mach::{PortName, PortRight};

use crate::check::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    null_task_gives_invalid_task,
    dead_task_gives_invalid_task,
    unused_name_as_task_gives_invalid_task,
    receive_right_as_task_gives_invalid_task,
    port_set_as_task_gives_invalid_task,
    dead_name_as_task_gives_invalid_task,
];

/// Rights for the calls to aim at, so that a call that ignored its task
/// would visibly change something.
pub struct Victims {
    pub receive: PortName,
    pub port_set: PortName,
    pub dead_name: PortName,
    pub unused: PortName,
}

impl Victims {
    pub fn new(s: &TestSpace) -> Result<Victims, String> {
        Ok(Victims {
            receive: s.new_receive()?,
            port_set: s.new_port_set()?,
            dead_name: s.new_dead_name(2)?,
            unused: s.unused_name(0x4d00_0003)?,
        })
    }
}

/// Every call with `task` gives KERN_INVALID_TASK, whatever its other
/// arguments: valid ones and ones that would give another error.
pub fn every_call_gives_invalid_task(s: &TestSpace, task: PortName, v: &Victims) -> TestResult {
    for right in ALLOCATABLE
        .into_iter()
        .chain([SEND, PortRight(0xffff_ffff)])
    {
        s.allocate(task, right).gives(KERN_INVALID_TASK)?;
    }
    for name in [v.unused, NULL, DEAD, TASK, v.receive] {
        s.allocate_name(task, RECEIVE, name)
            .gives(KERN_INVALID_TASK)?;
    }
    s.allocate_name(task, SEND_ONCE, v.unused)
        .gives(KERN_INVALID_TASK)?;
    for name in [
        v.receive,
        v.port_set,
        v.dead_name,
        TASK,
        NULL,
        DEAD,
        v.unused,
    ] {
        s.port_type(task, name).gives(KERN_INVALID_TASK)?;
    }
    s.names(task).gives(KERN_INVALID_TASK)?;
    for (name, right) in [
        (v.dead_name, DEAD_NAME),
        (v.receive, RECEIVE),
        (TASK, SEND),
        (NULL, SEND),
        (DEAD, SEND_ONCE),
        (v.unused, RECEIVE),
        (v.receive, RIGHT_NUMBER),
    ] {
        s.get_refs(task, name, right).gives(KERN_INVALID_TASK)?;
    }
    for (name, right, delta) in [
        (v.dead_name, DEAD_NAME, 1),
        (v.dead_name, DEAD_NAME, -2),
        (v.receive, RECEIVE, -1),
        (v.port_set, PORT_SET, -1),
        (TASK, SEND, 1),
        (NULL, SEND, 1),
        (DEAD, RECEIVE, 0),
        (v.unused, DEAD_NAME, 1),
        (v.receive, LABELH, 0),
        (v.receive, PortRight(0xffff_ffff), 0),
    ] {
        s.mod_refs(task, name, right, delta)
            .gives(KERN_INVALID_TASK)?;
    }
    for name in [
        v.dead_name,
        v.port_set,
        v.receive,
        TASK,
        NULL,
        DEAD,
        v.unused,
    ] {
        s.deallocate(task, name).gives(KERN_INVALID_TASK)?;
    }
    for name in [
        v.receive,
        v.port_set,
        v.dead_name,
        TASK,
        NULL,
        DEAD,
        v.unused,
    ] {
        s.destroy(task, name).gives(KERN_INVALID_TASK)?;
    }
    for (name, poly, disposition) in [
        (v.unused, v.receive, MOVE_RECEIVE),
        (v.unused, v.receive, MAKE_SEND),
        (v.receive, v.receive, MAKE_SEND),
        (v.unused, v.receive, MAKE_SEND_ONCE),
        (v.unused, TASK, MOVE_SEND),
        (v.unused, TASK, COPY_SEND),
        (v.unused, v.dead_name, MOVE_SEND),
        (v.unused, v.dead_name, MOVE_SEND_ONCE),
        (NULL, v.receive, MOVE_RECEIVE),
        (v.unused, NULL, COPY_SEND),
        (v.unused, v.unused, COPY_SEND),
        (v.unused, v.port_set, MAKE_SEND),
        (v.unused, v.receive, MsgTypeName(0)),
    ] {
        s.insert_right(task, name, poly, disposition)
            .gives(KERN_INVALID_TASK)?;
    }
    for (name, disposition) in [
        (v.receive, MOVE_RECEIVE),
        (v.receive, MAKE_SEND),
        (v.receive, MAKE_SEND_ONCE),
        (TASK, MOVE_SEND),
        (TASK, COPY_SEND),
        (v.dead_name, MOVE_SEND),
        (v.dead_name, MOVE_SEND_ONCE),
        (NULL, MAKE_SEND),
        (DEAD, COPY_SEND),
        (v.unused, COPY_SEND),
        (v.port_set, MOVE_RECEIVE),
        (v.receive, MsgTypeName(0)),
    ] {
        s.extract_right(task, name, disposition)
            .gives(KERN_INVALID_TASK)?;
    }
    Ok(())
}

/// Runs every call with the task `make` gives and checks nothing changed.
fn bad_task(make: fn(&TestSpace) -> Result<PortName, String>) -> TestResult {
    let s = TestSpace::open()?;
    let victims = Victims::new(&s)?;
    let task = make(&s)?;
    let before = s.state()?;
    every_call_gives_invalid_task(&s, task, &victims)?;
    s.expect_state(&before, &format!("every call with task {task:?}"))
}

fn null_task_gives_invalid_task(_: &mut Ctx) -> TestResult {
    bad_task(|_| Ok(NULL))
}

fn dead_task_gives_invalid_task(_: &mut Ctx) -> TestResult {
    bad_task(|_| Ok(DEAD))
}

fn unused_name_as_task_gives_invalid_task(_: &mut Ctx) -> TestResult {
    bad_task(|s| s.unused_name(0x1234_5678))
}

fn receive_right_as_task_gives_invalid_task(_: &mut Ctx) -> TestResult {
    bad_task(|s| s.new_receive())
}

fn port_set_as_task_gives_invalid_task(_: &mut Ctx) -> TestResult {
    bad_task(|s| s.new_port_set())
}

fn dead_name_as_task_gives_invalid_task(_: &mut Ctx) -> TestResult {
    bad_task(|s| s.new_dead_name(1))
}
