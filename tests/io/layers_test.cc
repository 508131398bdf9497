// Tests of the dense-layer helpers: finding them, layer lists, dropping and inserting rows.
#include "eplb/io/layers.h"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "eplb/plan.h"
#include "eplb/topology.h"
#include "support/check_plan.h"  // EXPECT_THROW_MESSAGE, check_plan

namespace eplb::io {
namespace {

Loads loads_of(int64_t num_layers, int64_t num_experts, std::vector<double> values) {
  return Loads{num_layers, num_experts, std::move(values)};
}

TEST(LayersTest, FindsAllZeroRows) {
  const Loads loads = loads_of(4, 2, {0, 0, 1, 2, 0, 0, 0, 3});
  EXPECT_EQ(find_dense_layers(loads.view()), (std::vector<int64_t>{0, 2}));
  // A file of zeros recorded nothing; it does not describe a model without MoE layers.
  EXPECT_TRUE(find_dense_layers(loads_of(2, 2, {0, 0, 0, 0}).view()).empty());
}

TEST(LayersTest, ParsesLayerLists) {
  EXPECT_EQ(parse_layer_list("0:3"), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(parse_layer_list("7,0:2,1"), (std::vector<int64_t>{0, 1, 7}));
  EXPECT_TRUE(parse_layer_list("").empty());
  EXPECT_TRUE(parse_layer_list("none").empty());
  for (const char* bad : {"3:1", "1:1", "a", "1,", "-1", "0:", ":3", "1.5", "70000"}) {
    EXPECT_THROW_MESSAGE(parse_layer_list(bad), InvalidArgument,
                         std::string("parse_layer_list: layers = \"") + bad +
                             "\" must be comma-separated layer indices and ranges A:B (A < B), "
                             "e.g. 0:3,7");
  }
}

TEST(LayersTest, ChecksThatDenseLayersAreZero) {
  const Loads loads = loads_of(3, 2, {0, 0, 1, 2, 0, 0});
  check_dense_layers(loads.view(), std::vector<int64_t>{0, 2});
  EXPECT_THROW_MESSAGE(check_dense_layers(loads.view(), std::vector<int64_t>{1}), InvalidArgument,
                       "check_dense_layers: layer 1 is given as dense but has non-zero loads");
  EXPECT_THROW_MESSAGE(check_dense_layers(loads.view(), std::vector<int64_t>{3}), InvalidArgument,
                       "check_dense_layers: layers[0] = 3 must be in [0, 3)");
  EXPECT_THROW_MESSAGE(check_dense_layers(loads.view(), std::vector<int64_t>{2, 0}),
                       InvalidArgument,
                       "check_dense_layers: layers[1] = 0 must be greater than layers[0] = 2");
}

TEST(LayersTest, RemovesRowsOfLoads) {
  const Loads kept = remove_layers(loads_of(3, 2, {0, 0, 1, 2, 3, 4}), std::vector<int64_t>{0});
  EXPECT_EQ(kept.num_layers, 2);
  EXPECT_EQ(kept.values, (std::vector<double>{1, 2, 3, 4}));
}

TEST(LayersTest, InsertsTrivialRowsAndRemovesThemAgain) {
  const Topology topology(4, 1, 1, 2);
  const std::vector<int64_t> moe_phy2log{2, 1, 0, 1, 0, 2, 1, 0};
  const Plan moe = plan_from_phy2log(moe_phy2log, 2, 4, 3);
  const std::vector<int64_t> dense{0, 2};
  const Plan full = insert_dense_layers(moe, dense);
  EXPECT_EQ(testing::check_plan(full, topology, 3), "");
  EXPECT_EQ(full.num_layers, 4);
  // Dense rows hold SGLang's trivial placement: slot s holds expert s % num_experts.
  EXPECT_EQ(full.phy2log, (std::vector<int64_t>{0, 1, 2, 0, 2, 1, 0, 1, 0, 1, 2, 0, 0, 2, 1, 0}));
  EXPECT_EQ(remove_layers(full, dense), moe);
  EXPECT_THROW_MESSAGE(insert_dense_layers(moe, std::vector<int64_t>{4}), InvalidArgument,
                       "insert_dense_layers: layers[0] = 4 must be in [0, 3)");
}

TEST(LayersTest, FindsRowsHoldingTheTrivialPlacement) {
  const std::vector<int64_t> phy2log{0, 1, 2, 0, 2, 1, 0, 1, 0, 1, 2, 0};
  EXPECT_EQ(find_trivial_layers(plan_from_phy2log(phy2log, 3, 4, 3)),
            (std::vector<int64_t>{0, 2}));
}

}  // namespace
}  // namespace eplb::io
