// SPDX-License-Identifier: GPL-2.0

//! The name table of a space: what each name denotes.

use crate::abi::{self, *};
use crate::kern::{KResult, KernReturn};
use crate::msg;
use crate::stats;
use crate::port::{
    Carried,
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
    /// A dead-name request is registered for this name (on its port).
    pub(crate) request: bool,
}

impl Entry {
    pub(crate) fn receive(right: ReceiveRight) -> Self {
        Entry { bits: MACH_PORT_TYPE_RECEIVE, urefs: 0, object: Object::Port(right.into_object()), request: false }
    }

    pub(crate) fn send(right: SendRight, urefs: u32) -> Self {
        Entry { bits: MACH_PORT_TYPE_SEND, urefs, object: Object::Port(right.into_object()), request: false }
    }

    pub(crate) fn send_once(right: SendOnceRight) -> Self {
        Entry { bits: MACH_PORT_TYPE_SEND_ONCE, urefs: 0, object: Object::Port(right.into_object()), request: false }
    }

    pub(crate) fn port_set(right: PortSetRight) -> Self {
        Entry { bits: MACH_PORT_TYPE_PORT_SET, urefs: 0, object: Object::Set(right.into_object()), request: false }
    }

    pub(crate) fn dead_name(urefs: u32) -> Self {
        Entry { bits: MACH_PORT_TYPE_DEAD_NAME, urefs, object: Object::None, request: false }
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

    /// The type `mach_port_type` and `mach_port_names` report: the rights,
    /// and MACH_PORT_TYPE_DNREQUEST while a dead-name request is
    /// registered.
    pub(crate) fn type_bits(&self) -> u32 {
        if self.request {
            self.bits | MACH_PORT_TYPE_DNREQUEST
        } else {
            self.bits
        }
    }

    /// Turns send and send-once rights to a dead port into a dead name,
    /// keeping the user references (a send-once right becomes one). Every
    /// lookup goes through here, so a port's death is visible to every call
    /// without visiting other spaces when it dies. Returns the port's
    /// reverse-map key if a send right was converted.
    fn check_dead(&mut self) -> Option<usize> {
        if self.bits & MACH_PORT_TYPE_SEND_RIGHTS == 0 || self.bits & MACH_PORT_TYPE_RECEIVE != 0 {
            return None;
        }
        match &self.object {
            Object::Port(port) if !port.is_active() => {}
            _ => return None,
        }
        let Object::Port(port) = core::mem::replace(&mut self.object, Object::None) else {
            return None;
        };
        let key = port.key();
        // Release the right's count on the dead port; no notification
        // follows from a dead port.
        let was_send = self.bits & MACH_PORT_TYPE_SEND != 0;
        if was_send {
            drop(SendRight::from_entry(port));
        } else {
            drop(SendOnceRight::from_entry(port));
            self.urefs = 1;
        }
        self.bits = MACH_PORT_TYPE_DEAD_NAME;
        if core::mem::take(&mut self.request) {
            // The reference the dead-name notification carries (pegged at
            // the maximum, as XNU does).
            self.urefs = (self.urefs + 1).min(MACH_PORT_UREFS_MAX);
        }
        was_send.then_some(key)
    }

    /// Whether the entry is in the reverse map (it holds a send or the
    /// receive right of a port).
    fn in_reverse(&self) -> bool {
        self.bits & MACH_PORT_TYPE_SEND_RECEIVE != 0
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
        Entry { bits, urefs, object, request: false }
    }

    /// Turns a detached entry that holds exactly one port right into that
    /// right, without releasing it.
    fn into_right(mut self) -> Option<Carried> {
        let bits = core::mem::take(&mut self.bits);
        let Object::Port(port) = core::mem::replace(&mut self.object, Object::None) else {
            return None;
        };
        match bits {
            MACH_PORT_TYPE_RECEIVE => Some(Carried::Receive(ReceiveRight::from_entry(port))),
            MACH_PORT_TYPE_SEND => Some(Carried::Send(SendRight::from_entry(port))),
            MACH_PORT_TYPE_SEND_ONCE => Some(Carried::SendOnce(SendOnceRight::from_entry(port))),
            _ => {
                // Not a single right: put it back and let the drop release it.
                self.bits = bits;
                self.object = Object::Port(port);
                None
            }
        }
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
///
/// A second tree maps each port this space holds send or receive rights for
/// to the one name that holds them, so that a send right arriving for a
/// port the space already names merges under that name, and
/// KERN_RIGHT_EXISTS can be told from KERN_NAME_EXISTS.
pub(crate) struct NameTable {
    entries: RBTree<u32, Entry>,
    /// Port key ([`Port::key`]) to name, for entries that hold SEND or
    /// RECEIVE.
    reverse: RBTree<usize, u32>,
    count: u32,
    /// Freed names whose index may be reused, most recent last.
    free: KVec<u32>,
    /// The name freed last, which the kernel never picks next.
    last_freed: u32,
    next_index: u32,
}

/// Why a carried right could not be put into a space, and the right, for
/// the caller to drop once its locks are released.
pub(crate) type Refused = (KernReturn, Carried);

impl NameTable {
    pub(crate) fn new() -> Self {
        NameTable {
            entries: RBTree::new(),
            reverse: RBTree::new(),
            count: 0,
            free: KVec::new(),
            last_freed: MACH_PORT_NULL,
            next_index: 1,
        }
    }

    pub(crate) fn count(&self) -> u32 {
        self.count
    }

    /// The entry `name` denotes, after turning rights to a dead port into a
    /// dead name.
    pub(crate) fn get(&mut self, name: u32) -> Option<&mut Entry> {
        let entry = self.entries.get_mut(&name)?;
        if let Some(key) = entry.check_dead() {
            self.reverse.remove(&key);
        }
        Some(entry)
    }

    /// As [`NameTable::get`], with KERN_INVALID_NAME for a name not in use.
    pub(crate) fn lookup(&mut self, name: u32) -> KResult<&mut Entry> {
        self.get(name).ok_or(KernReturn::INVALID_NAME)
    }

    fn is_used(&self, name: u32) -> bool {
        self.entries.get(&name).is_some()
    }

    /// The name holding send or receive rights for `port`, if any. The port
    /// must be alive (so that name is not a dead name in waiting).
    fn name_of(&self, port: &Arc<Port>) -> Option<u32> {
        self.reverse.get(&port.key()).copied()
    }

    /// Whether the kernel may pick `name` for a new entry.
    fn can_pick(&self, name: u32) -> bool {
        mach_port_valid(name) && name != self.last_freed && !self.is_used(name)
    }

    /// Picks a name for a new entry: a freed index with its next unused
    /// generation, else a fresh index. Never the name freed last.
    fn pick_name(&mut self) -> Option<u32> {
        while let Some(old) = self.free.pop() {
            let mut name = old;
            // Each generation of the index once, at the most.
            for _ in 0..(0x100 / GENERATION_STEP) {
                name = (name & !0xff) | (((name & 0xff) + GENERATION_STEP) & 0xff);
                if self.can_pick(name) {
                    return Some(name);
                }
            }
        }
        while self.next_index <= MAX_INDEX {
            let name = (self.next_index << 8) | FIRST_GENERATION;
            self.next_index += 1;
            if self.can_pick(name) {
                return Some(name);
            }
        }
        None
    }

    /// Inserts `entry` under `name`, or under a name the kernel picks. On
    /// failure the entry comes back, for the caller to drop once its locks
    /// are released.
    pub(crate) fn insert(&mut self, name: Option<u32>, entry: Entry) -> Result<u32, (KernReturn, Entry)> {
        if name.is_some_and(|name| self.is_used(name)) {
            return Err((KernReturn::NAME_EXISTS, entry));
        }
        if self.count >= abi::MACH_SPACE_MAX_NAMES {
            return Err((KernReturn::NO_SPACE, entry));
        }
        let Ok(node) = RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT) else {
            return Err((KernReturn::RESOURCE_SHORTAGE, entry));
        };
        let reverse = match entry.port() {
            Some(port) if entry.in_reverse() => match RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT) {
                Ok(reverse) => Some((port.key(), reverse)),
                Err(_) => return Err((KernReturn::RESOURCE_SHORTAGE, entry)),
            },
            _ => None,
        };
        let name = match name {
            Some(name) => name,
            None => match self.pick_name() {
                Some(name) => name,
                None => return Err((KernReturn::NO_SPACE, entry)),
            },
        };
        if let Some((key, reverse)) = reverse {
            self.reverse.insert(reverse.into_node(key, name));
        }
        self.entries.insert(node.into_node(name, entry));
        self.count += 1;
        stats::add_names(1);
        Ok(name)
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
        self.remove_name(name, true)
    }

    /// Removes `name` whatever happens to its port meanwhile
    /// (`mach_port_destroy`).
    pub(crate) fn destroy_name(&mut self, name: u32) -> Option<Entry> {
        self.remove_name(name, false)
    }

    fn remove_name(&mut self, name: u32, keep_dead: bool) -> Option<Entry> {
        let mut entry = self.entries.remove(&name)?;
        let died = self.port_deleted(name, &mut entry);
        self.count -= 1;
        self.last_freed = name;
        stats::add_names(-1);
        if entry.in_reverse() {
            if let Some(port) = entry.port() {
                self.reverse.remove(&port.key());
            }
        }
        if (self.free.len() as u32) < abi::MACH_SPACE_MAX_NAMES {
            // Remembering the name is only an optimisation; if there is no
            // memory for it, its index is simply not reused.
            let _ = self.free.push(name, GFP_KERNEL_ACCOUNT);
        }
        if died && keep_dead {
            // The port died after this call looked the name up, and its
            // dead-name notification went out for this name. As in Mach,
            // where the death comes first, the name stays: a dead name with
            // the reference the notification carries.
            let _ = self.insert(Some(name), Entry::dead_name(1));
        }
        Some(entry)
    }

    /// Checks, without changing anything, that `copyin(name, disposition)`
    /// would succeed; returns the port it would take a right to (`None` for
    /// a dead name, which arrives as MACH_PORT_DEAD), and the user
    /// references of a send right.
    pub(crate) fn peek(&mut self, name: u32, disposition: u32) -> KResult<(Option<Arc<Port>>, u32)> {
        let entry = self.lookup(name)?;
        let needs = match disposition {
            MACH_MSG_TYPE_MAKE_SEND | MACH_MSG_TYPE_MAKE_SEND_ONCE | MACH_MSG_TYPE_MOVE_RECEIVE => {
                MACH_PORT_TYPE_RECEIVE
            }
            MACH_MSG_TYPE_COPY_SEND | MACH_MSG_TYPE_MOVE_SEND => MACH_PORT_TYPE_SEND,
            MACH_MSG_TYPE_MOVE_SEND_ONCE => MACH_PORT_TYPE_SEND_ONCE,
            _ => return Err(KernReturn::INVALID_VALUE),
        };
        match entry.port() {
            Some(port) if entry.bits & needs != 0 => Ok((Some(port.clone()), entry.urefs)),
            None if entry.bits & MACH_PORT_TYPE_DEAD_NAME != 0
                && matches!(
                    disposition,
                    MACH_MSG_TYPE_MOVE_SEND | MACH_MSG_TYPE_COPY_SEND | MACH_MSG_TYPE_MOVE_SEND_ONCE
                ) =>
            {
                Ok((None, entry.urefs))
            }
            _ => Err(KernReturn::INVALID_RIGHT),
        }
    }


    /// Takes a right out of the space, as `disposition` (a
    /// `MACH_MSG_TYPE_*` value) says: Mach's copy-in. A dead name taken as
    /// a send or send-once right gives [`Carried::Dead`] (a move consumes
    /// one of its user references).
    pub(crate) fn copyin(&mut self, name: u32, disposition: u32) -> KResult<Carried> {
        let entry = self.lookup(name)?;
        let bits = entry.bits;
        let Some(port) = entry.port().cloned() else {
            // A dead name or a port set.
            if bits & MACH_PORT_TYPE_DEAD_NAME == 0 {
                return Err(KernReturn::INVALID_RIGHT);
            }
            return match disposition {
                MACH_MSG_TYPE_COPY_SEND => Ok(Carried::Dead),
                MACH_MSG_TYPE_MOVE_SEND | MACH_MSG_TYPE_MOVE_SEND_ONCE => {
                    // The freed dead name holds no right: dropping it here
                    // releases nothing.
                    drop(self.add_urefs(name, -1)?);
                    Ok(Carried::Dead)
                }
                _ => Err(KernReturn::INVALID_RIGHT),
            };
        };
        let needs = match disposition {
            MACH_MSG_TYPE_MAKE_SEND | MACH_MSG_TYPE_MAKE_SEND_ONCE | MACH_MSG_TYPE_MOVE_RECEIVE => {
                MACH_PORT_TYPE_RECEIVE
            }
            MACH_MSG_TYPE_COPY_SEND | MACH_MSG_TYPE_MOVE_SEND => MACH_PORT_TYPE_SEND,
            MACH_MSG_TYPE_MOVE_SEND_ONCE => MACH_PORT_TYPE_SEND_ONCE,
            _ => return Err(KernReturn::INVALID_VALUE),
        };
        if bits & needs == 0 {
            return Err(KernReturn::INVALID_RIGHT);
        }
        let carried = match disposition {
            MACH_MSG_TYPE_MAKE_SEND => Carried::Send(port.make_send()),
            MACH_MSG_TYPE_MAKE_SEND_ONCE => Carried::SendOnce(port.make_send_once()),
            MACH_MSG_TYPE_COPY_SEND => Carried::Send(port.copy_send()),
            MACH_MSG_TYPE_MOVE_SEND if entry.urefs > 1 => {
                entry.urefs -= 1;
                Carried::Send(port.copy_send())
            }
            _ => {
                // Moving the whole right: MOVE_RECEIVE, MOVE_SEND_ONCE, or
                // MOVE_SEND of the last user reference.
                let taken = self.remove_rights(name, needs).and_then(Entry::into_right);
                match taken {
                    Some(Carried::Receive(receive)) => Carried::Receive(receive.moved()),
                    Some(carried) => carried,
                    None => return Err(KernReturn::INVALID_RIGHT),
                }
            }
        };
        Ok(carried)
    }

    /// Puts a carried right into the space: Mach's copy-out. With `name`,
    /// under that name (`mach_port_insert_right`); without, under the name
    /// the space already has for the port, or a new one (a received right).
    /// A send right merging into a name at MACH_PORT_UREFS_MAX gives
    /// KERN_UREFS_OVERFLOW, or, with `peg`, leaves it there and succeeds.
    /// A right to a port that died gives KERN_INVALID_CAPABILITY.
    pub(crate) fn copyout(&mut self, name: Option<u32>, right: Carried, peg: bool) -> Result<u32, Refused> {
        let port = match &right {
            Carried::Receive(receive) => receive.object(),
            Carried::Send(send) => send.object(),
            Carried::SendOnce(send_once) => send_once.object(),
            Carried::Dead => return Err((KernReturn::INVALID_CAPABILITY, right)),
        };
        if !port.is_active() {
            return Err((KernReturn::INVALID_CAPABILITY, right));
        }
        if let Carried::SendOnce(_) = right {
            // Send-once rights never merge: each has a name of its own.
            return self.insert_carried(name, right);
        }
        let existing = self.name_of(port);
        match (name, existing) {
            (Some(name), Some(existing)) if name != existing => Err((KernReturn::RIGHT_EXISTS, right)),
            (_, Some(existing)) => self.merge(existing, right, peg),
            (name, None) => self.insert_carried(name, right),
        }
    }

    /// Adds a carried send or receive right to the name that already holds
    /// send or receive rights for its port.
    fn merge(&mut self, name: u32, right: Carried, peg: bool) -> Result<u32, Refused> {
        let Some(entry) = self.entries.get_mut(&name) else {
            return Err((KernReturn::INVALID_NAME, right));
        };
        match right {
            Carried::Send(send) if entry.has(MACH_PORT_TYPE_SEND) => {
                if entry.urefs >= MACH_PORT_UREFS_MAX {
                    if !peg {
                        return Err((KernReturn::UREFS_OVERFLOW, Carried::Send(send)));
                    }
                } else {
                    entry.urefs += 1;
                }
                // The name's send right already counts for the port: the
                // carried one is released (dropping it takes only the port's
                // lock, allowed under the space lock).
                drop(send);
            }
            Carried::Send(send) => {
                // The receive right's name gains the send right.
                entry.bits |= MACH_PORT_TYPE_SEND;
                entry.urefs = 1;
                drop(send.into_object());
            }
            Carried::Receive(receive) => {
                entry.bits |= MACH_PORT_TYPE_RECEIVE;
                drop(receive.into_object());
            }
            other => return Err((KernReturn::INVALID_RIGHT, other)),
        }
        Ok(name)
    }

    /// Puts a carried right under a name of its own.
    fn insert_carried(&mut self, name: Option<u32>, right: Carried) -> Result<u32, Refused> {
        let entry = match right {
            Carried::Receive(receive) => Entry::receive(receive),
            Carried::Send(send) => Entry::send(send, 1),
            Carried::SendOnce(send_once) => Entry::send_once(send_once),
            Carried::Dead => return Err((KernReturn::INVALID_CAPABILITY, Carried::Dead)),
        };
        self.insert(name, entry).map_err(|(kr, entry)| {
            // Give the right back as it came.
            let right = entry.into_right().unwrap_or(Carried::Dead);
            (kr, right)
        })
    }

    /// How many names hold each kind of right, in the order RECEIVE, SEND,
    /// SEND_ONCE, PORT_SET, DEAD_NAME (a name holding a send and the receive
    /// right counts for both).
    pub(crate) fn count_by_type(&mut self) -> [u32; 5] {
        let kinds = [
            MACH_PORT_TYPE_RECEIVE,
            MACH_PORT_TYPE_SEND,
            MACH_PORT_TYPE_SEND_ONCE,
            MACH_PORT_TYPE_PORT_SET,
            MACH_PORT_TYPE_DEAD_NAME,
        ];
        let mut counts = [0u32; 5];
        self.for_each(|_, bits| {
            for (count, kind) in counts.iter_mut().zip(kinds) {
                if bits & kind != 0 {
                    *count += 1;
                }
            }
        });
        counts
    }

    /// Calls `f` with every name and its type bits, in ascending order.
    /// Messages queued on the ports this space holds receive rights for.
    pub(crate) fn queued_messages(&self) -> u64 {
        self.entries
            .values()
            .filter(|entry| entry.bits & MACH_PORT_TYPE_RECEIVE != 0)
            .filter_map(|entry| entry.port())
            .map(|port| u64::from(port.inner.lock().queue.len()))
            .sum()
    }

    pub(crate) fn for_each(&mut self, mut f: impl FnMut(u32, u32)) {
        for (name, entry) in self.entries.iter_mut() {
            if let Some(key) = entry.check_dead() {
                self.reverse.remove(&key);
            }
            f(*name, entry.type_bits());
        }
    }

    /// Empties the table, returning every entry to the caller to drop.
    /// The name no longer denotes a right to its port: a dead-name
    /// request registered for it becomes a port-deleted notification (if
    /// the port still lives; if it died, the request has fired already).
    /// Returns true if the request could not be cancelled because the
    /// port died meanwhile (its dead-name notification fired instead).
    fn port_deleted(&self, name: u32, entry: &mut Entry) -> bool {
        if !core::mem::take(&mut entry.request) {
            return false;
        }
        let Some(port) = entry.port() else {
            return false;
        };
        match port.cancel_dead_name(self.key(), name) {
            Some(notify) => {
                msg::notify_name(notify, MACH_NOTIFY_PORT_DELETED, name);
                false
            }
            None => !port.is_active(),
        }
    }

    /// The names of the receive rights in this space that are members of
    /// `set`, in name order.
    pub(crate) fn members_of(&self, set: &Arc<PortSet>) -> KResult<KVVec<u32>> {
        let mut members = KVVec::new();
        for (name, entry) in self.entries.iter() {
            if entry.bits & MACH_PORT_TYPE_RECEIVE == 0 {
                continue;
            }
            let Some(port) = entry.port() else {
                continue;
            };
            let member = matches!(&port.inner.lock().set, Some(of) if Arc::ptr_eq(of, set));
            if member {
                members.push(*name, GFP_KERNEL_ACCOUNT)?;
            }
        }
        Ok(members)
    }

    /// The name of a port set in this space.
    pub(crate) fn name_of_set(&self, set: &Arc<PortSet>) -> Option<u32> {
        self.entries.iter().find_map(|(name, entry)| match &entry.object {
            Object::Set(of) if Arc::ptr_eq(of, set) => Some(*name),
            _ => None,
        })
    }

    /// This table's identity in the dead-name requests of ports (its
    /// address: the table lives in its space for as long as the space).
    pub(crate) fn key(&self) -> usize {
        self as *const Self as usize
    }

    /// The name this space has for a port it holds send or receive rights
    /// for.
    pub(crate) fn name_of_port(&self, port: &Arc<Port>) -> Option<u32> {
        self.name_of(port)
    }

    pub(crate) fn take_all(&mut self) -> RBTree<u32, Entry> {
        let key = self.key();
        for (name, entry) in self.entries.iter_mut() {
            if core::mem::take(&mut entry.request) {
                if let Some(notify) = entry.port().and_then(|port| port.cancel_dead_name(key, *name)) {
                    msg::notify_name(notify, MACH_NOTIFY_PORT_DELETED, *name);
                }
            }
        }
        stats::add_names(-i64::from(self.count));
        self.count = 0;
        self.free.clear();
        self.reverse = RBTree::new();
        core::mem::replace(&mut self.entries, RBTree::new())
    }
}
