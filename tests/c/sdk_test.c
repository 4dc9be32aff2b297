// SPDX-License-Identifier: GPL-2.0-only
/*
 * The C SDK, call by call, against the running module: what a macOS program
 * using <mach/mach.h> sees. The expected results are docs/calls.md's.
 *
 * Build (as scripts/programs does):
 *   cc -static -I SDK/include sdk_test.c SDK/lib/libmach.a -lpthread
 *
 * Output is TAP: "ok N - name", or "not ok N - name # expected X, got Y"
 * after a "# file:line: call" line. Exits 0 only if every test passes.
 */
#define _GNU_SOURCE
#include <mach/mach.h>
#include <mach/mach_ioctl.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------------
 * A tiny TAP emitter.
 */

static int failed;              /* the current test failed */
static char why[512];           /* its "expected X, got Y" */

static void fail(int line, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(int line, const char *what, const char *fmt, ...)
{
	va_list ap;

	if (failed)
		return;
	failed = 1;
	printf("# %s:%d: %s\n", __FILE__, line, what);
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
}

static const char *kr_text(kern_return_t kr, char *buf, size_t len)
{
	static const char *const names[] = {
		"KERN_SUCCESS", "KERN_INVALID_ADDRESS",
		"KERN_PROTECTION_FAILURE", "KERN_NO_SPACE",
		"KERN_INVALID_ARGUMENT", "KERN_FAILURE",
		"KERN_RESOURCE_SHORTAGE", "KERN_NOT_RECEIVER",
		"KERN_NO_ACCESS", "KERN_MEMORY_FAILURE", "KERN_MEMORY_ERROR",
		"KERN_ALREADY_IN_SET", "KERN_NOT_IN_SET", "KERN_NAME_EXISTS",
		"KERN_ABORTED", "KERN_INVALID_NAME", "KERN_INVALID_TASK",
		"KERN_INVALID_RIGHT", "KERN_INVALID_VALUE",
		"KERN_UREFS_OVERFLOW", "KERN_INVALID_CAPABILITY",
		"KERN_RIGHT_EXISTS",
	};

	if (kr >= 0 && (size_t)kr < sizeof(names) / sizeof(names[0]))
		snprintf(buf, len, "%s", names[kr]);
	else
		snprintf(buf, len, "kern_return_t %d (%s)", kr,
			 mach_error_string(kr));
	return buf;
}

static const char *type_text(mach_port_type_t t, char *buf, size_t len)
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
		if (!(t & bits[i].bit))
			continue;
		used += snprintf(buf + used, len - used, "%s%s",
				 used ? "|" : "", bits[i].name);
		t &= ~bits[i].bit;
		if (used >= len)
			return buf;
	}
	if (t || !used)
		snprintf(buf + used, len - used, "%s%#x", used ? "|" : "", t);
	return buf;
}

/*
 * The call must return `want`; otherwise the test fails (reporting `text`
 * as the call) and returns.
 */
#define EXPECT_KR_AS(call, want, text)                                        \
	do {                                                                  \
		kern_return_t got_ = (call), want_ = (want);                  \
		char g_[96], w_[96];                                          \
		if (got_ != want_) {                                          \
			fail(__LINE__, text, "expected %s, got %s",           \
			     kr_text(want_, w_, sizeof(w_)),                  \
			     kr_text(got_, g_, sizeof(g_)));                  \
			return;                                               \
		}                                                             \
	} while (0)

#define EXPECT_KR(call, want) EXPECT_KR_AS(call, want, #call)

#define EXPECT_U32(what, got, want)                                           \
	do {                                                                  \
		unsigned int got_ = (got), want_ = (want);                    \
		if (got_ != want_) {                                          \
			fail(__LINE__, what, "expected %#x, got %#x", want_,  \
			     got_);                                           \
			return;                                               \
		}                                                             \
	} while (0)

#define EXPECT_TRUE(what, cond)                                               \
	do {                                                                  \
		if (!(cond)) {                                                \
			fail(__LINE__, what, "expected %s, got false", #cond); \
			return;                                               \
		}                                                             \
	} while (0)

/* `name` must have exactly type `want` in `task`'s space. */
#define EXPECT_TYPE_AS(task, name, want, text)                                \
	do {                                                                  \
		mach_port_type_t t_ = 0;                                      \
		char g_[96], w_[96];                                          \
		EXPECT_KR_AS(mach_port_type((task), (name), &t_),             \
			     KERN_SUCCESS, text);                             \
		if (t_ != (mach_port_type_t)(want)) {                         \
			fail(__LINE__, text, "expected %s, got %s",           \
			     type_text((want), w_, sizeof(w_)),               \
			     type_text(t_, g_, sizeof(g_)));                  \
			return;                                               \
		}                                                             \
	} while (0)

#define EXPECT_TYPE(name, want)                                               \
	EXPECT_TYPE_AS(mach_task_self(), name, want,                          \
		       "mach_port_type(" #name ")")
#define EXPECT_TYPE_IN(task, name, want)                                      \
	EXPECT_TYPE_AS(task, name, want,                                      \
		       "mach_port_type(" #task ", " #name ")")

/* `name` must hold `want` user references for `right` in `task`'s space. */
#define EXPECT_REFS_AS(task, name, right, want, text)                         \
	do {                                                                  \
		mach_port_urefs_t r_ = 0xdeadbeef;                            \
		EXPECT_KR_AS(mach_port_get_refs((task), (name), (right),      \
						&r_),                         \
			     KERN_SUCCESS, text);                             \
		EXPECT_U32(text, r_, want);                                   \
	} while (0)

#define EXPECT_REFS(name, right, want)                                        \
	EXPECT_REFS_AS(mach_task_self(), name, right, want,                   \
		       "mach_port_get_refs(" #name ", " #right ")")
#define EXPECT_REFS_IN(task, name, right, want)                               \
	EXPECT_REFS_AS(task, name, right, want,                               \
		       "mach_port_get_refs(" #task ", " #name ", " #right ")")

/* The name must not be in use in `task`'s space. */
#define EXPECT_GONE_AS(task, name, text)                                      \
	do {                                                                  \
		mach_port_type_t t_;                                          \
		EXPECT_KR_AS(mach_port_type((task), (name), &t_),             \
			     KERN_INVALID_NAME, text);                        \
	} while (0)

#define EXPECT_GONE(name)                                                     \
	EXPECT_GONE_AS(mach_task_self(), name, "mach_port_type(" #name ")")
#define EXPECT_GONE_IN(task, name)                                            \
	EXPECT_GONE_AS(task, name, "mach_port_type(" #task ", " #name ")")

/* Allocates a right of the given kind into `*name`, or fails the test. */
#define ALLOCATE(right, name)                                                 \
	EXPECT_KR_AS(mach_port_allocate(mach_task_self(), (right), (name)),   \
		     KERN_SUCCESS, "mach_port_allocate(" #right ", " #name ")")

/* A name no kernel-chosen name will be during this run. */
#define UNUSED_NAME ((mach_port_name_t)0x7e7e7e00u)

/* Whether any byte of [addr, addr + len) is mapped. */
static int is_mapped(const void *addr, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t p = (uintptr_t)addr & ~(uintptr_t)(page - 1);

	for (; p < (uintptr_t)addr + len; p += page)
		if (msync((void *)p, page, MS_ASYNC) == 0 || errno != ENOMEM)
			return 1;
	return 0;
}

/* ------------------------------------------------------------------------
 * mach_task_self and the extension.
 */

static void task_self_is_name_0x103(void)
{
	EXPECT_U32("mach_task_self()", mach_task_self(), 0x103);
	EXPECT_U32("mach_task_self()", mach_task_self(), MACH_TASK_SELF_NAME);
}

static void task_self_denotes_one_send_right(void)
{
	EXPECT_TYPE(mach_task_self(), MACH_PORT_TYPE_SEND);
	EXPECT_REFS(mach_task_self(), MACH_PORT_RIGHT_SEND, 1);
}

static void api_version_is_reported(void)
{
	unsigned int version = mach_ipc_api_version();

	if (version != MACH_API_VERSION)
		fail(__LINE__, "mach_ipc_api_version()",
		     "expected %u (this tree's ABI), got %u", MACH_API_VERSION, version);
}

/* ------------------------------------------------------------------------
 * mach_port_allocate.
 */

static void allocate_receive_gives_receive_right(void)
{
	mach_port_name_t name = 0;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &name);
	EXPECT_TRUE("the new name", MACH_PORT_VALID(name));
	EXPECT_TYPE(name, MACH_PORT_TYPE_RECEIVE);
	EXPECT_REFS(name, MACH_PORT_RIGHT_RECEIVE, 1);
	EXPECT_KR(mach_port_destroy(mach_task_self(), name), KERN_SUCCESS);
}

static void allocate_port_set_gives_port_set(void)
{
	mach_port_name_t name = 0;

	ALLOCATE(MACH_PORT_RIGHT_PORT_SET, &name);
	EXPECT_TRUE("the new name", MACH_PORT_VALID(name));
	EXPECT_TYPE(name, MACH_PORT_TYPE_PORT_SET);
	EXPECT_REFS(name, MACH_PORT_RIGHT_PORT_SET, 1);
	EXPECT_KR(mach_port_destroy(mach_task_self(), name), KERN_SUCCESS);
}

static void allocate_dead_name_gives_dead_name_with_one_ref(void)
{
	mach_port_name_t name = 0;

	ALLOCATE(MACH_PORT_RIGHT_DEAD_NAME, &name);
	EXPECT_TRUE("the new name", MACH_PORT_VALID(name));
	EXPECT_TYPE(name, MACH_PORT_TYPE_DEAD_NAME);
	EXPECT_REFS(name, MACH_PORT_RIGHT_DEAD_NAME, 1);
	EXPECT_KR(mach_port_destroy(mach_task_self(), name), KERN_SUCCESS);
}

static void allocate_send_gives_invalid_value(void)
{
	mach_port_name_t name = 0;

	EXPECT_KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_SEND,
				     &name), KERN_INVALID_VALUE);
}

static void allocate_send_once_gives_invalid_value(void)
{
	mach_port_name_t name = 0;

	EXPECT_KR(mach_port_allocate(mach_task_self(),
				     MACH_PORT_RIGHT_SEND_ONCE, &name),
		  KERN_INVALID_VALUE);
}

static void allocate_unknown_rights_give_invalid_value(void)
{
	mach_port_name_t name = 0;

	EXPECT_KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_LABELH,
				     &name), KERN_INVALID_VALUE);
	EXPECT_KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_NUMBER,
				     &name), KERN_INVALID_VALUE);
	EXPECT_KR(mach_port_allocate(mach_task_self(), 0xffffffffu, &name),
		  KERN_INVALID_VALUE);
}

static void allocate_gives_distinct_valid_names(void)
{
	mach_port_name_t n[4] = { 0 };

	for (int i = 0; i < 4; i++) {
		ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &n[i]);
		EXPECT_TRUE("a new name", MACH_PORT_VALID(n[i]));
		EXPECT_TRUE("a new name", n[i] != mach_task_self());
		for (int j = 0; j < i; j++)
			EXPECT_TRUE("two new names", n[i] != n[j]);
	}
	for (int i = 0; i < 4; i++)
		EXPECT_KR(mach_port_destroy(mach_task_self(), n[i]),
			  KERN_SUCCESS);
}

static void allocate_does_not_reuse_a_freed_name_at_once(void)
{
	mach_port_name_t a = 0, b = 0;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &a);
	EXPECT_KR(mach_port_destroy(mach_task_self(), a), KERN_SUCCESS);
	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &b);
	EXPECT_TRUE("the name after a freed one", a != b);
	EXPECT_KR(mach_port_destroy(mach_task_self(), b), KERN_SUCCESS);
}

static void allocate_with_bad_task_gives_invalid_task(void)
{
	mach_port_name_t name = 0, port = 0;

	EXPECT_KR(mach_port_allocate(MACH_PORT_NULL, MACH_PORT_RIGHT_RECEIVE,
				     &name), KERN_INVALID_TASK);
	EXPECT_KR(mach_port_allocate(UNUSED_NAME, MACH_PORT_RIGHT_RECEIVE,
				     &name), KERN_INVALID_TASK);
	/* Checked before the right. */
	EXPECT_KR(mach_port_allocate(UNUSED_NAME, MACH_PORT_RIGHT_SEND, &name),
		  KERN_INVALID_TASK);
	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_KR(mach_port_allocate(port, MACH_PORT_RIGHT_RECEIVE, &name),
		  KERN_INVALID_TASK);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
}

static void allocate_null_out_pointer_gives_invalid_argument(void)
{
	EXPECT_KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE,
				     NULL), KERN_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------------
 * mach_port_allocate_name.
 */

static void allocate_name_null_gives_invalid_value(void)
{
	EXPECT_KR(mach_port_allocate_name(mach_task_self(),
					  MACH_PORT_RIGHT_RECEIVE,
					  MACH_PORT_NULL), KERN_INVALID_VALUE);
}

static void allocate_name_dead_gives_invalid_value(void)
{
	EXPECT_KR(mach_port_allocate_name(mach_task_self(),
					  MACH_PORT_RIGHT_RECEIVE,
					  MACH_PORT_DEAD), KERN_INVALID_VALUE);
}

static void allocate_name_in_use_gives_name_exists(void)
{
	mach_port_name_t port = 0;

	EXPECT_KR(mach_port_allocate_name(mach_task_self(),
					  MACH_PORT_RIGHT_RECEIVE,
					  mach_task_self()), KERN_NAME_EXISTS);
	ALLOCATE(MACH_PORT_RIGHT_DEAD_NAME, &port);
	EXPECT_KR(mach_port_allocate_name(mach_task_self(),
					  MACH_PORT_RIGHT_PORT_SET, port),
		  KERN_NAME_EXISTS);
	EXPECT_TYPE(port, MACH_PORT_TYPE_DEAD_NAME);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
}

static void allocate_name_bad_right_gives_invalid_value(void)
{
	EXPECT_KR(mach_port_allocate_name(mach_task_self(),
					  MACH_PORT_RIGHT_SEND, UNUSED_NAME),
		  KERN_INVALID_VALUE);
	EXPECT_KR(mach_port_allocate_name(mach_task_self(),
					  MACH_PORT_RIGHT_NUMBER, UNUSED_NAME),
		  KERN_INVALID_VALUE);
	EXPECT_GONE(UNUSED_NAME);
}

static void allocate_name_gives_right_under_chosen_name(void)
{
	static const struct {
		mach_port_right_t right;
		mach_port_name_t name;
		mach_port_type_t type;
	} cases[] = {
		{ MACH_PORT_RIGHT_RECEIVE, 0x4d414348u, MACH_PORT_TYPE_RECEIVE },
		{ MACH_PORT_RIGHT_PORT_SET, 0x1u, MACH_PORT_TYPE_PORT_SET },
		{ MACH_PORT_RIGHT_DEAD_NAME, 0xfffffffeu, MACH_PORT_TYPE_DEAD_NAME },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		EXPECT_KR(mach_port_allocate_name(mach_task_self(),
						  cases[i].right,
						  cases[i].name),
			  KERN_SUCCESS);
		EXPECT_TYPE(cases[i].name, cases[i].type);
		EXPECT_REFS(cases[i].name, cases[i].right, 1);
		EXPECT_KR(mach_port_destroy(mach_task_self(), cases[i].name),
			  KERN_SUCCESS);
	}
}

/* ------------------------------------------------------------------------
 * mach_reply_port.
 */

static void reply_port_gives_receive_right(void)
{
	mach_port_name_t a = mach_reply_port(), b = mach_reply_port();

	EXPECT_TRUE("mach_reply_port()", MACH_PORT_VALID(a));
	EXPECT_TRUE("mach_reply_port()", MACH_PORT_VALID(b));
	EXPECT_TRUE("two reply ports", a != b);
	EXPECT_TYPE(a, MACH_PORT_TYPE_RECEIVE);
	EXPECT_REFS(a, MACH_PORT_RIGHT_RECEIVE, 1);
	EXPECT_KR(mach_port_destroy(mach_task_self(), a), KERN_SUCCESS);
	EXPECT_KR(mach_port_destroy(mach_task_self(), b), KERN_SUCCESS);
}

/* ------------------------------------------------------------------------
 * mach_port_names and vm_deallocate.
 */

static void port_names_lists_every_name_with_its_type(void)
{
	mach_port_name_t recv = 0, pset = 0, dead = 0;
	mach_port_name_array_t names = NULL;
	mach_port_type_array_t types = NULL;
	mach_msg_type_number_t ncount = 0, tcount = 0;
	int seen = 0;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &recv);
	ALLOCATE(MACH_PORT_RIGHT_PORT_SET, &pset);
	ALLOCATE(MACH_PORT_RIGHT_DEAD_NAME, &dead);
	EXPECT_KR(mach_port_names(mach_task_self(), &names, &ncount, &types,
				  &tcount), KERN_SUCCESS);
	EXPECT_U32("namesCnt == typesCnt", tcount, ncount);
	EXPECT_TRUE("namesCnt", ncount >= 4);
	EXPECT_TRUE("the arrays", names != NULL && types != NULL);
	for (mach_msg_type_number_t i = 0; i < ncount; i++) {
		mach_port_type_t want = 0;

		if (i > 0)
			EXPECT_TRUE("names in ascending order",
				    names[i - 1] < names[i]);
		if (names[i] == mach_task_self())
			want = MACH_PORT_TYPE_SEND;
		else if (names[i] == recv)
			want = MACH_PORT_TYPE_RECEIVE;
		else if (names[i] == pset)
			want = MACH_PORT_TYPE_PORT_SET;
		else if (names[i] == dead)
			want = MACH_PORT_TYPE_DEAD_NAME;
		else
			continue;
		seen++;
		EXPECT_U32("the type listed", types[i], want);
	}
	EXPECT_U32("names of ours listed", seen, 4);
	EXPECT_KR(vm_deallocate(mach_task_self(), (vm_address_t)names,
				ncount * sizeof(*names)), KERN_SUCCESS);
	EXPECT_KR(vm_deallocate(mach_task_self(), (vm_address_t)types,
				tcount * sizeof(*types)), KERN_SUCCESS);
	EXPECT_KR(mach_port_destroy(mach_task_self(), recv), KERN_SUCCESS);
	EXPECT_KR(mach_port_destroy(mach_task_self(), pset), KERN_SUCCESS);
	EXPECT_KR(mach_port_destroy(mach_task_self(), dead), KERN_SUCCESS);
}

static void port_names_arrays_are_freed_by_vm_deallocate(void)
{
	mach_port_name_array_t names = NULL;
	mach_port_type_array_t types = NULL;
	mach_msg_type_number_t ncount = 0, tcount = 0;

	EXPECT_KR(mach_port_names(mach_task_self(), &names, &ncount, &types,
				  &tcount), KERN_SUCCESS);
	EXPECT_TRUE("namesCnt", ncount >= 1);
	EXPECT_TRUE("names mapped", is_mapped(names, ncount * sizeof(*names)));
	EXPECT_TRUE("types mapped", is_mapped(types, tcount * sizeof(*types)));
	EXPECT_KR(vm_deallocate(mach_task_self(), (vm_address_t)names,
				ncount * sizeof(*names)), KERN_SUCCESS);
	EXPECT_KR(vm_deallocate(mach_task_self(), (vm_address_t)types,
				tcount * sizeof(*types)), KERN_SUCCESS);
	EXPECT_TRUE("names unmapped",
		    !is_mapped(names, ncount * sizeof(*names)));
	EXPECT_TRUE("types unmapped",
		    !is_mapped(types, tcount * sizeof(*types)));
}

static void port_names_grows_with_the_space(void)
{
	enum { N = 3000 };      /* several pages of names */
	static mach_port_name_t mine[N];
	mach_port_name_array_t names = NULL;
	mach_port_type_array_t types = NULL;
	mach_msg_type_number_t ncount = 0, tcount = 0, before = 0;

	EXPECT_KR(mach_port_names(mach_task_self(), &names, &before, &types,
				  &tcount), KERN_SUCCESS);
	vm_deallocate(mach_task_self(), (vm_address_t)names,
		      before * sizeof(*names));
	vm_deallocate(mach_task_self(), (vm_address_t)types,
		      tcount * sizeof(*types));
	for (int i = 0; i < N; i++)
		ALLOCATE(MACH_PORT_RIGHT_DEAD_NAME, &mine[i]);
	EXPECT_KR(mach_port_names(mach_task_self(), &names, &ncount, &types,
				  &tcount), KERN_SUCCESS);
	EXPECT_U32("namesCnt", ncount, before + N);
	EXPECT_U32("typesCnt", tcount, before + N);
	EXPECT_TRUE("last type", types[ncount - 1] != 0);
	EXPECT_KR(vm_deallocate(mach_task_self(), (vm_address_t)names,
				ncount * sizeof(*names)), KERN_SUCCESS);
	EXPECT_KR(vm_deallocate(mach_task_self(), (vm_address_t)types,
				tcount * sizeof(*types)), KERN_SUCCESS);
	for (int i = 0; i < N; i++)
		EXPECT_KR(mach_port_destroy(mach_task_self(), mine[i]),
			  KERN_SUCCESS);
}

static void port_names_with_bad_task_gives_invalid_task(void)
{
	mach_port_name_array_t names = NULL;
	mach_port_type_array_t types = NULL;
	mach_msg_type_number_t ncount = 0, tcount = 0;

	EXPECT_KR(mach_port_names(UNUSED_NAME, &names, &ncount, &types,
				  &tcount), KERN_INVALID_TASK);
}

static void port_names_null_out_pointer_gives_invalid_argument(void)
{
	mach_port_name_array_t names = NULL;
	mach_msg_type_number_t ncount = 0, tcount = 0;

	EXPECT_KR(mach_port_names(mach_task_self(), &names, &ncount, NULL,
				  &tcount), KERN_INVALID_ARGUMENT);
}

static void vm_deallocate_zero_size_succeeds(void)
{
	EXPECT_KR(vm_deallocate(mach_task_self(), 0, 0), KERN_SUCCESS);
}

static void vm_deallocate_other_task_gives_invalid_argument(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	EXPECT_TRUE("mmap", p != MAP_FAILED);
	EXPECT_KR(vm_deallocate(MACH_PORT_NULL, (vm_address_t)p, 4096),
		  KERN_INVALID_ARGUMENT);
	EXPECT_TRUE("still mapped", is_mapped(p, 4096));
	EXPECT_KR(vm_deallocate(mach_task_self(), (vm_address_t)p, 4096),
		  KERN_SUCCESS);
	EXPECT_TRUE("unmapped", !is_mapped(p, 4096));
}

static void vm_deallocate_wrapping_range_gives_invalid_argument(void)
{
	EXPECT_KR(vm_deallocate(mach_task_self(), (vm_address_t)-4096, 8192),
		  KERN_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------------
 * mach_port_type.
 */

static void type_of_null_gives_invalid_name(void)
{
	mach_port_type_t t;

	EXPECT_KR(mach_port_type(mach_task_self(), MACH_PORT_NULL, &t),
		  KERN_INVALID_NAME);
}

static void type_of_dead_gives_dead_name(void)
{
	EXPECT_TYPE(MACH_PORT_DEAD, MACH_PORT_TYPE_DEAD_NAME);
}

static void type_of_unused_name_gives_invalid_name(void)
{
	EXPECT_GONE(UNUSED_NAME);
}

static void type_with_bad_task_gives_invalid_task(void)
{
	mach_port_type_t t;

	EXPECT_KR(mach_port_type(UNUSED_NAME, mach_task_self(), &t),
		  KERN_INVALID_TASK);
}

/* ------------------------------------------------------------------------
 * mach_port_get_refs.
 */

static void get_refs_bad_right_gives_invalid_value(void)
{
	mach_port_urefs_t r;

	EXPECT_KR(mach_port_get_refs(mach_task_self(), mach_task_self(),
				     MACH_PORT_RIGHT_NUMBER, &r),
		  KERN_INVALID_VALUE);
}

static void get_refs_null_and_dead_names_give_one_send_ref(void)
{
	mach_port_urefs_t r;

	EXPECT_REFS(MACH_PORT_NULL, MACH_PORT_RIGHT_SEND, 1);
	EXPECT_REFS(MACH_PORT_DEAD, MACH_PORT_RIGHT_SEND, 1);
	EXPECT_REFS(MACH_PORT_NULL, MACH_PORT_RIGHT_SEND_ONCE, 1);
	EXPECT_REFS(MACH_PORT_DEAD, MACH_PORT_RIGHT_SEND_ONCE, 1);
	EXPECT_KR(mach_port_get_refs(mach_task_self(), MACH_PORT_NULL,
				     MACH_PORT_RIGHT_RECEIVE, &r),
		  KERN_INVALID_NAME);
	EXPECT_KR(mach_port_get_refs(mach_task_self(), MACH_PORT_DEAD,
				     MACH_PORT_RIGHT_DEAD_NAME, &r),
		  KERN_INVALID_NAME);
}

static void get_refs_unused_name_gives_invalid_name(void)
{
	mach_port_urefs_t r;

	EXPECT_KR(mach_port_get_refs(mach_task_self(), UNUSED_NAME,
				     MACH_PORT_RIGHT_SEND, &r),
		  KERN_INVALID_NAME);
}

static void get_refs_right_not_held_gives_zero(void)
{
	mach_port_name_t port = 0;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_REFS(port, MACH_PORT_RIGHT_SEND, 0);
	EXPECT_REFS(port, MACH_PORT_RIGHT_SEND_ONCE, 0);
	EXPECT_REFS(port, MACH_PORT_RIGHT_PORT_SET, 0);
	EXPECT_REFS(port, MACH_PORT_RIGHT_DEAD_NAME, 0);
	EXPECT_REFS(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, 0);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
}

/* ------------------------------------------------------------------------
 * mach_port_mod_refs.
 */

static void mod_refs_receive_minus_one_destroys_port(void)
{
	mach_port_name_t port = 0;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), port,
				     MACH_PORT_RIGHT_RECEIVE, -1),
		  KERN_SUCCESS);
	EXPECT_GONE(port);
}

static void mod_refs_receive_zero_changes_nothing(void)
{
	mach_port_name_t port = 0;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), port,
				     MACH_PORT_RIGHT_RECEIVE, 0),
		  KERN_SUCCESS);
	EXPECT_TYPE(port, MACH_PORT_TYPE_RECEIVE);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
}

static void mod_refs_receive_other_delta_gives_invalid_value(void)
{
	mach_port_name_t port = 0;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), port,
				     MACH_PORT_RIGHT_RECEIVE, 1),
		  KERN_INVALID_VALUE);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), port,
				     MACH_PORT_RIGHT_RECEIVE, -2),
		  KERN_INVALID_VALUE);
	EXPECT_TYPE(port, MACH_PORT_TYPE_RECEIVE);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
}

static void mod_refs_right_not_held_gives_invalid_right(void)
{
	mach_port_name_t dead = 0, port = 0;

	ALLOCATE(MACH_PORT_RIGHT_DEAD_NAME, &dead);
	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), dead,
				     MACH_PORT_RIGHT_RECEIVE, -1),
		  KERN_INVALID_RIGHT);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), dead,
				     MACH_PORT_RIGHT_PORT_SET, -1),
		  KERN_INVALID_RIGHT);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), port,
				     MACH_PORT_RIGHT_DEAD_NAME, 1),
		  KERN_INVALID_RIGHT);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), port,
				     MACH_PORT_RIGHT_SEND_ONCE, 0),
		  KERN_INVALID_RIGHT);
	EXPECT_TYPE(dead, MACH_PORT_TYPE_DEAD_NAME);
	EXPECT_TYPE(port, MACH_PORT_TYPE_RECEIVE);
	EXPECT_KR(mach_port_destroy(mach_task_self(), dead), KERN_SUCCESS);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
}

static void mod_refs_dead_name_adds_and_removes_refs(void)
{
	mach_port_name_t dead = 0;

	ALLOCATE(MACH_PORT_RIGHT_DEAD_NAME, &dead);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), dead,
				     MACH_PORT_RIGHT_DEAD_NAME, 2),
		  KERN_SUCCESS);
	EXPECT_REFS(dead, MACH_PORT_RIGHT_DEAD_NAME, 3);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), dead,
				     MACH_PORT_RIGHT_DEAD_NAME, -1),
		  KERN_SUCCESS);
	EXPECT_REFS(dead, MACH_PORT_RIGHT_DEAD_NAME, 2);
	EXPECT_KR(mach_port_destroy(mach_task_self(), dead), KERN_SUCCESS);
}

static void mod_refs_dead_name_below_zero_gives_invalid_value(void)
{
	mach_port_name_t dead = 0;

	ALLOCATE(MACH_PORT_RIGHT_DEAD_NAME, &dead);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), dead,
				     MACH_PORT_RIGHT_DEAD_NAME, 1),
		  KERN_SUCCESS);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), dead,
				     MACH_PORT_RIGHT_DEAD_NAME, -3),
		  KERN_INVALID_VALUE);
	EXPECT_REFS(dead, MACH_PORT_RIGHT_DEAD_NAME, 2);
	EXPECT_KR(mach_port_destroy(mach_task_self(), dead), KERN_SUCCESS);
}

static void mod_refs_dead_name_overflow_gives_urefs_overflow(void)
{
	mach_port_name_t dead = 0;

	ALLOCATE(MACH_PORT_RIGHT_DEAD_NAME, &dead);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), dead,
				     MACH_PORT_RIGHT_DEAD_NAME,
				     MACH_PORT_UREFS_MAX),
		  KERN_UREFS_OVERFLOW);
	EXPECT_REFS(dead, MACH_PORT_RIGHT_DEAD_NAME, 1);
	EXPECT_KR(mach_port_destroy(mach_task_self(), dead), KERN_SUCCESS);
}

static void mod_refs_dead_name_to_zero_frees_name(void)
{
	mach_port_name_t dead = 0;

	ALLOCATE(MACH_PORT_RIGHT_DEAD_NAME, &dead);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), dead,
				     MACH_PORT_RIGHT_DEAD_NAME, 1),
		  KERN_SUCCESS);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), dead,
				     MACH_PORT_RIGHT_DEAD_NAME, -2),
		  KERN_SUCCESS);
	EXPECT_GONE(dead);
}

static void mod_refs_send_counts_task_self_refs(void)
{
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), mach_task_self(),
				     MACH_PORT_RIGHT_SEND, 2), KERN_SUCCESS);
	EXPECT_REFS(mach_task_self(), MACH_PORT_RIGHT_SEND, 3);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), mach_task_self(),
				     MACH_PORT_RIGHT_SEND, -2), KERN_SUCCESS);
	EXPECT_REFS(mach_task_self(), MACH_PORT_RIGHT_SEND, 1);
	/* Below zero: refused, nothing changes. */
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), mach_task_self(),
				     MACH_PORT_RIGHT_SEND, -2),
		  KERN_INVALID_VALUE);
	EXPECT_TYPE(mach_task_self(), MACH_PORT_TYPE_SEND);
	EXPECT_REFS(mach_task_self(), MACH_PORT_RIGHT_SEND, 1);
}

static void mod_refs_port_set_minus_one_destroys_set(void)
{
	mach_port_name_t pset = 0;

	ALLOCATE(MACH_PORT_RIGHT_PORT_SET, &pset);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), pset,
				     MACH_PORT_RIGHT_PORT_SET, -1),
		  KERN_SUCCESS);
	EXPECT_GONE(pset);
}

static void mod_refs_bad_right_gives_invalid_value(void)
{
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), mach_task_self(),
				     MACH_PORT_RIGHT_NUMBER, 1),
		  KERN_INVALID_VALUE);
}

static void mod_refs_labelh_gives_invalid_right(void)
{
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), mach_task_self(),
				     MACH_PORT_RIGHT_LABELH, 1),
		  KERN_INVALID_RIGHT);
}

static void mod_refs_null_name_succeeds_only_for_send_rights(void)
{
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), MACH_PORT_NULL,
				     MACH_PORT_RIGHT_SEND, -1), KERN_SUCCESS);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), MACH_PORT_DEAD,
				     MACH_PORT_RIGHT_SEND_ONCE, -1),
		  KERN_SUCCESS);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), MACH_PORT_NULL,
				     MACH_PORT_RIGHT_RECEIVE, -1),
		  KERN_INVALID_NAME);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), MACH_PORT_DEAD,
				     MACH_PORT_RIGHT_DEAD_NAME, 1),
		  KERN_INVALID_NAME);
}

static void mod_refs_unused_name_gives_invalid_name(void)
{
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), UNUSED_NAME,
				     MACH_PORT_RIGHT_DEAD_NAME, 1),
		  KERN_INVALID_NAME);
}

/* ------------------------------------------------------------------------
 * mach_port_deallocate.
 */

static void deallocate_null_and_dead_succeed(void)
{
	EXPECT_KR(mach_port_deallocate(mach_task_self(), MACH_PORT_NULL),
		  KERN_SUCCESS);
	EXPECT_KR(mach_port_deallocate(mach_task_self(), MACH_PORT_DEAD),
		  KERN_SUCCESS);
}

static void deallocate_unused_name_gives_invalid_name(void)
{
	EXPECT_KR(mach_port_deallocate(mach_task_self(), UNUSED_NAME),
		  KERN_INVALID_NAME);
}

static void deallocate_receive_right_gives_invalid_right(void)
{
	mach_port_name_t port = 0;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_KR(mach_port_deallocate(mach_task_self(), port),
		  KERN_INVALID_RIGHT);
	EXPECT_TYPE(port, MACH_PORT_TYPE_RECEIVE);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
}

static void deallocate_dead_name_drops_one_ref(void)
{
	mach_port_name_t dead = 0;

	ALLOCATE(MACH_PORT_RIGHT_DEAD_NAME, &dead);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), dead,
				     MACH_PORT_RIGHT_DEAD_NAME, 1),
		  KERN_SUCCESS);
	EXPECT_KR(mach_port_deallocate(mach_task_self(), dead), KERN_SUCCESS);
	EXPECT_REFS(dead, MACH_PORT_RIGHT_DEAD_NAME, 1);
	EXPECT_KR(mach_port_deallocate(mach_task_self(), dead), KERN_SUCCESS);
	EXPECT_GONE(dead);
}

static void deallocate_port_set_destroys_it(void)
{
	mach_port_name_t pset = 0;

	ALLOCATE(MACH_PORT_RIGHT_PORT_SET, &pset);
	EXPECT_KR(mach_port_deallocate(mach_task_self(), pset), KERN_SUCCESS);
	EXPECT_GONE(pset);
}

static void deallocate_send_right_drops_one_ref(void)
{
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), mach_task_self(),
				     MACH_PORT_RIGHT_SEND, 1), KERN_SUCCESS);
	EXPECT_KR(mach_port_deallocate(mach_task_self(), mach_task_self()),
		  KERN_SUCCESS);
	EXPECT_REFS(mach_task_self(), MACH_PORT_RIGHT_SEND, 1);
}

/* ------------------------------------------------------------------------
 * mach_port_destroy.
 */

static void destroy_null_and_dead_succeed(void)
{
	EXPECT_KR(mach_port_destroy(mach_task_self(), MACH_PORT_NULL),
		  KERN_SUCCESS);
	EXPECT_KR(mach_port_destroy(mach_task_self(), MACH_PORT_DEAD),
		  KERN_SUCCESS);
}

static void destroy_unused_name_gives_invalid_name(void)
{
	EXPECT_KR(mach_port_destroy(mach_task_self(), UNUSED_NAME),
		  KERN_INVALID_NAME);
}

static void destroy_receive_right_frees_name(void)
{
	mach_port_name_t port = 0;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
	EXPECT_GONE(port);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_INVALID_NAME);
}

static void destroy_dead_name_drops_every_ref(void)
{
	mach_port_name_t dead = 0;

	ALLOCATE(MACH_PORT_RIGHT_DEAD_NAME, &dead);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), dead,
				     MACH_PORT_RIGHT_DEAD_NAME, 41),
		  KERN_SUCCESS);
	EXPECT_KR(mach_port_destroy(mach_task_self(), dead), KERN_SUCCESS);
	EXPECT_GONE(dead);
}

/* ------------------------------------------------------------------------
 * Other spaces: a second open("/dev/mach") and task_for_fd.
 */

/* Names chosen for insert_right (any name but NULL and DEAD will do). */
#define NAME_A ((mach_port_name_t)0x41414100u)
#define NAME_B ((mach_port_name_t)0x42424200u)

/* Descriptors a test opened; main() closes them after every test. */
static int test_fds[8];
static int n_test_fds;

static int keep_fd(int fd)
{
	if (fd >= 0 &&
	    n_test_fds < (int)(sizeof(test_fds) / sizeof(test_fds[0])))
		test_fds[n_test_fds++] = fd;
	return fd;
}

/* Closes a descriptor keep_fd() holds now, and forgets it. */
static int close_fd(int fd)
{
	for (int i = 0; i < n_test_fds; i++)
		if (test_fds[i] == fd)
			test_fds[i] = test_fds[--n_test_fds];
	return close(fd);
}

/* Task names OTHER_SPACE took; main() destroys them after every test. */
static mach_port_name_t test_tasks[8];
static int n_test_tasks;

static void keep_task(mach_port_name_t task)
{
	if (n_test_tasks < (int)(sizeof(test_tasks) / sizeof(test_tasks[0])))
		test_tasks[n_test_tasks++] = task;
}

/*
 * After every test: closes the spaces it opened, then drops its names for
 * their task ports (dead names by then, or already gone).
 */
static void test_cleanup(void)
{
	while (n_test_fds > 0)
		close(test_fds[--n_test_fds]);
	while (n_test_tasks > 0)
		mach_port_destroy(mach_task_self(), test_tasks[--n_test_tasks]);
}

/*
 * Opens another space into `fd` and takes a send right to its task port
 * into `task` (a mach_port_t).
 */
#define OTHER_SPACE(fd, task)                                                 \
	do {                                                                  \
		(fd) = keep_fd(open("/dev/mach", O_RDWR | O_CLOEXEC));        \
		if ((fd) < 0) {                                               \
			fail(__LINE__, "open(\"/dev/mach\")",                 \
			     "expected a descriptor, got %s",                 \
			     strerror(errno));                                \
			return;                                               \
		}                                                             \
		EXPECT_KR_AS(task_for_fd((fd), &(task)), KERN_SUCCESS,        \
			     "task_for_fd(" #fd ")");                         \
		keep_task(task);                                              \
	} while (0)

/* mach_port_extract_right must give `want_type` (MACH_MSG_TYPE_PORT_*). */
#define EXTRACT(task, name, disposition, poly, want_type)                     \
	do {                                                                  \
		mach_msg_type_name_t pp_ = 0xdeadbeef;                        \
		EXPECT_KR_AS(mach_port_extract_right((task), (name),          \
						     (disposition), &(poly),  \
						     &pp_),                   \
			     KERN_SUCCESS,                                    \
			     "mach_port_extract_right(" #task ", " #name ", " \
			     #disposition ")");                               \
		EXPECT_U32("polyPoly of mach_port_extract_right(" #task ", "  \
			   #name ", " #disposition ")", pp_, want_type);      \
	} while (0)

/*
 * The number of names in `task`'s space, and the type `name` has there (0
 * when it is not listed).
 */
static kern_return_t name_listed(mach_port_t task, mach_port_name_t name,
				 mach_msg_type_number_t *count,
				 mach_port_type_t *type)
{
	mach_port_name_array_t names = NULL;
	mach_port_type_array_t types = NULL;
	mach_msg_type_number_t tcount = 0;
	kern_return_t kr;

	*count = 0;
	*type = 0;
	kr = mach_port_names(task, &names, count, &types, &tcount);
	if (kr != KERN_SUCCESS)
		return kr;
	for (mach_msg_type_number_t i = 0; i < *count; i++)
		if (names[i] == name)
			*type = types[i];
	vm_deallocate(mach_task_self(), (vm_address_t)names,
		      *count * sizeof(*names));
	vm_deallocate(mach_task_self(), (vm_address_t)types,
		      tcount * sizeof(*types));
	return KERN_SUCCESS;
}

/* The one descriptor open on /dev/mach (the library's), or -1. */
static int the_mach_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int found = -1, n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char target[64];
		ssize_t len;

		len = readlinkat(dirfd(d), e->d_name, target,
				 sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = 0;
		if (strcmp(target, "/dev/mach") == 0) {
			found = atoi(e->d_name);
			n++;
		}
	}
	closedir(d);
	return n == 1 ? found : -1;
}

/* ------------------------------------------------------------------------
 * mach_port_insert_right.
 */

static void insert_right_make_send_onto_own_receive_right(void)
{
	mach_port_name_t port = 0;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_KR(mach_port_insert_right(mach_task_self(), port, port,
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_SUCCESS);
	EXPECT_TYPE(port, MACH_PORT_TYPE_SEND_RECEIVE);
	EXPECT_REFS(port, MACH_PORT_RIGHT_SEND, 1);
	EXPECT_REFS(port, MACH_PORT_RIGHT_RECEIVE, 1);
	/* A second MAKE_SEND merges: one more user reference. */
	EXPECT_KR(mach_port_insert_right(mach_task_self(), port, port,
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_SUCCESS);
	EXPECT_REFS(port, MACH_PORT_RIGHT_SEND, 2);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
	EXPECT_GONE(port);
}

static void insert_right_copy_send_adds_a_uref(void)
{
	mach_port_name_t port = 0;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_KR(mach_port_insert_right(mach_task_self(), port, port,
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_SUCCESS);
	EXPECT_KR(mach_port_insert_right(mach_task_self(), port, port,
					 MACH_MSG_TYPE_COPY_SEND),
		  KERN_SUCCESS);
	EXPECT_TYPE(port, MACH_PORT_TYPE_SEND_RECEIVE);
	EXPECT_REFS(port, MACH_PORT_RIGHT_SEND, 2);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
}

static void insert_right_move_send_back_under_same_name_keeps_count(void)
{
	mach_port_name_t port = 0;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_KR(mach_port_insert_right(mach_task_self(), port, port,
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_SUCCESS);
	EXPECT_KR(mach_port_insert_right(mach_task_self(), port, port,
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_SUCCESS);
	EXPECT_KR(mach_port_insert_right(mach_task_self(), port, port,
					 MACH_MSG_TYPE_MOVE_SEND),
		  KERN_SUCCESS);
	EXPECT_TYPE(port, MACH_PORT_TYPE_SEND_RECEIVE);
	EXPECT_REFS(port, MACH_PORT_RIGHT_SEND, 2);
	/* The last reference: the name keeps its receive right meanwhile. */
	EXPECT_KR(mach_port_deallocate(mach_task_self(), port), KERN_SUCCESS);
	EXPECT_KR(mach_port_insert_right(mach_task_self(), port, port,
					 MACH_MSG_TYPE_MOVE_SEND),
		  KERN_SUCCESS);
	EXPECT_TYPE(port, MACH_PORT_TYPE_SEND_RECEIVE);
	EXPECT_REFS(port, MACH_PORT_RIGHT_SEND, 1);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
}

static void insert_right_move_send_of_a_lone_last_ref_back_under_its_name(void)
{
	mach_port_t task = 0;
	mach_port_name_t theirs = 0, send = 0;
	int fd;

	OTHER_SPACE(fd, task);
	EXPECT_KR(mach_port_allocate(task, MACH_PORT_RIGHT_RECEIVE, &theirs),
		  KERN_SUCCESS);
	EXTRACT(task, theirs, MACH_MSG_TYPE_MAKE_SEND, send,
		MACH_MSG_TYPE_PORT_SEND);
	EXPECT_TYPE(send, MACH_PORT_TYPE_SEND);
	/* Copy-in frees the name; copy-out takes it again. */
	EXPECT_KR(mach_port_insert_right(mach_task_self(), send, send,
					 MACH_MSG_TYPE_MOVE_SEND),
		  KERN_SUCCESS);
	EXPECT_TYPE(send, MACH_PORT_TYPE_SEND);
	EXPECT_REFS(send, MACH_PORT_RIGHT_SEND, 1);
	EXPECT_KR(mach_port_deallocate(mach_task_self(), send), KERN_SUCCESS);
	EXPECT_GONE(send);
	EXPECT_TRUE("close", close_fd(fd) == 0);
	EXPECT_KR(mach_port_deallocate(mach_task_self(), task), KERN_SUCCESS);
}

static void insert_right_name_in_use_gives_name_exists(void)
{
	mach_port_t task = 0;
	mach_port_name_t port = 0, dead = 0, theirs = 0;
	mach_msg_type_number_t count;
	mach_port_type_t type;
	int fd;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	ALLOCATE(MACH_PORT_RIGHT_DEAD_NAME, &dead);
	/* A send-once right always needs a name of its own. */
	EXPECT_KR(mach_port_insert_right(mach_task_self(), dead, port,
					 MACH_MSG_TYPE_MAKE_SEND_ONCE),
		  KERN_NAME_EXISTS);
	EXPECT_TYPE(dead, MACH_PORT_TYPE_DEAD_NAME);
	EXPECT_REFS(dead, MACH_PORT_RIGHT_DEAD_NAME, 1);
	EXPECT_TYPE(port, MACH_PORT_TYPE_RECEIVE);
	/* A send right into a space that holds no right to the port. */
	OTHER_SPACE(fd, task);
	EXPECT_KR(mach_port_allocate(task, MACH_PORT_RIGHT_DEAD_NAME, &theirs),
		  KERN_SUCCESS);
	EXPECT_KR(mach_port_insert_right(task, theirs, port,
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_NAME_EXISTS);
	EXPECT_KR(mach_port_insert_right(task, MACH_TASK_SELF_NAME, port,
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_NAME_EXISTS);
	EXPECT_TYPE_IN(task, theirs, MACH_PORT_TYPE_DEAD_NAME);
	EXPECT_TYPE_IN(task, MACH_TASK_SELF_NAME, MACH_PORT_TYPE_SEND);
	EXPECT_KR(name_listed(task, theirs, &count, &type), KERN_SUCCESS);
	EXPECT_U32("names in the other space", count, 2);
	EXPECT_TYPE(port, MACH_PORT_TYPE_RECEIVE);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
	EXPECT_KR(mach_port_destroy(mach_task_self(), dead), KERN_SUCCESS);
}

static void insert_right_second_name_for_a_port_gives_right_exists(void)
{
	mach_port_t task = 0;
	mach_port_name_t port = 0;
	int fd;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_KR(mach_port_insert_right(mach_task_self(), UNUSED_NAME, port,
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_RIGHT_EXISTS);
	EXPECT_GONE(UNUSED_NAME);
	EXPECT_TYPE(port, MACH_PORT_TYPE_RECEIVE);
	EXPECT_KR(mach_port_insert_right(mach_task_self(), port, port,
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_SUCCESS);
	EXPECT_KR(mach_port_insert_right(mach_task_self(), UNUSED_NAME, port,
					 MACH_MSG_TYPE_COPY_SEND),
		  KERN_RIGHT_EXISTS);
	EXPECT_GONE(UNUSED_NAME);
	EXPECT_REFS(port, MACH_PORT_RIGHT_SEND, 1);
	/* The same in another space. */
	OTHER_SPACE(fd, task);
	EXPECT_KR(mach_port_insert_right(task, NAME_A, port,
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_SUCCESS);
	EXPECT_KR(mach_port_insert_right(task, NAME_B, port,
					 MACH_MSG_TYPE_COPY_SEND),
		  KERN_RIGHT_EXISTS);
	EXPECT_GONE_IN(task, NAME_B);
	EXPECT_KR(mach_port_insert_right(task, NAME_A, port,
					 MACH_MSG_TYPE_COPY_SEND),
		  KERN_SUCCESS);
	EXPECT_TYPE_IN(task, NAME_A, MACH_PORT_TYPE_SEND);
	EXPECT_REFS_IN(task, NAME_A, MACH_PORT_RIGHT_SEND, 2);
	EXPECT_REFS(port, MACH_PORT_RIGHT_SEND, 1);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
}

static void insert_right_null_or_dead_poly_gives_invalid_capability(void)
{
	static const mach_msg_type_name_t dispositions[] = {
		MACH_MSG_TYPE_MOVE_RECEIVE, MACH_MSG_TYPE_MOVE_SEND,
		MACH_MSG_TYPE_MOVE_SEND_ONCE, MACH_MSG_TYPE_COPY_SEND,
		MACH_MSG_TYPE_MAKE_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE,
	};

	for (size_t i = 0; i < sizeof(dispositions) / sizeof(dispositions[0]);
	     i++) {
		EXPECT_KR(mach_port_insert_right(mach_task_self(), UNUSED_NAME,
						 MACH_PORT_NULL,
						 dispositions[i]),
			  KERN_INVALID_CAPABILITY);
		EXPECT_KR(mach_port_insert_right(mach_task_self(), UNUSED_NAME,
						 MACH_PORT_DEAD,
						 dispositions[i]),
			  KERN_INVALID_CAPABILITY);
	}
	EXPECT_GONE(UNUSED_NAME);
}

static void insert_right_bad_disposition_gives_invalid_value(void)
{
	static const mach_msg_type_name_t bad[] = {
		MACH_MSG_TYPE_PORT_NONE, MACH_MSG_TYPE_PORT_NAME,
		MACH_MSG_TYPE_COPY_RECEIVE, 23, MACH_MSG_TYPE_DISPOSE_RECEIVE,
		MACH_MSG_TYPE_DISPOSE_SEND, MACH_MSG_TYPE_DISPOSE_SEND_ONCE,
		MACH_MSG_TYPE_POLYMORPHIC,
	};
	mach_port_name_t port = 0;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_TRUE("a bad disposition",
			    !MACH_MSG_TYPE_PORT_ANY(bad[i]));
		EXPECT_KR(mach_port_insert_right(mach_task_self(), UNUSED_NAME,
						 port, bad[i]),
			  KERN_INVALID_VALUE);
		/* Checked before poly. */
		EXPECT_KR(mach_port_insert_right(mach_task_self(), UNUSED_NAME,
						 MACH_PORT_NULL, bad[i]),
			  KERN_INVALID_VALUE);
	}
	EXPECT_GONE(UNUSED_NAME);
	EXPECT_TYPE(port, MACH_PORT_TYPE_RECEIVE);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
}

static void insert_right_null_or_dead_name_gives_invalid_value(void)
{
	mach_port_name_t port = 0;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_KR(mach_port_insert_right(mach_task_self(), MACH_PORT_NULL,
					 port, MACH_MSG_TYPE_MAKE_SEND),
		  KERN_INVALID_VALUE);
	EXPECT_KR(mach_port_insert_right(mach_task_self(), MACH_PORT_DEAD,
					 port, MACH_MSG_TYPE_MOVE_RECEIVE),
		  KERN_INVALID_VALUE);
	EXPECT_TYPE(port, MACH_PORT_TYPE_RECEIVE);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
}

static void insert_right_bad_task_gives_invalid_task(void)
{
	mach_port_name_t port = 0;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_KR(mach_port_insert_right(UNUSED_NAME, NAME_A, port,
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_INVALID_TASK);
	EXPECT_KR(mach_port_insert_right(port, NAME_A, port,
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_INVALID_TASK);
	EXPECT_KR(mach_port_insert_right(MACH_PORT_NULL, MACH_PORT_NULL,
					 MACH_PORT_NULL, 0),
		  KERN_INVALID_TASK);
	EXPECT_TYPE(port, MACH_PORT_TYPE_RECEIVE);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
}

static void insert_right_unused_poly_gives_invalid_name(void)
{
	EXPECT_KR(mach_port_insert_right(mach_task_self(), NAME_A,
					 UNUSED_NAME, MACH_MSG_TYPE_COPY_SEND),
		  KERN_INVALID_NAME);
	EXPECT_GONE(NAME_A);
}

static void insert_right_missing_right_gives_invalid_right(void)
{
	mach_port_name_t port = 0, pset = 0;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	ALLOCATE(MACH_PORT_RIGHT_PORT_SET, &pset);
	EXPECT_KR(mach_port_insert_right(mach_task_self(), port, port,
					 MACH_MSG_TYPE_COPY_SEND),
		  KERN_INVALID_RIGHT);
	EXPECT_KR(mach_port_insert_right(mach_task_self(), port, port,
					 MACH_MSG_TYPE_MOVE_SEND),
		  KERN_INVALID_RIGHT);
	EXPECT_KR(mach_port_insert_right(mach_task_self(), NAME_A, port,
					 MACH_MSG_TYPE_MOVE_SEND_ONCE),
		  KERN_INVALID_RIGHT);
	EXPECT_KR(mach_port_insert_right(mach_task_self(), NAME_A, pset,
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_INVALID_RIGHT);
	/* The receive right of a task port is the kernel's. */
	EXPECT_KR(mach_port_insert_right(mach_task_self(), NAME_A,
					 mach_task_self(),
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_INVALID_RIGHT);
	EXPECT_KR(mach_port_insert_right(mach_task_self(), NAME_A,
					 mach_task_self(),
					 MACH_MSG_TYPE_MOVE_RECEIVE),
		  KERN_INVALID_RIGHT);
	EXPECT_GONE(NAME_A);
	EXPECT_TYPE(port, MACH_PORT_TYPE_RECEIVE);
	EXPECT_TYPE(pset, MACH_PORT_TYPE_PORT_SET);
	EXPECT_TYPE(mach_task_self(), MACH_PORT_TYPE_SEND);
	EXPECT_REFS(mach_task_self(), MACH_PORT_RIGHT_SEND, 1);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
	EXPECT_KR(mach_port_destroy(mach_task_self(), pset), KERN_SUCCESS);
}

static void insert_right_from_a_dead_name(void)
{
	mach_port_name_t dead = 0;

	ALLOCATE(MACH_PORT_RIGHT_DEAD_NAME, &dead);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), dead,
				     MACH_PORT_RIGHT_DEAD_NAME, 1),
		  KERN_SUCCESS);
	EXPECT_KR(mach_port_insert_right(mach_task_self(), NAME_A, dead,
					 MACH_MSG_TYPE_COPY_SEND),
		  KERN_INVALID_CAPABILITY);
	EXPECT_REFS(dead, MACH_PORT_RIGHT_DEAD_NAME, 2);
	EXPECT_KR(mach_port_insert_right(mach_task_self(), NAME_A, dead,
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_INVALID_RIGHT);
	EXPECT_KR(mach_port_insert_right(mach_task_self(), NAME_A, dead,
					 MACH_MSG_TYPE_MOVE_RECEIVE),
		  KERN_INVALID_RIGHT);
	EXPECT_REFS(dead, MACH_PORT_RIGHT_DEAD_NAME, 2);
	/* MOVE_SEND and MOVE_SEND_ONCE consume a reference. */
	EXPECT_KR(mach_port_insert_right(mach_task_self(), NAME_A, dead,
					 MACH_MSG_TYPE_MOVE_SEND),
		  KERN_INVALID_CAPABILITY);
	EXPECT_REFS(dead, MACH_PORT_RIGHT_DEAD_NAME, 1);
	EXPECT_KR(mach_port_insert_right(mach_task_self(), NAME_A, dead,
					 MACH_MSG_TYPE_MOVE_SEND_ONCE),
		  KERN_INVALID_CAPABILITY);
	EXPECT_GONE(dead);
	EXPECT_GONE(NAME_A);
}

static void insert_right_move_receive_into_other_space(void)
{
	mach_port_t task = 0;
	mach_port_name_t port = 0, other = 0;
	int fd;

	OTHER_SPACE(fd, task);
	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_KR(mach_port_insert_right(task, NAME_A, port,
					 MACH_MSG_TYPE_MOVE_RECEIVE),
		  KERN_SUCCESS);
	EXPECT_GONE(port);
	EXPECT_TYPE_IN(task, NAME_A, MACH_PORT_TYPE_RECEIVE);
	/* Onto the name that holds a send right to the port: SEND|RECEIVE. */
	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &other);
	EXPECT_KR(mach_port_insert_right(task, NAME_B, other,
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_SUCCESS);
	EXPECT_KR(mach_port_insert_right(task, NAME_B, other,
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_SUCCESS);
	EXPECT_KR(mach_port_insert_right(task, NAME_B, other,
					 MACH_MSG_TYPE_MOVE_RECEIVE),
		  KERN_SUCCESS);
	EXPECT_GONE(other);
	EXPECT_TYPE_IN(task, NAME_B, MACH_PORT_TYPE_SEND_RECEIVE);
	EXPECT_REFS_IN(task, NAME_B, MACH_PORT_RIGHT_SEND, 2);
}

static void insert_right_failed_move_receive_destroys_the_port(void)
{
	mach_port_t task = 0;
	mach_port_name_t port = 0, theirs = 0;
	int fd;

	OTHER_SPACE(fd, task);
	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_KR(mach_port_insert_right(task, NAME_A, port,
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_SUCCESS);
	EXPECT_KR(mach_port_allocate(task, MACH_PORT_RIGHT_DEAD_NAME, &theirs),
		  KERN_SUCCESS);
	/* NAME_A already holds a send right to the port. */
	EXPECT_KR(mach_port_insert_right(task, theirs, port,
					 MACH_MSG_TYPE_MOVE_RECEIVE),
		  KERN_RIGHT_EXISTS);
	EXPECT_GONE(port);
	EXPECT_TYPE_IN(task, NAME_A, MACH_PORT_TYPE_DEAD_NAME);
	EXPECT_REFS_IN(task, NAME_A, MACH_PORT_RIGHT_DEAD_NAME, 1);
	EXPECT_TYPE_IN(task, theirs, MACH_PORT_TYPE_DEAD_NAME);
}

static void insert_right_send_once_rights_get_names_of_their_own(void)
{
	mach_port_t task = 0;
	mach_port_name_t port = 0, once = 0;
	int fd;

	OTHER_SPACE(fd, task);
	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_KR(mach_port_insert_right(task, NAME_A, port,
					 MACH_MSG_TYPE_MAKE_SEND_ONCE),
		  KERN_SUCCESS);
	EXTRACT(mach_task_self(), port, MACH_MSG_TYPE_MAKE_SEND_ONCE, once,
		MACH_MSG_TYPE_PORT_SEND_ONCE);
	EXPECT_KR(mach_port_insert_right(task, NAME_B, once,
					 MACH_MSG_TYPE_MOVE_SEND_ONCE),
		  KERN_SUCCESS);
	EXPECT_GONE(once);
	EXPECT_TYPE_IN(task, NAME_A, MACH_PORT_TYPE_SEND_ONCE);
	EXPECT_TYPE_IN(task, NAME_B, MACH_PORT_TYPE_SEND_ONCE);
	EXPECT_REFS_IN(task, NAME_B, MACH_PORT_RIGHT_SEND_ONCE, 1);
	EXPECT_TYPE(port, MACH_PORT_TYPE_RECEIVE);
	/* The port dies: each send-once right becomes a dead name with one. */
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
	EXPECT_TYPE_IN(task, NAME_A, MACH_PORT_TYPE_DEAD_NAME);
	EXPECT_TYPE_IN(task, NAME_B, MACH_PORT_TYPE_DEAD_NAME);
	EXPECT_REFS_IN(task, NAME_A, MACH_PORT_RIGHT_DEAD_NAME, 1);
	EXPECT_REFS_IN(task, NAME_B, MACH_PORT_RIGHT_DEAD_NAME, 1);
}

/* ------------------------------------------------------------------------
 * mach_port_extract_right.
 */

static void extract_right_make_send_from_receive_gives_same_name(void)
{
	mach_port_name_t port = 0, poly = 0;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXTRACT(mach_task_self(), port, MACH_MSG_TYPE_MAKE_SEND, poly,
		MACH_MSG_TYPE_PORT_SEND);
	EXPECT_U32("the extracted name", poly, port);
	EXPECT_TYPE(port, MACH_PORT_TYPE_SEND_RECEIVE);
	EXPECT_REFS(port, MACH_PORT_RIGHT_SEND, 1);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
}

static void extract_right_make_send_once_gives_new_name(void)
{
	mach_port_name_t port = 0, once = 0, twice = 0;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXTRACT(mach_task_self(), port, MACH_MSG_TYPE_MAKE_SEND_ONCE, once,
		MACH_MSG_TYPE_PORT_SEND_ONCE);
	EXTRACT(mach_task_self(), port, MACH_MSG_TYPE_MAKE_SEND_ONCE, twice,
		MACH_MSG_TYPE_PORT_SEND_ONCE);
	EXPECT_TRUE("the send-once name", MACH_PORT_VALID(once));
	EXPECT_TRUE("the send-once name", once != port);
	EXPECT_TRUE("two send-once names", once != twice);
	EXPECT_TYPE(once, MACH_PORT_TYPE_SEND_ONCE);
	EXPECT_REFS(once, MACH_PORT_RIGHT_SEND_ONCE, 1);
	EXPECT_TYPE(port, MACH_PORT_TYPE_RECEIVE);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
	EXPECT_TYPE(once, MACH_PORT_TYPE_DEAD_NAME);
	EXPECT_REFS(once, MACH_PORT_RIGHT_DEAD_NAME, 1);
	EXPECT_KR(mach_port_deallocate(mach_task_self(), once), KERN_SUCCESS);
	EXPECT_KR(mach_port_deallocate(mach_task_self(), twice), KERN_SUCCESS);
	EXPECT_GONE(once);
	EXPECT_GONE(twice);
}

static void extract_right_bad_arguments(void)
{
	mach_port_name_t port = 0, poly = 0x1234;
	mach_msg_type_name_t pp = 0x5678;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_KR(mach_port_extract_right(UNUSED_NAME, port,
					  MACH_MSG_TYPE_MAKE_SEND, &poly, &pp),
		  KERN_INVALID_TASK);
	EXPECT_KR(mach_port_extract_right(port, port, MACH_MSG_TYPE_MAKE_SEND,
					  &poly, &pp),
		  KERN_INVALID_TASK);
	EXPECT_KR(mach_port_extract_right(mach_task_self(), port,
					  MACH_MSG_TYPE_COPY_RECEIVE, &poly,
					  &pp),
		  KERN_INVALID_VALUE);
	EXPECT_KR(mach_port_extract_right(mach_task_self(), port,
					  MACH_MSG_TYPE_PORT_NONE, &poly, &pp),
		  KERN_INVALID_VALUE);
	/* The disposition is checked before the name. */
	EXPECT_KR(mach_port_extract_right(mach_task_self(), MACH_PORT_NULL,
					  0xffffffffu, &poly, &pp),
		  KERN_INVALID_VALUE);
	EXPECT_KR(mach_port_extract_right(mach_task_self(), MACH_PORT_NULL,
					  MACH_MSG_TYPE_COPY_SEND, &poly, &pp),
		  KERN_INVALID_RIGHT);
	EXPECT_KR(mach_port_extract_right(mach_task_self(), MACH_PORT_DEAD,
					  MACH_MSG_TYPE_COPY_SEND, &poly, &pp),
		  KERN_INVALID_RIGHT);
	EXPECT_KR(mach_port_extract_right(mach_task_self(), UNUSED_NAME,
					  MACH_MSG_TYPE_COPY_SEND, &poly, &pp),
		  KERN_INVALID_NAME);
	EXPECT_KR(mach_port_extract_right(mach_task_self(), port,
					  MACH_MSG_TYPE_COPY_SEND, &poly, &pp),
		  KERN_INVALID_RIGHT);
	EXPECT_KR(mach_port_extract_right(mach_task_self(), mach_task_self(),
					  MACH_MSG_TYPE_MAKE_SEND, &poly, &pp),
		  KERN_INVALID_RIGHT);
	EXPECT_U32("poly after failures", poly, 0x1234);
	EXPECT_U32("polyPoly after failures", pp, 0x5678);
	EXPECT_TYPE(port, MACH_PORT_TYPE_RECEIVE);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
}

static void extract_right_null_out_pointer_gives_invalid_argument(void)
{
	mach_port_name_t port = 0, poly = 0;
	mach_msg_type_name_t pp = 0;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_KR(mach_port_extract_right(mach_task_self(), port,
					  MACH_MSG_TYPE_MOVE_RECEIVE, NULL,
					  &pp),
		  KERN_INVALID_ARGUMENT);
	EXPECT_KR(mach_port_extract_right(mach_task_self(), port,
					  MACH_MSG_TYPE_MOVE_RECEIVE, &poly,
					  NULL),
		  KERN_INVALID_ARGUMENT);
	/* Nothing was taken. */
	EXPECT_TYPE(port, MACH_PORT_TYPE_RECEIVE);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
}

static void extract_right_of_a_dead_right_gives_dead(void)
{
	mach_port_name_t port = 0, poly = 0;

	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_KR(mach_port_insert_right(mach_task_self(), port, port,
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_SUCCESS);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), port,
				     MACH_PORT_RIGHT_SEND, 1),
		  KERN_SUCCESS);
	/* The port dies; the name is a dead name with the send's two refs. */
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), port,
				     MACH_PORT_RIGHT_RECEIVE, -1),
		  KERN_SUCCESS);
	EXPECT_TYPE(port, MACH_PORT_TYPE_DEAD_NAME);
	EXPECT_REFS(port, MACH_PORT_RIGHT_DEAD_NAME, 2);
	EXTRACT(mach_task_self(), port, MACH_MSG_TYPE_COPY_SEND, poly,
		MACH_MSG_TYPE_PORT_SEND);
	EXPECT_U32("the extracted name", poly, MACH_PORT_DEAD);
	EXPECT_REFS(port, MACH_PORT_RIGHT_DEAD_NAME, 2);
	poly = 0;
	EXTRACT(mach_task_self(), port, MACH_MSG_TYPE_MOVE_SEND, poly,
		MACH_MSG_TYPE_PORT_SEND);
	EXPECT_U32("the extracted name", poly, MACH_PORT_DEAD);
	EXPECT_REFS(port, MACH_PORT_RIGHT_DEAD_NAME, 1);
	poly = 0;
	EXTRACT(mach_task_self(), port, MACH_MSG_TYPE_MOVE_SEND_ONCE, poly,
		MACH_MSG_TYPE_PORT_SEND_ONCE);
	EXPECT_U32("the extracted name", poly, MACH_PORT_DEAD);
	EXPECT_GONE(port);
}

static void extract_right_dead_name_with_make_send_gives_invalid_right(void)
{
	mach_port_name_t dead = 0, poly = 0;
	mach_msg_type_name_t pp = 0;

	ALLOCATE(MACH_PORT_RIGHT_DEAD_NAME, &dead);
	EXPECT_KR(mach_port_extract_right(mach_task_self(), dead,
					  MACH_MSG_TYPE_MAKE_SEND, &poly, &pp),
		  KERN_INVALID_RIGHT);
	EXPECT_KR(mach_port_extract_right(mach_task_self(), dead,
					  MACH_MSG_TYPE_MOVE_RECEIVE, &poly,
					  &pp),
		  KERN_INVALID_RIGHT);
	EXPECT_REFS(dead, MACH_PORT_RIGHT_DEAD_NAME, 1);
	EXPECT_KR(mach_port_destroy(mach_task_self(), dead), KERN_SUCCESS);
}

static void extract_right_from_other_space(void)
{
	mach_port_t task = 0;
	mach_port_name_t theirs = 0, send = 0, again = 0, recv = 0;
	mach_msg_type_name_t pp = 0;
	int fd;

	OTHER_SPACE(fd, task);
	EXPECT_KR(mach_port_allocate(task, MACH_PORT_RIGHT_RECEIVE, &theirs),
		  KERN_SUCCESS);
	EXTRACT(task, theirs, MACH_MSG_TYPE_MAKE_SEND, send,
		MACH_MSG_TYPE_PORT_SEND);
	EXPECT_TRUE("the extracted name", MACH_PORT_VALID(send));
	EXPECT_TYPE(send, MACH_PORT_TYPE_SEND);
	EXPECT_TYPE_IN(task, theirs, MACH_PORT_TYPE_RECEIVE);
	EXPECT_KR(mach_port_extract_right(task, theirs,
					  MACH_MSG_TYPE_COPY_SEND, &again,
					  &pp),
		  KERN_INVALID_RIGHT);
	/* A second send right merges into the caller's name. */
	EXTRACT(task, theirs, MACH_MSG_TYPE_MAKE_SEND, again,
		MACH_MSG_TYPE_PORT_SEND);
	EXPECT_U32("the second extracted name", again, send);
	EXPECT_REFS(send, MACH_PORT_RIGHT_SEND, 2);
	/* So does the receive right. */
	EXTRACT(task, theirs, MACH_MSG_TYPE_MOVE_RECEIVE, recv,
		MACH_MSG_TYPE_PORT_RECEIVE);
	EXPECT_U32("the extracted receive right", recv, send);
	EXPECT_TYPE(send, MACH_PORT_TYPE_SEND_RECEIVE);
	EXPECT_REFS(send, MACH_PORT_RIGHT_SEND, 2);
	EXPECT_GONE_IN(task, theirs);
	EXPECT_KR(mach_port_destroy(mach_task_self(), send), KERN_SUCCESS);
}

static void extract_right_move_send_takes_a_uref(void)
{
	mach_port_t task = 0;
	mach_port_name_t port = 0, poly = 0;
	int fd;

	OTHER_SPACE(fd, task);
	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_KR(mach_port_insert_right(task, NAME_A, port,
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_SUCCESS);
	EXPECT_KR(mach_port_insert_right(task, NAME_A, port,
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_SUCCESS);
	EXTRACT(task, NAME_A, MACH_MSG_TYPE_MOVE_SEND, poly,
		MACH_MSG_TYPE_PORT_SEND);
	EXPECT_U32("the extracted name", poly, port);
	EXPECT_TYPE(port, MACH_PORT_TYPE_SEND_RECEIVE);
	EXPECT_REFS(port, MACH_PORT_RIGHT_SEND, 1);
	EXPECT_REFS_IN(task, NAME_A, MACH_PORT_RIGHT_SEND, 1);
	EXTRACT(task, NAME_A, MACH_MSG_TYPE_MOVE_SEND, poly,
		MACH_MSG_TYPE_PORT_SEND);
	EXPECT_REFS(port, MACH_PORT_RIGHT_SEND, 2);
	EXPECT_GONE_IN(task, NAME_A);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
}

/* ------------------------------------------------------------------------
 * task_for_fd.
 */

static void task_for_fd_gives_a_task_for_the_other_space(void)
{
	mach_port_t task = 0;
	mach_port_name_t theirs = 0;
	mach_msg_type_number_t count = 0;
	mach_port_type_t type = 0;
	int fd;

	OTHER_SPACE(fd, task);
	EXPECT_TRUE("the task name", MACH_PORT_VALID(task));
	EXPECT_TRUE("the task name", task != mach_task_self());
	EXPECT_TYPE(task, MACH_PORT_TYPE_SEND);
	EXPECT_REFS(task, MACH_PORT_RIGHT_SEND, 1);
	EXPECT_KR(mach_port_allocate(task, MACH_PORT_RIGHT_RECEIVE, &theirs),
		  KERN_SUCCESS);
	EXPECT_TRUE("the new name", MACH_PORT_VALID(theirs));
	EXPECT_TYPE_IN(task, theirs, MACH_PORT_TYPE_RECEIVE);
	EXPECT_KR(name_listed(task, theirs, &count, &type), KERN_SUCCESS);
	EXPECT_U32("names in the other space", count, 2);
	EXPECT_U32("the new name's type there", type, MACH_PORT_TYPE_RECEIVE);
	EXPECT_KR(name_listed(task, MACH_TASK_SELF_NAME, &count, &type),
		  KERN_SUCCESS);
	EXPECT_U32("its task-self name's type", type, MACH_PORT_TYPE_SEND);
	EXPECT_TRUE("close", close_fd(fd) == 0);
	EXPECT_KR(mach_port_deallocate(mach_task_self(), task), KERN_SUCCESS);
	EXPECT_GONE(task);
}

static void task_for_fd_twice_gives_the_same_name(void)
{
	mach_port_t task = 0, again = 0;
	int fd, copy;

	OTHER_SPACE(fd, task);
	EXPECT_KR(task_for_fd(fd, &again), KERN_SUCCESS);
	EXPECT_U32("the second task name", again, task);
	EXPECT_REFS(task, MACH_PORT_RIGHT_SEND, 2);
	/* A dup() is the same space. */
	copy = keep_fd(dup(fd));
	EXPECT_TRUE("dup", copy >= 0);
	EXPECT_KR(task_for_fd(copy, &again), KERN_SUCCESS);
	EXPECT_U32("the task name through a dup", again, task);
	EXPECT_REFS(task, MACH_PORT_RIGHT_SEND, 3);
	EXPECT_KR(mach_port_mod_refs(mach_task_self(), task,
				     MACH_PORT_RIGHT_SEND, -3),
		  KERN_SUCCESS);
	EXPECT_GONE(task);
}

static void task_for_fd_own_descriptor_gives_task_self(void)
{
	mach_port_t task = 0;
	int fd;

	EXPECT_TYPE(mach_task_self(), MACH_PORT_TYPE_SEND);
	fd = the_mach_fd();
	EXPECT_TRUE("the library's descriptor in /proc/self/fd", fd >= 0);
	EXPECT_KR(task_for_fd(fd, &task), KERN_SUCCESS);
	EXPECT_U32("the task name", task, mach_task_self());
	EXPECT_REFS(mach_task_self(), MACH_PORT_RIGHT_SEND, 2);
	EXPECT_KR(mach_port_deallocate(mach_task_self(), mach_task_self()),
		  KERN_SUCCESS);
	EXPECT_REFS(mach_task_self(), MACH_PORT_RIGHT_SEND, 1);
}

static void task_for_fd_bad_descriptor_gives_invalid_argument(void)
{
	mach_port_t task = 0x1234;
	int fds[2], closed, null;

	EXPECT_KR(task_for_fd(-1, &task), KERN_INVALID_ARGUMENT);
	EXPECT_KR(task_for_fd(0x7fffffff, &task), KERN_INVALID_ARGUMENT);
	closed = open("/dev/null", O_RDONLY | O_CLOEXEC);
	EXPECT_TRUE("open(\"/dev/null\")", closed >= 0);
	close(closed);
	EXPECT_KR(task_for_fd(closed, &task), KERN_INVALID_ARGUMENT);
	EXPECT_TRUE("pipe", pipe2(fds, O_CLOEXEC) == 0);
	keep_fd(fds[0]);
	keep_fd(fds[1]);
	EXPECT_KR(task_for_fd(fds[0], &task), KERN_INVALID_ARGUMENT);
	EXPECT_KR(task_for_fd(fds[1], &task), KERN_INVALID_ARGUMENT);
	null = keep_fd(open("/dev/null", O_RDWR | O_CLOEXEC));
	EXPECT_TRUE("open(\"/dev/null\")", null >= 0);
	EXPECT_KR(task_for_fd(null, &task), KERN_INVALID_ARGUMENT);
	EXPECT_U32("task after failures", task, 0x1234);
}

static void task_for_fd_null_out_pointer_gives_invalid_argument(void)
{
	mach_port_t task = 0;
	int fd;

	OTHER_SPACE(fd, task);
	EXPECT_KR(task_for_fd(fd, NULL), KERN_INVALID_ARGUMENT);
	EXPECT_REFS(task, MACH_PORT_RIGHT_SEND, 1);
}

static void task_for_fd_task_dies_with_its_space(void)
{
	mach_port_t task = 0;
	mach_port_name_t name = 0, poly = 0, port = 0;
	mach_msg_type_name_t pp = 0;
	mach_port_name_array_t names = NULL;
	mach_port_type_array_t types = NULL;
	mach_msg_type_number_t ncount = 0, tcount = 0;
	mach_port_type_t t;
	int fd;

	OTHER_SPACE(fd, task);
	EXPECT_TRUE("close", close_fd(fd) == 0);
	EXPECT_TYPE(task, MACH_PORT_TYPE_DEAD_NAME);
	EXPECT_REFS(task, MACH_PORT_RIGHT_DEAD_NAME, 1);
	EXPECT_KR(mach_port_allocate(task, MACH_PORT_RIGHT_RECEIVE, &name),
		  KERN_INVALID_TASK);
	EXPECT_KR(mach_port_type(task, MACH_TASK_SELF_NAME, &t),
		  KERN_INVALID_TASK);
	EXPECT_KR(mach_port_names(task, &names, &ncount, &types, &tcount),
		  KERN_INVALID_TASK);
	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_KR(mach_port_insert_right(task, NAME_A, port,
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_INVALID_TASK);
	EXPECT_KR(mach_port_extract_right(task, MACH_TASK_SELF_NAME,
					  MACH_MSG_TYPE_COPY_SEND, &poly, &pp),
		  KERN_INVALID_TASK);
	EXPECT_TYPE(port, MACH_PORT_TYPE_RECEIVE);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
	EXPECT_KR(mach_port_deallocate(mach_task_self(), task), KERN_SUCCESS);
	EXPECT_GONE(task);
}

static void receive_right_death_makes_other_space_send_right_dead(void)
{
	mach_port_t task = 0;
	mach_port_name_t port = 0;
	int fd;

	OTHER_SPACE(fd, task);
	ALLOCATE(MACH_PORT_RIGHT_RECEIVE, &port);
	EXPECT_KR(mach_port_insert_right(task, NAME_A, port,
					 MACH_MSG_TYPE_MAKE_SEND),
		  KERN_SUCCESS);
	EXPECT_KR(mach_port_mod_refs(task, NAME_A, MACH_PORT_RIGHT_SEND, 2),
		  KERN_SUCCESS);
	EXPECT_TYPE_IN(task, NAME_A, MACH_PORT_TYPE_SEND);
	EXPECT_KR(mach_port_destroy(mach_task_self(), port), KERN_SUCCESS);
	EXPECT_TYPE_IN(task, NAME_A, MACH_PORT_TYPE_DEAD_NAME);
	EXPECT_REFS_IN(task, NAME_A, MACH_PORT_RIGHT_DEAD_NAME, 3);
}

static void space_close_makes_its_ports_dead_elsewhere(void)
{
	mach_port_t task = 0;
	mach_port_name_t theirs = 0, send = 0, once = 0;
	int fd;

	OTHER_SPACE(fd, task);
	EXPECT_KR(mach_port_allocate(task, MACH_PORT_RIGHT_RECEIVE, &theirs),
		  KERN_SUCCESS);
	EXTRACT(task, theirs, MACH_MSG_TYPE_MAKE_SEND, send,
		MACH_MSG_TYPE_PORT_SEND);
	EXTRACT(task, theirs, MACH_MSG_TYPE_MAKE_SEND, send,
		MACH_MSG_TYPE_PORT_SEND);
	EXTRACT(task, theirs, MACH_MSG_TYPE_MAKE_SEND_ONCE, once,
		MACH_MSG_TYPE_PORT_SEND_ONCE);
	EXPECT_TRUE("close", close_fd(fd) == 0);
	EXPECT_TYPE(send, MACH_PORT_TYPE_DEAD_NAME);
	EXPECT_REFS(send, MACH_PORT_RIGHT_DEAD_NAME, 2);
	EXPECT_TYPE(once, MACH_PORT_TYPE_DEAD_NAME);
	EXPECT_REFS(once, MACH_PORT_RIGHT_DEAD_NAME, 1);
	EXPECT_TYPE(task, MACH_PORT_TYPE_DEAD_NAME);
	EXPECT_KR(mach_port_destroy(mach_task_self(), send), KERN_SUCCESS);
	EXPECT_KR(mach_port_destroy(mach_task_self(), once), KERN_SUCCESS);
	EXPECT_KR(mach_port_destroy(mach_task_self(), task), KERN_SUCCESS);
}

/* ------------------------------------------------------------------------
 * fork(): the child is a new task with a space of its own.
 */

struct child_report {
	kern_return_t parent_name_kr;   /* mach_port_type of the parent's name */
	kern_return_t names_kr;
	mach_msg_type_number_t names_count;
	mach_port_name_t first_name;
	mach_port_type_t first_type;
	kern_return_t alloc_kr;
	kern_return_t alloc_type_kr;
	mach_port_type_t alloc_type;
	kern_return_t self_type_kr;
	mach_port_type_t self_type;
	int mach_fds;                   /* descriptors open on /dev/mach, or -1 */
};

static struct {
	int done;
	const char *error;              /* the fork itself failed */
	mach_port_name_t parent_port;
	kern_return_t parent_alloc_kr;
	struct child_report child;
	kern_return_t before_kr, after_kr;
	mach_msg_type_number_t before_count, after_count;
	mach_port_name_t before[64], after[64];
	mach_port_type_t before_types[64], after_types[64];
	kern_return_t parent_type_kr;
	mach_port_type_t parent_type;
} fk;

static kern_return_t snapshot(mach_msg_type_number_t *count,
			      mach_port_name_t *out, mach_port_type_t *tout)
{
	mach_port_name_array_t names = NULL;
	mach_port_type_array_t types = NULL;
	mach_msg_type_number_t tcount = 0;
	kern_return_t kr;

	*count = 0;
	kr = mach_port_names(mach_task_self(), &names, count, &types, &tcount);
	if (kr != KERN_SUCCESS)
		return kr;
	for (mach_msg_type_number_t i = 0; i < *count && i < 64; i++) {
		out[i] = names[i];
		tout[i] = types[i];
	}
	vm_deallocate(mach_task_self(), (vm_address_t)names,
		      *count * sizeof(*names));
	vm_deallocate(mach_task_self(), (vm_address_t)types,
		      tcount * sizeof(*types));
	return KERN_SUCCESS;
}

static int count_mach_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char target[64];
		ssize_t len;

		len = readlinkat(dirfd(d), e->d_name, target,
				 sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = 0;
		if (strcmp(target, "/dev/mach") == 0)
			n++;
	}
	closedir(d);
	return n;
}

static void child_main(int wfd)
{
	struct child_report r;
	mach_port_name_array_t names = NULL;
	mach_port_type_array_t types = NULL;
	mach_msg_type_number_t tcount = 0;
	mach_port_name_t mine = 0;
	mach_port_type_t t;

	memset(&r, 0, sizeof(r));
	r.parent_name_kr = mach_port_type(mach_task_self(), fk.parent_port, &t);
	r.names_kr = mach_port_names(mach_task_self(), &names, &r.names_count,
				     &types, &tcount);
	if (r.names_kr == KERN_SUCCESS && r.names_count > 0) {
		r.first_name = names[0];
		r.first_type = types[0];
	}
	r.alloc_kr = mach_port_allocate(mach_task_self(),
					MACH_PORT_RIGHT_RECEIVE, &mine);
	if (r.alloc_kr == KERN_SUCCESS)
		r.alloc_type_kr = mach_port_type(mach_task_self(), mine,
						 &r.alloc_type);
	r.self_type_kr = mach_port_type(mach_task_self(), mach_task_self(),
					&r.self_type);
	r.mach_fds = count_mach_fds();
	if (write(wfd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(2);
	_exit(0);
}

static void run_fork(void)
{
	int fds[2], status = 0;
	pid_t pid;

	fk.done = 1;
	fk.parent_alloc_kr = mach_port_allocate(mach_task_self(),
						MACH_PORT_RIGHT_RECEIVE,
						&fk.parent_port);
	fk.before_kr = snapshot(&fk.before_count, fk.before, fk.before_types);
	if (pipe(fds) != 0) {
		fk.error = "pipe failed";
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fk.error = "fork failed";
		return;
	}
	if (pid == 0) {
		close(fds[0]);
		child_main(fds[1]);
	}
	close(fds[1]);
	if (read(fds[0], &fk.child, sizeof(fk.child)) !=
	    (ssize_t)sizeof(fk.child))
		fk.error = "the child reported nothing";
	close(fds[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		fk.error = "the child did not exit with status 0";
	fk.after_kr = snapshot(&fk.after_count, fk.after, fk.after_types);
	fk.parent_type_kr = mach_port_type(mach_task_self(), fk.parent_port,
					   &fk.parent_type);
}

#define FORKED()                                                              \
	do {                                                                  \
		if (!fk.done)                                                 \
			run_fork();                                           \
		EXPECT_KR(fk.parent_alloc_kr, KERN_SUCCESS);                  \
		if (fk.error) {                                               \
			fail(__LINE__, "fork", "expected a child, got: %s",   \
			     fk.error);                                       \
			return;                                               \
		}                                                             \
	} while (0)

static void fork_child_does_not_see_parent_names(void)
{
	FORKED();
	EXPECT_KR(fk.child.parent_name_kr, KERN_INVALID_NAME);
	EXPECT_KR(fk.child.names_kr, KERN_SUCCESS);
	EXPECT_U32("names in the child's new space", fk.child.names_count, 1);
	EXPECT_U32("the child's only name", fk.child.first_name,
		   mach_task_self());
	EXPECT_U32("its type", fk.child.first_type, MACH_PORT_TYPE_SEND);
}

static void fork_child_drops_inherited_descriptor(void)
{
	FORKED();
	if (fk.child.mach_fds >= 0)
		EXPECT_U32("descriptors on /dev/mach in the child",
			   fk.child.mach_fds, 1);
}

static void fork_child_allocations_work(void)
{
	FORKED();
	EXPECT_KR(fk.child.alloc_kr, KERN_SUCCESS);
	EXPECT_KR(fk.child.alloc_type_kr, KERN_SUCCESS);
	EXPECT_U32("the child's new port", fk.child.alloc_type,
		   MACH_PORT_TYPE_RECEIVE);
	EXPECT_KR(fk.child.self_type_kr, KERN_SUCCESS);
	EXPECT_U32("the child's task self", fk.child.self_type,
		   MACH_PORT_TYPE_SEND);
}

static void fork_leaves_parent_space_untouched(void)
{
	FORKED();
	EXPECT_KR(fk.before_kr, KERN_SUCCESS);
	EXPECT_KR(fk.after_kr, KERN_SUCCESS);
	EXPECT_U32("names in the parent after the fork", fk.after_count,
		   fk.before_count);
	for (mach_msg_type_number_t i = 0; i < fk.after_count && i < 64; i++) {
		EXPECT_U32("a parent name", fk.after[i], fk.before[i]);
		EXPECT_U32("its type", fk.after_types[i], fk.before_types[i]);
	}
	EXPECT_KR(fk.parent_type_kr, KERN_SUCCESS);
	EXPECT_U32("the parent's port", fk.parent_type,
		   MACH_PORT_TYPE_RECEIVE);
	EXPECT_KR(mach_port_destroy(mach_task_self(), fk.parent_port),
		  KERN_SUCCESS);
}

/* ------------------------------------------------------------------------
 * fork() and task_for_fd: parent and child exchange rights through a space
 * both hold. The parent opens /dev/mach a second time before fork(); the
 * child inherits that descriptor (the library drops only its own), so both
 * can take a task port for the shared space with task_for_fd and put rights
 * into it or take them out. Pipes order the steps:
 *
 *   parent: MAKE_SEND of its port P into the shared space as PARENT_SLOT
 *   fork
 *   child:  COPY_SEND of PARENT_SLOT out; MAKE_SEND of its port C in as
 *           CHILD_SLOT; report 1; wait for "go"
 *   parent: COPY_SEND of CHILD_SLOT out; destroy P; "go"
 *   child:  its right to P is a dead name now; report 2; exit
 *   parent: after waitpid, its right to C is a dead name (the child's space
 *           closed when it exited)
 */

#define PARENT_SLOT ((mach_port_name_t)0x50415200u)
#define CHILD_SLOT  ((mach_port_name_t)0x43484900u)

struct xchg_report1 {
	kern_return_t task_kr;          /* task_for_fd on the shared fd */
	kern_return_t extract_kr;       /* PARENT_SLOT, COPY_SEND */
	mach_msg_type_name_t extract_type;
	kern_return_t type_kr;
	mach_port_type_t type;          /* of the extracted name */
	kern_return_t alloc_kr;
	kern_return_t insert_kr;        /* C as CHILD_SLOT, MAKE_SEND */
};

struct xchg_report2 {
	kern_return_t type_kr;
	mach_port_type_t type;          /* of the right to P, once P died */
	kern_return_t refs_kr;
	mach_port_urefs_t refs;
};

static struct {
	int done;
	const char *error;
	kern_return_t task_kr, alloc_kr, insert_kr;
	struct xchg_report1 child1;
	struct xchg_report2 child2;
	kern_return_t extract_kr;
	mach_msg_type_name_t extract_type;
	kern_return_t live_type_kr, after_type_kr, slot_type_kr;
	mach_port_type_t live_type, after_type, slot_type;
} fx;

static void xchg_child(int mfd, int wfd, int rfd)
{
	struct xchg_report1 r1;
	struct xchg_report2 r2;
	mach_port_t shared = 0;
	mach_port_name_t parents = 0, mine = 0;
	char go;

	memset(&r1, 0, sizeof(r1));
	memset(&r2, 0, sizeof(r2));
	r1.task_kr = task_for_fd(mfd, &shared);
	r1.extract_kr = mach_port_extract_right(shared, PARENT_SLOT,
						MACH_MSG_TYPE_COPY_SEND,
						&parents, &r1.extract_type);
	if (r1.extract_kr == KERN_SUCCESS)
		r1.type_kr = mach_port_type(mach_task_self(), parents,
					    &r1.type);
	r1.alloc_kr = mach_port_allocate(mach_task_self(),
					 MACH_PORT_RIGHT_RECEIVE, &mine);
	if (r1.alloc_kr == KERN_SUCCESS)
		r1.insert_kr = mach_port_insert_right(shared, CHILD_SLOT, mine,
						      MACH_MSG_TYPE_MAKE_SEND);
	if (write(wfd, &r1, sizeof(r1)) != (ssize_t)sizeof(r1))
		_exit(2);
	/* "go", or end of file if the parent gave up: report either way. */
	if (read(rfd, &go, 1) < 0)
		_exit(3);
	r2.type_kr = mach_port_type(mach_task_self(), parents, &r2.type);
	r2.refs_kr = mach_port_get_refs(mach_task_self(), parents,
					MACH_PORT_RIGHT_DEAD_NAME, &r2.refs);
	if (write(wfd, &r2, sizeof(r2)) != (ssize_t)sizeof(r2))
		_exit(2);
	_exit(0);
}

static void run_xchg(void)
{
	int mfd, up[2], down[2], status = 0;
	mach_port_t shared = 0;
	mach_port_name_t port = 0, childs = 0;
	void (*old_pipe)(int);
	pid_t pid;

	fx.done = 1;
	mfd = open("/dev/mach", O_RDWR | O_CLOEXEC);
	if (mfd < 0) {
		fx.error = "open(\"/dev/mach\") failed";
		return;
	}
	fx.task_kr = task_for_fd(mfd, &shared);
	fx.alloc_kr = mach_port_allocate(mach_task_self(),
					 MACH_PORT_RIGHT_RECEIVE, &port);
	fx.insert_kr = mach_port_insert_right(shared, PARENT_SLOT, port,
					      MACH_MSG_TYPE_MAKE_SEND);
	if (pipe2(up, O_CLOEXEC) != 0 || pipe2(down, O_CLOEXEC) != 0) {
		fx.error = "pipe failed";
		close(mfd);
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fx.error = "fork failed";
		close(mfd);
		return;
	}
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		xchg_child(mfd, up[1], down[0]);
	}
	close(up[1]);
	close(down[0]);
	if (read(up[0], &fx.child1, sizeof(fx.child1)) !=
	    (ssize_t)sizeof(fx.child1))
		fx.error = "the child sent no first report";
	fx.extract_kr = mach_port_extract_right(shared, CHILD_SLOT,
						MACH_MSG_TYPE_COPY_SEND,
						&childs, &fx.extract_type);
	if (fx.extract_kr == KERN_SUCCESS)
		fx.live_type_kr = mach_port_type(mach_task_self(), childs,
						 &fx.live_type);
	mach_port_destroy(mach_task_self(), port);
	/* A child that died early must not kill us with SIGPIPE. */
	old_pipe = signal(SIGPIPE, SIG_IGN);
	if (write(down[1], "g", 1) != 1 && !fx.error)
		fx.error = "cannot tell the child to go on";
	signal(SIGPIPE, old_pipe);
	close(down[1]);
	if (!fx.error && read(up[0], &fx.child2, sizeof(fx.child2)) !=
	    (ssize_t)sizeof(fx.child2))
		fx.error = "the child sent no second report";
	close(up[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		if (!fx.error)
			fx.error = "the child did not exit with status 0";
	}
	if (fx.extract_kr == KERN_SUCCESS) {
		fx.after_type_kr = mach_port_type(mach_task_self(), childs,
						  &fx.after_type);
		mach_port_destroy(mach_task_self(), childs);
	}
	fx.slot_type_kr = mach_port_type(shared, CHILD_SLOT, &fx.slot_type);
	close(mfd);
	mach_port_destroy(mach_task_self(), shared);
}

#define XCHG()                                                                \
	do {                                                                  \
		if (!fx.done)                                                 \
			run_xchg();                                           \
		if (fx.error) {                                               \
			fail(__LINE__, "fork", "expected a child, got: %s",   \
			     fx.error);                                       \
			return;                                               \
		}                                                             \
		EXPECT_KR_AS(fx.task_kr, KERN_SUCCESS,                        \
			     "task_for_fd(the shared space) in the parent");  \
		EXPECT_KR_AS(fx.alloc_kr, KERN_SUCCESS,                       \
			     "mach_port_allocate in the parent");             \
		EXPECT_KR_AS(fx.insert_kr, KERN_SUCCESS,                      \
			     "mach_port_insert_right(shared, PARENT_SLOT)");  \
	} while (0)

static void fork_child_takes_the_parents_right_from_shared_space(void)
{
	XCHG();
	EXPECT_KR_AS(fx.child1.task_kr, KERN_SUCCESS,
		     "task_for_fd(the shared space) in the child");
	EXPECT_KR_AS(fx.child1.extract_kr, KERN_SUCCESS,
		     "mach_port_extract_right(shared, PARENT_SLOT) in the "
		     "child");
	EXPECT_U32("its polyPoly", fx.child1.extract_type,
		   MACH_MSG_TYPE_PORT_SEND);
	EXPECT_KR_AS(fx.child1.type_kr, KERN_SUCCESS,
		     "mach_port_type of it in the child");
	EXPECT_U32("its type in the child", fx.child1.type,
		   MACH_PORT_TYPE_SEND);
}

static void fork_parent_takes_the_childs_right_from_shared_space(void)
{
	XCHG();
	EXPECT_KR_AS(fx.child1.alloc_kr, KERN_SUCCESS,
		     "mach_port_allocate in the child");
	EXPECT_KR_AS(fx.child1.insert_kr, KERN_SUCCESS,
		     "mach_port_insert_right(shared, CHILD_SLOT) in the child");
	EXPECT_KR_AS(fx.extract_kr, KERN_SUCCESS,
		     "mach_port_extract_right(shared, CHILD_SLOT) in the "
		     "parent");
	EXPECT_U32("its polyPoly", fx.extract_type, MACH_MSG_TYPE_PORT_SEND);
	EXPECT_KR_AS(fx.live_type_kr, KERN_SUCCESS,
		     "mach_port_type of it in the parent");
	EXPECT_U32("its type while the child lives", fx.live_type,
		   MACH_PORT_TYPE_SEND);
}

static void fork_child_sees_the_parents_port_die(void)
{
	XCHG();
	EXPECT_KR_AS(fx.child2.type_kr, KERN_SUCCESS,
		     "mach_port_type in the child after the parent's "
		     "port died");
	EXPECT_U32("its type in the child", fx.child2.type,
		   MACH_PORT_TYPE_DEAD_NAME);
	EXPECT_KR_AS(fx.child2.refs_kr, KERN_SUCCESS,
		     "mach_port_get_refs(DEAD_NAME) in the child");
	EXPECT_U32("its dead-name references", fx.child2.refs, 1);
}

static void fork_parent_sees_the_childs_port_die_when_it_exits(void)
{
	XCHG();
	EXPECT_KR_AS(fx.after_type_kr, KERN_SUCCESS,
		     "mach_port_type in the parent after the child exited");
	EXPECT_U32("its type in the parent", fx.after_type,
		   MACH_PORT_TYPE_DEAD_NAME);
	EXPECT_KR_AS(fx.slot_type_kr, KERN_SUCCESS,
		     "mach_port_type(shared, CHILD_SLOT) after the child "
		     "exited");
	EXPECT_U32("CHILD_SLOT's type", fx.slot_type,
		   MACH_PORT_TYPE_DEAD_NAME);
}

/* ------------------------------------------------------------------------
 * mach_error_string.
 */

static void error_string_is_macos_text(void)
{
	static const struct {
		kern_return_t kr;
		const char *text;
	} cases[] = {
		{ KERN_SUCCESS, "(os/kern) successful" },
		{ KERN_INVALID_NAME, "(os/kern) invalid name" },
		{ KERN_NAME_EXISTS, "(os/kern) name exists" },
		{ KERN_UREFS_OVERFLOW, "(os/kern) urefs overflow" },
		{ KERN_NOT_FOUND, "(os/kern) result not found" },
		{ 57, "unknown error code" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *s = mach_error_string(cases[i].kr);

		if (!s || strcmp(s, cases[i].text) != 0) {
			fail(__LINE__, "mach_error_string",
			     "expected \"%s\", got \"%s\"", cases[i].text,
			     s ? s : "(null)");
			return;
		}
	}
}

/* ------------------------------------------------------------------------ */

#define T(fn) { #fn, fn }

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	T(task_self_is_name_0x103),
	T(task_self_denotes_one_send_right),
	T(api_version_is_reported),
	T(allocate_receive_gives_receive_right),
	T(allocate_port_set_gives_port_set),
	T(allocate_dead_name_gives_dead_name_with_one_ref),
	T(allocate_send_gives_invalid_value),
	T(allocate_send_once_gives_invalid_value),
	T(allocate_unknown_rights_give_invalid_value),
	T(allocate_gives_distinct_valid_names),
	T(allocate_does_not_reuse_a_freed_name_at_once),
	T(allocate_with_bad_task_gives_invalid_task),
	T(allocate_null_out_pointer_gives_invalid_argument),
	T(allocate_name_null_gives_invalid_value),
	T(allocate_name_dead_gives_invalid_value),
	T(allocate_name_in_use_gives_name_exists),
	T(allocate_name_bad_right_gives_invalid_value),
	T(allocate_name_gives_right_under_chosen_name),
	T(reply_port_gives_receive_right),
	T(port_names_lists_every_name_with_its_type),
	T(port_names_arrays_are_freed_by_vm_deallocate),
	T(port_names_grows_with_the_space),
	T(port_names_with_bad_task_gives_invalid_task),
	T(port_names_null_out_pointer_gives_invalid_argument),
	T(vm_deallocate_zero_size_succeeds),
	T(vm_deallocate_other_task_gives_invalid_argument),
	T(vm_deallocate_wrapping_range_gives_invalid_argument),
	T(type_of_null_gives_invalid_name),
	T(type_of_dead_gives_dead_name),
	T(type_of_unused_name_gives_invalid_name),
	T(type_with_bad_task_gives_invalid_task),
	T(get_refs_bad_right_gives_invalid_value),
	T(get_refs_null_and_dead_names_give_one_send_ref),
	T(get_refs_unused_name_gives_invalid_name),
	T(get_refs_right_not_held_gives_zero),
	T(mod_refs_receive_minus_one_destroys_port),
	T(mod_refs_receive_zero_changes_nothing),
	T(mod_refs_receive_other_delta_gives_invalid_value),
	T(mod_refs_right_not_held_gives_invalid_right),
	T(mod_refs_dead_name_adds_and_removes_refs),
	T(mod_refs_dead_name_below_zero_gives_invalid_value),
	T(mod_refs_dead_name_overflow_gives_urefs_overflow),
	T(mod_refs_dead_name_to_zero_frees_name),
	T(mod_refs_send_counts_task_self_refs),
	T(mod_refs_port_set_minus_one_destroys_set),
	T(mod_refs_bad_right_gives_invalid_value),
	T(mod_refs_labelh_gives_invalid_right),
	T(mod_refs_null_name_succeeds_only_for_send_rights),
	T(mod_refs_unused_name_gives_invalid_name),
	T(deallocate_null_and_dead_succeed),
	T(deallocate_unused_name_gives_invalid_name),
	T(deallocate_receive_right_gives_invalid_right),
	T(deallocate_dead_name_drops_one_ref),
	T(deallocate_port_set_destroys_it),
	T(deallocate_send_right_drops_one_ref),
	T(destroy_null_and_dead_succeed),
	T(destroy_unused_name_gives_invalid_name),
	T(destroy_receive_right_frees_name),
	T(destroy_dead_name_drops_every_ref),
	T(insert_right_make_send_onto_own_receive_right),
	T(insert_right_copy_send_adds_a_uref),
	T(insert_right_move_send_back_under_same_name_keeps_count),
	T(insert_right_move_send_of_a_lone_last_ref_back_under_its_name),
	T(insert_right_name_in_use_gives_name_exists),
	T(insert_right_second_name_for_a_port_gives_right_exists),
	T(insert_right_null_or_dead_poly_gives_invalid_capability),
	T(insert_right_bad_disposition_gives_invalid_value),
	T(insert_right_null_or_dead_name_gives_invalid_value),
	T(insert_right_bad_task_gives_invalid_task),
	T(insert_right_unused_poly_gives_invalid_name),
	T(insert_right_missing_right_gives_invalid_right),
	T(insert_right_from_a_dead_name),
	T(insert_right_move_receive_into_other_space),
	T(insert_right_failed_move_receive_destroys_the_port),
	T(insert_right_send_once_rights_get_names_of_their_own),
	T(extract_right_make_send_from_receive_gives_same_name),
	T(extract_right_make_send_once_gives_new_name),
	T(extract_right_bad_arguments),
	T(extract_right_null_out_pointer_gives_invalid_argument),
	T(extract_right_of_a_dead_right_gives_dead),
	T(extract_right_dead_name_with_make_send_gives_invalid_right),
	T(extract_right_from_other_space),
	T(extract_right_move_send_takes_a_uref),
	T(task_for_fd_gives_a_task_for_the_other_space),
	T(task_for_fd_twice_gives_the_same_name),
	T(task_for_fd_own_descriptor_gives_task_self),
	T(task_for_fd_bad_descriptor_gives_invalid_argument),
	T(task_for_fd_null_out_pointer_gives_invalid_argument),
	T(task_for_fd_task_dies_with_its_space),
	T(receive_right_death_makes_other_space_send_right_dead),
	T(space_close_makes_its_ports_dead_elsewhere),
	T(fork_child_does_not_see_parent_names),
	T(fork_child_drops_inherited_descriptor),
	T(fork_child_allocations_work),
	T(fork_leaves_parent_space_untouched),
	T(fork_child_takes_the_parents_right_from_shared_space),
	T(fork_parent_takes_the_childs_right_from_shared_space),
	T(fork_child_sees_the_parents_port_die),
	T(fork_parent_sees_the_childs_port_die_when_it_exits),
	T(error_string_is_macos_text),
};

int main(void)
{
	size_t n = sizeof(tests) / sizeof(tests[0]);
	size_t passed = 0;
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");
	printf("1..%zu\n", n);
	fd = open("/dev/mach", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		printf("# /dev/mach cannot be opened (%s): the calls will "
		       "fail with KERN_FAILURE\n", strerror(errno));
	else
		close(fd);
	for (size_t i = 0; i < n; i++) {
		failed = 0;
		why[0] = 0;
		tests[i].fn();
		test_cleanup();
		if (failed) {
			printf("not ok %zu - %s # %s\n", i + 1, tests[i].name,
			       why);
		} else {
			printf("ok %zu - %s\n", i + 1, tests[i].name);
			passed++;
		}
	}
	printf("# %zu passed, %zu failed\n", passed, n - passed);
	return passed == n ? 0 : 1;
}
