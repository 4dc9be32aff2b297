//! A model-based random tester for the Mach calls of `/dev/mach`.
//!
//! [`state`] and [`msgs`] are a reference model of docs/calls.md,
//! docs/messages.md and docs/notifications.md in plain Rust (no kernel);
//! [`gen`] draws random operations from the model's state; [`run`] runs
//! them against the kernel and the model side by side, compares every
//! result, every received message and the spaces' full contents, and
//! shrinks a failing sequence.

pub mod gen;
pub mod msgs;
pub mod op;
pub mod rng;
pub mod run;
pub mod state;
