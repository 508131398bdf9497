// The replay report: JSON written by write_replay_json (tests/python/test_plot.py draws it).

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "eplb/io/replay.h"

namespace eplb::io {
namespace {

// Two planners over three windows with made-up scores; the second moves more slots.
std::vector<ReplayRun> sample_runs() {
  std::vector<ReplayRun> runs;
  for (int64_t run = 0; run < 2; ++run) {
    ReplayRun replay_run{.name = run == 0 ? "balanced" : "deepseek",
                         .interval = 100,
                         .layers_per_chunk = 0,
                         .result = {}};
    for (int64_t window = 0; window < 3; ++window) {
      replay_run.result.windows.push_back(
          {.window = window,
           .in_sample = 0.95 - 0.01 * static_cast<double>(run),
           .next_window = 0.75 + 0.01 * static_cast<double>(window),
           .moved_slots = window == 0 ? 0 : 10 * (run + 1),
           .moved_fraction = window == 0 ? 0 : 0.1 * static_cast<double>(run + 1),
           .skipped = run == 1 && window == 2,
           .schedule = {.rounds = window == 0 ? 0 : 3,
                        .max_copies_per_gpu = window == 0 ? 0 : 3,
                        .rounds_by_layer = window == 0 ? 0 : 5,
                        .max_sent = window == 0 ? 0 : 2,
                        .max_received = window == 0 ? 0 : 3,
                        .network_copies = window == 0 ? 0 : 9,
                        .local_copies = window == 0 ? 0 : 10 * (run + 1) - 9,
                        .cross_node_copies = window == 0 ? 0 : 4,
                        .max_sent_bytes = window == 0 ? -1 : 2000,
                        .max_received_bytes = window == 0 ? -1 : 3000},
           .history = run == 0 ? (window == 0 ? "decay:16" : "last") : "",
           .chunks = {},
           .chunks_start = 1});
    }
    replay_run.result.summary = {.in_sample = 0.95,
                                 .next_window = 0.76,
                                 .num_replans = 2,
                                 .num_skipped = run,
                                 .moved_fraction = 0.1,
                                 .mean_rounds = 3,
                                 .max_rounds = 3,
                                 .cross_node_share = 4.0 / 9,
                                 .plan_ms = 1.5};
    runs.push_back(replay_run);
  }
  return runs;
}

TEST(ReplayReport, JsonHoldsTheFirstRunAndEveryRun) {
  const std::vector<ReplayRun> runs = sample_runs();
  simdjson::dom::parser parser;
  const simdjson::padded_string text(replay_json(runs));
  const simdjson::dom::element report = parser.parse(text);
  EXPECT_EQ(std::string_view(report["policy"]), "balanced");
  EXPECT_EQ(int64_t(report["interval"]), 100);
  const simdjson::dom::array windows = report["windows"];
  ASSERT_EQ(windows.size(), 3u);
  EXPECT_EQ(int64_t(windows.at(2)["window"]), 2);
  EXPECT_DOUBLE_EQ(double(windows.at(2)["next_window"]), 0.77);
  EXPECT_DOUBLE_EQ(double(windows.at(1)["in_sample"]), 0.95);
  EXPECT_EQ(int64_t(windows.at(1)["moved_slots"]), 10);
  EXPECT_DOUBLE_EQ(double(windows.at(1)["moved_fraction"]), 0.1);
  EXPECT_DOUBLE_EQ(double(windows.at(0)["moved_fraction"]), 0);
  EXPECT_TRUE(windows.at(0)["schedule"].is_null());
  const simdjson::dom::element schedule = windows.at(1)["schedule"];
  EXPECT_EQ(int64_t(schedule["rounds"]), 3);
  EXPECT_EQ(int64_t(schedule["max_copies_per_gpu"]), 3);
  EXPECT_EQ(int64_t(schedule["rounds_by_layer"]), 5);
  EXPECT_EQ(int64_t(schedule["max_sent"]), 2);
  EXPECT_EQ(int64_t(schedule["max_received"]), 3);
  EXPECT_EQ(int64_t(schedule["max_sent_bytes"]), 2000);
  EXPECT_EQ(int64_t(schedule["max_received_bytes"]), 3000);
  EXPECT_EQ(int64_t(schedule["network_copies"]), 9);
  EXPECT_EQ(int64_t(schedule["local_copies"]), 1);
  EXPECT_EQ(int64_t(schedule["cross_node_copies"]), 4);
  EXPECT_DOUBLE_EQ(double(report["summary"]["mean_rounds"]), 3);
  EXPECT_EQ(int64_t(report["summary"]["max_rounds"]), 3);
  EXPECT_DOUBLE_EQ(double(report["summary"]["cross_node_share"]), 4.0 / 9);
  EXPECT_DOUBLE_EQ(double(report["summary"]["moved_fraction"]), 0.1);
  EXPECT_EQ(int64_t(report["summary"]["replans"]), 2);
  EXPECT_EQ(int64_t(report["summary"]["skipped"]), 0);
  EXPECT_FALSE(bool(windows.at(2)["skipped"]));
  EXPECT_EQ(std::string_view(windows.at(0)["history"]), "decay:16");
  EXPECT_EQ(std::string_view(windows.at(1)["history"]), "last");
  EXPECT_TRUE(report["runs"].at(1)["windows"].at(0)["history"].is_null());
  EXPECT_TRUE(bool(report["runs"].at(1)["windows"].at(2)["skipped"]));
  EXPECT_EQ(int64_t(report["runs"].at(1)["summary"]["skipped"]), 1);
  EXPECT_DOUBLE_EQ(double(report["summary"]["next_window"]), 0.76);
  const simdjson::dom::array all = report["runs"];
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(std::string_view(all.at(1)["policy"]), "deepseek");
  EXPECT_EQ(int64_t(all.at(1)["windows"].at(2)["moved_slots"]), 20);
  EXPECT_THROW(replay_json({}), InvalidArgument);
}

TEST(ReplayReport, ChunkedRunsListTheirChunks) {
  std::vector<ReplayRun> runs = sample_runs();
  runs[0].layers_per_chunk = 2;
  runs[0].result.windows[1].chunks = {{.layers = {3, 1}, .moved_slots = 6, .balancedness_after = 0.9},
                                      {.layers = {0}, .moved_slots = 4, .balancedness_after = 0.95}};
  simdjson::dom::parser parser;
  const simdjson::padded_string text(replay_json(runs));
  const simdjson::dom::element report = parser.parse(text);
  const simdjson::dom::array chunks = report["windows"].at(1)["chunks"];
  ASSERT_EQ(chunks.size(), 2u);
  const simdjson::dom::array layers = chunks.at(0)["layers"];
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(int64_t(layers.at(0)), 3);
  EXPECT_EQ(int64_t(layers.at(1)), 1);
  EXPECT_EQ(int64_t(chunks.at(1)["moved_slots"]), 4);
  EXPECT_DOUBLE_EQ(double(chunks.at(1)["balancedness_after"]), 0.95);
  // The first plan has no chunk; a run without chunks has no key.
  EXPECT_EQ(simdjson::dom::array(report["windows"].at(0)["chunks"]).size(), 0u);
  EXPECT_EQ(report["runs"].at(1)["windows"].at(1)["chunks"].error(), simdjson::NO_SUCH_FIELD);
}

// Two windows give one plan and no re-plan: no moved fraction to report.
TEST(ReplayReport, OnePlanHasNoMovedFraction) {
  std::vector<ReplayRun> runs = sample_runs();
  for (ReplayRun& run : runs) {
    run.result.windows.resize(1);
    run.result.summary.num_replans = 0;
    run.result.summary.moved_fraction = 0;
  }
  simdjson::dom::parser parser;
  const simdjson::padded_string text(replay_json(runs));
  const simdjson::dom::element report = parser.parse(text);
  EXPECT_EQ(int64_t(report["summary"]["replans"]), 0);
  EXPECT_TRUE(report["summary"]["moved_fraction"].is_null());
  EXPECT_TRUE(report["summary"]["mean_rounds"].is_null());
  EXPECT_TRUE(report["summary"]["cross_node_share"].is_null());
}

}  // namespace
}  // namespace eplb::io
