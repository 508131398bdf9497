# eplb_add_test(NAME SOURCES... LABELS ...): one GoogleTest binary registered with ctest.
function(eplb_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE eplb_testing ${ARG_LIBS} GTest::gtest_main eplb_warnings
                                        eplb_sanitize)
  gtest_discover_tests(${name} PROPERTIES LABELS "${ARG_LABELS}" DISCOVERY_TIMEOUT 60
                       WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endfunction()
