cluster_deploy_inventory(ansible/hosts.ini CLUSTER c LOCAL_CLUSTER)
