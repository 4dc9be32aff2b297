// SPDX-License-Identifier: GPL-2.0

//! Counts of live objects, for tests that check that nothing leaks
//! (`MACH_IOC_STATS`).

use kernel::sync::atomic::{
    Atomic,
    Relaxed, //
};

pub(crate) const SPACES: usize = 0;
pub(crate) const PORTS: usize = 1;
pub(crate) const PORT_SETS: usize = 2;
pub(crate) const NAMES: usize = 3;
pub(crate) const MESSAGES: usize = 4;
pub(crate) const MESSAGE_BYTES: usize = 5;

static LIVE: [Atomic<i64>; 6] =
    [Atomic::new(0), Atomic::new(0), Atomic::new(0), Atomic::new(0), Atomic::new(0), Atomic::new(0)];

/// A token held by each live object of kind `K`: counted when made,
/// uncounted when dropped with its object.
pub(crate) struct Live<const K: usize>(());

impl<const K: usize> Live<K> {
    pub(crate) fn new() -> Self {
        LIVE[K].add(1, Relaxed);
        Live(())
    }
}

impl<const K: usize> Drop for Live<K> {
    fn drop(&mut self) {
        LIVE[K].add(-1, Relaxed);
    }
}

/// Adds `delta` names (the name tables keep their own counts; this is the
/// sum).
pub(crate) fn add_names(delta: i64) {
    LIVE[NAMES].add(delta, Relaxed);
}

/// Adds `delta` bytes held by messages.
pub(crate) fn add_message_bytes(delta: i64) {
    LIVE[MESSAGE_BYTES].add(delta, Relaxed);
}

/// The current counts, in the order of the constants above.
pub(crate) fn snapshot() -> [u64; 6] {
    LIVE.each_ref().map(|count| count.load(Relaxed).max(0) as u64)
}
