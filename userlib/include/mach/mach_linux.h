/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Mach on Linux: extensions that macOS does not have. <mach/mach.h>
 * includes this header; a program that must also build on macOS can test
 * for __linux__ around their use.
 */
#ifndef _MACH_MACH_LINUX_H_
#define _MACH_MACH_LINUX_H_

#include <mach/mach_types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Linux extension: a send right to the task port of the IPC space behind
 * fd, another open("/dev/mach") descriptor of the caller, under a name in
 * the caller's space (*task). With it the mach_port_* calls act on that
 * space: allocate rights there, list its names, insert rights into it and
 * extract rights from it.
 *
 * If the caller already holds a send right to that task port, the same name
 * comes back with one more user reference (task_for_fd on the library's own
 * descriptor gives mach_task_self()).
 *
 * A space, and its task port, lives as long as its open file: until the
 * last descriptor for it closes (copies made by dup(), fork() or SCM_RIGHTS
 * included). Then every send right to its task port becomes a dead name,
 * and using one as a task gives KERN_INVALID_TASK.
 *
 * Results: KERN_SUCCESS; KERN_INVALID_ARGUMENT when fd is not open (EBADF
 * from the module) or is not /dev/mach, or task is NULL; and the results
 * every call can give (<mach/mach_port.h>).
 */
kern_return_t task_for_fd(int fd, mach_port_t *task);

#ifdef __cplusplus
}
#endif

#endif /* _MACH_MACH_LINUX_H_ */
