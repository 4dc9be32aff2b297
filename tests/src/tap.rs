//! A small TAP 13 harness for programs that run inside the test VM.
//!
//! A test is a plain function `fn(&mut Ctx) -> Result<(), String>`: `Ok` is a
//! pass, `Err(why)` a failure whose message says what was expected and what
//! came back. Tests are listed in a table with [`tests!`](crate::tests), which
//! names each one after its function.
//!
//! Each test runs in a child process of its own (`fork`), so that a test that
//! panics (the workspace builds with `panic = "abort"`), hangs past its
//! timeout or is killed by a signal is reported as `not ok` and the run goes
//! on. A child sends its diagnostics and its result back through a pipe; only
//! the parent writes the TAP stream, so the output stays in order:
//!
//! ```text
//! TAP version 13
//! 1..2
//! ok 1 - first_test
//! not ok 2 - second_test # port_type(0x103, 0x207): expected KERN_INVALID_NAME, got KERN_SUCCESS (RECEIVE)
//! # 1 passed, 1 failed
//! ```
//!
//! The harness knows nothing about Mach; another test binary can use it with
//! `mod tap;` and its own table.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// What a test function returns: `Err` carries the failure message.
pub type TestResult = Result<(), String>;

/// A test function.
pub type TestFn = fn(&mut Ctx) -> TestResult;

/// How long a test may run before it is killed and reported as failed.
pub const DEFAULT_TIMEOUT_SECS: u32 = 120;

/// Tests slower than this get a `# took ...` diagnostic line.
const REPORT_DURATION_OVER: Duration = Duration::from_secs(2);

/// One entry of a test table.
pub struct Test {
    pub name: &'static str,
    pub run: TestFn,
    pub timeout_secs: u32,
}

/// Builds a `&[Test]` table from test functions, each named after its
/// function. A function may carry its own timeout in seconds: `slow_test @ 600`.
#[macro_export]
macro_rules! tests {
    (@timeout) => { $crate::tap::DEFAULT_TIMEOUT_SECS };
    (@timeout $secs:expr) => { $secs };
    ($($f:ident $(@ $secs:expr)?),* $(,)?) => {
        &[$($crate::tap::Test {
            name: stringify!($f),
            run: $f,
            timeout_secs: $crate::tests!(@timeout $($secs)?),
        }),*]
    };
}

/// What a running test can use besides its checks.
#[derive(Default)]
pub struct Ctx {
    diagnostics: Vec<String>,
}

impl Ctx {
    /// Adds a diagnostic line, printed as `# line` after the test's result.
    pub fn diag(&mut self, line: impl Into<String>) {
        self.diagnostics.push(line.into());
    }
}

/// Prints `Bail out! reason` and exits with status 1.
pub fn bail_out(reason: &str) -> ! {
    println!("Bail out! {reason}");
    let _ = io::stdout().flush();
    std::process::exit(1);
}

/// Runs `tests` in order and prints the TAP stream. True when all passed.
pub fn run(tests: &[&Test]) -> bool {
    println!("TAP version 13");
    let mut seen = HashSet::new();
    for t in tests {
        if !seen.insert(t.name) {
            bail_out(&format!("two tests are named {}", t.name));
        }
    }
    println!("1..{}", tests.len());
    let (mut passed, mut failed) = (0usize, 0usize);
    for (i, test) in tests.iter().enumerate() {
        let number = i + 1;
        let start = Instant::now();
        let report = run_isolated(test);
        let took = start.elapsed();
        match &report.failure {
            None => {
                passed += 1;
                println!("ok {number} - {}", test.name);
            }
            Some(why) => {
                failed += 1;
                let mut lines = why.lines();
                let first = lines.next().unwrap_or("failed");
                println!(
                    "not ok {number} - {} # {}",
                    test.name,
                    directive_safe(first)
                );
                for line in lines {
                    println!("# {line}");
                }
            }
        }
        for line in report.diagnostics.iter().flat_map(|d| d.lines()) {
            println!("# {line}");
        }
        if took > REPORT_DURATION_OVER {
            println!("# {} took {:.1} s", test.name, took.as_secs_f64());
        }
        let _ = io::stdout().flush();
    }
    println!("# {passed} passed, {failed} failed");
    let _ = io::stdout().flush();
    failed == 0
}

/// A text after `# ` that starts with SKIP or TODO would be read as a TAP
/// directive; such a failure message is shifted so that it is not.
fn directive_safe(msg: &str) -> String {
    let lower = msg.trim_start().to_ascii_lowercase();
    if lower.starts_with("skip") || lower.starts_with("todo") {
        format!("- {msg}")
    } else {
        msg.to_string()
    }
}

/// How one test went.
struct Report {
    failure: Option<String>,
    diagnostics: Vec<String>,
}

impl Report {
    fn failed(why: String) -> Report {
        Report {
            failure: Some(why),
            diagnostics: Vec::new(),
        }
    }
}

// Records a child sends to its parent: a tag byte, UTF-8 text, a NUL.
const TAG_DIAG: u8 = b'D';
const TAG_PASS: u8 = b'K';
const TAG_FAIL: u8 = b'E';
const TAG_PANIC: u8 = b'P';

/// The write end of the result pipe, for the panic hook of a child.
static RESULT_FD: AtomicI32 = AtomicI32::new(-1);

fn run_isolated(test: &Test) -> Report {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Report::failed(format!("pipe2: {}", io::Error::last_os_error()));
    }
    let [read_fd, write_fd] = fds;
    // Whatever is buffered would otherwise be written twice, once by the child.
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
    // SAFETY: This program is single-threaded, so the child is a full copy
    // of a consistent process; it only runs the test and leaves by `_exit`.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let err = io::Error::last_os_error();
        // SAFETY: Both ends are ours and closed once.
        unsafe {
            libc::close(read_fd);
            libc::close(write_fd);
        }
        return Report::failed(format!("fork: {err}"));
    }
    if pid == 0 {
        // SAFETY: The child's copy of the read end is unused.
        unsafe { libc::close(read_fd) };
        run_child(test, write_fd);
    }
    // SAFETY: The parent's copy of the write end is not used again.
    unsafe { libc::close(write_fd) };
    // SAFETY: `read_fd` is an open descriptor owned by nothing else.
    let mut pipe = unsafe { File::from_raw_fd(read_fd) };
    let mut bytes = Vec::new();
    let read_error = pipe.read_to_end(&mut bytes).err();
    drop(pipe);
    let status = match wait_for(pid) {
        Ok(status) => status,
        Err(e) => return Report::failed(format!("waitpid: {e}")),
    };

    let mut diagnostics = Vec::new();
    let (mut passed, mut failure, mut panic) = (false, None, None);
    for record in bytes.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let text = String::from_utf8_lossy(&record[1..]).into_owned();
        match record[0] {
            TAG_DIAG => diagnostics.push(text),
            TAG_PASS => passed = true,
            TAG_FAIL => failure = Some(text),
            TAG_PANIC => panic = Some(text),
            other => diagnostics.push(format!("unknown record {other:#x} from the test process")),
        }
    }
    if let Some(e) = read_error {
        diagnostics.push(format!("reading the test's result: {e}"));
    }

    let failure = if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        match (passed, failure) {
            (true, None) => None,
            (_, Some(why)) => Some(why),
            (false, None) => Some("the test process exited without a result".to_string()),
        }
    } else if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        Some(match (sig, panic) {
            (_, Some(p)) => p,
            (libc::SIGALRM, None) => format!("timed out after {} s", test.timeout_secs),
            (_, None) => format!("killed by signal {sig} ({})", signal_name(sig)),
        })
    } else {
        Some(format!(
            "the test process exited with status {}",
            libc::WEXITSTATUS(status)
        ))
    };
    Report {
        failure,
        diagnostics,
    }
}

/// The child's side: run the test, send the outcome, leave.
fn run_child(test: &Test, fd: libc::c_int) -> ! {
    RESULT_FD.store(fd, Ordering::SeqCst);
    std::panic::set_hook(Box::new(|info| {
        let text = info.to_string().replace('\n', " ");
        send(RESULT_FD.load(Ordering::SeqCst), TAG_PANIC, &text);
    }));
    // Anything a test prints goes to stderr, out of the TAP stream.
    // SAFETY: dup2 on the standard descriptors; nothing holds fd 1 open
    // for its own use.
    unsafe { libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) };
    // SAFETY: alarm has no memory-safety preconditions; SIGALRM's default
    // action ends the child, which the parent reports as a timeout.
    unsafe { libc::alarm(test.timeout_secs) };

    let mut ctx = Ctx::default();
    let result = (test.run)(&mut ctx);
    for line in &ctx.diagnostics {
        send(fd, TAG_DIAG, line);
    }
    match result {
        Ok(()) => send(fd, TAG_PASS, ""),
        Err(why) => send(fd, TAG_FAIL, &why),
    }
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
    // SAFETY: Leaves the child at once, without running the parent's
    // exit-time cleanups a second time.
    unsafe { libc::_exit(0) }
}

/// Writes one record to the pipe (best effort: the parent reports a child
/// that sent nothing).
fn send(fd: libc::c_int, tag: u8, text: &str) {
    let mut record = Vec::with_capacity(text.len() + 2);
    record.push(tag);
    record.extend(text.bytes().map(|b| if b == 0 { b' ' } else { b }));
    record.push(0);
    let mut rest = &record[..];
    while !rest.is_empty() {
        // SAFETY: `rest` is valid for reads of `rest.len()` bytes.
        let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        rest = &rest[n as usize..];
    }
}

fn wait_for(pid: libc::pid_t) -> io::Result<libc::c_int> {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid int for waitpid to fill.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            return Ok(status);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

fn signal_name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGTERM => "SIGTERM",
        libc::SIGPIPE => "SIGPIPE",
        _ => "?",
    }
}
