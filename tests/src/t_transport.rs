//! Transport errors: the errno of the ioctl itself, not a kern_return_t.
//! Unknown commands give ENOTTY, malformed structs EINVAL, addresses that
//! cannot be read or written EFAULT; the space is unchanged in every case.

use std::io;
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd};

use mach::{sys, Error, PortName, PortType};

use crate::check::*;
use crate::raw::{self, ioc, Cmd, Pages, COMMANDS, IOC_NONE, IOC_READ, IOC_READ_WRITE, IOC_WRITE};
use crate::tap::Test;

pub const TESTS: &[Test] = crate::tests![
    raw_commands_with_valid_arguments_succeed,
    unknown_command_gives_enotty,
    command_with_wrong_size_gives_enotty,
    command_with_wrong_type_gives_enotty,
    command_with_wrong_direction_gives_enotty,
    api_version_with_nonzero_reserved_field_gives_einval,
    reply_port_with_nonzero_reserved_field_gives_einval_and_changes_nothing,
    get_refs_with_nonzero_reserved_field_gives_einval,
    mod_refs_with_nonzero_reserved_field_gives_einval_and_changes_nothing,
    deallocate_with_nonzero_reserved_field_gives_einval_and_changes_nothing,
    destroy_with_nonzero_reserved_field_gives_einval_and_changes_nothing,
    insert_right_with_nonzero_reserved_field_gives_einval_and_changes_nothing,
    task_for_fd_with_nonzero_reserved_field_gives_einval_and_changes_nothing,
    names_with_capacity_and_null_names_array_gives_einval,
    names_with_capacity_and_null_types_array_gives_einval,
    names_with_zero_capacity_reports_the_count,
    names_with_too_small_capacity_reports_the_count_and_writes_nothing,
    names_with_enough_capacity_fills_both_arrays,
    null_argument_gives_efault,
    unmapped_argument_gives_efault_and_changes_nothing,
    argument_running_into_unmapped_page_gives_efault_and_changes_nothing,
    read_only_argument_gives_efault,
    names_with_unmapped_array_gives_efault,
    names_with_read_only_array_gives_efault,
    names_with_array_running_into_unmapped_page_gives_efault,
];

/// A space with rights for raw arguments to aim at.
struct Fixture {
    s: TestSpace,
    receive: PortName,
    dead_name: PortName,
    /// Not in use; what MACH_IOC_PORT_ALLOCATE_NAME would take.
    fresh: PortName,
}

impl Fixture {
    fn new() -> Result<Fixture, String> {
        let s = TestSpace::open()?;
        let receive = s.new_receive()?;
        let dead_name = s.new_dead_name(2)?;
        let fresh = s.unused_name(0x4d00_4d03)?;
        Ok(Fixture {
            s,
            receive,
            dead_name,
            fresh,
        })
    }

    /// Arguments with which `c` succeeds, and changes the space if it can.
    fn valid_args(&self, c: &Cmd) -> Vec<u32> {
        let task = TASK.0;
        match c.cmd {
            sys::MACH_IOC_PORT_ALLOCATE => vec![task, RECEIVE.0, 0, 0],
            sys::MACH_IOC_PORT_ALLOCATE_NAME => vec![task, RECEIVE.0, self.fresh.0, 0],
            sys::MACH_IOC_PORT_TYPE => vec![task, self.receive.0, 0, 0],
            sys::MACH_IOC_PORT_NAMES => vec![task, 0, 0, 0, 0, 0, 0, 0],
            sys::MACH_IOC_PORT_GET_REFS => vec![task, self.dead_name.0, DEAD_NAME.0, 0, 0, 0],
            sys::MACH_IOC_PORT_MOD_REFS => vec![task, self.dead_name.0, DEAD_NAME.0, 1, 0, 0],
            sys::MACH_IOC_PORT_DEALLOCATE => vec![task, self.dead_name.0, 0, 0],
            sys::MACH_IOC_PORT_DESTROY => vec![task, self.receive.0, 0, 0],
            sys::MACH_IOC_PORT_INSERT_RIGHT => {
                vec![task, self.receive.0, self.receive.0, MAKE_SEND.0, 0, 0]
            }
            sys::MACH_IOC_PORT_EXTRACT_RIGHT => {
                vec![task, self.receive.0, MAKE_SEND_ONCE.0, 0, 0, 0]
            }
            sys::MACH_IOC_TASK_FOR_FD => vec![self.s.as_raw_fd() as u32, 0, 0, 0],
            // MACH_IOC_API_VERSION, MACH_IOC_REPLY_PORT: all zero.
            _ => vec![0; c.size as usize / 4],
        }
    }
}

/// True for the commands that change the space when they succeed.
fn changes_space(c: &Cmd) -> bool {
    !matches!(
        c.cmd,
        sys::MACH_IOC_API_VERSION
            | sys::MACH_IOC_PORT_TYPE
            | sys::MACH_IOC_PORT_NAMES
            | sys::MACH_IOC_PORT_GET_REFS
    )
}

fn os_error(errno: i32) -> Error {
    Error::Os(io::Error::from_raw_os_error(errno))
}

/// `ioctl(fd, cmd, arg)` as a [`Call`].
///
/// # Safety
///
/// As for [`raw::ioctl`]: `arg` is null, unmapped or not writable, or points
/// to memory of ours of at least the size `cmd` encodes.
unsafe fn raw_call(s: &TestSpace, what: &str, cmd: u32, arg: *mut u8) -> Call<()> {
    // SAFETY: Passed on from the caller.
    let r = unsafe { raw::ioctl(s.space(), cmd, arg) };
    Call::raw(
        format!("ioctl({what} = {cmd:#010x}, {arg:?})"),
        r.map_err(os_error),
    )
}

/// `ioctl(fd, cmd, &mut arg)` for an argument struct without addresses in it.
fn struct_call<T>(s: &TestSpace, what: &str, cmd: u32, arg: &mut T) -> Call<()> {
    let size = (cmd >> 16) & 0x3fff;
    if size as usize != size_of::<T>() {
        let err = io::Error::other(format!("test bug: {what} takes {size} bytes"));
        return Call::raw(what.to_string(), Err(Error::Os(err)));
    }
    // SAFETY: `cmd` encodes the size of `T` (checked above), and the
    // structs used here carry no user addresses.
    let r = unsafe { mach::ioctl_raw(s.space().as_fd(), cmd, arg) };
    Call::raw(format!("ioctl({what})"), r.map_err(Error::Os))
}

/// `MACH_IOC_PORT_NAMES` with `a`, whose arrays the caller chose.
///
/// # Safety
///
/// `a.names` and `a.types` are each null, unmapped, read-only, or our own
/// memory with room for `a.capacity` `u32`s.
unsafe fn names_call(s: &TestSpace, a: &mut sys::PortNamesArgs) -> Call<()> {
    let what = format!(
        "names ioctl (capacity {}, names {:#x}, types {:#x})",
        a.capacity, a.names, a.types
    );
    // SAFETY: The command takes a PortNamesArgs; the caller vouches for the
    // arrays.
    let r = unsafe { mach::ioctl_raw(s.space().as_fd(), sys::MACH_IOC_PORT_NAMES, a) };
    Call::raw(what, r.map_err(Error::Os))
}

fn raw_commands_with_valid_arguments_succeed(_: &mut Ctx) -> TestResult {
    for c in &COMMANDS {
        let f = Fixture::new()?;
        let mut page = Pages::new(1)?;
        page.write_words(0, &f.valid_args(c));
        let before = f.s.state()?;
        // SAFETY: A whole page of ours, larger than any argument struct.
        unsafe { raw_call(&f.s, c.name, c.cmd, page.page(0)) }.succeeds()?;
        if let Some(off) = c.kr_offset {
            expect_eq(
                &format!("{}: kr", c.name),
                sys::KERN_SUCCESS,
                page.read_word(off) as i32,
            )?;
        }
        match c.cmd {
            sys::MACH_IOC_API_VERSION => {
                expect_eq(c.name, sys::MACH_API_VERSION, page.read_word(0))?
            }
            sys::MACH_IOC_REPLY_PORT => {
                let name = PortName(page.read_word(0));
                ensure(name.is_valid(), || format!("{}: gave {name:?}", c.name))?;
                f.s.expect_type(name, PortType::RECEIVE)?;
            }
            _ => {}
        }
        let after = f.s.state()?;
        ensure((after != before) == changes_space(c), || {
            format!(
                "{}: expected the space {}",
                c.name,
                if changes_space(c) {
                    "changed"
                } else {
                    "unchanged"
                }
            )
        })?;
    }
    Ok(())
}

/// Issues each `(what, cmd)` with a page holding `args` and expects `errno`;
/// the space must be unchanged after.
fn each_gives_errno(f: &Fixture, cmds: &[(String, u32, Vec<u32>)], errno: i32) -> TestResult {
    let before = f.s.state()?;
    for (what, cmd, args) in cmds {
        let mut page = Pages::new(1)?;
        page.write_words(0, args);
        // SAFETY: A whole page of ours, larger than any size used here.
        unsafe { raw_call(&f.s, what, *cmd, page.page(0)) }.errno(errno)?;
    }
    f.s.expect_state(&before, &format!("ioctls that give {}", errno_name(errno)))
}

fn unknown_command_gives_enotty(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let cmds: Vec<_> = [(0x7f, 16), (0x00, 8), (0xfe, 24), (0xff, 32)]
        .into_iter()
        .map(|(nr, size)| {
            (
                format!("_IOWR('M', {nr:#x}, {size})"),
                ioc(IOC_READ_WRITE, b'M', nr, size),
                vec![0; 8],
            )
        })
        .collect();
    each_gives_errno(&f, &cmds, libc::ENOTTY)
}

fn command_with_wrong_size_gives_enotty(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let mut cmds = Vec::new();
    for c in &COMMANDS {
        for size in [0, c.size - 4, c.size + 4, c.size + 8, 64] {
            if size != c.size {
                let what = format!("{} with size {size}", c.name);
                cmds.push((what, ioc(IOC_READ_WRITE, b'M', c.nr, size), f.valid_args(c)));
            }
        }
    }
    each_gives_errno(&f, &cmds, libc::ENOTTY)
}

fn command_with_wrong_type_gives_enotty(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let mut cmds = Vec::new();
    for c in &COMMANDS {
        for ty in [b'N', b'm'] {
            let what = format!("{} with type '{}'", c.name, ty as char);
            cmds.push((what, ioc(IOC_READ_WRITE, ty, c.nr, c.size), f.valid_args(c)));
        }
    }
    each_gives_errno(&f, &cmds, libc::ENOTTY)
}

fn command_with_wrong_direction_gives_enotty(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let mut cmds = Vec::new();
    for c in &COMMANDS {
        for (dir, size, label) in [
            (IOC_NONE, 0, "_IO"),
            (IOC_NONE, c.size, "_IOC(NONE)"),
            (IOC_READ, c.size, "_IOR"),
            (IOC_WRITE, c.size, "_IOW"),
        ] {
            let what = format!("{} as {label}", c.name);
            cmds.push((what, ioc(dir, b'M', c.nr, size), f.valid_args(c)));
        }
    }
    each_gives_errno(&f, &cmds, libc::ENOTTY)
}

const RESERVED_VALUES: [u32; 3] = [1, 0x100, 0x8000_0000];

fn api_version_with_nonzero_reserved_field_gives_einval(_: &mut Ctx) -> TestResult {
    let s = TestSpace::open()?;
    for reserved in RESERVED_VALUES {
        let mut a = sys::ApiVersionArgs {
            version: 0,
            reserved,
        };
        struct_call(
            &s,
            &format!("MACH_IOC_API_VERSION, reserved {reserved:#x}"),
            sys::MACH_IOC_API_VERSION,
            &mut a,
        )
        .errno(libc::EINVAL)?;
    }
    Ok(())
}

fn reply_port_with_nonzero_reserved_field_gives_einval_and_changes_nothing(
    _: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    let before = f.s.state()?;
    for reserved in RESERVED_VALUES {
        let mut a = sys::ReplyPortArgs { name: 0, reserved };
        struct_call(
            &f.s,
            &format!("MACH_IOC_REPLY_PORT, reserved {reserved:#x}"),
            sys::MACH_IOC_REPLY_PORT,
            &mut a,
        )
        .errno(libc::EINVAL)?;
    }
    f.s.expect_state(&before, "MACH_IOC_REPLY_PORT with a reserved field set")
}

fn get_refs_with_nonzero_reserved_field_gives_einval(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    for reserved in RESERVED_VALUES {
        let mut a = sys::PortGetRefsArgs {
            task: TASK.0,
            name: f.dead_name.0,
            right: DEAD_NAME.0,
            reserved,
            ..Default::default()
        };
        let what = format!("MACH_IOC_PORT_GET_REFS, reserved {reserved:#x}");
        struct_call(&f.s, &what, sys::MACH_IOC_PORT_GET_REFS, &mut a).errno(libc::EINVAL)?;
    }
    Ok(())
}

fn mod_refs_with_nonzero_reserved_field_gives_einval_and_changes_nothing(
    _: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    let before = f.s.state()?;
    for reserved in RESERVED_VALUES {
        for (name, right, delta) in [
            (f.dead_name, DEAD_NAME, 1),
            (f.dead_name, DEAD_NAME, -2),
            (f.receive, RECEIVE, -1),
        ] {
            let mut a = sys::PortModRefsArgs {
                task: TASK.0,
                name: name.0,
                right: right.0,
                delta,
                kr: 0,
                reserved,
            };
            let what = format!(
                "MACH_IOC_PORT_MOD_REFS {name:?} {} {delta:+}, reserved {reserved:#x}",
                R(right)
            );
            struct_call(&f.s, &what, sys::MACH_IOC_PORT_MOD_REFS, &mut a).errno(libc::EINVAL)?;
        }
    }
    f.s.expect_state(&before, "MACH_IOC_PORT_MOD_REFS with a reserved field set")
}

fn deallocate_with_nonzero_reserved_field_gives_einval_and_changes_nothing(
    _: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    let before = f.s.state()?;
    for reserved in RESERVED_VALUES {
        let mut a = sys::PortNameArgs {
            task: TASK.0,
            name: f.dead_name.0,
            kr: 0,
            reserved,
        };
        let what = format!("MACH_IOC_PORT_DEALLOCATE, reserved {reserved:#x}");
        struct_call(&f.s, &what, sys::MACH_IOC_PORT_DEALLOCATE, &mut a).errno(libc::EINVAL)?;
    }
    f.s.expect_state(
        &before,
        "MACH_IOC_PORT_DEALLOCATE with a reserved field set",
    )
}

fn destroy_with_nonzero_reserved_field_gives_einval_and_changes_nothing(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let before = f.s.state()?;
    for reserved in RESERVED_VALUES {
        for name in [f.receive, f.dead_name] {
            let mut a = sys::PortNameArgs {
                task: TASK.0,
                name: name.0,
                kr: 0,
                reserved,
            };
            let what = format!("MACH_IOC_PORT_DESTROY {name:?}, reserved {reserved:#x}");
            struct_call(&f.s, &what, sys::MACH_IOC_PORT_DESTROY, &mut a).errno(libc::EINVAL)?;
        }
    }
    f.s.expect_state(&before, "MACH_IOC_PORT_DESTROY with a reserved field set")
}

fn insert_right_with_nonzero_reserved_field_gives_einval_and_changes_nothing(
    _: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    let before = f.s.state()?;
    for reserved in RESERVED_VALUES {
        for (name, poly, disposition) in [
            (f.receive, f.receive, MAKE_SEND),
            (f.fresh, f.receive, MOVE_RECEIVE),
            (f.fresh, f.dead_name, MOVE_SEND),
        ] {
            let mut a = sys::PortInsertRightArgs {
                task: TASK.0,
                name: name.0,
                poly: poly.0,
                poly_poly: disposition.0,
                kr: 0,
                reserved,
            };
            let what = format!(
                "MACH_IOC_PORT_INSERT_RIGHT {name:?} {poly:?} {disposition:?}, reserved {reserved:#x}"
            );
            struct_call(&f.s, &what, sys::MACH_IOC_PORT_INSERT_RIGHT, &mut a)
                .errno(libc::EINVAL)?;
        }
    }
    f.s.expect_state(
        &before,
        "MACH_IOC_PORT_INSERT_RIGHT with a reserved field set",
    )
}

fn task_for_fd_with_nonzero_reserved_field_gives_einval_and_changes_nothing(
    _: &mut Ctx,
) -> TestResult {
    let f = Fixture::new()?;
    let other = TestSpace::open()?;
    let before = f.s.state()?;
    for reserved in RESERVED_VALUES {
        for fd in [f.s.as_raw_fd(), other.as_raw_fd()] {
            let mut a = sys::TaskForFdArgs {
                fd,
                task: 0,
                kr: 0,
                reserved,
            };
            let what = format!("MACH_IOC_TASK_FOR_FD {fd}, reserved {reserved:#x}");
            struct_call(&f.s, &what, sys::MACH_IOC_TASK_FOR_FD, &mut a).errno(libc::EINVAL)?;
        }
    }
    f.s.expect_state(&before, "MACH_IOC_TASK_FOR_FD with a reserved field set")
}

/// A names argument for `capacity` entries at the given addresses.
fn names_args(capacity: u32, names: u64, types: u64) -> sys::PortNamesArgs {
    sys::PortNamesArgs {
        task: TASK.0,
        capacity,
        names,
        types,
        ..Default::default()
    }
}

fn names_with_capacity_and_null_names_array_gives_einval(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let mut types = [0u32; 8];
    for capacity in [1, 8] {
        let mut a = names_args(capacity, 0, types.as_mut_ptr() as u64);
        // SAFETY: `types` has room for 8 entries; `names` is null.
        unsafe { names_call(&f.s, &mut a) }.errno(libc::EINVAL)?;
        let mut a = names_args(capacity, 0, 0);
        // SAFETY: Both arrays are null.
        unsafe { names_call(&f.s, &mut a) }.errno(libc::EINVAL)?;
    }
    Ok(())
}

fn names_with_capacity_and_null_types_array_gives_einval(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let mut names = [0u32; 8];
    for capacity in [1, 8] {
        let mut a = names_args(capacity, names.as_mut_ptr() as u64, 0);
        // SAFETY: `names` has room for 8 entries; `types` is null.
        unsafe { names_call(&f.s, &mut a) }.errno(libc::EINVAL)?;
    }
    Ok(())
}

const SENTINEL: u32 = 0xaaaa_aaaa;

fn names_with_zero_capacity_reports_the_count(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let mut a = names_args(0, 0, 0);
    // SAFETY: Both arrays are null.
    unsafe { names_call(&f.s, &mut a) }.succeeds()?;
    expect_eq("kr", sys::KERN_SUCCESS, a.kr)?;
    expect_eq("count", 3, a.count)?;
    // Arrays given with capacity 0 are not written.
    let (mut names, mut types) = ([SENTINEL; 4], [SENTINEL; 4]);
    let mut a = names_args(0, names.as_mut_ptr() as u64, types.as_mut_ptr() as u64);
    // SAFETY: Both arrays are ours, with room for more than 0 entries.
    unsafe { names_call(&f.s, &mut a) }.succeeds()?;
    expect_eq("count", 3, a.count)?;
    expect_eq("the names array", [SENTINEL; 4], names)?;
    expect_eq("the types array", [SENTINEL; 4], types)
}

fn names_with_too_small_capacity_reports_the_count_and_writes_nothing(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    for capacity in [1, 2] {
        let (mut names, mut types) = ([SENTINEL; 4], [SENTINEL; 4]);
        let mut a = names_args(
            capacity,
            names.as_mut_ptr() as u64,
            types.as_mut_ptr() as u64,
        );
        // SAFETY: Both arrays are ours, with room for 4 entries.
        unsafe { names_call(&f.s, &mut a) }.succeeds()?;
        expect_eq("kr", sys::KERN_SUCCESS, a.kr)?;
        expect_eq(&format!("count with capacity {capacity}"), 3, a.count)?;
        expect_eq("the names array", [SENTINEL; 4], names)?;
        expect_eq("the types array", [SENTINEL; 4], types)?;
    }
    Ok(())
}

fn names_with_enough_capacity_fills_both_arrays(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let mut want = vec![
        (TASK, PortType::SEND),
        (f.receive, PortType::RECEIVE),
        (f.dead_name, PortType::DEAD_NAME),
    ];
    want.sort_by_key(|&(name, _)| name);
    for capacity in [3, 8] {
        let (mut names, mut types) = ([SENTINEL; 8], [SENTINEL; 8]);
        let mut a = names_args(
            capacity,
            names.as_mut_ptr() as u64,
            types.as_mut_ptr() as u64,
        );
        // SAFETY: Both arrays are ours, with room for 8 entries.
        unsafe { names_call(&f.s, &mut a) }.succeeds()?;
        expect_eq("kr", sys::KERN_SUCCESS, a.kr)?;
        expect_eq("count", 3, a.count)?;
        let got: Vec<_> = names[..3]
            .iter()
            .zip(&types[..3])
            .map(|(&n, &t)| (PortName(n), PortType(t)))
            .collect();
        expect_eq(
            &format!("the arrays with capacity {capacity}"),
            want.clone(),
            got,
        )?;
    }
    Ok(())
}

/// Issues every command with `arg(c)` as its argument address and expects
/// EFAULT, with the space unchanged.
///
/// `arg` gives the address and the mapping it lies in, kept until the call
/// is done.
fn every_command_faults(
    f: &Fixture,
    how: &str,
    arg: impl Fn(&Cmd) -> Result<(*mut u8, Option<Pages>), String>,
) -> TestResult {
    let before = f.s.state()?;
    for c in &COMMANDS {
        let (ptr, _keep) = arg(c)?;
        // SAFETY: `ptr` is null, unmapped or partly unmapped: the kernel
        // cannot use it, and nothing of ours is written.
        unsafe { raw_call(&f.s, c.name, c.cmd, ptr) }.errno(libc::EFAULT)?;
    }
    f.s.expect_state(&before, &format!("every command with {how}"))
}

fn null_argument_gives_efault(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    every_command_faults(&f, "a null argument", |_| Ok((std::ptr::null_mut(), None)))
}

fn unmapped_argument_gives_efault_and_changes_nothing(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    every_command_faults(&f, "an unmapped argument", |_| {
        let mut pages = Pages::new(1)?;
        pages.unmap(0)?;
        Ok((pages.page(0), Some(pages)))
    })
}

fn argument_running_into_unmapped_page_gives_efault_and_changes_nothing(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    every_command_faults(&f, "an argument whose last word is unmapped", |c| {
        let mut pages = Pages::new(2)?;
        let args = f.valid_args(c);
        let start = pages.page_len() - (c.size as usize - 4);
        pages.write_words(start, &args[..args.len() - 1]);
        pages.unmap(1)?;
        Ok((pages.at(start), Some(pages)))
    })
}

fn read_only_argument_gives_efault(_: &mut Ctx) -> TestResult {
    // Every command, those that change the space included: the module makes
    // sure it can write its answer back before it acts, so a read-only
    // argument fails the call and changes nothing.
    let f = Fixture::new()?;
    let before = f.s.state()?;
    for c in COMMANDS.iter() {
        let mut page = Pages::new(1)?;
        page.write_words(0, &f.valid_args(c));
        page.make_read_only(0)?;
        // SAFETY: The page is ours and read-only: the kernel cannot write it.
        unsafe { raw_call(&f.s, c.name, c.cmd, page.page(0)) }.errno(libc::EFAULT)?;
    }
    f.s.expect_state(&before, "read-only arguments")
}

/// A names call with one array at `bad` and the other a good buffer, both
/// ways round, expecting EFAULT. The space holds 3 names.
fn names_array_faults(f: &Fixture, capacity: u32, bad: *mut u8) -> TestResult {
    let mut buffer = [SENTINEL; 8];
    let good = buffer.as_mut_ptr() as u64;
    for (names, types) in [(bad as u64, good), (good, bad as u64)] {
        let mut a = names_args(capacity, names, types);
        // SAFETY: `good` has room for 8 entries; `bad` cannot be written.
        unsafe { names_call(&f.s, &mut a) }.errno(libc::EFAULT)?;
    }
    Ok(())
}

fn names_with_unmapped_array_gives_efault(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let mut pages = Pages::new(1)?;
    pages.unmap(0)?;
    names_array_faults(&f, 8, pages.page(0))
}

fn names_with_read_only_array_gives_efault(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let mut pages = Pages::new(1)?;
    pages.make_read_only(0)?;
    names_array_faults(&f, 8, pages.page(0))?;
    // Nothing was written.
    expect_eq("the read-only page", 0, pages.read_word(0))
}

fn names_with_array_running_into_unmapped_page_gives_efault(_: &mut Ctx) -> TestResult {
    let f = Fixture::new()?;
    let mut pages = Pages::new(2)?;
    pages.unmap(1)?;
    // Room for two of the three entries before the hole.
    let start = pages.page_len() - 8;
    names_array_faults(&f, 3, pages.at(start))
}
