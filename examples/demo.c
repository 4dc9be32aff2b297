// SPDX-License-Identifier: GPL-2.0-only
/*
 * A tour of Mach IPC on Linux: the calls a macOS program makes, through
 * <mach/mach.h> and libmach.a, against the /dev/mach module.
 *
 * Build:
 *   cc -static -I SDK/include demo.c SDK/lib/libmach.a -lpthread
 *
 * It fills its IPC space with one right of each kind, lists the space,
 * then takes everything apart again. Then two processes talk: a client
 * sends a request that carries a port right to a server and waits for the
 * reply on a send-once right; the server answers, and uses the right it
 * received to send the client a second message. Last, failover: a server
 * whose service port has a backup port (held by a standby process) is
 * killed with requests queued; the standby receives the service's receive
 * right with the requests intact and answers them, and a client watching
 * the server with a dead-name request is told. Exits non-zero at the first
 * call that fails.
 */
#include <mach/mach.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* The name the server's send right has in the "bootstrap" space the two
 * processes share (a /dev/mach descriptor open before the fork). */
#define SERVICE_NAME ((mach_port_name_t)0x53525643u) /* "SRVC" */

#define REQUEST_ID 1000
#define NOTE_ID 2000

/* A request: a port right for the server to call back on, and text. */
struct request {
	mach_msg_header_t header;
	mach_msg_body_t body;
	mach_msg_port_descriptor_t callback;
	char text[64];
};

/* A reply or a note: text only. */
struct text_msg {
	mach_msg_header_t header;
	char text[64];
};

/* What a receiver gets: the message and the trailer after it. */
union received {
	struct request request;
	struct text_msg text;
	char room[sizeof(struct request) + sizeof(mach_msg_audit_trailer_t)];
};

static void check_msg(mach_msg_return_t mr, const char *who, const char *call)
{
	if (mr != MACH_MSG_SUCCESS) {
		fprintf(stderr, "demo: %s: %s failed: %s (%#x)\n", who, call,
			mach_error_string(mr), mr);
		exit(1);
	}
}

/* The client, in a child process with its own IPC space: finds the service
 * through the bootstrap space, sends a request carrying a send right to
 * its callback port, and waits for the reply and the note. */
static int client(int bootstrap_fd)
{
	mach_port_t task = mach_task_self();
	mach_port_t bootstrap, service, reply_port, callback;
	mach_msg_type_name_t got_type;
	struct request request;
	union received in;
	mach_msg_audit_trailer_t *trailer;

	check(task_for_fd(bootstrap_fd, &bootstrap), "client: task_for_fd");
	check(mach_port_extract_right(bootstrap, SERVICE_NAME,
				      MACH_MSG_TYPE_COPY_SEND, &service,
				      &got_type),
	      "client: mach_port_extract_right(service)");
	printf("   client %d: got a send right to the service as 0x%x from the bootstrap space\n",
	       getpid(), service);
	check(mach_port_allocate(task, MACH_PORT_RIGHT_RECEIVE, &reply_port),
	      "client: mach_port_allocate(reply)");
	check(mach_port_allocate(task, MACH_PORT_RIGHT_RECEIVE, &callback),
	      "client: mach_port_allocate(callback)");

	memset(&request, 0, sizeof(request));
	request.header.msgh_bits =
		MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE) |
		MACH_MSGH_BITS_COMPLEX;
	request.header.msgh_size = sizeof(request);
	request.header.msgh_remote_port = service;
	request.header.msgh_local_port = reply_port;
	request.header.msgh_id = REQUEST_ID;
	request.body.msgh_descriptor_count = 1;
	request.callback.name = callback;
	request.callback.disposition = MACH_MSG_TYPE_MAKE_SEND;
	request.callback.type = MACH_MSG_PORT_DESCRIPTOR;
	snprintf(request.text, sizeof(request.text), "hello from %d", getpid());

	/* One call sends the request and waits for the reply: the RPC path. */
	memcpy(&in, &request, sizeof(request));
	check_msg(mach_msg(&in.request.header, MACH_SEND_MSG | MACH_RCV_MSG,
			   sizeof(request), sizeof(in), reply_port,
			   MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL),
		  "client", "mach_msg(SEND|RCV)");
	printf("   client: reply id %d on 0x%x: \"%s\"\n",
	       in.text.header.msgh_id, in.text.header.msgh_local_port,
	       in.text.text);

	/* The server kept the send right to the callback port it received. */
	check_msg(mach_msg(&in.text.header,
			   MACH_RCV_MSG |
			   MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0) |
			   MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT),
			   0, sizeof(in), callback, MACH_MSG_TIMEOUT_NONE,
			   MACH_PORT_NULL),
		  "client", "mach_msg(RCV callback)");
	trailer = (mach_msg_audit_trailer_t *)((char *)&in +
		round_msg(in.text.header.msgh_size));
	printf("   client: note id %d on the callback port 0x%x from pid %u: \"%s\"\n",
	       in.text.header.msgh_id, in.text.header.msgh_local_port,
	       trailer->msgh_audit.val[5], in.text.text);
	return 0;
}

/* The server: receives one request on the service port, replies through
 * the send-once right it carried, and sends a note through the callback
 * send right it carried. */
static void server(mach_port_t service)
{
	mach_port_t task = mach_task_self();
	union received in;
	struct text_msg out;
	mach_port_t callback;

	check_msg(mach_msg(&in.request.header, MACH_RCV_MSG, 0, sizeof(in),
			   service, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL),
		  "server", "mach_msg(RCV)");
	callback = in.request.callback.name;
	printf("   server %d: request id %d: \"%s\"; reply right 0x%x (send-once), callback right 0x%x (send)\n",
	       getpid(), in.request.header.msgh_id, in.request.text,
	       in.request.header.msgh_remote_port, callback);

	memset(&out, 0, sizeof(out));
	out.header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0);
	out.header.msgh_size = sizeof(out);
	out.header.msgh_remote_port = in.request.header.msgh_remote_port;
	out.header.msgh_id = REQUEST_ID + 100;
	snprintf(out.text, sizeof(out.text), "hello back from %d", getpid());
	check_msg(mach_msg(&out.header, MACH_SEND_MSG, sizeof(out), 0,
			   MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
			   MACH_PORT_NULL),
		  "server", "mach_msg(SEND reply)");

	memset(&out, 0, sizeof(out));
	out.header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND, 0);
	out.header.msgh_size = sizeof(out);
	out.header.msgh_remote_port = callback;
	out.header.msgh_id = NOTE_ID;
	snprintf(out.text, sizeof(out.text), "a note through the right you sent");
	check_msg(mach_msg(&out.header, MACH_SEND_MSG, sizeof(out), 0,
			   MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
			   MACH_PORT_NULL),
		  "server", "mach_msg(SEND note)");
	(void)task;
}

/* Section 6: two processes, a request and a reply. */
static void rpc_demo(void)
{
	mach_port_t task = mach_task_self(), bootstrap, service;
	int bootstrap_fd, status;
	pid_t pid;

	printf("6. Two processes: a request that carries a port right, and a reply.\n");
	check(mach_port_allocate(task, MACH_PORT_RIGHT_RECEIVE, &service),
	      "mach_port_allocate(service)");
	/* A second space, open before the fork, serves as a bootstrap
	 * server: the client finds the service's send right there. */
	bootstrap_fd = open("/dev/mach", O_RDWR);
	if (bootstrap_fd < 0) {
		perror("demo: open /dev/mach");
		exit(1);
	}
	check(task_for_fd(bootstrap_fd, &bootstrap), "task_for_fd(bootstrap)");
	check(mach_port_insert_right(bootstrap, SERVICE_NAME, service,
				     MACH_MSG_TYPE_MAKE_SEND),
	      "mach_port_insert_right(bootstrap, service)");
	printf("   server %d: service port 0x%x; a send right to it is 0x%x in the bootstrap space\n",
	       getpid(), service, SERVICE_NAME);

	pid = fork();
	if (pid < 0) {
		perror("demo: fork");
		exit(1);
	}
	if (pid == 0)
		_exit(client(bootstrap_fd));
	server(service);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "demo: the client failed\n");
		exit(1);
	}
	close(bootstrap_fd);
	check(mach_port_deallocate(task, bootstrap), "mach_port_deallocate(bootstrap)");
	check(mach_port_destroy(task, service), "mach_port_destroy(service)");
	printf("   the client exited; the service port is destroyed.\n\n");
}

/* --- Section 7: failover through a backup port ------------------------- */

#define BACKUP_NAME ((mach_port_name_t)0x424b5550u) /* "BKUP" */
#define HEALTH_NAME ((mach_port_name_t)0x484c5448u) /* "HLTH" */
#define FAILOVER_REQUESTS 3

/* Publishes a send right to our port under name in the bootstrap space. */
static void publish(int bootstrap_fd, mach_port_name_t name, mach_port_t port)
{
	mach_port_t bootstrap;

	check(task_for_fd(bootstrap_fd, &bootstrap), "task_for_fd(bootstrap)");
	check(mach_port_insert_right(bootstrap, name, port, MACH_MSG_TYPE_MAKE_SEND),
	      "mach_port_insert_right(bootstrap)");
	check(mach_port_deallocate(mach_task_self(), bootstrap),
	      "mach_port_deallocate(bootstrap)");
}

/* A send right to what is published under name in the bootstrap space. */
static mach_port_t look_up(int bootstrap_fd, mach_port_name_t name)
{
	mach_port_t bootstrap, port;
	mach_msg_type_name_t type;

	check(task_for_fd(bootstrap_fd, &bootstrap), "task_for_fd(bootstrap)");
	check(mach_port_extract_right(bootstrap, name, MACH_MSG_TYPE_COPY_SEND,
				      &port, &type),
	      "mach_port_extract_right(bootstrap)");
	check(mach_port_deallocate(mach_task_self(), bootstrap),
	      "mach_port_deallocate(bootstrap)");
	return port;
}

static void signal_ready(int fd)
{
	char c = 1;

	if (write(fd, &c, 1) != 1) {
		perror("demo: write");
		exit(1);
	}
}

static void wait_ready(int fd)
{
	char c;

	if (read(fd, &c, 1) != 1) {
		fprintf(stderr, "demo: a helper process died before it was ready\n");
		exit(1);
	}
}

/* The standby: holds the backup port, and when the server dies receives
 * its service port in a port-destroyed notification, with the requests
 * still queued on it, and answers them. */
static int standby(int bootstrap_fd, int ready_fd)
{
	mach_port_t task = mach_task_self(), backup, service;
	union received in;
	struct text_msg out;

	check(mach_port_allocate(task, MACH_PORT_RIGHT_RECEIVE, &backup),
	      "standby: mach_port_allocate");
	publish(bootstrap_fd, BACKUP_NAME, backup);
	printf("   standby %d: backup port 0x%x published\n", getpid(), backup);
	signal_ready(ready_fd);

	check_msg(mach_msg(&in.request.header, MACH_RCV_MSG, 0, sizeof(in),
			   backup, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL),
		  "standby", "mach_msg(RCV backup)");
	if (in.request.header.msgh_id != MACH_NOTIFY_PORT_DESTROYED) {
		fprintf(stderr, "demo: standby: unexpected message id %d\n",
			in.request.header.msgh_id);
		return 1;
	}
	service = in.request.callback.name;
	printf("   standby: MACH_NOTIFY_PORT_DESTROYED on the backup port: the service's receive right is now 0x%x here\n",
	       service);
	for (int i = 0; i < FAILOVER_REQUESTS; i++) {
		check_msg(mach_msg(&in.request.header, MACH_RCV_MSG, 0, sizeof(in),
				   service, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL),
			  "standby", "mach_msg(RCV request)");
		printf("   standby: queued request %d: \"%s\"\n",
		       in.text.header.msgh_id, in.text.text);
		memset(&out, 0, sizeof(out));
		out.header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0);
		out.header.msgh_size = sizeof(out);
		out.header.msgh_remote_port = in.text.header.msgh_remote_port;
		out.header.msgh_id = in.text.header.msgh_id + 100;
		snprintf(out.text, sizeof(out.text), "answered by the standby %d", getpid());
		check_msg(mach_msg(&out.header, MACH_SEND_MSG, sizeof(out), 0,
				   MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL),
			  "standby", "mach_msg(SEND reply)");
	}
	return 0;
}

/* The server: owns the service port with the standby's port as its backup,
 * and a health port; it never answers, and gets killed. */
static int doomed_server(int bootstrap_fd, int ready_fd)
{
	mach_port_t task = mach_task_self(), service, health, backup, previous;

	check(mach_port_allocate(task, MACH_PORT_RIGHT_RECEIVE, &service),
	      "server: mach_port_allocate(service)");
	check(mach_port_allocate(task, MACH_PORT_RIGHT_RECEIVE, &health),
	      "server: mach_port_allocate(health)");
	backup = look_up(bootstrap_fd, BACKUP_NAME);
	check(port_set_backup(task, service, backup, &previous), "server: port_set_backup");
	printf("   server %d: service port 0x%x, backup set (previous backup: 0x%x)\n",
	       getpid(), service, previous);
	publish(bootstrap_fd, SERVICE_NAME, service);
	publish(bootstrap_fd, HEALTH_NAME, health);
	signal_ready(ready_fd);
	for (;;)
		pause();
	return 0; /* not reached: the demo kills this process */
}

static void text_request(mach_port_t service, mach_port_t reply_port, int id)
{
	struct text_msg out;

	memset(&out, 0, sizeof(out));
	out.header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND,
					      MACH_MSG_TYPE_MAKE_SEND_ONCE);
	out.header.msgh_size = sizeof(out);
	out.header.msgh_remote_port = service;
	out.header.msgh_local_port = reply_port;
	out.header.msgh_id = id;
	snprintf(out.text, sizeof(out.text), "request %d from the client", id);
	check_msg(mach_msg(&out.header, MACH_SEND_MSG, sizeof(out), 0,
			   MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL),
		  "client", "mach_msg(SEND request)");
}

static pid_t spawn(int (*role)(int, int), int bootstrap_fd)
{
	int ready[2];
	pid_t pid;

	if (pipe(ready) != 0) {
		perror("demo: pipe");
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		perror("demo: fork");
		exit(1);
	}
	if (pid == 0) {
		close(ready[0]);
		_exit(role(bootstrap_fd, ready[1]));
	}
	close(ready[1]);
	wait_ready(ready[0]);
	close(ready[0]);
	return pid;
}

/* Section 7: the parent is the client. */
static void failover_demo(void)
{
	mach_port_t task = mach_task_self(), service, health, notify, reply_port;
	mach_port_t previous;
	union received in;
	pid_t standby_pid, server_pid;
	int bootstrap_fd, status;

	printf("7. Failover: a server is killed; its backup port takes over its queued requests.\n");
	bootstrap_fd = open("/dev/mach", O_RDWR);
	if (bootstrap_fd < 0) {
		perror("demo: open /dev/mach");
		exit(1);
	}
	standby_pid = spawn(standby, bootstrap_fd);
	server_pid = spawn(doomed_server, bootstrap_fd);

	service = look_up(bootstrap_fd, SERVICE_NAME);
	health = look_up(bootstrap_fd, HEALTH_NAME);
	check(mach_port_allocate(task, MACH_PORT_RIGHT_RECEIVE, &notify),
	      "client: mach_port_allocate(notify)");
	check(mach_port_allocate(task, MACH_PORT_RIGHT_RECEIVE, &reply_port),
	      "client: mach_port_allocate(reply)");
	check(mach_port_request_notification(task, health, MACH_NOTIFY_DEAD_NAME, 0,
					     notify, MACH_MSG_TYPE_MAKE_SEND_ONCE,
					     &previous),
	      "client: mach_port_request_notification(DEAD_NAME)");
	printf("   client: dead-name request on the server's health port (0x%x here)\n",
	       health);
	for (int i = 1; i <= FAILOVER_REQUESTS; i++)
		text_request(service, reply_port, i);
	printf("   client: %d requests queued on the service port; nobody has answered\n",
	       FAILOVER_REQUESTS);

	kill(server_pid, SIGKILL);
	waitpid(server_pid, &status, 0);
	printf("   client: killed the server (%d) with SIGKILL\n", server_pid);

	check_msg(mach_msg(&in.text.header, MACH_RCV_MSG, 0, sizeof(in), notify,
			   MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL),
		  "client", "mach_msg(RCV notification)");
	if (in.text.header.msgh_id != MACH_NOTIFY_DEAD_NAME) {
		fprintf(stderr, "demo: expected a dead-name notification, got id %d\n",
			in.text.header.msgh_id);
		exit(1);
	}
	printf("   client: MACH_NOTIFY_DEAD_NAME for 0x%x: the health port died\n",
	       ((mach_dead_name_notification_t *)&in)->not_port);
	for (int i = 0; i < FAILOVER_REQUESTS; i++) {
		check_msg(mach_msg(&in.text.header, MACH_RCV_MSG, 0, sizeof(in),
				   reply_port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL),
			  "client", "mach_msg(RCV reply)");
		printf("   client: reply %d: \"%s\"\n", in.text.header.msgh_id,
		       in.text.text);
	}
	if (waitpid(standby_pid, &status, 0) != standby_pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "demo: the standby failed\n");
		exit(1);
	}
	close(bootstrap_fd);
	check(mach_port_deallocate(task, service), "mach_port_deallocate(service)");
	/* A dead name now, with one more reference for the notification. */
	check(mach_port_mod_refs(task, health, MACH_PORT_RIGHT_DEAD_NAME, -2),
	      "mach_port_mod_refs(health, DEAD_NAME, -2)");
	check(mach_port_destroy(task, notify), "mach_port_destroy(notify)");
	check(mach_port_destroy(task, reply_port), "mach_port_destroy(reply)");
	printf("   every request was answered; the standby exited.\n\n");
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

	rpc_demo();
	failover_demo();

	printf("8. The space again:\n");
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
