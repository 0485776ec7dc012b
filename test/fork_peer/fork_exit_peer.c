/* The floor under every fork-based start method: what a minimal C program pays for fork + _exit + waitpid.
 *
 * overhead/start/fork and overhead/start/forkserver are read against it, run side by side:
 *   build/<preset>/fork_exit_peer [BATCHES [FORKS_PER_BATCH]]
 * prints one line, the median, min and max over BATCHES of the mean time per fork + _exit + waitpid. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(int argc, char** argv) {
    const long batches = argc > 1 ? count_arg(argv[1]) : 7;
    const long per_batch = argc > 2 ? count_arg(argv[2]) : 200;
    if (argc > 3 || batches < 1 || per_batch < 1) {
        fprintf(stderr, "usage: fork_exit_peer [BATCHES [FORKS_PER_BATCH]], each 1 to 1000000\n");
        return 2;
    }
    double* ns = malloc((size_t)batches * sizeof *ns);
    if (ns == NULL) {
        fprintf(stderr, "fork_exit_peer: out of memory\n");
        return 1;
    }
    for (long b = 0; b < batches; ++b) {
        const double t0 = now_ns();
        for (long i = 0; i < per_batch; ++i) {
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
        }
        ns[b] = (now_ns() - t0) / (double)per_batch;
    }
    qsort(ns, (size_t)batches, sizeof *ns, by_value);
    printf("fork_exit_wait_ns median=%.0f min=%.0f max=%.0f batches=%ld forks_per_batch=%ld\n", ns[batches / 2],
           ns[0], ns[batches - 1], batches, per_batch);
    free(ns);
    return 0;
}
