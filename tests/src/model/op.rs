//! The operations of a run. Names in an operation are [`NameRef`]s, not
//! numbers: a name the kernel chose is referred to by the operation that
//! returned it, so that a recorded sequence can be replayed in fresh spaces
//! (where the kernel may choose other numbers) and with operations deleted
//! (an operation whose name no longer comes from anywhere is skipped).

use mach::sys;
use std::collections::HashMap;
use std::fmt;

/// How an operation names a port name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRef {
    /// This number.
    Lit(u32),
    /// Name number `k` that operation `id` returned (0 for the one name of
    /// most calls; a received message's reply right and descriptors are
    /// 0, 1, 2, ...).
    Made(usize, u8),
    /// Name `k` of operation `id`, XORed with the value (another
    /// generation of the same index).
    Derived(usize, u8, u32),
}

/// The names operations returned: (operation id, position) -> name.
pub type Results = HashMap<(usize, u8), u32>;

impl NameRef {
    /// The same name with other generation bits (`x` in 1..=0xff).
    pub fn derive(self, x: u32) -> NameRef {
        match self {
            NameRef::Lit(v) => NameRef::Lit(v ^ x),
            NameRef::Made(id, k) => NameRef::Derived(id, k, x),
            NameRef::Derived(id, k, y) => NameRef::Derived(id, k, x ^ y),
        }
    }

    pub fn resolve(self, results: &Results) -> Option<u32> {
        match self {
            NameRef::Lit(v) => Some(v),
            NameRef::Made(id, k) => results.get(&(id, k)).copied(),
            NameRef::Derived(id, k, x) => results.get(&(id, k)).map(|v| v ^ x),
        }
    }
}

impl fmt::Display for NameRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |f: &mut fmt::Formatter<'_>, id: usize, k: u8| {
            if k == 0 {
                write!(f, "@{id}")
            } else {
                write!(f, "@{id}.{k}")
            }
        };
        match *self {
            NameRef::Lit(v) => write!(f, "{v:#x}"),
            NameRef::Made(id, k) => at(f, id, k),
            NameRef::Derived(id, k, x) => {
                at(f, id, k)?;
                write!(f, "^{x:#x}")
            }
        }
    }
}

/// One call, with names of type `N` (a [`NameRef`] or, once resolved, a
/// `u32`).
#[derive(Clone, Debug)]
pub enum Call<N> {
    Allocate {
        task: N,
        right: u32,
    },
    AllocateName {
        task: N,
        right: u32,
        name: N,
    },
    ReplyPort,
    Type {
        task: N,
        name: N,
    },
    GetRefs {
        task: N,
        name: N,
        right: u32,
    },
    ModRefs {
        task: N,
        name: N,
        right: u32,
        delta: i32,
    },
    Deallocate {
        task: N,
        name: N,
    },
    Destroy {
        task: N,
        name: N,
    },
    Insert {
        task: N,
        name: N,
        poly: N,
        disp: u32,
    },
    Extract {
        task: N,
        name: N,
        disp: u32,
    },
    Names {
        task: N,
    },
    /// `task_for_fd` on the descriptor of the space in slot `of`.
    TaskForFd {
        of: usize,
    },
    /// `task_for_fd` on -1 (`closed`, EBADF) or on an open non-mach file.
    TaskForBadFd {
        closed: bool,
    },
    /// Close the space in this slot and open a new one there.
    Close,
    /// `mach_msg` send with timeout 0: the destination and reply port with
    /// their dispositions, port descriptors (name, disposition) and
    /// out-of-line port arrays (names, disposition). `msgh_id` is 1000000
    /// plus the operation's id.
    Send {
        remote: N,
        rdisp: u32,
        local: N,
        ldisp: u32,
        ports: Vec<(N, u32)>,
        ool: Vec<(Vec<N>, u32)>,
    },
    /// `mach_msg` receive with timeout 0 on a port or port set.
    Receive {
        name: N,
    },
    /// `mach_port_set_attributes(MACH_PORT_LIMITS_INFO)`.
    SetQlimit {
        task: N,
        name: N,
        limit: u32,
    },
    /// `mach_port_get_attributes(MACH_PORT_RECEIVE_STATUS)`.
    Status {
        task: N,
        name: N,
    },
    MoveMember {
        task: N,
        member: N,
        after: N,
    },
    InsertMember {
        task: N,
        member: N,
        set: N,
    },
    ExtractMember {
        task: N,
        member: N,
        set: N,
    },
    SetStatus {
        task: N,
        set: N,
    },
    Request {
        task: N,
        name: N,
        variant: i32,
        sync: u32,
        notify: N,
        ntype: u32,
    },
    Backup {
        task: N,
        primary: N,
        backup: N,
    },
}

impl<N> Call<N> {
    /// The same call with every name mapped by `f` (`None` if `f` gives
    /// `None` for one of them).
    pub fn map<M>(&self, mut f: impl FnMut(&N) -> Option<M>) -> Option<Call<M>> {
        use Call::*;
        Some(match self {
            Allocate { task, right } => Allocate {
                task: f(task)?,
                right: *right,
            },
            AllocateName { task, right, name } => AllocateName {
                task: f(task)?,
                right: *right,
                name: f(name)?,
            },
            ReplyPort => ReplyPort,
            Type { task, name } => Type {
                task: f(task)?,
                name: f(name)?,
            },
            GetRefs { task, name, right } => GetRefs {
                task: f(task)?,
                name: f(name)?,
                right: *right,
            },
            ModRefs {
                task,
                name,
                right,
                delta,
            } => ModRefs {
                task: f(task)?,
                name: f(name)?,
                right: *right,
                delta: *delta,
            },
            Deallocate { task, name } => Deallocate {
                task: f(task)?,
                name: f(name)?,
            },
            Destroy { task, name } => Destroy {
                task: f(task)?,
                name: f(name)?,
            },
            Insert {
                task,
                name,
                poly,
                disp,
            } => Insert {
                task: f(task)?,
                name: f(name)?,
                poly: f(poly)?,
                disp: *disp,
            },
            Extract { task, name, disp } => Extract {
                task: f(task)?,
                name: f(name)?,
                disp: *disp,
            },
            Names { task } => Names { task: f(task)? },
            TaskForFd { of } => TaskForFd { of: *of },
            TaskForBadFd { closed } => TaskForBadFd { closed: *closed },
            Close => Close,
            Send {
                remote,
                rdisp,
                local,
                ldisp,
                ports,
                ool,
            } => {
                let mut p = Vec::with_capacity(ports.len());
                for (n, d) in ports {
                    p.push((f(n)?, *d));
                }
                let mut o = Vec::with_capacity(ool.len());
                for (names, d) in ool {
                    let mut v = Vec::with_capacity(names.len());
                    for n in names {
                        v.push(f(n)?);
                    }
                    o.push((v, *d));
                }
                Send {
                    remote: f(remote)?,
                    rdisp: *rdisp,
                    local: f(local)?,
                    ldisp: *ldisp,
                    ports: p,
                    ool: o,
                }
            }
            Receive { name } => Receive { name: f(name)? },
            SetQlimit { task, name, limit } => SetQlimit {
                task: f(task)?,
                name: f(name)?,
                limit: *limit,
            },
            Status { task, name } => Status {
                task: f(task)?,
                name: f(name)?,
            },
            MoveMember {
                task,
                member,
                after,
            } => MoveMember {
                task: f(task)?,
                member: f(member)?,
                after: f(after)?,
            },
            InsertMember { task, member, set } => InsertMember {
                task: f(task)?,
                member: f(member)?,
                set: f(set)?,
            },
            ExtractMember { task, member, set } => ExtractMember {
                task: f(task)?,
                member: f(member)?,
                set: f(set)?,
            },
            SetStatus { task, set } => SetStatus {
                task: f(task)?,
                set: f(set)?,
            },
            Request {
                task,
                name,
                variant,
                sync,
                notify,
                ntype,
            } => Request {
                task: f(task)?,
                name: f(name)?,
                variant: *variant,
                sync: *sync,
                notify: f(notify)?,
                ntype: *ntype,
            },
            Backup {
                task,
                primary,
                backup,
            } => Backup {
                task: f(task)?,
                primary: f(primary)?,
                backup: f(backup)?,
            },
        })
    }

    /// The task the call names, for the calls that take one.
    pub fn task(&self) -> Option<&N> {
        use Call::*;
        match self {
            Allocate { task, .. }
            | AllocateName { task, .. }
            | Type { task, .. }
            | GetRefs { task, .. }
            | ModRefs { task, .. }
            | Deallocate { task, .. }
            | Destroy { task, .. }
            | Insert { task, .. }
            | Extract { task, .. }
            | Names { task }
            | SetQlimit { task, .. }
            | Status { task, .. }
            | MoveMember { task, .. }
            | InsertMember { task, .. }
            | ExtractMember { task, .. }
            | SetStatus { task, .. }
            | Request { task, .. }
            | Backup { task, .. } => Some(task),
            ReplyPort | TaskForFd { .. } | TaskForBadFd { .. } | Close | Send { .. }
            | Receive { .. } => None,
        }
    }

    /// The call's name.
    pub fn kind(&self) -> &'static str {
        use Call::*;
        match self {
            Allocate { .. } => "allocate",
            AllocateName { .. } => "allocate_name",
            ReplyPort => "reply_port",
            Type { .. } => "type",
            GetRefs { .. } => "get_refs",
            ModRefs { .. } => "mod_refs",
            Deallocate { .. } => "deallocate",
            Destroy { .. } => "destroy",
            Insert { .. } => "insert_right",
            Extract { .. } => "extract_right",
            Names { .. } => "names",
            TaskForFd { .. } => "task_for_fd",
            TaskForBadFd { .. } => "task_for_fd(bad fd)",
            Close => "close",
            Send { .. } => "send",
            Receive { .. } => "receive",
            SetQlimit { .. } => "set_qlimit",
            Status { .. } => "receive_status",
            MoveMember { .. } => "move_member",
            InsertMember { .. } => "insert_member",
            ExtractMember { .. } => "extract_member",
            SetStatus { .. } => "get_set_status",
            Request { .. } => "request_notification",
            Backup { .. } => "port_set_backup",
        }
    }
}

impl Call<NameRef> {
    /// The call with its names resolved, or `None` when one of them comes
    /// from an operation that did not return a name.
    pub fn resolve(&self, r: &Results) -> Option<Call<u32>> {
        self.map(|n| n.resolve(r))
    }
}

pub fn right_str(right: u32) -> String {
    match right {
        sys::MACH_PORT_RIGHT_SEND => "SEND".into(),
        sys::MACH_PORT_RIGHT_RECEIVE => "RECEIVE".into(),
        sys::MACH_PORT_RIGHT_SEND_ONCE => "SEND_ONCE".into(),
        sys::MACH_PORT_RIGHT_PORT_SET => "PORT_SET".into(),
        sys::MACH_PORT_RIGHT_DEAD_NAME => "DEAD_NAME".into(),
        sys::MACH_PORT_RIGHT_LABELH => "LABELH".into(),
        other => format!("right({other})"),
    }
}

pub fn disp_str(disp: u32) -> String {
    match disp {
        0 => "NONE".into(),
        sys::MACH_MSG_TYPE_MOVE_RECEIVE => "MOVE_RECEIVE".into(),
        sys::MACH_MSG_TYPE_MOVE_SEND => "MOVE_SEND".into(),
        sys::MACH_MSG_TYPE_MOVE_SEND_ONCE => "MOVE_SEND_ONCE".into(),
        sys::MACH_MSG_TYPE_COPY_SEND => "COPY_SEND".into(),
        sys::MACH_MSG_TYPE_MAKE_SEND => "MAKE_SEND".into(),
        sys::MACH_MSG_TYPE_MAKE_SEND_ONCE => "MAKE_SEND_ONCE".into(),
        other => format!("disposition({other})"),
    }
}

fn variant_str(v: i32) -> String {
    match v {
        sys::MACH_NOTIFY_PORT_DESTROYED => "PORT_DESTROYED".into(),
        sys::MACH_NOTIFY_NO_SENDERS => "NO_SENDERS".into(),
        sys::MACH_NOTIFY_DEAD_NAME => "DEAD_NAME".into(),
        other => format!("variant({other})"),
    }
}

/// How a name is shown in a call: a [`NameRef`] as itself, a resolved
/// name in hex.
pub trait ShowName {
    fn show(&self) -> String;
}

impl ShowName for NameRef {
    fn show(&self) -> String {
        self.to_string()
    }
}

impl ShowName for u32 {
    fn show(&self) -> String {
        format!("{self:#x}")
    }
}

impl<N: ShowName> fmt::Display for Call<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.map(|n| Some(n.show())).expect("show never fails");
        fmt_call(&shown, f)
    }
}

fn fmt_call(call: &Call<String>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    use Call::*;
    match call {
        Allocate { task, right } => write!(f, "allocate(task={task}, {})", right_str(*right)),
        AllocateName { task, right, name } => {
            write!(
                f,
                "allocate_name(task={task}, {}, name={name})",
                right_str(*right)
            )
        }
        ReplyPort => write!(f, "reply_port()"),
        Type { task, name } => write!(f, "type(task={task}, name={name})"),
        GetRefs { task, name, right } => {
            write!(
                f,
                "get_refs(task={task}, name={name}, {})",
                right_str(*right)
            )
        }
        ModRefs {
            task,
            name,
            right,
            delta,
        } => write!(
            f,
            "mod_refs(task={task}, name={name}, {}, delta={delta})",
            right_str(*right)
        ),
        Deallocate { task, name } => write!(f, "deallocate(task={task}, name={name})"),
        Destroy { task, name } => write!(f, "destroy(task={task}, name={name})"),
        Insert {
            task,
            name,
            poly,
            disp,
        } => write!(
            f,
            "insert_right(task={task}, name={name}, poly={poly}, {})",
            disp_str(*disp)
        ),
        Extract { task, name, disp } => {
            write!(
                f,
                "extract_right(task={task}, name={name}, {})",
                disp_str(*disp)
            )
        }
        Names { task } => write!(f, "names(task={task})"),
        TaskForFd { of } => write!(f, "task_for_fd(fd of space s{of})"),
        TaskForBadFd { closed } => {
            write!(
                f,
                "task_for_fd({})",
                if *closed { "fd -1" } else { "fd of /dev/null" }
            )
        }
        Close => write!(f, "close the space and open a new one"),
        Send {
            remote,
            rdisp,
            local,
            ldisp,
            ports,
            ool,
        } => {
            write!(
                f,
                "send(remote={remote} {}, local={local} {}",
                disp_str(*rdisp),
                disp_str(*ldisp)
            )?;
            for (n, d) in ports {
                write!(f, ", port {n} {}", disp_str(*d))?;
            }
            for (names, d) in ool {
                write!(f, ", ool ports [{}] {}", names.join(" "), disp_str(*d))?;
            }
            write!(f, ")")
        }
        Receive { name } => write!(f, "receive(name={name})"),
        SetQlimit { task, name, limit } => {
            write!(f, "set_qlimit(task={task}, name={name}, {limit})")
        }
        Status { task, name } => write!(f, "receive_status(task={task}, name={name})"),
        MoveMember {
            task,
            member,
            after,
        } => write!(f, "move_member(task={task}, member={member}, after={after})"),
        InsertMember { task, member, set } => {
            write!(f, "insert_member(task={task}, member={member}, set={set})")
        }
        ExtractMember { task, member, set } => {
            write!(f, "extract_member(task={task}, member={member}, set={set})")
        }
        SetStatus { task, set } => write!(f, "get_set_status(task={task}, set={set})"),
        Request {
            task,
            name,
            variant,
            sync,
            notify,
            ntype,
        } => write!(
            f,
            "request_notification(task={task}, name={name}, {}, sync={sync}, notify={notify} {})",
            variant_str(*variant),
            disp_str(*ntype)
        ),
        Backup {
            task,
            primary,
            backup,
        } => write!(
            f,
            "port_set_backup(task={task}, primary={primary}, backup={backup})"
        ),
    }
}

/// One operation: a call made in the space of slot `slot`. `id` is its
/// index in the original run; [`NameRef::Made`] refers to it.
#[derive(Clone, Debug)]
pub struct Op {
    pub id: usize,
    pub slot: usize,
    pub call: Call<NameRef>,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{} s{}: {}", self.id, self.slot, self.call)
    }
}

/// What the kernel answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Res {
    Ok,
    Kern(i32),
    /// A `mach_msg_return_t`.
    Msg(i32),
    Os(i32),
}

/// A received message, as the receiver saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Got {
    pub bits: u32,
    pub size: u32,
    pub remote: u32,
    pub local: u32,
    pub id: i32,
    /// Port descriptors: (name, type); an out-of-line port array: one
    /// entry per name, each with the array's type.
    pub ports: Vec<(u32, u32)>,
    /// How many out-of-line port arrays, and their lengths.
    pub ool: Vec<usize>,
    pub data: Vec<u8>,
    pub seqno: u32,
    /// Whether the audit token is all zeros (the kernel sent it).
    pub from_kernel: bool,
    /// The MACH_PORT_RECEIVE_STATUS, read just after the receive, of each
    /// receive right that came in a port descriptor: (name, words).
    pub statuses: Vec<(u32, Vec<u32>)>,
}

/// A call's result: the code and the values it returned (`a`: a name, a
/// type or a count; `b`: a message type name; `list`: names and types;
/// `words`: attributes or set members; `msg`: a received message).
#[derive(Clone, Debug)]
pub struct Act {
    pub res: Res,
    pub a: u32,
    pub b: u32,
    pub list: Vec<(u32, u32)>,
    pub words: Vec<u32>,
    pub msg: Option<Got>,
}

pub fn kr_str(kr: i32) -> String {
    if kr == 0 {
        return "KERN_SUCCESS".into();
    }
    match mach::KernReturn(kr).name() {
        Some(n) => n.into(),
        None => format!("kern_return_t({kr:#x})"),
    }
}

pub fn mr_str(mr: i32) -> String {
    if mr == 0 {
        return "MACH_MSG_SUCCESS".into();
    }
    match mach::MsgReturn(mr).name() {
        Some(n) => n.into(),
        None => format!("mach_msg_return_t({mr:#x})"),
    }
}

impl fmt::Display for Res {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Res::Ok => f.write_str("KERN_SUCCESS"),
            Res::Kern(kr) => f.write_str(&kr_str(*kr)),
            Res::Msg(mr) => f.write_str(&mr_str(*mr)),
            Res::Os(e) => write!(f, "errno {e}"),
        }
    }
}
