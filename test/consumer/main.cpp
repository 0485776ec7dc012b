#include <parbench/parbench.hpp>

#include <cstdio>

int main() {
    const auto total = parbench::run<parbench::strategies::thread_pool>(parbench::kernels::count{}, 100000, 2);
    std::printf("parbench %s: count to 100000 on 2 pool workers = %llu\n", parbench::version,
                static_cast<unsigned long long>(total));
    return total == 100000 ? 0 : 1;
}
