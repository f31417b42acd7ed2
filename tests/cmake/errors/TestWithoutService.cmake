cluster_deploy_inventory(inventory CLUSTER c)
cluster_deploy_add_test(t COMMAND /bin/true)
