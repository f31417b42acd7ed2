cluster_deploy_inventory(inventory CLUSTER c)
cluster_deploy_service(api PROGRAM /bin/true GROUP servers SERIAL 1 MAX_FAIL 150%)
