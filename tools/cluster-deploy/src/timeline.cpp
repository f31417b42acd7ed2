#include "timeline.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

namespace deploy {
namespace {

std::string escape(const std::string& text)
{
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&quot;"; break;
    default: out += c;
    }
  }
  return out;
}

/// Places marks on a lane: percentages of the window.
class Scale {
public:
  Scale(double since, double until) : m_since(since), m_span(std::max(until - since, 0.001)) {}
  std::string left(double t) const { return percent(t - m_since); }
  std::string width(double from, double to) const { return percent(std::max(to - from, m_span / 400)); }

private:
  std::string percent(double seconds) const
  {
    char text[32];
    std::snprintf(text, sizeof text, "%.3f%%", std::clamp(seconds / m_span * 100, 0.0, 100.0));
    return text;
  }
  double m_since;
  double m_span;
};

/// One mark: a bar (with `to`) or a point, its class, its label and the line it stands for.
std::string mark(const Scale& scale, const std::string& cls, double from, std::optional<double> to,
                 const std::string& label, const std::string& line)
{
  std::string style = "left:" + scale.left(from) + (to ? ";width:" + scale.width(from, *to) : std::string());
  return "<div class=\"" + cls + "\" style=\"" + style + "\" title=\"" + escape(line) + "\" data-line=\"" +
         escape(line) + "\">" + escape(label) + "</div>";
}

std::string axis(const Evidence& ev, const Scale& scale)
{
  double span = ev.until - ev.since;
  double step = 1;
  for (double s : {1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0}) {
    step = s;
    if (span / s <= 12) {
      break;
    }
  }
  std::string html = "<div class=\"row axis\"><div class=\"label\">seconds</div><div class=\"lane\">";
  for (double t = 0; t <= span; t += step) {
    char label[32];
    std::snprintf(label, sizeof label, "+%.0f", t);
    html += "<div class=\"tick\" style=\"left:" + scale.left(ev.since + t) + "\">" + label + "</div>";
  }
  return html + "</div></div>\n";
}

std::string node_row(const Evidence& ev, const NodeEvidence& node, const Scale& scale)
{
  std::string html = "<div class=\"row node\" data-node=\"" + escape(node.name) + "\"><div class=\"label\">" +
                     escape(node.name) + "<small>" + escape(node.group) + " · " + escape(node.current) +
                     "</small></div><div class=\"lane\">";
  for (const auto& f : ev.faults) {
    if (f.node == node.name) {
      std::string line = f.kind + " " + f.id + " " + iso_time(f.start) + " .. " +
                         (f.healed ? iso_time(*f.healed) : std::string("still on")) + "  " + f.detail;
      std::string label = f.kind + " " + f.detail;
      html += f.kind == "kill" ? mark(scale, "fault kill", f.start, std::nullopt, label, line)
                               : mark(scale, "fault " + f.kind, f.start, f.healed.value_or(ev.until), label, line);
    }
  }
  for (const auto& e : ev.events) {
    if (e.node == node.name) {
      std::string cls = e.what == "core dump"          ? "core"
                        : e.what == "became leader"    ? "leader"
                        : e.what.starts_with("member ") ? "member"
                                                        : e.what;
      html += mark(scale, "event " + cls, e.time, std::nullopt, "", iso_time(e.time) + " " + e.unit + ": " + e.line);
    }
  }
  for (const auto& j : node.journal) {
    if (j.priority <= 3) { // err and worse: where a reader looks after the faults
      html += mark(scale, "logerr", j.time, std::nullopt, "", iso_time(j.time) + " " + j.ident + ": " + j.message);
    }
  }
  if (!node.failure.empty()) {
    html += "<div class=\"missing\">not collected: " + escape(node.failure) + "</div>";
  }
  return html + "</div></div>\n";
}

std::string client_rows(const Evidence& ev, const Scale& scale)
{
  std::map<std::string, std::string> rows; // process -> marks
  std::size_t shown = 0;
  for (const auto& op : ev.history) {
    if (++shown > 5000) { // a page stays usable; history.jsonl has them all
      break;
    }
    char latency[32];
    std::snprintf(latency, sizeof latency, "%.0f ms", (op.end - op.start) * 1000);
    std::string cls = "op " + std::string(op.result == "ok" ? "ok" : op.result == "fail" ? "fail" : "unknown");
    rows[op.process] += mark(scale, cls, op.start, op.end, "",
                             op.op + "  " + op.result + "  " + latency + "  " + iso_time(op.start) + "  " + op.line);
  }
  std::string html;
  for (const auto& [process, marks] : rows) {
    html += "<div class=\"row client\" data-process=\"" + escape(process) + "\"><div class=\"label\">" +
            escape(process) + "<small>client</small></div><div class=\"lane\">" + marks + "</div></div>\n";
  }
  return html;
}

std::string runs_row(const Evidence& ev, const Scale& scale)
{
  if (ev.runs.empty()) {
    return {};
  }
  std::string html = "<div class=\"row runs\"><div class=\"label\">cluster-deploy<small>runs</small></div>"
                     "<div class=\"lane\">";
  for (const auto& r : ev.runs) {
    html += mark(scale, std::string("run") + (r.exit == 0 ? "" : " fail"), std::max(r.start, ev.since),
                 std::min(r.end, ev.until), r.command, r.line);
  }
  return html + "</div></div>\n";
}

constexpr const char* k_style = R"(
body { font: 13px system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 18px; margin: 0 0 4px; }
.meta { color: #555; margin-bottom: 12px; }
.row { display: flex; align-items: stretch; border-bottom: 1px solid #e4e4e4; min-height: 30px; }
.label { width: 170px; flex: none; padding: 4px 6px; font-weight: 600; }
.label small { display: block; font-weight: 400; color: #777; }
.lane { position: relative; flex: 1; background: #fafafa; overflow: hidden; }
.axis .lane { background: none; }
.tick { position: absolute; top: 6px; border-left: 1px solid #bbb; padding-left: 2px; color: #777; height: 100%; }
.fault { position: absolute; top: 3px; height: 13px; background: #d9534f; color: #fff; font-size: 10px;
         overflow: hidden; white-space: nowrap; border-radius: 2px; opacity: .85; cursor: pointer; }
.fault.kill { width: 4px; background: #8b0000; font-size: 0; }
.fault.pause { background: #f0ad4e; } .fault.stop { background: #a05a00; }
.event { position: absolute; bottom: 2px; width: 6px; height: 9px; margin-left: -3px; cursor: pointer; }
.event.started { background: #2e8b57; } .event.stopped { background: #777; } .event.restarting { background: #1e90ff; }
.event.crashed, .event.failed, .event.core { background: #000; }
.event.member { background: #9932cc; }
.event.leader { background: #ffd700; border: 1px solid #8a6d00; bottom: 14px; border-radius: 50%; }
.logerr { position: absolute; bottom: 12px; width: 2px; height: 6px; background: #c71585; cursor: pointer; }
.op { position: absolute; top: 8px; height: 12px; min-width: 2px; cursor: pointer; }
.op.ok { background: #5cb85c; } .op.fail { background: #d9534f; } .op.unknown { background: #999; }
.run { position: absolute; top: 6px; height: 16px; background: #6f42c1; color: #fff; font-size: 10px;
       overflow: hidden; cursor: pointer; } .run.fail { background: #3d2370; }
.missing { color: #a00; padding: 6px; }
#detail { margin-top: 12px; padding: 8px; background: #f3f3f3; white-space: pre-wrap; font: 12px monospace;
          min-height: 2em; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 12px; height: 10px; margin-right: 4px; vertical-align: middle; }
)";

constexpr const char* k_script = R"(
document.addEventListener('click', function (event) {
  var line = event.target.getAttribute('data-line');
  if (line !== null) { document.getElementById('detail').textContent = line; }
});
)";

} // namespace

std::string timeline_html(const Evidence& ev)
{
  Scale scale(ev.since, ev.until);
  std::string title = ev.test.empty() ? "cluster " + ev.cluster : ev.test;
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      // Nothing from the network, ever: the page is opened from CI artifacts and mail.
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
      "script-src 'unsafe-inline'\">\n<title>timeline: " +
      escape(title) + "</title>\n<style>" + k_style + "</style></head><body>\n<h1>" + escape(title) +
      (ev.result.empty() ? std::string() : " — " + escape(ev.result)) + "</h1>\n<div class=\"meta\">" +
      iso_time(ev.since) + " .. " + iso_time(ev.until) + " · " + std::to_string(ev.nodes.size()) + " nodes · " +
      std::to_string(ev.faults.size()) + " faults · " + std::to_string(ev.history.size()) +
      " client operations</div>\n<div class=\"meta legend\">"
      "<span><i style=\"background:#d9534f\"></i>partition</span><span><i style=\"background:#f0ad4e\"></i>pause</span>"
      "<span><i style=\"background:#a05a00\"></i>stop</span><span><i style=\"background:#8b0000\"></i>kill</span>"
      "<span><i style=\"background:#2e8b57\"></i>started</span><span><i style=\"background:#777\"></i>stopped</span>"
      "<span><i style=\"background:#000\"></i>crashed</span><span><i style=\"background:#ffd700\"></i>became leader</span><span><i style=\"background:#9932cc\"></i>member joined/left</span><span><i style=\"background:#c71585\"></i>error line</span>"
      "<span><i style=\"background:#5cb85c\"></i>client ok</span><span><i style=\"background:#999\"></i>unknown</span>"
      "</div>\n<div id=\"timeline\">\n" +
      axis(ev, scale);
  for (const auto& node : ev.nodes) {
    html += node_row(ev, node, scale);
  }
  html += client_rows(ev, scale) + runs_row(ev, scale);
  html += "</div>\n<div id=\"detail\">Click a bar or a mark for its line; hover for the same.</div>\n<script>" +
          std::string(k_script) + "</script>\n</body></html>\n";
  return html;
}

} // namespace deploy
