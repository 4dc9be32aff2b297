//! Copy-out failures (docs/messages.md, Receive 5): a right the receiver's
//! full space cannot name is destroyed and arrives as MACH_PORT_NULL with
//! MACH_RCV_HEADER_ERROR or MACH_RCV_BODY_ERROR | MACH_MSG_IPC_SPACE; an
//! out-of-line region the receiver cannot map arrives at address 0 with
//! MACH_RCV_BODY_ERROR | MACH_MSG_VM_SPACE. The rest is delivered.

use std::time::Instant;

use mach::{sys, PortName};

use crate::check::*;
use crate::msg::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    full_receiver_space_destroys_the_rights_it_cannot_name_and_delivers_the_rest @ 1800,
    ool_region_the_receiver_cannot_map_arrives_at_address_0_with_body_error_vm_space,
];

/// Allocates dead names in `s` until KERN_NO_SPACE.
fn fill(ctx: &mut Ctx, s: &TestSpace) -> TestResult {
    let start = Instant::now();
    let mut n = 0u32;
    loop {
        match s.space().allocate(TASK, DEAD_NAME) {
            Ok(_) => n += 1,
            Err(e) if e == KERN_NO_SPACE => break,
            Err(e) => return Err(format!("allocate(DEAD_NAME) number {}: {e}", n + 1)),
        }
        if n > sys::MACH_SPACE_MAX_NAMES {
            return Err("the space does not fill up".into());
        }
    }
    ctx.diag(format!(
        "{n} dead names allocated in {:.1} s",
        start.elapsed().as_secs_f64()
    ));
    Ok(())
}

fn full_receiver_space_destroys_the_rights_it_cannot_name_and_delivers_the_rest(
    ctx: &mut Ctx,
) -> TestResult {
    let base = Baseline::new()?;
    {
        let pr = Pair::new()?;
        let (a, b) = (&pr.a, &pr.b);
        let p = b.new_receive()?;
        let to_p = a.extract_right(pr.tb, p, MAKE_SEND).succeeds()?.name;
        let r = a.new_receive()?;
        let q1 = a.new_receive()?;
        let q2 = a.new_send_receive(1)?;
        let names = [q1];
        a.send_ok(
            &Msg::to(to_p, COPY_SEND)
                .reply(r, MAKE_SEND_ONCE)
                .id(1)
                .words(&[11]),
        )?;
        a.send_ok(
            &Msg::to(to_p, COPY_SEND)
                .port(q1, MAKE_SEND)
                .port(q2, MOVE_RECEIVE)
                .ool_ports(names.as_ptr(), 1, MAKE_SEND_ONCE, false)
                .id(2)
                .words(&[22]),
        )?;
        // A send right to a port B already names needs no new name.
        a.send_ok(&Msg::to(to_p, COPY_SEND).port(to_p, COPY_SEND).id(3))?;
        fill(ctx, b)?;

        let r1 = b.recv_opt(p, RCV_SIZE, MACH_RCV_TIMEOUT, 0);
        expect_mr(
            "receive of a message whose reply right cannot be named",
            sys::MACH_RCV_HEADER_ERROR | sys::MACH_MSG_IPC_SPACE,
            r1.mr,
        )?;
        let h = r1.header();
        expect_eq(
            "(msgh_remote_port, msgh_local_port, msgh_id)",
            (NULL, p, 1),
            (h.remote, h.local, h.id),
        )?;
        expect_eq("the data", 11u32.to_ne_bytes().to_vec(), r1.buf.data()?)?;
        // The reply right, destroyed, sent a send-once notification to r,
        // which holds it until received.
        let st = status(a, r)?;
        expect_eq(
            "(sorights, msgcount) of the reply port",
            (1, 1),
            (st.sorights, st.msgcount),
        )?;
        a.expect_send_once_notifications(r, 1)?;
        let st = status(a, r)?;
        expect_eq(
            "(sorights, msgcount) of the reply port once its notification is received",
            (0, 0),
            (st.sorights, st.msgcount),
        )?;

        let r2 = b.recv_opt(p, RCV_SIZE, MACH_RCV_TIMEOUT, 0);
        expect_mr(
            "receive of a message whose body rights cannot be named",
            sys::MACH_RCV_BODY_ERROR | sys::MACH_MSG_IPC_SPACE,
            r2.mr,
        )?;
        expect_eq("the id", 2, r2.header().id)?;
        expect_eq("the data", 22u32.to_ne_bytes().to_vec(), r2.buf.data()?)?;
        let descs = r2.buf.descriptors()?;
        ensure(descs.len() == 3, || format!("received {descs:?}"))?;
        for d in &descs[..2] {
            match d {
                Desc::Port { name, .. } => expect_eq("a port descriptor's name", NULL, *name)?,
                other => return Err(format!("expected a port descriptor, got {other:?}")),
            }
        }
        match descs[2] {
            Desc::OolPorts { address, count, .. } => {
                expect_eq("the array's count", 1, count)?;
                ensure(address != 0, || "the array did not arrive".to_string())?;
                // SAFETY: The module mapped one name at `address` for us.
                let name = unsafe { std::ptr::read(address as *const u32) };
                expect_eq("the name in the array", NULL, PortName(name))?;
            }
            other => {
                return Err(format!(
                    "expected an out-of-line ports descriptor, got {other:?}"
                ))
            }
        }
        // The send right to q1 is gone; the send-once right in the array,
        // destroyed, sent a send-once notification to q1, which holds it
        // until received.
        let st = status(a, q1)?;
        expect_eq(
            "(srights, sorights, msgcount) of q1",
            (0, 1, 1),
            (st.srights, st.sorights, st.msgcount),
        )?;
        a.expect_send_once_notifications(q1, 1)?;
        let st = status(a, q1)?;
        expect_eq(
            "(srights, sorights, msgcount) of q1 once its notification is received",
            (0, 0, 0),
            (st.srights, st.sorights, st.msgcount),
        )?;
        a.expect_dead(q2, 1)?;

        let r3 = b.recv_opt(p, RCV_SIZE, MACH_RCV_TIMEOUT, 0);
        expect_mr(
            "receive of a send right merging into a name",
            sys::MACH_MSG_SUCCESS,
            r3.mr,
        )?;
        match r3.buf.descriptors()?.as_slice() {
            [Desc::Port { name, .. }] => expect_eq("the name", p, *name)?,
            other => return Err(format!("expected one port descriptor, got {other:?}")),
        }
        b.expect_send_receive(p, 1)?;
        base.expect_queued("after the receives", 0, 0)?;
    }
    base.check("closing the spaces")
}

/// VmSize of this process, in bytes.
fn vm_size() -> Result<u64, String> {
    let text = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("/proc/self/status: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| "no VmSize in /proc/self/status".to_string())
}

fn set_address_space_limit(bytes: u64) -> TestResult {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read or write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_AS, &mut lim) != 0 {
            return Err(format!("getrlimit: {}", std::io::Error::last_os_error()));
        }
        lim.rlim_cur = bytes;
        if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
            return Err(format!("setrlimit: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

fn ool_region_the_receiver_cannot_map_arrives_at_address_0_with_body_error_vm_space(
    _: &mut Ctx,
) -> TestResult {
    let base = Baseline::new()?;
    {
        let pr = Pair::new()?;
        let (a, b) = (&pr.a, &pr.b);
        let p = b.new_receive()?;
        let to_p = a.extract_right(pr.tb, p, MAKE_SEND).succeeds()?.name;
        let len = 16 << 20;
        let src = map(len)?;
        a.send_ok(
            &Msg::to(to_p, COPY_SEND)
                .ool(src, len as u32, true)
                .id(4)
                .words(&[44]),
        )?;
        // The receiver may grow by 4 MiB from here: not enough for 16.
        let mut buf = Buf::new(RCV_SIZE as usize);
        set_address_space_limit(vm_size()? + (4 << 20))?;
        // SAFETY: `buf` is ours with room for RCV_SIZE bytes.
        let mr = Mr(unsafe {
            mach_msg(
                b.fd(),
                buf.ptr(),
                MACH_RCV_MSG | MACH_RCV_TIMEOUT,
                0,
                RCV_SIZE,
                p,
                0,
                NULL,
            )
        });
        set_address_space_limit(libc::RLIM_INFINITY)?;
        expect_mr(
            "receive of 16 MiB out of line with 4 MiB of address space left",
            sys::MACH_RCV_BODY_ERROR | sys::MACH_MSG_VM_SPACE,
            mr,
        )?;
        expect_eq("the id", 4, buf.header().id)?;
        expect_eq("the data", 44u32.to_ne_bytes().to_vec(), buf.data()?)?;
        match buf.descriptors()?.as_slice() {
            [Desc::Ool { address, .. }] => expect_eq("the region's address", 0, *address)?,
            other => {
                return Err(format!(
                    "expected one out-of-line descriptor, got {other:?}"
                ))
            }
        }
        base.expect_queued("after the receive", 0, 0)?;
    }
    base.check("closing the spaces")
}
