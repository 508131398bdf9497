#include "report.h"

#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>

namespace eplb::cli {
namespace {

constexpr int kNameWidth = 20;

std::string format_range(StepRange steps) {
  if (steps.begin == 0 && steps.end == -1) return "all steps";
  std::string text = "steps " + std::to_string(steps.begin) + ":";
  if (steps.end != -1) text += std::to_string(steps.end);
  return text;
}

}  // namespace

void print_field(std::ostream& out, std::string_view name, std::string_view value) {
  out << std::left << std::setw(kNameWidth) << name << value << '\n';
}

void print_loads(std::ostream& out, const std::string& path, StepRange steps, int64_t num_layers,
                 int64_t num_experts) {
  print_field(out, "loads", path + " (" + format_range(steps) + ")");
  print_field(out, "shape",
              std::to_string(num_layers) + " layers x " + std::to_string(num_experts) + " experts");
}

void print_topology(std::ostream& out, const Topology& topology) {
  print_field(out, "topology",
              std::to_string(topology.num_replicas()) + " replicas, " +
                  std::to_string(topology.num_groups()) + " groups, " +
                  std::to_string(topology.num_nodes()) + " nodes, " +
                  std::to_string(topology.num_gpus()) + " GPUs (" +
                  std::to_string(topology.slots_per_gpu()) + " slots per GPU, " +
                  (topology.is_hierarchical() ? "hierarchical" : "global") + ")");
}

void print_metrics(std::ostream& out, const PlanMetrics& metrics) {
  print_field(out, "GPU balancedness", format_fixed(metrics.gpu_balancedness, 4));
  print_field(out, "slot balancedness", format_fixed(metrics.slot_balancedness, 4));
  print_field(out, "gap to lower bound",
              format_fixed(100 * metrics.gap, 3) + " % (global bound: any counts, any nodes)");
  if (metrics.hierarchical_gap >= 0) {
    print_field(out, "gap to node bound",
                format_fixed(100 * metrics.hierarchical_gap, 3) +
                    " % (best plan keeping this placement of groups on nodes)");
  }
  print_field(out, "mean layer gap", format_fixed(100 * metrics.mean_layer_gap, 3) + " %");
  if (metrics.off_node_load_fraction >= 0) {
    print_field(out, "off-node load", format_fixed(100 * metrics.off_node_load_fraction, 2) +
                                          " % (served outside the group's home node)");
  }
}

std::string format_fixed(double value, int digits) {
  std::ostringstream stream;
  stream << std::fixed << std::setprecision(digits) << value;
  return stream.str();
}

}  // namespace eplb::cli
