set(CLUSTER_DEPLOY_LOCAL_CLUSTER_TOOL "" CACHE FILEPATH "" FORCE)
set(CMAKE_PROGRAM_PATH /nonexistent)
set(ENV{PATH} /nonexistent)
cluster_deploy_inventory(inventory CLUSTER c LOCAL_CLUSTER)
