/* The floors under every fork-based start method, in a minimal C program.
 *
 *   build/<preset>/fork_exit_peer [--server] [BATCHES [FORKS_PER_BATCH]]
 *
 * Without --server: fork + _exit + waitpid in this process, the floor under overhead/start/fork.
 * With --server: the same through the smallest possible fork server, the floor under overhead/start/forkserver.
 * The server is a fork of this program, taken before any measurement; per operation the program writes one byte
 * to it over a SOCK_SEQPACKET socket, the server forks a child that _exits, reaps it and answers one byte.
 * Each prints one line: the median, min and max over BATCHES of the mean time per operation. Run it side by side
 * with bench_parallel's overhead/start/ benchmarks. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int by_value(const void* a, const void* b) {
    const double x = *(const double*)a;
    const double y = *(const double*)b;
    return (x > y) - (x < y);
}

static long count_arg(const char* text) {
    char* end = NULL;
    errno = 0;
    const long value = strtol(text, &end, 10);
    return (errno != 0 || *end != '\0' || value < 1 || value > 1000000) ? -1 : value;
}

/* Forks a child that _exits with 0 and reaps it; 0 on success. */
static int fork_exit_wait(void) {
    const pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "fork_exit_peer: fork failed: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) _exit(0);
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "fork_exit_peer: child %d did not exit with 0\n", (int)pid);
        return 1;
    }
    return 0;
}

/* The server: one fork_exit_wait per byte received, answered with '0' (done) or '1' (failed); ends at EOF. */
static void serve(int sock) {
    char request = 0;
    while (read(sock, &request, 1) == 1) {
        const char answer = fork_exit_wait() == 0 ? '0' : '1';
        if (write(sock, &answer, 1) != 1) break;
    }
    _exit(0);
}

/* One operation through the server; 0 on success. */
static int through_server(int sock) {
    char byte = 'f';
    if (write(sock, &byte, 1) != 1 || read(sock, &byte, 1) != 1 || byte != '0') {
        fprintf(stderr, "fork_exit_peer: the fork server failed\n");
        return 1;
    }
    return 0;
}

int main(int argc, char** argv) {
    int arg = 1;
    const int server = argc > 1 && strcmp(argv[1], "--server") == 0;
    arg += server;
    const long batches = argc > arg ? count_arg(argv[arg]) : 7;
    const long per_batch = argc > arg + 1 ? count_arg(argv[arg + 1]) : 200;
    if (argc > arg + 2 || batches < 1 || per_batch < 1) {
        fprintf(stderr, "usage: fork_exit_peer [--server] [BATCHES [FORKS_PER_BATCH]], each 1 to 1000000\n");
        return 2;
    }
    double* ns = malloc((size_t)batches * sizeof *ns);
    if (ns == NULL) {
        fprintf(stderr, "fork_exit_peer: out of memory\n");
        return 1;
    }
    int sv[2] = {-1, -1};
    pid_t server_pid = -1;
    if (server) {
        if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0 || (server_pid = fork()) < 0) {
            fprintf(stderr, "fork_exit_peer: cannot start the fork server: %s\n", strerror(errno));
            return 1;
        }
        if (server_pid == 0) {
            close(sv[0]);
            serve(sv[1]);
        }
        close(sv[1]);
    }
    for (long b = 0; b < batches; ++b) {
        const double t0 = now_ns();
        for (long i = 0; i < per_batch; ++i)
            if (server ? through_server(sv[0]) : fork_exit_wait()) return 1;
        ns[b] = (now_ns() - t0) / (double)per_batch;
    }
    if (server) {
        int status = 0;
        close(sv[0]);
        if (waitpid(server_pid, &status, 0) != server_pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "fork_exit_peer: the fork server did not exit with 0\n");
            return 1;
        }
    }
    qsort(ns, (size_t)batches, sizeof *ns, by_value);
    printf("%s median=%.0f min=%.0f max=%.0f batches=%ld forks_per_batch=%ld\n",
           server ? "fork_server_ns" : "fork_exit_wait_ns", ns[batches / 2], ns[0], ns[batches - 1], batches,
           per_batch);
    free(ns);
    return 0;
}
