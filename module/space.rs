// SPDX-License-Identifier: GPL-2.0

//! IPC spaces: one per open `/dev/mach` file, and the ioctls on them.

use crate::abi::{self, *};
use crate::kern::{kr_of, KResult, KernReturn};
use crate::names::{Entry, NameTable};
use crate::port::{Carried, Port, PortSet};
use crate::stats::{self, Live};
use core::mem::size_of;
use kernel::{
    bindings,
    fs::{
        File,
        LocalFile, //
    },
    miscdevice::{
        MiscDevice,
        MiscDeviceRegistration, //
    },
    new_mutex,
    prelude::*,
    seq_file::SeqFile,
    seq_print,
    sync::{
        Arc,
        ArcBorrow,
        Mutex, //
    },
    types::ForeignOwnable,
    transmute::{
        AsBytes,
        FromBytes, //
    },
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

/// A reference on this module, held by every space so that the module
/// cannot be unloaded while a space exists (the misc-device glue leaves the
/// file operations' owner unset, so the VFS does not do it for us).
struct ModuleRef;

impl ModuleRef {
    fn get() -> Result<Self> {
        // SAFETY: `THIS_MODULE` is this module, which is loaded while its
        // code runs.
        if unsafe { bindings::try_module_get(crate::THIS_MODULE.as_ptr()) } {
            Ok(ModuleRef)
        } else {
            Err(ENODEV)
        }
    }
}

impl Drop for ModuleRef {
    fn drop(&mut self) {
        // SAFETY: This `ModuleRef` holds one reference taken in `get`.
        unsafe { bindings::module_put(crate::THIS_MODULE.as_ptr()) };
    }
}

/// The state of a space, under [`Space::inner`].
pub(crate) struct SpaceInner {
    /// Set when the file is released; nothing is inserted afterwards.
    dead: bool,
    pub(crate) names: NameTable,
}

/// An IPC space: the port names of one Mach task.
///
/// There is one `Space` per open file description of `/dev/mach`; it lives
/// until the file's last reference goes ([`MiscDevice::release`]), when
/// every right it holds is released. The space's own task port points back
/// at it until then; that cycle is broken on release.
#[pin_data]
pub(crate) struct Space {
    #[pin]
    inner: Mutex<SpaceInner>,
    /// The task port; the kernel holds its receive right.
    task_port: Arc<Port>,
    _live: Live<{ stats::SPACES }>,
    _module: ModuleRef,
}

/// Runs one ioctl whose argument is a `T` read from and written back to
/// `arg`. `op` returns the value to write back. The whole struct is read
/// once; reserved fields are checked by `op`.
pub(crate) fn with_args<T: FromBytes + AsBytes>(arg: usize, op: impl FnOnce(T) -> Result<T>) -> Result<isize> {
    let (mut reader, mut writer) = UserSlice::new(UserPtr::from_addr(arg), size_of::<T>()).reader_writer();
    let args = reader.read::<T>()?;
    let out = op(args)?;
    writer.write(&out)?;
    Ok(0)
}

/// Checks that the argument struct can be written back before an operation
/// that changes the space, so that a failed call changes nothing.
pub(crate) fn probe_writable<T: AsBytes>(arg: usize, args: &T) -> Result {
    UserSlice::new(UserPtr::from_addr(arg), size_of::<T>()).writer().write(args)
}

pub(crate) fn reserved_zero(value: u32) -> Result {
    if value == 0 {
        Ok(())
    } else {
        Err(EINVAL)
    }
}

impl Space {
    fn new() -> Result<Arc<Space>> {
        let module = ModuleRef::get()?;
        let task_port = Port::new_task()?;
        let space_port = task_port.clone();
        let space = Arc::pin_init(
            try_pin_init!(Space {
                inner <- new_mutex!(SpaceInner { dead: false, names: NameTable::new() }, "Space::inner"),
                task_port: space_port,
                _live: Live::new(),
                _module: module,
            }),
            GFP_KERNEL_ACCOUNT,
        )?;
        // The task-self name: a send right to the space's own task port.
        let entry = Entry::send(task_port.make_send(), 1);
        let inserted = space.inner.lock().names.insert(Some(abi::MACH_TASK_SELF_NAME), entry);
        if let Err((_, entry)) = inserted {
            drop(entry);
            return Err(ENOMEM);
        }
        task_port.attach_task(space.clone());
        Ok(space)
    }

    /// Closes the space: releases every right it holds and kills its task
    /// port. Waits for nothing in user space.
    fn close(&self) {
        let taken = {
            let mut inner = self.inner.lock();
            inner.dead = true;
            inner.names.take_all()
        };
        let me = self.task_port.detach_task();
        drop(taken);
        // The task port dies with the space: dead-name requests on it fire.
        self.task_port.destroy();
        drop(me);
    }

    /// Locks the space for a Mach operation: KERN_INVALID_TASK once it has
    /// closed (another space may still hold a task-port reference to it).
    pub(crate) fn lock_live(&self) -> KResult<kernel::sync::MutexGuard<'_, SpaceInner>> {
        let inner = self.inner.lock();
        if inner.dead {
            return Err(KernReturn::INVALID_TASK);
        }
        Ok(inner)
    }

    /// The space `task` names in this space: `task` must denote a send right
    /// to the task port of an open space.
    pub(crate) fn task_space(&self, task: u32) -> KResult<Arc<Space>> {
        let port = {
            let mut inner = self.inner.lock();
            match inner.names.get(task) {
                Some(entry) if entry.has(MACH_PORT_TYPE_SEND) => entry.port().cloned(),
                _ => None,
            }
        };
        port.and_then(|port| port.task_space()).ok_or(KernReturn::INVALID_TASK)
    }

    /// Creates a right of kind `right` and inserts it under `name`, or under
    /// a name the kernel picks when `name` is `None`.
    fn allocate(&self, right: u32, name: Option<u32>) -> KResult<u32> {
        if !matches!(right, MACH_PORT_RIGHT_RECEIVE | MACH_PORT_RIGHT_PORT_SET | MACH_PORT_RIGHT_DEAD_NAME) {
            return Err(KernReturn::INVALID_VALUE);
        }
        if name.is_some_and(|name| !mach_port_valid(name)) {
            return Err(KernReturn::INVALID_VALUE);
        }
        let entry = match right {
            MACH_PORT_RIGHT_RECEIVE => Entry::receive(Port::new()?),
            MACH_PORT_RIGHT_PORT_SET => Entry::port_set(PortSet::new()?),
            _ => Entry::dead_name(1),
        };
        let result = match self.lock_live() {
            Err(kr) => Err((kr, entry)),
            Ok(mut inner) => inner.names.insert(name, entry),
        };
        // A refused entry is dropped here, with no lock held.
        result.map_err(|(kr, _entry)| kr)
    }

    fn port_type(&self, name: u32) -> KResult<u32> {
        match name {
            MACH_PORT_NULL => return Err(KernReturn::INVALID_NAME),
            MACH_PORT_DEAD => return Ok(MACH_PORT_TYPE_DEAD_NAME),
            _ => {}
        }
        let mut inner = self.lock_live()?;
        Ok(inner.names.lookup(name)?.type_bits())
    }

    fn get_refs(&self, name: u32, right: u32) -> KResult<u32> {
        if right >= MACH_PORT_RIGHT_NUMBER {
            return Err(KernReturn::INVALID_VALUE);
        }
        if !mach_port_valid(name) {
            return match right {
                MACH_PORT_RIGHT_SEND | MACH_PORT_RIGHT_SEND_ONCE => Ok(1),
                _ => Err(KernReturn::INVALID_NAME),
            };
        }
        let mut inner = self.lock_live()?;
        let entry = inner.names.lookup(name)?;
        if entry.bits() & mach_port_type(right) == 0 {
            return Ok(0);
        }
        Ok(match right {
            MACH_PORT_RIGHT_SEND | MACH_PORT_RIGHT_DEAD_NAME => entry.urefs(),
            _ => 1,
        })
    }

    /// `mach_port_mod_refs`. Whatever the change releases is dropped after
    /// the space lock.
    fn mod_refs(&self, name: u32, right: u32, delta: i32) -> KResult {
        if right >= MACH_PORT_RIGHT_NUMBER {
            return Err(KernReturn::INVALID_VALUE);
        }
        if !mach_port_valid(name) {
            return match right {
                MACH_PORT_RIGHT_SEND | MACH_PORT_RIGHT_SEND_ONCE => Ok(()),
                _ => Err(KernReturn::INVALID_NAME),
            };
        }
        let released = {
            let mut inner = self.lock_live()?;
            let names = &mut inner.names;
            let held = names.lookup(name)?.has(mach_port_type(right));
            // No name ever holds MACH_PORT_RIGHT_LABELH.
            if right == MACH_PORT_RIGHT_LABELH || !held {
                return Err(KernReturn::INVALID_RIGHT);
            }
            match (right, delta) {
                (MACH_PORT_RIGHT_SEND | MACH_PORT_RIGHT_DEAD_NAME, _) => names.add_urefs(name, delta)?,
                // Receive, port-set and send-once rights count as one.
                (_, 0) => None,
                (_, -1) => names.remove_rights(name, mach_port_type(right)),
                _ => return Err(KernReturn::INVALID_VALUE),
            }
        };
        drop(released);
        Ok(())
    }

    /// `mach_port_deallocate`: one user reference less.
    fn deallocate(&self, name: u32) -> KResult {
        if !mach_port_valid(name) {
            return Ok(());
        }
        let released = {
            let mut inner = self.lock_live()?;
            let names = &mut inner.names;
            let bits = names.lookup(name)?.bits();
            if bits & (MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_DEAD_NAME) != 0 {
                names.add_urefs(name, -1)?
            } else if bits & (MACH_PORT_TYPE_SEND_ONCE | MACH_PORT_TYPE_PORT_SET) != 0 {
                names.remove(name)
            } else {
                return Err(KernReturn::INVALID_RIGHT);
            }
        };
        drop(released);
        Ok(())
    }

    /// `mach_port_destroy`: every right under the name goes.
    fn destroy(&self, name: u32) -> KResult {
        if !mach_port_valid(name) {
            return Ok(());
        }
        let released = {
            let mut inner = self.lock_live()?;
            inner.names.lookup(name)?;
            inner.names.destroy_name(name)
        };
        drop(released);
        Ok(())
    }

    /// `mach_port_insert_right`: the caller's (`self`'s) right `poly`, taken
    /// as `disposition` says, goes into `target` under `name`. On a failure
    /// after the right was taken, it is destroyed, as Mach does.
    fn insert_right(&self, target: &Space, name: u32, poly: u32, disposition: u32) -> KResult {
        if !mach_port_valid(name) || !mach_msg_type_port_any(disposition) {
            return Err(KernReturn::INVALID_VALUE);
        }
        if !mach_port_valid(poly) {
            return Err(KernReturn::INVALID_CAPABILITY);
        }
        let right = self.lock_live()?.names.copyin(poly, disposition)?;
        let result = match target.lock_live() {
            Err(kr) => Err((kr, right)),
            Ok(mut inner) => inner.names.copyout(Some(name), right, false),
        };
        // A refused right is released here, with no lock held.
        result.map(|_| ()).map_err(|(kr, _right)| kr)
    }

    /// `mach_port_extract_right`: the right `name` in `source`, taken as
    /// `disposition` says, comes into the caller's (`self`'s) space, as a
    /// received right would. Returns its name (MACH_PORT_DEAD for a dead
    /// right) and type.
    fn extract_right(&self, source: &Space, name: u32, disposition: u32) -> KResult<(u32, u32)> {
        if !mach_msg_type_port_any(disposition) {
            return Err(KernReturn::INVALID_VALUE);
        }
        if !mach_port_valid(name) {
            return Err(KernReturn::INVALID_RIGHT);
        }
        let msg_type = match disposition {
            MACH_MSG_TYPE_MOVE_RECEIVE => MACH_MSG_TYPE_PORT_RECEIVE,
            MACH_MSG_TYPE_MOVE_SEND_ONCE | MACH_MSG_TYPE_MAKE_SEND_ONCE => MACH_MSG_TYPE_PORT_SEND_ONCE,
            _ => MACH_MSG_TYPE_PORT_SEND,
        };
        let right = source.lock_live()?.names.copyin(name, disposition)?;
        if let Carried::Dead = right {
            return Ok((MACH_PORT_DEAD, msg_type));
        }
        let result = match self.lock_live() {
            Err(kr) => Err((kr, right)),
            Ok(mut inner) => inner.names.copyout(None, right, true),
        };
        match result {
            Ok(poly) => Ok((poly, msg_type)),
            // The port died on the way: the right arrives dead.
            Err((KernReturn::INVALID_CAPABILITY, _right)) => Ok((MACH_PORT_DEAD, msg_type)),
            Err((kr, _right)) => Err(kr),
        }
    }

    /// `task_for_fd`: a send right to the task port of the space behind
    /// `fd`, in this space. `file` is this space's own file, whose file
    /// operations tell a `/dev/mach` file from any other.
    fn task_for_fd(&self, file: &File, fd: i32) -> Result<KResult<u32>> {
        let other = LocalFile::fget(fd as u32).map_err(|_| EBADF)?;
        // SAFETY: Both files are alive (`file` for this call, `other` by the
        // reference `fget` took), and `f_op` never changes after open.
        let same_device = unsafe { (*other.as_ptr()).f_op == (*file.as_ptr()).f_op };
        if !same_device {
            return Ok(Err(KernReturn::INVALID_ARGUMENT));
        }
        // SAFETY: The file is a `/dev/mach` file in a descriptor table, so
        // its open finished and stored an `Arc<Space>` in `private_data`
        // with `into_foreign`; it is released only when the file's last
        // reference goes, and `other` holds one for this borrow.
        let space: Arc<Space> =
            unsafe { <Arc<Space> as ForeignOwnable>::borrow((*other.as_ptr()).private_data) }.into();
        drop(other);
        let send = Carried::Send(space.task_port.make_send());
        let result = match self.lock_live() {
            Err(kr) => Err((kr, send)),
            Ok(mut inner) => inner.names.copyout(None, send, true),
        };
        Ok(result.map_err(|(kr, _send)| kr))
    }

    /// Collects the names and types of the space, in ascending name order,
    /// if there are at most `capacity`; always returns the count.
    fn names(&self, capacity: u32) -> KResult<(u32, KVVec<u32>, KVVec<u32>)> {
        let mut inner = self.lock_live()?;
        let count = inner.names.count();
        let mut names = KVVec::new();
        let mut types = KVVec::new();
        if count <= capacity {
            names.reserve(count as usize, GFP_KERNEL_ACCOUNT)?;
            types.reserve(count as usize, GFP_KERNEL_ACCOUNT)?;
            inner.names.for_each(|name, bits| {
                // Cannot fail: the capacity was reserved for `count` names.
                let _ = names.push_within_capacity(name);
                let _ = types.push_within_capacity(bits);
            });
        }
        Ok((count, names, types))
    }

    // --- ioctl handlers -----------------------------------------------------

    fn ioctl_allocate(&self, arg: usize, named: bool) -> Result<isize> {
        with_args(arg, |mut a: PortAllocateArgs| {
            probe_writable(arg, &a)?;
            let result = self
                .task_space(a.task)
                .and_then(|space| space.allocate(a.right, if named { Some(a.name) } else { None }));
            if let Ok(name) = result {
                a.name = name;
            }
            a.kr = kr_of(&result);
            Ok(a)
        })
    }

    fn ioctl_reply_port(&self, arg: usize) -> Result<isize> {
        with_args(arg, |mut a: ReplyPortArgs| {
            reserved_zero(a.reserved)?;
            probe_writable(arg, &a)?;
            a.name = self.allocate(MACH_PORT_RIGHT_RECEIVE, None).unwrap_or(MACH_PORT_NULL);
            Ok(a)
        })
    }

    fn ioctl_type(&self, arg: usize) -> Result<isize> {
        with_args(arg, |mut a: PortTypeArgs| {
            let result = self.task_space(a.task).and_then(|space| space.port_type(a.name));
            a.ptype = *result.as_ref().unwrap_or(&0);
            a.kr = kr_of(&result);
            Ok(a)
        })
    }

    fn ioctl_get_refs(&self, arg: usize) -> Result<isize> {
        with_args(arg, |mut a: PortGetRefsArgs| {
            reserved_zero(a.reserved)?;
            let result = self.task_space(a.task).and_then(|space| space.get_refs(a.name, a.right));
            a.refs = *result.as_ref().unwrap_or(&0);
            a.kr = kr_of(&result);
            Ok(a)
        })
    }

    fn ioctl_mod_refs(&self, arg: usize) -> Result<isize> {
        with_args(arg, |mut a: PortModRefsArgs| {
            reserved_zero(a.reserved)?;
            probe_writable(arg, &a)?;
            let result = self.task_space(a.task).and_then(|space| space.mod_refs(a.name, a.right, a.delta));
            a.kr = kr_of(&result);
            Ok(a)
        })
    }

    fn ioctl_deallocate(&self, arg: usize, destroy: bool) -> Result<isize> {
        with_args(arg, |mut a: PortNameArgs| {
            reserved_zero(a.reserved)?;
            probe_writable(arg, &a)?;
            let result = self.task_space(a.task).and_then(|space| {
                if destroy {
                    space.destroy(a.name)
                } else {
                    space.deallocate(a.name)
                }
            });
            a.kr = kr_of(&result);
            Ok(a)
        })
    }

    fn ioctl_insert_right(&self, arg: usize) -> Result<isize> {
        with_args(arg, |mut a: PortInsertRightArgs| {
            reserved_zero(a.reserved)?;
            probe_writable(arg, &a)?;
            let result = self
                .task_space(a.task)
                .and_then(|target| self.insert_right(&target, a.name, a.poly, a.poly_poly));
            a.kr = kr_of(&result);
            Ok(a)
        })
    }

    fn ioctl_extract_right(&self, arg: usize) -> Result<isize> {
        with_args(arg, |mut a: PortExtractRightArgs| {
            probe_writable(arg, &a)?;
            let result = self
                .task_space(a.task)
                .and_then(|source| self.extract_right(&source, a.name, a.msgt_name));
            (a.poly, a.poly_poly) = *result.as_ref().unwrap_or(&(MACH_PORT_NULL, 0));
            a.kr = kr_of(&result);
            Ok(a)
        })
    }

    fn ioctl_task_for_fd(&self, file: &File, arg: usize) -> Result<isize> {
        with_args(arg, |mut a: TaskForFdArgs| {
            reserved_zero(a.reserved)?;
            probe_writable(arg, &a)?;
            let result = self.task_for_fd(file, a.fd)?;
            a.task = *result.as_ref().unwrap_or(&MACH_PORT_NULL);
            a.kr = kr_of(&result);
            Ok(a)
        })
    }

    fn ioctl_names(&self, arg: usize) -> Result<isize> {
        with_args(arg, |mut a: PortNamesArgs| {
            if a.capacity > 0 && (a.names == 0 || a.types == 0) {
                return Err(EINVAL);
            }
            let (count, names, types) = match self.task_space(a.task).and_then(|space| space.names(a.capacity)) {
                Ok(listed) => listed,
                Err(kr) => {
                    a.count = 0;
                    a.kr = kr.0;
                    return Ok(a);
                }
            };
            if count <= a.capacity {
                for (addr, list) in [(a.names, &names), (a.types, &types)] {
                    let bytes = AsBytes::as_bytes(list.as_slice());
                    UserSlice::new(UserPtr::from_addr(addr as usize), bytes.len())
                        .writer()
                        .write_slice(bytes)?;
                }
            }
            a.count = count;
            a.kr = KERN_SUCCESS;
            Ok(a)
        })
    }
}

#[vtable]
impl MiscDevice for Space {
    type Ptr = Arc<Space>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Space>> {
        Space::new()
    }

    fn release(space: Arc<Space>, _file: &File) {
        space.close();
    }

    fn ioctl(space: ArcBorrow<'_, Space>, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            MACH_IOC_STATS => with_args(arg, |a: StatsArgs| {
                if a.reserved != [0; 2] {
                    return Err(EINVAL);
                }
                let [spaces, ports, port_sets, names, messages, message_bytes] = stats::snapshot();
                Ok(StatsArgs { spaces, ports, port_sets, names, messages, message_bytes, reserved: [0; 2] })
            }),
            MACH_IOC_MSG => space.ioctl_msg(arg),
            MACH_IOC_PORT_MOVE_MEMBER | MACH_IOC_PORT_INSERT_MEMBER | MACH_IOC_PORT_EXTRACT_MEMBER => {
                space.ioctl_member(arg, cmd)
            }
            MACH_IOC_PORT_GET_SET_STATUS => space.ioctl_set_status(arg),
            MACH_IOC_PORT_REQUEST_NOTIFICATION => space.ioctl_request_notification(arg),
            MACH_IOC_PORT_SET_BACKUP => space.ioctl_set_backup(arg),
            MACH_IOC_PORT_GET_ATTRIBUTES => space.ioctl_attributes(arg, false),
            MACH_IOC_PORT_SET_ATTRIBUTES => space.ioctl_attributes(arg, true),
            MACH_IOC_API_VERSION => with_args(arg, |mut a: ApiVersionArgs| {
                reserved_zero(a.reserved)?;
                a.version = MACH_API_VERSION;
                Ok(a)
            }),
            MACH_IOC_REPLY_PORT => space.ioctl_reply_port(arg),
            MACH_IOC_PORT_ALLOCATE => space.ioctl_allocate(arg, false),
            MACH_IOC_PORT_ALLOCATE_NAME => space.ioctl_allocate(arg, true),
            MACH_IOC_PORT_TYPE => space.ioctl_type(arg),
            MACH_IOC_PORT_NAMES => space.ioctl_names(arg),
            MACH_IOC_PORT_GET_REFS => space.ioctl_get_refs(arg),
            MACH_IOC_PORT_MOD_REFS => space.ioctl_mod_refs(arg),
            MACH_IOC_PORT_DEALLOCATE => space.ioctl_deallocate(arg, false),
            MACH_IOC_PORT_DESTROY => space.ioctl_deallocate(arg, true),
            MACH_IOC_PORT_INSERT_RIGHT => space.ioctl_insert_right(arg),
            MACH_IOC_PORT_EXTRACT_RIGHT => space.ioctl_extract_right(arg),
            MACH_IOC_TASK_FOR_FD => space.ioctl_task_for_fd(file, arg),
            _ => Err(ENOTTY),
        }
    }

    /// `/proc/PID/fdinfo/FD` of a `/dev/mach` descriptor: the space's names
    /// by the rights they hold.
    fn show_fdinfo(space: ArcBorrow<'_, Space>, m: &SeqFile, _file: &File) {
        let (dead, names, counts, messages) = {
            let mut inner = space.inner.lock();
            (inner.dead, inner.names.count(), inner.names.count_by_type(), inner.names.queued_messages())
        };
        let [receive, send, send_once, port_set, dead_name] = counts;
        seq_print!(m, "mach-space:\t{}\n", if dead { "closed" } else { "open" });
        seq_print!(m, "mach-names:\t{}\n", names);
        seq_print!(m, "mach-receive:\t{}\n", receive);
        seq_print!(m, "mach-send:\t{}\n", send);
        seq_print!(m, "mach-send-once:\t{}\n", send_once);
        seq_print!(m, "mach-port-set:\t{}\n", port_set);
        seq_print!(m, "mach-dead-name:\t{}\n", dead_name);
        seq_print!(m, "mach-queued-messages:\t{}\n", messages);
    }
}
