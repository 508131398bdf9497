// The replay report writers.
#include "eplb/io/replay.h"

#include <string>
#include <string_view>
#include <utility>

#include "eplb/error.h"
#include "io/detail/files.h"

namespace eplb::io {
namespace {

void append_count(std::string& out, const char* key, int64_t value) {
  out += ", \"";
  out += key;
  out += "\": ";
  // -1 stands for unknown (bytes without an expert size).
  if (value < 0) {
    out += "null";
  } else {
    detail::append_number(out, static_cast<double>(value));
  }
}

// The first plan moves nothing and has no schedule: null.
void append_schedule(std::string& out, const ReplaySchedule* schedule) {
  out += ", \"schedule\": ";
  if (schedule == nullptr) {
    out += "null";
    return;
  }
  out += "{\"rounds\": ";
  detail::append_number(out, static_cast<double>(schedule->rounds));
  append_count(out, "max_copies_per_gpu", schedule->max_copies_per_gpu);
  append_count(out, "rounds_by_layer", schedule->rounds_by_layer);
  append_count(out, "max_sent", schedule->max_sent);
  append_count(out, "max_received", schedule->max_received);
  append_count(out, "max_sent_bytes", schedule->max_sent_bytes);
  append_count(out, "max_received_bytes", schedule->max_received_bytes);
  append_count(out, "network_copies", schedule->network_copies);
  append_count(out, "local_copies", schedule->local_copies);
  append_count(out, "cross_node_copies", schedule->cross_node_copies);
  out += '}';
}

void append_chunks(std::string& out, const std::vector<ReplayChunk>& chunks) {
  out += ", \"chunks\": [";
  for (size_t idx = 0; idx < chunks.size(); ++idx) {
    out += idx > 0 ? ", {\"layers\": [" : "{\"layers\": [";
    for (size_t layer = 0; layer < chunks[idx].layers.size(); ++layer) {
      if (layer > 0) out += ", ";
      detail::append_number(out, static_cast<double>(chunks[idx].layers[layer]));
    }
    out += "]";
    append_count(out, "moved_slots", chunks[idx].moved_slots);
    out += ", \"balancedness_after\": ";
    detail::append_number(out, chunks[idx].balancedness_after);
    out += '}';
  }
  out += ']';
}

void append_run(std::string& out, const ReplayRun& run, std::string_view indent) {
  out += "\"policy\": ";
  detail::append_json_string(out, run.name);
  out += ",\n";
  out += indent;
  out += "\"interval\": ";
  detail::append_number(out, static_cast<double>(run.interval));
  out += ",\n";
  out += indent;
  out += "\"windows\": [";
  for (size_t idx = 0; idx < run.result.windows.size(); ++idx) {
    const ReplayWindow& window = run.result.windows[idx];
    out += idx > 0 ? ",\n" : "\n";
    out += indent;
    out += "  {\"window\": ";
    detail::append_number(out, static_cast<double>(window.window));
    out += ", \"in_sample\": ";
    detail::append_number(out, window.in_sample);
    out += ", \"next_window\": ";
    detail::append_number(out, window.next_window);
    out += ", \"moved_slots\": ";
    detail::append_number(out, static_cast<double>(window.moved_slots));
    out += ", \"moved_fraction\": ";
    detail::append_number(out, window.moved_fraction);
    out += window.skipped ? ", \"skipped\": true" : ", \"skipped\": false";
    // The self-tuning history's choice; null for a fixed history.
    out += ", \"history\": ";
    if (window.history.empty()) {
      out += "null";
    } else {
      detail::append_json_string(out, window.history);
    }
    append_schedule(out, idx > 0 ? &window.schedule : nullptr);
    if (run.layers_per_chunk > 0) append_chunks(out, window.chunks);
    out += '}';
  }
  out += "\n";
  out += indent;
  out += "],\n";
  out += indent;
  const ReplaySummary& summary = run.result.summary;
  out += "\"summary\": {\"in_sample\": ";
  detail::append_number(out, summary.in_sample);
  out += ", \"next_window\": ";
  detail::append_number(out, summary.next_window);
  out += ", \"replans\": ";
  detail::append_number(out, static_cast<double>(summary.num_replans));
  out += ", \"skipped\": ";
  detail::append_number(out, static_cast<double>(summary.num_skipped));
  // No re-plan moved anything because there was none: null, not a measured 0.
  out += ", \"moved_fraction\": ";
  if (summary.num_replans > 0) {
    detail::append_number(out, summary.moved_fraction);
  } else {
    out += "null";
  }
  for (const auto& [key, value] :
       {std::pair{"mean_rounds", summary.mean_rounds},
        std::pair{"max_rounds", static_cast<double>(summary.max_rounds)},
        std::pair{"cross_node_share", summary.cross_node_share}}) {
    out += ", \"";
    out += key;
    out += "\": ";
    if (summary.num_replans > 0) {
      detail::append_number(out, value);
    } else {
      out += "null";
    }
  }
  out += ", \"plan_ms\": ";
  detail::append_number(out, summary.plan_ms);
  out += ", \"observe_ms\": ";
  detail::append_number(out, summary.observe_ms);
  out += '}';
}

}  // namespace

std::string replay_json(std::span<const ReplayRun> runs) {
  if (runs.empty()) throw InvalidArgument("replay_json: runs is empty");
  std::string out = "{\n  ";
  append_run(out, runs.front(), "  ");
  out += ",\n  \"runs\": [";
  for (size_t idx = 0; idx < runs.size(); ++idx) {
    out += idx > 0 ? ",\n    {" : "\n    {";
    append_run(out, runs[idx], "      ");
    out += '}';
  }
  out += "\n  ]\n}\n";
  return out;
}

void write_replay_json(const std::filesystem::path& path, std::span<const ReplayRun> runs) {
  detail::write_file("write_replay_json", path, replay_json(runs));
}

}  // namespace eplb::io
