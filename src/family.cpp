#include "family.hpp"

#include <algorithm>
#include <string_view>
#include <vector>

namespace parbench::bench {

namespace {
struct family_entry {
    int order;
    const char* name;
    void (*add)();
};
// A function-local static: families register during static initialisation, in no fixed order across files.
std::vector<family_entry>& families() {
    static std::vector<family_entry> all;
    return all;
}
}  // namespace

family::family(int order, const char* name, void (*add)()) { families().push_back({order, name, add}); }

namespace {
std::vector<void (*)()>& run_start_hooks() {
    static std::vector<void (*)()> all;
    return all;
}
}  // namespace

void at_run_start(void (*fn)()) { run_start_hooks().push_back(fn); }
void run_start() {
    for (auto* fn : run_start_hooks()) fn();
}

void register_families() {
    auto list = families();
    std::stable_sort(list.begin(), list.end(), [](const family_entry& a, const family_entry& b) {
        return a.order < b.order || (a.order == b.order && std::string_view(a.name) < b.name);
    });
    for (const auto& f : list) f.add();
}

}  // namespace parbench::bench
