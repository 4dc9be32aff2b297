//! The reference model: docs/calls.md in plain Rust.
//!
//! A model space maps names to entries (type bits, user references, the
//! port). Dead-name conversion is eager here: when a port dies, every send
//! and send-once right to it, in every space, becomes a dead name at once
//! (the kernel may do it lazily; no call can tell the difference).
//!
//! The model never predicts a name the kernel chooses: when a call hands
//! out a new name, the model checks that it is a valid name not in use (and
//! not the name freed last) and adopts it.

use super::op::{disp_str, kr_str, right_str, Act, Call, NameRef, Res};
use mach::sys::*;
use std::collections::BTreeMap;

pub const SEND: u32 = MACH_PORT_TYPE_SEND;
pub const RECEIVE: u32 = MACH_PORT_TYPE_RECEIVE;
pub const SEND_ONCE: u32 = MACH_PORT_TYPE_SEND_ONCE;
pub const PORT_SET: u32 = MACH_PORT_TYPE_PORT_SET;
pub const DEAD: u32 = MACH_PORT_TYPE_DEAD_NAME;
const MAX: u32 = MACH_PORT_UREFS_MAX;

#[derive(Clone, Debug)]
pub struct Entry {
    pub bits: u32,
    /// User references of the send right or dead name (0 otherwise).
    pub urefs: u32,
    /// The port of a send, send-once or receive right.
    pub port: Option<usize>,
    /// How the generator refers to this name.
    pub origin: NameRef,
}

pub struct Space {
    pub alive: bool,
    pub entries: BTreeMap<u32, Entry>,
    pub task_port: usize,
    /// The name freed last, if no kernel-chosen name was handed out since
    /// ("a name that was just freed is not handed out again at once").
    pub last_freed: Option<u32>,
    /// Recently freed names (for stale-name operations).
    pub freed: Vec<NameRef>,
}

pub struct Port {
    pub alive: bool,
    /// The space whose task port this is.
    pub task_of: Option<usize>,
}

/// A right taken from a space by copy-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Send,
    SendOnce,
    Receive,
}

enum Carried {
    Right(Kind, usize),
    /// A dead name taken with COPY_SEND, MOVE_SEND or MOVE_SEND_ONCE.
    Dead,
}

/// Where a copied-out right went in the receiving space.
enum Out {
    Merged(u32),
    New(Kind, usize),
}

pub struct Model {
    pub spaces: Vec<Space>,
    pub ports: Vec<Port>,
    /// The model space in each slot.
    pub slots: Vec<usize>,
}

type Check = Result<Option<u32>, String>;

fn valid(name: u32) -> bool {
    mach_port_valid(name)
}

fn res_of(kr: i32) -> Res {
    if kr == 0 {
        Res::Ok
    } else {
        Res::Kern(kr)
    }
}

/// Compares the code; `Ok(())` when it matches.
fn expect(kr: i32, act: &Act) -> Result<(), String> {
    let want = res_of(kr);
    if act.res == want {
        Ok(())
    } else {
        Err(format!("expected {want}, got {}", act.res))
    }
}

impl Model {
    pub fn new(slots: usize) -> Model {
        let mut m = Model {
            spaces: Vec::new(),
            ports: Vec::new(),
            slots: Vec::new(),
        };
        for _ in 0..slots {
            let s = m.new_space();
            m.slots.push(s);
        }
        m
    }

    fn new_space(&mut self) -> usize {
        let id = self.spaces.len();
        let tp = self.ports.len();
        self.ports.push(Port {
            alive: true,
            task_of: Some(id),
        });
        let mut entries = BTreeMap::new();
        entries.insert(
            MACH_TASK_SELF_NAME,
            Entry {
                bits: SEND,
                urefs: 1,
                port: Some(tp),
                origin: NameRef::Lit(MACH_TASK_SELF_NAME),
            },
        );
        self.spaces.push(Space {
            alive: true,
            entries,
            task_port: tp,
            last_freed: None,
            freed: Vec::new(),
        });
        id
    }

    fn new_port(&mut self) -> usize {
        self.ports.push(Port {
            alive: true,
            task_of: None,
        });
        self.ports.len() - 1
    }

    fn free(&mut self, s: usize, name: u32) {
        let sp = &mut self.spaces[s];
        if let Some(e) = sp.entries.remove(&name) {
            sp.last_freed = Some(name);
            sp.freed.push(e.origin);
            if sp.freed.len() > 16 {
                sp.freed.remove(0);
            }
        }
    }

    /// The port dies: its receive right goes, every send and send-once
    /// right to it becomes a dead name.
    fn kill_port(&mut self, p: usize) {
        self.ports[p].alive = false;
        for s in 0..self.spaces.len() {
            if !self.spaces[s].alive {
                continue;
            }
            let names: Vec<u32> = self.spaces[s]
                .entries
                .iter()
                .filter(|(_, e)| e.port == Some(p))
                .map(|(&n, _)| n)
                .collect();
            for n in names {
                let e = self.spaces[s].entries.get_mut(&n).unwrap();
                e.bits &= !RECEIVE;
                e.port = None;
                if e.bits & SEND != 0 {
                    e.bits = DEAD;
                } else if e.bits & SEND_ONCE != 0 {
                    e.bits = DEAD;
                    e.urefs = 1;
                }
                if e.bits == 0 {
                    self.free(s, n);
                }
            }
        }
    }

    /// Closes the space in `slot` (its ports and task port die) and puts a
    /// new one there.
    pub fn close_slot(&mut self, slot: usize) {
        let s = self.slots[slot];
        let entries = std::mem::take(&mut self.spaces[s].entries);
        self.spaces[s].alive = false;
        for e in entries.values() {
            if e.bits & RECEIVE != 0 {
                self.kill_port(e.port.unwrap());
            }
        }
        let tp = self.spaces[s].task_port;
        self.kill_port(tp);
        self.slots[slot] = self.new_space();
    }

    /// The space a task name in space `s` gives access to.
    pub fn task_space(&self, s: usize, task: u32) -> Option<usize> {
        let e = self.spaces[s].entries.get(&task)?;
        if e.bits & SEND == 0 {
            return None;
        }
        let p = e.port?;
        if !self.ports[p].alive {
            return None;
        }
        self.ports[p].task_of
    }

    /// The name in space `s` holding a send or receive right for port `p`.
    pub fn name_for_port(&self, s: usize, p: usize, bits: u32) -> Option<u32> {
        self.spaces[s]
            .entries
            .iter()
            .find(|(_, e)| e.port == Some(p) && e.bits & bits != 0)
            .map(|(&n, _)| n)
    }

    /// Adopts a name the kernel chose for a new right in space `s`.
    fn adopt(
        &mut self,
        s: usize,
        name: u32,
        bits: u32,
        urefs: u32,
        port: Option<usize>,
        id: usize,
    ) -> Check {
        if !valid(name) {
            return Err(format!("the kernel chose the invalid name {name:#x}"));
        }
        if let Some(e) = self.spaces[s].entries.get(&name) {
            return Err(format!(
                "the kernel chose {name:#x}, a name in use (model: {e:?})"
            ));
        }
        if self.spaces[s].last_freed == Some(name) {
            return Err(format!(
                "the kernel handed out {name:#x} again right after it was freed"
            ));
        }
        self.spaces[s].entries.insert(
            name,
            Entry {
                bits,
                urefs,
                port,
                origin: NameRef::Made(id),
            },
        );
        // Only the next name handed out must differ from the one freed.
        self.spaces[s].last_freed = None;
        Ok(Some(name))
    }

    pub fn expected_refs(&self, s: usize, name: u32, right: u32) -> Result<u32, i32> {
        if right >= MACH_PORT_RIGHT_NUMBER {
            return Err(KERN_INVALID_VALUE);
        }
        if !valid(name) {
            return if right == MACH_PORT_RIGHT_SEND || right == MACH_PORT_RIGHT_SEND_ONCE {
                Ok(1)
            } else {
                Err(KERN_INVALID_NAME)
            };
        }
        let e = self.spaces[s].entries.get(&name).ok_or(KERN_INVALID_NAME)?;
        let has = |b: u32| e.bits & b != 0;
        Ok(match right {
            MACH_PORT_RIGHT_SEND if has(SEND) => e.urefs,
            MACH_PORT_RIGHT_DEAD_NAME if has(DEAD) => e.urefs,
            MACH_PORT_RIGHT_RECEIVE if has(RECEIVE) => 1,
            MACH_PORT_RIGHT_SEND_ONCE if has(SEND_ONCE) => 1,
            MACH_PORT_RIGHT_PORT_SET if has(PORT_SET) => 1,
            _ => 0,
        })
    }

    fn mod_refs(&mut self, s: usize, name: u32, right: u32, delta: i32) -> i32 {
        if right >= MACH_PORT_RIGHT_NUMBER {
            return KERN_INVALID_VALUE;
        }
        if !valid(name) {
            return if right == MACH_PORT_RIGHT_SEND || right == MACH_PORT_RIGHT_SEND_ONCE {
                KERN_SUCCESS
            } else {
                KERN_INVALID_NAME
            };
        }
        let Some(e) = self.spaces[s].entries.get_mut(&name) else {
            return KERN_INVALID_NAME;
        };
        match right {
            MACH_PORT_RIGHT_RECEIVE | MACH_PORT_RIGHT_PORT_SET | MACH_PORT_RIGHT_SEND_ONCE => {
                let bit = match right {
                    MACH_PORT_RIGHT_RECEIVE => RECEIVE,
                    MACH_PORT_RIGHT_PORT_SET => PORT_SET,
                    _ => SEND_ONCE,
                };
                if e.bits & bit == 0 {
                    return KERN_INVALID_RIGHT;
                }
                match delta {
                    0 => KERN_SUCCESS,
                    -1 => {
                        if bit == RECEIVE {
                            let p = e.port.unwrap();
                            self.kill_port(p);
                        } else {
                            self.free(s, name);
                        }
                        KERN_SUCCESS
                    }
                    _ => KERN_INVALID_VALUE,
                }
            }
            MACH_PORT_RIGHT_SEND | MACH_PORT_RIGHT_DEAD_NAME => {
                let bit = if right == MACH_PORT_RIGHT_SEND {
                    SEND
                } else {
                    DEAD
                };
                if e.bits & bit == 0 {
                    return KERN_INVALID_RIGHT;
                }
                let n = e.urefs as i64 + delta as i64;
                if n < 0 {
                    return KERN_INVALID_VALUE;
                }
                if n > MAX as i64 {
                    return KERN_UREFS_OVERFLOW;
                }
                e.urefs = n as u32;
                if n == 0 {
                    e.bits &= !bit;
                    if e.bits & RECEIVE == 0 {
                        self.free(s, name);
                    }
                }
                KERN_SUCCESS
            }
            _ => KERN_INVALID_RIGHT,
        }
    }

    fn deallocate(&mut self, s: usize, name: u32) -> i32 {
        if !valid(name) {
            return KERN_SUCCESS;
        }
        let Some(e) = self.spaces[s].entries.get_mut(&name) else {
            return KERN_INVALID_NAME;
        };
        if e.bits & (SEND | DEAD) != 0 {
            e.urefs -= 1;
            if e.urefs == 0 {
                e.bits &= !(SEND | DEAD);
                if e.bits == 0 {
                    self.free(s, name);
                }
            }
            KERN_SUCCESS
        } else if e.bits & (SEND_ONCE | PORT_SET) != 0 {
            self.free(s, name);
            KERN_SUCCESS
        } else {
            KERN_INVALID_RIGHT
        }
    }

    fn destroy(&mut self, s: usize, name: u32) -> i32 {
        if !valid(name) {
            return KERN_SUCCESS;
        }
        let Some(e) = self.spaces[s].entries.get(&name).cloned() else {
            return KERN_INVALID_NAME;
        };
        self.free(s, name);
        if e.bits & RECEIVE != 0 {
            self.kill_port(e.port.unwrap());
        }
        KERN_SUCCESS
    }

    /// Takes the right `name` of space `s` as `disp` says (a valid
    /// disposition).
    fn copyin(&mut self, s: usize, name: u32, disp: u32) -> Result<Carried, i32> {
        let Some(e) = self.spaces[s].entries.get_mut(&name) else {
            return Err(KERN_INVALID_NAME);
        };
        match disp {
            MACH_MSG_TYPE_MAKE_SEND | MACH_MSG_TYPE_MAKE_SEND_ONCE | MACH_MSG_TYPE_MOVE_RECEIVE => {
                if e.bits & RECEIVE == 0 {
                    return Err(KERN_INVALID_RIGHT);
                }
                let p = e.port.unwrap();
                Ok(match disp {
                    MACH_MSG_TYPE_MAKE_SEND => Carried::Right(Kind::Send, p),
                    MACH_MSG_TYPE_MAKE_SEND_ONCE => Carried::Right(Kind::SendOnce, p),
                    _ => {
                        e.bits &= !RECEIVE;
                        if e.bits == 0 {
                            self.free(s, name);
                        }
                        Carried::Right(Kind::Receive, p)
                    }
                })
            }
            _ => {
                let moving = disp != MACH_MSG_TYPE_COPY_SEND;
                if e.bits & DEAD != 0 {
                    if moving {
                        e.urefs -= 1;
                        if e.urefs == 0 {
                            self.free(s, name);
                        }
                    }
                    return Ok(Carried::Dead);
                }
                if disp == MACH_MSG_TYPE_MOVE_SEND_ONCE {
                    if e.bits & SEND_ONCE == 0 {
                        return Err(KERN_INVALID_RIGHT);
                    }
                    let p = e.port.unwrap();
                    self.free(s, name);
                    return Ok(Carried::Right(Kind::SendOnce, p));
                }
                if e.bits & SEND == 0 {
                    return Err(KERN_INVALID_RIGHT);
                }
                let p = e.port.unwrap();
                if moving {
                    e.urefs -= 1;
                    if e.urefs == 0 {
                        e.bits &= !SEND;
                        if e.bits == 0 {
                            self.free(s, name);
                        }
                    }
                }
                Ok(Carried::Right(Kind::Send, p))
            }
        }
    }

    /// Copy-out under a caller-chosen name (insert_right, step 6).
    fn copyout_named(&mut self, t: usize, name: u32, origin: NameRef, kind: Kind, p: usize) -> i32 {
        let here = self.spaces[t]
            .entries
            .get(&name)
            .map(|e| (e.bits, e.port, e.urefs));
        match kind {
            Kind::Send => {
                if let Some((bits, port, urefs)) = here {
                    if port == Some(p) && bits & (SEND | RECEIVE) != 0 {
                        let e = self.spaces[t].entries.get_mut(&name).unwrap();
                        if bits & SEND != 0 {
                            if urefs + 1 > MAX {
                                return KERN_UREFS_OVERFLOW;
                            }
                            e.urefs += 1;
                        } else {
                            e.bits |= SEND;
                            e.urefs = 1;
                        }
                        return KERN_SUCCESS;
                    }
                }
                if self.name_for_port(t, p, SEND | RECEIVE).is_some() {
                    return KERN_RIGHT_EXISTS;
                }
                if here.is_some() {
                    return KERN_NAME_EXISTS;
                }
                self.spaces[t].entries.insert(
                    name,
                    Entry {
                        bits: SEND,
                        urefs: 1,
                        port: Some(p),
                        origin,
                    },
                );
            }
            Kind::Receive => {
                if let Some((bits, port, _)) = here {
                    if port == Some(p) && bits & SEND != 0 {
                        self.spaces[t].entries.get_mut(&name).unwrap().bits |= RECEIVE;
                        return KERN_SUCCESS;
                    }
                }
                if self.name_for_port(t, p, SEND).is_some() {
                    return KERN_RIGHT_EXISTS;
                }
                if here.is_some() {
                    return KERN_NAME_EXISTS;
                }
                self.spaces[t].entries.insert(
                    name,
                    Entry {
                        bits: RECEIVE,
                        urefs: 0,
                        port: Some(p),
                        origin,
                    },
                );
            }
            Kind::SendOnce => {
                if here.is_some() {
                    return KERN_NAME_EXISTS;
                }
                self.spaces[t].entries.insert(
                    name,
                    Entry {
                        bits: SEND_ONCE,
                        urefs: 0,
                        port: Some(p),
                        origin,
                    },
                );
            }
        }
        KERN_SUCCESS
    }

    /// Copy-out as a received message does (extract_right, task_for_fd):
    /// merged into the name for the port, else a new name.
    fn copyout_any(&mut self, c: usize, kind: Kind, p: usize) -> Out {
        match kind {
            Kind::Send => {
                if let Some(n) = self.name_for_port(c, p, SEND | RECEIVE) {
                    let e = self.spaces[c].entries.get_mut(&n).unwrap();
                    if e.bits & SEND != 0 {
                        e.urefs = (e.urefs + 1).min(MAX);
                    } else {
                        e.bits |= SEND;
                        e.urefs = 1;
                    }
                    return Out::Merged(n);
                }
            }
            Kind::Receive => {
                if let Some(n) = self.name_for_port(c, p, SEND) {
                    self.spaces[c].entries.get_mut(&n).unwrap().bits |= RECEIVE;
                    return Out::Merged(n);
                }
            }
            Kind::SendOnce => {}
        }
        Out::New(kind, p)
    }

    /// Checks a copy-out's returned name against the model; adopts it if new.
    fn finish_out(&mut self, c: usize, out: Out, got: u32, id: usize) -> Check {
        match out {
            Out::Merged(n) => {
                if got == n {
                    Ok(Some(n))
                } else {
                    Err(format!(
                        "expected the right merged into {n:#x}, got the name {got:#x}"
                    ))
                }
            }
            Out::New(kind, p) => {
                let (bits, urefs) = match kind {
                    Kind::Send => (SEND, 1),
                    Kind::SendOnce => (SEND_ONCE, 0),
                    Kind::Receive => (RECEIVE, 0),
                };
                self.adopt(c, got, bits, urefs, Some(p), id)
            }
        }
    }

    /// Applies `call`, made in the space of `slot`, to the model and
    /// compares what the kernel answered (`act`). Returns the name the call
    /// returned, if any, or a description of the mismatch.
    pub fn apply(
        &mut self,
        slot: usize,
        call: &Call<u32>,
        refs: &Call<NameRef>,
        id: usize,
        act: &Act,
    ) -> Check {
        let c = self.slots[slot];
        // Every call but reply_port/task_for_fd/close checks its task first.
        let task = match *call {
            Call::Allocate { task, .. }
            | Call::AllocateName { task, .. }
            | Call::Type { task, .. }
            | Call::GetRefs { task, .. }
            | Call::ModRefs { task, .. }
            | Call::Deallocate { task, .. }
            | Call::Destroy { task, .. }
            | Call::Insert { task, .. }
            | Call::Extract { task, .. }
            | Call::Names { task } => Some(task),
            _ => None,
        };
        let t = match task {
            Some(task) => match self.task_space(c, task) {
                Some(t) => t,
                None => {
                    expect(KERN_INVALID_TASK, act)?;
                    return Ok(None);
                }
            },
            None => c,
        };
        match *call {
            Call::Allocate { right, .. } | Call::AllocateName { right, .. } => {
                let named = match *call {
                    Call::AllocateName { name, .. } => Some(name),
                    _ => None,
                };
                let ok_right = matches!(
                    right,
                    MACH_PORT_RIGHT_RECEIVE | MACH_PORT_RIGHT_PORT_SET | MACH_PORT_RIGHT_DEAD_NAME
                );
                if !ok_right || named.is_some_and(|n| !valid(n)) {
                    expect(KERN_INVALID_VALUE, act)?;
                    return Ok(None);
                }
                if let Some(n) = named {
                    if self.spaces[t].entries.contains_key(&n) {
                        expect(KERN_NAME_EXISTS, act)?;
                        return Ok(None);
                    }
                }
                expect(KERN_SUCCESS, act)?;
                let (bits, urefs, port) = match right {
                    MACH_PORT_RIGHT_RECEIVE => (RECEIVE, 0, Some(self.new_port())),
                    MACH_PORT_RIGHT_PORT_SET => (PORT_SET, 0, None),
                    _ => (DEAD, 1, None),
                };
                match (named, refs) {
                    (Some(n), Call::AllocateName { name: origin, .. }) => {
                        self.spaces[t].entries.insert(
                            n,
                            Entry {
                                bits,
                                urefs,
                                port,
                                origin: *origin,
                            },
                        );
                        Ok(None)
                    }
                    _ => self.adopt(t, act.a, bits, urefs, port, id),
                }
            }
            Call::ReplyPort => {
                expect(KERN_SUCCESS, act)?;
                let p = self.new_port();
                self.adopt(c, act.a, RECEIVE, 0, Some(p), id)
            }
            Call::Type { name, .. } => {
                let want = if name == MACH_PORT_NULL {
                    Err(KERN_INVALID_NAME)
                } else if name == MACH_PORT_DEAD {
                    Ok(DEAD)
                } else {
                    self.spaces[t]
                        .entries
                        .get(&name)
                        .map(|e| e.bits)
                        .ok_or(KERN_INVALID_NAME)
                };
                match want {
                    Err(kr) => expect(kr, act)?,
                    Ok(bits) => {
                        expect(KERN_SUCCESS, act)?;
                        if act.a != bits {
                            return Err(format!(
                                "expected type {:?}, got {:?}",
                                mach::PortType(bits),
                                mach::PortType(act.a)
                            ));
                        }
                    }
                }
                Ok(None)
            }
            Call::GetRefs { name, right, .. } => {
                match self.expected_refs(t, name, right) {
                    Err(kr) => expect(kr, act)?,
                    Ok(refs) => {
                        expect(KERN_SUCCESS, act)?;
                        if act.a != refs {
                            return Err(format!("expected {refs} references, got {}", act.a));
                        }
                    }
                }
                Ok(None)
            }
            Call::ModRefs {
                name, right, delta, ..
            } => {
                let kr = self.mod_refs(t, name, right, delta);
                expect(kr, act)?;
                Ok(None)
            }
            Call::Deallocate { name, .. } => {
                let kr = self.deallocate(t, name);
                expect(kr, act)?;
                Ok(None)
            }
            Call::Destroy { name, .. } => {
                let kr = self.destroy(t, name);
                expect(kr, act)?;
                Ok(None)
            }
            Call::Insert {
                name, poly, disp, ..
            } => {
                let origin = match refs {
                    Call::Insert { name, .. } => *name,
                    _ => NameRef::Lit(name),
                };
                let kr = self.insert(c, t, name, origin, poly, disp);
                expect(kr, act)?;
                Ok(None)
            }
            Call::Extract { name, disp, .. } => {
                if !mach_msg_type_port_any(disp) {
                    expect(KERN_INVALID_VALUE, act)?;
                    return Ok(None);
                }
                if !valid(name) {
                    expect(KERN_INVALID_RIGHT, act)?;
                    return Ok(None);
                }
                match self.copyin(t, name, disp) {
                    Err(kr) => {
                        expect(kr, act)?;
                        Ok(None)
                    }
                    Ok(Carried::Dead) => {
                        expect(KERN_SUCCESS, act)?;
                        let pp = if disp == MACH_MSG_TYPE_MOVE_SEND_ONCE {
                            MACH_MSG_TYPE_PORT_SEND_ONCE
                        } else {
                            MACH_MSG_TYPE_PORT_SEND
                        };
                        if act.a != MACH_PORT_DEAD || act.b != pp {
                            return Err(format!(
                                "expected (MACH_PORT_DEAD, {}), got ({:#x}, {})",
                                disp_str(pp),
                                act.a,
                                disp_str(act.b)
                            ));
                        }
                        Ok(None)
                    }
                    Ok(Carried::Right(kind, p)) => {
                        expect(KERN_SUCCESS, act)?;
                        let pp = match kind {
                            Kind::Send => MACH_MSG_TYPE_PORT_SEND,
                            Kind::SendOnce => MACH_MSG_TYPE_PORT_SEND_ONCE,
                            Kind::Receive => MACH_MSG_TYPE_PORT_RECEIVE,
                        };
                        if act.b != pp {
                            return Err(format!(
                                "expected polyPoly {}, got {}",
                                disp_str(pp),
                                disp_str(act.b)
                            ));
                        }
                        let out = self.copyout_any(c, kind, p);
                        self.finish_out(c, out, act.a, id)
                    }
                }
            }
            Call::Names { .. } => {
                expect(KERN_SUCCESS, act)?;
                self.compare_names(t, &act.list)?;
                Ok(None)
            }
            Call::TaskForFd { of } => {
                expect(KERN_SUCCESS, act)?;
                let tp = self.spaces[self.slots[of]].task_port;
                let out = self.copyout_any(c, Kind::Send, tp);
                self.finish_out(c, out, act.a, id)
            }
            Call::TaskForBadFd { closed } => {
                let want = if closed {
                    Res::Os(libc::EBADF)
                } else {
                    Res::Kern(KERN_INVALID_ARGUMENT)
                };
                if act.res != want {
                    return Err(format!("expected {want}, got {}", act.res));
                }
                Ok(None)
            }
            Call::Close => {
                self.close_slot(slot);
                Ok(None)
            }
        }
    }

    fn insert(
        &mut self,
        c: usize,
        t: usize,
        name: u32,
        origin: NameRef,
        poly: u32,
        disp: u32,
    ) -> i32 {
        if !valid(name) {
            return KERN_INVALID_VALUE;
        }
        if !mach_msg_type_port_any(disp) {
            return KERN_INVALID_VALUE;
        }
        if !valid(poly) {
            return KERN_INVALID_CAPABILITY;
        }
        match self.copyin(c, poly, disp) {
            Err(kr) => kr,
            Ok(Carried::Dead) => KERN_INVALID_CAPABILITY,
            Ok(Carried::Right(kind, p)) => {
                let kr = self.copyout_named(t, name, origin, kind, p);
                if kr != KERN_SUCCESS && kind == Kind::Receive {
                    self.kill_port(p);
                }
                kr
            }
        }
    }

    /// Compares a space's `names()` listing with the model.
    pub fn compare_names(&self, t: usize, got: &[(u32, u32)]) -> Result<(), String> {
        let want: Vec<(u32, u32)> = self.spaces[t]
            .entries
            .iter()
            .map(|(&n, e)| (n, e.bits))
            .collect();
        if want == got {
            return Ok(());
        }
        let fmt = |l: &[(u32, u32)]| {
            l.iter()
                .map(|(n, b)| format!("{n:#x}:{:?}", mach::PortType(*b)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut diff = Vec::new();
        for (n, b) in &want {
            match got.iter().find(|(g, _)| g == n) {
                None => diff.push(format!("{n:#x} ({:?}) missing", mach::PortType(*b))),
                Some((_, gb)) if gb != b => diff.push(format!(
                    "{n:#x} is {:?}, expected {:?}",
                    mach::PortType(*gb),
                    mach::PortType(*b)
                )),
                _ => {}
            }
        }
        for (n, b) in got {
            if !want.iter().any(|(w, _)| w == n) {
                diff.push(format!("{n:#x} ({:?}) unexpected", mach::PortType(*b)));
            }
        }
        Err(format!(
            "names() differs: {}; expected [{}], got [{}]",
            diff.join(", "),
            fmt(&want),
            fmt(got)
        ))
    }

    /// A short description of a model space, for failure reports.
    pub fn describe(&self, slot: usize) -> String {
        let s = self.slots[slot];
        self.spaces[s]
            .entries
            .iter()
            .map(|(n, e)| {
                let port = match e.port {
                    Some(p) => match self.ports[p].task_of {
                        Some(ts) => format!(" task-port(space {ts})"),
                        None => format!(" port {p}"),
                    },
                    None => String::new(),
                };
                format!("{n:#x}:{:?}/{}{port}", mach::PortType(e.bits), e.urefs)
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Formats a failure of `get_refs` in a full check.
pub fn refs_mismatch(
    slot: usize,
    name: u32,
    right: u32,
    want: Result<u32, i32>,
    got: &Res,
    got_refs: u32,
) -> String {
    let w = match want {
        Ok(r) => format!("KERN_SUCCESS, {r}"),
        Err(kr) => kr_str(kr),
    };
    let g = match got {
        Res::Ok => format!("KERN_SUCCESS, {got_refs}"),
        other => other.to_string(),
    };
    format!(
        "space s{slot}: get_refs({name:#x}, {}): expected {w}, got {g}",
        right_str(right)
    )
}
