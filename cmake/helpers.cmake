# eplb_add_test(NAME SOURCES... LABELS ...): one GoogleTest binary registered with ctest.
function(eplb_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE eplb_testing ${ARG_LIBS} GTest::gtest_main eplb_warnings
                                        eplb_sanitize)
  gtest_discover_tests(${name} PROPERTIES LABELS "${ARG_LABELS}" DISCOVERY_TIMEOUT 60
                       WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endfunction()

# eplb_add_fuzzer(NAME): fuzz/NAME.cc, one LLVMFuzzerTestOneInput, as the executable NAME. With
# EPLB_FUZZ_LINKMAIN it links the reproducer fuzz/main.cc (any compiler, so the fuzzers never rot)
# and, when tests are on, replays fuzz/corpus/NAME as a ctest; otherwise EPLB_FUZZ_LDFLAGS (e.g.
# -fsanitize=fuzzer with clang) supplies libFuzzer's main.
function(eplb_add_fuzzer name)
  add_executable(${name} ${name}.cc)
  if(EPLB_FUZZ_LINKMAIN)
    target_sources(${name} PRIVATE main.cc)
  endif()
  target_link_libraries(${name} PRIVATE eplb_io eplb_core eplb_testing eplb_warnings eplb_sanitize)
  separate_arguments(_eplb_fuzz_ldflags UNIX_COMMAND "${EPLB_FUZZ_LDFLAGS}")
  target_link_options(${name} PRIVATE ${_eplb_fuzz_ldflags})
  add_dependencies(eplb_all_fuzzers ${name})
  if(EPLB_FUZZ_LINKMAIN AND EPLB_BUILD_TESTS)
    add_test(NAME ${name}_corpus COMMAND ${name} ${CMAKE_CURRENT_SOURCE_DIR}/corpus/${name})
    set_tests_properties(${name}_corpus PROPERTIES LABELS fuzz)
  endif()
endfunction()
