// SPDX-License-Identifier: GPL-2.0

//! Phase timing of `mach_msg`, for profiling under QEMU `-icount`, where
//! the guest's time-stamp counter advances with the instructions it runs.
//!
//! Compiled in only when the module is built with `MACH_PROFILE=1` (which
//! passes `--cfg mach_profile`, see Kbuild); in a normal build [`now`] and
//! [`mark`] are empty and inline to nothing. Each phase adds up the
//! time-stamp counter ticks it took, and every 20,000 calls the module logs
//! the mean per call of each (`mach_ipc: phase NAME: TICKS per call, N
//! calls`). `scripts/bench --phases` runs a request/reply loop on such a
//! build and prints those lines.

/// The phases of a `MACH_IOC_MSG` call, in the order they run.
#[derive(Clone, Copy)]
pub(crate) enum Phase {
    /// The whole call, from the ioctl handler's start to its end.
    Call,
    /// Reading the call's arguments and checking they can be written back.
    Args,
    /// Copying the message in.
    CopyIn,
    /// A simple message with room: checking and taking its header rights
    /// under the sender's space lock.
    Header,
    /// Making the kernel message (allocation, the sender's audit token).
    Make,
    /// The circularity check and queueing on the port.
    Enqueue,
    /// Looking up the receive name and taking the message off the queue.
    Dequeue,
    /// Releasing the destination right.
    Release,
    /// Naming the reply and body rights in the receiver's space.
    Rights,
    /// Writing the message and its trailer to the receiver.
    Write,
    /// Destroying the delivered message.
    Free,
}

#[cfg(mach_profile)]
mod on {
    use kernel::prelude::*;
    use kernel::sync::atomic::{Atomic, Relaxed};

    const PHASES: usize = super::Phase::Free as usize + 1;
    const NAMES: [&str; PHASES] =
        ["call", "args", "copy-in", "header", "make", "enqueue", "dequeue", "release", "rights", "write", "free"];
    /// Reported every this many calls.
    const EVERY: i64 = 20_000;

    static TICKS: [Atomic<i64>; PHASES] = [const { Atomic::new(0) }; PHASES];
    static COUNT: [Atomic<i64>; PHASES] = [const { Atomic::new(0) }; PHASES];

    pub(crate) fn now() -> u64 {
        // SAFETY: rdtsc reads the time-stamp counter and has no other
        // effect.
        unsafe { core::arch::x86_64::_rdtsc() }
    }

    pub(crate) fn add(phase: usize, ticks: u64) {
        TICKS[phase].add(ticks as i64, Relaxed);
        COUNT[phase].add(1, Relaxed);
        if phase == super::Phase::Call as usize && COUNT[phase].load(Relaxed) % EVERY == 0 {
            for (i, name) in NAMES.iter().enumerate() {
                let count = COUNT[i].load(Relaxed);
                if count > 0 {
                    pr_info!("phase {}: {} per call, {} calls\n", name, TICKS[i].load(Relaxed) / count, count);
                }
            }
        }
    }
}

/// The time-stamp counter (0 in a build without profiling).
#[inline(always)]
pub(crate) fn now() -> u64 {
    #[cfg(mach_profile)]
    return on::now();
    #[cfg(not(mach_profile))]
    0
}

/// Adds the time since `since` to `phase`; returns the time now, where the
/// next phase starts.
#[inline(always)]
pub(crate) fn mark(phase: Phase, since: u64) -> u64 {
    #[cfg(mach_profile)]
    {
        let now = on::now();
        on::add(phase as usize, now.wrapping_sub(since));
        now
    }
    #[cfg(not(mach_profile))]
    {
        let _ = (phase, since);
        0
    }
}
