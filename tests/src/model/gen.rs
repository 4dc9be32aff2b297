//! Draws random operations from the model's current state: mostly names in
//! use and rights they hold, sometimes stale, fresh, reserved or garbage
//! names, bad rights and bad dispositions.

use super::op::{Call, NameRef, Op};
use super::rng::Rng;
use super::state::{Model, DEAD, PORT_SET, RECEIVE, SEND, SEND_ONCE};
use mach::sys::*;

pub struct Gen {
    pub rng: Rng,
    /// One operation in `close_every` closes a space (0: never).
    pub close_every: usize,
}

const DISPS: [u32; 6] = [
    MACH_MSG_TYPE_MOVE_RECEIVE,
    MACH_MSG_TYPE_MOVE_SEND,
    MACH_MSG_TYPE_MOVE_SEND_ONCE,
    MACH_MSG_TYPE_COPY_SEND,
    MACH_MSG_TYPE_MAKE_SEND,
    MACH_MSG_TYPE_MAKE_SEND_ONCE,
];

impl Gen {
    fn fresh_name(&mut self) -> NameRef {
        let r = &mut self.rng;
        let v = match r.below(4) {
            // Kernel-looking names, some of them likely to be handed out.
            0 | 1 => ((r.below(64) as u32 + 1) << 8) | r.below(256) as u32,
            2 => ((r.below(0x10000) as u32) << 8) | r.below(256) as u32,
            _ => r.next_u32(),
        };
        if mach_port_valid(v) {
            NameRef::Lit(v)
        } else {
            NameRef::Lit(0x1234_5678)
        }
    }

    /// A name to use in model space `s`.
    fn name_in(&mut self, m: &Model, s: usize) -> NameRef {
        let sp = &m.spaces[s];
        let r = self.rng.below(100);
        if r < 74 && !sp.entries.is_empty() {
            let i = self.rng.below(sp.entries.len());
            return sp.entries.values().nth(i).unwrap().origin;
        }
        if r < 82 && !sp.freed.is_empty() {
            return *self.rng.pick(&sp.freed);
        }
        if r < 86 {
            return NameRef::Lit(MACH_PORT_NULL);
        }
        if r < 89 {
            return NameRef::Lit(MACH_PORT_DEAD);
        }
        if r < 97 && !sp.entries.is_empty() {
            let i = self.rng.below(sp.entries.len());
            let x = self.rng.below(255) as u32 + 1;
            return sp.entries.values().nth(i).unwrap().origin.derive(x);
        }
        if r < 98 {
            return NameRef::Lit(MACH_TASK_SELF_NAME);
        }
        self.fresh_name()
    }

    /// A name in use in model space `s` (or any name if it has none).
    fn used_name(&mut self, m: &Model, s: usize) -> NameRef {
        let sp = &m.spaces[s];
        if sp.entries.is_empty() {
            return self.name_in(m, s);
        }
        let i = self.rng.below(sp.entries.len());
        sp.entries.values().nth(i).unwrap().origin
    }

    /// Names in space `c` for send rights to live task ports, with the
    /// space each one reaches.
    fn task_names(m: &Model, c: usize) -> Vec<(NameRef, usize)> {
        m.spaces[c]
            .entries
            .iter()
            .filter_map(|(&n, e)| m.task_space(c, n).map(|t| (e.origin, t)))
            .collect()
    }

    /// A task name for a call made in space `c`: usually its own task,
    /// often another space's when `cross`, sometimes anything.
    fn task(&mut self, m: &Model, c: usize, cross: bool) -> NameRef {
        let tasks = Self::task_names(m, c);
        let own: Vec<NameRef> = tasks
            .iter()
            .filter(|(_, t)| *t == c)
            .map(|(n, _)| *n)
            .collect();
        let other: Vec<NameRef> = tasks
            .iter()
            .filter(|(_, t)| *t != c)
            .map(|(n, _)| *n)
            .collect();
        let r = self.rng.below(100);
        let (p_own, p_other) = if cross { (40, 94) } else { (88, 95) };
        if r < p_own && !own.is_empty() {
            return *self.rng.pick(&own);
        }
        if r < p_other && !other.is_empty() {
            return *self.rng.pick(&other);
        }
        if r < p_other && !own.is_empty() {
            return *self.rng.pick(&own);
        }
        self.name_in(m, c)
    }

    /// The model space a task name reaches from `c` (`c` itself if none).
    fn target(m: &Model, c: usize, task: NameRef) -> usize {
        for (&n, e) in &m.spaces[c].entries {
            if e.origin == task {
                return m.task_space(c, n).unwrap_or(c);
            }
        }
        c
    }

    fn entry_of(m: &Model, s: usize, name: NameRef) -> Option<(u32, u32, Option<usize>)> {
        m.spaces[s]
            .entries
            .values()
            .find(|e| e.origin == name)
            .map(|e| (e.bits, e.urefs, e.port))
    }

    /// A disposition, biased towards the ones the name's rights allow.
    fn disposition(&mut self, bits: u32) -> u32 {
        let r = self.rng.below(100);
        if r < 60 {
            let mut ok = Vec::new();
            if bits & RECEIVE != 0 {
                ok.extend([
                    MACH_MSG_TYPE_MOVE_RECEIVE,
                    MACH_MSG_TYPE_MAKE_SEND,
                    MACH_MSG_TYPE_MAKE_SEND_ONCE,
                ]);
            }
            if bits & (SEND | DEAD) != 0 {
                ok.extend([
                    MACH_MSG_TYPE_MOVE_SEND,
                    MACH_MSG_TYPE_COPY_SEND,
                    MACH_MSG_TYPE_COPY_SEND,
                ]);
            }
            if bits & (SEND_ONCE | DEAD) != 0 {
                ok.push(MACH_MSG_TYPE_MOVE_SEND_ONCE);
            }
            if !ok.is_empty() {
                return *self.rng.pick(&ok);
            }
        }
        if r < 94 {
            return *self.rng.pick(&DISPS);
        }
        *self.rng.pick(&[0, 15, 22, 100, 0xffff_ffff])
    }

    /// A right for get_refs/mod_refs, biased towards the ones held.
    fn right(&mut self, bits: u32) -> u32 {
        if self.rng.chance(70) {
            let held: Vec<u32> = (0..5).filter(|r| bits & (1 << (r + 16)) != 0).collect();
            if !held.is_empty() {
                return *self.rng.pick(&held);
            }
        }
        if self.rng.chance(90) {
            self.rng.below(6) as u32
        } else {
            *self.rng.pick(&[6, 7, 100, 0xffff_ffff])
        }
    }

    fn delta(&mut self, urefs: u32) -> i32 {
        if self.rng.chance(82) {
            return self.rng.below(5) as i32 - 2;
        }
        let u = urefs as i32;
        let max = MACH_PORT_UREFS_MAX as i32;
        *self.rng.pick(&[
            i32::MIN,
            i32::MAX,
            max,
            -max,
            max - 1,
            max - u,
            max - u,
            max - u + 1,
            -u,
            -u - 1,
        ])
    }

    /// The next operation, number `id`, drawn from the model's state.
    pub fn next(&mut self, m: &Model, id: usize) -> Op {
        let nslots = m.slots.len();
        let slot = self.rng.below(nslots);
        let c = m.slots[slot];
        let call = self.call(m, c, slot);
        Op { id, slot, call }
    }

    fn call(&mut self, m: &Model, c: usize, slot: usize) -> Call<NameRef> {
        let nslots = m.slots.len();
        if self.close_every > 0 && self.rng.below(self.close_every) == 0 {
            return Call::Close;
        }
        // Reconnect: a space without its own task name or without a task
        // name for some other space gets one from task_for_fd.
        let tasks = Self::task_names(m, c);
        let missing: Vec<usize> = (0..nslots)
            .filter(|&o| !tasks.iter().any(|(_, t)| *t == m.slots[o]))
            .collect();
        if !missing.is_empty() && self.rng.chance(30) {
            return Call::TaskForFd {
                of: *self.rng.pick(&missing),
            };
        }
        let crowded = m.spaces[c].entries.len() > 40;
        // Weights: allocate, allocate_name, reply_port, type, get_refs,
        // mod_refs, deallocate, destroy, insert, extract, names,
        // task_for_fd, bad fd, then the calls of `ipc_call`: send,
        // receive, set_qlimit, receive_status, move_member,
        // insert_member, extract_member, get_set_status,
        // request_notification, port_set_backup.
        let mut w = [
            12, 5, 2, 5, 5, 14, 8, 5, 12, 12, 1, 3, 1, 22, 20, 2, 2, 3, 3, 2, 2, 8, 3,
        ];
        if crowded {
            w[0] = 2;
            w[1] = 1;
            w[2] = 0;
            w[6] = 30;
            w[7] = 20;
        }
        let total: usize = w.iter().sum();
        let mut r = self.rng.below(total);
        let mut which = 0;
        while r >= w[which] {
            r -= w[which];
            which += 1;
        }
        match which {
            0 => {
                let task = self.task(m, c, false);
                let right = self.alloc_right();
                Call::Allocate { task, right }
            }
            1 => {
                let task = self.task(m, c, false);
                let t = Self::target(m, c, task);
                let right = self.alloc_right();
                let name = match self.rng.below(10) {
                    0..=5 => self.fresh_name(),
                    6 | 7 => self.used_name(m, t),
                    _ => NameRef::Lit(*self.rng.pick(&[
                        MACH_PORT_NULL,
                        MACH_PORT_DEAD,
                        MACH_TASK_SELF_NAME,
                    ])),
                };
                Call::AllocateName { task, right, name }
            }
            2 => Call::ReplyPort,
            3 => {
                let task = self.task(m, c, false);
                let name = self.name_in(m, Self::target(m, c, task));
                Call::Type { task, name }
            }
            4 | 5 => {
                let task = self.task(m, c, false);
                let t = Self::target(m, c, task);
                let name = self.name_in(m, t);
                let (bits, urefs, _) = Self::entry_of(m, t, name).unwrap_or((0, 0, None));
                let right = self.right(bits);
                if which == 4 {
                    Call::GetRefs { task, name, right }
                } else {
                    let delta = self.delta(urefs);
                    Call::ModRefs {
                        task,
                        name,
                        right,
                        delta,
                    }
                }
            }
            6 | 7 => {
                let task = self.task(m, c, false);
                let name = self.name_in(m, Self::target(m, c, task));
                if which == 6 {
                    Call::Deallocate { task, name }
                } else {
                    Call::Destroy { task, name }
                }
            }
            8 => {
                let task = self.task(m, c, true);
                let t = Self::target(m, c, task);
                let poly = if self.rng.chance(92) {
                    self.used_name(m, c)
                } else {
                    self.name_in(m, c)
                };
                let (bits, _, port) = Self::entry_of(m, c, poly).unwrap_or((0, 0, None));
                let disp = self.disposition(bits);
                let name = match self.rng.below(10) {
                    0..=2 => self.fresh_name(),
                    3 | 4 => match port.and_then(|p| m.name_for_port(t, p, SEND | RECEIVE)) {
                        Some(n) => m.spaces[t].entries[&n].origin,
                        None => self.used_name(m, t),
                    },
                    5 | 6 => self.used_name(m, t),
                    7 => poly,
                    _ => self.name_in(m, t),
                };
                Call::Insert {
                    task,
                    name,
                    poly,
                    disp,
                }
            }
            9 => {
                let task = self.task(m, c, true);
                let t = Self::target(m, c, task);
                let name = self.name_in(m, t);
                let (bits, _, _) = Self::entry_of(m, t, name).unwrap_or((0, 0, None));
                let disp = self.disposition(bits);
                Call::Extract { task, name, disp }
            }
            10 => {
                let task = self.task(m, c, true);
                Call::Names { task }
            }
            11 => Call::TaskForFd {
                of: self.rng.below(nslots),
            },
            12 => {
                let _ = slot;
                Call::TaskForBadFd {
                    closed: self.rng.chance(50),
                }
            }
            _ => self.ipc_call(m, c, which - 13),
        }
    }

    /// Names in space `s` holding any of `bits`.
    fn names_with(m: &Model, s: usize, bits: u32) -> Vec<NameRef> {
        m.spaces[s]
            .entries
            .values()
            .filter(|e| e.bits & bits != 0)
            .map(|e| e.origin)
            .collect()
    }

    /// Usually a name in space `s` holding one of `bits`, else any name.
    fn name_with(&mut self, m: &Model, s: usize, bits: u32, percent: usize) -> NameRef {
        let names = Self::names_with(m, s, bits);
        if !names.is_empty() && self.rng.chance(percent) {
            *self.rng.pick(&names)
        } else {
            self.name_in(m, s)
        }
    }

    /// A name for a right carried in a message: mostly rights, sometimes
    /// MACH_PORT_NULL or MACH_PORT_DEAD.
    fn carried(&mut self, m: &Model, c: usize) -> (NameRef, u32) {
        let name = match self.rng.below(20) {
            0 => NameRef::Lit(MACH_PORT_NULL),
            1 => NameRef::Lit(MACH_PORT_DEAD),
            _ => self.name_with(m, c, SEND | SEND_ONCE | RECEIVE | DEAD, 90),
        };
        let (bits, _, _) = Self::entry_of(m, c, name).unwrap_or((0, 0, None));
        (name, self.disposition(bits))
    }

    /// A send disposition for a header right.
    fn header_disp(&mut self, bits: u32) -> u32 {
        if self.rng.chance(6) {
            return *self.rng.pick(&[0, MACH_MSG_TYPE_MOVE_RECEIVE, 22, 15]);
        }
        let mut ok = Vec::new();
        if bits & RECEIVE != 0 {
            ok.extend([MACH_MSG_TYPE_MAKE_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE]);
        }
        if bits & SEND != 0 {
            ok.extend([MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MOVE_SEND]);
        }
        if bits & SEND_ONCE != 0 {
            ok.push(MACH_MSG_TYPE_MOVE_SEND_ONCE);
        }
        if ok.is_empty() || self.rng.chance(8) {
            return *self.rng.pick(&DISPS[1..]);
        }
        *self.rng.pick(&ok)
    }

    /// mach_msg, port sets, attributes and notification requests.
    fn ipc_call(&mut self, m: &Model, c: usize, which: usize) -> Call<NameRef> {
        match which {
            0 => {
                let remote = self.name_with(m, c, SEND | SEND_ONCE | RECEIVE, 85);
                let (bits, _, _) = Self::entry_of(m, c, remote).unwrap_or((0, 0, None));
                let rdisp = self.header_disp(bits);
                let (local, ldisp) = match self.rng.below(20) {
                    0..=8 => (NameRef::Lit(MACH_PORT_NULL), 0),
                    9 => (remote, self.header_disp(bits)),
                    10 => (NameRef::Lit(MACH_PORT_DEAD), MACH_MSG_TYPE_COPY_SEND),
                    11 => (self.name_in(m, c), 0),
                    _ => {
                        let local = self.name_with(m, c, SEND | SEND_ONCE | RECEIVE | DEAD, 90);
                        let (bits, _, _) = Self::entry_of(m, c, local).unwrap_or((0, 0, None));
                        (local, self.header_disp(bits))
                    }
                };
                let count = *self.rng.pick(&[0, 0, 0, 0, 1, 1, 1, 2, 2, 3]);
                let ports = (0..count).map(|_| self.carried(m, c)).collect();
                let mut ool = Vec::new();
                if self.rng.chance(8) {
                    let (first, disp) = self.carried(m, c);
                    let mut names = vec![first];
                    for _ in 0..self.rng.below(3) {
                        names.push(self.carried(m, c).0);
                    }
                    ool.push((names, disp));
                }
                Call::Send {
                    remote,
                    rdisp,
                    local,
                    ldisp,
                    ports,
                    ool,
                }
            }
            1 => Call::Receive {
                name: self.name_with(m, c, RECEIVE | PORT_SET, 92),
            },
            2 | 3 => {
                let task = self.task(m, c, true);
                let t = Self::target(m, c, task);
                let name = self.name_with(m, t, RECEIVE, 85);
                if which == 2 {
                    let limit = *self.rng.pick(&[0, 1, 1, 2, 3, 5, 1024, 1025]);
                    Call::SetQlimit { task, name, limit }
                } else {
                    Call::Status { task, name }
                }
            }
            4..=7 => {
                let task = self.task(m, c, false);
                let t = Self::target(m, c, task);
                let member = self.name_with(m, t, RECEIVE, 90);
                let set = if self.rng.chance(8) {
                    NameRef::Lit(*self.rng.pick(&[MACH_PORT_NULL, MACH_PORT_DEAD]))
                } else {
                    self.name_with(m, t, PORT_SET, 88)
                };
                match which {
                    4 => Call::MoveMember {
                        task,
                        member,
                        after: set,
                    },
                    5 => Call::InsertMember { task, member, set },
                    6 => Call::ExtractMember { task, member, set },
                    _ => Call::SetStatus { task, set },
                }
            }
            8 => {
                let task = self.task(m, c, true);
                let t = Self::target(m, c, task);
                let variant = match self.rng.below(20) {
                    0..=8 => MACH_NOTIFY_DEAD_NAME,
                    9..=13 => MACH_NOTIFY_NO_SENDERS,
                    14..=18 => MACH_NOTIFY_PORT_DESTROYED,
                    _ => *self.rng.pick(&[0, MACH_NOTIFY_SEND_ONCE, MACH_NOTIFY_PORT_DELETED]),
                };
                let name = if variant == MACH_NOTIFY_DEAD_NAME {
                    self.name_with(m, t, SEND | SEND_ONCE | RECEIVE | DEAD, 92)
                } else {
                    self.name_with(m, t, RECEIVE, 90)
                };
                let sync = *self.rng.pick(&[0, 0, 0, 0, 1, 1, 2, 5]);
                let (notify, ntype) = match self.rng.below(20) {
                    0..=14 => (
                        self.name_with(m, c, RECEIVE, 95),
                        MACH_MSG_TYPE_MAKE_SEND_ONCE,
                    ),
                    15 | 16 => (
                        self.name_with(m, c, SEND_ONCE, 90),
                        MACH_MSG_TYPE_MOVE_SEND_ONCE,
                    ),
                    17 => (NameRef::Lit(MACH_PORT_NULL), 0),
                    _ => {
                        let (n, d) = self.carried(m, c);
                        (n, d)
                    }
                };
                Call::Request {
                    task,
                    name,
                    variant,
                    sync,
                    notify,
                    ntype,
                }
            }
            _ => {
                let task = self.task(m, c, true);
                let t = Self::target(m, c, task);
                let primary = self.name_with(m, t, RECEIVE, 90);
                let backup = if self.rng.chance(15) {
                    NameRef::Lit(MACH_PORT_NULL)
                } else {
                    self.name_with(m, c, SEND, 85)
                };
                Call::Backup {
                    task,
                    primary,
                    backup,
                }
            }
        }
    }

    fn alloc_right(&mut self) -> u32 {
        match self.rng.below(20) {
            0..=9 => MACH_PORT_RIGHT_RECEIVE,
            10..=12 => MACH_PORT_RIGHT_PORT_SET,
            13..=15 => MACH_PORT_RIGHT_DEAD_NAME,
            _ => *self.rng.pick(&[
                MACH_PORT_RIGHT_SEND,
                MACH_PORT_RIGHT_SEND_ONCE,
                MACH_PORT_RIGHT_LABELH,
                6,
                7,
                0xffff_ffff,
            ]),
        }
    }
}
