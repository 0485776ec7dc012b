// socket_tasks under event_loop (and event_loop.io_uring where built) against the minimal C epoll client
// (epoll_echo_peer.c), on the same echo server: the per-request overhead of parbench's loops over the floor.
// Usage: echo_compare PEER TASKS N RUNS [DELAY_US]. Each of the RUNS rounds runs the peer once, then each loop
// once, then thread_pool x4 on the same n, then the connection floor, so that a disturbance of the machine falls
// on all of them alike. Prints "epoll_echo_ns min=<ns> median=<ns> runs=<RUNS>", then "event_loop_ns ..." and
// "event_loop.io_uring_ns ..." (or "event_loop.io_uring: <why not>" where the build has no liburing or the kernel
// refuses io_uring), "thread_pool_x4_ns ...", and "connection_floor_ns client=<ns> server=<ns> runs=<RUNS>".
//
// The connection floor: TASKS loopback connections made as socket_tasks makes them (socket, TCP_NODELAY,
// SO_LINGER 0, connect, an 8-byte request and answer, close) by one thread that also plays the server (accept,
// recv, send, close) on its own listener, without an event loop, a wait or a delay. On loopback the receiving
// side's TCP work runs inside the sender's system call, so the time of the client's calls is what any
// single-threaded client pays the kernel for TASKS connections, however good its loop: the fastest round's sum
// of each side's calls.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

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

// Each side's time in its system calls for `connections` connections made as socket_tasks makes them, one
// thread playing both sides (see the top of the file).
struct floor_times {
    long long client_ns = 0, server_ns = 0;
};
floor_times connection_floor(unsigned connections) {
    namespace d = parbench::detail;
    std::uint16_t port = 0;
    const d::unique_fd listener = d::listen_loopback(port);
    d::set_connection_options(listener.get());  // as the echo server does: its connections inherit them
    const sockaddr_in address = d::loopback_address(port);
    floor_times t;
    const auto timed = [](long long& sum, auto&& call) {
        const auto t0 = std::chrono::steady_clock::now();
        const auto r = call();
        sum += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
        return r;
    };
    for (unsigned i = 0; i < connections; ++i) {
        // Blocking sockets: every call completes at once on loopback, the peer being this thread's own socket.
        d::unique_fd c(timed(t.client_ns, [] { return ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); }));
        if (!c) d::throw_errno("socket");
        timed(t.client_ns, [&] {
            d::set_connection_options(c.get());
            return 0;
        });
        if (timed(t.client_ns,
                  [&] { return ::connect(c.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address); }) != 0)
            d::throw_errno("connect");
        d::unique_fd s(timed(t.server_ns, [&] { return ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC); }));
        if (!s) d::throw_errno("accept4");
        std::uint64_t request = i + 1, echoed = 0, answer = 0;
        const bool ok = timed(t.client_ns, [&] { return ::send(c.get(), &request, 8, MSG_NOSIGNAL); }) == 8 &&
                        timed(t.server_ns, [&] { return ::recv(s.get(), &echoed, 8, MSG_WAITALL); }) == 8 &&
                        timed(t.server_ns, [&] { return ::send(s.get(), &echoed, 8, MSG_NOSIGNAL); }) == 8 &&
                        timed(t.client_ns, [&] { return ::recv(c.get(), &answer, 8, MSG_WAITALL); }) == 8;
        if (!ok || answer != request) throw std::runtime_error("connection floor: a request was not echoed");
        timed(t.client_ns, [&] {
            c.reset();
            return 0;
        });
        timed(t.server_ns, [&] {
            s.reset();
            return 0;
        });
    }
    return t;
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
        parbench::strategies::thread_pool pool(4);
        times peer_times, loop_times, pool_times;
        floor_times fastest_floor{-1, -1};
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
            pool_times.ns.push_back(run_once(pool, k, n));
            const floor_times f = connection_floor(tasks);
            if (fastest_floor.client_ns < 0 ||
                f.client_ns + f.server_ns < fastest_floor.client_ns + fastest_floor.server_ns)
                fastest_floor = f;
        }
        peer_times.print("epoll_echo");
        loop_times.print("event_loop");
#if defined(PARBENCH_HAS_URING)
        if (uring)
            uring_times.print("event_loop.io_uring");
        else
#endif
            std::printf("event_loop.io_uring: %s\n", no_uring.c_str());
        pool_times.print("thread_pool_x4");
        std::printf("connection_floor_ns client=%lld server=%lld runs=%d\n", fastest_floor.client_ns,
                    fastest_floor.server_ns, runs);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_compare: %s\n", e.what());
        return 1;
    }
    return 0;
}
