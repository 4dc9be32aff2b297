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

/*
 * Mach 2.5's port_set_backup, which macOS does not have: makes the port
 * backup (a send right in the caller's space, which keeps its reference;
 * MACH_PORT_NULL for none) the backup of the receive right primary in
 * task's space, in one atomic exchange. When primary's receive right would
 * be destroyed (mach_port_destroy, mach_port_mod_refs(RECEIVE, -1), its
 * space closing), it is sent instead to backup in a
 * MACH_NOTIFY_PORT_DESTROYED message (<mach/notify.h>; msgh_bits local
 * type MACH_MSG_TYPE_PORT_SEND) with its queued messages, and primary has
 * no backup any more. A backup and a MACH_NOTIFY_PORT_DESTROYED request
 * (mach_port_request_notification) share one slot: each replaces the other.
 *
 * *previous: the caller's name for a send right to the previous backup, or
 * MACH_PORT_NULL if there was none or it has died.
 *
 * Results: KERN_SUCCESS; KERN_INVALID_ARGUMENT when task is not a task,
 * primary is MACH_PORT_NULL, MACH_PORT_DEAD or not in use, or backup is
 * not a send right (MACH_PORT_DEAD, a dead name, a receive or send-once
 * right, not in use), or previous is NULL; KERN_NOT_RECEIVER when primary
 * is not a receive right; and the results every call can give
 * (<mach/mach_port.h>).
 */
kern_return_t port_set_backup(mach_port_t task, mach_port_name_t primary,
			      mach_port_t backup, mach_port_t *previous);

#ifdef __cplusplus
}
#endif

#endif /* _MACH_MACH_LINUX_H_ */
