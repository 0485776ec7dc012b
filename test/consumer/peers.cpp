// The peer targets, parbench::openmp and parbench::tbb, as a consumer links them: each one present runs.

#include <parbench/parbench.hpp>

#include <cstdio>

namespace {

template <class... S>
struct list {};

template <class... S>
int run_all(list<S...>) {
    int failures = 0;
    (
        [&] {
            const auto total = parbench::run<S>(parbench::kernels::count{}, 100000, 2);
            std::printf("%s: count to 100000 on 2 workers = %llu\n", S::name.data(),
                        static_cast<unsigned long long>(total));
            failures += total == 100000 ? 0 : 1;
        }(),
        ...);
    return failures;
}

}  // namespace

int main() {
    std::printf("peers: %s\n", parbench::peers_description().c_str());
    return run_all(parbench::with_peers<list<>>{});
}
