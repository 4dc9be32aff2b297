// SPDX-License-Identifier: GPL-2.0

//! The name table of a space: what each name denotes.

use crate::abi::{self, *};
use crate::kern::{KResult, KernReturn};
use crate::port::{
    Port,
    PortSet,
    PortSetRight,
    ReceiveRight,
    SendOnceRight,
    SendRight, //
};
use kernel::{
    prelude::*,
    rbtree::{
        RBTree,
        RBTreeNodeReservation, //
    },
    sync::Arc,
};

/// The object an entry refers to.
pub(crate) enum Object {
    /// A dead name refers to nothing.
    None,
    Port(Arc<Port>),
    Set(Arc<PortSet>),
}

/// What one name denotes in one space.
///
/// `bits` holds the `MACH_PORT_TYPE_*` bits of the rights the name holds:
/// RECEIVE, SEND (alone or together), SEND_ONCE, PORT_SET or DEAD_NAME.
/// `urefs` counts the user references of the send right or dead name (a
/// receive, send-once or port-set right counts as one and keeps 0 here).
///
/// The entry owns its rights: dropping it releases every right it still
/// holds (see `Drop`), so removing a name from the table and dropping the
/// entry is the whole of destroying it.
pub(crate) struct Entry {
    pub(crate) bits: u32,
    pub(crate) urefs: u32,
    pub(crate) object: Object,
}

impl Entry {
    pub(crate) fn receive(right: ReceiveRight) -> Self {
        Entry { bits: MACH_PORT_TYPE_RECEIVE, urefs: 0, object: Object::Port(right.into_port()) }
    }

    pub(crate) fn send(right: SendRight, urefs: u32) -> Self {
        Entry { bits: MACH_PORT_TYPE_SEND, urefs, object: Object::Port(right.into_port()) }
    }

    pub(crate) fn port_set(right: PortSetRight) -> Self {
        Entry { bits: MACH_PORT_TYPE_PORT_SET, urefs: 0, object: Object::Set(right.into_set()) }
    }

    pub(crate) fn dead_name(urefs: u32) -> Self {
        Entry { bits: MACH_PORT_TYPE_DEAD_NAME, urefs, object: Object::None }
    }

    pub(crate) fn port(&self) -> Option<&Arc<Port>> {
        match &self.object {
            Object::Port(port) => Some(port),
            _ => None,
        }
    }

    pub(crate) fn has(&self, bits: u32) -> bool {
        self.bits & bits != 0
    }

    /// Turns send and send-once rights to a dead port into a dead name,
    /// keeping the user references (a send-once right becomes one). Every
    /// lookup goes through here, so a port's death is visible to every call
    /// without visiting other spaces when it dies.
    fn check_dead(&mut self) {
        if self.bits & MACH_PORT_TYPE_SEND_RIGHTS == 0 || self.bits & MACH_PORT_TYPE_RECEIVE != 0 {
            return;
        }
        let alive = match &self.object {
            Object::Port(port) => port.is_active(),
            _ => return,
        };
        if alive {
            return;
        }
        if let Object::Port(port) = core::mem::replace(&mut self.object, Object::None) {
            // Release the right's count on the dead port; no notification
            // follows from a dead port.
            if self.bits & MACH_PORT_TYPE_SEND != 0 {
                drop(SendRight::from_entry(port));
            } else {
                drop(SendOnceRight::from_entry(port));
            }
        }
        if self.bits & MACH_PORT_TYPE_SEND_ONCE != 0 {
            self.urefs = 1;
        }
        self.bits = MACH_PORT_TYPE_DEAD_NAME;
    }

    /// Moves the rights `bits` (with their user references) out of this
    /// entry into a detached one, which releases them when dropped.
    fn split(&mut self, bits: u32) -> Entry {
        let object = match &self.object {
            Object::Port(port) => Object::Port(port.clone()),
            Object::Set(set) => Object::Set(set.clone()),
            Object::None => Object::None,
        };
        let urefs = if bits & (MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_DEAD_NAME) != 0 {
            core::mem::take(&mut self.urefs)
        } else {
            0
        };
        self.bits &= !bits;
        Entry { bits, urefs, object }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        match core::mem::replace(&mut self.object, Object::None) {
            Object::Port(port) => {
                if self.bits & MACH_PORT_TYPE_SEND != 0 {
                    drop(SendRight::from_entry(port.clone()));
                }
                if self.bits & MACH_PORT_TYPE_SEND_ONCE != 0 {
                    drop(SendOnceRight::from_entry(port.clone()));
                }
                if self.bits & MACH_PORT_TYPE_RECEIVE != 0 {
                    drop(ReceiveRight::from_entry(port));
                }
            }
            Object::Set(set) => {
                if self.bits & MACH_PORT_TYPE_PORT_SET != 0 {
                    drop(PortSetRight::from_entry(set));
                }
            }
            Object::None => {}
        }
    }
}

/// Kernel-chosen names start with this generation, as on macOS.
const FIRST_GENERATION: u32 = 3;
/// How much a reused index's generation advances (XNU's step).
const GENERATION_STEP: u32 = 4;
/// The largest index a kernel-chosen name may have (index 0xFFFFFF with
/// generation 0xFF would be MACH_PORT_DEAD).
const MAX_INDEX: u32 = 0xff_fffe;

/// The names of one space.
///
/// Names are keys of a red-black tree, so any 32-bit name a caller picks
/// with `mach_port_allocate_name` works. Names the kernel picks are
/// `index << 8 | generation`; a freed name's index is reused with the next
/// generation, so a stale name misses instead of hitting a new right.
pub(crate) struct NameTable {
    entries: RBTree<u32, Entry>,
    count: u32,
    /// Freed names whose index may be reused, most recent last.
    free: KVec<u32>,
    next_index: u32,
}

impl NameTable {
    pub(crate) fn new() -> Self {
        NameTable { entries: RBTree::new(), count: 0, free: KVec::new(), next_index: 1 }
    }

    pub(crate) fn count(&self) -> u32 {
        self.count
    }

    /// The entry `name` denotes, after turning rights to a dead port into a
    /// dead name.
    pub(crate) fn get(&mut self, name: u32) -> Option<&mut Entry> {
        let entry = self.entries.get_mut(&name)?;
        entry.check_dead();
        Some(entry)
    }

    /// As [`NameTable::get`], with KERN_INVALID_NAME for a name not in use.
    pub(crate) fn lookup(&mut self, name: u32) -> KResult<&mut Entry> {
        self.get(name).ok_or(KernReturn::INVALID_NAME)
    }

    fn is_used(&self, name: u32) -> bool {
        self.entries.get(&name).is_some()
    }

    /// Picks an unused name for a new entry.
    fn pick_name(&mut self) -> Option<u32> {
        while let Some(old) = self.free.pop() {
            let gen = ((old & 0xff) + GENERATION_STEP) & 0xff;
            let name = (old & !0xff) | gen;
            if mach_port_valid(name) && !self.is_used(name) {
                return Some(name);
            }
        }
        while self.next_index <= MAX_INDEX {
            let name = (self.next_index << 8) | FIRST_GENERATION;
            self.next_index += 1;
            if !self.is_used(name) {
                return Some(name);
            }
        }
        None
    }

    /// Inserts `entry` under a name the kernel picks. On failure the entry
    /// comes back, for the caller to drop once its locks are released.
    pub(crate) fn insert(
        &mut self,
        entry: Entry,
        node: RBTreeNodeReservation<u32, Entry>,
    ) -> Result<u32, (KernReturn, Entry)> {
        if self.count >= abi::MACH_SPACE_MAX_NAMES {
            return Err((KernReturn::NO_SPACE, entry));
        }
        let Some(name) = self.pick_name() else {
            return Err((KernReturn::NO_SPACE, entry));
        };
        self.entries.insert(node.into_node(name, entry));
        self.count += 1;
        Ok(name)
    }

    /// Inserts `entry` under `name`, which must be valid and unused.
    pub(crate) fn insert_at(
        &mut self,
        name: u32,
        entry: Entry,
        node: RBTreeNodeReservation<u32, Entry>,
    ) -> Result<(), (KernReturn, Entry)> {
        if self.is_used(name) {
            return Err((KernReturn::NAME_EXISTS, entry));
        }
        if self.count >= abi::MACH_SPACE_MAX_NAMES {
            return Err((KernReturn::NO_SPACE, entry));
        }
        self.entries.insert(node.into_node(name, entry));
        self.count += 1;
        Ok(())
    }

    /// Takes the rights `bits` away from `name`, freeing the name when it
    /// holds nothing else. Returns them as a detached entry, for the caller
    /// to drop (which releases them) once the space lock is released.
    pub(crate) fn remove_rights(&mut self, name: u32, bits: u32) -> Option<Entry> {
        let entry = self.entries.get_mut(&name)?;
        if entry.bits & !bits == 0 {
            return self.remove(name);
        }
        Some(entry.split(bits))
    }

    /// Adds `delta` to the user references of the send right or dead name
    /// `name` holds; at 0 that right goes. Nothing changes on error.
    pub(crate) fn add_urefs(&mut self, name: u32, delta: i32) -> KResult<Option<Entry>> {
        let entry = self.lookup(name)?;
        let urefs = i64::from(entry.urefs) + i64::from(delta);
        if urefs < 0 {
            return Err(KernReturn::INVALID_VALUE);
        }
        if urefs > i64::from(MACH_PORT_UREFS_MAX) {
            return Err(KernReturn::UREFS_OVERFLOW);
        }
        if urefs > 0 {
            entry.urefs = urefs as u32;
            return Ok(None);
        }
        let bits = entry.bits & (MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_DEAD_NAME);
        Ok(self.remove_rights(name, bits))
    }

    /// Removes `name` and returns its entry, for the caller to drop (which
    /// releases its rights) once the space lock is released.
    pub(crate) fn remove(&mut self, name: u32) -> Option<Entry> {
        let entry = self.entries.remove(&name)?;
        self.count -= 1;
        if (self.free.len() as u32) < abi::MACH_SPACE_MAX_NAMES {
            // Remembering the name is only an optimisation; if there is no
            // memory for it, its index is simply not reused.
            let _ = self.free.push(name, GFP_KERNEL_ACCOUNT);
        }
        Some(entry)
    }

    /// Calls `f` with every name and its type bits, in ascending order.
    pub(crate) fn for_each(&mut self, mut f: impl FnMut(u32, u32)) {
        for (name, entry) in self.entries.iter_mut() {
            entry.check_dead();
            f(*name, entry.bits);
        }
    }

    /// Empties the table, returning every entry to the caller to drop.
    pub(crate) fn take_all(&mut self) -> RBTree<u32, Entry> {
        self.count = 0;
        self.free.clear();
        core::mem::replace(&mut self.entries, RBTree::new())
    }
}
