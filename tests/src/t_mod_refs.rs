//! mach_port_mod_refs, rule by rule.

use mach::{PortName, PortRight, PortType};

use crate::check::*;
use crate::t_task::{every_call_gives_invalid_task, Victims};
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    mod_refs_right_number_and_above_gives_invalid_value,
    mod_refs_null_and_dead_send_rights_succeed_and_change_nothing,
    mod_refs_null_and_dead_other_rights_give_invalid_name,
    mod_refs_unused_name_gives_invalid_name,
    mod_refs_receive_zero_changes_nothing,
    mod_refs_receive_minus_one_destroys_port,
    mod_refs_receive_other_deltas_give_invalid_value,
    mod_refs_receive_without_receive_right_gives_invalid_right,
    mod_refs_port_set_zero_changes_nothing,
    mod_refs_port_set_minus_one_destroys_port_set,
    mod_refs_port_set_other_deltas_give_invalid_value,
    mod_refs_port_set_without_port_set_gives_invalid_right,
    mod_refs_dead_name_counts_up_to_urefs_max,
    mod_refs_dead_name_beyond_urefs_max_gives_urefs_overflow,
    mod_refs_dead_name_below_zero_gives_invalid_value,
    mod_refs_dead_name_to_zero_frees_the_name,
    mod_refs_dead_name_zero_changes_nothing,
    mod_refs_dead_name_without_dead_name_gives_invalid_right,
    mod_refs_send_on_task_self_follows_the_user_reference_rules,
    mod_refs_send_to_zero_frees_task_self_and_every_call_gives_invalid_task,
    mod_refs_send_without_send_right_gives_invalid_right,
    mod_refs_send_once_not_held_gives_invalid_right,
    mod_refs_labelh_gives_invalid_right,
];

/// Deltas other than 0 and -1, for rights that take only those.
const OTHER_DELTAS: [i32; 7] = [1, -2, 2, 0x1_0000, -0x1_0000, i32::MAX, i32::MIN];

/// Small deltas, for rules that do not look at the delta.
const ANY_DELTAS: [i32; 5] = [0, -1, 1, i32::MAX, i32::MIN];

/// A space with one right of each kind (besides the task-self name).
struct Fixture {
    s: TestSpace,
    receive: PortName,
    port_set: PortName,
    dead_name: PortName,
}

impl Fixture {
    fn new() -> Result<Fixture, String> {
        let s = TestSpace::open()?;
        let receive = s.new_receive()?;
        let port_set = s.new_port_set()?;
        let dead_name = s.new_dead_name(2)?;
        Ok(Fixture {
            s,
            receive,
            port_set,
            dead_name,
        })
    }
}

/// Every (name, right, delta) gives `kr`, and the space is unchanged after.
fn each_gives(
    s: &TestSpace,
    names: &[PortName],
    rights: &[PortRight],
    deltas: &[i32],
    kr: mach::KernReturn,
) -> TestResult {
    let before = s.state()?;
    for &name in names {
        for &right in rights {
            for &delta in deltas {
                s.mod_refs(TASK, name, right, delta).gives(kr)?;
            }
        }
    }
    s.expect_state(&before, &format!("mod_refs calls that give {kr}"))
}

fn mod_refs_right_number_and_above_gives_invalid_value(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let unused = f.s.unused_name(0x4d00_0003)?;
    let rights = [
        RIGHT_NUMBER,
        PortRight(7),
        PortRight(0x8000_0000),
        PortRight(0xffff_ffff),
    ];
    // The right is checked before the name.
    let names = [TASK, f.receive, f.port_set, f.dead_name, NULL, DEAD, unused];
    each_gives(&f.s, &names, &rights, &ANY_DELTAS, KERN_INVALID_VALUE)
}

fn mod_refs_null_and_dead_send_rights_succeed_and_change_nothing(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    each_gives(
        &f.s,
        &[NULL, DEAD],
        &[SEND, SEND_ONCE],
        &ANY_DELTAS,
        KERN_SUCCESS,
    )
}

fn mod_refs_null_and_dead_other_rights_give_invalid_name(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    each_gives(
        &f.s,
        &[NULL, DEAD],
        &[RECEIVE, PORT_SET, DEAD_NAME, LABELH],
        &ANY_DELTAS,
        KERN_INVALID_NAME,
    )
}

fn mod_refs_unused_name_gives_invalid_name(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let freed = f.s.new_dead_name(1)?;
    f.s.destroy(TASK, freed).succeeds()?;
    let names = [PortName(0x1234_5678), PortName(0x107), freed];
    each_gives(&f.s, &names, &ALL_RIGHTS, &ANY_DELTAS, KERN_INVALID_NAME)
}

fn mod_refs_receive_zero_changes_nothing(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    each_gives(&f.s, &[f.receive], &[RECEIVE], &[0], KERN_SUCCESS)?;
    f.s.expect_type(f.receive, PortType::RECEIVE)?;
    f.s.expect_refs(f.receive, RECEIVE, 1)
}

fn mod_refs_receive_minus_one_destroys_port(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let port = s.new_receive()?;
    s.mod_refs(TASK, port, RECEIVE, -1).succeeds()?;
    s.expect_unused(port)?;
    s.get_refs(TASK, port, RECEIVE).gives(KERN_INVALID_NAME)?;
    s.mod_refs(TASK, port, RECEIVE, -1)
        .gives(KERN_INVALID_NAME)?;
    s.expect_only_task_self()
}

fn mod_refs_receive_other_deltas_give_invalid_value(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    each_gives(
        &f.s,
        &[f.receive],
        &[RECEIVE],
        &OTHER_DELTAS,
        KERN_INVALID_VALUE,
    )
}

fn mod_refs_receive_without_receive_right_gives_invalid_right(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    // The right is checked before the delta.
    let deltas = [0, -1, 1, -2, i32::MIN];
    each_gives(
        &f.s,
        &[TASK, f.port_set, f.dead_name],
        &[RECEIVE],
        &deltas,
        KERN_INVALID_RIGHT,
    )
}

fn mod_refs_port_set_zero_changes_nothing(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    each_gives(&f.s, &[f.port_set], &[PORT_SET], &[0], KERN_SUCCESS)?;
    f.s.expect_type(f.port_set, PortType::PORT_SET)?;
    f.s.expect_refs(f.port_set, PORT_SET, 1)
}

fn mod_refs_port_set_minus_one_destroys_port_set(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    s.mod_refs(TASK, set, PORT_SET, -1).succeeds()?;
    s.expect_unused(set)?;
    s.mod_refs(TASK, set, PORT_SET, -1)
        .gives(KERN_INVALID_NAME)?;
    s.expect_only_task_self()
}

fn mod_refs_port_set_other_deltas_give_invalid_value(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    each_gives(
        &f.s,
        &[f.port_set],
        &[PORT_SET],
        &OTHER_DELTAS,
        KERN_INVALID_VALUE,
    )
}

fn mod_refs_port_set_without_port_set_gives_invalid_right(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let deltas = [0, -1, 1, -2, i32::MIN];
    each_gives(
        &f.s,
        &[TASK, f.receive, f.dead_name],
        &[PORT_SET],
        &deltas,
        KERN_INVALID_RIGHT,
    )
}

fn mod_refs_dead_name_counts_up_to_urefs_max(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    // In one step.
    let one = s.new_dead_name(1)?;
    s.mod_refs(TASK, one, DEAD_NAME, (UREFS_MAX - 1) as i32)
        .succeeds()?;
    s.expect_refs(one, DEAD_NAME, UREFS_MAX)?;
    s.expect_type(one, PortType::DEAD_NAME)?;
    // Up the last steps one by one.
    let steps = s.new_dead_name(1)?;
    s.mod_refs(TASK, steps, DEAD_NAME, (UREFS_MAX - 17) as i32)
        .succeeds()?;
    for refs in (UREFS_MAX - 15)..=UREFS_MAX {
        s.mod_refs(TASK, steps, DEAD_NAME, 1).succeeds()?;
        s.expect_refs(steps, DEAD_NAME, refs)?;
    }
    s.expect_type(steps, PortType::DEAD_NAME)
}

fn mod_refs_dead_name_beyond_urefs_max_gives_urefs_overflow(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let full = s.new_dead_name(UREFS_MAX)?;
    let one = s.new_dead_name(1)?;
    let before = s.state()?;
    for delta in [1, 2, 0x1_0000, i32::MAX] {
        s.mod_refs(TASK, full, DEAD_NAME, delta)
            .gives(KERN_UREFS_OVERFLOW)?;
    }
    for delta in [UREFS_MAX as i32, 0x1_0000, i32::MAX] {
        s.mod_refs(TASK, one, DEAD_NAME, delta)
            .gives(KERN_UREFS_OVERFLOW)?;
    }
    s.expect_state(&before, "mod_refs past MACH_PORT_UREFS_MAX")?;
    s.expect_refs(full, DEAD_NAME, UREFS_MAX)?;
    s.expect_refs(one, DEAD_NAME, 1)
}

fn mod_refs_dead_name_below_zero_gives_invalid_value(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let three = s.new_dead_name(3)?;
    let one = s.new_dead_name(1)?;
    let full = s.new_dead_name(UREFS_MAX)?;
    let before = s.state()?;
    for delta in [-4, -0x1_0000, i32::MIN] {
        s.mod_refs(TASK, three, DEAD_NAME, delta)
            .gives(KERN_INVALID_VALUE)?;
    }
    for delta in [-2, i32::MIN] {
        s.mod_refs(TASK, one, DEAD_NAME, delta)
            .gives(KERN_INVALID_VALUE)?;
    }
    for delta in [-0x1_0000, i32::MIN] {
        s.mod_refs(TASK, full, DEAD_NAME, delta)
            .gives(KERN_INVALID_VALUE)?;
    }
    s.expect_state(&before, "mod_refs below zero")?;
    s.expect_refs(three, DEAD_NAME, 3)
}

fn mod_refs_dead_name_to_zero_frees_the_name(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    for refs in [1, 3, UREFS_MAX] {
        let name = s.new_dead_name(refs)?;
        s.mod_refs(TASK, name, DEAD_NAME, -(refs as i32))
            .succeeds()?;
        s.expect_unused(name)?;
        s.mod_refs(TASK, name, DEAD_NAME, 1)
            .gives(KERN_INVALID_NAME)?;
    }
    // Down one reference at a time.
    let name = s.new_dead_name(3)?;
    for refs in [2, 1] {
        s.mod_refs(TASK, name, DEAD_NAME, -1).succeeds()?;
        s.expect_refs(name, DEAD_NAME, refs)?;
    }
    s.mod_refs(TASK, name, DEAD_NAME, -1).succeeds()?;
    s.expect_unused(name)?;
    s.expect_only_task_self()
}

fn mod_refs_dead_name_zero_changes_nothing(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let one = s.new_dead_name(1)?;
    let full = s.new_dead_name(UREFS_MAX)?;
    each_gives(&s, &[one, full], &[DEAD_NAME], &[0], KERN_SUCCESS)?;
    s.expect_refs(one, DEAD_NAME, 1)?;
    s.expect_refs(full, DEAD_NAME, UREFS_MAX)
}

fn mod_refs_dead_name_without_dead_name_gives_invalid_right(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let deltas = [0, -1, 1, i32::MAX, i32::MIN];
    each_gives(
        &f.s,
        &[TASK, f.receive, f.port_set],
        &[DEAD_NAME],
        &deltas,
        KERN_INVALID_RIGHT,
    )
}

fn mod_refs_send_on_task_self_follows_the_user_reference_rules(_: &mut Ctx) -> TestResult {
    // A space of its own: the test changes the task-self send right.
    let s = TestSpace::open()?;
    s.mod_refs(TASK, TASK, SEND, 0).succeeds()?;
    s.expect_refs(TASK, SEND, 1)?;
    s.mod_refs(TASK, TASK, SEND, 2).succeeds()?;
    s.expect_refs(TASK, SEND, 3)?;
    for delta in [-4, -0x1_0000, i32::MIN] {
        s.mod_refs(TASK, TASK, SEND, delta)
            .gives(KERN_INVALID_VALUE)?;
        s.expect_refs(TASK, SEND, 3)?;
    }
    for delta in [(UREFS_MAX - 2) as i32, i32::MAX] {
        s.mod_refs(TASK, TASK, SEND, delta)
            .gives(KERN_UREFS_OVERFLOW)?;
        s.expect_refs(TASK, SEND, 3)?;
    }
    s.mod_refs(TASK, TASK, SEND, (UREFS_MAX - 3) as i32)
        .succeeds()?;
    s.expect_refs(TASK, SEND, UREFS_MAX)?;
    s.mod_refs(TASK, TASK, SEND, 1).gives(KERN_UREFS_OVERFLOW)?;
    s.expect_refs(TASK, SEND, UREFS_MAX)?;
    s.mod_refs(TASK, TASK, SEND, -((UREFS_MAX - 1) as i32))
        .succeeds()?;
    s.expect_only_task_self()?;
    // The task name still works.
    let port = s.new_receive()?;
    s.expect_type(port, PortType::RECEIVE)
}

fn mod_refs_send_to_zero_frees_task_self_and_every_call_gives_invalid_task(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let victims = Victims::new(&s)?;
    s.mod_refs(TASK, TASK, SEND, 1).succeeds()?;
    s.mod_refs(TASK, TASK, SEND, -2).succeeds()?;
    every_call_gives_invalid_task(&s, TASK, &victims)?;
    s.api_version().returns(mach::sys::MACH_API_VERSION)?;
    drop(s);
    TestSpace::open()?.expect_only_task_self()
}

fn mod_refs_send_without_send_right_gives_invalid_right(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let deltas = [0, -1, 1, i32::MAX, i32::MIN];
    each_gives(
        &f.s,
        &[f.receive, f.port_set, f.dead_name],
        &[SEND],
        &deltas,
        KERN_INVALID_RIGHT,
    )
}

fn mod_refs_send_once_not_held_gives_invalid_right(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let names = [TASK, f.receive, f.port_set, f.dead_name];
    each_gives(
        &f.s,
        &names,
        &[SEND_ONCE],
        &[0, -1, 1, -2, i32::MIN],
        KERN_INVALID_RIGHT,
    )
}

fn mod_refs_labelh_gives_invalid_right(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let names = [TASK, f.receive, f.port_set, f.dead_name];
    each_gives(&f.s, &names, &[LABELH], &[0, -1, 1], KERN_INVALID_RIGHT)
}
