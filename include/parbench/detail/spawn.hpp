#pragma once
// Starting this same program afresh as a worker: posix_spawn of /proc/self/exe in a hidden worker mode, with the
// descriptors it needs at 3, 4, 5, ... The cost includes exec, dynamic linking and static initialisation, as
// Python's "spawn" start method pays for a new interpreter.

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fd.hpp"

extern char** environ;

namespace parbench::detail {

// Set in the environment of every started worker, so a worker whose program forgot to call
// parbench::worker_main cannot start workers of its own.
inline constexpr const char* worker_env = "PARBENCH_WORKER_MODE";

// Set by parbench::worker_main in an ordinary process: this program serves the workers it starts.
inline std::atomic<bool> worker_main_ran{false};

// Throws std::logic_error unless this program can start itself afresh as a worker: its main called
// parbench::worker_main, and this process is not itself a started worker that reached an ordinary code path.
inline void check_can_start_self(std::string_view strategy) {
    if (std::getenv(worker_env) != nullptr)
        throw std::logic_error("parbench: " + std::string(strategy) +
                               " started a worker whose program does not call parbench::worker_main first in main");
    if (!worker_main_ran.load(std::memory_order_relaxed))
        throw std::logic_error("parbench: " + std::string(strategy) +
                               " starts this program afresh as its workers, so main must call "
                               "parbench::worker_main(argc, argv) first (parbench/worker_main.hpp)");
}

// Starts /proc/self/exe with argv {argv0, "--parbench_worker=<mode>", "<this pid>", args...} and descriptor fds[i]
// at 3 + i (a negative entry leaves that number closed), and `extra_env` ("NAME=value" entries; null ones are
// left out) added to its environment. Every other descriptor this process opened close-on-exec stays behind.
// Returns the worker's pid; throws std::system_error if it cannot be started, std::logic_error if this program
// cannot serve it (check_can_start_self).
inline pid_t spawn_self(std::string_view mode, std::initializer_list<int> fds,
                        std::initializer_list<const char*> extra_env = {},
                        std::initializer_list<std::string_view> args = {}) {
    check_can_start_self(mode == "forkserver" ? "processes.forkserver"
                         : mode == "pool"     ? "a process pool started by spawn"
                                              : "processes.spawn");
    posix_spawn_file_actions_t actions;
    if (const int e = ::posix_spawn_file_actions_init(&actions); e != 0)
        throw_errno("posix_spawn_file_actions_init", e);
    // A source numbered below the last target could be overwritten by an earlier dup2: move such a source up.
    const int first_free = 3 + static_cast<int>(fds.size());
    std::vector<unique_fd> moved;
    int target = 3;
    int err = 0;
    for (int fd : fds) {
        if (fd >= 0 && fd < first_free && err == 0) {
            moved.emplace_back(::fcntl(fd, F_DUPFD_CLOEXEC, first_free));
            fd = moved.back().get();
            if (fd < 0) err = errno;
        }
        if (fd >= 0 && err == 0) err = ::posix_spawn_file_actions_adddup2(&actions, fd, target);
        ++target;
    }
    std::string flag = "--parbench_worker=" + std::string(mode);
    std::string parent = std::to_string(::getpid());
    std::string marker = std::string(worker_env) + "=" + std::string(mode);
    std::vector<std::string> arg_strings(args.begin(), args.end());
    std::vector<char*> argv{program_invocation_name, flag.data(), parent.data()};
    for (auto& a : arg_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char*> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e)
        if (std::strncmp(*e, worker_env, std::strlen(worker_env)) != 0) env.push_back(*e);
    env.push_back(marker.data());
    for (const char* e : extra_env)
        if (e != nullptr) env.push_back(const_cast<char*>(e));
    env.push_back(nullptr);
    pid_t pid = -1;
    if (err == 0) err = ::posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), env.data());
    ::posix_spawn_file_actions_destroy(&actions);
    if (err != 0) throw_errno("posix_spawn(/proc/self/exe)", err);
    return pid;
}

}  // namespace parbench::detail
