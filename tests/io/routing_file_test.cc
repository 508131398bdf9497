// read_routing: topk-jsonl routing samples and their malformed variants.

#include <string>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "eplb/io/routing.h"
#include "temp_dir.h"

namespace eplb::io {
namespace {

// Two forward passes of two layers: pass 0 routes two tokens, pass 1 one.
constexpr std::string_view kTwoPasses =
    "{\"topk_weights\": [2, 2], \"topk_ids\": [[0, 1], [1, 2]]}\n"  // pass 0, layer 0
    "{\"topk_ids\": [[2, 3], [0, 3]]}\n"                            // pass 0, layer 1
    "\n"
    "{\"topk_ids\": [[3, 1]], \"topk_weights\": [[0.5, 0.5]]}\n"    // pass 1, layer 0
    "{\"topk_ids\": [[1, 0]]}\n";                                   // pass 1, layer 1

TEST(RoutingFile, TokensArePassAfterPass) {
  const testing::TempDir dir;
  const Routing routing = read_routing(dir.write("r.jsonl", kTwoPasses), {.num_layers = 2});
  EXPECT_EQ(routing.num_layers, 2);
  EXPECT_EQ(routing.num_tokens, 3);
  EXPECT_EQ(routing.top_k, 2);
  EXPECT_EQ(routing.expert_ids, (std::vector<int32_t>{0, 1, 1, 2, 3, 1,  // layer 0: tokens 0-2
                                                      2, 3, 0, 3, 1, 0}));
  EXPECT_EQ(routing.loads(4).values, (std::vector<double>{1, 3, 1, 1, 2, 1, 1, 2}));
}

TEST(RoutingFile, PassesChooseTheTokens) {
  const testing::TempDir dir;
  const std::filesystem::path path = dir.write("r.jsonl", kTwoPasses);
  const Routing second = read_routing(path, {.num_layers = 2, .passes = {.begin = 1, .end = 2}});
  EXPECT_EQ(second.num_tokens, 1);
  EXPECT_EQ(second.expert_ids, (std::vector<int32_t>{3, 1, 1, 0}));
  EXPECT_EQ(read_routing(path, {.num_layers = 2, .passes = {.begin = 0, .end = 1}}).num_tokens, 2);
  try {
    (void)read_routing(path, {.num_layers = 2, .passes = {.begin = 2, .end = -1}});
    FAIL() << "no error";
  } catch (const InvalidArgument& error) {
    EXPECT_NE(std::string(error.what()).find("passes 2: out of range for a file of 2 forward passes"),
              std::string::npos)
        << error.what();
  }
}

std::string error_of(std::string_view content, RoutingReadOptions options = {.num_layers = 2}) {
  const testing::TempDir dir;
  try {
    (void)read_routing(dir.write("bad.jsonl", content), options);
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(RoutingFile, MalformedFilesNameTheFileAndTheLine) {
  // A layer of pass 0 routes another number of tokens.
  std::string error = error_of("{\"topk_ids\": [[0, 1], [1, 2]]}\n{\"topk_ids\": [[2, 3]]}\n");
  EXPECT_NE(error.find("bad.jsonl"), std::string::npos) << error;
  EXPECT_NE(error.find("line 2 (layer 1 of forward pass 0) routes 1 tokens but line 1"),
            std::string::npos)
      << error;
  error = error_of("{\"topk_ids\": [[0, 1], [1, 2, 3]]}\n{\"topk_ids\": [[2, 3], [0, 1]]}\n");
  EXPECT_NE(error.find("line 1: /topk_ids/1: 3 expert ids where the first token has 2"),
            std::string::npos)
      << error;
  error = error_of("{\"topk_ids\": [0, 1]}\n{\"topk_ids\": [2, 3]}\n");
  EXPECT_NE(error.find("line 1: /topk_ids/0: a routing sample needs each token as an array"),
            std::string::npos)
      << error;
  error = error_of("{\"topk_ids\": [[0, 1]]}\n{\"topk_ids\": [[2, 9]]}\n",
                   {.num_layers = 2, .num_experts = 4});
  EXPECT_NE(error.find("line 2: /topk_ids/0/1: expert id 9 must be in [0, 4)"), std::string::npos)
      << error;
  error = error_of("{\"topk_ids\": [[0, 1]]}\n{\"topk_ids\": [[2, 2]]}\n");
  EXPECT_NE(error.find("layer 1 token 0 is routed twice to expert 2"), std::string::npos) << error;
  EXPECT_NE(error.find("bad.jsonl"), std::string::npos) << error;
  error = error_of("{\"topk_ids\": [[0, 1]]}\n");
  EXPECT_NE(error.find("1 lines are not a whole number of forward passes"), std::string::npos)
      << error;
  EXPECT_NE(error_of("").find("empty file"), std::string::npos);
  EXPECT_NE(error_of(kTwoPasses, {.num_layers = 0}).find("num_layers = 0 must be in [1, "),
            std::string::npos);
  EXPECT_NE(error_of("{\"topk_ids\": [[0, 1]]}\n{\"topk_ids\": [[2, 3]}\n").find("line 2"),
            std::string::npos);
}

TEST(RoutingFile, MissingFileIsAnIoError) {
  const testing::TempDir dir;
  EXPECT_THROW((void)read_routing(dir.path() / "absent.jsonl", {.num_layers = 2}), IoError);
}

}  // namespace
}  // namespace eplb::io
