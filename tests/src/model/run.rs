//! Runs operations against the kernel and the model side by side, checks
//! the spaces' full contents, and shrinks a failing sequence.

use super::msgs::got_str;
use super::op::{Act, Call, Got, Op, Res, Results};
use super::state::{refs_mismatch, Model, PORT_SET, RECEIVE, SEND};
use mach::{
    Descriptor, Message, MsgTypeName, PortName, PortRight, ReceivedDescriptor, RecvOptions,
    SendOptions, Space, TrailerElements,
};
use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// The kernel side: one open `/dev/mach` per slot.
pub struct Kernel {
    pub spaces: Vec<Option<Space>>,
    devnull: File,
}

fn res<T>(r: &mach::Result<T>) -> Res {
    match r {
        Ok(_) => Res::Ok,
        Err(mach::Error::Kern(kr)) => Res::Kern(kr.0),
        Err(mach::Error::Os(e)) => Res::Os(e.raw_os_error().unwrap_or(-1)),
        Err(mach::Error::Msg(mr)) => Res::Msg(mr.0),
    }
}

fn act(res: Res, a: u32, b: u32) -> Act {
    Act {
        res,
        a,
        b,
        list: Vec::new(),
        words: Vec::new(),
        msg: None,
    }
}

/// The answer of a call that returns words (attributes, set members).
fn words(r: mach::Result<Vec<u32>>) -> Act {
    let mut a = act(res(&r), 0, 0);
    a.words = r.unwrap_or_default();
    a
}

/// Receives with timeout 0 on `name`; the message as the receiver saw it.
fn receive(sp: &Space, name: u32) -> Act {
    let opts = RecvOptions {
        timeout: Some(0),
        trailer: TrailerElements::Audit,
        ..RecvOptions::default()
    };
    let r = sp.receive(PortName(name), opts);
    let mut a = act(res(&r), 0, 0);
    if let Ok(m) = r {
        let mut ports = Vec::new();
        let mut ool = Vec::new();
        for d in &m.descriptors {
            match d {
                ReceivedDescriptor::Port { name, kind } => ports.push((name.0, kind.0)),
                ReceivedDescriptor::OolPorts { names, kind } => {
                    ool.push(names.len());
                    ports.extend(names.iter().map(|n| (n.0, kind.0)));
                }
                _ => ports.push((u32::MAX, u32::MAX)),
            }
        }
        a.msg = Some(Got {
            bits: m.bits,
            size: m.size,
            remote: m.remote.0,
            local: m.local.0,
            id: m.id,
            ports,
            ool,
            data: m.data.clone(),
            seqno: m.trailer.seqno.unwrap_or(u32::MAX),
            from_kernel: m.trailer.audit.is_some_and(|t| t.0 == [0; 8]),
            statuses: m
                .descriptors
                .iter()
                .filter_map(|d| match d {
                    ReceivedDescriptor::Port { name, kind }
                        if *kind == MsgTypeName::PORT_RECEIVE && name.is_valid() =>
                    {
                        let w = sp
                            .get_attributes(
                                sp.task_self(),
                                *name,
                                mach::sys::MACH_PORT_RECEIVE_STATUS,
                                mach::sys::MACH_PORT_RECEIVE_STATUS_COUNT,
                            )
                            .unwrap_or_default();
                        Some((name.0, w))
                    }
                    _ => None,
                })
                .collect(),
        });
    }
    a
}

impl Kernel {
    pub fn open(slots: usize) -> std::io::Result<Kernel> {
        let mut spaces = Vec::new();
        for _ in 0..slots {
            spaces.push(Some(Space::open()?));
        }
        Ok(Kernel {
            spaces,
            devnull: File::open("/dev/null")?,
        })
    }

    fn space(&self, slot: usize) -> &Space {
        self.spaces[slot]
            .as_ref()
            .expect("every slot holds a space")
    }

    /// Makes one call, operation `id`, in the space of `slot`.
    pub fn exec(&mut self, slot: usize, id: usize, call: &Call<u32>) -> Act {
        let n = PortName;
        if let Call::Close = call {
            self.spaces[slot] = None;
            let res = match Space::open() {
                Ok(s) => {
                    self.spaces[slot] = Some(s);
                    Res::Ok
                }
                Err(e) => Res::Os(e.raw_os_error().unwrap_or(-1)),
            };
            return act(res, 0, 0);
        }
        let sp = self.space(slot);
        match *call {
            Call::Allocate { task, right } => {
                let r = sp.allocate(n(task), PortRight(right));
                act(res(&r), r.map(|x| x.0).unwrap_or(0), 0)
            }
            Call::AllocateName { task, right, name } => act(
                res(&sp.allocate_name(n(task), PortRight(right), n(name))),
                0,
                0,
            ),
            Call::ReplyPort => match sp.reply_port() {
                Ok(name) if name == PortName::NULL => {
                    act(Res::Kern(mach::sys::KERN_NO_SPACE), 0, 0)
                }
                Ok(name) => act(Res::Ok, name.0, 0),
                Err(e) => act(Res::Os(e.raw_os_error().unwrap_or(-1)), 0, 0),
            },
            Call::Type { task, name } => {
                let r = sp.port_type(n(task), n(name));
                act(res(&r), r.map(|x| x.0).unwrap_or(0), 0)
            }
            Call::GetRefs { task, name, right } => {
                let r = sp.get_refs(n(task), n(name), PortRight(right));
                act(res(&r), r.unwrap_or(0), 0)
            }
            Call::ModRefs {
                task,
                name,
                right,
                delta,
            } => act(
                res(&sp.mod_refs(n(task), n(name), PortRight(right), delta)),
                0,
                0,
            ),
            Call::Deallocate { task, name } => act(res(&sp.deallocate(n(task), n(name))), 0, 0),
            Call::Destroy { task, name } => act(res(&sp.destroy(n(task), n(name))), 0, 0),
            Call::Insert {
                task,
                name,
                poly,
                disp,
            } => act(
                res(&sp.insert_right(n(task), n(name), n(poly), MsgTypeName(disp))),
                0,
                0,
            ),
            Call::Extract { task, name, disp } => {
                let r = sp.extract_right(n(task), n(name), MsgTypeName(disp));
                let (a, b) = r.as_ref().map(|(p, t)| (p.0, t.0)).unwrap_or((0, 0));
                act(res(&r), a, b)
            }
            Call::Names { task } => {
                let r = sp.names(n(task));
                let mut a = act(res(&r), 0, 0);
                if let Ok(l) = r {
                    a.list = l.into_iter().map(|(n, t)| (n.0, t.0)).collect();
                }
                a
            }
            Call::TaskForFd { of } => {
                let r = sp.task_for_fd(self.space(of).as_fd());
                act(res(&r), r.map(|x| x.0).unwrap_or(0), 0)
            }
            Call::TaskForBadFd { closed } => {
                let fd = if closed {
                    -1
                } else {
                    std::os::fd::AsRawFd::as_raw_fd(&self.devnull)
                };
                let r = sp.task_for_raw_fd(fd);
                act(res(&r), r.map(|x| x.0).unwrap_or(0), 0)
            }
            Call::Send {
                remote,
                rdisp,
                local,
                ldisp,
                ref ports,
                ref ool,
            } => {
                let mut m = Message::new(n(remote), MsgTypeName(rdisp))
                    .id(1_000_000 + id as i32)
                    .reply_port(n(local), MsgTypeName(ldisp));
                for &(name, disp) in ports {
                    m = m.port(n(name), MsgTypeName(disp));
                }
                for (names, disp) in ool {
                    m = m.descriptor(Descriptor::OolPorts {
                        names: names.iter().map(|&x| n(x)).collect::<Vec<_>>().into(),
                        disposition: MsgTypeName(*disp),
                    });
                }
                let opts = SendOptions {
                    timeout: Some(0),
                    interrupt: false,
                };
                act(res(&sp.send(&m, opts)), 0, 0)
            }
            Call::Receive { name } => receive(sp, name),
            Call::SetQlimit { task, name, limit } => {
                act(res(&sp.set_qlimit(n(task), n(name), limit)), 0, 0)
            }
            Call::Status { task, name } => words(
                sp.get_attributes(
                    n(task),
                    n(name),
                    mach::sys::MACH_PORT_RECEIVE_STATUS,
                    mach::sys::MACH_PORT_RECEIVE_STATUS_COUNT,
                ),
            ),
            Call::MoveMember {
                task,
                member,
                after,
            } => act(res(&sp.move_member(n(task), n(member), n(after))), 0, 0),
            Call::InsertMember { task, member, set } => {
                act(res(&sp.insert_member(n(task), n(member), n(set))), 0, 0)
            }
            Call::ExtractMember { task, member, set } => {
                act(res(&sp.extract_member(n(task), n(member), n(set))), 0, 0)
            }
            Call::SetStatus { task, set } => words(
                sp.get_set_status(n(task), n(set))
                    .map(|v| v.into_iter().map(|x| x.0).collect()),
            ),
            Call::Request {
                task,
                name,
                variant,
                sync,
                notify,
                ntype,
            } => {
                let r = sp.request_notification(
                    n(task),
                    n(name),
                    variant,
                    sync,
                    n(notify),
                    MsgTypeName(ntype),
                );
                act(res(&r), r.map(|x| x.0).unwrap_or(0), 0)
            }
            Call::Backup {
                task,
                primary,
                backup,
            } => {
                let r = sp.port_set_backup(n(task), n(primary), n(backup));
                act(res(&r), r.map(|x| x.0).unwrap_or(0), 0)
            }
            Call::Close => unreachable!(),
        }
    }
}

/// Where and why a run went wrong.
#[derive(Clone, Debug)]
pub struct Failure {
    /// Position in the operation list (the list's length for a failure of
    /// the final full check).
    pub pos: usize,
    pub msg: String,
}

/// The model and the kernel, run side by side.
pub struct Session {
    pub model: Model,
    pub kernel: Kernel,
    /// The names each operation returned.
    pub results: Results,
    /// Calls made (skipped operations not counted).
    pub calls: u64,
    /// How often each call gave each result.
    pub tally: BTreeMap<(&'static str, String), u64>,
    /// Time spent in the kernel by each call, and how many calls.
    pub timing: BTreeMap<&'static str, (Duration, u64)>,
}

impl Session {
    pub fn new(slots: usize) -> std::io::Result<Session> {
        Ok(Session {
            model: Model::new(slots),
            kernel: Kernel::open(slots)?,
            results: Results::new(),
            calls: 0,
            tally: BTreeMap::new(),
            timing: BTreeMap::new(),
        })
    }

    /// Runs one operation on both sides. Returns a log line (the call with
    /// its names resolved and the kernel's answer), or the mismatch.
    pub fn step(&mut self, op: &Op) -> Result<String, String> {
        let Some(call) = op.call.resolve(&self.results) else {
            return Ok(format!(
                "@{} s{}: skipped ({}: a name it uses was never made)",
                op.id, op.slot, op.call
            ));
        };
        let t0 = Instant::now();
        let act = self.kernel.exec(op.slot, op.id, &call);
        let t = self
            .timing
            .entry(call.kind())
            .or_insert((Duration::ZERO, 0));
        t.0 += t0.elapsed();
        t.1 += 1;
        self.calls += 1;
        *self
            .tally
            .entry((call.kind(), act.res.to_string()))
            .or_insert(0) += 1;
        if let Some(g) = &act.msg {
            let what = match g.id {
                mach::sys::MACH_NOTIFY_PORT_DELETED => "port-deleted",
                mach::sys::MACH_NOTIFY_PORT_DESTROYED => "port-destroyed",
                mach::sys::MACH_NOTIFY_NO_SENDERS => "no-senders",
                mach::sys::MACH_NOTIFY_SEND_ONCE => "send-once",
                mach::sys::MACH_NOTIFY_DEAD_NAME => "dead-name",
                _ if g.ports.is_empty() => "simple",
                _ => "complex",
            };
            *self.tally.entry(("received", what.into())).or_insert(0) += 1;
        }
        let line = format!(
            "@{} s{}: {} -> {}{}",
            op.id,
            op.slot,
            call,
            act.res,
            returned(&call, &act)
        );
        match self.model.apply(op.slot, &call, &op.call, op.id, &act) {
            Ok(names) => {
                for (k, name) in names.into_iter().enumerate() {
                    self.results.insert((op.id, k as u8), name);
                }
                Ok(line)
            }
            Err(why) => Err(format!("{line}: {why}")),
        }
    }

    /// Compares every space's names, types and references with the model.
    pub fn full_check(&mut self) -> Result<(), String> {
        for slot in 0..self.model.slots.len() {
            let t = self.model.slots[slot];
            // Someone holding a send right to this space's task port,
            // preferably the space itself.
            let mut via = None;
            for c_slot in std::iter::once(slot).chain(0..self.model.slots.len()) {
                let c = self.model.slots[c_slot];
                if let Some(n) = self
                    .model
                    .name_for_port(c, self.model.spaces[t].task_port, SEND)
                {
                    if self.model.task_space(c, n) == Some(t) {
                        via = Some((c_slot, n));
                        break;
                    }
                }
            }
            let Some((c_slot, task)) = via else { continue };
            let sp = self.kernel.space(c_slot);
            let list = sp
                .names(PortName(task))
                .map_err(|e| format!("space s{slot}: names() via s{c_slot} task {task:#x}: {e}"))?;
            self.calls += 1;
            let list: Vec<(u32, u32)> = list.into_iter().map(|(n, t)| (n.0, t.0)).collect();
            self.model
                .compare_names(t, &list)
                .map_err(|e| format!("space s{slot} (via s{c_slot} task {task:#x}): {e}"))?;
            for &(name, _) in &list {
                for right in 0..6 {
                    let r = sp.get_refs(PortName(task), PortName(name), PortRight(right));
                    self.calls += 1;
                    let want = self.model.expected_refs(t, name, right);
                    let ok = match (&want, &r) {
                        (Ok(w), Ok(g)) => w == g,
                        (Err(kr), Err(e)) => e.kern().map(|k| k.0) == Some(*kr),
                        _ => false,
                    };
                    if !ok {
                        let got = res(&r);
                        return Err(refs_mismatch(
                            slot,
                            name,
                            right,
                            want,
                            &got,
                            *r.as_ref().unwrap_or(&0),
                        ));
                    }
                }
                // Every receive right's status and every set's members.
                let bits = self.model.spaces[t].entries.get(&name).map_or(0, |e| e.bits);
                let (what, got, want) = if bits & RECEIVE != 0 {
                    let got = sp.get_attributes(
                        PortName(task),
                        PortName(name),
                        mach::sys::MACH_PORT_RECEIVE_STATUS,
                        mach::sys::MACH_PORT_RECEIVE_STATUS_COUNT,
                    );
                    ("receive status", got, self.model.expected_status(t, name))
                } else if bits & PORT_SET != 0 {
                    let got = sp
                        .get_set_status(PortName(task), PortName(name))
                        .map(|v| v.into_iter().map(|x| x.0).collect());
                    ("set members", got, self.model.expected_set_status(t, name))
                } else {
                    continue;
                };
                self.calls += 1;
                let same = match (&got, &want) {
                    (Ok(g), Ok(w)) => g == w,
                    (Err(e), Err(kr)) => e.kern().map(|k| k.0) == Some(*kr),
                    _ => false,
                };
                if !same {
                    return Err(format!(
                        "space s{slot}: {what} of {name:#x}: expected {want:x?}, got {:x?}",
                        got.map_err(|e| res(&Err::<(), _>(e)))
                    ));
                }
            }
        }
        Ok(())
    }
}

fn returned(call: &Call<u32>, act: &Act) -> String {
    if act.res != Res::Ok {
        return String::new();
    }
    match call {
        Call::Allocate { .. } | Call::ReplyPort | Call::TaskForFd { .. } => {
            format!(", name {:#x}", act.a)
        }
        Call::Type { .. } => format!(", {:?}", mach::PortType(act.a)),
        Call::GetRefs { .. } => format!(", {} refs", act.a),
        Call::Extract { .. } => format!(", poly {:#x} {}", act.a, super::op::disp_str(act.b)),
        Call::Names { .. } => format!(", {} names", act.list.len()),
        Call::Receive { .. } => match &act.msg {
            Some(g) => format!(", {}", got_str(g)),
            None => String::new(),
        },
        Call::Status { .. } | Call::SetStatus { .. } => format!(", {:x?}", act.words),
        Call::Request { .. } | Call::Backup { .. } => format!(", previous {:#x}", act.a),
        _ => String::new(),
    }
}

/// Runs `ops` from scratch in fresh spaces, with a full check at the end.
/// Returns the first mismatch, and the log of what ran.
pub fn replay(ops: &[Op], slots: usize) -> (Option<Failure>, Vec<String>) {
    let mut log = Vec::new();
    let mut s = match Session::new(slots) {
        Ok(s) => s,
        Err(e) => {
            return (
                Some(Failure {
                    pos: 0,
                    msg: format!("cannot open /dev/mach: {e}"),
                }),
                log,
            )
        }
    };
    for (pos, op) in ops.iter().enumerate() {
        match s.step(op) {
            Ok(line) => log.push(line),
            Err(msg) => {
                log.push(msg.clone());
                return (Some(Failure { pos, msg }), log);
            }
        }
    }
    if let Err(msg) = s.full_check() {
        log.push(format!("full check: {msg}"));
        return (
            Some(Failure {
                pos: ops.len(),
                msg,
            }),
            log,
        );
    }
    (None, log)
}

/// Shrinks a failing sequence: the shortest failing prefix, then deletions
/// of ever smaller chunks, each attempt replayed in fresh spaces. Stops at
/// `deadline`. Returns the shortest failing sequence found and how many
/// replays it took.
pub fn shrink(ops: &[Op], slots: usize, deadline: Instant) -> (Vec<Op>, usize) {
    let mut tries = 0;
    let fails = |cand: &[Op], tries: &mut usize| -> Option<usize> {
        *tries += 1;
        replay(cand, slots).0.map(|f| f.pos)
    };
    let mut cur: Vec<Op> = ops.to_vec();
    match fails(&cur, &mut tries) {
        None => return (cur, tries),
        Some(pos) => cur.truncate((pos + 1).min(cur.len())),
    }
    // The shortest failing prefix (assuming a longer prefix of a failing
    // one fails too).
    let (mut lo, mut hi) = (0, cur.len());
    while lo < hi && Instant::now() < deadline {
        let mid = (lo + hi) / 2;
        match fails(&cur[..mid], &mut tries) {
            Some(pos) => hi = (pos + 1).min(mid),
            None => lo = mid + 1,
        }
    }
    cur.truncate(hi);
    let mut chunk = (cur.len() / 2).max(1);
    loop {
        let mut i = 0;
        while i < cur.len() {
            if Instant::now() >= deadline {
                return (cur, tries);
            }
            let end = (i + chunk).min(cur.len());
            let cand: Vec<Op> = cur[..i].iter().chain(&cur[end..]).cloned().collect();
            match fails(&cand, &mut tries) {
                Some(pos) => {
                    cur = cand;
                    cur.truncate((pos + 1).min(cur.len()));
                }
                None => i += chunk,
            }
        }
        if chunk == 1 {
            break;
        }
        chunk /= 2;
    }
    (cur, tries)
}

/// One diagnostic line per call kind: its mean time and how often it gave
/// each result.
pub fn tally_lines(s: &Session) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut last = "";
    for ((kind, res), n) in &s.tally {
        if *kind != last {
            lines.push(match s.timing.get(kind) {
                Some((d, count)) => format!(
                    "{kind} ({} us each):",
                    d.as_micros() / (*count).max(1) as u128
                ),
                // Not a call: what the receives brought.
                None => format!("{kind}:"),
            });
            last = kind;
        }
        let l = lines.last_mut().unwrap();
        l.push_str(&format!(" {res} {n},"));
    }
    for l in &mut lines {
        l.pop();
    }
    lines
}
