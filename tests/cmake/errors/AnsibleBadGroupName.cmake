cluster_deploy_inventory(ansible/bad-group.ini CLUSTER c)
