// SPDX-License-Identifier: GPL-2.0-only
/*
 * A tour of Mach IPC on Linux: the calls a macOS program makes, through
 * <mach/mach.h> and libmach.a, against the /dev/mach module.
 *
 * Build:
 *   cc -static -I SDK/include demo.c SDK/lib/libmach.a -lpthread
 *
 * It fills its IPC space with one right of each kind, lists the space,
 * then takes everything apart again. Exits non-zero at the first call
 * that fails.
 */
#include <mach/mach.h>

#include <stdio.h>
#include <stdlib.h>

/* The name this demo picks for itself: "MACH" in ASCII. */
#define MY_NAME ((mach_port_name_t)0x4d414348u)

static void check(kern_return_t kr, const char *call)
{
	if (kr != KERN_SUCCESS) {
		fprintf(stderr, "demo: %s failed: %s (%d)\n", call,
			mach_error_string(kr), kr);
		exit(1);
	}
}

static void type_text(mach_port_type_t type, char *buf, size_t len)
{
	static const struct {
		mach_port_type_t bit;
		const char *name;
	} bits[] = {
		{ MACH_PORT_TYPE_SEND, "SEND" },
		{ MACH_PORT_TYPE_RECEIVE, "RECEIVE" },
		{ MACH_PORT_TYPE_SEND_ONCE, "SEND_ONCE" },
		{ MACH_PORT_TYPE_PORT_SET, "PORT_SET" },
		{ MACH_PORT_TYPE_DEAD_NAME, "DEAD_NAME" },
		{ MACH_PORT_TYPE_DNREQUEST, "DNREQUEST" },
	};
	size_t used = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		if (!(type & bits[i].bit) || used >= len)
			continue;
		used += snprintf(buf + used, len - used, "%s%s",
				 used ? "+" : "", bits[i].name);
		type &= ~bits[i].bit;
	}
	if ((type || !used) && used < len)
		snprintf(buf + used, len - used, "%s%#x", used ? "+" : "",
			 type);
}

/* Lists the whole space; returns the number of names. */
static mach_msg_type_number_t list_space(void)
{
	static const struct {
		mach_port_right_t right;
		mach_port_type_t bit;
		const char *name;
	} rights[] = {
		{ MACH_PORT_RIGHT_SEND, MACH_PORT_TYPE_SEND, "send" },
		{ MACH_PORT_RIGHT_RECEIVE, MACH_PORT_TYPE_RECEIVE, "receive" },
		{ MACH_PORT_RIGHT_SEND_ONCE, MACH_PORT_TYPE_SEND_ONCE, "send-once" },
		{ MACH_PORT_RIGHT_PORT_SET, MACH_PORT_TYPE_PORT_SET, "port-set" },
		{ MACH_PORT_RIGHT_DEAD_NAME, MACH_PORT_TYPE_DEAD_NAME, "dead-name" },
	};
	mach_port_name_array_t names = NULL;
	mach_port_type_array_t types = NULL;
	mach_msg_type_number_t count = 0, tcount = 0;

	check(mach_port_names(mach_task_self(), &names, &count, &types,
			      &tcount), "mach_port_names");
	printf("    mach_port_names: %u name%s in the space\n", count,
	       count == 1 ? "" : "s");
	printf("      %-10s  %-18s  %s\n", "name", "type", "references");
	for (mach_msg_type_number_t i = 0; i < count; i++) {
		char type[96];

		type_text(types[i], type, sizeof(type));
		printf("      0x%08x  %-18s ", names[i], type);
		for (size_t r = 0; r < sizeof(rights) / sizeof(rights[0]); r++) {
			mach_port_urefs_t refs = 0;

			if (!(types[i] & rights[r].bit))
				continue;
			check(mach_port_get_refs(mach_task_self(), names[i],
						 rights[r].right, &refs),
			      "mach_port_get_refs");
			printf(" %s=%u", rights[r].name, refs);
		}
		printf("%s\n", names[i] == mach_task_self() ?
		       "   (mach_task_self)" : "");
	}
	check(vm_deallocate(mach_task_self(), (vm_address_t)names,
			    count * sizeof(*names)), "vm_deallocate(names)");
	check(vm_deallocate(mach_task_self(), (vm_address_t)types,
			    tcount * sizeof(*types)), "vm_deallocate(types)");
	printf("    (both arrays freed with vm_deallocate)\n");
	return count;
}

static mach_port_urefs_t refs_of(mach_port_name_t name,
				 mach_port_right_t right)
{
	mach_port_urefs_t refs = 0;

	check(mach_port_get_refs(mach_task_self(), name, right, &refs),
	      "mach_port_get_refs");
	return refs;
}

int main(void)
{
	mach_port_t task = mach_task_self();
	mach_port_name_t recv = MACH_PORT_NULL, reply, pset = MACH_PORT_NULL;
	mach_port_name_t dead = MACH_PORT_NULL;
	mach_port_name_array_t names = NULL;
	mach_port_type_array_t types = NULL;
	mach_msg_type_number_t count = 0, tcount = 0;
	unsigned int version;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("Mach IPC on Linux: a tour of one IPC space\n\n");

	version = mach_ipc_api_version();
	if (version == 0) {
		fprintf(stderr, "demo: /dev/mach cannot be opened: is the "
			"mach module loaded?\n");
		return 1;
	}
	printf("1. Opened this process's IPC space (/dev/mach, ABI version %u).\n",
	       version);
	printf("   mach_task_self() = 0x%x, our send right to our own task.\n\n",
	       task);

	printf("2. Allocating rights.\n");
	check(mach_port_allocate(task, MACH_PORT_RIGHT_RECEIVE, &recv),
	      "mach_port_allocate(RECEIVE)");
	printf("   mach_port_allocate(RECEIVE)   -> 0x%x, a new port we receive from\n",
	       recv);

	reply = mach_reply_port();
	if (reply == MACH_PORT_NULL) {
		fprintf(stderr, "demo: mach_reply_port failed: it returned "
			"MACH_PORT_NULL\n");
		return 1;
	}
	printf("   mach_reply_port()             -> 0x%x, another receive right\n",
	       reply);

	check(mach_port_allocate(task, MACH_PORT_RIGHT_PORT_SET, &pset),
	      "mach_port_allocate(PORT_SET)");
	printf("   mach_port_allocate(PORT_SET)  -> 0x%x, an empty port set\n",
	       pset);

	check(mach_port_allocate(task, MACH_PORT_RIGHT_DEAD_NAME, &dead),
	      "mach_port_allocate(DEAD_NAME)");
	printf("   mach_port_allocate(DEAD_NAME) -> 0x%x, a dead name with %u reference\n",
	       dead, refs_of(dead, MACH_PORT_RIGHT_DEAD_NAME));
	check(mach_port_mod_refs(task, dead, MACH_PORT_RIGHT_DEAD_NAME, 2),
	      "mach_port_mod_refs(DEAD_NAME, +2)");
	printf("   mach_port_mod_refs(0x%x, DEAD_NAME, +2): now %u references\n",
	       dead, refs_of(dead, MACH_PORT_RIGHT_DEAD_NAME));

	check(mach_port_allocate_name(task, MACH_PORT_RIGHT_RECEIVE, MY_NAME),
	      "mach_port_allocate_name(RECEIVE, 0x4d414348)");
	printf("   mach_port_allocate_name(RECEIVE, 0x%x): a port under a name we chose\n\n",
	       MY_NAME);

	printf("3. The whole space:\n");
	list_space();
	printf("\n");

	printf("4. Taking it apart.\n");
	check(mach_port_destroy(task, recv), "mach_port_destroy(receive)");
	printf("   mach_port_destroy(0x%x): the first port is gone\n", recv);
	check(mach_port_mod_refs(task, reply, MACH_PORT_RIGHT_RECEIVE, -1),
	      "mach_port_mod_refs(RECEIVE, -1)");
	printf("   mach_port_mod_refs(0x%x, RECEIVE, -1): the reply port is gone\n",
	       reply);
	check(mach_port_deallocate(task, pset), "mach_port_deallocate(port set)");
	printf("   mach_port_deallocate(0x%x): the port set is gone\n", pset);
	while (1) {
		mach_port_type_t type;
		mach_port_urefs_t left;
		kern_return_t kr;

		check(mach_port_deallocate(task, dead),
		      "mach_port_deallocate(dead name)");
		kr = mach_port_type(task, dead, &type);
		if (kr == KERN_INVALID_NAME) {
			printf("   mach_port_deallocate(0x%x): the last reference; the dead name is gone\n",
			       dead);
			break;
		}
		check(kr, "mach_port_type(dead name)");
		left = refs_of(dead, MACH_PORT_RIGHT_DEAD_NAME);
		printf("   mach_port_deallocate(0x%x): %u reference%s left\n",
		       dead, left, left == 1 ? "" : "s");
	}
	check(mach_port_destroy(task, MY_NAME), "mach_port_destroy(0x4d414348)");
	printf("   mach_port_destroy(0x%x): our own name is gone\n\n", MY_NAME);

	printf("5. The space again:\n");
	list_space();

	check(mach_port_names(task, &names, &count, &types, &tcount),
	      "mach_port_names");
	if (count != 1 || names[0] != task || types[0] != MACH_PORT_TYPE_SEND) {
		fprintf(stderr, "demo: the space should hold only the task-self "
			"send right, but holds %u names\n", count);
		return 1;
	}
	vm_deallocate(task, (vm_address_t)names, count * sizeof(*names));
	vm_deallocate(task, (vm_address_t)types, tcount * sizeof(*types));
	printf("\nOnly the task-self send right is left, as in a fresh space. Done.\n");
	return 0;
}
