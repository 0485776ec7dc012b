#pragma once
// connection_pool: the idle connections this process keeps to each loopback port, as an HTTP or asyncio client's
// pool does, so that socket_tasks with keep_alive (kernels/socket_tasks.hpp) connects once and later runs only
// send, wait and receive. A chunk takes a connection (or gets none and opens one), owns it while it runs, and
// gives it back only once every answer it waited for has been read; a chunk that fails or is abandoned closes
// its connection, so no connection goes back with an answer still on its way. echo_server::stop() closes the
// port's idle connections (echo_server.hpp).
//
// One pool per process. A forked child inherits the parent's pool and copies of its descriptors; it closes those
// copies at its first use of the pool and opens its own, so a connection is never shared by two processes (pool
// workers then keep theirs for their lifetime; a worker forked for one run opens its connections every run). A
// started program (spawn, exec) inherits nothing: the connections are close-on-exec.

#include <sys/types.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fd.hpp"

namespace parbench::detail {

class connection_pool {
public:
    // This process's pool. Never destroyed, so that an echo_server stopped at exit can still close into it.
    [[nodiscard]] static connection_pool& instance() {
        static connection_pool* const pool = new connection_pool;
        return *pool;
    }
    connection_pool(const connection_pool&) = delete;
    connection_pool& operator=(const connection_pool&) = delete;

    // An idle connection to 127.0.0.1:port, now the caller's, or an empty unique_fd when there is none.
    [[nodiscard]] unique_fd take(std::uint16_t port) {
        const std::lock_guard lock(mutex_);
        adopt();
        const auto it = idle_.find(port);
        if (it == idle_.end() || it->second.empty()) return {};
        unique_fd fd = std::move(it->second.back());
        it->second.pop_back();
        return fd;
    }
    // Keeps `fd`, a connection to 127.0.0.1:port with no request outstanding, for a later take().
    void give_back(std::uint16_t port, unique_fd fd) {
        const std::lock_guard lock(mutex_);
        adopt();
        idle_[port].push_back(std::move(fd));
    }
    // Closes the idle connections to port (its server stopped).
    void close(std::uint16_t port) noexcept {
        std::vector<unique_fd> gone;
        const std::lock_guard lock(mutex_);
        adopt();
        if (const auto it = idle_.find(port); it != idle_.end()) {
            gone = std::move(it->second);
            idle_.erase(it);
        }
    }
    // How many idle connections to port this process holds.
    [[nodiscard]] std::size_t idle(std::uint16_t port) {
        const std::lock_guard lock(mutex_);
        adopt();
        const auto it = idle_.find(port);
        return it == idle_.end() ? 0 : it->second.size();
    }

private:
    connection_pool() = default;

    // In a child forked since the last use: closes the inherited copies of the parent's connections.
    void adopt() noexcept {
        const pid_t self = ::getpid();
        if (self == owner_) return;
        idle_.clear();
        owner_ = self;
    }

    std::mutex mutex_;
    pid_t owner_ = ::getpid();
    std::unordered_map<std::uint16_t, std::vector<unique_fd>> idle_;
};

}  // namespace parbench::detail
