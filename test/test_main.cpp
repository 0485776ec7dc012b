// The test program's main: gtest's, after the hidden worker mode that processes.spawn and processes.forkserver
// start this program in (parbench/worker_main.hpp).

#include <gtest/gtest.h>

#include "parbench/worker_main.hpp"

int main(int argc, char** argv) {
    parbench::worker_main(argc, argv);
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
