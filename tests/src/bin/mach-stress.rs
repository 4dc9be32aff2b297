//! mach-stress: many threads in several processes use Mach IPC at once
//! while a supervisor kills processes with SIGKILL at random moments (and
//! starts new ones in their place); afterwards it checks that nothing was
//! lost, duplicated or made up, that every port death was notified, and
//! that the module's counts are back where they started. Runs in the test
//! VM and prints TAP; the VM runner separately fails the run on any kernel
//! report (KASAN, lockdep, WARNING, ...).
//!
//! # The run
//!
//! The supervisor (this process) keeps one IPC space with a *registry*
//! thread serving four ports: R (requests: register a port, look one up),
//! D (dead-name notifications), K (port-destroyed notifications) and KB (a
//! backup port). It starts `MACH_STRESS_PROCS` worker processes (this
//! program re-executed with `--worker`), each with `MACH_STRESS_THREADS`
//! threads in one space. A worker reaches the supervisor's space with
//! `task_for_fd` on a descriptor it inherits, and takes send rights to R
//! and KB (and, later, send-once rights to K) with `extract_right`.
//!
//! Every port a worker creates for traffic gets a *logical id* (creator,
//! class, counter) and is registered: a message to R carries a send right
//! to it, and the registry asks for a dead-name notification on it, so
//! every death of such a port is seen. Worker threads then, at random:
//! send data messages (inline data, out-of-line data, send rights in port
//! and out-of-line-ports descriptors, sometimes as requests with a
//! MAKE_SEND_ONCE reply port) to ports they looked up in the registry or
//! received; receive on their port sets, a shared set and single ports;
//! answer requests through the send-once right, keep it for later or
//! destroy it (a send-once notification then); create and destroy ports;
//! move receive rights to other processes (MOVE_RECEIVE to a worker's
//! control port, whoever receives it adopts the port); move ports between
//! sets and check the sets' members; request dead-name, no-senders and
//! port-destroyed notifications (to their own notify port or to the
//! registry's K) and set the registry's KB as backup; create short-lived
//! ports whose no-senders notification ends them; change queue limits;
//! open scratch spaces and close them with messages queued. The registry
//! takes in the receive rights that port-destroyed notifications and backups
//! bring, drains them and moves them on to live workers.
//!
//! Meanwhile the supervisor SIGKILLs a random worker every
//! ~`MACH_STRESS_KILL_MS` ms (mostly one that has been at work for a
//! second, now and then one still setting up) and usually starts a new one
//! in its place, at once or a few seconds later. Every blocking call has a
//! timeout, so a killed peer never hangs a survivor.
//!
//! After `MACH_STRESS_SECONDS` the kills stop and the workers stop sending
//! anything but answers; everybody drains until the module has no message
//! queued anywhere and every thread is idle. Then the workers report what
//! they hold and exit; the registry waits for the death of every port it
//! registered, destroys the ports it holds, and the checks run.
//!
//! # The accounting
//!
//! Every message a thread sends carries (stream = process incarnation and
//! thread, sequence number, destination's logical id) and a checksum. Each
//! worker thread logs into memory it shares with the supervisor (a memfd,
//! which outlives the worker): before a send, an "intent" record for that
//! sequence number; after it, "sent" or "failed" with the result. A SIGKILL
//! between a completed send and the update leaves an intent record: that
//! one message, the last of a killed thread, may or may not have been sent,
//! and is the only ambiguity the checks accept on the sending side. On the
//! receiving side a thread receives straight into a slot of the shared
//! memory and logs (stream, seq) before clearing the slot, so a message the
//! kernel delivered to a thread that died before logging it is still seen
//! (in the slot).
//!
//! The checks:
//! 1. No call returned a result Mach does not allow at that point; set
//!    membership, queue state and rights agree with what the threads know.
//! 2. No message is received twice, none is received that was not sent or
//!    whose send failed, and every received payload is intact and arrived on
//!    a name that denoted its destination port in the receiver's space (a
//!    message taken off a set member that left the space in the same
//!    moment arrives with `MACH_PORT_NULL` as its local port, as on XNU).
//! 3. Every message whose send succeeded was received, unless its
//!    destination port died before the end (seen by the registry as a
//!    dead-name notification; for unregistered reply and short-lived ports,
//!    their process was killed). Per (stream, destination) the received
//!    messages are a prefix of the ones sent: a message after a lost one is
//!    never received.
//! 4. Every send-once reply right a surviving thread made (requests, lookups)
//!    came back exactly once: as an answer or as a send-once notification.
//! 5. Every registered port dies exactly once, and no port a survivor holds
//!    at the end was declared dead.
//! 6. The run quiesces and every worker exits by itself at the end.
//! 7. The module's counts (spaces, ports, port sets, names, messages,
//!    message bytes) return to what they were before the run.
//!
//! # Environment
//!
//! - `MACH_STRESS_SECONDS`: seconds of faults (default 45; the drain, the
//!   end and the checks add 5 to 25 s on the debug kernel under QEMU TCG,
//!   where an allocation in the kernel costs milliseconds: expect a few
//!   hundred to two thousand messages and 5 to 25 kills per run, depending
//!   on the host's load).
//! - `MACH_STRESS_SEED`: the seed (printed; default from the clock). The
//!   random choices follow from it; the interleaving of the processes does
//!   not, so a seed does not repeat a run exactly.
//! - `MACH_STRESS_PROCS` (default 4), `MACH_STRESS_THREADS` (threads per
//!   worker, default 3), `MACH_STRESS_KILL_MS` (mean time between kills,
//!   default 1500; 0 turns the kills off).

use std::cell::{Cell, UnsafeCell};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ffi::CString;
use std::fmt::Write as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::ExitCode;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use std::{env, ptr, thread};

use mach::{
    sys, Error, Message, MsgBuffer, MsgReturn, MsgTypeName, Notification, PortName, PortRight,
    Received, ReceivedDescriptor, RecvOptions, SendOptions, Space, Stats, TrailerElements,
};

// ---------------------------------------------------------------------------
// Configuration.

const DEFAULT_SECONDS: u64 = 45;

#[derive(Clone, Copy, Debug)]
struct Config {
    seed: u64,
    seconds: u64,
    procs: usize,
    threads: usize,
    kill_ms: u64,
}

fn env_u64(name: &str) -> Option<u64> {
    let v = env::var(name).ok()?;
    let v = v.trim();
    let parsed = match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    };
    if parsed.is_none() {
        println!("# {name}={v} is not a number; using the default");
    }
    parsed
}

impl Config {
    fn from_env() -> Config {
        let seed = env_u64("MACH_STRESS_SEED").unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            (t ^ u64::from(std::process::id()).rotate_left(32)) % 1_000_000_000
        });
        Config {
            seed,
            seconds: env_u64("MACH_STRESS_SECONDS").unwrap_or(DEFAULT_SECONDS),
            procs: env_u64("MACH_STRESS_PROCS").unwrap_or(4).clamp(1, 16) as usize,
            threads: env_u64("MACH_STRESS_THREADS").unwrap_or(3).clamp(1, 16) as usize,
            kill_ms: env_u64("MACH_STRESS_KILL_MS").unwrap_or(1500),
        }
    }
}

// ---------------------------------------------------------------------------
// Random numbers.

fn splitmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn mix(a: u64, b: u64) -> u64 {
    splitmix(a ^ splitmix(b.wrapping_add(0x1234_5678_9abc_def1)))
}

#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix(self.0)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn pct(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> Option<T> {
        if v.is_empty() {
            None
        } else {
            Some(v[self.below(v.len() as u64) as usize])
        }
    }
}

fn now_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

fn sleep_ms(ms: u64) {
    thread::sleep(Duration::from_millis(ms));
}

// ---------------------------------------------------------------------------
// Logical port ids and streams.
//
// A logical id names a port for the whole run, whoever holds it and under
// whatever name: (incarnation << 40) | (class << 32) | counter. Incarnation 0
// is the supervisor; workers are 1, 2, ... (a restarted worker is a new
// incarnation).

const CL_SUP: u64 = 1;
const CL_CONTROL: u64 = 2;
const CL_DATA: u64 = 3;
const CL_REPLY: u64 = 4;
const CL_NOTIFY: u64 = 5;
const CL_EPH: u64 = 6;

const fn lid(inc: u32, class: u64, n: u32) -> u64 {
    ((inc as u64) << 40) | (class << 32) | n as u64
}
fn l_inc(l: u64) -> u32 {
    (l >> 40) as u32
}
fn l_class(l: u64) -> u64 {
    (l >> 32) & 0xff
}

const L_R: u64 = lid(0, CL_SUP, 1);
const L_D: u64 = lid(0, CL_SUP, 2);
const L_K: u64 = lid(0, CL_SUP, 3);
const L_KB: u64 = lid(0, CL_SUP, 4);

fn inc_name(inc: u32) -> String {
    if inc == 0 {
        "sup".to_string()
    } else {
        format!("w{inc}")
    }
}

fn class_name(c: u64) -> &'static str {
    match c {
        CL_SUP => "sup",
        CL_CONTROL => "control",
        CL_DATA => "data",
        CL_REPLY => "reply",
        CL_NOTIFY => "notify",
        CL_EPH => "ephemeral",
        _ => "?",
    }
}

fn lname(l: u64) -> String {
    if l == L_R {
        return "sup.R".into();
    }
    if l == L_K {
        return "sup.K".into();
    }
    if l == L_KB {
        return "sup.KB".into();
    }
    if l == L_D {
        return "sup.D".into();
    }
    format!(
        "{}.{}#{}",
        inc_name(l_inc(l)),
        class_name(l_class(l)),
        l as u32
    )
}

fn stream_id(inc: u32, t: usize) -> u64 {
    (u64::from(inc) << 8) | t as u64
}
fn s_inc(s: u64) -> u32 {
    (s >> 8) as u32
}
fn sname(s: u64) -> String {
    format!("{}/t{}", inc_name(s_inc(s)), s & 0xff)
}

// ---------------------------------------------------------------------------
// Message payloads.

const MAGIC: u32 = 0x5354_5253;
const ID_BASE: i32 = 0x0053_0000;
const K_DATA: u32 = 1;
const K_EPH: u32 = 2;
const K_CARRIER: u32 = 3;
const K_REPLY: u32 = 4;
const K_REGISTER: u32 = 5;
const K_LOOKUP: u32 = 6;
const K_LOOKUP_REPLY: u32 = 7;

fn kind_name(k: u32) -> &'static str {
    match k {
        K_DATA => "data",
        K_EPH => "ephemeral-right",
        K_CARRIER => "carrier",
        K_REPLY => "reply",
        K_REGISTER => "register",
        K_LOOKUP => "lookup",
        K_LOOKUP_REPLY => "lookup-reply",
        _ => "?",
    }
}

fn msg_id(kind: u32) -> i32 {
    ID_BASE + kind as i32
}

fn is_ours(id: i32) -> bool {
    (ID_BASE + 1..=ID_BASE + 7).contains(&id)
}

fn fnv(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn pad_byte(base: u64, i: usize) -> u8 {
    (splitmix(base.wrapping_add((i / 8) as u64)) >> ((i % 8) * 8)) as u8
}

/// Out-of-line bytes of message (stream, seq): anybody can check them.
fn ool_pattern(stream: u64, seq: u64, len: usize) -> Vec<u8> {
    let base = mix(stream ^ 0x0011_0000, seq);
    (0..len).map(|i| pad_byte(base, i)).collect()
}

/// What every message of this program carries inline (after its
/// descriptors): who sent it (stream, seq, pid), to which logical port,
/// the logical ids of the rights it carries, padding, and a checksum.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Payload {
    kind: u32,
    pid: u32,
    stream: u64,
    seq: u64,
    dest: u64,
    /// The logical id of the reply port (requests), else 0.
    reply: u64,
    /// Kind-specific: the class wanted (lookup), the request's seq
    /// (lookup reply), the port carried (carrier).
    aux: u64,
    /// The logical ids of the rights carried, in descriptor order.
    list: Vec<u64>,
    pad: u32,
}

const FIXED: usize = 64;

impl Payload {
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(FIXED + 8 + 8 * self.list.len() + self.pad as usize);
        v.extend(MAGIC.to_le_bytes());
        v.extend(self.kind.to_le_bytes());
        v.extend(self.pid.to_le_bytes());
        v.extend((self.list.len() as u32).to_le_bytes());
        for x in [self.stream, self.seq, self.dest, self.reply, self.aux] {
            v.extend(x.to_le_bytes());
        }
        v.extend(self.pad.to_le_bytes());
        v.extend(0u32.to_le_bytes());
        for x in &self.list {
            v.extend(x.to_le_bytes());
        }
        let base = mix(self.stream, self.seq);
        let pad: Vec<u8> = (0..self.pad as usize).map(|i| pad_byte(base, i)).collect();
        let check = fnv(&v) ^ fnv(&pad).rotate_left(1);
        v.extend(check.to_le_bytes());
        v.extend(pad);
        v
    }

    fn decode(b: &[u8]) -> Result<Payload, String> {
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        if b.len() < FIXED + 8 {
            return Err(format!(
                "{} bytes of inline data, too short for a payload",
                b.len()
            ));
        }
        if u32_at(0) != MAGIC {
            return Err(format!("bad magic {:#x}", u32_at(0)));
        }
        let n = u32_at(12) as usize;
        let pad = u32_at(56);
        if n > 64 || pad > 4096 {
            return Err(format!("implausible list length {n} or padding {pad}"));
        }
        let end = FIXED + 8 * n + 8 + pad as usize;
        if b.len() < end || b.len() > end + 3 {
            return Err(format!(
                "{} bytes of inline data, expected {end} (+ up to 3)",
                b.len()
            ));
        }
        let p = Payload {
            kind: u32_at(4),
            pid: u32_at(8),
            stream: u64_at(16),
            seq: u64_at(24),
            dest: u64_at(32),
            reply: u64_at(40),
            aux: u64_at(48),
            list: (0..n).map(|i| u64_at(FIXED + 8 * i)).collect(),
            pad,
        };
        let check = u64_at(FIXED + 8 * n);
        let want = fnv(&b[..FIXED + 8 * n]) ^ fnv(&b[FIXED + 8 * n + 8..end]).rotate_left(1);
        if check != want {
            return Err(format!(
                "checksum mismatch (stream {} seq {})",
                sname(p.stream),
                p.seq
            ));
        }
        Ok(p)
    }
}

/// The payload of a message as the kernel wrote it into a receive slot
/// (without decoding out-of-line parts, whose addresses belong to another
/// process).
fn slot_payload(b: &[u8]) -> Option<Payload> {
    let u32_at = |o: usize| {
        b.get(o..o + 4)
            .map(|x| u32::from_ne_bytes(x.try_into().unwrap()))
    };
    let bits = u32_at(0)?;
    let size = u32_at(4)? as usize;
    let id = u32_at(20)? as i32;
    if size < 24 || size > b.len() || !is_ours(id) {
        return None;
    }
    let mut off = 24;
    if bits & sys::MACH_MSGH_BITS_COMPLEX != 0 {
        let n = u32_at(24)?;
        off = 28;
        for _ in 0..n.min(16) {
            let ty = *b.get(off + 11)?;
            off += if u32::from(ty) == sys::MACH_MSG_PORT_DESCRIPTOR {
                12
            } else {
                16
            };
        }
    }
    Payload::decode(b.get(off..size)?).ok()
}

// ---------------------------------------------------------------------------
// Memory shared between the supervisor and the workers.

const PAGE: usize = 4096;
const SLOT: usize = 1024;
const MAX_FAILS: usize = 12;
const FAIL_LEN: usize = 240;
const NCOUNTERS: usize = 48;
const NOPS: usize = 20;

const PH_CHAOS: u32 = 0;
const PH_STOP: u32 = 1;
const PH_FINISH: u32 = 2;

/// One page every process maps.
#[repr(C)]
struct Global {
    phase: AtomicU32,
}

const ST_INTENT: u64 = 1;
const ST_SENT: u64 = 2;
const ST_FAILED: u64 = 3;

#[repr(C)]
struct SendRec {
    dest: AtomicU64,
    /// kind | state << 8 | mach_msg_return_t << 32.
    info: AtomicU64,
}

#[repr(C)]
struct RecvRec {
    stream: AtomicU64,
    seq: AtomicU64,
    dest: AtomicU64,
    /// receiving name | kind << 32.
    info: AtomicU64,
}

#[repr(C)]
struct HeldRec {
    l: AtomicU64,
    msgcount: AtomicU64,
}

const INC_MAGIC: u32 = 0x494e_4331;
const INC_STARTING: u32 = 0;
const INC_READY: u32 = 1;
const INC_FINISHED: u32 = 2;

#[repr(C)]
struct IncHdr {
    magic: AtomicU32,
    state: AtomicU32,
    pid: AtomicU32,
    nthreads: AtomicU32,
    cap_s: AtomicU64,
    cap_r: AtomicU64,
    cap_h: AtomicU64,
}

#[repr(C)]
struct ThreadHdr {
    send_count: AtomicU64,
    recv_count: AtomicU64,
    held_count: AtomicU64,
    activity: AtomicU64,
    requests: AtomicU64,
    replies: AtomicU64,
    so_notifs: AtomicU64,
    reply_l: AtomicU64,
    op_since: AtomicU64,
    op_arg: AtomicU64,
    idle: AtomicU32,
    done: AtomicU32,
    op: AtomicU32,
    fail_count: AtomicU32,
    started: AtomicU32,
    _pad: AtomicU32,
    counters: [AtomicU64; NCOUNTERS],
    op_n: [AtomicU64; NOPS],
    op_us: [AtomicU64; NOPS],
    fails: UnsafeCell<[[u8; FAIL_LEN]; MAX_FAILS]>,
    slot: UnsafeCell<[u8; SLOT]>,
}

#[derive(Clone, Copy, Debug)]
struct Layout {
    nthreads: usize,
    cap_s: usize,
    cap_r: usize,
    cap_h: usize,
}

fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

const HDR_SIZE: usize = std::mem::size_of::<ThreadHdr>().div_ceil(64) * 64;

impl Layout {
    fn thread_size(&self) -> usize {
        round_up(
            HDR_SIZE + self.cap_s * 16 + self.cap_r * 32 + self.cap_h * 16,
            PAGE,
        )
    }
    fn total(&self) -> usize {
        PAGE + self.nthreads * self.thread_size()
    }
}

/// A mapping of one incarnation's log.
#[derive(Clone, Copy)]
struct Shm {
    base: *mut u8,
    lay: Layout,
}

// SAFETY: The mapping lives until the process ends; everything in it is
// atomics or cells written by one thread.
unsafe impl Send for Shm {}
// SAFETY: As above.
unsafe impl Sync for Shm {}

impl Shm {
    fn inc(&self) -> &IncHdr {
        // SAFETY: Page 0 holds the IncHdr; all-zero atomics are valid.
        unsafe { &*(self.base as *const IncHdr) }
    }
    fn thread(&self, t: usize) -> TView {
        assert!(t < self.lay.nthreads);
        TView {
            // SAFETY: Inside the mapping (Layout::total).
            base: unsafe { self.base.add(PAGE + t * self.lay.thread_size()) },
            lay: self.lay,
        }
    }
}

/// One thread's part of an incarnation's log.
#[derive(Clone, Copy)]
struct TView {
    base: *mut u8,
    lay: Layout,
}

// SAFETY: See Shm.
unsafe impl Send for TView {}
// SAFETY: See Shm.
unsafe impl Sync for TView {}

impl TView {
    fn hdr(&self) -> &ThreadHdr {
        // SAFETY: The region starts with a ThreadHdr; zeroes are valid.
        unsafe { &*(self.base as *const ThreadHdr) }
    }
    fn send(&self, i: usize) -> &SendRec {
        assert!(i < self.lay.cap_s);
        // SAFETY: Inside the region.
        unsafe { &*(self.base.add(HDR_SIZE + 16 * i) as *const SendRec) }
    }
    fn recv(&self, i: usize) -> &RecvRec {
        assert!(i < self.lay.cap_r);
        // SAFETY: Inside the region.
        unsafe { &*(self.base.add(HDR_SIZE + 16 * self.lay.cap_s + 32 * i) as *const RecvRec) }
    }
    fn held(&self, i: usize) -> &HeldRec {
        assert!(i < self.lay.cap_h);
        // SAFETY: Inside the region.
        unsafe {
            &*(self
                .base
                .add(HDR_SIZE + 16 * self.lay.cap_s + 32 * self.lay.cap_r + 16 * i)
                as *const HeldRec)
        }
    }
    fn slot(&self) -> *mut u8 {
        self.hdr().slot.get() as *mut u8
    }
    fn slot_bytes(&self) -> Vec<u8> {
        // SAFETY: SLOT bytes of our mapping; the writer is dead or done.
        unsafe { std::slice::from_raw_parts(self.slot(), SLOT).to_vec() }
    }
    fn bump(&self, c: C) {
        self.hdr().counters[c as usize].fetch_add(1, Relaxed);
    }
    fn fail(&self, msg: &str) {
        let h = self.hdr();
        let i = h.fail_count.fetch_add(1, SeqCst) as usize;
        if i < MAX_FAILS {
            let b = msg.as_bytes();
            let n = b.len().min(FAIL_LEN - 2);
            // SAFETY: Slot i of the fails array is ours alone (fetch_add).
            unsafe {
                let p = (h.fails.get() as *mut u8).add(i * FAIL_LEN);
                *p = (n & 0xff) as u8;
                *p.add(1) = (n >> 8) as u8;
                ptr::copy_nonoverlapping(b.as_ptr(), p.add(2), n);
            }
        }
    }
    fn fails(&self) -> Vec<String> {
        let h = self.hdr();
        let n = (h.fail_count.load(SeqCst) as usize).min(MAX_FAILS);
        (0..n)
            .map(|i| {
                // SAFETY: Written by fail() before the process ended.
                unsafe {
                    let p = (h.fails.get() as *const u8).add(i * FAIL_LEN);
                    let len = (*p as usize | (*p.add(1) as usize) << 8).min(FAIL_LEN - 2);
                    String::from_utf8_lossy(std::slice::from_raw_parts(p.add(2), len)).into_owned()
                }
            })
            .collect()
    }
}

fn memfd(name: &str, size: usize) -> std::io::Result<OwnedFd> {
    let cname = CString::new(name).unwrap();
    // SAFETY: A plain syscall with a valid string.
    let fd = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a new descriptor of ours.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: A plain syscall on our descriptor.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), size as libc::off_t) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fd)
}

fn map_shared(fd: RawFd, size: usize) -> std::io::Result<*mut u8> {
    // SAFETY: A fresh shared mapping of our descriptor.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    Ok(p as *mut u8)
}

fn fd_size(fd: RawFd) -> usize {
    // SAFETY: fstat fills the struct we pass.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut st) != 0 {
            return 0;
        }
        st.st_size as usize
    }
}

// ---------------------------------------------------------------------------
// Counters (per thread, summed in the report).

#[derive(Clone, Copy)]
#[repr(usize)]
enum C {
    Sends,
    SendsToDead,
    SendsTimedOut,
    Requests,
    Receives,
    ReceiveTimeouts,
    Lookups,
    LookupTimeouts,
    NewPorts,
    RegisterFailed,
    Destroys,
    Moves,
    MovesToDead,
    Adoptions,
    MemberOps,
    SetStatusChecks,
    SetsRecreated,
    DeadNameRequests,
    NoSendersRequests,
    PdRequestsSelf,
    PdRequestsKeeper,
    BackupsSet,
    BackupsCleared,
    Ephemeral,
    EphemeralDone,
    Replies,
    SendOnceDestroyed,
    Releases,
    Qlimits,
    StatusChecks,
    SelfSends,
    ScratchSpaces,
    NDeadName,
    NPortDeleted,
    NNoSenders,
    NSendOnce,
    NPdBack,
    NPdUnknown,
    OolSent,
    OolPortsSent,
    RightsCarried,
    RepliesReceived,
    LogFull,
    DeadRightsReceived,
    LocalNameGone,
    Count,
}

const C_NAMES: [&str; C::Count as usize] = [
    "sends",
    "sends_to_dead_ports",
    "sends_timed_out",
    "requests",
    "receives",
    "receive_timeouts",
    "lookups",
    "lookup_timeouts",
    "new_ports",
    "register_failed",
    "destroys",
    "moves",
    "moves_to_dead",
    "adoptions",
    "member_ops",
    "set_status_checks",
    "sets_recreated",
    "dead_name_requests",
    "no_senders_requests",
    "port_destroyed_requests_self",
    "port_destroyed_requests_keeper",
    "backups_set",
    "backups_cleared",
    "ephemeral_ports",
    "ephemeral_ended",
    "replies",
    "send_once_destroyed",
    "releases",
    "qlimits",
    "status_checks",
    "self_sends",
    "scratch_spaces",
    "n_dead_name",
    "n_port_deleted",
    "n_no_senders",
    "n_send_once",
    "n_port_destroyed_back",
    "n_port_destroyed_unknown",
    "ool_sent",
    "ool_ports_sent",
    "rights_carried",
    "replies_received",
    "log_full",
    "dead_rights_received",
    "received_after_the_member_left",
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
enum Op {
    Idle,
    Setup,
    Send,
    Receive,
    Lookup,
    NewPort,
    Destroy,
    Move,
    Member,
    Notify,
    Eph,
    Reply,
    Release,
    Qlimit,
    Status,
    SelfSend,
    Scratch,
    Drain,
    Final,
}

const OP_NAMES: [&str; 19] = [
    "idle",
    "setup",
    "send",
    "receive",
    "lookup",
    "new-port",
    "destroy",
    "move",
    "member",
    "notify",
    "ephemeral",
    "reply",
    "release",
    "qlimit",
    "status",
    "self-send",
    "scratch",
    "drain",
    "final",
];

// ---------------------------------------------------------------------------
// Small Mach helpers.

const TASK: PortName = PortName(sys::MACH_TASK_SELF_NAME);

fn mr_name(mr: i32) -> String {
    format!("{}", MsgReturn(mr))
}

fn mr_of(e: &Error) -> i32 {
    match e {
        Error::Msg(m) => m.0,
        _ => i32::MIN,
    }
}

fn zero_audit(r: &Received) -> bool {
    r.trailer.audit.map(|a| a.0 == [0; 8]).unwrap_or(true)
}

// ---------------------------------------------------------------------------
// The worker process.

/// Send rights a worker holds, by name, with the logical id of their port
/// and the user references the threads have put in (the kernel holds at
/// least as many). A thread that uses a name takes one reference out
/// (borrows it) for the call, so that a name is never freed, and reused
/// for another port, while a thread uses it.
#[derive(Default)]
struct Table {
    map: BTreeMap<u32, (u64, u32)>,
}

const UREFS_CAP: u32 = 4;

impl Table {
    /// Adds `n` references to `name` for port `l`. Returns the references
    /// over the cap, for the caller to deallocate, or the other port's id
    /// if the name is known to denote another port.
    fn add(&mut self, name: PortName, l: u64, n: u32) -> Result<u32, u64> {
        let e = self.map.entry(name.0).or_insert((l, 0));
        if e.0 != l {
            return Err(e.0);
        }
        e.1 += n;
        if e.1 > UREFS_CAP {
            let s = e.1 - UREFS_CAP;
            e.1 = UREFS_CAP;
            Ok(s)
        } else {
            Ok(0)
        }
    }
    fn borrow(&mut self, rng: &mut Rng, want: impl Fn(u64) -> bool) -> Option<(PortName, u64)> {
        let c: Vec<u32> = self
            .map
            .iter()
            .filter(|(_, e)| want(e.0))
            .map(|(n, _)| *n)
            .collect();
        let n = rng.pick(&c)?;
        let e = self.map.get_mut(&n).unwrap();
        e.1 -= 1;
        let l = e.0;
        if e.1 == 0 {
            self.map.remove(&n);
        }
        Some((PortName(n), l))
    }
    fn take_all(&mut self, name: PortName) -> u32 {
        self.map.remove(&name.0).map(|e| e.1).unwrap_or(0)
    }
    fn get(&self, name: PortName) -> Option<u64> {
        self.map.get(&name.0).filter(|e| e.1 > 0).map(|e| e.0)
    }
    fn count(&self, want: impl Fn(u64) -> bool) -> usize {
        self.map.values().filter(|e| want(e.0)).count()
    }
}

struct Proc {
    space: Space,
    inc: u32,
    pid: u32,
    sup_task: PortName,
    r_send: PortName,
    kb_send: PortName,
    k_sup: PortName,
    control: PortName,
    control_l: u64,
    shared: PortName,
    table: Mutex<Table>,
    /// Every logical port each name held a receive right for, in this space.
    history: Mutex<HashMap<u32, Vec<u64>>>,
    next_n: AtomicU32,
    shm: Shm,
    global: &'static Global,
}

impl Proc {
    fn new_l(&self, class: u64) -> u64 {
        lid(self.inc, class, self.next_n.fetch_add(1, Relaxed))
    }
    fn hist_add(&self, name: PortName, l: u64) {
        let mut h = self.history.lock().unwrap();
        let v = h.entry(name.0).or_default();
        if !v.contains(&l) {
            v.push(l);
        }
    }
    fn hist(&self, name: PortName) -> Vec<u64> {
        self.history
            .lock()
            .unwrap()
            .get(&name.0)
            .cloned()
            .unwrap_or_default()
    }
    fn phase(&self) -> u32 {
        self.global.phase.load(Acquire)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Loc {
    None,
    S1,
    S2,
    Shared,
}

#[derive(Clone, Copy, Debug)]
struct Owned {
    l: u64,
    loc: Loc,
    eph: bool,
}

struct Th {
    p: Arc<Proc>,
    t: usize,
    rng: Rng,
    v: TView,
    stream: u64,
    reply: PortName,
    reply_l: u64,
    notify: PortName,
    s1: PortName,
    s2: PortName,
    /// Receive rights this thread owns (only it moves, destroys or
    /// changes them), by name.
    owned: BTreeMap<u32, Owned>,
    /// Send-once rights of requests not answered yet, with the reply
    /// port's logical id.
    stash: Vec<(PortName, u64)>,
    eph_count: usize,
    pending_lookup: Option<u64>,
    stopped: bool,
}

thread_local! {
    static THREAD_VIEW: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
}

static PANIC_SHM: OnceLock<Shm> = OnceLock::new();

fn worker_main(args: &[String]) -> ! {
    let num = |i: usize| -> u64 {
        args.get(i).and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            eprintln!("mach-stress --worker: bad argument {i}: {:?}", args.get(i));
            std::process::exit(2)
        })
    };
    let inc = num(0) as u32;
    let seed = num(1);
    let sup_fd = num(2) as RawFd;
    let mem_fd = num(3) as RawFd;
    let global_fd = num(4) as RawFd;
    let r_sup = PortName(num(5) as u32);
    let k_sup = PortName(num(6) as u32);
    let kb_sup = PortName(num(7) as u32);
    let sup_pid = num(8) as i32;

    // Die with the supervisor.
    // SAFETY: Plain syscalls.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
        if libc::getppid() != sup_pid {
            std::process::exit(3);
        }
    }
    let size = fd_size(mem_fd);
    let base = map_shared(mem_fd, size).unwrap_or_else(|_| std::process::exit(4));
    let gbase = map_shared(global_fd, PAGE).unwrap_or_else(|_| std::process::exit(4));
    // SAFETY: The supervisor's global page; zero is a valid Global.
    let global: &'static Global = unsafe { &*(gbase as *const Global) };
    // SAFETY: base maps the incarnation's log, whose header the supervisor
    // wrote before starting us.
    let ih = unsafe { &*(base as *const IncHdr) };
    if ih.magic.load(SeqCst) != INC_MAGIC {
        std::process::exit(5);
    }
    let lay = Layout {
        nthreads: ih.nthreads.load(SeqCst) as usize,
        cap_s: ih.cap_s.load(SeqCst) as usize,
        cap_r: ih.cap_r.load(SeqCst) as usize,
        cap_h: ih.cap_h.load(SeqCst) as usize,
    };
    if lay.total() > size {
        std::process::exit(6);
    }
    let shm = Shm { base, lay };
    ih.pid.store(std::process::id(), SeqCst);
    let _ = PANIC_SHM.set(shm);
    std::panic::set_hook(Box::new(|info| {
        let msg = format!("panic: {info}");
        eprintln!("# mach-stress worker {}: {msg}", std::process::id());
        if let (Some(shm), Some((t, _))) = (PANIC_SHM.get(), THREAD_VIEW.with(|v| v.get())) {
            shm.thread(t).fail(&msg);
        }
    }));
    THREAD_VIEW.with(|v| v.set(Some((0, 0))));
    let v0 = shm.thread(0);
    v0.hdr().op.store(Op::Setup as u32, SeqCst);
    v0.hdr().op_since.store(now_ms(), SeqCst);

    let setup = || -> Result<Proc, String> {
        let space = Space::open().map_err(|e| format!("opening /dev/mach: {e}"))?;
        let sup_task = space
            .task_for_raw_fd(sup_fd)
            .map_err(|e| format!("task_for_fd(supervisor's space): {e}"))?;
        // SAFETY: The inherited descriptor is ours to close.
        unsafe { libc::close(sup_fd) };
        let (r_send, _) = space
            .extract_right(sup_task, r_sup, MsgTypeName::MAKE_SEND)
            .map_err(|e| format!("extract_right(R, MAKE_SEND): {e}"))?;
        let (kb_send, _) = space
            .extract_right(sup_task, kb_sup, MsgTypeName::MAKE_SEND)
            .map_err(|e| format!("extract_right(KB, MAKE_SEND): {e}"))?;
        let shared = space
            .allocate(TASK, PortRight::PORT_SET)
            .map_err(|e| format!("allocate(PORT_SET): {e}"))?;
        let control = space
            .allocate(TASK, PortRight::RECEIVE)
            .map_err(|e| format!("allocate(RECEIVE): {e}"))?;
        space
            .set_qlimit(TASK, control, 16)
            .map_err(|e| format!("set_qlimit(control): {e}"))?;
        space
            .insert_member(TASK, control, shared)
            .map_err(|e| format!("insert_member(control, shared): {e}"))?;
        Ok(Proc {
            space,
            inc,
            pid: std::process::id(),
            sup_task,
            r_send,
            kb_send,
            k_sup,
            control,
            control_l: lid(inc, CL_CONTROL, 0),
            shared,
            table: Mutex::new(Table::default()),
            history: Mutex::new(HashMap::new()),
            next_n: AtomicU32::new(1),
            shm,
            global,
        })
    };
    let proc = match setup() {
        Ok(p) => Arc::new(p),
        Err(e) => {
            v0.fail(&format!("setup: {e}"));
            std::process::exit(1);
        }
    };
    proc.hist_add(proc.control, proc.control_l);

    let mut ths = Vec::new();
    for t in 0..lay.nthreads {
        match Th::new(proc.clone(), t, mix(seed, t as u64)) {
            Ok(th) => ths.push(th),
            Err(e) => {
                shm.thread(t).fail(&format!("thread setup: {e}"));
                std::process::exit(1);
            }
        }
    }
    // The control port goes to the registry, from thread 0.
    if !ths[0].register(proc.control, proc.control_l, 1000) {
        v0.fail("registering the control port failed");
        std::process::exit(1);
    }
    ih.state.store(INC_READY, SeqCst);
    let mut th0 = ths.remove(0);
    let handles: Vec<_> = ths
        .into_iter()
        .map(|mut th| {
            thread::spawn(move || {
                THREAD_VIEW.with(|v| v.set(Some((th.t, 0))));
                th.run();
            })
        })
        .collect();
    th0.run();
    for h in handles {
        let _ = h.join();
    }
    // The control port, last.
    match proc.space.receive_status(TASK, proc.control) {
        Ok(st) => {
            th0.held(proc.control_l, u64::from(st.msgcount));
            if st.msgcount != 0 {
                v0.fail(&format!(
                    "the control port {} still has {} messages at the end",
                    lname(proc.control_l),
                    st.msgcount
                ));
            }
        }
        Err(e) => v0.fail(&format!("receive_status(control) at the end: {e}")),
    }
    ih.state.store(INC_FINISHED, SeqCst);
    std::process::exit(0);
}

impl Th {
    fn new(p: Arc<Proc>, t: usize, seed: u64) -> Result<Th, String> {
        let v = p.shm.thread(t);
        let s = &p.space;
        let a = |what: &str, r: PortRight| s.allocate(TASK, r).map_err(|e| format!("{what}: {e}"));
        let reply = a("allocate(reply port)", PortRight::RECEIVE)?;
        let notify = a("allocate(notify port)", PortRight::RECEIVE)?;
        let s1 = a("allocate(set 1)", PortRight::PORT_SET)?;
        let s2 = a("allocate(set 2)", PortRight::PORT_SET)?;
        s.insert_member(TASK, reply, s1)
            .map_err(|e| format!("insert_member(reply): {e}"))?;
        s.insert_member(TASK, notify, s1)
            .map_err(|e| format!("insert_member(notify): {e}"))?;
        let reply_l = p.new_l(CL_REPLY);
        let notify_l = p.new_l(CL_NOTIFY);
        p.hist_add(reply, reply_l);
        p.hist_add(notify, notify_l);
        v.hdr().reply_l.store(reply_l, SeqCst);
        v.hdr().started.store(1, SeqCst);
        Ok(Th {
            stream: stream_id(p.inc, t),
            p,
            t,
            rng: Rng::new(seed),
            v,
            reply,
            reply_l,
            notify,
            s1,
            s2,
            owned: BTreeMap::new(),
            stash: Vec::new(),
            eph_count: 0,
            pending_lookup: None,
            stopped: false,
        })
    }

    fn fail(&self, msg: String) {
        self.v.fail(&format!("{}: {msg}", sname(self.stream)));
    }

    fn op(&self, op: Op, arg: u64) {
        let h = self.v.hdr();
        h.op.store(op as u32, Relaxed);
        h.op_arg.store(arg, Relaxed);
        h.op_since.store(now_ms(), Relaxed);
    }

    fn space(&self) -> &Space {
        &self.p.space
    }

    fn held(&self, l: u64, msgcount: u64) {
        let h = self.v.hdr();
        let i = h.held_count.load(Relaxed) as usize;
        if i < self.v.lay.cap_h {
            let r = self.v.held(i);
            r.l.store(l, Relaxed);
            r.msgcount.store(msgcount, Relaxed);
            h.held_count.store(i as u64 + 1, Release);
        } else {
            self.fail(format!("too many ports held at the end to report ({i})"));
        }
    }

    fn set_name(&self, loc: Loc) -> PortName {
        match loc {
            Loc::None => PortName::NULL,
            Loc::S1 => self.s1,
            Loc::S2 => self.s2,
            Loc::Shared => self.p.shared,
        }
    }

    fn dealloc(&self, name: PortName, n: u32, why: &str) {
        for _ in 0..n {
            if let Err(e) = self.space().deallocate(TASK, name) {
                self.fail(format!("deallocate({name:?}) ({why}): {e}"));
                return;
            }
        }
    }

    fn give_back(&self, name: PortName, l: u64) {
        let r = self.p.table.lock().unwrap().add(name, l, 1);
        match r {
            Ok(s) => self.dealloc(name, s, "references over the cap"),
            Err(l2) => self.fail(format!(
                "giving back {name:?} for {}: the table says {}",
                lname(l),
                lname(l2)
            )),
        }
    }

    /// The name is a dead name now: drops every reference the table has
    /// for it and `borrowed` more.
    fn drop_dead(&self, name: PortName, borrowed: u32, why: &str) {
        let k = self.p.table.lock().unwrap().take_all(name);
        self.dealloc(
            name,
            k + borrowed,
            &format!("a dead name, {k}+{borrowed} references, {why}"),
        );
    }

    fn borrow(&mut self, want: impl Fn(u64) -> bool) -> Option<(PortName, u64)> {
        self.p.table.lock().unwrap().borrow(&mut self.rng, want)
    }

    // --- The send and receive logs --------------------------------------

    fn begin(&self, kind: u32, dest: u64) -> Option<u64> {
        let h = self.v.hdr();
        let seq = h.send_count.load(Relaxed);
        if seq as usize >= self.v.lay.cap_s {
            self.v.bump(C::LogFull);
            return None;
        }
        let r = self.v.send(seq as usize);
        r.dest.store(dest, Relaxed);
        r.info.store(u64::from(kind) | (ST_INTENT << 8), Relaxed);
        fence(SeqCst);
        h.send_count.store(seq + 1, SeqCst);
        fence(SeqCst);
        Some(seq)
    }

    fn end(&self, seq: u64, kind: u32, r: &mach::Result<()>) {
        let (st, code) = match r {
            Ok(()) => (ST_SENT, 0u32),
            Err(e) => (ST_FAILED, mr_of(e) as u32),
        };
        fence(SeqCst);
        self.v.send(seq as usize).info.store(
            u64::from(kind) | (st << 8) | (u64::from(code) << 32),
            SeqCst,
        );
        if r.is_ok() {
            self.v.bump(C::Sends);
        }
    }

    fn payload(
        &mut self,
        kind: u32,
        seq: u64,
        dest: u64,
        reply: u64,
        aux: u64,
        list: Vec<u64>,
    ) -> Payload {
        let pad = if self.rng.pct(70) {
            self.rng.below(64)
        } else {
            self.rng.below(300)
        } as u32;
        Payload {
            kind,
            pid: self.p.pid,
            stream: self.stream,
            seq,
            dest,
            reply,
            aux,
            list,
            pad,
        }
    }

    /// Receives one message on `name` straight into this thread's shared
    /// slot, logs it if it is one of ours, clears the slot, and decodes it.
    /// `Ok(None)`: nothing within `timeout` ms.
    fn recv(
        &mut self,
        name: PortName,
        timeout: u32,
    ) -> Result<Option<(Received, Option<Payload>)>, i32> {
        let slot = self.v.slot();
        // SAFETY: The slot is SLOT bytes of our mapping, used by this
        // thread alone.
        unsafe { ptr::write_bytes(slot, 0, 24) };
        fence(SeqCst);
        let option = sys::MACH_RCV_MSG
            | sys::MACH_RCV_TIMEOUT
            | sys::MACH_RCV_LARGE
            | TrailerElements::Audit.option();
        // SAFETY: The module writes at most SLOT bytes into the slot.
        let mr = match unsafe {
            self.space()
                .mach_msg_raw(slot, option, 0, SLOT as u32, name, timeout, PortName::NULL)
        } {
            Ok(mr) => mr,
            Err(e) => {
                self.fail(format!("receive on {name:?}: ioctl failed: {e}"));
                return Err(-1);
            }
        };
        if mr == sys::MACH_RCV_TIMED_OUT {
            self.v.bump(C::ReceiveTimeouts);
            return Ok(None);
        }
        let m = MsgReturn(mr);
        let delivered = m.is_success()
            || m.base() == MsgReturn::MACH_RCV_HEADER_ERROR
            || m.base() == MsgReturn::MACH_RCV_BODY_ERROR;
        if !delivered {
            return Err(mr);
        }
        // SAFETY: As above; the message is in the slot.
        let bytes = unsafe { std::slice::from_raw_parts(slot, SLOT) };
        let buf = MsgBuffer::from_bytes(bytes);
        // SAFETY: A message the module just delivered; its out-of-line
        // mappings are ours and are handed over here.
        let mut r = unsafe { Received::from_buffer(&buf, false) };
        r.status = m;
        let payload = if is_ours(r.id) {
            match Payload::decode(&r.data) {
                Ok(p) => Some(p),
                Err(e) => {
                    self.fail(format!(
                        "a corrupt message (id {:#x}) on {name:?}: {e}",
                        r.id
                    ));
                    None
                }
            }
        } else {
            None
        };
        if let Some(p) = &payload {
            let h = self.v.hdr();
            let i = h.recv_count.load(Relaxed) as usize;
            if i < self.v.lay.cap_r {
                let rec = self.v.recv(i);
                rec.stream.store(p.stream, Relaxed);
                rec.seq.store(p.seq, Relaxed);
                rec.dest.store(p.dest, Relaxed);
                rec.info
                    .store(u64::from(r.local.0) | (u64::from(p.kind) << 32), Relaxed);
                fence(SeqCst);
                h.recv_count.store(i as u64 + 1, SeqCst);
            } else {
                self.v.bump(C::LogFull);
                self.fail("the receive log is full: the accounting will be wrong".into());
            }
        }
        fence(SeqCst);
        // SAFETY: As above.
        unsafe { ptr::write_bytes(slot, 0, 24) };
        fence(SeqCst);
        self.v.bump(C::Receives);
        if !m.is_success() {
            self.fail(format!("a message on {name:?} was delivered with {m}"));
        }
        Ok(Some((r, payload)))
    }

    /// Receives and handles one message; true if there was one.
    fn receive_on(&mut self, name: PortName, timeout: u32, what: &str) -> bool {
        match self.recv(name, timeout) {
            Ok(Some((r, p))) => {
                self.handle(r, p, name);
                true
            }
            Ok(None) => false,
            Err(-1) => false,
            Err(mr) => {
                self.fail(format!("receive on {what} {name:?}: {}", mr_name(mr)));
                false
            }
        }
    }

    // --- Handling what arrives ------------------------------------------

    /// `via`: the name the receive was on (a set, or the port itself).
    fn handle(&mut self, r: Received, p: Option<Payload>, via: PortName) {
        let h = self.v.hdr();
        h.idle.store(0, SeqCst);
        h.activity.fetch_add(1, SeqCst);
        match p {
            Some(p) => self.handle_ours(r, p, via),
            None => self.handle_notification(r),
        }
    }

    fn handle_ours(&mut self, r: Received, p: Payload, via: PortName) {
        let hist = self.p.hist(r.local);
        let via_set = via == self.s1 || via == self.s2 || via == self.p.shared;
        if via_set && !r.local.is_valid() {
            // Taken off a member of the set just before another thread
            // moved or destroyed that port: there is no name for it here
            // any more (XNU gives MACH_PORT_NULL too, for a moved right).
            self.v.bump(C::LocalNameGone);
        } else if !hist.contains(&p.dest) {
            self.fail(format!(
                "misdelivered: {} {} seq {} for {} arrived on {:?}, which held the receive right of {:?} only",
                kind_name(p.kind),
                sname(p.stream),
                p.seq,
                lname(p.dest),
                r.local,
                hist.iter().map(|&l| lname(l)).collect::<Vec<_>>()
            ));
        }
        if let Some(a) = r.trailer.audit {
            if a.pid() != p.pid as i32 {
                self.fail(format!(
                    "{} seq {} from pid {} arrived with audit pid {}",
                    sname(p.stream),
                    p.seq,
                    p.pid,
                    a.pid()
                ));
            }
        }
        match p.kind {
            K_DATA | K_EPH => {
                self.take_rights(&r, &p);
                if r.reply_type() == MsgTypeName::PORT_SEND_ONCE {
                    self.on_request(r.remote, p.reply);
                } else if r.remote.is_valid() {
                    self.fail(format!(
                        "a data message with a reply right of type {:?}",
                        r.reply_type()
                    ));
                }
            }
            K_CARRIER => match r.descriptors.as_slice() {
                [ReceivedDescriptor::Port {
                    name,
                    kind: MsgTypeName::PORT_RECEIVE,
                }] if p.list.len() == 1 => {
                    self.adopt_receive(*name, p.list[0], "carried");
                }
                other => self.fail(format!("a carrier with descriptors {other:?}")),
            },
            K_REPLY | K_LOOKUP_REPLY => {
                if r.local != self.reply {
                    self.fail(format!(
                        "a {} arrived on {:?}, not on the reply port",
                        kind_name(p.kind),
                        r.local
                    ));
                }
                self.v.hdr().replies.fetch_add(1, SeqCst);
                self.v.bump(C::RepliesReceived);
                if r.reply_type() != MsgTypeName::PORT_NONE
                    || r.dest_type() != MsgTypeName::PORT_SEND_ONCE
                {
                    self.fail(format!(
                        "a {} with bits {:#x} (expected: through a send-once right, no reply right)",
                        kind_name(p.kind),
                        r.bits
                    ));
                }
                if p.kind == K_LOOKUP_REPLY {
                    self.take_rights(&r, &p);
                    if self.pending_lookup == Some(p.aux) {
                        self.pending_lookup = None;
                    }
                }
            }
            _ => self.fail(format!(
                "a {} message arrived at a worker",
                kind_name(p.kind)
            )),
        }
    }

    /// The rights and out-of-line data of a data message.
    fn take_rights(&mut self, r: &Received, p: &Payload) {
        let mut li = 0;
        for d in &r.descriptors {
            match d {
                ReceivedDescriptor::Port { name, kind } => {
                    let l = p.list.get(li).copied();
                    li += 1;
                    self.got_right(*name, *kind, l);
                }
                ReceivedDescriptor::OolPorts { names, kind } => {
                    for n in names {
                        let l = p.list.get(li).copied();
                        li += 1;
                        self.got_right(*n, *kind, l);
                    }
                }
                ReceivedDescriptor::Ool { data, size, .. } => {
                    if data[..] != ool_pattern(p.stream, p.seq, *size as usize)[..] {
                        self.fail(format!(
                            "out-of-line data of {} seq {} ({size} bytes) differs from what was sent",
                            sname(p.stream),
                            p.seq
                        ));
                    }
                }
                ReceivedDescriptor::Unknown { type_ } => {
                    self.fail(format!("a descriptor of type {type_}"))
                }
            }
        }
        if li != p.list.len() {
            self.fail(format!(
                "{} rights arrived, the payload lists {}",
                li,
                p.list.len()
            ));
        }
    }

    fn got_right(&mut self, name: PortName, kind: MsgTypeName, l: Option<u64>) {
        let Some(l) = l else {
            self.fail(format!("a right {name:?} that the payload does not list"));
            return;
        };
        if name == PortName::DEAD {
            self.v.bump(C::DeadRightsReceived);
            return;
        }
        if name == PortName::NULL {
            self.fail(format!(
                "the right for {} arrived as MACH_PORT_NULL",
                lname(l)
            ));
            return;
        }
        if kind != MsgTypeName::PORT_SEND {
            self.fail(format!("a right of type {kind:?} for {}", lname(l)));
            return;
        }
        if self.p.phase() != PH_CHAOS && l_class(l) == CL_EPH {
            // Short-lived ports must lose their senders once the run stops.
            self.dealloc(name, 1, "an ephemeral port's right after the stop");
            return;
        }
        if let Some(o) = self.owned.get(&name.0) {
            if o.l != l {
                self.fail(format!(
                    "a send right for {} arrived under {name:?}, the name of our receive right for {}",
                    lname(l),
                    lname(o.l)
                ));
            }
        }
        self.v.bump(C::RightsCarried);
        let r = self.p.table.lock().unwrap().add(name, l, 1);
        match r {
            Ok(s) => self.dealloc(name, s, "references over the cap"),
            Err(l2) => {
                self.fail(format!(
                    "a send right for {} arrived under {name:?}, which holds a right for {}",
                    lname(l),
                    lname(l2)
                ));
                self.dealloc(name, 1, "a right under a conflicting name");
            }
        }
    }

    fn on_request(&mut self, so: PortName, reply_l: u64) {
        if !so.is_valid() {
            return;
        }
        if self.p.phase() != PH_CHAOS {
            self.send_reply(so, reply_l);
            return;
        }
        match self.rng.below(100) {
            0..=49 => self.send_reply(so, reply_l),
            50..=74 if self.stash.len() < 4 => self.stash.push((so, reply_l)),
            50..=74 => self.send_reply(so, reply_l),
            _ => {
                self.v.bump(C::SendOnceDestroyed);
                self.dealloc(so, 1, "a request's send-once right, unanswered");
            }
        }
    }

    fn send_reply(&mut self, so: PortName, reply_l: u64) {
        let Some(seq) = self.begin(K_REPLY, reply_l) else {
            self.dealloc(so, 1, "a send-once right (the log is full)");
            return;
        };
        let p = self.payload(K_REPLY, seq, reply_l, 0, 0, Vec::new());
        let msg = Message::new(so, MsgTypeName::MOVE_SEND_ONCE)
            .id(msg_id(K_REPLY))
            .data(p.encode());
        let r = self.space().send(
            &msg,
            SendOptions {
                timeout: Some(0),
                interrupt: false,
            },
        );
        self.end(seq, K_REPLY, &r);
        match &r {
            Ok(()) => self.v.bump(C::Replies),
            Err(e) if *e == MsgReturn::MACH_SEND_INVALID_DEST => {
                // The reply port died: the right is a dead name now.
                self.v.bump(C::SendsToDead);
                self.dealloc(so, 1, "a send-once right whose port died");
            }
            Err(e) => self.fail(format!("reply through {so:?} to {}: {e}", lname(reply_l))),
        }
    }

    fn adopt_receive(&mut self, x: PortName, l: u64, how: &str) {
        if !x.is_valid() {
            self.fail(format!(
                "the receive right of {} ({how}) arrived as {x:?}",
                lname(l)
            ));
            return;
        }
        if self.owned.contains_key(&x.0) {
            self.fail(format!(
                "the receive right of {} ({how}) arrived under {x:?}, which we own already",
                lname(l)
            ));
            return;
        }
        let known = self.p.table.lock().unwrap().get(x);
        if let Some(l2) = known {
            if l2 != l {
                self.fail(format!(
                    "the receive right of {} ({how}) arrived under {x:?}, a send right for {}",
                    lname(l),
                    lname(l2)
                ));
            }
        }
        self.p.hist_add(x, l);
        self.owned.insert(
            x.0,
            Owned {
                l,
                loc: Loc::None,
                eph: false,
            },
        );
        self.v.bump(C::Adoptions);
        let loc = self
            .rng
            .pick(&[Loc::None, Loc::S1, Loc::S2, Loc::Shared])
            .unwrap();
        if loc != Loc::None {
            match self.space().insert_member(TASK, x, self.set_name(loc)) {
                Ok(()) => self.owned.get_mut(&x.0).unwrap().loc = loc,
                Err(e) => self.fail(format!(
                    "insert_member of a {how} port {x:?} into {loc:?}: {e}"
                )),
            }
        }
    }

    fn handle_notification(&mut self, r: Received) {
        if !zero_audit(&r) {
            self.fail(format!(
                "a message id {} on {:?} with audit token {:?} (a kernel notification has zeros)",
                r.id, r.local, r.trailer.audit
            ));
        }
        match Notification::from_received(&r) {
            None => {
                self.fail(format!(
                    "an unexpected message: id {:#x}, size {}, bits {:#x}, on {:?}",
                    r.id, r.size, r.bits, r.local
                ));
                let _ = r.destroy(self.space());
            }
            Some(Notification::SendOnce) => {
                self.v.bump(C::NSendOnce);
                if r.local == self.reply {
                    self.v.hdr().so_notifs.fetch_add(1, SeqCst);
                }
            }
            Some(Notification::DeadName { name }) => {
                self.v.bump(C::NDeadName);
                // The notification holds a user reference of the name,
                // which is a dead name now: nothing can have freed it.
                match self.space().port_type(TASK, name) {
                    Ok(t) if t.contains(mach::PortType::DEAD_NAME) => {
                        // One reference for the notification, and the table's.
                        self.drop_dead(name, 1, "after its dead-name notification");
                    }
                    other => {
                        let held = self.p.table.lock().unwrap().get(name);
                        self.fail(format!(
                            "a dead-name notification for {name:?} arrived, but the name is {} \
                             (our table: {}): the name was freed without the notification's \
                             user reference (a deallocation raced with the port's death?)",
                            match other {
                                Ok(t) => format!("of type {t:?}, not a dead name"),
                                Err(e) => format!("gone ({e})"),
                            },
                            held.map(|l| format!("a send right for {}", lname(l)))
                                .unwrap_or_else(|| "no references".into())
                        ));
                    }
                }
            }
            Some(Notification::PortDeleted { .. }) => self.v.bump(C::NPortDeleted),
            Some(Notification::NoSenders { .. }) => {
                self.v.bump(C::NNoSenders);
                if self.owned.get(&r.local.0).is_some_and(|o| o.eph) {
                    self.end_eph(r.local);
                }
            }
            Some(Notification::PortDestroyed { right }) => {
                if !right.is_valid() {
                    self.fail(format!(
                        "a port-destroyed notification with right {right:?}"
                    ));
                    return;
                }
                // Merged with a send right we hold: then we know the port.
                let known = self.p.table.lock().unwrap().get(right);
                match known {
                    Some(l) => {
                        self.v.bump(C::NPdBack);
                        self.adopt_receive(right, l, "port-destroyed");
                    }
                    None => {
                        self.v.bump(C::NPdUnknown);
                        if let Err(e) = self.space().mod_refs(TASK, right, PortRight::RECEIVE, -1) {
                            self.fail(format!("destroying a port-destroyed right {right:?}: {e}"));
                        }
                    }
                }
            }
        }
    }

    /// A short-lived port lost its last sender: drain it, destroy it.
    fn end_eph(&mut self, e: PortName) {
        let Some(o) = self.owned.remove(&e.0) else {
            return;
        };
        loop {
            match self.recv(e, 0) {
                Ok(Some((r, p))) => self.handle(r, p, e),
                Ok(None) => break,
                Err(mr) => {
                    self.fail(format!(
                        "draining ephemeral {}: {}",
                        lname(o.l),
                        mr_name(mr)
                    ));
                    break;
                }
            }
        }
        if let Err(err) = self.space().mod_refs(TASK, e, PortRight::RECEIVE, -1) {
            self.fail(format!("destroying ephemeral {} {e:?}: {err}", lname(o.l)));
        }
        self.eph_count -= 1;
        self.v.bump(C::EphemeralDone);
    }

    // --- The main loop ---------------------------------------------------

    fn run(&mut self) {
        // At work, run below the supervisor's priority, so that its
        // registry thread (one thread serving every worker) keeps up. (The
        // set-up ran at the normal priority; the supervisor raises a worker
        // back before it kills it, so that its end is not starved either.)
        // SAFETY: A plain syscall on this thread.
        unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 10) };
        loop {
            match self.p.phase() {
                PH_CHAOS => self.chaos_step(),
                PH_STOP => self.stop_step(),
                _ => {
                    self.finish();
                    return;
                }
            }
        }
    }

    fn chaos_step(&mut self) {
        let (data, control) = {
            let t = self.p.table.lock().unwrap();
            (
                t.count(|l| matches!(l_class(l), CL_DATA | CL_EPH)),
                t.count(|l| l_class(l) == CL_CONTROL),
            )
        };
        let owned_data = self.owned.values().filter(|o| !o.eph).count();
        let weights: [(Op, u64); 15] = [
            (Op::Send, if data > 0 { 26 } else { 0 }),
            (Op::Receive, 26),
            (Op::Lookup, if data < 3 || control == 0 { 20 } else { 3 }),
            (
                Op::NewPort,
                if owned_data < 2 {
                    12
                } else if owned_data < 7 {
                    4
                } else {
                    0
                },
            ),
            (Op::Destroy, if owned_data > 0 { 3 } else { 0 }),
            (Op::Move, if owned_data > 0 && control > 0 { 4 } else { 0 }),
            (Op::Member, if self.owned.is_empty() { 0 } else { 7 }),
            (Op::Notify, 6),
            (Op::Eph, if self.eph_count < 2 && data > 0 { 3 } else { 0 }),
            (Op::Reply, if self.stash.is_empty() { 0 } else { 5 }),
            (Op::Release, if data + control > 6 { 3 } else { 1 }),
            (Op::Qlimit, if owned_data > 0 { 2 } else { 0 }),
            (Op::Status, if self.owned.is_empty() { 0 } else { 2 }),
            (Op::SelfSend, if owned_data > 0 { 2 } else { 0 }),
            (Op::Scratch, if self.rng.pct(40) { 1 } else { 0 }),
        ];
        let total: u64 = weights.iter().map(|w| w.1).sum();
        let mut x = self.rng.below(total);
        let mut op = Op::Receive;
        for (o, w) in weights {
            if x < w {
                op = o;
                break;
            }
            x -= w;
        }
        self.op(op, 0);
        let t0 = Instant::now();
        match op {
            Op::Send => self.op_send(),
            Op::Receive => self.op_receive(),
            Op::Lookup => {
                let class = if control == 0 || self.rng.pct(25) {
                    CL_CONTROL
                } else {
                    CL_DATA
                };
                self.op_lookup(class)
            }
            Op::NewPort => self.op_new_port(),
            Op::Destroy => self.op_destroy(),
            Op::Move => self.op_move(),
            Op::Member => self.op_member(),
            Op::Notify => self.op_notify(),
            Op::Eph => self.op_eph(),
            Op::Reply => self.op_reply(),
            Op::Release => self.op_release(),
            Op::Qlimit => self.op_qlimit(),
            Op::Status => self.op_status(),
            Op::SelfSend => self.op_self_send(),
            Op::Scratch => self.op_scratch(),
            _ => {}
        }
        let h = self.v.hdr();
        h.op_n[op as usize].fetch_add(1, Relaxed);
        h.op_us[op as usize].fetch_add(t0.elapsed().as_micros() as u64, Relaxed);
        self.op(Op::Idle, 0);
    }

    /// Receives whatever is queued on every port this thread receives
    /// from; returns how many messages.
    fn drain_pass(&mut self) -> usize {
        let mut n = 0;
        let mut names = vec![
            (self.s1, "set 1"),
            (self.s2, "set 2"),
            (self.p.shared, "the shared set"),
        ];
        for (&name, o) in &self.owned {
            if o.loc == Loc::None {
                names.push((PortName(name), "a port"));
            }
        }
        for (name, what) in names {
            if name != self.s1
                && name != self.s2
                && name != self.p.shared
                && !self.owned.contains_key(&name.0)
            {
                continue; // moved or ended while draining
            }
            let mut k = 0;
            // Handling a message may end the port (an ephemeral port's
            // no-senders notification): look again before each receive.
            while k < 100
                && (name == self.s1
                    || name == self.s2
                    || name == self.p.shared
                    || self.owned.contains_key(&name.0))
                && self.receive_on(name, 0, what)
            {
                k += 1;
            }
            n += k;
        }
        n
    }

    fn stop_step(&mut self) {
        if !self.stopped {
            self.stopped = true;
            self.op(Op::Drain, 0);
            self.v.hdr().idle.store(0, SeqCst);
            self.v.hdr().activity.fetch_add(1, SeqCst);
            for (so, l) in std::mem::take(&mut self.stash) {
                self.send_reply(so, l);
            }
            // Let short-lived ports lose their senders.
            let eph: Vec<(PortName, u32)> = {
                let mut t = self.p.table.lock().unwrap();
                let names: Vec<u32> = t
                    .map
                    .iter()
                    .filter(|(_, e)| l_class(e.0) == CL_EPH)
                    .map(|(n, _)| *n)
                    .collect();
                names
                    .into_iter()
                    .map(|n| (PortName(n), t.take_all(PortName(n))))
                    .collect()
            };
            for (name, k) in eph {
                self.dealloc(name, k, "an ephemeral port's rights at the stop");
            }
        }
        if self.pending_lookup.is_some() {
            self.wait_lookup(200);
        }
        let n = self.drain_pass();
        if n == 0 {
            self.v.hdr().idle.store(1, SeqCst);
            sleep_ms(15);
        }
    }

    fn finish(&mut self) {
        self.op(Op::Final, 0);
        self.drain_pass();
        let owned: Vec<(u32, Owned)> = self.owned.iter().map(|(k, v)| (*k, *v)).collect();
        for (name, o) in owned {
            match self.space().receive_status(TASK, PortName(name)) {
                Ok(st) => {
                    self.held(o.l, u64::from(st.msgcount));
                    if st.msgcount != 0 {
                        self.fail(format!(
                            "{} still has {} messages at the end",
                            lname(o.l),
                            st.msgcount
                        ));
                    }
                }
                Err(e) => self.fail(format!("receive_status({}) at the end: {e}", lname(o.l))),
            }
        }
        for (name, what) in [(self.reply, "reply"), (self.notify, "notify")] {
            match self.space().receive_status(TASK, name) {
                Ok(st) if st.msgcount != 0 => self.fail(format!(
                    "the {what} port still has {} messages at the end",
                    st.msgcount
                )),
                Ok(_) => {}
                Err(e) => self.fail(format!("receive_status({what} port) at the end: {e}")),
            }
        }
        self.v.hdr().done.store(1, SeqCst);
    }

    // --- Operations --------------------------------------------------------

    fn op_send(&mut self) {
        let Some((dest, dl)) = self.borrow(|l| matches!(l_class(l), CL_DATA | CL_EPH)) else {
            return;
        };
        self.op(Op::Send, dl);
        let eph = l_class(dl) == CL_EPH;
        let request = !eph && self.rng.pct(25);
        let mut carried: Vec<(PortName, u64, MsgTypeName)> = Vec::new();
        let mut oolports: Vec<(PortName, u64)> = Vec::new();
        let with_ool = !request && self.rng.pct(15);
        if !request && self.rng.pct(20) {
            if let Some((n, l)) = self.borrow(|_| true) {
                let d = if self.rng.pct(40) {
                    MsgTypeName::MOVE_SEND
                } else {
                    MsgTypeName::COPY_SEND
                };
                carried.push((n, l, d));
            }
        }
        if !request && self.rng.pct(10) {
            for _ in 0..self.rng.range(1, 3) {
                if let Some(x) = self.borrow(|_| true) {
                    oolports.push(x);
                }
            }
        }
        let disp = if eph && self.rng.pct(30) {
            MsgTypeName::MOVE_SEND
        } else {
            MsgTypeName::COPY_SEND
        };
        let kind = K_DATA;
        let Some(seq) = self.begin(kind, dl) else {
            self.give_back(dest, dl);
            for (n, l, _) in carried {
                self.give_back(n, l);
            }
            for (n, l) in oolports {
                self.give_back(n, l);
            }
            return;
        };
        let mut list: Vec<u64> = carried.iter().map(|c| c.1).collect();
        list.extend(oolports.iter().map(|c| c.1));
        let p = self.payload(
            kind,
            seq,
            dl,
            if request { self.reply_l } else { 0 },
            0,
            list,
        );
        let mut msg = Message::new(dest, disp).id(msg_id(kind));
        for &(n, _, d) in &carried {
            msg = msg.port(n, d);
        }
        if !oolports.is_empty() {
            let names: Vec<PortName> = oolports.iter().map(|x| x.0).collect();
            msg = msg.ool_ports(names, MsgTypeName::COPY_SEND);
            self.v.bump(C::OolPortsSent);
        }
        if with_ool {
            let len = if self.rng.pct(80) {
                self.rng.range(1, 3000)
            } else {
                self.rng.range(3000, 40000)
            } as usize;
            msg = msg.ool(ool_pattern(self.stream, seq, len));
            self.v.bump(C::OolSent);
        }
        if request {
            msg = msg.reply_port(self.reply, MsgTypeName::MAKE_SEND_ONCE);
        }
        msg = msg.data(p.encode());
        let timeout = self.rng.pick(&[0u32, 0, 5, 20]).unwrap();
        let r = self.space().send(
            &msg,
            SendOptions {
                timeout: Some(timeout),
                interrupt: false,
            },
        );
        self.end(seq, kind, &r);
        match &r {
            Ok(()) => {
                if request {
                    self.v.hdr().requests.fetch_add(1, SeqCst);
                    self.v.bump(C::Requests);
                }
                if disp != MsgTypeName::MOVE_SEND {
                    self.give_back(dest, dl);
                }
                for (n, l, d) in carried {
                    if d != MsgTypeName::MOVE_SEND {
                        self.give_back(n, l);
                    }
                }
                for (n, l) in oolports {
                    self.give_back(n, l);
                }
                if eph && disp != MsgTypeName::MOVE_SEND && self.rng.pct(25) {
                    // Done with this short-lived port.
                    let k = self.p.table.lock().unwrap().take_all(dest);
                    self.dealloc(dest, k, "an ephemeral port's rights");
                }
            }
            Err(e) => {
                if *e == MsgReturn::MACH_SEND_INVALID_DEST {
                    self.v.bump(C::SendsToDead);
                    self.drop_dead(dest, 1, "its port died");
                } else {
                    if *e == MsgReturn::MACH_SEND_TIMED_OUT {
                        self.v.bump(C::SendsTimedOut);
                    } else {
                        self.fail(format!("send of data to {} via {dest:?}: {e}", lname(dl)));
                    }
                    self.give_back(dest, dl);
                }
                for (n, l, _) in carried {
                    self.give_back(n, l);
                }
                for (n, l) in oolports {
                    self.give_back(n, l);
                }
            }
        }
    }

    fn op_receive(&mut self) {
        let direct: Vec<u32> = self.owned.keys().copied().collect();
        let x = self.rng.below(100);
        let (name, what) = if x < 35 {
            (self.s1, "set 1")
        } else if x < 55 {
            (self.s2, "set 2")
        } else if x < 80 || direct.is_empty() {
            (self.p.shared, "the shared set")
        } else {
            (PortName(self.rng.pick(&direct).unwrap()), "an owned port")
        };
        self.op(Op::Receive, u64::from(name.0));
        let timeout = self.rng.pick(&[0u32, 5, 20, 50]).unwrap();
        self.receive_on(name, timeout, what);
    }

    fn wait_lookup(&mut self, ms: u64) {
        let deadline = now_ms() + ms;
        while self.pending_lookup.is_some() {
            let now = now_ms();
            if now >= deadline {
                break;
            }
            let t = (deadline - now).min(100) as u32;
            match self.recv(self.reply, t) {
                Ok(Some((r, p))) => self.handle(r, p, self.reply),
                Ok(None) => {}
                Err(-1) => break,
                Err(mr) => {
                    self.fail(format!("receive on the reply port: {}", mr_name(mr)));
                    break;
                }
            }
        }
        if self.pending_lookup.take().is_some() {
            self.v.bump(C::LookupTimeouts);
        }
    }

    fn op_lookup(&mut self, class: u64) {
        self.op(Op::Lookup, class);
        let Some(seq) = self.begin(K_LOOKUP, L_R) else {
            return;
        };
        let p = self.payload(K_LOOKUP, seq, L_R, self.reply_l, class, Vec::new());
        let msg = Message::new(self.p.r_send, MsgTypeName::COPY_SEND)
            .id(msg_id(K_LOOKUP))
            .reply_port(self.reply, MsgTypeName::MAKE_SEND_ONCE)
            .data(p.encode());
        let r = self.space().send(
            &msg,
            SendOptions {
                timeout: Some(100),
                interrupt: false,
            },
        );
        self.end(seq, K_LOOKUP, &r);
        match &r {
            Ok(()) => {
                self.v.bump(C::Lookups);
                self.v.hdr().requests.fetch_add(1, SeqCst);
                self.pending_lookup = Some(seq);
                self.wait_lookup(800);
            }
            Err(e) if *e == MsgReturn::MACH_SEND_TIMED_OUT => self.v.bump(C::SendsTimedOut),
            Err(e) => self.fail(format!("lookup request to the registry: {e}")),
        }
    }

    /// Registers port `port` (logical `l`) with the registry; false if the
    /// request could not be sent (then nobody else knows the port).
    fn register(&mut self, port: PortName, l: u64, timeout: u32) -> bool {
        let Some(seq) = self.begin(K_REGISTER, L_R) else {
            return false;
        };
        let p = self.payload(K_REGISTER, seq, L_R, 0, 0, vec![l]);
        let msg = Message::new(self.p.r_send, MsgTypeName::COPY_SEND)
            .id(msg_id(K_REGISTER))
            .port(port, MsgTypeName::MAKE_SEND)
            .data(p.encode());
        let r = self.space().send(
            &msg,
            SendOptions {
                timeout: Some(timeout),
                interrupt: false,
            },
        );
        self.end(seq, K_REGISTER, &r);
        match &r {
            Ok(()) => true,
            Err(e) if *e == MsgReturn::MACH_SEND_TIMED_OUT => false,
            Err(e) => {
                self.fail(format!("register {}: {e}", lname(l)));
                false
            }
        }
    }

    fn op_new_port(&mut self) {
        let port = match self.space().allocate(TASK, PortRight::RECEIVE) {
            Ok(p) => p,
            Err(e) => {
                self.fail(format!("allocate(RECEIVE): {e}"));
                return;
            }
        };
        let l = self.p.new_l(CL_DATA);
        self.op(Op::NewPort, l);
        self.p.hist_add(port, l);
        if !self.register(port, l, 200) {
            self.v.bump(C::RegisterFailed);
            if let Err(e) = self.space().mod_refs(TASK, port, PortRight::RECEIVE, -1) {
                self.fail(format!("destroying unregistered {}: {e}", lname(l)));
            }
            return;
        }
        self.v.bump(C::NewPorts);
        self.owned.insert(
            port.0,
            Owned {
                l,
                loc: Loc::None,
                eph: false,
            },
        );
        if self.rng.pct(30) {
            let q = self.rng.range(1, 8) as u32;
            if let Err(e) = self.space().set_qlimit(TASK, port, q) {
                self.fail(format!("set_qlimit({}, {q}): {e}", lname(l)));
            }
        }
        let loc = self
            .rng
            .pick(&[Loc::None, Loc::S1, Loc::S2, Loc::Shared, Loc::Shared])
            .unwrap();
        if loc != Loc::None {
            match self.space().insert_member(TASK, port, self.set_name(loc)) {
                Ok(()) => self.owned.get_mut(&port.0).unwrap().loc = loc,
                Err(e) => self.fail(format!("insert_member(new {}, {loc:?}): {e}", lname(l))),
            }
        }
        if self.rng.pct(40) {
            self.self_send(port, l);
        }
    }

    fn pick_owned(&mut self, eph: Option<bool>) -> Option<(PortName, Owned)> {
        let c: Vec<u32> = self
            .owned
            .iter()
            .filter(|(_, o)| eph.is_none_or(|e| o.eph == e))
            .map(|(n, _)| *n)
            .collect();
        let n = self.rng.pick(&c)?;
        Some((PortName(n), self.owned[&n]))
    }

    fn op_destroy(&mut self) {
        let Some((port, o)) = self.pick_owned(Some(false)) else {
            return;
        };
        self.op(Op::Destroy, o.l);
        match self.space().mod_refs(TASK, port, PortRight::RECEIVE, -1) {
            Ok(()) => {
                self.owned.remove(&port.0);
                self.v.bump(C::Destroys);
            }
            Err(e) => self.fail(format!("mod_refs({}, RECEIVE, -1): {e}", lname(o.l))),
        }
    }

    fn op_move(&mut self) {
        let Some((port, o)) = self.pick_owned(Some(false)) else {
            return;
        };
        let Some((c, cl)) = self.borrow(|l| l_class(l) == CL_CONTROL) else {
            return;
        };
        self.op(Op::Move, o.l);
        let Some(seq) = self.begin(K_CARRIER, cl) else {
            self.give_back(c, cl);
            return;
        };
        let p = self.payload(K_CARRIER, seq, cl, 0, o.l, vec![o.l]);
        let msg = Message::new(c, MsgTypeName::COPY_SEND)
            .id(msg_id(K_CARRIER))
            .port(port, MsgTypeName::MOVE_RECEIVE)
            .data(p.encode());
        let timeout = self.rng.pick(&[0u32, 10]).unwrap();
        let r = self.space().send(
            &msg,
            SendOptions {
                timeout: Some(timeout),
                interrupt: false,
            },
        );
        self.end(seq, K_CARRIER, &r);
        match &r {
            Ok(()) => {
                self.owned.remove(&port.0);
                self.v.bump(C::Moves);
                self.give_back(c, cl);
            }
            Err(e) if *e == MsgReturn::MACH_SEND_INVALID_DEST => {
                self.v.bump(C::MovesToDead);
                self.drop_dead(c, 1, "the control port died");
            }
            Err(e) => {
                if *e == MsgReturn::MACH_SEND_TIMED_OUT {
                    self.v.bump(C::SendsTimedOut);
                } else {
                    self.fail(format!("moving {} to {}: {e}", lname(o.l), lname(cl)));
                }
                self.give_back(c, cl);
            }
        }
    }

    fn op_member(&mut self) {
        let Some((port, o)) = self.pick_owned(None) else {
            return;
        };
        self.op(Op::Member, o.l);
        self.v.bump(C::MemberOps);
        let targets: &[Loc] = if o.eph {
            &[Loc::None, Loc::S1, Loc::S2]
        } else {
            &[Loc::None, Loc::S1, Loc::S2, Loc::Shared]
        };
        let to = self.rng.pick(targets).unwrap();
        let sp = self.p.clone();
        let s = &sp.space;
        let kr = |r: mach::Result<()>| r.err().and_then(|e| e.kern());
        let set_loc = |th: &mut Th, loc: Loc| th.owned.get_mut(&port.0).unwrap().loc = loc;
        match self.rng.below(6) {
            0 | 1 => {
                let got = kr(s.move_member(TASK, port, self.set_name(to)));
                let want = if to == Loc::None && o.loc == Loc::None {
                    Some(mach::KernReturn::KERN_NOT_IN_SET)
                } else {
                    None
                };
                if got != want {
                    self.fail(format!(
                        "move_member({}, {to:?}) from {:?}: {got:?}, expected {want:?}",
                        lname(o.l),
                        o.loc
                    ));
                } else if got.is_none() {
                    set_loc(self, to);
                }
            }
            2 if to != Loc::None => {
                let got = kr(s.insert_member(TASK, port, self.set_name(to)));
                let want = if o.loc == Loc::None {
                    None
                } else {
                    Some(mach::KernReturn::KERN_ALREADY_IN_SET)
                };
                if got != want {
                    self.fail(format!(
                        "insert_member({}, {to:?}) from {:?}: {got:?}, expected {want:?}",
                        lname(o.l),
                        o.loc
                    ));
                } else if got.is_none() {
                    set_loc(self, to);
                }
            }
            3 if to != Loc::None => {
                let got = kr(s.extract_member(TASK, port, self.set_name(to)));
                let want = if o.loc == to {
                    None
                } else {
                    Some(mach::KernReturn::KERN_NOT_IN_SET)
                };
                if got != want {
                    self.fail(format!(
                        "extract_member({}, {to:?}) from {:?}: {got:?}, expected {want:?}",
                        lname(o.l),
                        o.loc
                    ));
                } else if got.is_none() {
                    set_loc(self, Loc::None);
                }
            }
            4 => {
                self.v.bump(C::SetStatusChecks);
                let which = if self.rng.pct(50) { Loc::S1 } else { Loc::S2 };
                let set = self.set_name(which);
                let mut want: Vec<PortName> = self
                    .owned
                    .iter()
                    .filter(|(_, o)| o.loc == which)
                    .map(|(n, _)| PortName(*n))
                    .collect();
                if which == Loc::S1 {
                    want.push(self.reply);
                    want.push(self.notify);
                }
                want.sort();
                match s.get_set_status(TASK, set) {
                    Ok(got) if got == want => {}
                    Ok(got) => self.fail(format!(
                        "get_set_status({which:?}) = {got:?}, expected {want:?}"
                    )),
                    Err(e) => self.fail(format!("get_set_status({which:?}): {e}")),
                }
            }
            5 if self.rng.pct(30) => {
                // Destroy set 2 with its members in it, and make a new one.
                self.v.bump(C::SetsRecreated);
                if let Err(e) = s.destroy(TASK, self.s2) {
                    self.fail(format!("destroy(set 2): {e}"));
                    return;
                }
                for o in self.owned.values_mut() {
                    if o.loc == Loc::S2 {
                        o.loc = Loc::None;
                    }
                }
                match self.space().allocate(TASK, PortRight::PORT_SET) {
                    Ok(n) => self.s2 = n,
                    Err(e) => {
                        self.fail(format!("allocate(PORT_SET): {e}"));
                        std::process::exit(1);
                    }
                }
            }
            _ => {}
        }
    }

    fn op_notify(&mut self) {
        let sp = self.p.clone();
        let s = &sp.space;
        match self.rng.below(8) {
            0 | 1 => {
                // A dead-name request on a send right (or dead name) we hold.
                let Some((name, l)) = self.borrow(|_| true) else {
                    return;
                };
                self.op(Op::Notify, l);
                self.v.bump(C::DeadNameRequests);
                let cancel = self.rng.pct(15);
                let r = if cancel {
                    s.request_notification(
                        TASK,
                        name,
                        sys::MACH_NOTIFY_DEAD_NAME,
                        0,
                        PortName::NULL,
                        MsgTypeName::MAKE_SEND_ONCE,
                    )
                } else {
                    s.request_notification(
                        TASK,
                        name,
                        sys::MACH_NOTIFY_DEAD_NAME,
                        1,
                        self.notify,
                        MsgTypeName::MAKE_SEND_ONCE,
                    )
                };
                match r {
                    Ok(prev) => {
                        if prev.is_valid() {
                            self.dealloc(prev, 1, "a previous dead-name request's send-once right");
                        }
                    }
                    // Cancelling on a name that died meanwhile.
                    Err(e) if cancel && e == mach::KernReturn::KERN_INVALID_ARGUMENT => {}
                    Err(e) => self.fail(format!(
                        "request_notification(DEAD_NAME, {}, {name:?}): {e}",
                        lname(l)
                    )),
                }
                self.give_back(name, l);
            }
            2 => {
                let Some((port, o)) = self.pick_owned(Some(false)) else {
                    return;
                };
                self.op(Op::Notify, o.l);
                self.v.bump(C::NoSendersRequests);
                let sync = self.rng.below(3) as u32;
                match s.request_notification(
                    TASK,
                    port,
                    sys::MACH_NOTIFY_NO_SENDERS,
                    sync,
                    self.notify,
                    MsgTypeName::MAKE_SEND_ONCE,
                ) {
                    Ok(prev) if prev.is_valid() => {
                        self.dealloc(prev, 1, "a previous no-senders request")
                    }
                    Ok(_) => {}
                    Err(e) => self.fail(format!(
                        "request_notification(NO_SENDERS, {}): {e}",
                        lname(o.l)
                    )),
                }
            }
            3 => {
                let Some((port, o)) = self.pick_owned(Some(false)) else {
                    return;
                };
                self.op(Op::Notify, o.l);
                self.v.bump(C::PdRequestsSelf);
                match s.request_notification(
                    TASK,
                    port,
                    sys::MACH_NOTIFY_PORT_DESTROYED,
                    0,
                    self.notify,
                    MsgTypeName::MAKE_SEND_ONCE,
                ) {
                    Ok(prev) if prev.is_valid() => {
                        self.dealloc(prev, 1, "a previous port-destroyed request")
                    }
                    Ok(_) => {}
                    Err(e) => self.fail(format!(
                        "request_notification(PORT_DESTROYED, {}, own notify port): {e}",
                        lname(o.l)
                    )),
                }
            }
            4 | 5 => {
                let Some((port, o)) = self.pick_owned(Some(false)) else {
                    return;
                };
                self.op(Op::Notify, o.l);
                self.v.bump(C::PdRequestsKeeper);
                let so = match s.extract_right(
                    self.p.sup_task,
                    self.p.k_sup,
                    MsgTypeName::MAKE_SEND_ONCE,
                ) {
                    Ok((so, MsgTypeName::PORT_SEND_ONCE)) => so,
                    Ok(other) => {
                        self.fail(format!("extract_right(K, MAKE_SEND_ONCE) = {other:?}"));
                        return;
                    }
                    Err(e) => {
                        self.fail(format!("extract_right(K, MAKE_SEND_ONCE): {e}"));
                        return;
                    }
                };
                match s.request_notification(
                    TASK,
                    port,
                    sys::MACH_NOTIFY_PORT_DESTROYED,
                    0,
                    so,
                    MsgTypeName::MOVE_SEND_ONCE,
                ) {
                    Ok(prev) if prev.is_valid() => {
                        self.dealloc(prev, 1, "a previous port-destroyed request")
                    }
                    Ok(_) => {}
                    Err(e) => {
                        self.fail(format!(
                            "request_notification(PORT_DESTROYED, {}, K): {e}",
                            lname(o.l)
                        ));
                        self.dealloc(so, 1, "an unused send-once right to K");
                    }
                }
            }
            6 => {
                let Some((port, o)) = self.pick_owned(Some(false)) else {
                    return;
                };
                self.op(Op::Notify, o.l);
                let clear = self.rng.pct(25);
                let backup = if clear {
                    PortName::NULL
                } else {
                    self.p.kb_send
                };
                self.v.bump(if clear {
                    C::BackupsCleared
                } else {
                    C::BackupsSet
                });
                match s.port_set_backup(TASK, port, backup) {
                    Ok(prev) if prev.is_valid() => {
                        if prev != self.p.kb_send {
                            self.fail(format!(
                                "port_set_backup({}) returned {prev:?}, not our KB right {:?}",
                                lname(o.l),
                                self.p.kb_send
                            ));
                        }
                        self.dealloc(prev, 1, "the previous backup's send right");
                    }
                    Ok(_) => {}
                    Err(e) => {
                        self.fail(format!("port_set_backup({}, {backup:?}): {e}", lname(o.l)))
                    }
                }
            }
            _ => {
                // Cancel a no-senders request (whatever is registered).
                let Some((port, o)) = self.pick_owned(Some(false)) else {
                    return;
                };
                self.op(Op::Notify, o.l);
                self.v.bump(C::NoSendersRequests);
                match s.request_notification(
                    TASK,
                    port,
                    sys::MACH_NOTIFY_NO_SENDERS,
                    0,
                    PortName::NULL,
                    MsgTypeName::MAKE_SEND_ONCE,
                ) {
                    Ok(prev) if prev.is_valid() => {
                        self.dealloc(prev, 1, "a cancelled no-senders request")
                    }
                    Ok(_) => {}
                    Err(e) => self.fail(format!("cancelling NO_SENDERS on {}: {e}", lname(o.l))),
                }
            }
        }
    }

    fn op_eph(&mut self) {
        let sp = self.p.clone();
        let s = &sp.space;
        let e = match s.allocate(TASK, PortRight::RECEIVE) {
            Ok(e) => e,
            Err(err) => {
                self.fail(format!("allocate(ephemeral): {err}"));
                return;
            }
        };
        let l = self.p.new_l(CL_EPH);
        self.op(Op::Eph, l);
        self.p.hist_add(e, l);
        let destroy = |th: &Th| {
            if let Err(err) = th.space().mod_refs(TASK, e, PortRight::RECEIVE, -1) {
                th.fail(format!("destroying ephemeral {}: {err}", lname(l)));
            }
        };
        // The no-senders notification comes to the port itself.
        match s.request_notification(
            TASK,
            e,
            sys::MACH_NOTIFY_NO_SENDERS,
            1,
            e,
            MsgTypeName::MAKE_SEND_ONCE,
        ) {
            Ok(prev) if prev == PortName::NULL => {}
            other => {
                self.fail(format!(
                    "request_notification(NO_SENDERS, new {}, itself): {other:?}",
                    lname(l)
                ));
                destroy(self);
                return;
            }
        }
        let Some((dest, dl)) = self.borrow(|l| l_class(l) == CL_DATA) else {
            destroy(self);
            return;
        };
        let Some(seq) = self.begin(K_EPH, dl) else {
            self.give_back(dest, dl);
            destroy(self);
            return;
        };
        let p = self.payload(K_EPH, seq, dl, 0, 0, vec![l]);
        let msg = Message::new(dest, MsgTypeName::COPY_SEND)
            .id(msg_id(K_EPH))
            .port(e, MsgTypeName::MAKE_SEND)
            .data(p.encode());
        let r = self.space().send(
            &msg,
            SendOptions {
                timeout: Some(10),
                interrupt: false,
            },
        );
        self.end(seq, K_EPH, &r);
        match &r {
            Ok(()) => {
                self.give_back(dest, dl);
                self.eph_count += 1;
                self.v.bump(C::Ephemeral);
                let loc = self.rng.pick(&[Loc::None, Loc::S1, Loc::S2]).unwrap();
                self.owned.insert(
                    e.0,
                    Owned {
                        l,
                        loc: Loc::None,
                        eph: true,
                    },
                );
                if loc != Loc::None {
                    match self.space().insert_member(TASK, e, self.set_name(loc)) {
                        Ok(()) => self.owned.get_mut(&e.0).unwrap().loc = loc,
                        Err(err) => self.fail(format!("insert_member(ephemeral, {loc:?}): {err}")),
                    }
                }
            }
            Err(err) => {
                if *err == MsgReturn::MACH_SEND_INVALID_DEST {
                    self.v.bump(C::SendsToDead);
                    self.drop_dead(dest, 1, "its port died");
                } else {
                    if *err == MsgReturn::MACH_SEND_TIMED_OUT {
                        self.v.bump(C::SendsTimedOut);
                    } else {
                        self.fail(format!(
                            "sending ephemeral {} to {}: {err}",
                            lname(l),
                            lname(dl)
                        ));
                    }
                    self.give_back(dest, dl);
                }
                destroy(self);
            }
        }
    }

    fn op_reply(&mut self) {
        if self.stash.is_empty() {
            return;
        }
        let i = self.rng.below(self.stash.len() as u64) as usize;
        let (so, l) = self.stash.swap_remove(i);
        self.op(Op::Reply, l);
        if self.rng.pct(70) {
            self.send_reply(so, l);
        } else {
            self.v.bump(C::SendOnceDestroyed);
            self.dealloc(so, 1, "a kept send-once right, unanswered");
        }
    }

    fn op_release(&mut self) {
        let (name, k) = {
            let mut t = self.p.table.lock().unwrap();
            let names: Vec<u32> = t.map.keys().copied().collect();
            let Some(n) = self.rng.pick(&names) else {
                return;
            };
            (PortName(n), t.take_all(PortName(n)))
        };
        self.op(Op::Release, u64::from(name.0));
        self.v.bump(C::Releases);
        self.dealloc(name, k, "released");
    }

    fn op_qlimit(&mut self) {
        let Some((port, o)) = self.pick_owned(None) else {
            return;
        };
        self.op(Op::Qlimit, o.l);
        self.v.bump(C::Qlimits);
        let q = self.rng.range(1, 10) as u32;
        if let Err(e) = self.space().set_qlimit(TASK, port, q) {
            self.fail(format!("set_qlimit({}, {q}): {e}", lname(o.l)));
        }
    }

    fn op_status(&mut self) {
        let Some((port, o)) = self.pick_owned(None) else {
            return;
        };
        self.op(Op::Status, o.l);
        self.v.bump(C::StatusChecks);
        match self.space().receive_status(TASK, port) {
            Ok(st) => {
                let want = self.set_name(o.loc).0;
                if st.pset != want {
                    self.fail(format!(
                        "receive_status({}).pset = {:#x}, expected {want:#x} ({:?})",
                        lname(o.l),
                        st.pset,
                        o.loc
                    ));
                }
            }
            Err(e) => self.fail(format!("receive_status({}): {e}", lname(o.l))),
        }
    }

    fn self_send(&mut self, port: PortName, l: u64) {
        self.v.bump(C::SelfSends);
        match self
            .space()
            .insert_right(TASK, port, port, MsgTypeName::MAKE_SEND)
        {
            Ok(()) => self.give_back(port, l),
            Err(e) => self.fail(format!("insert_right({}, MAKE_SEND): {e}", lname(l))),
        }
    }

    fn op_self_send(&mut self) {
        let Some((port, o)) = self.pick_owned(Some(false)) else {
            return;
        };
        self.op(Op::SelfSend, o.l);
        self.self_send(port, o.l);
    }

    /// A scratch space, closed with messages, rights and a set in it.
    fn op_scratch(&mut self) {
        self.op(Op::Scratch, 0);
        self.v.bump(C::ScratchSpaces);
        let s = match Space::open() {
            Ok(s) => s,
            Err(e) => {
                self.fail(format!("opening a scratch space: {e}"));
                return;
            }
        };
        let go = || -> mach::Result<()> {
            let a = s.allocate(TASK, PortRight::RECEIVE)?;
            let b = s.allocate(TASK, PortRight::RECEIVE)?;
            let set = s.allocate(TASK, PortRight::PORT_SET)?;
            s.insert_member(TASK, a, set)?;
            let now = SendOptions {
                timeout: Some(0),
                interrupt: false,
            };
            s.send(
                &Message::new(a, MsgTypeName::MAKE_SEND)
                    .port(b, MsgTypeName::MAKE_SEND)
                    .ool(vec![7u8; 5000])
                    .data(vec![1u8; 40]),
                now,
            )?;
            s.send(
                &Message::new(b, MsgTypeName::MAKE_SEND_ONCE).port(a, MsgTypeName::MAKE_SEND_ONCE),
                now,
            )?;
            s.request_notification(
                TASK,
                a,
                sys::MACH_NOTIFY_DEAD_NAME,
                0,
                b,
                MsgTypeName::MAKE_SEND_ONCE,
            )?;
            s.request_notification(
                TASK,
                b,
                sys::MACH_NOTIFY_PORT_DESTROYED,
                0,
                a,
                MsgTypeName::MAKE_SEND_ONCE,
            )?;
            s.send(
                &Message::new(a, MsgTypeName::MAKE_SEND).port(b, MsgTypeName::MOVE_RECEIVE),
                now,
            )?;
            Ok(())
        };
        if let Err(e) = go() {
            self.fail(format!("scratch space: {e}"));
        }
        drop(s);
    }
}

// ---------------------------------------------------------------------------
// The registry (in the supervisor).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PState {
    Live,
    Dead { phase: u32 },
}

#[derive(Debug)]
struct PortInfo {
    name: u32,
    state: PState,
    notes: Vec<String>,
}

#[derive(Clone, Copy, Debug)]
struct SendInfo {
    dest: u64,
    kind: u32,
    state: u64,
    code: u32,
}

#[derive(Default)]
struct RegCtl {
    idle: AtomicU32,
    activity: AtomicU64,
    /// 0 run, 1 tear down (destroy the receive rights held), 2 exit.
    stop: AtomicU32,
    /// Registered ports not dead yet, and receive rights held.
    live: AtomicU64,
    held: AtomicU64,
}

struct RegOut {
    sends: Vec<SendInfo>,
    recvs: Vec<(u64, u64, u64, u32)>,
    ports: HashMap<u64, PortInfo>,
    fails: Vec<String>,
    counters: BTreeMap<&'static str, u64>,
}

struct Reg {
    space: Arc<Space>,
    rng: Rng,
    global: &'static Global,
    ctl: Arc<RegCtl>,
    r: PortName,
    d: PortName,
    k: PortName,
    kb: PortName,
    rs: PortName,
    by_name: HashMap<u32, u64>,
    ports: HashMap<u64, PortInfo>,
    live: [Vec<u64>; 2],
    rescued: BTreeMap<u32, u64>,
    parked: BTreeSet<u32>,
    out: RegOut,
}

impl Reg {
    fn fail(&mut self, msg: String) {
        if self.out.fails.len() < 40 {
            self.out.fails.push(format!("registry: {msg}"));
        } else if self.out.fails.len() == 40 {
            self.out
                .fails
                .push("registry: (more failures not shown)".into());
        }
    }
    fn count(&mut self, what: &'static str) {
        *self.out.counters.entry(what).or_default() += 1;
    }
    fn note(&mut self, l: u64, note: String) {
        if let Some(p) = self.ports.get_mut(&l) {
            if p.notes.len() < 12 {
                p.notes.push(note);
            }
        }
    }
    fn phase(&self) -> u32 {
        self.global.phase.load(Acquire)
    }
    fn live_idx(class: u64) -> Option<usize> {
        match class {
            CL_CONTROL => Some(0),
            CL_DATA => Some(1),
            _ => None,
        }
    }

    fn begin(&mut self, kind: u32, dest: u64) -> u64 {
        self.out.sends.push(SendInfo {
            dest,
            kind,
            state: ST_INTENT,
            code: 0,
        });
        self.out.sends.len() as u64 - 1
    }
    fn end(&mut self, seq: u64, r: &mach::Result<()>) {
        let s = &mut self.out.sends[seq as usize];
        match r {
            Ok(()) => s.state = ST_SENT,
            Err(e) => {
                s.state = ST_FAILED;
                s.code = mr_of(e) as u32;
            }
        }
    }
    fn payload(&mut self, kind: u32, seq: u64, dest: u64, aux: u64, list: Vec<u64>) -> Payload {
        Payload {
            kind,
            pid: std::process::id(),
            stream: stream_id(0, 0),
            seq,
            dest,
            reply: 0,
            aux,
            list,
            pad: self.rng.below(100) as u32,
        }
    }

    fn run(mut self) -> RegOut {
        loop {
            let stop = self.ctl.stop.load(Acquire);
            if stop >= 2 {
                break;
            }
            // At the end, every receive right the registry holds is
            // destroyed, also ones that arrive after the first look.
            if stop == 1 && !(self.rescued.is_empty() && self.parked.is_empty()) {
                let held: Vec<u32> = self
                    .rescued
                    .keys()
                    .chain(self.parked.iter())
                    .copied()
                    .collect();
                for x in held {
                    if let Some(&l) = self.rescued.get(&x) {
                        self.note(l, "destroyed by the registry at the end".into());
                    }
                    if let Err(e) = self
                        .space
                        .mod_refs(TASK, PortName(x), PortRight::RECEIVE, -1)
                    {
                        self.fail(format!(
                            "destroying held receive right {x:#x} at the end: {e}"
                        ));
                    }
                }
                self.rescued.clear();
                self.parked.clear();
            }
            if self.phase() == PH_CHAOS && !self.rescued.is_empty() && self.rng.pct(25) {
                self.rehome();
            }
            let r = self.space.receive(
                self.rs,
                RecvOptions {
                    timeout: Some(50),
                    max_size: 2048,
                    ..Default::default()
                },
            );
            match r {
                Ok(msg) => {
                    self.ctl.idle.store(0, SeqCst);
                    self.ctl.activity.fetch_add(1, SeqCst);
                    self.handle(msg);
                }
                Err(e) if e == MsgReturn::MACH_RCV_TIMED_OUT => self.ctl.idle.store(1, SeqCst),
                Err(e) => {
                    self.fail(format!("receive on the registry's set: {e}"));
                    sleep_ms(50);
                }
            }
            let live = self
                .ports
                .values()
                .filter(|p| p.state == PState::Live)
                .count();
            self.ctl.live.store(live as u64, SeqCst);
            self.ctl
                .held
                .store((self.rescued.len() + self.parked.len()) as u64, SeqCst);
        }
        self.out.ports = std::mem::take(&mut self.ports);
        self.out
    }

    fn handle(&mut self, r: Received) {
        if !is_ours(r.id) {
            return self.handle_notification(r);
        }
        let p = match Payload::decode(&r.data) {
            Ok(p) => p,
            Err(e) => {
                self.fail(format!("a corrupt message on {:?}: {e}", r.local));
                let _ = r.destroy(&self.space);
                return;
            }
        };
        self.out.recvs.push((p.stream, p.seq, p.dest, r.local.0));
        if let Some(a) = r.trailer.audit {
            if a.pid() != p.pid as i32 {
                self.fail(format!(
                    "{} seq {} from pid {} arrived with audit pid {}",
                    sname(p.stream),
                    p.seq,
                    p.pid,
                    a.pid()
                ));
            }
        }
        let expected = if r.local == self.r {
            Some(L_R)
        } else if let Some(&l) = self.rescued.get(&r.local.0) {
            Some(l)
        } else if self.parked.contains(&r.local.0) {
            None
        } else {
            Some(0)
        };
        if let Some(l) = expected {
            if l != p.dest {
                self.fail(format!(
                    "misdelivered: {} {} seq {} for {} arrived on {:?} ({})",
                    kind_name(p.kind),
                    sname(p.stream),
                    p.seq,
                    lname(p.dest),
                    r.local,
                    if l == 0 {
                        "not a port that takes our messages".to_string()
                    } else {
                        lname(l)
                    }
                ));
            }
        }
        match p.kind {
            K_REGISTER => self.on_register(r, p),
            K_LOOKUP => self.on_lookup(r, p),
            K_DATA | K_EPH => {
                // On a port we took in: check and release what it carries.
                self.count("data_received");
                for d in &r.descriptors {
                    match d {
                        ReceivedDescriptor::Port { name, .. } if name.is_valid() => {
                            if let Err(e) = self.space.deallocate(TASK, *name) {
                                self.fail(format!("deallocate(carried {name:?}): {e}"));
                            }
                        }
                        ReceivedDescriptor::OolPorts { names, .. } => {
                            for n in names.iter().filter(|n| n.is_valid()) {
                                if let Err(e) = self.space.deallocate(TASK, *n) {
                                    self.fail(format!("deallocate(carried {n:?}): {e}"));
                                }
                            }
                        }
                        ReceivedDescriptor::Ool { data, size, .. }
                            if data[..] != ool_pattern(p.stream, p.seq, *size as usize)[..] =>
                        {
                            self.fail(format!(
                                "out-of-line data of {} seq {} differs",
                                sname(p.stream),
                                p.seq
                            ));
                        }
                        _ => {}
                    }
                }
                if r.reply_type() == MsgTypeName::PORT_SEND_ONCE && r.remote.is_valid() {
                    self.reply(r.remote, p.reply, K_REPLY, 0, None);
                }
            }
            _ => self.fail(format!(
                "a {} message arrived at the registry",
                kind_name(p.kind)
            )),
        }
    }

    fn reply(
        &mut self,
        so: PortName,
        dest: u64,
        kind: u32,
        aux: u64,
        right: Option<(PortName, u64)>,
    ) {
        let seq = self.begin(kind, dest);
        let list = right.map(|r| vec![r.1]).unwrap_or_default();
        let p = self.payload(kind, seq, dest, aux, list);
        let mut msg = Message::new(so, MsgTypeName::MOVE_SEND_ONCE).id(msg_id(kind));
        if let Some((name, _)) = right {
            msg = msg.port(name, MsgTypeName::COPY_SEND);
        }
        msg = msg.data(p.encode());
        let r = self.space.send(
            &msg,
            SendOptions {
                timeout: Some(0),
                interrupt: false,
            },
        );
        self.end(seq, &r);
        match &r {
            Ok(()) => self.count("replies"),
            Err(e) if *e == MsgReturn::MACH_SEND_INVALID_DEST => {
                self.count("replies_to_dead_ports");
                if let Err(e) = self.space.deallocate(TASK, so) {
                    self.fail(format!("deallocate(dead reply right {so:?}): {e}"));
                }
            }
            Err(e) => self.fail(format!("{} to {}: {e}", kind_name(kind), lname(dest))),
        }
    }

    fn on_register(&mut self, r: Received, p: Payload) {
        self.count("registrations");
        let (x, l) = match (r.descriptors.as_slice(), p.list.as_slice()) {
            ([ReceivedDescriptor::Port { name, kind }], [l])
                if *kind == MsgTypeName::PORT_SEND || *name == PortName::DEAD =>
            {
                (*name, *l)
            }
            (d, _) => {
                self.fail(format!(
                    "a registration with descriptors {d:?} and list {:?}",
                    p.list
                ));
                let _ = r.destroy(&self.space);
                return;
            }
        };
        if self.ports.contains_key(&l) {
            self.fail(format!("{} registered twice", lname(l)));
            return;
        }
        if x == PortName::DEAD {
            self.count("registered_dead");
            self.ports.insert(
                l,
                PortInfo {
                    name: 0,
                    state: PState::Dead {
                        phase: self.phase(),
                    },
                    notes: vec!["died before its registration arrived".into()],
                },
            );
            return;
        }
        if !x.is_valid() {
            self.fail(format!("the registration of {} brought {x:?}", lname(l)));
            return;
        }
        if let Some(&l2) = self.by_name.get(&x.0) {
            self.fail(format!(
                "the send right of newly registered {} arrived under {x:?}, the name of {}",
                lname(l),
                lname(l2)
            ));
            return;
        }
        let mut notes = vec![format!("registered under {x:?}")];
        if self.parked.remove(&x.0) {
            // Its port-destroyed notification came first.
            self.rescued.insert(x.0, l);
            notes.push("its receive right was already here".into());
        }
        self.by_name.insert(x.0, l);
        self.ports.insert(
            l,
            PortInfo {
                name: x.0,
                state: PState::Live,
                notes,
            },
        );
        if let Some(i) = Self::live_idx(l_class(l)) {
            self.live[i].push(l);
        }
        match self.space.request_notification(
            TASK,
            x,
            sys::MACH_NOTIFY_DEAD_NAME,
            1,
            self.d,
            MsgTypeName::MAKE_SEND_ONCE,
        ) {
            Ok(prev) if prev.is_valid() => {
                self.fail(format!(
                    "a dead-name request on new {} replaced one ({prev:?})",
                    lname(l)
                ));
                let _ = self.space.deallocate(TASK, prev);
            }
            Ok(_) => {}
            Err(e) => self.fail(format!(
                "request_notification(DEAD_NAME, {} {x:?}): {e}",
                lname(l)
            )),
        }
    }

    fn on_lookup(&mut self, r: Received, p: Payload) {
        self.count("lookups");
        if r.reply_type() != MsgTypeName::PORT_SEND_ONCE {
            self.fail(format!("a lookup with reply type {:?}", r.reply_type()));
            return;
        }
        if !r.remote.is_valid() {
            self.count("lookups_from_dead_ports");
            return;
        }
        let right = Self::live_idx(p.aux).and_then(|i| {
            let v = &self.live[i];
            let c: Vec<u64> = v.clone();
            self.rng.pick(&c)
        });
        let right = right.map(|l| (PortName(self.ports[&l].name), l));
        self.reply(r.remote, p.reply, K_LOOKUP_REPLY, p.seq, right);
    }

    fn handle_notification(&mut self, r: Received) {
        if !zero_audit(&r) {
            self.fail(format!(
                "a notification on {:?} with audit token {:?}",
                r.local, r.trailer.audit
            ));
        }
        match Notification::from_received(&r) {
            Some(Notification::DeadName { name }) if r.local == self.d => self.on_dead(name),
            Some(Notification::PortDestroyed { right })
                if r.local == self.k || r.local == self.kb =>
            {
                self.on_rescue(right, if r.local == self.k { "K" } else { "KB" })
            }
            Some(Notification::SendOnce) => self.count("n_send_once"),
            Some(Notification::PortDeleted { name }) => {
                self.fail(format!(
                    "a port-deleted notification for {name:?} on {:?}",
                    r.local
                ));
            }
            Some(Notification::NoSenders { .. }) => self.count("n_no_senders"),
            other => {
                self.fail(format!(
                    "unexpected: {other:?} (id {:#x}, size {}) on {:?}",
                    r.id, r.size, r.local
                ));
                let _ = r.destroy(&self.space);
            }
        }
    }

    fn on_dead(&mut self, x: PortName) {
        self.count("n_dead_name");
        let Some(l) = self.by_name.remove(&x.0) else {
            self.fail(format!(
                "a dead-name notification for {x:?}, which names no registered port"
            ));
            let _ = self.space.deallocate(TASK, x);
            return;
        };
        if self.rescued.remove(&x.0).is_some() {
            self.fail(format!(
                "{} died while the registry held its receive right",
                lname(l)
            ));
        }
        let phase = self.phase();
        let twice = match self.ports.get_mut(&l) {
            Some(p) => std::mem::replace(&mut p.state, PState::Dead { phase }) != PState::Live,
            None => false,
        };
        if twice {
            self.fail(format!("{} died twice", lname(l)));
        }
        self.note(l, format!("dead-name notification in phase {phase}"));
        if let Some(i) = Self::live_idx(l_class(l)) {
            self.live[i].retain(|&y| y != l);
        }
        // The registration's reference and the notification's.
        if let Err(e) = self.space.mod_refs(TASK, x, PortRight::DEAD_NAME, -2) {
            let refs = self.space.get_refs(TASK, x, PortRight::DEAD_NAME);
            let ty = self.space.port_type(TASK, x);
            self.fail(format!(
                "mod_refs(dead {} {x:?}, DEAD_NAME, -2): {e} (type {ty:?}, dead-name refs {refs:?})",
                lname(l)
            ));
            let _ = self.space.destroy(TASK, x);
        }
    }

    fn on_rescue(&mut self, x: PortName, via: &str) {
        self.count(if via == "K" {
            "n_port_destroyed_k"
        } else {
            "n_port_destroyed_kb"
        });
        if !x.is_valid() {
            self.fail(format!(
                "a port-destroyed notification on {via} with right {x:?}"
            ));
            return;
        }
        match self.by_name.get(&x.0).copied() {
            Some(l) => {
                self.rescued.insert(x.0, l);
                self.note(l, format!("taken in through {via}"));
            }
            None => {
                self.parked.insert(x.0);
                self.count("parked");
            }
        }
        if let Err(e) = self.space.insert_member(TASK, x, self.rs) {
            self.fail(format!("insert_member(taken-in {x:?}, registry set): {e}"));
        }
    }

    /// Moves a port taken in on to a live worker's control port.
    fn rehome(&mut self) {
        let held: Vec<(u32, u64)> = self.rescued.iter().map(|(k, v)| (*k, *v)).collect();
        let Some((x, l)) = self.rng.pick(&held) else {
            return;
        };
        let c: Vec<u64> = self.live[0].clone();
        let Some(cl) = self.rng.pick(&c) else { return };
        let cn = PortName(self.ports[&cl].name);
        let x = PortName(x);
        if self.rng.pct(50) {
            match self.space.port_set_backup(TASK, x, self.kb) {
                Ok(prev) if prev.is_valid() => {
                    if let Err(e) = self.space.deallocate(TASK, prev) {
                        self.fail(format!("deallocate(previous backup {prev:?}): {e}"));
                    }
                }
                Ok(_) => {}
                Err(e) => self.fail(format!("port_set_backup({}, KB): {e}", lname(l))),
            }
        }
        let seq = self.begin(K_CARRIER, cl);
        let p = self.payload(K_CARRIER, seq, cl, l, vec![l]);
        let msg = Message::new(cn, MsgTypeName::COPY_SEND)
            .id(msg_id(K_CARRIER))
            .port(x, MsgTypeName::MOVE_RECEIVE)
            .data(p.encode());
        let r = self.space.send(
            &msg,
            SendOptions {
                timeout: Some(0),
                interrupt: false,
            },
        );
        self.end(seq, &r);
        match &r {
            Ok(()) => {
                self.rescued.remove(&x.0);
                self.count("rehomed");
                self.note(l, format!("moved on to {}", lname(cl)));
            }
            Err(e)
                if *e == MsgReturn::MACH_SEND_INVALID_DEST
                    || *e == MsgReturn::MACH_SEND_TIMED_OUT =>
            {
                self.count("rehome_failed")
            }
            Err(e) => self.fail(format!("moving {} on to {}: {e}", lname(l), lname(cl))),
        }
    }
}

// ---------------------------------------------------------------------------
// The supervisor.

struct Inc {
    id: u32,
    started: Instant,
    slot: usize,
    pid: i32,
    shm: Shm,
    _fd: OwnedFd,
    /// SIGKILLed by us (or died by itself: then `abnormal` says how).
    killed: bool,
    killed_at: Option<Instant>,
    /// Reaped (or given up on).
    exited: bool,
    abnormal: Option<String>,
    ready_after: Option<Duration>,
    stuck: bool,
}

impl Inc {
    /// At work: started, not killed, not ended.
    fn alive(&self) -> bool {
        !self.exited && self.killed_at.is_none()
    }
}

struct Sup {
    cfg: Config,
    rng: Rng,
    space: Arc<Space>,
    global_fd: OwnedFd,
    names: [u32; 3],
    incs: Vec<Inc>,
    slots: Vec<Option<usize>>,
    lay: Layout,
    kills: u64,
    restarts: u64,
    problems: Vec<String>,
    reap_ms: Vec<u64>,
}

fn wait_status(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!("exited with status {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("wait status {status:#x}")
    }
}

impl Sup {
    fn start_worker(&mut self, slot: usize) -> Result<(), String> {
        let id = self.incs.len() as u32 + 1;
        let size = self.lay.total();
        let fd = memfd(&format!("mach-stress-w{id}"), size).map_err(|e| format!("memfd: {e}"))?;
        let base = map_shared(fd.as_raw_fd(), size).map_err(|e| format!("mmap: {e}"))?;
        let shm = Shm {
            base,
            lay: self.lay,
        };
        let ih = shm.inc();
        ih.nthreads.store(self.lay.nthreads as u32, SeqCst);
        ih.cap_s.store(self.lay.cap_s as u64, SeqCst);
        ih.cap_r.store(self.lay.cap_r as u64, SeqCst);
        ih.cap_h.store(self.lay.cap_h as u64, SeqCst);
        ih.state.store(INC_STARTING, SeqCst);
        ih.magic.store(INC_MAGIC, SeqCst);
        let seed = mix(self.cfg.seed, u64::from(id));
        let sup_fd = self.space.as_raw_fd();
        let args: Vec<CString> = [
            "mach-stress".to_string(),
            "--worker".to_string(),
            id.to_string(),
            seed.to_string(),
            sup_fd.to_string(),
            fd.as_raw_fd().to_string(),
            self.global_fd.as_raw_fd().to_string(),
            self.names[0].to_string(),
            self.names[1].to_string(),
            self.names[2].to_string(),
            std::process::id().to_string(),
        ]
        .into_iter()
        .map(|s| CString::new(s).unwrap())
        .collect();
        let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
        argv.push(ptr::null());
        let exe = CString::new("/proc/self/exe").unwrap();
        let fds = [sup_fd, fd.as_raw_fd(), self.global_fd.as_raw_fd()];
        // SAFETY: Between fork and exec the child calls only fcntl, execv
        // and _exit, which are async-signal-safe; everything they use was
        // prepared before the fork.
        let pid = unsafe {
            let pid = libc::fork();
            if pid == 0 {
                for f in fds {
                    let fl = libc::fcntl(f, libc::F_GETFD);
                    libc::fcntl(f, libc::F_SETFD, fl & !libc::FD_CLOEXEC);
                }
                libc::execv(exe.as_ptr(), argv.as_ptr());
                libc::_exit(127);
            }
            pid
        };
        if pid < 0 {
            return Err(format!("fork: {}", std::io::Error::last_os_error()));
        }
        self.incs.push(Inc {
            id,
            started: Instant::now(),
            slot,
            pid,
            shm,
            _fd: fd,
            killed: false,
            killed_at: None,
            exited: false,
            abnormal: None,
            ready_after: None,
            stuck: false,
        });
        self.slots[slot] = Some(self.incs.len() - 1);
        Ok(())
    }

    fn reap(&mut self, i: usize, status: i32) {
        let inc = &mut self.incs[i];
        inc.exited = true;
        if let Some(t) = inc.killed_at {
            self.reap_ms.push(t.elapsed().as_millis() as u64);
        }
        if self.slots[inc.slot] == Some(i) {
            self.slots[inc.slot] = None;
        }
        let by_us =
            inc.killed && libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL;
        let finished = inc.shm.inc().state.load(SeqCst) == INC_FINISHED
            && libc::WIFEXITED(status)
            && libc::WEXITSTATUS(status) == 0;
        if !by_us && !finished {
            let why = wait_status(status);
            inc.abnormal = Some(why.clone());
            inc.killed = true; // its ports died with it, as a killed one's
            self.problems.push(format!(
                "worker {} (pid {}) {why} without being told to",
                inc_name(inc.id),
                inc.pid
            ));
        }
    }

    /// Reaps workers that ended (killed or by themselves), and notes how
    /// long new ones took to get ready.
    fn poll_exits(&mut self) {
        for i in 0..self.incs.len() {
            if self.incs[i].exited {
                continue;
            }
            if self.incs[i].ready_after.is_none()
                && self.incs[i].shm.inc().state.load(SeqCst) == INC_READY
            {
                self.incs[i].ready_after = Some(self.incs[i].started.elapsed());
            }
            let mut status = 0;
            // SAFETY: A plain syscall.
            let r = unsafe { libc::waitpid(self.incs[i].pid, &mut status, libc::WNOHANG) };
            if r == self.incs[i].pid {
                self.reap(i, status);
            } else if let Some(t) = self.incs[i].killed_at {
                if t.elapsed() > Duration::from_secs(60) && !self.incs[i].stuck {
                    self.incs[i].stuck = true;
                    self.problems.push(format!(
                        "worker {} (pid {}) did not die within 60 s of SIGKILL (stuck in the kernel?): {}",
                        inc_name(self.incs[i].id),
                        self.incs[i].pid,
                        self.describe_threads(i)
                    ));
                }
            }
        }
    }

    /// SIGKILL; the process is reaped later (poll_exits), its slot is free
    /// at once.
    fn kill(&mut self, i: usize) {
        let inc = &mut self.incs[i];
        inc.killed = true;
        inc.killed_at = Some(Instant::now());
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", inc.pid)) {
            for tid in tasks
                .flatten()
                .filter_map(|t| t.file_name().to_str()?.parse::<u32>().ok())
            {
                // SAFETY: A plain syscall.
                unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, 0) };
            }
        }
        // SAFETY: A plain syscall on our child.
        unsafe { libc::kill(inc.pid, libc::SIGKILL) };
        if self.slots[inc.slot] == Some(i) {
            self.slots[inc.slot] = None;
        }
        self.kills += 1;
    }

    /// Waits until every killed worker has been reaped: its log is final
    /// and its space gone only then.
    fn reap_killed(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            self.poll_exits();
            let dying: Vec<usize> = (0..self.incs.len())
                .filter(|&i| !self.incs[i].exited && self.incs[i].killed_at.is_some())
                .collect();
            if dying.is_empty() {
                return;
            }
            if Instant::now() > deadline {
                for i in dying {
                    // Reported by poll_exits; do not wait for it any more.
                    self.incs[i].exited = true;
                }
                return;
            }
            sleep_ms(10);
        }
    }

    fn describe_threads(&self, i: usize) -> String {
        let inc = &self.incs[i];
        let now = now_ms();
        let mut s = String::new();
        for t in 0..self.lay.nthreads {
            let v = inc.shm.thread(t);
            let h = v.hdr();
            let op = h.op.load(SeqCst) as usize;
            let since = h.op_since.load(SeqCst);
            let _ = write!(
                s,
                "t{t}: {} ({:#x}) for {} ms, idle {}, done {}; ",
                OP_NAMES.get(op).unwrap_or(&"?"),
                h.op_arg.load(SeqCst),
                now.saturating_sub(since),
                h.idle.load(SeqCst),
                h.done.load(SeqCst)
            );
        }
        s
    }

    fn live(&self) -> Vec<usize> {
        (0..self.incs.len())
            .filter(|&i| self.incs[i].alive())
            .collect()
    }

    fn wait_ready(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            self.poll_exits();
            let waiting: Vec<usize> = self
                .live()
                .into_iter()
                .filter(|&i| self.incs[i].shm.inc().state.load(SeqCst) != INC_READY)
                .collect();
            if waiting.is_empty() {
                return;
            }
            if Instant::now() > deadline {
                for i in waiting {
                    self.problems.push(format!(
                        "worker {} was not ready within {timeout:?}: {}",
                        inc_name(self.incs[i].id),
                        self.describe_threads(i)
                    ));
                    self.kill(i);
                }
                return;
            }
            sleep_ms(20);
        }
    }
}

fn probe_stats() -> std::io::Result<Stats> {
    Space::open()?.stats()
}

struct Tap {
    n: usize,
    passed: usize,
    failed: usize,
}

impl Tap {
    fn result(&mut self, name: &str, problems: &[String]) {
        self.n += 1;
        if problems.is_empty() {
            println!("ok {} - {name}", self.n);
            self.passed += 1;
        } else {
            for p in problems.iter().take(30) {
                println!("#   {p}");
            }
            if problems.len() > 30 {
                println!("#   ... and {} more", problems.len() - 30);
            }
            println!(
                "not ok {} - {name} # {} problem(s), the first: {}",
                self.n,
                problems.len(),
                problems[0]
            );
            self.failed += 1;
        }
    }
}

const TESTS: usize = 7;

fn supervisor_main() -> ExitCode {
    println!("TAP version 13");
    println!("1..{TESTS}");
    let cfg = Config::from_env();
    println!(
        "# seed {} (MACH_STRESS_SEED={} repeats the random choices, not the interleaving); {} s of faults, {} processes x {} threads, a SIGKILL every ~{} ms",
        cfg.seed, cfg.seed, cfg.seconds, cfg.procs, cfg.threads, cfg.kill_ms
    );
    let mut tap = Tap {
        n: 0,
        passed: 0,
        failed: 0,
    };
    let fatal = |tap: &mut Tap, why: String| -> ExitCode {
        while tap.n < TESTS {
            tap.result("setup", std::slice::from_ref(&why));
        }
        println!("# {} passed, {} failed", tap.passed, tap.failed);
        ExitCode::FAILURE
    };
    let baseline = match probe_stats() {
        Ok(s) => s,
        Err(e) => return fatal(&mut tap, format!("cannot read the module's counts: {e}")),
    };
    println!("# counts before the run: {baseline:?}");
    let t_start = Instant::now();

    // The global page.
    let global_fd = match memfd("mach-stress-global", PAGE) {
        Ok(f) => f,
        Err(e) => return fatal(&mut tap, format!("memfd: {e}")),
    };
    let gbase = match map_shared(global_fd.as_raw_fd(), PAGE) {
        Ok(b) => b,
        Err(e) => return fatal(&mut tap, format!("mmap: {e}")),
    };
    // SAFETY: Our own page, zeroed; lives until exit.
    let global: &'static Global = unsafe { &*(gbase as *const Global) };
    global.phase.store(PH_CHAOS, SeqCst);

    // The registry's space and ports.
    let space = match Space::open() {
        Ok(s) => Arc::new(s),
        Err(e) => return fatal(&mut tap, format!("opening /dev/mach: {e}")),
    };
    let setup = || -> mach::Result<[PortName; 5]> {
        let a = |r| space.allocate(TASK, r);
        let r = a(PortRight::RECEIVE)?;
        let d = a(PortRight::RECEIVE)?;
        let k = a(PortRight::RECEIVE)?;
        let kb = a(PortRight::RECEIVE)?;
        let rs = a(PortRight::PORT_SET)?;
        space.set_qlimit(TASK, r, sys::MACH_PORT_QLIMIT_MAX)?;
        for p in [r, d, k, kb] {
            space.insert_member(TASK, p, rs)?;
        }
        space.insert_right(TASK, kb, kb, MsgTypeName::MAKE_SEND)?;
        Ok([r, d, k, kb, rs])
    };
    let [r, d, k, kb, rs] = match setup() {
        Ok(x) => x,
        Err(e) => return fatal(&mut tap, format!("setting up the registry: {e}")),
    };
    let ctl = Arc::new(RegCtl::default());
    let reg = Reg {
        space: space.clone(),
        rng: Rng::new(mix(cfg.seed, 0)),
        global,
        ctl: ctl.clone(),
        r,
        d,
        k,
        kb,
        rs,
        by_name: HashMap::new(),
        ports: HashMap::new(),
        live: [Vec::new(), Vec::new()],
        rescued: BTreeMap::new(),
        parked: BTreeSet::new(),
        out: RegOut {
            sends: Vec::new(),
            recvs: Vec::new(),
            ports: HashMap::new(),
            fails: Vec::new(),
            counters: BTreeMap::new(),
        },
    };
    let reg_thread = thread::spawn(move || reg.run());

    let cap_s = (cfg.seconds as usize * 400).clamp(8192, 1 << 20);
    let lay = Layout {
        nthreads: cfg.threads,
        cap_s,
        cap_r: 2 * cap_s,
        cap_h: 256,
    };
    let mut sup = Sup {
        cfg,
        rng: Rng::new(mix(cfg.seed, 0xfeed)),
        space: space.clone(),
        global_fd,
        names: [r.0, k.0, kb.0],
        incs: Vec::new(),
        slots: vec![None; cfg.procs],
        lay,
        kills: 0,
        restarts: 0,
        problems: Vec::new(),
        reap_ms: Vec::new(),
    };
    for s in 0..cfg.procs {
        if let Err(e) = sup.start_worker(s) {
            return fatal(&mut tap, format!("starting a worker: {e}"));
        }
    }
    sup.wait_ready(Duration::from_secs(30));

    // Faults.
    let chaos = Duration::from_secs(cfg.seconds);
    let t0 = Instant::now();
    let mut next_kill = if cfg.kill_ms > 0 {
        sup.rng.range(cfg.kill_ms / 2, cfg.kill_ms * 3 / 2)
    } else {
        u64::MAX
    };
    // Whether the next kill may hit a worker still setting up.
    let mut kill_any = sup.rng.pct(10);
    let mut restarts: Vec<(u64, usize)> = Vec::new();
    let mut next_report = 10_000;
    loop {
        sleep_ms(20);
        let el = t0.elapsed().as_millis() as u64;
        if el >= chaos.as_millis() as u64 {
            break;
        }
        sup.poll_exits();
        // Never fewer than half the slots filled (or about to be).
        let min_live = (cfg.procs / 2).max(1);
        let mut filled = sup.live().len() + restarts.len();
        for s in 0..cfg.procs {
            if filled < min_live && sup.slots[s].is_none() && !restarts.iter().any(|r| r.1 == s) {
                restarts.push((el + sup.rng.below(800), s));
                filled += 1;
            }
        }
        let due: Vec<usize> = restarts.iter().filter(|r| r.0 <= el).map(|r| r.1).collect();
        restarts.retain(|r| r.0 > el);
        for s in due {
            if sup.slots[s].is_none() && sup.incs.len() < 500 {
                if let Err(e) = sup.start_worker(s) {
                    sup.problems.push(format!("restarting a worker: {e}"));
                } else {
                    sup.restarts += 1;
                }
            }
        }
        if el >= next_kill {
            // Mostly a worker that has been at work for a second, and only
            // while at least half the slots have one (starting a worker
            // takes seconds on a slow machine); now and then any worker,
            // maybe one still setting up.
            let live = sup.live();
            let settled: Vec<usize> = live
                .iter()
                .copied()
                .filter(|&i| {
                    sup.incs[i].shm.inc().state.load(SeqCst) == INC_READY
                        && sup.incs[i].started.elapsed() > Duration::from_millis(1000)
                })
                .collect();
            let pool = if kill_any { &live } else { &settled };
            if pool.is_empty() || (!kill_any && settled.len() < (cfg.procs / 2).max(1)) {
                // Too few at work yet: look again soon.
                next_kill = el + 200;
                continue;
            }
            kill_any = sup.rng.pct(10);
            if let Some(i) = sup.rng.pick(pool) {
                let slot = sup.incs[i].slot;
                sup.kill(i);
                // Most slots get a new worker at once, some after a while,
                // a few not (until too few are left).
                match sup.rng.below(10) {
                    0..=6 => restarts.push((el + sup.rng.below(800), slot)),
                    7 | 8 => restarts.push((el + sup.rng.range(2000, 6000), slot)),
                    _ => {}
                }
            }
            next_kill = el + sup.rng.range(cfg.kill_ms / 2, cfg.kill_ms * 3 / 2).max(1);
        }
        if el >= next_report {
            next_report += 10_000;
            let mut sends = 0;
            let mut recvs = 0;
            for inc in &sup.incs {
                for t in 0..lay.nthreads {
                    let v = inc.shm.thread(t);
                    let h = v.hdr();
                    sends += h.counters[C::Sends as usize].load(Relaxed);
                    recvs += h.counters[C::Receives as usize].load(Relaxed);
                }
            }
            println!(
                "# {} s: {} workers started, {} killed; {sends} messages sent, {recvs} received by workers; stats {:?}",
                el / 1000,
                sup.incs.len(),
                sup.kills,
                space.stats().ok()
            );
        }
    }
    // Restarts still due are dropped; workers started late must be ready
    // before the stop (their setup sends messages too).
    restarts.clear();
    sup.wait_ready(Duration::from_secs(30));
    sup.reap_killed(Duration::from_secs(90));
    let chaos_secs = t0.elapsed().as_secs_f64();

    // Stop: answers only; drain until nothing moves.
    global.phase.store(PH_STOP, SeqCst);
    let t_stop = Instant::now();
    let mut quiet = false;
    let mut stable = 0;
    let mut prev: Option<u64> = None;
    let mut last_stats = None;
    while t_stop.elapsed() < Duration::from_secs(120) {
        sleep_ms(100);
        sup.poll_exits();
        let mut all_idle = ctl.idle.load(SeqCst) == 1;
        let mut act = ctl.activity.load(SeqCst);
        for i in sup.live() {
            for t in 0..lay.nthreads {
                let v = sup.incs[i].shm.thread(t);
                let h = v.hdr();
                all_idle &= h.idle.load(SeqCst) == 1;
                act = act.wrapping_add(h.activity.load(SeqCst));
            }
        }
        let st = space.stats().ok();
        let empty = st.is_some_and(|s| s.messages == 0);
        last_stats = st;
        if all_idle && empty && prev == Some(act) {
            stable += 1;
            if stable >= 3 {
                quiet = true;
                break;
            }
        } else {
            stable = 0;
        }
        prev = Some(act);
    }
    let drain_secs = t_stop.elapsed().as_secs_f64();
    let mut quiesce_problems = Vec::new();
    if !quiet {
        quiesce_problems.push(format!(
            "no quiescence within 120 s of the stop (stats {last_stats:?}, registry idle {}); threads: {}",
            ctl.idle.load(SeqCst),
            sup.live().iter().map(|&i| format!("{}: {}", inc_name(sup.incs[i].id), sup.describe_threads(i))).collect::<Vec<_>>().join(" | ")
        ));
    }

    // Finish: the workers report and exit.
    global.phase.store(PH_FINISH, SeqCst);
    let t_fin = Instant::now();
    loop {
        sup.poll_exits();
        if sup.live().is_empty() {
            break;
        }
        if t_fin.elapsed() > Duration::from_secs(60) {
            for i in sup.live() {
                quiesce_problems.push(format!(
                    "worker {} did not exit within 60 s of the end: {}",
                    inc_name(sup.incs[i].id),
                    sup.describe_threads(i)
                ));
                sup.kill(i);
            }
            break;
        }
        sleep_ms(20);
    }
    sup.reap_killed(Duration::from_secs(90));
    // The registry: every port it registered must die now, except the
    // receive rights it holds itself, which it then destroys.
    let t_end = Instant::now();
    while ctl.live.load(SeqCst) > ctl.held.load(SeqCst) && t_end.elapsed() < Duration::from_secs(30)
    {
        sleep_ms(50);
    }
    ctl.stop.store(1, SeqCst);
    let t_end2 = Instant::now();
    while ctl.live.load(SeqCst) > 0 && t_end2.elapsed() < Duration::from_secs(30) {
        sleep_ms(50);
    }
    sleep_ms(200);
    ctl.stop.store(2, SeqCst);
    let reg_out = match reg_thread.join() {
        Ok(o) => o,
        Err(_) => return fatal(&mut tap, "the registry thread panicked".into()),
    };
    let end_secs = t_fin.elapsed().as_secs_f64();

    // ---- The checks ----
    let killed: HashSet<u32> = sup.incs.iter().filter(|i| i.killed).map(|i| i.id).collect();
    let mut calls = Vec::new();
    calls.extend(sup.problems.iter().cloned());
    calls.extend(reg_out.fails.iter().cloned());
    for inc in &sup.incs {
        for t in 0..lay.nthreads {
            let v = inc.shm.thread(t);
            let n = v.hdr().fail_count.load(SeqCst);
            for f in v.fails() {
                calls.push(format!("{}: {f}", inc_name(inc.id)));
            }
            if n as usize > MAX_FAILS {
                calls.push(format!(
                    "{}/t{t}: {} more failures not recorded",
                    inc_name(inc.id),
                    n as usize - MAX_FAILS
                ));
            }
        }
    }
    tap.result(
        "every_call_returns_what_mach_allows_and_the_workers_agree_with_the_kernel",
        &calls,
    );

    // Gather the logs.
    let mut sends: HashMap<u64, Vec<SendInfo>> = HashMap::new();
    let mut recvs: HashMap<(u64, u64), Vec<String>> = HashMap::new();
    let mut integrity = Vec::new();
    let mut held: HashMap<u64, (String, u64)> = HashMap::new();
    let mut balance = Vec::new();
    let mut totals = [0u64; C::Count as usize];
    let mut op_n = [0u64; NOPS];
    let mut op_us = [0u64; NOPS];
    let mut received_total = 0u64;
    let mut slot_total = 0u64;
    for inc in &sup.incs {
        for t in 0..lay.nthreads {
            let v = inc.shm.thread(t);
            let h = v.hdr();
            let stream = stream_id(inc.id, t);
            for (c, tot) in totals.iter_mut().enumerate() {
                *tot += h.counters[c].load(Relaxed);
            }
            for o in 0..NOPS {
                op_n[o] += h.op_n[o].load(Relaxed);
                op_us[o] += h.op_us[o].load(Relaxed);
            }
            let ns = (h.send_count.load(SeqCst) as usize).min(lay.cap_s);
            let mut list = Vec::with_capacity(ns);
            for i in 0..ns {
                let r = v.send(i);
                let info = r.info.load(SeqCst);
                list.push(SendInfo {
                    dest: r.dest.load(SeqCst),
                    kind: (info & 0xff) as u32,
                    state: (info >> 8) & 0xff,
                    code: (info >> 32) as u32,
                });
            }
            sends.insert(stream, list);
            let nr = (h.recv_count.load(SeqCst) as usize).min(lay.cap_r);
            let mut last = None;
            for i in 0..nr {
                let r = v.recv(i);
                let key = (r.stream.load(SeqCst), r.seq.load(SeqCst));
                let info = r.info.load(SeqCst);
                recvs.entry(key).or_default().push(format!(
                    "{} on {:#x} (dest {})",
                    sname(stream),
                    info as u32,
                    lname(r.dest.load(SeqCst))
                ));
                last = Some(key);
                received_total += 1;
            }
            // A message the kernel delivered into the slot of a thread
            // that died before logging it.
            if inc.killed {
                if let Some(p) = slot_payload(&v.slot_bytes()) {
                    let key = (p.stream, p.seq);
                    if last != Some(key) {
                        recvs.entry(key).or_default().push(format!(
                            "{} (in its receive slot when it was killed)",
                            sname(stream)
                        ));
                        received_total += 1;
                        slot_total += 1;
                    }
                }
            }
            let nh = (h.held_count.load(SeqCst) as usize).min(lay.cap_h);
            for i in 0..nh {
                let r = v.held(i);
                held.insert(r.l.load(SeqCst), (sname(stream), r.msgcount.load(SeqCst)));
            }
            if !inc.killed {
                if h.done.load(SeqCst) != 1 && inc.abnormal.is_none() {
                    integrity.push(format!("{} ended without its final report", sname(stream)));
                }
                let (q, a, so) = (
                    h.requests.load(SeqCst),
                    h.replies.load(SeqCst),
                    h.so_notifs.load(SeqCst),
                );
                balance.push((stream, h.reply_l.load(SeqCst), q, a, so));
            }
        }
    }
    sends.insert(stream_id(0, 0), reg_out.sends.clone());
    for &(s, q, dest, name) in &reg_out.recvs {
        recvs
            .entry((s, q))
            .or_default()
            .push(format!("the registry on {name:#x} (dest {})", lname(dest)));
        received_total += 1;
    }

    // 2: no duplicates, nothing made up.
    for (&(s, q), who) in &recvs {
        let rec = sends.get(&s).and_then(|v| v.get(q as usize));
        match rec {
            None => integrity.push(format!(
                "{} seq {q} was received ({}) but never sent (its log has {} records)",
                sname(s),
                who.join("; "),
                sends.get(&s).map(|v| v.len()).unwrap_or(0)
            )),
            Some(r) if r.state == ST_FAILED => integrity.push(format!(
                "{} seq {q} ({} to {}) was received ({}) although its send failed with {}",
                sname(s),
                kind_name(r.kind),
                lname(r.dest),
                who.join("; "),
                mr_name(r.code as i32)
            )),
            Some(_) => {}
        }
        if who.len() > 1 {
            let r = rec
                .map(|r| format!("{} to {}", kind_name(r.kind), lname(r.dest)))
                .unwrap_or_default();
            integrity.push(format!(
                "{} seq {q} ({r}) was received {} times: {}",
                sname(s),
                who.len(),
                who.join("; ")
            ));
        }
    }
    for inc in &sup.incs {
        if inc.killed {
            continue;
        }
        for t in 0..lay.nthreads {
            let s = stream_id(inc.id, t);
            for (q, r) in sends[&s].iter().enumerate() {
                if r.state == ST_INTENT {
                    integrity.push(format!(
                        "{} seq {q}: a send without an outcome in a thread that was not killed",
                        sname(s)
                    ));
                }
            }
        }
    }
    tap.result(
        "no_message_is_received_twice_or_without_having_been_sent",
        &integrity,
    );

    // 3: nothing lost.
    let death = |l: u64| -> String {
        match l_class(l) {
            CL_SUP => "a supervisor port, alive throughout".into(),
            CL_CONTROL | CL_DATA => match reg_out.ports.get(&l) {
                Some(p) => format!(
                    "{:?}; {}{}",
                    p.state,
                    p.notes.join(", "),
                    held.get(&l)
                        .map(|h| format!("; held at the end by {} with {} queued", h.0, h.1))
                        .unwrap_or_default()
                ),
                None => format!(
                    "never registered; its creator was {}",
                    if killed.contains(&l_inc(l)) {
                        "killed"
                    } else {
                        "not killed"
                    }
                ),
            },
            _ => format!(
                "its owner was {}",
                if killed.contains(&l_inc(l)) {
                    "killed"
                } else {
                    "not killed"
                }
            ),
        }
    };
    let may_be_lost = |l: u64| -> bool {
        match l_class(l) {
            CL_SUP => false,
            CL_CONTROL | CL_DATA => match reg_out.ports.get(&l) {
                Some(p) => matches!(p.state, PState::Dead { phase } if phase < PH_FINISH),
                None => killed.contains(&l_inc(l)),
            },
            _ => killed.contains(&l_inc(l)),
        }
    };
    let mut lost = Vec::new();
    let mut n_sent = 0u64;
    let mut n_ambiguous = 0u64;
    let mut n_died = 0u64;
    let mut streams: Vec<&u64> = sends.keys().collect();
    streams.sort();
    for &s in streams {
        let mut gap: HashMap<u64, u64> = HashMap::new();
        for (q, r) in sends[&s].iter().enumerate() {
            let q = q as u64;
            let got = recvs.contains_key(&(s, q));
            match r.state {
                ST_SENT | ST_INTENT => {
                    if r.state == ST_SENT {
                        n_sent += 1;
                    } else {
                        n_ambiguous += 1;
                    }
                    if got {
                        if let Some(g) = gap.get(&r.dest) {
                            lost.push(format!(
                                "{} seq {q} ({} to {}) was received, but seq {g} to the same port before it never was ({})",
                                sname(s),
                                kind_name(r.kind),
                                lname(r.dest),
                                death(r.dest)
                            ));
                        }
                    } else if r.state == ST_SENT {
                        if may_be_lost(r.dest) {
                            n_died += 1;
                        } else {
                            lost.push(format!(
                                "{} seq {q} ({} to {}) was sent and never received; the port: {}",
                                sname(s),
                                kind_name(r.kind),
                                lname(r.dest),
                                death(r.dest)
                            ));
                        }
                        gap.entry(r.dest).or_insert(q);
                    }
                }
                _ => {}
            }
        }
    }
    tap.result(
        "every_message_sent_to_a_port_that_lives_on_is_received_in_order",
        &lost,
    );

    // 4: send-once rights.
    let mut so = Vec::new();
    for (s, l, q, a, n) in balance {
        if q != a + n {
            so.push(format!(
                "{} ({}): {q} requests with a send-once reply right, but {a} answers + {n} send-once notifications came back",
                sname(s),
                lname(l)
            ));
        }
    }
    tap.result(
        "every_send_once_reply_right_yields_exactly_one_message",
        &so,
    );

    // 5: deaths.
    let mut deaths = Vec::new();
    for (l, p) in &reg_out.ports {
        if p.state == PState::Live {
            deaths.push(format!(
                "{} never died (notes: {})",
                lname(*l),
                p.notes.join(", ")
            ));
        }
        if let (Some(h), PState::Dead { phase }) = (held.get(l), p.state) {
            if phase < PH_FINISH {
                deaths.push(format!(
                    "{} was declared dead in phase {phase}, yet {} held its receive right at the end",
                    lname(*l),
                    h.0
                ));
            }
        }
    }
    tap.result(
        "every_registered_port_dies_exactly_once_and_no_held_port_is_declared_dead",
        &deaths,
    );

    tap.result(
        "the_run_quiesces_and_every_worker_exits_by_itself_at_the_end",
        &quiesce_problems,
    );

    // 7: counts.
    let reg_counters = reg_out.counters.clone();
    let n_incs = sup.incs.len();
    let avg_max = |v: &[u64]| -> String {
        if v.is_empty() {
            "-".into()
        } else {
            format!(
                "{} ms on average, {} at most",
                v.iter().sum::<u64>() / v.len() as u64,
                v.iter().max().unwrap()
            )
        }
    };
    let ready: Vec<u64> = sup
        .incs
        .iter()
        .filter_map(|i| i.ready_after.map(|d| d.as_millis() as u64))
        .collect();
    let timing = format!(
        "# a new worker was ready after {}; a SIGKILLed one was reaped after {}",
        avg_max(&ready),
        avg_max(&sup.reap_ms)
    );
    let (kills, restarts_n) = (sup.kills, sup.restarts);
    drop(sup);
    drop(space);
    let mut counts = Vec::new();
    let t_leak = Instant::now();
    loop {
        match probe_stats() {
            Ok(s) if s == baseline => break,
            Ok(s) if t_leak.elapsed() > Duration::from_secs(5) => {
                counts.push(format!(
                    "after every process exited: {s:?}; before the run: {baseline:?}"
                ));
                break;
            }
            Ok(_) => sleep_ms(100),
            Err(e) => {
                counts.push(format!("cannot read the module's counts: {e}"));
                break;
            }
        }
    }
    tap.result("every_object_is_freed_after_the_processes_exit", &counts);

    // Summary.
    println!(
        "# seed {}: {chaos_secs:.1} s of faults, {drain_secs:.1} s of drain, {end_secs:.1} s to end; {} s in all",
        cfg.seed,
        t_start.elapsed().as_secs()
    );
    println!(
        "# {n_incs} worker processes ({} at the start, {restarts_n} restarts), {kills} SIGKILLs",
        cfg.procs
    );
    println!("{timing}");
    println!(
        "# messages: {n_sent} sent, {n_ambiguous} cut short by a kill (maybe sent), {received_total} received ({slot_total} found in a killed thread's receive slot), {n_died} lost with their port",
    );
    let mut line = String::from("# time per operation (count, ms in all, ms each):");
    for (o, name) in OP_NAMES.iter().enumerate() {
        if op_n[o] > 0 {
            let _ = write!(
                line,
                " {name} {} {} {:.1};",
                op_n[o],
                op_us[o] / 1000,
                op_us[o] as f64 / 1000.0 / op_n[o] as f64
            );
        }
    }
    println!("{line}");
    let mut line = String::from("# worker operations:");
    for (c, name) in C_NAMES.iter().enumerate() {
        if totals[c] > 0 {
            let _ = write!(line, " {name} {}", totals[c]);
        }
    }
    println!("{line}");
    let mut line = String::from("# registry:");
    for (name, n) in &reg_counters {
        let _ = write!(line, " {name} {n}");
    }
    let _ = write!(line, " ports_registered {}", reg_out.ports.len());
    println!("{line}");
    println!("# {} passed, {} failed", tap.passed, tap.failed);
    if tap.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().collect();
    if args.get(1).map(String::as_str) == Some("--worker") {
        worker_main(&args[2..]);
    }
    supervisor_main()
}
