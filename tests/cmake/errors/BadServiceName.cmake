cluster_deploy_inventory(inventory CLUSTER c)
cluster_deploy_service(Api_1 PROGRAM /bin/true GROUP servers)
