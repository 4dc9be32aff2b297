//! Receive checks 1-3 of docs/messages.md: the receive name, waiting and
//! timeouts, a blocked receiver whose port is destroyed or moved away, and
//! messages too large for the buffer, with and without MACH_RCV_LARGE.

use std::time::{Duration, Instant};

use mach::{sys, PortName};

use crate::check::*;
use crate::msg::*;
use crate::raw::Pages;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    receive_on_a_name_without_a_receive_right_gives_rcv_invalid_name,
    receive_with_rcv_timeout_0_on_an_empty_port_gives_rcv_timed_out,
    receive_with_a_timeout_waits_about_that_long,
    blocked_receiver_gets_a_message_sent_later,
    destroying_the_port_wakes_a_blocked_receiver_with_port_changed,
    moving_the_receive_right_away_wakes_a_blocked_receiver_with_port_changed,
    rcv_large_keeps_a_too_large_message_queued_and_reports_its_size,
    rcv_large_identity_also_reports_the_receive_name,
    rcv_large_with_a_buffer_under_16_bytes_writes_nothing,
    rcv_large_into_a_buffer_at_the_top_of_the_address_space_gives_invalid_data,
    too_large_without_rcv_large_destroys_the_message_and_gives_its_header_and_trailer,
    too_large_without_rcv_large_releases_the_rights_and_memory_it_carried,
    too_large_without_rcv_large_under_24_bytes_writes_nothing_and_destroys_the_message,
    receive_buffer_of_exactly_the_message_and_its_trailer_is_enough,
    unwritable_receive_buffer_gives_rcv_invalid_data,
];

fn receive_on_a_name_without_a_receive_right_gives_rcv_invalid_name(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let foreign = foreign_send(&s, 1)?;
    let so = s.new_send_once(p)?;
    let dead = s.new_dead_name(1)?;
    let set = s.new_port_set()?;
    let unused = s.unused_name(0x6200_0003)?;
    let before = s.state()?;
    for (name, what) in [
        (NULL, "MACH_PORT_NULL"),
        (DEAD, "MACH_PORT_DEAD"),
        (foreign.send, "a send right"),
        (so, "a send-once right"),
        (dead, "a dead name"),
        (unused, "a name not in use"),
        (TASK, "the task-self name"),
    ] {
        let r = s.recv_opt(name, RCV_SIZE, MACH_RCV_TIMEOUT, 100);
        expect_mr(
            &format!("receive on {what} ({name:?})"),
            sys::MACH_RCV_INVALID_NAME,
            r.mr,
        )?;
    }
    // A port set is a receive name (docs/notifications.md): an empty one
    // waits, here until the timeout, and writes nothing.
    let r = s.recv_opt(set, RCV_SIZE, MACH_RCV_TIMEOUT, 0);
    expect_mr(
        &format!("receive (RCV_TIMEOUT 0) on an empty port set ({set:?})"),
        sys::MACH_RCV_TIMED_OUT,
        r.mr,
    )?;
    ensure(r.buf.bytes().iter().all(|&b| b == FILL), || {
        "a receive on an empty port set that timed out wrote into the buffer".into()
    })?;
    s.expect_state(&before, "receives on bad names and an empty port set")
}

fn receive_with_rcv_timeout_0_on_an_empty_port_gives_rcv_timed_out(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let r = s.recv_opt(p, RCV_SIZE, MACH_RCV_TIMEOUT, 0);
    expect_mr("receive with RCV_TIMEOUT 0", sys::MACH_RCV_TIMED_OUT, r.mr)?;
    ensure(r.buf.bytes().iter().all(|&b| b == FILL), || {
        "a receive that timed out wrote into the buffer".into()
    })
}

fn receive_with_a_timeout_waits_about_that_long(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let start = Instant::now();
    let r = s.recv_opt(p, RCV_SIZE, MACH_RCV_TIMEOUT, 300);
    let took = start.elapsed();
    expect_mr(
        "receive with RCV_TIMEOUT 300",
        sys::MACH_RCV_TIMED_OUT,
        r.mr,
    )?;
    ensure(
        took >= Duration::from_millis(280) && took < Duration::from_secs(30),
        || format!("a receive with a 300 ms timeout returned after {took:?}"),
    )
}

/// Runs a receive on `name` in `s` (RCV_MSG | `option`, no timeout) on a
/// thread of `scope`; gives its handle once the thread is blocked in the
/// ioctl, and whether that was seen.
fn blocked_receive<'s, 'e>(
    scope: &'s std::thread::Scope<'s, 'e>,
    s: &'e TestSpace,
    name: PortName,
    option: u32,
) -> (std::thread::ScopedJoinHandle<'s, Received>, bool) {
    spawn_blocked(scope, s.fd(), move || s.recv_opt(name, RCV_SIZE, option, 0))
}

fn blocked_receiver_gets_a_message_sent_later(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let (r, sent) = std::thread::scope(|scope| {
        let (h, _) = blocked_receive(scope, &s, p, 0);
        let sent = s.send_ok(&Msg::to(p, MAKE_SEND).id(3));
        (join(h), sent)
    });
    sent?;
    let r = r?;
    expect_mr("the blocked receive", sys::MACH_MSG_SUCCESS, r.mr)?;
    expect_eq("the id received", 3, r.header().id)
}

fn destroying_the_port_wakes_a_blocked_receiver_with_port_changed(ctx: &mut Ctx) -> TestResult {
    let base = Baseline::new()?;
    {
        let s = TestSpace::open()?;
        let p = s.new_receive()?;
        let (r, destroyed, blocked) = std::thread::scope(|scope| {
            let (h, blocked) = blocked_receive(scope, &s, p, 0);
            let destroyed = s.destroy(TASK, p).succeeds();
            (join(h), destroyed, blocked)
        });
        destroyed?;
        let r = r?;
        if blocked || r.mr.0 != sys::MACH_RCV_INVALID_NAME {
            expect_mr(
                "a receive whose port was destroyed",
                sys::MACH_RCV_PORT_CHANGED,
                r.mr,
            )?;
        } else {
            ctx.diag("could not see the receiver wait; it may have come after the destroy");
        }
        ensure(r.buf.bytes().iter().all(|&b| b == FILL), || {
            "the woken receive wrote into the buffer".into()
        })?;
        s.expect_only_task_self()?;
    }
    base.check("closing the space")
}

fn moving_the_receive_right_away_wakes_a_blocked_receiver_with_port_changed(
    ctx: &mut Ctx,
) -> TestResult {
    let base = Baseline::new()?;
    {
        let pr = Pair::new()?;
        let (a, b) = (&pr.a, &pr.b);
        let q = b.new_receive()?;
        let to_q = a.extract_right(pr.tb, q, MAKE_SEND).succeeds()?.name;
        let p = a.new_receive()?;
        let (r, sent, blocked) = std::thread::scope(|scope| {
            let (h, blocked) = blocked_receive(scope, a, p, 0);
            let sent = a.send_ok(&Msg::to(to_q, COPY_SEND).port(p, MOVE_RECEIVE));
            (join(h), sent, blocked)
        });
        sent?;
        let r = r?;
        if blocked || r.mr.0 != sys::MACH_RCV_INVALID_NAME {
            expect_mr(
                "a receive whose receive right was sent away",
                sys::MACH_RCV_PORT_CHANGED,
                r.mr,
            )?;
        } else {
            ctx.diag("could not see the receiver wait; it may have come after the move");
        }
        a.expect_unused(p)?;
        // The port lives on in B.
        let got = b.recv_now(q)?;
        let n = match got.descriptors()?.as_slice() {
            [Desc::Port { name, .. }] => *name,
            other => return Err(format!("expected one port descriptor, got {other:?}")),
        };
        b.expect_receive(n)?;
        b.send_ok(&Msg::to(n, MAKE_SEND).id(4))?;
        expect_eq(
            "the id received on the moved port",
            4,
            b.recv_now(n)?.header().id,
        )?;
    }
    base.check("closing the spaces")
}

/// A space with a port holding one message of 24 + `data_words` * 4 bytes
/// with id 0x77, sent with a MAKE_SEND_ONCE reply.
fn queued(data_words: u32) -> Result<(TestSpace, PortName, Msg), String> {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let r = s.new_receive()?;
    let data: Vec<u32> = (0..data_words).collect();
    let m = Msg::to(p, MAKE_SEND)
        .reply(r, MAKE_SEND_ONCE)
        .id(0x77)
        .words(&data);
    s.send_ok(&m)?;
    Ok((s, p, m))
}

fn rcv_large_keeps_a_too_large_message_queued_and_reports_its_size(_: &mut Ctx) -> TestResult {
    let (s, p, m) = queued(40)?;
    let size = m.len();
    for rcv_size in [16, 24, 100, size, size + 4] {
        let r = s.recv_opt(p, rcv_size, MACH_RCV_LARGE | MACH_RCV_TIMEOUT, 0);
        expect_mr(
            &format!("receive with RCV_LARGE into {rcv_size} bytes"),
            sys::MACH_RCV_TOO_LARGE,
            r.mr,
        )?;
        expect_eq("the msgh_size reported", size, r.buf.u32_at(4))?;
        // Nothing else is written: not even msgh_local_port.
        let rest: Vec<u8> = r.buf.bytes()[..4]
            .iter()
            .chain(&r.buf.bytes()[8..])
            .copied()
            .collect();
        ensure(rest.iter().all(|&b| b == FILL), || {
            format!("RCV_LARGE into {rcv_size} bytes wrote more than msgh_size")
        })?;
        expect_msgcount(&s, p, 1)?;
    }
    let r = s.recv_opt(p, size + 12, MACH_RCV_TIMEOUT | elements(1), 0);
    expect_mr("receive into enough room", sys::MACH_MSG_SUCCESS, r.mr)?;
    expect_eq("the id", 0x77, r.header().id)?;
    expect_eq("the data", m.data.clone(), r.buf.data()?)?;
    expect_eq(
        "the seqno (RCV_LARGE consumed none)",
        0,
        r.buf.trailer()?.seqno,
    )
}

fn rcv_large_identity_also_reports_the_receive_name(_: &mut Ctx) -> TestResult {
    let (s, p, m) = queued(10)?;
    for rcv_size in [16, 40] {
        let r = s.recv_opt(
            p,
            rcv_size,
            MACH_RCV_LARGE | MACH_RCV_LARGE_IDENTITY | MACH_RCV_TIMEOUT,
            0,
        );
        expect_mr(
            &format!("receive with RCV_LARGE|RCV_LARGE_IDENTITY into {rcv_size} bytes"),
            sys::MACH_RCV_TOO_LARGE,
            r.mr,
        )?;
        expect_eq("the msgh_size reported", m.len(), r.buf.u32_at(4))?;
        expect_eq("the msgh_local_port reported", p.0, r.buf.u32_at(12))?;
        let others: Vec<u8> = [0..4, 8..12, 16..rcv_size as usize]
            .into_iter()
            .flat_map(|range| r.buf.bytes()[range].to_vec())
            .collect();
        ensure(others.iter().all(|&b| b == FILL), || {
            "RCV_LARGE_IDENTITY wrote more than msgh_size and msgh_local_port".into()
        })?;
    }
    expect_msgcount(&s, p, 1)
}

fn rcv_large_with_a_buffer_under_16_bytes_writes_nothing(_: &mut Ctx) -> TestResult {
    let (s, p, _) = queued(10)?;
    for rcv_size in [0, 4, 8, 12] {
        let r = s.recv_opt(
            p,
            rcv_size,
            MACH_RCV_LARGE | MACH_RCV_LARGE_IDENTITY | MACH_RCV_TIMEOUT,
            0,
        );
        expect_mr(
            &format!("receive with RCV_LARGE into {rcv_size} bytes"),
            sys::MACH_RCV_TOO_LARGE,
            r.mr,
        )?;
        ensure(r.buf.bytes().iter().all(|&b| b == FILL), || {
            format!("RCV_LARGE into {rcv_size} bytes wrote into the buffer")
        })?;
        expect_msgcount(&s, p, 1)?;
    }
    Ok(())
}

/// The kernel writes msgh_size (and msgh_local_port) at offsets from the
/// buffer address: near the top of the address space those wrap around,
/// which must be refused like any bad address (found by mach-fuzz: the
/// addition overflowed in the kernel).
fn rcv_large_into_a_buffer_at_the_top_of_the_address_space_gives_invalid_data(_: &mut Ctx) -> TestResult {
    let (s, p, _) = queued(10)?;
    for address in [u64::MAX - 3, u64::MAX - 11, u64::MAX - 0xfff, 1 << 63] {
        for option in [MACH_RCV_LARGE, MACH_RCV_LARGE | MACH_RCV_LARGE_IDENTITY] {
            // SAFETY: The address is not mapped in user space; the kernel
            // refuses it.
            let mr = unsafe {
                mach_msg(
                    s.fd(),
                    address as *mut u8,
                    MACH_RCV_MSG | MACH_RCV_TIMEOUT | option,
                    0,
                    40,
                    p,
                    0,
                    PortName::NULL,
                )
            };
            expect_mr(
                &format!("receive with option {option:#x} into {address:#x}"),
                sys::MACH_RCV_INVALID_DATA,
                Mr(mr),
            )?;
        }
    }
    expect_msgcount(&s, p, 1)
}

fn too_large_without_rcv_large_destroys_the_message_and_gives_its_header_and_trailer(
    _: &mut Ctx,
) -> TestResult {
    let base = Baseline::new()?;
    {
        let (s, p, m) = queued(40)?;
        s.send_ok(&Msg::to(p, MAKE_SEND).id(0x78))?;
        let opt = MACH_RCV_TIMEOUT | elements(1);
        // Room for a header and a 12-byte trailer, not for the message.
        let r = s.recv_opt(p, 24 + 12 + 16, opt, 0);
        expect_mr(
            "receive of a 184-byte message into 52 bytes",
            sys::MACH_RCV_TOO_LARGE,
            r.mr,
        )?;
        let h = r.header();
        expect_eq(
            "(msgh_size, msgh_local_port, msgh_remote_port, msgh_id)",
            (24, p, NULL, 0x77),
            (h.size, h.local, h.remote, h.id),
        )?;
        let t = r.buf.trailer_at(24)?;
        expect_eq(
            "the trailer (type, size, seqno)",
            (0, 12, 0),
            (t.ty, t.size, t.seqno),
        )?;
        ensure(r.buf.bytes()[36..].iter().all(|&b| b == FILL), || {
            "the module wrote past the header and trailer".into()
        })?;
        let _ = m;
        // Gone: the next message is the second, with the next seqno.
        let r = s.recv_opt(p, RCV_SIZE, opt, 0);
        expect_mr("the next receive", sys::MACH_MSG_SUCCESS, r.mr)?;
        expect_eq("its id", 0x78, r.header().id)?;
        expect_eq("its seqno", 1, r.buf.trailer()?.seqno)?;
        s.expect_empty(p)?;
    }
    base.check("closing the space")
}

fn too_large_without_rcv_large_releases_the_rights_and_memory_it_carried(
    _: &mut Ctx,
) -> TestResult {
    let base = Baseline::new()?;
    {
        let pr = Pair::new()?;
        let (a, b) = (&pr.a, &pr.b);
        let p = b.new_receive()?;
        let to_p = a.extract_right(pr.tb, p, MAKE_SEND).succeeds()?.name;
        // q's receive right goes in the message; A keeps a send right to it.
        let q = a.new_send_receive(1)?;
        let r = a.new_receive()?;
        let region = map(3 * page())?;
        let m = Msg::to(to_p, COPY_SEND)
            .reply(r, MAKE_SEND_ONCE)
            .port(q, MOVE_RECEIVE)
            .port(r, MAKE_SEND)
            .port(r, MAKE_SEND_ONCE)
            .ool(region, (3 * page()) as u32, false);
        a.send_ok(&m)?;
        let st = status(a, r)?;
        expect_eq(
            "(sorights, srights) while queued",
            (2, 1),
            (st.sorights, st.srights),
        )?;
        let got = b.recv_opt(p, 40, MACH_RCV_TIMEOUT, 0);
        expect_mr("receive into 40 bytes", sys::MACH_RCV_TOO_LARGE, got.mr)?;
        b.expect_empty(p)?;
        // q died with the message; the rights to r are gone: the send
        // right for good, each of the two send-once rights (the reply and
        // the descriptor's) into a send-once notification to r, which holds
        // it until received.
        a.expect_dead(q, 1)?;
        let st = status(a, r)?;
        expect_eq(
            "(sorights, srights, msgcount) after",
            (2, 0, 2),
            (st.sorights, st.srights, st.msgcount),
        )?;
        base.expect_queued(
            "after the message was destroyed: two send-once notifications",
            2,
            2 * 24,
        )?;
        a.expect_send_once_notifications(r, 2)?;
        let st = status(a, r)?;
        expect_eq(
            "(sorights, srights, msgcount) once the notifications are received",
            (0, 0, 0),
            (st.sorights, st.srights, st.msgcount),
        )?;
        base.expect_queued("after the message was destroyed", 0, 0)?;
        b.expect_only_task_self_and(&[(p, mach::PortType::RECEIVE)])?;
        // SAFETY: Ours, unused from here on.
        unsafe { unmap(region, 3 * page()) };
    }
    base.check("closing the spaces")
}

fn too_large_without_rcv_large_under_24_bytes_writes_nothing_and_destroys_the_message(
    _: &mut Ctx,
) -> TestResult {
    let (s, p, _) = queued(10)?;
    for rcv_size in [0, 8, 16, 20] {
        s.send_ok(&Msg::to(p, MAKE_SEND).id(rcv_size))?;
    }
    for rcv_size in [0, 8, 16, 20] {
        let r = s.recv_opt(p, rcv_size, MACH_RCV_TIMEOUT, 0);
        expect_mr(
            &format!("receive into {rcv_size} bytes"),
            sys::MACH_RCV_TOO_LARGE,
            r.mr,
        )?;
        ensure(r.buf.bytes().iter().all(|&b| b == FILL), || {
            format!("a receive into {rcv_size} bytes wrote into the buffer")
        })?;
    }
    // The first message and three of the four others were destroyed; the
    // last one is there, after 4 seqnos were consumed.
    let r = s.recv_opt(p, RCV_SIZE, MACH_RCV_TIMEOUT | elements(1), 0);
    expect_mr("the last receive", sys::MACH_MSG_SUCCESS, r.mr)?;
    expect_eq("its id", 20, r.header().id)?;
    expect_eq("its seqno", 4, r.buf.trailer()?.seqno)?;
    s.expect_empty(p)
}

fn receive_buffer_of_exactly_the_message_and_its_trailer_is_enough(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    for (elems, trailer) in [(0, 8), (1, 12), (2, 20), (3, 52), (4, 60), (7, 68)] {
        let m = Msg::to(p, MAKE_SEND).id(elems).words(&[1, 2, 3]);
        s.send_ok(&m)?;
        let opt = MACH_RCV_TIMEOUT | MACH_RCV_LARGE | elements(elems);
        let r = s.recv_opt(p, m.len() + trailer - 4, opt, 0);
        expect_mr(
            &format!("receive with elements {elems} into 4 bytes too few"),
            sys::MACH_RCV_TOO_LARGE,
            r.mr,
        )?;
        let r = s.recv_opt(p, m.len() + trailer, opt, 0);
        expect_mr(
            &format!("receive with elements {elems} into exactly enough"),
            sys::MACH_MSG_SUCCESS,
            r.mr,
        )?;
        expect_eq("the trailer size", trailer, r.buf.trailer()?.size)?;
    }
    Ok(())
}

fn unwritable_receive_buffer_gives_rcv_invalid_data(_: &mut Ctx) -> TestResult {
    let base = Baseline::new()?;
    {
        let s = TestSpace::open()?;
        let p = s.new_receive()?;
        let mut pages = Pages::new(3)?;
        pages.make_read_only(0)?;
        pages.unmap(2)?;
        let pg = pages.page_len();
        for (what, addr) in [
            ("a null buffer", std::ptr::null_mut()),
            ("a read-only page", pages.page(0)),
            ("an unmapped page", pages.page(2)),
            (
                "a buffer running into an unmapped page",
                pages.at(2 * pg - 16),
            ),
        ] {
            s.send_ok(&Msg::to(p, MAKE_SEND).words(&[1, 2, 3, 4, 5, 6]))?;
            // SAFETY: The buffers fault or are pages of ours.
            let mr = Mr(unsafe {
                mach_msg(
                    s.fd(),
                    addr,
                    MACH_RCV_MSG | MACH_RCV_TIMEOUT,
                    0,
                    256,
                    p,
                    0,
                    NULL,
                )
            });
            expect_mr(
                &format!("receive into {what}"),
                sys::MACH_RCV_INVALID_DATA,
                mr,
            )?;
        }
    }
    base.check("closing the space")
}
