//! Send check 4 of docs/messages.md: the body of a complex message
//! (descriptor count, port, out-of-line and out-of-line-ports descriptors,
//! the limits on sizes and rights), and what a body error does to the
//! rights already copied in.

use mach::{sys, PortName, PortType};

use crate::check::*;
use crate::msg::*;
use crate::raw::Pages;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    descriptor_count_that_does_not_fit_the_send_size_gives_msg_too_small,
    port_descriptor_with_a_bad_disposition_gives_invalid_type,
    port_descriptor_without_the_right_its_disposition_needs_gives_invalid_right,
    null_and_dead_port_descriptor_names_pass_through,
    ool_descriptor_with_a_bad_copy_option_gives_invalid_type,
    ool_descriptor_larger_than_mach_msg_ool_size_max_gives_too_large,
    ool_descriptors_totalling_more_than_256_mib_give_too_large,
    unreadable_ool_region_gives_invalid_memory,
    ool_ports_descriptor_with_a_bad_disposition_gives_invalid_type,
    unreadable_ool_ports_array_gives_invalid_memory,
    ool_ports_array_naming_no_such_right_gives_invalid_right,
    guarded_port_and_unknown_descriptor_types_give_invalid_type,
    more_than_mach_msg_rights_max_rights_give_too_large,
    invalid_right_destroys_the_header_and_body_rights_copied_in_before_it,
    invalid_type_is_found_before_any_right_is_copied_in_and_changes_nothing,
    invalid_right_in_an_ool_ports_array_destroys_the_names_copied_in_before_it,
    ool_deallocate_of_a_message_that_fails_keeps_the_senders_pages,
];

/// A space with a destination `p`, a send right `to_p` to it (the
/// messages go COPY_SEND through it, so that a failed send leaves the
/// space as it was), and a baseline.
struct Fixture {
    base: Baseline,
    s: TestSpace,
    p: PortName,
    to_p: PortName,
}

impl Fixture {
    fn new() -> Result<Fixture, String> {
        let base = Baseline::new()?;
        let s = TestSpace::open()?;
        let p = s.new_receive()?;
        let to_p = s.extract_right(TASK, p, MAKE_SEND).succeeds()?.name;
        Ok(Fixture { base, s, p, to_p })
    }

    fn msg(&self) -> Msg {
        Msg::to(self.to_p, COPY_SEND)
    }

    /// Sends the first `len` bytes of `buf`; expects `want`, the space
    /// unchanged and nothing queued.
    fn send_bytes_fails(&self, what: &str, buf: &mut Buf, len: u32, want: i32) -> TestResult {
        let before = self.s.state()?;
        let queued = self.base.now()?.messages;
        // SAFETY: `buf` is ours and holds at least `len` bytes.
        let mr = Mr(unsafe {
            mach_msg(
                self.s.fd(),
                buf.ptr(),
                MACH_SEND_MSG | MACH_SEND_TIMEOUT,
                len,
                0,
                NULL,
                0,
                NULL,
            )
        });
        expect_mr(what, want, mr)?;
        self.s.expect_state(&before, what)?;
        ensure(self.base.now()?.messages == queued, || {
            format!("{what}: a message was queued")
        })
    }

    /// Sends `m`; expects `want`, the space unchanged and nothing queued.
    fn send_fails(&self, what: &str, m: &Msg, want: i32) -> TestResult {
        let mut buf = m.build();
        let len = buf.len() as u32;
        self.send_bytes_fails(what, &mut buf, len, want)
    }
}

fn descriptor_count_that_does_not_fit_the_send_size_gives_msg_too_small(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let send = f.s.new_send_receive(1)?;
    // The complex bit and no room for a descriptor count.
    let mut m = f.msg();
    m.bits |= COMPLEX;
    f.send_fails(
        "a complex 24-byte message",
        &m,
        sys::MACH_SEND_MSG_TOO_SMALL,
    )?;
    let one_port = f.msg().port(send, COPY_SEND);
    let mut buf = one_port.build();
    // One descriptor counted, its bytes cut off.
    f.send_bytes_fails(
        "a count of 1 without the descriptor",
        &mut buf.clone(),
        28,
        sys::MACH_SEND_MSG_TOO_SMALL,
    )?;
    f.send_bytes_fails(
        "a count of 1 with 8 of the 12 descriptor bytes",
        &mut buf.clone(),
        36,
        sys::MACH_SEND_MSG_TOO_SMALL,
    )?;
    for count in [2, 0x100, 0xffff_ffff] {
        buf.set_u32(24, count);
        f.send_bytes_fails(
            &format!("a count of {count} with one descriptor"),
            &mut buf.clone(),
            40,
            sys::MACH_SEND_MSG_TOO_SMALL,
        )?;
    }
    // An out-of-line descriptor is 16 bytes: 12 are not enough.
    let page = Pages::new(1)?;
    let mut ool = f.msg().ool(page.page(0), 8, false).build();
    f.send_bytes_fails(
        "an out-of-line descriptor cut to 12 bytes",
        &mut ool,
        40,
        sys::MACH_SEND_MSG_TOO_SMALL,
    )?;
    f.s.expect_empty(f.p)
}

fn port_descriptor_with_a_bad_disposition_gives_invalid_type(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let send = f.s.new_send_receive(1)?;
    for disp in [0u8, 1, 15, 22, 23, 0x80, 0xff] {
        let m = f.msg().desc(raw_port_desc(send, disp, 0));
        f.send_fails(
            &format!("a port descriptor with disposition {disp}"),
            &m,
            sys::MACH_SEND_INVALID_TYPE,
        )?;
    }
    f.s.expect_empty(f.p)
}

fn port_descriptor_without_the_right_its_disposition_needs_gives_invalid_right(
    _: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    let s = &f.s;
    let other = s.new_receive()?;
    let foreign = foreign_send(s, 2)?;
    let send = foreign.send;
    let so = s.new_send_once(other)?;
    let set = s.new_port_set()?;
    let dead = s.new_dead_name(1)?;
    let unused = s.unused_name(0x5800_0003)?;
    let all = &[
        MOVE_RECEIVE,
        MOVE_SEND,
        COPY_SEND,
        MAKE_SEND,
        MOVE_SEND_ONCE,
        MAKE_SEND_ONCE,
    ];
    let cases: &[(PortName, &str, &[MsgTypeName])] = &[
        (unused, "a name not in use", all),
        (
            other,
            "a receive right",
            &[MOVE_SEND, COPY_SEND, MOVE_SEND_ONCE],
        ),
        (
            send,
            "a send right",
            &[MOVE_RECEIVE, MAKE_SEND, MAKE_SEND_ONCE, MOVE_SEND_ONCE],
        ),
        (
            so,
            "a send-once right",
            &[
                MOVE_RECEIVE,
                MOVE_SEND,
                COPY_SEND,
                MAKE_SEND,
                MAKE_SEND_ONCE,
            ],
        ),
        (set, "a port set", all),
        (
            dead,
            "a dead name",
            &[MOVE_RECEIVE, MAKE_SEND, MAKE_SEND_ONCE],
        ),
        (
            TASK,
            "the task-self name",
            &[MOVE_RECEIVE, MAKE_SEND, MOVE_SEND_ONCE],
        ),
    ];
    for (name, what, disps) in cases {
        for disp in disps.iter() {
            f.send_fails(
                &format!("a {disp:?} port descriptor of {what}"),
                &f.msg().port(*name, *disp),
                sys::MACH_SEND_INVALID_RIGHT,
            )?;
        }
    }
    s.expect_empty(f.p)?;
    s.expect_empty(other)
}

fn null_and_dead_port_descriptor_names_pass_through(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let mut m = f.msg();
    for name in [NULL, DEAD] {
        for disp in DISPOSITIONS {
            m = m.port(name, disp);
        }
    }
    let before = f.s.state()?;
    f.s.send_ok(&m)?;
    f.s.expect_state(&before, "a send of NULL and DEAD port descriptors")?;
    let r = f.s.recv_now(f.p)?;
    expect_eq(
        "msgh_bits",
        bits(0, sys::MACH_MSG_TYPE_PORT_SEND) | COMPLEX,
        r.header().bits,
    )?;
    let names: Vec<PortName> = r
        .descriptors()?
        .iter()
        .map(|d| match d {
            Desc::Port { name, .. } => *name,
            _ => PortName(0x0bad),
        })
        .collect();
    let mut want = vec![NULL; 6];
    want.extend([DEAD; 6]);
    expect_eq("the names received", want, names)?;
    f.s.expect_state(&before, "receiving them")
}

fn ool_descriptor_with_a_bad_copy_option_gives_invalid_type(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let page = Pages::new(1)?;
    for ty in [
        sys::MACH_MSG_OOL_DESCRIPTOR,
        sys::MACH_MSG_OOL_VOLATILE_DESCRIPTOR,
    ] {
        for copy in [sys::MACH_MSG_ALLOCATE, sys::MACH_MSG_OVERWRITE, 4, 0xff] {
            let m = f
                .msg()
                .desc(raw_ool_desc(page.page(0) as u64, 64, copy as u8, ty as u8));
            f.send_fails(
                &format!("an out-of-line descriptor (type {ty}) with copy {copy}"),
                &m,
                sys::MACH_SEND_INVALID_TYPE,
            )?;
        }
    }
    f.s.expect_empty(f.p)
}

/// A read-only mapping of `len` bytes that is never touched, so that it
/// costs no memory.
fn untouched(len: usize) -> Result<*mut u8, String> {
    map_prot(len, libc::PROT_READ, libc::MAP_NORESERVE)
}

fn ool_descriptor_larger_than_mach_msg_ool_size_max_gives_too_large(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let len = sys::MACH_MSG_OOL_SIZE_MAX as usize + 2 * page();
    let region = untouched(len)?;
    for size in [
        sys::MACH_MSG_OOL_SIZE_MAX + 1,
        sys::MACH_MSG_OOL_SIZE_MAX + page() as u32,
    ] {
        f.send_fails(
            &format!("an out-of-line region of {size} bytes"),
            &f.msg().ool(region, size, false),
            sys::MACH_SEND_TOO_LARGE,
        )?;
        f.send_fails(
            &format!("an out-of-line region of {size} bytes to deallocate"),
            &f.msg().ool(region, size, true),
            sys::MACH_SEND_TOO_LARGE,
        )?;
    }
    ensure(is_mapped(region), || {
        "the region of a message that failed was unmapped".into()
    })?;
    // SAFETY: Our own mapping, unused from here on.
    unsafe { unmap(region, len) };
    Ok(())
}

fn ool_descriptors_totalling_more_than_256_mib_give_too_large(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let half = sys::MACH_MSG_OOL_SIZE_MAX / 2 + page() as u32;
    let region = untouched(half as usize)?;
    let m = f.msg().ool(region, half, false).ool(region, half, false);
    f.send_fails(
        &format!("two out-of-line regions of {half} bytes"),
        &m,
        sys::MACH_SEND_TOO_LARGE,
    )?;
    // SAFETY: Our own mapping, unused from here on.
    unsafe { unmap(region, half as usize) };
    Ok(())
}

fn unreadable_ool_region_gives_invalid_memory(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let mut pages = Pages::new(3)?;
    let pg = pages.page_len();
    pages.unmap(1)?;
    for (what, addr, size) in [
        ("a null address", std::ptr::null::<u8>(), 16),
        ("an unmapped page", pages.page(1) as *const u8, 16),
        (
            "a region running into an unmapped page",
            pages.at(pg - 8) as *const u8,
            16,
        ),
        (
            "a kernel address",
            0xffff_8000_0000_0000usize as *const u8,
            16,
        ),
    ] {
        for dealloc in [false, true] {
            f.send_fails(
                &format!("an out-of-line region at {what} (deallocate {dealloc})"),
                &f.msg().ool(addr, size as u32, dealloc),
                sys::MACH_SEND_INVALID_MEMORY,
            )?;
        }
    }
    ensure(is_mapped(pages.page(0)) && is_mapped(pages.page(2)), || {
        "pages of a message that failed were unmapped".into()
    })?;
    f.s.expect_empty(f.p)
}

fn ool_ports_descriptor_with_a_bad_disposition_gives_invalid_type(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let send = f.s.new_send_receive(1)?;
    let names = [send, send];
    for disp in [0, 1, 15, 22, 23, 0xff] {
        f.send_fails(
            &format!("an out-of-line ports descriptor with disposition {disp}"),
            &f.msg()
                .ool_ports(names.as_ptr(), 2, MsgTypeName(disp), false),
            sys::MACH_SEND_INVALID_TYPE,
        )?;
    }
    f.s.expect_empty(f.p)
}

fn unreadable_ool_ports_array_gives_invalid_memory(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let mut pages = Pages::new(2)?;
    let pg = pages.page_len();
    let send = f.s.new_send_receive(1)?;
    pages.write_words(pg - 8, &[send.0, send.0]);
    pages.unmap(1)?;
    for (what, addr, count) in [
        ("a null array", std::ptr::null::<PortName>(), 1),
        ("an unmapped array", pages.page(1) as *const PortName, 1),
        (
            "an array running into an unmapped page",
            pages.at(pg - 8) as *const PortName,
            3,
        ),
    ] {
        f.send_fails(
            &format!("out-of-line ports at {what}"),
            &f.msg().ool_ports(addr, count, COPY_SEND, false),
            sys::MACH_SEND_INVALID_MEMORY,
        )?;
    }
    f.s.expect_empty(f.p)
}

fn ool_ports_array_naming_no_such_right_gives_invalid_right(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let foreign = foreign_send(&f.s, 2)?;
    let send = foreign.send;
    let unused = f.s.unused_name(0x5900_0003)?;
    let receive = f.s.new_receive()?;
    for (names, disp) in [
        (vec![send, unused], COPY_SEND),
        (vec![unused], COPY_SEND),
        (vec![send, receive], COPY_SEND),
        (vec![send], MOVE_RECEIVE),
        (vec![receive, send], MAKE_SEND),
    ] {
        f.send_fails(
            &format!("out-of-line ports {names:?} with {disp:?}"),
            &f.msg()
                .ool_ports(names.as_ptr(), names.len() as u32, disp, false),
            sys::MACH_SEND_INVALID_RIGHT,
        )?;
    }
    f.s.expect_empty(f.p)
}

fn guarded_port_and_unknown_descriptor_types_give_invalid_type(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let send = f.s.new_send_receive(1)?;
    for ty in [sys::MACH_MSG_GUARDED_PORT_DESCRIPTOR, 5, 6, 0x7f, 0xff] {
        let mut b = [0u8; 16];
        b[8..12].copy_from_slice(&send.0.to_ne_bytes());
        b[10] = sys::MACH_MSG_TYPE_COPY_SEND as u8;
        b[11] = ty as u8;
        b[12..16].copy_from_slice(&send.0.to_ne_bytes());
        f.send_fails(
            &format!("a descriptor of type {ty}"),
            &f.msg().desc(SendDesc::Raw16(b)),
            sys::MACH_SEND_INVALID_TYPE,
        )?;
    }
    f.s.expect_empty(f.p)
}

fn more_than_mach_msg_rights_max_rights_give_too_large(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let send = f.s.new_send_receive(1)?;
    let max = sys::MACH_MSG_RIGHTS_MAX;
    let names = vec![send; max as usize + 1];
    f.send_fails(
        &format!("{} rights in out-of-line ports", max + 1),
        &f.msg().ool_ports(names.as_ptr(), max + 1, COPY_SEND, false),
        sys::MACH_SEND_TOO_LARGE,
    )?;
    f.send_fails(
        &format!("{max} rights in out-of-line ports and one in a port descriptor"),
        &f.msg()
            .ool_ports(names.as_ptr(), max, COPY_SEND, false)
            .port(send, COPY_SEND),
        sys::MACH_SEND_TOO_LARGE,
    )?;
    f.send_fails(
        &format!("two arrays of {} rights", max / 2 + 1),
        &f.msg()
            .ool_ports(names.as_ptr(), max / 2 + 1, COPY_SEND, false)
            .ool_ports(names.as_ptr(), max / 2, MAKE_SEND, false)
            .port(send, MAKE_SEND_ONCE),
        sys::MACH_SEND_TOO_LARGE,
    )?;
    f.s.expect_empty(f.p)
}

fn invalid_right_destroys_the_header_and_body_rights_copied_in_before_it(
    _: &mut Ctx,
) -> TestResult {
    let base = Baseline::new()?;
    {
        let pr = Pair::new()?;
        let (a, b) = (&pr.a, &pr.b);
        let p = b.new_receive()?;
        let p2 = b.new_receive()?;
        let to_p = a.extract_right(pr.tb, p, MAKE_SEND).succeeds()?.name;
        let t = a.extract_right(pr.tb, p2, MAKE_SEND).succeeds()?.name;
        a.mod_refs(TASK, t, SEND, 1).succeeds()?;
        let r = a.new_receive()?;
        // Q: a port of A's that B holds a send right to.
        let q = a.new_receive()?;
        a.insert_right(pr.tb, N1, q, MAKE_SEND).succeeds()?;
        let unused = a.unused_name(0x5a00_0003)?;
        let m = Msg::to(to_p, MOVE_SEND)
            .reply(r, MAKE_SEND_ONCE)
            .port(q, MOVE_RECEIVE)
            .port(t, MOVE_SEND)
            .port(unused, COPY_SEND);
        let queued = base.now()?.messages;
        a.send_gives(&m, sys::MACH_SEND_INVALID_RIGHT)?;
        // The header's rights and the first two descriptors' are gone.
        a.expect_unused(to_p)?;
        a.expect_unused(q)?;
        a.expect_send(t, 1)?;
        a.expect_receive(r)?;
        // The send-once right made for the reply port was destroyed without
        // a message through it: it sent a send-once notification to R,
        // which holds it until received.
        let st = status(a, r)?;
        expect_eq(
            "(sorights, msgcount) of the reply port",
            (1, 1),
            (st.sorights, st.msgcount),
        )?;
        b.expect_dead(N1, 1)?;
        let st = status(b, p)?;
        expect_eq(
            "(msgcount, srights) of the destination",
            (0, 0),
            (st.msgcount, st.srights),
        )?;
        expect_msgcount(b, p2, 0)?;
        ensure(base.now()?.messages == queued + 1, || {
            "the failed send queued a message besides the send-once notification".into()
        })?;
        a.expect_send_once_notifications(r, 1)?;
        let st = status(a, r)?;
        expect_eq(
            "(sorights, msgcount) of the reply port once the notification is received",
            (0, 0),
            (st.sorights, st.msgcount),
        )?;
        ensure(base.now()?.messages == queued, || {
            "messages are queued once the send-once notification is received".into()
        })?;
        let mut want = vec![
            (t, PortType::SEND),
            (r, PortType::RECEIVE),
            (pr.tb, PortType::SEND),
        ];
        want.sort_by_key(|&(n, _)| n);
        a.expect_only_task_self_and(&want)?;
    }
    base.check("closing the spaces")
}

fn invalid_type_is_found_before_any_right_is_copied_in_and_changes_nothing(
    _: &mut Ctx,
) -> TestResult {
    // Rule 4 comes before rule 5, and rule 5 says the rights are copied in
    // after the queue check: a descriptor of a bad type is found before
    // the header's rights are taken, so the sender keeps them.
    let base = Baseline::new()?;
    {
        let pr = Pair::new()?;
        let (a, b) = (&pr.a, &pr.b);
        let p = b.new_receive()?;
        let to_p = a.extract_right(pr.tb, p, MAKE_SEND).succeeds()?.name;
        let r = a.new_send_receive(1)?;
        let so = a.new_send_once(r)?;
        let q = a.new_receive()?;
        let before = pr.states()?;
        for bad in [
            raw_port_desc(r, 0, 0),
            raw_ool_desc(0, 0, 7, 1),
            raw_ool_desc(0, 0, 0, 9),
        ] {
            let m = Msg::to(to_p, MOVE_SEND)
                .reply(so, MOVE_SEND_ONCE)
                .port(q, MOVE_RECEIVE)
                .desc(bad);
            a.send_gives(&m, sys::MACH_SEND_INVALID_TYPE)?;
            pr.expect_states(&before, &format!("a send of {m:?}"))?;
        }
        let st = status(b, p)?;
        expect_eq(
            "(msgcount, srights) of the destination",
            (0, 1),
            (st.msgcount, st.srights),
        )?;
    }
    base.check("closing the spaces")
}

fn invalid_right_in_an_ool_ports_array_destroys_the_names_copied_in_before_it(
    _: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    let s = &f.s;
    let foreign = foreign_send(s, 1)?;
    let x = foreign.send;
    let unused = s.unused_name(0x5b00_0003)?;
    let names = [x, unused];
    s.send_gives(
        &f.msg().ool_ports(names.as_ptr(), 2, MOVE_SEND, false),
        sys::MACH_SEND_INVALID_RIGHT,
    )?;
    s.expect_unused(x)?;
    let st = status(&foreign.space, foreign.port)?;
    expect_eq(
        "(srights, msgcount) of the port x named",
        (0, 0),
        (st.srights, st.msgcount),
    )?;
    s.expect_empty(f.p)
}

fn ool_deallocate_of_a_message_that_fails_keeps_the_senders_pages(_: &mut Ctx) -> TestResult {
    // A header error: nothing is copied in, so nothing is deallocated.
    let f = Fixture::new()?;
    let mut pages = Pages::new(2)?;
    pages.write_words(0, &[1, 2, 3, 4]);
    let pg = pages.page_len();
    pages.write_words(pg, &[f.to_p.0]);
    let unused = f.s.unused_name(0x5c00_0003)?;
    let m = Msg::to(unused, COPY_SEND)
        .ool(pages.page(0), 16, true)
        .ool_ports(pages.page(1) as *const PortName, 1, COPY_SEND, true);
    f.send_fails(
        "a send to a name not in use",
        &m,
        sys::MACH_SEND_INVALID_DEST,
    )?;
    ensure(is_mapped(pages.page(0)) && is_mapped(pages.page(1)), || {
        "the out-of-line pages of a send that failed were unmapped".into()
    })?;
    expect_eq("a word in them", 3, pages.read_word(8))?;
    expect_eq("the name in the ports array", f.to_p.0, pages.read_word(pg))
}
