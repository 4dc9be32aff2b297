//! The workloads of the benchmarks (`benches/ipc.rs`, run by `make bench`):
//! a /dev/mach RPC between two processes and its peers (pipe, UNIX stream
//! and seqpacket sockets, eventfd, futex), out-of-line transfer against a
//! pipe, passing a port right against SCM_RIGHTS, name lookups, and
//! independent client/server pairs for scaling. Also the kernel memory a
//! port and a name take, from `/proc/meminfo`.
//!
//! Every two-process workload is a client in the benchmark process and a
//! server in a forked child; `run(n)` does `n` round trips. The child is
//! killed when the workload is dropped, and dies with its parent
//! (`PR_SET_PDEATHSIG`).

use std::fs;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};

use mach::sys;
use mach::{MsgTypeName, PortName, PortRight, Space};

// --- processes --------------------------------------------------------------

/// A forked child, killed and reaped on drop.
pub struct Child {
    pid: libc::pid_t,
}

impl Child {
    /// Forks; the child runs `f` (which must not return normally: it loops
    /// until killed, or exits) and then `_exit(0)`.
    pub fn fork(cpu: Option<usize>, f: impl FnOnce()) -> Child {
        // SAFETY: The benchmark process is single-threaded (criterion
        // without rayon), so the child may allocate.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
        if pid == 0 {
            // SAFETY: Plain syscalls.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
            if let Some(cpu) = cpu {
                pin_to_cpu(cpu);
            }
            f();
            // SAFETY: Ends the child without running the parent's destructors.
            unsafe { libc::_exit(0) };
        }
        Child { pid }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // SAFETY: Plain syscalls on our own child.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            libc::waitpid(self.pid, ptr::null_mut(), 0);
        }
    }
}

/// Exits the child with a message (a server that cannot go on).
fn die(what: &str) -> ! {
    eprintln!("bench server: {what}");
    // SAFETY: Ends the process.
    unsafe { libc::_exit(2) }
}

/// The CPUs the guest has online.
pub fn cpus() -> usize {
    // SAFETY: Plain sysconf.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    n.max(1) as usize
}

/// Pins the calling process to `cpu` modulo the CPUs there are.
pub fn pin_to_cpu(cpu: usize) {
    let cpu = cpu % cpus();
    // SAFETY: A zeroed cpu_set_t is empty; CPU_SET stays inside it.
    unsafe {
        let mut set: libc::cpu_set_t = zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set);
    }
}

// --- file descriptors ---------------------------------------------------------

fn cvt(rc: libc::c_int, what: &str) -> libc::c_int {
    if rc < 0 {
        panic!("{what}: {}", io::Error::last_os_error());
    }
    rc
}

/// A pipe: (read end, write end).
pub fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two descriptors.
    cvt(
        unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) },
        "pipe2",
    );
    // SAFETY: Both are fresh descriptors we own.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// A connected AF_UNIX socket pair of `kind` (SOCK_STREAM, SOCK_SEQPACKET).
pub fn socketpair(kind: libc::c_int) -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two descriptors.
    cvt(
        unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                kind | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        },
        "socketpair",
    );
    // SAFETY: Both are fresh descriptors we own.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn eventfd() -> OwnedFd {
    // SAFETY: Plain syscall.
    let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) }, "eventfd");
    // SAFETY: A fresh descriptor we own.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Writes all of `buf` (blocking).
pub fn write_full(fd: RawFd, buf: &[u8]) -> bool {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: The range lies inside `buf`.
        let n = unsafe { libc::write(fd, buf[done..].as_ptr().cast(), buf.len() - done) };
        if n <= 0 {
            return false;
        }
        done += n as usize;
    }
    true
}

/// Reads exactly `buf.len()` bytes (blocking).
pub fn read_full(fd: RawFd, buf: &mut [u8]) -> bool {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: The range lies inside `buf`.
        let n = unsafe { libc::read(fd, buf[done..].as_mut_ptr().cast(), buf.len() - done) };
        if n <= 0 {
            return false;
        }
        done += n as usize;
    }
    true
}

// --- byte-stream ping-pong: pipe, UNIX stream, UNIX seqpacket, eventfd ----------

/// Which peer mechanism a [`FdPingPong`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    Pipe,
    UnixStream,
    UnixSeqpacket,
    /// Two eventfds; the payload is always the 8-byte counter.
    Eventfd,
}

/// A ping-pong over file descriptors: the client writes `size` bytes, the
/// server reads them and writes `size` bytes back.
pub struct FdPingPong {
    wr: OwnedFd,
    rd: OwnedFd,
    buf: Vec<u8>,
    size: usize,
    _server: Child,
}

impl FdPingPong {
    pub fn new(peer: Peer, size: usize, cpu: Option<usize>) -> FdPingPong {
        let size = if peer == Peer::Eventfd { 8 } else { size };
        // (client write, server read), (server write, client read)
        let (c_wr, s_rd, s_wr, c_rd) = match peer {
            Peer::Pipe => {
                let (r1, w1) = pipe();
                let (r2, w2) = pipe();
                (w1, r1, w2, r2)
            }
            Peer::UnixStream | Peer::UnixSeqpacket => {
                let kind = if peer == Peer::UnixStream {
                    libc::SOCK_STREAM
                } else {
                    libc::SOCK_SEQPACKET
                };
                let (a, b) = socketpair(kind);
                let a2 = a.try_clone().unwrap();
                let b2 = b.try_clone().unwrap();
                (a, b, b2, a2)
            }
            Peer::Eventfd => {
                let e1 = eventfd();
                let e2 = eventfd();
                let e1b = e1.try_clone().unwrap();
                let e2b = e2.try_clone().unwrap();
                (e1, e1b, e2, e2b)
            }
        };
        let record = peer == Peer::UnixSeqpacket;
        let server = {
            let (s_rd, s_wr) = (s_rd.as_raw_fd(), s_wr.as_raw_fd());
            Child::fork(cpu, move || {
                let mut buf = vec![1u8; size.max(8)];
                loop {
                    let ok = if record {
                        // SAFETY: `buf` has room for `size` bytes.
                        let n = unsafe { libc::read(s_rd, buf.as_mut_ptr().cast(), size) };
                        n == size as isize
                    } else {
                        read_full(s_rd, &mut buf[..size])
                    };
                    if !ok || !write_full(s_wr, &buf[..size]) {
                        die("fd ping-pong: read or write failed");
                    }
                }
            })
        };
        let _ = (s_rd, s_wr);
        FdPingPong {
            wr: c_wr,
            rd: c_rd,
            buf: vec![1u8; size.max(8)],
            size,
            _server: server,
        }
    }

    /// `n` round trips.
    pub fn run(&mut self, n: u64) {
        let (wr, rd, size) = (self.wr.as_raw_fd(), self.rd.as_raw_fd(), self.size);
        for _ in 0..n {
            assert!(write_full(wr, &self.buf[..size]), "ping-pong write");
            assert!(read_full(rd, &mut self.buf[..size]), "ping-pong read");
        }
    }
}

// --- futex ping-pong -------------------------------------------------------------

#[repr(C)]
struct FutexShm {
    request: AtomicU32,
    _pad1: [u32; 15],
    reply: AtomicU32,
    _pad2: [u32; 15],
    data: [u8; 65536],
}

fn futex(word: &AtomicU32, op: libc::c_int, val: u32) {
    // SAFETY: `word` is a valid, aligned u32 in a shared mapping; no timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            op,
            val,
            ptr::null::<libc::timespec>(),
            ptr::null::<u32>(),
            0u32,
        )
    };
}

/// Waits until `word` holds `want`.
fn futex_wait_for(word: &AtomicU32, want: u32) {
    loop {
        let v = word.load(Ordering::Acquire);
        if v == want {
            return;
        }
        futex(word, libc::FUTEX_WAIT, v);
    }
}

/// A futex ping-pong through shared memory: the client copies `size`
/// bytes in, bumps the request word and wakes the server; the server copies
/// them out and back, bumps the reply word and wakes the client.
pub struct FutexPingPong {
    shm: *mut FutexShm,
    size: usize,
    seq: u32,
    buf: Vec<u8>,
    _server: Child,
}

impl FutexPingPong {
    pub fn new(size: usize, cpu: Option<usize>) -> FutexPingPong {
        assert!(size <= 65536);
        // SAFETY: A fresh shared anonymous mapping, zero-filled.
        let shm = unsafe {
            libc::mmap(
                ptr::null_mut(),
                size_of::<FutexShm>(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert!(shm != libc::MAP_FAILED, "mmap");
        let shm = shm as *mut FutexShm;
        let server = {
            let shm = shm as usize;
            Child::fork(cpu, move || {
                // SAFETY: The mapping is shared with the parent and lives
                // until both are gone.
                let s = unsafe { &mut *(shm as *mut FutexShm) };
                let mut local = vec![0u8; size];
                let mut seq = 0u32;
                loop {
                    seq = seq.wrapping_add(1);
                    futex_wait_for(&s.request, seq);
                    local.copy_from_slice(&s.data[..size]);
                    s.data[..size].copy_from_slice(&local);
                    s.reply.store(seq, Ordering::Release);
                    futex(&s.reply, libc::FUTEX_WAKE, 1);
                }
            })
        };
        FutexPingPong {
            shm,
            size,
            seq: 0,
            buf: vec![1u8; size],
            _server: server,
        }
    }

    pub fn run(&mut self, n: u64) {
        // SAFETY: See `new`.
        let s = unsafe { &mut *self.shm };
        for _ in 0..n {
            self.seq = self.seq.wrapping_add(1);
            s.data[..self.size].copy_from_slice(&self.buf);
            s.request.store(self.seq, Ordering::Release);
            futex(&s.request, libc::FUTEX_WAKE, 1);
            futex_wait_for(&s.reply, self.seq);
            self.buf.copy_from_slice(&s.data[..self.size]);
        }
    }
}

impl Drop for FutexPingPong {
    fn drop(&mut self) {
        // SAFETY: Our mapping; the server still maps its own copy until it
        // is killed (after this, by the field's drop).
        unsafe { libc::munmap(self.shm.cast(), size_of::<FutexShm>()) };
    }
}

// --- Mach -----------------------------------------------------------------------

const HDR: usize = sys::MACH_MSG_HEADER_SIZE as usize;
/// Room for the largest trailer after a message.
const TRAILER_ROOM: usize = sys::MAX_TRAILER_SIZE as usize;

/// An 8-aligned message buffer.
struct Buf {
    words: Vec<u64>,
}

impl Buf {
    fn new(bytes: usize) -> Buf {
        Buf {
            words: vec![0x0101_0101_0101_0101; bytes.div_ceil(8)],
        }
    }

    fn len(&self) -> u32 {
        (self.words.len() * 8) as u32
    }

    fn ptr(&mut self) -> *mut u8 {
        self.words.as_mut_ptr().cast()
    }

    fn set_u32(&mut self, off: usize, v: u32) {
        // SAFETY: Callers stay inside the buffer (offsets below the header
        // and descriptors sizes it was made for).
        unsafe { self.ptr().add(off).cast::<u32>().write_unaligned(v) }
    }

    fn set_u64(&mut self, off: usize, v: u64) {
        // SAFETY: As set_u32.
        unsafe { self.ptr().add(off).cast::<u64>().write_unaligned(v) }
    }

    fn set_u8(&mut self, off: usize, v: u8) {
        // SAFETY: As set_u32.
        unsafe { self.ptr().add(off).write(v) }
    }

    fn u32_at(&mut self, off: usize) -> u32 {
        // SAFETY: As set_u32.
        unsafe { self.ptr().add(off).cast::<u32>().read_unaligned() }
    }

    fn u64_at(&mut self, off: usize) -> u64 {
        // SAFETY: As set_u32.
        unsafe { self.ptr().add(off).cast::<u64>().read_unaligned() }
    }

    fn header(&mut self, bits: u32, remote: u32, local: u32, id: u32) {
        self.set_u32(0, bits);
        self.set_u32(4, 0);
        self.set_u32(8, remote);
        self.set_u32(12, local);
        self.set_u32(16, 0);
        self.set_u32(20, id);
    }
}

fn msg(space: &Space, buf: &mut Buf, option: u32, send_size: u32, rcv_name: u32) -> i32 {
    let rcv_size = if option & sys::MACH_RCV_MSG != 0 {
        buf.len()
    } else {
        0
    };
    // SAFETY: The buffer holds send_size bytes to read and rcv_size bytes to
    // write; no out-of-line descriptor has deallocate set.
    match unsafe {
        space.mach_msg_raw(
            buf.ptr(),
            option,
            send_size,
            rcv_size,
            PortName(rcv_name),
            0,
            PortName::NULL,
        )
    } {
        Ok(mr) => mr,
        Err(e) => panic!("MACH_IOC_MSG: {e}"),
    }
}

/// What the Mach server does with each request before it replies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ServerKind {
    /// Sends the request's bytes back.
    Echo,
    /// Unmaps the out-of-line region the request carried; replies with a
    /// header only.
    DropOol,
    /// Deallocates the send right the request carried; header-only reply.
    DropRight,
}

/// The server side: receives on `port` in `space`, replies through the
/// send-once right each request carries, with one `SEND|RCV` call per
/// request (`combined`) or a send and a receive.
fn mach_server(space: &Space, port: u32, kind: ServerKind, combined: bool, max: usize) -> ! {
    let mut buf = Buf::new(max + TRAILER_ROOM);
    if msg(space, &mut buf, sys::MACH_RCV_MSG, 0, port) != 0 {
        die("mach server: first receive failed");
    }
    loop {
        let size = match kind {
            ServerKind::Echo => buf.u32_at(4),
            ServerKind::DropOol => {
                let (addr, len) = (buf.u64_at(HDR + 4), buf.u32_at(HDR + 4 + 12));
                // SAFETY: The module mapped this region for us.
                unsafe { libc::munmap(addr as *mut libc::c_void, len as usize) };
                HDR as u32
            }
            ServerKind::DropRight => {
                let name = buf.u32_at(HDR + 4);
                if space.deallocate(space.task_self(), PortName(name)).is_err() {
                    die("mach server: deallocate of the received right failed");
                }
                HDR as u32
            }
        };
        let reply = buf.u32_at(8);
        buf.header(
            sys::mach_msgh_bits(sys::MACH_MSG_TYPE_MOVE_SEND_ONCE, 0),
            reply,
            0,
            2,
        );
        let mr = if combined {
            msg(
                space,
                &mut buf,
                sys::MACH_SEND_MSG | sys::MACH_RCV_MSG,
                size,
                port,
            )
        } else {
            let mr = msg(space, &mut buf, sys::MACH_SEND_MSG, size, 0);
            if mr != 0 {
                mr
            } else {
                msg(space, &mut buf, sys::MACH_RCV_MSG, 0, port)
            }
        };
        if mr != 0 {
            die(&format!("mach server: mach_msg returned {mr:#x}"));
        }
    }
}

/// A client space with a send right to a port whose receive right a forked
/// server holds, and a reply port.
struct MachPair {
    space: Space,
    service: u32,
    reply: u32,
    _server: Child,
}

impl MachPair {
    fn new(kind: ServerKind, combined: bool, max: usize, cpu: Option<usize>) -> MachPair {
        let srv = Space::open().expect("open /dev/mach");
        let cli = Space::open().expect("open /dev/mach");
        let port = srv.allocate(srv.task_self(), PortRight::RECEIVE).unwrap().0;
        // The client reaches the server's space through its task port
        // (task_for_fd on the server's descriptor, open before the fork),
        // and takes a send right to the service port from there.
        let srv_task = cli.task_for_fd(srv.as_fd()).unwrap();
        let (service, _) = cli
            .extract_right(srv_task, PortName(port), MsgTypeName::MAKE_SEND)
            .unwrap();
        cli.deallocate(cli.task_self(), srv_task).unwrap();
        let reply = cli.reply_port().unwrap().0;
        let cli_fd = cli.as_raw_fd();
        let server = Child::fork(cpu, || {
            // SAFETY: The child does not use the client's space.
            unsafe { libc::close(cli_fd) };
            mach_server(&srv, port, kind, combined, max)
        });
        drop(srv);
        MachPair {
            space: cli,
            service: service.0,
            reply,
            _server: server,
        }
    }
}

/// The Mach RPC: the client sends `size` inline bytes with a send-once
/// reply right made from its reply port and waits for the reply, in one
/// `mach_msg(SEND|RCV)` (or a send and a receive); the server echoes the
/// bytes back through the send-once right.
pub struct MachRpc {
    pair: MachPair,
    buf: Buf,
    send_size: u32,
    combined: bool,
}

impl MachRpc {
    /// `size` payload bytes (rounded up to 4, as messages are).
    pub fn new(size: usize, combined: bool, cpu: Option<usize>) -> MachRpc {
        let body = size.div_ceil(4) * 4;
        let pair = MachPair::new(ServerKind::Echo, combined, HDR + body, cpu);
        MachRpc {
            pair,
            buf: Buf::new(HDR + body + TRAILER_ROOM),
            send_size: (HDR + body) as u32,
            combined,
        }
    }

    pub fn run(&mut self, n: u64) {
        let bits = sys::mach_msgh_bits(
            sys::MACH_MSG_TYPE_COPY_SEND,
            sys::MACH_MSG_TYPE_MAKE_SEND_ONCE,
        );
        let p = &self.pair;
        for _ in 0..n {
            self.buf.header(bits, p.service, p.reply, 1);
            let mr = if self.combined {
                msg(
                    &p.space,
                    &mut self.buf,
                    sys::MACH_SEND_MSG | sys::MACH_RCV_MSG,
                    self.send_size,
                    p.reply,
                )
            } else {
                let mr = msg(
                    &p.space,
                    &mut self.buf,
                    sys::MACH_SEND_MSG,
                    self.send_size,
                    0,
                );
                if mr != 0 {
                    mr
                } else {
                    msg(&p.space, &mut self.buf, sys::MACH_RCV_MSG, 0, p.reply)
                }
            };
            assert_eq!(mr, 0, "mach RPC: mach_msg returned {mr:#x}");
        }
    }
}

/// Out-of-line transfer: the client sends a message with one out-of-line
/// region of `size` bytes (physical copy, not deallocated) and waits for an
/// empty reply; the server unmaps the region it received and replies.
pub struct MachOol {
    pair: MachPair,
    buf: Buf,
    data: Vec<u8>,
}

impl MachOol {
    pub fn new(size: usize) -> MachOol {
        let pair = MachPair::new(ServerKind::DropOol, true, HDR + 4 + 16, None);
        MachOol {
            pair,
            buf: Buf::new(HDR + 4 + 16 + TRAILER_ROOM),
            data: vec![0x5a; size],
        }
    }

    pub fn run(&mut self, n: u64) {
        let bits = sys::mach_msgh_bits(
            sys::MACH_MSG_TYPE_COPY_SEND,
            sys::MACH_MSG_TYPE_MAKE_SEND_ONCE,
        ) | sys::MACH_MSGH_BITS_COMPLEX;
        let p = &self.pair;
        for _ in 0..n {
            self.buf.header(bits, p.service, p.reply, 3);
            self.buf.set_u32(HDR, 1);
            self.buf.set_u64(HDR + 4, self.data.as_ptr() as u64);
            self.buf.set_u8(HDR + 4 + 8, 0); // deallocate
            self.buf
                .set_u8(HDR + 4 + 9, sys::MACH_MSG_PHYSICAL_COPY as u8);
            self.buf.set_u8(HDR + 4 + 10, 0);
            self.buf
                .set_u8(HDR + 4 + 11, sys::MACH_MSG_OOL_DESCRIPTOR as u8);
            self.buf.set_u32(HDR + 4 + 12, self.data.len() as u32);
            let mr = msg(
                &p.space,
                &mut self.buf,
                sys::MACH_SEND_MSG | sys::MACH_RCV_MSG,
                (HDR + 4 + 16) as u32,
                p.reply,
            );
            assert_eq!(mr, 0, "mach OOL: mach_msg returned {mr:#x}");
        }
    }
}

/// The same bytes through a pipe: the client writes `size` bytes and waits
/// for a one-byte acknowledgement; the server reads them all and answers.
pub struct PipeBulk {
    wr: OwnedFd,
    rd: OwnedFd,
    data: Vec<u8>,
    _server: Child,
}

impl PipeBulk {
    pub fn new(size: usize) -> PipeBulk {
        let (s_rd, c_wr) = pipe();
        let (c_rd, s_wr) = pipe();
        let (sr, sw) = (s_rd.as_raw_fd(), s_wr.as_raw_fd());
        let server = Child::fork(None, move || {
            let mut buf = vec![0u8; size];
            loop {
                if !read_full(sr, &mut buf) || !write_full(sw, &[1]) {
                    die("pipe bulk: read or write failed");
                }
            }
        });
        PipeBulk {
            wr: c_wr,
            rd: c_rd,
            data: vec![0x5a; size],
            _server: server,
        }
    }

    pub fn run(&mut self, n: u64) {
        let mut ack = [0u8];
        for _ in 0..n {
            assert!(write_full(self.wr.as_raw_fd(), &self.data));
            assert!(read_full(self.rd.as_raw_fd(), &mut ack));
        }
    }
}

/// Passing a port right: the client sends a message carrying a send right
/// made from a port it holds and waits for an empty reply; the server
/// deallocates the right it received (mach_port_deallocate) and replies.
pub struct MachRight {
    pair: MachPair,
    buf: Buf,
    port: u32,
}

impl MachRight {
    pub fn new() -> MachRight {
        let pair = MachPair::new(ServerKind::DropRight, true, HDR + 4 + 12, None);
        let port = pair
            .space
            .allocate(pair.space.task_self(), PortRight::RECEIVE)
            .unwrap()
            .0;
        MachRight {
            pair,
            buf: Buf::new(HDR + 4 + 12 + TRAILER_ROOM),
            port,
        }
    }

    pub fn run(&mut self, n: u64) {
        let bits = sys::mach_msgh_bits(
            sys::MACH_MSG_TYPE_COPY_SEND,
            sys::MACH_MSG_TYPE_MAKE_SEND_ONCE,
        ) | sys::MACH_MSGH_BITS_COMPLEX;
        let p = &self.pair;
        for _ in 0..n {
            self.buf.header(bits, p.service, p.reply, 4);
            self.buf.set_u32(HDR, 1);
            self.buf.set_u32(HDR + 4, self.port);
            self.buf.set_u32(HDR + 8, 0);
            self.buf.set_u32(HDR + 12, 0);
            self.buf
                .set_u8(HDR + 4 + 10, sys::MACH_MSG_TYPE_MAKE_SEND as u8);
            self.buf
                .set_u8(HDR + 4 + 11, sys::MACH_MSG_PORT_DESCRIPTOR as u8);
            let mr = msg(
                &p.space,
                &mut self.buf,
                sys::MACH_SEND_MSG | sys::MACH_RCV_MSG,
                (HDR + 4 + 12) as u32,
                p.reply,
            );
            assert_eq!(mr, 0, "mach right: mach_msg returned {mr:#x}");
        }
    }
}

impl Default for MachRight {
    fn default() -> Self {
        Self::new()
    }
}

fn send_fd(sock: RawFd, fd: RawFd) -> bool {
    let byte = [1u8];
    let mut iov = libc::iovec {
        iov_base: byte.as_ptr() as *mut _,
        iov_len: 1,
    };
    let mut cbuf = [0u64; 4];
    // SAFETY: msghdr and cmsg set up as cmsg(3) describes, inside cbuf.
    unsafe {
        let mut m: libc::msghdr = zeroed();
        m.msg_iov = &mut iov;
        m.msg_iovlen = 1;
        m.msg_control = cbuf.as_mut_ptr().cast();
        m.msg_controllen = libc::CMSG_SPACE(size_of::<RawFd>() as u32) as usize;
        let c = libc::CMSG_FIRSTHDR(&m);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(size_of::<RawFd>() as u32) as usize;
        libc::CMSG_DATA(c).cast::<RawFd>().write_unaligned(fd);
        libc::sendmsg(sock, &m, 0) == 1
    }
}

fn recv_fd(sock: RawFd) -> Option<RawFd> {
    let mut byte = [0u8];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut cbuf = [0u64; 4];
    // SAFETY: As send_fd.
    unsafe {
        let mut m: libc::msghdr = zeroed();
        m.msg_iov = &mut iov;
        m.msg_iovlen = 1;
        m.msg_control = cbuf.as_mut_ptr().cast();
        m.msg_controllen = size_of::<[u64; 4]>();
        if libc::recvmsg(sock, &mut m, libc::MSG_CMSG_CLOEXEC) != 1 {
            return None;
        }
        let c = libc::CMSG_FIRSTHDR(&m);
        if c.is_null() || (*c).cmsg_type != libc::SCM_RIGHTS {
            return None;
        }
        Some(libc::CMSG_DATA(c).cast::<RawFd>().read_unaligned())
    }
}

/// Passing a descriptor with SCM_RIGHTS over a UNIX stream socket: the
/// client sends one byte with a descriptor and waits for a one-byte reply;
/// the server closes the descriptor it received and replies.
pub struct ScmRights {
    sock: OwnedFd,
    passed: OwnedFd,
    _server: Child,
}

impl ScmRights {
    pub fn new() -> ScmRights {
        let (a, b) = socketpair(libc::SOCK_STREAM);
        let sb = b.as_raw_fd();
        let server = Child::fork(None, move || loop {
            let Some(fd) = recv_fd(sb) else {
                die("scm_rights: recvmsg failed")
            };
            // SAFETY: The descriptor just arrived and is ours.
            unsafe { libc::close(fd) };
            if !write_full(sb, &[1]) {
                die("scm_rights: write failed");
            }
        });
        drop(b);
        ScmRights {
            sock: a,
            passed: eventfd(),
            _server: server,
        }
    }

    pub fn run(&mut self, n: u64) {
        let mut ack = [0u8];
        for _ in 0..n {
            assert!(
                send_fd(self.sock.as_raw_fd(), self.passed.as_raw_fd()),
                "sendmsg"
            );
            assert!(read_full(self.sock.as_raw_fd(), &mut ack), "read ack");
        }
    }
}

impl Default for ScmRights {
    fn default() -> Self {
        Self::new()
    }
}

// --- one process: the kernel paths without a context switch ------------------

/// Messages to a port of the caller's own space: no other process, no
/// wake-up, no context switch.
pub struct MachLocal {
    space: Space,
    port: u32,
    buf: Buf,
}

/// Local sends at most this many messages before draining them.
const LOCAL_BATCH: u64 = 1000;

impl MachLocal {
    pub fn new() -> MachLocal {
        let space = Space::open().expect("open /dev/mach");
        let port = space
            .allocate(space.task_self(), PortRight::RECEIVE)
            .unwrap();
        space
            .set_qlimit(space.task_self(), port, sys::MACH_PORT_QLIMIT_MAX)
            .unwrap();
        MachLocal {
            space,
            port: port.0,
            buf: Buf::new(HDR + 8 + TRAILER_ROOM),
        }
    }

    fn send(&mut self) {
        let bits = sys::mach_msgh_bits(sys::MACH_MSG_TYPE_MAKE_SEND, 0);
        self.buf.header(bits, self.port, 0, 5);
        let mr = msg(
            &self.space,
            &mut self.buf,
            sys::MACH_SEND_MSG,
            (HDR + 8) as u32,
            0,
        );
        assert_eq!(mr, 0, "local send: {mr:#x}");
    }

    fn receive(&mut self) {
        let mr = msg(&self.space, &mut self.buf, sys::MACH_RCV_MSG, 0, self.port);
        assert_eq!(mr, 0, "local receive: {mr:#x}");
    }

    /// `n` messages sent and received in one `SEND|RCV` call each.
    pub fn send_receive(&mut self, n: u64) {
        let bits = sys::mach_msgh_bits(sys::MACH_MSG_TYPE_MAKE_SEND, 0);
        for _ in 0..n {
            self.buf.header(bits, self.port, 0, 5);
            let mr = msg(
                &self.space,
                &mut self.buf,
                sys::MACH_SEND_MSG | sys::MACH_RCV_MSG,
                (HDR + 8) as u32,
                self.port,
            );
            assert_eq!(mr, 0, "local send|receive: {mr:#x}");
        }
    }

    /// Times `n` sends alone (queued, then drained untimed).
    pub fn time_sends(&mut self, n: u64) -> std::time::Duration {
        let mut total = std::time::Duration::ZERO;
        let mut left = n;
        while left > 0 {
            let k = left.min(LOCAL_BATCH);
            let t = std::time::Instant::now();
            for _ in 0..k {
                self.send();
            }
            total += t.elapsed();
            for _ in 0..k {
                self.receive();
            }
            left -= k;
        }
        total
    }

    /// Times `n` receives alone (of messages queued untimed).
    pub fn time_receives(&mut self, n: u64) -> std::time::Duration {
        let mut total = std::time::Duration::ZERO;
        let mut left = n;
        while left > 0 {
            let k = left.min(LOCAL_BATCH);
            for _ in 0..k {
                self.send();
            }
            let t = std::time::Instant::now();
            for _ in 0..k {
                self.receive();
            }
            total += t.elapsed();
            left -= k;
        }
        total
    }
}

impl Default for MachLocal {
    fn default() -> Self {
        Self::new()
    }
}

/// Parts of the `MACH_IOC_MSG` path, each cut short by an error the
/// module checks at a known point, to tell where the time of a message goes.
pub struct MachPhases {
    space: Space,
    port: u32,
    buf: Buf,
}

impl MachPhases {
    pub fn new() -> MachPhases {
        let space = Space::open().expect("open /dev/mach");
        let port = space
            .allocate(space.task_self(), PortRight::RECEIVE)
            .unwrap()
            .0;
        MachPhases {
            space,
            port,
            buf: Buf::new(HDR + 8 + TRAILER_ROOM),
        }
    }

    /// A send of 20 bytes: refused (MACH_SEND_MSG_TOO_SMALL) before the
    /// message is read, so this is the ioctl and its argument block.
    pub fn too_small(&mut self, n: u64) {
        for _ in 0..n {
            let mr = msg(&self.space, &mut self.buf, sys::MACH_SEND_MSG, 20, 0);
            assert_eq!(mr, sys::MACH_SEND_MSG_TOO_SMALL);
        }
    }

    /// A send of 32 bytes to a name not in the space
    /// (MACH_SEND_INVALID_DEST): the message is copied in, its header
    /// checked, the space locked and the name looked up.
    pub fn invalid_dest(&mut self, n: u64) {
        let bits = sys::mach_msgh_bits(sys::MACH_MSG_TYPE_COPY_SEND, 0);
        for _ in 0..n {
            self.buf.header(bits, 0x7777_7703, 0, 6);
            let mr = msg(
                &self.space,
                &mut self.buf,
                sys::MACH_SEND_MSG,
                (HDR + 8) as u32,
                0,
            );
            assert_eq!(mr, sys::MACH_SEND_INVALID_DEST);
        }
    }

    /// A receive with a zero timeout on an empty port
    /// (MACH_RCV_TIMED_OUT): lookup and the port's queue, no message.
    pub fn empty_receive(&mut self, n: u64) {
        for _ in 0..n {
            let rcv_size = self.buf.len();
            // SAFETY: The buffer has rcv_size bytes.
            let mr = unsafe {
                self.space.mach_msg_raw(
                    self.buf.ptr(),
                    sys::MACH_RCV_MSG | sys::MACH_RCV_TIMEOUT,
                    0,
                    rcv_size,
                    PortName(self.port),
                    0,
                    PortName::NULL,
                )
            }
            .expect("MACH_IOC_MSG");
            assert_eq!(mr, sys::MACH_RCV_TIMED_OUT);
        }
    }
}

impl Default for MachPhases {
    fn default() -> Self {
        Self::new()
    }
}

/// `ioctl(FIONREAD)` on an empty pipe: about the least an ioctl costs.
pub fn pipe_fionread(fd: RawFd) -> libc::c_int {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int.
    unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    n
}

/// 8 bytes written to a pipe and read back by the same process.
pub struct PipeLocal {
    rd: OwnedFd,
    wr: OwnedFd,
}

impl PipeLocal {
    pub fn new() -> PipeLocal {
        let (rd, wr) = pipe();
        PipeLocal { rd, wr }
    }

    pub fn run(&mut self, n: u64) {
        let mut buf = [0u8; 8];
        for _ in 0..n {
            assert!(write_full(self.wr.as_raw_fd(), &buf));
            assert!(read_full(self.rd.as_raw_fd(), &mut buf));
        }
    }
}

impl Default for PipeLocal {
    fn default() -> Self {
        Self::new()
    }
}

// --- name lookup ------------------------------------------------------------------

/// A space holding `count` receive rights, and a pseudo-random sequence of
/// their names to look up with `mach_port_type`.
pub struct Lookup {
    space: Space,
    order: Vec<u32>,
    next: usize,
}

impl Lookup {
    pub fn new(count: usize) -> Lookup {
        let space = Space::open().expect("open /dev/mach");
        let task = space.task_self();
        let names: Vec<u32> = (0..count)
            .map(|_| {
                space
                    .allocate(task, PortRight::RECEIVE)
                    .expect("allocate")
                    .0
            })
            .collect();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let order = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                names[(x % count as u64) as usize]
            })
            .collect();
        Lookup {
            space,
            order,
            next: 0,
        }
    }

    pub fn run(&mut self, n: u64) {
        let task = self.space.task_self();
        for _ in 0..n {
            let name = self.order[self.next];
            self.next = (self.next + 1) % self.order.len();
            let t = self
                .space
                .port_type(task, PortName(name))
                .expect("mach_port_type");
            std::hint::black_box(t);
        }
    }
}

// --- independent pairs --------------------------------------------------------------

/// `k` independent client/server pairs, each pair on its own CPU (pair `i`
/// on CPU `i` modulo the CPUs there are), each client in its own process
/// waiting for a count of round trips to do.
pub struct Pairs {
    ctl: Vec<(OwnedFd, OwnedFd)>,
    _clients: Vec<Child>,
    _keep: Vec<Box<dyn std::any::Any>>,
}

/// Round trips each pair does per iteration of [`Pairs::run`], so that
/// starting and stopping the clients (a wake-up across CPUs) weighs little.
pub const PAIR_BATCH: u64 = 100;

/// Which RPC the pairs run.
#[derive(Clone, Copy)]
pub enum PairKind {
    Mach,
    Pipe,
    /// No IPC: each "round trip" is a loop of about 10,000 instructions in
    /// the client alone. The control: how much two CPUs of this VM give
    /// on this host at all.
    Spin,
}

impl Pairs {
    pub fn new(kind: PairKind, k: usize) -> Pairs {
        let mut ctl = Vec::new();
        let mut clients = Vec::new();
        let mut keep: Vec<Box<dyn std::any::Any>> = Vec::new();
        for i in 0..k {
            let (go_r, go_w) = pipe();
            let (done_r, done_w) = pipe();
            let (gr, dw) = (go_r.as_raw_fd(), done_w.as_raw_fd());
            let client = match kind {
                PairKind::Mach => {
                    let mut rpc = MachRpc::new(8, true, Some(i));
                    let c = Child::fork(Some(i), || client_loop(gr, dw, |n| rpc.run(n)));
                    keep.push(Box::new(rpc));
                    c
                }
                PairKind::Pipe => {
                    let mut pp = FdPingPong::new(Peer::Pipe, 8, Some(i));
                    let c = Child::fork(Some(i), || client_loop(gr, dw, |n| pp.run(n)));
                    keep.push(Box::new(pp));
                    c
                }
                PairKind::Spin => Child::fork(Some(i), || {
                    client_loop(gr, dw, |n| {
                        for _ in 0..n {
                            instruction_loop(5000);
                        }
                    })
                }),
            };
            clients.push(client);
            ctl.push((go_w, done_r));
        }
        Pairs {
            ctl,
            _clients: clients,
            _keep: keep,
        }
    }

    /// Each pair does `n` times [`PAIR_BATCH`] round trips; returns when
    /// all are done.
    pub fn run(&mut self, n: u64) {
        let n = n * PAIR_BATCH;
        for (go, _) in &self.ctl {
            assert!(write_full(go.as_raw_fd(), &n.to_ne_bytes()));
        }
        let mut b = [0u8];
        for (_, done) in &self.ctl {
            assert!(read_full(done.as_raw_fd(), &mut b));
        }
    }
}

fn client_loop(go: RawFd, done: RawFd, mut f: impl FnMut(u64)) {
    let mut nb = [0u8; 8];
    loop {
        if !read_full(go, &mut nb) {
            die("pair client: control pipe closed");
        }
        f(u64::from_ne_bytes(nb));
        if !write_full(done, &[1]) {
            die("pair client: done pipe closed");
        }
    }
}

// --- kernel memory ---------------------------------------------------------------------

/// `/proc/meminfo` in bytes, by field name.
pub fn meminfo() -> Vec<(String, u64)> {
    let text = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let kb: u64 = v.trim().trim_end_matches(" kB").trim().parse().ok()?;
            Some((k.to_string(), kb * 1024))
        })
        .collect()
}

fn field(m: &[(String, u64)], name: &str) -> i64 {
    m.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| *v as i64)
        .unwrap_or(0)
}

/// Kernel memory per object, from the growth of `/proc/meminfo`'s Slab
/// (and, as a cross-check, the fall of MemFree) while `count` objects of
/// each kind are created in spaces that stay open until the end.
#[derive(Debug, Clone)]
pub struct Memory {
    pub count: usize,
    /// Bytes of slab per dead name (a name entry without a port).
    pub dead_name_slab: f64,
    /// Per send right to a port of another space (name entry plus its
    /// entry in the space's port-to-name map).
    pub send_name_slab: f64,
    /// Per receive right made by mach_port_allocate (a port, its name
    /// entry and its port-to-name entry).
    pub receive_slab: f64,
    /// The same three from MemFree.
    pub dead_name_free: f64,
    pub send_name_free: f64,
    pub receive_free: f64,
}

impl Memory {
    /// A port alone: a receive right less a send right's name entry.
    pub fn port_slab(&self) -> f64 {
        self.receive_slab - self.send_name_slab
    }
}

pub fn measure_memory(count: usize) -> Memory {
    let settle = || std::thread::sleep(std::time::Duration::from_millis(100));
    settle();
    let m0 = meminfo();
    let dead = Space::open().expect("open /dev/mach");
    for _ in 0..count {
        dead.allocate(dead.task_self(), PortRight::DEAD_NAME)
            .expect("allocate dead name");
    }
    settle();
    let m1 = meminfo();
    let owner = Space::open().expect("open /dev/mach");
    let ports: Vec<u32> = (0..count)
        .map(|_| {
            owner
                .allocate(owner.task_self(), PortRight::RECEIVE)
                .expect("allocate")
                .0
        })
        .collect();
    settle();
    let m2 = meminfo();
    let holder = Space::open().expect("open /dev/mach");
    let owner_task = holder.task_for_fd(owner.as_fd()).unwrap();
    for &p in &ports {
        holder
            .extract_right(owner_task, PortName(p), MsgTypeName::MAKE_SEND)
            .expect("extract send right");
    }
    settle();
    let m3 = meminfo();
    let per = |a: &[(String, u64)], b: &[(String, u64)], f: &str, sign: i64| {
        (sign * (field(b, f) - field(a, f))) as f64 / count as f64
    };
    let r = Memory {
        count,
        dead_name_slab: per(&m0, &m1, "Slab", 1),
        receive_slab: per(&m1, &m2, "Slab", 1),
        send_name_slab: per(&m2, &m3, "Slab", 1),
        dead_name_free: per(&m0, &m1, "MemFree", -1),
        receive_free: per(&m1, &m2, "MemFree", -1),
        send_name_free: per(&m2, &m3, "MemFree", -1),
    };
    drop(holder);
    drop(owner);
    drop(dead);
    r
}

// --- the guest's clock -------------------------------------------------------------

/// Runs a loop of exactly `2 * n + 2` instructions (`dec; jnz` per turn),
/// for checking what one unit of the clock is in instructions.
#[inline(never)]
pub fn instruction_loop(n: u64) {
    // SAFETY: Only counts a register down.
    unsafe {
        std::arch::asm!(
            "2:",
            "dec {n}",
            "jnz 2b",
            n = inout(reg) n.max(1) => _,
            options(nomem, nostack),
        );
    }
}

/// Guest instructions per nanosecond of `Instant`, measured on
/// [`instruction_loop`]: under `-icount shift=0` this is what converts
/// the clock to instructions.
pub fn instructions_per_ns() -> f64 {
    let n = 20_000_000u64;
    instruction_loop(1000);
    let t = std::time::Instant::now();
    instruction_loop(n);
    let ns = t.elapsed().as_nanos() as f64;
    (2 * n) as f64 / ns
}
