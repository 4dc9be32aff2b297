//! No-senders notifications (seed 002, MACH_NOTIFY_NO_SENDERS;
//! docs/notifications.md "NO_SENDERS"): the make-send count, when the
//! notification fires (once, when the last send right goes, whichever way
//! it goes), the immediate notification, and across processes.

use mach::{sys, PortName};

use crate::check::*;
use crate::notify::*;
use crate::proc::{self, Peer};
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    no_senders_notification_has_xnus_layout_and_carries_the_make_send_count,
    make_send_count_grows_with_each_make_send_and_only_then,
    no_senders_fires_when_the_last_send_right_is_deallocated,
    no_senders_fires_when_mod_refs_takes_the_last_send_reference,
    no_senders_fires_when_the_name_holding_the_last_send_right_is_destroyed,
    no_senders_fires_when_the_space_holding_the_last_send_right_closes,
    no_senders_fires_when_a_destroyed_message_carries_the_last_send_right,
    no_senders_fires_when_a_message_too_large_carries_the_last_send_right,
    no_senders_fires_when_the_message_sent_with_the_last_send_right_is_received,
    no_senders_waits_for_the_last_of_send_rights_in_several_spaces,
    no_senders_waits_while_a_send_right_merged_into_another_name_remains,
    no_senders_fires_at_once_when_there_are_no_senders_and_sync_is_reached,
    no_senders_with_sync_above_the_make_send_count_waits_for_the_last_send_right,
    no_senders_with_send_rights_present_waits_whatever_sync,
    no_senders_fires_once,
    no_senders_immediate_notification_still_returns_the_previous_right,
    make_send_count_restarts_at_zero_when_the_receive_right_moves,
    pending_no_senders_request_is_used_up_with_a_send_once_notification_when_the_port_dies,
    no_senders_when_a_child_process_deallocates_the_last_send_right,
    no_senders_when_the_child_holding_the_send_rights_is_killed,
];

fn mscount(s: &TestSpace, port: PortName) -> Result<u32, String> {
    Ok(s.status(port).succeeds()?.mscount)
}

/// A port `p` of `s` whose only send right is in `far` under N1 with
/// `urefs` references made by `makes` MAKE_SENDs, with a no-senders
/// request (sync 0) to `n`.
fn watched_port(
    s: &TestSpace,
    far: &TestSpace,
    n: PortName,
    makes: u32,
) -> Result<(PortName, PortName), String> {
    let p = s.new_receive()?;
    let tf = s.task_for(far)?;
    let name = far.unused_name(0x5151_0003)?;
    for _ in 0..makes {
        s.insert_right(tf, name, p, MAKE_SEND).succeeds()?;
    }
    s.mod_refs(TASK, tf, SEND, -1).succeeds()?;
    request_no_senders(s, p, 0, n)?;
    Ok((p, name))
}

fn no_senders_notification_has_xnus_layout_and_carries_the_make_send_count(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let n = s.new_receive()?;
    let (p, name) = watched_port(&s, &far, n, 3)?;
    far.expect_send(name, 3)?;
    expect_eq("mscount", 3, mscount(&s, p)?)?;
    far.deallocate(TASK, name).succeeds()?;
    far.deallocate(TASK, name).succeeds()?;
    expect_no_message(&s, n)?;
    far.deallocate(TASK, name).succeeds()?;
    // Size 36, bits 0x1200, remote 0, local n, id 70, NDR, mscount 3.
    expect_no_senders(&s, n, 3)?;
    expect_no_message(&s, n)?;
    expect_status_field(&s, p, "nsrequest", |st| st.nsrequest, 0)
}

fn make_send_count_grows_with_each_make_send_and_only_then(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let tf = s.task_for(&far)?;
    let p = s.new_receive()?;
    let carrier = s.new_receive()?;
    expect_eq("mscount of a new port", 0, mscount(&s, p)?)?;
    s.insert_right(TASK, p, p, MAKE_SEND).succeeds()?;
    expect_eq("mscount after insert_right MAKE_SEND", 1, mscount(&s, p)?)?;
    s.extract_right(TASK, p, MAKE_SEND).succeeds()?;
    expect_eq("mscount after extract_right MAKE_SEND", 2, mscount(&s, p)?)?;
    s.insert_right(tf, N1, p, MAKE_SEND).succeeds()?;
    expect_eq(
        "mscount after MAKE_SEND into another space",
        3,
        mscount(&s, p)?,
    )?;
    send(&s, &Msg::new(p, MAKE_SEND).id(1))?;
    expect_eq(
        "mscount after a message with MAKE_SEND destination",
        4,
        mscount(&s, p)?,
    )?;
    send(&s, &Msg::new(carrier, MAKE_SEND_ONCE).reply(p, MAKE_SEND))?;
    expect_eq("mscount after a MAKE_SEND reply", 5, mscount(&s, p)?)?;
    send(&s, &Msg::new(carrier, MAKE_SEND_ONCE).port(p, MAKE_SEND))?;
    expect_eq("mscount after a MAKE_SEND descriptor", 6, mscount(&s, p)?)?;
    // Copies and moves of send rights, and send-once rights, do not count.
    s.insert_right(tf, N1, p, COPY_SEND).succeeds()?;
    s.insert_right(tf, N1, p, MOVE_SEND).succeeds()?;
    s.insert_right(tf, N2, p, MAKE_SEND_ONCE).succeeds()?;
    send(&s, &Msg::new(p, MAKE_SEND_ONCE).id(2))?;
    expect_eq(
        "mscount after copies, moves and send-once rights",
        6,
        mscount(&s, p)?,
    )
}

fn no_senders_fires_when_the_last_send_right_is_deallocated(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let n = s.new_receive()?;
    let p = s.new_send_receive(2)?;
    request_no_senders(&s, p, 0, n)?;
    s.deallocate(TASK, p).succeeds()?;
    expect_no_message(&s, n)?;
    s.deallocate(TASK, p).succeeds()?;
    expect_no_senders(&s, n, 1)?;
    s.expect_receive(p)?;
    expect_no_message(&s, n)
}

fn no_senders_fires_when_mod_refs_takes_the_last_send_reference(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let n = s.new_receive()?;
    let (_p, name) = watched_port(&s, &far, n, 4)?;
    far.mod_refs(TASK, name, SEND, -3).succeeds()?;
    expect_no_message(&s, n)?;
    far.mod_refs(TASK, name, SEND, -1).succeeds()?;
    expect_no_senders(&s, n, 4)?;
    expect_no_message(&s, n)
}

fn no_senders_fires_when_the_name_holding_the_last_send_right_is_destroyed(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let n = s.new_receive()?;
    let (_p, name) = watched_port(&s, &far, n, 5)?;
    far.destroy(TASK, name).succeeds()?;
    expect_no_senders(&s, n, 5)?;
    expect_no_message(&s, n)
}

fn no_senders_fires_when_the_space_holding_the_last_send_right_closes(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let n = s.new_receive()?;
    let far = TestSpace::open_as("far")?;
    let (p, _name) = watched_port(&s, &far, n, 2)?;
    drop(far);
    expect_no_senders(&s, n, 2)?;
    s.expect_receive(p)?;
    expect_no_message(&s, n)
}

fn no_senders_fires_when_a_destroyed_message_carries_the_last_send_right(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let n = s.new_receive()?;
    // In a port descriptor and as the reply right of a message queued on
    // a port that dies.
    for how in ["descriptor", "reply"] {
        let p = s.new_send_receive(1)?;
        let q = s.new_receive()?;
        request_no_senders(&s, p, 0, n)?;
        match how {
            "descriptor" => send(&s, &Msg::new(q, MAKE_SEND_ONCE).port(p, MOVE_SEND))?,
            _ => send(&s, &Msg::new(q, MAKE_SEND_ONCE).reply(p, MOVE_SEND))?,
        }
        expect_no_message(&s, n)?;
        s.destroy(TASK, q).succeeds()?;
        expect_no_senders(&s, n, 1)?;
        s.destroy(TASK, p).succeeds()?;
        expect_no_message(&s, n)?;
    }
    // A message queued on p itself whose destination right is p's last
    // send right, when p dies: p is dead, so its pending request goes with
    // a send-once notification instead.
    let p = s.new_send_receive(1)?;
    request_no_senders(&s, p, 0, n)?;
    send(&s, &Msg::new(p, MOVE_SEND).id(1))?;
    s.destroy(TASK, p).succeeds()?;
    expect_send_once(&s, n)?;
    expect_no_message(&s, n)
}

fn no_senders_fires_when_a_message_too_large_carries_the_last_send_right(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let n = s.new_receive()?;
    let p = s.new_send_receive(1)?;
    let q = s.new_receive()?;
    request_no_senders(&s, p, 0, n)?;
    send(
        &s,
        &Msg::new(q, MAKE_SEND_ONCE)
            .port(p, MOVE_SEND)
            .data(&[0u8; 200]),
    )?;
    // Received into too small a buffer without MACH_RCV_LARGE: destroyed.
    let (mr, _) = receive_raw(&s, q, 0, 64, 0)?;
    expect_eq(
        "receive into 64 bytes",
        mr_name(sys::MACH_RCV_TOO_LARGE),
        mr_name(mr),
    )?;
    expect_no_senders(&s, n, 1)?;
    expect_no_message(&s, n)?;
    // As the destination: the message on p is destroyed the same way.
    // (sync above the make-send count: p has no send rights now, and a
    // request with sync 0 would fire at once.)
    request_no_senders(&s, p, 100, n)?;
    s.insert_right(TASK, p, p, MAKE_SEND).succeeds()?;
    send(&s, &Msg::new(p, MOVE_SEND).data(&[0u8; 200]))?;
    s.expect_receive(p)?;
    expect_no_message(&s, n)?;
    let (mr, _) = receive_raw(&s, p, 0, 64, 0)?;
    expect_eq(
        "receive into 64 bytes",
        mr_name(sys::MACH_RCV_TOO_LARGE),
        mr_name(mr),
    )?;
    expect_no_senders(&s, n, 2)?;
    expect_no_message(&s, n)
}

fn no_senders_fires_when_the_message_sent_with_the_last_send_right_is_received(
    _: &mut Ctx,
) -> TestResult {
    // The destination's send right is the message's until it is received;
    // then it is released (as XNU's copyout of the header does).
    let s = TestSpace::open()?;
    let n = s.new_receive()?;
    let p = s.new_send_receive(1)?;
    request_no_senders(&s, p, 0, n)?;
    send(&s, &Msg::new(p, MOVE_SEND).id(3))?;
    s.expect_receive(p)?;
    expect_no_message(&s, n)?;
    let m = receive(&s, p)?;
    expect_eq("id", 3, m.id())?;
    expect_no_senders(&s, n, 1)?;
    expect_no_message(&s, n)
}

fn no_senders_waits_for_the_last_of_send_rights_in_several_spaces(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let n = s.new_receive()?;
    let spaces: Vec<TestSpace> = (0..3)
        .map(|_| TestSpace::open_as("holder"))
        .collect::<Result<_, _>>()?;
    let p = s.new_receive()?;
    for x in &spaces {
        let t = s.task_for(x)?;
        s.insert_right(t, N1, p, MAKE_SEND).succeeds()?;
    }
    request_no_senders(&s, p, 0, n)?;
    spaces[0].deallocate(TASK, N1).succeeds()?;
    spaces[1].destroy(TASK, N1).succeeds()?;
    expect_no_message(&s, n)?;
    spaces[2].mod_refs(TASK, N1, SEND, -1).succeeds()?;
    expect_no_senders(&s, n, 3)?;
    expect_no_message(&s, n)
}

fn no_senders_waits_while_a_send_right_merged_into_another_name_remains(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let n = s.new_receive()?;
    let p = s.new_send_receive(1)?;
    request_no_senders(&s, p, 0, n)?;
    // A message carrying a new send right to p, received by s: it merges
    // into p's name.
    let q = s.new_receive()?;
    send(&s, &Msg::new(q, MAKE_SEND_ONCE).port(p, MAKE_SEND))?;
    let m = receive(&s, q)?;
    let (name, _, _) = m.port_descriptor(0);
    expect_eq("the send right's name", p, name)?;
    s.expect_send_receive(p, 2)?;
    expect_no_message(&s, n)?;
    s.deallocate(TASK, p).succeeds()?;
    expect_no_message(&s, n)?;
    s.deallocate(TASK, p).succeeds()?;
    expect_no_senders(&s, n, 2)?;
    // The same through extract_right merging into an existing name.
    let p = s.new_send_receive(1)?;
    request_no_senders(&s, p, 0, n)?;
    s.extract_right(TASK, p, COPY_SEND)
        .returns(extracted(p, PORT_SEND))?;
    s.mod_refs(TASK, p, SEND, -1).succeeds()?;
    expect_no_message(&s, n)?;
    s.mod_refs(TASK, p, SEND, -1).succeeds()?;
    expect_no_senders(&s, n, 1)?;
    expect_no_message(&s, n)
}

fn no_senders_fires_at_once_when_there_are_no_senders_and_sync_is_reached(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let n = s.new_receive()?;
    // A new port: mscount 0, sync 0.
    let p = s.new_receive()?;
    s.request(TASK, p, NO_SENDERS_ID, 0, n, MAKE_SEND_ONCE)
        .returns(NULL)?;
    expect_no_senders(&s, n, 0)?;
    // Nothing stays registered.
    expect_status_field(&s, p, "nsrequest", |st| st.nsrequest, 0)?;
    s.insert_right(TASK, p, p, MAKE_SEND).succeeds()?;
    s.mod_refs(TASK, p, SEND, -1).succeeds()?;
    expect_no_message(&s, n)?;
    // mscount 3 now (one above, two more), no senders: sync 0..3 fire.
    for _ in 0..2 {
        s.insert_right(TASK, p, p, MAKE_SEND).succeeds()?;
        s.mod_refs(TASK, p, SEND, -1).succeeds()?;
    }
    expect_eq("mscount", 3, mscount(&s, p)?)?;
    for sync in [0, 1, 3] {
        s.request(TASK, p, NO_SENDERS_ID, sync, n, MAKE_SEND_ONCE)
            .returns(NULL)?;
        expect_no_senders(&s, n, 3)?;
        expect_status_field(&s, p, "nsrequest", |st| st.nsrequest, 0)?;
    }
    // With MOVE_SEND_ONCE too.
    let so = s.new_send_once(n)?;
    s.request(TASK, p, NO_SENDERS_ID, 2, so, MOVE_SEND_ONCE)
        .returns(NULL)?;
    s.expect_unused(so)?;
    expect_no_senders(&s, n, 3)?;
    expect_no_message(&s, n)
}

fn no_senders_with_sync_above_the_make_send_count_waits_for_the_last_send_right(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let n = s.new_receive()?;
    let p = s.new_receive()?;
    s.request(TASK, p, NO_SENDERS_ID, 1, n, MAKE_SEND_ONCE)
        .returns(NULL)?;
    expect_no_message(&s, n)?;
    expect_status_field(&s, p, "nsrequest", |st| st.nsrequest, 1)?;
    // Made and gone: it fires with the count of the moment (1), whatever
    // sync was.
    s.insert_right(TASK, p, p, MAKE_SEND).succeeds()?;
    expect_no_message(&s, n)?;
    s.mod_refs(TASK, p, SEND, -1).succeeds()?;
    expect_no_senders(&s, n, 1)?;
    // sync far above: the same.
    s.request(TASK, p, NO_SENDERS_ID, 100, n, MAKE_SEND_ONCE)
        .returns(NULL)?;
    expect_no_message(&s, n)?;
    s.insert_right(TASK, p, p, MAKE_SEND).succeeds()?;
    s.insert_right(TASK, p, p, MAKE_SEND).succeeds()?;
    s.mod_refs(TASK, p, SEND, -2).succeeds()?;
    expect_no_senders(&s, n, 3)?;
    expect_no_message(&s, n)
}

fn no_senders_with_send_rights_present_waits_whatever_sync(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let n = s.new_receive()?;
    let p = s.new_send_receive(1)?;
    for sync in [0, 1] {
        let prev = s
            .request(TASK, p, NO_SENDERS_ID, sync, n, MAKE_SEND_ONCE)
            .succeeds()?;
        expect_no_message(&s, n)?;
        if prev.is_valid() {
            s.deallocate(TASK, prev).succeeds()?;
            expect_send_once(&s, n)?;
        }
    }
    s.mod_refs(TASK, p, SEND, -1).succeeds()?;
    expect_no_senders(&s, n, 1)?;
    expect_no_message(&s, n)
}

fn no_senders_fires_once(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let n = s.new_receive()?;
    let p = s.new_send_receive(1)?;
    request_no_senders(&s, p, 0, n)?;
    s.mod_refs(TASK, p, SEND, -1).succeeds()?;
    expect_no_senders(&s, n, 1)?;
    for _ in 0..3 {
        s.insert_right(TASK, p, p, MAKE_SEND).succeeds()?;
        s.mod_refs(TASK, p, SEND, -1).succeeds()?;
    }
    expect_no_message(&s, n)?;
    // A new request, a new notification.
    request_no_senders(&s, p, 5, n)?;
    s.insert_right(TASK, p, p, MAKE_SEND).succeeds()?;
    s.mod_refs(TASK, p, SEND, -1).succeeds()?;
    expect_no_senders(&s, n, 5)?;
    expect_no_message(&s, n)
}

fn no_senders_immediate_notification_still_returns_the_previous_right(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let n1 = s.new_receive()?;
    let n2 = s.new_receive()?;
    let p = s.new_receive()?;
    // Registered (sync above mscount 0).
    request_no_senders(&s, p, 1, n1)?;
    // Fires at once through the new right; the previous comes back.
    let prev = s
        .request(TASK, p, NO_SENDERS_ID, 0, n2, MAKE_SEND_ONCE)
        .succeeds()?;
    expect_no_senders(&s, n2, 0)?;
    s.expect_send_once(prev)?;
    expect_status_field(&s, p, "nsrequest", |st| st.nsrequest, 0)?;
    expect_no_message(&s, n1)?;
    s.deallocate(TASK, prev).succeeds()?;
    expect_send_once(&s, n1)?;
    expect_no_message(&s, n2)
}

fn make_send_count_restarts_at_zero_when_the_receive_right_moves(_: &mut Ctx) -> TestResult {
    let pair = Pair::new()?;
    let (a, b, tb) = (&pair.a, &pair.b, pair.tb);
    let n = a.new_receive()?;
    // insert_right MOVE_RECEIVE.
    let p = a.new_send_receive(1)?;
    a.insert_right(TASK, p, p, MAKE_SEND).succeeds()?;
    expect_eq("mscount before the move", 2, mscount(a, p)?)?;
    request_no_senders(a, p, 0, n)?;
    a.insert_right(tb, N1, p, MOVE_RECEIVE).succeeds()?;
    expect_eq(
        "mscount after insert_right MOVE_RECEIVE",
        0,
        mscount(b, N1)?,
    )?;
    b.insert_right(TASK, N1, N1, MAKE_SEND).succeeds()?;
    expect_eq(
        "mscount after one MAKE_SEND in the new space",
        1,
        mscount(b, N1)?,
    )?;
    // The request stayed with the port; it fires with the count since
    // the move.
    a.mod_refs(TASK, p, SEND, -2).succeeds()?;
    expect_no_message(a, n)?;
    b.mod_refs(TASK, N1, SEND, -1).succeeds()?;
    expect_no_senders(a, n, 1)?;
    // extract_right MOVE_RECEIVE.
    let ta = b.task_for(a)?;
    let q = a.new_send_receive(3)?;
    a.mod_refs(TASK, q, SEND, -2).succeeds()?;
    let got = b.extract_right(ta, q, MOVE_RECEIVE).succeeds()?.name;
    expect_eq(
        "mscount after extract_right MOVE_RECEIVE",
        0,
        mscount(b, got)?,
    )?;
    // In a message (seed: "reset to zero when the receive right is carried
    // in a message").
    let r = b.new_send_receive(1)?;
    b.insert_right(TASK, r, r, MAKE_SEND).succeeds()?;
    expect_eq("mscount before the message", 2, mscount(b, r)?)?;
    let carrier = a.new_receive()?;
    a.insert_right(tb, N3, carrier, MAKE_SEND).succeeds()?;
    send(b, &Msg::new(N3, MOVE_SEND).port(r, MOVE_RECEIVE))?;
    let m = receive(a, carrier)?;
    let (name, _, _) = m.port_descriptor(0);
    expect_eq(
        "mscount after travelling in a message",
        0,
        mscount(a, name)?,
    )?;
    expect_no_message(a, n)
}

fn pending_no_senders_request_is_used_up_with_a_send_once_notification_when_the_port_dies(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let n = s.new_receive()?;
    let far = TestSpace::open_as("far")?;
    // Send rights left when the port dies: no no-senders notification,
    // the request goes with a send-once notification.
    let (p, name) = watched_port(&s, &far, n, 1)?;
    s.destroy(TASK, p).succeeds()?;
    expect_send_once(&s, n)?;
    far.expect_dead(name, 1)?;
    expect_no_message(&s, n)?;
    // A request waiting for sync above the count, on a port with no send
    // rights.
    let p = s.new_receive()?;
    request_no_senders(&s, p, 9, n)?;
    s.mod_refs(TASK, p, RECEIVE, -1).succeeds()?;
    expect_send_once(&s, n)?;
    expect_no_message(&s, n)
}

/// Waits for "exit" (or the parent going away), keeping the child's space
/// open until then.
fn until_exit(peer: &mut Peer) -> TestResult {
    let _ = peer.recv();
    Ok(())
}

fn no_senders_when_a_child_process_deallocates_the_last_send_right(_: &mut Ctx) -> TestResult {
    let x = TestSpace::open_as("X (the child's space)")?;
    let mut child = proc::spawn(&[], |peer| {
        let name = peer.recv_name("send")?;
        x.expect_send(name, 2)?;
        x.deallocate(TASK, name).succeeds()?;
        peer.send("one")?;
        peer.expect("again")?;
        x.deallocate(TASK, name).succeeds()?;
        peer.send("gone")?;
        until_exit(peer)
    })?;
    let a = TestSpace::open_as("A (the parent's space)")?;
    let tx = a.task_for(&x)?;
    drop(x);
    let n = a.new_receive()?;
    let p = a.new_receive()?;
    a.insert_right(tx, N1, p, MAKE_SEND).succeeds()?;
    a.insert_right(tx, N1, p, MAKE_SEND).succeeds()?;
    request_no_senders(&a, p, 0, n)?;
    child.peer.send_name("send", N1)?;
    child.peer.expect("one")?;
    expect_no_message(&a, n)?;
    child.peer.send("again")?;
    child.peer.expect("gone")?;
    expect_no_senders(&a, n, 2)?;
    expect_no_message(&a, n)?;
    child.peer.send("exit")?;
    child.wait()
}

fn no_senders_when_the_child_holding_the_send_rights_is_killed(_: &mut Ctx) -> TestResult {
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
    let p = a.new_receive()?;
    let q = a.new_send_receive(1)?;
    for _ in 0..3 {
        a.insert_right(tx, N1, p, MAKE_SEND).succeeds()?;
    }
    a.insert_right(tx, N2, q, MAKE_SEND).succeeds()?;
    request_no_senders(&a, p, 0, n)?;
    // q keeps a send right in A: no notification for it.
    request_no_senders(&a, q, 0, n)?;
    child.kill()?;
    expect_no_senders(&a, n, 3)?;
    expect_no_message(&a, n)?;
    a.expect_receive(p)?;
    a.expect_send_receive(q, 1)
}
