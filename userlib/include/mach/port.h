/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Mach on Linux: port names, rights and types (XNU osfmk/mach/port.h).
 * The numbers are uapi/src/abi.rs's.
 */
#ifndef _MACH_PORT_H_
#define _MACH_PORT_H_

#include <mach/boolean.h>
#include <mach/vm_types.h>

typedef natural_t mach_port_name_t;
typedef mach_port_name_t *mach_port_name_array_t;

/* In user space a port is known by its name. */
typedef mach_port_name_t mach_port_t;
typedef mach_port_t *mach_port_array_t;

#define MACH_PORT_NULL          0
#define MACH_PORT_DEAD          ((mach_port_name_t) ~0)
#define MACH_PORT_VALID(name) \
	(((name) != MACH_PORT_NULL) && ((name) != MACH_PORT_DEAD))

/* Kernel-chosen names are index << 8 | generation. */
#define MACH_PORT_INDEX(name)           ((name) >> 8)
#define MACH_PORT_GEN(name)             (((name) & 0xff) << 24)
#define MACH_PORT_MAKE(index, gen)      (((index) << 8) | (gen) >> 24)

typedef natural_t mach_port_right_t;

#define MACH_PORT_RIGHT_SEND            ((mach_port_right_t) 0)
#define MACH_PORT_RIGHT_RECEIVE         ((mach_port_right_t) 1)
#define MACH_PORT_RIGHT_SEND_ONCE       ((mach_port_right_t) 2)
#define MACH_PORT_RIGHT_PORT_SET        ((mach_port_right_t) 3)
#define MACH_PORT_RIGHT_DEAD_NAME       ((mach_port_right_t) 4)
#define MACH_PORT_RIGHT_LABELH          ((mach_port_right_t) 5) /* obsolete */
#define MACH_PORT_RIGHT_NUMBER          ((mach_port_right_t) 6)

typedef natural_t mach_port_type_t;
typedef mach_port_type_t *mach_port_type_array_t;

#define MACH_PORT_TYPE(right) \
	((mach_port_type_t)(((mach_port_type_t) 1) << ((right) + ((mach_port_right_t) 16))))
#define MACH_PORT_TYPE_NONE             ((mach_port_type_t) 0L)
#define MACH_PORT_TYPE_SEND             MACH_PORT_TYPE(MACH_PORT_RIGHT_SEND)
#define MACH_PORT_TYPE_RECEIVE          MACH_PORT_TYPE(MACH_PORT_RIGHT_RECEIVE)
#define MACH_PORT_TYPE_SEND_ONCE        MACH_PORT_TYPE(MACH_PORT_RIGHT_SEND_ONCE)
#define MACH_PORT_TYPE_PORT_SET         MACH_PORT_TYPE(MACH_PORT_RIGHT_PORT_SET)
#define MACH_PORT_TYPE_DEAD_NAME        MACH_PORT_TYPE(MACH_PORT_RIGHT_DEAD_NAME)
#define MACH_PORT_TYPE_LABELH           MACH_PORT_TYPE(MACH_PORT_RIGHT_LABELH) /* obsolete */

/* Pseudo-bits for pending requests. */
#define MACH_PORT_TYPE_DNREQUEST                0x80000000
#define MACH_PORT_TYPE_SPREQUEST                0x40000000
#define MACH_PORT_TYPE_SPREQUEST_DELAYED        0x20000000

#define MACH_PORT_TYPE_SEND_RECEIVE \
	(MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_RECEIVE)
#define MACH_PORT_TYPE_SEND_RIGHTS \
	(MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_SEND_ONCE)
#define MACH_PORT_TYPE_PORT_RIGHTS \
	(MACH_PORT_TYPE_SEND_RIGHTS | MACH_PORT_TYPE_RECEIVE)
#define MACH_PORT_TYPE_PORT_OR_DEAD \
	(MACH_PORT_TYPE_PORT_RIGHTS | MACH_PORT_TYPE_DEAD_NAME)
#define MACH_PORT_TYPE_ALL_RIGHTS \
	(MACH_PORT_TYPE_PORT_OR_DEAD | MACH_PORT_TYPE_PORT_SET)

typedef natural_t mach_port_urefs_t;
typedef integer_t mach_port_delta_t;
typedef natural_t mach_port_seqno_t;
typedef natural_t mach_port_mscount_t;
typedef natural_t mach_port_msgcount_t;
typedef natural_t mach_port_rights_t;

/* The most user references a send right or dead name can hold. */
#define MACH_PORT_UREFS_MAX             ((mach_port_urefs_t) 0xffff)

/* A value a receive right carries for its holder (unused here). */
typedef vm_offset_t mach_port_context_t;

/*
 * Port attributes (mach_port_get_attributes, mach_port_set_attributes):
 * an array of natural_t words whose layout the flavor gives.
 */
typedef int mach_port_flavor_t;
typedef integer_t *mach_port_info_t;

#define MACH_PORT_LIMITS_INFO           1       /* mach_port_limits_t (get, set) */
#define MACH_PORT_RECEIVE_STATUS        2       /* mach_port_status_t (get) */
#define MACH_PORT_DNREQUESTS_SIZE       3       /* one word, 0 (get) */
#define MACH_PORT_TEMPOWNER             4       /* not supported */
#define MACH_PORT_IMPORTANCE_RECEIVER   5       /* not supported */
#define MACH_PORT_DENAP_RECEIVER        6       /* not supported */
#define MACH_PORT_INFO_EXT              7       /* not supported */
#define MACH_PORT_GUARD_INFO            8       /* not supported */

typedef struct mach_port_limits {
	mach_port_msgcount_t    mpl_qlimit;     /* messages the queue holds */
} mach_port_limits_t;

typedef struct mach_port_status {
	mach_port_rights_t      mps_pset;       /* containing port set (0: none) */
	mach_port_seqno_t       mps_seqno;      /* sequence number */
	mach_port_mscount_t     mps_mscount;    /* make-send count */
	mach_port_msgcount_t    mps_qlimit;     /* queue limit */
	mach_port_msgcount_t    mps_msgcount;   /* messages in the queue */
	mach_port_rights_t      mps_sorights;   /* send-once rights */
	boolean_t               mps_srights;    /* do send rights exist? */
	boolean_t               mps_pdrequest;  /* port-destroyed requested or backup set? */
	boolean_t               mps_nsrequest;  /* no-senders requested? */
	natural_t               mps_flags;      /* port flags (0) */
} mach_port_status_t;

#define MACH_PORT_LIMITS_INFO_COUNT \
	((natural_t)(sizeof(mach_port_limits_t) / sizeof(natural_t)))
#define MACH_PORT_RECEIVE_STATUS_COUNT \
	((natural_t)(sizeof(mach_port_status_t) / sizeof(natural_t)))
#define MACH_PORT_DNREQUESTS_SIZE_COUNT 1

#define MACH_PORT_SRIGHTS_NONE          0
#define MACH_PORT_SRIGHTS_PRESENT       1

#define MACH_PORT_QLIMIT_ZERO           0
#define MACH_PORT_QLIMIT_BASIC          5
#define MACH_PORT_QLIMIT_SMALL          16
#define MACH_PORT_QLIMIT_LARGE          1024
#define MACH_PORT_QLIMIT_KERNEL         65534
#define MACH_PORT_QLIMIT_MIN            MACH_PORT_QLIMIT_ZERO
#define MACH_PORT_QLIMIT_DEFAULT        MACH_PORT_QLIMIT_BASIC
#define MACH_PORT_QLIMIT_MAX            MACH_PORT_QLIMIT_LARGE

#endif /* _MACH_PORT_H_ */
