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

static ERR_MACH_SEND: [&CStr; 22] = [
    c"(ipc/send) no error",
    c"(ipc/send) send in progress",
    c"(ipc/send) invalid data",
    c"(ipc/send) invalid destination port",
    c"(ipc/send) timed out",
    c"(ipc/send) will notify",
    c"(ipc/send) notify in progress",
    c"(ipc/send) interrupted",
    c"(ipc/send) msg too small",
    c"(ipc/send) invalid reply port",
    c"(ipc/send) invalid port right",
    c"(ipc/send) invalid notify port",
    c"(ipc/send) invalid memory",
    c"(ipc/send) no msg buffer",
    c"(ipc/send) no notify possible",
    c"(ipc/send) invalid msg-type",
    c"(ipc/send) invalid msg-header",
    c"(ipc/send) invalid msg-trailer",
    c"(ipc/send) DIPC transport failure",
    c"(ipc/send) DIPC port migrated",
    c"(ipc/send) DIPC resend failed",
    c"(ipc/send) out-of-line buffer too large",
];

static ERR_MACH_RCV: [&CStr; 17] = [
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
    let code = (err & 0x3fff) as usize;
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
        assert_eq!(error_string(57), c"unknown error code");
        assert_eq!(
            error_string(0x1000_0003),
            c"(ipc/send) invalid destination port"
        );
        assert_eq!(error_string(0x1000_4003), c"(ipc/rcv) timed out");
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
    fn errno_mapping() {
        assert_eq!(errno_kr(Some(libc::EFAULT)), sys::KERN_INVALID_ADDRESS);
        assert_eq!(errno_kr(Some(libc::EINVAL)), sys::KERN_INVALID_ARGUMENT);
        assert_eq!(errno_kr(Some(libc::ENOMEM)), sys::KERN_RESOURCE_SHORTAGE);
        assert_eq!(errno_kr(Some(libc::ENOTTY)), sys::KERN_FAILURE);
        assert_eq!(errno_kr(None), sys::KERN_FAILURE);
    }
}
