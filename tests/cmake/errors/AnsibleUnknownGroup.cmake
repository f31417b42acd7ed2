cluster_deploy_inventory(ansible/hosts.ini CLUSTER c)
cluster_deploy_service(api PROGRAM /bin/true GROUP workers)
