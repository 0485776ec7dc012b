#pragma once

#define PARBENCH_VERSION_MAJOR 0
#define PARBENCH_VERSION_MINOR 1
#define PARBENCH_VERSION_PATCH 0

namespace parbench {
inline constexpr const char* version = "0.1.0";
}  // namespace parbench
