#pragma once
// A read-only view of expert loads: layers x experts, row-major, in one of four element types.

#include <cstdint>
#include <span>
#include <variant>
#include <vector>

namespace eplb {

/// Views `[num_layers, num_experts]` loads (routed token counts), row-major, without copying.
///
/// Construction checks the shape (both sizes positive, `data.size() == num_layers * num_experts`)
/// and every value (finite and non-negative), throwing InvalidArgument that names the first bad
/// entry, e.g. `loads: loads[3][7] = nan must be finite and non-negative`. The data must outlive
/// the view.
class LoadMatrix {
 public:
  LoadMatrix(std::span<const double> data, int64_t num_layers, int64_t num_experts);
  LoadMatrix(std::span<const float> data, int64_t num_layers, int64_t num_experts);
  LoadMatrix(std::span<const int32_t> data, int64_t num_layers, int64_t num_experts);
  LoadMatrix(std::span<const int64_t> data, int64_t num_layers, int64_t num_experts);

  int64_t num_layers() const { return num_layers_; }
  int64_t num_experts() const { return num_experts_; }
  /// Returns the load of `expert_idx` in `layer_idx` as a double.
  double at(int64_t layer_idx, int64_t expert_idx) const;
  /// Copies one layer into `out` (size `num_experts`) as doubles.
  void copy_row(int64_t layer_idx, std::span<double> out) const;
  /// Copies one layer into `out` rounded to float32, as `torch.Tensor.float()` does.
  void copy_row(int64_t layer_idx, std::span<float> out) const;
  /// Returns true when every load of `layer_idx` is zero.
  bool is_zero_row(int64_t layer_idx) const;

 private:
  using Data = std::variant<std::span<const double>, std::span<const float>,
                            std::span<const int32_t>, std::span<const int64_t>>;
  LoadMatrix(Data data, int64_t num_layers, int64_t num_experts);

  Data data_;
  int64_t num_layers_;
  int64_t num_experts_;
};

/// Owns `[num_layers, num_experts]` loads as doubles; what the file readers return.
struct Loads {
  int64_t num_layers = 0;
  int64_t num_experts = 0;
  std::vector<double> values;

  /// Returns a checked view (throws InvalidArgument like the LoadMatrix constructor).
  LoadMatrix view() const { return LoadMatrix(std::span<const double>(values), num_layers, num_experts); }
};

}  // namespace eplb
