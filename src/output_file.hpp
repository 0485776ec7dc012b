#pragma once
// The --benchmark_out file, written so that it is never lost or cut short: the results go to a file with no name
// in the target's directory (O_TMPFILE; where the file system has none, a hidden temporary name beside the
// target), every write and the close are checked, and only a complete, fsync'ed file is renamed over the target.
// Until then the previous file is untouched, whatever ends the run (SIGKILL included); an unnamed file leaves
// nothing behind. Two runs writing one path: each has its own temporary file, so the last one to finish wins,
// whole. A target that exists and is not a regular file (/dev/null, /dev/full, a pipe) is written in place.

#include <string>
#include <string_view>

#include "parbench/detail/fd.hpp"

namespace parbench::bench {

class output_file {
public:
    output_file() = default;
    output_file(const output_file&) = delete;
    output_file& operator=(const output_file&) = delete;
    ~output_file();

    // Prepares to write `path`; false (with error() set) if no file can be made there.
    bool open(const std::string& path);
    // Appends; after the first failure every call does nothing and returns false.
    bool write(std::string_view text);
    // Makes the written file the target: fsync, close, rename, fsync of the directory. False on any failure (the
    // target then still holds what it held before).
    bool commit();

    // The first failure as one line's tail, e.g. "cannot write out.json: No space left on device"; empty if none.
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }

private:
    bool fail(const char* what, int err);
    std::string path_;       // the target, symbolic links resolved
    std::string temp_name_;  // the named temporary file; empty for an unnamed one or a target written in place
    parbench::detail::unique_fd fd_;
    bool in_place_ = false;
    std::string error_;
};

// Opens /dev/null onto any of descriptors 0-2 that is closed, so that no file this program opens later becomes
// its standard output (the console table would land in it).
void fill_standard_descriptors() noexcept;

}  // namespace parbench::bench
