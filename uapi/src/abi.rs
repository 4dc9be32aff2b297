//! The `/dev/mach` ioctl ABI and the Mach constants it carries.
//!
//! This file is compiled twice: as the `mach-uapi` crate in user space and,
//! through `#[path]`, inside the kernel module. It may use `core` only.
//!
//! Every constant has XNU's value (LP64). Every argument struct is
//! `#[repr(C)]`, made of `u32`/`u64`/`i32` fields with no implicit padding,
//! and is checked by size and offset assertions below and in the C header
//! `uapi/include/mach/mach_ioctl.h`. Reserved fields must be zero (EINVAL
//! otherwise). A Mach result (`kern_return_t`) travels in the struct's `kr`
//! field; the ioctl's own return value is 0 or a transport errno.

#![allow(dead_code, unreachable_pub)]

use core::mem::{offset_of, size_of};

// ---------------------------------------------------------------------------
// Basic Mach types.

pub type KernReturnT = i32;
pub type MachPortName = u32;
pub type MachPortRight = u32;
pub type MachPortType = u32;
pub type MachPortUrefs = u32;
pub type MachPortDelta = i32;

// ---------------------------------------------------------------------------
// kern_return_t values (XNU osfmk/mach/kern_return.h).

pub const KERN_SUCCESS: KernReturnT = 0;
pub const KERN_INVALID_ADDRESS: KernReturnT = 1;
pub const KERN_PROTECTION_FAILURE: KernReturnT = 2;
pub const KERN_NO_SPACE: KernReturnT = 3;
pub const KERN_INVALID_ARGUMENT: KernReturnT = 4;
pub const KERN_FAILURE: KernReturnT = 5;
pub const KERN_RESOURCE_SHORTAGE: KernReturnT = 6;
pub const KERN_NOT_RECEIVER: KernReturnT = 7;
pub const KERN_NO_ACCESS: KernReturnT = 8;
pub const KERN_MEMORY_FAILURE: KernReturnT = 9;
pub const KERN_MEMORY_ERROR: KernReturnT = 10;
pub const KERN_ALREADY_IN_SET: KernReturnT = 11;
pub const KERN_NOT_IN_SET: KernReturnT = 12;
pub const KERN_NAME_EXISTS: KernReturnT = 13;
pub const KERN_ABORTED: KernReturnT = 14;
pub const KERN_INVALID_NAME: KernReturnT = 15;
pub const KERN_INVALID_TASK: KernReturnT = 16;
pub const KERN_INVALID_RIGHT: KernReturnT = 17;
pub const KERN_INVALID_VALUE: KernReturnT = 18;
pub const KERN_UREFS_OVERFLOW: KernReturnT = 19;
pub const KERN_INVALID_CAPABILITY: KernReturnT = 20;
pub const KERN_RIGHT_EXISTS: KernReturnT = 21;
pub const KERN_INVALID_HOST: KernReturnT = 22;
pub const KERN_MEMORY_PRESENT: KernReturnT = 23;
pub const KERN_MEMORY_DATA_MOVED: KernReturnT = 24;
pub const KERN_MEMORY_RESTART_COPY: KernReturnT = 25;
pub const KERN_INVALID_PROCESSOR_SET: KernReturnT = 26;
pub const KERN_POLICY_LIMIT: KernReturnT = 27;
pub const KERN_INVALID_POLICY: KernReturnT = 28;
pub const KERN_INVALID_OBJECT: KernReturnT = 29;
pub const KERN_ALREADY_WAITING: KernReturnT = 30;
pub const KERN_DEFAULT_SET: KernReturnT = 31;
pub const KERN_EXCEPTION_PROTECTED: KernReturnT = 32;
pub const KERN_INVALID_LEDGER: KernReturnT = 33;
pub const KERN_INVALID_MEMORY_CONTROL: KernReturnT = 34;
pub const KERN_INVALID_SECURITY: KernReturnT = 35;
pub const KERN_NOT_DEPRESSED: KernReturnT = 36;
pub const KERN_TERMINATED: KernReturnT = 37;
pub const KERN_LOCK_SET_DESTROYED: KernReturnT = 38;
pub const KERN_LOCK_UNSTABLE: KernReturnT = 39;
pub const KERN_LOCK_OWNED: KernReturnT = 40;
pub const KERN_LOCK_OWNED_SELF: KernReturnT = 41;
pub const KERN_SEMAPHORE_DESTROYED: KernReturnT = 42;
pub const KERN_RPC_SERVER_TERMINATED: KernReturnT = 43;
pub const KERN_RPC_TERMINATE_ORPHAN: KernReturnT = 44;
pub const KERN_RPC_CONTINUE_ORPHAN: KernReturnT = 45;
pub const KERN_NOT_SUPPORTED: KernReturnT = 46;
pub const KERN_NODE_DOWN: KernReturnT = 47;
pub const KERN_NOT_WAITING: KernReturnT = 48;
pub const KERN_OPERATION_TIMED_OUT: KernReturnT = 49;
pub const KERN_CODESIGN_ERROR: KernReturnT = 50;
pub const KERN_POLICY_STATIC: KernReturnT = 51;
pub const KERN_INSUFFICIENT_BUFFER_SIZE: KernReturnT = 52;
pub const KERN_DENIED: KernReturnT = 53;
pub const KERN_MISSING_KC: KernReturnT = 54;
pub const KERN_INVALID_KC: KernReturnT = 55;
pub const KERN_NOT_FOUND: KernReturnT = 56;
pub const KERN_RETURN_MAX: KernReturnT = 0x100;

// ---------------------------------------------------------------------------
// Port names, rights and types (XNU osfmk/mach/port.h).

pub const MACH_PORT_NULL: MachPortName = 0;
pub const MACH_PORT_DEAD: MachPortName = !0;

/// True for a name that can denote a right (neither NULL nor DEAD).
pub const fn mach_port_valid(name: MachPortName) -> bool {
    name != MACH_PORT_NULL && name != MACH_PORT_DEAD
}

/// The index part of a kernel-chosen name (`index << 8 | generation`).
pub const fn mach_port_index(name: MachPortName) -> u32 {
    name >> 8
}

/// The generation part of a name, placed as XNU's `MACH_PORT_GEN` does.
pub const fn mach_port_gen(name: MachPortName) -> u32 {
    (name & 0xff) << 24
}

/// Builds a name from an index and a generation (XNU `MACH_PORT_MAKE`).
pub const fn mach_port_make(index: u32, gen: u32) -> MachPortName {
    (index << 8) | (gen >> 24)
}

pub const MACH_PORT_RIGHT_SEND: MachPortRight = 0;
pub const MACH_PORT_RIGHT_RECEIVE: MachPortRight = 1;
pub const MACH_PORT_RIGHT_SEND_ONCE: MachPortRight = 2;
pub const MACH_PORT_RIGHT_PORT_SET: MachPortRight = 3;
pub const MACH_PORT_RIGHT_DEAD_NAME: MachPortRight = 4;
pub const MACH_PORT_RIGHT_LABELH: MachPortRight = 5;
pub const MACH_PORT_RIGHT_NUMBER: MachPortRight = 6;

/// `MACH_PORT_TYPE(right)`: the type bit of a right.
pub const fn mach_port_type(right: MachPortRight) -> MachPortType {
    1 << (right + 16)
}

pub const MACH_PORT_TYPE_NONE: MachPortType = 0;
pub const MACH_PORT_TYPE_SEND: MachPortType = mach_port_type(MACH_PORT_RIGHT_SEND);
pub const MACH_PORT_TYPE_RECEIVE: MachPortType = mach_port_type(MACH_PORT_RIGHT_RECEIVE);
pub const MACH_PORT_TYPE_SEND_ONCE: MachPortType = mach_port_type(MACH_PORT_RIGHT_SEND_ONCE);
pub const MACH_PORT_TYPE_PORT_SET: MachPortType = mach_port_type(MACH_PORT_RIGHT_PORT_SET);
pub const MACH_PORT_TYPE_DEAD_NAME: MachPortType = mach_port_type(MACH_PORT_RIGHT_DEAD_NAME);
pub const MACH_PORT_TYPE_LABELH: MachPortType = mach_port_type(MACH_PORT_RIGHT_LABELH);
pub const MACH_PORT_TYPE_DNREQUEST: MachPortType = 0x8000_0000;
pub const MACH_PORT_TYPE_SPREQUEST: MachPortType = 0x4000_0000;
pub const MACH_PORT_TYPE_SPREQUEST_DELAYED: MachPortType = 0x2000_0000;
pub const MACH_PORT_TYPE_SEND_RECEIVE: MachPortType = MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_RECEIVE;
pub const MACH_PORT_TYPE_SEND_RIGHTS: MachPortType = MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_SEND_ONCE;
pub const MACH_PORT_TYPE_PORT_RIGHTS: MachPortType =
    MACH_PORT_TYPE_SEND_RIGHTS | MACH_PORT_TYPE_RECEIVE;
pub const MACH_PORT_TYPE_PORT_OR_DEAD: MachPortType =
    MACH_PORT_TYPE_PORT_RIGHTS | MACH_PORT_TYPE_DEAD_NAME;
pub const MACH_PORT_TYPE_ALL_RIGHTS: MachPortType =
    MACH_PORT_TYPE_PORT_OR_DEAD | MACH_PORT_TYPE_PORT_SET;

/// The largest user-reference count a send right or dead name can have.
pub const MACH_PORT_UREFS_MAX: MachPortUrefs = 0xffff;

pub const MACH_PORT_QLIMIT_ZERO: u32 = 0;
pub const MACH_PORT_QLIMIT_BASIC: u32 = 5;
pub const MACH_PORT_QLIMIT_SMALL: u32 = 16;
pub const MACH_PORT_QLIMIT_LARGE: u32 = 1024;
pub const MACH_PORT_QLIMIT_KERNEL: u32 = 65534;
pub const MACH_PORT_QLIMIT_MIN: u32 = MACH_PORT_QLIMIT_ZERO;
pub const MACH_PORT_QLIMIT_DEFAULT: u32 = MACH_PORT_QLIMIT_BASIC;
pub const MACH_PORT_QLIMIT_MAX: u32 = MACH_PORT_QLIMIT_LARGE;

// ---------------------------------------------------------------------------
// Message dispositions (XNU osfmk/mach/message.h). Used by later calls;
// defined here so that the whole vocabulary lives in one place.

pub const MACH_MSG_TYPE_MOVE_RECEIVE: u32 = 16;
pub const MACH_MSG_TYPE_MOVE_SEND: u32 = 17;
pub const MACH_MSG_TYPE_MOVE_SEND_ONCE: u32 = 18;
pub const MACH_MSG_TYPE_COPY_SEND: u32 = 19;
pub const MACH_MSG_TYPE_MAKE_SEND: u32 = 20;
pub const MACH_MSG_TYPE_MAKE_SEND_ONCE: u32 = 21;
pub const MACH_MSG_TYPE_COPY_RECEIVE: u32 = 22;
pub const MACH_MSG_TYPE_PORT_NONE: u32 = 0;
pub const MACH_MSG_TYPE_PORT_NAME: u32 = 15;
pub const MACH_MSG_TYPE_PORT_RECEIVE: u32 = MACH_MSG_TYPE_MOVE_RECEIVE;
pub const MACH_MSG_TYPE_PORT_SEND: u32 = MACH_MSG_TYPE_MOVE_SEND;
pub const MACH_MSG_TYPE_PORT_SEND_ONCE: u32 = MACH_MSG_TYPE_MOVE_SEND_ONCE;

/// True for the six dispositions a caller can name (MOVE_RECEIVE ..
/// MAKE_SEND_ONCE): XNU's `MACH_MSG_TYPE_PORT_ANY`.
pub const fn mach_msg_type_port_any(disposition: u32) -> bool {
    disposition >= MACH_MSG_TYPE_MOVE_RECEIVE && disposition <= MACH_MSG_TYPE_MAKE_SEND_ONCE
}

// ---------------------------------------------------------------------------
// Messages (XNU osfmk/mach/message.h, LP64 user layouts).

pub type MachMsgReturn = i32;

pub const MACH_MSGH_BITS_REMOTE_MASK: u32 = 0x0000_001f;
pub const MACH_MSGH_BITS_LOCAL_MASK: u32 = 0x0000_1f00;
pub const MACH_MSGH_BITS_VOUCHER_MASK: u32 = 0x001f_0000;
pub const MACH_MSGH_BITS_PORTS_MASK: u32 =
    MACH_MSGH_BITS_REMOTE_MASK | MACH_MSGH_BITS_LOCAL_MASK | MACH_MSGH_BITS_VOUCHER_MASK;
pub const MACH_MSGH_BITS_COMPLEX: u32 = 0x8000_0000;
pub const MACH_MSGH_BITS_USER: u32 = 0x801f_1f1f;

pub const fn mach_msgh_bits(remote: u32, local: u32) -> u32 {
    remote | (local << 8)
}
pub const fn mach_msgh_bits_remote(bits: u32) -> u32 {
    bits & MACH_MSGH_BITS_REMOTE_MASK
}
pub const fn mach_msgh_bits_local(bits: u32) -> u32 {
    (bits & MACH_MSGH_BITS_LOCAL_MASK) >> 8
}
pub const fn mach_msgh_bits_voucher(bits: u32) -> u32 {
    (bits & MACH_MSGH_BITS_VOUCHER_MASK) >> 16
}
/// The dispositions a header may use for its remote and local (reply) port.
pub const fn mach_msg_type_port_any_send(disposition: u32) -> bool {
    disposition >= MACH_MSG_TYPE_MOVE_SEND && disposition <= MACH_MSG_TYPE_MAKE_SEND_ONCE
}

// mach_msg options.
pub const MACH_MSG_OPTION_NONE: u32 = 0;
pub const MACH_SEND_MSG: u32 = 0x1;
pub const MACH_RCV_MSG: u32 = 0x2;
pub const MACH_RCV_LARGE: u32 = 0x4;
pub const MACH_RCV_LARGE_IDENTITY: u32 = 0x8;
pub const MACH_SEND_TIMEOUT: u32 = 0x10;
pub const MACH_SEND_OVERRIDE: u32 = 0x20;
pub const MACH_SEND_INTERRUPT: u32 = 0x40;
pub const MACH_SEND_NOTIFY: u32 = 0x80;
pub const MACH_RCV_TIMEOUT: u32 = 0x100;
/// Legacy name; XNU gave 0x200 to MACH_MSG_STRICT_REPLY.
pub const MACH_RCV_NOTIFY: u32 = 0;
pub const MACH_MSG_STRICT_REPLY: u32 = 0x200;
pub const MACH_RCV_INTERRUPT: u32 = 0x400;
pub const MACH_RCV_VOUCHER: u32 = 0x800;
pub const MACH_SEND_ALWAYS: u32 = 0x10000;
pub const MACH_SEND_TRAILER: u32 = 0x20000;
pub const MACH_SEND_NOIMPORTANCE: u32 = 0x40000;
pub const MACH_SEND_SYNC_OVERRIDE: u32 = 0x100000;
pub const MACH_SEND_PROPAGATE_QOS: u32 = 0x200000;
pub const MACH_RCV_SYNC_WAIT: u32 = 0x4000;
pub const MACH_RCV_SYNC_PEEK: u32 = 0x8000;

pub const MACH_MSG_TIMEOUT_NONE: u32 = 0;

// Trailers.
pub const MACH_MSG_TRAILER_FORMAT_0: u32 = 0;
pub const MACH_RCV_TRAILER_NULL: u32 = 0;
pub const MACH_RCV_TRAILER_SEQNO: u32 = 1;
pub const MACH_RCV_TRAILER_SENDER: u32 = 2;
pub const MACH_RCV_TRAILER_AUDIT: u32 = 3;
pub const MACH_RCV_TRAILER_CTX: u32 = 4;
pub const MACH_RCV_TRAILER_AV: u32 = 7;
pub const MACH_RCV_TRAILER_LABELS: u32 = 8;
pub const MACH_RCV_TRAILER_MASK: u32 = 0xf << 24;
pub const fn mach_rcv_trailer_type(x: u32) -> u32 {
    (x & 0xf) << 28
}
pub const fn mach_rcv_trailer_elements(x: u32) -> u32 {
    (x & 0xf) << 24
}
pub const fn get_rcv_elements(option: u32) -> u32 {
    (option >> 24) & 0xf
}
/// Bytes of trailer a receive with `option` asks for (XNU's
/// `REQUESTED_TRAILER_SIZE`).
pub const fn requested_trailer_size(option: u32) -> u32 {
    match get_rcv_elements(option) {
        MACH_RCV_TRAILER_NULL => 8,
        MACH_RCV_TRAILER_SEQNO => 12,
        MACH_RCV_TRAILER_SENDER => 20,
        MACH_RCV_TRAILER_AUDIT => 52,
        MACH_RCV_TRAILER_CTX => 60,
        MACH_RCV_TRAILER_AV => 68,
        _ => MAX_TRAILER_SIZE,
    }
}
pub const MAX_TRAILER_SIZE: u32 = 68;

// Descriptors.
pub const MACH_MSG_PORT_DESCRIPTOR: u32 = 0;
pub const MACH_MSG_OOL_DESCRIPTOR: u32 = 1;
pub const MACH_MSG_OOL_PORTS_DESCRIPTOR: u32 = 2;
pub const MACH_MSG_OOL_VOLATILE_DESCRIPTOR: u32 = 3;
pub const MACH_MSG_GUARDED_PORT_DESCRIPTOR: u32 = 4;
pub const MACH_MSG_PHYSICAL_COPY: u32 = 0;
pub const MACH_MSG_VIRTUAL_COPY: u32 = 1;
pub const MACH_MSG_ALLOCATE: u32 = 2;
pub const MACH_MSG_OVERWRITE: u32 = 3;

/// Sizes of the user structures (packed to 4 bytes, as XNU's).
pub const MACH_MSG_HEADER_SIZE: u32 = 24;
pub const MACH_MSG_BODY_SIZE: u32 = 4;
pub const MACH_MSG_PORT_DESCRIPTOR_SIZE: u32 = 12;
pub const MACH_MSG_OOL_DESCRIPTOR_SIZE: u32 = 16;

// mach_msg_return_t values.
pub const MACH_MSG_SUCCESS: MachMsgReturn = 0;
pub const MACH_MSG_MASK: MachMsgReturn = 0x3e00;
pub const MACH_MSG_IPC_SPACE: MachMsgReturn = 0x2000;
pub const MACH_MSG_VM_SPACE: MachMsgReturn = 0x1000;
pub const MACH_MSG_IPC_KERNEL: MachMsgReturn = 0x800;
pub const MACH_MSG_VM_KERNEL: MachMsgReturn = 0x400;
pub const MACH_SEND_IN_PROGRESS: MachMsgReturn = 0x1000_0001;
pub const MACH_SEND_INVALID_DATA: MachMsgReturn = 0x1000_0002;
pub const MACH_SEND_INVALID_DEST: MachMsgReturn = 0x1000_0003;
pub const MACH_SEND_TIMED_OUT: MachMsgReturn = 0x1000_0004;
pub const MACH_SEND_INVALID_VOUCHER: MachMsgReturn = 0x1000_0005;
pub const MACH_SEND_INTERRUPTED: MachMsgReturn = 0x1000_0007;
pub const MACH_SEND_MSG_TOO_SMALL: MachMsgReturn = 0x1000_0008;
pub const MACH_SEND_INVALID_REPLY: MachMsgReturn = 0x1000_0009;
pub const MACH_SEND_INVALID_RIGHT: MachMsgReturn = 0x1000_000a;
pub const MACH_SEND_INVALID_NOTIFY: MachMsgReturn = 0x1000_000b;
pub const MACH_SEND_INVALID_MEMORY: MachMsgReturn = 0x1000_000c;
pub const MACH_SEND_NO_BUFFER: MachMsgReturn = 0x1000_000d;
pub const MACH_SEND_TOO_LARGE: MachMsgReturn = 0x1000_000e;
pub const MACH_SEND_INVALID_TYPE: MachMsgReturn = 0x1000_000f;
pub const MACH_SEND_INVALID_HEADER: MachMsgReturn = 0x1000_0010;
pub const MACH_SEND_INVALID_TRAILER: MachMsgReturn = 0x1000_0011;
pub const MACH_SEND_INVALID_CONTEXT: MachMsgReturn = 0x1000_0012;
pub const MACH_SEND_INVALID_RT_OOL_SIZE: MachMsgReturn = 0x1000_0015;
pub const MACH_SEND_NO_GRANT_DEST: MachMsgReturn = 0x1000_0016;
pub const MACH_SEND_MSG_FILTERED: MachMsgReturn = 0x1000_0017;
pub const MACH_RCV_IN_PROGRESS: MachMsgReturn = 0x1000_4001;
pub const MACH_RCV_INVALID_NAME: MachMsgReturn = 0x1000_4002;
pub const MACH_RCV_TIMED_OUT: MachMsgReturn = 0x1000_4003;
pub const MACH_RCV_TOO_LARGE: MachMsgReturn = 0x1000_4004;
pub const MACH_RCV_INTERRUPTED: MachMsgReturn = 0x1000_4005;
pub const MACH_RCV_PORT_CHANGED: MachMsgReturn = 0x1000_4006;
pub const MACH_RCV_INVALID_NOTIFY: MachMsgReturn = 0x1000_4007;
pub const MACH_RCV_INVALID_DATA: MachMsgReturn = 0x1000_4008;
pub const MACH_RCV_PORT_DIED: MachMsgReturn = 0x1000_4009;
pub const MACH_RCV_IN_SET: MachMsgReturn = 0x1000_400a;
pub const MACH_RCV_HEADER_ERROR: MachMsgReturn = 0x1000_400b;
pub const MACH_RCV_BODY_ERROR: MachMsgReturn = 0x1000_400c;
pub const MACH_RCV_INVALID_TYPE: MachMsgReturn = 0x1000_400d;
pub const MACH_RCV_SCATTER_SMALL: MachMsgReturn = 0x1000_400e;
pub const MACH_RCV_INVALID_TRAILER: MachMsgReturn = 0x1000_400f;
pub const MACH_RCV_IN_PROGRESS_TIMED: MachMsgReturn = 0x1000_4011;
pub const MACH_RCV_INVALID_REPLY: MachMsgReturn = 0x1000_4012;

// Port attributes (mach_port_get_attributes / mach_port_set_attributes).
pub const MACH_PORT_LIMITS_INFO: u32 = 1;
pub const MACH_PORT_RECEIVE_STATUS: u32 = 2;
pub const MACH_PORT_DNREQUESTS_SIZE: u32 = 3;
pub const MACH_PORT_LIMITS_INFO_COUNT: u32 = 1;
pub const MACH_PORT_RECEIVE_STATUS_COUNT: u32 = 10;
pub const MACH_PORT_DNREQUESTS_SIZE_COUNT: u32 = 1;
/// The most `natural_t` words an attribute flavor has.
pub const MACH_PORT_INFO_MAX: u32 = 10;

// ---------------------------------------------------------------------------
// Notifications (XNU osfmk/mach/notify.h).

pub const MACH_NOTIFY_FIRST: i32 = 0o100;
pub const MACH_NOTIFY_PORT_DELETED: i32 = MACH_NOTIFY_FIRST + 0o1;
pub const MACH_NOTIFY_SEND_POSSIBLE: i32 = MACH_NOTIFY_FIRST + 0o2;
pub const MACH_NOTIFY_PORT_DESTROYED: i32 = MACH_NOTIFY_FIRST + 0o5;
pub const MACH_NOTIFY_NO_SENDERS: i32 = MACH_NOTIFY_FIRST + 0o6;
pub const MACH_NOTIFY_SEND_ONCE: i32 = MACH_NOTIFY_FIRST + 0o7;
pub const MACH_NOTIFY_DEAD_NAME: i32 = MACH_NOTIFY_FIRST + 0o10;
pub const MACH_NOTIFY_LAST: i32 = MACH_NOTIFY_FIRST + 0o15;

/// The NDR record every MIG-built notification carries after its header
/// (`NDR_record`: little-endian, ASCII, IEEE floats, on x86_64 and arm64).
pub const NDR_RECORD: [u8; 8] = [0, 0, 0, 0, 1, 0, 0, 0];

// ---------------------------------------------------------------------------
// Limits of this implementation for messages.

/// The largest message (header and inline body, without trailer) one send
/// may carry: MACH_SEND_TOO_LARGE above it.
pub const MACH_MSG_SIZE_MAX: u32 = 1 << 20;
/// The largest out-of-line region one descriptor may carry:
/// MACH_SEND_TOO_LARGE above it.
pub const MACH_MSG_OOL_SIZE_MAX: u32 = 1 << 28;
/// The most out-of-line bytes one message may carry in total.
pub const MACH_MSG_OOL_TOTAL_MAX: u64 = 1 << 28;
/// The most port rights one message may carry in all its descriptors and
/// out-of-line port arrays: MACH_SEND_TOO_LARGE above it.
pub const MACH_MSG_RIGHTS_MAX: u32 = 1 << 16;

// ---------------------------------------------------------------------------
// Limits of this implementation.

/// The most names one IPC space can hold, its task-self name included.
/// Allocating beyond it gives KERN_NO_SPACE.
pub const MACH_SPACE_MAX_NAMES: u32 = 1 << 18;

/// The name under which every space holds a send right to its own task port
/// (what `mach_task_self()` returns): index 1, generation 3, as on macOS.
pub const MACH_TASK_SELF_NAME: MachPortName = 0x103;

/// The version of this ABI, answered by `MACH_IOC_API_VERSION`. It grows
/// when a command is added; existing commands never change.
pub const MACH_API_VERSION: u32 = 4;

// ---------------------------------------------------------------------------
// Ioctl numbers, encoded as asm-generic's `_IOWR('M', nr, T)` (x86_64, arm64).

pub const MACH_IOC_MAGIC: u32 = b'M' as u32;

const IOC_NRBITS: u32 = 8;
const IOC_TYPEBITS: u32 = 8;
const IOC_SIZEBITS: u32 = 14;
const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = IOC_NRSHIFT + IOC_NRBITS;
const IOC_SIZESHIFT: u32 = IOC_TYPESHIFT + IOC_TYPEBITS;
const IOC_DIRSHIFT: u32 = IOC_SIZESHIFT + IOC_SIZEBITS;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// `_IOWR(MACH_IOC_MAGIC, nr, T)`.
pub const fn mach_iowr<T>(nr: u32) -> u32 {
    ((IOC_READ | IOC_WRITE) << IOC_DIRSHIFT)
        | ((size_of::<T>() as u32) << IOC_SIZESHIFT)
        | (MACH_IOC_MAGIC << IOC_TYPESHIFT)
        | (nr << IOC_NRSHIFT)
}

/// `MACH_IOC_API_VERSION`: reports `MACH_API_VERSION`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApiVersionArgs {
    /// Out: the module's ABI version.
    pub version: u32,
    pub reserved: u32,
}

/// `MACH_IOC_PORT_ALLOCATE` (`mach_port_allocate`: `name` is out) and
/// `MACH_IOC_PORT_ALLOCATE_NAME` (`mach_port_allocate_name`: `name` is in).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortAllocateArgs {
    pub task: MachPortName,
    pub right: MachPortRight,
    pub name: MachPortName,
    pub kr: KernReturnT,
}

/// `MACH_IOC_REPLY_PORT` (`mach_reply_port`): `name` is out, MACH_PORT_NULL
/// when the port could not be created.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplyPortArgs {
    pub name: MachPortName,
    pub reserved: u32,
}

/// `MACH_IOC_PORT_TYPE` (`mach_port_type`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortTypeArgs {
    pub task: MachPortName,
    pub name: MachPortName,
    /// Out.
    pub ptype: MachPortType,
    pub kr: KernReturnT,
}

/// `MACH_IOC_PORT_NAMES` (`mach_port_names`).
///
/// `names` and `types` are user addresses of two arrays of `capacity`
/// `u32`s (either may be 0 to ask only for the count). The module always
/// sets `count` to the number of names in the space; it writes the arrays
/// only when `count <= capacity`. The library retries with larger arrays
/// when names were added between its calls.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortNamesArgs {
    pub task: MachPortName,
    pub capacity: u32,
    pub names: u64,
    pub types: u64,
    /// Out.
    pub count: u32,
    pub kr: KernReturnT,
}

/// `MACH_IOC_PORT_GET_REFS` (`mach_port_get_refs`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortGetRefsArgs {
    pub task: MachPortName,
    pub name: MachPortName,
    pub right: MachPortRight,
    /// Out.
    pub refs: MachPortUrefs,
    pub kr: KernReturnT,
    pub reserved: u32,
}

/// `MACH_IOC_PORT_MOD_REFS` (`mach_port_mod_refs`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortModRefsArgs {
    pub task: MachPortName,
    pub name: MachPortName,
    pub right: MachPortRight,
    pub delta: MachPortDelta,
    pub kr: KernReturnT,
    pub reserved: u32,
}

/// `MACH_IOC_PORT_DEALLOCATE` (`mach_port_deallocate`) and
/// `MACH_IOC_PORT_DESTROY` (`mach_port_destroy`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortNameArgs {
    pub task: MachPortName,
    pub name: MachPortName,
    pub kr: KernReturnT,
    pub reserved: u32,
}

/// `MACH_IOC_PORT_INSERT_RIGHT` (`mach_port_insert_right`): the caller's
/// right `poly`, taken as `poly_poly` says (a `MACH_MSG_TYPE_*`
/// disposition), goes into `task`'s space under `name`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortInsertRightArgs {
    pub task: MachPortName,
    pub name: MachPortName,
    pub poly: MachPortName,
    pub poly_poly: u32,
    pub kr: KernReturnT,
    pub reserved: u32,
}

/// `MACH_IOC_PORT_EXTRACT_RIGHT` (`mach_port_extract_right`): the right
/// `name` in `task`'s space, taken as `msgt_name` says, comes into the
/// caller's space; `poly` is its name there (MACH_PORT_DEAD for a dead
/// right) and `poly_poly` its type (`MACH_MSG_TYPE_PORT_*`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortExtractRightArgs {
    pub task: MachPortName,
    pub name: MachPortName,
    pub msgt_name: u32,
    /// Out.
    pub poly: MachPortName,
    /// Out.
    pub poly_poly: u32,
    pub kr: KernReturnT,
}

/// `MACH_IOC_TASK_FOR_FD` (the extension `task_for_fd`): a send right to the
/// task port of the space behind another open `/dev/mach` descriptor `fd` of
/// the caller, under `task` in the caller's space. A descriptor that is not
/// open gives EBADF; one that is not `/dev/mach` gives KERN_INVALID_ARGUMENT.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskForFdArgs {
    pub fd: i32,
    /// Out.
    pub task: MachPortName,
    pub kr: KernReturnT,
    pub reserved: u32,
}

/// `MACH_IOC_STATS`: the module's live objects, across all spaces (for
/// tests that check nothing leaks). Every field is out; `reserved` must be
/// zero on the way in.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsArgs {
    /// Open IPC spaces (including ones closed but still referenced).
    pub spaces: u64,
    /// Ports, task ports included, that have not been freed.
    pub ports: u64,
    pub port_sets: u64,
    /// Names in all spaces.
    pub names: u64,
    /// Messages queued on ports, and the bytes they hold (inline and
    /// out-of-line).
    pub messages: u64,
    pub message_bytes: u64,
    pub reserved: [u64; 2],
}

/// `MACH_IOC_MSG`: `mach_msg`. `msg` is the address of the message buffer;
/// the other fields are `mach_msg`'s arguments. `mr` is out. When a send
/// has completed and the receive that follows is interrupted, `option` is
/// written back without `MACH_SEND_MSG`, so that a restarted call only
/// receives.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MsgArgs {
    pub msg: u64,
    pub option: u32,
    pub send_size: u32,
    pub rcv_size: u32,
    pub rcv_name: MachPortName,
    pub timeout: u32,
    pub notify: MachPortName,
    pub mr: MachMsgReturn,
    pub reserved: u32,
}

/// `MACH_IOC_PORT_GET_ATTRIBUTES` / `MACH_IOC_PORT_SET_ATTRIBUTES`: `count`
/// is the number of `u32` words of `info` in use (in: the caller's capacity
/// for get, the words given for set; out: the words written for get).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortAttributesArgs {
    pub task: MachPortName,
    pub name: MachPortName,
    pub flavor: u32,
    pub count: u32,
    pub info: [u32; 10],
    pub kr: KernReturnT,
    pub reserved: u32,
}

/// `MACH_IOC_PORT_MOVE_MEMBER` (`member`, `after`),
/// `MACH_IOC_PORT_INSERT_MEMBER` and `MACH_IOC_PORT_EXTRACT_MEMBER`
/// (`member`, `set` in `after`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortMemberArgs {
    pub task: MachPortName,
    pub member: MachPortName,
    pub after: MachPortName,
    pub kr: KernReturnT,
}

/// `MACH_IOC_PORT_GET_SET_STATUS`: the member names of the set `name`,
/// written to `members` if there are at most `capacity`; `count` is always
/// the number of members.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortSetStatusArgs {
    pub task: MachPortName,
    pub name: MachPortName,
    pub members: u64,
    pub capacity: u32,
    pub count: u32,
    pub kr: KernReturnT,
    pub reserved: u32,
}

/// `MACH_IOC_PORT_REQUEST_NOTIFICATION`: `previous` is out.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestNotificationArgs {
    pub task: MachPortName,
    pub name: MachPortName,
    pub variant: i32,
    pub sync: u32,
    pub notify: MachPortName,
    pub notify_type: u32,
    pub previous: MachPortName,
    pub kr: KernReturnT,
}

/// `MACH_IOC_PORT_SET_BACKUP`: `previous` is out.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortSetBackupArgs {
    pub task: MachPortName,
    pub primary: MachPortName,
    pub backup: MachPortName,
    pub previous: MachPortName,
    pub kr: KernReturnT,
    pub reserved: u32,
}

pub const MACH_IOC_API_VERSION: u32 = mach_iowr::<ApiVersionArgs>(0x01);
pub const MACH_IOC_REPLY_PORT: u32 = mach_iowr::<ReplyPortArgs>(0x02);
pub const MACH_IOC_PORT_ALLOCATE: u32 = mach_iowr::<PortAllocateArgs>(0x10);
pub const MACH_IOC_PORT_ALLOCATE_NAME: u32 = mach_iowr::<PortAllocateArgs>(0x11);
pub const MACH_IOC_PORT_TYPE: u32 = mach_iowr::<PortTypeArgs>(0x12);
pub const MACH_IOC_PORT_NAMES: u32 = mach_iowr::<PortNamesArgs>(0x13);
pub const MACH_IOC_PORT_GET_REFS: u32 = mach_iowr::<PortGetRefsArgs>(0x14);
pub const MACH_IOC_PORT_MOD_REFS: u32 = mach_iowr::<PortModRefsArgs>(0x15);
pub const MACH_IOC_PORT_DEALLOCATE: u32 = mach_iowr::<PortNameArgs>(0x16);
pub const MACH_IOC_PORT_DESTROY: u32 = mach_iowr::<PortNameArgs>(0x17);
pub const MACH_IOC_PORT_INSERT_RIGHT: u32 = mach_iowr::<PortInsertRightArgs>(0x18);
pub const MACH_IOC_PORT_EXTRACT_RIGHT: u32 = mach_iowr::<PortExtractRightArgs>(0x19);
pub const MACH_IOC_TASK_FOR_FD: u32 = mach_iowr::<TaskForFdArgs>(0x1a);
pub const MACH_IOC_STATS: u32 = mach_iowr::<StatsArgs>(0x03);
pub const MACH_IOC_PORT_GET_ATTRIBUTES: u32 = mach_iowr::<PortAttributesArgs>(0x1b);
pub const MACH_IOC_PORT_SET_ATTRIBUTES: u32 = mach_iowr::<PortAttributesArgs>(0x1c);
pub const MACH_IOC_MSG: u32 = mach_iowr::<MsgArgs>(0x20);
pub const MACH_IOC_PORT_MOVE_MEMBER: u32 = mach_iowr::<PortMemberArgs>(0x1d);
pub const MACH_IOC_PORT_INSERT_MEMBER: u32 = mach_iowr::<PortMemberArgs>(0x1e);
pub const MACH_IOC_PORT_EXTRACT_MEMBER: u32 = mach_iowr::<PortMemberArgs>(0x1f);
pub const MACH_IOC_PORT_GET_SET_STATUS: u32 = mach_iowr::<PortSetStatusArgs>(0x21);
pub const MACH_IOC_PORT_REQUEST_NOTIFICATION: u32 = mach_iowr::<RequestNotificationArgs>(0x22);
pub const MACH_IOC_PORT_SET_BACKUP: u32 = mach_iowr::<PortSetBackupArgs>(0x23);

// ---------------------------------------------------------------------------
// Layout checks: the same numbers are asserted in uapi/include/mach/mach_ioctl.h.

const _: () = {
    assert!(size_of::<ApiVersionArgs>() == 8);
    assert!(size_of::<ReplyPortArgs>() == 8);
    assert!(size_of::<PortAllocateArgs>() == 16);
    assert!(offset_of!(PortAllocateArgs, name) == 8);
    assert!(offset_of!(PortAllocateArgs, kr) == 12);
    assert!(size_of::<PortTypeArgs>() == 16);
    assert!(offset_of!(PortTypeArgs, ptype) == 8);
    assert!(size_of::<PortNamesArgs>() == 32);
    assert!(offset_of!(PortNamesArgs, names) == 8);
    assert!(offset_of!(PortNamesArgs, types) == 16);
    assert!(offset_of!(PortNamesArgs, count) == 24);
    assert!(offset_of!(PortNamesArgs, kr) == 28);
    assert!(size_of::<PortGetRefsArgs>() == 24);
    assert!(offset_of!(PortGetRefsArgs, refs) == 12);
    assert!(offset_of!(PortGetRefsArgs, kr) == 16);
    assert!(size_of::<PortModRefsArgs>() == 24);
    assert!(offset_of!(PortModRefsArgs, delta) == 12);
    assert!(offset_of!(PortModRefsArgs, kr) == 16);
    assert!(size_of::<PortNameArgs>() == 16);
    assert!(offset_of!(PortNameArgs, kr) == 8);
    assert!(size_of::<PortInsertRightArgs>() == 24);
    assert!(offset_of!(PortInsertRightArgs, poly_poly) == 12);
    assert!(offset_of!(PortInsertRightArgs, kr) == 16);
    assert!(size_of::<PortExtractRightArgs>() == 24);
    assert!(offset_of!(PortExtractRightArgs, poly) == 12);
    assert!(offset_of!(PortExtractRightArgs, poly_poly) == 16);
    assert!(offset_of!(PortExtractRightArgs, kr) == 20);
    assert!(size_of::<TaskForFdArgs>() == 16);
    assert!(offset_of!(TaskForFdArgs, task) == 4);
    assert!(offset_of!(TaskForFdArgs, kr) == 8);
    assert!(size_of::<StatsArgs>() == 64);
    assert!(offset_of!(StatsArgs, names) == 24);
    assert!(offset_of!(StatsArgs, messages) == 32);
    assert!(offset_of!(StatsArgs, message_bytes) == 40);
    assert!(size_of::<MsgArgs>() == 40);
    assert!(offset_of!(MsgArgs, option) == 8);
    assert!(offset_of!(MsgArgs, rcv_name) == 20);
    assert!(offset_of!(MsgArgs, notify) == 28);
    assert!(offset_of!(MsgArgs, mr) == 32);
    assert!(size_of::<PortAttributesArgs>() == 64);
    assert!(offset_of!(PortAttributesArgs, info) == 16);
    assert!(offset_of!(PortAttributesArgs, kr) == 56);
    assert!(size_of::<PortMemberArgs>() == 16);
    assert!(size_of::<PortSetStatusArgs>() == 32);
    assert!(offset_of!(PortSetStatusArgs, members) == 8);
    assert!(offset_of!(PortSetStatusArgs, count) == 20);
    assert!(size_of::<RequestNotificationArgs>() == 32);
    assert!(offset_of!(RequestNotificationArgs, previous) == 24);
    assert!(size_of::<PortSetBackupArgs>() == 24);
    assert!(offset_of!(PortSetBackupArgs, previous) == 12);
    assert!(MACH_IOC_API_VERSION == 0xc008_4d01);
    assert!(MACH_IOC_PORT_NAMES == 0xc020_4d13);
};
