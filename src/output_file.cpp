#include "output_file.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace parbench::bench {

namespace {

std::string directory_of(const std::string& path) {
    const std::filesystem::path dir = std::filesystem::path(path).parent_path();
    return dir.empty() ? "." : dir.string();
}

}  // namespace

output_file::~output_file() {
    fd_.reset();
    if (!temp_name_.empty()) ::unlink(temp_name_.c_str());
}

bool output_file::fail(const char* what, int err) {
    if (error_.empty()) error_ = std::string("cannot ") + what + " " + path_ + ": " + std::strerror(err);
    return false;
}

bool output_file::open(const std::string& path) {
    path_ = path;
    // A symbolic link stays one: the file it names is replaced.
    if (char* real = ::realpath(path.c_str(), nullptr)) {
        path_ = real;
        std::free(real);
    }
    struct stat st {};
    if (::stat(path_.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
        in_place_ = true;
        fd_.reset(::open(path_.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
        return fd_ ? true : fail("write", errno);
    }
    const std::string dir = directory_of(path_);
    fd_.reset(::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666));  // the umask applies, as to any file
    if (fd_) return true;
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) return fail("write", errno);
    std::string name = dir + "/." + std::filesystem::path(path_).filename().string() + ".XXXXXX";
    fd_.reset(::mkostemp(name.data(), O_CLOEXEC));
    if (!fd_) return fail("write", errno);
    temp_name_ = std::move(name);
    const mode_t mask = ::umask(0);  // mkostemp makes it 0600; the target gets what a new file would
    ::umask(mask);
    (void)::fchmod(fd_.get(), 0666 & ~mask);
    return true;
}

bool output_file::write(std::string_view text) {
    if (!error_.empty() || !fd_) return false;
    if (!parbench::detail::write_full(fd_.get(), text.data(), text.size())) return fail("write", errno);
    return true;
}

bool output_file::commit() {
    if (!error_.empty() || !fd_) return false;
    if (in_place_) {
        if (::close(fd_.release()) != 0) return fail("write", errno);
        return true;
    }
    if (::fsync(fd_.get()) != 0) return fail("write", errno);
    if (temp_name_.empty()) {
        // An unnamed file gets a name beside the target first (linkat cannot replace a file), then the rename.
        const std::string dir = directory_of(path_);
        const std::string proc = "/proc/self/fd/" + std::to_string(fd_.get());
        for (int attempt = 0; attempt < 100 && temp_name_.empty(); ++attempt) {
            std::string name = dir + "/." + std::filesystem::path(path_).filename().string() + "." +
                               std::to_string(::getpid()) + "." + std::to_string(attempt);
            if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, name.c_str(), AT_SYMLINK_FOLLOW) == 0)
                temp_name_ = std::move(name);
            else if (errno != EEXIST)
                return fail("write", errno);
        }
        if (temp_name_.empty()) return fail("write", EEXIST);
    }
    if (::close(fd_.release()) != 0) return fail("write", errno);
    if (::rename(temp_name_.c_str(), path_.c_str()) != 0) return fail("write", errno);
    temp_name_.clear();
    // The rename itself reaches the disk with the directory.
    const parbench::detail::unique_fd dir(::open(directory_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir && ::fsync(dir.get()) != 0 && errno != EINVAL) return fail("write", errno);
    return true;
}

void fill_standard_descriptors() noexcept {
    for (int fd = 0; fd <= 2; ++fd) {
        if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
        const int null = ::open("/dev/null", O_RDWR);
        if (null >= 0 && null != fd) {
            ::dup2(null, fd);
            ::close(null);
        }
    }
}

}  // namespace parbench::bench
