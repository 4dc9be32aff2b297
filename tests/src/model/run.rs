//! Runs operations against the kernel and the model side by side, checks
//! the spaces' full contents, and shrinks a failing sequence.

use super::op::{Act, Call, Op, Res};
use super::state::{refs_mismatch, Model, SEND};
use mach::{MsgTypeName, PortName, PortRight, Space};
use std::collections::{BTreeMap, HashMap};
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
        // The port calls give no mach_msg codes; keep one if it comes.
        Err(mach::Error::Msg(mr)) => Res::Kern(mr.0),
    }
}

fn act(res: Res, a: u32, b: u32) -> Act {
    Act {
        res,
        a,
        b,
        list: Vec::new(),
    }
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

    /// Makes one call in the space of `slot`.
    pub fn exec(&mut self, slot: usize, call: &Call<u32>) -> Act {
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
    /// The name each operation returned, by operation id.
    pub results: HashMap<usize, u32>,
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
            results: HashMap::new(),
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
        let act = self.kernel.exec(op.slot, &call);
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
        let line = format!(
            "@{} s{}: {} -> {}{}",
            op.id,
            op.slot,
            call,
            act.res,
            returned(&call, &act)
        );
        match self.model.apply(op.slot, &call, &op.call, op.id, &act) {
            Ok(name) => {
                if let Some(name) = name {
                    self.results.insert(op.id, name);
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
            let (d, count) = s.timing.get(kind).copied().unwrap_or((Duration::ZERO, 1));
            lines.push(format!(
                "{kind} ({} us each):",
                d.as_micros() / count.max(1) as u128
            ));
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
