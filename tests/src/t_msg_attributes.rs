//! mach_port_get_attributes / mach_port_set_attributes (docs/messages.md,
//! Attributes): the queue limit, the receive status, the checks in their
//! order.

use mach::{sys, KernReturn, PortName};

use crate::check::*;
use crate::msg::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    limits_info_of_a_new_port_is_the_default_queue_limit,
    receive_status_of_a_new_port_is_zero_but_for_the_queue_limit,
    receive_status_counts_messages_rights_make_sends_and_seqno,
    sequence_number_restarts_at_zero_when_the_receive_right_moves,
    dnrequests_size_is_zero,
    get_attributes_with_a_bad_task_gives_invalid_task,
    get_attributes_with_an_unknown_flavor_gives_invalid_argument_before_the_name_is_looked_at,
    get_attributes_with_too_small_a_count_gives_failure_before_the_name_is_looked_at,
    get_attributes_on_a_name_without_a_receive_right_gives_invalid_name_or_invalid_right,
    get_attributes_on_null_and_dead_answer_as_xnu,
    set_queue_limit_to_0_and_1024_reads_back,
    set_queue_limit_above_1024_gives_invalid_value_and_keeps_the_limit,
    set_attributes_with_count_0_gives_failure,
    set_attributes_of_another_flavor_gives_invalid_argument,
    set_attributes_on_a_name_without_a_receive_right_gives_invalid_name_or_invalid_right,
    set_attributes_with_a_bad_task_gives_invalid_task,
    attributes_through_a_task_port_act_on_that_space,
];

const LIMITS: u32 = sys::MACH_PORT_LIMITS_INFO;
const STATUS: u32 = sys::MACH_PORT_RECEIVE_STATUS;
const DNREQ: u32 = sys::MACH_PORT_DNREQUESTS_SIZE;

/// get_attributes with a 10-word capacity expected to give `want`.
fn get_gives(
    s: &TestSpace,
    task: PortName,
    name: PortName,
    flavor: u32,
    count: u32,
    want: KernReturn,
) -> TestResult {
    let (kr, _, _) = get_attributes(s, task, name, flavor, count)?;
    ensure(kr == want, || {
        format!("get_attributes({task:?}, {name:?}, flavor {flavor}, count {count}): expected {want}, got {kr}")
    })
}

fn set_gives(
    s: &TestSpace,
    task: PortName,
    name: PortName,
    flavor: u32,
    info: &[u32],
    count: u32,
    want: KernReturn,
) -> TestResult {
    let kr = set_attributes(s, task, name, flavor, info, count)?;
    ensure(kr == want, || {
        format!("set_attributes({task:?}, {name:?}, flavor {flavor}, {info:?}, count {count}): expected {want}, got {kr}")
    })
}

/// get_attributes expected to succeed with `want` (count and words).
fn get_returns(s: &TestSpace, name: PortName, flavor: u32, count: u32, want: &[u32]) -> TestResult {
    let (kr, got_count, info) = get_attributes(s, TASK, name, flavor, count)?;
    let what = format!("get_attributes({name:?}, flavor {flavor}, count {count})");
    ensure(kr == KERN_SUCCESS, || {
        format!("{what}: expected KERN_SUCCESS, got {kr}")
    })?;
    expect_eq(
        &format!("{what}: (count, info)"),
        (want.len() as u32, want.to_vec()),
        (got_count, info[..want.len()].to_vec()),
    )
}

const KERN_FAILURE: KernReturn = KernReturn(sys::KERN_FAILURE);

fn limits_info_of_a_new_port_is_the_default_queue_limit(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    get_returns(&s, p, LIMITS, 1, &[5])?;
    get_returns(&s, p, LIMITS, 10, &[5])
}

fn receive_status_of_a_new_port_is_zero_but_for_the_queue_limit(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    get_returns(&s, p, STATUS, 10, &[0, 0, 0, 5, 0, 0, 0, 0, 0, 0])
}

fn receive_status_counts_messages_rights_make_sends_and_seqno(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let other = TestSpace::open()?;
    let t = s.task_for(&other)?;
    let p = s.new_receive()?;
    // Two make-sends, into the other space; three send-once rights.
    s.insert_right(t, N1, p, MAKE_SEND).succeeds()?;
    s.insert_right(t, N1, p, MAKE_SEND).succeeds()?;
    for n in [N2, N3, N4] {
        s.insert_right(t, n, p, MAKE_SEND_ONCE).succeeds()?;
    }
    set_qlimit(&s, p, 7)?;
    // Two messages queued, one received.
    for _ in 0..3 {
        s.send_ok(&Msg::to(p, MAKE_SEND_ONCE).id(1))?;
    }
    s.recv_now(p)?;
    let st = status(&s, p)?;
    // The MAKE_SEND_ONCE destinations of the queued messages hold a
    // send-once right each until received.
    expect_eq(
        "RECEIVE_STATUS",
        Status {
            pset: 0,
            seqno: 1,
            mscount: 2,
            qlimit: 7,
            msgcount: 2,
            sorights: 5,
            srights: 1,
            pdrequest: 0,
            nsrequest: 0,
            flags: 0,
        },
        st,
    )?;
    // No send right left: srights 0. Each send-once right deallocated
    // sent a send-once notification to p, queued after the two messages,
    // which holds it until received.
    other.deallocate(TASK, N1).succeeds()?;
    other.deallocate(TASK, N1).succeeds()?;
    for n in [N2, N3, N4] {
        other.deallocate(TASK, n).succeeds()?;
    }
    for _ in 0..2 {
        expect_eq("the id received", 1, s.recv_now(p)?.header().id)?;
    }
    let st = status(&s, p)?;
    expect_eq(
        "(seqno, mscount, msgcount, sorights, srights) with the three notifications queued",
        (3, 2, 3, 3, 0),
        (st.seqno, st.mscount, st.msgcount, st.sorights, st.srights),
    )?;
    // Received, they count in the seqno like any message; no send-once
    // right is left: sorights 0.
    s.expect_send_once_notifications(p, 3)?;
    let st = status(&s, p)?;
    expect_eq(
        "(seqno, mscount, msgcount, sorights, srights) once all is gone",
        (6, 2, 0, 0, 0),
        (st.seqno, st.mscount, st.msgcount, st.sorights, st.srights),
    )
}

fn sequence_number_restarts_at_zero_when_the_receive_right_moves(_: &mut Ctx) -> TestResult {
    // As XNU, where a move of the receive right clears the receiver's
    // state (mscount and seqno); the queued messages stay.
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    for _ in 0..3 {
        s.send_ok(&Msg::to(p, MAKE_SEND_ONCE).id(1))?;
    }
    s.recv_now(p)?;
    expect_eq("seqno after one receive", 1, status(&s, p)?.seqno)?;
    let q = s.extract_right(TASK, p, MOVE_RECEIVE).succeeds()?.name;
    let st = status(&s, q)?;
    expect_eq(
        "(seqno, msgcount) after extract_right MOVE_RECEIVE",
        (0, 2),
        (st.seqno, st.msgcount),
    )?;
    s.recv_now(q)?;
    expect_eq("seqno after one more receive", 1, status(&s, q)?.seqno)
}

fn dnrequests_size_is_zero(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    get_returns(&s, p, DNREQ, 1, &[0])
}

fn get_attributes_with_a_bad_task_gives_invalid_task(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let dead_task = {
        let other = TestSpace::open()?;
        s.task_for(&other)?
    };
    s.expect_dead(dead_task, 1)?;
    let unused = s.unused_name(0x6300_0003)?;
    for task in [NULL, DEAD, p, unused, dead_task] {
        for (flavor, count) in [(LIMITS, 1), (STATUS, 10), (DNREQ, 1), (99, 10), (LIMITS, 0)] {
            get_gives(&s, task, p, flavor, count, KERN_INVALID_TASK)?;
        }
    }
    Ok(())
}

fn get_attributes_with_an_unknown_flavor_gives_invalid_argument_before_the_name_is_looked_at(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let unused = s.unused_name(0x6400_0003)?;
    for flavor in [0, 4, 5, 99, 0xffff_ffff] {
        for name in [p, unused, TASK, NULL] {
            get_gives(&s, TASK, name, flavor, 10, KERN_INVALID_ARGUMENT)?;
        }
    }
    Ok(())
}

fn get_attributes_with_too_small_a_count_gives_failure_before_the_name_is_looked_at(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let unused = s.unused_name(0x6500_0003)?;
    for name in [p, unused, TASK] {
        get_gives(&s, TASK, name, LIMITS, 0, KERN_FAILURE)?;
        get_gives(&s, TASK, name, STATUS, 9, KERN_FAILURE)?;
        get_gives(&s, TASK, name, STATUS, 1, KERN_FAILURE)?;
        get_gives(&s, TASK, name, STATUS, 0, KERN_FAILURE)?;
    }
    Ok(())
}

fn get_attributes_on_a_name_without_a_receive_right_gives_invalid_name_or_invalid_right(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let foreign = foreign_send(&s, 1)?;
    let so = s.new_send_once(p)?;
    let set = s.new_port_set()?;
    let dead = s.new_dead_name(1)?;
    let unused = s.unused_name(0x6600_0003)?;
    for (flavor, count) in [(LIMITS, 1), (STATUS, 10), (DNREQ, 1)] {
        get_gives(&s, TASK, unused, flavor, count, KERN_INVALID_NAME)?;
        for name in [foreign.send, so, set, dead, TASK] {
            get_gives(&s, TASK, name, flavor, count, KERN_INVALID_RIGHT)?;
        }
    }
    Ok(())
}

fn get_attributes_on_null_and_dead_answer_as_xnu(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    for name in [NULL, DEAD] {
        get_returns(&s, name, LIMITS, 1, &[5])?;
        get_gives(&s, TASK, name, STATUS, 10, KERN_INVALID_RIGHT)?;
        get_returns(&s, name, DNREQ, 1, &[0])?;
    }
    Ok(())
}

fn set_queue_limit_to_0_and_1024_reads_back(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    for limit in [0, 1024, 1, 5, 16, 1023] {
        set_qlimit(&s, p, limit)?;
        get_returns(&s, p, LIMITS, 1, &[limit])?;
        expect_eq("the RECEIVE_STATUS qlimit", limit, status(&s, p)?.qlimit)?;
    }
    // Extra words are ignored.
    set_gives(&s, TASK, p, LIMITS, &[9, 77, 88], 3, KERN_SUCCESS)?;
    get_returns(&s, p, LIMITS, 1, &[9])
}

fn set_queue_limit_above_1024_gives_invalid_value_and_keeps_the_limit(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    set_qlimit(&s, p, 7)?;
    for limit in [1025, 2000, 65534, 0x8000_0000, 0xffff_ffff] {
        set_gives(&s, TASK, p, LIMITS, &[limit], 1, KERN_INVALID_VALUE)?;
        get_returns(&s, p, LIMITS, 1, &[7])?;
    }
    Ok(())
}

fn set_attributes_with_count_0_gives_failure(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    set_gives(&s, TASK, p, LIMITS, &[7], 0, KERN_FAILURE)?;
    get_returns(&s, p, LIMITS, 1, &[5])
}

fn set_attributes_of_another_flavor_gives_invalid_argument(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    for flavor in [0, STATUS, DNREQ, 4, 99, 0xffff_ffff] {
        set_gives(&s, TASK, p, flavor, &[7; 10], 10, KERN_INVALID_ARGUMENT)?;
    }
    get_returns(&s, p, LIMITS, 1, &[5])
}

fn set_attributes_on_a_name_without_a_receive_right_gives_invalid_name_or_invalid_right(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let foreign = foreign_send(&s, 1)?;
    let so = s.new_send_once(p)?;
    let set = s.new_port_set()?;
    let dead = s.new_dead_name(1)?;
    let unused = s.unused_name(0x6700_0003)?;
    set_gives(&s, TASK, unused, LIMITS, &[7], 1, KERN_INVALID_NAME)?;
    for name in [NULL, DEAD, foreign.send, so, set, dead, TASK] {
        set_gives(&s, TASK, name, LIMITS, &[7], 1, KERN_INVALID_RIGHT)?;
    }
    get_returns(&foreign.space, foreign.port, LIMITS, 1, &[5])?;
    get_returns(&s, p, LIMITS, 1, &[5])
}

fn set_attributes_with_a_bad_task_gives_invalid_task(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let unused = s.unused_name(0x6800_0003)?;
    for task in [NULL, DEAD, p, unused] {
        set_gives(&s, task, p, LIMITS, &[7], 1, KERN_INVALID_TASK)?;
        set_gives(&s, task, p, 99, &[7], 1, KERN_INVALID_TASK)?;
    }
    get_returns(&s, p, LIMITS, 1, &[5])
}

fn attributes_through_a_task_port_act_on_that_space(_: &mut Ctx) -> TestResult {
    let pr = Pair::new()?;
    let p = pr.b.new_receive()?;
    pr.b.send_ok(&Msg::to(p, MAKE_SEND))?;
    let (kr, count, info) = get_attributes(&pr.a, pr.tb, p, LIMITS, 1)?;
    expect_eq(
        "A: get_attributes(tb, p, LIMITS_INFO)",
        (KERN_SUCCESS, 1, 5),
        (kr, count, info[0]),
    )?;
    let (kr, _, info) = get_attributes(&pr.a, pr.tb, p, STATUS, 10)?;
    expect_eq(
        "A: get_attributes(tb, p, RECEIVE_STATUS) msgcount",
        (KERN_SUCCESS, 1),
        (kr, info[4]),
    )?;
    set_gives(&pr.a, pr.tb, p, LIMITS, &[3], 1, KERN_SUCCESS)?;
    get_returns(&pr.b, p, LIMITS, 1, &[3])
}
