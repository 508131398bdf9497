#pragma once
// Shared helpers of the _eplb bindings: array conversion in both directions and the bind_* list.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include "eplb/error.h"
#include "eplb/load_matrix.h"
#include "eplb/plan.h"

namespace eplb::python {

namespace nb = nanobind;

/// A read-only, C-contiguous CPU array of any dtype and rank; the bindings check both.
using InputArray = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;
/// A read-only, C-contiguous CPU int64 array of any rank (phy2log, log2phy, logcnt).
using IndexArray = nb::ndarray<const int64_t, nb::c_contig, nb::device::cpu>;

/// Returns a view of `loads` `[num_layers, num_experts]` without copying. Throws InvalidArgument
/// naming `function` unless `loads` is 2-D float64, float32, int32 or int64 (the conversion of
/// other dtypes is the Python layer's job); the core's checks of the values name the Python
/// argument `name`, e.g. `evaluate: weight[0][1] = nan must be finite and non-negative`. The
/// view borrows `loads`' memory.
LoadMatrix to_load_matrix(const InputArray& loads, const char* function, const char* name);

/// Returns the core's message about loads (`loads: loads[1][5] = nan ...`, `loads: num_layers =
/// 0 ...`) with `function` and the Python argument `name` in place of "loads", e.g.
/// `evaluate: weight[1][5] = nan ...`; other messages unchanged.
std::string rename_loads(std::string_view message, const char* function, std::string_view name);

/// A should_stop check (RebalanceOptions::should_stop) that lets Ctrl-C interrupt a core call
/// running without the GIL: on Python's main thread, every 50 ms at most, it takes the GIL and
/// runs the signal handlers; when one raises (KeyboardInterrupt), it keeps that exception and
/// says stop. Make it with the GIL held; copies share their state.
class SignalPoll {
 public:
  SignalPoll();
  bool operator()() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
  friend void raise_if_interrupted(const std::function<bool()>& should_stop);
};

/// Raises (as nb::python_error) the exception a SignalPoll in `should_stop` kept; does nothing
/// for another check or none. Call it with the GIL held where the core's Cancelled is caught.
void raise_if_interrupted(const std::function<bool()>& should_stop);

/// Runs `work()` with the GIL released and returns its result; when `should_stop` (a SignalPoll)
/// stopped it, raises the exception the poll kept (KeyboardInterrupt) instead of Cancelled.
template <typename Work>
auto without_gil(const std::function<bool()>& should_stop, Work&& work) {
  try {
    nb::gil_scoped_release release;
    return work();
  } catch (const Cancelled&) {
    raise_if_interrupted(should_stop);
    throw;
  }
}

/// Throws InvalidArgument unless `array` has `ndim` dimensions, e.g.
/// `validate: log2phy.ndim = 2 must be 3`.
void check_ndim(const IndexArray& array, size_t ndim, const char* function, const char* name);

/// Returns the elements of `array` as a vector (a copy).
std::vector<int64_t> to_vector(const IndexArray& array);

/// Returns a Plan holding copies of `phy2log` `[num_layers, num_replicas]`, `log2phy`
/// `[num_layers, num_experts, max_replicas]` and `logcnt` `[num_layers, num_experts]`. Throws
/// InvalidArgument naming `function` when the ranks or shapes disagree, e.g.
/// `validate: logcnt.shape[0] = 3 must equal num_layers = 2`; does not validate the placement.
Plan to_plan(const IndexArray& phy2log, const IndexArray& log2phy, const IndexArray& logcnt,
             const char* function);

/// A NumPy array returned to Python.
template <typename T>
using NumpyArray = nb::ndarray<nb::numpy, T, nb::c_contig>;
/// The three int64 arrays of a plan: `(phy2log, log2phy, logcnt)`.
using PlanArrays = std::tuple<NumpyArray<int64_t>, NumpyArray<int64_t>, NumpyArray<int64_t>>;

/// Moves `values` into a NumPy array of `shape` that owns them; no copy. Needs the GIL.
template <typename T>
NumpyArray<T> to_numpy(std::vector<T>&& values, std::initializer_list<size_t> shape) {
  auto* owned = new std::vector<T>(std::move(values));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return NumpyArray<T>(owned->data(), shape, owner);
}

/// Moves the arrays of `plan` into NumPy arrays. Needs the GIL.
PlanArrays to_numpy(Plan&& plan);

void bind_errors(nb::module_& m);
void bind_plan(nb::module_& m);
void bind_policy(nb::module_& m);
void bind_metrics(nb::module_& m);
void bind_io(nb::module_& m);
void bind_formats(nb::module_& m);
void bind_planner(nb::module_& m);

}  // namespace eplb::python
