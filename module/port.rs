// SPDX-License-Identifier: GPL-2.0

//! Ports, port sets, and the rights to them as owned values.

use crate::space::Space;
use crate::stats::{self, Live};
use kernel::{
    new_spinlock,
    prelude::*,
    sync::{
        Arc,
        SpinLock, //
    },
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
                    },
                    "Port::inner"
                ),
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
    /// (Mach resets it whenever the receive right moves).
    fn receive_moved(&self) {
        self.inner.lock().mscount = 0;
    }

    /// Destroys the port: the receive right is gone.
    fn destroy(&self) {
        let mut inner = self.inner.lock();
        inner.active = false;
        inner.mscount = 0;
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
