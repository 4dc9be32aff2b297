// SPDX-License-Identifier: GPL-2.0

//! Mach IPC for Linux: the `/dev/mach` misc device.
//!
//! Every open of `/dev/mach` creates one IPC space ([`Space`]): the table of
//! port names of one Mach task. The Mach port calls are ioctls on that file;
//! each reads its argument struct once, acts on the space, and writes back
//! the Mach result (`kern_return_t`) in the struct. The errno of the ioctl is
//! reserved for transport problems (EFAULT, EINVAL for a malformed struct,
//! ENOTTY for an unknown command).
//!
//! # Objects
//!
//! - [`Space`] (`space.rs`): one per open file; the name table and its lock.
//! - [`Entry`] (`names.rs`): what one name denotes in one space: right bits,
//!   user references and the object.
//! - [`Port`] (`port.rs`): a port, alive while its receive right exists.
//!   Task ports are ports whose receive right the kernel holds for a space.
//! - [`PortSet`] (`port.rs`).
//! - Rights outside any name table are owned values ([`ReceiveRight`],
//!   [`SendRight`], [`SendOnceRight`], [`PortSetRight`]); dropping one
//!   releases it with Mach's consequences, so every right is released exactly
//!   once by construction.
//!
//! # Lock order
//!
//! `Space::inner` (a mutex) before `Port::inner` / `PortSet::inner`
//! (spinlocks). Never two spaces at once; never two ports at once. Dropping
//! a right may take port locks (one at a time) but never a space lock, so a
//! right may be dropped while a space lock is held, but never while a port
//! lock is held. Nothing allocates, sleeps or touches user memory under a
//! spinlock.
//!
//! [`Space`]: space::Space
//! [`Entry`]: names::Entry
//! [`Port`]: port::Port
//! [`PortSet`]: port::PortSet
//! [`ReceiveRight`]: port::ReceiveRight
//! [`SendRight`]: port::SendRight
//! [`SendOnceRight`]: port::SendOnceRight
//! [`PortSetRight`]: port::PortSetRight

use kernel::{
    miscdevice::{
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    prelude::*,
};

#[path = "../uapi/src/abi.rs"]
mod abi;
mod ipc;
mod kern;
mod msg;
mod names;
mod notify;
mod port;
mod prof;
mod space;
mod stats;
mod uapi;

module! {
    type: MachModule,
    name: "mach_ipc",
    authors: ["The linux-mach developers"],
    description: "Mach IPC: ports, rights and messages on /dev/mach",
    license: "GPL",
}

#[pin_data]
struct MachModule {
    #[pin]
    _device: MiscDeviceRegistration<space::Space>,
}

impl kernel::InPlaceModule for MachModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        // SAFETY: Module init runs once, before `/dev/mach` exists.
        unsafe { msg::init() };
        pr_info!("Mach IPC on /dev/mach, ABI version {}\n", abi::MACH_API_VERSION);
        try_pin_init!(Self {
            _device <- MiscDeviceRegistration::register(MiscDeviceOptions { name: c"mach" }),
        })
    }
}
