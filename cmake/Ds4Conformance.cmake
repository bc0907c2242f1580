# ds4_add_conformance_test(<name> PLUGIN <path-or-target> [OPTIONS "k=v,k=v"] [REFERENCE <path-or-target>])
#
# Registers the op conformance suite (the test_ops_conformance binary of tests/ops) against a
# backend plugin: every GoogleTest case becomes a ctest test "<name>.<Suite>.<Test>" run with
#   DS4_CONFORMANCE_PLUGIN    = the plugin file (a target's file, or a path)
#   DS4_CONFORMANCE_OPTIONS   = device options (optional)
#   DS4_CONFORMANCE_REFERENCE = cpu-ref for the cross-check of a non-reference plugin
#                               (default: the built cpu-ref)
# A plugin built in another tree can call this after including this file from a ds4 build,
# or run the binary directly: DS4_CONFORMANCE_PLUGIN=/path/libds4-backend-x.so test_ops_conformance
include_guard(GLOBAL)
include(GoogleTest)

function(ds4_add_conformance_test name)
  cmake_parse_arguments(C "" "PLUGIN;OPTIONS;REFERENCE" "" ${ARGN})
  if(NOT C_PLUGIN)
    message(FATAL_ERROR "ds4_add_conformance_test(${name}): PLUGIN is required")
  endif()
  if(NOT TARGET test_ops_conformance)
    message(FATAL_ERROR "ds4_add_conformance_test(${name}): the test_ops_conformance target (tests/ops) is not defined")
  endif()
  if(TARGET ${C_PLUGIN})
    set(plugin_file $<TARGET_FILE:${C_PLUGIN}>)
    add_dependencies(test_ops_conformance ${C_PLUGIN})
  else()
    set(plugin_file ${C_PLUGIN})
  endif()
  if(NOT C_REFERENCE)
    set(C_REFERENCE ds4-backend-cpu-ref)
  endif()
  if(TARGET ${C_REFERENCE})
    set(reference_file $<TARGET_FILE:${C_REFERENCE}>)
  else()
    set(reference_file ${C_REFERENCE})
  endif()
  # Options use ',' between pairs, which is safe inside a ctest ENVIRONMENT list.
  gtest_discover_tests(test_ops_conformance
    TEST_PREFIX "${name}."
    DISCOVERY_TIMEOUT 60
    PROPERTIES
      TIMEOUT 600
      LABELS "conformance"
      ENVIRONMENT "DS4_CONFORMANCE_PLUGIN=${plugin_file};DS4_CONFORMANCE_OPTIONS=${C_OPTIONS};DS4_CONFORMANCE_REFERENCE=${reference_file}")
endfunction()
