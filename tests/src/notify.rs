//! Helpers for the tests of port sets, notification requests and backup
//! ports (docs/notifications.md; seeds 000 port_set_backup, 001 port sets,
//! 002 request_notification).
//!
//! The calls go straight to the ioctl ABI (`uapi/src/abi.rs`), not through
//! the library: `PortMemberArgs` with MACH_IOC_PORT_MOVE_MEMBER /
//! INSERT_MEMBER / EXTRACT_MEMBER, `PortSetStatusArgs`,
//! `RequestNotificationArgs`, `PortSetBackupArgs`. Messages, too, are raw
//! `MACH_IOC_MSG` calls on byte buffers, so that the tests see exactly the
//! bytes the module delivers. Every call gives a [`Call`] that checks like
//! the others in `check.rs`.

use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use mach::{sys, Error, KernReturn, MsgTypeName, PortName};

use crate::check::*;

pub const KERN_NOT_RECEIVER: KernReturn = KernReturn(sys::KERN_NOT_RECEIVER);
pub const KERN_ALREADY_IN_SET: KernReturn = KernReturn(sys::KERN_ALREADY_IN_SET);
pub const KERN_NOT_IN_SET: KernReturn = KernReturn(sys::KERN_NOT_IN_SET);

/// Notification ids (XNU's `MACH_NOTIFY_*`).
pub const PORT_DELETED_ID: i32 = sys::MACH_NOTIFY_PORT_DELETED;
pub const PORT_DESTROYED_ID: i32 = sys::MACH_NOTIFY_PORT_DESTROYED;
pub const NO_SENDERS_ID: i32 = sys::MACH_NOTIFY_NO_SENDERS;
pub const SEND_ONCE_ID: i32 = sys::MACH_NOTIFY_SEND_ONCE;
pub const DEAD_NAME_ID: i32 = sys::MACH_NOTIFY_DEAD_NAME;

/// The variants `mach_port_request_notification` takes.
pub const VARIANTS: [i32; 3] = [PORT_DESTROYED_ID, NO_SENDERS_ID, DEAD_NAME_ID];

/// How long a test waits for a message that must come.
pub const WAIT_MS: u32 = 5000;

pub fn variant_name(id: i32) -> String {
    match id {
        PORT_DELETED_ID => "PORT_DELETED".into(),
        PORT_DESTROYED_ID => "PORT_DESTROYED".into(),
        NO_SENDERS_ID => "NO_SENDERS".into(),
        SEND_ONCE_ID => "SEND_ONCE".into(),
        DEAD_NAME_ID => "DEAD_NAME".into(),
        other => format!("{other}"),
    }
}

fn ioctl<T>(s: &TestSpace, cmd: u32, args: &mut T) -> io::Result<()> {
    // SAFETY: Every caller pairs `cmd` with its own argument struct; the
    // only address inside one (PortSetStatusArgs::members) is checked by
    // its caller.
    unsafe { mach::ioctl_raw(s.as_fd(), cmd, args) }
}

fn outcome<T>(r: io::Result<()>, kr: i32, value: T) -> mach::Result<T> {
    match r {
        Err(e) => Err(Error::Os(e)),
        Ok(()) if kr == sys::KERN_SUCCESS => Ok(value),
        Ok(()) => Err(Error::Kern(KernReturn(kr))),
    }
}

/// `mach_port_status_t` (MACH_PORT_RECEIVE_STATUS).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Status {
    pub pset: u32,
    pub seqno: u32,
    pub mscount: u32,
    pub qlimit: u32,
    pub msgcount: u32,
    pub sorights: u32,
    pub srights: u32,
    pub pdrequest: u32,
    pub nsrequest: u32,
    pub flags: u32,
}

/// The calls of issue 5 (and a few others), on the raw ABI.
pub trait NotifyCalls {
    fn move_member(&self, task: PortName, member: PortName, after: PortName) -> Call<()>;
    fn insert_member(&self, task: PortName, member: PortName, set: PortName) -> Call<()>;
    fn extract_member(&self, task: PortName, member: PortName, set: PortName) -> Call<()>;
    /// `mach_port_get_set_status`: the member names, asking for the count
    /// first and then for the names.
    fn set_status(&self, task: PortName, name: PortName) -> Call<Vec<PortName>>;
    /// `mach_port_request_notification`: gives `previous`.
    #[allow(clippy::too_many_arguments)]
    fn request(
        &self,
        task: PortName,
        name: PortName,
        variant: i32,
        sync: u32,
        notify: PortName,
        notify_type: MsgTypeName,
    ) -> Call<PortName>;
    /// `port_set_backup`: gives `previous`.
    fn set_backup(&self, task: PortName, primary: PortName, backup: PortName) -> Call<PortName>;
    /// MACH_PORT_RECEIVE_STATUS of `name`, through mach_task_self().
    fn status(&self, name: PortName) -> Call<Status>;
    /// The module's live objects.
    fn stats(&self) -> Result<sys::StatsArgs, String>;
}

impl NotifyCalls for TestSpace {
    fn move_member(&self, task: PortName, member: PortName, after: PortName) -> Call<()> {
        member_call(
            self,
            sys::MACH_IOC_PORT_MOVE_MEMBER,
            "move_member",
            task,
            member,
            after,
        )
    }

    fn insert_member(&self, task: PortName, member: PortName, set: PortName) -> Call<()> {
        member_call(
            self,
            sys::MACH_IOC_PORT_INSERT_MEMBER,
            "insert_member",
            task,
            member,
            set,
        )
    }

    fn extract_member(&self, task: PortName, member: PortName, set: PortName) -> Call<()> {
        member_call(
            self,
            sys::MACH_IOC_PORT_EXTRACT_MEMBER,
            "extract_member",
            task,
            member,
            set,
        )
    }

    fn set_status(&self, task: PortName, name: PortName) -> Call<Vec<PortName>> {
        let what = format!("get_set_status({task:?}, {name:?})");
        let mut a = sys::PortSetStatusArgs {
            task: task.0,
            name: name.0,
            ..Default::default()
        };
        let r = ioctl(self, sys::MACH_IOC_PORT_GET_SET_STATUS, &mut a);
        if r.is_err() || a.kr != sys::KERN_SUCCESS {
            return Call::new(what, outcome(r, a.kr, Vec::new()));
        }
        // Twice the count, in case members come meanwhile.
        loop {
            let mut names = vec![0u32; a.count as usize * 2 + 1];
            let mut b = sys::PortSetStatusArgs {
                task: task.0,
                name: name.0,
                members: names.as_mut_ptr() as u64,
                capacity: names.len() as u32,
                ..Default::default()
            };
            let r = ioctl(self, sys::MACH_IOC_PORT_GET_SET_STATUS, &mut b);
            if r.is_err() || b.kr != sys::KERN_SUCCESS {
                return Call::new(what, outcome(r, b.kr, Vec::new()));
            }
            if b.count <= b.capacity {
                names.truncate(b.count as usize);
                return Call::new(what, Ok(names.into_iter().map(PortName).collect()));
            }
            a.count = b.count;
        }
    }

    fn request(
        &self,
        task: PortName,
        name: PortName,
        variant: i32,
        sync: u32,
        notify: PortName,
        notify_type: MsgTypeName,
    ) -> Call<PortName> {
        let mut a = sys::RequestNotificationArgs {
            task: task.0,
            name: name.0,
            variant,
            sync,
            notify: notify.0,
            notify_type: notify_type.0,
            previous: 0x5a5a_5a5a,
            kr: 0,
        };
        let r = ioctl(self, sys::MACH_IOC_PORT_REQUEST_NOTIFICATION, &mut a);
        Call::new(
            format!(
                "request_notification({task:?}, {name:?}, {}, sync {sync}, {notify:?}, {notify_type:?})",
                variant_name(variant)
            ),
            outcome(r, a.kr, PortName(a.previous)),
        )
    }

    fn set_backup(&self, task: PortName, primary: PortName, backup: PortName) -> Call<PortName> {
        let mut a = sys::PortSetBackupArgs {
            task: task.0,
            primary: primary.0,
            backup: backup.0,
            previous: 0x5a5a_5a5a,
            ..Default::default()
        };
        let r = ioctl(self, sys::MACH_IOC_PORT_SET_BACKUP, &mut a);
        Call::new(
            format!("port_set_backup({task:?}, {primary:?}, {backup:?})"),
            outcome(r, a.kr, PortName(a.previous)),
        )
    }

    fn status(&self, name: PortName) -> Call<Status> {
        let mut a = sys::PortAttributesArgs {
            task: TASK.0,
            name: name.0,
            flavor: sys::MACH_PORT_RECEIVE_STATUS,
            count: sys::MACH_PORT_RECEIVE_STATUS_COUNT,
            ..Default::default()
        };
        let r = ioctl(self, sys::MACH_IOC_PORT_GET_ATTRIBUTES, &mut a);
        let i = a.info;
        Call::new(
            format!("get_attributes({TASK:?}, {name:?}, RECEIVE_STATUS)"),
            outcome(
                r,
                a.kr,
                Status {
                    pset: i[0],
                    seqno: i[1],
                    mscount: i[2],
                    qlimit: i[3],
                    msgcount: i[4],
                    sorights: i[5],
                    srights: i[6],
                    pdrequest: i[7],
                    nsrequest: i[8],
                    flags: i[9],
                },
            ),
        )
    }

    fn stats(&self) -> Result<sys::StatsArgs, String> {
        let mut a = sys::StatsArgs::default();
        ioctl(self, sys::MACH_IOC_STATS, &mut a).map_err(|e| format!("MACH_IOC_STATS: {e}"))?;
        Ok(a)
    }
}

fn member_call(
    s: &TestSpace,
    cmd: u32,
    call: &str,
    task: PortName,
    member: PortName,
    after: PortName,
) -> Call<()> {
    let mut a = sys::PortMemberArgs {
        task: task.0,
        member: member.0,
        after: after.0,
        kr: 0,
    };
    let r = ioctl(s, cmd, &mut a);
    Call::new(
        format!("{call}({task:?}, {member:?}, {after:?})"),
        outcome(r, a.kr, ()),
    )
}

/// Raw MACH_IOC_PORT_GET_SET_STATUS, for the transport checks.
pub fn set_status_raw(s: &TestSpace, a: &mut sys::PortSetStatusArgs) -> io::Result<()> {
    ioctl(s, sys::MACH_IOC_PORT_GET_SET_STATUS, a)
}

/// Raw MACH_IOC_PORT_SET_BACKUP, for the transport checks.
pub fn set_backup_raw(s: &TestSpace, a: &mut sys::PortSetBackupArgs) -> io::Result<()> {
    ioctl(s, sys::MACH_IOC_PORT_SET_BACKUP, a)
}

/// Expects the receive status of `name` to be `want` in the fields that
/// `pick` selects (so that a test names what it checks).
pub fn expect_status_field(
    s: &TestSpace,
    name: PortName,
    field: &str,
    pick: fn(&Status) -> u32,
    want: u32,
) -> TestResult {
    let st = s.status(name).succeeds()?;
    ensure(pick(&st) == want, || {
        format!(
            "receive status of {name:?}: expected {field} {want:#x}, got {:#x} (status {st:?})",
            pick(&st)
        )
    })
}

/// The stats counts a leak would change.
pub fn leak_counts(s: &TestSpace) -> Result<[u64; 6], String> {
    let a = s.stats()?;
    Ok([
        a.spaces,
        a.ports,
        a.port_sets,
        a.names,
        a.messages,
        a.message_bytes,
    ])
}

/// Expects the stats to be back at `baseline` (waiting a little for
/// objects that other processes or threads release).
pub fn expect_baseline(s: &TestSpace, baseline: [u64; 6], after: &str) -> TestResult {
    let start = Instant::now();
    loop {
        let now = leak_counts(s)?;
        if now == baseline {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(5) {
            return Err(format!(
                "after {after}: stats [spaces, ports, port_sets, names, messages, message_bytes] \
                 expected back at {baseline:?}, got {now:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// --- Messages ------------------------------------------------------------

/// A message to send.
#[derive(Clone)]
pub struct Msg {
    pub remote: PortName,
    pub remote_disp: MsgTypeName,
    pub reply: PortName,
    pub reply_disp: MsgTypeName,
    pub id: i32,
    /// Port descriptors: name and disposition.
    pub ports: Vec<(PortName, MsgTypeName)>,
    pub data: Vec<u8>,
}

impl Msg {
    pub fn new(remote: PortName, disp: MsgTypeName) -> Msg {
        Msg {
            remote,
            remote_disp: disp,
            reply: NULL,
            reply_disp: MsgTypeName(0),
            id: 0,
            ports: Vec::new(),
            data: Vec::new(),
        }
    }

    pub fn id(mut self, id: i32) -> Msg {
        self.id = id;
        self
    }

    pub fn reply(mut self, name: PortName, disp: MsgTypeName) -> Msg {
        self.reply = name;
        self.reply_disp = disp;
        self
    }

    pub fn port(mut self, name: PortName, disp: MsgTypeName) -> Msg {
        self.ports.push((name, disp));
        self
    }

    pub fn data(mut self, data: &[u8]) -> Msg {
        self.data = data.to_vec();
        self
    }

    /// The bytes, in an 8-aligned buffer, and the send size.
    fn encode(&self) -> (Vec<u64>, u32) {
        let mut bytes = Vec::new();
        let complex = if self.ports.is_empty() {
            0
        } else {
            sys::MACH_MSGH_BITS_COMPLEX
        };
        let bits = sys::mach_msgh_bits(self.remote_disp.0, self.reply_disp.0) | complex;
        let mut size = 24 + self.data.len();
        if !self.ports.is_empty() {
            size += 4 + 12 * self.ports.len();
        }
        let size = size.next_multiple_of(4);
        for w in [
            bits,
            size as u32,
            self.remote.0,
            self.reply.0,
            0,
            self.id as u32,
        ] {
            bytes.extend_from_slice(&w.to_ne_bytes());
        }
        if !self.ports.is_empty() {
            bytes.extend_from_slice(&(self.ports.len() as u32).to_ne_bytes());
            for (name, disp) in &self.ports {
                bytes.extend_from_slice(&name.0.to_ne_bytes());
                bytes.extend_from_slice(&0u32.to_ne_bytes());
                bytes.extend_from_slice(&0u16.to_ne_bytes());
                bytes.push(disp.0 as u8);
                bytes.push(sys::MACH_MSG_PORT_DESCRIPTOR as u8);
            }
        }
        bytes.extend_from_slice(&self.data);
        bytes.resize(size, 0);
        let mut words = vec![0u64; size.div_ceil(8)];
        // SAFETY: `words` holds at least `size` bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), words.as_mut_ptr().cast::<u8>(), size)
        };
        (words, size as u32)
    }
}

/// The name of a mach_msg_return_t.
pub fn mr_name(mr: i32) -> String {
    format!("{:?}", mach::MsgReturn(mr))
}

fn msg_ioctl(s: &TestSpace, a: &mut sys::MsgArgs) -> Result<i32, String> {
    loop {
        match ioctl(s, sys::MACH_IOC_MSG, a) {
            Ok(()) => return Ok(a.mr),
            // No test installs a signal handler; a stray EINTR restarts.
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) => return Err(format!("MACH_IOC_MSG: {e}")),
        }
    }
}

/// Sends `m` (waiting at most 10 s for room); gives the mach_msg_return_t.
pub fn send_mr(s: &TestSpace, m: &Msg) -> Result<i32, String> {
    let (mut words, size) = m.encode();
    let mut a = sys::MsgArgs {
        msg: words.as_mut_ptr() as u64,
        option: sys::MACH_SEND_MSG | sys::MACH_SEND_TIMEOUT,
        send_size: size,
        timeout: 10_000,
        ..Default::default()
    };
    msg_ioctl(s, &mut a)
}

/// Sends `m`; it must succeed.
pub fn send(s: &TestSpace, m: &Msg) -> TestResult {
    let mr = send_mr(s, m)?;
    ensure(mr == sys::MACH_MSG_SUCCESS, || {
        format!(
            "send of id {} to {:?} ({:?}): expected MACH_MSG_SUCCESS, got {}",
            m.id,
            m.remote,
            m.remote_disp,
            mr_name(mr)
        )
    })
}

/// A received message: its bytes (msgh_size of them) and its trailer.
pub struct Rcv {
    pub bytes: Vec<u8>,
    pub trailer: Vec<u8>,
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

impl Rcv {
    pub fn word(&self, off: usize) -> u32 {
        u32_at(&self.bytes, off)
    }
    pub fn bits(&self) -> u32 {
        self.word(0)
    }
    pub fn size(&self) -> u32 {
        self.word(4)
    }
    pub fn remote(&self) -> PortName {
        PortName(self.word(8))
    }
    pub fn local(&self) -> PortName {
        PortName(self.word(12))
    }
    pub fn id(&self) -> i32 {
        self.word(20) as i32
    }
    pub fn body(&self) -> &[u8] {
        &self.bytes[24..]
    }
    pub fn seqno(&self) -> u32 {
        u32_at(&self.trailer, 8)
    }
    /// The audit token (8 words).
    pub fn audit(&self) -> [u32; 8] {
        let mut t = [0u32; 8];
        for (i, w) in t.iter_mut().enumerate() {
            *w = u32_at(&self.trailer, 20 + 4 * i);
        }
        t
    }
    /// Port descriptor `i` of a complex message: name, disposition, type.
    pub fn port_descriptor(&self, i: usize) -> (PortName, u8, u8) {
        let off = 28 + 12 * i;
        (
            PortName(self.word(off)),
            self.bytes[off + 10],
            self.bytes[off + 11],
        )
    }
    /// The message as words, for failure messages.
    pub fn describe(&self) -> String {
        let words: Vec<String> = self
            .bytes
            .chunks(4)
            .map(|c| {
                let mut w = [0u8; 4];
                w[..c.len()].copy_from_slice(c);
                format!("{:#x}", u32::from_ne_bytes(w))
            })
            .collect();
        format!("message [{}]", words.join(", "))
    }
}

/// One receive on `name` (a port or a set) with `option` added to
/// MACH_RCV_MSG | MACH_RCV_TIMEOUT and the audit trailer, into a buffer of
/// `rcv_size` bytes. Gives the mach_msg_return_t and the buffer.
pub fn receive_raw(
    s: &TestSpace,
    name: PortName,
    option: u32,
    rcv_size: u32,
    timeout_ms: u32,
) -> Result<(i32, Vec<u8>), String> {
    let mut words = vec![0u64; (rcv_size as usize).div_ceil(8).max(1)];
    let mut a = sys::MsgArgs {
        msg: words.as_mut_ptr() as u64,
        option: sys::MACH_RCV_MSG
            | sys::MACH_RCV_TIMEOUT
            | sys::mach_rcv_trailer_type(sys::MACH_MSG_TRAILER_FORMAT_0)
            | sys::mach_rcv_trailer_elements(sys::MACH_RCV_TRAILER_AUDIT)
            | option,
        rcv_size,
        rcv_name: name.0,
        timeout: timeout_ms,
        ..Default::default()
    };
    let mr = msg_ioctl(s, &mut a)?;
    let mut bytes = vec![0u8; rcv_size as usize];
    // SAFETY: `words` holds at least `rcv_size` bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(
            words.as_ptr().cast::<u8>(),
            bytes.as_mut_ptr(),
            rcv_size as usize,
        )
    };
    Ok((mr, bytes))
}

/// Receives one message on `name`, waiting at most `timeout_ms`: `Ok(Err(mr))`
/// when the receive fails.
pub fn try_receive(
    s: &TestSpace,
    name: PortName,
    timeout_ms: u32,
) -> Result<Result<Rcv, i32>, String> {
    let (mr, buf) = receive_raw(s, name, 0, 4096, timeout_ms)?;
    if mr != sys::MACH_MSG_SUCCESS {
        return Ok(Err(mr));
    }
    let size = u32_at(&buf, 4) as usize;
    if !(24..=4096 - 52).contains(&size) {
        return Err(format!("receive on {name:?}: msgh_size {size}"));
    }
    Ok(Ok(Rcv {
        bytes: buf[..size].to_vec(),
        trailer: buf[size..size + 52].to_vec(),
    }))
}

/// Receives one message on `name`; one must come within [`WAIT_MS`].
pub fn receive(s: &TestSpace, name: PortName) -> Result<Rcv, String> {
    try_receive(s, name, WAIT_MS)?.map_err(|mr| {
        format!(
            "receive on {name:?}: expected a message, got {}",
            mr_name(mr)
        )
    })
}

/// No message is queued on `name` (a port or a set).
pub fn expect_no_message(s: &TestSpace, name: PortName) -> TestResult {
    match try_receive(s, name, 0)? {
        Err(mr) if mr == sys::MACH_RCV_TIMED_OUT => Ok(()),
        Err(mr) => Err(format!(
            "receive on {name:?}: expected MACH_RCV_TIMED_OUT (no message), got {}",
            mr_name(mr)
        )),
        Ok(m) => Err(format!(
            "expected no message on {name:?}, got id {} ({})",
            m.id(),
            m.describe()
        )),
    }
}

fn words(ws: &[u32]) -> Vec<u8> {
    ws.iter().flat_map(|w| w.to_ne_bytes()).collect()
}

/// The checks every notification shares: the trailer carries the kernel's
/// (all-zero) audit token.
fn check_kernel_trailer(m: &Rcv, what: &str) -> TestResult {
    ensure(
        u32_at(&m.trailer, 0) == 0 && u32_at(&m.trailer, 4) == 52,
        || {
            format!(
                "{what}: trailer type/size {:#x}/{}",
                u32_at(&m.trailer, 0),
                u32_at(&m.trailer, 4)
            )
        },
    )?;
    ensure(m.audit() == [0; 8], || {
        format!(
            "{what}: expected the kernel's all-zero audit token, got {:?}",
            m.audit()
        )
    })
}

/// Receives a notification on `port` and checks it byte for byte: a
/// 36-byte PORT_DELETED / NO_SENDERS / DEAD_NAME (header, NDR record,
/// `value`) or a 24-byte SEND_ONCE (`value` None), sent through a
/// send-once right (bits 0x1200), remote port 0, local port = `port`.
pub fn expect_notification(
    s: &TestSpace,
    port: PortName,
    id: i32,
    value: Option<u32>,
) -> TestResult {
    let what = format!("the {} notification on {port:?}", variant_name(id));
    let m = try_receive(s, port, WAIT_MS)?
        .map_err(|mr| format!("receiving {what}: expected a message, got {}", mr_name(mr)))?;
    let mut want = match value {
        Some(_) => words(&[0x1200, 36, 0, port.0, 0, id as u32]),
        None => words(&[0x1200, 24, 0, port.0, 0, id as u32]),
    };
    if let Some(v) = value {
        want.extend_from_slice(&sys::NDR_RECORD);
        want.extend_from_slice(&v.to_ne_bytes());
    }
    if m.bytes != want {
        let expected = Rcv {
            bytes: want,
            trailer: Vec::new(),
        };
        return Err(format!(
            "{what}: expected {}, got {}",
            expected.describe(),
            m.describe()
        ));
    }
    check_kernel_trailer(&m, &what)
}

/// A dead-name notification for `name` on `port`.
pub fn expect_dead_name(s: &TestSpace, port: PortName, name: PortName) -> TestResult {
    expect_notification(s, port, DEAD_NAME_ID, Some(name.0))
}

/// A port-deleted notification for `name` on `port`.
pub fn expect_port_deleted(s: &TestSpace, port: PortName, name: PortName) -> TestResult {
    expect_notification(s, port, PORT_DELETED_ID, Some(name.0))
}

/// A no-senders notification with make-send count `mscount` on `port`.
pub fn expect_no_senders(s: &TestSpace, port: PortName, mscount: u32) -> TestResult {
    expect_notification(s, port, NO_SENDERS_ID, Some(mscount))
}

/// A send-once notification on `port`.
pub fn expect_send_once(s: &TestSpace, port: PortName) -> TestResult {
    expect_notification(s, port, SEND_ONCE_ID, None)
}

/// Receives a port-destroyed notification on `port` and checks it byte for
/// byte: 40 bytes, complex, local type PORT_SEND_ONCE (0x80001200) or, from
/// a backup, PORT_SEND (0x80001100), remote 0, local `port`, id 69, one
/// port descriptor carrying a receive right (disposition 16, type 0). Gives
/// the receive right's name.
pub fn expect_port_destroyed_as(
    s: &TestSpace,
    port: PortName,
    backup: bool,
) -> Result<PortName, String> {
    let what = format!(
        "the PORT_DESTROYED notification on {port:?}{}",
        if backup { " (backup)" } else { "" }
    );
    let m = try_receive(s, port, WAIT_MS)?
        .map_err(|mr| format!("receiving {what}: expected a message, got {}", mr_name(mr)))?;
    let bits = if backup { 0x8000_1100 } else { 0x8000_1200 };
    let (name, _, _) = if m.bytes.len() == 40 {
        m.port_descriptor(0)
    } else {
        (NULL, 0, 0)
    };
    let mut want = words(&[
        bits,
        40,
        0,
        port.0,
        0,
        PORT_DESTROYED_ID as u32,
        1,
        name.0,
        0,
    ]);
    want.extend_from_slice(&0u16.to_ne_bytes());
    want.push(sys::MACH_MSG_TYPE_PORT_RECEIVE as u8);
    want.push(sys::MACH_MSG_PORT_DESCRIPTOR as u8);
    if m.bytes != want || !name.is_valid() {
        let expected = Rcv {
            bytes: want,
            trailer: Vec::new(),
        };
        return Err(format!(
            "{what}: expected {} with a valid name, got {}",
            expected.describe(),
            m.describe()
        ));
    }
    check_kernel_trailer(&m, &what)?;
    Ok(name)
}

/// A port-destroyed notification through a send-once right.
pub fn expect_port_destroyed(s: &TestSpace, port: PortName) -> Result<PortName, String> {
    expect_port_destroyed_as(s, port, false)
}

/// Requests a dead-name notification for `name` on `notify` (MAKE_SEND_ONCE
/// from the caller's receive right); there must be no previous request.
pub fn request_dead_name(s: &TestSpace, name: PortName, notify: PortName) -> TestResult {
    s.request(TASK, name, DEAD_NAME_ID, 0, notify, MAKE_SEND_ONCE)
        .returns(NULL)
}

/// Requests a no-senders notification (sync `sync`) on `notify`; no
/// previous request.
pub fn request_no_senders(
    s: &TestSpace,
    port: PortName,
    sync: u32,
    notify: PortName,
) -> TestResult {
    s.request(TASK, port, NO_SENDERS_ID, sync, notify, MAKE_SEND_ONCE)
        .returns(NULL)
}

/// Requests a port-destroyed notification on `notify`; no previous
/// request.
pub fn request_port_destroyed(s: &TestSpace, port: PortName, notify: PortName) -> TestResult {
    s.request(TASK, port, PORT_DESTROYED_ID, 0, notify, MAKE_SEND_ONCE)
        .returns(NULL)
}

/// Task names that are no task: NULL, DEAD, an unused name, a receive
/// right, a send right to an ordinary port, a send-once right, a dead
/// name, a port set, and the dead name a closed space's task port left.
pub fn bad_tasks(s: &TestSpace) -> Result<Vec<PortName>, String> {
    let receive = s.new_receive()?;
    let send_port = s.new_receive()?;
    let send = s.extract_right(TASK, send_port, MAKE_SEND).succeeds()?.name;
    let so = s.new_send_once(send_port)?;
    let dead = s.new_dead_name(1)?;
    let set = s.new_port_set()?;
    let closed = {
        let other = TestSpace::open_as("closed")?;
        s.task_for(&other)?
    };
    let unused = s.unused_name(0x7000_0003)?;
    Ok(vec![
        NULL, DEAD, unused, receive, send, so, dead, set, closed,
    ])
}

/// The thread id of the caller.
pub fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// Waits until thread `tid` of this process sleeps (state S in
/// /proc/self/task/TID/stat): a thread that announced it is about to block
/// in a receive is then blocked in it.
pub fn wait_until_blocked(tid: i32) -> TestResult {
    let path = format!("/proc/self/task/{tid}/stat");
    let start = Instant::now();
    loop {
        let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        // The state follows the command name, which is in parentheses.
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.trim().chars().next());
        if state == Some('S') {
            // A little more, for the thread to be past any other sleep.
            std::thread::sleep(Duration::from_millis(50));
            let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.trim().chars().next());
            if state == Some('S') {
                return Ok(());
            }
        }
        if start.elapsed() > Duration::from_secs(20) {
            return Err(format!("thread {tid} did not block (state {state:?})"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A small random number generator (xorshift), seeded from the clock and
/// printed by the tests that use it.
pub struct Rng(pub u64);

impl Rng {
    pub fn from_time() -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x1234_5678);
        Rng(t | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Receives on `name` in a thread of its own (waiting at most 30 s) and,
/// once that thread is blocked in the receive, runs `action`; gives what
/// the receive gave.
pub fn receive_while(
    s: &TestSpace,
    name: PortName,
    action: impl FnOnce() -> TestResult,
) -> Result<Result<Rcv, i32>, String> {
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel();
        let receiver = scope.spawn(move || {
            tx.send(gettid()).ok();
            try_receive(s, name, 30_000)
        });
        let tid = rx
            .recv()
            .map_err(|_| "the receiver thread died".to_string())?;
        let acted = wait_until_blocked(tid).and_then(|()| action());
        let got = receiver
            .join()
            .map_err(|_| "the receiver thread panicked".to_string())?;
        acted?;
        got
    })
}

/// A port whose receive right `far` holds, and a send right to it in `s`
/// (under a name of its own: a send right made in the space holding the
/// receive right would merge into the receive right's name). Gives far's
/// name and s's name.
pub fn far_send(s: &TestSpace, far: &TestSpace) -> Result<(PortName, PortName), String> {
    let port = far.new_receive()?;
    let task = s.task_for(far)?;
    let send = s.extract_right(task, port, MAKE_SEND).succeeds()?.name;
    s.mod_refs(TASK, task, SEND, -1).succeeds()?;
    Ok((port, send))
}

/// A send-once right in `s` to `port`, a receive right of `far`.
pub fn far_send_once(s: &TestSpace, far: &TestSpace, port: PortName) -> Result<PortName, String> {
    let task = s.task_for(far)?;
    let so = s.extract_right(task, port, MAKE_SEND_ONCE).succeeds()?.name;
    s.mod_refs(TASK, task, SEND, -1).succeeds()?;
    Ok(so)
}
