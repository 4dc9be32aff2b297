/* SPDX-License-Identifier: GPL-2.0-only */
/* Mach on Linux: the machine-sized basic types, as on macOS (LP64). */
#ifndef _MACH_VM_TYPES_H_
#define _MACH_VM_TYPES_H_

#include <stdint.h>

typedef unsigned int natural_t;
typedef int integer_t;

typedef uintptr_t vm_offset_t;
typedef uintptr_t vm_size_t;
typedef vm_offset_t vm_address_t;
typedef uint64_t mach_vm_address_t;
typedef uint64_t mach_vm_offset_t;
typedef uint64_t mach_vm_size_t;

#endif /* _MACH_VM_TYPES_H_ */
