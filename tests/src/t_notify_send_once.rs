//! Send-once notifications (docs/notifications.md "SEND_ONCE"): every
//! send-once right destroyed without a message through it sends exactly one
//! MACH_NOTIFY_SEND_ONCE to its port, through itself, if the port lives;
//! whichever way it is destroyed.

use mach::{sys, PortName};

use crate::check::*;
use crate::notify::*;
use crate::proc::{self, Peer};
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    send_once_notification_has_xnus_layout,
    send_once_right_deallocated_sends_one_send_once_notification,
    send_once_right_destroyed_by_mod_refs_sends_one_send_once_notification,
    send_once_right_destroyed_by_destroy_sends_one_send_once_notification,
    send_once_rights_of_a_closed_space_send_one_send_once_notification_each,
    send_once_right_in_a_destroyed_message_sends_one_send_once_notification,
    send_once_right_in_a_message_too_large_sends_one_send_once_notification,
    send_once_right_failing_insert_right_sends_one_send_once_notification,
    send_once_right_used_by_a_message_sends_no_notification,
    send_once_right_to_a_dead_port_sends_nothing,
    send_once_notification_follows_the_receive_right,
    send_once_rights_of_a_killed_child_send_one_send_once_notification_each,
];

fn send_once_notification_has_xnus_layout(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let so = s.new_send_once(p)?;
    s.deallocate(TASK, so).succeeds()?;
    // Size 24, bits 0x1200, remote 0, local p, voucher 0, id 71.
    expect_send_once(&s, p)?;
    expect_no_message(&s, p)?;
    expect_status_field(&s, p, "sorights", |st| st.sorights, 0)
}

fn send_once_right_deallocated_sends_one_send_once_notification(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let (p, _) = far_send(&s, &far)?;
    let rights: Vec<PortName> = (0..5)
        .map(|_| far_send_once(&s, &far, p))
        .collect::<Result<_, _>>()?;
    for (i, &so) in rights.iter().enumerate() {
        s.deallocate(TASK, so).succeeds()?;
        s.expect_unused(so)?;
        expect_send_once(&far, p)?;
        expect_no_message(&far, p)?;
        expect_status_field(
            &far,
            p,
            "sorights",
            |st| st.sorights,
            (rights.len() - i - 1) as u32,
        )?;
    }
    Ok(())
}

fn send_once_right_destroyed_by_mod_refs_sends_one_send_once_notification(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let so = s.new_send_once(p)?;
    // delta 0 destroys nothing.
    s.mod_refs(TASK, so, SEND_ONCE, 0).succeeds()?;
    expect_no_message(&s, p)?;
    s.mod_refs(TASK, so, SEND_ONCE, -1).succeeds()?;
    expect_send_once(&s, p)?;
    expect_no_message(&s, p)
}

fn send_once_right_destroyed_by_destroy_sends_one_send_once_notification(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let so = s.new_send_once(p)?;
    s.destroy(TASK, so).succeeds()?;
    expect_send_once(&s, p)?;
    expect_no_message(&s, p)
}

fn send_once_rights_of_a_closed_space_send_one_send_once_notification_each(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    {
        let b = TestSpace::open_as("B")?;
        let tb = s.task_for(&b)?;
        s.insert_right(tb, N1, p, MAKE_SEND_ONCE).succeeds()?;
        s.insert_right(tb, N2, p, MAKE_SEND_ONCE).succeeds()?;
        s.insert_right(tb, N3, p, MAKE_SEND_ONCE).succeeds()?;
        expect_status_field(&s, p, "sorights", |st| st.sorights, 3)?;
    }
    for _ in 0..3 {
        expect_send_once(&s, p)?;
    }
    expect_no_message(&s, p)?;
    expect_status_field(&s, p, "sorights", |st| st.sorights, 0)
}

fn send_once_right_in_a_destroyed_message_sends_one_send_once_notification(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    // In a port descriptor (made and moved), and as the reply right (made
    // and moved), of a message queued on a port that dies.
    for (descriptor, disp) in [
        (true, MAKE_SEND_ONCE),
        (true, MOVE_SEND_ONCE),
        (false, MAKE_SEND_ONCE),
        (false, MOVE_SEND_ONCE),
    ] {
        let q = s.new_receive()?;
        let right = if disp == MOVE_SEND_ONCE {
            s.new_send_once(p)?
        } else {
            p
        };
        let m = if descriptor {
            Msg::new(q, MAKE_SEND_ONCE).port(right, disp)
        } else {
            Msg::new(q, MAKE_SEND_ONCE).reply(right, disp)
        };
        send(&s, &m)?;
        expect_no_message(&s, p)?;
        s.destroy(TASK, q).succeeds()?;
        expect_send_once(&s, p).map_err(|e| {
            format!(
                "{} {disp:?}: {e}",
                if descriptor { "descriptor" } else { "reply" }
            )
        })?;
        expect_no_message(&s, p)?;
    }
    // The destination right of a message to a send-once right, when the
    // port dies, is not a right to a live port: nothing.
    expect_status_field(&s, p, "sorights", |st| st.sorights, 0)
}

fn send_once_right_in_a_message_too_large_sends_one_send_once_notification(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let q = s.new_receive()?;
    send(
        &s,
        &Msg::new(q, MAKE_SEND_ONCE)
            .port(p, MAKE_SEND_ONCE)
            .data(&[0u8; 100]),
    )?;
    let (mr, _) = receive_raw(&s, q, 0, 64, 0)?;
    expect_eq(
        "receive into 64 bytes",
        mr_name(sys::MACH_RCV_TOO_LARGE),
        mr_name(mr),
    )?;
    expect_send_once(&s, p)?;
    expect_no_message(&s, p)?;
    // A message to p through a send-once right, destroyed the same way:
    // the right was used by the message, so no notification.
    send(&s, &Msg::new(p, MAKE_SEND_ONCE).data(&[0u8; 100]))?;
    let (mr, _) = receive_raw(&s, p, 0, 64, 0)?;
    expect_eq(
        "receive into 64 bytes",
        mr_name(sys::MACH_RCV_TOO_LARGE),
        mr_name(mr),
    )?;
    expect_no_message(&s, p)?;
    expect_status_field(&s, p, "sorights", |st| st.sorights, 0)
}

fn send_once_right_failing_insert_right_sends_one_send_once_notification(
    _: &mut Ctx,
) -> TestResult {
    let pair = Pair::new()?;
    let (a, b, tb) = (&pair.a, &pair.b, pair.tb);
    let p = a.new_receive()?;
    b.allocate_name(TASK, RECEIVE, N1).succeeds()?;
    // docs/calls.md: on a failure after copy-in the right is destroyed.
    let so = a.new_send_once(p)?;
    a.insert_right(tb, N1, so, MOVE_SEND_ONCE)
        .gives(KERN_NAME_EXISTS)?;
    a.expect_unused(so)?;
    expect_send_once(a, p)?;
    a.insert_right(tb, N1, p, MAKE_SEND_ONCE)
        .gives(KERN_NAME_EXISTS)?;
    expect_send_once(a, p)?;
    expect_no_message(a, p)
}

fn send_once_right_used_by_a_message_sends_no_notification(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let so = s.new_send_once(p)?;
    send(&s, &Msg::new(so, MOVE_SEND_ONCE).id(77))?;
    s.expect_unused(so)?;
    let m = receive(&s, p)?;
    expect_eq("id", 77, m.id())?;
    expect_no_message(&s, p)?;
    // Received as a reply right and used.
    let q = s.new_receive()?;
    send(&s, &Msg::new(q, MAKE_SEND_ONCE).reply(p, MAKE_SEND_ONCE))?;
    let m = receive(&s, q)?;
    let reply = m.remote();
    s.expect_send_once(reply)?;
    send(&s, &Msg::new(reply, MOVE_SEND_ONCE).id(78))?;
    expect_eq("id", 78, receive(&s, p)?.id())?;
    expect_no_message(&s, p)?;
    expect_status_field(&s, p, "sorights", |st| st.sorights, 0)
}

fn send_once_right_to_a_dead_port_sends_nothing(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let watch = TestSpace::open_as("watch")?;
    let baseline = leak_counts(&watch)?;
    let p = s.new_receive()?;
    let so = s.new_send_once(p)?;
    s.destroy(TASK, p).succeeds()?;
    s.expect_dead(so, 1)?;
    s.deallocate(TASK, so).succeeds()?;
    s.expect_unused(so)?;
    let stats = s.stats()?;
    expect_eq("queued messages", baseline[4], stats.messages)?;
    expect_baseline(&watch, baseline, "send-once rights to a dead port")
}

fn send_once_notification_follows_the_receive_right(_: &mut Ctx) -> TestResult {
    let pair = Pair::new()?;
    let (a, b, tb) = (&pair.a, &pair.b, pair.tb);
    let p = a.new_receive()?;
    let so = a.new_send_once(p)?;
    // The receive right moves to B; the send-once right stays in A.
    a.insert_right(tb, N1, p, MOVE_RECEIVE).succeeds()?;
    a.deallocate(TASK, so).succeeds()?;
    // B's name for the port is the local port.
    expect_send_once(b, N1)?;
    expect_no_message(b, N1)
}

/// Waits for "exit" (or the parent going away), keeping the child's space
/// open until then.
fn until_exit(peer: &mut Peer) -> TestResult {
    let _ = peer.recv();
    Ok(())
}

fn send_once_rights_of_a_killed_child_send_one_send_once_notification_each(
    _: &mut Ctx,
) -> TestResult {
    let x = TestSpace::open_as("X (the child's space)")?;
    let mut child = proc::spawn(&[], |peer| {
        peer.send("ready")?;
        until_exit(peer)
    })?;
    let a = TestSpace::open_as("A (the parent's space)")?;
    let tx = a.task_for(&x)?;
    drop(x);
    child.peer.expect("ready")?;
    let p = a.new_receive()?;
    a.insert_right(tx, N1, p, MAKE_SEND_ONCE).succeeds()?;
    a.insert_right(tx, N2, p, MAKE_SEND_ONCE).succeeds()?;
    child.kill()?;
    expect_send_once(&a, p)?;
    expect_send_once(&a, p)?;
    expect_no_message(&a, p)?;
    expect_status_field(&a, p, "sorights", |st| st.sorights, 0)
}
