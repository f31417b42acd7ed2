cluster_deploy_inventory(inventory CLUSTER c)
cluster_deploy_add_test(t TIMEOUT 10)
