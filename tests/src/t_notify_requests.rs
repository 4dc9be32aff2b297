//! mach_port_request_notification itself (seed 002; docs/notifications.md
//! "Notification requests"): every return code in the documented order,
//! the notify right and its two types, the atomic swap and its previous
//! right, cancelling, and what the requests show (MACH_PORT_TYPE_DNREQUEST,
//! mps_pdrequest, mps_nsrequest). What each notification does when it
//! fires is in t_notify_dead, t_notify_senders, t_notify_destroyed and
//! t_notify_send_once.

use std::sync::atomic::{AtomicUsize, Ordering};

use mach::{sys, KernReturn, MsgTypeName, PortName, PortType};

use crate::check::*;
use crate::notify::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    notification_ids_are_xnus,
    request_notification_with_an_invalid_task_gives_kern_invalid_task,
    request_notification_with_an_invalid_variant_gives_kern_invalid_value,
    request_dead_name_on_a_null_or_dead_name_gives_kern_invalid_argument,
    request_port_destroyed_with_sync_not_zero_gives_kern_invalid_value,
    request_port_destroyed_or_no_senders_on_a_null_or_dead_name_gives_kern_invalid_right,
    request_on_a_name_that_denotes_no_right_gives_kern_invalid_name,
    request_port_destroyed_or_no_senders_without_the_receive_right_gives_kern_invalid_right,
    request_dead_name_on_a_port_set_gives_kern_invalid_right,
    request_dead_name_on_a_dead_name_with_sync_zero_or_a_null_notify_gives_kern_invalid_argument,
    request_dead_name_on_a_dead_name_that_would_overflow_gives_kern_urefs_overflow,
    request_with_a_notify_type_other_than_send_once_gives_kern_invalid_value,
    request_with_an_invalid_notify_right_gives_kern_invalid_capability,
    request_with_a_dead_name_as_the_notify_right_changes_nothing,
    request_return_codes_come_in_the_documented_order,
    request_errors_change_nothing_and_send_nothing,
    request_takes_a_made_or_a_moved_send_once_right,
    request_is_an_atomic_swap_returning_the_previous_send_once_right_for_each_variant,
    request_previous_is_mach_port_dead_when_its_port_died,
    request_with_a_null_notify_cancels_and_returns_the_previous_right,
    request_cancel_with_nothing_registered_returns_null_whatever_the_notify_type,
    request_through_the_task_port_of_another_space_takes_the_notify_right_from_the_caller,
    request_through_a_send_right_that_is_not_a_task_port_gives_kern_invalid_task,
    request_swap_stays_atomic_under_concurrent_requests @ 300,
    mach_port_type_shows_dnrequest_while_a_dead_name_request_is_registered,
    receive_status_shows_port_destroyed_and_no_senders_requests,
    notifications_bypass_the_queue_limit,
    notifications_to_a_dead_notify_port_leak_nothing,
    notifications_queued_on_a_port_that_dies_leak_nothing,
    new_ioctls_with_arguments_they_cannot_write_fail_with_efault_and_change_nothing,
];

fn notification_ids_are_xnus(_: &mut Ctx) -> TestResult {
    expect_eq("MACH_NOTIFY_PORT_DELETED", 65, PORT_DELETED_ID)?;
    expect_eq("MACH_NOTIFY_PORT_DESTROYED", 69, PORT_DESTROYED_ID)?;
    expect_eq("MACH_NOTIFY_NO_SENDERS", 70, NO_SENDERS_ID)?;
    expect_eq("MACH_NOTIFY_SEND_ONCE", 71, SEND_ONCE_ID)?;
    expect_eq("MACH_NOTIFY_DEAD_NAME", 72, DEAD_NAME_ID)?;
    expect_eq("NDR_record", [0u8, 0, 0, 0, 1, 0, 0, 0], sys::NDR_RECORD)
}

/// A space with a port `p` (receive right), a notify port `n`, a send right
/// `send` and a send-once right `so` to a port `q` of another space, a dead
/// name and a port set.
struct Fixture {
    s: TestSpace,
    /// Holds the receive right of `q`.
    far: TestSpace,
    p: PortName,
    n: PortName,
    q: PortName,
    send: PortName,
    so: PortName,
    dead: PortName,
    set: PortName,
    unused: PortName,
}

impl Fixture {
    fn new() -> Result<Fixture, String> {
        let s = TestSpace::open()?;
        let far = TestSpace::open_as("far")?;
        let p = s.new_receive()?;
        let n = s.new_receive()?;
        let (q, send) = far_send(&s, &far)?;
        let so = far_send_once(&s, &far, q)?;
        let dead = s.new_dead_name(2)?;
        let set = s.new_port_set()?;
        let unused = s.unused_name(0x6060_6003)?;
        Ok(Fixture {
            s,
            far,
            p,
            n,
            q,
            send,
            so,
            dead,
            set,
            unused,
        })
    }

    /// Nothing is registered anywhere and no message was sent: the state
    /// and the message count are as in `before`.
    fn unchanged(&self, before: &State, messages: u64, after: &str) -> TestResult {
        self.s.expect_state(before, after)?;
        for (space, port) in [(&self.s, self.p), (&self.s, self.n), (&self.far, self.q)] {
            let st = space.status(port).succeeds()?;
            ensure(st.pdrequest == 0 && st.nsrequest == 0, || {
                format!("after {after}: {port:?} has a request registered ({st:?})")
            })?;
        }
        let now = self.s.stats()?.messages;
        ensure(now == messages, || {
            format!("after {after}: {messages} messages were queued, now {now}")
        })
    }
}

fn request_notification_with_an_invalid_task_gives_kern_invalid_task(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let tasks = bad_tasks(&f.s)?;
    let before = f.s.state()?;
    let messages = f.s.stats()?.messages;
    for task in tasks {
        for variant in VARIANTS {
            f.s.request(task, f.p, variant, 0, f.n, MAKE_SEND_ONCE)
                .gives(KERN_INVALID_TASK)?;
            // Before the variant and the names are looked at.
            f.s.request(task, NULL, 12345, 1, DEAD, MsgTypeName(0))
                .gives(KERN_INVALID_TASK)?;
        }
    }
    f.unchanged(&before, messages, "requests with invalid tasks")
}

fn request_notification_with_an_invalid_variant_gives_kern_invalid_value(
    _: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    let before = f.s.state()?;
    let messages = f.s.stats()?.messages;
    // PORT_DELETED and SEND_ONCE are notifications, but not requests.
    for variant in [
        0,
        1,
        64,
        PORT_DELETED_ID,
        66,
        67,
        68,
        SEND_ONCE_ID,
        73,
        77,
        -1,
        i32::MAX,
        i32::MIN,
    ] {
        f.s.request(TASK, f.p, variant, 0, f.n, MAKE_SEND_ONCE)
            .gives(KERN_INVALID_VALUE)?;
        f.s.request(TASK, f.send, variant, 0, f.n, MAKE_SEND_ONCE)
            .gives(KERN_INVALID_VALUE)?;
        // Before the name and the notify right.
        f.s.request(TASK, NULL, variant, 5, DEAD, MsgTypeName(0))
            .gives(KERN_INVALID_VALUE)?;
        f.s.request(TASK, f.unused, variant, 0, f.unused, MAKE_SEND_ONCE)
            .gives(KERN_INVALID_VALUE)?;
    }
    f.unchanged(&before, messages, "requests with invalid variants")
}

fn request_dead_name_on_a_null_or_dead_name_gives_kern_invalid_argument(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let before = f.s.state()?;
    let messages = f.s.stats()?.messages;
    for name in [NULL, DEAD] {
        for sync in [0, 1] {
            f.s.request(TASK, name, DEAD_NAME_ID, sync, f.n, MAKE_SEND_ONCE)
                .gives(KERN_INVALID_ARGUMENT)?;
            f.s.request(TASK, name, DEAD_NAME_ID, sync, NULL, MAKE_SEND_ONCE)
                .gives(KERN_INVALID_ARGUMENT)?;
            f.s.request(TASK, name, DEAD_NAME_ID, sync, DEAD, MsgTypeName(3))
                .gives(KERN_INVALID_ARGUMENT)?;
        }
    }
    f.unchanged(&before, messages, "dead-name requests on NULL and DEAD")
}

fn request_port_destroyed_with_sync_not_zero_gives_kern_invalid_value(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let before = f.s.state()?;
    let messages = f.s.stats()?.messages;
    for sync in [1, 2, 0x8000_0000, u32::MAX] {
        // On a good receive right, and before the name is looked at.
        for name in [f.p, NULL, DEAD, f.unused, f.send, f.set] {
            f.s.request(TASK, name, PORT_DESTROYED_ID, sync, f.n, MAKE_SEND_ONCE)
                .gives(KERN_INVALID_VALUE)?;
        }
        f.s.request(TASK, f.p, PORT_DESTROYED_ID, sync, NULL, MAKE_SEND_ONCE)
            .gives(KERN_INVALID_VALUE)?;
    }
    f.unchanged(&before, messages, "port-destroyed requests with sync")?;
    // sync 0 is fine.
    request_port_destroyed(&f.s, f.p, f.n)
}

fn request_port_destroyed_or_no_senders_on_a_null_or_dead_name_gives_kern_invalid_right(
    _: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    let before = f.s.state()?;
    let messages = f.s.stats()?.messages;
    for name in [NULL, DEAD] {
        f.s.request(TASK, name, PORT_DESTROYED_ID, 0, f.n, MAKE_SEND_ONCE)
            .gives(KERN_INVALID_RIGHT)?;
        for sync in [0, 1] {
            f.s.request(TASK, name, NO_SENDERS_ID, sync, f.n, MAKE_SEND_ONCE)
                .gives(KERN_INVALID_RIGHT)?;
        }
        // Cancelling on them too.
        f.s.request(TASK, name, PORT_DESTROYED_ID, 0, NULL, MAKE_SEND_ONCE)
            .gives(KERN_INVALID_RIGHT)?;
        f.s.request(TASK, name, NO_SENDERS_ID, 0, NULL, MAKE_SEND_ONCE)
            .gives(KERN_INVALID_RIGHT)?;
    }
    f.unchanged(&before, messages, "requests on NULL and DEAD")
}

fn request_on_a_name_that_denotes_no_right_gives_kern_invalid_name(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    // A name that once held a right, too.
    let gone = f.s.new_receive()?;
    f.s.destroy(TASK, gone).succeeds()?;
    let before = f.s.state()?;
    let messages = f.s.stats()?.messages;
    for name in [f.unused, gone] {
        for variant in VARIANTS {
            f.s.request(TASK, name, variant, 0, f.n, MAKE_SEND_ONCE)
                .gives(KERN_INVALID_NAME)?;
            f.s.request(TASK, name, variant, 0, NULL, MAKE_SEND_ONCE)
                .gives(KERN_INVALID_NAME)?;
        }
        f.s.request(TASK, name, DEAD_NAME_ID, 1, f.n, MAKE_SEND_ONCE)
            .gives(KERN_INVALID_NAME)?;
    }
    f.unchanged(&before, messages, "requests on unused names")
}

fn request_port_destroyed_or_no_senders_without_the_receive_right_gives_kern_invalid_right(
    _: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    let before = f.s.state()?;
    let messages = f.s.stats()?.messages;
    for name in [f.send, f.so, f.dead, f.set, TASK] {
        for variant in [PORT_DESTROYED_ID, NO_SENDERS_ID] {
            f.s.request(TASK, name, variant, 0, f.n, MAKE_SEND_ONCE)
                .gives(KERN_INVALID_RIGHT)?;
            f.s.request(TASK, name, variant, 0, NULL, MAKE_SEND_ONCE)
                .gives(KERN_INVALID_RIGHT)?;
        }
    }
    f.unchanged(
        &before,
        messages,
        "requests on names without a receive right",
    )
}

fn request_dead_name_on_a_port_set_gives_kern_invalid_right(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let before = f.s.state()?;
    let messages = f.s.stats()?.messages;
    for sync in [0, 1] {
        f.s.request(TASK, f.set, DEAD_NAME_ID, sync, f.n, MAKE_SEND_ONCE)
            .gives(KERN_INVALID_RIGHT)?;
        f.s.request(TASK, f.set, DEAD_NAME_ID, sync, NULL, MAKE_SEND_ONCE)
            .gives(KERN_INVALID_RIGHT)?;
    }
    f.unchanged(&before, messages, "dead-name requests on a port set")?;
    // The other rights take one.
    for name in [f.p, f.send, f.so, TASK] {
        request_dead_name(&f.s, name, f.n)?;
    }
    Ok(())
}

fn request_dead_name_on_a_dead_name_with_sync_zero_or_a_null_notify_gives_kern_invalid_argument(
    _: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    // A dead name made by a port's death, as well as an allocated one.
    let dead_send = f.s.new_send_receive(1)?;
    f.s.mod_refs(TASK, dead_send, RECEIVE, -1).succeeds()?;
    let before = f.s.state()?;
    let messages = f.s.stats()?.messages;
    for name in [f.dead, dead_send] {
        f.s.request(TASK, name, DEAD_NAME_ID, 0, f.n, MAKE_SEND_ONCE)
            .gives(KERN_INVALID_ARGUMENT)?;
        f.s.request(TASK, name, DEAD_NAME_ID, 0, NULL, MAKE_SEND_ONCE)
            .gives(KERN_INVALID_ARGUMENT)?;
        for sync in [1, 7] {
            f.s.request(TASK, name, DEAD_NAME_ID, sync, NULL, MAKE_SEND_ONCE)
                .gives(KERN_INVALID_ARGUMENT)?;
            // NULL, whatever the notify type.
            f.s.request(TASK, name, DEAD_NAME_ID, sync, NULL, MsgTypeName(0))
                .gives(KERN_INVALID_ARGUMENT)?;
        }
    }
    f.unchanged(
        &before,
        messages,
        "dead-name requests on dead names without sync or notify",
    )?;
    f.s.expect_dead(f.dead, 2)?;
    f.s.expect_dead(dead_send, 1)
}

fn request_dead_name_on_a_dead_name_that_would_overflow_gives_kern_urefs_overflow(
    _: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    let full = f.s.new_dead_name(UREFS_MAX)?;
    let so_n = f.s.new_send_once(f.n)?;
    let before = f.s.state()?;
    let messages = f.s.stats()?.messages;
    f.s.request(TASK, full, DEAD_NAME_ID, 1, f.n, MAKE_SEND_ONCE)
        .gives(KERN_UREFS_OVERFLOW)?;
    // A moved send-once right stays where it was.
    f.s.request(TASK, full, DEAD_NAME_ID, 1, so_n, MOVE_SEND_ONCE)
        .gives(KERN_UREFS_OVERFLOW)?;
    f.unchanged(
        &before,
        messages,
        "dead-name requests on a dead name at UREFS_MAX",
    )?;
    f.s.expect_dead(full, UREFS_MAX)?;
    f.s.expect_send_once(so_n)?;
    // One below the maximum: the immediate notification takes it there.
    f.s.mod_refs(TASK, full, DEAD_NAME, -1).succeeds()?;
    f.s.request(TASK, full, DEAD_NAME_ID, 1, so_n, MOVE_SEND_ONCE)
        .returns(NULL)?;
    f.s.expect_dead(full, UREFS_MAX)?;
    f.s.expect_unused(so_n)?;
    expect_dead_name(&f.s, f.n, full)?;
    expect_no_message(&f.s, f.n)
}

fn request_with_a_notify_type_other_than_send_once_gives_kern_invalid_value(
    _: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    let so_n = f.s.new_send_once(f.n)?;
    let sr = f.s.new_send_receive(2)?;
    let before = f.s.state()?;
    let messages = f.s.stats()?.messages;
    let bad_types = [
        MOVE_RECEIVE,
        MOVE_SEND,
        COPY_SEND,
        MAKE_SEND,
        MsgTypeName(0),
        MsgTypeName(15),
        MsgTypeName(sys::MACH_MSG_TYPE_COPY_RECEIVE),
        MsgTypeName(0x115),
        MsgTypeName(u32::MAX),
    ];
    for ty in bad_types {
        for variant in VARIANTS {
            for notify in [f.n, so_n, sr, DEAD, f.unused] {
                f.s.request(TASK, f.p, variant, 0, notify, ty)
                    .gives(KERN_INVALID_VALUE)?;
            }
        }
        f.s.request(TASK, f.send, DEAD_NAME_ID, 0, f.n, ty)
            .gives(KERN_INVALID_VALUE)?;
        // On a dead name with sync, the name passes and the type does not.
        f.s.request(TASK, f.dead, DEAD_NAME_ID, 1, so_n, ty)
            .gives(KERN_INVALID_VALUE)?;
    }
    f.unchanged(&before, messages, "requests with bad notify types")
}

fn request_with_an_invalid_notify_right_gives_kern_invalid_capability(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let sr = f.s.new_send_receive(2)?;
    let so_n = f.s.new_send_once(f.n)?;
    let before = f.s.state()?;
    let messages = f.s.stats()?.messages;
    // MAKE_SEND_ONCE needs a receive right.
    let for_make = [DEAD, f.unused, f.send, f.so, f.dead, f.set, TASK];
    // MOVE_SEND_ONCE needs a send-once right.
    let for_move = [DEAD, f.unused, f.n, sr, f.send, f.set, TASK];
    for variant in VARIANTS {
        for notify in for_make {
            f.s.request(TASK, f.p, variant, 0, notify, MAKE_SEND_ONCE)
                .gives(KERN_INVALID_CAPABILITY)?;
        }
        for notify in for_move {
            f.s.request(TASK, f.p, variant, 0, notify, MOVE_SEND_ONCE)
                .gives(KERN_INVALID_CAPABILITY)?;
        }
    }
    for notify in for_make {
        f.s.request(TASK, f.dead, DEAD_NAME_ID, 1, notify, MAKE_SEND_ONCE)
            .gives(KERN_INVALID_CAPABILITY)?;
    }
    f.unchanged(&before, messages, "requests with invalid notify rights")?;
    f.s.expect_send_once(so_n)?;
    // The good ones.
    f.s.request(TASK, f.p, DEAD_NAME_ID, 0, so_n, MOVE_SEND_ONCE)
        .returns(NULL)?;
    f.s.request(TASK, f.p, NO_SENDERS_ID, 1, sr, MAKE_SEND_ONCE)
        .returns(NULL)
}

fn request_with_a_dead_name_as_the_notify_right_changes_nothing(_: &mut Ctx) -> TestResult {
    // docs: "notify DEAD or a name without the right the type needs
    // (receive for MAKE_SEND_ONCE, send-once for MOVE_SEND_ONCE) ->
    // KERN_INVALID_CAPABILITY ... Errors so far change nothing." A dead
    // name holds no send-once right; taking it must not cost it a
    // reference.
    let f = Fixture::new()?;
    let died = f.s.new_receive()?;
    let dead_so = f.s.new_send_once(died)?;
    f.s.destroy(TASK, died).succeeds()?;
    f.s.expect_dead(dead_so, 1)?;
    let before = f.s.state()?;
    let messages = f.s.stats()?.messages;
    for variant in VARIANTS {
        for notify in [f.dead, dead_so] {
            for ty in [MOVE_SEND_ONCE, MAKE_SEND_ONCE] {
                f.s.request(TASK, f.p, variant, 0, notify, ty)
                    .gives(KERN_INVALID_CAPABILITY)?;
                f.unchanged(
                    &before,
                    messages,
                    &format!(
                        "a {} request with the dead name {notify:?} taken as {ty:?}",
                        variant_name(variant)
                    ),
                )?;
            }
        }
    }
    Ok(())
}

fn request_return_codes_come_in_the_documented_order(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let full = f.s.new_dead_name(UREFS_MAX)?;
    let bad_task = f.s.unused_name(0x6161_6103)?;
    let bad_ty = MsgTypeName(0);
    let before = f.s.state()?;
    let messages = f.s.stats()?.messages;
    let cases: Vec<(
        PortName,
        PortName,
        i32,
        u32,
        PortName,
        MsgTypeName,
        KernReturn,
    )> = vec![
        // task, before everything.
        (bad_task, NULL, 0, 1, DEAD, bad_ty, KERN_INVALID_TASK),
        // variant, before the name and the notify right.
        (TASK, NULL, 0, 1, DEAD, bad_ty, KERN_INVALID_VALUE),
        (
            TASK,
            f.unused,
            PORT_DELETED_ID,
            0,
            f.unused,
            bad_ty,
            KERN_INVALID_VALUE,
        ),
        // DEAD_NAME on NULL/DEAD, before the notify right.
        (
            TASK,
            NULL,
            DEAD_NAME_ID,
            0,
            DEAD,
            bad_ty,
            KERN_INVALID_ARGUMENT,
        ),
        (
            TASK,
            DEAD,
            DEAD_NAME_ID,
            1,
            f.unused,
            MAKE_SEND_ONCE,
            KERN_INVALID_ARGUMENT,
        ),
        // PORT_DESTROYED with sync, before the name.
        (
            TASK,
            NULL,
            PORT_DESTROYED_ID,
            1,
            DEAD,
            bad_ty,
            KERN_INVALID_VALUE,
        ),
        (
            TASK,
            f.unused,
            PORT_DESTROYED_ID,
            1,
            f.n,
            MAKE_SEND_ONCE,
            KERN_INVALID_VALUE,
        ),
        (
            TASK,
            f.send,
            PORT_DESTROYED_ID,
            1,
            f.n,
            MAKE_SEND_ONCE,
            KERN_INVALID_VALUE,
        ),
        // Other NULL/DEAD names, before the notify right.
        (
            TASK,
            NULL,
            PORT_DESTROYED_ID,
            0,
            DEAD,
            bad_ty,
            KERN_INVALID_RIGHT,
        ),
        (
            TASK,
            DEAD,
            NO_SENDERS_ID,
            3,
            DEAD,
            bad_ty,
            KERN_INVALID_RIGHT,
        ),
        // Unknown names, before the notify right.
        (
            TASK,
            f.unused,
            NO_SENDERS_ID,
            0,
            DEAD,
            bad_ty,
            KERN_INVALID_NAME,
        ),
        (
            TASK,
            f.unused,
            DEAD_NAME_ID,
            0,
            f.unused,
            MAKE_SEND_ONCE,
            KERN_INVALID_NAME,
        ),
        (
            TASK,
            f.unused,
            PORT_DESTROYED_ID,
            0,
            DEAD,
            MAKE_SEND_ONCE,
            KERN_INVALID_NAME,
        ),
        // The right the name holds, before the notify right.
        (
            TASK,
            f.send,
            NO_SENDERS_ID,
            0,
            DEAD,
            bad_ty,
            KERN_INVALID_RIGHT,
        ),
        (
            TASK,
            f.set,
            DEAD_NAME_ID,
            1,
            DEAD,
            bad_ty,
            KERN_INVALID_RIGHT,
        ),
        (
            TASK,
            f.dead,
            PORT_DESTROYED_ID,
            0,
            f.unused,
            MAKE_SEND_ONCE,
            KERN_INVALID_RIGHT,
        ),
        // Dead names: sync 0 / no notify, then the urefs, before the notify right.
        (
            TASK,
            f.dead,
            DEAD_NAME_ID,
            0,
            DEAD,
            bad_ty,
            KERN_INVALID_ARGUMENT,
        ),
        (
            TASK,
            full,
            DEAD_NAME_ID,
            0,
            f.n,
            MAKE_SEND_ONCE,
            KERN_INVALID_ARGUMENT,
        ),
        (
            TASK,
            full,
            DEAD_NAME_ID,
            1,
            NULL,
            MAKE_SEND_ONCE,
            KERN_INVALID_ARGUMENT,
        ),
        (
            TASK,
            full,
            DEAD_NAME_ID,
            1,
            DEAD,
            bad_ty,
            KERN_UREFS_OVERFLOW,
        ),
        (
            TASK,
            full,
            DEAD_NAME_ID,
            1,
            f.unused,
            MAKE_SEND_ONCE,
            KERN_UREFS_OVERFLOW,
        ),
        // The notify type before the notify right.
        (
            TASK,
            f.p,
            PORT_DESTROYED_ID,
            0,
            DEAD,
            bad_ty,
            KERN_INVALID_VALUE,
        ),
        (
            TASK,
            f.p,
            NO_SENDERS_ID,
            0,
            f.unused,
            MAKE_SEND,
            KERN_INVALID_VALUE,
        ),
        (
            TASK,
            f.dead,
            DEAD_NAME_ID,
            1,
            DEAD,
            MOVE_SEND,
            KERN_INVALID_VALUE,
        ),
        // Then the notify right.
        (
            TASK,
            f.p,
            DEAD_NAME_ID,
            0,
            DEAD,
            MAKE_SEND_ONCE,
            KERN_INVALID_CAPABILITY,
        ),
        (
            TASK,
            f.dead,
            DEAD_NAME_ID,
            1,
            f.send,
            MAKE_SEND_ONCE,
            KERN_INVALID_CAPABILITY,
        ),
    ];
    for (task, name, variant, sync, notify, ty, want) in cases {
        f.s.request(task, name, variant, sync, notify, ty)
            .gives(want)?;
    }
    f.unchanged(&before, messages, "requests with several errors at once")?;
    // A NULL notify cancels before its type is looked at.
    f.s.request(TASK, f.p, PORT_DESTROYED_ID, 0, NULL, bad_ty)
        .returns(NULL)?;
    f.s.request(TASK, f.p, NO_SENDERS_ID, 0, NULL, MAKE_SEND)
        .returns(NULL)?;
    f.s.request(TASK, f.send, DEAD_NAME_ID, 0, NULL, MsgTypeName(u32::MAX))
        .returns(NULL)
}

fn request_errors_change_nothing_and_send_nothing(_: &mut Ctx) -> TestResult {
    // With requests registered: an error keeps each one as it was.
    let f = Fixture::new()?;
    let n2 = f.s.new_receive()?;
    request_port_destroyed(&f.s, f.p, n2)?;
    request_no_senders(&f.s, f.p, 100, n2)?;
    request_dead_name(&f.s, f.send, n2)?;
    let so_n = f.s.new_send_once(f.n)?;
    let before = f.s.state()?;
    let messages = f.s.stats()?.messages;
    let failing: Vec<(PortName, i32, u32, PortName, MsgTypeName)> = vec![
        (f.p, PORT_DESTROYED_ID, 1, so_n, MOVE_SEND_ONCE),
        (f.p, PORT_DESTROYED_ID, 0, so_n, MAKE_SEND_ONCE),
        (f.p, NO_SENDERS_ID, 0, f.send, MAKE_SEND_ONCE),
        (f.p, NO_SENDERS_ID, 0, so_n, COPY_SEND),
        (f.send, DEAD_NAME_ID, 0, DEAD, MOVE_SEND_ONCE),
        (f.send, PORT_DESTROYED_ID, 0, so_n, MOVE_SEND_ONCE),
        (f.send, NO_SENDERS_ID, 0, so_n, MOVE_SEND_ONCE),
        (f.dead, DEAD_NAME_ID, 0, so_n, MOVE_SEND_ONCE),
        (f.set, DEAD_NAME_ID, 0, so_n, MOVE_SEND_ONCE),
        (f.unused, DEAD_NAME_ID, 0, so_n, MOVE_SEND_ONCE),
    ];
    for (name, variant, sync, notify, ty) in failing {
        let call = f.s.request(TASK, name, variant, sync, notify, ty);
        if call.succeeds().is_ok() {
            return Err(format!(
                "request_notification({name:?}, {}, {sync}, {notify:?}, {ty:?}) succeeded",
                variant_name(variant)
            ));
        }
        f.s.expect_state(&before, "a failed request")?;
        let now = f.s.stats()?.messages;
        ensure(now == messages, || {
            format!("a failed request sent a message ({messages} -> {now})")
        })?;
    }
    let st = f.s.status(f.p).succeeds()?;
    expect_eq("mps_pdrequest after failed requests", 1, st.pdrequest)?;
    expect_eq("mps_nsrequest after failed requests", 1, st.nsrequest)?;
    f.s.port_type(TASK, f.send)
        .returns(PortType(PortType::SEND.0 | PortType::DNREQUEST.0))?;
    // The registered requests are the ones still there: they fire to n2.
    f.far.destroy(TASK, f.q).succeeds()?;
    expect_dead_name(&f.s, n2, f.send)?;
    f.s.destroy(TASK, f.p).succeeds()?;
    let moved = expect_port_destroyed(&f.s, n2)?;
    expect_eq(
        "the port-destroyed notification's receive right",
        true,
        moved.is_valid(),
    )?;
    expect_no_message(&f.s, n2)?;
    expect_no_message(&f.s, f.n)
}

fn request_takes_a_made_or_a_moved_send_once_right(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let n = s.new_receive()?;
    for variant in VARIANTS {
        let target = Target::new(&s, &far, variant)?;
        let name = target.name;
        let sync = if variant == NO_SENDERS_ID { 1000 } else { 0 };
        let so0 = s.status(n).succeeds()?.sorights;
        // MAKE_SEND_ONCE: the receive right stays; a send-once right is
        // made.
        s.request(TASK, name, variant, sync, n, MAKE_SEND_ONCE)
            .returns(NULL)?;
        s.expect_receive(n)?;
        expect_status_field(&s, n, "sorights", |st| st.sorights, so0 + 1)?;
        // MOVE_SEND_ONCE: the caller's send-once right goes; the previous
        // one comes back.
        let so = s.new_send_once(n)?;
        expect_status_field(&s, n, "sorights", |st| st.sorights, so0 + 2)?;
        let previous = s
            .request(TASK, name, variant, sync, so, MOVE_SEND_ONCE)
            .succeeds()?;
        s.expect_unused(so).or_else(|_| {
            // The previous right may come back under the same name.
            expect_eq("previous", so, previous)
        })?;
        s.expect_send_once(previous)?;
        expect_status_field(&s, n, "sorights", |st| st.sorights, so0 + 2)?;
        s.deallocate(TASK, previous).succeeds()?;
        expect_send_once(&s, n)?;
        expect_status_field(&s, n, "sorights", |st| st.sorights, so0 + 1)?;
        // The registered right is the moved one: it fires.
        target.kill(&s, &far)?;
        match variant {
            PORT_DESTROYED_ID => {
                let got = expect_port_destroyed(&s, n)?;
                s.destroy(TASK, got).succeeds()?;
            }
            // A pending no-senders request goes with a send-once
            // notification when the port dies.
            NO_SENDERS_ID => expect_send_once(&s, n)?,
            _ => {
                expect_dead_name(&s, n, name)?;
                s.destroy(TASK, name).succeeds()?;
            }
        }
        expect_no_message(&s, n)?;
        expect_status_field(&s, n, "sorights", |st| st.sorights, so0)?;
    }
    s.expect_only_task_self_and(&[(n, PortType::RECEIVE)])
}

/// A name to request `variant` on, in `s`: a receive right for
/// PORT_DESTROYED and NO_SENDERS, a send right to a port of `far` for
/// DEAD_NAME.
struct Target {
    name: PortName,
    /// The receive right: in `far` for DEAD_NAME, else `name` in `s`.
    port: PortName,
    in_far: bool,
}

impl Target {
    fn new(s: &TestSpace, far: &TestSpace, variant: i32) -> Result<Target, String> {
        if variant == DEAD_NAME_ID {
            let (port, name) = far_send(s, far)?;
            Ok(Target {
                name,
                port,
                in_far: true,
            })
        } else {
            let port = s.new_receive()?;
            Ok(Target {
                name: port,
                port,
                in_far: false,
            })
        }
    }

    /// Destroys the port.
    fn kill(&self, s: &TestSpace, far: &TestSpace) -> TestResult {
        if self.in_far {
            far.destroy(TASK, self.port).succeeds()
        } else {
            s.destroy(TASK, self.port).succeeds()
        }
    }
}

/// sync for `variant` that does not fire a no-senders request at once.
fn quiet_sync(variant: i32) -> u32 {
    if variant == NO_SENDERS_ID {
        1000
    } else {
        0
    }
}

fn request_is_an_atomic_swap_returning_the_previous_send_once_right_for_each_variant(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let n1 = s.new_receive()?;
    let n2 = s.new_receive()?;
    for variant in VARIANTS {
        let name = Target::new(&s, &far, variant)?.name;
        let sync = quiet_sync(variant);
        // None before.
        s.request(TASK, name, variant, sync, n1, MAKE_SEND_ONCE)
            .returns(NULL)?;
        // The previous one: a send-once right to n1, in the caller's space.
        let prev1 = s
            .request(TASK, name, variant, sync, n2, MAKE_SEND_ONCE)
            .succeeds()?;
        ensure(prev1.is_valid(), || {
            format!("{}: previous {prev1:?}", variant_name(variant))
        })?;
        s.expect_send_once(prev1)?;
        // It is a right to n1: used, its message arrives there.
        send(&s, &Msg::new(prev1, MOVE_SEND_ONCE).id(1))?;
        let m = receive(&s, n1)?;
        expect_eq("id through the previous right", 1, m.id())?;
        // And again: the previous is now the right to n2.
        let prev2 = s
            .request(TASK, name, variant, sync, n1, MAKE_SEND_ONCE)
            .succeeds()?;
        s.expect_send_once(prev2)?;
        s.deallocate(TASK, prev2).succeeds()?;
        expect_send_once(&s, n2)?;
        expect_no_message(&s, n1)?;
        expect_no_message(&s, n2)?;
        // Cancel, to leave nothing behind.
        let prev3 = s
            .request(TASK, name, variant, 0, NULL, MAKE_SEND_ONCE)
            .succeeds()?;
        s.deallocate(TASK, prev3).succeeds()?;
        expect_send_once(&s, n1)?;
    }
    Ok(())
}

fn request_previous_is_mach_port_dead_when_its_port_died(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let n = s.new_receive()?;
    for variant in VARIANTS {
        let name = Target::new(&s, &far, variant)?.name;
        let sync = quiet_sync(variant);
        let gone = s.new_receive()?;
        s.request(TASK, name, variant, sync, gone, MAKE_SEND_ONCE)
            .returns(NULL)?;
        s.destroy(TASK, gone).succeeds()?;
        let before = s.state()?;
        s.request(TASK, name, variant, sync, n, MAKE_SEND_ONCE)
            .returns(DEAD)?;
        // No name came with it.
        s.expect_state(&before, "a swap whose previous right's port died")?;
        // Cancelling: the previous is the right to n.
        let prev = s
            .request(TASK, name, variant, 0, NULL, MAKE_SEND_ONCE)
            .succeeds()?;
        s.expect_send_once(prev)?;
        s.deallocate(TASK, prev).succeeds()?;
        expect_send_once(&s, n)?;
        // A dead previous on cancel, too.
        let gone = s.new_receive()?;
        s.request(TASK, name, variant, sync, gone, MAKE_SEND_ONCE)
            .returns(NULL)?;
        s.destroy(TASK, gone).succeeds()?;
        s.request(TASK, name, variant, 0, NULL, MAKE_SEND_ONCE)
            .returns(DEAD)?;
    }
    expect_no_message(&s, n)
}

fn request_with_a_null_notify_cancels_and_returns_the_previous_right(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let n = s.new_receive()?;
    let q = TestSpace::open_as("Q (holds the receive right of the dead-name target)")?;
    let tq = s.task_for(&q)?;
    // Port-destroyed: cancelled, destroying the port destroys it.
    let p = s.new_send_receive(1)?;
    request_port_destroyed(&s, p, n)?;
    let prev = s
        .request(TASK, p, PORT_DESTROYED_ID, 0, NULL, MAKE_SEND_ONCE)
        .succeeds()?;
    s.expect_send_once(prev)?;
    expect_status_field(&s, p, "pdrequest", |st| st.pdrequest, 0)?;
    s.mod_refs(TASK, p, RECEIVE, -1).succeeds()?;
    s.expect_dead(p, 1)?;
    expect_no_message(&s, n)?;
    // The returned right is a live send-once right to n.
    s.deallocate(TASK, prev).succeeds()?;
    expect_send_once(&s, n)?;
    s.deallocate(TASK, p).succeeds()?;
    // No-senders: cancelled, the last send right going sends nothing.
    let p = s.new_send_receive(1)?;
    request_no_senders(&s, p, 0, n)?;
    let prev = s
        .request(TASK, p, NO_SENDERS_ID, 0, NULL, MAKE_SEND_ONCE)
        .succeeds()?;
    s.expect_send_once(prev)?;
    expect_status_field(&s, p, "nsrequest", |st| st.nsrequest, 0)?;
    s.mod_refs(TASK, p, SEND, -1).succeeds()?;
    expect_no_message(&s, n)?;
    s.deallocate(TASK, prev).succeeds()?;
    expect_send_once(&s, n)?;
    s.destroy(TASK, p).succeeds()?;
    // Dead-name: cancelled, the port's death and the name's deletion
    // send nothing, and the dead name has no extra reference.
    let far = q.new_receive()?;
    let send = s.extract_right(tq, far, MAKE_SEND).succeeds()?.name;
    s.mod_refs(TASK, send, SEND, 2).succeeds()?;
    request_dead_name(&s, send, n)?;
    let prev = s
        .request(TASK, send, DEAD_NAME_ID, 0, NULL, MAKE_SEND_ONCE)
        .succeeds()?;
    s.expect_send_once(prev)?;
    s.port_type(TASK, send).returns(PortType::SEND)?;
    q.destroy(TASK, far).succeeds()?;
    s.expect_dead(send, 3)?;
    expect_no_message(&s, n)?;
    s.deallocate(TASK, prev).succeeds()?;
    expect_send_once(&s, n)?;
    // A cancelled dead-name request sends no port-deleted either.
    let far = q.new_receive()?;
    let send2 = s.extract_right(tq, far, MAKE_SEND).succeeds()?.name;
    request_dead_name(&s, send2, n)?;
    let prev = s
        .request(TASK, send2, DEAD_NAME_ID, 1, NULL, MsgTypeName(0))
        .succeeds()?;
    s.deallocate(TASK, send2).succeeds()?;
    expect_no_message(&s, n)?;
    s.deallocate(TASK, prev).succeeds()?;
    expect_send_once(&s, n)?;
    expect_no_message(&s, n)
}

fn request_cancel_with_nothing_registered_returns_null_whatever_the_notify_type(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_send_receive(1)?;
    let so = s.new_send_once(p)?;
    let before = s.state()?;
    for ty in [
        MAKE_SEND_ONCE,
        MOVE_SEND_ONCE,
        MsgTypeName(0),
        MAKE_SEND,
        MsgTypeName(99),
    ] {
        s.request(TASK, p, PORT_DESTROYED_ID, 0, NULL, ty)
            .returns(NULL)?;
        s.request(TASK, p, NO_SENDERS_ID, 0, NULL, ty)
            .returns(NULL)?;
        s.request(TASK, p, NO_SENDERS_ID, 5, NULL, ty)
            .returns(NULL)?;
        s.request(TASK, p, DEAD_NAME_ID, 0, NULL, ty)
            .returns(NULL)?;
        s.request(TASK, so, DEAD_NAME_ID, 3, NULL, ty)
            .returns(NULL)?;
    }
    s.expect_state(&before, "cancels with nothing registered")?;
    // A NULL notify on a port with no senders does not fire at once.
    s.mod_refs(TASK, p, SEND, -1).succeeds()?;
    s.request(TASK, p, NO_SENDERS_ID, 0, NULL, MAKE_SEND_ONCE)
        .returns(NULL)?;
    expect_no_message(&s, p)
}

fn request_through_the_task_port_of_another_space_takes_the_notify_right_from_the_caller(
    _: &mut Ctx,
) -> TestResult {
    let pair = Pair::new()?;
    let (a, b, tb) = (&pair.a, &pair.b, pair.tb);
    // Names only one of the two spaces has.
    let n = N3;
    a.allocate_name(TASK, RECEIVE, n).succeeds()?;
    let b_only = N2;
    b.allocate_name(TASK, RECEIVE, b_only).succeeds()?;
    let p = b.new_receive()?;
    let q = a.new_receive()?;
    a.insert_right(tb, N1, q, MAKE_SEND).succeeds()?;
    let before = pair.states()?;
    // The notify name is looked up in A's space, not B's.
    a.request(tb, p, PORT_DESTROYED_ID, 0, b_only, MAKE_SEND_ONCE)
        .gives(KERN_INVALID_CAPABILITY)?;
    // The target name is looked up in B's space, not A's.
    a.request(tb, n, PORT_DESTROYED_ID, 0, n, MAKE_SEND_ONCE)
        .gives(KERN_INVALID_NAME)?;
    pair.expect_states(&before, "failed requests through B's task port")?;
    for variant in VARIANTS {
        let name = if variant == DEAD_NAME_ID { N1 } else { p };
        let sync = quiet_sync(variant);
        a.request(tb, name, variant, sync, n, MAKE_SEND_ONCE)
            .returns(NULL)?;
        let prev = a
            .request(tb, name, variant, sync, n, MAKE_SEND_ONCE)
            .succeeds()?;
        // The previous right lands in A's space.
        a.expect_send_once(prev)?;
        a.deallocate(TASK, prev).succeeds()?;
        expect_send_once(a, n)?;
    }
    // B's names and references are as they were, apart from the
    // dead-name request its N1 now shows.
    b.port_type(TASK, N1)
        .returns(PortType(PortType::SEND.0 | PortType::DNREQUEST.0))?;
    b.expect_refs(N1, SEND, 1)?;
    expect_status_field(b, p, "pdrequest", |st| st.pdrequest, 1)?;
    expect_status_field(b, p, "nsrequest", |st| st.nsrequest, 1)?;
    // They fire to A: N1 deleted, p's receive right travels to A.
    b.deallocate(TASK, N1).succeeds()?;
    expect_port_deleted(a, n, N1)?;
    b.destroy(TASK, p).succeeds()?;
    let got = expect_port_destroyed(a, n)?;
    a.expect_receive(got)?;
    expect_no_message(a, n)?;
    // The no-senders request stayed with the port; when the port dies
    // for good it goes with a send-once notification.
    a.destroy(TASK, got).succeeds()?;
    expect_send_once(a, n)?;
    expect_no_message(a, n)
}

fn request_through_a_send_right_that_is_not_a_task_port_gives_kern_invalid_task(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let n = s.new_receive()?;
    let other = s.new_receive()?;
    let send = s.extract_right(TASK, other, MAKE_SEND).succeeds()?.name;
    for variant in VARIANTS {
        s.request(send, p, variant, 0, n, MAKE_SEND_ONCE)
            .gives(KERN_INVALID_TASK)?;
    }
    Ok(())
}

fn request_swap_stays_atomic_under_concurrent_requests(ctx: &mut Ctx) -> TestResult {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 150;
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    for variant in VARIANTS {
        let name = Target::new(&s, &far, variant)?.name;
        let sync = quiet_sync(variant);
        let notify: Vec<PortName> = (0..THREADS)
            .map(|_| s.new_receive())
            .collect::<Result<_, _>>()?;
        let nulls = AtomicUsize::new(0);
        std::thread::scope(|scope| -> TestResult {
            let mut threads = Vec::new();
            for &n in &notify {
                let s = &s;
                let nulls = &nulls;
                threads.push(scope.spawn(move || -> TestResult {
                    for _ in 0..PER_THREAD {
                        let prev = s
                            .request(TASK, name, variant, sync, n, MAKE_SEND_ONCE)
                            .succeeds()?;
                        if prev == NULL {
                            nulls.fetch_add(1, Ordering::SeqCst);
                        } else {
                            // Back to its own port, with a send-once
                            // notification.
                            s.deallocate(TASK, prev).succeeds()?;
                        }
                    }
                    Ok(())
                }));
            }
            for t in threads {
                t.join()
                    .map_err(|_| "a requesting thread panicked".to_string())??;
            }
            Ok(())
        })?;
        expect_eq(
            &format!(
                "{}: swaps that found nothing registered",
                variant_name(variant)
            ),
            1,
            nulls.load(Ordering::SeqCst),
        )?;
        let last = s
            .request(TASK, name, variant, 0, NULL, MAKE_SEND_ONCE)
            .succeeds()?;
        s.deallocate(TASK, last).succeeds()?;
        // Each registered right came back exactly once.
        for (i, &n) in notify.iter().enumerate() {
            let mut count = 0;
            loop {
                match try_receive(&s, n, 0)? {
                    Ok(m) => {
                        expect_eq("notification id", SEND_ONCE_ID, m.id())?;
                        count += 1;
                    }
                    Err(mr) if mr == sys::MACH_RCV_TIMED_OUT => break,
                    Err(mr) => return Err(format!("draining {n:?}: {}", mr_name(mr))),
                }
            }
            expect_eq(
                &format!(
                    "{}: send-once notifications for thread {i}'s rights",
                    variant_name(variant)
                ),
                PER_THREAD,
                count,
            )?;
            expect_status_field(&s, n, "sorights", |st| st.sorights, 0)?;
        }
    }
    ctx.diag(format!(
        "{THREADS} threads x {PER_THREAD} swaps per variant"
    ));
    Ok(())
}

fn mach_port_type_shows_dnrequest_while_a_dead_name_request_is_registered(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let tf = s.task_for(&far)?;
    let n = s.new_receive()?;
    let p = s.new_receive()?;
    let q = far.new_receive()?;
    let send = s.extract_right(tf, q, MAKE_SEND).succeeds()?.name;
    let so = s.extract_right(tf, q, MAKE_SEND_ONCE).succeeds()?.name;
    let dn = |t: PortType| PortType(t.0 | sys::MACH_PORT_TYPE_DNREQUEST);
    for (name, ty) in [
        (p, PortType::RECEIVE),
        (send, PortType::SEND),
        (so, PortType::SEND_ONCE),
    ] {
        s.port_type(TASK, name).returns(ty)?;
        request_dead_name(&s, name, n)?;
        s.port_type(TASK, name).returns(dn(ty))?;
        let listed = s.names(TASK).succeeds()?;
        let got = listed.iter().find(|(x, _)| *x == name).map(|(_, t)| *t);
        expect_eq(
            &format!("mach_port_names type of {name:?}"),
            Some(dn(ty)),
            got,
        )?;
        // References are unaffected.
        s.expect_refs(name, SEND, if ty == PortType::SEND { 1 } else { 0 })?;
    }
    // A cancel clears it.
    let prev = s
        .request(TASK, p, DEAD_NAME_ID, 0, NULL, MAKE_SEND_ONCE)
        .succeeds()?;
    s.port_type(TASK, p).returns(PortType::RECEIVE)?;
    s.deallocate(TASK, prev).succeeds()?;
    expect_send_once(&s, n)?;
    // A SEND|RECEIVE name shows it too.
    s.insert_right(TASK, p, p, MAKE_SEND).succeeds()?;
    request_dead_name(&s, p, n)?;
    s.port_type(TASK, p).returns(dn(PortType::SEND_RECEIVE))?;
    // When it fires, the dead name has no DNREQUEST.
    far.destroy(TASK, q).succeeds()?;
    s.port_type(TASK, send).returns(PortType::DEAD_NAME)?;
    s.port_type(TASK, so).returns(PortType::DEAD_NAME)?;
    let mut fired = vec![receive(&s, n)?.word(32), receive(&s, n)?.word(32)];
    fired.sort();
    let mut want = vec![send.0, so.0];
    want.sort();
    expect_eq("names in the dead-name notifications", want, fired)?;
    expect_no_message(&s, n)
}

fn receive_status_shows_port_destroyed_and_no_senders_requests(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let n = s.new_receive()?;
    let p = s.new_send_receive(1)?;
    let st = s.status(p).succeeds()?;
    expect_eq("mps_pdrequest of a new port", 0, st.pdrequest)?;
    expect_eq("mps_nsrequest of a new port", 0, st.nsrequest)?;
    request_port_destroyed(&s, p, n)?;
    expect_status_field(&s, p, "pdrequest", |st| st.pdrequest, 1)?;
    expect_status_field(&s, p, "nsrequest", |st| st.nsrequest, 0)?;
    request_no_senders(&s, p, 0, n)?;
    expect_status_field(&s, p, "nsrequest", |st| st.nsrequest, 1)?;
    // The no-senders request fires: cleared.
    s.mod_refs(TASK, p, SEND, -1).succeeds()?;
    expect_no_senders(&s, n, 1)?;
    expect_status_field(&s, p, "nsrequest", |st| st.nsrequest, 0)?;
    expect_status_field(&s, p, "pdrequest", |st| st.pdrequest, 1)?;
    // A dead-name request shows in neither.
    request_dead_name(&s, p, n)?;
    let st = s.status(p).succeeds()?;
    expect_eq("mps_nsrequest with a dead-name request", 0, st.nsrequest)?;
    let prev = s
        .request(TASK, p, DEAD_NAME_ID, 0, NULL, MAKE_SEND_ONCE)
        .succeeds()?;
    s.deallocate(TASK, prev).succeeds()?;
    expect_send_once(&s, n)?;
    // Cancelled: cleared.
    let prev = s
        .request(TASK, p, PORT_DESTROYED_ID, 0, NULL, MAKE_SEND_ONCE)
        .succeeds()?;
    expect_status_field(&s, p, "pdrequest", |st| st.pdrequest, 0)?;
    s.deallocate(TASK, prev).succeeds()?;
    expect_send_once(&s, n)?;
    // Used up by the port-destroyed notification: cleared in the new
    // holder.
    request_port_destroyed(&s, p, n)?;
    s.destroy(TASK, p).succeeds()?;
    let got = expect_port_destroyed(&s, n)?;
    expect_status_field(&s, got, "pdrequest", |st| st.pdrequest, 0)?;
    expect_status_field(&s, got, "nsrequest", |st| st.nsrequest, 0)?;
    expect_no_message(&s, n)
}

fn notifications_bypass_the_queue_limit(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let tf = s.task_for(&far)?;
    let n = s.new_receive()?;
    // A queue limit of 0: a send through a send right always waits.
    let mut a = sys::PortAttributesArgs {
        task: TASK.0,
        name: n.0,
        flavor: sys::MACH_PORT_LIMITS_INFO,
        count: 1,
        ..Default::default()
    };
    a.info[0] = 0;
    // SAFETY: MACH_IOC_PORT_SET_ATTRIBUTES takes a PortAttributesArgs.
    unsafe {
        mach::ioctl_raw(
            std::os::fd::AsFd::as_fd(&s),
            sys::MACH_IOC_PORT_SET_ATTRIBUTES,
            &mut a,
        )
    }
    .map_err(|e| format!("set_attributes: {e}"))?;
    expect_eq("set qlimit 0 kr", sys::KERN_SUCCESS, a.kr)?;
    let q = far.new_receive()?;
    let send = s.extract_right(tf, q, MAKE_SEND).succeeds()?.name;
    let p = s.new_send_receive(1)?;
    let r = s.new_receive()?;
    request_dead_name(&s, send, n)?;
    request_no_senders(&s, p, 0, n)?;
    request_port_destroyed(&s, r, n)?;
    let so = s.new_send_once(n)?;
    far.destroy(TASK, q).succeeds()?;
    s.mod_refs(TASK, p, SEND, -1).succeeds()?;
    s.destroy(TASK, r).succeeds()?;
    s.deallocate(TASK, so).succeeds()?;
    expect_status_field(&s, n, "msgcount", |st| st.msgcount, 4)?;
    expect_dead_name(&s, n, send)?;
    expect_no_senders(&s, n, 1)?;
    expect_port_destroyed(&s, n)?;
    expect_send_once(&s, n)
}

fn notifications_to_a_dead_notify_port_leak_nothing(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let tf = s.task_for(&far)?;
    let baseline = leak_counts(&s)?;
    {
        let n = s.new_receive()?;
        // Requests of every kind to n.
        let pd = s.new_send_receive(2)?;
        send(&s, &Msg::new(pd, MAKE_SEND).data(&[3u8; 64]))?;
        request_port_destroyed(&s, pd, n)?;
        let ns = s.new_send_receive(1)?;
        request_no_senders(&s, ns, 0, n)?;
        let ns2 = s.new_receive()?;
        request_no_senders(&s, ns2, 1000, n)?;
        let q = far.new_receive()?;
        let dn = s.extract_right(tf, q, MAKE_SEND).succeeds()?.name;
        request_dead_name(&s, dn, n)?;
        let q2 = far.new_receive()?;
        let pdel = s.extract_right(tf, q2, MAKE_SEND).succeeds()?.name;
        request_dead_name(&s, pdel, n)?;
        let so = s.new_send_once(n)?;
        // The notify port dies; then every request fires into nothing.
        s.destroy(TASK, n).succeeds()?;
        s.mod_refs(TASK, pd, RECEIVE, -1).succeeds()?;
        // Destroyed for real: its send rights are a dead name.
        s.expect_dead(pd, 2)?;
        s.mod_refs(TASK, ns, SEND, -1).succeeds()?;
        s.destroy(TASK, ns2).succeeds()?;
        far.destroy(TASK, q).succeeds()?;
        // With the extra reference of the dead-name notification, which
        // went nowhere.
        s.expect_dead(dn, 2)?;
        s.deallocate(TASK, pdel).succeeds()?;
        s.expect_dead(so, 1)?;
        for name in [pd, ns, dn, so] {
            s.destroy(TASK, name).succeeds()?;
        }
        far.destroy(TASK, q2).succeeds()?;
    }
    expect_baseline(&s, baseline, "notifications to a dead notify port")?;
    s.expect_only_task_self_and(&[(tf, PortType::SEND)])?;
    far.expect_only_task_self()
}

fn notifications_queued_on_a_port_that_dies_leak_nothing(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let tf = s.task_for(&far)?;
    let baseline = leak_counts(&s)?;
    let n = s.new_receive()?;
    let pd = s.new_send_receive(1)?;
    let watch = far.new_receive()?;
    // pd's send right lives in far: it becomes a dead name when pd dies.
    s.insert_right(tf, N1, pd, MAKE_SEND).succeeds()?;
    send(&s, &Msg::new(pd, MAKE_SEND).data(&[5u8; 200]))?;
    request_port_destroyed(&s, pd, n)?;
    let q = far.new_receive()?;
    let dn = s.extract_right(tf, q, MAKE_SEND).succeeds()?.name;
    request_dead_name(&s, dn, n)?;
    let ns = s.new_send_receive(1)?;
    request_no_senders(&s, ns, 0, n)?;
    let so = s.new_send_once(n)?;
    // Every notification is queued on n: one carries pd's receive right.
    s.destroy(TASK, pd).succeeds()?;
    far.destroy(TASK, q).succeeds()?;
    s.mod_refs(TASK, ns, SEND, -1).succeeds()?;
    s.deallocate(TASK, so).succeeds()?;
    expect_status_field(&s, n, "msgcount", |st| st.msgcount, 4)?;
    far.expect_send(N1, 1)?;
    // n dies with them queued: the receive right in the port-destroyed
    // notification is destroyed, and pd with it.
    s.destroy(TASK, n).succeeds()?;
    far.expect_dead(N1, 1)?;
    for name in [dn, ns] {
        s.destroy(TASK, name).succeeds()?;
    }
    far.destroy(TASK, N1).succeeds()?;
    far.destroy(TASK, watch).succeeds()?;
    expect_baseline(&s, baseline, "notifications destroyed with their port")
}

fn new_ioctls_with_arguments_they_cannot_write_fail_with_efault_and_change_nothing(
    _: &mut Ctx,
) -> TestResult {
    let s = TestSpace::open()?;
    let far = TestSpace::open_as("far")?;
    let (q, _) = far_send(&s, &far)?;
    let p = s.new_receive()?;
    let n = s.new_receive()?;
    let set = s.new_port_set()?;
    let so_n = s.new_send_once(n)?;
    let (_, backup) = far_send(&s, &far)?;
    let before = s.state()?;
    let messages = s.stats()?.messages;
    let words = |a: &[u32]| a.to_vec();
    // Each call, as the words of its argument struct.
    let calls: Vec<(&str, u32, Vec<u32>)> = vec![
        (
            "MOVE_MEMBER",
            sys::MACH_IOC_PORT_MOVE_MEMBER,
            words(&[TASK.0, p.0, set.0, 0]),
        ),
        (
            "INSERT_MEMBER",
            sys::MACH_IOC_PORT_INSERT_MEMBER,
            words(&[TASK.0, p.0, set.0, 0]),
        ),
        (
            "REQUEST_NOTIFICATION",
            sys::MACH_IOC_PORT_REQUEST_NOTIFICATION,
            words(&[
                TASK.0,
                p.0,
                PORT_DESTROYED_ID as u32,
                0,
                so_n.0,
                MOVE_SEND_ONCE.0,
                0,
                0,
            ]),
        ),
        (
            "REQUEST_NOTIFICATION",
            sys::MACH_IOC_PORT_REQUEST_NOTIFICATION,
            words(&[
                TASK.0,
                p.0,
                NO_SENDERS_ID as u32,
                0,
                n.0,
                MAKE_SEND_ONCE.0,
                0,
                0,
            ]),
        ),
        (
            "SET_BACKUP",
            sys::MACH_IOC_PORT_SET_BACKUP,
            words(&[TASK.0, p.0, backup.0, 0, 0, 0]),
        ),
        (
            "GET_SET_STATUS",
            sys::MACH_IOC_PORT_GET_SET_STATUS,
            words(&[TASK.0, set.0, 0, 0, 0, 0, 0, 0]),
        ),
    ];
    for (what, cmd, args) in calls {
        // A read-only page: the module can read the arguments but cannot
        // write the result back, so it must do nothing.
        let mut pages = crate::raw::Pages::new(1)?;
        pages.write_words(0, &args);
        pages.make_read_only(0)?;
        // SAFETY: The page is ours; the module finds it unwritable.
        let r = unsafe { crate::raw::ioctl(&s, cmd, pages.at(0)) };
        expect_eq(
            &format!("{what} with a read-only argument"),
            Err(libc::EFAULT),
            r,
        )?;
        // No argument at all.
        // SAFETY: A null address: the module cannot read it.
        let r = unsafe { crate::raw::ioctl(&s, cmd, std::ptr::null_mut()) };
        expect_eq(
            &format!("{what} with a null argument"),
            Err(libc::EFAULT),
            r,
        )?;
        f_unchanged(
            &s,
            &before,
            messages,
            &format!("{what} with unwritable arguments"),
        )?;
    }
    s.set_status(TASK, set).returns(vec![])?;
    let st = s.status(p).succeeds()?;
    expect_eq("pdrequest", 0, st.pdrequest)?;
    expect_eq("nsrequest", 0, st.nsrequest)?;
    far.expect_receive(q)
}

fn f_unchanged(s: &TestSpace, before: &State, messages: u64, after: &str) -> TestResult {
    s.expect_state(before, after)?;
    let now = s.stats()?.messages;
    ensure(now == messages, || {
        format!("after {after}: {messages} messages were queued, now {now}")
    })
}
