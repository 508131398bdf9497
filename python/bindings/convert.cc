#include "bindings.h"

#include <span>
#include <sstream>
#include <string>
#include <string_view>

#include "eplb/error.h"

namespace eplb::python {
namespace {

template <typename T>
LoadMatrix view_as(const InputArray& loads, const char* function, const char* name) {
  const auto* data = static_cast<const T*>(loads.data());
  try {
    return LoadMatrix(std::span<const T>(data, loads.size()), static_cast<int64_t>(loads.shape(0)),
                      static_cast<int64_t>(loads.shape(1)));
  } catch (const InvalidArgument& error) {
    throw InvalidArgument(rename_loads(error.what(), function, name));
  }
}

std::string dtype_name(nb::dlpack::dtype dtype) {
  std::string kind;
  switch (static_cast<nb::dlpack::dtype_code>(dtype.code)) {
    case nb::dlpack::dtype_code::Int: kind = "int"; break;
    case nb::dlpack::dtype_code::UInt: kind = "uint"; break;
    case nb::dlpack::dtype_code::Float: kind = "float"; break;
    case nb::dlpack::dtype_code::Bfloat: kind = "bfloat"; break;
    case nb::dlpack::dtype_code::Complex: kind = "complex"; break;
    case nb::dlpack::dtype_code::Bool: return "bool";
    default: kind = "code" + std::to_string(dtype.code) + "_"; break;
  }
  return kind + std::to_string(dtype.bits);
}

// The shapes of the three arrays must agree before their sizes are trusted.
void check_dim(const IndexArray& array, size_t dim, int64_t expected, const char* function,
               const char* name, const char* what) {
  if (static_cast<int64_t>(array.shape(dim)) != expected) {
    std::ostringstream message;
    message << function << ": " << name << ".shape[" << dim << "] = " << array.shape(dim)
            << " must equal " << what << " = " << expected;
    throw InvalidArgument(message.str());
  }
}

}  // namespace

std::string rename_loads(std::string_view message, const char* function, std::string_view name) {
  constexpr std::string_view kEntry = "loads: loads[";
  constexpr std::string_view kPrefix = "loads: ";
  std::string renamed = std::string(function) + ": " + std::string(name);
  if (message.starts_with(kEntry)) return renamed + std::string(message.substr(kEntry.size() - 1));
  if (message.starts_with(kPrefix)) {
    return renamed + ": " + std::string(message.substr(kPrefix.size()));
  }
  return std::string(message);
}

LoadMatrix to_load_matrix(const InputArray& loads, const char* function, const char* name) {
  if (loads.ndim() != 2) {
    std::ostringstream message;
    message << function << ": " << name << ".ndim = " << loads.ndim()
            << " must be 2 ([num_layers, num_experts])";
    throw InvalidArgument(message.str());
  }
  const nb::dlpack::dtype dtype = loads.dtype();
  if (dtype == nb::dtype<double>()) return view_as<double>(loads, function, name);
  if (dtype == nb::dtype<float>()) return view_as<float>(loads, function, name);
  if (dtype == nb::dtype<int32_t>()) return view_as<int32_t>(loads, function, name);
  if (dtype == nb::dtype<int64_t>()) return view_as<int64_t>(loads, function, name);
  std::ostringstream message;
  message << function << ": " << name << ".dtype = " << dtype_name(dtype)
          << " must be float64, float32, int32 or int64";
  throw InvalidArgument(message.str());
}

void check_ndim(const IndexArray& array, size_t ndim, const char* function, const char* name) {
  if (array.ndim() != ndim) {
    std::ostringstream message;
    message << function << ": " << name << ".ndim = " << array.ndim() << " must be " << ndim;
    throw InvalidArgument(message.str());
  }
}

PlanArrays to_numpy(Plan&& plan) {
  const auto layers = static_cast<size_t>(plan.num_layers);
  const auto experts = static_cast<size_t>(plan.num_experts);
  return {to_numpy(std::move(plan.phy2log), {layers, static_cast<size_t>(plan.num_replicas)}),
          to_numpy(std::move(plan.log2phy),
                   {layers, experts, static_cast<size_t>(plan.max_replicas)}),
          to_numpy(std::move(plan.logcnt), {layers, experts})};
}

std::vector<int64_t> to_vector(const IndexArray& array) {
  return std::vector<int64_t>(array.data(), array.data() + array.size());
}

Plan to_plan(const IndexArray& phy2log, const IndexArray& log2phy, const IndexArray& logcnt,
             const char* function) {
  check_ndim(phy2log, 2, function, "phy2log");
  check_ndim(log2phy, 3, function, "log2phy");
  check_ndim(logcnt, 2, function, "logcnt");
  Plan plan;
  plan.num_layers = static_cast<int64_t>(phy2log.shape(0));
  plan.num_replicas = static_cast<int64_t>(phy2log.shape(1));
  plan.num_experts = static_cast<int64_t>(logcnt.shape(1));
  plan.max_replicas = static_cast<int64_t>(log2phy.shape(2));
  check_dim(logcnt, 0, plan.num_layers, function, "logcnt", "num_layers");
  check_dim(log2phy, 0, plan.num_layers, function, "log2phy", "num_layers");
  check_dim(log2phy, 1, plan.num_experts, function, "log2phy", "num_experts");
  plan.phy2log = to_vector(phy2log);
  plan.log2phy = to_vector(log2phy);
  plan.logcnt = to_vector(logcnt);
  return plan;
}

}  // namespace eplb::python
