# Configure, build and run the whole unit-test suite under AddressSanitizer and
# UndefinedBehaviorSanitizer in a nested build directory (CTest driver). -O0 without debug info:
# half the compile time of -O1, and the tiny models the tests use still run in seconds.
#   cmake -DSOURCE_DIR=... -DBUILD_DIR=... -P run_sanitized_tests.cmake
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BUILD_DIR} -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O0"
                        -DSKIPTUNE_SANITIZE=ON -DSKIPTUNE_EXTENDED_TESTS=OFF -DSKIPTUNE_BUILD_BENCHMARKS=OFF
                        -DSKIPTUNE_BUILD_EXAMPLES=OFF
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the sanitizer build failed (${rc})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} -j2 RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the sanitizer build failed (${rc})")
endif()
execute_process(COMMAND ${CMAKE_CTEST_COMMAND} --test-dir ${BUILD_DIR} --output-on-failure -j2 RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "tests failed under AddressSanitizer/UndefinedBehaviorSanitizer (${rc})")
endif()
