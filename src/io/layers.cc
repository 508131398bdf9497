// Dense layers: all-zero rows of a recording, kept as trivial rows of a plan.
#include "eplb/io/layers.h"

#include <algorithm>
#include <charconv>
#include <string>
#include <system_error>

#include "eplb/error.h"
#include "eplb/topology.h"  // kMaxLayers, kMaxPlanEntries

namespace eplb::io {
namespace {

[[noreturn]] void throw_invalid(const std::string& message) { throw InvalidArgument(message); }

// Checks that `layers` are ascending, unique and less than `num_layers`.
void check_layers(const char* function, std::span<const int64_t> layers, int64_t num_layers) {
  for (size_t i = 0; i < layers.size(); ++i) {
    if (layers[i] < 0 || layers[i] >= num_layers) {
      throw_invalid(std::string(function) + ": layers[" + std::to_string(i) + "] = " +
                    std::to_string(layers[i]) + " must be in [0, " + std::to_string(num_layers) +
                    ")");
    }
    if (i > 0 && layers[i] <= layers[i - 1]) {
      throw_invalid(std::string(function) + ": layers[" + std::to_string(i) + "] = " +
                    std::to_string(layers[i]) + " must be greater than layers[" +
                    std::to_string(i - 1) + "] = " + std::to_string(layers[i - 1]));
    }
  }
}

// Returns, for each row of a matrix of `num_layers` rows, whether it is in `layers` (checked).
std::vector<bool> mark(const char* function, std::span<const int64_t> layers, int64_t num_layers) {
  check_layers(function, layers, num_layers);
  std::vector<bool> marked(static_cast<size_t>(num_layers), false);
  for (const int64_t layer : layers) marked[static_cast<size_t>(layer)] = true;
  return marked;
}

bool parse_index(std::string_view text, int64_t& value) {
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  return !text.empty() && error == std::errc() && stop == end && value >= 0 && value < kMaxLayers;
}

}  // namespace

std::vector<int64_t> find_dense_layers(const LoadMatrix& loads) {
  std::vector<int64_t> dense;
  for (int64_t layer = 0; layer < loads.num_layers(); ++layer) {
    if (loads.is_zero_row(layer)) dense.push_back(layer);
  }
  if (static_cast<int64_t>(dense.size()) == loads.num_layers()) dense.clear();
  return dense;
}

std::vector<int64_t> parse_layer_list(std::string_view text) {
  std::vector<int64_t> layers;
  if (text.empty() || text == "none") return layers;
  const auto fail = [&] {
    throw_invalid("parse_layer_list: layers = \"" + std::string(text) +
                  "\" must be comma-separated layer indices and ranges A:B (A < B), e.g. 0:3,7");
  };
  std::string_view rest = text;
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    const size_t colon = item.find(':');
    int64_t first = 0;
    int64_t last = 0;
    if (colon == std::string_view::npos) {
      if (!parse_index(item, first)) fail();
      last = first + 1;
    } else if (!parse_index(item.substr(0, colon), first) ||
               !parse_index(item.substr(colon + 1), last) || last <= first) {
      fail();
    }
    for (int64_t layer = first; layer < last; ++layer) layers.push_back(layer);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  return layers;
}

void check_dense_layers(const LoadMatrix& loads, std::span<const int64_t> dense_layers) {
  check_layers("check_dense_layers", dense_layers, loads.num_layers());
  for (const int64_t layer : dense_layers) {
    if (!loads.is_zero_row(layer)) {
      throw_invalid("check_dense_layers: layer " + std::to_string(layer) +
                    " is given as dense but has non-zero loads");
    }
  }
}

Loads remove_layers(const Loads& loads, std::span<const int64_t> layers) {
  const std::vector<bool> removed = mark("remove_layers", layers, loads.num_layers);
  Loads kept;
  kept.num_layers = loads.num_layers - static_cast<int64_t>(layers.size());
  kept.num_experts = loads.num_experts;
  kept.values.reserve(static_cast<size_t>(kept.num_layers * kept.num_experts));
  for (int64_t layer = 0; layer < loads.num_layers; ++layer) {
    if (removed[static_cast<size_t>(layer)]) continue;
    const auto row = loads.values.begin() + layer * loads.num_experts;
    kept.values.insert(kept.values.end(), row, row + loads.num_experts);
  }
  return kept;
}

Loads insert_dense_layers(const Loads& loads, std::span<const int64_t> dense_layers) {
  const int64_t num_layers = loads.num_layers + static_cast<int64_t>(dense_layers.size());
  if (num_layers > kMaxLayers) {
    throw_invalid("insert_dense_layers: " + std::to_string(num_layers) +
                  " layers is more than the limit of " + std::to_string(kMaxLayers));
  }
  const std::vector<bool> dense = mark("insert_dense_layers", dense_layers, num_layers);
  Loads result;
  result.num_layers = num_layers;
  result.num_experts = loads.num_experts;
  result.values.reserve(static_cast<size_t>(num_layers * loads.num_experts));
  int64_t moe_layer = 0;
  for (int64_t layer = 0; layer < num_layers; ++layer) {
    if (dense[static_cast<size_t>(layer)]) {
      result.values.insert(result.values.end(), static_cast<size_t>(loads.num_experts), 0.0);
    } else {
      const auto row = loads.values.begin() + moe_layer++ * loads.num_experts;
      result.values.insert(result.values.end(), row, row + loads.num_experts);
    }
  }
  return result;
}

Plan remove_layers(const Plan& plan, std::span<const int64_t> layers) {
  const std::vector<bool> removed = mark("remove_layers", layers, plan.num_layers);
  std::vector<int64_t> phy2log;
  phy2log.reserve(plan.phy2log.size());
  for (int64_t layer = 0; layer < plan.num_layers; ++layer) {
    if (removed[static_cast<size_t>(layer)]) continue;
    const auto row = plan.phy2log_row(layer);
    phy2log.insert(phy2log.end(), row.begin(), row.end());
  }
  return plan_from_phy2log(phy2log, plan.num_layers - static_cast<int64_t>(layers.size()),
                           plan.num_replicas, plan.num_experts);
}

Plan insert_dense_layers(const Plan& plan, std::span<const int64_t> dense_layers) {
  const int64_t num_layers = plan.num_layers + static_cast<int64_t>(dense_layers.size());
  if (num_layers * plan.num_replicas > kMaxPlanEntries) {
    throw_invalid("insert_dense_layers: " + std::to_string(num_layers) + " layers x " +
                  std::to_string(plan.num_replicas) + " slots is more than the limit of " +
                  std::to_string(kMaxPlanEntries) + " entries");
  }
  const std::vector<bool> dense = mark("insert_dense_layers", dense_layers, num_layers);
  std::vector<int64_t> phy2log;
  phy2log.reserve(static_cast<size_t>(num_layers * plan.num_replicas));
  int64_t moe_layer = 0;
  for (int64_t layer = 0; layer < num_layers; ++layer) {
    if (dense[static_cast<size_t>(layer)]) {
      for (int64_t slot = 0; slot < plan.num_replicas; ++slot) {
        phy2log.push_back(slot % plan.num_experts);
      }
    } else {
      const auto row = plan.phy2log_row(moe_layer++);
      phy2log.insert(phy2log.end(), row.begin(), row.end());
    }
  }
  return plan_from_phy2log(phy2log, num_layers, plan.num_replicas, plan.num_experts);
}

std::vector<int64_t> find_trivial_layers(const Plan& plan) {
  std::vector<int64_t> trivial;
  for (int64_t layer = 0; layer < plan.num_layers; ++layer) {
    const auto row = plan.phy2log_row(layer);
    bool is_trivial = plan.num_experts > 0;
    for (int64_t slot = 0; is_trivial && slot < plan.num_replicas; ++slot) {
      is_trivial = row[static_cast<size_t>(slot)] == slot % plan.num_experts;
    }
    if (is_trivial) trivial.push_back(layer);
  }
  return trivial;
}

}  // namespace eplb::io
