cluster_deploy_inventory(inventory CLUSTER c)
cluster_deploy_service(api PROGRAM /bin/true GROUP servers LEADER http 2379 /leader)
