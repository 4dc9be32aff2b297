//! port_set_backup (seed 000; docs/notifications.md "port_set_backup"):
//! a backup port takes the primary's receive right, in a port-destroyed
//! notification, when the primary would be destroyed.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use mach::{sys, KernReturn, PortName};

use crate::check::*;
use crate::notify::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    newly_allocated_port_has_no_backup,
    port_set_backup_changes_the_backup_and_returns_the_previous_one_as_a_send_right,
    port_set_backup_leaves_the_callers_send_right_to_the_backup_in_place,
    port_set_backup_gives_the_previous_backup_a_new_name_when_the_caller_has_none,
    port_set_backup_with_null_clears_the_backup,
    backup_receives_the_receive_right_in_a_port_destroyed_notification,
    backup_takes_the_receive_right_however_it_would_be_destroyed,
    primary_is_left_without_a_backup_after_the_notification,
    backup_can_be_reestablished_after_the_notification,
    primary_is_left_without_a_backup_when_the_backup_dies_first,
    port_set_backup_with_an_invalid_task_gives_kern_invalid_argument,
    port_set_backup_with_an_invalid_primary_name_gives_kern_invalid_argument,
    port_set_backup_of_a_right_that_is_not_a_receive_right_gives_kern_not_receiver,
    port_set_backup_with_an_invalid_backup_gives_kern_invalid_argument,
    port_set_backup_return_codes_come_in_the_documented_order,
    port_set_backup_errors_change_nothing,
    port_set_backup_with_reserved_bits_is_einval,
    port_set_backup_through_the_task_port_of_another_space,
    port_set_backup_uses_up_a_port_destroyed_request_with_a_send_once_notification,
    port_destroyed_request_replaces_a_backup_and_releases_its_send_right,
    receive_status_shows_a_backup_as_a_port_destroyed_request,
    backup_that_is_the_primary_itself_destroys_the_port,
    ports_backing_each_other_up_are_destroyed_without_leaks,
    backup_exchange_under_load_never_leaves_the_primary_without_a_backup @ 900,
];

/// Space `w` holds the receive rights of backup ports; the caller `s`
/// holds send rights to them. Gives (w's names, s's names).
fn backups(
    s: &TestSpace,
    w: &TestSpace,
    k: usize,
) -> Result<(Vec<PortName>, Vec<PortName>), String> {
    let mut ws = Vec::new();
    let mut ss = Vec::new();
    for _ in 0..k {
        let (b, send) = far_send(s, w)?;
        ws.push(b);
        ss.push(send);
    }
    Ok((ws, ss))
}

/// A primary with `k` queued messages (ids 1..=k, 8 bytes each).
fn primary(s: &TestSpace, k: i32) -> Result<PortName, String> {
    let p = s.new_receive()?;
    for id in 1..=k {
        send(s, &Msg::new(p, MAKE_SEND_ONCE).id(id).data(&[id as u8; 8]))?;
    }
    Ok(p)
}

fn expect_messages(s: &TestSpace, port: PortName, k: i32) -> TestResult {
    for id in 1..=k {
        let m = receive(s, port)?;
        expect_eq("id of a preserved message", id, m.id())?;
        expect_eq("body of a preserved message", &[id as u8; 8][..], m.body())?;
    }
    expect_no_message(s, port)
}

fn newly_allocated_port_has_no_backup(_: &mut Ctx) -> TestResult {
    // Seed 000: "A newly allocated port does not have a backup port."
    let s = TestSpace::open()?;
    let w = TestSpace::open_as("W")?;
    let p = s.new_receive()?;
    expect_status_field(&s, p, "pdrequest", |st| st.pdrequest, 0)?;
    let (_, hb) = backups(&s, &w, 1)?;
    s.set_backup(TASK, p, hb[0]).returns(NULL)?;
    // Nor does a port made by mach_reply_port, or one that arrives in a
    // message.
    let r = s.reply_port().succeeds()?;
    s.set_backup(TASK, r, NULL).returns(NULL)?;
    let q = s.new_receive()?;
    let carried = s.new_receive()?;
    send(&s, &Msg::new(q, MAKE_SEND_ONCE).port(carried, MOVE_RECEIVE))?;
    let (got, _, _) = receive(&s, q)?.port_descriptor(0);
    s.set_backup(TASK, got, NULL).returns(NULL)
}

fn port_set_backup_changes_the_backup_and_returns_the_previous_one_as_a_send_right(
    _: &mut Ctx,
) -> TestResult {
    // Seed 000: "The caller receives send rights for the previous backup
    // port or PORT_NULL if the target did not have a backup."
    let s = TestSpace::open()?;
    let w = TestSpace::open_as("W")?;
    let (wb, hb) = backups(&s, &w, 3)?;
    let p = s.new_receive()?;
    s.set_backup(TASK, p, hb[0]).returns(NULL)?;
    // The previous backup's send right comes into the caller's space,
    // under the name it already has for it: one more reference.
    s.set_backup(TASK, p, hb[1]).returns(hb[0])?;
    s.expect_send(hb[0], 2)?;
    s.set_backup(TASK, p, hb[2]).returns(hb[1])?;
    s.expect_send(hb[1], 2)?;
    // The backup is the last one set.
    s.destroy(TASK, p).succeeds()?;
    let got = expect_port_destroyed_as(&w, wb[2], true)?;
    w.expect_receive(got)?;
    expect_no_message(&w, wb[0])?;
    expect_no_message(&w, wb[1])
}

fn port_set_backup_leaves_the_callers_send_right_to_the_backup_in_place(_: &mut Ctx) -> TestResult {
    // docs: the backup's send right is copied; the caller keeps its
    // reference.
    let s = TestSpace::open()?;
    let w = TestSpace::open_as("W")?;
    let (wb, hb) = backups(&s, &w, 1)?;
    s.mod_refs(TASK, hb[0], SEND, 2).succeeds()?;
    let p = s.new_receive()?;
    let before = s.state()?;
    s.set_backup(TASK, p, hb[0]).returns(NULL)?;
    s.expect_state(&before, "port_set_backup")?;
    s.expect_send(hb[0], 3)?;
    // The backup holds a send right of its own: the caller's going away
    // leaves the backup in place.
    s.destroy(TASK, hb[0]).succeeds()?;
    expect_status_field(&w, wb[0], "srights", |st| st.srights, 1)?;
    s.destroy(TASK, p).succeeds()?;
    expect_port_destroyed_as(&w, wb[0], true)?;
    Ok(())
}

fn port_set_backup_gives_the_previous_backup_a_new_name_when_the_caller_has_none(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let w = TestSpace::open_as("W")?;
    let (wb, hb) = backups(&s, &w, 2)?;
    let p = s.new_receive()?;
    s.set_backup(TASK, p, hb[0]).returns(NULL)?;
    s.deallocate(TASK, hb[0]).succeeds()?;
    s.expect_unused(hb[0]).ok();
    let prev = s.set_backup(TASK, p, hb[1]).succeeds()?;
    ensure(prev.is_valid(), || format!("previous backup: {prev:?}"))?;
    s.expect_send(prev, 1)?;
    // It is a send right to the first backup.
    send(&s, &Msg::new(prev, MOVE_SEND).id(7))?;
    expect_eq(
        "id through the previous backup",
        7,
        receive(&w, wb[0])?.id(),
    )?;
    Ok(())
}

fn port_set_backup_with_null_clears_the_backup(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let w = TestSpace::open_as("W")?;
    let other = TestSpace::open_as("other")?;
    let (wb, hb) = backups(&s, &w, 1)?;
    let p = s.new_receive()?;
    let to = s.task_for(&other)?;
    s.insert_right(to, N1, p, MAKE_SEND).succeeds()?;
    s.set_backup(TASK, p, hb[0]).returns(NULL)?;
    s.set_backup(TASK, p, NULL).returns(hb[0])?;
    s.expect_send(hb[0], 2)?;
    expect_status_field(&s, p, "pdrequest", |st| st.pdrequest, 0)?;
    s.set_backup(TASK, p, NULL).returns(NULL)?;
    // Destroyed for real.
    s.destroy(TASK, p).succeeds()?;
    other.expect_dead(N1, 1)?;
    expect_no_message(&w, wb[0])
}

fn backup_receives_the_receive_right_in_a_port_destroyed_notification(_: &mut Ctx) -> TestResult {
    // Seed 000: "...if a primary port has a backup port, and the primary
    // would have been destroyed by the deallocation of its receive rights,
    // then instead the receive right for the primary port is sent in a
    // notify message (NOTIFY_PORT_DESTROYED) to the backup port."
    let s = TestSpace::open()?;
    let w = TestSpace::open_as("W")?;
    let other = TestSpace::open_as("other")?;
    let to = s.task_for(&other)?;
    let (wb, hb) = backups(&s, &w, 1)?;
    let p = primary(&s, 3)?;
    s.insert_right(to, N1, p, MAKE_SEND).succeeds()?;
    s.insert_right(to, N2, p, MAKE_SEND_ONCE).succeeds()?;
    s.set_backup(TASK, p, hb[0]).returns(NULL)?;
    s.destroy(TASK, p).succeeds()?;
    // Size 40, bits 0x80001100 (sent through a send right), remote 0,
    // local = W's name for the backup, id 69, the receive right.
    let got = expect_port_destroyed_as(&w, wb[0], true)?;
    w.expect_receive(got)?;
    // The port lives: its messages and its rights are intact.
    other.expect_send(N1, 1)?;
    other.expect_send_once(N2)?;
    expect_messages(&w, got, 3)?;
    send(&other, &Msg::new(N1, COPY_SEND).id(20))?;
    expect_eq("id", 20, receive(&w, got)?.id())?;
    expect_no_message(&w, wb[0])
}

fn backup_takes_the_receive_right_however_it_would_be_destroyed(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let w = TestSpace::open_as("W")?;
    let (wb, hb) = backups(&s, &w, 1)?;
    let (b, n) = (hb[0], wb[0]);
    for how in [
        "destroy",
        "mod_refs",
        "message",
        "too large",
        "insert_right",
        "space closed",
    ] {
        let p;
        match how {
            "space closed" => {
                let x = TestSpace::open_as("X")?;
                let tx = s.task_for(&x)?;
                p = primary(&x, 2)?;
                s.set_backup(tx, p, b).returns(NULL)?;
                drop(x);
            }
            _ => {
                p = primary(&s, 2)?;
                s.set_backup(TASK, p, b).returns(NULL)?;
                match how {
                    "destroy" => s.destroy(TASK, p).succeeds()?,
                    "mod_refs" => s.mod_refs(TASK, p, RECEIVE, -1).succeeds()?,
                    "message" => {
                        let q = s.new_receive()?;
                        send(&s, &Msg::new(q, MAKE_SEND_ONCE).port(p, MOVE_RECEIVE))?;
                        s.destroy(TASK, q).succeeds()?;
                    }
                    "too large" => {
                        let q = s.new_receive()?;
                        send(
                            &s,
                            &Msg::new(q, MAKE_SEND_ONCE)
                                .port(p, MOVE_RECEIVE)
                                .data(&[0u8; 100]),
                        )?;
                        let (mr, _) = receive_raw(&s, q, 0, 64, 0)?;
                        expect_eq(
                            "receive into 64 bytes",
                            mr_name(sys::MACH_RCV_TOO_LARGE),
                            mr_name(mr),
                        )?;
                    }
                    _ => {
                        let x = TestSpace::open_as("X")?;
                        let tx = s.task_for(&x)?;
                        x.allocate_name(TASK, DEAD_NAME, N1).succeeds()?;
                        s.insert_right(tx, N1, p, MOVE_RECEIVE)
                            .gives(KERN_NAME_EXISTS)?;
                    }
                }
            }
        }
        let got = expect_port_destroyed_as(&w, n, true).map_err(|e| format!("{how}: {e}"))?;
        expect_messages(&w, got, 2).map_err(|e| format!("{how}: {e}"))?;
        w.destroy(TASK, got).succeeds()?;
        expect_no_message(&w, n)?;
    }
    Ok(())
}

fn primary_is_left_without_a_backup_after_the_notification(_: &mut Ctx) -> TestResult {
    // Seed 000: "When the primary port is sent in a notify message to the
    // backup port, the primary port is left without a backup port."
    let s = TestSpace::open()?;
    let w = TestSpace::open_as("W")?;
    let other = TestSpace::open_as("other")?;
    let to = s.task_for(&other)?;
    let (wb, hb) = backups(&s, &w, 1)?;
    let p = s.new_receive()?;
    s.insert_right(to, N1, p, MAKE_SEND).succeeds()?;
    s.set_backup(TASK, p, hb[0]).returns(NULL)?;
    s.destroy(TASK, p).succeeds()?;
    let got = expect_port_destroyed_as(&w, wb[0], true)?;
    expect_status_field(&w, got, "pdrequest", |st| st.pdrequest, 0)?;
    // "A subsequent port_set_backup call would return PORT_NULL."
    w.set_backup(TASK, got, NULL).returns(NULL)?;
    // Destroyed again: for real.
    w.destroy(TASK, got).succeeds()?;
    other.expect_dead(N1, 1)?;
    expect_no_message(&w, wb[0])
}

fn backup_can_be_reestablished_after_the_notification(_: &mut Ctx) -> TestResult {
    // Seed 000: "When the task receives the notification and the receive
    // rights to the primary port, it may wish to use port_set_backup to
    // reestablish the same or a different backup port."
    let s = TestSpace::open()?;
    let w = TestSpace::open_as("W")?;
    let (wb, hb) = backups(&s, &w, 1)?;
    let p = primary(&s, 1)?;
    s.set_backup(TASK, p, hb[0]).returns(NULL)?;
    s.destroy(TASK, p).succeeds()?;
    let got = expect_port_destroyed_as(&w, wb[0], true)?;
    // The same backup: W needs a send right to it.
    w.set_backup(TASK, got, wb[0])
        .gives(KERN_INVALID_ARGUMENT)?;
    w.insert_right(TASK, wb[0], wb[0], MAKE_SEND).succeeds()?;
    w.set_backup(TASK, got, wb[0]).returns(NULL)?;
    w.destroy(TASK, got).succeeds()?;
    let again = expect_port_destroyed_as(&w, wb[0], true)?;
    // A different one: a port of s.
    let s_backup = s.new_receive()?;
    let tsb = w.task_for(&s)?;
    let to_s = w.extract_right(tsb, s_backup, MAKE_SEND).succeeds()?.name;
    w.set_backup(TASK, again, to_s).returns(NULL)?;
    w.mod_refs(TASK, again, RECEIVE, -1).succeeds()?;
    let back = expect_port_destroyed_as(&s, s_backup, true)?;
    expect_messages(&s, back, 1)?;
    expect_no_message(&w, wb[0])
}

fn primary_is_left_without_a_backup_when_the_backup_dies_first(_: &mut Ctx) -> TestResult {
    // Seed 000: "If the backup port is destroyed before the primary, then
    // the primary port is left without a backup. (A subsequent
    // port_set_backup call would return PORT_NULL)."
    let s = TestSpace::open()?;
    let w = TestSpace::open_as("W")?;
    let other = TestSpace::open_as("other")?;
    let to = s.task_for(&other)?;
    let (wb, hb) = backups(&s, &w, 2)?;
    let p = s.new_receive()?;
    s.insert_right(to, N1, p, MAKE_SEND).succeeds()?;
    s.set_backup(TASK, p, hb[0]).returns(NULL)?;
    w.destroy(TASK, wb[0]).succeeds()?;
    s.set_backup(TASK, p, hb[1]).returns(NULL)?;
    // The same, destroying the primary after its backup died.
    w.destroy(TASK, wb[1]).succeeds()?;
    s.destroy(TASK, p).succeeds()?;
    other.expect_dead(N1, 1)?;
    s.expect_dead(hb[0], 1)?;
    s.expect_dead(hb[1], 1)
}

fn port_set_backup_with_an_invalid_task_gives_kern_invalid_argument(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let w = TestSpace::open_as("W")?;
    let (_, hb) = backups(&s, &w, 1)?;
    let p = s.new_receive()?;
    let tasks = bad_tasks(&s)?;
    let before = s.state()?;
    for task in tasks {
        s.set_backup(task, p, hb[0]).gives(KERN_INVALID_ARGUMENT)?;
        s.set_backup(task, p, NULL).gives(KERN_INVALID_ARGUMENT)?;
    }
    s.expect_state(&before, "port_set_backup with invalid tasks")?;
    expect_status_field(&s, p, "pdrequest", |st| st.pdrequest, 0)
}

fn port_set_backup_with_an_invalid_primary_name_gives_kern_invalid_argument(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let w = TestSpace::open_as("W")?;
    let (_, hb) = backups(&s, &w, 1)?;
    let unused = s.unused_name(0x7171_7103)?;
    let gone = s.new_receive()?;
    s.destroy(TASK, gone).succeeds()?;
    let before = s.state()?;
    for primary in [NULL, DEAD, unused, gone] {
        s.set_backup(TASK, primary, hb[0])
            .gives(KERN_INVALID_ARGUMENT)?;
        s.set_backup(TASK, primary, NULL)
            .gives(KERN_INVALID_ARGUMENT)?;
    }
    s.expect_state(&before, "port_set_backup with invalid primary names")
}

fn port_set_backup_of_a_right_that_is_not_a_receive_right_gives_kern_not_receiver(
    _: &mut Ctx,
) -> TestResult {
    // Seed 000: "KERN_NOT_RECEIVER primary doesn't name receive rights in
    // task."
    let s = TestSpace::open()?;
    let w = TestSpace::open_as("W")?;
    let (wb, hb) = backups(&s, &w, 1)?;
    let so = far_send_once(&s, &w, wb[0])?;
    let dead = s.new_dead_name(1)?;
    let set = s.new_port_set()?;
    let before = s.state()?;
    for primary in [hb[0], so, dead, set, TASK] {
        s.set_backup(TASK, primary, hb[0])
            .gives(KERN_NOT_RECEIVER)?;
        s.set_backup(TASK, primary, NULL).gives(KERN_NOT_RECEIVER)?;
    }
    s.expect_state(
        &before,
        "port_set_backup of rights that are not receive rights",
    )?;
    expect_status_field(&w, wb[0], "pdrequest", |st| st.pdrequest, 0)
}

fn port_set_backup_with_an_invalid_backup_gives_kern_invalid_argument(_: &mut Ctx) -> TestResult {
    // Seed 000: "KERN_INVALID_ARGUMENT ... backup do[es] not name a valid
    // port."
    let s = TestSpace::open()?;
    let w = TestSpace::open_as("W")?;
    let (wb, hb) = backups(&s, &w, 2)?;
    let p = s.new_receive()?;
    let receive_only = s.new_receive()?;
    let so = far_send_once(&s, &w, wb[0])?;
    let dead = s.new_dead_name(1)?;
    let set = s.new_port_set()?;
    let unused = s.unused_name(0x7272_7203)?;
    // A send right whose port died.
    w.destroy(TASK, wb[1]).succeeds()?;
    let died = hb[1];
    let before = s.state()?;
    for backup in [DEAD, receive_only, so, dead, set, unused, died] {
        s.set_backup(TASK, p, backup).gives(KERN_INVALID_ARGUMENT)?;
    }
    s.expect_state(&before, "port_set_backup with invalid backups")?;
    expect_status_field(&s, p, "pdrequest", |st| st.pdrequest, 0)
}

fn port_set_backup_return_codes_come_in_the_documented_order(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let w = TestSpace::open_as("W")?;
    let (_, hb) = backups(&s, &w, 1)?;
    let p = s.new_receive()?;
    let dead = s.new_dead_name(1)?;
    let bad_task = s.unused_name(0x7373_7303)?;
    let unused = s.unused_name(0x7474_7403)?;
    let before = s.state()?;
    // The task first.
    s.set_backup(bad_task, hb[0], DEAD)
        .gives(KERN_INVALID_ARGUMENT)?;
    // The primary before the backup: not a receive right, with a bad
    // backup, is KERN_NOT_RECEIVER.
    s.set_backup(TASK, hb[0], DEAD).gives(KERN_NOT_RECEIVER)?;
    s.set_backup(TASK, dead, unused).gives(KERN_NOT_RECEIVER)?;
    s.set_backup(TASK, unused, DEAD)
        .gives(KERN_INVALID_ARGUMENT)?;
    // A good primary and a bad backup.
    s.set_backup(TASK, p, dead).gives(KERN_INVALID_ARGUMENT)?;
    s.expect_state(&before, "port_set_backup errors")
}

fn port_set_backup_errors_change_nothing(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let w = TestSpace::open_as("W")?;
    let (wb, hb) = backups(&s, &w, 1)?;
    let p = s.new_receive()?;
    s.set_backup(TASK, p, hb[0]).returns(NULL)?;
    let dead = s.new_dead_name(2)?;
    let so = far_send_once(&s, &w, wb[0])?;
    let before = s.state()?;
    let messages = s.stats()?.messages;
    for backup in [DEAD, dead, so, p] {
        s.set_backup(TASK, p, backup).gives(KERN_INVALID_ARGUMENT)?;
        s.expect_state(&before, "a failed port_set_backup")?;
    }
    expect_eq("queued messages", messages, s.stats()?.messages)?;
    // The backup is the one set before.
    s.destroy(TASK, p).succeeds()?;
    expect_port_destroyed_as(&w, wb[0], true)?;
    Ok(())
}

fn port_set_backup_with_reserved_bits_is_einval(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let w = TestSpace::open_as("W")?;
    let (_, hb) = backups(&s, &w, 1)?;
    let p = s.new_receive()?;
    let mut a = sys::PortSetBackupArgs {
        task: TASK.0,
        primary: p.0,
        backup: hb[0].0,
        reserved: 1,
        ..Default::default()
    };
    let r = set_backup_raw(&s, &mut a);
    ensure(
        r.as_ref().err().and_then(|e| e.raw_os_error()) == Some(libc::EINVAL),
        || {
            format!(
                "port_set_backup with reserved 1: expected EINVAL, got {r:?} (kr {})",
                a.kr
            )
        },
    )?;
    expect_status_field(&s, p, "pdrequest", |st| st.pdrequest, 0)
}

fn port_set_backup_through_the_task_port_of_another_space(_: &mut Ctx) -> TestResult {
    // Seed 000: "task The task owning the named port right"; the backup's
    // send right and the previous one are the caller's.
    let pair = Pair::new()?;
    let (a, b, tb) = (&pair.a, &pair.b, pair.tb);
    let w = TestSpace::open_as("W")?;
    let (wb, ab) = backups(a, &w, 2)?;
    let p = primary(b, 2)?;
    // A name of A's own is no primary in B.
    a.allocate_name(TASK, RECEIVE, N4).succeeds()?;
    a.set_backup(tb, N4, ab[0]).gives(KERN_INVALID_ARGUMENT)?;
    // B holds no send right to the backups: the backup is A's name.
    let b_before = b.state()?;
    a.set_backup(tb, p, ab[0]).returns(NULL)?;
    a.set_backup(tb, p, ab[1]).returns(ab[0])?;
    a.expect_send(ab[0], 2)?;
    b.expect_state(&b_before, "port_set_backup through B's task port")?;
    b.destroy(TASK, p).succeeds()?;
    let got = expect_port_destroyed_as(&w, wb[1], true)?;
    expect_messages(&w, got, 2)?;
    // A send right that is not a task port is no task.
    let q = a.new_receive()?;
    let send_q = a.extract_right(TASK, q, MAKE_SEND).succeeds()?.name;
    a.set_backup(send_q, got, ab[0])
        .gives(KERN_INVALID_ARGUMENT)
}

fn port_set_backup_uses_up_a_port_destroyed_request_with_a_send_once_notification(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let w = TestSpace::open_as("W")?;
    let (wb, hb) = backups(&s, &w, 1)?;
    let n = s.new_receive()?;
    let p = primary(&s, 1)?;
    request_port_destroyed(&s, p, n)?;
    // The one slot: the request gives way, and previous is NULL.
    s.set_backup(TASK, p, hb[0]).returns(NULL)?;
    expect_send_once(&s, n)?;
    expect_no_message(&s, n)?;
    s.destroy(TASK, p).succeeds()?;
    let got = expect_port_destroyed_as(&w, wb[0], true)?;
    expect_messages(&w, got, 1)?;
    expect_no_message(&s, n)
}

fn port_destroyed_request_replaces_a_backup_and_releases_its_send_right(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let w = TestSpace::open_as("W")?;
    let (wb, hb) = backups(&s, &w, 1)?;
    let wn = w.new_receive()?;
    let n = s.new_receive()?;
    let p = primary(&s, 1)?;
    s.set_backup(TASK, p, hb[0]).returns(NULL)?;
    // Only the backup slot's send right is left for the backup port.
    s.deallocate(TASK, hb[0]).succeeds()?;
    request_no_senders(&w, wb[0], 0, wn)?;
    expect_no_message(&w, wn)?;
    // A port-destroyed request takes the slot: previous is NULL and the
    // backup's send right is released.
    request_port_destroyed(&s, p, n)?;
    expect_no_senders(&w, wn, 1)?;
    s.destroy(TASK, p).succeeds()?;
    let got = expect_port_destroyed(&s, n)?;
    expect_messages(&s, got, 1)?;
    expect_no_message(&w, wb[0])
}

fn receive_status_shows_a_backup_as_a_port_destroyed_request(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let w = TestSpace::open_as("W")?;
    let (_, hb) = backups(&s, &w, 1)?;
    let p = s.new_receive()?;
    s.set_backup(TASK, p, hb[0]).returns(NULL)?;
    expect_status_field(&s, p, "pdrequest", |st| st.pdrequest, 1)?;
    s.set_backup(TASK, p, NULL).returns(hb[0])?;
    expect_status_field(&s, p, "pdrequest", |st| st.pdrequest, 0)
}

fn backup_that_is_the_primary_itself_destroys_the_port(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let other = TestSpace::open_as("other")?;
    let to = s.task_for(&other)?;
    let baseline = leak_counts(&s)?;
    let p = s.new_send_receive(1)?;
    send(&s, &Msg::new(p, MAKE_SEND_ONCE).data(&[1u8; 8]))?;
    s.insert_right(to, N1, p, MAKE_SEND).succeeds()?;
    s.set_backup(TASK, p, p).returns(NULL)?;
    s.expect_send_receive(p, 1)?;
    s.mod_refs(TASK, p, RECEIVE, -1).succeeds()?;
    // The notification would carry the receive right to the port itself.
    s.expect_dead(p, 1)?;
    other.expect_dead(N1, 1)?;
    s.destroy(TASK, p).succeeds()?;
    other.destroy(TASK, N1).succeeds()?;
    expect_baseline(&s, baseline, "a backup that is the primary itself")
}

fn backup_exchange_under_load_never_leaves_the_primary_without_a_backup(
    ctx: &mut Ctx,
) -> TestResult {
    // Seed 000: "port_set_backup works atomically, so that if one backup
    // port is exchanged for another, the primary port is never left
    // without a backup." One thread exchanges backups without pause; the
    // primary's receive right is destroyed at a random moment. Every
    // exchange before that must return the backup set before it (never
    // PORT_NULL), every exchange after it must fail, exactly one backup
    // gets the receive right (the one set last), and the port lives on
    // with its new owner, without a backup.
    const BACKUPS: usize = 4;
    const ROUNDS: usize = 150;
    let mut rng = Rng::from_time();
    ctx.diag(format!("seed {:#x}", rng.0));
    let h = TestSpace::open_as("H (primary and exchanges)")?;
    let w = TestSpace::open_as("W (backups)")?;
    let sender = TestSpace::open_as("S (a sender to the primary)")?;
    let ts = h.task_for(&sender)?;
    let (wb, hb) = backups(&h, &w, BACKUPS)?;
    let mut total_exchanges = 0;
    for round in 0..ROUNDS {
        let p = primary(&h, 2)?;
        let s_name = sender.unused_name(0x5353_0003 + ((round as u32) << 8))?;
        h.insert_right(ts, s_name, p, MAKE_SEND).succeeds()?;
        h.set_backup(TASK, p, hb[0]).returns(NULL)?;
        let exchanges = AtomicUsize::new(0);
        let destroyed = AtomicBool::new(false);
        let wait_for = rng.below(150) as usize;
        let spin = rng.below(20_000);
        let by_mod_refs = round % 2 == 1;
        let (last_set, failures) = std::thread::scope(
            |scope| -> Result<(usize, Vec<String>), String> {
                let exchanger = scope.spawn(|| -> Result<(usize, Vec<String>), String> {
                let mut current = 0usize;
                let mut problems = Vec::new();
                for i in 1.. {
                    let next = i % BACKUPS;
                    let mut a = sys::PortSetBackupArgs {
                        task: TASK.0,
                        primary: p.0,
                        backup: hb[next].0,
                        previous: 0x5a5a_5a5a,
                        ..Default::default()
                    };
                    set_backup_raw(&h, &mut a).map_err(|e| format!("port_set_backup: {e}"))?;
                    if a.kr != sys::KERN_SUCCESS {
                        if a.kr != sys::KERN_INVALID_ARGUMENT {
                            problems.push(format!(
                                "an exchange after the destruction gave {}",
                                KernReturn(a.kr)
                            ));
                        }
                        if !destroyed.load(Ordering::SeqCst) {
                            problems.push(format!(
                                "an exchange failed with {} before the primary was destroyed",
                                KernReturn(a.kr)
                            ));
                        }
                        break;
                    }
                    if a.previous != hb[current].0 {
                        problems.push(format!(
                            "exchange {i} returned previous {:#x}, expected {:?} (the backup set before it){}",
                            a.previous,
                            hb[current],
                            if a.previous == 0 { ": the primary was without a backup" } else { "" }
                        ));
                    }
                    if PortName(a.previous).is_valid() {
                        h.deallocate(TASK, PortName(a.previous)).succeeds()?;
                    }
                    current = next;
                    exchanges.fetch_add(1, Ordering::SeqCst);
                    if problems.len() > 5 {
                        break;
                    }
                }
                Ok((current, problems))
            });
                let destroyer = scope.spawn(|| -> TestResult {
                    while exchanges.load(Ordering::SeqCst) < wait_for {
                        std::hint::spin_loop();
                    }
                    let mut x = 0u64;
                    for i in 0..spin {
                        x = x.wrapping_add(i);
                        std::hint::black_box(x);
                    }
                    destroyed.store(true, Ordering::SeqCst);
                    if by_mod_refs {
                        h.mod_refs(TASK, p, RECEIVE, -1).succeeds()
                    } else {
                        h.destroy(TASK, p).succeeds()
                    }
                });
                let d = destroyer
                    .join()
                    .map_err(|_| "the destroyer panicked".to_string());
                let e = exchanger
                    .join()
                    .map_err(|_| "the exchanger panicked".to_string())?;
                d??;
                e
            },
        )?;
        total_exchanges += exchanges.load(Ordering::SeqCst);
        ensure(failures.is_empty(), || {
            format!("round {round}: {}", failures.join("; "))
        })?;
        // Exactly one notification, at the backup set last.
        let mut got = None;
        for (i, &b) in wb.iter().enumerate() {
            loop {
                match try_receive(&w, b, 0)? {
                    Err(mr) if mr == sys::MACH_RCV_TIMED_OUT => break,
                    Err(mr) => return Err(format!("receive on backup {i}: {}", mr_name(mr))),
                    Ok(m) => {
                        if got.is_some() {
                            return Err(format!(
                                "round {round}: a second notification, at backup {i} (last set: {last_set}): {}",
                                m.describe()
                            ));
                        }
                        ensure(
                            m.id() == PORT_DESTROYED_ID
                                && m.bits() == 0x8000_1100
                                && m.size() == 40,
                            || format!("round {round}: backup {i} got {}", m.describe()),
                        )?;
                        ensure(i == last_set, || {
                            format!("round {round}: the notification went to backup {i}, but backup {last_set} was set last")
                        })?;
                        got = Some(m.port_descriptor(0).0);
                    }
                }
            }
        }
        let moved = got.ok_or_else(|| format!("round {round}: no backup got the receive right"))?;
        // Alive in its new owner, with its messages, and without a backup.
        w.expect_receive(moved)?;
        expect_status_field(&w, moved, "pdrequest", |st| st.pdrequest, 0)?;
        w.set_backup(TASK, moved, NULL).returns(NULL)?;
        expect_messages(&w, moved, 2)?;
        send(&sender, &Msg::new(s_name, COPY_SEND).id(99))?;
        expect_eq("id sent to the moved port", 99, receive(&w, moved)?.id())?;
        w.destroy(TASK, moved).succeeds()?;
        sender.expect_dead(s_name, 1)?;
        sender.destroy(TASK, s_name).succeeds()?;
        // H's send rights to the backups are as they were.
        for &b in &hb {
            h.expect_send(b, 1)?;
        }
    }
    ctx.diag(format!("{ROUNDS} rounds, {total_exchanges} exchanges"));
    Ok(())
}

fn ports_backing_each_other_up_are_destroyed_without_leaks(_: &mut Ctx) -> TestResult {
    let watch = TestSpace::open_as("watch")?;
    let baseline = leak_counts(&watch)?;
    {
        let s = TestSpace::open()?;
        let p = s.new_send_receive(1)?;
        let q = s.new_send_receive(1)?;
        send(&s, &Msg::new(p, MAKE_SEND_ONCE).data(&[1u8; 8]))?;
        s.set_backup(TASK, p, q).returns(NULL)?;
        s.set_backup(TASK, q, p).returns(NULL)?;
        // p goes to q; q would go to p, inside q: both destroyed.
        s.mod_refs(TASK, p, RECEIVE, -1).succeeds()?;
        s.expect_send(p, 1)?;
        s.mod_refs(TASK, q, RECEIVE, -1).succeeds()?;
        s.expect_dead(p, 1)?;
        s.expect_dead(q, 1)?;
    }
    expect_baseline(&watch, baseline, "ports backing each other up")?;
    {
        // The same when their space closes.
        let s = TestSpace::open()?;
        let ports: Vec<PortName> = (0..4)
            .map(|_| s.new_send_receive(1))
            .collect::<Result<_, _>>()?;
        for (i, &p) in ports.iter().enumerate() {
            send(&s, &Msg::new(p, MAKE_SEND_ONCE).data(&[i as u8; 8]))?;
            s.set_backup(TASK, p, ports[(i + 1) % 4]).returns(NULL)?;
        }
    }
    expect_baseline(
        &watch,
        baseline,
        "closing a space whose ports back each other up",
    )
}
