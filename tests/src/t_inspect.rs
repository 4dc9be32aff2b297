//! mach_port_type, mach_port_names and mach_port_get_refs.

use std::collections::BTreeMap;

use mach::{PortName, PortRight, PortType};

use crate::check::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    type_of_null_gives_invalid_name,
    type_of_dead_gives_dead_name,
    type_of_unused_name_gives_invalid_name,
    names_lists_every_name_in_ascending_order_with_its_type,
    names_sharing_an_index_each_denote_their_own_right,
    get_refs_counts_the_references_of_each_right,
    get_refs_right_number_and_above_gives_invalid_value,
    get_refs_null_and_dead_give_one_send_reference,
    get_refs_null_and_dead_other_rights_give_invalid_name,
    get_refs_unused_name_gives_invalid_name,
];

fn type_of_null_gives_invalid_name(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    s.port_type(TASK, NULL).gives(KERN_INVALID_NAME)
}

fn type_of_dead_gives_dead_name(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    s.port_type(TASK, DEAD).returns(PortType::DEAD_NAME)
}

fn type_of_unused_name_gives_invalid_name(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let freed = s.new_receive()?;
    s.destroy(TASK, freed).succeeds()?;
    let kernel = s.new_dead_name(1)?;
    // Never used; the task-self index with another generation; the index
    // of a kernel-chosen name with another generation; a freed name.
    for name in [
        PortName(0x1234_5678),
        PortName(1),
        PortName(0x107),
        PortName(kernel.0 ^ 0x04),
        freed,
    ] {
        if name.is_valid() && name != kernel {
            s.expect_unused(name)?;
        }
    }
    Ok(())
}

fn names_lists_every_name_in_ascending_order_with_its_type(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let mut want = BTreeMap::from([(TASK, PortType::SEND)]);
    let mut made = Vec::new();
    for i in 0..30 {
        let right = ALLOCATABLE[i % 3];
        let name = s.allocate(TASK, right).succeeds()?;
        want.insert(name, type_of(right));
        made.push(name);
    }
    for (i, n) in [0xffff_fffeu32, 1, 0x8000_0000, 0x4d41_4348]
        .into_iter()
        .enumerate()
    {
        let right = ALLOCATABLE[i % 3];
        s.allocate_name(TASK, right, PortName(n)).succeeds()?;
        want.insert(PortName(n), type_of(right));
    }
    // Free some of each kind, each in another way.
    for (i, name) in made.iter().enumerate() {
        match i % 6 {
            0 => s.destroy(TASK, *name).succeeds()?,
            1 => s.deallocate(TASK, *name).succeeds()?,
            2 => s.mod_refs(TASK, *name, DEAD_NAME, -1).succeeds()?,
            3 => s.mod_refs(TASK, *name, RECEIVE, -1).succeeds()?,
            _ => continue,
        }
        want.remove(name);
    }
    s.destroy(TASK, PortName(1)).succeeds()?;
    want.remove(&PortName(1));

    let got = s.names(TASK).succeeds()?;
    for pair in got.windows(2) {
        ensure(pair[0].0 < pair[1].0, || {
            format!(
                "names(): not in ascending order: {:?} before {:?}",
                pair[0].0, pair[1].0
            )
        })?;
    }
    expect_eq("names()", want.into_iter().collect::<Vec<_>>(), got.clone())?;
    for (name, ty) in got {
        s.expect_type(name, ty)?;
    }
    Ok(())
}

/// A caller's name on the index of a kernel-chosen name (another
/// generation), and the kernel's name on an index the caller took with
/// another generation: each name denotes its own right, finds its port for
/// merging, and is listed in order.
fn names_sharing_an_index_each_denote_their_own_right(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let k = s.new_receive()?;
    let index = k.0 >> 8;
    let same = PortName((index << 8) | 0x83);
    s.allocate_name(TASK, RECEIVE, same).succeeds()?;
    let next = PortName(((index + 1) << 8) | 0x80);
    s.allocate_name(TASK, DEAD_NAME, next).succeeds()?;
    // The kernel's next name takes the next index, whose slot the caller's
    // name of another generation holds.
    let k2 = s.new_receive()?;
    expect_eq("the kernel's next name", PortName(((index + 1) << 8) | 3), k2)?;
    s.expect_names(&[
        (TASK, PortType::SEND),
        (k, PortType::RECEIVE),
        (same, PortType::RECEIVE),
        (k2, PortType::RECEIVE),
        (next, PortType::DEAD_NAME),
    ])?;

    // The port-to-name map knows every one of them.
    s.insert_right(TASK, k, same, MAKE_SEND).gives(KERN_RIGHT_EXISTS)?;
    s.insert_right(TASK, same, same, MAKE_SEND).succeeds()?;
    s.expect_refs(same, SEND, 1)?;
    let merged = s.extract_right(TASK, k2, MAKE_SEND).succeeds()?.name;
    expect_eq("extract_right(MAKE_SEND) of a right the space names", k2, merged)?;
    s.expect_type(k2, PortType::SEND_RECEIVE)?;

    // The kernel reuses the index of the name freed, beside the caller's
    // name on that index.
    s.destroy(TASK, k).succeeds()?;
    s.expect_unused(k)?;
    let k3 = s.new_dead_name(1)?;
    expect_eq("the kernel's name after a free", PortName((index << 8) | 7), k3)?;
    s.expect_names(&[
        (TASK, PortType::SEND),
        (k3, PortType::DEAD_NAME),
        (same, PortType::SEND_RECEIVE),
        (k2, PortType::SEND_RECEIVE),
        (next, PortType::DEAD_NAME),
    ])?;
    for name in [k3, same, k2, next] {
        s.destroy(TASK, name).succeeds()?;
    }
    s.expect_only_task_self()
}

fn get_refs_counts_the_references_of_each_right(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let entries = [
        (TASK, SEND, 1),
        (s.new_receive()?, RECEIVE, 1),
        (s.new_port_set()?, PORT_SET, 1),
        (s.new_dead_name(1)?, DEAD_NAME, 1),
        (s.new_dead_name(3)?, DEAD_NAME, 3),
        (s.new_dead_name(UREFS_MAX)?, DEAD_NAME, UREFS_MAX),
    ];
    for (name, held, refs) in entries {
        for right in ALL_RIGHTS {
            s.expect_refs(name, right, if right == held { refs } else { 0 })?;
        }
    }
    Ok(())
}

fn get_refs_right_number_and_above_gives_invalid_value(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let receive = s.new_receive()?;
    let dead_name = s.new_dead_name(1)?;
    let unused = s.unused_name(0x4d00_0003)?;
    for right in [
        RIGHT_NUMBER,
        PortRight(7),
        PortRight(0x8000_0000),
        PortRight(0xffff_ffff),
    ] {
        // The right is checked before the name.
        for name in [TASK, receive, dead_name, NULL, DEAD, unused] {
            s.get_refs(TASK, name, right).gives(KERN_INVALID_VALUE)?;
        }
    }
    Ok(())
}

fn get_refs_null_and_dead_give_one_send_reference(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    for name in [NULL, DEAD] {
        for right in [SEND, SEND_ONCE] {
            s.get_refs(TASK, name, right).returns(1)?;
        }
    }
    s.expect_only_task_self()
}

fn get_refs_null_and_dead_other_rights_give_invalid_name(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    for name in [NULL, DEAD] {
        for right in [RECEIVE, PORT_SET, DEAD_NAME, LABELH] {
            s.get_refs(TASK, name, right).gives(KERN_INVALID_NAME)?;
        }
    }
    Ok(())
}

fn get_refs_unused_name_gives_invalid_name(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let freed = s.new_dead_name(2)?;
    s.destroy(TASK, freed).succeeds()?;
    for name in [PortName(0x1234_5678), PortName(0x107), freed] {
        for right in ALL_RIGHTS {
            s.get_refs(TASK, name, right).gives(KERN_INVALID_NAME)?;
        }
    }
    Ok(())
}
