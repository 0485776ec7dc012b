/* The floor for socket_tasks under event_loop: a minimal C client on epoll against the same echo server.
 * One run opens `tasks` non-blocking connections to 127.0.0.1:PORT, sends each connection's share of `n`
 * requests (8 bytes holding i + 1) one after another (the first without waiting for the connect), waits on all
 * connections at once with one level-triggered epoll set, checks every answer and closes the connections with a
 * reset, as socket_tasks does.
 * Usage: epoll_echo_peer PORT TASKS N RUNS. Prints "epoll_echo_ns min=<ns> median=<ns> runs=<RUNS>". */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;
    uint64_t next, end; /* the requests i + 1 for i in [next, end) */
};

static void die(const char* what) {
    fprintf(stderr, "epoll_echo_peer: %s: %s\n", what, strerror(errno));
    exit(1);
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void send_request(struct conn* c) {
    const uint64_t request = c->next + 1;
    if (send(c->fd, &request, sizeof request, MSG_NOSIGNAL) != (ssize_t)sizeof request) die("send");
}

static uint64_t one_run(int port, unsigned tasks, uint64_t n, int ep, struct conn* conns) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int one = 1;
    const struct linger no_linger = {1, 0};
    unsigned open = 0;
    for (unsigned t = 0; t < tasks; ++t) {
        struct conn* c = &conns[t];
        c->next = n * t / tasks;
        c->end = n * (t + 1) / tasks;
        c->fd = -1;
        if (c->next == c->end) continue;
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (c->fd < 0) die("socket");
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &no_linger, sizeof no_linger);
        if (connect(c->fd, (struct sockaddr*)&a, sizeof a) != 0 && errno != EINPROGRESS) die("connect");
        /* As socket_tasks does: the first request goes out at once, and a socket still connecting (EAGAIN) is
           waited for until it is writable. */
        const uint64_t request = c->next + 1;
        const int sent = send(c->fd, &request, sizeof request, MSG_NOSIGNAL) == (ssize_t)sizeof request;
        if (!sent && errno != EAGAIN) die("connect");
        struct epoll_event ev = {.events = sent ? EPOLLIN : EPOLLOUT, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) die("epoll_ctl");
        ++open;
    }
    uint64_t sum = 0;
    struct epoll_event events[256];
    while (open > 0) {
        const int k = epoll_wait(ep, events, 256, 5000);
        if (k == 0) {
            errno = ETIMEDOUT;
            die("no answer within 5 s");
        }
        if (k < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int e = 0; e < k; ++e) {
            struct conn* c = events[e].data.ptr;
            if (events[e].events & EPOLLOUT) { /* connected: send the first request, then wait for answers */
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0) {
                    errno = err;
                    die("connect");
                }
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) die("epoll_ctl");
                send_request(c);
                continue;
            }
            uint64_t answer;
            const ssize_t r = recv(c->fd, &answer, sizeof answer, MSG_WAITALL);
            if (r != (ssize_t)sizeof answer || answer != c->next + 1) {
                fprintf(stderr, "epoll_echo_peer: bad or missing answer to request %llu\n",
                        (unsigned long long)(c->next + 1));
                exit(1);
            }
            sum += answer;
            if (++c->next < c->end) {
                send_request(c);
            } else {
                close(c->fd); /* also leaves the epoll set */
                --open;
            }
        }
    }
    return sum;
}

static int by_value(const void* a, const void* b) {
    const uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
    return (x > y) - (x < y);
}

int main(int argc, char** argv) {
    if (argc != 5 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535 || atoi(argv[2]) <= 0 || atoll(argv[3]) <= 0 ||
        atoi(argv[4]) <= 0) {
        fprintf(stderr, "usage: epoll_echo_peer PORT TASKS N RUNS (all positive)\n");
        return 2;
    }
    const int port = atoi(argv[1]), runs = atoi(argv[4]);
    const unsigned tasks = (unsigned)atoi(argv[2]);
    const uint64_t n = (uint64_t)atoll(argv[3]);
    struct conn* conns = calloc(tasks, sizeof *conns);
    uint64_t* times = calloc((size_t)runs, sizeof *times);
    const int ep = epoll_create1(0);
    if (conns == NULL || times == NULL || ep < 0) die("setup");
    for (int r = 0; r < runs; ++r) {
        const uint64_t t0 = now_ns();
        const uint64_t sum = one_run(port, tasks, n, ep, conns);
        times[r] = now_ns() - t0;
        if (sum != n * (n + 1) / 2) {
            fprintf(stderr, "epoll_echo_peer: total %llu, expected %llu\n", (unsigned long long)sum,
                    (unsigned long long)(n * (n + 1) / 2));
            return 1;
        }
    }
    qsort(times, (size_t)runs, sizeof *times, by_value);
    printf("epoll_echo_ns min=%llu median=%llu runs=%d\n", (unsigned long long)times[0],
           (unsigned long long)times[runs / 2], runs);
    close(ep);
    free(times);
    free(conns);
    return 0;
}
