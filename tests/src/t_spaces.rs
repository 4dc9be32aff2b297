//! Each open of /dev/mach is a space of its own; closing one frees it.

use mach::{PortName, PortType};

use crate::check::*;
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    spaces_do_not_see_each_others_names,
    the_same_name_can_be_allocated_in_two_spaces,
    destroy_in_one_space_leaves_the_other_intact,
    closing_a_space_with_many_rights_then_opening_a_new_one_works,
    closing_one_space_leaves_another_intact,
    many_spaces_can_be_open_at_once,
    reply_port_works_without_the_task_self_right,
    module_cannot_be_unloaded_while_a_space_is_open,
];

/// A name no kernel would choose first.
const DISTINCT: PortName = PortName(0x4d41_4348);

fn spaces_do_not_see_each_others_names(_: &mut Ctx) -> TestResult {
    let a = TestSpace::open()?;
    let b = TestSpace::open()?;
    a.allocate_name(TASK, RECEIVE, DISTINCT).succeeds()?;
    let chosen = a.new_dead_name(2)?;
    let b_before = b.state()?;
    for name in [DISTINCT, chosen] {
        b.port_type(TASK, name).gives(KERN_INVALID_NAME)?;
        for right in ALL_RIGHTS {
            b.get_refs(TASK, name, right).gives(KERN_INVALID_NAME)?;
            b.mod_refs(TASK, name, right, -1).gives(KERN_INVALID_NAME)?;
        }
        b.deallocate(TASK, name).gives(KERN_INVALID_NAME)?;
        b.destroy(TASK, name).gives(KERN_INVALID_NAME)?;
    }
    b.expect_state(&b_before, "calls in the other space")?;
    b.expect_only_task_self()?;
    let mut want = vec![
        (TASK, PortType::SEND),
        (DISTINCT, PortType::RECEIVE),
        (chosen, PortType::DEAD_NAME),
    ];
    want.sort_by_key(|&(name, _)| name);
    a.expect_names(&want)?;
    a.expect_refs(chosen, DEAD_NAME, 2)
}

fn the_same_name_can_be_allocated_in_two_spaces(_: &mut Ctx) -> TestResult {
    let a = TestSpace::open()?;
    let b = TestSpace::open()?;
    a.allocate_name(TASK, RECEIVE, DISTINCT).succeeds()?;
    b.allocate_name(TASK, DEAD_NAME, DISTINCT).succeeds()?;
    a.expect_type(DISTINCT, PortType::RECEIVE)?;
    b.expect_type(DISTINCT, PortType::DEAD_NAME)?;
    b.mod_refs(TASK, DISTINCT, DEAD_NAME, 4).succeeds()?;
    b.expect_refs(DISTINCT, DEAD_NAME, 5)?;
    a.expect_refs(DISTINCT, DEAD_NAME, 0)?;
    a.expect_refs(DISTINCT, RECEIVE, 1)
}

fn destroy_in_one_space_leaves_the_other_intact(_: &mut Ctx) -> TestResult {
    let a = TestSpace::open()?;
    let b = TestSpace::open()?;
    a.allocate_name(TASK, PORT_SET, DISTINCT).succeeds()?;
    b.allocate_name(TASK, PORT_SET, DISTINCT).succeeds()?;
    b.new_receive()?;
    let b_before = b.state()?;
    a.destroy(TASK, DISTINCT).succeeds()?;
    a.expect_unused(DISTINCT)?;
    a.expect_only_task_self()?;
    b.expect_state(&b_before, "destroy in the other space")?;
    // The task-self name too.
    a.destroy(TASK, TASK).succeeds()?;
    b.expect_state(&b_before, "destroying the other space's task-self name")
}

fn closing_a_space_with_many_rights_then_opening_a_new_one_works(ctx: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    for i in 0..3000u32 {
        match i % 4 {
            0 => s.allocate(TASK, RECEIVE).gives(KERN_SUCCESS)?,
            1 => s.allocate(TASK, PORT_SET).gives(KERN_SUCCESS)?,
            2 => s.new_dead_name(1 + i % 7).map(|_| ())?,
            _ => {
                let right = ALLOCATABLE[(i as usize / 4) % 3];
                s.allocate_name(TASK, right, PortName(0x8000_0000 + i))
                    .succeeds()?
            }
        }
    }
    s.mod_refs(TASK, TASK, SEND, 9).succeeds()?;
    ctx.diag(format!("closing a space with {} names", s.count()?));
    drop(s);
    let fresh = TestSpace::open()?;
    fresh.expect_only_task_self()?;
    let port = fresh.new_receive()?;
    fresh.expect_type(port, PortType::RECEIVE)
}

fn closing_one_space_leaves_another_intact(_: &mut Ctx) -> TestResult {
    let a = TestSpace::open()?;
    a.allocate_name(TASK, RECEIVE, DISTINCT).succeeds()?;
    a.new_port_set()?;
    a.new_dead_name(3)?;
    let a_before = a.state()?;
    {
        let b = TestSpace::open()?;
        b.allocate_name(TASK, RECEIVE, DISTINCT).succeeds()?;
        for _ in 0..100 {
            b.new_receive()?;
        }
    }
    a.expect_state(&a_before, "closing another space")
}

fn many_spaces_can_be_open_at_once(_: &mut Ctx) -> TestResult {
    let mut spaces = Vec::new();
    for i in 0..64u32 {
        let s = TestSpace::open()?;
        s.allocate_name(TASK, DEAD_NAME, DISTINCT).succeeds()?;
        s.mod_refs(TASK, DISTINCT, DEAD_NAME, i as i32).succeeds()?;
        spaces.push(s);
    }
    for (i, s) in spaces.iter().enumerate() {
        s.expect_refs(DISTINCT, DEAD_NAME, i as u32 + 1)?;
        s.expect_refs(TASK, SEND, 1)?;
    }
    // Close every other one; the rest are untouched.
    let kept: Vec<(usize, TestSpace)> = spaces
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .collect();
    for (i, s) in &kept {
        s.expect_refs(DISTINCT, DEAD_NAME, *i as u32 + 1)?;
    }
    Ok(())
}

fn reply_port_works_without_the_task_self_right(_: &mut Ctx) -> TestResult {
    // mach_reply_port takes no task: it always acts on the caller's space.
    let s = TestSpace::open()?;
    s.deallocate(TASK, TASK).succeeds()?;
    let port = s.reply_port().succeeds()?;
    ensure(port.is_valid(), || {
        format!("mach_reply_port gave {port} without the task-self right")
    })?;
    s.port_type(TASK, port).gives(KERN_INVALID_TASK)
}

fn module_cannot_be_unloaded_while_a_space_is_open(_: &mut Ctx) -> TestResult {
    // Every space holds a reference on the module, so rmmod cannot pull the
    // code out from under an open /dev/mach file.
    let s = TestSpace::open()?;
    // SAFETY: delete_module takes a NUL-terminated name and flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_delete_module,
            c"mach_ipc".as_ptr(),
            libc::O_NONBLOCK,
        )
    };
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    ensure(
        rc == -1 && (errno == libc::EBUSY || errno == libc::EAGAIN),
        || {
            format!("delete_module(mach_ipc) with a space open: expected EBUSY or EAGAIN, got rc {rc}, {}", errno_name(errno))
        },
    )?;
    s.expect_only_task_self()
}
