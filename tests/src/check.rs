//! The vocabulary of the tests.
//!
//! Every call made through a [`TestSpace`] returns a [`Call`], which knows how
//! it was made. Checking it against an expectation gives `Ok` or a message
//! that names the call, what was expected and what came back:
//!
//! ```text
//! mod_refs(0x103, 0x207, RECEIVE, +1): expected KERN_INVALID_VALUE, got KERN_SUCCESS
//! ```

use std::collections::BTreeMap;
use std::fmt::{self, Debug};
use std::os::fd::AsFd;

use mach::{sys, Error, KernReturn, PortName, PortRight, PortType, Space};

pub use crate::tap::{Ctx, TestResult};

/// The caller's own task, `mach_task_self()`.
pub const TASK: PortName = PortName(sys::MACH_TASK_SELF_NAME);
pub const NULL: PortName = PortName::NULL;
pub const DEAD: PortName = PortName::DEAD;

pub const SEND: PortRight = PortRight::SEND;
pub const RECEIVE: PortRight = PortRight::RECEIVE;
pub const SEND_ONCE: PortRight = PortRight::SEND_ONCE;
pub const PORT_SET: PortRight = PortRight::PORT_SET;
pub const DEAD_NAME: PortRight = PortRight::DEAD_NAME;
pub const LABELH: PortRight = PortRight(sys::MACH_PORT_RIGHT_LABELH);
/// `MACH_PORT_RIGHT_NUMBER`, the first value that is no right at all.
pub const RIGHT_NUMBER: PortRight = PortRight(sys::MACH_PORT_RIGHT_NUMBER);
/// Every right value below `MACH_PORT_RIGHT_NUMBER`.
pub const ALL_RIGHTS: [PortRight; 6] = [SEND, RECEIVE, SEND_ONCE, PORT_SET, DEAD_NAME, LABELH];
/// The rights `mach_port_allocate` creates.
pub const ALLOCATABLE: [PortRight; 3] = [RECEIVE, PORT_SET, DEAD_NAME];
/// Right values `mach_port_allocate` refuses.
pub const NOT_ALLOCATABLE: [PortRight; 8] = [
    SEND,
    SEND_ONCE,
    LABELH,
    RIGHT_NUMBER,
    PortRight(7),
    PortRight(0x100),
    PortRight(0x8000_0000),
    PortRight(0xffff_ffff),
];

pub const KERN_SUCCESS: KernReturn = KernReturn::KERN_SUCCESS;
pub const KERN_NO_SPACE: KernReturn = KernReturn::KERN_NO_SPACE;
pub const KERN_NAME_EXISTS: KernReturn = KernReturn::KERN_NAME_EXISTS;
pub const KERN_INVALID_NAME: KernReturn = KernReturn::KERN_INVALID_NAME;
pub const KERN_INVALID_TASK: KernReturn = KernReturn::KERN_INVALID_TASK;
pub const KERN_INVALID_RIGHT: KernReturn = KernReturn::KERN_INVALID_RIGHT;
pub const KERN_INVALID_VALUE: KernReturn = KernReturn::KERN_INVALID_VALUE;
pub const KERN_UREFS_OVERFLOW: KernReturn = KernReturn::KERN_UREFS_OVERFLOW;

/// `MACH_PORT_UREFS_MAX`.
pub const UREFS_MAX: u32 = sys::MACH_PORT_UREFS_MAX;

/// The type bit a right gives a name.
pub fn type_of(right: PortRight) -> PortType {
    PortType(sys::mach_port_type(right.0))
}

/// A right as the man pages write it.
pub struct R(pub PortRight);

impl fmt::Display for R {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 .0 {
            sys::MACH_PORT_RIGHT_LABELH => f.write_str("LABELH"),
            0..=4 => write!(f, "{:?}", self.0),
            other => write!(f, "{other:#x}"),
        }
    }
}

/// The outcome of one call, with the call written out for messages.
#[must_use = "a call's outcome is there to be checked"]
pub struct Call<T> {
    what: String,
    result: mach::Result<T>,
    /// A bare ioctl: success means it returned 0, not KERN_SUCCESS.
    raw: bool,
}

impl<T: Debug> Call<T> {
    pub fn new(what: String, result: mach::Result<T>) -> Self {
        Call {
            what,
            result,
            raw: false,
        }
    }

    /// The outcome of a bare ioctl, whose Mach result (if any) is left in
    /// its argument struct.
    pub fn raw(what: String, result: mach::Result<T>) -> Self {
        Call {
            what,
            result,
            raw: true,
        }
    }

    fn got(&self) -> String {
        match (&self.result, self.raw) {
            (Ok(_), true) => "success (the ioctl returned 0)".to_string(),
            (r, _) => describe(r),
        }
    }

    /// Expects KERN_SUCCESS; gives the call's value.
    pub fn succeeds(self) -> Result<T, String> {
        match self.result {
            Ok(v) => Ok(v),
            Err(e) => {
                let want = if self.raw { "success" } else { "KERN_SUCCESS" };
                Err(format!("{}: expected {want}, got {}", self.what, describe_err(&e)))
            }
        }
    }

    /// Expects exactly `want` (which may be KERN_SUCCESS).
    pub fn gives(self, want: KernReturn) -> TestResult {
        if want == KERN_SUCCESS {
            return self.succeeds().map(|_| ());
        }
        match &self.result {
            Err(Error::Kern(kr)) if *kr == want => Ok(()),
            _ => Err(format!("{}: expected {want}, got {}", self.what, self.got())),
        }
    }

    /// Expects KERN_SUCCESS with the value `want`.
    pub fn returns(self, want: T) -> TestResult
    where
        T: PartialEq,
    {
        match &self.result {
            Ok(v) if *v == want => Ok(()),
            _ => Err(format!(
                "{}: expected KERN_SUCCESS ({}), got {}",
                self.what,
                shorten(format!("{want:?}")),
                self.got()
            )),
        }
    }

    /// Expects the ioctl itself to fail with `errno`.
    pub fn errno(self, want: i32) -> TestResult {
        match &self.result {
            Err(e) if e.errno() == Some(want) => Ok(()),
            _ => Err(format!(
                "{}: expected errno {}, got {}",
                self.what,
                errno_name(want),
                self.got()
            )),
        }
    }
}

fn describe<T: Debug>(r: &mach::Result<T>) -> String {
    match r {
        Ok(v) => {
            let v = format!("{v:?}");
            if v == "()" {
                "KERN_SUCCESS".to_string()
            } else {
                format!("KERN_SUCCESS ({})", shorten(v))
            }
        }
        Err(e) => describe_err(e),
    }
}

fn describe_err(e: &Error) -> String {
    match e {
        Error::Kern(kr) => kr.to_string(),
        Error::Os(io) => match io.raw_os_error() {
            Some(n) => format!("errno {}", errno_name(n)),
            None => io.to_string(),
        },
    }
}

/// Keeps a failure line readable when a value is a long list.
fn shorten(s: String) -> String {
    const MAX: usize = 400;
    if s.len() <= MAX {
        return s;
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} ... ({} characters)", &s[..end], s.len())
}

/// The symbolic name of an errno value.
pub fn errno_name(e: i32) -> String {
    let name = match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENOTTY => "ENOTTY",
        libc::ENOSPC => "ENOSPC",
        libc::ERANGE => "ERANGE",
        libc::ENOSYS => "ENOSYS",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        512 => "ERESTARTSYS",
        515 => "ENOIOCTLCMD",
        _ => return format!("{e}"),
    };
    name.to_string()
}

/// Fails with `msg()` unless `cond`.
pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> TestResult {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

/// Fails unless `got == want`, naming `what`.
pub fn expect_eq<T: PartialEq + Debug>(what: &str, want: T, got: T) -> TestResult {
    ensure(want == got, || {
        format!(
            "{what}: expected {}, got {}",
            shorten(format!("{want:?}")),
            shorten(format!("{got:?}"))
        )
    })
}

/// Everything observable about one space: each name, its type, and its
/// user references for every right below `MACH_PORT_RIGHT_NUMBER`.
#[derive(Clone, PartialEq, Eq)]
pub struct State(BTreeMap<PortName, (PortType, [u32; 6])>);

impl State {
    /// What differs from `before`, one name per line.
    fn diff(&self, before: &State) -> String {
        let mut out = Vec::new();
        for (name, was) in &before.0 {
            match self.0.get(name) {
                None => out.push(format!("{name:?} {:?} refs {:?} is gone", was.0, was.1)),
                Some(now) if now != was => out.push(format!(
                    "{name:?} was {:?} refs {:?}, is {:?} refs {:?}",
                    was.0, was.1, now.0, now.1
                )),
                Some(_) => {}
            }
        }
        for (name, now) in &self.0 {
            if !before.0.contains_key(name) {
                out.push(format!("{name:?} {:?} refs {:?} is new", now.0, now.1));
            }
        }
        out.truncate(20);
        out.join("; ")
    }
}

/// A space under test. Its methods mirror [`mach::Space`] but return a
/// [`Call`]; the shorthands below act through the task-self name.
pub struct TestSpace {
    space: Space,
}

fn delta_str(delta: i32) -> String {
    format!("{delta:+}")
}

impl TestSpace {
    /// Opens `/dev/mach`: a new space.
    pub fn open() -> Result<TestSpace, String> {
        Space::open()
            .map(|space| TestSpace { space })
            .map_err(|e| format!("open {}: {e}", mach::DEVICE_PATH))
    }

    pub fn space(&self) -> &Space {
        &self.space
    }

    pub fn api_version(&self) -> Call<u32> {
        Call::new("api_version()".into(), self.space.api_version().map_err(Error::Os))
    }

    pub fn reply_port(&self) -> Call<PortName> {
        Call::new("mach_reply_port()".into(), self.space.reply_port().map_err(Error::Os))
    }

    pub fn allocate(&self, task: PortName, right: PortRight) -> Call<PortName> {
        Call::new(
            format!("allocate({task:?}, {})", R(right)),
            self.space.allocate(task, right),
        )
    }

    pub fn allocate_name(&self, task: PortName, right: PortRight, name: PortName) -> Call<()> {
        Call::new(
            format!("allocate_name({task:?}, {}, {name:?})", R(right)),
            self.space.allocate_name(task, right, name),
        )
    }

    pub fn port_type(&self, task: PortName, name: PortName) -> Call<PortType> {
        Call::new(
            format!("port_type({task:?}, {name:?})"),
            self.space.port_type(task, name),
        )
    }

    pub fn names(&self, task: PortName) -> Call<Vec<(PortName, PortType)>> {
        Call::new(format!("names({task:?})"), self.space.names(task))
    }

    pub fn get_refs(&self, task: PortName, name: PortName, right: PortRight) -> Call<u32> {
        Call::new(
            format!("get_refs({task:?}, {name:?}, {})", R(right)),
            self.space.get_refs(task, name, right),
        )
    }

    pub fn mod_refs(&self, task: PortName, name: PortName, right: PortRight, delta: i32) -> Call<()> {
        Call::new(
            format!("mod_refs({task:?}, {name:?}, {}, {})", R(right), delta_str(delta)),
            self.space.mod_refs(task, name, right, delta),
        )
    }

    pub fn deallocate(&self, task: PortName, name: PortName) -> Call<()> {
        Call::new(
            format!("deallocate({task:?}, {name:?})"),
            self.space.deallocate(task, name),
        )
    }

    pub fn destroy(&self, task: PortName, name: PortName) -> Call<()> {
        Call::new(format!("destroy({task:?}, {name:?})"), self.space.destroy(task, name))
    }

    // Shorthands through the task-self name.

    /// A new receive right.
    pub fn new_receive(&self) -> Result<PortName, String> {
        self.allocate(TASK, RECEIVE).succeeds()
    }

    /// A new port set.
    pub fn new_port_set(&self) -> Result<PortName, String> {
        self.allocate(TASK, PORT_SET).succeeds()
    }

    /// A new dead name with `refs` user references (at least 1).
    pub fn new_dead_name(&self, refs: u32) -> Result<PortName, String> {
        let name = self.allocate(TASK, DEAD_NAME).succeeds()?;
        if refs > 1 {
            self.mod_refs(TASK, name, DEAD_NAME, (refs - 1) as i32).succeeds()?;
        }
        Ok(name)
    }

    /// `name` denotes exactly `ty`.
    pub fn expect_type(&self, name: PortName, ty: PortType) -> TestResult {
        self.port_type(TASK, name).returns(ty)
    }

    /// `name` holds `refs` user references for `right`.
    pub fn expect_refs(&self, name: PortName, right: PortRight, refs: u32) -> TestResult {
        self.get_refs(TASK, name, right).returns(refs)
    }

    /// `name` is not in use.
    pub fn expect_unused(&self, name: PortName) -> TestResult {
        self.port_type(TASK, name).gives(KERN_INVALID_NAME)
    }

    /// `mach_port_names` gives exactly `want` (in this order).
    pub fn expect_names(&self, want: &[(PortName, PortType)]) -> TestResult {
        self.names(TASK).returns(want.to_vec())
    }

    /// The space holds nothing but its task-self send right, with one reference.
    pub fn expect_only_task_self(&self) -> TestResult {
        self.expect_names(&[(TASK, PortType::SEND)])?;
        self.expect_refs(TASK, SEND, 1)
    }

    /// A name that is not in use, searching upwards from `from`.
    pub fn unused_name(&self, from: u32) -> Result<PortName, String> {
        let mut n = from;
        loop {
            let name = PortName(n);
            if name.is_valid() {
                match self.space.port_type(TASK, name) {
                    Err(e) if e == KERN_INVALID_NAME => return Ok(name),
                    Ok(_) => {}
                    Err(e) => return Err(format!("port_type({TASK:?}, {name:?}): {e}")),
                }
            }
            n = n.wrapping_add(0x101);
            if n == from {
                return Err("no unused name left".into());
            }
        }
    }

    /// The number of names, from a names call with no arrays.
    pub fn count(&self) -> Result<u32, String> {
        let mut a = sys::PortNamesArgs {
            task: TASK.0,
            ..Default::default()
        };
        // SAFETY: MACH_IOC_PORT_NAMES takes a PortNamesArgs; with capacity 0
        // and null arrays the module writes only the struct.
        let r = unsafe { mach::ioctl_raw(self.space.as_fd(), sys::MACH_IOC_PORT_NAMES, &mut a) };
        r.map_err(|e| format!("names({TASK:?}) with capacity 0: {e}"))?;
        ensure(a.kr == sys::KERN_SUCCESS, || {
            format!(
                "names({TASK:?}) with capacity 0: expected KERN_SUCCESS, got {}",
                KernReturn(a.kr)
            )
        })?;
        Ok(a.count)
    }

    /// Everything observable about the space, through the task-self name.
    pub fn state(&self) -> Result<State, String> {
        let mut map = BTreeMap::new();
        for (name, ty) in self.names(TASK).succeeds()? {
            let mut refs = [0u32; 6];
            for (slot, right) in refs.iter_mut().zip(ALL_RIGHTS) {
                *slot = self.get_refs(TASK, name, right).succeeds()?;
            }
            map.insert(name, (ty, refs));
        }
        Ok(State(map))
    }

    /// The space is as it was in `before`; `after` names what was done.
    pub fn expect_state(&self, before: &State, after: &str) -> TestResult {
        let now = self.state()?;
        ensure(now == *before, || {
            format!("after {after}: expected the space unchanged, but {}", now.diff(before))
        })
    }
}
