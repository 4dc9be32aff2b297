//! Many threads on one port: every message arrives exactly once, each
//! sender's messages in the order it sent them, and the sequence numbers
//! count every message.

use std::collections::HashSet;

use mach::sys;

use crate::check::*;
use crate::msg::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    many_threads_sending_to_one_port_lose_and_duplicate_nothing_and_keep_each_senders_order @ 300,
    many_threads_receiving_from_one_port_get_each_message_once_in_queue_order @ 300,
];

const SENDERS: u32 = 8;
const PER_SENDER: u32 = 150;

fn many_threads_sending_to_one_port_lose_and_duplicate_nothing_and_keep_each_senders_order(
    ctx: &mut Ctx,
) -> TestResult {
    let base = Baseline::new()?;
    {
        let pr = Pair::new()?;
        let (a, b) = (&pr.a, &pr.b);
        let p = b.new_receive()?;
        let to_p = a.extract_right(pr.tb, p, MAKE_SEND).succeeds()?.name;
        let total = SENDERS * PER_SENDER;
        let start = std::time::Instant::now();
        let received = std::thread::scope(|scope| -> Result<Vec<(u32, u32, u32)>, String> {
            let senders: Vec<_> = (0..SENDERS)
                .map(|t| {
                    scope.spawn(move || -> TestResult {
                        for i in 0..PER_SENDER {
                            let m = Msg::to(to_p, COPY_SEND).id(t).words(&[t, i]);
                            expect_mr(
                                &format!("send {i} of thread {t}"),
                                sys::MACH_MSG_SUCCESS,
                                a.send_opt(&m, MACH_SEND_TIMEOUT, 20_000),
                            )?;
                        }
                        Ok(())
                    })
                })
                .collect();
            let mut got = Vec::with_capacity(total as usize);
            for n in 0..total {
                let r = b.recv_opt(p, RCV_SIZE, MACH_RCV_TIMEOUT | elements(1), 20_000);
                expect_mr(&format!("receive {n}"), sys::MACH_MSG_SUCCESS, r.mr)?;
                let d = r.buf.data()?;
                let word = |i: usize| u32::from_ne_bytes(d[4 * i..4 * i + 4].try_into().unwrap());
                got.push((word(0), word(1), r.buf.trailer()?.seqno));
            }
            for h in senders {
                join(h)??;
            }
            Ok(got)
        })?;
        ctx.diag(format!(
            "{total} messages from {SENDERS} threads in {:.2} s",
            start.elapsed().as_secs_f64()
        ));
        let mut next = vec![0u32; SENDERS as usize];
        for (n, &(t, i, seqno)) in received.iter().enumerate() {
            expect_eq(&format!("the seqno of message {n}"), n as u32, seqno)?;
            ensure(t < SENDERS, || format!("message {n} names thread {t}"))?;
            ensure(i == next[t as usize], || {
                format!(
                    "message {n}: thread {t}'s message {i} arrived when {} was next",
                    next[t as usize]
                )
            })?;
            next[t as usize] += 1;
        }
        expect_eq(
            "messages per thread",
            vec![PER_SENDER; SENDERS as usize],
            next,
        )?;
        b.expect_empty(p)?;
    }
    base.check("closing the spaces")
}

const RECEIVERS: u32 = 4;
const MESSAGES: u32 = 600;
const STOP: u32 = 0xffff_ffff;

fn many_threads_receiving_from_one_port_get_each_message_once_in_queue_order(
    _: &mut Ctx,
) -> TestResult {
    let base = Baseline::new()?;
    {
        let s = TestSpace::open()?;
        let p = s.new_receive()?;
        let per = std::thread::scope(|scope| -> Result<Vec<Vec<u32>>, String> {
            let receivers: Vec<_> = (0..RECEIVERS)
                .map(|_| {
                    let s = &s;
                    scope.spawn(move || -> Result<Vec<u32>, String> {
                        let mut ids = Vec::new();
                        loop {
                            let r = s.recv_opt(p, RCV_SIZE, MACH_RCV_TIMEOUT, 20_000);
                            expect_mr("receive", sys::MACH_MSG_SUCCESS, r.mr)?;
                            let id = r.header().id;
                            if id == STOP {
                                return Ok(ids);
                            }
                            ids.push(id);
                        }
                    })
                })
                .collect();
            for id in 0..MESSAGES {
                expect_mr(
                    &format!("send {id}"),
                    sys::MACH_MSG_SUCCESS,
                    s.send_opt(&Msg::to(p, MAKE_SEND).id(id), MACH_SEND_TIMEOUT, 20_000),
                )?;
            }
            for _ in 0..RECEIVERS {
                s.send_ok(&Msg::to(p, MAKE_SEND_ONCE).id(STOP))?;
            }
            receivers.into_iter().map(|h| join(h)?).collect()
        })?;
        let mut seen = HashSet::new();
        for (t, ids) in per.iter().enumerate() {
            ensure(ids.windows(2).all(|w| w[0] < w[1]), || {
                format!("receiver {t} got ids out of queue order: {ids:?}")
            })?;
            for &id in ids {
                ensure(seen.insert(id), || {
                    format!("message {id} was received twice")
                })?;
            }
        }
        expect_eq("messages received", MESSAGES as usize, seen.len())?;
        s.expect_empty(p)?;
    }
    base.check("closing the space")
}
