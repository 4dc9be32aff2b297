// SPDX-License-Identifier: GPL-2.0

//! Byte-level traits for the ABI structs of `abi.rs`, so they can be copied
//! from and to user memory.

use crate::abi::*;
use kernel::transmute::{
    AsBytes,
    FromBytes, //
};

macro_rules! plain_struct {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: The struct is `#[repr(C)]` and made only of `u32`, `i32` and
        // `u64` fields with no padding (asserted in `abi.rs`), so every bit
        // pattern is valid and it has no uninitialized bytes.
        unsafe impl FromBytes for $t {}
        // SAFETY: As above.
        unsafe impl AsBytes for $t {}
    )*};
}

plain_struct!(
    ApiVersionArgs,
    PortAllocateArgs,
    ReplyPortArgs,
    PortTypeArgs,
    PortNamesArgs,
    PortGetRefsArgs,
    PortModRefsArgs,
    PortNameArgs,
    PortInsertRightArgs,
    PortExtractRightArgs,
    TaskForFdArgs,
    StatsArgs,
    MsgArgs,
    PortAttributesArgs,
    PortMemberArgs,
    PortSetStatusArgs,
    RequestNotificationArgs,
    PortSetBackupArgs,
);
