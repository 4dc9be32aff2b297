/* SPDX-License-Identifier: GPL-2.0-only */
/* Mach on Linux: vm_deallocate, to free what mach_port_names returns. */
#ifndef _MACH_VM_MAP_H_
#define _MACH_VM_MAP_H_

#include <mach/mach_types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Unmaps (munmap) the pages holding [address, address + size): the address
 * is rounded down and the end up to a page boundary, as XNU does. size 0:
 * KERN_SUCCESS, nothing done. target other than mach_task_self(), a range
 * that wraps around the address space, or one munmap refuses:
 * KERN_INVALID_ARGUMENT. Never opens /dev/mach.
 */
kern_return_t vm_deallocate(vm_map_t target_task, vm_address_t address,
			    vm_size_t size);

#ifdef __cplusplus
}
#endif

#endif /* _MACH_VM_MAP_H_ */
