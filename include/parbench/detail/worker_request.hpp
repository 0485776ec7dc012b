#pragma once
// What a started worker process (processes.spawn, processes.forkserver) needs to run one chunk: the kernel's bytes,
// the chunk and the size of its shared state, in one fixed-size message. The kernel's type travels as a key that
// the same program, started afresh, finds in a registry its static initialisation filled: every kernel a program
// runs through these strategies registers itself there when its run() is instantiated.

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include "../kernel.hpp"
#include "../payload.hpp"
#include "../strategies/processes.hpp"  // child_outcome, run_in_child
#include "fd.hpp"
#include "payload_io.hpp"
#include "registry.hpp"
#include "shm.hpp"

namespace parbench::detail {

// One request: fits PIPE_BUF, so it crosses a pipe or a socket in one atomic write.
struct worker_request {
    static constexpr std::uint32_t magic_value = 0x7062'6e77;
    static constexpr std::size_t kernel_capacity = 256;
    static constexpr std::size_t key_capacity = 224;

    std::uint32_t magic = magic_value;
    std::uint32_t id = 0;           // the worker's index in its run
    std::uint32_t kernel_size = 0;  // bytes of `kernel` in use
    std::uint32_t state_size = 0;   // bytes of the shared state behind the state descriptor; 0: none
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
    char key[key_capacity] = {};
    alignas(std::max_align_t) unsigned char kernel[kernel_capacity] = {};
};
static_assert(sizeof(worker_request) <= 4096, "a request must fit PIPE_BUF");

// Runs request r of a kernel of type K: maps the shared state (if any) from state_fd, runs the chunk and writes
// a child_outcome to result_fd. Returns the worker's exit status.
// A payload kernel's request has no shared state: state_fd is the pipe its chunk's input arrives on, and the
// output goes back through result_fd before the outcome (payload_io.hpp).
template <kernel K>
int serve_kernel(const worker_request& r, int result_fd, int state_fd) noexcept {
    using result = typename K::result;
    if constexpr (payload_kernel<K>) {
        if (r.kernel_size == sizeof(K) && r.state_size == 0 && state_fd >= 0) {
            alignas(K) unsigned char bytes[sizeof(K)];
            std::memcpy(bytes, r.kernel, sizeof(K));
            return stream_chunk(*std::launder(reinterpret_cast<const K*>(bytes)), chunk{r.begin, r.end}, state_fd,
                                result_fd);
        }
        child_outcome<result> out;
        out.set_error("parbench: a payload request without its input pipe");
        const std::uint64_t end = 0;  // the end frame (payload_io.hpp), then the outcome
        return write_full(result_fd, &end, sizeof end) && write_full(result_fd, &out, sizeof out) ? exit_uncaught
                                                                                                  : exit_unsent;
    } else {
        child_outcome<result> out;
        int status = exit_uncaught;
        void* map = MAP_FAILED;
        if (r.kernel_size != sizeof(K) || (r.state_size != 0) != stateful_kernel<K>) {
            out.set_error("parbench: request does not match its kernel");
        } else if (r.state_size != 0 && (map = ::mmap(nullptr, r.state_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                                                      state_fd, 0)) == MAP_FAILED) {
            out.set_error("parbench: cannot map the shared state");
        } else {
            alignas(K) unsigned char bytes[sizeof(K)];
            std::memcpy(bytes, r.kernel, sizeof(K));
            const K& k = *std::launder(reinterpret_cast<const K*>(bytes));
            no_state none;
            state_t<K>* state = nullptr;
            if constexpr (stateful_kernel<K>)
                state = static_cast<state_t<K>*>(map);
            else
                state = &none;
            status = run_in_child(k, chunk{r.begin, r.end}, *state, out);
        }
        if (map != MAP_FAILED) ::munmap(map, r.state_size);
        return write_full(result_fd, &out, sizeof out) ? status : exit_unsent;
    }
}

using serve_fn = int (*)(const worker_request&, int, int) noexcept;

template <kernel K>
inline const bool kernel_registered = registered<K, serve_fn, &serve_kernel<K>>;

// The request for chunk c of kernel k, worker `id`. Registers K; throws std::invalid_argument if K cannot travel.
template <kernel K>
worker_request make_request(const K& k, chunk c, unsigned id) {
    static_assert(sizeof(K) <= worker_request::kernel_capacity, "a kernel must fit a worker request (256 bytes)");
    static_assert(std::in_range<std::uint32_t>(sizeof(state_t<K>)), "shared state too large");
    (void)kernel_registered<K>;
    worker_request r;
    const std::string_view key = typeid(K).name();
    if (key.size() >= sizeof r.key)
        throw std::invalid_argument("parbench: kernel type name too long to send to a worker: " + std::string(key));
    std::memcpy(r.key, key.data(), key.size());
    std::memcpy(r.kernel, &k, sizeof(K));
    r.id = id;
    r.kernel_size = sizeof(K);
    r.state_size = stateful_kernel<K> ? static_cast<std::uint32_t>(sizeof(state_t<K>)) : 0;
    r.begin = c.begin;
    r.end = c.end;
    return r;
}

// In a worker: runs request r with the registered kernel it names. A kernel this program never registered (it
// was started from another binary, or the program skipped its registration) is the worker's error.
inline int serve_request(const worker_request& r, int result_fd, int state_fd) noexcept {
    if (r.magic == worker_request::magic_value) {
        const std::string_view key(r.key, ::strnlen(r.key, sizeof r.key));
        if (const serve_fn serve = find_registered<serve_fn>(key)) return serve(r, result_fd, state_fd);
    }
    return exit_unregistered;
}

// Kernel K's shared state for started workers: in a memfd, or nothing (descriptor -1) for a plain kernel.
template <kernel K>
struct started_state {
    shared_file_object<state_t<K>> shared;
    state_t<K>& get() noexcept { return *shared; }
    [[nodiscard]] int fd() const noexcept { return shared.fd(); }
};
template <kernel K>
requires(!stateful_kernel<K>) struct started_state<K> {
    no_state none;
    no_state& get() noexcept { return none; }
    [[nodiscard]] static int fd() noexcept { return -1; }
};

}  // namespace parbench::detail
