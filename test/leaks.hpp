#pragma once
// What a strategy could leak, counted in this process: the leak tests compare these before and after many runs.

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>

namespace parbench::test {

// Descriptors open in this process.
inline std::size_t open_fds() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

// Shared mappings only: those are what the strategies create (results, counters, the pool's control block, the
// payload's data areas). Private mappings come and go with the allocator (ASan's grows its own as the test
// allocates), so counting every line would blame the sanitizer, not us.
inline std::size_t shared_mappings() {
    std::ifstream maps("/proc/self/maps");
    std::size_t n = 0;
    for (std::string line; std::getline(maps, line);) {
        const auto perms = line.find(' ');
        if (perms != std::string::npos && perms + 4 < line.size() && line[perms + 4] == 's') ++n;
    }
    return n;
}

}  // namespace parbench::test
