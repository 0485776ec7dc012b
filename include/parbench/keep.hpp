#pragma once
// keep(value): an optimisation barrier for kernel loops. The compiler must assume the value was read and changed
// there, so a loop that calls it on its accumulator cannot be folded to a closed form or vectorised away; each
// iteration then costs what the source says. Call it once per element on the value the loop updates.

namespace parbench {

template <class T>
inline void keep(T& value) noexcept {
    asm volatile("" : "+r"(value));
}

}  // namespace parbench
