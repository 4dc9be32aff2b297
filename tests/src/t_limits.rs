//! The name limit: a space holds at most MACH_SPACE_MAX_NAMES names, its
//! task-self name included. Each test fills a space of its own and closes it.

use std::time::Instant;

use mach::{sys, PortName, PortRight, PortType};

use crate::check::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    allocate_beyond_mach_space_max_names_gives_no_space @ 1800,
    freeing_a_name_in_a_full_space_allows_one_more_allocation @ 1800,
    insert_right_and_extract_right_into_a_full_space_give_no_space @ 1800,
];

const MAX: u32 = sys::MACH_SPACE_MAX_NAMES;

/// Allocates dead names until KERN_NO_SPACE; the space must then hold
/// exactly MAX names. Gives the names allocated.
fn fill(ctx: &mut Ctx, s: &TestSpace) -> Result<Vec<PortName>, String> {
    let start = Instant::now();
    // The task-self name and whatever the test put there first.
    let existing = s.count()?;
    let mut names = Vec::with_capacity(MAX as usize);
    loop {
        match s.space().allocate(TASK, DEAD_NAME) {
            Ok(name) => {
                names.push(name);
                // One more than the limit allows.
                if names.len() as u32 + existing > MAX {
                    return Err(format!(
                        "allocate(0x103, DEAD_NAME): expected KERN_NO_SPACE once the space holds {MAX} names, \
                         got KERN_SUCCESS for name number {}",
                        names.len() + 1
                    ));
                }
            }
            Err(e) if e == KERN_NO_SPACE => break,
            Err(e) => {
                return Err(format!(
                    "allocate(0x103, DEAD_NAME) number {}: expected KERN_SUCCESS or KERN_NO_SPACE, got {e}",
                    names.len() + 1
                ))
            }
        }
    }
    ctx.diag(format!(
        "{} dead names allocated in {:.1} s",
        names.len(),
        start.elapsed().as_secs_f64()
    ));
    expect_eq(
        "names allocated before KERN_NO_SPACE, plus those already there",
        MAX,
        names.len() as u32 + existing,
    )?;
    expect_eq("the name count of a full space", MAX, s.count()?)?;
    Ok(names)
}

fn allocate_beyond_mach_space_max_names_gives_no_space(ctx: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let names = fill(ctx, &s)?;
    let listed = s.names(TASK).succeeds()?;
    expect_eq(
        "the length of names() in a full space",
        MAX as usize,
        listed.len(),
    )?;
    let unused = s.unused_name(0xfedc_ba98)?;
    for right in ALLOCATABLE {
        s.allocate(TASK, right).gives(KERN_NO_SPACE)?;
        s.allocate_name(TASK, right, unused).gives(KERN_NO_SPACE)?;
    }
    s.reply_port().returns(NULL)?;
    // Checks made before the space is looked at still come first.
    s.allocate(TASK, PortRight(0xffff_ffff))
        .gives(KERN_INVALID_VALUE)?;
    s.allocate_name(TASK, SEND, unused)
        .gives(KERN_INVALID_VALUE)?;
    s.allocate_name(TASK, RECEIVE, NULL)
        .gives(KERN_INVALID_VALUE)?;
    s.allocate_name(TASK, RECEIVE, TASK)
        .gives(KERN_NAME_EXISTS)?;
    s.allocate_name(TASK, DEAD_NAME, names[0])
        .gives(KERN_NAME_EXISTS)?;
    // Rights that need no new name still change.
    s.mod_refs(TASK, names[0], DEAD_NAME, 1).succeeds()?;
    s.expect_refs(names[0], DEAD_NAME, 2)?;
    s.expect_unused(unused)?;
    expect_eq(
        "the name count after the refused allocations",
        MAX,
        s.count()?,
    )
}

fn freeing_a_name_in_a_full_space_allows_one_more_allocation(ctx: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let names = fill(ctx, &s)?;
    let last = names.len() - 1;

    s.deallocate(TASK, names[last]).succeeds()?;
    let port = s.new_receive()?;
    s.expect_type(port, PortType::RECEIVE)?;
    s.allocate(TASK, DEAD_NAME).gives(KERN_NO_SPACE)?;

    s.destroy(TASK, names[0]).succeeds()?;
    let chosen = s.unused_name(0xfedc_ba98)?;
    s.allocate_name(TASK, PORT_SET, chosen).succeeds()?;
    s.expect_type(chosen, PortType::PORT_SET)?;
    let other = s.unused_name(chosen.0.wrapping_add(0x101))?;
    s.allocate_name(TASK, PORT_SET, other)
        .gives(KERN_NO_SPACE)?;

    s.mod_refs(TASK, names[1], DEAD_NAME, -1).succeeds()?;
    let reply = s.reply_port().succeeds()?;
    ensure(reply.is_valid(), || {
        format!("mach_reply_port() after freeing a name gave {reply:?}")
    })?;
    s.expect_type(reply, PortType::RECEIVE)?;
    s.reply_port().returns(NULL)?;
    expect_eq("the name count", MAX, s.count()?)?;

    // Closing the full space frees it all.
    drop(s);
    TestSpace::open()?.expect_only_task_self()
}

fn insert_right_and_extract_right_into_a_full_space_give_no_space(ctx: &mut Ctx) -> TestResult {
    let a = TestSpace::open_as("A (full)")?;
    let b = TestSpace::open_as("B")?;
    let c = TestSpace::open_as("C")?;
    let tb = a.task_for(&b)?;
    let ta = b.task_for(&a)?;
    let tc = b.task_for(&c)?;
    // A port of B's that A holds a send right to: rights to it merge.
    let merged = b.new_receive()?;
    let held = a.extract_right(tb, merged, MAKE_SEND).succeeds()?.name;
    let names = fill(ctx, &a)?;
    let a_count = a.count()?;

    // New names in A: refused. B's ports, with send rights in C.
    let p = b.new_receive()?;
    b.insert_right(tc, N1, p, MAKE_SEND).succeeds()?;
    let q = b.new_receive()?;
    b.insert_right(tc, N2, q, MAKE_SEND).succeeds()?;
    let b_before = b.state()?;
    for disposition in [MAKE_SEND, MAKE_SEND_ONCE] {
        b.insert_right(ta, N3, p, disposition)
            .gives(KERN_NO_SPACE)?;
        a.extract_right(tb, p, disposition).gives(KERN_NO_SPACE)?;
    }
    b.expect_state(
        &b_before,
        "insert_right and extract_right into a full space",
    )?;
    // A name in use is refused as such.
    b.insert_right(ta, names[0], p, MAKE_SEND)
        .gives(KERN_NAME_EXISTS)?;
    // A receive right that finds no room is destroyed with its port.
    b.insert_right(ta, N3, p, MOVE_RECEIVE)
        .gives(KERN_NO_SPACE)?;
    b.expect_unused(p)?;
    c.expect_dead(N1, 1)?;
    a.extract_right(tb, q, MOVE_RECEIVE).gives(KERN_NO_SPACE)?;
    b.expect_unused(q)?;
    c.expect_dead(N2, 1)?;
    expect_eq(
        "the name count of A after the refused calls",
        a_count,
        a.count()?,
    )?;

    // Rights that merge into names A has need no room.
    b.insert_right(ta, held, merged, MAKE_SEND).succeeds()?;
    a.expect_send(held, 2)?;
    a.extract_right(tb, merged, MAKE_SEND)
        .returns(extracted(held, PORT_SEND))?;
    a.expect_send(held, 3)?;
    a.extract_right(tb, TASK, COPY_SEND)
        .returns(extracted(tb, PORT_SEND))?;
    a.expect_send(tb, 2)?;
    a.task_for_fd(std::os::fd::AsFd::as_fd(&a)).returns(TASK)?;
    a.expect_send(TASK, 2)?;
    // A dead right needs no name either.
    let dead = b.new_dead_name(1)?;
    a.extract_right(tb, dead, MOVE_SEND)
        .returns(extracted(DEAD, PORT_SEND))?;
    expect_eq("the name count of A", MAX, a.count()?)
}
