// SPDX-License-Identifier: GPL-2.0

//! Port sets (`mach_port_move_member`, `insert_member`, `extract_member`,
//! `get_set_status`), notification requests
//! (`mach_port_request_notification`) and backup ports
//! (`port_set_backup`).
//!
//! The notifications themselves are built and sent by `msg.rs` when a
//! right's drop calls for one (`port.rs`): a send-once right destroyed
//! unused, the last send right gone, a receive right that would be
//! destroyed, a port that dies, a name that stops denoting a right.

use crate::abi::*;
use crate::kern::{kr_of, KResult, KernReturn};
use crate::msg;
use crate::names::NameTable;
use crate::port::{Carried, PdRequest, Port, PortSet, SendOnceRight};
use crate::space::{probe_writable, reserved_zero, with_args, Space};
use kernel::{
    prelude::*,
    sync::Arc,
    transmute::AsBytes,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

/// The port behind the receive right `name`.
fn receive_of(names: &mut NameTable, name: u32) -> KResult<Arc<Port>> {
    let entry = names.lookup(name)?;
    if !entry.has(MACH_PORT_TYPE_RECEIVE) {
        return Err(KernReturn::INVALID_RIGHT);
    }
    entry.port().cloned().ok_or(KernReturn::INVALID_RIGHT)
}

/// The set `name` denotes.
fn set_of(names: &mut NameTable, name: u32) -> KResult<Arc<PortSet>> {
    let entry = names.lookup(name)?;
    match &entry.object {
        crate::names::Object::Set(set) if entry.has(MACH_PORT_TYPE_PORT_SET) => Ok(set.clone()),
        _ => Err(KernReturn::INVALID_RIGHT),
    }
}

/// Looks `member` and `set` up the way XNU does: both names first
/// (KERN_INVALID_NAME), then their rights (KERN_INVALID_RIGHT).
fn member_and_set(names: &mut NameTable, member: u32, set: Option<u32>) -> KResult<(Arc<Port>, Option<Arc<PortSet>>)> {
    names.lookup(member)?;
    if let Some(set) = set {
        names.lookup(set)?;
    }
    let port = receive_of(names, member)?;
    let set = match set {
        Some(set) => Some(set_of(names, set)?),
        None => None,
    };
    Ok((port, set))
}

fn current_set(port: &Port) -> Option<Arc<PortSet>> {
    port.inner.lock().set.clone()
}

impl Space {
    /// `mach_port_move_member`: `member` leaves its set and joins `after`
    /// (none for MACH_PORT_NULL), under one hold of the space lock.
    fn move_member(&self, member: u32, after: u32) -> KResult {
        if !mach_port_valid(member) || after == MACH_PORT_DEAD {
            return Err(KernReturn::INVALID_RIGHT);
        }
        let mut inner = self.lock_live()?;
        let (port, set) = member_and_set(&mut inner.names, member, (after != MACH_PORT_NULL).then_some(after))?;
        let current = current_set(&port);
        match (current, set) {
            (None, None) => Err(KernReturn::NOT_IN_SET),
            (Some(old), None) => {
                old.remove(&port);
                Ok(())
            }
            (Some(old), Some(new)) if Arc::ptr_eq(&old, &new) => Ok(()),
            (old, Some(new)) => {
                // Room in the new set first, so that the move cannot fail
                // halfway.
                new.reserve_member()?;
                if let Some(old) = old {
                    old.remove(&port);
                }
                new.add(&port)?;
                Ok(())
            }
        }
    }

    /// `mach_port_insert_member`.
    fn insert_member(&self, member: u32, set: u32) -> KResult {
        if !mach_port_valid(member) || !mach_port_valid(set) {
            return Err(KernReturn::INVALID_RIGHT);
        }
        let mut inner = self.lock_live()?;
        let (port, set) = member_and_set(&mut inner.names, member, Some(set))?;
        let Some(set) = set else {
            return Err(KernReturn::INVALID_RIGHT);
        };
        if current_set(&port).is_some() {
            return Err(KernReturn::ALREADY_IN_SET);
        }
        set.add(&port)?;
        Ok(())
    }

    /// `mach_port_extract_member`.
    fn extract_member(&self, member: u32, set: u32) -> KResult {
        if !mach_port_valid(member) || !mach_port_valid(set) {
            return Err(KernReturn::INVALID_RIGHT);
        }
        let mut inner = self.lock_live()?;
        let (port, set) = member_and_set(&mut inner.names, member, Some(set))?;
        let Some(set) = set else {
            return Err(KernReturn::INVALID_RIGHT);
        };
        if !set.remove(&port) {
            return Err(KernReturn::NOT_IN_SET);
        }
        Ok(())
    }

    /// `mach_port_get_set_status`: the names of the members of `name`, in
    /// name order.
    fn set_status(&self, name: u32) -> KResult<KVVec<u32>> {
        if !mach_port_valid(name) {
            return Err(KernReturn::INVALID_RIGHT);
        }
        let mut inner = self.lock_live()?;
        let set = set_of(&mut inner.names, name)?;
        inner.names.members_of(&set)
    }

    /// `mach_port_request_notification`, by the caller (`self`, whose space
    /// gives the notify right and gets the previous one) on `target`.
    fn request_notification(
        &self,
        target: &Space,
        name: u32,
        variant: i32,
        sync: u32,
        notify: u32,
        notify_type: u32,
    ) -> KResult<u32> {
        match variant {
            MACH_NOTIFY_PORT_DESTROYED | MACH_NOTIFY_NO_SENDERS | MACH_NOTIFY_DEAD_NAME => {}
            _ => return Err(KernReturn::INVALID_VALUE),
        }
        // The target's checks first: an error there takes nothing.
        target.check_request(name, variant, sync, notify)?;
        let notify = self.take_notify(notify, notify_type)?;
        let previous = target.register(name, variant, sync, notify)?;
        Ok(self.copyout_previous(previous.map(Carried::SendOnce)))
    }

    /// The checks of `request_notification` that depend on the target's
    /// name alone.
    fn check_request(&self, name: u32, variant: i32, sync: u32, notify: u32) -> KResult {
        if variant == MACH_NOTIFY_DEAD_NAME && !mach_port_valid(name) {
            return Err(KernReturn::INVALID_ARGUMENT);
        }
        if variant == MACH_NOTIFY_PORT_DESTROYED && sync != 0 {
            return Err(KernReturn::INVALID_VALUE);
        }
        if !mach_port_valid(name) {
            return Err(KernReturn::INVALID_RIGHT);
        }
        let mut inner = self.lock_live()?;
        let entry = inner.names.lookup(name)?;
        match variant {
            MACH_NOTIFY_DEAD_NAME => {
                if entry.has(MACH_PORT_TYPE_DEAD_NAME) {
                    if sync == 0 || notify == MACH_PORT_NULL {
                        return Err(KernReturn::INVALID_ARGUMENT);
                    }
                    if entry.urefs() >= MACH_PORT_UREFS_MAX {
                        return Err(KernReturn::UREFS_OVERFLOW);
                    }
                } else if !entry.has(MACH_PORT_TYPE_PORT_RIGHTS) {
                    return Err(KernReturn::INVALID_RIGHT);
                }
            }
            _ => {
                if !entry.has(MACH_PORT_TYPE_RECEIVE) {
                    return Err(KernReturn::INVALID_RIGHT);
                }
            }
        }
        Ok(())
    }

    /// Takes the notify right from the caller's space.
    fn take_notify(&self, notify: u32, notify_type: u32) -> KResult<Option<SendOnceRight>> {
        if notify == MACH_PORT_NULL {
            return Ok(None);
        }
        if !matches!(notify_type, MACH_MSG_TYPE_MAKE_SEND_ONCE | MACH_MSG_TYPE_MOVE_SEND_ONCE) {
            return Err(KernReturn::INVALID_VALUE);
        }
        if notify == MACH_PORT_DEAD {
            return Err(KernReturn::INVALID_CAPABILITY);
        }
        let mut inner = self.lock_live()?;
        // A dead name would lose a reference to the copy-in before being
        // refused: refuse it first, so that an error changes nothing.
        if !matches!(inner.names.peek(notify, notify_type), Ok((Some(_), _))) {
            return Err(KernReturn::INVALID_CAPABILITY);
        }
        match inner.names.copyin(notify, notify_type) {
            Ok(Carried::SendOnce(right)) => Ok(Some(right)),
            Ok(other) => {
                drop(inner);
                drop(other);
                Err(KernReturn::INVALID_CAPABILITY)
            }
            Err(_) => Err(KernReturn::INVALID_CAPABILITY),
        }
    }

    /// Registers a request on the target's name; returns the previous one.
    /// A right taken for a request that cannot be made (the target changed
    /// since `check_request`) is dropped, which uses it up with a send-once
    /// notification.
    fn register(&self, name: u32, variant: i32, sync: u32, notify: Option<SendOnceRight>) -> KResult<Option<SendOnceRight>> {
        let key;
        let mut inner = self.lock_live()?;
        key = inner.names.key();
        let entry = inner.names.lookup(name)?;
        match variant {
            MACH_NOTIFY_PORT_DESTROYED | MACH_NOTIFY_NO_SENDERS => {
                if !entry.has(MACH_PORT_TYPE_RECEIVE) {
                    return Err(KernReturn::INVALID_RIGHT);
                }
                let Some(port) = entry.port().cloned() else {
                    return Err(KernReturn::INVALID_RIGHT);
                };
                // The swap happens under the space lock, with the name
                // holding the receive right: a destruction of the right
                // comes wholly before or after it.
                if notify.is_some() {
                    port.ensure_requests()?;
                }
                if variant == MACH_NOTIFY_NO_SENDERS {
                    return Ok(port.request_no_senders(sync, notify));
                }
                return Ok(match port.swap_pdrequest(notify.map(PdRequest::SendOnce)) {
                    Some(PdRequest::SendOnce(previous)) => Some(previous),
                    // A backup port gives way; its send right is released.
                    Some(PdRequest::Backup(backup)) => {
                        drop(backup);
                        None
                    }
                    None => None,
                });
            }
            _ => {}
        }
        // MACH_NOTIFY_DEAD_NAME.
        let port = entry.port().cloned();
        let bits = entry.bits();
        if let Some(port) = port {
            if bits & MACH_PORT_TYPE_PORT_RIGHTS == 0 {
                return Err(KernReturn::INVALID_RIGHT);
            }
            if notify.is_some() {
                port.ensure_requests()?;
            }
            let mut spare = KVec::with_capacity(port.dnrequests_capacity(), GFP_KERNEL_ACCOUNT)?;
            match port.request_dead_name(key, name, notify, &mut spare) {
                Ok(previous) => {
                    let registered = port.has_dead_name_request(key, name);
                    if let Ok(entry) = inner.names.lookup(name) {
                        entry.set_request(registered);
                    }
                    return Ok(previous);
                }
                Err(notify) => {
                    // The port died meanwhile: the name is dead now.
                    let entry = inner.names.lookup(name)?;
                    return Self::dead_name_now(entry, name, sync, notify);
                }
            }
        }
        if bits & MACH_PORT_TYPE_DEAD_NAME != 0 {
            let entry = inner.names.lookup(name)?;
            return Self::dead_name_now(entry, name, sync, notify);
        }
        Err(KernReturn::INVALID_RIGHT)
    }

    /// A dead-name request on a name that is dead already: with `sync` it
    /// fires at once, with the extra user reference it carries.
    fn dead_name_now(
        entry: &mut crate::names::Entry,
        name: u32,
        sync: u32,
        notify: Option<SendOnceRight>,
    ) -> KResult<Option<SendOnceRight>> {
        let Some(notify) = notify else {
            return Err(KernReturn::INVALID_ARGUMENT);
        };
        if sync == 0 {
            return Err(KernReturn::INVALID_ARGUMENT);
        }
        if entry.urefs() >= MACH_PORT_UREFS_MAX {
            return Err(KernReturn::UREFS_OVERFLOW);
        }
        entry.set_urefs(entry.urefs() + 1);
        msg::notify_name(notify, MACH_NOTIFY_DEAD_NAME, name);
        Ok(None)
    }

    /// Puts a previous right into the caller's space; its name, or
    /// MACH_PORT_DEAD if its port died, or MACH_PORT_NULL if there is none
    /// (or no room: then the right is released).
    fn copyout_previous(&self, previous: Option<Carried>) -> u32 {
        let Some(previous) = previous else {
            return MACH_PORT_NULL;
        };
        let result = match self.lock_live() {
            Ok(mut inner) => inner.names.copyout(None, previous, true),
            Err(kr) => Err((kr, previous)),
        };
        match result {
            Ok(name) => name,
            Err((KernReturn::INVALID_CAPABILITY, _dead)) => MACH_PORT_DEAD,
            Err((_, _released)) => MACH_PORT_NULL,
        }
    }

    /// `port_set_backup`, by the caller (`self`, whose space gives the
    /// backup's send right and gets the previous backup's) on `target`.
    fn set_backup(&self, target: &Space, primary: u32, backup: u32) -> KResult<u32> {
        if !mach_port_valid(primary) {
            return Err(KernReturn::INVALID_ARGUMENT);
        }
        fn primary_port(
            target: &Space,
            primary: u32,
        ) -> KResult<(Arc<Port>, kernel::sync::MutexGuard<'_, crate::space::SpaceInner>)> {
            let mut inner = target.lock_live().map_err(|_| KernReturn::INVALID_ARGUMENT)?;
            let entry = inner.names.lookup(primary).map_err(|_| KernReturn::INVALID_ARGUMENT)?;
            if !entry.has(MACH_PORT_TYPE_RECEIVE) {
                return Err(KernReturn::NOT_RECEIVER);
            }
            let port = entry.port().cloned().ok_or(KernReturn::NOT_RECEIVER)?;
            Ok((port, inner))
        }
        // The primary's errors come first.
        drop(primary_port(target, primary)?);
        let backup = if backup == MACH_PORT_NULL {
            None
        } else {
            if backup == MACH_PORT_DEAD {
                return Err(KernReturn::INVALID_ARGUMENT);
            }
            let mut inner = self.lock_live().map_err(|_| KernReturn::INVALID_ARGUMENT)?;
            match inner.names.copyin(backup, MACH_MSG_TYPE_COPY_SEND) {
                Ok(Carried::Send(send)) => Some(send),
                Ok(other) => {
                    drop(inner);
                    drop(other);
                    return Err(KernReturn::INVALID_ARGUMENT);
                }
                Err(_) => return Err(KernReturn::INVALID_ARGUMENT),
            }
        };
        // The exchange happens under the target's space lock, with the name
        // holding the receive right: a destruction of the primary comes
        // wholly before it (the name is gone: an error) or after it (the
        // new backup gets the right).
        let previous = {
            let (port, held) = primary_port(target, primary)?;
            if backup.is_some() {
                port.ensure_requests()?;
            }
            let previous = match port.swap_pdrequest(backup.map(PdRequest::Backup)) {
                Some(PdRequest::Backup(previous)) if previous.object().is_active() => Some(Carried::Send(previous)),
                // A dead backup counts as none; a port-destroyed request is
                // used up with a send-once notification (dropping it).
                _ => None,
            };
            drop(held);
            previous
        };
        Ok(self.copyout_previous(previous))
    }

    // --- ioctl handlers --------------------------------------------------------

    pub(crate) fn ioctl_member(&self, arg: usize, cmd: u32) -> Result<isize> {
        with_args(arg, |mut a: PortMemberArgs| {
            probe_writable(arg, &a)?;
            let result = self.task_space(a.task).and_then(|space| match cmd {
                MACH_IOC_PORT_MOVE_MEMBER => space.move_member(a.member, a.after),
                MACH_IOC_PORT_INSERT_MEMBER => space.insert_member(a.member, a.after),
                _ => space.extract_member(a.member, a.after),
            });
            a.kr = kr_of(&result);
            Ok(a)
        })
    }

    pub(crate) fn ioctl_set_status(&self, arg: usize) -> Result<isize> {
        with_args(arg, |mut a: PortSetStatusArgs| {
            reserved_zero(a.reserved)?;
            if a.capacity > 0 && a.members == 0 {
                return Err(EINVAL);
            }
            match self.task_space(a.task).and_then(|space| space.set_status(a.name)) {
                Ok(members) => {
                    let count = members.len() as u32;
                    if count <= a.capacity {
                        let bytes = AsBytes::as_bytes(members.as_slice());
                        UserSlice::new(UserPtr::from_addr(a.members as usize), bytes.len())
                            .writer()
                            .write_slice(bytes)?;
                    }
                    a.count = count;
                    a.kr = KERN_SUCCESS;
                }
                Err(kr) => {
                    a.count = 0;
                    a.kr = kr.0;
                }
            }
            Ok(a)
        })
    }

    pub(crate) fn ioctl_request_notification(&self, arg: usize) -> Result<isize> {
        with_args(arg, |mut a: RequestNotificationArgs| {
            probe_writable(arg, &a)?;
            let result = self.task_space(a.task).and_then(|target| {
                self.request_notification(&target, a.name, a.variant, a.sync, a.notify, a.notify_type)
            });
            a.previous = *result.as_ref().unwrap_or(&MACH_PORT_NULL);
            a.kr = kr_of(&result);
            Ok(a)
        })
    }

    pub(crate) fn ioctl_set_backup(&self, arg: usize) -> Result<isize> {
        with_args(arg, |mut a: PortSetBackupArgs| {
            reserved_zero(a.reserved)?;
            probe_writable(arg, &a)?;
            let result = self
                .task_space(a.task)
                .map_err(|_| KernReturn::INVALID_ARGUMENT)
                .and_then(|target| self.set_backup(&target, a.primary, a.backup));
            a.previous = *result.as_ref().unwrap_or(&MACH_PORT_NULL);
            a.kr = kr_of(&result);
            Ok(a)
        })
    }
}
