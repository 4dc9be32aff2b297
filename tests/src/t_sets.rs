//! Port sets (seed 001; docs/notifications.md "Port sets"): get_set_status,
//! move_member, insert_member, extract_member, and receiving on a set.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use mach::{sys, PortName, PortType};

use crate::check::*;
use crate::notify::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    // get_set_status (seed 001, first function).
    get_set_status_of_a_new_set_is_empty,
    get_set_status_returns_the_members_of_a_set_in_name_order,
    get_set_status_with_capacity_zero_gives_the_count_and_writes_nothing,
    get_set_status_with_too_small_a_capacity_gives_the_count_and_writes_nothing,
    get_set_status_with_a_null_array_or_reserved_bits_is_einval,
    get_set_status_with_an_invalid_task_gives_kern_invalid_task,
    get_set_status_of_a_name_that_denotes_no_right_gives_kern_invalid_name,
    get_set_status_of_a_right_that_is_not_a_set_gives_kern_invalid_right,
    get_set_status_through_the_task_port_of_another_space,
    // move_member (seed 001, second function).
    move_member_moves_a_receive_right_into_a_set,
    move_member_out_of_another_set_removes_it_from_that_set_first,
    move_member_into_the_set_it_is_in_changes_nothing,
    move_member_to_null_removes_the_receive_right_from_its_set,
    move_member_to_null_of_a_port_in_no_set_gives_kern_not_in_set,
    move_member_with_an_invalid_task_gives_kern_invalid_task,
    move_member_of_a_member_or_set_that_denotes_no_right_gives_kern_invalid_name,
    move_member_looks_both_names_up_before_checking_their_rights,
    move_member_of_a_right_that_is_not_a_receive_right_gives_kern_invalid_right,
    move_member_into_a_right_that_is_not_a_port_set_gives_kern_invalid_right,
    move_member_with_null_or_dead_names_gives_kern_invalid_right,
    move_member_through_the_task_port_of_another_space,
    move_member_is_atomic_a_member_is_never_seen_outside_both_sets @ 300,
    // insert_member and extract_member.
    insert_member_puts_a_receive_right_into_a_set,
    insert_member_of_a_port_in_a_set_gives_kern_already_in_set,
    insert_member_return_codes_in_the_documented_order,
    extract_member_takes_a_member_out_of_its_set,
    extract_member_of_a_port_not_in_that_set_gives_kern_not_in_set,
    extract_member_return_codes_in_the_documented_order,
    a_receive_right_is_in_at_most_one_set,
    // Receiving on a set.
    receive_on_a_set_gives_a_members_message_its_name_and_its_sequence_number,
    message_queued_before_the_port_joined_is_received_through_the_set,
    members_of_a_set_take_turns,
    receive_on_a_set_with_no_message_times_out,
    receiver_blocked_on_a_set_wakes_for_a_send_to_any_member,
    receiver_blocked_on_a_set_wakes_with_port_changed_when_the_set_is_destroyed,
    destroying_a_set_releases_its_members_with_their_messages,
    closing_a_space_with_sets_and_members_frees_everything,
    rcv_large_identity_on_a_set_names_the_member_and_keeps_the_message,
    direct_receive_on_a_member_is_allowed,
    port_leaves_its_set_when_it_dies,
    port_leaves_its_set_when_its_receive_right_moves_in_a_message,
    port_leaves_its_set_when_its_receive_right_moves_by_insert_or_extract_right,
    receive_status_names_the_set_of_a_member,
    // Under load.
    set_receive_with_several_members_and_many_threads_delivers_every_message_once @ 600,
    move_member_racing_with_sends_loses_no_message @ 600,
];

fn members(s: &TestSpace, set: PortName) -> Result<Vec<PortName>, String> {
    s.set_status(TASK, set).succeeds()
}

fn sorted(mut v: Vec<PortName>) -> Vec<PortName> {
    v.sort();
    v
}

fn get_set_status_of_a_new_set_is_empty(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    s.set_status(TASK, set).returns(vec![])?;
    s.expect_entry(set, PortType::PORT_SET, 0)
}

fn get_set_status_returns_the_members_of_a_set_in_name_order(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let other = s.new_port_set()?;
    // Names chosen out of order, and kernel-chosen ones.
    let mut want = Vec::new();
    for name in [N3, N1, N4] {
        s.allocate_name(TASK, RECEIVE, name).succeeds()?;
        s.move_member(TASK, name, set).succeeds()?;
        want.push(name);
    }
    for _ in 0..5 {
        let p = s.new_receive()?;
        s.move_member(TASK, p, set).succeeds()?;
        want.push(p);
    }
    // Not members: a port in another set, a port in none.
    let elsewhere = s.new_receive()?;
    s.move_member(TASK, elsewhere, other).succeeds()?;
    s.new_receive()?;
    s.set_status(TASK, set).returns(sorted(want.clone()))?;
    s.set_status(TASK, other).returns(vec![elsewhere])?;
    // A send right under a member's name does not change membership.
    s.insert_right(TASK, N1, N1, MAKE_SEND).succeeds()?;
    s.set_status(TASK, set).returns(sorted(want))
}

fn get_set_status_with_capacity_zero_gives_the_count_and_writes_nothing(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    for _ in 0..3 {
        let p = s.new_receive()?;
        s.move_member(TASK, p, set).succeeds()?;
    }
    let mut guard = [0xdead_beefu32; 4];
    let mut a = sys::PortSetStatusArgs {
        task: TASK.0,
        name: set.0,
        members: guard.as_mut_ptr() as u64,
        capacity: 0,
        ..Default::default()
    };
    set_status_raw(&s, &mut a).map_err(|e| format!("get_set_status with capacity 0: {e}"))?;
    expect_eq("get_set_status(capacity 0) kr", sys::KERN_SUCCESS, a.kr)?;
    expect_eq("get_set_status(capacity 0) count", 3, a.count)?;
    expect_eq("the array after capacity 0", [0xdead_beefu32; 4], guard)?;
    // No array at all.
    let mut a = sys::PortSetStatusArgs {
        task: TASK.0,
        name: set.0,
        ..Default::default()
    };
    set_status_raw(&s, &mut a).map_err(|e| format!("get_set_status with no array: {e}"))?;
    expect_eq("get_set_status(no array) kr", sys::KERN_SUCCESS, a.kr)?;
    expect_eq("get_set_status(no array) count", 3, a.count)
}

fn get_set_status_with_too_small_a_capacity_gives_the_count_and_writes_nothing(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let mut names = Vec::new();
    for _ in 0..5 {
        let p = s.new_receive()?;
        s.move_member(TASK, p, set).succeeds()?;
        names.push(p.0);
    }
    let mut guard = [0xdead_beefu32; 8];
    let mut a = sys::PortSetStatusArgs {
        task: TASK.0,
        name: set.0,
        members: guard.as_mut_ptr() as u64,
        capacity: 4,
        ..Default::default()
    };
    set_status_raw(&s, &mut a).map_err(|e| format!("get_set_status with capacity 4: {e}"))?;
    expect_eq("get_set_status(capacity 4) kr", sys::KERN_SUCCESS, a.kr)?;
    expect_eq("get_set_status(capacity 4) count", 5, a.count)?;
    expect_eq("the array after capacity 4", [0xdead_beefu32; 8], guard)?;
    // Exactly enough room.
    a.capacity = 5;
    a.count = 0;
    set_status_raw(&s, &mut a).map_err(|e| format!("get_set_status with capacity 5: {e}"))?;
    expect_eq("get_set_status(capacity 5) count", 5, a.count)?;
    names.sort();
    expect_eq("the members written", &names[..], &guard[..5])?;
    expect_eq(
        "past the members",
        [0xdead_beefu32; 3],
        [guard[5], guard[6], guard[7]],
    )
}

fn get_set_status_with_a_null_array_or_reserved_bits_is_einval(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let p = s.new_receive()?;
    s.move_member(TASK, p, set).succeeds()?;
    let mut a = sys::PortSetStatusArgs {
        task: TASK.0,
        name: set.0,
        members: 0,
        capacity: 4,
        ..Default::default()
    };
    let r = set_status_raw(&s, &mut a);
    ensure(
        r.as_ref().err().and_then(|e| e.raw_os_error()) == Some(libc::EINVAL),
        || {
            format!("get_set_status with capacity 4 and a null array: expected EINVAL, got {r:?} (kr {})", a.kr)
        },
    )?;
    let mut array = [0u32; 4];
    let mut a = sys::PortSetStatusArgs {
        task: TASK.0,
        name: set.0,
        members: array.as_mut_ptr() as u64,
        capacity: 4,
        reserved: 1,
        ..Default::default()
    };
    let r = set_status_raw(&s, &mut a);
    ensure(
        r.as_ref().err().and_then(|e| e.raw_os_error()) == Some(libc::EINVAL),
        || {
            format!(
                "get_set_status with reserved 1: expected EINVAL, got {r:?} (kr {})",
                a.kr
            )
        },
    )?;
    // An unwritable array: EFAULT.
    let mut a = sys::PortSetStatusArgs {
        task: TASK.0,
        name: set.0,
        members: 8,
        capacity: 4,
        ..Default::default()
    };
    let r = set_status_raw(&s, &mut a);
    ensure(
        r.as_ref().err().and_then(|e| e.raw_os_error()) == Some(libc::EFAULT),
        || {
            format!(
                "get_set_status into address 8: expected EFAULT, got {r:?} (kr {})",
                a.kr
            )
        },
    )?;
    s.set_status(TASK, set).returns(vec![p])
}

fn get_set_status_with_an_invalid_task_gives_kern_invalid_task(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let p = s.new_receive()?;
    s.move_member(TASK, p, set).succeeds()?;
    for task in bad_tasks(&s)? {
        s.set_status(task, set).gives(KERN_INVALID_TASK)?;
        // Before the name is looked at.
        s.set_status(task, PortName(0x7777_7703))
            .gives(KERN_INVALID_TASK)?;
        s.set_status(task, NULL).gives(KERN_INVALID_TASK)?;
    }
    s.set_status(TASK, set).returns(vec![p])
}

fn get_set_status_of_a_name_that_denotes_no_right_gives_kern_invalid_name(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let unused = s.unused_name(0x4242_4203)?;
    s.set_status(TASK, unused).gives(KERN_INVALID_NAME)?;
    // A name that did denote a set.
    let set = s.new_port_set()?;
    s.destroy(TASK, set).succeeds()?;
    s.set_status(TASK, set).gives(KERN_INVALID_NAME)
}

fn get_set_status_of_a_right_that_is_not_a_set_gives_kern_invalid_right(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let receive = s.new_receive()?;
    let set = s.new_port_set()?;
    s.move_member(TASK, receive, set).succeeds()?;
    let sr = s.new_send_receive(2)?;
    let far = TestSpace::open_as("far")?;
    let (_, send) = far_send(&s, &far)?;
    let so = s.new_send_once(receive)?;
    let dead = s.new_dead_name(1)?;
    // A member's name, the receive right of a member, is not the set.
    for name in [receive, sr, send, so, dead, TASK, NULL, DEAD] {
        s.set_status(TASK, name).gives(KERN_INVALID_RIGHT)?;
    }
    Ok(())
}

fn get_set_status_through_the_task_port_of_another_space(_: &mut Ctx) -> TestResult {
    let p = Pair::new()?;
    let set = p.b.new_port_set()?;
    let m1 = p.b.new_receive()?;
    let m2 = p.b.new_receive()?;
    p.b.move_member(TASK, m1, set).succeeds()?;
    p.b.move_member(TASK, m2, set).succeeds()?;
    p.a.set_status(p.tb, set).returns(sorted(vec![m1, m2]))?;
    // A's own names mean nothing there.
    p.a.allocate_name(TASK, PORT_SET, N4).succeeds()?;
    p.a.set_status(p.tb, N4).gives(KERN_INVALID_NAME)?;
    // "Potentially any send right": here only a task port serves.
    let q = p.a.new_receive()?;
    let send = p.a.extract_right(TASK, q, MAKE_SEND).succeeds()?.name;
    p.a.set_status(send, set).gives(KERN_INVALID_TASK)
}

fn move_member_moves_a_receive_right_into_a_set(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let p = s.new_receive()?;
    let before = s.state()?;
    s.move_member(TASK, p, set).succeeds()?;
    s.set_status(TASK, set).returns(vec![p])?;
    // Names, types and references are untouched.
    s.expect_state(&before, "move_member")?;
    expect_status_field(&s, p, "pset", |st| st.pset, set.0)?;
    // A SEND|RECEIVE name moves as well.
    let sr = s.new_send_receive(3)?;
    s.move_member(TASK, sr, set).succeeds()?;
    s.set_status(TASK, set).returns(sorted(vec![p, sr]))?;
    s.expect_send_receive(sr, 3)
}

fn move_member_out_of_another_set_removes_it_from_that_set_first(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let s1 = s.new_port_set()?;
    let s2 = s.new_port_set()?;
    let p = s.new_receive()?;
    let q = s.new_receive()?;
    s.move_member(TASK, p, s1).succeeds()?;
    s.move_member(TASK, q, s1).succeeds()?;
    s.move_member(TASK, p, s2).succeeds()?;
    s.set_status(TASK, s1).returns(vec![q])?;
    s.set_status(TASK, s2).returns(vec![p])?;
    expect_status_field(&s, p, "pset", |st| st.pset, s2.0)?;
    // And back.
    s.move_member(TASK, p, s1).succeeds()?;
    s.set_status(TASK, s1).returns(sorted(vec![p, q]))?;
    s.set_status(TASK, s2).returns(vec![])
}

fn move_member_into_the_set_it_is_in_changes_nothing(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let p = s.new_receive()?;
    let q = s.new_receive()?;
    s.move_member(TASK, p, set).succeeds()?;
    s.move_member(TASK, q, set).succeeds()?;
    let before = s.state()?;
    s.move_member(TASK, p, set).succeeds()?;
    s.set_status(TASK, set).returns(sorted(vec![p, q]))?;
    s.expect_state(&before, "move_member into the set it is in")
}

fn move_member_to_null_removes_the_receive_right_from_its_set(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let p = s.new_receive()?;
    let q = s.new_receive()?;
    s.move_member(TASK, p, set).succeeds()?;
    s.move_member(TASK, q, set).succeeds()?;
    let before = s.state()?;
    s.move_member(TASK, p, NULL).succeeds()?;
    s.set_status(TASK, set).returns(vec![q])?;
    expect_status_field(&s, p, "pset", |st| st.pset, 0)?;
    s.expect_state(&before, "move_member(p, NULL)")?;
    // Out of the set, it can join another.
    let other = s.new_port_set()?;
    s.insert_member(TASK, p, other).succeeds()?;
    s.set_status(TASK, other).returns(vec![p])
}

fn move_member_to_null_of_a_port_in_no_set_gives_kern_not_in_set(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let sr = s.new_send_receive(1)?;
    let before = s.state()?;
    s.move_member(TASK, p, NULL).gives(KERN_NOT_IN_SET)?;
    s.move_member(TASK, sr, NULL).gives(KERN_NOT_IN_SET)?;
    // Once removed, again.
    let set = s.new_port_set()?;
    s.move_member(TASK, p, set).succeeds()?;
    s.move_member(TASK, p, NULL).succeeds()?;
    s.move_member(TASK, p, NULL).gives(KERN_NOT_IN_SET)?;
    s.destroy(TASK, set).succeeds()?;
    s.expect_state(&before, "move_member(.., NULL) of ports in no set")
}

fn move_member_with_an_invalid_task_gives_kern_invalid_task(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let p = s.new_receive()?;
    let tasks = bad_tasks(&s)?;
    let before = s.state()?;
    for task in tasks {
        s.move_member(task, p, set).gives(KERN_INVALID_TASK)?;
        s.move_member(task, p, NULL).gives(KERN_INVALID_TASK)?;
        // Before anything else is looked at.
        s.move_member(task, NULL, DEAD).gives(KERN_INVALID_TASK)?;
        s.insert_member(task, p, set).gives(KERN_INVALID_TASK)?;
        s.extract_member(task, p, set).gives(KERN_INVALID_TASK)?;
    }
    s.set_status(TASK, set).returns(vec![])?;
    s.expect_state(&before, "member calls with invalid tasks")
}

fn move_member_of_a_member_or_set_that_denotes_no_right_gives_kern_invalid_name(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let p = s.new_receive()?;
    let unused = s.unused_name(0x4343_4303)?;
    let before = s.state()?;
    s.move_member(TASK, unused, set).gives(KERN_INVALID_NAME)?;
    s.move_member(TASK, unused, NULL).gives(KERN_INVALID_NAME)?;
    s.move_member(TASK, p, unused).gives(KERN_INVALID_NAME)?;
    // Member first: both unknown, or member unknown and after a wrong right.
    s.move_member(TASK, unused, PortName(0x4343_4403))
        .gives(KERN_INVALID_NAME)?;
    s.move_member(TASK, unused, p).gives(KERN_INVALID_NAME)?;
    s.set_status(TASK, set).returns(vec![])?;
    s.expect_state(&before, "move_member with names that denote no right")
}

fn move_member_looks_both_names_up_before_checking_their_rights(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let port = s.new_receive()?;
    let far = TestSpace::open_as("far")?;
    let (_, send) = far_send(&s, &far)?;
    let dead = s.new_dead_name(1)?;
    let other_set = s.new_port_set()?;
    let unused = s.unused_name(0x4444_4403)?;
    // A receive right is fine, and the set is still looked up first.
    s.move_member(TASK, port, unused).gives(KERN_INVALID_NAME)?;
    let before = s.state()?;
    // member is a right but not a receive right, after denotes nothing:
    // the lookup of after comes first.
    for member in [send, dead, other_set] {
        s.move_member(TASK, member, unused)
            .gives(KERN_INVALID_NAME)?;
        s.insert_member(TASK, member, unused)
            .gives(KERN_INVALID_NAME)?;
        s.extract_member(TASK, member, unused)
            .gives(KERN_INVALID_NAME)?;
    }
    s.expect_state(&before, "member calls whose set denotes nothing")
}

fn move_member_of_a_right_that_is_not_a_receive_right_gives_kern_invalid_right(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let port = s.new_receive()?;
    let far = TestSpace::open_as("far")?;
    let (_, send) = far_send(&s, &far)?;
    let so = s.new_send_once(port)?;
    let dead = s.new_dead_name(2)?;
    let other_set = s.new_port_set()?;
    let before = s.state()?;
    for member in [send, so, dead, other_set, set, TASK] {
        s.move_member(TASK, member, set).gives(KERN_INVALID_RIGHT)?;
        s.move_member(TASK, member, NULL)
            .gives(KERN_INVALID_RIGHT)?;
        // member is checked before after.
        s.move_member(TASK, member, port)
            .gives(KERN_INVALID_RIGHT)?;
    }
    s.set_status(TASK, set).returns(vec![])?;
    s.expect_state(&before, "move_member of rights that are not receive rights")
}

fn move_member_into_a_right_that_is_not_a_port_set_gives_kern_invalid_right(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let set = s.new_port_set()?;
    s.move_member(TASK, p, set).succeeds()?;
    let q = s.new_receive()?;
    let sr = s.new_send_receive(1)?;
    let far = TestSpace::open_as("far")?;
    let (_, send) = far_send(&s, &far)?;
    let so = s.new_send_once(q)?;
    let dead = s.new_dead_name(1)?;
    let before = s.state()?;
    for after in [q, sr, send, so, dead, TASK, p] {
        s.move_member(TASK, p, after).gives(KERN_INVALID_RIGHT)?;
    }
    // Nothing changed: p is still in its set.
    s.set_status(TASK, set).returns(vec![p])?;
    s.expect_state(&before, "move_member into rights that are not sets")
}

fn move_member_with_null_or_dead_names_gives_kern_invalid_right(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let set = s.new_port_set()?;
    let unused = s.unused_name(0x4545_4503)?;
    let before = s.state()?;
    for member in [NULL, DEAD] {
        s.move_member(TASK, member, set).gives(KERN_INVALID_RIGHT)?;
        s.move_member(TASK, member, NULL)
            .gives(KERN_INVALID_RIGHT)?;
        // Before the other name is looked up.
        s.move_member(TASK, member, unused)
            .gives(KERN_INVALID_RIGHT)?;
    }
    s.move_member(TASK, p, DEAD).gives(KERN_INVALID_RIGHT)?;
    s.move_member(TASK, unused, DEAD)
        .gives(KERN_INVALID_RIGHT)?;
    s.set_status(TASK, set).returns(vec![])?;
    s.expect_state(&before, "move_member with NULL and DEAD names")
}

fn move_member_through_the_task_port_of_another_space(_: &mut Ctx) -> TestResult {
    let p = Pair::new()?;
    let set = p.b.new_port_set()?;
    let m = p.b.new_receive()?;
    p.a.move_member(p.tb, m, set).succeeds()?;
    p.b.set_status(TASK, set).returns(vec![m])?;
    p.a.move_member(p.tb, m, NULL).succeeds()?;
    p.b.set_status(TASK, set).returns(vec![])?;
    p.a.insert_member(p.tb, m, set).succeeds()?;
    p.a.insert_member(p.tb, m, set).gives(KERN_ALREADY_IN_SET)?;
    p.a.extract_member(p.tb, m, set).succeeds()?;
    p.b.set_status(TASK, set).returns(vec![])?;
    // The member and the set are both B's: A's set is no set there.
    p.a.allocate_name(TASK, PORT_SET, N4).succeeds()?;
    p.a.move_member(p.tb, m, N4).gives(KERN_INVALID_NAME)?;
    // A send right to an ordinary port is no task.
    let q = p.a.new_receive()?;
    let send = p.a.extract_right(TASK, q, MAKE_SEND).succeeds()?.name;
    p.a.move_member(send, m, set).gives(KERN_INVALID_TASK)
}

fn move_member_is_atomic_a_member_is_never_seen_outside_both_sets(ctx: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let s1 = s.new_port_set()?;
    let s2 = s.new_port_set()?;
    let p = s.new_receive()?;
    s.move_member(TASK, p, s1).succeeds()?;
    let stop = AtomicBool::new(false);
    let moves = 3000;
    let seen = std::thread::scope(|scope| -> Result<usize, String> {
        let mover = scope.spawn(|| -> TestResult {
            let r = (|| {
                for i in 0..moves {
                    let to = if i % 2 == 0 { s2 } else { s1 };
                    s.move_member(TASK, p, to).succeeds()?;
                }
                Ok(())
            })();
            stop.store(true, Ordering::SeqCst);
            r
        });
        let mut observed = 0usize;
        let mut result = Ok(());
        while !stop.load(Ordering::SeqCst) {
            let st = s.status(p).succeeds()?;
            if st.pset != s1.0 && st.pset != s2.0 {
                result = Err(format!(
                    "during move_member between {s1:?} and {s2:?}: mps_pset was {:#x}",
                    st.pset
                ));
                break;
            }
            // Status of the two sets, one call each: the member is in
            // exactly one of them whenever each call runs.
            let in1 = s.set_status(TASK, s1).succeeds()?;
            let in2 = s.set_status(TASK, s2).succeeds()?;
            if in1.len() > 1 || in2.len() > 1 {
                result = Err(format!("set members {in1:?} / {in2:?}"));
                break;
            }
            observed += 1;
        }
        stop.store(true, Ordering::SeqCst);
        mover
            .join()
            .map_err(|_| "the mover thread panicked".to_string())??;
        result.map(|_| observed)
    })?;
    ctx.diag(format!("{seen} observations during {moves} moves"));
    // Where it ended.
    s.set_status(TASK, s1).returns(vec![p])?;
    s.set_status(TASK, s2).returns(vec![])
}

fn insert_member_puts_a_receive_right_into_a_set(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let p = s.new_receive()?;
    let q = s.new_send_receive(2)?;
    let before = s.state()?;
    s.insert_member(TASK, p, set).succeeds()?;
    s.insert_member(TASK, q, set).succeeds()?;
    s.set_status(TASK, set).returns(sorted(vec![p, q]))?;
    expect_status_field(&s, q, "pset", |st| st.pset, set.0)?;
    s.expect_state(&before, "insert_member")
}

fn insert_member_of_a_port_in_a_set_gives_kern_already_in_set(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let s1 = s.new_port_set()?;
    let s2 = s.new_port_set()?;
    let p = s.new_receive()?;
    s.insert_member(TASK, p, s1).succeeds()?;
    let before = s.state()?;
    // This set, or another.
    s.insert_member(TASK, p, s1).gives(KERN_ALREADY_IN_SET)?;
    s.insert_member(TASK, p, s2).gives(KERN_ALREADY_IN_SET)?;
    s.set_status(TASK, s1).returns(vec![p])?;
    s.set_status(TASK, s2).returns(vec![])?;
    s.expect_state(&before, "insert_member of a member")
}

fn insert_member_return_codes_in_the_documented_order(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let p = s.new_receive()?;
    let q = s.new_receive()?;
    let far = TestSpace::open_as("far")?;
    let (_, send) = far_send(&s, &far)?;
    let dead = s.new_dead_name(1)?;
    let unused = s.unused_name(0x4646_4603)?;
    s.insert_member(TASK, q, set).succeeds()?;
    let before = s.state()?;
    // NULL/DEAD names, either side, before any lookup.
    for (member, to) in [
        (NULL, set),
        (DEAD, set),
        (p, NULL),
        (p, DEAD),
        (NULL, NULL),
        (unused, DEAD),
        (DEAD, unused),
    ] {
        s.insert_member(TASK, member, to)
            .gives(KERN_INVALID_RIGHT)?;
    }
    // Lookups: member first, then the set.
    s.insert_member(TASK, unused, set)
        .gives(KERN_INVALID_NAME)?;
    s.insert_member(TASK, unused, p).gives(KERN_INVALID_NAME)?;
    s.insert_member(TASK, p, unused).gives(KERN_INVALID_NAME)?;
    s.insert_member(TASK, send, unused)
        .gives(KERN_INVALID_NAME)?;
    // Rights: member must be a receive right, set a port set.
    s.insert_member(TASK, send, set).gives(KERN_INVALID_RIGHT)?;
    s.insert_member(TASK, dead, set).gives(KERN_INVALID_RIGHT)?;
    s.insert_member(TASK, set, set).gives(KERN_INVALID_RIGHT)?;
    s.insert_member(TASK, p, q).gives(KERN_INVALID_RIGHT)?;
    s.insert_member(TASK, p, send).gives(KERN_INVALID_RIGHT)?;
    // Rights before membership: q is a member, but the set is wrong.
    s.insert_member(TASK, q, dead).gives(KERN_INVALID_RIGHT)?;
    s.insert_member(TASK, q, set).gives(KERN_ALREADY_IN_SET)?;
    s.set_status(TASK, set).returns(vec![q])?;
    s.expect_state(&before, "insert_member errors")
}

fn extract_member_takes_a_member_out_of_its_set(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let p = s.new_receive()?;
    let q = s.new_receive()?;
    s.insert_member(TASK, p, set).succeeds()?;
    s.insert_member(TASK, q, set).succeeds()?;
    let before = s.state()?;
    s.extract_member(TASK, p, set).succeeds()?;
    s.set_status(TASK, set).returns(vec![q])?;
    expect_status_field(&s, p, "pset", |st| st.pset, 0)?;
    s.expect_state(&before, "extract_member")
}

fn extract_member_of_a_port_not_in_that_set_gives_kern_not_in_set(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let s1 = s.new_port_set()?;
    let s2 = s.new_port_set()?;
    let p = s.new_receive()?;
    let q = s.new_receive()?;
    s.insert_member(TASK, p, s1).succeeds()?;
    let before = s.state()?;
    s.extract_member(TASK, p, s2).gives(KERN_NOT_IN_SET)?;
    s.extract_member(TASK, q, s1).gives(KERN_NOT_IN_SET)?;
    s.extract_member(TASK, q, s2).gives(KERN_NOT_IN_SET)?;
    s.set_status(TASK, s1).returns(vec![p])?;
    s.expect_state(&before, "extract_member of non-members")
}

fn extract_member_return_codes_in_the_documented_order(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let p = s.new_receive()?;
    let far = TestSpace::open_as("far")?;
    let (_, send) = far_send(&s, &far)?;
    let dead = s.new_dead_name(1)?;
    let unused = s.unused_name(0x4747_4703)?;
    s.insert_member(TASK, p, set).succeeds()?;
    let before = s.state()?;
    for (member, from) in [
        (NULL, set),
        (DEAD, set),
        (p, NULL),
        (p, DEAD),
        (unused, DEAD),
    ] {
        s.extract_member(TASK, member, from)
            .gives(KERN_INVALID_RIGHT)?;
    }
    s.extract_member(TASK, unused, set)
        .gives(KERN_INVALID_NAME)?;
    s.extract_member(TASK, p, unused).gives(KERN_INVALID_NAME)?;
    s.extract_member(TASK, send, set)
        .gives(KERN_INVALID_RIGHT)?;
    s.extract_member(TASK, dead, set)
        .gives(KERN_INVALID_RIGHT)?;
    s.extract_member(TASK, p, p).gives(KERN_INVALID_RIGHT)?;
    s.extract_member(TASK, p, dead).gives(KERN_INVALID_RIGHT)?;
    s.set_status(TASK, set).returns(vec![p])?;
    s.expect_state(&before, "extract_member errors")
}

fn a_receive_right_is_in_at_most_one_set(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let sets: Vec<PortName> = (0..4).map(|_| s.new_port_set()).collect::<Result<_, _>>()?;
    let p = s.new_receive()?;
    for &set in &sets {
        s.move_member(TASK, p, set).succeeds()?;
        let mut holding = 0;
        for &other in &sets {
            if members(&s, other)?.contains(&p) {
                holding += 1;
            }
        }
        expect_eq("sets holding the port", 1, holding)?;
        for &other in &sets {
            s.insert_member(TASK, p, other).gives(KERN_ALREADY_IN_SET)?;
        }
    }
    Ok(())
}

// --- Receiving on a set -----------------------------------------------------

fn receive_on_a_set_gives_a_members_message_its_name_and_its_sequence_number(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let a = s.new_receive()?;
    let b = s.new_receive()?;
    // Two messages through a's own name first: its seqno is 2 when it
    // joins.
    for id in [1, 2] {
        send(&s, &Msg::new(a, MAKE_SEND_ONCE).id(id))?;
        let m = receive(&s, a)?;
        expect_eq("id received directly", id, m.id())?;
    }
    s.insert_member(TASK, a, set).succeeds()?;
    s.insert_member(TASK, b, set).succeeds()?;
    send(&s, &Msg::new(b, MAKE_SEND).id(10).data(b"to b"))?;
    let m = receive(&s, set)?;
    expect_eq("id through the set", 10, m.id())?;
    expect_eq("msgh_local_port through the set", b, m.local())?;
    // Local (destination) type PORT_SEND, no reply.
    expect_eq("msgh_bits through the set", 0x1100, m.bits())?;
    expect_eq("body", &b"to b"[..], m.body())?;
    expect_eq("seqno of b's first message", 0, m.seqno())?;
    send(&s, &Msg::new(a, MAKE_SEND_ONCE).id(11))?;
    let m = receive(&s, set)?;
    expect_eq("id through the set", 11, m.id())?;
    expect_eq("msgh_local_port through the set", a, m.local())?;
    expect_eq("seqno of a's third message", 2, m.seqno())?;
    expect_eq("msgh_bits through the set", 0x1200, m.bits())?;
    expect_no_message(&s, set)?;
    expect_status_field(&s, a, "seqno", |st| st.seqno, 3)
}

fn message_queued_before_the_port_joined_is_received_through_the_set(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let p = s.new_receive()?;
    send(&s, &Msg::new(p, MAKE_SEND).id(1))?;
    send(&s, &Msg::new(p, MAKE_SEND).id(2))?;
    expect_no_message(&s, set)?;
    s.move_member(TASK, p, set).succeeds()?;
    for id in [1, 2] {
        let m = receive(&s, set)?;
        expect_eq("id", id, m.id())?;
        expect_eq("msgh_local_port", p, m.local())?;
        expect_eq("seqno", (id - 1) as u32, m.seqno())?;
    }
    expect_no_message(&s, set)
}

fn members_of_a_set_take_turns(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let a = s.new_receive()?;
    let b = s.new_receive()?;
    s.move_member(TASK, a, set).succeeds()?;
    s.move_member(TASK, b, set).succeeds()?;
    for i in 0..4 {
        send(&s, &Msg::new(a, MAKE_SEND_ONCE).id(100 + i))?;
        send(&s, &Msg::new(b, MAKE_SEND_ONCE).id(200 + i))?;
    }
    let mut from = Vec::new();
    let mut next = BTreeMap::from([(a, 100), (b, 200)]);
    for _ in 0..8 {
        let m = receive(&s, set)?;
        let want = next
            .get_mut(&m.local())
            .ok_or_else(|| format!("a message from {:?}, not a member", m.local()))?;
        expect_eq(
            "id of the member's next message (its queue order)",
            *want,
            m.id(),
        )?;
        *want += 1;
        from.push(m.local());
    }
    // While both have messages, neither is served twice in a row.
    for w in from.windows(2) {
        ensure(w[0] != w[1], || {
            format!("members did not take turns: messages came from {from:?}")
        })?;
    }
    expect_no_message(&s, set)
}

fn receive_on_a_set_with_no_message_times_out(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    // Empty set, then a set with empty members.
    expect_no_message(&s, set)?;
    let p = s.new_receive()?;
    s.move_member(TASK, p, set).succeeds()?;
    match try_receive(&s, set, 100)? {
        Err(mr) if mr == sys::MACH_RCV_TIMED_OUT => Ok(()),
        Err(mr) => Err(format!(
            "receive on an idle set (100 ms): got {}",
            mr_name(mr)
        )),
        Ok(m) => Err(format!("receive on an idle set: got id {}", m.id())),
    }
}

fn receiver_blocked_on_a_set_wakes_for_a_send_to_any_member(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let ports: Vec<PortName> = (0..3).map(|_| s.new_receive()).collect::<Result<_, _>>()?;
    for &p in &ports {
        s.move_member(TASK, p, set).succeeds()?;
    }
    for (i, &target) in ports.iter().enumerate() {
        let got = receive_while(&s, set, || {
            send(&s, &Msg::new(target, MAKE_SEND).id(i as i32))
        })?
        .map_err(|mr| format!("blocked receive on the set: got {}", mr_name(mr)))?;
        expect_eq("id", i as i32, got.id())?;
        expect_eq("msgh_local_port", target, got.local())?;
    }
    Ok(())
}

fn receiver_blocked_on_a_set_wakes_with_port_changed_when_the_set_is_destroyed(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    for how in ["destroy", "deallocate", "mod_refs(PORT_SET, -1)"] {
        let set = s.new_port_set()?;
        let p = s.new_receive()?;
        s.move_member(TASK, p, set).succeeds()?;
        let got = receive_while(&s, set, || match how {
            "destroy" => s.destroy(TASK, set).succeeds(),
            "deallocate" => s.deallocate(TASK, set).succeeds(),
            _ => s.mod_refs(TASK, set, PORT_SET, -1).succeeds(),
        })?;
        match got {
            Err(mr) if mr == sys::MACH_RCV_PORT_CHANGED => {}
            Err(mr) => {
                return Err(format!(
                    "receive blocked on a set that {how} destroyed: expected MACH_RCV_PORT_CHANGED, got {}",
                    mr_name(mr)
                ))
            }
            Ok(m) => return Err(format!("receive blocked on a set that {how} destroyed: got id {}", m.id())),
        }
        s.expect_receive(p)?;
        s.expect_unused(set)?;
        s.destroy(TASK, p).succeeds()?;
    }
    s.expect_only_task_self()
}

fn destroying_a_set_releases_its_members_with_their_messages(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    for how in ["destroy", "deallocate", "mod_refs(PORT_SET, -1)"] {
        let set = s.new_port_set()?;
        let a = s.new_receive()?;
        let b = s.new_send_receive(2)?;
        s.move_member(TASK, a, set).succeeds()?;
        s.move_member(TASK, b, set).succeeds()?;
        send(&s, &Msg::new(a, MAKE_SEND).id(1))?;
        send(&s, &Msg::new(a, MAKE_SEND).id(2))?;
        send(&s, &Msg::new(b, COPY_SEND).id(3))?;
        match how {
            "destroy" => s.destroy(TASK, set).succeeds()?,
            "deallocate" => s.deallocate(TASK, set).succeeds()?,
            _ => s.mod_refs(TASK, set, PORT_SET, -1).succeeds()?,
        }
        s.expect_unused(set)?;
        s.expect_receive(a)?;
        s.expect_send_receive(b, 2)?;
        expect_status_field(&s, a, "pset", |st| st.pset, 0)?;
        expect_status_field(&s, a, "msgcount", |st| st.msgcount, 2)?;
        expect_status_field(&s, b, "msgcount", |st| st.msgcount, 1)?;
        for (port, id) in [(a, 1), (a, 2), (b, 3)] {
            let m = receive(&s, port)?;
            expect_eq(
                &format!("id after the set was destroyed by {how}"),
                id,
                m.id(),
            )?;
        }
        // They can join a new set.
        let set2 = s.new_port_set()?;
        s.insert_member(TASK, a, set2).succeeds()?;
        s.insert_member(TASK, b, set2).succeeds()?;
        for name in [set2, a, b] {
            s.destroy(TASK, name).succeeds()?;
        }
    }
    s.expect_only_task_self()
}

fn closing_a_space_with_sets_and_members_frees_everything(_: &mut Ctx) -> TestResult {
    let watch = TestSpace::open_as("watcher")?;
    let baseline = leak_counts(&watch)?;
    {
        let s = TestSpace::open()?;
        let sets: Vec<PortName> = (0..3).map(|_| s.new_port_set()).collect::<Result<_, _>>()?;
        for i in 0..12 {
            let p = s.new_send_receive(1)?;
            s.move_member(TASK, p, sets[i % 3]).succeeds()?;
            send(&s, &Msg::new(p, MAKE_SEND).id(i as i32).data(&[7u8; 100]))?;
        }
    }
    expect_baseline(
        &watch,
        baseline,
        "closing a space with sets, members and messages",
    )
}

fn rcv_large_identity_on_a_set_names_the_member_and_keeps_the_message(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let a = s.new_receive()?;
    let b = s.new_receive()?;
    s.move_member(TASK, a, set).succeeds()?;
    s.move_member(TASK, b, set).succeeds()?;
    send(&s, &Msg::new(b, MAKE_SEND_ONCE).id(5).data(&[1u8; 100]))?;
    let (mr, buf) = receive_raw(
        &s,
        set,
        sys::MACH_RCV_LARGE | sys::MACH_RCV_LARGE_IDENTITY,
        64,
        0,
    )?;
    expect_eq(
        "receive of 124 bytes into 64 with RCV_LARGE",
        mr_name(sys::MACH_RCV_TOO_LARGE),
        mr_name(mr),
    )?;
    let word =
        |off: usize| u32::from_ne_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]]);
    expect_eq("msgh_size written back", 124, word(4))?;
    expect_eq("msgh_local_port with RCV_LARGE_IDENTITY", b.0, word(12))?;
    // The message stayed queued.
    let m = receive(&s, set)?;
    expect_eq("id", 5, m.id())?;
    expect_eq("msgh_local_port", b, m.local())?;
    expect_eq("seqno", 0, m.seqno())?;
    expect_no_message(&s, set)
}

fn direct_receive_on_a_member_is_allowed(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let a = s.new_receive()?;
    s.move_member(TASK, a, set).succeeds()?;
    send(&s, &Msg::new(a, MAKE_SEND).id(1))?;
    send(&s, &Msg::new(a, MAKE_SEND).id(2))?;
    let m = receive(&s, a)?;
    expect_eq("id received on the member directly", 1, m.id())?;
    expect_eq("msgh_local_port", a, m.local())?;
    let m = receive(&s, set)?;
    expect_eq("id received through the set", 2, m.id())?;
    expect_eq("seqno", 1, m.seqno())?;
    // Still a member.
    s.set_status(TASK, set).returns(vec![a])
}

fn port_leaves_its_set_when_it_dies(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let mut ports = Vec::new();
    for _ in 0..3 {
        let p = s.new_send_receive(1)?;
        s.move_member(TASK, p, set).succeeds()?;
        ports.push(p);
    }
    s.destroy(TASK, ports[0]).succeeds()?;
    s.set_status(TASK, set)
        .returns(sorted(vec![ports[1], ports[2]]))?;
    s.mod_refs(TASK, ports[1], RECEIVE, -1).succeeds()?;
    s.set_status(TASK, set).returns(vec![ports[2]])?;
    s.expect_dead(ports[1], 1)?;
    // A port whose space is closed: give its receive right to B, in B's set.
    let b = TestSpace::open_as("B")?;
    let tb = s.task_for(&b)?;
    let bset = b.new_port_set()?;
    s.insert_right(tb, N1, ports[2], MOVE_RECEIVE).succeeds()?;
    b.move_member(TASK, N1, bset).succeeds()?;
    s.set_status(TASK, set).returns(vec![])?;
    b.set_status(TASK, bset).returns(vec![N1])?;
    drop(b);
    s.expect_dead(ports[2], 1)?;
    s.set_status(TASK, set).returns(vec![])
}

fn port_leaves_its_set_when_its_receive_right_moves_in_a_message(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let p = s.new_receive()?;
    let carrier = s.new_receive()?;
    s.move_member(TASK, p, set).succeeds()?;
    send(&s, &Msg::new(p, MAKE_SEND).id(7))?;
    send(&s, &Msg::new(carrier, MAKE_SEND).port(p, MOVE_RECEIVE))?;
    s.set_status(TASK, set).returns(vec![])?;
    s.expect_unused(p)?;
    // Its message is not received through the set any more.
    expect_no_message(&s, set)?;
    let m = receive(&s, carrier)?;
    let (name, disp, _) = m.port_descriptor(0);
    expect_eq(
        "disposition of the received right",
        sys::MACH_MSG_TYPE_PORT_RECEIVE as u8,
        disp,
    )?;
    s.expect_receive(name)?;
    expect_status_field(&s, name, "pset", |st| st.pset, 0)?;
    s.set_status(TASK, set).returns(vec![])?;
    let m = receive(&s, name)?;
    expect_eq("id of the message queued before the move", 7, m.id())
}

fn port_leaves_its_set_when_its_receive_right_moves_by_insert_or_extract_right(
    _: &mut Ctx,
) -> TestResult {
    let p = Pair::new()?;
    let set = p.a.new_port_set()?;
    let x = p.a.new_receive()?;
    let y = p.a.new_receive()?;
    p.a.move_member(TASK, x, set).succeeds()?;
    p.a.move_member(TASK, y, set).succeeds()?;
    p.a.insert_right(p.tb, N1, x, MOVE_RECEIVE).succeeds()?;
    p.a.set_status(TASK, set).returns(vec![y])?;
    expect_status_field(&p.b, N1, "pset", |st| st.pset, 0)?;
    // B takes y away with extract_right through its task port for A.
    let ta = p.b.task_for(&p.a)?;
    let got = p.b.extract_right(ta, y, MOVE_RECEIVE).succeeds()?;
    p.a.set_status(TASK, set).returns(vec![])?;
    expect_status_field(&p.b, got.name, "pset", |st| st.pset, 0)?;
    Ok(())
}

fn receive_status_names_the_set_of_a_member(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let s1 = s.new_port_set()?;
    let s2 = s.new_port_set()?;
    let p = s.new_receive()?;
    expect_status_field(&s, p, "pset", |st| st.pset, 0)?;
    s.move_member(TASK, p, s1).succeeds()?;
    expect_status_field(&s, p, "pset", |st| st.pset, s1.0)?;
    s.move_member(TASK, p, s2).succeeds()?;
    expect_status_field(&s, p, "pset", |st| st.pset, s2.0)?;
    s.extract_member(TASK, p, s2).succeeds()?;
    expect_status_field(&s, p, "pset", |st| st.pset, 0)?;
    s.insert_member(TASK, p, s1).succeeds()?;
    s.destroy(TASK, s1).succeeds()?;
    expect_status_field(&s, p, "pset", |st| st.pset, 0)
}

// --- Under load ---------------------------------------------------------------

/// The data of a stress message: sender, sequence, port index.
fn stamp(sender: usize, seq: usize, port: usize) -> Vec<u8> {
    [sender as u32, seq as u32, port as u32]
        .iter()
        .flat_map(|w| w.to_ne_bytes())
        .collect()
}

fn unstamp(m: &Rcv) -> Result<(usize, usize, usize), String> {
    let b = m.body();
    if b.len() != 12 {
        return Err(format!(
            "a stress message of {} bytes: {}",
            m.size(),
            m.describe()
        ));
    }
    let w = |i: usize| {
        u32::from_ne_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]) as usize
    };
    Ok((w(0), w(1), w(2)))
}

/// What the receivers of a stress test collected: per message (sender,
/// seq) the port it came from; per port the sequence numbers.
#[derive(Default)]
struct Collected {
    messages: BTreeMap<(usize, usize), Vec<PortName>>,
    seqnos: BTreeMap<PortName, Vec<u32>>,
}

impl Collected {
    fn add(&mut self, m: &Rcv, ports: &[PortName]) -> TestResult {
        let (sender, seq, port) = unstamp(m)?;
        let want = *ports
            .get(port)
            .ok_or_else(|| format!("port index {port}"))?;
        ensure(m.local() == want, || {
            format!(
                "message {sender}/{seq} sent to {want:?} came with local port {:?}",
                m.local()
            )
        })?;
        self.messages
            .entry((sender, seq))
            .or_default()
            .push(m.local());
        self.seqnos.entry(m.local()).or_default().push(m.seqno());
        Ok(())
    }

    fn merge(&mut self, other: Collected) {
        for (k, v) in other.messages {
            self.messages.entry(k).or_default().extend(v);
        }
        for (k, v) in other.seqnos {
            self.seqnos.entry(k).or_default().extend(v);
        }
    }

    /// Every message of `senders` x `per_sender` exactly once; each port's
    /// sequence numbers 0..n without repeats.
    fn check(&self, senders: usize, per_sender: usize) -> TestResult {
        let mut missing = Vec::new();
        for sender in 0..senders {
            for seq in 0..per_sender {
                match self.messages.get(&(sender, seq)) {
                    None => missing.push((sender, seq)),
                    Some(v) if v.len() != 1 => {
                        return Err(format!(
                            "message {sender}/{seq} was received {} times",
                            v.len()
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
        ensure(missing.is_empty(), || {
            format!(
                "{} of {} messages were lost, e.g. {:?}",
                missing.len(),
                senders * per_sender,
                &missing[..missing.len().min(10)]
            )
        })?;
        ensure(self.messages.len() == senders * per_sender, || {
            format!(
                "{} distinct messages received, {} sent",
                self.messages.len(),
                senders * per_sender
            )
        })?;
        for (port, seqnos) in &self.seqnos {
            let got: BTreeSet<u32> = seqnos.iter().copied().collect();
            let want: BTreeSet<u32> = (0..seqnos.len() as u32).collect();
            ensure(got == want && got.len() == seqnos.len(), || {
                format!(
                    "sequence numbers of {port:?} are not 0..{} once each",
                    seqnos.len()
                )
            })?;
        }
        Ok(())
    }
}

fn set_receive_with_several_members_and_many_threads_delivers_every_message_once(
    ctx: &mut Ctx,
) -> TestResult {
    const MEMBERS: usize = 5;
    const SENDERS: usize = 4;
    const RECEIVERS: usize = 4;
    const PER_SENDER: usize = 300;
    let s = TestSpace::open()?;
    let set = s.new_port_set()?;
    let ports: Vec<PortName> = (0..MEMBERS)
        .map(|_| s.new_send_receive(1))
        .collect::<Result<_, _>>()?;
    for &p in &ports {
        s.move_member(TASK, p, set).succeeds()?;
        // Room for bursts; senders also wait for room.
        let mut a = sys::PortAttributesArgs {
            task: TASK.0,
            name: p.0,
            flavor: sys::MACH_PORT_LIMITS_INFO,
            count: 1,
            ..Default::default()
        };
        a.info[0] = 16;
        // SAFETY: MACH_IOC_PORT_SET_ATTRIBUTES takes a PortAttributesArgs.
        unsafe {
            mach::ioctl_raw(
                std::os::fd::AsFd::as_fd(&s),
                sys::MACH_IOC_PORT_SET_ATTRIBUTES,
                &mut a,
            )
        }
        .map_err(|e| format!("set_attributes: {e}"))?;
    }
    let received = AtomicUsize::new(0);
    let senders_done = AtomicUsize::new(0);
    let total = SENDERS * PER_SENDER;
    let all = std::thread::scope(|scope| -> Result<Collected, String> {
        let mut receivers = Vec::new();
        for _ in 0..RECEIVERS {
            receivers.push(scope.spawn(|| -> Result<Collected, String> {
                let mut got = Collected::default();
                while received.load(Ordering::SeqCst) < total {
                    match try_receive(&s, set, 200)? {
                        Ok(m) => {
                            received.fetch_add(1, Ordering::SeqCst);
                            got.add(&m, &ports)?;
                        }
                        // Nothing for 200 ms after the last send: whatever
                        // is missing is lost.
                        Err(mr) if mr == sys::MACH_RCV_TIMED_OUT => {
                            if senders_done.load(Ordering::SeqCst) == SENDERS {
                                break;
                            }
                        }
                        Err(mr) => return Err(format!("receive on the set: {}", mr_name(mr))),
                    }
                }
                Ok(got)
            }));
        }
        let mut senders = Vec::new();
        for sender in 0..SENDERS {
            let ports = &ports;
            let s = &s;
            let senders_done = &senders_done;
            senders.push(scope.spawn(move || -> TestResult {
                let r = (|| {
                    for seq in 0..PER_SENDER {
                        let port = (seq * 7 + sender) % MEMBERS;
                        // Alternate send and send-once destinations.
                        let disp = if seq % 2 == 0 {
                            COPY_SEND
                        } else {
                            MAKE_SEND_ONCE
                        };
                        send(
                            s,
                            &Msg::new(ports[port], disp)
                                .id(seq as i32)
                                .data(&stamp(sender, seq, port)),
                        )?;
                    }
                    Ok(())
                })();
                senders_done.fetch_add(1, Ordering::SeqCst);
                r
            }));
        }
        let mut first_error = None;
        for t in senders {
            if let Err(e) = t
                .join()
                .map_err(|_| "a sender panicked".to_string())
                .and_then(|r| r)
            {
                first_error.get_or_insert(e);
            }
        }
        if first_error.is_some() {
            // Let the receivers stop.
            received.store(total, Ordering::SeqCst);
        }
        let mut all = Collected::default();
        for t in receivers {
            match t
                .join()
                .map_err(|_| "a receiver panicked".to_string())
                .and_then(|r| r)
            {
                Ok(c) => all.merge(c),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(all),
        }
    })?;
    all.check(SENDERS, PER_SENDER)?;
    let per_port: Vec<usize> = ports
        .iter()
        .map(|p| all.seqnos.get(p).map_or(0, Vec::len))
        .collect();
    ctx.diag(format!("messages per member: {per_port:?}"));
    expect_no_message(&s, set)
}

fn move_member_racing_with_sends_loses_no_message(ctx: &mut Ctx) -> TestResult {
    const PORTS: usize = 4;
    const SENDERS: usize = 2;
    const PER_SENDER: usize = 400;
    let mut rng = Rng::from_time();
    ctx.diag(format!("seed {:#x}", rng.0));
    let s = TestSpace::open()?;
    let s1 = s.new_port_set()?;
    let s2 = s.new_port_set()?;
    let ports: Vec<PortName> = (0..PORTS)
        .map(|_| s.new_receive())
        .collect::<Result<_, _>>()?;
    let senders_done = AtomicUsize::new(0);
    let moves_done = AtomicBool::new(false);
    let seed = rng.next();
    let collected = std::thread::scope(|scope| -> Result<Collected, String> {
        let mover = scope.spawn(|| -> Result<usize, String> {
            let mut rng = Rng(seed | 1);
            let mut moves = 0;
            while senders_done.load(Ordering::SeqCst) < SENDERS {
                let p = ports[rng.below(PORTS as u64) as usize];
                match rng.below(3) {
                    0 => s.move_member(TASK, p, s1).succeeds()?,
                    1 => s.move_member(TASK, p, s2).succeeds()?,
                    _ => match s.move_member(TASK, p, NULL).succeeds() {
                        Ok(()) => {}
                        // It was in no set.
                        Err(_) => s.move_member(TASK, p, NULL).gives(KERN_NOT_IN_SET)?,
                    },
                }
                moves += 1;
            }
            moves_done.store(true, Ordering::SeqCst);
            Ok(moves)
        });
        let mut receivers = Vec::new();
        for set in [s1, s2] {
            let s = &s;
            let ports = &ports;
            let moves_done = &moves_done;
            receivers.push(scope.spawn(move || -> Result<Collected, String> {
                let mut got = Collected::default();
                while !moves_done.load(Ordering::SeqCst) {
                    match try_receive(s, set, 20)? {
                        Ok(m) => got.add(&m, ports)?,
                        Err(mr) if mr == sys::MACH_RCV_TIMED_OUT => {}
                        Err(mr) => return Err(format!("receive on {set:?}: {}", mr_name(mr))),
                    }
                }
                Ok(got)
            }));
        }
        let mut senders = Vec::new();
        for sender in 0..SENDERS {
            let s = &s;
            let ports = &ports;
            let senders_done = &senders_done;
            senders.push(scope.spawn(move || -> TestResult {
                let r = (|| {
                    for seq in 0..PER_SENDER {
                        let port = (seq * 3 + sender) % PORTS;
                        // Send-once destinations never wait for room.
                        send(
                            s,
                            &Msg::new(ports[port], MAKE_SEND_ONCE)
                                .id(seq as i32)
                                .data(&stamp(sender, seq, port)),
                        )?;
                    }
                    Ok(())
                })();
                senders_done.fetch_add(1, Ordering::SeqCst);
                r
            }));
        }
        let mut first_error = None;
        for t in senders {
            if let Err(e) = t
                .join()
                .map_err(|_| "a sender panicked".to_string())
                .and_then(|r| r)
            {
                first_error.get_or_insert(e);
            }
        }
        let moves = mover
            .join()
            .map_err(|_| "the mover panicked".to_string())
            .and_then(|r| r);
        let mut all = Collected::default();
        for t in receivers {
            match t
                .join()
                .map_err(|_| "a receiver panicked".to_string())
                .and_then(|r| r)
            {
                Ok(c) => all.merge(c),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match (first_error, moves) {
            (Some(e), _) | (None, Err(e)) => Err(e),
            (None, Ok(moves)) => {
                ctx.diag(format!("{moves} moves"));
                Ok(all)
            }
        }
    })?;
    // What is left is on the ports themselves.
    let mut all = collected;
    let through_sets = all.messages.len();
    for &p in &ports {
        loop {
            match try_receive(&s, p, 0)? {
                Ok(m) => all.add(&m, &ports)?,
                Err(mr) if mr == sys::MACH_RCV_TIMED_OUT => break,
                Err(mr) => return Err(format!("draining {p:?}: {}", mr_name(mr))),
            }
        }
    }
    ctx.diag(format!(
        "{through_sets} received through the sets, the rest directly"
    ));
    all.check(SENDERS, PER_SENDER)?;
    expect_no_message(&s, s1)?;
    expect_no_message(&s, s2)
}
