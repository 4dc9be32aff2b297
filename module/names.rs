// SPDX-License-Identifier: GPL-2.0

//! The name table of a space: what each name denotes.
//!
//! A name is `index << 8 | generation`. The table keeps an array of slots
//! indexed by the name's index, each holding at most one entry with its full
//! name, so looking a name up is one array access and one comparison. The
//! kernel's names, and the names callers pick whose slot is free and near
//! enough, land in the array; any other name a caller picks (its slot holds
//! another generation, or its index is far beyond the array) goes to an
//! overflow tree (empty as a rule, which costs one test). A reverse map from
//! port to name is an open-addressing hash table of names. The array and the
//! hash table grow by doubling, with fallible allocations made before the
//! insertion that needs them.

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
use core::iter::Peekable;
use kernel::{
    alloc::AllocError,
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
/// [`Entry::bits`] are the `MACH_PORT_TYPE_*` bits of the rights the name
/// holds: RECEIVE, SEND (alone or together), SEND_ONCE, PORT_SET or
/// DEAD_NAME. [`Entry::urefs`] counts the user references of the send right
/// or dead name (a receive, send-once or port-set right counts as one and
/// keeps 0 here).
///
/// The entry owns its rights: dropping it releases every right it still
/// holds (see `Drop`), so removing a name from the table and dropping the
/// entry is the whole of destroying it.
///
/// Kept to 24 bytes (a name table slot is an `Option<Entry>`): the right
/// bits are stored shifted into a byte, the user references (at most
/// MACH_PORT_UREFS_MAX) in 16 bits, and the entry carries its own name, which
/// the table compares on lookup.
pub(crate) struct Entry {
    pub(crate) object: Object,
    /// The name the entry is under in its table (MACH_PORT_NULL while
    /// detached).
    name: u32,
    urefs: u16,
    /// `bits() >> 16`.
    kind: u8,
    /// A dead-name request is registered for this name (on its port).
    request: bool,
}

/// Where the right bits sit in a `MACH_PORT_TYPE_*` value.
const KIND_SHIFT: u32 = 16;

const _: () = assert!(MACH_PORT_TYPE_ALL_RIGHTS >> KIND_SHIFT <= 0xff);
const _: () = assert!(MACH_PORT_UREFS_MAX <= 0xffff);
const _: () = assert!(core::mem::size_of::<Option<Entry>>() <= 24);

impl Entry {
    fn new(bits: u32, urefs: u32, object: Object) -> Self {
        let mut entry = Entry { object, name: MACH_PORT_NULL, urefs: 0, kind: 0, request: false };
        entry.set_bits(bits);
        entry.set_urefs(urefs);
        entry
    }

    pub(crate) fn receive(right: ReceiveRight) -> Self {
        Entry::new(MACH_PORT_TYPE_RECEIVE, 0, Object::Port(right.into_object()))
    }

    pub(crate) fn send(right: SendRight, urefs: u32) -> Self {
        Entry::new(MACH_PORT_TYPE_SEND, urefs, Object::Port(right.into_object()))
    }

    pub(crate) fn send_once(right: SendOnceRight) -> Self {
        Entry::new(MACH_PORT_TYPE_SEND_ONCE, 0, Object::Port(right.into_object()))
    }

    pub(crate) fn port_set(right: PortSetRight) -> Self {
        Entry::new(MACH_PORT_TYPE_PORT_SET, 0, Object::Set(right.into_object()))
    }

    pub(crate) fn dead_name(urefs: u32) -> Self {
        Entry::new(MACH_PORT_TYPE_DEAD_NAME, urefs, Object::None)
    }

    /// The `MACH_PORT_TYPE_*` bits of the rights the name holds.
    pub(crate) fn bits(&self) -> u32 {
        u32::from(self.kind) << KIND_SHIFT
    }

    fn set_bits(&mut self, bits: u32) {
        // Only right bits are ever stored (see the assertion on KIND_SHIFT).
        self.kind = ((bits & MACH_PORT_TYPE_ALL_RIGHTS) >> KIND_SHIFT) as u8;
    }

    /// The user references of the send right or dead name.
    pub(crate) fn urefs(&self) -> u32 {
        u32::from(self.urefs)
    }

    /// Sets the user references; callers keep them at most
    /// MACH_PORT_UREFS_MAX (a larger value is pegged there).
    pub(crate) fn set_urefs(&mut self, urefs: u32) {
        self.urefs = u16::try_from(urefs.min(MACH_PORT_UREFS_MAX)).unwrap_or(u16::MAX);
    }

    /// Records whether a dead-name request is registered for this name.
    pub(crate) fn set_request(&mut self, request: bool) {
        self.request = request;
    }

    pub(crate) fn port(&self) -> Option<&Arc<Port>> {
        match &self.object {
            Object::Port(port) => Some(port),
            _ => None,
        }
    }

    pub(crate) fn has(&self, bits: u32) -> bool {
        self.bits() & bits != 0
    }

    /// The type `mach_port_type` and `mach_port_names` report: the rights,
    /// and MACH_PORT_TYPE_DNREQUEST while a dead-name request is
    /// registered.
    pub(crate) fn type_bits(&self) -> u32 {
        if self.request {
            self.bits() | MACH_PORT_TYPE_DNREQUEST
        } else {
            self.bits()
        }
    }

    /// Turns send and send-once rights to a dead port into a dead name,
    /// keeping the user references (a send-once right becomes one). Every
    /// lookup goes through here, so a port's death is visible to every call
    /// without visiting other spaces when it dies. Returns the port's
    /// reverse-map key if a send right was converted.
    fn check_dead(&mut self) -> Option<usize> {
        let bits = self.bits();
        if bits & MACH_PORT_TYPE_SEND_RIGHTS == 0 || bits & MACH_PORT_TYPE_RECEIVE != 0 {
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
        let was_send = bits & MACH_PORT_TYPE_SEND != 0;
        if was_send {
            drop(SendRight::from_entry(port));
        } else {
            drop(SendOnceRight::from_entry(port));
            self.set_urefs(1);
        }
        self.set_bits(MACH_PORT_TYPE_DEAD_NAME);
        if core::mem::take(&mut self.request) {
            // The reference the dead-name notification carries (pegged at
            // the maximum, as XNU does).
            self.set_urefs(self.urefs() + 1);
        }
        was_send.then_some(key)
    }

    /// Whether the entry is in the reverse map (it holds a send or the
    /// receive right of a port).
    fn in_reverse(&self) -> bool {
        self.has(MACH_PORT_TYPE_SEND_RECEIVE)
    }

    /// The reverse-map key of the port this entry is in the reverse map
    /// for, if it is there.
    fn reverse_key(&self) -> Option<usize> {
        match &self.object {
            Object::Port(port) if self.in_reverse() => Some(port.key()),
            _ => None,
        }
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
            u32::from(core::mem::take(&mut self.urefs))
        } else {
            0
        };
        self.set_bits(self.bits() & !bits);
        Entry::new(bits, urefs, object)
    }

    /// Turns a detached entry that holds exactly one port right into that
    /// right, without releasing it.
    fn into_right(mut self) -> Option<Carried> {
        let bits = self.bits();
        self.set_bits(0);
        let Object::Port(port) = core::mem::replace(&mut self.object, Object::None) else {
            return None;
        };
        match bits {
            MACH_PORT_TYPE_RECEIVE => Some(Carried::Receive(ReceiveRight::from_entry(port))),
            MACH_PORT_TYPE_SEND => Some(Carried::Send(SendRight::from_entry(port))),
            MACH_PORT_TYPE_SEND_ONCE => Some(Carried::SendOnce(SendOnceRight::from_entry(port))),
            _ => {
                // Not a single right: put it back and let the drop release it.
                self.set_bits(bits);
                self.object = Object::Port(port);
                None
            }
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let bits = self.bits();
        match core::mem::replace(&mut self.object, Object::None) {
            Object::Port(port) => {
                if bits & MACH_PORT_TYPE_SEND != 0 {
                    drop(SendRight::from_entry(port.clone()));
                }
                if bits & MACH_PORT_TYPE_SEND_ONCE != 0 {
                    drop(SendOnceRight::from_entry(port.clone()));
                }
                if bits & MACH_PORT_TYPE_RECEIVE != 0 {
                    drop(ReceiveRight::from_entry(port));
                }
            }
            Object::Set(set) => {
                if bits & MACH_PORT_TYPE_PORT_SET != 0 {
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

/// The size of one slot of the array.
const SLOT_SIZE: usize = core::mem::size_of::<Option<Entry>>();
/// The smallest array, in bytes, once there is one.
const MIN_SLOTS_BYTES: usize = 512;
/// The fewest buckets the reverse map has once it has any.
const MIN_BUCKETS: usize = 16;

/// The index of a name: its slot in the array.
fn index_of(name: u32) -> usize {
    (name >> 8) as usize
}

/// Where the entries of a table are.
///
/// Slot `i` of `slots` holds at most one entry, of a name whose index is
/// `i`. A name that cannot have its slot is in `overflow`. A name is in one
/// place at the most; a free slot may have names of its index in the
/// overflow tree (they were put there while the slot was taken).
struct Store {
    /// As many slots as fit in a power of two of bytes (the sizes kmalloc
    /// gives); never shrinks while the space lives.
    slots: KVVec<Option<Entry>>,
    overflow: RBTree<u32, Entry>,
}

/// Where a new entry goes, decided (and its memory reserved) before
/// anything changes.
enum Place {
    Slot,
    Overflow(RBTreeNodeReservation<u32, Entry>),
}

impl Store {
    /// Whether `name` is in its slot (else it is in the overflow tree, or
    /// not in use).
    fn in_slot(&self, name: u32) -> bool {
        matches!(self.slots.get(index_of(name)), Some(Some(entry)) if entry.name == name)
    }

    fn find(&self, name: u32) -> Option<&Entry> {
        match self.slots.get(index_of(name)) {
            Some(Some(entry)) if entry.name == name => Some(entry),
            _ => self.overflow.get(&name),
        }
    }

    fn find_mut(&mut self, name: u32) -> Option<&mut Entry> {
        if self.in_slot(name) {
            return self.slots.get_mut(index_of(name)).and_then(Option::as_mut);
        }
        self.overflow.get_mut(&name)
    }

    fn take(&mut self, name: u32) -> Option<Entry> {
        if self.in_slot(name) {
            return self.slots.get_mut(index_of(name)).and_then(Option::take);
        }
        self.overflow.remove(&name)
    }

    /// Decides where a new entry for `name` (not in use) goes, growing the
    /// array if that is where it belongs. The array may grow to at most four
    /// slots per name in use (`count`, before this one), so a caller's
    /// arbitrary name never sizes it: such a name goes to the overflow tree.
    /// While the names are dense (the kernel's, as a rule) a new name's index
    /// is at most `count + 1`, which always fits.
    fn place(&mut self, name: u32, count: u32) -> Result<Place, AllocError> {
        let index = index_of(name);
        let len = self.slots.len();
        if index < len {
            if matches!(self.slots.get(index), Some(None)) {
                return Ok(Place::Slot);
            }
        } else {
            // Twice as long at least: growth is amortised.
            let want = ((index + 1) * SLOT_SIZE).next_power_of_two().max(MIN_SLOTS_BYTES) / SLOT_SIZE;
            let allowed = (count as usize + 1).saturating_mul(4).max(MIN_SLOTS_BYTES / SLOT_SIZE);
            if want <= allowed {
                self.slots.reserve(want - len, GFP_KERNEL_ACCOUNT)?;
                while self.slots.len() < want {
                    // Cannot fail: the capacity was reserved.
                    if self.slots.push_within_capacity(None).is_err() {
                        break;
                    }
                }
                return Ok(Place::Slot);
            }
        }
        let node = RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT).map_err(|_| AllocError)?;
        Ok(Place::Overflow(node))
    }

    /// Puts `entry` (whose `name` is set) where `place` says.
    fn put(&mut self, place: Place, entry: Entry) {
        match place {
            Place::Slot => {
                if let Some(slot) = self.slots.get_mut(index_of(entry.name)) {
                    *slot = Some(entry);
                }
            }
            Place::Overflow(node) => {
                self.overflow.insert(node.into_node(entry.name, entry));
            }
        }
    }

    /// Every entry with its name, in ascending name order.
    fn iter(&self) -> Merged<impl Iterator<Item = (u32, &Entry)>, impl Iterator<Item = (u32, &Entry)>> {
        Merged::new(
            self.slots.iter().filter_map(|slot| slot.as_ref().map(|entry| (entry.name, entry))),
            self.overflow.iter().map(|(name, entry)| (*name, entry)),
        )
    }

    /// As [`Store::iter`], for changing the entries.
    fn iter_mut(&mut self) -> Merged<impl Iterator<Item = (u32, &mut Entry)>, impl Iterator<Item = (u32, &mut Entry)>> {
        Merged::new(
            self.slots.iter_mut().filter_map(|slot| slot.as_mut().map(|entry| (entry.name, entry))),
            self.overflow.iter_mut().map(|(name, entry)| (*name, entry)),
        )
    }
}

/// Two iterators of names in ascending order, merged into one.
struct Merged<A: Iterator, B: Iterator> {
    a: Peekable<A>,
    b: Peekable<B>,
}

impl<T, A: Iterator<Item = (u32, T)>, B: Iterator<Item = (u32, T)>> Merged<A, B> {
    fn new(a: A, b: B) -> Self {
        Merged { a: a.peekable(), b: b.peekable() }
    }
}

impl<T, A: Iterator<Item = (u32, T)>, B: Iterator<Item = (u32, T)>> Iterator for Merged<A, B> {
    type Item = (u32, T);

    fn next(&mut self) -> Option<(u32, T)> {
        match (self.a.peek(), self.b.peek()) {
            (Some((a, _)), Some((b, _))) if b < a => self.b.next(),
            (Some(_), _) => self.a.next(),
            (None, _) => self.b.next(),
        }
    }
}

/// An empty bucket of the reverse map (no entry has the null name).
const EMPTY: u32 = MACH_PORT_NULL;
/// A bucket whose name was removed; probes go past it (no entry has the
/// dead name).
const REMOVED: u32 = MACH_PORT_DEAD;

/// The reverse map: for each port the space holds send or receive rights
/// for, the one name holding them.
///
/// An open-addressing hash table of names with linear probing, keyed by
/// the port's key ([`Port::key`]): a bucket holds only the name, and a
/// probe confirms a candidate by reading its entry (it must still be in the
/// reverse map for the same port). Removed names leave a marker until the
/// table is rebuilt. At most half the buckets are in use (names and
/// markers), so a probe ends soon at an empty bucket; the table is rebuilt
/// (larger, or cleaned) before the insertion that would pass that.
struct Reverse {
    /// Empty, or a power of two long.
    buckets: KVVec<u32>,
    /// Buckets holding a name.
    live: usize,
    /// Buckets holding [`REMOVED`].
    removed: usize,
}

impl Reverse {
    fn new() -> Self {
        Reverse { buckets: KVVec::new(), live: 0, removed: 0 }
    }

    /// The buckets to probe for `key` in a table of `len` buckets (a power
    /// of two), in order, each once: linear probing from the key's hash.
    fn probe(len: usize, key: usize) -> impl Iterator<Item = usize> {
        // Fibonacci hashing: the high bits of the product mix every bit of
        // the (aligned) address.
        let home = ((key as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize;
        let mask = len.wrapping_sub(1);
        (0..len).map(move |step| home.wrapping_add(step) & mask)
    }

    fn bucket(&self, at: usize) -> u32 {
        self.buckets.get(at).copied().unwrap_or(EMPTY)
    }

    fn set_bucket(&mut self, at: usize, name: u32) {
        if let Some(bucket) = self.buckets.get_mut(at) {
            *bucket = name;
        }
    }

    /// The name holding send or receive rights for the port with `key`.
    fn find(&self, store: &Store, key: usize) -> Option<u32> {
        for at in Self::probe(self.buckets.len(), key) {
            match self.bucket(at) {
                EMPTY => return None,
                REMOVED => {}
                name => {
                    if store.find(name).and_then(Entry::reverse_key) == Some(key) {
                        return Some(name);
                    }
                }
            }
        }
        None
    }

    /// Removes `name`, in the map for the port with `key`.
    fn remove(&mut self, key: usize, name: u32) {
        let len = self.buckets.len();
        let Some(at) = Self::probe(len, key)
            .take_while(|&at| self.bucket(at) != EMPTY)
            .find(|&at| self.bucket(at) == name)
        else {
            return;
        };
        self.live -= 1;
        let mask = len - 1;
        if self.bucket((at + 1) & mask) != EMPTY {
            self.set_bucket(at, REMOVED);
            self.removed += 1;
            return;
        }
        // A probe that reaches this bucket ends at the next one, which is
        // empty: this one, and the markers just before it, can be empty too.
        self.set_bucket(at, EMPTY);
        let mut at = at;
        loop {
            at = at.wrapping_sub(1) & mask;
            if self.bucket(at) != REMOVED {
                break;
            }
            self.set_bucket(at, EMPTY);
            self.removed -= 1;
        }
    }

    /// Makes sure one more name can be inserted, rebuilding the table (into
    /// fresh memory: on failure nothing changes) if needed.
    fn reserve_one(&mut self, store: &Store) -> Result<(), AllocError> {
        if (self.live + self.removed + 1) * 2 <= self.buckets.len() {
            return Ok(());
        }
        // After the rebuild the table is at most a third full, so the next
        // rebuild is a number of insertions proportional to its size away.
        let len = ((self.live + 1) * 3).next_power_of_two().max(MIN_BUCKETS);
        let mut fresh = Reverse { buckets: KVVec::from_elem(EMPTY, len, GFP_KERNEL_ACCOUNT)?, live: 0, removed: 0 };
        for &name in self.buckets.iter() {
            if name == EMPTY || name == REMOVED {
                continue;
            }
            if let Some(key) = store.find(name).and_then(Entry::reverse_key) {
                fresh.insert(key, name);
            }
        }
        *self = fresh;
        Ok(())
    }

    /// Inserts `name` for the port with `key`; [`Reverse::reserve_one`]
    /// made room for it.
    fn insert(&mut self, key: usize, name: u32) {
        let Some(at) = Self::probe(self.buckets.len(), key).find(|&at| matches!(self.bucket(at), EMPTY | REMOVED))
        else {
            return;
        };
        if self.bucket(at) == REMOVED {
            self.removed -= 1;
        }
        self.set_bucket(at, name);
        self.live += 1;
    }
}

/// How the kernel's next name was picked, to be made final once the new
/// entry has its memory.
struct Pick {
    name: u32,
    /// What the free list is cut down to.
    free_len: usize,
    next_index: u32,
}

/// The names of one space.
///
/// Any 32-bit name a caller picks with `mach_port_allocate_name` works.
/// Names the kernel picks are `index << 8 | generation`; a freed name's
/// index is reused with the next generation, so a stale name misses instead
/// of hitting a new right. See the module documentation for where entries
/// are kept.
///
/// The reverse map gives, for each port this space holds send or receive
/// rights for, the one name that holds them, so that a send right arriving
/// for a port the space already names merges under that name, and
/// KERN_RIGHT_EXISTS can be told from KERN_NAME_EXISTS.
pub(crate) struct NameTable {
    store: Store,
    /// Port key ([`Port::key`]) to name, for entries that hold SEND or
    /// RECEIVE.
    reverse: Reverse,
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

/// The entries of an emptied table ([`NameTable::take_all`]), which release
/// their rights when this is dropped.
pub(crate) struct Taken {
    _slots: KVVec<Option<Entry>>,
    _overflow: RBTree<u32, Entry>,
}

impl NameTable {
    pub(crate) fn new() -> Self {
        NameTable {
            store: Store { slots: KVVec::new(), overflow: RBTree::new() },
            reverse: Reverse::new(),
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
        let entry = self.store.find_mut(name)?;
        if let Some(key) = entry.check_dead() {
            self.reverse.remove(key, name);
        }
        Some(entry)
    }

    /// As [`NameTable::get`], with KERN_INVALID_NAME for a name not in use.
    pub(crate) fn lookup(&mut self, name: u32) -> KResult<&mut Entry> {
        self.get(name).ok_or(KernReturn::INVALID_NAME)
    }

    fn is_used(&self, name: u32) -> bool {
        self.store.find(name).is_some()
    }

    /// The name holding send or receive rights for `port`, if any. The port
    /// must be alive (so that name is not a dead name in waiting).
    fn name_of(&self, port: &Arc<Port>) -> Option<u32> {
        self.reverse.find(&self.store, port.key())
    }

    /// Whether the kernel may pick `name` for a new entry.
    fn can_pick(&self, name: u32) -> bool {
        mach_port_valid(name) && name != self.last_freed && !self.is_used(name)
    }

    /// Picks a name for a new entry: a freed index with its next unused
    /// generation, else a fresh index. Never the name freed last. Changes
    /// nothing: [`NameTable::commit`] uses the pick up.
    fn pick_name(&self) -> Result<Pick, Pick> {
        for at in (0..self.free.len()).rev() {
            let Some(&old) = self.free.get(at) else {
                continue;
            };
            let mut name = old;
            // Each generation of the index once, at the most.
            for _ in 0..(0x100 / GENERATION_STEP) {
                name = (name & !0xff) | (((name & 0xff) + GENERATION_STEP) & 0xff);
                if self.can_pick(name) {
                    return Ok(Pick { name, free_len: at, next_index: self.next_index });
                }
            }
        }
        let mut index = self.next_index;
        while index <= MAX_INDEX {
            let name = (index << 8) | FIRST_GENERATION;
            index += 1;
            if self.can_pick(name) {
                return Ok(Pick { name, free_len: 0, next_index: index });
            }
        }
        // No name: the search used up the free list and the fresh indexes.
        Err(Pick { name: MACH_PORT_NULL, free_len: 0, next_index: index })
    }

    fn commit(&mut self, pick: &Pick) {
        self.free.truncate(pick.free_len);
        self.next_index = pick.next_index;
    }

    /// Inserts `entry` under `name`, or under a name the kernel picks. On
    /// failure the entry comes back, for the caller to drop once its locks
    /// are released.
    pub(crate) fn insert(&mut self, name: Option<u32>, mut entry: Entry) -> Result<u32, (KernReturn, Entry)> {
        if name.is_some_and(|name| self.is_used(name)) {
            return Err((KernReturn::NAME_EXISTS, entry));
        }
        if self.count >= abi::MACH_SPACE_MAX_NAMES {
            return Err((KernReturn::NO_SPACE, entry));
        }
        // The null and dead names are never in a table (callers refuse
        // them); the reverse map relies on it.
        if matches!(name, Some(MACH_PORT_NULL | MACH_PORT_DEAD)) {
            return Err((KernReturn::INVALID_VALUE, entry));
        }
        let reverse_key = entry.reverse_key();
        if reverse_key.is_some() && self.reverse.reserve_one(&self.store).is_err() {
            return Err((KernReturn::RESOURCE_SHORTAGE, entry));
        }
        let (name, pick) = match name {
            Some(name) => (name, None),
            None => match self.pick_name() {
                Ok(pick) => (pick.name, Some(pick)),
                Err(exhausted) => {
                    self.commit(&exhausted);
                    return Err((KernReturn::NO_SPACE, entry));
                }
            },
        };
        let Ok(place) = self.store.place(name, self.count) else {
            return Err((KernReturn::RESOURCE_SHORTAGE, entry));
        };
        if let Some(pick) = &pick {
            self.commit(pick);
        }
        if let Some(key) = reverse_key {
            self.reverse.insert(key, name);
        }
        entry.name = name;
        self.store.put(place, entry);
        self.count += 1;
        stats::add_names(1);
        Ok(name)
    }

    /// Takes the rights `bits` away from `name`, freeing the name when it
    /// holds nothing else. Returns them as a detached entry, for the caller
    /// to drop (which releases them) once the space lock is released.
    pub(crate) fn remove_rights(&mut self, name: u32, bits: u32) -> Option<Entry> {
        let entry = self.store.find_mut(name)?;
        if entry.bits() & !bits == 0 {
            return self.remove(name);
        }
        Some(entry.split(bits))
    }

    /// Adds `delta` to the user references of the send right or dead name
    /// `name` holds; at 0 that right goes. Nothing changes on error.
    pub(crate) fn add_urefs(&mut self, name: u32, delta: i32) -> KResult<Option<Entry>> {
        let entry = self.lookup(name)?;
        let urefs = i64::from(entry.urefs()) + i64::from(delta);
        if urefs < 0 {
            return Err(KernReturn::INVALID_VALUE);
        }
        if urefs > i64::from(MACH_PORT_UREFS_MAX) {
            return Err(KernReturn::UREFS_OVERFLOW);
        }
        if urefs > 0 {
            entry.set_urefs(urefs as u32);
            return Ok(None);
        }
        let bits = entry.bits() & (MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_DEAD_NAME);
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
        let mut entry = self.store.take(name)?;
        let died = self.port_deleted(name, &mut entry);
        self.count -= 1;
        self.last_freed = name;
        stats::add_names(-1);
        if let Some(key) = entry.reverse_key() {
            self.reverse.remove(key, name);
        }
        entry.name = MACH_PORT_NULL;
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
            Some(port) if entry.bits() & needs != 0 => Ok((Some(port.clone()), entry.urefs())),
            None if entry.bits() & MACH_PORT_TYPE_DEAD_NAME != 0
                && matches!(
                    disposition,
                    MACH_MSG_TYPE_MOVE_SEND | MACH_MSG_TYPE_COPY_SEND | MACH_MSG_TYPE_MOVE_SEND_ONCE
                ) =>
            {
                Ok((None, entry.urefs()))
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
        let bits = entry.bits();
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
            MACH_MSG_TYPE_MOVE_SEND if entry.urefs() > 1 => {
                entry.set_urefs(entry.urefs() - 1);
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
        let Some(entry) = self.store.find_mut(name) else {
            return Err((KernReturn::INVALID_NAME, right));
        };
        match right {
            Carried::Send(send) if entry.has(MACH_PORT_TYPE_SEND) => {
                if entry.urefs() >= MACH_PORT_UREFS_MAX {
                    if !peg {
                        return Err((KernReturn::UREFS_OVERFLOW, Carried::Send(send)));
                    }
                } else {
                    entry.set_urefs(entry.urefs() + 1);
                }
                // The name's send right already counts for the port: the
                // carried one is released (dropping it takes only the port's
                // lock, allowed under the space lock).
                drop(send);
            }
            Carried::Send(send) => {
                // The receive right's name gains the send right.
                entry.set_bits(entry.bits() | MACH_PORT_TYPE_SEND);
                entry.set_urefs(1);
                drop(send.into_object());
            }
            Carried::Receive(receive) => {
                entry.set_bits(entry.bits() | MACH_PORT_TYPE_RECEIVE);
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

    /// Messages queued on the ports this space holds receive rights for.
    pub(crate) fn queued_messages(&self) -> u64 {
        self.store
            .iter()
            .map(|(_, entry)| entry)
            .filter(|entry| entry.has(MACH_PORT_TYPE_RECEIVE))
            .filter_map(|entry| entry.port())
            .map(|port| u64::from(port.inner.lock().queue.len()))
            .sum()
    }

    /// Calls `f` with every name and its type bits, in ascending order.
    pub(crate) fn for_each(&mut self, mut f: impl FnMut(u32, u32)) {
        for (name, entry) in self.store.iter_mut() {
            if let Some(key) = entry.check_dead() {
                self.reverse.remove(key, name);
            }
            f(name, entry.type_bits());
        }
    }

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
        for (name, entry) in self.store.iter() {
            if !entry.has(MACH_PORT_TYPE_RECEIVE) {
                continue;
            }
            let Some(port) = entry.port() else {
                continue;
            };
            let member = matches!(&port.inner.lock().set, Some(of) if Arc::ptr_eq(of, set));
            if member {
                members.push(name, GFP_KERNEL_ACCOUNT)?;
            }
        }
        Ok(members)
    }

    /// The name of a port set in this space.
    pub(crate) fn name_of_set(&self, set: &Arc<PortSet>) -> Option<u32> {
        self.store.iter().find_map(|(name, entry)| match &entry.object {
            Object::Set(of) if Arc::ptr_eq(of, set) => Some(name),
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

    /// Empties the table, returning every entry for the caller to drop
    /// once the space lock is released. Dead-name requests registered for
    /// the names become port-deleted notifications.
    pub(crate) fn take_all(&mut self) -> Taken {
        let key = self.key();
        for (name, entry) in self.store.iter_mut() {
            if core::mem::take(&mut entry.request) {
                if let Some(notify) = entry.port().and_then(|port| port.cancel_dead_name(key, name)) {
                    msg::notify_name(notify, MACH_NOTIFY_PORT_DELETED, name);
                }
            }
        }
        stats::add_names(-i64::from(self.count));
        self.count = 0;
        self.free.clear();
        self.reverse = Reverse::new();
        Taken {
            _slots: core::mem::replace(&mut self.store.slots, KVVec::new()),
            _overflow: core::mem::replace(&mut self.store.overflow, RBTree::new()),
        }
    }
}
