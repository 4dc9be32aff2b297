/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Mach on Linux: the NDR record MIG messages carry after their header
 * (XNU osfmk/mach/ndr.h), as in kernel notifications (<mach/notify.h>).
 */
#ifndef _MACH_NDR_H_
#define _MACH_NDR_H_

typedef struct {
	unsigned char mig_vers;
	unsigned char if_vers;
	unsigned char reserved1;
	unsigned char mig_encoding;
	unsigned char int_rep;
	unsigned char char_rep;
	unsigned char float_rep;
	unsigned char reserved2;
} NDR_record_t;

/* The one supported protocol for Network Data Representation. */
#define NDR_PROTOCOL_2_0        0

/* NDR 2.0 format flags. */
#define NDR_INT_BIG_ENDIAN      0
#define NDR_INT_LITTLE_ENDIAN   1
#define NDR_FLOAT_IEEE          0
#define NDR_FLOAT_VAX           1
#define NDR_FLOAT_CRAY          2
#define NDR_FLOAT_IBM           3
#define NDR_CHAR_ASCII          0
#define NDR_CHAR_EBCDIC         1

#ifdef __cplusplus
extern "C" {
#endif

/*
 * This machine's record, {0, 0, 0, 0, NDR_INT_LITTLE_ENDIAN, 0, 0, 0}: the
 * one every notification the module sends carries (abi.rs NDR_RECORD).
 */
extern NDR_record_t NDR_record;

#ifdef __cplusplus
}
#endif

#endif /* _MACH_NDR_H_ */
