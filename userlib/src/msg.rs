//! `mach_msg` at the level of bytes: the ioctl with the library's signal
//! rule ([`Space::mach_msg_raw`], [`Space::mach_msg_args`]), the Mach result
//! ([`MsgReturn`]), and an aligned message buffer ([`MsgBuffer`]) with the
//! safe [`Space::mach_msg`] over it.

use std::fmt;
use std::io;
use std::os::fd::AsFd;

use crate::{sys, PortName, Space};

/// A `mach_msg_return_t`: what `mach_msg` answers. `MACH_MSG_SUCCESS` is a
/// value of this type too (unlike [`crate::KernReturn`], which only carries
/// failures in [`crate::Error`]).
///
/// Receive errors that deliver part of a message carry extra bits
/// (`MACH_MSG_IPC_SPACE`, `MACH_MSG_VM_SPACE`, ...; see
/// [`MsgReturn::special_bits`]): `Debug` shows them as
/// `MACH_RCV_BODY_ERROR|MACH_MSG_IPC_SPACE`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MsgReturn(pub i32);

macro_rules! msg_returns {
    ($($name:ident),* $(,)?) => {
        impl MsgReturn {
            $(pub const $name: MsgReturn = MsgReturn(sys::$name);)*

            /// The constant's name, e.g. `"MACH_SEND_INVALID_DEST"`, for an
            /// exact value (no special bits).
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $(sys::$name => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

msg_returns!(
    MACH_MSG_SUCCESS,
    MACH_SEND_IN_PROGRESS,
    MACH_SEND_INVALID_DATA,
    MACH_SEND_INVALID_DEST,
    MACH_SEND_TIMED_OUT,
    MACH_SEND_INVALID_VOUCHER,
    MACH_SEND_INTERRUPTED,
    MACH_SEND_MSG_TOO_SMALL,
    MACH_SEND_INVALID_REPLY,
    MACH_SEND_INVALID_RIGHT,
    MACH_SEND_INVALID_NOTIFY,
    MACH_SEND_INVALID_MEMORY,
    MACH_SEND_NO_BUFFER,
    MACH_SEND_TOO_LARGE,
    MACH_SEND_INVALID_TYPE,
    MACH_SEND_INVALID_HEADER,
    MACH_SEND_INVALID_TRAILER,
    MACH_SEND_INVALID_CONTEXT,
    MACH_SEND_INVALID_RT_OOL_SIZE,
    MACH_SEND_NO_GRANT_DEST,
    MACH_SEND_MSG_FILTERED,
    MACH_RCV_IN_PROGRESS,
    MACH_RCV_INVALID_NAME,
    MACH_RCV_TIMED_OUT,
    MACH_RCV_TOO_LARGE,
    MACH_RCV_INTERRUPTED,
    MACH_RCV_PORT_CHANGED,
    MACH_RCV_INVALID_NOTIFY,
    MACH_RCV_INVALID_DATA,
    MACH_RCV_PORT_DIED,
    MACH_RCV_IN_SET,
    MACH_RCV_HEADER_ERROR,
    MACH_RCV_BODY_ERROR,
    MACH_RCV_INVALID_TYPE,
    MACH_RCV_SCATTER_SMALL,
    MACH_RCV_INVALID_TRAILER,
    MACH_RCV_IN_PROGRESS_TIMED,
    MACH_RCV_INVALID_REPLY,
);

impl MsgReturn {
    /// True for `MACH_MSG_SUCCESS`.
    pub fn is_success(self) -> bool {
        self.0 == sys::MACH_MSG_SUCCESS
    }

    /// True for a send error (`MACH_SEND_*`, IPC system 4, subsystem 0).
    pub fn is_send_error(self) -> bool {
        (self.0 as u32) & 0xffff_c000 == 0x1000_0000
    }

    /// True for a receive error (`MACH_RCV_*`, IPC system 4, subsystem 1).
    pub fn is_receive_error(self) -> bool {
        (self.0 as u32) & 0xffff_c000 == 0x1000_4000
    }

    /// The value without its special bits (`MACH_MSG_MASK`).
    pub fn base(self) -> MsgReturn {
        MsgReturn(self.0 & !sys::MACH_MSG_MASK)
    }

    /// The special bits (`MACH_MSG_IPC_SPACE`, `MACH_MSG_VM_SPACE`,
    /// `MACH_MSG_IPC_KERNEL`, `MACH_MSG_VM_KERNEL`) of a send or receive
    /// error; 0 for anything else.
    pub fn special_bits(self) -> i32 {
        if self.is_send_error() || self.is_receive_error() {
            self.0 & sys::MACH_MSG_MASK
        } else {
            0
        }
    }
}

impl fmt::Debug for MsgReturn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.name() {
            return f.write_str(name);
        }
        let bits = self.special_bits();
        match self.base().name() {
            Some(name) if bits != 0 => {
                f.write_str(name)?;
                for (bit, bit_name) in [
                    (sys::MACH_MSG_IPC_SPACE, "MACH_MSG_IPC_SPACE"),
                    (sys::MACH_MSG_VM_SPACE, "MACH_MSG_VM_SPACE"),
                    (sys::MACH_MSG_IPC_KERNEL, "MACH_MSG_IPC_KERNEL"),
                    (sys::MACH_MSG_VM_KERNEL, "MACH_MSG_VM_KERNEL"),
                ] {
                    if bits & bit != 0 {
                        write!(f, "|{bit_name}")?;
                    }
                }
                let rest = bits
                    & !(sys::MACH_MSG_IPC_SPACE
                        | sys::MACH_MSG_VM_SPACE
                        | sys::MACH_MSG_IPC_KERNEL
                        | sys::MACH_MSG_VM_KERNEL);
                if rest != 0 {
                    write!(f, "|{rest:#x}")?;
                }
                Ok(())
            }
            _ => write!(f, "mach_msg_return_t({:#x})", self.0),
        }
    }
}

impl fmt::Display for MsgReturn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for MsgReturn {}

/// The options the library implements itself rather than the module
/// (libsyscall's `LIBMACH_OPTIONS`): they are not passed to the ioctl.
pub const LIBRARY_OPTIONS: u32 = sys::MACH_SEND_INTERRUPT | sys::MACH_RCV_INTERRUPT;

/// What the library does after `MACH_IOC_MSG` failed with EINTR.
#[derive(Debug, PartialEq, Eq)]
enum AfterEintr {
    /// Return this Mach result.
    Return(i32),
    /// Issue the ioctl again with the (rewritten) args.
    Reissue,
}

/// The signal rule of docs/messages.md: `option` is what the caller
/// passed, `written_back` the option field as the module left it.
fn after_eintr(option: u32, written_back: u32) -> AfterEintr {
    if written_back & sys::MACH_SEND_MSG != 0 {
        // The send was interrupted: nothing was sent.
        if option & sys::MACH_SEND_INTERRUPT != 0 {
            AfterEintr::Return(sys::MACH_SEND_INTERRUPTED)
        } else {
            AfterEintr::Reissue
        }
    } else if written_back & sys::MACH_RCV_MSG != 0 {
        // The send (if any) completed; the receive was interrupted.
        if option & sys::MACH_RCV_INTERRUPT != 0 {
            AfterEintr::Return(sys::MACH_RCV_INTERRUPTED)
        } else {
            AfterEintr::Reissue
        }
    } else {
        // Neither half is left to do (a send-only call whose send had
        // completed): nothing to repeat.
        AfterEintr::Return(sys::MACH_MSG_SUCCESS)
    }
}

impl Space {
    /// `MACH_IOC_MSG` on a caller-built [`sys::MsgArgs`], with the
    /// library's signal rule (docs/messages.md, "Signals"):
    ///
    /// - `MACH_SEND_INTERRUPT` and `MACH_RCV_INTERRUPT` in `args.option` are
    ///   the library's own options: they are cleared before the ioctl (as
    ///   macOS's libsyscall does) and decide what an interruption does.
    /// - When the ioctl fails with `EINTR` (a signal handler ran while the
    ///   call was blocked), `args.option` is as the module left it. If it
    ///   still holds `MACH_SEND_MSG`, the send was interrupted and nothing
    ///   was sent: the result is `MACH_SEND_INTERRUPTED` if the caller
    ///   asked for `MACH_SEND_INTERRUPT`, else the ioctl is issued again.
    ///   Otherwise the receive was interrupted (after a completed send,
    ///   which the module marks by clearing `MACH_SEND_MSG`): the result is
    ///   `MACH_RCV_INTERRUPTED` if the caller asked for
    ///   `MACH_RCV_INTERRUPT`, else the ioctl is issued again with the
    ///   rewritten option, so that the send is never repeated.
    ///
    /// A re-issued call starts its timeout again. Returns the Mach result
    /// (`args.mr`, or the `*_INTERRUPTED` code), or `Err` for a transport
    /// errno other than `EINTR`; then `args.option` shows whether the send
    /// half was still to be done (`MACH_SEND_MSG` set).
    ///
    /// # Safety
    ///
    /// As [`Space::mach_msg_raw`], for `args.msg` and the sizes in `args`.
    pub unsafe fn mach_msg_args(&self, args: &mut sys::MsgArgs) -> io::Result<i32> {
        let option = args.option;
        args.option &= !LIBRARY_OPTIONS;
        loop {
            // SAFETY: MACH_IOC_MSG takes a MsgArgs; the caller answers for
            // the buffer and whatever the message refers to.
            let r = unsafe { crate::ioctl_raw(self.fd.as_fd(), sys::MACH_IOC_MSG, args) };
            match r {
                Ok(()) => return Ok(args.mr),
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {
                    match after_eintr(option, args.option) {
                        AfterEintr::Return(mr) => {
                            args.mr = mr;
                            return Ok(mr);
                        }
                        AfterEintr::Reissue => args.mr = 0,
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `mach_msg` on a raw buffer: one `MACH_IOC_MSG` (more if a signal
    /// interrupts it, see [`Space::mach_msg_args`]). Returns the
    /// `mach_msg_return_t`; `Err` only when the ioctl itself fails with an
    /// errno other than `EINTR`.
    ///
    /// `option` is any combination of the `sys::MACH_SEND_*` and
    /// `sys::MACH_RCV_*` options (with `sys::mach_rcv_trailer_elements`).
    /// `timeout` is in milliseconds and applies only with
    /// `MACH_SEND_TIMEOUT` / `MACH_RCV_TIMEOUT`. `notify` is passed through
    /// (the module does not use it).
    ///
    /// # Safety
    ///
    /// With `MACH_SEND_MSG`, `msg` must be valid for reads of `send_size`
    /// bytes; with `MACH_RCV_MSG`, valid for writes of `rcv_size` bytes
    /// (the module writes at most `rcv_size` bytes). A message whose
    /// out-of-line descriptors have `deallocate` set makes the module unmap
    /// the pages under them once the send succeeds: nothing there may still
    /// be in use.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn mach_msg_raw(
        &self,
        msg: *mut u8,
        option: u32,
        send_size: u32,
        rcv_size: u32,
        rcv_name: PortName,
        timeout: u32,
        notify: PortName,
    ) -> io::Result<i32> {
        let mut a = sys::MsgArgs {
            msg: msg as u64,
            option,
            send_size,
            rcv_size,
            rcv_name: rcv_name.0,
            timeout,
            notify: notify.0,
            mr: 0,
            reserved: 0,
        };
        // SAFETY: Forwarded to the caller.
        unsafe { self.mach_msg_args(&mut a) }
    }

    /// `mach_msg` on a [`MsgBuffer`]: sends its first `send_size` bytes
    /// and/or receives into it, as `option` says. Returns the Mach result
    /// (`MsgReturn::MACH_MSG_SUCCESS` included); `Err` only when the ioctl
    /// itself fails (see [`Space::mach_msg_raw`]).
    ///
    /// Sizes: with `MACH_SEND_MSG`, `send_size` must be at most
    /// `buf.len()`, else `Err` with `InvalidInput` and nothing is done.
    /// `rcv_size` is clamped to `buf.len()`: the module is never told that
    /// the buffer is larger than it is (a longer message then gives
    /// `MACH_RCV_TOO_LARGE`).
    ///
    /// Memory: an out-of-line descriptor with `deallocate` set would make
    /// the module unmap the caller's pages, which safe code cannot allow: a
    /// complex message with any such descriptor is refused with
    /// `InvalidInput` (use [`Space::mach_msg_raw`]). Out-of-line addresses
    /// are otherwise only read by the module (an unreadable one gives
    /// `MACH_SEND_INVALID_MEMORY`). Received out-of-line data arrives in
    /// fresh mappings that the caller owns: free them with `munmap`, or
    /// decode the message with [`crate::Received::from_buffer`].
    #[allow(clippy::too_many_arguments)]
    pub fn mach_msg(
        &self,
        buf: &mut MsgBuffer,
        option: u32,
        send_size: u32,
        rcv_size: u32,
        rcv_name: PortName,
        timeout: u32,
        notify: PortName,
    ) -> io::Result<MsgReturn> {
        if option & sys::MACH_SEND_MSG != 0 {
            if send_size as usize > buf.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "mach_msg: send_size is larger than the buffer",
                ));
            }
            if buf.has_deallocating_descriptor(send_size as usize) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "mach_msg: an out-of-line descriptor has deallocate set (use mach_msg_raw)",
                ));
            }
        }
        let rcv_size = rcv_size.min(u32::try_from(buf.len()).unwrap_or(u32::MAX));
        // SAFETY: The buffer holds at least send_size bytes to read and
        // rcv_size bytes to write; no descriptor makes the module unmap
        // memory (checked above).
        let mr = unsafe {
            self.mach_msg_raw(
                buf.as_mut_ptr(),
                option,
                send_size,
                rcv_size,
                rcv_name,
                timeout,
                notify,
            )?
        };
        Ok(MsgReturn(mr))
    }
}

/// The header of a message (`mach_msg_header_t`), 24 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MsgHeader {
    /// `msgh_bits`: the remote and local dispositions (or, received, types)
    /// and `MACH_MSGH_BITS_COMPLEX`.
    pub bits: u32,
    /// `msgh_size`: ignored on send (the send size counts); set on receive.
    pub size: u32,
    /// `msgh_remote_port`: the destination; on receive, the reply right.
    pub remote_port: PortName,
    /// `msgh_local_port`: the reply port; on receive, the receive name.
    pub local_port: PortName,
    /// `msgh_voucher_port`: must be `NULL` (vouchers are not supported).
    pub voucher_port: PortName,
    /// `msgh_id`.
    pub id: i32,
}

const _: () = assert!(std::mem::size_of::<MsgHeader>() == sys::MACH_MSG_HEADER_SIZE as usize);

/// A message buffer: zeroed bytes aligned to 8, of any length, with
/// accessors for the fields of a message.
///
/// The accessors take byte offsets and panic, as slice indexing does, when
/// the field does not lie inside the buffer. Values are in native byte
/// order. The layout is XNU's LP64 one (see docs/messages.md): header at 0,
/// descriptor count at 24, descriptors from 28.
#[derive(Clone, Default)]
pub struct MsgBuffer {
    words: Vec<u64>,
    len: usize,
}

impl MsgBuffer {
    /// A zeroed buffer of `len` bytes.
    pub fn new(len: usize) -> MsgBuffer {
        MsgBuffer {
            words: vec![0; len.div_ceil(8)],
            len,
        }
    }

    /// A buffer holding a copy of `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> MsgBuffer {
        let mut b = MsgBuffer::new(bytes.len());
        b.as_bytes_mut().copy_from_slice(bytes);
        b
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Grows or shrinks the buffer to `len` bytes; new bytes are zero.
    pub fn resize(&mut self, len: usize) {
        let old = self.len;
        self.words.resize(len.div_ceil(8), 0);
        self.len = len;
        if len > old {
            // The tail of the last old word may hold bytes from before a
            // shrink.
            self.as_bytes_mut()[old..].fill(0);
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: `words` holds at least `len` initialised bytes, and u8 has
        // no alignment or validity requirements.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.len) }
    }

    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: As in as_bytes, with exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.words.as_mut_ptr().cast::<u8>(), self.len) }
    }

    /// The address of the first byte (aligned to 8).
    pub fn as_ptr(&self) -> *const u8 {
        self.words.as_ptr().cast()
    }

    /// The address of the first byte (aligned to 8), for writing.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.words.as_mut_ptr().cast()
    }

    /// The bytes `[offset, offset + len)`.
    pub fn bytes(&self, offset: usize, len: usize) -> &[u8] {
        &self.as_bytes()[offset..offset + len]
    }

    /// Copies `bytes` to `offset`.
    pub fn write_bytes(&mut self, offset: usize, bytes: &[u8]) {
        self.as_bytes_mut()[offset..offset + bytes.len()].copy_from_slice(bytes);
    }

    pub fn u8_at(&self, offset: usize) -> u8 {
        self.as_bytes()[offset]
    }

    pub fn set_u8(&mut self, offset: usize, value: u8) {
        self.as_bytes_mut()[offset] = value;
    }

    pub fn u16_at(&self, offset: usize) -> u16 {
        u16::from_ne_bytes(self.bytes(offset, 2).try_into().unwrap())
    }

    pub fn set_u16(&mut self, offset: usize, value: u16) {
        self.write_bytes(offset, &value.to_ne_bytes());
    }

    pub fn u32_at(&self, offset: usize) -> u32 {
        u32::from_ne_bytes(self.bytes(offset, 4).try_into().unwrap())
    }

    pub fn set_u32(&mut self, offset: usize, value: u32) {
        self.write_bytes(offset, &value.to_ne_bytes());
    }

    /// A 64-bit value (descriptors hold addresses at offsets that are only
    /// 4-aligned).
    pub fn u64_at(&self, offset: usize) -> u64 {
        u64::from_ne_bytes(self.bytes(offset, 8).try_into().unwrap())
    }

    pub fn set_u64(&mut self, offset: usize, value: u64) {
        self.write_bytes(offset, &value.to_ne_bytes());
    }

    /// The header (the first 24 bytes).
    pub fn header(&self) -> MsgHeader {
        MsgHeader {
            bits: self.u32_at(0),
            size: self.u32_at(4),
            remote_port: PortName(self.u32_at(8)),
            local_port: PortName(self.u32_at(12)),
            voucher_port: PortName(self.u32_at(16)),
            id: self.u32_at(20) as i32,
        }
    }

    /// Writes the header (the first 24 bytes).
    pub fn set_header(&mut self, h: &MsgHeader) {
        self.set_u32(0, h.bits);
        self.set_u32(4, h.size);
        self.set_u32(8, h.remote_port.0);
        self.set_u32(12, h.local_port.0);
        self.set_u32(16, h.voucher_port.0);
        self.set_u32(20, h.id as u32);
    }

    /// `msgh_bits`.
    pub fn bits(&self) -> u32 {
        self.u32_at(0)
    }

    pub fn set_bits(&mut self, bits: u32) {
        self.set_u32(0, bits)
    }

    /// `msgh_size`.
    pub fn size(&self) -> u32 {
        self.u32_at(4)
    }

    pub fn set_size(&mut self, size: u32) {
        self.set_u32(4, size)
    }

    /// `msgh_remote_port`.
    pub fn remote_port(&self) -> PortName {
        PortName(self.u32_at(8))
    }

    pub fn set_remote_port(&mut self, name: PortName) {
        self.set_u32(8, name.0)
    }

    /// `msgh_local_port`.
    pub fn local_port(&self) -> PortName {
        PortName(self.u32_at(12))
    }

    pub fn set_local_port(&mut self, name: PortName) {
        self.set_u32(12, name.0)
    }

    /// `msgh_voucher_port`.
    pub fn voucher_port(&self) -> PortName {
        PortName(self.u32_at(16))
    }

    pub fn set_voucher_port(&mut self, name: PortName) {
        self.set_u32(16, name.0)
    }

    /// `msgh_id`.
    pub fn id(&self) -> i32 {
        self.u32_at(20) as i32
    }

    pub fn set_id(&mut self, id: i32) {
        self.set_u32(20, id as u32)
    }

    /// `msgh_descriptor_count` of the body (offset 24).
    pub fn descriptor_count(&self) -> u32 {
        self.u32_at(24)
    }

    pub fn set_descriptor_count(&mut self, count: u32) {
        self.set_u32(24, count)
    }

    /// Whether the first `send_size` bytes hold a complex message with an
    /// out-of-line descriptor that has `deallocate` set, among the
    /// descriptors the module would accept. The walk stops, as the
    /// module's copy-in does (which then fails and deallocates nothing), at
    /// the first descriptor of a type it refuses or that does not fit.
    fn has_deallocating_descriptor(&self, send_size: usize) -> bool {
        let end = send_size.min(self.len);
        if end < (sys::MACH_MSG_HEADER_SIZE + sys::MACH_MSG_BODY_SIZE) as usize
            || self.bits() & sys::MACH_MSGH_BITS_COMPLEX == 0
        {
            return false;
        }
        let mut off = (sys::MACH_MSG_HEADER_SIZE + sys::MACH_MSG_BODY_SIZE) as usize;
        for _ in 0..self.descriptor_count() {
            if off + 12 > end {
                return false;
            }
            let size = match u32::from(self.u8_at(off + 11)) {
                sys::MACH_MSG_PORT_DESCRIPTOR => sys::MACH_MSG_PORT_DESCRIPTOR_SIZE as usize,
                sys::MACH_MSG_OOL_DESCRIPTOR
                | sys::MACH_MSG_OOL_VOLATILE_DESCRIPTOR
                | sys::MACH_MSG_OOL_PORTS_DESCRIPTOR => {
                    if off + 16 > end {
                        return false;
                    }
                    if self.u8_at(off + 8) != 0 {
                        return true;
                    }
                    sys::MACH_MSG_OOL_DESCRIPTOR_SIZE as usize
                }
                _ => return false,
            };
            off += size;
        }
        false
    }
}

impl fmt::Debug for MsgBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsgBuffer")
            .field("len", &self.len)
            .field("bytes", &self.as_bytes())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eintr_rule() {
        use sys::*;
        let send_rcv = MACH_SEND_MSG | MACH_RCV_MSG;
        // The send was interrupted: nothing sent.
        assert_eq!(after_eintr(send_rcv, send_rcv), AfterEintr::Reissue);
        assert_eq!(
            after_eintr(send_rcv | MACH_SEND_INTERRUPT, send_rcv),
            AfterEintr::Return(MACH_SEND_INTERRUPTED)
        );
        // MACH_RCV_INTERRUPT does not stop a send from being re-issued.
        assert_eq!(
            after_eintr(send_rcv | MACH_RCV_INTERRUPT, send_rcv),
            AfterEintr::Reissue
        );
        // The send completed, the receive was interrupted.
        assert_eq!(after_eintr(send_rcv, MACH_RCV_MSG), AfterEintr::Reissue);
        assert_eq!(
            after_eintr(send_rcv | MACH_SEND_INTERRUPT, MACH_RCV_MSG),
            AfterEintr::Reissue
        );
        assert_eq!(
            after_eintr(send_rcv | MACH_RCV_INTERRUPT, MACH_RCV_MSG),
            AfterEintr::Return(MACH_RCV_INTERRUPTED)
        );
        assert_eq!(
            after_eintr(MACH_RCV_MSG | MACH_RCV_INTERRUPT, MACH_RCV_MSG),
            AfterEintr::Return(MACH_RCV_INTERRUPTED)
        );
        assert_eq!(
            after_eintr(MACH_SEND_MSG, 0),
            AfterEintr::Return(MACH_MSG_SUCCESS)
        );
    }

    #[test]
    fn msg_return_names() {
        assert_eq!(
            format!("{:?}", MsgReturn::MACH_MSG_SUCCESS),
            "MACH_MSG_SUCCESS"
        );
        assert_eq!(
            format!("{}", MsgReturn::MACH_SEND_INVALID_DEST),
            "MACH_SEND_INVALID_DEST"
        );
        let body_space = MsgReturn(sys::MACH_RCV_BODY_ERROR | sys::MACH_MSG_IPC_SPACE);
        assert_eq!(
            format!("{body_space:?}"),
            "MACH_RCV_BODY_ERROR|MACH_MSG_IPC_SPACE"
        );
        assert_eq!(body_space.base(), MsgReturn::MACH_RCV_BODY_ERROR);
        assert_eq!(body_space.special_bits(), sys::MACH_MSG_IPC_SPACE);
        assert!(body_space.is_receive_error() && !body_space.is_send_error());
        assert!(MsgReturn::MACH_SEND_TOO_LARGE.is_send_error());
        assert_eq!(format!("{:?}", MsgReturn(5)), "mach_msg_return_t(0x5)");
        assert_eq!(MsgReturn(5).special_bits(), 0);
    }

    #[test]
    fn buffer_fields() {
        let mut b = MsgBuffer::new(36);
        assert_eq!(b.as_ptr() as usize % 8, 0);
        assert_eq!(b.len(), 36);
        let h = MsgHeader {
            bits: 0x8000_1413,
            size: 28,
            remote_port: PortName(0x103),
            local_port: PortName(0x207),
            voucher_port: PortName::NULL,
            id: -5,
        };
        b.set_header(&h);
        assert_eq!(b.header(), h);
        assert_eq!(b.id(), -5);
        b.set_u64(24, 0x1122_3344_5566_7788);
        assert_eq!(b.u64_at(24), 0x1122_3344_5566_7788);
        b.resize(4);
        b.resize(16);
        assert_eq!(b.as_bytes()[4..], [0u8; 12]);
    }

    #[test]
    fn deallocate_scan() {
        let mut b = MsgBuffer::new(28 + 12 + 16);
        b.set_bits(sys::MACH_MSGH_BITS_COMPLEX);
        b.set_descriptor_count(2);
        b.set_u8(28 + 11, sys::MACH_MSG_PORT_DESCRIPTOR as u8);
        b.set_u8(40 + 11, sys::MACH_MSG_OOL_DESCRIPTOR as u8);
        assert!(!b.has_deallocating_descriptor(b.len()));
        b.set_u8(40 + 8, 1);
        assert!(b.has_deallocating_descriptor(b.len()));
        // Not complex, or cut short by send_size: the module reads no body.
        assert!(!b.has_deallocating_descriptor(50));
        b.set_bits(0);
        assert!(!b.has_deallocating_descriptor(b.len()));
        // A refused type before it stops the walk.
        b.set_bits(sys::MACH_MSGH_BITS_COMPLEX);
        b.set_u8(28 + 11, sys::MACH_MSG_GUARDED_PORT_DESCRIPTOR as u8);
        assert!(!b.has_deallocating_descriptor(b.len()));
    }
}
