cluster_deploy_inventory(inventory CLUSTER c)
add_custom_target(tool)
cluster_deploy_service(api PROGRAM_TARGET tool GROUP servers)
