//! Mach IPC on Linux, from Rust.
//!
//! A [`Space`] is one open `/dev/mach` file: one Mach IPC space, the table of
//! port names a task holds. Every call is one ioctl on it and returns what the
//! Mach call of the same name returns: `Ok` for `KERN_SUCCESS`,
//! [`Error::Kern`] with the exact `kern_return_t` otherwise, and
//! [`Error::Os`] when the ioctl itself failed (a bad pointer, a closed module).
//!
//! Like Mach's calls, each takes the task whose space it acts on, as a name in
//! the caller's space for a send right to a task port; [`Space::task_self`]
//! is the caller's own.
//!
//! ```no_run
//! use mach::{PortRight, PortType, Space};
//!
//! let space = Space::open()?;
//! let task = space.task_self();
//! let port = space.allocate(task, PortRight::RECEIVE)?;
//! assert_eq!(space.port_type(task, port)?, PortType::RECEIVE);
//! space.mod_refs(task, port, PortRight::RECEIVE, -1)?;
//! # Ok::<(), mach::Error>(())
//! ```
//!
//! Rights move between spaces with [`Space::insert_right`] and
//! [`Space::extract_right`]; another space is reached through its task port,
//! which [`Space::task_for_fd`] gives for an open `/dev/mach` descriptor:
//!
//! ```no_run
//! use mach::{MsgTypeName, PortRight, PortType, Space};
//! use std::os::fd::AsFd;
//!
//! let server = Space::open()?;
//! let client = Space::open()?;
//! let me = client.task_self();
//! let server_task = client.task_for_fd(server.as_fd())?;
//!
//! let port = server.allocate(server.task_self(), PortRight::RECEIVE)?;
//! let (send, kind) = client.extract_right(server_task, port, MsgTypeName::MAKE_SEND)?;
//! assert_eq!(kind, MsgTypeName::PORT_SEND);
//! server.destroy(server.task_self(), port)?;
//! assert_eq!(client.port_type(me, send)?, PortType::DEAD_NAME);
//! # Ok::<(), mach::Error>(())
//! ```
//!
//! # Messages
//!
//! `mach_msg` comes in three layers:
//!
//! - [`Message`], [`Space::send`], [`Space::receive`] and
//!   [`Space::send_receive`]: messages as values. A message has an id, a
//!   destination and a reply port with their dispositions, inline bytes and
//!   descriptors (port rights, out-of-line bytes, out-of-line port arrays);
//!   a [`Received`] one has the names the rights arrived under, the
//!   out-of-line bytes (copied, their mapping freed, unless asked to keep
//!   it) and the trailer (sequence number, sender's uid/gid, audit token
//!   with its pid). Failures are [`Error::Msg`] with the exact
//!   [`MsgReturn`].
//! - [`Space::mach_msg`] on a [`MsgBuffer`], an aligned byte buffer with
//!   field accessors, for any message layout and option.
//! - [`Space::mach_msg_raw`] on a raw pointer (unsafe).
//!
//! All of them apply macOS's signal rule: a send or receive that a signal
//! handler interrupts is restarted (without repeating a completed send)
//! unless `MACH_SEND_INTERRUPT` / `MACH_RCV_INTERRUPT` asks for
//! `MACH_SEND_INTERRUPTED` / `MACH_RCV_INTERRUPTED` (the `interrupt`
//! fields of [`SendOptions`] and [`RecvOptions`]).
//!
//! ```no_run
//! use mach::{Message, MsgTypeName, PortRight, RecvOptions, SendOptions, Space};
//!
//! let space = Space::open()?;
//! let task = space.task_self();
//! let port = space.allocate(task, PortRight::RECEIVE)?;
//! let msg = Message::new(port, MsgTypeName::MAKE_SEND)
//!     .id(100)
//!     .data(&b"ping"[..]);
//! space.send(&msg, SendOptions::default())?;
//! let got = space.receive(port, RecvOptions { timeout: Some(1000), ..Default::default() })?;
//! assert_eq!((got.id, &got.data[..]), (100, &b"ping"[..]));
//! println!("from pid {}", got.trailer.audit.unwrap().pid());
//! # Ok::<(), mach::Error>(())
//! ```
//!
//! Queue limits and a receive right's state: [`Space::qlimit`],
//! [`Space::set_qlimit`], [`Space::receive_status`] (and the raw
//! [`Space::get_attributes`], [`Space::set_attributes`]).
//!
//! # Port sets and notifications
//!
//! A port set gathers receive rights so that one receive waits on all of
//! them: [`Space::insert_member`], [`Space::extract_member`],
//! [`Space::move_member`], [`Space::get_set_status`].
//! [`Space::request_notification`] asks for a message when a port dies
//! (`MACH_NOTIFY_DEAD_NAME`), loses its last sender
//! (`MACH_NOTIFY_NO_SENDERS`) or would be destroyed
//! (`MACH_NOTIFY_PORT_DESTROYED`); [`Space::port_set_backup`] names a port
//! that takes over a receive right that would be destroyed.
//! [`Notification::from_received`] decodes what arrives.
//!
//! ```no_run
//! use mach::{Message, MsgTypeName, Notification, PortRight, RecvOptions, SendOptions, Space,
//!            MACH_NOTIFY_NO_SENDERS};
//!
//! let space = Space::open()?;
//! let task = space.task_self();
//! let (a, b) = (space.allocate(task, PortRight::RECEIVE)?, space.allocate(task, PortRight::RECEIVE)?);
//! let set = space.allocate(task, PortRight::PORT_SET)?;
//! space.insert_member(task, a, set)?;
//! space.insert_member(task, b, set)?;
//! assert_eq!(space.get_set_status(task, set)?, vec![a.min(b), a.max(b)]);
//!
//! // A message to b is received through the set; msgh_local_port says b.
//! space.send(&Message::new(b, MsgTypeName::MAKE_SEND_ONCE).id(7), SendOptions::default())?;
//! let got = space.receive(set, RecvOptions { timeout: Some(1000), ..Default::default() })?;
//! assert_eq!((got.local, got.id), (b, 7));
//!
//! // Ask to be told, on `a` (through the set), when `b` has no senders:
//! // with none now and sync 0 the notification comes at once.
//! space.request_notification(task, b, MACH_NOTIFY_NO_SENDERS, 0, a, MsgTypeName::MAKE_SEND_ONCE)?;
//! let msg = space.receive(set, RecvOptions::default())?;
//! assert_eq!(Notification::from_received(&msg), Some(Notification::NoSenders { mscount: 0 }));
//! # Ok::<(), mach::Error>(())
//! ```

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

pub use mach_uapi as sys;

mod message;
mod msg;
mod notify;

pub use message::{
    AuditToken, Descriptor, Message, OolData, OolMapping, Received, ReceivedDescriptor,
    RecvOptions, SecurityToken, SendOptions, Trailer, TrailerElements,
};
pub use msg::{MsgBuffer, MsgHeader, MsgReturn, LIBRARY_OPTIONS};
pub use notify::Notification;
pub use sys::{
    MACH_NOTIFY_DEAD_NAME, MACH_NOTIFY_FIRST, MACH_NOTIFY_LAST, MACH_NOTIFY_NO_SENDERS,
    MACH_NOTIFY_PORT_DELETED, MACH_NOTIFY_PORT_DESTROYED, MACH_NOTIFY_SEND_ONCE,
    MACH_NOTIFY_SEND_POSSIBLE,
};

/// The path of the device the module registers.
pub const DEVICE_PATH: &str = "/dev/mach";

/// A name in an IPC space (`mach_port_name_t`). `repr(transparent)`: a
/// `[PortName]` is an array of `u32` names.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct PortName(pub u32);

impl PortName {
    pub const NULL: PortName = PortName(sys::MACH_PORT_NULL);
    pub const DEAD: PortName = PortName(sys::MACH_PORT_DEAD);

    /// True unless the name is `NULL` or `DEAD`.
    pub fn is_valid(self) -> bool {
        sys::mach_port_valid(self.0)
    }
}

impl fmt::Debug for PortName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::Display for PortName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// A kind of port right (`mach_port_right_t`). A newtype rather than an enum
/// so that any value can be passed, as C callers can.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRight(pub u32);

impl PortRight {
    pub const SEND: PortRight = PortRight(sys::MACH_PORT_RIGHT_SEND);
    pub const RECEIVE: PortRight = PortRight(sys::MACH_PORT_RIGHT_RECEIVE);
    pub const SEND_ONCE: PortRight = PortRight(sys::MACH_PORT_RIGHT_SEND_ONCE);
    pub const PORT_SET: PortRight = PortRight(sys::MACH_PORT_RIGHT_PORT_SET);
    pub const DEAD_NAME: PortRight = PortRight(sys::MACH_PORT_RIGHT_DEAD_NAME);
}

impl fmt::Debug for PortRight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            sys::MACH_PORT_RIGHT_SEND => "SEND",
            sys::MACH_PORT_RIGHT_RECEIVE => "RECEIVE",
            sys::MACH_PORT_RIGHT_SEND_ONCE => "SEND_ONCE",
            sys::MACH_PORT_RIGHT_PORT_SET => "PORT_SET",
            sys::MACH_PORT_RIGHT_DEAD_NAME => "DEAD_NAME",
            other => return write!(f, "PortRight({other})"),
        };
        f.write_str(name)
    }
}

/// A message type name (`mach_msg_type_name_t`): how a right is taken from
/// its holder (a disposition: `MOVE_RECEIVE` .. `MAKE_SEND_ONCE`) or what
/// arrives (`PORT_RECEIVE`, `PORT_SEND`, `PORT_SEND_ONCE`). A newtype so that
/// any value can be passed, as C callers can.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MsgTypeName(pub u32);

impl MsgTypeName {
    pub const MOVE_RECEIVE: MsgTypeName = MsgTypeName(sys::MACH_MSG_TYPE_MOVE_RECEIVE);
    pub const MOVE_SEND: MsgTypeName = MsgTypeName(sys::MACH_MSG_TYPE_MOVE_SEND);
    pub const MOVE_SEND_ONCE: MsgTypeName = MsgTypeName(sys::MACH_MSG_TYPE_MOVE_SEND_ONCE);
    pub const COPY_SEND: MsgTypeName = MsgTypeName(sys::MACH_MSG_TYPE_COPY_SEND);
    pub const MAKE_SEND: MsgTypeName = MsgTypeName(sys::MACH_MSG_TYPE_MAKE_SEND);
    pub const MAKE_SEND_ONCE: MsgTypeName = MsgTypeName(sys::MACH_MSG_TYPE_MAKE_SEND_ONCE);
    pub const PORT_NONE: MsgTypeName = MsgTypeName(sys::MACH_MSG_TYPE_PORT_NONE);
    pub const PORT_RECEIVE: MsgTypeName = MsgTypeName(sys::MACH_MSG_TYPE_PORT_RECEIVE);
    pub const PORT_SEND: MsgTypeName = MsgTypeName(sys::MACH_MSG_TYPE_PORT_SEND);
    pub const PORT_SEND_ONCE: MsgTypeName = MsgTypeName(sys::MACH_MSG_TYPE_PORT_SEND_ONCE);

    /// The six dispositions a caller can name.
    pub const DISPOSITIONS: [MsgTypeName; 6] = [
        Self::MOVE_RECEIVE,
        Self::MOVE_SEND,
        Self::MOVE_SEND_ONCE,
        Self::COPY_SEND,
        Self::MAKE_SEND,
        Self::MAKE_SEND_ONCE,
    ];
}

impl fmt::Debug for MsgTypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            sys::MACH_MSG_TYPE_MOVE_RECEIVE => "MOVE_RECEIVE",
            sys::MACH_MSG_TYPE_MOVE_SEND => "MOVE_SEND",
            sys::MACH_MSG_TYPE_MOVE_SEND_ONCE => "MOVE_SEND_ONCE",
            sys::MACH_MSG_TYPE_COPY_SEND => "COPY_SEND",
            sys::MACH_MSG_TYPE_MAKE_SEND => "MAKE_SEND",
            sys::MACH_MSG_TYPE_MAKE_SEND_ONCE => "MAKE_SEND_ONCE",
            sys::MACH_MSG_TYPE_COPY_RECEIVE => "COPY_RECEIVE",
            sys::MACH_MSG_TYPE_PORT_NONE => "PORT_NONE",
            sys::MACH_MSG_TYPE_PORT_NAME => "PORT_NAME",
            other => return write!(f, "MsgTypeName({other})"),
        };
        f.write_str(name)
    }
}

/// The rights a name denotes (`mach_port_type_t`), a set of bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PortType(pub u32);

impl PortType {
    pub const NONE: PortType = PortType(sys::MACH_PORT_TYPE_NONE);
    pub const SEND: PortType = PortType(sys::MACH_PORT_TYPE_SEND);
    pub const RECEIVE: PortType = PortType(sys::MACH_PORT_TYPE_RECEIVE);
    pub const SEND_ONCE: PortType = PortType(sys::MACH_PORT_TYPE_SEND_ONCE);
    pub const PORT_SET: PortType = PortType(sys::MACH_PORT_TYPE_PORT_SET);
    pub const DEAD_NAME: PortType = PortType(sys::MACH_PORT_TYPE_DEAD_NAME);
    pub const SEND_RECEIVE: PortType = PortType(sys::MACH_PORT_TYPE_SEND_RECEIVE);
    pub const DNREQUEST: PortType = PortType(sys::MACH_PORT_TYPE_DNREQUEST);

    /// True if every bit of `other` is set in `self`.
    pub fn contains(self, other: PortType) -> bool {
        self.0 & other.0 == other.0
    }
}

impl fmt::Debug for PortType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const BITS: [(u32, &str); 6] = [
            (sys::MACH_PORT_TYPE_SEND, "SEND"),
            (sys::MACH_PORT_TYPE_RECEIVE, "RECEIVE"),
            (sys::MACH_PORT_TYPE_SEND_ONCE, "SEND_ONCE"),
            (sys::MACH_PORT_TYPE_PORT_SET, "PORT_SET"),
            (sys::MACH_PORT_TYPE_DEAD_NAME, "DEAD_NAME"),
            (sys::MACH_PORT_TYPE_DNREQUEST, "DNREQUEST"),
        ];
        let mut rest = self.0;
        let mut first = true;
        for (bit, name) in BITS {
            if rest & bit != 0 {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                rest &= !bit;
                first = false;
            }
        }
        if rest != 0 || first {
            if !first {
                f.write_str("|")?;
            }
            write!(f, "{rest:#x}")?;
        }
        Ok(())
    }
}

impl fmt::Display for PortType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A Mach result other than `KERN_SUCCESS` (`kern_return_t`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KernReturn(pub i32);

macro_rules! kern_returns {
    ($($name:ident),* $(,)?) => {
        impl KernReturn {
            $(pub const $name: KernReturn = KernReturn(sys::$name);)*

            /// The constant's name, e.g. `"KERN_INVALID_NAME"`.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $(sys::$name => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

kern_returns!(
    KERN_SUCCESS,
    KERN_INVALID_ADDRESS,
    KERN_PROTECTION_FAILURE,
    KERN_NO_SPACE,
    KERN_INVALID_ARGUMENT,
    KERN_FAILURE,
    KERN_RESOURCE_SHORTAGE,
    KERN_NOT_RECEIVER,
    KERN_NO_ACCESS,
    KERN_MEMORY_FAILURE,
    KERN_MEMORY_ERROR,
    KERN_ALREADY_IN_SET,
    KERN_NOT_IN_SET,
    KERN_NAME_EXISTS,
    KERN_ABORTED,
    KERN_INVALID_NAME,
    KERN_INVALID_TASK,
    KERN_INVALID_RIGHT,
    KERN_INVALID_VALUE,
    KERN_UREFS_OVERFLOW,
    KERN_INVALID_CAPABILITY,
    KERN_RIGHT_EXISTS,
    KERN_INVALID_HOST,
    KERN_MEMORY_PRESENT,
    KERN_NOT_SUPPORTED,
    KERN_TERMINATED,
    KERN_OPERATION_TIMED_OUT,
    KERN_DENIED,
);

impl fmt::Debug for KernReturn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "kern_return_t({:#x})", self.0),
        }
    }
}

impl fmt::Display for KernReturn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for KernReturn {}

/// Why a call failed.
#[derive(Debug)]
pub enum Error {
    /// The module answered with this Mach result.
    Kern(KernReturn),
    /// A message call ([`Space::send`], [`Space::receive`],
    /// [`Space::send_receive`]) answered with this `mach_msg_return_t`.
    Msg(MsgReturn),
    /// The ioctl itself failed (EFAULT, EINVAL, ENOTTY, ...).
    Os(io::Error),
}

impl Error {
    /// The Mach result, if this is one.
    pub fn kern(&self) -> Option<KernReturn> {
        match self {
            Error::Kern(kr) => Some(*kr),
            _ => None,
        }
    }

    /// The `mach_msg_return_t`, if this is one.
    pub fn msg(&self) -> Option<MsgReturn> {
        match self {
            Error::Msg(mr) => Some(*mr),
            _ => None,
        }
    }

    /// The errno, if the ioctl itself failed.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Os(e) => e.raw_os_error(),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Kern(kr) => write!(f, "{kr}"),
            Error::Msg(mr) => write!(f, "{mr}"),
            Error::Os(e) => write!(f, "/dev/mach: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Os(e)
    }
}

impl From<KernReturn> for Error {
    fn from(kr: KernReturn) -> Self {
        Error::Kern(kr)
    }
}

impl From<MsgReturn> for Error {
    fn from(mr: MsgReturn) -> Self {
        Error::Msg(mr)
    }
}

impl PartialEq<KernReturn> for Error {
    fn eq(&self, other: &KernReturn) -> bool {
        self.kern() == Some(*other)
    }
}

impl PartialEq<MsgReturn> for Error {
    fn eq(&self, other: &MsgReturn) -> bool {
        self.msg() == Some(*other)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

fn check(kr: i32) -> Result<()> {
    if kr == sys::KERN_SUCCESS {
        Ok(())
    } else {
        Err(Error::Kern(KernReturn(kr)))
    }
}

/// Issues one ioctl whose argument is a `T` the module reads and rewrites.
///
/// # Safety
///
/// `cmd` must be a `_IOWR` command whose size is `size_of::<T>()` and whose
/// argument struct is `T`; any addresses inside `arg` must be valid for what
/// that command does with them.
pub unsafe fn ioctl_raw<T>(fd: BorrowedFd<'_>, cmd: u32, arg: &mut T) -> io::Result<()> {
    // SAFETY: The caller guarantees that `cmd` takes a `T`; `arg` is a valid
    // exclusive reference for the duration of the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), cmd as libc::c_ulong, arg as *mut T) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Live objects in the module, across all spaces ([`Space::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Spaces not yet freed (an open `/dev/mach` file each).
    pub spaces: u64,
    /// Ports not yet freed, task ports included.
    pub ports: u64,
    pub port_sets: u64,
    /// Names in all spaces.
    pub names: u64,
    /// Messages queued on all ports.
    pub messages: u64,
    /// The bytes those messages hold, inline and out-of-line.
    pub message_bytes: u64,
}

/// The state of a receive right (`mach_port_status_t`,
/// [`Space::receive_status`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStatus {
    /// The port set holding the port (0: none).
    pub pset: u32,
    /// The sequence number the next message dequeued gets.
    pub seqno: u32,
    /// The make-send count.
    pub mscount: u32,
    /// The queue limit.
    pub qlimit: u32,
    /// Messages in the queue.
    pub msgcount: u32,
    /// Send-once rights to the port.
    pub sorights: u32,
    /// Whether any send right exists.
    pub srights: bool,
    /// Whether a port-destroyed notification is requested or a backup port
    /// set.
    pub pdrequest: bool,
    /// Whether a no-senders notification is requested.
    pub nsrequest: bool,
    pub flags: u32,
}

/// One Mach IPC space: an open `/dev/mach` file. Closing it (dropping the
/// value, or the process exiting) destroys every right it holds.
#[derive(Debug)]
pub struct Space {
    fd: OwnedFd,
}

impl Space {
    /// Opens `/dev/mach`, creating a new IPC space.
    pub fn open() -> io::Result<Space> {
        let file: File = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(DEVICE_PATH)?;
        Ok(Space { fd: file.into() })
    }

    /// Wraps an already open `/dev/mach` descriptor.
    pub fn from_fd(fd: OwnedFd) -> Space {
        Space { fd }
    }

    fn call<T>(&self, cmd: u32, arg: &mut T) -> io::Result<()> {
        // SAFETY: Every caller in this file pairs a command with its own
        // argument struct, and none of those structs carries an address that
        // is not valid (see `names`).
        unsafe { ioctl_raw(self.fd.as_fd(), cmd, arg) }
    }

    /// The ABI version the module speaks (`sys::MACH_API_VERSION`).
    pub fn api_version(&self) -> io::Result<u32> {
        let mut a = sys::ApiVersionArgs::default();
        self.call(sys::MACH_IOC_API_VERSION, &mut a)?;
        Ok(a.version)
    }

    /// The module's live objects across all spaces (`MACH_IOC_STATS`), for
    /// checking that nothing leaks.
    pub fn stats(&self) -> io::Result<Stats> {
        let mut a = sys::StatsArgs::default();
        self.call(sys::MACH_IOC_STATS, &mut a)?;
        Ok(Stats {
            spaces: a.spaces,
            ports: a.ports,
            port_sets: a.port_sets,
            names: a.names,
            messages: a.messages,
            message_bytes: a.message_bytes,
        })
    }

    /// The caller's name for its own task port (`mach_task_self()`).
    pub fn task_self(&self) -> PortName {
        PortName(sys::MACH_TASK_SELF_NAME)
    }

    /// `mach_port_allocate`: a new receive right, port set or dead name,
    /// under a name the kernel chooses.
    pub fn allocate(&self, task: PortName, right: PortRight) -> Result<PortName> {
        let mut a = sys::PortAllocateArgs {
            task: task.0,
            right: right.0,
            ..Default::default()
        };
        self.call(sys::MACH_IOC_PORT_ALLOCATE, &mut a)?;
        check(a.kr)?;
        Ok(PortName(a.name))
    }

    /// `mach_port_allocate_name`: the same, under the caller's `name`.
    pub fn allocate_name(&self, task: PortName, right: PortRight, name: PortName) -> Result<()> {
        let mut a = sys::PortAllocateArgs {
            task: task.0,
            right: right.0,
            name: name.0,
            kr: 0,
        };
        self.call(sys::MACH_IOC_PORT_ALLOCATE_NAME, &mut a)?;
        check(a.kr)
    }

    /// `mach_reply_port`: a new receive right in the caller's own space.
    /// `PortName::NULL` if the port could not be created.
    pub fn reply_port(&self) -> io::Result<PortName> {
        let mut a = sys::ReplyPortArgs::default();
        self.call(sys::MACH_IOC_REPLY_PORT, &mut a)?;
        Ok(PortName(a.name))
    }

    /// `mach_port_type`: the rights `name` denotes.
    pub fn port_type(&self, task: PortName, name: PortName) -> Result<PortType> {
        let mut a = sys::PortTypeArgs {
            task: task.0,
            name: name.0,
            ..Default::default()
        };
        self.call(sys::MACH_IOC_PORT_TYPE, &mut a)?;
        check(a.kr)?;
        Ok(PortType(a.ptype))
    }

    /// `mach_port_names`: every name in the space with its type, in
    /// ascending name order.
    pub fn names(&self, task: PortName) -> Result<Vec<(PortName, PortType)>> {
        let mut capacity = 0u32;
        loop {
            let mut names = vec![0u32; capacity as usize];
            let mut types = vec![0u32; capacity as usize];
            let mut a = sys::PortNamesArgs {
                task: task.0,
                capacity,
                names: if capacity > 0 {
                    names.as_mut_ptr() as u64
                } else {
                    0
                },
                types: if capacity > 0 {
                    types.as_mut_ptr() as u64
                } else {
                    0
                },
                ..Default::default()
            };
            self.call(sys::MACH_IOC_PORT_NAMES, &mut a)?;
            check(a.kr)?;
            if a.count <= capacity {
                let n = a.count as usize;
                return Ok(names[..n]
                    .iter()
                    .zip(&types[..n])
                    .map(|(&n, &t)| (PortName(n), PortType(t)))
                    .collect());
            }
            // Leave room for names added before the next call.
            capacity = a.count.saturating_add(16);
        }
    }

    /// `mach_port_get_refs`: the user references `name` holds for `right`
    /// (0 when it does not hold that right).
    pub fn get_refs(&self, task: PortName, name: PortName, right: PortRight) -> Result<u32> {
        let mut a = sys::PortGetRefsArgs {
            task: task.0,
            name: name.0,
            right: right.0,
            ..Default::default()
        };
        self.call(sys::MACH_IOC_PORT_GET_REFS, &mut a)?;
        check(a.kr)?;
        Ok(a.refs)
    }

    /// `mach_port_mod_refs`: adds `delta` user references for `right`.
    pub fn mod_refs(
        &self,
        task: PortName,
        name: PortName,
        right: PortRight,
        delta: i32,
    ) -> Result<()> {
        let mut a = sys::PortModRefsArgs {
            task: task.0,
            name: name.0,
            right: right.0,
            delta,
            ..Default::default()
        };
        self.call(sys::MACH_IOC_PORT_MOD_REFS, &mut a)?;
        check(a.kr)
    }

    /// `mach_port_deallocate`: releases one user reference of a send right,
    /// send-once right or dead name (a port set is destroyed, as in XNU).
    pub fn deallocate(&self, task: PortName, name: PortName) -> Result<()> {
        let mut a = sys::PortNameArgs {
            task: task.0,
            name: name.0,
            ..Default::default()
        };
        self.call(sys::MACH_IOC_PORT_DEALLOCATE, &mut a)?;
        check(a.kr)
    }

    /// `mach_port_insert_right`: the caller's right `poly`, taken as
    /// `disposition` says, goes into `task`'s space under `name`.
    pub fn insert_right(
        &self,
        task: PortName,
        name: PortName,
        poly: PortName,
        disposition: MsgTypeName,
    ) -> Result<()> {
        let mut a = sys::PortInsertRightArgs {
            task: task.0,
            name: name.0,
            poly: poly.0,
            poly_poly: disposition.0,
            ..Default::default()
        };
        self.call(sys::MACH_IOC_PORT_INSERT_RIGHT, &mut a)?;
        check(a.kr)
    }

    /// `mach_port_extract_right`: the right `name` in `task`'s space, taken
    /// as `disposition` says, comes into the caller's space. Returns its
    /// name there (`PortName::DEAD` for a dead right) and its type
    /// (`MsgTypeName::PORT_*`).
    pub fn extract_right(
        &self,
        task: PortName,
        name: PortName,
        disposition: MsgTypeName,
    ) -> Result<(PortName, MsgTypeName)> {
        let mut a = sys::PortExtractRightArgs {
            task: task.0,
            name: name.0,
            msgt_name: disposition.0,
            ..Default::default()
        };
        self.call(sys::MACH_IOC_PORT_EXTRACT_RIGHT, &mut a)?;
        check(a.kr)?;
        Ok((PortName(a.poly), MsgTypeName(a.poly_poly)))
    }

    /// `task_for_fd` (an extension): a send right to the task port of the
    /// space behind `fd`, another open `/dev/mach` descriptor. Returns its
    /// name in this space. A descriptor that is not `/dev/mach` gives
    /// `KERN_INVALID_ARGUMENT`; one that is not open, `EBADF`.
    pub fn task_for_fd(&self, fd: BorrowedFd<'_>) -> Result<PortName> {
        let mut a = sys::TaskForFdArgs {
            fd: fd.as_raw_fd(),
            ..Default::default()
        };
        self.call(sys::MACH_IOC_TASK_FOR_FD, &mut a)?;
        check(a.kr)?;
        Ok(PortName(a.task))
    }

    /// `task_for_fd` with a raw descriptor number (which may be closed or
    /// not `/dev/mach`: the module checks).
    pub fn task_for_raw_fd(&self, fd: i32) -> Result<PortName> {
        let mut a = sys::TaskForFdArgs {
            fd,
            ..Default::default()
        };
        self.call(sys::MACH_IOC_TASK_FOR_FD, &mut a)?;
        check(a.kr)?;
        Ok(PortName(a.task))
    }

    /// `mach_port_get_attributes`: the `flavor` attributes of the receive
    /// right `name` (`sys::MACH_PORT_LIMITS_INFO`,
    /// `sys::MACH_PORT_RECEIVE_STATUS`, `sys::MACH_PORT_DNREQUESTS_SIZE`).
    /// `count` is the room the caller offers, in 32-bit words (at most
    /// `sys::MACH_PORT_INFO_MAX` are used; too little gives
    /// `KERN_FAILURE`). Returns the words the module wrote.
    pub fn get_attributes(
        &self,
        task: PortName,
        name: PortName,
        flavor: u32,
        count: u32,
    ) -> Result<Vec<u32>> {
        let mut a = sys::PortAttributesArgs {
            task: task.0,
            name: name.0,
            flavor,
            count: count.min(sys::MACH_PORT_INFO_MAX),
            ..Default::default()
        };
        self.call(sys::MACH_IOC_PORT_GET_ATTRIBUTES, &mut a)?;
        check(a.kr)?;
        let n = (a.count as usize).min(a.info.len());
        Ok(a.info[..n].to_vec())
    }

    /// `mach_port_set_attributes`: sets the `flavor` attributes of the
    /// receive right `name` from `info` (only `sys::MACH_PORT_LIMITS_INFO`
    /// is settable; at most `sys::MACH_PORT_INFO_MAX` words are passed).
    pub fn set_attributes(
        &self,
        task: PortName,
        name: PortName,
        flavor: u32,
        info: &[u32],
    ) -> Result<()> {
        let n = info.len().min(sys::MACH_PORT_INFO_MAX as usize);
        let mut a = sys::PortAttributesArgs {
            task: task.0,
            name: name.0,
            flavor,
            count: n as u32,
            ..Default::default()
        };
        a.info[..n].copy_from_slice(&info[..n]);
        self.call(sys::MACH_IOC_PORT_SET_ATTRIBUTES, &mut a)?;
        check(a.kr)
    }

    /// The queue limit of the receive right `name`: how many messages its
    /// queue holds before a sender through a send right waits
    /// (`MACH_PORT_LIMITS_INFO`; 5 by default).
    pub fn qlimit(&self, task: PortName, name: PortName) -> Result<u32> {
        let info = self.get_attributes(
            task,
            name,
            sys::MACH_PORT_LIMITS_INFO,
            sys::MACH_PORT_LIMITS_INFO_COUNT,
        )?;
        Ok(info.first().copied().unwrap_or(0))
    }

    /// Sets the queue limit of the receive right `name` (0 ..=
    /// `sys::MACH_PORT_QLIMIT_MAX`, else `KERN_INVALID_VALUE`); raising it
    /// wakes waiting senders.
    pub fn set_qlimit(&self, task: PortName, name: PortName, limit: u32) -> Result<()> {
        self.set_attributes(task, name, sys::MACH_PORT_LIMITS_INFO, &[limit])
    }

    /// `MACH_PORT_RECEIVE_STATUS` of the receive right `name`.
    pub fn receive_status(&self, task: PortName, name: PortName) -> Result<PortStatus> {
        let info = self.get_attributes(
            task,
            name,
            sys::MACH_PORT_RECEIVE_STATUS,
            sys::MACH_PORT_RECEIVE_STATUS_COUNT,
        )?;
        let w = |i: usize| info.get(i).copied().unwrap_or(0);
        Ok(PortStatus {
            pset: w(0),
            seqno: w(1),
            mscount: w(2),
            qlimit: w(3),
            msgcount: w(4),
            sorights: w(5),
            srights: w(6) != 0,
            pdrequest: w(7) != 0,
            nsrequest: w(8) != 0,
            flags: w(9),
        })
    }

    /// `mach_port_destroy`: removes every right `name` denotes.
    pub fn destroy(&self, task: PortName, name: PortName) -> Result<()> {
        let mut a = sys::PortNameArgs {
            task: task.0,
            name: name.0,
            ..Default::default()
        };
        self.call(sys::MACH_IOC_PORT_DESTROY, &mut a)?;
        check(a.kr)
    }

    fn member_call(
        &self,
        cmd: u32,
        task: PortName,
        member: PortName,
        after: PortName,
    ) -> Result<()> {
        let mut a = sys::PortMemberArgs {
            task: task.0,
            member: member.0,
            after: after.0,
            kr: 0,
        };
        self.call(cmd, &mut a)?;
        check(a.kr)
    }

    /// `mach_port_move_member`: the receive right `member` leaves the port
    /// set it is in, if any, and joins the set `after`, atomically;
    /// `after` = `PortName::NULL` only takes it out of its set.
    ///
    /// Results, in the order they are checked: `KERN_INVALID_TASK`;
    /// `KERN_INVALID_RIGHT` when `member` is `NULL` or `DEAD` or `after` is
    /// `DEAD`; `KERN_INVALID_NAME` when `member`, then `after`, is not in
    /// use; `KERN_INVALID_RIGHT` when `member` is not a receive right or
    /// `after` not a port set; `KERN_NOT_IN_SET` when `after` is `NULL`
    /// and `member` is in no set. Moving a port into the set it is in
    /// succeeds and changes nothing.
    pub fn move_member(&self, task: PortName, member: PortName, after: PortName) -> Result<()> {
        self.member_call(sys::MACH_IOC_PORT_MOVE_MEMBER, task, member, after)
    }

    /// `mach_port_insert_member`: the receive right `member` joins the port
    /// set `set`.
    ///
    /// Results: `KERN_INVALID_TASK`; `KERN_INVALID_RIGHT` when either name
    /// is `NULL` or `DEAD`; `KERN_INVALID_NAME` when `member`, then `set`,
    /// is not in use; `KERN_INVALID_RIGHT` when `member` is not a receive
    /// right or `set` not a port set; `KERN_ALREADY_IN_SET` when `member`
    /// is in a set already (this one or another).
    pub fn insert_member(&self, task: PortName, member: PortName, set: PortName) -> Result<()> {
        self.member_call(sys::MACH_IOC_PORT_INSERT_MEMBER, task, member, set)
    }

    /// `mach_port_extract_member`: the receive right `member` leaves the
    /// port set `set`.
    ///
    /// Results: as [`Space::insert_member`], except that a `member` not in
    /// `set` gives `KERN_NOT_IN_SET`.
    pub fn extract_member(&self, task: PortName, member: PortName, set: PortName) -> Result<()> {
        self.member_call(sys::MACH_IOC_PORT_EXTRACT_MEMBER, task, member, set)
    }

    /// `mach_port_get_set_status`: the names of the receive rights in the
    /// port set `set`, in ascending order.
    ///
    /// Results: `KERN_INVALID_TASK`; `KERN_INVALID_RIGHT` when `set` is
    /// `NULL` or `DEAD`; `KERN_INVALID_NAME` when it is not in use;
    /// `KERN_INVALID_RIGHT` when it is not a port set.
    pub fn get_set_status(&self, task: PortName, set: PortName) -> Result<Vec<PortName>> {
        // The count first (capacity 0), then the names; again with more
        // room if members joined in between.
        let mut capacity = 0u32;
        loop {
            // PortName is repr(transparent) over u32: the Vec is the array
            // of names the module writes.
            let mut members = vec![PortName::NULL; capacity as usize];
            let mut a = sys::PortSetStatusArgs {
                task: task.0,
                name: set.0,
                members: if capacity > 0 {
                    members.as_mut_ptr() as u64
                } else {
                    0
                },
                capacity,
                ..Default::default()
            };
            self.call(sys::MACH_IOC_PORT_GET_SET_STATUS, &mut a)?;
            check(a.kr)?;
            if a.count <= capacity {
                members.truncate(a.count as usize);
                return Ok(members);
            }
            // Leave room for members added before the next call.
            capacity = a.count.saturating_add(16);
        }
    }

    /// `mach_port_request_notification`: registers `notify` (a right in
    /// the caller's space, taken as `notify_type` says: `MAKE_SEND_ONCE`
    /// of a receive right or `MOVE_SEND_ONCE` of a send-once right) for
    /// the notification `variant` about `name` in `task`'s space, in place
    /// of the one registered before; `PortName::NULL` cancels. Returns the
    /// caller's name for the previously registered send-once right
    /// (`PortName::DEAD` if its port died, `PortName::NULL` if there was
    /// none). The notification arrives as a message; see [`Notification`].
    ///
    /// - [`MACH_NOTIFY_PORT_DESTROYED`] (`name` a receive right, `sync` 0):
    ///   when the receive right would be destroyed, it is sent to `notify`
    ///   instead. One-shot.
    /// - [`MACH_NOTIFY_NO_SENDERS`] (`name` a receive right): when the
    ///   port's last send right goes, with the make-send count then; at
    ///   once if there are no send rights and `sync` <= the make-send count.
    /// - [`MACH_NOTIFY_DEAD_NAME`] (`name` a send, send-once or receive
    ///   right, or a dead name): when the port dies (`name` becomes a dead
    ///   name with one more user reference), or a port-deleted notification
    ///   when `name` stops denoting the right first. On a dead name with
    ///   `sync` non-zero the notification is sent at once.
    ///
    /// Results, in the order they are checked: `KERN_INVALID_TASK`;
    /// `KERN_INVALID_VALUE` for another `variant`; for `DEAD_NAME`,
    /// `KERN_INVALID_ARGUMENT` when `name` is `NULL` or `DEAD`; for
    /// `PORT_DESTROYED`, `KERN_INVALID_VALUE` when `sync` is not 0;
    /// `KERN_INVALID_RIGHT` when `name` is `NULL` or `DEAD`;
    /// `KERN_INVALID_NAME` when `name` is not in use; `KERN_INVALID_RIGHT`
    /// when it does not hold the right the variant needs; on a dead name,
    /// `KERN_INVALID_ARGUMENT` when `sync` is 0 or `notify` `NULL`, and
    /// `KERN_UREFS_OVERFLOW` when it has 0xFFFF user references; then
    /// `KERN_INVALID_VALUE` for another `notify_type`, and
    /// `KERN_INVALID_CAPABILITY` when `notify` is `DEAD` or does not hold
    /// the right `notify_type` needs. A failed call changes nothing.
    /// `docs/notifications.md` has the details.
    pub fn request_notification(
        &self,
        task: PortName,
        name: PortName,
        variant: i32,
        sync: u32,
        notify: PortName,
        notify_type: MsgTypeName,
    ) -> Result<PortName> {
        let mut a = sys::RequestNotificationArgs {
            task: task.0,
            name: name.0,
            variant,
            sync,
            notify: notify.0,
            notify_type: notify_type.0,
            ..Default::default()
        };
        self.call(sys::MACH_IOC_PORT_REQUEST_NOTIFICATION, &mut a)?;
        check(a.kr)?;
        Ok(PortName(a.previous))
    }

    /// `port_set_backup` (Mach 2.5; macOS does not have it): makes the port
    /// `backup` (a send right in the caller's space, which keeps its
    /// reference; `PortName::NULL` for none) the backup of the receive
    /// right `primary` in `task`'s space, in one atomic exchange. When the
    /// receive right would be destroyed, it travels instead to `backup` in
    /// a [`MACH_NOTIFY_PORT_DESTROYED`] message with its queued messages,
    /// and the primary has no backup any more. Backup and port-destroyed
    /// request share one slot: each replaces the other.
    ///
    /// Returns the caller's name for a send right to the previous backup,
    /// or `PortName::NULL` if there was none or it has died.
    ///
    /// Results: `KERN_INVALID_ARGUMENT` when `task` is not a task, when
    /// `primary` is `NULL`, `DEAD` or not in use, or when `backup` is not a
    /// send right (`DEAD`, a dead name, a receive or send-once right, not
    /// in use); `KERN_NOT_RECEIVER` when `primary` is not a receive right.
    pub fn port_set_backup(
        &self,
        task: PortName,
        primary: PortName,
        backup: PortName,
    ) -> Result<PortName> {
        let mut a = sys::PortSetBackupArgs {
            task: task.0,
            primary: primary.0,
            backup: backup.0,
            ..Default::default()
        };
        self.call(sys::MACH_IOC_PORT_SET_BACKUP, &mut a)?;
        check(a.kr)?;
        Ok(PortName(a.previous))
    }
}

impl AsFd for Space {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Space {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}
