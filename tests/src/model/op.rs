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
    /// The name returned by operation `id`.
    Made(usize),
    /// The name returned by operation `id`, XORed with the value (another
    /// generation of the same index).
    Derived(usize, u32),
}

impl NameRef {
    /// The same name with other generation bits (`x` in 1..=0xff).
    pub fn derive(self, x: u32) -> NameRef {
        match self {
            NameRef::Lit(v) => NameRef::Lit(v ^ x),
            NameRef::Made(id) => NameRef::Derived(id, x),
            NameRef::Derived(id, y) => NameRef::Derived(id, x ^ y),
        }
    }

    pub fn resolve(self, results: &HashMap<usize, u32>) -> Option<u32> {
        match self {
            NameRef::Lit(v) => Some(v),
            NameRef::Made(id) => results.get(&id).copied(),
            NameRef::Derived(id, x) => results.get(&id).map(|v| v ^ x),
        }
    }
}

impl fmt::Display for NameRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameRef::Lit(v) => write!(f, "{v:#x}"),
            NameRef::Made(id) => write!(f, "@{id}"),
            NameRef::Derived(id, x) => write!(f, "@{id}^{x:#x}"),
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
}

impl Call<NameRef> {
    /// The call with its names resolved, or `None` when one of them comes
    /// from an operation that did not return a name.
    pub fn resolve(&self, r: &HashMap<usize, u32>) -> Option<Call<u32>> {
        use Call::*;
        Some(match *self {
            Allocate { task, right } => Allocate {
                task: task.resolve(r)?,
                right,
            },
            AllocateName { task, right, name } => AllocateName {
                task: task.resolve(r)?,
                right,
                name: name.resolve(r)?,
            },
            ReplyPort => ReplyPort,
            Type { task, name } => Type {
                task: task.resolve(r)?,
                name: name.resolve(r)?,
            },
            GetRefs { task, name, right } => GetRefs {
                task: task.resolve(r)?,
                name: name.resolve(r)?,
                right,
            },
            ModRefs {
                task,
                name,
                right,
                delta,
            } => ModRefs {
                task: task.resolve(r)?,
                name: name.resolve(r)?,
                right,
                delta,
            },
            Deallocate { task, name } => Deallocate {
                task: task.resolve(r)?,
                name: name.resolve(r)?,
            },
            Destroy { task, name } => Destroy {
                task: task.resolve(r)?,
                name: name.resolve(r)?,
            },
            Insert {
                task,
                name,
                poly,
                disp,
            } => Insert {
                task: task.resolve(r)?,
                name: name.resolve(r)?,
                poly: poly.resolve(r)?,
                disp,
            },
            Extract { task, name, disp } => Extract {
                task: task.resolve(r)?,
                name: name.resolve(r)?,
                disp,
            },
            Names { task } => Names {
                task: task.resolve(r)?,
            },
            TaskForFd { of } => TaskForFd { of },
            TaskForBadFd { closed } => TaskForBadFd { closed },
            Close => Close,
        })
    }
}

impl<N> Call<N> {
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
        }
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
        sys::MACH_MSG_TYPE_MOVE_RECEIVE => "MOVE_RECEIVE".into(),
        sys::MACH_MSG_TYPE_MOVE_SEND => "MOVE_SEND".into(),
        sys::MACH_MSG_TYPE_MOVE_SEND_ONCE => "MOVE_SEND_ONCE".into(),
        sys::MACH_MSG_TYPE_COPY_SEND => "COPY_SEND".into(),
        sys::MACH_MSG_TYPE_MAKE_SEND => "MAKE_SEND".into(),
        sys::MACH_MSG_TYPE_MAKE_SEND_ONCE => "MAKE_SEND_ONCE".into(),
        other => format!("disposition({other})"),
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
        use Call::*;
        let s = |n: &N| n.show();
        let shown: Call<String> = match self {
            Allocate { task, right } => Allocate {
                task: s(task),
                right: *right,
            },
            AllocateName { task, right, name } => AllocateName {
                task: s(task),
                right: *right,
                name: s(name),
            },
            ReplyPort => ReplyPort,
            Type { task, name } => Type {
                task: s(task),
                name: s(name),
            },
            GetRefs { task, name, right } => GetRefs {
                task: s(task),
                name: s(name),
                right: *right,
            },
            ModRefs {
                task,
                name,
                right,
                delta,
            } => ModRefs {
                task: s(task),
                name: s(name),
                right: *right,
                delta: *delta,
            },
            Deallocate { task, name } => Deallocate {
                task: s(task),
                name: s(name),
            },
            Destroy { task, name } => Destroy {
                task: s(task),
                name: s(name),
            },
            Insert {
                task,
                name,
                poly,
                disp,
            } => Insert {
                task: s(task),
                name: s(name),
                poly: s(poly),
                disp: *disp,
            },
            Extract { task, name, disp } => Extract {
                task: s(task),
                name: s(name),
                disp: *disp,
            },
            Names { task } => Names { task: s(task) },
            TaskForFd { of } => TaskForFd { of: *of },
            TaskForBadFd { closed } => TaskForBadFd { closed: *closed },
            Close => Close,
        };
        fmt_call(&shown, f)
    }
}

fn fmt_call(call: &Call<String>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    use Call::*;
    {
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
        }
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
    Os(i32),
}

/// A call's result: the code and the values it returned (`a`: a name, a
/// type or a count; `b`: a message type name; `list`: names and types).
#[derive(Clone, Debug)]
pub struct Act {
    pub res: Res,
    pub a: u32,
    pub b: u32,
    pub list: Vec<(u32, u32)>,
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

impl fmt::Display for Res {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Res::Ok => f.write_str("KERN_SUCCESS"),
            Res::Kern(kr) => f.write_str(&kr_str(*kr)),
            Res::Os(e) => write!(f, "errno {e}"),
        }
    }
}
