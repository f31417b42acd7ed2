cluster_deploy_inventory(inventory CLUSTER c)
add_executable(app IMPORTED)
cluster_deploy_service(api TARGET app PROGRAM /bin/true GROUP servers)
