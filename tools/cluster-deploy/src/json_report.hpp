// The machine-readable output (--json): status, the dry run and command summaries as
// JSON documents with stable, documented fields (docs/helper.md, "Machine-readable output").
#pragma once

#include "summary_row.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace deploy {

/// One service on one node, as `status` reports it.
struct ServiceStatus {
  std::string name;
  std::string error; ///< set when its state could not be read
  bool loaded = false;
  std::string active; ///< systemd ActiveState
  std::string sub;    ///< systemd SubState
  std::string result; ///< systemd Result: success, oom-kill, exit-code, signal, ...
  bool running = false;
  long pid = 0;
  long uptime_seconds = -1;
  long restarts = 0;
  std::vector<std::string> failures; ///< systemd failure results since the deploy, oldest first
  /// A service with MEMBERS: "member" (its group has this node), "joining" (the inventory has
  /// it, the group does not: the next deploy adds it) or "unknown" (no member answered);
  /// empty for other services.
  std::string membership;
};

/// A fault that is active on a node (cluster-deploy fault).
struct FaultStatus {
  std::string id;
  std::string kind;               ///< partition, loss, kill-keep-down, stop, pause
  long seconds_left = 0;          ///< until it heals itself
  std::vector<std::string> units; ///< the units it stopped or froze (none for a partition)
};

/// One node, as `status` reports it.
struct NodeStatus {
  std::string name;
  std::string address;
  std::string group;
  bool reachable = true;
  std::string error;                             ///< why the node is unreachable
  std::optional<std::string> release;            ///< current release; "" = nothing deployed; nullopt = unknown
  std::optional<std::vector<std::string>> drift; ///< files differing from the deploy; nullopt = unknown
  std::optional<std::vector<FaultStatus>> faults; ///< active faults; nullopt = unknown
  std::vector<ServiceStatus> services;
};

/// What a deploy would do on one node (the dry run).
struct NodeChanges {
  std::string name;
  std::string address;
  std::string group;
  bool reachable = true;
  std::string error;
  std::string release; ///< the release id the node would run
  bool changed = false;
  struct File {
    std::string path;
    std::uint64_t bytes = 0;
  };
  std::vector<File> send;
  std::vector<std::string> reuse;
  std::uint64_t bytes_to_send = 0;
  std::vector<std::string> units_to_install;
  std::vector<std::string> units_to_remove;
  std::vector<std::string> restart;
};

/// A member of a group with MEMBERS that no node of the inventory is: "leaving" (the group
/// still counts it: the next deploy removes it) or "removed" (a deploy took it out of the
/// group; its data is still on it).
struct OutsideMember {
  std::string service;
  std::string name;
  std::string address;
  std::string state;
};

/// `status --json`: {"command", "cluster", "ok", "nodes": [...], "members_outside": [...]}.
std::string status_json(const std::string& cluster, bool ok, const std::vector<NodeStatus>& nodes,
                        const std::vector<OutsideMember>& outside);

/// `deploy --dry-run --json`: {"command", "dry_run", "cluster", "ok", "nodes": [...]}.
std::string dry_run_json(const std::string& cluster, bool ok, const std::vector<NodeChanges>& nodes);

/// A command's summary: {"command", "cluster", "ok", ["changed"], "results": [...]}.
std::string summary_json(const std::string& command, const std::string& cluster, const std::vector<SummaryRow>& rows,
                         std::optional<bool> changed);

} // namespace deploy
