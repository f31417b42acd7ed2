cluster_deploy_inventory(inventory CLUSTER c)
cluster_deploy_service(api PROGRAM /bin/true GROUP servers MEMBERS exec "m")
