// The JSON report of `eplb plan` and `eplb eval`.
#include "eplb/io/plan_report.h"

#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "io/detail/files.h"

namespace eplb::io {
namespace {

// Appends the values of one JSON object, each on its own line, in the order added.
class JsonObject {
 public:
  JsonObject(std::string& out, std::string_view indent) : out_(out), indent_(indent) {
    out_ += "{";
  }

  void key(std::string_view name) {
    out_ += first_ ? "\n" : ",\n";
    first_ = false;
    out_ += indent_;
    out_ += "  ";
    detail::append_json_string(out_, name);
    out_ += ": ";
  }
  void number(std::string_view name, double value) {
    key(name);
    if (std::isfinite(value)) {
      detail::append_number(out_, value);
    } else {
      out_ += "null";
    }
  }
  void string_or_null(std::string_view name, std::string_view value) {
    key(name);
    if (value.empty()) {
      out_ += "null";
    } else {
      detail::append_json_string(out_, value);
    }
  }
  template <typename Value>
  void list(std::string_view name, const std::vector<Value>& values) {
    key(name);
    out_ += '[';
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out_ += ", ";
      if (std::isfinite(static_cast<double>(values[i]))) {
        detail::append_number(out_, static_cast<double>(values[i]));
      } else {
        out_ += "null";
      }
    }
    out_ += ']';
  }
  void boolean(std::string_view name, bool value) {
    key(name);
    out_ += value ? "true" : "false";
  }
  void close() {
    out_ += '\n';
    out_ += indent_;
    out_ += '}';
  }
  std::string nested_indent() const { return std::string(indent_) + "  "; }

 private:
  std::string& out_;
  std::string_view indent_;
  bool first_ = true;
};

void append_metrics(JsonObject& parent, std::string& out, const PlanMetrics& metrics) {
  parent.key("metrics");
  const std::string indent = parent.nested_indent();
  JsonObject object(out, indent);
  object.number("gpu_balancedness", metrics.gpu_balancedness);
  object.number("slot_balancedness", metrics.slot_balancedness);
  object.number("gap", metrics.gap);
  object.number("mean_layer_gap", metrics.mean_layer_gap);
  object.number("hierarchical_gap", metrics.hierarchical_gap >= 0 ? metrics.hierarchical_gap : NAN);
  object.number("off_node_load_fraction",
                metrics.off_node_load_fraction >= 0 ? metrics.off_node_load_fraction : NAN);
  object.list("max_gpu_load", metrics.max_gpu_load);
  object.list("lower_bound", metrics.lower_bound);
  object.list("hierarchical_bound", metrics.hierarchical_bound);
  object.close();
}

void append_traffic(JsonObject& parent, std::string& out, const PlanReport& report) {
  parent.key("traffic");
  if (!report.traffic) {
    out += "null";
    return;
  }
  const TrafficMetrics& traffic = *report.traffic;
  // JsonObject keeps a view of its indent.
  const std::string indent = parent.nested_indent();
  JsonObject object(out, indent);
  object.string_or_null("routing", report.routing_path);
  object.number("tokens", static_cast<double>(report.routing_tokens));
  object.string_or_null("warning", report.routing_tokens < kFewRoutingTokens
                                       ? "fewer than " + std::to_string(kFewRoutingTokens) +
                                             " tokens: too few to trust"
                                       : std::string());
  object.number("nodes_per_token", traffic.nodes_per_token);
  object.number("gpus_per_token", traffic.gpus_per_token);
  object.number("remote_nodes_per_token", traffic.remote_nodes_per_token);
  object.number("cross_node_fraction", traffic.cross_node_fraction);
  object.list("layer_nodes_per_token", traffic.layer_nodes_per_token);
  object.close();
}

}  // namespace

std::string plan_report_json(const PlanReport& report) {
  std::string out;
  JsonObject root(out, "");
  root.string_or_null("command", report.command);
  {
    root.key("loads");
    JsonObject loads(out, "  ");
    loads.string_or_null("path", report.loads_path);
    loads.string_or_null("steps", report.steps);
    loads.number("num_layers", static_cast<double>(report.num_layers));
    loads.number("num_experts", static_cast<double>(report.num_experts));
    loads.close();
  }
  {
    const Topology& topology = report.topology;
    root.key("topology");
    JsonObject object(out, "  ");
    object.number("num_replicas", static_cast<double>(topology.num_replicas()));
    object.number("num_groups", static_cast<double>(topology.num_groups()));
    object.number("num_nodes", static_cast<double>(topology.num_nodes()));
    object.number("num_gpus", static_cast<double>(topology.num_gpus()));
    object.number("slots_per_gpu", static_cast<double>(topology.slots_per_gpu()));
    object.boolean("hierarchical", topology.is_hierarchical());
    object.close();
  }
  root.string_or_null("policy", report.policy);
  root.list("dense_layers", report.dense_layers);
  root.list("excluded_gpus", report.excluded_gpus);
  if (report.plan_path.empty()) {
    root.key("plan");
    out += "null";
  } else {
    root.key("plan");
    JsonObject plan(out, "  ");
    plan.string_or_null("path", report.plan_path);
    plan.string_or_null("format", report.plan_format);
    plan.close();
  }
  root.number("plan_ms", report.plan_ms >= 0 ? report.plan_ms : NAN);
  append_metrics(root, out, report.metrics);
  append_traffic(root, out, report);
  root.close();
  out += '\n';
  return out;
}

void write_plan_report(const std::filesystem::path& path, const PlanReport& report) {
  detail::write_file("write_plan_report", path, plan_report_json(report));
}

}  // namespace eplb::io
