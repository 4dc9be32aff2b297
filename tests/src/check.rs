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
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

pub use mach::MsgTypeName;
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

/// The six dispositions (how a right is taken from its holder).
pub const MOVE_RECEIVE: MsgTypeName = MsgTypeName::MOVE_RECEIVE;
pub const MOVE_SEND: MsgTypeName = MsgTypeName::MOVE_SEND;
pub const MOVE_SEND_ONCE: MsgTypeName = MsgTypeName::MOVE_SEND_ONCE;
pub const COPY_SEND: MsgTypeName = MsgTypeName::COPY_SEND;
pub const MAKE_SEND: MsgTypeName = MsgTypeName::MAKE_SEND;
pub const MAKE_SEND_ONCE: MsgTypeName = MsgTypeName::MAKE_SEND_ONCE;
/// Every disposition a caller can name.
pub const DISPOSITIONS: [MsgTypeName; 6] = MsgTypeName::DISPOSITIONS;
/// Values that are no disposition: PORT_NONE, PORT_NAME (15),
/// COPY_RECEIVE (22), 24, and values that only look like one in their low bits.
pub const BAD_DISPOSITIONS: [MsgTypeName; 8] = [
    MsgTypeName(0),
    MsgTypeName(1),
    MsgTypeName(15),
    MsgTypeName(sys::MACH_MSG_TYPE_COPY_RECEIVE),
    MsgTypeName(24),
    MsgTypeName(0x110),
    MsgTypeName(0x8000_0011),
    MsgTypeName(0xffff_ffff),
];

/// What arrives (the `polyPoly` that extract_right gives back).
pub const PORT_RECEIVE: MsgTypeName = MsgTypeName::PORT_RECEIVE;
pub const PORT_SEND: MsgTypeName = MsgTypeName::PORT_SEND;
pub const PORT_SEND_ONCE: MsgTypeName = MsgTypeName::PORT_SEND_ONCE;

pub const KERN_SUCCESS: KernReturn = KernReturn::KERN_SUCCESS;
pub const KERN_NO_SPACE: KernReturn = KernReturn::KERN_NO_SPACE;
pub const KERN_INVALID_ARGUMENT: KernReturn = KernReturn::KERN_INVALID_ARGUMENT;
pub const KERN_NAME_EXISTS: KernReturn = KernReturn::KERN_NAME_EXISTS;
pub const KERN_INVALID_NAME: KernReturn = KernReturn::KERN_INVALID_NAME;
pub const KERN_INVALID_TASK: KernReturn = KernReturn::KERN_INVALID_TASK;
pub const KERN_INVALID_RIGHT: KernReturn = KernReturn::KERN_INVALID_RIGHT;
pub const KERN_INVALID_VALUE: KernReturn = KernReturn::KERN_INVALID_VALUE;
pub const KERN_UREFS_OVERFLOW: KernReturn = KernReturn::KERN_UREFS_OVERFLOW;
pub const KERN_INVALID_CAPABILITY: KernReturn = KernReturn::KERN_INVALID_CAPABILITY;
pub const KERN_RIGHT_EXISTS: KernReturn = KernReturn::KERN_RIGHT_EXISTS;

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

/// What `mach_port_extract_right` gives: the right's name in the caller's
/// space (`MACH_PORT_DEAD` for a dead right) and its type (`PORT_*`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Extracted {
    pub name: PortName,
    pub ty: MsgTypeName,
}

/// `(name, ty)` as an [`Extracted`], for comparisons.
pub fn extracted(name: PortName, ty: MsgTypeName) -> Extracted {
    Extracted { name, ty }
}

impl Debug for Extracted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ty = match self.ty.0 {
            sys::MACH_MSG_TYPE_PORT_RECEIVE => "PORT_RECEIVE".to_string(),
            sys::MACH_MSG_TYPE_PORT_SEND => "PORT_SEND".to_string(),
            sys::MACH_MSG_TYPE_PORT_SEND_ONCE => "PORT_SEND_ONCE".to_string(),
            other => format!("polyPoly {other}"),
        };
        write!(f, "{:?} {ty}", self.name)
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
                Err(format!(
                    "{}: expected {want}, got {}",
                    self.what,
                    describe_err(&e)
                ))
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
            _ => Err(format!(
                "{}: expected {want}, got {}",
                self.what,
                self.got()
            )),
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
        Error::Msg(mr) => format!("{mr:?}"),
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

    /// What differs from `want`, one name per line.
    fn diff_from_expected(&self, want: &State) -> String {
        let mut out = Vec::new();
        for (name, w) in &want.0 {
            match self.0.get(name) {
                None => out.push(format!(
                    "{name:?}: expected {:?} refs {:?}, got no such name",
                    w.0, w.1
                )),
                Some(got) if got != w => out.push(format!(
                    "{name:?}: expected {:?} refs {:?}, got {:?} refs {:?}",
                    w.0, w.1, got.0, got.1
                )),
                Some(_) => {}
            }
        }
        for (name, got) in &self.0 {
            if !want.0.contains_key(name) {
                out.push(format!(
                    "{name:?}: expected no such name, got {:?} refs {:?}",
                    got.0, got.1
                ));
            }
        }
        out.truncate(20);
        out.join("; ")
    }

    /// The same space with each of `names` turned into a dead name, as the
    /// death of its port does: a send right keeps its user references, a
    /// send-once right becomes a dead name with one.
    pub fn with_dead(&self, names: &[PortName]) -> Result<State, String> {
        let mut map = self.0.clone();
        for name in names {
            let Some((ty, refs)) = map.get(name).copied() else {
                return Err(format!(
                    "test bug: {name:?} is not in the space to turn dead"
                ));
            };
            let urefs = if ty.contains(PortType::SEND) {
                refs[SEND.0 as usize]
            } else if ty.contains(PortType::DEAD_NAME) {
                refs[DEAD_NAME.0 as usize]
            } else {
                1
            };
            let mut dead = [0u32; 6];
            dead[DEAD_NAME.0 as usize] = urefs;
            map.insert(*name, (PortType::DEAD_NAME, dead));
        }
        Ok(State(map))
    }

    /// The same space without `names`.
    pub fn without(&self, names: &[PortName]) -> State {
        let mut map = self.0.clone();
        for name in names {
            map.remove(name);
        }
        State(map)
    }
}

/// A space under test. Its methods mirror [`mach::Space`] but return a
/// [`Call`]; the shorthands below act through the task-self name.
pub struct TestSpace {
    space: Space,
    /// Prefixed to every call in messages when a test uses several spaces.
    label: &'static str,
}

fn delta_str(delta: i32) -> String {
    format!("{delta:+}")
}

impl AsFd for TestSpace {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.space.as_fd()
    }
}

impl AsRawFd for TestSpace {
    fn as_raw_fd(&self) -> RawFd {
        self.space.as_raw_fd()
    }
}

impl TestSpace {
    /// Opens `/dev/mach`: a new space.
    pub fn open() -> Result<TestSpace, String> {
        Self::open_as("")
    }

    /// Opens a new space whose calls are written `label: call(...)` in
    /// messages, for tests with several spaces.
    pub fn open_as(label: &'static str) -> Result<TestSpace, String> {
        Space::open()
            .map(|space| TestSpace { space, label })
            .map_err(|e| format!("open {}: {e}", mach::DEVICE_PATH))
    }

    /// Wraps a `/dev/mach` descriptor (one received from another process).
    pub fn from_fd(fd: std::os::fd::OwnedFd, label: &'static str) -> TestSpace {
        TestSpace {
            space: Space::from_fd(fd),
            label,
        }
    }

    pub fn space(&self) -> &Space {
        &self.space
    }

    fn call<T: Debug>(&self, what: String, result: mach::Result<T>) -> Call<T> {
        if self.label.is_empty() {
            Call::new(what, result)
        } else {
            Call::new(format!("{}: {what}", self.label), result)
        }
    }

    /// "the space" or "space A", for messages.
    fn which(&self) -> String {
        if self.label.is_empty() {
            "the space".to_string()
        } else {
            format!("space {}", self.label)
        }
    }

    pub fn api_version(&self) -> Call<u32> {
        self.call(
            "api_version()".into(),
            self.space.api_version().map_err(Error::Os),
        )
    }

    pub fn reply_port(&self) -> Call<PortName> {
        self.call(
            "mach_reply_port()".into(),
            self.space.reply_port().map_err(Error::Os),
        )
    }

    pub fn allocate(&self, task: PortName, right: PortRight) -> Call<PortName> {
        self.call(
            format!("allocate({task:?}, {})", R(right)),
            self.space.allocate(task, right),
        )
    }

    pub fn allocate_name(&self, task: PortName, right: PortRight, name: PortName) -> Call<()> {
        self.call(
            format!("allocate_name({task:?}, {}, {name:?})", R(right)),
            self.space.allocate_name(task, right, name),
        )
    }

    pub fn port_type(&self, task: PortName, name: PortName) -> Call<PortType> {
        self.call(
            format!("port_type({task:?}, {name:?})"),
            self.space.port_type(task, name),
        )
    }

    pub fn names(&self, task: PortName) -> Call<Vec<(PortName, PortType)>> {
        self.call(format!("names({task:?})"), self.space.names(task))
    }

    pub fn get_refs(&self, task: PortName, name: PortName, right: PortRight) -> Call<u32> {
        self.call(
            format!("get_refs({task:?}, {name:?}, {})", R(right)),
            self.space.get_refs(task, name, right),
        )
    }

    pub fn mod_refs(
        &self,
        task: PortName,
        name: PortName,
        right: PortRight,
        delta: i32,
    ) -> Call<()> {
        self.call(
            format!(
                "mod_refs({task:?}, {name:?}, {}, {})",
                R(right),
                delta_str(delta)
            ),
            self.space.mod_refs(task, name, right, delta),
        )
    }

    pub fn deallocate(&self, task: PortName, name: PortName) -> Call<()> {
        self.call(
            format!("deallocate({task:?}, {name:?})"),
            self.space.deallocate(task, name),
        )
    }

    pub fn destroy(&self, task: PortName, name: PortName) -> Call<()> {
        self.call(
            format!("destroy({task:?}, {name:?})"),
            self.space.destroy(task, name),
        )
    }

    pub fn insert_right(
        &self,
        task: PortName,
        name: PortName,
        poly: PortName,
        disposition: MsgTypeName,
    ) -> Call<()> {
        self.call(
            format!("insert_right({task:?}, {name:?}, {poly:?}, {disposition:?})"),
            self.space.insert_right(task, name, poly, disposition),
        )
    }

    pub fn extract_right(
        &self,
        task: PortName,
        name: PortName,
        disposition: MsgTypeName,
    ) -> Call<Extracted> {
        self.call(
            format!("extract_right({task:?}, {name:?}, {disposition:?})"),
            self.space
                .extract_right(task, name, disposition)
                .map(|(name, ty)| Extracted { name, ty }),
        )
    }

    pub fn task_for_fd(&self, fd: BorrowedFd<'_>) -> Call<PortName> {
        self.call(
            format!("task_for_fd({})", fd.as_raw_fd()),
            self.space.task_for_fd(fd),
        )
    }

    pub fn task_for_raw_fd(&self, fd: RawFd) -> Call<PortName> {
        self.call(format!("task_for_fd({fd})"), self.space.task_for_raw_fd(fd))
    }

    // Shorthands through the task-self name.

    /// This space's name for `other`'s task port, from `task_for_fd`.
    pub fn task_for(&self, other: &TestSpace) -> Result<PortName, String> {
        let task = self.task_for_fd(other.space.as_fd()).succeeds()?;
        ensure(task.is_valid(), || {
            format!(
                "{}: task_for_fd({}) gave {task:?}",
                self.label,
                other.space.as_raw_fd()
            )
        })?;
        Ok(task)
    }

    /// A new receive right with a send right under the same name holding
    /// `urefs` user references (SEND|RECEIVE).
    pub fn new_send_receive(&self, urefs: u32) -> Result<PortName, String> {
        let port = self.new_receive()?;
        self.insert_right(TASK, port, port, MAKE_SEND).succeeds()?;
        if urefs > 1 {
            self.mod_refs(TASK, port, SEND, (urefs - 1) as i32)
                .succeeds()?;
        }
        Ok(port)
    }

    /// A new send-once right to `port` (a receive right of this space),
    /// under a name the kernel chooses.
    pub fn new_send_once(&self, port: PortName) -> Result<PortName, String> {
        Ok(self
            .extract_right(TASK, port, MAKE_SEND_ONCE)
            .succeeds()?
            .name)
    }

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
            self.mod_refs(TASK, name, DEAD_NAME, (refs - 1) as i32)
                .succeeds()?;
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

    /// `name` denotes exactly `ty` and holds exactly the rights of `ty`:
    /// `urefs` user references for a send right or dead name, 1 for a
    /// receive right, send-once right or port set, 0 for every other right.
    pub fn expect_entry(&self, name: PortName, ty: PortType, urefs: u32) -> TestResult {
        self.expect_type(name, ty)?;
        for right in ALL_RIGHTS {
            let want = if !ty.contains(type_of(right)) {
                0
            } else if right == SEND || right == DEAD_NAME {
                urefs
            } else {
                1
            };
            self.expect_refs(name, right, want)?;
        }
        Ok(())
    }

    /// `name` is a send right alone, with `urefs` user references.
    pub fn expect_send(&self, name: PortName, urefs: u32) -> TestResult {
        self.expect_entry(name, PortType::SEND, urefs)
    }

    /// `name` holds a receive right and a send right with `urefs`.
    pub fn expect_send_receive(&self, name: PortName, urefs: u32) -> TestResult {
        self.expect_entry(name, PortType::SEND_RECEIVE, urefs)
    }

    /// `name` is a receive right alone.
    pub fn expect_receive(&self, name: PortName) -> TestResult {
        self.expect_entry(name, PortType::RECEIVE, 0)
    }

    /// `name` is a send-once right.
    pub fn expect_send_once(&self, name: PortName) -> TestResult {
        self.expect_entry(name, PortType::SEND_ONCE, 0)
    }

    /// `name` is a dead name with `urefs` user references.
    pub fn expect_dead(&self, name: PortName, urefs: u32) -> TestResult {
        self.expect_entry(name, PortType::DEAD_NAME, urefs)
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

    /// The space holds its task-self send right (one reference) and
    /// exactly `others` besides.
    pub fn expect_only_task_self_and(&self, others: &[(PortName, PortType)]) -> TestResult {
        self.expect_only_task_self_and_refs(1, others)
    }

    /// The space holds its task-self send right with `refs` user
    /// references and exactly `others` besides.
    pub fn expect_only_task_self_and_refs(
        &self,
        refs: u32,
        others: &[(PortName, PortType)],
    ) -> TestResult {
        let mut want = vec![(TASK, PortType::SEND)];
        want.extend_from_slice(others);
        want.sort_by_key(|&(name, _)| name);
        self.expect_names(&want)?;
        self.expect_refs(TASK, SEND, refs)
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
            format!(
                "after {after}: expected {} unchanged, but {}",
                self.which(),
                now.diff(before)
            )
        })
    }

    /// The space is exactly `want`; `after` names what was done.
    pub fn expect_state_is(&self, want: &State, after: &str) -> TestResult {
        let now = self.state()?;
        ensure(now == *want, || {
            format!(
                "after {after}: {} is not as expected ({})",
                self.which(),
                now.diff_from_expected(want)
            )
        })
    }
}

/// Two spaces, A (the caller) and B, and A's name for B's task port.
pub struct Pair {
    pub a: TestSpace,
    pub b: TestSpace,
    /// A's send right to B's task port, from `task_for_fd`.
    pub tb: PortName,
}

impl Pair {
    pub fn new() -> Result<Pair, String> {
        let a = TestSpace::open_as("A")?;
        let b = TestSpace::open_as("B")?;
        let tb = a.task_for(&b)?;
        Ok(Pair { a, b, tb })
    }

    /// Both spaces' states.
    pub fn states(&self) -> Result<(State, State), String> {
        Ok((self.a.state()?, self.b.state()?))
    }

    /// Both spaces are as they were in `before`.
    pub fn expect_states(&self, before: &(State, State), after: &str) -> TestResult {
        self.a.expect_state(&before.0, after)?;
        self.b.expect_state(&before.1, after)
    }
}

/// Names for a test to put rights under in a space of its own choosing;
/// no kernel-chosen name in a fresh space looks like these.
pub const N1: PortName = PortName(0x4d49_0103);
pub const N2: PortName = PortName(0x4d49_0203);
pub const N3: PortName = PortName(0x4d49_0303);
pub const N4: PortName = PortName(0x4d49_0403);
