//! macOS's Mach C API over `/dev/mach`: the library installed as `libmach.a`
//! with the headers of `userlib/include`.
//!
//! Every function has macOS's name and signature. The process has one Mach
//! IPC space: `/dev/mach`, opened on the first call that needs it and kept
//! for the life of the process. After `fork()` the child closes the inherited
//! descriptor and opens a space of its own on its next call, as a new Mach
//! task would start with a new space.
//!
//! Results besides the module's own `kern_return_t` (see `mach/mach_port.h`):
//!
//! - `/dev/mach` cannot be opened: `KERN_FAILURE` (the open is retried on the
//!   next call).
//! - The ioctl fails: `EFAULT` gives `KERN_INVALID_ADDRESS`, `EINVAL`
//!   `KERN_INVALID_ARGUMENT`, `ENOMEM` `KERN_RESOURCE_SHORTAGE`, anything else
//!   `KERN_FAILURE`.
//! - A null out-pointer: `KERN_INVALID_ARGUMENT`, before anything else.
//! - `task_for_fd` only: `EBADF` (the descriptor is not open) gives
//!   `KERN_INVALID_ARGUMENT`, as a descriptor that is not `/dev/mach` does.
//!
//! `mach_msg` and its relatives return `mach_msg_return_t` codes for these
//! too (see `mach/message.h`): the device cannot be opened:
//! `MACH_SEND_INVALID_DEST` / `MACH_RCV_INVALID_NAME`; the ioctl fails:
//! `MACH_SEND_INVALID_DATA` while the send was still to be done (ENOMEM:
//! `MACH_SEND_NO_BUFFER`), else `MACH_RCV_INVALID_DATA`. An interrupted
//! call follows the library's signal rule (`mach::Space::mach_msg_args`).
//!
//! Nothing here panics on what a caller passes; the workspace builds with
//! `panic = "abort"` in any case.

#![deny(unsafe_op_in_unsafe_fn)]

use std::ffi::{c_char, c_int, CStr};
use std::mem::ManuallyDrop;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use mach::{sys, Error, MsgTypeName, PortName, PortRight, Space};

#[allow(non_camel_case_types)]
type kern_return_t = c_int;
#[allow(non_camel_case_types)]
type mach_port_name_t = u32;
#[allow(non_camel_case_types)]
type mach_msg_type_name_t = u32;
#[allow(non_camel_case_types)]
type mach_msg_return_t = c_int;
#[allow(non_camel_case_types)]
type mach_msg_option_t = c_int;
#[allow(non_camel_case_types)]
type mach_msg_size_t = u32;
#[allow(non_camel_case_types)]
type mach_msg_timeout_t = u32;
#[allow(non_camel_case_types)]
type mach_msg_type_number_t = u32;

/// `mach_msg_header_t`: only ever used behind a pointer here; the fields
/// are read at their byte offsets.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct mach_msg_header_t {
    _opaque: [u32; 6],
}

// ---------------------------------------------------------------------------
// The process's space.

/// The open `/dev/mach` descriptor, or -1.
static SPACE_FD: AtomicI32 = AtomicI32::new(-1);
/// Serialises opening the device against itself and against `fork()`.
static LOCK: AtomicBool = AtomicBool::new(false);
/// Whether the fork handlers are registered.
static ATFORK: AtomicBool = AtomicBool::new(false);

const DEVICE: &CStr = c"/dev/mach";

fn lock() {
    while LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        // SAFETY: sched_yield has no preconditions.
        unsafe { libc::sched_yield() };
    }
}

fn unlock() {
    LOCK.store(false, Ordering::Release);
}

// The lock is held across fork(), so the child never inherits a half-done
// open; the child then drops the parent's space.
extern "C" fn atfork_prepare() {
    lock();
}

extern "C" fn atfork_parent() {
    unlock();
}

extern "C" fn atfork_child() {
    let fd = SPACE_FD.swap(-1, Ordering::AcqRel);
    if fd >= 0 {
        // SAFETY: `fd` is the descriptor this library opened; the child holds
        // its own copy, and no other thread exists in the child to use it.
        unsafe { libc::close(fd) };
    }
    unlock();
}

/// The descriptor of the process's space, opening it if needed.
fn space_fd() -> Result<RawFd, kern_return_t> {
    let fd = SPACE_FD.load(Ordering::Acquire);
    if fd >= 0 {
        return Ok(fd);
    }
    lock();
    if !ATFORK.load(Ordering::Relaxed) {
        // SAFETY: The handlers are plain functions that live for the whole
        // program.
        let rc = unsafe {
            libc::pthread_atfork(
                Some(atfork_prepare),
                Some(atfork_parent),
                Some(atfork_child),
            )
        };
        if rc == 0 {
            ATFORK.store(true, Ordering::Relaxed);
        }
    }
    let mut fd = SPACE_FD.load(Ordering::Acquire);
    if fd < 0 && ATFORK.load(Ordering::Relaxed) {
        // SAFETY: `DEVICE` is a NUL-terminated path.
        fd = unsafe { libc::open(DEVICE.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if fd >= 0 {
            SPACE_FD.store(fd, Ordering::Release);
        }
    }
    unlock();
    if fd >= 0 {
        Ok(fd)
    } else {
        Err(sys::KERN_FAILURE)
    }
}

/// Runs `f` on the process's space.
fn with_space<R>(f: impl FnOnce(&Space) -> R) -> Result<R, kern_return_t> {
    let fd = space_fd()?;
    // SAFETY: `fd` is open (only the fork child handler closes it, and no
    // call is in progress then). The `Space` is never dropped, so it never
    // closes a descriptor it does not own.
    let space = ManuallyDrop::new(Space::from_fd(unsafe { OwnedFd::from_raw_fd(fd) }));
    Ok(f(&space))
}

fn errno_kr(errno: Option<i32>) -> kern_return_t {
    match errno {
        Some(libc::EFAULT) => sys::KERN_INVALID_ADDRESS,
        Some(libc::EINVAL) => sys::KERN_INVALID_ARGUMENT,
        Some(libc::ENOMEM) => sys::KERN_RESOURCE_SHORTAGE,
        _ => sys::KERN_FAILURE,
    }
}

fn error_kr(e: &Error) -> kern_return_t {
    match e {
        Error::Kern(kr) => kr.0,
        // A mach_msg_return_t is a kern_return_t in C.
        Error::Msg(mr) => mr.0,
        Error::Os(io) => errno_kr(io.raw_os_error()),
    }
}

/// Collapses the two layers of failure into one `kern_return_t`.
fn kr_of(r: Result<mach::Result<()>, kern_return_t>) -> kern_return_t {
    match r {
        Ok(Ok(())) => sys::KERN_SUCCESS,
        Ok(Err(e)) => error_kr(&e),
        Err(kr) => kr,
    }
}

// ---------------------------------------------------------------------------
// mach_task_self() and the extension.

/// `mach_task_self()` is a macro reading this variable, as on macOS.
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static mach_task_self_: mach_port_name_t = sys::MACH_TASK_SELF_NAME;

/// The `/dev/mach` ABI version the module speaks, or 0 when the device
/// cannot be opened or does not answer.
#[no_mangle]
pub extern "C" fn mach_ipc_api_version() -> u32 {
    match with_space(|s| s.api_version()) {
        Ok(Ok(v)) => v,
        _ => 0,
    }
}

// ---------------------------------------------------------------------------
// Port calls.

/// # Safety
///
/// `name` must be null or valid for writing a `mach_port_name_t`.
#[no_mangle]
pub unsafe extern "C" fn mach_port_allocate(
    task: mach_port_name_t,
    right: u32,
    name: *mut mach_port_name_t,
) -> kern_return_t {
    if name.is_null() {
        return sys::KERN_INVALID_ARGUMENT;
    }
    match with_space(|s| s.allocate(PortName(task), PortRight(right))) {
        Ok(Ok(n)) => {
            // SAFETY: Checked non-null; the caller guarantees validity.
            unsafe { name.write(n.0) };
            sys::KERN_SUCCESS
        }
        Ok(Err(e)) => error_kr(&e),
        Err(kr) => kr,
    }
}

#[no_mangle]
pub extern "C" fn mach_port_allocate_name(
    task: mach_port_name_t,
    right: u32,
    name: mach_port_name_t,
) -> kern_return_t {
    kr_of(with_space(|s| {
        s.allocate_name(PortName(task), PortRight(right), PortName(name))
    }))
}

/// A new receive right, or MACH_PORT_NULL if it cannot be created (the
/// device included).
#[no_mangle]
pub extern "C" fn mach_reply_port() -> mach_port_name_t {
    match with_space(|s| s.reply_port()) {
        Ok(Ok(n)) => n.0,
        _ => sys::MACH_PORT_NULL,
    }
}

/// # Safety
///
/// `ptype` must be null or valid for writing a `mach_port_type_t`.
#[no_mangle]
pub unsafe extern "C" fn mach_port_type(
    task: mach_port_name_t,
    name: mach_port_name_t,
    ptype: *mut u32,
) -> kern_return_t {
    if ptype.is_null() {
        return sys::KERN_INVALID_ARGUMENT;
    }
    match with_space(|s| s.port_type(PortName(task), PortName(name))) {
        Ok(Ok(t)) => {
            // SAFETY: Checked non-null; the caller guarantees validity.
            unsafe { ptype.write(t.0) };
            sys::KERN_SUCCESS
        }
        Ok(Err(e)) => error_kr(&e),
        Err(kr) => kr,
    }
}

/// # Safety
///
/// `refs` must be null or valid for writing a `mach_port_urefs_t`.
#[no_mangle]
pub unsafe extern "C" fn mach_port_get_refs(
    task: mach_port_name_t,
    name: mach_port_name_t,
    right: u32,
    refs: *mut u32,
) -> kern_return_t {
    if refs.is_null() {
        return sys::KERN_INVALID_ARGUMENT;
    }
    match with_space(|s| s.get_refs(PortName(task), PortName(name), PortRight(right))) {
        Ok(Ok(r)) => {
            // SAFETY: Checked non-null; the caller guarantees validity.
            unsafe { refs.write(r) };
            sys::KERN_SUCCESS
        }
        Ok(Err(e)) => error_kr(&e),
        Err(kr) => kr,
    }
}

#[no_mangle]
pub extern "C" fn mach_port_mod_refs(
    task: mach_port_name_t,
    name: mach_port_name_t,
    right: u32,
    delta: i32,
) -> kern_return_t {
    kr_of(with_space(|s| {
        s.mod_refs(PortName(task), PortName(name), PortRight(right), delta)
    }))
}

#[no_mangle]
pub extern "C" fn mach_port_deallocate(
    task: mach_port_name_t,
    name: mach_port_name_t,
) -> kern_return_t {
    kr_of(with_space(|s| s.deallocate(PortName(task), PortName(name))))
}

#[no_mangle]
pub extern "C" fn mach_port_destroy(
    task: mach_port_name_t,
    name: mach_port_name_t,
) -> kern_return_t {
    kr_of(with_space(|s| s.destroy(PortName(task), PortName(name))))
}

/// The caller's right `poly`, taken as `poly_poly` says, goes into `task`'s
/// space under `name`.
#[no_mangle]
pub extern "C" fn mach_port_insert_right(
    task: mach_port_name_t,
    name: mach_port_name_t,
    poly: mach_port_name_t,
    poly_poly: mach_msg_type_name_t,
) -> kern_return_t {
    kr_of(with_space(|s| {
        s.insert_right(
            PortName(task),
            PortName(name),
            PortName(poly),
            MsgTypeName(poly_poly),
        )
    }))
}

/// The right `name` in `task`'s space, taken as `msgt_name` says, comes
/// into the caller's space: its name there in `*poly` (MACH_PORT_DEAD for a
/// dead right), its type (`MACH_MSG_TYPE_PORT_*`) in `*poly_poly`.
///
/// # Safety
///
/// `poly` and `poly_poly` must each be null or valid for writing a `u32`.
#[no_mangle]
pub unsafe extern "C" fn mach_port_extract_right(
    task: mach_port_name_t,
    name: mach_port_name_t,
    msgt_name: mach_msg_type_name_t,
    poly: *mut mach_port_name_t,
    poly_poly: *mut mach_msg_type_name_t,
) -> kern_return_t {
    if poly.is_null() || poly_poly.is_null() {
        return sys::KERN_INVALID_ARGUMENT;
    }
    match with_space(|s| s.extract_right(PortName(task), PortName(name), MsgTypeName(msgt_name))) {
        Ok(Ok((n, t))) => {
            // SAFETY: Checked non-null; the caller guarantees validity.
            unsafe {
                poly.write(n.0);
                poly_poly.write(t.0);
            }
            sys::KERN_SUCCESS
        }
        Ok(Err(e)) => error_kr(&e),
        Err(kr) => kr,
    }
}

/// The `flavor` attributes of the receive right `name` into
/// `port_info_out`; `*port_info_out_cnt` is in the room there (in 32-bit
/// words) and out the words written.
///
/// # Safety
///
/// `port_info_out` must be null or valid for writing
/// `*port_info_out_cnt` words; `port_info_out_cnt` null or valid for
/// reading and writing.
#[no_mangle]
pub unsafe extern "C" fn mach_port_get_attributes(
    task: mach_port_name_t,
    name: mach_port_name_t,
    flavor: c_int,
    port_info_out: *mut c_int,
    port_info_out_cnt: *mut mach_msg_type_number_t,
) -> kern_return_t {
    if port_info_out.is_null() || port_info_out_cnt.is_null() {
        return sys::KERN_INVALID_ARGUMENT;
    }
    // SAFETY: Checked non-null; the caller guarantees validity.
    let room = unsafe { port_info_out_cnt.read() };
    match with_space(|s| s.get_attributes(PortName(task), PortName(name), flavor as u32, room)) {
        Ok(Ok(info)) => {
            // The module writes at most the room it was given (passed as
            // min(room, MACH_PORT_INFO_MAX)); never write past the caller's.
            let n = info.len().min(room as usize);
            // SAFETY: `n` words fit the caller's array; the pointers are
            // non-null and valid by the caller's guarantee.
            unsafe {
                for (i, w) in info[..n].iter().enumerate() {
                    port_info_out.add(i).write(*w as c_int);
                }
                port_info_out_cnt.write(n as u32);
            }
            sys::KERN_SUCCESS
        }
        Ok(Err(e)) => error_kr(&e),
        Err(kr) => kr,
    }
}

/// Sets the `flavor` attributes of the receive right `name` from the
/// `port_info_cnt` words at `port_info` (at most `MACH_PORT_INFO_MAX` are
/// passed on).
///
/// # Safety
///
/// `port_info` must be valid for reading `port_info_cnt` words, or null
/// (then `KERN_INVALID_ARGUMENT` unless the count is 0).
#[no_mangle]
pub unsafe extern "C" fn mach_port_set_attributes(
    task: mach_port_name_t,
    name: mach_port_name_t,
    flavor: c_int,
    port_info: *mut c_int,
    port_info_cnt: mach_msg_type_number_t,
) -> kern_return_t {
    let n = (port_info_cnt as usize).min(sys::MACH_PORT_INFO_MAX as usize);
    if port_info.is_null() && n > 0 {
        return sys::KERN_INVALID_ARGUMENT;
    }
    let mut words = [0u32; sys::MACH_PORT_INFO_MAX as usize];
    for (i, w) in words[..n].iter_mut().enumerate() {
        // SAFETY: i < port_info_cnt; the caller guarantees validity.
        *w = unsafe { port_info.add(i).read() } as u32;
    }
    kr_of(with_space(|s| {
        s.set_attributes(PortName(task), PortName(name), flavor as u32, &words[..n])
    }))
}

/// The extension `task_for_fd`: a send right to the task port of the space
/// behind `fd`, another open `/dev/mach` descriptor, in the caller's space.
/// A descriptor that is not open (EBADF from the module) gives
/// `KERN_INVALID_ARGUMENT`, as one that is not `/dev/mach` does.
///
/// # Safety
///
/// `task` must be null or valid for writing a `mach_port_name_t`.
#[no_mangle]
pub unsafe extern "C" fn task_for_fd(fd: c_int, task: *mut mach_port_name_t) -> kern_return_t {
    if task.is_null() {
        return sys::KERN_INVALID_ARGUMENT;
    }
    match with_space(|s| s.task_for_raw_fd(fd)) {
        Ok(Ok(t)) => {
            // SAFETY: Checked non-null; the caller guarantees validity.
            unsafe { task.write(t.0) };
            sys::KERN_SUCCESS
        }
        Ok(Err(e)) => task_for_fd_kr(&e),
        Err(kr) => kr,
    }
}

fn task_for_fd_kr(e: &Error) -> kern_return_t {
    match e {
        Error::Os(io) if io.raw_os_error() == Some(libc::EBADF) => sys::KERN_INVALID_ARGUMENT,
        _ => error_kr(e),
    }
}

// ---------------------------------------------------------------------------
// Port sets, notification requests and backup ports.

/// The receive right `member` leaves its set, if any, and joins `after`
/// (none for MACH_PORT_NULL), atomically.
#[no_mangle]
pub extern "C" fn mach_port_move_member(
    task: mach_port_name_t,
    member: mach_port_name_t,
    after: mach_port_name_t,
) -> kern_return_t {
    kr_of(with_space(|s| {
        s.move_member(PortName(task), PortName(member), PortName(after))
    }))
}

/// The receive right `name` joins the port set `pset`.
#[no_mangle]
pub extern "C" fn mach_port_insert_member(
    task: mach_port_name_t,
    name: mach_port_name_t,
    pset: mach_port_name_t,
) -> kern_return_t {
    kr_of(with_space(|s| {
        s.insert_member(PortName(task), PortName(name), PortName(pset))
    }))
}

/// The receive right `name` leaves the port set `pset`.
#[no_mangle]
pub extern "C" fn mach_port_extract_member(
    task: mach_port_name_t,
    name: mach_port_name_t,
    pset: mach_port_name_t,
) -> kern_return_t {
    kr_of(with_space(|s| {
        s.extract_member(PortName(task), PortName(name), PortName(pset))
    }))
}

/// Registers `notify`, taken as `notify_poly` says, for the notification
/// `msgid` about `name` in `task`'s space; the previously registered
/// send-once right comes into the caller's space as `*previous`
/// (MACH_PORT_NULL if none, MACH_PORT_DEAD if its port died).
///
/// # Safety
///
/// `previous` must be null or valid for writing a `mach_port_name_t`.
#[no_mangle]
pub unsafe extern "C" fn mach_port_request_notification(
    task: mach_port_name_t,
    name: mach_port_name_t,
    msgid: c_int,
    sync: u32,
    notify: mach_port_name_t,
    notify_poly: mach_msg_type_name_t,
    previous: *mut mach_port_name_t,
) -> kern_return_t {
    if previous.is_null() {
        return sys::KERN_INVALID_ARGUMENT;
    }
    match with_space(|s| {
        s.request_notification(
            PortName(task),
            PortName(name),
            msgid,
            sync,
            PortName(notify),
            MsgTypeName(notify_poly),
        )
    }) {
        Ok(Ok(p)) => {
            // SAFETY: Checked non-null; the caller guarantees validity.
            unsafe { previous.write(p.0) };
            sys::KERN_SUCCESS
        }
        Ok(Err(e)) => error_kr(&e),
        Err(kr) => kr,
    }
}

/// Mach 2.5's `port_set_backup` (an extension here): `backup`, a send
/// right of the caller's, becomes the backup of the receive right
/// `primary` in `task`'s space; `*previous` is a send right to the
/// previous backup, or MACH_PORT_NULL.
///
/// # Safety
///
/// `previous` must be null or valid for writing a `mach_port_name_t`.
#[no_mangle]
pub unsafe extern "C" fn port_set_backup(
    task: mach_port_name_t,
    primary: mach_port_name_t,
    backup: mach_port_name_t,
    previous: *mut mach_port_name_t,
) -> kern_return_t {
    if previous.is_null() {
        return sys::KERN_INVALID_ARGUMENT;
    }
    match with_space(|s| s.port_set_backup(PortName(task), PortName(primary), PortName(backup))) {
        Ok(Ok(p)) => {
            // SAFETY: Checked non-null; the caller guarantees validity.
            unsafe { previous.write(p.0) };
            sys::KERN_SUCCESS
        }
        Ok(Err(e)) => error_kr(&e),
        Err(kr) => kr,
    }
}

/// `NDR_record_t` (`mach/ndr.h`).
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct NDR_record_t {
    bytes: [u8; 8],
}

/// This machine's NDR record, the one notifications carry.
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static NDR_record: NDR_record_t = NDR_record_t {
    bytes: sys::NDR_RECORD,
};

// ---------------------------------------------------------------------------
// mach_msg.

/// `security_token_t` / `audit_token_t` of the kernel, as macOS exports
/// them.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct security_token_t {
    val: [u32; 2],
}

#[allow(non_camel_case_types)]
#[repr(C)]
pub struct audit_token_t {
    val: [u32; 8],
}

#[no_mangle]
pub static KERNEL_SECURITY_TOKEN: security_token_t = security_token_t { val: [0, 1] };

#[no_mangle]
pub static KERNEL_AUDIT_TOKEN: audit_token_t = audit_token_t { val: [0; 8] };

/// The `mach_msg_return_t` for a failed `MACH_IOC_MSG`: `option_left` is
/// the option field as the module left it (MACH_SEND_MSG still set: the
/// send was still to be done).
fn msg_errno_mr(errno: Option<i32>, option_left: u32) -> mach_msg_return_t {
    if option_left & sys::MACH_SEND_MSG != 0 {
        match errno {
            Some(libc::ENOMEM) => sys::MACH_SEND_NO_BUFFER,
            _ => sys::MACH_SEND_INVALID_DATA,
        }
    } else {
        sys::MACH_RCV_INVALID_DATA
    }
}

/// One `mach_msg` on the process's space, with the library's signal rule.
///
/// # Safety
///
/// As `mach::Space::mach_msg_raw`.
unsafe fn msg_call(
    msg: *mut u8,
    option: u32,
    send_size: u32,
    rcv_size: u32,
    rcv_name: mach_port_name_t,
    timeout: u32,
    notify: mach_port_name_t,
) -> mach_msg_return_t {
    let fd = match space_fd() {
        Ok(fd) => fd,
        Err(_) if option & sys::MACH_SEND_MSG != 0 => return sys::MACH_SEND_INVALID_DEST,
        Err(_) => return sys::MACH_RCV_INVALID_NAME,
    };
    // SAFETY: As in with_space: the descriptor is open and never closed by
    // this Space.
    let space = ManuallyDrop::new(Space::from_fd(unsafe { OwnedFd::from_raw_fd(fd) }));
    let mut a = sys::MsgArgs {
        msg: msg as u64,
        option,
        send_size,
        rcv_size,
        rcv_name,
        timeout,
        notify,
        mr: 0,
        reserved: 0,
    };
    // SAFETY: Forwarded to the caller.
    match unsafe { space.mach_msg_args(&mut a) } {
        Ok(mr) => mr,
        Err(e) => msg_errno_mr(e.raw_os_error(), a.option),
    }
}

/// Sends and/or receives a message (see `mach/message.h`).
///
/// # Safety
///
/// With MACH_SEND_MSG, `msg` must be readable for `send_size` bytes; with
/// MACH_RCV_MSG, writable for `rcv_size` bytes. Out-of-line descriptors
/// with `deallocate` set give their pages up on a successful send.
#[no_mangle]
pub unsafe extern "C" fn mach_msg(
    msg: *mut mach_msg_header_t,
    option: mach_msg_option_t,
    send_size: mach_msg_size_t,
    rcv_size: mach_msg_size_t,
    rcv_name: mach_port_name_t,
    timeout: mach_msg_timeout_t,
    notify: mach_port_name_t,
) -> mach_msg_return_t {
    // SAFETY: Forwarded to the caller.
    unsafe {
        msg_call(
            msg.cast(),
            option as u32,
            send_size,
            rcv_size,
            rcv_name,
            timeout,
            notify,
        )
    }
}

/// `mach_msg` receiving into `rcv_msg` when it is not NULL.
///
/// # Safety
///
/// As `mach_msg`, with the receive buffer `rcv_msg` when it is not null.
#[no_mangle]
pub unsafe extern "C" fn mach_msg_overwrite(
    msg: *mut mach_msg_header_t,
    option: mach_msg_option_t,
    send_size: mach_msg_size_t,
    rcv_size: mach_msg_size_t,
    rcv_name: mach_port_name_t,
    timeout: mach_msg_timeout_t,
    notify: mach_port_name_t,
    rcv_msg: *mut mach_msg_header_t,
    _rcv_limit: mach_msg_size_t,
) -> mach_msg_return_t {
    let option = option as u32;
    let both = sys::MACH_SEND_MSG | sys::MACH_RCV_MSG;
    if rcv_msg.is_null() || rcv_msg == msg {
        // SAFETY: Forwarded to the caller.
        return unsafe {
            mach_msg(
                msg,
                option as c_int,
                send_size,
                rcv_size,
                rcv_name,
                timeout,
                notify,
            )
        };
    }
    if option & both != both {
        let buf = if option & sys::MACH_SEND_MSG != 0 {
            msg
        } else {
            rcv_msg
        };
        // SAFETY: Forwarded to the caller.
        return unsafe {
            mach_msg(
                buf,
                option as c_int,
                send_size,
                rcv_size,
                rcv_name,
                timeout,
                notify,
            )
        };
    }
    // Two buffers: the send, then the receive, as two calls.
    // SAFETY: Forwarded to the caller.
    let mr = unsafe {
        mach_msg(
            msg,
            (option & !sys::MACH_RCV_MSG) as c_int,
            send_size,
            0,
            rcv_name,
            timeout,
            notify,
        )
    };
    if mr != sys::MACH_MSG_SUCCESS {
        return mr;
    }
    // SAFETY: Forwarded to the caller.
    unsafe {
        mach_msg(
            rcv_msg,
            (option & !sys::MACH_SEND_MSG) as c_int,
            0,
            rcv_size,
            rcv_name,
            timeout,
            notify,
        )
    }
}

/// Reads the `u32` at byte `offset` of a message.
///
/// # Safety
///
/// `msg + offset` must be readable for 4 bytes.
unsafe fn msg_u32(msg: *const u8, offset: usize) -> u32 {
    // SAFETY: Forwarded to the caller.
    unsafe { msg.add(offset).cast::<u32>().read_unaligned() }
}

/// Sends `msg`, its size in `msgh_size`.
///
/// # Safety
///
/// `msg` must be null or a readable message of `msgh_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn mach_msg_send(msg: *mut mach_msg_header_t) -> mach_msg_return_t {
    if msg.is_null() {
        return sys::MACH_SEND_INVALID_DATA;
    }
    // SAFETY: A header is readable (the caller's guarantee).
    let size = unsafe { msg_u32(msg.cast(), 4) };
    // SAFETY: Forwarded to the caller.
    unsafe {
        mach_msg(
            msg,
            sys::MACH_SEND_MSG as c_int,
            size,
            0,
            sys::MACH_PORT_NULL,
            sys::MACH_MSG_TIMEOUT_NONE,
            sys::MACH_PORT_NULL,
        )
    }
}

/// Receives into `msg`: its size in `msgh_size`, the port in
/// `msgh_local_port`.
///
/// # Safety
///
/// `msg` must be null or writable for `msgh_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn mach_msg_receive(msg: *mut mach_msg_header_t) -> mach_msg_return_t {
    if msg.is_null() {
        return sys::MACH_RCV_INVALID_DATA;
    }
    // SAFETY: A header is readable (the caller's guarantee).
    let (size, port) = unsafe { (msg_u32(msg.cast(), 4), msg_u32(msg.cast(), 12)) };
    // SAFETY: Forwarded to the caller.
    unsafe {
        mach_msg(
            msg,
            sys::MACH_RCV_MSG as c_int,
            0,
            size,
            port,
            sys::MACH_MSG_TIMEOUT_NONE,
            sys::MACH_PORT_NULL,
        )
    }
}

/// Releases one right of a message as libsyscall's
/// `mach_msg_destroy_port` does.
fn destroy_port(port: mach_port_name_t, kind: mach_msg_type_name_t) {
    if !sys::mach_port_valid(port) {
        return;
    }
    let task = sys::MACH_TASK_SELF_NAME;
    match kind {
        sys::MACH_MSG_TYPE_MOVE_SEND | sys::MACH_MSG_TYPE_MOVE_SEND_ONCE => {
            mach_port_deallocate(task, port);
        }
        sys::MACH_MSG_TYPE_MOVE_RECEIVE => {
            mach_port_mod_refs(task, port, sys::MACH_PORT_RIGHT_RECEIVE, -1);
        }
        sys::MACH_MSG_TYPE_MAKE_SEND => {
            mach_port_insert_right(task, port, port, sys::MACH_MSG_TYPE_MAKE_SEND);
            mach_port_deallocate(task, port);
        }
        sys::MACH_MSG_TYPE_MAKE_SEND_ONCE => {
            let (mut right, mut kind) = (0, 0);
            // SAFETY: Both out-pointers are locals.
            let kr = unsafe {
                mach_port_extract_right(
                    task,
                    port,
                    sys::MACH_MSG_TYPE_MAKE_SEND_ONCE,
                    &mut right,
                    &mut kind,
                )
            };
            if kr == sys::KERN_SUCCESS {
                mach_port_deallocate(task, right);
            }
        }
        _ => {}
    }
}

/// Releases the rights and out-of-line memory a message holds (see
/// `mach/message.h`).
///
/// # Safety
///
/// `msg` must be null or a message whose header, body and descriptors are
/// readable, whose out-of-line port arrays are readable, and whose
/// out-of-line regions with `deallocate` set are not in use.
#[no_mangle]
pub unsafe extern "C" fn mach_msg_destroy(msg: *mut mach_msg_header_t) {
    if msg.is_null() {
        return;
    }
    let m = msg.cast::<u8>().cast_const();
    // SAFETY: The header is readable (the caller's guarantee).
    let (bits, remote, voucher) = unsafe { (msg_u32(m, 0), msg_u32(m, 8), msg_u32(m, 16)) };
    // msgh_local_port holds no right: the receive consumed the destination.
    destroy_port(remote, sys::mach_msgh_bits_remote(bits));
    destroy_port(voucher, sys::mach_msgh_bits_voucher(bits));
    if bits & sys::MACH_MSGH_BITS_COMPLEX == 0 {
        return;
    }
    // SAFETY: The body is readable (the caller's guarantee).
    let count = unsafe { msg_u32(m, 24) };
    let mut off = 28usize;
    for _ in 0..count {
        // SAFETY: Each descriptor is readable (the caller's guarantee); the
        // type byte is at offset 11 of every kind.
        let kind = unsafe { *m.add(off + 11) } as u32;
        let disposition = || {
            // SAFETY: As above.
            u32::from(unsafe { *m.add(off + 10) })
        };
        match kind {
            sys::MACH_MSG_PORT_DESCRIPTOR => {
                // SAFETY: As above.
                destroy_port(unsafe { msg_u32(m, off) }, disposition());
                off += sys::MACH_MSG_PORT_DESCRIPTOR_SIZE as usize;
            }
            sys::MACH_MSG_OOL_DESCRIPTOR => {
                // SAFETY: As above.
                let (addr, dealloc, size) = unsafe {
                    (
                        m.add(off).cast::<u64>().read_unaligned(),
                        *m.add(off + 8),
                        msg_u32(m, off + 12),
                    )
                };
                if dealloc != 0 && size != 0 {
                    // SAFETY: The caller gives the region up.
                    unsafe {
                        vm_deallocate(sys::MACH_TASK_SELF_NAME, addr as usize, size as usize)
                    };
                }
                off += sys::MACH_MSG_OOL_DESCRIPTOR_SIZE as usize;
            }
            sys::MACH_MSG_OOL_VOLATILE_DESCRIPTOR => {
                off += sys::MACH_MSG_OOL_DESCRIPTOR_SIZE as usize;
            }
            sys::MACH_MSG_OOL_PORTS_DESCRIPTOR => {
                // SAFETY: As above.
                let (addr, dealloc, n) = unsafe {
                    (
                        m.add(off).cast::<u64>().read_unaligned() as usize,
                        *m.add(off + 8),
                        msg_u32(m, off + 12) as usize,
                    )
                };
                let disposition = disposition();
                if addr != 0 {
                    for i in 0..n {
                        // SAFETY: The array is readable (the caller's
                        // guarantee).
                        let name = unsafe { (addr as *const u32).add(i).read_unaligned() };
                        destroy_port(name, disposition);
                    }
                }
                if dealloc != 0 && n != 0 {
                    // SAFETY: The caller gives the region up.
                    unsafe { vm_deallocate(sys::MACH_TASK_SELF_NAME, addr, n.saturating_mul(4)) };
                }
                off += sys::MACH_MSG_OOL_DESCRIPTOR_SIZE as usize;
            }
            sys::MACH_MSG_GUARDED_PORT_DESCRIPTOR => {
                // LP64 user layout: context u64, flags u16, disposition,
                // type, name.
                // SAFETY: As above.
                destroy_port(unsafe { msg_u32(m, off + 12) }, disposition());
                off += 16;
            }
            // An unknown type: its size, and so the rest, is unknown.
            _ => break,
        }
    }
}

// ---------------------------------------------------------------------------
// mach_port_names and vm_deallocate.

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 && (p as usize).is_power_of_two() {
        p as usize
    } else {
        4096
    }
}

/// `n` rounded up to a multiple of the page size, None on overflow.
fn round_page(n: usize, page: usize) -> Option<usize> {
    Some(n.checked_add(page - 1)? & !(page - 1))
}

/// An anonymous read-write mapping of `len` bytes (a multiple of the page
/// size), unmapped on drop unless released.
struct Mapping {
    addr: *mut libc::c_void,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> Option<Mapping> {
        // SAFETY: An anonymous private mapping at an address of the kernel's
        // choosing touches no existing memory.
        let addr = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            None
        } else {
            Some(Mapping { addr, len })
        }
    }

    /// Unmaps everything past the first `keep` bytes (a page multiple) and
    /// hands the rest to the caller.
    fn release(self, keep: usize) -> *mut u32 {
        let this = ManuallyDrop::new(self);
        if keep < this.len {
            // SAFETY: The range lies inside this mapping, which we own.
            unsafe { libc::munmap(this.addr.cast::<u8>().add(keep).cast(), this.len - keep) };
        }
        this.addr.cast()
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: We own the mapping.
        unsafe { libc::munmap(self.addr, self.len) };
    }
}

/// Fills a names call with the given arrays.
fn names_ioctl(
    fd: RawFd,
    task: mach_port_name_t,
    capacity: u32,
    names: u64,
    types: u64,
) -> Result<sys::PortNamesArgs, kern_return_t> {
    let mut a = sys::PortNamesArgs {
        task,
        capacity,
        names,
        types,
        ..Default::default()
    };
    // SAFETY: `fd` is the open space; MACH_IOC_PORT_NAMES takes a
    // PortNamesArgs; the arrays are either absent (capacity 0) or two
    // mappings of at least `capacity` u32s each that we own.
    let r =
        unsafe { mach::ioctl_raw(BorrowedFd::borrow_raw(fd), sys::MACH_IOC_PORT_NAMES, &mut a) };
    match r {
        Err(e) => Err(errno_kr(e.raw_os_error())),
        Ok(()) if a.kr != sys::KERN_SUCCESS => Err(a.kr),
        Ok(()) => Ok(a),
    }
}

fn port_names(task: mach_port_name_t) -> Result<(*mut u32, *mut u32, u32), kern_return_t> {
    let fd = space_fd()?;
    let page = page_size();
    let mut count = names_ioctl(fd, task, 0, 0, 0)?.count;
    // The space may grow between two calls; each retry leaves more room.
    for attempt in 0u32..32 {
        if count == 0 {
            return Ok((ptr::null_mut(), ptr::null_mut(), 0));
        }
        let slack = 16u32 << attempt.min(14);
        let want = (count.saturating_add(slack) as usize).saturating_mul(4);
        let len = round_page(want, page).ok_or(sys::KERN_RESOURCE_SHORTAGE)?;
        let capacity = u32::try_from(len / 4).unwrap_or(u32::MAX);
        let names = Mapping::new(len).ok_or(sys::KERN_RESOURCE_SHORTAGE)?;
        let types = Mapping::new(len).ok_or(sys::KERN_RESOURCE_SHORTAGE)?;
        let a = names_ioctl(fd, task, capacity, names.addr as u64, types.addr as u64)?;
        if a.count == 0 {
            return Ok((ptr::null_mut(), ptr::null_mut(), 0));
        }
        if a.count <= capacity {
            // Keep only the pages the names fill, so that vm_deallocate of
            // count * 4 bytes frees the whole mapping.
            let keep = round_page(a.count as usize * 4, page).unwrap_or(len);
            return Ok((names.release(keep), types.release(keep), a.count));
        }
        count = a.count;
    }
    Err(sys::KERN_FAILURE)
}

/// Every name in the space with its type, in ascending order. The arrays are
/// fresh anonymous mappings, freed with `vm_deallocate(mach_task_self(),
/// (vm_address_t)array, count * sizeof(array[0]))`. With no names the counts
/// are 0 and both arrays NULL (nothing to free).
///
/// # Safety
///
/// Each pointer must be null or valid for writing its value.
#[no_mangle]
pub unsafe extern "C" fn mach_port_names(
    task: mach_port_name_t,
    names: *mut *mut u32,
    names_cnt: *mut u32,
    types: *mut *mut u32,
    types_cnt: *mut u32,
) -> kern_return_t {
    if names.is_null() || names_cnt.is_null() || types.is_null() || types_cnt.is_null() {
        return sys::KERN_INVALID_ARGUMENT;
    }
    match port_names(task) {
        Ok((n, t, count)) => {
            // SAFETY: Checked non-null; the caller guarantees validity.
            unsafe {
                names.write(n);
                names_cnt.write(count);
                types.write(t);
                types_cnt.write(count);
            }
            sys::KERN_SUCCESS
        }
        Err(kr) => kr,
    }
}

/// Fills a set-status call with the given array.
fn set_status_ioctl(
    fd: RawFd,
    task: mach_port_name_t,
    name: mach_port_name_t,
    capacity: u32,
    members: u64,
) -> Result<sys::PortSetStatusArgs, kern_return_t> {
    let mut a = sys::PortSetStatusArgs {
        task,
        name,
        members,
        capacity,
        ..Default::default()
    };
    // SAFETY: `fd` is the open space; MACH_IOC_PORT_GET_SET_STATUS takes a
    // PortSetStatusArgs; the array is either absent (capacity 0) or a
    // mapping of at least `capacity` u32s that we own.
    let r = unsafe {
        mach::ioctl_raw(
            BorrowedFd::borrow_raw(fd),
            sys::MACH_IOC_PORT_GET_SET_STATUS,
            &mut a,
        )
    };
    match r {
        Err(e) => Err(errno_kr(e.raw_os_error())),
        Ok(()) if a.kr != sys::KERN_SUCCESS => Err(a.kr),
        Ok(()) => Ok(a),
    }
}

fn set_members(
    task: mach_port_name_t,
    name: mach_port_name_t,
) -> Result<(*mut u32, u32), kern_return_t> {
    let fd = space_fd()?;
    let page = page_size();
    let mut count = set_status_ioctl(fd, task, name, 0, 0)?.count;
    // Members may join between two calls; each retry leaves more room.
    for attempt in 0u32..32 {
        if count == 0 {
            return Ok((ptr::null_mut(), 0));
        }
        let slack = 16u32 << attempt.min(14);
        let want = (count.saturating_add(slack) as usize).saturating_mul(4);
        let len = round_page(want, page).ok_or(sys::KERN_RESOURCE_SHORTAGE)?;
        let capacity = u32::try_from(len / 4).unwrap_or(u32::MAX);
        let members = Mapping::new(len).ok_or(sys::KERN_RESOURCE_SHORTAGE)?;
        let a = set_status_ioctl(fd, task, name, capacity, members.addr as u64)?;
        if a.count == 0 {
            return Ok((ptr::null_mut(), 0));
        }
        if a.count <= capacity {
            // Keep only the pages the names fill, so that vm_deallocate of
            // count * 4 bytes frees the whole mapping.
            let keep = round_page(a.count as usize * 4, page).unwrap_or(len);
            return Ok((members.release(keep), a.count));
        }
        count = a.count;
    }
    Err(sys::KERN_FAILURE)
}

/// The members of the port set `name`, in ascending order. The array is a
/// fresh anonymous mapping, freed with `vm_deallocate(mach_task_self(),
/// (vm_address_t)members, count * sizeof(members[0]))`. An empty set gives
/// count 0 and a NULL array (nothing to free).
///
/// # Safety
///
/// Each pointer must be null or valid for writing its value.
#[no_mangle]
pub unsafe extern "C" fn mach_port_get_set_status(
    task: mach_port_name_t,
    name: mach_port_name_t,
    members: *mut *mut u32,
    members_cnt: *mut mach_msg_type_number_t,
) -> kern_return_t {
    if members.is_null() || members_cnt.is_null() {
        return sys::KERN_INVALID_ARGUMENT;
    }
    match set_members(task, name) {
        Ok((m, count)) => {
            // SAFETY: Checked non-null; the caller guarantees validity.
            unsafe {
                members.write(m);
                members_cnt.write(count);
            }
            sys::KERN_SUCCESS
        }
        Err(kr) => kr,
    }
}

/// Unmaps the pages that hold `[address, address + size)`: the address is
/// rounded down and the end up to a page, as XNU does. `size` 0 succeeds
/// with nothing done. `target` other than `mach_task_self()`, a range that
/// wraps around, or a range munmap refuses: KERN_INVALID_ARGUMENT.
///
/// # Safety
///
/// As with munmap: nothing in the range may be in use.
#[no_mangle]
pub unsafe extern "C" fn vm_deallocate(
    target: mach_port_name_t,
    address: usize,
    size: usize,
) -> kern_return_t {
    if target != sys::MACH_TASK_SELF_NAME {
        return sys::KERN_INVALID_ARGUMENT;
    }
    if size == 0 {
        return sys::KERN_SUCCESS;
    }
    let page = page_size();
    let start = address & !(page - 1);
    let Some(end) = address.checked_add(size).and_then(|e| round_page(e, page)) else {
        return sys::KERN_INVALID_ARGUMENT;
    };
    if end <= start {
        return sys::KERN_INVALID_ARGUMENT;
    }
    // SAFETY: The caller gives up the range, as with vm_deallocate.
    let rc = unsafe { libc::munmap(start as *mut libc::c_void, end - start) };
    if rc == 0 {
        sys::KERN_SUCCESS
    } else {
        sys::KERN_INVALID_ARGUMENT
    }
}

// ---------------------------------------------------------------------------
// mach_error_string: macOS's strings (libsyscall/mach/err_*.sub).

static ERR_KERN: [&CStr; 57] = [
    c"(os/kern) successful",
    c"(os/kern) invalid address",
    c"(os/kern) protection failure",
    c"(os/kern) no space available",
    c"(os/kern) invalid argument",
    c"(os/kern) failure",
    c"(os/kern) resource shortage",
    c"(os/kern) not receiver",
    c"(os/kern) no access",
    c"(os/kern) memory failure",
    c"(os/kern) memory error",
    c"(os/kern) already in set",
    c"(os/kern) not in set",
    c"(os/kern) name exists",
    c"(os/kern) aborted",
    c"(os/kern) invalid name",
    c"(os/kern) invalid task",
    c"(os/kern) invalid right",
    c"(os/kern) invalid value",
    c"(os/kern) urefs overflow",
    c"(os/kern) invalid capability",
    c"(os/kern) right exists",
    c"(os/kern) invalid host",
    c"(os/kern) memory present",
    c"(os/kern) memory data moved",
    c"(os/kern) memory restart copy",
    c"(os/kern) invalid processor set",
    c"(os/kern) policy limit",
    c"(os/kern) invalid policy",
    c"(os/kern) invalid object",
    c"(os/kern) already waiting",
    c"(os/kern) default set",
    c"(os/kern) exception protected",
    c"(os/kern) invalid ledger",
    c"(os/kern) invalid memory control",
    c"(os/kern) invalid security",
    c"(os/kern) not depressed",
    c"(os/kern) object terminated",
    c"(os/kern) lock set destroyed",
    c"(os/kern) lock unstable",
    c"(os/kern) lock owned by another",
    c"(os/kern) lock owned by self",
    c"(os/kern) semaphore destroyed",
    c"(os/kern) RPC terminated",
    c"(os/kern) terminate orphan",
    c"(os/kern) let orphan continue",
    c"(os/kern) service not supported",
    c"(os/kern) remote node down",
    c"(os/kern) thread not waiting",
    c"(os/kern) operation timed out",
    c"(os/kern) code signing error",
    c"(os/kern) policy is static",
    c"(os/kern) insufficient input buffer size",
    c"(os/kern) denied by security policy",
    c"(os/kern) missing kernel collection",
    c"(os/kern) invalid kernel collection",
    c"(os/kern) result not found",
];

// The send and receive tables are those of current macOS, whose codes
// 5, 14 and 18 took new meanings (MACH_SEND_INVALID_VOUCHER,
// MACH_SEND_TOO_LARGE, MACH_SEND_INVALID_CONTEXT); the entries after
// macOS's last (send 23, receive 17 and 18) are this library's own text
// for codes abi.rs defines.
static ERR_MACH_SEND: [&CStr; 24] = [
    c"(ipc/send) no error",
    c"(ipc/send) send in progress",
    c"(ipc/send) invalid data",
    c"(ipc/send) invalid destination port",
    c"(ipc/send) timed out",
    c"(ipc/send) invalid voucher",
    c"(ipc/send) unused error",
    c"(ipc/send) interrupted",
    c"(ipc/send) msg too small",
    c"(ipc/send) invalid reply port",
    c"(ipc/send) invalid port right",
    c"(ipc/send) invalid notify port",
    c"(ipc/send) invalid memory",
    c"(ipc/send) no msg buffer",
    c"(ipc/send) msg too large",
    c"(ipc/send) invalid msg-type",
    c"(ipc/send) invalid msg-header",
    c"(ipc/send) invalid msg-trailer",
    c"(ipc/send) invalid context for reply",
    c"(ipc/send) unused error",
    c"(ipc/send) unused error",
    c"(ipc/send) out-of-line buffer too large",
    c"(ipc/send) destination does not accept OOL ports",
    c"(ipc/send) message filtered",
];

static ERR_MACH_RCV: [&CStr; 19] = [
    c"(ipc/rcv) no error",
    c"(ipc/rcv) receive in progress",
    c"(ipc/rcv) invalid name",
    c"(ipc/rcv) timed out",
    c"(ipc/rcv) msg too large",
    c"(ipc/rcv) interrupted",
    c"(ipc/rcv) port changed",
    c"(ipc/rcv) invalid notify port",
    c"(ipc/rcv) invalid data",
    c"(ipc/rcv) port died",
    c"(ipc/rcv) port in set",
    c"(ipc/rcv) header error",
    c"(ipc/rcv) body error",
    c"(ipc/rcv) invalid scatter list entry",
    c"(ipc/rcv) overwrite region too small",
    c"(ipc/rcv) invalid msg-trailer",
    c"(ipc/rcv) DIPC transport error",
    c"(ipc/rcv) receive in progress with timeout",
    c"(ipc/rcv) invalid reply port",
];

static ERR_MACH_MIG: [&CStr; 10] = [
    c"(ipc/mig) client type check failure",
    c"(ipc/mig) wrong reply message ID",
    c"(ipc/mig) server detected error",
    c"(ipc/mig) bad request message ID",
    c"(ipc/mig) server type check failure",
    c"(ipc/mig) no reply should be sent",
    c"(ipc/mig) server raised exception",
    c"(ipc/mig) array not large enough",
    c"(ipc/mig) server died",
    c"(ipc/mig) unknown trailer format",
];

fn error_string(err: i32) -> &'static CStr {
    // MIG's old negative codes (MIG_TYPE_ERROR -300 ...) as macOS maps them.
    let err = if (-399..=-300).contains(&err) {
        (4 << 26) | (2 << 14) | -(err + 300)
    } else {
        err
    } as u32;
    let system = (err >> 26) & 0x3f;
    let sub = ((err >> 14) & 0xfff) as usize;
    let mut code = (err & 0x3fff) as usize;
    if system == 4 && sub <= 1 {
        // A send or receive error with special bits (MACH_MSG_MASK, e.g.
        // MACH_RCV_BODY_ERROR|MACH_MSG_IPC_SPACE) reads as its base code.
        code &= !(sys::MACH_MSG_MASK as usize);
    }
    let unknown = c"unknown error code";
    let table: &[&CStr] = match (system, sub) {
        (0, 0) => &ERR_KERN,
        (0, 1..=3) => &[],
        (0, _) => return c"(operating system/?) unknown subsystem error",
        (1, _) => return c"(user space/?) unknown subsystem error",
        (2, _) => return c"(server/?) unknown subsystem error",
        (4, 0) => &ERR_MACH_SEND,
        (4, 1) => &ERR_MACH_RCV,
        (4, 2) => &ERR_MACH_MIG,
        (3 | 4, _) => return c"(ipc/?) unknown subsystem error",
        (0x37, _) => return c"(libkern/?) unknown subsystem error",
        (0x38, _) => return c"(iokit/?) unknown subsystem error",
        _ => return c"(?/?) unknown error system",
    };
    table.get(code).copied().unwrap_or(unknown)
}

/// A static description of a Mach error, never NULL.
#[no_mangle]
pub extern "C" fn mach_error_string(error_value: kern_return_t) -> *mut c_char {
    error_string(error_value).as_ptr().cast_mut()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_strings() {
        assert_eq!(error_string(0), c"(os/kern) successful");
        assert_eq!(error_string(15), c"(os/kern) invalid name");
        assert_eq!(error_string(56), c"(os/kern) result not found");
        // The port-set, notification and backup calls' own codes.
        assert_eq!(
            error_string(sys::KERN_ALREADY_IN_SET),
            c"(os/kern) already in set"
        );
        assert_eq!(error_string(sys::KERN_NOT_IN_SET), c"(os/kern) not in set");
        assert_eq!(
            error_string(sys::KERN_NOT_RECEIVER),
            c"(os/kern) not receiver"
        );
        assert_eq!(
            error_string(sys::KERN_INVALID_CAPABILITY),
            c"(os/kern) invalid capability"
        );
        assert_eq!(
            error_string(sys::MACH_RCV_PORT_CHANGED),
            c"(ipc/rcv) port changed"
        );
        assert_eq!(error_string(57), c"unknown error code");
        assert_eq!(
            error_string(0x1000_0003),
            c"(ipc/send) invalid destination port"
        );
        assert_eq!(error_string(0x1000_4003), c"(ipc/rcv) timed out");
        assert_eq!(
            error_string(sys::MACH_SEND_INVALID_VOUCHER),
            c"(ipc/send) invalid voucher"
        );
        assert_eq!(
            error_string(sys::MACH_SEND_TOO_LARGE),
            c"(ipc/send) msg too large"
        );
        assert_eq!(
            error_string(sys::MACH_RCV_BODY_ERROR | sys::MACH_MSG_IPC_SPACE),
            c"(ipc/rcv) body error"
        );
        assert_eq!(error_string(0x1000_4013), c"unknown error code");
        // Every mach_msg code abi.rs defines has its own text.
        for mr in [
            sys::MACH_SEND_IN_PROGRESS,
            sys::MACH_SEND_INVALID_DATA,
            sys::MACH_SEND_INVALID_DEST,
            sys::MACH_SEND_TIMED_OUT,
            sys::MACH_SEND_INVALID_VOUCHER,
            sys::MACH_SEND_INTERRUPTED,
            sys::MACH_SEND_MSG_TOO_SMALL,
            sys::MACH_SEND_INVALID_REPLY,
            sys::MACH_SEND_INVALID_RIGHT,
            sys::MACH_SEND_INVALID_NOTIFY,
            sys::MACH_SEND_INVALID_MEMORY,
            sys::MACH_SEND_NO_BUFFER,
            sys::MACH_SEND_TOO_LARGE,
            sys::MACH_SEND_INVALID_TYPE,
            sys::MACH_SEND_INVALID_HEADER,
            sys::MACH_SEND_INVALID_TRAILER,
            sys::MACH_SEND_INVALID_CONTEXT,
            sys::MACH_SEND_INVALID_RT_OOL_SIZE,
            sys::MACH_SEND_NO_GRANT_DEST,
            sys::MACH_SEND_MSG_FILTERED,
            sys::MACH_RCV_IN_PROGRESS,
            sys::MACH_RCV_INVALID_NAME,
            sys::MACH_RCV_TIMED_OUT,
            sys::MACH_RCV_TOO_LARGE,
            sys::MACH_RCV_INTERRUPTED,
            sys::MACH_RCV_PORT_CHANGED,
            sys::MACH_RCV_INVALID_NOTIFY,
            sys::MACH_RCV_INVALID_DATA,
            sys::MACH_RCV_PORT_DIED,
            sys::MACH_RCV_IN_SET,
            sys::MACH_RCV_HEADER_ERROR,
            sys::MACH_RCV_BODY_ERROR,
            sys::MACH_RCV_INVALID_TYPE,
            sys::MACH_RCV_SCATTER_SMALL,
            sys::MACH_RCV_INVALID_TRAILER,
            sys::MACH_RCV_IN_PROGRESS_TIMED,
            sys::MACH_RCV_INVALID_REPLY,
        ] {
            let text = error_string(mr).to_str().unwrap();
            assert!(
                text.starts_with("(ipc/") && !text.contains("unused"),
                "{mr:#x}: {text}"
            );
        }
        assert_eq!(error_string(-300), c"(ipc/mig) client type check failure");
        assert_eq!(error_string(-1), c"(?/?) unknown error system");
        assert_eq!(error_string(i32::MIN), c"(?/?) unknown error system");
    }

    #[test]
    fn vm_deallocate_checks() {
        // SAFETY: Nothing is unmapped on these paths, or only a fresh mapping.
        unsafe {
            assert_eq!(vm_deallocate(0, 0x1000, 0x1000), sys::KERN_INVALID_ARGUMENT);
            assert_eq!(
                vm_deallocate(sys::MACH_TASK_SELF_NAME, 0, 0),
                sys::KERN_SUCCESS
            );
            assert_eq!(
                vm_deallocate(sys::MACH_TASK_SELF_NAME, usize::MAX - 10, 100),
                sys::KERN_INVALID_ARGUMENT
            );
            let m = Mapping::new(page_size() * 2).unwrap();
            let p = m.release(page_size() * 2) as usize;
            assert_eq!(
                vm_deallocate(sys::MACH_TASK_SELF_NAME, p + 8, page_size()),
                sys::KERN_SUCCESS
            );
        }
    }

    #[test]
    fn task_for_fd_errno_mapping() {
        let os = |errno| Error::Os(std::io::Error::from_raw_os_error(errno));
        assert_eq!(task_for_fd_kr(&os(libc::EBADF)), sys::KERN_INVALID_ARGUMENT);
        assert_eq!(task_for_fd_kr(&os(libc::EFAULT)), sys::KERN_INVALID_ADDRESS);
        assert_eq!(task_for_fd_kr(&os(libc::ENOTTY)), sys::KERN_FAILURE);
        assert_eq!(
            task_for_fd_kr(&Error::Kern(mach::KernReturn(sys::KERN_INVALID_ARGUMENT))),
            sys::KERN_INVALID_ARGUMENT
        );
    }

    #[test]
    fn null_out_pointers() {
        let mut n = 0u32;
        // SAFETY: Null pointers are checked before anything else.
        unsafe {
            assert_eq!(task_for_fd(0, ptr::null_mut()), sys::KERN_INVALID_ARGUMENT);
            assert_eq!(
                mach_port_extract_right(sys::MACH_TASK_SELF_NAME, 1, 20, ptr::null_mut(), &mut n),
                sys::KERN_INVALID_ARGUMENT
            );
            assert_eq!(
                mach_port_extract_right(sys::MACH_TASK_SELF_NAME, 1, 20, &mut n, ptr::null_mut()),
                sys::KERN_INVALID_ARGUMENT
            );
        }
    }

    #[test]
    fn null_out_pointers_of_set_and_notify_calls() {
        let mut n = 0u32;
        let mut array = ptr::null_mut();
        // SAFETY: Null pointers are checked before anything else.
        unsafe {
            assert_eq!(
                mach_port_get_set_status(0x103, 0x207, ptr::null_mut(), &mut n),
                sys::KERN_INVALID_ARGUMENT
            );
            assert_eq!(
                mach_port_get_set_status(0x103, 0x207, &mut array, ptr::null_mut()),
                sys::KERN_INVALID_ARGUMENT
            );
            assert_eq!(
                mach_port_request_notification(
                    0x103,
                    0x207,
                    sys::MACH_NOTIFY_DEAD_NAME,
                    0,
                    0x307,
                    sys::MACH_MSG_TYPE_MAKE_SEND_ONCE,
                    ptr::null_mut()
                ),
                sys::KERN_INVALID_ARGUMENT
            );
            assert_eq!(
                port_set_backup(0x103, 0x207, 0x307, ptr::null_mut()),
                sys::KERN_INVALID_ARGUMENT
            );
        }
    }

    #[test]
    fn ndr_record() {
        assert_eq!(NDR_record.bytes, [0, 0, 0, 0, 1, 0, 0, 0]);
    }

    #[test]
    fn msg_errno_mapping() {
        let send = sys::MACH_SEND_MSG | sys::MACH_RCV_MSG;
        assert_eq!(
            msg_errno_mr(Some(libc::EFAULT), send),
            sys::MACH_SEND_INVALID_DATA
        );
        assert_eq!(
            msg_errno_mr(Some(libc::EINVAL), send),
            sys::MACH_SEND_INVALID_DATA
        );
        assert_eq!(
            msg_errno_mr(Some(libc::ENOMEM), send),
            sys::MACH_SEND_NO_BUFFER
        );
        assert_eq!(
            msg_errno_mr(Some(libc::EFAULT), sys::MACH_RCV_MSG),
            sys::MACH_RCV_INVALID_DATA
        );
        assert_eq!(
            msg_errno_mr(Some(libc::ENOTTY), sys::MACH_RCV_MSG),
            sys::MACH_RCV_INVALID_DATA
        );
        assert_eq!(msg_errno_mr(None, 0), sys::MACH_RCV_INVALID_DATA);
    }

    #[test]
    fn msg_null_pointers() {
        let mut n = 0u32;
        // SAFETY: Null pointers are checked before anything else.
        unsafe {
            assert_eq!(mach_msg_send(ptr::null_mut()), sys::MACH_SEND_INVALID_DATA);
            assert_eq!(
                mach_msg_receive(ptr::null_mut()),
                sys::MACH_RCV_INVALID_DATA
            );
            mach_msg_destroy(ptr::null_mut());
            assert_eq!(
                mach_port_get_attributes(0x103, 1, 1, ptr::null_mut(), &mut n),
                sys::KERN_INVALID_ARGUMENT
            );
            let mut info = 0;
            assert_eq!(
                mach_port_get_attributes(0x103, 1, 1, &mut info, ptr::null_mut()),
                sys::KERN_INVALID_ARGUMENT
            );
            assert_eq!(
                mach_port_set_attributes(0x103, 1, 1, ptr::null_mut(), 1),
                sys::KERN_INVALID_ARGUMENT
            );
        }
    }

    #[test]
    fn destroy_of_a_message_without_rights_touches_nothing() {
        // Dispositions without a valid name, and an unknown descriptor type
        // that ends the walk: no call reaches /dev/mach.
        let mut m = [0u32; 16];
        m[0] = sys::MACH_MSGH_BITS_COMPLEX | sys::MACH_MSG_TYPE_PORT_SEND;
        m[2] = sys::MACH_PORT_DEAD;
        m[6] = 2;
        m[7] = 0; // port descriptor: name NULL
        m[9] = (sys::MACH_MSG_TYPE_PORT_SEND << 16) | (sys::MACH_MSG_PORT_DESCRIPTOR << 24);
        m[12] = 9 << 24; // unknown type
                         // SAFETY: The message lies in `m`.
        unsafe { mach_msg_destroy(m.as_mut_ptr().cast()) };
        assert_eq!(SPACE_FD.load(Ordering::Relaxed), -1);
    }

    #[test]
    fn errno_mapping() {
        assert_eq!(errno_kr(Some(libc::EFAULT)), sys::KERN_INVALID_ADDRESS);
        assert_eq!(errno_kr(Some(libc::EINVAL)), sys::KERN_INVALID_ARGUMENT);
        assert_eq!(errno_kr(Some(libc::ENOMEM)), sys::KERN_RESOURCE_SHORTAGE);
        assert_eq!(errno_kr(Some(libc::ENOTTY)), sys::KERN_FAILURE);
        assert_eq!(errno_kr(None), sys::KERN_FAILURE);
    }
}
