cluster_deploy_inventory(ansible/hosts.ini CLUSTER c SANDBOX)
