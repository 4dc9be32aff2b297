// SPDX-License-Identifier: GPL-2.0

//! Ports, port sets, and the rights to them as owned values.

use crate::abi::{MACH_NOTIFY_DEAD_NAME, MACH_NOTIFY_NO_SENDERS, MACH_PORT_QLIMIT_DEFAULT};
use crate::msg::{self, Message, MsgQueue};
use crate::space::Space;
use crate::stats::{self, Live};
use kernel::{
    new_condvar,
    new_spinlock,
    prelude::*,
    sync::{
        atomic::{
            Acquire,
            Atomic,
            Release, //
        },
        Arc,
        CondVar,
        CondVarTimeoutResult,
        SpinLock, //
    },
    time::Jiffies,
};

/// What a port stands for besides being a message queue.
pub(crate) enum PortKind {
    /// An ordinary port, whose receive right is held by a space or travels
    /// in a message.
    Normal,
    /// The task port of a space. The kernel holds its receive right for as
    /// long as the space is open; `None` once the space has closed.
    Task(Option<Arc<Space>>),
}

/// The state of a port, under [`Port::inner`].
pub(crate) struct PortInner {
    /// False once the receive right has been destroyed: the port is dead and
    /// every send or send-once right to it is a dead name in waiting.
    pub(crate) active: bool,
    pub(crate) kind: PortKind,
    /// Send rights: one per name holding send rights, plus one per send
    /// right outside any space (not one per user reference).
    pub(crate) srights: u32,
    /// Send-once rights, wherever they are.
    pub(crate) sorights: u32,
    /// Make-send count: send rights made from the receive right.
    pub(crate) mscount: u32,
    /// Queued messages, oldest first.
    pub(crate) queue: MsgQueue,
    /// Queue limit for messages sent through send rights.
    pub(crate) qlimit: u32,
    /// Places in the queue promised to senders that waited for room and
    /// are copying their rights in.
    reserved: u32,
    /// Sequence number of the next message received.
    pub(crate) seqno: u32,
    /// Bumped whenever the receive right leaves its space, so that a
    /// receiver blocked on the old name notices.
    pub(crate) generation: u32,
    /// While the receive right travels in a queued message: the port that
    /// message is queued on (for the circularity check).
    transit: Option<Arc<Port>>,
    /// Threads blocked in [`Port::wait_message`] and [`Port::reserve`].
    receivers_waiting: u32,
    senders_waiting: u32,
    /// The port set the port is a member of (its receive right and the set
    /// are then in the same space).
    pub(crate) set: Option<Arc<PortSet>>,
    /// Notification requests and the backup port, allocated with the
    /// first of them (most ports never have one, and a port is smaller
    /// without them).
    requests: Option<KBox<Requests>>,
}

/// The requests registered on a port.
#[derive(Default)]
pub(crate) struct Requests {
    /// The no-senders request.
    nsrequest: Option<SendOnceRight>,
    /// The port-destroyed request or the backup port (one slot).
    pdrequest: Option<PdRequest>,
    /// Dead-name requests: one per (space, name) holding a right to the
    /// port.
    dnrequests: KVec<DnRequest>,
}

impl PortInner {
    fn nsrequest(&mut self) -> Option<&mut Option<SendOnceRight>> {
        self.requests.as_mut().map(|requests| &mut requests.nsrequest)
    }

    fn pdrequest(&mut self) -> Option<&mut Option<PdRequest>> {
        self.requests.as_mut().map(|requests| &mut requests.pdrequest)
    }
}

/// What the receive right goes to instead of being destroyed.
pub(crate) enum PdRequest {
    /// A port-destroyed notification request
    /// (`mach_port_request_notification(MACH_NOTIFY_PORT_DESTROYED)`).
    SendOnce(SendOnceRight),
    /// A backup port (`port_set_backup`).
    Backup(SendRight),
}

/// A dead-name request: when the port dies, a dead-name notification for
/// `name` goes through `notify`; when `name` stops denoting a right to the
/// port while it lives, a port-deleted notification does.
pub(crate) struct DnRequest {
    /// The name table the name is in (its address, stable while it lives).
    pub(crate) space: usize,
    pub(crate) name: u32,
    pub(crate) notify: SendOnceRight,
}

/// Why a wait for a message or for room in a queue ended without one.
pub(crate) enum WaitError {
    TimedOut,
    /// A signal is pending: the call is restarted or reports an interrupt.
    Interrupted,
    /// The port died or its receive right moved (receivers only).
    Changed,
}

/// How long a wait may last.
#[derive(Clone, Copy)]
pub(crate) enum Deadline {
    Forever,
    /// The jiffies left; 0 polls.
    Within(Jiffies),
}

/// A Mach port.
///
/// # Protocol
///
/// A port is created with its receive right ([`Port::new`] returns a
/// [`ReceiveRight`]) and is *active* until that right is destroyed
/// ([`Port::destroy`]); then it is dead for good. Entries in other spaces are
/// not visited when a port dies: they still hold an `Arc<Port>` and turn into
/// dead names the next time their space looks at them (as XNU does).
///
/// Dropping the last `Arc<Port>` frees memory only and takes no lock: by the
/// time a port can no longer be reached it has died and given everything up.
#[pin_data]
pub(crate) struct Port {
    #[pin]
    pub(crate) inner: SpinLock<PortInner>,
    /// Receivers wait here for a message.
    #[pin]
    receivers: CondVar,
    /// Senders wait here for room in the queue.
    #[pin]
    senders: CondVar,
    /// `inner.active`, also readable without the lock: set false under the
    /// lock together with it, read by the lookups that turn rights to a
    /// dead port into dead names (one spinlock round trip less each).
    alive: Atomic<bool>,
    /// Whether this is a task port (fixed when the port is made).
    task: bool,
    _live: Live<{ stats::PORTS }>,
}

impl Port {
    fn alloc(kind: PortKind) -> Result<Arc<Port>, kernel::error::Error> {
        let task = matches!(kind, PortKind::Task(_));
        Arc::pin_init(
            pin_init!(Port {
                inner <- new_spinlock!(
                    PortInner {
                        active: true,
                        kind,
                        srights: 0,
                        sorights: 0,
                        mscount: 0,
                        queue: MsgQueue::new(),
                        qlimit: MACH_PORT_QLIMIT_DEFAULT,
                        reserved: 0,
                        seqno: 0,
                        generation: 0,
                        transit: None,
                        receivers_waiting: 0,
                        senders_waiting: 0,
                        set: None,
                        requests: None,
                    },
                    "Port::inner"
                ),
                receivers <- new_condvar!("Port::receivers"),
                senders <- new_condvar!("Port::senders"),
                alive: Atomic::new(true),
                task,
                _live: Live::new(),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// Creates a port and returns its receive right.
    pub(crate) fn new() -> Result<ReceiveRight, kernel::error::Error> {
        Ok(ReceiveRight(Self::alloc(PortKind::Normal)?))
    }

    /// Creates the task port of a space (not yet attached to it, see
    /// [`Port::attach_task`]). The kernel holds its receive right.
    pub(crate) fn new_task() -> Result<Arc<Port>, kernel::error::Error> {
        Self::alloc(PortKind::Task(None))
    }

    /// Points a task port at its space.
    pub(crate) fn attach_task(&self, space: Arc<Space>) {
        let mut inner = self.inner.lock();
        inner.kind = PortKind::Task(Some(space));
    }

    /// Kills a task port when its space closes. Returns the space reference
    /// it held, for the caller to drop after this port's lock is released.
    pub(crate) fn detach_task(&self) -> Option<Arc<Space>> {
        let mut inner = self.inner.lock();
        inner.active = false;
        self.alive.store(false, Release);
        match &mut inner.kind {
            PortKind::Task(space) => space.take(),
            PortKind::Normal => None,
        }
    }

    /// Whether this is a task port (the kernel holds its receive right and
    /// serves no messages on it).
    pub(crate) fn is_task(&self) -> bool {
        self.task
    }

    /// The space this port is the task port of, if it is one and the space
    /// is open.
    pub(crate) fn task_space(&self) -> Option<Arc<Space>> {
        let inner = self.inner.lock();
        match &inner.kind {
            PortKind::Task(Some(space)) if inner.active => Some(space.clone()),
            _ => None,
        }
    }

    pub(crate) fn is_active(&self) -> bool {
        self.alive.load(Acquire)
    }

    /// The key under which a space's reverse map finds its name for this
    /// port (the port's address, stable while the `Arc` is held).
    pub(crate) fn key(self: &Arc<Self>) -> usize {
        Arc::as_ptr(self) as usize
    }

    /// Makes a send right from the receive right (MAKE_SEND): the make-send
    /// count grows by one.
    pub(crate) fn make_send(self: &Arc<Self>) -> SendRight {
        let mut inner = self.inner.lock();
        inner.mscount = inner.mscount.wrapping_add(1);
        inner.srights += 1;
        drop(inner);
        SendRight(self.clone())
    }

    /// Makes another send right from a send right (COPY_SEND, or MOVE_SEND
    /// of one of several user references).
    pub(crate) fn copy_send(self: &Arc<Self>) -> SendRight {
        self.inner.lock().srights += 1;
        SendRight(self.clone())
    }

    /// Makes a send-once right from the receive right (MAKE_SEND_ONCE).
    pub(crate) fn make_send_once(self: &Arc<Self>) -> SendOnceRight {
        self.inner.lock().sorights += 1;
        SendOnceRight(self.clone())
    }

    /// The receive right leaves its space: the make-send count and the
    /// sequence number start over (Mach resets both whenever the receive
    /// right moves), and receivers blocked on the old name wake up to find
    /// the port changed.
    fn receive_moved(&self) {
        let set = {
            let mut inner = self.inner.lock();
            inner.mscount = 0;
            inner.seqno = 0;
            inner.generation = inner.generation.wrapping_add(1);
            if inner.receivers_waiting > 0 {
                self.receivers.notify_all();
            }
            inner.set.clone()
        };
        if let Some(set) = set {
            set.remove(self);
        }
    }

    /// Destroys the port: the receive right is gone. Its queued messages are
    /// destroyed (through [`msg::bury`], so that a chain of ports whose
    /// receive rights sit in each other's queues is not destroyed by
    /// recursion), and every waiter wakes up.
    pub(crate) fn destroy(self: &Arc<Self>) {
        let (queue, transit, set, requests) = {
            let mut inner = self.inner.lock();
            inner.active = false;
            self.alive.store(false, Release);
            inner.mscount = 0;
            if inner.receivers_waiting > 0 {
                self.receivers.notify_all();
            }
            if inner.senders_waiting > 0 {
                self.senders.notify_all();
            }
            (
                inner.queue.take(),
                inner.transit.take(),
                inner.set.clone(),
                inner.requests.take(),
            )
        };
        if let Some(set) = set {
            set.remove(self);
        }
        msg::bury(queue);
        drop(transit);
        // A pending no-senders request is used up by a send-once
        // notification (dropping the right sends it); so is a port-destroyed
        // request left over (the port died for good).
        let Some(requests) = requests else {
            return;
        };
        let Requests { nsrequest, pdrequest, dnrequests } = KBox::into_inner(requests);
        drop(nsrequest);
        drop(pdrequest);
        // Every dead-name request fires.
        for request in dnrequests {
            msg::notify_name(request.notify, MACH_NOTIFY_DEAD_NAME, request.name);
        }
    }

    /// The receive right would be destroyed: if the port has a
    /// port-destroyed request or a backup, the right goes there instead,
    /// in a port-destroyed notification, and the port lives on with its
    /// queue and send rights (it leaves its set, and its make-send count
    /// and sequence number start over). Otherwise the port is destroyed.
    fn receive_dropped(self: &Arc<Self>) {
        let (request, set) = {
            let mut inner = self.inner.lock();
            let request = if inner.active { inner.pdrequest().and_then(Option::take) } else { None };
            if request.is_some() {
                inner.mscount = 0;
                inner.seqno = 0;
                inner.generation = inner.generation.wrapping_add(1);
                if inner.receivers_waiting > 0 {
                    self.receivers.notify_all();
                }
            }
            (request, inner.set.clone())
        };
        let Some(request) = request else {
            self.destroy();
            return;
        };
        if let Some(set) = set {
            set.remove(self);
        }
        // The right travels in the notification; if that fails (the target
        // is dead, the message would be circular, no memory), the right is
        // dropped again and, the request being used, the port is destroyed.
        msg::notify_port_destroyed(request, ReceiveRight(self.clone()));
    }

    /// `mach_port_request_notification(MACH_NOTIFY_NO_SENDERS)`: swaps the
    /// request, or fires at once if there are no senders and `sync` is at
    /// most the make-send count. Returns the previous request.
    pub(crate) fn request_no_senders(&self, sync: u32, notify: Option<SendOnceRight>) -> Option<SendOnceRight> {
        let mut inner = self.inner.lock();
        match notify {
            Some(notify) if inner.srights == 0 && sync <= inner.mscount && inner.active => {
                let previous = inner.nsrequest().and_then(Option::take);
                let mscount = inner.mscount;
                drop(inner);
                msg::notify_count(notify, MACH_NOTIFY_NO_SENDERS, mscount);
                previous
            }
            notify => match inner.nsrequest() {
                Some(slot) => core::mem::replace(slot, notify),
                // Only a cancel finds no requests: `ensure_requests` ran
                // before any registration.
                None => {
                    drop(inner);
                    drop(notify);
                    None
                }
            },
        }
    }

    /// Swaps the port-destroyed slot. Returns the previous occupant.
    pub(crate) fn swap_pdrequest(&self, request: Option<PdRequest>) -> Option<PdRequest> {
        let mut inner = self.inner.lock();
        match inner.pdrequest() {
            Some(slot) => core::mem::replace(slot, request),
            None => {
                drop(inner);
                drop(request);
                None
            }
        }
    }

    /// Allocates the port's request slots if it has none yet; every
    /// registration calls this first, with no lock held.
    pub(crate) fn ensure_requests(&self) -> Result<(), kernel::alloc::AllocError> {
        if self.inner.lock().requests.is_some() {
            return Ok(());
        }
        let fresh = KBox::new(Requests::default(), GFP_KERNEL_ACCOUNT)?;
        let unused = {
            let mut inner = self.inner.lock();
            if inner.requests.is_none() {
                inner.requests = Some(fresh);
                None
            } else {
                Some(fresh)
            }
        };
        drop(unused);
        Ok(())
    }

    /// Registers (or with `notify = None` cancels) the dead-name request of
    /// `name` in the name table `space`. Returns the previous request's
    /// right, or `Err(notify)` if the port is dead (the caller then treats
    /// the name as a dead name). `spare` is room for one more request,
    /// allocated by the caller before any lock.
    pub(crate) fn request_dead_name(
        &self,
        space: usize,
        name: u32,
        notify: Option<SendOnceRight>,
        spare: &mut KVec<DnRequest>,
    ) -> Result<Option<SendOnceRight>, Option<SendOnceRight>> {
        let mut inner = self.inner.lock();
        if !inner.active {
            return Err(notify);
        }
        let Some(requests) = inner.requests.as_mut().map(|requests| &mut requests.dnrequests) else {
            // Only a cancel finds no requests (see `ensure_requests`).
            drop(inner);
            drop(notify);
            return Ok(None);
        };
        let at = requests.iter().position(|request| request.space == space && request.name == name);
        let previous = at.and_then(|index| requests.remove(index).ok()).map(|request| request.notify);
        if let Some(notify) = notify {
            if requests.len() == requests.capacity() {
                // Move to the larger vector the caller allocated.
                core::mem::swap(requests, spare);
                while let Some(request) = spare.pop() {
                    let _ = requests.push_within_capacity(request);
                }
            }
            let _ = requests.push_within_capacity(DnRequest { space, name, notify });
        }
        Ok(previous)
    }

    /// Whether `name` in `space` has a dead-name request on this port.
    pub(crate) fn has_dead_name_request(&self, space: usize, name: u32) -> bool {
        let inner = self.inner.lock();
        inner
            .requests
            .as_ref()
            .is_some_and(|requests| requests.dnrequests.iter().any(|request| request.space == space && request.name == name))
    }

    /// How much room [`Port::request_dead_name`] may need.
    pub(crate) fn dnrequests_capacity(&self) -> usize {
        let inner = self.inner.lock();
        match &inner.requests {
            Some(requests) if requests.dnrequests.len() < requests.dnrequests.capacity() => 0,
            Some(requests) => requests.dnrequests.len() * 2 + 4,
            None => 4,
        }
    }

    /// Removes the dead-name request of `name` in `space`, returning its
    /// right (for a port-deleted notification).
    pub(crate) fn cancel_dead_name(&self, space: usize, name: u32) -> Option<SendOnceRight> {
        let mut inner = self.inner.lock();
        let requests = &mut inner.requests.as_mut()?.dnrequests;
        let at = requests.iter().position(|request| request.space == space && request.name == name)?;
        requests.remove(at).ok().map(|request| request.notify)
    }

    /// The generation of the receive right (see [`PortInner::generation`]).
    pub(crate) fn generation(&self) -> u32 {
        self.inner.lock().generation
    }

    /// The port a message holding this port's receive right is queued on.
    pub(crate) fn transit(&self) -> Option<Arc<Port>> {
        self.inner.lock().transit.clone()
    }

    /// Records (or clears) where this port's receive right travels. Returns
    /// the previous value, for the caller to drop after the lock.
    pub(crate) fn set_transit(&self, to: Option<Arc<Port>>) -> Option<Arc<Port>> {
        core::mem::replace(&mut self.inner.lock().transit, to)
    }

    /// Waits until a message sent through a send right fits in the queue,
    /// and reserves its place. `Ok(None)` when the port is dead (the message
    /// will be destroyed on arrival; no place is needed).
    pub(crate) fn reserve(self: &Arc<Self>, deadline: Deadline) -> Result<Option<Reservation>, WaitError> {
        let mut inner = self.inner.lock();
        let mut left = deadline;
        loop {
            if !inner.active {
                return Ok(None);
            }
            if inner.queue.len() + inner.reserved < inner.qlimit {
                inner.reserved += 1;
                return Ok(Some(Reservation(self.clone())));
            }
            let jiffies = match left {
                Deadline::Within(0) => return Err(self.sender_gives_up(&mut inner, WaitError::TimedOut)),
                Deadline::Within(jiffies) => jiffies,
                Deadline::Forever => Jiffies::MAX,
            };
            inner.senders_waiting += 1;
            let woken = self.senders.wait_interruptible_timeout(&mut inner, jiffies);
            inner.senders_waiting -= 1;
            match woken {
                CondVarTimeoutResult::Timeout => left = Deadline::Within(0),
                CondVarTimeoutResult::Signal { .. } => {
                    return Err(self.sender_gives_up(&mut inner, WaitError::Interrupted))
                }
                CondVarTimeoutResult::Woken { jiffies } => {
                    if let Deadline::Within(_) = left {
                        left = Deadline::Within(jiffies);
                    }
                }
            }
        }
    }

    /// Reserves a place in the queue if there is room now, without
    /// waiting: `Some(None)` if the port is dead, `None` if the queue is
    /// full.
    pub(crate) fn try_reserve(self: &Arc<Self>) -> Option<Option<Reservation>> {
        let mut inner = self.inner.lock();
        if !inner.active {
            return Some(None);
        }
        if inner.queue.len() + inner.reserved < inner.qlimit {
            inner.reserved += 1;
            return Some(Some(Reservation(self.clone())));
        }
        None
    }

    /// A sender leaves without its place: if there is room, another waiting
    /// sender may have it (it may have been woken for this one).
    fn sender_gives_up(&self, inner: &mut PortInner, why: WaitError) -> WaitError {
        if inner.senders_waiting > 0 && inner.queue.len() + inner.reserved < inner.qlimit {
            self.senders.notify_one();
        }
        why
    }

    /// Queues a message, using a place reserved by [`Port::reserve`] if it
    /// has one. Returns the message back if the port is dead: the caller
    /// destroys it (after this lock is gone).
    pub(crate) fn enqueue(
        &self,
        message: KBox<Message>,
        reservation: Option<Reservation>,
        sync: bool,
    ) -> Option<KBox<Message>> {
        let mut inner = self.inner.lock();
        if let Some(reservation) = reservation {
            inner.reserved = inner.reserved.saturating_sub(1);
            reservation.defuse();
        }
        if !inner.active {
            return Some(message);
        }
        inner.queue.push(message);
        if inner.receivers_waiting > 0 {
            if sync {
                self.receivers.notify_sync();
            } else {
                self.receivers.notify_one();
            }
        }
        let set = inner.set.clone();
        drop(inner);
        if let Some(set) = set {
            set.message_arrived();
        }
        None
    }

    /// Waits for a message and takes it off the queue. `max_size` is what
    /// the receiver has room for, `trailer` the trailer it asked for:
    /// a message that does not fit is left queued if `large`
    /// ([`Dequeued::TooLarge`]) and taken off to be destroyed otherwise.
    /// `generation` is the receive right's generation when the receiver
    /// looked its name up: if it moved since, the wait ends.
    pub(crate) fn wait_message(
        &self,
        generation: u32,
        deadline: Deadline,
        max_size: u32,
        trailer: u32,
        large: bool,
    ) -> Result<Dequeued, WaitError> {
        let mut inner = self.inner.lock();
        let mut left = deadline;
        loop {
            if !inner.active || inner.generation != generation {
                return Err(WaitError::Changed);
            }
            if let Some(dequeued) = self.take_front(&mut inner, max_size, trailer, large) {
                return Ok(dequeued);
            }
            let jiffies = match left {
                Deadline::Within(0) => return Err(WaitError::TimedOut),
                Deadline::Within(jiffies) => jiffies,
                Deadline::Forever => Jiffies::MAX,
            };
            inner.receivers_waiting += 1;
            let woken = self.receivers.wait_interruptible_timeout(&mut inner, jiffies);
            inner.receivers_waiting -= 1;
            match woken {
                CondVarTimeoutResult::Timeout => left = Deadline::Within(0),
                CondVarTimeoutResult::Signal { .. } => {
                    // Another receiver may have been meant to get the message
                    // this one was woken for.
                    if inner.receivers_waiting > 0 && inner.queue.front_size().is_some() {
                        self.receivers.notify_one();
                    }
                    return Err(WaitError::Interrupted);
                }
                CondVarTimeoutResult::Woken { jiffies } => {
                    if let Deadline::Within(_) = left {
                        left = Deadline::Within(jiffies);
                    }
                }
            }
        }
    }

    /// Takes the first message off the queue, if there is one (see
    /// [`Port::wait_message`]). The caller holds the port's lock.
    fn take_front(&self, inner: &mut PortInner, max_size: u32, trailer: u32, large: bool) -> Option<Dequeued> {
        let size = inner.queue.front_size()?;
        let fits = u64::from(size) + u64::from(trailer) <= u64::from(max_size);
        if !fits && large {
            return Some(Dequeued::TooLarge(size));
        }
        let message = inner.queue.pop()?;
        let seqno = inner.seqno;
        inner.seqno = inner.seqno.wrapping_add(1);
        if inner.senders_waiting > 0 {
            self.senders.notify_one();
        }
        if inner.receivers_waiting > 0 && inner.queue.front_size().is_some() {
            self.receivers.notify_one();
        }
        Some(if fits {
            Dequeued::Message(message, seqno)
        } else {
            Dequeued::Destroyed(message, seqno)
        })
    }

    /// The queue limit.
    pub(crate) fn qlimit(&self) -> u32 {
        self.inner.lock().qlimit
    }

    /// Sets the queue limit; raising it lets blocked senders in.
    pub(crate) fn set_qlimit(&self, qlimit: u32) {
        let mut inner = self.inner.lock();
        inner.qlimit = qlimit;
        if inner.senders_waiting > 0 {
            self.senders.notify_all();
        }
    }

    /// `mach_port_status_t` of the port (the set name is filled in by the
    /// caller).
    pub(crate) fn status(&self) -> [u32; 10] {
        let inner = self.inner.lock();
        [
            0,
            inner.seqno,
            inner.mscount,
            inner.qlimit,
            inner.queue.len(),
            inner.sorights,
            u32::from(inner.srights > 0),
            u32::from(inner.requests.as_ref().is_some_and(|requests| requests.pdrequest.is_some())),
            u32::from(inner.requests.as_ref().is_some_and(|requests| requests.nsrequest.is_some())),
            0,
        ]
    }
}

/// What [`Port::wait_message`] took off the queue.
pub(crate) enum Dequeued {
    /// A message for the receiver, with its sequence number.
    Message(KBox<Message>, u32),
    /// A message too large for the receiver, to be destroyed.
    Destroyed(KBox<Message>, u32),
    /// The first message is this large and stays queued (MACH_RCV_LARGE).
    TooLarge(u32),
}

/// A place in a port's queue, promised to a sender by [`Port::reserve`].
/// Dropping it unused gives the place back.
pub(crate) struct Reservation(Arc<Port>);

impl Reservation {
    /// The place was used (the caller holds the port's lock and has
    /// accounted for it).
    fn defuse(self) {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so the `Arc` is
        // moved out exactly once. The caller holds another reference to the
        // port, so dropping this one frees nothing under its lock.
        drop(unsafe { core::ptr::read(&this.0) });
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let port = &self.0;
        let mut inner = port.inner.lock();
        inner.reserved = inner.reserved.saturating_sub(1);
        if inner.senders_waiting > 0 {
            port.senders.notify_one();
        }
    }
}

/// The plumbing every right type shares: the object it is a right to, and
/// handing the right to a name-table entry and back without releasing it
/// (the entry then releases it when it goes).
macro_rules! right_type {
    ($right:ident, $object:ty) => {
        impl $right {
            // Not every right type needs it.
            #[allow(dead_code)]
            pub(crate) fn object(&self) -> &Arc<$object> {
                &self.0
            }

            /// Gives the right up to an entry, without releasing it.
            pub(crate) fn into_object(self) -> Arc<$object> {
                let this = core::mem::ManuallyDrop::new(self);
                // SAFETY: `this` is never used or dropped again, so the `Arc`
                // is moved out exactly once.
                unsafe { core::ptr::read(&this.0) }
            }

            /// Takes over the right an entry held.
            pub(crate) fn from_entry(object: Arc<$object>) -> Self {
                Self(object)
            }
        }
    };
}

right_type!(ReceiveRight, Port);
right_type!(SendRight, Port);
right_type!(SendOnceRight, Port);
right_type!(PortSetRight, PortSet);

/// A receive right outside any name table. Dropping it destroys the port.
pub(crate) struct ReceiveRight(Arc<Port>);

impl ReceiveRight {
    /// The right leaves its space (MOVE_RECEIVE).
    pub(crate) fn moved(self) -> Self {
        self.0.receive_moved();
        self
    }
}

impl Drop for ReceiveRight {
    fn drop(&mut self) {
        self.0.receive_dropped();
    }
}

/// A send right outside any name table (counted in `srights`). Dropping it
/// releases it.
pub(crate) struct SendRight(Arc<Port>);

impl Drop for SendRight {
    fn drop(&mut self) {
        let mut inner = self.0.inner.lock();
        inner.srights = inner.srights.saturating_sub(1);
        if inner.srights > 0 || !inner.active {
            return;
        }
        // The last send right: the no-senders request fires (once).
        let Some(notify) = inner.nsrequest().and_then(Option::take) else {
            return;
        };
        let mscount = inner.mscount;
        drop(inner);
        msg::notify_count(notify, MACH_NOTIFY_NO_SENDERS, mscount);
    }
}

/// A send-once right outside any name table. Dropping it releases it.
pub(crate) struct SendOnceRight(Arc<Port>);

impl SendOnceRight {
    /// The right is used up by the message it carried.
    pub(crate) fn consume(self) {
        let port = self.into_object();
        let mut inner = port.inner.lock();
        inner.sorights = inner.sorights.saturating_sub(1);
    }
}

impl Drop for SendOnceRight {
    /// A send-once right destroyed without a message through it sends a
    /// send-once notification through itself (if its port lives): the
    /// notification message takes the right over and uses it up.
    fn drop(&mut self) {
        {
            let mut inner = self.0.inner.lock();
            if !inner.active {
                inner.sorights = inner.sorights.saturating_sub(1);
                return;
            }
        }
        msg::notify_send_once(SendOnceRight(self.0.clone()));
    }
}

/// The state of a port set, under [`PortSet::inner`].
pub(crate) struct PortSetInner {
    pub(crate) active: bool,
    /// The member ports. A port is in at most one set, and its
    /// [`PortInner::set`] points back here.
    members: KVec<Arc<Port>>,
    /// Where the next receive starts looking, so that members take turns.
    rotor: usize,
    /// Threads blocked in [`PortSet::wait_message`].
    waiting: u32,
}

/// A port set.
///
/// Lock order: a set's lock comes before its members' port locks. A port
/// that gets a message wakes its set's receivers after releasing its own
/// lock; a receiver on the set scans the members under the set's lock, so
/// a message is either seen by the scan or wakes the receiver after it.
#[pin_data]
pub(crate) struct PortSet {
    #[pin]
    pub(crate) inner: SpinLock<PortSetInner>,
    #[pin]
    receivers: CondVar,
    _live: Live<{ stats::PORT_SETS }>,
}

impl PortSet {
    /// Creates an empty port set and returns the right to it.
    pub(crate) fn new() -> Result<PortSetRight, kernel::error::Error> {
        let set = Arc::pin_init(
            pin_init!(PortSet {
                inner <- new_spinlock!(
                    PortSetInner { active: true, members: KVec::new(), rotor: 0, waiting: 0 },
                    "PortSet::inner"
                ),
                receivers <- new_condvar!("PortSet::receivers"),
                _live: Live::new(),
            }),
            GFP_KERNEL_ACCOUNT,
        )?;
        Ok(PortSetRight(set))
    }

    /// Makes room for one more member (allocating with no lock held).
    pub(crate) fn reserve_member(&self) -> Result<(), kernel::alloc::AllocError> {
        loop {
            let wanted = {
                let inner = self.inner.lock();
                if inner.members.len() < inner.members.capacity() {
                    return Ok(());
                }
                inner.members.len() * 2 + 4
            };
            let mut bigger = KVec::with_capacity(wanted, GFP_KERNEL_ACCOUNT)?;
            let old = {
                let mut inner = self.inner.lock();
                if inner.members.capacity() >= wanted {
                    continue;
                }
                while let Some(member) = inner.members.pop() {
                    let _ = bigger.push_within_capacity(member);
                }
                bigger.reverse();
                core::mem::replace(&mut inner.members, bigger)
            };
            drop(old);
        }
    }

    /// Adds `port` (whose receive right is in the caller's locked space,
    /// and which is in no set) to this set. Messages already queued on it
    /// are received through the set from now on.
    pub(crate) fn add(self: &Arc<Self>, port: &Arc<Port>) -> Result<(), kernel::alloc::AllocError> {
        self.reserve_member()?;
        let mut inner = self.inner.lock();
        if !inner.active {
            return Ok(());
        }
        if inner.members.len() == inner.members.capacity() {
            // Cannot happen: members are added only under the lock of the
            // space that holds the set, which the caller holds.
            return Err(kernel::alloc::AllocError);
        }
        let has_messages = {
            let mut port_inner = port.inner.lock();
            port_inner.set = Some(self.clone());
            !port_inner.queue.is_empty()
        };
        let _ = inner.members.push_within_capacity(port.clone());
        if has_messages && inner.waiting > 0 {
            self.receivers.notify_all();
        }
        Ok(())
    }

    /// Removes `port` from this set if it is a member. Returns whether it
    /// was.
    pub(crate) fn remove(&self, port: &Port) -> bool {
        let (member, back) = {
            let mut inner = self.inner.lock();
            let Some(at) = inner.members.iter().position(|member| core::ptr::eq(Arc::as_ptr(member), port)) else {
                return false;
            };
            let member = inner.members.remove(at).ok();
            let back = {
                let mut port_inner = port.inner.lock();
                match &port_inner.set {
                    Some(set) if core::ptr::eq(Arc::as_ptr(set), self) => port_inner.set.take(),
                    _ => None,
                }
            };
            (member, back)
        };
        drop(member);
        drop(back);
        true
    }

    /// Wakes a receiver: a member got a message.
    fn message_arrived(&self) {
        let inner = self.inner.lock();
        if inner.waiting > 0 {
            self.receivers.notify_one();
        }
    }

    /// Waits for a message on any member and takes it off its port's
    /// queue, as [`Port::wait_message`] does for one port. Returns the
    /// member it came from.
    pub(crate) fn wait_message(
        &self,
        deadline: Deadline,
        max_size: u32,
        trailer: u32,
        large: bool,
    ) -> Result<(Arc<Port>, Dequeued), WaitError> {
        let mut inner = self.inner.lock();
        let mut left = deadline;
        loop {
            if !inner.active {
                return Err(WaitError::Changed);
            }
            let count = inner.members.len();
            for step in 0..count {
                let at = (inner.rotor + step) % count;
                let port = &inner.members[at];
                let taken = {
                    let mut port_inner = port.inner.lock();
                    if port_inner.active {
                        port.take_front(&mut port_inner, max_size, trailer, large)
                    } else {
                        None
                    }
                };
                if let Some(dequeued) = taken {
                    let port = port.clone();
                    inner.rotor = at + 1;
                    if inner.waiting > 0 {
                        // Others may find more.
                        self.receivers.notify_one();
                    }
                    return Ok((port, dequeued));
                }
            }
            let jiffies = match left {
                Deadline::Within(0) => return Err(WaitError::TimedOut),
                Deadline::Within(jiffies) => jiffies,
                Deadline::Forever => Jiffies::MAX,
            };
            inner.waiting += 1;
            let woken = self.receivers.wait_interruptible_timeout(&mut inner, jiffies);
            inner.waiting -= 1;
            match woken {
                CondVarTimeoutResult::Timeout => left = Deadline::Within(0),
                CondVarTimeoutResult::Signal { .. } => {
                    if inner.waiting > 0 {
                        self.receivers.notify_one();
                    }
                    return Err(WaitError::Interrupted);
                }
                CondVarTimeoutResult::Woken { jiffies } => {
                    if let Deadline::Within(_) = left {
                        left = Deadline::Within(jiffies);
                    }
                }
            }
        }
    }

    /// Destroys the set: its members leave it (keeping their messages) and
    /// its receivers wake up.
    fn destroy(&self) {
        let members = {
            let mut inner = self.inner.lock();
            inner.active = false;
            if inner.waiting > 0 {
                self.receivers.notify_all();
            }
            core::mem::take(&mut inner.members)
        };
        for member in members.iter() {
            let back = {
                let mut port_inner = member.inner.lock();
                match &port_inner.set {
                    Some(set) if core::ptr::eq(Arc::as_ptr(set), self) => port_inner.set.take(),
                    _ => None,
                }
            };
            drop(back);
        }
        drop(members);
    }
}

/// The right to a port set. Dropping it destroys the set.
pub(crate) struct PortSetRight(Arc<PortSet>);

impl Drop for PortSetRight {
    fn drop(&mut self) {
        self.0.destroy();
    }
}

/// A right taken out of a space and not yet put into one: what
/// `insert_right` and `extract_right` carry from one space to the other (and
/// what a message will carry). Dropping it releases the right.
pub(crate) enum Carried {
    Receive(ReceiveRight),
    Send(SendRight),
    SendOnce(SendOnceRight),
    /// A send or send-once right whose port is dead: it arrives as
    /// MACH_PORT_DEAD.
    Dead,
}
