//! Send checks 1-3 of docs/messages.md: the send size, the send buffer and
//! the header (dispositions, voucher, destination, reply). Every header
//! error leaves the space as it was and queues nothing.

use mach::{sys, PortName};

use crate::check::*;
use crate::msg::*;
use crate::raw::Pages;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    send_size_below_a_header_or_not_a_multiple_of_4_gives_msg_too_small,
    send_size_above_mach_msg_size_max_gives_too_large,
    send_size_is_checked_before_the_buffer_is_read,
    message_of_exactly_mach_msg_size_max_is_delivered_whole,
    unreadable_send_buffer_gives_send_invalid_data,
    remote_disposition_that_is_not_a_send_disposition_gives_invalid_header,
    reply_disposition_zero_with_a_reply_name_gives_invalid_header,
    reply_disposition_that_is_not_a_send_disposition_gives_invalid_header,
    header_is_checked_before_the_destination,
    voucher_name_gives_invalid_voucher,
    voucher_disposition_without_a_voucher_name_is_ignored,
    null_or_dead_destination_gives_invalid_dest,
    task_port_destination_gives_invalid_dest,
    destination_without_the_right_its_disposition_needs_gives_invalid_dest,
    destination_whose_port_died_gives_invalid_dest_and_keeps_the_dead_name,
    reply_without_the_right_its_disposition_needs_gives_invalid_reply,
    destination_is_checked_before_the_reply,
];

/// A space with a receive right `p` (the destination of the messages)
/// and a baseline for the module's counts.
struct Fixture {
    base: Baseline,
    s: TestSpace,
    p: PortName,
}

impl Fixture {
    fn new() -> Result<Fixture, String> {
        let base = Baseline::new()?;
        let s = TestSpace::open()?;
        let p = s.new_receive()?;
        Ok(Fixture { base, s, p })
    }

    /// Sends `m` (as built) and expects `want`, the space unchanged and
    /// nothing queued anywhere.
    fn send_fails(&self, m: &Msg, want: i32) -> TestResult {
        let before = self.s.state()?;
        let queued = self.base.now()?;
        self.s.send_gives(m, want)?;
        self.s.expect_state(&before, &format!("a send of {m:?}"))?;
        let now = self.base.now()?;
        ensure(now.messages == queued.messages, || {
            format!("a send of {m:?} that failed queued a message")
        })
    }

    /// Sends `len` bytes at `buf` and gives the code.
    fn send_raw(&self, buf: *mut u8, len: u32) -> Mr {
        // SAFETY: The callers pass memory of theirs or an address that
        // faults; nothing is received.
        Mr(unsafe {
            mach_msg(
                self.s.fd(),
                buf,
                MACH_SEND_MSG | MACH_SEND_TIMEOUT,
                len,
                0,
                NULL,
                0,
                NULL,
            )
        })
    }
}

fn send_size_below_a_header_or_not_a_multiple_of_4_gives_msg_too_small(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let mut buf = Msg::to(f.p, MAKE_SEND).words(&[1, 2, 3]).build();
    let before = f.s.state()?;
    for size in [0, 4, 20, 23, 25, 26, 27, 30, 33] {
        expect_mr(
            &format!("send of a good message with send_size {size}"),
            sys::MACH_SEND_MSG_TOO_SMALL,
            f.send_raw(buf.ptr(), size),
        )?;
    }
    f.s.expect_state(&before, "sends with bad send sizes")?;
    f.s.expect_empty(f.p)
}

fn send_size_above_mach_msg_size_max_gives_too_large(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let len = sys::MACH_MSG_SIZE_MAX as usize + 8;
    let m = Msg::to(f.p, MAKE_SEND).build();
    let mut big = Buf::new(len);
    big.bytes_mut()[..m.len()].copy_from_slice(m.bytes());
    let before = f.s.state()?;
    for size in [sys::MACH_MSG_SIZE_MAX + 4, sys::MACH_MSG_SIZE_MAX + 8] {
        expect_mr(
            &format!("send with send_size {size}"),
            sys::MACH_SEND_TOO_LARGE,
            f.send_raw(big.ptr(), size),
        )?;
    }
    f.s.expect_state(&before, "sends above MACH_MSG_SIZE_MAX")?;
    f.s.expect_empty(f.p)
}

fn send_size_is_checked_before_the_buffer_is_read(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    for (size, want) in [
        (20, sys::MACH_SEND_MSG_TOO_SMALL),
        (26, sys::MACH_SEND_MSG_TOO_SMALL),
        (sys::MACH_MSG_SIZE_MAX + 4, sys::MACH_SEND_TOO_LARGE),
        (24, sys::MACH_SEND_INVALID_DATA),
    ] {
        expect_mr(
            &format!("send from a null buffer with send_size {size}"),
            want,
            f.send_raw(std::ptr::null_mut(), size),
        )?;
    }
    Ok(())
}

fn message_of_exactly_mach_msg_size_max_is_delivered_whole(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let max = sys::MACH_MSG_SIZE_MAX;
    let data = pattern(7, (max - HEADER) as usize);
    let m = Msg::to(f.p, MAKE_SEND).id(3).data(&data);
    expect_eq("the message's size", max, m.len())?;
    f.s.send_ok(&m)?;
    f.base
        .expect_queued("one 1 MiB message queued", 1, max as u64)?;
    // 4 bytes short of the message and its trailer: too large.
    let r =
        f.s.recv_opt(f.p, max + 4, MACH_RCV_LARGE | MACH_RCV_TIMEOUT, 0);
    expect_mr(
        "receive into 4 bytes too few",
        sys::MACH_RCV_TOO_LARGE,
        r.mr,
    )?;
    expect_eq("msgh_size reported", max, r.header().size)?;
    let r = f.s.recv_opt(f.p, max + 8, MACH_RCV_TIMEOUT, 0);
    expect_mr("receive into exactly enough", sys::MACH_MSG_SUCCESS, r.mr)?;
    expect_eq("msgh_size", max, r.header().size)?;
    ensure(r.buf.data()? == data, || {
        "the 1 MiB body arrived changed".into()
    })?;
    f.base.expect_queued("after the receive", 0, 0)
}

fn unreadable_send_buffer_gives_send_invalid_data(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let m = Msg::to(f.p, MAKE_SEND).words(&[1, 2, 3, 4]).build();
    let mut pages = Pages::new(3)?;
    let pg = pages.page_len();
    // The message ends 8 bytes into an unmapped page.
    let start = 2 * pg - (m.len() - 8);
    let words: Vec<u32> = (0..m.len() / 4).map(|i| m.u32_at(4 * i)).collect();
    pages.write_words(start, &words[..(m.len() - 8) / 4]);
    pages.unmap(2)?;
    pages.unmap(0)?;
    let before = f.s.state()?;
    for (what, addr) in [
        ("a null buffer", std::ptr::null_mut()),
        ("an unmapped buffer", pages.page(0)),
        ("a buffer running into an unmapped page", pages.at(start)),
        ("a kernel address", 0xffff_8000_0000_0000usize as *mut u8),
    ] {
        expect_mr(
            &format!("send from {what}"),
            sys::MACH_SEND_INVALID_DATA,
            f.send_raw(addr, m.len() as u32),
        )?;
    }
    f.s.expect_state(&before, "sends from unreadable buffers")?;
    f.s.expect_empty(f.p)
}

fn remote_disposition_that_is_not_a_send_disposition_gives_invalid_header(
    _: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    let sr = f.s.new_send_receive(2)?;
    for disp in [0, 1, 15, 16, 22, 23, 31] {
        let mut m = Msg::to(sr, MAKE_SEND);
        m.bits = bits(disp, 0);
        f.send_fails(&m, sys::MACH_SEND_INVALID_HEADER)?;
    }
    f.s.expect_empty(sr)
}

fn reply_disposition_zero_with_a_reply_name_gives_invalid_header(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let r = f.s.new_send_receive(1)?;
    let mut m = Msg::to(f.p, MAKE_SEND);
    m.local = r;
    f.send_fails(&m, sys::MACH_SEND_INVALID_HEADER)?;
    m.local = DEAD;
    f.send_fails(&m, sys::MACH_SEND_INVALID_HEADER)?;
    f.s.expect_empty(f.p)
}

fn reply_disposition_that_is_not_a_send_disposition_gives_invalid_header(
    _: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    let r = f.s.new_send_receive(1)?;
    for disp in [1, 15, 16, 22, 23, 31] {
        let m = Msg::to(f.p, MAKE_SEND).reply(r, MsgTypeName(disp));
        f.send_fails(&m, sys::MACH_SEND_INVALID_HEADER)?;
        // Also with no reply name.
        let m = Msg::to(f.p, MAKE_SEND).reply(NULL, MsgTypeName(disp));
        f.send_fails(&m, sys::MACH_SEND_INVALID_HEADER)?;
    }
    f.s.expect_empty(f.p)
}

fn header_is_checked_before_the_destination(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let mut m = Msg::to(NULL, MAKE_SEND);
    m.bits = bits(0, 0);
    f.send_fails(&m, sys::MACH_SEND_INVALID_HEADER)?;
    let m = Msg::to(NULL, COPY_SEND).reply(f.p, MsgTypeName(16));
    f.send_fails(&m, sys::MACH_SEND_INVALID_HEADER)
}

fn voucher_name_gives_invalid_voucher(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let sr = f.s.new_send_receive(1)?;
    let unused = f.s.unused_name(0x7700_0003)?;
    for (voucher, disp) in [
        (sr, sys::MACH_MSG_TYPE_COPY_SEND),
        (sr, sys::MACH_MSG_TYPE_MOVE_SEND),
        (unused, sys::MACH_MSG_TYPE_COPY_SEND),
        (DEAD, sys::MACH_MSG_TYPE_COPY_SEND),
        (sr, 0),
    ] {
        let mut m = Msg::to(f.p, MAKE_SEND).reply(sr, MAKE_SEND_ONCE);
        m.voucher = voucher;
        m.bits |= disp << 16;
        f.send_fails(&m, sys::MACH_SEND_INVALID_VOUCHER)?;
    }
    f.s.expect_empty(f.p)
}

fn voucher_disposition_without_a_voucher_name_is_ignored(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    for disp in [
        sys::MACH_MSG_TYPE_COPY_SEND,
        sys::MACH_MSG_TYPE_MOVE_SEND,
        5,
        31,
    ] {
        let mut m = Msg::to(f.p, MAKE_SEND).id(disp);
        m.bits |= disp << 16;
        f.s.send_ok(&m)?;
        let h = f.s.recv_now(f.p)?.header();
        expect_eq("msgh_voucher_port", NULL, h.voucher)?;
        expect_eq("msgh_bits", bits(0, sys::MACH_MSG_TYPE_PORT_SEND), h.bits)?;
    }
    Ok(())
}

fn null_or_dead_destination_gives_invalid_dest(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    for dest in [NULL, DEAD] {
        for disp in [
            MOVE_SEND,
            COPY_SEND,
            MAKE_SEND,
            MOVE_SEND_ONCE,
            MAKE_SEND_ONCE,
        ] {
            f.send_fails(&Msg::to(dest, disp), sys::MACH_SEND_INVALID_DEST)?;
        }
    }
    Ok(())
}

fn task_port_destination_gives_invalid_dest(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let other = TestSpace::open()?;
    let t = f.s.task_for(&other)?;
    f.s.mod_refs(TASK, TASK, SEND, 1).succeeds()?;
    for task in [TASK, t] {
        for disp in [COPY_SEND, MOVE_SEND] {
            f.send_fails(&Msg::to(task, disp), sys::MACH_SEND_INVALID_DEST)?;
        }
    }
    Ok(())
}

fn destination_without_the_right_its_disposition_needs_gives_invalid_dest(
    _: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    let s = &f.s;
    let receive = f.p;
    let other = s.new_receive()?;
    let foreign = foreign_send(s, 2)?;
    let send = foreign.send;
    let so = s.new_send_once(other)?;
    let set = s.new_port_set()?;
    let dead = s.new_dead_name(2)?;
    let unused = s.unused_name(0x5500_0003)?;
    let cases: &[(PortName, &str, &[MsgTypeName])] = &[
        (
            unused,
            "a name not in use",
            &[
                MOVE_SEND,
                COPY_SEND,
                MAKE_SEND,
                MOVE_SEND_ONCE,
                MAKE_SEND_ONCE,
            ],
        ),
        (
            receive,
            "a receive right",
            &[MOVE_SEND, COPY_SEND, MOVE_SEND_ONCE],
        ),
        (
            send,
            "a send right",
            &[MAKE_SEND, MAKE_SEND_ONCE, MOVE_SEND_ONCE],
        ),
        (
            so,
            "a send-once right",
            &[MOVE_SEND, COPY_SEND, MAKE_SEND, MAKE_SEND_ONCE],
        ),
        (
            set,
            "a port set",
            &[
                MOVE_SEND,
                COPY_SEND,
                MAKE_SEND,
                MOVE_SEND_ONCE,
                MAKE_SEND_ONCE,
            ],
        ),
        (
            dead,
            "a dead name",
            &[
                MOVE_SEND,
                COPY_SEND,
                MAKE_SEND,
                MOVE_SEND_ONCE,
                MAKE_SEND_ONCE,
            ],
        ),
    ];
    for (name, what, disps) in cases {
        for disp in disps.iter() {
            f.send_fails(&Msg::to(*name, *disp), sys::MACH_SEND_INVALID_DEST)
                .map_err(|e| format!("{disp:?} of {what}: {e}"))?;
        }
    }
    s.expect_empty(receive)?;
    s.expect_empty(other)
}

fn destination_whose_port_died_gives_invalid_dest_and_keeps_the_dead_name(
    _: &mut Ctx,
) -> TestResult {
    let base = Baseline::new()?;
    let pr = Pair::new()?;
    let (a, b) = (&pr.a, &pr.b);
    let p = b.new_receive()?;
    let to_p = a.extract_right(pr.tb, p, MAKE_SEND).succeeds()?.name;
    a.mod_refs(TASK, to_p, SEND, 2).succeeds()?;
    let so = a.extract_right(pr.tb, p, MAKE_SEND_ONCE).succeeds()?.name;
    b.destroy(TASK, p).succeeds()?;
    a.expect_dead(to_p, 3)?;
    let before = a.state()?;
    for disp in [COPY_SEND, MOVE_SEND] {
        a.send_gives(&Msg::to(to_p, disp), sys::MACH_SEND_INVALID_DEST)?;
    }
    a.send_gives(&Msg::to(so, MOVE_SEND_ONCE), sys::MACH_SEND_INVALID_DEST)?;
    a.expect_state(&before, "sends to dead names")?;
    a.expect_dead(to_p, 3)?;
    a.expect_dead(so, 1)?;
    drop(pr);
    base.check("closing the spaces")
}

fn reply_without_the_right_its_disposition_needs_gives_invalid_reply(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let s = &f.s;
    let other = s.new_receive()?;
    let foreign = foreign_send(s, 2)?;
    let send = foreign.send;
    let so = s.new_send_once(other)?;
    let set = s.new_port_set()?;
    let dead = s.new_dead_name(1)?;
    let unused = s.unused_name(0x5600_0003)?;
    let cases: &[(PortName, &str, &[MsgTypeName])] = &[
        (
            unused,
            "a name not in use",
            &[
                MOVE_SEND,
                COPY_SEND,
                MAKE_SEND,
                MOVE_SEND_ONCE,
                MAKE_SEND_ONCE,
            ],
        ),
        (
            other,
            "a receive right",
            &[MOVE_SEND, COPY_SEND, MOVE_SEND_ONCE],
        ),
        (
            send,
            "a send right",
            &[MAKE_SEND, MAKE_SEND_ONCE, MOVE_SEND_ONCE],
        ),
        (
            so,
            "a send-once right",
            &[MOVE_SEND, COPY_SEND, MAKE_SEND, MAKE_SEND_ONCE],
        ),
        (
            set,
            "a port set",
            &[
                MOVE_SEND,
                COPY_SEND,
                MAKE_SEND,
                MOVE_SEND_ONCE,
                MAKE_SEND_ONCE,
            ],
        ),
        (dead, "a dead name", &[MAKE_SEND, MAKE_SEND_ONCE]),
    ];
    for (name, what, disps) in cases {
        for disp in disps.iter() {
            f.send_fails(
                &Msg::to(f.p, MAKE_SEND).reply(*name, *disp),
                sys::MACH_SEND_INVALID_REPLY,
            )
            .map_err(|e| format!("a {disp:?} reply of {what}: {e}"))?;
        }
    }
    s.expect_empty(f.p)?;
    s.expect_empty(other)
}

fn destination_is_checked_before_the_reply(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let unused = f.s.unused_name(0x5700_0003)?;
    f.send_fails(
        &Msg::to(unused, COPY_SEND).reply(unused, COPY_SEND),
        sys::MACH_SEND_INVALID_DEST,
    )?;
    f.send_fails(
        &Msg::to(NULL, COPY_SEND).reply(unused, MAKE_SEND),
        sys::MACH_SEND_INVALID_DEST,
    )
}
