//! Tests with two processes: a forked child that runs a closure, and a
//! channel between the two for short text messages and file descriptors.
//!
//! The channel is a `SOCK_SEQPACKET` socket pair, so each message arrives
//! whole and a descriptor (SCM_RIGHTS) travels with the message it was sent
//! with. A child that fails sends `error: why` and exits with status 1; the
//! parent sees that as the error of its next `recv` or of `wait`. A child
//! dies with its parent (PR_SET_PDEATHSIG), and a [`Child`] that is dropped
//! unreaped is killed, so no test leaves a process behind.

use std::collections::VecDeque;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;

use mach::PortName;

use crate::tap::TestResult;

/// The longest message; longer error messages are cut.
const MAX_MESSAGE: usize = 4000;

const ERROR_PREFIX: &str = "error: ";

/// One end of the channel between the two processes.
pub struct Peer {
    sock: OwnedFd,
    /// Who is at the other end, for messages: "child" or "parent".
    other: &'static str,
    /// Descriptors that arrived with messages, oldest first.
    fds: VecDeque<OwnedFd>,
}

impl Peer {
    /// Sends `msg`.
    pub fn send(&self, msg: &str) -> TestResult {
        self.send_with(msg, None)
    }

    /// Sends `msg` with a copy of `fd` (SCM_RIGHTS).
    pub fn send_fd(&self, msg: &str, fd: BorrowedFd<'_>) -> TestResult {
        self.send_with(msg, Some(fd.as_raw_fd()))
    }

    /// Sends `tag 0x...`, a port name.
    pub fn send_name(&self, tag: &str, name: PortName) -> TestResult {
        self.send(&format!("{tag} {:#x}", name.0))
    }

    fn send_with(&self, msg: &str, fd: Option<RawFd>) -> TestResult {
        let mut end = msg.len().min(MAX_MESSAGE);
        while !msg.is_char_boundary(end) {
            end -= 1;
        }
        let bytes = &msg.as_bytes()[..end];
        let mut iov = libc::iovec {
            iov_base: bytes.as_ptr() as *mut libc::c_void,
            iov_len: bytes.len(),
        };
        // Room for one descriptor, aligned for cmsghdr.
        let mut control = [0u64; 8];
        // SAFETY: msghdr is a plain C struct for which all zeroes is valid.
        let mut msg_hdr: libc::msghdr = unsafe { zeroed() };
        msg_hdr.msg_iov = &mut iov;
        msg_hdr.msg_iovlen = 1;
        if let Some(fd) = fd {
            // SAFETY: CMSG_SPACE only computes a size.
            let space = unsafe { libc::CMSG_SPACE(size_of::<RawFd>() as u32) } as usize;
            assert!(space <= size_of::<[u64; 8]>());
            msg_hdr.msg_control = control.as_mut_ptr().cast();
            msg_hdr.msg_controllen = space;
            // SAFETY: msg_control points to `space` bytes of ours, enough
            // for one header and one descriptor; CMSG_FIRSTHDR and CMSG_DATA
            // stay inside it.
            unsafe {
                let cmsg = libc::CMSG_FIRSTHDR(&msg_hdr);
                (*cmsg).cmsg_level = libc::SOL_SOCKET;
                (*cmsg).cmsg_type = libc::SCM_RIGHTS;
                (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<RawFd>() as u32) as usize;
                ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
            }
        }
        loop {
            // SAFETY: msg_hdr points to our buffers, valid for the call.
            let n = unsafe { libc::sendmsg(self.sock.as_raw_fd(), &msg_hdr, libc::MSG_NOSIGNAL) };
            if n >= 0 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(format!("sending {msg:?} to the {}: {err}", self.other));
            }
        }
    }

    /// The next message. An `error: ...` message from the other process,
    /// or the other process going away, is an error.
    pub fn recv(&mut self) -> Result<String, String> {
        let mut buf = vec![0u8; MAX_MESSAGE + 16];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut control = [0u64; 16];
        // SAFETY: msghdr is a plain C struct for which all zeroes is valid.
        let mut msg_hdr: libc::msghdr = unsafe { zeroed() };
        msg_hdr.msg_iov = &mut iov;
        msg_hdr.msg_iovlen = 1;
        msg_hdr.msg_control = control.as_mut_ptr().cast();
        msg_hdr.msg_controllen = size_of::<[u64; 16]>();
        let n = loop {
            // SAFETY: msg_hdr points to our buffers, valid for the call.
            let n = unsafe {
                libc::recvmsg(self.sock.as_raw_fd(), &mut msg_hdr, libc::MSG_CMSG_CLOEXEC)
            };
            if n >= 0 {
                break n as usize;
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(format!("receiving from the {}: {err}", self.other));
            }
        };
        // SAFETY: The kernel filled msg_control and set msg_controllen; the
        // CMSG_* macros walk only what it wrote.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg_hdr);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                    let data = libc::CMSG_DATA(cmsg);
                    let count =
                        ((*cmsg).cmsg_len - libc::CMSG_LEN(0) as usize) / size_of::<RawFd>();
                    for i in 0..count {
                        let fd = ptr::read_unaligned(data.cast::<RawFd>().add(i));
                        // The descriptor is new in this process and ours.
                        self.fds.push_back(OwnedFd::from_raw_fd(fd));
                    }
                }
                cmsg = libc::CMSG_NXTHDR(&msg_hdr, cmsg);
            }
        }
        if n == 0 {
            return Err(format!("the {} went away without a word", self.other));
        }
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        match text.strip_prefix(ERROR_PREFIX) {
            Some(why) => Err(format!("in the {}: {why}", self.other)),
            None => Ok(text),
        }
    }

    /// Receives a message and expects it to be `want`.
    pub fn expect(&mut self, want: &str) -> TestResult {
        let got = self.recv()?;
        if got == want {
            Ok(())
        } else {
            Err(format!(
                "expected {want:?} from the {}, got {got:?}",
                self.other
            ))
        }
    }

    /// Receives `tag 0x...` and gives the name.
    pub fn recv_name(&mut self, tag: &str) -> Result<PortName, String> {
        let got = self.recv()?;
        got.strip_prefix(tag)
            .and_then(|rest| rest.strip_prefix(" 0x"))
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .map(PortName)
            .ok_or_else(|| {
                format!(
                    "expected \"{tag} 0x...\" from the {}, got {got:?}",
                    self.other
                )
            })
    }

    /// The oldest descriptor received and not yet taken.
    pub fn take_fd(&mut self) -> Result<OwnedFd, String> {
        self.fds
            .pop_front()
            .ok_or_else(|| format!("no descriptor came from the {}", self.other))
    }
}

/// A forked child running a closure.
pub struct Child {
    pid: libc::pid_t,
    pub peer: Peer,
    reaped: bool,
}

/// Forks a child that runs `body` with its end of the channel and then
/// exits: status 0 when `body` gives `Ok`; otherwise it sends the error
/// and exits with status 1. `close` lists descriptors the child closes
/// first (spaces the parent opened and the child must not keep open).
///
/// The child must not return into the harness: it leaves by `_exit`, so it
/// runs no destructor of the parent's values.
pub fn spawn(close: &[RawFd], body: impl FnOnce(&mut Peer) -> TestResult) -> Result<Child, String> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two ints for socketpair to fill.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(format!("socketpair: {}", io::Error::last_os_error()));
    }
    // SAFETY: Both descriptors are new and owned by nothing else.
    let (parent_end, child_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let parent_pid = std::process::id() as libc::pid_t;
    // SAFETY: The test process is single-threaded, so the child is a full
    // copy of a consistent process; it leaves by `_exit` below.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(parent_end);
        // SAFETY: prctl, getppid, close and _exit have no memory-safety
        // preconditions; the descriptors closed are the caller's to give
        // away in this process, and nothing in the child uses them again.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() != parent_pid {
                libc::_exit(3);
            }
            for &fd in close {
                libc::close(fd);
            }
        }
        let mut peer = Peer {
            sock: child_end,
            other: "parent",
            fds: VecDeque::new(),
        };
        let status = match body(&mut peer) {
            Ok(()) => 0,
            Err(why) => {
                let _ = peer.send(&format!("{ERROR_PREFIX}{why}"));
                1
            }
        };
        // SAFETY: Leaves the child at once, without running the parent's
        // destructors or exit-time cleanups.
        unsafe { libc::_exit(status) }
    }
    drop(child_end);
    Ok(Child {
        pid,
        peer: Peer {
            sock: parent_end,
            other: "child",
            fds: VecDeque::new(),
        },
        reaped: false,
    })
}

impl Child {
    /// The child's process id (for signals and /proc).
    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    fn reap(&mut self) -> Result<libc::c_int, String> {
        loop {
            let mut status = 0;
            // SAFETY: `status` is a valid int for waitpid to fill.
            let rc = unsafe { libc::waitpid(self.pid, &mut status, 0) };
            if rc == self.pid {
                self.reaped = true;
                return Ok(status);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(format!("waitpid({}): {err}", self.pid));
            }
        }
    }

    /// Waits for the child to exit; it must have exited with status 0.
    pub fn wait(&mut self) -> TestResult {
        let status = self.reap()?;
        if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
            return Ok(());
        }
        // Its error, if it sent one.
        loop {
            match self.peer.recv() {
                Ok(_) => continue,
                Err(why) if why.starts_with("in the child") => return Err(why),
                Err(_) => break,
            }
        }
        if libc::WIFSIGNALED(status) {
            Err(format!(
                "the child was killed by signal {}",
                libc::WTERMSIG(status)
            ))
        } else {
            Err(format!(
                "the child exited with status {}",
                libc::WEXITSTATUS(status)
            ))
        }
    }

    /// Kills the child with SIGKILL and reaps it: when this returns, the
    /// child's descriptors are closed.
    pub fn kill(&mut self) -> TestResult {
        // SAFETY: kill has no memory-safety preconditions; the pid is our
        // unreaped child, so it names no other process.
        if unsafe { libc::kill(self.pid, libc::SIGKILL) } != 0 {
            return Err(format!(
                "kill({}, SIGKILL): {}",
                self.pid,
                io::Error::last_os_error()
            ));
        }
        let status = self.reap()?;
        if libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL {
            Ok(())
        } else {
            Err(format!(
                "the child was not killed by SIGKILL (wait status {status:#x})"
            ))
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: As in `kill`.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            let _ = self.reap();
        }
    }
}

/// A pipe, for a descriptor that is open but not `/dev/mach`.
pub fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("pipe2: {}", io::Error::last_os_error()));
    }
    // SAFETY: Both descriptors are new and owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}
