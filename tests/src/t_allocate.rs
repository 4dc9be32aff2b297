//! mach_port_allocate, mach_port_allocate_name and mach_reply_port.

use std::collections::BTreeSet;

use mach::{sys, PortName, PortRight, PortType};

use crate::check::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    allocate_receive_gives_receive_right_with_one_reference,
    allocate_port_set_gives_port_set_with_one_reference,
    allocate_dead_name_gives_dead_name_with_one_user_reference,
    allocate_other_rights_give_invalid_value,
    allocate_gives_valid_distinct_names_never_task_self,
    allocate_does_not_hand_out_a_just_freed_name,
    allocate_never_returns_a_name_in_use,
    allocate_name_null_or_dead_gives_invalid_value,
    allocate_name_other_rights_give_invalid_value,
    allocate_name_in_use_gives_name_exists,
    allocate_name_accepts_any_other_name,
    allocate_name_with_a_used_index_and_another_generation_is_a_new_name,
    reply_port_gives_a_receive_right,
    allocate_after_freeing_the_highest_names_gives_valid_names,
];

/// A new right of kind `right`: valid, not the task-self name, of the right
/// type, with one reference for that right and none for the others, and
/// listed by names().
fn allocate_gives(right: PortRight) -> TestResult {
    let s = TestSpace::open()?;
    let name = s.allocate(TASK, right).succeeds()?;
    ensure(name.is_valid(), || {
        format!("allocate({}) gave the invalid name {name:?}", R(right))
    })?;
    ensure(name != TASK, || {
        format!("allocate({}) gave the task-self name", R(right))
    })?;
    s.expect_type(name, type_of(right))?;
    for r in ALL_RIGHTS {
        s.expect_refs(name, r, if r == right { 1 } else { 0 })?;
    }
    let mut want = vec![(TASK, PortType::SEND), (name, type_of(right))];
    want.sort_by_key(|&(name, _)| name);
    s.expect_names(&want)
}

fn allocate_receive_gives_receive_right_with_one_reference(_: &mut Ctx) -> TestResult {
    allocate_gives(RECEIVE)
}

fn allocate_port_set_gives_port_set_with_one_reference(_: &mut Ctx) -> TestResult {
    allocate_gives(PORT_SET)
}

fn allocate_dead_name_gives_dead_name_with_one_user_reference(_: &mut Ctx) -> TestResult {
    allocate_gives(DEAD_NAME)
}

fn allocate_other_rights_give_invalid_value(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    s.new_receive()?;
    let before = s.state()?;
    for right in NOT_ALLOCATABLE {
        s.allocate(TASK, right).gives(KERN_INVALID_VALUE)?;
    }
    s.expect_state(&before, "allocate with rights it does not create")
}

fn allocate_gives_valid_distinct_names_never_task_self(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let mut seen = BTreeSet::from([TASK]);
    let mut want = vec![(TASK, PortType::SEND)];
    for i in 0..600 {
        let right = ALLOCATABLE[i % 3];
        let name = s.allocate(TASK, right).succeeds()?;
        ensure(name.is_valid(), || {
            format!("allocate({}) gave the invalid name {name:?}", R(right))
        })?;
        ensure(seen.insert(name), || {
            format!(
                "allocate({}) gave {name:?}, a name already in use",
                R(right)
            )
        })?;
        want.push((name, type_of(right)));
    }
    want.sort_by_key(|&(name, _)| name);
    s.expect_names(&want)
}

fn allocate_does_not_hand_out_a_just_freed_name(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    // Each way of freeing a name, with the right it frees.
    for round in 0..50 {
        let name = s.new_receive()?;
        s.destroy(TASK, name).succeeds()?;
        let next = s.new_receive()?;
        ensure(next != name, || {
            format!("round {round}: allocate gave {name:?} again right after destroy")
        })?;

        s.mod_refs(TASK, next, RECEIVE, -1).succeeds()?;
        let set = s.new_port_set()?;
        ensure(set != next, || {
            format!("round {round}: allocate gave {next:?} again right after mod_refs -1")
        })?;

        s.deallocate(TASK, set).succeeds()?;
        let dead = s.new_dead_name(1)?;
        ensure(dead != set, || {
            format!("round {round}: allocate gave {set:?} again right after deallocate")
        })?;

        s.mod_refs(TASK, dead, DEAD_NAME, -1).succeeds()?;
        let again = s.new_receive()?;
        ensure(again != dead, || {
            format!("round {round}: allocate gave {dead:?} again right after mod_refs -1")
        })?;
        s.destroy(TASK, again).succeeds()?;
    }
    s.expect_only_task_self()
}

fn allocate_never_returns_a_name_in_use(ctx: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    // Take every name of the first 64 indices, every generation, as a
    // kernel that counts from the bottom would choose them.
    let mut taken = BTreeSet::from([TASK]);
    for n in 1..(64u32 << 8) {
        let name = PortName(n);
        if name != TASK {
            s.allocate_name(TASK, DEAD_NAME, name).succeeds()?;
            taken.insert(name);
        }
    }
    ctx.diag(format!("{} names taken by allocate_name", taken.len()));
    for i in 0..300 {
        let right = ALLOCATABLE[i % 3];
        let name = s.allocate(TASK, right).succeeds()?;
        ensure(name.is_valid(), || {
            format!("allocate({}) gave the invalid name {name:?}", R(right))
        })?;
        ensure(taken.insert(name), || {
            format!(
                "allocate({}) gave {name:?}, a name already in use",
                R(right)
            )
        })?;
        s.expect_type(name, type_of(right))?;
    }
    expect_eq("the name count", taken.len() as u32, s.count()?)
}

fn allocate_name_null_or_dead_gives_invalid_value(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let before = s.state()?;
    for right in ALLOCATABLE {
        for name in [NULL, DEAD] {
            s.allocate_name(TASK, right, name)
                .gives(KERN_INVALID_VALUE)?;
        }
    }
    s.expect_state(&before, "allocate_name of NULL and DEAD")
}

fn allocate_name_other_rights_give_invalid_value(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let used = s.new_receive()?;
    let unused = s.unused_name(0x4d00_0103)?;
    let before = s.state()?;
    for right in NOT_ALLOCATABLE {
        // The right is checked before the name: a name in use or an
        // invalid one still gives KERN_INVALID_VALUE.
        for name in [unused, used, TASK, NULL] {
            s.allocate_name(TASK, right, name)
                .gives(KERN_INVALID_VALUE)?;
        }
    }
    s.expect_state(&before, "allocate_name with rights it does not create")
}

fn allocate_name_in_use_gives_name_exists(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let receive = s.new_receive()?;
    let port_set = s.new_port_set()?;
    let dead_name = s.new_dead_name(3)?;
    let chosen = PortName(0x1234_5678);
    s.allocate_name(TASK, RECEIVE, chosen).succeeds()?;
    let before = s.state()?;
    for name in [TASK, receive, port_set, dead_name, chosen] {
        for right in ALLOCATABLE {
            s.allocate_name(TASK, right, name).gives(KERN_NAME_EXISTS)?;
        }
    }
    s.expect_state(&before, "allocate_name of names in use")
}

fn allocate_name_accepts_any_other_name(_: &mut Ctx) -> TestResult {
    const NAMES: [u32; 9] = [
        1,
        0xff,
        0x100,
        0x102,
        0x1234_5678,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_fffe,
        0x4d41_4348,
    ];
    for right in ALLOCATABLE {
        let s = TestSpace::open()?;
        let mut want = vec![(TASK, PortType::SEND)];
        for n in NAMES {
            let name = PortName(n);
            s.allocate_name(TASK, right, name).succeeds()?;
            s.expect_type(name, type_of(right))?;
            s.expect_refs(name, right, 1)?;
            want.push((name, type_of(right)));
        }
        want.sort_by_key(|&(name, _)| name);
        s.expect_names(&want)?;
        for n in NAMES {
            s.destroy(TASK, PortName(n)).succeeds()?;
            s.expect_unused(PortName(n))?;
        }
        s.expect_only_task_self()?;
    }
    Ok(())
}

/// The same index as `name`, another generation (never NULL, DEAD or `name`).
fn other_generation(name: PortName) -> PortName {
    let index = sys::mach_port_index(name.0);
    let gen = sys::mach_port_gen(name.0);
    for flip in [1u32 << 24, 2 << 24, 4 << 24] {
        let other = PortName(sys::mach_port_make(index, gen ^ flip));
        if other.is_valid() && other != name {
            return other;
        }
    }
    PortName(name.0 ^ 0x10)
}

fn allocate_name_with_a_used_index_and_another_generation_is_a_new_name(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let kernel = s.new_receive()?;
    let sibling = other_generation(kernel);
    s.allocate_name(TASK, DEAD_NAME, sibling).succeeds()?;
    s.expect_type(kernel, PortType::RECEIVE)?;
    s.expect_type(sibling, PortType::DEAD_NAME)?;

    // The task-self name's index, another generation.
    let task_sibling = other_generation(TASK);
    s.allocate_name(TASK, PORT_SET, task_sibling).succeeds()?;
    s.expect_type(task_sibling, PortType::PORT_SET)?;
    s.expect_type(TASK, PortType::SEND)?;
    s.expect_refs(TASK, SEND, 1)?;

    let mut want = vec![
        (TASK, PortType::SEND),
        (kernel, PortType::RECEIVE),
        (sibling, PortType::DEAD_NAME),
        (task_sibling, PortType::PORT_SET),
    ];
    want.sort_by_key(|&(name, _)| name);
    s.expect_names(&want)?;

    // Freeing one leaves the other alone.
    s.destroy(TASK, kernel).succeeds()?;
    s.expect_unused(kernel)?;
    s.expect_type(sibling, PortType::DEAD_NAME)?;
    s.expect_refs(sibling, DEAD_NAME, 1)?;
    s.destroy(TASK, task_sibling).succeeds()?;
    s.expect_type(TASK, PortType::SEND)?;

    // Later allocations stay clear of the sibling.
    for _ in 0..100 {
        let name = s.new_receive()?;
        ensure(name != sibling, || {
            format!("allocate gave {sibling:?}, a name in use")
        })?;
    }
    s.expect_type(sibling, PortType::DEAD_NAME)
}

fn reply_port_gives_a_receive_right(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let mut seen = BTreeSet::from([TASK]);
    let mut want = vec![(TASK, PortType::SEND)];
    for _ in 0..10 {
        let name = s.reply_port().succeeds()?;
        ensure(name.is_valid(), || {
            format!("mach_reply_port() gave {name:?}")
        })?;
        ensure(seen.insert(name), || {
            format!("mach_reply_port() gave {name:?}, a name in use")
        })?;
        s.expect_type(name, PortType::RECEIVE)?;
        s.expect_refs(name, RECEIVE, 1)?;
        s.expect_refs(name, SEND, 0)?;
        want.push((name, PortType::RECEIVE));
    }
    want.sort_by_key(|&(name, _)| name);
    s.expect_names(&want)?;
    for (name, _) in &want[..] {
        if *name != TASK {
            s.mod_refs(TASK, *name, RECEIVE, -1).succeeds()?;
        }
    }
    s.expect_only_task_self()
}

fn allocate_after_freeing_the_highest_names_gives_valid_names(_: &mut Ctx) -> TestResult {
    // A freed name's index comes back with a later generation: for the
    // names at the top of the range that must neither overflow nor wrap to
    // MACH_PORT_DEAD or MACH_PORT_NULL.
    let s = TestSpace::open()?;
    let high = [0xffff_fffe, 0xffff_fffb, 0xffff_ff03, 0xffff_ff00, 0x0000_00ff, 0x0000_0001];
    for &name in &high {
        s.allocate_name(TASK, DEAD_NAME, PortName(name)).succeeds()?;
    }
    for &name in &high {
        s.destroy(TASK, PortName(name)).succeeds()?;
    }
    let mut seen = Vec::new();
    for _ in 0..(high.len() * 70) {
        let name = s.allocate(TASK, DEAD_NAME).succeeds()?;
        ensure(name.is_valid() && !seen.contains(&name), || {
            format!("allocate gave {name} after {} allocations (seen before or invalid)", seen.len())
        })?;
        seen.push(name);
    }
    Ok(())
}
