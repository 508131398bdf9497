// TensorRT-LLM expert statistics: rank<N>.safetensors files of per-iteration, per-layer counts.
#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "eplb/error.h"
#include "eplb/topology.h"  // kMaxLayers, kMaxExperts
#include "io/detail/files.h"
#include "io/detail/formats.h"
#include "io/detail/json_errors.h"

namespace eplb::io::detail {
namespace {

namespace dom = simdjson::dom;
namespace fs = std::filesystem;

constexpr size_t kHeaderLengthBytes = 8;

struct DType {
  std::string_view name;
  size_t size;
};

// The element types safetensors names; counts are stored as I64 by TensorRT-LLM (bincount).
constexpr DType kDTypes[] = {{"I8", 1},  {"U8", 1},  {"I16", 2}, {"U16", 2},
                             {"I32", 4}, {"U32", 4}, {"I64", 8}, {"U64", 8},
                             {"F16", 2}, {"BF16", 2}, {"F32", 4}, {"F64", 8}};

uint64_t load_le(const unsigned char* bytes, size_t size) {
  uint64_t bits = 0;
  for (size_t i = size; i-- > 0;) bits = (bits << 8) | bytes[i];
  return bits;
}

double half_to_double(uint64_t bits) {
  const int exponent = static_cast<int>((bits >> 10) & 0x1f);
  const double mantissa = static_cast<double>(bits & 0x3ff);
  const double sign = (bits & 0x8000) != 0 ? -1.0 : 1.0;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  if (exponent == 31) return mantissa == 0 ? sign * INFINITY : NAN;
  return sign * std::ldexp(mantissa + 1024, exponent - 25);
}

// Converts the little-endian element at `bytes` of type `dtype` to a double.
double element_value(std::string_view dtype, const unsigned char* bytes, size_t size) {
  const uint64_t bits = load_le(bytes, size);
  if (dtype == "F64") return std::bit_cast<double>(bits);
  if (dtype == "F32") return std::bit_cast<float>(static_cast<uint32_t>(bits));
  if (dtype == "BF16") return std::bit_cast<float>(static_cast<uint32_t>(bits << 16));
  if (dtype == "F16") return half_to_double(bits);
  if (dtype.front() == 'U') return static_cast<double>(bits);
  // Signed integers: sign-extend from `size` bytes.
  const unsigned shift = static_cast<unsigned>(64 - 8 * size);
  return static_cast<double>(static_cast<int64_t>(bits << shift) >> shift);
}

bool parse_index(std::string_view text, int64_t& value) {
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  return !text.empty() && error == std::errc() && stop == end && value >= 0;
}

// Sums of the counts of every (iteration, layer) over the ranks.
using Counts = std::map<std::pair<int64_t, int64_t>, std::vector<double>>;

class StatisticsReader {
 public:
  StatisticsReader(std::string_view function, int64_t num_experts)
      : function_(function), num_experts_(num_experts) {}

  // Adds the tensors of one rank file to the sums.
  void add_file(const fs::path& path, const std::string& content) {
    path_ = &path;
    if (content.size() < kHeaderLengthBytes) fail("truncated safetensors file (no header length)");
    const uint64_t header_size =
        load_le(reinterpret_cast<const unsigned char*>(content.data()), kHeaderLengthBytes);
    if (header_size > content.size() - kHeaderLengthBytes) {
      fail("truncated safetensors file: the header takes " + std::to_string(header_size) +
           " bytes, the file has " + std::to_string(content.size() - kHeaderLengthBytes));
    }
    const std::string_view data =
        std::string_view(content).substr(kHeaderLengthBytes + header_size);
    const simdjson::padded_string header(content.data() + kHeaderLengthBytes, header_size);
    JsonErrors errors(function_, path);
    errors.set_prefix("header: ");
    dom::parser parser;
    dom::object tensors;
    if (const auto error = parser.parse(header).get_object().get(tensors)) {
      errors.fail("", error, "expected a JSON object of tensors");
    }
    for (const auto [name, info] : tensors) {
      if (name == "__metadata__") continue;
      add_tensor(name, info, data, errors);
    }
  }

  Trace finish(const fs::path& path) {
    path_ = &path;
    std::set<int64_t> iterations;
    int64_t max_layer = -1;
    for (const auto& [key, counts] : counts_) {
      iterations.insert(key.first);
      max_layer = std::max(max_layer, key.second);
      layers_.insert(key.second);
    }
    if (counts_.empty()) fail("no expert statistics (no \"<iteration>_<layer>\" tensors)");
    // Each iteration must record the same layers, or steps would be compared unevenly.
    for (const int64_t iteration : iterations) {
      for (const int64_t layer : layers_) {
        if (!counts_.contains({iteration, layer})) {
          fail("tensor \"" + std::to_string(iteration) + "_" + std::to_string(layer) +
               "\" is missing: every iteration must record every layer");
        }
      }
    }
    // Rows keep the model's layer numbering; layers never recorded (dense ones) stay zero.
    Trace trace;
    trace.num_steps = static_cast<int64_t>(iterations.size());
    trace.num_layers = max_layer + 1;
    trace.num_experts = num_experts_;
    if (trace.num_steps * trace.num_layers * trace.num_experts > kMaxBuiltValues) {
      fail("too large: " + std::to_string(trace.num_steps) + " iterations x " +
           std::to_string(trace.num_layers) + " layers x " + std::to_string(num_experts_) +
           " experts is more than " + std::to_string(kMaxBuiltValues) + " values");
    }
    trace.values.assign(static_cast<size_t>(trace.num_steps * trace.num_layers * num_experts_), 0);
    int64_t step = 0;
    for (const int64_t iteration : iterations) {
      for (const int64_t layer : layers_) {
        const std::vector<double>& counts = counts_.at({iteration, layer});
        std::copy(counts.begin(), counts.end(),
                  trace.values.begin() + (step * trace.num_layers + layer) * num_experts_);
      }
      ++step;
    }
    return trace;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw_parse_error(function_, *path_, what);
  }

  void add_tensor(std::string_view name, const dom::element& info, std::string_view data,
                  const JsonErrors& errors) {
    const std::string pointer = child("", name);
    const std::string tensor = "tensor \"" + std::string(name) + "\": ";
    const size_t split = name.find('_');
    int64_t iteration = 0;
    int64_t layer = 0;
    if (split == std::string_view::npos || !parse_index(name.substr(0, split), iteration) ||
        !parse_index(name.substr(split + 1), layer)) {
      fail(tensor + "name must be \"<iteration>_<layer>\"");
    }
    if (layer >= kMaxLayers) fail(tensor + "layer must be less than " + std::to_string(kMaxLayers));
    std::string_view dtype;
    if (info["dtype"].get_string().get(dtype)) errors.fail(pointer + "/dtype", "expected a string");
    const auto* type = std::find_if(std::begin(kDTypes), std::end(kDTypes),
                                    [&](const DType& d) { return d.name == dtype; });
    if (type == std::end(kDTypes)) fail(tensor + "unsupported dtype " + std::string(dtype));
    dom::array shape;
    int64_t length = 0;
    if (info["shape"].get_array().get(shape) || shape.size() != 1 ||
        shape.at(0).get_int64().get(length)) {
      errors.fail(pointer + "/shape", "expected [num_experts]");
    }
    if (num_experts_ == 0) {
      if (length <= 0 || length > kMaxExperts) {
        fail(tensor + "length " + std::to_string(length) + " must be in [1, " +
             std::to_string(kMaxExperts) + "]");
      }
      num_experts_ = length;
    } else if (length != num_experts_) {
      fail(tensor + "shape [" + std::to_string(length) + "] must be [" +
           std::to_string(num_experts_) + "] (num_experts)");
    }
    dom::array offsets;
    uint64_t begin = 0;
    uint64_t end = 0;
    if (info["data_offsets"].get_array().get(offsets) || offsets.size() != 2 ||
        offsets.at(0).get_uint64().get(begin) || offsets.at(1).get_uint64().get(end)) {
      errors.fail(pointer + "/data_offsets", "expected [begin, end]");
    }
    const uint64_t num_bytes = static_cast<uint64_t>(length) * type->size;
    if (begin > end || end > data.size() || end - begin != num_bytes) {
      fail(tensor + "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
           "] must span " + std::to_string(num_bytes) + " bytes inside the " +
           std::to_string(data.size()) + " bytes of data (truncated file?)");
    }
    std::vector<double>& sums = counts_[{iteration, layer}];
    sums.resize(static_cast<size_t>(length));
    const auto* bytes = reinterpret_cast<const unsigned char*>(data.data() + begin);
    for (size_t i = 0; i < sums.size(); ++i) {
      const double value = element_value(dtype, bytes + i * type->size, type->size);
      if (!is_valid_load(value)) {
        fail(tensor + "[" + std::to_string(i) + "]: " + bad_load_message(value));
      }
      sums[i] += value;
    }
  }

  std::string_view function_;
  const fs::path* path_ = nullptr;
  int64_t num_experts_;
  Counts counts_;
  std::set<int64_t> layers_;
};

// Reads `num_experts` from meta_info.json (0 when the file or the field is absent).
int64_t read_meta_num_experts(std::string_view function, const fs::path& path) {
  std::error_code ignored;
  if (!fs::exists(path, ignored)) return 0;
  const std::string content = read_file(function, path);
  JsonErrors errors(function, path);
  dom::parser parser;
  dom::object meta;
  if (const auto error = parser.parse(content).get_object().get(meta)) {
    errors.fail("", error, "expected a JSON object");
  }
  dom::element value;
  if (meta["num_experts"].get(value)) return 0;
  int64_t num_experts = 0;
  if (value.get_int64().get(num_experts) || num_experts <= 0 || num_experts > kMaxExperts) {
    errors.fail("/num_experts", "expected an integer in [1, " + std::to_string(kMaxExperts) + "]");
  }
  return num_experts;
}

// Returns the rank files of a statistics folder ordered by rank, so sums are reproducible.
std::vector<fs::path> rank_files(std::string_view function, const fs::path& dir) {
  std::vector<std::pair<int64_t, fs::path>> ranked;
  std::error_code error;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    constexpr std::string_view kPrefix = "rank";
    constexpr std::string_view kSuffix = ".safetensors";
    int64_t rank = 0;
    if (name.size() > kPrefix.size() + kSuffix.size() && name.starts_with(kPrefix) &&
        name.ends_with(kSuffix) &&
        parse_index(std::string_view(name).substr(kPrefix.size(),
                                                  name.size() - kPrefix.size() - kSuffix.size()),
                    rank)) {
      ranked.emplace_back(rank, it->path());
    }
  }
  if (error) throw_io_error(function, dir, error.value());
  if (ranked.empty()) {
    throw_parse_error(
        function, dir,
        "no rank<N>.safetensors files (TensorRT-LLM expert statistics) in the folder");
  }
  std::sort(ranked.begin(), ranked.end());
  std::vector<fs::path> files;
  for (auto& [rank, file] : ranked) files.push_back(std::move(file));
  return files;
}

}  // namespace

bool looks_like_safetensors(std::string_view content) {
  // The header length is below 4 GiB, so its high bytes are zero: never so in a text file. The
  // length is not compared with the size, so that a truncated file still gets its own error.
  if (content.size() <= kHeaderLengthBytes) return false;
  const uint64_t header_size =
      load_le(reinterpret_cast<const unsigned char*>(content.data()), kHeaderLengthBytes);
  return header_size < (uint64_t{1} << 32) && content[kHeaderLengthBytes] == '{';
}

Trace parse_trtllm_statistics_file(std::string_view function, const std::filesystem::path& path,
                                   const std::string& content) {
  StatisticsReader reader(function, 0);
  reader.add_file(path, content);
  return reader.finish(path);
}

Trace read_trtllm_statistics(std::string_view function, const std::filesystem::path& path) {
  std::error_code error;
  if (!fs::is_directory(path, error)) {
    return parse_trtllm_statistics_file(function, path, read_file(function, path));
  }
  StatisticsReader reader(function, read_meta_num_experts(function, path / "meta_info.json"));
  for (const fs::path& file : rank_files(function, path)) {
    reader.add_file(file, read_file(function, file));
  }
  return reader.finish(path);
}

}  // namespace eplb::io::detail
