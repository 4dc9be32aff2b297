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
//! The fuzzing runs in a child process; the parent reports whether it
//! crashed or hung. Environment:
//!
//! - `MACH_FUZZ_SEED`: the seed (default: from the clock). Every thread
//!   draws from its own generator derived from it; the names it uses come
//!   partly from earlier results, so with several threads a run also
//!   depends on their interleaving (`MACH_FUZZ_THREADS=1 MACH_FUZZ_MAPPER=0`
//!   makes a run repeatable call for call).
//! - `MACH_FUZZ_CALLS`: ioctls in all (default 40000: about a minute on the
//!   debug kernel under emulation).
//! - `MACH_FUZZ_THREADS` (default 3), `MACH_FUZZ_SPACES` (default 4),
//!   `MACH_FUZZ_MAPPER` (0 turns the mapping thread off, default 1),
//!   `MACH_FUZZ_TIMEOUT` (seconds before the run counts as hung, default 900),
//!   `MACH_FUZZ_TRACE` (1 prints every call as a TAP diagnostic; slow).

use std::io::{self, Write};
use std::mem::{offset_of, size_of};
use std::os::fd::{AsRawFd, RawFd};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};
use std::{env, ptr, thread};

use mach::{sys, KernReturn, Space};

// ---------------------------------------------------------------------------
// Configuration.

/// About a minute on the debug kernel (KASAN, lockdep, kmemleak) under QEMU
/// TCG, which runs some 700 of these calls a second (each allocation is
/// dear there); the plain kernel runs some 20000 a second.
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
            timeout: env_u64("MACH_FUZZ_TIMEOUT").unwrap_or(900).max(1),
            trace: env_u64("MACH_FUZZ_TRACE").unwrap_or(0) != 0,
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
    /// A command number the module does not know.
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

const OPS: [OpInfo; 15] = [
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
    info(Op::Unknown, 0, 64, None, 5),
];

fn is_real_cmd(cmd: u32) -> bool {
    OPS.iter().any(|o| o.op != Op::Unknown && o.cmd == cmd)
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

fn mmap_anon(len: usize, prot: i32) -> usize {
    // SAFETY: A fresh anonymous mapping at an address the kernel chooses.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert!(
        p != libc::MAP_FAILED,
        "mmap: {}",
        io::Error::last_os_error()
    );
    p as usize
}

/// Five pages of one worker: `[RW][RO][hole][RW][hole]`. Only that worker
/// uses them, so what it writes there is what the kernel reads.
struct Layout {
    page: usize,
    base: usize,
}

impl Layout {
    /// Made only after every thread has started, so that no later small
    /// mapping of ours (a thread's stack or signal stack) can land in a hole.
    fn new() -> Layout {
        let page = page_size();
        let base = mmap_anon(5 * page, libc::PROT_READ | libc::PROT_WRITE);
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
        let base = mmap_anon(SCRATCH_PAGES * page + SCRATCH_GUARD, libc::PROT_NONE);
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

// ---------------------------------------------------------------------------
// Spaces and the names seen in them.

const RING: usize = 64;
const TASK_RING: usize = 16;

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
const CHECK_LEAK: usize = 4;
const CHECK_CRASH: usize = 5;

const CHECK_NAMES: [&str; 6] = [
    "every ioctl returned 0 or an errno the ABI allows (EFAULT, EINVAL, ENOTTY, EBADF, ENOMEM)",
    "every kern_return_t is a valid one (0..=56)",
    "unknown commands give ENOTTY and unusable argument addresses EFAULT (EINVAL for a readable one), never success",
    "successful results are well-formed (versions, names, types, refs, dispositions)",
    "after closing every space a fresh space sees only its own objects (spaces 1, ports 1, port_sets 0, names 1)",
    "the fuzzing process did not crash or hang",
];

const ERRNOS: [(i32, &str); 5] = [
    (libc::EFAULT, "EFAULT"),
    (libc::EINVAL, "EINVAL"),
    (libc::ENOTTY, "ENOTTY"),
    (libc::EBADF, "EBADF"),
    (libc::ENOMEM, "ENOMEM"),
];

struct Violations {
    count: [AtomicU64; 4],
    first: Mutex<Vec<Vec<String>>>,
}

impl Violations {
    fn new() -> Violations {
        Violations {
            count: std::array::from_fn(|_| AtomicU64::new(0)),
            first: Mutex::new(vec![Vec::new(); 4]),
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
    errno: [AtomicU64; 7],
    /// 0..=56, then anything else.
    kr: [AtomicU64; 58],
    /// By command (index into OPS): calls, nanoseconds in the ioctl,
    /// nanoseconds in the whole step.
    op_calls: [AtomicU64; 15],
    op_ioctl_ns: [AtomicU64; 15],
    op_step_ns: [AtomicU64; 15],
}

impl Counters {
    fn new() -> Counters {
        Counters {
            errno: std::array::from_fn(|_| AtomicU64::new(0)),
            kr: std::array::from_fn(|_| AtomicU64::new(0)),
            op_calls: std::array::from_fn(|_| AtomicU64::new(0)),
            op_ioctl_ns: std::array::from_fn(|_| AtomicU64::new(0)),
            op_step_ns: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

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
}

impl Shared {
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
    layout: Option<Layout>,
    call_no: u64,
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
            layout: None,
            call_no: 0,
        }
    }

    fn layout(&self) -> &Layout {
        self.layout.as_ref().unwrap()
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
                if op == Op::Names {
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
        let weights: [u32; OPS.len()] = std::array::from_fn(|i| OPS[i].weight);
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
        let args: [u8; 64] = match op {
            Op::ApiVersion => to_bytes(&sys::ApiVersionArgs {
                version: if self.rng.pct(90) { 0 } else { self.rng.u32() },
                reserved: self.reserved(),
            }),
            Op::Stats => {
                let mut a = sys::StatsArgs::default();
                if self.rng.pct(5) {
                    a.reserved[self.rng.below(4) as usize] = self.rng.next() | 1;
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
        // SAFETY: `addr` is either memory of ours that only this thread
        // uses (the own buffer, the layout pages), the scratch region, or an
        // address that faults; the kernel checks every address it is given.
        // Any array address inside the struct is one of the same kinds, and
        // the big arrays hold a full space's names.
        let rc = unsafe {
            libc::ioctl(
                me.space.as_raw_fd(),
                c.cmd as libc::c_ulong,
                addr as usize as *mut libc::c_void,
            )
        };
        let err = if rc < 0 {
            io::Error::last_os_error().raw_os_error().unwrap_or(-1)
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
                .map_or(6, |i| i + 1),
        };
        sh.counters.errno[slot].fetch_add(1, Relaxed);
        let what = |c: &Call| {
            format!(
                "seed {} thread {} call {}: {:?} cmd {:#x} at {:?}",
                sh.cfg.seed, self.id, self.call_no, c.op, c.cmd, c.place
            )
        };
        if slot == 6 {
            v.add(CHECK_ERRNO, || {
                format!("{} gave {}", what(c), errno_name(err))
            });
        }
        // What each kind of call and address may give.
        let strict_ok = match (c.op, c.place) {
            (Op::Unknown, _) => err == libc::ENOTTY,
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
        let Some(out) = out else {
            return;
        };
        if err != 0 {
            return;
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
            Op::ApiVersion | Op::Stats | Op::ReplyPort | Op::TaskForFd | Op::Unknown
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
            Op::ReplyPort => me.record(from_bytes::<sys::ReplyPortArgs>(out).name),
            Op::Allocate | Op::AllocateName => {
                let a: sys::PortAllocateArgs = from_bytes(out);
                if a.kr == 0 {
                    target.unwrap_or(me).record(a.name);
                }
            }
            Op::Insert => {
                let a: sys::PortInsertRightArgs = from_bytes(out);
                if a.kr == 0 {
                    target.unwrap_or(me).record(a.name);
                }
            }
            Op::Extract => {
                let a: sys::PortExtractRightArgs = from_bytes(out);
                if a.kr == 0 {
                    me.record(a.poly);
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
    barrier.wait();
    w.layout = Some(Layout::new());
    for _ in 0..calls {
        w.step();
        sh.done.fetch_add(1, Relaxed);
    }
    let l = w.layout.take().unwrap();
    // SAFETY: The worker's own pages (the holes are unmapped already).
    unsafe {
        libc::munmap(l.p(0) as *mut _, 2 * l.page);
        libc::munmap(l.p(3) as *mut _, l.page);
    }
}

/// Prints what one plain ioctl costs here (the default number of calls is
/// chosen so that a run takes about a minute on the debug kernel under
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
    };
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
    errnos.push(format!("other: {}", c.errno[6].load(Relaxed)));
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
    let mut results: Vec<(usize, Option<String>)> = (0..4)
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
