//! Messages between processes: RPC with send-once replies (the server's
//! port reached through task_for_fd, or passed in a message), and processes
//! killed while they wait or while messages to them are queued.

use mach::{sys, PortName, PortType};

use crate::check::*;
use crate::msg::*;
use crate::proc::{self, Peer};
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    rpc_between_two_processes_with_send_once_replies,
    rpc_with_the_service_port_passed_in_a_message,
    process_killed_while_blocked_in_a_receive_leaves_nothing_behind,
    process_killed_while_blocked_in_a_send_leaves_nothing_behind,
    process_killed_with_messages_queued_to_it_releases_them,
];

const ROUNDS: u32 = 20;
const QUIT: u32 = 0xdead;

/// The server: answers each request on `service` (id n, data [x]) with a
/// reply (id n + 100, data [x * 2]) through the send-once right that came
/// with it, until a request with id QUIT. Checks what each request looks
/// like on arrival.
fn serve(x: &TestSpace, service: PortName) -> TestResult {
    loop {
        let r = x.recv_opt(service, RCV_SIZE, MACH_RCV_TIMEOUT | elements(1), 20_000);
        expect_mr("server: receive", sys::MACH_MSG_SUCCESS, r.mr)?;
        let h = r.header();
        expect_eq(
            "server: msgh_bits of a request",
            bits(
                sys::MACH_MSG_TYPE_PORT_SEND_ONCE,
                sys::MACH_MSG_TYPE_PORT_SEND,
            ),
            h.bits,
        )?;
        x.expect_send_once(h.remote)?;
        let d = r.buf.data()?;
        let v = u32::from_ne_bytes(d[..4].try_into().unwrap());
        x.send_ok(
            &Msg::to(h.remote, MOVE_SEND_ONCE)
                .id(h.id + 100)
                .words(&[v * 2]),
        )?;
        x.expect_unused(h.remote)?;
        if h.id == QUIT {
            return Ok(());
        }
    }
}

/// The client: ROUNDS calls and the QUIT call through `to_service`, each
/// one SEND|RCV with a MAKE_SEND_ONCE reply right of `reply`.
fn call_rounds(c: &TestSpace, to_service: PortName, reply: PortName) -> TestResult {
    for n in (0..ROUNDS).chain([QUIT]) {
        let m = Msg::to(to_service, COPY_SEND)
            .reply(reply, MAKE_SEND_ONCE)
            .id(n)
            .words(&[n + 1]);
        let req = m.build();
        let mut buf = Buf::new(RCV_SIZE as usize);
        buf.bytes_mut()[..req.len()].copy_from_slice(req.bytes());
        // SAFETY: `buf` is ours with room for RCV_SIZE bytes.
        let mr = Mr(unsafe {
            mach_msg(
                c.fd(),
                buf.ptr(),
                MACH_SEND_MSG | MACH_RCV_MSG | MACH_RCV_TIMEOUT,
                req.len() as u32,
                RCV_SIZE,
                reply,
                20_000,
                NULL,
            )
        });
        expect_mr(&format!("client: call {n}"), sys::MACH_MSG_SUCCESS, mr)?;
        let h = buf.header();
        expect_eq(
            &format!(
                "client: (msgh_bits, msgh_remote_port, msgh_local_port, msgh_id) of reply {n}"
            ),
            (
                bits(0, sys::MACH_MSG_TYPE_PORT_SEND_ONCE),
                NULL,
                reply,
                n + 100,
            ),
            (h.bits, h.remote, h.local, h.id),
        )?;
        expect_eq(
            &format!("client: the data of reply {n}"),
            ((n + 1) * 2).to_ne_bytes().to_vec(),
            buf.data()?,
        )?;
    }
    let st = status(c, reply)?;
    expect_eq(
        "client: (sorights, msgcount) of the reply port after the calls",
        (0, 0),
        (st.sorights, st.msgcount),
    )
}

fn rpc_between_two_processes_with_send_once_replies(_: &mut Ctx) -> TestResult {
    let base = Baseline::new()?;
    {
        let x = TestSpace::open_as("X (the server's space)")?;
        let mut child = proc::spawn(&[], |peer| {
            let service = x.new_receive()?;
            peer.send_name("service", service)?;
            serve(&x, service)?;
            x.expect_only_task_self_and(&[(service, PortType::RECEIVE)])?;
            peer.send("done")?;
            let _ = peer.recv();
            Ok(())
        })?;
        let c = TestSpace::open_as("C (the client's space)")?;
        let tx = c.task_for(&x)?;
        drop(x);
        let service = child.peer.recv_name("service")?;
        let to_service = c.extract_right(tx, service, MAKE_SEND).succeeds()?.name;
        let reply = c.reply_port().succeeds()?;
        call_rounds(&c, to_service, reply)?;
        child.peer.expect("done")?;
        let mut want = vec![
            (tx, PortType::SEND),
            (to_service, PortType::SEND),
            (reply, PortType::RECEIVE),
        ];
        want.sort_by_key(|&(n, _)| n);
        c.expect_only_task_self_and(&want)?;
        child.peer.send("exit")?;
        child.wait()?;
        c.expect_dead(to_service, 1)?;
    }
    base.check("the processes exchanged messages and the server exited")
}

fn rpc_with_the_service_port_passed_in_a_message(_: &mut Ctx) -> TestResult {
    let base = Baseline::new()?;
    {
        // The child gets a space with one right in it, N1: a send right to
        // the parent's bootstrap port. Everything else travels in messages.
        let x = TestSpace::open_as("X (the server's space)")?;
        let mut child = proc::spawn(&[], |peer: &mut Peer| {
            peer.expect("go")?;
            x.expect_only_task_self_and(&[(N1, PortType::SEND)])?;
            let service = x.new_receive()?;
            let reply = x.reply_port().succeeds()?;
            // Check in: the service's send right, and a reply port for the ack.
            x.send_ok(
                &Msg::to(N1, MOVE_SEND)
                    .reply(reply, MAKE_SEND_ONCE)
                    .port(service, MAKE_SEND)
                    .id(1),
            )?;
            let r = x.recv_opt(reply, RCV_SIZE, MACH_RCV_TIMEOUT, 20_000);
            expect_mr("server: the ack", sys::MACH_MSG_SUCCESS, r.mr)?;
            expect_eq("server: the ack's id", 2, r.header().id)?;
            serve(&x, service)?;
            let mut want = vec![(service, PortType::RECEIVE), (reply, PortType::RECEIVE)];
            want.sort_by_key(|&(n, _)| n);
            x.expect_only_task_self_and(&want)?;
            peer.send("done")?;
            let _ = peer.recv();
            Ok(())
        })?;
        let c = TestSpace::open_as("C (the client's space)")?;
        let bootstrap = c.new_receive()?;
        {
            let tx = c.task_for(&x)?;
            c.insert_right(tx, N1, bootstrap, MAKE_SEND).succeeds()?;
            // No task port from here on: rights move in messages only.
            c.deallocate(TASK, tx).succeeds()?;
        }
        drop(x);
        child.peer.send("go")?;
        let r = c.recv_opt(bootstrap, RCV_SIZE, MACH_RCV_TIMEOUT, 20_000);
        expect_mr("client: the check-in", sys::MACH_MSG_SUCCESS, r.mr)?;
        let h = r.header();
        expect_eq("client: the check-in's id", 1, h.id)?;
        let to_service = match r.buf.descriptors()?.as_slice() {
            [Desc::Port { name, disposition }] => {
                expect_eq(
                    "client: the type of the service right",
                    MsgTypeName(sys::MACH_MSG_TYPE_PORT_SEND),
                    *disposition,
                )?;
                *name
            }
            other => return Err(format!("client: the check-in carried {other:?}")),
        };
        c.expect_send(to_service, 1)?;
        c.send_ok(&Msg::to(h.remote, MOVE_SEND_ONCE).id(2))?;
        let reply = c.reply_port().succeeds()?;
        call_rounds(&c, to_service, reply)?;
        child.peer.expect("done")?;
        child.peer.send("exit")?;
        child.wait()?;
        c.expect_dead(to_service, 1)?;
        let st = status(&c, bootstrap)?;
        expect_eq("client: srights of the bootstrap port", 0, st.srights)?;
    }
    base.check("the processes exchanged messages and the server exited")
}

fn process_killed_while_blocked_in_a_receive_leaves_nothing_behind(ctx: &mut Ctx) -> TestResult {
    let base = Baseline::new()?;
    {
        let x = TestSpace::open_as("X (the child's space)")?;
        let xfd = x.fd();
        let mut child = proc::spawn(&[], |peer| {
            let p = x.new_receive()?;
            peer.send_name("port", p)?;
            let r = x.recv_opt(p, RCV_SIZE, 0, 0);
            Err(format!("the receive returned {}", r.mr))
        })?;
        let a = TestSpace::open_as("A (the parent's space)")?;
        let tx = a.task_for(&x)?;
        drop(x);
        let p = child.peer.recv_name("port")?;
        let to_p = a.extract_right(tx, p, MAKE_SEND).succeeds()?.name;
        if !wait_blocked_in_msg(child.pid(), child.pid(), xfd) {
            ctx.diag("could not see the child's receive wait");
        }
        child.kill()?;
        a.expect_dead(to_p, 1)?;
        a.send_gives(&Msg::to(to_p, COPY_SEND), sys::MACH_SEND_INVALID_DEST)?;
    }
    base.check("killing the child and closing the spaces")
}

fn process_killed_while_blocked_in_a_send_leaves_nothing_behind(ctx: &mut Ctx) -> TestResult {
    let base = Baseline::new()?;
    {
        let x = TestSpace::open_as("X (the child's space)")?;
        let xfd = x.fd();
        let mut child = proc::spawn(&[], |peer| {
            peer.expect("send")?;
            // N1: a send right to the parent's full port; the message
            // carries a receive right of the child's and a reply right.
            let q = x.new_receive()?;
            let r = x.new_receive()?;
            let mr = x.send(
                &Msg::to(N1, COPY_SEND)
                    .reply(r, MAKE_SEND_ONCE)
                    .port(q, MOVE_RECEIVE)
                    .id(1),
            );
            Err(format!("the send returned {mr}"))
        })?;
        let a = TestSpace::open_as("A (the parent's space)")?;
        let tx = a.task_for(&x)?;
        drop(x);
        let p = a.new_receive()?;
        set_qlimit(&a, p, 1)?;
        a.send_ok(&Msg::to(p, MAKE_SEND).id(0))?;
        a.insert_right(tx, N1, p, MAKE_SEND).succeeds()?;
        child.peer.send("send")?;
        if !wait_blocked_in_msg(child.pid(), child.pid(), xfd) {
            ctx.diag("could not see the child's send wait");
        }
        child.kill()?;
        expect_msgcount(&a, p, 1)?;
        expect_eq("the id queued", 0, a.recv_now(p)?.header().id)?;
        a.expect_empty(p)?;
        let st = status(&a, p)?;
        expect_eq(
            "(srights, sorights) of the port",
            (0, 0),
            (st.srights, st.sorights),
        )?;
    }
    base.check("killing the child and closing the spaces")
}

fn process_killed_with_messages_queued_to_it_releases_them(_: &mut Ctx) -> TestResult {
    let base = Baseline::new()?;
    {
        let x = TestSpace::open_as("X (the child's space)")?;
        let mut child = proc::spawn(&[], |peer| {
            let p = x.new_receive()?;
            peer.send_name("port", p)?;
            let _ = peer.recv();
            Ok(())
        })?;
        let a = TestSpace::open_as("A (the parent's space)")?;
        let tx = a.task_for(&x)?;
        drop(x);
        let p = child.peer.recv_name("port")?;
        let to_p = a.extract_right(tx, p, MAKE_SEND).succeeds()?.name;
        // Messages carrying rights to A's port r, a receive right of A's
        // (q, to which A keeps a send right) and out-of-line memory.
        let r = a.new_receive()?;
        let q = a.new_send_receive(1)?;
        let region = map(2 * page())?;
        a.send_ok(
            &Msg::to(to_p, COPY_SEND)
                .reply(r, MAKE_SEND_ONCE)
                .port(r, MAKE_SEND),
        )?;
        a.send_ok(&Msg::to(to_p, COPY_SEND).port(q, MOVE_RECEIVE))?;
        a.send_ok(&Msg::to(to_p, COPY_SEND).ool(region, (2 * page()) as u32, false))?;
        let queued = base.now()?;
        ensure(queued.messages >= base.before().messages + 3, || {
            format!("3 messages sent, the counts say {queued:?}")
        })?;
        let st = status(&a, r)?;
        expect_eq(
            "(sorights, srights) of r while queued",
            (1, 1),
            (st.sorights, st.srights),
        )?;
        child.kill()?;
        // The send right to r is gone; the reply's send-once right, destroyed
        // with its message, sent a send-once notification to r, which holds
        // it until received.
        let st = status(&a, r)?;
        expect_eq(
            "(sorights, srights, msgcount) of r after",
            (1, 0, 1),
            (st.sorights, st.srights, st.msgcount),
        )?;
        a.expect_dead(q, 1)?;
        a.expect_dead(to_p, 1)?;
        base.expect_queued(
            "after the child was killed: r's send-once notification",
            1,
            24,
        )?;
        a.expect_send_once_notifications(r, 1)?;
        let st = status(&a, r)?;
        expect_eq(
            "(sorights, srights, msgcount) of r once its notification is received",
            (0, 0, 0),
            (st.sorights, st.srights, st.msgcount),
        )?;
        base.expect_queued("after the child was killed", 0, 0)?;
        // SAFETY: Ours, unused from here on.
        unsafe { unmap(region, 2 * page()) };
    }
    base.check("killing the child and closing the spaces")
}
