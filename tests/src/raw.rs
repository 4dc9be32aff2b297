//! Raw ioctls and memory mappings, for the tests of the transport layer:
//! malformed commands, bad argument addresses, reserved fields.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::ptr;

use mach::sys;

// asm-generic's ioctl encoding (x86_64, arm64).
pub const IOC_NONE: u32 = 0;
pub const IOC_WRITE: u32 = 1;
pub const IOC_READ: u32 = 2;
pub const IOC_READ_WRITE: u32 = IOC_READ | IOC_WRITE;

/// `_IOC(dir, ty, nr, size)`.
pub const fn ioc(dir: u32, ty: u8, nr: u32, size: u32) -> u32 {
    (dir << 30) | (size << 16) | ((ty as u32) << 8) | nr
}

/// One command of the ABI, with its number and argument size.
#[derive(Clone, Copy)]
pub struct Cmd {
    pub name: &'static str,
    pub cmd: u32,
    pub nr: u32,
    pub size: u32,
    /// Byte offset of the `kr` field, for commands that have one.
    pub kr_offset: Option<usize>,
}

const fn cmd(name: &'static str, cmd: u32, kr_offset: Option<usize>) -> Cmd {
    Cmd {
        name,
        cmd,
        nr: cmd & 0xff,
        size: (cmd >> 16) & 0x3fff,
        kr_offset,
    }
}

/// Every command of the ABI.
pub const COMMANDS: [Cmd; 13] = [
    cmd("MACH_IOC_API_VERSION", sys::MACH_IOC_API_VERSION, None),
    cmd("MACH_IOC_REPLY_PORT", sys::MACH_IOC_REPLY_PORT, None),
    cmd(
        "MACH_IOC_PORT_ALLOCATE",
        sys::MACH_IOC_PORT_ALLOCATE,
        Some(12),
    ),
    cmd(
        "MACH_IOC_PORT_ALLOCATE_NAME",
        sys::MACH_IOC_PORT_ALLOCATE_NAME,
        Some(12),
    ),
    cmd("MACH_IOC_PORT_TYPE", sys::MACH_IOC_PORT_TYPE, Some(12)),
    cmd("MACH_IOC_PORT_NAMES", sys::MACH_IOC_PORT_NAMES, Some(28)),
    cmd(
        "MACH_IOC_PORT_GET_REFS",
        sys::MACH_IOC_PORT_GET_REFS,
        Some(16),
    ),
    cmd(
        "MACH_IOC_PORT_MOD_REFS",
        sys::MACH_IOC_PORT_MOD_REFS,
        Some(16),
    ),
    cmd(
        "MACH_IOC_PORT_DEALLOCATE",
        sys::MACH_IOC_PORT_DEALLOCATE,
        Some(8),
    ),
    cmd("MACH_IOC_PORT_DESTROY", sys::MACH_IOC_PORT_DESTROY, Some(8)),
    cmd(
        "MACH_IOC_PORT_INSERT_RIGHT",
        sys::MACH_IOC_PORT_INSERT_RIGHT,
        Some(16),
    ),
    cmd(
        "MACH_IOC_PORT_EXTRACT_RIGHT",
        sys::MACH_IOC_PORT_EXTRACT_RIGHT,
        Some(20),
    ),
    cmd("MACH_IOC_TASK_FOR_FD", sys::MACH_IOC_TASK_FOR_FD, Some(8)),
];

/// Issues `cmd` on `fd` with the argument address `arg`; gives the errno
/// when the ioctl fails.
///
/// # Safety
///
/// `arg` must be null, an address that is not mapped or not writable, or
/// the start of memory that is valid for reads and writes of at least the
/// size encoded in `cmd` and that nothing else uses during the call.
pub unsafe fn ioctl(fd: &impl AsRawFd, cmd: u32, arg: *mut u8) -> Result<(), i32> {
    let fd: RawFd = fd.as_raw_fd();
    // SAFETY: The caller vouches for `arg`; the kernel checks every address
    // it is given, so a bad one gives EFAULT rather than touching our memory.
    let rc = unsafe { libc::ioctl(fd, cmd as libc::c_ulong, arg) };
    if rc < 0 {
        Err(io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(())
    }
}

/// The page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

/// Anonymous pages of our own; unmapped when dropped. Individual pages can
/// be made read-only or unmapped to make bad addresses next to good ones.
pub struct Pages {
    base: *mut u8,
    len: usize,
    page: usize,
    /// Which pages are still ours: an unmapped one may be handed to the
    /// next mmap, so `Drop` must leave it alone.
    mapped: Vec<bool>,
}

impl Pages {
    /// `count` zero-filled read-write pages.
    pub fn new(count: usize) -> Result<Pages, String> {
        let page = page_size();
        let len = count * page;
        // SAFETY: An anonymous private mapping at an address of the kernel's
        // choosing; it overlaps nothing of ours.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(format!(
                "mmap of {count} pages: {}",
                io::Error::last_os_error()
            ));
        }
        Ok(Pages {
            base: base.cast(),
            len,
            page,
            mapped: vec![true; count],
        })
    }

    /// The address of page `i`.
    pub fn page(&self, i: usize) -> *mut u8 {
        assert!(i * self.page < self.len);
        self.base.wrapping_add(i * self.page)
    }

    /// The address `off` bytes into the mapping (may lie in a page that has
    /// been unmapped or protected: that is the point).
    pub fn at(&self, off: usize) -> *mut u8 {
        self.base.wrapping_add(off)
    }

    pub fn page_len(&self) -> usize {
        self.page
    }

    /// Writes `words` at `off`; the bytes must lie in pages still mapped
    /// read-write.
    pub fn write_words(&mut self, off: usize, words: &[u32]) {
        let bytes = words.len() * 4;
        assert!(off + bytes <= self.len);
        assert!((off / self.page..(off + bytes).div_ceil(self.page)).all(|i| self.mapped[i]));
        // SAFETY: The range is inside our mapping (checked above) and the
        // caller keeps it mapped read-write; unaligned writes are allowed.
        unsafe { ptr::copy_nonoverlapping(words.as_ptr().cast::<u8>(), self.base.add(off), bytes) };
    }

    /// Reads the `u32` at `off`, which must lie in a readable page.
    pub fn read_word(&self, off: usize) -> u32 {
        assert!(off + 4 <= self.len);
        // SAFETY: Inside our mapping, readable by the caller's contract.
        unsafe { ptr::read_unaligned(self.base.add(off).cast::<u32>()) }
    }

    /// Makes page `i` read-only.
    pub fn make_read_only(&mut self, i: usize) -> Result<(), String> {
        // SAFETY: Page `i` is part of our own mapping.
        let rc = unsafe { libc::mprotect(self.page(i).cast(), self.page, libc::PROT_READ) };
        if rc != 0 {
            return Err(format!("mprotect: {}", io::Error::last_os_error()));
        }
        Ok(())
    }

    /// Unmaps page `i`; its addresses then fault.
    pub fn unmap(&mut self, i: usize) -> Result<(), String> {
        if !self.mapped[i] {
            return Ok(());
        }
        // SAFETY: Page `i` is part of our own mapping and nothing refers to
        // its contents.
        let rc = unsafe { libc::munmap(self.page(i).cast(), self.page) };
        if rc != 0 {
            return Err(format!("munmap: {}", io::Error::last_os_error()));
        }
        self.mapped[i] = false;
        Ok(())
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        for i in 0..self.mapped.len() {
            if self.mapped[i] {
                // SAFETY: Page `i` is still part of our own mapping.
                unsafe { libc::munmap(self.page(i).cast(), self.page) };
            }
        }
    }
}
