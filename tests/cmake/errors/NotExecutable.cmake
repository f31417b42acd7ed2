cluster_deploy_inventory(inventory CLUSTER c)
add_library(lib INTERFACE)
cluster_deploy_service(api TARGET lib GROUP servers)
