# The test plan.env: checks the environment cluster_deploy_add_test() gives a test,
# then records "test plan.env" in the fake helper's log.
foreach(var IN ITEMS CLUSTER_DEPLOY CLUSTER_DEPLOY_PLAN CLUSTER_DEPLOY_NODES CLUSTER_DEPLOY_NAME CLUSTER_DEPLOY_TEARDOWN)
  if("$ENV{${var}}" STREQUAL "")
    message(FATAL_ERROR "${var} is not set")
  endif()
endforeach()
if(NOT DEFINED ENV{CLUSTER_DEPLOY_SSH_CONFIG})
  message(FATAL_ERROR "CLUSTER_DEPLOY_SSH_CONFIG is not defined")
endif()
set(expected
  "CLUSTER_DEPLOY_PLAN=${EXPECT_BINARY_DIR}/cluster-deploy/plan.xml"
  "CLUSTER_DEPLOY_NODES=${EXPECT_BINARY_DIR}/cluster-deploy/nodes.txt"
  "CLUSTER_DEPLOY_NAME=plan-case")
foreach(pair IN LISTS expected)
  string(REGEX MATCH "^[^=]+" var "${pair}")
  string(REGEX REPLACE "^[^=]+=" "" value "${pair}")
  if(NOT "$ENV{${var}}" STREQUAL "${value}")
    message(FATAL_ERROR "${var} is '$ENV{${var}}', expected '${value}'")
  endif()
endforeach()
if(NOT "$ENV{CLUSTER_DEPLOY_FAULT}" MATCHES "/ClusterDeploy/cluster-fault$" OR NOT EXISTS "$ENV{CLUSTER_DEPLOY_FAULT}")
  message(FATAL_ERROR "CLUSTER_DEPLOY_FAULT is '$ENV{CLUSTER_DEPLOY_FAULT}', expected the module's cluster-fault")
endif()
# cluster_deploy_add_test(TIMEOUT 30): run-test stops the test at 30 s; CTest's TIMEOUT is a minute more.
if(NOT "$ENV{CLUSTER_DEPLOY_TEST_DEADLINE}" STREQUAL "30")
  message(FATAL_ERROR "CLUSTER_DEPLOY_TEST_DEADLINE is '$ENV{CLUSTER_DEPLOY_TEST_DEADLINE}', expected 30")
endif()
if(NOT "$ENV{CLUSTER_DEPLOY}" MATCHES "/bin/cluster-deploy$")
  message(FATAL_ERROR "CLUSTER_DEPLOY is '$ENV{CLUSTER_DEPLOY}', expected the fake cluster-deploy")
endif()
file(APPEND "$ENV{CLUSTER_DEPLOY_FAKE_LOG}" "test plan.env ssh_config=$ENV{CLUSTER_DEPLOY_SSH_CONFIG}\n")
# The wrapper runs the helper's fault command with this build's plan.
execute_process(COMMAND "$ENV{CLUSTER_DEPLOY_FAULT}" partition one --service store --for 5 RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "$ENV{CLUSTER_DEPLOY_FAULT} failed: ${result}")
endif()
