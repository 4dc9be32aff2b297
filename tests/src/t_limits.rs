//! The name limit: a space holds at most MACH_SPACE_MAX_NAMES names, its
//! task-self name included. Each test fills a space of its own and closes it.

use std::time::Instant;

use mach::{sys, PortName, PortRight, PortType};

use crate::check::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    allocate_beyond_mach_space_max_names_gives_no_space @ 600,
    freeing_a_name_in_a_full_space_allows_one_more_allocation @ 600,
];

const MAX: u32 = sys::MACH_SPACE_MAX_NAMES;

/// Allocates dead names until KERN_NO_SPACE; the space must then hold
/// exactly MAX names. Gives the names allocated.
fn fill(ctx: &mut Ctx, s: &TestSpace) -> Result<Vec<PortName>, String> {
    let start = Instant::now();
    let mut names = Vec::with_capacity(MAX as usize);
    loop {
        match s.space().allocate(TASK, DEAD_NAME) {
            Ok(name) => {
                names.push(name);
                // One more than the limit allows (the task-self name counts).
                if names.len() as u32 >= MAX {
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
        "names allocated before KERN_NO_SPACE, plus the task-self name",
        MAX,
        names.len() as u32 + 1,
    )?;
    expect_eq("the name count of a full space", MAX, s.count()?)?;
    Ok(names)
}

fn allocate_beyond_mach_space_max_names_gives_no_space(ctx: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let names = fill(ctx, &s)?;
    let listed = s.names(TASK).succeeds()?;
    expect_eq("the length of names() in a full space", MAX as usize, listed.len())?;
    let unused = s.unused_name(0xfedc_ba98)?;
    for right in ALLOCATABLE {
        s.allocate(TASK, right).gives(KERN_NO_SPACE)?;
        s.allocate_name(TASK, right, unused).gives(KERN_NO_SPACE)?;
    }
    s.reply_port().returns(NULL)?;
    // Checks made before the space is looked at still come first.
    s.allocate(TASK, PortRight(0xffff_ffff)).gives(KERN_INVALID_VALUE)?;
    s.allocate_name(TASK, SEND, unused).gives(KERN_INVALID_VALUE)?;
    s.allocate_name(TASK, RECEIVE, NULL).gives(KERN_INVALID_VALUE)?;
    s.allocate_name(TASK, RECEIVE, TASK).gives(KERN_NAME_EXISTS)?;
    s.allocate_name(TASK, DEAD_NAME, names[0]).gives(KERN_NAME_EXISTS)?;
    // Rights that need no new name still change.
    s.mod_refs(TASK, names[0], DEAD_NAME, 1).succeeds()?;
    s.expect_refs(names[0], DEAD_NAME, 2)?;
    s.expect_unused(unused)?;
    expect_eq("the name count after the refused allocations", MAX, s.count()?)
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
    s.allocate_name(TASK, PORT_SET, other).gives(KERN_NO_SPACE)?;

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
