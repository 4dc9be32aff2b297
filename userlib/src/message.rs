//! Messages as values: a [`Message`] to send, a [`Received`] one, and
//! [`Space::send`], [`Space::receive`] and [`Space::send_receive`].

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use crate::msg::{MsgBuffer, MsgReturn};
use crate::{sys, Error, MsgTypeName, PortName, PortRight, Result, Space};

const HEADER: usize = sys::MACH_MSG_HEADER_SIZE as usize;
const BODY: usize = sys::MACH_MSG_BODY_SIZE as usize;
const PORT_DESC: usize = sys::MACH_MSG_PORT_DESCRIPTOR_SIZE as usize;
const OOL_DESC: usize = sys::MACH_MSG_OOL_DESCRIPTOR_SIZE as usize;

/// One descriptor of a message to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Descriptor<'a> {
    /// A port right, taken as `disposition` says (`MOVE_RECEIVE` ..
    /// `MAKE_SEND_ONCE`). `NULL` and `DEAD` names pass through as such.
    Port {
        name: PortName,
        disposition: MsgTypeName,
    },
    /// Out-of-line bytes, sent with `MACH_MSG_VIRTUAL_COPY` and `deallocate`
    /// false: the sender's memory is only read. They arrive in a fresh
    /// mapping of the receiver.
    Ool { data: Cow<'a, [u8]> },
    /// An out-of-line array of port rights, each taken as `disposition`
    /// says; it arrives as a fresh array of the receiver's names.
    OolPorts {
        names: Cow<'a, [PortName]>,
        disposition: MsgTypeName,
    },
}

impl Descriptor<'_> {
    fn size(&self) -> usize {
        match self {
            Descriptor::Port { .. } => PORT_DESC,
            Descriptor::Ool { .. } | Descriptor::OolPorts { .. } => OOL_DESC,
        }
    }
}

/// A message to send: a header, descriptors (which make it complex) and
/// inline bytes.
///
/// Built with [`Message::new`] and the methods after it; sent with
/// [`Space::send`] or [`Space::send_receive`]. Inline data is padded with
/// zeros to a multiple of 4 bytes (Mach message sizes are), so the receiver
/// sees the padded length.
///
/// ```no_run
/// use mach::{Message, MsgTypeName, PortName, SendOptions, Space};
/// # let space = Space::open()?; let port = PortName(0x207); let reply = PortName(0x307);
/// let msg = Message::new(port, MsgTypeName::COPY_SEND)
///     .id(1000)
///     .reply_port(reply, MsgTypeName::MAKE_SEND_ONCE)
///     .data(&b"hello"[..])
///     .ool(vec![0u8; 100_000]);
/// space.send(&msg, SendOptions::default())?;
/// # Ok::<(), mach::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// `msgh_id`.
    pub id: i32,
    /// The destination: a send or send-once right, taken as
    /// `remote_disposition` says (`MOVE_SEND` .. `MAKE_SEND_ONCE`).
    pub remote: PortName,
    pub remote_disposition: MsgTypeName,
    /// The reply port (`msgh_local_port`), taken as `local_disposition`
    /// says; `NULL` with `PORT_NONE` for none.
    pub local: PortName,
    pub local_disposition: MsgTypeName,
    /// The inline bytes after the header and descriptors.
    pub data: Cow<'a, [u8]>,
    pub descriptors: Vec<Descriptor<'a>>,
}

impl<'a> Message<'a> {
    /// A message to `remote`, whose right is taken as `disposition` says;
    /// id 0, no reply port, no data.
    pub fn new(remote: PortName, disposition: MsgTypeName) -> Message<'a> {
        Message {
            id: 0,
            remote,
            remote_disposition: disposition,
            local: PortName::NULL,
            local_disposition: MsgTypeName::PORT_NONE,
            data: Cow::Borrowed(&[]),
            descriptors: Vec::new(),
        }
    }

    /// Sets `msgh_id`.
    pub fn id(mut self, id: i32) -> Self {
        self.id = id;
        self
    }

    /// Sets the reply port and how its right is taken (typically
    /// `MAKE_SEND_ONCE` of a receive right the sender holds).
    pub fn reply_port(mut self, name: PortName, disposition: MsgTypeName) -> Self {
        self.local = name;
        self.local_disposition = disposition;
        self
    }

    /// Sets the inline data.
    pub fn data(mut self, data: impl Into<Cow<'a, [u8]>>) -> Self {
        self.data = data.into();
        self
    }

    /// Adds a port descriptor.
    pub fn port(self, name: PortName, disposition: MsgTypeName) -> Self {
        self.descriptor(Descriptor::Port { name, disposition })
    }

    /// Adds an out-of-line data descriptor.
    pub fn ool(self, data: impl Into<Cow<'a, [u8]>>) -> Self {
        self.descriptor(Descriptor::Ool { data: data.into() })
    }

    /// Adds an out-of-line ports descriptor.
    pub fn ool_ports(
        self,
        names: impl Into<Cow<'a, [PortName]>>,
        disposition: MsgTypeName,
    ) -> Self {
        self.descriptor(Descriptor::OolPorts {
            names: names.into(),
            disposition,
        })
    }

    /// Adds a descriptor.
    pub fn descriptor(mut self, d: Descriptor<'a>) -> Self {
        self.descriptors.push(d);
        self
    }

    /// `msgh_bits` for this message: the two dispositions, and
    /// `MACH_MSGH_BITS_COMPLEX` when there are descriptors.
    pub fn bits(&self) -> u32 {
        let mut bits = sys::mach_msgh_bits(self.remote_disposition.0, self.local_disposition.0);
        if !self.descriptors.is_empty() {
            bits |= sys::MACH_MSGH_BITS_COMPLEX;
        }
        bits
    }

    /// The send size in bytes: header, body and descriptors if complex,
    /// inline data rounded up to 4.
    pub fn size(&self) -> usize {
        let mut n = HEADER;
        if !self.descriptors.is_empty() {
            n += BODY + self.descriptors.iter().map(Descriptor::size).sum::<usize>();
        }
        n + self.data.len().next_multiple_of(4)
    }

    /// The message as the bytes `mach_msg` sends (`msgh_size` set). The
    /// out-of-line descriptors hold the addresses of this message's data
    /// and name arrays, so the buffer is meant to be sent while the message
    /// lives. A size or count that does not fit the 32-bit fields gives
    /// `MACH_SEND_TOO_LARGE`.
    pub fn encode(&self) -> Result<MsgBuffer> {
        let too_large = || Error::Msg(MsgReturn::MACH_SEND_TOO_LARGE);
        let size = self.size();
        let size32 = u32::try_from(size).map_err(|_| too_large())?;
        let mut buf = MsgBuffer::new(size);
        buf.set_header(&crate::msg::MsgHeader {
            bits: self.bits(),
            size: size32,
            remote_port: self.remote,
            local_port: self.local,
            voucher_port: PortName::NULL,
            id: self.id,
        });
        let mut off = HEADER;
        if !self.descriptors.is_empty() {
            let count = u32::try_from(self.descriptors.len()).map_err(|_| too_large())?;
            buf.set_descriptor_count(count);
            off += BODY;
            for d in &self.descriptors {
                match d {
                    Descriptor::Port { name, disposition } => {
                        buf.set_u32(off, name.0);
                        buf.set_u8(off + 10, disposition.0 as u8);
                        buf.set_u8(off + 11, sys::MACH_MSG_PORT_DESCRIPTOR as u8);
                    }
                    Descriptor::Ool { data } => {
                        let len = u32::try_from(data.len()).map_err(|_| too_large())?;
                        let addr = if data.is_empty() {
                            0
                        } else {
                            data.as_ptr() as u64
                        };
                        buf.set_u64(off, addr);
                        buf.set_u8(off + 8, 0); // deallocate
                        buf.set_u8(off + 9, sys::MACH_MSG_VIRTUAL_COPY as u8);
                        buf.set_u8(off + 11, sys::MACH_MSG_OOL_DESCRIPTOR as u8);
                        buf.set_u32(off + 12, len);
                    }
                    Descriptor::OolPorts { names, disposition } => {
                        let count = u32::try_from(names.len()).map_err(|_| too_large())?;
                        // PortName is repr(transparent) over u32: the slice
                        // is the array of names the module reads.
                        let addr = if names.is_empty() {
                            0
                        } else {
                            names.as_ptr() as u64
                        };
                        buf.set_u64(off, addr);
                        buf.set_u8(off + 8, 0); // deallocate
                        buf.set_u8(off + 9, sys::MACH_MSG_VIRTUAL_COPY as u8);
                        buf.set_u8(off + 10, disposition.0 as u8);
                        buf.set_u8(off + 11, sys::MACH_MSG_OOL_PORTS_DESCRIPTOR as u8);
                        buf.set_u32(off + 12, count);
                    }
                }
                off += d.size();
            }
        }
        buf.write_bytes(off, &self.data);
        Ok(buf)
    }
}

/// How [`Space::send`] sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// `Some(ms)`: give up with `MACH_SEND_TIMED_OUT` after `ms`
    /// milliseconds of waiting for room in a full queue (0 = do not wait).
    /// `None`: wait as long as it takes.
    pub timeout: Option<u32>,
    /// Return `MACH_SEND_INTERRUPTED` when a signal handler runs while the
    /// send waits (nothing is sent then), instead of waiting again.
    pub interrupt: bool,
}

/// The trailer a receive asks for (`MACH_RCV_TRAILER_ELEMENTS`), each one
/// including the ones before it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TrailerElements {
    /// Type and size only (8 bytes).
    Null,
    /// And the port's sequence number (12).
    Seqno,
    /// And the sender's effective uid and gid (20).
    Sender,
    /// And the audit token, with the sender's pid (52).
    #[default]
    Audit,
    /// And the context (60).
    Context,
    /// And the filter and label fields (68).
    Av,
}

impl TrailerElements {
    /// The `MACH_RCV_TRAILER_*` value.
    pub fn elements(self) -> u32 {
        match self {
            TrailerElements::Null => sys::MACH_RCV_TRAILER_NULL,
            TrailerElements::Seqno => sys::MACH_RCV_TRAILER_SEQNO,
            TrailerElements::Sender => sys::MACH_RCV_TRAILER_SENDER,
            TrailerElements::Audit => sys::MACH_RCV_TRAILER_AUDIT,
            TrailerElements::Context => sys::MACH_RCV_TRAILER_CTX,
            TrailerElements::Av => sys::MACH_RCV_TRAILER_AV,
        }
    }

    /// The receive option bits asking for it (format 0).
    pub fn option(self) -> u32 {
        sys::mach_rcv_trailer_type(sys::MACH_MSG_TRAILER_FORMAT_0)
            | sys::mach_rcv_trailer_elements(self.elements())
    }

    /// Its size in bytes.
    pub fn size(self) -> u32 {
        sys::requested_trailer_size(self.option())
    }
}

/// How [`Space::receive`] receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvOptions {
    /// The largest message (header, descriptors and inline data, without
    /// the trailer) the first receive makes room for (at least 24 bytes).
    /// Default 4096.
    pub max_size: u32,
    /// `Some(ms)`: give up with `MACH_RCV_TIMED_OUT` after `ms`
    /// milliseconds without a message (0 = only look). `None`: wait.
    pub timeout: Option<u32>,
    /// `true` (the default): a larger message stays queued
    /// (`MACH_RCV_LARGE`) and is received again into a buffer of its size.
    /// `false`: it is destroyed and the receive fails with
    /// `MACH_RCV_TOO_LARGE`.
    pub large: bool,
    /// The trailer to ask for. Default [`TrailerElements::Audit`].
    pub trailer: TrailerElements,
    /// Return `MACH_RCV_INTERRUPTED` when a signal handler runs while the
    /// receive waits, instead of waiting again.
    pub interrupt: bool,
    /// Keep out-of-line data in the mappings it arrived in
    /// ([`OolData::Mapped`]) instead of copying it into a `Vec` and
    /// unmapping them.
    pub keep_ool_mappings: bool,
}

impl RecvOptions {
    /// The receive buffer's first size: `max_size` (at least a header)
    /// and the trailer.
    fn buffer_len(&self) -> usize {
        (self.max_size as usize).max(HEADER) + self.trailer.size() as usize
    }
}

impl Default for RecvOptions {
    fn default() -> Self {
        RecvOptions {
            max_size: 4096,
            timeout: None,
            large: true,
            trailer: TrailerElements::default(),
            interrupt: false,
            keep_ool_mappings: false,
        }
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 && (p as usize).is_power_of_two() {
        p as usize
    } else {
        4096
    }
}

/// Unmaps the pages holding `[addr, addr + len)`.
///
/// # Safety
///
/// The pages must be a mapping the caller owns and no longer uses.
unsafe fn unmap(addr: usize, len: usize) {
    if addr == 0 || len == 0 {
        return;
    }
    let page = page_size();
    let start = addr & !(page - 1);
    let Some(end) = addr
        .checked_add(len)
        .and_then(|e| e.checked_add(page - 1))
        .map(|e| e & !(page - 1))
    else {
        return;
    };
    // SAFETY: Forwarded to the caller.
    unsafe { libc::munmap(start as *mut libc::c_void, end - start) };
}

/// Out-of-line bytes received in a mapping of their own, unmapped on drop.
pub struct OolMapping {
    addr: *mut u8,
    len: usize,
}

// SAFETY: The mapping is owned memory like a Box<[u8]>.
unsafe impl Send for OolMapping {}
// SAFETY: Shared access only reads.
unsafe impl Sync for OolMapping {}

impl OolMapping {
    /// The address the data arrived at.
    pub fn addr(&self) -> *mut u8 {
        self.addr
    }

    /// Hands the mapping to the caller, who frees it with `munmap` (of the
    /// pages holding `[addr, addr + len)`) or `vm_deallocate`.
    pub fn into_raw(self) -> (*mut u8, usize) {
        let this = std::mem::ManuallyDrop::new(self);
        (this.addr, this.len)
    }
}

impl Deref for OolMapping {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: The module mapped at least `len` readable bytes at `addr`
        // for this process, and we own them until drop.
        unsafe { std::slice::from_raw_parts(self.addr, self.len) }
    }
}

impl Drop for OolMapping {
    fn drop(&mut self) {
        // SAFETY: We own the mapping and nothing borrows it any more.
        unsafe { unmap(self.addr as usize, self.len) };
    }
}

impl fmt::Debug for OolMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OolMapping({:p}, {} bytes)", self.addr, self.len)
    }
}

/// Received out-of-line bytes: copied (the default) or still in their
/// mapping ([`RecvOptions::keep_ool_mappings`]). Either way it derefs to
/// the bytes.
#[derive(Debug)]
pub enum OolData {
    Copied(Vec<u8>),
    Mapped(OolMapping),
}

impl OolData {
    /// The bytes as a `Vec` (copied out of a mapping, which is then freed).
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            OolData::Copied(v) => v,
            OolData::Mapped(m) => m.to_vec(),
        }
    }
}

impl Deref for OolData {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            OolData::Copied(v) => v,
            OolData::Mapped(m) => m,
        }
    }
}

/// One descriptor of a received message.
#[derive(Debug)]
pub enum ReceivedDescriptor {
    /// A right now held under `name` (or `NULL`, `DEAD`), of type `kind`
    /// (`PORT_RECEIVE`, `PORT_SEND`, `PORT_SEND_ONCE`).
    Port { name: PortName, kind: MsgTypeName },
    /// Out-of-line bytes. `address` and `size` are the descriptor's fields
    /// as delivered (`address` 0 when the data could not be mapped).
    Ool {
        data: OolData,
        address: u64,
        size: u32,
    },
    /// Rights now held under `names`, each of type `kind`.
    OolPorts {
        names: Vec<PortName>,
        kind: MsgTypeName,
    },
    /// A descriptor of a type this library does not know; the rest of the
    /// body is not decoded.
    Unknown { type_: u8 },
}

/// The sender's identity in a trailer (`security_token_t`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SecurityToken {
    /// Effective uid.
    pub uid: u32,
    /// Effective gid.
    pub gid: u32,
}

/// An audit token (`audit_token_t`): eight words, laid out as macOS's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AuditToken(pub [u32; 8]);

impl AuditToken {
    pub fn auid(&self) -> u32 {
        self.0[0]
    }
    pub fn euid(&self) -> u32 {
        self.0[1]
    }
    pub fn egid(&self) -> u32 {
        self.0[2]
    }
    pub fn ruid(&self) -> u32 {
        self.0[3]
    }
    pub fn rgid(&self) -> u32 {
        self.0[4]
    }
    /// The sender's process id (its thread group id).
    pub fn pid(&self) -> i32 {
        self.0[5] as i32
    }
    pub fn asid(&self) -> u32 {
        self.0[6]
    }
    pub fn pidversion(&self) -> u32 {
        self.0[7]
    }
}

/// The trailer of a received message, with the elements the receive asked
/// for (`None` for the ones it did not).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trailer {
    /// `msgh_trailer_type` (0).
    pub kind: u32,
    /// `msgh_trailer_size`: the bytes of trailer delivered.
    pub size: u32,
    /// The port's sequence number for this message.
    pub seqno: Option<u32>,
    pub sender: Option<SecurityToken>,
    pub audit: Option<AuditToken>,
    pub context: Option<u64>,
}

/// A received message.
///
/// The rights it carries (the reply right in `remote`, port and
/// out-of-line port descriptors) are the receiver's now, under the names
/// given; dropping a `Received` does not release them
/// ([`Received::destroy`] does). Out-of-line data is owned by the value.
#[derive(Debug)]
pub struct Received {
    /// `MACH_MSG_SUCCESS`, or the `MACH_RCV_HEADER_ERROR` /
    /// `MACH_RCV_BODY_ERROR` (with special bits) of a message delivered
    /// with some rights or memory missing (their names `NULL`, addresses 0).
    pub status: MsgReturn,
    /// `msgh_bits`: the reply right's type, the destination's type and
    /// `MACH_MSGH_BITS_COMPLEX`.
    pub bits: u32,
    /// `msgh_size`: the message's size without the trailer.
    pub size: u32,
    /// `msgh_remote_port`: the receiver's name for the reply right (`NULL`
    /// if none, `DEAD` if it died).
    pub remote: PortName,
    /// `msgh_local_port`: the name the message was received on.
    pub local: PortName,
    /// `msgh_id`.
    pub id: i32,
    /// The inline bytes after the descriptors.
    pub data: Vec<u8>,
    pub descriptors: Vec<ReceivedDescriptor>,
    pub trailer: Trailer,
}

impl Received {
    /// The type of the reply right (`PORT_SEND`, `PORT_SEND_ONCE`, or
    /// `PORT_NONE`).
    pub fn reply_type(&self) -> MsgTypeName {
        MsgTypeName(sys::mach_msgh_bits_remote(self.bits))
    }

    /// The type of right the sender used for the destination (`PORT_SEND`
    /// or `PORT_SEND_ONCE`).
    pub fn dest_type(&self) -> MsgTypeName {
        MsgTypeName(sys::mach_msgh_bits_local(self.bits))
    }

    pub fn is_complex(&self) -> bool {
        self.bits & sys::MACH_MSGH_BITS_COMPLEX != 0
    }

    /// Decodes a message the module delivered into `buf`: header, the
    /// descriptors the body holds, inline data and the trailer after
    /// `msgh_size`. Out-of-line data is copied into a `Vec` and its
    /// mapping unmapped, or kept (`keep_ool_mappings`); out-of-line port
    /// arrays are copied and unmapped. `status` is left
    /// `MACH_MSG_SUCCESS`.
    ///
    /// # Safety
    ///
    /// `buf` must hold a message as a successful receive delivered it, not
    /// decoded before: every non-zero out-of-line address in it must be a
    /// mapping of at least its size (count * 4 for port arrays) that the
    /// caller owns and hands over here.
    pub unsafe fn from_buffer(buf: &MsgBuffer, keep_ool_mappings: bool) -> Received {
        let h = buf.header();
        let end = (h.size as usize).min(buf.len());
        let mut r = Received {
            status: MsgReturn::MACH_MSG_SUCCESS,
            bits: h.bits,
            size: h.size,
            remote: h.remote_port,
            local: h.local_port,
            id: h.id,
            data: Vec::new(),
            descriptors: Vec::new(),
            trailer: Trailer::default(),
        };
        let mut off = HEADER.min(end);
        if h.bits & sys::MACH_MSGH_BITS_COMPLEX != 0 && end >= HEADER + BODY {
            let count = buf.descriptor_count();
            off = HEADER + BODY;
            for _ in 0..count {
                if off + PORT_DESC > end {
                    break;
                }
                let type_ = buf.u8_at(off + 11);
                match u32::from(type_) {
                    sys::MACH_MSG_PORT_DESCRIPTOR => {
                        r.descriptors.push(ReceivedDescriptor::Port {
                            name: PortName(buf.u32_at(off)),
                            kind: MsgTypeName(u32::from(buf.u8_at(off + 10))),
                        });
                        off += PORT_DESC;
                    }
                    sys::MACH_MSG_OOL_DESCRIPTOR | sys::MACH_MSG_OOL_VOLATILE_DESCRIPTOR
                        if off + OOL_DESC <= end =>
                    {
                        let address = buf.u64_at(off);
                        let size = buf.u32_at(off + 12);
                        let mapping = OolMapping {
                            addr: if size == 0 { 0 } else { address } as usize as *mut u8,
                            len: if address == 0 { 0 } else { size as usize },
                        };
                        let data = if keep_ool_mappings {
                            OolData::Mapped(mapping)
                        } else {
                            OolData::Copied(mapping.to_vec())
                        };
                        r.descriptors.push(ReceivedDescriptor::Ool {
                            data,
                            address,
                            size,
                        });
                        off += OOL_DESC;
                    }
                    sys::MACH_MSG_OOL_PORTS_DESCRIPTOR if off + OOL_DESC <= end => {
                        let address = buf.u64_at(off) as usize;
                        let count = buf.u32_at(off + 12) as usize;
                        let mut names = Vec::new();
                        if address != 0 && count != 0 {
                            // SAFETY: The caller guarantees a mapping of
                            // count names at address, which we own.
                            unsafe {
                                let p = address as *const u32;
                                names.extend(
                                    (0..count).map(|i| PortName(p.add(i).read_unaligned())),
                                );
                                unmap(address, count * 4);
                            }
                        }
                        r.descriptors.push(ReceivedDescriptor::OolPorts {
                            names,
                            kind: MsgTypeName(u32::from(buf.u8_at(off + 10))),
                        });
                        off += OOL_DESC;
                    }
                    _ => {
                        r.descriptors.push(ReceivedDescriptor::Unknown { type_ });
                        off = end;
                        break;
                    }
                }
            }
        }
        r.data = buf.as_bytes()[off.min(end)..end].to_vec();
        r.trailer = read_trailer(buf, h.size as usize);
        r
    }

    /// Releases every right the message brought (as `mach_msg_destroy`
    /// does): the reply right, and the rights of port and out-of-line
    /// port descriptors; out-of-line data is freed with the value. Goes on
    /// after a failure and returns the first one.
    pub fn destroy(self, space: &Space) -> Result<()> {
        let task = space.task_self();
        let mut first = Ok(());
        let mut release = |name: PortName, kind: MsgTypeName| {
            if !name.is_valid() {
                return;
            }
            let r = match kind {
                MsgTypeName::PORT_RECEIVE => space.mod_refs(task, name, PortRight::RECEIVE, -1),
                MsgTypeName::PORT_SEND | MsgTypeName::PORT_SEND_ONCE => {
                    space.deallocate(task, name)
                }
                _ => Ok(()),
            };
            if first.is_ok() {
                first = r;
            }
        };
        release(self.remote, self.reply_type());
        for d in &self.descriptors {
            match d {
                ReceivedDescriptor::Port { name, kind } => release(*name, *kind),
                ReceivedDescriptor::OolPorts { names, kind } => {
                    for n in names {
                        release(*n, *kind);
                    }
                }
                _ => {}
            }
        }
        first
    }
}

fn read_trailer(buf: &MsgBuffer, at: usize) -> Trailer {
    let mut t = Trailer::default();
    if at.checked_add(8).is_none_or(|e| e > buf.len()) {
        return t;
    }
    t.kind = buf.u32_at(at);
    t.size = buf.u32_at(at + 4);
    let have = (t.size as usize).min(buf.len() - at);
    if have >= 12 {
        t.seqno = Some(buf.u32_at(at + 8));
    }
    if have >= 20 {
        t.sender = Some(SecurityToken {
            uid: buf.u32_at(at + 12),
            gid: buf.u32_at(at + 16),
        });
    }
    if have >= 52 {
        let mut a = [0u32; 8];
        for (i, w) in a.iter_mut().enumerate() {
            *w = buf.u32_at(at + 20 + 4 * i);
        }
        t.audit = Some(AuditToken(a));
    }
    if have >= 60 {
        t.context = Some(buf.u64_at(at + 52));
    }
    t
}

/// Whether `mr` delivered a message (maybe with parts missing).
fn delivered(mr: MsgReturn) -> bool {
    mr.is_success()
        || mr.base() == MsgReturn::MACH_RCV_HEADER_ERROR
        || mr.base() == MsgReturn::MACH_RCV_BODY_ERROR
}

impl Space {
    /// Sends `msg` (`mach_msg` with `MACH_SEND_MSG`). `Err(Error::Msg(..))`
    /// with the `MACH_SEND_*` result if it was not sent.
    pub fn send(&self, msg: &Message<'_>, opts: SendOptions) -> Result<()> {
        let mut buf = msg.encode()?;
        let size = buf.len() as u32;
        let mut option = sys::MACH_SEND_MSG;
        if opts.timeout.is_some() {
            option |= sys::MACH_SEND_TIMEOUT;
        }
        if opts.interrupt {
            option |= sys::MACH_SEND_INTERRUPT;
        }
        // SAFETY: The buffer holds `size` bytes; its out-of-line addresses
        // point into `msg`, alive for the call, and none has deallocate set.
        let mr = unsafe {
            self.mach_msg_raw(
                buf.as_mut_ptr(),
                option,
                size,
                0,
                PortName::NULL,
                opts.timeout.unwrap_or(0),
                PortName::NULL,
            )?
        };
        msg_check(mr)
    }

    /// Receives a message on `name` (a receive right or port set):
    /// `mach_msg` with `MACH_RCV_MSG`, decoded. `Err(Error::Msg(..))` with
    /// the `MACH_RCV_*` result when no message was delivered.
    pub fn receive(&self, name: PortName, opts: RecvOptions) -> Result<Received> {
        let mut buf = MsgBuffer::new(opts.buffer_len());
        self.receive_into(&mut buf, 0, 0, name, opts.timeout, &opts)
    }

    /// Sends `msg` and then receives on `rcv_name`: the RPC path, one
    /// `mach_msg` with `MACH_SEND_MSG | MACH_RCV_MSG` (typically `msg`
    /// carries `MAKE_SEND_ONCE` of the reply port `rcv_name`). A send that
    /// fails gives its `MACH_SEND_*` result and receives nothing.
    ///
    /// `mach_msg` has one timeout for both halves: when both options give
    /// one and they differ, the send and the receive are made as two calls.
    pub fn send_receive(
        &self,
        msg: &Message<'_>,
        rcv_name: PortName,
        send: SendOptions,
        recv: RecvOptions,
    ) -> Result<Received> {
        let timeout = match (send.timeout, recv.timeout) {
            (Some(a), Some(b)) if a != b => {
                self.send(msg, send)?;
                return self.receive(rcv_name, recv);
            }
            (a, b) => a.or(b),
        };
        let mut buf = msg.encode()?;
        let send_size = buf.len() as u32;
        let want = recv.buffer_len();
        if want > buf.len() {
            buf.resize(want);
        }
        let mut option = sys::MACH_SEND_MSG;
        if send.timeout.is_some() {
            option |= sys::MACH_SEND_TIMEOUT;
        }
        if send.interrupt {
            option |= sys::MACH_SEND_INTERRUPT;
        }
        // The out-of-line addresses in `buf` point into `msg`, alive for the
        // whole call.
        self.receive_into(&mut buf, option, send_size, rcv_name, timeout, &recv)
    }

    /// Receives into `buf` (after sending its first `send_size` bytes when
    /// `option` has MACH_SEND_MSG), growing it for a large message.
    fn receive_into(
        &self,
        buf: &mut MsgBuffer,
        mut option: u32,
        send_size: u32,
        name: PortName,
        timeout: Option<u32>,
        opts: &RecvOptions,
    ) -> Result<Received> {
        option |= sys::MACH_RCV_MSG | opts.trailer.option();
        if opts.timeout.is_some() {
            option |= sys::MACH_RCV_TIMEOUT;
        }
        if opts.large {
            option |= sys::MACH_RCV_LARGE;
        }
        if opts.interrupt {
            option |= sys::MACH_RCV_INTERRUPT;
        }
        let trailer = opts.trailer.size() as usize;
        loop {
            let rcv_size = u32::try_from(buf.len()).unwrap_or(u32::MAX);
            // SAFETY: `buf` holds max(send_size, rcv_size) bytes; any
            // out-of-line addresses in the part sent are the caller's
            // (send_receive: the message's own data), without deallocate.
            let mr = MsgReturn(unsafe {
                self.mach_msg_raw(
                    buf.as_mut_ptr(),
                    option,
                    send_size,
                    rcv_size,
                    name,
                    timeout.unwrap_or(0),
                    PortName::NULL,
                )?
            });
            if mr == MsgReturn::MACH_RCV_TOO_LARGE && opts.large {
                // The message stays queued; msgh_size says how large it is.
                // The send, if any, is done: receive only from now on.
                option &= !sys::MACH_SEND_MSG;
                let need = buf.size() as usize + trailer;
                if need <= buf.len() {
                    return Err(Error::Msg(mr));
                }
                buf.resize(need);
                continue;
            }
            if !delivered(mr) {
                return Err(Error::Msg(mr));
            }
            // SAFETY: The module just delivered this message into `buf`.
            let mut r = unsafe { Received::from_buffer(buf, opts.keep_ool_mappings) };
            r.status = mr;
            return Ok(r);
        }
    }
}

fn msg_check(mr: i32) -> Result<()> {
    if mr == sys::MACH_MSG_SUCCESS {
        Ok(())
    } else {
        Err(Error::Msg(MsgReturn(mr)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_simple() {
        let m = Message::new(PortName(0x207), MsgTypeName::COPY_SEND)
            .id(7)
            .data(&b"hello"[..]);
        let b = m.encode().unwrap();
        assert_eq!(b.len(), 24 + 8);
        assert_eq!(b.bits(), sys::MACH_MSG_TYPE_COPY_SEND);
        assert_eq!(b.size(), 32);
        assert_eq!(b.remote_port(), PortName(0x207));
        assert_eq!(b.local_port(), PortName::NULL);
        assert_eq!(b.id(), 7);
        assert_eq!(b.bytes(24, 8), b"hello\0\0\0");
    }

    #[test]
    fn encode_complex() {
        let ool = [1u8; 10];
        let names = [PortName(0x307), PortName(0x407)];
        let m = Message::new(PortName(0x207), MsgTypeName::MAKE_SEND)
            .reply_port(PortName(0x507), MsgTypeName::MAKE_SEND_ONCE)
            .port(PortName(0x607), MsgTypeName::MOVE_RECEIVE)
            .ool(&ool[..])
            .ool_ports(&names[..], MsgTypeName::COPY_SEND)
            .ool(Vec::new())
            .data(vec![9u8; 4]);
        let b = m.encode().unwrap();
        assert_eq!(b.len(), 24 + 4 + 12 + 16 * 3 + 4);
        assert_eq!(b.bits(), sys::MACH_MSGH_BITS_COMPLEX | 20 | (21 << 8));
        assert_eq!(b.descriptor_count(), 4);
        assert_eq!(b.u32_at(28), 0x607);
        assert_eq!(b.u8_at(38), 16);
        assert_eq!(b.u8_at(39), 0);
        assert_eq!(b.u64_at(40), ool.as_ptr() as u64);
        assert_eq!(b.u8_at(48), 0);
        assert_eq!(b.u8_at(49), sys::MACH_MSG_VIRTUAL_COPY as u8);
        assert_eq!(b.u8_at(51), 1);
        assert_eq!(b.u32_at(52), 10);
        assert_eq!(b.u64_at(56), names.as_ptr() as u64);
        assert_eq!(b.u8_at(66), 19);
        assert_eq!(b.u8_at(67), 2);
        assert_eq!(b.u32_at(68), 2);
        assert_eq!(b.u64_at(72), 0);
        assert_eq!(b.u32_at(84), 0);
        assert_eq!(b.bytes(88, 4), [9u8; 4]);
    }

    #[test]
    fn decode_without_ool() {
        let mut b = MsgBuffer::new(24 + 4 + 12 + 4 + 52);
        b.set_header(&crate::msg::MsgHeader {
            bits: sys::MACH_MSGH_BITS_COMPLEX | 18 | (17 << 8),
            size: 44,
            remote_port: PortName(0x303),
            local_port: PortName(0x203),
            voucher_port: PortName::NULL,
            id: 42,
        });
        b.set_descriptor_count(1);
        b.set_u32(28, 0x403);
        b.set_u8(38, 17);
        b.set_u8(39, 0);
        b.write_bytes(40, b"abcd");
        // Trailer: audit, seqno 3, uid 1000 gid 100, pid 77.
        b.set_u32(44, 0);
        b.set_u32(48, 52);
        b.set_u32(52, 3);
        b.set_u32(56, 1000);
        b.set_u32(60, 100);
        b.set_u32(64 + 20, 77);
        // SAFETY: No out-of-line descriptors.
        let r = unsafe { Received::from_buffer(&b, false) };
        assert_eq!(r.reply_type(), MsgTypeName::PORT_SEND_ONCE);
        assert_eq!(r.dest_type(), MsgTypeName::PORT_SEND);
        assert_eq!(r.id, 42);
        assert_eq!(r.data, b"abcd");
        assert!(matches!(
            r.descriptors[..],
            [ReceivedDescriptor::Port {
                name: PortName(0x403),
                kind: MsgTypeName::PORT_SEND
            }]
        ));
        assert_eq!(r.trailer.seqno, Some(3));
        assert_eq!(
            r.trailer.sender,
            Some(SecurityToken {
                uid: 1000,
                gid: 100
            })
        );
        assert_eq!(r.trailer.audit.unwrap().pid(), 77);
        assert_eq!(r.trailer.context, None);
    }

    #[test]
    fn decode_ool_mappings() {
        let page = page_size();
        // SAFETY: Fresh anonymous mappings handed to from_buffer.
        let (data, ports) = unsafe {
            let m = |len| {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            let d = m(page) as *mut u8;
            let p = m(page) as *mut u32;
            d.write_bytes(0xab, 5);
            p.write(0x103);
            p.add(1).write(0x207);
            (d, p)
        };
        let mut b = MsgBuffer::new(24 + 4 + 32 + 8);
        b.set_bits(sys::MACH_MSGH_BITS_COMPLEX);
        b.set_size(60);
        b.set_descriptor_count(2);
        b.set_u64(28, data as u64);
        b.set_u8(39, 1);
        b.set_u32(40, 5);
        b.set_u64(44, ports as u64);
        b.set_u8(54, 17);
        b.set_u8(55, 2);
        b.set_u32(56, 2);
        // SAFETY: Both addresses are mappings we own and give up.
        let r = unsafe { Received::from_buffer(&b, true) };
        match &r.descriptors[..] {
            [ReceivedDescriptor::Ool {
                data: d, size: 5, ..
            }, ReceivedDescriptor::OolPorts { names, kind }] => {
                assert!(matches!(d, OolData::Mapped(_)));
                assert_eq!(&d[..], &[0xab; 5]);
                assert_eq!(names, &[PortName(0x103), PortName(0x207)]);
                assert_eq!(*kind, MsgTypeName::PORT_SEND);
            }
            other => panic!("{other:?}"),
        }
        drop(r);
        // Both mappings are gone now.
        // SAFETY: msync only asks whether the pages are mapped.
        let gone = |p: *mut libc::c_void| unsafe { libc::msync(p, page, libc::MS_ASYNC) } != 0;
        assert!(gone(data.cast()));
        assert!(gone(ports.cast()));
    }

    #[test]
    fn trailer_sizes() {
        assert_eq!(TrailerElements::Null.size(), 8);
        assert_eq!(TrailerElements::Seqno.size(), 12);
        assert_eq!(TrailerElements::Sender.size(), 20);
        assert_eq!(TrailerElements::Audit.size(), 52);
        assert_eq!(TrailerElements::Context.size(), 60);
        assert_eq!(TrailerElements::Av.size(), 68);
        assert_eq!(TrailerElements::Audit.option(), 3 << 24);
    }
}
