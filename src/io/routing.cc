// read_routing: per-token routing samples from topk-jsonl files.
#include "eplb/io/routing.h"

#include <string>

#include "eplb/error.h"
#include "io/detail/files.h"
#include "io/detail/formats.h"

namespace eplb::io {

Routing read_routing(const std::filesystem::path& path, const RoutingReadOptions& options) {
  constexpr std::string_view kFunction = "read_routing";
  const std::string content = detail::read_file(kFunction, path);
  Routing routing =
      detail::parse_topk_routing(kFunction, path, content, options.num_layers, options.num_experts,
                                 options.passes);
  int64_t num_experts = options.num_experts;
  if (num_experts == 0) {
    for (const int32_t id : routing.expert_ids) num_experts = std::max<int64_t>(num_experts, id + 1);
  }
  try {
    check_routing(routing, num_experts);
  } catch (const InvalidArgument& error) {
    throw ParseError(std::string(kFunction) + ": " + detail::shown_path(path, false) + ": " +
                     error.what());
  }
  return routing;
}

}  // namespace eplb::io
