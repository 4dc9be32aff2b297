//! Signals and mach_msg (docs/messages.md, Signals): a handled signal makes
//! a blocked call fail with EINTR (with `option` written back without
//! MACH_SEND_MSG once the send is done); the library rule turns that into
//! MACH_SEND_INTERRUPTED / MACH_RCV_INTERRUPTED or re-issues the call; a
//! signal that runs no handler (SIGSTOP/SIGCONT, ignored signals) does not
//! interrupt it at all.
//!
//! A helper thread signals the blocked thread once /proc shows it asleep in
//! the ioctl, and again every 100 ms until the call returns, so that the
//! tests are correct even where /proc cannot tell.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mach::{sys, PortName};

use crate::check::*;
use crate::msg::*;
use crate::proc::{self, Peer};
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    handled_signal_makes_a_blocked_receive_fail_with_eintr,
    handled_signal_during_a_blocked_receive_is_retried_by_the_library_rule,
    handled_signal_during_a_receive_with_rcv_interrupt_gives_rcv_interrupted,
    send_and_receive_interrupted_in_the_receive_phase_writes_back_the_option_without_send,
    send_and_receive_interrupted_in_the_receive_phase_is_retried_without_sending_again,
    handled_signal_makes_a_blocked_send_fail_with_eintr_and_the_send_still_pending,
    blocked_send_with_send_interrupt_gives_send_interrupted_and_leaves_every_right,
    blocked_send_interrupted_without_send_interrupt_is_retried_and_sends_once,
    ignored_signals_do_not_interrupt_a_receive_with_rcv_interrupt,
    sigstop_and_sigcont_do_not_interrupt_a_receive_with_rcv_interrupt,
    sigstop_and_sigcont_do_not_interrupt_a_send_with_send_interrupt,
];

const SIG: i32 = libc::SIGUSR1;

/// Signals thread `tid` with SIG once it sleeps in MACH_IOC_MSG on `fd`,
/// then every 100 ms until `done`. Gives whether the first signal was
/// sent to a thread seen asleep in the ioctl.
fn interrupt_until(tid: libc::pid_t, fd: i32, done: &AtomicBool) -> Result<bool, String> {
    let seen = wait_thread_blocked(tid, fd);
    while !done.load(Ordering::SeqCst) {
        tgkill(tid, SIG)?;
        for _ in 0..100 {
            if done.load(Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    Ok(seen)
}

/// Signals `tid` once when it sleeps in the ioctl, waits for the handler
/// to have run and for the thread to sleep in the ioctl again (the
/// re-issued call). Gives whether both could be seen.
fn interrupt_once(tid: libc::pid_t, fd: i32) -> Result<bool, String> {
    let seen = wait_thread_blocked(tid, fd);
    let before = SIGNALS_HANDLED.load(Ordering::SeqCst);
    tgkill(tid, SIG)?;
    wait_for_count(&SIGNALS_HANDLED, before + 1)?;
    let again = wait_thread_blocked(tid, fd);
    Ok(seen && again)
}

/// A space with a port and a receive right that never gets a message.
fn setup() -> Result<(TestSpace, PortName), String> {
    install_counting_handler(SIG)?;
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    Ok((s, p))
}

fn handled_signal_makes_a_blocked_receive_fail_with_eintr(_: &mut Ctx) -> TestResult {
    let (s, p) = setup()?;
    let me = gettid();
    let done = AtomicBool::new(false);
    let mut buf = Buf::new(RCV_SIZE as usize);
    let mut a = sys::MsgArgs {
        msg: buf.ptr() as u64,
        option: MACH_RCV_MSG,
        rcv_size: RCV_SIZE,
        rcv_name: p.0,
        ..Default::default()
    };
    let (r, t) = std::thread::scope(|scope| {
        let t = scope.spawn(|| interrupt_until(me, s.fd(), &done));
        // SAFETY: `buf` is ours with room for RCV_SIZE bytes.
        let r = unsafe { mach_msg_raw(s.fd(), &mut a) };
        done.store(true, Ordering::SeqCst);
        (r, join(t))
    });
    t??;
    expect_eq(
        "the raw receive interrupted by a handled signal",
        Err(errno_name(libc::EINTR)),
        r.map_err(errno_name),
    )?;
    expect_eq("the option written back", MACH_RCV_MSG, a.option)?;
    ensure(buf.bytes().iter().all(|&b| b == FILL), || {
        "the interrupted receive wrote into the buffer".into()
    })
}

fn handled_signal_during_a_blocked_receive_is_retried_by_the_library_rule(
    ctx: &mut Ctx,
) -> TestResult {
    let (s, p) = setup()?;
    let me = gettid();
    let eintr = EINTR_SEEN.load(Ordering::SeqCst);
    let (r, t) = std::thread::scope(|scope| {
        let t = scope.spawn(|| -> Result<bool, String> {
            let seen = interrupt_once(me, s.fd())?;
            s.send_ok(&Msg::to(p, MAKE_SEND).id(9))?;
            Ok(seen)
        });
        let r = s.recv_opt(p, RCV_SIZE, 0, 0);
        (r, join(t))
    });
    let seen = t??;
    expect_mr("the receive", sys::MACH_MSG_SUCCESS, r.mr)?;
    expect_eq("the id received", 9, r.header().id)?;
    let eintrs = EINTR_SEEN.load(Ordering::SeqCst) - eintr;
    if seen {
        expect_eq("EINTRs the library rule re-issued", 1, eintrs)?;
    } else {
        ctx.diag(format!("could not see the receive wait; {eintrs} EINTR"));
    }
    s.expect_empty(p)
}

fn handled_signal_during_a_receive_with_rcv_interrupt_gives_rcv_interrupted(
    _: &mut Ctx,
) -> TestResult {
    let (s, p) = setup()?;
    let me = gettid();
    let done = AtomicBool::new(false);
    let (r, t) = std::thread::scope(|scope| {
        let t = scope.spawn(|| interrupt_until(me, s.fd(), &done));
        let r = s.recv_opt(p, RCV_SIZE, MACH_RCV_INTERRUPT, 0);
        done.store(true, Ordering::SeqCst);
        (r, join(t))
    });
    t??;
    expect_mr(
        "a receive with RCV_INTERRUPT and a handled signal",
        sys::MACH_RCV_INTERRUPTED,
        r.mr,
    )?;
    ensure(r.buf.bytes().iter().all(|&b| b == FILL), || {
        "the interrupted receive wrote into the buffer".into()
    })?;
    // Nothing was lost or taken: a message sent now arrives.
    s.send_ok(&Msg::to(p, MAKE_SEND).id(3))?;
    expect_eq("the id received", 3, s.recv_now(p)?.header().id)
}

/// A SEND|RCV buffer: a message to `p` (MAKE_SEND, id 1) with room to
/// receive RCV_SIZE bytes.
fn send_receive_buf(p: PortName) -> (Buf, u32) {
    let m = Msg::to(p, MAKE_SEND).id(1).words(&[0xabcd]).build();
    let mut buf = Buf::new(RCV_SIZE as usize);
    buf.bytes_mut()[..m.len()].copy_from_slice(m.bytes());
    (buf, m.len() as u32)
}

fn send_and_receive_interrupted_in_the_receive_phase_writes_back_the_option_without_send(
    _: &mut Ctx,
) -> TestResult {
    let (s, p) = setup()?;
    let r = s.new_receive()?;
    let me = gettid();
    let done = AtomicBool::new(false);
    let (mut buf, send_size) = send_receive_buf(p);
    let option = MACH_SEND_MSG | MACH_RCV_MSG;
    let mut a = sys::MsgArgs {
        msg: buf.ptr() as u64,
        option,
        send_size,
        rcv_size: RCV_SIZE,
        rcv_name: r.0,
        ..Default::default()
    };
    let (res, t) = std::thread::scope(|scope| {
        let t = scope.spawn(|| interrupt_until(me, s.fd(), &done));
        // SAFETY: `buf` is ours with room for RCV_SIZE bytes.
        let res = unsafe { mach_msg_raw(s.fd(), &mut a) };
        done.store(true, Ordering::SeqCst);
        (res, join(t))
    });
    t??;
    expect_eq(
        "the raw SEND|RCV interrupted while receiving",
        Err(errno_name(libc::EINTR)),
        res.map_err(errno_name),
    )?;
    expect_eq("the option written back", option & !MACH_SEND_MSG, a.option)?;
    expect_msgcount(&s, p, 1)?;
    expect_eq("the id sent", 1, s.recv_now(p)?.header().id)?;
    s.expect_empty(r)
}

fn send_and_receive_interrupted_in_the_receive_phase_is_retried_without_sending_again(
    ctx: &mut Ctx,
) -> TestResult {
    let (s, p) = setup()?;
    let r = s.new_receive()?;
    let me = gettid();
    let eintr = EINTR_SEEN.load(Ordering::SeqCst);
    let (mut buf, send_size) = send_receive_buf(p);
    let (mr, t) = std::thread::scope(|scope| {
        let t = scope.spawn(|| -> Result<bool, String> {
            let seen = interrupt_once(me, s.fd())?;
            // A second interruption, to be sure a re-issued call does not
            // send either.
            let seen2 = interrupt_once(me, s.fd())?;
            s.send_ok(&Msg::to(r, MAKE_SEND).id(2))?;
            Ok(seen && seen2)
        });
        // SAFETY: `buf` is ours with room for RCV_SIZE bytes.
        let mr = Mr(unsafe {
            mach_msg(
                s.fd(),
                buf.ptr(),
                MACH_SEND_MSG | MACH_RCV_MSG,
                send_size,
                RCV_SIZE,
                r,
                0,
                NULL,
            )
        });
        (mr, join(t))
    });
    let seen = t??;
    expect_mr("SEND|RCV", sys::MACH_MSG_SUCCESS, mr)?;
    expect_eq("the id received", 2, buf.header().id)?;
    let eintrs = EINTR_SEEN.load(Ordering::SeqCst) - eintr;
    if seen {
        expect_eq("EINTRs the library rule re-issued", 2, eintrs)?;
    } else {
        ctx.diag(format!("could not see the call wait; {eintrs} EINTR"));
    }
    // Sent exactly once.
    expect_msgcount(&s, p, 1)?;
    expect_eq("the id sent", 1, s.recv_now(p)?.header().id)?;
    s.expect_empty(p)
}

/// A's send right `to_p` to B's port `p`, whose queue (limit 1) is full.
struct Full {
    pr: Pair,
    p: PortName,
    to_p: PortName,
}

fn full_queue() -> Result<Full, String> {
    install_counting_handler(SIG)?;
    let pr = Pair::new()?;
    let p = pr.b.new_receive()?;
    let to_p = pr.a.extract_right(pr.tb, p, MAKE_SEND).succeeds()?.name;
    set_qlimit(&pr.b, p, 1)?;
    pr.a.send_now_gives(&Msg::to(to_p, COPY_SEND).id(0), sys::MACH_MSG_SUCCESS)?;
    Ok(Full { pr, p, to_p })
}

fn handled_signal_makes_a_blocked_send_fail_with_eintr_and_the_send_still_pending(
    _: &mut Ctx,
) -> TestResult {
    let f = full_queue()?;
    let a = &f.pr.a;
    let me = gettid();
    let done = AtomicBool::new(false);
    let mut buf = Msg::to(f.to_p, COPY_SEND).id(1).build();
    let option = MACH_SEND_MSG;
    let mut args = sys::MsgArgs {
        msg: buf.ptr() as u64,
        option,
        send_size: buf.len() as u32,
        ..Default::default()
    };
    let (res, t) = std::thread::scope(|scope| {
        let t = scope.spawn(|| interrupt_until(me, a.fd(), &done));
        // SAFETY: `buf` is ours and holds the message.
        let res = unsafe { mach_msg_raw(a.fd(), &mut args) };
        done.store(true, Ordering::SeqCst);
        (res, join(t))
    });
    t??;
    expect_eq(
        "the raw send interrupted while waiting for room",
        Err(errno_name(libc::EINTR)),
        res.map_err(errno_name),
    )?;
    expect_eq("the option written back", option, args.option)?;
    expect_msgcount(&f.pr.b, f.p, 1)
}

fn blocked_send_with_send_interrupt_gives_send_interrupted_and_leaves_every_right(
    _: &mut Ctx,
) -> TestResult {
    let f = full_queue()?;
    let a = &f.pr.a;
    let r = a.new_receive()?;
    let q = a.new_send_receive(1)?;
    let pg = page();
    let region = map(pg)?;
    let m = Msg::to(f.to_p, MOVE_SEND)
        .reply(r, MAKE_SEND_ONCE)
        .port(q, MOVE_RECEIVE)
        .ool(region, pg as u32, true)
        .id(1);
    let before = f.pr.states()?;
    let me = gettid();
    let done = AtomicBool::new(false);
    let (mr, t) = std::thread::scope(|scope| {
        let t = scope.spawn(|| interrupt_until(me, a.fd(), &done));
        let mr = a.send_opt(&m, MACH_SEND_INTERRUPT, 0);
        done.store(true, Ordering::SeqCst);
        (mr, join(t))
    });
    t??;
    expect_mr(
        "a send with SEND_INTERRUPT waiting for room",
        sys::MACH_SEND_INTERRUPTED,
        mr,
    )?;
    f.pr.expect_states(&before, "an interrupted send")?;
    ensure(is_mapped(region), || {
        "an interrupted send unmapped the page to deallocate".into()
    })?;
    expect_eq("sorights of the reply port", 0, status(a, r)?.sorights)?;
    expect_msgcount(&f.pr.b, f.p, 1)?;
    // SAFETY: Ours, unused from here on.
    unsafe { unmap(region, pg) };
    Ok(())
}

fn blocked_send_interrupted_without_send_interrupt_is_retried_and_sends_once(
    ctx: &mut Ctx,
) -> TestResult {
    let f = full_queue()?;
    let (a, b) = (&f.pr.a, &f.pr.b);
    let me = gettid();
    let eintr = EINTR_SEEN.load(Ordering::SeqCst);
    let (mr, t) = std::thread::scope(|scope| {
        let t = scope.spawn(|| -> Result<bool, String> {
            let seen = interrupt_once(me, a.fd())?;
            // Make room: the re-issued send goes through.
            let id = b.recv_now(f.p)?.header().id;
            expect_eq("the id received first", 0, id)?;
            Ok(seen)
        });
        let mr = a.send(&Msg::to(f.to_p, COPY_SEND).id(1));
        (mr, join(t))
    });
    let seen = t??;
    expect_mr("the send", sys::MACH_MSG_SUCCESS, mr)?;
    let eintrs = EINTR_SEEN.load(Ordering::SeqCst) - eintr;
    if seen {
        expect_eq("EINTRs the library rule re-issued", 1, eintrs)?;
    } else {
        ctx.diag(format!("could not see the send wait; {eintrs} EINTR"));
    }
    expect_msgcount(b, f.p, 1)?;
    expect_eq("the id sent", 1, b.recv_now(f.p)?.header().id)?;
    b.expect_empty(f.p)
}

fn ignored_signals_do_not_interrupt_a_receive_with_rcv_interrupt(ctx: &mut Ctx) -> TestResult {
    ignore_signal(libc::SIGUSR2)?;
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let me = gettid();
    let (r, t) = std::thread::scope(|scope| {
        let t = scope.spawn(|| -> Result<bool, String> {
            let seen = wait_thread_blocked(me, s.fd());
            for sig in [libc::SIGUSR2, libc::SIGWINCH, libc::SIGUSR2] {
                tgkill(me, sig)?;
            }
            let still = wait_thread_blocked(me, s.fd());
            s.send_ok(&Msg::to(p, MAKE_SEND).id(4))?;
            Ok(seen && still)
        });
        let r = s.recv_opt(p, RCV_SIZE, MACH_RCV_INTERRUPT, 0);
        (r, join(t))
    });
    if !t?? {
        ctx.diag("could not see the receive wait");
    }
    expect_mr(
        "a receive with RCV_INTERRUPT sent ignored signals",
        sys::MACH_MSG_SUCCESS,
        r.mr,
    )?;
    expect_eq("the id received", 4, r.header().id)
}

/// Stops the child with SIGSTOP, waits until it is stopped, continues it
/// with SIGCONT and waits until it runs again.
fn stop_and_continue(pid: libc::pid_t) -> TestResult {
    for (sig, flag, what) in [
        (libc::SIGSTOP, libc::WUNTRACED, "stopped"),
        (libc::SIGCONT, libc::WCONTINUED, "continued"),
    ] {
        // SAFETY: kill and waitpid have no memory-safety preconditions;
        // the pid is our unreaped child.
        unsafe {
            if libc::kill(pid, sig) != 0 {
                return Err(format!(
                    "kill({pid}, {sig}): {}",
                    std::io::Error::last_os_error()
                ));
            }
            let mut status = 0;
            loop {
                let rc = libc::waitpid(pid, &mut status, flag);
                if rc == pid {
                    break;
                }
                if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                    return Err(format!(
                        "waitpid({pid}) for {what}: {}",
                        std::io::Error::last_os_error()
                    ));
                }
            }
            let ok = if sig == libc::SIGSTOP {
                libc::WIFSTOPPED(status)
            } else {
                libc::WIFCONTINUED(status)
            };
            if !ok {
                return Err(format!(
                    "the child was not {what} (wait status {status:#x})"
                ));
            }
        }
    }
    Ok(())
}

/// The child's side: receive (RCV_INTERRUPT) on a new port of `x`, raw,
/// and report what came back.
fn child_receives(x: &TestSpace, peer: &mut Peer) -> TestResult {
    let p = x.new_receive()?;
    peer.send_name("port", p)?;
    let mut buf = Buf::new(RCV_SIZE as usize);
    let mut a = sys::MsgArgs {
        msg: buf.ptr() as u64,
        option: MACH_RCV_MSG | MACH_RCV_INTERRUPT,
        rcv_size: RCV_SIZE,
        rcv_name: p.0,
        ..Default::default()
    };
    // SAFETY: `buf` is ours with room for RCV_SIZE bytes.
    let r = unsafe { mach_msg_raw(x.fd(), &mut a) };
    peer.send(&format!(
        "{:?} {} {}",
        r.map_err(errno_name),
        Mr(a.mr),
        buf.header().id
    ))?;
    let _ = peer.recv();
    Ok(())
}

fn sigstop_and_sigcont_do_not_interrupt_a_receive_with_rcv_interrupt(ctx: &mut Ctx) -> TestResult {
    let x = TestSpace::open_as("X (the child's space)")?;
    let xfd = x.fd();
    let mut child = proc::spawn(&[], |peer| child_receives(&x, peer))?;
    let a = TestSpace::open_as("A (the parent's space)")?;
    let tx = a.task_for(&x)?;
    drop(x);
    let p = child.peer.recv_name("port")?;
    let to_p = a.extract_right(tx, p, MAKE_SEND).succeeds()?.name;
    let pid = child.pid();
    let seen = wait_blocked_in_msg(pid, pid, xfd);
    stop_and_continue(pid)?;
    let again = wait_blocked_in_msg(pid, pid, xfd);
    if !(seen && again) {
        ctx.diag("could not see the child's receive wait");
    }
    a.send_ok(&Msg::to(to_p, COPY_SEND).id(7))?;
    child.peer.expect("Ok(()) MACH_MSG_SUCCESS 7")?;
    child.peer.send("exit")?;
    child.wait()
}

fn sigstop_and_sigcont_do_not_interrupt_a_send_with_send_interrupt(ctx: &mut Ctx) -> TestResult {
    let x = TestSpace::open_as("X (the child's space)")?;
    let xfd = x.fd();
    let mut child = proc::spawn(&[], |peer| {
        peer.expect("send")?;
        // N1: a send right to the parent's full port.
        let mr = x.send_opt(&Msg::to(N1, COPY_SEND).id(1), MACH_SEND_INTERRUPT, 0);
        peer.send(&format!("{mr}"))?;
        let _ = peer.recv();
        Ok(())
    })?;
    let a = TestSpace::open_as("A (the parent's space)")?;
    let tx = a.task_for(&x)?;
    drop(x);
    let p = a.new_receive()?;
    set_qlimit(&a, p, 1)?;
    a.send_ok(&Msg::to(p, MAKE_SEND).id(0))?;
    a.insert_right(tx, N1, p, MAKE_SEND).succeeds()?;
    child.peer.send("send")?;
    let pid = child.pid();
    let seen = wait_blocked_in_msg(pid, pid, xfd);
    stop_and_continue(pid)?;
    let again = wait_blocked_in_msg(pid, pid, xfd);
    if !(seen && again) {
        ctx.diag("could not see the child's send wait");
    }
    expect_eq("the id received first", 0, a.recv_now(p)?.header().id)?;
    child.peer.expect("MACH_MSG_SUCCESS")?;
    let r = a.recv_opt(p, RCV_SIZE, MACH_RCV_TIMEOUT, 5000);
    expect_mr(
        "the receive of the child's message",
        sys::MACH_MSG_SUCCESS,
        r.mr,
    )?;
    expect_eq("its id", 1, r.header().id)?;
    child.peer.send("exit")?;
    child.wait()
}
