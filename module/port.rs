// SPDX-License-Identifier: GPL-2.0

//! Ports, port sets, and the rights to them as owned values.

use crate::abi::MACH_PORT_QLIMIT_DEFAULT;
use crate::msg::{self, Message, MsgQueue};
use crate::space::Space;
use crate::stats::{self, Live};
use kernel::{
    new_condvar,
    new_spinlock,
    prelude::*,
    sync::{
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
    _live: Live<{ stats::PORTS }>,
}

impl Port {
    fn alloc(kind: PortKind) -> Result<Arc<Port>, kernel::error::Error> {
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
                    },
                    "Port::inner"
                ),
                receivers <- new_condvar!("Port::receivers"),
                senders <- new_condvar!("Port::senders"),
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
        match &mut inner.kind {
            PortKind::Task(space) => space.take(),
            PortKind::Normal => None,
        }
    }

    /// Whether this is a task port (the kernel holds its receive right and
    /// serves no messages on it).
    pub(crate) fn is_task(&self) -> bool {
        matches!(self.inner.lock().kind, PortKind::Task(_))
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
        self.inner.lock().active
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

    /// The receive right leaves its space: the make-send count starts over
    /// (Mach resets it whenever the receive right moves), and receivers
    /// blocked on the old name wake up to find the port changed.
    fn receive_moved(&self) {
        let mut inner = self.inner.lock();
        inner.mscount = 0;
        inner.generation = inner.generation.wrapping_add(1);
        if inner.receivers_waiting > 0 {
            self.receivers.notify_all();
        }
    }

    /// Destroys the port: the receive right is gone. Its queued messages are
    /// destroyed (through [`msg::bury`], so that a chain of ports whose
    /// receive rights sit in each other's queues is not destroyed by
    /// recursion), and every waiter wakes up.
    fn destroy(&self) {
        let (queue, transit) = {
            let mut inner = self.inner.lock();
            inner.active = false;
            inner.mscount = 0;
            if inner.receivers_waiting > 0 {
                self.receivers.notify_all();
            }
            if inner.senders_waiting > 0 {
                self.senders.notify_all();
            }
            (inner.queue.take(), inner.transit.take())
        };
        msg::bury(queue);
        drop(transit);
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
    pub(crate) fn enqueue(&self, message: KBox<Message>, reservation: Option<Reservation>) -> Option<KBox<Message>> {
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
            self.receivers.notify_one();
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
            if let Some(size) = inner.queue.front_size() {
                let fits = u64::from(size) + u64::from(trailer) <= u64::from(max_size);
                if !fits && large {
                    return Ok(Dequeued::TooLarge(size));
                }
                let Some(message) = inner.queue.pop() else {
                    continue;
                };
                let seqno = inner.seqno;
                inner.seqno = inner.seqno.wrapping_add(1);
                if inner.senders_waiting > 0 {
                    self.senders.notify_one();
                }
                if inner.receivers_waiting > 0 && inner.queue.front_size().is_some() {
                    self.receivers.notify_one();
                }
                return Ok(if fits {
                    Dequeued::Message(message, seqno)
                } else {
                    Dequeued::Destroyed(message, seqno)
                });
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
            0,
            0,
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
        self.0.destroy();
    }
}

/// A send right outside any name table (counted in `srights`). Dropping it
/// releases it.
pub(crate) struct SendRight(Arc<Port>);

impl Drop for SendRight {
    fn drop(&mut self) {
        let mut inner = self.0.inner.lock();
        inner.srights = inner.srights.saturating_sub(1);
    }
}

/// A send-once right outside any name table. Dropping it releases it.
pub(crate) struct SendOnceRight(Arc<Port>);

impl SendOnceRight {
    /// The right is used up by the message it carried.
    pub(crate) fn consume(self) {
        drop(self);
    }
}

impl Drop for SendOnceRight {
    fn drop(&mut self) {
        let mut inner = self.0.inner.lock();
        inner.sorights = inner.sorights.saturating_sub(1);
    }
}

/// The state of a port set, under [`PortSet::inner`].
pub(crate) struct PortSetInner {
    pub(crate) active: bool,
}

/// A port set.
#[pin_data]
pub(crate) struct PortSet {
    #[pin]
    pub(crate) inner: SpinLock<PortSetInner>,
    _live: Live<{ stats::PORT_SETS }>,
}

impl PortSet {
    /// Creates an empty port set and returns the right to it.
    pub(crate) fn new() -> Result<PortSetRight, kernel::error::Error> {
        let set = Arc::pin_init(
            pin_init!(PortSet {
                inner <- new_spinlock!(PortSetInner { active: true }, "PortSet::inner"),
                _live: Live::new(),
            }),
            GFP_KERNEL_ACCOUNT,
        )?;
        Ok(PortSetRight(set))
    }

    fn destroy(&self) {
        self.inner.lock().active = false;
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
