// End-to-end tests of `eplb replay --move-budget`, `--min-gain` and `--layers-per-chunk`.
#include <string>

#include <gtest/gtest.h>

#include "cli_runner.h"

namespace eplb {
namespace {

TEST_F(CliTest, ReplayMoveBudgetAndMinGain) {
  const std::string trace = path("trace.json");
  ASSERT_EQ(run("gen -q --steps 200 --layers 2 --experts 64 --seed 5 -o " + quote(trace)).exit_code,
            0);
  const std::string replay = "replay " + quote(trace) + " --interval 50";
  const std::string json = path("replay.json");
  const RunResult budgeted = run(replay + " --move-budget 0.05 --json " + quote(json));
  ASSERT_EQ(budgeted.exit_code, 0) << describe(budgeted);
  EXPECT_NE(budgeted.out.find("replan moving at most 5.00 % of the slots"), std::string::npos)
      << describe(budgeted);
  // 2 layers x 96 slots: at most 9 slots per re-plan.
  const std::string report = read_file(json);
  for (size_t at = 0; (at = report.find("\"moved_slots\": ", at)) != std::string::npos; ++at) {
    EXPECT_LE(std::stoi(report.substr(at + 15, 4)), 9) << report;
  }
  const RunResult kept = run(replay + " --move-budget 0.05 --min-gain 0.5 --json " + quote(json));
  ASSERT_EQ(kept.exit_code, 0) << describe(kept);
  EXPECT_NE(kept.out.find("kept when it gains under 0.5000 balancedness"), std::string::npos)
      << describe(kept);
  EXPECT_NE(kept.out.find("2 of 2 re-plans (gain under --min-gain)"), std::string::npos)
      << describe(kept);
  EXPECT_NE(read_file(json).find("\"skipped\": 2"), std::string::npos) << read_file(json);

  const RunResult both = run(replay + " --move-budget 0.05 --tolerance 0.01");
  EXPECT_EQ(both.exit_code, 2) << describe(both);
  EXPECT_NE(both.err.find("excludes"), std::string::npos) << describe(both);
  const RunResult alone = run(replay + " --min-gain 0.01");
  EXPECT_EQ(alone.exit_code, 2) << describe(alone);
  EXPECT_NE(alone.err.find("--min-gain needs a re-plan mode: --tolerance or --move-budget"),
            std::string::npos)
      << describe(alone);
  for (const std::string value : {"nan", "-0.1", "1.5", "inf"}) {
    const RunResult bad = run(replay + " --move-budget " + value);
    EXPECT_EQ(bad.exit_code, 2) << describe(bad);
    EXPECT_NE(bad.err.find("--move-budget: value " + value + " must be a finite number in [0, 1]"),
              std::string::npos)
        << describe(bad);
  }
}

TEST_F(CliTest, ReplayReportsTransferBytesWithTheExpertSize) {
  const std::string trace = path("trace.json");
  ASSERT_EQ(run("gen -q --steps 150 --layers 2 --experts 64 --seed 5 -o " + quote(trace)).exit_code,
            0);
  const std::string replay = "replay " + quote(trace) + " --interval 50 --tolerance 0.005 -q";
  const RunResult sized = run(replay + " --expert-bytes 1000 --json -");
  ASSERT_EQ(sized.exit_code, 0) << describe(sized);
  const size_t at = sized.out.find("\"max_received_bytes\": ");
  ASSERT_NE(at, std::string::npos) << sized.out;
  const size_t copies = sized.out.find("\"max_received\": ");
  ASSERT_NE(copies, std::string::npos) << sized.out;
  EXPECT_EQ(std::stoll(sized.out.substr(at + 22, 12)),
            1000 * std::stoll(sized.out.substr(copies + 16, 12)))
      << sized.out;
  const RunResult unsized = run(replay + " --json -");
  EXPECT_NE(unsized.out.find("\"max_received_bytes\": null"), std::string::npos) << unsized.out;
  const RunResult bad = run(replay + " --expert-bytes -1");
  EXPECT_EQ(bad.exit_code, 2) << describe(bad);
  EXPECT_NE(bad.err.find("--expert-bytes: value -1 must be an integer >= 0"), std::string::npos)
      << describe(bad);
}

TEST_F(CliTest, ReplayListsLayerChunks) {
  const std::string trace = path("trace.json");
  ASSERT_EQ(run("gen -q --steps 150 --layers 5 --experts 64 --family switch --seed 2 -o " +
                quote(trace))
                .exit_code,
            0);
  const std::string replay = "replay " + quote(trace) + " --interval 50 --move-budget 0.2";
  const RunResult chunked = run(replay + " --layers-per-chunk 2 --json -");
  ASSERT_EQ(chunked.exit_code, 0) << describe(chunked);
  EXPECT_NE(chunked.out.find("\"chunks\": [{\"layers\": ["), std::string::npos) << chunked.out;
  const RunResult text = run(replay + " --layers-per-chunk 2");
  ASSERT_EQ(text.exit_code, 0) << describe(text);
  EXPECT_NE(text.out.find("per re-plan; the first holds"), std::string::npos) << describe(text);
  EXPECT_EQ(run(replay + " --json -").out.find("\"chunks\""), std::string::npos);

  const RunResult alone = run("replay " + quote(trace) + " --interval 50 --layers-per-chunk 2");
  EXPECT_EQ(alone.exit_code, 2) << describe(alone);
  EXPECT_NE(alone.err.find("--layers-per-chunk needs a re-plan mode"), std::string::npos)
      << describe(alone);
  const RunResult zero = run(replay + " --layers-per-chunk 0");
  EXPECT_EQ(zero.exit_code, 2) << describe(zero);
  EXPECT_NE(zero.err.find("--layers-per-chunk"), std::string::npos) << describe(zero);
}

}  // namespace
}  // namespace eplb
