#pragma once
// Dense layers of a recording: finding them, parsing layer lists, and dropping or adding rows.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "eplb/load_matrix.h"
#include "eplb/plan.h"

namespace eplb::io {

/// Returns the all-zero rows of `loads`, ascending: the layers a recording marks as dense (for
/// example rows 0 to 2 of SGLang's DeepSeek-V3 files). Returns nothing when every row is zero,
/// since such a file recorded no tokens at all rather than a model without MoE layers.
std::vector<int64_t> find_dense_layers(const LoadMatrix& loads);

/// Parses a layer list such as "0:3,7" (comma-separated indices and half-open ranges `A:B`)
/// into ascending unique indices; "" and "none" give an empty list. Throws InvalidArgument
/// naming `text`, e.g. `parse_layer_list: layers = "3:1" ...`.
std::vector<int64_t> parse_layer_list(std::string_view text);

/// Throws InvalidArgument unless every index of `dense_layers` (ascending, unique) is a row of
/// `loads` whose loads are all zero: a dense layer receives no tokens.
void check_dense_layers(const LoadMatrix& loads, std::span<const int64_t> dense_layers);

/// Returns `loads` without the rows `layers` (ascending, unique, in range; else
/// InvalidArgument). Allocates the result.
Loads remove_layers(const Loads& loads, std::span<const int64_t> layers);

/// Returns `loads` (the MoE layers) with all-zero rows inserted so that rows `dense_layers` of
/// the result (ascending, unique, less than `loads.num_layers + dense_layers.size()`; else
/// InvalidArgument) are the dense layers: a recording of MoE layers only (vLLM's, 58 rows for
/// DeepSeek-V3) numbered as the model's layers.
Loads insert_dense_layers(const Loads& loads, std::span<const int64_t> dense_layers);

/// Returns `plan` without the rows `layers` (ascending, unique, in range; else
/// InvalidArgument); `log2phy` and `max_replicas` are rebuilt (plan_from_phy2log()).
Plan remove_layers(const Plan& plan, std::span<const int64_t> layers);

/// Returns `plan` (the MoE layers) with the trivial placement inserted so that rows
/// `dense_layers` of the result (ascending, unique, less than `plan.num_layers +
/// dense_layers.size()`; else InvalidArgument) hold slot `s` -> expert `s % num_experts`, as
/// SGLang's `trivial` location does. The result has `plan.num_layers + dense_layers.size()` rows.
Plan insert_dense_layers(const Plan& plan, std::span<const int64_t> dense_layers);

/// Returns the rows of `plan` that hold the trivial placement (slot `s` -> expert
/// `s % num_experts`), ascending: candidates for dense layers in a plan file that does not mark
/// them. A MoE layer may hold it too, so this is a hint, not a decision.
std::vector<int64_t> find_trivial_layers(const Plan& plan);

}  // namespace eplb::io
