// socket_tasks under event_loop (and event_loop.io_uring where built) against the minimal C epoll client
// (epoll_echo_peer.c), on the same echo server: the per-request overhead of parbench's loops over the floor.
// Usage: echo_compare PEER TASKS N RUNS [DELAY_US]. Each of the RUNS rounds runs the peer once, then each loop
// once, so that a disturbance of the machine falls on all of them alike. Prints
// "epoll_echo_ns min=<ns> median=<ns> runs=<RUNS>", then "event_loop_ns ..." and "event_loop.io_uring_ns ..." (or
// "event_loop.io_uring: <why not>" where the build has no liburing or the kernel refuses io_uring).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "parbench/parbench.hpp"
#if defined(PARBENCH_HAS_URING)
#include "parbench/strategies/event_loop_uring.hpp"
#endif

namespace {

// Fastest and median of one contender's runs.
struct times {
    std::vector<long long> ns;
    void print(const std::string& name) {
        std::sort(ns.begin(), ns.end());
        std::printf("%s_ns min=%lld median=%lld runs=%zu\n", name.c_str(), ns.front(), ns[ns.size() / 2], ns.size());
    }
};

// One run of the peer, which times itself: its min= figure, or nullopt if it failed.
std::optional<long long> run_peer(const std::string& command) {
    std::FILE* p = ::popen(command.c_str(), "r");
    if (!p) return std::nullopt;
    char line[256] = {};
    const bool read = std::fgets(line, sizeof line, p) != nullptr;
    if (::pclose(p) != 0 || !read) return std::nullopt;
    long long ns = 0;
    if (std::sscanf(line, "epoll_echo_ns min=%lld", &ns) != 1) return std::nullopt;
    return ns;
}

template <class S, class K>
long long run_once(S& loop, const K& k, std::uint64_t n) {
    const auto t0 = std::chrono::steady_clock::now();
    if (loop.run(k, n) != k.expected(n)) throw std::runtime_error(std::string(S::name) + ": wrong total");
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    const auto positive = [](const char* s) { return std::atoll(s) > 0; };
    if ((argc != 5 && argc != 6) || !positive(argv[2]) || !positive(argv[3]) || !positive(argv[4])) {
        std::fprintf(stderr, "usage: echo_compare PEER TASKS N RUNS [DELAY_US]\n");
        return 2;
    }
    const auto tasks = static_cast<unsigned>(std::atoi(argv[2]));
    const auto n = static_cast<std::uint64_t>(std::atoll(argv[3]));
    const int runs = std::atoi(argv[4]);
    const std::chrono::microseconds delay(argc == 6 ? std::atoll(argv[5]) : 0);
    try {
        (void)parbench::detail::raise_descriptor_limit();  // the peer inherits it
        const parbench::echo_server server(delay);
        const parbench::kernels::socket_tasks k{server.port()};
        const std::string peer =
            std::string(argv[1]) + " " + std::to_string(server.port()) + " " + argv[2] + " " + argv[3] + " 1";
        parbench::strategies::event_loop loop(tasks);
        times peer_times, loop_times;
#if defined(PARBENCH_HAS_URING)
        const std::string no_uring = parbench::strategies::event_loop_uring::unavailable_reason();
        std::optional<parbench::strategies::event_loop_uring> uring;
        if (no_uring.empty()) uring.emplace(tasks);
        times uring_times;
#else
        const std::string no_uring = "not built (no liburing)";
#endif
        for (int r = 0; r < runs; ++r) {
            const std::optional<long long> ns = run_peer(peer);
            if (!ns) {
                std::fprintf(stderr, "echo_compare: %s failed\n", peer.c_str());
                return 1;
            }
            peer_times.ns.push_back(*ns);
            loop_times.ns.push_back(run_once(loop, k, n));
#if defined(PARBENCH_HAS_URING)
            if (uring) uring_times.ns.push_back(run_once(*uring, k, n));
#endif
        }
        peer_times.print("epoll_echo");
        loop_times.print("event_loop");
#if defined(PARBENCH_HAS_URING)
        if (uring) {
            uring_times.print("event_loop.io_uring");
            return 0;
        }
#endif
        std::printf("event_loop.io_uring: %s\n", no_uring.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_compare: %s\n", e.what());
        return 1;
    }
    return 0;
}
