/* SPDX-License-Identifier: GPL-2.0-only */
/* Mach on Linux: boolean_t, as on macOS. */
#ifndef _MACH_BOOLEAN_H_
#define _MACH_BOOLEAN_H_

#if defined(__x86_64__)
typedef unsigned int boolean_t;
#else
typedef int boolean_t;
#endif

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif

#endif /* _MACH_BOOLEAN_H_ */
