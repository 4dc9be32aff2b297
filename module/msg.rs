// SPDX-License-Identifier: GPL-2.0

//! Messages: what a message holds in the kernel, queues of messages, and
//! the byte-level work of `mach_msg` (reading a message from the sender,
//! writing it to the receiver).
//!
//! A [`Message`] owns everything it carries: the destination right, the
//! reply right, the rights of its port descriptors and out-of-line port
//! arrays, and copies of its out-of-line memory. Dropping a message is
//! destroying it, and releases each of those exactly once.
//!
//! The orchestration (locks, waits, name tables) is in `ipc.rs`.

use crate::abi::*;
use crate::port::{Carried, PdRequest, Port, ReceiveRight, SendOnceRight};
use crate::stats::{self, Live};
use core::ops::{Deref, DerefMut};
use core::ptr;
use kernel::{
    bindings,
    prelude::*,
    sync::Arc,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

/// The identity of a message's sender, for the audit and security
/// trailers: `[auid, euid, egid, ruid, rgid, pid, asid, pidversion]`, as
/// XNU's `audit_token_t` (kernel-wide ids; the pid is the sender's process
/// id in its pid namespace).
pub(crate) type Audit = [u32; 8];

/// The audit token of the calling thread's process.
pub(crate) fn current_audit() -> Audit {
    let task = kernel::current!();
    let pid = task.tgid_nr_ns(None) as u32;
    // SAFETY: `current` is a live task; `get_task_cred` returns its
    // credentials with a reference taken, which `put_cred` drops.
    let (uid, euid, gid, egid) = unsafe {
        let cred = bindings::get_task_cred(task.as_ptr());
        if cred.is_null() {
            (0, 0, 0, 0)
        } else {
            let ids = ((*cred).uid.val, (*cred).euid.val, (*cred).gid.val, (*cred).egid.val);
            bindings::put_cred(cred);
            ids
        }
    };
    [uid, euid, egid, uid, gid, pid, 0, 0]
}

/// Messages up to this many bytes (header and body) are held inside their
/// [`Message`], so that a small message costs one allocation; larger ones
/// get a buffer of their own.
pub(crate) const INLINE_BYTES: usize = 96;

/// The bytes of a message as sent: header and body.
pub(crate) enum MsgData {
    Inline { len: u8, bytes: [u8; INLINE_BYTES] },
    Buffer(KVVec<u8>),
}

impl MsgData {
    /// `size` zero bytes.
    pub(crate) fn zeroed(size: usize) -> Result<Self, kernel::alloc::AllocError> {
        if size <= INLINE_BYTES {
            return Ok(MsgData::Inline { len: size as u8, bytes: [0; INLINE_BYTES] });
        }
        let mut data = KVVec::with_capacity(size, GFP_KERNEL_ACCOUNT)?;
        data.resize(size, 0, GFP_KERNEL_ACCOUNT)?;
        Ok(MsgData::Buffer(data))
    }

    /// Copies `size` bytes from the user address `address`.
    pub(crate) fn read_user(address: usize, size: usize) -> Result<Self> {
        let mut reader = UserSlice::new(UserPtr::from_addr(address), size).reader();
        if size <= INLINE_BYTES {
            let mut bytes = [0; INLINE_BYTES];
            reader.read_slice(&mut bytes[..size])?;
            return Ok(MsgData::Inline { len: size as u8, bytes });
        }
        let mut data = KVVec::new();
        reader.read_all(&mut data, GFP_KERNEL_ACCOUNT)?;
        Ok(MsgData::Buffer(data))
    }
}

impl Deref for MsgData {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            MsgData::Inline { len, bytes } => &bytes[..usize::from(*len)],
            MsgData::Buffer(data) => data,
        }
    }
}

impl DerefMut for MsgData {
    fn deref_mut(&mut self) -> &mut [u8] {
        match self {
            MsgData::Inline { len, bytes } => &mut bytes[..usize::from(*len)],
            MsgData::Buffer(data) => data,
        }
    }
}

/// A message in the kernel: queued on a port or on its way.
pub(crate) struct Message {
    next: Option<KBox<Message>>,
    /// The message as sent: header (with `msgh_size` set to the send size)
    /// and body. The header and descriptors are rewritten on delivery.
    pub(crate) data: MsgData,
    /// The destination right (send or send-once), used up on delivery.
    pub(crate) dest: Carried,
    /// The reply right, if the message has one (`Carried::Dead` for a dead
    /// reply name).
    pub(crate) reply: Option<Carried>,
    /// The copied-out types of the destination and reply rights.
    pub(crate) dest_type: u32,
    pub(crate) reply_type: u32,
    /// The rights of the port descriptors and out-of-line port arrays, in
    /// message order; `None` for MACH_PORT_NULL.
    pub(crate) rights: KVVec<Option<Carried>>,
    /// The out-of-line regions, in message order.
    pub(crate) ool: KVVec<KVVec<u8>>,
    pub(crate) audit: Audit,
    /// Bytes this message holds (inline and out-of-line), for the stats.
    bytes: u64,
    _live: Live<{ stats::MESSAGES }>,
}

// A small message and its bytes fit one 256-byte allocation.
const _: () = assert!(core::mem::size_of::<Message>() <= 256);

impl Message {
    pub(crate) fn new(
        data: MsgData,
        dest: Carried,
        dest_type: u32,
        reply: Option<Carried>,
        reply_type: u32,
        rights: KVVec<Option<Carried>>,
        ool: KVVec<KVVec<u8>>,
        audit: Audit,
    ) -> Result<KBox<Message>, Carried> {
        // The box first: if there is no memory, the destination right comes
        // back unreleased, so that a kernel notification whose box cannot be
        // made can use its right up without sending another one.
        let Ok(slot) = KBox::<Message>::new_uninit(GFP_KERNEL_ACCOUNT) else {
            return Err(dest);
        };
        let bytes = data.len() as u64 + ool.iter().map(|region| region.len() as u64).sum::<u64>();
        stats::add_message_bytes(bytes as i64);
        let message = Message {
            next: None,
            data,
            dest,
            reply,
            dest_type,
            reply_type,
            rights,
            ool,
            audit,
            bytes,
            _live: Live::new(),
        };
        Ok(KBox::write(slot, message))
    }

    /// The size the receiver sees in `msgh_size`.
    pub(crate) fn size(&self) -> u32 {
        self.data.len() as u32
    }

    /// The ports whose receive rights this message carries.
    pub(crate) fn carried_receive_rights(&self) -> impl Iterator<Item = &Arc<Port>> {
        self.rights.iter().filter_map(|right| match right {
            Some(Carried::Receive(receive)) => Some(receive.object()),
            _ => None,
        })
    }
}

impl Drop for Message {
    fn drop(&mut self) {
        stats::add_message_bytes(-(self.bytes as i64));
        // The rights and buffers are released by their own drops. A message
        // in a queue is never dropped with its successors attached: queues
        // take messages off one at a time (see `MsgQueue`).
    }
}

/// A FIFO of messages, linked through the messages themselves so that
/// queueing needs no allocation under the port's spinlock.
///
/// # Invariants
///
/// `tail` points to the last message of the chain starting at `head`, or
/// is null when the queue is empty; `len` is the chain's length.
pub(crate) struct MsgQueue {
    head: Option<KBox<Message>>,
    tail: *mut Message,
    len: u32,
}

// SAFETY: `tail` only ever points into the chain owned by `head`, which
// moves with the queue; the queue is used under its port's lock.
unsafe impl Send for MsgQueue {}

impl MsgQueue {
    pub(crate) const fn new() -> Self {
        MsgQueue { head: None, tail: ptr::null_mut(), len: 0 }
    }

    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// The size of the first message.
    pub(crate) fn front_size(&self) -> Option<u32> {
        self.head.as_ref().map(|message| message.size())
    }

    pub(crate) fn push(&mut self, mut message: KBox<Message>) {
        message.next = None;
        let raw: *mut Message = &mut *message;
        if self.tail.is_null() {
            self.head = Some(message);
        } else {
            // SAFETY: By the invariant, `tail` points to the last message of
            // the chain this queue owns, which is alive and not otherwise
            // borrowed while the queue is borrowed mutably.
            unsafe { (*self.tail).next = Some(message) };
        }
        // The box's contents do not move when the box itself moves.
        self.tail = raw;
        self.len += 1;
    }

    pub(crate) fn pop(&mut self) -> Option<KBox<Message>> {
        let mut message = self.head.take()?;
        self.head = message.next.take();
        if self.head.is_none() {
            self.tail = ptr::null_mut();
        }
        self.len -= 1;
        Some(message)
    }

    /// Takes the whole queue, leaving this one empty.
    pub(crate) fn take(&mut self) -> MsgQueue {
        core::mem::replace(self, MsgQueue::new())
    }

    /// Moves every message of `other` to the end of this queue.
    fn append(&mut self, other: &mut MsgQueue) {
        while let Some(message) = other.pop() {
            self.push(message);
        }
    }
}

impl Drop for MsgQueue {
    fn drop(&mut self) {
        // One message at a time: dropping the head with its chain attached
        // would recurse once per message.
        while let Some(message) = self.pop() {
            drop(message);
        }
    }
}

/// Messages whose port died, waiting to be destroyed.
pub(crate) struct Graveyard {
    queue: MsgQueue,
    /// Whether some thread is destroying messages from the graveyard.
    draining: bool,
}

kernel::sync::global_lock! {
    // SAFETY: Initialized in the module's init, before `/dev/mach` exists.
    unsafe(uninit) static GRAVEYARD: SpinLock<Graveyard> = Graveyard { queue: MsgQueue::new(), draining: false };
}

kernel::sync::global_lock! {
    // SAFETY: Initialized in the module's init, before `/dev/mach` exists.
    unsafe(uninit) static CIRCULARITY: Mutex<()> = ();
}

/// Initializes the module's global locks.
///
/// # Safety
///
/// Called once, from the module's init, before any other function here.
pub(crate) unsafe fn init() {
    // SAFETY: Called once, before first use, as this function requires.
    unsafe {
        GRAVEYARD.init();
        CIRCULARITY.init();
    }
}

/// Destroys the messages of a dead port's queue.
///
/// A destroyed message may carry the receive right of another port with a
/// queue of its own, whose messages may carry more: destroying them by
/// plain recursion could overflow the kernel stack. So the first thread to
/// get here destroys messages one at a time until the graveyard is empty,
/// and threads that arrive meanwhile (including itself, from inside a
/// message's destruction) only add theirs.
pub(crate) fn bury(mut queue: MsgQueue) {
    if queue.is_empty() {
        return;
    }
    let mut graveyard = GRAVEYARD.lock();
    graveyard.queue.append(&mut queue);
    if graveyard.draining {
        return;
    }
    graveyard.draining = true;
    while let Some(message) = graveyard.queue.pop() {
        drop(graveyard);
        drop(message);
        graveyard = GRAVEYARD.lock();
    }
    graveyard.draining = false;
}

/// Whether queuing `message` on `dest` would make a receive right
/// unreachable: `dest` is one of the ports whose receive right the message
/// carries, or one whose receive right travels (through any number of
/// queued messages) to such a port. If not, records that the carried
/// receive rights now travel to `dest`. `Ok(false)` without a record when
/// the message carries no receive right.
///
/// One global lock serializes this walk for messages that carry receive
/// rights (and only for them), so that two such messages cannot close a
/// cycle at the same time. The caller queues the message after this
/// returns; a queued message's record is cleared when it is received or
/// destroyed.
pub(crate) fn check_circularity(message: &Message, dest: &Arc<Port>) -> Result<bool> {
    if message.carried_receive_rights().next().is_none() {
        return Ok(false);
    }
    let _serial = CIRCULARITY.lock();
    for carried in message.carried_receive_rights() {
        let mut at = Some(dest.clone());
        while let Some(port) = at {
            if Arc::ptr_eq(&port, carried) {
                return Ok(true);
            }
            at = port.transit();
        }
    }
    for carried in message.carried_receive_rights() {
        drop(carried.set_transit(Some(dest.clone())));
    }
    Ok(false)
}

// --- Reading a message from the sender -------------------------------------

pub(crate) fn read_u32(data: &[u8], offset: usize) -> Option<u32> {
    let bytes = data.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

pub(crate) fn read_u64(data: &[u8], offset: usize) -> Option<u64> {
    let low = read_u32(data, offset)?;
    let high = read_u32(data, offset.checked_add(4)?)?;
    Some(u64::from(low) | (u64::from(high) << 32))
}

pub(crate) fn write_u32(data: &mut [u8], offset: usize, value: u32) {
    if let Some(bytes) = offset.checked_add(4).and_then(|end| data.get_mut(offset..end)) {
        bytes.copy_from_slice(&value.to_ne_bytes());
    }
}

pub(crate) fn write_u64(data: &mut [u8], offset: usize, value: u64) {
    write_u32(data, offset, value as u32);
    write_u32(data, offset.saturating_add(4), (value >> 32) as u32);
}

pub(crate) fn set_byte(data: &mut [u8], offset: usize, value: u8) {
    if let Some(byte) = data.get_mut(offset) {
        *byte = value;
    }
}

/// Offsets in the user header.
pub(crate) const H_BITS: usize = 0;
pub(crate) const H_SIZE: usize = 4;
pub(crate) const H_REMOTE: usize = 8;
pub(crate) const H_LOCAL: usize = 12;
pub(crate) const H_VOUCHER: usize = 16;
pub(crate) const H_ID: usize = 20;
const BODY: usize = MACH_MSG_HEADER_SIZE as usize;
const FIRST_DESCRIPTOR: usize = BODY + MACH_MSG_BODY_SIZE as usize;

/// One descriptor of a complex message, as found in its bytes.
#[derive(Clone, Copy)]
pub(crate) struct Descriptor {
    pub(crate) offset: usize,
    pub(crate) kind: u32,
}

/// The descriptors of a message whose bytes are `data`: each one's offset
/// and type (the type is the last byte of the first 12 in every kind).
/// Fails with MACH_SEND_MSG_TOO_SMALL if they do not fit.
pub(crate) fn descriptors(data: &[u8]) -> core::result::Result<KVVec<Descriptor>, MachMsgReturn> {
    let mut found = KVVec::new();
    let bits = read_u32(data, H_BITS).unwrap_or(0);
    if bits & MACH_MSGH_BITS_COMPLEX == 0 {
        return Ok(found);
    }
    let count = read_u32(data, BODY).ok_or(MACH_SEND_MSG_TOO_SMALL)?;
    // Every descriptor takes at least 12 bytes: bound the count before
    // allocating for it.
    let room = data.len().saturating_sub(FIRST_DESCRIPTOR) / MACH_MSG_PORT_DESCRIPTOR_SIZE as usize;
    if count as usize > room {
        return Err(MACH_SEND_MSG_TOO_SMALL);
    }
    found.reserve(count as usize, GFP_KERNEL_ACCOUNT).map_err(|_| MACH_SEND_NO_BUFFER)?;
    let mut offset = FIRST_DESCRIPTOR;
    for _ in 0..count {
        if offset >= data.len() {
            return Err(MACH_SEND_MSG_TOO_SMALL);
        }
        // As XNU: the type is checked as soon as the descriptor starts
        // inside the message, before its size.
        let kind = u32::from(*data.get(offset + 11).ok_or(MACH_SEND_MSG_TOO_SMALL)?);
        let size = match kind {
            MACH_MSG_PORT_DESCRIPTOR => MACH_MSG_PORT_DESCRIPTOR_SIZE,
            MACH_MSG_OOL_DESCRIPTOR
            | MACH_MSG_OOL_PORTS_DESCRIPTOR
            | MACH_MSG_OOL_VOLATILE_DESCRIPTOR
            | MACH_MSG_GUARDED_PORT_DESCRIPTOR => MACH_MSG_OOL_DESCRIPTOR_SIZE,
            _ => return Err(MACH_SEND_INVALID_TYPE),
        } as usize;
        if offset + size > data.len() {
            return Err(MACH_SEND_MSG_TOO_SMALL);
        }
        // Cannot fail: `count` places were reserved.
        let _ = found.push_within_capacity(Descriptor { offset, kind });
        offset += size;
    }
    Ok(found)
}

/// The body of a message read from the sender: the rights its descriptors
/// name (to be copied in from the sender's space) and the out-of-line
/// regions, already copied.
pub(crate) struct Body {
    /// `(name, disposition)` of each right, in message order.
    pub(crate) names: KVVec<(u32, u32)>,
    pub(crate) ool: KVVec<KVVec<u8>>,
    /// Sender regions to unmap once the message is sent (the `deallocate`
    /// flag): `(address, size)`.
    pub(crate) deallocate: KVVec<(u64, u64)>,
}

/// Reads the body of a message: checks each descriptor and copies the
/// out-of-line data and port-name arrays from the sender's memory. Touches
/// no right yet.
pub(crate) fn read_body(data: &[u8], descriptors: &[Descriptor]) -> core::result::Result<Body, MachMsgReturn> {
    let mut body = Body { names: KVVec::new(), ool: KVVec::new(), deallocate: KVVec::new() };
    let mut ool_total: u64 = 0;
    let nomem = |_| MACH_SEND_NO_BUFFER;
    for descriptor in descriptors {
        let at = descriptor.offset;
        match descriptor.kind {
            MACH_MSG_PORT_DESCRIPTOR => {
                let name = read_u32(data, at).ok_or(MACH_SEND_MSG_TOO_SMALL)?;
                let disposition = u32::from(*data.get(at + 10).ok_or(MACH_SEND_MSG_TOO_SMALL)?);
                if !mach_msg_type_port_any(disposition) {
                    return Err(MACH_SEND_INVALID_TYPE);
                }
                if body.names.len() as u32 >= MACH_MSG_RIGHTS_MAX {
                    return Err(MACH_SEND_TOO_LARGE);
                }
                body.names.push((name, disposition), GFP_KERNEL_ACCOUNT).map_err(nomem)?;
            }
            MACH_MSG_OOL_DESCRIPTOR | MACH_MSG_OOL_VOLATILE_DESCRIPTOR => {
                let address = read_u64(data, at).ok_or(MACH_SEND_MSG_TOO_SMALL)?;
                let deallocate = *data.get(at + 8).ok_or(MACH_SEND_MSG_TOO_SMALL)? != 0;
                let copy = u32::from(*data.get(at + 9).ok_or(MACH_SEND_MSG_TOO_SMALL)?);
                let size = read_u32(data, at + 12).ok_or(MACH_SEND_MSG_TOO_SMALL)?;
                if copy != MACH_MSG_PHYSICAL_COPY && copy != MACH_MSG_VIRTUAL_COPY {
                    return Err(MACH_SEND_INVALID_TYPE);
                }
                ool_total += u64::from(size);
                if size > MACH_MSG_OOL_SIZE_MAX || ool_total > MACH_MSG_OOL_TOTAL_MAX {
                    return Err(MACH_SEND_TOO_LARGE);
                }
                let mut region = KVVec::new();
                if size > 0 {
                    UserSlice::new(UserPtr::from_addr(address as usize), size as usize)
                        .read_all(&mut region, GFP_KERNEL_ACCOUNT)
                        .map_err(|_| MACH_SEND_INVALID_MEMORY)?;
                    if deallocate {
                        body.deallocate.push((address, u64::from(size)), GFP_KERNEL_ACCOUNT).map_err(nomem)?;
                    }
                }
                body.ool.push(region, GFP_KERNEL_ACCOUNT).map_err(nomem)?;
            }
            MACH_MSG_OOL_PORTS_DESCRIPTOR => {
                let address = read_u64(data, at).ok_or(MACH_SEND_MSG_TOO_SMALL)?;
                let deallocate = *data.get(at + 8).ok_or(MACH_SEND_MSG_TOO_SMALL)? != 0;
                let disposition = u32::from(*data.get(at + 10).ok_or(MACH_SEND_MSG_TOO_SMALL)?);
                let count = read_u32(data, at + 12).ok_or(MACH_SEND_MSG_TOO_SMALL)?;
                if !mach_msg_type_port_any(disposition) {
                    return Err(MACH_SEND_INVALID_TYPE);
                }
                if u64::from(count) + body.names.len() as u64 > u64::from(MACH_MSG_RIGHTS_MAX) {
                    return Err(MACH_SEND_TOO_LARGE);
                }
                if count == 0 {
                    continue;
                }
                let bytes = count as usize * 4;
                let mut raw = KVVec::new();
                UserSlice::new(UserPtr::from_addr(address as usize), bytes)
                    .read_all(&mut raw, GFP_KERNEL_ACCOUNT)
                    .map_err(|_| MACH_SEND_INVALID_MEMORY)?;
                body.names.reserve(count as usize, GFP_KERNEL_ACCOUNT).map_err(nomem)?;
                for index in 0..count as usize {
                    let name = read_u32(&raw, index * 4).unwrap_or(MACH_PORT_NULL);
                    // Cannot fail: the capacity was reserved.
                    let _ = body.names.push_within_capacity((name, disposition));
                }
                if deallocate {
                    body.deallocate.push((address, bytes as u64), GFP_KERNEL_ACCOUNT).map_err(nomem)?;
                }
            }
            _ => return Err(MACH_SEND_INVALID_TYPE),
        }
    }
    Ok(body)
}

/// Unmaps the sender's pages covering `[address, address + size)`, as
/// `vm_deallocate` would (the range is rounded out to whole pages).
pub(crate) fn deallocate_region(address: u64, size: u64) {
    let page = bindings::PAGE_SIZE as u64;
    let Some(end) = address.checked_add(size).and_then(|end| end.checked_add(page - 1)) else {
        return;
    };
    let start = address & !(page - 1);
    let end = end & !(page - 1);
    if end > start {
        // SAFETY: Unmapping part of the calling process's own address space
        // is what the user asked for; the kernel checks the range.
        unsafe { bindings::vm_munmap(start as _, (end - start) as usize) };
    }
}

/// The copied-out type of a right sent with `disposition`.
pub(crate) fn copied_out_type(disposition: u32) -> u32 {
    match disposition {
        MACH_MSG_TYPE_MOVE_RECEIVE => MACH_MSG_TYPE_PORT_RECEIVE,
        MACH_MSG_TYPE_MOVE_SEND_ONCE | MACH_MSG_TYPE_MAKE_SEND_ONCE => MACH_MSG_TYPE_PORT_SEND_ONCE,
        _ => MACH_MSG_TYPE_PORT_SEND,
    }
}

// --- Writing a message to the receiver -------------------------------------

const PROT_READ: u64 = 1;
const PROT_WRITE: u64 = 2;
const MAP_PRIVATE: u64 = 2;
const MAP_ANONYMOUS: u64 = 0x20;

/// Maps `bytes` into the calling process as a fresh private anonymous
/// region and returns its address, or `None` if that fails.
pub(crate) fn map_out(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return Some(0);
    }
    // SAFETY: Creates a new mapping in the calling process, which runs this
    // call and holds no lock here.
    let address = unsafe {
        bindings::vm_mmap(
            ptr::null_mut(),
            0,
            bytes.len() as _,
            (PROT_READ | PROT_WRITE) as _,
            (MAP_PRIVATE | MAP_ANONYMOUS) as _,
            0,
        )
    } as u64;
    if address >= (-4095i64) as u64 {
        return None;
    }
    let written = UserSlice::new(UserPtr::from_addr(address as usize), bytes.len()).writer().write_slice(bytes);
    if written.is_err() {
        deallocate_region(address, bytes.len() as u64);
        return None;
    }
    Some(address)
}

/// The trailer a receiver asked for with `option`, `size` bytes of it.
pub(crate) fn trailer(size: u32, seqno: u32, audit: &Audit) -> [u8; MAX_TRAILER_SIZE as usize] {
    let mut bytes = [0u8; MAX_TRAILER_SIZE as usize];
    write_u32(&mut bytes, 0, MACH_MSG_TRAILER_FORMAT_0);
    write_u32(&mut bytes, 4, size);
    write_u32(&mut bytes, 8, seqno);
    // Security token: effective uid and gid.
    write_u32(&mut bytes, 12, audit[1]);
    write_u32(&mut bytes, 16, audit[2]);
    for (index, value) in audit.iter().enumerate() {
        write_u32(&mut bytes, 20 + 4 * index, *value);
    }
    // Context (8 bytes), ad and labels stay 0.
    bytes
}

// --- Notifications -----------------------------------------------------------

/// The audit token of messages the kernel sends (XNU's kernel token: all
/// zero).
const KERNEL_AUDIT: Audit = [0; 8];

/// Builds the bytes of a notification: header, and for most kinds the NDR
/// record and one 32-bit value.
fn notification_data(id: i32, value: Option<u32>) -> Result<MsgData, kernel::alloc::AllocError> {
    let size = if value.is_some() { 36 } else { 24 };
    let mut data = MsgData::zeroed(size)?;
    write_u32(&mut data, H_BITS, mach_msgh_bits(MACH_MSG_TYPE_PORT_SEND_ONCE, 0));
    write_u32(&mut data, H_SIZE, size as u32);
    write_u32(&mut data, H_ID, id as u32);
    if let Some(value) = value {
        data[BODY..BODY + 8].copy_from_slice(&NDR_RECORD);
        write_u32(&mut data, BODY + 8, value);
    }
    Ok(data)
}

/// Queues a message the kernel built on its destination (past the queue
/// limit, as Mach's notifications go), or destroys it if the destination
/// is dead or the message would make a receive right unreachable.
fn send_kernel(message: KBox<Message>) {
    let dest = match &message.dest {
        Carried::Send(send) => send.object().clone(),
        Carried::SendOnce(send_once) => send_once.object().clone(),
        _ => return,
    };
    match check_circularity(&message, &dest) {
        Ok(false) => {}
        _ => {
            drop(message);
            return;
        }
    }
    if let Some(undelivered) = dest.enqueue(message, None, false) {
        drop(undelivered);
    }
}

fn send_through(notify: SendOnceRight, id: i32, value: Option<u32>) {
    let data = match notification_data(id, value) {
        Ok(data) => data,
        Err(_) => {
            // No memory for the notification: it is lost, and so is the
            // right (used up without one, so that this cannot recurse).
            notify.consume();
            return;
        }
    };
    let message = Message::new(
        data,
        Carried::SendOnce(notify),
        MACH_MSG_TYPE_PORT_SEND_ONCE,
        None,
        0,
        KVVec::new(),
        KVVec::new(),
        KERNEL_AUDIT,
    );
    match message {
        Ok(message) => send_kernel(message),
        // No memory for the message: the right is used up without one.
        Err(Carried::SendOnce(notify)) => notify.consume(),
        Err(other) => drop(other),
    }
}

/// A dead-name or port-deleted notification for `name`.
pub(crate) fn notify_name(notify: SendOnceRight, id: i32, name: u32) {
    send_through(notify, id, Some(name));
}

/// A no-senders notification with the make-send count.
pub(crate) fn notify_count(notify: SendOnceRight, id: i32, count: u32) {
    send_through(notify, id, Some(count));
}

/// The send-once notification of a send-once right destroyed unused: sent
/// through the right itself, to its own port.
pub(crate) fn notify_send_once(right: SendOnceRight) {
    send_through(right, MACH_NOTIFY_SEND_ONCE, None);
}

/// The port-destroyed notification: `receive` travels to the request's
/// port (a send-once right, or a backup port's send right).
pub(crate) fn notify_port_destroyed(request: PdRequest, receive: ReceiveRight) {
    let (dest, dest_type) = match request {
        PdRequest::SendOnce(notify) => (Carried::SendOnce(notify), MACH_MSG_TYPE_PORT_SEND_ONCE),
        PdRequest::Backup(backup) => (Carried::Send(backup), MACH_MSG_TYPE_PORT_SEND),
    };
    let build = || -> Result<(MsgData, KVVec<Option<Carried>>), kernel::alloc::AllocError> {
        let data = MsgData::zeroed(40)?;
        let rights = KVVec::with_capacity(1, GFP_KERNEL_ACCOUNT)?;
        Ok((data, rights))
    };
    let Ok((mut data, mut rights)) = build() else {
        // No memory: the right is dropped, and with the request used the
        // port is destroyed.
        drop(receive);
        drop(dest);
        return;
    };
    write_u32(&mut data, H_BITS, mach_msgh_bits(dest_type, 0) | MACH_MSGH_BITS_COMPLEX);
    write_u32(&mut data, H_SIZE, 40);
    write_u32(&mut data, H_ID, MACH_NOTIFY_PORT_DESTROYED as u32);
    write_u32(&mut data, BODY, 1);
    // The port descriptor: name filled in on delivery, MOVE_RECEIVE.
    set_byte(&mut data, FIRST_DESCRIPTOR + 10, MACH_MSG_TYPE_MOVE_RECEIVE as u8);
    set_byte(&mut data, FIRST_DESCRIPTOR + 11, MACH_MSG_PORT_DESCRIPTOR as u8);
    let _ = rights.push_within_capacity(Some(Carried::Receive(receive)));
    if let Ok(message) = Message::new(data, dest, dest_type, None, 0, rights, KVVec::new(), KERNEL_AUDIT) {
        send_kernel(message);
    }
}
