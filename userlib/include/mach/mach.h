/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Mach on Linux: the Mach IPC API of macOS's <mach/mach.h>, over the
 * /dev/mach kernel module. Link with libmach.a (and -lpthread).
 */
#ifndef _MACH_H_
#define _MACH_H_

#include <mach/boolean.h>
#include <mach/vm_types.h>
#include <mach/kern_return.h>
#include <mach/port.h>
#include <mach/message.h>
#include <mach/ndr.h>
#include <mach/notify.h>
#include <mach/mach_types.h>
#include <mach/mach_init.h>
#include <mach/mach_port.h>
#include <mach/vm_map.h>
#include <mach/error.h>
#include <mach/mach_error.h>
#include <mach/mach_linux.h>

#endif /* _MACH_H_ */
