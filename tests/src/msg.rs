//! `mach_msg` on the raw ABI, for the message tests: the `MACH_IOC_MSG`
//! ioctl with the library's EINTR rule, a builder and a parser for messages
//! in plain byte buffers, port attributes, the module's counts, and the
//! helpers the blocking tests need (is a thread blocked in the ioctl yet,
//! is a page still mapped).
//!
//! Nothing here uses the `mach` crate's message API: only `mach::sys` (the
//! ABI) and the port calls of [`TestSpace`].

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use mach::{sys, KernReturn, MsgTypeName, PortName};

use crate::check::{ensure, errno_name, TestResult, TestSpace};

pub use sys::{
    MACH_MSGH_BITS_COMPLEX as COMPLEX, MACH_RCV_INTERRUPT, MACH_RCV_LARGE, MACH_RCV_LARGE_IDENTITY,
    MACH_RCV_MSG, MACH_RCV_TIMEOUT, MACH_SEND_INTERRUPT, MACH_SEND_MSG, MACH_SEND_TIMEOUT,
};

/// The size of a message header.
pub const HEADER: u32 = sys::MACH_MSG_HEADER_SIZE;
/// A receive buffer large enough for every small message of the tests.
pub const RCV_SIZE: u32 = 4096;

// ---------------------------------------------------------------------------
// Mach message return codes, named.

/// A `mach_msg_return_t`, or `-errno` when the ioctl itself failed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Mr(pub i32);

impl fmt::Debug for Mr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            return write!(f, "errno {}", errno_name(-self.0));
        }
        // The library's names, with resource bits as NAME|MACH_MSG_IPC_SPACE.
        write!(f, "{:?}", mach::MsgReturn(self.0))
    }
}

impl fmt::Display for Mr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Fails unless `got` is `want`; `what` names the call.
pub fn expect_mr(what: &str, want: i32, got: Mr) -> TestResult {
    ensure(got.0 == want, || {
        format!("{what}: expected {}, got {got}", Mr(want))
    })
}

// ---------------------------------------------------------------------------
// The ioctl.

/// How many times [`mach_msg`] saw EINTR and went on (retried or turned it
/// into an *_INTERRUPTED code), in this process.
pub static EINTR_SEEN: AtomicU32 = AtomicU32::new(0);

/// Issues `MACH_IOC_MSG` once with `args`; gives the errno when the ioctl
/// fails. `args` is left as the module wrote it back (`mr`, and `option`
/// without `MACH_SEND_MSG` when an interrupted call had sent).
///
/// # Safety
///
/// `args.msg` must be an address the module may read `send_size` bytes from
/// and write `rcv_size` bytes to without harming this program: memory of
/// the caller's meant for it, or an address that is not mapped or not
/// writable (the module reports those as Mach codes).
pub unsafe fn mach_msg_raw(fd: RawFd, args: &mut sys::MsgArgs) -> Result<(), i32> {
    // SAFETY: MACH_IOC_MSG takes a MsgArgs, which `args` is; the caller
    // vouches for the buffer it points to.
    let rc = unsafe {
        libc::ioctl(
            fd,
            sys::MACH_IOC_MSG as libc::c_ulong,
            args as *mut sys::MsgArgs,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(())
    }
}

/// `mach_msg` as the library implements it (docs/messages.md, Signals):
/// the ioctl, and on EINTR either `MACH_SEND_INTERRUPTED` (the send is
/// still pending and the caller passed `MACH_SEND_INTERRUPT`),
/// `MACH_RCV_INTERRUPTED` (the send is done or there was none, and the
/// caller passed `MACH_RCV_INTERRUPT`), or the ioctl again with the args the
/// module wrote back, so that a completed send is never repeated. Gives the
/// Mach code, or `-errno` when the ioctl failed otherwise.
///
/// # Safety
///
/// As for [`mach_msg_raw`]: `buf` is memory of the caller's with room for
/// `max(send_size, rcv_size)` bytes, or an address that faults.
#[allow(clippy::too_many_arguments)]
pub unsafe fn mach_msg(
    fd: RawFd,
    buf: *mut u8,
    option: u32,
    send_size: u32,
    rcv_size: u32,
    rcv_name: PortName,
    timeout: u32,
    notify: PortName,
) -> i32 {
    let mut args = sys::MsgArgs {
        msg: buf as u64,
        option,
        send_size,
        rcv_size,
        rcv_name: rcv_name.0,
        timeout,
        notify: notify.0,
        mr: 0,
        reserved: 0,
    };
    loop {
        // SAFETY: Passed on from the caller.
        match unsafe { mach_msg_raw(fd, &mut args) } {
            Ok(()) => return args.mr,
            Err(libc::EINTR) => {
                EINTR_SEEN.fetch_add(1, Ordering::SeqCst);
                let send_pending = args.option & MACH_SEND_MSG != 0;
                if send_pending && option & MACH_SEND_INTERRUPT != 0 {
                    return sys::MACH_SEND_INTERRUPTED;
                }
                if !send_pending && option & MACH_RCV_INTERRUPT != 0 {
                    return sys::MACH_RCV_INTERRUPTED;
                }
                // Again, with what the module wrote back.
            }
            Err(errno) => return -errno,
        }
    }
}

// ---------------------------------------------------------------------------
// Buffers.

/// A message buffer: 8-byte aligned bytes, filled with a pattern so that
/// what the module did not write can be told from what it did.
#[derive(Clone)]
pub struct Buf {
    words: Vec<u64>,
    len: usize,
}

/// The byte a fresh [`Buf`] holds everywhere.
pub const FILL: u8 = 0xa5;

impl Buf {
    /// `len` bytes of [`FILL`].
    pub fn new(len: usize) -> Buf {
        Buf {
            words: vec![u64::from_ne_bytes([FILL; 8]); len.div_ceil(8) + 1],
            len,
        }
    }

    /// A buffer holding `bytes` (and room for nothing more).
    pub fn from_bytes(bytes: &[u8]) -> Buf {
        let mut b = Buf::new(bytes.len());
        b.bytes_mut().copy_from_slice(bytes);
        b
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `words` holds at least `len` initialized bytes; u8 has no
        // alignment or validity requirements.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.len) }
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: As in `bytes`, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.words.as_mut_ptr().cast::<u8>(), self.len) }
    }

    pub fn ptr(&mut self) -> *mut u8 {
        self.words.as_mut_ptr().cast()
    }

    pub fn u32_at(&self, off: usize) -> u32 {
        u32::from_ne_bytes(self.bytes()[off..off + 4].try_into().unwrap())
    }

    pub fn u64_at(&self, off: usize) -> u64 {
        u64::from_ne_bytes(self.bytes()[off..off + 8].try_into().unwrap())
    }

    pub fn set_u32(&mut self, off: usize, v: u32) {
        self.bytes_mut()[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    }

    /// The header at the start of the buffer.
    pub fn header(&self) -> Header {
        Header {
            bits: self.u32_at(0),
            size: self.u32_at(4),
            remote: PortName(self.u32_at(8)),
            local: PortName(self.u32_at(12)),
            voucher: PortName(self.u32_at(16)),
            id: self.u32_at(20),
        }
    }

    /// The descriptors of a complex message (none for a simple one).
    pub fn descriptors(&self) -> Result<Vec<Desc>, String> {
        let h = self.header();
        if h.bits & COMPLEX == 0 {
            return Ok(Vec::new());
        }
        let count = self.u32_at(HEADER as usize);
        let mut off = (HEADER + 4) as usize;
        let mut out = Vec::new();
        for i in 0..count {
            if off + 12 > self.len {
                return Err(format!(
                    "descriptor {i} of {count} runs past the received bytes"
                ));
            }
            let ty = self.bytes()[off + 11] as u32;
            let d = match ty {
                sys::MACH_MSG_PORT_DESCRIPTOR => Desc::Port {
                    name: PortName(self.u32_at(off)),
                    disposition: MsgTypeName(self.bytes()[off + 10] as u32),
                },
                sys::MACH_MSG_OOL_DESCRIPTOR | sys::MACH_MSG_OOL_VOLATILE_DESCRIPTOR => Desc::Ool {
                    address: self.u64_at(off),
                    deallocate: self.bytes()[off + 8] != 0,
                    copy: self.bytes()[off + 9] as u32,
                    size: self.u32_at(off + 12),
                    ty,
                },
                sys::MACH_MSG_OOL_PORTS_DESCRIPTOR => Desc::OolPorts {
                    address: self.u64_at(off),
                    deallocate: self.bytes()[off + 8] != 0,
                    copy: self.bytes()[off + 9] as u32,
                    disposition: MsgTypeName(self.bytes()[off + 10] as u32),
                    count: self.u32_at(off + 12),
                },
                other => return Err(format!("descriptor {i} has type {other}")),
            };
            off += d.size();
            out.push(d);
        }
        Ok(out)
    }

    /// Where the inline data of a message starts (after its descriptors).
    pub fn data_offset(&self) -> Result<usize, String> {
        let descs = self.descriptors()?;
        if self.header().bits & COMPLEX == 0 {
            return Ok(HEADER as usize);
        }
        Ok(HEADER as usize + 4 + descs.iter().map(Desc::size).sum::<usize>())
    }

    /// The inline data of a received message: from after its descriptors up
    /// to `msgh_size`.
    pub fn data(&self) -> Result<Vec<u8>, String> {
        let start = self.data_offset()?;
        let end = self.header().size as usize;
        ensure(start <= end && end <= self.len, || {
            format!(
                "msgh_size {end} does not fit a message whose data starts at {start} in {} bytes",
                self.len
            )
        })?;
        Ok(self.bytes()[start..end].to_vec())
    }

    /// The trailer after `msgh_size` bytes.
    pub fn trailer(&self) -> Result<Trailer, String> {
        self.trailer_at(self.header().size as usize)
    }

    /// The trailer at `off`; fields past the buffer read as the fill.
    pub fn trailer_at(&self, off: usize) -> Result<Trailer, String> {
        ensure(off + 8 <= self.len, || {
            format!("no room for a trailer at {off} in {} bytes", self.len)
        })?;
        let word = |i: usize| -> u32 {
            let at = off + 4 * i;
            if at + 4 <= self.len {
                self.u32_at(at)
            } else {
                u32::from_ne_bytes([FILL; 4])
            }
        };
        let mut audit = [0u32; 8];
        for (i, a) in audit.iter_mut().enumerate() {
            *a = word(5 + i);
        }
        Ok(Trailer {
            ty: word(0),
            size: word(1),
            seqno: word(2),
            uid: word(3),
            gid: word(4),
            audit,
            context: (word(13) as u64) | ((word(14) as u64) << 32),
            ad: word(15),
            labels: word(16),
        })
    }
}

/// A message header as it lies in a buffer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub bits: u32,
    pub size: u32,
    pub remote: PortName,
    pub local: PortName,
    pub voucher: PortName,
    pub id: u32,
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{bits {:#x}, size {}, remote {:?}, local {:?}, voucher {:?}, id {:#x}}}",
            self.bits, self.size, self.remote, self.local, self.voucher, self.id
        )
    }
}

/// A descriptor as it lies in a received message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Desc {
    Port {
        name: PortName,
        disposition: MsgTypeName,
    },
    Ool {
        address: u64,
        deallocate: bool,
        copy: u32,
        size: u32,
        ty: u32,
    },
    OolPorts {
        address: u64,
        deallocate: bool,
        copy: u32,
        disposition: MsgTypeName,
        count: u32,
    },
}

impl Desc {
    fn size(&self) -> usize {
        match self {
            Desc::Port { .. } => sys::MACH_MSG_PORT_DESCRIPTOR_SIZE as usize,
            _ => sys::MACH_MSG_OOL_DESCRIPTOR_SIZE as usize,
        }
    }
}

/// A format-0 trailer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trailer {
    pub ty: u32,
    pub size: u32,
    pub seqno: u32,
    pub uid: u32,
    pub gid: u32,
    /// {auid, euid, egid, ruid, rgid, pid, asid, pidversion}.
    pub audit: [u32; 8],
    pub context: u64,
    pub ad: u32,
    pub labels: u32,
}

// ---------------------------------------------------------------------------
// Building messages.

/// A descriptor to send, written as the user writes it.
#[derive(Clone, Copy, Debug)]
pub enum SendDesc {
    Port {
        name: PortName,
        disposition: MsgTypeName,
    },
    Ool {
        address: u64,
        size: u32,
        deallocate: bool,
        copy: u32,
        ty: u32,
    },
    OolPorts {
        address: u64,
        count: u32,
        disposition: MsgTypeName,
        deallocate: bool,
        copy: u32,
    },
    /// Sixteen bytes as given (a descriptor of any type, bad ones included).
    Raw16([u8; 16]),
    /// Twelve bytes as given.
    Raw12([u8; 12]),
}

/// A message to send.
#[derive(Clone, Debug)]
pub struct Msg {
    /// `msgh_bits`; `build` adds MACH_MSGH_BITS_COMPLEX when there are
    /// descriptors.
    pub bits: u32,
    pub remote: PortName,
    pub local: PortName,
    pub voucher: PortName,
    pub id: u32,
    /// `msgh_size` as written (the module ignores it); None: the real size.
    pub size_field: Option<u32>,
    pub descs: Vec<SendDesc>,
    /// Inline data after the descriptors.
    pub data: Vec<u8>,
}

impl Msg {
    /// A simple message to `remote`, taken with `disposition`.
    pub fn to(remote: PortName, disposition: MsgTypeName) -> Msg {
        Msg {
            bits: sys::mach_msgh_bits(disposition.0, 0),
            remote,
            local: PortName::NULL,
            voucher: PortName::NULL,
            id: 0,
            size_field: None,
            descs: Vec::new(),
            data: Vec::new(),
        }
    }

    /// With the reply (local) port `local`, taken with `disposition`.
    pub fn reply(mut self, local: PortName, disposition: MsgTypeName) -> Msg {
        self.bits =
            (self.bits & !sys::MACH_MSGH_BITS_LOCAL_MASK) | sys::mach_msgh_bits(0, disposition.0);
        self.local = local;
        self
    }

    pub fn id(mut self, id: u32) -> Msg {
        self.id = id;
        self
    }

    pub fn data(mut self, data: &[u8]) -> Msg {
        self.data = data.to_vec();
        self
    }

    /// Inline data of `words`.
    pub fn words(mut self, words: &[u32]) -> Msg {
        self.data = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
        self
    }

    pub fn port(mut self, name: PortName, disposition: MsgTypeName) -> Msg {
        self.descs.push(SendDesc::Port { name, disposition });
        self
    }

    /// An out-of-line region, copied physically.
    pub fn ool(mut self, address: *const u8, size: u32, deallocate: bool) -> Msg {
        self.descs.push(SendDesc::Ool {
            address: address as u64,
            size,
            deallocate,
            copy: sys::MACH_MSG_PHYSICAL_COPY,
            ty: sys::MACH_MSG_OOL_DESCRIPTOR,
        });
        self
    }

    pub fn ool_ports(
        mut self,
        address: *const PortName,
        count: u32,
        disposition: MsgTypeName,
        deallocate: bool,
    ) -> Msg {
        self.descs.push(SendDesc::OolPorts {
            address: address as u64,
            count,
            disposition,
            deallocate,
            copy: sys::MACH_MSG_PHYSICAL_COPY,
        });
        self
    }

    pub fn desc(mut self, d: SendDesc) -> Msg {
        self.descs.push(d);
        self
    }

    /// The message's bytes, with `msgh_size` the real size unless
    /// `size_field` says otherwise.
    pub fn build(&self) -> Buf {
        let mut out: Vec<u8> = Vec::new();
        let complex = !self.descs.is_empty();
        let bits = if complex {
            self.bits | COMPLEX
        } else {
            self.bits
        };
        for w in [
            bits,
            0,
            self.remote.0,
            self.local.0,
            self.voucher.0,
            self.id,
        ] {
            out.extend_from_slice(&w.to_ne_bytes());
        }
        if complex {
            out.extend_from_slice(&(self.descs.len() as u32).to_ne_bytes());
        }
        for d in &self.descs {
            match *d {
                SendDesc::Port { name, disposition } => {
                    out.extend_from_slice(&name.0.to_ne_bytes());
                    out.extend_from_slice(&0u32.to_ne_bytes());
                    out.extend_from_slice(&0u16.to_ne_bytes());
                    out.push(disposition.0 as u8);
                    out.push(sys::MACH_MSG_PORT_DESCRIPTOR as u8);
                }
                SendDesc::Ool {
                    address,
                    size,
                    deallocate,
                    copy,
                    ty,
                } => {
                    out.extend_from_slice(&address.to_ne_bytes());
                    out.push(deallocate as u8);
                    out.push(copy as u8);
                    out.push(0);
                    out.push(ty as u8);
                    out.extend_from_slice(&size.to_ne_bytes());
                }
                SendDesc::OolPorts {
                    address,
                    count,
                    disposition,
                    deallocate,
                    copy,
                } => {
                    out.extend_from_slice(&address.to_ne_bytes());
                    out.push(deallocate as u8);
                    out.push(copy as u8);
                    out.push(disposition.0 as u8);
                    out.push(sys::MACH_MSG_OOL_PORTS_DESCRIPTOR as u8);
                    out.extend_from_slice(&count.to_ne_bytes());
                }
                SendDesc::Raw16(bytes) => out.extend_from_slice(&bytes),
                SendDesc::Raw12(bytes) => out.extend_from_slice(&bytes),
            }
        }
        out.extend_from_slice(&self.data);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
        let size = self.size_field.unwrap_or(out.len() as u32);
        out[4..8].copy_from_slice(&size.to_ne_bytes());
        Buf::from_bytes(&out)
    }

    /// The size `build` gives.
    pub fn len(&self) -> u32 {
        self.build().len() as u32
    }
}

/// A port descriptor's 12 bytes with any disposition and type bytes.
pub fn raw_port_desc(name: PortName, disposition: u8, ty: u8) -> SendDesc {
    let mut b = [0u8; 12];
    b[0..4].copy_from_slice(&name.0.to_ne_bytes());
    b[10] = disposition;
    b[11] = ty;
    SendDesc::Raw12(b)
}

/// An out-of-line descriptor's 16 bytes with any copy and type bytes.
pub fn raw_ool_desc(address: u64, size: u32, copy: u8, ty: u8) -> SendDesc {
    let mut b = [0u8; 16];
    b[0..8].copy_from_slice(&address.to_ne_bytes());
    b[9] = copy;
    b[11] = ty;
    b[12..16].copy_from_slice(&size.to_ne_bytes());
    SendDesc::Raw16(b)
}

/// `MACH_MSGH_BITS(remote, local)`.
pub const fn bits(remote: u32, local: u32) -> u32 {
    sys::mach_msgh_bits(remote, local)
}

/// The receive option asking for trailer elements `n`.
pub const fn elements(n: u32) -> u32 {
    sys::mach_rcv_trailer_elements(n)
}

// ---------------------------------------------------------------------------
// Calls on a TestSpace.

/// What a receive gave: the code and the buffer.
pub struct Received {
    pub mr: Mr,
    pub buf: Buf,
}

impl Received {
    pub fn header(&self) -> Header {
        self.buf.header()
    }
}

/// mach_msg through a [`TestSpace`].
pub trait MsgSpace {
    fn fd(&self) -> RawFd;

    /// Sends `m` (MACH_SEND_MSG | `option`) with `timeout`.
    fn send_opt(&self, m: &Msg, option: u32, timeout: u32) -> Mr {
        let mut buf = m.build();
        let size = buf.len() as u32;
        // SAFETY: `buf` is ours and holds `size` bytes; nothing is received.
        Mr(unsafe {
            mach_msg(
                self.fd(),
                buf.ptr(),
                MACH_SEND_MSG | option,
                size,
                0,
                PortName::NULL,
                timeout,
                PortName::NULL,
            )
        })
    }

    /// Sends `m`, waiting as long as it takes.
    fn send(&self, m: &Msg) -> Mr {
        self.send_opt(m, 0, 0)
    }

    /// Sends `m` and expects MACH_MSG_SUCCESS.
    fn send_ok(&self, m: &Msg) -> TestResult {
        expect_mr(
            &format!("send of {m:?}"),
            sys::MACH_MSG_SUCCESS,
            self.send(m),
        )
    }

    /// Sends `m` without waiting (SEND_TIMEOUT 0) and expects `want`.
    fn send_now_gives(&self, m: &Msg, want: i32) -> TestResult {
        expect_mr(
            &format!("send (SEND_TIMEOUT 0) of {m:?}"),
            want,
            self.send_opt(m, MACH_SEND_TIMEOUT, 0),
        )
    }

    /// Sends `m` and expects `want`.
    fn send_gives(&self, m: &Msg, want: i32) -> TestResult {
        expect_mr(&format!("send of {m:?}"), want, self.send(m))
    }

    /// Receives on `name` into a buffer of `size` bytes, passing `size` as
    /// rcv_size: MACH_RCV_MSG | `option`.
    fn recv_opt(&self, name: PortName, size: u32, option: u32, timeout: u32) -> Received {
        let mut buf = Buf::new(size as usize);
        // SAFETY: `buf` is ours with room for `size` bytes.
        let mr = unsafe {
            mach_msg(
                self.fd(),
                buf.ptr(),
                MACH_RCV_MSG | option,
                0,
                size,
                name,
                timeout,
                PortName::NULL,
            )
        };
        Received { mr: Mr(mr), buf }
    }

    /// Receives on `name` without waiting (RCV_TIMEOUT 0), into RCV_SIZE
    /// bytes, and expects a message.
    fn recv_now(&self, name: PortName) -> Result<Buf, String> {
        self.recv_now_opt(name, 0)
    }

    /// As [`recv_now`](Self::recv_now), with more options.
    fn recv_now_opt(&self, name: PortName, option: u32) -> Result<Buf, String> {
        let r = self.recv_opt(name, RCV_SIZE, MACH_RCV_TIMEOUT | option, 0);
        expect_mr(
            &format!("receive (RCV_TIMEOUT 0) on {name:?}"),
            sys::MACH_MSG_SUCCESS,
            r.mr,
        )?;
        Ok(r.buf)
    }

    /// Nothing is queued on `name`: a receive with RCV_TIMEOUT 0 times out.
    fn expect_empty(&self, name: PortName) -> TestResult {
        let r = self.recv_opt(name, RCV_SIZE, MACH_RCV_TIMEOUT, 0);
        expect_mr(
            &format!("receive (RCV_TIMEOUT 0) on {name:?}, which should be empty"),
            sys::MACH_RCV_TIMED_OUT,
            r.mr,
        )
    }

    /// Receives what is queued on `port` (RCV_TIMEOUT 0, until the receive
    /// times out) and expects exactly `n` messages, each a
    /// MACH_NOTIFY_SEND_ONCE notification (docs/notifications.md): every
    /// send-once right destroyed without a message through it sends one to
    /// its port, through itself. As received: msgh_bits 0x1200 (local type
    /// PORT_SEND_ONCE), msgh_size 24 (header only), no remote port, the
    /// local port `port`, no voucher, id 71.
    fn expect_send_once_notifications(&self, port: PortName, n: u32) -> TestResult {
        let want = Header {
            bits: SEND_ONCE_NOTIFICATION_BITS,
            size: HEADER,
            remote: PortName::NULL,
            local: port,
            voucher: PortName::NULL,
            id: sys::MACH_NOTIFY_SEND_ONCE as u32,
        };
        let mut got = 0u32;
        loop {
            let r = self.recv_opt(port, RCV_SIZE, MACH_RCV_TIMEOUT, 0);
            if r.mr.0 == sys::MACH_RCV_TIMED_OUT {
                break;
            }
            expect_mr(
                &format!(
                    "receive (RCV_TIMEOUT 0) on {port:?} of send-once notification {}",
                    got + 1
                ),
                sys::MACH_MSG_SUCCESS,
                r.mr,
            )?;
            let h = r.header();
            ensure(h == want, || {
                format!(
                    "message {} received on {port:?}: expected the send-once notification {want:?}, got {h:?}",
                    got + 1
                )
            })?;
            got += 1;
            // More than expected already: stop rather than drain forever.
            if got > n + 64 {
                break;
            }
        }
        ensure(got == n, || {
            format!("send-once notifications received on {port:?}: expected {n}, got {got}")
        })
    }
}

/// `msgh_bits` of a received send-once notification:
/// `MACH_MSGH_BITS(0, MACH_MSG_TYPE_PORT_SEND_ONCE)`.
pub const SEND_ONCE_NOTIFICATION_BITS: u32 = 0x1200;
const _: () = assert!(
    SEND_ONCE_NOTIFICATION_BITS == sys::mach_msgh_bits(0, sys::MACH_MSG_TYPE_PORT_SEND_ONCE)
);

impl MsgSpace for TestSpace {
    fn fd(&self) -> RawFd {
        self.as_raw_fd()
    }
}

// ---------------------------------------------------------------------------
// Port attributes.

/// `MACH_IOC_PORT_GET_ATTRIBUTES` / `SET_ATTRIBUTES` with `a`; gives the
/// errno when the ioctl fails.
pub fn attributes_ioctl(
    s: &TestSpace,
    cmd: u32,
    a: &mut sys::PortAttributesArgs,
) -> Result<(), i32> {
    // SAFETY: Both commands take a PortAttributesArgs, which has no
    // addresses in it.
    let r = unsafe { mach::ioctl_raw(s.as_fd(), cmd, a) };
    r.map_err(|e| e.raw_os_error().unwrap_or(0))
}

/// get_attributes(task, name, flavor) with room for `count` words: gives
/// (kr, count written, info).
pub fn get_attributes(
    s: &TestSpace,
    task: PortName,
    name: PortName,
    flavor: u32,
    count: u32,
) -> Result<(KernReturn, u32, [u32; 10]), String> {
    let mut a = sys::PortAttributesArgs {
        task: task.0,
        name: name.0,
        flavor,
        count,
        ..Default::default()
    };
    attributes_ioctl(s, sys::MACH_IOC_PORT_GET_ATTRIBUTES, &mut a).map_err(|e| {
        format!(
            "get_attributes({task:?}, {name:?}, flavor {flavor}, count {count}): errno {}",
            errno_name(e)
        )
    })?;
    Ok((KernReturn(a.kr), a.count, a.info))
}

/// set_attributes(task, name, flavor, info[..count]): gives the kr.
pub fn set_attributes(
    s: &TestSpace,
    task: PortName,
    name: PortName,
    flavor: u32,
    info: &[u32],
    count: u32,
) -> Result<KernReturn, String> {
    let mut a = sys::PortAttributesArgs {
        task: task.0,
        name: name.0,
        flavor,
        count,
        ..Default::default()
    };
    a.info[..info.len()].copy_from_slice(info);
    attributes_ioctl(s, sys::MACH_IOC_PORT_SET_ATTRIBUTES, &mut a).map_err(|e| {
        format!(
            "set_attributes({task:?}, {name:?}, flavor {flavor}, {info:?}, count {count}): errno {}",
            errno_name(e)
        )
    })?;
    Ok(KernReturn(a.kr))
}

/// The queue limit of `port`.
pub fn qlimit(s: &TestSpace, port: PortName) -> Result<u32, String> {
    let (kr, count, info) = get_attributes(
        s,
        crate::check::TASK,
        port,
        sys::MACH_PORT_LIMITS_INFO,
        sys::MACH_PORT_LIMITS_INFO_COUNT,
    )?;
    ensure(kr.0 == sys::KERN_SUCCESS && count == 1, || {
        format!("get_attributes({port:?}, LIMITS_INFO): expected KERN_SUCCESS and count 1, got {kr} and count {count}")
    })?;
    Ok(info[0])
}

/// Sets the queue limit of `port`; expects KERN_SUCCESS.
pub fn set_qlimit(s: &TestSpace, port: PortName, limit: u32) -> TestResult {
    let kr = set_attributes(
        s,
        crate::check::TASK,
        port,
        sys::MACH_PORT_LIMITS_INFO,
        &[limit],
        1,
    )?;
    ensure(kr.0 == sys::KERN_SUCCESS, || {
        format!("set_attributes({port:?}, LIMITS_INFO, qlimit {limit}): expected KERN_SUCCESS, got {kr}")
    })
}

/// `mach_port_status_t`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Status {
    pub pset: u32,
    pub seqno: u32,
    pub mscount: u32,
    pub qlimit: u32,
    pub msgcount: u32,
    pub sorights: u32,
    pub srights: u32,
    pub pdrequest: u32,
    pub nsrequest: u32,
    pub flags: u32,
}

/// MACH_PORT_RECEIVE_STATUS of `port`.
pub fn status(s: &TestSpace, port: PortName) -> Result<Status, String> {
    let (kr, count, i) = get_attributes(
        s,
        crate::check::TASK,
        port,
        sys::MACH_PORT_RECEIVE_STATUS,
        sys::MACH_PORT_RECEIVE_STATUS_COUNT,
    )?;
    ensure(kr.0 == sys::KERN_SUCCESS && count == 10, || {
        format!("get_attributes({port:?}, RECEIVE_STATUS): expected KERN_SUCCESS and count 10, got {kr} and count {count}")
    })?;
    Ok(Status {
        pset: i[0],
        seqno: i[1],
        mscount: i[2],
        qlimit: i[3],
        msgcount: i[4],
        sorights: i[5],
        srights: i[6],
        pdrequest: i[7],
        nsrequest: i[8],
        flags: i[9],
    })
}

/// The number of messages queued on `port`.
pub fn msgcount(s: &TestSpace, port: PortName) -> Result<u32, String> {
    Ok(status(s, port)?.msgcount)
}

/// Fails unless `port` has `want` messages queued.
pub fn expect_msgcount(s: &TestSpace, port: PortName, want: u32) -> TestResult {
    let got = msgcount(s, port)?;
    ensure(got == want, || {
        format!("messages queued on {port:?}: expected {want}, got {got}")
    })
}

// ---------------------------------------------------------------------------
// The module's counts.

/// MACH_IOC_STATS, all fields.
pub fn stats(s: &TestSpace) -> Result<sys::StatsArgs, String> {
    let mut a = sys::StatsArgs::default();
    // SAFETY: MACH_IOC_STATS takes a StatsArgs, which has no addresses.
    unsafe { mach::ioctl_raw(s.as_fd(), sys::MACH_IOC_STATS, &mut a) }
        .map_err(|e| format!("MACH_IOC_STATS: {e}"))?;
    Ok(a)
}

/// The counts that matter for leaks, for messages.
fn counts(a: &sys::StatsArgs) -> [(&'static str, u64); 6] {
    [
        ("spaces", a.spaces),
        ("ports", a.ports),
        ("port_sets", a.port_sets),
        ("names", a.names),
        ("messages", a.messages),
        ("message_bytes", a.message_bytes),
    ]
}

/// The module's counts when a test starts; [`Baseline::check`] expects them
/// back once the test has closed what it opened.
pub struct Baseline {
    s: TestSpace,
    before: sys::StatsArgs,
}

impl Baseline {
    /// Opens a space of its own (counted in the baseline) and reads the
    /// counts.
    pub fn new() -> Result<Baseline, String> {
        let s = TestSpace::open_as("baseline")?;
        let before = stats(&s)?;
        Ok(Baseline { s, before })
    }

    pub fn now(&self) -> Result<sys::StatsArgs, String> {
        stats(&self.s)
    }

    pub fn before(&self) -> sys::StatsArgs {
        self.before
    }

    /// The counts are back where they were; `after` names what was done.
    pub fn check(&self, after: &str) -> TestResult {
        let now = stats(&self.s)?;
        let diffs: Vec<String> = counts(&self.before)
            .iter()
            .zip(counts(&now))
            .filter(|(b, n)| b.1 != n.1)
            .map(|(b, n)| format!("{} {} (was {})", b.0, n.1, b.1))
            .collect();
        ensure(diffs.is_empty(), || {
            format!(
                "after {after}: the module's counts are not back to where they were: {}",
                diffs.join(", ")
            )
        })
    }

    /// `messages` and `message_bytes` are `extra` above the baseline.
    pub fn expect_queued(&self, what: &str, messages: u64, bytes: u64) -> TestResult {
        let now = stats(&self.s)?;
        ensure(
            now.messages == self.before.messages + messages
                && now.message_bytes == self.before.message_bytes + bytes,
            || {
                format!(
                    "{what}: expected {messages} messages and {bytes} bytes queued beyond the baseline, \
                     got {} and {}",
                    now.messages as i64 - self.before.messages as i64,
                    now.message_bytes as i64 - self.before.message_bytes as i64
                )
            },
        )
    }
}

// ---------------------------------------------------------------------------
// Memory.

/// The page size.
pub fn page() -> usize {
    crate::raw::page_size()
}

/// An anonymous mapping of `len` bytes (rounded up to pages), read-write,
/// that the test owns and unmaps itself (or lets the module unmap).
pub fn map(len: usize) -> Result<*mut u8, String> {
    map_prot(len, libc::PROT_READ | libc::PROT_WRITE, 0)
}

/// An anonymous mapping with `prot` and extra `flags`.
pub fn map_prot(len: usize, prot: i32, flags: i32) -> Result<*mut u8, String> {
    // SAFETY: A new anonymous mapping at an address of the kernel's
    // choosing overlaps nothing of ours.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len.max(1),
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | flags,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(format!("mmap({len}): {}", io::Error::last_os_error()));
    }
    Ok(p.cast())
}

/// Unmaps `[p, p+len)`.
///
/// # Safety
///
/// Nothing refers to that memory any more.
pub unsafe fn unmap(p: *mut u8, len: usize) {
    // SAFETY: Passed on from the caller.
    unsafe { libc::munmap(p.cast(), len.max(1)) };
}

/// Whether the page holding `addr` is mapped (mincore answers ENOMEM for
/// an unmapped page).
pub fn is_mapped(addr: *const u8) -> bool {
    let pg = page();
    let base = (addr as usize) & !(pg - 1);
    let mut vec = [0u8; 1];
    // SAFETY: mincore only reads the page tables and writes one byte of
    // `vec`.
    let rc = unsafe { libc::mincore(base as *mut libc::c_void, pg, vec.as_mut_ptr()) };
    rc == 0
}

/// Bytes that differ from one offset to the next and from run to run of
/// `seed`: a pattern whose copy can be checked byte for byte.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_ne_bytes());
    }
    out.truncate(len);
    out
}

/// The bytes at `addr` (received out-of-line memory).
///
/// # Safety
///
/// `[addr, addr+len)` is mapped and readable.
pub unsafe fn read_mem(addr: u64, len: usize) -> Vec<u8> {
    // SAFETY: Passed on from the caller.
    unsafe { std::slice::from_raw_parts(addr as *const u8, len) }.to_vec()
}

// ---------------------------------------------------------------------------
// Threads, processes and signals.

/// The caller's thread id.
pub fn gettid() -> libc::pid_t {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// Waits until thread `tid` of process `pid` sleeps inside
/// `ioctl(fd, MACH_IOC_MSG)` (read from /proc/PID/task/TID/syscall, which
/// the kernel answers only for a task that is not running). Gives false
/// (after a fallback pause) where /proc cannot tell, so that the caller
/// only loses determinism, not correctness.
pub fn wait_blocked_in_msg(pid: libc::pid_t, tid: libc::pid_t, fd: RawFd) -> bool {
    let path = format!("/proc/{pid}/task/{tid}/syscall");
    let want_prefix = format!("{} {:#x} {:#x} ", libc::SYS_ioctl, fd, sys::MACH_IOC_MSG);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        match std::fs::read_to_string(&path) {
            Ok(text) if text.starts_with(&want_prefix) => {
                // Blocked in our ioctl: make sure it stays so for a moment
                // (not merely passing through a lock on its way in).
                std::thread::sleep(Duration::from_millis(2));
                if std::fs::read_to_string(&path)
                    .map(|t| t.starts_with(&want_prefix))
                    .unwrap_or(false)
                {
                    return true;
                }
            }
            Ok(_) => {}
            Err(_) => {
                std::thread::sleep(Duration::from_millis(200));
                return false;
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

/// [`wait_blocked_in_msg`] for a thread of this process.
pub fn wait_thread_blocked(tid: libc::pid_t, fd: RawFd) -> bool {
    // SAFETY: getpid has no preconditions.
    wait_blocked_in_msg(unsafe { libc::getpid() }, tid, fd)
}

/// Sends `sig` to thread `tid` of this process.
pub fn tgkill(tid: libc::pid_t, sig: i32) -> TestResult {
    // SAFETY: tgkill has no memory-safety preconditions; the thread is ours.
    let rc = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, sig) };
    ensure(rc == 0, || {
        format!("tgkill({tid}, {sig}): {}", io::Error::last_os_error())
    })
}

/// How many times [`count_signal`] ran.
pub static SIGNALS_HANDLED: AtomicU32 = AtomicU32::new(0);

extern "C" fn count_signal(_: libc::c_int) {
    SIGNALS_HANDLED.fetch_add(1, Ordering::SeqCst);
}

/// Installs a handler for `sig` that counts into [`SIGNALS_HANDLED`],
/// without SA_RESTART: a blocked call it interrupts fails with EINTR.
pub fn install_counting_handler(sig: i32) -> TestResult {
    // SAFETY: sigaction is a plain C struct for which all zeroes is valid;
    // the handler only touches an atomic, which is async-signal-safe.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = count_signal as extern "C" fn(libc::c_int) as usize;
        sa.sa_flags = 0;
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(sig, &sa, ptr::null_mut()) != 0 {
            return Err(format!("sigaction({sig}): {}", io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// Sets `sig` to be ignored.
pub fn ignore_signal(sig: i32) -> TestResult {
    // SAFETY: SIG_IGN is a valid disposition for a catchable signal.
    let r = unsafe { libc::signal(sig, libc::SIG_IGN) };
    ensure(r != libc::SIG_ERR, || {
        format!("signal({sig}, SIG_IGN) failed")
    })
}

/// Waits until `counter` reaches `n` (5 s at most).
pub fn wait_for_count(counter: &AtomicU32, n: u32) -> TestResult {
    let start = Instant::now();
    while counter.load(Ordering::SeqCst) < n {
        if start.elapsed() > Duration::from_secs(5) {
            return Err(format!(
                "waited 5 s for a count of {n}, it stays at {}",
                counter.load(Ordering::SeqCst)
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Rights for the tests to aim at.

/// A port in a space of its own and a send right to it in another space
/// (under a name that holds nothing else, which a space cannot have for a
/// port whose receive right it holds).
pub struct Foreign {
    pub space: TestSpace,
    pub port: PortName,
    /// The send right in the other space.
    pub send: PortName,
}

/// A send right in `s`, with `urefs` references, to a port of a space of
/// its own.
pub fn foreign_send(s: &TestSpace, urefs: u32) -> Result<Foreign, String> {
    let space = TestSpace::open_as("O")?;
    let port = space.new_receive()?;
    let ts = space.task_for(s)?;
    let send = s.unused_name(0x6f00_0103)?;
    space
        .insert_right(ts, send, port, crate::check::MAKE_SEND)
        .succeeds()?;
    if urefs > 1 {
        s.mod_refs(
            crate::check::TASK,
            send,
            crate::check::SEND,
            urefs as i32 - 1,
        )
        .succeeds()?;
    }
    Ok(Foreign { space, port, send })
}

/// Runs `f` (a call that blocks in MACH_IOC_MSG on `fd`) on a thread of
/// `scope`; gives its handle once the thread sleeps in the ioctl, and
/// whether that could be seen (false: /proc could not tell, and the
/// caller went on after a pause).
pub fn spawn_blocked<'s, 'e, T: Send + 's>(
    scope: &'s std::thread::Scope<'s, 'e>,
    fd: RawFd,
    f: impl FnOnce() -> T + Send + 's,
) -> (std::thread::ScopedJoinHandle<'s, T>, bool) {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = scope.spawn(move || {
        let _ = tx.send(gettid());
        f()
    });
    let blocked = match rx.recv() {
        Ok(tid) => wait_thread_blocked(tid, fd),
        Err(_) => false,
    };
    (h, blocked)
}

/// Joins a thread of a test.
pub fn join<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> Result<T, String> {
    h.join()
        .map_err(|_| "a thread of the test panicked".to_string())
}
