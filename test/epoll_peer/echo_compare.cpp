// socket_tasks under event_loop against the minimal C epoll client (epoll_echo_peer.c), on the same echo server:
// the per-request overhead of parbench's loop over the floor. Usage: echo_compare PEER TASKS N RUNS [DELAY_US].
// Prints the peer's line, then "event_loop_ns min=<ns> median=<ns> runs=<RUNS>"; runs alternate between the two.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "parbench/parbench.hpp"

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
        const parbench::echo_server server(delay);
        const parbench::kernels::socket_tasks k{server.port()};
        parbench::strategies::event_loop loop(tasks);
        const std::string peer =
            std::string(argv[1]) + " " + std::to_string(server.port()) + " " + argv[2] + " " + argv[3] + " " + argv[4];
        if (std::system(peer.c_str()) != 0) {
            std::fprintf(stderr, "echo_compare: %s failed\n", peer.c_str());
            return 1;
        }
        std::vector<long long> ns;
        for (int r = 0; r < runs; ++r) {
            const auto t0 = std::chrono::steady_clock::now();
            if (loop.run(k, n) != k.expected(n)) {
                std::fprintf(stderr, "echo_compare: wrong total\n");
                return 1;
            }
            ns.push_back(
                std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
        }
        std::sort(ns.begin(), ns.end());
        std::printf("event_loop_ns min=%lld median=%lld runs=%d\n", ns.front(), ns[ns.size() / 2], runs);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_compare: %s\n", e.what());
        return 1;
    }
    return 0;
}
