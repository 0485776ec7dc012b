#pragma once
// An optimisation barrier: the compiler must assume the value was read and changed, so a loop that contains it
// cannot be folded to a closed form or vectorised away. The seeds measure loops; so does parbench.

namespace parbench::detail {

template <class T>
inline void keep(T& value) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    asm volatile("" : "+r"(value));
#else
    volatile T sink = value;
    value = sink;
#endif
}

}  // namespace parbench::detail
