//! The errno of MACH_IOC_MSG and the attribute ioctls: only the argument
//! struct itself gives one (EFAULT, EINVAL for a reserved field, ENOTTY for
//! a wrong command); everything about the message is a Mach code.

use mach::sys;

use crate::check::*;
use crate::msg::*;
use crate::raw::{self, ioc, Pages, IOC_READ_WRITE};
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    api_version_is_4,
    msg_with_a_nonzero_reserved_field_gives_einval_and_sends_nothing,
    msg_with_unreadable_args_gives_efault_and_sends_nothing,
    msg_with_read_only_args_gives_efault,
    attributes_with_a_nonzero_reserved_field_give_einval,
    attributes_with_unreadable_args_give_efault,
    msg_and_attributes_with_a_wrong_size_give_enotty,
];

/// Version 4 (issue 5: port sets, notification requests, backup ports,
/// send-once notifications).
fn api_version_is_4(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    s.api_version().returns(4)
}

/// Args for a send of `buf` (a 24-byte message) without waiting.
fn send_args(buf: &mut Buf) -> sys::MsgArgs {
    sys::MsgArgs {
        msg: buf.ptr() as u64,
        option: MACH_SEND_MSG | MACH_SEND_TIMEOUT,
        send_size: buf.len() as u32,
        ..Default::default()
    }
}

fn msg_with_a_nonzero_reserved_field_gives_einval_and_sends_nothing(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let mut buf = Msg::to(p, MAKE_SEND).build();
    for reserved in [1, 0x8000_0000, 0xffff_ffff] {
        let mut a = send_args(&mut buf);
        a.reserved = reserved;
        // SAFETY: `buf` is ours and holds the message.
        let r = unsafe { mach_msg_raw(s.fd(), &mut a) };
        expect_eq(
            &format!("MACH_IOC_MSG with reserved {reserved:#x}"),
            Err(errno_name(libc::EINVAL)),
            r.map_err(errno_name),
        )?;
    }
    s.expect_empty(p)
}

fn msg_with_unreadable_args_gives_efault_and_sends_nothing(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    let mut buf = Msg::to(p, MAKE_SEND).build();
    let a = send_args(&mut buf);
    let mut pages = Pages::new(2)?;
    let pg = pages.page_len();
    // The args end 8 bytes into an unmapped page.
    let at = 2 * pg - (std::mem::size_of::<sys::MsgArgs>() - 8);
    // SAFETY: MsgArgs is plain data.
    let words: Vec<u32> = unsafe {
        std::slice::from_raw_parts((&a as *const sys::MsgArgs).cast::<u32>(), 8).to_vec()
    };
    pages.write_words(at, &words);
    pages.unmap(1)?;
    for (what, addr) in [
        ("null args", std::ptr::null_mut()),
        ("unmapped args", pages.page(1)),
        ("args running into an unmapped page", pages.at(at)),
    ] {
        // SAFETY: The addresses fault.
        let r = unsafe { raw::ioctl(&s, sys::MACH_IOC_MSG, addr) };
        expect_eq(
            &format!("MACH_IOC_MSG with {what}"),
            Err(errno_name(libc::EFAULT)),
            r.map_err(errno_name),
        )?;
    }
    s.expect_empty(p)
}

fn msg_with_read_only_args_gives_efault(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    s.send_ok(&Msg::to(p, MAKE_SEND))?;
    let mut buf = Buf::new(RCV_SIZE as usize);
    let a = sys::MsgArgs {
        msg: buf.ptr() as u64,
        option: MACH_RCV_MSG | MACH_RCV_TIMEOUT,
        rcv_size: RCV_SIZE,
        rcv_name: p.0,
        ..Default::default()
    };
    let mut pages = Pages::new(1)?;
    // SAFETY: MsgArgs is plain data.
    let words: Vec<u32> = unsafe {
        std::slice::from_raw_parts((&a as *const sys::MsgArgs).cast::<u32>(), 10).to_vec()
    };
    pages.write_words(0, &words);
    pages.make_read_only(0)?;
    // SAFETY: A read-only page of ours: the module cannot write back.
    let r = unsafe { raw::ioctl(&s, sys::MACH_IOC_MSG, pages.page(0)) };
    expect_eq(
        "MACH_IOC_MSG with read-only args",
        Err(errno_name(libc::EFAULT)),
        r.map_err(errno_name),
    )
}

fn attributes_with_a_nonzero_reserved_field_give_einval(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let p = s.new_receive()?;
    for cmd in [
        sys::MACH_IOC_PORT_GET_ATTRIBUTES,
        sys::MACH_IOC_PORT_SET_ATTRIBUTES,
    ] {
        let mut a = sys::PortAttributesArgs {
            task: TASK.0,
            name: p.0,
            flavor: sys::MACH_PORT_LIMITS_INFO,
            count: 1,
            reserved: 1,
            ..Default::default()
        };
        a.info[0] = 9;
        expect_eq(
            &format!("attributes ioctl {cmd:#x} with reserved 1"),
            Err(errno_name(libc::EINVAL)),
            attributes_ioctl(&s, cmd, &mut a).map_err(errno_name),
        )?;
    }
    expect_eq("the queue limit", 5, qlimit(&s, p)?)
}

fn attributes_with_unreadable_args_give_efault(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let mut pages = Pages::new(1)?;
    pages.unmap(0)?;
    for cmd in [
        sys::MACH_IOC_PORT_GET_ATTRIBUTES,
        sys::MACH_IOC_PORT_SET_ATTRIBUTES,
    ] {
        for addr in [std::ptr::null_mut(), pages.page(0)] {
            // SAFETY: The addresses fault.
            let r = unsafe { raw::ioctl(&s, cmd, addr) };
            expect_eq(
                &format!("attributes ioctl {cmd:#x} with args at {addr:?}"),
                Err(errno_name(libc::EFAULT)),
                r.map_err(errno_name),
            )?;
        }
    }
    Ok(())
}

fn msg_and_attributes_with_a_wrong_size_give_enotty(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    let page = Pages::new(1)?;
    for (cmd, size) in [
        (sys::MACH_IOC_MSG, 40u32),
        (sys::MACH_IOC_PORT_GET_ATTRIBUTES, 64),
        (sys::MACH_IOC_PORT_SET_ATTRIBUTES, 64),
    ] {
        let nr = cmd & 0xff;
        for bad in [size - 8, size + 8, 0] {
            let c = ioc(IOC_READ_WRITE, b'M', nr, bad);
            // SAFETY: A zeroed page of ours, larger than any size used.
            let r = unsafe { raw::ioctl(&s, c, page.page(0)) };
            expect_eq(
                &format!("command {nr:#x} with size {bad}"),
                Err(errno_name(libc::ENOTTY)),
                r.map_err(errno_name),
            )?;
        }
    }
    Ok(())
}
