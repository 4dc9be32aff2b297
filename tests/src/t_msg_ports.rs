//! Rights in message bodies: port descriptors with each of the six
//! dispositions, out-of-line port arrays, and how arriving rights merge
//! with the names the receiver already has (docs/messages.md, Send 4 and
//! 7, Receive 4).

use mach::{sys, PortName};

use crate::check::*;
use crate::msg::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    move_receive_descriptor_gives_the_receiver_the_receive_right,
    move_receive_descriptor_carries_the_messages_queued_on_the_port,
    move_send_descriptor_takes_one_user_reference,
    copy_send_descriptor_leaves_the_senders_references,
    make_send_descriptor_makes_a_send_right_from_the_receive_right,
    make_send_once_descriptor_gives_a_send_once_right_that_carries_a_reply,
    move_send_once_descriptor_moves_the_send_once_right,
    send_rights_arriving_for_a_port_the_receiver_names_merge_under_that_name,
    receive_right_arriving_for_a_port_the_receiver_has_send_rights_to_joins_that_name,
    send_right_arriving_for_a_port_whose_receive_right_the_receiver_holds_joins_it,
    send_once_rights_arrive_under_a_new_name_each,
    make_send_and_move_receive_of_one_port_arrive_under_one_name,
    arriving_send_rights_peg_user_references_at_the_maximum,
    ool_ports_descriptor_delivers_a_fresh_array_of_the_receivers_names,
    ool_ports_with_make_send_once_and_move_receive_arrive_as_their_types,
    ool_ports_deallocate_unmaps_the_senders_array_rounded_out_to_pages,
    mach_msg_rights_max_rights_arrive_and_user_references_peg_at_the_maximum @ 300,
];

const PR: MsgTypeName = MsgTypeName(sys::MACH_MSG_TYPE_PORT_RECEIVE);
const PS: MsgTypeName = MsgTypeName(sys::MACH_MSG_TYPE_PORT_SEND);
const PSO: MsgTypeName = MsgTypeName(sys::MACH_MSG_TYPE_PORT_SEND_ONCE);

/// A (sender) and B (receiver) with B's port `p` and A's send right
/// `to_p` to it.
struct Fixture {
    base: Baseline,
    pr: Pair,
    p: PortName,
    to_p: PortName,
}

impl Fixture {
    fn new() -> Result<Fixture, String> {
        let base = Baseline::new()?;
        let pr = Pair::new()?;
        let p = pr.b.new_receive()?;
        let to_p = pr.a.extract_right(pr.tb, p, MAKE_SEND).succeeds()?.name;
        Ok(Fixture { base, pr, p, to_p })
    }

    fn a(&self) -> &TestSpace {
        &self.pr.a
    }

    fn b(&self) -> &TestSpace {
        &self.pr.b
    }

    fn msg(&self) -> Msg {
        Msg::to(self.to_p, COPY_SEND)
    }

    /// A sends `m`; B receives it.
    fn deliver(&self, m: &Msg) -> Result<Buf, String> {
        self.a().send_ok(m)?;
        self.b().recv_now(self.p)
    }

    /// Closes both spaces and expects the module's counts back.
    fn finish(self) -> TestResult {
        let Fixture { base, pr, .. } = self;
        drop(pr);
        base.check("closing the spaces")
    }
}

/// The single port descriptor of `buf`.
fn port_desc(buf: &Buf) -> Result<(PortName, MsgTypeName), String> {
    match buf.descriptors()?.as_slice() {
        [Desc::Port { name, disposition }] => Ok((*name, *disposition)),
        other => Err(format!("expected one port descriptor, got {other:?}")),
    }
}

/// The port descriptors of `buf`, as (name, type).
fn port_descs(buf: &Buf) -> Result<Vec<(PortName, MsgTypeName)>, String> {
    buf.descriptors()?
        .into_iter()
        .map(|d| match d {
            Desc::Port { name, disposition } => Ok((name, disposition)),
            other => Err(format!("expected a port descriptor, got {other:?}")),
        })
        .collect()
}

/// The names in a received out-of-line ports descriptor; unmaps the array.
fn take_ool_names(d: &Desc) -> Result<(Vec<PortName>, MsgTypeName), String> {
    let Desc::OolPorts {
        address,
        count,
        disposition,
        ..
    } = *d
    else {
        return Err(format!(
            "expected an out-of-line ports descriptor, got {d:?}"
        ));
    };
    if count == 0 {
        return Ok((Vec::new(), disposition));
    }
    ensure(address != 0 && is_mapped(address as *const u8), || {
        format!("the received ports array at {address:#x} is not mapped")
    })?;
    let len = count as usize * 4;
    // SAFETY: The module mapped `count` names at `address` for us.
    let bytes = unsafe { read_mem(address, len) };
    // SAFETY: The mapping is ours to free, and nothing refers to it.
    unsafe { unmap(address as *mut u8, len) };
    Ok((
        bytes
            .chunks(4)
            .map(|c| PortName(u32::from_ne_bytes(c.try_into().unwrap())))
            .collect(),
        disposition,
    ))
}

fn move_receive_descriptor_gives_the_receiver_the_receive_right(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let (a, b) = (f.a(), f.b());
    let q = a.new_send_receive(1)?;
    let r = f.deliver(&f.msg().port(q, MOVE_RECEIVE))?;
    expect_eq(
        "msgh_bits",
        bits(0, sys::MACH_MSG_TYPE_PORT_SEND) | COMPLEX,
        r.header().bits,
    )?;
    let (n, ty) = port_desc(&r)?;
    expect_eq("the descriptor's type", PR, ty)?;
    b.expect_receive(n)?;
    a.expect_send(q, 1)?;
    // A's send right now reaches B.
    a.send_ok(&Msg::to(q, COPY_SEND).id(5))?;
    expect_eq(
        "the id received on the moved port",
        5,
        b.recv_now(n)?.header().id,
    )?;
    f.finish()
}

fn move_receive_descriptor_carries_the_messages_queued_on_the_port(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let (a, b) = (f.a(), f.b());
    let q = a.new_receive()?;
    for id in [1, 2, 3] {
        a.send_ok(&Msg::to(q, MAKE_SEND).id(id))?;
    }
    let (n, _) = port_desc(&f.deliver(&f.msg().port(q, MOVE_RECEIVE))?)?;
    a.expect_unused(q)?;
    expect_msgcount(b, n, 3)?;
    for id in [1, 2, 3] {
        expect_eq(
            "the id received on the moved port",
            id,
            b.recv_now(n)?.header().id,
        )?;
    }
    b.expect_empty(n)?;
    f.finish()
}

/// A sends one port descriptor of `name` with `disp`; gives B's name and
/// the descriptor's type.
fn send_one(
    f: &Fixture,
    name: PortName,
    disp: MsgTypeName,
) -> Result<(PortName, MsgTypeName), String> {
    port_desc(&f.deliver(&f.msg().port(name, disp))?)
}

fn move_send_descriptor_takes_one_user_reference(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let q = f.a().new_send_receive(3)?;
    let (n, ty) = send_one(&f, q, MOVE_SEND)?;
    expect_eq("the descriptor's type", PS, ty)?;
    f.a().expect_send_receive(q, 2)?;
    f.b().expect_send(n, 1)?;
    f.finish()
}

fn copy_send_descriptor_leaves_the_senders_references(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let q = f.a().new_send_receive(3)?;
    let (n, ty) = send_one(&f, q, COPY_SEND)?;
    expect_eq("the descriptor's type", PS, ty)?;
    f.a().expect_send_receive(q, 3)?;
    f.b().expect_send(n, 1)?;
    f.finish()
}

fn make_send_descriptor_makes_a_send_right_from_the_receive_right(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let q = f.a().new_receive()?;
    let (n, ty) = send_one(&f, q, MAKE_SEND)?;
    expect_eq("the descriptor's type", PS, ty)?;
    f.a().expect_receive(q)?;
    f.b().expect_send(n, 1)?;
    let st = status(f.a(), q)?;
    expect_eq("(mscount, srights)", (1, 1), (st.mscount, st.srights))?;
    f.finish()
}

fn make_send_once_descriptor_gives_a_send_once_right_that_carries_a_reply(
    _: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    let q = f.a().new_receive()?;
    let (n, ty) = send_one(&f, q, MAKE_SEND_ONCE)?;
    expect_eq("the descriptor's type", PSO, ty)?;
    f.a().expect_receive(q)?;
    f.b().expect_send_once(n)?;
    expect_eq("sorights", 1, status(f.a(), q)?.sorights)?;
    f.b().send_ok(&Msg::to(n, MOVE_SEND_ONCE).id(8))?;
    f.b().expect_unused(n)?;
    let h = f.a().recv_now(q)?.header();
    expect_eq(
        "(msgh_bits, msgh_id) of the reply",
        (bits(0, sys::MACH_MSG_TYPE_PORT_SEND_ONCE), 8),
        (h.bits, h.id),
    )?;
    expect_eq("sorights after the reply", 0, status(f.a(), q)?.sorights)?;
    f.finish()
}

fn move_send_once_descriptor_moves_the_send_once_right(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let q = f.a().new_receive()?;
    let so = f.a().new_send_once(q)?;
    let (n, ty) = send_one(&f, so, MOVE_SEND_ONCE)?;
    expect_eq("the descriptor's type", PSO, ty)?;
    f.a().expect_unused(so)?;
    f.b().expect_send_once(n)?;
    expect_eq("sorights", 1, status(f.a(), q)?.sorights)?;
    f.finish()
}

fn send_rights_arriving_for_a_port_the_receiver_names_merge_under_that_name(
    _: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    let (a, b) = (f.a(), f.b());
    let q = a.new_send_receive(1)?;
    let (n, _) = send_one(&f, q, COPY_SEND)?;
    b.expect_send(n, 1)?;
    let r = f.deliver(
        &f.msg()
            .port(q, MAKE_SEND)
            .port(q, MAKE_SEND)
            .port(q, COPY_SEND),
    )?;
    expect_eq(
        "the descriptors received",
        vec![(n, PS), (n, PS), (n, PS)],
        port_descs(&r)?,
    )?;
    b.expect_send(n, 4)?;
    f.finish()
}

fn receive_right_arriving_for_a_port_the_receiver_has_send_rights_to_joins_that_name(
    _: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    let (a, b) = (f.a(), f.b());
    let q = a.new_send_receive(1)?;
    let (n, _) = send_one(&f, q, COPY_SEND)?;
    a.send_ok(&f.msg().port(q, COPY_SEND))?;
    b.recv_now(f.p)?;
    b.expect_send(n, 2)?;
    let (m, ty) = send_one(&f, q, MOVE_RECEIVE)?;
    expect_eq("(name, type) of the receive right", (n, PR), (m, ty))?;
    b.expect_send_receive(n, 2)?;
    a.expect_send(q, 1)?;
    f.finish()
}

fn send_right_arriving_for_a_port_whose_receive_right_the_receiver_holds_joins_it(
    _: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    // A's send right to B's port p, sent to p itself.
    let (n, ty) = send_one(&f, f.to_p, COPY_SEND)?;
    expect_eq("(name, type)", (f.p, PS), (n, ty))?;
    f.b().expect_send_receive(f.p, 1)?;
    let (n, _) = send_one(&f, f.to_p, COPY_SEND)?;
    expect_eq("the name of the second one", f.p, n)?;
    f.b().expect_send_receive(f.p, 2)?;
    f.finish()
}

fn send_once_rights_arrive_under_a_new_name_each(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let q = f.a().new_receive()?;
    let so = f.a().new_send_once(q)?;
    let r = f.deliver(
        &f.msg()
            .port(q, MAKE_SEND_ONCE)
            .port(q, MAKE_SEND_ONCE)
            .port(so, MOVE_SEND_ONCE),
    )?;
    let descs = port_descs(&r)?;
    let names: Vec<PortName> = descs.iter().map(|d| d.0).collect();
    ensure(
        names[0] != names[1] && names[1] != names[2] && names[0] != names[2],
        || format!("send-once rights arrived under {names:?}"),
    )?;
    for (n, ty) in descs {
        expect_eq("the descriptor's type", PSO, ty)?;
        f.b().expect_send_once(n)?;
    }
    expect_eq("sorights", 3, status(f.a(), q)?.sorights)?;
    f.finish()
}

fn make_send_and_move_receive_of_one_port_arrive_under_one_name(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let q = f.a().new_receive()?;
    let r = f.deliver(&f.msg().port(q, MAKE_SEND).port(q, MOVE_RECEIVE))?;
    let descs = port_descs(&r)?;
    let n = descs[0].0;
    expect_eq("the descriptors", vec![(n, PS), (n, PR)], descs)?;
    f.b().expect_send_receive(n, 1)?;
    f.a().expect_unused(q)?;
    f.finish()
}

fn arriving_send_rights_peg_user_references_at_the_maximum(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let q = f.a().new_send_receive(1)?;
    let (n, _) = send_one(&f, q, COPY_SEND)?;
    f.b()
        .mod_refs(TASK, n, SEND, (UREFS_MAX - 2) as i32)
        .succeeds()?;
    f.b().expect_send(n, UREFS_MAX - 1)?;
    let r = f.deliver(
        &f.msg()
            .port(q, COPY_SEND)
            .port(q, MAKE_SEND)
            .port(q, COPY_SEND),
    )?;
    expect_eq(
        "the descriptors",
        vec![(n, PS), (n, PS), (n, PS)],
        port_descs(&r)?,
    )?;
    f.b().expect_send(n, UREFS_MAX)?;
    f.finish()
}

fn ool_ports_descriptor_delivers_a_fresh_array_of_the_receivers_names(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let (a, b) = (f.a(), f.b());
    let q1 = a.new_send_receive(1)?;
    let q2 = a.new_send_receive(1)?;
    let q3 = a.new_send_receive(1)?;
    let names = [q1, NULL, q2, DEAD, q3, q1];
    let before = a.state()?;
    let r = f.deliver(&f.msg().ool_ports(names.as_ptr(), 6, COPY_SEND, false))?;
    a.expect_state(&before, "sending COPY_SEND out-of-line ports")?;
    expect_eq("the sender's array", [q1, NULL, q2, DEAD, q3, q1], names)?;
    let descs = r.descriptors()?;
    ensure(descs.len() == 1, || format!("received {descs:?}"))?;
    if let Desc::OolPorts { address, .. } = descs[0] {
        ensure(address != names.as_ptr() as u64, || {
            "the receiver's array is the sender's".into()
        })?;
    }
    let (got, ty) = take_ool_names(&descs[0])?;
    expect_eq("the descriptor's type", PS, ty)?;
    ensure(got.len() == 6, || format!("received {got:?}"))?;
    let (n1, n2, n3) = (got[0], got[2], got[4]);
    expect_eq("the names received", vec![n1, NULL, n2, DEAD, n3, n1], got)?;
    b.expect_send(n1, 2)?;
    b.expect_send(n2, 1)?;
    b.expect_send(n3, 1)?;
    // They are send rights to A's ports.
    b.send_ok(&Msg::to(n2, COPY_SEND).id(2))?;
    expect_eq("the id received on q2", 2, a.recv_now(q2)?.header().id)?;
    f.finish()
}

fn ool_ports_with_make_send_once_and_move_receive_arrive_as_their_types(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let (a, b) = (f.a(), f.b());
    let q1 = a.new_receive()?;
    let q2 = a.new_receive()?;
    let q3 = a.new_receive()?;
    let so = [q1, q1];
    let rcv = [q2, q3];
    let r = f.deliver(
        &f.msg()
            .ool_ports(so.as_ptr(), 2, MAKE_SEND_ONCE, false)
            .ool_ports(rcv.as_ptr(), 2, MOVE_RECEIVE, false),
    )?;
    let descs = r.descriptors()?;
    ensure(descs.len() == 2, || format!("received {descs:?}"))?;
    let (sos, ty) = take_ool_names(&descs[0])?;
    expect_eq("the first descriptor's type", PSO, ty)?;
    ensure(sos.len() == 2 && sos[0] != sos[1], || {
        format!("send-once rights arrived as {sos:?}")
    })?;
    for n in &sos {
        b.expect_send_once(*n)?;
    }
    let (rcvs, ty) = take_ool_names(&descs[1])?;
    expect_eq("the second descriptor's type", PR, ty)?;
    ensure(rcvs.len() == 2, || {
        format!("receive rights arrived as {rcvs:?}")
    })?;
    for n in &rcvs {
        b.expect_receive(*n)?;
    }
    a.expect_unused(q2)?;
    a.expect_unused(q3)?;
    expect_eq("sorights of q1", 2, status(a, q1)?.sorights)?;
    f.finish()
}

fn ool_ports_deallocate_unmaps_the_senders_array_rounded_out_to_pages(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let q = f.a().new_send_receive(1)?;
    let pg = page();
    let region = map(4 * pg)?;
    // Three names from 4 bytes before the end of page 1 into page 2.
    let at = pg * 2 - 4;
    for i in 0..3 {
        // SAFETY: Inside our mapping.
        unsafe { std::ptr::write_unaligned(region.add(at + 4 * i).cast::<u32>(), q.0) };
    }
    f.a().send_ok(&f.msg().ool_ports(
        region.wrapping_add(at).cast::<PortName>(),
        3,
        COPY_SEND,
        true,
    ))?;
    // Before the receive, which maps memory that may land there.
    let mapped: Vec<bool> = (0..4)
        .map(|i| is_mapped(region.wrapping_add(i * pg)))
        .collect();
    expect_eq(
        "pages 0..4 mapped after sending names at page 1 + 4092 .. page 2 + 8 with deallocate",
        vec![true, false, false, true],
        mapped,
    )?;
    let r = f.b().recv_now(f.p)?;
    let (names, _) = take_ool_names(&r.descriptors()?[0])?;
    ensure(
        names.len() == 3 && names.iter().all(|&n| n == names[0]),
        || format!("received {names:?}"),
    )?;
    f.b().expect_send(names[0], 3)?;
    // SAFETY: Pages 0 and 3 are still ours.
    unsafe {
        unmap(region, pg);
        unmap(region.wrapping_add(3 * pg), pg);
    }
    f.finish()
}

fn mach_msg_rights_max_rights_arrive_and_user_references_peg_at_the_maximum(
    _: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    let q = f.a().new_send_receive(1)?;
    let max = sys::MACH_MSG_RIGHTS_MAX;
    let names = vec![q; max as usize];
    let r = f.deliver(&f.msg().ool_ports(names.as_ptr(), max, COPY_SEND, false))?;
    let (got, _) = take_ool_names(&r.descriptors()?[0])?;
    ensure(got.len() == max as usize, || {
        format!("received {} names", got.len())
    })?;
    let n = got[0];
    ensure(got.iter().all(|&x| x == n), || {
        "the names received differ".into()
    })?;
    f.b().expect_send(n, UREFS_MAX)?;
    f.a().expect_send_receive(q, 1)?;
    f.finish()
}
