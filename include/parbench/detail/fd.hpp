#pragma once
// File descriptors, written once: an owning handle, pipes, and reads and writes that survive EINTR and short
// transfers.

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace parbench::detail {

[[noreturn]] inline void throw_errno(const char* what, int err = errno) {
    throw std::system_error(err, std::generic_category(), std::string("parbench: ") + what);
}

// The most descriptors this process may open (RLIMIT_NOFILE's soft limit), first raised to the hard limit where
// it is lower, for a process that opens one per task in flight (bench_parallel, the echo server): Debian's
// default soft limit, 1024, stops 1,000 sockets in flight. Never throws; returns the limit in force.
inline rlim_t raise_descriptor_limit() noexcept {
    rlimit l{};
    if (::getrlimit(RLIMIT_NOFILE, &l) != 0) return 0;
    if (l.rlim_cur < l.rlim_max) {
        const rlim_t soft = l.rlim_cur;
        l.rlim_cur = l.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &l) != 0) l.rlim_cur = soft;
    }
    return l.rlim_cur;
}

// throw_errno for a call that makes a descriptor (socket, accept, pipe); out of descriptors (EMFILE), the
// message says the limit and how to raise it.
[[noreturn]] inline void throw_descriptor_errno(const char* what, int err = errno) {
    if (err != EMFILE) throw_errno(what, err);
    rlimit l{};
    (void)::getrlimit(RLIMIT_NOFILE, &l);
    throw std::system_error(err, std::generic_category(),
                            std::string("parbench: ") + what + ": out of descriptors (this process may open " +
                                std::to_string(l.rlim_cur) + ", its RLIMIT_NOFILE; ulimit -n raises it)");
}

// Owns one file descriptor; closes it once.
class unique_fd {
public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) reset(std::exchange(o.fd_, -1));
        return *this;
    }
    ~unique_fd() { reset(); }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;

    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] explicit operator bool() const noexcept { return fd_ >= 0; }
    int release() noexcept { return std::exchange(fd_, -1); }
    // close() is not retried on EINTR: on Linux the descriptor is gone either way.
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

struct pipe_fds {
    unique_fd read;
    unique_fd write;
};

// A close-on-exec pipe, so a posix_spawn'ed program never inherits a worker's channel.
[[nodiscard]] inline pipe_fds make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
    return {unique_fd(fds[0]), unique_fd(fds[1])};
}

// Writes all `size` bytes, retrying on EINTR and short writes. Returns false on any other error (EPIPE: the
// reader is gone), with errno set.
[[nodiscard]] inline bool write_full(int fd, const void* data, std::size_t size) noexcept {
    const auto* p = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t w = ::write(fd, p, size);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        size -= static_cast<std::size_t>(w);
    }
    return true;
}

// Reads exactly `size` bytes, retrying on EINTR and short reads. Returns the bytes read: `size`, or fewer if the
// writer closed first (EOF); -1 on error with errno set.
[[nodiscard]] inline ssize_t read_full(int fd, void* data, std::size_t size) noexcept {
    auto* p = static_cast<char*>(data);
    std::size_t got = 0;
    while (got < size) {
        const ssize_t r = ::read(fd, p + got, size - got);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        got += static_cast<std::size_t>(r);
    }
    return static_cast<ssize_t>(got);
}

}  // namespace parbench::detail
