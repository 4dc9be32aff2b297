// SPDX-License-Identifier: GPL-2.0

//! Mach results, kept apart from errno.

use crate::abi;

/// A Mach failure (`kern_return_t` other than `KERN_SUCCESS`). It travels to
/// user space in the argument struct's `kr` field, never as an errno.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct KernReturn(pub(crate) i32);

impl KernReturn {
    pub(crate) const FAILURE: Self = Self(abi::KERN_FAILURE);
    pub(crate) const NOT_RECEIVER: Self = Self(abi::KERN_NOT_RECEIVER);
    pub(crate) const ALREADY_IN_SET: Self = Self(abi::KERN_ALREADY_IN_SET);
    pub(crate) const NOT_IN_SET: Self = Self(abi::KERN_NOT_IN_SET);
    pub(crate) const NO_SPACE: Self = Self(abi::KERN_NO_SPACE);
    pub(crate) const RESOURCE_SHORTAGE: Self = Self(abi::KERN_RESOURCE_SHORTAGE);
    pub(crate) const NAME_EXISTS: Self = Self(abi::KERN_NAME_EXISTS);
    pub(crate) const INVALID_NAME: Self = Self(abi::KERN_INVALID_NAME);
    pub(crate) const INVALID_TASK: Self = Self(abi::KERN_INVALID_TASK);
    pub(crate) const INVALID_RIGHT: Self = Self(abi::KERN_INVALID_RIGHT);
    pub(crate) const INVALID_VALUE: Self = Self(abi::KERN_INVALID_VALUE);
    pub(crate) const UREFS_OVERFLOW: Self = Self(abi::KERN_UREFS_OVERFLOW);
    pub(crate) const INVALID_CAPABILITY: Self = Self(abi::KERN_INVALID_CAPABILITY);
    pub(crate) const RIGHT_EXISTS: Self = Self(abi::KERN_RIGHT_EXISTS);
    pub(crate) const INVALID_ARGUMENT: Self = Self(abi::KERN_INVALID_ARGUMENT);
}

impl From<kernel::alloc::AllocError> for KernReturn {
    fn from(_: kernel::alloc::AllocError) -> Self {
        Self::RESOURCE_SHORTAGE
    }
}

impl From<kernel::error::Error> for KernReturn {
    fn from(_: kernel::error::Error) -> Self {
        Self::RESOURCE_SHORTAGE
    }
}

/// The result of a Mach operation.
pub(crate) type KResult<T = ()> = core::result::Result<T, KernReturn>;

/// Encodes a result for the `kr` field.
pub(crate) fn kr_of<T>(result: &KResult<T>) -> i32 {
    match result {
        Ok(_) => abi::KERN_SUCCESS,
        Err(kr) => kr.0,
    }
}
