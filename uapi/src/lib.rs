//! The `/dev/mach` ABI for user space.
//!
//! The definitions live in `abi.rs`, which the kernel module compiles too
//! (`#[path]`), so both sides agree on every number and layout by
//! construction.
#![no_std]

mod abi;
pub use abi::*;
