//! The reference model, continued: mach_msg (docs/messages.md), port
//! sets, port attributes, notification requests and port_set_backup
//! (docs/notifications.md).

use super::op::{disp_str, Act, Call, Got, NameRef, Res};
use super::state::{
    expect, expect_res, valid, Carried, Check, Kind, MMsg, Model, Slot, DEAD, MAX, PORT_SET,
    RECEIVE, SEND, SEND_ONCE,
};
use mach::sys::*;

/// What a receiver's name for a right in a message will be.
#[derive(Clone, Copy, Debug)]
enum Pred {
    Name(u32),
    New,
    /// The name the right at this earlier position got.
    Same(usize),
}

fn is_send_once(disp: u32) -> bool {
    disp == MACH_MSG_TYPE_MOVE_SEND_ONCE || disp == MACH_MSG_TYPE_MAKE_SEND_ONCE
}

fn is_move(disp: u32) -> bool {
    disp == MACH_MSG_TYPE_MOVE_SEND || disp == MACH_MSG_TYPE_MOVE_SEND_ONCE
}

/// The type a right taken as `disp` arrives as.
fn copied_type(disp: u32) -> u32 {
    match disp {
        MACH_MSG_TYPE_MOVE_RECEIVE => MACH_MSG_TYPE_PORT_RECEIVE,
        MACH_MSG_TYPE_MOVE_SEND_ONCE | MACH_MSG_TYPE_MAKE_SEND_ONCE => {
            MACH_MSG_TYPE_PORT_SEND_ONCE
        }
        _ => MACH_MSG_TYPE_PORT_SEND,
    }
}

fn msg_res(mr: i32) -> Res {
    if mr == 0 {
        Res::Ok
    } else {
        Res::Msg(mr)
    }
}

impl Model {
    /// The calls of this file (see [`Model::apply`]).
    pub fn apply_ipc(
        &mut self,
        c: usize,
        t: usize,
        call: &Call<u32>,
        id: usize,
        act: &Act,
    ) -> Check {
        match call {
            Call::Send {
                remote,
                rdisp,
                local,
                ldisp,
                ports,
                ool,
            } => {
                let mr = self.send(c, *remote, *rdisp, *local, *ldisp, ports, ool, id);
                expect_res(msg_res(mr), act)?;
                Ok(vec![])
            }
            Call::Receive { name } => self.receive(c, *name, id, act),
            Call::SetQlimit { name, limit, .. } => {
                let kr = self.set_qlimit(t, *name, *limit);
                expect(kr, act)?;
                Ok(vec![])
            }
            Call::Status { name, .. } => {
                let want = self.expected_status(t, *name);
                compare_words("receive status", want, act)?;
                Ok(vec![])
            }
            Call::MoveMember { member, after, .. } => {
                let kr = self.move_member(t, *member, *after);
                expect(kr, act)?;
                Ok(vec![])
            }
            Call::InsertMember { member, set, .. } => {
                let kr = self.member_call(t, *member, *set, true);
                expect(kr, act)?;
                Ok(vec![])
            }
            Call::ExtractMember { member, set, .. } => {
                let kr = self.member_call(t, *member, *set, false);
                expect(kr, act)?;
                Ok(vec![])
            }
            Call::SetStatus { set, .. } => {
                let want = self.expected_set_status(t, *set);
                compare_words("set members", want, act)?;
                Ok(vec![])
            }
            Call::Request {
                name,
                variant,
                sync,
                notify,
                ntype,
                ..
            } => self.request(c, t, *name, *variant, *sync, *notify, *ntype, id, act),
            Call::Backup {
                primary, backup, ..
            } => self.backup(c, t, *primary, *backup, id, act),
            _ => unreachable!("apply handles {}", call.kind()),
        }
    }

    /// mach_msg send with timeout 0; the mach_msg_return_t.
    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        c: usize,
        remote: u32,
        rdisp: u32,
        local: u32,
        ldisp: u32,
        ports: &[(u32, u32)],
        ool: &[(Vec<u32>, u32)],
        id: usize,
    ) -> i32 {
        if !mach_msg_type_port_any_send(rdisp) {
            return MACH_SEND_INVALID_HEADER;
        }
        let reply_ok = if ldisp == 0 {
            local == MACH_PORT_NULL
        } else {
            mach_msg_type_port_any_send(ldisp)
        };
        if !reply_ok {
            return MACH_SEND_INVALID_HEADER;
        }
        if !valid(remote) {
            return MACH_SEND_INVALID_DEST;
        }
        let dest = match self.peek(c, remote, rdisp) {
            Ok(Carried::Right(_, p)) if self.ports[p].task_of.is_none() => p,
            _ => return MACH_SEND_INVALID_DEST,
        };
        let has_reply = ldisp != 0 && valid(local);
        if has_reply {
            if self.peek(c, local, ldisp).is_err() {
                return MACH_SEND_INVALID_REPLY;
            }
            if local == remote {
                let urefs = self.spaces[c].entries[&remote].urefs;
                let conflict = match (rdisp, ldisp) {
                    (MACH_MSG_TYPE_MOVE_SEND, MACH_MSG_TYPE_MOVE_SEND) => urefs < 2,
                    (MACH_MSG_TYPE_MOVE_SEND_ONCE, MACH_MSG_TYPE_MOVE_SEND_ONCE) => true,
                    _ => false,
                };
                if conflict {
                    return MACH_SEND_INVALID_DEST;
                }
            }
        }
        let disps = ports.iter().map(|p| p.1).chain(ool.iter().map(|o| o.1));
        if disps.clone().any(|d| !mach_msg_type_port_any(d)) {
            return MACH_SEND_INVALID_TYPE;
        }
        let port = &self.ports[dest];
        if !is_send_once(rdisp) && port.queue.len() >= port.qlimit as usize {
            return MACH_SEND_TIMED_OUT;
        }
        // The header's rights: non-moves first when both name one right.
        let reply_first = local == remote && is_move(rdisp);
        let mut reply = None;
        if reply_first && has_reply {
            reply = Some(self.copyin(c, local, ldisp).expect("checked"));
        }
        let Ok(Carried::Right(dest_kind, _)) = self.copyin(c, remote, rdisp) else {
            unreachable!("the destination was checked");
        };
        if !reply_first && has_reply {
            reply = Some(self.copyin(c, local, ldisp).expect("checked"));
        }
        if !has_reply && local == MACH_PORT_DEAD && ldisp != 0 {
            reply = Some(Carried::Dead);
        }
        let mut m = MMsg {
            batch: id,
            id: 1_000_000 + id as i32,
            dest: dest_kind,
            dest_port: dest,
            reply,
            reply_type: if ldisp == 0 { 0 } else { copied_type(ldisp) },
            ports: Vec::new(),
            ool: Vec::new(),
            data: Vec::new(),
            kernel: false,
            alt: false,
        };
        // The body's rights, in order; a failure destroys what was taken.
        let take = |model: &mut Model, name: u32, disp: u32| match name {
            MACH_PORT_NULL => Ok(Carried::Null),
            MACH_PORT_DEAD => Ok(Carried::Dead),
            _ => model.copyin(c, name, disp),
        };
        for &(name, disp) in ports {
            match take(self, name, disp) {
                Ok(r) => m.ports.push((copied_type(disp), r)),
                Err(_) => {
                    self.destroy_msg(m);
                    return MACH_SEND_INVALID_RIGHT;
                }
            }
        }
        for (names, disp) in ool {
            m.ool.push((copied_type(*disp), Vec::new()));
            for &name in names {
                match take(self, name, *disp) {
                    Ok(r) => m.ool.last_mut().unwrap().1.push(r),
                    Err(_) => {
                        self.destroy_msg(m);
                        return MACH_SEND_INVALID_RIGHT;
                    }
                }
            }
        }
        self.enqueue(m);
        MACH_MSG_SUCCESS
    }

    /// The names a receiver in space `c` will see for `rights`.
    fn predict(&self, c: usize, rights: &[Carried]) -> Vec<Pred> {
        // Ports given a new name earlier in this message.
        let mut named: Vec<(usize, usize)> = Vec::new();
        let mut out = Vec::new();
        for (k, r) in rights.iter().enumerate() {
            let pred = match *r {
                Carried::Null => Pred::Name(MACH_PORT_NULL),
                Carried::Dead => Pred::Name(MACH_PORT_DEAD),
                Carried::Right(Kind::Send | Kind::SendOnce, p) if !self.alive(p) => {
                    Pred::Name(MACH_PORT_DEAD)
                }
                Carried::Right(Kind::SendOnce, _) => Pred::New,
                Carried::Right(kind, p) => {
                    let bits = if kind == Kind::Send {
                        SEND | RECEIVE
                    } else {
                        SEND
                    };
                    if let Some(n) = self.name_for_port(c, p, bits) {
                        Pred::Name(n)
                    } else if let Some(&(_, j)) = named.iter().find(|(q, _)| *q == p) {
                        Pred::Same(j)
                    } else {
                        named.push((p, k));
                        Pred::New
                    }
                }
            };
            out.push(pred);
        }
        out
    }

    /// Whether `got` can be message `m`, queued on port `p`, as received
    /// in space `c`; else what differs.
    fn matches(&self, c: usize, p: usize, m: &MMsg, got: &Got) -> Result<(), String> {
        let dest_type = match m.dest {
            Kind::SendOnce => MACH_MSG_TYPE_PORT_SEND_ONCE,
            _ => MACH_MSG_TYPE_PORT_SEND,
        };
        let mut bits = mach_msgh_bits(m.reply_type, dest_type);
        if m.complex() {
            bits |= MACH_MSGH_BITS_COMPLEX;
        }
        let local = self.name_for_port(c, p, RECEIVE).unwrap_or(MACH_PORT_NULL);
        let mut kinds: Vec<u32> = m.ports.iter().map(|(t, _)| *t).collect();
        for (t, a) in &m.ool {
            kinds.extend(std::iter::repeat_n(*t, a.len()));
        }
        let shape = |id: i32, data: &[u8]| {
            format!(
                "id {id} bits {bits:#x} size {} local {local:#x} seqno {} data {data:?} port types {kinds:?} ool {:?} {}",
                m.size() as usize - m.data.len() + data.len(),
                self.ports[p].seqno,
                m.ool.iter().map(|o| o.1.len()).collect::<Vec<_>>(),
                if m.kernel { "from the kernel" } else { "from a task" },
            )
        };
        let mut want = shape(m.id, &m.data);
        let have = format!(
            "id {} bits {:#x} size {} local {:#x} seqno {} data {:?} port types {:?} ool {:?} {}",
            got.id,
            got.bits,
            got.size,
            got.local,
            got.seqno,
            got.data,
            got.ports.iter().map(|p| p.1).collect::<Vec<_>>(),
            got.ool,
            if got.from_kernel { "from the kernel" } else { "from a task" },
        );
        if m.alt
            && (have == shape(MACH_NOTIFY_SEND_ONCE, &[])
                || (got.data.len() == 12
                    && got.data[..8] == NDR_RECORD
                    && have == shape(MACH_NOTIFY_NO_SENDERS, &got.data)))
        {
            want = have.clone();
        }
        if want != have {
            return Err(format!("expected {want}; got {have}"));
        }
        let rights = m.rights();
        let names: Vec<u32> = std::iter::once(got.remote)
            .chain(got.ports.iter().map(|p| p.0))
            .collect();
        let preds = self.predict(c, &rights);
        for (k, pred) in preds.iter().enumerate() {
            let n = names[k];
            let ok = match *pred {
                Pred::Name(w) => n == w,
                Pred::Same(j) => n == names[j],
                Pred::New => {
                    valid(n)
                        && !self.spaces[c].entries.contains_key(&n)
                        && !preds
                            .iter()
                            .enumerate()
                            .any(|(j, q)| j != k && matches!(q, Pred::New) && names[j] == n)
                }
            };
            if !ok {
                return Err(format!(
                    "right {k} ({:?}) arrived as {n:#x}, expected {pred:?}",
                    rights[k]
                ));
            }
        }
        Ok(())
    }

    /// mach_msg receive with timeout 0 on `name` in space `c`.
    fn receive(&mut self, c: usize, name: u32, id: usize, act: &Act) -> Check {
        let e = if valid(name) {
            self.spaces[c].entries.get(&name)
        } else {
            None
        };
        let sources: Vec<usize> = match e {
            Some(e) if e.bits & RECEIVE != 0 => vec![e.port.unwrap()],
            Some(e) if e.bits & PORT_SET != 0 => {
                self.sets[e.set.unwrap()].members.iter().copied().collect()
            }
            _ => {
                expect_res(Res::Msg(MACH_RCV_INVALID_NAME), act)?;
                return Ok(vec![]);
            }
        };
        // The first operation's messages at the front of each queue (a set
        // may deliver any member's).
        let mut cands = Vec::new();
        for p in sources {
            let q = &self.ports[p].queue;
            if let Some(first) = q.front() {
                for (i, m) in q.iter().enumerate() {
                    if m.batch != first.batch {
                        break;
                    }
                    cands.push((p, i));
                }
            }
        }
        if cands.is_empty() {
            expect_res(Res::Msg(MACH_RCV_TIMED_OUT), act)?;
            return Ok(vec![]);
        }
        expect(KERN_SUCCESS, act)?;
        let got = act.msg.as_ref().expect("a received message");
        let mut why = Vec::new();
        let fits: Vec<(usize, usize)> = cands
            .iter()
            .copied()
            .filter(|&(p, i)| match self.matches(c, p, &self.ports[p].queue[i], got) {
                Ok(()) => true,
                Err(w) => {
                    why.push(w);
                    false
                }
            })
            .collect();
        // Messages of one call that differ only in the ports whose receive
        // rights they carry (port-destroyed notifications of a closing
        // space): the status of the rights received tells them apart.
        let known = |&&(p, i): &&(usize, usize)| self.statuses_fit(&self.ports[p].queue[i], got);
        let Some(&(p, i)) = fits.iter().find(known).or(fits.first()) else {
            return Err(format!(
                "the message received is none of the {} the model has at the front: {}",
                cands.len(),
                why.join(" | ")
            ));
        };
        let m = self.ports[p].queue.remove(i).unwrap();
        self.ports[p].seqno += 1;
        let rights = m.rights();
        for r in &rights {
            if let Carried::Right(Kind::Receive, q) = r {
                self.ports[*q].transit = None;
            }
        }
        let names: Vec<u32> = std::iter::once(got.remote)
            .chain(got.ports.iter().map(|p| p.0))
            .collect();
        for (k, r) in rights.iter().enumerate() {
            if let Carried::Right(kind, q) = *r {
                if kind == Kind::Receive || self.alive(q) {
                    let out = self.copyout_any(c, kind, q);
                    self.finish_out(c, out, names[k], NameRef::Made(id, k as u8))?;
                }
            }
        }
        // The destination's right was the message's until now.
        if m.dest == Kind::Send {
            self.release_send(p);
        }
        Ok(names)
    }

    /// Whether the receive rights `m` carries in port descriptors have the
    /// statuses `got` read for them (pset and flags aside).
    fn statuses_fit(&self, m: &MMsg, got: &Got) -> bool {
        let mut at = 0;
        for (_, r) in &m.ports {
            if let Carried::Right(Kind::Receive, p) = *r {
                let Some((_, words)) = got.statuses.get(at) else {
                    return false;
                };
                at += 1;
                if words.get(1..9) != Some(&self.port_status(p)[..]) {
                    return false;
                }
            }
        }
        true
    }

    /// seqno, mscount, qlimit, msgcount, sorights, srights, pdrequest,
    /// nsrequest of port `p`.
    fn port_status(&self, p: usize) -> Vec<u32> {
        let port = &self.ports[p];
        let (srights, sorights) = self.count_rights(p);
        vec![
            port.seqno,
            port.mscount,
            port.qlimit,
            port.queue.len() as u32,
            sorights,
            (srights > 0) as u32,
            port.pd.is_some() as u32,
            port.ns.is_some() as u32,
        ]
    }

    fn receive_port(&self, t: usize, name: u32) -> Result<usize, i32> {
        let e = self.spaces[t].entries.get(&name).ok_or(KERN_INVALID_NAME)?;
        if e.bits & RECEIVE == 0 {
            return Err(KERN_INVALID_RIGHT);
        }
        Ok(e.port.unwrap())
    }

    fn set_qlimit(&mut self, t: usize, name: u32, limit: u32) -> i32 {
        if limit > MACH_PORT_QLIMIT_MAX {
            return KERN_INVALID_VALUE;
        }
        if !valid(name) {
            return KERN_INVALID_RIGHT;
        }
        match self.receive_port(t, name) {
            Ok(p) => {
                self.ports[p].qlimit = limit;
                KERN_SUCCESS
            }
            Err(kr) => kr,
        }
    }

    /// MACH_PORT_RECEIVE_STATUS of `name` in space `t`.
    pub fn expected_status(&self, t: usize, name: u32) -> Result<Vec<u32>, i32> {
        if !valid(name) {
            return Err(KERN_INVALID_RIGHT);
        }
        let p = self.receive_port(t, name)?;
        let pset = self.ports[p]
            .set
            .and_then(|set| {
                self.spaces[t]
                    .entries
                    .iter()
                    .find(|(_, e)| e.set == Some(set))
                    .map(|(&n, _)| n)
            })
            .unwrap_or(0);
        let mut words = vec![pset];
        words.extend(self.port_status(p));
        words.push(0);
        Ok(words)
    }

    /// The members of the port set `name` in space `t`, in name order.
    pub fn expected_set_status(&self, t: usize, name: u32) -> Result<Vec<u32>, i32> {
        if !valid(name) {
            return Err(KERN_INVALID_RIGHT);
        }
        let e = self.spaces[t].entries.get(&name).ok_or(KERN_INVALID_NAME)?;
        let set = e.set.ok_or(KERN_INVALID_RIGHT)?;
        let mut names: Vec<u32> = self.sets[set]
            .members
            .iter()
            .filter_map(|&p| self.name_for_port(t, p, RECEIVE))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Looks up a member and a set for the member calls.
    fn member_and_set(&self, t: usize, member: u32, set: u32) -> Result<(usize, usize), i32> {
        let sp = &self.spaces[t];
        let m = sp.entries.get(&member).ok_or(KERN_INVALID_NAME)?;
        let s = sp.entries.get(&set).ok_or(KERN_INVALID_NAME)?;
        if m.bits & RECEIVE == 0 || s.bits & PORT_SET == 0 {
            return Err(KERN_INVALID_RIGHT);
        }
        Ok((m.port.unwrap(), s.set.unwrap()))
    }

    fn join(&mut self, p: usize, set: usize) {
        self.leave_set(p);
        self.ports[p].set = Some(set);
        self.sets[set].members.insert(p);
    }

    fn move_member(&mut self, t: usize, member: u32, after: u32) -> i32 {
        if !valid(member) || after == MACH_PORT_DEAD {
            return KERN_INVALID_RIGHT;
        }
        if after == MACH_PORT_NULL {
            let Some(e) = self.spaces[t].entries.get(&member) else {
                return KERN_INVALID_NAME;
            };
            if e.bits & RECEIVE == 0 {
                return KERN_INVALID_RIGHT;
            }
            let p = e.port.unwrap();
            if self.ports[p].set.is_none() {
                return KERN_NOT_IN_SET;
            }
            self.leave_set(p);
            return KERN_SUCCESS;
        }
        match self.member_and_set(t, member, after) {
            Ok((p, set)) => {
                self.join(p, set);
                KERN_SUCCESS
            }
            Err(kr) => kr,
        }
    }

    /// insert_member (`insert`) or extract_member.
    fn member_call(&mut self, t: usize, member: u32, set: u32, insert: bool) -> i32 {
        if !valid(member) || !valid(set) {
            return KERN_INVALID_RIGHT;
        }
        let (p, s) = match self.member_and_set(t, member, set) {
            Ok(x) => x,
            Err(kr) => return kr,
        };
        let now = self.ports[p].set;
        if insert {
            if now.is_some() {
                return KERN_ALREADY_IN_SET;
            }
            self.join(p, s);
        } else {
            if now != Some(s) {
                return KERN_NOT_IN_SET;
            }
            self.leave_set(p);
        }
        KERN_SUCCESS
    }

    /// The caller's name for a send-once right to `p` given back as
    /// `previous` (a new name, or MACH_PORT_DEAD if `p` died).
    fn give_back_once(&mut self, c: usize, p: usize, got: u32, id: usize) -> Result<u32, String> {
        if !self.alive(p) {
            if got != MACH_PORT_DEAD {
                return Err(format!(
                    "expected previous MACH_PORT_DEAD (its port died), got {got:#x}"
                ));
            }
            return Ok(got);
        }
        self.adopt(c, got, SEND_ONCE, 0, Some(p), NameRef::Made(id, 0))
    }

    fn expect_previous(got: u32, want: u32) -> Result<(), String> {
        if got != want {
            return Err(format!("expected previous {want:#x}, got {got:#x}"));
        }
        Ok(())
    }

    /// mach_port_request_notification, made in space `c` about `name` in
    /// space `t`.
    #[allow(clippy::too_many_arguments)]
    fn request(
        &mut self,
        c: usize,
        t: usize,
        name: u32,
        variant: i32,
        sync: u32,
        notify: u32,
        ntype: u32,
        id: usize,
        act: &Act,
    ) -> Check {
        let fail = |kr: i32| expect(kr, act).map(|_| vec![]);
        if ![
            MACH_NOTIFY_PORT_DESTROYED,
            MACH_NOTIFY_NO_SENDERS,
            MACH_NOTIFY_DEAD_NAME,
        ]
        .contains(&variant)
        {
            return fail(KERN_INVALID_VALUE);
        }
        let dn = variant == MACH_NOTIFY_DEAD_NAME;
        if dn && !valid(name) {
            return fail(KERN_INVALID_ARGUMENT);
        }
        if variant == MACH_NOTIFY_PORT_DESTROYED && sync != 0 {
            return fail(KERN_INVALID_VALUE);
        }
        if !valid(name) {
            return fail(KERN_INVALID_RIGHT);
        }
        let Some(e) = self.spaces[t].entries.get(&name) else {
            return fail(KERN_INVALID_NAME);
        };
        let (bits, urefs, port) = (e.bits, e.urefs, e.port);
        if !dn && bits & RECEIVE == 0 {
            return fail(KERN_INVALID_RIGHT);
        }
        if dn && bits & (SEND | SEND_ONCE | RECEIVE | DEAD) == 0 {
            return fail(KERN_INVALID_RIGHT);
        }
        let dead = bits & DEAD != 0;
        if dead {
            if sync == 0 || notify == MACH_PORT_NULL {
                return fail(KERN_INVALID_ARGUMENT);
            }
            if urefs >= MAX {
                return fail(KERN_UREFS_OVERFLOW);
            }
        }
        // The notify right, from the caller's space.
        let n = if notify == MACH_PORT_NULL {
            None
        } else {
            if ntype != MACH_MSG_TYPE_MAKE_SEND_ONCE && ntype != MACH_MSG_TYPE_MOVE_SEND_ONCE {
                return fail(KERN_INVALID_VALUE);
            }
            if !valid(notify) || !matches!(self.peek(c, notify, ntype), Ok(Carried::Right(..))) {
                return fail(KERN_INVALID_CAPABILITY);
            }
            let Ok(Carried::Right(_, n)) = self.copyin(c, notify, ntype) else {
                unreachable!("checked")
            };
            Some(n)
        };
        if !self.spaces[t].entries.contains_key(&name) {
            // Taking the notify right (MOVE_SEND_ONCE of the target name
            // itself) removed the target: the right taken is destroyed.
            self.release(Carried::Right(Kind::SendOnce, n.unwrap()));
            return fail(KERN_INVALID_NAME);
        }
        expect(KERN_SUCCESS, act)?;
        let previous = if dead {
            let e = self.spaces[t].entries.get_mut(&name).unwrap();
            e.urefs += 1;
            self.notify(n.unwrap(), MACH_NOTIFY_DEAD_NAME, name);
            None
        } else if dn {
            let e = self.spaces[t].entries.get_mut(&name).unwrap();
            std::mem::replace(&mut e.dnreq, n)
        } else if variant == MACH_NOTIFY_NO_SENDERS {
            let p = port.unwrap();
            let old = self.ports[p].ns.take();
            let ms = self.ports[p].mscount;
            match n {
                Some(n) if self.count_rights(p).0 == 0 && sync <= ms => {
                    self.notify(n, MACH_NOTIFY_NO_SENDERS, ms);
                }
                _ => self.ports[p].ns = n,
            }
            old
        } else {
            let p = port.unwrap();
            match std::mem::replace(&mut self.ports[p].pd, n.map(Slot::Once)) {
                Some(Slot::Once(old)) => Some(old),
                Some(Slot::Backup(b)) => {
                    self.release(Carried::Right(Kind::Send, b));
                    None
                }
                None => None,
            }
        };
        match previous {
            None => {
                Self::expect_previous(act.a, MACH_PORT_NULL)?;
                Ok(vec![])
            }
            Some(old) => Ok(vec![self.give_back_once(c, old, act.a, id)?]),
        }
    }

    /// port_set_backup, made in space `c` for `primary` in space `t`.
    fn backup(
        &mut self,
        c: usize,
        t: usize,
        primary: u32,
        backup: u32,
        id: usize,
        act: &Act,
    ) -> Check {
        let fail = |kr: i32| expect(kr, act).map(|_| vec![]);
        if !valid(primary) {
            return fail(KERN_INVALID_ARGUMENT);
        }
        let Some(e) = self.spaces[t].entries.get(&primary) else {
            return fail(KERN_INVALID_ARGUMENT);
        };
        if e.bits & RECEIVE == 0 {
            return fail(KERN_NOT_RECEIVER);
        }
        let p = e.port.unwrap();
        let b = if backup == MACH_PORT_NULL {
            None
        } else {
            let e = if valid(backup) {
                self.spaces[c].entries.get(&backup)
            } else {
                None
            };
            match e {
                Some(e) if e.bits & SEND != 0 => e.port,
                _ => return fail(KERN_INVALID_ARGUMENT),
            }
        };
        expect(KERN_SUCCESS, act)?;
        match std::mem::replace(&mut self.ports[p].pd, b.map(Slot::Backup)) {
            Some(Slot::Backup(old)) if self.alive(old) => {
                let out = self.copyout_any(c, Kind::Send, old);
                Ok(vec![self.finish_out(c, out, act.a, NameRef::Made(id, 0))?])
            }
            Some(Slot::Once(old)) => {
                self.release(Carried::Right(Kind::SendOnce, old));
                Self::expect_previous(act.a, MACH_PORT_NULL)?;
                Ok(vec![])
            }
            _ => {
                Self::expect_previous(act.a, MACH_PORT_NULL)?;
                Ok(vec![])
            }
        }
    }

    /// A short description of the queues of the receive rights in a model
    /// space, for failure reports.
    pub fn describe_queues(&self, slot: usize) -> String {
        let s = self.slots[slot];
        let mut out = Vec::new();
        for (n, e) in &self.spaces[s].entries {
            let Some(p) = e.port.filter(|_| e.bits & RECEIVE != 0) else {
                continue;
            };
            let port = &self.ports[p];
            if port.queue.is_empty() {
                continue;
            }
            let msgs: Vec<String> = port
                .queue
                .iter()
                .map(|m| {
                    let mut d = format!("#{} id {}", m.batch, m.id);
                    for r in m.rights() {
                        if r != Carried::Null {
                            d.push_str(&format!(" {r:?}"));
                        }
                    }
                    d
                })
                .collect();
            out.push(format!("{n:#x} (port {p}): [{}]", msgs.join(", ")));
        }
        out.join("; ")
    }
}

/// Compares attribute words or set members with the model's.
fn compare_words(what: &str, want: Result<Vec<u32>, i32>, act: &Act) -> Result<(), String> {
    match want {
        Err(kr) => expect(kr, act),
        Ok(w) => {
            expect(KERN_SUCCESS, act)?;
            if w != act.words {
                return Err(format!("{what}: expected {w:x?}, got {:x?}", act.words));
            }
            Ok(())
        }
    }
}

/// Describes a received message for a log line.
pub fn got_str(g: &Got) -> String {
    let mut s = format!(
        "id {} bits {:#x} remote {:#x} local {:#x} seqno {}",
        g.id, g.bits, g.remote, g.local, g.seqno
    );
    for (n, t) in &g.ports {
        s.push_str(&format!(" [{n:#x} {}]", disp_str(*t)));
    }
    if g.data.len() == 12 {
        let v = u32::from_ne_bytes(g.data[8..12].try_into().unwrap());
        s.push_str(&format!(" value {v:#x}"));
    }
    s
}
