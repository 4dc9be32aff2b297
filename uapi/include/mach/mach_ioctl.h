/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The /dev/mach ioctl ABI, in C. It mirrors uapi/src/abi.rs, the single
 * source of truth, number for number; the assertions at the end check the
 * same sizes, offsets and command values abi.rs checks.
 *
 * Every argument struct is read and rewritten by the module (_IOWR). A Mach
 * result (kern_return_t) travels in the struct's kr field; the ioctl itself
 * returns 0, or -1 with errno for a transport error (ENOTTY for an unknown
 * command, EINVAL for a non-zero reserved field or a names or set-status
 * call with a non-zero capacity and a null array, EFAULT for an unreadable
 * or unwritable address, EINTR for a MACH_IOC_MSG a signal interrupted).
 * Reserved fields must be zero.
 *
 * Most programs want <mach/mach.h> and libmach.a instead.
 */
#ifndef _MACH_MACH_IOCTL_H_
#define _MACH_MACH_IOCTL_H_

#include <stddef.h>
#include <linux/types.h>
#include <linux/ioctl.h>

/* The version of this ABI, answered by MACH_IOC_API_VERSION. */
#define MACH_API_VERSION        4

/* The name of every space's send right to its own task (mach_task_self()). */
#define MACH_TASK_SELF_NAME     0x103u

/* The most names one space can hold, the task-self name included. */
#define MACH_SPACE_MAX_NAMES    (1u << 18)

/*
 * Limits of this implementation for messages; beyond each, a send gives
 * MACH_SEND_TOO_LARGE. MACH_MSG_SIZE_LIMIT is abi.rs's MACH_MSG_SIZE_MAX,
 * renamed here because <mach/message.h> has XNU's MACH_MSG_SIZE_MAX
 * (~0, "no fixed upper bound").
 */
/* The largest message one send may carry: header and inline body, no trailer. */
#define MACH_MSG_SIZE_LIMIT     (1u << 20)
/* The largest out-of-line region one descriptor may carry. */
#define MACH_MSG_OOL_SIZE_MAX   (1u << 28)
/* The most out-of-line bytes one message may carry in total. */
#define MACH_MSG_OOL_TOTAL_MAX  (1ull << 28)
/* The most port rights one message may carry (descriptors and OOL arrays). */
#define MACH_MSG_RIGHTS_MAX     (1u << 16)

/* The most 32-bit words a port attribute flavor has (the size of info[]). */
#define MACH_PORT_INFO_MAX      10

#define MACH_IOC_MAGIC          'M'

/* MACH_IOC_API_VERSION: version is out. */
struct mach_api_version_args {
	__u32 version;
	__u32 reserved;
};

/*
 * MACH_IOC_PORT_ALLOCATE (mach_port_allocate: name is out) and
 * MACH_IOC_PORT_ALLOCATE_NAME (mach_port_allocate_name: name is in).
 */
struct mach_port_allocate_args {
	__u32 task;
	__u32 right;
	__u32 name;
	__s32 kr;
};

/* MACH_IOC_REPLY_PORT: name is out, MACH_PORT_NULL on failure. */
struct mach_reply_port_args {
	__u32 name;
	__u32 reserved;
};

/* MACH_IOC_PORT_TYPE: ptype is out. */
struct mach_port_type_args {
	__u32 task;
	__u32 name;
	__u32 ptype;
	__s32 kr;
};

/*
 * MACH_IOC_PORT_NAMES: names and types are user addresses of two arrays of
 * capacity __u32s (either may be 0 to ask only for the count). count is
 * always set to the number of names in the space; the arrays are written
 * only when count <= capacity.
 */
struct mach_port_names_args {
	__u32 task;
	__u32 capacity;
	__u64 names;
	__u64 types;
	__u32 count;
	__s32 kr;
};

/* MACH_IOC_PORT_GET_REFS: refs is out. */
struct mach_port_get_refs_args {
	__u32 task;
	__u32 name;
	__u32 right;
	__u32 refs;
	__s32 kr;
	__u32 reserved;
};

/* MACH_IOC_PORT_MOD_REFS. */
struct mach_port_mod_refs_args {
	__u32 task;
	__u32 name;
	__u32 right;
	__s32 delta;
	__s32 kr;
	__u32 reserved;
};

/* MACH_IOC_PORT_DEALLOCATE and MACH_IOC_PORT_DESTROY. */
struct mach_port_name_args {
	__u32 task;
	__u32 name;
	__s32 kr;
	__u32 reserved;
};

/* MACH_IOC_PORT_INSERT_RIGHT: the caller's right poly, taken as poly_poly
 * (a MACH_MSG_TYPE_* disposition) says, goes into task's space under name. */
struct mach_port_insert_right_args {
	__u32 task;
	__u32 name;
	__u32 poly;
	__u32 poly_poly;
	__s32 kr;
	__u32 reserved;
};

/* MACH_IOC_PORT_EXTRACT_RIGHT: the right name in task's space, taken as
 * msgt_name says, comes into the caller's space as poly (out), of type
 * poly_poly (out, MACH_MSG_TYPE_PORT_*). */
struct mach_port_extract_right_args {
	__u32 task;
	__u32 name;
	__u32 msgt_name;
	__u32 poly;
	__u32 poly_poly;
	__s32 kr;
};

/* MACH_IOC_TASK_FOR_FD: a send right to the task port of the space behind
 * the caller's /dev/mach descriptor fd, as task (out). EBADF if fd is not
 * open; KERN_INVALID_ARGUMENT if it is not /dev/mach. */
struct mach_task_for_fd_args {
	__s32 fd;
	__u32 task;
	__s32 kr;
	__u32 reserved;
};

/* MACH_IOC_STATS: the module's live objects across all spaces (all out;
 * reserved must be zero on the way in). messages and message_bytes count
 * the messages queued on all ports and the bytes (inline and out-of-line)
 * they hold. */
struct mach_stats_args {
	__u64 spaces;
	__u64 ports;
	__u64 port_sets;
	__u64 names;
	__u64 messages;
	__u64 message_bytes;
	__u64 reserved[2];
};

/*
 * MACH_IOC_MSG: mach_msg. msg is the address of the message buffer; the
 * other fields are mach_msg's arguments; mr (out) is the
 * mach_msg_return_t. The ioctl returns 0 with the Mach result in mr (faults
 * on the message buffer are Mach results too: MACH_SEND_INVALID_DATA,
 * MACH_RCV_INVALID_DATA), or -1 with errno for the args struct itself
 * (EFAULT, EINVAL for reserved != 0) and EINTR when a signal handler ran
 * while the call was blocked. When the send has completed and the receive
 * that follows is interrupted, option has already been written back
 * without MACH_SEND_MSG, so that issuing the ioctl again with the struct
 * only receives.
 */
struct mach_msg_args {
	__u64 msg;
	__u32 option;
	__u32 send_size;
	__u32 rcv_size;
	__u32 rcv_name;
	__u32 timeout;
	__u32 notify;
	__s32 mr;
	__u32 reserved;
};

/*
 * MACH_IOC_PORT_GET_ATTRIBUTES / MACH_IOC_PORT_SET_ATTRIBUTES
 * (mach_port_get_attributes / mach_port_set_attributes): count is the
 * number of 32-bit words of info in use (in: the caller's capacity for
 * get, the words given for set; out: the words written for get).
 */
struct mach_port_attributes_args {
	__u32 task;
	__u32 name;
	__u32 flavor;
	__u32 count;
	__u32 info[MACH_PORT_INFO_MAX];
	__s32 kr;
	__u32 reserved;
};

/*
 * MACH_IOC_PORT_MOVE_MEMBER (mach_port_move_member: member, after),
 * MACH_IOC_PORT_INSERT_MEMBER and MACH_IOC_PORT_EXTRACT_MEMBER
 * (mach_port_insert_member / mach_port_extract_member: member, and the set
 * in after).
 */
struct mach_port_member_args {
	__u32 task;
	__u32 member;
	__u32 after;
	__s32 kr;
};

/*
 * MACH_IOC_PORT_GET_SET_STATUS (mach_port_get_set_status): the member names
 * of the port set name, in ascending order, written to the user array
 * members (capacity __u32s) when count <= capacity. count (out) is always
 * the number of members on success (capacity 0 and members 0 ask only for
 * it; a non-zero capacity with members 0 is EINVAL).
 */
struct mach_port_set_status_args {
	__u32 task;
	__u32 name;
	__u64 members;
	__u32 capacity;
	__u32 count;
	__s32 kr;
	__u32 reserved;
};

/*
 * MACH_IOC_PORT_REQUEST_NOTIFICATION (mach_port_request_notification):
 * variant is the MACH_NOTIFY_* id, notify a right in the caller's space
 * taken as notify_type says (MACH_MSG_TYPE_MAKE_SEND_ONCE or
 * MACH_MSG_TYPE_MOVE_SEND_ONCE; MACH_PORT_NULL cancels); previous (out) is
 * the caller's name for the previously registered send-once right.
 */
struct mach_port_request_notification_args {
	__u32 task;
	__u32 name;
	__s32 variant;
	__u32 sync;
	__u32 notify;
	__u32 notify_type;
	__u32 previous;
	__s32 kr;
};

/*
 * MACH_IOC_PORT_SET_BACKUP (port_set_backup): backup is a send right in the
 * caller's space (copied) or MACH_PORT_NULL; previous (out) is the caller's
 * name for a send right to the previous backup, or MACH_PORT_NULL.
 */
struct mach_port_set_backup_args {
	__u32 task;
	__u32 primary;
	__u32 backup;
	__u32 previous;
	__s32 kr;
	__u32 reserved;
};

#define MACH_IOC_API_VERSION        _IOWR(MACH_IOC_MAGIC, 0x01, struct mach_api_version_args)
#define MACH_IOC_STATS              _IOWR(MACH_IOC_MAGIC, 0x03, struct mach_stats_args)
#define MACH_IOC_REPLY_PORT         _IOWR(MACH_IOC_MAGIC, 0x02, struct mach_reply_port_args)
#define MACH_IOC_PORT_ALLOCATE      _IOWR(MACH_IOC_MAGIC, 0x10, struct mach_port_allocate_args)
#define MACH_IOC_PORT_ALLOCATE_NAME _IOWR(MACH_IOC_MAGIC, 0x11, struct mach_port_allocate_args)
#define MACH_IOC_PORT_TYPE          _IOWR(MACH_IOC_MAGIC, 0x12, struct mach_port_type_args)
#define MACH_IOC_PORT_NAMES         _IOWR(MACH_IOC_MAGIC, 0x13, struct mach_port_names_args)
#define MACH_IOC_PORT_GET_REFS      _IOWR(MACH_IOC_MAGIC, 0x14, struct mach_port_get_refs_args)
#define MACH_IOC_PORT_MOD_REFS      _IOWR(MACH_IOC_MAGIC, 0x15, struct mach_port_mod_refs_args)
#define MACH_IOC_PORT_DEALLOCATE    _IOWR(MACH_IOC_MAGIC, 0x16, struct mach_port_name_args)
#define MACH_IOC_PORT_DESTROY       _IOWR(MACH_IOC_MAGIC, 0x17, struct mach_port_name_args)
#define MACH_IOC_PORT_INSERT_RIGHT  _IOWR(MACH_IOC_MAGIC, 0x18, struct mach_port_insert_right_args)
#define MACH_IOC_PORT_EXTRACT_RIGHT _IOWR(MACH_IOC_MAGIC, 0x19, struct mach_port_extract_right_args)
#define MACH_IOC_TASK_FOR_FD        _IOWR(MACH_IOC_MAGIC, 0x1a, struct mach_task_for_fd_args)
#define MACH_IOC_PORT_GET_ATTRIBUTES _IOWR(MACH_IOC_MAGIC, 0x1b, struct mach_port_attributes_args)
#define MACH_IOC_PORT_SET_ATTRIBUTES _IOWR(MACH_IOC_MAGIC, 0x1c, struct mach_port_attributes_args)
#define MACH_IOC_MSG                _IOWR(MACH_IOC_MAGIC, 0x20, struct mach_msg_args)
#define MACH_IOC_PORT_MOVE_MEMBER   _IOWR(MACH_IOC_MAGIC, 0x1d, struct mach_port_member_args)
#define MACH_IOC_PORT_INSERT_MEMBER _IOWR(MACH_IOC_MAGIC, 0x1e, struct mach_port_member_args)
#define MACH_IOC_PORT_EXTRACT_MEMBER _IOWR(MACH_IOC_MAGIC, 0x1f, struct mach_port_member_args)
#define MACH_IOC_PORT_GET_SET_STATUS _IOWR(MACH_IOC_MAGIC, 0x21, struct mach_port_set_status_args)
#define MACH_IOC_PORT_REQUEST_NOTIFICATION \
	_IOWR(MACH_IOC_MAGIC, 0x22, struct mach_port_request_notification_args)
#define MACH_IOC_PORT_SET_BACKUP    _IOWR(MACH_IOC_MAGIC, 0x23, struct mach_port_set_backup_args)

/* Layout checks: the same numbers are asserted in uapi/src/abi.rs. */
#ifdef __cplusplus
#define MACH_IOCTL_ASSERT(cond) static_assert(cond, #cond)
#elif defined(__GNUC__)
/* __extension__: accepted in -std=gnu99/c99 -pedantic too. */
#define MACH_IOCTL_ASSERT(cond) __extension__ _Static_assert(cond, #cond)
#else
#define MACH_IOCTL_ASSERT(cond) _Static_assert(cond, #cond)
#endif

MACH_IOCTL_ASSERT(sizeof(struct mach_api_version_args) == 8);
MACH_IOCTL_ASSERT(sizeof(struct mach_reply_port_args) == 8);
MACH_IOCTL_ASSERT(sizeof(struct mach_port_allocate_args) == 16);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_allocate_args, name) == 8);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_allocate_args, kr) == 12);
MACH_IOCTL_ASSERT(sizeof(struct mach_port_type_args) == 16);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_type_args, ptype) == 8);
MACH_IOCTL_ASSERT(sizeof(struct mach_port_names_args) == 32);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_names_args, names) == 8);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_names_args, types) == 16);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_names_args, count) == 24);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_names_args, kr) == 28);
MACH_IOCTL_ASSERT(sizeof(struct mach_port_get_refs_args) == 24);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_get_refs_args, refs) == 12);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_get_refs_args, kr) == 16);
MACH_IOCTL_ASSERT(sizeof(struct mach_port_mod_refs_args) == 24);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_mod_refs_args, delta) == 12);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_mod_refs_args, kr) == 16);
MACH_IOCTL_ASSERT(sizeof(struct mach_port_name_args) == 16);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_name_args, kr) == 8);
MACH_IOCTL_ASSERT(sizeof(struct mach_port_insert_right_args) == 24);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_insert_right_args, poly_poly) == 12);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_insert_right_args, kr) == 16);
MACH_IOCTL_ASSERT(sizeof(struct mach_port_extract_right_args) == 24);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_extract_right_args, poly) == 12);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_extract_right_args, poly_poly) == 16);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_extract_right_args, kr) == 20);
MACH_IOCTL_ASSERT(sizeof(struct mach_task_for_fd_args) == 16);
MACH_IOCTL_ASSERT(offsetof(struct mach_task_for_fd_args, task) == 4);
MACH_IOCTL_ASSERT(offsetof(struct mach_task_for_fd_args, kr) == 8);
MACH_IOCTL_ASSERT(sizeof(struct mach_stats_args) == 64);
MACH_IOCTL_ASSERT(offsetof(struct mach_stats_args, names) == 24);
MACH_IOCTL_ASSERT(offsetof(struct mach_stats_args, messages) == 32);
MACH_IOCTL_ASSERT(offsetof(struct mach_stats_args, message_bytes) == 40);
MACH_IOCTL_ASSERT(sizeof(struct mach_msg_args) == 40);
MACH_IOCTL_ASSERT(offsetof(struct mach_msg_args, option) == 8);
MACH_IOCTL_ASSERT(offsetof(struct mach_msg_args, rcv_name) == 20);
MACH_IOCTL_ASSERT(offsetof(struct mach_msg_args, notify) == 28);
MACH_IOCTL_ASSERT(offsetof(struct mach_msg_args, mr) == 32);
MACH_IOCTL_ASSERT(sizeof(struct mach_port_attributes_args) == 64);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_attributes_args, info) == 16);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_attributes_args, kr) == 56);
MACH_IOCTL_ASSERT(sizeof(struct mach_port_member_args) == 16);
MACH_IOCTL_ASSERT(sizeof(struct mach_port_set_status_args) == 32);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_set_status_args, members) == 8);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_set_status_args, count) == 20);
MACH_IOCTL_ASSERT(sizeof(struct mach_port_request_notification_args) == 32);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_request_notification_args, previous) == 24);
MACH_IOCTL_ASSERT(sizeof(struct mach_port_set_backup_args) == 24);
MACH_IOCTL_ASSERT(offsetof(struct mach_port_set_backup_args, previous) == 12);
MACH_IOCTL_ASSERT(MACH_IOC_API_VERSION == 0xc0084d01u);
MACH_IOCTL_ASSERT(MACH_IOC_PORT_NAMES == 0xc0204d13u);

#undef MACH_IOCTL_ASSERT

#endif /* _MACH_MACH_IOCTL_H_ */
