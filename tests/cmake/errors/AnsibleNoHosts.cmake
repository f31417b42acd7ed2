cluster_deploy_inventory(ansible/no-hosts.ini CLUSTER c)
