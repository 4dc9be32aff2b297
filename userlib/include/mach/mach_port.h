/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Mach on Linux: the port calls, with macOS's prototypes. docs/calls.md
 * gives each call's checks and results exactly.
 *
 * The process has one IPC space, /dev/mach, opened on the first call and
 * kept. After fork() the child starts a space of its own on its next call,
 * as a new Mach task would; names from the parent mean nothing there.
 *
 * Besides the kern_return_t values the module gives, every call can return:
 *
 *   KERN_FAILURE            /dev/mach cannot be opened (no module, no
 *                           permission, no descriptors left); the open is
 *                           tried again on the next call. Also an ioctl
 *                           that fails with an errno not listed below
 *                           (ENOTTY from an older module, ...).
 *   KERN_INVALID_ADDRESS    the ioctl failed with EFAULT.
 *   KERN_INVALID_ARGUMENT   the ioctl failed with EINVAL; or an out-pointer
 *                           is NULL (checked before anything else; macOS
 *                           would crash instead).
 *   KERN_RESOURCE_SHORTAGE  the ioctl failed with ENOMEM; or
 *                           mach_port_names or mach_port_get_set_status
 *                           could not map its arrays.
 *
 * Out-parameters are written only on KERN_SUCCESS.
 */
#ifndef _MACH_MACH_PORT_H_
#define _MACH_MACH_PORT_H_

#include <mach/mach_types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Every name in the space with its type, in ascending name order. *names and
 * *types are fresh anonymous mappings (a whole number of pages each), to be
 * freed with vm_deallocate(mach_task_self(), (vm_address_t)*names,
 * *namesCnt * sizeof(**names)) and the same for *types. *namesCnt ==
 * *typesCnt. A space with no names gives counts 0 and both arrays NULL
 * (vm_deallocate of a 0 size is a no-op, so the same free code works).
 */
kern_return_t mach_port_names(ipc_space_t task,
			      mach_port_name_array_t *names,
			      mach_msg_type_number_t *namesCnt,
			      mach_port_type_array_t *types,
			      mach_msg_type_number_t *typesCnt);

kern_return_t mach_port_type(ipc_space_t task, mach_port_name_t name,
			     mach_port_type_t *ptype);

kern_return_t mach_port_allocate_name(ipc_space_t task,
				      mach_port_right_t right,
				      mach_port_name_t name);

kern_return_t mach_port_allocate(ipc_space_t task, mach_port_right_t right,
				 mach_port_name_t *name);

kern_return_t mach_port_destroy(ipc_space_t task, mach_port_name_t name);

kern_return_t mach_port_deallocate(ipc_space_t task, mach_port_name_t name);

kern_return_t mach_port_get_refs(ipc_space_t task, mach_port_name_t name,
				 mach_port_right_t right,
				 mach_port_urefs_t *refs);

kern_return_t mach_port_mod_refs(ipc_space_t task, mach_port_name_t name,
				 mach_port_right_t right,
				 mach_port_delta_t delta);

/*
 * The caller's right poly, taken as polyPoly says (a disposition,
 * MACH_MSG_TYPE_MOVE_RECEIVE .. MACH_MSG_TYPE_MAKE_SEND_ONCE), goes into
 * task's space under name. task may be mach_task_self() or a send right to
 * another space's task port (task_for_fd, <mach/mach_linux.h>). As in Mach,
 * when the right cannot be put under name it is destroyed: a receive right
 * taken with MOVE_RECEIVE is then gone with its port.
 */
kern_return_t mach_port_insert_right(ipc_space_t task, mach_port_name_t name,
				     mach_port_t poly,
				     mach_msg_type_name_t polyPoly);

/*
 * The right name in task's space, taken as msgt_name says, comes into the
 * caller's space: *poly is its name there (MACH_PORT_DEAD for a dead right),
 * *polyPoly its type (MACH_MSG_TYPE_PORT_RECEIVE, _PORT_SEND or
 * _PORT_SEND_ONCE).
 */
kern_return_t mach_port_extract_right(ipc_space_t task, mach_port_name_t name,
				      mach_msg_type_name_t msgt_name,
				      mach_port_t *poly,
				      mach_msg_type_name_t *polyPoly);

/*
 * The attributes of the receive right name, of kind flavor, into
 * port_info_out: *port_info_outCnt is in the room there in natural_t words
 * and out the words written. MACH_PORT_LIMITS_INFO (mach_port_limits_t:
 * the queue limit), MACH_PORT_RECEIVE_STATUS (mach_port_status_t),
 * MACH_PORT_DNREQUESTS_SIZE (0); others KERN_INVALID_ARGUMENT; too little
 * room KERN_FAILURE; name not a receive right KERN_INVALID_RIGHT (or
 * KERN_INVALID_NAME). At most MACH_PORT_RECEIVE_STATUS_COUNT words are
 * written.
 */
kern_return_t mach_port_get_attributes(ipc_space_t task, mach_port_name_t name,
				       mach_port_flavor_t flavor,
				       mach_port_info_t port_info_out,
				       mach_msg_type_number_t *port_info_outCnt);

/*
 * Sets attributes of the receive right name: only MACH_PORT_LIMITS_INFO
 * (the queue limit, 0 .. MACH_PORT_QLIMIT_MAX, else KERN_INVALID_VALUE;
 * raising it wakes waiting senders); other flavors KERN_INVALID_ARGUMENT.
 */
kern_return_t mach_port_set_attributes(ipc_space_t task, mach_port_name_t name,
				       mach_port_flavor_t flavor,
				       mach_port_info_t port_info,
				       mach_msg_type_number_t port_infoCnt);

/*
 * Port sets (docs/notifications.md). A receive right is in at most one
 * set, of the same space; a receive on the set (mach_msg with rcv_name the
 * set) takes a message from any member, with msgh_local_port the member's
 * name. A port leaves its set when it dies or its receive right moves.
 *
 * mach_port_move_member: member (a receive right) leaves its set, if any,
 * and joins the set after, atomically; after MACH_PORT_NULL only takes it
 * out. Results, in order: KERN_INVALID_TASK; KERN_INVALID_RIGHT (member
 * MACH_PORT_NULL or MACH_PORT_DEAD, after MACH_PORT_DEAD);
 * KERN_INVALID_NAME (member, then after, not in use); KERN_INVALID_RIGHT
 * (member not a receive right, after not a port set); KERN_NOT_IN_SET
 * (after MACH_PORT_NULL and member in no set). Moving a port into the set
 * it is in succeeds and changes nothing.
 */
kern_return_t mach_port_move_member(ipc_space_t task, mach_port_name_t member,
				    mach_port_name_t after);

/*
 * mach_port_insert_member: the receive right name joins the set pset.
 * Results as mach_port_move_member's (either name MACH_PORT_NULL or
 * MACH_PORT_DEAD: KERN_INVALID_RIGHT), and KERN_ALREADY_IN_SET when name is
 * in a set already (this one or another).
 */
kern_return_t mach_port_insert_member(ipc_space_t task, mach_port_name_t name,
				      mach_port_name_t pset);

/*
 * mach_port_extract_member: the receive right name leaves the set pset.
 * Results as mach_port_insert_member's, and KERN_NOT_IN_SET when name is
 * not in pset.
 */
kern_return_t mach_port_extract_member(ipc_space_t task, mach_port_name_t name,
				       mach_port_name_t pset);

/*
 * The members of the port set name, in ascending order. *members is a fresh
 * anonymous mapping (a whole number of pages), to be freed with
 * vm_deallocate(mach_task_self(), (vm_address_t)*members,
 * *membersCnt * sizeof(**members)); an empty set gives *membersCnt 0 and
 * *members NULL. Results: KERN_INVALID_TASK; KERN_INVALID_RIGHT (name
 * MACH_PORT_NULL or MACH_PORT_DEAD); KERN_INVALID_NAME (not in use);
 * KERN_INVALID_RIGHT (not a port set).
 */
kern_return_t mach_port_get_set_status(ipc_space_t task, mach_port_name_t name,
				       mach_port_name_array_t *members,
				       mach_msg_type_number_t *membersCnt);

/*
 * Registers notify (a right in the caller's space, taken as notifyPoly
 * says: MACH_MSG_TYPE_MAKE_SEND_ONCE of a receive right or
 * MACH_MSG_TYPE_MOVE_SEND_ONCE of a send-once right) for the notification
 * msgid about name in task's space, replacing the one registered before;
 * notify MACH_PORT_NULL cancels. *previous is the caller's name for the
 * previously registered send-once right (MACH_PORT_DEAD if its port died,
 * MACH_PORT_NULL if there was none). The notifications are messages
 * (<mach/notify.h>):
 *
 *   MACH_NOTIFY_PORT_DESTROYED  name a receive right, sync 0: when it would
 *                               be destroyed, the receive right is sent to
 *                               notify instead. One-shot.
 *   MACH_NOTIFY_NO_SENDERS      name a receive right: when its last send
 *                               right goes, with the make-send count; at
 *                               once if it has none and sync <= the
 *                               make-send count.
 *   MACH_NOTIFY_DEAD_NAME       name a send, send-once or receive right or
 *                               a dead name: when the port dies (name is
 *                               then a dead name with one more user
 *                               reference), or MACH_NOTIFY_PORT_DELETED if
 *                               name stops denoting the right first. On a
 *                               dead name with sync != 0: at once.
 *
 * Results, in order: KERN_INVALID_TASK; KERN_INVALID_VALUE (another
 * msgid); KERN_INVALID_ARGUMENT (DEAD_NAME on MACH_PORT_NULL or
 * MACH_PORT_DEAD); KERN_INVALID_VALUE (PORT_DESTROYED with sync != 0);
 * KERN_INVALID_RIGHT (name MACH_PORT_NULL or MACH_PORT_DEAD);
 * KERN_INVALID_NAME (not in use); KERN_INVALID_RIGHT (not the right msgid
 * needs); on a dead name KERN_INVALID_ARGUMENT (sync 0 or notify
 * MACH_PORT_NULL) and KERN_UREFS_OVERFLOW (0xffff user references already);
 * KERN_INVALID_VALUE (another notifyPoly); KERN_INVALID_CAPABILITY (notify
 * MACH_PORT_DEAD, or without the right notifyPoly needs). A failed call
 * changes nothing.
 */
kern_return_t mach_port_request_notification(ipc_space_t task,
					     mach_port_name_t name,
					     mach_msg_id_t msgid,
					     mach_port_mscount_t sync,
					     mach_port_t notify,
					     mach_msg_type_name_t notifyPoly,
					     mach_port_t *previous);

#ifdef __cplusplus
}
#endif

#endif /* _MACH_MACH_PORT_H_ */
