include_guard(GLOBAL)

#[=======================================================================[.rst:
ClusterDeploy
-------------

Deploy the executables of a project as systemd services to Linux nodes over SSH,
and run CTest tests against the deployed cluster.

.. code-block:: cmake

  find_package(ClusterDeploy REQUIRED)     # or add_subdirectory / FetchContent

  cluster_deploy_inventory(inventory/local LOCAL_CLUSTER)
  cluster_deploy_service(kv TARGET kv-server GROUP servers
    ARGS --config @etc@/kv.conf
    CONFIG deploy/kv.conf.in
    HEALTH tcp 7000)
  cluster_deploy_service(client TARGET kv-client GROUP workers AFTER kv)
  cluster_deploy_add_test(kv.roundtrip COMMAND kv-roundtrip-test)

A project can get the module in three ways: ``find_package(ClusterDeploy)``
from an installed ClusterDeploy, ``add_subdirectory(<ClusterDeploy source>)``, or
:module:`FetchContent`:

.. code-block:: cmake

  include(FetchContent)
  FetchContent_Declare(ClusterDeploy GIT_REPOSITORY <url> GIT_TAG <tag>
                       FIND_PACKAGE_ARGS 0.1)   # try find_package first
  FetchContent_MakeAvailable(ClusterDeploy)

Then ``cmake --build build --target deploy`` builds the services and deploys them,
and ``ctest --test-dir build -L cluster`` deploys, runs the cluster tests and
cleans up.

The module describes the cluster in a plan file,
``${CMAKE_BINARY_DIR}/cluster-deploy/plan.xml`` (``cluster-deploy/<config>/plan.xml``
with multi-config generators). The plan is written with :command:`file(GENERATE)`
at the end of the configure step. All work is done by the ``cluster-deploy``
helper, the imported or in-tree executable ``ClusterDeploy::cluster-deploy``.

Commands
^^^^^^^^

.. command:: cluster_deploy_inventory

  Declare the nodes the project deploys to (once per project)::

    cluster_deploy_inventory(<dir>
                             [CLUSTER <name>]
                             [SSH_CONFIG <file>]
                             [KNOWN_HOSTS <file>]
                             [HOST_KEY_POLICY strict|accept-new]
                             [PARALLEL <n>]
                             [FAN_OUT auto|on|off]
                             [FAULTS] [CORRUPT_FAULTS]
                             [TEARDOWN none|down|clean]
                             [LOCAL_CLUSTER])

  ``<dir>``
    A directory holding one ``<group>.txt`` file per group of nodes (at least
    one), or an Ansible INI inventory file (groups with hosts become groups; a
    host belongs to one group; ``ansible_host``, ``ansible_port`` and
    ``ansible_user`` give address, port and user; the other variables of the
    host, its groups' ``:vars`` and ``[all:vars]`` become template variables;
    other ``ansible_*`` variables are ignored). A relative path is relative to
    :variable:`CMAKE_CURRENT_SOURCE_DIR`. The helper reads the files at build
    and test time; it is the one reader of an Ansible inventory, so a service's
    ``GROUP`` missing there, or a bad name in it, is reported by the first
    target that runs the helper (``deploy``, ``cluster-status``, ...), before
    any node is touched, rather than at configure time. Group (file or section) and node names follow the name rules
    (docs/using.md "Names"): 1-63 characters of ``A-Z a-z 0-9 . _ -``, the first a
    letter or digit.

  ``CLUSTER <name>``
    Cluster name: 1-32 characters of ``a-z 0-9 -``, the first a letter. Defaults to the lower-cased
    :variable:`PROJECT_NAME`. It names the service user and the folders
    ``/opt/<name>`` and ``/var/lib/<name>`` on the nodes, so names of system
    accounts and folders (``root``, ``dpkg``, ``postgres``, ``etcd``, ...) are
    refused; on a node, an account or folder of that name that cluster-deploy did
    not create (it carries no ``cluster-deploy`` mark) is refused too.

  ``SSH_CONFIG <file>``
    The ssh_config file the helper reads. Empty (the default) means libssh's
    defaults (``~/.ssh/config``). The cache variable ``CLUSTER_DEPLOY_SSH_CONFIG``
    overrides it for one build tree.

  ``KNOWN_HOSTS <file>``
    A known_hosts file to use instead of the user's.

  ``HOST_KEY_POLICY strict|accept-new``
    ``strict`` (the default) refuses unknown host keys; ``accept-new`` records
    them. The cache variable ``CLUSTER_DEPLOY_HOST_KEY_POLICY`` overrides it.

  ``PARALLEL <n>``
    How many nodes the helper works on at once (default 64).

  ``FAN_OUT auto|on|off``
    Whether nodes pass programs and libraries on to each other during a deploy
    (fan-out), so that the controller sends one copy of a file many nodes need
    instead of one per node. ``auto`` (the default) does it where it pays (a
    file of 4 MiB or more going to 8 nodes or more); ``on`` for every program or
    library that goes to two nodes or more; ``off`` when the nodes cannot reach
    each other over SSH. A ``LOCAL_CLUSTER`` inventory defaults to ``off``: its
    nodes share this machine's cores and there is no uplink to save, so passing
    files on costs a deploy more than it saves (a first deploy to 32 local nodes:
    19.7 s ``off``, 21.9 s ``auto``). ``cluster-deploy deploy --fan-out``
    overrides it for one run. A transfer between nodes that fails falls back to
    a direct upload.

  ``FAULTS``
    Tests may inject faults into this cluster (``cluster-deploy fault``:
    partitions, lossy and slow links, clocks, full disks, killed, paused and
    stopped services). Without it the helper
    refuses every fault (exit 2), so a test suite pointed at production by
    mistake cannot cut it apart. ``LOCAL_CLUSTER`` inventories allow faults.

  ``CORRUPT_FAULTS``
    Tests may also corrupt files under the services' data folders
    (``cluster-deploy fault corrupt``), which destroys data by design; implies
    ``FAULTS``. ``LOCAL_CLUSTER`` inventories allow it too.

  ``TEARDOWN none|down|clean``
    What the ``cluster.cleanup`` fixture test does after the cluster tests,
    and whether tests that stop services may run: ``none`` (the default for a
    real inventory) leaves every service running and makes such tests skip;
    ``down`` stops the services; ``clean`` (the default for ``LOCAL_CLUSTER``) removes
    them (``cluster-deploy clean``, data kept) and takes the local cluster down.
    Tests see the policy as ``CLUSTER_DEPLOY_TEARDOWN``.

  ``LOCAL_CLUSTER``
    This inventory is the local cluster (the ``local-cluster`` tool: systemd-nspawn
    nodes on the controller). ``SSH_CONFIG``
    then defaults to ``${CMAKE_BINARY_DIR}/local-cluster/ssh_config``, the ``deploy``
    and ``cluster-up`` targets and the ``cluster.setup`` test bring the local
    cluster up first, and ``cluster.cleanup`` takes it down. The tool is
    ``CLUSTER_DEPLOY_LOCAL_CLUSTER_TOOL`` (found with :command:`find_program` when
    unset).

.. command:: cluster_deploy_service

  Declare a service, run as a systemd unit on every node of a group::

    cluster_deploy_service(<name>
                           {TARGET <target> | PROGRAM_TARGET <imported-target> | PROGRAM <path>}
                           GROUP <group>
                           [ARGS <arg>...]
                           [CONFIG <template>...]
                           [ENV <NAME=value>...]
                           [HEALTH tcp <port> | HEALTH http <port> <path> | HEALTH exec <command>]
                           [AFTER <service>...]
                           [BOOTSTRAP]
                           [BUNDLE_LIBS [ALL]]
                           [SERIAL <n>|<n>%] [CANARY <n>] [MAX_FAIL <n>|<n>%]
                           [SETTLE <seconds>]
                           [QUORUM exec <command>]
                           [LEADER exec <command>]
                           [MEMBERS exec <command>]
                           [JOIN exec <command>] [LEAVE exec <command>]
                           [TRANSFER exec <command>]
                           [LIMITS <Setting=value>...])

  ``<name>``
    Unique service name: 1-32 characters of ``a-z 0-9 -``, the first a letter.

  ``TARGET <target>``
    An executable target of this project. ``deploy`` builds it first.

  ``PROGRAM_TARGET <imported-target>``
    An imported executable target (for example from :command:`find_package`).

  ``PROGRAM <path>``
    A program file on the controller (relative to :variable:`CMAKE_CURRENT_SOURCE_DIR`).

  ``GROUP <group>``
    The inventory group (``<group>.txt``) whose nodes run the service.

  ``ARGS <arg>...``
    Command-line arguments. The helper substitutes ``@etc@``, ``@node@`` and the
    other placeholders documented in docs/using.md. Generator expressions are
    not evaluated in arguments.

  ``CONFIG <template>...``
    Configuration templates (relative to :variable:`CMAKE_CURRENT_SOURCE_DIR`),
    rendered per node and installed as the file name without a trailing ``.in``.

  ``ENV <NAME=value>...``
    Environment of the service.

  ``HEALTH tcp <port>``, ``HEALTH http <port> <path>``, ``HEALTH exec <command>``
    How the helper knows a node's instance is up: a TCP connect, an HTTP GET
    answered with 2xx, or a command run on the node that exits 0.

  ``AFTER <service>...``
    Start this service only after the named services are healthy. Services of
    different groups that do not run ``AFTER`` one another start and roll at
    the same time.

  ``SERIAL <n>|<n>%``
    Rolling restarts: when a deploy (or ``rollback``) restarts this service on
    nodes where it runs, it restarts at most ``<n>`` nodes (or ``<n>`` percent of
    the group, rounded up) at a time, each batch healthy before the next. A node
    switches to its new release only when its batch restarts, so the nodes not
    rolled yet keep the old release on disk as well as in memory (a crash there
    restarts the old version). When a batch fails, its nodes go back to their
    previous release and restart on it; once more nodes failed than ``MAX_FAIL``
    allows (none by default), every node switched in this run goes back and the
    rollout stops (exit 1, the summary says ``rolled back`` per node). First
    starts are not rolled. Without ``SERIAL`` all running instances restart in
    one batch, with the same rollback.

  ``CANARY <n>``
    The first batch of a roll has ``<n>`` nodes (a canary): a bad build stops
    there.

  ``MAX_FAIL <n>|<n>%``
    How many nodes of a roll may fail (each goes back to its previous release)
    before the rollout stops. Default 0.

  ``SETTLE <seconds>``
    The settle window: how long a node's instance that this run started or
    restarted must be seen running as the same process, with its ``HEALTH``
    probe passing, before it counts as healthy (0 to 600; default 2). It
    catches a build that starts and then crashes. A service with a ``HEALTH``
    probe settles once per run, in its first batch (the canary); later batches
    are gated by their probe alone. Without a probe every batch settles. Use
    ``SETTLE 0`` when the probe alone proves the instance works (for example
    a local cluster in the edit-deploy-test loop), or more for a service that
    fails late.

  ``QUORUM exec <command>``
    The group's own view of itself: a command run as the service user on one
    healthy node of the group that exits 0 when the whole group is back (every
    member up, a leader, the restarted members caught up). It must pass before
    the first batch and after every batch (retried until ``--health-timeout``).
    A service with ``QUORUM`` or ``LEADER`` is a quorum group: never more than
    floor((n-1)/2) of its n members restart at once, whatever ``SERIAL`` says.

  ``LEADER exec <command>``
    How to ask the service's group who leads it (a Raft group's leader): a
    command run as the service user on one node of the group (the first that
    answers) that prints the leader's node name or address on its first line.
    Placeholders are substituted as in ``HEALTH exec`` (values are inserted as
    they are, not quoted: keep inventory values plain words). ``cluster-deploy leader --service <name>`` prints the answer, and the
    fault selector ``leader`` uses it, and a roll restarts the leader last. For
    etcd, ship a small script as a ``CONFIG`` and run it:
    ``LEADER exec "sh @etc@/etcd-leader.sh"``.

  ``MEMBERS exec <command>``
    How to ask the group who its members are: a command run as the service
    user on a node of the group (the first that answers) that prints one
    member a line, its node name, then optionally its address (a member known
    only by its address, like an etcd member added but not started yet, may
    print ``-`` as its name). With it, a deploy compares the group with the
    inventory: nodes that are new to the group join (``JOIN``), members no
    longer in the inventory leave (``LEAVE``), and ``status`` shows each
    node's membership. Needs ``QUORUM``.

  ``JOIN exec <command>``
    Announces a new member to the group before its first start (etcd:
    ``member add``), run on a member of the group with ``@member@`` and
    ``@member_address@`` (the new node's name and address) substituted as one
    shell word each. New members join one at a time, each caught up
    (``QUORUM``) before the next. A new member's configs see
    ``@member_state@`` = ``existing`` (``new`` for the members the group was
    founded with) and ``@members:<pattern>@``, the members it joins with
    (itself included), each formatted like ``@peers@`` (``{name}``,
    ``{address}``). Needs ``MEMBERS``. See docs/rollouts.md, "Changing a
    group's members".

  ``LEAVE exec <command>``
    Removes a member from the group (etcd: ``member remove``), run on another
    member with ``@member@`` and ``@member_address@`` of the one leaving. A
    deploy runs it for each member of the group that is no longer in the
    inventory, one at a time, the leader last, after the joins (a replaced
    server is added before its old one is removed). A change that would leave
    fewer than a majority of the group's current members is refused before
    anything changes. Needs ``MEMBERS``.

  ``TRANSFER exec <command>``
    Moves the group's leadership to the member it runs on (etcd:
    ``move-leader``), run there just before the leader leaves, with
    ``@member@`` and ``@member_address@`` of the leader. Without it, a leader
    that is removed steps down by itself and the group is without one for an
    election timeout: writes wait. Needs ``LEAVE`` and ``LEADER``.

  ``LIMITS <Setting=value>...``
    systemd resource settings written into the service's unit (see
    ``systemd.resource-control(5)`` and ``systemd.exec(5)``), checked when
    configuring. The settings and the values accepted:

    * ``MemoryMin``, ``MemoryLow``, ``MemoryHigh``, ``MemoryMax``,
      ``MemorySwapMax``: bytes with an optional ``K``, ``M``, ``G`` or ``T``
      suffix, a percentage of the node's memory, or ``infinity``.
    * ``CPUQuota``: a percentage of one CPU (``150%`` = one and a half CPUs).
    * ``CPUWeight``, ``IOWeight``: 1 to 10000.
    * ``TasksMax``: a number, a percentage or ``infinity``.
    * ``AllowedCPUs``, ``StartupAllowedCPUs``: CPU indices and ranges
      (``0-3,6``), to keep a latency-sensitive service (a Raft member) on its
      own CPUs, at all times or while the node starts up. ``StartupAllowedCPUs``
      needs systemd 249 or later (Debian 11 has 247).
    * ``LimitNOFILE``, ``LimitNPROC``: a number or ``infinity``, optionally
      ``soft:hard``.
    * ``LimitCORE``, ``LimitMEMLOCK``, ``LimitSTACK``, ``LimitAS``,
      ``LimitFSIZE``: bytes (suffixes ``K`` to ``E``) or ``infinity``,
      optionally ``soft:hard``.

    Before a deploy changes any node, each node's own systemd checks every
    setting of the units it is about to get (``systemd-analyze verify``): one it
    does not know (it would be ignored) stops the deploy with one line naming
    the node, the unit, the setting and the node's systemd version.
    A service killed for exceeding ``MemoryMax`` shows ``result oom-kill`` in
    ``cluster-deploy status``. The cgroup settings (``Memory*``, ``CPU*``,
    ``IOWeight``, ``TasksMax``) need the node's systemd to control the cgroup
    controllers; the ``Limit*`` settings (rlimits) work everywhere.

  ``BOOTSTRAP``
    The first node of the group bootstraps the service's cluster: ``deploy`` and
    ``cluster-up`` start it there first and wait (at most 30 s) until systemd has
    started it, then start the other nodes, then check health on all of them.
    Templates see ``@bootstrap@`` as ``true`` on that node only.

  ``BUNDLE_LIBS``
    Ship the shared libraries the program loads on the controller (found as
    ``ldd`` finds them, indirect ones included) with it, in the release's
    ``lib/<name>/``, and start the service with ``LD_LIBRARY_PATH`` pointing
    there: for nodes that lack them. glibc's own libraries (``libc``, ``libm``,
    the loader, ...) are not shipped; they must match the node's loader.
    Without it, ``deploy`` checks before changing any node that every node
    has every library, in the versions the program uses, and stops (exit 2)
    naming the node and the library when one does not.

  ``BUNDLE_LIBS ALL``
    Ship the program's whole closure: every shared library it loads, glibc's
    own included (``libc.so.6``, ``libm.so.6``, ``libpthread.so.0``, ...), and
    the dynamic loader its ``PT_INTERP`` names (``ld-linux-x86-64.so.2``),
    and start the service through that loader::

      ExecStart=<current>/lib/<name>/<loader> --library-path <current>/lib/<name> <program> <args>...

    The program then runs on the glibc it was built with, so a program built
    on a newer distribution runs on a node with an older glibc (``deploy``
    neither asks the node for glibc's symbol versions nor for its loader).
    A program without a loader (a script, a statically linked program) ships
    nothing more and starts as it is. What it cannot cover:

    * setuid and file-capability programs: the loader is what is executed,
      so the program's own bits are ignored;
    * libraries the program opens with ``dlopen()`` (``ldd`` does not list
      them) are the node's, and must work with the shipped glibc: a name is
      looked up in the shipped folder first (``--library-path``), then in
      the node's ``/etc/ld.so.cache`` and default folders (a ``DT_RPATH``,
      not ``DT_RUNPATH``, comes before them all); an absolute path is the
      node's file;
    * NSS modules are such libraries: ``files`` and ``dns`` are built into
      ``libc.so.6`` since glibc 2.34, but ``systemd``, ``sss``, ``ldap``, ...
      in ``/etc/nsswitch.conf`` load the node's modules (older ones usually
      work, glibc keeps its old symbol versions); ``iconv`` modules and
      locales are the node's files too;
    * ``/proc/self/exe`` is the loader, so a program that re-executes itself
      through it breaks. The programs it runs use the node's loader and
      libraries: nothing is inherited, unlike ``LD_LIBRARY_PATH``.

.. command:: cluster_deploy_add_test

  Add a test that runs against the deployed cluster::

    cluster_deploy_add_test(<name> COMMAND <command> [<arg>...]
                            [TIMEOUT <seconds>]
                            [WORKING_DIRECTORY <dir>])

  The test requires the fixture ``ClusterDeployed`` (so ``ctest`` deploys
  first and cleans up afterwards), has the label ``cluster``, the
  ``RESOURCE_LOCK`` ``cluster``, a ``TIMEOUT`` (default 300) and
  ``SKIP_RETURN_CODE`` 77 (exit 77 to report "skipped", e.g. when the
  inventory does not allow faults). Its environment
  holds ``CLUSTER_DEPLOY`` (the helper), ``CLUSTER_DEPLOY_PLAN``,
  ``CLUSTER_DEPLOY_SSH_CONFIG``, ``CLUSTER_DEPLOY_NODES`` (lines
  ``name address group``, written by the helper), ``CLUSTER_DEPLOY_NAME`` and
  ``CLUSTER_DEPLOY_FAULT``, a wrapper script with the plan already set:
  ``"$CLUSTER_DEPLOY_FAULT" partition one --service db --for 60`` injects a
  fault and prints the nodes it hit, ``"$CLUSTER_DEPLOY_FAULT" heal`` undoes
  every fault, ``"$CLUSTER_DEPLOY_FAULT" leader --service db`` prints the
  leader. Faults need ``FAULTS`` (or ``LOCAL_CLUSTER``) on the inventory,
  ``fault corrupt`` ``CORRUPT_FAULTS``.
  Call it after :command:`cluster_deploy_inventory`.

  The test runs through ``cluster-deploy run-test``: its output is passed
  through, it is stopped at its deadline (its ``TIMEOUT`` as the directory
  leaves it, so a later :command:`set_tests_properties` counts; CTest's own
  ``TIMEOUT`` is 60 s more, for what follows), and when it fails or reaches
  the deadline the evidence of its time window is collected from the nodes
  into ``<build>/cluster-deploy/evidence/<name>/<time>/`` (``latest`` points
  to the newest): every node's journal of the services and of our faults,
  ``systemctl status``, the release, ``faults.jsonl``, ``summary.txt`` and a
  self-contained ``timeline.html``. The output ends with
  ``[[ATTACHMENT|<path>]]`` lines that Jenkins, GitLab and Azure DevOps attach
  to the test in ``ctest --output-junit`` reports; ``ATTACHED_FILES_ON_FAIL``
  names ``latest/summary.txt`` and ``latest/timeline.html`` for CDash. The test's client may write
  its operations as JSON lines to ``CLUSTER_DEPLOY_HISTORY`` for the timeline
  (docs/testing.md, "A test's history").

Targets and tests
^^^^^^^^^^^^^^^^^

When an inventory is declared, the end of the top-level configure step creates
these targets (none is part of ``ALL``): ``deploy``, ``cluster-plan`` (a dry
run), ``cluster-up``, ``cluster-down``, ``cluster-status``, ``cluster-logs``, ``cluster-collect``,
``cluster-clean``, ``cluster-rollback`` (every node back to the release before
its current one, with the same batches and gates as ``deploy``) and, for a
``LOCAL_CLUSTER`` inventory, ``local-cluster-up``, ``local-cluster-down`` and
``local-cluster-status`` (the local cluster itself: boot, remove, list its nodes). When a service is
declared and either a test was added with :command:`cluster_deploy_add_test` or
:variable:`BUILD_TESTING` is true, it also adds the fixture tests ``cluster.setup`` and
``cluster.cleanup`` (so a project that turns testing on with :command:`enable_testing`
alone, or with ``include(CTest)``, gets them alike). A cluster test without any
service is an error at configure time: there would be nothing to deploy.
Both undo every fault of ours (``cluster-deploy heal``) before anything else, so
a fault that a failed or interrupted test left behind is healed; the cleanup
first collects the evidence of a test that was killed before it could
(``cluster-deploy collect --pending``). The target ``cluster-collect`` collects
the last 15 minutes by hand (it only reads).
Tests cannot build: build the project before running ``ctest``.

Cache variables
^^^^^^^^^^^^^^^

``CLUSTER_DEPLOY_EXECUTABLE``
  When set, the helper program to use instead of ``ClusterDeploy::cluster-deploy``
  (also where the :command:`find_program` fallback stores what it finds).
``CLUSTER_DEPLOY_SSH_CONFIG``, ``CLUSTER_DEPLOY_HOST_KEY_POLICY``
  When not empty, override the inventory's ``SSH_CONFIG`` / ``HOST_KEY_POLICY``.
``CLUSTER_DEPLOY_LOCAL_CLUSTER_TOOL``
  The ``local-cluster`` script used by ``LOCAL_CLUSTER`` inventories.
``CLUSTER_DEPLOY_KEEP_CLUSTER``
  ``OFF`` by default. When ``ON``, the ``cluster.cleanup`` fixture only heals
  faults: the cluster stays deployed (and the local cluster up) between
  ``ctest`` runs, whatever ``TEARDOWN`` says. For IDEs that run each test as
  its own ``ctest -R <test>``: the next run's ``cluster.setup`` finds
  everything current and changes nothing. Take it down with the
  ``local-cluster-down`` target (or ``cluster-clean``) when done.
``CLUSTER_DEPLOY_EVIDENCE_ALWAYS``
  ``OFF`` by default. When ``ON``, a passing cluster test's evidence is
  collected too (a failed or timed-out one always gets it).
``CLUSTER_DEPLOY_WARM_SESSIONS``
  ``0`` by default. When a number of seconds, the targets and the fixture tests
  run the helper with ``--warm <seconds>``: an agent of this user keeps the SSH
  sessions to the nodes open between runs and exits after that long unused
  (with ``CLUSTER_DEPLOY_KEEP_CLUSTER``, the IDE loop's ``cluster.setup``
  connects to nothing new).
#]=======================================================================]

set(CLUSTER_DEPLOY_SSH_CONFIG "" CACHE FILEPATH
  "ssh_config for cluster-deploy; overrides cluster_deploy_inventory(SSH_CONFIG) when not empty")
set(CLUSTER_DEPLOY_HOST_KEY_POLICY "" CACHE STRING
  "strict or accept-new; overrides cluster_deploy_inventory(HOST_KEY_POLICY) when not empty")
set_property(CACHE CLUSTER_DEPLOY_HOST_KEY_POLICY PROPERTY STRINGS ";strict;accept-new")
option(CLUSTER_DEPLOY_KEEP_CLUSTER
  "ctest leaves the cluster deployed and the local cluster up (cluster.cleanup only heals faults)" OFF)
option(CLUSTER_DEPLOY_EVIDENCE_ALWAYS
  "collect the evidence of passing cluster tests too (failed and timed-out ones always get it)" OFF)
set(CLUSTER_DEPLOY_WARM_SESSIONS "0" CACHE STRING
  "seconds an agent keeps the SSH sessions to the nodes open between runs (0: no agent)")

# ---------------------------------------------------------------------------
# Internal helpers
# ---------------------------------------------------------------------------

function(_cluster_deploy_xml_escape out value)
  string(REPLACE "&" "&amp;" value "${value}")
  string(REPLACE "<" "&lt;" value "${value}")
  string(REPLACE ">" "&gt;" value "${value}")
  string(REPLACE "\"" "&quot;" value "${value}")
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

# The name rules (docs/using.md "Names"; the helper's inventory.hpp applies the same):
# cluster and service names are 1-32 characters of a-z 0-9 -, the first a letter;
# node and group names 1-63 characters of A-Z a-z 0-9 . _ -, the first a letter or digit.
function(_cluster_deploy_check_name function kind name)
  if(kind MATCHES "^(cluster|service)$")
    set(rule "1-32 characters of a-z 0-9 -, the first a letter")
    set(regex "^[a-z][a-z0-9-]*$")
    set(max 32)
  else()
    set(rule "1-63 characters of A-Z a-z 0-9 . _ -, the first a letter or digit")
    set(regex "^[A-Za-z0-9][A-Za-z0-9._-]*$")
    set(max 63)
  endif()
  string(LENGTH "${name}" length)
  if(NOT name MATCHES "${regex}" OR length GREATER max)
    message(FATAL_ERROR "${function}: invalid ${kind} name '${name}': ${rule}${ARGN}")
  endif()
endfunction()

function(_cluster_deploy_check_args function)
  if(DEFINED arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "${function}: unsupported arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(DEFINED arg_KEYWORDS_MISSING_VALUES)
    message(FATAL_ERROR "${function}: keywords given without a value: ${arg_KEYWORDS_MISSING_VALUES}")
  endif()
endfunction()

# Schedule _cluster_deploy_finalize once, at the end of the top-level directory.
function(_cluster_deploy_schedule_finalize)
  get_property(scheduled GLOBAL PROPERTY _CLUSTER_DEPLOY_FINALIZE_SCHEDULED)
  if(NOT scheduled)
    set_property(GLOBAL PROPERTY _CLUSTER_DEPLOY_FINALIZE_SCHEDULED TRUE)
    cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _cluster_deploy_finalize)
  endif()
endfunction()

function(_cluster_deploy_plan_file out)
  get_property(multi GLOBAL PROPERTY GENERATOR_IS_MULTI_CONFIG)
  if(multi)
    set(${out} "${CMAKE_BINARY_DIR}/cluster-deploy/$<CONFIG>/plan.xml" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_BINARY_DIR}/cluster-deploy/plan.xml" PARENT_SCOPE)
  endif()
endfunction()

# The helper as a COMMAND (<out_command>) and as a path genex/string (<out_file>).
function(_cluster_deploy_helper out_command out_file)
  if(NOT CLUSTER_DEPLOY_EXECUTABLE AND NOT TARGET ClusterDeploy::cluster-deploy)
    get_property(bindir GLOBAL PROPERTY _CLUSTER_DEPLOY_INSTALL_BINDIR)
    unset(CLUSTER_DEPLOY_EXECUTABLE CACHE)  # an empty entry would stop find_program
    find_program(CLUSTER_DEPLOY_EXECUTABLE cluster-deploy HINTS ${bindir}
      DOC "cluster-deploy helper to use instead of the ClusterDeploy::cluster-deploy target")
    if(NOT CLUSTER_DEPLOY_EXECUTABLE)
      message(FATAL_ERROR
        "ClusterDeploy: the cluster-deploy helper was not found: there is no "
        "ClusterDeploy::cluster-deploy target (find_package(ClusterDeploy) or "
        "add_subdirectory() of ClusterDeploy provides it) and no cluster-deploy "
        "program on the PATH. Set CLUSTER_DEPLOY_EXECUTABLE to its path.")
    endif()
  endif()
  if(CLUSTER_DEPLOY_EXECUTABLE)
    set(${out_command} "${CLUSTER_DEPLOY_EXECUTABLE}" PARENT_SCOPE)
    set(${out_file} "${CLUSTER_DEPLOY_EXECUTABLE}" PARENT_SCOPE)
  else()
    set(${out_command} ClusterDeploy::cluster-deploy PARENT_SCOPE)
    set(${out_file} "$<TARGET_FILE:ClusterDeploy::cluster-deploy>" PARENT_SCOPE)
  endif()
endfunction()

# The helper's --warm argument from CLUSTER_DEPLOY_WARM_SESSIONS (empty when 0).
function(_cluster_deploy_warm_args out)
  if(NOT CLUSTER_DEPLOY_WARM_SESSIONS MATCHES "^[0-9]+$" OR CLUSTER_DEPLOY_WARM_SESSIONS GREATER 86400)
    message(FATAL_ERROR "CLUSTER_DEPLOY_WARM_SESSIONS is '${CLUSTER_DEPLOY_WARM_SESSIONS}': "
      "give the seconds the SSH sessions stay open unused (0 to 86400; 0: no agent)")
  endif()
  if(CLUSTER_DEPLOY_WARM_SESSIONS GREATER 0)
    set(${out} --warm ${CLUSTER_DEPLOY_WARM_SESSIONS} PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

function(_cluster_deploy_local_cluster_tool out)
  if(NOT CLUSTER_DEPLOY_LOCAL_CLUSTER_TOOL)
    get_property(bindir GLOBAL PROPERTY _CLUSTER_DEPLOY_INSTALL_BINDIR)
    unset(CLUSTER_DEPLOY_LOCAL_CLUSTER_TOOL CACHE)  # an empty entry would stop find_program
    find_program(CLUSTER_DEPLOY_LOCAL_CLUSTER_TOOL local-cluster HINTS ${bindir}
      DOC "local-cluster tool for LOCAL_CLUSTER inventories")
  endif()
  if(NOT CLUSTER_DEPLOY_LOCAL_CLUSTER_TOOL)
    message(FATAL_ERROR
      "cluster_deploy_inventory(LOCAL_CLUSTER): the local-cluster tool was not found; "
      "set CLUSTER_DEPLOY_LOCAL_CLUSTER_TOOL to its path")
  endif()
  set(${out} "${CLUSTER_DEPLOY_LOCAL_CLUSTER_TOOL}" PARENT_SCOPE)
endfunction()

function(_cluster_deploy_effective_ssh_config out)
  if(CLUSTER_DEPLOY_SSH_CONFIG)
    set(${out} "${CLUSTER_DEPLOY_SSH_CONFIG}" PARENT_SCOPE)
  else()
    get_property(value GLOBAL PROPERTY _CLUSTER_DEPLOY_SSH_CONFIG)
    set(${out} "${value}" PARENT_SCOPE)
  endif()
endfunction()

function(_cluster_deploy_effective_host_key_policy out)
  if(CLUSTER_DEPLOY_HOST_KEY_POLICY)
    if(NOT CLUSTER_DEPLOY_HOST_KEY_POLICY MATCHES "^(strict|accept-new)$")
      message(FATAL_ERROR "CLUSTER_DEPLOY_HOST_KEY_POLICY must be strict or accept-new, "
        "not '${CLUSTER_DEPLOY_HOST_KEY_POLICY}'")
    endif()
    set(${out} "${CLUSTER_DEPLOY_HOST_KEY_POLICY}" PARENT_SCOPE)
  else()
    get_property(value GLOBAL PROPERTY _CLUSTER_DEPLOY_HOST_KEY_POLICY)
    set(${out} "${value}" PARENT_SCOPE)
  endif()
endfunction()

function(_cluster_deploy_check_port function port)
  if(NOT port MATCHES "^[0-9]+$" OR port LESS 1 OR port GREATER 65535)
    message(FATAL_ERROR "${function}: HEALTH port '${port}' is not a number from 1 to 65535")
  endif()
endfunction()

# Check one LIMITS entry <Setting=value> of a service: a known setting, a value of its kind.
function(_cluster_deploy_check_limit function service entry)
  set(bytes "[0-9]+[KMGT]?")
  set(percent "[0-9]+(\\.[0-9]+)?%")
  set(rlimit_bytes "([0-9]+[KMGTPE]?|infinity)")
  set(rlimit_count "([0-9]+|infinity)")
  set(_MemoryMin "^(${bytes}|${percent}|infinity)$")
  set(_MemoryLow "${_MemoryMin}")
  set(_MemoryHigh "${_MemoryMin}")
  set(_MemoryMax "${_MemoryMin}")
  set(_MemorySwapMax "${_MemoryMin}")
  set(_CPUQuota "^${percent}$")
  set(_CPUWeight "^[0-9]+$")
  set(_IOWeight "^[0-9]+$")
  set(_TasksMax "^([0-9]+|${percent}|infinity)$")
  set(_LimitNOFILE "^${rlimit_count}(:${rlimit_count})?$")
  set(_LimitNPROC "${_LimitNOFILE}")
  foreach(setting IN ITEMS LimitCORE LimitMEMLOCK LimitSTACK LimitAS LimitFSIZE)
    set(_${setting} "^${rlimit_bytes}(:${rlimit_bytes})?$")
  endforeach()
  set(_AllowedCPUs "^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$")
  set(_StartupAllowedCPUs "${_AllowedCPUs}")
  set(known MemoryMin MemoryLow MemoryHigh MemoryMax MemorySwapMax CPUQuota CPUWeight IOWeight TasksMax
            AllowedCPUs StartupAllowedCPUs
            LimitNOFILE LimitNPROC LimitCORE LimitMEMLOCK LimitSTACK LimitAS LimitFSIZE)
  if(NOT entry MATCHES "^([A-Za-z]+)=(.*)$")
    message(FATAL_ERROR "${function}(${service}): LIMITS entry '${entry}' is not Setting=value")
  endif()
  set(setting "${CMAKE_MATCH_1}")
  set(value "${CMAKE_MATCH_2}")
  if(NOT setting IN_LIST known)
    list(JOIN known ", " known_text)
    message(FATAL_ERROR "${function}(${service}): LIMITS setting '${setting}' is not one of ${known_text}")
  endif()
  if(NOT value MATCHES "${_${setting}}")
    message(FATAL_ERROR "${function}(${service}): LIMITS ${setting}=${value}: not a valid value for ${setting}")
  endif()
  if(setting MATCHES "^(CPUWeight|IOWeight)$" AND (value LESS 1 OR value GREATER 10000))
    message(FATAL_ERROR "${function}(${service}): LIMITS ${setting}=${value}: must be 1 to 10000")
  endif()
endfunction()

function(_cluster_deploy_check_health function service)
  set(health ${ARGN})
  list(LENGTH health count)
  list(GET health 0 kind)
  set(usage "expected HEALTH tcp <port>, HEALTH http <port> <path> or HEALTH exec <command>")
  if(kind STREQUAL "tcp" AND count EQUAL 2)
    list(GET health 1 port)
    _cluster_deploy_check_port(${function} "${port}")
  elseif(kind STREQUAL "http" AND count EQUAL 3)
    list(GET health 1 port)
    list(GET health 2 path)
    _cluster_deploy_check_port(${function} "${port}")
    if(NOT path MATCHES "^/")
      message(FATAL_ERROR "${function}(${service}): HEALTH http path '${path}' must start with /")
    endif()
  elseif(kind STREQUAL "exec" AND count EQUAL 2)
    list(GET health 1 command)
    if(command STREQUAL "")
      message(FATAL_ERROR "${function}(${service}): HEALTH exec needs a non-empty command")
    endif()
  else()
    list(JOIN health " " given)
    message(FATAL_ERROR "${function}(${service}): bad HEALTH '${given}': ${usage}")
  endif()
endfunction()

# Check a TARGET / PROGRAM_TARGET value; <require_imported> for PROGRAM_TARGET.
function(_cluster_deploy_check_program_target function service keyword target)
  if(NOT TARGET "${target}")
    message(FATAL_ERROR "${function}(${service}): ${keyword} '${target}' is not a target")
  endif()
  get_target_property(type "${target}" TYPE)
  if(NOT type STREQUAL "EXECUTABLE")
    message(FATAL_ERROR
      "${function}(${service}): ${keyword} '${target}' is not an executable target (TYPE ${type})")
  endif()
  get_target_property(imported "${target}" IMPORTED)
  if(keyword STREQUAL "PROGRAM_TARGET" AND NOT imported)
    message(FATAL_ERROR "${function}(${service}): PROGRAM_TARGET '${target}' is not an imported "
      "target; use TARGET for executables built by this project")
  endif()
endfunction()

# ---------------------------------------------------------------------------
# Public commands
# ---------------------------------------------------------------------------

# Sets <out> to the inventory's groups, sorted and checked: the <group>.txt files of the folder
# <dir>. An Ansible inventory file <dir> (not for the local cluster) gives no groups here: the
# helper is its one reader, and checks its groups and names before any target touches a node.
function(_cluster_deploy_inventory_groups fn dir local_cluster out)
  if(EXISTS "${dir}" AND NOT IS_DIRECTORY "${dir}")
    if(local_cluster)
      message(FATAL_ERROR "${fn}: LOCAL_CLUSTER needs an inventory directory of <group>.txt files, "
        "not the Ansible inventory '${dir}'")
    endif()
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${dir}")
    set(${out} "" PARENT_SCOPE)
    return()
  elseif(NOT IS_DIRECTORY "${dir}")
    message(FATAL_ERROR "${fn}: inventory directory '${dir}' does not exist")
  else()
    file(GLOB group_files CONFIGURE_DEPENDS "${dir}/*.txt")
    if(NOT group_files)
      message(FATAL_ERROR "${fn}: inventory directory '${dir}' holds no <group>.txt file")
    endif()
    set(groups "")
    foreach(file IN LISTS group_files)
      get_filename_component(group "${file}" NAME_WLE)
      list(APPEND groups "${group}")
    endforeach()
  endif()
  list(SORT groups)
  foreach(group IN LISTS groups)
    _cluster_deploy_check_name(${fn} group "${group}" " (in the inventory '${dir}')")
  endforeach()
  set(${out} "${groups}" PARENT_SCOPE)
endfunction()

# The cluster name becomes a system user and /opt/<name>, /var/lib/<name>: never one of the
# accounts or folders a Debian system (or a common service) already has. The nodes check
# the rest: what exists there without cluster-deploy's mark is refused.
function(_cluster_deploy_check_cluster_name fn cluster)
  _cluster_deploy_check_name(${fn} cluster "${cluster}")
  set(reserved root daemon bin sys sync games man lp mail news uucp proxy www-data backup list irc
    gnats nobody systemd _apt apt dpkg messagebus sshd polkitd postgres postgresql mysql mariadb
    redis etcd consul zookeeper kafka nginx apache2 docker containerd ssl-cert lib local share
    log cache spool tmp opt var usr etc home srv snap)
  if(cluster IN_LIST reserved OR cluster MATCHES "^systemd-")
    message(FATAL_ERROR "${fn}: the cluster name '${cluster}' is a system account or folder name "
      "(it would become the service user and /opt/${cluster}, /var/lib/${cluster}); "
      "pass another CLUSTER <name>")
  endif()
endfunction()

function(cluster_deploy_inventory dir)
  set(fn cluster_deploy_inventory)
  cmake_parse_arguments(PARSE_ARGV 1 arg "LOCAL_CLUSTER;FAULTS;CORRUPT_FAULTS"
    "CLUSTER;SSH_CONFIG;KNOWN_HOSTS;HOST_KEY_POLICY;PARALLEL;FAN_OUT;TEARDOWN" "")
  _cluster_deploy_check_args(${fn})

  get_property(previous GLOBAL PROPERTY _CLUSTER_DEPLOY_INVENTORY)
  if(previous)
    message(FATAL_ERROR "${fn}: called twice; the project already deploys to the inventory "
      "'${previous}' (one inventory per project)")
  endif()

  get_filename_component(dir "${dir}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  _cluster_deploy_inventory_groups(${fn} "${dir}" "${arg_LOCAL_CLUSTER}" groups)
  if(NOT DEFINED arg_CLUSTER)
    string(TOLOWER "${PROJECT_NAME}" arg_CLUSTER)
    _cluster_deploy_check_name(${fn} cluster "${arg_CLUSTER}"
      " (the lower-cased PROJECT_NAME); pass CLUSTER <name>")
  endif()
  _cluster_deploy_check_cluster_name(${fn} "${arg_CLUSTER}")

  if(NOT DEFINED arg_HOST_KEY_POLICY)
    set(arg_HOST_KEY_POLICY strict)
  elseif(NOT arg_HOST_KEY_POLICY MATCHES "^(strict|accept-new)$")
    message(FATAL_ERROR "${fn}: HOST_KEY_POLICY must be strict or accept-new, not '${arg_HOST_KEY_POLICY}'")
  endif()

  if(NOT DEFINED arg_TEARDOWN)
    if(arg_LOCAL_CLUSTER)
      set(arg_TEARDOWN clean)
    else()
      set(arg_TEARDOWN none)   # a real cluster is never stopped unless the project asks for it
    endif()
  elseif(NOT arg_TEARDOWN MATCHES "^(none|down|clean)$")
    message(FATAL_ERROR "${fn}: TEARDOWN must be none, down or clean, not '${arg_TEARDOWN}'")
  endif()

  if(NOT DEFINED arg_PARALLEL)
    set(arg_PARALLEL 64)
  elseif(NOT arg_PARALLEL MATCHES "^[1-9][0-9]*$")
    message(FATAL_ERROR "${fn}: PARALLEL must be a positive integer, not '${arg_PARALLEL}'")
  endif()

  if(NOT DEFINED arg_FAN_OUT AND arg_LOCAL_CLUSTER)
    set(arg_FAN_OUT off) # its nodes share this machine: no uplink to save
  elseif(NOT DEFINED arg_FAN_OUT)
    set(arg_FAN_OUT auto)
  elseif(NOT arg_FAN_OUT MATCHES "^(auto|on|off)$")
    message(FATAL_ERROR "${fn}: FAN_OUT must be auto, on or off, not '${arg_FAN_OUT}'")
  endif()

  if(DEFINED arg_SSH_CONFIG)
    get_filename_component(arg_SSH_CONFIG "${arg_SSH_CONFIG}" ABSOLUTE
      BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  elseif(arg_LOCAL_CLUSTER)
    set(arg_SSH_CONFIG "${CMAKE_BINARY_DIR}/local-cluster/ssh_config")
  else()
    set(arg_SSH_CONFIG "")
  endif()
  if(DEFINED arg_KNOWN_HOSTS)
    get_filename_component(arg_KNOWN_HOSTS "${arg_KNOWN_HOSTS}" ABSOLUTE
      BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  else()
    set(arg_KNOWN_HOSTS "")
  endif()

  set_property(GLOBAL PROPERTY _CLUSTER_DEPLOY_INVENTORY "${dir}")
  set_property(GLOBAL PROPERTY _CLUSTER_DEPLOY_GROUPS "${groups}")
  set_property(GLOBAL PROPERTY _CLUSTER_DEPLOY_CLUSTER "${arg_CLUSTER}")
  set_property(GLOBAL PROPERTY _CLUSTER_DEPLOY_SSH_CONFIG "${arg_SSH_CONFIG}")
  set_property(GLOBAL PROPERTY _CLUSTER_DEPLOY_KNOWN_HOSTS "${arg_KNOWN_HOSTS}")
  set_property(GLOBAL PROPERTY _CLUSTER_DEPLOY_HOST_KEY_POLICY "${arg_HOST_KEY_POLICY}")
  set_property(GLOBAL PROPERTY _CLUSTER_DEPLOY_PARALLEL "${arg_PARALLEL}")
  set_property(GLOBAL PROPERTY _CLUSTER_DEPLOY_FAN_OUT "${arg_FAN_OUT}")
  set_property(GLOBAL PROPERTY _CLUSTER_DEPLOY_LOCAL_CLUSTER "${arg_LOCAL_CLUSTER}")
  set_property(GLOBAL PROPERTY _CLUSTER_DEPLOY_TEARDOWN "${arg_TEARDOWN}")
  if(arg_CORRUPT_FAULTS OR arg_LOCAL_CLUSTER)
    set_property(GLOBAL PROPERTY _CLUSTER_DEPLOY_FAULTS corrupt)
  elseif(arg_FAULTS)
    set_property(GLOBAL PROPERTY _CLUSTER_DEPLOY_FAULTS allowed)
  endif()
  _cluster_deploy_schedule_finalize()
endfunction()

# The helpers of cluster_deploy_service below read the arg_* variables its cmake_parse_arguments
# set (a function sees its caller's variables) and return through variables of the caller.

# Exactly one of TARGET, PROGRAM_TARGET and PROGRAM, and a GROUP; sets _cd_program to PROGRAM
# made absolute (empty without PROGRAM).
function(_cluster_deploy_check_service_program fn name)
  set(kinds "")
  foreach(keyword IN ITEMS TARGET PROGRAM_TARGET PROGRAM)
    if(DEFINED arg_${keyword})
      list(APPEND kinds ${keyword})
    endif()
  endforeach()
  list(LENGTH kinds kind_count)
  if(NOT kind_count EQUAL 1)
    message(FATAL_ERROR "${fn}(${name}): give exactly one of TARGET, PROGRAM_TARGET or PROGRAM "
      "(got ${kind_count}: ${kinds})")
  endif()
  if(NOT DEFINED arg_GROUP)
    message(FATAL_ERROR "${fn}(${name}): GROUP <group> is required")
  endif()
  if(DEFINED arg_TARGET AND TARGET "${arg_TARGET}")
    _cluster_deploy_check_program_target(${fn} ${name} TARGET "${arg_TARGET}")
  elseif(DEFINED arg_PROGRAM_TARGET)
    _cluster_deploy_check_program_target(${fn} ${name} PROGRAM_TARGET "${arg_PROGRAM_TARGET}")
  elseif(DEFINED arg_PROGRAM)
    get_filename_component(arg_PROGRAM "${arg_PROGRAM}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  endif()

  set(_cd_program "${arg_PROGRAM}" PARENT_SCOPE)
endfunction()

# Sets <out> to the CONFIG templates, made absolute: each exists, no two install the same file.
function(_cluster_deploy_service_configs fn name out)
  set(configs "")
  set(config_names "")
  foreach(template IN LISTS arg_CONFIG)
    get_filename_component(template "${template}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    if(NOT EXISTS "${template}" OR IS_DIRECTORY "${template}")
      message(FATAL_ERROR "${fn}(${name}): CONFIG template '${template}' does not exist")
    endif()
    get_filename_component(file_name "${template}" NAME)
    string(REGEX REPLACE "\\.in$" "" file_name "${file_name}")
    if(file_name IN_LIST config_names)
      message(FATAL_ERROR "${fn}(${name}): two CONFIG templates install the same file '${file_name}'")
    endif()
    list(APPEND config_names "${file_name}")
    list(APPEND configs "${template}")
  endforeach()

  set(${out} "${configs}" PARENT_SCOPE)
endfunction()

# ENV, HEALTH, LEADER, QUORUM, SERIAL, CANARY, MAX_FAIL, SETTLE, LIMITS and AFTER are well formed;
# sets _cd_leader, _cd_quorum, _cd_members, _cd_join, _cd_leave and _cd_transfer to the commands of their exec.
function(_cluster_deploy_check_service_rollout fn name)
  foreach(entry IN LISTS arg_ENV)
    if(NOT entry MATCHES "^[A-Za-z_][A-Za-z0-9_]*=")
      message(FATAL_ERROR "${fn}(${name}): ENV entry '${entry}' is not NAME=value")
    endif()
  endforeach()

  if(DEFINED arg_HEALTH)
    _cluster_deploy_check_health(${fn} ${name} ${arg_HEALTH})
  endif()

  foreach(keyword IN ITEMS LEADER QUORUM MEMBERS JOIN LEAVE TRANSFER)
    if(DEFINED arg_${keyword})
      list(LENGTH arg_${keyword} count)
      list(GET arg_${keyword} 0 kind)
      if(NOT kind STREQUAL "exec" OR NOT count EQUAL 2)
        list(JOIN arg_${keyword} " " given)
        message(FATAL_ERROR "${fn}(${name}): bad ${keyword} '${given}': expected ${keyword} exec <command>")
      endif()
      list(GET arg_${keyword} 1 command)
      if(command STREQUAL "")
        message(FATAL_ERROR "${fn}(${name}): ${keyword} exec needs a non-empty command")
      endif()
      set(arg_${keyword} "${command}")
    endif()
  endforeach()

  foreach(keyword IN ITEMS JOIN LEAVE)
    if(DEFINED arg_${keyword} AND NOT DEFINED arg_MEMBERS)
      message(FATAL_ERROR "${fn}(${name}): ${keyword} needs MEMBERS: the group's own list of members is how "
        "a deploy knows who joins and who leaves")
    endif()
  endforeach()
  if(DEFINED arg_TRANSFER AND NOT (DEFINED arg_LEAVE AND DEFINED arg_LEADER))
    message(FATAL_ERROR "${fn}(${name}): TRANSFER needs LEAVE and LEADER: it moves leadership away from "
      "a leader that is about to leave")
  endif()
  if(DEFINED arg_MEMBERS AND NOT DEFINED arg_QUORUM)
    message(FATAL_ERROR "${fn}(${name}): MEMBERS needs QUORUM: a member that joins must be caught up "
      "before the next one")
  endif()

  if(DEFINED arg_SERIAL AND NOT arg_SERIAL MATCHES "^([1-9][0-9]*|([1-9][0-9]?|100)%)$")
    message(FATAL_ERROR "${fn}(${name}): SERIAL must be a positive number of nodes or a percentage "
      "(1% to 100%), not '${arg_SERIAL}'")
  endif()
  if(DEFINED arg_CANARY AND NOT arg_CANARY MATCHES "^[1-9][0-9]*$")
    message(FATAL_ERROR "${fn}(${name}): CANARY must be a positive number of nodes, not '${arg_CANARY}'")
  endif()
  if(DEFINED arg_MAX_FAIL AND NOT arg_MAX_FAIL MATCHES "^([0-9]+|([0-9][0-9]?|100)%)$")
    message(FATAL_ERROR "${fn}(${name}): MAX_FAIL must be a number of nodes or a percentage, not '${arg_MAX_FAIL}'")
  endif()
  if(DEFINED arg_SETTLE AND NOT (arg_SETTLE MATCHES "^[0-9]+$" AND arg_SETTLE LESS_EQUAL 600))
    message(FATAL_ERROR "${fn}(${name}): SETTLE must be a number of seconds from 0 to 600, not '${arg_SETTLE}'")
  endif()

  set(limit_names "")
  foreach(entry IN LISTS arg_LIMITS)
    _cluster_deploy_check_limit(${fn} ${name} "${entry}")
    string(REGEX REPLACE "=.*" "" limit_name "${entry}")
    if(limit_name IN_LIST limit_names)
      message(FATAL_ERROR "${fn}(${name}): LIMITS sets ${limit_name} twice")
    endif()
    list(APPEND limit_names ${limit_name})
  endforeach()

  foreach(after IN LISTS arg_AFTER)
    if(after STREQUAL name)
      message(FATAL_ERROR "${fn}(${name}): a service cannot start AFTER itself")
    endif()
  endforeach()

  foreach(keyword IN ITEMS LEADER QUORUM MEMBERS JOIN LEAVE TRANSFER)
    string(TOLOWER "_cd_${keyword}" checked)
    set(${checked} "${arg_${keyword}}" PARENT_SCOPE)
  endforeach()
endfunction()

# Records the checked service in global properties, for the plan written at the end.
function(_cluster_deploy_store_service name configs bundle_libs)
  set(prefix _CLUSTER_DEPLOY_SERVICE_${name})
  foreach(keyword IN ITEMS TARGET PROGRAM_TARGET PROGRAM)
    if(DEFINED arg_${keyword})
      set_property(GLOBAL PROPERTY ${prefix}_KIND ${keyword})
      set_property(GLOBAL PROPERTY ${prefix}_PROGRAM "${arg_${keyword}}")
    endif()
  endforeach()
  set_property(GLOBAL PROPERTY ${prefix}_GROUP "${arg_GROUP}")
  set_property(GLOBAL PROPERTY ${prefix}_ARGS "${arg_ARGS}")
  set_property(GLOBAL PROPERTY ${prefix}_CONFIG "${configs}")
  set_property(GLOBAL PROPERTY ${prefix}_ENV "${arg_ENV}")
  set_property(GLOBAL PROPERTY ${prefix}_HEALTH "${arg_HEALTH}")
  set_property(GLOBAL PROPERTY ${prefix}_AFTER "${arg_AFTER}")
  set_property(GLOBAL PROPERTY ${prefix}_BOOTSTRAP "${arg_BOOTSTRAP}")
  set_property(GLOBAL PROPERTY ${prefix}_BUNDLE_LIBS "${bundle_libs}")
  set_property(GLOBAL PROPERTY ${prefix}_SERIAL "${arg_SERIAL}")
  set_property(GLOBAL PROPERTY ${prefix}_LEADER "${arg_LEADER}")
  set_property(GLOBAL PROPERTY ${prefix}_QUORUM "${arg_QUORUM}")
  set_property(GLOBAL PROPERTY ${prefix}_MEMBERS "${arg_MEMBERS}")
  set_property(GLOBAL PROPERTY ${prefix}_JOIN "${arg_JOIN}")
  set_property(GLOBAL PROPERTY ${prefix}_LEAVE "${arg_LEAVE}")
  set_property(GLOBAL PROPERTY ${prefix}_TRANSFER "${arg_TRANSFER}")
  set_property(GLOBAL PROPERTY ${prefix}_CANARY "${arg_CANARY}")
  set_property(GLOBAL PROPERTY ${prefix}_MAX_FAIL "${arg_MAX_FAIL}")
  set_property(GLOBAL PROPERTY ${prefix}_SETTLE "${arg_SETTLE}")
  set_property(GLOBAL PROPERTY ${prefix}_LIMITS "${arg_LIMITS}")
  set_property(GLOBAL APPEND PROPERTY _CLUSTER_DEPLOY_SERVICES "${name}")
endfunction()

function(cluster_deploy_service name)
  set(fn cluster_deploy_service)
  # BUNDLE_LIBS is a flag with an optional value (ALL): parsed as a list that may be empty.
  cmake_parse_arguments(PARSE_ARGV 1 arg "BOOTSTRAP"
    "TARGET;PROGRAM_TARGET;PROGRAM;GROUP;SERIAL;CANARY;MAX_FAIL;SETTLE"
    "ARGS;CONFIG;ENV;HEALTH;AFTER;LEADER;QUORUM;MEMBERS;JOIN;LEAVE;TRANSFER;LIMITS;BUNDLE_LIBS")
  set(bundle_libs "")
  if("BUNDLE_LIBS" IN_LIST arg_KEYWORDS_MISSING_VALUES)
    list(REMOVE_ITEM arg_KEYWORDS_MISSING_VALUES BUNDLE_LIBS)
    if(NOT arg_KEYWORDS_MISSING_VALUES)
      unset(arg_KEYWORDS_MISSING_VALUES)
    endif()
    set(bundle_libs true)
  endif()
  if(DEFINED arg_BUNDLE_LIBS)
    if(NOT arg_BUNDLE_LIBS STREQUAL "ALL")
      message(FATAL_ERROR "${fn}(${name}): BUNDLE_LIBS takes no value or ALL, not '${arg_BUNDLE_LIBS}'")
    endif()
    set(bundle_libs all)
  endif()
  _cluster_deploy_check_args(${fn})
  _cluster_deploy_check_name(${fn} service "${name}")

  get_property(services GLOBAL PROPERTY _CLUSTER_DEPLOY_SERVICES)
  if(name IN_LIST services)
    message(FATAL_ERROR "${fn}: service '${name}' is already declared")
  endif()

  _cluster_deploy_check_service_program(${fn} ${name})
  _cluster_deploy_service_configs(${fn} ${name} configs)
  _cluster_deploy_check_service_rollout(${fn} ${name})
  foreach(keyword IN ITEMS PROGRAM LEADER QUORUM MEMBERS JOIN LEAVE TRANSFER) # as the checks left them, where given
    if(DEFINED arg_${keyword})
      string(TOLOWER "_cd_${keyword}" checked)
      set(arg_${keyword} "${${checked}}")
    endif()
  endforeach()
  _cluster_deploy_store_service(${name} "${configs}" "${bundle_libs}")
  _cluster_deploy_schedule_finalize()
endfunction()

function(cluster_deploy_add_test name)
  set(fn cluster_deploy_add_test)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "TIMEOUT;WORKING_DIRECTORY" "COMMAND")
  _cluster_deploy_check_args(${fn})
  if(NOT DEFINED arg_COMMAND)
    message(FATAL_ERROR "${fn}(${name}): COMMAND <command> is required")
  endif()
  if(NOT DEFINED arg_TIMEOUT)
    set(arg_TIMEOUT 300)
  elseif(NOT arg_TIMEOUT MATCHES "^[1-9][0-9]*$")
    message(FATAL_ERROR "${fn}(${name}): TIMEOUT must be a positive number of seconds, not '${arg_TIMEOUT}'")
  endif()
  get_property(inventory GLOBAL PROPERTY _CLUSTER_DEPLOY_INVENTORY)
  if(NOT inventory)
    message(FATAL_ERROR "${fn}(${name}): call cluster_deploy_inventory() first")
  endif()

  set(working_directory "")
  if(DEFINED arg_WORKING_DIRECTORY)
    set(working_directory WORKING_DIRECTORY "${arg_WORKING_DIRECTORY}")
  endif()
  _cluster_deploy_helper(helper_command helper_file)
  _cluster_deploy_plan_file(plan)
  # The test runs through `cluster-deploy run-test`, which collects its evidence when it fails
  # or reaches its deadline. add_test would replace a first word naming an executable target
  # by its file only in first position: do it here.
  list(POP_FRONT arg_COMMAND first)
  if(first MATCHES "^[A-Za-z0-9_.+-]+(::[A-Za-z0-9_.+-]+)*$") # could name a target (a path cannot)
    set(first "$<$<TARGET_EXISTS:${first}>:$<TARGET_FILE:${first}>>$<$<NOT:$<TARGET_EXISTS:${first}>>:${first}>")
  endif()
  set(always "")
  if(CLUSTER_DEPLOY_EVIDENCE_ALWAYS)
    set(always --always)
  endif()
  add_test(NAME "${name}"
    COMMAND "${helper_file}" run-test --plan "${plan}" --name "${name}" ${always} -- "${first}" ${arg_COMMAND}
    ${working_directory})
  set(fault_wrapper "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/ClusterDeploy/cluster-fault")
  _cluster_deploy_effective_ssh_config(ssh_config)
  get_property(cluster GLOBAL PROPERTY _CLUSTER_DEPLOY_CLUSTER)
  get_property(teardown GLOBAL PROPERTY _CLUSTER_DEPLOY_TEARDOWN)
  set_tests_properties("${name}" PROPERTIES
    FIXTURES_REQUIRED ClusterDeployed
    LABELS cluster
    RESOURCE_LOCK cluster
    SKIP_RETURN_CODE 77
    TIMEOUT ${arg_TIMEOUT}
    ENVIRONMENT "CLUSTER_DEPLOY=${helper_file};CLUSTER_DEPLOY_PLAN=${plan};CLUSTER_DEPLOY_SSH_CONFIG=${ssh_config};CLUSTER_DEPLOY_NODES=${CMAKE_BINARY_DIR}/cluster-deploy/nodes.txt;CLUSTER_DEPLOY_NAME=${cluster};CLUSTER_DEPLOY_FAULT=${fault_wrapper};CLUSTER_DEPLOY_TEARDOWN=${teardown}")
  # The test's deadline is its TIMEOUT as the directory leaves it (set_tests_properties may
  # change it after this call); CTest's own TIMEOUT gets a minute more, for the collection.
  cmake_language(EVAL CODE "cmake_language(DEFER CALL _cluster_deploy_test_deadline [[${name}]])")
  # The fixture tests follow the cluster tests, not BUILD_TESTING: a project that turns
  # testing on with enable_testing() alone has no BUILD_TESTING.
  set_property(GLOBAL APPEND PROPERTY _CLUSTER_DEPLOY_TESTS "${name}")
  _cluster_deploy_schedule_finalize()
endfunction()

# Run at the end of the directory that added test <name> (cluster_deploy_add_test).
function(_cluster_deploy_test_deadline name)
  get_test_property("${name}" TIMEOUT timeout)
  math(EXPR ctest_timeout "${timeout} + 60")
  set_property(TEST "${name}" APPEND PROPERTY ENVIRONMENT "CLUSTER_DEPLOY_TEST_DEADLINE=${timeout}")
  # For CDash: the newest evidence of this test (run-test points `latest` at it before CTest reads these).
  _cluster_deploy_plan_file(plan)
  get_filename_component(evidence "${plan}" DIRECTORY)
  set(latest "${evidence}/evidence/${name}/latest")
  set_tests_properties("${name}" PROPERTIES TIMEOUT ${ctest_timeout}
    ATTACHED_FILES_ON_FAIL "${latest}/summary.txt;${latest}/timeline.html")
endfunction()

# ---------------------------------------------------------------------------
# Finalize: validate, write the plan, create targets and fixture tests
# ---------------------------------------------------------------------------

# Append one service's <service> element to the variable <out>.
function(_cluster_deploy_service_xml out name)
  set(prefix _CLUSTER_DEPLOY_SERVICE_${name})
  foreach(field IN ITEMS KIND PROGRAM GROUP ARGS CONFIG ENV HEALTH AFTER BOOTSTRAP BUNDLE_LIBS SERIAL LEADER QUORUM
                         MEMBERS JOIN LEAVE TRANSFER CANARY MAX_FAIL SETTLE LIMITS)
    get_property(${field} GLOBAL PROPERTY ${prefix}_${field})
  endforeach()
  set(service_xml "")
  if(BOOTSTRAP)
    set(bootstrap true)
  else()
    set(bootstrap false)
  endif()
  _cluster_deploy_xml_escape(group "${GROUP}")
  set(serial "")
  if(SERIAL)
    set(serial " serial=\"${SERIAL}\"")
  endif()
  if(CANARY)
    string(APPEND serial " canary=\"${CANARY}\"")
  endif()
  if(NOT MAX_FAIL STREQUAL "")
    string(APPEND serial " max-fail=\"${MAX_FAIL}\"")
  endif()
  if(NOT SETTLE STREQUAL "")
    string(APPEND serial " settle=\"${SETTLE}\"")
  endif()
  if(BUNDLE_LIBS)
    string(APPEND serial " bundle-libs=\"${BUNDLE_LIBS}\"")
  endif()
  string(APPEND service_xml "  <service name=\"${name}\" group=\"${group}\" bootstrap=\"${bootstrap}\"${serial}>\n")
  if(KIND STREQUAL "PROGRAM")
    _cluster_deploy_xml_escape(program "${PROGRAM}")
  else()
    set(program "$<TARGET_FILE:${PROGRAM}>")
  endif()
  string(APPEND service_xml "    <program>${program}</program>\n")
  foreach(value IN LISTS ARGS)
    _cluster_deploy_xml_escape(value "${value}")
    string(APPEND service_xml "    <arg>${value}</arg>\n")
  endforeach()
  foreach(template IN LISTS CONFIG)
    get_filename_component(file_name "${template}" NAME)
    string(REGEX REPLACE "\\.in$" "" file_name "${file_name}")
    _cluster_deploy_xml_escape(template "${template}")
    _cluster_deploy_xml_escape(file_name "${file_name}")
    string(APPEND service_xml "    <config template=\"${template}\" name=\"${file_name}\"/>\n")
  endforeach()
  foreach(entry IN LISTS ENV)
    string(FIND "${entry}" "=" eq)
    string(SUBSTRING "${entry}" 0 ${eq} env_name)
    math(EXPR eq "${eq} + 1")
    string(SUBSTRING "${entry}" ${eq} -1 env_value)
    _cluster_deploy_xml_escape(env_value "${env_value}")
    string(APPEND service_xml "    <env name=\"${env_name}\" value=\"${env_value}\"/>\n")
  endforeach()
  if(HEALTH)
    list(GET HEALTH 0 kind)
    list(GET HEALTH 1 value)
    _cluster_deploy_xml_escape(value "${value}")
    if(kind STREQUAL "exec")
      string(APPEND service_xml "    <health kind=\"exec\" command=\"${value}\"/>\n")
    elseif(kind STREQUAL "tcp")
      string(APPEND service_xml "    <health kind=\"tcp\" port=\"${value}\"/>\n")
    else()
      list(GET HEALTH 2 path)
      _cluster_deploy_xml_escape(path "${path}")
      string(APPEND service_xml "    <health kind=\"http\" port=\"${value}\" path=\"${path}\"/>\n")
    endif()
  endif()
  foreach(gate IN ITEMS QUORUM LEADER MEMBERS JOIN LEAVE TRANSFER)
    if(NOT "${${gate}}" STREQUAL "")
      _cluster_deploy_xml_escape(command "${${gate}}")
      string(TOLOWER ${gate} element)
      string(APPEND service_xml "    <${element} command=\"${command}\"/>\n")
    endif()
  endforeach()
  foreach(entry IN LISTS LIMITS)
    string(REGEX REPLACE "=.*" "" limit_name "${entry}")
    string(REGEX REPLACE "^[^=]*=" "" limit_value "${entry}")
    string(APPEND service_xml "    <limit name=\"${limit_name}\" value=\"${limit_value}\"/>\n")
  endforeach()
  foreach(after IN LISTS AFTER)
    string(APPEND service_xml "    <after>${after}</after>\n")
  endforeach()
  string(APPEND service_xml "  </service>\n")
  set(${out} "${${out}}${service_xml}" PARENT_SCOPE)
endfunction()

function(_cluster_deploy_validate_services)
  get_property(services GLOBAL PROPERTY _CLUSTER_DEPLOY_SERVICES)
  get_property(groups GLOBAL PROPERTY _CLUSTER_DEPLOY_GROUPS)
  get_property(inventory GLOBAL PROPERTY _CLUSTER_DEPLOY_INVENTORY)
  foreach(name IN LISTS services)
    set(prefix _CLUSTER_DEPLOY_SERVICE_${name})
    get_property(kind GLOBAL PROPERTY ${prefix}_KIND)
    get_property(program GLOBAL PROPERTY ${prefix}_PROGRAM)
    get_property(group GLOBAL PROPERTY ${prefix}_GROUP)
    get_property(after GLOBAL PROPERTY ${prefix}_AFTER)
    if(IS_DIRECTORY "${inventory}" AND NOT group IN_LIST groups)
      string(REPLACE ";" ", " known "${groups}")
      message(FATAL_ERROR "cluster_deploy_service(${name}): GROUP '${group}' is not in the "
        "inventory '${inventory}' (no ${group}.txt; groups: ${known})")
    endif()
    if(kind STREQUAL "TARGET")
      _cluster_deploy_check_program_target(cluster_deploy_service ${name} TARGET "${program}")
    endif()
    foreach(other IN LISTS after)
      if(NOT other IN_LIST services)
        message(FATAL_ERROR "cluster_deploy_service(${name}): AFTER names the unknown service "
          "'${other}' (service '${name}' would start after '${other}', which is not declared)")
      endif()
    endforeach()
  endforeach()
endfunction()

# FATAL_ERROR if the AFTER relations form a cycle (repeatedly drop the services whose
# AFTER services are all dropped; whatever is left is on or behind a cycle).
function(_cluster_deploy_check_after_cycles)
  get_property(left GLOBAL PROPERTY _CLUSTER_DEPLOY_SERVICES)
  set(done "")
  set(progress TRUE)
  while(left AND progress)
    set(progress FALSE)
    foreach(name IN LISTS left)
      get_property(after GLOBAL PROPERTY _CLUSTER_DEPLOY_SERVICE_${name}_AFTER)
      list(REMOVE_ITEM after ${done})
      if(NOT after)
        list(APPEND done ${name})
        list(REMOVE_ITEM left ${name})
        set(progress TRUE)
      endif()
    endforeach()
  endwhile()
  if(left)
    list(JOIN left ", " names)
    message(FATAL_ERROR "cluster_deploy_service: the AFTER relations of these services form a "
      "cycle (or wait for one): ${names}")
  endif()
endfunction()

function(_cluster_deploy_write_plan plan)
  get_property(inventory GLOBAL PROPERTY _CLUSTER_DEPLOY_INVENTORY)
  get_property(cluster GLOBAL PROPERTY _CLUSTER_DEPLOY_CLUSTER)
  get_property(known_hosts GLOBAL PROPERTY _CLUSTER_DEPLOY_KNOWN_HOSTS)
  get_property(parallel GLOBAL PROPERTY _CLUSTER_DEPLOY_PARALLEL)
  get_property(fan_out GLOBAL PROPERTY _CLUSTER_DEPLOY_FAN_OUT)
  get_property(services GLOBAL PROPERTY _CLUSTER_DEPLOY_SERVICES)
  get_property(faults GLOBAL PROPERTY _CLUSTER_DEPLOY_FAULTS)
  _cluster_deploy_effective_ssh_config(ssh_config)
  _cluster_deploy_effective_host_key_policy(policy)
  foreach(var IN ITEMS inventory ssh_config known_hosts)
    _cluster_deploy_xml_escape(${var} "${${var}}")
  endforeach()
  _cluster_deploy_xml_escape(output "${CMAKE_BINARY_DIR}/cluster-deploy")

  set(xml "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
  set(faults_attribute "")
  if(faults)
    set(faults_attribute " faults=\"${faults}\"")
  endif()
  string(APPEND xml "<plan version=\"1\" cluster=\"${cluster}\" inventory=\"${inventory}\" output=\"${output}\"${faults_attribute}>\n")
  string(APPEND xml "  <ssh config=\"${ssh_config}\" known-hosts=\"${known_hosts}\" host-key-policy=\"${policy}\" parallel=\"${parallel}\" fan-out=\"${fan_out}\"/>\n")
  foreach(name IN LISTS services)
    _cluster_deploy_service_xml(xml ${name})
  endforeach()
  string(APPEND xml "</plan>\n")
  file(GENERATE OUTPUT "${plan}" CONTENT "${xml}")
endfunction()

function(_cluster_deploy_add_targets plan)
  _cluster_deploy_helper(helper helper_file)
  get_property(inventory GLOBAL PROPERTY _CLUSTER_DEPLOY_INVENTORY)
  get_property(local_cluster GLOBAL PROPERTY _CLUSTER_DEPLOY_LOCAL_CLUSTER)
  get_property(cluster GLOBAL PROPERTY _CLUSTER_DEPLOY_CLUSTER)
  _cluster_deploy_warm_args(warm)

  # name | helper sub-command | extra arguments (comma-separated) | comment
  set(table
    "deploy|deploy||Deploying cluster ${cluster}"
    "cluster-plan|deploy|--dry-run|Planning the deployment of cluster ${cluster} (dry run)"
    "cluster-up|up||Starting the services of cluster ${cluster}"
    "cluster-down|down||Stopping the services of cluster ${cluster}"
    "cluster-status|status||Status of cluster ${cluster}"
    "cluster-logs|logs|--lines,100|Logs of cluster ${cluster}"
    "cluster-clean|clean||Removing everything deployed to cluster ${cluster}"
    "cluster-rollback|rollback||Rolling cluster ${cluster} back to its previous release"
    "cluster-collect|collect|--since,-15m|Collecting the last 15 minutes of cluster ${cluster} (reads only)")
  foreach(row IN LISTS table)
    string(REPLACE "|" ";" row "${row}")
    list(GET row 0 target)
    list(GET row 1 command)
    list(GET row 2 extra)
    list(GET row 3 comment)
    string(REPLACE "," ";" extra "${extra}")
    add_custom_target(${target}
      COMMAND ${helper} ${command} --plan "${plan}" ${extra} ${warm}
      COMMENT "${comment}"
      USES_TERMINAL
      VERBATIM)
  endforeach()

  get_property(services GLOBAL PROPERTY _CLUSTER_DEPLOY_SERVICES)
  foreach(name IN LISTS services)
    get_property(kind GLOBAL PROPERTY _CLUSTER_DEPLOY_SERVICE_${name}_KIND)
    get_property(program GLOBAL PROPERTY _CLUSTER_DEPLOY_SERVICE_${name}_PROGRAM)
    if(kind STREQUAL "TARGET")
      add_dependencies(deploy "${program}")
      add_dependencies(cluster-plan "${program}")
    endif()
  endforeach()

  if(local_cluster)
    _cluster_deploy_local_cluster_tool(tool)
    foreach(command IN ITEMS up down status)
      add_custom_target(local-cluster-${command}
        COMMAND "${tool}" ${command} --inventory "${inventory}" --out "${CMAKE_BINARY_DIR}/local-cluster"
                --helper "${helper_file}"
        COMMENT "Local cluster (local-cluster ${command})"
        USES_TERMINAL
        VERBATIM)
    endforeach()
    add_dependencies(deploy local-cluster-up)
    add_dependencies(cluster-up local-cluster-up)
  endif()
endfunction()

function(_cluster_deploy_add_fixture_tests plan)
  _cluster_deploy_helper(helper_command helper)
  get_property(inventory GLOBAL PROPERTY _CLUSTER_DEPLOY_INVENTORY)
  get_property(local_cluster GLOBAL PROPERTY _CLUSTER_DEPLOY_LOCAL_CLUSTER)
  set(run_steps "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/ClusterDeploy/RunSteps.cmake")
  # A fault left by a failed or interrupted test is healed before anything else.
  _cluster_deploy_warm_args(warm)
  set(heal ::optional-step:: "${helper}" heal --plan "${plan}" ${warm})
  get_property(teardown GLOBAL PROPERTY _CLUSTER_DEPLOY_TEARDOWN)
  set(setup "")
  # First the evidence of a test killed before it could collect it (CTest's TIMEOUT), while
  # the nodes and their journals are still there.
  set(cleanup ::optional-step:: "${helper}" collect --plan "${plan}" --pending ${warm} ${heal})
  if(CLUSTER_DEPLOY_KEEP_CLUSTER)
    set(teardown none) # kept for the next ctest run (an IDE running one test at a time)
  endif()
  if(teardown STREQUAL "down")
    list(APPEND cleanup ::step:: "${helper}" down --plan "${plan}" ${warm})
  elseif(teardown STREQUAL "clean" AND NOT local_cluster)
    list(APPEND cleanup ::step:: "${helper}" clean --plan "${plan}" ${warm})
  endif()
  if(local_cluster)
    _cluster_deploy_local_cluster_tool(tool)
    # The tool reads the inventory through the helper (the same parser and name rules).
    set(local_cluster_args --inventory "${inventory}" --out "${CMAKE_BINARY_DIR}/local-cluster"
                           --helper "${helper}")
    set(setup ::step:: "${tool}" up ${local_cluster_args})
    if(teardown STREQUAL "clean")
      # With the local cluster down there is nothing to clean: don't fail on that.
      list(APPEND cleanup ::optional-step:: "${helper}" clean --plan "${plan}"
                          ::step:: "${tool}" down ${local_cluster_args})
    endif()
  endif()
  list(APPEND setup ${heal} ::step:: "${helper}" deploy --plan "${plan}" ${warm})

  add_test(NAME cluster.setup COMMAND "${CMAKE_COMMAND}" -P "${run_steps}" -- ${setup})
  add_test(NAME cluster.cleanup COMMAND "${CMAKE_COMMAND}" -P "${run_steps}" -- ${cleanup})
  set_tests_properties(cluster.setup PROPERTIES
    FIXTURES_SETUP ClusterDeployed LABELS cluster RESOURCE_LOCK cluster TIMEOUT 900)
  set_tests_properties(cluster.cleanup PROPERTIES
    FIXTURES_CLEANUP ClusterDeployed LABELS cluster RESOURCE_LOCK cluster TIMEOUT 300)
endfunction()

function(_cluster_deploy_finalize)
  get_property(inventory GLOBAL PROPERTY _CLUSTER_DEPLOY_INVENTORY)
  get_property(services GLOBAL PROPERTY _CLUSTER_DEPLOY_SERVICES)
  if(NOT inventory)
    if(services)
      list(GET services 0 first)
      message(FATAL_ERROR "cluster_deploy_service(${first}): no inventory; "
        "call cluster_deploy_inventory(<dir>) to say where services are deployed")
    endif()
    return()
  endif()
  _cluster_deploy_validate_services()
  _cluster_deploy_check_after_cycles()
  _cluster_deploy_plan_file(plan)
  _cluster_deploy_write_plan("${plan}")
  _cluster_deploy_add_targets("${plan}")
  get_property(tests GLOBAL PROPERTY _CLUSTER_DEPLOY_TESTS)
  if(tests AND NOT services)
    list(GET tests 0 first)
    message(FATAL_ERROR "cluster_deploy_add_test(${first}): no service is declared, so there is nothing "
      "to deploy before the test; declare one with cluster_deploy_service()")
  endif()
  if(services AND (tests OR BUILD_TESTING))
    _cluster_deploy_add_fixture_tests("${plan}")
  endif()
endfunction()
