#pragma once
// event_loop.io_uring: event_loop (event_loop.hpp) with its io_loop on io_uring instead of epoll: a wait is a
// poll request in the submission ring, handed to the kernel with the next sleep, so a wake-up costs one system
// call however many waits it re-arms (detail/uring_poller.hpp). Needs liburing: link parbench::uring, which the
// build makes where it finds liburing (Debian: liburing-dev). Building it throws std::system_error where the
// kernel refuses io_uring (kernel.io_uring_disabled, a container's seccomp filter).

#include <exception>
#include <string>
#include <string_view>

#include "../detail/uring_poller.hpp"
#include "event_loop.hpp"

namespace parbench::strategies {

class event_loop_uring : public detail::gather_loop<detail::uring_poller> {
public:
    static constexpr std::string_view name = "event_loop.io_uring";
    using gather_loop::gather_loop;

    // Why this process cannot have an io_uring (the kernel's refusal, as the constructor would throw it), or empty
    // where it can. Asked once; a ring is made and closed to find out.
    [[nodiscard]] static const std::string& unavailable_reason() {
        static const std::string why = [] {
            try {
                detail::uring_poller probe;
                return std::string();
            } catch (const std::exception& e) {
                return std::string(e.what());
            }
        }();
        return why;
    }
    // As for mpi (bench/'s harness reads it): max_workers where io_uring is available, else 0.
    [[nodiscard]] static unsigned available_workers() { return unavailable_reason().empty() ? max_workers : 0; }
};

}  // namespace parbench::strategies
