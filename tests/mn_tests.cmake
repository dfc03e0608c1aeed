# The preemptive M:N model (models/mn) and its building blocks: placement
# (scheduler/place.c) and preemption (scheduler/preempt.c). Each program runs
# one named case per CTest entry; exit code 77 = skipped (a case that needs
# switching inside the signal handler, in a flag-only build such as TSan).
# The shared semantics tests (test_waiter, test_sync, test_chan) run on mn
# through TM_TEST_MODELS in CMakeLists.txt.

tm_test(test_place)
foreach(_case synthetic caches errors apply)
  add_test(NAME place.${_case} COMMAND test_place ${_case})
  set_tests_properties(place.${_case} PROPERTIES TIMEOUT 60 LABELS "place")
endforeach()

tm_test(test_mn)
target_include_directories(test_mn PRIVATE ${PROJECT_SOURCE_DIR}/models/mn)
foreach(_case affinity stress1 stress2 spin steal blocking timers deadlock errors)
  add_test(NAME mn.${_case} COMMAND test_mn ${_case})
  set_tests_properties(mn.${_case} PROPERTIES TIMEOUT 120 LABELS "model;mn" SKIP_RETURN_CODE 77)
endforeach()

# `tmbench topo`: exact plans and bad input through the CLI.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME place.topo COMMAND Python3::Interpreter ${CMAKE_CURRENT_SOURCE_DIR}/topo_test.py
                                 $<TARGET_FILE:tmbench>)
set_tests_properties(place.topo PROPERTIES TIMEOUT 120 LABELS "place;cli")
