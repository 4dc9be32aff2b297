//! Trailers (docs/messages.md, Receive 3 and 4): the size each element
//! count asks for, the trailer type, sequence numbers, and the sender's
//! ids and pid in the sender and audit elements.

use mach::sys;

use crate::check::*;
use crate::msg::*;
use crate::proc;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    trailer_size_follows_the_requested_elements_and_nothing_past_it_is_written,
    trailer_type_other_than_format_0_gives_rcv_invalid_trailer,
    seqno_starts_at_0_and_grows_by_one_per_received_message,
    trailer_of_a_root_sender_carries_its_ids_and_pid,
    trailer_carries_the_senders_effective_ids_and_the_audit_token_all_its_ids,
    trailer_context_ad_and_labels_are_zero,
];

fn trailer_size_follows_the_requested_elements_and_nothing_past_it_is_written(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    for (elems, size) in [
        (0, 8),
        (1, 12),
        (2, 20),
        (3, 52),
        (4, 60),
        (5, 68),
        (6, 68),
        (7, 68),
        (8, 68),
        (15, 68),
    ] {
        let m = Msg::to(p, MAKE_SEND).words(&[elems]);
        s.send_ok(&m)?;
        let r = s.recv_opt(p, RCV_SIZE, MACH_RCV_TIMEOUT | elements(elems), 0);
        expect_mr(
            &format!("receive with trailer elements {elems}"),
            sys::MACH_MSG_SUCCESS,
            r.mr,
        )?;
        let t = r.buf.trailer()?;
        expect_eq(
            &format!("trailer (type, size) for elements {elems}"),
            (0, size),
            (t.ty, t.size),
        )?;
        let end = (m.len() + size) as usize;
        ensure(r.buf.bytes()[end..].iter().all(|&b| b == FILL), || {
            format!("elements {elems}: the module wrote past the {size}-byte trailer")
        })?;
    }
    Ok(())
}

fn trailer_type_other_than_format_0_gives_rcv_invalid_trailer(_: &mut Ctx) -> TestResult {
    let base = Baseline::new()?;
    {
        let s = TestSpace::open()?;
        let p = s.new_receive()?;
        s.send_ok(&Msg::to(p, MAKE_SEND))?;
        for ty in [1, 2, 15] {
            let r = s.recv_opt(
                p,
                RCV_SIZE,
                MACH_RCV_TIMEOUT | sys::mach_rcv_trailer_type(ty) | elements(1),
                0,
            );
            expect_mr(
                &format!("receive with trailer type {ty}"),
                sys::MACH_RCV_INVALID_TRAILER,
                r.mr,
            )?;
        }
    }
    base.check("closing the space")
}

fn seqno_starts_at_0_and_grows_by_one_per_received_message(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    for id in 0..4 {
        s.send_ok(&Msg::to(p, MAKE_SEND).id(id))?;
    }
    expect_eq("seqno before any receive", 0, status(&s, p)?.seqno)?;
    for want in 0..4 {
        let r = s.recv_opt(p, RCV_SIZE, MACH_RCV_TIMEOUT | elements(1), 0);
        expect_mr("receive", sys::MACH_MSG_SUCCESS, r.mr)?;
        expect_eq("the trailer's seqno", want, r.buf.trailer()?.seqno)?;
        expect_eq(
            "the RECEIVE_STATUS seqno after it",
            want + 1,
            status(&s, p)?.seqno,
        )?;
    }
    // A receive that times out takes no number.
    s.expect_empty(p)?;
    s.send_ok(&Msg::to(p, MAKE_SEND))?;
    let r = s.recv_opt(p, RCV_SIZE, MACH_RCV_TIMEOUT | elements(1), 0);
    expect_eq("the next seqno", 4, r.buf.trailer()?.seqno)
}

fn trailer_of_a_root_sender_carries_its_ids_and_pid(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    s.send_ok(&Msg::to(p, MAKE_SEND))?;
    let r = s.recv_opt(p, RCV_SIZE, MACH_RCV_TIMEOUT | elements(3), 0);
    expect_mr("receive", sys::MACH_MSG_SUCCESS, r.mr)?;
    let t = r.buf.trailer()?;
    // SAFETY: These calls have no preconditions.
    let (euid, egid, ruid, rgid, pid) = unsafe {
        (
            libc::geteuid(),
            libc::getegid(),
            libc::getuid(),
            libc::getgid(),
            libc::getpid() as u32,
        )
    };
    expect_eq(
        "the sender element (uid, gid)",
        (euid, egid),
        (t.uid, t.gid),
    )?;
    expect_eq(
        "the audit token",
        [ruid, euid, egid, ruid, rgid, pid, 0, 0],
        t.audit,
    )
}

fn trailer_carries_the_senders_effective_ids_and_the_audit_token_all_its_ids(
    _: &mut Ctx,
) -> TestResult {
    const RUID: u32 = 1001;
    const EUID: u32 = 1002;
    const RGID: u32 = 2001;
    const EGID: u32 = 2002;
    let x = TestSpace::open_as("X (the child's space)")?;
    let mut child = proc::spawn(&[], |peer| {
        peer.expect("send")?;
        // SAFETY: setresgid/setresuid have no memory-safety preconditions.
        let rc = unsafe {
            let a = libc::setresgid(RGID, EGID, EGID);
            let b = libc::setresuid(RUID, EUID, EUID);
            (a, b)
        };
        ensure(rc == (0, 0), || {
            format!("setresgid/setresuid: {}", std::io::Error::last_os_error())
        })?;
        x.send_ok(&Msg::to(N1, COPY_SEND).id(5))?;
        peer.send("sent")?;
        let _ = peer.recv();
        Ok(())
    })?;
    let a = TestSpace::open_as("A (the parent's space)")?;
    let tx = a.task_for(&x)?;
    drop(x);
    let p = a.new_receive()?;
    a.insert_right(tx, N1, p, MAKE_SEND).succeeds()?;
    child.peer.send("send")?;
    child.peer.expect("sent")?;
    let r = a.recv_opt(p, RCV_SIZE, MACH_RCV_TIMEOUT | elements(3), 0);
    expect_mr("receive", sys::MACH_MSG_SUCCESS, r.mr)?;
    expect_eq("the id", 5, r.header().id)?;
    let t = r.buf.trailer()?;
    // The sender element is the effective ids; the audit user id (auid,
    // "uid" in docs/messages.md) is the real uid, as a login uid would be.
    expect_eq(
        "the sender element (uid, gid)",
        (EUID, EGID),
        (t.uid, t.gid),
    )?;
    expect_eq(
        "the audit token {auid, euid, egid, ruid, rgid, pid, asid, pidversion}",
        [RUID, EUID, EGID, RUID, RGID, child.pid() as u32, 0, 0],
        t.audit,
    )?;
    child.peer.send("exit")?;
    child.wait()
}

fn trailer_context_ad_and_labels_are_zero(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    s.send_ok(&Msg::to(p, MAKE_SEND))?;
    let r = s.recv_opt(p, RCV_SIZE, MACH_RCV_TIMEOUT | elements(8), 0);
    expect_mr("receive", sys::MACH_MSG_SUCCESS, r.mr)?;
    let t = r.buf.trailer()?;
    expect_eq(
        "the trailer (size, context, ad, labels)",
        (68, 0, 0, 0),
        (t.size, t.context, t.ad, t.labels),
    )
}
