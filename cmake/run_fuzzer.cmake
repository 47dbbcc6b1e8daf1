# Build one libFuzzer target with clang and run it for a bounded time (CTest driver).
#   cmake -DSOURCE=... -DNAME=... -DWORK=... -DINCLUDE=... -DSECONDS=60 [-DCORPUS=dir] [-DSHARED_DIR=dir]
#         [-DLIBS=...] -P run_fuzzer.cmake
find_program(FUZZ_CLANG NAMES clang++-14 clang++ REQUIRED)
file(MAKE_DIRECTORY "${WORK}/corpus")
if(CORPUS)
  file(GLOB seeds "${CORPUS}/*")
  file(COPY ${seeds} DESTINATION "${WORK}/corpus")  # libFuzzer writes new inputs into its corpus dir
endif()
set(binary "${WORK}/${NAME}")
set(defines "")
if(SHARED_DIR)
  list(APPEND defines "-DSKIPTUNE_SHARED_DIR=\"${SHARED_DIR}\"")  # a string literal for the compiler
endif()
separate_arguments(libs UNIX_COMMAND "${LIBS}")
execute_process(COMMAND ${FUZZ_CLANG} -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined
                        -fno-sanitize-recover=undefined -I${INCLUDE} ${defines} ${SOURCE} ${libs} -o ${binary}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the fuzzer ${NAME} with ${FUZZ_CLANG} failed (${rc}); "
                      "install clang and libclang-rt-14-dev (scripts/setup.sh does)")
endif()
execute_process(COMMAND ${binary} -max_total_time=${SECONDS} -print_final_stats=1 -seed=1 "${WORK}/corpus"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "fuzzer ${NAME} found a failure (exit ${rc}); the crashing input is in ${WORK}")
endif()
