//! The reference model: docs/calls.md, docs/messages.md and
//! docs/notifications.md in plain Rust. This file holds the spaces, ports
//! and port sets, the port calls of docs/calls.md, and what happens when
//! rights go away (dead names, destroyed messages, notifications);
//! [`super::msgs`] holds mach_msg, port sets, attributes and notification
//! requests.
//!
//! A model space maps names to entries (type bits, user references, the
//! port, the set, a dead-name request). Dead-name conversion is eager here:
//! when a port dies, every send and send-once right to it, in every space,
//! becomes a dead name at once (the kernel may do it lazily; no call can
//! tell the difference). Rights inside queued messages to a port that died
//! arrive as MACH_PORT_DEAD.
//!
//! Messages, the kernel's notifications included, are queued on model
//! ports. The docs do not order the notifications one call sends to one
//! port (e.g. the dead-name notifications of a closing space): each queued
//! message records the operation that queued it, and a receive accepts any
//! message of the first operation's run at the front of the queue. A
//! receive on a port set accepts the front message of any member ("the
//! first message of some member"), and must then name that member.
//!
//! The model never predicts a name the kernel chooses: when a call hands
//! out a new name, the model checks that it is a valid name not in use (and
//! not the name freed last) and adopts it.

use super::op::{disp_str, kr_str, right_str, Act, Call, NameRef, Res};
use mach::sys::*;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub const SEND: u32 = MACH_PORT_TYPE_SEND;
pub const RECEIVE: u32 = MACH_PORT_TYPE_RECEIVE;
pub const SEND_ONCE: u32 = MACH_PORT_TYPE_SEND_ONCE;
pub const PORT_SET: u32 = MACH_PORT_TYPE_PORT_SET;
pub const DEAD: u32 = MACH_PORT_TYPE_DEAD_NAME;
pub const MAX: u32 = MACH_PORT_UREFS_MAX;

#[derive(Clone, Debug)]
pub struct Entry {
    pub bits: u32,
    /// User references of the send right or dead name (0 otherwise).
    pub urefs: u32,
    /// The port of a send, send-once or receive right.
    pub port: Option<usize>,
    /// The port set of a port-set name.
    pub set: Option<usize>,
    /// The dead-name request registered on this name: the port its
    /// send-once right goes to.
    pub dnreq: Option<usize>,
    /// How the generator refers to this name.
    pub origin: NameRef,
}

impl Entry {
    pub fn new(bits: u32, urefs: u32, port: Option<usize>, origin: NameRef) -> Entry {
        Entry {
            bits,
            urefs,
            port,
            set: None,
            dnreq: None,
            origin,
        }
    }

    /// The type mach_port_type and mach_port_names report.
    pub fn type_bits(&self) -> u32 {
        if self.dnreq.is_some() {
            self.bits | MACH_PORT_TYPE_DNREQUEST
        } else {
            self.bits
        }
    }
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

/// What fills a port's port-destroyed slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// A port-destroyed request: a send-once right to this port.
    Once(usize),
    /// A backup (port_set_backup): a send right to this port.
    Backup(usize),
}

pub struct Port {
    pub alive: bool,
    /// The space whose task port this is.
    pub task_of: Option<usize>,
    pub queue: VecDeque<MMsg>,
    pub qlimit: u32,
    /// The sequence number of the next message dequeued.
    pub seqno: u32,
    pub mscount: u32,
    /// The port set it is in.
    pub set: Option<usize>,
    pub pd: Option<Slot>,
    /// The no-senders request: a send-once right to this port.
    pub ns: Option<usize>,
    /// The operation whose call last fired the no-senders request, and the
    /// port it went to.
    pub ns_fired: Option<(usize, usize)>,
    /// While its receive right travels in a queued message: the port that
    /// message is queued on.
    pub transit: Option<usize>,
}

pub struct PortSet {
    pub alive: bool,
    pub members: BTreeSet<usize>,
}

/// A right taken from a space by copy-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Send,
    SendOnce,
    Receive,
}

/// A right in a message (or taken by a call).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Carried {
    Right(Kind, usize),
    /// A dead name taken with COPY_SEND, MOVE_SEND or MOVE_SEND_ONCE, or
    /// the name MACH_PORT_DEAD in a message.
    Dead,
    /// MACH_PORT_NULL in a message.
    Null,
}

/// A queued message.
#[derive(Clone, Debug)]
pub struct MMsg {
    /// The operation that queued it.
    pub batch: usize,
    pub id: i32,
    /// The destination right (a send or send-once right to the port it is
    /// queued on), held by the message until it is received.
    pub dest: Kind,
    pub dest_port: usize,
    /// The reply right (`None`: MACH_PORT_NULL) and its copied-out type.
    pub reply: Option<Carried>,
    pub reply_type: u32,
    /// Port descriptors: copied-out type and right.
    pub ports: Vec<(u32, Carried)>,
    /// Out-of-line port arrays: copied-out type and rights.
    pub ool: Vec<(u32, Vec<Carried>)>,
    pub data: Vec<u8>,
    pub kernel: bool,
    /// Whether it is the use of a no-senders request by a port that died
    /// in the call that queued it, and may then arrive as a no-senders
    /// notification (with any make-send count) or a send-once one: the
    /// docs do not order the destruction of the rights one call destroys
    /// (a closing space, a destroyed message, a backup that is the port
    /// itself), so the port's last send right may go before or after the
    /// port dies.
    pub alt: bool,
}

impl MMsg {
    pub fn complex(&self) -> bool {
        !self.ports.is_empty() || !self.ool.is_empty()
    }

    pub fn size(&self) -> u32 {
        let mut n = MACH_MSG_HEADER_SIZE as usize + self.data.len();
        if self.complex() {
            n += MACH_MSG_BODY_SIZE as usize
                + MACH_MSG_PORT_DESCRIPTOR_SIZE as usize * self.ports.len()
                + MACH_MSG_OOL_DESCRIPTOR_SIZE as usize * self.ool.len();
        }
        n as u32
    }

    /// Every right it carries but the destination, in the order a
    /// receiver sees their names: reply, port descriptors, arrays.
    pub fn rights(&self) -> Vec<Carried> {
        let mut v = vec![self.reply.unwrap_or(Carried::Null)];
        v.extend(self.ports.iter().map(|(_, c)| *c));
        for (_, a) in &self.ool {
            v.extend(a.iter().copied());
        }
        v
    }
}

/// Where a copied-out right went in the receiving space.
pub enum Out {
    Merged(u32),
    New(Kind, usize),
}

pub struct Model {
    pub spaces: Vec<Space>,
    pub ports: Vec<Port>,
    pub sets: Vec<PortSet>,
    /// The ports alive now.
    pub live: BTreeSet<usize>,
    /// The model space in each slot.
    pub slots: Vec<usize>,
    /// The operation being applied (recorded in the messages it queues).
    pub batch: usize,
}

pub type Check = Result<Vec<u32>, String>;

pub fn valid(name: u32) -> bool {
    mach_port_valid(name)
}

pub fn res_of(kr: i32) -> Res {
    if kr == 0 {
        Res::Ok
    } else {
        Res::Kern(kr)
    }
}

/// Compares the code; `Ok(())` when it matches.
pub fn expect(kr: i32, act: &Act) -> Result<(), String> {
    expect_res(res_of(kr), act)
}

pub fn expect_res(want: Res, act: &Act) -> Result<(), String> {
    if act.res == want {
        Ok(())
    } else {
        Err(format!("expected {want}, got {}", act.res))
    }
}

/// The NDR record and a name or count, as the notifications carry them.
pub fn ndr(value: u32) -> Vec<u8> {
    let mut v = NDR_RECORD.to_vec();
    v.extend_from_slice(&value.to_ne_bytes());
    v
}

impl Model {
    pub fn new(slots: usize) -> Model {
        let mut m = Model {
            spaces: Vec::new(),
            ports: Vec::new(),
            sets: Vec::new(),
            live: BTreeSet::new(),
            slots: Vec::new(),
            batch: 0,
        };
        for _ in 0..slots {
            let s = m.new_space();
            m.slots.push(s);
        }
        m
    }

    fn new_space(&mut self) -> usize {
        let id = self.spaces.len();
        let tp = self.new_port();
        self.ports[tp].task_of = Some(id);
        let mut entries = BTreeMap::new();
        entries.insert(
            MACH_TASK_SELF_NAME,
            Entry::new(SEND, 1, Some(tp), NameRef::Lit(MACH_TASK_SELF_NAME)),
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

    pub fn new_port(&mut self) -> usize {
        self.ports.push(Port {
            alive: true,
            task_of: None,
            queue: VecDeque::new(),
            qlimit: MACH_PORT_QLIMIT_DEFAULT,
            seqno: 0,
            mscount: 0,
            set: None,
            pd: None,
            ns: None,
            ns_fired: None,
            transit: None,
        });
        let p = self.ports.len() - 1;
        self.live.insert(p);
        p
    }

    pub fn alive(&self, p: usize) -> bool {
        self.ports[p].alive
    }

    /// Removes `name` from space `s`. A dead-name request on it fires a
    /// port-deleted notification.
    pub fn free(&mut self, s: usize, name: u32) {
        let sp = &mut self.spaces[s];
        if let Some(e) = sp.entries.remove(&name) {
            sp.last_freed = Some(name);
            sp.freed.push(e.origin);
            if sp.freed.len() > 16 {
                sp.freed.remove(0);
            }
            if let Some(n) = e.dnreq {
                self.notify(n, MACH_NOTIFY_PORT_DELETED, name);
            }
        }
    }

    /// Queues a kernel notification carrying `value` through a send-once
    /// right to `n` (nothing if `n` is dead).
    pub fn notify(&mut self, n: usize, id: i32, value: u32) {
        let m = MMsg {
            batch: self.batch,
            id,
            dest: Kind::SendOnce,
            dest_port: n,
            reply: None,
            reply_type: 0,
            ports: Vec::new(),
            ool: Vec::new(),
            data: ndr(value),
            kernel: true,
            alt: false,
        };
        self.enqueue(m);
    }

    /// Whether a receive right for port `r` queued on `dest` would be
    /// unreachable: `dest` is `r` or travels, maybe through other ports,
    /// inside `r`.
    pub fn circular(&self, dest: usize, r: usize) -> bool {
        let mut d = dest;
        loop {
            if d == r {
                return true;
            }
            match self.ports[d].transit {
                Some(q) => d = q,
                None => return false,
            }
        }
    }

    /// Queues `m` on its destination; a dead destination or a circular
    /// message destroys it.
    pub fn enqueue(&mut self, mut m: MMsg) {
        let p = m.dest_port;
        let receives: Vec<usize> = m
            .rights()
            .iter()
            .filter_map(|c| match c {
                Carried::Right(Kind::Receive, r) => Some(*r),
                _ => None,
            })
            .collect();
        if !self.alive(p) || receives.iter().any(|&r| self.circular(p, r)) {
            self.destroy_msg(m);
            return;
        }
        for r in receives {
            self.ports[r].transit = Some(p);
        }
        m.batch = self.batch;
        self.ports[p].queue.push_back(m);
    }

    /// Destroys a message: every right in it is released.
    pub fn destroy_msg(&mut self, m: MMsg) {
        for c in m.rights() {
            if let Carried::Right(Kind::Receive, r) = c {
                self.ports[r].transit = None;
            }
        }
        self.release(Carried::Right(m.dest, m.dest_port));
        for c in m.rights() {
            self.release(c);
        }
    }

    /// Releases a right that no space holds any more.
    pub fn release(&mut self, c: Carried) {
        match c {
            Carried::Right(Kind::Send, p) => self.release_send(p),
            Carried::Right(Kind::SendOnce, p) => {
                // Destroyed unused: a send-once notification through it.
                if self.alive(p) {
                    let m = MMsg {
                        batch: self.batch,
                        id: MACH_NOTIFY_SEND_ONCE,
                        dest: Kind::SendOnce,
                        dest_port: p,
                        reply: None,
                        reply_type: 0,
                        ports: Vec::new(),
                        ool: Vec::new(),
                        data: Vec::new(),
                        kernel: true,
                        alt: false,
                    };
                    self.enqueue(m);
                }
            }
            Carried::Right(Kind::Receive, p) => self.destroy_receive(p),
            Carried::Dead | Carried::Null => {}
        }
    }

    /// A send right to `p` went: if none is left and a no-senders request
    /// waits, it fires.
    pub fn release_send(&mut self, p: usize) {
        if self.alive(p) && self.ports[p].ns.is_some() && self.count_rights(p).0 == 0 {
            let n = self.ports[p].ns.take().unwrap();
            self.ports[p].ns_fired = Some((self.batch, n));
            let ms = self.ports[p].mscount;
            self.notify(n, MACH_NOTIFY_NO_SENDERS, ms);
        }
    }

    /// The send rights (one per name, one per right in transit or in a
    /// backup slot) and send-once rights (names, in transit, in requests)
    /// to live port `p`.
    pub fn count_rights(&self, p: usize) -> (u32, u32) {
        let (mut s, mut so) = (0, 0);
        let mut count = |c: Carried| match c {
            Carried::Right(Kind::Send, q) if q == p => s += 1,
            Carried::Right(Kind::SendOnce, q) if q == p => so += 1,
            _ => {}
        };
        for sp in self.spaces.iter().filter(|sp| sp.alive) {
            for e in sp.entries.values() {
                if e.port == Some(p) {
                    if e.bits & SEND != 0 {
                        count(Carried::Right(Kind::Send, p));
                    }
                    if e.bits & SEND_ONCE != 0 {
                        count(Carried::Right(Kind::SendOnce, p));
                    }
                }
                if let Some(n) = e.dnreq {
                    count(Carried::Right(Kind::SendOnce, n));
                }
            }
        }
        for &q in &self.live {
            let port = &self.ports[q];
            for m in &port.queue {
                count(Carried::Right(m.dest, m.dest_port));
                for c in m.rights() {
                    count(c);
                }
            }
            match port.pd {
                Some(Slot::Once(n)) => count(Carried::Right(Kind::SendOnce, n)),
                Some(Slot::Backup(n)) => count(Carried::Right(Kind::Send, n)),
                None => {}
            }
            if let Some(n) = port.ns {
                count(Carried::Right(Kind::SendOnce, n));
            }
        }
        (s, so)
    }

    /// Takes port `p` out of its set, if any.
    pub fn leave_set(&mut self, p: usize) {
        if let Some(set) = self.ports[p].set.take() {
            self.sets[set].members.remove(&p);
        }
    }

    /// Destroys a port set: its members leave it.
    pub fn destroy_set(&mut self, set: usize) {
        self.sets[set].alive = false;
        for p in std::mem::take(&mut self.sets[set].members) {
            self.ports[p].set = None;
        }
    }

    /// The receive right of `p` is being destroyed (no space holds it and
    /// no message carries it now): it goes to the port-destroyed slot's
    /// port if there is one, else the port dies.
    pub fn destroy_receive(&mut self, p: usize) {
        self.leave_set(p);
        if let Some(slot) = self.ports[p].pd.take() {
            let (n, kind) = match slot {
                Slot::Once(n) => (n, Kind::SendOnce),
                Slot::Backup(n) => (n, Kind::Send),
            };
            if self.alive(n) && !self.circular(n, p) {
                self.ports[p].mscount = 0;
                self.ports[p].seqno = 0;
                let m = MMsg {
                    batch: self.batch,
                    id: MACH_NOTIFY_PORT_DESTROYED,
                    dest: kind,
                    dest_port: n,
                    reply: None,
                    reply_type: 0,
                    ports: vec![(MACH_MSG_TYPE_PORT_RECEIVE, Carried::Right(Kind::Receive, p))],
                    ool: Vec::new(),
                    data: Vec::new(),
                    kernel: true,
                    alt: false,
                };
                self.enqueue(m);
                return;
            }
            self.kill_port(p);
            self.release(Carried::Right(kind, n));
            return;
        }
        self.kill_port(p);
    }

    /// The port dies: every send and send-once right to it becomes a dead
    /// name (dead-name requests fire), its requests are used up, its queued
    /// messages are destroyed.
    pub fn kill_port(&mut self, p: usize) {
        self.ports[p].alive = false;
        self.live.remove(&p);
        self.leave_set(p);
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
                } else if let Some(r) = e.dnreq.take() {
                    e.urefs = (e.urefs + 1).min(MAX);
                    self.notify(r, MACH_NOTIFY_DEAD_NAME, n);
                }
            }
        }
        if let Some(n) = self.ports[p].ns.take() {
            let before = self.ports[n].queue.len();
            self.release(Carried::Right(Kind::SendOnce, n));
            if let Some(m) = self.ports[n].queue.get_mut(before) {
                m.alt = true;
            }
        } else if let Some(n) = self.ports[p].ns_fired.take_if(|(b, _)| *b == self.batch) {
            let batch = self.batch;
            let fired = self.ports[n.1]
                .queue
                .iter_mut()
                .rev()
                .find(|m| m.batch == batch && m.kernel && m.id == MACH_NOTIFY_NO_SENDERS);
            if let Some(m) = fired {
                m.alt = true;
            }
        }
        match self.ports[p].pd.take() {
            Some(Slot::Once(n)) => self.release(Carried::Right(Kind::SendOnce, n)),
            Some(Slot::Backup(n)) => self.release(Carried::Right(Kind::Send, n)),
            None => {}
        }
        let queue = std::mem::take(&mut self.ports[p].queue);
        for m in queue {
            self.destroy_msg(m);
        }
    }

    /// Removes the rights `name` of space `s` denotes, as mach_port_destroy
    /// and a closing space do.
    fn destroy_name(&mut self, s: usize, name: u32) {
        let Some(e) = self.spaces[s].entries.get(&name).cloned() else {
            return;
        };
        self.free(s, name);
        if let Some(set) = e.set {
            self.destroy_set(set);
        }
        let Some(p) = e.port else { return };
        // The send right goes before the receive right (Mach's order): if
        // it was the last, a no-senders request fires.
        if e.bits & SEND != 0 {
            self.release_send(p);
        }
        if e.bits & RECEIVE != 0 {
            self.destroy_receive(p);
        }
        if e.bits & SEND_ONCE != 0 {
            self.release(Carried::Right(Kind::SendOnce, p));
        }
    }

    /// Closes the space in `slot` (its rights are destroyed name by name,
    /// its task port dies) and puts a new one there.
    pub fn close_slot(&mut self, slot: usize) {
        let s = self.slots[slot];
        // Every dead-name request of the space fires port-deleted first.
        let requests: Vec<(u32, usize)> = self.spaces[s]
            .entries
            .iter_mut()
            .filter_map(|(&name, e)| e.dnreq.take().map(|n| (name, n)))
            .collect();
        for (name, n) in requests {
            self.notify(n, MACH_NOTIFY_PORT_DELETED, name);
        }
        while let Some(&name) = self.spaces[s].entries.keys().next() {
            self.destroy_name(s, name);
        }
        self.spaces[s].alive = false;
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
    pub fn adopt(
        &mut self,
        s: usize,
        name: u32,
        bits: u32,
        urefs: u32,
        port: Option<usize>,
        origin: NameRef,
    ) -> Result<u32, String> {
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
        self.spaces[s]
            .entries
            .insert(name, Entry::new(bits, urefs, port, origin));
        // Only the next name handed out must differ from the one freed.
        self.spaces[s].last_freed = None;
        Ok(name)
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

    /// The receive right `name` of space `s` is destroyed: the name keeps
    /// its send right if it has one, else it is freed.
    fn drop_receive(&mut self, s: usize, name: u32) {
        let e = self.spaces[s].entries.get_mut(&name).unwrap();
        let p = e.port.unwrap();
        e.bits &= !RECEIVE;
        if e.bits == 0 {
            self.free(s, name);
        }
        self.destroy_receive(p);
    }

    /// One user reference of the send right or dead name `name` goes
    /// (`bit` says which); at 0 the right goes.
    fn drop_urefs(&mut self, s: usize, name: u32, bit: u32, n: u32) {
        let e = self.spaces[s].entries.get_mut(&name).unwrap();
        e.urefs -= n;
        if e.urefs > 0 {
            return;
        }
        e.bits &= !bit;
        let port = e.port;
        if e.bits == 0 {
            self.free(s, name);
        }
        if bit == SEND {
            self.release_send(port.unwrap());
        }
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
        let Some(e) = self.spaces[s].entries.get(&name) else {
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
                            self.drop_receive(s, name);
                        } else {
                            self.destroy_name(s, name);
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
                if delta < 0 {
                    self.drop_urefs(s, name, bit, (-delta) as u32);
                } else {
                    self.spaces[s].entries.get_mut(&name).unwrap().urefs = n as u32;
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
        let Some(e) = self.spaces[s].entries.get(&name) else {
            return KERN_INVALID_NAME;
        };
        if e.bits & (SEND | DEAD) != 0 {
            let bit = e.bits & (SEND | DEAD);
            self.drop_urefs(s, name, bit, 1);
            KERN_SUCCESS
        } else if e.bits & (SEND_ONCE | PORT_SET) != 0 {
            self.destroy_name(s, name);
            KERN_SUCCESS
        } else {
            KERN_INVALID_RIGHT
        }
    }

    fn destroy(&mut self, s: usize, name: u32) -> i32 {
        if !valid(name) {
            return KERN_SUCCESS;
        }
        if !self.spaces[s].entries.contains_key(&name) {
            return KERN_INVALID_NAME;
        }
        self.destroy_name(s, name);
        KERN_SUCCESS
    }

    /// What copy-in of `name` in space `s` as `disp` (a valid
    /// disposition) would take, without taking it.
    pub fn peek(&self, s: usize, name: u32, disp: u32) -> Result<Carried, i32> {
        let e = self.spaces[s].entries.get(&name).ok_or(KERN_INVALID_NAME)?;
        let (need, kind) = match disp {
            MACH_MSG_TYPE_MAKE_SEND => (RECEIVE, Kind::Send),
            MACH_MSG_TYPE_MAKE_SEND_ONCE => (RECEIVE, Kind::SendOnce),
            MACH_MSG_TYPE_MOVE_RECEIVE => (RECEIVE, Kind::Receive),
            MACH_MSG_TYPE_MOVE_SEND_ONCE => (SEND_ONCE, Kind::SendOnce),
            _ => (SEND, Kind::Send),
        };
        if need != RECEIVE && e.bits & DEAD != 0 {
            return Ok(Carried::Dead);
        }
        if e.bits & need == 0 {
            return Err(KERN_INVALID_RIGHT);
        }
        Ok(Carried::Right(kind, e.port.unwrap()))
    }

    /// Takes the right `name` of space `s` as `disp` says (a valid
    /// disposition).
    pub fn copyin(&mut self, s: usize, name: u32, disp: u32) -> Result<Carried, i32> {
        let taken = self.peek(s, name, disp)?;
        let e = self.spaces[s].entries.get_mut(&name).unwrap();
        match (taken, disp) {
            (_, MACH_MSG_TYPE_COPY_SEND) | (_, MACH_MSG_TYPE_MAKE_SEND_ONCE) => {}
            (Carried::Right(_, p), MACH_MSG_TYPE_MAKE_SEND) => self.ports[p].mscount += 1,
            (Carried::Right(_, p), MACH_MSG_TYPE_MOVE_RECEIVE) => {
                e.bits &= !RECEIVE;
                if e.bits == 0 {
                    self.free(s, name);
                }
                self.leave_set(p);
                self.ports[p].mscount = 0;
                self.ports[p].seqno = 0;
            }
            (Carried::Right(_, _), MACH_MSG_TYPE_MOVE_SEND_ONCE) => self.free(s, name),
            // MOVE_SEND, or a move of a dead name: one user reference.
            _ => {
                e.urefs -= 1;
                if e.urefs == 0 {
                    e.bits &= !(SEND | DEAD);
                    if e.bits == 0 {
                        self.free(s, name);
                    }
                }
            }
        }
        Ok(taken)
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
                    Entry::new(SEND, 1, Some(p), origin),
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
                    Entry::new(RECEIVE, 0, Some(p), origin),
                );
            }
            Kind::SendOnce => {
                if here.is_some() {
                    return KERN_NAME_EXISTS;
                }
                self.spaces[t].entries.insert(
                    name,
                    Entry::new(SEND_ONCE, 0, Some(p), origin),
                );
            }
        }
        KERN_SUCCESS
    }

    /// Copy-out as a received message does (extract_right, task_for_fd):
    /// merged into the name for the port, else a new name.
    pub fn copyout_any(&mut self, c: usize, kind: Kind, p: usize) -> Out {
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
    pub fn finish_out(&mut self, c: usize, out: Out, got: u32, origin: NameRef) -> Result<u32, String> {
        match out {
            Out::Merged(n) => {
                if got == n {
                    Ok(n)
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
                self.adopt(c, got, bits, urefs, Some(p), origin)
            }
        }
    }

    /// Applies `call`, made in the space of `slot`, to the model and
    /// compares what the kernel answered (`act`). Returns the names the
    /// call returned (by position), or a description of the mismatch.
    pub fn apply(
        &mut self,
        slot: usize,
        call: &Call<u32>,
        refs: &Call<NameRef>,
        id: usize,
        act: &Act,
    ) -> Check {
        self.batch = id;
        let c = self.slots[slot];
        let made = NameRef::Made(id, 0);
        // port_set_backup answers a bad task with KERN_INVALID_ARGUMENT.
        let t = match call.task() {
            Some(&task) => match self.task_space(c, task) {
                Some(t) => t,
                None => {
                    let kr = match call {
                        Call::Backup { .. } => KERN_INVALID_ARGUMENT,
                        _ => KERN_INVALID_TASK,
                    };
                    expect(kr, act)?;
                    return Ok(vec![]);
                }
            },
            None => c,
        };
        let one = |r: Result<u32, String>| r.map(|n| vec![n]);
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
                    return Ok(vec![]);
                }
                if let Some(n) = named {
                    if self.spaces[t].entries.contains_key(&n) {
                        expect(KERN_NAME_EXISTS, act)?;
                        return Ok(vec![]);
                    }
                }
                expect(KERN_SUCCESS, act)?;
                let (bits, urefs, port) = match right {
                    MACH_PORT_RIGHT_RECEIVE => (RECEIVE, 0, Some(self.new_port())),
                    MACH_PORT_RIGHT_PORT_SET => (PORT_SET, 0, None),
                    _ => (DEAD, 1, None),
                };
                let name = match (named, refs) {
                    (Some(n), Call::AllocateName { name: origin, .. }) => {
                        self.spaces[t]
                            .entries
                            .insert(n, Entry::new(bits, urefs, port, *origin));
                        n
                    }
                    _ => self.adopt(t, act.a, bits, urefs, port, made)?,
                };
                if bits == PORT_SET {
                    self.sets.push(PortSet {
                        alive: true,
                        members: BTreeSet::new(),
                    });
                    self.spaces[t].entries.get_mut(&name).unwrap().set = Some(self.sets.len() - 1);
                }
                Ok(if named.is_some() { vec![] } else { vec![name] })
            }
            Call::ReplyPort => {
                expect(KERN_SUCCESS, act)?;
                let p = self.new_port();
                one(self.adopt(c, act.a, RECEIVE, 0, Some(p), made))
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
                        .map(|e| e.type_bits())
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
                Ok(vec![])
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
                Ok(vec![])
            }
            Call::ModRefs {
                name, right, delta, ..
            } => {
                let kr = self.mod_refs(t, name, right, delta);
                expect(kr, act)?;
                Ok(vec![])
            }
            Call::Deallocate { name, .. } => {
                let kr = self.deallocate(t, name);
                expect(kr, act)?;
                Ok(vec![])
            }
            Call::Destroy { name, .. } => {
                let kr = self.destroy(t, name);
                expect(kr, act)?;
                Ok(vec![])
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
                Ok(vec![])
            }
            Call::Extract { name, disp, .. } => {
                if !mach_msg_type_port_any(disp) {
                    expect(KERN_INVALID_VALUE, act)?;
                    return Ok(vec![]);
                }
                if !valid(name) {
                    expect(KERN_INVALID_RIGHT, act)?;
                    return Ok(vec![]);
                }
                match self.copyin(t, name, disp) {
                    Err(kr) => {
                        expect(kr, act)?;
                        Ok(vec![])
                    }
                    Ok(Carried::Dead | Carried::Null) => {
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
                        Ok(vec![])
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
                        one(self.finish_out(c, out, act.a, made))
                    }
                }
            }
            Call::Names { .. } => {
                expect(KERN_SUCCESS, act)?;
                self.compare_names(t, &act.list)?;
                Ok(vec![])
            }
            Call::TaskForFd { of } => {
                expect(KERN_SUCCESS, act)?;
                let tp = self.spaces[self.slots[of]].task_port;
                let out = self.copyout_any(c, Kind::Send, tp);
                one(self.finish_out(c, out, act.a, made))
            }
            Call::TaskForBadFd { closed } => {
                let want = if closed {
                    Res::Os(libc::EBADF)
                } else {
                    Res::Kern(KERN_INVALID_ARGUMENT)
                };
                expect_res(want, act)?;
                Ok(vec![])
            }
            Call::Close => {
                self.close_slot(slot);
                Ok(vec![])
            }
            _ => self.apply_ipc(c, t, call, id, act),
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
            Ok(Carried::Null) => KERN_INVALID_CAPABILITY,
            Ok(Carried::Right(kind, p)) => {
                let kr = self.copyout_named(t, name, origin, kind, p);
                if kr != KERN_SUCCESS {
                    self.release(Carried::Right(kind, p));
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
            .map(|(&n, e)| (n, e.type_bits()))
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
