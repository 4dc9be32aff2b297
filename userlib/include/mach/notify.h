/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Mach on Linux: notification ids and the messages that carry them (XNU
 * osfmk/mach/notify.h). The numbers are uapi/src/abi.rs's;
 * docs/notifications.md says exactly when the module sends each one.
 *
 * Notifications are requested with mach_port_request_notification
 * (<mach/mach_port.h>) and port_set_backup (<mach/mach_linux.h>); a
 * send-once notification comes unasked when a send-once right is
 * destroyed unused. Each is a message from the kernel, msgh_id the
 * MACH_NOTIFY_* value, msgh_remote_port MACH_PORT_NULL, msgh_local_port
 * the receiver's name for the port notified, an all-zero audit token.
 */
#ifndef _MACH_NOTIFY_H_
#define _MACH_NOTIFY_H_

#include <mach/port.h>
#include <mach/message.h>
#include <mach/ndr.h>

#define MACH_NOTIFY_FIRST               0100
/* A name with a dead-name request stopped denoting a send or send-once
 * right while its port lived. */
#define MACH_NOTIFY_PORT_DELETED        (MACH_NOTIFY_FIRST + 001)
/* Now possible to send using the specified right (never sent here). */
#define MACH_NOTIFY_SEND_POSSIBLE       (MACH_NOTIFY_FIRST + 002)
/* A receive right was (would have been) deallocated: it is in the
 * message. */
#define MACH_NOTIFY_PORT_DESTROYED      (MACH_NOTIFY_FIRST + 005)
/* The port has no send rights left. */
#define MACH_NOTIFY_NO_SENDERS          (MACH_NOTIFY_FIRST + 006)
/* A send-once right to the port was destroyed unused. */
#define MACH_NOTIFY_SEND_ONCE           (MACH_NOTIFY_FIRST + 007)
/* The port of a send or send-once right died, leaving a dead name. */
#define MACH_NOTIFY_DEAD_NAME           (MACH_NOTIFY_FIRST + 010)
#define MACH_NOTIFY_LAST                (MACH_NOTIFY_FIRST + 015)

typedef mach_port_t notify_port_t;

/*
 * The messages as received, with XNU's layouts: msgh_size is 36 for the
 * ones with an NDR record, 24 for send-once, 40 for port-destroyed (which
 * is complex). As on macOS, the trailer member only makes room for the
 * trailer of a receive that asks for MACH_RCV_TRAILER_SENDER at most; a
 * receive asking for more (the audit token) needs a larger buffer.
 */
typedef struct {
	mach_msg_header_t not_header;
	NDR_record_t NDR;
	mach_port_name_t not_port;      /* MACH_MSG_TYPE_PORT_NAME */
	mach_msg_format_0_trailer_t trailer;
} mach_port_deleted_notification_t;

typedef struct {
	mach_msg_header_t not_header;
	NDR_record_t NDR;
	mach_port_name_t not_port;      /* MACH_MSG_TYPE_PORT_NAME */
	mach_msg_format_0_trailer_t trailer;
} mach_send_possible_notification_t;

/* not_port.name: the receive right, now the receiver's;
 * not_port.disposition MACH_MSG_TYPE_PORT_RECEIVE. */
typedef struct {
	mach_msg_header_t not_header;
	mach_msg_body_t not_body;
	mach_msg_port_descriptor_t not_port; /* MACH_MSG_TYPE_PORT_RECEIVE */
	mach_msg_format_0_trailer_t trailer;
} mach_port_destroyed_notification_t;

/* not_count: the port's make-send count when its last send right went. */
typedef struct {
	mach_msg_header_t not_header;
	NDR_record_t NDR;
	mach_msg_type_number_t not_count;
	mach_msg_format_0_trailer_t trailer;
} mach_no_senders_notification_t;

typedef struct {
	mach_msg_header_t not_header;
	mach_msg_format_0_trailer_t trailer;
} mach_send_once_notification_t;

/* not_port: the dead name, with one more user reference for this
 * notification. */
typedef struct {
	mach_msg_header_t not_header;
	NDR_record_t NDR;
	mach_port_name_t not_port;      /* MACH_MSG_TYPE_PORT_NAME */
	mach_msg_format_0_trailer_t trailer;
} mach_dead_name_notification_t;

#endif /* _MACH_NOTIFY_H_ */
