//! mach-fuzz: throws random and hostile input at `/dev/mach` and checks that
//! the module survives it and keeps its invariants. Runs in the test VM and
//! prints TAP; the VM runner separately fails the run on any kernel report
//! (KASAN, lockdep, WARNING, ...), which is where a kernel bug shows up.
//!
//! Several worker threads share a few IPC spaces, which are closed and
//! reopened at random during the run, and issue every command of the ABI
//! with mostly plausible arguments (names taken from earlier results) mixed
//! with random ones, unknown command numbers, and argument addresses that are
//! NULL, unmapped, read-only, in the kernel, unaligned, straddling into a
//! read-only or unmapped page, or in a scratch region that another thread
//! maps, unmaps and mprotects at random while the calls run.
//!
//! About a third of the calls are `mach_msg` (MACH_IOC_MSG) and port
//! attribute calls: sends of plausible and hostile messages (header
//! dispositions valid and not, names from the spaces, dead and null names,
//! voucher garbage; complex bodies with any descriptor count and every
//! descriptor type; port descriptors with every disposition, so that
//! receive rights travel, form cycles and die with messages queued;
//! out-of-line regions in our own pages, in the scratch region, in holes,
//! in the kernel, wrapping around, up to a few MiB and beyond
//! MACH_MSG_OOL_SIZE_MAX, with the deallocate flag only on memory mapped
//! for that; out-of-line port arrays; send sizes too small, unaligned, past
//! the buffer and past MACH_MSG_SIZE_MAX), receives (any size, names from
//! the spaces, MACH_RCV_LARGE and LARGE_IDENTITY, every trailer request,
//! into buffers that are read-only, unmapped or straddling), both in one
//! call, and queue limits set at random. Every message call we build has
//! MACH_SEND_TIMEOUT and MACH_RCV_TIMEOUT (0 or a few ms); a watchdog
//! interrupts (SIGUSR1, so EINTR) any call still waiting after 2 s whose
//! struct is in the scratch region (where another thread may have changed
//! it), and counts a failure for a call with its own struct that is still
//! in the kernel after a minute (and 10 s per MiB it carries). What a
//! call's result must be, as far as its own arguments decide it, is
//! checked: the order of the send checks, trailer and name errors, the
//! received header, trailer and descriptors, the deallocate flag's effect,
//! attribute results. Out-of-line regions received are unmapped again and
//! received rights now and then deallocated. Port-set membership,
//! notification requests and backup ports are fuzzed too, lightly, so that
//! receives go through sets and the kernel's notifications (checked: layout,
//! all-zero audit token) mix with the messages.
//!
//! Everything the fuzzer maps for itself (layout pages, message buffers,
//! scratch) lies at fixed addresses far below where the kernel places new
//! mappings, so that a region the kernel maps for a receive never lands in
//! one of our holes.
//!
//! The fuzzing runs in a child process; the parent reports whether it
//! crashed or hung. Environment:
//!
//! - `MACH_FUZZ_SEED`: the seed (default: from the clock). Every thread
//!   draws from its own generator derived from it; the names it uses come
//!   partly from earlier results, so with several threads a run also
//!   depends on their interleaving (`MACH_FUZZ_THREADS=1 MACH_FUZZ_MAPPER=0`
//!   makes a run repeatable call for call).
//! - `MACH_FUZZ_CALLS`: ioctls in all (default 40000: some five minutes on
//!   the debug kernel under emulation).
//! - `MACH_FUZZ_THREADS` (default 3), `MACH_FUZZ_SPACES` (default 4),
//!   `MACH_FUZZ_MAPPER` (0 turns the mapping thread off, default 1),
//!   `MACH_FUZZ_TIMEOUT` (seconds before the run counts as hung, default 1800),
//!   `MACH_FUZZ_TRACE` (1 prints every call as a TAP diagnostic; slow),
//!   `MACH_FUZZ_MSG` (0 leaves out the message and attribute calls),
//!   `MACH_FUZZ_WAITS` (default 0: per mille of message calls that receive
//!   without MACH_RCV_TIMEOUT, on a port of ours, so that the watchdog
//!   interrupts them after some 150 ms; checks the EINTR and the `option`
//!   written back: MACH_SEND_MSG cleared once the send is done).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::mem::{offset_of, size_of};
use std::os::fd::{AsRawFd, RawFd};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};
use std::{env, ptr, thread};

use mach::{sys, KernReturn, MsgReturn, Space};

// ---------------------------------------------------------------------------
// Configuration.

/// Some five minutes on the debug kernel (KASAN, lockdep, kmemleak) under
/// QEMU TCG with 2 CPUs, which runs some 130 of these calls a second with
/// three threads: every allocation, page fault and TLB flush is dear there,
/// and message calls do many (without them, MACH_FUZZ_MSG=0, some 400 a
/// second).
const DEFAULT_CALLS: u64 = 40_000;

#[derive(Clone, Copy, Debug)]
struct Config {
    seed: u64,
    calls: u64,
    threads: usize,
    spaces: usize,
    mapper: bool,
    timeout: u64,
    trace: bool,
    /// Message and attribute calls (MACH_FUZZ_MSG=0 leaves them out).
    msg: bool,
    /// Per mille of message calls (with our own struct) that receive
    /// without a timeout, to be interrupted by the watchdog.
    waits: u64,
}

fn env_u64(name: &str) -> Option<u64> {
    let v = env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

impl Config {
    fn from_env() -> Config {
        let seed = env_u64("MACH_FUZZ_SEED").unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            // A short seed is easier to pass back.
            (t ^ u64::from(std::process::id()).rotate_left(32)) % 1_000_000_000
        });
        Config {
            seed,
            calls: env_u64("MACH_FUZZ_CALLS").unwrap_or(DEFAULT_CALLS),
            threads: env_u64("MACH_FUZZ_THREADS").unwrap_or(3).clamp(1, 16) as usize,
            spaces: env_u64("MACH_FUZZ_SPACES").unwrap_or(4).clamp(1, 32) as usize,
            mapper: env_u64("MACH_FUZZ_MAPPER").unwrap_or(1) != 0,
            timeout: env_u64("MACH_FUZZ_TIMEOUT").unwrap_or(1800).max(1),
            trace: env_u64("MACH_FUZZ_TRACE").unwrap_or(0) != 0,
            msg: env_u64("MACH_FUZZ_MSG").unwrap_or(1) != 0,
            waits: env_u64("MACH_FUZZ_WAITS").unwrap_or(0).min(1000),
        }
    }
}

// ---------------------------------------------------------------------------
// A small deterministic generator (splitmix64).

struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0xd1b5_4a32_d192_ed03));
        r.next();
        r
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn u32(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    fn range(&mut self, lo: u64, hi_inclusive: u64) -> u64 {
        lo + self.below(hi_inclusive - lo + 1)
    }

    /// True `percent` times in 100.
    fn pct(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }

    /// An index into `weights`, chosen in proportion to them.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut x = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        weights.len() - 1
    }
}

// ---------------------------------------------------------------------------
// The commands.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    ApiVersion,
    Stats,
    ReplyPort,
    Allocate,
    AllocateName,
    Type,
    Names,
    GetRefs,
    ModRefs,
    Deallocate,
    Destroy,
    Insert,
    Extract,
    TaskForFd,
    /// mach_msg: send, receive, or both.
    Msg,
    GetAttributes,
    SetAttributes,
    /// Port sets, notification requests and backup ports.
    MoveMember,
    InsertMember,
    ExtractMember,
    GetSetStatus,
    RequestNotification,
    SetBackup,
    /// A command number the module does not know (last in OPS).
    Unknown,
}

struct OpInfo {
    op: Op,
    cmd: u32,
    size: usize,
    /// Offset of the `kr` field, for commands that have one.
    kr: Option<usize>,
    weight: u32,
}

const fn info(op: Op, cmd: u32, size: usize, kr: Option<usize>, weight: u32) -> OpInfo {
    OpInfo {
        op,
        cmd,
        size,
        kr,
        weight,
    }
}

const N_OPS: usize = 24;

const OPS: [OpInfo; N_OPS] = [
    info(
        Op::ApiVersion,
        sys::MACH_IOC_API_VERSION,
        size_of::<sys::ApiVersionArgs>(),
        None,
        1,
    ),
    info(
        Op::Stats,
        sys::MACH_IOC_STATS,
        size_of::<sys::StatsArgs>(),
        None,
        2,
    ),
    info(
        Op::ReplyPort,
        sys::MACH_IOC_REPLY_PORT,
        size_of::<sys::ReplyPortArgs>(),
        None,
        3,
    ),
    info(
        Op::Allocate,
        sys::MACH_IOC_PORT_ALLOCATE,
        size_of::<sys::PortAllocateArgs>(),
        Some(offset_of!(sys::PortAllocateArgs, kr)),
        12,
    ),
    info(
        Op::AllocateName,
        sys::MACH_IOC_PORT_ALLOCATE_NAME,
        size_of::<sys::PortAllocateArgs>(),
        Some(offset_of!(sys::PortAllocateArgs, kr)),
        5,
    ),
    info(
        Op::Type,
        sys::MACH_IOC_PORT_TYPE,
        size_of::<sys::PortTypeArgs>(),
        Some(offset_of!(sys::PortTypeArgs, kr)),
        7,
    ),
    info(
        Op::Names,
        sys::MACH_IOC_PORT_NAMES,
        size_of::<sys::PortNamesArgs>(),
        Some(offset_of!(sys::PortNamesArgs, kr)),
        5,
    ),
    info(
        Op::GetRefs,
        sys::MACH_IOC_PORT_GET_REFS,
        size_of::<sys::PortGetRefsArgs>(),
        Some(offset_of!(sys::PortGetRefsArgs, kr)),
        7,
    ),
    info(
        Op::ModRefs,
        sys::MACH_IOC_PORT_MOD_REFS,
        size_of::<sys::PortModRefsArgs>(),
        Some(offset_of!(sys::PortModRefsArgs, kr)),
        10,
    ),
    info(
        Op::Deallocate,
        sys::MACH_IOC_PORT_DEALLOCATE,
        size_of::<sys::PortNameArgs>(),
        Some(offset_of!(sys::PortNameArgs, kr)),
        8,
    ),
    info(
        Op::Destroy,
        sys::MACH_IOC_PORT_DESTROY,
        size_of::<sys::PortNameArgs>(),
        Some(offset_of!(sys::PortNameArgs, kr)),
        5,
    ),
    info(
        Op::Insert,
        sys::MACH_IOC_PORT_INSERT_RIGHT,
        size_of::<sys::PortInsertRightArgs>(),
        Some(offset_of!(sys::PortInsertRightArgs, kr)),
        12,
    ),
    info(
        Op::Extract,
        sys::MACH_IOC_PORT_EXTRACT_RIGHT,
        size_of::<sys::PortExtractRightArgs>(),
        Some(offset_of!(sys::PortExtractRightArgs, kr)),
        10,
    ),
    info(
        Op::TaskForFd,
        sys::MACH_IOC_TASK_FOR_FD,
        size_of::<sys::TaskForFdArgs>(),
        Some(offset_of!(sys::TaskForFdArgs, kr)),
        6,
    ),
    // Message calls: with the attribute calls, about a third of all (the
    // result is `mr`, checked apart from the kern_return_t ones).
    info(
        Op::Msg,
        sys::MACH_IOC_MSG,
        size_of::<sys::MsgArgs>(),
        None,
        50,
    ),
    info(
        Op::GetAttributes,
        sys::MACH_IOC_PORT_GET_ATTRIBUTES,
        size_of::<sys::PortAttributesArgs>(),
        Some(offset_of!(sys::PortAttributesArgs, kr)),
        4,
    ),
    info(
        Op::SetAttributes,
        sys::MACH_IOC_PORT_SET_ATTRIBUTES,
        size_of::<sys::PortAttributesArgs>(),
        Some(offset_of!(sys::PortAttributesArgs, kr)),
        5,
    ),
    // Port sets and notifications: enough that sets have members to
    // receive through and the kernel sends notifications among the messages.
    info(
        Op::MoveMember,
        sys::MACH_IOC_PORT_MOVE_MEMBER,
        size_of::<sys::PortMemberArgs>(),
        Some(offset_of!(sys::PortMemberArgs, kr)),
        4,
    ),
    info(
        Op::InsertMember,
        sys::MACH_IOC_PORT_INSERT_MEMBER,
        size_of::<sys::PortMemberArgs>(),
        Some(offset_of!(sys::PortMemberArgs, kr)),
        3,
    ),
    info(
        Op::ExtractMember,
        sys::MACH_IOC_PORT_EXTRACT_MEMBER,
        size_of::<sys::PortMemberArgs>(),
        Some(offset_of!(sys::PortMemberArgs, kr)),
        2,
    ),
    info(
        Op::GetSetStatus,
        sys::MACH_IOC_PORT_GET_SET_STATUS,
        size_of::<sys::PortSetStatusArgs>(),
        Some(offset_of!(sys::PortSetStatusArgs, kr)),
        2,
    ),
    info(
        Op::RequestNotification,
        sys::MACH_IOC_PORT_REQUEST_NOTIFICATION,
        size_of::<sys::RequestNotificationArgs>(),
        Some(offset_of!(sys::RequestNotificationArgs, kr)),
        5,
    ),
    info(
        Op::SetBackup,
        sys::MACH_IOC_PORT_SET_BACKUP,
        size_of::<sys::PortSetBackupArgs>(),
        Some(offset_of!(sys::PortSetBackupArgs, kr)),
        2,
    ),
    info(Op::Unknown, 0, 64, None, 5),
];

fn is_real_cmd(cmd: u32) -> bool {
    // The port-set, notification and backup calls (ABI 4) are real too,
    // though this fuzzer does not exercise them yet.
    const LATER: [u32; 6] = [
        sys::MACH_IOC_PORT_MOVE_MEMBER,
        sys::MACH_IOC_PORT_INSERT_MEMBER,
        sys::MACH_IOC_PORT_EXTRACT_MEMBER,
        sys::MACH_IOC_PORT_GET_SET_STATUS,
        sys::MACH_IOC_PORT_REQUEST_NOTIFICATION,
        sys::MACH_IOC_PORT_SET_BACKUP,
    ];
    LATER.contains(&cmd) || OPS.iter().any(|o| o.op != Op::Unknown && o.cmd == cmd)
}

/// Ioctl types the VFS itself handles for every file before the driver sees
/// the command (FIOCLEX, FIONBIO, FIFREEZE, FS_IOC_SETFLAGS, FICLONE, ...).
/// Random commands avoid them: they act on the file or its filesystem, not
/// on the module.
fn is_generic_ioctl_type(cmd: u32) -> bool {
    matches!((cmd >> 8) & 0xff, 0x00 | 0x15 | 0x54 | 0x58 | 0x66 | 0x94)
}

// asm-generic's ioctl encoding.
const fn ioc(dir: u32, ty: u32, nr: u32, size: u32) -> u32 {
    (dir << 30) | (size << 16) | (ty << 8) | nr
}

/// A plain-data argument struct, as bytes.
fn to_bytes<T: Copy>(v: &T) -> [u8; 64] {
    let mut b = [0u8; 64];
    assert!(size_of::<T>() <= 64);
    // SAFETY: `T` is one of the ABI's `#[repr(C)]` structs of integers with
    // no padding (asserted in abi.rs); it fits in `b`.
    unsafe {
        ptr::copy_nonoverlapping((v as *const T).cast::<u8>(), b.as_mut_ptr(), size_of::<T>())
    };
    b
}

fn from_bytes<T: Copy>(b: &[u8; 64]) -> T {
    assert!(size_of::<T>() <= 64);
    // SAFETY: As above: any bit pattern is a valid `T`.
    unsafe { ptr::read_unaligned(b.as_ptr().cast::<T>()) }
}

fn get_i32(b: &[u8; 64], off: usize) -> i32 {
    i32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

// ---------------------------------------------------------------------------
// Memory: pages of each worker, and the shared scratch region.

fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

/// Maps `len` bytes at exactly `addr`, never over another mapping.
fn mmap_fixed(addr: usize, len: usize, prot: i32) -> bool {
    // SAFETY: MAP_FIXED_NOREPLACE fails rather than replace any mapping.
    let p = unsafe {
        libc::mmap(
            addr as *mut _,
            len,
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    if p as usize == addr {
        return true;
    }
    if p != libc::MAP_FAILED {
        // A kernel that ignores NOREPLACE put it elsewhere: give it back.
        // SAFETY: The mapping just made.
        unsafe { libc::munmap(p, len) };
    }
    false
}

/// Everything the fuzzer maps for itself lies from here on: far below the
/// addresses the kernel picks for new mappings (top-down from the mmap
/// base, always in the huge gap above the heap), so that no mapping the
/// kernel makes for us (a received out-of-line region) or the C library
/// makes ever lands in one of our holes, and our holes stay unmapped.
const LOW_BASE: usize = 0x40_0000_0000;
/// The scratch region is at LOW_BASE; worker `id`'s memory at
/// `LOW_BASE + (id + 1) * REGION`.
const REGION: usize = 64 << 20;
const MAX_THREADS: usize = 16;
const LOW_END: usize = LOW_BASE + (MAX_THREADS + 1) * REGION;
/// In a worker's region: the five layout pages at 0, then the message
/// buffer (room for the largest message and a trailer), unmapped after it.
const BUF_OFF: usize = 1 << 20;
const BUF_LEN: usize = (1 << 20) + (64 << 10);
/// Sources of out-of-line data: the first NAMES_LEN bytes hold port names
/// for out-of-line port arrays, the next PATTERN_LEN a pattern; the rest is
/// never written (it reads as zeros and costs no memory).
const DATA_OFF: usize = 4 << 20;
const DATA_LEN: usize = 8 << 20;
const NAMES_LEN: usize = 64 << 10;
const PATTERN_LEN: usize = 64 << 10;
/// Memory mapped only for the kernel to unmap (the deallocate flag of
/// out-of-line descriptors), one chunk per call, unmapped again after it.
const ARENA_OFF: usize = 16 << 20;
const ARENA_LEN: usize = 8 << 20;
/// No user memory at or above this address (x86_64, 4-level paging).
const USER_END: u64 = 0x7fff_ffff_f000;
/// Below this, nothing is mapped (mmap_min_addr).
const LOW_FAULT: u64 = 0x10000;
/// The largest out-of-line region the fuzzer sends (the VM has 1 GiB;
/// sizes between this and MACH_MSG_OOL_SIZE_MAX would have the kernel
/// allocate that much even for an unreadable address).
const OOL_BIG: u32 = 4 << 20;

/// Five pages of one worker: `[RW][RO][hole][RW][hole]`. Only that worker
/// uses them, so what it writes there is what the kernel reads.
struct Layout {
    page: usize,
    base: usize,
}

impl Layout {
    /// At `base`, in the fuzzer's fixed region (so nothing else is ever
    /// mapped into the holes).
    fn new(base: usize) -> Layout {
        let page = page_size();
        assert!(
            mmap_fixed(base, 5 * page, libc::PROT_READ | libc::PROT_WRITE),
            "mmap of the layout pages at {base:#x}: {}",
            io::Error::last_os_error()
        );
        // SAFETY: Pages of the mapping just made.
        unsafe {
            assert_eq!(
                libc::mprotect((base + page) as *mut _, page, libc::PROT_READ),
                0
            );
            assert_eq!(libc::munmap((base + 2 * page) as *mut _, page), 0);
            assert_eq!(libc::munmap((base + 4 * page) as *mut _, page), 0);
        }
        Layout { page, base }
    }

    fn p(&self, i: usize) -> usize {
        self.base + i * self.page
    }

    /// Writes `bytes` at `addr`, which lies in page 0, 1 or 3 (page 1 is
    /// made writable for the moment).
    fn write(&self, addr: usize, bytes: &[u8]) {
        let ro = self.p(1);
        let touches_ro = addr < ro + self.page && addr + bytes.len() > ro;
        if touches_ro {
            // SAFETY: Page 1 is ours.
            unsafe { libc::mprotect(ro as *mut _, self.page, libc::PROT_READ | libc::PROT_WRITE) };
        }
        for (i, &b) in bytes.iter().enumerate() {
            let a = addr + i;
            let ok = (a >= self.p(0) && a < self.p(2)) || (a >= self.p(3) && a < self.p(4));
            if ok {
                // SAFETY: Inside pages 0, 1 (writable now) or 3 of our mapping.
                unsafe { ptr::write_volatile(a as *mut u8, b) };
            }
        }
        if touches_ro {
            // SAFETY: As above.
            unsafe { libc::mprotect(ro as *mut _, self.page, libc::PROT_READ) };
        }
    }
}

const SCRATCH_PAGES: usize = 16;
/// PROT_NONE after the scratch pages: larger than any names array (1 MiB),
/// so the kernel's writes through a pointer into the scratch region end in a
/// fault there, never in other memory of ours.
const SCRATCH_GUARD: usize = 2 << 20;

struct Scratch {
    base: usize,
    page: usize,
    /// Pages the mapping thread found taken by some other mapping after it
    /// unmapped them: left alone from then on.
    foreign: Vec<AtomicBool>,
}

impl Scratch {
    fn new() -> Scratch {
        let page = page_size();
        let base = LOW_BASE;
        assert!(
            mmap_fixed(base, SCRATCH_PAGES * page + SCRATCH_GUARD, libc::PROT_NONE),
            "mmap of the scratch region at {base:#x}: {}",
            io::Error::last_os_error()
        );
        // SAFETY: The first pages of the reservation just made.
        let rc = unsafe {
            libc::mprotect(
                base as *mut _,
                SCRATCH_PAGES * page,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        assert_eq!(rc, 0);
        Scratch {
            base,
            page,
            foreign: (0..SCRATCH_PAGES).map(|_| AtomicBool::new(false)).collect(),
        }
    }
}

/// What the memory of a range is to the kernel.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Acc {
    /// Mapped and writable throughout.
    Writable,
    /// Mapped and readable throughout, partly read-only.
    ReadOnly,
    /// Some byte is unmapped (or not user memory): any access fails.
    Fault,
    /// Not only ours (the scratch region, another worker's memory, the
    /// heap): anything may happen.
    Unknown,
}

/// One worker's own memory, at a fixed address in the low region: the
/// layout pages, the message buffer, the out-of-line sources and the
/// deallocation arena. Only that worker touches it, and the kernel only on
/// its behalf, so the worker knows exactly what every byte of it is.
struct Mem {
    page: usize,
    base: usize,
    layout: Layout,
    /// The arena chunk mapped for the current call: `(start, len)`.
    chunk: Option<(usize, usize)>,
}

impl Mem {
    fn new(id: usize) -> Mem {
        let page = page_size();
        let base = LOW_BASE + (id + 1) * REGION;
        let layout = Layout::new(base);
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        assert!(
            mmap_fixed(base + BUF_OFF, BUF_LEN, rw),
            "mmap of a message buffer: {}",
            io::Error::last_os_error()
        );
        assert!(
            mmap_fixed(base + DATA_OFF, DATA_LEN, rw),
            "mmap of an out-of-line source: {}",
            io::Error::last_os_error()
        );
        let p = (base + DATA_OFF + NAMES_LEN) as *mut u32;
        for i in 0..PATTERN_LEN / 4 {
            // SAFETY: Inside the data mapping just made.
            unsafe { ptr::write_volatile(p.add(i), (i as u32).wrapping_mul(0x9e37_79b9) | 1) };
        }
        Mem {
            page,
            base,
            layout,
            chunk: None,
        }
    }

    fn buf(&self) -> usize {
        self.base + BUF_OFF
    }

    fn data(&self) -> usize {
        self.base + DATA_OFF
    }

    fn arena(&self) -> usize {
        self.base + ARENA_OFF
    }

    /// What the memory at `a` (inside the region) is, and where that ends.
    fn seg(&self, a: usize) -> (Acc, usize) {
        use Acc::{Fault, ReadOnly, Writable};
        let (b, p) = (self.base, self.page);
        let o = a - b;
        let (acc, end) = if o < p {
            (Writable, p)
        } else if o < 2 * p {
            (ReadOnly, 2 * p)
        } else if o < 3 * p {
            (Fault, 3 * p)
        } else if o < 4 * p {
            (Writable, 4 * p)
        } else if o < BUF_OFF {
            (Fault, BUF_OFF)
        } else if o < BUF_OFF + BUF_LEN {
            (Writable, BUF_OFF + BUF_LEN)
        } else if o < DATA_OFF {
            (Fault, DATA_OFF)
        } else if o < DATA_OFF + DATA_LEN {
            (Writable, DATA_OFF + DATA_LEN)
        } else if o < ARENA_OFF {
            (Fault, ARENA_OFF)
        } else if o < ARENA_OFF + ARENA_LEN {
            match self.chunk {
                Some((s, l)) if a >= s && a < s + l => (Writable, s + l - b),
                Some((s, _)) if a < s => (Fault, s - b),
                _ => (Fault, ARENA_OFF + ARENA_LEN),
            }
        } else {
            (Fault, REGION)
        };
        (acc, b + end)
    }

    /// What `[addr, addr + len)` is to the kernel.
    fn classify(&self, addr: u64, len: u64) -> Acc {
        if len == 0 {
            return Acc::Writable;
        }
        let Some(end) = addr.checked_add(len) else {
            return Acc::Fault;
        };
        if end > USER_END || addr < LOW_FAULT {
            return Acc::Fault;
        }
        let (lo, hi) = (self.base as u64, (self.base + REGION) as u64);
        let (mut unknown, mut ro) = (false, false);
        let mut a = addr;
        while a < end {
            if a >= lo && a < hi {
                let (k, e) = self.seg(a as usize);
                match k {
                    Acc::Fault => return Acc::Fault,
                    Acc::ReadOnly => ro = true,
                    _ => {}
                }
                a = (e as u64).min(end);
            } else {
                unknown = true;
                a = if a < lo { lo.min(end) } else { end };
            }
        }
        if unknown {
            Acc::Unknown
        } else if ro {
            Acc::ReadOnly
        } else {
            Acc::Writable
        }
    }

    /// Copies `out.len()` bytes from `addr` if all of them are ours and
    /// mapped.
    fn read(&self, addr: u64, out: &mut [u8]) -> bool {
        if !matches!(
            self.classify(addr, out.len() as u64),
            Acc::Writable | Acc::ReadOnly
        ) {
            return false;
        }
        for (i, o) in out.iter_mut().enumerate() {
            // SAFETY: Mapped and readable memory of this worker (checked
            // just above); no other thread unmaps it.
            *o = unsafe { ptr::read_volatile((addr as usize + i) as *const u8) };
        }
        true
    }

    fn read_u32(&self, addr: u64) -> Option<u32> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b).then(|| u32::from_ne_bytes(b))
    }

    /// Maps an arena chunk of `pages` pages for this call.
    fn map_chunk(&mut self, rng: &mut Rng, pages: usize) -> Option<(usize, usize)> {
        if let Some(c) = self.chunk {
            return Some(c);
        }
        let total = ARENA_LEN / self.page;
        let pages = pages.clamp(1, total);
        let start = self.arena() + rng.below((total - pages + 1) as u64) as usize * self.page;
        let len = pages * self.page;
        if !mmap_fixed(start, len, libc::PROT_READ | libc::PROT_WRITE) {
            return None;
        }
        self.chunk = Some((start, len));
        self.chunk
    }

    /// Unmaps the whole arena (whatever the kernel left of the chunk).
    fn release_chunk(&mut self) {
        if self.chunk.take().is_some() {
            // SAFETY: The arena is ours; nothing else is ever mapped there.
            unsafe { libc::munmap(self.arena() as *mut _, ARENA_LEN) };
        }
    }

    /// Whether the page at `addr` is mapped.
    fn mapped(&self, addr: u64) -> bool {
        let mut v = [0u8; 1];
        let page = addr & !(self.page as u64 - 1);
        // SAFETY: mincore only looks at the page tables.
        unsafe { libc::mincore(page as *mut _, self.page, v.as_mut_ptr()) == 0 }
    }
}

impl Drop for Mem {
    fn drop(&mut self) {
        // SAFETY: The worker's own region, which nothing else uses.
        unsafe { libc::munmap(self.base as *mut _, REGION) };
    }
}

// ---------------------------------------------------------------------------
// Spaces and the names seen in them.

const RING: usize = 64;
const TASK_RING: usize = 16;
const RCV_RING: usize = 32;
const QUEUED_RING: usize = 16;

/// One open space, with names recently seen in it (loosely: another thread
/// may have freed them since) and names in it for other spaces' task ports.
struct Sp {
    space: Space,
    names: [AtomicU32; RING],
    next: AtomicUsize,
    /// `name | slot << 32`: a send right, in this space, to the task port of
    /// the space that was in `slot` when it was made.
    tasks: [AtomicU64; TASK_RING],
    tnext: AtomicUsize,
    /// The name of this space's send right to its own task port: the
    /// task-self name until a call takes that away (the fuzzing does, now
    /// and then); then a new one from task_for_fd on the space's own file.
    self_name: AtomicU32,
    /// A call with `self_name` as its task gave KERN_INVALID_TASK.
    lost_self: AtomicBool,
    /// Names that held a receive right when seen (from allocations, reply
    /// ports, extractions and received messages): destinations and receive
    /// names for messages.
    rcv: [AtomicU32; RCV_RING],
    rnext: AtomicUsize,
    /// Receive rights a message was just queued on.
    queued: [AtomicU32; QUEUED_RING],
    qnext: AtomicUsize,
    /// Port sets allocated here.
    sets: [AtomicU32; QUEUED_RING],
    snext: AtomicUsize,
}

impl Sp {
    fn new(space: Space) -> Sp {
        Sp {
            space,
            names: std::array::from_fn(|_| AtomicU32::new(0)),
            next: AtomicUsize::new(0),
            tasks: std::array::from_fn(|_| AtomicU64::new(0)),
            tnext: AtomicUsize::new(0),
            self_name: AtomicU32::new(sys::MACH_TASK_SELF_NAME),
            lost_self: AtomicBool::new(false),
            rcv: std::array::from_fn(|_| AtomicU32::new(0)),
            rnext: AtomicUsize::new(0),
            queued: std::array::from_fn(|_| AtomicU32::new(0)),
            qnext: AtomicUsize::new(0),
            sets: std::array::from_fn(|_| AtomicU32::new(0)),
            snext: AtomicUsize::new(0),
        }
    }

    fn record(&self, name: u32) {
        if sys::mach_port_valid(name) {
            let i = self.next.fetch_add(1, Relaxed) % RING;
            self.names[i].store(name, Relaxed);
        }
    }

    fn record_task(&self, name: u32, slot: usize) {
        if sys::mach_port_valid(name) {
            let i = self.tnext.fetch_add(1, Relaxed) % TASK_RING;
            self.tasks[i].store(u64::from(name) | (slot as u64) << 32, Relaxed);
        }
    }

    fn seen_name(&self, rng: &mut Rng) -> Option<u32> {
        let n = self.next.load(Relaxed).min(RING);
        if n == 0 {
            return None;
        }
        Some(self.names[rng.below(n as u64) as usize].load(Relaxed))
    }

    fn record_rcv(&self, name: u32) {
        if sys::mach_port_valid(name) {
            self.record(name);
            let i = self.rnext.fetch_add(1, Relaxed) % RCV_RING;
            self.rcv[i].store(name, Relaxed);
        }
    }

    fn record_queued(&self, name: u32) {
        if sys::mach_port_valid(name) {
            let i = self.qnext.fetch_add(1, Relaxed) % QUEUED_RING;
            self.queued[i].store(name, Relaxed);
        }
    }

    fn record_set(&self, name: u32) {
        if sys::mach_port_valid(name) {
            self.record(name);
            let i = self.snext.fetch_add(1, Relaxed) % QUEUED_RING;
            self.sets[i].store(name, Relaxed);
        }
    }

    fn seen_set(&self, rng: &mut Rng) -> Option<u32> {
        let n = self.snext.load(Relaxed).min(QUEUED_RING);
        if n == 0 {
            return None;
        }
        Some(self.sets[rng.below(n as u64) as usize].load(Relaxed))
    }

    fn seen_queued(&self, rng: &mut Rng) -> Option<u32> {
        let n = self.qnext.load(Relaxed).min(QUEUED_RING);
        if n == 0 {
            return None;
        }
        Some(self.queued[rng.below(n as u64) as usize].load(Relaxed))
    }

    fn seen_rcv(&self, rng: &mut Rng) -> Option<u32> {
        let n = self.rnext.load(Relaxed).min(RCV_RING);
        if n == 0 {
            return None;
        }
        Some(self.rcv[rng.below(n as u64) as usize].load(Relaxed))
    }

    fn seen_task(&self, rng: &mut Rng) -> Option<(u32, usize)> {
        let n = self.tnext.load(Relaxed).min(TASK_RING);
        if n == 0 {
            return None;
        }
        let v = self.tasks[rng.below(n as u64) as usize].load(Relaxed);
        Some((v as u32, (v >> 32) as usize))
    }
}

// ---------------------------------------------------------------------------
// Results.

const CHECK_ERRNO: usize = 0;
const CHECK_KR: usize = 1;
const CHECK_STRICT: usize = 2;
const CHECK_RESULTS: usize = 3;
const CHECK_MR: usize = 4;
const CHECK_MSG: usize = 5;
const CHECK_BLOCK: usize = 6;
/// Checks counted by `Violations` (the ones before CHECK_LEAK).
const N_VIOLATIONS: usize = 7;
const CHECK_LEAK: usize = 7;
const CHECK_CRASH: usize = 8;

const CHECK_NAMES: [&str; 9] = [
    "every ioctl returned 0 or an errno the ABI allows (EFAULT, EINVAL, ENOTTY, EBADF, ENOMEM; EINTR for a message call the watchdog interrupted)",
    "every kern_return_t is a valid one (0..=56)",
    "unknown commands give ENOTTY and unusable argument addresses EFAULT (EINVAL for a readable one), never success; real commands never ENOTTY",
    "successful results are well-formed (versions, names, types, refs, dispositions, attributes, received headers, trailers and descriptors)",
    "every mach_msg_return_t is a known one (with at most MACH_MSG_IPC_SPACE or MACH_MSG_VM_SPACE added)",
    "message, attribute, port-set and notification calls give what their own arguments decide (EINVAL for reserved or count > 10, send checks in order, trailer and name errors, deallocate flag, EINTR and option written back, attribute, set and request errors)",
    "no message call with private arguments and timeouts of a few ms ran for a minute (and 10 s per MiB it carries)",
    "after closing every space a fresh space sees only its own objects (spaces 1, ports 1, port_sets 0, names 1, messages 0, message bytes 0)",
    "the fuzzing process did not crash or hang",
];

const ERRNOS: [(i32, &str); 6] = [
    (libc::EFAULT, "EFAULT"),
    (libc::EINVAL, "EINVAL"),
    (libc::ENOTTY, "ENOTTY"),
    (libc::EBADF, "EBADF"),
    (libc::ENOMEM, "ENOMEM"),
    (libc::EINTR, "EINTR"),
];
/// Index of "any other errno" in `Counters::errno`.
const ERRNO_OTHER: usize = ERRNOS.len() + 1;

struct Violations {
    count: [AtomicU64; N_VIOLATIONS],
    first: Mutex<Vec<Vec<String>>>,
}

impl Violations {
    fn new() -> Violations {
        Violations {
            count: std::array::from_fn(|_| AtomicU64::new(0)),
            first: Mutex::new(vec![Vec::new(); N_VIOLATIONS]),
        }
    }

    fn add(&self, check: usize, detail: impl FnOnce() -> String) {
        if self.count[check].fetch_add(1, Relaxed) < 3 {
            let d = detail();
            let mut first = self.first.lock().unwrap();
            first[check].push(d.clone());
            drop(first);
            println!("# violation ({}): {d}", CHECK_NAMES[check]);
        }
    }
}

struct Counters {
    /// 0 = success, then ERRNOS, then anything else.
    errno: [AtomicU64; ERRNO_OTHER + 1],
    /// 0..=56, then anything else.
    kr: [AtomicU64; 58],
    /// By command (index into OPS): calls, nanoseconds in the ioctl,
    /// nanoseconds in the whole step.
    op_calls: [AtomicU64; N_OPS],
    op_ioctl_ns: [AtomicU64; N_OPS],
    op_step_ns: [AtomicU64; N_OPS],
    /// mach_msg results seen.
    mr: Mutex<BTreeMap<i32, u64>>,
    /// Messages received into our own buffers and parsed.
    received: AtomicU64,
    /// Received out-of-line regions (data and port arrays) unmapped again,
    /// and their bytes.
    ool_unmapped: AtomicU64,
    ool_bytes: AtomicU64,
    /// Receives into memory not only ours (scratch, unwritable buffers)
    /// that may have mapped regions we cannot find to unmap.
    blind_receives: AtomicU64,
    /// Sends whose deallocate flag unmapped an arena chunk (checked).
    deallocated: AtomicU64,
    /// Rights received and deallocated or destroyed again.
    rights_dropped: AtomicU64,
    /// Calls the watchdog interrupted.
    kicks: AtomicU64,
    /// Message calls that ended in EINTR, with our own struct.
    interrupted: AtomicU64,
    /// Rights found in received messages: receive, send, send-once, dead.
    got_rights: [AtomicU64; 4],
    /// Sends closing (or lengthening) a chain of queued receive rights, and
    /// how many went through.
    chains: AtomicU64,
    chains_sent: AtomicU64,
    /// Notifications (messages from the kernel) received and checked.
    notifications: AtomicU64,
}

impl Counters {
    fn new() -> Counters {
        Counters {
            errno: std::array::from_fn(|_| AtomicU64::new(0)),
            kr: std::array::from_fn(|_| AtomicU64::new(0)),
            op_calls: std::array::from_fn(|_| AtomicU64::new(0)),
            op_ioctl_ns: std::array::from_fn(|_| AtomicU64::new(0)),
            op_step_ns: std::array::from_fn(|_| AtomicU64::new(0)),
            mr: Mutex::new(BTreeMap::new()),
            received: AtomicU64::new(0),
            ool_unmapped: AtomicU64::new(0),
            ool_bytes: AtomicU64::new(0),
            blind_receives: AtomicU64::new(0),
            deallocated: AtomicU64::new(0),
            rights_dropped: AtomicU64::new(0),
            kicks: AtomicU64::new(0),
            interrupted: AtomicU64::new(0),
            got_rights: std::array::from_fn(|_| AtomicU64::new(0)),
            chains: AtomicU64::new(0),
            chains_sent: AtomicU64::new(0),
            notifications: AtomicU64::new(0),
        }
    }
}

/// What the watchdog knows of one worker.
struct Watch {
    /// The worker's `pthread_t`.
    thread: AtomicU64,
    /// When its current ioctl began (nanoseconds since the run started, at
    /// least 1), 0 when it is not in one.
    since: AtomicU64,
    /// The current call has private arguments with timeouts: it must not
    /// wait long.
    bounded: AtomicBool,
    /// The current call waits on purpose (MACH_FUZZ_WAITS): interrupt it
    /// soon.
    waits: AtomicBool,
    /// How long a bounded call may take: a minute, and 10 s more per MiB it
    /// carries (copying megabytes is slow under emulation with KASAN,
    /// slower still with more threads than CPUs).
    limit: AtomicU64,
    call_no: AtomicU64,
    op: AtomicUsize,
    /// Signals sent to it.
    kicks: AtomicU64,
    /// `since` of the last call it was found waiting too long, and when it
    /// was last signalled.
    flagged: AtomicU64,
    last_kick: AtomicU64,
}

impl Watch {
    fn new() -> Watch {
        Watch {
            thread: AtomicU64::new(0),
            since: AtomicU64::new(0),
            bounded: AtomicBool::new(false),
            waits: AtomicBool::new(false),
            limit: AtomicU64::new(0),
            call_no: AtomicU64::new(0),
            op: AtomicUsize::new(0),
            kicks: AtomicU64::new(0),
            flagged: AtomicU64::new(0),
            last_kick: AtomicU64::new(0),
        }
    }
}

/// The watchdog's signal: its handler does nothing, but without SA_RESTART
/// a wait in the kernel ends with EINTR.
extern "C" fn on_kick(_: libc::c_int) {}

// ---------------------------------------------------------------------------
// The shared state of one run.

struct Shared {
    cfg: Config,
    slots: Vec<Mutex<Option<Arc<Sp>>>>,
    done: AtomicU64,
    stop: AtomicBool,
    opened: AtomicU64,
    closed: AtomicU64,
    mapper_ops: AtomicU64,
    open_failed: AtomicBool,
    scratch: Scratch,
    /// `/proc/self/mem`, to write into scratch pages that may vanish at any
    /// moment (a write there fails instead of faulting); -1 if unavailable.
    self_mem: RawFd,
    pipe: [RawFd; 2],
    devnull: RawFd,
    violations: Violations,
    counters: Counters,
    print: Mutex<()>,
    /// One per worker, for the watchdog.
    watch: Vec<Watch>,
    epoch: Instant,
    /// Who we are, as received trailers must say.
    pid: u32,
    euid: u32,
    egid: u32,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64 + 1
    }

    /// The space in `slot`, opened if the slot is empty.
    fn space(&self, slot: usize) -> Option<Arc<Sp>> {
        let mut s = self.slots[slot].lock().unwrap();
        if s.is_none() {
            match Space::open() {
                Ok(space) => {
                    self.opened.fetch_add(1, Relaxed);
                    *s = Some(Arc::new(Sp::new(space)));
                }
                Err(e) => {
                    drop(s);
                    if !self.open_failed.swap(true, Relaxed) {
                        println!("# cannot open /dev/mach: {e}");
                    }
                    return None;
                }
            }
        }
        s.clone()
    }

    /// Closes the space in `slot` (once the calls still using it are done).
    fn close(&self, slot: usize) {
        let old = self.slots[slot].lock().unwrap().take();
        if old.is_some() {
            self.closed.fetch_add(1, Relaxed);
        }
        drop(old);
    }
}

// ---------------------------------------------------------------------------
// Where an argument struct goes.

#[derive(Clone, Copy, Debug)]
enum Place {
    /// In our own memory, `misalign` bytes past an 8-byte boundary.
    Own(usize),
    Null,
    /// A small address (below mmap_min_addr).
    Low(u64),
    /// An unmapped page, at this offset.
    Hole(usize),
    /// A read-only page, at this offset.
    ReadOnly(usize),
    /// The last `k` bytes of a writable page, the rest in a read-only one.
    RwIntoRo(usize),
    /// The last `k` bytes of a read-only page, the rest unmapped.
    RoIntoHole(usize),
    /// The last `k` bytes of a writable page, the rest unmapped.
    RwIntoHole(usize),
    /// A kernel, non-canonical or wrapping address.
    Kernel(u64),
    /// In the scratch region, which the mapping thread changes under us.
    Scratch(usize),
}

const KERNEL_ADDRS: [u64; 9] = [
    0xffff_8880_0000_0000,
    0xffff_ffff_8100_0000,
    0xffff_ffff_ff60_0000,
    0xffff_ffff_ffff_f000,
    0xffff_ffff_ffff_fff8,
    0xffff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    0x0000_8000_0000_0000,
    0x0000_7fff_ffff_fffc,
];

// ---------------------------------------------------------------------------
// One worker thread.

const BIG: usize = sys::MACH_SPACE_MAX_NAMES as usize + 16;

struct Worker<'a> {
    sh: &'a Shared,
    id: usize,
    rng: Rng,
    /// Where argument structs of `Place::Own` go.
    own: Box<[u64; 64]>,
    /// Arrays for mach_port_names, large enough for a full space.
    big_names: Vec<u32>,
    big_types: Vec<u32>,
    mem: Option<Mem>,
    call_no: u64,
    /// The message call being made, between building and checking it.
    plan: Option<MsgPlan>,
    /// A message as built, before it is written where it goes.
    mbuf: Vec<u8>,
    /// Descriptors parsed from a message.
    descs: Vec<Desc>,
    /// Names received in a message, with their copied-out types.
    got: Vec<(u32, u32)>,
    /// How full the module's queues are: 0 fine, 1 no large messages, 2
    /// hardly any sends (from MACH_IOC_STATS every few message calls).
    mem_level: u8,
    msg_calls: u64,
    /// The watchdog's signal count for this worker when last looked at.
    kicks_seen: u64,
    /// The watchdog signalled this worker during the last ioctl (or just
    /// before it), and during the one before.
    kicked: bool,
    kicked_before: bool,
    /// The message being built is a sound one (valid header and body, to a
    /// receive right of ours), so that messages also get through.
    clean: bool,
    /// The message being built is a chain's (`build_chain`).
    chained: bool,
}

struct Call {
    op: Op,
    cmd: u64,
    size: usize,
    args: [u8; 64],
    place: Place,
    /// For mach_port_names: both arrays are our big buffers, aligned.
    names_checkable: bool,
}

impl<'a> Worker<'a> {
    fn new(sh: &'a Shared, id: usize) -> Worker<'a> {
        Worker {
            sh,
            id,
            rng: Rng::new(sh.cfg.seed, 1 + id as u64),
            own: Box::new([0; 64]),
            big_names: vec![0; BIG],
            big_types: vec![0; BIG],
            mem: None,
            call_no: 0,
            plan: None,
            mbuf: Vec::with_capacity(64 << 10),
            descs: Vec::with_capacity(DESC_CAP),
            got: Vec::with_capacity(64),
            mem_level: 0,
            msg_calls: 0,
            kicks_seen: 0,
            kicked: false,
            kicked_before: false,
            clean: false,
            chained: false,
        }
    }

    fn layout(&self) -> &Layout {
        &self.mem().layout
    }

    fn mem(&self) -> &Mem {
        self.mem.as_ref().unwrap()
    }

    // --- choosing arguments -------------------------------------------------

    /// A name in `sp`: mostly one seen there, sometimes a variation or a
    /// random value.
    fn name_in(&mut self, sp: &Sp) -> u32 {
        let r = &mut self.rng;
        match r.weighted(&[62, 8, 5, 8, 7, 10]) {
            0 => sp.seen_name(r).unwrap_or(sys::MACH_TASK_SELF_NAME),
            1 => sys::MACH_TASK_SELF_NAME,
            2 => r.pick(&[sys::MACH_PORT_NULL, sys::MACH_PORT_DEAD]),
            3 => {
                // Same index, another generation; or a neighbouring index.
                let n = sp.seen_name(r).unwrap_or(0x103);
                if r.pct(50) {
                    n ^ r.range(1, 255) as u32
                } else {
                    n.wrapping_add(0x100)
                }
            }
            4 => ((r.below(64) as u32) << 8) | r.below(256) as u32,
            _ => r.u32(),
        }
    }

    /// `name`, but seldom the task-self name: calls that would take the
    /// space's own task right away leave every later call with the task
    /// MACH_TASK_SELF_NAME failing with KERN_INVALID_TASK.
    fn spared(&mut self, name: u32, sp: &Sp) -> u32 {
        let own = sp.self_name.load(Relaxed);
        if (name != sys::MACH_TASK_SELF_NAME && name != own) || self.rng.pct(2) {
            return name;
        }
        match sp.seen_name(&mut self.rng) {
            Some(n) if n != sys::MACH_TASK_SELF_NAME && n != own => n,
            _ => ((self.rng.range(2, 63) as u32) << 8) | self.rng.below(256) as u32,
        }
    }

    /// A task name in `me` and the slot of the space it probably denotes.
    fn task_in(&mut self, me: &Sp, my_slot: usize) -> (u32, usize) {
        let r = &mut self.rng;
        match r.weighted(&[68, 20, 4, 4, 4]) {
            0 => (me.self_name.load(Relaxed), my_slot),
            1 => me
                .seen_task(r)
                .unwrap_or((me.self_name.load(Relaxed), my_slot)),
            2 => (me.seen_name(r).unwrap_or(0), my_slot),
            3 => (r.u32(), my_slot),
            _ => (
                r.pick(&[
                    sys::MACH_PORT_NULL,
                    sys::MACH_PORT_DEAD,
                    sys::MACH_TASK_SELF_NAME,
                    0x203,
                    0x102,
                ]),
                my_slot,
            ),
        }
    }

    fn right(&mut self) -> u32 {
        let r = &mut self.rng;
        if r.pct(85) {
            r.below(6) as u32
        } else {
            let any = r.u32();
            r.pick(&[6, 7, 0x10, 0x8000_0001, u32::MAX, any])
        }
    }

    fn alloc_right(&mut self) -> u32 {
        let r = &mut self.rng;
        if r.pct(75) {
            r.pick(&[
                sys::MACH_PORT_RIGHT_RECEIVE,
                sys::MACH_PORT_RIGHT_RECEIVE,
                sys::MACH_PORT_RIGHT_PORT_SET,
                sys::MACH_PORT_RIGHT_DEAD_NAME,
            ])
        } else {
            self.right()
        }
    }

    fn disposition(&mut self) -> u32 {
        let r = &mut self.rng;
        if r.pct(82) {
            r.range(16, 21) as u32
        } else {
            let any = r.u32();
            r.pick(&[0, 15, 22, 23, 0x111, 0x8000_0011, u32::MAX, any])
        }
    }

    fn delta(&mut self) -> i32 {
        let r = &mut self.rng;
        match r.weighted(&[30, 15, 15, 10, 20, 10]) {
            0 => -1,
            1 => 0,
            2 => 1,
            3 => r.range(0, 20) as i32 - 10,
            4 => r.pick(&[
                0xffff,
                -0xffff,
                0xfffe,
                0x1_0000,
                -0x1_0000,
                i32::MAX,
                i32::MIN,
                i32::MIN + 1,
                i32::MAX - 1,
            ]),
            _ => r.u32() as i32,
        }
    }

    fn reserved(&mut self) -> u32 {
        if self.rng.pct(3) {
            let any = self.rng.u32() | 1;
            self.rng.pick(&[1, 0x8000_0000, u32::MAX, any])
        } else {
            0
        }
    }

    /// An address for a mach_port_names array; `true` if it is the big
    /// buffer, aligned.
    fn names_array(&mut self, types: bool) -> (u64, bool) {
        let big = if types {
            self.big_types.as_mut_ptr() as u64
        } else {
            self.big_names.as_mut_ptr() as u64
        };
        let page = self.layout().page as u64;
        let (p0, p1, p2, p4) = {
            let l = self.layout();
            (l.p(0) as u64, l.p(1) as u64, l.p(2) as u64, l.p(4) as u64)
        };
        let r = &mut self.rng;
        match r.weighted(&[76, 4, 3, 3, 3, 3, 2, 2, 2, 2]) {
            0 => (big, true),
            1 => (big + r.range(1, 3), false),
            2 => (0, false),
            3 => (r.pick(&KERNEL_ADDRS), false),
            4 => (p2 + r.below(page), false),
            5 => (p1 + 4 * r.below(page / 4), false),
            // Runs into the hole after a writable page.
            6 => (p4 - 4 * r.range(1, 8), false),
            // Runs into the read-only page.
            7 => (p1 - 4 * r.range(1, 8), false),
            8 => (p0 + r.below(page), false),
            _ => {
                let sc = &self.sh.scratch;
                (
                    (sc.base + r.below((SCRATCH_PAGES * sc.page) as u64) as usize) as u64,
                    false,
                )
            }
        }
    }

    fn place(&mut self, op: Op, size: usize) -> Place {
        let page = self.layout().page;
        let r = &mut self.rng;
        match r.weighted(&[76, 5, 2, 1, 2, 3, 3, 2, 2, 3, 4]) {
            0 => Place::Own(0),
            1 => Place::Own(r.range(1, 7) as usize),
            2 => Place::Null,
            3 => Place::Low(r.pick(&[1, 8, 0xfff, 0x1000, 0xffc0])),
            4 => Place::Hole(r.below(page as u64) as usize),
            5 => Place::ReadOnly(if r.pct(50) {
                8 * r.below(((page - size) / 8) as u64) as usize
            } else {
                r.below((page - size) as u64) as usize
            }),
            6 => Place::RwIntoRo(r.range(1, size as u64 - 1) as usize),
            7 => Place::RoIntoHole(r.range(1, size as u64 - 1) as usize),
            8 => Place::RwIntoHole(r.range(1, size as u64 - 1) as usize),
            9 => Place::Kernel(r.pick(&KERNEL_ADDRS)),
            _ => {
                // The kernel reads the pointers of a names struct from it:
                // only where the struct is ours or cannot be read at all.
                if matches!(op, Op::Names | Op::GetSetStatus) {
                    Place::Own(0)
                } else {
                    let span = SCRATCH_PAGES * self.sh.scratch.page;
                    let off = if r.pct(60) {
                        8 * r.below((span / 8) as u64) as usize
                    } else {
                        r.below(span as u64) as usize
                    };
                    Place::Scratch(off)
                }
            }
        }
    }

    fn unknown_cmd(&mut self) -> u32 {
        loop {
            let r = &mut self.rng;
            let real = OPS[r.below(OPS.len() as u64 - 1) as usize].cmd;
            let m = sys::MACH_IOC_MAGIC;
            let cmd = match r.below(6) {
                // Right magic, wrong number.
                0 => ioc(3, m, r.below(256) as u32, (real >> 16) & 0x3fff),
                // Right number, wrong size.
                1 => (real & !(0x3fff << 16)) | ((r.below(0x4000) as u32) << 16),
                // Wrong direction.
                2 => (real & 0x3fff_ffff) | ((r.below(3) as u32) << 30),
                // Another type byte.
                3 => (real & !0xff00) | ((r.below(256) as u32) << 8),
                // Magic with random everything else.
                4 => (r.u32() & !0xff00) | (m << 8),
                _ => r.u32(),
            };
            if !is_real_cmd(cmd) && !is_generic_ioctl_type(cmd) {
                return cmd;
            }
        }
    }

    /// A descriptor for task_for_fd; `Some(slot)` if it is a space's. The
    /// returned `Arc` keeps that space open during the call; the returned
    /// descriptor, if any, is to be closed after it.
    fn fd_for_task(
        &mut self,
        my: &Arc<Sp>,
        my_slot: usize,
    ) -> (i32, Option<usize>, Option<Arc<Sp>>, Option<RawFd>) {
        let sh = self.sh;
        match self.rng.weighted(&[40, 8, 8, 8, 8, 8, 8, 12]) {
            0 => {
                let slot = self.rng.below(sh.slots.len() as u64) as usize;
                match sh.space(slot) {
                    Some(sp) => (sp.space.as_raw_fd(), Some(slot), Some(sp), None),
                    None => (-1, None, None, None),
                }
            }
            1 => (my.space.as_raw_fd(), Some(my_slot), None, None),
            2 => (
                self.rng.pick(&[sh.pipe[0], sh.pipe[1], sh.devnull]),
                None,
                None,
                None,
            ),
            3 => {
                // A descriptor just closed (another thread may reuse it).
                // SAFETY: dup and close of a descriptor we own.
                let fd = unsafe { libc::dup(sh.devnull) };
                if fd >= 0 {
                    // SAFETY: `fd` is ours and used nowhere else.
                    unsafe { libc::close(fd) };
                }
                (fd, None, None, None)
            }
            4 => (
                self.rng
                    .pick(&[-1, i32::MIN, -100, 1 << 20, i32::MAX, 65535]),
                None,
                None,
                None,
            ),
            5 => (self.rng.below(64) as i32, None, None, None),
            6 => (self.rng.pick(&[0, 1, 2]), None, None, None),
            _ => {
                // A second descriptor of some space's file.
                let slot = self.rng.below(sh.slots.len() as u64) as usize;
                match sh.space(slot) {
                    Some(sp) => {
                        // SAFETY: dup of a descriptor kept open by `sp`.
                        let fd = unsafe { libc::dup(sp.space.as_raw_fd()) };
                        (fd, Some(slot), Some(sp), (fd >= 0).then_some(fd))
                    }
                    None => (-1, None, None, None),
                }
            }
        }
    }

    // --- one call -------------------------------------------------------------

    fn step(&mut self) {
        let sh = self.sh;
        let t0 = Instant::now();
        self.call_no += 1;
        let nslots = sh.slots.len();
        // Now and then a space closes (the calls still in it finish first).
        if self.rng.below(1500) == 0 {
            let slot = self.rng.below(nslots as u64) as usize;
            sh.close(slot);
        }
        let slot = self.rng.below(nslots as u64) as usize;
        let Some(me) = sh.space(slot) else {
            return;
        };
        let weights: [u32; OPS.len()] = std::array::from_fn(|i| {
            let msg = matches!(OPS[i].op, Op::Msg | Op::GetAttributes | Op::SetAttributes);
            if msg && !sh.cfg.msg {
                0
            } else {
                OPS[i].weight
            }
        });
        let mut op_index = self.rng.weighted(&weights);
        // A space that lost its own task right gets a new one first.
        let regain_self = me.lost_self.swap(false, Relaxed);
        if regain_self {
            op_index = OPS.iter().position(|o| o.op == Op::TaskForFd).unwrap();
        }
        let oi = &OPS[op_index];
        let op = oi.op;
        let mut cmd = u64::from(oi.cmd);
        let mut size = oi.size;
        let mut names_checkable = false;
        let mut target: Option<Arc<Sp>> = None;
        let mut keep: Option<Arc<Sp>> = None;
        let mut close_after: Option<RawFd> = None;
        let mut fd_slot = None;
        let mut forced_place = None;
        let args: [u8; 64] = match op {
            Op::ApiVersion => to_bytes(&sys::ApiVersionArgs {
                version: if self.rng.pct(90) { 0 } else { self.rng.u32() },
                reserved: self.reserved(),
            }),
            Op::Stats => {
                let mut a = sys::StatsArgs::default();
                if self.rng.pct(5) {
                    a.reserved[self.rng.below(a.reserved.len() as u64) as usize] =
                        self.rng.next() | 1;
                }
                if self.rng.pct(10) {
                    a.spaces = self.rng.next();
                }
                to_bytes(&a)
            }
            Op::ReplyPort => to_bytes(&sys::ReplyPortArgs {
                name: if self.rng.pct(90) { 0 } else { self.rng.u32() },
                reserved: self.reserved(),
            }),
            Op::Allocate | Op::AllocateName => {
                let (task, tslot) = self.task_in(&me, slot);
                target = sh.space(tslot);
                let name = match &target {
                    Some(t) if self.rng.pct(30) => self.name_in(t),
                    _ => {
                        if self.rng.pct(50) {
                            self.rng.u32()
                        } else {
                            ((self.rng.below(1 << 12) as u32) << 8) | self.rng.below(256) as u32
                        }
                    }
                };
                to_bytes(&sys::PortAllocateArgs {
                    task,
                    right: self.alloc_right(),
                    name,
                    kr: if self.rng.pct(95) {
                        0
                    } else {
                        self.rng.u32() as i32
                    },
                })
            }
            Op::Type => {
                let (task, tslot) = self.task_in(&me, slot);
                let t = sh.space(tslot).unwrap_or_else(|| me.clone());
                to_bytes(&sys::PortTypeArgs {
                    task,
                    name: self.name_in(&t),
                    ptype: 0,
                    kr: 0,
                })
            }
            Op::Names => {
                let (task, tslot) = self.task_in(&me, slot);
                target = sh.space(tslot);
                let capacity = {
                    let r = &mut self.rng;
                    match r.weighted(&[10, 10, 30, 20, 15, 15]) {
                        0 => 0,
                        1 => r.range(1, 4) as u32,
                        2 => r.pick(&[64, 256, 1024, 4096]),
                        3 => sys::MACH_SPACE_MAX_NAMES,
                        4 => u32::MAX,
                        _ => r.u32(),
                    }
                };
                let (names, n_ok) = self.names_array(false);
                let (types, t_ok) = self.names_array(true);
                names_checkable = n_ok && t_ok;
                to_bytes(&sys::PortNamesArgs {
                    task,
                    capacity,
                    names,
                    types,
                    count: 0,
                    kr: 0,
                })
            }
            Op::GetRefs => {
                let (task, tslot) = self.task_in(&me, slot);
                let t = sh.space(tslot).unwrap_or_else(|| me.clone());
                to_bytes(&sys::PortGetRefsArgs {
                    task,
                    name: self.name_in(&t),
                    right: self.right(),
                    refs: 0,
                    kr: 0,
                    reserved: self.reserved(),
                })
            }
            Op::ModRefs => {
                let (task, tslot) = self.task_in(&me, slot);
                let t = sh.space(tslot).unwrap_or_else(|| me.clone());
                let name = self.name_in(&t);
                to_bytes(&sys::PortModRefsArgs {
                    task,
                    name: self.spared(name, &t),
                    right: self.right(),
                    delta: self.delta(),
                    kr: 0,
                    reserved: self.reserved(),
                })
            }
            Op::Deallocate | Op::Destroy => {
                let (task, tslot) = self.task_in(&me, slot);
                let t = sh.space(tslot).unwrap_or_else(|| me.clone());
                let name = self.name_in(&t);
                to_bytes(&sys::PortNameArgs {
                    task,
                    name: self.spared(name, &t),
                    kr: 0,
                    reserved: self.reserved(),
                })
            }
            Op::Insert => {
                let (task, tslot) = self.task_in(&me, slot);
                target = sh.space(tslot);
                let name = match &target {
                    Some(t) if self.rng.pct(50) => self.name_in(t),
                    _ => self.name_in(&me),
                };
                let poly = self.name_in(&me);
                to_bytes(&sys::PortInsertRightArgs {
                    task,
                    name,
                    poly: self.spared(poly, &me),
                    poly_poly: self.disposition(),
                    kr: 0,
                    reserved: self.reserved(),
                })
            }
            Op::Extract => {
                let (task, tslot) = self.task_in(&me, slot);
                let t = sh.space(tslot).unwrap_or_else(|| me.clone());
                let name = self.name_in(&t);
                to_bytes(&sys::PortExtractRightArgs {
                    task,
                    name: self.spared(name, &t),
                    msgt_name: self.disposition(),
                    poly: 0,
                    poly_poly: 0,
                    kr: 0,
                })
            }
            Op::TaskForFd => {
                let (fd, fslot, held, dup) = if regain_self {
                    (me.space.as_raw_fd(), Some(slot), None, None)
                } else {
                    self.fd_for_task(&me, slot)
                };
                keep = held;
                close_after = dup;
                fd_slot = fslot;
                to_bytes(&sys::TaskForFdArgs {
                    fd,
                    task: 0,
                    kr: 0,
                    reserved: self.reserved(),
                })
            }
            Op::Msg => {
                let (a, place) = self.build_msg(&me);
                forced_place = Some(place);
                to_bytes(&a)
            }
            Op::GetAttributes | Op::SetAttributes => {
                let (task, tslot) = self.task_in(&me, slot);
                let t = sh.space(tslot).unwrap_or_else(|| me.clone());
                to_bytes(&self.attributes_args(&t, task, op == Op::SetAttributes))
            }
            Op::MoveMember | Op::InsertMember | Op::ExtractMember => {
                let (task, tslot) = self.task_in(&me, slot);
                let t = sh.space(tslot).unwrap_or_else(|| me.clone());
                let member = match self.rng.weighted(&[70, 20, 5, 5]) {
                    0 => self.rcv_or_name(&t),
                    1 => self.name_in(&t),
                    2 => self.rng.pick(&[sys::MACH_PORT_NULL, sys::MACH_PORT_DEAD]),
                    _ => self.rng.u32(),
                };
                let after = self.set_name(&t);
                to_bytes(&sys::PortMemberArgs {
                    task,
                    member,
                    after,
                    kr: 0,
                })
            }
            Op::GetSetStatus => {
                let (task, tslot) = self.task_in(&me, slot);
                target = sh.space(tslot);
                let t = target.clone().unwrap_or_else(|| me.clone());
                let name = self.set_name(&t);
                let capacity = {
                    let r = &mut self.rng;
                    match r.weighted(&[10, 15, 40, 15, 10, 10]) {
                        0 => 0,
                        1 => r.range(1, 4) as u32,
                        2 => r.pick(&[64, 256, 1024]),
                        3 => sys::MACH_SPACE_MAX_NAMES,
                        4 => u32::MAX,
                        _ => r.u32(),
                    }
                };
                let (members, ok) = self.names_array(false);
                names_checkable = ok;
                to_bytes(&sys::PortSetStatusArgs {
                    task,
                    name,
                    members,
                    capacity,
                    count: 0,
                    kr: 0,
                    reserved: self.reserved(),
                })
            }
            Op::RequestNotification => {
                let (task, tslot) = self.task_in(&me, slot);
                let t = sh.space(tslot).unwrap_or_else(|| me.clone());
                let name = match self.rng.weighted(&[55, 30, 10, 5]) {
                    0 => self.rcv_or_name(&t),
                    1 => self.name_in(&t),
                    2 => self.rng.pick(&[sys::MACH_PORT_NULL, sys::MACH_PORT_DEAD]),
                    _ => self.rng.u32(),
                };
                // The notify right is in the caller's space.
                let notify = match self.rng.weighted(&[60, 20, 15, 5]) {
                    0 => self.rcv_or_name(&me),
                    1 => self.name_in(&me),
                    2 => sys::MACH_PORT_NULL,
                    _ => sys::MACH_PORT_DEAD,
                };
                let r = &mut self.rng;
                let any = r.u32();
                let variant = if r.pct(85) {
                    r.pick(&[
                        sys::MACH_NOTIFY_PORT_DESTROYED,
                        sys::MACH_NOTIFY_NO_SENDERS,
                        sys::MACH_NOTIFY_DEAD_NAME,
                    ])
                } else {
                    r.pick(&[
                        sys::MACH_NOTIFY_PORT_DELETED,
                        sys::MACH_NOTIFY_SEND_ONCE,
                        sys::MACH_NOTIFY_SEND_POSSIBLE,
                        0,
                        -1,
                        any as i32,
                    ])
                };
                let sync = match r.weighted(&[50, 30, 20]) {
                    0 => 0,
                    1 => 1,
                    _ => r.u32() & 0xffff,
                };
                let notify_type = if r.pct(85) {
                    r.pick(&[
                        sys::MACH_MSG_TYPE_MAKE_SEND_ONCE,
                        sys::MACH_MSG_TYPE_MAKE_SEND_ONCE,
                        sys::MACH_MSG_TYPE_MOVE_SEND_ONCE,
                    ])
                } else {
                    r.pick(&[0, 16, 17, 19, 20, 22, any])
                };
                to_bytes(&sys::RequestNotificationArgs {
                    task,
                    name,
                    variant,
                    sync,
                    notify,
                    notify_type,
                    previous: 0,
                    kr: 0,
                })
            }
            Op::SetBackup => {
                let (task, tslot) = self.task_in(&me, slot);
                let t = sh.space(tslot).unwrap_or_else(|| me.clone());
                let primary = match self.rng.weighted(&[70, 20, 10]) {
                    0 => self.rcv_or_name(&t),
                    1 => self.name_in(&t),
                    _ => self.rng.pick(&[sys::MACH_PORT_NULL, sys::MACH_PORT_DEAD]),
                };
                // A send right in the caller's space.
                let backup = match self.rng.weighted(&[45, 30, 15, 10]) {
                    0 => self.name_in(&me),
                    1 => self.rcv_or_name(&me),
                    2 => sys::MACH_PORT_NULL,
                    _ => sys::MACH_PORT_DEAD,
                };
                to_bytes(&sys::PortSetBackupArgs {
                    task,
                    primary,
                    backup,
                    previous: 0,
                    kr: 0,
                    reserved: self.reserved(),
                })
            }
            Op::Unknown => {
                cmd = u64::from(self.unknown_cmd());
                size = 64;
                let mut b = [0u8; 64];
                for chunk in b.chunks_mut(8) {
                    chunk.copy_from_slice(&(self.rng.next() & 0x0000_0fff_0000_0fff).to_ne_bytes());
                }
                b
            }
        };
        // The kernel takes the command as 32 bits; the rest is ignored.
        if self.rng.pct(3) {
            cmd |= u64::from(self.rng.u32()) << 32;
        }
        let place = if regain_self {
            Place::Own(0)
        } else if let Some(p) = forced_place {
            p
        } else {
            self.place(op, size)
        };
        if regain_self {
            cmd &= 0xffff_ffff;
        }
        let call = Call {
            op,
            cmd,
            size,
            args,
            place,
            names_checkable,
        };
        let t1 = Instant::now();
        let (err, out) = self.issue(&me, &call);
        let ioctl_ns = t1.elapsed().as_nanos() as u64;
        if let Some(fd) = close_after {
            // SAFETY: The duplicate made for this call.
            unsafe { libc::close(fd) };
        }
        drop(keep);
        self.account(oi, &call, err, out.as_ref());
        if op == Op::Msg {
            self.finish_msg(&me, err, out.as_ref(), ioctl_ns);
        } else if ioctl_ns > 10_000_000_000 {
            let _g = sh.print.lock().unwrap();
            println!(
                "# slow call, {:.1} s in the kernel: seed {} thread {} call {}: {:?} at {:?}, errno {}",
                ioctl_ns as f64 / 1e9,
                sh.cfg.seed,
                self.id,
                self.call_no,
                op,
                call.place,
                errno_name(err)
            );
        }
        if let Some(out) = out {
            if err == 0 {
                self.learn(&me, slot, &call, &out, target.as_deref(), fd_slot);
            }
        }
        let c = &sh.counters;
        c.op_calls[op_index].fetch_add(1, Relaxed);
        c.op_ioctl_ns[op_index].fetch_add(ioctl_ns, Relaxed);
        c.op_step_ns[op_index].fetch_add(t0.elapsed().as_nanos() as u64, Relaxed);
    }

    /// Puts the struct where `place` says, issues the ioctl; gives 0 or the
    /// errno, and the struct as the kernel left it when it is ours to read.
    fn issue(&mut self, me: &Sp, c: &Call) -> (i32, Option<[u8; 64]>) {
        let bytes = &c.args[..c.size];
        let own_base = self.own.as_mut_ptr() as usize + 64;
        let addr: u64 = {
            let l = self.layout();
            match c.place {
                Place::Own(m) => {
                    let a = own_base + m;
                    // SAFETY: `own` has 512 bytes; the struct (at most 64)
                    // starts at most 71 bytes in.
                    unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), a as *mut u8, bytes.len()) };
                    a as u64
                }
                Place::Null => 0,
                Place::Low(a) | Place::Kernel(a) => a,
                Place::Hole(off) => (l.p(2) + off) as u64,
                Place::ReadOnly(off) => {
                    let a = l.p(1) + off;
                    l.write(a, bytes);
                    a as u64
                }
                Place::RwIntoRo(k) => {
                    let a = l.p(1) - k;
                    l.write(a, bytes);
                    a as u64
                }
                Place::RoIntoHole(k) => {
                    let a = l.p(2) - k;
                    l.write(a, bytes);
                    a as u64
                }
                Place::RwIntoHole(k) => {
                    let a = l.p(4) - k;
                    l.write(a, bytes);
                    a as u64
                }
                Place::Scratch(off) => {
                    let sc = &self.sh.scratch;
                    let a = sc.base + off;
                    let pg = off / sc.page;
                    if sc.foreign[pg].load(Relaxed)
                        || sc.foreign.get(pg + 1).is_some_and(|f| f.load(Relaxed))
                    {
                        // Not ours any more: an address that faults instead.
                        0
                    } else {
                        if self.sh.self_mem >= 0 {
                            // Best effort: fails if the page is gone.
                            // SAFETY: pwrite of our own buffer.
                            unsafe {
                                libc::pwrite(
                                    self.sh.self_mem,
                                    bytes.as_ptr().cast(),
                                    bytes.len(),
                                    a as libc::off_t,
                                )
                            };
                        }
                        a as u64
                    }
                }
            }
        };
        let w = &self.sh.watch[self.id];
        w.call_no.store(self.call_no, Relaxed);
        w.op.store(OPS.iter().position(|o| o.op == c.op).unwrap_or(0), Relaxed);
        let waits = c.op == Op::Msg && self.plan.as_ref().is_some_and(|p| p.waits);
        w.bounded.store(
            c.op == Op::Msg && matches!(c.place, Place::Own(_)) && !waits,
            Relaxed,
        );
        w.waits.store(waits, Relaxed);
        let carried = self.plan.as_ref().map_or(0, |p| {
            u64::from(p.send_size.min(sys::MACH_MSG_SIZE_MAX)) + p.summary[4] + 4 * p.summary[5]
        });
        w.limit.store(
            60_000_000_000 + carried * 10_000_000_000 / (1 << 20),
            Relaxed,
        );
        w.since.store(self.sh.now_ns(), Relaxed);
        // SAFETY: `addr` is either memory of ours that only this thread
        // uses (the own buffer, the layout pages), the scratch region, or an
        // address that faults; the kernel checks every address it is given.
        // Any array address inside the struct is one of the same kinds, and
        // the big arrays hold a full space's names. A message buffer is the
        // same (see `build_msg`), and the only memory a message may have the
        // kernel unmap is the arena chunk mapped for it.
        let rc = unsafe {
            libc::ioctl(
                me.space.as_raw_fd(),
                c.cmd as libc::c_ulong,
                addr as usize as *mut libc::c_void,
            )
        };
        let ioctl_errno = io::Error::last_os_error().raw_os_error().unwrap_or(-1);
        w.since.store(0, Relaxed);
        // A signal meant for the call before may arrive in this one (the
        // watchdog counts it just before sending it): both may see EINTR.
        let kicks = w.kicks.load(Relaxed);
        let changed = kicks != self.kicks_seen;
        self.kicked = changed || self.kicked_before;
        self.kicked_before = changed;
        self.kicks_seen = kicks;
        let err = if rc < 0 {
            ioctl_errno
        } else if rc > 0 {
            // Not an errno, but not 0 either: counted as "other".
            -2
        } else {
            0
        };
        let out = match c.place {
            Place::Own(m) => {
                let mut b = [0u8; 64];
                // SAFETY: As above; the kernel is done with the buffer.
                unsafe {
                    ptr::copy_nonoverlapping((own_base + m) as *const u8, b.as_mut_ptr(), c.size)
                };
                Some(b)
            }
            _ => None,
        };
        if self.sh.cfg.trace {
            let _g = self.sh.print.lock().unwrap();
            let words: Vec<String> = c.args[..c.size]
                .chunks(4)
                .map(|w| format!("{:x}", u32::from_ne_bytes([w[0], w[1], w[2], w[3]])))
                .collect();
            println!(
                "# t{} #{} {:?} cmd={:#x} place={:?} args=[{}] -> {}{}",
                self.id,
                self.call_no,
                c.op,
                c.cmd,
                c.place,
                words.join(" "),
                errno_name(err),
                match (&out, OPS.iter().find(|o| o.op == c.op).and_then(|o| o.kr)) {
                    (Some(b), Some(off)) if err == 0 => format!(" kr={}", get_i32(b, off)),
                    (Some(b), None) if err == 0 && c.op == Op::Msg =>
                        format!(" mr={}", mr_name(get_i32(b, offset_of!(sys::MsgArgs, mr)))),
                    _ => String::new(),
                }
            );
        }
        (err, out)
    }

    /// The checks of one call.
    fn account(&mut self, oi: &OpInfo, c: &Call, err: i32, out: Option<&[u8; 64]>) {
        let sh = self.sh;
        let v = &sh.violations;
        let slot = match err {
            0 => 0,
            e => ERRNOS
                .iter()
                .position(|&(n, _)| n == e)
                .map_or(ERRNO_OTHER, |i| i + 1),
        };
        sh.counters.errno[slot].fetch_add(1, Relaxed);
        let what = |c: &Call| {
            format!(
                "seed {} thread {} call {}: {:?} cmd {:#x} at {:?}",
                sh.cfg.seed, self.id, self.call_no, c.op, c.cmd, c.place
            )
        };
        // EINTR only for a message call the watchdog interrupted.
        let eintr_ok = c.op == Op::Msg && self.kicked;
        if slot == ERRNO_OTHER || (err == libc::EINTR && !eintr_ok) {
            v.add(CHECK_ERRNO, || {
                format!("{} gave {}", what(c), errno_name(err))
            });
        }
        // What each kind of call and address may give.
        let strict_ok = match (c.op, c.place) {
            (Op::Unknown, _) => err == libc::ENOTTY,
            // A real command is never unknown.
            _ if err == libc::ENOTTY => false,
            (_, Place::Own(_)) | (_, Place::Scratch(_)) => true,
            (_, Place::ReadOnly(_)) | (_, Place::RwIntoRo(_)) => {
                err == libc::EFAULT || err == libc::EINVAL || err == libc::ENOMEM
            }
            _ => err == libc::EFAULT,
        };
        if !strict_ok {
            v.add(CHECK_STRICT, || {
                format!("{} gave {}", what(c), errno_name(err))
            });
        }
        // Message and attribute calls with their struct in our own memory:
        // EINVAL exactly when a reserved field is set or (attributes) the
        // count is above MACH_PORT_INFO_MAX, else 0.
        if matches!(c.place, Place::Own(_)) {
            let want_einval = match c.op {
                Op::Msg => from_bytes::<sys::MsgArgs>(&c.args).reserved != 0,
                Op::GetAttributes | Op::SetAttributes => {
                    let a: sys::PortAttributesArgs = from_bytes(&c.args);
                    a.reserved != 0 || a.count > sys::MACH_PORT_INFO_MAX
                }
                Op::GetSetStatus => {
                    let a: sys::PortSetStatusArgs = from_bytes(&c.args);
                    a.reserved != 0 || (a.capacity > 0 && a.members == 0)
                }
                Op::SetBackup => from_bytes::<sys::PortSetBackupArgs>(&c.args).reserved != 0,
                _ => false,
            };
            let ok = match c.op {
                Op::Msg
                | Op::GetAttributes
                | Op::SetAttributes
                | Op::GetSetStatus
                | Op::SetBackup
                    if want_einval =>
                {
                    err == libc::EINVAL
                }
                Op::Msg => err == 0 || (err == libc::EINTR && eintr_ok),
                // The members array may be an address that faults.
                Op::GetSetStatus => err == 0 || err == libc::EFAULT,
                Op::GetAttributes
                | Op::SetAttributes
                | Op::MoveMember
                | Op::InsertMember
                | Op::ExtractMember
                | Op::RequestNotification
                | Op::SetBackup => err == 0,
                _ => true,
            };
            if !ok {
                v.add(CHECK_MSG, || {
                    format!(
                        "{} gave {} (EINVAL expected: {want_einval})",
                        what(c),
                        errno_name(err)
                    )
                });
            }
        }
        let Some(out) = out else {
            return;
        };
        if err != 0 {
            return;
        }
        let problem = match c.op {
            Op::GetAttributes | Op::SetAttributes => attributes_problem(c, out),
            Op::MoveMember
            | Op::InsertMember
            | Op::ExtractMember
            | Op::GetSetStatus
            | Op::RequestNotification
            | Op::SetBackup => set_call_problem(c, out),
            _ => None,
        };
        if let Some(problem) = problem {
            v.add(CHECK_MSG, || format!("{}: {problem}", what(c)));
        }
        if let Some(off) = oi.kr {
            let kr = get_i32(out, off);
            if (0..=56).contains(&kr) {
                sh.counters.kr[kr as usize].fetch_add(1, Relaxed);
            } else {
                sh.counters.kr[57].fetch_add(1, Relaxed);
                v.add(CHECK_KR, || format!("{} gave kr {kr:#x}", what(c)));
            }
        }
        if let Some(problem) = self.malformed(c, out) {
            v.add(CHECK_RESULTS, || format!("{}: {problem}", what(c)));
        }
    }

    /// What is wrong with a successful result, if anything.
    fn malformed(&self, c: &Call, out: &[u8; 64]) -> Option<String> {
        const KNOWN_TYPE_BITS: u32 = sys::MACH_PORT_TYPE_ALL_RIGHTS
            | sys::MACH_PORT_TYPE_DNREQUEST
            | sys::MACH_PORT_TYPE_SPREQUEST
            | sys::MACH_PORT_TYPE_SPREQUEST_DELAYED;
        let bad_type =
            |t: u32| t & sys::MACH_PORT_TYPE_ALL_RIGHTS == 0 || t & !KNOWN_TYPE_BITS != 0;
        match c.op {
            Op::ApiVersion => {
                let a: sys::ApiVersionArgs = from_bytes(out);
                (a.version != sys::MACH_API_VERSION).then(|| format!("version {}", a.version))
            }
            Op::Stats => {
                let a: sys::StatsArgs = from_bytes(out);
                // Our own space is open: at least one space and its task port.
                if a.reserved != [0; 2] || a.spaces == 0 || a.ports == 0 {
                    Some(format!("stats {a:?}"))
                } else {
                    None
                }
            }
            Op::ReplyPort => {
                let a: sys::ReplyPortArgs = from_bytes(out);
                (a.name == sys::MACH_PORT_DEAD)
                    .then(|| "reply port named MACH_PORT_DEAD".to_string())
            }
            Op::Allocate | Op::AllocateName => {
                let a: sys::PortAllocateArgs = from_bytes(out);
                let asked: sys::PortAllocateArgs = from_bytes(&c.args);
                if a.kr != 0 {
                    return None;
                }
                if !sys::mach_port_valid(a.name) {
                    return Some(format!("allocated name {:#x}", a.name));
                }
                if c.op == Op::AllocateName && a.name != asked.name {
                    return Some(format!("asked for {:#x}, got {:#x}", asked.name, a.name));
                }
                None
            }
            Op::Type => {
                let a: sys::PortTypeArgs = from_bytes(out);
                (a.kr == 0 && bad_type(a.ptype)).then(|| format!("type {:#x}", a.ptype))
            }
            Op::GetRefs => {
                let a: sys::PortGetRefsArgs = from_bytes(out);
                (a.kr == 0 && a.refs > sys::MACH_PORT_UREFS_MAX)
                    .then(|| format!("refs {:#x}", a.refs))
            }
            Op::Extract => {
                let a: sys::PortExtractRightArgs = from_bytes(out);
                let kinds = [
                    sys::MACH_MSG_TYPE_PORT_RECEIVE,
                    sys::MACH_MSG_TYPE_PORT_SEND,
                    sys::MACH_MSG_TYPE_PORT_SEND_ONCE,
                ];
                (a.kr == 0 && (a.poly == sys::MACH_PORT_NULL || !kinds.contains(&a.poly_poly)))
                    .then(|| format!("poly {:#x} polyPoly {}", a.poly, a.poly_poly))
            }
            Op::TaskForFd => {
                let a: sys::TaskForFdArgs = from_bytes(out);
                (a.kr == 0 && !sys::mach_port_valid(a.task)).then(|| format!("task {:#x}", a.task))
            }
            Op::GetAttributes => {
                let a: sys::PortAttributesArgs = from_bytes(out);
                if a.kr != 0 {
                    return None;
                }
                let bad = match a.flavor {
                    sys::MACH_PORT_LIMITS_INFO => {
                        a.count != 1 || a.info[0] > sys::MACH_PORT_QLIMIT_MAX
                    }
                    // {pset, seqno, mscount, qlimit, msgcount, sorights,
                    // srights, pdrequest, nsrequest, flags}
                    // mps_pset is the set's name; pdrequest and nsrequest
                    // say whether requests are registered.
                    sys::MACH_PORT_RECEIVE_STATUS => {
                        a.count != 10
                            || a.info[3] > sys::MACH_PORT_QLIMIT_MAX
                            || a.info[6] > 1
                            || a.info[7] > 1
                            || a.info[8] > 1
                            || a.info[9] != 0
                    }
                    sys::MACH_PORT_DNREQUESTS_SIZE => a.count != 1 || a.info[0] != 0,
                    _ => true,
                };
                bad.then(|| format!("flavor {} count {} info {:?}", a.flavor, a.count, a.info))
            }
            Op::GetSetStatus => {
                let a: sys::PortSetStatusArgs = from_bytes(out);
                if a.kr != 0 || !c.names_checkable || a.count > a.capacity {
                    return None;
                }
                let names = &self.big_names[..a.count as usize];
                if let Some(w) = names.windows(2).find(|w| w[0] >= w[1]) {
                    return Some(format!(
                        "members not ascending: {:#x} then {:#x}",
                        w[0], w[1]
                    ));
                }
                names
                    .iter()
                    .find(|&&n| !sys::mach_port_valid(n))
                    .map(|n| format!("member {n:#x}"))
            }
            Op::Names => {
                let a: sys::PortNamesArgs = from_bytes(out);
                if a.kr != 0 {
                    return None;
                }
                if a.count > sys::MACH_SPACE_MAX_NAMES {
                    return Some(format!("count {}", a.count));
                }
                if !c.names_checkable || a.count > a.capacity {
                    return None;
                }
                let n = a.count as usize;
                let names = &self.big_names[..n];
                let types = &self.big_types[..n];
                if let Some(w) = names.windows(2).find(|w| w[0] >= w[1]) {
                    return Some(format!("names not ascending: {:#x} then {:#x}", w[0], w[1]));
                }
                if let Some(i) =
                    (0..n).find(|&i| !sys::mach_port_valid(names[i]) || bad_type(types[i]))
                {
                    return Some(format!("name {:#x} type {:#x}", names[i], types[i]));
                }
                None
            }
            _ => None,
        }
    }

    /// Remembers the names a successful call gave.
    fn learn(
        &mut self,
        me: &Sp,
        slot: usize,
        c: &Call,
        out: &[u8; 64],
        target: Option<&Sp>,
        fd_slot: Option<usize>,
    ) {
        let has_task = !matches!(
            c.op,
            Op::ApiVersion | Op::Stats | Op::ReplyPort | Op::TaskForFd | Op::Msg | Op::Unknown
        );
        if has_task {
            let task = u32::from_ne_bytes([c.args[0], c.args[1], c.args[2], c.args[3]]);
            let kr = OPS
                .iter()
                .find(|o| o.op == c.op)
                .and_then(|o| o.kr)
                .map(|off| get_i32(out, off));
            if task == me.self_name.load(Relaxed) && kr == Some(sys::KERN_INVALID_TASK) {
                me.lost_self.store(true, Relaxed);
            }
        }
        match c.op {
            Op::ReplyPort => me.record_rcv(from_bytes::<sys::ReplyPortArgs>(out).name),
            Op::Allocate | Op::AllocateName => {
                let a: sys::PortAllocateArgs = from_bytes(out);
                if a.kr == 0 {
                    let sp = target.unwrap_or(me);
                    match a.right {
                        sys::MACH_PORT_RIGHT_RECEIVE => sp.record_rcv(a.name),
                        sys::MACH_PORT_RIGHT_PORT_SET => sp.record_set(a.name),
                        _ => sp.record(a.name),
                    }
                }
            }
            Op::Insert => {
                let a: sys::PortInsertRightArgs = from_bytes(out);
                if a.kr == 0 {
                    let sp = target.unwrap_or(me);
                    if a.poly_poly == sys::MACH_MSG_TYPE_MOVE_RECEIVE {
                        sp.record_rcv(a.name);
                    } else {
                        sp.record(a.name);
                    }
                }
            }
            Op::Extract => {
                let a: sys::PortExtractRightArgs = from_bytes(out);
                if a.kr == 0 {
                    if a.poly_poly == sys::MACH_MSG_TYPE_PORT_RECEIVE {
                        me.record_rcv(a.poly);
                    } else {
                        me.record(a.poly);
                    }
                }
            }
            Op::GetSetStatus => {
                let a: sys::PortSetStatusArgs = from_bytes(out);
                if a.kr == 0 && c.names_checkable && a.count <= a.capacity && a.count > 0 {
                    let sp = target.unwrap_or(me);
                    let i = self.rng.below(u64::from(a.count)) as usize;
                    sp.record_rcv(self.big_names[i]);
                }
            }
            Op::RequestNotification => {
                let a: sys::RequestNotificationArgs = from_bytes(out);
                if a.kr == 0 {
                    me.record(a.previous);
                }
            }
            Op::SetBackup => {
                let a: sys::PortSetBackupArgs = from_bytes(out);
                if a.kr == 0 {
                    me.record(a.previous);
                }
            }
            Op::TaskForFd => {
                let a: sys::TaskForFdArgs = from_bytes(out);
                if a.kr == 0 && fd_slot == Some(slot) {
                    me.self_name.store(a.task, Relaxed);
                } else if a.kr == 0 && a.task != sys::MACH_TASK_SELF_NAME {
                    me.record_task(a.task, fd_slot.unwrap_or(slot));
                }
            }
            Op::Names => {
                let a: sys::PortNamesArgs = from_bytes(out);
                if a.kr == 0 && c.names_checkable && a.count <= a.capacity && a.count > 0 {
                    let sp = target.unwrap_or(me);
                    for _ in 0..4 {
                        let i = self.rng.below(u64::from(a.count)) as usize;
                        sp.record(self.big_names[i]);
                    }
                }
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------
// Messages: types and helpers.

/// Descriptors kept from one parse, at most.
const DESC_CAP: usize = 4096;
/// Names kept from one received message (for learning and cleaning up).
const GOT_CAP: usize = 64;

/// One descriptor as the kernel parses it: its type (the last byte of its
/// first 12) decides its size: 12 bytes for a port descriptor, 16 for every
/// other type.
#[derive(Clone, Copy, Debug, Default)]
struct Desc {
    off: usize,
    kind: u8,
    /// The name (port descriptor) or the address (the other types).
    addr: u64,
    dealloc: u8,
    copy: u8,
    disp: u8,
    /// Size (out-of-line data) or count (out-of-line ports).
    n: u32,
}

/// Walks the descriptors of a message of `size` bytes as the kernel's
/// `msg::descriptors` does, reading the bytes with `rd(offset, out)` (false
/// if they cannot be read) and calling `visit` for each descriptor.
/// Strict: fails where the kernel does, with MACH_SEND_MSG_TOO_SMALL (they
/// do not fit) or MACH_SEND_INVALID_TYPE (a type other than 0..=4, found as
/// soon as the descriptor starts inside the message, before its size).
/// Lenient (to clear flags): visits every descriptor that lies within
/// `size`, however many the count claims, and never fails.
fn walk_descs(
    size: usize,
    strict: bool,
    rd: &dyn Fn(usize, &mut [u8]) -> bool,
    visit: &mut dyn FnMut(Desc),
) -> Result<(), i32> {
    let too_small = if strict {
        Err(sys::MACH_SEND_MSG_TOO_SMALL)
    } else {
        Ok(())
    };
    let mut w = [0u8; 4];
    if size < 4 || !rd(0, &mut w) {
        return Ok(());
    }
    if u32::from_ne_bytes(w) & sys::MACH_MSGH_BITS_COMPLEX == 0 {
        return Ok(());
    }
    if size < 28 || !rd(24, &mut w) {
        return too_small;
    }
    let count = u32::from_ne_bytes(w) as usize;
    if strict && count > (size - 28) / 12 {
        return too_small;
    }
    let mut off = 28;
    for _ in 0..count {
        let mut d = [0u8; 16];
        if off + 12 > size || !rd(off, &mut d[..12]) {
            return too_small;
        }
        let kind = d[11];
        if strict && kind > 4 {
            return Err(sys::MACH_SEND_INVALID_TYPE);
        }
        let len = if kind == 0 { 12 } else { 16 };
        if off + len > size || (len == 16 && !rd(off + 12, &mut d[12..])) {
            return too_small;
        }
        let u32_at = |i: usize| u32::from_ne_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
        visit(if kind == 0 {
            Desc {
                off,
                kind,
                addr: u64::from(u32_at(0)),
                disp: d[10],
                ..Desc::default()
            }
        } else {
            Desc {
                off,
                kind,
                addr: u64::from(u32_at(0)) | u64::from(u32_at(4)) << 32,
                dealloc: d[8],
                copy: d[9],
                disp: d[10],
                n: u32_at(12),
            }
        });
        off += len;
    }
    Ok(())
}

/// A send's result as far as the message itself decides it.
#[derive(Clone, Copy, Debug)]
enum SendPred {
    /// Exactly this (or MACH_SEND_NO_BUFFER).
    Exact(i32),
    /// The header passes every check that needs no name: the names decide
    /// next (INVALID_DEST, INVALID_REPLY), then the body.
    Header(BodyPred),
    /// Memory not only ours is read: anything a send gives.
    Unknown,
}

#[derive(Clone, Copy, Debug)]
enum BodyPred {
    /// Sound as far as structure and memory go: what is left is waiting
    /// (TIMED_OUT) and the names (INVALID_RIGHT), or success.
    Ok,
    Err(i32),
    Unknown,
}

#[derive(Clone, Copy, Debug)]
enum RcvPred {
    Exact(i32),
    Any,
}

/// What a receive may give when the names decide.
const RCV_ANY: [i32; 9] = [
    sys::MACH_MSG_SUCCESS,
    sys::MACH_RCV_INVALID_NAME,
    sys::MACH_RCV_TIMED_OUT,
    sys::MACH_RCV_TOO_LARGE,
    sys::MACH_RCV_PORT_CHANGED,
    sys::MACH_RCV_INVALID_DATA,
    sys::MACH_RCV_BODY_ERROR | sys::MACH_MSG_IPC_SPACE,
    sys::MACH_RCV_BODY_ERROR | sys::MACH_MSG_VM_SPACE,
    sys::MACH_RCV_HEADER_ERROR | sys::MACH_MSG_IPC_SPACE,
];

fn send_allowed(pred: SendPred, mr: i32) -> bool {
    use sys::*;
    if mr == MACH_SEND_NO_BUFFER {
        return true;
    }
    match pred {
        SendPred::Exact(e) => mr == e,
        SendPred::Header(b) => {
            mr == MACH_SEND_INVALID_DEST
                || mr == MACH_SEND_INVALID_REPLY
                || match b {
                    BodyPred::Ok => mr == MACH_SEND_TIMED_OUT || mr == MACH_SEND_INVALID_RIGHT,
                    BodyPred::Err(e) => mr == e,
                    BodyPred::Unknown => [
                        MACH_SEND_TIMED_OUT,
                        MACH_SEND_INVALID_RIGHT,
                        MACH_SEND_INVALID_MEMORY,
                        MACH_SEND_INVALID_TYPE,
                        MACH_SEND_TOO_LARGE,
                        MACH_SEND_MSG_TOO_SMALL,
                    ]
                    .contains(&mr),
                }
        }
        SendPred::Unknown => true,
    }
}

fn send_can_succeed(pred: SendPred) -> bool {
    match pred {
        SendPred::Exact(e) => e == sys::MACH_MSG_SUCCESS,
        SendPred::Header(BodyPred::Err(_)) => false,
        _ => true,
    }
}

/// A message call being made, from building it to checking its result.
struct MsgPlan {
    option: u32,
    msg: u64,
    send_size: u32,
    rcv_size: u32,
    rcv_name: u32,
    send: bool,
    rcv: bool,
    /// The struct is in our own memory: the result can be read.
    checked: bool,
    spred: SendPred,
    rpred: RcvPred,
    /// `[msg, msg + rcv_size)` is ours and writable: the receive cannot
    /// give MACH_RCV_INVALID_DATA.
    rcv_writable: bool,
    /// The buffer is ours: what the kernel writes there can be read back.
    rcv_private: bool,
    /// Arena ranges the deallocate flag hands to the kernel (`None` when
    /// there were too many to follow).
    dealloc: Option<Vec<(u64, u64)>>,
    /// The destination name and disposition in the header.
    dest: (u32, u32),
    /// The first bytes of the message as predicted from, to show when the
    /// prediction fails.
    head: Vec<u8>,
    /// The receive has no timeout (MACH_FUZZ_WAITS).
    waits: bool,
    /// What the message holds, for reports: descriptors (port, out-of-line,
    /// port arrays, other), out-of-line bytes, names in port arrays.
    summary: [u64; 6],
    /// The message closes or lengthens a chain of queued receive rights.
    chain: bool,
}

/// A known mach_msg_return_t, with at most MACH_MSG_IPC_SPACE or
/// MACH_MSG_VM_SPACE added.
fn mr_known(mr: i32) -> bool {
    let base = mr & !(sys::MACH_MSG_IPC_SPACE | sys::MACH_MSG_VM_SPACE);
    MsgReturn(base).name().is_some()
}

fn mr_name(mr: i32) -> String {
    format!("{:?}", MsgReturn(mr))
}

/// A send error (0x1000_0001 ..= 0x1000_3fff).
fn is_send_mr(mr: i32) -> bool {
    mr != 0 && (mr as u32) & 0xffff_c000 == 0x1000_0000
}

/// An ioctl on `fd` with `args` in our own memory: 0 or the errno.
fn raw_ioctl<T>(fd: RawFd, cmd: u32, args: &mut T) -> i32 {
    // SAFETY: `args` is one of the ABI's argument structs, ours and
    // writable; the kernel reads and writes only its bytes.
    let rc = unsafe {
        libc::ioctl(
            fd,
            cmd as libc::c_ulong,
            args as *mut T as *mut libc::c_void,
        )
    };
    if rc < 0 {
        io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    } else {
        0
    }
}

/// What is wrong with the kern_return_t of a port-set, notification or
/// backup call (the struct ours, the ioctl successful), as far as its own
/// arguments decide it (docs/notifications.md).
fn set_call_problem(c: &Call, out: &[u8; 64]) -> Option<String> {
    use sys::*;
    let null = |n: u32| !mach_port_valid(n);
    let (kr, expected): (i32, &[i32]) = match c.op {
        Op::MoveMember | Op::InsertMember | Op::ExtractMember => {
            let i: PortMemberArgs = from_bytes(&c.args);
            let o: PortMemberArgs = from_bytes(out);
            let bad_after = if c.op == Op::MoveMember {
                i.after == MACH_PORT_DEAD
            } else {
                null(i.after)
            };
            if null(i.member) || bad_after {
                (o.kr, &[KERN_INVALID_TASK, KERN_INVALID_RIGHT])
            } else {
                return None;
            }
        }
        Op::GetSetStatus => {
            let i: PortSetStatusArgs = from_bytes(&c.args);
            let o: PortSetStatusArgs = from_bytes(out);
            if o.kr != 0 && o.count != 0 {
                return Some(format!("kr {} with count {}", o.kr, o.count));
            }
            if null(i.name) {
                (o.kr, &[KERN_INVALID_TASK, KERN_INVALID_RIGHT])
            } else {
                return None;
            }
        }
        Op::RequestNotification => {
            let i: RequestNotificationArgs = from_bytes(&c.args);
            let o: RequestNotificationArgs = from_bytes(out);
            if o.kr != 0 && o.previous != MACH_PORT_NULL {
                return Some(format!("kr {} with previous {:#x}", o.kr, o.previous));
            }
            if ![
                MACH_NOTIFY_PORT_DESTROYED,
                MACH_NOTIFY_NO_SENDERS,
                MACH_NOTIFY_DEAD_NAME,
            ]
            .contains(&i.variant)
            {
                (o.kr, &[KERN_INVALID_TASK, KERN_INVALID_VALUE])
            } else {
                return None;
            }
        }
        Op::SetBackup => {
            let i: PortSetBackupArgs = from_bytes(&c.args);
            let o: PortSetBackupArgs = from_bytes(out);
            if o.kr != 0 && o.previous != MACH_PORT_NULL {
                return Some(format!("kr {} with previous {:#x}", o.kr, o.previous));
            }
            if null(i.primary) {
                // A bad task gives KERN_INVALID_ARGUMENT here too.
                (o.kr, &[KERN_INVALID_ARGUMENT])
            } else {
                return None;
            }
        }
        _ => return None,
    };
    (!expected.contains(&kr)).then(|| format!("kr {kr}, expected one of {expected:?}"))
}

/// What is wrong with the kern_return_t of an attribute call (the struct
/// ours, the ioctl successful), as far as its own arguments decide it.
fn attributes_problem(c: &Call, out: &[u8; 64]) -> Option<String> {
    use sys::*;
    let i: PortAttributesArgs = from_bytes(&c.args);
    let o: PortAttributesArgs = from_bytes(out);
    let set = c.op == Op::SetAttributes;
    let null = !mach_port_valid(i.name);
    // After the task check (KERN_INVALID_TASK is always possible).
    let allowed: &[i32] = match (set, i.flavor) {
        (_, MACH_PORT_LIMITS_INFO) if i.count < MACH_PORT_LIMITS_INFO_COUNT => &[KERN_FAILURE],
        (true, MACH_PORT_LIMITS_INFO) if i.info[0] > MACH_PORT_QLIMIT_MAX => &[KERN_INVALID_VALUE],
        (true, MACH_PORT_LIMITS_INFO) if null => &[KERN_INVALID_RIGHT],
        (true, MACH_PORT_LIMITS_INFO) => &[KERN_SUCCESS, KERN_INVALID_NAME, KERN_INVALID_RIGHT],
        (true, _) => &[KERN_INVALID_ARGUMENT],
        (false, MACH_PORT_LIMITS_INFO) if null => &[KERN_SUCCESS],
        (false, MACH_PORT_RECEIVE_STATUS) if i.count < MACH_PORT_RECEIVE_STATUS_COUNT => {
            &[KERN_FAILURE]
        }
        (false, MACH_PORT_RECEIVE_STATUS) if null => &[KERN_INVALID_RIGHT],
        (false, MACH_PORT_DNREQUESTS_SIZE) if i.count < MACH_PORT_DNREQUESTS_SIZE_COUNT => {
            &[KERN_FAILURE]
        }
        (false, MACH_PORT_DNREQUESTS_SIZE) if null => &[KERN_SUCCESS],
        (false, MACH_PORT_LIMITS_INFO | MACH_PORT_RECEIVE_STATUS | MACH_PORT_DNREQUESTS_SIZE) => {
            &[KERN_SUCCESS, KERN_INVALID_NAME, KERN_INVALID_RIGHT]
        }
        (false, _) => &[KERN_INVALID_ARGUMENT],
    };
    let asked = || {
        format!(
            "{} name {:#x} flavor {} count {} info[0] {}",
            if set { "set" } else { "get" },
            i.name,
            i.flavor,
            i.count,
            i.info[0]
        )
    };
    if o.kr != KERN_INVALID_TASK && !allowed.contains(&o.kr) {
        return Some(format!(
            "{}: kr {} (expected one of {allowed:?} or KERN_INVALID_TASK)",
            asked(),
            o.kr
        ));
    }
    if !set
        && o.kr == 0
        && null
        && i.flavor == MACH_PORT_LIMITS_INFO
        && o.info[0] != MACH_PORT_QLIMIT_DEFAULT
    {
        return Some(format!("{}: qlimit {} for a null name", asked(), o.info[0]));
    }
    if (set || o.kr != 0) && (o.count != i.count || o.info != i.info) {
        return Some(format!(
            "{}: kr {} changed count/info to {} {:?}",
            asked(),
            o.kr,
            o.count,
            o.info
        ));
    }
    if (o.task, o.name, o.flavor, o.reserved) != (i.task, i.name, i.flavor, i.reserved) {
        return Some(format!("{}: the input fields changed: {o:?}", asked()));
    }
    None
}

// ---------------------------------------------------------------------------
// Messages: building, predicting and checking them.

fn push32(m: &mut Vec<u8>, v: u32) {
    m.extend_from_slice(&v.to_ne_bytes());
}

fn push64(m: &mut Vec<u8>, v: u64) {
    m.extend_from_slice(&v.to_ne_bytes());
}

impl<'a> Worker<'a> {
    /// Writes `bytes` at `addr` if it is memory of ours we may write (the
    /// message buffer, the data region, the layout pages, the arena chunk,
    /// the scratch region), clipped to that memory; elsewhere, nothing.
    fn put(&self, addr: u64, bytes: &[u8]) {
        let m = self.mem();
        let a = addr as usize;
        let within = |start: usize, len: usize| a >= start && a < start + len;
        if within(m.buf(), BUF_LEN) || within(m.data(), DATA_LEN) {
            let end = if within(m.buf(), BUF_LEN) {
                m.buf() + BUF_LEN
            } else {
                m.data() + DATA_LEN
            };
            let k = bytes.len().min(end - a);
            // SAFETY: Inside the worker's own writable buffer or data region.
            unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), a as *mut u8, k) };
        } else if within(m.base, 5 * m.page) {
            let k = bytes.len().min(m.base + 5 * m.page - a);
            m.layout.write(a, &bytes[..k]);
        } else if let Some((s, l)) = m.chunk.filter(|&(s, l)| within(s, l)) {
            self.write_mem(a, &bytes[..bytes.len().min(s + l - a)]);
        } else {
            let sc = &self.sh.scratch;
            let span = SCRATCH_PAGES * sc.page;
            if within(sc.base, span) {
                let k = bytes.len().min(sc.base + span - a);
                let (first, last) = ((a - sc.base) / sc.page, (a + k - 1 - sc.base) / sc.page);
                if (first..=last).all(|i| !sc.foreign[i].load(Relaxed)) {
                    self.write_mem(a, &bytes[..k]);
                }
            }
        }
    }

    /// Writes through /proc/self/mem: fails instead of faulting if the
    /// memory is gone.
    fn write_mem(&self, a: usize, bytes: &[u8]) {
        if self.sh.self_mem >= 0 && !bytes.is_empty() {
            // SAFETY: pwrite of our own buffer.
            unsafe {
                libc::pwrite(
                    self.sh.self_mem,
                    bytes.as_ptr().cast(),
                    bytes.len(),
                    a as libc::off_t,
                )
            };
        }
    }

    /// Whether the deallocate flag may stay set for `[addr, addr + len)`:
    /// inside the arena chunk mapped for this call, or where no user memory
    /// can be (so that the kernel has nothing of ours to unmap).
    fn dealloc_approved(&self, addr: u64, len: u64) -> bool {
        if addr >= 0x8000_0000_0000 {
            return true;
        }
        let Some(end) = addr.checked_add(len) else {
            return true;
        };
        if end <= LOW_FAULT {
            return true;
        }
        match self.mem().chunk {
            Some((s, l)) => addr >= s as u64 && end <= (s + l) as u64,
            None => false,
        }
    }

    /// Clears every deallocate flag in the message just built that is not
    /// approved, and shrinks out-of-line sizes the run cannot afford.
    fn sanitize_built(&mut self) {
        let mut m = std::mem::take(&mut self.mbuf);
        let mut fixes: Vec<(usize, u8, Option<u32>)> = Vec::new();
        {
            let rd = |off: usize, out: &mut [u8]| match m.get(off..off + out.len()) {
                Some(src) => {
                    out.copy_from_slice(src);
                    true
                }
                None => false,
            };
            let _ = walk_descs(m.len(), false, &rd, &mut |d| {
                if let Some(fix) = self.desc_fix(&d) {
                    fixes.push((d.off, fix.0, fix.1));
                }
            });
        }
        for (off, dealloc, size) in fixes {
            m[off + 8] = dealloc;
            if let Some(size) = size {
                m[off + 12..off + 16].copy_from_slice(&size.to_ne_bytes());
            }
        }
        self.mbuf = m;
    }

    /// The fix a descriptor needs: its new deallocate byte and size.
    fn desc_fix(&self, d: &Desc) -> Option<(u8, Option<u32>)> {
        if !matches!(u32::from(d.kind), 1..=3) {
            return None;
        }
        let mut size = None;
        if d.kind != 2 && d.n > 2 * OOL_BIG && d.n <= sys::MACH_MSG_OOL_SIZE_MAX {
            size = Some(d.n & 0xffff);
        }
        let len = if d.kind == 2 {
            u64::from(d.n) * 4
        } else {
            u64::from(size.unwrap_or(d.n))
        };
        let dealloc = if d.dealloc != 0 && len > 0 && !self.dealloc_approved(d.addr, len) {
            0
        } else {
            d.dealloc
        };
        (dealloc != d.dealloc || size.is_some()).then_some((dealloc, size))
    }

    /// The same, in place, for the `size` bytes at `msg` as the kernel will
    /// read them (our own memory): they include whatever lay there before.
    /// Returns the approved arena ranges the kernel is to unmap after a
    /// successful send (`None` if too many to follow).
    fn sanitize_in_place(&mut self, msg: u64, size: u32) -> Option<Vec<(u64, u64)>> {
        let mut ranges = Vec::new();
        if size < sys::MACH_MSG_HEADER_SIZE
            || !size.is_multiple_of(4)
            || size > sys::MACH_MSG_SIZE_MAX
            || !matches!(
                self.mem().classify(msg, u64::from(size)),
                Acc::Writable | Acc::ReadOnly
            )
        {
            return Some(ranges);
        }
        let mut many = false;
        let mut fixes: Vec<(usize, u8, Option<u32>)> = Vec::new();
        {
            let m = self.mem();
            let rd = |off: usize, out: &mut [u8]| m.read(msg + off as u64, out);
            let _ = walk_descs(size as usize, false, &rd, &mut |d| {
                let fix = self.desc_fix(&d);
                if let Some(f) = fix {
                    if fixes.len() < 4096 {
                        fixes.push((d.off, f.0, f.1));
                    } else {
                        many = true;
                    }
                }
                let dealloc = fix.map_or(d.dealloc, |f| f.0);
                let n = fix.and_then(|f| f.1).unwrap_or(d.n);
                let len = if d.kind == 2 {
                    u64::from(n) * 4
                } else {
                    u64::from(n)
                };
                if matches!(d.kind, 1..=3) && dealloc != 0 && len > 0 && d.addr < 0x8000_0000_0000 {
                    if let Some(end) = d.addr.checked_add(len) {
                        if end > LOW_FAULT {
                            if ranges.len() < 64 {
                                ranges.push((d.addr, len));
                            } else {
                                many = true;
                            }
                        }
                    }
                }
            });
        }
        for (off, dealloc, size) in fixes {
            let at = msg + off as u64;
            self.put(at + 8, &[dealloc]);
            if let Some(size) = size {
                self.put(at + 12, &size.to_ne_bytes());
            }
        }
        if many {
            // Too many to fix here: make the message one the kernel
            // refuses before it reads the body (an invalid header).
            self.put(msg, &0u32.to_ne_bytes());
            return Some(Vec::new());
        }
        Some(ranges)
    }

    /// The send's result as far as the message decides it (the message at
    /// `msg` is ours or at an address that faults).
    fn predict_send(&mut self, msg: u64, send_size: u32) -> SendPred {
        use sys::*;
        if send_size < MACH_MSG_HEADER_SIZE || !send_size.is_multiple_of(4) {
            return SendPred::Exact(MACH_SEND_MSG_TOO_SMALL);
        }
        if send_size > MACH_MSG_SIZE_MAX {
            return SendPred::Exact(MACH_SEND_TOO_LARGE);
        }
        let m = self.mem();
        match m.classify(msg, u64::from(send_size)) {
            Acc::Fault => return SendPred::Exact(MACH_SEND_INVALID_DATA),
            Acc::Unknown => return SendPred::Unknown,
            _ => {}
        }
        let word = |o: u64| m.read_u32(msg + o).unwrap_or(0);
        let bits = word(0) & MACH_MSGH_BITS_USER;
        let (remote, local, voucher) = (word(8), word(12), word(16));
        let rdisp = mach_msgh_bits_remote(bits);
        let ldisp = mach_msgh_bits_local(bits);
        if !mach_msg_type_port_any_send(rdisp) {
            return SendPred::Exact(MACH_SEND_INVALID_HEADER);
        }
        let reply_ok = if ldisp == 0 {
            local == MACH_PORT_NULL
        } else {
            mach_msg_type_port_any_send(ldisp)
        };
        if !reply_ok {
            return SendPred::Exact(MACH_SEND_INVALID_HEADER);
        }
        if voucher != MACH_PORT_NULL {
            return SendPred::Exact(MACH_SEND_INVALID_VOUCHER);
        }
        if !mach_port_valid(remote) {
            return SendPred::Exact(MACH_SEND_INVALID_DEST);
        }
        let mut descs = std::mem::take(&mut self.descs);
        descs.clear();
        let mut truncated = false;
        let walked = {
            let m = self.mem();
            let rd = |off: usize, out: &mut [u8]| m.read(msg + off as u64, out);
            walk_descs(send_size as usize, true, &rd, &mut |d| {
                if descs.len() < DESC_CAP {
                    descs.push(d);
                } else {
                    truncated = true;
                }
            })
        };
        let body = match walked {
            Err(e) => BodyPred::Err(e),
            Ok(()) => self.predict_body(&descs, truncated),
        };
        self.descs = descs;
        SendPred::Header(body)
    }

    /// The kernel's `read_body`, on descriptors that fit.
    fn predict_body(&self, descs: &[Desc], truncated: bool) -> BodyPred {
        use sys::*;
        let m = self.mem();
        let mut names: u64 = 0;
        let mut total: u64 = 0;
        for d in descs {
            match u32::from(d.kind) {
                MACH_MSG_PORT_DESCRIPTOR => {
                    if !mach_msg_type_port_any(u32::from(d.disp)) {
                        return BodyPred::Err(MACH_SEND_INVALID_TYPE);
                    }
                    if names >= u64::from(MACH_MSG_RIGHTS_MAX) {
                        return BodyPred::Err(MACH_SEND_TOO_LARGE);
                    }
                    names += 1;
                }
                MACH_MSG_OOL_DESCRIPTOR | MACH_MSG_OOL_VOLATILE_DESCRIPTOR => {
                    let copy = u32::from(d.copy);
                    if copy != MACH_MSG_PHYSICAL_COPY && copy != MACH_MSG_VIRTUAL_COPY {
                        return BodyPred::Err(MACH_SEND_INVALID_TYPE);
                    }
                    total += u64::from(d.n);
                    if d.n > MACH_MSG_OOL_SIZE_MAX || total > MACH_MSG_OOL_TOTAL_MAX {
                        return BodyPred::Err(MACH_SEND_TOO_LARGE);
                    }
                    if d.n > 0 {
                        match m.classify(d.addr, u64::from(d.n)) {
                            Acc::Fault => return BodyPred::Err(MACH_SEND_INVALID_MEMORY),
                            Acc::Unknown => return BodyPred::Unknown,
                            _ => {}
                        }
                    }
                }
                MACH_MSG_OOL_PORTS_DESCRIPTOR => {
                    if !mach_msg_type_port_any(u32::from(d.disp)) {
                        return BodyPred::Err(MACH_SEND_INVALID_TYPE);
                    }
                    if u64::from(d.n) + names > u64::from(MACH_MSG_RIGHTS_MAX) {
                        return BodyPred::Err(MACH_SEND_TOO_LARGE);
                    }
                    if d.n == 0 {
                        continue;
                    }
                    match m.classify(d.addr, u64::from(d.n) * 4) {
                        Acc::Fault => return BodyPred::Err(MACH_SEND_INVALID_MEMORY),
                        Acc::Unknown => return BodyPred::Unknown,
                        _ => {}
                    }
                    names += u64::from(d.n);
                }
                _ => return BodyPred::Err(MACH_SEND_INVALID_TYPE),
            }
        }
        if truncated {
            BodyPred::Unknown
        } else {
            BodyPred::Ok
        }
    }

    // --- choosing a message call ----------------------------------------------

    /// How full the module's queues are (MACH_IOC_STATS on our space).
    fn refresh_mem_level(&mut self, me: &Sp) {
        let mut a = sys::StatsArgs::default();
        if raw_ioctl(me.space.as_raw_fd(), sys::MACH_IOC_STATS, &mut a) == 0 {
            self.mem_level = if a.message_bytes > (160 << 20) || a.messages > 60_000 {
                2
            } else if a.message_bytes > (40 << 20) || a.messages > 20_000 {
                1
            } else {
                0
            };
        }
    }

    fn msg_option(&mut self, send: bool, rcv: bool) -> u32 {
        use sys::*;
        let r = &mut self.rng;
        // Never without both timeouts: no call of ours may wait for long.
        let mut o = MACH_SEND_TIMEOUT | MACH_RCV_TIMEOUT;
        if send {
            o |= MACH_SEND_MSG;
        }
        if rcv {
            o |= MACH_RCV_MSG;
        }
        if r.pct(25) {
            o |= MACH_RCV_LARGE;
        }
        if r.pct(12) {
            o |= MACH_RCV_LARGE_IDENTITY;
        }
        let elements = match r.weighted(&[40, 10, 10, 12, 8, 8, 6, 6]) {
            0 => MACH_RCV_TRAILER_NULL,
            1 => MACH_RCV_TRAILER_SEQNO,
            2 => MACH_RCV_TRAILER_SENDER,
            3 => MACH_RCV_TRAILER_AUDIT,
            4 => MACH_RCV_TRAILER_CTX,
            5 => MACH_RCV_TRAILER_AV,
            6 => r.pick(&[5, 6, MACH_RCV_TRAILER_LABELS]),
            _ => r.range(9, 15) as u32,
        };
        o |= mach_rcv_trailer_elements(elements);
        if r.pct(4) {
            o |= mach_rcv_trailer_type(r.range(1, 15) as u32);
        }
        if r.pct(12) {
            o |= r.pick(&[
                MACH_SEND_OVERRIDE,
                MACH_SEND_INTERRUPT,
                MACH_SEND_NOTIFY,
                MACH_MSG_STRICT_REPLY,
                MACH_RCV_INTERRUPT,
                MACH_RCV_VOUCHER,
                MACH_SEND_ALWAYS,
                MACH_SEND_TRAILER,
                MACH_SEND_NOIMPORTANCE,
                MACH_SEND_SYNC_OVERRIDE,
                MACH_SEND_PROPAGATE_QOS,
                MACH_RCV_SYNC_WAIT,
                MACH_RCV_SYNC_PEEK,
            ]);
        }
        if r.pct(3) {
            // Any other flags; never the send and receive bits themselves.
            o |= r.u32() & 0x00ff_fff0;
        }
        o
    }

    /// Where the message buffer goes and how many bytes from there are
    /// writable (by us). With the struct in the scratch region, only the
    /// scratch region or an address that faults: a struct there may be
    /// used by another thread's call (theirs overlapping ours), so it must
    /// never lead to memory of ours.
    fn msg_place(&mut self, scratch_struct: bool) -> (u64, usize) {
        let (page, p0, p1, p2, p4) = {
            let l = self.layout();
            (l.page, l.p(0), l.p(1), l.p(2), l.p(4))
        };
        let buf = self.mem().buf();
        let sc_base = self.sh.scratch.base;
        let sc_span = SCRATCH_PAGES * page;
        let r = &mut self.rng;
        let scratch = |r: &mut Rng| {
            let off = if r.pct(70) {
                8 * r.below((sc_span / 8) as u64) as usize
            } else {
                r.below(sc_span as u64) as usize
            };
            ((sc_base + off) as u64, sc_span - off)
        };
        if scratch_struct {
            return match r.weighted(&[70, 10, 10, 10]) {
                0 => scratch(r),
                1 => (0, 0),
                2 => (r.pick(&KERNEL_ADDRS), 0),
                _ => (r.pick(&[1, 8, 0xfff, 0x1000, 0xffc0]), 0),
            };
        }
        match r.weighted(&[52, 4, 8, 6, 5, 5, 3, 2, 3, 2, 2, 2, 3]) {
            0 => (buf as u64, BUF_LEN),
            1 => {
                let k = r.range(1, 7) as usize;
                ((buf + k) as u64, BUF_LEN - k)
            }
            2 => {
                let k = 4 * r.below(16 << 10) as usize;
                ((buf + k) as u64, BUF_LEN - k)
            }
            3 => {
                // Near the end: what follows is unmapped.
                let k = r.range(1, 4096) as usize;
                ((buf + BUF_LEN - k) as u64, k)
            }
            4 => {
                let k = 4 * r.below((page / 4) as u64) as usize;
                ((p0 + k) as u64, page - k)
            }
            5 => {
                // Read-only: a send from here works, a receive cannot.
                let k = 4 * r.below((page / 4) as u64) as usize;
                ((p1 + k) as u64, 0)
            }
            6 => {
                let k = 4 * r.range(1, 64) as usize;
                ((p1 - k) as u64, k)
            }
            7 => ((p2 - 4 * r.range(1, 64) as usize) as u64, 0),
            8 => {
                let k = 4 * r.range(1, 64) as usize;
                ((p4 - k) as u64, k)
            }
            9 => ((p2 + r.below(page as u64) as usize) as u64, 0),
            10 => (r.pick(&[0, 8, 0xfff0]), 0),
            11 => (r.pick(&KERNEL_ADDRS), 0),
            _ => scratch(r),
        }
    }

    /// A name for a port set in `t`: mostly one allocated as a set.
    fn set_name(&mut self, t: &Sp) -> u32 {
        match self.rng.weighted(&[70, 15, 10, 5]) {
            0 => match t.seen_set(&mut self.rng) {
                Some(n) => n,
                None => self.name_in(t),
            },
            1 => self.name_in(t),
            2 => self.rng.pick(&[sys::MACH_PORT_NULL, sys::MACH_PORT_DEAD]),
            _ => self.rng.u32(),
        }
    }

    /// A name in `me` that holds a receive right now (looked up with
    /// MACH_IOC_PORT_TYPE; a new port if none of a few seen is one).
    fn live_receive(&mut self, me: &Sp) -> u32 {
        let fd = me.space.as_raw_fd();
        let task = me.self_name.load(Relaxed);
        for _ in 0..3 {
            let Some(name) = me.seen_rcv(&mut self.rng) else {
                break;
            };
            let mut a = sys::PortTypeArgs {
                task,
                name,
                ..Default::default()
            };
            if raw_ioctl(fd, sys::MACH_IOC_PORT_TYPE, &mut a) == 0
                && a.kr == 0
                && a.ptype & sys::MACH_PORT_TYPE_RECEIVE != 0
            {
                return name;
            }
        }
        let mut a = sys::PortAllocateArgs {
            task,
            right: sys::MACH_PORT_RIGHT_RECEIVE,
            ..Default::default()
        };
        if raw_ioctl(fd, sys::MACH_IOC_PORT_ALLOCATE, &mut a) == 0 && a.kr == 0 {
            me.record_rcv(a.name);
            return a.name;
        }
        self.rcv_or_name(me)
    }

    /// A new receive right in `me`, with a send right under the same name
    /// (so that messages can still reach the port once its receive right
    /// has gone into a message).
    fn fresh_port(&mut self, me: &Sp) -> Option<u32> {
        let fd = me.space.as_raw_fd();
        let task = me.self_name.load(Relaxed);
        let mut a = sys::PortAllocateArgs {
            task,
            right: sys::MACH_PORT_RIGHT_RECEIVE,
            ..Default::default()
        };
        if raw_ioctl(fd, sys::MACH_IOC_PORT_ALLOCATE, &mut a) != 0 || a.kr != 0 {
            return None;
        }
        let mut i = sys::PortInsertRightArgs {
            task,
            name: a.name,
            poly: a.name,
            poly_poly: sys::MACH_MSG_TYPE_MAKE_SEND,
            ..Default::default()
        };
        let _ = raw_ioctl(fd, sys::MACH_IOC_PORT_INSERT_RIGHT, &mut i);
        me.record_rcv(a.name);
        Some(a.name)
    }

    /// Sends, with an ioctl of its own, a message to `dest` (`disp`)
    /// carrying the port rights `rights` and `inline` bytes of data; gives
    /// its mach_msg_return_t.
    fn side_send(
        &mut self,
        me: &Sp,
        dest: u32,
        disp: u32,
        rights: &[(u32, u32)],
        inline: usize,
    ) -> i32 {
        let n = rights.len().min(4);
        let mut m = [0u32; 7 + 3 * 4 + 64];
        let complex = if n > 0 {
            sys::MACH_MSGH_BITS_COMPLEX
        } else {
            0
        };
        m[0] = disp | complex;
        m[2] = dest;
        m[5] = 0x6379_636c;
        let mut words = 6;
        if n > 0 {
            m[6] = n as u32;
            for (i, &(name, d)) in rights.iter().take(n).enumerate() {
                m[7 + 3 * i] = name;
                // pad2 (2 bytes), disposition, type 0 (a port descriptor).
                m[9 + 3 * i] = (d & 0xff) << 16;
            }
            words = 7 + 3 * n;
        }
        let extra = inline.min(64 * 4) / 4;
        for w in m[words..words + extra].iter_mut() {
            *w = self.rng.u32();
        }
        words += extra;
        let mut a = sys::MsgArgs {
            msg: m.as_ptr() as u64,
            option: sys::MACH_SEND_MSG | sys::MACH_SEND_TIMEOUT,
            send_size: 4 * words as u32,
            ..Default::default()
        };
        if raw_ioctl(me.space.as_raw_fd(), sys::MACH_IOC_MSG, &mut a) == 0 {
            a.mr
        } else {
            -1
        }
    }

    /// Ports each of whose receive right is queued in a message on the next
    /// one (p0 in a message on p1, p1 on p2): the call being built then
    /// sends the last one's receive right to p0, closing the cycle (or,
    /// now and then, the first one's to a new port, making the chain
    /// longer). Messages sit on the ports too, so that their death
    /// destroys queued messages that carry more receive rights. Gives the
    /// call's destination and the receive right it carries.
    fn build_chain(&mut self, me: &Sp) -> Option<(u32, u32)> {
        let k = self.rng.range(2, 3) as usize;
        let mut ports = [0u32; 3];
        for p in ports.iter_mut().take(k) {
            *p = self.fresh_port(me)?;
        }
        for &p in ports.iter().take(k) {
            for _ in 0..self.rng.below(3) {
                let len = self.rng.below(200) as usize;
                self.side_send(me, p, sys::MACH_MSG_TYPE_MAKE_SEND, &[], len);
            }
        }
        for i in 0..k - 1 {
            let carried = [(ports[i], sys::MACH_MSG_TYPE_MOVE_RECEIVE)];
            let mr = self.side_send(me, ports[i + 1], sys::MACH_MSG_TYPE_COPY_SEND, &carried, 16);
            if mr != 0 {
                return None;
            }
        }
        if self.rng.pct(80) {
            Some((ports[0], ports[k - 1]))
        } else {
            let next = self.fresh_port(me)?;
            Some((next, ports[k - 1]))
        }
    }

    /// A name in `sp` for a message: the header, a descriptor or a receive.
    fn rcv_or_name(&mut self, sp: &Sp) -> u32 {
        match sp.seen_rcv(&mut self.rng) {
            Some(n) if self.rng.pct(90) => n,
            _ => self.name_in(sp),
        }
    }

    fn header_dest(&mut self, me: &Sp, rpc: bool) -> (u32, u32) {
        use sys::*;
        let w = if rpc || self.clean {
            [1, 0, 0, 0, 0, 0]
        } else {
            [40, 34, 7, 4, 8, 7]
        };
        match self.rng.weighted(&w) {
            0 if self.clean => {
                let n = self.live_receive(me);
                let d = self
                    .rng
                    .pick(&[MACH_MSG_TYPE_MAKE_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE]);
                (n, d)
            }
            0 => {
                let n = self.rcv_or_name(me);
                let d = self.rng.pick(&[
                    MACH_MSG_TYPE_MAKE_SEND,
                    MACH_MSG_TYPE_MAKE_SEND,
                    MACH_MSG_TYPE_MAKE_SEND,
                    MACH_MSG_TYPE_MAKE_SEND_ONCE,
                    MACH_MSG_TYPE_MAKE_SEND_ONCE,
                    MACH_MSG_TYPE_COPY_SEND,
                    MACH_MSG_TYPE_MOVE_SEND,
                ]);
                (n, d)
            }
            1 => {
                let n = self.name_in(me);
                let d = self.rng.pick(&[
                    MACH_MSG_TYPE_COPY_SEND,
                    MACH_MSG_TYPE_COPY_SEND,
                    MACH_MSG_TYPE_COPY_SEND,
                    MACH_MSG_TYPE_MOVE_SEND,
                    MACH_MSG_TYPE_MOVE_SEND_ONCE,
                    MACH_MSG_TYPE_MAKE_SEND,
                    MACH_MSG_TYPE_MAKE_SEND_ONCE,
                ]);
                let n = if d == MACH_MSG_TYPE_MOVE_SEND {
                    self.spared(n, me)
                } else {
                    n
                };
                (n, d)
            }
            2 => (
                self.rng.pick(&[MACH_PORT_NULL, MACH_PORT_DEAD]),
                self.rng.range(17, 21) as u32,
            ),
            // A task port takes no messages.
            3 => (
                self.rng
                    .pick(&[me.self_name.load(Relaxed), MACH_TASK_SELF_NAME]),
                MACH_MSG_TYPE_COPY_SEND,
            ),
            4 => {
                let n = self.name_in(me);
                let d = self.rng.range(1, 15) as u32;
                (n, self.rng.pick(&[0, 16, 22, 23, 31, d]))
            }
            _ => (self.rng.u32(), self.rng.below(32) as u32),
        }
    }

    fn header_reply(&mut self, me: &Sp, remote: u32, rpc: bool) -> (u32, u32) {
        use sys::*;
        let w = if rpc {
            [0, 1, 0, 0, 0, 0]
        } else if self.clean {
            [50, 40, 0, 10, 0, 0]
        } else {
            [44, 30, 8, 5, 5, 8]
        };
        match self.rng.weighted(&w) {
            0 => (0, 0),
            1 => {
                let n = self.rcv_or_name(me);
                let d = self.rng.pick(&[
                    MACH_MSG_TYPE_MAKE_SEND_ONCE,
                    MACH_MSG_TYPE_MAKE_SEND_ONCE,
                    MACH_MSG_TYPE_MAKE_SEND_ONCE,
                    MACH_MSG_TYPE_MAKE_SEND,
                    MACH_MSG_TYPE_MAKE_SEND,
                ]);
                (n, d)
            }
            2 => {
                let n = self.name_in(me);
                let d = self.rng.pick(&[
                    MACH_MSG_TYPE_COPY_SEND,
                    MACH_MSG_TYPE_MOVE_SEND,
                    MACH_MSG_TYPE_MOVE_SEND_ONCE,
                ]);
                (self.spared(n, me), d)
            }
            3 => (
                self.rng
                    .pick(&[MACH_PORT_DEAD, MACH_PORT_DEAD, MACH_PORT_NULL]),
                self.rng.pick(&[
                    MACH_MSG_TYPE_MOVE_SEND,
                    MACH_MSG_TYPE_COPY_SEND,
                    MACH_MSG_TYPE_MOVE_SEND_ONCE,
                    MACH_MSG_TYPE_MAKE_SEND_ONCE,
                ]),
            ),
            // The same name as the destination.
            4 => (remote, self.rng.range(17, 21) as u32),
            _ => {
                let n = self.name_in(me);
                let d = self.rng.range(1, 15) as u32;
                if n != 0 && self.rng.pct(40) {
                    (n, 0)
                } else {
                    (n, self.rng.pick(&[16, 22, 31, d]))
                }
            }
        }
    }

    /// A name and disposition for a port descriptor or an out-of-line port
    /// array.
    fn body_right(&mut self, me: &Sp, remote: u32, local: u32) -> (u32, u32) {
        use sys::*;
        let w = if self.clean {
            [55, 0, 15, 5, 0, 15, 10]
        } else {
            [30, 32, 8, 4, 6, 12, 8]
        };
        match self.rng.weighted(&w) {
            0 => {
                let n = self.rcv_or_name(me);
                let d = self.rng.pick(&[
                    MACH_MSG_TYPE_MOVE_RECEIVE,
                    MACH_MSG_TYPE_MOVE_RECEIVE,
                    MACH_MSG_TYPE_MOVE_RECEIVE,
                    MACH_MSG_TYPE_MAKE_SEND,
                    MACH_MSG_TYPE_MAKE_SEND,
                    MACH_MSG_TYPE_MAKE_SEND_ONCE,
                    MACH_MSG_TYPE_MAKE_SEND_ONCE,
                    MACH_MSG_TYPE_COPY_SEND,
                ]);
                (n, d)
            }
            1 => {
                let n = self.name_in(me);
                let d = self.disposition();
                let n = if d == MACH_MSG_TYPE_MOVE_SEND || d == MACH_MSG_TYPE_MOVE_SEND_ONCE {
                    self.spared(n, me)
                } else {
                    n
                };
                (n, d)
            }
            2 => (
                self.rng.pick(&[MACH_PORT_NULL, MACH_PORT_DEAD]),
                self.rng.range(16, 21) as u32,
            ),
            // The task port travels (and, moved, leaves the space without it).
            3 => (
                me.self_name.load(Relaxed),
                self.rng.pick(&[
                    MACH_MSG_TYPE_COPY_SEND,
                    MACH_MSG_TYPE_COPY_SEND,
                    MACH_MSG_TYPE_COPY_SEND,
                    MACH_MSG_TYPE_MOVE_SEND,
                ]),
            ),
            4 => (self.rng.u32(), self.disposition()),
            // The destination's own receive right: a circular message.
            5 => (
                remote,
                self.rng.pick(&[
                    MACH_MSG_TYPE_MOVE_RECEIVE,
                    MACH_MSG_TYPE_MOVE_RECEIVE,
                    MACH_MSG_TYPE_MAKE_SEND,
                    MACH_MSG_TYPE_COPY_SEND,
                    MACH_MSG_TYPE_MAKE_SEND_ONCE,
                ]),
            ),
            _ => (
                local,
                self.rng.pick(&[
                    MACH_MSG_TYPE_MOVE_RECEIVE,
                    MACH_MSG_TYPE_MAKE_SEND_ONCE,
                    MACH_MSG_TYPE_MOVE_SEND_ONCE,
                    MACH_MSG_TYPE_MOVE_SEND,
                ]),
            ),
        }
    }

    /// The size of an out-of-line region.
    fn ool_size(&mut self, big_ok: bool) -> u32 {
        let max = sys::MACH_MSG_OOL_SIZE_MAX;
        let r = &mut self.rng;
        // Regions of megabytes are dear under emulation with KASAN (page
        // faults, vmalloc, TLB flushes on every CPU): about one in 80.
        match r.weighted(&[8, 25, 30, 24, 1, 4]) {
            0 => 0,
            1 => r.range(1, 64) as u32,
            2 => r.range(65, 4096) as u32,
            3 => r.range(4097, 65536) as u32,
            4 if big_ok => r.range(65537, u64::from(OOL_BIG)) as u32,
            4 => r.range(1, 4096) as u32,
            // Above the limit: refused before anything is read.
            _ => {
                let any = r.range(u64::from(max) + 1, u64::from(u32::MAX)) as u32;
                r.pick(&[max + 1, max + 4096, u32::MAX, any])
            }
        }
    }

    /// An address and size for an out-of-line region (`len` is the size
    /// wanted, clipped to the memory sometimes), and whether the
    /// deallocate flag belongs there (the arena).
    fn ool_region(&mut self, len: u64, arena_ok: bool) -> (u64, u64, bool) {
        let (page, p0, p1, p2, p3, p4) = {
            let l = self.layout();
            (l.page, l.p(0), l.p(1), l.p(2), l.p(3), l.p(4))
        };
        let (buf, data) = (self.mem().buf(), self.mem().data());
        let sc = &self.sh.scratch;
        let (sc_base, sc_span) = (sc.base, SCRATCH_PAGES * sc.page);
        let arena_w = if arena_ok { 12 } else { 0 };
        let clean = self.clean;
        let clip = |r: &mut Rng, room: usize, len: u64| -> u64 {
            if clean || r.pct(90) {
                len.min(room as u64)
            } else {
                len
            }
        };
        let w = if clean {
            [50, 15, 0, 2 * arena_w, 0, 0, 0, 0, 0, 0, 0, 0]
        } else {
            [32, 8, 8, arena_w, 6, 8, 4, 3, 4, 3, 3, 3]
        };
        match self.rng.weighted(&w) {
            0 => {
                let off = if self.rng.pct(50) {
                    self.rng.below((DATA_LEN / page) as u64) as usize * page
                } else {
                    self.rng.below(DATA_LEN as u64) as usize
                };
                let n = clip(&mut self.rng, DATA_LEN - off, len);
                ((data + off) as u64, n, false)
            }
            1 => {
                let off = self.rng.below(BUF_LEN as u64) as usize;
                let n = clip(&mut self.rng, BUF_LEN - off, len);
                ((buf + off) as u64, n, false)
            }
            2 => {
                let r = &mut self.rng;
                let off = r.below(page as u64) as usize;
                let (a, room) = match r.below(5) {
                    // p0 and p1 read as one (p1 read-only).
                    0 => (p0 + off, 2 * page - off),
                    1 => (p1 + off, page - off),
                    2 => (p3 + off, page - off),
                    // Into the holes.
                    3 => (p1 + off, page - off + 1),
                    _ => (p3 + off, page - off + 1),
                };
                let n = if r.pct(75) {
                    len.min(room as u64)
                } else {
                    len.max(room as u64)
                };
                (a as u64, n, false)
            }
            3 => {
                let pages = ((len as usize).div_ceil(page) + 1).min(ARENA_LEN / page / 2);
                let (mem, rng) = (self.mem.as_mut().unwrap(), &mut self.rng);
                match mem.map_chunk(rng, pages) {
                    Some((s, l)) => {
                        let off = rng.below(page.min(l) as u64) as usize;
                        let n = len.min((l - off) as u64);
                        ((s + off) as u64, n, true)
                    }
                    None => (data as u64, len.min(DATA_LEN as u64), false),
                }
            }
            4 => {
                let off = self.rng.below(sc_span as u64) as usize;
                ((sc_base + off) as u64, len, false)
            }
            5 => {
                let r = &mut self.rng;
                let a = match r.below(4) {
                    0 => buf + BUF_LEN + r.below(1 << 20) as usize,
                    1 => p2 + r.below(page as u64) as usize,
                    2 => data + DATA_LEN + r.below(page as u64) as usize,
                    _ => p4 - r.range(1, 64) as usize,
                };
                (a as u64, len.max(1), false)
            }
            6 => (0, if self.rng.pct(50) { 0 } else { len }, false),
            7 => (self.rng.range(1, LOW_FAULT - 1), len, false),
            8 => (self.rng.pick(&KERNEL_ADDRS), len, false),
            9 => {
                if self.rng.pct(50) {
                    (
                        u64::MAX - self.rng.below(page as u64),
                        len.max(page as u64),
                        false,
                    )
                } else {
                    (0xffff_ffff_ffff_f000, 0x2000, false)
                }
            }
            10 => (USER_END - self.rng.below(256), 4096, false),
            _ => (self.rng.next(), len, false),
        }
    }

    /// Appends a random descriptor to `m`.
    fn push_descriptor(
        &mut self,
        me: &Sp,
        m: &mut Vec<u8>,
        arena_ok: bool,
        (remote, local): (u32, u32),
        bigs: &mut u32,
    ) {
        let w = if self.clean {
            [45, 30, 5, 20, 0, 0, 0]
        } else {
            [40, 24, 5, 18, 3, 4, 6]
        };
        match self.rng.weighted(&w) {
            0 => {
                let (name, disp) = self.body_right(me, remote, local);
                push32(m, name);
                push32(m, if self.rng.pct(90) { 0 } else { self.rng.u32() });
                let pad2 = if self.rng.pct(90) {
                    0
                } else {
                    self.rng.u32() as u16
                };
                m.extend_from_slice(&pad2.to_ne_bytes());
                m.push(disp as u8);
                m.push(sys::MACH_MSG_PORT_DESCRIPTOR as u8);
            }
            k @ (1 | 2) => {
                let kind = if k == 1 {
                    sys::MACH_MSG_OOL_DESCRIPTOR
                } else {
                    sys::MACH_MSG_OOL_VOLATILE_DESCRIPTOR
                };
                let big_ok = *bigs > 0 && self.mem_level == 0;
                let mut want = self.ool_size(big_ok);
                if self.clean && want > OOL_BIG {
                    want &= 0xfff;
                }
                if want > 65536 && want <= OOL_BIG {
                    *bigs = bigs.saturating_sub(1);
                }
                let (addr, n, dok) = self.ool_region(u64::from(want), arena_ok);
                let clean = self.clean;
                let r = &mut self.rng;
                let dealloc = if dok { r.pct(70) } else { r.pct(12) };
                let w = if clean { [1, 1, 0, 0] } else { [45, 45, 5, 5] };
                let copy = match r.weighted(&w) {
                    0 => sys::MACH_MSG_PHYSICAL_COPY as u8,
                    1 => sys::MACH_MSG_VIRTUAL_COPY as u8,
                    2 => r.pick(&[sys::MACH_MSG_ALLOCATE, sys::MACH_MSG_OVERWRITE]) as u8,
                    _ => r.u32() as u8,
                };
                push64(m, addr);
                m.push(if dealloc { r.pick(&[1, 1, 1, 0xff]) } else { 0 });
                m.push(copy);
                m.push(if r.pct(90) { 0 } else { r.u32() as u8 });
                m.push(kind as u8);
                push32(m, n.min(u64::from(u32::MAX)) as u32);
            }
            3 => self.push_ool_ports(me, m, arena_ok, (remote, local)),
            4 => {
                // A guarded port descriptor: not supported.
                let (name, disp) = self.body_right(me, remote, local);
                push32(m, name);
                push32(m, self.rng.u32());
                m.extend_from_slice(&(self.rng.u32() as u16).to_ne_bytes());
                m.push(disp as u8);
                m.push(sys::MACH_MSG_GUARDED_PORT_DESCRIPTOR as u8);
                push32(m, self.rng.u32());
            }
            5 => {
                // An unknown type.
                for _ in 0..11 {
                    m.push(self.rng.u32() as u8);
                }
                m.push(self.rng.range(5, 255) as u8);
                push32(m, self.rng.u32());
            }
            _ => {
                // Random bytes: the type decides the size.
                let kind = self.rng.u32() as u8;
                for _ in 0..11 {
                    m.push(self.rng.u32() as u8);
                }
                m.push(kind);
                if kind != 0 {
                    push32(m, self.rng.u32() & 0xffff);
                }
            }
        }
    }

    fn push_ool_ports(&mut self, me: &Sp, m: &mut Vec<u8>, arena_ok: bool, rl: (u32, u32)) {
        let count = {
            let big = self.mem_level == 0;
            let w = if self.clean {
                [5, 50, 30, 15, 0, 0, 0, 0, 0]
            } else {
                [8, 40, 22, 10, 2, 3, 3, 4, 8]
            };
            let r = &mut self.rng;
            match r.weighted(&w) {
                0 => 0,
                1 => r.range(1, 4) as u32,
                2 => r.range(5, 32) as u32,
                3 => r.range(33, 1024) as u32,
                4 if big => sys::MACH_MSG_RIGHTS_MAX,
                4 => 64,
                5 => sys::MACH_MSG_RIGHTS_MAX + 1,
                6 => u32::MAX,
                7 => r.u32(),
                _ => r.range(1025, 16384) as u32,
            }
        };
        let (_, disp) = self.body_right(me, rl.0, rl.1);
        let disp = if self.clean || self.rng.pct(85) {
            disp
        } else {
            self.disposition()
        };
        let len = u64::from(count) * 4;
        let page = self.mem().page;
        let data = self.mem().data();
        let arena_w = if arena_ok { 10 } else { 0 };
        let w = if self.clean {
            [70, 3 * arena_w, 0, 0, 0, 0, 0, 0, 0]
        } else {
            [55, arena_w, 7, 6, 5, 5, 4, 4, 4]
        };
        let (addr, dok, fill) = match self.rng.weighted(&w) {
            0 => {
                let n = (count as usize).min(4096);
                let off = 4 * self.rng.below((NAMES_LEN / 4 - n + 1) as u64) as usize;
                ((data + off) as u64, false, true)
            }
            1 => {
                let (mem, rng) = (self.mem.as_mut().unwrap(), &mut self.rng);
                let pages = ((len as usize).div_ceil(page) + 1).min(ARENA_LEN / page / 2);
                match mem.map_chunk(rng, pages) {
                    Some((s, l)) if (l as u64) >= len => {
                        let off = 4 * rng.below(((l as u64 - len) / 4).min(1024) + 1) as usize;
                        ((s + off) as u64, true, true)
                    }
                    _ => (data as u64, false, true),
                }
            }
            2 => {
                // Old names, zeros or the pattern.
                let off = 4 * self.rng.below((DATA_LEN / 4) as u64) as usize;
                ((data + off) as u64, false, false)
            }
            _ => {
                let (a, _, _) = self.ool_region(len, false);
                (a, false, false)
            }
        };
        if fill {
            let n = (count as usize).min(4096);
            let mut names = [0u8; 4 * 4096];
            for i in 0..n {
                let name = match self.rng.weighted(&[35, 35, 10, 5, 5, 10]) {
                    0 => self.rcv_or_name(me),
                    1 => {
                        let x = self.name_in(me);
                        self.spared(x, me)
                    }
                    2 => sys::MACH_PORT_NULL,
                    3 => sys::MACH_PORT_DEAD,
                    4 => me.self_name.load(Relaxed),
                    _ => self.rng.u32(),
                };
                names[4 * i..4 * i + 4].copy_from_slice(&name.to_ne_bytes());
            }
            self.put(addr, &names[..4 * n]);
        }
        let r = &mut self.rng;
        let dealloc = if dok { r.pct(60) } else { r.pct(10) };
        push64(m, addr);
        m.push(u8::from(dealloc));
        m.push(if r.pct(90) {
            r.below(2) as u8
        } else {
            r.u32() as u8
        });
        m.push(disp as u8);
        m.push(sys::MACH_MSG_OOL_PORTS_DESCRIPTOR as u8);
        push32(m, count);
    }

    /// Builds a message into `mbuf`; gives its remote and local names.
    fn build_message(&mut self, me: &Sp, arena_ok: bool, rpc: bool) -> (u32, u32, u32) {
        use sys::*;
        let mut m = std::mem::take(&mut self.mbuf);
        m.clear();
        let clean = self.clean;
        let chain = if clean && !rpc && self.rng.pct(8) {
            self.build_chain(me)
        } else {
            None
        };
        self.chained = chain.is_some();
        let names = if let Some((dest, carried)) = chain {
            // COPY_SEND to the chain's first port, its last port's receive
            // right in the body, and maybe more.
            push32(&mut m, MACH_MSG_TYPE_COPY_SEND | MACH_MSGH_BITS_COMPLEX);
            push32(&mut m, 0);
            push32(&mut m, dest);
            push32(&mut m, 0);
            push32(&mut m, 0);
            push32(&mut m, 0x6379_636d);
            let more = self.rng.below(3) as u32;
            push32(&mut m, 1 + more);
            push32(&mut m, carried);
            push32(&mut m, 0);
            push32(&mut m, MACH_MSG_TYPE_MOVE_RECEIVE << 16);
            let mut bigs = 1;
            for _ in 0..more {
                self.push_descriptor(me, &mut m, arena_ok, (dest, 0), &mut bigs);
            }
            (dest, 0, MACH_MSG_TYPE_COPY_SEND)
        } else if !rpc && !clean && self.rng.pct(5) {
            self.junk_message(me, &mut m)
        } else {
            let (remote, rdisp) = self.header_dest(me, rpc);
            let (local, ldisp) = self.header_reply(me, remote, rpc);
            let r = &mut self.rng;
            let w = if clean { [1, 0, 0, 0] } else { [94, 2, 2, 2] };
            let voucher = match r.weighted(&w) {
                0 => MACH_PORT_NULL,
                1 => me.seen_name(r).unwrap_or(0x203),
                2 => MACH_PORT_DEAD,
                _ => r.u32(),
            };
            let vdisp = if !clean && r.pct(10) {
                r.below(32) as u32
            } else {
                0
            };
            let ndesc = match r.weighted(&[42, 20, 14, 10, 6, 5, 3]) {
                0 => 0,
                1 => 1,
                2 => 2,
                3 => 3,
                4 => r.range(4, 6),
                5 => r.range(7, 16),
                _ => r.range(17, 64),
            } as u32;
            let complex = if clean {
                ndesc > 0
            } else if ndesc > 0 {
                r.pct(92)
            } else {
                r.pct(8)
            };
            let mut bits = (rdisp & 0x1f) | (ldisp & 0x1f) << 8 | vdisp << 16;
            if complex {
                bits |= MACH_MSGH_BITS_COMPLEX;
            }
            if r.pct(5) {
                // Bits outside MACH_MSGH_BITS_USER: ignored.
                bits |= r.u32() & !MACH_MSGH_BITS_USER;
            }
            if !clean && r.pct(3) {
                // Out-of-range dispositions through the masks.
                bits = r.u32() & !MACH_MSGH_BITS_COMPLEX | (bits & MACH_MSGH_BITS_COMPLEX);
            }
            push32(&mut m, bits);
            push32(&mut m, if r.pct(80) { 0 } else { r.u32() });
            push32(&mut m, remote);
            push32(&mut m, local);
            push32(&mut m, voucher);
            push32(
                &mut m,
                if r.pct(50) {
                    r.below(1000) as u32
                } else {
                    r.u32()
                },
            );
            if ndesc > 0 || complex {
                let w = if clean {
                    [1, 0, 0, 0, 0, 0]
                } else {
                    [82, 4, 5, 3, 3, 3]
                };
                let count = match r.weighted(&w) {
                    0 => ndesc,
                    1 => 0,
                    2 => ndesc + r.range(1, 3) as u32,
                    3 => ndesc.saturating_sub(1),
                    4 => r.pick(&[u32::MAX, 0x8000_0000, 65536, 0x1555_5556]),
                    _ => r.u32(),
                };
                push32(&mut m, count);
                let mut bigs = 2;
                for _ in 0..ndesc {
                    self.push_descriptor(me, &mut m, arena_ok, (remote, local), &mut bigs);
                }
            }
            (remote, local, rdisp)
        };
        // Inline data after the descriptors.
        let r = &mut self.rng;
        let extra = if r.pct(35) {
            4 * r.below(64) as usize
        } else if r.pct(2) {
            4 * r.below(8192) as usize
        } else {
            0
        };
        for _ in 0..extra / 4 {
            push32(&mut m, if r.pct(70) { r.u32() } else { 0 });
        }
        self.mbuf = m;
        names
    }

    /// Words that look like a message, more or less.
    fn junk_message(&mut self, me: &Sp, m: &mut Vec<u8>) -> (u32, u32, u32) {
        let n = self.rng.range(6, 64) as usize;
        let remote = self.rcv_or_name(me);
        let local = if self.rng.pct(50) {
            0
        } else {
            self.name_in(me)
        };
        let mut rdisp = 0;
        for i in 0..n {
            let r = &mut self.rng;
            let w = match i {
                0 => {
                    let mut b = if r.pct(70) {
                        r.range(17, 21) as u32
                    } else {
                        r.u32()
                    };
                    if r.pct(50) {
                        b |= sys::MACH_MSGH_BITS_COMPLEX;
                    }
                    if local != 0 {
                        b |= (r.range(17, 21) as u32) << 8;
                    }
                    rdisp = b & 0x1f;
                    b
                }
                2 => remote,
                3 => local,
                4 if r.pct(80) => 0,
                6 => r.below(8) as u32,
                _ => match r.weighted(&[20, 10, 10, 10, 10, 10, 10, 10]) {
                    0 => 0,
                    1 => 0x103,
                    2 => r.range(16, 21) as u32,
                    3 => me.seen_name(r).unwrap_or(0),
                    4 => me.seen_rcv(r).unwrap_or(0),
                    5 => r.u32(),
                    6 => {
                        // A type/disposition/copy/deallocate word.
                        (r.below(5) as u32) << 24
                            | (r.range(16, 21) as u32) << 16
                            | (r.below(2) as u32) << 8
                            | r.below(2) as u32
                    }
                    _ => r.below(4096) as u32,
                },
            };
            push32(m, w);
        }
        (remote, local, rdisp)
    }

    /// The send size for a message of `built` bytes whose buffer has
    /// `room` bytes (from its start to the end of its memory).
    fn send_size(&mut self, built: usize, room: usize) -> u32 {
        let big = self.mem_level == 0;
        let max = sys::MACH_MSG_SIZE_MAX;
        let r = &mut self.rng;
        let built = built as u32;
        match r.weighted(&[74, 7, 4, 3, 3, 1, 3, 3, 2]) {
            0 => built,
            // Inline bytes beyond what we wrote: whatever lies there.
            1 => built + 4 * r.range(1, 64) as u32,
            2 => built.saturating_sub(4 * r.range(1, 8) as u32),
            3 => built + r.range(1, 3) as u32,
            4 => r.below(24) as u32,
            5 if big => {
                let top = room.min(max as usize) as u64 / 4;
                let lo = (u64::from(built) / 4).min(top);
                4 * r.range(lo, top) as u32
            }
            5 => built,
            // To the end of the buffer, or past it.
            6 => {
                let room = room.min(u32::MAX as usize / 2) as u32;
                if r.pct(50) {
                    room & !3
                } else {
                    (room & !3) + 4 * r.range(1, 1024) as u32
                }
            }
            7 => {
                let at_max = if big { max } else { max + 4 };
                r.pick(&[max + 4, max + 1, max + 0x1000, u32::MAX, at_max])
            }
            _ => r.u32(),
        }
    }

    fn rcv_size(&mut self, built: usize, room: usize, option: u32) -> u32 {
        let trailer = sys::requested_trailer_size(option);
        let r = &mut self.rng;
        let room = room.min(u32::MAX as usize / 2) as u32;
        match r.weighted(&[35, 8, 8, 8, 10, 10, 7, 7, 7]) {
            0 => room,
            1 => 0,
            2 => r.range(1, 23) as u32,
            3 => r.range(24, 99) as u32,
            4 => {
                if built > 0 {
                    built as u32 + trailer - r.below(2) as u32 * 4
                } else {
                    r.range(100, 4096) as u32
                }
            }
            5 => r.pick(&[4096, 65536, sys::MACH_MSG_SIZE_MAX + sys::MAX_TRAILER_SIZE]),
            // Claims more than the buffer has.
            6 => room + 4 * r.range(1, 4096) as u32,
            7 => u32::MAX,
            _ => r.u32(),
        }
    }

    fn rcv_name(&mut self, me: &Sp, (remote, local): (u32, u32), combined: bool) -> u32 {
        let w = if self.clean {
            [5, 0, 0, 0, 35, 50, 0, 10]
        } else if combined {
            [25, 10, 4, 3, 30, 20, 8, 10]
        } else {
            [38, 16, 5, 4, 5, 3, 7, 30]
        };
        match self.rng.weighted(&w) {
            0 => self.rcv_or_name(me),
            // A port a message was just queued on.
            7 => match me.seen_queued(&mut self.rng) {
                Some(n) => n,
                None => self.rcv_or_name(me),
            },
            1 => self.name_in(me),
            2 => self.rng.pick(&[sys::MACH_PORT_NULL, sys::MACH_PORT_DEAD]),
            3 => me.self_name.load(Relaxed),
            4 if sys::mach_port_valid(local) => local,
            5 if sys::mach_port_valid(remote) => remote,
            4 | 5 => self.rcv_or_name(me),
            _ => {
                if self.rng.pct(50) {
                    self.rng.u32()
                } else {
                    ((self.rng.below(64) as u32) << 8) | self.rng.below(256) as u32
                }
            }
        }
    }

    /// Builds a mach_msg call: its struct, where the struct goes, and the
    /// message it sends, written where the struct says (`self.plan`).
    fn build_msg(&mut self, me: &Sp) -> (sys::MsgArgs, Place) {
        self.msg_calls += 1;
        if self.msg_calls % 16 == 1 {
            self.refresh_mem_level(me);
        }
        let place = self.place(Op::Msg, size_of::<sys::MsgArgs>());
        let own = matches!(place, Place::Own(_));
        let scratch_struct = matches!(place, Place::Scratch(_));
        let (mut send, mut rcv) = match self.rng.weighted(&[45, 33, 19, 3]) {
            0 => (true, false),
            1 => (false, true),
            2 => (true, true),
            _ => (false, false),
        };
        if send && self.mem_level >= 2 && self.rng.pct(75) {
            // The queues are full enough: receive instead.
            (send, rcv) = (false, true);
        }
        let option = self.msg_option(send, rcv);
        let timeout = match self.rng.weighted(&[85, 12, 3]) {
            0 => 0,
            1 => self.rng.range(1, 3) as u32,
            _ => self.rng.range(4, 10) as u32,
        };
        // A sound message, to a port of ours, sent from our buffer and, half
        // the time, received back in the same call.
        self.clean = send && own && self.rng.pct(40);
        if self.clean && !rcv && self.rng.pct(50) {
            rcv = true;
        }
        let option = if self.clean {
            // Keep the trailer request valid.
            (option & !sys::mach_rcv_trailer_type(0xf)) | if rcv { sys::MACH_RCV_MSG } else { 0 }
        } else {
            option
        };
        let (msg, room) = if self.clean {
            (self.mem().buf() as u64, BUF_LEN)
        } else {
            self.msg_place(scratch_struct)
        };
        let private = matches!(self.mem().classify(msg, 1), Acc::Writable | Acc::ReadOnly);
        // The deallocate flag only where we can follow it.
        let arena_ok = own && private;
        let rpc = send && rcv && self.rng.pct(35);
        let mut hdr = (0, 0);
        let mut dest = (0, 0);
        let mut built = 0;
        if send {
            let (remote, local, rdisp) = self.build_message(me, arena_ok, rpc);
            (hdr, dest) = ((remote, local), (remote, rdisp));
            self.sanitize_built();
            built = self.mbuf.len();
            let m = std::mem::take(&mut self.mbuf);
            self.put(msg, &m);
            self.mbuf = m;
        }
        let send_size = if self.clean {
            built as u32
        } else if send || self.rng.pct(50) {
            self.send_size(built, room)
        } else {
            self.rng.u32()
        };
        let dealloc = if send && private {
            self.sanitize_in_place(msg, send_size)
        } else {
            Some(Vec::new())
        };
        let rcv_size = if self.clean && self.rng.pct(80) {
            room as u32
        } else {
            self.rcv_size(built, room, option)
        };
        let mut rcv_name = self.rcv_name(me, hdr, send && rcv);
        self.clean = false;
        // Now and then (MACH_FUZZ_WAITS), a receive without a timeout on a
        // port of ours, which the watchdog interrupts.
        let waits = rcv && own && self.rng.below(1000) < self.sh.cfg.waits;
        let option = if waits {
            if self.rng.pct(70) {
                rcv_name = self.live_receive(me);
            }
            option & !sys::MACH_RCV_TIMEOUT & !sys::mach_rcv_trailer_type(0xf)
        } else {
            option
        };
        self.descs.clear();
        let spred = if send && own {
            self.predict_send(msg, send_size)
        } else {
            SendPred::Unknown
        };
        let rpred = if option >> 28 != sys::MACH_MSG_TRAILER_FORMAT_0 {
            RcvPred::Exact(sys::MACH_RCV_INVALID_TRAILER)
        } else if !sys::mach_port_valid(rcv_name) {
            RcvPred::Exact(sys::MACH_RCV_INVALID_NAME)
        } else {
            RcvPred::Any
        };
        let rcv_writable = self.mem().classify(msg, u64::from(rcv_size)) == Acc::Writable;
        self.plan = Some(MsgPlan {
            option,
            msg,
            send_size,
            rcv_size,
            rcv_name,
            send,
            rcv,
            checked: own,
            spred,
            rpred,
            rcv_writable,
            rcv_private: private,
            dealloc,
            dest,
            head: if send && own {
                self.dump_bytes(msg, send_size)
            } else {
                Vec::new()
            },
            waits,
            summary: if send && own { self.summary() } else { [0; 6] },
            chain: std::mem::take(&mut self.chained),
        });
        let r = &mut self.rng;
        let notify = if r.pct(90) { 0 } else { r.u32() };
        let mr = if r.pct(90) { 0 } else { r.u32() as i32 };
        let args = sys::MsgArgs {
            msg,
            option,
            send_size,
            rcv_size,
            rcv_name,
            timeout,
            notify,
            mr,
            reserved: self.reserved(),
        };
        (args, place)
    }

    fn attributes_args(&mut self, t: &Sp, task: u32, set: bool) -> sys::PortAttributesArgs {
        use sys::*;
        let name = match self.rng.weighted(&[50, 28, 8, 14]) {
            0 => self.rcv_or_name(t),
            1 => self.name_in(t),
            2 => self.rng.pick(&[MACH_PORT_NULL, MACH_PORT_DEAD]),
            _ => self.rng.u32(),
        };
        let r = &mut self.rng;
        let w = if set {
            [80, 6, 4, 10]
        } else {
            [35, 35, 15, 15]
        };
        let other = r.u32();
        let flavor = match r.weighted(&w) {
            0 => MACH_PORT_LIMITS_INFO,
            1 => MACH_PORT_RECEIVE_STATUS,
            2 => MACH_PORT_DNREQUESTS_SIZE,
            _ => r.pick(&[0, 4, 5, 0x10, u32::MAX, other]),
        };
        let proper = if flavor == MACH_PORT_RECEIVE_STATUS {
            MACH_PORT_RECEIVE_STATUS_COUNT
        } else {
            1
        };
        let count = match r.weighted(&[65, 10, 15, 10]) {
            0 => proper,
            1 => 0,
            2 => r.below(11) as u32,
            _ => {
                let any = r.u32();
                r.pick(&[11, 12, 64, 0x8000_0000, u32::MAX, any])
            }
        };
        let mut info = [0u32; 10];
        if set {
            info[0] = match r.weighted(&[45, 30, 10, 10, 5]) {
                0 => r.pick(&[0, 1, 2, 5, 5, 16, 64, MACH_PORT_QLIMIT_MAX]),
                1 => r.range(0, u64::from(MACH_PORT_QLIMIT_MAX)) as u32,
                2 => r.range(u64::from(MACH_PORT_QLIMIT_MAX) + 1, 65536) as u32,
                3 => r.pick(&[MACH_PORT_QLIMIT_MAX + 1, u32::MAX, 0x8000_0000]),
                _ => r.u32(),
            };
        }
        if r.pct(15) {
            for w in info.iter_mut().skip(usize::from(set)) {
                *w = r.u32();
            }
        }
        PortAttributesArgs {
            task,
            name,
            flavor,
            count,
            info,
            kr: if r.pct(95) { 0 } else { r.u32() as i32 },
            reserved: self.reserved(),
        }
    }

    // --- after a message call -------------------------------------------------

    /// Checks a message call's result, unmaps what it mapped for us, learns
    /// the names it gave, gives the arena back.
    fn finish_msg(&mut self, me: &Sp, err: i32, out: Option<&[u8; 64]>, ioctl_ns: u64) {
        let Some(plan) = self.plan.take() else {
            return;
        };
        let sh = self.sh;
        let what = |w: &Worker<'_>, p: &MsgPlan| {
            format!(
                "seed {} thread {} call {}: mach_msg option {:#x} msg {:#x} send_size {} rcv_size {} rcv_name {:#x}",
                sh.cfg.seed, w.id, w.call_no, p.option, p.msg, p.send_size, p.rcv_size, p.rcv_name
            )
        };
        if ioctl_ns > 10_000_000_000 && !plan.waits {
            let s = plan.summary;
            let _g = sh.print.lock().unwrap();
            println!(
                "# slow message call, {:.1} s in the kernel: {}, struct {}, errno {}; message: {} port, {} out-of-line ({} bytes), {} port-array ({} names), {} other descriptors",
                ioctl_ns as f64 / 1e9,
                what(self, &plan),
                if plan.checked { "ours" } else { "in the scratch region" },
                errno_name(err),
                s[0],
                s[1],
                s[4],
                s[2],
                s[5],
                s[3]
            );
        }
        match (err, out) {
            (0, Some(out)) => {
                let mr = from_bytes::<sys::MsgArgs>(out).mr;
                *sh.counters.mr.lock().unwrap().entry(mr).or_insert(0) += 1;
                if !mr_known(mr) {
                    sh.violations.add(CHECK_MR, || {
                        format!("{} gave mr {mr:#x}", what(self, &plan))
                    });
                }
                if let Some(problem) = self.msg_problem(&plan, mr) {
                    sh.violations.add(CHECK_MSG, || {
                        let hex = |b: &[u8]| {
                            b.chunks(4)
                                .map(|w| {
                                    format!("{:08x}", u32::from_ne_bytes([w[0], w[1], w[2], w[3]]))
                                })
                                .collect::<Vec<_>>()
                                .join(" ")
                        };
                        format!(
                            "{}: {problem}; message words as sent: [{}]; now: [{}]",
                            what(self, &plan),
                            hex(&plan.head),
                            hex(&self.dump_bytes(plan.msg, plan.send_size))
                        )
                    });
                }
                let sent = plan.send && !is_send_mr(mr);
                if plan.chain {
                    sh.counters.chains.fetch_add(1, Relaxed);
                    if sent {
                        sh.counters.chains_sent.fetch_add(1, Relaxed);
                    }
                }
                if sent
                    && matches!(
                        plan.dest.1,
                        sys::MACH_MSG_TYPE_MAKE_SEND | sys::MACH_MSG_TYPE_MAKE_SEND_ONCE
                    )
                {
                    // Made from a receive right of ours: queued here
                    // (unless the port died or the message was circular).
                    me.record_queued(plan.dest.0);
                }
                // MACH_SEND_NO_BUFFER may come after the pages are gone.
                if plan.send && mr != sys::MACH_SEND_NO_BUFFER {
                    if let Some(problem) = self.check_dealloc(&plan, sent) {
                        sh.violations
                            .add(CHECK_MSG, || format!("{}: {problem}", what(self, &plan)));
                    }
                }
                if plan.rcv && (!plan.send || sent) {
                    if let Some(problem) = self.after_receive(me, &plan, mr) {
                        sh.violations.add(CHECK_RESULTS, || {
                            format!("{}: {problem}", what(self, &plan))
                        });
                    }
                }
            }
            (libc::EINTR, Some(out)) if plan.checked && plan.waits => {
                // Interrupted: the send, if any, is done (a send waits a few
                // ms at most), and `option` says so.
                sh.counters.interrupted.fetch_add(1, Relaxed);
                let a: sys::MsgArgs = from_bytes(out);
                let want = plan.option & !sys::MACH_SEND_MSG;
                if !plan.rcv || a.option != want {
                    sh.violations.add(CHECK_MSG, || {
                        format!(
                            "{}: EINTR with option {:#x} written back (expected {want:#x})",
                            what(self, &plan),
                            a.option
                        )
                    });
                }
                if plan.send {
                    if let Some(problem) = self.check_dealloc(&plan, true) {
                        sh.violations
                            .add(CHECK_MSG, || format!("{}: {problem}", what(self, &plan)));
                    }
                }
            }
            (0, None) if plan.rcv => {
                // The struct was in the scratch region: whatever it
                // received, we cannot know where it went.
                sh.counters.blind_receives.fetch_add(1, Relaxed);
            }
            _ => {}
        }
        self.mem.as_mut().unwrap().release_chunk();
    }

    /// What the descriptors last parsed for a prediction hold.
    fn summary(&self) -> [u64; 6] {
        let mut s = [0u64; 6];
        for d in &self.descs {
            match d.kind {
                0 => s[0] += 1,
                1 | 3 => {
                    s[1] += 1;
                    s[4] += u64::from(d.n);
                }
                2 => {
                    s[2] += 1;
                    s[5] += u64::from(d.n);
                }
                _ => s[3] += 1,
            }
        }
        s
    }

    /// Up to 256 bytes of a message of ours (whole words), for reports.
    fn dump_bytes(&self, msg: u64, size: u32) -> Vec<u8> {
        let n = (size.min(256) & !3) as usize;
        let mut b = vec![0u8; n];
        if !self.mem().read(msg, &mut b) {
            b.clear();
        }
        b
    }

    /// What is wrong with `mr`, as far as the call's own arguments decide it.
    fn msg_problem(&self, p: &MsgPlan, mr: i32) -> Option<String> {
        if !p.checked {
            return None;
        }
        let send_mr = is_send_mr(mr);
        if !p.send && !p.rcv {
            return (mr != 0).then(|| format!("neither send nor receive gave {}", mr_name(mr)));
        }
        if p.send {
            if send_mr {
                return (!send_allowed(p.spred, mr))
                    .then(|| format!("send: expected {:?}, got {}", p.spred, mr_name(mr)));
            }
            if !send_can_succeed(p.spred) {
                return Some(format!(
                    "send: expected {:?}, but it went through ({})",
                    p.spred,
                    mr_name(mr)
                ));
            }
            if !p.rcv {
                return (mr != 0).then(|| format!("a send alone gave {}", mr_name(mr)));
            }
        } else if send_mr {
            return Some(format!("a receive gave {}", mr_name(mr)));
        }
        match p.rpred {
            RcvPred::Exact(e) => {
                (mr != e).then(|| format!("receive: expected {}, got {}", mr_name(e), mr_name(mr)))
            }
            RcvPred::Any => {
                if !RCV_ANY.contains(&mr) {
                    Some(format!("receive gave {}", mr_name(mr)))
                } else if mr == sys::MACH_RCV_INVALID_DATA && p.rcv_writable {
                    Some("MACH_RCV_INVALID_DATA into a buffer writable for rcv_size bytes".into())
                } else {
                    None
                }
            }
        }
    }

    /// The deallocate flag: the arena pages are gone after a successful
    /// send, and still there after a failed one.
    fn check_dealloc(&self, p: &MsgPlan, sent: bool) -> Option<String> {
        if !p.checked {
            return None;
        }
        let ranges = p.dealloc.as_ref()?;
        let m = self.mem();
        let mut problem = None;
        for &(a, l) in ranges {
            for x in [a, a + l - 1] {
                let mapped = m.mapped(x);
                if sent == mapped && problem.is_none() {
                    problem = Some(format!(
                        "deallocate of [{a:#x}, +{l:#x}): page of {x:#x} {} after a {} send",
                        if mapped { "still mapped" } else { "unmapped" },
                        if sent { "successful" } else { "failed" }
                    ));
                }
            }
        }
        if sent && !ranges.is_empty() {
            self.sh.counters.deallocated.fetch_add(1, Relaxed);
        }
        problem
    }

    /// After a receive ran: checks what it wrote where it can, unmaps the
    /// regions it mapped, learns and sometimes drops the rights it gave.
    fn after_receive(&mut self, me: &Sp, p: &MsgPlan, mr: i32) -> Option<String> {
        use sys::*;
        let base = mr & !(MACH_MSG_IPC_SPACE | MACH_MSG_VM_SPACE);
        let delivered = matches!(
            base,
            MACH_MSG_SUCCESS | MACH_RCV_BODY_ERROR | MACH_RCV_HEADER_ERROR
        );
        if !p.rcv_private {
            if delivered || base == MACH_RCV_INVALID_DATA {
                self.sh.counters.blind_receives.fetch_add(1, Relaxed);
            }
            return None;
        }
        let trailer = requested_trailer_size(p.option);
        let m = self.mem.as_ref().unwrap();
        let msg = p.msg;
        if base == MACH_RCV_TOO_LARGE {
            if p.option & MACH_RCV_LARGE != 0 {
                if p.rcv_size < 16 {
                    return None;
                }
                let size = m.read_u32(msg + 4)?;
                if size < MACH_MSG_HEADER_SIZE
                    || !size.is_multiple_of(4)
                    || size > MACH_MSG_SIZE_MAX
                    || u64::from(size) + u64::from(trailer) <= u64::from(p.rcv_size)
                {
                    return Some(format!("MACH_RCV_LARGE reported size {size}"));
                }
                if p.option & MACH_RCV_LARGE_IDENTITY != 0 {
                    let local = m.read_u32(msg + 12)?;
                    if local != p.rcv_name && !self.set_or_gone(me, p.rcv_name) {
                        return Some(format!("MACH_RCV_LARGE_IDENTITY reported {local:#x}"));
                    }
                }
            } else if p.rcv_size >= MACH_MSG_HEADER_SIZE {
                let w = |o: u64| m.read_u32(msg + o);
                let (bits, size, remote, local) = (w(0)?, w(4)?, w(8)?, w(12)?);
                if size != MACH_MSG_HEADER_SIZE
                    || (local != p.rcv_name && !self.set_or_gone(me, p.rcv_name))
                    || remote != 0
                    || !matches!((bits >> 8) & 0x1f, 17 | 18)
                    || !matches!(bits & 0x1f, 0 | 17 | 18)
                {
                    return Some(format!(
                        "too large, destroyed: header bits {bits:#x} size {size} remote {remote:#x} local {local:#x}"
                    ));
                }
                if p.rcv_size >= MACH_MSG_HEADER_SIZE + 8 {
                    let (t0, t1) = (w(24)?, w(28)?);
                    if t0 != 0 || t1 != trailer {
                        return Some(format!("too large, destroyed: trailer {t0} {t1}"));
                    }
                }
            }
            return None;
        }
        if !delivered {
            return None;
        }
        self.sh.counters.received.fetch_add(1, Relaxed);
        let w = |o: u64| m.read_u32(msg + o);
        let (Some(bits), Some(size), Some(remote), Some(local), Some(voucher)) =
            (w(0), w(4), w(8), w(12), w(16))
        else {
            return Some("delivered, but the header cannot be read back".into());
        };
        if size < MACH_MSG_HEADER_SIZE
            || !size.is_multiple_of(4)
            || size > MACH_MSG_SIZE_MAX
            || u64::from(size) + u64::from(trailer) > u64::from(p.rcv_size)
        {
            return Some(format!("delivered size {size} (trailer {trailer})"));
        }
        // Received: the remote bits are the reply right's type, the local
        // bits the destination right's.
        let rtype = bits & 0x1f;
        let ltype = (bits >> 8) & 0x1f;
        let mut problem = None;
        let mut note = |s: String| {
            if problem.is_none() {
                problem = Some(s);
            }
        };
        // Through a set, the local port is the member's name (NULL if its
        // receive right went away meanwhile).
        if (local != p.rcv_name && !self.set_or_gone(me, p.rcv_name)) || voucher != 0 {
            note(format!("delivered local {local:#x} voucher {voucher:#x}"));
        }
        if bits & !(0x1f1f | MACH_MSGH_BITS_COMPLEX) != 0
            || !matches!(ltype, 17 | 18)
            || !matches!(rtype, 0 | 17 | 18)
            || (rtype == 0 && remote != 0)
        {
            note(format!("delivered bits {bits:#x} remote {remote:#x}"));
        }
        // The trailer: [type, size, seqno, uid, gid, auid, euid, egid,
        // ruid, rgid, pid, ...].
        let tw = |i: u64| w(u64::from(size) + 4 * i);
        if let (Some(t0), Some(t1)) = (tw(0), tw(1)) {
            if t0 != 0 || t1 != trailer {
                note(format!("trailer type {t0} size {t1}, asked for {trailer}"));
            }
        }
        // A notification comes from the kernel (an all-zero audit token);
        // every other message from us.
        let id = w(20).unwrap_or(0) as i32;
        let notification = remote == 0
            && [
                MACH_NOTIFY_PORT_DELETED,
                MACH_NOTIFY_PORT_DESTROYED,
                MACH_NOTIFY_NO_SENDERS,
                MACH_NOTIFY_SEND_ONCE,
                MACH_NOTIFY_DEAD_NAME,
            ]
            .contains(&id);
        let kernel = if trailer >= 52 {
            tw(10) == Some(0)
        } else {
            notification
        };
        if kernel && trailer < 52 {
            // Maybe from the kernel, maybe ours: nothing to check.
        } else if kernel {
            self.sh.counters.notifications.fetch_add(1, Relaxed);
            let want_size = match id {
                MACH_NOTIFY_SEND_ONCE => 24,
                MACH_NOTIFY_PORT_DESTROYED => 40,
                _ => 36,
            };
            let want_bits = if id == MACH_NOTIFY_PORT_DESTROYED {
                MACH_MSGH_BITS_COMPLEX
            } else {
                0
            };
            if !notification
                || size != want_size
                || !matches!(bits & !MACH_MSGH_BITS_COMPLEX, 0x1200 | 0x1100)
                || bits & MACH_MSGH_BITS_COMPLEX != want_bits
            {
                note(format!(
                    "a message from the kernel: id {id} size {size} bits {bits:#x} remote {remote:#x}"
                ));
            }
            if trailer >= 52 && (5..13).any(|i| tw(i) != Some(0)) {
                note("a notification with an audit token that is not all zero".into());
            }
        } else {
            if trailer >= 20 && (tw(3), tw(4)) != (Some(self.sh.euid), Some(self.sh.egid)) {
                note(format!("trailer sender {:?} {:?}", tw(3), tw(4)));
            }
            if trailer >= 52 && tw(10) != Some(self.sh.pid) {
                note(format!("trailer pid {:?}, we are {}", tw(10), self.sh.pid));
            }
        }
        self.got.clear();
        if sys::mach_port_valid(remote) && matches!(rtype, 17 | 18) {
            self.got.push((remote, rtype));
        }
        // The descriptors.
        let mut descs = std::mem::take(&mut self.descs);
        descs.clear();
        let walked = {
            let rd = |off: usize, out: &mut [u8]| m.read(msg + off as u64, out);
            walk_descs(size as usize, true, &rd, &mut |d| {
                if descs.len() < DESC_CAP {
                    descs.push(d);
                }
            })
        };
        if walked.is_err() {
            note("delivered descriptors do not fit in the message".into());
        }
        let vm_error = mr == MACH_RCV_BODY_ERROR | MACH_MSG_VM_SPACE;
        for d in &descs {
            match u32::from(d.kind) {
                MACH_MSG_PORT_DESCRIPTOR => {
                    if !matches!(d.disp, 16..=18) {
                        note(format!("delivered port descriptor disposition {}", d.disp));
                    }
                    let name = d.addr as u32;
                    if self.got.len() < GOT_CAP {
                        self.got.push((name, u32::from(d.disp)));
                    }
                }
                MACH_MSG_OOL_DESCRIPTOR | MACH_MSG_OOL_VOLATILE_DESCRIPTOR => {
                    if (d.dealloc, u32::from(d.copy)) != (1, MACH_MSG_VIRTUAL_COPY) {
                        note(format!(
                            "delivered out-of-line descriptor deallocate {} copy {}",
                            d.dealloc, d.copy
                        ));
                    }
                    if let Err(e) = self.unmap_received(d.addr, u64::from(d.n), vm_error) {
                        note(e);
                    }
                }
                MACH_MSG_OOL_PORTS_DESCRIPTOR => {
                    if !matches!(d.disp, 16..=18)
                        || (d.dealloc, u32::from(d.copy)) != (1, MACH_MSG_VIRTUAL_COPY)
                    {
                        note(format!(
                            "delivered port array disposition {} deallocate {} copy {}",
                            d.disp, d.dealloc, d.copy
                        ));
                    }
                    let len = u64::from(d.n) * 4;
                    if d.addr != 0 && len > 0 && self.sh.self_mem >= 0 {
                        let k = (d.n as usize).min(16);
                        let mut b = [0u8; 64];
                        // SAFETY: pread into our own buffer; reading
                        // through /proc/self/mem never faults.
                        let got = unsafe {
                            libc::pread(
                                self.sh.self_mem,
                                b.as_mut_ptr().cast(),
                                4 * k,
                                d.addr as libc::off_t,
                            )
                        };
                        for i in 0..(got.max(0) as usize / 4) {
                            let name = u32::from_ne_bytes([
                                b[4 * i],
                                b[4 * i + 1],
                                b[4 * i + 2],
                                b[4 * i + 3],
                            ]);
                            if self.got.len() < GOT_CAP {
                                self.got.push((name, u32::from(d.disp)));
                            }
                        }
                    }
                    if let Err(e) = self.unmap_received(d.addr, len, vm_error) {
                        note(e);
                    }
                }
                k => note(format!("delivered descriptor type {k}")),
            }
        }
        self.descs = descs;
        self.keep_or_drop_rights(me);
        problem
    }

    /// Whether `name` in `me` is a port set now, or no longer names
    /// anything (it may have been a set): a receive through it reports the
    /// member's name.
    fn set_or_gone(&self, me: &Sp, name: u32) -> bool {
        let mut a = sys::PortTypeArgs {
            task: me.self_name.load(Relaxed),
            name,
            ..Default::default()
        };
        raw_ioctl(me.space.as_raw_fd(), sys::MACH_IOC_PORT_TYPE, &mut a) != 0
            || a.kr != 0
            || a.ptype & sys::MACH_PORT_TYPE_PORT_SET != 0
    }

    /// Unmaps an out-of-line region the kernel mapped for us, after
    /// checking it is one.
    fn unmap_received(&self, addr: u64, len: u64, vm_error: bool) -> Result<(), String> {
        if len == 0 {
            return if addr == 0 {
                Ok(())
            } else {
                Err(format!("empty out-of-line region at {addr:#x}"))
            };
        }
        if addr == 0 {
            return if vm_error {
                Ok(())
            } else {
                Err(format!("out-of-line region of {len} bytes at address 0"))
            };
        }
        let page = self.mem().page as u64;
        let end = addr.checked_add(len.div_ceil(page) * page);
        if !addr.is_multiple_of(page) || end.is_none_or(|e| e > USER_END) {
            return Err(format!("out-of-line region at {addr:#x}, {len} bytes"));
        }
        if addr < LOW_END as u64 && end.unwrap() > LOW_BASE as u64 {
            // Over the fuzzer's own memory: not a region made for us.
            return Err(format!(
                "out-of-line region at {addr:#x}, {len} bytes, over our own memory"
            ));
        }
        // SAFETY: A fresh mapping the kernel made for this receive (checked
        // above not to be memory of ours); nothing else uses it.
        unsafe { libc::munmap(addr as *mut _, (len.div_ceil(page) * page) as usize) };
        let c = &self.sh.counters;
        c.ool_unmapped.fetch_add(1, Relaxed);
        c.ool_bytes.fetch_add(len, Relaxed);
        Ok(())
    }

    /// Remembers the names a message brought, and now and then gives the
    /// rights up again so the name tables do not only grow.
    fn keep_or_drop_rights(&mut self, me: &Sp) {
        let task = me.self_name.load(Relaxed);
        let drop_some = self.rng.pct(50);
        let got = std::mem::take(&mut self.got);
        for &(name, t) in &got {
            let kind = match (name, t) {
                (sys::MACH_PORT_DEAD, _) => Some(3),
                (sys::MACH_PORT_NULL, _) => None,
                (_, sys::MACH_MSG_TYPE_PORT_RECEIVE) => Some(0),
                (_, sys::MACH_MSG_TYPE_PORT_SEND) => Some(1),
                (_, sys::MACH_MSG_TYPE_PORT_SEND_ONCE) => Some(2),
                _ => None,
            };
            if let Some(k) = kind {
                self.sh.counters.got_rights[k].fetch_add(1, Relaxed);
            }
            if !sys::mach_port_valid(name) {
                continue;
            }
            if t == sys::MACH_MSG_TYPE_PORT_RECEIVE {
                me.record_rcv(name);
            } else {
                me.record(name);
            }
            if !drop_some {
                continue;
            }
            let fd = me.space.as_raw_fd();
            let kr = if t == sys::MACH_MSG_TYPE_PORT_RECEIVE {
                if !self.rng.pct(25) {
                    continue;
                }
                let mut a = sys::PortModRefsArgs {
                    task,
                    name,
                    right: sys::MACH_PORT_RIGHT_RECEIVE,
                    delta: -1,
                    ..Default::default()
                };
                (raw_ioctl(fd, sys::MACH_IOC_PORT_MOD_REFS, &mut a) == 0).then_some(a.kr)
            } else {
                if !self.rng.pct(70) {
                    continue;
                }
                let mut a = sys::PortNameArgs {
                    task,
                    name,
                    ..Default::default()
                };
                (raw_ioctl(fd, sys::MACH_IOC_PORT_DEALLOCATE, &mut a) == 0).then_some(a.kr)
            };
            if kr == Some(0) {
                self.sh.counters.rights_dropped.fetch_add(1, Relaxed);
            }
        }
        self.got = got;
        self.got.clear();
    }
}

fn errno_name(err: i32) -> String {
    match err {
        0 => "0".to_string(),
        -2 => "a positive return value".to_string(),
        e => ERRNOS
            .iter()
            .find(|&&(n, _)| n == e)
            .map_or_else(|| format!("errno {e}"), |&(_, name)| name.to_string()),
    }
}

// ---------------------------------------------------------------------------
// The thread that changes the scratch region under the calls.

fn mapper(sh: &Shared, barrier: &Barrier) {
    let mut rng = Rng::new(sh.cfg.seed, 0x6d61_7070);
    let sc = &sh.scratch;
    // What we did to each page: 0 unmapped, else its protection + 1.
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let mut state = [rw + 1; SCRATCH_PAGES];
    barrier.wait();
    while !sh.stop.load(Relaxed) {
        let first = rng.below(SCRATCH_PAGES as u64) as usize;
        let n = (rng.range(1, 3) as usize).min(SCRATCH_PAGES - first);
        let addr = sc.base + first * sc.page;
        let len = n * sc.page;
        let pages = first..first + n;
        if pages.clone().any(|i| sc.foreign[i].load(Relaxed)) {
            continue;
        }
        match rng.below(6) {
            0 => {
                if pages.clone().all(|i| state[i] != 0) {
                    // SAFETY: Pages of our scratch region.
                    if unsafe { libc::munmap(addr as *mut _, len) } == 0 {
                        pages.clone().for_each(|i| state[i] = 0);
                    }
                }
            }
            1 => {
                let unmapped: Vec<usize> = pages.clone().filter(|&i| state[i] == 0).collect();
                for i in unmapped {
                    let a = sc.base + i * sc.page;
                    // SAFETY: A page of our scratch region that we unmapped;
                    // NOREPLACE leaves alone whatever else may be there now.
                    let p = unsafe {
                        libc::mmap(
                            a as *mut _,
                            sc.page,
                            rw,
                            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                            -1,
                            0,
                        )
                    };
                    if p as usize == a {
                        state[i] = rw + 1;
                    } else if p == libc::MAP_FAILED
                        && io::Error::last_os_error().raw_os_error() == Some(libc::EEXIST)
                    {
                        sc.foreign[i].store(true, Relaxed);
                        println!(
                            "# scratch page {i} was taken by another mapping; leaving it alone"
                        );
                    } else if p != libc::MAP_FAILED {
                        // An old kernel ignored NOREPLACE: give it back.
                        // SAFETY: The mapping just made.
                        unsafe { libc::munmap(p, sc.page) };
                    }
                }
            }
            2 | 3 => {
                let prot = rng.pick(&[libc::PROT_READ, libc::PROT_NONE, rw, rw]);
                if pages.clone().all(|i| state[i] != 0) {
                    // SAFETY: Mapped pages of our scratch region.
                    if unsafe { libc::mprotect(addr as *mut _, len, prot) } == 0 {
                        pages.clone().for_each(|i| state[i] = prot + 1);
                    }
                }
            }
            4 => {
                // Fill writable pages with junk: small values, names,
                // dispositions, and the odd random word.
                let writable: Vec<usize> = pages.clone().filter(|&i| state[i] == rw + 1).collect();
                for i in writable {
                    let p = (sc.base + i * sc.page) as *mut u32;
                    for w in 0..sc.page / 4 {
                        let v = match rng.below(8) {
                            0 => 0x103,
                            1 => rng.range(16, 21) as u32,
                            2 => ((rng.below(64) as u32) << 8) | rng.below(256) as u32,
                            3 => rng.u32(),
                            _ => 0,
                        };
                        // SAFETY: A page of ours that only this thread
                        // unmaps or protects, mapped writable now.
                        unsafe { ptr::write_volatile(p.add(w), v) };
                    }
                }
            }
            _ => {
                if pages.clone().all(|i| state[i] != 0) {
                    // SAFETY: Mapped pages of ours; they read as zeros after.
                    unsafe { libc::madvise(addr as *mut _, len, libc::MADV_DONTNEED) };
                }
            }
        }
        sh.mapper_ops.fetch_add(1, Relaxed);
        // A few hundred changes a second at most: each costs TLB flushes on
        // every CPU, which is dear under emulation.
        if rng.pct(20) {
            thread::yield_now();
        } else {
            thread::sleep(Duration::from_micros(rng.range(500, 4000)));
        }
    }
}

// ---------------------------------------------------------------------------
// The run (in the child process).

fn worker_main(sh: &Shared, id: usize, calls: u64, barrier: &Barrier) {
    let mut w = Worker::new(sh, id);
    // Touch the big arrays now: no large allocation after the barrier.
    w.big_names.iter_mut().for_each(|x| *x = 0);
    w.big_types.iter_mut().for_each(|x| *x = 0);
    w.mem = Some(Mem::new(id));
    // SAFETY: pthread_self has no preconditions.
    sh.watch[id]
        .thread
        .store(unsafe { libc::pthread_self() } as u64, Relaxed);
    barrier.wait();
    for _ in 0..calls {
        w.step();
        sh.done.fetch_add(1, Relaxed);
    }
    drop(w.mem.take());
}

/// Interrupts (SIGUSR1) every worker whose ioctl has been running for more
/// than 2 s; for a message call with private arguments (which has timeouts
/// of at most 10 ms), a minute and 10 s per MiB it carries: that one is
/// also a failure; for one that waits on purpose, some 150 ms.
fn watchdog(sh: &Shared) {
    const SEC: u64 = 1_000_000_000;
    let now = sh.now_ns();
    for (id, w) in sh.watch.iter().enumerate() {
        let since = w.since.load(Relaxed);
        let bounded = w.bounded.load(Relaxed);
        let limit = if w.waits.load(Relaxed) {
            SEC / 7
        } else if bounded {
            w.limit.load(Relaxed)
        } else {
            2 * SEC
        };
        if since == 0 || now < since + limit {
            continue;
        }
        let age = now - since;
        if bounded && w.flagged.swap(since, Relaxed) != since {
            let (call, op) = (w.call_no.load(Relaxed), w.op.load(Relaxed));
            sh.violations.add(CHECK_BLOCK, || {
                format!(
                    "seed {} thread {id} call {call}: {:?} still in the kernel after {:.1} s",
                    sh.cfg.seed,
                    OPS[op].op,
                    age as f64 / 1e9
                )
            });
        }
        if now >= w.last_kick.load(Relaxed) + limit.min(SEC) {
            w.last_kick.store(now, Relaxed);
            w.kicks.fetch_add(1, Relaxed);
            sh.counters.kicks.fetch_add(1, Relaxed);
            // SAFETY: A thread of ours, alive until the scope ends.
            unsafe { libc::pthread_kill(w.thread.load(Relaxed) as libc::pthread_t, libc::SIGUSR1) };
        }
    }
}

/// Prints what one plain ioctl costs here (the default number of calls is
/// chosen so that a run takes some minutes on the debug kernel under
/// emulation).
fn calibrate() {
    let Ok(space) = Space::open() else {
        return;
    };
    let n = 300;
    let t = Instant::now();
    for _ in 0..n {
        let _ = space.api_version();
    }
    let plain = t.elapsed().as_secs_f64() / f64::from(n);
    let t = Instant::now();
    for _ in 0..n {
        let _ = space.port_type(space.task_self(), space.task_self());
    }
    let locked = t.elapsed().as_secs_f64() / f64::from(n);
    println!(
        "# one ioctl costs {:.1} us (MACH_IOC_API_VERSION), {:.1} us (MACH_IOC_PORT_TYPE, under the space lock)",
        plain * 1e6,
        locked * 1e6
    );
}

/// Runs the fuzzing; gives each check's result (`None` for passed).
fn run(cfg: Config) -> Vec<(usize, Option<String>)> {
    let mut pipe = [-1; 2];
    // SAFETY: pipe2 writes two descriptors into `pipe`.
    unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) };
    // SAFETY: Plain opens of NUL-terminated paths.
    let devnull = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    // SAFETY: As above.
    let self_mem =
        unsafe { libc::open(c"/proc/self/mem".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    let sh = Shared {
        cfg,
        slots: (0..cfg.spaces).map(|_| Mutex::new(None)).collect(),
        done: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        opened: AtomicU64::new(0),
        closed: AtomicU64::new(0),
        mapper_ops: AtomicU64::new(0),
        open_failed: AtomicBool::new(false),
        scratch: Scratch::new(),
        self_mem,
        pipe,
        devnull,
        violations: Violations::new(),
        counters: Counters::new(),
        print: Mutex::new(()),
        watch: (0..cfg.threads).map(|_| Watch::new()).collect(),
        epoch: Instant::now(),
        // SAFETY: These have no preconditions.
        pid: unsafe { libc::getpid() } as u32,
        // SAFETY: As above.
        euid: unsafe { libc::geteuid() },
        // SAFETY: As above.
        egid: unsafe { libc::getegid() },
    };
    // The watchdog's signal interrupts a wait in the kernel (no SA_RESTART).
    // SAFETY: Installs a handler that does nothing, for SIGUSR1, which
    // nothing else here uses.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_kick as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = 0;
        libc::sigaction(libc::SIGUSR1, &sa, ptr::null_mut());
    }
    calibrate();
    for slot in 0..cfg.spaces {
        sh.space(slot);
    }
    let start = Instant::now();
    let parties = cfg.threads + usize::from(cfg.mapper);
    let barrier = Barrier::new(parties);
    let mut timing = String::new();
    thread::scope(|s| {
        let mut workers = Vec::new();
        for id in 0..cfg.threads {
            let calls = cfg.calls / cfg.threads as u64
                + u64::from((id as u64) < cfg.calls % cfg.threads as u64);
            let (sh, barrier) = (&sh, &barrier);
            workers.push(
                thread::Builder::new()
                    .name(format!("fuzz-{id}"))
                    .spawn_scoped(s, move || worker_main(sh, id, calls, barrier))
                    .expect("spawning a worker"),
            );
        }
        let mapper_thread = cfg.mapper.then(|| {
            let (sh, barrier) = (&sh, &barrier);
            thread::Builder::new()
                .name("fuzz-mapper".into())
                .spawn_scoped(s, move || mapper(sh, barrier))
                .expect("spawning the mapping thread")
        });
        // Progress, every tenth of the calls.
        let mut next_tenth = 1;
        loop {
            let done = sh.done.load(Relaxed);
            while cfg.calls > 0 && next_tenth <= 10 && done * 10 >= cfg.calls * next_tenth {
                let t = start.elapsed().as_secs_f64();
                let _g = sh.print.lock().unwrap();
                println!(
                    "# progress: {done}/{} calls ({}%) in {t:.1} s, {:.0} calls/s; spaces opened {}, closed {}",
                    cfg.calls,
                    next_tenth * 10,
                    done as f64 / t.max(1e-6),
                    sh.opened.load(Relaxed),
                    sh.closed.load(Relaxed)
                );
                next_tenth += 1;
            }
            if workers.iter().all(|w| w.is_finished()) {
                break;
            }
            watchdog(&sh);
            thread::sleep(Duration::from_millis(50));
        }
        for w in workers {
            let _ = w.join();
        }
        let t = start.elapsed().as_secs_f64();
        timing = format!(
            "# {} calls in {t:.1} s: {:.0} calls/s over {} threads",
            sh.done.load(Relaxed),
            sh.done.load(Relaxed) as f64 / t.max(1e-6),
            cfg.threads
        );
        sh.stop.store(true, Relaxed);
        if let Some(m) = mapper_thread {
            let _ = m.join();
        }
    });
    println!("{timing}");
    calibrate();
    println!(
        "# spaces opened {}, closed during the run {}; scratch changes {}",
        sh.opened.load(Relaxed),
        sh.closed.load(Relaxed),
        sh.mapper_ops.load(Relaxed)
    );
    let c = &sh.counters;
    let mut errnos = vec![format!("0: {}", c.errno[0].load(Relaxed))];
    for (i, (_, name)) in ERRNOS.iter().enumerate() {
        errnos.push(format!("{name}: {}", c.errno[i + 1].load(Relaxed)));
    }
    errnos.push(format!("other: {}", c.errno[ERRNO_OTHER].load(Relaxed)));
    println!("# ioctl results: {}", errnos.join(", "));
    let krs: Vec<String> = (0..58)
        .filter_map(|i| {
            let n = c.kr[i].load(Relaxed);
            (n > 0).then(|| {
                let name = if i == 57 {
                    "invalid".to_string()
                } else {
                    KernReturn(i as i32).name().map_or_else(
                        || format!("kr {i}"),
                        |s| s.trim_start_matches("KERN_").to_string(),
                    )
                };
                format!("{name}: {n}")
            })
        })
        .collect();
    println!("# kern_return_t: {}", krs.join(", "));
    let by_op: Vec<String> = OPS
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let n = c.op_calls[i].load(Relaxed).max(1);
            format!(
                "{:?} {} x {:.0}/{:.0} us",
                o.op,
                c.op_calls[i].load(Relaxed),
                c.op_ioctl_ns[i].load(Relaxed) as f64 / n as f64 / 1e3,
                c.op_step_ns[i].load(Relaxed) as f64 / n as f64 / 1e3
            )
        })
        .collect();
    println!(
        "# calls, mean time in the ioctl / in the whole step: {}",
        by_op.join(", ")
    );
    let mrs: Vec<String> =
        c.mr.lock()
            .unwrap()
            .iter()
            .map(|(&mr, n)| format!("{}: {n}", mr_name(mr)))
            .collect();
    println!("# mach_msg results: {}", mrs.join(", "));
    println!(
        "# messages received into our buffers and checked {}; out-of-line regions received and unmapped {} ({} bytes); \
         receives we could not follow {}; sends whose deallocate flag was checked {}; received rights given up {}; \
         signals sent by the watchdog {}; message calls of ours that ended in EINTR {}; \
         rights received: receive {}, send {}, send-once {}, dead {}; chains of queued receive rights closed {} (sent {}); \
         notifications received and checked {}",
        c.received.load(Relaxed),
        c.ool_unmapped.load(Relaxed),
        c.ool_bytes.load(Relaxed),
        c.blind_receives.load(Relaxed),
        c.deallocated.load(Relaxed),
        c.rights_dropped.load(Relaxed),
        c.kicks.load(Relaxed),
        c.interrupted.load(Relaxed),
        c.got_rights[0].load(Relaxed),
        c.got_rights[1].load(Relaxed),
        c.got_rights[2].load(Relaxed),
        c.got_rights[3].load(Relaxed),
        c.chains.load(Relaxed),
        c.chains_sent.load(Relaxed),
        c.notifications.load(Relaxed)
    );
    if let Some(sp) = sh.space(0) {
        if let Ok(st) = sp.space.stats() {
            println!("# before closing the spaces: {st:?}");
        }
    }

    // Close every space, then look from a fresh one.
    for slot in 0..sh.slots.len() {
        sh.close(slot);
    }
    let want = mach::Stats {
        spaces: 1,
        ports: 1,
        port_sets: 0,
        names: 1,
        messages: 0,
        message_bytes: 0,
    };
    let leak = match Space::open() {
        Err(e) => Some(format!("cannot open /dev/mach: {e}")),
        Ok(fresh) => {
            // Freeing may lag a moment behind the last close; give it time.
            let mut last = None;
            for _ in 0..50 {
                match fresh.stats() {
                    Ok(s) if s == want => {
                        last = None;
                        break;
                    }
                    Ok(s) => last = Some(format!("expected {want:?}, got {s:?}")),
                    Err(e) => last = Some(format!("cannot read the module's counts: {e}")),
                }
                thread::sleep(Duration::from_millis(100));
            }
            last
        }
    };
    let v = &sh.violations;
    let first = v.first.lock().unwrap();
    let mut results: Vec<(usize, Option<String>)> = (0..N_VIOLATIONS)
        .map(|i| {
            let n = v.count[i].load(Relaxed);
            (
                i,
                (n > 0).then(|| format!("{n} violation(s); first: {}", first[i].join(" | "))),
            )
        })
        .collect();
    results.push((CHECK_LEAK, leak));
    results
}

// ---------------------------------------------------------------------------
// The parent: runs the fuzzing in a child and reports.

fn main() -> ExitCode {
    let cfg = Config::from_env();
    println!("TAP version 13");
    println!("1..{}", CHECK_NAMES.len());
    println!("# seed {}", cfg.seed);
    println!(
        "# {} calls, {} threads, {} spaces, mapping thread {}; reproduce with MACH_FUZZ_SEED={} MACH_FUZZ_CALLS={}",
        cfg.calls,
        cfg.threads,
        cfg.spaces,
        if cfg.mapper { "on" } else { "off" },
        cfg.seed,
        cfg.calls
    );
    // Without the device there is nothing to fuzz. (This space is closed
    // again before the run.)
    if let Err(e) = Space::open() {
        println!("Bail out! cannot open {}: {e}", mach::DEVICE_PATH);
        return ExitCode::FAILURE;
    }
    let _ = io::stdout().flush();

    let mut fds = [-1; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        println!("Bail out! pipe: {}", io::Error::last_os_error());
        return ExitCode::FAILURE;
    }
    // SAFETY: The process has one thread here, so the child may go on
    // running Rust code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        println!("Bail out! fork: {}", io::Error::last_os_error());
        return ExitCode::FAILURE;
    }
    if pid == 0 {
        // SAFETY: The read end belongs to the parent.
        unsafe { libc::close(fds[0]) };
        let results = run(cfg);
        let mut report = String::new();
        for (i, r) in results {
            let detail = r.map(|d| d.replace(['\n', '\t'], " "));
            report.push_str(&format!("{i}\t{}\n", detail.as_deref().unwrap_or("")));
        }
        let _ = io::stdout().flush();
        let mut off = 0;
        while off < report.len() {
            // SAFETY: Writes from our own buffer.
            let n =
                unsafe { libc::write(fds[1], report[off..].as_ptr().cast(), report.len() - off) };
            if n <= 0 {
                break;
            }
            off += n as usize;
        }
        // SAFETY: Ends the child without running the parent's exit code twice.
        unsafe { libc::_exit(0) };
    }
    // SAFETY: The write end belongs to the child.
    unsafe { libc::close(fds[1]) };

    // Read the child's report until it closes the pipe, within the timeout.
    let deadline = Instant::now() + Duration::from_secs(cfg.timeout);
    let mut report = Vec::new();
    let mut hung = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            hung = true;
            break;
        }
        let mut pfd = libc::pollfd {
            fd: fds[0],
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: One pollfd of ours.
        let rc = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(1000) as i32) };
        if rc <= 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        // SAFETY: Reads into our own buffer.
        let n = unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        report.extend_from_slice(&buf[..n as usize]);
    }
    let mut status = 0;
    let crash = if hung {
        // SAFETY: Our own child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        // Give its exit (which closes its spaces) a moment, unless it is
        // stuck in the kernel.
        for _ in 0..50 {
            // SAFETY: Waits for our own child.
            if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } != 0 {
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
        Some(format!(
            "no result within {} s (MACH_FUZZ_TIMEOUT); killed it",
            cfg.timeout
        ))
    } else {
        // SAFETY: Waits for our own child.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc != pid {
            Some(format!("waitpid: {}", io::Error::last_os_error()))
        } else if libc::WIFSIGNALED(status) {
            Some(format!("killed by signal {}", libc::WTERMSIG(status)))
        } else if libc::WEXITSTATUS(status) != 0 {
            Some(format!("exited with status {}", libc::WEXITSTATUS(status)))
        } else {
            None
        }
    };

    let mut results: Vec<Option<Option<String>>> = vec![None; CHECK_NAMES.len()];
    for line in String::from_utf8_lossy(&report).lines() {
        if let Some((i, detail)) = line.split_once('\t') {
            if let Ok(i) = i.parse::<usize>() {
                if i < results.len() {
                    results[i] = Some((!detail.is_empty()).then(|| detail.to_string()));
                }
            }
        }
    }
    results[CHECK_CRASH] = Some(crash);
    let mut passed = 0;
    let mut failed = 0;
    for (i, r) in results.iter().enumerate() {
        let n = i + 1;
        match r {
            Some(None) => {
                passed += 1;
                println!("ok {n} - {}", CHECK_NAMES[i]);
            }
            Some(Some(detail)) => {
                failed += 1;
                println!(
                    "not ok {n} - {} # seed {}: {detail}",
                    CHECK_NAMES[i], cfg.seed
                );
            }
            None => {
                failed += 1;
                println!(
                    "not ok {n} - {} # seed {}: the fuzzing process did not report (see test {})",
                    CHECK_NAMES[i],
                    cfg.seed,
                    CHECK_CRASH + 1
                );
            }
        }
    }
    println!("# {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
