// skiptune/version.hpp — the library version (CMake parses these three lines).
#pragma once

#define SKIPTUNE_VERSION_MAJOR 0
#define SKIPTUNE_VERSION_MINOR 1
#define SKIPTUNE_VERSION_PATCH 0

namespace skiptune {
inline constexpr int version_major = SKIPTUNE_VERSION_MAJOR;
inline constexpr int version_minor = SKIPTUNE_VERSION_MINOR;
inline constexpr int version_patch = SKIPTUNE_VERSION_PATCH;
}  // namespace skiptune
