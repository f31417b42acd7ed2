set(CLUSTER_DEPLOY_SANDBOX_TOOL "" CACHE FILEPATH "" FORCE)
set(CMAKE_PROGRAM_PATH /nonexistent)
set(ENV{PATH} /nonexistent)
cluster_deploy_inventory(inventory CLUSTER c SANDBOX)
