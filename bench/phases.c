/*
 * mach-phases: the request/reply loop that `scripts/bench --phases` runs
 * on a module built with MACH_PROFILE=1. One process plays client and
 * server: a request carrying a MAKE_SEND_ONCE reply right, received with
 * mach_msg(SEND|RCV), then the reply through that right, received the same
 * way; 20,000 round trips, so 40,000 calls (the module logs its phase
 * table at 20,000 and 40,000). No second process, so no context switch:
 * what is left is the module's own path.
 */
#include <mach/mach.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

struct message {
    mach_msg_header_t header;
    uint64_t data;
    mach_msg_trailer_t trailer;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(void)
{
    enum { ROUND_TRIPS = 20000 };
    mach_port_t service, reply_port;
    if (mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &service) ||
        mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &reply_port)) {
        fprintf(stderr, "mach-phases: cannot allocate the ports\n");
        return 1;
    }
    struct message m;
    uint64_t start = now_ns();
    for (int i = 0; i < ROUND_TRIPS; i++) {
        m.header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MAKE_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
        m.header.msgh_remote_port = service;
        m.header.msgh_local_port = reply_port;
        m.header.msgh_voucher_port = MACH_PORT_NULL;
        m.header.msgh_id = 1;
        m.header.msgh_size = sizeof m.header + sizeof m.data;
        m.data = (uint64_t)i;
        mach_msg_return_t mr = mach_msg(&m.header, MACH_SEND_MSG | MACH_RCV_MSG, m.header.msgh_size,
                                        sizeof m, service, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) {
            fprintf(stderr, "mach-phases: request %d: %s\n", i, mach_error_string(mr));
            return 1;
        }
        mach_port_t reply = m.header.msgh_remote_port;
        m.header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0);
        m.header.msgh_remote_port = reply;
        m.header.msgh_local_port = MACH_PORT_NULL;
        m.header.msgh_size = sizeof m.header + sizeof m.data;
        mr = mach_msg(&m.header, MACH_SEND_MSG | MACH_RCV_MSG, m.header.msgh_size, sizeof m, reply_port,
                      MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) {
            fprintf(stderr, "mach-phases: reply %d: %s\n", i, mach_error_string(mr));
            return 1;
        }
    }
    uint64_t elapsed = now_ns() - start;
    printf("mach-phases: %d round trips, %.0f ns of guest time each (two mach_msg calls)\n", ROUND_TRIPS,
           (double)elapsed / ROUND_TRIPS);
    return 0;
}
