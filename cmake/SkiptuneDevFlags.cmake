# Flags for skiptune's own tests, benchmarks and examples. Never applied to consumers.
add_library(skiptune_dev_flags INTERFACE)
# GCC 12 reports false "(may be) used uninitialized" warnings inside its own AVX-512 intrinsics
# headers when Eigen is vectorised with -march=native; they are not about our code.
target_compile_options(skiptune_dev_flags INTERFACE -Wall -Wextra -Wpedantic -Wno-maybe-uninitialized -Wno-uninitialized)
if(SKIPTUNE_NATIVE)
  target_compile_options(skiptune_dev_flags INTERFACE -march=native)
endif()
if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "" FORCE)
endif()
if(SKIPTUNE_SANITIZE)
  target_compile_options(skiptune_dev_flags INTERFACE -fsanitize=address,undefined -fno-sanitize-recover=undefined
                                                     -fno-omit-frame-pointer)
  target_link_options(skiptune_dev_flags INTERFACE -fsanitize=address,undefined)
endif()
