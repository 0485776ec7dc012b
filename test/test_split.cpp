#include <gtest/gtest.h>

#include <cstdint>

#include "parbench/chunk.hpp"

using parbench::chunk;
using parbench::split;

namespace {

// The properties split() promises, for one (n, parts).
void expect_balanced_cover(std::uint64_t n, std::uint64_t parts) {
    SCOPED_TRACE("n=" + std::to_string(n) + " parts=" + std::to_string(parts));
    const auto chunks = split(n, parts);
    ASSERT_EQ(chunks.size(), parts);
    std::uint64_t next = 0;
    std::uint64_t smallest = UINT64_MAX;
    std::uint64_t largest = 0;
    for (const chunk c : chunks) {
        EXPECT_EQ(c.begin, next) << "chunks are contiguous and in order";
        EXPECT_LE(c.begin, c.end);
        next = c.end;
        smallest = std::min(smallest, c.size());
        largest = std::max(largest, c.size());
    }
    EXPECT_EQ(next, n) << "chunks cover [0, n) exactly";
    EXPECT_LE(largest - smallest, 1u) << "sizes differ by at most one";
}

}  // namespace

TEST(split, covers_the_range_with_balanced_chunks) {
    for (std::uint64_t n : {0ull, 1ull, 2ull, 3ull, 7ull, 10ull, 63ull, 64ull, 65ull, 1000ull, 1048579ull})
        for (std::uint64_t parts : {1ull, 2ull, 3ull, 4ull, 7ull, 16ull, 64ull, 1000ull})
            expect_balanced_cover(n, parts);
}

TEST(split, more_parts_than_elements_gives_empty_chunks) {
    const auto chunks = split(3, 5);
    ASSERT_EQ(chunks.size(), 5u);
    EXPECT_EQ(chunks[0], (chunk{0, 1}));
    EXPECT_EQ(chunks[2], (chunk{2, 3}));
    EXPECT_TRUE(chunks[3].empty());
    EXPECT_TRUE(chunks[4].empty());
}

TEST(split, zero_parts_gives_no_chunks) { EXPECT_TRUE(split(10, 0).empty()); }

TEST(split, survives_the_largest_ranges) {
    const std::uint64_t n = UINT64_MAX;
    expect_balanced_cover(n, 3);
    expect_balanced_cover(n, 4096);
}
