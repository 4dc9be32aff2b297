/* SPDX-License-Identifier: GPL-2.0-only */
/* Mach on Linux: the port types the calls take (XNU mach/mach_types.h). */
#ifndef _MACH_MACH_TYPES_H_
#define _MACH_MACH_TYPES_H_

#include <mach/boolean.h>
#include <mach/vm_types.h>
#include <mach/kern_return.h>
#include <mach/port.h>
#include <mach/message.h>

typedef mach_port_t task_t;
typedef mach_port_t task_name_t;
typedef mach_port_t thread_t;
typedef mach_port_t thread_act_t;
typedef mach_port_t ipc_space_t;
typedef mach_port_t host_t;
typedef mach_port_t vm_map_t;

#define TASK_NULL       ((task_t) 0)
#define THREAD_NULL     ((thread_t) 0)
#define IPC_SPACE_NULL  ((ipc_space_t) 0)
#define HOST_NULL       ((host_t) 0)
#define VM_MAP_NULL     ((vm_map_t) 0)

#endif /* _MACH_MACH_TYPES_H_ */
