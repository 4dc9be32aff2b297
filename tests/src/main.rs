//! The Mach IPC test suite: runs inside the test VM, against /dev/mach, and
//! prints TAP 13.
//!
//! Usage: `mach-tests [--list] [FILTER]`. With FILTER, only the tests whose
//! name contains it run. The exit status is 0 when every test passed.

mod check;
mod msg;
mod notify;
mod proc;
mod raw;
mod tap;

mod t_allocate;
mod t_backup;
mod t_basics;
mod t_dead;
mod t_dealloc;
mod t_dispositions;
mod t_extract;
mod t_insert;
mod t_inspect;
mod t_limits;
mod t_mod_refs;
mod t_msg_basic;
mod t_msg_body;
mod t_msg_header;
mod t_msg_ports;
mod t_msg_ool;
mod t_msg_queue;
mod t_msg_receive;
mod t_msg_trailer;
mod t_msg_attributes;
mod t_msg_transport;
mod t_msg_signals;
mod t_msg_threads;
mod t_msg_procs;
mod t_msg_destroy;
mod t_msg_copyout;
mod t_notify_dead;
mod t_notify_destroyed;
mod t_notify_requests;
mod t_notify_send_once;
mod t_notify_senders;
mod t_procs;
mod t_send_refs;
mod t_sets;
mod t_spaces;
mod t_stats;
mod t_task;
mod t_task_for_fd;
mod t_teardown;
mod t_transport;

use std::path::Path;
use std::process::ExitCode;

use tap::Test;

/// Every test, in the order they run.
const SUITES: &[&[Test]] = &[
    t_basics::TESTS,
    t_task::TESTS,
    t_allocate::TESTS,
    t_inspect::TESTS,
    t_mod_refs::TESTS,
    t_dealloc::TESTS,
    t_insert::TESTS,
    t_dispositions::TESTS,
    t_extract::TESTS,
    t_send_refs::TESTS,
    t_dead::TESTS,
    t_task_for_fd::TESTS,
    t_procs::TESTS,
    t_teardown::TESTS,
    t_stats::TESTS,
    t_spaces::TESTS,
    t_transport::TESTS,
    t_limits::TESTS,
    t_msg_basic::TESTS,
    t_msg_header::TESTS,
    t_msg_body::TESTS,
    t_msg_ports::TESTS,
    t_msg_ool::TESTS,
    t_msg_queue::TESTS,
    t_msg_receive::TESTS,
    t_msg_trailer::TESTS,
    t_msg_attributes::TESTS,
    t_msg_transport::TESTS,
    t_msg_signals::TESTS,
    t_msg_threads::TESTS,
    t_msg_procs::TESTS,
    t_msg_destroy::TESTS,
    t_msg_copyout::TESTS,
    t_sets::TESTS,
    t_notify_requests::TESTS,
    t_notify_dead::TESTS,
    t_notify_senders::TESTS,
    t_notify_destroyed::TESTS,
    t_notify_send_once::TESTS,
    t_backup::TESTS,
];

fn usage() -> ExitCode {
    eprintln!("usage: mach-tests [--list] [FILTER]");
    eprintln!(
        "Runs the tests whose name contains FILTER (all without one) against {}.",
        mach::DEVICE_PATH
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut list = false;
    let mut filter: Option<String> = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--list" => list = true,
            "-h" | "--help" => return usage(),
            _ if arg.starts_with('-') || filter.is_some() => return usage(),
            _ => filter = Some(arg),
        }
    }

    let selected: Vec<&Test> = SUITES
        .iter()
        .flat_map(|suite| suite.iter())
        .filter(|t| filter.as_deref().is_none_or(|f| t.name.contains(f)))
        .collect();

    if list {
        for t in &selected {
            println!("{}", t.name);
        }
        return ExitCode::SUCCESS;
    }

    let problem = if !Path::new(mach::DEVICE_PATH).exists() {
        Some(format!("{} not present", mach::DEVICE_PATH))
    } else if let Err(e) = mach::Space::open() {
        Some(format!("cannot open {}: {e}", mach::DEVICE_PATH))
    } else if selected.is_empty() {
        Some(format!(
            "no test name contains {:?}",
            filter.unwrap_or_default()
        ))
    } else {
        None
    };
    if let Some(reason) = problem {
        println!("TAP version 13");
        tap::bail_out(&reason);
    }

    if tap::run(&selected) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
