//! Port-destroyed notifications (seed 002, MACH_NOTIFY_PORT_DESTROYED;
//! docs/notifications.md "PORT_DESTROYED"): instead of being destroyed, a
//! receive right travels to the registered send-once right, and the port
//! lives on with its messages and its rights, whichever way the receive
//! right would have been destroyed.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use mach::{sys, KernReturn, PortName, PortType};

use crate::check::*;
use crate::notify::*;
use crate::proc::{self, Peer};
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    port_destroyed_notification_has_xnus_layout,
    port_destroyed_on_destroy_keeps_the_port_its_messages_and_its_rights,
    port_destroyed_on_mod_refs_receive_minus_one,
    port_destroyed_when_the_space_holding_the_receive_right_closes,
    port_destroyed_when_a_destroyed_message_carries_the_receive_right,
    port_destroyed_when_insert_right_move_receive_fails,
    port_destroyed_request_is_used_up_by_its_notification,
    port_destroyed_restarts_make_send_count_and_sequence_number_and_leaves_the_set,
    port_destroyed_wakes_a_blocked_receiver_with_port_changed,
    port_destroyed_keeps_the_other_requests_on_the_port,
    port_destroyed_receive_right_merges_with_the_receivers_send_right,
    port_destroyed_to_a_dead_notify_port_destroys_the_port,
    port_destroyed_to_the_port_itself_destroys_the_port,
    port_destroyed_into_a_port_whose_receive_right_travels_inside_destroys_the_port,
    port_destroyed_when_the_child_holding_the_receive_right_is_killed,
    ports_whose_requests_point_at_each_other_are_destroyed_without_leaks,
    closing_a_space_whose_ports_have_requests_to_each_other_leaks_nothing,
    port_destroyed_request_swaps_racing_with_the_destruction_stay_atomic @ 900,
];

/// A port `p` with `k` queued messages (ids 1..=k, 16 bytes each) and a
/// port-destroyed request to `n`.
fn watched(s: &TestSpace, n: PortName, k: i32) -> Result<PortName, String> {
    let p = s.new_receive()?;
    for id in 1..=k {
        send(s, &Msg::new(p, MAKE_SEND_ONCE).id(id).data(&[id as u8; 16]))?;
    }
    request_port_destroyed(s, p, n)?;
    Ok(p)
}

/// The messages ids 1..=k are on `port`, in order, with sequence numbers
/// from `seqno`.
fn expect_messages(s: &TestSpace, port: PortName, k: i32, seqno: u32) -> TestResult {
    for id in 1..=k {
        let m = receive(s, port)?;
        expect_eq("id of a preserved message", id, m.id())?;
        expect_eq("body of a preserved message", &[id as u8; 16][..], m.body())?;
        expect_eq(
            "seqno of a preserved message",
            seqno + (id - 1) as u32,
            m.seqno(),
        )?;
    }
    expect_no_message(s, port)
}

fn port_destroyed_notification_has_xnus_layout(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let n = s.new_receive()?;
    let p = watched(&s, n, 0)?;
    s.destroy(TASK, p).succeeds()?;
    // Size 40, bits 0x80001200, remote 0, local n, id 69, one port
    // descriptor: the receive right's new name, disposition 16, type 0.
    let got = expect_port_destroyed(&s, n)?;
    s.expect_receive(got)?;
    expect_no_message(&s, n)
}

fn port_destroyed_on_destroy_keeps_the_port_its_messages_and_its_rights(_: &mut Ctx) -> TestResult {
    // Seed 002: "If the receive right is destroyed via mach_port_destroy,
    // then instead the receive right will be sent in a port-destroyed
    // notification to the registered send-once right."
    let s = TestSpace::open()?;
    let other = TestSpace::open_as("other (holds send rights)")?;
    let to = s.task_for(&other)?;
    let n = s.new_receive()?;
    let p = watched(&s, n, 3)?;
    s.insert_right(to, N1, p, MAKE_SEND).succeeds()?;
    s.insert_right(to, N1, p, MAKE_SEND).succeeds()?;
    s.insert_right(to, N2, p, MAKE_SEND_ONCE).succeeds()?;
    let before = leak_counts(&s)?;
    s.destroy(TASK, p).succeeds()?;
    s.expect_unused(p)?;
    let got = expect_port_destroyed(&s, n)?;
    s.expect_receive(got)?;
    // The other space's rights still name a live port.
    other.expect_send(N1, 2)?;
    other.expect_send_once(N2)?;
    let st = s.status(got).succeeds()?;
    expect_eq("msgcount", 3, st.msgcount)?;
    expect_eq("srights", 1, st.srights)?;
    // The other space's and the three queued messages' destinations.
    expect_eq("sorights", 4, st.sorights)?;
    // Nothing was freed or added but the names that changed.
    expect_eq("live ports", before[1], leak_counts(&s)?[1])?;
    expect_messages(&s, got, 3, 0)?;
    // And it still takes messages.
    send(&other, &Msg::new(N1, COPY_SEND).id(10))?;
    send(&other, &Msg::new(N2, MOVE_SEND_ONCE).id(11))?;
    expect_eq("id", 10, receive(&s, got)?.id())?;
    expect_eq("id", 11, receive(&s, got)?.id())?;
    expect_no_message(&s, n)
}

fn port_destroyed_on_mod_refs_receive_minus_one(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let n = s.new_receive()?;
    let p = watched(&s, n, 2)?;
    s.mod_refs(TASK, p, RECEIVE, -1).succeeds()?;
    let got = expect_port_destroyed(&s, n)?;
    expect_messages(&s, got, 2, 0)?;
    // A SEND|RECEIVE name: the send right stays under the old name and
    // still names the live port.
    let p = watched(&s, n, 1)?;
    s.insert_right(TASK, p, p, MAKE_SEND).succeeds()?;
    s.mod_refs(TASK, p, RECEIVE, -1).succeeds()?;
    let got = expect_port_destroyed(&s, n)?;
    // The receive right arrives in the space that holds the send right:
    // they merge under the old name.
    expect_eq("the receive right's name", p, got)?;
    s.expect_send_receive(p, 1)?;
    expect_messages(&s, got, 1, 0)?;
    expect_no_message(&s, n)
}

fn port_destroyed_when_the_space_holding_the_receive_right_closes(_: &mut Ctx) -> TestResult {
    let a = TestSpace::open_as("A")?;
    let n = a.new_receive()?;
    let b = TestSpace::open_as("B")?;
    let tb = a.task_for(&b)?;
    let p = b.new_receive()?;
    for id in 1..=2 {
        send(
            &b,
            &Msg::new(p, MAKE_SEND_ONCE).id(id).data(&[id as u8; 16]),
        )?;
    }
    let a_send = a.extract_right(tb, p, MAKE_SEND).succeeds()?.name;
    a.request(tb, p, PORT_DESTROYED_ID, 0, n, MAKE_SEND_ONCE)
        .returns(NULL)?;
    drop(b);
    let got = expect_port_destroyed(&a, n)?;
    // It merges with A's send right.
    expect_eq("the receive right's name in A", a_send, got)?;
    a.expect_send_receive(got, 1)?;
    expect_messages(&a, got, 2, 0)?;
    expect_no_message(&a, n)
}

fn port_destroyed_when_a_destroyed_message_carries_the_receive_right(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let n = s.new_receive()?;
    let p = watched(&s, n, 2)?;
    let q = s.new_receive()?;
    send(&s, &Msg::new(q, MAKE_SEND_ONCE).port(p, MOVE_RECEIVE))?;
    s.expect_unused(p)?;
    s.destroy(TASK, q).succeeds()?;
    let got = expect_port_destroyed(&s, n)?;
    expect_messages(&s, got, 2, 0)?;
    // Destroyed because too large for the receiver (no MACH_RCV_LARGE).
    request_port_destroyed(&s, got, n)?;
    let q = s.new_receive()?;
    send(
        &s,
        &Msg::new(q, MAKE_SEND_ONCE)
            .port(got, MOVE_RECEIVE)
            .data(&[0u8; 100]),
    )?;
    let (mr, _) = receive_raw(&s, q, 0, 64, 0)?;
    expect_eq(
        "receive into 64 bytes",
        mr_name(sys::MACH_RCV_TOO_LARGE),
        mr_name(mr),
    )?;
    let again = expect_port_destroyed(&s, n)?;
    s.expect_receive(again)?;
    expect_no_message(&s, n)
}

fn port_destroyed_when_insert_right_move_receive_fails(_: &mut Ctx) -> TestResult {
    let pair = Pair::new()?;
    let (a, b, tb) = (&pair.a, &pair.b, pair.tb);
    let n = a.new_receive()?;
    let p = watched(a, n, 1)?;
    b.allocate_name(TASK, RECEIVE, N1).succeeds()?;
    // N1 is in use in B: the receive right, taken from A, cannot be put
    // there; instead of being destroyed it travels to n.
    a.insert_right(tb, N1, p, MOVE_RECEIVE)
        .gives(KERN_NAME_EXISTS)?;
    a.expect_unused(p)?;
    let got = expect_port_destroyed(a, n)?;
    expect_messages(a, got, 1, 0)?;
    b.expect_receive(N1)?;
    expect_no_message(a, n)
}

fn port_destroyed_request_is_used_up_by_its_notification(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let n = s.new_receive()?;
    let p = watched(&s, n, 0)?;
    let watcher = TestSpace::open_as("watcher")?;
    let (_, w_send) = {
        let tw = watcher.task_for(&s)?;
        (tw, watcher.extract_right(tw, p, MAKE_SEND).succeeds()?.name)
    };
    s.destroy(TASK, p).succeeds()?;
    let got = expect_port_destroyed(&s, n)?;
    expect_status_field(&s, got, "pdrequest", |st| st.pdrequest, 0)?;
    watcher.expect_send(w_send, 1)?;
    // Destroyed again: for real this time.
    s.destroy(TASK, got).succeeds()?;
    expect_no_message(&s, n)?;
    watcher.expect_dead(w_send, 1)?;
    // A new request is possible on a port that came back, and the swap
    // finds none registered.
    let p = watched(&s, n, 0)?;
    s.destroy(TASK, p).succeeds()?;
    let got = expect_port_destroyed(&s, n)?;
    request_port_destroyed(&s, got, n)?;
    s.destroy(TASK, got).succeeds()?;
    let again = expect_port_destroyed(&s, n)?;
    s.expect_receive(again)?;
    expect_no_message(&s, n)
}

fn port_destroyed_restarts_make_send_count_and_sequence_number_and_leaves_the_set(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let n = s.new_receive()?;
    let set = s.new_port_set()?;
    let p = watched(&s, n, 3)?;
    s.move_member(TASK, p, set).succeeds()?;
    let far = TestSpace::open_as("far")?;
    let tf = s.task_for(&far)?;
    s.insert_right(tf, N1, p, MAKE_SEND).succeeds()?;
    s.insert_right(tf, N1, p, MAKE_SEND).succeeds()?;
    // One message received: seqno 1.
    let m = receive(&s, set)?;
    expect_eq("first message", 1, m.id())?;
    let st = s.status(p).succeeds()?;
    expect_eq("seqno before", 1, st.seqno)?;
    expect_eq("mscount before", 2, st.mscount)?;
    expect_eq("pset before", set.0, st.pset)?;
    s.destroy(TASK, p).succeeds()?;
    s.set_status(TASK, set).returns(vec![])?;
    expect_no_message(&s, set)?;
    let got = expect_port_destroyed(&s, n)?;
    let st = s.status(got).succeeds()?;
    expect_eq("seqno after the notification", 0, st.seqno)?;
    expect_eq("mscount after the notification", 0, st.mscount)?;
    expect_eq("pset after the notification", 0, st.pset)?;
    expect_eq("srights after the notification", 1, st.srights)?;
    // The remaining messages, numbered from 0 again.
    for (id, seqno) in [(2, 0), (3, 1)] {
        let m = receive(&s, got)?;
        expect_eq("id", id, m.id())?;
        expect_eq("seqno", seqno, m.seqno())?;
    }
    Ok(())
}

fn port_destroyed_wakes_a_blocked_receiver_with_port_changed(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let n = s.new_receive()?;
    let p = watched(&s, n, 0)?;
    let got = receive_while(&s, p, || s.destroy(TASK, p).succeeds())?;
    match got {
        Err(mr) if mr == sys::MACH_RCV_PORT_CHANGED => {}
        Err(mr) => {
            return Err(format!(
            "receive blocked on a port whose receive right went in a port-destroyed notification: \
                 expected MACH_RCV_PORT_CHANGED, got {}",
            mr_name(mr)
        ))
        }
        Ok(m) => return Err(format!("the blocked receive got a message, id {}", m.id())),
    }
    let moved = expect_port_destroyed(&s, n)?;
    // The port, under its new name, works.
    send(&s, &Msg::new(moved, MAKE_SEND_ONCE).id(5))?;
    expect_eq("id", 5, receive(&s, moved)?.id())?;
    expect_no_message(&s, n)
}

fn port_destroyed_keeps_the_other_requests_on_the_port(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let watcher = TestSpace::open_as("watcher")?;
    let n = s.new_receive()?;
    let wn = watcher.new_receive()?;
    let p = watched(&s, n, 0)?;
    // The watcher holds a send right with a dead-name request; s has a
    // no-senders request.
    let w_send = {
        let tw = watcher.task_for(&s)?;
        watcher.extract_right(tw, p, MAKE_SEND).succeeds()?.name
    };
    request_dead_name(&watcher, w_send, wn)?;
    request_no_senders(&s, p, 0, n)?;
    s.destroy(TASK, p).succeeds()?;
    let got = expect_port_destroyed(&s, n)?;
    // Nothing else fired: the port lives.
    expect_no_message(&s, n)?;
    expect_no_message(&watcher, wn)?;
    watcher
        .port_type(TASK, w_send)
        .returns(PortType(PortType::SEND.0 | sys::MACH_PORT_TYPE_DNREQUEST))?;
    expect_status_field(&s, got, "nsrequest", |st| st.nsrequest, 1)?;
    // The no-senders request fires with the count since the move (0).
    watcher.deallocate(TASK, w_send).succeeds()?;
    expect_port_deleted(&watcher, wn, w_send)?;
    expect_no_senders(&s, n, 0)?;
    expect_no_message(&s, n)
}

fn port_destroyed_receive_right_merges_with_the_receivers_send_right(_: &mut Ctx) -> TestResult {
    let pair = Pair::new()?;
    let (a, b, tb) = (&pair.a, &pair.b, pair.tb);
    let n = a.new_receive()?;
    let p = b.new_receive()?;
    let a_send = a.extract_right(tb, p, MAKE_SEND).succeeds()?.name;
    a.mod_refs(TASK, a_send, SEND, 2).succeeds()?;
    a.request(tb, p, PORT_DESTROYED_ID, 0, n, MAKE_SEND_ONCE)
        .returns(NULL)?;
    b.destroy(TASK, p).succeeds()?;
    let got = expect_port_destroyed(a, n)?;
    expect_eq("name of the receive right", a_send, got)?;
    a.expect_send_receive(a_send, 3)?;
    expect_no_message(a, n)
}

fn port_destroyed_to_a_dead_notify_port_destroys_the_port(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let other = TestSpace::open_as("other")?;
    let to = s.task_for(&other)?;
    let baseline = leak_counts(&s)?;
    let n = s.new_receive()?;
    let p = watched(&s, n, 2)?;
    s.insert_right(to, N1, p, MAKE_SEND).succeeds()?;
    s.destroy(TASK, n).succeeds()?;
    s.destroy(TASK, p).succeeds()?;
    // Destroyed for real: the send right is a dead name, the messages are
    // gone.
    other.expect_dead(N1, 1)?;
    other.destroy(TASK, N1).succeeds()?;
    expect_baseline(&s, baseline, "a port-destroyed notification to a dead port")
}

fn port_destroyed_to_the_port_itself_destroys_the_port(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let other = TestSpace::open_as("other")?;
    let to = s.task_for(&other)?;
    let baseline = leak_counts(&s)?;
    let p = s.new_receive()?;
    send(&s, &Msg::new(p, MAKE_SEND_ONCE).id(1).data(&[1u8; 32]))?;
    s.insert_right(to, N1, p, MAKE_SEND).succeeds()?;
    // The notification would carry p's receive right to p itself.
    request_port_destroyed(&s, p, p)?;
    s.destroy(TASK, p).succeeds()?;
    other.expect_dead(N1, 1)?;
    other.destroy(TASK, N1).succeeds()?;
    expect_baseline(
        &s,
        baseline,
        "a port-destroyed notification to the port itself",
    )
}

fn port_destroyed_into_a_port_whose_receive_right_travels_inside_destroys_the_port(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let other = TestSpace::open_as("other")?;
    let to = s.task_for(&other)?;
    let baseline = leak_counts(&s)?;
    let p = s.new_receive()?;
    let q = s.new_receive()?;
    s.insert_right(to, N1, p, MAKE_SEND).succeeds()?;
    s.insert_right(to, N2, q, MAKE_SEND).succeeds()?;
    // p's port-destroyed request goes to q; q's receive right is in a
    // message queued on p.
    request_port_destroyed(&s, p, q)?;
    send(&s, &Msg::new(p, MAKE_SEND_ONCE).port(q, MOVE_RECEIVE))?;
    s.destroy(TASK, p).succeeds()?;
    // Both are gone: the notification would have made p's receive right
    // unreachable.
    other.expect_dead(N1, 1)?;
    other.expect_dead(N2, 1)?;
    other.destroy(TASK, N1).succeeds()?;
    other.destroy(TASK, N2).succeeds()?;
    expect_baseline(&s, baseline, "a circular port-destroyed notification")
}

/// Waits for "exit" (or the parent going away), keeping the child's space
/// open until then.
fn until_exit(peer: &mut Peer) -> TestResult {
    let _ = peer.recv();
    Ok(())
}

fn port_destroyed_when_the_child_holding_the_receive_right_is_killed(_: &mut Ctx) -> TestResult {
    let x = TestSpace::open_as("X (the child's space)")?;
    let mut child = proc::spawn(&[], |peer| {
        let port = x.new_receive()?;
        for id in 1..=3 {
            send(
                &x,
                &Msg::new(port, MAKE_SEND_ONCE).id(id).data(&[id as u8; 16]),
            )?;
        }
        peer.send_name("port", port)?;
        until_exit(peer)
    })?;
    let a = TestSpace::open_as("A (the parent's space)")?;
    let tx = a.task_for(&x)?;
    drop(x);
    let port = child.peer.recv_name("port")?;
    let n = a.new_receive()?;
    a.request(tx, port, PORT_DESTROYED_ID, 0, n, MAKE_SEND_ONCE)
        .returns(NULL)?;
    child.kill()?;
    let got = expect_port_destroyed(&a, n)?;
    a.expect_receive(got)?;
    expect_messages(&a, got, 3, 0)?;
    expect_no_message(&a, n)
}

fn port_destroyed_request_swaps_racing_with_the_destruction_stay_atomic(
    ctx: &mut Ctx,
) -> TestResult {
    // Seed 002: the request "is an atomic swap, returning the previously
    // registered send-once right". One thread swaps port-destroyed
    // requests without pause while the receive right is destroyed at a
    // random moment: every swap that succeeds returns the right registered
    // before it, exactly one port-destroyed notification comes (to the
    // request registered last), and the port, in its new holder, has no
    // request left.
    const NOTIFY: usize = 4;
    const ROUNDS: usize = 100;
    let mut rng = Rng::from_time();
    ctx.diag(format!("seed {:#x}", rng.0));
    let h = TestSpace::open_as("H")?;
    let notify: Vec<PortName> = (0..NOTIFY)
        .map(|_| h.new_receive())
        .collect::<Result<_, _>>()?;
    let mut total = 0;
    for round in 0..ROUNDS {
        let p = h.new_receive()?;
        h.request(TASK, p, PORT_DESTROYED_ID, 0, notify[0], MAKE_SEND_ONCE)
            .returns(NULL)?;
        let swaps = AtomicUsize::new(0);
        let destroyed = AtomicBool::new(false);
        let wait_for = rng.below(150) as usize;
        let spin = rng.below(20_000);
        let (last_set, problems) = std::thread::scope(
            |scope| -> Result<(usize, Vec<String>), String> {
                let swapper = scope.spawn(|| -> Result<(usize, Vec<String>), String> {
                let mut current = 0usize;
                let mut returned = Vec::new();
                let mut problems = Vec::new();
                for i in 1.. {
                    let next = i % NOTIFY;
                    let mut a = sys::RequestNotificationArgs {
                        task: TASK.0,
                        name: p.0,
                        variant: PORT_DESTROYED_ID,
                        sync: 0,
                        notify: notify[next].0,
                        notify_type: MAKE_SEND_ONCE.0,
                        previous: 0x5a5a_5a5a,
                        kr: 0,
                    };
                    // SAFETY: MACH_IOC_PORT_REQUEST_NOTIFICATION takes a
                    // RequestNotificationArgs.
                    unsafe {
                        mach::ioctl_raw(
                            std::os::fd::AsFd::as_fd(&h),
                            sys::MACH_IOC_PORT_REQUEST_NOTIFICATION,
                            &mut a,
                        )
                    }
                    .map_err(|e| format!("request_notification: {e}"))?;
                    if a.kr != sys::KERN_SUCCESS {
                        if a.kr != sys::KERN_INVALID_NAME || !destroyed.load(Ordering::SeqCst) {
                            problems.push(format!("swap {i} gave {}", KernReturn(a.kr)));
                        }
                        break;
                    }
                    if !PortName(a.previous).is_valid() {
                        problems.push(format!(
                            "swap {i} returned previous {:#x}: the request registered before it was gone",
                            a.previous
                        ));
                    } else {
                        returned.push(PortName(a.previous));
                    }
                    current = next;
                    swaps.fetch_add(1, Ordering::SeqCst);
                    if problems.len() > 5 {
                        break;
                    }
                }
                // The previous rights: back to their ports with send-once
                // notifications.
                for name in returned {
                    h.deallocate(TASK, name).succeeds()?;
                }
                Ok((current, problems))
            });
                let destroyer = scope.spawn(|| -> TestResult {
                    while swaps.load(Ordering::SeqCst) < wait_for {
                        std::hint::spin_loop();
                    }
                    let mut x = 0u64;
                    for i in 0..spin {
                        x = x.wrapping_add(i);
                        std::hint::black_box(x);
                    }
                    destroyed.store(true, Ordering::SeqCst);
                    h.destroy(TASK, p).succeeds()
                });
                let d = destroyer
                    .join()
                    .map_err(|_| "the destroyer panicked".to_string());
                let e = swapper
                    .join()
                    .map_err(|_| "the swapper panicked".to_string())?;
                d??;
                e
            },
        )?;
        total += swaps.load(Ordering::SeqCst);
        ensure(problems.is_empty(), || {
            format!("round {round}: {}", problems.join("; "))
        })?;
        // Exactly one port-destroyed notification, to the last request.
        let mut moved = None;
        for (i, &n) in notify.iter().enumerate() {
            loop {
                match try_receive(&h, n, 0)? {
                    Err(mr) if mr == sys::MACH_RCV_TIMED_OUT => break,
                    Err(mr) => return Err(format!("receive on notify port {i}: {}", mr_name(mr))),
                    Ok(m) if m.id() == SEND_ONCE_ID => {}
                    Ok(m) => {
                        ensure(
                            m.id() == PORT_DESTROYED_ID && moved.is_none() && i == last_set,
                            || {
                                format!(
                                "round {round}: notify port {i} (last registered: {last_set}) got {}{}",
                                m.describe(),
                                if moved.is_some() { ", a second port-destroyed notification" } else { "" }
                            )
                            },
                        )?;
                        moved = Some(m.port_descriptor(0).0);
                    }
                }
            }
        }
        let moved =
            moved.ok_or_else(|| format!("round {round}: no port-destroyed notification"))?;
        h.expect_receive(moved)?;
        expect_status_field(&h, moved, "pdrequest", |st| st.pdrequest, 0)?;
        h.destroy(TASK, moved).succeeds()?;
        for (i, &n) in notify.iter().enumerate() {
            match try_receive(&h, n, 0)? {
                Err(mr) if mr == sys::MACH_RCV_TIMED_OUT => {}
                Err(mr) => return Err(format!("receive on notify port {i}: {}", mr_name(mr))),
                Ok(m) => {
                    return Err(format!(
                        "round {round}: after the moved port was destroyed, notify port {i} got {}",
                        m.describe()
                    ))
                }
            }
        }
    }
    ctx.diag(format!("{ROUNDS} rounds, {total} swaps"));
    Ok(())
}

fn ports_whose_requests_point_at_each_other_are_destroyed_without_leaks(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let other = TestSpace::open_as("other")?;
    let to = s.task_for(&other)?;
    let baseline = leak_counts(&s)?;
    let p = s.new_receive()?;
    let q = s.new_receive()?;
    s.insert_right(to, N1, p, MAKE_SEND).succeeds()?;
    s.insert_right(to, N2, q, MAKE_SEND).succeeds()?;
    send(&s, &Msg::new(p, MAKE_SEND_ONCE).data(&[1u8; 40]))?;
    send(&s, &Msg::new(q, MAKE_SEND_ONCE).data(&[2u8; 40]))?;
    request_port_destroyed(&s, p, q)?;
    request_port_destroyed(&s, q, p)?;
    // p's receive right goes to q's queue; p lives.
    s.destroy(TASK, p).succeeds()?;
    other.expect_send(N1, 1)?;
    expect_status_field(&s, q, "msgcount", |st| st.msgcount, 2)?;
    // q's would go to p, whose receive right is in q's queue: circular,
    // so q is destroyed, and p with its queue.
    s.destroy(TASK, q).succeeds()?;
    other.expect_dead(N1, 1)?;
    other.expect_dead(N2, 1)?;
    other.destroy(TASK, N1).succeeds()?;
    other.destroy(TASK, N2).succeeds()?;
    expect_baseline(&s, baseline, "ports whose requests point at each other")
}

fn closing_a_space_whose_ports_have_requests_to_each_other_leaks_nothing(
    _: &mut Ctx,
) -> TestResult {
    let watch = TestSpace::open_as("watch")?;
    let baseline = leak_counts(&watch)?;
    {
        let s = TestSpace::open()?;
        let far = TestSpace::open_as("far")?;
        let ports: Vec<PortName> = (0..6).map(|_| s.new_receive()).collect::<Result<_, _>>()?;
        for (i, &p) in ports.iter().enumerate() {
            send(&s, &Msg::new(p, MAKE_SEND_ONCE).data(&[i as u8; 24]))?;
            // A ring of port-destroyed requests, one to itself.
            let to = if i == 5 { p } else { ports[(i + 1) % 5] };
            request_port_destroyed(&s, p, to)?;
            request_no_senders(&s, p, 100, ports[(i + 2) % 6])?;
        }
        // Dead-name requests on rights to far's ports, to s's ports.
        for i in 0..3 {
            let (_, send_right) = far_send(&s, &far)?;
            request_dead_name(&s, send_right, ports[i])?;
        }
        // A receive right travelling in a message, with its request.
        let carried = s.new_receive()?;
        request_port_destroyed(&s, carried, ports[0])?;
        send(
            &s,
            &Msg::new(ports[1], MAKE_SEND_ONCE).port(carried, MOVE_RECEIVE),
        )?;
        drop(far);
    }
    expect_baseline(
        &watch,
        baseline,
        "closing spaces whose ports have requests to each other",
    )
}
