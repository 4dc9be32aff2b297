/* SPDX-License-Identifier: GPL-2.0-only */
/* Mach on Linux: mach_error_string (XNU libsyscall mach/mach_error.h). */
#ifndef _MACH_MACH_ERROR_H_
#define _MACH_MACH_ERROR_H_

#include <mach/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A static description of a Mach error, macOS's text: "(os/kern) invalid
 * name" and so on for every kern_return_t and for the mach_msg and MIG
 * codes; "unknown error code" or "(.../?) unknown ..." otherwise. Never NULL;
 * the string must not be modified.
 */
char *mach_error_string(mach_error_t error_value);

#ifdef __cplusplus
}
#endif

#endif /* _MACH_MACH_ERROR_H_ */
