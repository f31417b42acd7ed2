cluster_deploy_add_test(t COMMAND /bin/true)
