/* SPDX-License-Identifier: GPL-2.0-only */
/* Mach on Linux: the task's own port and the reply port. */
#ifndef _MACH_MACH_INIT_H_
#define _MACH_MACH_INIT_H_

#include <mach/mach_types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The caller's name for its own task port: always 0x103, in every process
 * (after fork() too). Reading it never opens /dev/mach.
 */
extern mach_port_t mach_task_self_;
#define mach_task_self() mach_task_self_
#define current_task() mach_task_self()

/*
 * A new receive right in the caller's space; MACH_PORT_NULL when it cannot be
 * created (space full, out of memory, /dev/mach cannot be opened).
 */
extern mach_port_t mach_reply_port(void);

/*
 * Linux extension: the /dev/mach ABI version the module speaks
 * (MACH_API_VERSION of <mach/mach_ioctl.h>), or 0 when /dev/mach cannot be
 * opened or does not answer. A cheap way to ask whether Mach IPC is there.
 */
extern unsigned int mach_ipc_api_version(void);

#ifdef __cplusplus
}
#endif

#endif /* _MACH_MACH_INIT_H_ */
