//! Out-of-line memory: what arrives (a fresh private mapping with the bytes
//! as they were when sent), the deallocate flag, size 0, and a 16 MiB
//! transfer (docs/messages.md, Send 4 and 7, Receive 4).

use mach::{sys, PortName};

use crate::check::*;
use crate::msg::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    ool_data_arrives_in_a_fresh_writable_mapping_with_the_same_bytes,
    virtual_copy_ool_data_arrives_with_the_same_bytes,
    volatile_ool_descriptor_delivers_its_bytes,
    ool_data_is_copied_when_sent,
    ool_deallocate_unmaps_the_senders_pages_rounded_out_to_whole_pages,
    ool_without_deallocate_leaves_the_senders_pages,
    ool_region_of_size_zero_arrives_as_address_zero_and_size_zero,
    several_ool_regions_arrive_in_their_order,
    received_ool_descriptors_say_deallocate_and_virtual_copy,
    queued_ool_bytes_count_in_the_module_stats,
    sixteen_mib_ool_region_arrives_byte_for_byte @ 600,
];

/// A's send right `to_p` to B's port `p`.
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

    fn msg(&self) -> Msg {
        Msg::to(self.to_p, COPY_SEND)
    }

    fn send(&self, m: &Msg) -> TestResult {
        self.pr.a.send_ok(m)
    }

    fn recv(&self) -> Result<Buf, String> {
        self.pr.b.recv_now(self.p)
    }

    fn finish(self) -> TestResult {
        let Fixture { base, pr, .. } = self;
        drop(pr);
        base.check("closing the spaces")
    }
}

/// The out-of-line regions of `buf`: (address, size).
fn regions(buf: &Buf) -> Result<Vec<(u64, u32)>, String> {
    buf.descriptors()?
        .into_iter()
        .map(|d| match d {
            Desc::Ool { address, size, .. } => Ok((address, size)),
            other => Err(format!("expected an out-of-line descriptor, got {other:?}")),
        })
        .collect()
}

/// Reads and unmaps a received region.
fn take(address: u64, size: u32) -> Result<Vec<u8>, String> {
    if size == 0 {
        return Ok(Vec::new());
    }
    ensure(address != 0 && is_mapped(address as *const u8), || {
        format!("the received region at {address:#x} is not mapped")
    })?;
    // SAFETY: The module mapped `size` bytes at `address` for us.
    let bytes = unsafe { read_mem(address, size as usize) };
    // SAFETY: The mapping is ours to free, and nothing refers to it.
    unsafe { unmap(address as *mut u8, size as usize) };
    Ok(bytes)
}

/// Copies `bytes` into a new mapping of ours.
fn mapped_copy(bytes: &[u8]) -> Result<*mut u8, String> {
    let p = map(bytes.len())?;
    // SAFETY: `p` is a new mapping of at least `bytes.len()` bytes.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
    Ok(p)
}

fn ool_data_arrives_in_a_fresh_writable_mapping_with_the_same_bytes(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let len = 3 * page() + 100;
    let data = pattern(1, len);
    let src = mapped_copy(&data)?;
    f.send(&f.msg().ool(src, len as u32, false).words(&[42]))?;
    let r = f.recv()?;
    expect_eq(
        "the inline data after the descriptor",
        42u32.to_ne_bytes().to_vec(),
        r.data()?,
    )?;
    let regions = regions(&r)?;
    expect_eq("the number of regions", 1, regions.len())?;
    let (address, size) = regions[0];
    expect_eq("the received size", len as u32, size)?;
    ensure(address != src as u64, || {
        "the receiver got the sender's own address".into()
    })?;
    // It is private, writable memory of the receiver's.
    // SAFETY: The module mapped `size` bytes at `address` for us.
    unsafe { std::ptr::write_bytes(address as *mut u8, 0x5a, 16) };
    // SAFETY: As above.
    let head = unsafe { read_mem(address, 16) };
    expect_eq(
        "bytes written into the received region",
        vec![0x5a; 16],
        head,
    )?;
    // SAFETY: As above.
    let rest = unsafe { read_mem(address + 16, len - 16) };
    ensure(rest == data[16..], || {
        "the received bytes differ from those sent".into()
    })?;
    // SAFETY: The mapping is ours to free.
    unsafe { unmap(address as *mut u8, len) };
    // The sender's bytes are untouched.
    // SAFETY: Our own mapping of `len` bytes.
    ensure(unsafe { read_mem(src as u64, len) } == data, || {
        "the sender's region changed".into()
    })?;
    // SAFETY: Ours, unused from here on.
    unsafe { unmap(src, len) };
    f.finish()
}

fn virtual_copy_ool_data_arrives_with_the_same_bytes(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let len = 5 * page();
    let data = pattern(2, len);
    let src = mapped_copy(&data)?;
    f.send(&f.msg().desc(SendDesc::Ool {
        address: src as u64,
        size: len as u32,
        deallocate: false,
        copy: sys::MACH_MSG_VIRTUAL_COPY,
        ty: sys::MACH_MSG_OOL_DESCRIPTOR,
    }))?;
    let (address, size) = regions(&f.recv()?)?[0];
    expect_eq("the received size", len as u32, size)?;
    ensure(take(address, size)? == data, || {
        "the received bytes differ from those sent".into()
    })?;
    // SAFETY: Ours, unused from here on.
    unsafe { unmap(src, len) };
    f.finish()
}

fn volatile_ool_descriptor_delivers_its_bytes(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let data = pattern(3, 3000);
    let src = mapped_copy(&data)?;
    f.send(&f.msg().desc(SendDesc::Ool {
        address: src as u64,
        size: 3000,
        deallocate: false,
        copy: sys::MACH_MSG_PHYSICAL_COPY,
        ty: sys::MACH_MSG_OOL_VOLATILE_DESCRIPTOR,
    }))?;
    let (address, size) = regions(&f.recv()?)?[0];
    expect_eq("the received size", 3000, size)?;
    ensure(take(address, size)? == data, || {
        "the received bytes differ from those sent".into()
    })?;
    // SAFETY: Ours, unused from here on.
    unsafe { unmap(src, 3000) };
    f.finish()
}

fn ool_data_is_copied_when_sent(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    for copy in [sys::MACH_MSG_PHYSICAL_COPY, sys::MACH_MSG_VIRTUAL_COPY] {
        let len = 2 * page();
        let data = pattern(4, len);
        let src = mapped_copy(&data)?;
        f.send(&f.msg().desc(SendDesc::Ool {
            address: src as u64,
            size: len as u32,
            deallocate: false,
            copy,
            ty: sys::MACH_MSG_OOL_DESCRIPTOR,
        }))?;
        // SAFETY: Our own mapping.
        unsafe { std::ptr::write_bytes(src, 0, len) };
        let (address, size) = regions(&f.recv()?)?[0];
        ensure(take(address, size)? == data, || {
            format!("copy {copy}: the receiver saw what the sender wrote after the send")
        })?;
        // SAFETY: Ours, unused from here on.
        unsafe { unmap(src, len) };
    }
    f.finish()
}

fn ool_deallocate_unmaps_the_senders_pages_rounded_out_to_whole_pages(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let pg = page();
    let region = map(5 * pg)?;
    let data = pattern(5, 2 * pg);
    let at = region.wrapping_add(pg + 100);
    // SAFETY: Inside our mapping of 5 pages.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), at, data.len()) };
    f.send(&f.msg().ool(at, (2 * pg) as u32, true))?;
    // Before the receive, which maps memory that may land there.
    let mapped: Vec<bool> = (0..5)
        .map(|i| is_mapped(region.wrapping_add(i * pg)))
        .collect();
    expect_eq(
        "pages 0..5 mapped after sending 2 pages from page 1 + 100 with deallocate",
        vec![true, false, false, false, true],
        mapped,
    )?;
    let (address, size) = regions(&f.recv()?)?[0];
    ensure(take(address, size)? == data, || {
        "the received bytes differ from those sent".into()
    })?;
    // SAFETY: Pages 0 and 4 are still ours.
    unsafe {
        unmap(region, pg);
        unmap(region.wrapping_add(4 * pg), pg);
    }
    f.finish()
}

fn ool_without_deallocate_leaves_the_senders_pages(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let pg = page();
    let region = map(3 * pg)?;
    f.send(
        &f.msg()
            .ool(region.wrapping_add(100), (2 * pg) as u32, false),
    )?;
    let mapped: Vec<bool> = (0..3)
        .map(|i| is_mapped(region.wrapping_add(i * pg)))
        .collect();
    expect_eq("pages 0..3 mapped", vec![true; 3], mapped)?;
    let (address, size) = regions(&f.recv()?)?[0];
    take(address, size)?;
    // SAFETY: Ours, unused from here on.
    unsafe { unmap(region, 3 * pg) };
    f.finish()
}

fn ool_region_of_size_zero_arrives_as_address_zero_and_size_zero(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let region = map(page())?;
    for (address, dealloc) in [
        (std::ptr::null_mut(), false),
        (region, false),
        (region, true),
    ] {
        f.send(&f.msg().ool(address, 0, dealloc))?;
        ensure(is_mapped(region), || {
            "a 0-byte region with deallocate unmapped a page".into()
        })?;
        let got = regions(&f.recv()?)?;
        expect_eq(
            &format!("the received (address, size) of 0 bytes at {address:?}"),
            vec![(0, 0)],
            got,
        )?;
    }
    // SAFETY: Ours, unused from here on.
    unsafe { unmap(region, page()) };
    f.finish()
}

fn several_ool_regions_arrive_in_their_order(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let sizes = [1usize, 4095, 4096, 4097, 10000, 0, 64];
    let datas: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| pattern(10 + i as u64, n))
        .collect();
    let srcs: Vec<*mut u8> = datas
        .iter()
        .map(|d| mapped_copy(d))
        .collect::<Result<_, _>>()?;
    let mut m = f.msg();
    for (src, d) in srcs.iter().zip(&datas) {
        m = m.ool(*src, d.len() as u32, false);
    }
    f.send(&m.words(&[7, 8]))?;
    let r = f.recv()?;
    let got = regions(&r)?;
    expect_eq("the number of regions", sizes.len(), got.len())?;
    for (i, ((address, size), d)) in got.into_iter().zip(&datas).enumerate() {
        expect_eq(&format!("the size of region {i}"), d.len() as u32, size)?;
        ensure(take(address, size)? == *d, || {
            format!("region {i}: the bytes differ")
        })?;
    }
    expect_eq(
        "the inline data",
        [7u32, 8]
            .iter()
            .flat_map(|w| w.to_ne_bytes())
            .collect::<Vec<u8>>(),
        r.data()?,
    )?;
    for (src, d) in srcs.iter().zip(&datas) {
        // SAFETY: Ours, unused from here on.
        unsafe { unmap(*src, d.len()) };
    }
    f.finish()
}

fn received_ool_descriptors_say_deallocate_and_virtual_copy(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let src = mapped_copy(&pattern(6, 100))?;
    let q = f.pr.a.new_send_receive(1)?;
    let names = [q];
    for copy in [sys::MACH_MSG_PHYSICAL_COPY, sys::MACH_MSG_VIRTUAL_COPY] {
        f.send(
            &f.msg()
                .desc(SendDesc::Ool {
                    address: src as u64,
                    size: 100,
                    deallocate: false,
                    copy,
                    ty: sys::MACH_MSG_OOL_DESCRIPTOR,
                })
                .desc(SendDesc::OolPorts {
                    address: names.as_ptr() as u64,
                    count: 1,
                    disposition: COPY_SEND,
                    deallocate: false,
                    copy,
                }),
        )?;
        let descs = f.recv()?.descriptors()?;
        for d in &descs {
            let (address, len, deallocate, got_copy) = match *d {
                Desc::Ool {
                    address,
                    size,
                    deallocate,
                    copy,
                    ..
                } => (address, size as usize, deallocate, copy),
                Desc::OolPorts {
                    address,
                    count,
                    deallocate,
                    copy,
                    ..
                } => (address, count as usize * 4, deallocate, copy),
                other => return Err(format!("received {other:?}")),
            };
            expect_eq(
                &format!("(deallocate, copy) of a received descriptor sent with copy {copy}"),
                (true, sys::MACH_MSG_VIRTUAL_COPY),
                (deallocate, got_copy),
            )?;
            // SAFETY: The received region is ours to free.
            unsafe { unmap(address as *mut u8, len) };
        }
    }
    // SAFETY: Ours, unused from here on.
    unsafe { unmap(src, 100) };
    f.finish()
}

fn queued_ool_bytes_count_in_the_module_stats(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let len = 3 * page() + 12;
    let src = map(len)?;
    let m = f.msg().ool(src, len as u32, false).words(&[1]);
    let inline = m.len() as u64;
    f.send(&m)?;
    f.base.expect_queued(
        "one message with an out-of-line region queued",
        1,
        inline + len as u64,
    )?;
    f.send(&f.msg().words(&[1, 2, 3]))?;
    f.base
        .expect_queued("and a 36-byte message", 2, inline + len as u64 + 36)?;
    let (address, size) = regions(&f.recv()?)?[0];
    take(address, size)?;
    f.base.expect_queued("after receiving the first", 1, 36)?;
    f.recv()?;
    f.base.expect_queued("after receiving both", 0, 0)?;
    // SAFETY: Ours, unused from here on.
    unsafe { unmap(src, len) };
    f.finish()
}

fn sixteen_mib_ool_region_arrives_byte_for_byte(ctx: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let len = 16 << 20;
    let data = pattern(16, len);
    let src = mapped_copy(&data)?;
    let start = std::time::Instant::now();
    f.send(&f.msg().ool(src, len as u32, true))?;
    ensure(
        !is_mapped(src) && !is_mapped(src.wrapping_add(len - 1)),
        || "the 16 MiB sent with deallocate is still mapped".into(),
    )?;
    let r = f.recv()?;
    let (address, size) = regions(&r)?[0];
    expect_eq("the received size", len as u32, size)?;
    let got = take(address, size)?;
    ctx.diag(format!(
        "16 MiB sent and received in {:.2} s",
        start.elapsed().as_secs_f64()
    ));
    if let Some(at) = got.iter().zip(&data).position(|(a, b)| a != b) {
        return Err(format!("the 16 MiB region differs first at byte {at}"));
    }
    f.finish()
}
