//! The version call, and what every new space starts with.

use mach::{sys, PortType};

use crate::check::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    api_version_is_mach_api_version,
    task_self_is_name_0x103,
    task_self_is_a_send_right_with_one_user_reference,
    new_space_holds_only_the_task_self_name,
];

fn api_version_is_mach_api_version(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    s.api_version().returns(sys::MACH_API_VERSION)
}

fn task_self_is_name_0x103(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    expect_eq("mach_task_self()", TASK, s.space().task_self())?;
    expect_eq("MACH_TASK_SELF_NAME", 0x103, TASK.0)
}

fn task_self_is_a_send_right_with_one_user_reference(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    s.expect_type(TASK, PortType::SEND)?;
    for right in ALL_RIGHTS {
        s.expect_refs(TASK, right, if right == SEND { 1 } else { 0 })?;
    }
    Ok(())
}

fn new_space_holds_only_the_task_self_name(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    s.expect_names(&[(TASK, PortType::SEND)])?;
    expect_eq("the name count", 1, s.count()?)
}
