//! Dead-name and port-deleted notifications (seed 002, MACH_NOTIFY_DEAD_NAME;
//! docs/notifications.md "DEAD_NAME"): what fires when the port dies, the
//! extra user reference, what fires when the name goes while the port
//! lives, the immediate notification on a name that is dead already, and
//! the same across processes, with SIGKILL.

use mach::{sys, PortName, PortType};

use crate::check::*;
use crate::notify::*;
use crate::proc::{self, Peer};
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    dead_name_notification_has_xnus_layout,
    dead_name_notification_fires_for_every_registered_name_when_the_port_dies,
    dead_name_after_its_notification_has_one_extra_user_reference,
    dead_name_extra_reference_stays_at_urefs_max,
    dead_name_notification_when_the_receive_right_is_destroyed_by_mod_refs,
    dead_name_notification_when_the_space_holding_the_receive_right_closes,
    dead_name_notification_when_a_task_port_dies_with_its_space,
    dead_name_request_stays_with_the_name_while_the_port_lives,
    port_deleted_when_the_name_is_deallocated,
    port_deleted_when_mod_refs_takes_the_last_reference,
    port_deleted_only_when_the_last_user_reference_goes,
    port_deleted_when_the_name_is_destroyed,
    port_deleted_when_a_message_is_sent_to_the_send_once_right,
    port_deleted_when_the_send_once_right_is_deallocated,
    port_deleted_when_the_last_send_right_moves_out_in_a_message,
    port_deleted_when_the_right_moves_out_by_insert_right_or_extract_right,
    port_deleted_when_the_space_holding_the_name_closes,
    port_deleted_for_the_receive_right_and_dead_name_for_the_others_when_the_port_is_destroyed,
    port_deleted_when_the_receive_right_moves_out,
    deleted_name_reused_has_no_request,
    dead_name_request_on_a_dead_name_with_sync_fires_at_once,
    dead_name_request_on_a_dead_name_through_another_task,
    dead_name_notification_when_a_child_process_destroys_its_port,
    dead_name_notification_when_the_child_holding_the_receive_right_is_killed,
    port_deleted_when_the_child_holding_the_name_is_killed,
];

const DN: PortType = PortType(sys::MACH_PORT_TYPE_DNREQUEST);

fn with_dn(t: PortType) -> PortType {
    PortType(t.0 | DN.0)
}

fn dead_name_notification_has_xnus_layout(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let n = s.new_receive()?;
    let (port, send) = far_send(&s, &far)?;
    request_dead_name(&s, send, n)?;
    far.destroy(TASK, port).succeeds()?;
    // Size 36, bits 0x1200, remote 0, local n, voucher 0, id 72, NDR
    // record, the name; the kernel's audit token.
    expect_dead_name(&s, n, send)?;
    expect_no_message(&s, n)
}

fn dead_name_notification_fires_for_every_registered_name_when_the_port_dies(
    _: &mut Ctx,
) -> TestResult {
    let h = TestSpace::open_as("H (holds the receive right)")?;
    let a = TestSpace::open_as("A")?;
    let b = TestSpace::open_as("B")?;
    let c = TestSpace::open_as("C (requests made by A)")?;
    let tc = a.task_for(&c)?;
    let port = h.new_receive()?;
    let na = a.new_receive()?;
    let nb = b.new_receive()?;
    let a_send = {
        let th = a.task_for(&h)?;
        a.extract_right(th, port, MAKE_SEND).succeeds()?.name
    };
    a.mod_refs(TASK, a_send, SEND, 1).succeeds()?;
    let a_so = far_send_once(&a, &h, port)?;
    let b_send = {
        let th = b.task_for(&h)?;
        b.extract_right(th, port, MAKE_SEND).succeeds()?.name
    };
    let c_so = far_send_once(&c, &h, port)?;
    // A port whose rights are not watched: untouched.
    let other = h.new_receive()?;
    let a_other = far_send_once(&a, &h, other)?;
    request_dead_name(&a, a_send, na)?;
    request_dead_name(&a, a_so, na)?;
    request_dead_name(&b, b_send, nb)?;
    a.request(tc, c_so, DEAD_NAME_ID, 0, na, MAKE_SEND_ONCE)
        .returns(NULL)?;
    c.port_type(TASK, c_so)
        .returns(with_dn(PortType::SEND_ONCE))?;
    h.destroy(TASK, port).succeeds()?;
    // A: its two names and C's, in the order they were registered.
    let mut got = Vec::new();
    for _ in 0..3 {
        let m = receive(&a, na)?;
        expect_eq("notification id", DEAD_NAME_ID, m.id())?;
        got.push(m.word(32));
    }
    got.sort();
    let mut want = vec![a_send.0, a_so.0, c_so.0];
    want.sort();
    expect_eq("names in A's dead-name notifications", want, got)?;
    expect_no_message(&a, na)?;
    expect_dead_name(&b, nb, b_send)?;
    expect_no_message(&b, nb)?;
    a.expect_dead(a_send, 3)?;
    a.expect_dead(a_so, 2)?;
    b.expect_dead(b_send, 2)?;
    c.expect_dead(c_so, 2)?;
    a.expect_send_once(a_other)
}

fn dead_name_after_its_notification_has_one_extra_user_reference(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let n = s.new_receive()?;
    for urefs in [1u32, 2, 5, 1000] {
        let (port, send) = far_send(&s, &far)?;
        if urefs > 1 {
            s.mod_refs(TASK, send, SEND, urefs as i32 - 1).succeeds()?;
        }
        let so = far_send_once(&s, &far, port)?;
        request_dead_name(&s, send, n)?;
        request_dead_name(&s, so, n)?;
        far.destroy(TASK, port).succeeds()?;
        s.expect_dead(send, urefs + 1)?;
        s.expect_dead(so, 2)?;
        expect_dead_name(&s, n, send)?;
        expect_dead_name(&s, n, so)?;
        // The references are ordinary ones: the name goes with the last.
        s.mod_refs(TASK, send, DEAD_NAME, -(urefs as i32 + 1))
            .succeeds()?;
        s.expect_unused(send)?;
        s.deallocate(TASK, so).succeeds()?;
        s.expect_dead(so, 1)?;
        s.deallocate(TASK, so).succeeds()?;
        s.expect_unused(so)?;
    }
    // Without a request there is no extra reference.
    let (port, send) = far_send(&s, &far)?;
    let so = far_send_once(&s, &far, port)?;
    far.destroy(TASK, port).succeeds()?;
    s.expect_dead(send, 1)?;
    s.expect_dead(so, 1)?;
    expect_no_message(&s, n)
}

fn dead_name_extra_reference_stays_at_urefs_max(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let n = s.new_receive()?;
    let (port, send) = far_send(&s, &far)?;
    s.mod_refs(TASK, send, SEND, UREFS_MAX as i32 - 1)
        .succeeds()?;
    s.expect_send(send, UREFS_MAX)?;
    request_dead_name(&s, send, n)?;
    far.destroy(TASK, port).succeeds()?;
    s.expect_dead(send, UREFS_MAX)?;
    expect_dead_name(&s, n, send)?;
    expect_no_message(&s, n)
}

fn dead_name_notification_when_the_receive_right_is_destroyed_by_mod_refs(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let n = s.new_receive()?;
    let (port, send) = far_send(&s, &far)?;
    request_dead_name(&s, send, n)?;
    far.mod_refs(TASK, port, RECEIVE, -1).succeeds()?;
    expect_dead_name(&s, n, send)?;
    s.expect_dead(send, 2)?;
    // Through the port's own SEND|RECEIVE name in the far space.
    let port = far.new_send_receive(1)?;
    let send = {
        let tf = s.task_for(&far)?;
        s.extract_right(tf, port, COPY_SEND).succeeds()?.name
    };
    request_dead_name(&s, send, n)?;
    far.mod_refs(TASK, port, RECEIVE, -1).succeeds()?;
    expect_dead_name(&s, n, send)?;
    s.expect_dead(send, 2)?;
    expect_no_message(&s, n)
}

fn dead_name_notification_when_the_space_holding_the_receive_right_closes(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let n = s.new_receive()?;
    let far = TestSpace::open_as("far")?;
    let (p1, send) = far_send(&s, &far)?;
    let so = far_send_once(&s, &far, p1)?;
    let (_p2, send2) = far_send(&s, &far)?;
    request_dead_name(&s, send, n)?;
    request_dead_name(&s, so, n)?;
    request_dead_name(&s, send2, n)?;
    drop(far);
    let mut got = Vec::new();
    for _ in 0..3 {
        let m = receive(&s, n)?;
        expect_eq("notification id", DEAD_NAME_ID, m.id())?;
        got.push(m.word(32));
    }
    got.sort();
    let mut want = vec![send.0, so.0, send2.0];
    want.sort();
    expect_eq("names in the dead-name notifications", want, got)?;
    for name in [send, so, send2] {
        s.expect_dead(name, 2)?;
    }
    expect_no_message(&s, n)
}

fn dead_name_notification_when_a_task_port_dies_with_its_space(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let n = s.new_receive()?;
    let b = TestSpace::open_as("B")?;
    let tb = s.task_for(&b)?;
    s.task_for(&b)?;
    request_dead_name(&s, tb, n)?;
    s.port_type(TASK, tb).returns(with_dn(PortType::SEND))?;
    drop(b);
    expect_dead_name(&s, n, tb)?;
    s.expect_dead(tb, 3)?;
    expect_no_message(&s, n)
}

fn dead_name_request_stays_with_the_name_while_the_port_lives(_: &mut Ctx) -> TestResult {
    // A request on a name keeps through changes of its references and
    // through the receive right coming to that name.
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let tf = s.task_for(&far)?;
    let n = s.new_receive()?;
    let (port, send) = far_send(&s, &far)?;
    request_dead_name(&s, send, n)?;
    s.mod_refs(TASK, send, SEND, 4).succeeds()?;
    s.mod_refs(TASK, send, SEND, -2).succeeds()?;
    s.port_type(TASK, send).returns(with_dn(PortType::SEND))?;
    // The receive right moves to s, merging into the send right's name.
    let got = s.extract_right(tf, port, MOVE_RECEIVE).succeeds()?;
    expect_eq("the receive right's name", send, got.name)?;
    s.port_type(TASK, send)
        .returns(with_dn(PortType::SEND_RECEIVE))?;
    expect_no_message(&s, n)?;
    // The send right goes; the name keeps the receive right and the
    // request.
    s.mod_refs(TASK, send, SEND, -3).succeeds()?;
    s.port_type(TASK, send)
        .returns(with_dn(PortType::RECEIVE))?;
    expect_no_message(&s, n)?;
    // The name goes with the receive right: port-deleted.
    s.destroy(TASK, send).succeeds()?;
    expect_port_deleted(&s, n, send)?;
    expect_no_message(&s, n)
}

/// A space `s` with a notify port `n`, and a send right `send` with
/// `urefs` references and a dead-name request, to a port of `far`.
fn watched_send(
    s: &TestSpace,
    far: &TestSpace,
    n: PortName,
    urefs: u32,
) -> Result<(PortName, PortName), String> {
    let (port, send) = far_send(s, far)?;
    if urefs > 1 {
        s.mod_refs(TASK, send, SEND, urefs as i32 - 1).succeeds()?;
    }
    request_dead_name(s, send, n)?;
    Ok((port, send))
}

fn port_deleted_when_the_name_is_deallocated(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let n = s.new_receive()?;
    let (port, send) = watched_send(&s, &far, n, 1)?;
    s.deallocate(TASK, send).succeeds()?;
    expect_port_deleted(&s, n, send)?;
    s.expect_unused(send)?;
    // The port lives, with no request left: its death sends nothing.
    far.expect_receive(port)?;
    far.destroy(TASK, port).succeeds()?;
    expect_no_message(&s, n)
}

fn port_deleted_when_mod_refs_takes_the_last_reference(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let n = s.new_receive()?;
    let (_port, send) = watched_send(&s, &far, n, 3)?;
    s.mod_refs(TASK, send, SEND, -3).succeeds()?;
    expect_port_deleted(&s, n, send)?;
    s.expect_unused(send)?;
    // A send-once right, too.
    let (port2, _) = far_send(&s, &far)?;
    let so = far_send_once(&s, &far, port2)?;
    request_dead_name(&s, so, n)?;
    s.mod_refs(TASK, so, SEND_ONCE, -1).succeeds()?;
    expect_port_deleted(&s, n, so)?;
    // The send-once right itself went unused: its port gets a send-once
    // notification.
    expect_send_once(&far, port2)?;
    expect_no_message(&s, n)
}

fn port_deleted_only_when_the_last_user_reference_goes(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let n = s.new_receive()?;
    let (_port, send) = watched_send(&s, &far, n, 4)?;
    s.mod_refs(TASK, send, SEND, -1).succeeds()?;
    s.deallocate(TASK, send).succeeds()?;
    s.mod_refs(TASK, send, SEND, -1).succeeds()?;
    expect_no_message(&s, n)?;
    s.port_type(TASK, send).returns(with_dn(PortType::SEND))?;
    s.deallocate(TASK, send).succeeds()?;
    expect_port_deleted(&s, n, send)?;
    expect_no_message(&s, n)
}

fn port_deleted_when_the_name_is_destroyed(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let n = s.new_receive()?;
    let (port, send) = watched_send(&s, &far, n, 7)?;
    s.destroy(TASK, send).succeeds()?;
    expect_port_deleted(&s, n, send)?;
    let so = far_send_once(&s, &far, port)?;
    request_dead_name(&s, so, n)?;
    s.destroy(TASK, so).succeeds()?;
    expect_port_deleted(&s, n, so)?;
    expect_send_once(&far, port)?;
    expect_no_message(&s, n)
}

fn port_deleted_when_a_message_is_sent_to_the_send_once_right(_: &mut Ctx) -> TestResult {
    // Seed 002: "...or the name denotes a send-once right which has a
    // message sent to it, then the registered send-once right is used to
    // generate a port-deleted notification."
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let n = s.new_receive()?;
    let (port, _) = far_send(&s, &far)?;
    let so = far_send_once(&s, &far, port)?;
    request_dead_name(&s, so, n)?;
    send(&s, &Msg::new(so, MOVE_SEND_ONCE).id(42))?;
    expect_port_deleted(&s, n, so)?;
    s.expect_unused(so)?;
    let m = receive(&far, port)?;
    expect_eq(
        "id of the message sent through the send-once right",
        42,
        m.id(),
    )?;
    // The right was used by the message: no send-once notification.
    expect_no_message(&far, port)?;
    expect_no_message(&s, n)
}

fn port_deleted_when_the_send_once_right_is_deallocated(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let n = s.new_receive()?;
    let (port, _) = far_send(&s, &far)?;
    let so = far_send_once(&s, &far, port)?;
    request_dead_name(&s, so, n)?;
    s.deallocate(TASK, so).succeeds()?;
    expect_port_deleted(&s, n, so)?;
    expect_send_once(&far, port)?;
    expect_no_message(&far, port)?;
    expect_no_message(&s, n)
}

fn port_deleted_when_the_last_send_right_moves_out_in_a_message(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let n = s.new_receive()?;
    let carrier = s.new_receive()?;
    // In a port descriptor.
    let (port, send1) = watched_send(&s, &far, n, 2)?;
    send_msg_with(&s, carrier, send1, MOVE_SEND)?;
    expect_no_message(&s, n)?;
    send_msg_with(&s, carrier, send1, MOVE_SEND)?;
    expect_port_deleted(&s, n, send1)?;
    s.expect_unused(send1)?;
    // As the destination.
    let (port2, send2) = watched_send(&s, &far, n, 1)?;
    send(&s, &Msg::new(send2, MOVE_SEND).id(9))?;
    expect_port_deleted(&s, n, send2)?;
    expect_eq("id", 9, receive(&far, port2)?.id())?;
    // As the reply right.
    let (_port3, send3) = watched_send(&s, &far, n, 1)?;
    send(
        &s,
        &Msg::new(carrier, MAKE_SEND_ONCE).reply(send3, MOVE_SEND),
    )?;
    expect_port_deleted(&s, n, send3)?;
    // A COPY_SEND leaves the name: nothing.
    let (_port4, send4) = watched_send(&s, &far, n, 1)?;
    send_msg_with(&s, carrier, send4, COPY_SEND)?;
    expect_no_message(&s, n)?;
    s.port_type(TASK, send4).returns(with_dn(PortType::SEND))?;
    far.expect_receive(port)?;
    Ok(())
}

fn send_msg_with(
    s: &TestSpace,
    to: PortName,
    right: PortName,
    disp: mach::MsgTypeName,
) -> TestResult {
    send(s, &Msg::new(to, MAKE_SEND_ONCE).port(right, disp))
}

fn port_deleted_when_the_right_moves_out_by_insert_right_or_extract_right(
    _: &mut Ctx,
) -> TestResult {
    let pair = Pair::new()?;
    let (a, b, tb) = (&pair.a, &pair.b, pair.tb);
    let far = TestSpace::open_as("far")?;
    let n = a.new_receive()?;
    let (_p1, send) = watched_send(a, &far, n, 1)?;
    a.insert_right(tb, N1, send, MOVE_SEND).succeeds()?;
    expect_port_deleted(a, n, send)?;
    b.expect_send(N1, 1)?;
    // extract_right by another space, through A's task port.
    let (_p2, send2) = watched_send(a, &far, n, 1)?;
    let ta = b.task_for(a)?;
    b.extract_right(ta, send2, MOVE_SEND).succeeds()?;
    expect_port_deleted(a, n, send2)?;
    // A send-once right moved out.
    let (p3, _) = far_send(a, &far)?;
    let so = far_send_once(a, &far, p3)?;
    request_dead_name(a, so, n)?;
    a.insert_right(tb, N2, so, MOVE_SEND_ONCE).succeeds()?;
    expect_port_deleted(a, n, so)?;
    b.expect_send_once(N2)?;
    expect_no_message(a, n)
}

fn port_deleted_when_the_space_holding_the_name_closes(_: &mut Ctx) -> TestResult {
    let a = TestSpace::open_as("A")?;
    let far = TestSpace::open_as("far")?;
    let n = a.new_receive()?;
    let b = TestSpace::open_as("B")?;
    let tb = a.task_for(&b)?;
    let (port, b_send) = far_send(&b, &far)?;
    let b_so = far_send_once(&b, &far, port)?;
    a.request(tb, b_send, DEAD_NAME_ID, 0, n, MAKE_SEND_ONCE)
        .returns(NULL)?;
    a.request(tb, b_so, DEAD_NAME_ID, 0, n, MAKE_SEND_ONCE)
        .returns(NULL)?;
    drop(b);
    let mut got = Vec::new();
    for _ in 0..2 {
        let m = receive(&a, n)?;
        expect_eq("notification id", PORT_DELETED_ID, m.id())?;
        got.push(m.word(32));
    }
    got.sort();
    let mut want = vec![b_send.0, b_so.0];
    want.sort();
    expect_eq("names in the port-deleted notifications", want, got)?;
    expect_no_message(&a, n)?;
    // The send-once right B held went unused.
    expect_send_once(&far, port)?;
    expect_no_message(&far, port)
}

fn port_deleted_for_the_receive_right_and_dead_name_for_the_others_when_the_port_is_destroyed(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let other = TestSpace::open_as("other")?;
    let n = s.new_receive()?;
    let no = other.new_receive()?;
    let port = s.new_receive()?;
    let to = other.task_for(&s)?;
    let o_send = other.extract_right(to, port, MAKE_SEND).succeeds()?.name;
    request_dead_name(&s, port, n)?;
    request_dead_name(&other, o_send, no)?;
    s.destroy(TASK, port).succeeds()?;
    // The receive right's own name went: port-deleted.
    expect_port_deleted(&s, n, port)?;
    expect_dead_name(&other, no, o_send)?;
    other.expect_dead(o_send, 2)?;
    expect_no_message(&s, n)?;
    // mod_refs(RECEIVE, -1) on a receive-only name, too.
    let port = s.new_receive()?;
    request_dead_name(&s, port, n)?;
    s.mod_refs(TASK, port, RECEIVE, -1).succeeds()?;
    expect_port_deleted(&s, n, port)?;
    expect_no_message(&s, n)
}

fn port_deleted_when_the_receive_right_moves_out(_: &mut Ctx) -> TestResult {
    let pair = Pair::new()?;
    let (a, b, tb) = (&pair.a, &pair.b, pair.tb);
    let n = a.new_receive()?;
    let port = a.new_receive()?;
    request_dead_name(a, port, n)?;
    a.insert_right(tb, N1, port, MOVE_RECEIVE).succeeds()?;
    expect_port_deleted(a, n, port)?;
    b.expect_receive(N1)?;
    // In a message.
    let port = a.new_receive()?;
    let carrier = b.new_receive()?;
    let to_carrier = {
        let ta = b.task_for(a)?;
        b.insert_right(ta, N3, carrier, MAKE_SEND).succeeds()?;
        N3
    };
    request_dead_name(a, port, n)?;
    send(a, &Msg::new(to_carrier, COPY_SEND).port(port, MOVE_RECEIVE))?;
    expect_port_deleted(a, n, port)?;
    let m = receive(b, carrier)?;
    let (name, _, _) = m.port_descriptor(0);
    b.expect_receive(name)?;
    // The name with a send right keeps its request when only the receive
    // right leaves.
    let sr = a.new_send_receive(1)?;
    request_dead_name(a, sr, n)?;
    a.insert_right(tb, N4, sr, MOVE_RECEIVE).succeeds()?;
    a.port_type(TASK, sr).returns(with_dn(PortType::SEND))?;
    expect_no_message(a, n)?;
    b.destroy(TASK, N4).succeeds()?;
    expect_dead_name(a, n, sr)?;
    a.expect_dead(sr, 2)?;
    expect_no_message(a, n)
}

fn deleted_name_reused_has_no_request(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let n = s.new_receive()?;
    let (port, send) = watched_send(&s, &far, n, 1)?;
    s.deallocate(TASK, send).succeeds()?;
    expect_port_deleted(&s, n, send)?;
    // The same name for a new right (and the same port).
    far.insert_right(far.task_for(&s)?, send, port, MAKE_SEND)
        .succeeds()?;
    s.port_type(TASK, send).returns(PortType::SEND)?;
    far.destroy(TASK, port).succeeds()?;
    s.expect_dead(send, 1)?;
    expect_no_message(&s, n)
}

fn dead_name_request_on_a_dead_name_with_sync_fires_at_once(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let n = s.new_receive()?;
    // An allocated dead name.
    let dead = s.new_dead_name(2)?;
    s.request(TASK, dead, DEAD_NAME_ID, 1, n, MAKE_SEND_ONCE)
        .returns(NULL)?;
    expect_dead_name(&s, n, dead)?;
    s.expect_dead(dead, 3)?;
    s.port_type(TASK, dead).returns(PortType::DEAD_NAME)?;
    expect_no_message(&s, n)?;
    // Again: one more each time; nothing stays registered.
    s.request(TASK, dead, DEAD_NAME_ID, 7, n, MAKE_SEND_ONCE)
        .returns(NULL)?;
    expect_dead_name(&s, n, dead)?;
    s.expect_dead(dead, 4)?;
    // A name whose port died (no request before), with a moved send-once
    // right.
    let (port, send) = far_send(&s, &far)?;
    far.destroy(TASK, port).succeeds()?;
    let so = s.new_send_once(n)?;
    s.request(TASK, send, DEAD_NAME_ID, 1, so, MOVE_SEND_ONCE)
        .returns(NULL)?;
    s.expect_unused(so)?;
    expect_dead_name(&s, n, send)?;
    s.expect_dead(send, 2)?;
    // A send-once right whose port died: a dead name with one reference.
    let (port, _) = far_send(&s, &far)?;
    let so2 = far_send_once(&s, &far, port)?;
    far.destroy(TASK, port).succeeds()?;
    s.request(TASK, so2, DEAD_NAME_ID, 1, n, MAKE_SEND_ONCE)
        .returns(NULL)?;
    expect_dead_name(&s, n, so2)?;
    s.expect_dead(so2, 2)?;
    expect_no_message(&s, n)
}

fn dead_name_request_on_a_dead_name_through_another_task(_: &mut Ctx) -> TestResult {
    let pair = Pair::new()?;
    let (a, b, tb) = (&pair.a, &pair.b, pair.tb);
    let n = a.new_receive()?;
    b.allocate_name(TASK, DEAD_NAME, N1).succeeds()?;
    a.request(tb, N1, DEAD_NAME_ID, 1, n, MAKE_SEND_ONCE)
        .returns(NULL)?;
    // The notification names B's name; the reference is B's.
    expect_dead_name(a, n, N1)?;
    b.expect_dead(N1, 2)?;
    a.request(tb, N1, DEAD_NAME_ID, 0, n, MAKE_SEND_ONCE)
        .gives(KERN_INVALID_ARGUMENT)?;
    expect_no_message(a, n)
}

/// Waits for "exit" (or the parent going away), keeping the child's space
/// open until then.
fn until_exit(peer: &mut Peer) -> TestResult {
    let _ = peer.recv();
    Ok(())
}

fn dead_name_notification_when_a_child_process_destroys_its_port(_: &mut Ctx) -> TestResult {
    let x = TestSpace::open_as("X (the child's space)")?;
    let mut child = proc::spawn(&[], |peer| {
        let port = x.new_receive()?;
        peer.send_name("port", port)?;
        peer.expect("destroy")?;
        x.destroy(TASK, port).succeeds()?;
        peer.send("destroyed")?;
        until_exit(peer)
    })?;
    let a = TestSpace::open_as("A (the parent's space)")?;
    let tx = a.task_for(&x)?;
    drop(x);
    let port = child.peer.recv_name("port")?;
    let n = a.new_receive()?;
    let send = a.extract_right(tx, port, MAKE_SEND).succeeds()?.name;
    let so = a.extract_right(tx, port, MAKE_SEND_ONCE).succeeds()?.name;
    request_dead_name(&a, send, n)?;
    request_dead_name(&a, so, n)?;
    child.peer.send("destroy")?;
    child.peer.expect("destroyed")?;
    let mut got = vec![receive(&a, n)?, receive(&a, n)?]
        .iter()
        .map(|m| (m.id(), m.word(32)))
        .collect::<Vec<_>>();
    got.sort();
    let mut want = vec![(DEAD_NAME_ID, send.0), (DEAD_NAME_ID, so.0)];
    want.sort();
    expect_eq("dead-name notifications", want, got)?;
    a.expect_dead(send, 2)?;
    a.expect_dead(so, 2)?;
    expect_no_message(&a, n)?;
    child.peer.send("exit")?;
    child.wait()
}

fn dead_name_notification_when_the_child_holding_the_receive_right_is_killed(
    _: &mut Ctx,
) -> TestResult {
    let x = TestSpace::open_as("X (the child's space)")?;
    let mut child = proc::spawn(&[], |peer| {
        let port = x.new_receive()?;
        let other = x.new_send_receive(1)?;
        peer.send_name("port", port)?;
        peer.send_name("other", other)?;
        until_exit(peer)
    })?;
    let a = TestSpace::open_as("A (the parent's space)")?;
    let tx = a.task_for(&x)?;
    drop(x);
    let port = child.peer.recv_name("port")?;
    let other = child.peer.recv_name("other")?;
    let n = a.new_receive()?;
    let send = a.extract_right(tx, port, MAKE_SEND).succeeds()?.name;
    a.mod_refs(TASK, send, SEND, 2).succeeds()?;
    let send2 = a.extract_right(tx, other, COPY_SEND).succeeds()?.name;
    request_dead_name(&a, send, n)?;
    request_dead_name(&a, send2, n)?;
    request_dead_name(&a, tx, n)?;
    child.kill()?;
    let mut got = Vec::new();
    for _ in 0..3 {
        let m = receive(&a, n)?;
        expect_eq("notification id", DEAD_NAME_ID, m.id())?;
        got.push(m.word(32));
    }
    got.sort();
    let mut want = vec![send.0, send2.0, tx.0];
    want.sort();
    expect_eq(
        "names in the dead-name notifications after SIGKILL",
        want,
        got,
    )?;
    a.expect_dead(send, 4)?;
    a.expect_dead(send2, 2)?;
    a.expect_dead(tx, 2)?;
    expect_no_message(&a, n)
}

fn port_deleted_when_the_child_holding_the_name_is_killed(_: &mut Ctx) -> TestResult {
    let x = TestSpace::open_as("X (the child's space)")?;
    let mut child = proc::spawn(&[], |peer| {
        peer.send("ready")?;
        until_exit(peer)
    })?;
    let a = TestSpace::open_as("A (the parent's space)")?;
    let tx = a.task_for(&x)?;
    drop(x);
    child.peer.expect("ready")?;
    let n = a.new_receive()?;
    let port = a.new_receive()?;
    // The child holds a send right and a send-once right to A's port; A
    // watches both names.
    a.insert_right(tx, N1, port, MAKE_SEND).succeeds()?;
    a.insert_right(tx, N2, port, MAKE_SEND_ONCE).succeeds()?;
    a.request(tx, N1, DEAD_NAME_ID, 0, n, MAKE_SEND_ONCE)
        .returns(NULL)?;
    a.request(tx, N2, DEAD_NAME_ID, 0, n, MAKE_SEND_ONCE)
        .returns(NULL)?;
    child.kill()?;
    let mut got = Vec::new();
    for _ in 0..2 {
        let m = receive(&a, n)?;
        expect_eq("notification id", PORT_DELETED_ID, m.id())?;
        got.push(m.word(32));
    }
    got.sort();
    expect_eq(
        "names in the port-deleted notifications after SIGKILL",
        vec![N1.0, N2.0],
        got,
    )?;
    expect_no_message(&a, n)?;
    // The child's send-once right went unused.
    expect_send_once(&a, port)?;
    expect_no_message(&a, port)
}
