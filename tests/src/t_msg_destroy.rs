//! Destroyed messages release everything they hold, once (docs/messages.md,
//! Send 6 and Destruction): a port destroyed with messages queued, receive
//! rights sent into their own port or into a cycle, a space closed with
//! messages queued. A send-once right a destroyed message carries sends a
//! send-once notification to its port (docs/notifications.md), which the
//! tests receive. The module's counts (ports, names, messages,
//! message_bytes) come back to where they were.

use mach::{sys, PortName, PortType};

use crate::check::*;
use crate::msg::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    queued_messages_count_in_the_module_stats_until_received,
    destroying_a_port_with_queued_messages_releases_every_right_and_buffer_they_carry,
    receive_right_sent_to_its_own_port_is_destroyed_and_the_send_succeeds,
    receive_right_sent_to_its_own_port_turns_send_rights_to_it_into_dead_names,
    two_port_cycle_of_receive_rights_is_destroyed_and_the_send_succeeds,
    three_port_cycle_of_receive_rights_is_destroyed_and_the_send_succeeds,
    receive_right_queued_on_a_port_it_does_not_reach_stays_alive,
    closing_a_space_with_messages_queued_releases_them,
    closing_the_sender_space_keeps_a_receive_right_in_a_queued_message_alive,
];

fn queued_messages_count_in_the_module_stats_until_received(_: &mut Ctx) -> TestResult {
    let base = Baseline::new()?;
    {
        let s = TestSpace::open()?;
        let p = s.new_receive()?;
        let sizes = [24u32, 28, 100, 1024];
        let mut total = 0u64;
        for (i, &size) in sizes.iter().enumerate() {
            let words = vec![7u32; ((size - 24) / 4) as usize];
            s.send_ok(&Msg::to(p, MAKE_SEND).words(&words))?;
            total += u64::from(size);
            base.expect_queued(
                &format!("after sending {} messages", i + 1),
                i as u64 + 1,
                total,
            )?;
        }
        for (i, &size) in sizes.iter().enumerate() {
            s.recv_now(p)?;
            total -= u64::from(size);
            base.expect_queued(
                &format!("after receiving {} messages", i + 1),
                (sizes.len() - i - 1) as u64,
                total,
            )?;
        }
    }
    base.check("closing the space")
}

fn destroying_a_port_with_queued_messages_releases_every_right_and_buffer_they_carry(
    _: &mut Ctx,
) -> TestResult {
    let base = Baseline::new()?;
    {
        let pr = Pair::new()?;
        let (a, b) = (&pr.a, &pr.b);
        let p = b.new_receive()?;
        let to_p = a.extract_right(pr.tb, p, MAKE_SEND).succeeds()?.name;
        // A's port r: the messages carry send and send-once rights to it.
        let r = a.new_receive()?;
        // q: a receive right with messages of its own (carrying more rights
        // to r), which A sends away keeping a send right.
        let q = a.new_send_receive(1)?;
        a.send_ok(
            &Msg::to(q, COPY_SEND)
                .reply(r, MAKE_SEND_ONCE)
                .port(r, MAKE_SEND),
        )?;
        a.send_ok(&Msg::to(q, COPY_SEND).port(r, MAKE_SEND_ONCE))?;
        let region = map(3 * page())?;
        let names = [r, r, r];
        a.send_ok(
            &Msg::to(to_p, COPY_SEND)
                .reply(r, MAKE_SEND_ONCE)
                .port(r, MAKE_SEND)
                .port(q, MOVE_RECEIVE)
                .ool(region, (3 * page()) as u32, false)
                .ool_ports(names.as_ptr(), 3, MAKE_SEND_ONCE, false),
        )?;
        a.send_ok(
            &Msg::to(to_p, COPY_SEND)
                .ool(region, 100, false)
                .words(&[1, 2]),
        )?;
        let st = status(a, r)?;
        expect_eq(
            "(sorights, srights) of r with the messages queued",
            (6, 1),
            (st.sorights, st.srights),
        )?;
        let queued = base.now()?;
        ensure(queued.messages == base.before().messages + 4, || {
            format!("4 messages queued, the counts say {queued:?}")
        })?;
        b.destroy(TASK, p).succeeds()?;
        // The send right to r is gone; each of the six send-once rights,
        // destroyed with its message, sent a send-once notification to r,
        // which holds it until received.
        let st = status(a, r)?;
        expect_eq(
            "(sorights, srights, msgcount) of r after",
            (6, 0, 6),
            (st.sorights, st.srights, st.msgcount),
        )?;
        a.expect_dead(q, 1)?;
        a.expect_dead(to_p, 1)?;
        base.expect_queued(
            "after destroying the port: r's six send-once notifications",
            6,
            6 * 24,
        )?;
        a.expect_send_once_notifications(r, 6)?;
        let st = status(a, r)?;
        expect_eq(
            "(sorights, srights, msgcount) of r once its notifications are received",
            (0, 0, 0),
            (st.sorights, st.srights, st.msgcount),
        )?;
        base.expect_queued("after destroying the port", 0, 0)?;
        b.expect_only_task_self()?;
        // SAFETY: Ours, unused from here on.
        unsafe { unmap(region, 3 * page()) };
    }
    base.check("closing the spaces")
}

fn receive_right_sent_to_its_own_port_is_destroyed_and_the_send_succeeds(
    _: &mut Ctx,
) -> TestResult {
    let base = Baseline::new()?;
    {
        let s = TestSpace::open()?;
        let p = s.new_receive()?;
        let ports = base.now()?.ports;
        s.send_gives(
            &Msg::to(p, MAKE_SEND).port(p, MOVE_RECEIVE).words(&[1]),
            sys::MACH_MSG_SUCCESS,
        )?;
        s.expect_only_task_self()?;
        let now = base.now()?;
        expect_eq("ports after the circular send", ports - 1, now.ports)?;
        base.expect_queued("after the circular send", 0, 0)?;
    }
    base.check("closing the space")
}

fn receive_right_sent_to_its_own_port_turns_send_rights_to_it_into_dead_names(
    _: &mut Ctx,
) -> TestResult {
    let base = Baseline::new()?;
    {
        let pr = Pair::new()?;
        let (a, b) = (&pr.a, &pr.b);
        let p = a.new_send_receive(2)?;
        a.insert_right(pr.tb, N1, p, MAKE_SEND).succeeds()?;
        a.insert_right(pr.tb, N2, p, MAKE_SEND_ONCE).succeeds()?;
        // Messages queued on p go with it.
        a.send_ok(&Msg::to(p, MAKE_SEND_ONCE).port(p, MAKE_SEND))?;
        a.send_gives(
            &Msg::to(p, COPY_SEND).port(p, MOVE_RECEIVE),
            sys::MACH_MSG_SUCCESS,
        )?;
        a.expect_dead(p, 2)?;
        b.expect_dead(N1, 1)?;
        b.expect_dead(N2, 1)?;
        base.expect_queued("after the circular send", 0, 0)?;
    }
    base.check("closing the spaces")
}

fn two_port_cycle_of_receive_rights_is_destroyed_and_the_send_succeeds(_: &mut Ctx) -> TestResult {
    let base = Baseline::new()?;
    {
        let s = TestSpace::open()?;
        let ports = base.now()?.ports;
        let pa = s.new_send_receive(1)?;
        let pb = s.new_send_receive(1)?;
        // A's receive right queued on B: fine, B lives.
        s.send_ok(&Msg::to(pb, COPY_SEND).port(pa, MOVE_RECEIVE))?;
        s.expect_send(pa, 1)?;
        expect_msgcount(&s, pb, 1)?;
        // B's receive right sent to A: the cycle closes.
        s.send_gives(
            &Msg::to(pa, COPY_SEND).port(pb, MOVE_RECEIVE),
            sys::MACH_MSG_SUCCESS,
        )?;
        s.expect_dead(pa, 1)?;
        s.expect_dead(pb, 1)?;
        expect_eq("ports after the cycle", ports, base.now()?.ports)?;
        base.expect_queued("after the cycle", 0, 0)?;
    }
    base.check("closing the space")
}

fn three_port_cycle_of_receive_rights_is_destroyed_and_the_send_succeeds(
    _: &mut Ctx,
) -> TestResult {
    let base = Baseline::new()?;
    {
        let pr = Pair::new()?;
        let (a, b) = (&pr.a, &pr.b);
        let ports = base.now()?.ports;
        let p1 = a.new_send_receive(1)?;
        let p2 = a.new_send_receive(1)?;
        let p3 = a.new_send_receive(1)?;
        // B keeps send rights to all three.
        for (n, p) in [(N1, p1), (N2, p2), (N3, p3)] {
            a.insert_right(pr.tb, n, p, MAKE_SEND).succeeds()?;
        }
        a.send_ok(&Msg::to(p2, COPY_SEND).port(p1, MOVE_RECEIVE).words(&[1]))?;
        a.send_ok(&Msg::to(p3, COPY_SEND).port(p2, MOVE_RECEIVE).words(&[2]))?;
        // p3 is still reachable: a message to it arrives.
        b.send_ok(&Msg::to(N3, COPY_SEND).id(3))?;
        expect_msgcount(a, p3, 2)?;
        a.send_gives(
            &Msg::to(p1, COPY_SEND).port(p3, MOVE_RECEIVE),
            sys::MACH_MSG_SUCCESS,
        )?;
        for n in [N1, N2, N3] {
            b.expect_dead(n, 1)?;
        }
        for p in [p1, p2, p3] {
            a.expect_dead(p, 1)?;
        }
        expect_eq("ports after the cycle", ports, base.now()?.ports)?;
        base.expect_queued("after the cycle", 0, 0)?;
    }
    base.check("closing the spaces")
}

fn receive_right_queued_on_a_port_it_does_not_reach_stays_alive(_: &mut Ctx) -> TestResult {
    let base = Baseline::new()?;
    {
        let s = TestSpace::open()?;
        let pa = s.new_send_receive(1)?;
        let pb = s.new_receive()?;
        let pc = s.new_receive()?;
        // pa's receive right on pb, pb's on pc: a chain, no cycle.
        s.send_ok(&Msg::to(pb, MAKE_SEND).port(pa, MOVE_RECEIVE))?;
        s.send_ok(&Msg::to(pc, MAKE_SEND).port(pb, MOVE_RECEIVE))?;
        s.send_ok(&Msg::to(pa, COPY_SEND).id(5))?;
        s.expect_send(pa, 1)?;
        // Unwind it: pc gives pb, pb gives pa, pa has the message.
        let take = |from: PortName| -> Result<PortName, String> {
            match s.recv_now(from)?.descriptors()?.as_slice() {
                [Desc::Port { name, .. }] => Ok(*name),
                other => Err(format!("expected one port descriptor, got {other:?}")),
            }
        };
        let nb = take(pc)?;
        s.expect_receive(nb)?;
        let na = take(nb)?;
        expect_eq("pa's receive right comes back under", pa, na)?;
        s.expect_send_receive(pa, 1)?;
        expect_eq("the id on pa", 5, s.recv_now(pa)?.header().id)?;
    }
    base.check("closing the space")
}

fn closing_a_space_with_messages_queued_releases_them(_: &mut Ctx) -> TestResult {
    let base = Baseline::new()?;
    {
        let a = TestSpace::open_as("A")?;
        let r = a.new_receive()?;
        let q = a.new_send_receive(1)?;
        let region = map(page())?;
        {
            let b = TestSpace::open_as("B (closed)")?;
            let tb = a.task_for(&b)?;
            let p = b.new_receive()?;
            let to_p = a.extract_right(tb, p, MAKE_SEND).succeeds()?.name;
            a.send_ok(
                &Msg::to(to_p, COPY_SEND)
                    .reply(r, MAKE_SEND_ONCE)
                    .port(r, MAKE_SEND),
            )?;
            a.send_ok(&Msg::to(to_p, COPY_SEND).port(q, MOVE_RECEIVE))?;
            a.send_ok(&Msg::to(to_p, COPY_SEND).ool(region, page() as u32, false))?;
            let st = status(&a, r)?;
            expect_eq(
                "(sorights, srights) of r while queued",
                (1, 1),
                (st.sorights, st.srights),
            )?;
            a.deallocate(TASK, tb).succeeds()?;
            a.deallocate(TASK, to_p).succeeds()?;
        }
        // The send right to r is gone; the reply's send-once right,
        // destroyed with its message, sent a send-once notification to r,
        // which holds it until received.
        let st = status(&a, r)?;
        expect_eq(
            "(sorights, srights, msgcount) of r once B is closed",
            (1, 0, 1),
            (st.sorights, st.srights, st.msgcount),
        )?;
        a.expect_dead(q, 1)?;
        base.expect_queued("once B is closed: r's send-once notification", 1, 24)?;
        a.expect_send_once_notifications(r, 1)?;
        let st = status(&a, r)?;
        expect_eq(
            "(sorights, srights, msgcount) of r once its notification is received",
            (0, 0, 0),
            (st.sorights, st.srights, st.msgcount),
        )?;
        base.expect_queued("once B is closed", 0, 0)?;
        let mut want = vec![(r, PortType::RECEIVE), (q, PortType::DEAD_NAME)];
        want.sort_by_key(|&(n, _)| n);
        a.expect_only_task_self_and(&want)?;
        // SAFETY: Ours, unused from here on.
        unsafe { unmap(region, page()) };
    }
    base.check("closing the spaces")
}

fn closing_the_sender_space_keeps_a_receive_right_in_a_queued_message_alive(
    _: &mut Ctx,
) -> TestResult {
    let base = Baseline::new()?;
    {
        let b = TestSpace::open_as("B")?;
        let p = b.new_receive()?;
        {
            let x = TestSpace::open_as("X (closed)")?;
            let tb = x.task_for(&b)?;
            let to_p = x.extract_right(tb, p, MAKE_SEND).succeeds()?.name;
            let q = x.new_receive()?;
            x.send_ok(&Msg::to(q, MAKE_SEND).id(6))?;
            x.send_ok(&Msg::to(to_p, COPY_SEND).port(q, MOVE_RECEIVE))?;
        }
        let n = match b.recv_now(p)?.descriptors()?.as_slice() {
            [Desc::Port { name, .. }] => *name,
            other => return Err(format!("expected one port descriptor, got {other:?}")),
        };
        b.expect_receive(n)?;
        expect_eq("the id queued on the port", 6, b.recv_now(n)?.header().id)?;
    }
    base.check("closing the spaces")
}
