//! Run after every other test program, in the same VM: checks that the
//! module holds no object beyond what this program's own space needs (one
//! space, its task port, its task-self name). Prints TAP.

use std::process::ExitCode;

fn main() -> ExitCode {
    println!("TAP version 13");
    println!("1..1");
    let name = "every_object_is_freed_once_the_test_programs_exit";
    let result = mach::Space::open().and_then(|space| space.stats());
    match result {
        Ok(stats) => {
            let want = mach::Stats {
                spaces: 1,
                ports: 1,
                port_sets: 0,
                names: 1,
                messages: 0,
                message_bytes: 0,
            };
            if stats == want {
                println!("ok 1 - {name}");
                println!("# 1 passed, 0 failed");
                ExitCode::SUCCESS
            } else {
                println!("not ok 1 - {name} # expected {want:?} (this program's own space), got {stats:?}");
                println!("# 0 passed, 1 failed");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            println!("not ok 1 - {name} # cannot read the module's counts: {e}");
            println!("# 0 passed, 1 failed");
            ExitCode::FAILURE
        }
    }
}
