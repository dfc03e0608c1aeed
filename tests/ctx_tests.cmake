# Context-switch and stack tests (scheduler/ctx/, scheduler/stack.c).
# Each program runs one named case per CTest entry; exit code 77 = skipped
# (a case that cannot run under the current sanitizer says why in its code).

tm_test(test_ctx)
foreach(_case regs fpu align ring dispatch call requeue returned jump)
  add_test(NAME ctx.${_case} COMMAND test_ctx ${_case})
  set_tests_properties(ctx.${_case} PROPERTIES LABELS ctx SKIP_RETURN_CODE 77 TIMEOUT 60)
endforeach()

tm_test(test_stack)
foreach(_case basic many threads canary overflow fault)
  add_test(NAME stack.${_case} COMMAND test_stack ${_case})
  set_tests_properties(stack.${_case} PROPERTIES LABELS ctx SKIP_RETURN_CODE 77 TIMEOUT 60)
endforeach()
# 100,000 live stacks: give slow sanitizer builds room.
set_tests_properties(stack.many PROPERTIES TIMEOUT 300)
