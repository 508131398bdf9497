#include "eplb/load_matrix.h"

#include <cmath>

#include "core/detail/check.h"
#include "core/detail/lane_sum.h"
#include "eplb/topology.h"  // kMaxLayers, kMaxExperts, kMaxLayerLoad

namespace eplb {
namespace {

template <typename T>
bool is_valid_load(T value) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::isfinite(value) && value >= 0;
  } else {
    return value >= 0;
  }
}

}  // namespace

LoadMatrix::LoadMatrix(Data data, int64_t num_layers, int64_t num_experts)
    : data_(data), num_layers_(num_layers), num_experts_(num_experts) {
  if (num_layers <= 0) detail::throw_invalid("loads: num_layers = ", num_layers, " must be positive");
  if (num_experts <= 0) {
    detail::throw_invalid("loads: num_experts = ", num_experts, " must be positive");
  }
  if (num_layers > kMaxLayers) {
    detail::throw_invalid("loads: num_layers = ", num_layers, " exceeds the limit of ", kMaxLayers);
  }
  if (num_experts > kMaxExperts) {
    detail::throw_invalid("loads: num_experts = ", num_experts, " exceeds the limit of ",
                          kMaxExperts);
  }
  std::visit(
      [&](auto values) {
        if (static_cast<int64_t>(values.size()) != num_layers * num_experts) {
          detail::throw_invalid("loads: size = ", values.size(), " must equal num_layers * num_experts = ",
                                num_layers, " * ", num_experts);
        }
        if (!detail::all_valid_loads(values)) {
          for (size_t i = 0; i < values.size(); ++i) {
            if (!is_valid_load(values[i])) {
              detail::throw_invalid("loads: loads[", static_cast<int64_t>(i) / num_experts, "][",
                                    static_cast<int64_t>(i) % num_experts, "] = ", +values[i],
                                    " must be finite and non-negative");
            }
          }
        }
        // Every metric and bound sums a layer (and sums over layers); sums near the largest
        // double would turn them into inf and NaN, so such loads are refused here.
        for (int64_t layer = 0; layer < num_layers; ++layer) {
          const double total = detail::lane_sum(values.subspan(layer * num_experts, num_experts));
          if (!(total <= kMaxLayerLoad)) {
            detail::throw_invalid("loads: layer ", layer, " sums to ", total,
                                  ", above the limit of ", kMaxLayerLoad);
          }
        }
      },
      data_);
}

LoadMatrix::LoadMatrix(std::span<const double> data, int64_t num_layers, int64_t num_experts)
    : LoadMatrix(Data(data), num_layers, num_experts) {}
LoadMatrix::LoadMatrix(std::span<const float> data, int64_t num_layers, int64_t num_experts)
    : LoadMatrix(Data(data), num_layers, num_experts) {}
LoadMatrix::LoadMatrix(std::span<const int32_t> data, int64_t num_layers, int64_t num_experts)
    : LoadMatrix(Data(data), num_layers, num_experts) {}
LoadMatrix::LoadMatrix(std::span<const int64_t> data, int64_t num_layers, int64_t num_experts)
    : LoadMatrix(Data(data), num_layers, num_experts) {}

double LoadMatrix::at(int64_t layer_idx, int64_t expert_idx) const {
  return std::visit(
      [&](auto values) { return static_cast<double>(values[layer_idx * num_experts_ + expert_idx]); },
      data_);
}

void LoadMatrix::copy_row(int64_t layer_idx, std::span<double> out) const {
  std::visit(
      [&](auto values) {
        const auto row = values.subspan(layer_idx * num_experts_, num_experts_);
        for (int64_t e = 0; e < num_experts_; ++e) out[e] = static_cast<double>(row[e]);
      },
      data_);
}

void LoadMatrix::copy_row(int64_t layer_idx, std::span<float> out) const {
  // A direct conversion from the source type rounds once, like torch's .float(); going through
  // double first would round twice for large int64 counts.
  std::visit(
      [&](auto values) {
        const auto row = values.subspan(layer_idx * num_experts_, num_experts_);
        for (int64_t e = 0; e < num_experts_; ++e) out[e] = static_cast<float>(row[e]);
      },
      data_);
}

bool LoadMatrix::is_zero_row(int64_t layer_idx) const {
  return std::visit(
      [&](auto values) {
        for (auto value : values.subspan(layer_idx * num_experts_, num_experts_)) {
          if (value != 0) return false;
        }
        return true;
      },
      data_);
}

}  // namespace eplb
