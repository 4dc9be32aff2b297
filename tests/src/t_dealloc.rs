//! mach_port_deallocate and mach_port_destroy.

use mach::{sys, PortName, PortType};

use crate::check::*;
use crate::t_task::{every_call_gives_invalid_task, Victims};
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    deallocate_null_and_dead_succeed,
    deallocate_unused_name_gives_invalid_name,
    deallocate_dead_name_releases_one_user_reference,
    deallocate_port_set_destroys_it,
    deallocate_receive_right_gives_invalid_right_and_keeps_it,
    deallocate_task_self_makes_every_call_give_invalid_task,
    destroy_null_and_dead_succeed,
    destroy_unused_name_gives_invalid_name,
    destroy_receive_right_frees_the_name,
    destroy_port_set_frees_the_name,
    destroy_dead_name_frees_it_whatever_its_references,
    destroy_task_self_makes_every_call_give_invalid_task,
];

fn deallocate_null_and_dead_succeed(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    s.new_receive()?;
    s.new_dead_name(2)?;
    let before = s.state()?;
    s.deallocate(TASK, NULL).succeeds()?;
    s.deallocate(TASK, DEAD).succeeds()?;
    s.expect_state(&before, "deallocate of NULL and DEAD")
}

fn deallocate_unused_name_gives_invalid_name(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let freed = s.new_dead_name(1)?;
    s.deallocate(TASK, freed).succeeds()?;
    s.new_receive()?;
    let before = s.state()?;
    for name in [freed, PortName(0x1234_5678), PortName(0x107)] {
        s.deallocate(TASK, name).gives(KERN_INVALID_NAME)?;
    }
    s.expect_state(&before, "deallocate of unused names")
}

fn deallocate_dead_name_releases_one_user_reference(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let name = s.new_dead_name(3)?;
    for refs in [2, 1] {
        s.deallocate(TASK, name).succeeds()?;
        s.expect_type(name, PortType::DEAD_NAME)?;
        s.expect_refs(name, DEAD_NAME, refs)?;
    }
    s.deallocate(TASK, name).succeeds()?;
    s.expect_unused(name)?;
    s.deallocate(TASK, name).gives(KERN_INVALID_NAME)?;
    s.expect_only_task_self()
}

fn deallocate_port_set_destroys_it(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    s.deallocate(TASK, set).succeeds()?;
    s.expect_unused(set)?;
    s.deallocate(TASK, set).gives(KERN_INVALID_NAME)?;
    s.expect_only_task_self()
}

fn deallocate_receive_right_gives_invalid_right_and_keeps_it(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let port = s.new_receive()?;
    let before = s.state()?;
    s.deallocate(TASK, port).gives(KERN_INVALID_RIGHT)?;
    s.expect_state(&before, "deallocate of a receive right")?;
    s.expect_type(port, PortType::RECEIVE)?;
    s.expect_refs(port, RECEIVE, 1)
}

/// After `remove` takes away the task-self send right, every call with that
/// name gives KERN_INVALID_TASK; the version call, which takes no task,
/// still works; and a new space has its own task-self name again.
fn without_task_self(remove: fn(&TestSpace) -> TestResult) -> TestResult {
    let s = TestSpace::open()?;
    let victims = Victims::new(&s)?;
    remove(&s)?;
    every_call_gives_invalid_task(&s, TASK, &victims)?;
    s.api_version().returns(sys::MACH_API_VERSION)?;
    drop(s);
    TestSpace::open()?.expect_only_task_self()
}

fn deallocate_task_self_makes_every_call_give_invalid_task(_: &mut Ctx) -> TestResult {
    without_task_self(|s| s.deallocate(TASK, TASK).succeeds())
}

fn destroy_null_and_dead_succeed(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    s.new_receive()?;
    s.new_port_set()?;
    let before = s.state()?;
    s.destroy(TASK, NULL).succeeds()?;
    s.destroy(TASK, DEAD).succeeds()?;
    s.expect_state(&before, "destroy of NULL and DEAD")
}

fn destroy_unused_name_gives_invalid_name(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let freed = s.new_receive()?;
    s.destroy(TASK, freed).succeeds()?;
    s.new_dead_name(1)?;
    let before = s.state()?;
    for name in [freed, PortName(0x1234_5678), PortName(0x107)] {
        s.destroy(TASK, name).gives(KERN_INVALID_NAME)?;
    }
    s.expect_state(&before, "destroy of unused names")
}

/// Destroying the one right `name` holds frees the name and touches
/// nothing else.
fn destroy_frees(s: &TestSpace, name: PortName) -> TestResult {
    let other = s.new_receive()?;
    let mut before = s.names(TASK).succeeds()?;
    before.retain(|(n, _)| *n != name);
    s.destroy(TASK, name).succeeds()?;
    s.expect_unused(name)?;
    s.destroy(TASK, name).gives(KERN_INVALID_NAME)?;
    s.expect_names(&before)?;
    s.destroy(TASK, other).succeeds()?;
    s.expect_only_task_self()
}

fn destroy_receive_right_frees_the_name(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let port = s.new_receive()?;
    destroy_frees(&s, port)
}

fn destroy_port_set_frees_the_name(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    destroy_frees(&s, set)
}

fn destroy_dead_name_frees_it_whatever_its_references(_: &mut Ctx) -> TestResult {
    for refs in [1, 2, UREFS_MAX] {
        let s = TestSpace::open()?;
        let name = s.new_dead_name(refs)?;
        destroy_frees(&s, name)?;
    }
    Ok(())
}

fn destroy_task_self_makes_every_call_give_invalid_task(_: &mut Ctx) -> TestResult {
    without_task_self(|s| {
        // Whatever its references.
        s.mod_refs(TASK, TASK, SEND, 4).succeeds()?;
        s.destroy(TASK, TASK).succeeds()
    })
}
