//! Queue limits (docs/messages.md, Send 5 and 6): a full queue makes a
//! send to a send right wait, time out (nothing lost: every right stays
//! with the sender) or wake when there is room; a send-once destination
//! never waits; a destination that dies under a waiting sender.

use std::time::{Duration, Instant};

use mach::{sys, PortName};

use crate::check::*;
use crate::msg::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    default_queue_limit_lets_five_messages_wait_and_times_out_the_sixth,
    timed_out_send_leaves_every_right_and_page_with_the_sender,
    send_timeout_waits_about_the_timeout_on_a_full_queue,
    blocked_sender_completes_when_a_message_is_received,
    send_to_a_send_once_right_bypasses_the_queue_limit,
    queue_limit_zero_makes_every_send_right_send_wait_but_not_send_once,
    queue_limit_one_holds_one_message,
    queue_limit_1024_holds_1024_messages,
    raising_the_queue_limit_wakes_a_blocked_sender,
    lowering_the_queue_limit_keeps_the_queued_messages_and_holds_senders_back,
    destination_destroyed_under_a_waiting_sender_gives_success_and_releases_the_message,
];

/// A space with a port `p`, a send right `to_p` to it from a second space
/// (so that the sender can be checked alone), and a baseline.
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

    fn msg(&self, id: u32) -> Msg {
        Msg::to(self.to_p, COPY_SEND).id(id)
    }

    /// Sends messages `ids` without waiting.
    fn fill(&self, ids: std::ops::Range<u32>) -> TestResult {
        for id in ids {
            self.a()
                .send_now_gives(&self.msg(id), sys::MACH_MSG_SUCCESS)?;
        }
        Ok(())
    }

    /// Receives and expects the messages `ids` in order, then nothing.
    fn drain(&self, ids: impl IntoIterator<Item = u32>) -> TestResult {
        for id in ids {
            expect_eq(
                "the id received",
                id,
                self.b().recv_now(self.p)?.header().id,
            )?;
        }
        self.b().expect_empty(self.p)
    }

    fn finish(self) -> TestResult {
        let Fixture { base, pr, .. } = self;
        drop(pr);
        base.check("closing the spaces")
    }
}

/// Runs a send of `m` from `s` on a thread of `scope` and gives its handle
/// once the thread is blocked in the ioctl, and whether that was seen.
fn blocked_send<'s, 'e>(
    scope: &'s std::thread::Scope<'s, 'e>,
    s: &'e TestSpace,
    m: Msg,
) -> (std::thread::ScopedJoinHandle<'s, Mr>, bool) {
    spawn_blocked(scope, s.fd(), move || s.send(&m))
}

fn default_queue_limit_lets_five_messages_wait_and_times_out_the_sixth(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    expect_eq("the default queue limit", 5, qlimit(f.b(), f.p)?)?;
    f.fill(0..5)?;
    expect_msgcount(f.b(), f.p, 5)?;
    f.a().send_now_gives(&f.msg(5), sys::MACH_SEND_TIMED_OUT)?;
    expect_msgcount(f.b(), f.p, 5)?;
    f.drain(0..5)?;
    f.finish()
}

fn timed_out_send_leaves_every_right_and_page_with_the_sender(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let (a, b) = (f.a(), f.b());
    f.fill(0..5)?;
    // Rights of every kind, and pages to deallocate.
    let r = a.new_receive()?;
    let so = a.new_send_once(r)?;
    let q = a.new_send_receive(1)?;
    let x = a.new_send_receive(3)?;
    let pg = page();
    let region = map(2 * pg)?;
    let names = [x, x];
    let names_page = map(pg)?;
    // SAFETY: Our own mapping of one page.
    unsafe { std::ptr::copy_nonoverlapping(names.as_ptr().cast::<u8>(), names_page, 8) };
    let m = Msg::to(f.to_p, MOVE_SEND)
        .reply(so, MOVE_SEND_ONCE)
        .port(q, MOVE_RECEIVE)
        .port(x, MOVE_SEND)
        .port(r, MAKE_SEND_ONCE)
        .ool(region, (2 * pg) as u32, true)
        .ool_ports(names_page.cast::<PortName>(), 2, MOVE_SEND, true)
        .id(99);
    let before = f.pr.states()?;
    let counts = f.base.now()?;
    for timeout in [0, 20] {
        expect_mr(
            &format!("send to a full queue with SEND_TIMEOUT {timeout}"),
            sys::MACH_SEND_TIMED_OUT,
            a.send_opt(&m, MACH_SEND_TIMEOUT, timeout),
        )?;
        f.pr.expect_states(&before, "a send that timed out")?;
        ensure(
            is_mapped(region) && is_mapped(region.wrapping_add(pg)) && is_mapped(names_page),
            || "a send that timed out unmapped the pages to deallocate".into(),
        )?;
        let now = f.base.now()?;
        ensure(
            now.messages == counts.messages && now.message_bytes == counts.message_bytes,
            || format!("a send that timed out changed the queued counts: {counts:?} then {now:?}"),
        )?;
        expect_eq("sorights of the reply port", 1, status(a, r)?.sorights)?;
    }
    expect_msgcount(b, f.p, 5)?;
    // SAFETY: Ours, unused from here on.
    unsafe {
        unmap(region, 2 * pg);
        unmap(names_page, pg);
    }
    f.finish()
}

fn send_timeout_waits_about_the_timeout_on_a_full_queue(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    f.fill(0..5)?;
    let start = Instant::now();
    expect_mr(
        "send to a full queue with SEND_TIMEOUT 300",
        sys::MACH_SEND_TIMED_OUT,
        f.a().send_opt(&f.msg(5), MACH_SEND_TIMEOUT, 300),
    )?;
    let took = start.elapsed();
    ensure(
        took >= Duration::from_millis(280) && took < Duration::from_secs(30),
        || format!("a send with a 300 ms timeout returned after {took:?}"),
    )?;
    f.finish()
}

fn blocked_sender_completes_when_a_message_is_received(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    f.fill(0..5)?;
    let mr = std::thread::scope(|scope| {
        let (h, _) = blocked_send(scope, f.a(), f.msg(5));
        let first = f.b().recv_now(f.p).map(|m| m.header().id);
        (join(h), first)
    });
    expect_eq("the first id received", Ok(0), mr.1)?;
    expect_mr("the blocked send", sys::MACH_MSG_SUCCESS, mr.0?)?;
    f.drain(1..6)?;
    f.finish()
}

fn send_to_a_send_once_right_bypasses_the_queue_limit(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    f.fill(0..5)?;
    let so = f
        .a()
        .extract_right(f.pr.tb, f.p, MAKE_SEND_ONCE)
        .succeeds()?
        .name;
    f.a()
        .send_now_gives(&Msg::to(so, MOVE_SEND_ONCE).id(5), sys::MACH_MSG_SUCCESS)?;
    // A MAKE_SEND_ONCE destination is a send-once right too.
    f.b()
        .send_now_gives(&Msg::to(f.p, MAKE_SEND_ONCE).id(6), sys::MACH_MSG_SUCCESS)?;
    expect_msgcount(f.b(), f.p, 7)?;
    f.a().send_now_gives(&f.msg(7), sys::MACH_SEND_TIMED_OUT)?;
    f.drain(0..7)?;
    f.finish()
}

fn queue_limit_zero_makes_every_send_right_send_wait_but_not_send_once(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    set_qlimit(f.b(), f.p, 0)?;
    expect_eq("the queue limit", 0, qlimit(f.b(), f.p)?)?;
    f.a().send_now_gives(&f.msg(0), sys::MACH_SEND_TIMED_OUT)?;
    expect_mr(
        "send with SEND_TIMEOUT 50 to a queue limited to 0",
        sys::MACH_SEND_TIMED_OUT,
        f.a().send_opt(&f.msg(0), MACH_SEND_TIMEOUT, 50),
    )?;
    f.b()
        .send_now_gives(&Msg::to(f.p, MAKE_SEND).id(0), sys::MACH_SEND_TIMED_OUT)?;
    f.b()
        .send_now_gives(&Msg::to(f.p, MAKE_SEND_ONCE).id(1), sys::MACH_MSG_SUCCESS)?;
    expect_msgcount(f.b(), f.p, 1)?;
    f.drain([1])?;
    f.finish()
}

fn queue_limit_one_holds_one_message(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    set_qlimit(f.b(), f.p, 1)?;
    f.fill(0..1)?;
    f.a().send_now_gives(&f.msg(1), sys::MACH_SEND_TIMED_OUT)?;
    f.drain([0])?;
    f.fill(1..2)?;
    f.drain([1])?;
    f.finish()
}

fn queue_limit_1024_holds_1024_messages(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    set_qlimit(f.b(), f.p, 1024)?;
    expect_eq("the queue limit", 1024, qlimit(f.b(), f.p)?)?;
    f.fill(0..1024)?;
    f.a()
        .send_now_gives(&f.msg(1024), sys::MACH_SEND_TIMED_OUT)?;
    f.base
        .expect_queued("1024 messages queued", 1024, 1024 * 24)?;
    f.drain(0..1024)?;
    f.finish()
}

fn raising_the_queue_limit_wakes_a_blocked_sender(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    set_qlimit(f.b(), f.p, 1)?;
    f.fill(0..1)?;
    let (mr, set) = std::thread::scope(|scope| {
        let (h, _) = blocked_send(scope, f.a(), f.msg(1));
        let set = set_qlimit(f.b(), f.p, 2);
        (join(h), set)
    });
    set?;
    expect_mr(
        "the blocked send after the limit went up",
        sys::MACH_MSG_SUCCESS,
        mr?,
    )?;
    expect_msgcount(f.b(), f.p, 2)?;
    f.drain(0..2)?;
    f.finish()
}

fn lowering_the_queue_limit_keeps_the_queued_messages_and_holds_senders_back(
    _: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    f.fill(0..5)?;
    set_qlimit(f.b(), f.p, 2)?;
    expect_msgcount(f.b(), f.p, 5)?;
    for id in 0..3 {
        f.a().send_now_gives(&f.msg(10), sys::MACH_SEND_TIMED_OUT)?;
        expect_eq("the id received", id, f.b().recv_now(f.p)?.header().id)?;
    }
    // Two left: still full.
    f.a().send_now_gives(&f.msg(10), sys::MACH_SEND_TIMED_OUT)?;
    expect_eq("the id received", 3, f.b().recv_now(f.p)?.header().id)?;
    f.fill(5..6)?;
    f.drain([4, 5])?;
    f.finish()
}

fn destination_destroyed_under_a_waiting_sender_gives_success_and_releases_the_message(
    ctx: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    f.fill(0..5)?;
    let r = f.a().new_receive()?;
    let m = f.msg(5).reply(r, MAKE_SEND_ONCE).port(r, MAKE_SEND);
    let (mr, destroyed, blocked) = std::thread::scope(|scope| {
        let (h, blocked) = blocked_send(scope, f.a(), m);
        let destroyed = f.b().destroy(TASK, f.p).succeeds();
        (join(h), destroyed, blocked)
    });
    destroyed?;
    let mr = mr?;
    if blocked || mr.0 != sys::MACH_SEND_INVALID_DEST {
        expect_mr(
            "a send waiting on a queue whose port was destroyed",
            sys::MACH_MSG_SUCCESS,
            mr,
        )?;
    } else {
        // /proc could not show the sender waiting: the port may have died
        // before the send began.
        ctx.diag("could not see the sender wait; the send may have come after the destroy");
    }
    f.a().expect_dead(f.to_p, 1)?;
    // A send that went through made a send-once right to R; destroyed with
    // the message, it sent a send-once notification to R, which holds it
    // until received. A send refused with MACH_SEND_INVALID_DEST made none.
    let n = u32::from(mr.0 == sys::MACH_MSG_SUCCESS);
    let st = status(f.a(), r)?;
    expect_eq(
        "(sorights, srights, msgcount) of the reply port",
        (n, 0, n),
        (st.sorights, st.srights, st.msgcount),
    )?;
    f.base.expect_queued(
        "after the port died, before R's notifications are received",
        u64::from(n),
        24 * u64::from(n),
    )?;
    f.a().expect_send_once_notifications(r, n)?;
    let st = status(f.a(), r)?;
    expect_eq(
        "(sorights, srights, msgcount) of the reply port once its notifications are received",
        (0, 0, 0),
        (st.sorights, st.srights, st.msgcount),
    )?;
    f.base.expect_queued("after the port died", 0, 0)?;
    f.finish()
}
