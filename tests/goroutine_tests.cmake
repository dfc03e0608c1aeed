# The goroutine model's own tests (included by tests/CMakeLists.txt).
# The shared semantics tests (test_waiter, test_sync, test_chan) run on it
# through TM_TEST_MODELS; these check its scheduling promises, each case as
# its own CTest test with the procs it needs. Exit code 77 = skipped (a
# case that needs asynchronous preemption, in a build without it).

tm_test(test_goroutine_sched)
foreach(case_procs runnext:1 steal:2 global:1 handoff:1 preempt:1 timers_busy:2
                   timers_all_busy:2)
  string(REPLACE ":" ";" _cp ${case_procs})
  list(GET _cp 0 _case)
  list(GET _cp 1 _procs)
  add_test(NAME goroutine.${_case} COMMAND test_goroutine_sched ${_case} ${_procs})
  set_tests_properties(goroutine.${_case} PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77
                                                     LABELS "model;goroutine")
endforeach()

tm_test(test_goroutine_million)
add_test(NAME goroutine.million COMMAND test_goroutine_million 2)
set_tests_properties(goroutine.million PROPERTIES TIMEOUT 300 LABELS "model;goroutine")
