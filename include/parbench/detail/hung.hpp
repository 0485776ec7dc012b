#pragma once
// A worker that makes no progress, in words. A strategy that waits on worker processes gives up after its deadline;
// the error then names the worker, its process and what that process was doing when the wait ended (from
// /proc/PID/stat), so that a stopped worker (kill -STOP, a debugger) reads differently from a busy or a blocked one.

#include <sys/types.h>

#include <chrono>
#include <fstream>
#include <string>

#include "../error.hpp"

namespace parbench::detail {

// What process `pid` is doing, as /proc/PID/stat's state letter says: "running", "sleeping", "stopped", ...;
// "gone" when it no longer exists.
[[nodiscard]] inline std::string proc_state(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    if (pid <= 0 || !std::getline(in, stat)) return "gone";
    const auto paren = stat.rfind(')');  // the command name may hold spaces and parentheses
    const char state = paren != std::string::npos && paren + 2 < stat.size() ? stat[paren + 2] : '?';
    switch (state) {
        case 'R': return "running";
        case 'S': return "sleeping";
        case 'D': return "waiting for I/O";
        case 'T': return "stopped";
        case 't': return "stopped by a tracer";
        case 'Z': return "a zombie";
        default: return std::string("state ") + state;
    }
}

// "pid 1234, stopped": a process and its state, for a hung worker's error.
[[nodiscard]] inline std::string describe_process(pid_t pid) {
    return "pid " + std::to_string(pid) + ", " + proc_state(pid);
}

// A worker that gave no result within `waited`: "worker 1 of 2 failed: timeout: no result within 2000 ms (pid 1234,
// stopped)". `process` says which process and its state (describe_process), or is empty when unknown.
[[nodiscard]] inline worker_error hung_error(unsigned worker, unsigned workers, std::chrono::milliseconds waited,
                                             const std::string& process) {
    return {
        worker, workers, failure::timeout,
        "no result within " + std::to_string(waited.count()) + " ms" + (process.empty() ? "" : " (" + process + ")"),
        static_cast<int>(waited.count())};
}

}  // namespace parbench::detail
